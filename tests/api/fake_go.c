/* SPDX-License-Identifier: MIT */
/*
 * Looks like a Go binary to the library: it has a .go.buildinfo section (the
 * Go toolchain's marker). Return probes must be refused in it.
 */
__attribute__((used, section(".go.buildinfo"))) static const char buildinfo[16] = "\xff Go buildinf:";

__attribute__((noinline)) int fake_go_add(int a, int b)
{
	return a + b;
}
