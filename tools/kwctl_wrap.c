/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Import wrapping (docs/admin.md "Import without the value ever entering
 * keywarden"): a fresh AES-256 KEK, RSA-OAEP (SHA-1, MGF1-SHA-1) under the
 * HSM's import key, and the value under the KEK with AES key wrap with
 * padding (RFC 5649). SoftHSM 2.6 unwraps OAEP with SHA-1 only (PKCS11.md).
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_util.h"
#include "kwctl.h"

#define KWCTL_KEK_LEN 32
#define KWCTL_IMPORT_MIN_BITS 3072
#define KWCTL_KID_MAX 256

/* RSA-OAEP-SHA1 of the KEK; *ret (malloc) is not secret. */
static int
wrap_kek(EVP_PKEY *pub, const struct kw_secret *kek, uint8_t **ret, size_t *ret_len)
{
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t *out = NULL;
	size_t olen = 0;
	int r = KW_ERR_CRYPTO;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL)) == NULL ||
	    EVP_PKEY_encrypt_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) <= 0 ||
	    EVP_PKEY_encrypt(ctx, NULL, &olen, kw_secret_cptr(kek), kw_secret_len(kek)) <= 0)
		goto out;
	if ((out = malloc(olen)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_encrypt(ctx, out, &olen, kw_secret_cptr(kek), kw_secret_len(kek)) <= 0)
		goto out;
	*ret = out;
	*ret_len = olen;
	out = NULL;   /* transferred */
	r = 0;
out:
	free(out);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* RFC 5649 wrap of in under kek; *ret (malloc) is not secret. */
static int
wrap_value(const struct kw_secret *kek, const struct kw_secret *in, uint8_t **ret, size_t *ret_len)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t *out = NULL;
	size_t cap = kw_secret_len(in) + 16;
	int n = 0, fin = 0, r = KW_ERR_CRYPTO;

	if (kw_secret_len(in) > KWCTL_MAX_SECRET + 16)
		return KW_ERR_TOO_LARGE;
	if ((out = malloc(cap)) == NULL)
		return KW_ERR_NOMEM;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_wrap_pad(), NULL, kw_secret_cptr(kek), NULL) != 1 ||
	    EVP_EncryptUpdate(ctx, out, &n, kw_secret_cptr(in), (int)kw_secret_len(in)) != 1 ||
	    n < 0 || EVP_EncryptFinal_ex(ctx, out + n, &fin) != 1 || fin < 0 ||
	    (size_t)n + (size_t)fin > cap)
		goto out;
	*ret = out;
	*ret_len = (size_t)n + (size_t)fin;
	out = NULL;   /* transferred */
	r = 0;
out:
	free(out);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int
kwctl_wrap(const json_t *import_key, const struct kw_secret *value, json_t **ret)
{
	struct kw_secret *kek = NULL, *padded = NULL;
	const json_t *jwk;
	const char *kid;
	size_t kidlen, vlen = kw_secret_len(value), plen;
	EVP_PKEY *pub = NULL;
	uint8_t *wk = NULL, *wv = NULL;
	size_t wklen = 0, wvlen = 0;
	char *bk = NULL, *bv = NULL;
	json_t *w = NULL;
	int r;

	if (!json_is_object(import_key) ||
	    (r = kw_json_get_str(import_key, "kid", &kid, &kidlen)) != 0 ||
	    kidlen == 0 || kidlen > KWCTL_KID_MAX || strlen(kid) != kidlen ||
	    !json_is_object(jwk = json_object_get(import_key, "jwk"))) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((r = kw_jwk_import_public(jwk, &pub)) != 0)
		goto out;
	if (EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(pub) < KWCTL_IMPORT_MIN_BITS) {
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	if (vlen == 0 || vlen > KWCTL_MAX_SECRET) {
		r = KW_ERR_INVALID_ARG;
		goto out;
	}
	/* PKCS#7 to a multiple of 16 unless it is one already (docs/admin.md). */
	plen = vlen % 16 == 0 ? vlen : (vlen / 16 + 1) * 16;
	if ((r = kw_secret_new(KWCTL_KEK_LEN, &kek)) != 0 || (r = kw_secret_new(plen, &padded)) != 0)
		goto out;
	memcpy(kw_secret_ptr(padded), kw_secret_cptr(value), vlen);
	memset(kw_secret_ptr(padded) + vlen, (int)(plen - vlen), plen - vlen);
	if (RAND_priv_bytes(kw_secret_ptr(kek), KWCTL_KEK_LEN) != 1) {
		r = KW_ERR_CRYPTO;
		goto out;
	}
	if ((r = wrap_kek(pub, kek, &wk, &wklen)) != 0 ||
	    (r = wrap_value(kek, padded, &wv, &wvlen)) != 0 ||
	    (r = kw_b64url_encode(wk, wklen, &bk)) != 0 ||
	    (r = kw_b64url_encode(wv, wvlen, &bv)) != 0)
		goto out;
	if ((w = json_pack("{s:s%,s:s,s:s}", "kid", kid, kidlen, "kek", bk, "value", bv)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	*ret = w;
	w = NULL;   /* transferred */
	r = 0;
out:
	json_decref(w);
	kw_free_wipe(bk);
	kw_free_wipe(bv);
	kw_free_wipe(wk);
	kw_free_wipe(wv);
	EVP_PKEY_free(pub);
	kw_secret_free(kek);
	kw_secret_free(padded);
	return r;
}
