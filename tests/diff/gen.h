/* SPDX-License-Identifier: MIT */
/*
 * Random instruction-sequence generator for the differential test.
 *
 * A sequence is a list of instructions built as Zydis encoder requests. It is
 * encoded twice into the same one-page buffer:
 *
 *   plain variant                      snapshot variant ("snap" = SNAP_SITE_LEN bytes)
 *   0x000 popfq                          0x000 popfq
 *   0x001 main: insn0 insn1 ...         0x001 main: snap; insn0; snap; insn1 ...
 *              jmp exit                             snap; jmp exit
 *   0x7e0 exit: ret                      0x7e0 exit: snap; ret
 *   0x800 sub:  insn... ret [8]          0x800 sub:  snap; insn ... snap; ret
 *   0xa00 data area (RIP-relative)       0xa00 the same data area
 *   0xc00 (unused)                       0xc00 snap: saves all GPRs + rflags to a log
 *
 * Branch targets, RIP-relative targets, exit and sub sit at the same buffer
 * offsets in both variants, so every register and memory value the code computes
 * is identical; the snapshot variant additionally logs the exact registers
 * before every instruction it executes. That log is the oracle for both the
 * final state and what each probe handler must see.
 */
#ifndef DIFF_GEN_H
#define DIFF_GEN_H

#include <stdint.h>
#include <Zydis/Zydis.h>

#define BUF_SIZE  4096
#define ENTRY_OFF 0x000 /* popfq: loads the initial flags (frame.S) */
#define MAIN_OFF  0x001
#define EXIT_OFF  0x7e0
#define SUB_OFF	  0x800
#define DATA_OFF  0xa00
#define DATA_SIZE 0x200
#define SNAP_OFF  0xc00
/*
 * Before each instruction of the snapshot variant: lea rsp, [rsp-128];
 * call snap; lea rsp, [rsp+128] -- the red zone of the code stays intact.
 */
#define SNAP_SITE_LEN 18
/* Read-only pointer slots at the start of the data area and the sandbox. */
#define PTR_RESERVED 64
#define PTR_SUB	     0 /* holds the address of sub */
#define PTR_EXIT     8 /* holds the address of exit */

#define SBX_SIZE     4096
#define SBX_BASE_OFF 2048 /* r15 = sandbox + 2048 */

#define MAX_INSNS 96 /* all instructions of a sequence */

/* Register numbers: hardware encoding order. */
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

enum fam {
	FAM_ALU,
	FAM_SHIFT,
	FAM_MULBIT,
	FAM_MOV,
	FAM_STACK,
	FAM_MEM,
	FAM_RIPREL,
	FAM_BRANCH,
	FAM_SSE,
	FAM_COUNT,
	FAM_FRAME = FAM_COUNT, /* the fixed jmp exit / ret instructions */
};

extern const char *const fam_names[FAM_COUNT + 1];

enum region { REG_MAIN, REG_EXIT, REG_SUB };

enum gkind {
	GK_PLAIN,  /* no address-dependent operand */
	GK_RAW,	   /* raw bytes (multi-byte nops) */
	GK_BRANCH, /* relative branch to instruction `target` */
	GK_RIPREL, /* RIP-relative memory operand to buffer offset `target` */
};

struct ginsn {
	ZydisEncoderRequest req;
	uint8_t raw[15];
	uint8_t raw_len;
	uint8_t kind;	  /* enum gkind */
	uint8_t rel_op;	  /* operand holding the branch immediate / RIP memory */
	uint8_t fam;	  /* enum fam */
	uint8_t region;	  /* enum region */
	uint8_t group;	  /* first instruction of an item: a branch may land here */
	uint8_t short_br; /* branch with an 8-bit displacement */
	int8_t depth;	  /* open push/pop pairs before this instruction */
	int32_t target;	  /* GK_BRANCH: instruction index; GK_RIPREL: buffer offset */
	const char *what; /* emitter name, for statistics and reports */
};

/* Register state loaded before and stored after the code (tests/diff/frame.S). */
struct cpu_state {
	uint64_t gpr[16]; /* hardware order; gpr[RSP] is only stored */
	uint64_t rflags;
	uint64_t entry_rsp; /* rsp as the code sees it at entry */
	uint32_t mxcsr;
	uint32_t use_ymm; /* load/store all 32 bytes of ymm0-15 (AVX), else xmm0-15 */
	uint64_t pad;
	uint8_t xmm[16][32]; /* ymm0-15; bytes 16..31 only with use_ymm */
};

struct gseq {
	struct ginsn insn[MAX_INSNS];
	int n;	    /* all instructions: main [0, n_main), exit, sub */
	int n_main; /* main instructions, ending with jmp exit */
	int exit_idx;
	int theme; /* enum fam most instructions come from */
	struct cpu_state init;
	uint8_t sandbox[SBX_SIZE];
	uint8_t data[DATA_SIZE];
};

struct gvariant {
	uint8_t code[DATA_OFF];	   /* bytes [0, DATA_OFF) of the buffer */
	uint16_t off[MAX_INSNS];   /* instruction offsets */
	uint16_t entry[MAX_INSNS]; /* where control enters it (the snap call, if any) */
	uint8_t len[MAX_INSNS];
};

struct gen_features {
	int sse3, ssse3, sse41, sse42, popcnt, lzcnt, bmi1, bmi2, adx, movbe, avx, avx2, avx512;
};

void gen_setup(const struct gen_features *f, int debug);
/* Build a sequence from *rng; returns 0, or -1 if this attempt must be redrawn. */
int gen_sequence(struct gseq *s, uint64_t *rng, int theme);
/* Encode a variant; returns 0 or -1 (a short branch out of range, overflow). */
int gen_encode(const struct gseq *s, int snap, struct gvariant *v);
/* Per-emitter encode statistics on stdout (debug). */
void gen_print_stats(void);

uint64_t rng_next(uint64_t *s);

/* Address of the sandbox (for absolute moffs operands); set before generating. */
extern uint64_t gen_sbx_addr;

#endif
