# SPDX-License-Identifier: MIT
# The realcode workload is compiled in, with the flags it needs (see
# tests/realcode/module.mk): every libc call it counts is a real call. The
# test's own extra calls (strtod, div, strftime...) need the same flags.
RETLIBC_CFLAGS := -fno-builtin -fno-inline -U_FORTIFY_SOURCE -Itests/realcode

TEST_BINS += $(B)/tests/retlibc/test_retlibc
$(B)/tests/retlibc/test_retlibc: tests/retlibc/test_retlibc.c tests/realcode/workload.c \
		tests/realcode/workload.h $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) $(RETLIBC_CFLAGS) -o $@ $(filter %.c,$^) \
		$(PROG_LDFLAGS) $(PROG_LDLIBS) -ldl
