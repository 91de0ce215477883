/* SPDX-License-Identifier: Apache-2.0 */
/* PKCS#11 layer, admin-plane key lifecycle (hsm_proto.h "key_list", "destroy",
 * "import_key", "import"). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <p11-kit/pkcs11.h>

#include "hsm_import.h"
#include "hsm_jwe.h"
#include "hsm_p11.h"
#include "kw_log.h"
#include "kw_secret.h"
#include "kw_util.h"
#include "hsm_p11_int.h"

/* ---- admin-plane key lifecycle (hsm_proto.h "key_list" ...) ---- */

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
hsm_p11_key_list(struct hsm_p11 *p, const char *after, char (*out)[HSM_LABEL_MAX + 1],
    size_t max, size_t *ret_n, bool *ret_more, const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_TOKEN, &p11_true, sizeof(p11_true)},
	};
	CK_OBJECT_HANDLE *hs = NULL;
	char label[HSM_LABEL_MAX + 1], **ls = NULL;
	size_t nh = 0, nl = 0, n = 0, len = 0;
	int r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	*reterr_detail = "out of memory";
	r = KW_ERR_NOMEM;
	if ((hs = calloc(HSM_KEY_LIST_MAX, sizeof(*hs))) == NULL)
		goto out;
	r = p11_find_all(p, tmpl, KW_ARRAY_SIZE(tmpl), hs, HSM_KEY_LIST_MAX, &nh, reterr_detail);
	if (r == KW_ERR_TOO_LARGE)
		*reterr_detail = "more than 100000 secret objects on the token";
	if (r != 0)
		goto out;
	r = KW_ERR_NOMEM;
	*reterr_detail = "out of memory";
	if (nh > 0 && (ls = calloc(nh, sizeof(*ls))) == NULL)
		goto out;
	for (size_t i = 0; i < nh; i++) {
		r = p11_get_attr(p, hs[i], CKA_LABEL, label, HSM_LABEL_MAX, &len, reterr_detail);
		if (r == KW_ERR_NOT_FOUND)
			continue;    /* no label, or longer than any of ours */
		if (r != 0)
			goto out;
		label[len] = '\0';
		if (!hsm_key_label_valid(label, len) || (after != NULL && strcmp(label, after) <= 0))
			continue;
		if ((ls[nl] = strdup(label)) == NULL) {
			r = KW_ERR_NOMEM;
			*reterr_detail = "out of memory";
			goto out;
		}
		nl++;
	}
	if (nl > 0)
		qsort(ls, nl, sizeof(*ls), str_cmp);
	*ret_more = false;
	for (size_t i = 0; i < nl; i++) {
		if (i > 0 && strcmp(ls[i], ls[i - 1]) == 0)
			continue;    /* two objects with one label: listed once */
		if (n == max) {
			*ret_more = true;
			break;
		}
		memcpy(out[n++], ls[i], strlen(ls[i]) + 1);
	}
	*ret_n = n;
	*reterr_detail = NULL;
	r = 0;
out:
	for (size_t i = 0; i < nl; i++)
		free(ls[i]);
	free(ls);
	free(hs);
	return r;
}

int
hsm_p11_destroy(struct hsm_p11 *p, const char *label, bool *ret_destroyed,
    const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_TOKEN, &p11_true, sizeof(p11_true)},
		{CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	};
	CK_OBJECT_HANDLE hs[8];
	bool destroyed = false;
	size_t n = 0;
	CK_RV rv;
	int r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	if (!hsm_key_label_valid(label, strlen(label))) {
		*reterr_detail = "not a kw-key/ label";
		return KW_ERR_INVALID_ARG;
	}
	p11_cache_forget(p11_cache_slot(p, label), label);
	/* normally one object; duplicates (made behind our back) go too, a batch at a time */
	for (;;) {
		r = p11_find_all(p, tmpl, KW_ARRAY_SIZE(tmpl), hs, KW_ARRAY_SIZE(hs), &n, reterr_detail);
		if (r == KW_ERR_TOO_LARGE)
			n = KW_ARRAY_SIZE(hs);
		else if (r != 0)
			return r;
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			if ((rv = p->f->C_DestroyObject(p->sess, hs[i])) != CKR_OK)
				return p11_ckr_fail(p, rv, "C_DestroyObject", reterr_detail);
		}
		destroyed = true;
	}
	*ret_destroyed = destroyed;
	*reterr_detail = NULL;
	return 0;
}

/*
 * Find the import key's private half; read and check its public numbers.
 * KW_ERR_NOT_FOUND when there is none, KW_ERR_HSM when it is ambiguous or
 * not the key we make.
 */
static int
find_import_key(struct hsm_p11 *p, const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_RSA;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_TOKEN, &p11_true, sizeof(p11_true)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_LABEL, (void *)(uintptr_t)HSM_IMPORT_LABEL, strlen(HSM_IMPORT_LABEL)},
	};
	CK_BBOOL sens = CK_FALSE, extr = CK_TRUE, unwrap = CK_FALSE;
	CK_ATTRIBUTE flags[] = {
		{CKA_SENSITIVE, &sens, sizeof(sens)},
		{CKA_EXTRACTABLE, &extr, sizeof(extr)},
		{CKA_UNWRAP, &unwrap, sizeof(unwrap)},
	};
	struct hsm_import_pub pub;
	uint8_t nbuf[HSM_RSA_MAX_BITS / 8];
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	size_t nl = 0;
	CK_RV rv;
	int r;

	if (p->imp_cached)
		return 0;
	memset(&pub, 0, sizeof(pub));
	if ((r = p11_find_one(p, tmpl, KW_ARRAY_SIZE(tmpl), &h, "no import key",
	    "import key label is not unique", reterr_detail)) != 0)
		return r;
	if ((rv = p->f->C_GetAttributeValue(p->sess, h, flags, KW_ARRAY_SIZE(flags))) != CKR_OK)
		return p11_ckr_fail(p, rv, "C_GetAttributeValue(import key)", reterr_detail);
	r = p11_get_attr(p, h, CKA_MODULUS, nbuf, sizeof(nbuf), &nl, reterr_detail);
	if (r == 0)
		r = p11_get_attr(p, h, CKA_PUBLIC_EXPONENT, pub.e, sizeof(pub.e), &pub.e_len,
		    reterr_detail);
	if (r != 0 && r != KW_ERR_NOT_FOUND)
		return r;
	/* exactly RSA-3072, a usable exponent, sealed in the token, unwrap only */
	if (r != 0 || nl != HSM_IMPORT_KEK_LEN || (nbuf[0] & 0x80) == 0 || pub.e_len == 0 ||
	    pub.e[0] == 0 || (pub.e[pub.e_len - 1] & 1) == 0 || sens != CK_TRUE ||
	    extr != CK_FALSE || unwrap != CK_TRUE) {
		*reterr_detail = "import key has an unexpected layout";
		return KW_ERR_HSM;
	}
	memcpy(pub.n, nbuf, nl);
	if ((r = hsm_rsa_jwk(pub.n, nl, pub.e, pub.e_len, NULL, pub.kid)) != 0) {
		*reterr_detail = "import key is not a valid RSA public key";
		return r == KW_ERR_NOMEM ? r : KW_ERR_HSM;
	}
	p->imp_priv = h;
	p->imp_pub = pub;
	p->imp_cached = true;
	return 0;
}

/* The import key pair, in the token (hsm_proto.h "import_key" templates). */
static int
make_import_key(struct hsm_p11 *p, const char **reterr_detail)
{
	CK_OBJECT_CLASS c_pub = CKO_PUBLIC_KEY, c_priv = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_RSA;
	CK_ULONG bits = HSM_IMPORT_RSA_BITS;
	CK_BYTE e[] = {0x01, 0x00, 0x01};
	CK_MECHANISM_TYPE allowed[] = {CKM_RSA_PKCS_OAEP};
	CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE, old[8];
	uint8_t id[TOK_ID_LEN];
	CK_ATTRIBUTE t_old[] = {
		{CKA_CLASS, &c_pub, sizeof(c_pub)},
		{CKA_TOKEN, &p11_true, sizeof(p11_true)},
		{CKA_LABEL, (void *)(uintptr_t)HSM_IMPORT_LABEL, strlen(HSM_IMPORT_LABEL)},
	};
	CK_ATTRIBUTE t_pub[] = {
		{CKA_CLASS, &c_pub, sizeof(c_pub)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &p11_true, sizeof(p11_true)},
		{CKA_PRIVATE, &p11_false, sizeof(p11_false)},
		{CKA_MODULUS_BITS, &bits, sizeof(bits)},
		{CKA_PUBLIC_EXPONENT, e, sizeof(e)},
		{CKA_ENCRYPT, &p11_true, sizeof(p11_true)},
		{CKA_WRAP, &p11_true, sizeof(p11_true)},
		{CKA_VERIFY, &p11_false, sizeof(p11_false)},
		{CKA_DERIVE, &p11_false, sizeof(p11_false)},
		{CKA_LABEL, (void *)(uintptr_t)HSM_IMPORT_LABEL, strlen(HSM_IMPORT_LABEL)},
		{CKA_ID, id, sizeof(id)},
	};
	CK_ATTRIBUTE t_priv[] = {
		{CKA_CLASS, &c_priv, sizeof(c_priv)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &p11_true, sizeof(p11_true)},
		{CKA_PRIVATE, &p11_true, sizeof(p11_true)},
		{CKA_SENSITIVE, &p11_true, sizeof(p11_true)},
		{CKA_EXTRACTABLE, &p11_false, sizeof(p11_false)},
		{CKA_UNWRAP, &p11_true, sizeof(p11_true)},
		{CKA_DECRYPT, &p11_false, sizeof(p11_false)},
		{CKA_SIGN, &p11_false, sizeof(p11_false)},
		{CKA_DERIVE, &p11_false, sizeof(p11_false)},
		{CKA_ALLOWED_MECHANISMS, allowed, sizeof(allowed)},
		{CKA_LABEL, (void *)(uintptr_t)HSM_IMPORT_LABEL, strlen(HSM_IMPORT_LABEL)},
		{CKA_ID, id, sizeof(id)},
	};
	size_t n = 0;
	CK_RV rv;
	int r;

	/* a public half left without its private half (a crash) is useless: drop it */
	r = p11_find_all(p, t_old, KW_ARRAY_SIZE(t_old), old, KW_ARRAY_SIZE(old), &n, reterr_detail);
	if (r != 0 && r != KW_ERR_TOO_LARGE)
		return r;
	for (size_t i = 0; i < n; i++)
		p11_destroy(p, &old[i]);
	if ((rv = p->f->C_GenerateRandom(p->sess, id, sizeof(id))) != CKR_OK)
		return p11_ckr_fail(p, rv, "C_GenerateRandom", reterr_detail);
	rv = p->f->C_GenerateKeyPair(p->sess, &mech, t_pub, KW_ARRAY_SIZE(t_pub), t_priv,
	    KW_ARRAY_SIZE(t_priv), &pub, &priv);
	if (rv != CKR_OK)
		return p11_ckr_fail(p, rv, "C_GenerateKeyPair(import key)", reterr_detail);
	kw_log_debug("import key generated in the token (%s, RSA-%d)", HSM_IMPORT_LABEL,
	    HSM_IMPORT_RSA_BITS);
	return 0;
}

int
hsm_p11_import_key(struct hsm_p11 *p, struct hsm_import_pub *ret, bool *ret_generated,
    const char **reterr_detail)
{
	bool generated = false;
	int r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	r = find_import_key(p, reterr_detail);
	if (r == KW_ERR_NOT_FOUND) {
		if ((r = make_import_key(p, reterr_detail)) != 0)
			return r;
		generated = true;
		r = find_import_key(p, reterr_detail);
	}
	if (r != 0)
		return r;
	*ret = p->imp_pub;
	*ret_generated = generated;
	*reterr_detail = NULL;
	return 0;
}

/* An unwrap that fails on the request's bytes: KW_ERR_INVALID_FORMAT, detail = CKR name. */
static int
unwrap_fail(struct hsm_p11 *p, CK_RV rv, const char *what, const char **reterr_detail)
{
	int r = p11_ckr_fail(p, rv, what, reterr_detail);

	return r == KW_ERR_HSM && p->ready ? KW_ERR_INVALID_FORMAT : r;
}

/* SHA-256(salt || value of h) into d, inside the module (C_DigestKey). */
static int
digest_key(struct hsm_p11 *p, const uint8_t *salt, size_t salt_len, CK_OBJECT_HANDLE h,
    uint8_t d[32], const char **reterr_detail)
{
	CK_MECHANISM mech = {CKM_SHA256, NULL, 0};
	uint8_t tmp[32];
	CK_ULONG len = sizeof(tmp);
	CK_RV rv;

	if ((rv = p->f->C_DigestInit(p->sess, &mech)) != CKR_OK)
		return p11_ckr_fail(p, rv, "C_DigestInit", reterr_detail);
	if ((rv = p->f->C_DigestUpdate(p->sess, (CK_BYTE_PTR)(uintptr_t)salt, salt_len)) != CKR_OK ||
	    (rv = p->f->C_DigestKey(p->sess, h)) != CKR_OK) {
		/* end the operation: a digest of an empty buffer into tmp */
		(void)p->f->C_DigestFinal(p->sess, tmp, &len);
		kw_wipe(tmp, sizeof(tmp));
		return p11_ckr_fail(p, rv, "C_DigestKey", reterr_detail);
	}
	if ((rv = p->f->C_DigestFinal(p->sess, tmp, &len)) != CKR_OK || len != sizeof(tmp)) {
		kw_wipe(tmp, sizeof(tmp));
		return rv != CKR_OK ? p11_ckr_fail(p, rv, "C_DigestFinal", reterr_detail) : KW_ERR_HSM;
	}
	memcpy(d, tmp, sizeof(tmp));
	kw_wipe(tmp, sizeof(tmp));
	return 0;
}

/*
 * Is the value of the secret h exactly want bytes (want: a multiple of 16)?
 * SoftHSM 2.6.1 leaves CKA_VALUE_LEN at 0 on unwrapped keys and zero-pads
 * every symmetric wrap to a multiple of 8, so neither tells a 25-byte value
 * from a 32-byte one. C_DigestKey digests the exact value: compare
 * SHA-256(salt || value) with SHA-256(salt || value zero-padded to want
 * bytes), the padded copy made by a CKM_AES_KEY_WRAP round trip under a
 * throw-away session key. Only the two salted digests (fresh random salt)
 * reach helper memory, and they are wiped.
 */
static int
check_len(struct hsm_p11 *p, CK_OBJECT_HANDLE h, size_t want, const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE k_aes = CKK_AES, k_gen = CKK_GENERIC_SECRET;
	CK_ULONG l32 = 32;
	CK_ATTRIBUTE t_kt[] = {
		{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &k_aes, sizeof(k_aes)},
		{CKA_TOKEN, &p11_false, sizeof(p11_false)}, {CKA_PRIVATE, &p11_true, sizeof(p11_true)},
		{CKA_VALUE_LEN, &l32, sizeof(l32)}, {CKA_SENSITIVE, &p11_true, sizeof(p11_true)},
		{CKA_EXTRACTABLE, &p11_false, sizeof(p11_false)}, {CKA_WRAP, &p11_true, sizeof(p11_true)},
		{CKA_UNWRAP, &p11_true, sizeof(p11_true)},
	};
	CK_ATTRIBUTE t_copy[] = {
		{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &k_gen, sizeof(k_gen)},
		{CKA_TOKEN, &p11_false, sizeof(p11_false)}, {CKA_PRIVATE, &p11_true, sizeof(p11_true)},
		{CKA_SENSITIVE, &p11_true, sizeof(p11_true)},
		{CKA_EXTRACTABLE, &p11_false, sizeof(p11_false)},
	};
	CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0}, kw = {CKM_AES_KEY_WRAP, NULL, 0};
	CK_OBJECT_HANDLE kt = CK_INVALID_HANDLE, copy = CK_INVALID_HANDLE;
	uint8_t salt[32], d1[32], d2[32];
	uint8_t *w = NULL;
	CK_ULONG wl = want + 16;
	CK_RV rv;
	int r;

	if ((w = malloc(wl)) == NULL) {
		*reterr_detail = "out of memory";
		return KW_ERR_NOMEM;
	}
	if ((rv = p->f->C_GenerateKey(p->sess, &gen, t_kt, KW_ARRAY_SIZE(t_kt), &kt)) != CKR_OK) {
		kt = CK_INVALID_HANDLE;
		r = p11_ckr_fail(p, rv, "C_GenerateKey(length check)", reterr_detail);
		goto out;
	}
	if ((rv = p->f->C_WrapKey(p->sess, &kw, kt, h, w, &wl)) != CKR_OK) {
		r = unwrap_fail(p, rv, "C_WrapKey(AES_KEY_WRAP)", reterr_detail);
		goto out;
	}
	/* KW output: the value padded to a multiple of 8, plus 8 */
	if (wl != want + 8) {
		*reterr_detail = "unwrapped value length does not match kind/length";
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	rv = p->f->C_UnwrapKey(p->sess, &kw, kt, w, wl, t_copy, KW_ARRAY_SIZE(t_copy), &copy);
	if (rv != CKR_OK) {
		copy = CK_INVALID_HANDLE;
		r = p11_ckr_fail(p, rv, "C_UnwrapKey(AES_KEY_WRAP)", reterr_detail);
		goto out;
	}
	if ((rv = p->f->C_GenerateRandom(p->sess, salt, sizeof(salt))) != CKR_OK) {
		r = p11_ckr_fail(p, rv, "C_GenerateRandom", reterr_detail);
		goto out;
	}
	if ((r = digest_key(p, salt, sizeof(salt), h, d1, reterr_detail)) != 0 ||
	    (r = digest_key(p, salt, sizeof(salt), copy, d2, reterr_detail)) != 0)
		goto out;
	if (CRYPTO_memcmp(d1, d2, sizeof(d1)) != 0) {
		*reterr_detail = "unwrapped value length does not match kind/length";
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	r = 0;
out:
	kw_wipe(salt, sizeof(salt));
	kw_wipe(d1, sizeof(d1));
	kw_wipe(d2, sizeof(d2));
	free(w);
	p11_destroy(p, &copy);
	p11_destroy(p, &kt);
	return r;
}

int
hsm_p11_import(struct hsm_p11 *p, const char *label, enum hsm_kind kind, size_t length,
    const char *kid, const uint8_t *kek, size_t kek_len, const uint8_t *value, size_t value_len,
    const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE k_aes = CKK_AES;
	CK_ATTRIBUTE t_kek[] = {
		{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &k_aes, sizeof(k_aes)},
		{CKA_TOKEN, &p11_false, sizeof(p11_false)}, {CKA_PRIVATE, &p11_true, sizeof(p11_true)},
		{CKA_SENSITIVE, &p11_true, sizeof(p11_true)},
		{CKA_EXTRACTABLE, &p11_false, sizeof(p11_false)},
		{CKA_UNWRAP, &p11_true, sizeof(p11_true)}, {CKA_WRAP, &p11_false, sizeof(p11_false)},
		{CKA_ENCRYPT, &p11_false, sizeof(p11_false)}, {CKA_DECRYPT, &p11_false, sizeof(p11_false)},
	};
	CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM m_oaep = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
	CK_MECHANISM m_kwp = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_OBJECT_HANDLE kek_h = CK_INVALID_HANDLE, h = CK_INVALID_HANDLE;
	struct secret_tmpl t;
	size_t plain = hsm_import_plain_len(kind, length);
	bool taken = true;
	CK_RV rv;
	int r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	if (!hsm_key_label_valid(label, strlen(label)) || plain == 0) {
		*reterr_detail = "bad label, kind or length";
		return KW_ERR_INVALID_ARG;
	}
	if (kek_len != HSM_IMPORT_KEK_LEN || value_len != plain + 8) {
		*reterr_detail = "wrapped lengths do not fit the import key or kind/length";
		return KW_ERR_INVALID_FORMAT;
	}
	r = find_import_key(p, reterr_detail);
	if (r == KW_ERR_NOT_FOUND || (r == 0 && strcmp(kid, p->imp_pub.kid) != 0)) {
		*reterr_detail = r == 0 ? "not the import key's kid" : "no import key yet";
		return KW_ERR_MISMATCH;
	}
	if (r != 0)
		return r;
	if ((r = p11_label_taken(p, label, &taken, reterr_detail)) != 0)
		return r;
	if (taken) {
		*reterr_detail = "label exists";
		return KW_ERR_EXISTS;
	}
	/* 1: the KEK, a session object that can only unwrap */
	rv = p->f->C_UnwrapKey(p->sess, &m_oaep, p->imp_priv, (CK_BYTE_PTR)(uintptr_t)kek,
	    (CK_ULONG)kek_len, t_kek, KW_ARRAY_SIZE(t_kek), &kek_h);
	if (rv != CKR_OK) {
		kek_h = CK_INVALID_HANDLE;
		if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_UNWRAPPING_KEY_HANDLE_INVALID)
			p->imp_cached = false;    /* deleted behind our back: look it up next time */
		r = unwrap_fail(p, rv, "C_UnwrapKey(RSA_PKCS_OAEP)", reterr_detail);
		goto out;
	}
	/* 2: the value, straight into the token object generate would have made */
	p11_secret_tmpl_init(&t, label, kind, length);
	rv = p->f->C_UnwrapKey(p->sess, &m_kwp, kek_h, (CK_BYTE_PTR)(uintptr_t)value,
	    (CK_ULONG)value_len, t.a, KW_ARRAY_SIZE(t.a) - 1, &h);
	if (rv != CKR_OK) {
		h = CK_INVALID_HANDLE;
		r = unwrap_fail(p, rv, "C_UnwrapKey(AES_KEY_WRAP_PAD)", reterr_detail);
		goto out;
	}
	/* 3: the module must have stored exactly the (padded) length kind/length imply */
	if ((r = check_len(p, h, plain, reterr_detail)) != 0)
		goto out;
	p11_cache_forget(p11_cache_slot(p, label), label);
	h = CK_INVALID_HANDLE;    /* kept */
	*reterr_detail = NULL;
	r = 0;
out:
	p11_destroy(p, &h);    /* only on failure */
	p11_destroy(p, &kek_h);
	return r;
}

