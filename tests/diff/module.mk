# SPDX-License-Identifier: MIT
# Differential test: generated instruction sequences, native vs probed.
DIFF_SRCS := tests/diff/test_diff.c tests/diff/report.c tests/diff/gen.c \
	tests/diff/gen_layout.c tests/diff/gen_gpr.c tests/diff/gen_ctl.c tests/diff/gen_sse.c \
	tests/diff/frame.S

TEST_BINS += $(B)/tests/diff/test_diff
$(B)/tests/diff/test_diff: $(DIFF_SRCS) $(wildcard tests/diff/*.h) $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.S,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS) \
		-lZydis
