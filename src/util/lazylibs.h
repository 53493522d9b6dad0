/* SPDX-License-Identifier: MIT */
/*
 * libdw, liblzma and Zydis, opened (dlopen) at their first use, not linked: every
 * traced image loads libuprobes, and linked they came with libbz2 into each
 * one (four libraries mapped and relocated, ~0.3 ms of CPU per image:
 * docs/benchmarks.md), while a probe needs DWARF only for an argument named
 * by a variable (trace/fetch/dwarf*.c) or a source line (sym/symbolize_lines.c),
 * and liblzma only for MiniDebugInfo (sym/debug.c). Zydis is needed by the
 * first probe's instruction analysis (arch/x86_64/insn.c), never by the tracer
 * of a launch (uprobe trace): linked, the tracer mapped and relocated it too
 * (its 24 KiB of relocated tables: ~10 page faults, docs/benchmarks.md). libelf
 * (which brings libz) is needed to read an ELF file's sections (sym/, usdt.c),
 * never by the tracer of a launch, and not by an image whose symbols the cache
 * answers (sym/elf.c reads the headers it needs itself): linked, it cost ~14 page
 * faults in each process (docs/benchmarks.md, 2026-12-06, startup2). libz's
 * crc32_z checks a .gnu_debuglink's file. As src/kernel/klibs.h does for libtracefs.
 *
 * Included after <elfutils/libdw.h> (or <lzma.h>), this header makes each
 * call the code makes go through the table: dwarf_tag(die) is
 * lazy_dw_fns()->dwarf_tag(die). A caller checks lazy_dw(&err) (or
 * lazy_xz(&err), lazy_elf(&err)) before the first call of a session that
 * opens DWARF or an ELF (the other calls take what those returned, so they are
 * reached only once it succeeded); the table is complete or not given at all.
 * A first open is a dlopen, which calls the loader's r_brk: never first under
 * a lock that r_brk's handler takes (stack/modules.c opens libelf before it
 * watches r_brk, as its refresh compiles CFI tables with it).
 */
#ifndef UPROBES_UTIL_LAZYLIBS_H
#define UPROBES_UTIL_LAZYLIBS_H

#include <stdbool.h>

/* Every libdw function the library calls (a new one: add it here, or the link fails). */
#define LAZY_DW_FNS(X) \
	X(dwarf_addrdie) \
	X(dwarf_aggregate_size) \
	X(dwarf_attr) \
	X(dwarf_attr_integrate) \
	X(dwarf_begin) \
	X(dwarf_begin_elf) \
	X(dwarf_cfi_addrframe) \
	X(dwarf_cfi_end) \
	X(dwarf_child) \
	X(dwarf_diename) \
	X(dwarf_end) \
	X(dwarf_filesrc) \
	X(dwarf_formref_die) \
	X(dwarf_formstring) \
	X(dwarf_formudata) \
	X(dwarf_frame_cfa) \
	X(dwarf_getcfi) \
	X(dwarf_getcfi_elf) \
	X(dwarf_getlocation) \
	X(dwarf_getlocation_addr) \
	X(dwarf_getlocation_attr) \
	X(dwarf_getlocation_implicit_value) \
	X(dwarf_getscopes) \
	X(dwarf_getscopes_die) \
	X(dwarf_getsrc_die) \
	X(dwarf_getsrcfiles) \
	X(dwarf_getsrclines) \
	X(dwarf_haspc) \
	X(dwarf_highpc) \
	X(dwarf_lineaddr) \
	X(dwarf_lineno) \
	X(dwarf_linesrc) \
	X(dwarf_lowpc) \
	X(dwarf_nextcu) \
	X(dwarf_offdie) \
	X(dwarf_onesrcline) \
	X(dwarf_peel_type) \
	X(dwarf_siblingof) \
	X(dwarf_tag) \
	X(dwarf_whatform)

/* Every libelf function the library calls. */
#define LAZY_ELF_FNS(X) \
	X(elf_begin) \
	X(elf_end) \
	X(elf_getdata) \
	X(elf_getphdrnum) \
	X(elf_getscn) \
	X(elf_getshdrstrndx) \
	X(elf_kind) \
	X(elf_memory) \
	X(elf_nextscn) \
	X(elf_strptr) \
	X(elf_version) \
	X(gelf_getclass) \
	X(gelf_getdyn) \
	X(gelf_getehdr) \
	X(gelf_getnote) \
	X(gelf_getphdr) \
	X(gelf_getrela) \
	X(gelf_getshdr) \
	X(gelf_getsym) \
	X(gelf_getverdaux) \
	X(gelf_getverdef) \
	X(gelf_getversym)

#define LAZY_Z_FNS(X) X(crc32_z)

#define LAZY_XZ_FNS(X) X(lzma_stream_decoder) X(lzma_code) X(lzma_end)

#define LAZY_ZYDIS_FNS(X) \
	X(ZydisDecoderInit) \
	X(ZydisDecoderDecodeInstruction) \
	X(ZydisDecoderDecodeFull) \
	X(ZydisDisassembleIntel)

/* libdw opened (once, thread-safe): true, or false with -errno in *err and a log. */
bool lazy_dw(int *err);
/* liblzma likewise. */
bool lazy_xz(int *err);
/* libelf likewise (after it, elf_version(EV_CURRENT) has been called). */
bool lazy_elf(int *err);
/* libz likewise. */
bool lazy_z(int *err);
/*
 * Zydis likewise. Not for signal context (dlopen): the instruction analysis
 * of an attach calls it first, before any probe can be hit.
 */
bool lazy_zydis(int *err);

#endif /* UPROBES_UTIL_LAZYLIBS_H */

/*
 * The tables, each for a header included before this one (each once: a file may
 * include this header again after another library's header).
 */
#if defined(_LIBDW_H) && !defined(UPROBES_LAZY_DW)
#define UPROBES_LAZY_DW
struct lazy_dw_fns {
#define LAZY_MEMBER(fn) __typeof__(fn) *fn;
	LAZY_DW_FNS(LAZY_MEMBER)
#undef LAZY_MEMBER
};
const struct lazy_dw_fns *lazy_dw_fns(void);
#ifndef LAZYLIBS_IMPL
#define dwarf_addrdie (lazy_dw_fns()->dwarf_addrdie)
#define dwarf_aggregate_size (lazy_dw_fns()->dwarf_aggregate_size)
#define dwarf_attr (lazy_dw_fns()->dwarf_attr)
#define dwarf_attr_integrate (lazy_dw_fns()->dwarf_attr_integrate)
#define dwarf_begin (lazy_dw_fns()->dwarf_begin)
#define dwarf_begin_elf (lazy_dw_fns()->dwarf_begin_elf)
#define dwarf_cfi_addrframe (lazy_dw_fns()->dwarf_cfi_addrframe)
#define dwarf_cfi_end (lazy_dw_fns()->dwarf_cfi_end)
#define dwarf_child (lazy_dw_fns()->dwarf_child)
#define dwarf_diename (lazy_dw_fns()->dwarf_diename)
#define dwarf_end (lazy_dw_fns()->dwarf_end)
#define dwarf_filesrc (lazy_dw_fns()->dwarf_filesrc)
#define dwarf_formref_die (lazy_dw_fns()->dwarf_formref_die)
#define dwarf_formstring (lazy_dw_fns()->dwarf_formstring)
#define dwarf_formudata (lazy_dw_fns()->dwarf_formudata)
#define dwarf_frame_cfa (lazy_dw_fns()->dwarf_frame_cfa)
#define dwarf_getcfi (lazy_dw_fns()->dwarf_getcfi)
#define dwarf_getcfi_elf (lazy_dw_fns()->dwarf_getcfi_elf)
#define dwarf_getlocation (lazy_dw_fns()->dwarf_getlocation)
#define dwarf_getlocation_addr (lazy_dw_fns()->dwarf_getlocation_addr)
#define dwarf_getlocation_attr (lazy_dw_fns()->dwarf_getlocation_attr)
#define dwarf_getlocation_implicit_value (lazy_dw_fns()->dwarf_getlocation_implicit_value)
#define dwarf_getscopes (lazy_dw_fns()->dwarf_getscopes)
#define dwarf_getscopes_die (lazy_dw_fns()->dwarf_getscopes_die)
#define dwarf_getsrc_die (lazy_dw_fns()->dwarf_getsrc_die)
#define dwarf_getsrcfiles (lazy_dw_fns()->dwarf_getsrcfiles)
#define dwarf_getsrclines (lazy_dw_fns()->dwarf_getsrclines)
#define dwarf_haspc (lazy_dw_fns()->dwarf_haspc)
#define dwarf_highpc (lazy_dw_fns()->dwarf_highpc)
#define dwarf_lineaddr (lazy_dw_fns()->dwarf_lineaddr)
#define dwarf_lineno (lazy_dw_fns()->dwarf_lineno)
#define dwarf_linesrc (lazy_dw_fns()->dwarf_linesrc)
#define dwarf_lowpc (lazy_dw_fns()->dwarf_lowpc)
#define dwarf_nextcu (lazy_dw_fns()->dwarf_nextcu)
#define dwarf_offdie (lazy_dw_fns()->dwarf_offdie)
#define dwarf_onesrcline (lazy_dw_fns()->dwarf_onesrcline)
#define dwarf_peel_type (lazy_dw_fns()->dwarf_peel_type)
#define dwarf_siblingof (lazy_dw_fns()->dwarf_siblingof)
#define dwarf_tag (lazy_dw_fns()->dwarf_tag)
#define dwarf_whatform (lazy_dw_fns()->dwarf_whatform)
#endif
#endif

#if defined(_LIBELF_H) && defined(_GELF_H) && !defined(UPROBES_LAZY_ELF)
#define UPROBES_LAZY_ELF
struct lazy_elf_fns {
#define LAZY_MEMBER(fn) __typeof__(fn) *fn;
	LAZY_ELF_FNS(LAZY_MEMBER)
#undef LAZY_MEMBER
};
const struct lazy_elf_fns *lazy_elf_fns(void);
#ifndef LAZYLIBS_IMPL
#define elf_begin (lazy_elf_fns()->elf_begin)
#define elf_end (lazy_elf_fns()->elf_end)
#define elf_getdata (lazy_elf_fns()->elf_getdata)
#define elf_getphdrnum (lazy_elf_fns()->elf_getphdrnum)
#define elf_getscn (lazy_elf_fns()->elf_getscn)
#define elf_getshdrstrndx (lazy_elf_fns()->elf_getshdrstrndx)
#define elf_kind (lazy_elf_fns()->elf_kind)
#define elf_memory (lazy_elf_fns()->elf_memory)
#define elf_nextscn (lazy_elf_fns()->elf_nextscn)
#define elf_strptr (lazy_elf_fns()->elf_strptr)
#define elf_version (lazy_elf_fns()->elf_version)
#define gelf_getclass (lazy_elf_fns()->gelf_getclass)
#define gelf_getdyn (lazy_elf_fns()->gelf_getdyn)
#define gelf_getehdr (lazy_elf_fns()->gelf_getehdr)
#define gelf_getnote (lazy_elf_fns()->gelf_getnote)
#define gelf_getphdr (lazy_elf_fns()->gelf_getphdr)
#define gelf_getrela (lazy_elf_fns()->gelf_getrela)
#define gelf_getshdr (lazy_elf_fns()->gelf_getshdr)
#define gelf_getsym (lazy_elf_fns()->gelf_getsym)
#define gelf_getverdaux (lazy_elf_fns()->gelf_getverdaux)
#define gelf_getverdef (lazy_elf_fns()->gelf_getverdef)
#define gelf_getversym (lazy_elf_fns()->gelf_getversym)
#endif
#endif

#if defined(ZLIB_H) && !defined(UPROBES_LAZY_Z)
#define UPROBES_LAZY_Z
struct lazy_z_fns {
#define LAZY_MEMBER(fn) __typeof__(fn) *fn;
	LAZY_Z_FNS(LAZY_MEMBER)
#undef LAZY_MEMBER
};
const struct lazy_z_fns *lazy_z_fns(void);
#ifndef LAZYLIBS_IMPL
#define crc32_z (lazy_z_fns()->crc32_z)
#endif
#endif

#if defined(LZMA_H) && !defined(UPROBES_LAZY_XZ)
#define UPROBES_LAZY_XZ
struct lazy_xz_fns {
#define LAZY_MEMBER(fn) __typeof__(fn) *fn;
	LAZY_XZ_FNS(LAZY_MEMBER)
#undef LAZY_MEMBER
};
const struct lazy_xz_fns *lazy_xz_fns(void);
#ifndef LAZYLIBS_IMPL
#define lzma_stream_decoder (lazy_xz_fns()->lzma_stream_decoder)
#define lzma_code (lazy_xz_fns()->lzma_code)
#define lzma_end (lazy_xz_fns()->lzma_end)
#endif
#endif

#if defined(ZYDIS_H) && !defined(UPROBES_LAZY_ZYDIS)
#define UPROBES_LAZY_ZYDIS
struct lazy_zydis_fns {
#define LAZY_MEMBER(fn) __typeof__(fn) *fn;
	LAZY_ZYDIS_FNS(LAZY_MEMBER)
#undef LAZY_MEMBER
};
const struct lazy_zydis_fns *lazy_zydis_fns(void);
#ifndef LAZYLIBS_IMPL
#define ZydisDecoderInit (lazy_zydis_fns()->ZydisDecoderInit)
#define ZydisDecoderDecodeInstruction (lazy_zydis_fns()->ZydisDecoderDecodeInstruction)
#define ZydisDecoderDecodeFull (lazy_zydis_fns()->ZydisDecoderDecodeFull)
#define ZydisDisassembleIntel (lazy_zydis_fns()->ZydisDisassembleIntel)
#endif
#endif
