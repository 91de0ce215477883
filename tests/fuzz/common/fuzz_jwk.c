/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON -> kw_jwk_import_public -> thumbprint. Properties: a key that imports
 * has a thumbprint; its export imports to an equal key with the same
 * thumbprint.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kw_json.h"
#include "kw_jwk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	json_t *v = NULL, *ex = NULL;
	EVP_PKEY *pk = NULL, *pk2 = NULL;
	char tp[44], tp2[44];
	int r;

	if (!init) {
		kw_json_init();
		init = 1;
	}
	if (kw_json_parse(data, size, 16384, &v) != 0)
		return 0;
	r = kw_jwk_import_public(v, &pk);
	if (kw_jwk_thumbprint(v, tp) != 0) {
		if (r == 0)
			abort();
		goto out;
	}
	if (r != 0)
		abort();
	if (kw_jwk_export_public(pk, &ex) != 0 || kw_jwk_import_public(ex, &pk2) != 0 ||
	    EVP_PKEY_eq(pk, pk2) != 1 || kw_jwk_thumbprint(ex, tp2) != 0 || strcmp(tp, tp2) != 0)
		abort();
	if (EVP_PKEY_is_a(pk, "RSA")) {
		uint8_t *n = NULL, *e = NULL;
		size_t nl = 0, el = 0;

		if (kw_jwk_rsa_components(pk, &n, &nl, &e, &el) != 0 || nl < 256 || el == 0)
			abort();
		free(n);
		free(e);
	}
out:
	EVP_PKEY_free(pk2);
	EVP_PKEY_free(pk);
	json_decref(ex);
	json_decref(v);
	return 0;
}
