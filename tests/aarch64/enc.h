/* SPDX-License-Identifier: MIT */
/*
 * Encoders of the aarch64 instructions the tests generate (ARM ARM field
 * layouts). The library decodes with Capstone; test_state checks that
 * Capstone reads back each of these as the instruction it is meant to be.
 * off: byte offset from the instruction (multiple of 4 for branches).
 */
#ifndef TESTS_AARCH64_ENC_H
#define TESTS_AARCH64_ENC_H

#include <stdint.h>

#define U(x) ((uint32_t)(x))

static inline uint32_t enc_adr(unsigned rd, int64_t off)
{
	return 0x10000000u | (U(off) & 3) << 29 | (U(off >> 2) & 0x7ffff) << 5 | rd;
}

static inline uint32_t enc_adrp(unsigned rd, int64_t pages)
{
	return 0x90000000u | (U(pages) & 3) << 29 | (U(pages >> 2) & 0x7ffff) << 5 | rd;
}

static inline uint32_t enc_b(int64_t off) { return 0x14000000u | (U(off >> 2) & 0x3ffffff); }
static inline uint32_t enc_bl(int64_t off) { return 0x94000000u | (U(off >> 2) & 0x3ffffff); }

static inline uint32_t enc_bcond(unsigned cond, int64_t off)
{
	return 0x54000000u | (U(off >> 2) & 0x7ffff) << 5 | cond;
}

static inline uint32_t enc_cbz(unsigned sf, unsigned neg, unsigned rt, int64_t off)
{
	return sf << 31 | 0x34000000u | neg << 24 | (U(off >> 2) & 0x7ffff) << 5 | rt;
}

static inline uint32_t enc_tbz(unsigned neg, unsigned rt, unsigned bit, int64_t off)
{
	return (bit >> 5) << 31 | 0x36000000u | neg << 24 | (bit & 0x1f) << 19 |
	       (U(off >> 2) & 0x3fff) << 5 | rt;
}

/* opc: 0 ldr w/s, 1 ldr x/d, 2 ldrsw/q, 3 prfm; v: SIMD&FP. */
static inline uint32_t enc_ldr_lit(unsigned opc, unsigned v, unsigned rt, int64_t off)
{
	return opc << 30 | 0x18000000u | v << 26 | (U(off >> 2) & 0x7ffff) << 5 | rt;
}

static inline uint32_t enc_br(unsigned rn) { return 0xd61f0000u | rn << 5; }
static inline uint32_t enc_blr(unsigned rn) { return 0xd63f0000u | rn << 5; }
static inline uint32_t enc_ret(unsigned rn) { return 0xd65f0000u | rn << 5; }

static inline uint32_t enc_addsub_imm(unsigned sf, unsigned sub, unsigned s, unsigned rd,
				      unsigned rn, unsigned imm12)
{
	return sf << 31 | sub << 30 | s << 29 | 0x11000000u | imm12 << 10 | rn << 5 | rd;
}

static inline uint32_t enc_addsub_reg(unsigned sf, unsigned sub, unsigned s, unsigned rd,
				      unsigned rn, unsigned rm, unsigned shift, unsigned amt)
{
	return sf << 31 | sub << 30 | s << 29 | 0x0b000000u | shift << 22 | rm << 16 | amt << 10 |
	       rn << 5 | rd;
}

/* opc: 0 and, 1 orr, 2 eor, 3 ands */
static inline uint32_t enc_logic_reg(unsigned sf, unsigned opc, unsigned rd, unsigned rn,
				     unsigned rm, unsigned shift, unsigned amt)
{
	return sf << 31 | opc << 29 | 0x0a000000u | shift << 22 | rm << 16 | amt << 10 | rn << 5 |
	       rd;
}

static inline uint32_t enc_movz(unsigned sf, unsigned rd, unsigned imm16, unsigned hw)
{
	return sf << 31 | 0x52800000u | hw << 21 | imm16 << 5 | rd;
}

static inline uint32_t enc_movk(unsigned sf, unsigned rd, unsigned imm16, unsigned hw)
{
	return sf << 31 | 0x72800000u | hw << 21 | imm16 << 5 | rd;
}

/* csel (inc 0) / csinc (inc 1) */
static inline uint32_t enc_csel(unsigned sf, unsigned inc, unsigned rd, unsigned rn, unsigned rm,
				unsigned cond)
{
	return sf << 31 | 0x1a800000u | rm << 16 | cond << 12 | inc << 10 | rn << 5 | rd;
}

static inline uint32_t enc_ccmp(unsigned sf, unsigned rn, unsigned rm, unsigned cond,
				unsigned nzcv)
{
	return sf << 31 | 0x7a400000u | rm << 16 | cond << 12 | rn << 5 | nzcv;
}

static inline uint32_t enc_madd(unsigned sf, unsigned rd, unsigned rn, unsigned rm, unsigned ra)
{
	return sf << 31 | 0x1b000000u | rm << 16 | ra << 10 | rn << 5 | rd;
}

/* ldr/str xt, [xn, #imm12 * 8] */
static inline uint32_t enc_ldr_x(unsigned rt, unsigned rn, unsigned imm12)
{
	return 0xf9400000u | imm12 << 10 | rn << 5 | rt;
}

static inline uint32_t enc_str_x(unsigned rt, unsigned rn, unsigned imm12)
{
	return 0xf9000000u | imm12 << 10 | rn << 5 | rt;
}

/* stp xt, xt2, [xn, #imm7 * 8]! and ldp xt, xt2, [xn], #imm7 * 8 */
static inline uint32_t enc_stp_pre(unsigned rt, unsigned rt2, unsigned rn, int imm7)
{
	return 0xa9800000u | (U(imm7) & 0x7f) << 15 | rt2 << 10 | rn << 5 | rt;
}

static inline uint32_t enc_ldp_post(unsigned rt, unsigned rt2, unsigned rn, int imm7)
{
	return 0xa8c00000u | (U(imm7) & 0x7f) << 15 | rt2 << 10 | rn << 5 | rt;
}

static inline uint32_t enc_mrs_nzcv(unsigned rt) { return 0xd53b4200u | rt; }
static inline uint32_t enc_msr_nzcv(unsigned rt) { return 0xd51b4200u | rt; }

/* add vd.2d, vn.2d, vm.2d */
static inline uint32_t enc_add_v2d(unsigned rd, unsigned rn, unsigned rm)
{
	return 0x4ee08400u | rm << 16 | rn << 5 | rd;
}

#define ENC_NOP 0xd503201fu
#define ENC_PACIASP 0xd503233fu
#define ENC_AUTIASP 0xd50323bfu
#define ENC_BTI_C 0xd503245fu
#define ENC_BTI_JC 0xd50324dfu
#define ENC_RETAA 0xd65f0bffu
#define ENC_SVC0 0xd4000001u

static inline uint32_t enc_pacia(unsigned rd, unsigned rn) { return 0xdac10000u | rn << 5 | rd; }
static inline uint32_t enc_paciza(unsigned rd) { return 0xdac123e0u | rd; }
static inline uint32_t enc_blraa(unsigned rn, unsigned rm) { return 0xd73f0800u | rn << 5 | rm; }
static inline uint32_t enc_blraaz(unsigned rn) { return 0xd63f081fu | rn << 5; }
static inline uint32_t enc_braa(unsigned rn, unsigned rm) { return 0xd71f0800u | rn << 5 | rm; }
static inline uint32_t enc_ldxr(unsigned rt, unsigned rn) { return 0xc85f7c00u | rn << 5 | rt; }

static inline uint32_t enc_stxr(unsigned rs, unsigned rt, unsigned rn)
{
	return 0xc8007c00u | rs << 16 | rn << 5 | rt;
}

#endif
