/* SPDX-License-Identifier: MIT */
/* libelf, libz, libdw, liblzma and Zydis opened at their first use (lazylibs.h). */
#include <dlfcn.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <lzma.h>
#include <pthread.h>
#include <stdio.h>
#include <zlib.h>

#include <Zydis/Zydis.h>

#define LAZYLIBS_IMPL
#include "util/lazylibs.h"
#include "util/log.h"

struct lazy_lib {
	const char *soname, *package;
	pthread_once_t once;
	char why[320]; /* why it cannot be used; "" when it can */
};

static struct lazy_elf_fns el;
static struct lazy_z_fns zl;
static struct lazy_dw_fns dw;
static struct lazy_xz_fns xz;
static struct lazy_zydis_fns zy;
static struct lazy_lib el_lib = { "libelf.so.1", "libelf1", PTHREAD_ONCE_INIT, "" };
static struct lazy_lib zl_lib = { "libz.so.1", "zlib1g", PTHREAD_ONCE_INIT, "" };
static struct lazy_lib dw_lib = { "libdw.so.1", "libdw1", PTHREAD_ONCE_INIT, "" };
static struct lazy_lib xz_lib = { "liblzma.so.5", "liblzma5", PTHREAD_ONCE_INIT, "" };
static struct lazy_lib zy_lib = { "libZydis.so.4.0", "libzydis4.0", PTHREAD_ONCE_INIT, "" };

/* The library, or NULL with why set. */
static void *lib_open(struct lazy_lib *l)
{
	void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);

	if (!h)
		snprintf(l->why, sizeof(l->why), "%s is needed here (Debian: %s): %s", l->soname,
			 l->package, dlerror());
	return h;
}

/* name's address in h into *slot: false (why set) when it has none. */
static bool take(struct lazy_lib *l, void *h, const char *name, void *slot)
{
	void *fn = dlsym(h, name);

	*(void **)slot = fn;
	if (!fn && !l->why[0])
		snprintf(l->why, sizeof(l->why), "%s has no %s", l->soname, name);
	return fn != NULL;
}

static void el_open(void)
{
	void *h = lib_open(&el_lib);

#define TAKE(fn) take(&el_lib, h, #fn, &el.fn);
	if (h) {
		LAZY_ELF_FNS(TAKE)
	}
#undef TAKE
	if (!el_lib.why[0] && el.elf_version(EV_CURRENT) == EV_NONE)
		snprintf(el_lib.why, sizeof(el_lib.why), "%s: no ELF version %d", el_lib.soname,
			 EV_CURRENT);
}

static void zl_open(void)
{
	void *h = lib_open(&zl_lib);

#define TAKE(fn) take(&zl_lib, h, #fn, &zl.fn);
	if (h) {
		LAZY_Z_FNS(TAKE)
	}
#undef TAKE
}

static void dw_open(void)
{
	void *h = lib_open(&dw_lib);

#define TAKE(fn) take(&dw_lib, h, #fn, &dw.fn);
	if (h) {
		LAZY_DW_FNS(TAKE)
	}
#undef TAKE
}

static void xz_open(void)
{
	void *h = lib_open(&xz_lib);

#define TAKE(fn) take(&xz_lib, h, #fn, &xz.fn);
	if (h) {
		LAZY_XZ_FNS(TAKE)
	}
#undef TAKE
}

static void zy_open(void)
{
	void *h = lib_open(&zy_lib);

#define TAKE(fn) take(&zy_lib, h, #fn, &zy.fn);
	if (h) {
		LAZY_ZYDIS_FNS(TAKE)
	}
#undef TAKE
}

static bool lib_get(struct lazy_lib *l, void (*open)(void), int *err)
{
	pthread_once(&l->once, open);
	if (!l->why[0])
		return true;
	*err = log_error(ENOTSUP, "%s", l->why);
	return false;
}

bool lazy_elf(int *err)
{
	return lib_get(&el_lib, el_open, err);
}

bool lazy_z(int *err)
{
	return lib_get(&zl_lib, zl_open, err);
}

bool lazy_dw(int *err)
{
	return lib_get(&dw_lib, dw_open, err);
}

bool lazy_xz(int *err)
{
	return lib_get(&xz_lib, xz_open, err);
}

bool lazy_zydis(int *err)
{
	return lib_get(&zy_lib, zy_open, err);
}

/* After lazy_elf() said true (the once is then a load: a call site never sees a half table). */
const struct lazy_elf_fns *lazy_elf_fns(void)
{
	pthread_once(&el_lib.once, el_open);
	return &el;
}

const struct lazy_z_fns *lazy_z_fns(void)
{
	pthread_once(&zl_lib.once, zl_open);
	return &zl;
}

/* After lazy_dw() said true (the once is then a load: a call site never sees a half table). */
const struct lazy_dw_fns *lazy_dw_fns(void)
{
	pthread_once(&dw_lib.once, dw_open);
	return &dw;
}

const struct lazy_xz_fns *lazy_xz_fns(void)
{
	pthread_once(&xz_lib.once, xz_open);
	return &xz;
}

const struct lazy_zydis_fns *lazy_zydis_fns(void)
{
	pthread_once(&zy_lib.once, zy_open);
	return &zy;
}
