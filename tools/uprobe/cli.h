/* SPDX-License-Identifier: MIT */
/* The uprobe command: one file per subcommand, sharing these helpers. */
#ifndef UPROBE_CLI_H
#define UPROBE_CLI_H

/* Exit codes (also in docs/uprobe.1). */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,  /* a probe could not be attached, the command could not run */
	CLI_EXIT_USAGE = 2, /* bad options or probe syntax */
};

int cmd_trace(int argc, char **argv);
int cmd_list(int argc, char **argv);

/* "uprobe: " + message on stderr; returns code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
