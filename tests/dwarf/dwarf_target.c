// SPDX-License-Identifier: MIT
/*
 * The program tests/dwarf/test_dwarf.sh traces by variable name. Built with
 * -g -O2 (and once more with -O0): each probed function gets its arguments
 * in registers or on the stack as the compiler chose, and the program prints
 * what it passes, one JSON object per call, keyed by the fetch-arg names the
 * test uses, so that the traced events can be compared exactly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hdr {
	uint16_t kind;
	int32_t len;
};

struct request {
	int id;
	struct hdr hdr;
	const char *path;
	struct request *next;
	unsigned int flags : 3;
	unsigned int prio : 5;
	int8_t small;
	char tag[8];
	uint64_t big;
};

struct leaf {
	long val;
};

struct mid {
	int pad;
	struct leaf *leaf;
};

struct top {
	char pad[24];
	struct mid *mid;
};

/* The sink keeps every argument used, so none is optimized away. */
volatile uint64_t sink;

#define PROBED __attribute__((noinline, noipa))

PROBED int parse_request(struct request *req, int n, const char *path)
{
	sink += (uint64_t)req->id + (uint64_t)n + (uint64_t)strlen(path);
	return req->hdr.len + n;
}

PROBED int64_t scalars(int8_t a, uint8_t b, int16_t c, uint16_t d, int32_t e, uint32_t f,
		       int64_t g, uint64_t h)
{
	sink += (uint64_t)a + b + (uint64_t)c + d + (uint64_t)e + f;
	return g + (int64_t)h;
}

PROBED long walk(struct top *t)
{
	sink += (uint64_t)t->mid->pad;
	return t->mid->leaf->val;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	struct leaf leaf = { 0 };
	struct mid mid = { 7, &leaf };
	struct top top = { "top", &mid };
	struct request next = { .id = 99 };

	for (int i = 0; i < n; i++) {
		char path[32];
		struct request req = {
			.id = 1000 + i,
			.hdr = { .kind = (uint16_t)(60000 + i), .len = -5 - i },
			.next = &next,
			.flags = (unsigned int)(i & 7),
			.prio = (unsigned int)(31 - i),
			.small = (int8_t)(-100 - i),
			.big = 0xfedcba9876543210ull + (uint64_t)i,
		};

		snprintf(path, sizeof(path), "/srv/item%d", i);
		snprintf(req.tag, sizeof(req.tag), "t%d", i * 11);
		req.path = i % 2 ? "odd" : "even";
		printf("{\"event\": \"parse_request\", \"id\": %d, \"kind\": %u, \"len\": %d, "
		       "\"n\": %d, \"path\": \"%s\", \"req_path\": \"%s\", \"next_id\": %d, "
		       "\"flags\": %u, \"prio\": %u, \"small\": %d, \"tag\": \"%s\", "
		       "\"big\": %llu}\n",
		       req.id, req.hdr.kind, req.hdr.len, i * 3, path, req.path, next.id,
		       req.flags, req.prio, req.small, req.tag, (unsigned long long)req.big);
		parse_request(&req, i * 3, path);

		printf("{\"event\": \"scalars\", \"a\": %d, \"b\": %d, \"c\": %d, \"d\": %d, "
		       "\"e\": %d, \"f\": %u, \"g\": %lld, \"h\": %llu}\n",
		       -1 - i, 250 + i, -30000 - i, 65000 + i, -2000000000 - i,
		       4000000000u + (unsigned int)i, -9000000000000000000ll - i,
		       18000000000000000000ull + (unsigned long long)i);
		scalars((int8_t)(-1 - i), (uint8_t)(250 + i), (int16_t)(-30000 - i),
			(uint16_t)(65000 + i), -2000000000 - i, 4000000000u + (unsigned int)i,
			-9000000000000000000ll - i, 18000000000000000000ull + (unsigned long long)i);

		leaf.val = -123456789012345 * (i + 1);
		printf("{\"event\": \"walk\", \"t_mid_leaf_val\": %ld, \"pad\": %d}\n", leaf.val, mid.pad);
		walk(&top);
	}
	return 0;
}
