# SPDX-License-Identifier: MIT
TEST_BINS += $(B)/tests/insn/test_insn
$(B)/tests/insn/test_insn: tests/insn/test_insn.c tests/insn/targets.S tests/insn/insn_state.h \
		$(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.S,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS)
