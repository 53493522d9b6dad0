/* SPDX-License-Identifier: MIT */
/*
 * A program with SDT markers (<sys/sdt.h>) for tests/usdt/test_usdt.sh. Each
 * marker is followed by a line that prints what it passed, in the form the
 * tracer prints the event's args, so that the test compares the two:
 *
 *   utest:ints     five integers of 1, 2, 4 and 8 bytes, signed and not,
 *                  negative ones among them (registers)
 *   utest:globals  a global in .data and one in .bss (%rip-relative memory)
 *                  and an immediate
 *   utest:str      a string pointer and its length
 *   utest:stack    a volatile local (memory on the stack)
 *   utest:twice    one marker inlined at two places
 *   utest:guarded  behind a semaphore (usdt_sem.c)
 *   utest:indexed, utest:highbyte   never fired: arguments not supported
 *
 *   usdt_target run N   N rounds, then "semaphore V"
 *   usdt_target serve   "ready", then a round per SIGUSR1 until SIGTERM
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>
#include <unistd.h>

#include "usdt_target.h"

int g_data = 7;
long g_bss;

static inline __attribute__((always_inline)) void twice(int x)
{
	STAP_PROBE1(utest, twice, x);
	printf("twice arg1=%d\n", x);
}

/* Set elsewhere, so that the marker reads them from memory: sym(%rip) operands. */
static void __attribute__((noinline)) set_globals(int i)
{
	g_data = 100 + i;
	g_bss = -5000000000L - i;
}

static void __attribute__((noinline)) round_of(int i)
{
	int a = -1000 - i;
	unsigned long long b = 0x1122334455667788ull + (unsigned)i;
	signed char c = (signed char)(-3 - i);
	short d = (short)(-300 + i);
	unsigned char e = (unsigned char)(200 + i);
	volatile int v = -42 - i;
	char name[32];
	int en;

	STAP_PROBE5(utest, ints, a, b, c, d, e);
	printf("ints arg1=%d arg2=%llu arg3=%d arg4=%d arg5=%u\n", a, b, c, d, e);
	set_globals(i);
	STAP_PROBE3(utest, globals, g_data, g_bss, -5);
	printf("globals arg1=%d arg2=%ld arg3=%d\n", g_data, g_bss, -5);
	snprintf(name, sizeof(name), "item-%d", i);
	STAP_PROBE2(utest, str, name, strlen(name));
	printf("str name=\"%s\" arg2=%zu\n", name, strlen(name));
	STAP_PROBE1(utest, stack, v);
	printf("stack arg1=%d\n", v);
	twice(i);
	twice(-i - 1);
	en = sem_round(i);
	if (en)
		printf("guarded arg1=%d arg2=%ld\n", i, -1000L * i - 1);
	printf("round %d enabled=%d semaphore=%u\n", i, en, sem_value());
}

/*
 * Markers whose arguments the trace layer cannot fetch, written as
 * <sys/sdt.h> writes notes (never run): an index register and a high-byte
 * register. The note: sizes, type 3, "stapsdt", then pc, the base, no
 * semaphore, provider, name, args.
 */
#define ODD_MARKER(name, args)                                                      \
	"990: nop\n"                                                                \
	".pushsection .note.stapsdt,\"?\",\"note\"\n"                               \
	".balign 4\n"                                                              \
	".4byte 992f-991f, 994f-993f, 3\n"                                          \
	"991: .asciz \"stapsdt\"\n"                                                 \
	"992: .balign 4\n"                                                         \
	"993: .8byte 990b\n"                                                        \
	".8byte _.stapsdt.base\n"                                                   \
	".8byte 0\n"                                                                \
	".asciz \"utest\"\n"                                                        \
	".asciz \"" name "\"\n"                                                      \
	".asciz \"" args "\"\n"                                                      \
	"994: .balign 4\n"                                                         \
	".popsection\n"

void __attribute__((noinline, used)) odd_markers(void)
{
	__asm__ volatile(ODD_MARKER("indexed", "-4@%edi 8@(%rax,%rbx,4)"));
	__asm__ volatile(ODD_MARKER("highbyte", "1@%ah"));
}

static volatile sig_atomic_t go, quit;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static void on_term(int sig)
{
	(void)sig;
	quit = 1;
}

static int serve(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 }, st = { .sa_handler = on_term };
	sigset_t block, old;
	int i = 0;

	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &st, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	printf("ready %d\n", (int)getpid());
	while (!quit) {
		while (!go && !quit)
			sigsuspend(&old);
		if (go) {
			go = 0;
			round_of(i++);
			printf("done %d\n", i);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "run")) {
		for (int i = 0, n = atoi(argv[2]); i < n; i++)
			round_of(i);
		printf("semaphore %u\n", sem_value());
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "serve"))
		return serve();
	fprintf(stderr, "usage: usdt_target run N | serve\n");
	return 2;
}
