# SPDX-License-Identifier: MIT
# Hostile ELF input for the sym layer (tests/hostile/elf_*):
#  elf_debuglink.sh  debug files that are FIFOs, devices, huge sparse files,
#                    another build's, a wrong CRC: refused by name, never hung on
#  elf_cases.sh      the inputs fuzz_elf found breaking the sym layer, each with
#                    its exact uprobe list output (tests/hostile/elf_cases/)
#  elf_mutate.sh     uprobe list on real ELF files cut short and with bytes
#                    changed (elf_mutate.c makes the mutants): status 0 or 1
#                    with a message, never a crash
TEST_BINS += tests/hostile/elf_debuglink.sh tests/hostile/elf_cases.sh tests/hostile/elf_mutate.sh

ELF_TARGETS := $(B)/tests/hostile/elf_target $(B)/tests/hostile/elf_target_other \
	$(B)/tests/hostile/elf_target_noid $(B)/tests/hostile/elf_target_noid_other

tests/hostile/elf_debuglink.sh: $(B)/uprobe $(ELF_TARGETS)
tests/hostile/elf_cases.sh: $(B)/uprobe
tests/hostile/elf_mutate.sh: $(B)/uprobe $(B)/tests/hostile/elf_mutate

$(B)/tests/hostile/elf_mutate: tests/hostile/elf_mutate.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $<

# -g: the debug files are made from these by objcopy --only-keep-debug.
ELF_TARGET_CFLAGS := -O2 -g -rdynamic
$(B)/tests/hostile/elf_target: tests/hostile/elf_target.c
	@mkdir -p $(@D)
	$(CC) $(ELF_TARGET_CFLAGS) -Wl,--build-id -o $@ $<
$(B)/tests/hostile/elf_target_other: tests/hostile/elf_target.c
	@mkdir -p $(@D)
	$(CC) $(ELF_TARGET_CFLAGS) -DELF_OTHER -Wl,--build-id -o $@ $<
$(B)/tests/hostile/elf_target_noid: tests/hostile/elf_target.c
	@mkdir -p $(@D)
	$(CC) $(ELF_TARGET_CFLAGS) -Wl,--build-id=none -o $@ $<
$(B)/tests/hostile/elf_target_noid_other: tests/hostile/elf_target.c
	@mkdir -p $(@D)
	$(CC) $(ELF_TARGET_CFLAGS) -DELF_OTHER -Wl,--build-id=none -o $@ $<
