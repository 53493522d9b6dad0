# SPDX-License-Identifier: MIT
# The spec parser: golden lines (tests/trace_spec/golden.txt), parsed fields,
# round trips, and a replay of the fuzz corpus (fuzz/corpus/spec).
TEST_BINS += $(B)/tests/trace_spec/test_trace_spec

$(B)/tests/trace_spec/test_trace_spec: tests/trace_spec/test_trace_spec.c \
		tests/trace_spec/spec_cmp.h $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -DSPEC_GOLDEN=\"$(abspath tests/trace_spec/golden.txt)\" \
		-DSPEC_CORPUS=\"$(abspath fuzz/corpus/spec)\" -o $@ $(filter %.c,$^) \
		$(PROG_LDFLAGS) $(PROG_LDLIBS)
