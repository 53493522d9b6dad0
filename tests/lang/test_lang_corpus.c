/* SPDX-License-Identifier: MIT */
/*
 * fuzz/corpus/lang replayed through fuzz_lang's own checks (fuzz/fuzz_lang.c,
 * linked in: its LLVMFuzzerTestOneInput abort()s on any breach), so that what
 * the fuzzer found stays found in `make check` without clang, and under
 * SANITIZE=1 with the sanitizers.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "testlib.h"

#ifndef LANG_CORPUS
#error "build with -DLANG_CORPUS=\"/path/to/fuzz/corpus/lang\""
#endif

TL_DEFINE("lang_corpus");

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_one(const char *path)
{
	static uint8_t data[1 << 16];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return 0;
	n = fread(data, 1, sizeof(data), f);
	fclose(f);
	LLVMFuzzerTestOneInput(data, n);
	return 1;
}

static void replay(void)
{
	DIR *d = opendir(LANG_CORPUS);
	struct dirent *de;
	char path[4096];
	int files = 0;

	CHECK(d != NULL);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", LANG_CORPUS, de->d_name);
		files += replay_one(path);
	}
	if (d)
		closedir(d);
	printf("  %d inputs\n", files);
	CHECK(files >= 1000); /* the corpus holds some 1,700 inputs */
}

int main(void)
{
	RUN(replay);
	TL_EXIT();
}
