/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/arch.h"
#include "sym/maps.h"
#include "ubp/ubp.h"
#include "xol/xol.h"

#define XOL_AREA_SIZE (64u << 10)
#define XOL_SLOTS (XOL_AREA_SIZE / ARCH_XOL_SLOT_SIZE)
#define XOL_MIN_ADDR 0x10000ull		/* above vm.mmap_min_addr */
#define XOL_MAX_ADDR 0x7fffffff0000ull	/* top of the 47-bit user space */

struct xol_free_run {
	uint16_t first, units;
};

struct xol_area {
	uint64_t base;
	unsigned used;		/* slots handed out so far (bump) */
	unsigned nfree;		/* returned runs of slots, reused first (exact fit) */
	struct xol_free_run free[64];
	struct xol_area *next;
};

static struct xol_area *areas;
static size_t slots_in_use;

static int area_fits(const struct xol_area *a, uint64_t lo, uint64_t hi)
{
	return a->base >= lo && a->base + XOL_AREA_SIZE - 1 <= hi;
}

static uint64_t area_take(struct xol_area *a, unsigned units)
{
	for (unsigned i = 0; i < a->nfree; i++) {
		if (a->free[i].units != units)
			continue;
		uint64_t addr = a->base + (uint64_t)a->free[i].first * ARCH_XOL_SLOT_SIZE;
		a->free[i] = a->free[--a->nfree];
		return addr;
	}
	if (a->used + units > XOL_SLOTS)
		return 0;
	a->used += units;
	return a->base + (uint64_t)(a->used - units) * ARCH_XOL_SLOT_SIZE;
}

/* The address in the gap [g0, g1) clipped to [lo, hi] closest to near, or 0. */
static uint64_t gap_pick(uint64_t g0, uint64_t g1, uint64_t lo, uint64_t hi, uint64_t near)
{
	uint64_t a = g0 > lo ? g0 : lo, b, last;

	b = g1 < hi ? g1 : hi + 1;
	a = (a + 0xfff) & ~0xfffull;
	if (b < XOL_AREA_SIZE || a > b - XOL_AREA_SIZE)
		return 0;
	last = (b - XOL_AREA_SIZE) & ~0xfffull;
	if (last < a)
		return 0;
	if (near <= a)
		return a;
	if (near >= last)
		return last;
	return near & ~0xfffull;
}

static uint64_t dist(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/*
 * The free address nearest to near for an area in [lo, hi], from the maps as
 * they are now (fresh), or as the current batch read them (the attach that
 * needs the area resolved its location with that reading): 0 when none.
 */
static uint64_t area_place(uint64_t lo, uint64_t hi, uint64_t near, bool fresh)
{
	struct maps_entry *m;
	uint64_t best = 0, prev_end = XOL_MIN_ADDR;
	bool borrowed = false;
	int n = fresh ? maps_read(&m) : maps_read_batched(&m, &borrowed);

	if (n < 0)
		return 0;
	for (int i = 0; i <= n; i++) {
		uint64_t gap_end = i < n ? m[i].start : XOL_MAX_ADDR;
		uint64_t pick = prev_end < gap_end ? gap_pick(prev_end, gap_end, lo, hi, near) : 0;

		if (pick && (!best || dist(pick, near) < dist(best, near)))
			best = pick;
		if (i < n && m[i].end > prev_end)
			prev_end = m[i].end;
	}
	if (!borrowed)
		free(m);
	return best;
}

/*
 * mmap an area at addr, else at the next few areas' worth of its gap away
 * from near: the address mapped, or MAP_FAILED with errno. A kernel before
 * 4.17, and qemu-user 7.2 (docs/aarch64.md), take MAP_FIXED_NOREPLACE for a
 * hint: where the address is taken they map the area elsewhere instead of
 * failing with EEXIST. Such an area is unmapped and counted as EEXIST, so that
 * the next address is tried there too.
 */
static void *area_mmap(uint64_t addr, uint64_t lo, uint64_t hi, uint64_t near)
{
	void *p = MAP_FAILED;

	for (int step = 0; step < 4; step++) {
		uint64_t at = addr < near ? addr - (uint64_t)step * XOL_AREA_SIZE
					  : addr + (uint64_t)step * XOL_AREA_SIZE;

		if (at < lo || at < XOL_MIN_ADDR || at + XOL_AREA_SIZE - 1 > hi)
			break;
		p = mmap((void *)at, XOL_AREA_SIZE, PROT_READ | PROT_EXEC,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p != MAP_FAILED && (uint64_t)p != at) {
			munmap(p, XOL_AREA_SIZE);
			p = MAP_FAILED;
			errno = EEXIST;
		}
		if (p != MAP_FAILED || errno != EEXIST)
			break;
	}
	return p;
}

/*
 * Map a new area in [lo, hi] as close to near as the free gaps allow. The
 * gap may be taken between the reading of the maps and the mmap: by another
 * thread, by the array the maps were read into, which AddressSanitizer
 * keeps mapped once freed, in the gap nearest the libraries, or, in the first
 * round, by what was mapped since the batch's reading (EEXIST). Then a
 * little further into the gap, then the maps are read again, a few times.
 * The first round takes the batch's reading: reading /proc/self/maps again
 * cost every traced image a second parse of it (the kernel's text, an
 * array of entries: ~7 page faults for /bin/true, docs/benchmarks.md).
 */
static struct xol_area *area_map(uint64_t lo, uint64_t hi, uint64_t near)
{
	uint64_t best = 0;
	struct xol_area *a;
	void *p = MAP_FAILED;

	for (int round = 0; round < 5 && p == MAP_FAILED; round++) {
		best = area_place(lo, hi, near, round > 0);
		if (!best && round)
			return NULL;
		p = best ? area_mmap(best, lo, hi, near) : MAP_FAILED;
		if (p == MAP_FAILED && best && errno != EEXIST)
			return NULL;
		if (p != MAP_FAILED && ((uint64_t)p < lo || (uint64_t)p + XOL_AREA_SIZE - 1 > hi)) {
			munmap(p, XOL_AREA_SIZE); /* old kernel ignored MAP_FIXED_NOREPLACE */
			if (round)
				return NULL;
			p = MAP_FAILED; /* perhaps the batch's reading was stale: read anew */
		}
	}
	if (p == MAP_FAILED)
		return NULL;
	best = (uint64_t)p;
	a = calloc(1, sizeof(*a));
	if (!a) {
		munmap(p, XOL_AREA_SIZE);
		return NULL;
	}
	a->base = best;
	a->next = areas;
	areas = a;
	return a;
}

static unsigned size_units(size_t size)
{
	return (size + ARCH_XOL_SLOT_SIZE - 1) / ARCH_XOL_SLOT_SIZE;
}

uint64_t xol_alloc(size_t size, uint64_t lo, uint64_t hi, uint64_t near)
{
	unsigned units = size_units(size);
	struct xol_area *a;
	uint64_t addr;

	for (a = areas; a; a = a->next) {
		if (area_fits(a, lo, hi) && (addr = area_take(a, units)))
			goto found;
	}
	a = area_map(lo, hi, near);
	if (!a || !(addr = area_take(a, units)))
		return 0;
found:
	slots_in_use += units;
	return addr;
}

void xol_free(uint64_t addr, size_t size)
{
	for (struct xol_area *a = areas; a; a = a->next) {
		if (addr < a->base || addr >= a->base + XOL_AREA_SIZE)
			continue;
		slots_in_use -= size_units(size);
		if (a->nfree < sizeof(a->free) / sizeof(a->free[0]))
			a->free[a->nfree++] = (struct xol_free_run){
				(addr - a->base) / ARCH_XOL_SLOT_SIZE, size_units(size)
			};
		return;
	}
}

int xol_write(uint64_t addr, const uint8_t *code, size_t len)
{
	uint8_t buf[1024];
	size_t padded = (size_t)size_units(len) * ARCH_XOL_SLOT_SIZE;

	if (padded > sizeof(buf))
		return -E2BIG;
	/* Pad with int3: a stray jump into the tail traps instead of running garbage. */
	memset(buf, ARCH_BREAKPOINT, padded);
	memcpy(buf, code, len);
	return ubp_text_write(addr, buf, padded);
}

/* The writes xol_write_deferred() holds: runs of adjacent bytes, in order. */
struct xol_run {
	uint64_t addr;
	size_t off, len; /* in defer.buf */
};

static struct {
	bool on;
	uint8_t *buf;
	size_t len, cap;
	struct xol_run *runs;
	size_t n, n_cap;
	struct xol_run *frees; /* xol_free_deferred's: addr, and size in len */
	size_t nfree, nfree_cap;
} defer;

void xol_defer_begin(void)
{
	defer.on = true;
}

static int defer_grow(size_t more)
{
	if (defer.len + more > defer.cap) {
		size_t cap = defer.cap ? 2 * defer.cap : 64u << 10;
		uint8_t *b;

		while (cap < defer.len + more)
			cap *= 2;
		b = realloc(defer.buf, cap);
		if (!b)
			return -ENOMEM;
		defer.buf = b;
		defer.cap = cap;
	}
	if (defer.n == defer.n_cap) {
		size_t cap = defer.n_cap ? 2 * defer.n_cap : 64;
		struct xol_run *r = realloc(defer.runs, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		defer.runs = r;
		defer.n_cap = cap;
	}
	return 0;
}

int xol_write_deferred(uint64_t addr, const uint8_t *code, size_t len, size_t size)
{
	/* the whole of what xol_alloc(size) gave: the next one's bytes follow on */
	size_t padded = (size_t)size_units(len > size ? len : size) * ARCH_XOL_SLOT_SIZE;
	struct xol_run *last;

	if (!defer.on || defer_grow(padded))
		return xol_write(addr, code, len); /* written now, in order with the rest */
	last = defer.n ? &defer.runs[defer.n - 1] : NULL; /* after defer_grow moved them */
	/* Pad with int3 (xol_write says why). */
	memset(defer.buf + defer.len, ARCH_BREAKPOINT, padded);
	memcpy(defer.buf + defer.len, code, len);
	if (last && last->addr + last->len == addr && last->off + last->len == defer.len)
		last->len += padded;
	else
		defer.runs[defer.n++] = (struct xol_run){ addr, defer.len, padded };
	defer.len += padded;
	return 1;
}

void xol_free_deferred(uint64_t addr, size_t size)
{
	struct xol_run *f;

	if (!defer.on)
		return xol_free(addr, size);
	if (defer.nfree == defer.nfree_cap) {
		size_t cap = defer.nfree_cap ? 2 * defer.nfree_cap : 16;

		f = realloc(defer.frees, cap * sizeof(*f));
		if (!f)
			return; /* kept for good, as before there was a way to give it back */
		defer.frees = f;
		defer.nfree_cap = cap;
	}
	defer.frees[defer.nfree++] = (struct xol_run){ .addr = addr, .len = size };
}

int xol_defer_end(void)
{
	int err = 0, e;

	for (size_t i = 0; i < defer.n; i++) {
		e = ubp_text_write(defer.runs[i].addr, defer.buf + defer.runs[i].off,
				   defer.runs[i].len);
		if (e && !err)
			err = e;
	}
	/* only now: what is handed out next must not be written over by the runs */
	for (size_t i = 0; i < defer.nfree; i++)
		xol_free(defer.frees[i].addr, defer.frees[i].len);
	free(defer.buf);
	free(defer.runs);
	free(defer.frees);
	defer = (typeof(defer)){ 0 };
	return err;
}

size_t xol_slots_in_use(void)
{
	return slots_in_use;
}
