# SPDX-License-Identifier: MIT
# Start-up of a traced process and of a script of 40 pythons (bench/bench_startup.sh).
BENCH_BINS += $(B)/bench/bench_startup

$(B)/bench/bench_startup: bench/bench_startup.sh $(B)/bench/lib.sh $(B)/uprobe
	@mkdir -p $(@D)
	install -m 755 $< $@
