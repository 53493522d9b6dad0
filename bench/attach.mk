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

# 10,000 probes (issue 18, deliverable 4): bench/bench_attach_10k.sh on attach_10k.
BENCH_BINS += $(B)/bench/bench_attach_10k

$(B)/bench/attach_10k: bench/attach_many.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -DATTACH_MANY_10K -o $@ $< -lpthread

$(B)/bench/bench_attach_10k: bench/bench_attach_10k.sh $(B)/bench/lib.sh $(B)/uprobe \
		$(B)/bench/attach_10k
	@mkdir -p $(@D)
	install -m 755 $< $@
