# SPDX-License-Identifier: MIT
# Benchmarks: programs, not tests. `make bench` builds BENCH_BINS and runs them
# in this order through bench/run.sh; each prints a table, then one
# "summary: key=value ..." line.
BENCH_BINS += $(B)/bench/bench_probe

$(B)/bench/bench_probe: bench/bench_probe.c $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS) -lelf
