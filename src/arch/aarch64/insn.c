// SPDX-License-Identifier: MIT
/*
 * aarch64 instruction analysis (see insn.h): Capstone names the instruction;
 * its register and bit fields, which sit at the same place in every form
 * handled here, are then taken from the word (Rt/Rd in bits 4:0, Rn in 9:5).
 *
 * Capstone 4.0 (Debian 12) predates ARMv8.3: it does not decode the PAC forms
 * of the branch-register group (braa, blraa, retaa, ... with op3 = 00001x),
 * which Debian's own libraries use. Those are recognized here by that group's
 * fields, and so are its other pointer-authentication instructions (pacia,
 * autib, xpaci, ldraa ...), which run out of line; every other word Capstone
 * cannot decode is refused.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "arch/aarch64/insn.h"

static csh cs_handle;
static int cs_ok;
static pthread_once_t cs_once = PTHREAD_ONCE_INIT;
/* A Capstone handle keeps per-call state: one caller at a time. */
static pthread_mutex_t cs_lock = PTHREAD_MUTEX_INITIALIZER;

static void cs_setup(void)
{
	if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &cs_handle) != CS_ERR_OK)
		return;
	cs_option(cs_handle, CS_OPT_DETAIL, CS_OPT_ON);
	cs_ok = 1;
}

static uint32_t word_of(const uint8_t *code)
{
	return (uint32_t)code[0] | (uint32_t)code[1] << 8 | (uint32_t)code[2] << 16 |
	       (uint32_t)code[3] << 24;
}

/* Decode one word: Capstone's id and first immediate operand (a target). */
static int cs_decode(uint32_t w, uint64_t addr, unsigned *id, int64_t *imm, char *txt,
		     size_t txtlen)
{
	uint8_t b[4] = { w, w >> 8, w >> 16, w >> 24 };
	cs_insn *in;
	size_t n;

	pthread_once(&cs_once, cs_setup);
	if (!cs_ok)
		return -ENOSYS;
	pthread_mutex_lock(&cs_lock);
	n = cs_disasm(cs_handle, b, 4, addr, 1, &in);
	if (n) {
		cs_arm64 *d = &in->detail->arm64;

		*id = in->id;
		*imm = 0;
		for (int i = 0; i < d->op_count; i++)
			if (d->operands[i].type == ARM64_OP_IMM)
				*imm = d->operands[i].imm;
		if (txt)
			snprintf(txt, txtlen, "%s%s%s", in->mnemonic, in->op_str[0] ? " " : "",
				 in->op_str);
		cs_free(in, n);
	}
	pthread_mutex_unlock(&cs_lock);
	return n ? 0 : -EILSEQ;
}

/* Branch (register) with pointer authentication: op2 = 11111, op3 = 00001x. */
static bool is_pac_branch(uint32_t w)
{
	return (w & 0xfe000000u) == 0xd6000000u && ((w >> 16) & 0x1f) == 0x1f &&
	       ((w >> 11) & 0x1f) == 0x01;
}

/*
 * The other ARMv8.3 pointer-authentication instructions Capstone 4.0 lacks,
 * none of which reads the PC: data processing (1 source) pacia..autdzb,
 * xpaci, xpacd (opcode 0..17), and ldraa/ldrab.
 */
static bool is_pac_other(uint32_t w)
{
	return ((w & 0xffff0000u) == 0xdac10000u && ((w >> 10) & 0x3f) <= 0x11) ||
	       (w & 0xff200400u) == 0xf8200400u;
}

static int pac_branch(struct arch_insn *ai, uint32_t w, char *why, size_t whylen)
{
	unsigned opc = (w >> 21) & 0xf;

	ai->rn = (w >> 5) & 0x1f;
	ai->rm = w & 0x1f;
	ai->key_b = (w >> 10) & 1;
	switch (opc) {
	case 0: /* braaz, brabz */
	case 2: /* retaa, retab */
	case 8: /* braa, brab */
		ai->op = ARCH_OP_NO_RETURN;
		return 0;
	case 1: /* blraaz, blrabz */
	case 9: /* blraa, blrab */
		ai->op = ARCH_OP_BLR_PAC;
		ai->zero_mod = opc == 1;
		return 0;
	}
	if (whylen)
		snprintf(why, whylen, "%08x: eretaa/eretab or reserved branch: not probeable", w);
	return -ENOTSUP;
}

static bool is_exclusive(unsigned id)
{
	switch (id) {
	case ARM64_INS_LDXR: case ARM64_INS_LDXRB: case ARM64_INS_LDXRH: case ARM64_INS_LDXP:
	case ARM64_INS_LDAXR: case ARM64_INS_LDAXRB: case ARM64_INS_LDAXRH: case ARM64_INS_LDAXP:
	case ARM64_INS_STXR: case ARM64_INS_STXRB: case ARM64_INS_STXRH: case ARM64_INS_STXP:
	case ARM64_INS_STLXR: case ARM64_INS_STLXRB: case ARM64_INS_STLXRH: case ARM64_INS_STLXP:
		return true;
	}
	return false;
}

static bool is_exception(unsigned id)
{
	switch (id) {
	case ARM64_INS_SVC: case ARM64_INS_HVC: case ARM64_INS_SMC: case ARM64_INS_BRK:
	case ARM64_INS_HLT: case ARM64_INS_DCPS1: case ARM64_INS_DCPS2: case ARM64_INS_DCPS3:
	case ARM64_INS_ERET: case ARM64_INS_DRPS:
		return true;
	}
	return false;
}

/* Literal loads: opc (31:30) and V (26) give the size and the register file. */
static void literal(struct arch_insn *ai, uint32_t w)
{
	unsigned opc = w >> 30;

	if (w & (1u << 26)) {
		ai->op = ARCH_OP_LDR_LIT_FP;
		ai->size = 4u << opc; /* s, d, q */
		return;
	}
	if (opc == 3) {
		ai->op = ARCH_OP_PRFM_LIT;
		return;
	}
	ai->op = ARCH_OP_LDR_LIT;
	ai->size = opc == 1 ? 8 : 4;
	ai->sign = opc == 2;
}

/* The instruction's class from Capstone's id; 1 when it is plain XOL, -1 unknown. */
static int classify(struct arch_insn *ai, unsigned id, int64_t imm)
{
	uint32_t w = ai->insn;

	ai->rt = w & 0x1f;
	ai->target = (uint64_t)imm;
	switch (id) {
	case ARM64_INS_ADR:
	case ARM64_INS_ADRP:
		ai->op = ARCH_OP_ADR;
		return 0;
	case ARM64_INS_B:
		if ((w & 0xff000010u) == 0x54000000u) {
			ai->op = ARCH_OP_BCOND;
			ai->cond = w & 0xf;
		} else if ((w & 0xfc000000u) == 0x14000000u) {
			ai->op = ARCH_OP_B;
		} else {
			return -1; /* a branch form this table does not know */
		}
		return 0;
	case ARM64_INS_BL:
		ai->op = ARCH_OP_BL;
		return 0;
	case ARM64_INS_CBZ:
	case ARM64_INS_CBNZ:
		ai->op = ARCH_OP_CBZ;
		ai->neg = id == ARM64_INS_CBNZ;
		ai->wide = w >> 31;
		return 0;
	case ARM64_INS_TBZ:
	case ARM64_INS_TBNZ:
		ai->op = ARCH_OP_TBZ;
		ai->neg = id == ARM64_INS_TBNZ;
		ai->bit = (w >> 31) << 5 | ((w >> 19) & 0x1f);
		return 0;
	case ARM64_INS_BLR:
		ai->op = ARCH_OP_BLR;
		ai->rn = (w >> 5) & 0x1f;
		return 0;
	case ARM64_INS_BR:
	case ARM64_INS_RET:
		ai->op = ARCH_OP_NO_RETURN;
		return 0;
	case ARM64_INS_NOP:
		ai->op = ARCH_OP_NOP;
		return 0;
	case ARM64_INS_HINT: /* bti (c|j|jc): hint #32..#38, even */
		if ((w & 0xffffff3fu) == 0xd503241fu) {
			ai->op = ARCH_OP_NOP;
			return 0;
		}
		return 1;
	case ARM64_INS_LDR:
	case ARM64_INS_LDRSW:
	case ARM64_INS_PRFM:
		/* the literal form: 0b011 (29:27), 0b00 (25:24) */
		if ((w & 0x3b000000u) == 0x18000000u) {
			literal(ai, w);
			return 0;
		}
		return 1;
	}
	return 1;
}

int arch_insn_analyze(struct arch_insn *ai, const uint8_t *code, size_t avail, uint64_t addr,
		      char *why, size_t whylen)
{
	char txt[64] = "";
	unsigned id = 0;
	int64_t imm = 0;
	uint32_t w;
	int err;

	memset(ai, 0, sizeof(*ai));
	if (avail < 4 || (addr & 3)) {
		if (whylen)
			snprintf(why, whylen, "0x%llx: not a 4-byte aligned instruction",
				 (unsigned long long)addr);
		return -EILSEQ;
	}
	w = word_of(code);
	ai->addr = addr;
	ai->insn = w;
	ai->len = 4;
	memcpy(ai->bytes, code, 4);
	if (is_pac_branch(w))
		return pac_branch(ai, w, why, whylen);
	if (is_pac_other(w))
		return 0; /* ARCH_OP_XOL */
	err = cs_decode(w, addr, &id, &imm, txt, sizeof(txt));
	if (err) {
		if (whylen)
			snprintf(why, whylen, "%08x: %s", w,
				 err == -ENOSYS ? "Capstone has no arm64 support" : "undecodable");
		return err == -ENOSYS ? -ENOTSUP : -EILSEQ;
	}
	if (is_exclusive(id) || is_exception(id)) {
		if (whylen)
			snprintf(why, whylen, "%08x '%s': %s", w, txt,
				 is_exclusive(id) ? "exclusive access: a trap clears the exclusive "
						    "monitor, so the store-exclusive would fail on "
						    "every retry"
						  : "exception-generating instruction: not probeable");
		return -ENOTSUP;
	}
	if (classify(ai, id, imm) < 0) {
		if (whylen)
			snprintf(why, whylen, "%08x '%s': unknown branch form", w, txt);
		return -ENOTSUP;
	}
	return 0;
}

unsigned arch_insn_length(const uint8_t *code, size_t avail, uint64_t addr)
{
	unsigned id;
	int64_t imm;

	if (avail < 4 || (addr & 3))
		return 0;
	if (is_pac_branch(word_of(code)) || is_pac_other(word_of(code)))
		return 4;
	return cs_decode(word_of(code), addr, &id, &imm, NULL, 0) ? 0 : 4;
}

void arch_insn_format(const uint8_t *code, size_t len, uint64_t addr, char *buf, size_t buflen)
{
	unsigned id;
	int64_t imm;

	if (len < 4 || cs_decode(word_of(code), addr, &id, &imm, buf, buflen))
		snprintf(buf, buflen, len < 4 ? "(short)" : ".inst 0x%08x", len < 4 ? 0 : word_of(code));
}

bool arch_insn_can_emulate(const struct arch_insn *ai)
{
	return ai->op != ARCH_OP_XOL && ai->op != ARCH_OP_NO_RETURN;
}

/* Load-exclusive (bit 22 set) or store-exclusive (clear): o2 = 0, o0 any. */
static int excl_kind(uint32_t w)
{
	/* size:2 001000 o2 L o1 Rs o0 Rt2 Rn Rt, o2 = 0 */
	if ((w & 0x3f800000u) != 0x08000000u)
		return 0;
	return (w & (1u << 22)) ? 1 : -1;
}

bool arch_insn_in_exclusive(const uint8_t *code, size_t len, size_t off, uint64_t base,
			    char *why, size_t whylen)
{
	/* Walk back over at most 16 instructions for an unmatched load-exclusive. */
	for (size_t back = 1; back <= 16 && back * 4 <= off; back++) {
		size_t at = off - back * 4;
		int k = excl_kind(word_of(code + at));

		if (k < 0)
			return false; /* a store-exclusive closes the sequence */
		if (k > 0) {
			for (size_t fw = off; fw + 4 <= len && fw < off + 64; fw += 4)
				if (excl_kind(word_of(code + fw)) < 0) {
					if (whylen)
						snprintf(why, whylen,
							 "0x%llx: inside the exclusive sequence "
							 "opened at 0x%llx: a trap clears the "
							 "monitor",
							 (unsigned long long)(base + off),
							 (unsigned long long)(base + at));
					return true;
				}
			return false;
		}
	}
	return false;
}

const char *arch_emulate_reason(const struct arch_insn *ai)
{
	switch (ai->op) {
	case ARCH_OP_NOP: return "emulated: no-op (nop, bti)";
	case ARCH_OP_B: return "emulated: branch";
	case ARCH_OP_BL: return "emulated: branch with link";
	case ARCH_OP_BCOND: return "emulated: conditional branch";
	case ARCH_OP_CBZ: return "emulated: compare and branch";
	case ARCH_OP_TBZ: return "emulated: test bit and branch";
	case ARCH_OP_ADR: return "emulated: PC-relative address";
	case ARCH_OP_LDR_LIT:
	case ARCH_OP_LDR_LIT_FP: return "emulated: literal load";
	case ARCH_OP_PRFM_LIT: return "emulated: literal prefetch (a hint)";
	default: return "emulated: branch with link to a register";
	}
}

void arch_xol_reason(const struct arch_insn *ai, bool emulable, char *why, size_t len)
{
	snprintf(why, len, "%s%s",
		 ai->op == ARCH_OP_NO_RETURN ? "executed out of line (no way back: br, ret)"
					     : "executed out of line, then a branch back",
		 emulable ? " (emulation disabled)" : "");
}
