/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_P11_H
#define HSM_P11_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsm_req.h"
#include "hsm_tokkey.h"
#include "kw_err.h"

/*
 * The PKCS#11 side of keywarden-hsm (helper process only). One module,
 * one token selected by label, one R/W session logged in as USER.
 * Every operation that can fail takes reterr_detail: on failure it is set to
 * a string that lives until the next call into this layer (a CKR_* name or
 * a short reason, never secret material). This layer logs at debug only;
 * the helper's main loop decides what an operator sees.
 */
struct hsm_p11;

/*
 * dlopen the module and C_GetFunctionList; nothing is initialised yet (every
 * operation calls hsm_p11_start() first). The PIN file path is kept (the PIN
 * itself is not) so that a recycle can log in again. token_label is a label
 * (the first token with it is used) or a token URI without module-path and
 * pin-source (hsm_token_cfg's token; it must fit exactly one token).
 */
int hsm_p11_open(const char *module_path, const char *token_label, const char *pin_file,
    struct hsm_p11 **ret, const char **reterr_detail) KW_WUR;

/*
 * C_Initialize(CKF_OS_LOCKING_OK), find the slot by token label, open a
 * session, C_Login(USER) with the PIN read from the file and wiped right
 * after. No-op when already started.
 */
int hsm_p11_start(struct hsm_p11 *p, const char **reterr_detail) KW_WUR;
/* C_Finalize (frees every session object, see PKCS11.md 6.1); NULL-safe. */
void hsm_p11_stop(struct hsm_p11 *p);
/* hsm_p11_stop + C_Finalize + C_Initialize/login again. */
int hsm_p11_recycle(struct hsm_p11 *p, const char **reterr_detail) KW_WUR;
/* Stop, dlclose, free; NULL-safe. */
void hsm_p11_close(struct hsm_p11 *p);
bool hsm_p11_ready(const struct hsm_p11 *p);

/*
 * Release assembly (docs/hsm.md "Release through a network HSM"): false
 * (the default) builds the JWE inside the token (PKCS11.md 3.2); true wraps
 * the secret to a transport key of the helper and builds the same JWE in
 * helper memory, for modules that cannot forward CKM_AES_CBC and
 * CKM_AES_ECB_ENCRYPT_DATA (p11-kit's remote module 0.24).
 */
void hsm_p11_set_helper_assembly(struct hsm_p11 *p, bool on);
bool hsm_p11_helper_assembly(const struct hsm_p11 *p);

/*
 * Reconnect back-off: after a start that failed because the token could
 * not be reached (no slot with a token at all, CKR_DEVICE_ERROR,
 * CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT), further starts fail at once
 * with KW_ERR_HSM until HSM_P11_BACKOFF_MIN_MS have passed, doubling up to
 * HSM_P11_BACKOFF_MAX_MS; a successful start resets it.
 */
#define HSM_P11_BACKOFF_MIN_MS 100U
#define HSM_P11_BACKOFF_MAX_MS 1000U

/*
 * The PKCS#11 URI of the token found by the last start (token, manufacturer,
 * model, serial; hsm_uri_format_token), or NULL before one was found. Valid
 * until the next start or close.
 */
const char *hsm_p11_token_uri(const struct hsm_p11 *p);

/* "<manufacturer> <library description> <major>.<minor>" (static until close). */
const char *hsm_p11_module_desc(const struct hsm_p11 *p);

/*
 * Self test: really perform the release profile with throw-away session
 * secrets (an AES-256 key and a padded 20-byte generic secret) to a
 * throw-away OpenSSL RSA key and check that the JWE decrypts to the known
 * values. 0 when the profile works.
 */
int hsm_p11_selftest(struct hsm_p11 *p, const char **reterr_detail) KW_WUR;

/*
 * Generate a token secret with CKA_LABEL = label (hsm_proto.h "generate").
 * KW_ERR_EXISTS when present and !if_missing; KW_ERR_MISMATCH when present
 * with another kind or length. On success *ret_created, *ret_kind, *ret_len.
 */
int hsm_p11_generate(struct hsm_p11 *p, const char *label, enum hsm_kind kind, size_t length,
    bool if_missing, bool *ret_created, enum hsm_kind *ret_kind, size_t *ret_len,
    const char **reterr_detail) KW_WUR;

/*
 * Release the token secret labelled label as a compact JWE
 * (RSA-OAEP + A256CBC-HS512, PKCS11.md 3.2) to the RSA key (n, e).
 * KW_ERR_NOT_FOUND for an unknown label. *ret_jwe: free().
 */
int hsm_p11_release(struct hsm_p11 *p, const char *label, const uint8_t *n, size_t n_len,
    const uint8_t *e, size_t e_len, const char *kid, char **ret_jwe,
    const char **reterr_detail) KW_WUR;

/*
 * Token-signing keys (hsm_proto.h "token_keys" ...). hsm_p11_token_keys
 * lists at most max keys sorted by created, oldest first (KW_ERR_TOO_LARGE
 * when there are more).
 */
int hsm_p11_token_keys(struct hsm_p11 *p, struct hsm_token_key *out, size_t max, size_t *ret_n,
    const char **reterr_detail) KW_WUR;
/*
 * After a listing (token_keys, token_key_new, token_key_destroy): how many
 * private keys with the token prefix were skipped as not ours (wrong curve,
 * no public half, ...), with the last one's label and reason in *ret_label
 * and *ret_why (valid until the next call into this layer) when any.
 */
size_t hsm_p11_token_keys_skipped(const struct hsm_p11 *p, const char **ret_label,
    const char **ret_why);
/* New P-256 key pair labelled kw-token/<now> (or now+1, ...); *ret: its public half. */
int hsm_p11_token_key_new(struct hsm_p11 *p, int64_t now, struct hsm_token_key *ret,
    const char **reterr_detail) KW_WUR;
/* CKM_ECDSA over digest with the token key label; sig: R||S. KW_ERR_NOT_FOUND if unknown. */
int hsm_p11_sign(struct hsm_p11 *p, const char *label, const uint8_t digest[HSM_SIGN_DIGEST_LEN],
    uint8_t sig[HSM_SIGN_SIG_LEN], const char **reterr_detail) KW_WUR;
/* Destroy both halves; KW_ERR_DENIED for the newest key, KW_ERR_NOT_FOUND if unknown. */
int hsm_p11_token_key_destroy(struct hsm_p11 *p, const char *label, const char **reterr_detail) KW_WUR;
/*
 * The audit checkpoint key (hsm_proto.h "audit_key"): its public half in
 * *ret (label HSM_AUDIT_LABEL, created 0), generated on first use
 * (*ret_generated). An existing object with the label that is not a P-256
 * pair, or whose private half is extractable or not sensitive, is KW_ERR_HSM.
 */
int hsm_p11_audit_key(struct hsm_p11 *p, struct hsm_token_key *ret, bool *ret_generated,
    const char **reterr_detail) KW_WUR;
/* CKM_ECDSA over digest with the audit key; sig: R||S. KW_ERR_NOT_FOUND before audit_key. */
int hsm_p11_audit_sign(struct hsm_p11 *p, const uint8_t digest[HSM_SIGN_DIGEST_LEN],
    uint8_t sig[HSM_SIGN_SIG_LEN], const char **reterr_detail) KW_WUR;

/*
 * Admin-plane key lifecycle (hsm_proto.h "key_list" ...).
 *
 * hsm_p11_key_list: the sorted, distinct labels of the kw-key/ secret token
 * objects that sort after `after` (NULL or "": from the start); at most max
 * into out (*ret_more: there are more). KW_ERR_TOO_LARGE when the token holds
 * more than HSM_KEY_LIST_MAX secret objects.
 */
int hsm_p11_key_list(struct hsm_p11 *p, const char *after, char (*out)[HSM_LABEL_MAX + 1],
    size_t max, size_t *ret_n, bool *ret_more, const char **reterr_detail) KW_WUR;
/* Destroy every secret token object labelled label (a kw-key/ label); *ret_destroyed: any. */
int hsm_p11_destroy(struct hsm_p11 *p, const char *label, bool *ret_destroyed,
    const char **reterr_detail) KW_WUR;

/* The import key's public numbers and kid; generated in the token on first use. */
struct hsm_import_pub {
	uint8_t n[HSM_IMPORT_KEK_LEN];
	uint8_t e[HSM_RSA_E_MAX];
	size_t e_len;
	char kid[HSM_IMPORT_KID_LEN + 1];
};
/* *ret_generated: the key pair was made by this call (the first use). */
int hsm_p11_import_key(struct hsm_p11 *p, struct hsm_import_pub *ret, bool *ret_generated,
    const char **reterr_detail) KW_WUR;

/*
 * Unwrap kek (RSA-OAEP SHA-1 under the import key) into a session AES-256
 * KEK, then value (AES-KWP under the KEK) into a token secret labelled
 * label with the "generate" template (hsm_proto.h "import"). The session
 * KEK is destroyed in every path; nothing is left behind on failure.
 */
int hsm_p11_import(struct hsm_p11 *p, const char *label, enum hsm_kind kind, size_t length,
    const char *kid, const uint8_t *kek, size_t kek_len, const uint8_t *value, size_t value_len,
    const char **reterr_detail) KW_WUR;

/* A seal key's version and its derived value (hsm_proto.h "seal_keys"). */
struct hsm_seal_key {
	int64_t version;
	uint8_t key[HSM_SEAL_KEY_LEN];
};
/*
 * The newest HSM_SEAL_KEYS_MAX seal keys, oldest first, into out (that many
 * entries); when the token has none, kw-seal/<now> is generated first
 * (*ret_created). Wipe out after use.
 */
int hsm_p11_seal_keys(struct hsm_p11 *p, int64_t now, struct hsm_seal_key *out, size_t *ret_n,
    bool *ret_created, const char **reterr_detail) KW_WUR;
/*
 * A new seal key kw-seal/<v>, v = now or one more than the newest version;
 * versions older than the newest HSM_SEAL_KEYS_MAX are destroyed
 * (*ret_destroyed objects).
 */
int hsm_p11_seal_key_new(struct hsm_p11 *p, int64_t now, int64_t *ret_version,
    size_t *ret_destroyed, const char **reterr_detail) KW_WUR;

/* C_GenerateRandom into out[0..len). */
int hsm_p11_random(struct hsm_p11 *p, uint8_t *out, size_t len, const char **reterr_detail) KW_WUR;

/*
 * The HSM part of the cryptographic floor (docs/performance.md, kwhsm-bench
 * --floor): CPU milliseconds per contained release (the helper's own
 * PKCS11.md 3.2 sequence, a 32-byte AES key to an RSA-3072 key) and per ECDSA
 * P-256 signature (C_SignInit + C_Sign of a SHA-256 digest), rounds of each
 * in this process. Session objects only: nothing stays on the token.
 */
struct hsm_floor {
	double release_ms, sign_ms;
};
int hsm_p11_floor(struct hsm_p11 *p, unsigned int rounds, struct hsm_floor *ret,
    const char **reterr_detail) KW_WUR;

#endif
