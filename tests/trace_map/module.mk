# SPDX-License-Identifier: MIT
# Maps in the target (src/trace/map/). Internal to the library (hidden
# symbols): the test links its own copy, the hot path built with HOT_CFLAGS.
TEST_BINS += $(B)/tests/trace_map/test_trace_map

MAP_TEST_SRCS := src/trace/map/map.c src/trace/map/map_read.c
MAP_TEST_HDRS := src/trace/map/map.h src/trace/map/map_shm.h

$(B)/tests/trace_map/map_update.o: src/trace/map/map_update.c $(MAP_TEST_HDRS)
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) $(HOT_CFLAGS) -c $< -o $@

$(B)/tests/trace_map/test_trace_map: tests/trace_map/test_trace_map.c $(MAP_TEST_SRCS) \
		$(MAP_TEST_HDRS) $(B)/tests/trace_map/map_update.o
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.o,$^) -lpthread
