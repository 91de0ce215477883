/* SPDX-License-Identifier: Apache-2.0 */
/* PKCS#11 layer, token-signing keys (hsm_proto.h "token_keys", "token_key_new", "sign",
 * "token_key_destroy"). */
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

/* ---- token-signing keys (hsm_proto.h "token_keys" ...) ---- */

/* A listed token key with its handles. */
struct tok_ent {
	struct hsm_token_key k;
	CK_OBJECT_HANDLE priv, pub;
};

/*
 * Every object matching tmpl, at most max handles into hs;
 * KW_ERR_TOO_LARGE when there are more.
 */
int
p11_find_all(struct hsm_p11 *p, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl, CK_OBJECT_HANDLE *hs, size_t max,
    size_t *ret_n, const char **reterr_detail)
{
	CK_OBJECT_HANDLE extra;
	CK_ULONG got = 0;
	size_t total = 0;
	CK_RV rv;
	int r = 0;

	if ((rv = p->f->C_FindObjectsInit(p->sess, tmpl, ntmpl)) != CKR_OK)
		return p11_ckr_fail(p, rv, "C_FindObjectsInit", reterr_detail);
	for (;;) {
		if (total == max) {
			/* full: one more means too many */
			rv = p->f->C_FindObjects(p->sess, &extra, 1, &got);
			if (rv == CKR_OK && got != 0) {
				*reterr_detail = "too many objects";
				r = KW_ERR_TOO_LARGE;
			}
			break;
		}
		rv = p->f->C_FindObjects(p->sess, hs + total, (CK_ULONG)(max - total), &got);
		if (rv != CKR_OK || got == 0)
			break;
		total += got;
	}
	(void)p->f->C_FindObjectsFinal(p->sess);
	if (rv != CKR_OK)
		return p11_ckr_fail(p, rv, "C_FindObjects", reterr_detail);
	if (r == 0)
		*ret_n = total;
	return r;
}

int
p11_find_one(struct hsm_p11 *p, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl, CK_OBJECT_HANDLE *ret,
    const char *none, const char *many, const char **reterr_detail)
{
	CK_OBJECT_HANDLE hs[1];
	size_t n = 0;
	int r;

	r = p11_find_all(p, tmpl, ntmpl, hs, KW_ARRAY_SIZE(hs), &n, reterr_detail);
	if (r == KW_ERR_TOO_LARGE) {
		*reterr_detail = many;
		return KW_ERR_HSM;
	}
	if (r != 0)
		return r;
	if (n == 0) {
		*reterr_detail = none;
		return KW_ERR_NOT_FOUND;
	}
	*ret = hs[0];
	return 0;
}

/* The private token key labelled label (exactly one, else NOT_FOUND / HSM) into ret->h. */
static int
find_token_priv(struct hsm_p11 *p, const char *label, struct secret_info *ret,
    const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_TOKEN, &p11_true, sizeof(p11_true)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	};

	memset(ret, 0, sizeof(*ret));
	return p11_find_one(p, tmpl, KW_ARRAY_SIZE(tmpl), &ret->h, "no such token key",
	    "label is not unique", reterr_detail);
}

/*
 * Read one attribute into buf[0..max); *ret_len is its length.
 * KW_ERR_NOT_FOUND when the object does not have it or it is longer than max.
 */
int
p11_get_attr(struct hsm_p11 *p, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, void *buf, size_t max,
    size_t *ret_len, const char **reterr_detail)
{
	CK_ATTRIBUTE a = {type, buf, max};
	CK_RV rv = p->f->C_GetAttributeValue(p->sess, h, &a, 1);

	if (rv == CKR_BUFFER_TOO_SMALL || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    rv == CKR_ATTRIBUTE_SENSITIVE || a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
		*reterr_detail = "attribute unavailable";
		return KW_ERR_NOT_FOUND;
	}
	if (rv != CKR_OK)
		return p11_ckr_fail(p, rv, "C_GetAttributeValue", reterr_detail);
	*ret_len = a.ulValueLen;
	return 0;
}

/*
 * Complete e (label and created already set, priv found): the private
 * half must be on P-256; the public half has the same label and CKA_ID.
 * KW_ERR_NOT_FOUND when the pair is not one of ours.
 */
static int
read_pair(struct hsm_p11 *p, struct tok_ent *e, const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	uint8_t id[TOK_ID_MAX], params[sizeof(hsm_p256_params) + 1], point[80];
	size_t id_len = 0, len = 0, n = 0;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_TOKEN, &p11_true, sizeof(p11_true)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_LABEL, e->k.label, strlen(e->k.label)},
		{CKA_ID, id, 0},
	};
	CK_OBJECT_HANDLE hs[1];
	int r;

	if ((r = p11_get_attr(p, e->priv, CKA_EC_PARAMS, params, sizeof(params), &len,
	    reterr_detail)) != 0)
		return r;
	if (len != sizeof(hsm_p256_params) || memcmp(params, hsm_p256_params, len) != 0) {
		*reterr_detail = "token key not on P-256";
		return KW_ERR_NOT_FOUND;
	}
	if ((r = p11_get_attr(p, e->priv, CKA_ID, id, sizeof(id), &id_len, reterr_detail)) != 0)
		return r;
	tmpl[4].ulValueLen = id_len;
	r = p11_find_all(p, tmpl, KW_ARRAY_SIZE(tmpl), hs, KW_ARRAY_SIZE(hs), &n, reterr_detail);
	if (r == KW_ERR_TOO_LARGE || (r == 0 && n == 0)) {
		*reterr_detail = n == 0 ? "token key without its public half" :
		    "token key with two public halves";
		return KW_ERR_NOT_FOUND;
	}
	if (r != 0)
		return r;
	e->pub = hs[0];
	if ((r = p11_get_attr(p, e->pub, CKA_EC_PARAMS, params, sizeof(params), &len,
	    reterr_detail)) != 0)
		return r;
	if (len != sizeof(hsm_p256_params) || memcmp(params, hsm_p256_params, len) != 0) {
		*reterr_detail = "public half not on P-256";
		return KW_ERR_NOT_FOUND;
	}
	if ((r = p11_get_attr(p, e->pub, CKA_EC_POINT, point, sizeof(point), &len, reterr_detail)) != 0)
		return r;
	if (hsm_ec_point_parse(point, len, e->k.x, e->k.y) != 0) {
		*reterr_detail = "malformed CKA_EC_POINT";
		return KW_ERR_NOT_FOUND;
	}
	return 0;
}

static int
tok_cmp(const void *a, const void *b)
{
	const struct tok_ent *x = a, *y = b;

	return x->k.created < y->k.created ? -1 : x->k.created > y->k.created;
}

/*
 * All token keys, oldest first, at most max (KW_ERR_TOO_LARGE beyond), into
 * *ret_out (free()) and *ret_n. Objects that are not ours (label outside the
 * rule, wrong curve, no public half) are skipped and counted
 * (hsm_p11_token_keys_skipped).
 */
static int
list_keys(struct hsm_p11 *p, size_t max, struct tok_ent **ret_out, size_t *ret_n,
    const char **reterr_detail)
{
	struct tok_ent *out = NULL;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_TOKEN, &p11_true, sizeof(p11_true)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
	};
	CK_OBJECT_HANDLE *hs = NULL;
	char label[HSM_TOKEN_LABEL_MAX + 1];
	size_t nh = 0, n = 0, len = 0;
	int64_t created;
	int r;

	if ((hs = calloc(TOK_SCAN_MAX, sizeof(*hs))) == NULL) {
		*reterr_detail = "out of memory";
		return KW_ERR_NOMEM;
	}
	p->tok_skipped = 0;
	if ((out = calloc(max + 1, sizeof(*out))) == NULL) {
		*reterr_detail = "out of memory";
		r = KW_ERR_NOMEM;
		goto out;
	}
	if ((r = p11_find_all(p, tmpl, KW_ARRAY_SIZE(tmpl), hs, TOK_SCAN_MAX, &nh, reterr_detail)) != 0)
		goto out;
	for (size_t i = 0; i < nh; i++) {
		r = p11_get_attr(p, hs[i], CKA_LABEL, label, HSM_TOKEN_LABEL_MAX, &len, reterr_detail);
		if (r == KW_ERR_NOT_FOUND)
			continue;    /* no label or a longer one than ours */
		if (r != 0)
			goto out;
		label[len] = '\0';
		if (hsm_token_label_parse(label, len, &created) != 0)
			continue;
		if (n == max) {
			*reterr_detail = "too many token keys";
			r = KW_ERR_TOO_LARGE;
			goto out;
		}
		memset(&out[n], 0, sizeof(out[n]));
		memcpy(out[n].k.label, label, len + 1);
		out[n].k.created = created;
		out[n].priv = hs[i];
		if ((r = read_pair(p, &out[n], reterr_detail)) == KW_ERR_NOT_FOUND) {
			/* not ours: the helper reports the count (hsm_p11_token_keys_skipped) */
			kw_log_debug("token key '%s' skipped: %s", label, *reterr_detail);
			p->tok_skipped++;
			memcpy(p->tok_skip_label, label, len + 1);
			p->tok_skip_why = *reterr_detail;
			continue;
		}
		if (r != 0)
			goto out;
		n++;
	}
	qsort(out, n, sizeof(*out), tok_cmp);
	for (size_t i = 1; i < n; i++) {
		if (out[i].k.created == out[i - 1].k.created) {
			*reterr_detail = "token key label is not unique";
			r = KW_ERR_HSM;
			goto out;
		}
	}
	*ret_out = out;
	out = NULL;    /* transferred */
	*ret_n = n;
	*reterr_detail = NULL;
	r = 0;
out:
	free(out);
	free(hs);
	return r;
}

int
hsm_p11_token_keys(struct hsm_p11 *p, struct hsm_token_key *out, size_t max, size_t *ret_n,
    const char **reterr_detail)
{
	struct tok_ent *es = NULL;
	size_t n = 0;
	int r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	if ((r = list_keys(p, max, &es, &n, reterr_detail)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		out[i] = es[i].k;
	*ret_n = n;
out:
	free(es);
	return r;
}

size_t
hsm_p11_token_keys_skipped(const struct hsm_p11 *p, const char **ret_label, const char **ret_why)
{
	if (p->tok_skipped > 0) {
		*ret_label = p->tok_skip_label;
		*ret_why = p->tok_skip_why;
	}
	return p->tok_skipped;
}

/* Whether any token object carries CKA_LABEL = label. */
int
p11_label_taken(struct hsm_p11 *p, const char *label, bool *ret, const char **reterr_detail)
{
	CK_ATTRIBUTE tmpl[] = {
		{CKA_TOKEN, &p11_true, sizeof(p11_true)},
		{CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	};
	CK_OBJECT_HANDLE hs[1];
	size_t n = 0;
	int r;

	r = p11_find_all(p, tmpl, KW_ARRAY_SIZE(tmpl), hs, KW_ARRAY_SIZE(hs), &n, reterr_detail);
	if (r == KW_ERR_TOO_LARGE)
		n = 2;
	else if (r != 0)
		return r;
	*ret = n != 0;
	return 0;
}

/*
 * Generate an EC P-256 pair in the token labelled e->k.label (private half
 * sensitive, not extractable, sign only; a random CKA_ID shared by both
 * halves) and read its public point into e. Nothing is left behind on failure.
 */
static int
gen_pair(struct hsm_p11 *p, struct tok_ent *e, const char **reterr_detail)
{
	CK_OBJECT_CLASS c_pub = CKO_PUBLIC_KEY, c_priv = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	uint8_t id[TOK_ID_LEN], point[80];
	size_t len = 0;
	CK_ATTRIBUTE t_pub[] = {
		{CKA_CLASS, &c_pub, sizeof(c_pub)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &p11_true, sizeof(p11_true)},
		{CKA_PRIVATE, &p11_false, sizeof(p11_false)},
		{CKA_VERIFY, &p11_true, sizeof(p11_true)},
		{CKA_ENCRYPT, &p11_false, sizeof(p11_false)},
		{CKA_WRAP, &p11_false, sizeof(p11_false)},
		{CKA_DERIVE, &p11_false, sizeof(p11_false)},
		{CKA_EC_PARAMS, (void *)(uintptr_t)hsm_p256_params, sizeof(hsm_p256_params)},
		{CKA_LABEL, e->k.label, strlen(e->k.label)},
		{CKA_ID, id, sizeof(id)},
	};
	CK_ATTRIBUTE t_priv[] = {
		{CKA_CLASS, &c_priv, sizeof(c_priv)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &p11_true, sizeof(p11_true)},
		{CKA_PRIVATE, &p11_true, sizeof(p11_true)},
		{CKA_SENSITIVE, &p11_true, sizeof(p11_true)},
		{CKA_EXTRACTABLE, &p11_false, sizeof(p11_false)},
		{CKA_SIGN, &p11_true, sizeof(p11_true)},
		{CKA_DECRYPT, &p11_false, sizeof(p11_false)},
		{CKA_UNWRAP, &p11_false, sizeof(p11_false)},
		{CKA_DERIVE, &p11_false, sizeof(p11_false)},
		{CKA_LABEL, e->k.label, strlen(e->k.label)},
		{CKA_ID, id, sizeof(id)},
	};
	CK_RV rv;
	int r;

	e->priv = e->pub = CK_INVALID_HANDLE;
	if ((rv = p->f->C_GenerateRandom(p->sess, id, sizeof(id))) != CKR_OK)
		return p11_ckr_fail(p, rv, "C_GenerateRandom", reterr_detail);
	rv = p->f->C_GenerateKeyPair(p->sess, &mech, t_pub, KW_ARRAY_SIZE(t_pub), t_priv,
	    KW_ARRAY_SIZE(t_priv), &e->pub, &e->priv);
	if (rv != CKR_OK) {
		e->pub = e->priv = CK_INVALID_HANDLE;
		return p11_ckr_fail(p, rv, "C_GenerateKeyPair", reterr_detail);
	}
	if ((r = p11_get_attr(p, e->pub, CKA_EC_POINT, point, sizeof(point), &len, reterr_detail)) != 0)
		goto out;
	if (hsm_ec_point_parse(point, len, e->k.x, e->k.y) != 0) {
		*reterr_detail = "malformed CKA_EC_POINT";
		r = KW_ERR_HSM;
		goto out;
	}
	r = 0;
out:
	if (r != 0) {
		/* never leave half a key behind */
		p11_destroy(p, &e->priv);
		p11_destroy(p, &e->pub);
	}
	return r;
}

int
hsm_p11_token_key_new(struct hsm_p11 *p, int64_t now, struct hsm_token_key *ret,
    const char **reterr_detail)
{
	struct tok_ent *es = NULL, e;
	size_t n = 0;
	bool taken = true;
	int r;

	memset(&e, 0, sizeof(e));
	e.priv = e.pub = CK_INVALID_HANDLE;
	if (now < 0 || now > TOK_N_MAX) {
		*reterr_detail = "bad time";
		return KW_ERR_INVALID_ARG;
	}
	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	if ((r = list_keys(p, HSM_TOKEN_KEYS_MAX, &es, &n, reterr_detail)) != 0)
		goto out;
	if (n >= HSM_TOKEN_KEYS_MAX) {
		*reterr_detail = "too many token keys; destroy retired ones";
		r = KW_ERR_TOO_LARGE;
		goto out;
	}
	/* first free label from now on */
	for (int i = 0; i < TOK_NEW_TRIES && taken; i++, now++) {
		if (now > TOK_N_MAX)
			break;
		snprintf(e.k.label, sizeof(e.k.label), HSM_TOKEN_LABEL_PREFIX "%lld", (long long)now);
		e.k.created = now;
		if ((r = p11_label_taken(p, e.k.label, &taken, reterr_detail)) != 0)
			goto out;
	}
	if (taken) {
		*reterr_detail = "no free token key label";
		r = KW_ERR_EXISTS;
		goto out;
	}
	if ((r = gen_pair(p, &e, reterr_detail)) != 0)
		goto out;
	*ret = e.k;
	*reterr_detail = NULL;
	r = 0;
out:
	free(es);
	return r;
}

static struct cache_ent *
tok_cache_slot(struct hsm_p11 *p, const char *label)
{
	int64_t n = 0;

	if (hsm_token_label_parse(label, strlen(label), &n) != 0)
		n = 0;
	return &p->tok_cache[(uint64_t)n % TOK_CACHE_SLOTS];
}

struct sign_args {
	const uint8_t *digest;
	uint8_t *sig;
};

/* C_SignInit + C_Sign with the private key si->h; R||S in a->sig. */
static int
sign_op(struct hsm_p11 *p, const struct secret_info *si, void *arg, const char **reterr_detail)
{
	struct sign_args *a = arg;
	CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
	uint8_t buf[2 * 66];    /* room for any curve: no CKR_BUFFER_TOO_SMALL leaving it active */
	CK_ULONG len = sizeof(buf);
	CK_RV rv;

	if ((rv = p->f->C_SignInit(p->sess, &mech, si->h)) != CKR_OK)
		return p11_ckr_fail(p, rv, "C_SignInit", reterr_detail);
	rv = p->f->C_Sign(p->sess, (CK_BYTE_PTR)(uintptr_t)a->digest, HSM_SIGN_DIGEST_LEN, buf, &len);
	if (rv != CKR_OK)
		return p11_ckr_fail(p, rv, "C_Sign", reterr_detail);
	if (hsm_ecdsa_sig_fixed(buf, len, a->sig) != 0) {
		*reterr_detail = "unexpected ECDSA signature length";
		return KW_ERR_HSM;
	}
	return 0;
}

int
hsm_p11_sign(struct hsm_p11 *p, const char *label, const uint8_t digest[HSM_SIGN_DIGEST_LEN],
    uint8_t sig[HSM_SIGN_SIG_LEN], const char **reterr_detail)
{
	struct sign_args a = {digest, sig};
	int r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	if (hsm_token_label_parse(label, strlen(label), NULL) != 0) {
		*reterr_detail = "not a token key label";
		return KW_ERR_INVALID_ARG;
	}
	return p11_cached_call(p, tok_cache_slot(p, label), label, find_token_priv, sign_op, &a,
	    reterr_detail);
}

int
hsm_p11_token_key_destroy(struct hsm_p11 *p, const char *label, const char **reterr_detail)
{
	struct tok_ent *es = NULL;
	size_t n = 0, i;
	CK_RV rv;
	int r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	if (hsm_token_label_parse(label, strlen(label), NULL) != 0) {
		*reterr_detail = "not a token key label";
		return KW_ERR_INVALID_ARG;
	}
	if ((r = list_keys(p, HSM_TOKEN_KEYS_MAX, &es, &n, reterr_detail)) != 0)
		goto out;
	for (i = 0; i < n && strcmp(es[i].k.label, label) != 0; i++)
		;
	if (i == n) {
		*reterr_detail = "no such token key";
		r = KW_ERR_NOT_FOUND;
		goto out;
	}
	if (i == n - 1) {
		*reterr_detail = "the newest token key cannot be destroyed";
		r = KW_ERR_DENIED;
		goto out;
	}
	p11_cache_forget(tok_cache_slot(p, label), label);
	/* private half first: a leftover public half signs nothing */
	if ((rv = p->f->C_DestroyObject(p->sess, es[i].priv)) != CKR_OK) {
		r = p11_ckr_fail(p, rv, "C_DestroyObject(private)", reterr_detail);
		goto out;
	}
	if ((rv = p->f->C_DestroyObject(p->sess, es[i].pub)) != CKR_OK) {
		r = p11_ckr_fail(p, rv, "C_DestroyObject(public)", reterr_detail);
		goto out;
	}
	*reterr_detail = NULL;
	r = 0;
out:
	free(es);
	return r;
}


/* ---- the audit checkpoint key (hsm_proto.h "audit_key", "audit_sign") ---- */

/* A CK_BBOOL attribute of h: 0 and *ret, or an error. */
static int
get_bool_attr(struct hsm_p11 *p, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, bool *ret,
    const char **reterr_detail)
{
	CK_BBOOL v = CK_FALSE;
	size_t len = 0;
	int r;

	if ((r = p11_get_attr(p, h, type, &v, sizeof(v), &len, reterr_detail)) != 0)
		return r;
	if (len != sizeof(v)) {
		*reterr_detail = "malformed boolean attribute";
		return KW_ERR_HSM;
	}
	*ret = v == CK_TRUE;
	return 0;
}

int
hsm_p11_audit_key(struct hsm_p11 *p, struct hsm_token_key *ret, bool *ret_generated,
    const char **reterr_detail)
{
	struct secret_info si;
	struct tok_ent e;
	bool sensitive = false, extractable = true, taken = false;
	int r;

	memset(&e, 0, sizeof(e));
	snprintf(e.k.label, sizeof(e.k.label), "%s", HSM_AUDIT_LABEL);
	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	/* exactly one private EC key with the label, or none (KW_ERR_HSM: two) */
	r = find_token_priv(p, HSM_AUDIT_LABEL, &si, reterr_detail);
	if (r != 0 && r != KW_ERR_NOT_FOUND)
		return r;
	if (r == KW_ERR_NOT_FOUND) {
		/* a stray object with the label (a public half alone) would make two */
		if ((r = p11_label_taken(p, HSM_AUDIT_LABEL, &taken, reterr_detail)) != 0)
			return r;
		if (taken) {
			*reterr_detail = "an object other than the audit key holds its label";
			return KW_ERR_HSM;
		}
		if ((r = gen_pair(p, &e, reterr_detail)) != 0)
			return r;
		*ret = e.k;
		*ret_generated = true;
		*reterr_detail = NULL;
		return 0;
	}
	e.priv = si.h;
	if ((r = read_pair(p, &e, reterr_detail)) != 0)
		return r == KW_ERR_NOT_FOUND ? KW_ERR_HSM : r;
	if ((r = get_bool_attr(p, e.priv, CKA_SENSITIVE, &sensitive, reterr_detail)) != 0 ||
	    (r = get_bool_attr(p, e.priv, CKA_EXTRACTABLE, &extractable, reterr_detail)) != 0)
		return r == KW_ERR_NOT_FOUND ? KW_ERR_HSM : r;
	if (!sensitive || extractable) {
		*reterr_detail = "the audit key is extractable or not sensitive";
		return KW_ERR_HSM;
	}
	*ret = e.k;
	*ret_generated = false;
	*reterr_detail = NULL;
	return 0;
}

int
hsm_p11_audit_sign(struct hsm_p11 *p, const uint8_t digest[HSM_SIGN_DIGEST_LEN],
    uint8_t sig[HSM_SIGN_SIG_LEN], const char **reterr_detail)
{
	struct sign_args a = {digest, sig};
	int r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	return p11_cached_call(p, &p->audit_cache, HSM_AUDIT_LABEL, find_token_priv, sign_op, &a,
	    reterr_detail);
}
