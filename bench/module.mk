# SPDX-License-Identifier: MIT
# Benchmarks: programs, not tests. `make bench` builds BENCH_BINS and runs them
# in this order through bench/run.sh; each prints a table, then one
# "summary: key=value ..." line.
BENCH_BINS += $(B)/bench/bench_probe

# The handlers are attached with UPROBE_F_HANDLER_NO_SIMD: no SIMD in their code.
$(B)/bench/bench_handlers.o: bench/bench_handlers.c bench/bench_handlers.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -mgeneral-regs-only -c $< -o $@

# What the bench programs share (clocks, ELF offsets, bpftrace), built once.
$(B)/bench/bench_util.o: bench/bench_util.c bench/bench_util.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -c $< -o $@

$(B)/bench/bench_probe: bench/bench_probe.c bench/bench_handlers.h $(B)/bench/bench_handlers.o \
		$(B)/bench/bench_util.o $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.o,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS) -lelf

# Instructions per hit under callgrind (optional: needs valgrind; not part of `make bench`).
.PHONY: bench-callgrind
bench-callgrind: lib $(B)/bench/bench_probe
	@sh bench/callgrind.sh
