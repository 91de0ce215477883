/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_JSON_H
#define KW_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"

/*
 * Install jansson allocation functions that wipe on free (JSON may carry
 * wrapped keys). Call once at start, before any other jansson call.
 */
void kw_json_init(void);

/*
 * Parse untrusted JSON: rejects input longer than max (KW_ERR_TOO_LARGE),
 * duplicate keys, NUL bytes in strings, nesting deeper than 32, and anything
 * but an object at the top (KW_ERR_INVALID_FORMAT). *ret is a new reference.
 */
int kw_json_parse(const void *buf, size_t len, size_t max, json_t **ret) KW_WUR;

/*
 * Allocation failures inside jansson (kw_json_init's allocator records them
 * per thread; jansson itself does not always report them). Reset before a
 * sequence of jansson calls whose result must be exact, check after it.
 */
void kw_json_oom_reset(void);
bool kw_json_oom(void);
/* json_dumps, but NULL when any allocation failed while dumping (free with free()). */
char *kw_json_dumps(const json_t *v, size_t flags);

/*
 * Set member key of obj to the base64url (unpadded) of p[0..n): 0, or
 * KW_ERR_NOMEM. The temporary text is wiped (the JSON string is the
 * caller's to wipe: the kw_json allocator does when it frees).
 */
int kw_json_set_b64url(json_t *obj, const char *key, const void *p, size_t n) KW_WUR;

/*
 * RFC 8785 (JCS) canonical serialization of v into a new NUL-terminated
 * string (free()). Object members sorted by UTF-16 code units, strings
 * escaped as JCS requires, numbers in ECMAScript shortest form (integers
 * beyond 2^53 and non-finite reals are KW_ERR_INVALID_FORMAT).
 */
int kw_jcs_serialize(const json_t *v, char **ret, size_t *ret_len) KW_WUR;

/* Field getters for objects. They return KW_ERR_INVALID_FORMAT on a wrong type
 * and KW_ERR_NOT_FOUND when absent. *ret points into obj (no copy). */
int kw_json_get_str(const json_t *obj, const char *key, const char **ret, size_t *ret_len) KW_WUR;
int kw_json_get_int(const json_t *obj, const char *key, int64_t *ret) KW_WUR;
int kw_json_get_bool(const json_t *obj, const char *key, int *ret) KW_WUR;
/*
 * The one "only these members" check. kw_json_unknown_key: the first member
 * of the object obj not in allowed (NULL-terminated), or NULL when there is
 * none (the pointer is into obj; escape it before logging or echoing).
 * kw_json_check_keys: 0, KW_ERR_INVALID_FORMAT for an unknown member,
 * KW_ERR_INVALID_ARG when obj is not an object.
 */
const char *kw_json_unknown_key(const json_t *obj, const char *const *allowed);
int kw_json_check_keys(const json_t *obj, const char *const *allowed) KW_WUR;

/*
 * Serialize v compactly with sensitive members (a fixed deny-list:
 * "d", "p", "q", "dp", "dq", "qi", "k", "key", "value", "pin", "secret",
 * "token", "nonce", "encrypted_key", "ciphertext", "tee-evidence", "report")
 * replaced by "<redacted>". For debug logging only. Returns a new string or NULL.
 */
char *kw_json_dump_redacted(const json_t *v);

#endif
