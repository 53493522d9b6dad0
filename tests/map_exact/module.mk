# SPDX-License-Identifier: MIT
# Counts computed in the target are exact (issue 16, check 1): the uprobe
# command's --count/--hist/--filter on map_target, launch and attach modes.
TEST_BINS += tests/map_exact/test_map_exact.sh

tests/map_exact/test_map_exact.sh: $(B)/uprobe $(B)/tests/map_exact/map_target

$(B)/tests/map_exact/map_target: tests/map_exact/map_target.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $< -lpthread
