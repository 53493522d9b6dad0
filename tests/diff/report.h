/* SPDX-License-Identifier: MIT */
/* State comparison, failure dumps and the final report of the differential test. */
#ifndef DIFF_REPORT_H
#define DIFF_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "uprobes.h"
#include "gen.h"

#define N_MODES 6
#define LOG_MAX 4096

/* Where the code runs: an anonymous mapping (JIT-like), or text in a function. */
enum { LOC_ANON, LOC_TEXT, N_LOCS };

struct mode_desc {
	const char *name;
	unsigned int flags; /* enum uprobe_flags */
	int loc;
	uprobe_handler_fn handler;
	int one_by_one; /* uprobe_attach_addr/uprobe_detach instead of the batch calls */
	int every;	/* runs on every n-th sequence */
};

extern const struct mode_desc modes[N_MODES];
extern uint8_t *buf, *sbx; /* buf: the current location's page */

struct run_result {
	struct cpu_state st;
	uint8_t sbx[SBX_SIZE];
	uint8_t data[DATA_SIZE];
	int crashed; /* signal number */
};

struct probe_set {
	struct uprobe *p[MAX_INSNS];
	int err[MAX_INSNS];
	int rc;
	int n_attached;
	char msg[256];
};

/* Where a difference showed up: first differing hit, and the instruction before it. */
struct diag {
	int at;	     /* instruction whose hit differs, or -1 */
	int culprit; /* the instruction executed just before it, or -1 */
};

/* What a dump shows beside each instruction. */
struct insn_note {
	int want_hits, got_hits;
	const char *mode; /* probe mode chosen by the library, or NULL */
	int err;	  /* attach error */
	char reason[128]; /* why the library chose that mode */
};

struct seq_ctx {
	struct gseq s;
	struct gvariant plain, snap;
	int seq;
	int n_snap;
	int snap_idx[LOG_MAX]; /* instruction index of each snapshot */
	int oracle_bad;
	struct run_result res[3]; /* snapshot, native, probed */
	struct probe_set ps;
	int hits[N_MODES];
	int want[N_MODES]; /* hits the location's snapshot predicts */
};

struct bucket {
	unsigned long runs, fails;
};

#define MAX_CULPRITS	 64
#define N_LIB_MODES	 (UPROBE_MODE_OPTIMIZED + 1)
#define MAX_MODE_CRASHES 5
#define MAX_PRINTED	 20 /* failure dumps */

struct stats {
	unsigned long sequences, gen_failures, static_insns, probed_runs, hits, crashes;
	unsigned long mode_crashes[N_MODES]; /* a mode is dropped after MAX_MODE_CRASHES */
	unsigned long printed, oracle_fail, refused, refusal_runs, detach_fail, restore_fail;
	unsigned long cross_mode_fail, refusal_printed, loc_dependent;
	struct bucket b[N_MODES][FAM_COUNT];
	const char *culprit_name[MAX_CULPRITS];
	unsigned long culprit_count[MAX_CULPRITS][N_MODES];
	unsigned long lib_modes[N_MODES][N_LIB_MODES];		      /* enum uprobe_mode chosen */
	const char *what_name[MAX_CULPRITS];			      /* emitter names ... */
	unsigned long what_modes[MAX_CULPRITS][N_MODES][N_LIB_MODES]; /* ... and modes */
	int debug;
	unsigned long inject_tries, inject_missed;
	double seconds;
};

extern struct stats st;

#define FLAGS_MASK 0xdd5ull /* CF PF AF ZF SF TF DF OF */

int regs_differ(const struct uprobe_regs *want, const struct uprobe_regs *got, const void *rip,
		char *why, size_t n);
int state_differ(const struct run_result *want, const struct run_result *got, char *why, size_t n);
void check_oracle(struct seq_ctx *c, const struct run_result *r, int snapshot_broken);
void check_probed(struct seq_ctx *c, int mode, const struct run_result *r);
void note_lib_mode(const char *what, int mode, int lib_mode);
void note_culprit(const struct seq_ctx *c, int mode, const struct diag *d);
void note_refusals(const struct seq_ctx *c, int mode);
void note_detach_failure(const struct seq_ctx *c, int mode, const char *msg);
void note_restore_failure(const struct seq_ctx *c, int mode);
void dump_sequence(const struct seq_ctx *c, int mode, const char *why, const struct diag *d,
		   const struct insn_note *notes);
void report(uint64_t seed, int nseq);

#endif
