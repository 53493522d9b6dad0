// SPDX-License-Identifier: MIT
/*
 * Semantic checks, with bpftrace's messages where bpftrace has one: attach
 * points, builtins allowed where they are used, functions and their
 * arguments, variables assigned before use, one kind and one key signature
 * per map. Every expression gets its type (integer or string), signedness
 * and, for strings, a length bound; variables and maps get their indexes.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "lang/lang.h"
#include "lang/store.h"

struct checker {
	const struct lang_node *written[LANG_MAX_MAPS]; /* a node of each map written */
	int nwritten;
	struct lang_src *src;
	struct lang_checked *c;
	struct lang_probe_info *probe;
	int nprobe_kinds; /* bit per enum lang_probe_kind in this probe */
	/* where ustack may stand: the map key, printf() or print() argument being checked */
	const struct lang_node *key;
};

static void check_expr(struct checker *ck, struct lang_node *n);
static void check_stmt(struct checker *ck, struct lang_node *n);

/* Every map the program writes (assignments, ++/--), for "Undefined map". */
static void find_written(struct checker *ck, const struct lang_node *n)
{
	const struct lang_node *t = NULL;
	if (n->kind == N_ASSIGN || n->kind == N_INCDEC)
		t = n->kids[0];
	if (t && t->kind == N_MAP && ck->nwritten < LANG_MAX_MAPS)
		ck->written[ck->nwritten++] = t;
	for (int i = 0; i < n->nkids; i++)
		find_written(ck, n->kids[i]);
}

static bool is_written(const struct checker *ck, const char *name)
{
	for (int i = 0; i < ck->nwritten; i++)
		if (!strcmp(ck->written[i]->str, name))
			return true;
	return false;
}

static const char *const builtin_names[] = {
	[B_ARG0] = "arg0", [B_ARG1] = "arg1",	  [B_ARG2] = "arg2",	   [B_ARG3] = "arg3",
	[B_ARG4] = "arg4", [B_ARG5] = "arg5",	  [B_RETVAL] = "retval",   [B_PID] = "pid",
	[B_TID] = "tid",   [B_NSECS] = "nsecs",	  [B_ELAPSED] = "elapsed", [B_CPU] = "cpu",
	[B_COMM] = "comm", [B_FUNC] = "func",	  [B_PROBE] = "probe",	   [B_UID] = "uid",
	[B_GID] = "gid",   [B_USTACK] = "ustack", [B_ARG6] = "arg6",	   [B_ARG7] = "arg7",
};

static const char *const func_names[] = {
	[F_COUNT] = "count",   [F_SUM] = "sum",	    [F_AVG] = "avg",	   [F_MIN] = "min",
	[F_MAX] = "max",       [F_STATS] = "stats", [F_HIST] = "hist",	   [F_LHIST] = "lhist",
	[F_DELETE] = "delete", [F_EXIT] = "exit",   [F_STR] = "str",	   [F_PRINT] = "print",
	[F_CLEAR] = "clear",   [F_ZERO] = "zero",   [F_PRINTF] = "printf",
};

static int find(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], s))
			return (int)i;
	return -1;
}

static bool only_probes(const struct checker *ck, int allowed)
{
	return ck->nprobe_kinds && !(ck->nprobe_kinds & ~allowed);
}

static void check_builtin(struct checker *ck, struct lang_node *n)
{
	int id = find(builtin_names, sizeof(builtin_names) / sizeof(builtin_names[0]), n->str);
	n->id = id;
	n->type = T_INT;
	if (id < 0) {
		if (lang_is_builtin(n->str))
			lang_error(ck->src, n->pos,
				   "The %s builtin is not supported for user-space probes", n->str);
		else
			lang_error(ck->src, n->pos, "Unknown identifier: '%s'", n->str);
		return;
	}
	if (lang_arg_index(id) >= ARCH_ARG_REGS)
		lang_error(ck->src, n->pos,
			   "The %s builtin is not supported for user-space probes on this "
			   "architecture: its calls pass %d integer arguments in registers "
			   "(arg0..arg%d)",
			   n->str, ARCH_ARG_REGS, ARCH_ARG_REGS - 1);
	else if (id <= B_ARG5 && !only_probes(ck, 1 << P_UPROBE | 1 << P_USDT))
		lang_error(ck->src, n->pos,
			   "The %s builtin can only be used with 'uprobes' and 'usdt' probes",
			   n->str);
	else if (lang_arg_index(id) > 5 && !only_probes(ck, 1 << P_UPROBE))
		lang_error(ck->src, n->pos, "The %s builtin can only be used with 'uprobes' probes",
			   n->str);
	else if (id == B_RETVAL && !only_probes(ck, 1 << P_URETPROBE))
		lang_error(ck->src, n->pos,
			   "The retval builtin can only be used with 'uretprobe' probes");
	else if (id == B_FUNC && !only_probes(ck, 1 << P_UPROBE | 1 << P_URETPROBE))
		lang_error(
			ck->src, n->pos,
			"The func builtin can only be used with 'uprobe' and 'uretprobe' probes");
	else if (id == B_USTACK && !only_probes(ck, 1 << P_UPROBE | 1 << P_URETPROBE | 1 << P_USDT))
		lang_error(ck->src, n->pos,
			   "The ustack builtin can only be used with 'uprobe', 'uretprobe' and "
			   "'usdt' probes here (BEGIN, END and interval probes run in the tracer)");
	else if (id == B_USTACK && ck->key != n)
		lang_error(ck->src, n->pos,
			   "ustack is supported as a map key (@[ustack] = count()), in print() "
			   "and printf(\"%%s\") only; values of ustack are not yet");
	if (id == B_USTACK) {
		n->type = T_USTACK;
		if (!n->ival) /* the plain builtin: 127 frames, bpftrace mode */
			n->ival = 127;
		return;
	}
	if (id == B_PROBE) { /* its id, named by the tracer in full (bpftrace's type probe) */
		n->type = T_PROBE;
		return;
	}
	if (id == B_COMM || id == B_FUNC) {
		n->type = T_STR;
		n->size = id == B_COMM ? 16 : LANG_STRLEN;
	}
	n->is_signed = id == B_RETVAL; /* argN, pid, nsecs...: unsigned, as bpftrace's */
}

static struct lang_var_info *var_of(struct checker *ck, struct lang_node *n, bool define)
{
	struct lang_probe_info *p = ck->probe;
	for (int i = 0; i < p->nvars; i++)
		if (!strcmp(p->vars[i].name, n->str))
			return n->id = i, &p->vars[i];
	if (!define) {
		lang_error(ck->src, n->pos, "Undefined or undeclared variable: %s", n->str);
		return NULL;
	}
	if (p->nvars == LANG_MAX_VARS || strlen(n->str) >= sizeof(p->vars[0].name)) {
		lang_error(ck->src, n->pos,
			   "too many variables or a too long name (%d at most): %s", LANG_MAX_VARS,
			   n->str);
		return NULL;
	}
	struct lang_var_info *v = &p->vars[p->nvars];
	snprintf(v->name, sizeof(v->name), "%s", n->str);
	n->id = p->nvars++;
	return v;
}

static struct lang_map_info *map_of(struct checker *ck, struct lang_node *n)
{
	struct lang_checked *c = ck->c;
	for (int i = 0; i < c->nmaps; i++)
		if (!strcmp(c->maps[i].name, n->str))
			return n->id = i, &c->maps[i];
	if (c->nmaps == LANG_MAX_MAPS || strlen(n->str) >= sizeof(c->maps[0].name)) {
		lang_error(ck->src, n->pos, "too many maps or a too long name (%d at most): %s",
			   LANG_MAX_MAPS, n->str);
		return NULL;
	}
	struct lang_map_info *m = &c->maps[c->nmaps];
	snprintf(m->name, sizeof(m->name), "%s", n->str);
	m->nkeys = -1;
	m->pos = n->pos;
	n->id = c->nmaps++;
	return m;
}

static void key_list(const struct lang_map_info *m, const struct lang_node *n, bool declared,
		     char *buf, size_t len)
{
	size_t o = 0;
	int nk = declared ? m->nkeys : n->nkids;
	o += (size_t)snprintf(buf + o, len - o, "[");
	for (int i = 0; i < nk && o < len; i++) {
		enum lang_type t = declared ? m->key[i] : n->kids[i]->type;
		bool perf = declared ? m->key_stack[i] == 2 : n->kids[i]->ival >> 8;
		const char *name = t == T_USTACK ? (perf ? "ustack(perf)" : "ustack") :
				   t == T_PROBE	 ? "probe" :
						   "int64";
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
				      t == T_STR ? "string" : name);
	}
	if (o < len)
		snprintf(buf + o, len - o, "]");
}

/* A map access: its keys checked against the map's signature. */
static uint8_t stack_mode(const struct lang_node *k)
{
	return k->type == T_USTACK ? (uint8_t)(1 + (k->ival >> 8)) : 0;
}

static struct lang_map_info *check_map(struct checker *ck, struct lang_node *n)
{
	for (int i = 0; i < n->nkids; i++) {
		ck->key = n->kids[i];
		check_expr(ck, n->kids[i]);
		ck->key = NULL;
	}
	struct lang_map_info *m = map_of(ck, n);
	if (!m)
		return NULL;
	if (n->nkids > LANG_MAX_KEYS) {
		lang_error(ck->src, n->pos, "too many keys for %s (%d at most)", n->str,
			   LANG_MAX_KEYS);
		return NULL;
	}
	bool same = m->nkeys < 0 || m->nkeys == n->nkids;
	for (int i = 0; same && m->nkeys >= 0 && i < n->nkids; i++)
		same = m->key[i] == n->kids[i]->type && m->key_stack[i] == stack_mode(n->kids[i]);
	if (!same) {
		char want[128], got[128];
		key_list(m, n, true, want, sizeof(want));
		key_list(m, n, false, got, sizeof(got));
		lang_error(ck->src, n->pos,
			   "Argument mismatch for %s: trying to access with arguments: %s when map "
			   "expects arguments: %s",
			   n->str, got, want);
		return NULL;
	}
	if (m->nkeys < 0) {
		m->nkeys = n->nkids;
		for (int i = 0; i < n->nkids; i++) {
			m->key[i] = n->kids[i]->type;
			m->key_stack[i] = stack_mode(n->kids[i]);
		}
	}
	for (int i = 0; i < n->nkids; i++) /* any signed key prints signed */
		m->key_signed[i] |= n->kids[i]->is_signed;
	return m;
}

static const char *kind_name(enum lang_map_kind k)
{
	static const char *const names[] = {"none", "int64", "string", "count", "sum",	"avg",
					    "min",  "max",   "stats",  "hist",	"lhist"};
	return names[k];
}

static void set_map_kind(struct checker *ck, struct lang_node *map, enum lang_map_kind k,
			 bool is_signed)
{
	struct lang_map_info *m =
		map->id >= 0 && map->id < ck->c->nmaps ? &ck->c->maps[map->id] : NULL;
	if (!m)
		return;
	if (m->kind == MK_NONE) {
		m->kind = k;
		m->value_signed = is_signed;
	} else if (m->kind != k) {
		lang_error(ck->src, map->pos,
			   "Type mismatch for %s: trying to assign value of type '%s' when map "
			   "already contains a value of type '%s",
			   map->str, kind_name(k), kind_name(m->kind)); /* sic: bpftrace 0.17 */
	}
}

static bool is_map(const struct lang_node *n)
{
	return n->kind == N_MAP;
}

static int nargs_error(struct checker *ck, struct lang_node *n, int min, int max)
{
	if (n->nkids >= min && n->nkids <= max)
		return 0;
	if (max == 0)
		lang_error(ck->src, n->pos, "%s() requires no arguments (%d provided)", n->str,
			   n->nkids);
	else if (min == max && min == 1)
		lang_error(ck->src, n->pos, "%s() requires one argument (%d provided)", n->str,
			   n->nkids);
	else if (min == max)
		lang_error(ck->src, n->pos, "%s() requires %d arguments (%d provided)", n->str, min,
			   n->nkids);
	else if (n->nkids < min)
		lang_error(ck->src, n->pos, "%s() requires at least one argument (%d provided)",
			   n->str, n->nkids);
	else
		lang_error(ck->src, n->pos, "%s() takes up to %d arguments (%d provided)", n->str,
			   max, n->nkids);
	return -1;
}

/* A printf argument's type as bpftrace 0.17's format check names it. */
static const char *printf_type_name(const struct checker *ck, const struct lang_node *a)
{
	if (a->type == T_AGG)
		return a->kind == N_MAP ? kind_name(ck->c->maps[a->id].kind) : "none";
	if (a->type == T_STR || a->type == T_USTACK || a->type == T_PROBE)
		return "string"; /* bpftrace's: a string */
	return a->type == T_INT ? "integer" : "none";
}

static void check_printf(struct checker *ck, struct lang_node *n)
{
	if (!n->nkids || n->kids[0]->kind != N_STR) {
		if (n->nkids)
			check_expr(ck, n->kids[0]);
		lang_error(ck->src, n->pos, "printf() expects a string literal (%s provided)",
			   !n->nkids		     ? "none" :
			   n->kids[0]->type == T_STR ? "string" :
						       "integer");
		return;
	}
	for (int i = 1; i < n->nkids; i++) {
		ck->key = n->kids[i]; /* ustack, printed as its text (%s) */
		check_expr(ck, n->kids[i]);
		ck->key = NULL;
	}
	enum lang_type want[LANG_MAX_ARGS];
	int nconv = lang_printf_convs(n->kids[0]->str, (size_t)n->kids[0]->ival, want, LANG_MAX_ARGS);
	int given = n->nkids - 1;
	if (given < nconv)
		lang_error(
			ck->src, n->pos,
			"printf: Not enough arguments for format string (%d supplied, %d expected)",
			given, nconv);
	else if (given > nconv)
		lang_error(
			ck->src, n->pos,
			"printf: Too many arguments for format string (%d supplied, %d expected)",
			given, nconv);
	else if (nconv > LANG_MAX_ARGS)
		lang_error(ck->src, n->pos, "printf: %d arguments at most", LANG_MAX_ARGS);
	for (int i = 0; i < nconv && i < given && i < LANG_MAX_ARGS; i++) {
		struct lang_node *a = n->kids[i + 1];
		bool str = a->type == T_STR || a->type == T_USTACK || a->type == T_PROBE;
		if (a->type == T_AGG || (want[i] == T_STR) != str) {
			char conv[16];
			lang_printf_conv_text(n->kids[0]->str, (size_t)n->kids[0]->ival, i, conv);
			lang_error(ck->src, n->pos,
				   "printf: %s specifier expects a value of type %s (%s supplied)", conv,
				   want[i] == T_STR ? "string" : "integer", printf_type_name(ck, a));
			return; /* bpftrace 0.17 says the first one */
		}
	}
}

/* A map that stands alone as a function's argument: print(@m), clear(@m)... */
static void check_map_arg(struct checker *ck, struct lang_node *n, struct lang_node *a)
{
	if (!is_map(a)) {
		lang_error(ck->src, n->pos, "%s() expects a map to be provided", n->str);
		return;
	}
	if (!is_written(ck, a->str)) {
		lang_error(ck->src, n->pos, "Undefined map: %s", a->str);
		return;
	}
	if (n->id == F_DELETE) {
		check_map(ck, a);
		return;
	}
	if (a->nkids) {
		lang_error(ck->src, a->pos, "%s() expects a map without keys: %s[...]", n->str,
			   a->str);
		return;
	}
	for (int i = 0; i < ck->c->nmaps; i++)
		if (!strcmp(ck->c->maps[i].name, a->str))
			return (void)(a->id = i);
	map_of(ck, a);
}

static void check_call(struct checker *ck, struct lang_node *n, struct lang_node *assign_to)
{
	if (!strcmp(n->str, "ustack")) { /* ustack(N), ustack(perf[, N]): the builtin */
		if (lang_ustack_call(ck->src, n))
			return;
		n->kind = N_BUILTIN;
		n->op = 1; /* printed as bpftrace's "call: ustack" by -d */
		return check_builtin(ck, n);
	}
	n->id = find(func_names, sizeof(func_names) / sizeof(func_names[0]), n->str);
	n->type = T_NONE;
	if (n->id < 0) {
		struct lang_pos name = {n->pos.line, n->pos.col, n->pos.col + (int)strlen(n->str)};
		lang_error(ck->src, name,
			   lang_is_call(n->str) ? "%s() is not supported for user-space probes" :
						  "Unknown function: %s",
			   n->str);
		return;
	}
	int id = n->id;
	if (id == F_PRINTF)
		return check_printf(ck, n);
	static const int8_t lo[] = {
		[F_COUNT] = 0, [F_SUM] = 1,   [F_AVG] = 1,   [F_MIN] = 1,    [F_MAX] = 1,
		[F_STATS] = 1, [F_HIST] = 1,  [F_LHIST] = 4, [F_DELETE] = 1, [F_EXIT] = 0,
		[F_STR] = 1,   [F_PRINT] = 1, [F_CLEAR] = 1, [F_ZERO] = 1};
	static const int8_t hi[] = {
		[F_COUNT] = 0, [F_SUM] = 1,   [F_AVG] = 1,   [F_MIN] = 1,    [F_MAX] = 1,
		[F_STATS] = 1, [F_HIST] = 1,  [F_LHIST] = 4, [F_DELETE] = 1, [F_EXIT] = 0,
		[F_STR] = 2,   [F_PRINT] = 3, [F_CLEAR] = 1, [F_ZERO] = 1};
	if (nargs_error(ck, n, lo[id], hi[id]))
		return;
	if (id == F_DELETE || id == F_CLEAR || id == F_ZERO || id == F_PRINT) {
		if (id == F_PRINT && !is_map(n->kids[0])) {
			ck->key = n->kids[0]; /* print(ustack): its text */
			check_expr(ck, n->kids[0]);
			ck->key = NULL;
			if (n->nkids > 1)
				lang_error(ck->src, n->pos,
					   "Non-map print() only takes 1 argument, %d found",
					   n->nkids);
		} else {
			check_map_arg(ck, n, n->kids[0]);
		}
		for (int i = 1; i < n->nkids; i++) {
			check_expr(ck, n->kids[i]);
			if (n->kids[i]->kind != N_INT)
				lang_error(ck->src, n->kids[i]->pos,
					   "print() expects integer literals for top and div");
		}
		return;
	}
	for (int i = 0; i < n->nkids; i++)
		check_expr(ck, n->kids[i]);
	if (id == F_STR) {
		n->type = T_STR;
		n->size = LANG_STRLEN;
		if (n->nkids == 2 && n->kids[1]->kind == N_INT && n->kids[1]->ival > 0 &&
		    n->kids[1]->ival < LANG_STRLEN)
			n->size = (int)n->kids[1]->ival + 1;
		if (n->nkids == 2 && n->kids[1]->kind == N_UNOP && n->kids[1]->kids[0]->kind == N_INT &&
		    n->kids[1]->op == '-' && n->kids[1]->kids[0]->ival > 0)
			lang_error(ck->src, n->pos, "strcannot use negative length (%" PRId64 ")",
				   -n->kids[1]->kids[0]->ival);
		if (n->kids[0]->type == T_STR || n->kids[0]->type == T_PROBE)
			lang_error(ck->src, n->pos,
				   "str() expects an integer or a pointer type as first argument "
				   "(%s provided)", n->kids[0]->type == T_STR ? "string" : "probe");
		return;
	}
	if (id >= F_COUNT && id <= F_LHIST) {
		if (!assign_to) {
			lang_error(ck->src, n->pos, "%s() should be directly assigned to a map",
				   n->str);
			return;
		}
		if (n->nkids && n->kids[0]->type != T_INT)
			lang_error(ck->src, n->pos,
				   "%s() only supports integer arguments (%s provided)", n->str,
				   n->kids[0]->type == T_STR	 ? "string" :
				   n->kids[0]->type == T_PROBE ? "probe" :
								 "none");
		if (id == F_LHIST) {
			for (int i = 1; i < 4; i++)
				if (n->kids[i]->kind != N_INT &&
				    !(n->kids[i]->kind == N_UNOP &&
				      n->kids[i]->kids[0]->kind == N_INT))
					return (void)lang_error(ck->src, n->pos,
								"lhist: invalid %s value (must be "
								"non-negative literal)",
								i == 1 ? "min" :
								i == 2 ? "max" :
									 "step");
			int64_t mn = lang_literal_value(n->kids[1]), mx = lang_literal_value(n->kids[2]);
			int64_t st = lang_literal_value(n->kids[3]);
			if (lang_lhist_bounds_bad(ck->src, n->pos, mn, mx, st))
				return;
			struct lang_map_info *m = &ck->c->maps[assign_to->id];
			if (m->kind == MK_LHIST &&
			    (m->lmin != mn || m->lmax != mx || m->lstep != st))
				return (void)lang_error(
					ck->src, n->pos,
					"Different lhist bounds in a single map unsupported");
			m->lmin = mn, m->lmax = mx, m->lstep = st;
		}
		static const enum lang_map_kind kinds[] = {MK_COUNT, MK_SUM,   MK_AVG,	MK_MIN,
							   MK_MAX,   MK_STATS, MK_HIST, MK_LHIST};
		set_map_kind(ck, assign_to, kinds[id], n->nkids && n->kids[0]->is_signed);
		n->type = T_AGG;
	}
}

static void check_binop(struct checker *ck, struct lang_node *n)
{
	struct lang_node *l = n->kids[0], *r = n->kids[1];
	check_expr(ck, l);
	check_expr(ck, r);
	n->type = T_INT;
	n->is_signed = l->is_signed && r->is_signed;
	if (l->type == T_INT && r->type == T_INT)
		lang_sign_warnings(ck->src, n, l, r);
	bool str_ok = (n->op == OP_EQ || n->op == OP_NE) &&
		      ((l->type == T_STR && r->type == T_STR) ||
		       (l->type == T_PROBE && r->type == T_PROBE)); /* probe ids */
	if (str_ok || (l->type == T_INT && r->type == T_INT))
		return;
	if (l->type == T_NONE || r->type == T_NONE)
		return;
	char a[32], b[32];
	lang_error(ck->src, n->pos, "Type mismatch for '%s': comparing '%s' with '%s'",
		   lang_op_name(n->op), lang_type_name(l, a, sizeof(a)), lang_type_name(r, b, sizeof(b)));
}

static void check_expr(struct checker *ck, struct lang_node *n)
{
	switch (n->kind) {
	case N_INT:
		n->type = T_INT;
		n->is_signed = true;
		return;
	case N_STR:
		n->type = T_STR;
		n->size = (int)n->ival + 1;
		if (n->ival >= LANG_STRLEN)
			lang_error(ck->src, n->pos, "String is too long (over %d bytes): %.20s...",
				   LANG_STRLEN - 1, n->str);
		return;
	case N_BUILTIN:
		return check_builtin(ck, n);
	case N_VAR: {
		struct lang_var_info *v = var_of(ck, n, false);
		if (v) {
			n->type = v->type;
			n->is_signed = v->is_signed;
			n->size = LANG_STRLEN;
		}
		return;
	}
	case N_MAP: {
		if (!is_written(ck, n->str)) {
			lang_error(ck->src, n->pos, "Undefined map: %s", n->str);
			return;
		}
		struct lang_map_info *m = check_map(ck, n);
		if (!m)
			return;
		n->type = m->kind == MK_STR ? T_STR : m->kind >= MK_COUNT ? T_AGG :
			  m->value_probe ? T_PROBE : T_INT;
		n->is_signed = m->kind == MK_INT ? m->value_signed : true;
		n->size = LANG_STRLEN;
		if (m->kind == MK_NONE) { /* read before any write: bpftrace's 0, of no sign */
			n->type = T_INT;
			n->is_signed = false; /* so "@d -= 1" on a new map is unsigned there */
		}
		return;
	}
	case N_CALL:
		return check_call(ck, n, NULL);
	case N_BINOP:
		return check_binop(ck, n);
	case N_UNOP:
		check_expr(ck, n->kids[0]);
		n->type = T_INT;
		n->is_signed = n->op == OP_NOT || n->kids[0]->is_signed || n->op == OP_SUB;
		if (n->kids[0]->type != T_INT && n->kids[0]->type != T_NONE) {
			char a[32];
			lang_error(ck->src, n->pos,
				   "The %s operator can not be used on expressions of type '%s'",
				   lang_op_name(n->op), lang_type_name(n->kids[0], a, sizeof(a)));
		}
		return;
	case N_TERNARY:
		check_expr(ck, n->kids[0]);
		check_expr(ck, n->kids[1]);
		check_expr(ck, n->kids[2]);
		n->type = n->kids[1]->type;
		n->is_signed = n->kids[1]->is_signed && n->kids[2]->is_signed;
		n->size = LANG_STRLEN;
		if (n->kids[1]->type != n->kids[2]->type)
			lang_error(ck->src, n->pos,
				   "Ternary operator must return the same type: have '%s' and '%s'",
				   n->kids[1]->type == T_STR ? "string" : "integer",
				   n->kids[2]->type == T_STR ? "string" : "integer");
		return;
	case N_CAST: {
		check_expr(ck, n->kids[0]);
		const char *t = n->str;
		n->type = T_INT;
		n->is_signed = strncmp(t, "uint", 4) && strcmp(t, "unsigned");
		n->size = strstr(t, "8") || !strcmp(t, "char")				 ? 1 :
			  strstr(t, "16") || !strcmp(t, "short")			 ? 2 :
			  strstr(t, "32") || !strcmp(t, "int") || !strcmp(t, "unsigned") ? 4 :
											   8;
		if (n->kids[0]->type != T_INT)
			lang_error(ck->src, n->pos, "Cannot cast from \"%s\" to \"%s\"",
				   n->kids[0]->type == T_STR ? "string" : "none", t);
		return;
	}
	case N_INCDEC:
		return check_stmt(ck, n);
	case N_FIELD:
	case N_DEREF:
		if (n->kind == N_FIELD && n->kids[0]->kind == N_DEREF &&
		    n->kids[0]->kids[0]->kind == N_BUILTIN &&
		    !strcmp(n->kids[0]->kids[0]->str, "args"))
			lang_error(ck->src, n->pos,
				   "args->%s: DWARF arguments are not yet supported by uprobe -e "
				   "(use argN)",
				   n->str);
		else
			lang_error(ck->src, n->pos,
				   "%s is not supported for user-space probes (no BTF or C types "
				   "here)",
				   n->kind == N_DEREF ? "dereference" : "field access");
		n->type = T_INT;
		return;
	default:
		lang_error(ck->src, n->pos, "unexpected statement in an expression");
	}
}

static void check_assign(struct checker *ck, struct lang_node *n)
{
	struct lang_node *t = n->kids[0], *v = n->kids[1];
	if (t->kind == N_MAP) {
		check_map(ck, t);
		if (v->kind == N_CALL) {
			check_call(ck, v, t);
			if (v->type == T_AGG || v->type == T_NONE)
				return;
		} else {
			check_expr(ck, v);
		}
		if (v->type == T_AGG) {
			lang_error(ck->src, v->pos,
				   "an aggregation's value cannot be assigned to a map");
			return;
		}
		struct lang_map_info *m =
			t->id >= 0 && t->id < ck->c->nmaps ? &ck->c->maps[t->id] : NULL;
		bool fresh = m && m->kind == MK_NONE;
		set_map_kind(ck, t, v->type == T_STR ? MK_STR : MK_INT, v->is_signed);
		if (m && m->kind == MK_INT && fresh)
			m->value_probe = v->type == T_PROBE;
		else if (m && m->kind == MK_INT && m->value_probe != (v->type == T_PROBE))
			lang_error(ck->src, t->pos,
				   "Type mismatch for %s: trying to assign value of type '%s' when "
				   "map already contains a value of type '%s", /* sic: bpftrace 0.17 */
				   t->str, v->type == T_PROBE ? "probe" : "int64",
				   m->value_probe ? "probe" : "int64");
		t->type = v->type;
		return;
	}
	check_expr(ck, v);
	if (v->type == T_AGG || v->type == T_NONE) {
		if (v->type == T_AGG)
			lang_error(ck->src, v->pos,
				   "an aggregation's value cannot be assigned to a variable");
		return;
	}
	bool known = false;
	for (int i = 0; i < ck->probe->nvars; i++)
		known |= !strcmp(ck->probe->vars[i].name, t->str);
	struct lang_var_info *var = var_of(ck, t, true);
	if (!var)
		return;
	if (known && var->type != v->type) {
		char a[32];
		lang_error(
			ck->src, n->pos,
			"Type mismatch for %s: trying to assign value of type '%s' when variable "
			"already contains a value of type '%s'",
			t->str, lang_type_name(v, a, sizeof(a)),
			var->type == T_STR ? "string" : var->type == T_PROBE ? "probe" : "int64");
		return;
	}
	var->type = v->type;
	var->is_signed = v->is_signed;
	t->type = v->type;
	t->is_signed = v->is_signed;
}

static void check_stmt(struct checker *ck, struct lang_node *n)
{
	switch (n->kind) {
	case N_ASSIGN:
		return check_assign(ck, n);
	case N_IF:
		check_expr(ck, n->kids[0]);
		if (n->kids[0]->type == T_STR)
			lang_error(ck->src, n->kids[0]->pos, "Invalid condition in if(): string");
		for (int i = 1; i < n->nkids; i++)
			for (int j = 0; j < n->kids[i]->nkids; j++)
				check_stmt(ck, n->kids[i]->kids[j]);
		return;
	case N_INCDEC: {
		struct lang_node *t = n->kids[0];
		n->type = T_INT;
		n->is_signed = true;
		if (t->kind == N_MAP) {
			check_map(ck, t);
			set_map_kind(ck, t, MK_INT, true);
		} else if (t->kind == N_VAR) {
			struct lang_var_info *v = var_of(ck, t, false);
			if (v && v->type != T_INT)
				lang_error(ck->src, n->pos,
					   "The %c%c operator must be applied to a map or variable "
					   "of integer type",
					   n->op, n->op);
		} else {
			lang_error(ck->src, n->pos,
				   "The %c%c operator must be applied to a map or variable", n->op,
				   n->op);
		}
		return;
	}
	case N_CALL:
		return check_call(ck, n, NULL);
	default:
		check_expr(ck, n);
	}
}

static int check_probe(struct checker *ck, struct lang_node *p, struct lang_probe_info *pi)
{
	pi->node = p;
	ck->probe = pi;
	ck->nprobe_kinds = 0;
	struct lang_node *body = NULL, *pred = NULL;
	for (int i = 0; i < p->nkids; i++) {
		struct lang_node *k = p->kids[i];
		if (k->kind == N_STR) {
			if (pi->nat == LANG_MAX_ATTACH) {
				lang_error(ck->src, k->pos, "too many attach points (%d at most)",
					   LANG_MAX_ATTACH);
				return -1;
			}
			if (lang_attach_parse(ck->src, k->str, k->pos, &pi->at[pi->nat++]))
				return -1;
			ck->nprobe_kinds |= 1 << pi->at[pi->nat - 1].kind;
		} else if (k->kind == N_PRED) {
			pred = k;
		} else {
			body = k;
		}
	}
	if (pred && pred->nkids)
		check_expr(ck, pred->kids[0]);
	for (int i = 0; body && i < body->nkids; i++)
		check_stmt(ck, body->kids[i]);
	return 0;
}

/*
 * Whether every use of map NAME under n (whose parent is up) leaves it to the
 * count stub: `@name = count()` in a probe of the traced process (target: its
 * hits count there, the stub's word and the slot summed at read), print(@name).
 * Anything else (clear(), zero(), delete(), ++, another assignment, a read)
 * might reset it or need its slot alone.
 */
static bool stub_uses_ok(const struct lang_node *n, const struct lang_node *up, const char *name,
			 bool target)
{
	if (!n)
		return true;
	if (n->kind == N_MAP && n->str && !strcmp(n->str, name)) {
		if (n->nkids || !up)
			return false;
		if (up->kind == N_ASSIGN && up->nkids == 2 && up->kids[0] == n && target &&
		    up->kids[1]->kind == N_CALL && up->kids[1]->id == F_COUNT)
			return true;
		return up->kind == N_CALL && up->id == F_PRINT && up->kids[0] == n;
	}
	for (int i = 0; i < n->nkids; i++)
		if (!stub_uses_ok(n->kids[i], n, name, target))
			return false;
	return true;
}

static void find_count_stubs(struct lang_node *prog, struct lang_checked *c)
{
	for (int m = 0; m < c->nmaps; m++) {
		struct lang_map_info *mi = &c->maps[m];
		bool ok = mi->kind == MK_COUNT && mi->nkeys <= 0;
		for (int i = 0; ok && i < prog->nkids && i < c->nprobes; i++) {
			bool target = c->probes[i].nat > 0;
			for (int a = 0; a < c->probes[i].nat; a++) {
				enum lang_probe_kind k = c->probes[i].at[a].kind;
				target &= k == P_UPROBE || k == P_URETPROBE || k == P_USDT;
			}
			ok = stub_uses_ok(prog->kids[i], NULL, mi->name, target);
		}
		mi->count_stub = ok;
	}
}

int lang_check(struct lang_src *src, struct lang_node *prog, struct lang_checked *c)
{
	struct checker ck = {.src = src, .c = c};
	int before = src->nerrors;
	c->probes = calloc((size_t)prog->nkids, sizeof(*c->probes));
	if (!c->probes)
		abort();
	find_written(&ck, prog);
	int begin = 0, end = 0;
	for (int i = 0; i < prog->nkids; i++) {
		c->nprobes++;
		check_probe(&ck, prog->kids[i], &c->probes[i]);
		for (int a = 0; a < c->probes[i].nat; a++) {
			const struct lang_attach *at = &c->probes[i].at[a];
			int *seen = at->kind == P_BEGIN ? &begin : at->kind == P_END ? &end : NULL;
			if (seen && (*seen)++)
				lang_error(src, at->pos, "More than one %s probe defined",
					   at->text);
		}
	}
	/* a map read but never written has no kind: bpftrace's int64 */
	for (int i = 0; i < c->nmaps; i++)
		if (c->maps[i].kind == MK_NONE)
			c->maps[i].kind = MK_INT;
	if (src->nerrors == before)
		find_count_stubs(prog, c);
	return src->nerrors - before;
}

void lang_checked_free(struct lang_checked *c)
{
	for (int i = 0; i < c->nprobes; i++)
		for (int j = 0; j < c->probes[i].nat; j++)
			lang_attach_free(&c->probes[i].at[j]);
	free(c->probes);
	memset(c, 0, sizeof(*c));
}
