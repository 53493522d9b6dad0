# SPDX-License-Identifier: MIT
# The uprobe command (tools/uprobe/: main.c and one file per subcommand).
TOOL_BINS += $(B)/uprobe

UPROBE_SRCS := $(sort $(wildcard tools/uprobe/*.c)) tools/uprobe/arch/x86_64.c

# Public headers only (include/), as a program built against an installed
# libuprobes would see them: no -Isrc.
$(B)/uprobe: $(UPROBE_SRCS) $(wildcard tools/uprobe/*.h) include/uprobes.h include/uprobes_trace.h \
		include/uprobes_stack.h include/uprobes_agent.h include/uprobes_lang.h include/uprobes_kernel.h $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(TOOL_CFLAGS) $(CFLAGS) -o $@ $(UPROBE_SRCS) $(PROG_LDFLAGS) $(PROG_LDLIBS) -ldl
