/* SPDX-License-Identifier: Apache-2.0 */
/* test_tpm: CUnit runner for verifier-client/tpm (meson test --suite unit tpm). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kw_json.h"
#include "kw_util.h"
#include "test_tpm.h"

int
test_slurp(const char *path, uint8_t **buf, size_t *len)
{
	int r = kw_file_read(path, 1024 * 1024, buf, len);

	CHECKF(r == 0, "cannot read %s: %s", path, kw_strerror(r));
	return r;
}

json_t *
test_json_file(const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *j = NULL;

	if (test_slurp(path, &buf, &len) == 0)
		CHECKF(kw_json_parse(buf, len, 4 * 1024 * 1024, &j) == 0, "%s does not parse", path);
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

int
test_pcrs_file(const char *path, enum tpm_bank b, struct tpm_pcrs *p)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	const char *why = NULL;
	int r;

	if ((r = test_slurp(path, &buf, &len)) != 0)
		return r;
	r = tpm_pcrs_from_text((const char *)buf, len, b, p, &why);
	CHECKF(r == 0, "%s: %s", path, why);
	free(buf);
	return r;
}

int
main(void)
{
	/* The real vectors are the point of this test: a missing directory is a failure. */
	if (test_vectors("tpm") == NULL)
		return 1;
	if (test_begin() != 0)
		return 2;
	return test_end(test_tpm_quote_register());
}
