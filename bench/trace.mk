# SPDX-License-Identifier: MIT
# Trace events (issue 5): per-hit cost of an event against an empty probe and
# the kernel's trace event, consumer throughput, overload accounting.
BENCH_BINS += $(B)/bench/bench_trace

# bench_empty_handler comes from bench_handlers.o (bench/module.mk); the probed
# function is alone in bench_trace_target.c so that no call to it is inlined.
BENCH_TRACE_SRCS := bench/bench_trace.c bench/bench_trace_consumer.c bench/bench_trace_kernel.c \
	bench/bench_trace_flow.c bench/bench_trace_target.c
$(B)/bench/bench_trace: $(BENCH_TRACE_SRCS) bench/bench_trace.h bench/bench_trace_target.h \
		bench/bench_handlers.h $(B)/bench/bench_handlers.o $(BENCH_HARNESS) \
		$(B)/libuprobes.so
	@mkdir -p $(@D)
	$(BENCH_LINK)
