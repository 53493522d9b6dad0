/* SPDX-License-Identifier: MIT */
/*
 * Framing for generated code (tests/diff/gen.h).
 *
 * diff_enter(struct cpu_state *st, void *code): loads every GPR but rsp, ymm/xmm
 * registers and MXCSR from *st, pushes a return address and st->rflags, jumps
 * to code, and stores everything back (with the final rsp and rflags) when the
 * code returns. The code starts with `popfq` (gen.h): flags become live inside
 * it, as the ABI wants of a function entry. The generated code may clobber
 * everything except r15 and rsp, so the state pointer lives in a static while
 * it runs (single-threaded).
 *
 * With use_ymm set, ymm0-15 are loaded and stored whole (vzeroupper after).
 *
 * diff_snap_blob..diff_snap_blob_end: position-independent bytes copied into the
 * code buffer. The site `lea rsp, [rsp-128]; call snap; lea rsp, [rsp+128]`
 * before an instruction appends its registers, laid out as struct uprobe_regs
 * (rip = the instruction, rsp = as it sees it), to the log whose address is in
 * the quad at the end of the blob. Flags, every register and the 128-byte red
 * zone are preserved; only the stack below that is written.
 */
	.intel_syntax noprefix

	.set ST_RFLAGS, 0x80
	.set ST_ENTRY_RSP, 0x88
	.set ST_MXCSR, 0x90
	.set ST_USE_YMM, 0x94
	.set ST_XMM, 0xa0

	.bss
	.balign 8
diff_saved_rsp:
	.quad 0
diff_cur_state:
	.quad 0
diff_cur_code:
	.quad 0
diff_saved_mxcsr:
	.long 0

	.text
	.globl diff_enter
	.type diff_enter,@function
diff_enter:
	push rbp
	push rbx
	push r12
	push r13
	push r14
	push r15
	mov [rip + diff_saved_rsp], rsp
	mov [rip + diff_cur_state], rdi
	mov [rip + diff_cur_code], rsi
	stmxcsr [rip + diff_saved_mxcsr]
	ldmxcsr [rdi + ST_MXCSR]
	cmp dword ptr [rdi + ST_USE_YMM], 0
	je .Lload_xmm
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu ymm\n, [rdi + ST_XMM + \n * 32]
	.endr
	jmp .Lloaded
.Lload_xmm:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu xmm\n, [rdi + ST_XMM + \n * 32]
	.endr
.Lloaded:
	lea rax, [rsp - 8]
	mov [rdi + ST_ENTRY_RSP], rax
	lea rax, [rip + .Lback]
	push rax			/* for the code's final ret */
	push qword ptr [rdi + ST_RFLAGS] /* for the code's entry stub: popfq */
	mov rax, [rdi + 0 * 8]
	mov rcx, [rdi + 1 * 8]
	mov rdx, [rdi + 2 * 8]
	mov rbx, [rdi + 3 * 8]
	mov rbp, [rdi + 5 * 8]
	mov rsi, [rdi + 6 * 8]
	mov r8, [rdi + 8 * 8]
	mov r9, [rdi + 9 * 8]
	mov r10, [rdi + 10 * 8]
	mov r11, [rdi + 11 * 8]
	mov r12, [rdi + 12 * 8]
	mov r13, [rdi + 13 * 8]
	mov r14, [rdi + 14 * 8]
	mov r15, [rdi + 15 * 8]
	mov rdi, [rdi + 7 * 8]
	jmp qword ptr [rip + diff_cur_code]
.Lback:
	pushfq
	push rax
	mov rax, [rip + diff_cur_state]
	mov [rax + 1 * 8], rcx
	mov [rax + 2 * 8], rdx
	mov [rax + 3 * 8], rbx
	mov [rax + 5 * 8], rbp
	mov [rax + 6 * 8], rsi
	mov [rax + 7 * 8], rdi
	mov [rax + 8 * 8], r8
	mov [rax + 9 * 8], r9
	mov [rax + 10 * 8], r10
	mov [rax + 11 * 8], r11
	mov [rax + 12 * 8], r12
	mov [rax + 13 * 8], r13
	mov [rax + 14 * 8], r14
	mov [rax + 15 * 8], r15
	pop qword ptr [rax + 0 * 8]
	pop qword ptr [rax + ST_RFLAGS]
	mov [rax + 4 * 8], rsp
	cmp dword ptr [rax + ST_USE_YMM], 0
	je .Lstore_xmm
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu [rax + ST_XMM + \n * 32], ymm\n
	.endr
	vzeroupper
	jmp .Lstored
.Lstore_xmm:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu [rax + ST_XMM + \n * 32], xmm\n
	.endr
.Lstored:
	stmxcsr [rax + ST_MXCSR]
	cld
	ldmxcsr [rip + diff_saved_mxcsr]
	mov rsp, [rip + diff_saved_rsp]
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbx
	pop rbp
	ret
	.size diff_enter, .-diff_enter

/*
 * A page of text covered by a function symbol: code generated here can be
 * probed without UPROBE_F_NO_BOUNDARY_CHECK, so the library may decode the
 * whole function and jump-optimize. The symbol covers main, exit and sub; the
 * data area and the snapshot routine follow it in the same page. The harness
 * makes the page writable.
 */
	.balign 4096
	.globl diff_code_area
	.type diff_code_area,@function
diff_code_area:
	.fill 0xa00, 1, 0xf4
	.size diff_code_area, .-diff_code_area
	.fill 0x600, 1, 0xf4

	.section .rodata
	.globl diff_snap_blob
	.globl diff_snap_blob_end
	.type diff_snap_blob,@object
diff_snap_blob:
	pushfq
	push rax
	mov rax, [rip + diff_snap_slot]
	mov [rax + 0x00], r15
	mov [rax + 0x08], r14
	mov [rax + 0x10], r13
	mov [rax + 0x18], r12
	mov [rax + 0x20], rbp
	mov [rax + 0x28], rbx
	mov [rax + 0x30], r11
	mov [rax + 0x38], r10
	mov [rax + 0x40], r9
	mov [rax + 0x48], r8
	mov [rax + 0x58], rcx
	mov [rax + 0x60], rdx
	mov [rax + 0x68], rsi
	mov [rax + 0x70], rdi
	mov rbx, [rsp]			/* rax */
	mov [rax + 0x50], rbx
	mov rbx, [rsp + 8]		/* rflags */
	mov [rax + 0x80], rbx
	mov rbx, [rsp + 16]		/* return address: lea rsp, [rsp+128] */
	lea rbx, [rbx + 8]		/* the instruction after it */
	mov [rax + 0x78], rbx
	lea rbx, [rsp + 24 + 128]	/* rsp before lea rsp, [rsp-128] */
	mov [rax + 0x88], rbx
	mov rbx, [rax + 0x28]
	lea rax, [rax + 0x90]
	mov [rip + diff_snap_slot], rax
	pop rax
	popfq
	ret
	.balign 8
diff_snap_slot:
	.quad 0
diff_snap_blob_end:
	.size diff_snap_blob, .-diff_snap_blob

	.section .note.GNU-stack,"",@progbits
