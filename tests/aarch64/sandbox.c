// SPDX-License-Identifier: MIT
/* The aarch64 test sandbox: see sandbox.h. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "arch/aarch64/insn.h"
#include "arch/aarch64/jump.h"
#include "arch/aarch64/regs.h"
#include "arch/safe_read.h"
#include "enc.h"
#include "sandbox.h"

extern const uint8_t a64_frame_entry[], a64_frame_entry_end[];
extern const uint8_t a64_frame_exit[], a64_frame_exit_end[];

uint8_t *sb_base;
enum sb_mode sb_mode;
void (*sb_hook)(struct uprobe_regs *regs);
int sb_want_hits = 1;
static volatile int redirects;
static struct arch_insn probe_insn;
static uint64_t probe_pc;
static volatile int probe_hits;
static sigjmp_buf bail;
static volatile int bail_sig;
static volatile uint64_t bail_pc;

uint64_t sb_rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void put_words(unsigned off, const uint32_t *w, int n)
{
	memcpy(sb_base + off, w, n * 4u);
}

/* A landing pad at off: records its own address, then b exit. */
static void write_pad(unsigned off)
{
	uint32_t w[6] = {
		0xd51bd040u,				/* msr tpidr_el0, x0 */
		enc_adr(0, SB_OUT - (off + 4)),		/* adr x0, OUT */
		0xf9000401u,				/* str x1, [x0, #8] */
		enc_adr(1, -12),			/* adr x1, pad */
		0xf9000001u | (ST_PAD / 8) << 10,	/* str x1, [x0, #ST_PAD] */
		enc_b(SB_EXIT - (off + 20)),		/* b exit */
	};

	put_words(off, w, 6);
}

/* A literal load that cannot read its literal: the SIGSEGV the instruction takes. */
static void deliver_fault(uint64_t pc)
{
	bail_sig = SIGSEGV;
	bail_pc = pc;
	siglongjmp(bail, 1);
}

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	struct uprobe_regs regs;
	struct arch_vregs vr;
	int err;

	if ((sig == SIGSEGV || sig == SIGBUS) && arch_safe_read_fault(si, uc))
		return;
	if (sig == SIGTRAP && sb_mode == SB_JUMP && (err = arch_jump_redirect(uc))) {
		redirects++;
		if (err > 0)
			return;
		deliver_fault(uc->uc_mcontext.pc); /* what the probe's owner would do */
	}
	if (sig != SIGTRAP || uc->uc_mcontext.pc != probe_pc) {
		bail_sig = sig;
		bail_pc = uc->uc_mcontext.pc;
		siglongjmp(bail, 1);
	}
	probe_hits++;
	regs_from_ucontext(&regs, uc);
	if (sb_hook) {
		sb_hook(&regs);
		regs_to_ucontext(&regs, uc);
		if (regs.pc != probe_pc)
			return;
	}
	if (!arch_insn_can_emulate(&probe_insn)) {
		uc->uc_mcontext.pc = sb_addr(SB_SLOTS);
		return;
	}
	regs_vregs(uc, &vr);
	if (arch_emulate(&probe_insn, &regs, &vr))
		deliver_fault(probe_pc);
	regs_to_ucontext(&regs, uc);
}

void sb_init(void)
{
	static uint8_t altstack[65536];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa;
	int sigs[] = { SIGTRAP, SIGSEGV, SIGBUS, SIGILL, SIGFPE };

	sb_base = mmap(NULL, SB_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sb_base == MAP_FAILED) {
		perror("mmap sandbox");
		exit(2);
	}
	memcpy(sb_base + SB_ENTRY, a64_frame_entry, a64_frame_entry_end - a64_frame_entry);
	memcpy(sb_base + SB_EXIT, a64_frame_exit, a64_frame_exit_end - a64_frame_exit);
	mprotect(sb_base + SB_GUARD, 4096, PROT_NONE);
	for (unsigned i = 0; i < SB_NPADS; i++)
		write_pad(SB_PADS + i * SB_PAD_SIZE);
	__builtin___clear_cache((char *)sb_base, (char *)sb_base + SB_GUARD);
	sigaltstack(&ss, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

void sb_state_random(struct sb_state *st, uint64_t seed)
{
	memset(st, 0, sizeof(*st));
	for (int i = 0; i < 31; i++)
		st->x[i] = sb_rng(&seed);
	for (int i = 0; i < 32; i++)
		st->v[i] = (__uint128_t)sb_rng(&seed) << 64 | sb_rng(&seed);
	st->nzcv = (sb_rng(&seed) & 0xf) << 28;
	st->sp = sb_addr(SB_STACK_TOP);
}

static void fill_mem(uint64_t seed)
{
	for (unsigned off = SB_LIT; off < SB_IN; off += 8) {
		uint64_t v = sb_rng(&seed);

		memcpy(sb_base + off, &v, 8);
	}
}

/* The trampoline's consumer: count, check pc, let the hook change regs. */
static void jump_hit(void *rec, struct uprobe_regs *regs)
{
	(void)rec;
	if (regs->pc == probe_pc)
		probe_hits++;
	if (sb_hook)
		sb_hook(regs);
}

static int arm_jump(struct sb_probe *pr)
{
	static uint8_t tramp[ARCH_TRAMP_MAX];
	uint64_t at = sb_addr(SB_SLOTS);
	int len = arch_jump_build(&probe_insn, at, jump_hit, NULL, true, tramp, &pr->fast);

	if (len < 0)
		return pr->analyze_err = len;
	memcpy(sb_base + SB_SLOTS, tramp, len);
	*(uint32_t *)(uintptr_t)probe_pc = arch_jump_insn(probe_pc, at);
	return 0;
}

/* Analyse the probed word and build its slot; the word itself becomes brk. */
static int arm_probe(const uint32_t *words, int probe, struct sb_probe *pr)
{
	uint8_t slot[ARCH_XOL_SLOT_SIZE];
	int len;

	probe_pc = sb_addr(SB_CODE + probe * 4);
	pr->analyze_err = arch_insn_analyze(&probe_insn, (const uint8_t *)&words[probe], 4,
					    probe_pc, pr->why, sizeof(pr->why));
	if (pr->analyze_err)
		return pr->analyze_err;
	pr->emulated = arch_insn_can_emulate(&probe_insn);
	pr->op = probe_insn.op;
	if (sb_mode == SB_JUMP)
		return arm_jump(pr);
	if (!pr->emulated) {
		len = arch_xol_build(&probe_insn, sb_addr(SB_SLOTS), slot);
		if (len < 0)
			return pr->analyze_err = len;
		memcpy(sb_base + SB_SLOTS, slot, len);
	}
	*(uint32_t *)(sb_base + SB_CODE + probe * 4) = ARCH_BREAKPOINT;
	return 0;
}

void sb_run(const uint32_t *words, int n, int probe, const struct sb_state *in,
	    uint64_t mem_seed, struct sb_state *out, uint8_t *mem, struct sb_probe *pr)
{
	void (*entry)(void) = (void (*)(void))(sb_base + SB_ENTRY);

	memset(pr, 0, sizeof(*pr));
	fill_mem(mem_seed);
	put_words(SB_CODE, words, n);
	write_pad(SB_CODE + n * 4);
	if (probe >= 0 && arm_probe(words, probe, pr))
		return;
	__builtin___clear_cache((char *)sb_base, (char *)sb_base + SB_GUARD);
	memcpy(sb_base + SB_IN, in, sizeof(*in));
	memset(sb_base + SB_OUT, 0, sizeof(*out));
	probe_hits = 0;
	redirects = 0;
	if (sigsetjmp(bail, 1) == 0) {
		entry();
	} else {
		pr->signal = bail_sig;
		pr->sig_pc = bail_pc;
	}
	pr->hits = probe_hits;
	pr->redirects = redirects;
	probe_pc = 0;
	memcpy(out, sb_base + SB_OUT, sizeof(*out));
	memcpy(mem, sb_base + SB_LIT, SB_MEM_SIZE);
}

static int report_state(const char *name, const struct sb_state *a, const struct sb_state *b)
{
	int bad = 0;

	for (int i = 0; i < 31; i++)
		if (a->x[i] != b->x[i] && bad++ < 4)
			printf("  %s: x%d native %#llx probed %#llx\n", name, i,
			       (unsigned long long)a->x[i], (unsigned long long)b->x[i]);
	if (a->sp != b->sp && bad++ < 4)
		printf("  %s: sp native %#llx probed %#llx\n", name, (unsigned long long)a->sp,
		       (unsigned long long)b->sp);
	if (a->nzcv != b->nzcv && bad++ < 4)
		printf("  %s: nzcv native %#llx probed %#llx\n", name,
		       (unsigned long long)a->nzcv, (unsigned long long)b->nzcv);
	if (a->pad != b->pad && bad++ < 4)
		printf("  %s: left by pad %#llx native, %#llx probed\n", name,
		       (unsigned long long)a->pad, (unsigned long long)b->pad);
	for (int i = 0; i < 32; i++)
		if (a->v[i] != b->v[i] && bad++ < 4)
			printf("  %s: v%d differs\n", name, i);
	return bad;
}

int sb_compare(const char *name, const uint32_t *words, int n, int probe,
	       const struct sb_state *in, uint64_t mem_seed, struct sb_probe *pr,
	       struct sb_state *out)
{
	static uint8_t mem_a[SB_MEM_SIZE], mem_b[SB_MEM_SIZE];
	struct sb_state a, b;
	struct sb_probe native;
	size_t live;
	int bad;

	sb_run(words, n, -1, in, mem_seed, &a, mem_a, &native);
	sb_run(words, n, probe, in, mem_seed, &b, mem_b, pr);
	if (out)
		*out = b;
	if (native.signal) {
		printf("  %s: the native run took signal %d at %#llx\n", name, native.signal,
		       (unsigned long long)native.sig_pc);
		return 1;
	}
	if (pr->analyze_err) {
		printf("  %s: refused: %s\n", name, pr->why);
		return 1;
	}
	if (pr->signal || pr->hits != sb_want_hits) {
		printf("  %s: probed run: %d hits, signal %d at %#llx\n", name, pr->hits,
		       pr->signal, (unsigned long long)pr->sig_pc);
		return 1;
	}
	bad = report_state(name, &a, &b);
	live = a.sp >= sb_addr(SB_STACK) && a.sp <= sb_addr(SB_STACK_TOP)
		       ? (size_t)(a.sp - sb_addr(SB_LIT)) : (size_t)(SB_STACK - SB_LIT);
	if (memcmp(mem_a, mem_b, SB_STACK - SB_LIT) ||
	    memcmp(mem_a + live, mem_b + live, SB_MEM_SIZE - live)) {
		printf("  %s: memory differs\n", name);
		bad++;
	}
	return bad != 0;
}
