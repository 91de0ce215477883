/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <CUnit/Basic.h>

#include "kw_json.h"
#include "kw_util.h"
#include "test_helper.h"

static char tmpdir[96];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
test_rmtree(const char *path)
{
	if (path != NULL && path[0] != '\0')
		(void)nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
tmpdir_cleanup(void)
{
	test_rmtree(tmpdir);
}

const char *
test_tmpdir(void)
{
	if (tmpdir[0] == '\0') {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/kw-test-%s.XXXXXX",
		    program_invocation_short_name);
		if (mkdtemp(tmpdir) == NULL) {
			perror("mkdtemp");
			exit(2);
		}
		atexit(tmpdir_cleanup);
	}
	return tmpdir;
}

const char *
test_vectors(const char *sub)
{
	const char *v = getenv("KW_VECTORS");
	char path[4096];
	struct stat st;

	if (v == NULL || v[0] == '\0') {
		fprintf(stderr, "%s: KW_VECTORS is not set (run through meson test)\n", program_invocation_short_name);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", v, sub);
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: vector directory %s is missing\n", program_invocation_short_name, path);
		return NULL;
	}
	return v;
}

const char *
test_vpath(char *buf, size_t n, const char *sub, const char *fmt, ...)
{
	char rel[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(buf, n, "%s/%s/%s", getenv("KW_VECTORS"), sub, rel);
	return buf;
}

int
test_begin(void)
{
	kw_json_init();
	return CU_initialize_registry() == CUE_SUCCESS ? 0 : 2;
}

int
test_end(int registration)
{
	unsigned int failed;

	if (registration != 0 || CU_get_error() != CUE_SUCCESS) {
		fprintf(stderr, "test registration failed\n");
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS) {
		CU_cleanup_registry();
		return 2;
	}
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures() +
	    CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed == 0 ? 0 : 1;
}

int
test_run_suites(CU_SuiteInfo *suites)
{
	if (test_begin() != 0)
		return 2;
	return test_end(CU_register_suites(suites) == CUE_SUCCESS ? 0 : -1);
}

int
test_slurp(const char *path, uint8_t **buf, size_t *len)
{
	int r = kw_file_read(path, 1024 * 1024, buf, len);

	CHECKF(r == 0, "cannot read %s: %s", path, kw_strerror(r));
	return r;
}

json_t *
test_json_text(const char *text)
{
	json_t *j = NULL;
	int r = kw_json_parse(text, strlen(text), 4 * 1024 * 1024, &j);

	CHECKF(r == 0, "JSON does not parse: %s", kw_strerror(r));
	return j;
}

json_t *
test_json_file(const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *j = NULL;

	if (test_slurp(path, &buf, &len) == 0)
		j = test_json_text((const char *)buf);   /* kw_file_read NUL-terminates */
	free(buf);
	return j;
}

json_t *
test_jget(json_t *o, const char *path)
{
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok != NULL && o != NULL; tok = strtok_r(NULL, ".", &save))
		o = json_object_get(o, tok);
	return o;
}
