/* SPDX-License-Identifier: MIT */
/*
 * The symbolizer (uprobes_stack.h): addresses of traced processes turned
 * into module + offset, then function + offset, in the tracer, also after
 * the process has gone.
 *
 * Each process's mappings are kept: read from /proc/PID/maps while it lives
 * (at first sight, and again when an address falls outside them), or taken
 * from what the process reported in its rings. A forked child that was never
 * seen alive is looked up in its parent's mappings (read with them). A
 * mapping names its file by path, device and inode: the file is opened once
 * per symbolizer, and only if it is still that file.
 *
 * Names come from the sym layer: .symtab, .dynsym, the debug file by
 * build-id or debuglink, MiniDebugInfo, PLT stubs; C++ names demangled. Of
 * the aliases of a function (qsort_r, __qsort_r, __GI___qsort_r) the most
 * public one is shown: global before weak before local, then fewer leading
 * underscores. Code no symbol covers is named by its .eh_frame FDE,
 * fn_<hex>, as uprobe_symbols() names it. Results are cached by file and
 * address.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sym/maps.h"
#include "sym/sym_priv.h"
#include "sym/symbolize.h"

#define SZ_CACHE_MIN 1024

struct sz_chunk {
	struct sz_chunk *next;
	size_t used, cap;
	_Alignas(8) char data[];
};

struct sz_map {
	uint64_t start, end, offset, dev, ino;
	const char *path;
	struct sz_file *file; /* NULL until needed */
};

struct sz_proc {
	struct sz_proc *next;
	pid_t pid, ppid;
	bool read; /* /proc/PID/maps was read (it was alive) */
	struct sz_map *maps; /* sorted by start, disjoint */
	size_t n, cap;
};

/* A cached answer: the frames of one address of one file. */
struct sz_answer {
	struct sz_file *file; /* NULL: free slot */
	uint64_t key;	      /* file offset << 1 | ret_addr */
	unsigned int n;
	struct uprobe_frame *frames; /* in the pool; addr and module filled per call */
};

struct uprobe_symbolizer {
	unsigned int flags;
	struct sz_proc *procs;
	struct sz_file *files;
	struct sz_pool pool;
	struct sz_answer *cache;
	size_t cache_cap, cache_n;
};

void *sz_alloc(struct sz_pool *p, size_t n)
{
	struct sz_chunk *c = p->chunks;
	void *out;

	n = (n + 7) & ~(size_t)7;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > 65536 ? n : 65536;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = p->chunks;
		p->chunks = c;
	}
	out = c->data + c->used;
	c->used += n;
	return out;
}

const char *sz_strndup(struct sz_pool *p, const char *s, size_t n)
{
	char *out = sz_alloc(p, n + 1);

	if (out) {
		memcpy(out, s, n);
		out[n] = 0;
	}
	return out;
}

void sz_pool_free(struct sz_pool *p)
{
	while (p->chunks) {
		struct sz_chunk *next = p->chunks->next;

		free(p->chunks);
		p->chunks = next;
	}
}

UPROBE_API struct uprobe_symbolizer *uprobe_symbolizer_new(const struct uprobe_symbolizer_opts *o)
{
	struct uprobe_symbolizer *s;

	if (o && o->sz < sizeof(*o)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s)
		s->flags = o ? o->flags : 0;
	return s;
}

UPROBE_API void uprobe_symbolizer_free(struct uprobe_symbolizer *s)
{
	if (!s)
		return;
	while (s->procs) {
		struct sz_proc *next = s->procs->next;

		free(s->procs->maps);
		free(s->procs);
		s->procs = next;
	}
	while (s->files) {
		struct sz_file *next = s->files->next;

		sym_file_close(s->files->f);
		sz_dwarf_free(s->files->dw);
		free(s->files);
		s->files = next;
	}
	free(s->cache);
	sz_pool_free(&s->pool);
	free(s);
}

/* ---- processes and their mappings ---------------------------------------------- */

static struct sz_proc *proc_get(struct uprobe_symbolizer *s, pid_t pid, bool create)
{
	struct sz_proc *p;

	for (p = s->procs; p; p = p->next)
		if (p->pid == pid)
			return p;
	if (!create || !(p = calloc(1, sizeof(*p))))
		return NULL;
	p->pid = pid;
	p->next = s->procs;
	s->procs = p;
	return p;
}

/* The mapping of p holding addr, or NULL. */
static struct sz_map *map_at(struct sz_proc *p, uint64_t addr)
{
	size_t lo = 0, hi = p ? p->n : 0;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (addr < p->maps[mid].start)
			hi = mid;
		else if (addr >= p->maps[mid].end)
			lo = mid + 1;
		else
			return &p->maps[mid];
	}
	return NULL;
}

/* Insert m into p's sorted mappings, dropping those it overlaps. 0 or -ENOMEM. */
static int map_insert(struct sz_proc *p, const struct sz_map *m)
{
	size_t i = 0, j;

	while (i < p->n && p->maps[i].end <= m->start)
		i++;
	for (j = i; j < p->n && p->maps[j].start < m->end; j++)
		;
	if (j == i && p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		struct sz_map *v = realloc(p->maps, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->maps = v;
		p->cap = cap;
	}
	/* [i, j) overlap m: m takes their place */
	memmove(&p->maps[i + 1], &p->maps[j], (p->n - j) * sizeof(*p->maps));
	p->n = p->n - (j - i) + 1;
	p->maps[i] = *m;
	return 0;
}

UPROBE_API int uprobe_symbolizer_add_mapping(struct uprobe_symbolizer *s, pid_t pid,
					     const struct uprobe_mapping *m)
{
	struct sz_proc *p = proc_get(s, pid, true);
	struct sz_map map;

	if (!p)
		return -ENOMEM;
	if (!m || m->end <= m->start)
		return -EINVAL;
	map = (struct sz_map){ m->start, m->end, m->offset, m->dev, m->ino,
			       sz_strndup(&s->pool, m->path ? m->path : "",
					  m->path ? strlen(m->path) : 0), NULL };
	if (!map.path)
		return -ENOMEM;
	return map_insert(p, &map);
}

static pid_t parent_of(pid_t pid)
{
	char name[64], line[256];
	FILE *fp;
	int ppid = 0;

	snprintf(name, sizeof(name), "/proc/%d/status", (int)pid);
	fp = fopen(name, "re");
	if (!fp)
		return 0;
	while (fgets(line, sizeof(line), fp) && sscanf(line, "PPid: %d", &ppid) != 1)
		;
	fclose(fp);
	return ppid;
}

UPROBE_API int uprobe_symbolizer_read_maps(struct uprobe_symbolizer *s, pid_t pid)
{
	struct maps_entry *v;
	struct sz_proc *p;
	int n, err = 0;

	if (pid <= 0)
		return -EINVAL;
	n = maps_read_pid(pid, &v);
	if (n < 0)
		return n == -ENOENT ? -ESRCH : n;
	p = proc_get(s, pid, true);
	if (!p) {
		free(v);
		return -ENOMEM;
	}
	p->read = true;
	p->ppid = parent_of(pid);
	for (int i = 0; i < n && !err; i++) {
		struct uprobe_mapping m = { v[i].start, v[i].end, v[i].offset, v[i].dev, v[i].ino,
					    v[i].path };

		if (strchr(v[i].perms, 'x'))
			err = uprobe_symbolizer_add_mapping(s, pid, &m);
	}
	free(v);
	if (!err && p->ppid > 1 && !proc_get(s, p->ppid, false) && !kill(p->ppid, 0))
		uprobe_symbolizer_read_maps(s, p->ppid); /* a forked child's frames may be there */
	return err;
}

/*
 * The mapping of addr in pid: pid's own (read from /proc the first time, and
 * again on a miss while it lives), else its parent's, grandparent's ...
 */
static struct sz_map *find_map(struct uprobe_symbolizer *s, pid_t pid, uint64_t addr)
{
	struct sz_proc *p = proc_get(s, pid, false);
	struct sz_map *m = map_at(p, addr);

	if (!m && !kill(pid, 0) && !uprobe_symbolizer_read_maps(s, pid))
		m = map_at(p = proc_get(s, pid, false), addr);
	for (int depth = 0; !m && p && p->ppid > 1 && depth < 16; depth++)
		m = map_at(p = proc_get(s, p->ppid, false), addr);
	return m;
}

/* ---- files and their symbols -------------------------------------------------- */

static struct sz_file *file_get(struct uprobe_symbolizer *s, struct sz_map *m)
{
	struct sz_file *f;

	if (m->file)
		return m->file;
	for (f = s->files; f; f = f->next)
		if (f->dev == m->dev && f->ino == m->ino && !strcmp(f->path, m->path))
			return m->file = f;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	*f = (struct sz_file){ .next = s->files, .path = m->path, .dev = m->dev, .ino = m->ino };
	s->files = f;
	return m->file = f;
}

static struct sym_file *file_open(struct sz_file *f)
{
	if (f->tried)
		return f->f;
	f->tried = true;
	if (f->path[0] != '/')
		return NULL;
	f->f = sym_file_open(f->path);
	if (f->f && f->ino && (sym_file_dev(f->f) != f->dev || sym_file_ino(f->f) != f->ino)) {
		sym_file_close(f->f); /* replaced since it was mapped: its symbols would lie */
		f->f = NULL;
	}
	if (f->f)
		sym_demangle_all(f->f);
	return f->f;
}

/* Lower is more public: global, weak, local; fewer leading '_'; a default version. */
static int alias_rank(const struct sym_entry *e)
{
	int under = 0;

	while (e->name[under] == '_')
		under++;
	return (e->bind == STB_GLOBAL ? 0 : e->bind == STB_WEAK ? 1 : 2) * 16 + under +
	       (e->version && !e->ver_default ? 8 : 0);
}

/*
 * The symbol naming vaddr: the innermost one whose [vaddr, + size) holds it,
 * its most public alias; else a sizeless symbol at the start of the FDE that
 * holds it (assembly). NULL when none.
 */
static const struct sym_entry *best_symbol(struct sym_file *f, uint64_t vaddr, uint64_t fde_start)
{
	size_t n, i = sym_index_after(f, vaddr);
	const struct sym_entry *e = sym_entries(f, &n), *best = NULL;

	while (i-- > 0 && !best && vaddr - e[i].vaddr < (1u << 24))
		if ((e[i].size && vaddr - e[i].vaddr < e[i].size && !e[i].ifunc) ||
		    (!e[i].size && e[i].vaddr == fde_start))
			best = &e[i];
	for (size_t k = best ? (size_t)(best - e) : 0; best && k-- > 0 && e[k].vaddr == best->vaddr;)
		if (alias_rank(&e[k]) < alias_rank(best))
			best = &e[k];
	return best;
}

/* Name frame out after entry e (demangled, NAME@plt), or fn_<hex> of the FDE. */
static void name_frame(struct uprobe_symbolizer *s, struct uprobe_frame *out,
		       const struct sym_entry *e, uint64_t start)
{
	char buf[640];

	if (e && e->demangled) {
		out->func = e->demangled;
		out->short_func = sz_strndup(&s->pool, e->demangled + e->qoff, e->qlen);
	} else if (e && e->src == SYM_SRC_PLT) {
		snprintf(buf, sizeof(buf), "%s@plt", e->name);
		out->func = out->short_func = sz_strndup(&s->pool, buf, strlen(buf));
	} else if (e) {
		out->func = out->short_func = e->name;
	} else {
		snprintf(buf, sizeof(buf), "fn_%" PRIx64, start);
		out->func = out->short_func = sz_strndup(&s->pool, buf, strlen(buf));
	}
	if (!out->short_func)
		out->short_func = out->func;
}

/* The frames of file offset off of f, into out (max >= 1): how many. */
static unsigned int frames_of(struct uprobe_symbolizer *s, struct sz_file *file, uint64_t off,
			      bool ret, struct uprobe_frame *out, unsigned int max)
{
	struct sym_file *f = file_open(file);
	struct sym_func fde = { .vaddr = 0 };
	const struct sym_entry *e;
	unsigned int k = 0;
	uint64_t vaddr, at;

	out[0] = (struct uprobe_frame){ 0 };
	if (!f || sym_off_to_vaddr(f, off, &vaddr))
		return 1;
	at = ret && vaddr ? vaddr - 1 : vaddr;
	if ((s->flags & UPROBE_SYMBOLIZE_LINES) && max > 1)
		k = (unsigned int)sz_lines(file, &s->pool, at, out, max);
	if (!k)
		out[k++] = (struct uprobe_frame){ 0 };
	if (sym_fde_at(f, at, &fde))
		fde.vaddr = UINT64_MAX;
	e = best_symbol(f, at, fde.vaddr);
	if (!e && fde.vaddr == UINT64_MAX && at != vaddr) {
		/* a return address at a function's first byte: a signal frame's (__restore_rt) */
		if (sym_fde_at(f, vaddr, &fde))
			fde.vaddr = UINT64_MAX;
		e = best_symbol(f, vaddr, fde.vaddr);
	}
	if (e || fde.vaddr != UINT64_MAX) {
		name_frame(s, &out[k - 1], e, e ? e->vaddr : fde.vaddr);
		out[k - 1].func_off = vaddr - (e ? e->vaddr : fde.vaddr);
	}
	for (unsigned int i = 0; i + 1 < k; i++)
		out[i].func_off = out[k - 1].func_off;
	return k;
}

/* ---- the answer cache ----------------------------------------------------------- */

static size_t answer_slot(const struct sz_answer *c, size_t cap, struct sz_file *f, uint64_t key)
{
	size_t i = (size_t)(((uintptr_t)f ^ key) * 0x9e3779b97f4a7c15ull >> 20) & (cap - 1);

	while (c[i].file && (c[i].file != f || c[i].key != key))
		i = (i + 1) & (cap - 1);
	return i;
}

static int cache_grow(struct uprobe_symbolizer *s)
{
	size_t cap = s->cache_cap ? 2 * s->cache_cap : SZ_CACHE_MIN;
	struct sz_answer *c = calloc(cap, sizeof(*c));

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < s->cache_cap; i++)
		if (s->cache[i].file)
			c[answer_slot(c, cap, s->cache[i].file, s->cache[i].key)] = s->cache[i];
	free(s->cache);
	s->cache = c;
	s->cache_cap = cap;
	return 0;
}

/* The frames of (file, off, ret), computed once. NULL without memory. */
static const struct sz_answer *answer(struct uprobe_symbolizer *s, struct sz_file *f, uint64_t off,
				      bool ret)
{
	struct uprobe_frame tmp[UPROBE_STACK_MAX];
	uint64_t key = off << 1 | ret;
	struct sz_answer *a;

	if (4 * (s->cache_n + 1) > 3 * s->cache_cap && cache_grow(s))
		return NULL;
	a = &s->cache[answer_slot(s->cache, s->cache_cap, f, key)];
	if (a->file)
		return a;
	a->n = frames_of(s, f, off, ret, tmp, UPROBE_STACK_MAX);
	a->frames = sz_alloc(&s->pool, a->n * sizeof(tmp[0]));
	if (!a->frames)
		return NULL;
	memcpy(a->frames, tmp, a->n * sizeof(tmp[0]));
	a->file = f;
	a->key = key;
	s->cache_n++;
	return a;
}

UPROBE_API int uprobe_symbolize(struct uprobe_symbolizer *s, pid_t pid, uint64_t addr,
				int ret_addr, struct uprobe_frame *out, unsigned int max)
{
	struct sz_map *m;
	struct sz_file *f;
	const struct sz_answer *a;
	unsigned int n;

	if (!s || !out || !max)
		return -EINVAL;
	m = find_map(s, pid, addr);
	f = m ? file_get(s, m) : NULL;
	a = f ? answer(s, f, addr - m->start + m->offset, ret_addr) : NULL;
	n = a ? (a->n < max ? a->n : max) : 1;
	for (unsigned int i = 0; i < n; i++) {
		out[i] = a ? a->frames[i] : (struct uprobe_frame){ 0 };
		out[i].addr = addr;
		out[i].module = m ? m->path : "";
		out[i].module_off = m ? addr - m->start + m->offset : 0;
	}
	return (int)n;
}
