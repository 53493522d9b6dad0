/* SPDX-License-Identifier: MIT */
/*
 * ELF files on disk: function symbols (.symtab and .dynsym), function bounds
 * from .eh_frame when no symbol covers an address, and conversion between
 * virtual addresses and file offsets through the PT_LOAD segments.
 */
#ifndef UPROBES_SYM_H
#define UPROBES_SYM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct sym_file;

struct sym_func {
	char name[128]; /* "" when the bounds come from an FDE */
	uint64_t vaddr;
	uint64_t size;
	bool ifunc;	/* STT_GNU_IFUNC: vaddr is the resolver */
};

/*
 * A batch of opens by this thread (nests): a file opened again before the
 * batch ends is the same, already parsed sym_file. Maps lookups are served
 * from one reading of /proc/self/maps too (maps.h).
 */
void sym_batch_begin(void);
void sym_batch_end(void);
/*
 * In a batch: the file already opened for the path asked (as given, before
 * realpath), if stat() of it (st) is still that file, or with st NULL
 * whatever it was when it was asked first in this batch (a path is looked up
 * once a batch, as the maps are read once); a reference to close.
 * sym_batch_asked() records that asked named f. Saves resolving the same
 * path again for every probe (10,000 probes: 20,000 stat calls, ~15% of an
 * attach's CPU).
 */
struct stat;
struct sym_file *sym_batch_find(const char *asked, const struct stat *st);
void sym_batch_asked(const char *asked, const struct sym_file *f);

/* NULL with errno (ENOENT, ENOEXEC, ...) and a message in log_error. */
struct sym_file *sym_file_open(const char *path);
void sym_file_close(struct sym_file *f);

const char *sym_file_path(const struct sym_file *f);
dev_t sym_file_dev(const struct sym_file *f);
ino_t sym_file_ino(const struct sym_file *f);
/* Built by the Go toolchain (its runtime moves stacks and reads return addresses). */
bool sym_file_is_go(const struct sym_file *f);
uint64_t sym_file_size(const struct sym_file *f);
uint64_t sym_file_mtime_ns(const struct sym_file *f);
struct Elf *sym_file_elf(const struct sym_file *f);

/* A file's identity for caches keyed by file (util/cache.h): build-id, else where it is on disk. */
struct sym_ident {
	uint8_t build_id[32];
	uint32_t build_id_len;
	uint32_t pad;
	uint64_t size, mtime_ns, ino, dev; /* files without a build-id */
};

/* The NT_GNU_BUILD_ID note of f, else its device, inode, size and mtime. */
void sym_file_ident(struct sym_file *f, struct sym_ident *id);
/* "<prefix><hex build-id or dev-ino-size-mtime><suffix>": a cache file's name. */
void sym_ident_name(const struct sym_ident *id, const char *prefix, const char *suffix, char *out,
		    size_t len);

/*
 * The file's separate debug file (by build-id, else by .gnu_debuglink; each
 * verified, under $UPROBE_DEBUG_DIR or /usr/lib/debug): 0 with its path, or
 * -ENOENT. For the DWARF such a file holds.
 */
int sym_debug_path(struct sym_file *f, char *path, size_t len);

/*
 * Function by name (NAME, NAME@VERSION, NAME@@VERSION, NAME@plt, a demangled
 * C++ name, fn_<hex>; see names.c): 0, or -ESRCH (unknown name or version),
 * -EINVAL (ambiguous, or a wildcard), -ENOTSUP (C++ name, no demangler),
 * with a message in log_error.
 */
int sym_find(struct sym_file *f, const char *name, struct sym_func *out);

/* The function containing vaddr (symbol with a size, else .eh_frame FDE): 0 or -ESRCH. */
int sym_func_at(struct sym_file *f, uint64_t vaddr, struct sym_func *out);

/*
 * The end (virtual address) of the executable section holding vaddr, or 0
 * (none, or no section headers): where padding after a function stops even
 * when no symbol starts there (.text then .fini).
 */
uint64_t sym_code_section_end(const struct sym_file *f, uint64_t vaddr);

/* Why a return probe cannot follow the calls of a function (retsafe.c). */
enum sym_ret_refusal {
	SYM_RET_OK = 0,
	SYM_RET_TWICE,	    /* it returns twice: setjmp, vfork, getcontext ... */
	SYM_RET_NOT_CALLED, /* no call enters it: the top of the stack is no return address */
};

/*
 * Can a return probe follow the calls of the function that starts at vaddr?
 * SYM_RET_OK, or the refusal with why (a sentence) in why.
 */
int sym_ret_check(struct sym_file *f, uint64_t vaddr, char *why, size_t len);

/* 0, or -ENXIO when the address/offset is in no executable PT_LOAD segment. */
int sym_vaddr_to_off(const struct sym_file *f, uint64_t vaddr, uint64_t *off);
int sym_off_to_vaddr(const struct sym_file *f, uint64_t off, uint64_t *vaddr);

/*
 * Every exception landing pad of the file (LSDAs reached from .eh_frame), as
 * virtual addresses. 0, or -ENOENT when there is no .eh_frame.
 */
int sym_landing_pads(struct sym_file *f, void (*fn)(uint64_t vaddr, void *arg), void *arg);

/*
 * One row of a file's CFI (call frame information): at [start, end), how the
 * caller's frame is found. Registers are DWARF numbers (x86-64: 6 rbp, 7 rsp,
 * 16 the return address). This is what the compilers emit on x86-64; anything
 * else is SYM_CFA_EXPR or SYM_RULE_OTHER, for the user to give up on.
 */
enum sym_cfa {
	SYM_CFA_NONE,  /* no rule yet */
	SYM_CFA_REG,   /* CFA = reg + off */
	SYM_CFA_DEREF, /* CFA = *(reg + off): GCC's stack realignment (DRAP) */
	SYM_CFA_PLT,   /* CFA = rsp + off, + 8 when (rip & 15) >= plt_k: a PLT's expression */
	SYM_CFA_EXPR,  /* another expression */
};

enum sym_rule {
	SYM_RULE_SAME,	    /* the register keeps its value (the default for rbp) */
	SYM_RULE_CFA,	    /* saved at CFA + off */
	SYM_RULE_REG,	    /* saved at reg + off (an expression: DW_OP_bregN off) */
	SYM_RULE_UNDEFINED, /* DW_CFA_undefined (the return address: the outermost frame) */
	SYM_RULE_OTHER,	    /* anything else; also the return address when never set */
};

struct sym_cfi {
	uint64_t start, end;
	bool signal;	   /* the FDE is a signal frame ('S': a sigreturn trampoline) */
	uint8_t cfa;	   /* enum sym_cfa */
	uint8_t cfa_reg;
	uint8_t plt_k;
	int64_t cfa_off;
	uint8_t ra, bp;	   /* enum sym_rule: the return address, rbp */
	uint8_t bp_reg;	   /* SYM_RULE_REG */
	int64_t ra_off, bp_off;
};

/*
 * Every row of every FDE of the file's .eh_frame and .debug_frame (code
 * built without unwind tables but with -g has only the latter; a stripped
 * file's comes from its debug file), in the order of the sections: each
 * FDE's rows in address order, a row per address range whose rules differ.
 * Both sections may cover a function: the caller picks. 0, or -ENOENT when
 * the file has neither. An FDE this reader cannot interpret (an unknown
 * instruction) is reported up to there.
 */
int sym_cfi_rows(struct sym_file *f, void (*fn)(const struct sym_cfi *row, void *arg), void *arg);

/* PT_LOAD segments (up to max): returns how many were filled. */
struct sym_load {
	uint64_t vaddr, offset, filesz;
};
unsigned sym_loads(const struct sym_file *f, struct sym_load *out, unsigned max);

/* The executable PT_LOAD segment covering file offset off: 0 or -ENXIO. */
int sym_exec_segment(const struct sym_file *f, uint64_t off, uint64_t *vaddr, uint64_t *offset,
		     uint64_t *filesz);

#endif
