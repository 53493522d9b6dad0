/* SPDX-License-Identifier: MIT */
/*
 * What tests/hostile/attach_kill.sh attaches to, and kills uprobe trace -p
 * while it attaches: a deterministic workload whose state lives in registers
 * (attach_victim_round.S: every general register, ymm0-15, with AVX-512
 * zmm16-31 and k1-k7, the flags, MXCSR), in rounds, with the main thread
 * (the one uprobe borrows first) always inside a round or between two.
 *
 *   attach_victim run     rounds until standard input ends; every 1024
 *			   iterations the round sleeps 100 us in nanosleep()
 *   attach_victim ref R   R rounds, without sleeping: the reference
 *
 * "run" says "attach_victim: running" on standard error once it is. Both
 * print "rounds R", "checksum X" (of the whole register state after
 * each round) and "state ok", or what else changed: the main thread's
 * signal mask (SIGUSR2 blocked) or its alternate signal stack. A run's
 * output equals the reference of as many rounds if nothing was harmed.
 * victim_tick() is called once a round: the probe's place. So is victim_step(),
 * whose 8 one-byte nops first (patchable_function_entry) give its entry's jump
 * room before the ret that victim_tick (a lone ret: the int3 path) lacks:
 * attach_kill.sh probes it in make check's forced pass (UPROBE_ENTRY_PATH=
 * lean-strict refuses victim_tick).
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ITERS 4096
#define NAP_NS 100000

struct victim_state {
	uint64_t gpr[16];
	uint8_t ymm[16][32];
	uint8_t zmm[16][64];
	uint64_t k[8];
} __attribute__((aligned(64)));

_Static_assert(__builtin_offsetof(struct victim_state, ymm) == 128, "ST_YMM");
_Static_assert(__builtin_offsetof(struct victim_state, zmm) == 640, "ST_ZMM");
_Static_assert(__builtin_offsetof(struct victim_state, k) == 1664, "ST_K");

void victim_round_avx2(struct victim_state *s, long iters, long nap_ns);
void victim_round_avx512(struct victim_state *s, long iters, long nap_ns);

static volatile int stop;

/*
 * A lone ret padded with int3, not nops: too short for the entry's jump, and
 * its padding not taken into the jump's window (core/jump.c), so its probe
 * takes the int3 path whatever the compiler pads with.
 */
__asm__(".text\n"
	".p2align 4, 0xcc\n"
	".globl victim_tick\n"
	".type victim_tick, @function\n"
	"victim_tick:\n"
	"	ret\n"
	".size victim_tick, . - victim_tick\n"
	".p2align 4, 0xcc\n");
void victim_tick(long round);

__attribute__((noinline, patchable_function_entry(8, 0))) void victim_step(long round)
{
	__asm__ volatile("" : : "r"(round) : "memory");
}

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void state_init(struct victim_state *s)
{
	uint64_t seed = 42;
	float one = 1.0f, r = 3.99f;

	for (size_t i = 0; i < sizeof(*s) / 8; i++)
		((uint64_t *)s)[i] = splitmix(&seed);
	for (int lane = 0; lane < 8; lane++) {
		float x = 0.1f + 0.1f * (float)lane;

		memcpy(&s->ymm[12][lane * 4], &one, 4);
		memcpy(&s->ymm[13][lane * 4], &r, 4);
		memcpy(&s->ymm[14][lane * 4], &x, 4);
	}
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ULL;
	return h;
}

static void *reader(void *arg)
{
	char buf[256];

	(void)arg;
	while (read(0, buf, sizeof(buf)) > 0)
		;
	stop = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	static struct victim_state s;
	static char altstack[65536];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) }, now;
	void (*round)(struct victim_state *, long, long) = victim_round_avx2;
	bool run = argc == 2 && !strcmp(argv[1], "run");
	long rounds = 0, limit = argc == 3 && !strcmp(argv[1], "ref") ? atol(argv[2]) : -1;
	uint64_t sum = 0xcbf29ce484222325ULL;
	sigset_t usr2, mask;
	pthread_t th;

	if (!run && limit < 0) {
		fprintf(stderr, "usage: attach_victim run | ref ROUNDS\n");
		return 2;
	}
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2")) {
		printf("no AVX2\n");
		return 77;
	}
	if (__builtin_cpu_supports("avx512f"))
		round = victim_round_avx512;
	state_init(&s);
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	if (sigaltstack(&ss, NULL) || pthread_sigmask(SIG_BLOCK, &usr2, NULL))
		return 1;
	if (run && pthread_create(&th, NULL, reader, NULL))
		return 1;
	if (run)
		fprintf(stderr, "attach_victim: running\n");
	for (; run ? !stop : rounds < limit; rounds++) {
		round(&s, ITERS, run ? NAP_NS : 0);
		victim_tick(rounds);
		victim_step(rounds);
		sum = fnv(sum, &s, sizeof(s));
	}
	printf("rounds %ld\nchecksum %016llx\n", rounds, (unsigned long long)sum);
	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	sigaltstack(NULL, &now);
	if (!sigismember(&mask, SIGUSR2) || sigismember(&mask, SIGUSR1))
		printf("state: the signal mask changed\n");
	else if (now.ss_sp != ss.ss_sp || now.ss_size != ss.ss_size || now.ss_flags)
		printf("state: the alternate signal stack changed (%p, %zu, %d)\n", now.ss_sp,
		       now.ss_size, now.ss_flags);
	else
		printf("state ok\n");
	return 0;
}
