/* SPDX-License-Identifier: Apache-2.0 */
#include <dlfcn.h>
#include <stdio.h>
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

#include "hsm_import.h"
#include "hsm_jwe.h"
#include "hsm_p11.h"
#include "kw_log.h"
#include "kw_secret.h"
#include "kw_util.h"
#include "hsm_p11_int.h"

CK_BBOOL p11_true = CK_TRUE, p11_false = CK_FALSE;
static char dl_error[256]; /* hsm_p11_open's detail when dlopen fails */

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
int
p11_ckr_fail(struct hsm_p11 *p, CK_RV rv, const char *what, const char **reterr_detail)
{
	*reterr_detail = ckr_name(rv);
	p->last_rv = rv;
	kw_log_debug("%s: %s (0x%lx)", what, ckr_name(rv), (unsigned long)rv);
	switch (rv) {
	case CKR_HOST_MEMORY:
		return KW_ERR_NOMEM;
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		/* finalized behind our back: the next start must C_Initialize again */
		p->initialized = false;
		p->ready = false;
		return KW_ERR_HSM;
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
	if (!hsm_uri_is_uri(token_label) &&
	    (strlen(token_label) == 0 || strlen(token_label) > TOKEN_LABEL_LEN)) {
		*reterr_detail = "token label must be 1..32 bytes";
		return KW_ERR_INVALID_ARG;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto out;
	if (hsm_uri_is_uri(token_label)) {
		char eb[200];

		if ((r = hsm_uri_token_new(token_label, &p->token_uri, eb, sizeof(eb))) != 0) {
			*reterr_detail = r == KW_ERR_NOMEM ? "out of memory" :
			    "the token URI is not valid (keywarden-hsm checks it at start)";
			r = r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_ARG;
			goto out;
		}
		r = KW_ERR_NOMEM;
	}
	if ((p->module_path = strdup(module_path)) == NULL ||
	    (p->token_label = strdup(token_label)) == NULL || (p->pin_file = strdup(pin_file)) == NULL)
		goto out;
	r = KW_ERR_HSM;
	if ((p->dl = dlopen(module_path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		/* dlerror's text outlives p: a static buffer (the helper has one thread) */
		snprintf(dl_error, sizeof(dl_error), "dlopen failed: %s", dlerror());
		*reterr_detail = dl_error;
		goto out;
	}
	if ((gfl = (CK_C_GetFunctionList)dlsym(p->dl, "C_GetFunctionList")) == NULL) {
		*reterr_detail = "no C_GetFunctionList";
		goto out;
	}
	if ((rv = gfl(&p->f)) != CKR_OK || p->f == NULL) {
		r = p11_ckr_fail(p, rv, "C_GetFunctionList", reterr_detail);
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

/* The token of slot, when it fits --token (a label, or a URI). */
static bool
slot_fits(struct hsm_p11 *p, CK_SLOT_ID slot, const CK_INFO *mi, bool have_mi,
    CK_TOKEN_INFO *ret_ti)
{
	CK_UTF8CHAR want[TOKEN_LABEL_LEN];
	CK_SLOT_INFO si;

	if (p->f->C_GetTokenInfo(slot, ret_ti) != CKR_OK)
		return false;
	if (p->token_uri == NULL) {
		memset(want, ' ', sizeof(want));
		memcpy(want, p->token_label, strlen(p->token_label));
		return memcmp(ret_ti->label, want, sizeof(want)) == 0;
	}
	if (!have_mi || p->f->C_GetSlotInfo(slot, &si) != CKR_OK)
		return false;
	return hsm_uri_match(p->token_uri, mi, slot, &si, ret_ti);
}

/*
 * The slot whose token fits --token. A label picks the first such token (as
 * always); a URI must fit exactly one, so a URI that says too little is an
 * error rather than a guess.
 */
static int
find_slot(struct hsm_p11 *p, const char **reterr_detail)
{
	CK_SLOT_ID *slots = NULL, found = 0;
	CK_ULONG count = 0, n_found = 0;
	CK_TOKEN_INFO ti, found_ti;
	CK_INFO mi;
	bool have_mi;
	CK_RV rv;
	int r = KW_ERR_HSM;

	if ((rv = p->f->C_GetSlotList(CK_TRUE, NULL, &count)) != CKR_OK) {
		r = p11_ckr_fail(p, rv, "C_GetSlotList", reterr_detail);
		goto out;
	}
	if (count == 0 || (slots = calloc(count, sizeof(*slots))) == NULL) {
		*reterr_detail = "no token";
		goto out;
	}
	if ((rv = p->f->C_GetSlotList(CK_TRUE, slots, &count)) != CKR_OK) {
		r = p11_ckr_fail(p, rv, "C_GetSlotList", reterr_detail);
		goto out;
	}
	have_mi = p->token_uri != NULL && p->f->C_GetInfo(&mi) == CKR_OK;
	for (CK_ULONG i = 0; i < count; i++) {
		if (!slot_fits(p, slots[i], &mi, have_mi, &ti))
			continue;
		if (n_found++ == 0) {
			found = slots[i];
			found_ti = ti;
		}
		if (p->token_uri == NULL)
			break;
	}
	if (n_found == 0) {
		*reterr_detail = p->token_uri != NULL ? "no token matches the token URI" :
		    "token label not found";
		goto out;
	}
	if (n_found > 1) {
		*reterr_detail = "the token URI matches more than one token (add serial=...)";
		goto out;
	}
	free(p->found_uri);
	p->found_uri = NULL;
	if ((r = hsm_uri_format_token(&found_ti, &p->found_uri)) != 0) {
		*reterr_detail = "out of memory";
		goto out;
	}
	p->slot = found;
	r = 0;
out:
	free(slots);
	return r;
}

/*
 * C_Login with the PIN from the file. A PIN the token refused
 * (CKR_PIN_INCORRECT) is not offered again: every request would retry the
 * login, and a real token locks the PIN after a few wrong ones. Only its
 * SHA-256 is kept; a changed PIN file is tried.
 */
static int
login(struct hsm_p11 *p, const char **reterr_detail)
{
	struct kw_secret *pin = NULL;
	uint8_t fp[32];
	CK_RV rv;
	int r;

	if ((r = kw_secret_from_file(p->pin_file, PIN_MAX, &pin)) != 0) {
		*reterr_detail = "cannot read PIN file";
		return r == KW_ERR_NOMEM ? r : KW_ERR_CONFIG;
	}
	if ((r = kw_sha256(kw_secret_cptr(pin), kw_secret_len(pin), fp)) != 0) {
		kw_secret_free(pin);
		*reterr_detail = "SHA-256";
		return r;
	}
	if (p->pin_refused && CRYPTO_memcmp(fp, p->pin_refused_fp, sizeof(fp)) == 0) {
		kw_secret_free(pin);
		kw_wipe(fp, sizeof(fp));
		*reterr_detail = "CKR_PIN_INCORRECT (the same PIN is not tried again)";
		return KW_ERR_HSM;
	}
	rv = p->f->C_Login(p->sess, CKU_USER, kw_secret_ptr(pin), kw_secret_len(pin));
	kw_secret_free(pin);    /* wiped right after the login */
	p->pin_refused = rv == CKR_PIN_INCORRECT;
	memcpy(p->pin_refused_fp, fp, sizeof(fp));
	kw_wipe(fp, sizeof(fp));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return p11_ckr_fail(p, rv, "C_Login", reterr_detail);
	return 0;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The failure of a start says the token is out of reach (a network HSM
 * down): no slot with a token at all (p11-kit's client without its server),
 * or a device error. Not "token label not found": SoftHSM reports that for
 * a moment while another process rewrites token.object, and the next
 * request must try again at once.
 */
static bool
unreachable(const struct hsm_p11 *p, const char *detail)
{
	if (detail != NULL && strcmp(detail, "no token") == 0)
		return true;
	return p->last_rv == CKR_DEVICE_ERROR || p->last_rv == CKR_DEVICE_REMOVED ||
	    p->last_rv == CKR_TOKEN_NOT_PRESENT;
}

/* One attempt: C_Initialize when needed, the slot, a new session, the login. */
static int
start_once(struct hsm_p11 *p, const char **reterr_detail)
{
	CK_C_INITIALIZE_ARGS args;
	CK_INFO info;
	CK_RV rv;
	int r;

	if (!p->initialized) {
		memset(&args, 0, sizeof(args));
		args.flags = CKF_OS_LOCKING_OK;
		rv = p->f->C_Initialize(&args);
		if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
			return p11_ckr_fail(p, rv, "C_Initialize", reterr_detail);
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
		return r;
	if (p->sess != CK_INVALID_HANDLE) {
		/* a session the module declared lost (p11_ckr_fail): do not leak it */
		(void)p->f->C_CloseSession(p->sess);
		p->sess = CK_INVALID_HANDLE;
	}
	p->xport_h = CK_INVALID_HANDLE;    /* session objects die with their session */
	rv = p->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &p->sess);
	if (rv != CKR_OK)
		return p11_ckr_fail(p, rv, "C_OpenSession", reterr_detail);
	if ((r = login(p, reterr_detail)) != 0)
		return r;
	p->ready = true;
	return 0;
}

int
hsm_p11_start(struct hsm_p11 *p, const char **reterr_detail)
{
	bool reopen;
	int r;

	if (p->ready)
		return 0;
	if (p->retry_at_ms != 0 && mono_ms() < p->retry_at_ms) {
		*reterr_detail = "token unreachable (waiting before the next attempt)";
		return KW_ERR_HSM;
	}
	/*
	 * A session the module declared lost is first reopened without
	 * C_Initialize. When that fails too (a remote module whose connection
	 * broke: p11-kit's client reconnects only in C_Initialize), start again
	 * from C_Initialize in the same request.
	 */
	reopen = p->initialized;
	p->last_rv = CKR_OK;
	r = start_once(p, reterr_detail);
	if (r != 0 && reopen && r != KW_ERR_CONFIG && !p->pin_refused) {
		hsm_p11_stop(p);
		p->last_rv = CKR_OK;
		r = start_once(p, reterr_detail);
	}
	if (r == 0) {
		p->retry_at_ms = 0;
		p->backoff_ms = 0;
		return 0;
	}
	if (unreachable(p, *reterr_detail)) {
		p->backoff_ms = p->backoff_ms == 0 ? HSM_P11_BACKOFF_MIN_MS :
		    p->backoff_ms * 2 > HSM_P11_BACKOFF_MAX_MS ? HSM_P11_BACKOFF_MAX_MS :
		    p->backoff_ms * 2;
		p->retry_at_ms = mono_ms() + p->backoff_ms;
	}
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
	memset(&p->audit_cache, 0, sizeof(p->audit_cache));
	p->imp_cached = false;
	p->sess = CK_INVALID_HANDLE;
	p->xport_h = CK_INVALID_HANDLE;
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
	p11_assemble_free(p);
	if (p->dl != NULL)
		dlclose(p->dl);
	free(p->module_path);
	free(p->token_label);
	free(p->pin_file);
	hsm_uri_free(p->token_uri);
	free(p->found_uri);
	free(p);
}

const char *
hsm_p11_token_uri(const struct hsm_p11 *p)
{
	return p->found_uri;
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
		return p11_ckr_fail(p, rv, "C_GenerateRandom", reterr_detail);
	return 0;
}

void
p11_destroy(struct hsm_p11 *p, CK_OBJECT_HANDLE *h)
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
		{CKA_TOKEN, &p11_true, sizeof(p11_true)},
		{CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	};
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_ULONG vlen = 0;
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
	int r;

	if ((r = p11_find_one(p, tmpl, KW_ARRAY_SIZE(tmpl), &h, "no such label",
	    "label is not unique", reterr_detail)) != 0)
		return r;
	if ((rv = p->f->C_GetAttributeValue(p->sess, h, attrs, KW_ARRAY_SIZE(attrs))) != CKR_OK)
		return p11_ckr_fail(p, rv, "C_GetAttributeValue", reterr_detail);
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
	ret->h = h;
	ret->value_len = vlen;
	*reterr_detail = NULL;
	return 0;
}


void
p11_secret_tmpl_init(struct secret_tmpl *t, const char *label, enum hsm_kind kind, size_t length)
{
	size_t i = 0;

	t->cls = CKO_SECRET_KEY;
	t->kt = kind == HSM_KIND_SECRET ? CKK_GENERIC_SECRET : CKK_AES;
	t->vlen = kind == HSM_KIND_AES128 ? 16 : kind == HSM_KIND_AES256 ? 32 :
	    (CK_ULONG)(length % 16 == 0 ? length : (length / 16 + 1) * 16);
	t->a[i++] = (CK_ATTRIBUTE){CKA_CLASS, &t->cls, sizeof(t->cls)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &t->kt, sizeof(t->kt)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_TOKEN, &p11_true, sizeof(p11_true)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_PRIVATE, &p11_true, sizeof(p11_true)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &p11_true, sizeof(p11_true)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &p11_true, sizeof(p11_true)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_ENCRYPT, &p11_false, sizeof(p11_false)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_DECRYPT, &p11_false, sizeof(p11_false)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_WRAP, &p11_false, sizeof(p11_false)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_UNWRAP, &p11_false, sizeof(p11_false)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_SIGN, &p11_false, sizeof(p11_false)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_VERIFY, &p11_false, sizeof(p11_false)};
	t->a[i++] = (CK_ATTRIBUTE){CKA_DERIVE, &p11_false, sizeof(p11_false)};
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
	p11_secret_tmpl_init(&t, label, kind, length);
	if (kind != HSM_KIND_SECRET) {
		rv = p->f->C_GenerateKey(p->sess, &mech, t.a, KW_ARRAY_SIZE(t.a), &h);
		if (rv != CKR_OK)
			return p11_ckr_fail(p, rv, "C_GenerateKey", reterr_detail);
	} else {
		/* Random value, PKCS#7-padded when not a multiple of 16 (PKCS11.md 3.3). */
		padded = length % 16 == 0 ? length : (length / 16 + 1) * 16;
		if ((r = kw_secret_new(padded, &val)) != 0) {
			*reterr_detail = "out of memory";
			return r;
		}
		if ((rv = p->f->C_GenerateRandom(p->sess, kw_secret_ptr(val), length)) != CKR_OK) {
			r = p11_ckr_fail(p, rv, "C_GenerateRandom", reterr_detail);
			goto out;
		}
		memset(kw_secret_ptr(val) + length, (int)(padded - length), padded - length);
		t.a[KW_ARRAY_SIZE(t.a) - 1] = (CK_ATTRIBUTE){CKA_VALUE, kw_secret_ptr(val), padded};
		if ((rv = p->f->C_CreateObject(p->sess, t.a, KW_ARRAY_SIZE(t.a), &h)) != CKR_OK) {
			r = p11_ckr_fail(p, rv, "C_CreateObject", reterr_detail);
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
		{CKA_TOKEN, &p11_false, sizeof(p11_false)},
		{CKA_PRIVATE, &p11_false, sizeof(p11_false)},
		{CKA_MODULUS, (void *)(uintptr_t)n, n_len},
		{CKA_PUBLIC_EXPONENT, (void *)(uintptr_t)e, e_len},
		{CKA_WRAP, &p11_true, sizeof(p11_true)},
		{CKA_ENCRYPT, &p11_false, sizeof(p11_false)},
		{CKA_VERIFY, &p11_false, sizeof(p11_false)},
		{CKA_ALLOWED_MECHANISMS, allowed, sizeof(allowed)},
	};
	CK_RV rv;

	if ((rv = p->f->C_CreateObject(p->sess, tmpl, KW_ARRAY_SIZE(tmpl), ret)) != CKR_OK)
		return p11_ckr_fail(p, rv, "C_CreateObject(public key)", reterr_detail);
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
		return p11_ckr_fail(p, rv, "C_DeriveKey", reterr_detail);
	return 0;
}

/*
 * PKCS11.md 3.2 steps 1-13 for the secret si (token or session object).
 * Step 9 (the extra PKCS#7 block) is skipped for a stored padded value.
 */
int
p11_release_secret(struct hsm_p11 *p, const struct secret_info *si, const uint8_t *n, size_t n_len,
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
		{CKA_TOKEN, &p11_false, sizeof(p11_false)}, {CKA_PRIVATE, &p11_true, sizeof(p11_true)},
		{CKA_VALUE_LEN, &l32, sizeof(l32)}, {CKA_DERIVE, &p11_true, sizeof(p11_true)},
		{CKA_SENSITIVE, &p11_true, sizeof(p11_true)},
		{CKA_EXTRACTABLE, &p11_false, sizeof(p11_false)},
	};
	CK_ATTRIBUTE t_cek[] = {
		{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &k_gen, sizeof(k_gen)},
		{CKA_TOKEN, &p11_false, sizeof(p11_false)}, {CKA_PRIVATE, &p11_true, sizeof(p11_true)},
		{CKA_VALUE_LEN, &l64, sizeof(l64)}, {CKA_SENSITIVE, &p11_true, sizeof(p11_true)},
		{CKA_EXTRACTABLE, &p11_true, sizeof(p11_true)},
	};
	CK_ATTRIBUTE t_mac[] = {
		{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &k_gen, sizeof(k_gen)},
		{CKA_TOKEN, &p11_false, sizeof(p11_false)}, {CKA_PRIVATE, &p11_true, sizeof(p11_true)},
		{CKA_VALUE_LEN, &l32, sizeof(l32)}, {CKA_SENSITIVE, &p11_false, sizeof(p11_false)},
		{CKA_EXTRACTABLE, &p11_true, sizeof(p11_true)},
	};
	CK_ATTRIBUTE t_enc[] = {
		{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &k_aes, sizeof(k_aes)},
		{CKA_TOKEN, &p11_false, sizeof(p11_false)}, {CKA_PRIVATE, &p11_true, sizeof(p11_true)},
		{CKA_VALUE_LEN, &l32, sizeof(l32)}, {CKA_SENSITIVE, &p11_true, sizeof(p11_true)},
		{CKA_EXTRACTABLE, &p11_false, sizeof(p11_false)}, {CKA_WRAP, &p11_true, sizeof(p11_true)},
		{CKA_ENCRYPT, &p11_true, sizeof(p11_true)}, {CKA_DECRYPT, &p11_false, sizeof(p11_false)},
		{CKA_UNWRAP, &p11_false, sizeof(p11_false)},
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

	if (p->helper_assembly)
		return p11_release_assembled(p, si, n, n_len, e, e_len, kid, ret_jwe, reterr_detail);
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
		r = p11_ckr_fail(p, rv, "C_GenerateKey(base)", reterr_detail);
		goto out;
	}
	/* 3: public derivation data D */
	if ((rv = p->f->C_GenerateRandom(p->sess, d, sizeof(d))) != CKR_OK) {
		r = p11_ckr_fail(p, rv, "C_GenerateRandom", reterr_detail);
		goto out;
	}
	/* 4-6: CEK = E(base, D) = MAC || ENC (ECB is blockwise, PKCS11.md 3.1) */
	if ((r = derive(p, base, d, 64, t_cek, KW_ARRAY_SIZE(t_cek), &cek, reterr_detail)) != 0 ||
	    (r = derive(p, base, d, 32, t_mac, KW_ARRAY_SIZE(t_mac), &mac, reterr_detail)) != 0 ||
	    (r = derive(p, base, d + 32, 32, t_enc, KW_ARRAY_SIZE(t_enc), &enc, reterr_detail)) != 0)
		goto out;
	a_val = (CK_ATTRIBUTE){CKA_VALUE, kw_secret_ptr(mac_key), HSM_JWE_MAC_KEY_LEN};
	if ((rv = p->f->C_GetAttributeValue(p->sess, mac, &a_val, 1)) != CKR_OK) {
		r = p11_ckr_fail(p, rv, "C_GetAttributeValue(MAC)", reterr_detail);
		goto out;
	}
	if (a_val.ulValueLen != HSM_JWE_MAC_KEY_LEN) {
		r = KW_ERR_HSM;
		*reterr_detail = "MAC key length";
		goto out;
	}
	/* 7: IV */
	if ((rv = p->f->C_GenerateRandom(p->sess, iv, sizeof(iv))) != CKR_OK) {
		r = p11_ckr_fail(p, rv, "C_GenerateRandom", reterr_detail);
		goto out;
	}
	/* 8: CT1 = AES-256-CBC(ENC, IV, stored value) without padding */
	ct1_len = ct_cap;
	if ((rv = p->f->C_WrapKey(p->sess, &m_cbc, enc, si->h, ct, &ct1_len)) != CKR_OK) {
		r = p11_ckr_fail(p, rv, "C_WrapKey(AES_CBC)", reterr_detail);
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
			r = p11_ckr_fail(p, rv, "C_EncryptInit", reterr_detail);
			goto out;
		}
		if ((rv = p->f->C_Encrypt(p->sess, pad, sizeof(pad), ct + ct1_len, &ct2_len)) != CKR_OK ||
		    ct2_len != 16) {
			r = rv != CKR_OK ? p11_ckr_fail(p, rv, "C_Encrypt", reterr_detail) : KW_ERR_HSM;
			*reterr_detail = rv != CKR_OK ? *reterr_detail : "padding block length";
			goto out;
		}
		ct1_len += 16;
	}
	/* 10: encrypted_key = RSA-OAEP(SHA-1)(TEE key, CEK) */
	if ((rv = p->f->C_WrapKey(p->sess, &m_oaep, pub, cek, ek, &ek_len)) != CKR_OK) {
		r = p11_ckr_fail(p, rv, "C_WrapKey(RSA_PKCS_OAEP)", reterr_detail);
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
	p11_destroy(p, &pub);
	p11_destroy(p, &base);
	p11_destroy(p, &cek);
	p11_destroy(p, &mac);
	p11_destroy(p, &enc);
	kw_secret_free(mac_key);
	free(ct);
	return r;
}

struct cache_ent *
p11_cache_slot(struct hsm_p11 *p, const char *label)
{
	uint32_t h = 2166136261U;    /* FNV-1a */

	for (const char *c = label; *c != '\0'; c++)
		h = (h ^ (uint8_t)*c) * 16777619U;
	return &p->cache[h % CACHE_SLOTS];
}

void
p11_cache_forget(struct cache_ent *ce, const char *label)
{
	if (ce->used && strcmp(ce->label, label) == 0)
		ce->used = false;
}

int
p11_cached_call(struct hsm_p11 *p, struct cache_ent *ce, const char *label,
    int (*lookup)(struct hsm_p11 *, const char *, struct secret_info *, const char **),
    int (*op)(struct hsm_p11 *, const struct secret_info *, void *, const char **), void *arg,
    const char **reterr_detail)
{
	struct secret_info si;
	bool cached = ce->used && strcmp(ce->label, label) == 0;
	int r = KW_ERR_INTERNAL;

	if (strlen(label) >= sizeof(ce->label)) {
		*reterr_detail = "label too long";
		return KW_ERR_INVALID_ARG;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (cached) {
			si = ce->si;
		} else {
			if ((r = lookup(p, label, &si, reterr_detail)) != 0)
				return r;
			ce->used = true;
			memcpy(ce->label, label, strlen(label) + 1);
			ce->si = si;
		}
		p->last_rv = CKR_OK;
		r = op(p, &si, arg, reterr_detail);
		if (r == 0 || !cached || (p->last_rv != CKR_KEY_HANDLE_INVALID &&
		    p->last_rv != CKR_OBJECT_HANDLE_INVALID))
			return r;
		/* stale cached handle: look the label up again, once */
		ce->used = false;
		cached = false;
	}
	return r;
}

struct release_args {
	const uint8_t *n, *e;
	size_t n_len, e_len;
	const char *kid;
	char **ret_jwe;
};

static int
release_op(struct hsm_p11 *p, const struct secret_info *si, void *arg,
    const char **reterr_detail)
{
	struct release_args *a = arg;

	return p11_release_secret(p, si, a->n, a->n_len, a->e, a->e_len, a->kid, a->ret_jwe,
	    reterr_detail);
}

int
hsm_p11_release(struct hsm_p11 *p, const char *label, const uint8_t *n, size_t n_len,
    const uint8_t *e, size_t e_len, const char *kid, char **ret_jwe, const char **reterr_detail)
{
	struct release_args a = {n, e, n_len, e_len, kid, ret_jwe};
	int r;

	if ((r = hsm_p11_start(p, reterr_detail)) != 0)
		return r;
	return p11_cached_call(p, p11_cache_slot(p, label), label, find_secret, release_op, &a,
	    reterr_detail);
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
		{CKA_TOKEN, &p11_false, sizeof(p11_false)}, {CKA_PRIVATE, &p11_true, sizeof(p11_true)},
		{CKA_SENSITIVE, &p11_true, sizeof(p11_true)}, {CKA_EXTRACTABLE, &p11_true, sizeof(p11_true)},
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
		r = p11_ckr_fail(p, rv, "C_CreateObject(test secret)", reterr_detail);
		goto out;
	}
	if ((r = p11_release_secret(p, &si, n, n_len, e, e_len, "selftest", &jwe, reterr_detail)) != 0)
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
	p11_destroy(p, &si.h);
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

