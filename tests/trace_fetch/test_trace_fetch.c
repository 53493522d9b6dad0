/* SPDX-License-Identifier: MIT */
/*
 * Fetch-args end to end: each case attaches trace events given as text to
 * the functions of targets.c, calls them with data whose values the test
 * knows, reads the records back through a consumer of the session's memfd
 * and checks every field: every type, nested dereferences, strings, arrays,
 * bitfields, $stackN, $argN, $comm, $retval, @ADDR, @+FILEOFF, immediates,
 * and NULL / unmapped / freed pointers giving a fault with the program
 * unharmed (its own SIGSEGV handler still works).
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "uprobes_trace.h"
#include "targets.h"

TL_DEFINE("trace_fetch");

#define MAX_RECS 64

struct got {
	struct trace_record r;
	char comm[16];
	uint8_t data[8192];
};

struct ev {
	struct trace_spec *spec;
	struct trace_layout lay;
	struct trace_event *e;
};

static char exe[PATH_MAX];
static struct trace_session *sess;
static struct trace_consumer *cons;
static struct got recs[MAX_RECS];
static int n_recs;
static uint32_t next_id;
static unsigned int attach_flags; /* uprobe flags of the next attach */

uint64_t g_counter = 0xfeedface12345678ull;

static int collect(const struct trace_record *rec, void *ctx)
{
	struct got *g = &recs[n_recs < MAX_RECS ? n_recs : MAX_RECS - 1];

	(void)ctx;
	g->r = *rec;
	snprintf(g->comm, sizeof(g->comm), "%s", rec->comm ? rec->comm : "");
	memcpy(g->data, rec->data, rec->data_len < sizeof(g->data) ? rec->data_len : sizeof(g->data));
	g->r.data = g->data;
	n_recs++;
	return 0;
}

static void drain(void)
{
	n_recs = 0;
	while (trace_consumer_poll(cons, 0, collect, NULL) > 0)
		;
}

/* Parse and attach one spec (printf-style); the case fails when either step does. */
static int attach(struct ev *ev, const char *fmt, ...)
{
	struct trace_error err = { 0 };
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	memset(ev, 0, sizeof(*ev));
	ev->spec = trace_spec_parse(line, &err);
	if (!ev->spec) {
		TL_FAIL("parse '%s': column %d: %s", line, err.column, err.msg);
		return -1;
	}
	if (trace_layout_of(ev->spec, &ev->lay)) {
		TL_FAIL("layout of '%s'", line);
		return -1;
	}
	{
		struct trace_event_opts o = { .sz = sizeof(o), .flags = attach_flags };

		ev->e = trace_event_attach_opts(sess, ev->spec, next_id++, &o);
	}
	if (!ev->e) {
		TL_FAIL("attach '%s': %s", line, uprobe_last_error());
		return -1;
	}
	drain();
	return 0;
}

static void detach(struct ev *ev)
{
	trace_event_free(ev->e);
	trace_spec_free(ev->spec);
	memset(ev, 0, sizeof(*ev));
}

static int field_index(const struct ev *ev, const char *name)
{
	for (int i = 0; i < ev->lay.n_fields; i++)
		if (!strcmp(ev->lay.fields[i].name, name))
			return i;
	TL_FAIL("no field %s", name);
	return 0;
}

static int faulted(const struct ev *ev, const struct got *g, const char *name)
{
	int i = field_index(ev, name);

	return (int)(((const uint64_t *)g->data)[i / 64] >> (i % 64) & 1);
}

static uint64_t val(const struct ev *ev, const struct got *g, const char *name)
{
	int i = field_index(ev, name);
	uint64_t v;

	if (faulted(ev, g, name))
		TL_FAIL("field %s faulted", name);
	memcpy(&v, g->data + ev->lay.fields[i].offset, 8);
	return v;
}

static const uint8_t *elems(const struct ev *ev, const struct got *g, const char *name)
{
	return g->data + ev->lay.fields[field_index(ev, name)].offset;
}

/* A string field as a C string (static buffer), or "(fault)". */
static const char *str(const struct ev *ev, const struct got *g, const char *name)
{
	static char buf[4][4200];
	static int k;
	uint32_t loc[2];
	char *b = buf[k++ % 4];

	if (faulted(ev, g, name))
		return "(fault)";
	memcpy(loc, g->data + ev->lay.fields[field_index(ev, name)].offset, 8);
	if (loc[0] + loc[1] > g->r.data_len) {
		TL_FAIL("string %s out of the record: %u+%u > %u", name, loc[0], loc[1],
			g->r.data_len);
		return "";
	}
	memcpy(b, g->data + loc[0], loc[1]);
	b[loc[1]] = 0;
	return b;
}

static struct t_data data, data2, data3;

static void init_data(void)
{
	memset(&data, 0, sizeof(data));
	data = (struct t_data){
		.u8 = 0xab, .u16 = 0xbeef, .u32 = 0x12345678, .u64 = 0x0102030405060708ull,
		.s8 = -7, .s16 = -300, .s32 = -70000, .s64 = -5000000000ll, .flags = 0xb6,
		.arr = { 1, 0xffff, 3, 0x8000 }, .name = "the name", .next = &data2,
	};
	strcpy(data.inline_text, "inline");
	data2 = (struct t_data){ .u64 = 0x2222222222222222ull, .next = &data3, .name = "two" };
	data3 = (struct t_data){ .u64 = 0x3333333333333333ull, .s32 = -3 };
}

#define OFF(f) (int)offsetof(struct t_data, f)

static void one_record(int want)
{
	drain();
	if (n_recs != want)
		TL_FAIL("%d records, want %d", n_recs, want);
}

static void registers_and_stack(void)
{
	struct ev ev;
	uint64_t r;

	init_data();
	if (attach(&ev, "p:test/regs %s:t_ints a=%%di:u64 b=%%si:s64 b32=%%si:s32 b8=%%si:s8 "
			"bu8=%%si:u8 bx=%%si:x16 dflt=%%di ip=%%ip sp=%%sp st=$stack st0=$stack0 "
			"fl=%%flags d=%%dx",
		   exe))
		return;
	r = t_ints(0x1122334455667788ull, -5, &data);
	one_record(1);
	CHECK_EQ_U64(r, 0x1122334455667788ull - 5 + data.u64);
	if (n_recs == 1) {
		struct got *g = &recs[0];

		CHECK_EQ_U64(g->r.event_id, next_id - 1);
		CHECK_EQ_U64(g->r.flags, 0);
		CHECK_EQ_U64(g->r.pid, (uint64_t)getpid());
		CHECK_EQ_U64(g->r.tid, (uint64_t)gettid());
		CHECK_STR(g->comm, "fetchtest");
		CHECK_EQ_U64(g->r.ip, (uint64_t)(uintptr_t)t_ints);
		CHECK_EQ_U64(val(&ev, g, "a"), 0x1122334455667788ull);
		CHECK_EQ_U64(val(&ev, g, "b"), (uint64_t)-5);
		CHECK_EQ_U64(val(&ev, g, "b32"), (uint64_t)-5);
		CHECK_EQ_U64(val(&ev, g, "b8"), (uint64_t)-5);
		CHECK_EQ_U64(val(&ev, g, "bu8"), 0xfb);
		CHECK_EQ_U64(val(&ev, g, "bx"), 0xfffb);
		CHECK_EQ_U64(val(&ev, g, "dflt"), 0x1122334455667788ull);
		CHECK_EQ_U64(val(&ev, g, "ip"), (uint64_t)(uintptr_t)t_ints);
		CHECK_EQ_U64(val(&ev, g, "sp"), seen_entry_sp);
		CHECK_EQ_U64(val(&ev, g, "st"), seen_entry_sp);
		CHECK_EQ_U64(val(&ev, g, "st0"), seen_ret_addr);
		CHECK_EQ_U64(val(&ev, g, "fl") & 0x202, 0x202); /* reserved bit 1, IF */
		CHECK_EQ_U64(val(&ev, g, "d"), (uint64_t)(uintptr_t)&data);
		CHECK(g->r.ts_ns > 0);
	}
	detach(&ev);
}

/*
 * %flags at a jump-optimized function entry: the caller's flags (CF set by
 * t_flags_cf), not the 0x202 a probe attached with UPROBE_F_HANDLER_NO_FLAGS
 * sees (the trace layer passes it only when no fetch-arg reads %flags).
 */
static void flags_at_entry(void)
{
	struct uprobe_info info = { .sz = sizeof(info) };
	struct ev ev;

	if (attach(&ev, "p:test/fl %s:t_flags fl=%%flags", exe))
		return;
	CHECK_EQ_INT(uprobe_get_info(trace_event_probe(ev.e), &info), 0);
	CHECK_EQ_INT(info.mode, UPROBE_MODE_OPTIMIZED);
	CHECK_EQ_INT(t_flags_cf(5), 16);
	CHECK_EQ_INT(t_flags(5), 16); /* CF as the compiler left it */
	drain();
	CHECK_EQ_INT(n_recs, 2);
	if (n_recs >= 1) {
		CHECK_EQ_U64(val(&ev, &recs[0], "fl") & 0x203, 0x203); /* CF, bit 1, IF */
	}
	detach(&ev);
	if (attach(&ev, "p:test/nofl %s:t_flags x=%%di:s32", exe)) /* no %%flags: still right */
		return;
	CHECK_EQ_INT(t_flags_cf(7), 22);
	one_record(1);
	if (n_recs == 1)
		CHECK_EQ_U64(val(&ev, &recs[0], "x"), 7);
	detach(&ev);
}

static void memory_types(void)
{
	struct ev ev;

	init_data();
	if (attach(&ev, "p:test/mem %s:t_ints u8=+%d(%%dx):u8 u16=+%d(%%dx):u16 u32=+%d(%%dx):u32 "
			"u64=+%d(%%dx):u64 s8=+%d(%%dx):s8 s16=+%d(%%dx):s16 s32=+%d(%%dx):s32 "
			"s64=+%d(%%dx):s64 x8=+%d(%%dx):x8 x16=+%d(%%dx):x16 x32=+%d(%%dx):x32 "
			"x64=+%d(%%dx):x64 c=+%d(%%dx):char neg=-%d(%%di):u8",
		   exe, OFF(u8), OFF(u16), OFF(u32), OFF(u64), OFF(s8), OFF(s16), OFF(s32), OFF(s64),
		   OFF(u8), OFF(u16), OFF(u32), OFF(u64), OFF(inline_text), OFF(u64) - OFF(u8)))
		return;
	t_ints((uint64_t)(uintptr_t)&data.u64, 2, &data);
	one_record(1);
	if (n_recs == 1) {
		struct got *g = &recs[0];

		CHECK_EQ_U64(val(&ev, g, "u8"), 0xab);
		CHECK_EQ_U64(val(&ev, g, "u16"), 0xbeef);
		CHECK_EQ_U64(val(&ev, g, "u32"), 0x12345678);
		CHECK_EQ_U64(val(&ev, g, "u64"), 0x0102030405060708ull);
		CHECK_EQ_U64(val(&ev, g, "s8"), (uint64_t)-7);
		CHECK_EQ_U64(val(&ev, g, "s16"), (uint64_t)-300);
		CHECK_EQ_U64(val(&ev, g, "s32"), (uint64_t)-70000);
		CHECK_EQ_U64(val(&ev, g, "s64"), (uint64_t)-5000000000ll);
		CHECK_EQ_U64(val(&ev, g, "x8"), 0xab);
		CHECK_EQ_U64(val(&ev, g, "x16"), 0xbeef);
		CHECK_EQ_U64(val(&ev, g, "x32"), 0x12345678);
		CHECK_EQ_U64(val(&ev, g, "x64"), 0x0102030405060708ull);
		CHECK_EQ_U64(val(&ev, g, "c"), 'i');
		CHECK_EQ_U64(val(&ev, g, "neg"), 0xab);
	}
	detach(&ev);
}

static void nested_strings_arrays_bitfields(void)
{
	struct ev ev;

	init_data();
	if (attach(&ev, "p:test/nest %s:t_ints n1=+%d(+%d(%%dx)):u64 n2=+%d(+%d(+%d(%%dx))):s32 "
			"name=+0(+%d(%%dx)):string uname=+0(+%d(%%dx)):ustring "
			"inl=+%d(%%dx):string arr=+%d(%%dx):u16[4] sarr=+%d(%%dx):s16[2] "
			"chars=+%d(%%dx):char[3] bf1=+%d(%%dx):b3@2/8 bf2=+%d(%%dx):b4@4/8 "
			"bf3=+%d(%%dx):b12@8/32",
		   exe, OFF(u64), OFF(next), OFF(s32), OFF(next), OFF(next), OFF(name), OFF(name),
		   OFF(inline_text), OFF(arr), OFF(arr) + 2, OFF(inline_text), OFF(flags),
		   OFF(flags), OFF(u32)))
		return;
	t_ints(0, 0, &data);
	one_record(1);
	if (n_recs == 1) {
		struct got *g = &recs[0];
		const uint8_t *a = elems(&ev, g, "arr"), *sa = elems(&ev, g, "sarr");
		uint16_t arr[4];
		int16_t sarr[2];

		CHECK_EQ_U64(val(&ev, g, "n1"), 0x2222222222222222ull);
		CHECK_EQ_U64(val(&ev, g, "n2"), (uint64_t)-3);
		CHECK_STR(str(&ev, g, "name"), "the name");
		CHECK_STR(str(&ev, g, "uname"), "the name");
		CHECK_STR(str(&ev, g, "inl"), "inline");
		memcpy(arr, a, sizeof(arr));
		memcpy(sarr, sa, sizeof(sarr));
		CHECK_EQ_U64(arr[0], 1);
		CHECK_EQ_U64(arr[1], 0xffff);
		CHECK_EQ_U64(arr[2], 3);
		CHECK_EQ_U64(arr[3], 0x8000);
		CHECK_EQ_INT(sarr[0], -1);
		CHECK_EQ_INT(sarr[1], 3);
		CHECK(!memcmp(elems(&ev, g, "chars"), "inl", 3));
		CHECK_EQ_U64(val(&ev, g, "bf1"), (0xb6 >> 2) & 7);
		CHECK_EQ_U64(val(&ev, g, "bf2"), (0xb6 >> 4) & 15);
		CHECK_EQ_U64(val(&ev, g, "bf3"), (0x12345678 >> 8) & 0xfff);
	}
	detach(&ev);
}

static void args_and_stack_words(void)
{
	struct ev ev;
	uint64_t r;

	if (attach(&ev, "p:test/args %s:t_args8 a1=$arg1 a2=$arg2 a3=$arg3 a4=$arg4 a5=$arg5 "
			"a6=$arg6 a7=$arg7 a8=$arg8 s1=$stack1 s2=$stack2",
		   exe))
		return;
	r = t_args8(11, 22, 33, 44, 55, 66, 77, 88);
	one_record(1);
	CHECK_EQ_U64(r, 11ull ^ 22 ^ 33 ^ 44 ^ 55 ^ 66 ^ 77 ^ 88);
	if (n_recs == 1) {
		const uint64_t want[8] = { 11, 22, 33, 44, 55, 66, 77, 88 };
		char name[8];

		for (int i = 0; i < 8; i++) {
			snprintf(name, sizeof(name), "a%d", i + 1);
			CHECK_EQ_U64(val(&ev, &recs[0], name), want[i]);
		}
		CHECK_EQ_U64(val(&ev, &recs[0], "s1"), 77);
		CHECK_EQ_U64(val(&ev, &recs[0], "s2"), 88);
	}
	detach(&ev);
}

/* The file offset of a variable of this executable (its mapping in /proc/self/maps). */
static uint64_t file_offset_of(const void *p)
{
	uint64_t a = (uint64_t)(uintptr_t)p, start, end, off, ret = 0;
	char line[1024], path[512];
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && fgets(line, sizeof(line), f)) {
		path[0] = 0;
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %511s", &start, &end, &off, path) < 3)
			continue;
		if (a >= start && a < end && !strcmp(path, exe))
			ret = a - start + off;
	}
	if (f)
		fclose(f);
	return ret;
}

static void absolute_and_immediates(void)
{
	struct ev ev;
	uint64_t foff = file_offset_of(&g_counter);

	CHECK(foff != 0);
	if (attach(&ev, "p:test/abs %s:t_ints g=@0x%lx:u64 g32=@0x%lx:u32 f=@+0x%lx:x64 "
			"i=\\42 n=\\-1:s32 h=\\0xff:u8 s=\\\"hello_world\" c=$comm",
		   exe, (unsigned long)(uintptr_t)&g_counter, (unsigned long)(uintptr_t)&g_counter,
		   (unsigned long)foff))
		return;
	t_ints(0, 0, NULL);
	g_counter = 7;
	t_ints(0, 0, NULL);
	one_record(2);
	if (n_recs == 2) {
		CHECK_EQ_U64(val(&ev, &recs[0], "g"), 0xfeedface12345678ull);
		CHECK_EQ_U64(val(&ev, &recs[0], "g32"), 0x12345678);
		CHECK_EQ_U64(val(&ev, &recs[0], "f"), 0xfeedface12345678ull);
		CHECK_EQ_U64(val(&ev, &recs[1], "g"), 7);
		CHECK_EQ_U64(val(&ev, &recs[1], "f"), 7);
		CHECK_EQ_U64(val(&ev, &recs[0], "i"), 42);
		CHECK_EQ_U64(val(&ev, &recs[0], "n"), (uint64_t)-1);
		CHECK_EQ_U64(val(&ev, &recs[0], "h"), 0xff);
		CHECK_STR(str(&ev, &recs[0], "s"), "hello_world");
		CHECK_STR(str(&ev, &recs[0], "c"), "fetchtest");
	}
	g_counter = 0xfeedface12345678ull;
	detach(&ev);
}

static void return_values(void)
{
	struct ev ev;
	const char *got[3];

	if (attach(&ev, "r:test/ret %s:t_name s=+0($retval):string r=$retval:x64 r8=$retval:u8",
		   exe))
		return;
	for (int i = 0; i < 3; i++)
		got[i] = t_name(i);
	one_record(3);
	for (int i = 0; i < 3 && n_recs == 3; i++) {
		struct got *g = &recs[i];

		CHECK_EQ_U64(g->r.flags, TRACE_REC_RETURN);
		CHECK_EQ_U64(g->r.func, (uint64_t)(uintptr_t)t_name);
		CHECK(g->r.entry_ts_ns > 0 && g->r.entry_ts_ns <= g->r.ts_ns);
		CHECK_STR(str(&ev, g, "s"), got[i]);
		CHECK_EQ_U64(val(&ev, g, "r"), (uint64_t)(uintptr_t)got[i]);
		CHECK_EQ_U64(val(&ev, g, "r8"), (uint64_t)(uintptr_t)got[i] & 0xff);
	}
	detach(&ev);
}

static sigjmp_buf own_jmp;
static volatile int *volatile bad_ptr = (volatile int *)16;
static volatile int own_faults;

static void own_segv(int sig)
{
	(void)sig;
	own_faults++;
	siglongjmp(own_jmp, 1);
}

/* The program's own fault handling is untouched by ours. */
static void own_handler_still_works(void)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = own_segv;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old);
	own_faults = 0;
	if (!sigsetjmp(own_jmp, 1))
		*bad_ptr = 1;
	CHECK_EQ_INT(own_faults, 1);
	sigaction(SIGSEGV, &old, NULL);
}

static void faults_in(unsigned int flags)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *unmapped = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *two = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t word = 0x10;
	char *volatile freed = malloc(1 << 20); /* above the mmap threshold: free() unmaps it */
	static const uint64_t *pc = &g_counter;
	const void *ptrs[7];
	struct ev ev;

	CHECK(unmapped != MAP_FAILED && two != MAP_FAILED && freed);
	munmap(unmapped, (size_t)page);
	memset(two + page - 3, 'x', 3); /* text without its NUL before an unmapped page */
	munmap(two + page, (size_t)page);
	ptrs[2] = freed;
	free(freed);
	ptrs[0] = NULL;
	ptrs[1] = unmapped;
	ptrs[3] = &word;       /* valid, but +0(+0(...)) follows 0x10 */
	ptrs[4] = two + page - 3;
	ptrs[5] = &pc;	       /* valid all the way */
	ptrs[6] = &g_counter;  /* +0(+0(...)) follows a non-canonical address (#GP) */
	attach_flags = flags;
	if (attach(&ev, "p:test/fault %s:t_ptr v=+0(%%di):u64 s=+0(%%di):string a=+0(%%di):u8[4] "
			"nn=+0(+0(%%di)):u32 ok=%%di",
		   exe))
		goto out;
	for (int i = 0; i < 7; i++)
		CHECK_EQ_INT(t_ptr(ptrs[i]), (long)(uintptr_t)ptrs[i] & 0xff);
	one_record(7);
	for (int i = 0; i < 7 && n_recs == 7; i++) {
		struct got *g = &recs[i];

		CHECK_EQ_U64(val(&ev, g, "ok"), (uint64_t)(uintptr_t)ptrs[i]);
		/* [4]: 3 bytes before an unmapped page, so 4- and 8-byte reads fault too */
		if (faulted(&ev, g, "v") != (i < 3 || i == 4))
			TL_FAIL("pointer %d: v faulted %d", i, faulted(&ev, g, "v"));
		CHECK_EQ_INT(faulted(&ev, g, "a"), i < 3 || i == 4);
		CHECK_EQ_INT(faulted(&ev, g, "nn"), i != 5);
		CHECK_EQ_INT(faulted(&ev, g, "s"), i < 3 || i == 4);
	}
	if (n_recs == 7) {
		CHECK_EQ_U64(val(&ev, &recs[3], "v"), 0x10);
		CHECK_EQ_U64(val(&ev, &recs[5], "v"), (uint64_t)(uintptr_t)&g_counter);
		CHECK_EQ_U64(val(&ev, &recs[5], "nn"), 0x12345678);
		CHECK(!memcmp(elems(&ev, &recs[5], "a"), &pc, 4));
		CHECK_EQ_U64(val(&ev, &recs[6], "v"), 0xfeedface12345678ull);
		CHECK_STR(str(&ev, &recs[4], "s"), "(fault)");
	}
	own_handler_still_works();
	if (ev.e) {
		struct uprobe_info info = { .sz = sizeof(info) };

		CHECK(!uprobe_get_info(trace_event_probe(ev.e), &info));
		CHECK_EQ_INT(info.mode == UPROBE_MODE_OPTIMIZED, !(flags & UPROBE_F_NO_OPTIMIZE));
	}
	detach(&ev);
out:
	attach_flags = 0;
	munmap(two, (size_t)page);
}

/* Jump-optimized: the fault arrives in the probed thread's normal context. */
static void faults(void)
{
	faults_in(0);
}

/* Breakpoint mode: the fault arrives inside the SIGTRAP handler. */
static void faults_int3(void)
{
	faults_in(UPROBE_F_NO_OPTIMIZE);
}

/* A fork child writes into the same rings with its own pid and tid. */
static void fork_child_events(void)
{
	struct ev ev;
	pid_t child;
	int status = -1;

	if (attach(&ev, "p:test/fork %s:t_ints a=%%di", exe))
		return;
	t_ints(1, 0, NULL);
	child = fork();
	if (child == 0) {
		t_ints(2, 0, NULL);
		_exit(0);
	}
	waitpid(child, &status, 0);
	CHECK_EQ_INT(status, 0);
	t_ints(3, 0, NULL);
	one_record(3);
	if (n_recs == 3) {
		uint64_t a[3] = { 0 };
		pid_t pids[3];

		for (int i = 0; i < 3; i++) {
			a[i] = val(&ev, &recs[i], "a");
			pids[i] = (pid_t)recs[i].r.pid;
			if (a[i] == 2) {
				CHECK_EQ_INT(recs[i].r.pid, child);
				CHECK_EQ_INT(recs[i].r.tid, child);
				CHECK_STR(recs[i].comm, "fetchtest");
			} else {
				CHECK_EQ_INT(pids[i], getpid());
				CHECK_EQ_INT(recs[i].r.tid, gettid());
			}
		}
		CHECK_EQ_U64(a[0] + a[1] + a[2], 6);
		CHECK_EQ_U64(a[0] * a[1] * a[2], 6);
	}
	detach(&ev);
}

/* trace_session_detach(): every event out at once, none recording after; each stays, detached. */
static void session_detach(void)
{
	struct ev a, b;

	if (attach(&a, "p:test/da %s:t_ints a=%%di", exe))
		return;
	if (attach(&b, "p:test/db %s:t_ints b=%%si", exe)) {
		detach(&a);
		return;
	}
	t_ints(1, 2, NULL);
	drain();
	CHECK_EQ_INT(n_recs, 2);
	CHECK_EQ_INT(trace_session_detach(sess), 0);
	t_ints(3, 4, NULL);
	drain();
	CHECK_EQ_INT(n_recs, 0);
	CHECK_EQ_INT(trace_event_detach(a.e), -ENOENT);
	CHECK_EQ_INT(trace_event_detach(b.e), -ENOENT);
	detach(&a);
	detach(&b);
}

struct many_errs {
	int n, i[4], err[4];
	char msg[4][256];
};

static void many_error(uint32_t i, int err, const char *msg, void *ctx)
{
	struct many_errs *e = ctx;

	if (e->n < 4) {
		e->i[e->n] = (int)i;
		e->err[e->n] = err;
		snprintf(e->msg[e->n], sizeof(e->msg[0]), "%s", msg);
	}
	e->n++;
}

/*
 * trace_event_attach_many(): the good specs attached with ids first_id + i,
 * a NULL spec left out, each failure (unknown symbol: at the probe pass;
  * @+FILEOFF beyond the file: before it) reported once with its index.
 */
static void attach_many(void)
{
	const char *lines[5] = {
		"p:test/m0 %s:t_ints a=%%di", NULL, "p:test/m2 %s:no_such_function_here",
		"p:test/m3 %s:t_ptr p=%%di", "p:test/m4 %s:t_ints v=@+0x7ffffff0:u64",
	};
	struct trace_spec *specs[5] = { 0 };
	struct trace_event *events[5];
	struct many_errs e = { 0 };
	struct trace_event_batch_opts o = {
		.sz = sizeof(o), .on_error = many_error, .ctx = &e, .first_id = 100,
	};
	struct trace_error err;
	char line[512];
	int got;

	for (int i = 0; i < 5; i++) {
		if (!lines[i])
			continue;
		snprintf(line, sizeof(line), lines[i], exe);
		specs[i] = trace_spec_parse(line, &err);
		if (!specs[i])
			TL_FAIL("parse '%s': %s", line, err.msg);
	}
	got = trace_event_attach_many(sess, (const struct trace_spec *const *)specs, 5, events, &o);
	CHECK_EQ_INT(got, 2);
	CHECK_EQ_INT(o.failed, 2);
	CHECK(events[0] && events[3]);
	CHECK(!events[1] && !events[2] && !events[4]);
	CHECK_EQ_INT(e.n, 2);
	for (int k = 0; k < e.n && k < 2; k++) {
		if (e.i[k] == 2) {
			CHECK_EQ_INT(e.err[k], -ESRCH);
			CHECK(strstr(e.msg[k], "test/m2: ") == e.msg[k]);
			CHECK(strstr(e.msg[k], "no_such_function_here") != NULL);
		} else {
			CHECK_EQ_INT(e.i[k], 4);
			CHECK_EQ_INT(e.err[k], -EINVAL);
			CHECK(strstr(e.msg[k], "test/m4: ") == e.msg[k]);
		}
	}
	drain();
	t_ints(7, 8, NULL);
	t_ptr(&got);
	drain();
	CHECK_EQ_INT(n_recs, 2);
	CHECK_EQ_INT(recs[0].r.event_id + recs[1].r.event_id, 203);
	CHECK(recs[0].r.event_id == 100 || recs[0].r.event_id == 103);
	CHECK_EQ_INT(trace_event_attach_many(NULL, NULL, 0, NULL, NULL), -EINVAL);
	for (int i = 0; i < 5; i++) {
		trace_event_free(events[i]);
		trace_spec_free(specs[i]);
	}
	t_ints(7, 8, NULL);
	drain();
	CHECK_EQ_INT(n_recs, 0);
}

static struct trace_spec *given[3];
static int given_back;

static const struct trace_spec *give_spec(uint32_t i, void *ctx)
{
	(void)ctx;
	return given[i];
}

static void take_spec(uint32_t i, const struct trace_spec *spec, void *ctx)
{
	(void)ctx;
	given_back += spec == given[i];
}

/* trace_event_attach_many() asking for its specs one at a time (spec_get, spec_put). */
static void attach_many_get(void)
{
	struct trace_event *events[3];
	struct many_errs e = { 0 };
	struct trace_event_batch_opts o = {
		.sz = sizeof(o), .on_error = many_error, .ctx = &e, .first_id = 7,
		.spec_get = give_spec, .spec_put = take_spec,
	};
	struct trace_error err;
	char line[512];

	snprintf(line, sizeof(line), "p:test/g0 %s:t_ints a=%%di", exe);
	given[0] = trace_spec_parse(line, &err);
	given[1] = NULL;
	snprintf(line, sizeof(line), "p:test/g2 %s:no_such_function_here", exe);
	given[2] = trace_spec_parse(line, &err);
	given_back = 0;
	CHECK_EQ_INT(trace_event_attach_many(sess, NULL, 3, events, &o), 1);
	CHECK_EQ_INT(given_back, 2);
	CHECK(events[0] && !events[1] && !events[2]);
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.i[0], 2);
	CHECK(strstr(e.msg[0], "test/g2: ") == e.msg[0]);
	drain();
	t_ints(1, 2, NULL);
	drain();
	CHECK_EQ_INT(n_recs, 1);
	CHECK_EQ_INT(recs[0].r.event_id, 7);
	for (int i = 0; i < 3; i++) {
		trace_event_free(events[i]);
		trace_spec_free(given[i]);
	}
}

/* attach_pair's runs: each counts its hits; the entry's calls t_ints once more when asked. */
static uint64_t pair_hits[3];
static int pair_nest;

static void pair_run(void *ctx, const struct uprobe_regs *regs, uint64_t entry_tsc,
		     const uint64_t *args)
{
	(void)regs, (void)entry_tsc, (void)args;
	pair_hits[(uintptr_t)ctx]++;
	if ((uintptr_t)ctx == 0 && pair_nest) {
		pair_nest = 0;
		t_ints(5, 6, NULL); /* a hit inside the handler: skipped */
	}
}

/*
 * attach_pair's batch: an entry and a return event of t_ints whose work is
 * agg.run, and a return event of t_name; with flags, their probes.
 */
static int pair_attach(struct trace_maps *maps, unsigned int flags, struct trace_event *events[3],
		       uint64_t skipped[3])
{
	static const char *lines[3] = { "p:test/pe %s:t_ints", "r:test/pr %s:t_ints",
					"r:test/px %s:t_name" };
	struct trace_event_agg agg[3];
	struct trace_event_opts opts[3];
	struct trace_spec *specs[3];
	struct trace_event_batch_opts o = { .sz = sizeof(o), .opts = opts, .flags = flags };
	struct trace_error err;
	char line[512];
	int got;

	for (int i = 0; i < 3; i++) {
		agg[i] = (struct trace_event_agg){ .maps = maps, .count_map = -1, .filtered_map = -1,
						   .hist_map = -1, .hist_arg = -1, .filter_arg = -1,
						   .run = pair_run, .run_ctx = (void *)(uintptr_t)i };
		opts[i] = (struct trace_event_opts){ .sz = sizeof(opts[i]),
						     .skipped_counter = &skipped[i], .agg = &agg[i] };
		snprintf(line, sizeof(line), lines[i], exe);
		specs[i] = trace_spec_parse(line, &err);
		if (!specs[i])
			TL_FAIL("parse '%s': %s", line, err.msg);
	}
	got = trace_event_attach_many(sess, (const struct trace_spec *const *)specs, 3, events, &o);
	for (int i = 0; i < 3; i++)
		trace_spec_free(specs[i]);
	return got;
}

/*
 * TRACE_BATCH_PAIR: the entry and the return event of t_ints share one
 * probe (the lone return of t_name keeps its own); each event's run sees
 * every call; a hit skipped inside the entry's run counts in both events'
 * skipped counters; detaching either detaches both; they are freed in either
 * order. Without the flag, two probes.
 */
static void attach_pair(void)
{
	struct trace_maps *maps = trace_maps_new(4);
	struct uprobe_info info = { .sz = sizeof(info) };
	struct trace_event *ev[3];
	uint64_t skipped[3] = { 0 };

	CHECK(maps && trace_maps_seal(maps) == 0);
	CHECK_EQ_INT(pair_attach(maps, TRACE_BATCH_PAIR, ev, skipped), 3);
	CHECK(trace_event_probe(ev[0]) == trace_event_probe(ev[1]));
	CHECK(trace_event_probe(ev[2]) != trace_event_probe(ev[0]));
	CHECK_EQ_INT(trace_event_is_return(ev[0]), 0);
	CHECK_EQ_INT(trace_event_is_return(ev[1]), 1);
	memset(pair_hits, 0, sizeof(pair_hits));
	for (int i = 0; i < 10; i++)
		t_ints((uint64_t)i, 1, NULL);
	t_name(0);
	CHECK_EQ_U64(pair_hits[0], 10);
	CHECK_EQ_U64(pair_hits[1], 10);
	CHECK_EQ_U64(pair_hits[2], 1);
	CHECK_EQ_INT(uprobe_get_info(trace_event_probe(ev[1]), &info), 0);
	CHECK_EQ_U64(info.hits, 10);
	CHECK_EQ_U64(info.ret_hits, 10);
	CHECK_EQ_INT(info.has_ret_handler, 1);
	pair_nest = 1;
	t_ints(1, 2, NULL);
	CHECK_EQ_U64(pair_hits[0], 11);
	CHECK_EQ_U64(pair_hits[1], 11);
	CHECK_EQ_U64(skipped[0], 1);
	CHECK_EQ_U64(skipped[1], 1);
	CHECK_EQ_U64(skipped[2], 0);
	CHECK_EQ_INT(trace_event_detach(ev[1]), 0);
	CHECK_EQ_INT(trace_event_detach(ev[0]), -ENOENT);
	t_ints(1, 2, NULL);
	CHECK_EQ_U64(pair_hits[0], 11);
	CHECK_EQ_U64(pair_hits[1], 11);
	trace_event_free(ev[0]); /* the entry first: the return frees the probe */
	trace_event_free(ev[1]);
	trace_event_free(ev[2]);

	/* the session's detach: the shared probe once; the return freed first */
	CHECK_EQ_INT(pair_attach(maps, TRACE_BATCH_PAIR, ev, skipped), 3);
	CHECK(trace_event_probe(ev[0]) == trace_event_probe(ev[1]));
	CHECK_EQ_INT(trace_session_detach(sess), 0);
	t_ints(1, 2, NULL);
	CHECK_EQ_U64(pair_hits[0], 11);
	CHECK_EQ_U64(pair_hits[1], 11);
	for (int i = 3; i-- > 0;)
		trace_event_free(ev[i]);

	/* without the flag: a probe each, as before */
	CHECK_EQ_INT(pair_attach(maps, 0, ev, skipped), 3);
	CHECK(trace_event_probe(ev[0]) != trace_event_probe(ev[1]));
	t_ints(1, 2, NULL);
	CHECK_EQ_U64(pair_hits[0], 12);
	CHECK_EQ_U64(pair_hits[1], 12);
	for (int i = 0; i < 3; i++)
		trace_event_free(ev[i]);
	trace_maps_free(maps);
}

int main(void)
{
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return 1;
	exe[n] = 0;
	prctl(PR_SET_NAME, "fetchtest");
	mallopt(M_MMAP_THRESHOLD, 128 * 1024); /* fixed: a freed 1 MiB block is always unmapped */
	sess = trace_session_new(NULL);
	cons = sess ? trace_consumer_new(trace_session_fd(sess)) : NULL;
	if (!cons) {
		printf("FAIL: trace_fetch/setup: %s\n", uprobe_last_error());
		return 1;
	}
	RUN(registers_and_stack);
	RUN(flags_at_entry);
	RUN(memory_types);
	RUN(nested_strings_arrays_bitfields);
	RUN(args_and_stack_words);
	RUN(absolute_and_immediates);
	RUN(return_values);
	RUN(faults);
	RUN(faults_int3);
	RUN(fork_child_events);
	RUN(session_detach);
	RUN(attach_many);
	RUN(attach_many_get);
	RUN(attach_pair);
	trace_consumer_free(cons);
	trace_session_free(sess);
	return tl_total_failed != 0;
}
