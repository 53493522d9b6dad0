# SPDX-License-Identifier: MIT
# SDT markers end to end: tests/usdt/test_usdt.sh lists and traces the markers of
# build/tests/usdt/usdt_target (<sys/sdt.h>, with and without semaphores) and
# python3.11's own, launched and attached to, and checks every refusal.
TEST_BINS += tests/usdt/test_usdt.sh

tests/usdt/test_usdt.sh: $(B)/uprobe $(B)/tests/usdt/usdt_target

$(B)/tests/usdt/usdt_target: tests/usdt/usdt_target.c tests/usdt/usdt_sem.c tests/usdt/usdt_target.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ tests/usdt/usdt_target.c tests/usdt/usdt_sem.c
