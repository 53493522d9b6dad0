// SPDX-License-Identifier: MIT
// The program whose stacks tests/stack/test_stack_gdb.sh compares with gdb's.
// Built with -O2 -fomit-frame-pointer: no function keeps a frame pointer, so
// only CFI can walk it (bpftrace's ustack, which follows rbp, cannot). Each
// scenario reaches stack_leaf() once, by another road:
//
//   rec     through 5 levels of recursion (rec_down)
//   qsort   from libc's qsort, in its comparison callback (stack_cmp)
//   signal  from a SIGUSR1 handler, through the signal frame (__restore_rt)
//   member  from a C++ member function (Widget::poke)
//   debugf  from a library with .debug_frame and no .eh_frame (libdebugf.so)
//   fp      from a library with no CFI at all, frame pointers only (libfp.so)
//   fpleaf  at fp_leaf() in libfp.so itself: an entry without CFI
//   gapfp   from gap_mid (stack_gap.S): frame pointers, no CFI, in this
//           file, whose other functions have CFI
//   dlopen  from liblate.so, loaded with dlopen after the probes are in
//   thread  from a thread (start_thread, clone3)
//
// The probe (and gdb's breakpoint) is at the first instruction of stack_leaf,
// or of fp_leaf for fpleaf.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <pthread.h>

extern "C" {
int fp_mid(int (*fn)(int), int x);
int fp_leaf(int x);
int debugf_mid(int (*fn)(int), int x);
int gap_mid(int (*fn)(int), int x);
}

static volatile int sink;

extern "C" __attribute__((noinline)) int stack_leaf(int x)
{
	sink = x;
	return x * 3 + 1;
}

// Not a tail call: the result is used after the call returns.
__attribute__((noinline)) static int rec_down(int n)
{
	int r = n ? rec_down(n - 1) : stack_leaf(n);

	sink = r;
	return r + 1;
}

static int stack_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	if (x == 2 && y == 1) // once, whatever the sort's order of comparisons
		sink = stack_leaf(x);
	return (x > y) - (x < y);
}

static void on_usr1(int sig)
{
	sink = stack_leaf(sig) + 1;
}

struct Widget {
	int base;
	__attribute__((noinline)) int poke(int x);
};

int Widget::poke(int x)
{
	int r = stack_leaf(x + base);

	sink = r;
	return r + base;
}

// Two frames above gap_mid: the walk goes on through rbp, then CFI again.
__attribute__((noinline)) static int rec_down_gap(void)
{
	int r = gap_mid(stack_leaf, 6);

	sink = r;
	return r + 1;
}

// liblate.so beside this program, loaded now.
__attribute__((noinline)) static int late_call(const char *self)
{
	char path[4096];
	const char *slash = strrchr(self, '/');
	void *h;
	int (*mid)(int (*)(int), int);

	snprintf(path, sizeof(path), "%.*sliblate.so", slash ? (int)(slash - self + 1) : 0, self);
	h = dlopen(path, RTLD_NOW);
	mid = h ? (int (*)(int (*)(int), int))dlsym(h, "late_mid") : nullptr;
	if (!mid) {
		fprintf(stderr, "%s: %s\n", path, dlerror());
		return -1;
	}
	return mid(stack_leaf, 7);
}

__attribute__((noinline)) static int raise_usr1(void)
{
	int r = raise(SIGUSR1);

	sink = r;
	return r;
}

static void *thread_main(void *arg)
{
	sink = rec_down(0) + (int)(long)arg;
	return nullptr;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	int v[2] = { 2, 1 };
	Widget w = { 7 };
	pthread_t th;

	if (!strcmp(what, "rec")) {
		printf("%d\n", rec_down(5));
	} else if (!strcmp(what, "qsort")) {
		qsort(v, 2, sizeof(v[0]), stack_cmp);
		printf("%d %d\n", v[0], v[1]);
	} else if (!strcmp(what, "signal")) {
		signal(SIGUSR1, on_usr1);
		printf("%d\n", raise_usr1());
	} else if (!strcmp(what, "member")) {
		printf("%d\n", w.poke(3));
	} else if (!strcmp(what, "debugf")) {
		printf("%d\n", debugf_mid(stack_leaf, 4));
	} else if (!strcmp(what, "fp") || !strcmp(what, "fpleaf")) {
		printf("%d\n", fp_mid(what[2] ? fp_leaf : stack_leaf, 5));
	} else if (!strcmp(what, "dlopen")) {
		printf("%d\n", late_call(argv[0]));
	} else if (!strcmp(what, "gapfp")) {
		printf("%d\n", rec_down_gap());
	} else if (!strcmp(what, "thread")) {
		pthread_create(&th, nullptr, thread_main, (void *)1L);
		pthread_join(th, nullptr);
		printf("%d\n", sink);
	} else {
		fprintf(stderr, "usage: stack_target rec|qsort|signal|member|debugf|fp|fpleaf|gapfp|"
				"dlopen|thread\n");
		return 2;
	}
	return 0;
}
