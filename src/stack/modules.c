/* SPDX-License-Identifier: MIT */
/*
 * The executable mappings of this process with their CFI tables. A file's
 * table is made once per process (cfi_table_get: from the cache or
 * compiled) and kept while the process lives: a hit may hold it. Sets of
 * modules are published whole with a release store; a refresh that finds the
 * same mappings publishes nothing; a set replaced is freed once the read
 * sections that were in progress when it was replaced have ended (modules.h,
 * a polled grace period of core/srcu.h). Anonymous
 * executable mappings (JIT code) and the vDSO are modules without a table:
 * frame pointers are tried there.
 *
 * Libraries that come and go later (dlopen, dlclose) are seen the way a
 * debugger sees them: the dynamic loader calls its r_brk function (the
 * address in _r_debug, <link.h>) before and after every change, and a probe
 * there refreshes the set once the change is complete (RT_CONSISTENT). That
 * handler runs in the thread calling dlopen, inside the loader's lock, where
 * no malloc lock is held: it may read /proc and compile tables; it calls
 * nothing of the loader's.
 */
#include <errno.h>
#include <link.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "core/srcu.h"
#include "stack/cfi_table.h"
#include "stack/modules.h"
#include "stack/stack.h"
#include "stack/walk.h"
#include "uprobes_stack.h"
#include "sym/maps.h"
#include "sym/sym.h"
#include "ubp/ubp.h"
#include "util/lazylibs.h"
#include "util/log.h"

#define FILE_LOADS 8

/* A file met in the mappings: its table and its executable segments, read once. */
struct stack_file {
	struct stack_file *next;
	dev_t dev;
	ino_t ino;
	const struct cfi_table *cfi;
	struct sym_load load[FILE_LOADS];
	unsigned int n_load;
	char path[];
};

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stack_file *files;
const struct stack_modset *stack_modules_now;
static uint64_t generation;
static struct stack_modset *waiting; /* replaced, not yet freed (modules_lock) */
static unsigned int n_waiting;

/*
 * The file of a mapping, opened once: its table (NULL without CFI) and its
 * segments. A file replaced on disk since it was mapped (other inode) gets
 * neither, nor does an anonymous mapping ("[vdso]", "[anon:jit]": only its
 * name is kept). NULL for a mapping without a name, or without memory.
 */
static struct stack_file *file_get(const struct maps_entry *e)
{
	struct stack_file *sf;
	struct sym_file *f;

	for (sf = files; sf; sf = sf->next)
		if (sf->dev == e->dev && sf->ino == e->ino && !strcmp(sf->path, e->path))
			return sf;
	if (!e->path[0] || !(sf = calloc(1, sizeof(*sf) + strlen(e->path) + 1)))
		return NULL;
	strcpy(sf->path, e->path);
	sf->dev = e->dev;
	sf->ino = e->ino;
	f = e->path[0] == '/' ? sym_file_open(e->path) : NULL;
	if (f && sym_file_dev(f) == e->dev && sym_file_ino(f) == e->ino) {
		sf->cfi = cfi_table_get(f);
		sf->n_load = sym_loads(f, sf->load, FILE_LOADS);
	}
	sym_file_close(f);
	sf->next = files;
	files = sf;
	return sf;
}

/* address - bias = virtual address, through the segment that holds the mapping's offset. */
static uint64_t bias_of(const struct stack_file *sf, const struct maps_entry *e)
{
	for (unsigned int i = 0; i < sf->n_load; i++) {
		const struct sym_load *l = &sf->load[i];

		if (e->offset >= l->offset && e->offset - l->offset < l->filesz)
			return e->start - e->offset - l->vaddr + l->offset;
	}
	return e->start - e->offset;
}

static void module_of(struct stack_module *m, const struct maps_entry *e, struct stack_file *sf)
{
	*m = (struct stack_module){ .start = e->start, .end = e->end, .bias = e->start,
				    .offset = e->offset, .dev = e->dev, .ino = e->ino,
				    .path = sf ? sf->path : "" };
	if (!sf)
		return;
	m->cfi = sf->cfi;
	m->bias = bias_of(sf, e);
}

/*
 * The payload of a mappings record (uprobes_stack.h): made once per set,
 * copied by the hot path into a ring. A set too large for one record (a
 * quarter of a ring is the most) leaves maps_len 0: the tracer reads
 * /proc/PID/maps instead, while the process lives.
 */
#define MAPS_REC_MAX (128u << 10)

static void maps_rec_make(struct stack_modset *s)
{
	size_t len = 8;
	uint8_t *rec, *p;

	for (unsigned int i = 0; i < s->n; i++)
		len += 48 + ((strlen(s->m[i].path) + 7) & ~7ul);
	if (len > MAPS_REC_MAX || !(rec = calloc(1, len)))
		return;
	((uint32_t *)rec)[0] = UPROBE_STACK_MAPS_MAGIC;
	((uint32_t *)rec)[1] = s->n;
	p = rec + 8;
	for (unsigned int i = 0; i < s->n; i++) {
		const struct stack_module *m = &s->m[i];
		uint64_t w[5] = { m->start, m->end, m->offset, (uint64_t)m->dev, (uint64_t)m->ino };
		uint32_t plen = (uint32_t)strlen(m->path);

		memcpy(p, w, sizeof(w));
		memcpy(p + 40, &plen, 4);
		memcpy(p + 48, m->path, plen);
		p += 48 + ((plen + 7) & ~7u);
	}
	s->maps_rec = (const uint64_t *)rec;
	s->maps_len = (uint32_t)len;
}

static void modset_free(struct stack_modset *s)
{
	free(s->walk);
	free((void *)s->maps_rec);
	free(s->gp);
	free(s);
}

/*
 * The sets in waiting whose grace period is over, freed (modules_lock). One
 * whose period could not start (no memory) starts it now: a later start
 * covers the readers of a set unpublished before it as well.
 */
static void waiting_reap(void)
{
	for (struct stack_modset **p = &waiting; *p;) {
		struct stack_modset *s = *p;

		if (!s->gp)
			s->gp = srcu_poll_start();
		if (s->gp && srcu_poll_done(s->gp)) {
			*p = s->retired_next;
			n_waiting--;
			modset_free(s);
		} else {
			p = &s->retired_next;
		}
	}
}

unsigned int stack_modules_waiting(void)
{
	unsigned int n;

	pthread_mutex_lock(&modules_lock);
	n = n_waiting;
	pthread_mutex_unlock(&modules_lock);
	return n;
}

static bool same_set(const struct stack_modset *a, const struct stack_modset *b)
{
	if (!a || a->n != b->n)
		return false;
	for (unsigned int i = 0; i < a->n; i++)
		if (a->m[i].start != b->m[i].start || a->m[i].end != b->m[i].end ||
		    a->m[i].cfi != b->m[i].cfi || a->m[i].bias != b->m[i].bias)
			return false;
	return true;
}

/* The executable mappings now, as a new set (not published). NULL + -errno in *err. */
static struct stack_modset *modset_read(int *err)
{
	struct maps_entry *v;
	struct stack_modset *s;
	int n = maps_read(&v);

	if (n < 0) {
		*err = n;
		return NULL;
	}
	s = calloc(1, sizeof(*s) + (size_t)n * sizeof(s->m[0]));
	if (s && !(s->walk = walk_cache_new())) {
		free(s);
		s = NULL;
	}
	if (!s) {
		free(v);
		*err = -ENOMEM;
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		const struct maps_entry *e = &v[i];

		if (!strchr(e->perms, 'x'))
			continue;
		module_of(&s->m[s->n++], e, file_get(e));
	}
	free(v);
	return s;
}

int stack_modules_refresh(void)
{
	struct stack_modset *s;
	int err = 0, changed = 0;

	pthread_mutex_lock(&modules_lock);
	s = modset_read(&err);
	if (s && !same_set(stack_modules_now, s)) {
		struct stack_modset *old = (struct stack_modset *)stack_modules_now;

		s->gen = ++generation;
		maps_rec_make(s);
		__atomic_store_n(&stack_modules_now, s, __ATOMIC_RELEASE);
		changed = 1;
		if (old) { /* a hit may be walking it: freed after its grace period */
			old->gp = srcu_poll_start();
			old->retired_next = waiting;
			waiting = old;
			n_waiting++;
		}
	} else if (s) {
		modset_free(s);
	}
	waiting_reap();
	pthread_mutex_unlock(&modules_lock);
	if (err)
		return log_error(-err, "stack: cannot read this process's mappings");
	if (changed)
		stack_tables_maps_changed();
	return changed;
}

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static int setup_err;
static struct uprobe *dl_probe; /* while users > 0 (modules_lock) */
static unsigned int users;

static void on_dl_change(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	(void)p;
	(void)regs;
	(void)ctx;
	if (__atomic_load_n(&_r_debug.r_state, __ATOMIC_RELAXED) == RT_CONSISTENT)
		stack_modules_refresh();
}

static void setup(void)
{
	int err;

	/*
	 * libelf opened now, before r_brk is watched: a refresh compiles tables
	 * with it under modules_lock (a cache miss), and its dlopen there would
	 * call r_brk, whose handler refreshes: a deadlock (util/lazylibs.h). Without
	 * it a table is compiled from nothing (the file's has none, frame pointers).
	 */
	lazy_elf(&err);
	srcu_init(); /* hits read the set in read sections, whether or not a probe came first */
	setup_err = ubp_fault_install(arch_safe_read_fault);
	if (setup_err)
		log_error(-setup_err, "stack: cannot own SIGSEGV for fault-safe reads");
}

/*
 * The loader's r_brk watched while stacks have users. Without it (a static
 * program, or the attach refused) libraries loaded later get no table: frame
 * pointers there.
 */
static void dl_watch(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = on_dl_change };
	struct uprobe *p = _r_debug.r_brk ? uprobe_attach_addr((const void *)_r_debug.r_brk, &o)
					  : NULL;

	/*
	 * glibc's r_brk is a lone ret: too short for a jump, a breakpoint by
	 * default. UPROBE_ENTRY_PATH=lean-strict (a test switch for the probes
	 * users ask for) refuses that fallback; this watch is the library's own,
	 * and without it late libraries' frames go unnamed: ask for the
	 * breakpoint itself.
	 */
	if (!p && _r_debug.r_brk && errno == ENOTSUP) {
		o.flags = UPROBE_F_NO_OPTIMIZE;
		p = uprobe_attach_addr((const void *)_r_debug.r_brk, &o);
	}

	pthread_mutex_lock(&modules_lock);
	if (users && !dl_probe) {
		dl_probe = p;
		p = NULL;
	}
	pthread_mutex_unlock(&modules_lock);
	uprobe_free(p); /* the last user left meanwhile, or another watches already */
}

int stack_setup(void)
{
	bool first;
	int ret;

	pthread_once(&setup_once, setup);
	if (setup_err)
		return setup_err;
	pthread_mutex_lock(&modules_lock);
	first = !users++;
	pthread_mutex_unlock(&modules_lock);
	if (first)
		dl_watch();
	ret = stack_modules_refresh();
	if (ret < 0)
		stack_release();
	return ret < 0 ? ret : 0;
}

void stack_release(void)
{
	struct uprobe *p = NULL;

	pthread_mutex_lock(&modules_lock);
	if (users && !--users) {
		p = dl_probe;
		dl_probe = NULL;
	}
	waiting_reap();
	pthread_mutex_unlock(&modules_lock);
	/* Outside the lock: the detach waits for a handler that may be refreshing. */
	uprobe_free(p);
}
