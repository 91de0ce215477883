/* SPDX-License-Identifier: Apache-2.0 */
/* Optional modules: find, check, dlopen, call the entry (kw_module.h). */
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kw_module.h"

#define MAX_CAND 4

int
kw_module_load(const char *file, const char *test_dir, const char *subdir, const char *install_dir,
    const char *entry, const void **ret, char *path, size_t pathlen, char *why, size_t whylen)
{
	char self[PATH_MAX], cand[MAX_CAND][PATH_MAX + 128], *dir;
	const void *(*fn)(void);
	const char *found = NULL;
	const void *p;
	struct stat st;
	size_t i, n_cand = 0;
	ssize_t n;
	void *h;

	if (test_dir != NULL && *test_dir != '\0')
		snprintf(cand[n_cand++], sizeof(cand[0]), "%.2048s/%.255s", test_dir, file);
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		dir = dirname(self);
		snprintf(cand[n_cand++], sizeof(cand[0]), "%.2048s/%.255s", dir, file);
		snprintf(cand[n_cand++], sizeof(cand[0]), "%.2048s/../%.64s/%.255s", dir, subdir, file);
	}
	snprintf(cand[n_cand++], sizeof(cand[0]), "%.2048s/%.255s", install_dir, file);
	for (i = 0; i < n_cand && found == NULL; i++)
		if (stat(cand[i], &st) == 0)
			found = cand[i];
	if (found == NULL) {
		snprintf(why, whylen, "%.255s not found in %.1024s", file, install_dir);
		return KW_ERR_NOT_FOUND;
	}
	if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(why, whylen, "%.1024s is not a regular file owned by root (or us) and writable "
		    "by its owner only: not loaded", found);
		return KW_ERR_CONFIG;
	}
	if ((h = dlopen(found, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(why, whylen, "cannot load %.1024s: %.1024s", found, dlerror());
		return KW_ERR_IO;
	}
	*(void **)&fn = dlsym(h, entry);
	if (fn == NULL || (p = fn()) == NULL) {
		snprintf(why, whylen, "%.1024s has no usable %.64s", found, entry);
		dlclose(h);
		return KW_ERR_UNSUPPORTED;
	}
	if (path != NULL && pathlen > 0)
		snprintf(path, pathlen, "%s", found);
	*ret = p;
	return 0;
}
