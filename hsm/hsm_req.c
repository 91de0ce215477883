/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <jansson.h>

#include "hsm_req.h"
#include "kw_b64url.h"
#include "kw_json.h"

size_t
hsm_import_plain_len(enum hsm_kind kind, size_t length)
{
	switch (kind) {
	case HSM_KIND_AES128:
		return length == 16 ? 16 : 0;
	case HSM_KIND_AES256:
		return length == 32 ? 32 : 0;
	case HSM_KIND_SECRET:
		if (length == 0 || length > HSM_SECRET_MAX)
			return 0;
		return length % 16 == 0 ? length : (length / 16 + 1) * 16;
	}
	return 0;
}

/* Integer member in [min, max]; absent is KW_ERR_NOT_FOUND. */
static int
get_uint(const json_t *o, const char *key, int64_t min, int64_t max, int64_t *ret)
{
	int64_t v;
	int r;

	if ((r = kw_json_get_int(o, key, &v)) != 0)
		return r;
	if (v < min || v > max)
		return KW_ERR_INVALID_FORMAT;
	*ret = v;
	return 0;
}

static int
get_label(const json_t *o, struct hsm_req *req)
{
	const char *s;
	size_t len;

	if (kw_json_get_str(o, "label", &s, &len) != 0 || !hsm_label_valid(s, len))
		return KW_ERR_INVALID_FORMAT;
	memcpy(req->label, s, len + 1);
	return 0;
}

/* Strict unsigned big-endian integer: no leading zero byte. */
static int
get_bigint(const json_t *o, const char *key, uint8_t *out, size_t max, size_t *ret_len)
{
	size_t n;

	if (hsm_member_b64(o, key, out, max, 0, &n) != 0 || out[0] == 0)
		return KW_ERR_INVALID_FORMAT;
	*ret_len = n;
	return 0;
}

static int
get_token_label(const json_t *o, struct hsm_req *req)
{
	const char *s;
	size_t len;

	if (kw_json_get_str(o, "label", &s, &len) != 0 || hsm_token_label_parse(s, len, NULL) != 0)
		return KW_ERR_INVALID_FORMAT;
	memcpy(req->label, s, len + 1);
	return 0;
}

/* "digest": base64url of exactly HSM_SIGN_DIGEST_LEN bytes (sign, audit_sign). */
static int
get_digest(const json_t *o, struct hsm_req *req)
{
	const char *s;
	size_t len, n;

	if (kw_json_get_str(o, "digest", &s, &len) != 0 ||
	    len != kw_b64url_enclen(HSM_SIGN_DIGEST_LEN) ||
	    kw_b64url_decode(s, len, req->digest, sizeof(req->digest), &n) != 0 ||
	    n != HSM_SIGN_DIGEST_LEN)
		return KW_ERR_INVALID_FORMAT;
	return 0;
}

static int
parse_sign(const json_t *o, struct hsm_req *req)
{
	static const char *const keys[] = {"id", "op", "label", "digest", NULL};

	if (kw_json_check_keys(o, keys) != 0 || get_token_label(o, req) != 0)
		return KW_ERR_INVALID_FORMAT;
	return get_digest(o, req);
}

static int
parse_audit_sign(const json_t *o, struct hsm_req *req)
{
	static const char *const keys[] = {"id", "op", "digest", NULL};

	if (kw_json_check_keys(o, keys) != 0)
		return KW_ERR_INVALID_FORMAT;
	return get_digest(o, req);
}

static int
parse_token_key_new(const json_t *o, struct hsm_req *req)
{
	static const char *const keys[] = {"id", "op", "now", NULL};
	int r;

	if (kw_json_check_keys(o, keys) != 0)
		return KW_ERR_INVALID_FORMAT;
	/* token keys: 0..HSM_TOKEN_TIME_MAX; seal keys: a be32 version, 1.. */
	r = req->op == HSM_OP_SEAL_KEY_NEW ? get_uint(o, "now", 1, HSM_SEAL_VERSION_MAX, &req->now) :
	    get_uint(o, "now", 0, HSM_TOKEN_TIME_MAX, &req->now);
	if (r != 0 && r != KW_ERR_NOT_FOUND)
		return KW_ERR_INVALID_FORMAT;
	req->now_set = r == 0;
	return 0;
}

/* "kind" and "length" of generate and import. */
static int
get_kind_length(const json_t *o, struct hsm_req *req)
{
	const char *kind;
	int64_t len = 0;
	int r;

	if (kw_json_get_str(o, "kind", &kind, NULL) != 0)
		return KW_ERR_INVALID_FORMAT;
	r = get_uint(o, "length", 1, HSM_SECRET_MAX, &len);
	if (r != 0 && r != KW_ERR_NOT_FOUND)
		return KW_ERR_INVALID_FORMAT;
	if (hsm_kind_from_name(kind, &req->kind) != 0)
		return KW_ERR_UNSUPPORTED;
	if (req->kind == HSM_KIND_SECRET) {
		if (r != 0)
			return KW_ERR_INVALID_FORMAT;
		req->length = (size_t)len;
	} else {
		req->length = hsm_kind_length(req->kind, 0);
		/* "length" is optional for AES; when given it must agree. */
		if (r == 0 && (size_t)len != req->length)
			return KW_ERR_INVALID_FORMAT;
	}
	return 0;
}

static int
parse_generate(const json_t *o, struct hsm_req *req)
{
	static const char *const keys[] = {"id", "op", "label", "kind", "length", "if_missing", NULL};
	int b;

	if (kw_json_check_keys(o, keys) != 0 || get_label(o, req) != 0)
		return KW_ERR_INVALID_FORMAT;
	if (kw_json_get_bool(o, "if_missing", &b) != 0)
		return KW_ERR_INVALID_FORMAT;
	req->if_missing = b != 0;
	return get_kind_length(o, req);
}

static int
get_key_label(const json_t *o, struct hsm_req *req)
{
	const char *s;
	size_t len;

	if (kw_json_get_str(o, "label", &s, &len) != 0 || !hsm_key_label_valid(s, len))
		return KW_ERR_INVALID_FORMAT;
	memcpy(req->label, s, len + 1);
	return 0;
}

static int
parse_key_list(const json_t *o, struct hsm_req *req)
{
	static const char *const keys[] = {"id", "op", "after", NULL};
	const char *s;
	size_t len;
	int r;

	if (kw_json_check_keys(o, keys) != 0)
		return KW_ERR_INVALID_FORMAT;
	if ((r = kw_json_get_str(o, "after", &s, &len)) == KW_ERR_NOT_FOUND)
		return 0;
	if (r != 0 || len > HSM_LABEL_MAX || strlen(s) != len)
		return KW_ERR_INVALID_FORMAT;
	memcpy(req->after, s, len + 1);
	req->after_set = true;
	return 0;
}

static int
parse_import(const json_t *o, struct hsm_req *req)
{
	static const char *const keys[] = {"id", "op", "label", "kind", "length", "kid", "kek",
		"value", NULL};
	uint8_t tp[32];
	const char *kid;
	size_t len, n;
	int r;

	if (kw_json_check_keys(o, keys) != 0 || get_key_label(o, req) != 0)
		return KW_ERR_INVALID_FORMAT;
	if ((r = get_kind_length(o, req)) != 0)
		return r;
	/* a thumbprint: base64url of a SHA-256 */
	if (kw_json_get_str(o, "kid", &kid, &len) != 0 || len != HSM_IMPORT_KID_LEN ||
	    kw_b64url_decode(kid, len, tp, sizeof(tp), &n) != 0 || n != sizeof(tp))
		return KW_ERR_INVALID_FORMAT;
	memcpy(req->import_kid, kid, len + 1);
	if (hsm_member_b64(o, "kek", req->kek, sizeof(req->kek), HSM_IMPORT_KEK_LEN, &n) != 0)
		return KW_ERR_INVALID_FORMAT;
	/* KWP output of exactly the (padded) value: its 8-byte blocks plus the integrity block */
	if (hsm_member_b64(o, "value", req->value, sizeof(req->value), 0, &req->value_len) != 0 ||
	    req->value_len != hsm_import_plain_len(req->kind, req->length) + 8)
		return KW_ERR_INVALID_FORMAT;
	return 0;
}

static int
parse_release(const json_t *o, struct hsm_req *req)
{
	static const char *const keys[] = {"id", "op", "label", "profile", "n", "e", "kid", NULL};
	const char *profile, *kid;
	size_t kid_len, bits;
	uint8_t top;

	if (kw_json_check_keys(o, keys) != 0 || get_label(o, req) != 0)
		return KW_ERR_INVALID_FORMAT;
	if (kw_json_get_str(o, "profile", &profile, NULL) != 0)
		return KW_ERR_INVALID_FORMAT;
	if (strcmp(profile, HSM_PROFILE_RSA_OAEP_A256CBC_HS512) != 0)
		return KW_ERR_UNSUPPORTED;
	if (get_bigint(o, "n", req->n, sizeof(req->n), &req->n_len) != 0)
		return KW_ERR_INVALID_FORMAT;
	if (get_bigint(o, "e", req->e, sizeof(req->e), &req->e_len) != 0)
		return KW_ERR_INVALID_FORMAT;
	/* Modulus size in bits: full bytes below the top byte plus its bit length. */
	top = req->n[0];
	bits = (req->n_len - 1) * 8;
	while (top != 0) {
		bits++;
		top >>= 1;
	}
	if (bits < HSM_RSA_MIN_BITS || bits > HSM_RSA_MAX_BITS || (req->n[req->n_len - 1] & 1) == 0)
		return KW_ERR_INVALID_FORMAT;
	if ((req->e[req->e_len - 1] & 1) == 0 || (req->e_len == 1 && req->e[0] < 3))
		return KW_ERR_INVALID_FORMAT;
	if (kw_json_get_str(o, "kid", &kid, &kid_len) != 0 || kid_len > HSM_KID_MAX ||
	    strlen(kid) != kid_len)
		return KW_ERR_INVALID_FORMAT;
	memcpy(req->kid, kid, kid_len + 1);
	return 0;
}

/* Ops without request members: probe, stats, token_keys, import_key, audit_key. */
static int
parse_plain(const json_t *o, struct hsm_req *req)
{
	static const char *const keys[] = {"id", "op", NULL};

	(void)req;
	return kw_json_check_keys(o, keys) != 0 ? KW_ERR_INVALID_FORMAT : 0;
}

static int
parse_random(const json_t *o, struct hsm_req *req)
{
	static const char *const keys[] = {"id", "op", "length", NULL};
	int64_t v;

	if (kw_json_check_keys(o, keys) != 0 || get_uint(o, "length", 1, HSM_RANDOM_MAX, &v) != 0)
		return KW_ERR_INVALID_FORMAT;
	req->length = (size_t)v;
	return 0;
}

static int
parse_log(const json_t *o, struct hsm_req *req)
{
	static const char *const keys[] = {"id", "op", "level", "format", NULL};
	const char *lvl, *fmt;
	size_t n;

	if (kw_json_check_keys(o, keys) != 0 || kw_json_get_str(o, "level", &lvl, &n) != 0 ||
	    kw_json_get_str(o, "format", &fmt, &n) != 0 || strcmp(fmt, "auto") == 0 ||
	    kw_log_level_parse(lvl, &req->log_level) != 0 ||
	    kw_log_format_parse(fmt, &req->log_format) != 0)
		return KW_ERR_INVALID_FORMAT;
	return 0;
}

/* The ops with a label only: token_key_destroy (a token label), destroy (a key label). */
static int
parse_label_only(const json_t *o, struct hsm_req *req)
{
	static const char *const keys[] = {"id", "op", "label", NULL};

	if (kw_json_check_keys(o, keys) != 0 ||
	    (req->op == HSM_OP_DESTROY ? get_key_label(o, req) : get_token_label(o, req)) != 0)
		return KW_ERR_INVALID_FORMAT;
	return 0;
}

/*
 * The members of each op (hsm_proto.h OPS). A parser returns 0,
 * KW_ERR_INVALID_FORMAT or KW_ERR_UNSUPPORTED (unknown kind or profile).
 */
static int (*const parsers[HSM_OP__COUNT])(const json_t *, struct hsm_req *) = {
	[HSM_OP_PROBE] = parse_plain,
	[HSM_OP_GENERATE] = parse_generate,
	[HSM_OP_RELEASE] = parse_release,
	[HSM_OP_RANDOM] = parse_random,
	[HSM_OP_STATS] = parse_plain,
	[HSM_OP_TOKEN_KEYS] = parse_plain,
	[HSM_OP_TOKEN_KEY_NEW] = parse_token_key_new,
	[HSM_OP_SIGN] = parse_sign,
	[HSM_OP_TOKEN_KEY_DESTROY] = parse_label_only,
	[HSM_OP_KEY_LIST] = parse_key_list,
	[HSM_OP_DESTROY] = parse_label_only,
	[HSM_OP_IMPORT_KEY] = parse_plain,
	[HSM_OP_IMPORT] = parse_import,
	[HSM_OP_AUDIT_KEY] = parse_plain,
	[HSM_OP_AUDIT_SIGN] = parse_audit_sign,
	[HSM_OP_SEAL_KEYS] = parse_plain,
	[HSM_OP_SEAL_KEY_NEW] = parse_token_key_new,
	[HSM_OP_LOG] = parse_log,
};

int
hsm_req_parse(const void *buf, size_t len, struct hsm_req *ret, uint32_t *ret_id)
{
	json_t *o = NULL;
	const char *op;
	int64_t id;
	int r;

	*ret_id = 0;
	memset(ret, 0, sizeof(*ret));
	if ((r = kw_json_parse(buf, len, HSM_PROTO_MAX, &o)) != 0)
		goto out;
	r = KW_ERR_INVALID_FORMAT;
	if (get_uint(o, "id", 0, UINT32_MAX, &id) != 0)
		goto out;
	ret->id = (uint32_t)id;
	*ret_id = ret->id;
	if (kw_json_get_str(o, "op", &op, NULL) != 0)
		goto out;
	if ((ret->op = hsm_op_from_name(op)) == HSM_OP_NONE || parsers[ret->op] == NULL) {
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	r = parsers[ret->op](o, ret);
out:
	json_decref(o);
	return r;
}
