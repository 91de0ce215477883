/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_util.h"

#define JWK_RSA_MIN_BITS 2048
#define JWK_RSA_MAX_BITS 8192
#define JWK_RSA_MAX_E_LEN 5    /* e <= 2^32 */

static const char *const jwk_private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

struct jwk_curve {
	const char *crv;        /* JWK name */
	const char *group;      /* OpenSSL group name */
	size_t len;             /* coordinate length */
};

static const struct jwk_curve jwk_curves[] = {
	{"P-256", "prime256v1", 32},
	{"P-384", "secp384r1", 48},
};

/* The curves' groups, built once: immutable, shared by every thread. */
static EC_GROUP *jwk_groups[2];
static pthread_once_t jwk_groups_once = PTHREAD_ONCE_INIT;

static void
jwk_groups_init(void)
{
	for (size_t i = 0; i < KW_ARRAY_SIZE(jwk_curves); i++)
		jwk_groups[i] = EC_GROUP_new_by_curve_name(OBJ_sn2nid(jwk_curves[i].group));
}

/*
 * 1 when the uncompressed point pt (0x04 ‖ x ‖ y) is on the curve and not
 * the point at infinity; without building a key (kw_jwk_thumbprint).
 */
static int
ec_point_valid(const struct jwk_curve *cv, const uint8_t *pt, size_t len)
{
	const EC_GROUP *g;
	EC_POINT *p;
	int ok;

	pthread_once(&jwk_groups_once, jwk_groups_init);
	if ((g = jwk_groups[cv - jwk_curves]) == NULL || (p = EC_POINT_new(g)) == NULL)
		return 0;
	/* oct2point refuses points off the curve */
	ok = EC_POINT_oct2point(g, p, pt, len, NULL) == 1 && !EC_POINT_is_at_infinity(g, p);
	EC_POINT_free(p);
	return ok;
}

static const struct jwk_curve *
curve_by_crv(const char *crv)
{
	for (size_t i = 0; i < KW_ARRAY_SIZE(jwk_curves); i++) {
		if (strcmp(jwk_curves[i].crv, crv) == 0)
			return &jwk_curves[i];
	}
	return NULL;
}

static const struct jwk_curve *
curve_by_group(const char *group)
{
	for (size_t i = 0; i < KW_ARRAY_SIZE(jwk_curves); i++) {
		if (strcmp(jwk_curves[i].group, group) == 0)
			return &jwk_curves[i];
	}
	return NULL;
}

/* Strict base64url member of at most max decoded bytes, as a new buffer. */
static int
get_b64(const json_t *jwk, const char *name, size_t max, uint8_t **ret, size_t *ret_len)
{
	const char *s;
	size_t n;
	int r;

	if ((r = kw_json_get_str(jwk, name, &s, &n)) != 0)
		return r == KW_ERR_NOT_FOUND ? KW_ERR_INVALID_FORMAT : r;
	if (n == 0)
		return KW_ERR_INVALID_FORMAT;
	return kw_b64url_decode_alloc(s, n, max, ret, ret_len);
}

static int
fromdata(const char *alg, OSSL_PARAM_BLD *bld, EVP_PKEY **ret)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	int r = KW_ERR_CRYPTO;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1)
		goto out;
	if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	*ret = pkey;
	pkey = NULL;    /* transferred */
	r = 0;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return r;
}

/*
 * The RSA members, checked without building a key: n and e strict
 * base64url, minimal big-endian, an odd modulus of 2048..8192 bits, an odd
 * exponent 3..2^32. With ret (import), the key is built from them.
 */
static int
import_rsa(const json_t *jwk, EVP_PKEY **ret, uint8_t **ret_n, size_t *ret_nlen, uint8_t **ret_e,
    size_t *ret_elen)
{
	uint8_t *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0, bits;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	uint64_t ev = 0;
	int r;

	if ((r = get_b64(jwk, "n", JWK_RSA_MAX_BITS / 8, &n, &nlen)) != 0 ||
	    (r = get_b64(jwk, "e", JWK_RSA_MAX_E_LEN, &e, &elen)) != 0) {
		r = r == KW_ERR_TOO_LARGE ? KW_ERR_UNSUPPORTED : r;
		goto out;
	}
	r = KW_ERR_INVALID_FORMAT;
	/* minimal big-endian encodings only (RFC 7518 6.3.1), odd modulus */
	if (nlen == 0 || n[0] == 0 || elen == 0 || e[0] == 0 || (n[nlen - 1] & 1) == 0)
		goto out;
	bits = (nlen - 1) * 8;
	for (unsigned int top = n[0]; top != 0; top >>= 1)
		bits++;
	if (bits < JWK_RSA_MIN_BITS || bits > JWK_RSA_MAX_BITS) {
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	for (size_t i = 0; i < elen; i++)
		ev = (ev << 8) | e[i];
	if (ev < 3 || ev > ((uint64_t)1 << 32) || (ev & 1) == 0)
		goto out;
	if (ret_n != NULL) {
		*ret_n = n;
		*ret_nlen = nlen;
		*ret_e = e;
		*ret_elen = elen;
		n = e = NULL;    /* transferred */
	}
	if (ret == NULL) {
		r = 0;
		goto out;
	}
	r = KW_ERR_NOMEM;
	if ((bn_n = BN_bin2bn(n, (int)nlen, NULL)) == NULL ||
	    (bn_e = BN_bin2bn(e, (int)elen, NULL)) == NULL || (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1)
		goto out;
	r = fromdata("RSA", bld, ret);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	free(n);
	free(e);
	return r;
}

/*
 * The EC members: a supported curve, x and y strict base64url of exactly the
 * field size, the point on the curve and not at infinity (without ret:
 * ec_point_valid; with ret: the key is built and checked). The curves here
 * have cofactor 1, so every such point is in the prime-order subgroup and
 * EVP_PKEY_public_check's extra multiplication by the order proves nothing
 * more: the quick check suffices.
 */
static int
import_ec(const json_t *jwk, EVP_PKEY **ret)
{
	const struct jwk_curve *cv;
	const char *crv;
	uint8_t *x = NULL, *y = NULL, pt[1 + 2 * 66];
	size_t xlen = 0, ylen = 0;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	int r;

	if ((r = kw_json_get_str(jwk, "crv", &crv, NULL)) != 0) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((cv = curve_by_crv(crv)) == NULL) {
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	if ((r = get_b64(jwk, "x", cv->len, &x, &xlen)) != 0 ||
	    (r = get_b64(jwk, "y", cv->len, &y, &ylen)) != 0) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	/* RFC 7518 6.2.1.2: coordinates are exactly the field size */
	r = KW_ERR_INVALID_FORMAT;
	if (xlen != cv->len || ylen != cv->len)
		goto out;
	pt[0] = 0x04;    /* uncompressed point */
	memcpy(pt + 1, x, xlen);
	memcpy(pt + 1 + xlen, y, ylen);
	if (ret == NULL) {
		r = ec_point_valid(cv, pt, 1 + 2 * cv->len) ? 0 : KW_ERR_INVALID_FORMAT;
		goto out;
	}
	r = KW_ERR_NOMEM;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, cv->group, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * cv->len) != 1)
		goto out;
	if ((r = fromdata("EC", bld, &pkey)) != 0)
		goto out;
	/* on the curve, not infinity, in the prime-order subgroup */
	r = KW_ERR_CRYPTO;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		goto out;
	if (EVP_PKEY_public_check_quick(ctx) != 1) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	*ret = pkey;
	pkey = NULL;    /* transferred */
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return r;
}

/* ret NULL: check the members only (kw_jwk_thumbprint). */
static int
import_public(const json_t *jwk, EVP_PKEY **ret)
{
	const char *kty;
	int r;

	if (!json_is_object(jwk))
		return KW_ERR_INVALID_FORMAT;
	for (size_t i = 0; i < KW_ARRAY_SIZE(jwk_private_members); i++) {
		if (json_object_get(jwk, jwk_private_members[i]) != NULL)
			return KW_ERR_INVALID_FORMAT;
	}
	if ((r = kw_json_get_str(jwk, "kty", &kty, NULL)) != 0)
		return KW_ERR_INVALID_FORMAT;
	if (strcmp(kty, "RSA") == 0)
		return import_rsa(jwk, ret, NULL, NULL, NULL, NULL);
	if (strcmp(kty, "EC") == 0)
		return import_ec(jwk, ret);
	return KW_ERR_UNSUPPORTED;
}

int
kw_jwk_check_public(const json_t *jwk)
{
	if (jwk == NULL)
		return KW_ERR_INVALID_ARG;
	return import_public(jwk, NULL);
}

int
kw_jwk_import_public(const json_t *jwk, EVP_PKEY **ret)
{
	if (jwk == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	return import_public(jwk, ret);
}

/* Big-endian bytes of BIGNUM parameter name, left-padded to pad (0: minimal). */
static int
get_bn_bytes(const EVP_PKEY *pkey, const char *name, size_t pad, uint8_t **ret, size_t *ret_len)
{
	BIGNUM *bn = NULL;
	uint8_t *b = NULL;
	size_t len;
	int r = KW_ERR_CRYPTO;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
		goto out;
	len = (size_t)BN_num_bytes(bn);
	if (pad != 0) {
		if (len > pad)
			goto out;
		len = pad;
	}
	if (len == 0 || len > 4096)
		goto out;
	if ((b = malloc(len)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if (BN_bn2binpad(bn, b, (int)len) != (int)len)
		goto out;
	*ret = b;
	b = NULL;    /* transferred */
	*ret_len = len;
	r = 0;
out:
	free(b);
	BN_free(bn);
	return r;
}

int
kw_jwk_export_public(const EVP_PKEY *pkey, json_t **ret)
{
	json_t *o = NULL;
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int r;

	if (pkey == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((o = json_object()) == NULL)
		return KW_ERR_NOMEM;
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		if ((r = get_bn_bytes(pkey, OSSL_PKEY_PARAM_RSA_N, 0, &a, &alen)) != 0 ||
		    (r = get_bn_bytes(pkey, OSSL_PKEY_PARAM_RSA_E, 0, &b, &blen)) != 0)
			goto out;
		if (json_object_set_new(o, "kty", json_string("RSA")) != 0) {
			r = KW_ERR_NOMEM;
			goto out;
		}
		if ((r = kw_json_set_b64url(o, "n", a, alen)) != 0 ||
		    (r = kw_json_set_b64url(o, "e", b, blen)) != 0)
			goto out;
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		const struct jwk_curve *cv;
		char group[64];

		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
		    sizeof(group), NULL) != 1) {
			r = KW_ERR_CRYPTO;
			goto out;
		}
		if ((cv = curve_by_group(group)) == NULL) {
			r = KW_ERR_UNSUPPORTED;
			goto out;
		}
		if ((r = get_bn_bytes(pkey, OSSL_PKEY_PARAM_EC_PUB_X, cv->len, &a, &alen)) != 0 ||
		    (r = get_bn_bytes(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, cv->len, &b, &blen)) != 0)
			goto out;
		if (json_object_set_new(o, "kty", json_string("EC")) != 0 ||
		    json_object_set_new(o, "crv", json_string(cv->crv)) != 0) {
			r = KW_ERR_NOMEM;
			goto out;
		}
		if ((r = kw_json_set_b64url(o, "x", a, alen)) != 0 ||
		    (r = kw_json_set_b64url(o, "y", b, blen)) != 0)
			goto out;
	} else {
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	*ret = o;
	o = NULL;    /* transferred */
	r = 0;
out:
	json_decref(o);
	free(a);
	free(b);
	return r;
}

/* RFC 7638 3.2: the required members in lexicographic order, no whitespace; hashed. */
static int
thumb_of(const char *kty, const char *a, const char *b, const char *c, char out[static KW_B64URL_SHA256_SIZE])
{
	char *ser = NULL, *tp = NULL;
	uint8_t md[SHA256_DIGEST_LENGTH];
	size_t sz = strlen(a) + strlen(b) + (c != NULL ? strlen(c) : 0) + 64;
	int r, n;

	if ((ser = malloc(sz)) == NULL)
		return KW_ERR_NOMEM;
	/* the values are base64url or fixed names, so nothing needs escaping */
	if (strcmp(kty, "RSA") == 0)
		n = snprintf(ser, sz, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", a, b);
	else
		n = snprintf(ser, sz, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", a,
		    b, c);
	if (n < 0 || (size_t)n >= sz) {
		r = KW_ERR_INTERNAL;
		goto out;
	}
	if ((r = kw_sha256(ser, (size_t)n, md)) != 0 ||
	    (r = kw_b64url_encode(md, sizeof(md), &tp)) != 0)
		goto out;
	if (strlen(tp) != KW_B64URL_SHA256_LEN) {
		r = KW_ERR_INTERNAL;
		goto out;
	}
	memcpy(out, tp, KW_B64URL_SHA256_SIZE);
	r = 0;
out:
	free(ser);
	free(tp);
	return r;
}

int
kw_jwk_thumbprint(const json_t *jwk, char out[static KW_B64URL_SHA256_SIZE])
{
	const char *kty, *a, *b, *c = NULL;
	int r;

	/* Check the members first: strict decoding makes the member strings canonical. */
	if (jwk == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = import_public(jwk, NULL)) != 0)
		return r;
	if ((r = kw_json_get_str(jwk, "kty", &kty, NULL)) != 0)
		return r;
	if (strcmp(kty, "RSA") == 0) {
		if ((r = kw_json_get_str(jwk, "e", &a, NULL)) != 0 ||
		    (r = kw_json_get_str(jwk, "n", &b, NULL)) != 0)
			return r;
	} else {
		if ((r = kw_json_get_str(jwk, "crv", &a, NULL)) != 0 ||
		    (r = kw_json_get_str(jwk, "x", &b, NULL)) != 0 ||
		    (r = kw_json_get_str(jwk, "y", &c, NULL)) != 0)
			return r;
	}
	return thumb_of(kty, a, b, c, out);
}

int
kw_jwk_rsa_thumbprint(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen,
    char out[static KW_B64URL_SHA256_SIZE])
{
	char *bn = NULL, *be = NULL;
	int r;

	if (n == NULL || e == NULL || nlen == 0 || elen == 0 || n[0] == 0 || e[0] == 0)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_b64url_encode(n, nlen, &bn)) == 0 && (r = kw_b64url_encode(e, elen, &be)) == 0)
		r = thumb_of("RSA", be, bn, NULL, out);
	free(bn);
	free(be);
	return r;
}

int
kw_jwk_rsa_members(const json_t *jwk, uint8_t **ret_n, size_t *ret_nlen, uint8_t **ret_e,
    size_t *ret_elen)
{
	const char *kty;

	if (jwk == NULL || ret_n == NULL || ret_nlen == NULL || ret_e == NULL || ret_elen == NULL)
		return KW_ERR_INVALID_ARG;
	if (!json_is_object(jwk) || kw_json_get_str(jwk, "kty", &kty, NULL) != 0)
		return KW_ERR_INVALID_FORMAT;
	if (strcmp(kty, "RSA") != 0)
		return KW_ERR_UNSUPPORTED;
	for (size_t i = 0; i < KW_ARRAY_SIZE(jwk_private_members); i++)
		if (json_object_get(jwk, jwk_private_members[i]) != NULL)
			return KW_ERR_INVALID_FORMAT;
	return import_rsa(jwk, NULL, ret_n, ret_nlen, ret_e, ret_elen);
}

int
kw_jwk_rsa_components(const EVP_PKEY *pkey, uint8_t **ret_n, size_t *ret_nlen, uint8_t **ret_e,
    size_t *ret_elen)
{
	uint8_t *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0;
	int r;

	if (pkey == NULL || ret_n == NULL || ret_nlen == NULL || ret_e == NULL || ret_elen == NULL)
		return KW_ERR_INVALID_ARG;
	if (!EVP_PKEY_is_a(pkey, "RSA"))
		return KW_ERR_UNSUPPORTED;
	if ((r = get_bn_bytes(pkey, OSSL_PKEY_PARAM_RSA_N, 0, &n, &nlen)) != 0 ||
	    (r = get_bn_bytes(pkey, OSSL_PKEY_PARAM_RSA_E, 0, &e, &elen)) != 0)
		goto out;
	*ret_n = n;
	*ret_nlen = nlen;
	*ret_e = e;
	*ret_elen = elen;
	n = e = NULL;    /* transferred */
	r = 0;
out:
	free(n);
	free(e);
	return r;
}
