/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compact JWE decryption for the release profile RSA-OAEP + A256CBC-HS512
 * (RFC 7516 §7.1, RFC 7518 §4.3 and §5.2.2/§5.2.5). Strict: five parts, caps
 * on every part, exact header, exact sizes; the tag is checked before the
 * ciphertext is decrypted.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "attester.h"
#include "kw_b64url.h"
#include "kw_json.h"

#define CEK_LEN 64
#define HALF_LEN 32
#define IV_LEN 16
#define TAG_LEN 32
#define MAX_EK 1024 /* RSA-8192 */
#define MAX_KID 256

struct part {
	const char *p;
	size_t len;
};

static int
split(const char *jwe, size_t len, struct part parts[static 5])
{
	size_t start = 0, n = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && jwe[i] == '\0')
			return KW_ERR_INVALID_FORMAT;
		if (i == len || jwe[i] == '.') {
			if (n == 5)
				return KW_ERR_INVALID_FORMAT;
			parts[n].p = jwe + start;
			parts[n].len = i - start;
			if (parts[n].len == 0)
				return KW_ERR_INVALID_FORMAT; /* every part is required here */
			n++;
			start = i + 1;
		}
	}
	return n == 5 ? 0 : KW_ERR_INVALID_FORMAT;
}

static int
check_header(const struct part *h, char **ret_kid)
{
	static const char *const keys[] = {"alg", "enc", "kid", NULL};
	uint8_t buf[ATT_MAX_JWE_HEADER];
	size_t len = 0, slen;
	const char *s;
	char *kid = NULL;
	json_t *j = NULL;
	int r;

	if (h->len > ATT_MAX_JWE_HEADER)
		return KW_ERR_TOO_LARGE;
	if ((r = kw_b64url_decode(h->p, h->len, buf, sizeof(buf), &len)) != 0)
		return r;
	if ((r = kw_json_parse(buf, len, sizeof(buf), &j)) != 0 ||
	    (r = kw_json_check_keys(j, keys)) != 0)
		goto out;
	r = KW_ERR_INVALID_FORMAT; /* alg and enc are required strings */
	if (kw_json_get_str(j, "alg", &s, &slen) != 0)
		goto out;
	if (strcmp(s, "RSA-OAEP") != 0) {
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	r = KW_ERR_INVALID_FORMAT;
	if (kw_json_get_str(j, "enc", &s, &slen) != 0)
		goto out;
	if (strcmp(s, "A256CBC-HS512") != 0) {
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	r = kw_json_get_str(j, "kid", &s, &slen);
	if (r == KW_ERR_NOT_FOUND) {
		s = NULL;
	} else if (r != 0) {
		goto out;
	} else if (slen > MAX_KID) {
		r = KW_ERR_TOO_LARGE;
		goto out;
	}
	if (ret_kid != NULL && s != NULL && (kid = strdup(s)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if (ret_kid != NULL)
		*ret_kid = kid;
	r = 0;
out:
	json_decref(j);
	return r;
}

static int
oaep_unwrap(EVP_PKEY *rsa, const uint8_t *ek, size_t ek_len, struct kw_secret **ret)
{
	struct kw_secret *cek = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t outlen;
	int r = KW_ERR_CRYPTO;

	if ((r = kw_secret_new(ek_len, &cek)) != 0)
		return r;
	r = KW_ERR_CRYPTO;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, rsa, NULL)) == NULL ||
	    EVP_PKEY_decrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA1", NULL) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA1", NULL) != 1)
		goto out;
	outlen = kw_secret_len(cek);
	if (EVP_PKEY_decrypt(ctx, kw_secret_ptr(cek), &outlen, ek, ek_len) != 1 || outlen != CEK_LEN) {
		r = KW_ERR_SIG_INVALID;
		goto out;
	}
	kw_secret_set_len(cek, CEK_LEN);
	*ret = cek;
	cek = NULL; /* transferred */
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	kw_secret_free(cek);
	return r;
}

/* Constant-time tag check: HMAC-SHA-512(MAC_KEY, AAD || IV || CT || AL)[0:32]. */
static int
check_tag(const uint8_t mac_key[static HALF_LEN], const struct part *aad, const uint8_t *iv,
    const uint8_t *ct, size_t ct_len, const uint8_t *tag)
{
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	uint8_t md[64], al[8];
	uint64_t bits = (uint64_t)aad->len * 8;
	size_t mdlen = 0;
	OSSL_PARAM params[2];
	char digest[] = "SHA512";
	int r = KW_ERR_CRYPTO;

	for (size_t i = 0; i < 8; i++)
		al[i] = (uint8_t)(bits >> (56 - 8 * i));
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL || (ctx = EVP_MAC_CTX_new(mac)) == NULL)
		goto out;
	if (EVP_MAC_init(ctx, mac_key, HALF_LEN, params) != 1 ||
	    EVP_MAC_update(ctx, (const uint8_t *)aad->p, aad->len) != 1 ||
	    EVP_MAC_update(ctx, iv, IV_LEN) != 1 || EVP_MAC_update(ctx, ct, ct_len) != 1 ||
	    EVP_MAC_update(ctx, al, sizeof(al)) != 1 ||
	    EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) != 1 || mdlen != sizeof(md))
		goto out;
	/* constant time */
	r = CRYPTO_memcmp(md, tag, TAG_LEN) == 0 ? 0 : KW_ERR_SIG_INVALID;
out:
	OPENSSL_cleanse(md, sizeof(md));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

static int
cbc_decrypt(const uint8_t enc_key[static HALF_LEN], const uint8_t *iv, const uint8_t *ct,
    size_t ct_len, struct kw_secret **ret)
{
	struct kw_secret *pt = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	int n1 = 0, n2 = 0, r;

	if (ct_len > ATT_MAX_PLAINTEXT + IV_LEN || ct_len > (size_t)INT32_MAX)
		return KW_ERR_TOO_LARGE;
	if ((r = kw_secret_new(ct_len, &pt)) != 0)
		return r;
	r = KW_ERR_CRYPTO;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex2(ctx, EVP_aes_256_cbc(), enc_key, iv, NULL) != 1)
		goto out;
	if (EVP_DecryptUpdate(ctx, kw_secret_ptr(pt), &n1, ct, (int)ct_len) != 1)
		goto out;
	r = KW_ERR_INVALID_FORMAT; /* authenticated, yet badly padded */
	if (EVP_DecryptFinal_ex(ctx, kw_secret_ptr(pt) + n1, &n2) != 1)
		goto out;
	if (n1 < 0 || n2 < 0 || (size_t)n1 + (size_t)n2 == 0 || (size_t)n1 + (size_t)n2 > ct_len)
		goto out;
	kw_secret_set_len(pt, (size_t)n1 + (size_t)n2);
	*ret = pt;
	pt = NULL; /* transferred */
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx); /* clears the key schedule */
	kw_secret_free(pt);
	return r;
}

int
att_jwe_decrypt(const char *jwe, size_t jwe_len, EVP_PKEY *rsa, struct kw_secret **ret_plain,
    char **ret_kid)
{
	struct part parts[5];
	struct kw_secret *cek = NULL, *pt = NULL;
	uint8_t ek[MAX_EK], iv[IV_LEN], tag[TAG_LEN], *ct = NULL;
	size_t ek_len = 0, iv_len = 0, tag_len = 0, ct_len = 0;
	char *kid = NULL;
	int r, rsa_size;

	if (jwe == NULL || rsa == NULL || ret_plain == NULL)
		return KW_ERR_INVALID_ARG;
	if (!EVP_PKEY_is_a(rsa, "RSA"))
		return KW_ERR_INVALID_ARG;
	if (jwe_len > ATT_MAX_JWE)
		return KW_ERR_TOO_LARGE;
	if ((r = split(jwe, jwe_len, parts)) != 0)
		return r;
	if ((r = check_header(&parts[0], ret_kid != NULL ? &kid : NULL)) != 0)
		return r;
	rsa_size = EVP_PKEY_get_size(rsa);
	if ((r = kw_b64url_decode(parts[1].p, parts[1].len, ek, sizeof(ek), &ek_len)) != 0 ||
	    (r = kw_b64url_decode(parts[2].p, parts[2].len, iv, sizeof(iv), &iv_len)) != 0 ||
	    (r = kw_b64url_decode(parts[4].p, parts[4].len, tag, sizeof(tag), &tag_len)) != 0 ||
	    (r = kw_b64url_decode_alloc(parts[3].p, parts[3].len, ATT_MAX_PLAINTEXT + IV_LEN, &ct,
	    &ct_len)) != 0)
		goto out;
	r = KW_ERR_INVALID_FORMAT;
	if (rsa_size <= 0 || ek_len != (size_t)rsa_size || iv_len != IV_LEN || tag_len != TAG_LEN ||
	    ct_len == 0 || ct_len % 16 != 0)
		goto out;
	if ((r = oaep_unwrap(rsa, ek, ek_len, &cek)) != 0)
		goto out;
	/* CEK = MAC_KEY (first 32 bytes) || ENC_KEY (last 32 bytes) */
	if ((r = check_tag(kw_secret_cptr(cek), &parts[0], iv, ct, ct_len, tag)) != 0)
		goto out;
	if ((r = cbc_decrypt(kw_secret_cptr(cek) + HALF_LEN, iv, ct, ct_len, &pt)) != 0)
		goto out;
	*ret_plain = pt;
	pt = NULL; /* transferred */
	if (ret_kid != NULL) {
		*ret_kid = kid;
		kid = NULL; /* transferred */
	}
	r = 0;
out:
	kw_secret_free(cek);
	kw_secret_free(pt);
	free(ct);
	free(kid);
	return r;
}
