# SPDX-License-Identifier: MIT
# Fuzz targets, built with clang and libFuzzer by `make fuzz` only: nothing
# here is in TEST_BINS, so `make check` needs no clang. See fuzz/README.md.
FUZZ_CC ?= clang
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Isrc -Itests \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# The grammar's registers come from the arch's tables (src/arch/arch.h).
FUZZ_SPEC_SRCS := fuzz/fuzz_spec.c $(sort $(filter-out src/trace/spec/usdt.c,$(wildcard src/trace/spec/*.c))) \
	src/arch/x86_64/trace_regs.c

.PHONY: fuzz
fuzz: $(B)/fuzz/fuzz_spec

$(B)/fuzz/fuzz_spec: $(FUZZ_SPEC_SRCS) src/trace/spec/parse.h tests/trace_spec/spec_cmp.h \
		include/uprobes_trace.h src/arch/arch.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^)

# ELF files through the sym layer (src/sym/*.c): fuzz_elf.c; seeds: fuzz/elf/seeds.sh.
FUZZ_ELF_SRCS := fuzz/fuzz_elf.c $(sort $(wildcard src/sym/*.c)) src/util/log.c src/util/cache.c \
	src/util/lazylibs.c
fuzz: $(B)/fuzz/fuzz_elf

$(B)/fuzz/fuzz_elf: $(FUZZ_ELF_SRCS) $(wildcard src/sym/*.h) src/util/log.h src/util/cache.h src/util/lazylibs.h \
		fuzz/elf_ignore.txt
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize-ignorelist=fuzz/elf_ignore.txt \
		-DFUZZ_ELF_CORPUS=\"$(abspath fuzz/corpus/elf)\" -o $@ \
		$(filter %.c,$^) -lelf -ldw -llzma -lz -ldl -lpthread

# The language (src/lang/*.c): fuzz_lang.c; seeds: fuzz/corpus/lang (the golden
# cases of tests/lang/cases and bpftrace one-liners). Not hit.c: the agent's handler
# reads through the fetch layer and writes into the rings (the library's own); not
# krun.c and kspec.c, the kernel backend's (the trace layer's); the trace-spec parser
# (program.c names each probe's events, for `probe`, from their spec lines); no stacks
# (tests/lang/nostack.c refuses them).
FUZZ_LANG_SRCS := fuzz/fuzz_lang.c tests/lang/nostack.c \
	$(filter-out src/lang/hit.c src/lang/krun.c src/lang/kspec.c,\
	$(sort $(wildcard src/lang/*.c src/trace/map/*.c))) \
	$(filter-out fuzz/fuzz_spec.c,$(FUZZ_SPEC_SRCS))
fuzz: $(B)/fuzz/fuzz_lang

$(B)/fuzz/fuzz_lang: $(FUZZ_LANG_SRCS) $(wildcard src/lang/*.h) include/uprobes_lang.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DLANG_NOSTACK_PUBLIC -o $@ $(filter %.c,$^)
