/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "hsm_tokkey.h"
#include "kw_b64url.h"
#include "kw_jwk.h"
#include "kw_rd.h"

const uint8_t hsm_p256_params[10] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

int
hsm_ec_point_parse(const uint8_t *der, size_t len, uint8_t x[HSM_P256_COORD],
    uint8_t y[HSM_P256_COORD])
{
	uint8_t tag, dlen, form;
	uint8_t bx[HSM_P256_COORD], by[HSM_P256_COORD];
	struct kw_rd rd;
	int r;

	kw_rd_init(&rd, der, len);
	if ((r = kw_rd_u8(&rd, &tag)) != 0 || (r = kw_rd_u8(&rd, &dlen)) != 0)
		return r;
	/* OCTET STRING, definite short-form length of exactly one uncompressed point */
	if (tag != 0x04 || dlen != 1 + 2 * HSM_P256_COORD)
		return KW_ERR_INVALID_FORMAT;
	if ((r = kw_rd_u8(&rd, &form)) != 0)
		return r;
	if (form != 0x04)
		return KW_ERR_INVALID_FORMAT;    /* compressed or hybrid */
	if ((r = kw_rd_copy(&rd, bx, sizeof(bx))) != 0 || (r = kw_rd_copy(&rd, by, sizeof(by))) != 0)
		return r;
	if ((r = kw_rd_end(&rd)) != 0)
		return r;
	memcpy(x, bx, sizeof(bx));
	memcpy(y, by, sizeof(by));
	return 0;
}

int
hsm_token_key_json(const struct hsm_token_key *k, json_t **ret)
{
	char *x = NULL, *y = NULL, kid[KW_B64URL_SHA256_SIZE];
	json_t *jwk = NULL, *o = NULL;
	int r;

	if ((r = kw_b64url_encode(k->x, sizeof(k->x), &x)) != 0 ||
	    (r = kw_b64url_encode(k->y, sizeof(k->y), &y)) != 0)
		goto out;
	r = KW_ERR_NOMEM;
	if ((jwk = json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x", x, "y", y)) == NULL)
		goto out;
	/* also proves the point is on the curve */
	if ((r = kw_jwk_thumbprint(jwk, kid)) != 0)
		goto out;
	r = KW_ERR_NOMEM;
	if ((o = json_pack("{s:s,s:I,s:s,s:O}", "label", k->label, "created",
	    (json_int_t)k->created, "kid", kid, "jwk", jwk)) == NULL)
		goto out;
	*ret = o;
	r = 0;
out:
	json_decref(jwk);
	free(x);
	free(y);
	return r;
}

int
hsm_ecdsa_sig_fixed(const uint8_t *sig, size_t sig_len, uint8_t out[HSM_SIGN_SIG_LEN])
{
	const size_t half = HSM_SIGN_SIG_LEN / 2;
	size_t h;

	if (sig_len == 0 || sig_len % 2 != 0 || sig_len > HSM_SIGN_SIG_LEN)
		return KW_ERR_INVALID_FORMAT;
	h = sig_len / 2;
	memset(out, 0, HSM_SIGN_SIG_LEN);
	memcpy(out + half - h, sig, h);
	memcpy(out + HSM_SIGN_SIG_LEN - h, sig + h, h);
	return 0;
}
