/* SPDX-License-Identifier: MIT */
/* Objects of one size in runs made present at once (pool.h says why). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/pool.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif

#define RUN_FIRST (16u << 10)
#define RUN_MAX (4u << 20)
#define HUGE (2u << 20)

/*
 * A run of len bytes, present: one madvise instead of a fault per page (an
 * older kernel without MADV_POPULATE_WRITE takes the faults as before). A
 * run of RUN_MAX is aligned to 2 MiB and asks for huge pages: two faults'
 * worth of work for 4 MiB where the system has them, 1,024 without.
 */
static size_t page_round(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (len + page - 1) & ~(page - 1);
}

static char *run_map(size_t len)
{
	size_t extra;
	char *m, *at;

	len = page_round(len); /* so that the tail trimmed below starts on a page */
	extra = len >= HUGE ? HUGE : 0;
	m = mmap(NULL, len + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	at = m;
	if (extra) {
		at = (char *)(((uintptr_t)m + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
		if (at > m)
			munmap(m, (size_t)(at - m));
		if (at + len < m + len + extra)
			munmap(at + len, (size_t)(m + len + extra - (at + len)));
		madvise(at, len, MADV_HUGEPAGE);
	}
	madvise(at, len, MADV_POPULATE_WRITE);
	return at;
}

#define BULK_MIN (64u << 10)

#ifdef POOL_ASAN
void *pool_bulk_alloc(size_t len)
{
	return calloc(1, len ? len : 1);
}

void pool_bulk_free(void *mem, size_t len)
{
	(void)len;
	free(mem);
}

void *pool_alloc(struct pool *p)
{
	void *obj = aligned_alloc(64, p->size);

	if (obj)
		memset(obj, 0, p->size);
	return obj;
}

void pool_free(struct pool *p, void *obj)
{
	(void)p;
	free(obj);
}
#else
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_lock_take(void)
{
	pthread_mutex_lock(&pool_lock);
}

static void pool_lock_give(void)
{
	pthread_mutex_unlock(&pool_lock);
}

/* fork() waits for a pool being changed; parent and child both go on unlocked. */
static void pool_atfork(void)
{
	pthread_atfork(pool_lock_take, pool_lock_give, pool_lock_give);
}

static void pool_lock_on(void)
{
	pthread_once(&pool_once, pool_atfork);
	pthread_mutex_lock(&pool_lock);
}

void *pool_bulk_alloc(size_t len)
{
	void *mem;

	if (len < BULK_MIN)
		return calloc(1, len ? len : 1);
	mem = run_map(len);
	if (!mem)
		errno = ENOMEM;
	return mem;
}

void pool_bulk_free(void *mem, size_t len)
{
	if (len < BULK_MIN)
		free(mem);
	else if (mem)
		munmap(mem, page_round(len)); /* all run_map mapped */
}

void *pool_alloc(struct pool *p)
{
	void *obj;

	pool_lock_on();
	obj = p->free;
	if (obj) {
		p->free = *(void **)obj;
		pool_lock_give();
		memset(obj, 0, p->size); /* a fresh run is zero already */
		return obj;
	}
	if ((size_t)(p->end - p->next) < p->size) {
		size_t len = p->run ? p->run : RUN_FIRST;
		char *run;

		while (len < p->size)
			len *= 2;
		run = run_map(len);
		if (!run) {
			pool_lock_give();
			errno = ENOMEM;
			return NULL;
		}
		/* the rest of the old run is lost: less than one object */
		p->next = run;
		p->end = run + len;
		p->run = len < RUN_MAX ? 2 * len : RUN_MAX;
	}
	obj = p->next;
	p->next += p->size;
	pool_lock_give();
	return obj;
}

void pool_free(struct pool *p, void *obj)
{
	if (!obj)
		return;
	pool_lock_on();
	*(void **)obj = p->free;
	p->free = obj;
	pool_lock_give();
}
#endif
