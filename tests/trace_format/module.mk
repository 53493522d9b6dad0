# SPDX-License-Identifier: MIT
# Golden tests of the record formatters (whose JSON outputs check_trace.py
# parses with python3) and of the aggregations.
TEST_BINS += $(B)/tests/trace_format/test_trace_format $(B)/tests/trace_format/test_trace_agg

$(B)/tests/trace_format/test_trace_format: tests/trace_format/test_trace_format.c \
		tests/trace_format/check_trace.py $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -DCHECK_TRACE_PY='"$(abspath tests/trace_format/check_trace.py)"' \
		-o $@ $(filter %.c,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS)

$(B)/tests/trace_format/test_trace_agg: tests/trace_format/test_trace_agg.c $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS)
