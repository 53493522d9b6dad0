# SPDX-License-Identifier: MIT
# make ARCH=aarch64 (docs/aarch64.md): the aarch64 cross build in build-aarch64/,
# included by the Makefile instead of the x86-64 build. What is built so far:
# the arch layer (src/arch/aarch64) as a static library, the generic layers but the
# files tests/aarch64/generic_todo.txt lists (libuprobes-generic.a), the tests and
# benches, which `make check-aarch64` runs under qemu-aarch64.
CROSS ?= aarch64-linux-gnu-
CC := $(CROSS)gcc
AR := $(CROSS)ar
CFLAGS ?= -O2 -g
QEMU ?= qemu-aarch64
B := build-aarch64

WARN := -Wall -Wextra -Werror -Wno-format-truncation
BASE_CFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -Iinclude -Isrc -MMD -MP
# libtracefs' headers are the same for every architecture (the kernel backend's code).
TRACEFS_CFLAGS := $(shell pkg-config --cflags libtracefs libtraceevent 2>/dev/null)
A64_LIB_SRCS := $(sort $(wildcard src/arch/aarch64/*.c))
A64_LIB_ASMS := $(sort $(wildcard src/arch/aarch64/*.S))
A64_LIB_OBJS := $(patsubst %.c,$(B)/%.o,$(A64_LIB_SRCS)) $(patsubst %.S,$(B)/%.o,$(A64_LIB_ASMS))
A64_LDLIBS := -lcapstone -lpthread
# Signal context: no libc string functions, no SIMD registers.
A64_HOT_SRCS := src/arch/aarch64/emulate.c src/arch/aarch64/regs.c src/arch/aarch64/jump.c \
	$(A64_GENERIC_HOT)
# The generic part of the Makefile's HOT_SRCS (keep the two in step).
A64_GENERIC_HOT := src/ubp/signal.c src/ubp/quiesce.c src/core/dispatch.c src/core/srcu.c \
	src/core/retprobe.c src/trace/fetch/fetch_eval.c src/trace/fetch/fetch_self.c \
	src/trace/transport/ring.c \
	src/stack/unwind.c src/stack/table.c src/trace/fetch/fetch_stack.c \
	src/trace/map/map_update.c src/lang/eval.c src/lang/target.c src/lang/hit.c
A64_HOT_CFLAGS := -fno-builtin -fno-tree-loop-distribute-patterns -mgeneral-regs-only

# The generic layers: every file but those that still use x86-64 directly, listed with
# the reason in tests/aarch64/generic_todo.txt (tests/aarch64/test_generic.sh keeps it true).
A64_GENERIC_TODO := $(shell sed -n 's/^\(src\/[^	]*\.c\)	.*/\1/p' tests/aarch64/generic_todo.txt)
A64_GENERIC_SRCS := $(filter-out src/arch/% $(A64_GENERIC_TODO),$(sort $(wildcard src/*/*.c src/trace/*/*.c)))
A64_GENERIC_OBJS := $(patsubst %.c,$(B)/%.o,$(A64_GENERIC_SRCS))

.PHONY: all lib check-aarch64 deps clean
all: lib
lib: $(B)/libuprobes-arch.a $(B)/libuprobes-generic.a

deps:
	@sh scripts/deps.sh

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(TRACEFS_CFLAGS) -fPIC $(CFLAGS) \
		$(if $(filter $(A64_HOT_SRCS),$<),$(A64_HOT_CFLAGS)) -c $< -o $@

$(B)/%.o: %.S
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -fPIC $(CFLAGS) -c $< -o $@

$(B)/libuprobes-arch.a: $(A64_LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/libuprobes-generic.a: $(A64_GENERIC_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

# The library (libuprobes.so: the generic layers and the arch layer, the public symbols
# of src/libuprobes.map) and the uprobe command, against the public headers only.
A64_LIB_LDLIBS := -lcapstone -lelf -ldw -llzma -lz -lpthread -ldl
lib: $(B)/libuprobes.so $(B)/uprobe
$(B)/libuprobes.so: $(A64_GENERIC_OBJS) $(A64_LIB_OBJS) src/libuprobes.map
	$(CC) -shared -Wl,-soname,libuprobes.so.0 -Wl,--version-script=src/libuprobes.map \
		-Wl,-z,defs -Wl,-z,now -o $@ $(A64_GENERIC_OBJS) $(A64_LIB_OBJS) $(A64_LIB_LDLIBS)
	ln -sf libuprobes.so $(B)/libuprobes.so.0

# (borrow.c, guard.c: attach mode, x86-64; tools/uprobe/arch/aarch64.c says so)
A64_UPROBE_SRCS := $(filter-out tools/uprobe/borrow.c tools/uprobe/guard.c,$(sort $(wildcard tools/uprobe/*.c))) \
	tools/uprobe/arch/aarch64.c
$(B)/uprobe: $(A64_UPROBE_SRCS) $(wildcard tools/uprobe/*.h) $(wildcard include/*.h) $(B)/libuprobes.so
	$(CC) -std=gnu11 $(WARN) -D_GNU_SOURCE -Iinclude -pthread $(CFLAGS) -o $@ $(A64_UPROBE_SRCS) \
		-L$(B) -Wl,-rpath,$(abspath $(B)) -luprobes -lpthread -ldl -lelf

A64_TEST_BINS :=
A64_TEST_SCRIPTS :=
A64_SCRIPT_DEPS :=
include tests/aarch64/aarch64.mk

# Benchmarks under qemu-aarch64: the coverage of function entries (bench/coverage_aarch64.c),
# the cost of a hit as ratios (bench/probe_aarch64.c).
A64_BENCH_BINS := $(B)/bench/coverage_aarch64 $(B)/bench/probe_aarch64
all: $(A64_TEST_BINS) $(A64_SCRIPT_DEPS) $(A64_BENCH_BINS)
$(B)/bench/harness.o $(B)/bench/bench_util.o: $(B)/bench/%.o: bench/%.c bench/%.h bench/harness.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -Ibench $(CFLAGS) -c $< -o $@

$(B)/bench/%_aarch64: bench/%_aarch64.c $(B)/bench/harness.o $(B)/bench/bench_util.o \
		$(B)/libuprobes-arch.a
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -Ibench $(CFLAGS) -o $@ $(filter %.c %.o %.a,$^) -lelf $(A64_LDLIBS)

.PHONY: bench-aarch64
bench-aarch64: deps lib $(A64_BENCH_BINS)
	@for b in $(A64_BENCH_BINS); do echo "== $$b"; $(QEMU) $$b || exit 1; done

# Each test runs under qemu-aarch64 through a wrapper that tests/run.sh starts;
# a test script runs on the host with the build directory (it starts qemu itself).
check-aarch64: deps lib $(A64_TEST_BINS) $(A64_SCRIPT_DEPS)
	@for t in $(A64_TEST_BINS); do \
		printf '#!/bin/sh\nexec %s %s "$$@"\n' '$(QEMU)' "$(abspath .)/$$t" >$$t.qemu; \
		chmod +x $$t.qemu; done
	@for t in $(A64_TEST_SCRIPTS); do w=$(B)/tests/aarch64/$$(basename $$t .sh).run; \
		printf '#!/bin/sh\nQEMU=%s exec sh %s %s\n' '$(QEMU)' "$(abspath .)/$$t" \
			'$(abspath $(B))' >$$w; chmod +x $$w; done
	@sh tests/run.sh $(addsuffix .qemu,$(A64_TEST_BINS)) \
		$(patsubst tests/aarch64/%.sh,$(B)/tests/aarch64/%.run,$(A64_TEST_SCRIPTS))

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
