# SPDX-License-Identifier: MIT
# uprobe -e's ustack keys in a traced process (issue 17): stacks interned in
# the target, named by the tracer after it exited, frames equal to gdb's bt,
# exact counts from several threads, ustack(N), a full stack table, a library
# loaded late and closed (its frames named after the exit all the same), a
# forked child's stacks and those of a child that exec'd another program.
TEST_BINS += tests/lang_stack/test_lang_stack.sh

$(B)/tests/lang_stack/lstack_target: tests/lang_stack/lstack_target.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fomit-frame-pointer -pthread -o $@ $< -ldl

$(B)/tests/lang_stack/lstack_fork: tests/lang_stack/lstack_fork.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fomit-frame-pointer -o $@ $<

tests/lang_stack/test_lang_stack.sh: $(B)/uprobe $(B)/tests/lang_stack/lstack_target \
	$(B)/tests/lang_stack/lstack_fork $(B)/tests/stack/liblate.so
