# SPDX-License-Identifier: MIT
# User stacks (issue 17): src/stack, the symbolizer, $ustack and the stack
# outputs, end to end and against gdb. tests/stack/test_stack_gdb.sh runs the
# C++ target (-O2 -fomit-frame-pointer) and its two libraries, one with CFI
# only in .debug_frame, one with no CFI at all (frame pointers). stack_gap.S
# has code without CFI between functions with CFI: a gap inside the table.
TEST_BINS += tests/stack/test_stack_gdb.sh

STACK_T := $(B)/tests/stack

$(STACK_T)/libfp.so: tests/stack/stack_libfp.c
	@mkdir -p $(@D)
	$(CC) -O2 -fPIC -shared -nostartfiles -fno-omit-frame-pointer -fno-asynchronous-unwind-tables \
		-fno-unwind-tables -o $@ $<

$(STACK_T)/libdebugf.so: tests/stack/stack_libdebugf.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fPIC -shared -fomit-frame-pointer -fno-asynchronous-unwind-tables \
		-fno-unwind-tables -o $@ $<

$(STACK_T)/liblate.so: tests/stack/stack_liblate.c
	@mkdir -p $(@D)
	$(CC) -O2 -fPIC -shared -fomit-frame-pointer -o $@ $<

$(STACK_T)/stack_target: tests/stack/stack_target.cc tests/stack/stack_gap.S $(STACK_T)/libfp.so \
		$(STACK_T)/libdebugf.so $(STACK_T)/liblate.so
	@mkdir -p $(@D)
	$(CXX) -O2 -g -fomit-frame-pointer -pthread -o $@ $(filter %.cc %.S,$^) -L$(STACK_T) -lfp \
		-ldebugf -ldl -Wl,-rpath,$(abspath $(STACK_T))

tests/stack/test_stack_gdb.sh: $(B)/uprobe $(STACK_T)/stack_target

# The layer's parts in process: its internals come from libuprobes.a.
TEST_BINS += $(STACK_T)/test_stack_unit
$(STACK_T)/test_stack_unit: tests/stack/test_stack_unit.c $(B)/libuprobes.a
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $< $(B)/libuprobes.a $(LIB_LDLIBS)

# uprobe trace --stack end to end: threads, a corrupt stack, inlined calls,
# JIT code, folded stacks and the SVG flame graph (in a browser if there is one).
TEST_BINS += tests/stack/test_stack_cli.sh

$(STACK_T)/stack_cli_target: tests/stack/stack_cli_target.c tests/stack/stack_corrupt.S
	@mkdir -p $(@D)
	$(CC) -O2 -g -fomit-frame-pointer -pthread -o $@ $^

tests/stack/test_stack_cli.sh: $(B)/uprobe $(STACK_T)/stack_cli_target
