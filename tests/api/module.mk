# SPDX-License-Identifier: MIT
TEST_BINS += $(B)/tests/api/test_api

$(B)/tests/api/test_api: tests/api/test_api.c tests/api/targets.S $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.S,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS)
