# SPDX-License-Identifier: MIT
# Benchmarks: programs, not tests. `make bench` builds BENCH_BINS and runs them
# in this order through bench/run.sh; each prints a table, then one
# "summary: key=value ..." line.
BENCH_BINS += $(B)/bench/bench_probe

# The harness every bench program runs on (harness.h), the helpers it shares
# (clocks, ELF offsets) and what the benches arm (library, kernel, bpftrace
# probes), built once.
BENCH_HARNESS := $(B)/bench/harness.o $(B)/bench/bench_util.o $(B)/bench/bench_arm.o
$(BENCH_HARNESS): $(B)/bench/%.o: bench/%.c bench/%.h bench/harness.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -c $< -o $@

# A bench program: its sources and objects, linked with libuprobes and libelf.
BENCH_LINK = $(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.o,$^) $(PROG_LDFLAGS) \
	$(PROG_LDLIBS) -lelf

# The shell benches' harness, installed beside them: they source it from their directory.
$(B)/bench/lib.sh: bench/lib.sh
	@mkdir -p $(@D)
	install -m 644 $< $@

# The handlers are attached with UPROBE_F_HANDLER_NO_SIMD: no SIMD in their code.
$(B)/bench/bench_handlers.o: bench/bench_handlers.c bench/bench_handlers.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -mgeneral-regs-only -c $< -o $@

$(B)/bench/bench_probe: bench/bench_probe.c bench/bench_handlers.h $(B)/bench/bench_handlers.o \
		$(BENCH_HARNESS) $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(BENCH_LINK)

# Instructions per hit under callgrind (needs valgrind; `make bench` runs it as bench_insns, ret.mk).
.PHONY: bench-callgrind
bench-callgrind: lib $(B)/bench/bench_probe $(B)/bench/bench_ret
	@sh bench/callgrind.sh

# The same for a count on the CLI's own path (uprobe trace --count, uprobe -e '@ = count()').
.PHONY: bench-callgrind-cli
bench-callgrind-cli: lib tools $(B)/bench/spread_target
	@sh bench/callgrind_cli.sh
