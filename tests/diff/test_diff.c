/* SPDX-License-Identifier: MIT */
/*
 * Differential test: random instruction sequences run natively and with a
 * probe on every instruction, in each probe mode; registers, flags, xmm/MXCSR
 * and memory must come out identical, and every handler must see exactly the
 * registers the native run had before that instruction.
 *
 * Per sequence and per location (an anonymous page, and a page of this
 * executable's text covered by a function symbol; see gen.h for the layout):
 *   1. the snapshot variant runs natively: final state S and a log of the
 *      registers before every executed instruction (the oracle);
 *   2. the plain variant runs natively: state A; A must equal S;
 *   3. for each mode of that location (see modes[]): attach a probe on every
 *      instruction, run: state B and the handler log; B must equal A, the
 *      handler log must equal the snapshot log (same instructions in the same
 *      order, same registers); detach; the code bytes must be back.
 * A final self-check corrupts what handlers return and requires that the
 * comparisons notice.
 *
 * Environment: DIFF_SEED, DIFF_SEQS (sequences; each runs in every mode),
 * DIFF_ONLY (one sequence number), DIFF_VERBOSE=1 (dump every sequence),
 * DIFF_DEBUG=1 (generator and probe-mode statistics), DIFF_MODES (bit mask of
 * modes to run, default all), DIFF_INJECT=1..5 (corrupt every probed run, to see
 * what a failure report looks like).
 */
#include <cpuid.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "uprobes.h"
#include "../testlib.h"
#include "gen.h"
#include "report.h"

TL_DEFINE("diff");

#define DEFAULT_SEED 0x5eed0dd1ffull
#define DEFAULT_SEQS 10000

extern void diff_enter(struct cpu_state *st, void *code);
extern const uint8_t diff_snap_blob[], diff_snap_blob_end[];
extern uint8_t diff_code_area[];

static void on_hit(struct uprobe *p, struct uprobe_regs *regs, void *ctx);
static void on_hit_nosimd(struct uprobe *p, struct uprobe_regs *regs, void *ctx);

#define NBC UPROBE_F_NO_BOUNDARY_CHECK

/*
 * The first three modes probe the anonymous page (no symbol: NO_BOUNDARY_CHECK,
 * breakpoints only). The others probe the same code placed in a function of
 * this executable, where the library may jump-optimize: fn_nosimd promises a
 * handler that touches no SIMD state; fn_single attaches and detaches one probe
 * at a time instead of in one batch.
 */
const struct mode_desc modes[N_MODES] = {
	{"default", NBC, LOC_ANON, on_hit, 0, 1},
	{"no_emulate", NBC | UPROBE_F_NO_EMULATE, LOC_ANON, on_hit, 0, 1},
	{"singlestep", NBC | UPROBE_F_SINGLESTEP, LOC_ANON, on_hit, 0, 1},
	{"fn_default", 0, LOC_TEXT, on_hit, 0, 1},
	{"fn_nosimd", UPROBE_F_HANDLER_NO_SIMD, LOC_TEXT, on_hit_nosimd, 0, 1},
	{"fn_single", 0, LOC_TEXT, on_hit, 1, 5}, /* ~1 ms per attach: every 5th */
};

static uint8_t *loc_buf[N_LOCS];
uint8_t *buf; /* code + data page of the current location */
uint8_t *sbx; /* sandbox; r15 = sbx + SBX_BASE_OFF */

/* Logs written by the snapshot routine and by the probe handler. */
static struct uprobe_regs snap_log[LOG_MAX];
static struct uprobe_regs hit_log[LOG_MAX];
static int hit_idx[LOG_MAX];
static volatile int n_hits;
static int have_avx;

/* Self-check: corrupt what the handler returns, to prove differences are seen. */
enum { INJ_NONE, INJ_RBX, INJ_CF, INJ_MEMORY, INJ_LOSE_HIT, INJ_LOG_RSP, INJ_COUNT };
static int env_inject; /* DIFF_INJECT: corrupt every probed run (to see a failure report) */
static volatile int inject_kind, inject_idx;

static unsigned mode_mask = (1u << N_MODES) - 1; /* DIFF_MODES: which modes run */
static sigjmp_buf crash_jb;
static volatile sig_atomic_t crash_armed;

struct stats st;

/* ---- running code ------------------------------------------------------------- */

static void on_crash(int sig)
{
	if (!crash_armed) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	crash_armed = 0;
	siglongjmp(crash_jb, sig);
}

static void setup_signals(void)
{
	static uint8_t altstack[1 << 16];
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
	struct sigaction sa;
	int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGPROF};

	sigaltstack(&ss, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_crash;
	sa.sa_flags = SA_ONSTACK | SA_NODEFER;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static void inject(struct uprobe_regs *regs)
{
	switch (inject_kind) {
	case INJ_RBX:
		regs->rbx ^= 0x10;
		break;
	case INJ_CF:
		regs->rflags ^= 1;
		break;
	case INJ_MEMORY:
		sbx[SBX_SIZE - 1] ^= 1;
		break;
	}
}

/*
 * The handler records what it sees, then clobbers vector registers (whole ymm
 * with AVX) the way any C handler calling memcpy or strlen would: the probed
 * code must not notice.
 */
static void on_hit(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	int k = n_hits;

	(void)p;
	if (inject_kind && (int)(uintptr_t)ctx == inject_idx)
		inject(regs);
	if (k < LOG_MAX && !(inject_kind == INJ_LOSE_HIT && k == 1)) {
		hit_log[k] = *regs;
		hit_idx[k] = (int)(uintptr_t)ctx;
		if (inject_kind == INJ_LOG_RSP && k == 1)
			hit_log[k].rsp += 8;
		n_hits = k + 1;
	}
	if (have_avx)
		__asm__ volatile("vpcmpeqd %%ymm0, %%ymm0, %%ymm0\n\t"
				 "vpxor %%ymm1, %%ymm1, %%ymm1\n\t"
				 "vmovdqa %%ymm0, %%ymm2\n\t"
				 "vmovdqa %%ymm0, %%ymm7\n\t"
				 "vmovdqa %%ymm0, %%ymm8\n\t"
				 "vmovdqa %%ymm1, %%ymm15\n\t" ::
					 : "xmm0", "xmm1", "xmm2", "xmm7", "xmm8", "xmm15");
	else
		__asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n\t"
				 "pxor %%xmm1, %%xmm1\n\t"
				 "movdqa %%xmm0, %%xmm2\n\t"
				 "movdqa %%xmm1, %%xmm15\n\t" ::
					 : "xmm0", "xmm1", "xmm2", "xmm15");
}

/* The same log, built without SIMD registers (UPROBE_F_HANDLER_NO_SIMD). */
__attribute__((target("general-regs-only"))) static void
on_hit_nosimd(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	int k = n_hits;

	(void)p;
	if (k < LOG_MAX) {
		hit_log[k] = *regs;
		hit_idx[k] = (int)(uintptr_t)ctx;
		n_hits = k + 1;
	}
}

static void load_memory(const struct gseq *s)
{
	uint64_t sub = (uint64_t)(uintptr_t)(buf + SUB_OFF);
	uint64_t exit = (uint64_t)(uintptr_t)(buf + EXIT_OFF);

	memcpy(sbx, s->sandbox, SBX_SIZE);
	memcpy(buf + DATA_OFF, s->data, DATA_SIZE);
	memcpy(sbx + PTR_SUB, &sub, 8);
	memcpy(sbx + PTR_EXIT, &exit, 8);
	memcpy(buf + DATA_OFF + PTR_SUB, &sub, 8);
	memcpy(buf + DATA_OFF + PTR_EXIT, &exit, 8);
}

static __attribute__((noinline)) void run_code(struct cpu_state *cs)
{
	diff_enter(cs, buf + ENTRY_OFF);
}

/*
 * A run that has used HANG_CPU_S of CPU time (a sequence runs for
 * microseconds) is stuck in a loop: SIGPROF ends it. CPU time, not wall time
 * (alarm()): a loaded machine makes a run slower, never "hung".
 */
#define HANG_CPU_S 5

static void hang_timer(int seconds)
{
	struct itimerval t = {.it_value = {.tv_sec = seconds}};

	setitimer(ITIMER_PROF, &t, NULL);
}

/*
 * Run the code in the buffer from the sequence's initial state. Always called
 * from the same place in run_sequence, so rsp is the same in every run.
 */
static __attribute__((noinline)) int exec(const struct gseq *s, struct run_result *r)
{
	int sig;

	r->st = s->init;
	r->st.use_ymm = (uint32_t)have_avx;
	r->st.gpr[R15] = (uint64_t)(uintptr_t)(sbx + SBX_BASE_OFF);
	r->crashed = 0;
	load_memory(s);
	sig = sigsetjmp(crash_jb, 1);
	if (sig) {
		hang_timer(0);
		r->crashed = sig;
		return -1;
	}
	crash_armed = 1;
	hang_timer(HANG_CPU_S);
	run_code(&r->st);
	hang_timer(0);
	crash_armed = 0;
	memcpy(r->sbx, sbx, SBX_SIZE);
	memcpy(r->data, buf + DATA_OFF, DATA_SIZE);
	return 0;
}

/* ---- probes --------------------------------------------------------------------- */

/*
 * uprobe_attach_addr one probe at a time, from the highest address down: a
 * probe is attached before any instruction whose jump window could cover it.
 */
static int attach_each(const struct uprobe_spec *specs, int n, struct probe_set *ps)
{
	int ok = 0;

	for (int i = n - 1; i >= 0; i--) {
		struct uprobe_opts o = {.sz = sizeof(o),
					.handler = specs[i].handler,
					.ctx = specs[i].ctx,
					.flags = specs[i].flags};

		ps->p[i] = uprobe_attach_addr(specs[i].addr, &o);
		if (ps->p[i])
			ok++;
		else if (!ps->msg[0])
			snprintf(ps->msg, sizeof(ps->msg), "%s", uprobe_last_error());
		ps->err[i] = ps->p[i] ? 0 : -errno;
	}
	return ok;
}

static void attach_all(const struct gseq *s, const struct gvariant *v, int mode,
		       struct probe_set *ps)
{
	struct uprobe_spec specs[MAX_INSNS];
	struct uprobe_batch_opts bo = {.sz = sizeof(bo), .flags = UPROBE_BATCH_PARTIAL};
	int rc;

	memset(specs, 0, sizeof(specs));
	memset(ps, 0, sizeof(*ps));
	for (int i = 0; i < s->n; i++) {
		specs[i].addr = buf + v->off[i];
		specs[i].handler = modes[mode].handler;
		specs[i].ctx = (void *)(uintptr_t)i;
		specs[i].flags = modes[mode].flags;
	}
	bo.errs = ps->err;
	if (modes[mode].one_by_one)
		rc = attach_each(specs, s->n, ps);
	else
		rc = uprobe_attach_many(specs, (size_t)s->n, ps->p, &bo);
	ps->rc = rc;
	if (rc < 0)
		snprintf(ps->msg, sizeof(ps->msg), "%s", uprobe_last_error());
	for (int i = 0; i < s->n; i++) {
		struct uprobe_info info = {.sz = sizeof(info)};

		if (rc < 0)
			ps->p[i] = NULL;
		if (ps->p[i] && !uprobe_get_info(ps->p[i], &info) && info.mode < N_LIB_MODES)
			note_lib_mode(s->insn[i].what, mode, (int)info.mode);
		if (ps->p[i])
			ps->n_attached++;
		else if (!ps->err[i])
			ps->err[i] = rc < 0 ? rc : -EINVAL;
	}
	if (rc >= 0 && rc != s->n && !ps->msg[0])
		snprintf(ps->msg, sizeof(ps->msg), "%s", uprobe_last_error());
}

static int detach_all(const struct gseq *s, int mode, struct probe_set *ps)
{
	struct uprobe *live[MAX_INSNS];
	int n = 0, rc = 0;

	for (int i = 0; i < s->n; i++)
		if (ps->p[i])
			live[n++] = ps->p[i];
	for (int i = 0; i < n && modes[mode].one_by_one; i++)
		if (uprobe_detach(live[i]) && !rc)
			rc = -1;
	if (n && !modes[mode].one_by_one)
		rc = uprobe_detach_many(live, (size_t)n);
	for (int i = 0; i < n; i++)
		uprobe_free(live[i]);
	memset(ps->p, 0, sizeof(ps->p));
	return rc;
}

/* ---- comparisons ----------------------------------------------------------------- */

/* Map the snapshot log to instruction indices: rip is the instruction's address. */
static int snap_indices(const struct gvariant *snap, int n_snap, int *idx, int n)
{
	for (int k = 0; k < n_snap; k++) {
		uint64_t off = snap_log[k].rip - (uint64_t)(uintptr_t)buf;

		idx[k] = -1;
		for (int i = 0; i < n; i++)
			if (snap->off[i] == off)
				idx[k] = i;
		if (idx[k] < 0)
			return -1;
	}
	return 0;
}

/*
 * The handler log must be the snapshot log restricted to probed instructions.
 * Returns -1 when equal, else the position of the first difference (described
 * in why, located in d).
 */
static int compare_hits(const struct seq_ctx *c, const struct probe_set *ps, char *why, size_t wn,
			struct diag *d)
{
	int k = 0, nh = n_hits < LOG_MAX ? n_hits : LOG_MAX;

	d->at = d->culprit = -1;
	for (int e = 0; e < c->n_snap; e++) {
		int i = c->snap_idx[e];

		if (!ps->p[i]) {
			d->culprit = i;
			continue;
		}
		d->at = i;
		if (k >= nh) {
			snprintf(why, wn, "hit #%d on [%d] missing (%d hits in all)", k, i, n_hits);
			return k;
		}
		if (hit_idx[k] != i) {
			snprintf(why, wn, "hit #%d on [%d], expected on [%d]", k, hit_idx[k], i);
			return k;
		}
		snprintf(why, wn, "handler at hit #%d on [%d] sees: ", k, i);
		if (regs_differ(&snap_log[e], &hit_log[k], buf + c->plain.off[i], why, wn))
			return k;
		d->culprit = i;
		k++;
	}
	why[0] = 0;
	d->at = d->culprit = -1;
	if (n_hits != k) {
		snprintf(why, wn, "%d hits, expected %d", n_hits, k);
		return k;
	}
	return -1;
}

static void fill_notes(const struct seq_ctx *c, struct insn_note *nt)
{
	memset(nt, 0, sizeof(*nt) * MAX_INSNS);
	for (int e = 0; e < c->n_snap; e++)
		nt[c->snap_idx[e]].want_hits++;
	for (int k = 0; k < n_hits && k < LOG_MAX; k++)
		if (hit_idx[k] >= 0 && hit_idx[k] < c->s.n)
			nt[hit_idx[k]].got_hits++;
	for (int i = 0; i < c->s.n; i++) {
		struct uprobe_info info = {.sz = sizeof(info)};

		nt[i].err = c->ps.err[i];
		if (c->ps.p[i] && !uprobe_get_info(c->ps.p[i], &info)) {
			nt[i].mode = uprobe_mode_name(info.mode);
			snprintf(nt[i].reason, sizeof(nt[i].reason), "%s", info.reason);
		}
	}
}

void check_probed(struct seq_ctx *c, int mode, const struct run_result *r)
{
	struct bucket *b = &st.b[mode][c->s.theme];
	struct insn_note notes[MAX_INSNS];
	char why[2048] = "";
	struct diag d = {-1, -1};
	int bad = 0;

	b->runs++;
	st.probed_runs++;
	st.hits += (unsigned long)n_hits;
	c->hits[mode] = n_hits;
	c->want[mode] = 0;
	for (int e = 0; e < c->n_snap; e++)
		c->want[mode] += c->ps.p[c->snap_idx[e]] != NULL;
	if (c->ps.n_attached != c->s.n)
		note_refusals(c, mode);
	if (r->crashed) {
		st.crashes++;
		if (++st.mode_crashes[mode] == MAX_MODE_CRASHES)
			printf("  mode %s crashed %d times: not run any more\n", modes[mode].name,
			       MAX_MODE_CRASHES);
		snprintf(why, sizeof(why), "probed run %s (signal %d); ",
			 r->crashed == SIGPROF ? "hung" : "crashed", r->crashed);
		bad = 1;
	} else {
		char fin[1024] = "";
		size_t len;

		if (compare_hits(c, &c->ps, why, sizeof(why), &d) >= 0)
			bad = 1;
		if (state_differ(&c->res[1], r, fin, sizeof(fin))) {
			len = strlen(why);
			snprintf(why + len, sizeof(why) - len, "%sfinal state: %s", len ? "; " : "",
				 fin);
			bad = 1;
		}
	}
	if (!bad)
		return;
	b->fails++;
	note_culprit(c, mode, &d);
	if (st.printed++ < MAX_PRINTED) {
		fill_notes(c, notes);
		dump_sequence(c, mode, why, &d, notes);
	}
}

/* ---- one sequence ------------------------------------------------------------------ */

static int build(struct seq_ctx *c, uint64_t seed, int seq)
{
	uint64_t rng = seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(seq + 1));

	for (int attempt = 0; attempt < 100; attempt++) {
		if (gen_sequence(&c->s, &rng, seq % FAM_COUNT))
			continue;
		if (gen_encode(&c->s, 0, &c->plain) || gen_encode(&c->s, 1, &c->snap))
			continue;
		return 0;
	}
	return -1;
}

static void install(const struct gvariant *v, int snap)
{
	memcpy(buf, v->code, DATA_OFF);
	if (snap) {
		uint64_t log = (uint64_t)(uintptr_t)snap_log;
		size_t len = (size_t)(diff_snap_blob_end - diff_snap_blob);

		memcpy(buf + SNAP_OFF, diff_snap_blob, len);
		memcpy(buf + SNAP_OFF + len - 8, &log, 8);
	}
}

static int snap_count(void)
{
	size_t len = (size_t)(diff_snap_blob_end - diff_snap_blob);
	uint64_t end;

	memcpy(&end, buf + SNAP_OFF + len - 8, 8);
	return (int)((end - (uint64_t)(uintptr_t)snap_log) / sizeof(struct uprobe_regs));
}

/*
 * The runs of one sequence: per location, the snapshot variant, the plain
 * native run, then one run per probe mode of that location.
 */
enum step_kind { STEP_SNAP, STEP_NATIVE, STEP_PROBED };

struct step {
	int kind, loc, mode;
};

static int plan_steps(struct step *steps, int seq)
{
	int n = 0;

	for (int loc = 0; loc < N_LOCS; loc++) {
		int first = n;

		steps[n++] = (struct step){STEP_SNAP, loc, -1};
		steps[n++] = (struct step){STEP_NATIVE, loc, -1};
		for (int m = 0; m < N_MODES; m++)
			if (modes[m].loc == loc && (mode_mask >> m & 1) &&
			    seq % modes[m].every == 0 && st.mode_crashes[m] < MAX_MODE_CRASHES)
				steps[n++] = (struct step){STEP_PROBED, loc, m};
		if (n == first + 2)
			n = first; /* no mode here: skip the location */
	}
	return n;
}

static void before_step(struct seq_ctx *c, const struct step *sp)
{
	buf = loc_buf[sp->loc];
	if (sp->kind == STEP_SNAP) {
		c->oracle_bad = 0;
		install(&c->snap, 1);
	} else if (sp->kind == STEP_NATIVE) {
		install(&c->plain, 0);
	} else {
		n_hits = 0;
		inject_kind = env_inject;
		inject_idx = c->s.exit_idx;
		attach_all(&c->s, &c->plain, sp->mode, &c->ps);
	}
}

static void after_step(struct seq_ctx *c, const struct step *sp, struct run_result *r)
{
	if (sp->kind == STEP_SNAP) {
		c->n_snap = snap_count();
		if (r->crashed || c->n_snap <= 0 || c->n_snap > LOG_MAX ||
		    snap_indices(&c->snap, c->n_snap, c->snap_idx, c->s.n)) {
			c->n_snap = 0;
			check_oracle(c, r, 1);
		}
	} else if (sp->kind == STEP_NATIVE) {
		if (!c->oracle_bad)
			check_oracle(c, r, 0);
	} else {
		check_probed(c, sp->mode, r);
		if (detach_all(&c->s, sp->mode, &c->ps))
			note_detach_failure(c, sp->mode, uprobe_last_error());
		if (memcmp(buf, c->plain.code, DATA_OFF)) {
			note_restore_failure(c, sp->mode);
			install(&c->plain, 0);
		}
	}
}

/*
 * Every mode must hit as often as every other. The snapshot of each location
 * is the reference, so modes are only compared where the two locations' runs
 * predict the same count: a sequence whose path depends on its own address
 * (a RIP-relative lea feeding a branch) legitimately runs differently at the
 * anonymous page and in .text, and ASLR picks those addresses anew each run.
 */
static void cross_mode_check(struct seq_ctx *c)
{
	int first = -1;

	for (int m = 0; m < N_MODES; m++) {
		if (c->hits[m] < 0)
			continue;
		if (first < 0) {
			first = m;
		} else if (c->want[m] != c->want[first]) {
			st.loc_dependent++;
			return;
		} else if (c->hits[m] != c->hits[first]) {
			st.cross_mode_fail++;
			printf("  seq %d: %s hit %d times, %s %d times\n", c->seq,
			       modes[first].name, c->hits[first], modes[m].name, c->hits[m]);
			return;
		}
	}
}

static void run_sequence(struct seq_ctx *c, uint64_t seed, int seq)
{
	struct step steps[2 * N_LOCS + N_MODES];
	int n = plan_steps(steps, seq);

	c->seq = seq;
	if (build(c, seed, seq)) {
		st.gen_failures++;
		return;
	}
	st.sequences++;
	st.static_insns += (uint64_t)c->s.n;
	for (int m = 0; m < N_MODES; m++)
		c->hits[m] = -1;
	for (int k = 0; k < n; k++) {
		struct run_result *r = &c->res[steps[k].kind];

		if (c->oracle_bad && steps[k].kind == STEP_PROBED)
			continue; /* no trustworthy reference at this location */
		before_step(c, &steps[k]);
		exec(&c->s, r);
		after_step(c, &steps[k], r);
	}
	cross_mode_check(c);
	if (getenv("DIFF_VERBOSE"))
		dump_sequence(c, -1, NULL, NULL, NULL);
}

/*
 * Self-check: a handler that corrupts rbx, CF or memory at the exit `ret`, drops
 * a hit from its log or logs a wrong rsp must be reported as a difference.
 */
static void self_check_one(struct seq_ctx *c, uint64_t seed, int seq, int kind)
{
	char why[2048] = "";
	struct diag d;
	int detected;

	if (build(c, seed, seq))
		return;
	c->seq = seq;
	buf = loc_buf[LOC_ANON];
	for (int step = 0; step < 3; step++) {
		if (step < 2) {
			install(step ? &c->plain : &c->snap, !step);
		} else {
			n_hits = 0;
			inject_kind = kind;
			inject_idx = c->s.exit_idx;
			attach_all(&c->s, &c->plain, 0, &c->ps);
		}
		exec(&c->s, &c->res[step]);
		if (step == 0)
			c->n_snap = snap_count();
	}
	inject_kind = INJ_NONE;
	if (snap_indices(&c->snap, c->n_snap, c->snap_idx, c->s.n))
		return;
	detected = compare_hits(c, &c->ps, why, sizeof(why), &d) >= 0;
	detected |= state_differ(&c->res[1], &c->res[2], why, sizeof(why)) > 0;
	detach_all(&c->s, 0, &c->ps);
	st.inject_tries++;
	if (!detected) {
		st.inject_missed++;
		printf("  self-check: corruption %d in seq %d went unnoticed\n", kind, seq);
	}
}

static void self_check(struct seq_ctx *c, uint64_t seed)
{
	for (int kind = INJ_RBX; kind < INJ_COUNT; kind++)
		for (int k = 0; k < 4; k++)
			self_check_one(c, seed, 1000000 + kind * 16 + k, kind);
}

/* ---- setup -------------------------------------------------------------------------- */

static void detect_features(struct gen_features *f)
{
	unsigned a, b, c, d;
	uint32_t xcr0 = 0;

	memset(f, 0, sizeof(*f));
	__cpuid(1, a, b, c, d);
	f->sse3 = c & 1;
	f->ssse3 = c >> 9 & 1;
	f->sse41 = c >> 19 & 1;
	f->sse42 = c >> 20 & 1;
	f->movbe = c >> 22 & 1;
	f->popcnt = c >> 23 & 1;
	if (c >> 27 & 1) {
		__asm__("xgetbv" : "=a"(xcr0) : "c"(0) : "edx");
		f->avx = (c >> 28 & 1) && (xcr0 & 6) == 6;
	}
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
		f->bmi1 = b >> 3 & 1;
		f->avx2 = f->avx && (b >> 5 & 1);
		f->bmi2 = b >> 8 & 1;
		f->adx = b >> 19 & 1;
	}
	if (__get_cpuid(0x80000001, &a, &b, &c, &d))
		f->lzcnt = c >> 5 & 1;
	/* AVX-512 F + VL, with opmask and zmm state enabled in XCR0 */
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
		f->avx512 = f->avx && (b >> 16 & 1) && (b >> 31 & 1) && (xcr0 & 0xe6) == 0xe6;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(void)
{
	static struct seq_ctx ctx;
	struct gen_features f;
	uint64_t seed = env_u64("DIFF_SEED", DEFAULT_SEED);
	int nseq = (int)env_u64("DIFF_SEQS", DEFAULT_SEQS);
	int only = (int)env_u64("DIFF_ONLY", (uint64_t)-1);
	double t0;

	mode_mask = (unsigned)env_u64("DIFF_MODES", (1u << N_MODES) - 1);
	env_inject = (int)env_u64("DIFF_INJECT", 0);

	setvbuf(stdout, NULL, _IOLBF, 0);
	buf = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	sbx = mmap(NULL, SBX_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED || sbx == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (mprotect(diff_code_area, BUF_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC)) {
		perror("mprotect");
		return 1;
	}
	loc_buf[LOC_ANON] = buf;
	loc_buf[LOC_TEXT] = diff_code_area;
	gen_sbx_addr = (uint64_t)(uintptr_t)sbx;
	detect_features(&f);
	have_avx = f.avx;
	st.debug = getenv("DIFF_DEBUG") != NULL;
	gen_setup(&f, st.debug);
	setup_signals();
	printf("diff: seed 0x%" PRIx64 ", %d sequences x %d modes (DIFF_SEED, DIFF_SEQS, "
	       "DIFF_ONLY to change); features sse3=%d ssse3=%d sse4.1=%d sse4.2=%d avx=%d "
	       "avx2=%d avx512=%d bmi1=%d bmi2=%d adx=%d lzcnt=%d movbe=%d\n",
	       seed, nseq, N_MODES, f.sse3, f.ssse3, f.sse41, f.sse42, f.avx, f.avx2, f.avx512,
	       f.bmi1, f.bmi2, f.adx, f.lzcnt, f.movbe);
	t0 = now();
	for (int i = 0; i < nseq && st.oracle_fail < 50; i++) {
		if (only < 0 || i == only)
			run_sequence(&ctx, seed, i);
		/* Progress: tests/run.sh stops a test that prints nothing for long. */
		if (i % 1000 == 999)
			printf("# %d sequences, %.0f s\n", i + 1, now() - t0);
	}
	st.seconds = now() - t0;
	self_check(&ctx, seed);
	report(seed, only >= 0 ? 1 : nseq);
	TL_EXIT();
}
