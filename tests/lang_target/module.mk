# SPDX-License-Identifier: MIT
# uprobe -e with probes in a traced process (issue 16): the plan runs in the
# agent on maps in the target; exact counts, bpftrace 0.17's map text. The
# target is tests/map_exact's map_target with -s (it prints its sums).
TEST_BINS += tests/lang_target/test_lang_target.sh

tests/lang_target/test_lang_target.sh: $(B)/uprobe $(B)/tests/map_exact/map_target \
	$(B)/tests/usdt/usdt_target
