/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include "hsm_jwe.h"
#include "kw_json.h"
#include "kw_b64url.h"
#include "kw_util.h"

int
hsm_jwe_tag(const uint8_t *mac_key, size_t mac_key_len, const uint8_t *aad, size_t aad_len,
    const uint8_t *iv, size_t iv_len, const uint8_t *ct, size_t ct_len,
    uint8_t tag[static HSM_JWE_TAG_LEN])
{
	char digest[] = "SHA512";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	uint8_t full[64], al[8];
	uint64_t bits;
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	size_t outl = 0;
	int r = KW_ERR_CRYPTO;

	if (aad_len > UINT64_MAX / 8)
		return KW_ERR_INVALID_ARG;
	bits = (uint64_t)aad_len * 8;
	for (int i = 0; i < 8; i++)
		al[i] = (uint8_t)(bits >> (56 - 8 * i));
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL || (ctx = EVP_MAC_CTX_new(mac)) == NULL)
		goto out;
	if (EVP_MAC_init(ctx, mac_key, mac_key_len, params) != 1 ||
	    EVP_MAC_update(ctx, aad, aad_len) != 1 || EVP_MAC_update(ctx, iv, iv_len) != 1 ||
	    EVP_MAC_update(ctx, ct, ct_len) != 1 || EVP_MAC_update(ctx, al, sizeof(al)) != 1 ||
	    EVP_MAC_final(ctx, full, &outl, sizeof(full)) != 1 || outl != sizeof(full))
		goto out;
	memcpy(tag, full, HSM_JWE_TAG_LEN);
	r = 0;
out:
	OPENSSL_cleanse(full, sizeof(full));
	EVP_MAC_CTX_free(ctx);    /* cleanses the keyed state */
	EVP_MAC_free(mac);
	return r;
}

/* b64url(JSON header) with the fixed member order alg, enc, kid. */
static int
header_b64(const char *kid, char **ret)
{
	json_t *h = NULL;
	char *js = NULL;
	int r = KW_ERR_NOMEM;

	if ((h = json_object()) == NULL ||
	    json_object_set_new(h, "alg", json_string("RSA-OAEP")) != 0 ||
	    json_object_set_new(h, "enc", json_string("A256CBC-HS512")) != 0 ||
	    json_object_set_new(h, "kid", json_string(kid)) != 0)
		goto out;
	if ((js = kw_json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		goto out;
	r = kw_b64url_encode(js, strlen(js), ret);
out:
	free(js);
	json_decref(h);
	return r;
}

int
hsm_jwe_compact(const char *kid, const uint8_t *ek, size_t ek_len,
    const uint8_t iv[static HSM_JWE_IV_LEN], const uint8_t *ct, size_t ct_len,
    const struct kw_secret *mac_key, char **ret)
{
	char *parts[5] = {NULL, NULL, NULL, NULL, NULL}, *out = NULL;
	uint8_t tag[HSM_JWE_TAG_LEN];
	size_t total = 0, o = 0;
	int r;

	if (kid == NULL || ek == NULL || ct == NULL || mac_key == NULL ||
	    kw_secret_len(mac_key) != HSM_JWE_MAC_KEY_LEN)
		return KW_ERR_INVALID_ARG;
	if ((r = header_b64(kid, &parts[0])) != 0)
		goto out;
	if ((r = hsm_jwe_tag(kw_secret_cptr(mac_key), HSM_JWE_MAC_KEY_LEN, (const uint8_t *)parts[0],
	    strlen(parts[0]), iv, HSM_JWE_IV_LEN, ct, ct_len, tag)) != 0)
		goto out;
	if ((r = kw_b64url_encode(ek, ek_len, &parts[1])) != 0 ||
	    (r = kw_b64url_encode(iv, HSM_JWE_IV_LEN, &parts[2])) != 0 ||
	    (r = kw_b64url_encode(ct, ct_len, &parts[3])) != 0 ||
	    (r = kw_b64url_encode(tag, sizeof(tag), &parts[4])) != 0)
		goto out;
	for (size_t i = 0; i < 5; i++)
		total += strlen(parts[i]) + 1;    /* '.' or the final NUL */
	r = KW_ERR_NOMEM;
	if ((out = malloc(total)) == NULL)
		goto out;
	for (size_t i = 0; i < 5; i++) {
		size_t l = strlen(parts[i]);

		memcpy(out + o, parts[i], l);
		o += l;
		out[o++] = i < 4 ? '.' : '\0';
	}
	*ret = out;
	out = NULL;    /* transferred */
	r = 0;
out:
	for (size_t i = 0; i < 5; i++)
		free(parts[i]);
	free(out);
	return r;
}

#define JWE_MAX_PART 8192

int
hsm_jwe_decrypt(const char *jwe, struct evp_pkey_st *priv, uint8_t *out, size_t max,
    size_t *ret_len)
{
	const char *dot[4], *p = jwe;
	uint8_t *ek = NULL, *iv = NULL, *ct = NULL, *tag = NULL, *hdr = NULL, *pt = NULL;
	uint8_t cek[1024], calc[HSM_JWE_TAG_LEN]; /* OpenSSL wants room for a full RSA block */
	size_t ek_len, iv_len, ct_len, tag_len, hdr_len, cek_len = sizeof(cek), pt_len;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_CIPHER_CTX *cctx = NULL;
	json_t *h = NULL;
	json_error_t jerr;
	int outl = 0, finl = 0, ct_int, r = KW_ERR_INVALID_FORMAT;

	for (int i = 0; i < 4; i++) {
		if ((dot[i] = strchr(p, '.')) == NULL)
			return KW_ERR_INVALID_FORMAT;
		p = dot[i] + 1;
	}
	if (strchr(p, '.') != NULL)
		return KW_ERR_INVALID_FORMAT;
	if (kw_b64url_decode_alloc(jwe, (size_t)(dot[0] - jwe), JWE_MAX_PART, &hdr, &hdr_len) != 0 ||
	    kw_b64url_decode_alloc(dot[0] + 1, (size_t)(dot[1] - dot[0] - 1), JWE_MAX_PART, &ek,
	    &ek_len) != 0 ||
	    kw_b64url_decode_alloc(dot[1] + 1, (size_t)(dot[2] - dot[1] - 1), JWE_MAX_PART, &iv,
	    &iv_len) != 0 ||
	    kw_b64url_decode_alloc(dot[2] + 1, (size_t)(dot[3] - dot[2] - 1), JWE_MAX_PART, &ct,
	    &ct_len) != 0 ||
	    kw_b64url_decode_alloc(dot[3] + 1, strlen(dot[3] + 1), JWE_MAX_PART, &tag, &tag_len) != 0)
		goto out;
	if (iv_len != HSM_JWE_IV_LEN || tag_len != HSM_JWE_TAG_LEN || ct_len == 0 || ct_len % 16 != 0)
		goto out;
	if ((h = json_loadb((const char *)hdr, hdr_len, JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
	    !json_is_string(json_object_get(h, "alg")) || !json_is_string(json_object_get(h, "enc")) ||
	    strcmp(json_string_value(json_object_get(h, "alg")), "RSA-OAEP") != 0 ||
	    strcmp(json_string_value(json_object_get(h, "enc")), "A256CBC-HS512") != 0)
		goto out;
	r = KW_ERR_CRYPTO;
	if ((pctx = EVP_PKEY_CTX_new(priv, NULL)) == NULL || EVP_PKEY_decrypt_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha1()) != 1)
		goto out;
	if (EVP_PKEY_decrypt(pctx, cek, &cek_len, ek, ek_len) != 1 || cek_len != 64) {
		r = KW_ERR_SIG_INVALID;
		goto out;
	}
	if ((r = hsm_jwe_tag(cek, 32, (const uint8_t *)jwe, (size_t)(dot[0] - jwe), iv, iv_len, ct,
	    ct_len, calc)) != 0)
		goto out;
	/* constant time: the tag comparison */
	if (CRYPTO_memcmp(calc, tag, sizeof(calc)) != 0) {
		r = KW_ERR_SIG_INVALID;
		goto out;
	}
	r = KW_ERR_CRYPTO;
	if (ct_len > JWE_MAX_PART || (pt = malloc(ct_len)) == NULL)
		goto out;
	ct_int = (int)ct_len;
	if ((cctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, cek + 32, iv) != 1 ||
	    EVP_DecryptUpdate(cctx, pt, &outl, ct, ct_int) != 1 ||
	    EVP_DecryptFinal_ex(cctx, pt + outl, &finl) != 1)
		goto out;
	pt_len = (size_t)outl + (size_t)finl;
	if (pt_len > max) {
		r = KW_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(out, pt, pt_len);
	*ret_len = pt_len;
	r = 0;
out:
	OPENSSL_cleanse(cek, sizeof(cek));
	if (pt != NULL)
		kw_free_wipe(pt);
	free(hdr);
	free(ek);
	free(iv);
	free(ct);
	free(tag);
	json_decref(h);
	EVP_PKEY_CTX_free(pctx);
	EVP_CIPHER_CTX_free(cctx);
	return r;
}
