// SPDX-License-Identifier: MIT
/*
 * Golden tests of the language's front end: each tests/lang/cases/NAME.bt is
 * parsed and checked (lang_program_new, file name "stdin" as for -e); the
 * errors, or the warnings and the AST dump, must equal NAME.out byte for byte. UPDATE=1 writes the
 * .out files instead (read them before committing). The error cases' .out
 * were compared with bpftrace 0.17's messages where bpftrace has the same.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "uprobes_lang.h"

TL_DEFINE("lang_golden");

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	fclose(m);
	return buf;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_case(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *text = slurp(path);
	CHECK(text != NULL);
	struct lang_program *p = lang_program_new("stdin", text ? text : "");
	char *got = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&got, &len);
	const char *diag;
	int errors = lang_program_errors(p, &diag);
	fputs(diag, m); /* errors, or warnings before the dump */
	if (!errors)
		lang_program_dump(p, m);
	fclose(m);
	lang_program_free(p);
	size_t n = strlen(path);
	strcpy(path + n - 3, ".out");
	if (getenv("UPDATE")) {
		FILE *o = fopen(path, "w");
		fputs(got, o);
		fclose(o);
	}
	char *want = slurp(path);
	if (!want || strcmp(want, got))
		TL_FAIL("%s: got\n%s\nwant\n%s", name, got, want ? want : "(no .out file)");
	free(want);
	free(got);
	free(text);
}

int main(void)
{
	const char *dir = LANG_CASES;
	DIR *d = opendir(dir);
	if (!d) {
		printf("FAIL: lang_golden: %s: cannot open\n", dir);
		return 1;
	}
	char *names[1024];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 1024) {
		size_t l = strlen(e->d_name);
		if (l > 3 && !strcmp(e->d_name + l - 3, ".bt"))
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
	for (int i = 0; i < n; i++) {
		tl_case_failed = 0;
		run_case(dir, names[i]);
		char cname[256];
		snprintf(cname, sizeof(cname), "%.*s", (int)(strlen(names[i]) - 3), names[i]);
		if (tl_case_failed)
			printf("FAIL: lang_golden/%s\n", cname), tl_total_failed++;
		else
			printf("PASS: lang_golden/%s\n", cname);
		free(names[i]);
	}
	if (!n)
		printf("FAIL: lang_golden: no cases in %s\n", dir), tl_total_failed++;
	return tl_total_failed ? 1 : 0;
}
