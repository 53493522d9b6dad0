// SPDX-License-Identifier: MIT
/*
 * A probe of a bpftrace program hit in the traced process: the handler
 * (trace_event_agg.run, called by fetch_aggregate) fills struct lang_env from
 * the registers and runs the probe's plan on the maps of the region
 * (target.c). Only the builtins the plan reads (plan_probe.uses) are
 * computed:
 *
 *   arg0..arg5   rdi rsi rdx rcx r8 r9        retval   rax (uretprobe)
 *   pid tid comm the thread's cache (fetch_self: system calls once a thread)
 *   nsecs        TSC * latency_mult >> 32 (ns, the tracer's --hist latency rate)
 *   elapsed      the same from the TSC at which tracing began
 *   cpu          rdtscp's TSC_AUX (Linux: the cpu in its low 12 bits)
 *   ustack(N)    stack_capture() into the program's stack table: the key word
 *                is pid << 32 | stack id (0: not interned, the table full)
 *
 * Hot path, built with the hot-path flags: no libc, no lock, no allocation;
 * async-signal-safe. str() reads through the fault-safe loads; a bad pointer
 * gives "" and counts an error (hit->errors, and the region's "str() faults"
 * map, which the tracer reports). What a plan emits (printf, print, clear,
 * zero, exit) becomes one record in the thread's ring (struct lang_emit_rec):
 * a full ring drops it and counts it lost, per event, as uprobe trace's.
 * After print, clear and zero of a map the thread waits until the tracer has
 * performed the record (trace_ring_wait_consumed, bounded): they take effect
 * at the hit.
 */
#include <errno.h>
#include <sys/syscall.h>

#include "arch/arch.h"
#include "lang/fast.h"
#include "lang/hit.h"
#include "stack/stack.h"
#include "trace/fetch/fetch.h"
#include "trace/fetch/fetch_self.h"
#include "trace/map/map.h"
#include "trace/transport/ring.h"

static long hit_read_str(void *ctx, uint64_t addr, char *dst, uint32_t len)
{
	(void)ctx;
	long n = len ? uprobes_safe_strnlen(addr, len - 1) : -EFAULT;
	if (n >= 0 && uprobes_safe_copy(dst, addr, (size_t)n))
		n = -EFAULT;
	if (len)
		dst[n < 0 ? 0 : n] = 0;
	return n < 0 ? -EFAULT : n;
}

static inline uint64_t rdtsc(void)
{
	return arch_ticks();
}

/* One record: the header, struct lang_emit_rec, the arguments padded to 8 bytes. */
static int hit_emit(void *ctx, enum lang_emit what, uint32_t id, int64_t imm, const void *data,
		    uint32_t len)
{
	struct lang_hit *h = ctx;
	if (!h->rings || len > LANG_EMIT_MAX)
		return -EINVAL;
	uint32_t pad = (len + 7) & ~7u;
	unsigned int ring = 0;
	uint64_t end = 0;
	struct trace_raw *r = trace_ring_reserve_at(
		h->rings, (uint32_t)(sizeof(*r) + sizeof(struct lang_emit_rec)) + pad, h->event_id,
		&ring, &end);
	if (!r)
		return -ENOSPC; /* counted lost for the ring and the event */
	const struct fetch_thread *t = fetch_self();
	r->type = TRACE_RAW_EVENT;
	r->cpu = 0;
	r->event_id = h->event_id;
	r->flags = 0;
	r->tsc = rdtsc();
	r->entry_tsc = 0;
	r->pid = t->pid;
	r->tid = t->tid;
	r->ip = 0;
	r->func = 0;
	struct lang_emit_rec *e = (struct lang_emit_rec *)(r + 1);
	e->what = what;
	e->id = id;
	e->imm = imm;
	e->len = len;
	e->pad = 0;
	uint8_t *d = (uint8_t *)(e + 1);
	const uint8_t *s = data;
	for (uint32_t i = 0; i < pad; i++) /* no memcpy on the hot path */
		d[i] = i < len ? s[i] : 0;
	trace_ring_commit(r);
	/*
	 * print, clear, zero of a map: at the hit, as bpftrace means them. The
	 * thread waits until the tracer has performed the record, so the map
	 * printed or reset holds every earlier hit of the thread and none of
	 * its later ones (other threads' hits land on either side, as they
	 * would at any instant).
	 */
	if (what == EMIT_PRINT || what == EMIT_CLEAR || what == EMIT_ZERO)
		trace_ring_wait_consumed(h->rings, ring, end);
	return 0;
}

void lang_hit_ops(struct lang_env_ops *ops)
{
	lang_target_env_ops(ops);
	ops->emit = hit_emit;
	ops->read_str = hit_read_str;
}

static inline uint64_t rdtsc_cpu(uint32_t *cpu)
{
	return arch_ticks_cpu(cpu);
}

static inline uint64_t ticks_ns(uint64_t ticks, uint64_t mult)
{
	return (uint64_t)(((unsigned __int128)ticks * mult) >> 32);
}

static long raw_syscall0(long nr)
{
	return raw_syscall6(nr, 0, 0, 0, 0, 0, 0);
}

/* how: the depth (1..127) in its low byte (the mode is the tracer's). */
static uint64_t hit_ustack(const struct lang_env *env, uint32_t how)
{
	const struct lang_hit *h = env->hit;
	uint64_t id = 0;

	if (!h->stacks || stack_capture(h->stacks, env->regs, h->at_entry, how & 0xff, &id))
		id = 0;
	/* the pid's process image (a forked child's own, an exec'd one's): names the frames */
	return (uint64_t)stack_table_image(h->stacks, (uint32_t)env->pid) << 32 | (uint32_t)id;
}

#define USES(b) (uses & (1u << (b)))

/*
 * An integer builtin of a shape (shape.c's int_builtin), as lang_hit_run
 * computes it for the interpreter; *now: the TSC, read once per hit (0 until read).
 */
static inline __attribute__((always_inline)) uint64_t
hit_int(const struct lang_hit *h, const struct uprobe_regs *regs, const uint64_t *args, uint8_t b,
	uint64_t *now)
{
	uint32_t cpu;

	switch (b) {
	case B_ARG0 ... B_ARG5:
		return args ? args[b - B_ARG0] : arch_regs_arg(regs, b - B_ARG0);
	case B_RETVAL:
		return h->ret ? arch_regs_retval(regs) : 0;
	case B_PID:
		return (uint64_t)fetch_self()->pid;
	case B_TID:
		return (uint64_t)fetch_self()->tid;
	case B_CPU:
		rdtsc_cpu(&cpu);
		return cpu;
	case B_UID:
		return (uint64_t)raw_syscall0(SYS_getuid);
	case B_GID:
		return (uint64_t)raw_syscall0(SYS_getgid);
	case B_NSECS:
	case B_ELAPSED:
		if (!*now)
			*now = rdtsc();
		if (b == B_NSECS)
			return ticks_ns(*now, h->latency_mult);
		return *now > h->start_tsc ? ticks_ns(*now - h->start_tsc, h->latency_mult) : 0;
	default: /* PF_NO */
		return 0;
	}
}

/* A probe of a common shape (lang/fast.h): its one or two builtins, then its map operations. */
static void hit_fast(const struct lang_hit *h, const struct plan_fast *f,
		     const struct uprobe_regs *regs, const uint64_t *args)
{
	uint64_t now = 0, key;

	if (lang_fast_is_count(f)) { /* no value to read; no key read when there is none */
		key = f->key == PF_NO ? 0 : hit_int(h, regs, args, f->key, &now);
		map_agg_count(h->region, f->map, &key);
		return;
	}
	key = hit_int(h, regs, args, f->key, &now);
	lang_fast_run(f, h->region, key, hit_int(h, regs, args, f->val, &now));
}

/* The interpreter's probe: out of line, so that a fast probe does not set up its frame. */
static __attribute__((noinline)) void hit_general(struct lang_hit *h,
						   const struct plan_probe *pp,
						   const struct uprobe_regs *regs,
						   const uint64_t *usdt_args)
{
	uint32_t uses = pp->uses;
	uint64_t args[ARCH_ARG_REGS];
	struct lang_env env = {
		.ops = h->ops,
		.ctx = h->region,
		.emit_ctx = h,
		.args = usdt_args ? usdt_args : args,
		.retval = h->ret ? arch_regs_retval(regs) : 0,
		.comm = "",
		.func = h->func,
		.probe = h->probe_text,
		.probe_id = h->probe_key,
		.regs = regs,
		.hit = h,
		.ustack = hit_ustack,
	};
	if (!usdt_args)
		arch_regs_args(regs, args);
	if (USES(B_PID) || USES(B_TID) || USES(B_COMM) || USES(B_USTACK)) {
		struct fetch_thread *t = fetch_self();
		env.pid = t->pid;
		env.tid = t->tid;
		env.comm = t->comm;
	}
	if (USES(B_NSECS) || USES(B_ELAPSED) || USES(B_CPU)) {
		uint32_t cpu;
		uint64_t now = USES(B_CPU) ? rdtsc_cpu(&cpu) : (cpu = 0, rdtsc());
		env.cpu = cpu;
		env.nsecs = ticks_ns(now, h->latency_mult);
		env.elapsed = now > h->start_tsc ? ticks_ns(now - h->start_tsc, h->latency_mult) : 0;
	}
	if (USES(B_UID))
		env.uid = (uint64_t)raw_syscall0(SYS_getuid);
	if (USES(B_GID))
		env.gid = (uint64_t)raw_syscall0(SYS_getgid);
	plan_eval(h->plan, h->probe, &env);
	if (env.errors) {
		__atomic_fetch_add(&h->errors, env.errors, __ATOMIC_RELAXED);
		map_agg_update(h->region, h->faults_map, NULL, (int64_t)env.errors);
	}
}

void lang_hit_run(void *ctx, const struct uprobe_regs *regs, uint64_t entry_tsc,
		  const uint64_t *usdt_args)
{
	struct lang_hit *h = ctx;
	const struct plan_probe *pp = &h->plan->probes[h->probe];

	(void)entry_tsc;
	if (__builtin_expect(pp->fast.tidns, 1)) { /* the latency idiom: tid and nsecs */
		lang_fast_tidns(&pp->fast, h->region, (uint64_t)fetch_self()->tid,
				ticks_ns(rdtsc(), h->latency_mult));
		return;
	}
	if (__builtin_expect(pp->fast.kind != PF_NONE, 1)) {
		hit_fast(h, &pp->fast, regs, usdt_args);
		return;
	}
	hit_general(h, pp, regs, usdt_args);
}
