/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_REQ_H
#define HSM_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsm_proto.h"
#include "kw_err.h"
#include "kw_log.h"

/*
 * Strict parser for one helper request datagram (hsm_proto.h). Used by
 * keywarden-hsm only; kept separate from the PKCS#11 code so it can be
 * unit-tested and fuzzed without a token. The op enum, the kinds and the
 * label rules are the protocol's (hsm_proto.h).
 */
#define HSM_RSA_MIN_BITS 2048
#define HSM_RSA_MAX_BITS 8192
#define HSM_RSA_E_MAX 8 /* bytes of public exponent accepted */

struct hsm_req {
	uint32_t id;
	enum hsm_op op;
	char label[HSM_LABEL_MAX + 1];    /* generate, release, destroy, import; sign,
	                                   * token_key_destroy (token label) */
	enum hsm_kind kind;               /* generate, import */
	size_t length;                    /* generate, import: value bytes; random: bytes */
	bool if_missing;                  /* generate */
	uint8_t n[HSM_RSA_MAX_BITS / 8];  /* release: big-endian modulus, no leading zero */
	size_t n_len;
	uint8_t e[HSM_RSA_E_MAX];         /* release: big-endian exponent, odd, >= 3 */
	size_t e_len;
	char kid[HSM_KID_MAX + 1];        /* release: any UTF-8 without NUL */
	bool now_set;                     /* token_key_new, seal_key_new: "now" was given */
	int64_t now;                      /* token_key_new: 0..HSM_TOKEN_TIME_MAX;
	                                   * seal_key_new: 1..HSM_SEAL_VERSION_MAX */
	uint8_t digest[HSM_SIGN_DIGEST_LEN]; /* sign, audit_sign */
	bool after_set;                   /* key_list: "after" was given */
	char after[HSM_LABEL_MAX + 1];    /* key_list: any string without NUL */
	char import_kid[HSM_IMPORT_KID_LEN + 1]; /* import: base64url of 32 bytes */
	uint8_t kek[HSM_IMPORT_KEK_LEN];  /* import: exactly this long */
	uint8_t value[HSM_IMPORT_VALUE_MAX]; /* import: KWP output, hsm_import_plain_len() + 8 bytes */
	size_t value_len;
	enum kw_log_level log_level;      /* log */
	enum kw_log_format log_format;    /* log: text, json or journal (never auto) */
};

/*
 * Parse buf[0..len). Returns 0 and fills *ret, or KW_ERR_INVALID_FORMAT /
 * KW_ERR_TOO_LARGE / KW_ERR_UNSUPPORTED (unknown op or profile). On failure
 * *ret_id is set to the request's "id" when one could be read, else 0, so
 * that the error reply can still be matched; *ret is then unspecified.
 */
int hsm_req_parse(const void *buf, size_t len, struct hsm_req *ret, uint32_t *ret_id) KW_WUR;

/*
 * Bytes "import" expects the value to unwrap to: 16/32 for AES, length
 * rounded up to a multiple of 16 for a secret (PKCS#7 padding when not
 * already one). 0 for a bad kind or length.
 */
size_t hsm_import_plain_len(enum hsm_kind kind, size_t length);

#endif
