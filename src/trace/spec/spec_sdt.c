/* SPDX-License-Identifier: MIT */
/*
 * The SDT marker forms of a probe's location:
 *
 *   sdt:PROVIDER:NAME            the marker in the process's executable or a
 *                                library it loaded (exactly one file may have it)
 *   usdt:PATH:PROVIDER:NAME      bpftrace's form: the marker in PATH (a path, or
 *                                a short name like "libc" or "python3.11")
 *
 * They stand where PATH:OFFSET does: alone ("sdt:python:gc__start"), after
 * "p:" ("p:sdt:python:gc__start") or after "p:[GRP/]EVENT". The event is
 * named after the marker and grouped under its provider unless the line
 * names them (the provider when it is a valid group name). Only the names
 * are read here; trace_spec_resolve_sdt() (usdt.c) finds the marker and its
 * arguments. A return probe on a marker is refused: a marker is a place,
 * not a function.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/spec/parse.h"

bool spec_is_sdt(const char *word)
{
	return !strncmp(word, "sdt:", 4) || !strncmp(word, "usdt:", 5);
}

/* A provider or marker name: what <sys/sdt.h> pastes into C identifiers. */
static bool sdt_name_ok(const char *s)
{
	return *s && spec_good_name(s);
}

int spec_parse_sdt(struct spec_ctx *cx, char *word)
{
	struct trace_spec *spec = cx->spec;
	bool usdt = word[0] == 'u';
	char *rest = word + (usdt ? 5 : 4), *name, *prov;

	if (spec->kind == TRACE_RETPROBE)
		return spec_fail_str(cx, SE_SDT_RETPROBE, word);
	name = strrchr(rest, ':');
	if (!name)
		return spec_fail_str(cx, SE_BAD_SDT, word);
	*name++ = 0;
	prov = usdt ? strrchr(rest, ':') : rest;
	if (usdt && (!prov || prov == rest)) {
		name[-1] = ':'; /* restore the token for the message */
		return spec_fail_str(cx, SE_BAD_SDT, word);
	}
	if (usdt)
		*prov++ = 0;
	/* "*": any provider (bpftrace's usdt:PATH:NAME); the name must be in one only */
	if ((!sdt_name_ok(prov) && strcmp(prov, "*")) || !sdt_name_ok(name) ||
	    strlen(name) >= TRACE_MAX_EVENT_NAME) {
		name[-1] = ':';
		if (usdt)
			prov[-1] = ':';
		return spec_fail_str(cx, SE_BAD_SDT, word);
	}
	spec->sdt_provider = strdup(prov);
	spec->sdt_name = strdup(name);
	spec->path = usdt ? strdup(rest) : NULL;
	if (!spec->sdt_provider || !spec->sdt_name || (usdt && !spec->path))
		return -ENOMEM;
	if (strcmp(prov, "*") && strlen(prov) < sizeof(spec->group))
		snprintf(spec->group, sizeof(spec->group), "%s", prov);
	return 0;
}
