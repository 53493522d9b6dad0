# SPDX-License-Identifier: MIT
# Conformance of uprobe -e with bpftrace 0.17 on probes in a traced process (issue 16,
# check 2): the one-liners of tests/lang_uconf/*.txt run by both on uconf_target.
TEST_BINS += tests/lang_uconf/test_lang_uconf.sh

tests/lang_uconf/test_lang_uconf.sh: $(B)/uprobe $(B)/tests/lang_uconf/uconf_target

# The workload: fixed calls and arguments, one thread, nothing printed.
$(B)/tests/lang_uconf/uconf_target: tests/lang_uconf/uconf_target.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $<
