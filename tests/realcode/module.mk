# SPDX-License-Identifier: MIT
# The workload is built so that each counted libc call is a real call of that
# symbol: no builtins, no inlining (glibc's extern inlines), no fortify wrappers.
REALCODE_CFLAGS := -fno-builtin -fno-inline -U_FORTIFY_SOURCE

TEST_BINS += $(B)/tests/realcode/test_realcode
$(B)/tests/realcode/test_realcode: tests/realcode/test_realcode.c tests/realcode/workload.c \
		tests/realcode/workload.h $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) $(REALCODE_CFLAGS) -o $@ $(filter %.c,$^) \
		$(PROG_LDFLAGS) $(PROG_LDLIBS) -ldl
