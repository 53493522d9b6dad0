/* SPDX-License-Identifier: MIT */
/*
 * Private to src/lang: the tracer's maps (store.c) and their printing in
 * bpftrace's text (print.c). Not for the hot path: they allocate.
 */
#ifndef UPROBES_LANG_STORE_H
#define UPROBES_LANG_STORE_H

#include "lang/program.h"

#define STORE_HIST_BUCKETS 66 /* (..., 0), [0], [1], [2, 4) ... [2^63, 2^64) */

struct store_entry {
	uint8_t *key;
	bool init;
	bool hidden;   /* a baseline's: clear()ed, shown again once the key moves */
	uint32_t seen; /* a baseline's: the read (store_map.reads) that last found its key */
	int64_t a, b; /* value, count, min, max; avg and stats: a count, b total */
	char str[LANG_STRLEN];
	uint64_t buckets[]; /* hist, lhist */
};

struct lang_ustacks;

struct store_map {
	const struct lang_map_info *info;
	struct lang_ustacks *ustacks; /* ustack keys' frames and names (ustack.c) */
	const struct lang_probe_names *probes; /* probe keys' names (NULL: printed "") */
	uint32_t key_size, nbuckets;
	struct store_entry **slots;
	uint32_t cap, count;
	uint32_t reads; /* reads from the target (lang_target_read_map) */
	bool fresh;	/* read from the target since the last clear() or zero() */
};

/*
 * Additive maps read from the target (count sum avg stats hist lhist: every
 * value a sum of per-hit contributions) are never cleared nor zeroed there:
 * clear() and zero() move a baseline per key, kept here in base (the values
 * shown + the baseline: what the target held at the read print showed), and a
 * read shows the target's value - the baseline (store_put_read). So a hit is
 * shown once, whenever it lands around a clear().
 */
struct lang_store {
	const struct lang_checked *ck;
	const struct lang_probe_names *probes; /* probe ids' names (printf, print) */
	struct store_map maps[LANG_MAX_MAPS];
	uint32_t nmaps;
	struct lang_store *base; /* baselines (NULL until the first clear()/zero()) */
};

struct lang_store *store_new(const struct lang_checked *ck, const struct plan *pl);
void store_free(struct lang_store *s);
uint32_t store_nbuckets(const struct lang_map_info *m);
struct store_entry *store_lookup(struct lang_store *s, unsigned map, const void *key, bool create);
int store_delete(struct lang_store *s, unsigned map, const void *key);
void store_clear(struct lang_store *s, unsigned map);
void store_zero(struct lang_store *s, unsigned map);
/* count sum avg stats hist lhist: clear() and zero() are baselines in the tracer */
bool store_additive(enum lang_map_kind k);
/*
 * clear() (hide) or zero() of an additive map read from the target: the
 * baseline of every key shown becomes what the target held when it was read
 * (the store's value + the old baseline); hidden (clear) until it moves.
 * Then the store's map cleared or zeroed. 0 or -ENOMEM (nothing moved then).
 */
int store_rebase(struct lang_store *s, unsigned map, bool hide);
/*
 * A key of an additive map as read from the target (raw: a, b, buckets) into
 * the store, less its baseline: not shown while hidden and unmoved; a value
 * below its baseline (the key deleted in the target, renewed from zero) drops
 * the baseline. 0 or -ENOMEM.
 */
int store_put_read(struct lang_store *s, unsigned map, const void *key,
		   const struct store_entry *raw);
/* After a whole read of map: the baselines of keys the target no longer has dropped. */
void store_read_done(struct lang_store *s, unsigned map);
void store_agg_entry(const struct store_map *m, struct store_entry *e, enum lang_map_kind k,
		     int64_t v);
/* map_get, map_set, map_agg, map_del over a store (ctx: the store) */
void store_env_ops(struct lang_env_ops *ops);

/* ustack.c: ustack(...)'s arguments into n->ival (depth | perf << 8); 0 or -EINVAL */
int lang_ustack_call(struct lang_src *src, struct lang_node *n);
/* The tracer's stack table read, its mappings given to a symbolizer; NULL: none. */
struct lang_ustacks *lang_ustacks_open(struct lang_program *p);
void lang_ustacks_close(struct lang_ustacks *u);
/* A ustack key's text as bpftrace prints it in a map key (u NULL: an empty stack). */
void lang_ustack_key(struct lang_ustacks *u, uint64_t word, bool perf, FILE *out);
/*
 * A ustack's text as bpftrace prints it in print() and printf("%s"): as its
 * key, but a frame indented 8 blanks in bpftrace mode; through spec (printf's
 * conversion, "%-20s") when not NULL. The mappings the agents wrote since the
 * last call are taken first (a child forked or exec'd while tracing).
 */
void lang_ustack_text(struct lang_ustacks *u, uint64_t word, bool perf, const char *spec,
		      FILE *out);
/* The stacks the table could not take, said on err (nothing when none). */
void lang_ustacks_report(struct lang_ustacks *u, FILE *err);

/* print.c */
/* One map as bpftrace prints it: print(@m, top, div) and at the end. */
void print_map(const struct lang_store *s, unsigned map, uint32_t top, uint32_t div, FILE *out);
/* Every map, by name, as bpftrace prints them at exit. */
void print_all_maps(const struct lang_store *s, FILE *out);
/* -f json: bpftrace's {"type": "map"|"hist"|"stats", "data": {...}} lines. */
void print_map_json(const struct lang_store *s, unsigned map, uint32_t top, uint32_t div,
		    FILE *out);
void print_all_maps_json(const struct lang_store *s, FILE *out);
void print_json_string(const char *s, size_t len, FILE *out);
/* printf(): fmt with the arguments serialized as plan_eval emits them. */
void print_printf(const char *fmt, const uint8_t *data, uint32_t len, int64_t strs,
		  struct lang_ustacks *u, const struct lang_probe_names *names, FILE *out);
/*
 * What printf(fmt id) and print(value) emitted, as bpftrace prints it (json:
 * its {"type": "printf"|"value", ...} lines); the tracer's runs (run.c,
 * session.c, krun.c) share them. A format id past the plan's prints nothing.
 * names: probe ids' (program.h; NULL: printed "").
 */
void print_emit_printf(const struct plan *pl, uint32_t id, int64_t imm, const void *data,
		       uint32_t len, bool json, struct lang_ustacks *u,
		       const struct lang_probe_names *names, FILE *out);
void print_emit_value(int64_t imm, const void *data, uint32_t len, bool json,
		      struct lang_ustacks *u, const struct lang_probe_names *names, FILE *out);
/* One emit carried out on the maps of s (print, clear, zero); exit() sets *exited. */
void print_emit(struct lang_store *s, const struct plan *pl, enum lang_emit what, uint32_t id,
		int64_t imm, const void *data, uint32_t len, bool json, bool *exited, FILE *out);

#endif
