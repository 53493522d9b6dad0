/* SPDX-License-Identifier: MIT */
#include <cpuid.h>
#include <errno.h>
#include <string.h>

#include "arch/x86_64/trampoline.h"

extern const uint8_t uprobes_tramp_entry[], uprobes_tramp_entry_end[];
extern const uint8_t uprobes_tramp_flags[], uprobes_tramp_flags_end[];
extern const uint8_t uprobes_tramp_entry_simd[], uprobes_tramp_entry_simd_end[];
extern const uint8_t uprobes_tramp_flags_simd[], uprobes_tramp_flags_simd_end[];
extern const uint8_t uprobes_redirect_trap[];

/* Size of the XSAVE area for everything XCR0 enables, or 0 without xsavec. */
static uint64_t xsave_area_size(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid_count(0xd, 1, &a, &b, &c, &d) || !(a & (1u << 1)))
		return 0;
	if (!__get_cpuid_count(0xd, 0, &a, &b, &c, &d))
		return 0;
	return (b + 63) & ~63u;
}

int arch_tramp_template(uint8_t *out, bool flags, bool simd, tramp_dispatch_fn fn, void *rec,
			uint64_t addr)
{
	const uint8_t *start, *end;
	uint64_t data[TRAMP_DATA_WORDS] = { 0 };

	if (simd) {
		start = flags ? uprobes_tramp_flags_simd : uprobes_tramp_entry_simd;
		end = flags ? uprobes_tramp_flags_simd_end : uprobes_tramp_entry_simd_end;
		data[TRAMP_XSAVE_SIZE] = xsave_area_size();
		if (!data[TRAMP_XSAVE_SIZE])
			return -ENOTSUP;
	} else {
		start = flags ? uprobes_tramp_flags : uprobes_tramp_entry;
		end = flags ? uprobes_tramp_flags_end : uprobes_tramp_entry_end;
	}
	memcpy(out, start, end - start);
	data[TRAMP_DISPATCH] = (uint64_t)fn;
	data[TRAMP_REDIRECT] = (uint64_t)uprobes_redirect_trap;
	data[TRAMP_REC] = (uint64_t)rec;
	data[TRAMP_ADDR] = addr;
	memcpy(out, data, sizeof(data));
	return (int)(end - start);
}

uint64_t arch_redirect_trap_addr(void)
{
	return (uint64_t)uprobes_redirect_trap;
}
