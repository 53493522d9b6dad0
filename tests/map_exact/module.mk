# SPDX-License-Identifier: MIT
# Counts computed in the target are exact (issue 16, check 1): the uprobe
# command's --count/--hist/--filter on map_target, launch and attach modes.
TEST_BINS += tests/map_exact/test_map_exact.sh

tests/map_exact/test_map_exact.sh: $(B)/uprobe $(B)/tests/map_exact/map_target

$(B)/tests/map_exact/map_target: tests/map_exact/map_target.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $< -lpthread

# @[arg0] = count() and @h = hist(arg1) through the map API at a probe in the
# process: exact per key, 4 threads x 5 M calls. Links its own copy of the map
# code (hidden in the library), built as the library builds it.
TEST_BINS += $(B)/tests/map_exact/map_keyed

$(B)/tests/map_exact/map_keyed: tests/map_exact/map_keyed.c src/trace/map/map.c \
		src/trace/map/map_read.c $(B)/tests/trace_map/map_update.o $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -mgeneral-regs-only -c tests/map_exact/map_keyed.c \
		-o $(B)/tests/map_exact/map_keyed.o
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(B)/tests/map_exact/map_keyed.o \
		src/trace/map/map.c src/trace/map/map_read.c $(B)/tests/trace_map/map_update.o \
		$(PROG_LDFLAGS) $(PROG_LDLIBS)
