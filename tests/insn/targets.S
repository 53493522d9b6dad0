/* SPDX-License-Identifier: MIT */
/*
 * Probe targets for test_insn: one routine per instruction case.
 *
 * ins_<case>(struct cpu_state *st) saves the callee-saved registers, carves a
 * 64-byte aligned area off the real stack (rsp_base), loads rflags, a stack
 * window around rsp_base and every GPR (rdi last) from st, runs its snippet and
 * stores everything back. The instruction under test sits at the global label
 * p_<case>; e_<case> marks the next instruction. Right before p_<case>, SNAP
 * copies all GPRs and rflags into g_snap without changing any of them, so the
 * C side knows exactly what the handler must see at the probe.
 *
 * Snippets address their scratch memory RIP-relatively through g_work (the C
 * side always passes &g_work) and record the path taken in st->mark.
 */
#include "insn_state.h"

#define M(off) g_work+ST_MEM+(off)

	.bss
	.p2align 3
g_host_rsp:	.quad 0		/* rsp after the callee-saved pushes */
g_state:	.quad 0		/* the struct cpu_state being run */
g_tmp_rdi:	.quad 0		/* the snippet's rdi while rdi holds g_state */

	.text

/* GAS macro names ignore case: none may be spelled like a mnemonic (leave!). */
.macro ST_ENTER
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, g_host_rsp(%rip)
	mov %rdi, g_state(%rip)
	/* Keep at least 512 bytes between rsp_base and the saved registers. */
	sub $512, %rsp
	and $-64, %rsp
	mov %rsp, ST_RSP_BASE(%rdi)
	/* Flags first: popfq's stack slot is part of the window loaded next. */
	pushq ST_RFLAGS(%rdi)
	popfq
	.set .Li, 0
	.rept ST_STK_WORDS
	mov ST_STK+8*.Li(%rdi), %rax
	mov %rax, -64+8*.Li(%rsp)
	.set .Li, .Li+1
	.endr
	mov ST_RAX(%rdi), %rax
	mov ST_RCX(%rdi), %rcx
	mov ST_RDX(%rdi), %rdx
	mov ST_RBX(%rdi), %rbx
	mov ST_RBP(%rdi), %rbp
	mov ST_RSI(%rdi), %rsi
	mov ST_R8(%rdi), %r8
	mov ST_R9(%rdi), %r9
	mov ST_R10(%rdi), %r10
	mov ST_R11(%rdi), %r11
	mov ST_R12(%rdi), %r12
	mov ST_R13(%rdi), %r13
	mov ST_R14(%rdi), %r14
	mov ST_R15(%rdi), %r15
	mov ST_RDI(%rdi), %rdi
.endm

/* Only mov until pushfq: nothing may change the flags the snippet left. */
.macro ST_LEAVE
	mov %rdi, g_tmp_rdi(%rip)
	mov g_state(%rip), %rdi
	mov %rax, ST_RAX(%rdi)
	mov %rcx, ST_RCX(%rdi)
	mov %rdx, ST_RDX(%rdi)
	mov %rbx, ST_RBX(%rdi)
	mov %rsp, ST_RSP(%rdi)
	mov %rbp, ST_RBP(%rdi)
	mov %rsi, ST_RSI(%rdi)
	mov %r8, ST_R8(%rdi)
	mov %r9, ST_R9(%rdi)
	mov %r10, ST_R10(%rdi)
	mov %r11, ST_R11(%rdi)
	mov %r12, ST_R12(%rdi)
	mov %r13, ST_R13(%rdi)
	mov %r14, ST_R14(%rdi)
	mov %r15, ST_R15(%rdi)
	mov g_tmp_rdi(%rip), %rax
	mov %rax, ST_RDI(%rdi)
	/* Back above the window before pushfq writes to the stack. */
	mov g_host_rsp(%rip), %rsp
	pushfq
	popq ST_RFLAGS(%rdi)
	cld
	mov ST_RSP_BASE(%rdi), %rsi
	.set .Li, 0
	.rept ST_STK_WORDS
	mov -64+8*.Li(%rsi), %rax
	mov %rax, ST_STK+8*.Li(%rdi)
	.set .Li, .Li+1
	.endr
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret
.endm

/*
 * Copy every GPR and rflags to g_snap, changing nothing the snippet can see:
 * pushfq goes 256 bytes below rsp, under the red zone and the stack window.
 */
.macro SNAP
	mov %rax, g_snap+ST_RAX(%rip)
	mov %rcx, g_snap+ST_RCX(%rip)
	mov %rdx, g_snap+ST_RDX(%rip)
	mov %rbx, g_snap+ST_RBX(%rip)
	mov %rsp, g_snap+ST_RSP(%rip)
	mov %rbp, g_snap+ST_RBP(%rip)
	mov %rsi, g_snap+ST_RSI(%rip)
	mov %rdi, g_snap+ST_RDI(%rip)
	mov %r8, g_snap+ST_R8(%rip)
	mov %r9, g_snap+ST_R9(%rip)
	mov %r10, g_snap+ST_R10(%rip)
	mov %r11, g_snap+ST_R11(%rip)
	mov %r12, g_snap+ST_R12(%rip)
	mov %r13, g_snap+ST_R13(%rip)
	mov %r14, g_snap+ST_R14(%rip)
	mov %r15, g_snap+ST_R15(%rip)
	lea -256(%rsp), %rsp
	pushfq
	pop %rax
	mov %rax, g_snap+ST_RFLAGS(%rip)
	lea 256(%rsp), %rsp
	mov g_snap+ST_RAX(%rip), %rax
.endm

.macro MARK v
	movq $\v, g_work+ST_MARK(%rip)
.endm

.macro BEGIN name
	.globl ins_\name
	.type ins_\name, @function
	.p2align 4
ins_\name:
	ST_ENTER
.endm

.macro END name
	ST_LEAVE
	.size ins_\name, . - ins_\name
.endm

.macro PROBE name
	SNAP
	.globl p_\name
p_\name:
.endm

.macro PEND name
	.globl e_\name
e_\name:
.endm

/* One instruction, no control transfer. */
.macro SIMPLE name, insn:vararg
	BEGIN \name
	PROBE \name
	\insn
	PEND \name
	END \name
.endm

/* A conditional or unconditional branch forward: mark 1 fall-through, 2 taken. */
.macro BRANCH name, insn:vararg
	BEGIN \name
	PROBE \name
	\insn 1f
	PEND \name
	MARK 1
	jmp 2f
1:	MARK 2
2:
	END \name
.endm

/*
 * The same with a backward target, kept within rel8 reach of the probe: the
 * taken side lands on a hop placed between SNAP and the probe.
 */
.macro BRANCH_BACK name, insn:vararg
	BEGIN \name
	jmp 3f
4:	MARK 2
	jmp 2f
3:	SNAP
	jmp 5f
1:	jmp 4b
5:
	.globl p_\name
p_\name:
	\insn 1b
	PEND \name
	MARK 1
2:
	END \name
.endm

/*
 * An indirect transfer whose target the C side passes in (register, memory or
 * stack): t_<case> marks 2; falling through marks 1.
 */
.macro INDIRECT name, insn:vararg
	BEGIN \name
	PROBE \name
	\insn
	PEND \name
	MARK 1
	jmp 2f
	.globl t_\name
t_\name:
	MARK 2
2:
	END \name
.endm

/* Called by the call cases: records its rsp and return address. */
	.globl callee_rec
	.type callee_rec, @function
	.p2align 4
callee_rec:
	mov %rsp, M(MEM_CALLEE_RSP)(%rip)
	movq $0xca11ee, M(MEM_CALLEE_MARK)(%rip)
	push %rax
	mov 8(%rsp), %rax
	mov %rax, M(MEM_CALLEE_RET)(%rip)
	pop %rax
	ret
	.size callee_rec, . - callee_rec

/* ---- RIP-relative loads, stores, lea ---- */
SIMPLE riprel_load, mov M(8)(%rip), %rax
SIMPLE riprel_load_r12, mov M(16)(%rip), %r12
SIMPLE riprel_load_b, movzbl M(3)(%rip), %ecx
SIMPLE riprel_add, add M(24)(%rip), %rdx
SIMPLE riprel_cmp_imm, cmpq $0x1234, M(32)(%rip)
SIMPLE riprel_store, mov %rbx, M(40)(%rip)
SIMPLE riprel_store_rax, mov %rax, M(48)(%rip)
SIMPLE riprel_store_imm32, movl $0x5a5a1234, M(56)(%rip)
SIMPLE riprel_store_imm16, movw $0x7788, M(60)(%rip)
SIMPLE riprel_store_imm8, movb $0x99, M(63)(%rip)
SIMPLE riprel_load_16, mov M(2)(%rip), %ax
SIMPLE riprel_bts_imm, btsq $5, M(16)(%rip)
SIMPLE riprel_prefetch, prefetcht0 M(0)(%rip)
SIMPLE riprel_cmpxchg, cmpxchg %rbx, M(0)(%rip)
SIMPLE riprel_xchg, xchg %rax, M(8)(%rip)
SIMPLE riprel_lea, lea M(8)(%rip), %rdx
SIMPLE riprel_lea_r15, lea g_work(%rip), %r15
SIMPLE riprel_lea_code, lea callee_rec(%rip), %rax
SIMPLE riprel_push, pushq M(32)(%rip)
SIMPLE riprel_pop, popq M(24)(%rip)
SIMPLE riprel_inc, incl M(4)(%rip)

/* ---- SSE and AVX with a RIP-relative operand ---- */
.macro SSE_PRE
	movdqu M(MEM_SIMD_A)(%rip), %xmm0
	movdqu M(MEM_SIMD_B)(%rip), %xmm1
	movdqu M(MEM_SIMD_A)(%rip), %xmm2
	movdqu M(MEM_SIMD_LIVE)(%rip), %xmm3
	movdqu M(MEM_SIMD_A)(%rip), %xmm12
.endm

.macro SSE_CASE name, out, insn:vararg
	BEGIN \name
	SSE_PRE
	PROBE \name
	\insn
	PEND \name
	movdqu \out, M(MEM_SIMD_OUT)(%rip)
	movdqu %xmm3, M(MEM_SIMD_LOUT)(%rip)
	END \name
.endm

SSE_CASE sse_movdqu_load, %xmm0, movdqu M(MEM_SIMD_OP)(%rip), %xmm0
SSE_CASE sse_movdqu_load_x12, %xmm12, movdqu M(MEM_SIMD_OP)(%rip), %xmm12
SSE_CASE sse_paddd, %xmm1, paddd M(MEM_SIMD_OP)(%rip), %xmm1
SSE_CASE sse_pshufd_imm, %xmm2, pshufd $0x1b, M(MEM_SIMD_OP)(%rip), %xmm2
SSE_CASE sse_cvtsi2sdq, %xmm2, cvtsi2sdq M(MEM_SIMD_OP)(%rip), %xmm2
SSE_CASE sse_movups_store, %xmm0, movups %xmm1, M(MEM_SIMD_OP)(%rip)

.macro AVX_PRE
	vmovdqu M(MEM_SIMD_A)(%rip), %ymm0
	vmovdqu M(MEM_SIMD_B)(%rip), %ymm1
	vmovdqu M(MEM_SIMD_A)(%rip), %ymm2
	vmovdqu M(MEM_SIMD_LIVE)(%rip), %ymm3
	vmovdqu M(MEM_SIMD_B)(%rip), %ymm9
	vmovdqu M(MEM_SIMD_A)(%rip), %ymm10
.endm

.macro AVX_CASE name, out, insn:vararg
	BEGIN \name
	AVX_PRE
	PROBE \name
	\insn
	PEND \name
	vmovdqu \out, M(MEM_SIMD_OUT)(%rip)
	vmovdqu %ymm3, M(MEM_SIMD_LOUT)(%rip)
	vzeroupper
	END \name
.endm

AVX_CASE avx_vmovdqu_load, %ymm0, vmovdqu M(MEM_SIMD_OP)(%rip), %ymm0
AVX_CASE avx_vpaddd, %ymm2, vpaddd M(MEM_SIMD_OP)(%rip), %ymm1, %ymm2
AVX_CASE avx_vpaddd_hi, %ymm10, vpaddd M(MEM_SIMD_OP)(%rip), %ymm9, %ymm10
AVX_CASE avx_vpblendd_imm, %ymm2, vpblendd $0xa5, M(MEM_SIMD_OP)(%rip), %ymm1, %ymm2
AVX_CASE avx_vbroadcastss, %ymm10, vbroadcastss M(MEM_SIMD_OP+4)(%rip), %ymm10
AVX_CASE avx_vmovdqu_store, %ymm0, vmovdqu %ymm9, M(MEM_SIMD_OP)(%rip)

	BEGIN avx512_vpaddd
	vmovdqu64 M(MEM_SIMD_B)(%rip), %zmm17
	vmovdqu64 M(MEM_SIMD_A)(%rip), %zmm18
	vmovdqu64 M(MEM_SIMD_LIVE)(%rip), %zmm3
	PROBE avx512_vpaddd
	vpaddd M(MEM_SIMD_OP)(%rip), %zmm17, %zmm18
	PEND avx512_vpaddd
	vmovdqu64 %zmm18, M(MEM_SIMD_OUT)(%rip)
	vmovdqu64 %zmm3, M(MEM_SIMD_LOUT)(%rip)
	vzeroupper
	END avx512_vpaddd

/* ---- jmp / jcc, rel8 and rel32 ---- */
BRANCH jmp_8, jmp
BRANCH jmp_32, {disp32} jmp
BRANCH_BACK jmp_back_8, jmp
BRANCH_BACK jmp_back_32, {disp32} jmp
.irp cc, o,no,b,ae,e,ne,be,a,s,ns,p,np,l,ge,le,g
BRANCH jcc_\cc\()_8, j\cc
BRANCH jcc_\cc\()_32, {disp32} j\cc
.endr
BRANCH_BACK jcc_ne_back_8, jne
/* Prefixed branches: a ds (taken hint) and a bnd prefix change the length. */
BRANCH jcc_e_hint, ds je
BRANCH jmp_bnd, bnd jmp
BRANCH_BACK jcc_l_back_32, {disp32} jl

/* ---- loop family ---- */
BRANCH loop, loop
BRANCH loope, loope
BRANCH loopne, loopne
BRANCH jrcxz, jrcxz
BRANCH jecxz, jecxz
BRANCH loop_a32, addr32 loop
BRANCH_BACK loop_back, loop

/* ---- call rel32 ---- */
SIMPLE call_rel32, call callee_rec

	BEGIN call_next
	PROBE call_next
	call 1f
	PEND call_next
1:	pop %rax
	END call_next

/* ---- indirect call / jmp ---- */
SIMPLE call_reg, call *%rax
SIMPLE call_reg_r11, call *%r11
SIMPLE call_mem, call *8(%rax)
SIMPLE call_mem_r12, call *16(%r12)
SIMPLE call_mem_rsp, call *(%rsp)
SIMPLE call_mem_rsp8, call *8(%rsp)
SIMPLE call_rip, call *M(8)(%rip)
INDIRECT jmp_reg, jmp *%rax
INDIRECT jmp_reg_r11, jmp *%r11
INDIRECT jmp_mem, jmp *8(%rax)
INDIRECT jmp_mem_rsp, jmp *(%rsp)
INDIRECT jmp_rip, jmp *M(16)(%rip)
INDIRECT jmp_notrack, notrack jmp *%rax

/* ---- ret (the C side puts t_<case> at rsp_base) ---- */
INDIRECT ret, ret
INDIRECT ret_imm16, ret $16
INDIRECT ret_imm8, ret $8

/* ---- push / pop ---- */
.irp r, rax,rcx,rdx,rbx,rsp,rbp,rsi,rdi,r8,r9,r10,r11,r12,r13,r14,r15
SIMPLE push_\r, push %\r
.endr
SIMPLE push_ax, push %ax
SIMPLE push_mem_rsp8, pushq 8(%rsp)
SIMPLE push_mem_rsp, pushq (%rsp)
SIMPLE push_mem_rsp_neg, pushq -8(%rsp)
SIMPLE push_mem_rsi, pushq 16(%rsi)
SIMPLE push_imm8, push $0x12
SIMPLE push_imm8_neg, push $-2
SIMPLE push_imm32, push $0x12345678
SIMPLE push_imm32_neg, pushq $-0x12345678
SIMPLE pushw_imm, pushw $0x1234
.irp r, rax,rbx,rbp,r8,r12,r15
SIMPLE pop_\r, pop %\r
.endr
SIMPLE pop_ax, pop %ax
SIMPLE pop_mem_rsp, popq (%rsp)
SIMPLE pop_mem_rsi, popq 8(%rsi)

	BEGIN pop_rsp
	lea -32(%rsp), %rax
	push %rax
	PROBE pop_rsp
	pop %rsp
	PEND pop_rsp
	END pop_rsp

	BEGIN leave
	lea 16(%rsp), %rbp
	PROBE leave
	leave
	PEND leave
	END leave

/* ---- cmov ---- */
SIMPLE cmove, cmove %rbx, %rax
SIMPLE cmovne, cmovne %rbx, %rax
SIMPLE cmovl, cmovl %rcx, %rdx
SIMPLE cmovg, cmovg %r8, %r9
SIMPLE cmovb, cmovb %rsi, %rdi
SIMPLE cmova, cmova %r14, %r15
SIMPLE cmovs_mem, cmovs (%rsi), %rbp
SIMPLE cmovo_rip, cmovo M(0)(%rip), %r10
SIMPLE cmovp_32, cmovp %eax, %ebx
SIMPLE cmovbe_rsp, cmovbe 8(%rsp), %rax

/* ---- string instructions ---- */
SIMPLE rep_movsb, rep movsb
SIMPLE rep_movsb_df, rep movsb
SIMPLE rep_movsq, rep movsq
SIMPLE rep_stosq, rep stosq
SIMPLE rep_stosq_df, rep stosq
SIMPLE rep_stosb, rep stosb
SIMPLE repne_scasb, repne scasb
SIMPLE repne_scasb_df, repne scasb
SIMPLE repe_cmpsb, repe cmpsb
SIMPLE movsb, movsb
SIMPLE stosq, stosq
SIMPLE lodsb, lodsb

/* ---- endbr64 and nops of every length ---- */
SIMPLE endbr64, endbr64
SIMPLE nop1, .byte 0x90
SIMPLE nop2, .byte 0x66, 0x90
SIMPLE nop3, .byte 0x0f, 0x1f, 0x00
SIMPLE nop4, .byte 0x0f, 0x1f, 0x40, 0x00
SIMPLE nop5, .byte 0x0f, 0x1f, 0x44, 0x00, 0x00
SIMPLE nop6, .byte 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00
SIMPLE nop7, .byte 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00
SIMPLE nop8, .byte 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00
SIMPLE nop9, .byte 0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00
SIMPLE nop10, .byte 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00
SIMPLE nop11, .byte 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00
SIMPLE nopw_text, nopw 0x0(%rax,%rax,1)
SIMPLE nopl_text, nopl 0x0(%rax)
SIMPLE nop_riprel, .byte 0x0f, 0x1f, 0x05, 0x00, 0x00, 0x00, 0x00
SIMPLE nop_reg, .byte 0x0f, 0x1f, 0xc0
SIMPLE nop_rexw, .byte 0x48, 0x90
SIMPLE pause, pause

/* ---- extras ---- */
SIMPLE lock_cmpxchg, lock cmpxchg %rcx, (%rsi)
SIMPLE lock_cmpxchg_rip, lock cmpxchg %rcx, M(0)(%rip)
SIMPLE lock_xadd_rip, lock xadd %rax, M(8)(%rip)
SIMPLE lock_inc, lock incq 8(%rsi)
SIMPLE lock_cmpxchg16b, lock cmpxchg16b (%rsi)
SIMPLE fs_canary, mov %fs:0x28, %rax
SIMPLE fs_self, mov %fs:0, %rbx
SIMPLE pushfq, pushfq
SIMPLE pushfw, .byte 0x66, 0x9c
SIMPLE popfq, popfq
SIMPLE xchg_reg, xchg %rax, %rbx
SIMPLE xchg_mem, xchg %rcx, (%rsi)
/* 41 90 is xchg %eax,%r8d, not a nop; 87 c0 zero-extends rax. */
SIMPLE xchg_r8d_eax, .byte 0x41, 0x90
SIMPLE xchg_eax_eax, .byte 0x87, 0xc0
SIMPLE bswap_rax, bswap %rax
SIMPLE bswap_r10d, bswap %r10d
SIMPLE add_rax, add $1, %rax
SIMPLE imul_reg, imul %rbx, %rcx
SIMPLE div_rbx, div %rbx
SIMPLE lea_rsp, lea 8(%rsp), %rax
SIMPLE load_rsp, mov 8(%rsp), %rax
SIMPLE redzone_store, mov %rax, -8(%rsp)
SIMPLE sub_rsp, sub $0x28, %rsp
SIMPLE and_rsp, and $-32, %rsp
SIMPLE sete_al, sete %al
SIMPLE adc_reg, adc %rbx, %rax
SIMPLE shl_cl, shl %cl, %rax
SIMPLE mfence, mfence

	BEGIN mov_to_rsp
	lea -24(%rsp), %rax
	PROBE mov_to_rsp
	mov %rax, %rsp
	PEND mov_to_rsp
	END mov_to_rsp

	BEGIN enter
	PROBE enter
	enter $16, $0
	PEND enter
	mov %rsp, %rcx
	leave
	END enter

	/* A value written to the far red zone must survive the trap. */
	BEGIN redzone_load
	mov %rdx, -120(%rsp)
	PROBE redzone_load
	mov -120(%rsp), %rbx
	PEND redzone_load
	END redzone_load

/* ---- probe on a function's first instruction and in its middle ---- */
	.globl fn_entry_target
	.type fn_entry_target, @function
	.p2align 4
fn_entry_target:
	.globl p_fn_entry
p_fn_entry:
	push %rbp
	.globl e_fn_entry
e_fn_entry:
	mov %rsp, %rbp
	add %rdi, %rax
	lea 0x10(%rbx), %rcx
	pop %rbp
	ret
	.size fn_entry_target, . - fn_entry_target

	/* The handler sees rsp 8 below the SNAP at the call site. */
	BEGIN fn_entry
	SNAP
	call fn_entry_target
	END fn_entry

	.globl fn_endbr_target
	.type fn_endbr_target, @function
	.p2align 4
fn_endbr_target:
	.globl p_fn_endbr
p_fn_endbr:
	endbr64
	.globl e_fn_endbr
e_fn_endbr:
	push %rbp
	mov %rsp, %rbp
	xor %rsi, %rax
	pop %rbp
	ret
	.size fn_endbr_target, . - fn_endbr_target

	BEGIN fn_endbr
	SNAP
	call fn_endbr_target
	END fn_endbr

	.globl fn_mid_target
	.type fn_mid_target, @function
	.p2align 4
fn_mid_target:
	push %rbp
	mov %rsp, %rbp
	push %rbx
	sub $24, %rsp
	mov %rcx, -16(%rbp)
	PROBE fn_mid
	imul %rdi, %rax
	PEND fn_mid
	mov %rax, -24(%rbp)
	add $24, %rsp
	pop %rbx
	pop %rbp
	ret
	.size fn_mid_target, . - fn_mid_target

	BEGIN fn_mid
	call fn_mid_target
	END fn_mid

	.globl fn_ret_target
	.type fn_ret_target, @function
	.p2align 4
fn_ret_target:
	push %rbp
	mov %rsp, %rbp
	add %rsi, %rdx
	pop %rbp
	PROBE fn_ret
	ret
	PEND fn_ret
	.size fn_ret_target, . - fn_ret_target

	BEGIN fn_ret
	call fn_ret_target
	MARK 2
	END fn_ret

/*
 * ---- the handler skips the instruction ----
 * ref_<case> is the same snippet without the instruction: its native run is
 * what the probed run of skip_<case> must produce.
 */
SIMPLE skip_mov, mov $0xdead, %eax
SIMPLE skip_push, push %rbx
SIMPLE skip_call, call callee_rec
BRANCH skip_jmp, jmp
.irp n, skip_mov, skip_push, skip_call
	BEGIN ref_\n
	END ref_\n
.endr
	BEGIN ref_skip_jmp
	MARK 1
	END ref_skip_jmp

	.section .note.GNU-stack, "", @progbits
