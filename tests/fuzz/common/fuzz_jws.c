/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bytes -> kw_jws_parse -> kw_jws_check_header (ES256; typ, kid, jwk) ->
 * kw_jws_verify_es256 with a fixed P-256 key (the key tests/fuzz/common/
 * gen_jws_corpus.py signs the seeds with, so the verify path is reached).
 * Properties: a parsed JWS re-serializes to exactly the input (strict
 * base64url is canonical); a 64-byte signature survives r‖s -> DER -> r‖s.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kw_jose.h"
#include "kw_json.h"
#include "kw_jwk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_pub[] =
    "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"okSCrY-5R58iWQOzdJ3vhPvGU-BS2quAw6ib_LGRjcg\","
    "\"y\":\"7gv3uBQG-Gz9rUcDxe2MCkhoxRNkwLmbJhwTfbcw2IE\"}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const allowed[] = {"typ", "kid", "jwk", NULL};
	static EVP_PKEY *pk;
	struct kw_jws *j = NULL;
	char *again = NULL;
	uint8_t *der = NULL, raw[KW_ES256_SIG_LEN];
	size_t derlen = 0;

	if (pk == NULL) {
		json_t *v = NULL;

		kw_json_init();
		if (kw_json_parse(fuzz_pub, strlen(fuzz_pub), 4096, &v) != 0 ||
		    kw_jwk_import_public(v, &pk) != 0)
			abort();
		json_decref(v);
	}
	if (size > KW_JWS_MAX)
		size = KW_JWS_MAX;
	if (kw_jws_parse((const char *)data, size, KW_JWS_MAX, &j) != 0)
		return 0;
	if (j->sig_len == 0 || strlen(j->signing_input) != j->signing_input_len ||
	    !json_is_object(j->header) || !json_is_object(j->payload))
		abort();
	if (kw_jws_compact(j->signing_input, j->sig, j->sig_len, &again) != 0 ||
	    strlen(again) != size || memcmp(again, data, size) != 0)
		abort();
	if (j->sig_len == KW_ES256_SIG_LEN) {
		if (kw_ecdsa_raw_to_der(j->sig, j->sig_len, &der, &derlen) != 0 ||
		    kw_ecdsa_der_to_raw(der, derlen, KW_ES256_SIG_LEN / 2, raw) != 0 ||
		    memcmp(raw, j->sig, sizeof(raw)) != 0)
			abort();
	}
	if (kw_jws_check_header(j, "ES256", allowed) == 0) {
		int r = kw_jws_verify_es256(j, pk);

		if (r != 0 && r != KW_ERR_SIG_INVALID)
			abort();
		if (r == 0 && j->sig_len != KW_ES256_SIG_LEN)
			abort();
	}
	free(der);
	free(again);
	kw_jws_free(j);
	return 0;
}
