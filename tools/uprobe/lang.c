/* SPDX-License-Identifier: MIT */
/*
 * uprobe -e 'PROGRAM' | uprobe FILE.bt: the bpftrace language
 * (docs/language.md), through the library's public API (uprobes_lang.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "uprobes_lang.h"

static const char usage[] =
	"usage: uprobe -e 'PROGRAM' [-d] [-f text|json] [-c 'CMD' | -p PID | -- CMD ARGS]\n"
	"       uprobe [-d] FILE.bt [...]\n"
	"\n"
	"Runs a bpftrace program on user-space probes (docs/language.md).\n"
	"  -e PROGRAM   the program's text (its name in messages: stdin)\n"
	"  FILE.bt      the program from a file\n"
	"  -d           print the program's AST (as bpftrace -d does) and its plan, and exit\n"
	"  -f FORMAT    text (bpftrace's) or json (bpftrace's -f json lines)\n"
	"  -c CMD, -p PID, -- CMD ARGS   the process to trace\n"
	"\n"
	"Today BEGIN, interval and END probes run (in this process, until exit() or\n"
	"Ctrl-C); probes in a traced process (uprobe:, uretprobe:, usdt:) are parsed,\n"
	"checked and compiled, and refused at run time until the agent runs plans (issue 16).\n";

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while (m && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	bool bad = ferror(f);
	fclose(f);
	if (m)
		fclose(m);
	if (bad) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int run(const char *name, const char *text, bool dump, bool has_target,
	       enum lang_output fmt)
{
	struct lang_program *p = lang_program_new(name, text);
	if (!p)
		return cli_error(CLI_EXIT_FAIL, "%s", strerror(errno));
	const char *diag;
	int errors = lang_program_errors(p, &diag);
	fputs(diag, stderr); /* errors, or warnings only */
	if (errors) {
		lang_program_free(p);
		return CLI_EXIT_FAIL;
	}
	int rc = CLI_EXIT_OK;
	if (dump) {
		lang_program_dump(p, stdout);
		lang_program_dump_plan(p, stdout);
	} else if (lang_program_target_probes(p) || has_target) {
		rc = cli_error(CLI_EXIT_FAIL,
			       "%s: probes in a traced process (uprobe:, uretprobe:, usdt:) "
			       "and -c/-p/-- are not wired to the agent yet: only BEGIN, interval "
			       "and END run (docs/language.md)", name);
	} else {
		int err = lang_program_run_local(p, fmt, stdout);
		if (err < 0)
			rc = cli_error(CLI_EXIT_FAIL, "%s: %s", name, strerror(-err));
	}
	lang_program_free(p);
	return rc;
}

int cmd_lang(int argc, char **argv)
{
	const char *prog = NULL, *file = NULL;
	bool dump = false, has_target = false;
	enum lang_output fmt = LANG_OUT_TEXT;
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return CLI_EXIT_OK;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-e") || !strcmp(a, "-c") || !strcmp(a, "-p") || !strcmp(a, "-f")) {
			if (i + 1 >= argc)
				return cli_error(CLI_EXIT_USAGE, "%s needs an argument", a);
			const char *v = argv[++i];
			if (a[1] == 'e')
				prog = v;
			else if (a[1] == 'f' && !strcmp(v, "json"))
				fmt = LANG_OUT_JSON;
			else if (a[1] == 'f' && strcmp(v, "text"))
				return cli_error(CLI_EXIT_USAGE, "-f %s: text or json", v);
			else if (a[1] != 'f')
				has_target = true;
		} else if (!strcmp(a, "-d")) {
			dump = true;
		} else if (!strcmp(a, "--")) {
			has_target = i + 1 < argc;
			break;
		} else if (a[0] == '-') {
			fputs(usage, stderr);
			return cli_error(CLI_EXIT_USAGE, "unknown option '%s'", a);
		} else if (!prog && !file) {
			file = a;
		} else { /* bpftrace's positional parameters ($1): not yet */
			return cli_error(CLI_EXIT_USAGE, "unexpected argument '%s' (positional parameters are not supported)", a);
		}
	}
	if (!prog && !file) {
		fputs(usage, stderr);
		return cli_error(CLI_EXIT_USAGE, "no program: -e 'PROGRAM' or FILE.bt");
	}
	if (prog && file)
		return cli_error(CLI_EXIT_USAGE, "both -e and %s: one program at a time", file);
	if (prog)
		return run("stdin", prog, dump, has_target, fmt);
	char *text = read_file(file);
	if (!text)
		return cli_error(CLI_EXIT_FAIL, "%s: %s", file, strerror(errno));
	int rc = run(file, text, dump, has_target, fmt);
	free(text);
	return rc;
}
