# SPDX-License-Identifier: MIT
# uprobe -e with probes in a traced process (issue 16): the plan runs in the
# agent on maps in the target; exact counts, bpftrace 0.17's map text.
TEST_BINS += tests/lang_target/test_lang_target.sh

tests/lang_target/test_lang_target.sh: $(B)/uprobe $(B)/tests/lang_target/lang_target

$(B)/tests/lang_target/lang_target: tests/lang_target/lang_target.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $< -lpthread
