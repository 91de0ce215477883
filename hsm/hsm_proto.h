/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_PROTO_H
#define HSM_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"

/*
 * The message protocol between keywarden (the broker, hsm_client.c) and
 * keywarden-hsm (the helper that alone loads the PKCS#11 module and holds
 * the PIN). Both sides share this header and hsm_proto.c: the op enum, the
 * op table (name, deadline class, the helper's per-op rules) and the label
 * and kind rules. docs/hsm.md explains the why of each op.
 *
 * TRANSPORT
 *   An AF_UNIX SOCK_SEQPACKET socketpair (spawn mode) or a connection
 *   accepted by the keywarden-hsm supervisor (socket mode); the serving
 *   helper has its end on fd HSM_PROTO_FD and checks the peer's uid
 *   (SO_PEERCRED) before it loads the module. One datagram = one message =
 *   one JSON object (UTF-8, no trailing NUL), at most HSM_PROTO_MAX bytes
 *   (a larger request is answered KW_ERR_TOO_LARGE; a larger reply makes
 *   the broker restart the helper). Requests are pipelined: the broker may
 *   send many before it reads a reply; replies carry the request's "id" and
 *   may be matched in any order (the helper answers in order).
 *
 * ENVELOPE
 *   request:   {"id": 1..2^32-1, "op": "<op>", <request members>}
 *   reply ok:  {"id": <id>, "ok": true, <reply members>}
 *   reply err: {"id": <id>, "ok": false, "error": <enum kw_err, < 0>,
 *               "detail": "<CKR_* name or short text>"}
 *   A request that cannot be parsed far enough to read its "id" is answered
 *   with "id": 0. "detail" never holds secret material; the broker logs it
 *   at debug and never sends it to a client. Requests are parsed strictly
 *   (hsm_req.c): unknown or missing members and wrong types are
 *   KW_ERR_INVALID_FORMAT, an unknown op, kind or profile KW_ERR_UNSUPPORTED;
 *   the helper keeps running. The broker decodes replies in one place per op
 *   (hsm_msg.c) and ignores reply members it does not know, so members may
 *   be added to replies; a reply lacking a member listed below fails the
 *   call with KW_ERR_HSM.
 *
 * LABELS AND KINDS (checked by hsm_label_valid & co. below)
 *   resource label  1..HSM_LABEL_MAX bytes of [A-Za-z0-9._/-], no "..", not
 *                   starting with a reserved prefix: "kw-token/", "kw-import/",
 *                   "kw-audit/", "kw-seal/".
 *                   New keys are "kw-key/<repo>/<type>/<tag>/v<N>" (the broker
 *                   builds them); older "<repo>/<type>/<tag>" labels still work.
 *   key label       "kw-key/" + at least one byte, and a resource label.
 *   token label     "kw-token/<n>": n in 0..999999999999, decimal, no leading
 *                   zero (unix seconds of its creation).
 *   kind            "aes-128" (16 bytes), "aes-256" (32), "secret" (1..HSM_SECRET_MAX
 *                   bytes; stored PKCS#7-padded to a multiple of 16 when it is
 *                   not one, CKA_ID "kw1:len=<unpadded length>", docs/hsm.md).
 *   token key entry {"label": <token label>, "created": <n>, "kid": <RFC 7638
 *                   SHA-256 thumbprint of jwk>, "jwk": {"kty":"EC","crv":"P-256",
 *                   "x","y"}}: an EC P-256 key pair of token objects sharing the
 *                   label and a random 16-byte CKA_ID.
 *
 * OPS
 *   Class: the broker's deadline (hsm_client_config): "call" = call_timeout_ms
 *   (the workload path), "admin" = admin_timeout_ms. Rules of the helper
 *   (HSM_OPF_*): "selftest" = refused (KW_ERR_HSM) while the release
 *   profile's self test has not passed (the helper retries it first);
 *   "recycle" = counts toward --recycle-after. "?" marks an optional member.
 *
 *   probe              call
 *     request  -
 *     reply    token: string, profiles: [string] (those whose self test
 *              passed; retried on every probe until it passes), module: string
 *   generate           admin
 *     request  label: resource label, kind, length?: bytes (required for
 *              "secret"; 16/32 when given for AES), if_missing: bool
 *     reply    created: bool, kind, length
 *     errors   EXISTS (present and !if_missing), MISMATCH (present with
 *              another kind or length)
 *   release            call, selftest, recycle
 *     request  label: resource label, profile: "RSA-OAEP+A256CBC-HS512",
 *              n, e: b64url big-endian, no leading zero (2048..8192-bit odd
 *              modulus; odd exponent >= 3, <= 8 bytes), kid: 0..HSM_KID_MAX
 *              bytes for the JWE header
 *     reply    jwe: compact JWE of the stored value to (n, e)
 *     errors   NOT_FOUND (no such label)
 *   random             call
 *     request  length: 1..HSM_RANDOM_MAX
 *     reply    bytes: b64url of length random bytes
 *   stats              call
 *     request  -
 *     reply    releases, recycles, signs: counts since the helper started,
 *              rss_kb: resident set (-1 when unknown)
 *   token_keys         call
 *     request  -
 *     reply    keys: [token key entry] oldest first, at most HSM_TOKEN_KEYS_MAX.
 *              EC private keys with the prefix but a malformed label, not on
 *              P-256, or without their public half are not ours: skipped.
 *     errors   TOO_LARGE (more keys than HSM_TOKEN_KEYS_MAX)
 *   token_key_new      admin
 *     request  now?: 0..HSM_TOKEN_TIME_MAX (default: the helper's clock)
 *     reply    the new key's entry members (label, created, kid, jwk); the
 *              label is "kw-token/<now>", or now+1, ... when taken
 *     errors   TOO_LARGE (HSM_TOKEN_KEYS_MAX keys exist)
 *   sign               call
 *     request  label: token label, digest: b64url of exactly
 *              HSM_SIGN_DIGEST_LEN bytes (SHA-256 of the JWS signing input)
 *     reply    sig: b64url of exactly HSM_SIGN_SIG_LEN bytes R||S (CKM_ECDSA:
 *              the JWS ES256 signature value)
 *     errors   NOT_FOUND (no such token key)
 *   token_key_destroy  admin
 *     request  label: token label
 *     reply    -   (both halves destroyed)
 *     errors   DENIED (the newest key: it may be signing), NOT_FOUND
 *   key_list           admin
 *     request  after?: 0..HSM_LABEL_MAX bytes ("" = from the start)
 *     reply    labels: [key label] sorted bytewise, distinct, at most
 *              HSM_KEY_LIST_PAGE (those after "after" when given); more: bool
 *              (ask again with the last label)
 *     errors   TOO_LARGE (without "after": more than one page; more than
 *              HSM_KEY_LIST_MAX secret objects on the token)
 *   destroy            admin
 *     request  label: key label
 *     reply    destroyed: bool (false when there was none: idempotent)
 *   import_key         admin
 *     request  -
 *     reply    kid: RFC 7638 thumbprint of jwk, jwk: {"kty":"RSA","n","e"}:
 *              the import key (RSA-3072, e=65537, both halves labelled
 *              HSM_IMPORT_LABEL), generated in the token on first use
 *   import             admin, recycle
 *     request  label: key label, kind, length? (as for generate), kid: the
 *              import key's kid (HSM_IMPORT_KID_LEN chars), kek: b64url of
 *              exactly HSM_IMPORT_KEK_LEN bytes (RSA-OAEP SHA-1 of a 32-byte
 *              AES KEK under the import key), value: b64url AES-KWP (RFC 5649)
 *              under the KEK of the value, PKCS#7-padded for a secret whose
 *              length is not a multiple of 16
 *     reply    created: true, kind, length (kind and length since this
 *              version of the table: a broker must not require them)
 *     errors   MISMATCH (another kid, or no import key yet), EXISTS (any token
 *              object has the label), INVALID_FORMAT (an unwrap fails, "detail":
 *              the CKR name, or the unwrapped length is not what kind/length
 *              imply); nothing is left behind, the session KEK is destroyed
 *   audit_key          admin
 *     request  -
 *     reply    kid: RFC 7638 thumbprint of jwk, jwk: {"kty":"EC","crv":"P-256",
 *              "x","y"}: the audit checkpoint key (an EC P-256 pair labelled
 *              HSM_AUDIT_LABEL, private half sensitive, not extractable, sign
 *              only), generated in the token on first use (docs/audit.md)
 *   audit_sign         call
 *     request  digest: b64url of exactly HSM_SIGN_DIGEST_LEN bytes (SHA-256 of
 *              a checkpoint's note text)
 *     reply    sig: b64url of exactly HSM_SIGN_SIG_LEN bytes R||S (CKM_ECDSA)
 *              by the audit key; the token keys never sign checkpoints and
 *              the audit key never signs tokens (sign takes token labels only)
 *     errors   NOT_FOUND (no audit key yet: audit_key creates it)
 *   seal_keys          call
 *     request  -
 *     reply    keys: [{"version": n, "key": b64url of exactly HSM_SEAL_KEY_LEN
 *              bytes}] oldest first, the newest HSM_SEAL_KEYS_MAX versions.
 *              A seal key is a token generic secret labelled "kw-seal/<n>"
 *              (n: unix seconds of its creation, 1..HSM_SEAL_VERSION_MAX),
 *              sensitive, never extractable, CKA_SIGN only; "key" is
 *              HMAC-SHA-256 computed inside the token (CKM_SHA256_HMAC) over
 *              HSM_SEAL_DERIVE_LABEL, so every helper on the same token
 *              returns the same bytes and the seal key itself never leaves
 *              it. When the token has none, "kw-seal/<now>" is generated
 *              first. Two objects with one label (two replicas creating the
 *              first key at once): the bytewise smaller derived value wins,
 *              on every replica alike. The broker seals challenges and DPoP
 *              nonces with keys derived from these (docs/ha.md "Shared keys").
 *   seal_key_new       admin
 *     request  now?: 1..HSM_SEAL_VERSION_MAX (default: the helper's clock)
 *     reply    version: the new key's n ("kw-seal/<now>", or now+1, ... when
 *              taken); seal keys older than the newest HSM_SEAL_KEYS_MAX are
 *              destroyed
 *   log                call
 *     request  level: "error"|"warn"|"info"|"debug", format: "text"|"json"|
 *              "journal" (the broker's, after its SIGHUP: a spawned helper
 *              shares its stderr)
 *     reply    -   (the helper logs with them from now on; it does not touch
 *              the token)
 *
 *   Any op may also fail with HSM (the module failed: "detail" is the CKR
 *   name), NOMEM, INVALID_FORMAT, UNSUPPORTED or TOO_LARGE (malformed
 *   request), and, seen by the broker only, TIMEOUT and UNAVAILABLE
 *   (hsm_client.h).
 */

#define HSM_PROTO_FD 3
#define HSM_PROTO_MAX (64 * 1024)
#define HSM_PROFILE_RSA_OAEP_A256CBC_HS512 "RSA-OAEP+A256CBC-HS512"
#define HSM_LABEL_MAX 200
#define HSM_SECRET_MAX 4096
#define HSM_RANDOM_MAX 1024
#define HSM_KID_MAX 256

#define HSM_TOKEN_LABEL_PREFIX "kw-token/"
#define HSM_TOKEN_LABEL_MAX (9 + 12)
#define HSM_TOKEN_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z */
#define HSM_TOKEN_KEYS_MAX 64
#define HSM_SIGN_DIGEST_LEN 32
#define HSM_SIGN_SIG_LEN 64
#define HSM_JWK_KID_LEN 43 /* base64url of a SHA-256 thumbprint */

#define HSM_KEY_LABEL_PREFIX "kw-key/"
#define HSM_AUDIT_LABEL_PREFIX "kw-audit/"
#define HSM_AUDIT_LABEL "kw-audit/1"
#define HSM_IMPORT_LABEL_PREFIX "kw-import/"
#define HSM_IMPORT_LABEL "kw-import/1"
#define HSM_IMPORT_RSA_BITS 3072
#define HSM_IMPORT_KEK_LEN (HSM_IMPORT_RSA_BITS / 8)
#define HSM_IMPORT_KID_LEN HSM_JWK_KID_LEN
/* KWP of the largest padded secret: HSM_SECRET_MAX (a multiple of 16) + 8 */
#define HSM_IMPORT_VALUE_MAX (HSM_SECRET_MAX + 8)
#define HSM_SEAL_LABEL_PREFIX "kw-seal/"
#define HSM_SEAL_VERSION_MAX 4294967295LL /* the broker's sealed blobs carry it as be32 */
#define HSM_SEAL_KEYS_MAX 3
#define HSM_SEAL_KEY_LEN 32
#define HSM_SEAL_DERIVE_LABEL "keywarden seal key v1"
#define HSM_KEY_LIST_MAX 100000
#define HSM_KEY_LIST_PAGE 256 /* 256 * (HSM_LABEL_MAX + 3) fits in HSM_PROTO_MAX */

/* The ops; HSM_OP_NONE (0) is "no op" (an unparsed request, a raw test call). */
enum hsm_op {
	HSM_OP_NONE = 0,
	HSM_OP_PROBE, HSM_OP_GENERATE, HSM_OP_RELEASE, HSM_OP_RANDOM, HSM_OP_STATS,
	HSM_OP_TOKEN_KEYS, HSM_OP_TOKEN_KEY_NEW, HSM_OP_SIGN, HSM_OP_TOKEN_KEY_DESTROY,
	HSM_OP_KEY_LIST, HSM_OP_DESTROY, HSM_OP_IMPORT_KEY, HSM_OP_IMPORT,
	HSM_OP_AUDIT_KEY, HSM_OP_AUDIT_SIGN, HSM_OP_SEAL_KEYS, HSM_OP_SEAL_KEY_NEW,
	HSM_OP_LOG,
	HSM_OP__COUNT
};

/* Per-op rules (the OPS table above). */
#define HSM_OPF_ADMIN 0x1U    /* the broker's admin deadline class, else "call" */
#define HSM_OPF_SELFTEST 0x2U /* the helper refuses it until the self test passed */
#define HSM_OPF_RECYCLE 0x4U  /* counts toward the helper's --recycle-after */

struct hsm_op_info {
	enum hsm_op op;
	const char *name;   /* the "op" member */
	unsigned int flags; /* HSM_OPF_* */
};

/* The entry of op, or NULL for HSM_OP_NONE and values outside the enum. */
const struct hsm_op_info *hsm_op_info(enum hsm_op op);
/* The op named name (the "op" member), or HSM_OP_NONE. */
enum hsm_op hsm_op_from_name(const char *name);

enum hsm_kind { HSM_KIND_AES128 = 1, HSM_KIND_AES256, HSM_KIND_SECRET };

/* Names for kinds ("aes-128", ...); NULL for an unknown value. */
const char *hsm_kind_name(enum hsm_kind k);
/* The kind named name; 0 and *ret, or KW_ERR_UNSUPPORTED. */
int hsm_kind_from_name(const char *name, enum hsm_kind *ret) KW_WUR;
/* Stored (and released) bytes of a kind: 16/32 for AES, length for a secret. */
size_t hsm_kind_length(enum hsm_kind k, size_t length);

/*
 * A strict base64url member (no padding, kw_b64url) of exactly want bytes,
 * or of 1..max bytes when want is 0: 0 and out[0..*ret_len) (ret_len may be
 * NULL), else KW_ERR_INVALID_FORMAT (absent, not a string, not base64url,
 * empty, too long or another length). Both sides read their binary members
 * with it.
 */
int hsm_member_b64(const json_t *o, const char *key, uint8_t *out, size_t max, size_t want,
    size_t *ret_len) KW_WUR;

/* The resource label rule (LABELS above); s[len] must be its NUL. */
bool hsm_label_valid(const char *s, size_t len);
/* The key label rule (destroy, import, key_list). */
bool hsm_key_label_valid(const char *s, size_t len);
/*
 * The token label rule (sign, token_key_destroy, token key entries).
 * Returns 0 and the number in *ret_n (may be NULL), else KW_ERR_INVALID_FORMAT.
 */
int hsm_token_label_parse(const char *s, size_t len, int64_t *ret_n) KW_WUR;

#endif
