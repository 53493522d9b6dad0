# SPDX-License-Identifier: MIT
# Symbols from everywhere a debugger looks: libc's local functions from
# libc6-dbg (and without it), MiniDebugInfo, versioned names, C++ names and
# wildcards, PLT stubs, a stripped binary. tests/symbols/test_symbols.sh.
TEST_BINS += tests/symbols/test_symbols.sh

SYMBOLS_BINS := $(B)/tests/symbols/sym_addr $(B)/tests/symbols/cxx_target \
	$(B)/tests/symbols/malloc_target $(B)/tests/symbols/dup_target

tests/symbols/test_symbols.sh: $(B)/uprobe $(SYMBOLS_BINS) tests/symbols/mini_target.c

$(B)/tests/symbols/sym_addr: tests/symbols/sym_addr.c $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $< $(PROG_LDFLAGS) $(PROG_LDLIBS) -ldl

# -O2 -g: a program as shipped; the probed functions are noipa (one copy each).
$(B)/tests/symbols/cxx_target: tests/symbols/cxx_target.cpp
	@mkdir -p $(@D)
	g++ -O2 -g -o $@ $<

# The file twice: two static functions of one name (dup_target.c).
$(B)/tests/symbols/dup_target: tests/symbols/dup_target.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -DPART2 -c -o $@.part2.o $<
	$(CC) -O2 -g -o $@ $< $@.part2.o

$(B)/tests/symbols/malloc_target: tests/symbols/malloc_target.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fno-builtin -o $@ $<

# /proc/PID/maps parsed by hand (src/sym/maps.c): odd lines, refused lines, a
# file name shaped like a line. Internals from libuprobes.a.
TEST_BINS += $(B)/tests/symbols/test_maps
$(B)/tests/symbols/test_maps: tests/symbols/test_maps.c $(B)/libuprobes.a
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $< $(B)/libuprobes.a $(LIB_LDLIBS)
