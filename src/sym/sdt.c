/* SPDX-License-Identifier: MIT */
/*
 * SystemTap SDT markers: the notes <sys/sdt.h> leaves in .note.stapsdt.
 *
 * Each note (owner "stapsdt", type 3) describes one marker:
 *
 *   desc: [pc: u64][base: u64][semaphore: u64] provider\0 name\0 args\0
 *
 * pc is the address of the marker's nop, semaphore the address of a u16
 * counter that *_ENABLED() reads (0: none). base is the address the linker
 * gave the .stapsdt.base section when the note was made; if the file was
 * moved since (prelink), the section's address now differs and pc and
 * semaphore move by the same amount, as systemtap reads them.
 *
 * args is what the compiler wrote for each argument, blank separated:
 * "[-]SIZE@OPERAND", SIZE the bytes (1, 2, 4, 8) and '-' for signed, OPERAND
 * an AT&T operand valid at pc: %reg, $imm, disp(%reg), sym(%rip). They are
 * decoded here into the trace layer's fetch-args, named arg1..argN:
 *
 *   -4@%edi          arg1=%di:s32          (a narrower register: the 64-bit
 *   8@-16(%rbp)      arg2=-0x10(%bp):u64    one, read with the narrower type)
 *   -1@$5            arg3=\5:s8
 *   4@cnt+8(%rip)    arg4=+0x2f18(%ip):u32  (the probe's %ip is pc: the
 *                                           distance from pc to cnt+8)
 *
 * An operand the trace layer cannot express (index registers, segments,
 * high-byte or SIMD registers, an absolute address, a symbol's address as
 * an immediate) leaves the marker without fetch-args and with an error that
 * names the argument: it can still be listed, not traced with its args.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gelf.h>
#include <libelf.h>

#include "sym/sdt.h"
#include "sym/sym.h"
#include "util/lazylibs.h"
#include "util/log.h"

#define NT_STAPSDT 3

struct sdt_ctx {
	struct sym_file *f;
	Elf *elf;
	uint64_t base; /* address of .stapsdt.base now (0: no such section) */
	struct trace_sdt_marker *m;
	int n, cap;
};

/* A growing string for the decoded fetch-args. */
struct sdt_buf {
	char *s;
	size_t len, cap;
	int failed;
};

static void buf_printf(struct sdt_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || b->failed) {
		b->failed = 1;
		return;
	}
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = (b->len + (size_t)n + 1) * 2;
		char *s = realloc(b->s, cap);

		if (!s) {
			b->failed = 1;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* ---- registers ----------------------------------------------------------------------- */

struct sdt_reg {
	const char *name; /* the trace layer's: "ax", "r8", "ip" */
	int width;	  /* bytes the operand names */
};

static const struct {
	const char *reg, *n64, *n32, *n16, *n8;
} gp_regs[] = {
	{ "ax", "rax", "eax", "ax", "al" }, { "bx", "rbx", "ebx", "bx", "bl" },
	{ "cx", "rcx", "ecx", "cx", "cl" }, { "dx", "rdx", "edx", "dx", "dl" },
	{ "si", "rsi", "esi", "si", "sil" }, { "di", "rdi", "edi", "di", "dil" },
	{ "bp", "rbp", "ebp", "bp", "bpl" }, { "sp", "rsp", "esp", "sp", "spl" },
};

static const char *const r_names[] = { "r8",  "r9",  "r10", "r11",
				       "r12", "r13", "r14", "r15" };

/* "%eax" (without the '%') -> ax, 4. Returns 0, or -ENOENT for an unknown name. */
static int reg_lookup(const char *s, struct sdt_reg *r)
{
	for (size_t i = 0; i < sizeof(gp_regs) / sizeof(gp_regs[0]); i++) {
		const char *const n[4] = { gp_regs[i].n64, gp_regs[i].n32, gp_regs[i].n16,
					   gp_regs[i].n8 };

		for (int k = 0; k < 4; k++)
			if (!strcmp(s, n[k])) {
				*r = (struct sdt_reg){ gp_regs[i].reg, 8 >> k };
				return 0;
			}
	}
	for (size_t i = 0; i < sizeof(r_names) / sizeof(r_names[0]); i++) {
		size_t len = strlen(r_names[i]);
		static const char suffix[] = "\0dwbl";
		static const int width[] = { 8, 4, 2, 1, 1 };

		if (strncmp(s, r_names[i], len))
			continue;
		for (int k = 0; k < 5; k++)
			if (s[len] == suffix[k] && (k == 0 || !s[len + 1])) {
				*r = (struct sdt_reg){ r_names[i], width[k] };
				return 0;
			}
	}
	if (!strcmp(s, "rip")) {
		*r = (struct sdt_reg){ "ip", 8 };
		return 0;
	}
	return -ENOENT;
}

/* ---- symbols (for sym(%rip)) ---------------------------------------------------------- */

static bool symbol_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.';
}

/* The address of a data or code symbol of the file; -ENOENT, -EEXIST (two), -ENOTSUP (TLS). */
static int sym_value(Elf *elf, const char *name, uint64_t *out)
{
	Elf_Scn *scn = NULL;
	int found = 0;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;
		GElf_Shdr sh;
		size_t n;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		data = elf_getdata(scn, NULL);
		n = sh.sh_entsize && data ? sh.sh_size / sh.sh_entsize : 0;
		for (size_t i = 0; i < n; i++) {
			const char *s;
			GElf_Sym sym;

			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			s = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!s || strcmp(s, name))
				continue;
			if (GELF_ST_TYPE(sym.st_info) == STT_TLS)
				return -ENOTSUP;
			if (found && *out != sym.st_value)
				return -EEXIST;
			*out = sym.st_value;
			found = 1;
		}
	}
	return found ? 0 : -ENOENT;
}

/* ---- one argument ---------------------------------------------------------------------- */

struct sdt_arg {
	char fetch[96];
	int size; /* 0: not given */
	bool sign;
};

/* The whole of s as a signed number (decimal or 0x hex): 0 or -EINVAL. */
static int parse_num(const char *s, int64_t *v)
{
	char *end;

	if (!*s || (*s != '-' && *s != '+' && (*s < '0' || *s > '9')))
		return -EINVAL;
	errno = 0;
	*v = strtoll(s, &end, 0);
	return errno || *end ? -EINVAL : 0;
}

static void fmt_disp(char *buf, size_t len, int64_t d, const char *reg)
{
	if (d < 0)
		snprintf(buf, len, "-0x%" PRIx64 "(%%%s)", -(uint64_t)d, reg);
	else
		snprintf(buf, len, "+0x%" PRIx64 "(%%%s)", (uint64_t)d, reg);
}

/* "%REG": why is filled on failure. */
static int decode_reg(const char *op, struct sdt_arg *a, char *why, size_t wlen)
{
	struct sdt_reg r;

	if (strchr(op, ':')) {
		snprintf(why, wlen, "segment registers are not supported");
		return -ENOTSUP;
	}
	if (reg_lookup(op + 1, &r) || !strcmp(r.name, "ip")) {
		if (!strcmp(op, "%ah") || !strcmp(op, "%bh") || !strcmp(op, "%ch") ||
		    !strcmp(op, "%dh"))
			snprintf(why, wlen, "high-byte register %s is not supported", op);
		else
			snprintf(why, wlen, "%s is not a general-purpose register", op);
		return -ENOTSUP;
	}
	snprintf(a->fetch, sizeof(a->fetch), "%%%s", r.name);
	if (!a->size) {
		a->size = r.width;
		a->sign = true;
	}
	return 0;
}

/* "$IMM" */
static int decode_imm(const char *op, struct sdt_arg *a, char *why, size_t wlen)
{
	int64_t v;

	if (parse_num(op + 1, &v)) {
		snprintf(why, wlen, "an address as an immediate (%s) is not supported", op);
		return -ENOTSUP;
	}
	snprintf(a->fetch, sizeof(a->fetch), "\\%" PRId64, v);
	return 0;
}

/* SYM[+-N], the memory at it: +DELTA(%ip), %ip being the marker's pc at the hit. */
static int decode_symbol(struct sdt_ctx *cx, uint64_t pc, const char *disp, struct sdt_arg *a,
			 char *why, size_t wlen)
{
	size_t n = strcspn(disp, "+-");
	char name[256];
	int64_t add = 0;
	uint64_t v;
	int ret;

	if (n >= sizeof(name) || (disp[n] && parse_num(disp + n, &add))) {
		snprintf(why, wlen, "cannot read the displacement '%s'", disp);
		return -EINVAL;
	}
	memcpy(name, disp, n);
	name[n] = 0;
	ret = sym_value(cx->elf, name, &v);
	if (ret) {
		snprintf(why, wlen, ret == -ENOENT ? "no symbol '%s' in the file"
				    : ret == -EEXIST ? "symbol '%s' is ambiguous (two addresses)"
						     : "'%s' is thread-local (not supported)",
			 name);
		return ret;
	}
	fmt_disp(a->fetch, sizeof(a->fetch), (int64_t)(v + (uint64_t)add - pc), "ip");
	return 0;
}

/* "[DISP](%REG)", "SYM[+-N](%rip)" or "SYM". */
static int decode_mem(struct sdt_ctx *cx, uint64_t pc, const char *op, struct sdt_arg *a,
		      char *why, size_t wlen)
{
	const char *open = strchr(op, '(');
	char disp[256], inner[32];
	struct sdt_reg r;
	int64_t d = 0;
	size_t n = open ? (size_t)(open - op) : strlen(op), in_len;

	if (n >= sizeof(disp) || strchr(op, ':')) {
		snprintf(why, wlen, "%s", n >= sizeof(disp) ? "operand too long"
							    : "segment registers are not supported");
		return -ENOTSUP;
	}
	memcpy(disp, op, n);
	disp[n] = 0;
	if (!a->size) {
		a->size = 8;
		a->sign = true;
	}
	if (!open) {
		if (symbol_start(disp[0]))
			return decode_symbol(cx, pc, disp, a, why, wlen);
		snprintf(why, wlen, "an absolute address (%s) is not supported", op);
		return -ENOTSUP;
	}
	in_len = strlen(open + 1);
	if (!in_len || open[in_len] != ')' || in_len - 1 >= sizeof(inner) || open[1] != '%') {
		snprintf(why, wlen, "cannot read the operand '%s'", op);
		return -EINVAL;
	}
	memcpy(inner, open + 2, in_len - 2);
	inner[in_len - 2] = 0;
	if (strchr(inner, ',')) {
		snprintf(why, wlen, "index registers are not supported: %s", open);
		return -ENOTSUP;
	}
	if (reg_lookup(inner, &r) || r.width != 8) {
		snprintf(why, wlen, "%%%s is not a 64-bit general-purpose register", inner);
		return -ENOTSUP;
	}
	if (!strcmp(r.name, "ip")) {
		if (symbol_start(disp[0]))
			return decode_symbol(cx, pc, disp, a, why, wlen);
		snprintf(why, wlen, "a numeric %%rip displacement (%s) is not supported", op);
		return -ENOTSUP;
	}
	if (disp[0] && parse_num(disp, &d)) {
		snprintf(why, wlen, "cannot read the displacement '%s'", disp);
		return -EINVAL;
	}
	fmt_disp(a->fetch, sizeof(a->fetch), d, r.name);
	return 0;
}

/* "[-]SIZE@OPERAND" or "OPERAND" */
static int decode_arg(struct sdt_ctx *cx, uint64_t pc, const char *tok, struct sdt_arg *a,
		      char *why, size_t wlen)
{
	const char *at = strchr(tok, '@'), *op = tok;
	int64_t size;

	*a = (struct sdt_arg){ .size = 0 };
	if (at && at > tok && !strchr("%$(", tok[0])) {
		char num[16];
		size_t n = (size_t)(at - tok);

		if (n >= sizeof(num))
			n = sizeof(num) - 1;
		memcpy(num, tok, n);
		num[n] = 0;
		if (parse_num(num, &size) || (llabs(size) != 1 && llabs(size) != 2 &&
					      llabs(size) != 4 && llabs(size) != 8)) {
			snprintf(why, wlen, "size '%s' is not 1, 2, 4 or 8 (signed: -1 ... -8)", num);
			return -EINVAL;
		}
		a->size = (int)llabs(size);
		a->sign = size < 0;
		op = at + 1;
	}
	if (op[0] == '%')
		return decode_reg(op, a, why, wlen);
	if (op[0] == '$') {
		if (!a->size) {
			a->size = 8;
			a->sign = true;
		}
		return decode_imm(op, a, why, wlen);
	}
	return decode_mem(cx, pc, op, a, why, wlen);
}

/* The marker's args as " arg1=FETCH:TYPE ...", or its error. */
static int decode_args(struct sdt_ctx *cx, struct trace_sdt_marker *m)
{
	struct sdt_buf b = { 0 };
	char *copy = strdup(m->args), *save = NULL, *tok, why[160];
	int i = 0;

	if (!copy)
		return -ENOMEM;
	buf_printf(&b, "%s", "");
	for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		struct sdt_arg a;

		if (++i > TRACE_MAX_ARGS || decode_arg(cx, m->pc, tok, &a, why, sizeof(why))) {
			if (i > TRACE_MAX_ARGS)
				snprintf(why, sizeof(why), "more than %d arguments", TRACE_MAX_ARGS);
			if (asprintf(&m->error, "arg%d '%s': %s", i, tok, why) < 0)
				m->error = NULL;
			free(b.s);
			free(copy);
			return m->error ? 0 : -ENOMEM;
		}
		buf_printf(&b, " arg%d=%s:%c%d", i, a.fetch, a.sign ? 's' : 'u', a.size * 8);
	}
	free(copy);
	if (b.failed) {
		free(b.s);
		return -ENOMEM;
	}
	m->fetchargs = b.s;
	return 0;
}

/* ---- notes ---------------------------------------------------------------------------- */

/* vaddr -> file offset through any PT_LOAD that holds it in the file: 0 or -ENXIO. */
static int any_vaddr_to_off(const struct sym_file *f, uint64_t vaddr, uint64_t *off)
{
	struct sym_load seg[32];
	unsigned n = sym_loads(f, seg, 32);

	for (unsigned i = 0; i < n; i++)
		if (vaddr >= seg[i].vaddr && vaddr - seg[i].vaddr < seg[i].filesz) {
			*off = seg[i].offset + (vaddr - seg[i].vaddr);
			return 0;
		}
	return -ENXIO;
}

/* Where the marker is in the file; a marker that cannot be placed gets an error. */
static int place_marker(struct sdt_ctx *cx, struct trace_sdt_marker *m)
{
	const char *why = NULL;

	if (sym_vaddr_to_off(cx->f, m->pc, &m->offset))
		why = "is not in an executable segment";
	else if (m->semaphore && any_vaddr_to_off(cx->f, m->semaphore, &m->semaphore_offset))
		why = "has a semaphore that is not in the file";
	if (why && asprintf(&m->error, "marker at 0x%" PRIx64 " %s", m->pc, why) < 0) {
		m->error = NULL;
		return -ENOMEM;
	}
	return why ? 0 : decode_args(cx, m);
}

static int add_marker(struct sdt_ctx *cx, const uint8_t *desc, size_t len)
{
	struct trace_sdt_marker *m;
	uint64_t addr[3];
	const char *s[3], *p = (const char *)desc + sizeof(addr), *end = (const char *)desc + len;

	if (len < sizeof(addr))
		return 0; /* not a note we can read: skipped */
	memcpy(addr, desc, sizeof(addr));
	for (int i = 0; i < 3; i++) {
		const char *nul = memchr(p, 0, (size_t)(end - p));

		if (!nul)
			return 0;
		s[i] = p;
		p = nul + 1;
	}
	if (cx->n == cx->cap) {
		int cap = cx->cap ? 2 * cx->cap : 16;
		struct trace_sdt_marker *grown = realloc(cx->m, (size_t)cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		cx->m = grown;
		cx->cap = cap;
	}
	m = &cx->m[cx->n];
	*m = (struct trace_sdt_marker){ .pc = addr[0], .semaphore = addr[2] };
	if (cx->base && addr[1]) { /* moved since the link: see the top of the file */
		m->pc += cx->base - addr[1];
		if (m->semaphore)
			m->semaphore += cx->base - addr[1];
	}
	m->provider = strdup(s[0]);
	m->name = strdup(s[1]);
	m->args = strdup(s[2]);
	cx->n++;
	if (!m->provider || !m->name || !m->args)
		return -ENOMEM;
	return place_marker(cx, m);
}

static int read_notes(struct sdt_ctx *cx, Elf_Scn *scn)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;
	int ret;

	while (data && (next = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		const char *owner = (const char *)data->d_buf + name_off;

		if (nh.n_type == NT_STAPSDT && nh.n_namesz == 8 && !memcmp(owner, "stapsdt", 8)) {
			ret = add_marker(cx, (const uint8_t *)data->d_buf + desc_off, nh.n_descsz);
			if (ret)
				return ret;
		}
		off = next;
	}
	return 0;
}

/* The address of .stapsdt.base now, then every .note.stapsdt section. */
static int read_sections(struct sdt_ctx *cx)
{
	size_t shstrndx = 0;
	Elf_Scn *scn = NULL;
	int ret = 0;

	if (!cx->elf || elf_getshdrstrndx(cx->elf, &shstrndx)) /* NULL: libelf unusable */
		return 0;
	for (int pass = 0; pass < 2 && !ret; pass++) {
		while ((scn = elf_nextscn(cx->elf, scn)) && !ret) {
			const char *name;
			GElf_Shdr sh;

			if (!gelf_getshdr(scn, &sh))
				continue;
			name = elf_strptr(cx->elf, shstrndx, sh.sh_name);
			if (!name)
				continue;
			if (pass == 0 && !strcmp(name, ".stapsdt.base"))
				cx->base = sh.sh_addr;
			if (pass == 1 && sh.sh_type == SHT_NOTE && !strcmp(name, ".note.stapsdt"))
				ret = read_notes(cx, scn);
		}
	}
	return ret;
}

void sdt_free(struct trace_sdt_marker *m, int n)
{
	for (int i = 0; m && i < n; i++) {
		free(m[i].provider);
		free(m[i].name);
		free(m[i].args);
		free(m[i].fetchargs);
		free(m[i].error);
	}
	free(m);
}

int sdt_read(const char *path, struct trace_sdt_marker **out)
{
	struct sdt_ctx cx = { 0 };
	int ret;

	*out = NULL;
	cx.f = sym_file_open(path);
	if (!cx.f)
		return -errno;
	cx.elf = sym_file_elf(cx.f);
	ret = read_sections(&cx);
	sym_file_close(cx.f);
	if (ret) {
		sdt_free(cx.m, cx.n);
		return log_error(-ret, "%s: out of memory reading its SDT notes", path);
	}
	*out = cx.m;
	return cx.n;
}
