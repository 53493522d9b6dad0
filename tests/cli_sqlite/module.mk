# SPDX-License-Identifier: MIT
# uprobe trace on Debian's /usr/bin/sqlite3 running a generated SQL workload,
# every count checked against the kernel's own uprobes (tracefs).
TEST_BINS += tests/cli_sqlite/test_sqlite.sh

tests/cli_sqlite/test_sqlite.sh: $(B)/uprobe
