# SPDX-License-Identifier: MIT
# uprobe -e with probes in a traced process (issue 16): the plan runs in the
# agent on maps in the target; exact counts, bpftrace 0.17's map text. The
# target is tests/map_exact's map_target with -s (it prints its sums); printf,
# exit and interval probes trace emit_target (one thread, in order).
TEST_BINS += tests/lang_target/test_lang_target.sh

tests/lang_target/test_lang_target.sh: $(B)/uprobe $(B)/tests/map_exact/map_target \
	$(B)/tests/usdt/usdt_target $(B)/tests/lang_target/emit_target \
	$(B)/tests/lang_target/stub_target $(B)/tests/lang_target/usdt_two \
	$(B)/tests/lang_target/throw_target

# printf, exit, print, clear, zero and interval probes (emit_target.c)
$(B)/tests/lang_target/emit_target: tests/lang_target/emit_target.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $<

# usdt:PATH:NAME without a provider: a name in two providers, one in one (usdt_two.c)
$(B)/tests/lang_target/usdt_two: tests/lang_target/usdt_two.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $<

# uretprobes on calls a C++ exception leaves (throw_target.cpp): -O2, as shipped
$(B)/tests/lang_target/throw_target: tests/lang_target/throw_target.cpp
	@mkdir -p $(@D)
	g++ -O2 -g -o $@ $<

# the count stub: where a thread calling a probed function is sampled (stub_target.c)
$(B)/tests/lang_target/stub_target: tests/lang_target/stub_target.c tests/lib_code.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $< -lrt
