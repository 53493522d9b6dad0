# SPDX-License-Identifier: MIT
# The uprobe command (tools/uprobe/: main.c and one file per subcommand).
TOOL_BINS += $(B)/uprobe

UPROBE_SRCS := $(sort $(wildcard tools/uprobe/*.c))

$(B)/uprobe: $(UPROBE_SRCS) tools/uprobe/cli.h src/agent/proto.h src/ubp/ubp.h $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $(UPROBE_SRCS) $(PROG_LDFLAGS) $(PROG_LDLIBS) -ldl -lelf
