# SPDX-License-Identifier: MIT
# The coverage report (issue 3): how many function entries can be jump-optimized.
BENCH_BINS += $(B)/bench/coverage

$(B)/bench/coverage: bench/coverage.c $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ bench/coverage.c $(PROG_LDFLAGS) $(PROG_LDLIBS) -lelf
