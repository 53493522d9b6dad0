# SPDX-License-Identifier: MIT
TEST_BINS += $(B)/tests/optstress/test_optstress
$(B)/tests/optstress/test_optstress: tests/optstress/test_optstress.c tests/optstress/targets.S \
		$(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.S,$^) $(PROG_LDFLAGS) $(PROG_LDLIBS)
