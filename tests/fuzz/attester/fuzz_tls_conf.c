/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_tls_conf: the TLS part of the configuration manifest over arbitrary
 * bytes, through the same path kwget uses: the input is written to a
 * temporary file and read with att_manifest_tls() (NCONF, then SSL_CONF_cmd),
 * once for the default ssl_conf entry and once for the entry "alt". Inputs
 * that mention "include" are skipped: OpenSSL would follow .include to any
 * file on this machine (/dev/zero, say), which measures the machine, not the
 * reader.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "attester.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void
cleanup(void)
{
	if (path[0] != '\0')
		(void)unlink(path);
}

static int
has_include(const uint8_t *d, size_t n)
{
	for (size_t i = 0; n >= 7 && i <= n - 7; i++)
		if (strncasecmp((const char *)d + i, "include", 7) == 0)
			return 1;
	return 0;
}

static void
check(const json_t *t)
{
	static const char *const vers[] = {"ssl3", "1.0", "1.1", "1.2", "1.3"};
	const char *min = json_string_value(json_object_get(t, "min_version"));
	const json_t *cs = json_object_get(t, "cipher_suites");
	int ok = 0;

	for (size_t i = 0; min != NULL && i < sizeof(vers) / sizeof(vers[0]); i++)
		ok |= strcmp(min, vers[i]) == 0;
	if (!ok || !json_is_array(cs))
		abort();
	for (size_t i = 0; i < json_array_size(cs); i++)
		if (!json_is_string(json_array_get(cs, i)))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sections[] = {NULL, "alt"};
	FILE *f;

	if (size > ATT_MAX_TLS_CONF + 1 || has_include(data, size))
		return 0;
	if (path[0] == '\0') {
		int fd;

		snprintf(path, sizeof(path), "/tmp/kw-fuzz-tls-conf.XXXXXX");
		if ((fd = mkstemp(path)) < 0 || close(fd) != 0)
			abort();
		atexit(cleanup);
	}
	if ((f = fopen(path, "wb")) == NULL || (size > 0 && fwrite(data, 1, size, f) != size) ||
	    fclose(f) != 0)
		abort();
	for (size_t i = 0; i < 2; i++) {
		json_t *t = NULL;
		int r = att_manifest_tls(path, sections[i], &t);

		if ((r == 0) != (t != NULL))
			abort();
		if (r == 0)
			check(t);
		json_decref(t);
	}
	return 0;
}
