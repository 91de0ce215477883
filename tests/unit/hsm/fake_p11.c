/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake PKCS#11 module (fake_p11.h): just enough of the API for
 * hsm/hsm_p11*.c, no cryptography, with call counts and chosen failures.
 * Test-only; single-threaded like keywarden-hsm.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fake_p11.h"

#define MAX_OBJ 1024
#define MAX_SESS 16
#define SLOT_ID 7
#define LABEL_MAX 256
#define ID_MAX 64
#define RSA_LEN 384

struct obj {
	bool alive, token, sensitive, extractable, unwrap, has_value_len;
	CK_OBJECT_CLASS cls;
	CK_KEY_TYPE kt;
	char label[LABEL_MAX];
	size_t label_len;
	uint8_t id[ID_MAX];
	size_t id_len;
	CK_ULONG value_len; /* secret keys: bytes of value */
	CK_ULONG mod_len;   /* RSA public keys made with CKA_MODULUS: its bytes */
};

static struct {
	unsigned long calls[FAKE_FN_COUNT];
	struct {
		bool used;
		enum fake_fn fn;
		unsigned long from, until; /* call numbers [from, until) */
		CK_RV rv;
	} rules[FAKE_RULES];
	bool initialized, logged_in;
	struct obj objs[MAX_OBJ];
	size_t n_objs; /* handles are 1..n_objs, never reused */
	CK_SESSION_HANDLE sess[MAX_SESS];
	CK_SESSION_HANDLE next_sess;
	CK_OBJECT_HANDLE found[MAX_OBJ];
	size_t n_found, pos;
	bool finding;
	unsigned long digest_acc;
} st;

/* DER OID prime256v1 and the uncompressed P-256 generator as CKA_EC_POINT */
static const uint8_t p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t p256_g[] = {0x04, 0x41, 0x04,
	0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2,
	0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96,
	0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16,
	0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5};
static const uint8_t rsa_e[] = {0x01, 0x00, 0x01};

/* Count the call; the rv of a rule that covers it, else CKR_OK. */
static CK_RV
enter(enum fake_fn fn)
{
	unsigned long n = ++st.calls[fn];

	for (size_t i = 0; i < FAKE_RULES; i++) {
		if (st.rules[i].used && st.rules[i].fn == fn && n >= st.rules[i].from &&
		    n < st.rules[i].until)
			return st.rules[i].rv;
	}
	return CKR_OK;
}

static CK_RV
check_session(CK_SESSION_HANDLE s)
{
	if (!st.initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	for (size_t i = 0; i < MAX_SESS; i++) {
		if (s != CK_INVALID_HANDLE && st.sess[i] == s)
			return CKR_OK;
	}
	return CKR_SESSION_HANDLE_INVALID;
}

/* A call that takes a session: counted, then the rule, then the session. */
static CK_RV
enter_session(enum fake_fn fn, CK_SESSION_HANDLE s)
{
	CK_RV rv = enter(fn);

	return rv != CKR_OK ? rv : check_session(s);
}

static struct obj *
obj_get(CK_OBJECT_HANDLE h)
{
	if (h == CK_INVALID_HANDLE || h > st.n_objs || !st.objs[h - 1].alive)
		return NULL;
	return &st.objs[h - 1];
}

static struct obj *
obj_new(CK_OBJECT_HANDLE *ret)
{
	struct obj *o;

	if (st.n_objs == MAX_OBJ)
		return NULL;
	o = &st.objs[st.n_objs++];
	memset(o, 0, sizeof(*o));
	o->alive = true;
	o->sensitive = true;
	*ret = (CK_OBJECT_HANDLE)st.n_objs;
	return o;
}

static CK_ULONG
get_ulong(const CK_ATTRIBUTE *a)
{
	CK_ULONG v = 0;

	if (a->pValue != NULL && a->ulValueLen == sizeof(v))
		memcpy(&v, a->pValue, sizeof(v));
	return v;
}

static bool
get_bool(const CK_ATTRIBUTE *a)
{
	return a->pValue != NULL && a->ulValueLen >= 1 && *(const CK_BBOOL *)a->pValue != CK_FALSE;
}

/* Apply a template's attributes to o. */
static CK_RV
apply(struct obj *o, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		switch (t[i].type) {
		case CKA_CLASS:
			o->cls = get_ulong(&t[i]);
			break;
		case CKA_KEY_TYPE:
			o->kt = get_ulong(&t[i]);
			break;
		case CKA_TOKEN:
			o->token = get_bool(&t[i]);
			break;
		case CKA_SENSITIVE:
			o->sensitive = get_bool(&t[i]);
			break;
		case CKA_EXTRACTABLE:
			o->extractable = get_bool(&t[i]);
			break;
		case CKA_UNWRAP:
			o->unwrap = get_bool(&t[i]);
			break;
		case CKA_LABEL:
			if (t[i].ulValueLen >= LABEL_MAX)
				return CKR_ATTRIBUTE_VALUE_INVALID;
			memcpy(o->label, t[i].pValue, t[i].ulValueLen);
			o->label_len = t[i].ulValueLen;
			break;
		case CKA_ID:
			if (t[i].ulValueLen > ID_MAX)
				return CKR_ATTRIBUTE_VALUE_INVALID;
			memcpy(o->id, t[i].pValue, t[i].ulValueLen);
			o->id_len = t[i].ulValueLen;
			break;
		case CKA_VALUE:
			o->value_len = t[i].ulValueLen;
			o->has_value_len = true;
			break;
		case CKA_VALUE_LEN:
			o->value_len = get_ulong(&t[i]);
			o->has_value_len = true;
			break;
		case CKA_MODULUS:
			o->mod_len = t[i].ulValueLen;
			break;
		default:
			break;
		}
	}
	return CKR_OK;
}

static bool
matches(const struct obj *o, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		switch (t[i].type) {
		case CKA_CLASS:
			if (o->cls != get_ulong(&t[i]))
				return false;
			break;
		case CKA_KEY_TYPE:
			if (o->kt != get_ulong(&t[i]))
				return false;
			break;
		case CKA_TOKEN:
			if (o->token != get_bool(&t[i]))
				return false;
			break;
		case CKA_LABEL:
			if (o->label_len != t[i].ulValueLen ||
			    memcmp(o->label, t[i].pValue, o->label_len) != 0)
				return false;
			break;
		case CKA_ID:
			if (o->id_len != t[i].ulValueLen || memcmp(o->id, t[i].pValue, o->id_len) != 0)
				return false;
			break;
		default:
			break;
		}
	}
	return true;
}

static CK_RV
fake_initialize(void *args)
{
	CK_RV rv = enter(FAKE_INITIALIZE);

	(void)args;
	if (rv != CKR_OK)
		return rv;
	if (st.initialized)
		return CKR_CRYPTOKI_ALREADY_INITIALIZED;
	st.initialized = true;
	return CKR_OK;
}

static CK_RV
fake_finalize(void *reserved)
{
	CK_RV rv = enter(FAKE_FINALIZE);

	(void)reserved;
	if (rv != CKR_OK)
		return rv;
	if (!st.initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	st.initialized = false;
	st.logged_in = false;
	st.finding = false;
	memset(st.sess, 0, sizeof(st.sess));
	for (size_t i = 0; i < st.n_objs; i++) {
		if (!st.objs[i].token)
			st.objs[i].alive = false;
	}
	return CKR_OK;
}

static void
padded(CK_UTF8CHAR *out, size_t n, const char *s)
{
	memset(out, ' ', n);
	memcpy(out, s, strlen(s));
}

static CK_RV
fake_get_info(CK_INFO *info)
{
	CK_RV rv = enter(FAKE_GET_INFO);

	if (rv != CKR_OK)
		return rv;
	memset(info, 0, sizeof(*info));
	padded(info->manufacturerID, sizeof(info->manufacturerID), "keywarden");
	padded(info->libraryDescription, sizeof(info->libraryDescription), "fake PKCS#11");
	info->libraryVersion.major = 0;
	info->libraryVersion.minor = 1;
	return CKR_OK;
}

static CK_RV
fake_get_slot_list(CK_BBOOL present, CK_SLOT_ID *list, CK_ULONG *count)
{
	CK_RV rv = enter(FAKE_GET_SLOT_LIST);

	(void)present;
	if (rv != CKR_OK)
		return rv;
	if (!st.initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	if (list != NULL) {
		if (*count < 1) {
			*count = 1;
			return CKR_BUFFER_TOO_SMALL;
		}
		list[0] = SLOT_ID;
	}
	*count = 1;
	return CKR_OK;
}

static CK_RV
fake_get_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO *ti)
{
	CK_RV rv = enter(FAKE_GET_TOKEN_INFO);

	if (rv != CKR_OK)
		return rv;
	if (slot != SLOT_ID)
		return CKR_SLOT_ID_INVALID;
	memset(ti, 0, sizeof(*ti));
	padded(ti->label, sizeof(ti->label), FAKE_TOKEN_LABEL);
	return CKR_OK;
}

static CK_RV
fake_open_session(CK_SLOT_ID slot, CK_FLAGS flags, void *app, CK_NOTIFY notify,
    CK_SESSION_HANDLE *ret)
{
	CK_RV rv = enter(FAKE_OPEN_SESSION);

	(void)flags;
	(void)app;
	(void)notify;
	if (rv != CKR_OK)
		return rv;
	if (!st.initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	if (slot != SLOT_ID)
		return CKR_SLOT_ID_INVALID;
	for (size_t i = 0; i < MAX_SESS; i++) {
		if (st.sess[i] == CK_INVALID_HANDLE) {
			st.sess[i] = ++st.next_sess;
			*ret = st.sess[i];
			return CKR_OK;
		}
	}
	return CKR_SESSION_COUNT;
}

static CK_RV
fake_close_session(CK_SESSION_HANDLE s)
{
	CK_RV rv = enter_session(FAKE_CLOSE_SESSION, s);

	if (rv != CKR_OK)
		return rv;
	bool any = false;

	for (size_t i = 0; i < MAX_SESS; i++) {
		if (st.sess[i] == s)
			st.sess[i] = CK_INVALID_HANDLE;
		any |= st.sess[i] != CK_INVALID_HANDLE;
	}
	st.logged_in &= any;    /* closing the last session logs out */
	return CKR_OK;
}

static CK_RV
fake_login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR *pin, CK_ULONG len)
{
	CK_RV rv = enter_session(FAKE_LOGIN, s);

	if (rv != CKR_OK)
		return rv;
	if (user != CKU_USER)
		return CKR_USER_TYPE_INVALID;
	if (len != strlen(FAKE_PIN) || memcmp(pin, FAKE_PIN, len) != 0)
		return CKR_PIN_INCORRECT;
	if (st.logged_in)
		return CKR_USER_ALREADY_LOGGED_IN;
	st.logged_in = true;
	return CKR_OK;
}

static CK_RV
fake_find_init(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n)
{
	CK_RV rv = enter_session(FAKE_FIND_INIT, s);

	if (rv != CKR_OK)
		return rv;
	if (st.finding)
		return CKR_OPERATION_ACTIVE;
	st.n_found = st.pos = 0;
	for (size_t i = 0; i < st.n_objs; i++) {
		if (st.objs[i].alive && matches(&st.objs[i], t, n))
			st.found[st.n_found++] = (CK_OBJECT_HANDLE)(i + 1);
	}
	st.finding = true;
	return CKR_OK;
}

static CK_RV
fake_find(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *ret_n)
{
	CK_RV rv = enter_session(FAKE_FIND, s);
	CK_ULONG n = 0;

	if (rv != CKR_OK)
		return rv;
	if (!st.finding)
		return CKR_OPERATION_NOT_INITIALIZED;
	while (n < max && st.pos < st.n_found)
		out[n++] = st.found[st.pos++];
	*ret_n = n;
	return CKR_OK;
}

static CK_RV
fake_find_final(CK_SESSION_HANDLE s)
{
	CK_RV rv = enter_session(FAKE_FIND_FINAL, s);

	if (rv != CKR_OK)
		return rv;
	st.finding = false;
	return CKR_OK;
}

/* One attribute's value into a (PKCS#11 2.40 rules for pValue NULL and short buffers). */
static CK_RV
attr_out(CK_ATTRIBUTE *a, const void *v, size_t len)
{
	if (a->pValue == NULL) {
		a->ulValueLen = len;
		return CKR_OK;
	}
	if (a->ulValueLen < len) {
		a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(a->pValue, v, len);
	a->ulValueLen = len;
	return CKR_OK;
}

static CK_RV
fake_get_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *t, CK_ULONG n)
{
	static const uint8_t value[64] = {0x5a};
	uint8_t mod[RSA_LEN];
	CK_RV rv = enter_session(FAKE_GET_ATTR, s), worst = CKR_OK;
	const struct obj *o = obj_get(h);
	CK_BBOOL b;
	CK_ULONG ul;

	if (rv != CKR_OK)
		return rv;
	if (o == NULL)
		return CKR_OBJECT_HANDLE_INVALID;
	memset(mod, 0xc3, sizeof(mod));
	for (CK_ULONG i = 0; i < n; i++) {
		rv = CKR_OK;
		switch (t[i].type) {
		case CKA_CLASS:
			rv = attr_out(&t[i], &o->cls, sizeof(o->cls));
			break;
		case CKA_KEY_TYPE:
			rv = attr_out(&t[i], &o->kt, sizeof(o->kt));
			break;
		case CKA_VALUE_LEN:
			ul = o->has_value_len ? o->value_len : 0;
			rv = attr_out(&t[i], &ul, sizeof(ul));
			break;
		case CKA_LABEL:
			rv = attr_out(&t[i], o->label, o->label_len);
			break;
		case CKA_ID:
			rv = attr_out(&t[i], o->id, o->id_len);
			break;
		case CKA_SENSITIVE:
		case CKA_EXTRACTABLE:
		case CKA_UNWRAP:
			b = t[i].type == CKA_SENSITIVE ? o->sensitive : t[i].type == CKA_EXTRACTABLE ?
			    o->extractable : o->unwrap;
			rv = attr_out(&t[i], &b, sizeof(b));
			break;
		case CKA_EC_PARAMS:
			rv = o->kt == CKK_EC ? attr_out(&t[i], p256_oid, sizeof(p256_oid)) :
			    CKR_ATTRIBUTE_TYPE_INVALID;
			break;
		case CKA_EC_POINT:
			rv = o->kt == CKK_EC && o->cls == CKO_PUBLIC_KEY ?
			    attr_out(&t[i], p256_g, sizeof(p256_g)) : CKR_ATTRIBUTE_TYPE_INVALID;
			break;
		case CKA_MODULUS:
			rv = o->kt == CKK_RSA ? attr_out(&t[i], mod, sizeof(mod)) :
			    CKR_ATTRIBUTE_TYPE_INVALID;
			break;
		case CKA_PUBLIC_EXPONENT:
			rv = o->kt == CKK_RSA ? attr_out(&t[i], rsa_e, sizeof(rsa_e)) :
			    CKR_ATTRIBUTE_TYPE_INVALID;
			break;
		case CKA_VALUE:
			if (o->cls != CKO_SECRET_KEY || o->sensitive || o->value_len > sizeof(value))
				rv = CKR_ATTRIBUTE_SENSITIVE;
			else
				rv = attr_out(&t[i], value, o->value_len);
			break;
		default:
			rv = CKR_ATTRIBUTE_TYPE_INVALID;
			break;
		}
		if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
		if (rv != CKR_OK)
			worst = rv;
	}
	return worst;
}

static CK_RV
fake_create_object(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *ret)
{
	CK_RV rv = enter_session(FAKE_CREATE_OBJECT, s);
	CK_OBJECT_HANDLE h;
	struct obj *o;

	if (rv != CKR_OK)
		return rv;
	if ((o = obj_new(&h)) == NULL)
		return CKR_DEVICE_MEMORY;
	if ((rv = apply(o, t, n)) != CKR_OK) {
		o->alive = false;
		return rv;
	}
	*ret = h;
	return CKR_OK;
}

static CK_RV
fake_destroy_object(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	CK_RV rv = enter_session(FAKE_DESTROY_OBJECT, s);
	struct obj *o;

	if (rv != CKR_OK)
		return rv;
	if ((o = obj_get(h)) == NULL)
		return CKR_OBJECT_HANDLE_INVALID;
	o->alive = false;
	return CKR_OK;
}

static CK_RV
fake_generate_key(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_ATTRIBUTE *t, CK_ULONG n,
    CK_OBJECT_HANDLE *ret)
{
	CK_RV rv = enter_session(FAKE_GENERATE_KEY, s);
	CK_OBJECT_HANDLE h;
	struct obj *o;

	if (rv != CKR_OK)
		return rv;
	if (m->mechanism != CKM_AES_KEY_GEN)
		return CKR_MECHANISM_INVALID;
	if ((o = obj_new(&h)) == NULL)
		return CKR_DEVICE_MEMORY;
	o->cls = CKO_SECRET_KEY;
	o->kt = CKK_AES;
	if ((rv = apply(o, t, n)) != CKR_OK) {
		o->alive = false;
		return rv;
	}
	*ret = h;
	return CKR_OK;
}

static CK_RV
fake_generate_key_pair(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_ATTRIBUTE *tpub, CK_ULONG npub,
    CK_ATTRIBUTE *tpriv, CK_ULONG npriv, CK_OBJECT_HANDLE *ret_pub, CK_OBJECT_HANDLE *ret_priv)
{
	CK_RV rv = enter_session(FAKE_GENERATE_KEY_PAIR, s);
	CK_OBJECT_HANDLE hpub, hpriv;
	struct obj *pub, *priv;

	if (rv != CKR_OK)
		return rv;
	if (m->mechanism != CKM_EC_KEY_PAIR_GEN && m->mechanism != CKM_RSA_PKCS_KEY_PAIR_GEN)
		return CKR_MECHANISM_INVALID;
	if ((pub = obj_new(&hpub)) == NULL)
		return CKR_DEVICE_MEMORY;
	if ((priv = obj_new(&hpriv)) == NULL) {
		pub->alive = false;
		return CKR_DEVICE_MEMORY;
	}
	pub->cls = CKO_PUBLIC_KEY;
	priv->cls = CKO_PRIVATE_KEY;
	pub->kt = priv->kt = m->mechanism == CKM_EC_KEY_PAIR_GEN ? CKK_EC : CKK_RSA;
	pub->sensitive = false;
	if ((rv = apply(pub, tpub, npub)) != CKR_OK || (rv = apply(priv, tpriv, npriv)) != CKR_OK) {
		pub->alive = priv->alive = false;
		return rv;
	}
	*ret_pub = hpub;
	*ret_priv = hpriv;
	return CKR_OK;
}

static CK_RV
fake_generate_random(CK_SESSION_HANDLE s, CK_BYTE *out, CK_ULONG len)
{
	CK_RV rv = enter_session(FAKE_GENERATE_RANDOM, s);

	if (rv != CKR_OK)
		return rv;
	for (CK_ULONG i = 0; i < len; i++)
		out[i] = (CK_BYTE)(i * 13 + st.calls[FAKE_GENERATE_RANDOM]);
	return CKR_OK;
}

static CK_RV
fake_derive_key(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE base, CK_ATTRIBUTE *t,
    CK_ULONG n, CK_OBJECT_HANDLE *ret)
{
	CK_RV rv = enter_session(FAKE_DERIVE_KEY, s);
	CK_OBJECT_HANDLE h;
	struct obj *o;

	(void)m;
	if (rv != CKR_OK)
		return rv;
	if (obj_get(base) == NULL)
		return CKR_KEY_HANDLE_INVALID;
	if ((o = obj_new(&h)) == NULL)
		return CKR_DEVICE_MEMORY;
	o->cls = CKO_SECRET_KEY;
	if ((rv = apply(o, t, n)) != CKR_OK) {
		o->alive = false;
		return rv;
	}
	*ret = h;
	return CKR_OK;
}

/* Output of a wrap (mechanism m, wrapping key w, wrapped key k), or 0 when it cannot be. */
static CK_ULONG
wrap_len(CK_MECHANISM_TYPE m, const struct obj *w, const struct obj *k)
{
	switch (m) {
	case CKM_AES_CBC:
		return k->value_len % 16 == 0 ? k->value_len : 0;
	case CKM_RSA_PKCS_OAEP:
		return w->mod_len != 0 ? w->mod_len : RSA_LEN;
	case CKM_AES_KEY_WRAP:
		return (k->value_len + 7) / 8 * 8 + 8;
	default:
		return 0;
	}
}

static CK_RV
fake_wrap_key(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE wh, CK_OBJECT_HANDLE kh,
    CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv = enter_session(FAKE_WRAP_KEY, s);
	const struct obj *w = obj_get(wh), *k = obj_get(kh);
	CK_ULONG len;

	if (rv != CKR_OK)
		return rv;
	if (w == NULL)
		return CKR_WRAPPING_KEY_HANDLE_INVALID;
	if (k == NULL)
		return CKR_KEY_HANDLE_INVALID;
	if ((len = wrap_len(m->mechanism, w, k)) == 0)
		return CKR_MECHANISM_INVALID;
	if (out != NULL) {
		if (*out_len < len) {
			*out_len = len;
			return CKR_BUFFER_TOO_SMALL;
		}
		memset(out, 0xa5, len);
	}
	*out_len = len;
	return CKR_OK;
}

static CK_RV
fake_unwrap_key(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE uh, CK_BYTE *in,
    CK_ULONG in_len, CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *ret)
{
	CK_RV rv = enter_session(FAKE_UNWRAP_KEY, s);
	CK_OBJECT_HANDLE h;
	struct obj *o;

	(void)in;
	if (rv != CKR_OK)
		return rv;
	if (obj_get(uh) == NULL)
		return CKR_UNWRAPPING_KEY_HANDLE_INVALID;
	if ((o = obj_new(&h)) == NULL)
		return CKR_DEVICE_MEMORY;
	o->cls = CKO_SECRET_KEY;
	/* like SoftHSM 2.6.1: no CKA_VALUE_LEN on unwrapped keys */
	o->value_len = m->mechanism == CKM_RSA_PKCS_OAEP ? 32 : in_len >= 16 ? in_len - 8 : 0;
	if ((rv = apply(o, t, n)) != CKR_OK) {
		o->alive = false;
		return rv;
	}
	o->has_value_len = false;
	*ret = h;
	return CKR_OK;
}

static CK_RV
fake_encrypt_init(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE h)
{
	CK_RV rv = enter_session(FAKE_ENCRYPT_INIT, s);

	(void)m;
	if (rv != CKR_OK)
		return rv;
	return obj_get(h) != NULL ? CKR_OK : CKR_KEY_HANDLE_INVALID;
}

static CK_RV
fake_encrypt(CK_SESSION_HANDLE s, CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv = enter_session(FAKE_ENCRYPT, s);

	(void)in;
	if (rv != CKR_OK)
		return rv;
	if (*out_len < in_len)
		return CKR_BUFFER_TOO_SMALL;
	memset(out, 0x3c, in_len);
	*out_len = in_len;
	return CKR_OK;
}

static CK_RV
fake_sign_init(CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE h)
{
	CK_RV rv = enter_session(FAKE_SIGN_INIT, s);
	const struct obj *o = obj_get(h);

	(void)m;
	if (rv != CKR_OK)
		return rv;
	return o != NULL && o->cls == CKO_PRIVATE_KEY ? CKR_OK : CKR_KEY_HANDLE_INVALID;
}

static CK_RV
fake_sign(CK_SESSION_HANDLE s, CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv = enter_session(FAKE_SIGN, s);

	(void)in;
	(void)in_len;
	if (rv != CKR_OK)
		return rv;
	if (*out_len < 64)
		return CKR_BUFFER_TOO_SMALL;
	memset(out, 0x11, 64);
	*out_len = 64;
	return CKR_OK;
}

static CK_RV
fake_digest_init(CK_SESSION_HANDLE s, CK_MECHANISM *m)
{
	CK_RV rv = enter_session(FAKE_DIGEST_INIT, s);

	(void)m;
	if (rv != CKR_OK)
		return rv;
	st.digest_acc = 0;
	return CKR_OK;
}

static CK_RV
fake_digest_update(CK_SESSION_HANDLE s, CK_BYTE *in, CK_ULONG len)
{
	CK_RV rv = enter_session(FAKE_DIGEST_UPDATE, s);

	if (rv != CKR_OK)
		return rv;
	for (CK_ULONG i = 0; i < len; i++)
		st.digest_acc = st.digest_acc * 31 + in[i];
	return CKR_OK;
}

/* "Digests" a key by its length: enough for hsm_p11_import's length check. */
static CK_RV
fake_digest_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	CK_RV rv = enter_session(FAKE_DIGEST_KEY, s);
	const struct obj *o = obj_get(h);

	if (rv != CKR_OK)
		return rv;
	if (o == NULL)
		return CKR_KEY_HANDLE_INVALID;
	st.digest_acc = st.digest_acc * 31 + o->value_len;
	return CKR_OK;
}

static CK_RV
fake_digest_final(CK_SESSION_HANDLE s, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv = enter_session(FAKE_DIGEST_FINAL, s);

	if (rv != CKR_OK)
		return rv;
	if (*out_len < 32)
		return CKR_BUFFER_TOO_SMALL;
	for (int i = 0; i < 32; i++)
		out[i] = (CK_BYTE)(st.digest_acc >> (8 * (i % 8)));
	*out_len = 32;
	return CKR_OK;
}

static CK_FUNCTION_LIST fl = {
	.version = {2, 40},
	.C_Initialize = fake_initialize,
	.C_Finalize = fake_finalize,
	.C_GetInfo = fake_get_info,
	.C_GetFunctionList = C_GetFunctionList,
	.C_GetSlotList = fake_get_slot_list,
	.C_GetTokenInfo = fake_get_token_info,
	.C_OpenSession = fake_open_session,
	.C_CloseSession = fake_close_session,
	.C_Login = fake_login,
	.C_FindObjectsInit = fake_find_init,
	.C_FindObjects = fake_find,
	.C_FindObjectsFinal = fake_find_final,
	.C_GetAttributeValue = fake_get_attr,
	.C_CreateObject = fake_create_object,
	.C_DestroyObject = fake_destroy_object,
	.C_GenerateKey = fake_generate_key,
	.C_GenerateKeyPair = fake_generate_key_pair,
	.C_GenerateRandom = fake_generate_random,
	.C_DeriveKey = fake_derive_key,
	.C_WrapKey = fake_wrap_key,
	.C_UnwrapKey = fake_unwrap_key,
	.C_EncryptInit = fake_encrypt_init,
	.C_Encrypt = fake_encrypt,
	.C_SignInit = fake_sign_init,
	.C_Sign = fake_sign,
	.C_DigestInit = fake_digest_init,
	.C_DigestUpdate = fake_digest_update,
	.C_DigestKey = fake_digest_key,
	.C_DigestFinal = fake_digest_final,
};

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ret)
{
	if (ret == NULL)
		return CKR_ARGUMENTS_BAD;
	*ret = &fl;
	return CKR_OK;
}

/* ---- the test's side (fake_p11.h) ---- */

static void
api_reset(void)
{
	memset(&st, 0, sizeof(st));
}

static int
api_fail(enum fake_fn fn, unsigned long nth, CK_RV rv, unsigned long times)
{
	if ((int)fn < 0 || fn >= FAKE_FN_COUNT || nth == 0 || times == 0)
		return -1;
	for (size_t i = 0; i < FAKE_RULES; i++) {
		if (!st.rules[i].used) {
			st.rules[i].used = true;
			st.rules[i].fn = fn;
			st.rules[i].from = st.calls[fn] + nth;
			st.rules[i].until = st.rules[i].from + times;
			st.rules[i].rv = rv;
			return 0;
		}
	}
	return -1;
}

static bool
labelled(const struct obj *o, const char *label, CK_OBJECT_CLASS cls)
{
	return o->alive && o->label_len == strlen(label) &&
	    memcmp(o->label, label, o->label_len) == 0 &&
	    (cls == CK_UNAVAILABLE_INFORMATION || o->cls == cls);
}

static size_t
api_kill(const char *label, CK_OBJECT_CLASS cls)
{
	size_t n = 0;

	for (size_t i = 0; i < st.n_objs; i++) {
		if (labelled(&st.objs[i], label, cls)) {
			st.objs[i].alive = false;
			n++;
		}
	}
	return n;
}

static size_t
api_count(const char *label, CK_OBJECT_CLASS cls)
{
	size_t n = 0;

	for (size_t i = 0; i < st.n_objs; i++)
		n += labelled(&st.objs[i], label, cls);
	return n;
}

static size_t
api_session_objects(void)
{
	size_t n = 0;

	for (size_t i = 0; i < st.n_objs; i++)
		n += st.objs[i].alive && !st.objs[i].token;
	return n;
}

static void
api_drop_sessions(void)
{
	memset(st.sess, 0, sizeof(st.sess));
	st.logged_in = false;
	st.finding = false;
	for (size_t i = 0; i < st.n_objs; i++) {
		if (!st.objs[i].token)
			st.objs[i].alive = false;
	}
}

const struct fake_p11_api *
fake_p11_api(void)
{
	static const struct fake_p11_api api = {
		.calls = st.calls,
		.reset = api_reset,
		.fail = api_fail,
		.kill = api_kill,
		.count = api_count,
		.session_objects = api_session_objects,
		.drop_sessions = api_drop_sessions,
	};

	return &api;
}
