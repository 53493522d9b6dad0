# SPDX-License-Identifier: MIT
# The aarch64 tests (src/arch/aarch64/build.mk includes this; make check-aarch64):
# test_state, one case per instruction class; test_diff, generated sequences;
# test_ret, return probes; test_threads, patching under running threads;
# test_realcode, every instruction of compiler-generated PAC/BTI code and of libc
# functions probed; test_sqlite, every function entry of arm64 libsqlite3;
# test_engine, the real library's core through the public API; test_demo.sh, the demo
# program with a64probe.so (the arch layer alone) and a64api.so (the public API)
# preloaded (A64_TEST_SCRIPTS: run on the host, they start qemu-aarch64 themselves).
A64_SANDBOX := tests/aarch64/sandbox.c tests/aarch64/frame.S
A64_TEST_CFLAGS := $(BASE_CFLAGS) -Itests -pthread
# The real library: the generic layers and the arch layer need each other.
A64_LIBS = -Wl,--start-group $(B)/libuprobes-generic.a $(B)/libuprobes-arch.a -Wl,--end-group

A64_TEST_BINS += $(B)/tests/aarch64/test_state $(B)/tests/aarch64/test_diff $(B)/tests/aarch64/test_ret \
	$(B)/tests/aarch64/test_threads $(B)/tests/aarch64/test_realcode $(B)/tests/aarch64/test_sqlite

$(B)/tests/aarch64/realcode_work.o: tests/aarch64/realcode_work.c tests/aarch64/realcode.h
	@mkdir -p $(@D)
	$(CC) $(A64_TEST_CFLAGS) -O2 -mbranch-protection=standard -mno-outline-atomics -c $< -o $@

$(B)/tests/aarch64/test_realcode: tests/aarch64/test_realcode.c tests/aarch64/sites.c \
		tests/aarch64/sites.h $(B)/tests/aarch64/realcode_work.o $(B)/libuprobes-arch.a
	@mkdir -p $(@D)
	$(CC) $(A64_TEST_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.o,$^) $(B)/libuprobes-arch.a \
		-lelf -ldl $(A64_LDLIBS)
$(B)/tests/aarch64/test_threads: tests/aarch64/test_threads.c $(B)/libuprobes-arch.a
	@mkdir -p $(@D)
	$(CC) $(A64_TEST_CFLAGS) $(CFLAGS) -o $@ $< $(B)/libuprobes-arch.a $(A64_LDLIBS)

$(B)/tests/aarch64/test_%: tests/aarch64/test_%.c $(A64_SANDBOX) $(wildcard tests/aarch64/*.h) \
		$(B)/libuprobes-arch.a
	@mkdir -p $(@D)
	$(CC) $(A64_TEST_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.S,$^) $(B)/libuprobes-arch.a \
		$(A64_LDLIBS)

$(B)/tests/aarch64/test_sqlite: tests/aarch64/test_sqlite.c tests/aarch64/sites.c tests/aarch64/sites.h \
		$(B)/libuprobes-generic.a $(B)/libuprobes-arch.a
	@mkdir -p $(@D)
	$(CC) $(A64_TEST_CFLAGS) $(CFLAGS) -o $@ $(filter %.c,$^) $(A64_LIBS) \
		-lsqlite3 -lelf -ldw -lz -llzma -ldl $(A64_LDLIBS)

A64_TEST_SCRIPTS += tests/aarch64/test_demo.sh
A64_SCRIPT_DEPS := $(B)/demo/app $(B)/tests/aarch64/a64probe.so

$(B)/demo/app: demo/app.c
	@mkdir -p $(@D)
	$(CC) $(A64_TEST_CFLAGS) $(CFLAGS) -o $@ $<

$(B)/tests/aarch64/a64probe.so: tests/aarch64/a64probe.c tests/aarch64/sites.c tests/aarch64/sites.h \
		$(B)/libuprobes-arch.a
	@mkdir -p $(@D)
	$(CC) $(A64_TEST_CFLAGS) $(CFLAGS) -fPIC -shared -o $@ $(filter %.c,$^) \
		$(B)/libuprobes-arch.a -lelf -ldl $(A64_LDLIBS)

# The trace grammar's aarch64 registers and the arch tables behind $argN/$retval.
A64_TEST_BINS += $(B)/tests/aarch64/test_spec
# (core_stubs.c: what the generic layers take from core/probe.c, not built yet)
$(B)/tests/aarch64/test_spec: tests/aarch64/test_spec.c tests/aarch64/core_stubs.c \
		$(B)/libuprobes-generic.a $(B)/libuprobes-arch.a
	@mkdir -p $(@D)
	$(CC) $(A64_TEST_CFLAGS) $(CFLAGS) -o $@ $(filter %.c,$^) $(B)/libuprobes-generic.a \
		$(B)/libuprobes-arch.a -lelf -ldw -lz -llzma $(A64_LDLIBS)

# Every generic file built above or listed in generic_todo.txt (with the reason).
A64_TEST_SCRIPTS += tests/aarch64/test_generic.sh
A64_SCRIPT_DEPS += $(B)/libuprobes-generic.a

# The real library's core (core/dispatch.c, probe.c, jump.c ...) through the public API.
A64_TEST_BINS += $(B)/tests/aarch64/test_engine
$(B)/tests/aarch64/test_engine: tests/aarch64/test_engine.c tests/aarch64/engine_targets.S \
		$(B)/libuprobes-generic.a $(B)/libuprobes-arch.a
	@mkdir -p $(@D)
	$(CC) $(A64_TEST_CFLAGS) $(CFLAGS) -o $@ $(filter %.c %.S,$^) $(A64_LIBS) \
		-lelf -ldw -lz -llzma -ldl $(A64_LDLIBS)

# test_demo.sh's second preload: the real library (its core) through the public API.
A64_SCRIPT_DEPS += $(B)/tests/aarch64/a64api.so
$(B)/tests/aarch64/a64api.so: tests/aarch64/a64api.c \
		$(B)/libuprobes-generic.a $(B)/libuprobes-arch.a
	@mkdir -p $(@D)
	$(CC) $(A64_TEST_CFLAGS) $(CFLAGS) -fPIC -shared -o $@ $(filter %.c,$^) $(A64_LIBS) \
		-lelf -ldw -lz -llzma -ldl $(A64_LDLIBS)

# Return probes of the real library (core/retprobe.c, the hijack of x30) through the public
# API, on PAC-signed targets (-mbranch-protection=standard).
A64_TEST_BINS += $(B)/tests/aarch64/test_retprobe
$(B)/tests/aarch64/test_retprobe: tests/aarch64/test_retprobe.c $(B)/libuprobes-generic.a \
		$(B)/libuprobes-arch.a
	@mkdir -p $(@D)
	$(CC) $(A64_TEST_CFLAGS) $(CFLAGS) -mbranch-protection=standard -o $@ $< \
		$(A64_LIBS) \
		-lelf -ldw -lz -llzma -ldl $(A64_LDLIBS)

# The uprobe command for aarch64 under qemu (uprobe list on the demo program).
A64_TEST_SCRIPTS += tests/aarch64/test_cli.sh
A64_SCRIPT_DEPS += $(B)/uprobe

# uprobe trace in launch mode under qemu (UPROBE_QEMU): the demo program, and a program
# that uses arm64 libsqlite3 (tests/aarch64/sqlite_app.c); exact counts, output unchanged.
A64_TEST_SCRIPTS += tests/aarch64/test_trace.sh
A64_SCRIPT_DEPS += $(B)/libuprobes.so $(B)/tests/aarch64/sqlite_app $(B)/tests/aarch64/loop_app \
	$(B)/tests/aarch64/cxx_app $(B)/tests/aarch64/cxx_app_pac $(B)/tests/aarch64/args_app
$(B)/tests/aarch64/sqlite_app: tests/aarch64/sqlite_app.c
	@mkdir -p $(@D)
	$(CC) $(A64_TEST_CFLAGS) $(CFLAGS) -o $@ $< -lsqlite3
$(B)/tests/aarch64/loop_app: tests/aarch64/loop_app.c
	@mkdir -p $(@D)
	$(CC) $(A64_TEST_CFLAGS) $(CFLAGS) -o $@ $<
$(B)/tests/aarch64/args_app: tests/aarch64/args_app.c
	@mkdir -p $(@D)
	$(CC) $(A64_TEST_CFLAGS) $(CFLAGS) -o $@ $<
# C++ exceptions through return probes: frame records with x30 plain (no frame
# pointer, no PAC) and signed by paciasp (-mbranch-protection=standard).
$(B)/tests/aarch64/cxx_app: tests/aarch64/cxx_app.cc
	@mkdir -p $(@D)
	$(CROSS)g++ -O2 -g -fomit-frame-pointer -o $@ $<
$(B)/tests/aarch64/cxx_app_pac: tests/aarch64/cxx_app.cc
	@mkdir -p $(@D)
	$(CROSS)g++ -O2 -g -mbranch-protection=standard -o $@ $<
