// SPDX-License-Identifier: MIT
/*
 * ustack as a map key (docs/language.md, docs/stacks.md): bpftrace 0.17's
 * ustack, ustack(N), ustack(MODE), ustack(MODE, N) with MODE bpftrace or
 * perf. Three parts, none of them hot:
 *
 *   checker   the call's arguments become one word, how = depth | perf << 8,
 *             kept in the node's ival; the plan's builtin carries it and the
 *             target's handler (hit.c) walks at most depth frames
 *   table     the tracer makes the stack table (src/stack/table.c) that the
 *             agents of the traced processes attach to and intern into; a
 *             key's word is pid << 32 | stack id (id 0: the table was full)
 *   printing  the tracer reads the table (uprobe_stack_reader_*), gives the
 *             symbolizer the mappings the agents left there (so frames are
 *             named after the process exited, and /proc/PID/maps while it
 *             lives) and prints a key as bpftrace 0.17 does:
 *
 *               bpftrace mode   "\n" then "    func+off\n" a frame
 *               perf mode       "\n" then "\t%lx func+off (module)\n" a frame
 *
 * The frames are those of src/stack's unwinder (CFI, the truth gdb's bt
 * shows), not bpftrace's frame-pointer walk; only the format is bpftrace's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lang/store.h"
#include "stack/stack.h"
#include "uprobes_stack.h"

/* ---- the checker: ustack(...)'s arguments ------------------------------------------ */

/* 0 bpftrace, 1 perf, -1 not a mode; a mode is marked for -d ("stack_mode: perf"). */
static int mode_of(struct lang_node *a)
{
	int m = a->kind != N_BUILTIN	     ? -1 :
		!strcmp(a->str, "perf")	     ? 1 :
		!strcmp(a->str, "bpftrace") ? 0 :
					       -1;
	if (m >= 0)
		a->op = 2;
	return m;
}

static const char *provided(struct lang_src *src, struct lang_node *a)
{
	if (mode_of(a) >= 0)
		return "stack mode";
	if (a->kind == N_STR)
		return "string";
	if (a->kind == N_BUILTIN && !lang_is_builtin(a->str)) {
		lang_error(src, a->pos, "Unknown identifier: '%s'", a->str);
		return "none";
	}
	return "integer";
}

int lang_ustack_call(struct lang_src *src, struct lang_node *n)
{
	int64_t depth = STACK_MAX_DEPTH;
	int mode = 0;
	struct lang_node *d = NULL;

	if (n->nkids > 2) {
		lang_error(src, n->pos, "ustack() takes up to 2 arguments (%d provided)", n->nkids);
		return -EINVAL;
	}
	if (n->nkids == 2 && (mode = mode_of(n->kids[0])) < 0) {
		lang_error(src, n->pos, "ustack() expects a stack mode literal (%s provided)",
			   provided(src, n->kids[0]));
		mode = 0;
	}
	if (n->nkids == 2)
		d = n->kids[1];
	else if (n->nkids == 1 && (mode = mode_of(n->kids[0])) < 0)
		d = n->kids[0], mode = 0;
	if (d && d->kind != N_INT) {
		lang_error(src, n->pos, "ustack() expects a integer literal (%s provided)",
			   provided(src, d));
		return -EINVAL;
	}
	if (d)
		depth = d->ival;
	if (depth < 1 || depth > STACK_MAX_DEPTH) {
		lang_error(src, n->pos, "ustack(%lld): the depth is 1 to %d (bpftrace's cap)",
			   (long long)depth, STACK_MAX_DEPTH);
		return -EINVAL;
	}
	n->ival = depth | (int64_t)mode << 8;
	return 0;
}

/* ---- the tracer: the table, and the keys printed ------------------------------------ */

static bool uses_ustack(const struct lang_program *p)
{
	for (uint32_t i = 0; i < p->plan.nprobes; i++)
		if (p->plan.probes[i].uses & 1u << B_USTACK)
			return true;
	return false;
}

UPROBE_API int lang_program_stack_fd(struct lang_program *p)
{
	if (!p || !p->compiled)
		return -EINVAL;
	if (!uses_ustack(p))
		return -ENOENT;
	if (!p->stacks) {
		/* UPROBE_USTACK_MAX: distinct stacks kept (default 16384; tests fill it) */
		const char *max = getenv("UPROBE_USTACK_MAX");
		struct stack_table_opts o = { .sz = sizeof(o) };
		if (max && *max)
			o.max_stacks = (unsigned)strtoul(max, NULL, 10);
		p->stacks = stack_table_new(&o);
	}
	return p->stacks ? stack_table_fd(p->stacks) : -errno;
}

struct lang_ustacks {
	struct uprobe_stack_reader *reader;
	struct uprobe_symbolizer *sym;
	uint64_t maps_off; /* of the mappings area, taken up to here */
};

struct lang_ustacks *lang_ustacks_open(struct lang_program *p)
{
	struct uprobe_symbolizer_opts o = { .sz = sizeof(o) };
	struct lang_ustacks *u;

	if (!p->stacks)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->reader = uprobe_stack_reader_new(stack_table_fd(p->stacks));
	u->sym = uprobe_symbolizer_new(&o);
	if (!u->reader || !u->sym) {
		lang_ustacks_close(u);
		return NULL;
	}
	stack_reader_maps_since(u->reader, u->sym, &u->maps_off);
	return u;
}

void lang_ustacks_close(struct lang_ustacks *u)
{
	if (!u)
		return;
	uprobe_stack_reader_free(u->reader);
	uprobe_symbolizer_free(u->sym);
	free(u);
}

/* perf mode: "\t%lx func+off (module)" (bpftrace 0.17's, offsets in decimal). */
static void perf_frame(struct lang_ustacks *u, pid_t pid, uint64_t addr, bool ret, FILE *out)
{
	struct uprobe_frame f = { .module = "" };

	fprintf(out, "\t%" PRIx64 " ", addr);
	if (uprobe_symbolize(u->sym, pid, addr, ret, &f, 1) < 1 || !f.func)
		fprintf(out, "0x%" PRIx64, addr);
	else
		fprintf(out, "%s+%" PRIu64, f.func, f.func_off);
	fprintf(out, " (%s)\n", f.module && *f.module ? f.module : "[unknown]");
}

void lang_ustack_key(struct lang_ustacks *u, uint64_t word, bool perf, FILE *out)
{
	uint64_t frames[UPROBE_STACK_MAX];
	pid_t pid = (pid_t)(word >> 32);
	int n = u ? uprobe_stack_reader_get(u->reader, (uint32_t)word, frames,
					    UPROBE_STACK_MAX) : -ENOENT;

	fputc('\n', out);
	if (n <= 0)
		return; /* not interned (the table was full): bpftrace's empty stack */
	if (!perf) {
		uprobe_stack_print(u->sym, pid, frames, (unsigned)n, UPROBE_STACK_BPFTRACE, out);
		return;
	}
	for (int i = 0; i < n; i++)
		perf_frame(u, pid, frames[i], i > 0, out);
}

void lang_ustack_text(struct lang_ustacks *u, uint64_t word, bool perf, const char *spec,
		      FILE *out)
{
	char *buf = NULL, *txt;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return;
	if (u) /* mappings written since: a child forked or exec'd while we trace */
		stack_reader_maps_since(u->reader, u->sym, &u->maps_off);
	lang_ustack_key(u, word, perf, f);
	fclose(f);
	txt = buf;
	if (!perf && buf) { /* bpftrace mode: 8 blanks before a frame here, 4 in a key */
		size_t lines = 0;
		for (size_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
		txt = malloc(n + 4 * lines + 1);
		for (size_t i = 0, o = 0; txt && i <= n; i++) {
			txt[o++] = buf[i];
			if (buf[i] == '\n' && i + 4 < n && !memcmp(buf + i + 1, "    ", 4))
				memcpy(txt + o, "    ", 4), o += 4;
		}
	}
	if (txt && spec)
		fprintf(out, spec, txt);
	else if (txt)
		fputs(txt, out);
	if (txt != buf)
		free(txt);
	free(buf);
}

void lang_ustacks_report(struct lang_ustacks *u, FILE *err)
{
	struct uprobe_stack_table_stats st = { .sz = sizeof(st) };

	if (!u || uprobe_stack_reader_stats(u->reader, &st) || !st.dropped)
		return;
	fprintf(err,
		"uprobe: %" PRIu64 " hits' stacks were not interned: the stack table (%" PRIu64
		" stacks) was full (UPROBE_USTACK_MAX); they are counted under an empty ustack\n",
		st.dropped, st.capacity);
}
