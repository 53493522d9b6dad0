# SPDX-License-Identifier: MIT
# The aarch64 tests (src/arch/aarch64/build.mk includes this; make check-aarch64).
A64_SANDBOX := tests/aarch64/sandbox.c tests/aarch64/frame.S
A64_TEST_CFLAGS := $(BASE_CFLAGS) -Itests -pthread

A64_TEST_BINS += $(B)/tests/aarch64/test_state
$(B)/tests/aarch64/test_state: tests/aarch64/test_state.c $(A64_SANDBOX) $(B)/libuprobes-arch.a
	@mkdir -p $(@D)
	$(CC) $(A64_TEST_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.S,$^) $(B)/libuprobes-arch.a \
		$(A64_LDLIBS)
