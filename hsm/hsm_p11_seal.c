/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Seal keys (hsm_proto.h "seal_keys", "seal_key_new"; docs/ha.md "Shared
 * keys"). A seal key is a token generic secret labelled "kw-seal/<n>",
 * sensitive, never extractable, usable for CKM_SHA256_HMAC signing only.
 * What leaves the token is HMAC-SHA-256(seal key, HSM_SEAL_DERIVE_LABEL):
 * the same 32 bytes in every helper on the same token, so every broker
 * replica seals challenges and DPoP nonces alike, and rotating means a new
 * object. Both mechanisms pass p11-kit's remote module (no parameters).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <p11-kit/pkcs11.h>

#include "kw_secret.h"
#include "kw_util.h"
#include "hsm_p11_int.h"

#define SEAL_SCAN_MAX 256 /* signing generic secrets on the token we look at */
#define SEAL_LABEL_MAX 32

struct seal_obj {
	int64_t version;
	CK_OBJECT_HANDLE h;
};

/* "kw-seal/<n>", n in 1..HSM_SEAL_VERSION_MAX without leading zero: 0 and *ret. */
static int
seal_label_parse(const char *s, size_t len, int64_t *ret)
{
	const size_t plen = strlen(HSM_SEAL_LABEL_PREFIX);
	int64_t n = 0;

	if (len <= plen || len > plen + 10 || memcmp(s, HSM_SEAL_LABEL_PREFIX, plen) != 0 ||
	    s[plen] == '0')
		return KW_ERR_INVALID_FORMAT;
	for (size_t i = plen; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return KW_ERR_INVALID_FORMAT;
		n = n * 10 + (s[i] - '0');
	}
	if (n > HSM_SEAL_VERSION_MAX)
		return KW_ERR_INVALID_FORMAT;
	*ret = n;
	return 0;
}

static int
cmp_obj(const void *a, const void *b)
{
	const struct seal_obj *x = a, *y = b;

	return x->version < y->version ? -1 : x->version > y->version;
}

/* Every seal key object on the token, sorted by version (duplicates adjacent). */
static int
scan(struct hsm_p11 *p, struct seal_obj *out, size_t *ret_n, const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &p11_true, sizeof(p11_true)},
		{CKA_SIGN, &p11_true, sizeof(p11_true)},
		{CKA_SENSITIVE, &p11_true, sizeof(p11_true)},
		{CKA_EXTRACTABLE, &p11_false, sizeof(p11_false)},
	};
	CK_OBJECT_HANDLE hs[SEAL_SCAN_MAX];
	char label[SEAL_LABEL_MAX + 1];
	size_t n = 0, o = 0, ll = 0;
	int64_t v;
	int r;

	if ((r = p11_find_all(p, tmpl, KW_ARRAY_SIZE(tmpl), hs, KW_ARRAY_SIZE(hs), &n,
	    reterr_detail)) != 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = p11_get_attr(p, hs[i], CKA_LABEL, label, SEAL_LABEL_MAX, &ll, reterr_detail);
		if (r == KW_ERR_NOT_FOUND)
			continue;    /* no label, or too long: not ours */
		if (r != 0)
			return r;
		label[ll] = '\0';
		if (seal_label_parse(label, ll, &v) != 0)
			continue;
		out[o].version = v;
		out[o].h = hs[i];
		o++;
	}
	qsort(out, o, sizeof(*out), cmp_obj);
	*ret_n = o;
	*reterr_detail = NULL;
	return 0;
}

/* HMAC-SHA-256 inside the token with h over HSM_SEAL_DERIVE_LABEL. */
static int
derive(struct hsm_p11 *p, CK_OBJECT_HANDLE h, uint8_t out[static HSM_SEAL_KEY_LEN],
    const char **reterr_detail)
{
	CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0};
	const char *lbl = HSM_SEAL_DERIVE_LABEL;
	CK_ULONG len = HSM_SEAL_KEY_LEN;
	CK_RV rv;

	if ((rv = p->f->C_SignInit(p->sess, &m, h)) != CKR_OK)
		return p11_ckr_fail(p, rv, "C_SignInit(SHA256_HMAC)", reterr_detail);
	if ((rv = p->f->C_Sign(p->sess, (CK_BYTE_PTR)(uintptr_t)lbl, strlen(lbl), out, &len)) !=
	    CKR_OK)
		return p11_ckr_fail(p, rv, "C_Sign(SHA256_HMAC)", reterr_detail);
	if (len != HSM_SEAL_KEY_LEN) {
		*reterr_detail = "HMAC length";
		return KW_ERR_HSM;
	}
	return 0;
}

/* A new seal key object labelled kw-seal/<version>. */
static int
create(struct hsm_p11 *p, int64_t version, const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_ULONG vlen = HSM_SEAL_KEY_LEN;
	CK_MECHANISM m = {CKM_GENERIC_SECRET_KEY_GEN, NULL, 0};
	char label[SEAL_LABEL_MAX + 1];
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &p11_true, sizeof(p11_true)},
		{CKA_PRIVATE, &p11_true, sizeof(p11_true)},
		{CKA_SENSITIVE, &p11_true, sizeof(p11_true)},
		{CKA_EXTRACTABLE, &p11_false, sizeof(p11_false)},
		{CKA_SIGN, &p11_true, sizeof(p11_true)},
		{CKA_VERIFY, &p11_false, sizeof(p11_false)},
		{CKA_ENCRYPT, &p11_false, sizeof(p11_false)},
		{CKA_DECRYPT, &p11_false, sizeof(p11_false)},
		{CKA_WRAP, &p11_false, sizeof(p11_false)},
		{CKA_UNWRAP, &p11_false, sizeof(p11_false)},
		{CKA_DERIVE, &p11_false, sizeof(p11_false)},
		{CKA_VALUE_LEN, &vlen, sizeof(vlen)},
		{CKA_LABEL, label, 0},
	};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_RV rv;

	tmpl[KW_ARRAY_SIZE(tmpl) - 1].ulValueLen =
	    (CK_ULONG)snprintf(label, sizeof(label), HSM_SEAL_LABEL_PREFIX "%lld", (long long)version);
	if ((rv = p->f->C_GenerateKey(p->sess, &m, tmpl, KW_ARRAY_SIZE(tmpl), &h)) != CKR_OK)
		return p11_ckr_fail(p, rv, "C_GenerateKey(seal key)", reterr_detail);
	return 0;
}

int
hsm_p11_seal_keys(struct hsm_p11 *p, int64_t now, struct hsm_seal_key *out, size_t *ret_n,
    bool *ret_created, const char **reterr_detail)
{
	struct seal_obj objs[SEAL_SCAN_MAX];
	struct hsm_seal_key res[HSM_SEAL_KEYS_MAX];
	uint8_t k[HSM_SEAL_KEY_LEN];
	size_t n = 0, o = 0, start;
	bool created = false;
	int r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	if ((r = scan(p, objs, &n, reterr_detail)) != 0)
		return r;
	if (n == 0) {
		if (now < 1 || now > HSM_SEAL_VERSION_MAX) {
			*reterr_detail = "clock out of range for a seal key version";
			return KW_ERR_INVALID_ARG;
		}
		if ((r = create(p, now, reterr_detail)) != 0 || (r = scan(p, objs, &n, reterr_detail)) != 0)
			return r;
		if (n == 0) {
			*reterr_detail = "the new seal key is not found";
			return KW_ERR_HSM;
		}
		created = true;
	}
	/* the first object of each of the newest HSM_SEAL_KEYS_MAX distinct versions */
	start = n;
	for (size_t d = 0; start > 0 && d < HSM_SEAL_KEYS_MAX; d++) {
		start--;
		while (start > 0 && objs[start - 1].version == objs[start].version)
			start--;
	}
	r = 0;
	for (size_t i = start; i < n && r == 0; i++) {
		if ((r = derive(p, objs[i].h, k, reterr_detail)) != 0)
			break;
		if (o > 0 && res[o - 1].version == objs[i].version) {
			/* one label twice (a race at creation): the smaller value, everywhere alike */
			if (memcmp(k, res[o - 1].key, sizeof(k)) < 0)
				memcpy(res[o - 1].key, k, sizeof(k));
			continue;
		}
		res[o].version = objs[i].version;
		memcpy(res[o].key, k, sizeof(k));
		o++;
	}
	if (r == 0) {
		memcpy(out, res, o * sizeof(res[0]));
		*ret_n = o;
		*ret_created = created;
		*reterr_detail = NULL;
	}
	kw_wipe(k, sizeof(k));
	kw_wipe(res, sizeof(res));
	return r;
}

int
hsm_p11_seal_key_new(struct hsm_p11 *p, int64_t now, int64_t *ret_version,
    size_t *ret_destroyed, const char **reterr_detail)
{
	struct seal_obj objs[SEAL_SCAN_MAX];
	size_t n = 0, destroyed = 0, distinct = 0;
	int64_t v = now;
	CK_RV rv;
	int r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	if ((r = scan(p, objs, &n, reterr_detail)) != 0)
		return r;
	/* newer than every existing version: the order of versions is the order of creation */
	if (n > 0 && objs[n - 1].version >= v)
		v = objs[n - 1].version + 1;
	if (v < 1 || v > HSM_SEAL_VERSION_MAX) {
		*reterr_detail = "seal key version out of range";
		return KW_ERR_INVALID_ARG;
	}
	if ((r = create(p, v, reterr_detail)) != 0 || (r = scan(p, objs, &n, reterr_detail)) != 0)
		return r;
	/* keep the newest HSM_SEAL_KEYS_MAX versions */
	for (size_t i = n; i > 0; i--) {
		if (i == n || objs[i - 1].version != objs[i].version)
			distinct++;
		if (distinct <= HSM_SEAL_KEYS_MAX)
			continue;
		if ((rv = p->f->C_DestroyObject(p->sess, objs[i - 1].h)) != CKR_OK)
			return p11_ckr_fail(p, rv, "C_DestroyObject(seal key)", reterr_detail);
		destroyed++;
	}
	*ret_version = v;
	*ret_destroyed = destroyed;
	*reterr_detail = NULL;
	return 0;
}
