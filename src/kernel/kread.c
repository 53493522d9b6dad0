// SPDX-License-Identifier: MIT
/*
 * Reading the kernel's events: one perf event per (event, CPU), opened on
 * the event's tracepoint id; the first of each CPU owns that CPU's ring (an
 * mmap of 1 + 2^n pages), the others write into it (PERF_EVENT_IOC_SET_OUTPUT).
 * Samples carry PERF_SAMPLE_TID | TIME | CPU | RAW: the raw part is the
 * trace event itself, its first u16 (common_type) the kernel's event id,
 * decoded with the field offsets of the event's format (kgroup_layout) into
 * the payload layout of trace_layout_of(). Time is CLOCK_MONOTONIC
 * (use_clockid), the agent's clock. A full ring drops samples; the kernel
 * counts them per event (PERF_FORMAT_LOST, read() gives {hits, lost}), which
 * is exact at any moment, unlike the PERF_RECORD_LOST it writes only once
 * the ring has room again (those are skipped here).
 *
 *   ring page 0: struct perf_event_mmap_page (data_head written by the kernel,
 *                data_tail by us: acquire / release)
 *   pages 1..2^n: records {perf_event_header; body}, wrapping
 *
 * Counting mode (opts.counting): no trace event, the uprobe PMU instead
 * (type from sysfs; config: the retprobe bit, ref_ctr_offset << 32;
 * uprobe_path, probe_offset): a private uprobe that lives as long as the
 * descriptor, nothing in tracefs; read() gives every hit, no ring, no loss.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kernel/kernel.h"
#include "trace/spec/spec.h"
#include "util/log.h"

#define BATCH_MAX 65536	     /* samples per poll */
#define SAMPLE_MAX 65536     /* bytes of one record (its size is a u16) */

static int perf_open(struct perf_event_attr *a, pid_t pid, int cpu, int group)
{
	return (int)syscall(SYS_perf_event_open, a, pid, cpu, group, PERF_FLAG_FD_CLOEXEC);
}

/* The uprobe PMU's type and its retprobe config bit (sysfs), or -1. */
static int uprobe_pmu(int *ret_bit)
{
	static int type = -2, bit = -1;
	char buf[64];
	FILE *f;

	if (type == -2) {
		type = -1;
		f = fopen("/sys/bus/event_source/devices/uprobe/type", "re");
		if (f && fscanf(f, "%d", &type) != 1)
			type = -1;
		if (f)
			fclose(f);
		f = fopen("/sys/bus/event_source/devices/uprobe/format/retprobe", "re");
		if (f && fgets(buf, sizeof(buf), f) && sscanf(buf, "config:%d", &bit) != 1)
			bit = -1;
		if (f)
			fclose(f);
	}
	*ret_bit = bit;
	return type;
}

static int open_one(struct trace_kernel *k, struct kevent *e, int cpu)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_TRACEPOINT,
		.size = sizeof(a),
		.config = (uint64_t)e->kid,
		.inherit = k->opts.pid > 0 && k->opts.inherit,
		.use_clockid = 1,
		.clockid = CLOCK_MONOTONIC,
	};
	int fd;

	if (k->opts.counting) {
		int bit, type = uprobe_pmu(&bit);

		if (type < 0 || (e->is_ret && bit < 0))
			return -ENOTSUP; /* no uprobe PMU (or no uretprobes) in this kernel */
		a.type = (uint32_t)type;
		a.config = (e->is_ret ? 1ull << bit : 0) |
			   (e->spec->has_ref_ctr ? e->spec->ref_ctr_offset << 32 : 0);
		a.uprobe_path = (uint64_t)(uintptr_t)e->path;
		a.probe_offset = e->offset;
	} else {
		a.sample_period = 1;
		a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_RAW;
		/* Woken when a quarter is full, not at each sample: the poll has a timeout. */
		a.watermark = 1;
		a.wakeup_watermark = (uint32_t)(k->opts.ring_pages * (size_t)sysconf(_SC_PAGESIZE) / 4);
		a.read_format = PERF_FORMAT_LOST; /* {hits, lost}: see trace_kernel_count */
	}
	fd = perf_open(&a, k->opts.pid > 0 ? k->opts.pid : -1, cpu, -1);
	if (fd < 0)
		return -errno;
	e->fds[cpu] = fd;
	/* also counting: the uprobe PMU's event is a trace event, its filter counts too */
	if (k->opts.exclude_tid > 0) {
		char filter[32];

		snprintf(filter, sizeof(filter), "common_pid != %d", (int)k->opts.exclude_tid);
		if (ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter))
			return -errno;
	}
	if (k->opts.counting)
		return 0;
	if (k->rings[cpu].fd < 0) {
		size_t pages = k->opts.ring_pages, psz = (size_t)sysconf(_SC_PAGESIZE);
		void *m = mmap(NULL, (pages + 1) * psz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		if (m == MAP_FAILED)
			return -errno;
		k->rings[cpu] = (struct kring){ .fd = fd, .base = m, .size = pages * psz };
		return 0;
	}
	return ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, k->rings[cpu].fd) ? -errno : 0;
}

static const char *open_hint(int err)
{
	if (err == -EACCES || err == -EPERM)
		return ": needs root or CAP_PERFMON (see /proc/sys/kernel/perf_event_paranoid)";
	if (err == -EMFILE)
		return ": too many open files (ulimit -n)";
	return "";
}

int kread_open(struct trace_kernel *k)
{
	int ret;

	for (int c = 0; c < k->ncpu; c++)
		k->rings[c].fd = -1;
	for (int i = 0; i < k->n_ev; i++) {
		for (int c = 0; c < k->ncpu; c++) {
			ret = open_one(k, &k->ev[i], c);
			if (ret == -ENODEV || ret == -EINVAL) /* an offline CPU */
				ret = c ? 0 : ret;
			if (ret)
				return log_error(-ret, "perf_event_open on %s/e%u (CPU %d): %s%s",
						 k->group, k->ev[i].id, c, strerror(-ret),
						 open_hint(ret));
		}
	}
	return 0;
}

int trace_kernel_disable(struct trace_kernel *k)
{
	int ret = 0;

	if (!k || !k->enabled)
		return -EINVAL;
	for (int i = 0; i < k->n_ev; i++)
		for (int c = 0; k->ev[i].fds && c < k->ncpu; c++)
			if (k->ev[i].fds[c] >= 0 && ioctl(k->ev[i].fds[c], PERF_EVENT_IOC_DISABLE, 0) &&
			    !ret)
				ret = -errno;
	return ret;
}

void kread_close(struct trace_kernel *k)
{
	size_t psz = (size_t)sysconf(_SC_PAGESIZE);

	for (int i = 0; i < k->n_ev; i++)
		for (int c = 0; k->ev[i].fds && c < k->ncpu; c++)
			if (k->ev[i].fds[c] >= 0 && (!k->rings || k->ev[i].fds[c] != k->rings[c].fd)) {
				close(k->ev[i].fds[c]);
				k->ev[i].fds[c] = -1;
			}
	for (int c = 0; k->rings && c < k->ncpu; c++) {
		if (k->rings[c].base)
			munmap(k->rings[c].base, k->rings[c].size + psz);
		if (k->rings[c].fd >= 0)
			close(k->rings[c].fd);
		k->rings[c] = (struct kring){ .fd = -1 };
	}
}

/* Copy len bytes at pos of the ring's data area, wrapping. */
static void ring_copy(const struct kring *r, uint64_t pos, void *dst, size_t len)
{
	const uint8_t *data = (const uint8_t *)r->base + (size_t)sysconf(_SC_PAGESIZE);
	size_t at = (size_t)(pos & (r->size - 1)), first = r->size - at;

	if (first >= len) {
		memcpy(dst, data + at, len);
	} else {
		memcpy(dst, data + at, first);
		memcpy((uint8_t *)dst + first, data, len - first);
	}
}

/* A sample's body: pid, tid | time | cpu, res | size, raw. */
static void take_sample(struct trace_kernel *k, const uint8_t *b, size_t len)
{
	struct ksample *batch = k->batch, *s;
	uint32_t raw_size;

	if (len < 28) {
		k->malformed++;
		return;
	}
	memcpy(&raw_size, b + 24, 4);
	if (raw_size > len - 28 || k->batch_room == BATCH_MAX) {
		k->malformed += raw_size > len - 28;
		return;
	}
	s = &batch[k->batch_room];
	memcpy(&s->pid, b, 4);
	memcpy(&s->tid, b + 4, 4);
	memcpy(&s->time, b + 8, 8);
	memcpy(&s->cpu, b + 16, 4);
	s->size = raw_size;
	s->raw = malloc(raw_size ? raw_size : 1);
	if (!s->raw)
		return;
	memcpy(s->raw, b + 28, raw_size);
	k->batch_room++;
}

/* Every record of one ring up to the kernel's head (as many as the batch takes). */
static void ring_drain(struct trace_kernel *k, struct kring *r, uint8_t *buf)
{
	struct perf_event_mmap_page *mp = r->base;
	uint64_t head = __atomic_load_n(&mp->data_head, __ATOMIC_ACQUIRE), tail = mp->data_tail;
	struct perf_event_header h;

	while (tail + sizeof(h) <= head && k->batch_room < BATCH_MAX) {
		ring_copy(r, tail, &h, sizeof(h));
		if (h.size < sizeof(h) || tail + h.size > head) {
			k->malformed++;
			tail = head;
			break;
		}
		/* h.size is 16 bits: a record always fits buf (SAMPLE_MAX). */
		ring_copy(r, tail + sizeof(h), buf, h.size - sizeof(h));
		if (h.type == PERF_RECORD_SAMPLE) {
			take_sample(k, buf, h.size - sizeof(h));
		}
		tail += h.size;
	}
	__atomic_store_n(&mp->data_tail, tail, __ATOMIC_RELEASE);
}

static int by_time(const void *a, const void *b)
{
	const struct ksample *x = a, *y = b;

	return x->time < y->time ? -1 : x->time > y->time;
}

static struct kevent *event_of(struct trace_kernel *k, const uint8_t *raw, uint32_t size)
{
	uint16_t type;
	int lo = 0, hi = k->n_ev - 1;

	if (size < 8)
		return NULL;
	memcpy(&type, raw, 2);
	while (lo <= hi) { /* k->ev is sorted by kid (trace_kernel_enable) */
		int mid = (lo + hi) / 2;

		if (k->ev[mid].kid == type)
			return &k->ev[mid];
		if (k->ev[mid].kid < type)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* A __data_loc's bytes in the sample: 0, or -1 when it points outside. */
static int data_loc(const uint8_t *raw, uint32_t size, int off, const uint8_t **p, uint32_t *len)
{
	uint32_t dl;

	if (off < 0 || (uint32_t)off + 4 > size)
		return -1;
	memcpy(&dl, raw + off, 4);
	*p = raw + (dl & 0xffff);
	*len = dl >> 16;
	return (dl & 0xffff) + *len > size ? -1 : 0;
}

static uint64_t scalar(const uint8_t *p, int size, enum trace_type t)
{
	uint64_t v = 0;

	memcpy(&v, p, (size_t)size);
	if (trace_type_is_signed(t) && size < 8 && (v >> (8 * size - 1)) & 1)
		v |= ~0ull << (8 * size);
	return v;
}

/*
 * One field into the payload at *dyn (strings' bytes). A string of length 0
 * is the kernel's fault (a read string has its NUL): its bit is set.
 */
static int decode_field(const struct kevent *e, int i, const uint8_t *raw, uint32_t size,
			uint8_t *pay, uint32_t *dyn, uint32_t room)
{
	const struct trace_field *f = &e->layout.fields[i];
	const struct trace_fetch *fa = &e->spec->args[i].fetch;
	int off = e->koff[i], ks = e->ksize[i];

	if (fa->base == TRACE_B_IMMSTR) { /* the kernel has a placeholder (kline.c) */
		uint32_t w[2] = { *dyn, fa->str ? (uint32_t)strlen(fa->str) : 0 };

		if (*dyn + w[1] > room)
			return -1;
		memcpy(pay + *dyn, fa->str, w[1]);
		memcpy(pay + f->offset, w, 8);
		*dyn += w[1];
		return 0;
	}
	if (trace_type_is_dynamic(f->type)) {
		for (unsigned j = 0; j < f->count; j++) {
			const uint8_t *p;
			uint32_t len, w[2];

			if (data_loc(raw, size, off + 4 * (int)j, &p, &len))
				return -1;
			if (!len) {
				pay[i / 8] |= (uint8_t)(1u << (i % 8));
				continue;
			}
			len--; /* the NUL */
			if (*dyn + len > room)
				return -1;
			memcpy(pay + *dyn, p, len);
			w[0] = *dyn;
			w[1] = len;
			memcpy(pay + f->offset + 8 * j, w, 8);
			*dyn += len;
		}
		return 0;
	}
	if (ks < 0 || off + ks > (int)size)
		return -1;
	if (f->array_len) {
		memcpy(pay + f->offset, raw + off, (size_t)ks < f->elem_size * f->count ?
		       (size_t)ks : f->elem_size * f->count);
	} else {
		uint64_t v = scalar(raw + off, ks > 8 ? 8 : ks, f->type);

		memcpy(pay + f->offset, &v, 8);
	}
	return 0;
}

static int deliver(struct trace_kernel *k, const struct ksample *s, trace_record_fn fn, void *ctx)
{
	struct kevent *e = event_of(k, s->raw, s->size);
	uint32_t room = e ? e->layout.fixed_len + s->size + e->immstr_len : 0, dyn, len;
	char comm[17] = "";
	const uint8_t *p;
	uint8_t *pay;
	int ret;

	if (!e) {
		k->malformed++;
		return 0;
	}
	pay = calloc(1, room ? room : 1);
	if (!pay)
		return -ENOMEM;
	dyn = e->layout.fixed_len;
	struct trace_record rec = { .event_id = e->id, .ts_ns = s->time, .pid = s->pid,
				    .tid = s->tid, .cpu = s->cpu, .comm = comm, .data = pay };

	for (int i = 0; i < e->layout.n_fields; i++)
		if (decode_field(e, i, s->raw, s->size, pay, &dyn, room)) {
			k->malformed++;
			free(pay);
			return 0;
		}
	if (e->comm_off >= 0 && !data_loc(s->raw, s->size, e->comm_off, &p, &len) && len)
		memcpy(comm, p, len > 16 ? 16 : len - 1);
	if (e->ip_off + 8 <= (int)s->size)
		memcpy(&rec.ip, s->raw + e->ip_off, 8);
	if (e->is_ret && e->func_off >= 0 && e->func_off + 8 <= (int)s->size)
		memcpy(&rec.func, s->raw + e->func_off, 8);
	rec.flags = e->is_ret ? TRACE_REC_RETURN : 0;
	rec.data_len = dyn;
	k->records++;
	ret = fn(&rec, ctx);
	free(pay);
	return ret;
}

/* Deliver the batch from k->batch_pos on; what fn's stop leaves is kept for the next poll. */
static int deliver_batch(struct trace_kernel *k, trace_record_fn fn, void *ctx, int *n)
{
	struct ksample *batch = k->batch;
	int ret = 0;

	while (k->batch_pos < k->batch_room && !ret) {
		ret = deliver(k, &batch[k->batch_pos], fn, ctx);
		free(batch[k->batch_pos++].raw);
		(*n)++;
	}
	if (k->batch_pos == k->batch_room)
		k->batch_pos = k->batch_room = 0;
	return ret;
}

static void drain_all(struct trace_kernel *k, int timeout_ms, uint8_t *buf)
{
	struct pollfd p[k->ncpu];

	for (int c = 0; c < k->ncpu; c++)
		if (k->rings[c].base)
			ring_drain(k, &k->rings[c], buf);
	if (k->batch_room || !timeout_ms)
		return;
	for (int c = 0; c < k->ncpu; c++)
		p[c] = (struct pollfd){ .fd = k->rings[c].fd, .events = POLLIN };
	if (poll(p, (nfds_t)k->ncpu, timeout_ms) > 0)
		for (int c = 0; c < k->ncpu; c++)
			if (k->rings[c].base)
				ring_drain(k, &k->rings[c], buf);
}

int trace_kernel_poll(struct trace_kernel *k, int timeout_ms, trace_record_fn fn, void *ctx)
{
	uint8_t *buf;
	int n = 0, ret;

	if (!k || !fn || !k->enabled || k->opts.counting)
		return -EINVAL;
	if (!k->batch && !(k->batch = calloc(BATCH_MAX, sizeof(struct ksample))))
		return -ENOMEM;
	if (k->batch_room) /* what the last poll's stop left */
		return (ret = deliver_batch(k, fn, ctx, &n)) ? ret : n;
	buf = malloc(SAMPLE_MAX);
	if (!buf)
		return -ENOMEM;
	drain_all(k, timeout_ms, buf);
	free(buf);
	qsort(k->batch, k->batch_room, sizeof(struct ksample), by_time);
	ret = deliver_batch(k, fn, ctx, &n);
	return ret ? ret : n;
}
