# SPDX-License-Identifier: MIT
# User stacks at a probe (issue 17): the walk and the interning per hit, 16
# frames through code with frame pointers and through code without (CFI), and
# the CFI table's compilation for libc and python3.11. The stack layer is
# internal to the library: the program links libuprobes.a.
BENCH_BINS += $(B)/bench/bench_stack

$(B)/bench/chain_fp.o: bench/bench_stack_chain.c
	@mkdir -p $(@D)
	$(CC) -O2 -fno-omit-frame-pointer -DCHAIN=chain_fp -c $< -o $@

$(B)/bench/chain_cfi.o: bench/bench_stack_chain.c
	@mkdir -p $(@D)
	$(CC) -O2 -fomit-frame-pointer -DCHAIN=chain_cfi -c $< -o $@

$(B)/bench/chain_nocfi.o: bench/bench_stack_chain.c
	@mkdir -p $(@D)
	$(CC) -O2 -fno-omit-frame-pointer -fno-asynchronous-unwind-tables -fno-unwind-tables \
		-DCHAIN=chain_nocfi -c $< -o $@

$(B)/bench/bench_stack_handlers.o: bench/bench_stack_handlers.c src/stack/stack.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -mgeneral-regs-only -c $< -o $@

$(B)/bench/bench_stack: bench/bench_stack.c $(B)/bench/chain_fp.o $(B)/bench/chain_cfi.o \
		$(B)/bench/chain_nocfi.o $(B)/bench/bench_stack_handlers.o $(B)/bench/harness.o \
		$(B)/bench/bench_util.o $(B)/bench/bench_arm.o \
		$(B)/libuprobes.a
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.o,$^) $(B)/libuprobes.a $(LIB_LDLIBS)

# The capture alone in a loop, for callgrind (bench_stack_loop.c says how): not
# a timed bench (no BENCH_BINS), built on request: make build/bench/bench_stack_loop
$(B)/bench/loop_fp.o: bench/bench_stack_chain.c
	@mkdir -p $(@D)
	$(CC) -O2 -fno-omit-frame-pointer -DCHAIN=loop_fp -DLEAF_HOOK=loop_hook -c $< -o $@

$(B)/bench/loop_cfi.o: bench/bench_stack_chain.c
	@mkdir -p $(@D)
	$(CC) -O2 -fomit-frame-pointer -DCHAIN=loop_cfi -DLEAF_HOOK=loop_hook -c $< -o $@

$(B)/bench/bench_stack_loop: bench/bench_stack_loop.c $(B)/bench/loop_fp.o $(B)/bench/loop_cfi.o \
		$(B)/libuprobes.a
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.o,$^) $(B)/libuprobes.a $(LIB_LDLIBS)
