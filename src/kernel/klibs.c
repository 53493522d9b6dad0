/* SPDX-License-Identifier: MIT */
/* libtracefs and libtraceevent opened at the kernel backend's first use (klibs.h). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>

#include "kernel/klibs.h"
#include "util/log.h"

static struct klibs kl;
static char kl_why[320]; /* why they cannot be used; "" when they can */
static pthread_once_t kl_once = PTHREAD_ONCE_INIT;

/* name's address in lib into *slot: false when it has none. */
static bool take(void *lib, const char *name, void *slot)
{
	void *fn = dlsym(lib, name);

	*(void **)slot = fn;
	return fn != NULL;
}

static void klibs_open(void)
{
	/* libtracefs needs libtraceevent: opened first, so that a missing one is named. */
	void *tep = dlopen("libtraceevent.so.1", RTLD_NOW | RTLD_LOCAL);
	void *tfs = tep ? dlopen("libtracefs.so.1", RTLD_NOW | RTLD_LOCAL) : NULL;

	if (!tep || !tfs) {
		snprintf(kl_why, sizeof(kl_why), "the kernel backend needs %s (Debian: %s): %s",
			 tep ? "libtracefs.so.1" : "libtraceevent.so.1",
			 tep ? "libtracefs1" : "libtraceevent1", dlerror());
		return;
	}
	if (!take(tfs, "tracefs_tracing_dir", &kl.tracing_dir) ||
	    !take(tfs, "tracefs_dynevent_get_all", &kl.dynevent_get_all) ||
	    !take(tfs, "tracefs_dynevent_info", &kl.dynevent_info) ||
	    !take(tfs, "tracefs_dynevent_destroy", &kl.dynevent_destroy) ||
	    !take(tfs, "tracefs_dynevent_list_free", &kl.dynevent_list_free) ||
	    !take(tep, "tep_alloc", &kl.tep_alloc) || !take(tep, "tep_free", &kl.tep_free) ||
	    !take(tep, "tep_parse_format", &kl.tep_parse_format) ||
	    !take(tep, "tep_find_field", &kl.tep_find_field))
		snprintf(kl_why, sizeof(kl_why), "libtracefs/libtraceevent: %s", dlerror());
}

const struct klibs *klibs_get(int *err)
{
	pthread_once(&kl_once, klibs_open);
	if (!kl_why[0])
		return &kl;
	*err = log_error(ENOTSUP, "%s", kl_why);
	return NULL;
}
