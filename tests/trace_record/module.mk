# SPDX-License-Identifier: MIT
# Per-event output that keeps up: uprobe trace -f raw -o FILE, uprobe report
# FILE, --blocking (tests/trace_record/test_record.sh, on tests/cli's target).
TEST_BINS += tests/trace_record/test_record.sh

tests/trace_record/test_record.sh: $(B)/uprobe $(B)/tests/cli/cli_target
