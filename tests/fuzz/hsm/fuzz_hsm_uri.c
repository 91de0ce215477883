/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: hsm.token / --token values (hsm_token_cfg_parse, the PKCS#11
 * URI rules of hsm/hsm_uri.c on top of p11-kit's parser), and an accepted
 * token URI as the helper's token_uri in the broker's checks and the
 * object-URI builder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_uri.h"
#include "kw_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hsm_token_cfg c = {0};
	char *s, *obj = NULL, eb[300];
	int r;

	if (size > HSM_URI_MAX + 16 || (s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	eb[0] = '\0';
	r = hsm_token_cfg_parse(s, "/etc/kw", &c, eb, sizeof(eb));
	if (r == 0) {
		/* invariants of an accepted value */
		if (c.token == NULL || (c.is_uri && !hsm_uri_is_uri(c.token)) ||
		    (c.module_path != NULL && c.module_path[0] != '/') ||
		    (c.pin_file != NULL && c.pin_file[0] != '/'))
			abort();
		/* the token part parses again, fits itself, and names objects */
		if (c.is_uri) {
			if (hsm_uri_token_fits(c.token, c.token, eb, sizeof(eb)) != 0)
				abort();
			if (hsm_uri_secret(c.token, "kw-key/r/t/g/v1", 32, &obj) == 0 && obj == NULL)
				abort();
		}
	} else if (r != KW_ERR_CONFIG && r != KW_ERR_NOMEM) {
		abort();
	} else if (r == KW_ERR_CONFIG && (eb[0] == '\0' || strchr(eb, '\n') != NULL)) {
		abort();    /* every refusal says why, on one line */
	}
	free(obj);
	hsm_token_cfg_clear(&c);
	free(s);
	return 0;
}
