# SPDX-License-Identifier: MIT
# Shared-memory rings and the consumer. The producer side is internal to the
# library (hidden symbols), so the test links its own copy of src/trace/transport/ring.c,
# built with the flags the library uses for code that runs in probe handlers.
TEST_BINS += $(B)/tests/trace_ring/test_trace_ring

$(B)/tests/trace_ring/ring.o: src/trace/transport/ring.c src/trace/transport/ring.h src/trace/transport/ring_shm.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) $(HOT_CFLAGS) -c $< -o $@

$(B)/tests/trace_ring/test_trace_ring: tests/trace_ring/test_trace_ring.c \
		tests/trace_ring/ring_stress.c tests/trace_ring/ring_hostile.c tests/trace_ring/ring_test.h \
		$(B)/tests/trace_ring/ring.o $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.o,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS)

# The uprobe command's summary: events lost per probe.
TEST_BINS += tests/trace_ring/ring_lost.sh

tests/trace_ring/ring_lost.sh: $(B)/uprobe $(B)/tests/trace_ring/lost_target

$(B)/tests/trace_ring/lost_target: tests/trace_ring/lost_target.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $<
