/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_P11_INT_H
#define HSM_P11_INT_H

/*
 * Internals of the PKCS#11 layer, shared by its three parts: hsm_p11.c
 * (module, session, login, secrets, releases, self test), hsm_p11_tokkey.c
 * (token-signing keys) and hsm_p11_admin.c (admin-plane key lifecycle:
 * listing, destroying, the import key and unwrap). Only hsm/hsm_p11*.c
 * include it; it is the one place besides them that sees pkcs11.h.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "hsm_import.h"
#include "hsm_p11.h"
#include "hsm_uri_p11.h"

#define PIN_MAX 256
#define TOKEN_LABEL_LEN 32
#define ID_PREFIX HSM_SECRET_ID_PREFIX /* hsm_uri.h: object URIs name it too */
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


struct hsm_p11 {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	char *module_path, *token_label, *pin_file;
	struct hsm_uri *token_uri;       /* --token was a URI: match it (token_label unused) */
	char *found_uri;                 /* the URI of the token found last (hsm_uri_format_token) */
	bool initialized; /* C_Initialize succeeded */
	bool ready;       /* session open and logged in */
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE sess;
	char desc[128];
	CK_RV last_rv; /* of the last failed call */
	bool pin_refused;                /* C_Login said CKR_PIN_INCORRECT to ... */
	uint8_t pin_refused_fp[32];      /* ... the PIN with this SHA-256 */
	struct cache_ent cache[CACHE_SLOTS];
	struct cache_ent tok_cache[TOK_CACHE_SLOTS]; /* token label -> private key (si.h) */
	struct cache_ent audit_cache;                /* the audit key's private half */
	size_t tok_skipped;              /* of the last token key listing */
	char tok_skip_label[HSM_TOKEN_LABEL_MAX + 1];
	const char *tok_skip_why;
	bool helper_assembly;            /* --release-assembly helper (hsm_p11_assemble.c) */
	struct evp_pkey_st *xport;       /* its transport key pair (helper memory) */
	CK_OBJECT_HANDLE xport_h;        /* its public half in the current session */
	int64_t retry_at_ms;             /* unreachable: no new start before (monotonic) */
	unsigned int backoff_ms;         /* the next wait after another unreachable start */
	bool imp_cached;                 /* imp_priv and imp_pub are valid */
	CK_OBJECT_HANDLE imp_priv;       /* the import key's private half */
	struct hsm_import_pub imp_pub;
};

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

extern CK_BBOOL p11_true, p11_false;

/*
 * Map a failed CKR to a kw_err, set the detail, and drop the session state
 * when the module says it is gone, so the next request starts again.
 */
int p11_ckr_fail(struct hsm_p11 *p, CK_RV rv, const char *what, const char **reterr_detail);
/* Destroy *h (when the session is up) and set it to CK_INVALID_HANDLE. */
void p11_destroy(struct hsm_p11 *p, CK_OBJECT_HANDLE *h);
/* Fill t in place (it points into itself) for a secret of kind/length labelled label. */
void p11_secret_tmpl_init(struct secret_tmpl *t, const char *label, enum hsm_kind kind,
    size_t length);
/* The direct-mapped label cache slot of label. */
struct cache_ent *p11_cache_slot(struct hsm_p11 *p, const char *label);
/* Forget ce when it is label's (its object was destroyed or replaced). */
void p11_cache_forget(struct cache_ent *ce, const char *label);
/*
 * Run op on the object labelled label: from its cache entry ce when that
 * holds label, else found with lookup (which fills the entry). When a
 * cached handle fails with CKR_KEY_HANDLE_INVALID or CKR_OBJECT_HANDLE_INVALID
 * (destroyed elsewhere), the label is looked up again, once. op's result.
 */
int p11_cached_call(struct hsm_p11 *p, struct cache_ent *ce, const char *label,
    int (*lookup)(struct hsm_p11 *, const char *, struct secret_info *, const char **),
    int (*op)(struct hsm_p11 *, const struct secret_info *, void *, const char **), void *arg,
    const char **reterr_detail);
/*
 * The one object matching tmpl into *ret: KW_ERR_NOT_FOUND with detail
 * none when there is none, KW_ERR_HSM with detail many when there are more.
 */
int p11_find_one(struct hsm_p11 *p, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl, CK_OBJECT_HANDLE *ret,
    const char *none, const char *many, const char **reterr_detail);
/* Every object matching tmpl, at most max handles; KW_ERR_TOO_LARGE when there are more. */
int p11_find_all(struct hsm_p11 *p, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl, CK_OBJECT_HANDLE *hs,
    size_t max, size_t *ret_n, const char **reterr_detail);
/* One attribute into buf[0..max); KW_ERR_NOT_FOUND when absent or longer than max. */
int p11_get_attr(struct hsm_p11 *p, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, void *buf,
    size_t max, size_t *ret_len, const char **reterr_detail);
/*
 * The release of si built in helper memory (hsm_p11_assemble.c): the secret
 * wrapped to the helper's transport key, the JWE assembled with OpenSSL.
 */
/* PKCS11.md 3.2 steps 1-13 for the secret si (token or session object), hsm_p11.c. */
int p11_release_secret(struct hsm_p11 *p, const struct secret_info *si, const uint8_t *n,
    size_t n_len, const uint8_t *e, size_t e_len, const char *kid, char **ret_jwe,
    const char **reterr_detail);
int p11_release_assembled(struct hsm_p11 *p, const struct secret_info *si, const uint8_t *n,
    size_t n_len, const uint8_t *e, size_t e_len, const char *kid, char **ret_jwe,
    const char **reterr_detail);
/* Free the transport key pair (close). */
void p11_assemble_free(struct hsm_p11 *p);
/* Whether any token object carries CKA_LABEL = label. */
int p11_label_taken(struct hsm_p11 *p, const char *label, bool *ret, const char **reterr_detail);

#endif
