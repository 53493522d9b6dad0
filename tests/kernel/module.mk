# SPDX-License-Identifier: MIT
# The kernel backend (src/kernel/, docs/kernel-backend.md): specs -> dynamic_events
# lines compared exactly (test_kline), then end to end through tracefs and perf
# (test_kernel.sh: needs root and tracefs, mounts it when missing).
TEST_BINS += $(B)/tests/kernel/test_kline

$(B)/tests/kernel/test_kline: tests/kernel/test_kline.c $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS) -ldl
