# SPDX-License-Identifier: MIT
# Per-event output at full rate: live text, a record file, --blocking (bench/bench_record.sh).
BENCH_BINS += $(B)/bench/bench_record

$(B)/bench/bench_record: bench/bench_record.sh $(B)/bench/lib.sh $(B)/uprobe $(B)/tests/cli/cli_target
	@mkdir -p $(@D)
	install -m 755 $< $@
