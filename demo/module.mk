# SPDX-License-Identifier: MIT
DEMO_BINS := $(B)/demo/demo $(B)/demo/app

$(B)/demo/demo: demo/demo.c demo/trace_demo.c demo/trace_demo.h $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ demo/demo.c demo/trace_demo.c $(PROG_LDFLAGS) \
		$(PROG_LDLIBS)

# What the uprobe command traces in `make demo` (knows nothing of probes).
$(B)/demo/app: demo/app.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ $<
