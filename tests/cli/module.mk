# SPDX-License-Identifier: MIT
# The uprobe command end to end: tests/cli/test_cli.sh runs build/uprobe on
# build/tests/cli/cli_target, /usr/bin/python3 and /usr/bin/bash.
TEST_BINS += tests/cli/test_cli.sh

tests/cli/test_cli.sh: $(B)/uprobe $(B)/tests/cli/cli_target

$(B)/tests/cli/cli_target: tests/cli/cli_target.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $< -lpthread

# Limits of one run: a static command, thousands of probes, skipped hits counted.
TEST_BINS += tests/cli/test_cli_limits.sh
tests/cli/test_cli_limits.sh: $(B)/uprobe $(B)/tests/cli/cli_target_static $(B)/tests/cli/cli_signal

# Static, so never sanitized (ASan cannot link -static): it stands for a program as shipped.
$(B)/tests/cli/cli_target_static: tests/cli/cli_target.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(filter-out $(SAN_FLAGS),$(CFLAGS)) -static -o $@ $< -lpthread

$(B)/tests/cli/cli_signal: tests/cli/cli_signal.c tests/lib_code.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $<

# The cache's bound: uprobe cache, and uprobe trace's daily trim.
TEST_BINS += tests/cli/test_cache.sh
tests/cli/test_cache.sh: $(B)/uprobe
