# SPDX-License-Identifier: MIT
# Fetch-args end to end: specs parsed, attached in the test process, records
# read back through a consumer and checked field by field.
TEST_BINS += $(B)/tests/trace_fetch/test_trace_fetch

$(B)/tests/trace_fetch/targets.o: tests/trace_fetch/targets.c tests/trace_fetch/targets.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -fno-omit-frame-pointer -c $< -o $@

$(B)/tests/trace_fetch/test_trace_fetch: tests/trace_fetch/test_trace_fetch.c \
		tests/trace_fetch/targets.h $(B)/tests/trace_fetch/targets.o $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.o,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS)
