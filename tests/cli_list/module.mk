# SPDX-License-Identifier: MIT
# uprobe list end to end: tests/cli_list/test_list.sh lists build/tests/cli/cli_target
# (as a file and as a running process) and libc, and checks the error exits.
TEST_BINS += tests/cli_list/test_list.sh

tests/cli_list/test_list.sh: $(B)/uprobe $(B)/tests/cli/cli_target
