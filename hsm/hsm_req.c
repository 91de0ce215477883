/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <jansson.h>

#include "hsm_req.h"
#include "kw_b64url.h"
#include "kw_json.h"

static const char *const kind_names[] = {
	[HSM_KIND_AES128] = "aes-128", [HSM_KIND_AES256] = "aes-256", [HSM_KIND_SECRET] = "secret",
};

const char *
hsm_kind_name(enum hsm_kind k)
{
	if ((size_t)k >= KW_ARRAY_SIZE(kind_names) || kind_names[k] == NULL)
		return NULL;
	return kind_names[k];
}

bool
hsm_label_valid(const char *s, size_t len)
{
	if (len == 0 || len > HSM_LABEL_MAX || strlen(s) != len)
		return false;
	/* token keys are reachable through sign/token_key_* only, the import key through import */
	if (strncmp(s, HSM_TOKEN_LABEL_PREFIX, strlen(HSM_TOKEN_LABEL_PREFIX)) == 0 ||
	    strncmp(s, HSM_IMPORT_LABEL_PREFIX, strlen(HSM_IMPORT_LABEL_PREFIX)) == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '/' || c == '-'))
			return false;
		if (c == '.' && i + 1 < len && s[i + 1] == '.')
			return false;
	}
	return true;
}

bool
hsm_key_label_valid(const char *s, size_t len)
{
	const size_t plen = strlen(HSM_KEY_LABEL_PREFIX);

	return len > plen && hsm_label_valid(s, len) && memcmp(s, HSM_KEY_LABEL_PREFIX, plen) == 0;
}

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

int
hsm_token_label_parse(const char *s, size_t len, int64_t *ret_n)
{
	const size_t plen = strlen(HSM_TOKEN_LABEL_PREFIX);
	int64_t n = 0;

	if (len <= plen || len > HSM_TOKEN_LABEL_MAX || strnlen(s, len + 1) != len ||
	    memcmp(s, HSM_TOKEN_LABEL_PREFIX, plen) != 0)
		return KW_ERR_INVALID_FORMAT;
	if (s[plen] == '0' && len != plen + 1)
		return KW_ERR_INVALID_FORMAT;    /* no leading zero */
	for (size_t i = plen; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return KW_ERR_INVALID_FORMAT;
		n = n * 10 + (s[i] - '0');    /* at most 12 digits: no overflow */
	}
	if (ret_n != NULL)
		*ret_n = n;
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
	const char *s;
	size_t slen, n;

	if (kw_json_get_str(o, key, &s, &slen) != 0)
		return KW_ERR_INVALID_FORMAT;
	if (slen > kw_b64url_enclen(max))
		return KW_ERR_INVALID_FORMAT;
	if (kw_b64url_decode(s, slen, out, max, &n) != 0 || n == 0 || out[0] == 0)
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

static int
parse_sign(const json_t *o, struct hsm_req *req)
{
	static const char *const keys[] = {"id", "op", "label", "digest", NULL};
	const char *s;
	size_t len, n;

	if (kw_json_check_keys(o, keys) != 0 || get_token_label(o, req) != 0)
		return KW_ERR_INVALID_FORMAT;
	if (kw_json_get_str(o, "digest", &s, &len) != 0 ||
	    len != kw_b64url_enclen(HSM_SIGN_DIGEST_LEN) ||
	    kw_b64url_decode(s, len, req->digest, sizeof(req->digest), &n) != 0 ||
	    n != HSM_SIGN_DIGEST_LEN)
		return KW_ERR_INVALID_FORMAT;
	return 0;
}

static int
parse_token_key_new(const json_t *o, struct hsm_req *req)
{
	static const char *const keys[] = {"id", "op", "now", NULL};
	int r;

	if (kw_json_check_keys(o, keys) != 0)
		return KW_ERR_INVALID_FORMAT;
	r = get_uint(o, "now", 0, HSM_TOKEN_TIME_MAX, &req->now);
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
	if (strcmp(kind, "aes-128") == 0 || strcmp(kind, "aes-256") == 0) {
		req->kind = kind[4] == '1' ? HSM_KIND_AES128 : HSM_KIND_AES256;
		req->length = req->kind == HSM_KIND_AES128 ? 16 : 32;
		/* "length" is optional for AES; when given it must agree. */
		if (r == 0 && (size_t)len != req->length)
			return KW_ERR_INVALID_FORMAT;
	} else if (strcmp(kind, "secret") == 0) {
		if (r != 0)
			return KW_ERR_INVALID_FORMAT;
		req->kind = HSM_KIND_SECRET;
		req->length = (size_t)len;
	} else {
		return KW_ERR_UNSUPPORTED;
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

/* Strict base64url member of exactly want bytes (want == 0: 1..max bytes). */
static int
get_b64(const json_t *o, const char *key, uint8_t *out, size_t max, size_t want, size_t *ret_len)
{
	const char *s;
	size_t slen, n;

	if (kw_json_get_str(o, key, &s, &slen) != 0 || slen > kw_b64url_enclen(max) ||
	    kw_b64url_decode(s, slen, out, max, &n) != 0 || n == 0 || (want != 0 && n != want))
		return KW_ERR_INVALID_FORMAT;
	*ret_len = n;
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
	if (get_b64(o, "kek", req->kek, sizeof(req->kek), HSM_IMPORT_KEK_LEN, &n) != 0)
		return KW_ERR_INVALID_FORMAT;
	/* KWP output of exactly the (padded) value: its 8-byte blocks plus the integrity block */
	if (get_b64(o, "value", req->value, sizeof(req->value), 0, &req->value_len) != 0 ||
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

int
hsm_req_parse(const void *buf, size_t len, struct hsm_req *ret, uint32_t *ret_id)
{
	static const char *const keys_plain[] = {"id", "op", NULL};
	static const char *const keys_random[] = {"id", "op", "length", NULL};
	static const char *const keys_label[] = {"id", "op", "label", NULL};
	json_t *o = NULL;
	const char *op;
	int64_t id, v;
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
	if (strcmp(op, "probe") == 0 || strcmp(op, "stats") == 0) {
		ret->op = op[0] == 'p' ? HSM_OP_PROBE : HSM_OP_STATS;
		if (kw_json_check_keys(o, keys_plain) != 0)
			goto out;
	} else if (strcmp(op, "random") == 0) {
		ret->op = HSM_OP_RANDOM;
		if (kw_json_check_keys(o, keys_random) != 0 ||
		    get_uint(o, "length", 1, HSM_RANDOM_MAX, &v) != 0)
			goto out;
		ret->length = (size_t)v;
	} else if (strcmp(op, "generate") == 0) {
		ret->op = HSM_OP_GENERATE;
		if ((r = parse_generate(o, ret)) != 0)
			goto out;
	} else if (strcmp(op, "release") == 0) {
		ret->op = HSM_OP_RELEASE;
		if ((r = parse_release(o, ret)) != 0)
			goto out;
	} else if (strcmp(op, "token_keys") == 0) {
		ret->op = HSM_OP_TOKEN_KEYS;
		if (kw_json_check_keys(o, keys_plain) != 0)
			goto out;
	} else if (strcmp(op, "token_key_new") == 0) {
		ret->op = HSM_OP_TOKEN_KEY_NEW;
		if (parse_token_key_new(o, ret) != 0)
			goto out;
	} else if (strcmp(op, "sign") == 0) {
		ret->op = HSM_OP_SIGN;
		if (parse_sign(o, ret) != 0)
			goto out;
	} else if (strcmp(op, "token_key_destroy") == 0) {
		ret->op = HSM_OP_TOKEN_KEY_DESTROY;
		if (kw_json_check_keys(o, keys_label) != 0 || get_token_label(o, ret) != 0)
			goto out;
	} else if (strcmp(op, "key_list") == 0) {
		ret->op = HSM_OP_KEY_LIST;
		if (parse_key_list(o, ret) != 0)
			goto out;
	} else if (strcmp(op, "destroy") == 0) {
		ret->op = HSM_OP_DESTROY;
		if (kw_json_check_keys(o, keys_label) != 0 || get_key_label(o, ret) != 0)
			goto out;
	} else if (strcmp(op, "import_key") == 0) {
		ret->op = HSM_OP_IMPORT_KEY;
		if (kw_json_check_keys(o, keys_plain) != 0)
			goto out;
	} else if (strcmp(op, "import") == 0) {
		ret->op = HSM_OP_IMPORT;
		if ((r = parse_import(o, ret)) != 0)
			goto out;
	} else {
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	r = 0;
out:
	json_decref(o);
	return r;
}
