# SPDX-License-Identifier: MIT
# Non-recursive build. Each directory with more than the library adds itself
# through a module.mk fragment included below.

# make ARCH=aarch64: the aarch64 cross build instead, in build-aarch64/ (docs/aarch64.md).
ifeq ($(ARCH),aarch64)
include src/arch/aarch64/build.mk
else

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
CC ?= cc
CFLAGS ?= -O2 -g
B := build

# make ... SANITIZE=1: the library, the uprobe command and the tests built with
# AddressSanitizer and UndefinedBehaviorSanitizer (docs/testing.md). build/ holds
# one kind of build at a time: switching kinds needs `make clean`.
# Alignment is not checked: a jump-optimized probe hands its handlers a misaligned
# struct uprobe_regs when the probed code's stack pointer is misaligned (the
# trampoline saves the registers below it as it is; tests/diff does that).
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize=alignment -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
override CFLAGS += $(SAN_FLAGS)
endif
BUILD_KIND := $(if $(filter 1,$(SANITIZE)),sanitize,plain)
ifneq ($(filter-out clean deps format fuzz,$(or $(MAKECMDGOALS),all)),)
BUILT_KIND := $(or $(shell cat $(B)/.kind 2>/dev/null),$(if $(wildcard $(B)/libuprobes.so),plain))
ifneq ($(or $(BUILT_KIND),$(BUILD_KIND)),$(BUILD_KIND))
$(error $(B)/ holds a $(BUILT_KIND) build, this is a $(BUILD_KIND) one: make clean first)
endif
$(shell mkdir -p $(B) && echo $(BUILD_KIND) >$(B)/.kind)
endif

WARN := -Wall -Wextra -Werror -Wno-format-truncation
# The library's own code sees its private headers (-Isrc); the uprobe command
# sees only the public ones it would see installed (TOOL_CFLAGS).
PUB_CFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -Iinclude -MMD -MP
BASE_CFLAGS := $(PUB_CFLAGS) -Isrc
# The kernel backend (src/kernel/) reads tracefs with libtracefs and event formats with
# libtraceevent, opened at its first use (src/kernel/klibs.h), not linked: every traced
# image loads libuprobes, and would load them too.
TRACEFS_CFLAGS := $(shell pkg-config --cflags libtracefs libtraceevent 2>/dev/null)
LIB_CFLAGS := $(BASE_CFLAGS) -fPIC -fvisibility=hidden $(TRACEFS_CFLAGS)
LIB_LDLIBS := -lZydis -lelf -lz -lpthread -ldl
# The shared library opens Zydis, libelf and libz at their first use
# (src/util/lazylibs.h): the tracer of a launch never needs them, nor an image whose
# symbols the cache answers. A static link keeps them (LIB_LDLIBS, Libs.private).
LIB_SO_LDLIBS := $(filter-out -lZydis -lelf -lz,$(LIB_LDLIBS))
SONAME := libuprobes.so.0
VERSION := 0.1.0

# src/core/retsite_none.c: core/retsite.c and retpatch.c for an architecture without
# return-site patching (aarch64's build takes it instead of them).
LIB_SRCS := $(sort $(filter-out src/core/retsite_none.c,\
	$(wildcard src/*/*.c src/trace/*/*.c src/arch/x86_64/*.c)))
LIB_ASMS := $(sort $(wildcard src/arch/x86_64/*.S))
LIB_OBJS := $(patsubst %.c,$(B)/%.o,$(LIB_SRCS)) $(patsubst %.S,$(B)/%.o,$(LIB_ASMS))

# Code that runs inside the SIGTRAP handler (and, later, trampolines) must not
# call into libc string functions a user may have probed, nor touch SIMD state.
HOT_CFLAGS := -fno-builtin -fno-tree-loop-distribute-patterns -mgeneral-regs-only
HOT_SRCS := src/ubp/signal.c src/ubp/quiesce.c src/core/dispatch.c src/core/srcu.c src/core/retprobe.c src/core/retpatch_hot.c src/core/retpatch_exit.c src/arch/x86_64/emulate.c \
	src/arch/x86_64/regs.c src/trace/fetch/fetch_eval.c src/trace/fetch/fetch_self.c \
	src/trace/transport/ring.c \
	src/stack/unwind.c src/stack/walk.c src/stack/table.c src/trace/fetch/fetch_stack.c \
	src/trace/map/map_update.c src/lang/eval.c src/lang/target.c src/lang/hit.c
# The exit trampoline's C side: its template reloads every general register after the
# call, so the callee-saved ones are declared call-clobbered there (no pushes and pops on
# every return; see the file's comment: nothing else may go in it).
RETEXIT_SRCS := src/core/retpatch_exit.c
RETEXIT_CFLAGS := -fcall-used-rbx -fcall-used-r12 -fcall-used-r13 \
	-fcall-used-r14 -fcall-used-r15

.PHONY: all lib tools demo check check-forced check-real test bench install clean deps format FORCE
all: lib

lib: $(B)/libuprobes.so $(B)/libuprobes.a

deps:
	@sh scripts/deps.sh

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(CFLAGS) $(if $(filter $(HOT_SRCS),$<),$(HOT_CFLAGS)) \
		$(if $(filter $(RETEXIT_SRCS),$<),$(RETEXIT_CFLAGS)) -c $< -o $@

$(B)/%.o: %.S
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(CFLAGS) -c $< -o $@

$(B)/libuprobes.so: $(LIB_OBJS) src/libuprobes.map
	$(CC) -shared $(SAN_FLAGS) -Wl,-soname,$(SONAME) -Wl,--version-script=src/libuprobes.map \
		-Wl,-z,defs -Wl,-z,now -o $@ $(LIB_OBJS) $(LIB_SO_LDLIBS)
	ln -sf libuprobes.so $(B)/$(SONAME)

$(B)/libuprobes.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(B)/uprobes.pc: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
		'Name: uprobes' 'Description: user-space dynamic probes for Linux x86-64' \
		'Version: $(VERSION)' 'Libs: -L$${libdir} -luprobes' \
		'Libs.private: $(LIB_LDLIBS)' 'Cflags: -I$${includedir}' > $@

install: lib $(B)/uprobes.pc
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 644 include/uprobes.h include/uprobes_trace.h include/uprobes_agent.h \
		include/uprobes_stack.h include/uprobes_lang.h include/uprobes_kernel.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 755 $(B)/libuprobes.so $(DESTDIR)$(LIBDIR)/libuprobes.so.$(VERSION)
	ln -sf libuprobes.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libuprobes.so
	install -m 644 $(B)/libuprobes.a $(DESTDIR)$(LIBDIR)/
	install -m 644 $(B)/uprobes.pc $(DESTDIR)$(LIBDIR)/pkgconfig/

# Programs linked against the shared library find it in build/ at run time.
PROG_CFLAGS := $(BASE_CFLAGS) -Itests -pthread
PROG_LDFLAGS := -L$(B) -Wl,-rpath,$(abspath $(B))
PROG_LDLIBS := -luprobes -lpthread
TOOL_CFLAGS := $(PUB_CFLAGS) -pthread

TEST_BINS :=
# tests/hostile/ has one fragment per kind of attack (sort drops the duplicate module.mk).
include $(sort $(wildcard demo/module.mk tools/*/module.mk tests/*/module.mk tests/hostile/*.mk bench/*.mk \
	fuzz/module.mk))

# The uprobe command: `make` builds it with the library.
all: tools
tools: lib $(TOOL_BINS)

# The library demo, then the uprobe command on a program that knows nothing
# of probes: entry and return events with arguments, a count, a latency histogram.
DEMO_APP := $(abspath $(B)/demo/app)
demo: deps lib tools $(DEMO_BINS)
	$(B)/demo/demo
	@echo
	@echo '== uprobe trace: events with arguments and return values'
	$(B)/uprobe trace 'p:app/hash $(DEMO_APP):app_hash word=+0(%di):string rounds=%si:u32' \
		'r:app/hash_ret $(DEMO_APP):app_hash h=$$retval:x32' -- $(DEMO_APP)
	@echo
	@echo '== uprobe trace --count --hist latency'
	$(B)/uprobe trace --count --hist latency 'r:app/hash_ret $(DEMO_APP):app_hash' \
		'p:app/malloc libc:malloc size=%di:u64' -- $(DEMO_APP)

# Sanitized: a report fails the program that made it (UBSan stops at the first);
# crashes stay the signals they are (tests check them), not ASan's exit status 1;
# tests/diff runs 1,000 sequences, not 10,000 (ASan makes them ten times slower);
# tests/lsan.supp and tests/sanitize.skip say what is left out, and why.
SAN_ENV := $(if $(SAN_FLAGS),UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:handle_sigfpe=0 \
	LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp) TEST_SKIP=tests/sanitize.skip \
	DIFF_SEQS=1000)
# The new paths forced on (issue 18, docs/testing.md): no breakpoint fallback at a
# function entry (UPROBE_ENTRY_PATH=lean-strict), no return-address hijack
# (UPROBE_RET_PATH=site-strict), over every test but what tests/forced.skip leaves
# out (programs that attach no probe in a process; tests/diff's volume case: 1,000
# sequences, not 10,000). tests/run.sh runs the programs after its argument
# --forced so.
FORCED_BINS := $(TEST_BINS)

# Every test, then (not sanitized) every test again with the new paths forced on:
# one summary.
# tests/real/ runs its quick subset here (REAL_QUICK=1), in full in check-real.
check: deps lib $(TEST_BINS)
	@$(SAN_ENV) REAL_QUICK=$${REAL_QUICK:-1} sh tests/run.sh $(TEST_BINS) \
		$(if $(SAN_FLAGS),,--forced $(FORCED_BINS))

test: check

# The forced pass alone.
check-forced: deps lib tools $(FORCED_BINS)
	@REAL_QUICK=$${REAL_QUICK:-1} sh tests/run.sh --forced $(FORCED_BINS)

# tests/real/ in full: every function of each program, 50 redis cycles; about
# 20 minutes on 2 cores (docs/testing.md).
check-real: deps lib tools $(REAL_BINS)
	@REAL_QUICK=0 TEST_TIMEOUT=$${TEST_TIMEOUT:-3600} sh tests/run.sh $(REAL_BINS)

bench: deps lib $(BENCH_BINS)
	@sh bench/run.sh $(BENCH_BINS)

format:
	clang-format -i $(LIB_SRCS) include/uprobes.h include/uprobes_trace.h include/uprobes_agent.h \
		include/uprobes_stack.h include/uprobes_lang.h include/uprobes_kernel.h

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# The aarch64 engine tests under qemu-aarch64 (docs/aarch64.md).
.PHONY: check-aarch64
check-aarch64:
	@$(MAKE) --no-print-directory ARCH=aarch64 check-aarch64
endif
