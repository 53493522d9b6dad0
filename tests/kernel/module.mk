# SPDX-License-Identifier: MIT
# The kernel backend (src/kernel/, docs/kernel-backend.md): specs -> dynamic_events
# lines compared exactly (test_kline), then end to end through tracefs and perf
# (test_kernel.sh: needs root and tracefs, mounts it when missing).
TEST_BINS += $(B)/tests/kernel/test_kline

$(B)/tests/kernel/test_kline: tests/kernel/test_kline.c $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS) -ldl

# End to end: programs of tests/kernel map libktarget.so (found beside them:
# $ORIGIN), so that a test copies all three into its own directory and only its
# own processes map that copy. Built plain (no sanitizer): programs as shipped.
TEST_BINS += tests/kernel/test_kernel.sh
KT_DIR := $(B)/tests/kernel
KT_CFLAGS := $(filter-out $(SAN_FLAGS),$(CFLAGS)) -g -std=gnu11 -Wall -Wextra -Werror -Itests/kernel

tests/kernel/test_kernel.sh: $(B)/uprobe $(KT_DIR)/ktarget $(KT_DIR)/ktarget_other

$(KT_DIR)/libktarget.so: tests/kernel/ktarget_lib.c tests/kernel/ktarget.h
	@mkdir -p $(@D)
	$(CC) $(KT_CFLAGS) -fPIC -shared -o $@ $<

$(KT_DIR)/ktarget: tests/kernel/ktarget.c tests/kernel/ktarget.h $(KT_DIR)/libktarget.so
	$(CC) $(KT_CFLAGS) -o $@ $< -L$(KT_DIR) -lktarget -Wl,-rpath,'$$ORIGIN'

$(KT_DIR)/ktarget_other: tests/kernel/ktarget.c tests/kernel/ktarget.h $(KT_DIR)/libktarget.so
	$(CC) $(KT_CFLAGS) -DKT_OTHER -o $@ $< -L$(KT_DIR) -lktarget -Wl,-rpath,'$$ORIGIN'

# The API on the test's own function: decoded records, kernel losses counted, counting mode.
TEST_BINS += $(B)/tests/kernel/test_kread

$(B)/tests/kernel/test_kread: tests/kernel/test_kread.c $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS)

# bpftrace programs on the kernel backend (uprobe -e without -c/-p/--), against
# exact counts and bpftrace 0.17 when it runs here.
TEST_BINS += tests/kernel/test_kernel_lang.sh

tests/kernel/test_kernel_lang.sh: $(B)/uprobe $(KT_DIR)/ktarget $(KT_DIR)/ktarget_other $(B)/tests/lang_target/usdt_two
