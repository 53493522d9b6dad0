# SPDX-License-Identifier: MIT
# (Named trace_lang.mk: included after module.mk, which defines BENCH_HARNESS.)
# The language's plans in the target (src/lang/ on src/trace/map/): per-hit
# cost of compiled programs. The layers' code is internal to the library
# (hidden symbols): the program links its own copy, the hot path (eval.c,
# target.c, map_update.c) built with the library's flags for handler code.
BENCH_BINS += $(B)/bench/bench_lang

BENCH_LANG_HOT := src/lang/eval.c src/lang/target.c
# hit.c, the agent's handler, is the library's own (it reads through the fetch layer).
BENCH_LANG_COLD := $(filter-out $(BENCH_LANG_HOT) src/lang/hit.c,$(sort $(wildcard src/lang/*.c)))
BENCH_LANG_OBJS := $(patsubst src/lang/%.c,$(B)/bench/lang/%.o,$(BENCH_LANG_HOT) $(BENCH_LANG_COLD))

$(patsubst src/lang/%.c,$(B)/bench/lang/%.o,$(BENCH_LANG_HOT)): $(B)/bench/lang/%.o: src/lang/%.c \
		$(wildcard src/lang/*.h)
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) $(HOT_CFLAGS) -c $< -o $@

$(patsubst src/lang/%.c,$(B)/bench/lang/%.o,$(BENCH_LANG_COLD)): $(B)/bench/lang/%.o: src/lang/%.c \
		$(wildcard src/lang/*.h)
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -c $< -o $@

$(B)/bench/bench_lang_handlers.o: bench/bench_lang_handlers.c bench/bench_lang_handlers.h \
		$(wildcard src/lang/*.h)
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -mgeneral-regs-only -c $< -o $@

$(B)/bench/bench_lang: bench/bench_lang.c tests/lang/nostack.c src/trace/map/map.c \
		src/trace/map/map_read.c \
		$(B)/bench/map_update.o $(B)/bench/bench_map_handlers.o $(B)/bench/bench_handlers.o \
		$(B)/bench/bench_lang_handlers.o $(BENCH_LANG_OBJS) $(BENCH_HARNESS) $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(BENCH_LINK)
