/* SPDX-License-Identifier: MIT */
/*
 * The hot half of fetch-args: evaluate a compiled plan at a hit and write the
 * record. Runs in probe handlers, also inside the SIGTRAP handler: no libc
 * call (the user may have probed it), no system call after a thread's first
 * event, no SIMD (built -mgeneral-regs-only, see the Makefile's HOT_SRCS).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "arch/arch.h"
#include "core/srcu.h"
#include "stack/modules.h"
#include "trace/fetch/fetch.h"
#include "trace/fetch/fetch_self.h"
#include "uprobes_stack.h"

/* Resolved in safe_read.S; see there. */
int uprobes_safe_load(uint64_t addr, unsigned int size, uint64_t *out);
int uprobes_safe_copy(void *dst, uint64_t src, size_t len);
long uprobes_safe_strnlen(uint64_t src, size_t max);


/*
 * rdtscp costs twice rdtsc here (VM); the cpu comes from the rseq area glibc
 * registers for every thread (struct rseq: cpu_id_start, then cpu_id), a
 * plain load. 0xffff when the kernel or glibc has no rseq.
 */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

static inline uint64_t tsc_cpu(uint32_t *cpu)
{
	if (&__rseq_size && __rseq_size >= 8)
		*cpu = *(volatile uint32_t *)((char *)__builtin_thread_pointer() + __rseq_offset + 4);
	else
		*cpu = 0xffff;
	return arch_ticks();
}

static void header(struct trace_raw *r, uint16_t type, const struct fetch_thread *t, uint32_t cpu)
{
	r->type = type;
	r->cpu = (uint16_t)cpu;
	r->pid = t->pid;
	r->tid = t->tid;
}

/* The name goes to the rings once per thread, before its first event. */
static void send_comm(struct trace_rings *rings, struct fetch_thread *t)
{
	struct trace_raw *r = trace_ring_reserve_quiet(rings, sizeof(*r) + 16);
	uint32_t cpu;

	if (!r)
		return; /* retried with the next event */
	header(r, TRACE_RAW_COMM, t, 0);
	r->tsc = tsc_cpu(&cpu);
	r->cpu = (uint16_t)cpu;
	r->event_id = 0;
	r->flags = 0;
	r->entry_tsc = 0;
	r->ip = 0;
	r->func = 0;
	for (int i = 0; i < 16; i++)
		((char *)(r + 1))[i] = t->comm[i];
	trace_ring_commit(r);
	t->comm_sent = rings;
}

/*
 * The process's mappings go into the rings before a thread's first stack
 * (in its own ring, so the tracer reads them first) and again after they
 * changed: records of UPROBE_STACK_MAPS_EVENT whose payload the stack layer
 * prepared (modules.c). A full ring refuses them uncounted; the next stack
 * tries again.
 */
static __thread uint64_t maps_sent __attribute__((tls_model("initial-exec")));

static void send_maps_of(struct trace_rings *rings, const struct fetch_thread *t,
			 const struct stack_modset *ms)
{
	struct trace_raw *r;
	uint32_t cpu;

	if (!ms || ms->gen == maps_sent || !ms->maps_len)
		return;
	r = trace_ring_reserve_quiet(rings, (uint32_t)sizeof(*r) + ms->maps_len);
	if (!r)
		return;
	r->tsc = tsc_cpu(&cpu);
	header(r, TRACE_RAW_EVENT, t, cpu);
	r->event_id = UPROBE_STACK_MAPS_EVENT;
	r->flags = 0;
	r->entry_tsc = 0;
	r->ip = 0;
	r->func = 0;
	for (uint32_t k = 0; k < ms->maps_len / 8; k++)
		((uint64_t *)(r + 1))[k] = ms->maps_rec[k];
	trace_ring_commit(r);
	maps_sent = ms->gen;
}

/* The set is read in a read section of its own (a handler is in one already). */
static void send_maps(struct trace_rings *rings, const struct fetch_thread *t)
{
	if (!stack_modules_current()) /* none yet (stack_setup() sets srcu up) */
		return;
	srcu_read_lock();
	send_maps_of(rings, t, stack_modules_current());
	srcu_read_unlock();
}

static const uint64_t *regs_words(const struct uprobe_regs *regs)
{
	return (const uint64_t *)regs;
}

static uint64_t base_of(const struct fetch_arg *a, const struct uprobe_regs *regs)
{
	return a->base_reg == FETCH_IMM ? a->imm : regs_words(regs)[a->base_reg];
}

/* The address the last dereference reads from: 0 or -EFAULT. */
static int addr_of(const struct fetch_arg *a, const struct uprobe_regs *regs, uint64_t *addr)
{
	uint64_t v = base_of(a, regs);

	for (int i = 0; i + 1 < a->n_deref; i++)
		if (uprobes_safe_load(v + (uint64_t)a->deref[i], 8, &v))
			return -EFAULT;
	*addr = v + (uint64_t)a->deref[a->n_deref - 1];
	return 0;
}

static uint64_t convert(const struct fetch_arg *a, uint64_t v)
{
	unsigned int bits = a->size * 8u;

	if (a->bf_rshift)
		return (v << a->bf_lshift) >> a->bf_rshift;
	if (bits == 64)
		return v;
	if (a->sign)
		return (uint64_t)((int64_t)(v << (64 - bits)) >> (64 - bits));
	return v & ((1ull << bits) - 1);
}

#define LEN_FAULT 0xffffffffu

/* First pass: the length of every dynamic (string) arg; LEN_FAULT if unreadable. */
static uint32_t measure(const struct fetch_plan *plan, const struct uprobe_regs *regs,
			const struct fetch_thread *t, uint32_t *lens, struct fetch_ustack *us)
{
	uint32_t total = 0;

	for (int i = 0; i < plan->n_args; i++) {
		const struct fetch_arg *a = &plan->args[i];
		uint64_t addr;
		long n = 0;

		if (a->kind == FK_COMM) {
			while (n < 16 && t->comm[n])
				n++;
		} else if (a->kind == FK_IMMSTR) {
			n = a->str_len;
		} else if (a->kind == FK_USTACK) {
			n = fetch_ustack_len(a, regs, us);
		} else if (a->kind == FK_STRING) {
			n = addr_of(a, regs, &addr) ? -EFAULT
						    : uprobes_safe_strnlen(addr, TRACE_MAX_STRING - 1);
		} else {
			continue;
		}
		lens[i] = n < 0 ? LEN_FAULT : (uint32_t)n;
		total += n < 0 ? 0 : (uint32_t)n;
	}
	return total;
}

static int fetch_string(const struct fetch_arg *a, const struct uprobe_regs *regs,
			const struct fetch_thread *t, const struct fetch_ustack *us, uint8_t *dst,
			uint32_t len)
{
	uint64_t addr;

	if (a->kind == FK_USTACK) { /* len is what measure() left: 8 per frame */
		for (uint32_t k = 0; k < len; k++)
			dst[k] = ((const uint8_t *)us->frames)[k];
		return 0;
	}
	if (a->kind == FK_COMM) {
		for (uint32_t k = 0; k < len; k++)
			dst[k] = (uint8_t)t->comm[k];
		return 0;
	}
	if (a->kind == FK_IMMSTR) {
		for (uint32_t k = 0; k < len; k++)
			dst[k] = (uint8_t)a->str[k];
		return 0;
	}
	if (addr_of(a, regs, &addr) || uprobes_safe_copy(dst, addr, len))
		return -EFAULT;
	return 0;
}

/* A scalar or an array into its field: 0 or -EFAULT. */
static int fetch_value(const struct fetch_arg *a, const struct uprobe_regs *regs, uint8_t *field)
{
	uint64_t addr, v;

	if (a->kind == FK_ARRAY) {
		if (addr_of(a, regs, &addr) ||
		    uprobes_safe_copy(field, addr, (size_t)a->size * a->count))
			return -EFAULT;
		return 0;
	}
	if (!a->n_deref)
		v = base_of(a, regs);
	else if (addr_of(a, regs, &addr) || uprobes_safe_load(addr, a->size, &v))
		return -EFAULT;
	*(uint64_t *)field = convert(a, v);
	return 0;
}

static void zero(uint8_t *p, uint32_t len)
{
	for (uint32_t k = 0; k < len; k += 8)
		*(uint64_t *)(p + k) = 0;
}

static void fill_payload(const struct fetch_plan *plan, const struct uprobe_regs *regs,
			 const struct fetch_thread *t, const struct fetch_ustack *us, uint8_t *p,
			 const uint32_t *lens, uint32_t total)
{
	uint64_t *bitmap = (uint64_t *)p;
	uint32_t dyn = plan->fixed_len;

	zero(p, (plan->fixed_len + 7u) & ~7u);
	if (total) /* the last word of the text: no stale bytes after it */
		*(uint64_t *)(p + ((plan->fixed_len + total + 7u) & ~7u) - 8) = 0;
	for (int i = 0; i < plan->n_args; i++) {
		const struct fetch_arg *a = &plan->args[i];
		uint8_t *field = p + a->field_off;
		int err;

		if (a->kind == FK_INT || a->kind == FK_ARRAY) {
			err = fetch_value(a, regs, field);
		} else if (lens[i] == LEN_FAULT) {
			err = -EFAULT;
		} else {
			err = fetch_string(a, regs, t, us, p + dyn, lens[i]);
			((uint32_t *)field)[0] = dyn;
			((uint32_t *)field)[1] = err ? 0 : lens[i];
			dyn += lens[i];
		}
		if (err) {
			zero(field, ((a->kind == FK_ARRAY ? (uint32_t)a->size * a->count : 8) + 7u) & ~7u);
			bitmap[i / 64] |= 1ull << (i % 64);
		}
	}
}

int fetch_emit(struct trace_rings *rings, const struct fetch_plan *plan, uint32_t event_id,
	       uint32_t flags, const struct uprobe_regs *regs, uint64_t ip, uint64_t func,
	       uint64_t entry_tsc)
{
	struct fetch_thread *t = fetch_self();
	uint32_t lens[TRACE_MAX_ARGS];
	uint32_t dyn = 0, cpu;
	struct fetch_ustack us;
	struct trace_raw *r;

	us.n = 0;
	if (plan->has_dynamic)
		dyn = measure(plan, regs, t, lens, &us);
	if (__builtin_expect(t->comm_sent != rings, 0))
		send_comm(rings, t);
	if (us.n)
		send_maps(rings, t);
	r = trace_ring_reserve(rings, (uint32_t)sizeof(*r) + ((plan->fixed_len + dyn + 7) & ~7u),
			       event_id);
	if (!r)
		return -ENOSPC;
	r->tsc = tsc_cpu(&cpu);
	header(r, TRACE_RAW_EVENT, t, cpu);
	r->event_id = event_id;
	r->flags = flags;
	r->entry_tsc = entry_tsc;
	r->ip = ip;
	r->func = func;
	fill_payload(plan, regs, t, &us, (uint8_t *)(r + 1), lens, dyn);
	trace_ring_commit(r);
	return 0;
}

/* After fork, in the child: its thread has a new id and no name sent yet. */
void fetch_thread_reset(void)
{
	fetch_self_cache.tid = 0;
	maps_sent = 0; /* a new pid: its mappings are told again */
}

/* ---- aggregation in the target (trace_event_agg) ------------------------------------ */

/* Arg i as an integer, as trace_field_int reads it from a record: 0, or -1 (fault, not one). */
static int arg_int(const struct fetch_plan *plan, int i, const struct uprobe_regs *regs,
		   int64_t *v)
{
	uint64_t w;

	if (i < 0 || i >= plan->n_args || plan->args[i].kind != FK_INT ||
	    fetch_value(&plan->args[i], regs, (uint8_t *)&w))
		return -1;
	*v = (int64_t)w;
	return 0;
}

static bool filter_keeps(const struct fetch_agg *agg, const struct fetch_plan *plan,
			 const struct uprobe_regs *regs)
{
	int64_t v, k = agg->filter_value;

	if (agg->filter_arg < 0)
		return true;
	if (arg_int(plan, agg->filter_arg, regs, &v))
		return false;
	switch (agg->filter_op) {
	case TRACE_FILTER_EQ:
		return v == k;
	case TRACE_FILTER_NE:
		return v != k;
	case TRACE_FILTER_LT:
		return v < k;
	case TRACE_FILTER_LE:
		return v <= k;
	case TRACE_FILTER_GT:
		return v > k;
	default:
		return v >= k;
	}
}

/* A call's duration in ns (its return now), as the tracer's clock would convert it. */
static int latency_ns(const struct fetch_agg *agg, uint64_t entry_tsc, int64_t *v)
{
	uint64_t now = arch_ticks();

	if (!entry_tsc || now < entry_tsc)
		return -1;
	*v = (int64_t)(((unsigned __int128)(now - entry_tsc) * agg->latency_mult) >> 32);
	return 0;
}

void fetch_aggregate(const struct fetch_agg *agg, const struct fetch_plan *plan,
		     const struct uprobe_regs *regs, uint64_t entry_tsc)
{
	int64_t v;

	if (agg->run) {
		uint64_t args[6];

		if (!plan->n_args) { /* a program's uprobe: it reads the registers itself */
			agg->run(agg->run_ctx, regs, entry_tsc, NULL);
			return;
		}
		for (int k = 0; k < 6; k++) /* usdt: its arguments, the rest 0 */
			if (k >= plan->n_args || arg_int(plan, k, regs, (int64_t *)&args[k]))
				args[k] = 0;
		agg->run(agg->run_ctx, regs, entry_tsc, args);
		return;
	}
	if (!filter_keeps(agg, plan, regs)) {
		if (agg->filtered_map >= 0)
			map_agg_update(agg->maps, agg->filtered_map, &agg->key, 1);
		return;
	}
	if (agg->count_map >= 0)
		map_agg_count_hashed(agg->maps, agg->count_map, &agg->key, agg->count_hash);
	if (agg->hist_map < 0)
		return;
	if (agg->hist_arg == TRACE_AGG_LATENCY ? !latency_ns(agg, entry_tsc, &v)
					       : !arg_int(plan, agg->hist_arg, regs, &v))
		map_agg_update(agg->maps, agg->hist_map, NULL, v);
}

/* ---- the probe handlers of trace events -------------------------------------------- */

void fetch_entry_handler(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	const struct fetch_event *ev = ctx;

	(void)probe;
	if (!__atomic_load_n(ev->recording, __ATOMIC_RELAXED))
		return;
	if (ev->agg)
		fetch_aggregate(ev->agg, ev->plan, regs, 0);
	else
		fetch_emit(ev->rings, ev->plan, ev->id, 0, regs, arch_regs_pc(regs), 0, 0);
}

/*
 * An entry whose only work is a count (fetch_count_only): uprobe trace
 * --count without a filter or histogram, a program's `@ = count()`
 * (agent_lang_agg). The same map_agg_count as fetch_aggregate's, without
 * its branches and calls.
 */
void fetch_count_handler(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	const struct fetch_event *ev = ctx;

	(void)probe;
	(void)regs;
	if (!__atomic_load_n(ev->recording, __ATOMIC_RELAXED))
		return;
	map_agg_count_hashed(ev->agg_store.maps, ev->agg_store.count_map, &ev->agg_store.key,
			     ev->agg_store.count_hash);
}

void fetch_stamp_handler(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	uint64_t *cookie = uprobe_cookie();

	(void)probe;
	(void)regs;
	(void)ctx;
	if (cookie)
		*cookie = arch_ticks();
}

/*
 * A run (a program's uretprobe) whose call an exception or longjmp left: it
 * did not return, so the plan does not run (bpftrace's uretprobe runs at a
 * return, where retval is); counted in filtered_map.
 */
static void run_unwound(const struct fetch_agg *agg)
{
	if (agg->filtered_map >= 0)
		map_agg_update(agg->maps, agg->filtered_map, NULL, 1);
}

void fetch_return_handler(struct uprobe *probe, struct uprobe_regs *regs,
			  const struct uprobe_ret *ret, void *ctx)
{
	const struct fetch_event *ev = ctx;
	uint32_t flags = TRACE_REC_RETURN;

	(void)probe;
	if (!__atomic_load_n(ev->recording, __ATOMIC_RELAXED))
		return;
	if (ev->agg && ev->agg->run && (ret->flags & UPROBE_RET_UNWOUND)) {
		run_unwound(ev->agg);
		return;
	}
	if (ev->agg) {
		fetch_aggregate(ev->agg, ev->plan, regs, ret->cookie);
		return;
	}
	if (ret->flags & UPROBE_RET_UNWOUND)
		flags |= TRACE_REC_UNWOUND;
	fetch_emit(ev->rings, ev->plan, ev->id, flags, regs, ret->ret_addr, ret->func, ret->cookie);
}

void fetch_pair_return_handler(struct uprobe *probe, struct uprobe_regs *regs,
			       const struct uprobe_ret *ret, void *ctx)
{
	const struct fetch_event *ev = ctx;

	ev->pair_ret(probe, regs, ret, (void *)ev->pair);
}

void fetch_run_handler(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	const struct fetch_event *ev = ctx;

	(void)probe;
	if (__atomic_load_n(ev->recording, __ATOMIC_RELAXED))
		ev->agg_store.run(ev->agg_store.run_ctx, regs, 0, NULL);
}

void fetch_run_return_handler(struct uprobe *probe, struct uprobe_regs *regs,
			      const struct uprobe_ret *ret, void *ctx)
{
	const struct fetch_event *ev = ctx;

	(void)probe;
	if (!__atomic_load_n(ev->recording, __ATOMIC_RELAXED))
		return;
	if (__builtin_expect(ret->flags & UPROBE_RET_UNWOUND, 0))
		run_unwound(&ev->agg_store);
	else
		ev->agg_store.run(ev->agg_store.run_ctx, regs, ret->cookie, NULL);
}
