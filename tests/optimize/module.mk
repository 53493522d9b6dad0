# SPDX-License-Identifier: MIT
TEST_BINS += $(B)/tests/optimize/test_optimize

$(B)/tests/optimize/lp.o: tests/optimize/lp.cc
	@mkdir -p $(@D)
	$(CXX) -O2 -g -Wall -Wextra -Werror -c -o $@ $<

$(B)/tests/optimize/test_optimize: tests/optimize/test_optimize.c tests/optimize/targets.S \
		$(B)/tests/optimize/lp.o $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.S %.o,$^) $(PROG_LDFLAGS) \
		$(PROG_LDLIBS) -lstdc++
