/* SPDX-License-Identifier: MIT */
/* Comparisons, failure dumps and the PASS/FAIL report of the differential test. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <Zydis/Zydis.h>

#include "../testlib.h"
#include "report.h"

static const char *const gpr_names[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15",
};

/* Append to a bounded message. */
static void say(char *why, size_t n, const char *fmt, ...)
{
	size_t len = strlen(why);
	va_list ap;

	if (len + 1 >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(why + len, n - len, fmt, ap);
	va_end(ap);
}

/* uprobe_regs in hardware register order. */
static uint64_t regs_gpr(const struct uprobe_regs *r, int i)
{
	const uint64_t v[16] = {r->rax, r->rcx, r->rdx, r->rbx, r->rsp, r->rbp, r->rsi, r->rdi,
				r->r8,	r->r9,	r->r10, r->r11, r->r12, r->r13, r->r14, r->r15};

	return v[i];
}

int regs_differ(const struct uprobe_regs *want, const struct uprobe_regs *got, const void *rip,
		char *why, size_t n)
{
	int bad = 0;

	for (int i = 0; i < 16; i++) {
		if (regs_gpr(want, i) == regs_gpr(got, i))
			continue;
		say(why, n, "%s%s = 0x%" PRIx64 ", want 0x%" PRIx64, bad++ ? "; " : "",
		    gpr_names[i], regs_gpr(got, i), regs_gpr(want, i));
	}
	if ((want->rflags ^ got->rflags) & FLAGS_MASK) {
		say(why, n, "%srflags = 0x%" PRIx64 ", want 0x%" PRIx64 " (mask 0x%llx)",
		    bad++ ? "; " : "", got->rflags, want->rflags, FLAGS_MASK);
	}
	if (got->rip != (uint64_t)(uintptr_t)rip) {
		say(why, n, "%srip = 0x%" PRIx64 ", want %p", bad++ ? "; " : "", got->rip, rip);
	}
	return bad;
}

static int mem_differ(const char *name, const uint8_t *want, const uint8_t *got, size_t len,
		      char *why, size_t n, int bad)
{
	int shown = 0;

	for (size_t i = 0; i < len && shown < 4; i++) {
		size_t j = i;

		if (want[i] == got[i])
			continue;
		while (j < len && j < i + 8 && want[j] != got[j])
			j++;
		say(why, n, "%s%s+0x%zx..0x%zx:", bad++ ? "; " : "", name, i, j - 1);
		for (size_t k = i; k < j; k++)
			say(why, n, " %02x", got[k]);
		say(why, n, " want");
		for (size_t k = i; k < j; k++)
			say(why, n, " %02x", want[k]);
		shown++;
		i = j;
	}
	return bad;
}

int state_differ(const struct run_result *want, const struct run_result *got, char *why, size_t n)
{
	const struct cpu_state *a = &want->st, *b = &got->st;
	int bad = 0;

	for (int i = 0; i < 16; i++)
		if (a->gpr[i] != b->gpr[i])
			say(why, n, "%s%s = 0x%" PRIx64 ", want 0x%" PRIx64, bad++ ? "; " : "",
			    gpr_names[i], b->gpr[i], a->gpr[i]);
	if ((a->rflags ^ b->rflags) & FLAGS_MASK)
		say(why, n, "%srflags = 0x%" PRIx64 ", want 0x%" PRIx64, bad++ ? "; " : "",
		    b->rflags, a->rflags);
	if (a->entry_rsp != b->entry_rsp)
		say(why, n, "%sharness: entry rsp 0x%" PRIx64 " vs 0x%" PRIx64, bad++ ? "; " : "",
		    b->entry_rsp, a->entry_rsp);
	if (a->mxcsr != b->mxcsr)
		say(why, n, "%smxcsr = 0x%x, want 0x%x", bad++ ? "; " : "", b->mxcsr, a->mxcsr);
	for (int i = 0; i < 16; i++) {
		size_t len = a->use_ymm ? 32 : 16;
		uint64_t g[4], w[4];

		if (!memcmp(a->xmm[i], b->xmm[i], len))
			continue;
		memcpy(g, b->xmm[i], 32);
		memcpy(w, a->xmm[i], 32);
		if (a->use_ymm)
			say(why, n,
			    "%symm%d = %016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64
			    ", want %016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64,
			    bad++ ? "; " : "", i, g[3], g[2], g[1], g[0], w[3], w[2], w[1], w[0]);
		else
			say(why, n,
			    "%sxmm%d = %016" PRIx64 "%016" PRIx64 ", want %016" PRIx64
			    "%016" PRIx64,
			    bad++ ? "; " : "", i, g[1], g[0], w[1], w[0]);
	}
	bad = mem_differ("sandbox", want->sbx, got->sbx, SBX_SIZE, why, n, bad);
	bad = mem_differ("data", want->data, got->data, DATA_SIZE, why, n, bad);
	return bad;
}

/* The snapshot variant must log every instruction and reproduce the native run. */
void check_oracle(struct seq_ctx *c, const struct run_result *r, int snapshot_broken)
{
	char why[1024] = "";

	if (snapshot_broken)
		say(why, sizeof(why), "snapshot log unusable (%d records); ", c->n_snap);
	else if (!r->crashed && !c->res[0].crashed &&
		 !state_differ(r, &c->res[0], why, sizeof(why)))
		return;
	c->oracle_bad = 1;
	st.oracle_fail++;
	if (r->crashed || c->res[0].crashed)
		say(why, sizeof(why), "native run crashed (signal %d / snapshot %d)", r->crashed,
		    c->res[0].crashed);
	if (st.printed++ < MAX_PRINTED)
		dump_sequence(c, -1, why, NULL, NULL);
}

void note_lib_mode(const char *what, int mode, int lib_mode)
{
	int i;

	st.lib_modes[mode][lib_mode]++;
	for (i = 0; i < MAX_CULPRITS && st.what_name[i]; i++)
		if (!strcmp(st.what_name[i], what))
			break;
	if (i == MAX_CULPRITS)
		return;
	st.what_name[i] = what;
	st.what_modes[i][mode][lib_mode]++;
}

/* Which instruction kinds the library emulates, boosts, single-steps, optimizes. */
static void lib_mode_summary(void)
{
	for (int m = 0; m < N_MODES; m++) {
		printf("  %-10s probes:", modes[m].name);
		for (int lm = 1; lm < N_LIB_MODES; lm++)
			printf(" %s %lu", uprobe_mode_name((enum uprobe_mode)lm),
			       st.lib_modes[m][lm]);
		printf("\n");
		for (int lm = 1; lm < N_LIB_MODES; lm++) {
			int shown = 0;

			if (!st.debug && lm == UPROBE_MODE_XOL)
				continue;
			for (int i = 0; i < MAX_CULPRITS && st.what_name[i]; i++) {
				if (!st.what_modes[i][m][lm] || (!st.debug && shown >= 12))
					continue;
				printf("%s%s (%lu)", shown++ ? ", " : "      ", st.what_name[i],
				       st.what_modes[i][m][lm]);
			}
			if (shown)
				printf(": %s\n", uprobe_mode_name((enum uprobe_mode)lm));
		}
	}
}

void note_culprit(const struct seq_ctx *c, int mode, const struct diag *d)
{
	const char *name = d->culprit >= 0 ? c->s.insn[d->culprit].what : "(unknown)";
	int i;

	for (i = 0; i < MAX_CULPRITS && st.culprit_name[i]; i++)
		if (!strcmp(st.culprit_name[i], name))
			break;
	if (i == MAX_CULPRITS)
		return;
	st.culprit_name[i] = name;
	st.culprit_count[i][mode]++;
}

static void disasm(const struct seq_ctx *c, int i, char *text, size_t n)
{
	ZydisDisassembledInstruction d;
	const uint8_t *p = &c->plain.code[c->plain.off[i]];

	if (ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64,
					       (ZyanU64)(uintptr_t)(buf + c->plain.off[i]), p,
					       c->plain.len[i], &d)))
		snprintf(text, n, "%s", d.text);
	else
		snprintf(text, n, "(undecodable)");
}

void note_refusals(const struct seq_ctx *c, int mode)
{
	st.refusal_runs++;
	for (int i = 0; i < c->s.n; i++) {
		char text[96];

		if (c->ps.p[i])
			continue;
		st.refused++;
		if (st.refusal_printed++ >= MAX_PRINTED)
			continue;
		disasm(c, i, text, sizeof(text));
		printf("  refused (%s, seq %d [%d]): %-40s %s (%s) rc %d: %s\n", modes[mode].name,
		       c->seq, i, text, strerror(-c->ps.err[i]), c->s.insn[i].what, c->ps.rc,
		       c->ps.msg);
	}
}

void note_detach_failure(const struct seq_ctx *c, int mode, const char *msg)
{
	st.detach_fail++;
	if (st.printed++ < MAX_PRINTED)
		printf("  detach failed (%s, seq %d): %s\n", modes[mode].name, c->seq, msg);
}

void note_restore_failure(const struct seq_ctx *c, int mode)
{
	st.restore_fail++;
	if (st.printed++ < MAX_PRINTED) {
		printf("  code bytes differ after detach (%s, seq %d):\n", modes[mode].name,
		       c->seq);
		dump_sequence(c, mode, "code not restored", NULL, NULL);
		for (int i = 0; i < DATA_OFF; i++)
			if (buf[i] != c->plain.code[i])
				printf("    +0x%03x: %02x, want %02x\n", i, buf[i],
				       c->plain.code[i]);
	}
}

static void dump_insn(const struct seq_ctx *c, int i, const struct diag *d,
		      const struct insn_note *nt)
{
	const struct ginsn *in = &c->s.insn[i];
	char text[96], hex[48] = "";

	disasm(c, i, text, sizeof(text));
	for (int k = 0; k < c->plain.len[i]; k++)
		say(hex, sizeof(hex), "%02x ", c->plain.code[c->plain.off[i] + k]);
	printf("  %s[%2d] %c +0x%03x  %-31s %-40s %-7s %s",
	       d && i == d->culprit ? "=>" :
	       d && i == d->at	    ? "!!" :
				      "  ",
	       i,
	       in->region == REG_MAIN ? 'M' :
	       in->region == REG_EXIT ? 'X' :
					'S',
	       c->plain.off[i], hex, text, fam_names[in->fam], in->what);
	if (nt)
		printf("  [%s, hits %d want %d%s%s] %s", nt->mode ? nt->mode : "-", nt->got_hits,
		       nt->want_hits, nt->err ? ", attach: " : "",
		       nt->err ? strerror(-nt->err) : "", nt->reason);
	printf("\n");
}

void dump_sequence(const struct seq_ctx *c, int mode, const char *why, const struct diag *d,
		   const struct insn_note *notes)
{
	printf("--- seq %d (theme %s) mode %s: %s\n", c->seq, fam_names[c->s.theme],
	       mode >= 0 ? modes[mode].name : "native", why ? why : "");
	printf("    buffer %p, sandbox %p (r15 = +0x%x); DF %d, mxcsr 0x%x; "
	       "rerun: DIFF_ONLY=%d\n",
	       (void *)buf, (void *)sbx, SBX_BASE_OFF, (int)(c->s.init.rflags >> 10 & 1),
	       c->s.init.mxcsr, c->seq);
	for (int i = 0; i < c->s.n; i++)
		dump_insn(c, i, d, notes ? &notes[i] : NULL);
	printf("    executed:");
	for (int k = 0; k < c->n_snap && k < 64; k++)
		printf(" %d", c->snap_idx[k]);
	printf("%s\n", c->n_snap > 64 ? " ..." : "");
	if (d && d->at >= 0)
		printf("    !! the first hit whose registers differ; => the instruction executed "
		       "just before it (%s)\n",
		       d->culprit >= 0 ? "the likely culprit" : "none: the first hit");
}

static void bucket_cases(void)
{
	char name[64];

	for (int m = 0; m < N_MODES; m++) {
		for (int f = 0; f < FAM_COUNT; f++) {
			const struct bucket *b = &st.b[m][f];

			tl_begin();
			if (st.mode_crashes[m] >= MAX_MODE_CRASHES)
				TL_FAIL("mode stopped after %d crashed runs", MAX_MODE_CRASHES);
			else if (!b->runs)
				TL_FAIL("no sequence ran");
			if (b->fails)
				TL_FAIL("%lu of %lu sequences differ", b->fails, b->runs);
			snprintf(name, sizeof(name), "%s/%s", modes[m].name, fam_names[f]);
			tl_end(name);
		}
	}
}

static void culprit_summary(void)
{
	if (!st.culprit_name[0])
		return;
	printf("  failures by the instruction executed before the first difference, per mode:\n");
	for (int i = 0; i < MAX_CULPRITS && st.culprit_name[i]; i++) {
		printf("    %-20s", st.culprit_name[i]);
		for (int m = 0; m < N_MODES; m++)
			printf(" %s %lu", modes[m].name, st.culprit_count[i][m]);
		printf("\n");
	}
}

void report(uint64_t seed, int nseq)
{
	struct uprobe_stats us = {.sz = sizeof(us)};

	(void)nseq;
	bucket_cases();

	tl_begin();
	if (st.oracle_fail)
		TL_FAIL("%lu sequences: the snapshot variant differs from the native run",
			st.oracle_fail);
	if (st.gen_failures)
		TL_FAIL("%lu sequences could not be generated", st.gen_failures);
	tl_end("oracle");

	tl_begin();
	if (st.refused)
		TL_FAIL("%lu instructions refused in %lu probed runs", st.refused, st.refusal_runs);
	tl_end("attach_every_instruction");

	tl_begin();
	if (!uprobe_get_stats(&us) && us.probes_attached)
		TL_FAIL("%" PRIu64 " probes still attached at the end", us.probes_attached);
	if (st.detach_fail)
		TL_FAIL("uprobe_detach_many failed %lu times", st.detach_fail);
	if (st.restore_fail)
		TL_FAIL("code bytes not restored after detach %lu times", st.restore_fail);
	tl_end("detach_restores_code");

	tl_begin();
	if (st.cross_mode_fail)
		TL_FAIL("%lu sequences: hit counts differ between modes", st.cross_mode_fail);
	tl_end("hits_equal_across_modes");

	tl_begin();
	if (st.crashes)
		TL_FAIL("%lu probed runs crashed or hung", st.crashes);
	tl_end("no_crash");

	tl_begin();
	if (!st.inject_tries || st.inject_missed)
		TL_FAIL("%lu of %lu injected corruptions went unnoticed", st.inject_missed,
			st.inject_tries);
	tl_end("detects_injected_differences");

	tl_begin();
	if (st.probed_runs < 10000)
		TL_FAIL("%lu probed sequence runs, want at least 10000 (DIFF_SEQS)",
			st.probed_runs);
	tl_end("volume");

	culprit_summary();
	if (st.loc_dependent)
		printf("  %lu sequences ran a different path in .text than on the anonymous page "
		       "(address-dependent); their modes were compared per location\n",
		       st.loc_dependent);
	gen_print_stats();
	lib_mode_summary();
	if (!uprobe_get_stats(&us))
		printf("  library stats: %" PRIu64 " hits, %" PRIu64 " single-step fallbacks, "
		       "%" PRIu64 " stale traps, %" PRIu64 " foreign traps, %" PRIu64
		       " probes attached, %" PRIu64 " XOL slots in use\n",
		       us.hits, us.singlestep_fallbacks, us.stale_traps, us.foreign_traps,
		       us.probes_attached, us.xol_slots);
	printf("diff: seed 0x%" PRIx64 ": %lu sequences (%lu instructions), %lu probed runs in "
	       "%d modes, %lu probe hits, %lu failures shown, %.1f s\n",
	       seed, st.sequences, st.static_insns, st.probed_runs, N_MODES, st.hits,
	       st.printed < MAX_PRINTED ? st.printed : MAX_PRINTED, st.seconds);
}
