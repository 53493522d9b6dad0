# SPDX-License-Identifier: MIT
# The uprobe command's per-hit cost beside bpftrace and perf (bench/bench_cli.sh).
BENCH_BINS += $(B)/bench/bench_cli

$(B)/bench/bench_cli: bench/bench_cli.sh $(B)/bench/lib.sh $(B)/uprobe $(B)/tests/cli/cli_target \
		$(B)/bench/spread_target
	@mkdir -p $(@D)
	install -m 755 $< $@
