# SPDX-License-Identifier: MIT
# Count-only hits over 16, 256 and 4,096 distinct probed functions (bench/bench_spread.sh).
BENCH_BINS += $(B)/bench/bench_spread

$(B)/bench/spread_target: bench/spread_target.c bench/spread_funcs.S
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $^

$(B)/bench/bench_spread: bench/bench_spread.sh $(B)/bench/lib.sh $(B)/bench/spread_target $(B)/uprobe
	@mkdir -p $(@D)
	install -m 755 $< $@
