/* SPDX-License-Identifier: MIT */
/*
 * uprobe cache: what the cache of per-file facts holds, and its bound
 * (uprobe_cache_trim). uprobe trace and uprobe -e trim it once a day, after
 * their run (cli_cache_daily).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "uprobes.h"

static const char cache_usage[] =
	"usage: uprobe cache [--trim | --clear]\n"
	"\n"
	"The cache of per-file facts that traced processes share (symbols, branch\n"
	"indexes, CFI tables, probe analyses): $UPROBE_CACHE_DIR, else\n"
	"$XDG_CACHE_HOME/uprobes, else ~/.cache/uprobes. Without an option, say what it\n"
	"holds. Its bound is $UPROBE_CACHE_MAX_MB MiB (default 256): past it, the least\n"
	"recently used files go until 3/4 of it is used; uprobe trace and uprobe -e\n"
	"do that once a day after their run.\n"
	"\n"
	"  --trim    bring the cache under its bound now\n"
	"  --clear   remove every file of the cache\n"
	"  -h, --help\n";

static void say(const struct uprobe_cache_usage *u, bool removed)
{
	printf("cache %s: %" PRIu64 " files, %.1f MiB (bound %.1f MiB)\n", u->dir, u->files,
	       u->bytes / 1048576.0, u->limit / 1048576.0);
	if (removed)
		printf("removed %" PRIu64 " files, %.1f MiB\n", u->removed_files,
		       u->removed_bytes / 1048576.0);
}

int cmd_cache(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trim", no_argument, NULL, 't' },
		{ "clear", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned int flags = UPROBE_CACHE_COUNT;
	struct uprobe_cache_usage u;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 't' && flags == UPROBE_CACHE_COUNT)
			flags = 0;
		else if (c == 'c' && flags == UPROBE_CACHE_COUNT)
			flags = UPROBE_CACHE_CLEAR;
		else if (c == 't' || c == 'c')
			return cli_error(CLI_EXIT_USAGE, "give one of --trim and --clear");
		else if (c == 'h')
			return fputs(cache_usage, stdout), CLI_EXIT_OK;
		else
			return fputs(cache_usage, stderr), CLI_EXIT_USAGE;
	}
	if (optind != argc)
		return cli_error(CLI_EXIT_USAGE, "unexpected argument '%s' (uprobe cache --help)",
				 argv[optind]);
	if (uprobe_cache_trim(0, flags, &u))
		return cli_error(CLI_EXIT_FAIL, "%s", uprobe_last_error());
	say(&u, !(flags & UPROBE_CACHE_COUNT));
	return CLI_EXIT_OK;
}

void cli_cache_daily(void)
{
	struct uprobe_cache_usage u;

	/* A cache that cannot be bounded (a bad UPROBE_CACHE_MAX_MB) is uprobe cache's to say. */
	uprobe_cache_trim(0, UPROBE_CACHE_DAILY, &u);
}
