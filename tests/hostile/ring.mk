# SPDX-License-Identifier: MIT
# Attacks through the trace buffer: tests/hostile/ring_test.sh runs build/uprobe on
# ring_target, which writes into its own rings what no probe writes.
TEST_BINS += tests/hostile/ring_test.sh

tests/hostile/ring_test.sh: $(B)/uprobe $(B)/tests/hostile/ring_target

$(B)/tests/hostile/ring_target: tests/hostile/ring_target.c src/trace/transport/ring_shm.h \
		src/trace/transport/ring.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $< -lpthread
