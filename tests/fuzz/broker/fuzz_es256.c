/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fixed P-256 keys and ES256 signing for the broker's fuzz targets
 * (fuzz_es256.h). The targets are deterministic apart from ECDSA's random
 * nonce, which verification does not depend on.
 */
#include <stdlib.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>

#include "fuzz_es256.h"
#include "kw_jose.h"

EVP_PKEY *
fuzz_p256_key(const unsigned char d[static 32])
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	EC_POINT *q = g != NULL ? EC_POINT_new(g) : NULL;
	BIGNUM *bn = BN_bin2bn(d, 32, NULL);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	unsigned char pub[65];

	if (q == NULL || bn == NULL || bld == NULL ||
	    !EC_POINT_mul(g, q, bn, NULL, NULL, NULL) ||
	    EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub), NULL) != 65 ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEYPAIR, params) != 1)
		abort();
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	EC_POINT_free(q);
	EC_GROUP_free(g);
	return pk;
}

char *
fuzz_es256_compact(EVP_PKEY *priv, const json_t *header, const json_t *payload)
{
	uint8_t sig[KW_ES256_SIG_LEN];
	char *si = NULL, *tok = NULL;
	size_t silen;

	if (kw_jws_signing_input(header, payload, &si, &silen) != 0 ||
	    kw_es256_sign(priv, si, silen, sig) != 0 ||
	    kw_jws_compact(si, sig, sizeof(sig), &tok) != 0)
		tok = NULL;
	free(si);
	return tok;
}
