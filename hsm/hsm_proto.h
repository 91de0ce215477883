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

/*
 * Additions (additive, h5-hsm-sign): the EAR token-signing keys (JWS ES256).
 * The helper only provides the primitives; the broker decides which key
 * signs (normally the newest) and which public keys it publishes.
 *
 * A token key is an EC P-256 key pair of token objects, both labelled
 * "kw-token/<n>" (n: unix seconds, decimal without leading zeros, at most
 * 12 digits) and sharing a random 16-byte CKA_ID. That label prefix is
 * reserved: "generate"/"release" labels must not start with it, and "sign"/
 * "token_key_destroy" accept nothing else. A key entry is
 *   {"label": "kw-token/<n>", "created": <n>, "kid": "<RFC 7638 SHA-256
 *    thumbprint of jwk>", "jwk": {"kty":"EC","crv":"P-256","x":..,"y":..}}
 *
 *  "token_keys"        {} -> {"keys": [<entry>, ...]} sorted by created,
 *                      oldest first (at most HSM_TOKEN_KEYS_MAX; more is
 *                      KW_ERR_TOO_LARGE). Private keys with the prefix but a
 *                      malformed label, not on P-256 or without a public half
 *                      (same label and CKA_ID) are not ours and are skipped.
 *  "token_key_new"     {"now": <0..HSM_TOKEN_TIME_MAX>, optional, default
 *                      time(NULL)} -> <entry> (the new key). The label is
 *                      "kw-token/<now>", or now+1, now+2, ... when taken.
 *                      KW_ERR_TOO_LARGE when HSM_TOKEN_KEYS_MAX keys exist.
 *                      Private half: CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE,
 *                      CKA_EXTRACTABLE=FALSE, CKA_SIGN=TRUE and no other usage;
 *                      public half: CKA_TOKEN, CKA_PRIVATE=FALSE, CKA_VERIFY only.
 *  "sign"              {"label": "kw-token/<n>", "digest": "<b64url, exactly 32
 *                      bytes: SHA-256 of the JWS signing input>"}
 *                      -> {"sig": "<b64url, exactly 64 bytes R||S>"} (CKM_ECDSA,
 *                      i.e. the JWS ES256 signature value). KW_ERR_NOT_FOUND
 *                      for an unknown label.
 *  "token_key_destroy" {"label": "kw-token/<n>"} -> {} destroys both halves.
 *                      KW_ERR_DENIED for the newest key (it may be signing),
 *                      KW_ERR_NOT_FOUND for an unknown label.
 *  "stats" also reports "signs": n.
 */
#define HSM_TOKEN_LABEL_PREFIX "kw-token/"
#define HSM_TOKEN_LABEL_MAX (9 + 12)
#define HSM_TOKEN_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z */
#define HSM_TOKEN_KEYS_MAX 64
#define HSM_SIGN_DIGEST_LEN 32
#define HSM_SIGN_SIG_LEN 64

#endif
