# SPDX-License-Identifier: MIT
# (Named to come after module.mk, whose BENCH_HARNESS it needs.)
# The kernel backend (issue 19): 1,000 probes attached system-wide, and the cost
# of a hit through the kernel beside the agent's and bpftrace's.
BENCH_BINS += $(B)/bench/bench_kernel

$(B)/bench/bench_kernel: bench/bench_kernel.c $(BENCH_HARNESS) $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(BENCH_LINK)
