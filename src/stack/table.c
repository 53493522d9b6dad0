/* SPDX-License-Identifier: MIT */
/*
 * The stack table, producer side (see table_shm.h for the memfd and the
 * protocol): distinct stacks interned once, so that a stack is a key as small
 * as a BPF stack map's id. stack_table_intern() and stack_capture() are the
 * hot path (HOT_SRCS): no libc call, no system call, no lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/srcu.h"
#include "stack/modules.h"
#include "stack/stack.h"
#include "stack/table_shm.h"
#include "util/log.h"

#define STACK_HINTS 256
#define HINT_ID_BITS 25 /* ids up to STACK_SHM_MAX_STACKS (2^24) */
#define HINT_ID_MASK ((1ull << HINT_ID_BITS) - 1)

struct stack_table {
	int fd;
	uint8_t *base;
	size_t len;
	struct stack_shm_hdr hdr; /* our own copy: the shared one is never read back */
	struct stack_shm_ctl *ctl;
	uint32_t *index;
	struct stack_ent *ent;
	uint64_t *pool;
	/* stack_table_put_maps(): the area follows this process's mappings (follow_lock) */
	struct stack_table *follow_next;
	uint64_t maps_gen; /* of the set written last, 0: none */
	uint32_t maps_pid; /* the image's word (stack_table_image()), 0: not yet */
	bool follows, maps_full;
	/*
	 * stack_table_intern()'s guesses, this process's own: the id interned last
	 * for a stack of these ends (hint_key()), one word each (the key's high
	 * bits, the id in the low HINT_ID_BITS), written and read whole. A guess
	 * is taken only if its entry's frames are the stack's (one id per stack
	 * ever: that is the stack's id); else the hash and the index as always.
	 */
	uint64_t hint[STACK_HINTS];
};

static pthread_mutex_t follow_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stack_table *followers;

/* Map t->fd (t->hdr, t->len set) and point at its parts. 0 or -1. */
static int table_map(struct stack_table *t)
{
	t->base = mmap(NULL, t->len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, t->fd, 0);
	if (t->base == MAP_FAILED)
		return -1;
	t->ctl = (struct stack_shm_ctl *)(t->base + 64);
	t->index = (uint32_t *)(t->base + t->hdr.index_off);
	t->ent = (struct stack_ent *)(t->base + t->hdr.ent_off);
	t->pool = (uint64_t *)(t->base + t->hdr.pool_off);
	return 0;
}

struct stack_table *stack_table_new(const struct stack_table_opts *opts)
{
	uint32_t max_stacks = 16384, max_frames;
	struct stack_table *t;

	if (opts && opts->sz < sizeof(*opts)) {
		errno = -log_error(EINVAL, "stack_table_opts: sz %zu too small", opts->sz);
		return NULL;
	}
	if (opts && opts->max_stacks)
		max_stacks = opts->max_stacks;
	max_frames = opts && opts->max_frames ? opts->max_frames : 64 * max_stacks;
	if (max_stacks > STACK_SHM_MAX_STACKS || max_frames > STACK_SHM_MAX_FRAMES) {
		errno = -log_error(E2BIG, "stack table: %u stacks, %u frames: at most %u and %u",
				   max_stacks, max_frames, STACK_SHM_MAX_STACKS,
				   STACK_SHM_MAX_FRAMES);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->len = stack_shm_layout(&t->hdr, max_stacks, max_frames);
	t->fd = memfd_create("uprobes-stacks", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (t->fd < 0 || ftruncate(t->fd, (off_t)t->len) ||
	    fcntl(t->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		goto fail;
	if (table_map(t))
		goto fail;
	*(struct stack_shm_hdr *)t->base = t->hdr;
	return t;
fail:
	errno = -log_error(errno, "stack table: cannot make a memfd of %zu bytes", t->len);
	if (t->fd >= 0)
		close(t->fd);
	free(t);
	return NULL;
}

/*
 * The table in memfd fd, made by the tracer (stack_table_new there): its
 * header must be a layout of ours and the file's size. The fd is dup'ed.
 */
struct stack_table *stack_table_attach(int fd)
{
	struct stack_shm_hdr theirs;
	struct stack_table *t;
	struct stat st;

	if (fstat(fd, &st) || pread(fd, &theirs, sizeof(theirs), 0) != (ssize_t)sizeof(theirs))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (theirs.magic != STACK_SHM_MAGIC || theirs.version != STACK_SHM_VERSION ||
	    !theirs.max_stacks || theirs.max_stacks > STACK_SHM_MAX_STACKS ||
	    theirs.max_frames > STACK_SHM_MAX_FRAMES ||
	    stack_shm_layout(&t->hdr, theirs.max_stacks, theirs.max_frames) !=
		    (uint64_t)st.st_size) {
		free(t);
		errno = EINVAL;
		return NULL;
	}
	t->len = (size_t)st.st_size;
	t->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (t->fd < 0 || table_map(t)) {
		if (t->fd >= 0)
			close(t->fd);
		free(t);
		return NULL;
	}
	return t;
}

/* The set in force into t's mappings area, unless t has it already (follow_lock held). */
static int put_maps_of(struct stack_table *t, const struct stack_modset *ms)
{
	uint64_t off, len = ms ? ms->maps_len : 0;
	uint64_t *at;

	if (!len)
		return -ENOENT;
	if (ms->gen == t->maps_gen)
		return 0;
	off = __atomic_fetch_add(&t->ctl->maps_used, 8 + len, __ATOMIC_RELAXED);
	if (off + 8 + len > STACK_SHM_MAPS_SIZE)
		return -ENOSPC;
	at = (uint64_t *)(t->base + stack_shm_maps_off(&t->hdr) + off);
	for (uint64_t k = 0; k < len / 8; k++)
		at[1 + k] = ms->maps_rec[k];
	__atomic_store_n(&at[0], len << 32 | t->maps_pid, __ATOMIC_RELEASE);
	t->maps_gen = ms->gen;
	return 0;
}

/* The set read in a read section: a refresh frees the set it replaced after them. */
static int put_maps_locked(struct stack_table *t)
{
	int err;

	if (!stack_modules_current()) /* none yet (stack_setup() sets srcu up) */
		return -ENOENT;
	srcu_read_lock();
	err = put_maps_of(t, stack_modules_current());
	srcu_read_unlock();
	return err;
}

/*
 * The image word for pid's next process image in t: pid | n << 22, n one more
 * than any image of pid the mappings area holds (0 when none), so that a
 * child that exec'd, or a later process of a reused pid, is told apart from
 * the one before it. The area is another process's writing: read as the
 * reader does, up to the first record that does not hold together.
 */
static uint32_t image_next(struct stack_table *t, uint32_t pid)
{
	const uint8_t *area = t->base + stack_shm_maps_off(&t->hdr);
	uint64_t used = __atomic_load_n(&t->ctl->maps_used, __ATOMIC_ACQUIRE), off = 0;
	uint32_t n = 0, top = (1u << (31 - STACK_IMAGE_SHIFT)) - 1; /* a positive pid_t */

	if (used > STACK_SHM_MAPS_SIZE)
		used = STACK_SHM_MAPS_SIZE;
	while (off + 8 <= used) {
		uint64_t head = __atomic_load_n((const uint64_t *)(area + off), __ATOMIC_ACQUIRE);
		uint32_t len = (uint32_t)(head >> 32), w = (uint32_t)head;

		if (!head || len % 8 || len > used - off - 8)
			break;
		if ((w & STACK_IMAGE_PID_MASK) == pid && (w >> STACK_IMAGE_SHIFT) + 1 > n)
			n = (w >> STACK_IMAGE_SHIFT) + 1;
		off += 8 + len;
	}
	return pid | (n < top ? n : top) << STACK_IMAGE_SHIFT;
}

/*
 * fork(): the child is a process image of its own. It takes the lock as the
 * parent's forking thread held it (prepare), and writes its mappings (its
 * parent's, copied) under its own pid into each table that follows them,
 * before it runs on; the tracer then names its frames after it exited.
 */
static void follow_prepare(void)
{
	pthread_mutex_lock(&follow_lock);
}

static void follow_parent(void)
{
	pthread_mutex_unlock(&follow_lock);
}

static void follow_child(void)
{
	uint32_t pid = (uint32_t)getpid() & STACK_IMAGE_PID_MASK;

	follow_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER; /* only this thread is left */
	for (struct stack_table *t = followers; t; t = t->follow_next) {
		uint32_t parent = t->maps_pid;
		uint64_t gen = t->maps_gen;

		t->maps_pid = image_next(t, pid);
		t->maps_gen = 0;
		if (put_maps_locked(t)) {
			t->maps_pid = parent; /* the area is full: the parent's, the same maps */
			t->maps_gen = gen;
		}
	}
}

static pthread_once_t follow_once = PTHREAD_ONCE_INIT;

static void follow_init(void)
{
	pthread_atfork(follow_prepare, follow_parent, follow_child);
}

int stack_table_put_maps(struct stack_table *t, uint32_t pid)
{
	int err;

	if (!t)
		return -ENOENT;
	pthread_once(&follow_once, follow_init);
	pthread_mutex_lock(&follow_lock);
	if (!t->maps_pid || (t->maps_pid & STACK_IMAGE_PID_MASK) != (pid & STACK_IMAGE_PID_MASK))
		t->maps_pid = image_next(t, pid & STACK_IMAGE_PID_MASK);
	if (!t->follows) {
		t->follows = true;
		t->follow_next = followers;
		followers = t;
	}
	err = put_maps_locked(t);
	pthread_mutex_unlock(&follow_lock);
	return err;
}

uint32_t stack_table_image(const struct stack_table *t, uint32_t pid)
{
	uint32_t w = t ? __atomic_load_n(&t->maps_pid, __ATOMIC_RELAXED) : 0;

	return w ? w : pid;
}

/*
 * modules.c, after it published a new set (dlopen, dlclose): each table
 * that follows the mappings gets the new set as one more record; the reader
 * takes them in order, so a library loaded late is named after the process
 * exited, and one closed since is still named (its mapping was not taken
 * back). Not signal context.
 */
void stack_tables_maps_changed(void)
{
	pthread_mutex_lock(&follow_lock);
	for (struct stack_table *t = followers; t; t = t->follow_next) {
		if (put_maps_locked(t) == -ENOSPC && !t->maps_full) {
			t->maps_full = true; /* said once */
			log_error(ENOSPC, "stack table: its mappings area is full: frames in "
					  "libraries loaded from now on are named only while "
					  "the process lives");
		}
	}
	pthread_mutex_unlock(&follow_lock);
}

void stack_table_free(struct stack_table *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&follow_lock);
	for (struct stack_table **p = &followers; *p; p = &(*p)->follow_next) {
		if (*p == t) {
			*p = t->follow_next;
			break;
		}
	}
	pthread_mutex_unlock(&follow_lock);
	munmap(t->base, t->len);
	close(t->fd);
	free(t);
}

int stack_table_fd(const struct stack_table *t)
{
	return t ? t->fd : -EINVAL;
}

static bool same_frames(const uint64_t *a, const uint64_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* Is entry number e (READY) the stack frames[0 .. n) of hash h? */
static bool entry_is(const struct stack_table *t, uint32_t e, uint64_t h, const uint64_t *frames,
		     unsigned n)
{
	const struct stack_ent *x = &t->ent[e];

	return __atomic_load_n(&x->state, __ATOMIC_ACQUIRE) == STACK_ENT_READY && x->hash == h &&
	       x->depth == n && same_frames(&t->pool[x->pool_off], frames, n);
}

/* A new entry holding the stack, READY, not yet in the index: its number, or -ENOSPC. */
static int64_t entry_new(struct stack_table *t, uint64_t h, const uint64_t *frames, unsigned n)
{
	uint32_t e = __atomic_fetch_add(&t->ctl->n_stacks, 1, __ATOMIC_RELAXED);
	uint64_t off;

	if (e >= t->hdr.max_stacks)
		return -ENOSPC;
	off = __atomic_fetch_add(&t->ctl->pool_used, n, __ATOMIC_RELAXED);
	if (off + n > t->hdr.max_frames) {
		__atomic_store_n(&t->ent[e].state, STACK_ENT_DEAD, __ATOMIC_RELAXED);
		return -ENOSPC;
	}
	for (unsigned i = 0; i < n; i++)
		t->pool[off + i] = frames[i];
	t->ent[e].hash = h;
	t->ent[e].pool_off = (uint32_t)off;
	t->ent[e].depth = (uint16_t)n;
	__atomic_store_n(&t->ent[e].state, STACK_ENT_READY, __ATOMIC_RELEASE);
	return e;
}

/* A stack's ends and depth, mixed: where its guess is kept, and the guess's check. */
static inline uint64_t hint_key(const uint64_t *frames, unsigned n)
{
	return (frames[0] ^ frames[n > 1] * 0x9e3779b97f4a7c15ull ^ frames[n - 1] << 17 ^ n) *
	       0xff51afd7ed558ccdull;
}

/* Is entry e READY and the stack frames[0 .. n)? */
static bool hint_is(const struct stack_table *t, uint32_t e, const uint64_t *frames, unsigned n)
{
	const struct stack_ent *x = &t->ent[e];

	return __atomic_load_n(&x->state, __ATOMIC_ACQUIRE) == STACK_ENT_READY && x->depth == n &&
	       (uint64_t)x->pool_off + n <= t->hdr.max_frames &&
	       same_frames(&t->pool[x->pool_off], frames, n);
}

int stack_table_intern(struct stack_table *t, const uint64_t *frames, unsigned n, uint64_t *id)
{
	uint64_t h, k, w, *hint;
	uint32_t mask = t->hdr.index_slots - 1, slot, v;
	int64_t mine = -1;

	if (!n || n > STACK_MAX_DEPTH)
		return -EINVAL;
	k = hint_key(frames, n);
	hint = &t->hint[k >> 56 & (STACK_HINTS - 1)];
	w = __atomic_load_n(hint, __ATOMIC_RELAXED);
	v = (uint32_t)(w & HINT_ID_MASK);
	if (!((w ^ k) & ~HINT_ID_MASK) && v && v - 1 < t->hdr.max_stacks &&
	    hint_is(t, v - 1, frames, n)) {
		*id = v;
		return 0;
	}
	h = stack_hash(frames, n);
	slot = (uint32_t)h & mask;
	for (uint32_t probes = 0; probes <= mask; probes++, slot = (slot + 1) & mask) {
		v = __atomic_load_n(&t->index[slot], __ATOMIC_ACQUIRE);

		if (!v) {
			if (mine < 0 && (mine = entry_new(t, h, frames, n)) < 0)
				break;
			v = (uint32_t)mine + 1;
			if (__atomic_compare_exchange_n(&t->index[slot], &(uint32_t){ 0 }, v, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				goto found;
			v = __atomic_load_n(&t->index[slot], __ATOMIC_ACQUIRE);
		}
		if (v - 1 < t->hdr.max_stacks && entry_is(t, v - 1, h, frames, n)) {
			if (mine >= 0) /* lost to the same stack: ours is never an id */
				__atomic_store_n(&t->ent[mine].state, STACK_ENT_DEAD,
						 __ATOMIC_RELAXED);
			goto found;
		}
	}
	if (mine >= 0) /* every slot taken: never published */
		__atomic_store_n(&t->ent[mine].state, STACK_ENT_DEAD, __ATOMIC_RELAXED);
	__atomic_fetch_add(&t->ctl->dropped, 1, __ATOMIC_RELAXED);
	return -ENOSPC;
found:
	__atomic_store_n(hint, (k & ~HINT_ID_MASK) | v, __ATOMIC_RELAXED);
	*id = v;
	return 0;
}

int stack_capture(struct stack_table *t, const struct uprobe_regs *regs, bool at_entry,
		  unsigned max_depth, uint64_t *id)
{
	uint64_t frames[STACK_MAX_DEPTH];
	unsigned n = stack_unwind(regs, at_entry, frames, max_depth ? max_depth : STACK_MAX_DEPTH);

	return stack_table_intern(t, frames, n, id);
}
