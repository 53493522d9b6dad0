# SPDX-License-Identifier: MIT
# Programs written to break the tracer: they close or replace the library's
# descriptors and take its signal handlers away with raw system calls while
# probed (issue 15). Each asserts exact counts and an unchanged program.
HOSTILE_PROG = $(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.S,$^)

TEST_BINS += $(B)/tests/hostile/test_fds
$(B)/tests/hostile/test_fds: tests/hostile/test_fds.c tests/hostile/targets.S \
		tests/hostile/hostile.h $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(HOSTILE_PROG) $(PROG_LDFLAGS) $(PROG_LDLIBS)

TEST_BINS += $(B)/tests/hostile/test_signals
$(B)/tests/hostile/test_signals: tests/hostile/test_signals.c tests/hostile/targets.S \
		tests/hostile/hostile.h $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(HOSTILE_PROG) $(PROG_LDFLAGS) $(PROG_LDLIBS)

# The same under uprobe trace: a program that knows nothing of probes.
TEST_BINS += tests/hostile/test_hostile.sh
tests/hostile/test_hostile.sh: $(B)/uprobe $(B)/tests/hostile/hostile_target \
	$(B)/tests/hostile/qsort_strict.so $(B)/tests/hostile/nosyms

$(B)/tests/hostile/hostile_target: tests/hostile/hostile_target.c tests/hostile/targets.S \
		tests/hostile/hostile.h
	@mkdir -p $(@D)
	$(HOSTILE_PROG)

$(B)/tests/hostile/qsort_strict.so: tests/hostile/qsort_strict.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

$(B)/tests/hostile/nosyms: tests/hostile/nosyms.S
	@mkdir -p $(@D)
	$(CC) -nostdlib -static -s -o $@ $<

# The cache of per-file facts damaged every way (corrupt, cut, another
# build-id's, not ours, unusable directory): each run equals the uncached one.
TEST_BINS += tests/hostile/cache_test.sh
tests/hostile/cache_test.sh: $(B)/uprobe $(B)/tests/hostile/hostile_target

# A probe's analysis kept in the cache (core/jump_memo.c): used by the next image
# (no decoder loaded), refused when the bytes mapped are not the memo's (a file
# rewritten in place, the same build-id; another function's memo), never patched
# from a wrong analysis.
TEST_BINS += tests/hostile/memo_test.sh
tests/hostile/memo_test.sh: $(B)/uprobe $(B)/tests/hostile/memo_target

$(B)/tests/hostile/memo_target: tests/hostile/memo_target.c
	@mkdir -p $(@D)
	$(HOSTILE_PROG)
