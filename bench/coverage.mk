# SPDX-License-Identifier: MIT
# The coverage report (issue 3): how many function entries can be jump-optimized.
BENCH_BINS += $(B)/bench/coverage

# harness.o for the summary line (BENCH_HARNESS is defined later, in module.mk).
$(B)/bench/coverage: bench/coverage.c $(B)/bench/harness.o $(B)/bench/bench_util.o \
		$(B)/libuprobes.so
	@mkdir -p $(@D)
	$(BENCH_LINK)
