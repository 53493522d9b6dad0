# SPDX-License-Identifier: MIT
# Attaching and detaching 1,000 probes to a running process (bench/bench_attach.sh).
BENCH_BINS += $(B)/bench/bench_attach

$(B)/bench/attach_many: bench/attach_many.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $< -lpthread

$(B)/bench/bench_attach: bench/bench_attach.sh $(B)/bench/lib.sh $(B)/uprobe \
		$(B)/bench/attach_many
	@mkdir -p $(@D)
	install -m 755 $< $@
