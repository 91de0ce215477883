/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_MSG_H
#define HSM_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hsm_proto.h"
#include "kw_err.h"

/*
 * The broker's side of the wire format (hsm_proto.h): typed requests
 * (struct hsm_args) encoded in one place per op, and replies decoded in one
 * place per op into typed results (struct hsm_result). No PKCS#11, no
 * libevent: hsm_client.c and broker/hsm_bridge.c use it, the unit tests and
 * tests/fuzz/hsm/fuzz_hsm_reply.c drive it directly.
 */

/* A typed request. Pointers are borrowed: they need to live only until it is encoded. */
struct hsm_args {
	enum hsm_op op;
	union {
		struct {
			const char *label;
			enum hsm_kind kind;
			size_t length; /* bytes; sent when non-zero (required for "secret") */
			bool if_missing;
		} generate;
		struct {
			const char *label;
			const char *profile; /* HSM_PROFILE_* */
			const uint8_t *n, *e; /* big-endian RSA modulus and exponent */
			size_t n_len, e_len;
			const char *kid;
		} release;
		struct {
			size_t length;
		} random;
		struct {
			bool now_set; /* else the helper's clock */
			int64_t now;
		} token_key_new, seal_key_new;
		struct {
			const char *label;
			const uint8_t *digest; /* HSM_SIGN_DIGEST_LEN bytes */
		} sign;
		struct {
			const uint8_t *digest; /* HSM_SIGN_DIGEST_LEN bytes */
		} audit_sign;
		struct {
			const char *level, *format; /* "info", "json", ... */
		} log;
		struct {
			const char *label;
		} token_key_destroy, destroy;
		struct {
			const char *after; /* NULL: the whole list in one reply, or KW_ERR_TOO_LARGE */
		} key_list;
		struct {
			const char *label;
			enum hsm_kind kind;
			size_t length;    /* as for generate */
			const char *kid;  /* the import key's */
			const char *kek;  /* base64url, as the importer sent it (the helper checks it) */
			const char *value; /* base64url, likewise */
		} import;
	} u;
};

/* One token key entry (token_keys, token_key_new); jwk points into the reply. */
struct hsm_token_key_entry {
	char label[HSM_TOKEN_LABEL_MAX + 1];
	int64_t created;
	char kid[HSM_JWK_KID_LEN + 1];
	const json_t *jwk; /* {"kty":"EC","crv":"P-256","x","y"}; checked by the broker (token.c) */
};

#define HSM_PROBE_PROFILES_MAX 8

/*
 * A typed reply. String and JSON members point into the reply object, which
 * the result holds: they live as long as the result. Random bytes are wiped
 * when it is freed.
 */
struct hsm_result {
	enum hsm_op op;
	json_t *json; /* the whole reply object (also for HSM_OP_NONE: raw calls) */
	union {
		struct {
			const char *token, *module;
			const char *token_uri; /* the token found (RFC 7512), or NULL: none yet,
			                        * or an older helper */
			size_t n_profiles;
			const char *profiles[HSM_PROBE_PROFILES_MAX];
		} probe;
		struct {
			bool created;
			enum hsm_kind kind; /* import: 0 when an older helper did not say */
			size_t length;
		} generate, import;
		struct {
			const char *jwe;
			size_t jwe_len;
		} release;
		struct {
			uint8_t bytes[HSM_RANDOM_MAX];
			size_t len;
		} random;
		struct {
			uint64_t releases, recycles, signs;
			int64_t rss_kb; /* -1: unknown */
		} stats;
		struct {
			size_t n;
			struct hsm_token_key_entry k[HSM_TOKEN_KEYS_MAX]; /* oldest first */
		} token_keys;
		struct hsm_token_key_entry token_key_new;
		struct {
			uint8_t sig[HSM_SIGN_SIG_LEN];
		} sign, audit_sign;
		struct {
			size_t n;
			const char *labels[HSM_KEY_LIST_PAGE]; /* sorted, distinct key labels */
			bool more;
		} key_list;
		struct {
			bool destroyed;
		} destroy;
		struct {
			char kid[HSM_JWK_KID_LEN + 1];
			const json_t *jwk; /* import_key: {"kty":"RSA","n","e"}; audit_key: EC P-256 */
		} import_key, audit_key;
		struct {
			size_t n;
			struct {
				int64_t version;                /* 1..HSM_SEAL_VERSION_MAX */
				uint8_t key[HSM_SEAL_KEY_LEN];  /* wiped with the result */
			} k[HSM_SEAL_KEYS_MAX];             /* oldest first */
		} seal_keys;
		struct {
			int64_t version;
		} seal_key_new;
	} u;
};

/*
 * The request object for a (without "id": the client numbers it).
 * *ret: a new reference. KW_ERR_INVALID_ARG for an unknown op, a NULL
 * string member or a kind without a name; KW_ERR_NOMEM.
 */
int hsm_args_encode(const struct hsm_args *a, json_t **ret) KW_WUR;

/*
 * The envelope of one reply datagram: 0 and *ret_id, *ret_err (0 for an ok
 * reply, else the helper's error, KW_ERR_HSM when it is not a kw_err),
 * *ret_obj (a new reference; also for an error reply, whose "detail" the
 * caller may log). KW_ERR_INVALID_FORMAT / KW_ERR_TOO_LARGE when it is not a
 * reply (not JSON, no "id" in 0..2^32-1, no boolean "ok"): a protocol
 * violation. Nothing is written on failure.
 */
int hsm_reply_parse(const void *buf, size_t len, uint32_t *ret_id, int *ret_err,
    json_t **ret_obj) KW_WUR;

/*
 * Decode the ok reply o to op into a new result (o gains a reference).
 * op HSM_OP_NONE gives a result with only json set. KW_ERR_HSM when a
 * member the OPS table lists is missing or malformed; KW_ERR_NOMEM.
 */
int hsm_result_decode(enum hsm_op op, json_t *o, struct hsm_result **ret) KW_WUR;

/* A deep, independent copy (decoded again from a copy of its JSON): for another thread. */
int hsm_result_copy(const struct hsm_result *res, struct hsm_result **ret) KW_WUR;

/* NULL-safe; wipes. */
void hsm_result_free(struct hsm_result *res);

#endif
