# SPDX-License-Identifier: MIT
# The bpftrace language: golden tests of the front end (tests/lang/cases:
# NAME.bt -> NAME.out, the AST dump or the errors), the plan's compiler,
# verifier and evaluator in process (their internals from libuprobes.a).
TEST_BINS += $(B)/tests/lang/test_lang_golden tests/lang/test_lang_ast_bpftrace.sh \
	tests/lang/test_lang_cli.sh

$(B)/tests/lang/test_lang_golden: tests/lang/test_lang_golden.c $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -DLANG_CASES=\"$(abspath tests/lang/cases)\" -o $@ \
		$(filter %.c,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS)

# fuzz/corpus/lang through fuzz_lang's checks (fuzz/fuzz_lang.c linked in, no libFuzzer),
# built from fuzz_lang's own sources (FUZZ_LANG_SRCS, fuzz/module.mk) and no library:
# a symbol those lack breaks this build too, not only `make fuzz` (which needs clang).
TEST_BINS += $(B)/tests/lang/test_lang_corpus
$(B)/tests/lang/test_lang_corpus: tests/lang/test_lang_corpus.c $(FUZZ_LANG_SRCS) \
		$(wildcard src/lang/*.h) include/uprobes_lang.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -DLANG_NOSTACK_PUBLIC \
		-DLANG_CORPUS=\"$(abspath fuzz/corpus/lang)\" -o $@ \
		tests/lang/test_lang_corpus.c $(FUZZ_LANG_SRCS) -lpthread

TEST_BINS += $(B)/tests/lang/test_lang_plan
$(B)/tests/lang/test_lang_plan: tests/lang/test_lang_plan.c $(B)/libuprobes.a
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $< $(B)/libuprobes.a $(LIB_LDLIBS)
tests/lang/test_lang_cli.sh: $(B)/uprobe
