# SPDX-License-Identifier: MIT
# uprobe -e's ustack keys in a traced process (issue 17): stacks interned in
# the target, named by the tracer after it exited, frames equal to gdb's bt,
# exact counts from several threads, ustack(N), a full stack table, a library
# loaded late and closed (its frames named after the exit all the same), a
# forked child's stacks and those of a child that exec'd another program;
# print(ustack) and printf("%s", ustack) as bpftrace prints them.
TEST_BINS += tests/lang_stack/test_lang_stack.sh

$(B)/tests/lang_stack/lstack_target: tests/lang_stack/lstack_target.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fomit-frame-pointer -pthread -o $@ $< -ldl

$(B)/tests/lang_stack/lstack_fork: tests/lang_stack/lstack_fork.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fomit-frame-pointer -o $@ $<

# -O0 with frame pointers: bpftrace's walk (frame pointers only) sees every frame
$(B)/tests/lang_stack/lstack_print: tests/lang_stack/lstack_print.c
	@mkdir -p $(@D)
	$(CC) -O0 -g -fno-omit-frame-pointer -o $@ $<

tests/lang_stack/test_lang_stack.sh: $(B)/uprobe $(B)/tests/lang_stack/lstack_target \
	$(B)/tests/lang_stack/lstack_fork $(B)/tests/lang_stack/lstack_print \
	$(B)/tests/stack/liblate.so
