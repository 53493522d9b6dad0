/* SPDX-License-Identifier: MIT */
/* Return sites per probe: the function's bytes and symbols for arch_retsite_analyze. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86_64/optimize.h"
#include "core/retpatch.h"
#include "core/retsite.h"
#include "sym/sym.h"
#include "util/log.h"

#define RETSITE_FUNC_MAX (1u << 20) /* sym_func_at's largest function too */

struct target_ctx {
	struct sym_file *f;
	const struct probe_target *t;
	uint64_t bias;
};

/*
 * Functions that never return, by name: calls to them end a path (the code
 * after one is another block). glibc's internal aliases (__GI_abort) and C++
 * throw helpers (std::__throw_*) included. A name wrongly here can only let
 * a function whose last instruction is a call to it pass as not falling
 * through; calls elsewhere change nothing.
 */
static const char *const noreturn_names[] = {
	"abort", "exit", "_exit", "_Exit", "quick_exit", "__stack_chk_fail",
	"__stack_chk_fail_local", "__assert_fail", "__assert_perror_fail", "__assert",
	"__fortify_fail", "__chk_fail", "__libc_fatal", "__libc_message", "__malloc_assert",
	"__cxa_throw", "__cxa_rethrow", "__cxa_bad_cast", "__cxa_bad_typeid",
	"__cxa_pure_virtual", "__cxa_throw_bad_array_new_length", "__cxa_call_unexpected",
	"_Unwind_Resume", "longjmp", "siglongjmp", "_longjmp", "__longjmp_chk", "__libc_longjmp",
	"__libc_siglongjmp", "pthread_exit", "__pthread_exit", "__pthread_unwind_next",
	"__pthread_unwind", "err", "errx", "verr", "verrx",
	"_ZSt9terminatev", "_dl_signal_error", "_dl_fatal_printf", "_dl_signal_exception",
	"Py_FatalError", "_Py_FatalErrorFunc", "_Py_FatalErrorFormat", "Py_Exit",
};

bool retsite_noreturn_name(const char *name)
{
	char base[128];
	size_t n;

	if (!strncmp(name, "__GI_", 5))
		name += 5;
	n = strcspn(name, "@");
	if (n >= sizeof(base))
		return false;
	memcpy(base, name, n);
	base[n] = '\0';
	if (!strncmp(base, "_ZSt", 4) && strstr(base, "__throw_"))
		return true;
	for (size_t i = 0; i < sizeof(noreturn_names) / sizeof(noreturn_names[0]); i++)
		if (!strcmp(base, noreturn_names[i]))
			return true;
	return false;
}

static uint64_t readable_from(const struct probe_target *t, uint64_t addr);

struct back_scan {
	uint64_t lo, hi; /* the function analysed */
	bool found;
};

static void back_branch(uint64_t src, uint64_t target, void *arg)
{
	struct back_scan *b = arg;

	(void)src;
	b->found |= target >= b->lo && target < b->hi;
}

/*
 * A function with no symbol, only an .eh_frame FDE, at addr: a tail call's
 * target when its CFI says a call enters it (stack as at a callee's entry)
 * and none of its direct branches comes back into the function analysed;
 * else it may be that function's cold part (which GCC enters mid-frame and
 * leaves by a jump back).
 */
static bool unnamed_is_callee(struct target_ctx *c, uint64_t addr, const struct sym_func *fn)
{
	struct back_scan b = { .lo = c->t->func_start, .hi = c->t->func_start + c->t->func_size };
	char why[256];
	uint8_t *buf;

	if (sym_ret_check(c->f, fn->vaddr, why, sizeof(why)) != SYM_RET_OK ||
	    fn->size > RETSITE_FUNC_MAX || readable_from(c->t, addr) < fn->size)
		return false;
	buf = mmap(NULL, fn->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return false;
	target_read(c->t, addr, buf, fn->size);
	arch_scan_branches(buf, fn->size, addr, back_branch, &b);
	munmap(buf, fn->size);
	return !b.found;
}

static enum arch_target_kind target_kind(uint64_t addr, void *ctx, char *name, size_t len)
{
	struct target_ctx *c = ctx;
	uint64_t vaddr = addr - c->bias;
	struct sym_func fn;

	if (sym_func_at(c->f, vaddr, &fn))
		return ARCH_TARGET_NONE;
	if (fn.vaddr != vaddr) {
		snprintf(name, len, "%s+0x%lx", fn.name[0] ? fn.name : "a function",
			 vaddr - fn.vaddr);
		return ARCH_TARGET_NONE;
	}
	if (!fn.name[0] && unnamed_is_callee(c, addr, &fn)) {
		snprintf(name, len, "fn_%lx", vaddr);
		return ARCH_TARGET_FUNC;
	}
	if (!fn.name[0]) {
		snprintf(name, len, "fn_%lx (no symbol; entered mid-frame or branching back into "
			 "this one: a cold part)", vaddr);
		return ARCH_TARGET_PART;
	}
	snprintf(name, len, "%s", fn.name);
	if (strstr(fn.name, ".cold"))
		return ARCH_TARGET_PART;
	return retsite_noreturn_name(fn.name) ? ARCH_TARGET_NORETURN : ARCH_TARGET_FUNC;
}

/* Bytes of t's code from addr on that may be read: its mapping, or the file image. */
static uint64_t readable_from(const struct probe_target *t, uint64_t addr)
{
	if (t->image) {
		int64_t off = (int64_t)addr + t->image_delta;

		return off >= 0 && (uint64_t)off < t->image_size ? t->image_size - off : 0;
	}
	return addr >= t->map_start && addr < t->map_end ? t->map_end - addr : 0;
}

/*
 * No branch of the whole module (another function's, e.g. glibc's __mempcpy_*
 * entering __memmove_*) and no exception landing pad may land inside a
 * window but at its first byte: the function's own were checked already.
 */
static int check_foreign(const struct probe_target *t, struct arch_retsites *rs)
{
	for (unsigned i = 0; i < rs->n; i++) {
		const struct arch_exit *e = &rs->exit[i];
		uint64_t src, target;
		int r;

		if (!e->win_len || e->in_entry) /* the entry's jump checked its window */
			continue;
		r = branches_into(t, e->win, e->win + e->win_len, &src, &target);
		if (r <= 0)
			return r;
		rs->refusal = ARCH_RETSITE_FOREIGN;
		if (src)
			snprintf(rs->why, sizeof(rs->why), "a branch at 0x%lx, outside the function, "
				 "lands at +0x%lx, inside the window of the %s at +0x%lx", src,
				 target - rs->start, arch_exit_kind_name(e->kind),
				 e->addr - rs->start);
		else
			snprintf(rs->why, sizeof(rs->why), "an exception landing pad at +0x%lx is "
				 "inside the window of the %s at +0x%lx", target - rs->start,
				 arch_exit_kind_name(e->kind), e->addr - rs->start);
		return -ENOTSUP;
	}
	return 0;
}

static int check_file(const struct probe_target *t, struct sym_file *f, struct arch_retsites *rs)
{
	uint64_t size = t->func_size, start = t->func_start;
	struct target_ctx ctx = { .f = f, .t = t, .bias = t->bias };
	size_t after;
	uint8_t *buf;
	int err;

	/* The window takes only nop and int3 bytes of it (arch_retsite_analyze). */
	after = resolve_padding_after(t, f, start + size);
	/*
	 * mmap, not malloc: a return probe's attach leaves the program's heap as
	 * an entry probe's would (tests/retlibc compares the two runs' calls).
	 */
	buf = mmap(NULL, 2 * size + after, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	if (buf == MAP_FAILED)
		return -ENOMEM;
	target_read(t, start, buf, size + after);
	err = arch_retsite_analyze(rs, buf, size, after, start, buf + size + after, target_kind,
				   &ctx);
	munmap(buf, 2 * size + after);
	return err ?: check_foreign(t, rs);
}

int retsite_check(const struct probe_target *t, struct arch_retsites *rs)
{
	struct sym_file *f;
	int err;

	memset(rs, 0, offsetof(struct arch_retsites, exit));
	rs->refusal = ARCH_RETSITE_UNDECODABLE;
	if (!t->func_start || !t->func_size || t->addr != t->func_start) {
		snprintf(rs->why, sizeof(rs->why), "the function's extent is not known");
		return -ENOTSUP;
	}
	if (t->func_size > RETSITE_FUNC_MAX || readable_from(t, t->func_start) < t->func_size) {
		snprintf(rs->why, sizeof(rs->why), "the function's extent (%lu bytes) is not "
			 "all in its mapping", t->func_size);
		return -ENOTSUP;
	}
	f = sym_file_open(t->path);
	if (!f) {
		log_clear_error(); /* a verdict, not a failure of the attach */
		snprintf(rs->why, sizeof(rs->why), "cannot read the symbols of %s", t->path);
		return -ENOTSUP;
	}
	err = check_file(t, f, rs);
	sym_file_close(f);
	if (err == -ENOMEM)
		snprintf(rs->why, sizeof(rs->why), "out of memory");
	return err;
}

void retsite_summary(const struct arch_retsites *rs, char *buf, size_t len)
{
	unsigned sites = rs->n - rs->count[ARCH_EXIT_NORETURN];
	size_t pos = snprintf(buf, len, "%u return site%s", sites, sites == 1 ? "" : "s");
	const char *sep = ": ";

	for (int k = 0; k < ARCH_EXIT_NORETURN && pos < len; k++) {
		if (!rs->count[k])
			continue;
		pos += snprintf(buf + pos, len - pos, "%s%u %s", sep, rs->count[k],
				arch_exit_kind_name(k));
		sep = ", ";
	}
	if (rs->in_entry && pos < len)
		pos += snprintf(buf + pos, len - pos, " (%u under the entry's jump)", rs->in_entry);
	if (rs->count[ARCH_EXIT_NORETURN] && pos < len)
		snprintf(buf + pos, len - pos, "; %u no-return call%s",
			 rs->count[ARCH_EXIT_NORETURN],
			 rs->count[ARCH_EXIT_NORETURN] == 1 ? "" : "s");
}

void retsite_in_entry_why(char *buf, size_t len, uint64_t off, const char *entry_why)
{
	snprintf(buf, len, "the ret at +0x%lx lies under the entry's jump, and the entry is not "
		 "jump-optimized (%s)", off, entry_why);
}

void retsite_decide(const struct probe_target *t, const char *entry_why,
		    struct retsite_verdict *v)
{
	static struct arch_retsites scratch; /* registry_lock */
	struct arch_retsites *rs = &scratch;
	int err = retsite_check(t, rs);

	memset(v, 0, sizeof(*v));
	v->path = UPROBE_RET_HIJACK;
	if (!err && rs->in_entry && entry_why) {
		unsigned i = 0;

		while (!rs->exit[i].in_entry)
			i++;
		retsite_in_entry_why(v->why, sizeof(v->why), rs->exit[i].addr - rs->start,
				     entry_why);
	} else if (!err) {
		v->ok = 1;
		if (retpatch_mode() != RETPATCH_HIJACK)
			v->path = UPROBE_RET_SITE;
		v->sites = rs->n - rs->count[ARCH_EXIT_NORETURN];
		retsite_summary(rs, v->why, sizeof(v->why));
	} else {
		snprintf(v->why, sizeof(v->why), "%s", rs->why);
	}
}

const char *uprobe_ret_path_name(enum uprobe_ret_path path)
{
	switch (path) {
	case UPROBE_RET_HIJACK: return "hijack";
	case UPROBE_RET_SITE: return "site";
	default: return "none";
	}
}
