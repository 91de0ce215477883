/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_PROTO_H
#define HSM_PROTO_H

/*
 * The message API between keywarden (the broker) and keywarden-hsm (the
 * helper that alone loads the PKCS#11 module and holds the PIN).
 *
 * Transport: an AF_UNIX SOCK_SEQPACKET socketpair; the helper gets its end
 * as fd HSM_PROTO_FD (3). One datagram = one message = one JSON object
 * (UTF-8, no trailing NUL), at most HSM_PROTO_MAX bytes. Requests are
 * pipelined: the broker may send many before reading replies; replies carry
 * the request's "id" and may be matched in any order (the helper currently
 * answers in order).
 *
 * Request:  {"id": <uint32>, "op": "<op>", ...op fields}
 * Reply ok: {"id": <uint32>, "ok": true, ...result fields}
 * Reply err:{"id": <uint32>, "ok": false, "error": <enum kw_err>, "detail": "<CKR_* name or text>"}
 *   "detail" never holds secret material; the broker logs it, never sends it to clients.
 *
 * Ops:
 *  "probe"    {} -> {"token": "<label>", "profiles": ["RSA-OAEP+A256CBC-HS512", ...],
 *                    "module": "<manufacturer/library description>"}
 *             Profiles are found at helper start by really performing them with
 *             throw-away session objects (not C_GetMechanismInfo).
 *  "generate" {"label": "<repo>/<type>/<tag>", "kind": "aes-128"|"aes-256"|"secret",
 *              "length": <bytes, for "secret": 1..4096>, "if_missing": true|false}
 *             -> {"created": true|false, "kind": "...", "length": n}
 *             Token object, CKA_SENSITIVE, CKA_EXTRACTABLE (wrap only), no other usage.
 *             A generic secret that is not a multiple of 16 bytes is stored with
 *             PKCS#7 padding (PKCS11.md 3.3) and released without the extra block.
 *             KW_ERR_EXISTS when present and if_missing is false.
 *  "release"  {"label": "...", "profile": "RSA-OAEP+A256CBC-HS512",
 *              "n": "<b64url modulus>", "e": "<b64url exponent>", "kid": "<string for the JWE header>"}
 *             -> {"jwe": "<compact JWE>"}; KW_ERR_NOT_FOUND for an unknown label.
 *  "random"   {"length": 1..1024} -> {"bytes": "<b64url>"}
 *  "stats"    {} -> {"releases": n, "recycles": n, "rss_kb": n}
 */

#define HSM_PROTO_FD 3
#define HSM_PROTO_MAX (64 * 1024)
#define HSM_PROFILE_RSA_OAEP_A256CBC_HS512 "RSA-OAEP+A256CBC-HS512"
#define HSM_LABEL_MAX 200
#define HSM_SECRET_MAX 4096
#define HSM_RANDOM_MAX 1024

/*
 * Additions (additive, h2-hsm):
 *  - "kid" of "release" is at most HSM_KID_MAX bytes.
 *  - A request that cannot be parsed far enough to read its "id" gets an
 *    error reply with "id": 0; request ids are therefore 1..2^32-1.
 *  - Malformed requests (bad JSON, unknown or missing fields, wrong types,
 *    bad label, modulus outside 2048..8192 bits) get error
 *    KW_ERR_INVALID_FORMAT (KW_ERR_UNSUPPORTED for an unknown op, kind or
 *    profile, KW_ERR_TOO_LARGE above HSM_PROTO_MAX); the helper keeps running.
 *  - "generate" of an existing label with if_missing=true but another kind
 *    or length fails with KW_ERR_MISMATCH. For "aes-128"/"aes-256",
 *    "length" may be omitted (when present it must be 16/32).
 *  - Generic secrets carry CKA_ID = "kw1:len=<unpadded length>"; the value is
 *    PKCS#7-padded exactly when that length is not a multiple of 16.
 */
#define HSM_KID_MAX 256

#endif
