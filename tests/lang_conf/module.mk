# SPDX-License-Identifier: MIT
# Conformance of uprobe -e with bpftrace 0.17 (tests/lang_conf/oneliners.txt,
# expected outputs from bpftrace itself: rebase.sh).
TEST_BINS += tests/lang_conf/test_lang_conf.sh
tests/lang_conf/test_lang_conf.sh: $(B)/uprobe
