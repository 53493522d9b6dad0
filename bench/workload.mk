# SPDX-License-Identifier: MIT
# A real workload (sqlite3) with probes on its 20 hottest functions: the
# uprobe command's slowdown beside bpftrace's (bench/bench_workload.sh).
BENCH_BINS += $(B)/bench/bench_workload

$(B)/bench/bench_workload: bench/bench_workload.sh $(B)/bench/lib.sh $(B)/uprobe
	@mkdir -p $(@D)
	install -m 755 $< $@
