/* SPDX-License-Identifier: MIT */
#include <cpuid.h>
#include <errno.h>
#include <string.h>

#include "arch/arch.h"
#include "arch/x86_64/lean_abi.h"

extern const uint8_t uprobes_tramp_entry[], uprobes_tramp_entry_end[];
extern const uint8_t uprobes_tramp_flags[], uprobes_tramp_flags_end[];
extern const uint8_t uprobes_tramp_entry_simd[], uprobes_tramp_entry_simd_end[];
extern const uint8_t uprobes_tramp_flags_simd[], uprobes_tramp_flags_simd_end[];
extern const uint8_t uprobes_tramp_lean_nofl[], uprobes_tramp_lean_nofl_end[];
extern const uint8_t uprobes_tramp_lean_nofl_simd[], uprobes_tramp_lean_nofl_simd_end[];
extern const uint8_t uprobes_tramp_lean_stub[], uprobes_tramp_lean_stub_end[];
extern const uint8_t uprobes_lean_body[];
extern const uint8_t uprobes_tramp_exit[], uprobes_tramp_exit_end[];
extern const uint8_t uprobes_tramp_count_stub[], uprobes_tramp_count_stub_end[];
extern const uint8_t uprobes_tramp_count_tls[], uprobes_tramp_count_hold[];
extern const uint8_t uprobes_tramp_count_fast[];
extern const uint8_t uprobes_tramp_count_incq[], uprobes_tramp_count_miss[];
extern const uint8_t uprobes_tramp_exit_nofl[], uprobes_tramp_exit_nofl_end[];
extern const uint8_t uprobes_tramp_lean_inline[], uprobes_tramp_lean_inline_end[];
extern const uint8_t uprobes_tramp_lean_inline_entry[], uprobes_tramp_lean_inline_self[];
extern const uint8_t uprobes_tramp_lean_inline_cookie[], uprobes_tramp_lean_inline_cookie_set[];
extern const uint8_t uprobes_tramp_lean_inline_rp[];
extern const uint8_t uprobes_tramp_exit_inline[], uprobes_tramp_exit_inline_end[];
extern const uint8_t uprobes_tramp_exit_inline_entry[], uprobes_tramp_exit_inline_self[];
extern const uint8_t uprobes_tramp_exit_inline_rp[];
extern const uint8_t uprobes_tramp_exit_inline_nofl[], uprobes_tramp_exit_inline_nofl_end[];
extern const uint8_t uprobes_tramp_exit_inline_nofl_entry[], uprobes_tramp_exit_inline_nofl_self[];
extern const uint8_t uprobes_tramp_exit_inline_nofl_rp[];

/*
 * [kind][simd]: start and end of each template (LEAN differs from ENTRY in its
 * C side; LEAN_NOFLAGS without SIMD is a stub calling uprobes_lean_body).
 */
static const uint8_t *const tramp_bounds[][2][2] = {
	[TRAMP_KIND_FLAGS] = { { uprobes_tramp_flags, uprobes_tramp_flags_end },
			       { uprobes_tramp_flags_simd, uprobes_tramp_flags_simd_end } },
	[TRAMP_KIND_ENTRY] = { { uprobes_tramp_entry, uprobes_tramp_entry_end },
			       { uprobes_tramp_entry_simd, uprobes_tramp_entry_simd_end } },
	[TRAMP_KIND_LEAN] = { { uprobes_tramp_entry, uprobes_tramp_entry_end },
			      { uprobes_tramp_entry_simd, uprobes_tramp_entry_simd_end } },
	[TRAMP_KIND_LEAN_NOFLAGS] = { { uprobes_tramp_lean_stub, uprobes_tramp_lean_stub_end },
				      { uprobes_tramp_lean_nofl_simd,
					uprobes_tramp_lean_nofl_simd_end } },
	[TRAMP_KIND_EXIT] = { { uprobes_tramp_exit, uprobes_tramp_exit_end }, { NULL, NULL } },
	[TRAMP_KIND_COUNT] = { { uprobes_tramp_count_stub, uprobes_tramp_count_stub_end },
			       { NULL, NULL } },
	[TRAMP_KIND_EXIT_NOFLAGS] = { { uprobes_tramp_exit_nofl, uprobes_tramp_exit_nofl_end },
				      { NULL, NULL } },
	[TRAMP_KIND_LEAN_INLINE] = { { uprobes_tramp_lean_inline, uprobes_tramp_lean_inline_end },
				     { NULL, NULL } },
	[TRAMP_KIND_EXIT_INLINE] = { { uprobes_tramp_exit_inline, uprobes_tramp_exit_inline_end },
				     { NULL, NULL } },
	[TRAMP_KIND_EXIT_INLINE_NOFLAGS] = { { uprobes_tramp_exit_inline_nofl,
					       uprobes_tramp_exit_inline_nofl_end },
					     { NULL, NULL } },
};
extern const uint8_t uprobes_redirect_trap[];
extern const uint8_t uprobes_ret_tramp[];
void uprobes_simd_call(simd_call_fn fn, void *a, void *b, const void *c, void *d);

/* Read by uprobes_simd_call; set once, before the first return probe. */
uint64_t uprobes_xsave_size __attribute__((visibility("hidden")));

#define XSAVE_MASK 0xe7 /* as in gprs.S.h */

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

/*
 * Room for an xsavec of XSAVE_MASK & XCR0 (the compacted area is never larger
 * than the standard layout's end), or 0 without xsavec.
 */
static uint64_t xsave_area_size(void)
{
	unsigned a, b, c, d;
	uint64_t end = 512 + 64, mask;

	if (!__get_cpuid_count(0xd, 1, &a, &b, &c, &d) || !(a & (1u << 1)))
		return 0;
	mask = xgetbv0() & XSAVE_MASK;
	for (unsigned i = 2; i < 8; i++) {
		if (!(mask & (1u << i)) || !__get_cpuid_count(0xd, i, &a, &b, &c, &d))
			continue;
		if (b + a > end)
			end = b + a;
	}
	return (end + 63) & ~63u;
}

/*
 * The count stub's %fs displacement: where the calling thread's (any
 * thread's: initial-exec TLS sits at one offset from the thread pointer in
 * every thread) count base is. The library's static TLS block lies within
 * 2 GiB below the thread pointer.
 */
static int64_t count_base_tls_off(void)
{
	return (int64_t)((uintptr_t)&uprobes_count_base - (uintptr_t)__builtin_thread_pointer());
}

int arch_tramp_template(uint8_t *out, enum tramp_kind kind, bool simd, tramp_dispatch_fn fn,
			void *rec, uint64_t addr)
{
	const uint8_t *start = tramp_bounds[kind][simd][0], *end = tramp_bounds[kind][simd][1];
	uint64_t data[TRAMP_DATA_WORDS] = { 0 };

	if (!start || end - start > TRAMP_MAX)
		return -ENOTSUP;
	if (simd) {
		data[TRAMP_XSAVE_SIZE] = xsave_area_size();
		if (!data[TRAMP_XSAVE_SIZE])
			return -ENOTSUP;
	}
	memcpy(out, start, end - start);
	data[TRAMP_DISPATCH] = (uint64_t)fn;
	data[TRAMP_REDIRECT] = (uint64_t)uprobes_redirect_trap;
	data[TRAMP_REC] = (uint64_t)rec;
	data[TRAMP_ADDR] = addr;
	data[TRAMP_BODY] = (uint64_t)uprobes_lean_body;
	if (kind == TRAMP_KIND_LEAN_INLINE) {
		uint64_t more[2] = { (uint64_t)&ret_nstacks, (uint64_t)&ret_tramp };

		data[TRAMP_RET_ENTER] = (uint64_t)dispatch_lean_ret_enter;
		data[TRAMP_MOVED] = (uint64_t)dispatch_lean_redirect;
		memcpy(out + sizeof(data), more, sizeof(more));
	}
	memcpy(out, data, sizeof(data));
	if (kind == TRAMP_KIND_COUNT) {
		int32_t disp = (int32_t)count_base_tls_off();

		memcpy(out + (uprobes_tramp_count_tls - start), &disp, sizeof(disp));
	}
	return (int)(end - start);
}

/* At the template's symbol sym, the 4 bytes of v. */
static void put32(uint8_t *out, const uint8_t *start, const uint8_t *sym, int32_t v)
{
	memcpy(out + (sym - start), &v, sizeof(v));
}

void arch_tramp_tls(uint8_t *out, enum tramp_kind kind, int32_t self_tls, int32_t cookie_tls)
{
	const uint8_t *t = tramp_bounds[kind][0][0];

	switch (kind) {
	case TRAMP_KIND_LEAN_INLINE:
		put32(out, t, uprobes_tramp_lean_inline_self, self_tls);
		put32(out, t, uprobes_tramp_lean_inline_cookie, cookie_tls);
		put32(out, t, uprobes_tramp_lean_inline_cookie_set, cookie_tls);
		put32(out, t, uprobes_tramp_lean_inline_rp, self_tls + EXIT_TLS_RP);
		break;
	case TRAMP_KIND_EXIT_INLINE:
		put32(out, t, uprobes_tramp_exit_inline_self, self_tls);
		put32(out, t, uprobes_tramp_exit_inline_rp, self_tls + EXIT_TLS_RP);
		break;
	case TRAMP_KIND_EXIT_INLINE_NOFLAGS:
		put32(out, t, uprobes_tramp_exit_inline_nofl_self, self_tls);
		put32(out, t, uprobes_tramp_exit_inline_nofl_rp, self_tls + EXIT_TLS_RP);
		break;
	default:
		break;
	}
}

int arch_tramp_entry_off(enum tramp_kind kind)
{
	switch (kind) {
	case TRAMP_KIND_LEAN_INLINE:
		return (int)(uprobes_tramp_lean_inline_entry - uprobes_tramp_lean_inline);
	case TRAMP_KIND_EXIT_INLINE:
		return (int)(uprobes_tramp_exit_inline_entry - uprobes_tramp_exit_inline);
	case TRAMP_KIND_EXIT_INLINE_NOFLAGS:
		return (int)(uprobes_tramp_exit_inline_nofl_entry - uprobes_tramp_exit_inline_nofl);
	case TRAMP_KIND_COUNT: /* past its first jmp, to the same place */
		return (int)(uprobes_tramp_count_fast - uprobes_tramp_count_stub);
	default:
		return TRAMP_DATA_WORDS * 8;
	}
}

bool arch_count_fixup(ucontext_t *uc, uint64_t tramp)
{
	uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	const uint8_t *t = uprobes_tramp_count_stub;

	if (rip < tramp + (uint64_t)(uprobes_tramp_count_hold - t) ||
	    rip > tramp + (uint64_t)(uprobes_tramp_count_incq - t))
		return false;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(tramp + (uint64_t)(uprobes_tramp_count_miss - t));
	return true;
}

uint64_t arch_redirect_trap_addr(void)
{
	return (uint64_t)uprobes_redirect_trap;
}

uint64_t arch_ret_tramp_addr(void)
{
	return (uint64_t)uprobes_ret_tramp;
}

void arch_simd_call(simd_call_fn fn, void *a, void *b, const void *c, void *d)
{
	uint64_t size = __atomic_load_n(&uprobes_xsave_size, __ATOMIC_RELAXED);

	if (!size) {
		size = xsave_area_size();
		__atomic_store_n(&uprobes_xsave_size, size ? size : ~0ull, __ATOMIC_RELAXED);
	}
	if (size == ~0ull)
		fn(a, b, c, d);
	else
		uprobes_simd_call(fn, a, b, c, d);
}

/* The core's trampolines (arch/arch.h): the template of the kind, then the window's copy. */
int arch_tramp_begin(struct arch_tramp_req *r, uint8_t *code, uint64_t *lo, uint64_t *hi,
		     const char **why)
{
	enum tramp_kind kind = TRAMP_KIND_FLAGS;
	tramp_dispatch_fn fn = dispatch_optimized;

	if (r->at_entry && r->entry_full) {
		kind = TRAMP_KIND_ENTRY;
	} else if (r->at_entry) {
		kind = r->no_flags ? TRAMP_KIND_LEAN_NOFLAGS : TRAMP_KIND_LEAN;
		fn = dispatch_entry_lean;
	}
	/* The count stub: LEAN_NOFLAGS without SIMD, its displacement within reach. */
	if (kind == TRAMP_KIND_LEAN_NOFLAGS && r->count && !r->simd &&
	    count_base_tls_off() == (int32_t)count_base_tls_off())
		kind = TRAMP_KIND_COUNT;
	/* The inline lean entry: the stub's kind where its readers need no fence. */
	if (kind == TRAMP_KIND_LEAN_NOFLAGS && !r->simd && !r->fence && !r->no_inline)
		kind = TRAMP_KIND_LEAN_INLINE;
	r->count_stub = kind == TRAMP_KIND_COUNT;
	r->inline_body = kind == TRAMP_KIND_LEAN_INLINE;
	r->lean = kind == TRAMP_KIND_LEAN || kind == TRAMP_KIND_LEAN_NOFLAGS || r->count_stub ||
		  r->inline_body;
	r->off = arch_tramp_template(code, kind, r->simd, fn, r->rec, r->addr);
	if (r->off < 0) {
		*why = "the CPU lacks xsavec to preserve SIMD state around the handler";
		return r->off;
	}
	if (r->inline_body)
		arch_tramp_tls(code, kind, r->self_tls, r->cookie_tls);
	r->entry_off = arch_tramp_entry_off(kind);
	arch_window_range(r->win, lo, hi);
	return r->off + ARCH_WINDOW_COPY_MAX;
}

int arch_tramp_finish(struct arch_tramp_req *r, uint8_t *code, uint64_t tramp, uint64_t *copy,
		      const char **why)
{
	int len;

	*copy = tramp + r->off;
	len = arch_window_copy(r->win, *copy, code + r->off);
	if (len < 0) {
		*why = "the window cannot be relocated to the trampoline";
		return len;
	}
	return r->off + len;
}
