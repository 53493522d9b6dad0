# SPDX-License-Identifier: MIT
# DWARF fetch-args end to end: tests/dwarf/test_dwarf.sh traces dwarf_target,
# built with -g -O2 and with -g -O0, by variable and member names.
TEST_BINS += tests/dwarf/test_dwarf.sh

tests/dwarf/test_dwarf.sh: $(B)/uprobe $(B)/tests/dwarf/dwarf_target $(B)/tests/dwarf/dwarf_target_O0

$(B)/tests/dwarf/dwarf_target: tests/dwarf/dwarf_target.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -g -O2 -o $@ $<

$(B)/tests/dwarf/dwarf_target_O0: tests/dwarf/dwarf_target.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -g -O0 -o $@ $<
