/* SPDX-License-Identifier: MIT */
/*
 * Inside the sym layer: a file's function symbols gathered from every place a
 * debugger looks (see elf.c for the order), shared by elf.c (loading,
 * lookup by address), debug.c (separate debug files, MiniDebugInfo), plt.c
 * (PLT stubs), names.c (versions, C++ names, lookup by name) and enum.c
 * (uprobe_symbols()).
 */
#ifndef UPROBES_SYM_PRIV_H
#define UPROBES_SYM_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include <gelf.h>
#include <libelf.h>

#include "sym/sym.h"
#include "util/lazylibs.h" /* libelf through its table: the agent loads it at its first need */

/* Where a symbol came from. */
enum sym_src {
	SYM_SRC_SYMTAB,	   /* the file's own .symtab */
	SYM_SRC_DYNSYM,	   /* the file's .dynsym */
	SYM_SRC_DEBUG,	   /* .symtab of a separate debug file (build-id, .gnu_debuglink) */
	SYM_SRC_DEBUGDATA, /* .symtab of the xz-compressed ELF in .gnu_debugdata */
	SYM_SRC_PLT,	   /* a PLT stub, named NAME@plt */
};

struct sym_entry {
	uint64_t vaddr, size;
	const char *name;      /* without any @VERSION; in a string table or the pool */
	const char *version;   /* "GLIBC_2.14", or NULL when unversioned */
	const char *demangled; /* C++ (names starting _Z), once demangled; else NULL */
	uint16_t qoff, qlen;   /* the qualified name inside demangled: no return type, no params */
	uint8_t bind;	       /* STB_LOCAL, STB_GLOBAL, STB_WEAK */
	uint8_t src;	       /* enum sym_src */
	bool ifunc;
	bool ver_default; /* NAME@@VERSION: what a plain NAME means */
};

/* A chunk of strings owned by a sym_file (names that are in no string table). */
struct sym_pool_chunk {
	struct sym_pool_chunk *next;
	size_t used, cap;
	char data[];
};

/*
 * elfhdr.c: an ELF file's headers, read with pread (no libelf): the ELF and
 * program headers, the section headers and their names, the build-id.
 */
struct elf_hdrs {
	uint64_t size; /* of the file */
	bool elf;	 /* it has the ELF magic */
	bool machine_ok; /* 64-bit, of this architecture */
	Elf64_Ehdr eh;
	Elf64_Phdr *phdrs;
	size_t nphdrs;
	Elf64_Shdr *sh; /* NULL (shnum 0) when it has none that can be read */
	size_t shnum;
	char *shstr; /* the section names, NUL-terminated; NULL if none */
	size_t shstr_len;
	uint8_t build_id[64];
	size_t build_id_len; /* 0: none */
};

/*
 * 0; -ENOEXEC not an ELF file (h->elf false) or not of this machine
 * (h->machine_ok false); -ENOENT program headers that cannot be read.
 * elf_hdrs_free() after either.
 */
int elf_hdrs_read(int fd, uint64_t size, struct elf_hdrs *h);
void elf_hdrs_free(struct elf_hdrs *h);
/* Section i's name, or NULL. */
const char *elf_hdrs_name(const struct elf_hdrs *h, size_t i);
/* The section called name that has bytes in the file (not NOBITS), or NULL. */
const Elf64_Shdr *elf_hdrs_section(const struct elf_hdrs *h, const char *name);
/* That section's bytes, malloc'd (at most max of them), or NULL. */
void *elf_hdrs_section_data(int fd, const struct elf_hdrs *h, const char *name, size_t max,
			    size_t *len);

/* An ELF read besides the file: a separate debug file or the MiniDebugInfo. */
struct sym_aux {
	char refused[512]; /* none found: the first candidate refused, "debug file PATH refused: WHY" */
	int fd;	   /* -1 for an in-memory ELF */
	void *buf; /* the decompressed image of an in-memory ELF */
	Elf *elf;  /* a debug file's: opened at its first need (sym_aux_elf) */
	char path[4096]; /* what it was found as (for messages and docs) */
};

/* An .eh_frame FDE: [start, start + size). */
struct sym_fde {
	uint64_t start, size;
	uint64_t record; /* where its initial location field is (a vaddr in .eh_frame) */
};

struct sym_file {
	char path[4096];
	int fd;
	struct elf_hdrs hdrs; /* read at open: the cached path needs no libelf */
	Elf *elf;	      /* libelf's, opened at its first need (sym_file_elf) */
	pthread_mutex_t elf_lock; /* of opening elf and aux.elf */
	struct stat st;
	/*
	 * Sorted by vaddr; loaded at their first need (sym_syms_need: a lookup
	 * that a name memo does not answer), not at open: syms_state set with
	 * release after, syms_err their loading's result, syms_lock its lock.
	 */
	struct sym_entry *syms;
	size_t nsyms;
	int syms_state, syms_err;
	unsigned name_memo_asks; /* names looked up in memos (sym_find: at most a few) */
	char syms_why[256]; /* the loading's error message, given again with syms_err */
	int aux_src; /* sym_debug_open's, at open */
	pthread_mutex_t syms_lock;
	GElf_Phdr *phdrs;
	size_t nphdrs;
	struct sym_fde *fdes; /* sorted by start; read at the first need (eh.c) */
	size_t nfdes;
	bool fdes_read;
	bool go;	/* built by the Go toolchain */
	bool has_symtab; /* a .symtab was read (the file's, a debug file's, or MiniDebugInfo) */
	bool demangled;	 /* sym_demangle_all() ran */
	bool has_cxx;	 /* some name starts with _Z */
	int refs;	 /* opens, plus one while the batch cache holds it */
	struct sym_aux aux;
	struct sym_pool_chunk *pool;
	void *cache_map; /* the cached symbols' names point here (symcache.c) */
	size_t cache_len;
	/*
	 * symcache.c: syms from the cache, made at first use: the mapped entries
	 * and strings, a bit per entry made (set with release, after the entry),
	 * and the lock of the making. cache_entries NULL: every entry is there.
	 */
	const void *cache_entries;
	const char *cache_strings;
	uint64_t *made;
	pthread_mutex_t made_lock;
	/*
	 * names.c: indexes of syms sorted by name (then by index), built at the
	 * first lookup by name, or mapped from the symbol cache (by_name_mapped:
	 * not freed); by_name_of/by_name_n say which syms it indexes.
	 */
	uint32_t *by_name;
	bool by_name_mapped;
	size_t by_name_n;
	const struct sym_entry *by_name_of;
};

/* f's symbols loaded (from the cache, else the file): 0, or the loading's -errno. */
int sym_syms_need(const struct sym_file *f);

/*
 * symcache.c: what a lookup of name in f answered before (a name memo, kept
 * in the cache by f's identity and its debug file's): true and out filled;
 * sym_name_memo_put() keeps a lookup's answer.
 */
bool sym_name_memo_get(struct sym_file *f, const char *name, struct sym_func *out);
void sym_name_memo_put(struct sym_file *f, const char *name, const struct sym_func *out);

/* Append the function symbols of one symbol table of elf (src: enum sym_src). */
int sym_load_table(struct sym_file *f, Elf *elf, Elf_Scn *scn, GElf_Shdr *sh, int src);

/* A copy of s[0..n) owned by f (freed at close), or NULL. */
const char *sym_pool_strndup(struct sym_file *f, const char *s, size_t n);

/* debug.c: the debug file's (or MiniDebugInfo's) ELF, opened at its first need; or NULL. */
Elf *sym_aux_elf(struct sym_file *f);

/*
 * debug.c: the separate debug file or MiniDebugInfo opened into f->aux: its
 * source (SYM_SRC_DEBUG or SYM_SRC_DEBUGDATA), or -1; then its symbols loaded
 * into f->syms.
 */
int sym_debug_open(struct sym_file *f);
void sym_load_debug(struct sym_file *f, int src);

/*
 * symcache.c: f's symbols (aux_src: what sym_debug_open said) from the cache,
 * sorted: true, or false when there are none to use; and the loaded ones kept.
 */
bool sym_cache_load(struct sym_file *f, int aux_src);
void sym_cache_store(struct sym_file *f, int aux_src);

/* names.c: indexes 0..n-1 of syms sorted by name (ties: by index), malloc'd; NULL if none. */
uint32_t *sym_name_order(const struct sym_entry *syms, size_t n);
void sym_aux_close(struct sym_aux *aux);

/* plt.c: NAME@plt entries for the stubs in .plt, .plt.sec and .plt.got. */
int sym_load_plt(struct sym_file *f);

/* names.c: demangle every C++ name of f once (no-op without __cxa_demangle). */
void sym_demangle_all(struct sym_file *f);
bool sym_demangler_available(void);
/*
 * names.c: one C++ name demangled (malloc'd), with the span of its qualified
 * name (no return type, no parameters); NULL when not a C++ name.
 */
char *sym_demangle(const char *name, size_t *qoff, size_t *qlen);

/*
 * eh.c: every FDE of .eh_frame as [start, start + size), in address order.
 * 0, or -ENOENT when there is none.
 */
int sym_fdes(struct sym_file *f, void (*fn)(uint64_t start, uint64_t size, void *arg), void *arg);
/* eh.c: the FDE containing vaddr, its whole range (name ""): 0 or -ESRCH. */
int sym_fde_at(struct sym_file *f, uint64_t vaddr, struct sym_func *out);

/* The CFI row at an address, as far as return probes need it (sym_cfi_at). */
struct sym_cfi_row {
	bool signal;	   /* the FDE is a signal frame ('S') */
	bool cfa_rsp;	   /* CFA = rsp + cfa_off (else another register, an expression, unset) */
	int64_t cfa_off;
	bool ra_undefined; /* DW_CFA_undefined on the return address: the outermost frame */
};

/* eh.c: 0, -ESRCH (no FDE covers vaddr) or -EINVAL (CFI this reader does not know). */
int sym_cfi_at(struct sym_file *f, uint64_t vaddr, struct sym_cfi_row *out);

/* elf.c: an entry as a sym_func. */
void sym_fill(const struct sym_entry *e, struct sym_func *out);
/* elf.c: the index of the first entry whose vaddr is greater than vaddr (or nsyms). */
size_t sym_index_after(const struct sym_file *f, uint64_t vaddr);

/*
 * symcache.c: entries of symbols mapped from the cache are made at their first
 * use (a traced image looks up a few of libc's 10,000: copying them all wrote
 * some 115 fresh pages, ~20 us of page fault each on a VM); entry i, made now
 * if it was not. Entries loaded otherwise are all there.
 */
struct sym_entry *sym_entry_at(const struct sym_file *f, size_t i);
/* Entry i's address and name, without making the entry. */
uint64_t sym_vaddr_at(const struct sym_file *f, size_t i);
const char *sym_name_at(const struct sym_file *f, size_t i);
/* The entry array, every entry made (enum.c, symbolize.c, the passes over all). */
const struct sym_entry *sym_entries(const struct sym_file *f, size_t *n);

#endif
