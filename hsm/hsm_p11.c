/* SPDX-License-Identifier: Apache-2.0 */
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

#define PIN_MAX 256
#define TOKEN_LABEL_LEN 32
#define ID_PREFIX "kw1:len="
#define ID_MAX 32
#define CACHE_SLOTS 256
#define TOK_CACHE_SLOTS 16
#define TOK_SCAN_MAX 1024 /* EC private keys on the token we are willing to look at */
#define TOK_ID_LEN 16
#define TOK_ID_MAX 64
#define TOK_NEW_TRIES 1000
#define TOK_N_MAX 999999999999LL /* 12 digits */

/* Layout of a stored secret, from its attributes. */
struct secret_info {
	CK_OBJECT_HANDLE h;
	enum hsm_kind kind;
	size_t value_len; /* CKA_VALUE_LEN: bytes stored (padding included) */
	size_t plain_len; /* bytes released */
};

/*
 * Label -> handle cache (direct-mapped). With the file backend every
 * C_FindObjects touches every token object's files, so a release without it
 * costs O(number of secrets) file operations. Handles die with C_Finalize,
 * so the cache is cleared on every stop; a stale handle (object deleted by
 * another process) is detected by the module and looked up again once.
 */
struct cache_ent {
	bool used;
	char label[HSM_LABEL_MAX + 1];
	struct secret_info si;
};

/* Token-key label -> private key handle; same life cycle as cache_ent. */
struct tok_cache_ent {
	bool used;
	char label[HSM_TOKEN_LABEL_MAX + 1];
	CK_OBJECT_HANDLE h;
};

struct hsm_p11 {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	char *module_path, *token_label, *pin_file;
	bool initialized; /* C_Initialize succeeded */
	bool ready;       /* session open and logged in */
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE sess;
	char desc[128];
	CK_RV last_rv; /* of the last failed call */
	struct cache_ent cache[CACHE_SLOTS];
	struct tok_cache_ent tok_cache[TOK_CACHE_SLOTS]; /* token label -> private key */
	bool imp_cached;                 /* imp_priv and imp_pub are valid */
	CK_OBJECT_HANDLE imp_priv;       /* the import key's private half */
	struct hsm_import_pub imp_pub;
};

static CK_BBOOL ck_true = CK_TRUE, ck_false = CK_FALSE;

static const char *
ckr_name(CK_RV rv)
{
	static const struct { CK_RV rv; const char *name; } names[] = {
#define N(x) { x, #x }
		N(CKR_CANCEL), N(CKR_HOST_MEMORY), N(CKR_SLOT_ID_INVALID), N(CKR_GENERAL_ERROR),
		N(CKR_FUNCTION_FAILED), N(CKR_ARGUMENTS_BAD), N(CKR_ATTRIBUTE_READ_ONLY),
		N(CKR_ATTRIBUTE_SENSITIVE), N(CKR_ATTRIBUTE_TYPE_INVALID), N(CKR_ATTRIBUTE_VALUE_INVALID),
		N(CKR_DATA_INVALID), N(CKR_DATA_LEN_RANGE), N(CKR_DEVICE_ERROR), N(CKR_DEVICE_MEMORY),
		N(CKR_DEVICE_REMOVED), N(CKR_FUNCTION_NOT_SUPPORTED), N(CKR_KEY_HANDLE_INVALID),
		N(CKR_KEY_SIZE_RANGE), N(CKR_KEY_TYPE_INCONSISTENT), N(CKR_KEY_FUNCTION_NOT_PERMITTED),
		N(CKR_KEY_NOT_WRAPPABLE), N(CKR_KEY_UNEXTRACTABLE), N(CKR_MECHANISM_INVALID),
		N(CKR_MECHANISM_PARAM_INVALID), N(CKR_OBJECT_HANDLE_INVALID), N(CKR_OPERATION_ACTIVE),
		N(CKR_OPERATION_NOT_INITIALIZED), N(CKR_PIN_INCORRECT), N(CKR_PIN_LOCKED),
		N(CKR_SESSION_CLOSED), N(CKR_SESSION_HANDLE_INVALID), N(CKR_SESSION_READ_ONLY),
		N(CKR_TEMPLATE_INCOMPLETE), N(CKR_TEMPLATE_INCONSISTENT), N(CKR_TOKEN_NOT_PRESENT),
		N(CKR_TOKEN_NOT_RECOGNIZED), N(CKR_USER_NOT_LOGGED_IN), N(CKR_USER_PIN_NOT_INITIALIZED),
		N(CKR_WRAPPED_KEY_INVALID), N(CKR_WRAPPING_KEY_HANDLE_INVALID),
		N(CKR_WRAPPING_KEY_TYPE_INCONSISTENT), N(CKR_BUFFER_TOO_SMALL),
		N(CKR_CRYPTOKI_NOT_INITIALIZED), N(CKR_CRYPTOKI_ALREADY_INITIALIZED),
		N(CKR_USER_ANOTHER_ALREADY_LOGGED_IN), N(CKR_RANDOM_NO_RNG),
		N(CKR_WRAPPED_KEY_LEN_RANGE), N(CKR_ENCRYPTED_DATA_INVALID),
		N(CKR_ENCRYPTED_DATA_LEN_RANGE), N(CKR_UNWRAPPING_KEY_HANDLE_INVALID),
		N(CKR_UNWRAPPING_KEY_SIZE_RANGE), N(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
#undef N
	};

	for (size_t i = 0; i < KW_ARRAY_SIZE(names); i++)
		if (names[i].rv == rv)
			return names[i].name;
	return "CKR_other";
}

/*
 * Map a failed CKR to a kw_err, set the detail, and drop the session state
 * when the module says it is gone, so the next request starts again.
 */
static int
ckr_fail(struct hsm_p11 *p, CK_RV rv, const char *what, const char **reterr_detail)
{
	*reterr_detail = ckr_name(rv);
	p->last_rv = rv;
	kw_log_debug("%s: %s (0x%lx)", what, ckr_name(rv), (unsigned long)rv);
	switch (rv) {
	case CKR_HOST_MEMORY:
		return KW_ERR_NOMEM;
	case CKR_CRYPTOKI_NOT_INITIALIZED:
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_DEVICE_REMOVED:
	case CKR_DEVICE_ERROR:
	case CKR_TOKEN_NOT_PRESENT:
		p->ready = false;
		return KW_ERR_HSM;
	default:
		return KW_ERR_HSM;
	}
}

int
hsm_p11_open(const char *module_path, const char *token_label, const char *pin_file,
    struct hsm_p11 **ret, const char **reterr_detail)
{
	struct hsm_p11 *p = NULL;
	CK_C_GetFunctionList gfl;
	CK_RV rv;
	int r = KW_ERR_NOMEM;

	*reterr_detail = "out of memory";
	if (strlen(token_label) == 0 || strlen(token_label) > TOKEN_LABEL_LEN) {
		*reterr_detail = "token label must be 1..32 bytes";
		return KW_ERR_INVALID_ARG;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto out;
	if ((p->module_path = strdup(module_path)) == NULL ||
	    (p->token_label = strdup(token_label)) == NULL || (p->pin_file = strdup(pin_file)) == NULL)
		goto out;
	r = KW_ERR_HSM;
	if ((p->dl = dlopen(module_path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		*reterr_detail = "dlopen failed";
		kw_log_err("dlopen: %s", dlerror());
		goto out;
	}
	if ((gfl = (CK_C_GetFunctionList)dlsym(p->dl, "C_GetFunctionList")) == NULL) {
		*reterr_detail = "no C_GetFunctionList";
		goto out;
	}
	if ((rv = gfl(&p->f)) != CKR_OK || p->f == NULL) {
		r = ckr_fail(p, rv, "C_GetFunctionList", reterr_detail);
		goto out;
	}
	*ret = p;
	p = NULL;    /* transferred */
	r = 0;
out:
	hsm_p11_close(p);
	return r;
}

/* Trimmed copy of a space-padded PKCS#11 string. */
static void
padded_copy(char *out, size_t outsz, const CK_UTF8CHAR *in, size_t inlen)
{
	while (inlen > 0 && (in[inlen - 1] == ' ' || in[inlen - 1] == '\0'))
		inlen--;
	if (inlen >= outsz)
		inlen = outsz - 1;
	for (size_t i = 0; i < inlen; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? (char)in[i] : '?';
	out[inlen] = '\0';
}

static int
find_slot(struct hsm_p11 *p, const char **reterr_detail)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG count = 0;
	CK_TOKEN_INFO ti;
	CK_UTF8CHAR want[TOKEN_LABEL_LEN];
	size_t ll = strlen(p->token_label);
	CK_RV rv;
	int r = KW_ERR_HSM;

	memset(want, ' ', sizeof(want));
	memcpy(want, p->token_label, ll);
	if ((rv = p->f->C_GetSlotList(CK_TRUE, NULL, &count)) != CKR_OK) {
		r = ckr_fail(p, rv, "C_GetSlotList", reterr_detail);
		goto out;
	}
	if (count == 0 || (slots = calloc(count, sizeof(*slots))) == NULL) {
		*reterr_detail = "no token";
		goto out;
	}
	if ((rv = p->f->C_GetSlotList(CK_TRUE, slots, &count)) != CKR_OK) {
		r = ckr_fail(p, rv, "C_GetSlotList", reterr_detail);
		goto out;
	}
	for (CK_ULONG i = 0; i < count; i++) {
		if (p->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (memcmp(ti.label, want, sizeof(want)) == 0) {
			p->slot = slots[i];
			r = 0;
			goto out;
		}
	}
	*reterr_detail = "token label not found";
out:
	free(slots);
	return r;
}

static int
login(struct hsm_p11 *p, const char **reterr_detail)
{
	struct kw_secret *pin = NULL;
	CK_RV rv;
	int r;

	if ((r = kw_secret_from_file(p->pin_file, PIN_MAX, &pin)) != 0) {
		*reterr_detail = "cannot read PIN file";
		return r == KW_ERR_NOMEM ? r : KW_ERR_CONFIG;
	}
	rv = p->f->C_Login(p->sess, CKU_USER, kw_secret_ptr(pin), kw_secret_len(pin));
	kw_secret_free(pin);    /* wiped right after the login */
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return ckr_fail(p, rv, "C_Login", reterr_detail);
	return 0;
}

int
hsm_p11_start(struct hsm_p11 *p, const char **reterr_detail)
{
	CK_C_INITIALIZE_ARGS args;
	CK_INFO info;
	CK_RV rv;
	int r;

	if (p->ready)
		return 0;
	if (!p->initialized) {
		memset(&args, 0, sizeof(args));
		args.flags = CKF_OS_LOCKING_OK;
		rv = p->f->C_Initialize(&args);
		if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
			return ckr_fail(p, rv, "C_Initialize", reterr_detail);
		p->initialized = true;
		if (p->desc[0] == '\0' && p->f->C_GetInfo(&info) == CKR_OK) {
			char man[33], lib[33];

			padded_copy(man, sizeof(man), info.manufacturerID, sizeof(info.manufacturerID));
			padded_copy(lib, sizeof(lib), info.libraryDescription,
			    sizeof(info.libraryDescription));
			snprintf(p->desc, sizeof(p->desc), "%s %s %u.%u", man, lib,
			    info.libraryVersion.major, info.libraryVersion.minor);
		}
	}
	if ((r = find_slot(p, reterr_detail)) != 0)
		goto fail;
	rv = p->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &p->sess);
	if (rv != CKR_OK) {
		r = ckr_fail(p, rv, "C_OpenSession", reterr_detail);
		goto fail;
	}
	if ((r = login(p, reterr_detail)) != 0)
		goto fail;
	p->ready = true;
	return 0;
fail:
	/* Start from scratch next time: C_Finalize drops sessions and login. */
	hsm_p11_stop(p);
	return r;
}

void
hsm_p11_stop(struct hsm_p11 *p)
{
	if (p == NULL || p->f == NULL)
		return;
	if (p->initialized)
		(void)p->f->C_Finalize(NULL);
	p->initialized = false;
	p->ready = false;
	memset(p->cache, 0, sizeof(p->cache));
	memset(p->tok_cache, 0, sizeof(p->tok_cache));
	p->imp_cached = false;
	p->sess = CK_INVALID_HANDLE;
}

int
hsm_p11_recycle(struct hsm_p11 *p, const char **reterr_detail)
{
	hsm_p11_stop(p);
	return hsm_p11_start(p, reterr_detail);
}

void
hsm_p11_close(struct hsm_p11 *p)
{
	if (p == NULL)
		return;
	hsm_p11_stop(p);
	if (p->dl != NULL)
		dlclose(p->dl);
	free(p->module_path);
	free(p->token_label);
	free(p->pin_file);
	free(p);
}

bool
hsm_p11_ready(const struct hsm_p11 *p)
{
	return p->ready;
}

const char *
hsm_p11_module_desc(const struct hsm_p11 *p)
{
	return p->desc[0] != '\0' ? p->desc : "unknown";
}

int
hsm_p11_random(struct hsm_p11 *p, uint8_t *out, size_t len, const char **reterr_detail)
{
	CK_RV rv;
	int r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	if ((rv = p->f->C_GenerateRandom(p->sess, out, len)) != CKR_OK)
		return ckr_fail(p, rv, "C_GenerateRandom", reterr_detail);
	return 0;
}

static void
destroy(struct hsm_p11 *p, CK_OBJECT_HANDLE *h)
{
	if (*h != CK_INVALID_HANDLE && p->ready)
		(void)p->f->C_DestroyObject(p->sess, *h);
	*h = CK_INVALID_HANDLE;
}

/*
 * Find the token secret labelled label and read its layout.
 * KW_ERR_NOT_FOUND when there is none; KW_ERR_HSM when it is ambiguous or
 * does not look like one of ours.
 */
static int
find_secret(struct hsm_p11 *p, const char *label, struct secret_info *ret,
    const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_TOKEN, &ck_true, sizeof(ck_true)},
		{CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	};
	CK_OBJECT_HANDLE hs[2];
	CK_ULONG found = 0, vlen = 0;
	CK_KEY_TYPE kt = 0;
	char id[ID_MAX + 1];
	CK_ATTRIBUTE attrs[] = {
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_VALUE_LEN, &vlen, sizeof(vlen)},
		{CKA_ID, id, ID_MAX},
	};
	unsigned long plain;
	char *end;
	CK_RV rv;

	if ((rv = p->f->C_FindObjectsInit(p->sess, tmpl, KW_ARRAY_SIZE(tmpl))) != CKR_OK)
		return ckr_fail(p, rv, "C_FindObjectsInit", reterr_detail);
	rv = p->f->C_FindObjects(p->sess, hs, KW_ARRAY_SIZE(hs), &found);
	(void)p->f->C_FindObjectsFinal(p->sess);
	if (rv != CKR_OK)
		return ckr_fail(p, rv, "C_FindObjects", reterr_detail);
	if (found == 0) {
		*reterr_detail = "no such label";
		return KW_ERR_NOT_FOUND;
	}
	if (found > 1) {
		*reterr_detail = "label is not unique";
		return KW_ERR_HSM;
	}
	if ((rv = p->f->C_GetAttributeValue(p->sess, hs[0], attrs, KW_ARRAY_SIZE(attrs))) != CKR_OK)
		return ckr_fail(p, rv, "C_GetAttributeValue", reterr_detail);
	id[attrs[2].ulValueLen <= ID_MAX ? attrs[2].ulValueLen : 0] = '\0';
	*reterr_detail = "secret object has an unexpected layout";
	/*
	 * SoftHSM 2.6.1 leaves CKA_VALUE_LEN at 0 on an unwrapped key: an
	 * imported secret. "import" checked its exact length against the kind
	 * and the length it wrote into CKA_ID, so the layout comes from CKA_ID.
	 */
	if (vlen == 0 && strncmp(id, ID_PREFIX, strlen(ID_PREFIX)) == 0 &&
	    id[strlen(ID_PREFIX)] >= '1' && id[strlen(ID_PREFIX)] <= '9') {
		plain = strtoul(id + strlen(ID_PREFIX), &end, 10);
		if (*end == '\0' && plain > 0 && plain <= HSM_SECRET_MAX)
			vlen = plain % 16 == 0 ? plain : (plain / 16 + 1) * 16;
	}
	if (kt == CKK_AES && (vlen == 16 || vlen == 32)) {
		ret->kind = vlen == 16 ? HSM_KIND_AES128 : HSM_KIND_AES256;
		ret->plain_len = vlen;
	} else if (kt == CKK_GENERIC_SECRET) {
		/* CKA_ID "kw1:len=<n>" carries the unpadded length (docs/hsm.md). */
		if (strncmp(id, ID_PREFIX, strlen(ID_PREFIX)) != 0 || id[strlen(ID_PREFIX)] < '1' ||
		    id[strlen(ID_PREFIX)] > '9')
			return KW_ERR_HSM;
		plain = strtoul(id + strlen(ID_PREFIX), &end, 10);
		if (*end != '\0' || plain == 0 || plain > HSM_SECRET_MAX)
			return KW_ERR_HSM;
		if (plain % 16 == 0 ? vlen != plain : vlen != (plain / 16 + 1) * 16)
			return KW_ERR_HSM;
		ret->kind = HSM_KIND_SECRET;
		ret->plain_len = plain;
	} else {
		return KW_ERR_HSM;
	}
	ret->h = hs[0];
	ret->value_len = vlen;
	*reterr_detail = NULL;
	return 0;
}

/*
 * PKCS11.md 3.3 "Secret template", shared by generate and import. a[] points
 * into the struct itself: fill it in place, never copy it. The last entry is
 * CKA_VALUE_LEN (AES: 16/32; a generic secret: its padded length), which a
 * generic secret's C_CreateObject replaces by CKA_VALUE and an unwrap leaves
 * out.
 */
struct secret_tmpl {
	CK_OBJECT_CLASS cls;
	CK_KEY_TYPE kt;
	CK_ULONG vlen;
	char id[ID_MAX];
	CK_ATTRIBUTE a[16];
};

static void
secret_tmpl_init(struct secret_tmpl *t, const char *label, enum hsm_kind kind, size_t length)
{
	size_t i = 0;

	t->cls = CKO_SECRET_KEY;
	t->kt = kind == HSM_KIND_SECRET ? CKK_GENERIC_SECRET : CKK_AES;
	t->vlen = kind == HSM_KIND_AES128 ? 16 : kind == HSM_KIND_AES256 ? 32 :
	    (CK_ULONG)(length % 16 == 0 ? length : (length / 16 + 1) * 16);
	t->a[i++] = (CK_ATTRIBUTE){CKA_CLASS, &t->cls, sizeof(t->cls)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &t->kt, sizeof(t->kt)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_TOKEN, &ck_true, sizeof(ck_true)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_PRIVATE, &ck_true, sizeof(ck_true)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &ck_true, sizeof(ck_true)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &ck_true, sizeof(ck_true)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_ENCRYPT, &ck_false, sizeof(ck_false)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_DECRYPT, &ck_false, sizeof(ck_false)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_WRAP, &ck_false, sizeof(ck_false)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_UNWRAP, &ck_false, sizeof(ck_false)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_SIGN, &ck_false, sizeof(ck_false)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_VERIFY, &ck_false, sizeof(ck_false)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_DERIVE, &ck_false, sizeof(ck_false)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)(uintptr_t)label, strlen(label)};
	/* CKA_ID "kw1:len=<unpadded length>" (docs/hsm.md) */
	t->a[i++] = (CK_ATTRIBUTE){CKA_ID, t->id,
	    (CK_ULONG)snprintf(t->id, sizeof(t->id), ID_PREFIX "%zu", length)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_VALUE_LEN, &t->vlen, sizeof(t->vlen)};
}

int
hsm_p11_generate(struct hsm_p11 *p, const char *label, enum hsm_kind kind, size_t length,
    bool if_missing, bool *ret_created, enum hsm_kind *ret_kind, size_t *ret_len,
    const char **reterr_detail)
{
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	struct kw_secret *val = NULL;
	struct secret_info si;
	struct secret_tmpl t;
	size_t padded;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_RV rv;
	int r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	if (kind == HSM_KIND_SECRET && (length == 0 || length > HSM_SECRET_MAX)) {
		*reterr_detail = "bad length";
		return KW_ERR_INVALID_ARG;
	}
	if (kind != HSM_KIND_SECRET)
		length = kind == HSM_KIND_AES128 ? 16 : 32;
	r = find_secret(p, label, &si, reterr_detail);
	if (r == 0) {
		if (!if_missing) {
			*reterr_detail = "label exists";
			return KW_ERR_EXISTS;
		}
		if (si.kind != kind || si.plain_len != length) {
			*reterr_detail = "label exists with another kind or length";
			return KW_ERR_MISMATCH;
		}
		*ret_created = false;
		*ret_kind = si.kind;
		*ret_len = si.plain_len;
		return 0;
	}
	if (r != KW_ERR_NOT_FOUND)
		return r;
	secret_tmpl_init(&t, label, kind, length);
	if (kind != HSM_KIND_SECRET) {
		rv = p->f->C_GenerateKey(p->sess, &mech, t.a, KW_ARRAY_SIZE(t.a), &h);
		if (rv != CKR_OK)
			return ckr_fail(p, rv, "C_GenerateKey", reterr_detail);
	} else {
		/* Random value, PKCS#7-padded when not a multiple of 16 (PKCS11.md 3.3). */
		padded = length % 16 == 0 ? length : (length / 16 + 1) * 16;
		if ((r = kw_secret_new(padded, &val)) != 0) {
			*reterr_detail = "out of memory";
			return r;
		}
		if ((rv = p->f->C_GenerateRandom(p->sess, kw_secret_ptr(val), length)) != CKR_OK) {
			r = ckr_fail(p, rv, "C_GenerateRandom", reterr_detail);
			goto out;
		}
		memset(kw_secret_ptr(val) + length, (int)(padded - length), padded - length);
		t.a[KW_ARRAY_SIZE(t.a) - 1] = (CK_ATTRIBUTE){CKA_VALUE, kw_secret_ptr(val), padded};
		if ((rv = p->f->C_CreateObject(p->sess, t.a, KW_ARRAY_SIZE(t.a), &h)) != CKR_OK) {
			r = ckr_fail(p, rv, "C_CreateObject", reterr_detail);
			goto out;
		}
	}
	*ret_created = true;
	*ret_kind = kind;
	*ret_len = length;
	r = 0;
out:
	kw_secret_free(val);
	return r;
}

/* Session public key for (n, e), step 1. */
static int
import_rsa(struct hsm_p11 *p, const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
    CK_OBJECT_HANDLE *ret, const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt = CKK_RSA;
	CK_MECHANISM_TYPE allowed[] = {CKM_RSA_PKCS_OAEP};
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &ck_false, sizeof(ck_false)},
		{CKA_PRIVATE, &ck_false, sizeof(ck_false)},
		{CKA_MODULUS, (void *)(uintptr_t)n, n_len},
		{CKA_PUBLIC_EXPONENT, (void *)(uintptr_t)e, e_len},
		{CKA_WRAP, &ck_true, sizeof(ck_true)},
		{CKA_ENCRYPT, &ck_false, sizeof(ck_false)},
		{CKA_VERIFY, &ck_false, sizeof(ck_false)},
		{CKA_ALLOWED_MECHANISMS, allowed, sizeof(allowed)},
	};
	CK_RV rv;

	if ((rv = p->f->C_CreateObject(p->sess, tmpl, KW_ARRAY_SIZE(tmpl), ret)) != CKR_OK)
		return ckr_fail(p, rv, "C_CreateObject(public key)", reterr_detail);
	return 0;
}

/* Derive from base with CKM_AES_ECB_ENCRYPT_DATA over data[0..len), steps 4-6. */
static int
derive(struct hsm_p11 *p, CK_OBJECT_HANDLE base, uint8_t *data, CK_ULONG len,
    CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl, CK_OBJECT_HANDLE *ret, const char **reterr_detail)
{
	CK_KEY_DERIVATION_STRING_DATA sd = {data, len};
	CK_MECHANISM mech = {CKM_AES_ECB_ENCRYPT_DATA, &sd, sizeof(sd)};
	CK_RV rv;

	if ((rv = p->f->C_DeriveKey(p->sess, &mech, base, tmpl, ntmpl, ret)) != CKR_OK)
		return ckr_fail(p, rv, "C_DeriveKey", reterr_detail);
	return 0;
}

/*
 * PKCS11.md 3.2 steps 1-13 for the secret si (token or session object).
 * Step 9 (the extra PKCS#7 block) is skipped for a stored padded value.
 */
static int
release_secret(struct hsm_p11 *p, const struct secret_info *si, const uint8_t *n, size_t n_len,
    const uint8_t *e, size_t e_len, const char *kid, char **ret_jwe, const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE k_aes = CKK_AES, k_gen = CKK_GENERIC_SECRET;
	CK_ULONG l32 = 32, l64 = 64;
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, base = CK_INVALID_HANDLE, cek = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE mac = CK_INVALID_HANDLE, enc = CK_INVALID_HANDLE;
	CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
	CK_ATTRIBUTE t_base[] = {
		{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &k_aes, sizeof(k_aes)},
		{CKA_TOKEN, &ck_false, sizeof(ck_false)}, {CKA_PRIVATE, &ck_true, sizeof(ck_true)},
		{CKA_VALUE_LEN, &l32, sizeof(l32)}, {CKA_DERIVE, &ck_true, sizeof(ck_true)},
		{CKA_SENSITIVE, &ck_true, sizeof(ck_true)},
		{CKA_EXTRACTABLE, &ck_false, sizeof(ck_false)},
	};
	CK_ATTRIBUTE t_cek[] = {
		{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &k_gen, sizeof(k_gen)},
		{CKA_TOKEN, &ck_false, sizeof(ck_false)}, {CKA_PRIVATE, &ck_true, sizeof(ck_true)},
		{CKA_VALUE_LEN, &l64, sizeof(l64)}, {CKA_SENSITIVE, &ck_true, sizeof(ck_true)},
		{CKA_EXTRACTABLE, &ck_true, sizeof(ck_true)},
	};
	CK_ATTRIBUTE t_mac[] = {
		{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &k_gen, sizeof(k_gen)},
		{CKA_TOKEN, &ck_false, sizeof(ck_false)}, {CKA_PRIVATE, &ck_true, sizeof(ck_true)},
		{CKA_VALUE_LEN, &l32, sizeof(l32)}, {CKA_SENSITIVE, &ck_false, sizeof(ck_false)},
		{CKA_EXTRACTABLE, &ck_true, sizeof(ck_true)},
	};
	CK_ATTRIBUTE t_enc[] = {
		{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &k_aes, sizeof(k_aes)},
		{CKA_TOKEN, &ck_false, sizeof(ck_false)}, {CKA_PRIVATE, &ck_true, sizeof(ck_true)},
		{CKA_VALUE_LEN, &l32, sizeof(l32)}, {CKA_SENSITIVE, &ck_true, sizeof(ck_true)},
		{CKA_EXTRACTABLE, &ck_false, sizeof(ck_false)}, {CKA_WRAP, &ck_true, sizeof(ck_true)},
		{CKA_ENCRYPT, &ck_true, sizeof(ck_true)}, {CKA_DECRYPT, &ck_false, sizeof(ck_false)},
		{CKA_UNWRAP, &ck_false, sizeof(ck_false)},
	};
	CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM m_oaep = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
	uint8_t d[64], iv[HSM_JWE_IV_LEN], last[16], pad[16], ek[HSM_RSA_MAX_BITS / 8];
	uint8_t *ct = NULL;
	CK_MECHANISM m_cbc = {CKM_AES_CBC, iv, sizeof(iv)};
	CK_MECHANISM m_cbc2 = {CKM_AES_CBC, last, sizeof(last)};
	CK_ULONG ct1_len, ct2_len = 16, ek_len = sizeof(ek);
	size_t ct_cap = si->value_len + 16;
	struct kw_secret *mac_key = NULL;
	CK_ATTRIBUTE a_val;
	CK_RV rv;
	int r;

	if ((ct = malloc(ct_cap)) == NULL) {
		*reterr_detail = "out of memory";
		return KW_ERR_NOMEM;
	}
	if ((r = kw_secret_new(HSM_JWE_MAC_KEY_LEN, &mac_key)) != 0) {
		*reterr_detail = "out of memory";
		goto out;
	}
	/* 1: the TEE public key */
	if ((r = import_rsa(p, n, n_len, e, e_len, &pub, reterr_detail)) != 0)
		goto out;
	/* 2: fresh base key */
	if ((rv = p->f->C_GenerateKey(p->sess, &gen, t_base, KW_ARRAY_SIZE(t_base), &base)) != CKR_OK) {
		r = ckr_fail(p, rv, "C_GenerateKey(base)", reterr_detail);
		goto out;
	}
	/* 3: public derivation data D */
	if ((rv = p->f->C_GenerateRandom(p->sess, d, sizeof(d))) != CKR_OK) {
		r = ckr_fail(p, rv, "C_GenerateRandom", reterr_detail);
		goto out;
	}
	/* 4-6: CEK = E(base, D) = MAC || ENC (ECB is blockwise, PKCS11.md 3.1) */
	if ((r = derive(p, base, d, 64, t_cek, KW_ARRAY_SIZE(t_cek), &cek, reterr_detail)) != 0 ||
	    (r = derive(p, base, d, 32, t_mac, KW_ARRAY_SIZE(t_mac), &mac, reterr_detail)) != 0 ||
	    (r = derive(p, base, d + 32, 32, t_enc, KW_ARRAY_SIZE(t_enc), &enc, reterr_detail)) != 0)
		goto out;
	a_val = (CK_ATTRIBUTE){CKA_VALUE, kw_secret_ptr(mac_key), HSM_JWE_MAC_KEY_LEN};
	if ((rv = p->f->C_GetAttributeValue(p->sess, mac, &a_val, 1)) != CKR_OK) {
		r = ckr_fail(p, rv, "C_GetAttributeValue(MAC)", reterr_detail);
		goto out;
	}
	if (a_val.ulValueLen != HSM_JWE_MAC_KEY_LEN) {
		r = KW_ERR_HSM;
		*reterr_detail = "MAC key length";
		goto out;
	}
	/* 7: IV */
	if ((rv = p->f->C_GenerateRandom(p->sess, iv, sizeof(iv))) != CKR_OK) {
		r = ckr_fail(p, rv, "C_GenerateRandom", reterr_detail);
		goto out;
	}
	/* 8: CT1 = AES-256-CBC(ENC, IV, stored value) without padding */
	ct1_len = ct_cap;
	if ((rv = p->f->C_WrapKey(p->sess, &m_cbc, enc, si->h, ct, &ct1_len)) != CKR_OK) {
		r = ckr_fail(p, rv, "C_WrapKey(AES_CBC)", reterr_detail);
		goto out;
	}
	if (ct1_len != si->value_len || ct1_len % 16 != 0) {
		r = KW_ERR_HSM;
		*reterr_detail = "wrapped length";
		goto out;
	}
	/* 9: the PKCS#7 block, chained from the last CT1 block; skipped when stored padded */
	if (si->value_len == si->plain_len) {
		memcpy(last, ct + ct1_len - 16, 16);
		memset(pad, 0x10, sizeof(pad));
		if ((rv = p->f->C_EncryptInit(p->sess, &m_cbc2, enc)) != CKR_OK) {
			r = ckr_fail(p, rv, "C_EncryptInit", reterr_detail);
			goto out;
		}
		if ((rv = p->f->C_Encrypt(p->sess, pad, sizeof(pad), ct + ct1_len, &ct2_len)) != CKR_OK ||
		    ct2_len != 16) {
			r = rv != CKR_OK ? ckr_fail(p, rv, "C_Encrypt", reterr_detail) : KW_ERR_HSM;
			*reterr_detail = rv != CKR_OK ? *reterr_detail : "padding block length";
			goto out;
		}
		ct1_len += 16;
	}
	/* 10: encrypted_key = RSA-OAEP(SHA-1)(TEE key, CEK) */
	if ((rv = p->f->C_WrapKey(p->sess, &m_oaep, pub, cek, ek, &ek_len)) != CKR_OK) {
		r = ckr_fail(p, rv, "C_WrapKey(RSA_PKCS_OAEP)", reterr_detail);
		goto out;
	}
	/* 11-12: header, tag, compact serialization */
	if ((r = hsm_jwe_compact(kid, ek, ek_len, iv, ct, ct1_len, mac_key, ret_jwe)) != 0) {
		*reterr_detail = "JWE assembly";
		goto out;
	}
	r = 0;
out:
	/* 13: cleanup */
	destroy(p, &pub);
	destroy(p, &base);
	destroy(p, &cek);
	destroy(p, &mac);
	destroy(p, &enc);
	kw_secret_free(mac_key);
	free(ct);
	return r;
}

static struct cache_ent *
cache_slot(struct hsm_p11 *p, const char *label)
{
	uint32_t h = 2166136261U;    /* FNV-1a */

	for (const char *c = label; *c != '\0'; c++)
		h = (h ^ (uint8_t)*c) * 16777619U;
	return &p->cache[h % CACHE_SLOTS];
}

int
hsm_p11_release(struct hsm_p11 *p, const char *label, const uint8_t *n, size_t n_len,
    const uint8_t *e, size_t e_len, const char *kid, char **ret_jwe, const char **reterr_detail)
{
	struct cache_ent *ce;
	struct secret_info si;
	bool cached;
	int r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	if (strlen(label) > HSM_LABEL_MAX) {
		*reterr_detail = "label too long";
		return KW_ERR_INVALID_ARG;
	}
	ce = cache_slot(p, label);
	cached = ce->used && strcmp(ce->label, label) == 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (cached) {
			si = ce->si;
		} else {
			if ((r = find_secret(p, label, &si, reterr_detail)) != 0)
				return r;
			ce->used = true;
			memcpy(ce->label, label, strlen(label) + 1);
			ce->si = si;
		}
		p->last_rv = CKR_OK;
		r = release_secret(p, &si, n, n_len, e, e_len, kid, ret_jwe, reterr_detail);
		if (r == 0 || !cached || (p->last_rv != CKR_KEY_HANDLE_INVALID &&
		    p->last_rv != CKR_OBJECT_HANDLE_INVALID))
			return r;
		/* stale cached handle: look the label up again, once */
		ce->used = false;
		cached = false;
	}
	return r;
}

/* Self test for one session secret of plain_len bytes (padded like generate does). */
static int
selftest_one(struct hsm_p11 *p, EVP_PKEY *pk, const uint8_t *n, size_t n_len, const uint8_t *e,
    size_t e_len, enum hsm_kind kind, size_t plain_len, const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = kind == HSM_KIND_SECRET ? CKK_GENERIC_SECRET : CKK_AES;
	struct kw_secret *val = NULL, *got = NULL;
	size_t padded = plain_len % 16 == 0 ? plain_len : (plain_len / 16 + 1) * 16, got_len = 0;
	struct secret_info si = {CK_INVALID_HANDLE, kind, padded, plain_len};
	char *jwe = NULL;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &ck_false, sizeof(ck_false)}, {CKA_PRIVATE, &ck_true, sizeof(ck_true)},
		{CKA_SENSITIVE, &ck_true, sizeof(ck_true)}, {CKA_EXTRACTABLE, &ck_true, sizeof(ck_true)},
		{CKA_VALUE, NULL, padded},
	};
	CK_RV rv;
	int r;

	if ((r = kw_secret_new(padded, &val)) != 0 || (r = kw_secret_new(padded + 16, &got)) != 0) {
		*reterr_detail = "out of memory";
		goto out;
	}
	if (RAND_bytes(kw_secret_ptr(val), (int)plain_len) != 1) {
		r = KW_ERR_CRYPTO;
		*reterr_detail = "RAND_bytes";
		goto out;
	}
	memset(kw_secret_ptr(val) + plain_len, (int)(padded - plain_len), padded - plain_len);
	tmpl[6].pValue = kw_secret_ptr(val);
	if ((rv = p->f->C_CreateObject(p->sess, tmpl, KW_ARRAY_SIZE(tmpl), &si.h)) != CKR_OK) {
		r = ckr_fail(p, rv, "C_CreateObject(test secret)", reterr_detail);
		goto out;
	}
	if ((r = release_secret(p, &si, n, n_len, e, e_len, "selftest", &jwe, reterr_detail)) != 0)
		goto out;
	if ((r = hsm_jwe_decrypt(jwe, pk, kw_secret_ptr(got), kw_secret_len(got), &got_len)) != 0) {
		*reterr_detail = "self-test JWE does not decrypt";
		goto out;
	}
	if (got_len != plain_len || CRYPTO_memcmp(kw_secret_cptr(got), kw_secret_cptr(val),
	    plain_len) != 0) {
		r = KW_ERR_MISMATCH;
		*reterr_detail = "self-test JWE decrypts to another value";
		goto out;
	}
	r = 0;
out:
	destroy(p, &si.h);
	free(jwe);
	kw_secret_free(val);
	kw_secret_free(got);
	return r;
}

int
hsm_p11_selftest(struct hsm_p11 *p, const char **reterr_detail)
{
	EVP_PKEY *pk = NULL;
	BIGNUM *bn = NULL, *be = NULL;
	uint8_t n[HSM_RSA_MAX_BITS / 8], e[HSM_RSA_E_MAX];
	int nl, el, r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	r = KW_ERR_CRYPTO;
	*reterr_detail = "OpenSSL RSA key";
	if ((pk = EVP_RSA_gen(2048)) == NULL ||
	    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &bn) != 1 ||
	    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &be) != 1 ||
	    BN_num_bytes(bn) > (int)sizeof(n) || BN_num_bytes(be) > (int)sizeof(e))
		goto out;
	nl = BN_bn2bin(bn, n);
	el = BN_bn2bin(be, e);
	if ((r = selftest_one(p, pk, n, (size_t)nl, e, (size_t)el, HSM_KIND_AES256, 32,
	    reterr_detail)) != 0)
		goto out;
	if ((r = selftest_one(p, pk, n, (size_t)nl, e, (size_t)el, HSM_KIND_SECRET, 20,
	    reterr_detail)) != 0)
		goto out;
	*reterr_detail = NULL;
	r = 0;
out:
	BN_free(bn);
	BN_free(be);
	EVP_PKEY_free(pk);
	return r;
}

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
static int
find_all(struct hsm_p11 *p, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl, CK_OBJECT_HANDLE *hs, size_t max,
    size_t *ret_n, const char **reterr_detail)
{
	CK_OBJECT_HANDLE extra;
	CK_ULONG got = 0;
	size_t total = 0;
	CK_RV rv;
	int r = 0;

	if ((rv = p->f->C_FindObjectsInit(p->sess, tmpl, ntmpl)) != CKR_OK)
		return ckr_fail(p, rv, "C_FindObjectsInit", reterr_detail);
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
		return ckr_fail(p, rv, "C_FindObjects", reterr_detail);
	if (r == 0)
		*ret_n = total;
	return r;
}

/* The private token key labelled label (exactly one, else NOT_FOUND / HSM). */
static int
find_token_priv(struct hsm_p11 *p, const char *label, CK_OBJECT_HANDLE *ret,
    const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_TOKEN, &ck_true, sizeof(ck_true)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	};
	CK_OBJECT_HANDLE hs[1];
	size_t n = 0;
	int r;

	r = find_all(p, tmpl, KW_ARRAY_SIZE(tmpl), hs, KW_ARRAY_SIZE(hs), &n, reterr_detail);
	if (r == KW_ERR_TOO_LARGE) {
		*reterr_detail = "label is not unique";
		return KW_ERR_HSM;
	}
	if (r != 0)
		return r;
	if (n == 0) {
		*reterr_detail = "no such token key";
		return KW_ERR_NOT_FOUND;
	}
	*ret = hs[0];
	return 0;
}

/*
 * Read one attribute into buf[0..max); *ret_len is its length.
 * KW_ERR_NOT_FOUND when the object does not have it or it is longer than max.
 */
static int
get_attr(struct hsm_p11 *p, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, void *buf, size_t max,
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
		return ckr_fail(p, rv, "C_GetAttributeValue", reterr_detail);
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
		{CKA_TOKEN, &ck_true, sizeof(ck_true)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_LABEL, e->k.label, strlen(e->k.label)},
		{CKA_ID, id, 0},
	};
	CK_OBJECT_HANDLE hs[1];
	int r;

	if ((r = get_attr(p, e->priv, CKA_EC_PARAMS, params, sizeof(params), &len,
	    reterr_detail)) != 0)
		return r;
	if (len != sizeof(hsm_p256_params) || memcmp(params, hsm_p256_params, len) != 0) {
		*reterr_detail = "token key not on P-256";
		return KW_ERR_NOT_FOUND;
	}
	if ((r = get_attr(p, e->priv, CKA_ID, id, sizeof(id), &id_len, reterr_detail)) != 0)
		return r;
	tmpl[4].ulValueLen = id_len;
	r = find_all(p, tmpl, KW_ARRAY_SIZE(tmpl), hs, KW_ARRAY_SIZE(hs), &n, reterr_detail);
	if (r == KW_ERR_TOO_LARGE || (r == 0 && n == 0)) {
		*reterr_detail = n == 0 ? "token key without its public half" :
		    "token key with two public halves";
		return KW_ERR_NOT_FOUND;
	}
	if (r != 0)
		return r;
	e->pub = hs[0];
	if ((r = get_attr(p, e->pub, CKA_EC_PARAMS, params, sizeof(params), &len,
	    reterr_detail)) != 0)
		return r;
	if (len != sizeof(hsm_p256_params) || memcmp(params, hsm_p256_params, len) != 0) {
		*reterr_detail = "public half not on P-256";
		return KW_ERR_NOT_FOUND;
	}
	if ((r = get_attr(p, e->pub, CKA_EC_POINT, point, sizeof(point), &len, reterr_detail)) != 0)
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
 * All token keys, oldest first, at most max (KW_ERR_TOO_LARGE beyond).
 * Objects that are not ours (label outside the rule, wrong curve, no public
 * half) are skipped; the broken pairs with a warning.
 */
static int
list_keys(struct hsm_p11 *p, struct tok_ent *out, size_t max, size_t *ret_n,
    const char **reterr_detail)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_TOKEN, &ck_true, sizeof(ck_true)},
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
	if ((r = find_all(p, tmpl, KW_ARRAY_SIZE(tmpl), hs, TOK_SCAN_MAX, &nh, reterr_detail)) != 0)
		goto out;
	for (size_t i = 0; i < nh; i++) {
		r = get_attr(p, hs[i], CKA_LABEL, label, HSM_TOKEN_LABEL_MAX, &len, reterr_detail);
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
			kw_log_warn("token key '%s' skipped: %s", label, *reterr_detail);
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
	*ret_n = n;
	*reterr_detail = NULL;
	r = 0;
out:
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
	if ((es = calloc(max + 1, sizeof(*es))) == NULL) {
		*reterr_detail = "out of memory";
		return KW_ERR_NOMEM;
	}
	if ((r = list_keys(p, es, max, &n, reterr_detail)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		out[i] = es[i].k;
	*ret_n = n;
out:
	free(es);
	return r;
}

/* Whether any token object carries CKA_LABEL = label. */
static int
label_taken(struct hsm_p11 *p, const char *label, bool *ret, const char **reterr_detail)
{
	CK_ATTRIBUTE tmpl[] = {
		{CKA_TOKEN, &ck_true, sizeof(ck_true)},
		{CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	};
	CK_OBJECT_HANDLE hs[1];
	size_t n = 0;
	int r;

	r = find_all(p, tmpl, KW_ARRAY_SIZE(tmpl), hs, KW_ARRAY_SIZE(hs), &n, reterr_detail);
	if (r == KW_ERR_TOO_LARGE)
		n = 2;
	else if (r != 0)
		return r;
	*ret = n != 0;
	return 0;
}

int
hsm_p11_token_key_new(struct hsm_p11 *p, int64_t now, struct hsm_token_key *ret,
    const char **reterr_detail)
{
	CK_OBJECT_CLASS c_pub = CKO_PUBLIC_KEY, c_priv = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	struct tok_ent *es = NULL, e;
	uint8_t id[TOK_ID_LEN], point[80];
	size_t n = 0, len = 0;
	bool taken = true;
	CK_ATTRIBUTE t_pub[] = {
		{CKA_CLASS, &c_pub, sizeof(c_pub)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &ck_true, sizeof(ck_true)},
		{CKA_PRIVATE, &ck_false, sizeof(ck_false)},
		{CKA_VERIFY, &ck_true, sizeof(ck_true)},
		{CKA_ENCRYPT, &ck_false, sizeof(ck_false)},
		{CKA_WRAP, &ck_false, sizeof(ck_false)},
		{CKA_DERIVE, &ck_false, sizeof(ck_false)},
		{CKA_EC_PARAMS, (void *)(uintptr_t)hsm_p256_params, sizeof(hsm_p256_params)},
		{CKA_LABEL, e.k.label, 0},
		{CKA_ID, id, sizeof(id)},
	};
	CK_ATTRIBUTE t_priv[] = {
		{CKA_CLASS, &c_priv, sizeof(c_priv)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &ck_true, sizeof(ck_true)},
		{CKA_PRIVATE, &ck_true, sizeof(ck_true)},
		{CKA_SENSITIVE, &ck_true, sizeof(ck_true)},
		{CKA_EXTRACTABLE, &ck_false, sizeof(ck_false)},
		{CKA_SIGN, &ck_true, sizeof(ck_true)},
		{CKA_DECRYPT, &ck_false, sizeof(ck_false)},
		{CKA_UNWRAP, &ck_false, sizeof(ck_false)},
		{CKA_DERIVE, &ck_false, sizeof(ck_false)},
		{CKA_LABEL, e.k.label, 0},
		{CKA_ID, id, sizeof(id)},
	};
	CK_RV rv;
	int r;

	memset(&e, 0, sizeof(e));
	e.priv = e.pub = CK_INVALID_HANDLE;
	if (now < 0 || now > TOK_N_MAX) {
		*reterr_detail = "bad time";
		return KW_ERR_INVALID_ARG;
	}
	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	if ((es = calloc(HSM_TOKEN_KEYS_MAX + 1, sizeof(*es))) == NULL) {
		*reterr_detail = "out of memory";
		return KW_ERR_NOMEM;
	}
	if ((r = list_keys(p, es, HSM_TOKEN_KEYS_MAX, &n, reterr_detail)) != 0)
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
		if ((r = label_taken(p, e.k.label, &taken, reterr_detail)) != 0)
			goto out;
	}
	if (taken) {
		*reterr_detail = "no free token key label";
		r = KW_ERR_EXISTS;
		goto out;
	}
	t_pub[9].ulValueLen = t_priv[10].ulValueLen = strlen(e.k.label);
	if ((rv = p->f->C_GenerateRandom(p->sess, id, sizeof(id))) != CKR_OK) {
		r = ckr_fail(p, rv, "C_GenerateRandom", reterr_detail);
		goto out;
	}
	rv = p->f->C_GenerateKeyPair(p->sess, &mech, t_pub, KW_ARRAY_SIZE(t_pub), t_priv,
	    KW_ARRAY_SIZE(t_priv), &e.pub, &e.priv);
	if (rv != CKR_OK) {
		e.pub = e.priv = CK_INVALID_HANDLE;
		r = ckr_fail(p, rv, "C_GenerateKeyPair", reterr_detail);
		goto out;
	}
	if ((r = get_attr(p, e.pub, CKA_EC_POINT, point, sizeof(point), &len, reterr_detail)) != 0)
		goto out;
	if (hsm_ec_point_parse(point, len, e.k.x, e.k.y) != 0) {
		*reterr_detail = "malformed CKA_EC_POINT";
		r = KW_ERR_HSM;
		goto out;
	}
	*ret = e.k;
	*reterr_detail = NULL;
	r = 0;
out:
	if (r != 0) {
		/* never leave half a key behind */
		destroy(p, &e.priv);
		destroy(p, &e.pub);
	}
	free(es);
	return r;
}

static struct tok_cache_ent *
tok_cache_slot(struct hsm_p11 *p, const char *label)
{
	int64_t n = 0;

	if (hsm_token_label_parse(label, strlen(label), &n) != 0)
		n = 0;
	return &p->tok_cache[(uint64_t)n % TOK_CACHE_SLOTS];
}

/* C_SignInit + C_Sign; R||S in sig. */
static int
sign_once(struct hsm_p11 *p, CK_OBJECT_HANDLE h, const uint8_t *digest,
    uint8_t sig[HSM_SIGN_SIG_LEN], const char **reterr_detail)
{
	CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
	uint8_t buf[2 * 66];    /* room for any curve: no CKR_BUFFER_TOO_SMALL leaving it active */
	CK_ULONG len = sizeof(buf);
	CK_RV rv;

	if ((rv = p->f->C_SignInit(p->sess, &mech, h)) != CKR_OK)
		return ckr_fail(p, rv, "C_SignInit", reterr_detail);
	rv = p->f->C_Sign(p->sess, (CK_BYTE_PTR)(uintptr_t)digest, HSM_SIGN_DIGEST_LEN, buf, &len);
	if (rv != CKR_OK)
		return ckr_fail(p, rv, "C_Sign", reterr_detail);
	if (hsm_ecdsa_sig_fixed(buf, len, sig) != 0) {
		*reterr_detail = "unexpected ECDSA signature length";
		return KW_ERR_HSM;
	}
	return 0;
}

int
hsm_p11_sign(struct hsm_p11 *p, const char *label, const uint8_t digest[HSM_SIGN_DIGEST_LEN],
    uint8_t sig[HSM_SIGN_SIG_LEN], const char **reterr_detail)
{
	struct tok_cache_ent *ce;
	CK_OBJECT_HANDLE h;
	bool cached;
	int r = KW_ERR_INTERNAL;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	if (hsm_token_label_parse(label, strlen(label), NULL) != 0) {
		*reterr_detail = "not a token key label";
		return KW_ERR_INVALID_ARG;
	}
	ce = tok_cache_slot(p, label);
	cached = ce->used && strcmp(ce->label, label) == 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (cached) {
			h = ce->h;
		} else {
			if ((r = find_token_priv(p, label, &h, reterr_detail)) != 0)
				return r;
			ce->used = true;
			memcpy(ce->label, label, strlen(label) + 1);
			ce->h = h;
		}
		p->last_rv = CKR_OK;
		r = sign_once(p, h, digest, sig, reterr_detail);
		if (r == 0 || !cached || (p->last_rv != CKR_KEY_HANDLE_INVALID &&
		    p->last_rv != CKR_OBJECT_HANDLE_INVALID))
			return r;
		/* stale cached handle: look the label up again, once */
		ce->used = false;
		cached = false;
	}
	return r;
}

int
hsm_p11_token_key_destroy(struct hsm_p11 *p, const char *label, const char **reterr_detail)
{
	struct tok_cache_ent *ce;
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
	if ((es = calloc(HSM_TOKEN_KEYS_MAX + 1, sizeof(*es))) == NULL) {
		*reterr_detail = "out of memory";
		return KW_ERR_NOMEM;
	}
	if ((r = list_keys(p, es, HSM_TOKEN_KEYS_MAX, &n, reterr_detail)) != 0)
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
	ce = tok_cache_slot(p, label);
	if (ce->used && strcmp(ce->label, label) == 0)
		ce->used = false;
	/* private half first: a leftover public half signs nothing */
	if ((rv = p->f->C_DestroyObject(p->sess, es[i].priv)) != CKR_OK) {
		r = ckr_fail(p, rv, "C_DestroyObject(private)", reterr_detail);
		goto out;
	}
	if ((rv = p->f->C_DestroyObject(p->sess, es[i].pub)) != CKR_OK) {
		r = ckr_fail(p, rv, "C_DestroyObject(public)", reterr_detail);
		goto out;
	}
	*reterr_detail = NULL;
	r = 0;
out:
	free(es);
	return r;
}

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
		{CKA_TOKEN, &ck_true, sizeof(ck_true)},
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
	r = find_all(p, tmpl, KW_ARRAY_SIZE(tmpl), hs, HSM_KEY_LIST_MAX, &nh, reterr_detail);
	if (r == KW_ERR_TOO_LARGE)
		*reterr_detail = "more than 100000 secret objects on the token";
	if (r != 0)
		goto out;
	r = KW_ERR_NOMEM;
	*reterr_detail = "out of memory";
	if (nh > 0 && (ls = calloc(nh, sizeof(*ls))) == NULL)
		goto out;
	for (size_t i = 0; i < nh; i++) {
		r = get_attr(p, hs[i], CKA_LABEL, label, HSM_LABEL_MAX, &len, reterr_detail);
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
		{CKA_TOKEN, &ck_true, sizeof(ck_true)},
		{CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	};
	CK_OBJECT_HANDLE hs[8];
	struct cache_ent *ce;
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
	ce = cache_slot(p, label);
	if (ce->used && strcmp(ce->label, label) == 0)
		ce->used = false;
	/* normally one object; duplicates (made behind our back) go too, a batch at a time */
	for (;;) {
		r = find_all(p, tmpl, KW_ARRAY_SIZE(tmpl), hs, KW_ARRAY_SIZE(hs), &n, reterr_detail);
		if (r == KW_ERR_TOO_LARGE)
			n = KW_ARRAY_SIZE(hs);
		else if (r != 0)
			return r;
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			if ((rv = p->f->C_DestroyObject(p->sess, hs[i])) != CKR_OK)
				return ckr_fail(p, rv, "C_DestroyObject", reterr_detail);
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
		{CKA_TOKEN, &ck_true, sizeof(ck_true)},
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
	CK_OBJECT_HANDLE hs[1];
	size_t n = 0, nl = 0;
	CK_RV rv;
	int r;

	if (p->imp_cached)
		return 0;
	memset(&pub, 0, sizeof(pub));
	r = find_all(p, tmpl, KW_ARRAY_SIZE(tmpl), hs, KW_ARRAY_SIZE(hs), &n, reterr_detail);
	if (r == KW_ERR_TOO_LARGE) {
		*reterr_detail = "import key label is not unique";
		return KW_ERR_HSM;
	}
	if (r != 0)
		return r;
	if (n == 0) {
		*reterr_detail = "no import key";
		return KW_ERR_NOT_FOUND;
	}
	if ((rv = p->f->C_GetAttributeValue(p->sess, hs[0], flags, KW_ARRAY_SIZE(flags))) != CKR_OK)
		return ckr_fail(p, rv, "C_GetAttributeValue(import key)", reterr_detail);
	r = get_attr(p, hs[0], CKA_MODULUS, nbuf, sizeof(nbuf), &nl, reterr_detail);
	if (r == 0)
		r = get_attr(p, hs[0], CKA_PUBLIC_EXPONENT, pub.e, sizeof(pub.e), &pub.e_len,
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
	p->imp_priv = hs[0];
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
		{CKA_TOKEN, &ck_true, sizeof(ck_true)},
		{CKA_LABEL, (void *)(uintptr_t)HSM_IMPORT_LABEL, strlen(HSM_IMPORT_LABEL)},
	};
	CK_ATTRIBUTE t_pub[] = {
		{CKA_CLASS, &c_pub, sizeof(c_pub)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &ck_true, sizeof(ck_true)},
		{CKA_PRIVATE, &ck_false, sizeof(ck_false)},
		{CKA_MODULUS_BITS, &bits, sizeof(bits)},
		{CKA_PUBLIC_EXPONENT, e, sizeof(e)},
		{CKA_ENCRYPT, &ck_true, sizeof(ck_true)},
		{CKA_WRAP, &ck_true, sizeof(ck_true)},
		{CKA_VERIFY, &ck_false, sizeof(ck_false)},
		{CKA_DERIVE, &ck_false, sizeof(ck_false)},
		{CKA_LABEL, (void *)(uintptr_t)HSM_IMPORT_LABEL, strlen(HSM_IMPORT_LABEL)},
		{CKA_ID, id, sizeof(id)},
	};
	CK_ATTRIBUTE t_priv[] = {
		{CKA_CLASS, &c_priv, sizeof(c_priv)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_TOKEN, &ck_true, sizeof(ck_true)},
		{CKA_PRIVATE, &ck_true, sizeof(ck_true)},
		{CKA_SENSITIVE, &ck_true, sizeof(ck_true)},
		{CKA_EXTRACTABLE, &ck_false, sizeof(ck_false)},
		{CKA_UNWRAP, &ck_true, sizeof(ck_true)},
		{CKA_DECRYPT, &ck_false, sizeof(ck_false)},
		{CKA_SIGN, &ck_false, sizeof(ck_false)},
		{CKA_DERIVE, &ck_false, sizeof(ck_false)},
		{CKA_ALLOWED_MECHANISMS, allowed, sizeof(allowed)},
		{CKA_LABEL, (void *)(uintptr_t)HSM_IMPORT_LABEL, strlen(HSM_IMPORT_LABEL)},
		{CKA_ID, id, sizeof(id)},
	};
	size_t n = 0;
	CK_RV rv;
	int r;

	/* a public half left without its private half (a crash) is useless: drop it */
	r = find_all(p, t_old, KW_ARRAY_SIZE(t_old), old, KW_ARRAY_SIZE(old), &n, reterr_detail);
	if (r != 0 && r != KW_ERR_TOO_LARGE)
		return r;
	for (size_t i = 0; i < n; i++)
		destroy(p, &old[i]);
	if ((rv = p->f->C_GenerateRandom(p->sess, id, sizeof(id))) != CKR_OK)
		return ckr_fail(p, rv, "C_GenerateRandom", reterr_detail);
	rv = p->f->C_GenerateKeyPair(p->sess, &mech, t_pub, KW_ARRAY_SIZE(t_pub), t_priv,
	    KW_ARRAY_SIZE(t_priv), &pub, &priv);
	if (rv != CKR_OK)
		return ckr_fail(p, rv, "C_GenerateKeyPair(import key)", reterr_detail);
	kw_log_info("import key generated in the token (%s, RSA-%d)", HSM_IMPORT_LABEL,
	    HSM_IMPORT_RSA_BITS);
	return 0;
}

int
hsm_p11_import_key(struct hsm_p11 *p, struct hsm_import_pub *ret, const char **reterr_detail)
{
	int r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	r = find_import_key(p, reterr_detail);
	if (r == KW_ERR_NOT_FOUND) {
		if ((r = make_import_key(p, reterr_detail)) != 0)
			return r;
		r = find_import_key(p, reterr_detail);
	}
	if (r != 0)
		return r;
	*ret = p->imp_pub;
	*reterr_detail = NULL;
	return 0;
}

/* An unwrap that fails on the request's bytes: KW_ERR_INVALID_FORMAT, detail = CKR name. */
static int
unwrap_fail(struct hsm_p11 *p, CK_RV rv, const char *what, const char **reterr_detail)
{
	int r = ckr_fail(p, rv, what, reterr_detail);

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
		return ckr_fail(p, rv, "C_DigestInit", reterr_detail);
	if ((rv = p->f->C_DigestUpdate(p->sess, (CK_BYTE_PTR)(uintptr_t)salt, salt_len)) != CKR_OK ||
	    (rv = p->f->C_DigestKey(p->sess, h)) != CKR_OK) {
		/* end the operation: a digest of an empty buffer into tmp */
		(void)p->f->C_DigestFinal(p->sess, tmp, &len);
		kw_wipe(tmp, sizeof(tmp));
		return ckr_fail(p, rv, "C_DigestKey", reterr_detail);
	}
	if ((rv = p->f->C_DigestFinal(p->sess, tmp, &len)) != CKR_OK || len != sizeof(tmp)) {
		kw_wipe(tmp, sizeof(tmp));
		return rv != CKR_OK ? ckr_fail(p, rv, "C_DigestFinal", reterr_detail) : KW_ERR_HSM;
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
		{CKA_TOKEN, &ck_false, sizeof(ck_false)}, {CKA_PRIVATE, &ck_true, sizeof(ck_true)},
		{CKA_VALUE_LEN, &l32, sizeof(l32)}, {CKA_SENSITIVE, &ck_true, sizeof(ck_true)},
		{CKA_EXTRACTABLE, &ck_false, sizeof(ck_false)}, {CKA_WRAP, &ck_true, sizeof(ck_true)},
		{CKA_UNWRAP, &ck_true, sizeof(ck_true)},
	};
	CK_ATTRIBUTE t_copy[] = {
		{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &k_gen, sizeof(k_gen)},
		{CKA_TOKEN, &ck_false, sizeof(ck_false)}, {CKA_PRIVATE, &ck_true, sizeof(ck_true)},
		{CKA_SENSITIVE, &ck_true, sizeof(ck_true)},
		{CKA_EXTRACTABLE, &ck_false, sizeof(ck_false)},
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
		r = ckr_fail(p, rv, "C_GenerateKey(length check)", reterr_detail);
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
		r = ckr_fail(p, rv, "C_UnwrapKey(AES_KEY_WRAP)", reterr_detail);
		goto out;
	}
	if ((rv = p->f->C_GenerateRandom(p->sess, salt, sizeof(salt))) != CKR_OK) {
		r = ckr_fail(p, rv, "C_GenerateRandom", reterr_detail);
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
	destroy(p, &copy);
	destroy(p, &kt);
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
		{CKA_TOKEN, &ck_false, sizeof(ck_false)}, {CKA_PRIVATE, &ck_true, sizeof(ck_true)},
		{CKA_SENSITIVE, &ck_true, sizeof(ck_true)},
		{CKA_EXTRACTABLE, &ck_false, sizeof(ck_false)},
		{CKA_UNWRAP, &ck_true, sizeof(ck_true)}, {CKA_WRAP, &ck_false, sizeof(ck_false)},
		{CKA_ENCRYPT, &ck_false, sizeof(ck_false)}, {CKA_DECRYPT, &ck_false, sizeof(ck_false)},
	};
	CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM m_oaep = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
	CK_MECHANISM m_kwp = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_OBJECT_HANDLE kek_h = CK_INVALID_HANDLE, h = CK_INVALID_HANDLE;
	struct secret_tmpl t;
	struct cache_ent *ce;
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
	if ((r = label_taken(p, label, &taken, reterr_detail)) != 0)
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
	secret_tmpl_init(&t, label, kind, length);
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
	ce = cache_slot(p, label);
	if (ce->used && strcmp(ce->label, label) == 0)
		ce->used = false;
	h = CK_INVALID_HANDLE;    /* kept */
	*reterr_detail = NULL;
	r = 0;
out:
	destroy(p, &h);    /* only on failure */
	destroy(p, &kek_h);
	return r;
}
