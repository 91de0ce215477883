/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_PROTO_H
#define HSM_PROTO_H

/*
 * The message API between keywarden (the broker) and keywarden-hsm (the
 * helper that alone loads the PKCS#11 module and holds the PIN).
 *
 * Transport: an AF_UNIX SOCK_SEQPACKET socketpair (spawn mode) or a
 * connection accepted by the keywarden-hsm supervisor (socket mode); the
 * serving helper gets its end as fd HSM_PROTO_FD (3) and checks the peer's
 * uid (SO_PEERCRED) before it loads the module. One datagram = one message = one JSON object
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

/*
 * Additions (additive, h8-hsm-admin): the admin plane's key lifecycle
 * (docs/admin.md "Import").
 *
 * Resource labels: new keys are labelled "kw-key/<repo>/<type>/<tag>/v<N>"
 * (the broker builds them; the helper checks only the resource label rule,
 * so the old "<repo>/<type>/<tag>" labels keep working for generate and
 * release). "kw-import/" is reserved like "kw-token/": no resource op
 * accepts it. "destroy" and "import" accept "kw-key/" labels only.
 *
 *  "key_list"   {"after": "<string>", optional} -> {"labels": ["kw-key/...", ...],
 *               "more": true|false}: the CKA_LABEL of every CKO_SECRET_KEY
 *               token object that starts with "kw-key/" and follows the
 *               resource label rule, sorted (bytewise), for crash
 *               reconciliation. A reply is a datagram (HSM_PROTO_MAX), so
 *               at most HSM_KEY_LIST_PAGE labels come back at a time:
 *               without "after" the whole list is returned when it fits and
 *               KW_ERR_TOO_LARGE ("page with after") otherwise; with
 *               "after" (0..HSM_LABEL_MAX bytes, "" = from the start) the
 *               labels sorting after it come back, and "more" says whether
 *               to ask again with the last one. More than HSM_KEY_LIST_MAX
 *               secret objects on the token: KW_ERR_TOO_LARGE.
 *  "destroy"    {"label": "kw-key/..."} -> {"destroyed": true|false}: destroys
 *               the secret token object(s) with that label; false when there
 *               is none (idempotent).
 *  "import_key" {} -> {"kid": "<RFC 7638 SHA-256 thumbprint of jwk>",
 *               "jwk": {"kty":"RSA","n":..,"e":..}}: the import key pair,
 *               both halves labelled HSM_IMPORT_LABEL, RSA-3072 with e=65537,
 *               generated in the token on first use; later calls (also after
 *               a restart) return the same key. Private half: CKA_TOKEN,
 *               CKA_PRIVATE, CKA_SENSITIVE, CKA_EXTRACTABLE=FALSE,
 *               CKA_UNWRAP=TRUE and no other usage,
 *               CKA_ALLOWED_MECHANISMS={CKM_RSA_PKCS_OAEP}; public half:
 *               CKA_ENCRYPT, CKA_WRAP=TRUE, CKA_VERIFY=FALSE.
 *  "import"     {"label": "kw-key/...", "kind": "aes-128"|"aes-256"|"secret",
 *               "length": n (as for "generate"), "kid": "<import key kid, 43 chars>",
 *               "kek": "<b64url, exactly HSM_IMPORT_KEK_LEN bytes: RSA-OAEP
 *               (SHA-1, MGF1-SHA-1, no label) of a 32-byte AES KEK under the
 *               import key>", "value": "<b64url AES key wrap with padding
 *               (RFC 5649) of the value under the KEK>"} -> {"created": true}.
 *               The value is 16/32 bytes for aes-128/aes-256; for a secret
 *               it is n bytes, followed by PKCS#7 padding to a multiple of 16
 *               when n % 16 != 0 (the importer pads; the helper can check
 *               only the unwrapped length, so a wrong padding byte harms
 *               only the importer's own release). The stored object is the
 *               one "generate" makes (same template and CKA_ID), so
 *               "release" treats both alike. (SoftHSM 2.6.1 leaves
 *               CKA_VALUE_LEN at 0 on unwrapped keys: the helper checks the
 *               exact length inside the module and release takes the layout
 *               from CKA_ID; docs/hsm.md.) Errors: KW_ERR_MISMATCH for
 *               another kid (or no import key yet), KW_ERR_EXISTS when any
 *               token object has the label, KW_ERR_INVALID_FORMAT when an
 *               unwrap fails ("detail": the CKR name) or the unwrapped length
 *               is not what kind/length imply; nothing is left behind on
 *               failure, and the session KEK is always destroyed.
 */
#define HSM_KEY_LABEL_PREFIX "kw-key/"
#define HSM_IMPORT_LABEL_PREFIX "kw-import/"
#define HSM_IMPORT_LABEL "kw-import/1"
#define HSM_IMPORT_RSA_BITS 3072
#define HSM_IMPORT_KEK_LEN (HSM_IMPORT_RSA_BITS / 8)
#define HSM_IMPORT_KID_LEN 43
/* KWP of the largest padded secret: HSM_SECRET_MAX (a multiple of 16) + 8 */
#define HSM_IMPORT_VALUE_MAX (HSM_SECRET_MAX + 8)
#define HSM_KEY_LIST_MAX 100000
#define HSM_KEY_LIST_PAGE 256 /* 256 * (HSM_LABEL_MAX + 3) fits in HSM_PROTO_MAX */

#endif
