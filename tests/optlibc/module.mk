# SPDX-License-Identifier: MIT
# The realcode workload is compiled in, with the flags it needs (see
# tests/realcode/module.mk): every libc call it counts is a real call.
OPTLIBC_CFLAGS := -fno-builtin -fno-inline -U_FORTIFY_SOURCE -Itests/realcode

TEST_BINS += $(B)/tests/optlibc/test_optlibc
$(B)/tests/optlibc/test_optlibc: tests/optlibc/test_optlibc.c tests/realcode/workload.c \
		tests/realcode/workload.h $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) $(OPTLIBC_CFLAGS) -o $@ $(filter %.c,$^) \
		$(PROG_LDFLAGS) $(PROG_LDLIBS) -lelf
