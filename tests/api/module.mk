# SPDX-License-Identifier: MIT
TEST_BINS += $(B)/tests/api/test_api

$(B)/tests/api/test_api: tests/api/test_api.c tests/api/targets.S $(B)/libuprobes.so \
		$(B)/tests/api/libfake_go.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.S,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS) -ldl

# A shared object with the Go toolchain's .go.buildinfo section (dlopened by the test).
$(B)/tests/api/libfake_go.so: tests/api/fake_go.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -fPIC -shared -o $@ $<

TEST_BINS += $(B)/tests/api/test_lean

$(B)/tests/api/test_lean: tests/api/test_lean.c tests/api/lean_targets.S $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.S,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS)
