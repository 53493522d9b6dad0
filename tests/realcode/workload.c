/* SPDX-License-Identifier: MIT */
/*
 * The realcode workload. Built with -fno-builtin -fno-inline and without
 * _FORTIFY_SOURCE, so that every WL() call is a real call of the libc symbol it
 * names: the compiler neither expands strlen/memcpy inline nor rewrites printf
 * into puts, and glibc's extern inlines (bsearch, atoi...) stay out.
 *
 * Everything printed is a function of the computation alone (no addresses,
 * pids, times or directory names), and the threads' results are combined in a
 * fixed order, so two runs print the same bytes.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

#define WL_NAME(name) #name,
const char *const wl_names[WL_NFUNCS] = {WL_FUNCS(WL_NAME)};
#undef WL_NAME
#define WL_ADDR(name) (void *)&name,
void *const wl_addrs[WL_NFUNCS] = {WL_FUNCS(WL_ADDR)};
#undef WL_ADDR
_Atomic uint64_t wl_calls[WL_NFUNCS];

#define NRECORDS      3000
#define NTHREADS      4
#define BLOCK	      512
#define NBLOCKS	      64
#define THREAD_PASSES 4

#define FAIL_IF(cond, what)                                                        \
	do {                                                                       \
		if (cond) {                                                        \
			WL(fprintf)(out, "error: %s (line %d)\n", what, __LINE__); \
			return -1;                                                 \
		}                                                                  \
	} while (0)

struct records {
	char **v;
	size_t n, cap;
};

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* FNV-1a, written out so it calls nothing. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3ull;
	return h;
}

#define FNV0 0xcbf29ce484222325ull

static int make_records(FILE *out, struct records *r)
{
	static const char *const words[] = {"alpha", "bravo",	"charlie", "delta",
					    "echo",  "foxtrot", "golf",	   "hotel"};
	uint64_t seed = 0x9e3779b97f4a7c15ull, h = FNV0, total = 0;
	char buf[128];

	for (size_t i = 0; i < NRECORDS; i++) {
		uint64_t x = rng_next(&seed);

		if (r->n == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 16;
			r->v = WL(realloc)(r->v, r->cap * sizeof(*r->v));
			FAIL_IF(!r->v, "realloc");
		}
		WL(snprintf)
		(buf, sizeof(buf), "%s-%s:%05lu:%ld:%s", words[x % 8], words[(x >> 8) % 8],
		 (unsigned long)((x >> 16) % 100000), (long)((x >> 40) % 20001) - 10000,
		 i % 7 == 0 ? "MARK" : "plain");
		r->v[r->n] = WL(strdup)(buf);
		FAIL_IF(!r->v[r->n], "strdup");
		total += WL(strlen)(r->v[r->n]);
		h = fnv(h, r->v[r->n], WL(strlen)(r->v[r->n]));
		r->n++;
	}
	WL(fprintf)
	(out, "records %zu bytes %lu digest %016lx\n", r->n, (unsigned long)total,
	 (unsigned long)h);
	return 0;
}

/* Parse one record two ways (strtoul/strtol and sscanf) and check they agree. */
static int parse_record(FILE *out, const char *rec, unsigned long *u, long *l)
{
	char w1[16], w2[16], *end, *end2;
	unsigned long su;
	long sl;
	const char *colon = WL(strchr)(rec, ':');

	FAIL_IF(!colon, "strchr");
	*u = WL(strtoul)(colon + 1, &end, 10);
	FAIL_IF(*end != ':', "strtoul end");
	*l = WL(strtol)(end + 1, &end2, 10);
	FAIL_IF(*end2 != ':', "strtol end");
	FAIL_IF(WL(sscanf)(rec, "%15[a-z]-%15[a-z]:%lu:%ld", w1, w2, &su, &sl) != 4, "sscanf");
	FAIL_IF(su != *u || sl != *l, "sscanf disagrees with strtoul/strtol");
	return 0;
}

static int string_stats(FILE *out, const struct records *r)
{
	unsigned long sum_u = 0, sum_abs = 0, spans = 0, cspans = 0, tokens = 0, lastc = 0;
	long sum_l = 0;
	size_t marks = 0, alphas = 0, caseeq = 0, less = 0, dashes = 0, prefix8 = 0;
	uint64_t h = FNV0;
	char tmp[160], word[32];
	size_t *hist = WL(calloc)(64, sizeof(size_t));

	FAIL_IF(!hist, "calloc");
	for (size_t i = 0; i < r->n; i++) {
		const char *s = r->v[i];
		unsigned long u;
		long l;
		char *copy, *save = NULL, *tok, *head;

		if (parse_record(out, s, &u, &l))
			return -1;
		sum_u += u;
		sum_l += l;
		sum_abs += (unsigned long)WL(labs)(l);
		marks += WL(strstr)(s, "MARK") != NULL;
		alphas += WL(strncmp)(s, "alpha", 5) == 0;
		lastc += (unsigned long)(WL(strrchr)(s, ':') - s);
		spans += WL(strspn)(s, "abcdefghijklmnopqrstuvwxyz");
		cspans += WL(strcspn)(s, ":");
		dashes += WL(memchr)(s, '-', WL(strlen)(s)) != NULL;
		prefix8 += WL(strnlen)(s, 8);
		if (i > 0)
			less += WL(memcmp)(r->v[i - 1], s, 4) < 0;
		hist[(s[0] - 'a') % 8 * 8 + s[WL(strcspn)(s, "-") + 1] % 8]++;

		/* Tokenise a copy. */
		copy = WL(strdup)(s);
		FAIL_IF(!copy, "strdup");
		for (tok = WL(strtok_r)(copy, ":-", &save); tok;
		     tok = WL(strtok_r)(NULL, ":-", &save))
			tokens++;
		WL(free)(copy);

		/* First word, upper-cased by hand, compared case-insensitively. */
		head = WL(strndup)(s, WL(strcspn)(s, "-"));
		FAIL_IF(!head, "strndup");
		WL(strncpy)(word, head, sizeof(word) - 1);
		word[sizeof(word) - 1] = 0;
		for (char *c = word; *c; c++)
			*c = (char)(*c - 'a' + 'A');
		caseeq += WL(strcasecmp)(word, head) == 0;
		WL(free)(head);

		/* Rebuild "WORD|tail" with strcpy/strcat and digest it. */
		WL(strcpy)(tmp, word);
		WL(strcat)(tmp, "|");
		WL(strcat)(tmp, WL(strchr)(s, ':') + 1);
		h = fnv(h, tmp, WL(strlen)(tmp));
	}
	for (int k = 0; k < 64; k++)
		h = fnv(h, &hist[k], sizeof(hist[k]));
	WL(free)(hist);
	WL(fprintf)(out, "parse u %lu l %ld abs %lu\n", sum_u, sum_l, sum_abs);
	WL(fprintf)
	(out, "strings marks %zu alpha %zu colon %lu span %lu cspan %lu dash %zu\n", marks, alphas,
	 lastc, spans, cspans, dashes);
	WL(fprintf)
	(out, "strings tokens %lu case %zu less %zu prefix %zu digest %016lx\n", tokens, caseeq,
	 less, prefix8, (unsigned long)h);
	return 0;
}

/* Pack every record into one buffer, then shuffle parts of it around. */
static int pack_records(FILE *out, const struct records *r)
{
	size_t total = 0, pos = 0;
	char *buf;
	uint64_t h;

	for (size_t i = 0; i < r->n; i++)
		total += WL(strlen)(r->v[i]) + 1;
	buf = WL(malloc)(total);
	FAIL_IF(!buf, "malloc");
	for (size_t i = 0; i < r->n; i++) {
		size_t len = WL(strlen)(r->v[i]) + 1;

		WL(memcpy)(buf + pos, r->v[i], len);
		pos += len;
	}
	FAIL_IF(WL(memcmp)(buf, r->v[0], WL(strlen)(r->v[0]) + 1) != 0, "memcmp after memcpy");
	for (size_t off = 0; off + 1000 < total; off += 997)
		WL(memmove)(buf + off + 3, buf + off, 500);
	for (size_t off = 0; off + 64 < total; off += 4096)
		WL(memset)(buf + off, '#', 64);
	h = fnv(FNV0, buf, total);
	buf = WL(realloc)(buf, total / 2);
	FAIL_IF(!buf, "realloc");
	WL(fprintf)
	(out, "packed %zu digest %016lx half %016lx\n", total, (unsigned long)h,
	 (unsigned long)fnv(FNV0, buf, total / 2));
	WL(free)(buf);
	return 0;
}

static int cmp_strp(const void *a, const void *b)
{
	return WL(strcmp)(*(char *const *)a, *(char *const *)b);
}

static int sort_and_search(FILE *out, struct records *r)
{
	char **orig = WL(malloc)(r->n * sizeof(*orig));
	size_t found = 0, absent = 0, ordered = 1;
	uint64_t h = FNV0;

	FAIL_IF(!orig, "malloc");
	WL(memcpy)(orig, r->v, r->n * sizeof(*orig));
	WL(qsort)(r->v, r->n, sizeof(*r->v), cmp_strp);
	for (size_t i = 1; i < r->n; i++)
		ordered &= WL(strcmp)(r->v[i - 1], r->v[i]) <= 0;
	for (size_t i = 0; i < r->n; i += 3) {
		char **hit = WL(bsearch)(&orig[i], r->v, r->n, sizeof(*r->v), cmp_strp);
		char key[140], *kp = key;

		found += hit && WL(strcmp)(*hit, orig[i]) == 0;
		WL(snprintf)(key, sizeof(key), "%s~", orig[i]);
		absent += WL(bsearch)(&kp, r->v, r->n, sizeof(*r->v), cmp_strp) == NULL;
	}
	for (size_t i = 0; i < r->n; i++)
		h = fnv(h, r->v[i], WL(strlen)(r->v[i]));
	WL(fprintf)
	(out, "sorted %zu first %s last %s middle %s digest %016lx\n", ordered, r->v[0],
	 r->v[r->n - 1], r->v[r->n / 2], (unsigned long)h);
	WL(fprintf)(out, "search found %zu absent %zu\n", found, absent);
	WL(free)(orig);
	return 0;
}

static int stdio_files(FILE *out, const char *dir, const struct records *r)
{
	char path[512], path2[512], line[256], head[8];
	size_t lines = 0, same = 0, got;
	long size, where;
	uint64_t h = FNV0;
	struct stat st;
	FILE *f;

	WL(snprintf)(path, sizeof(path), "%s/records.txt", dir);
	WL(snprintf)(path2, sizeof(path2), "%s/records.old", dir);
	f = WL(fopen)(path, "w");
	FAIL_IF(!f, "fopen w");
	WL(fwrite)("# records\n", 1, 10, f);
	for (size_t i = 0; i < r->n; i++) {
		if (i % 3 == 0) {
			WL(fputs)(r->v[i], f);
			WL(fputc)('\n', f);
		} else {
			WL(fprintf)(f, "%s\n", r->v[i]);
		}
	}
	FAIL_IF(WL(fflush)(f) != 0 || WL(ferror)(f), "fflush");
	FAIL_IF(WL(fclose)(f) != 0, "fclose");

	f = WL(fopen)(path, "r");
	FAIL_IF(!f, "fopen r");
	FAIL_IF(WL(fileno)(f) < 0, "fileno");
	while (WL(fgets)(line, sizeof(line), f)) {
		if (lines > 0 && lines <= r->n)
			same += WL(strncmp)(line, r->v[lines - 1], WL(strlen)(r->v[lines - 1])) ==
				0;
		h = fnv(h, line, WL(strlen)(line));
		lines++;
	}
	FAIL_IF(!WL(feof)(f), "feof");
	WL(rewind)(f);
	for (int i = 0; i < 7; i++)
		head[i] = (char)WL(fgetc)(f);
	head[7] = 0;
	FAIL_IF(WL(fseek)(f, 0, SEEK_END) != 0, "fseek end");
	size = WL(ftell)(f);
	FAIL_IF(WL(fseek)(f, size / 2, SEEK_SET) != 0, "fseek mid");
	got = WL(fread)(line, 1, 100, f);
	where = WL(ftell)(f);
	FAIL_IF(WL(fclose)(f) != 0, "fclose r");
	FAIL_IF(WL(stat)(path, &st) != 0, "stat");
	FAIL_IF(WL(rename)(path, path2) != 0, "rename");
	FAIL_IF(WL(access)(path2, R_OK) != 0, "access new name");
	FAIL_IF(WL(access)(path, F_OK) == 0, "access old name");
	FAIL_IF(WL(unlink)(path2) != 0, "unlink");
	WL(fprintf)
	(out, "stdio lines %zu same %zu head %s size %ld stat %ld mid %zu@%ld %016lx\n", lines,
	 same, head, size, (long)st.st_size, got, where, (unsigned long)fnv(h, line, got));
	return 0;
}

static int posix_files(FILE *out, const char *dir)
{
	char path[512], sub[512], inner[512], blk[BLOCK], back[1000];
	uint64_t seed = 42, h = FNV0, hp;
	long total = 0, n;
	struct stat st1, st2;
	int fd;

	WL(snprintf)(path, sizeof(path), "%s/blocks.bin", dir);
	fd = WL(open)(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
	FAIL_IF(fd < 0, "open");
	for (int b = 0; b < NBLOCKS; b++) {
		for (int i = 0; i < BLOCK; i++)
			blk[i] = (char)rng_next(&seed);
		FAIL_IF(WL(write)(fd, blk, BLOCK) != BLOCK, "write");
	}
	FAIL_IF(WL(pwrite)(fd, "PWRITE", 6, 1000) != 6, "pwrite");
	FAIL_IF(WL(lseek)(fd, 0, SEEK_SET) != 0, "lseek");
	while ((n = WL(read)(fd, back, sizeof(back))) > 0) {
		h = fnv(h, back, (size_t)n);
		total += n;
	}
	FAIL_IF(n < 0, "read");
	FAIL_IF(WL(pread)(fd, back, 16, 996) != 16, "pread");
	hp = fnv(FNV0, back, 16);
	FAIL_IF(WL(fstat)(fd, &st1) != 0, "fstat");
	FAIL_IF(WL(ftruncate)(fd, 10000) != 0, "ftruncate");
	FAIL_IF(WL(fstat)(fd, &st2) != 0, "fstat 2");
	FAIL_IF(WL(close)(fd) != 0, "close");
	FAIL_IF(WL(unlink)(path) != 0, "unlink");

	WL(snprintf)(sub, sizeof(sub), "%s/sub", dir);
	WL(snprintf)(inner, sizeof(inner), "%s/sub/inner", dir);
	FAIL_IF(WL(mkdir)(sub, 0700) != 0, "mkdir");
	fd = WL(open)(inner, O_CREAT | O_WRONLY, 0600);
	FAIL_IF(fd < 0, "open inner");
	FAIL_IF(WL(write)(fd, "x", 1) != 1, "write inner");
	FAIL_IF(WL(close)(fd) != 0, "close inner");
	FAIL_IF(WL(rmdir)(sub) == 0, "rmdir of a non-empty directory");
	FAIL_IF(WL(unlink)(inner) != 0, "unlink inner");
	FAIL_IF(WL(rmdir)(sub) != 0, "rmdir");
	FAIL_IF(WL(getpid)() <= 0, "getpid");
	WL(fprintf)
	(out, "posix read %ld digest %016lx pread %016lx size %ld truncated %ld\n", total,
	 (unsigned long)h, (unsigned long)hp, (long)st1.st_size, (long)st2.st_size);
	return 0;
}

struct thread_job {
	const struct records *r;
	const char *dir;
	size_t first, count;
	int id;
	pthread_mutex_t *lock;
	uint64_t *shared_sum;
	uint64_t digest, bytes;
	int failed;
};

/*
 * One pass over the thread's slice: a heap copy of each record, upper-cased,
 * digested and appended to the thread's file; a shared sum under the mutex.
 */
static int thread_pass(struct thread_job *j, int fd, uint64_t *hp)
{
	uint64_t local = 0, h = *hp;
	int failed = 0;

	for (size_t i = j->first; i < j->first + j->count; i++) {
		size_t len = WL(strlen)(j->r->v[i]);
		char *c = WL(malloc)(len + 1);

		WL(memcpy)(c, j->r->v[i], len + 1);
		for (size_t k = 0; k < len; k++)
			if (c[k] >= 'a' && c[k] <= 'z')
				c[k] = (char)(c[k] - 'a' + 'A');
		h = fnv(h, c, len);
		local += len;
		if (WL(write)(fd, c, len) != (ssize_t)len)
			failed = 1;
		WL(free)(c);
		if ((i - j->first) % 16 == 15) {
			WL(pthread_mutex_lock)(j->lock);
			*j->shared_sum += local;
			WL(pthread_mutex_unlock)(j->lock);
			local = 0;
		}
	}
	WL(pthread_mutex_lock)(j->lock);
	*j->shared_sum += local;
	WL(pthread_mutex_unlock)(j->lock);
	*hp = h;
	return failed;
}

/* THREAD_PASSES passes, then the thread's file is read back and removed. */
static void *thread_main(void *arg)
{
	struct thread_job *j = arg;
	uint64_t h = FNV0;
	char path[512], back[256];
	int fd;

	WL(snprintf)(path, sizeof(path), "%s/thread%d.bin", j->dir, j->id);
	fd = WL(open)(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
	if (fd < 0) {
		j->failed = 1;
		return NULL;
	}
	for (size_t pass = 0; pass < THREAD_PASSES; pass++) {
		if (thread_pass(j, fd, &h))
			j->failed = 1;
	}
	if (WL(lseek)(fd, 0, SEEK_SET) != 0)
		j->failed = 1;
	for (ssize_t n; (n = WL(read)(fd, back, sizeof(back))) > 0;)
		j->bytes += (uint64_t)n;
	j->digest = h;
	if (WL(close)(fd) != 0 || WL(unlink)(path) != 0)
		j->failed = 1;
	return NULL;
}

static int run_threads(FILE *out, const char *dir, const struct records *r)
{
	struct thread_job jobs[NTHREADS];
	pthread_t th[NTHREADS];
	pthread_mutex_t lock;
	uint64_t shared = 0, bytes = 0;
	size_t per = r->n / NTHREADS;

	FAIL_IF(WL(pthread_mutex_init)(&lock, NULL) != 0, "pthread_mutex_init");
	for (int t = 0; t < NTHREADS; t++) {
		jobs[t] = (struct thread_job){.r = r,
					      .dir = dir,
					      .first = per * (size_t)t,
					      .count = t == NTHREADS - 1 ? r->n - per * (size_t)t :
									   per,
					      .id = t,
					      .lock = &lock,
					      .shared_sum = &shared};
		FAIL_IF(WL(pthread_create)(&th[t], NULL, thread_main, &jobs[t]) != 0,
			"pthread_create");
	}
	for (int t = 0; t < NTHREADS; t++)
		FAIL_IF(WL(pthread_join)(th[t], NULL) != 0, "pthread_join");
	FAIL_IF(WL(pthread_mutex_destroy)(&lock) != 0, "pthread_mutex_destroy");
	for (int t = 0; t < NTHREADS; t++) {
		FAIL_IF(jobs[t].failed, "thread job");
		bytes += jobs[t].bytes;
		WL(fprintf)
		(out, "thread %d records %zu digest %016lx\n", t, jobs[t].count,
		 (unsigned long)jobs[t].digest);
	}
	WL(fprintf)
	(out, "threads shared %lu file bytes %lu\n", (unsigned long)shared, (unsigned long)bytes);
	return 0;
}

int workload_run(FILE *out, const char *dir)
{
	struct records r = {0};
	int rc;

	rc = make_records(out, &r);
	if (!rc)
		rc = string_stats(out, &r);
	if (!rc)
		rc = pack_records(out, &r);
	if (!rc)
		rc = sort_and_search(out, &r);
	if (!rc)
		rc = stdio_files(out, dir, &r);
	if (!rc)
		rc = posix_files(out, dir);
	if (!rc)
		rc = run_threads(out, dir, &r);
	for (size_t i = 0; i < r.n; i++)
		WL(free)(r.v[i]);
	WL(free)(r.v);
	WL(fprintf)(out, "done %s\n", rc ? "with errors" : "ok");
	return rc;
}
