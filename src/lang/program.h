/* SPDX-License-Identifier: MIT */
/*
 * Private to src/lang: the program object, the plan (bytecode) and the
 * environment a plan runs in (maps and output, provided by the caller: the
 * tracer's store for BEGIN/END, the maps in the target for probes).
 *
 * The plan is a stack machine over 64-bit words. A string is a pointer to a
 * 64-byte buffer of the evaluator's frame (or of the plan's pool); the
 * verifier tracks which stack words are strings, so a plan that passed it can
 * never take an integer for a pointer. Every jump goes forward: a plan runs
 * at most once through each instruction.
 */
#ifndef UPROBES_LANG_PROGRAM_H
#define UPROBES_LANG_PROGRAM_H

#include "lang/lang.h"

struct uprobe_regs;
struct stack_table;

#define PLAN_STACK     32 /* words */
#define PLAN_SLOTS     8  /* string temporaries of a frame */
#define PLAN_STRVARS   8  /* string variables of a probe */
#define PLAN_MAX_INSNS 4096
#define PLAN_MAX_FMTS  64
#define PLAN_POOL      4096 /* string literals */

enum plan_op {
	PI_END,
	PI_IMM,	    /* push imm */
	PI_STRLIT,  /* push &pool[c] */
	PI_BUILTIN, /* push builtin a (string ones into slot c) */
	PI_LOADV,   /* push var a (b: 1 string) */
	PI_STOREV,  /* pop into var a (b: 1 string) */
	PI_BIN,	    /* a: enum lang_op, b: 1 signed */
	PI_STREQ,   /* a: OP_EQ or OP_NE */
	PI_UN,	    /* a: OP_NOT, OP_BNOT, OP_SUB */
	PI_CAST,    /* a: bytes, b: 1 signed */
	PI_JZ,	    /* pop; jump to c if zero */
	PI_JMP,	    /* jump to c */
	PI_STR,	    /* a: 1 length on top; pop [len,] pointer; push slot c (bound b) */
	PI_MAP_GET, /* a map, b keys; push value (strings: slot c) */
	PI_MAP_SET, /* a map, b keys; pop value, keys */
	PI_MAP_AGG, /* a map, b keys, c enum lang_map_kind; pop [value], keys */
	PI_MAP_ADD, /* a map, b keys; pop keys; map += imm; push the new value */
	PI_MAP_DEL, /* a map, b keys */
	PI_EMIT,    /* a enum lang_emit, b words popped, c format or map, imm args */
	PI_POP,
	PI_OPS,
};

/* What a plan hands to the tracer (the rings in the target). */
enum lang_emit {
	EMIT_PRINTF, /* c: format id; the arguments, 8 bytes or 64 for strings; imm below */
	EMIT_PRINT,  /* c: map; imm: top << 32 | div */
	EMIT_CLEAR,
	EMIT_ZERO,
	EMIT_EXIT,
	EMIT_VALUE, /* print(expr): one argument; imm VALUE_* */
};

/*
 * EMIT_PRINTF's imm: bit i, argument i is a string (64 bytes); bit
 * PRINTF_USTACK + i, a ustack's key word (8 bytes, printed as the stack's
 * text); bit PRINTF_PERF + i, that ustack in perf mode; bit PRINTF_PROBE + i,
 * probe's id (8 bytes, printed as the probe's full name). EMIT_VALUE's imm:
 * 0 an integer, else VALUE_STR, VALUE_USTACK [| VALUE_PERF] or VALUE_PROBE.
 */
#define PRINTF_USTACK 32
#define PRINTF_PERF 40
#define PRINTF_PROBE 48
enum { VALUE_STR = 1, VALUE_USTACK = 2, VALUE_PERF = 4, VALUE_PROBE = 8 };

struct plan_insn {
	uint8_t op, a;
	uint16_t b;
	uint32_t c;
	int64_t imm;
};

/*
 * The common shapes of a probe, recognized in its verified code (shape.c) and
 * run without the interpreter (eval.c), with the same map operations in the
 * same order as the code would make them:
 *
 *   PF_AGG  @m[k] = agg(v)    k, v: integer builtins or none; count() has no v
 *   PF_SET  @m[k] = v         an integer value map
 *   PF_LAT  /@s[k]/ { @m = agg(v - @s[k]); delete(@s[k]); }   (the latency idiom)
 *
 * UPROBE_LANG_PLAN=general when the plan is compiled: none (every probe interpreted).
 */
enum plan_fast_kind { PF_NONE, PF_AGG, PF_SET, PF_LAT };
#define PF_NO 0xff /* no key, no value */

struct plan_fast {
	uint8_t kind;	  /* enum plan_fast_kind */
	uint8_t map;	  /* the map updated (PF_LAT: the aggregation) */
	uint8_t key, val; /* enum lang_builtin, or PF_NO */
	uint8_t from;	  /* PF_LAT: the value map of the starts */
	uint8_t owned;	  /* PF_SET, PF_LAT: the value map is tid-owned (shape.c) */
	uint8_t agg;	  /* PF_AGG, PF_LAT: the aggregation's enum lang_map_kind */
	uint8_t tidns;	  /* owned, key tid, value nsecs: the latency idiom's own two probes */
};

struct plan_probe {
	uint32_t entry; /* first instruction */
	uint32_t nvars;
	uint32_t uses; /* bit per enum lang_builtin read: the handler computes only those */
	uint8_t str_var[LANG_MAX_VARS]; /* string variable's buffer index + 1, or 0 */
	struct plan_fast fast;
};

struct plan {
	struct plan_insn *code;
	uint32_t ninsns, cap;
	struct plan_probe *probes;
	uint32_t nprobes;
	char pool[PLAN_POOL];
	uint32_t pool_len;
	uint32_t fmt[PLAN_MAX_FMTS]; /* printf formats: offsets into pool */
	uint32_t nfmts;
	uint16_t key_size[LANG_MAX_MAPS]; /* bytes of a map's key */
	uint8_t val_str[LANG_MAX_MAPS];	  /* a map of strings */
	uint8_t nkeys[LANG_MAX_MAPS];
	uint8_t key_str[LANG_MAX_MAPS]; /* bit i: key i is a string */
	uint8_t kind[LANG_MAX_MAPS];	/* enum lang_map_kind */
	uint32_t nmaps;
};

/* The environment: maps and output. Called in signal context in the target. */
struct lang_env_ops {
	/* 0, or -ENOENT (the value is then 0 or "") */
	int (*map_get)(void *ctx, unsigned map, const void *key, void *val);
	int (*map_set)(void *ctx, unsigned map, const void *key, const void *val);
	int (*map_agg)(void *ctx, unsigned map, const void *key, enum lang_map_kind k, int64_t v);
	int (*map_del)(void *ctx, unsigned map, const void *key);
	/* map += delta (created at 0), the new value in *out: ++, -- */
	int (*map_add)(void *ctx, unsigned map, const void *key, int64_t delta, int64_t *out);
	int (*emit)(void *ctx, enum lang_emit what, uint32_t id, int64_t imm, const void *data,
		    uint32_t len);
	/* a fault-safe copy of the string at addr, at most len - 1 bytes and a
	 * NUL: its length, or -EFAULT */
	long (*read_str)(void *ctx, uint64_t addr, char *dst, uint32_t len);
	/*
	 * Optional (NULL: map_get, then map_del): the value (0 or -ENOENT: 0),
	 * deleted in the same lookup when not 0. The latency idiom's fast path.
	 */
	int (*map_take)(void *ctx, unsigned map, const void *key, int64_t *val);
};

struct lang_env {
	const struct lang_env_ops *ops;
	void *ctx;
	void *emit_ctx; /* emit's context when not ctx (the target: ctx is the region) */
	const uint64_t *args; /* arg0..arg5, NULL outside probes */
	uint64_t retval;
	uint64_t pid, tid, nsecs, elapsed, cpu, uid, gid;
	const char *comm, *func, *probe;
	uint64_t probe_id; /* probe as a key, printf or print argument: its id (lang_probe_names) */
	uint64_t errors; /* faults counted (str() of a bad pointer) */
	/* ustack: the key word of the stack at regs (how: depth | perf << 8); NULL: 0 */
	uint64_t (*ustack)(const struct lang_env *env, uint32_t how);
	const struct uprobe_regs *regs;
	const void *hit;
};

/*
 * probe as a map key (issue 16): the key is a word, the probe's id, named
 * here in the tracer at print time, full length, as bpftrace 0.17 does. Ids
 * 1..n are the traced process's events in their order (the agent's event
 * index + 1, lang_probe_names_events); the tracer's own probes (BEGIN, END,
 * interval) and the kernel backend's events take the id of their name
 * (lang_probe_id). Id 0 and unknown ids are named "".
 */
struct trace_spec;
struct lang_probe_names {
	char **names;
	uint32_t n, cap;
};
/* The id of name: the first equal one's, else a new one; 0 when out of memory. */
uint64_t lang_probe_id(struct lang_probe_names *t, const char *name);
/*
 * The names of the traced process's events, from the probe lines the agent
 * gets (text: '\n'-separated, line i is event i, named as the agent names
 * its probe builtin; usdt, with ck, as bpftrace: "usdt:PATH:PROVIDER:NAME"),
 * appended: event i is id i + 1 when t was empty.
 */
int lang_probe_names_events(struct lang_probe_names *t, const struct lang_checked *ck,
			    const char *text, size_t len);
/* The name of a probe line as the probe builtin is: "uprobe:PATH:FUNC"; NULL: no memory. */
char *lang_probe_line_name(const struct trace_spec *spec);
/*
 * The func builtin of a probe on symbol (malloc'd; NULL: no memory): bpftrace
 * shows the name, without the @VERSION a glob's probes are named by
 * (open64@@GLIBC_2.2.5); a PLT stub keeps its @plt.
 */
char *lang_func_name(const char *symbol);
/* The same of a probe line: its symbol's, else the function its offset starts (or NULL). */
char *lang_spec_func(const struct trace_spec *spec);
/* Its name with the program's attach point (ck: NULL or the checked program): usdt's too. */
char *lang_probe_event_name(const struct lang_checked *ck, const struct trace_spec *spec);
const char *lang_probe_name(const struct lang_probe_names *t, uint64_t id);
/* Attach point a of probe i run by the tracer (BEGIN...): its id; 0 when probe is unused. */
uint64_t lang_probe_attach_id(struct lang_program *p, int i, int a);
void lang_probe_names_free(struct lang_probe_names *t);

struct lang_program {
	char *name, *text;
	struct lang_src src;
	struct lang_node *ast;
	struct lang_checked checked;
	struct plan plan;
	bool compiled;
	struct stack_table *stacks; /* the tracer's table for ustack keys (ustack.c) */
	struct lang_probe_names probe_names; /* probe keys' names (the tracer's) */
};

/* plan.c */
int plan_compile(struct lang_program *p);
void plan_free(struct lang_program *p);
/*
 * shape.c: each probe's plan_fast set from its code (after plan_verify);
 * general: all PF_NONE. The name of a kind, for dumps.
 */
void plan_shapes(struct plan *plan, bool general);
const char *plan_fast_name(enum plan_fast_kind kind);
/* verify.c: 0, or -EINVAL with the offending instruction in *bad_pc. */
int plan_verify(const struct plan *plan, uint32_t *bad_pc);
void plan_dump(const struct plan *plan, FILE *out);

/*
 * target.c: the maps of a program in a region of src/trace/map (the tracer
 * defines them, the target updates them, the tracer merges them into a
 * store). Aggregations are per-thread shards; integer maps are the region's
 * shared value maps, maps of strings too, with values of LANG_STRLEN bytes.
 */
struct map_region;
int lang_target_define(const struct lang_program *p, struct map_region *r, char *why, size_t len);
/* The environment's map operations over region r (ctx: the region); hot path. */
void lang_target_env_ops(struct lang_env_ops *ops);
struct lang_store;
/* Every map of the region merged into the store (its maps cleared first). */
int lang_target_read(struct map_region *r, struct lang_store *s);
int lang_target_read_map(struct map_region *r, struct lang_store *s, unsigned map);
/* The region's map after the program's nmaps: str()'s faults in the target, summed. */
#define LANG_FAULTS_MAP "str() faults"
uint64_t lang_target_faults(struct map_region *r, unsigned nmaps);
/*
 * And the one after it: the calls a uretprobe saw left by an exception or
 * longjmp (unwound), whose plan did not run (trace_event_agg.filtered_map).
 */
#define LANG_UNWOUND_MAP "unwound returns"
uint64_t lang_target_unwound(struct map_region *r, unsigned nmaps);

/* eval.c: run probe `probe`'s plan; 0, 1 when it called exit(), or -errno. */
int plan_eval(const struct plan *plan, uint32_t probe, struct lang_env *env);

#endif
