# SPDX-License-Identifier: MIT
# A/B of the function-entry trampolines in one process (issue 18); not part of
# `make bench` (bench_probe's optimized_ns is the key): make bench-lean.
$(B)/bench/bench_lean: bench/bench_lean.c bench/bench_lean_targets.S $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.S,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS)

.PHONY: bench-lean
bench-lean: $(B)/bench/bench_lean
	$(B)/bench/bench_lean
