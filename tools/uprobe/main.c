/* SPDX-License-Identifier: MIT */
/*
 * uprobe: user-space dynamic probes from the command line. The probes and
 * their handlers live in the traced process (the agent in libuprobes); this
 * program only starts it, hands it the probe lines and reads the rings.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "record.h"
#include "uprobes.h"

static const char usage[] =
	"usage: uprobe COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  trace   run a command with probes and print, count or histogram their events\n"
	"          (uprobe trace --help)\n"
	"  report  print the events of a record file (uprobe trace -f raw -o FILE)\n"
	"          as uprobe trace prints them (uprobe report --help)\n"
	"  list    list a binary's or a process's functions and how each would be probed\n"
	"          (uprobe list --help)\n"
	"  cache   what the cache of per-file facts holds; --trim, --clear\n"
	"          (uprobe cache --help)\n"
	"  -e 'PROGRAM', FILE.bt\n"
	"          a bpftrace program (uprobe -e --help, docs/language.md); without -c, -p\n"
	"          or --, in every process, through the kernel (docs/kernel-backend.md)\n"
	"\n"
	"Probes use the kernel's uprobe_events syntax: 'p:libc:malloc size=%di',\n"
	"'r:./prog:parse ret=$retval'. See docs/trace-events.md and docs/uprobe.1.\n";

int cli_error(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("uprobe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/*
 * What the library warns of in this process (a debug file it refused, say)
 * goes to stderr; its errors come back through uprobe_last_error(), printed
 * by the caller, in context.
 */
static void cli_log(enum uprobe_log_level level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level == UPROBE_LOG_WARN)
		fprintf(stderr, "uprobe: warning: %s\n", msg);
}

int main(int argc, char **argv)
{
	int ret;

	uprobe_set_log(cli_log, NULL);
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	if (!strcmp(argv[1], "trace")) {
		ret = cmd_trace(argc - 1, argv + 1);
		cli_cache_daily();
		return ret;
	}
	if (!strcmp(argv[1], "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return cmd_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "cache"))
		return cmd_cache(argc - 1, argv + 1);
	size_t n = strlen(argv[1]);
	if (!strcmp(argv[1], "-e") || !strcmp(argv[1], "-d") || !strcmp(argv[1], "-f") ||
	    !strcmp(argv[1], "--backend") ||
	    (n > 3 && !strcmp(argv[1] + n - 3, ".bt"))) {
		ret = cmd_lang(argc, argv);
		cli_cache_daily();
		return ret;
	}
	fputs(usage, stderr);
	return cli_error(CLI_EXIT_USAGE, "unknown command '%s'", argv[1]);
}
