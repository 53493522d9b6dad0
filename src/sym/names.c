/* SPDX-License-Identifier: MIT */
/*
 * Functions by name (sym_find):
 *
 *   NAME               the default version (NAME@@V in .dynsym), else an
 *                      unversioned symbol; globals before locals
 *   NAME@V, NAME@@V    that version (@@: only if it is the default); an
 *                      unknown version is an error naming the ones there are
 *   NAME@plt           the PLT stub (plt.c)
 *   ns::Foo::bar(int)  a C++ function by its demangled name: with the
 *                      parameters (blanks ignored, the return type of a
 *                      template may be left out), or without them when only
 *                      one function has that qualified name
 *   fn_<hex>           a function no symbol names, by its .eh_frame FDE
 *                      (what uprobe_symbols() calls it)
 *
 * C++ names are demangled with libstdc++'s __cxa_demangle, found at run time
 * (dlsym, or dlopen of libstdc++.so.6), so that the library itself does not
 * depend on libstdc++; a process without it gets mangled names only.
 * Demangling runs once per file, on the first lookup that needs it.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sym/sym_priv.h"
#include "util/log.h"

typedef char *(*cxa_demangle_fn)(const char *name, char *buf, size_t *len, int *status);

static cxa_demangle_fn demangler(void)
{
	static cxa_demangle_fn fn;
	static int tried;

	if (__atomic_load_n(&tried, __ATOMIC_ACQUIRE))
		return fn;
	fn = (cxa_demangle_fn)dlsym(RTLD_DEFAULT, "__cxa_demangle");
	if (!fn) {
		void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);

		if (h)
			fn = (cxa_demangle_fn)dlsym(h, "__cxa_demangle");
	}
	__atomic_store_n(&tried, 1, __ATOMIC_RELEASE);
	return fn;
}

bool sym_demangler_available(void)
{
	return demangler() != NULL;
}

/*
 * Where the qualified name sits in a demangled name: after the return type
 * of a template ("int ns::max<int>(int, int)") and before the parameters
 * (the parenthesis matching the last ')'). Blanks and parentheses inside
 * <...> and (...) -- "(anonymous namespace)" -- do not count.
 */
static void qualified_span(const char *d, uint16_t *qoff, uint16_t *qlen)
{
	size_t len = strlen(d), end = len, start = 0;
	const char *close = strrchr(d, ')');
	int depth = 0;

	if (close) {
		for (const char *p = close; p >= d; p--) {
			depth += *p == ')' ? 1 : *p == '(' ? -1 : 0;
			if (!depth) {
				end = (size_t)(p - d);
				break;
			}
		}
	}
	depth = 0;
	for (size_t i = 0; i < end; i++) {
		if (d[i] == '<' || d[i] == '(')
			depth++;
		else if ((d[i] == '>' || d[i] == ')') && depth)
			depth--;
		else if (d[i] == ' ' && !depth && !(i >= 8 && !strncmp(d + i - 8, "operator", 8)))
			start = i + 1;
	}
	if (start > end)
		start = end;
	*qoff = (uint16_t)(start < 65535 ? start : 65535);
	*qlen = (uint16_t)(end - start < 65535 ? end - start : 65535);
}

void sym_demangle_all(struct sym_file *f)
{
	cxa_demangle_fn fn = demangler();

	size_t n;

	if (f->demangled || !fn)
		return;
	f->demangled = true;
	sym_entries(f, &n); /* every entry made: the loop writes them */
	for (size_t i = 0; i < n; i++) {
		struct sym_entry *e = &f->syms[i];
		char *d;
		int status = -1;

		if (strncmp(e->name, "_Z", 2))
			continue;
		/* Aliases (symtab and dynsym copies) are next to each other: demangle once. */
		if (i && f->syms[i - 1].demangled && !strcmp(f->syms[i - 1].name, e->name)) {
			e->demangled = f->syms[i - 1].demangled;
			e->qoff = f->syms[i - 1].qoff;
			e->qlen = f->syms[i - 1].qlen;
			continue;
		}
		d = fn(e->name, NULL, NULL, &status);
		if (!d || status)
			continue;
		e->demangled = sym_pool_strndup(f, d, strlen(d));
		free(d);
		if (e->demangled)
			qualified_span(e->demangled, &e->qoff, &e->qlen);
	}
}

/* a == b[0..blen) ignoring blanks on both sides. */
static bool eq_noblank(const char *a, const char *b, size_t blen)
{
	const char *bend = b + blen;

	for (;;) {
		while (*a == ' ')
			a++;
		while (b < bend && *b == ' ')
			b++;
		if (!*a || b == bend)
			return !*a && b == bend;
		if (*a++ != *b++)
			return false;
	}
}

/* Does the user's C++ name designate e? */
static bool cxx_match(const struct sym_entry *e, const char *want)
{
	const char *d = e->demangled;

	if (!d)
		return false;
	/*
	 * "f(int) [clone .cold]": the part of f that GCC moved away (an
	 * exception's path), entered by a jump of f, never by a call: "f" and
	 * "f(int)" are f; its whole name (or the mangled one) designates it.
	 */
	if (strstr(d, " [clone .cold"))
		return eq_noblank(want, d, strlen(d));
	if (!strchr(want, '('))
		return eq_noblank(want, d + e->qoff, e->qlen);
	return eq_noblank(want, d, strlen(d)) || eq_noblank(want, d + e->qoff, strlen(d + e->qoff));
}

static bool looks_cxx(const char *name)
{
	return strstr(name, "::") || strpbrk(name, "()<>~ ");
}

/* Rank of a plain-name candidate: lower wins. */
static int plain_rank(const struct sym_entry *e)
{
	int r = e->version && !e->ver_default ? 4 : 0;

	return r + (e->bind == STB_LOCAL ? 2 : 0) + (e->size ? 0 : 1);
}

/*
 * Several candidates at different addresses with the same best rank: an
 * error listing them (up to a few), or 0 when they all are one function.
 */
static int check_unique(const struct sym_file *f, const struct sym_entry **c, size_t n,
			const char *want)
{
	char list[512];
	size_t len = 0, shown = 0;
	bool many = false;

	for (size_t i = 1; i < n; i++)
		many |= c[i]->vaddr != c[0]->vaddr;
	if (!many)
		return 0;
	list[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof(list) - 64; i++) {
		bool dup = false;

		for (size_t k = 0; k < i; k++)
			dup |= c[k]->vaddr == c[i]->vaddr;
		if (dup)
			continue;
		len += snprintf(list + len, sizeof(list) - len, "%s%s at 0x%lx", shown++ ? ", " : "",
				c[i]->demangled ? c[i]->demangled : c[i]->name, c[i]->vaddr);
	}
	return log_error(EINVAL, "'%s' is ambiguous in %s: %s%s", want, f->path, list,
			 len >= sizeof(list) - 64 ? ", ..." : "");
}

static int by_name_cmp(const void *a, const void *b, void *arg)
{
	const struct sym_entry *syms = arg;
	uint32_t i = *(const uint32_t *)a, k = *(const uint32_t *)b;
	int d = strcmp(syms[i].name, syms[k].name);

	return d ? d : (i > k) - (i < k);
}

uint32_t *sym_name_order(const struct sym_entry *syms, size_t n)
{
	uint32_t *idx;

	if (!n || n > UINT32_MAX || !(idx = malloc(n * sizeof(*idx))))
		return NULL;
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	qsort_r(idx, n, sizeof(*idx), by_name_cmp, (void *)syms);
	return idx;
}

/*
 * The name index of f (built at the first need, again if the symbols
 * changed; mapped from the symbol cache when f's symbols came from there):
 * thousands of probes on one file cost a binary search each, not a pass over
 * all its symbols. false without memory (then: the linear pass). Ties are in
 * symbol order, so candidates come in the order a pass finds them.
 */
static bool name_index(struct sym_file *f)
{
	uint32_t *idx;
	size_t n;

	if (f->by_name && f->by_name_of == f->syms && f->by_name_n == f->nsyms)
		return true;
	if (!f->by_name_mapped)
		free(f->by_name);
	f->by_name = NULL;
	f->by_name_mapped = false;
	sym_entries(f, &n); /* the order compares names of made entries */
	if (!(idx = sym_name_order(f->syms, n)))
		return false;
	f->by_name = idx;
	f->by_name_n = f->nsyms;
	f->by_name_of = f->syms;
	return true;
}

/* Where the run of entries named base starts in the name index (may be past it). */
static size_t name_lower_bound(const struct sym_file *f, const char *base)
{
	size_t lo = 0, hi = f->by_name_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(sym_name_at(f, f->by_name[mid]), base) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool version_ok(const struct sym_entry *e, const char *ver, bool need_default)
{
	return !ver || (e->version && !strcmp(e->version, ver) && (!need_default || e->ver_default));
}

/* Candidates of one name: best rank first. */
static size_t collect(struct sym_file *f, const char *base, const char *ver, bool need_default,
		      bool cxx, const struct sym_entry **c, size_t max)
{
	size_t n = 0;

	if (!cxx && name_index(f)) {
		for (size_t k = name_lower_bound(f, base); k < f->by_name_n && n < max; k++) {
			const struct sym_entry *e;

			if (strcmp(sym_name_at(f, f->by_name[k]), base))
				break;
			e = sym_entry_at(f, f->by_name[k]);
			if (version_ok(e, ver, need_default))
				c[n++] = e;
		}
	}
	for (size_t i = 0; (cxx || !f->by_name) && i < f->nsyms && n < max; i++) {
		const struct sym_entry *e = sym_entry_at(f, i);

		if (cxx ? !cxx_match(e, base) : strcmp(e->name, base))
			continue;
		if (version_ok(e, ver, need_default))
			c[n++] = e;
	}
	/* Insertion sort by rank: the lists are short. */
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k && plain_rank(c[k]) < plain_rank(c[k - 1]); k--) {
			const struct sym_entry *t = c[k];

			c[k] = c[k - 1];
			c[k - 1] = t;
		}
	return n;
}

/* NAME@VERSION of a version the file does not define: name the ones it does. */
static int unknown_version(struct sym_file *f, const char *base, const char *ver)
{
	char list[256];
	size_t len = 0;

	list[0] = '\0';
	for (size_t i = 0; i < f->nsyms && len < sizeof(list) - 40; i++) {
		const struct sym_entry *e = sym_entry_at(f, i);

		if (strcmp(e->name, base) || !e->version || strstr(list, e->version))
			continue;
		len += snprintf(list + len, sizeof(list) - len, "%s%s%s", len ? ", " : "",
				e->ver_default ? "@@" : "@", e->version);
	}
	if (!len)
		return log_error(ESRCH, "symbol '%s@%s' not found in %s", base, ver, f->path);
	return log_error(ESRCH, "version '%s' of '%s' not found in %s (it has %s)", ver, base,
			 f->path, list);
}

/* fn_<hex>: the function an FDE starts at that address. */
static int find_fde_name(struct sym_file *f, const char *name, struct sym_func *out)
{
	struct sym_func in;
	char *end;
	uint64_t vaddr;

	if (strncmp(name, "fn_", 3) || !isxdigit((unsigned char)name[3]))
		return log_error(ESRCH, "symbol '%s' not found in %s", name, f->path);
	vaddr = strtoull(name + 3, &end, 16);
	if (*end || sym_fde_at(f, vaddr, out))
		return log_error(ESRCH, "symbol '%s' not found in %s", name, f->path);
	if (out->vaddr != vaddr) {
		/* A later CFI row (after a push, say) starts mid-function. */
		if (sym_func_at(f, vaddr, &in) || !in.name[0]) {
			in.vaddr = out->vaddr;
			snprintf(in.name, sizeof(in.name), "fn_%" PRIx64, in.vaddr);
		}
		return log_error(ESRCH, "'%s' is not a function of %s: 0x%" PRIx64 " is inside %s "
				 "(%s+0x%" PRIx64 ")", name, f->path, vaddr, in.name, in.name,
				 vaddr - in.vaddr);
	}
	snprintf(out->name, sizeof(out->name), "%s", name);
	return 0;
}

/*
 * A function not found in a file whose debug file was refused: the refusal
 * may be why (the function may be one only the debug file names).
 */
static int not_found(struct sym_file *f, int err)
{
	char msg[512];

	if (err != -ESRCH || !f->aux.refused[0])
		return err;
	snprintf(msg, sizeof(msg), "%s", uprobe_last_error());
	return log_error(ESRCH, "%s (%s)", msg, f->aux.refused);
}

#define MAX_CANDIDATES 64
#define NAME_MEMO_ASKS 64 /* name memos looked up per file, at most */

int sym_find(struct sym_file *f, const char *name, struct sym_func *out)
{
	const struct sym_entry *c[MAX_CANDIDATES];
	char base[512];
	const char *at = strchr(name, '@'), *ver = NULL;
	bool need_default = false, cxx = false;
	size_t n;
	int err;

	if (strpbrk(name, "*?["))
		return log_error(EINVAL, "'%s' is a wildcard: it names no single function", name);
	/*
	 * A memo spares loading the symbols, for the few probes of a start-up.
	 * Loaded, they answer faster than a memo's lstat, open, fstat and map
	 * (twice per probe); so do they, loaded, for a bulk attach: after
	 * NAME_MEMO_ASKS names in one file, even memos that would answer are
	 * left alone (10,000 probes into a live process: 328 -> 190 ms).
	 */
	if (!__atomic_load_n(&f->syms_state, __ATOMIC_ACQUIRE) &&
	    __atomic_fetch_add(&f->name_memo_asks, 1, __ATOMIC_RELAXED) < NAME_MEMO_ASKS &&
	    sym_name_memo_get(f, name, out))
		return 0;
	err = sym_syms_need(f);
	if (err)
		return err;
	snprintf(base, sizeof(base), "%s", name);
	if (at && at != name && strcmp(at, "@plt")) {
		base[at - name] = '\0';
		need_default = at[1] == '@';
		ver = at + 1 + need_default;
	}
	n = collect(f, base, ver, need_default, false, c, MAX_CANDIDATES);
	/* free_function: the C++ function free_function(int), if that is the only one. */
	if (!n && !ver && (looks_cxx(base) || f->has_cxx)) {
		sym_demangle_all(f);
		if (!f->demangled && looks_cxx(base))
			return log_error(ENOTSUP, "'%s': no C++ demangler (libstdc++.so.6) to read "
					 "the names of %s; use the mangled name", name, f->path);
		cxx = f->demangled;
		if (cxx)
			n = collect(f, base, NULL, false, true, c, MAX_CANDIDATES);
	}
	if (!n && ver && need_default && collect(f, base, ver, false, false, c, MAX_CANDIDATES))
		return log_error(ESRCH, "'%s': %s is not the default version of '%s' in %s (use "
				 "%s@%s)", name, ver, base, f->path, base, ver);
	if (!n && ver)
		return not_found(f, unknown_version(f, base, ver));
	if (!n)
		return not_found(f, find_fde_name(f, name, out));
	/* Only the best-ranked candidates compete; a C++ name must be unique. */
	while (!cxx && n > 1 && plain_rank(c[n - 1]) > plain_rank(c[0]))
		n--;
	err = check_unique(f, c, n, name);
	if (err)
		return err;
	sym_fill(c[0], out);
	sym_name_memo_put(f, name, out);
	return 0;
}

char *sym_demangle(const char *name, size_t *qoff, size_t *qlen)
{
	cxa_demangle_fn fn = strncmp(name, "_Z", 2) ? NULL : demangler();
	uint16_t off, len;
	int status = -1;
	char *d = fn ? fn(name, NULL, NULL, &status) : NULL;

	if (!d || status) {
		free(d);
		return NULL;
	}
	qualified_span(d, &off, &len);
	*qoff = off;
	*qlen = len;
	return d;
}
