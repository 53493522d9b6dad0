# SPDX-License-Identifier: MIT
TEST_BINS += $(B)/tests/retthreads/test_retthreads
$(B)/tests/retthreads/test_retthreads: tests/retthreads/test_retthreads.c $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.S,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS)
