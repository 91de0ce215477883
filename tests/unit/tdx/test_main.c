/* SPDX-License-Identifier: Apache-2.0 */
/* test_tdx: CUnit runner for verifier-client/tdx (meson test --suite unit tdx). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kw_json.h"
#include "kw_util.h"
#include "test_tdx.h"

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

int
main(void)
{
	/* The real Intel vectors are the point of this test: a missing directory is a failure. */
	if (test_vectors("tdx") == NULL)
		return 1;
	if (test_begin() != 0)
		return 2;
	return test_end(test_tdx_vectors_register() | test_tdx_emu_register());
}
