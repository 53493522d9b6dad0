# SPDX-License-Identifier: MIT
DEMO_BINS := $(B)/demo/demo

$(B)/demo/demo: demo/demo.c demo/trace_demo.c demo/trace_demo.h $(B)/libuprobes.so
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(CFLAGS) -o $@ demo/demo.c demo/trace_demo.c $(PROG_LDFLAGS) \
		$(PROG_LDLIBS)
