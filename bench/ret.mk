# SPDX-License-Identifier: MIT
# Return probes: per-call cost of entry and entry+return probes, this library
# against kernel uretprobes and bpftrace.
BENCH_BINS += $(B)/bench/bench_ret

# The handlers are attached with UPROBE_F_HANDLER_NO_SIMD: no SIMD in their code.
$(B)/bench/bench_ret_handlers.o: bench/bench_ret_handlers.c bench/bench_ret_handlers.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -mgeneral-regs-only -c $< -o $@

$(B)/bench/bench_ret: bench/bench_ret.c bench/bench_ret_handlers.h \
		$(B)/bench/bench_ret_handlers.o $(BENCH_HARNESS) $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(BENCH_LINK)

# Instructions per hit of bench_probe's and bench_ret's paths under callgrind (bench/bench_insns.sh).
BENCH_BINS += $(B)/bench/bench_insns
$(B)/bench/bench_insns: bench/bench_insns.sh bench/callgrind.sh $(B)/bench/lib.sh \
		$(B)/bench/bench_probe $(B)/bench/bench_ret
	@mkdir -p $(@D)
	install -m 755 $< $@

# Entry+return on a return site by the thread's CPU time (A/B of two builds on a loaded machine).
BENCH_BINS += $(B)/bench/bench_ret_cpu
$(B)/bench/bench_ret_cpu: bench/bench_ret_cpu.c $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $< $(PROG_LDFLAGS) $(PROG_LDLIBS)
