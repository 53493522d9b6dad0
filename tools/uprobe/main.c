/* SPDX-License-Identifier: MIT */
/*
 * uprobe: user-space dynamic probes from the command line. The probes and
 * their handlers live in the traced process (the agent in libuprobes); this
 * program only starts it, hands it the probe lines and reads the rings.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

static char *(*probe_hook)(void *ctx, const char *event, int warning, const char *msg);
static void *probe_hook_ctx;

void cli_set_probe_hook(char *(*hook)(void *ctx, const char *event, int warning,
				      const char *msg),
			void *ctx)
{
	probe_hook = hook;
	probe_hook_ctx = ctx;
}

static void probe_say(const char *event, int warning, const char *head, const char *fmt,
		      va_list ap)
{
	char msg[PATH_MAX + 1024], *said;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	said = probe_hook && event ? probe_hook(probe_hook_ctx, event, warning, msg) : NULL;
	if (!said) {
		cli_error(0, "%s: %s", head, msg);
		return;
	}
	fputs(said, stderr);
	free(said);
}

int cli_probe_error(int code, const char *event, const char *head, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	probe_say(event, 0, head, fmt, ap);
	va_end(ap);
	return code;
}

void cli_probe_note(const char *event, const char *head, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	probe_say(event, 1, head, fmt, ap);
	va_end(ap);
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
