# SPDX-License-Identifier: MIT
# test_retprobe runs cxx_exc and cxx_exc_site (next to it) as children for the
# C++ exception case. -rdynamic: backtrace_symbols() and dladdr() name the test's functions.
TEST_BINS += $(B)/tests/retprobe/test_retprobe

RETPROBE_SRCS := tests/retprobe/test_retprobe.c tests/retprobe/rp_unwind.c \
	tests/retprobe/rp_stacks.c tests/retprobe/rp_refuse.c

$(B)/tests/retprobe/cxx_exc: tests/retprobe/cxx_exc.cc include/uprobes.h $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CXX) -std=gnu++17 -O2 -g -Wall -Wextra -Werror -Iinclude -o $@ $< \
		$(PROG_LDFLAGS) $(PROG_LDLIBS)

# The same without .cold parts: its functions' exits can all be patched (return sites).
$(B)/tests/retprobe/cxx_exc_site: tests/retprobe/cxx_exc.cc include/uprobes.h $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CXX) -std=gnu++17 -O2 -g -fno-reorder-blocks-and-partition -Wall -Wextra -Werror \
		-Iinclude -o $@ $< $(PROG_LDFLAGS) $(PROG_LDLIBS)

$(B)/tests/retprobe/test_retprobe: $(RETPROBE_SRCS) tests/retprobe/retprobe.h \
		$(B)/tests/retprobe/cxx_exc $(B)/tests/retprobe/cxx_exc_site $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -rdynamic -o $@ $(filter %.c,$^) $(PROG_LDFLAGS) \
		$(PROG_LDLIBS)

# The CLI on Debian's programs (zstd, python3.11, bash): return probes refused
# or skipped where no return can be followed.
TEST_BINS += tests/retprobe/test_refuse_cli.sh
tests/retprobe/test_refuse_cli.sh: $(B)/uprobe $(B)/libuprobes.so

# Return sites: the analysis on the hand-written functions of sites.S.
TEST_BINS += $(B)/tests/retprobe/test_retsite
$(B)/tests/retprobe/test_retsite: tests/retprobe/test_retsite.c tests/retprobe/sites.S \
		$(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.S,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS)

# Return sites by the CLI: uprobe list -r, uprobe trace's summary.
TEST_BINS += tests/retprobe/test_retsite_cli.sh
tests/retprobe/test_retsite_cli.sh: $(B)/uprobe $(B)/libuprobes.so $(B)/tests/retprobe/test_retsite
