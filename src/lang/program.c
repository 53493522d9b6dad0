// SPDX-License-Identifier: MIT
/*
 * The public face of the language layer (include/uprobes_lang.h): a program
 * parsed, checked and compiled once, its diagnostics, its dumps.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"
#include "lang/program.h"

struct lang_program *lang_program_new(const char *name, const char *text)
{
	struct lang_program *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->name = strdup(name ? name : "stdin");
	p->text = strdup(text ? text : "");
	if (!p->name || !p->text) {
		lang_program_free(p);
		errno = ENOMEM;
		return NULL;
	}
	p->src.name = p->name;
	p->src.text = p->text;
	p->ast = lang_parse(&p->src);
	if (!p->ast)
		return p;
	if (lang_check(&p->src, p->ast, &p->checked))
		return p;
	plan_compile(p);
	return p;
}

void lang_program_free(struct lang_program *p)
{
	if (!p)
		return;
	node_free(p->ast);
	lang_checked_free(&p->checked);
	plan_free(p);
	free(p->src.diag);
	free(p->name);
	free(p->text);
	free(p);
}

int lang_program_errors(const struct lang_program *p, const char **diag)
{
	if (diag)
		*diag = p->src.diag ? p->src.diag : "";
	return p->src.nerrors;
}

void lang_program_dump(const struct lang_program *p, FILE *out)
{
	if (p->ast)
		lang_ast_dump(p->ast, out);
}

void lang_program_dump_plan(const struct lang_program *p, FILE *out)
{
	if (p->compiled)
		plan_dump(&p->plan, out);
}

int lang_program_target_probes(const struct lang_program *p)
{
	int n = 0;
	for (int i = 0; i < p->checked.nprobes; i++)
		for (int a = 0; a < p->checked.probes[i].nat; a++)
			n += p->checked.probes[i].at[a].kind != P_BEGIN &&
			     p->checked.probes[i].at[a].kind != P_END &&
			     p->checked.probes[i].at[a].kind != P_INTERVAL;
	return n;
}
