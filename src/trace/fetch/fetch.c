/* SPDX-License-Identifier: MIT */
/*
 * Compiling fetch-args: a parsed spec becomes a plan of register indices,
 * constants and dereference offsets (fetch.h), checked once against the
 * probe it belongs to, so that a hit only evaluates.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "arch/arch.h"
#include "sym/sym.h"
#include "trace/fetch/fetch.h"
#include "trace/spec/spec.h"
#include "ubp/ubp.h"
#include "util/ctor.h"
#include "util/log.h"

/* Word index of each register in struct uprobe_regs. */
#define reg_word(r) (arch_trace_regs[r].word)

static void atfork_child(void)
{
	fetch_thread_reset();
}

/* The child of a fork has new thread ids; the hot path caches them. */
UPROBES_CTOR_EARLY static void fetch_init(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static int setup_err;

static void setup(void)
{
	setup_err = ubp_fault_install(arch_safe_read_fault);
}

/*
 * File offset off of path, as an address of this process: through the
 * PT_LOAD segment that holds it, biased like the segment that holds the probe.
 */
int fetch_file_off_addr(const char *path, uint64_t probe_addr, uint64_t probe_off, uint64_t off,
			 uint64_t *addr)
{
	struct sym_load seg[16];
	struct sym_file *f = sym_file_open(path);
	int64_t bias = 0;
	int have_bias = 0, ret = -ERANGE;
	unsigned int n;

	if (!f)
		return -errno;
	n = sym_loads(f, seg, 16);
	for (unsigned int i = 0; i < n && !have_bias; i++)
		if (probe_off >= seg[i].offset && probe_off < seg[i].offset + seg[i].filesz) {
			bias = (int64_t)(probe_addr - (seg[i].vaddr + probe_off - seg[i].offset));
			have_bias = 1;
		}
	for (unsigned int i = 0; i < n && have_bias; i++)
		if (off >= seg[i].offset && off < seg[i].offset + seg[i].filesz) {
			*addr = (uint64_t)bias + seg[i].vaddr + off - seg[i].offset;
			ret = 0;
			break;
		}
	sym_file_close(f);
	return ret;
}

struct compile_ctx {
	const struct trace_spec *spec;
	uint64_t addr, file_off;
	const char *path;
};

static int arg_error(const struct trace_arg *ta, const char *why)
{
	return log_error(-EINVAL, "fetch-arg '%s' (%s): %s", ta->name, ta->text ? ta->text : "",
			 why);
}

/* The base and the dereferences the spec's base implies before its own. */
static int compile_base(const struct compile_ctx *cx, const struct trace_arg *ta,
			struct fetch_arg *a)
{
	const struct trace_fetch *f = &ta->fetch;
	uint64_t n = f->imm;

	a->base_reg = FETCH_IMM;
	switch (f->base) {
	case TRACE_B_REG:
		a->base_reg = reg_word(f->reg);
		return 0;
	case TRACE_B_STACK:
		a->base_reg = reg_word(TRACE_R_SP);
		return 0;
	case TRACE_B_STACKN:
		a->base_reg = reg_word(TRACE_R_SP);
		a->deref[a->n_deref++] = (int64_t)(8 * n);
		return 0;
	case TRACE_B_RETVAL:
		if (cx->spec->kind != TRACE_RETPROBE)
			return arg_error(ta, "$retval is only available in return probes");
		a->base_reg = reg_word(ARCH_TRACE_R_RETVAL);
		return 0;
	case TRACE_B_ARGN:
		if (cx->spec->kind == TRACE_RETPROBE)
			return arg_error(ta, "$argN is only available at function entry");
		if (n >= 1 && n <= ARCH_ARG_REGS) {
			a->base_reg = reg_word(arch_arg_regs[n - 1]);
		} else {
			a->base_reg = reg_word(TRACE_R_SP);
			a->deref[a->n_deref++] = (int64_t)(8 * ARCH_STACK_ARG_SLOT(n));
		}
		return 0;
	case TRACE_B_ADDR:
	case TRACE_B_IMM:
		a->imm = n;
		return 0;
	case TRACE_B_FILEOFF:
		if (fetch_file_off_addr(cx->path, cx->addr, cx->file_off, n, &a->imm))
			return arg_error(ta, "file offset not in any loaded segment of the file");
		return 0;
	case TRACE_B_COMM:
	case TRACE_B_IMMSTR:
		return 0;
	case TRACE_B_DWARF:
		return arg_error(ta, "a DWARF expression; trace_spec_resolve_dwarf() it first");
	case TRACE_B_USTACK: /* fetch_ustack_compile() */
		break;
	}
	return arg_error(ta, "unknown base");
}

static int compile_kind(const struct trace_arg *ta, struct fetch_arg *a)
{
	bool string = trace_type_is_string(ta->type);

	a->size = (uint8_t)trace_type_size(ta->type);
	a->sign = trace_type_is_signed(ta->type);
	a->count = (uint16_t)(ta->array_len ? ta->array_len : 1);
	if (ta->fetch.base == TRACE_B_COMM || ta->fetch.base == TRACE_B_IMMSTR) {
		if (!string || ta->array_len)
			return arg_error(ta, "$comm and immediate strings are strings");
		a->kind = ta->fetch.base == TRACE_B_COMM ? FK_COMM : FK_IMMSTR;
		if (a->kind == FK_IMMSTR) { /* the plan outlives the spec */
			a->str = strndup(ta->fetch.str ? ta->fetch.str : "", TRACE_MAX_STRING - 1);
			if (!a->str)
				return -ENOMEM;
			a->str_len = (uint32_t)strlen(a->str);
		}
		return 0;
	}
	if (string && ta->array_len)
		return arg_error(ta, "arrays of strings are not supported");
	if (ta->is_bitfield && ta->array_len)
		return arg_error(ta, "arrays of bitfields are not supported");
	if ((string || ta->array_len) && !a->n_deref)
		return arg_error(ta, "strings and arrays need a memory reference");
	a->kind = string ? FK_STRING : ta->array_len ? FK_ARRAY : FK_INT;
	if (ta->is_bitfield) {
		if (ta->bf_width == 0 || ta->bf_offset + ta->bf_width > a->size * 8)
			return arg_error(ta, "bitfield does not fit its container");
		a->bf_lshift = (uint8_t)(64 - ta->bf_offset - ta->bf_width);
		a->bf_rshift = (uint8_t)(64 - ta->bf_width);
		a->sign = 0;
	}
	return 0;
}

static int compile_arg(const struct compile_ctx *cx, const struct trace_arg *ta,
		       const struct trace_field *fl, struct fetch_arg *a)
{
	int ret;

	a->field_off = fl->offset;
	if (ta->fetch.base == TRACE_B_USTACK)
		return fetch_ustack_compile(cx->spec, ta, cx->path, cx->file_off, a);
	ret = compile_base(cx, ta, a);
	if (ret)
		return ret;
	if (a->n_deref + ta->fetch.n_deref > TRACE_MAX_DEREF + 1)
		return arg_error(ta, "too many dereferences");
	for (int i = 0; i < ta->fetch.n_deref; i++)
		a->deref[a->n_deref++] = ta->fetch.deref[i];
	return compile_kind(ta, a);
}

struct fetch_plan *fetch_compile(const struct trace_spec *spec, uint64_t addr, const char *path,
				 uint64_t file_off)
{
	struct compile_ctx cx = { spec, addr, file_off, path };
	struct trace_layout *lay = malloc(sizeof(*lay));
	struct fetch_plan *plan = NULL;
	bool reads_memory = false;
	int ret = -ENOMEM;

	if (!lay)
		goto out;
	ret = trace_layout_of(spec, lay);
	if (ret)
		goto out;
	plan = calloc(1, sizeof(*plan) + (size_t)spec->n_args * sizeof(plan->args[0]));
	ret = -ENOMEM;
	if (!plan)
		goto out;
	plan->n_args = spec->n_args;
	plan->bitmap_len = lay->bitmap_len;
	plan->fixed_len = lay->fixed_len;
	for (int i = 0; i < spec->n_args; i++) {
		ret = compile_arg(&cx, &spec->args[i], &lay->fields[i], &plan->args[i]);
		if (ret)
			goto out;
		if (plan->args[i].kind >= FK_STRING)
			plan->has_dynamic = 1;
		reads_memory |= plan->args[i].n_deref > 0;
	}
	ret = 0;
	if (reads_memory) { /* own SIGSEGV/SIGBUS only when a read can fault */
		pthread_once(&setup_once, setup);
		if (setup_err)
			ret = log_error(setup_err, "cannot install the fault handler for fetch-args");
	}
out:
	free(lay);
	if (ret) {
		fetch_plan_free(plan);
		errno = -ret;
		return NULL;
	}
	return plan;
}

bool fetch_plan_reads_flags(const struct fetch_plan *plan)
{
	for (int i = 0; plan && i < plan->n_args; i++) {
		const struct fetch_arg *a = &plan->args[i];

		if (a->kind != FK_IMMSTR && a->kind != FK_COMM && a->kind != FK_USTACK &&
		    a->base_reg == reg_word(ARCH_TRACE_R_FLAGS))
			return true;
	}
	return false;
}

void fetch_plan_free(struct fetch_plan *plan)
{
	if (!plan)
		return;
	for (int i = 0; i < plan->n_args; i++) {
		free((char *)plan->args[i].str);
		if (plan->args[i].kind == FK_USTACK)
			fetch_ustack_release();
	}
	free(plan);
}
