# SPDX-License-Identifier: MIT
# uprobe trace -p killed while it attaches: tests/hostile/attach_kill.sh kills
# it (SIGKILL, SIGHUP) at system calls spread over the whole attach, with
# attach_kill, on attach_victim, whose registers carry its whole workload.
TEST_BINS += tests/hostile/attach_kill.sh

tests/hostile/attach_kill.sh: $(B)/uprobe $(B)/tests/hostile/attach_victim \
	$(B)/tests/hostile/attach_kill

$(B)/tests/hostile/attach_victim: tests/hostile/attach_victim.c tests/hostile/attach_victim_round.S
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $^ -lpthread

$(B)/tests/hostile/attach_kill: tests/hostile/attach_kill.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $<

# uprobe SIGKILLed (and SIGHUPed) while its guard holds a thread in the
# delivery stop of an int3's SIGTRAP, every time (UPROBE_TEST_GUARD_PAUSE).
TEST_BINS += tests/hostile/attach_guard.sh

tests/hostile/attach_guard.sh: $(B)/uprobe $(B)/tests/hostile/attach_victim
