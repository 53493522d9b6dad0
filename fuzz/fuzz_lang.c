/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the language (src/lang): any input is a program. A
 * refused one must come back with diagnostics in bpftrace's shape (each
 * message "stdin:L:C-E: ERROR|WARNING: ...", then its source line and a ~
 * line, C < E)
 * and no plan; an accepted one must have a plan that passes the verifier, and
 * every probe's plan is run against a stub environment. Then the plan is
 * mutated (one instruction field changed, chosen by the input's hash): if
 * the verifier accepts the mutant, running it must stay inside the frame
 * (AddressSanitizer watches). Any breach abort()s. Built by `make fuzz`.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lang/program.h"

static int stub_get(void *ctx, unsigned map, const void *key, void *val)
{
	(void)ctx, (void)map, (void)key, (void)val;
	return -ENOENT;
}
static int stub_set(void *ctx, unsigned map, const void *key, const void *val)
{
	(void)ctx, (void)map, (void)key, (void)val;
	return 0;
}
static int stub_agg(void *ctx, unsigned map, const void *key, enum lang_map_kind k, int64_t v)
{
	(void)ctx, (void)map, (void)key, (void)k, (void)v;
	return 0;
}
static int stub_del(void *ctx, unsigned map, const void *key)
{
	(void)ctx, (void)map, (void)key;
	return 0;
}
static int stub_add(void *ctx, unsigned map, const void *key, int64_t d, int64_t *out)
{
	(void)ctx, (void)map, (void)key;
	*out = d;
	return 0;
}
static int stub_emit(void *ctx, enum lang_emit what, uint32_t id, int64_t imm, const void *data,
		     uint32_t len)
{
	(void)ctx, (void)what, (void)id, (void)imm;
	volatile uint8_t sum = 0;
	for (uint32_t i = 0; i < len; i++) /* every byte must be readable */
		sum += ((const uint8_t *)data)[i];
	(void)sum;
	return 0;
}
static long stub_read(void *ctx, uint64_t addr, char *dst, uint32_t len)
{
	(void)ctx, (void)addr;
	memset(dst, 'a', len - 1);
	dst[len - 1] = 0;
	return len - 1;
}
static int stub_take(void *ctx, unsigned map, const void *key, int64_t *val)
{
	(void)ctx, (void)map, (void)key;
	*val = 0; /* as stub_get: never there */
	return -ENOENT;
}
static const struct lang_env_ops stub_ops = { stub_get,	 stub_set,  stub_agg,  stub_del,
					      stub_add,	 stub_emit, stub_read, stub_take };

static void check_diag(const char *d)
{
	if (!*d)
		abort();
	while (*d) {
		int line, col, end, n = 0;
		char kind[8];
		if (sscanf(d, "stdin:%d:%d-%d: %7[A-Z]: %n", &line, &col, &end, kind, &n) != 4 || !n ||
		    line < 1 || col < 1 || end <= col || (strcmp(kind, "ERROR") && strcmp(kind, "WARNING")))
			abort();
		for (int i = 0; i < 3; i++) { /* message, source line, ~ line */
			d = strchr(d, '\n');
			if (!d)
				abort();
			d++;
		}
	}
}

static void run_all(const struct plan *pl)
{
	uint64_t args[6] = { 1, 2, 3, 4, 5, 6 };
	struct lang_env env = { .ops = &stub_ops, .args = args, .comm = "comm", .func = "f",
				.probe = "p" };
	for (uint32_t i = 0; i < pl->nprobes; i++)
		if (plan_eval(pl, i, &env) < 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	struct lang_program *p = lang_program_new("stdin", text);
	const char *diag;
	if (lang_program_errors(p, &diag)) {
		check_diag(diag);
		if (p->compiled)
			abort();
	} else if (p->compiled) {
		uint32_t bad;
		if (plan_verify(&p->plan, &bad))
			abort();
		run_all(&p->plan);
		uint32_t h = 2166136261u;
		for (size_t i = 0; i < size; i++)
			h = (h ^ data[i]) * 16777619u;
		struct plan_insn *in = &p->plan.code[h % p->plan.ninsns];
		switch ((h >> 16) % 5) {
		case 0: in->op = (uint8_t)(h >> 8); break;
		case 1: in->a = (uint8_t)(h >> 8); break;
		case 2: in->b = (uint16_t)(h >> 8) % 40; break;
		case 3: in->c = (h >> 8) % 80; break;
		default: in->imm = (int64_t)(h >> 4) % 70; break;
		}
		if (!plan_verify(&p->plan, &bad))
			run_all(&p->plan);
	}
	FILE *null = fopen("/dev/null", "w");
	if (null) {
		lang_program_dump(p, null);
		lang_program_dump_plan(p, null);
		fclose(null);
	}
	lang_program_free(p);
	free(text);
	return 0;
}
