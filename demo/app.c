/* SPDX-License-Identifier: MIT */
/*
 * The program `make demo` traces with the uprobe command: it hashes the words
 * of a short text, each one a number of times that grows with its length, so
 * that latencies spread over a histogram. It knows nothing of probes.
 */
#include <stdio.h>
#include <string.h>

__attribute__((noinline)) unsigned app_hash(const char *word, unsigned rounds)
{
	unsigned h = 2166136261u;

	for (unsigned r = 0; r < rounds; r++)
		for (const char *p = word; *p; p++)
			h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

int main(void)
{
	static const char text[] = "user space probes jump into an in process trampoline "
				   "and leave without the program noticing";
	char buf[sizeof(text)], *save = NULL;
	unsigned total = 0, words = 0;

	memcpy(buf, text, sizeof(text));
	for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		total ^= app_hash(w, 1u << strlen(w));
		words++;
	}
	printf("app: %u words, hash %08x\n", words, total);
	return 0;
}
