// SPDX-License-Identifier: MIT
/*
 * Attach points: "uprobe:PATH:FUNC[+OFF]", "u:", "uretprobe:", "ur:", "usdt:",
 * "BEGIN", "END", "interval:s|ms|us|hz:N". bpftrace's kernel probe kinds are
 * refused by name with the reason; PATH may be a library's short name
 * ("libc"), resolved when the probes are attached, as trace specs are.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"

static const struct {
	const char *name, *alias, *why;
} refused[] = {
	{"kprobe", "k", "kernel functions"},
	{"kretprobe", "kr", "kernel functions"},
	{"tracepoint", "t", "kernel tracepoints"},
	{"rawtracepoint", "rt", "kernel tracepoints"},
	{"kfunc", "f", "kernel functions"},
	{"kretfunc", "fr", "kernel functions"},
	{"software", "s", "kernel software events"},
	{"hardware", "h", "hardware counters, through the kernel"},
	{"profile", "p", "every CPU, sampled by the kernel"},
	{"watchpoint", "w", "hardware watchpoints, set by the kernel"},
	{"asyncwatchpoint", "aw", "hardware watchpoints, set by the kernel"},
	{"iter", "it", "kernel objects"},
};

void lang_attach_free(struct lang_attach *at)
{
	free(at->text);
	free(at->target);
	free(at->func);
	free(at->provider);
	memset(at, 0, sizeof(*at));
}

static int bad(struct lang_src *src, struct lang_pos pos, const char *fmt, const char *arg)
{
	lang_error(src, pos, fmt, arg);
	return -EINVAL;
}

static int parse_interval(struct lang_src *src, const char *rest, struct lang_pos pos,
			  struct lang_attach *at)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {{"s", 1000000000ull}, {"ms", 1000000ull}, {"us", 1000ull}, {"hz", 0}};
	const char *colon = strchr(rest, ':');
	if (!colon)
		return bad(src, pos, "interval probe requires a unit and a period: %s", at->text);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strlen(units[i].unit) != (size_t)(colon - rest) ||
		    strncmp(rest, units[i].unit, (size_t)(colon - rest)))
			continue;
		char *end;
		errno = 0;
		unsigned long long n = strtoull(colon + 1, &end, 10);
		if (!isdigit((unsigned char)colon[1]) || *end || errno || !n || n > 1000000000ull)
			return bad(src, pos, "interval probe has an invalid period: %s", colon + 1);
		at->kind = P_INTERVAL;
		at->interval_ns = units[i].ns ? n * units[i].ns : 1000000000ull / n;
		if (!at->interval_ns)
			at->interval_ns = 1;
		return 0;
	}
	return bad(src, pos, "Invalid rate of interval probe: %s", at->text);
}

/* "PATH:FUNC[+OFF]" or "FUNC" (the command's binary). */
static int parse_uprobe(struct lang_src *src, const char *rest, struct lang_pos pos,
			struct lang_attach *at)
{
	const char *colon = strrchr(rest, ':');
	const char *func = colon ? colon + 1 : rest;
	at->target = colon ? strndup(rest, (size_t)(colon - rest)) : strdup("");
	const char *plus = strchr(func, '+');
	at->func = plus ? strndup(func, (size_t)(plus - func)) : strdup(func);
	if (!at->func || !at->target)
		return -ENOMEM;
	if (!*at->func)
		return bad(src, pos, "uprobe probe needs a function: %s", at->text);
	if (plus) {
		char *end;
		errno = 0;
		at->offset = strtoull(plus + 1, &end, 0);
		if (!isdigit((unsigned char)plus[1]) || *end || errno)
			return bad(src, pos, "Invalid offset: %s", plus + 1);
		if (at->kind == P_URETPROBE)
			return bad(src, pos, "uretprobe cannot have an offset: %s", at->text);
		if (strchr(at->func, '*'))
			return bad(src, pos, "a function glob cannot have an offset: %s", at->text);
	}
	if (colon && !*at->target)
		return bad(src, pos, "uprobe probe has an empty path: %s", at->text);
	return 0;
}

/* "PATH:[PROVIDER:]NAME". */
static int parse_usdt(struct lang_src *src, const char *rest, struct lang_pos pos,
		      struct lang_attach *at)
{
	const char *c1 = strchr(rest, ':');
	if (!c1)
		return bad(src, pos, "usdt probe needs a path and a probe name: %s", at->text);
	const char *c2 = strchr(c1 + 1, ':');
	at->target = strndup(rest, (size_t)(c1 - rest));
	at->provider = c2 ? strndup(c1 + 1, (size_t)(c2 - c1 - 1)) : strdup("");
	at->func = strdup(c2 ? c2 + 1 : c1 + 1);
	if (!at->target || !at->provider || !at->func)
		return -ENOMEM;
	if (!*at->func || !*at->target)
		return bad(src, pos, "usdt probe needs a path and a probe name: %s", at->text);
	return 0;
}

int lang_attach_parse(struct lang_src *src, const char *text, struct lang_pos pos,
		      struct lang_attach *at)
{
	memset(at, 0, sizeof(*at));
	at->text = strdup(text);
	at->pos = pos;
	if (!at->text)
		return -ENOMEM;
	if (!strcmp(text, "BEGIN") || !strcmp(text, "END")) {
		at->kind = text[0] == 'B' ? P_BEGIN : P_END;
		return 0;
	}
	const char *colon = strchr(text, ':');
	size_t n = colon ? (size_t)(colon - text) : strlen(text);
	const char *rest = colon ? colon + 1 : "";
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if ((strlen(refused[i].name) == n && !strncmp(text, refused[i].name, n)) ||
		    (strlen(refused[i].alias) == n && !strncmp(text, refused[i].alias, n))) {
			lang_error(src, pos,
				   "%s probes are not supported: they trace %s (use bpftrace or "
				   "perf); uprobe traces user space",
				   refused[i].name, refused[i].why);
			return -ENOTSUP;
		}
	}
#define IS(s) (strlen(s) == n && !strncmp(text, s, n))
	if (IS("uprobe") || IS("u") || IS("uretprobe") || IS("ur")) {
		at->kind = IS("uretprobe") || IS("ur") ? P_URETPROBE : P_UPROBE;
		if (!*rest)
			return bad(src, pos, "uprobe probe needs a function: %s", text);
		return parse_uprobe(src, rest, pos, at);
	}
	if (IS("usdt") || IS("U"))
		return at->kind = P_USDT, parse_usdt(src, rest, pos, at);
	if (IS("interval") || IS("i"))
		return parse_interval(src, rest, pos, at);
#undef IS
	return bad(src, pos, "Invalid probe type: %s", text);
}
