/* SPDX-License-Identifier: MIT */
/*
 * Instruction analysis: decode once with Zydis, refuse what cannot be probed,
 * classify the rest (see insn.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "arch/x86_64/insn.h"
#include "arch/x86_64/regs.h"
#include "util/lazylibs.h"
#include "util/log.h"

static ZydisDecoder decoder;
static int decoder_ready;

/*
 * The decoder, or NULL when Zydis cannot be loaded (logged). Zydis is opened
 * at the first analysis (util/lazylibs.h), always an attach's, so never first
 * in a signal handler.
 */
static const ZydisDecoder *insn_decoder(void)
{
	int err;

	/* Idempotent and race-free in effect: every caller writes the same bytes. */
	if (!__atomic_load_n(&decoder_ready, __ATOMIC_ACQUIRE)) {
		if (!lazy_zydis(&err))
			return NULL;
		ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
		__atomic_store_n(&decoder_ready, 1, __ATOMIC_RELEASE);
	}
	return &decoder;
}

bool arch_insn_decoder_loaded(void)
{
	return __atomic_load_n(&decoder_ready, __ATOMIC_ACQUIRE);
}

unsigned arch_insn_length(const uint8_t *code, size_t avail, uint64_t addr)
{
	const ZydisDecoder *dec = insn_decoder();
	ZydisDecodedInstruction in;

	(void)addr;
	if (!dec || !ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(dec, NULL, code, avail, &in)))
		return 0;
	return in.length;
}

void arch_insn_format(const uint8_t *code, size_t len, uint64_t addr, char *buf, size_t buflen)
{
	ZydisDisassembledInstruction dis;

	if (insn_decoder() &&
	    ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, addr, code, len, &dis)))
		snprintf(buf, buflen, "%s", dis.text);
	else
		snprintf(buf, buflen, "(bad)");
}

static void hex_bytes(const uint8_t *code, size_t len, char *buf, size_t buflen)
{
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < len && pos + 4 < buflen; i++)
		pos += snprintf(buf + pos, buflen - pos, "%s%02x", i ? " " : "", code[i]);
}

/* Why an instruction cannot be probed, or NULL if it can. */
static const char *insn_refusal(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	switch (in->meta.category) {
	case ZYDIS_CATEGORY_SYSCALL:
		return "system call (out of line, the kernel would return into the slot)";
	case ZYDIS_CATEGORY_INTERRUPT:
		return in->mnemonic == ZYDIS_MNEMONIC_INT3 ? "already a breakpoint"
							   : "software interrupt";
	case ZYDIS_CATEGORY_IO:
	case ZYDIS_CATEGORY_IOSTRINGOP:
		return "port I/O";
	default:
		break;
	}
	if (in->attributes & ZYDIS_ATTRIB_IS_PRIVILEGED)
		return "privileged instruction";
	if (in->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
		return "far branch";
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_UD0:
	case ZYDIS_MNEMONIC_UD1:
	case ZYDIS_MNEMONIC_UD2:
		return "undefined instruction (deliberate trap)";
	case ZYDIS_MNEMONIC_IRET:
	case ZYDIS_MNEMONIC_IRETD:
	case ZYDIS_MNEMONIC_IRETQ:
		return "interrupt return";
	case ZYDIS_MNEMONIC_SYSRET:
	case ZYDIS_MNEMONIC_SYSEXIT:
	case ZYDIS_MNEMONIC_CLI:
	case ZYDIS_MNEMONIC_STI:
	case ZYDIS_MNEMONIC_HLT:
		return "privileged instruction";
	case ZYDIS_MNEMONIC_XBEGIN:
	case ZYDIS_MNEMONIC_XABORT:
	case ZYDIS_MNEMONIC_XEND:
		return "transactional memory (a trap aborts the transaction)";
	case ZYDIS_MNEMONIC_MOV:
	case ZYDIS_MNEMONIC_POP:
		if (ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ops[0].reg.value == ZYDIS_REGISTER_SS)
			return "load of SS (suppresses traps on the next instruction)";
		break;
	default:
		break;
	}
	if (in->meta.branch_type != ZYDIS_BRANCH_TYPE_NONE &&
	    (in->attributes & ZYDIS_ATTRIB_IS_RELATIVE) && in->operand_width == 16)
		return "operand-size prefixed relative branch (truncates the target; "
		       "differs between CPU vendors)";
	return NULL;
}

static int insn_riprel(struct arch_insn *ai, const ZydisDecodedInstruction *in,
		       const ZydisDecodedOperand *ops)
{
	for (unsigned i = 0; i < in->operand_count; i++) {
		if (ops[i].type != ZYDIS_OPERAND_TYPE_MEMORY || ops[i].mem.base != ZYDIS_REGISTER_RIP)
			continue;
		if (in->raw.disp.size != 32)
			return -ENOTSUP;
		ai->riprel_off = in->raw.disp.offset;
		ai->riprel_addr = ai->addr + in->length + (int64_t)in->raw.disp.value;
		return 0;
	}
	return 0;
}

static bool insn_is_jcc(ZydisMnemonic m)
{
	switch (m) {
	case ZYDIS_MNEMONIC_JO: case ZYDIS_MNEMONIC_JNO: case ZYDIS_MNEMONIC_JB:
	case ZYDIS_MNEMONIC_JNB: case ZYDIS_MNEMONIC_JZ: case ZYDIS_MNEMONIC_JNZ:
	case ZYDIS_MNEMONIC_JBE: case ZYDIS_MNEMONIC_JNBE: case ZYDIS_MNEMONIC_JS:
	case ZYDIS_MNEMONIC_JNS: case ZYDIS_MNEMONIC_JP: case ZYDIS_MNEMONIC_JNP:
	case ZYDIS_MNEMONIC_JL: case ZYDIS_MNEMONIC_JNL: case ZYDIS_MNEMONIC_JLE:
	case ZYDIS_MNEMONIC_JNLE:
		return true;
	default:
		return false;
	}
}

/* Relative branches: emulated, or relocated with a rel32 to the same target. */
static bool insn_classify_relative(struct arch_insn *ai, const ZydisDecodedInstruction *in,
				   const ZydisDecodedOperand *ops)
{
	if (!(in->attributes & ZYDIS_ATTRIB_IS_RELATIVE) || ops[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
		return false;
	ai->target = ai->addr + in->length + ops[0].imm.value.s;
	ai->addr32 = in->address_width == 32;
	if (in->mnemonic == ZYDIS_MNEMONIC_JMP) {
		ai->op = ARCH_OP_JMP_REL;
	} else if (in->mnemonic == ZYDIS_MNEMONIC_CALL) {
		ai->op = ARCH_OP_CALL_REL;
	} else if (insn_is_jcc(in->mnemonic)) {
		ai->op = ARCH_OP_JCC_REL;
		ai->cond = in->opcode & 0xf;
	} else if (in->mnemonic == ZYDIS_MNEMONIC_LOOP || in->mnemonic == ZYDIS_MNEMONIC_LOOPE ||
		   in->mnemonic == ZYDIS_MNEMONIC_LOOPNE) {
		ai->op = ARCH_OP_LOOP;
		ai->cond = in->mnemonic == ZYDIS_MNEMONIC_LOOP	 ? ARCH_LOOP
			   : in->mnemonic == ZYDIS_MNEMONIC_LOOPE ? ARCH_LOOPE
								  : ARCH_LOOPNE;
	} else if (in->mnemonic == ZYDIS_MNEMONIC_JRCXZ || in->mnemonic == ZYDIS_MNEMONIC_JECXZ) {
		ai->op = ARCH_OP_JRCXZ;
	} else {
		return false;
	}
	return true;
}

static void insn_classify(struct arch_insn *ai, const ZydisDecodedInstruction *in,
			  const ZydisDecodedOperand *ops)
{
	ai->op = ARCH_OP_XOL;
	if (insn_classify_relative(ai, in, ops))
		return;
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_NOP:
	case ZYDIS_MNEMONIC_ENDBR64:
	case ZYDIS_MNEMONIC_ENDBR32:
		ai->op = ARCH_OP_NOP;
		break;
	case ZYDIS_MNEMONIC_PUSH:
		if (ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && in->operand_width == 64 &&
		    regs_index(ops[0].reg.value) >= 0) {
			ai->op = ARCH_OP_PUSH_REG;
			ai->reg = regs_index(ops[0].reg.value);
		}
		break;
	case ZYDIS_MNEMONIC_CALL:
		ai->modrm_off = in->raw.modrm.offset;
		if (ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
			ai->op = ARCH_OP_CALL_REG;
			ai->reg = regs_index(ops[0].reg.value);
		} else {
			ai->op = ARCH_OP_CALL_MEM;
			ai->base_rsp = ops[0].mem.base == ZYDIS_REGISTER_RSP;
		}
		break;
	case ZYDIS_MNEMONIC_JMP:
		ai->indirect_jmp = 1;
		ai->op = ARCH_OP_NO_RETURN;
		break;
	case ZYDIS_MNEMONIC_RET:
		ai->op = ARCH_OP_NO_RETURN;
		break;
	case ZYDIS_MNEMONIC_PUSHF:
	case ZYDIS_MNEMONIC_PUSHFD:
	case ZYDIS_MNEMONIC_PUSHFQ:
		ai->pushes_flags = 1;
		break;
	default:
		break;
	}
}

int arch_insn_analyze(struct arch_insn *ai, const uint8_t *code, size_t avail, uint64_t addr,
		      char *why, size_t whylen)
{
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	const ZydisDecoder *dec = insn_decoder();
	char text[96], hex[64];
	const char *refusal;

	memset(ai, 0, sizeof(*ai));
	ai->addr = addr;
	if (avail > ARCH_INSN_MAX)
		avail = ARCH_INSN_MAX;
	if (!dec) {
		if (whylen)
			snprintf(why, whylen, "no instruction decoder: %s", uprobe_last_error());
		return -ENOTSUP;
	}
	if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(dec, code, avail, &in, ops))) {
		if (!whylen)
			return -EILSEQ;
		hex_bytes(code, avail < 8 ? avail : 8, hex, sizeof(hex));
		snprintf(why, whylen, "bytes %s do not decode as an x86-64 instruction", hex);
		return -EILSEQ;
	}
	ai->len = in.length;
	memcpy(ai->bytes, code, in.length);
	refusal = insn_refusal(&in, ops);
	if (!refusal && insn_riprel(ai, &in, ops))
		refusal = "RIP-relative operand without a 32-bit displacement";
	if (refusal && !whylen)
		return -ENOTSUP; /* a sweep: no message wanted */
	if (refusal) {
		arch_insn_format(code, in.length, addr, text, sizeof(text));
		hex_bytes(code, in.length, hex, sizeof(hex));
		snprintf(why, whylen, "'%s' (%s): %s", text, hex, refusal);
		return -ENOTSUP;
	}
	insn_classify(ai, &in, ops);
	return 0;
}

bool arch_insn_can_emulate(const struct arch_insn *ai)
{
	switch (ai->op) {
	case ARCH_OP_NOP:
	case ARCH_OP_PUSH_REG:
	case ARCH_OP_JMP_REL:
	case ARCH_OP_JCC_REL:
	case ARCH_OP_CALL_REL:
	case ARCH_OP_JRCXZ:
	case ARCH_OP_CALL_REG:
		return true;
	case ARCH_OP_LOOP:
		/* loopl writes ecx; leave the 32-bit form to the CPU. */
		return !ai->addr32;
	default:
		return false;
	}
}

bool arch_insn_needs_singlestep(const struct arch_insn *ai)
{
	/* Out of line, the call would push the slot's address as return address. */
	return ai->op == ARCH_OP_CALL_MEM;
}

bool arch_insn_can_singlestep(const struct arch_insn *ai)
{
	switch (ai->op) {
	case ARCH_OP_JMP_REL:
	case ARCH_OP_JCC_REL:
	case ARCH_OP_CALL_REL:
	case ARCH_OP_LOOP:
	case ARCH_OP_JRCXZ:
	case ARCH_OP_CALL_REG:
		return false;
	default:
		return true;
	}
}

const char *arch_emulate_reason(const struct arch_insn *ai)
{
	switch (ai->op) {
	case ARCH_OP_NOP: return "emulated: no-op";
	case ARCH_OP_PUSH_REG: return "emulated: push of a register";
	case ARCH_OP_JMP_REL: return "emulated: relative jump";
	case ARCH_OP_JCC_REL: return "emulated: conditional jump";
	case ARCH_OP_CALL_REL: return "emulated: relative call";
	case ARCH_OP_LOOP: return "emulated: loop";
	case ARCH_OP_JRCXZ: return "emulated: jump if rcx/ecx is zero";
	default: return "emulated: indirect call through a register";
	}
}

void arch_xol_reason(const struct arch_insn *ai, bool emulable, char *why, size_t len)
{
	snprintf(why, len, "%s%s%s",
		 ai->op >= ARCH_OP_JMP_REL && ai->op <= ARCH_OP_CALL_REG
			 ? "relocated out of line"
			 : "executed out of line, then a jump back",
		 ai->riprel_off ? "; RIP-relative operand re-targeted" : "",
		 emulable ? " (emulation disabled)" : "");
}
