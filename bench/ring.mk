# SPDX-License-Identifier: MIT
# Shared-memory rings alone: reserve+commit cost, consumer throughput (live and
# draining a backlog), overload accounting. The producer side is internal to
# the library (hidden symbols): the program links its own copy of
# src/trace/transport/ring.c, built with the library's flags for probe-handler code.
BENCH_BINS += $(B)/bench/bench_ring

$(B)/bench/ring.o: src/trace/transport/ring.c src/trace/transport/ring.h src/trace/transport/ring_shm.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) $(HOT_CFLAGS) -c $< -o $@

$(B)/bench/bench_ring: bench/bench_ring.c $(B)/bench/ring.o $(BENCH_HARNESS) $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(BENCH_LINK)
