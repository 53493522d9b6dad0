# SPDX-License-Identifier: MIT
TEST_BINS += $(B)/tests/threads/test_threads
$(B)/tests/threads/test_threads: tests/threads/test_threads.c tests/threads/targets.S \
		$(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.S,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS)
