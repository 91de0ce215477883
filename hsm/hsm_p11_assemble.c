/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Release with helper assembly (keywarden-hsm --release-assembly helper,
 * docs/hsm.md "Release through a network HSM").
 *
 * Some PKCS#11 modules cannot do the in-token construction of PKCS11.md 3.2:
 * p11-kit's remote module 0.24 (Debian 12) forwards only mechanisms whose
 * parameters it can serialise, which excludes CKM_AES_CBC and
 * CKM_AES_ECB_ENCRYPT_DATA (PKCS11.md 6.10). What does pass is RSA-OAEP
 * (SHA-1) C_WrapKey. So the helper wraps the secret to a transport key of its
 * own (an RSA-2048 key pair generated in helper memory at the first such
 * release; its public half is a session object with CKA_WRAP only and
 * CKA_ALLOWED_MECHANISMS = {CKM_RSA_PKCS_OAEP}), unwraps it in its own
 * memory (a kw_secret: mlocked, not dumpable, wiped), and builds the same
 * RSA-OAEP + A256CBC-HS512 JWE with OpenSSL. The broker never sees the
 * value; the helper does, for the time of one release. The output is the
 * same format, so clients see no difference.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <p11-kit/pkcs11.h>

#include "hsm_jwe.h"
#include "kw_log.h"
#include "kw_secret.h"
#include "kw_util.h"
#include "hsm_p11_int.h"

#define XPORT_BITS 2048
#define XPORT_LEN (XPORT_BITS / 8)
/* RSA-OAEP with SHA-1 carries at most k - 2 * 20 - 2 bytes: 214, so stored values up to 208 */
#define XPORT_VALUE_MAX (XPORT_LEN - 2 * 20 - 2)

void
hsm_p11_set_helper_assembly(struct hsm_p11 *p, bool on)
{
	p->helper_assembly = on;
}

bool
hsm_p11_helper_assembly(const struct hsm_p11 *p)
{
	return p->helper_assembly;
}

void
p11_assemble_free(struct hsm_p11 *p)
{
	EVP_PKEY_free(p->xport);
	p->xport = NULL;
}

/* An RSA public EVP_PKEY from big-endian n and e. */
static int
rsa_public(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len, EVP_PKEY **ret)
{
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	int r = KW_ERR_CRYPTO;

	if (n_len > INT32_MAX || e_len > INT32_MAX ||
	    (bn = BN_bin2bn(n, (int)n_len, NULL)) == NULL ||
	    (be = BN_bin2bn(e, (int)e_len, NULL)) == NULL || (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	*ret = pk;
	pk = NULL;    /* transferred */
	r = 0;
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return r;
}

/* RSA-OAEP (SHA-1, MGF1-SHA-1, no label) encrypt or decrypt in[0..in_len) with pk. */
static int
oaep(EVP_PKEY *pk, bool decrypt, const uint8_t *in, size_t in_len, uint8_t *out, size_t max,
    size_t *ret_len)
{
	EVP_PKEY_CTX *ctx = NULL;
	size_t ol = max;
	int ok;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL)
		return KW_ERR_NOMEM;
	ok = (decrypt ? EVP_PKEY_decrypt_init(ctx) : EVP_PKEY_encrypt_init(ctx)) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) == 1 &&
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) == 1 &&
	    (decrypt ? EVP_PKEY_decrypt(ctx, out, &ol, in, in_len) :
	    EVP_PKEY_encrypt(ctx, out, &ol, in, in_len)) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (!ok)
		return KW_ERR_CRYPTO;
	*ret_len = ol;
	return 0;
}

/* The transport key pair (made once per helper) and its public half in this session. */
static int
transport_key(struct hsm_p11 *p, const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt = CKK_RSA;
	CK_MECHANISM_TYPE allowed[] = {CKM_RSA_PKCS_OAEP};
	uint8_t n[XPORT_LEN], e[8];
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &p11_false, sizeof(p11_false)},
		{CKA_PRIVATE, &p11_false, sizeof(p11_false)},
		{CKA_MODULUS, n, sizeof(n)},
		{CKA_PUBLIC_EXPONENT, e, 0},
		{CKA_WRAP, &p11_true, sizeof(p11_true)},
		{CKA_ENCRYPT, &p11_false, sizeof(p11_false)},
		{CKA_VERIFY, &p11_false, sizeof(p11_false)},
		{CKA_ALLOWED_MECHANISMS, allowed, sizeof(allowed)},
	};
	BIGNUM *bn = NULL, *be = NULL;
	CK_RV rv;
	int r = KW_ERR_CRYPTO;

	if (p->xport_h != CK_INVALID_HANDLE)
		return 0;
	*reterr_detail = "transport key";
	if (p->xport == NULL && (p->xport = EVP_RSA_gen(XPORT_BITS)) == NULL)
		goto out;
	if (EVP_PKEY_get_bn_param(p->xport, OSSL_PKEY_PARAM_RSA_N, &bn) != 1 ||
	    EVP_PKEY_get_bn_param(p->xport, OSSL_PKEY_PARAM_RSA_E, &be) != 1 ||
	    BN_bn2binpad(bn, n, sizeof(n)) != (int)sizeof(n) || BN_num_bytes(be) > (int)sizeof(e) ||
	    BN_num_bytes(be) < 1)
		goto out;
	tmpl[5].ulValueLen = (CK_ULONG)BN_bn2bin(be, e);
	if ((rv = p->f->C_CreateObject(p->sess, tmpl, KW_ARRAY_SIZE(tmpl), &p->xport_h)) != CKR_OK) {
		p->xport_h = CK_INVALID_HANDLE;
		r = p11_ckr_fail(p, rv, "C_CreateObject(transport key)", reterr_detail);
		goto out;
	}
	r = 0;
out:
	BN_free(bn);
	BN_free(be);
	return r;
}

/* AES-256-CBC with PKCS#7 padding of in[0..in_len) into out (in_len + 16 bytes room). */
static int
cbc_encrypt(const uint8_t *key, const uint8_t iv[static HSM_JWE_IV_LEN], const uint8_t *in,
    size_t in_len, uint8_t *out, size_t *ret_len)
{
	EVP_CIPHER_CTX *ctx = NULL;
	int l1 = 0, l2 = 0, ok;

	if (in_len > INT32_MAX - 32 || (ctx = EVP_CIPHER_CTX_new()) == NULL)
		return KW_ERR_CRYPTO;
	ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, iv) == 1 &&
	    EVP_EncryptUpdate(ctx, out, &l1, in, (int)in_len) == 1 &&
	    EVP_EncryptFinal_ex(ctx, out + l1, &l2) == 1;
	EVP_CIPHER_CTX_free(ctx);    /* cleanses the key schedule */
	if (!ok || l1 < 0 || l2 < 0)
		return KW_ERR_CRYPTO;
	*ret_len = (size_t)l1 + (size_t)l2;
	return 0;
}

int
p11_release_assembled(struct hsm_p11 *p, const struct secret_info *si, const uint8_t *n,
    size_t n_len, const uint8_t *e, size_t e_len, const char *kid, char **ret_jwe,
    const char **reterr_detail)
{
	CK_RSA_PKCS_OAEP_PARAMS op = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM m_oaep = {CKM_RSA_PKCS_OAEP, &op, sizeof(op)};
	uint8_t wrapped[XPORT_LEN], iv[HSM_JWE_IV_LEN], ek[HSM_RSA_MAX_BITS / 8];
	CK_ULONG wl = sizeof(wrapped);
	struct kw_secret *val = NULL, *cek = NULL, *mac_key = NULL;
	EVP_PKEY *tee = NULL;
	uint8_t *ct = NULL;
	size_t vl = 0, ct_len = 0, ek_len = 0;
	CK_RV rv;
	int r;

	if (si->value_len > XPORT_VALUE_MAX) {
		*reterr_detail = "stored value longer than helper assembly carries (208 bytes)";
		return KW_ERR_UNSUPPORTED;
	}
	if ((r = transport_key(p, reterr_detail)) != 0)
		return r;
	r = KW_ERR_NOMEM;
	*reterr_detail = "out of memory";
	if ((r = kw_secret_new(XPORT_LEN, &val)) != 0 || (r = kw_secret_new(64, &cek)) != 0 ||
	    (r = kw_secret_new(HSM_JWE_MAC_KEY_LEN, &mac_key)) != 0 ||
	    (ct = malloc(si->value_len + 16)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	/* the secret, wrapped to our transport key inside the token */
	if ((rv = p->f->C_WrapKey(p->sess, &m_oaep, p->xport_h, si->h, wrapped, &wl)) != CKR_OK) {
		r = p11_ckr_fail(p, rv, "C_WrapKey(RSA_PKCS_OAEP, transport)", reterr_detail);
		goto out;
	}
	r = KW_ERR_HSM;
	*reterr_detail = "transport unwrap";
	if (oaep(p->xport, true, wrapped, wl, kw_secret_ptr(val), kw_secret_len(val), &vl) != 0)
		goto out;
	*reterr_detail = "unwrapped length";
	if (vl != si->value_len || si->plain_len > vl)
		goto out;
	/* CEK = MAC_KEY || ENC_KEY, IV: fresh */
	r = KW_ERR_CRYPTO;
	*reterr_detail = "RAND_priv_bytes";
	if (RAND_priv_bytes(kw_secret_ptr(cek), 64) != 1 || RAND_bytes(iv, sizeof(iv)) != 1)
		goto out;
	memcpy(kw_secret_ptr(mac_key), kw_secret_cptr(cek), HSM_JWE_MAC_KEY_LEN);
	/*
	 * CT = AES-256-CBC-PKCS7(ENC_KEY, IV, plain): for a stored padded value
	 * this is exactly the unpadded CBC of the stored bytes, as in PKCS11.md 3.2.
	 */
	*reterr_detail = "AES-256-CBC";
	if ((r = cbc_encrypt(kw_secret_cptr(cek) + 32, iv, kw_secret_cptr(val), si->plain_len, ct,
	    &ct_len)) != 0)
		goto out;
	*reterr_detail = "RSA-OAEP to the TEE key";
	if ((r = rsa_public(n, n_len, e, e_len, &tee)) != 0 ||
	    (r = oaep(tee, false, kw_secret_cptr(cek), 64, ek, sizeof(ek), &ek_len)) != 0)
		goto out;
	if ((r = hsm_jwe_compact(kid, ek, ek_len, iv, ct, ct_len, mac_key, ret_jwe)) != 0) {
		*reterr_detail = "JWE assembly";
		goto out;
	}
	*reterr_detail = NULL;
	r = 0;
out:
	OPENSSL_cleanse(wrapped, sizeof(wrapped));
	kw_secret_free(val);
	kw_secret_free(cek);
	kw_secret_free(mac_key);
	EVP_PKEY_free(tee);
	free(ct);
	return r;
}
