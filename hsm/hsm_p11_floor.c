/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HSM part of the cryptographic floor (hsm_p11.h hsm_p11_floor): what the
 * two token operations of a flow cost when nothing else is done — no
 * protocol, no JSON, no broker. Used by kwhsm-bench --floor, which kwbench
 * runs to measure the floor in the same run as the load.
 *
 * The objects are session objects (CKA_TOKEN false), where a flow uses token
 * objects (the stored key, the token-signing key): SoftHSM's file checks on
 * token objects are not in the floor, which makes it a little lower (stricter)
 * than what the helper can reach.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <p11-kit/pkcs11.h>

#include "hsm_jwe.h"
#include "hsm_p11.h"
#include "hsm_tokkey.h"
#include "kw_secret.h"
#include "kw_util.h"
#include "hsm_p11_int.h"

#define FLOOR_RSA_BITS 3072     /* kwbench's TEE keys */
#define FLOOR_VALUE_LEN 32      /* an AES-256 key, stored unpadded as generate stores it */
#define FLOOR_ROUNDS_MAX 100000U

/* A session AES-256 secret with a random value, as the self test makes one. */
static int
session_secret(struct hsm_p11 *p, struct kw_secret *val, CK_OBJECT_HANDLE *ret,
    const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &p11_false, sizeof(p11_false)}, {CKA_PRIVATE, &p11_true, sizeof(p11_true)},
		{CKA_SENSITIVE, &p11_true, sizeof(p11_true)},
		{CKA_EXTRACTABLE, &p11_true, sizeof(p11_true)},
		{CKA_VALUE, kw_secret_ptr(val), kw_secret_len(val)},
	};
	CK_RV rv;

	if (RAND_bytes(kw_secret_ptr(val), (int)kw_secret_len(val)) != 1) {
		*reterr_detail = "RAND_bytes";
		return KW_ERR_CRYPTO;
	}
	if ((rv = p->f->C_CreateObject(p->sess, tmpl, KW_ARRAY_SIZE(tmpl), ret)) != CKR_OK)
		return p11_ckr_fail(p, rv, "C_CreateObject(floor secret)", reterr_detail);
	return 0;
}

/* A session P-256 key pair that can only sign. */
static int
session_ec(struct hsm_p11 *p, CK_OBJECT_HANDLE *ret_pub, CK_OBJECT_HANDLE *ret_priv,
    const char **reterr_detail)
{
	CK_OBJECT_CLASS c_pub = CKO_PUBLIC_KEY, c_priv = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE t_pub[] = {
		{CKA_CLASS, &c_pub, sizeof(c_pub)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &p11_false, sizeof(p11_false)}, {CKA_VERIFY, &p11_true, sizeof(p11_true)},
		{CKA_EC_PARAMS, (void *)(uintptr_t)hsm_p256_params, sizeof(hsm_p256_params)},
	};
	CK_ATTRIBUTE t_priv[] = {
		{CKA_CLASS, &c_priv, sizeof(c_priv)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &p11_false, sizeof(p11_false)}, {CKA_PRIVATE, &p11_true, sizeof(p11_true)},
		{CKA_SENSITIVE, &p11_true, sizeof(p11_true)},
		{CKA_EXTRACTABLE, &p11_false, sizeof(p11_false)}, {CKA_SIGN, &p11_true, sizeof(p11_true)},
	};
	CK_RV rv;

	rv = p->f->C_GenerateKeyPair(p->sess, &mech, t_pub, KW_ARRAY_SIZE(t_pub), t_priv,
	    KW_ARRAY_SIZE(t_priv), ret_pub, ret_priv);
	if (rv != CKR_OK) {
		*ret_pub = *ret_priv = CK_INVALID_HANDLE;
		return p11_ckr_fail(p, rv, "C_GenerateKeyPair(floor)", reterr_detail);
	}
	return 0;
}

/* One signature the way the helper's sign op makes it. */
static int
sign_once(struct hsm_p11 *p, CK_OBJECT_HANDLE priv, const uint8_t digest[32],
    const char **reterr_detail)
{
	CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
	uint8_t buf[2 * 66];
	CK_ULONG len = sizeof(buf);
	CK_RV rv;

	if ((rv = p->f->C_SignInit(p->sess, &mech, priv)) != CKR_OK)
		return p11_ckr_fail(p, rv, "C_SignInit", reterr_detail);
	if ((rv = p->f->C_Sign(p->sess, (CK_BYTE_PTR)(uintptr_t)digest, 32, buf, &len)) != CKR_OK)
		return p11_ckr_fail(p, rv, "C_Sign", reterr_detail);
	if (len != 64) {
		*reterr_detail = "unexpected ECDSA signature length";
		return KW_ERR_HSM;
	}
	return 0;
}

int
hsm_p11_floor(struct hsm_p11 *p, unsigned int rounds, struct hsm_floor *ret,
    const char **reterr_detail)
{
	CK_OBJECT_HANDLE sec = CK_INVALID_HANDLE, pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
	struct kw_secret *val = NULL, *got = NULL;
	struct secret_info si;
	EVP_PKEY *rsa = NULL;
	BIGNUM *bn = NULL, *be = NULL;
	uint8_t n[FLOOR_RSA_BITS / 8], e[HSM_RSA_E_MAX], digest[32];
	size_t got_len = 0;
	char *jwe = NULL;
	double t;
	int nl, el, r;

	if (p == NULL || ret == NULL || rounds == 0 || rounds > FLOOR_ROUNDS_MAX) {
		*reterr_detail = "rounds out of range";
		return KW_ERR_INVALID_ARG;
	}
	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	r = KW_ERR_CRYPTO;
	*reterr_detail = "OpenSSL RSA key";
	if ((rsa = EVP_RSA_gen(FLOOR_RSA_BITS)) == NULL ||
	    EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, &bn) != 1 ||
	    EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_E, &be) != 1 ||
	    BN_num_bytes(bn) > (int)sizeof(n) || BN_num_bytes(be) > (int)sizeof(e) ||
	    RAND_bytes(digest, sizeof(digest)) != 1)
		goto out;
	nl = BN_bn2bin(bn, n);
	el = BN_bn2bin(be, e);
	if ((r = kw_secret_new(FLOOR_VALUE_LEN, &val)) != 0 ||
	    (r = kw_secret_new(FLOOR_VALUE_LEN + 16, &got)) != 0) {
		*reterr_detail = "out of memory";
		goto out;
	}
	if ((r = session_secret(p, val, &sec, reterr_detail)) != 0 ||
	    (r = session_ec(p, &pub, &priv, reterr_detail)) != 0)
		goto out;
	si = (struct secret_info){sec, HSM_KIND_AES256, FLOOR_VALUE_LEN, FLOOR_VALUE_LEN};
	/* a first release that must open to the value: the floor measures a correct release */
	if ((r = p11_release_secret(p, &si, n, (size_t)nl, e, (size_t)el, "floor", &jwe,
	    reterr_detail)) != 0)
		goto out;
	if ((r = hsm_jwe_decrypt(jwe, rsa, kw_secret_ptr(got), kw_secret_len(got), &got_len)) != 0 ||
	    got_len != FLOOR_VALUE_LEN ||
	    CRYPTO_memcmp(kw_secret_cptr(got), kw_secret_cptr(val), FLOOR_VALUE_LEN) != 0) {
		*reterr_detail = "the floor's release does not decrypt to its value";
		r = KW_ERR_MISMATCH;
		goto out;
	}
	free(jwe);
	jwe = NULL;
	if ((r = sign_once(p, priv, digest, reterr_detail)) != 0)
		goto out;
	t = kw_cpu_ms();
	for (unsigned int i = 0; i < rounds; i++) {
		if ((r = p11_release_secret(p, &si, n, (size_t)nl, e, (size_t)el, "floor", &jwe,
		    reterr_detail)) != 0)
			goto out;
		free(jwe);
		jwe = NULL;
	}
	ret->release_ms = (kw_cpu_ms() - t) / rounds;
	t = kw_cpu_ms();
	for (unsigned int i = 0; i < rounds; i++)
		if ((r = sign_once(p, priv, digest, reterr_detail)) != 0)
			goto out;
	ret->sign_ms = (kw_cpu_ms() - t) / rounds;
	r = 0;
out:
	p11_destroy(p, &sec);
	p11_destroy(p, &pub);
	p11_destroy(p, &priv);
	free(jwe);
	kw_secret_free(val);
	kw_secret_free(got);
	BN_free(bn);
	BN_free(be);
	EVP_PKEY_free(rsa);
	return r;
}
