/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compact JWS, ES256 only (see kw_jose.h). Parsing is policy-free and
 * strict about shape; the algorithm and header members are checked by
 * kw_jws_check_header, the signature by kw_jws_verify_es256. The JWS r‖s
 * signature form is converted to DER only at the OpenSSL boundary.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "kw_b64url.h"
#include "kw_jose.h"
#include "kw_json.h"
#include "kw_util.h"

#define KW_JWS_SIG_MAX 512   /* decoded signature bytes accepted by the parser */
#define KW_ECDSA_MAX_N 66    /* P-521 scalar bytes */

void
kw_jws_free(struct kw_jws *j)
{
	if (j == NULL)
		return;
	json_decref(j->header);
	json_decref(j->payload);
	free(j->sig);
	kw_free_wipe(j->signing_input);
	free(j);
}

/* Decode one base64url part that must hold a JSON object of at most max bytes. */
static int
decode_object(const char *p, size_t n, size_t max, json_t **ret)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (n > kw_b64url_enclen(max))
		return KW_ERR_TOO_LARGE;
	if ((r = kw_b64url_decode_alloc(p, n, max, &buf, &len)) != 0)
		return r;
	r = kw_json_parse(buf, len, max, ret);
	kw_wipe(buf, len);
	free(buf);
	return r;
}

int
kw_jws_parse(const char *compact, size_t len, size_t max, struct kw_jws **ret)
{
	const char *d1, *d2, *h, *p, *s;
	size_t hl, pl, sl;
	struct kw_jws *j = NULL;
	int r;

	if (compact == NULL || ret == NULL || max > KW_JWS_MAX)
		return KW_ERR_INVALID_ARG;
	if (len > max)
		return KW_ERR_TOO_LARGE;
	/* Exactly two dots; base64url never contains one, so a third is an error. */
	if ((d1 = memchr(compact, '.', len)) == NULL)
		return KW_ERR_INVALID_FORMAT;
	if ((d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - compact))) == NULL)
		return KW_ERR_INVALID_FORMAT;
	if (memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - compact)) != NULL)
		return KW_ERR_INVALID_FORMAT;
	h = compact;
	hl = (size_t)(d1 - compact);
	p = d1 + 1;
	pl = (size_t)(d2 - p);
	s = d2 + 1;
	sl = len - (size_t)(s - compact);
	/* Empty parts are refused: an "alg":"none" JWS has an empty signature. */
	if (hl == 0 || pl == 0 || sl == 0)
		return KW_ERR_INVALID_FORMAT;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return KW_ERR_NOMEM;
	if ((r = decode_object(h, hl, KW_JWS_HEADER_MAX, &j->header)) != 0)
		goto out;
	if ((r = decode_object(p, pl, len, &j->payload)) != 0)
		goto out;
	if (sl > kw_b64url_enclen(KW_JWS_SIG_MAX)) {
		r = KW_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = kw_b64url_decode_alloc(s, sl, KW_JWS_SIG_MAX, &j->sig, &j->sig_len)) != 0)
		goto out;
	if (j->sig_len == 0) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	j->signing_input_len = hl + 1 + pl;
	if ((j->signing_input = malloc(j->signing_input_len + 1)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	memcpy(j->signing_input, compact, j->signing_input_len);
	j->signing_input[j->signing_input_len] = '\0';
	*ret = j;
	j = NULL;    /* transferred */
	r = 0;
out:
	kw_jws_free(j);
	return r;
}

static int
str_in(const char *k, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(k, *list) == 0)
			return 1;
	return 0;
}

int
kw_jws_check_header(const struct kw_jws *j, const char *want_alg, const char *const *allowed)
{
	const json_t *alg, *v;
	const char *k;

	if (j == NULL || !json_is_object(j->header) || want_alg == NULL)
		return KW_ERR_INVALID_ARG;
	if ((alg = json_object_get(j->header, "alg")) == NULL || !json_is_string(alg))
		return KW_ERR_INVALID_FORMAT;
	if (json_string_length(alg) != strlen(want_alg) ||
	    memcmp(json_string_value(alg), want_alg, json_string_length(alg)) != 0)
		return KW_ERR_UNSUPPORTED;
	json_object_foreach(j->header, k, v) {
		(void)v;
		/* No extension is understood, so any "crit" must be refused (RFC 7515 4.1.11). */
		if (strcmp(k, "crit") == 0)
			return KW_ERR_INVALID_FORMAT;
		if (strcmp(k, "alg") != 0 && !str_in(k, allowed))
			return KW_ERR_INVALID_FORMAT;
	}
	return 0;
}

/* 1 when pk is an EC key on P-256. */
static int
is_p256(EVP_PKEY *pk)
{
	char name[64];
	size_t n = 0;

	if (pk == NULL || !EVP_PKEY_is_a(pk, "EC"))
		return 0;
	if (EVP_PKEY_get_group_name(pk, name, sizeof(name), &n) != 1)
		return 0;
	return strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0;
}

int
kw_ecdsa_raw_to_der(const uint8_t *raw, size_t rawlen, uint8_t **ret_der, size_t *ret_len)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	uint8_t *der = NULL, *q;
	size_t n;
	int len, r = KW_ERR_CRYPTO;

	if (raw == NULL || ret_der == NULL || ret_len == NULL)
		return KW_ERR_INVALID_ARG;
	if (rawlen == 0 || rawlen % 2 != 0 || rawlen > 2 * KW_ECDSA_MAX_N)
		return KW_ERR_INVALID_FORMAT;
	n = rawlen / 2;
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (br = BN_bin2bn(raw, (int)n, NULL)) == NULL ||
	    (bs = BN_bin2bn(raw + n, (int)n, NULL)) == NULL)
		goto out;
	if (ECDSA_SIG_set0(es, br, bs) != 1)
		goto out;
	br = bs = NULL;    /* owned by es */
	if ((len = i2d_ECDSA_SIG(es, NULL)) <= 0)
		goto out;
	if ((der = malloc((size_t)len)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	q = der;
	if (i2d_ECDSA_SIG(es, &q) != len)
		goto out;
	*ret_der = der;    /* transferred; free() */
	*ret_len = (size_t)len;
	der = NULL;
	r = 0;
out:
	free(der);
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(es);
	return r;
}

int
kw_ecdsa_der_to_raw(const uint8_t *der, size_t derlen, size_t n, uint8_t *out)
{
	uint8_t tmp[2 * KW_ECDSA_MAX_N], *re = NULL;
	const uint8_t *p = der;
	const BIGNUM *br, *bs;
	ECDSA_SIG *es = NULL;
	int relen, r = KW_ERR_INVALID_FORMAT;

	if (der == NULL || out == NULL || n == 0 || n > KW_ECDSA_MAX_N)
		return KW_ERR_INVALID_ARG;
	if (derlen == 0 || derlen > 2 * (n + 4) + 4)
		return KW_ERR_INVALID_FORMAT;
	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL || p != der + derlen)
		goto out;
	/* Only the canonical DER encoding: re-encoding must give the same bytes. */
	if ((relen = i2d_ECDSA_SIG(es, &re)) <= 0 || (size_t)relen != derlen ||
	    memcmp(re, der, derlen) != 0)
		goto out;
	ECDSA_SIG_get0(es, &br, &bs);
	if (BN_is_negative(br) || BN_is_negative(bs) || BN_num_bytes(br) > (int)n ||
	    BN_num_bytes(bs) > (int)n)
		goto out;
	if (BN_bn2binpad(br, tmp, (int)n) != (int)n || BN_bn2binpad(bs, tmp + n, (int)n) != (int)n) {
		r = KW_ERR_CRYPTO;
		goto out;
	}
	memcpy(out, tmp, 2 * n);
	r = 0;
out:
	OPENSSL_free(re);
	ECDSA_SIG_free(es);
	return r;
}

int
kw_jws_verify_es256(const struct kw_jws *j, EVP_PKEY *pk)
{
	EVP_MD_CTX *md = NULL;
	uint8_t *der = NULL;
	size_t derlen = 0;
	int r;

	if (j == NULL || j->signing_input == NULL || j->sig == NULL)
		return KW_ERR_INVALID_ARG;
	if (!is_p256(pk))
		return KW_ERR_INVALID_ARG;
	if (j->sig_len != KW_ES256_SIG_LEN)
		return KW_ERR_SIG_INVALID;
	if ((r = kw_ecdsa_raw_to_der(j->sig, j->sig_len, &der, &derlen)) != 0)
		return r == KW_ERR_INVALID_FORMAT ? KW_ERR_SIG_INVALID : r;
	r = KW_ERR_CRYPTO;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, pk, NULL) != 1)
		goto out;
	r = EVP_DigestVerify(md, der, derlen, (const uint8_t *)j->signing_input,
	    j->signing_input_len) == 1 ? 0 : KW_ERR_SIG_INVALID;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	free(der);
	return r;
}

int
kw_es256_sign(EVP_PKEY *priv, const void *msg, size_t len, uint8_t sig[static KW_ES256_SIG_LEN])
{
	EVP_MD_CTX *md = NULL;
	uint8_t der[80];
	size_t derlen = sizeof(der);
	int r = KW_ERR_CRYPTO;

	if (msg == NULL && len > 0)
		return KW_ERR_INVALID_ARG;
	if (!is_p256(priv))
		return KW_ERR_INVALID_ARG;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, priv, NULL) != 1 ||
	    EVP_DigestSign(md, der, &derlen, msg == NULL ? (const uint8_t *)"" : msg, len) != 1)
		goto out;
	r = kw_ecdsa_der_to_raw(der, derlen, KW_ES256_SIG_LEN / 2, sig);
	if (r != 0)
		r = KW_ERR_CRYPTO;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	return r;
}

int
kw_jws_signing_input(const json_t *header, const json_t *payload, char **ret, size_t *ret_len)
{
	char *hs = NULL, *ps = NULL, *he = NULL, *pe = NULL, *out = NULL;
	size_t hel, pel, n;
	int r = KW_ERR_NOMEM;

	if (!json_is_object(header) || !json_is_object(payload) || ret == NULL || ret_len == NULL)
		return KW_ERR_INVALID_ARG;
	if ((hs = kw_json_dumps(header, JSON_COMPACT)) == NULL ||
	    (ps = kw_json_dumps(payload, JSON_COMPACT)) == NULL)
		goto out;
	/* Never produce what kw_jws_parse would refuse. */
	if (strlen(hs) > KW_JWS_HEADER_MAX) {
		r = KW_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = kw_b64url_encode(hs, strlen(hs), &he)) != 0 ||
	    (r = kw_b64url_encode(ps, strlen(ps), &pe)) != 0)
		goto out;
	hel = strlen(he);
	pel = strlen(pe);
	n = hel + 1 + pel;
	if (n >= KW_JWS_MAX) {
		r = KW_ERR_TOO_LARGE;
		goto out;
	}
	if ((out = malloc(n + 1)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	memcpy(out, he, hel);
	out[hel] = '.';
	memcpy(out + hel + 1, pe, pel + 1);
	*ret = out;    /* transferred; free() */
	*ret_len = n;
	r = 0;
out:
	kw_free_wipe(hs);
	kw_free_wipe(ps);
	kw_free_wipe(he);
	kw_free_wipe(pe);
	return r;
}

int
kw_jws_compact(const char *signing_input, const uint8_t *sig, size_t sig_len, char **ret)
{
	char *se = NULL, *out;
	size_t sil, sel;
	int r;

	if (signing_input == NULL || sig == NULL || sig_len == 0 || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_b64url_encode(sig, sig_len, &se)) != 0)
		return r;
	sil = strlen(signing_input);
	sel = strlen(se);
	if ((out = malloc(sil + 1 + sel + 1)) == NULL) {
		free(se);
		return KW_ERR_NOMEM;
	}
	memcpy(out, signing_input, sil);
	out[sil] = '.';
	memcpy(out + sil + 1, se, sel + 1);
	free(se);
	*ret = out;    /* transferred; free() */
	return 0;
}

int
kw_jose_ath(const char *token, size_t len, char out[static KW_B64URL_SHA256_SIZE])
{
	uint8_t md[32];
	unsigned int mdlen = 0;
	char *enc = NULL;
	int r;

	if (token == NULL && len > 0)
		return KW_ERR_INVALID_ARG;
	if (EVP_Digest(token == NULL ? "" : token, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != sizeof(md))
		return KW_ERR_CRYPTO;
	if ((r = kw_b64url_encode(md, sizeof(md), &enc)) != 0)
		return r;
	if (strlen(enc) != KW_B64URL_SHA256_LEN) {
		free(enc);
		return KW_ERR_INTERNAL;
	}
	memcpy(out, enc, KW_B64URL_SHA256_SIZE);
	free(enc);
	return 0;
}
