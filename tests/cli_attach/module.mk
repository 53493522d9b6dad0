# SPDX-License-Identifier: MIT
# uprobe trace -p end to end: tests/cli_attach/test_attach.sh attaches to
# build/tests/cli_attach/attach_target (and to python3, bash) and checks what
# the processes do, what they leave behind, and every refusal.
TEST_BINS += tests/cli_attach/test_attach.sh

tests/cli_attach/test_attach.sh: $(B)/uprobe $(B)/tests/cli_attach/attach_target

$(B)/tests/cli_attach/attach_target: tests/cli_attach/attach_target.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $< -lpthread

# More than 1,024 probes (3,000, one glob, --count) into a running process, exact counts.
TEST_BINS += tests/cli_attach/test_many.sh

tests/cli_attach/test_many.sh: $(B)/uprobe

# tools/uprobe/guard.c on its own: system calls cut short by the quiescence
# signal are restarted under the guard, the program's own signals are not.
TEST_BINS += $(B)/tests/cli_attach/test_guard

$(B)/tests/cli_attach/test_guard: tests/cli_attach/test_guard.c tools/uprobe/guard.c tools/uprobe/cli.h include/uprobes.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ tests/cli_attach/test_guard.c tools/uprobe/guard.c -lpthread

# Stopping while a hot probe floods the rings: -d and signals, both modes.
TEST_BINS += tests/cli_attach/test_stop.sh

tests/cli_attach/test_stop.sh: $(B)/uprobe $(B)/tests/cli_attach/busy_target

$(B)/tests/cli_attach/busy_target: tests/cli_attach/busy_target.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $< -lpthread

# Failures said, not kept quiet: unwritable output, ptrace refused and why.
TEST_BINS += tests/cli_attach/test_errors.sh

tests/cli_attach/test_errors.sh: $(B)/uprobe $(B)/tests/cli_attach/attach_target $(B)/tests/cli/cli_target \
	$(B)/tests/cli_attach/no_ptrace

# A command run where ptrace fails with ENOSYS, as under qemu-user.
$(B)/tests/cli_attach/no_ptrace: tests/cli_attach/no_ptrace.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $<

# Return probes with -p in a C++ process (libstdc++ mapped): the return sites
# only, exceptions thrown through probed frames, a probe that needs the hijack
# refused by name.
TEST_BINS += tests/cli_attach/test_cxx.sh

tests/cli_attach/test_cxx.sh: $(B)/uprobe $(B)/tests/cli_attach/cxx_target

$(B)/tests/cli_attach/cxx_target: tests/cli_attach/cxx_target.cc
	@mkdir -p $(@D)
	$(CXX) -std=gnu++17 -O2 -g -fno-reorder-blocks-and-partition -Wall -Wextra -Werror -o $@ $<
