# SPDX-License-Identifier: MIT
# Attacks on the control channel (issue 15): a setuid program linking
# libuprobes run by an unprivileged user, and traced programs that speak the
# agents' protocol themselves (tests/hostile/chan_test.sh).
TEST_BINS += tests/hostile/chan_test.sh

CHAN_BINS := $(B)/tests/hostile/chan_setuid $(B)/tests/hostile/chan_listen \
	$(B)/tests/hostile/chan_speaker
tests/hostile/chan_test.sh: $(B)/uprobe $(CHAN_BINS)

$(B)/tests/hostile/chan_listen: tests/hostile/chan_listen.c include/uprobes_agent.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $<

$(B)/tests/hostile/chan_%: tests/hostile/chan_%.c $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $< $(PROG_LDFLAGS) $(PROG_LDLIBS)
