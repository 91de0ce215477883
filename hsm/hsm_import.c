/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "hsm_import.h"
#include "kw_b64url.h"
#include "kw_jwk.h"

int
hsm_rsa_jwk(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len, json_t **ret_jwk,
    char kid[static KW_B64URL_SHA256_SIZE])
{
	char *bn = NULL, *be = NULL, tp[KW_B64URL_SHA256_SIZE];
	json_t *jwk = NULL;
	int r;

	if (n_len == 0 || e_len == 0 || n[0] == 0 || e[0] == 0)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_b64url_encode(n, n_len, &bn)) != 0 || (r = kw_b64url_encode(e, e_len, &be)) != 0)
		goto out;
	r = KW_ERR_NOMEM;
	if ((jwk = json_pack("{s:s,s:s,s:s}", "kty", "RSA", "n", bn, "e", be)) == NULL)
		goto out;
	if ((r = kw_jwk_thumbprint(jwk, tp)) != 0)
		goto out;
	memcpy(kid, tp, sizeof(tp));
	if (ret_jwk != NULL) {
		*ret_jwk = jwk;
		jwk = NULL;
	}
	r = 0;
out:
	json_decref(jwk);
	free(bn);
	free(be);
	return r;
}
