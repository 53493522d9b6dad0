/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>

#include "arch/arch.h"
#include "sym/maps.h"
#include "sym/sym_priv.h"
#include "util/log.h"

/*
 * Between sym_batch_begin() and sym_batch_end(), a thread that opens the
 * same file again gets the copy it already read: attaching a thousand probes
 * to one binary reads and sorts its symbols once, not a thousand times.
 */
#define SYM_CACHE 16
static __thread int batch_depth;
static __thread struct sym_file *batch_cache[SYM_CACHE];
static __thread char *batch_asked[SYM_CACHE]; /* the path batch_cache[i] was asked by */

static int sym_cmp(const void *a, const void *b)
{
	const struct sym_entry *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* Version index -> name, from .gnu.version_d (index 0 and 1: none). */
static const char **verdef_names(Elf *elf, size_t *n)
{
	Elf_Scn *scn = NULL;
	const char **names = NULL;

	*n = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		GElf_Verdef vd;
		GElf_Verdaux va;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_GNU_verdef ||
		    !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t off = 0; gelf_getverdef(d, (int)off, &vd); off += vd.vd_next) {
			if (vd.vd_ndx >= *n) {
				const char **grown = realloc(names, (vd.vd_ndx + 1) * sizeof(*names));

				if (!grown)
					break;
				memset(grown + *n, 0, (vd.vd_ndx + 1 - *n) * sizeof(*names));
				names = grown;
				*n = vd.vd_ndx + 1;
			}
			if (!(vd.vd_flags & VER_FLG_BASE) && gelf_getverdaux(d, (int)(off + vd.vd_aux), &va))
				names[vd.vd_ndx] = elf_strptr(elf, sh.sh_link, va.vda_name);
			if (!vd.vd_next)
				break;
		}
	}
	return names;
}

static Elf_Data *versym_data(Elf *elf)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_GNU_versym)
			return elf_getdata(scn, NULL);
	return NULL;
}

/*
 * Name and version of one symbol: .dynsym through .gnu.version (the hidden
 * bit clear means the default version); a .symtab spells it in the name,
 * NAME@VERSION or NAME@@VERSION (the default).
 */
static int sym_set_name(struct sym_file *f, struct sym_entry *e, const char *raw, Elf_Data *vs,
			size_t i, const char **vnames, size_t nv)
{
	const char *at = strchr(raw, '@');
	GElf_Versym v;

	e->name = raw;
	if (vs && gelf_getversym(vs, (int)i, &v) && (v & 0x7fff) < nv && vnames[v & 0x7fff]) {
		e->version = vnames[v & 0x7fff];
		e->ver_default = !(v & 0x8000);
	}
	if (!at || at == raw)
		return 0;
	e->name = sym_pool_strndup(f, raw, (size_t)(at - raw));
	e->ver_default = at[1] == '@';
	e->version = at + 1 + e->ver_default;
	return e->name ? 0 : -ENOMEM;
}

int sym_load_table(struct sym_file *f, Elf *elf, Elf_Scn *scn, GElf_Shdr *sh, int src)
{
	Elf_Data *data = elf_getdata(scn, NULL), *vs = NULL;
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0, nv = 0;
	const char **vnames = NULL;
	struct sym_entry *grown;
	int err = 0;

	if (!data || !n)
		return 0;
	grown = realloc(f->syms, (f->nsyms + n) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	f->syms = grown;
	if (sh->sh_type == SHT_DYNSYM && (vs = versym_data(elf)))
		vnames = verdef_names(elf, &nv);
	for (size_t i = 0; i < n && !err; i++) {
		struct sym_entry *e = &f->syms[f->nsyms];
		const char *raw;
		GElf_Sym s;
		int type;

		if (!gelf_getsym(data, (int)i, &s) || s.st_shndx == SHN_UNDEF || !s.st_value)
			continue;
		type = GELF_ST_TYPE(s.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC)
			continue;
		raw = elf_strptr(elf, sh->sh_link, s.st_name);
		if (!raw || !*raw)
			continue;
		*e = (struct sym_entry){
			.vaddr = s.st_value,
			.size = s.st_size,
			.bind = GELF_ST_BIND(s.st_info),
			.src = src,
			.ifunc = type == STT_GNU_IFUNC,
		};
		err = sym_set_name(f, e, raw, vs, i, vnames, nv);
		f->has_cxx |= raw[0] == '_' && raw[1] == 'Z';
		f->nsyms++;
	}
	free(vnames);
	return err;
}

const char *sym_pool_strndup(struct sym_file *f, const char *s, size_t n)
{
	struct sym_pool_chunk *c = f->pool;
	char *out;

	if (!c || c->cap - c->used < n + 1) {
		size_t cap = n + 1 > 65536 ? n + 1 : 65536;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = f->pool;
		f->pool = c;
	}
	out = c->data + c->used;
	memcpy(out, s, n);
	out[n] = '\0';
	c->used += n + 1;
	return out;
}

static int sym_load(struct sym_file *f)
{
	const struct elf_hdrs *h = &f->hdrs;

	f->nphdrs = h->nphdrs;
	f->phdrs = calloc(f->nphdrs ? f->nphdrs : 1, sizeof(*f->phdrs));
	if (!f->phdrs)
		return log_error(ENOMEM, "out of memory");
	if (f->nphdrs)
		memcpy(f->phdrs, h->phdrs, f->nphdrs * sizeof(*f->phdrs)); /* GElf_Phdr is Elf64_Phdr */
	for (size_t i = 1; i < h->shnum; i++) {
		const char *name = elf_hdrs_name(h, i);

		if (name && (!strcmp(name, ".gopclntab") || !strcmp(name, ".go.buildinfo")))
			f->go = true;
		if (h->sh[i].sh_type == SHT_SYMTAB)
			f->has_symtab = true;
	}
	f->aux_src = f->has_symtab ? -1 : sym_debug_open(f);
	return 0;
}

/*
 * The symbols: the cache's (libc's: 0.5 MB mapped and read whole for its
 * checksum, 10,000 entries checked), else the file's symbol tables. Not at
 * open: an image whose probes' names a memo answers never needs them.
 */
static int syms_load(struct sym_file *f)
{
	int aux_src = f->aux_src;
	Elf_Scn *scn = NULL;
	Elf *elf;

	if (sym_cache_load(f, aux_src))
		return 0;
	/* Not cached: the symbol tables, read with libelf (opened now, the first need). */
	if (!(elf = sym_file_elf(f)))
		return log_error(ENOEXEC, "%s: %s", f->path, uprobe_last_error());
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) &&
		    (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) &&
		    sym_load_table(f, elf, scn, &sh,
				   sh.sh_type == SHT_SYMTAB ? SYM_SRC_SYMTAB : SYM_SRC_DYNSYM))
			return log_error(ENOMEM, "out of memory");
	}
	if (aux_src >= 0)
		sym_load_debug(f, aux_src);
	if (sym_load_plt(f))
		return log_error(ENOMEM, "out of memory");
	if (f->nsyms) /* qsort(NULL, 0) is undefined behaviour (UBSan) */
		qsort(f->syms, f->nsyms, sizeof(*f->syms), sym_cmp);
	sym_cache_store(f, aux_src);
	return 0;
}

int sym_syms_need(const struct sym_file *cf)
{
	struct sym_file *f = (struct sym_file *)cf; /* loading changes no answer */

	if (!__atomic_load_n(&f->syms_state, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&f->syms_lock);
		if (!f->syms_state) {
			f->syms_err = syms_load(f);
			if (f->syms_err)
				snprintf(f->syms_why, sizeof(f->syms_why), "%s", uprobe_last_error());
			__atomic_store_n(&f->syms_state, 1, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&f->syms_lock);
	}
	/* Each caller reports the error: the message again, not another call's. */
	return f->syms_err ? log_error(-f->syms_err, "%s", f->syms_why) : 0;
}

bool sym_file_is_go(const struct sym_file *f)
{
	return f->go;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static struct sym_file *cache_lookup(const char *path)
{
	struct stat st;

	if (!batch_depth || stat(path, &st))
		return NULL;
	for (int i = 0; i < SYM_CACHE; i++) {
		struct sym_file *f = batch_cache[i];

		if (f && !strcmp(f->path, path) && same_file(&f->st, &st)) {
			__atomic_fetch_add(&f->refs, 1, __ATOMIC_RELAXED);
			return f;
		}
	}
	return NULL;
}

struct sym_file *sym_batch_find(const char *asked, const struct stat *st)
{
	for (int i = 0; batch_depth && i < SYM_CACHE; i++) {
		struct sym_file *f = batch_cache[i];

		if (f && batch_asked[i] && !strcmp(batch_asked[i], asked) &&
		    (!st || same_file(&f->st, st))) {
			__atomic_fetch_add(&f->refs, 1, __ATOMIC_RELAXED);
			return f;
		}
	}
	return NULL;
}

void sym_batch_asked(const char *asked, const struct sym_file *f)
{
	for (int i = 0; batch_depth && i < SYM_CACHE; i++) {
		if (batch_cache[i] != f)
			continue;
		free(batch_asked[i]);
		batch_asked[i] = strdup(asked); /* NULL: simply not found again */
		return;
	}
}

static void cache_add(struct sym_file *f)
{
	for (int i = 0; batch_depth && i < SYM_CACHE; i++) {
		if (!batch_cache[i]) {
			__atomic_fetch_add(&f->refs, 1, __ATOMIC_RELAXED);
			batch_cache[i] = f;
			return;
		}
	}
}

void sym_batch_begin(void)
{
	batch_depth++;
	maps_batch_begin();
}

void sym_batch_end(void)
{
	if (batch_depth <= 0)
		return;
	maps_batch_end();
	if (--batch_depth)
		return;
	for (int i = 0; i < SYM_CACHE; i++) {
		sym_file_close(batch_cache[i]);
		batch_cache[i] = NULL;
		free(batch_asked[i]);
		batch_asked[i] = NULL;
	}
}

struct sym_file *sym_file_open(const char *path)
{
	struct sym_file *f = cache_lookup(path);
	int err;

	if (f)
		return f;
	f = calloc(1, sizeof(*f));
	if (f)
		f->aux.fd = -1;
	if (!f) {
		errno = -log_error(ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(f->path, sizeof(f->path), "%s", path);
	pthread_mutex_init(&f->elf_lock, NULL);
	pthread_mutex_init(&f->syms_lock, NULL);
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		err = log_error(errno, "%s: %s", path, strerror(errno));
		goto err_free;
	}
	if (fstat(f->fd, &f->st)) {
		err = log_error(errno, "%s: %s", path, strerror(errno));
		goto err_close;
	}
	err = elf_hdrs_read(f->fd, (uint64_t)f->st.st_size, &f->hdrs);
	if (err) {
		if (!f->hdrs.elf)
			err = log_error(ENOEXEC, "%s: not an ELF file", path);
		else if (!f->hdrs.machine_ok)
			err = log_error(ENOEXEC, "%s: not an " ARCH_ELF_DESC " ELF file", path);
		else
			err = log_error(ENOEXEC, "%s: no program headers", path);
		goto err_close;
	}
	err = sym_load(f);
	if (err)
		goto err_close;
	f->refs = 1;
	cache_add(f);
	return f;

err_close:
	sym_file_close(f);
	errno = -err;
	return NULL;
err_free:
	pthread_mutex_destroy(&f->elf_lock);
	pthread_mutex_destroy(&f->syms_lock);
	free(f);
	errno = -err;
	return NULL;
}

void sym_file_close(struct sym_file *f)
{
	if (!f || (f->refs && __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL)))
		return;
	if (f->elf)
		elf_end(f->elf);
	if (f->fd >= 0)
		close(f->fd);
	elf_hdrs_free(&f->hdrs);
	pthread_mutex_destroy(&f->elf_lock);
	pthread_mutex_destroy(&f->syms_lock);
	sym_aux_close(&f->aux);
	while (f->pool) {
		struct sym_pool_chunk *next = f->pool->next;

		free(f->pool);
		f->pool = next;
	}
	free(f->syms);
	if (f->made) {
		free(f->made);
		pthread_mutex_destroy(&f->made_lock);
	}
	if (!f->by_name_mapped)
		free(f->by_name);
	if (f->cache_map)
		munmap(f->cache_map, f->cache_len);
	free(f->fdes);
	free(f->phdrs);
	free(f);
}

const char *sym_file_path(const struct sym_file *f)
{
	return f->path;
}

dev_t sym_file_dev(const struct sym_file *f)
{
	return f->st.st_dev;
}

ino_t sym_file_ino(const struct sym_file *f)
{
	return f->st.st_ino;
}

uint64_t sym_file_size(const struct sym_file *f)
{
	return f->st.st_size;
}

uint64_t sym_file_mtime_ns(const struct sym_file *f)
{
	return (uint64_t)f->st.st_mtim.tv_sec * 1000000000u + (uint64_t)f->st.st_mtim.tv_nsec;
}

/*
 * libelf's view of the file, made at its first need (a cache miss, PLT stubs,
 * .eh_frame, DWARF, SDT notes): the cached path reads the headers itself
 * (elfhdr.c) and never loads libelf. NULL (the reason logged) when libelf
 * cannot be opened or refuses the file.
 */
Elf *sym_file_elf(const struct sym_file *cf)
{
	struct sym_file *f = (struct sym_file *)cf; /* opening it changes no answer */
	Elf *elf = __atomic_load_n(&f->elf, __ATOMIC_ACQUIRE);
	int err;

	if (elf || !lazy_elf(&err))
		return elf;
	pthread_mutex_lock(&f->elf_lock);
	elf = f->elf;
	if (!elf) {
		elf = elf_begin(f->fd, ELF_C_READ_MMAP, NULL);
		if (elf && elf_kind(elf) != ELF_K_ELF) {
			elf_end(elf);
			elf = NULL;
		}
		if (!elf)
			log_error(ENOEXEC, "%s: libelf cannot read it", f->path);
		__atomic_store_n(&f->elf, elf, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&f->elf_lock);
	return elf;
}

void sym_fill(const struct sym_entry *e, struct sym_func *out)
{
	snprintf(out->name, sizeof(out->name), "%s", e->name);
	out->vaddr = e->vaddr;
	out->size = e->size;
	out->ifunc = e->ifunc;
}

size_t sym_index_after(const struct sym_file *f, uint64_t vaddr)
{
	size_t lo = 0, hi = sym_syms_need(f) ? 0 : f->nsyms;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (sym_vaddr_at(f, mid) <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t sym_code_section_end(const struct sym_file *f, uint64_t vaddr)
{
	for (size_t i = 0; i < f->hdrs.shnum; i++) {
		const Elf64_Shdr *sh = &f->hdrs.sh[i];

		if ((sh->sh_flags & (SHF_ALLOC | SHF_EXECINSTR)) == (SHF_ALLOC | SHF_EXECINSTR) &&
		    vaddr >= sh->sh_addr && vaddr - sh->sh_addr < sh->sh_size)
			return sh->sh_addr + sh->sh_size;
	}
	return 0;
}

int sym_func_at(struct sym_file *f, uint64_t vaddr, struct sym_func *out)
{
	/* Scan back over the candidates from the first entry past the address. */
	for (size_t i = sym_index_after(f, vaddr); i-- > 0;) {
		const struct sym_entry *e = sym_entry_at(f, i);

		if (e->size && vaddr < e->vaddr + e->size && !e->ifunc) {
			sym_fill(e, out);
			return 0;
		}
		if (vaddr - e->vaddr > (1u << 20))
			break; /* no function is that large: stop scanning */
	}
	return sym_fde_at(f, vaddr, out);
}

static const GElf_Phdr *sym_exec_load(const struct sym_file *f, uint64_t key, bool by_vaddr)
{
	for (size_t i = 0; i < f->nphdrs; i++) {
		const GElf_Phdr *p = &f->phdrs[i];
		uint64_t base = by_vaddr ? p->p_vaddr : p->p_offset;

		if (p->p_type != PT_LOAD || !(p->p_flags & PF_X))
			continue;
		if (key >= base && key - base < p->p_filesz)
			return p;
	}
	return NULL;
}

int sym_vaddr_to_off(const struct sym_file *f, uint64_t vaddr, uint64_t *off)
{
	const GElf_Phdr *p = sym_exec_load(f, vaddr, true);

	if (!p)
		return -ENXIO;
	*off = vaddr - p->p_vaddr + p->p_offset;
	return 0;
}

int sym_off_to_vaddr(const struct sym_file *f, uint64_t off, uint64_t *vaddr)
{
	const GElf_Phdr *p = sym_exec_load(f, off, false);

	if (!p)
		return -ENXIO;
	*vaddr = off - p->p_offset + p->p_vaddr;
	return 0;
}

int sym_exec_segment(const struct sym_file *f, uint64_t off, uint64_t *vaddr, uint64_t *offset,
		     uint64_t *filesz)
{
	const GElf_Phdr *p = sym_exec_load(f, off, false);

	if (!p)
		return -ENXIO;
	*vaddr = p->p_vaddr;
	*offset = p->p_offset;
	*filesz = p->p_filesz;
	return 0;
}

unsigned sym_loads(const struct sym_file *f, struct sym_load *out, unsigned max)
{
	unsigned n = 0;

	for (size_t i = 0; i < f->nphdrs && n < max; i++)
		if (f->phdrs[i].p_type == PT_LOAD)
			out[n++] = (struct sym_load){ f->phdrs[i].p_vaddr, f->phdrs[i].p_offset,
						      f->phdrs[i].p_filesz };
	return n;
}
