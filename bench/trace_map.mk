# SPDX-License-Identifier: MIT
# (Named trace_map.mk: included after module.mk, which defines BENCH_HARNESS.)
# Maps in the target (src/trace/map/): per-hit cost of count, keyed count and
# hist on an optimized probe, 1 and 4 threads, and the tracer's merge rate. The
# map code is internal to the library (hidden symbols): the program links its
# own copy, the hot path built with the library's flags for probe-handler code.
BENCH_BINS += $(B)/bench/bench_map

$(B)/bench/map_update.o: src/trace/map/map_update.c src/trace/map/map.h src/trace/map/map_shm.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) $(HOT_CFLAGS) -c $< -o $@

$(B)/bench/bench_map_handlers.o: bench/bench_map_handlers.c bench/bench_map_handlers.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -mgeneral-regs-only -c $< -o $@

$(B)/bench/bench_map: bench/bench_map.c src/trace/map/map.c src/trace/map/map_read.c \
		$(B)/bench/map_update.o $(B)/bench/bench_map_handlers.o $(B)/bench/bench_handlers.o \
		$(BENCH_HARNESS) \
		$(B)/libuprobes.so
	@mkdir -p $(@D)
	$(BENCH_LINK)

# String value maps: set and get of 64-byte values beside one-word ones (bench_map_str.c).
BENCH_BINS += $(B)/bench/bench_map_str
$(B)/bench/bench_map_str: bench/bench_map_str.c src/trace/map/map.c src/trace/map/map_read.c \
		$(B)/bench/map_update.o $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(BENCH_LINK)
