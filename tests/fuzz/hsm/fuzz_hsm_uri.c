/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: hsm.token / --token values (hsm_token_cfg_parse, the PKCS#11
 * URI rules of hsm/hsm_uri.c), and an accepted token URI as the helper's
 * token_uri in the broker's checks and the object-URI builder. hsm_uri.c
 * parses without p11-kit (the broker does not link it) and the helper hands
 * the token part to p11-kit: whatever hsm_uri.c accepts, p11-kit must
 * accept and format to the same string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "hsm_uri.h"
#include "kw_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* p11-kit reads the accepted token part as hsm_uri.c formatted it. */
static void
same_as_p11kit(const char *token)
{
	P11KitUri *u = p11_kit_uri_new();
	char *f = NULL;

	if (u == NULL)
		return;
	if (p11_kit_uri_parse(token, P11_KIT_URI_FOR_ANY, u) != P11_KIT_URI_OK ||
	    p11_kit_uri_any_unrecognized(u) ||
	    p11_kit_uri_format(u, P11_KIT_URI_FOR_ANY, &f) != P11_KIT_URI_OK || strcmp(f, token) != 0)
		abort();
	free(f);
	p11_kit_uri_free(u);
}

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
			same_as_p11kit(c.token);
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
