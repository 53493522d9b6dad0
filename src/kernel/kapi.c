// SPDX-License-Identifier: MIT
/*
 * The kernel backend's object (uprobes_kernel.h): a group of kernel events,
 * their perf events and rings. Life cycle:
 *   trace_kernel_new     tracefs checked, stale groups removed, guard started
 *   trace_kernel_add     one dynamic_events line per probe: event "e<id>"
 *   trace_kernel_enable  perf events opened on every CPU (the kernel probes now)
 *   trace_kernel_poll / _count
 *   trace_kernel_free    perf events closed, the group removed, the guard ends
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "kernel/kernel.h"
#include "util/log.h"

struct trace_kernel *trace_kernel_new(const struct trace_kernel_opts *opts)
{
	struct trace_kernel *k;
	int ret;

	log_clear_error();
	if (opts && opts->sz < KOPTS_MIN_SZ) {
		errno = -log_error(EINVAL, "opts->sz is too small");
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		errno = ENOMEM;
		return NULL;
	}
	if (opts) /* a caller built before exclude_tid: the fields it has */
		memcpy(&k->opts, opts, opts->sz < sizeof(*opts) ? opts->sz : sizeof(*opts));
	if (!k->opts.ring_pages)
		k->opts.ring_pages = 256;
	k->guard_fd = -1;
	k->ncpu = (int)sysconf(_SC_NPROCESSORS_CONF);
	if (k->opts.ring_pages & (k->opts.ring_pages - 1)) {
		ret = log_error(EINVAL, "ring_pages %u is not a power of two", k->opts.ring_pages);
		goto fail;
	}
	k->rings = calloc((size_t)k->ncpu, sizeof(*k->rings));
	ret = k->rings ? kgroup_start(k) : -ENOMEM;
	if (!ret)
		return k;
fail:
	k->group[0] = 0; /* not ours: another tracer's, or none */
	trace_kernel_free(k);
	errno = -ret;
	return NULL;
}

const char *trace_kernel_group(const struct trace_kernel *k)
{
	return k ? k->group : "";
}

/*
 * Counting mode: no trace event at all. The uprobe PMU counts the hits of a
 * file offset (perf_event_open with the path and offset: the kernel makes a
 * private uprobe that goes with the descriptor): nothing to remove, ever.
 */
static int add_counter(struct trace_kernel *k, const struct trace_spec *spec, uint32_t id)
{
	char path[PATH_MAX];
	struct trace_error err;
	struct kevent *e = &k->ev[k->n_ev];
	uint64_t off = 0;
	int ret = kline_place(spec, path, sizeof(path), &off, &err);

	if (ret)
		return ret;
	*e = (struct kevent){ .spec = spec, .id = id, .is_ret = spec->kind == TRACE_RETPROBE,
			      .path = strdup(path), .offset = off,
			      .fds = calloc((size_t)k->ncpu, sizeof(int)) };
	k->n_ev++; /* freed with the others, also on failure */
	if (!e->path || !e->fds)
		return -ENOMEM;
	for (int c = 0; c < k->ncpu; c++)
		e->fds[c] = -1;
	return 0;
}

int trace_kernel_add(struct trace_kernel *k, const struct trace_spec *spec, uint32_t id)
{
	char name[32], small[4096], *line = small;
	struct trace_error err;
	struct kevent *e;
	int len, ret;

	if (!k || !spec || k->enabled)
		return -EINVAL;
	if (k->n_ev == k->room) {
		int room = k->room ? 2 * k->room : 64;
		struct kevent *ev = realloc(k->ev, (size_t)room * sizeof(*ev));

		if (!ev)
			return -ENOMEM;
		k->ev = ev;
		k->room = room;
	}
	if (k->opts.counting)
		return add_counter(k, spec, id);
	snprintf(name, sizeof(name), "e%u", id);
	len = trace_kernel_line(spec, k->group, name, 1, small, sizeof(small), &err);
	if (len < 0)
		return len;
	if ((size_t)len >= sizeof(small)) { /* resolved again: rare (many fetch-args) */
		line = malloc((size_t)len + 1);
		if (!line)
			return -ENOMEM;
		trace_kernel_line(spec, k->group, name, 1, line, (size_t)len + 1, &err);
	}
	ret = kgroup_create(k, line);
	if (line != small)
		free(line);
	if (ret)
		return ret;
	e = &k->ev[k->n_ev];
	*e = (struct kevent){ .spec = spec, .id = id, .is_ret = spec->kind == TRACE_RETPROBE };
	for (int i = 0; i < spec->n_args; i++)
		if (spec->args[i].fetch.base == TRACE_B_IMMSTR && spec->args[i].fetch.str)
			e->immstr_len += (uint32_t)strlen(spec->args[i].fetch.str);
	e->kid = kgroup_event_id(k, name);
	if (e->kid < 0)
		return e->kid;
	ret = kgroup_layout(k, e, name);
	e->fds = calloc((size_t)k->ncpu, sizeof(int));
	if (!ret && !e->fds)
		ret = -ENOMEM;
	for (int c = 0; e->fds && c < k->ncpu; c++)
		e->fds[c] = -1;
	k->n_ev++; /* freed with the others, also on failure */
	return ret;
}

static int by_kid(const void *a, const void *b)
{
	const struct kevent *x = a, *y = b;

	return (x->kid > y->kid) - (x->kid < y->kid);
}

/* Room for a descriptor per event and CPU: the soft limit raised up to the hard one. */
static void raise_nofile(const struct trace_kernel *k)
{
	struct rlimit r;
	rlim_t need = (rlim_t)k->n_ev * (rlim_t)k->ncpu + 256;

	if (!getrlimit(RLIMIT_NOFILE, &r) && r.rlim_cur < need) {
		r.rlim_cur = need < r.rlim_max ? need : r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

int trace_kernel_enable(struct trace_kernel *k)
{
	int ret;

	if (!k || k->enabled || !k->n_ev)
		return -EINVAL;
	kline_cache_drop();
	qsort(k->ev, (size_t)k->n_ev, sizeof(*k->ev), by_kid);
	raise_nofile(k);
	ret = kread_open(k);
	if (ret) {
		kread_close(k);
		return ret;
	}
	k->enabled = true;
	return 0;
}

/* Hits and losses of event e, summed over the CPUs (counting mode: no losses). */
static void event_counts(const struct trace_kernel *k, const struct kevent *e, uint64_t *hits,
			 uint64_t *lost)
{
	*hits = *lost = 0;
	for (int c = 0; e->fds && c < k->ncpu; c++) {
		uint64_t v[2] = { 0, 0 };
		size_t want = k->opts.counting ? 8 : 16;

		if (e->fds[c] >= 0 && read(e->fds[c], v, want) == (ssize_t)want) {
			*hits += v[0];
			*lost += v[1];
		}
	}
}

int trace_kernel_stats(const struct trace_kernel *k, struct trace_kernel_stats *st)
{
	uint64_t hits, lost;

	if (!k || !st || st->sz < sizeof(*st))
		return -EINVAL;
	st->records = k->records;
	st->lost = 0;
	for (int i = 0; k->enabled && i < k->n_ev; i++) {
		event_counts(k, &k->ev[i], &hits, &lost);
		st->lost += lost;
	}
	st->malformed = k->malformed;
	return 0;
}

int trace_kernel_count(const struct trace_kernel *k, uint32_t id, uint64_t *hits, uint64_t *lost)
{
	uint64_t h, l;

	if (!k || !k->enabled)
		return -EINVAL;
	for (int i = 0; i < k->n_ev; i++) {
		if (k->ev[i].id != id)
			continue;
		event_counts(k, &k->ev[i], &h, &l);
		if (hits)
			*hits = h;
		if (lost)
			*lost = l;
		return 0;
	}
	return -ENOENT;
}

void trace_kernel_free(struct trace_kernel *k)
{
	if (!k)
		return;
	kline_cache_drop();
	kread_close(k);
	kgroup_remove(k);
	for (int i = 0; i < k->n_ev; i++) {
		free(k->ev[i].koff);
		free(k->ev[i].ksize);
		free(k->ev[i].fds);
		free(k->ev[i].path);
	}
	for (size_t i = k->batch_pos; k->batch && i < k->batch_room; i++)
		free(k->batch[i].raw);
	free(k->batch);
	free(k->ev);
	free(k->rings);
	free(k);
}
