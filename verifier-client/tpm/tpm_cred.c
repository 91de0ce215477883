/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credential activation, the verifier's half (tpm_cred.h): EK certificates
 * to the manufacturer CAs (through tpm_ca) and TPM2_MakeCredential in software (TPM 2.0 Part 1 §24, Part 2 TPMS_ID_OBJECT).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "kw_util.h"
#include "tpm_cred.h"

#define TPM_CRED_EK_BITS 2048
#define TPM_CRED_SEED_LEN 32         /* the digest size of the EK's nameAlg (SHA-256) */
#define TPM_CRED_SYM_LEN 16          /* AES-128 (EK template L-1) */

int
tpm_ek_cert_verify(const struct tpm_ca *ca, const uint8_t *der, size_t len, const uint8_t *const *chain,
    const size_t *chain_lens, size_t nchain, int64_t at, EVP_PKEY **ret_ek, json_t **ret_claims,
    const char **why)
{
	int r;
	EVP_PKEY *pk = NULL;
	json_t *info = NULL;
	unsigned char *spki = NULL;
	int spki_len;
	uint8_t d[32];
	char *hex = NULL;

	if (ret_ek == NULL) {
		*why = "invalid arguments";
		return KW_ERR_INVALID_ARG;
	}
	if ((r = tpm_ca_verify_chain(ca, TPM_CA_EK, der, len, chain, chain_lens, nchain, at, &pk,
	    ret_claims != NULL ? &info : NULL, why)) != 0)
		return r;
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pk) != TPM_CRED_EK_BITS) {
		r = KW_ERR_UNSUPPORTED;
		*why = "the EK must be RSA-2048 (EK template L-1)";
		goto out;
	}
	if (info != NULL) {
		/* the TPM's identity: SHA-256 of the EK's SubjectPublicKeyInfo */
		*why = "out of memory";
		r = KW_ERR_CRYPTO;
		if ((spki_len = i2d_PUBKEY(pk, &spki)) <= 0 || (r = kw_sha256(spki, (size_t)spki_len, d)) != 0 ||
		    (r = kw_hex_encode(d, sizeof(d), &hex)) != 0)
			goto out;
		r = KW_ERR_NOMEM;
		if (json_object_set_new(info, "spki_sha256", json_string(hex)) != 0)
			goto out;
		*ret_claims = info;
		info = NULL;   /* transferred */
	}
	*ret_ek = pk;
	pk = NULL;   /* transferred */
	r = 0;
out:
	OPENSSL_free(spki);
	free(hex);
	json_decref(info);
	EVP_PKEY_free(pk);
	return r;
}

/*
 * KDFa (Part 1 §11.4.10.2): SP 800-108 counter mode with HMAC: for each block
 * HMAC(key, [i]32 ‖ label ‖ 0x00 ‖ contextU ‖ contextV ‖ [bits]32), which is
 * OpenSSL's KBKDF in counter mode with the label as "salt" and the contexts
 * as "info".
 */
static int
kdfa(const char *mdname, const uint8_t *key, size_t key_len, const char *label, const uint8_t *ctx_u,
    size_t ctx_u_len, uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[7], *p = params;
	int r = KW_ERR_CRYPTO;

	if ((kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_KBKDF, NULL)) == NULL ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (char *)(uintptr_t)"counter", 0);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, (char *)(uintptr_t)"HMAC", 0);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)(uintptr_t)mdname, 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)key, key_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)(uintptr_t)label,
	    strlen(label));
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)(uintptr_t)ctx_u, ctx_u_len);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, out_len, params) != 1)
		goto out;
	r = 0;
out:
	ERR_clear_error();
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return r;
}

/* RSA-OAEP(SHA-256, label "IDENTITY\0") of the seed to the EK (Part 1 §B.10.3). */
static int
seal_seed(EVP_PKEY *ek, const uint8_t *seed, size_t seed_len, TPM2B_ENCRYPTED_SECRET *ret)
{
	static const char label[] = "IDENTITY";   /* the label includes its NUL */
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *l = NULL;
	size_t outlen = sizeof(ret->secret);
	int r = KW_ERR_CRYPTO;

	if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, ek, NULL)) == NULL ||
	    EVP_PKEY_encrypt_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1)
		goto out;
	if ((l = OPENSSL_memdup(label, sizeof(label))) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_CTX_set0_rsa_oaep_label(pctx, l, (int)sizeof(label)) != 1)
		goto out;
	l = NULL;   /* owned by pctx */
	if (EVP_PKEY_encrypt(pctx, ret->secret, &outlen, seed, seed_len) != 1 || outlen > UINT16_MAX)
		goto out;
	ret->size = (UINT16)outlen;
	r = 0;
out:
	ERR_clear_error();
	OPENSSL_free(l);
	EVP_PKEY_CTX_free(pctx);
	return r;
}

int
tpm_cred_make(EVP_PKEY *ek, const uint8_t *name, size_t name_len, const uint8_t *cred, size_t cred_len,
    uint8_t **ret_blob, size_t *ret_blob_len, uint8_t **ret_secret, size_t *ret_secret_len)
{
	int r = KW_ERR_INTERNAL;
	uint8_t seed[TPM_CRED_SEED_LEN], sym[TPM_CRED_SYM_LEN], hkey[TPM_CRED_SEED_LEN];
	uint8_t iv[16], plain[sizeof(TPM2B_DIGEST)], enc[sizeof(TPM2B_DIGEST)], mac_in[sizeof(TPM2B_DIGEST) +
	    TPM_CRED_MAX_NAME];
	uint8_t blob_buf[sizeof(TPM2B_ID_OBJECT)], sec_buf[sizeof(TPM2B_ENCRYPTED_SECRET)];
	uint8_t *blob = NULL, *sec = NULL;
	size_t plain_len = 0, blob_len = 0, sec_len = 0, id_len = 0;
	unsigned int hl = 0;
	TPM2B_DIGEST c, hmac;
	TPM2B_ENCRYPTED_SECRET es;
	TPM2B_ID_OBJECT id;
	EVP_CIPHER_CTX *cctx = NULL;
	int outl = 0, finl = 0;

	memset(&c, 0, sizeof(c));
	memset(&hmac, 0, sizeof(hmac));
	memset(&es, 0, sizeof(es));
	memset(&id, 0, sizeof(id));
	if (ek == NULL || name == NULL || name_len == 0 || name_len > TPM_CRED_MAX_NAME || cred == NULL ||
	    cred_len == 0 || cred_len > TPM_CRED_SECRET_LEN || ret_blob == NULL || ret_blob_len == NULL ||
	    ret_secret == NULL || ret_secret_len == NULL)
		return KW_ERR_INVALID_ARG;
	if (EVP_PKEY_get_base_id(ek) != EVP_PKEY_RSA || EVP_PKEY_get_bits(ek) != TPM_CRED_EK_BITS)
		return KW_ERR_UNSUPPORTED;

	if (RAND_priv_bytes(seed, sizeof(seed)) != 1) {
		r = KW_ERR_CRYPTO;
		goto out;
	}
	if ((r = seal_seed(ek, seed, sizeof(seed), &es)) != 0)
		goto out;
	/* symKey = KDFa(nameAlg, seed, "STORAGE", name, NULL, 128); HMACkey = KDFa(.., "INTEGRITY", NULL, NULL, 256) */
	if ((r = kdfa("SHA256", seed, sizeof(seed), "STORAGE", name, name_len, sym, sizeof(sym))) != 0 ||
	    (r = kdfa("SHA256", seed, sizeof(seed), "INTEGRITY", NULL, 0, hkey, sizeof(hkey))) != 0)
		goto out;

	/* encIdentity: the marshalled TPM2B_DIGEST credential (size included), AES-128-CFB, IV 0 */
	c.size = (UINT16)cred_len;
	memcpy(c.buffer, cred, cred_len);
	if (Tss2_MU_TPM2B_DIGEST_Marshal(&c, plain, sizeof(plain), &plain_len) != TSS2_RC_SUCCESS) {
		r = KW_ERR_INTERNAL;
		goto out;
	}
	memset(iv, 0, sizeof(iv));
	r = KW_ERR_CRYPTO;
	if ((cctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(cctx, EVP_aes_128_cfb128(), NULL, sym, iv) != 1 ||
	    EVP_EncryptUpdate(cctx, enc, &outl, plain, (int)plain_len) != 1 ||
	    EVP_EncryptFinal_ex(cctx, enc + outl, &finl) != 1 || (size_t)outl + (size_t)finl != plain_len)
		goto out;

	/* outerHMAC = HMAC(nameAlg, HMACkey, encIdentity ‖ name) */
	memcpy(mac_in, enc, plain_len);
	memcpy(mac_in + plain_len, name, name_len);
	if (HMAC(EVP_sha256(), hkey, (int)sizeof(hkey), mac_in, plain_len + name_len, hmac.buffer, &hl) == NULL ||
	    hl != TPM_CRED_SEED_LEN)
		goto out;
	hmac.size = (UINT16)hl;

	/* TPM2B_ID_OBJECT: TPM2B_DIGEST integrityHMAC ‖ encIdentity (its size is inside the encryption) */
	r = KW_ERR_INTERNAL;
	if (Tss2_MU_TPM2B_DIGEST_Marshal(&hmac, id.credential, sizeof(id.credential), &id_len) !=
	    TSS2_RC_SUCCESS || plain_len > sizeof(id.credential) - id_len)
		goto out;
	memcpy(id.credential + id_len, enc, plain_len);
	id.size = (UINT16)(id_len + plain_len);
	if (Tss2_MU_TPM2B_ID_OBJECT_Marshal(&id, blob_buf, sizeof(blob_buf), &blob_len) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&es, sec_buf, sizeof(sec_buf), &sec_len) != TSS2_RC_SUCCESS ||
	    blob_len > TPM_CRED_MAX_BLOB || sec_len > TPM_CRED_MAX_BLOB)
		goto out;
	r = KW_ERR_NOMEM;
	if ((blob = malloc(blob_len)) == NULL || (sec = malloc(sec_len)) == NULL)
		goto out;
	memcpy(blob, blob_buf, blob_len);
	memcpy(sec, sec_buf, sec_len);
	*ret_blob = blob;
	*ret_blob_len = blob_len;
	*ret_secret = sec;
	*ret_secret_len = sec_len;
	blob = NULL;   /* transferred */
	sec = NULL;    /* transferred */
	r = 0;
out:
	ERR_clear_error();
	EVP_CIPHER_CTX_free(cctx);
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(sym, sizeof(sym));
	OPENSSL_cleanse(hkey, sizeof(hkey));
	OPENSSL_cleanse(plain, sizeof(plain));
	OPENSSL_cleanse(&c, sizeof(c));
	OPENSSL_cleanse(enc, sizeof(enc));
	OPENSSL_cleanse(mac_in, sizeof(mac_in));
	free(blob);
	free(sec);
	return r;
}
