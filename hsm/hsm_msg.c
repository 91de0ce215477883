/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed requests and replies of the helper protocol, broker side
 * (hsm_msg.h). Each op has one encoder and one decoder, in the table at the
 * end; the members are those of hsm_proto.h's OPS table.
 */
#include <stdlib.h>
#include <string.h>

#include "hsm_msg.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"

/* ---- encoding ---- */

static int
put(json_t *o, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new(o, key, v) == 0 ? 0 : KW_ERR_NOMEM;
}

static int
put_str(json_t *o, const char *key, const char *s)
{
	return s == NULL ? KW_ERR_INVALID_ARG : put(o, key, json_string(s));
}

static int
put_b64(json_t *o, const char *key, const uint8_t *buf, size_t len)
{
	char *s = NULL;
	int r;

	if (buf == NULL || len == 0)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_b64url_encode(buf, len, &s)) != 0)
		return r;
	r = put(o, key, json_string(s));
	free(s);
	return r;
}

/* "kind" and, when non-zero, "length" (generate, import). */
static int
put_kind(json_t *o, enum hsm_kind kind, size_t length)
{
	int r;

	if (hsm_kind_name(kind) == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = put_str(o, "kind", hsm_kind_name(kind))) != 0)
		return r;
	return length == 0 ? 0 : put(o, "length", json_integer((json_int_t)length));
}

static int
enc_none(const struct hsm_args *a, json_t *o)
{
	(void)a;
	(void)o;
	return 0;
}

static int
enc_generate(const struct hsm_args *a, json_t *o)
{
	int r;

	if ((r = put_str(o, "label", a->u.generate.label)) != 0 ||
	    (r = put_kind(o, a->u.generate.kind, a->u.generate.length)) != 0)
		return r;
	return put(o, "if_missing", json_boolean(a->u.generate.if_missing));
}

static int
enc_release(const struct hsm_args *a, json_t *o)
{
	int r;

	if ((r = put_str(o, "label", a->u.release.label)) != 0 ||
	    (r = put_str(o, "profile", a->u.release.profile)) != 0 ||
	    (r = put_b64(o, "n", a->u.release.n, a->u.release.n_len)) != 0 ||
	    (r = put_b64(o, "e", a->u.release.e, a->u.release.e_len)) != 0)
		return r;
	return put_str(o, "kid", a->u.release.kid);
}

static int
enc_random(const struct hsm_args *a, json_t *o)
{
	return put(o, "length", json_integer((json_int_t)a->u.random.length));
}

static int
enc_token_key_new(const struct hsm_args *a, json_t *o)
{
	return a->u.token_key_new.now_set ?
	    put(o, "now", json_integer((json_int_t)a->u.token_key_new.now)) : 0;
}

static int
enc_seal_key_new(const struct hsm_args *a, json_t *o)
{
	return a->u.seal_key_new.now_set ?
	    put(o, "now", json_integer((json_int_t)a->u.seal_key_new.now)) : 0;
}

static int
enc_sign(const struct hsm_args *a, json_t *o)
{
	int r;

	if ((r = put_str(o, "label", a->u.sign.label)) != 0)
		return r;
	return put_b64(o, "digest", a->u.sign.digest, HSM_SIGN_DIGEST_LEN);
}

static int
enc_audit_sign(const struct hsm_args *a, json_t *o)
{
	return put_b64(o, "digest", a->u.audit_sign.digest, HSM_SIGN_DIGEST_LEN);
}

static int
enc_token_key_destroy(const struct hsm_args *a, json_t *o)
{
	return put_str(o, "label", a->u.token_key_destroy.label);
}

static int
enc_key_list(const struct hsm_args *a, json_t *o)
{
	return a->u.key_list.after != NULL ? put_str(o, "after", a->u.key_list.after) : 0;
}

static int
enc_destroy(const struct hsm_args *a, json_t *o)
{
	return put_str(o, "label", a->u.destroy.label);
}

static int
enc_import(const struct hsm_args *a, json_t *o)
{
	int r;

	if ((r = put_str(o, "label", a->u.import.label)) != 0 ||
	    (r = put_kind(o, a->u.import.kind, a->u.import.length)) != 0 ||
	    (r = put_str(o, "kid", a->u.import.kid)) != 0 ||
	    (r = put_str(o, "kek", a->u.import.kek)) != 0)
		return r;
	return put_str(o, "value", a->u.import.value);
}

/* ---- decoding ---- */

/* A required string member; KW_ERR_HSM when absent or not a string. */
static int
get_str(const json_t *o, const char *key, const char **ret, size_t *ret_len)
{
	return kw_json_get_str(o, key, ret, ret_len) == 0 ? 0 : KW_ERR_HSM;
}

static int
get_bool(const json_t *o, const char *key, bool *ret)
{
	int b;

	if (kw_json_get_bool(o, key, &b) != 0)
		return KW_ERR_HSM;
	*ret = b != 0;
	return 0;
}

static int
get_int(const json_t *o, const char *key, int64_t min, int64_t max, int64_t *ret)
{
	int64_t v;

	if (kw_json_get_int(o, key, &v) != 0 || v < min || v > max)
		return KW_ERR_HSM;
	*ret = v;
	return 0;
}

/* A base64url member (hsm_member_b64); KW_ERR_HSM when it is not what the op promises. */
static int
get_b64(const json_t *o, const char *key, uint8_t *out, size_t max, size_t want, size_t *ret_len)
{
	return hsm_member_b64(o, key, out, max, want, ret_len) == 0 ? 0 : KW_ERR_HSM;
}

/* An RFC 7638 SHA-256 thumbprint: 43 base64url characters. */
static int
get_kid(const json_t *o, char out[static HSM_JWK_KID_LEN + 1])
{
	uint8_t tp[32];
	const char *s;
	size_t len, n;

	if (get_str(o, "kid", &s, &len) != 0 || len != HSM_JWK_KID_LEN ||
	    kw_b64url_decode(s, len, tp, sizeof(tp), &n) != 0 || n != sizeof(tp))
		return KW_ERR_HSM;
	memcpy(out, s, len + 1);
	return 0;
}

static int
get_kind(const json_t *o, enum hsm_kind *ret_kind, size_t *ret_len)
{
	const char *s;
	enum hsm_kind k;
	int64_t len;

	if (get_str(o, "kind", &s, NULL) != 0 || hsm_kind_from_name(s, &k) != 0 ||
	    get_int(o, "length", 1, HSM_SECRET_MAX, &len) != 0 ||
	    hsm_kind_length(k, (size_t)len) != (size_t)len)
		return KW_ERR_HSM;
	*ret_kind = k;
	*ret_len = (size_t)len;
	return 0;
}

static int
dec_none(json_t *o, struct hsm_result *res)
{
	(void)o;
	(void)res;
	return 0;
}

static int
dec_probe(json_t *o, struct hsm_result *res)
{
	const json_t *ps = json_object_get(o, "profiles"), *p;
	const json_t *tu = json_object_get(o, "token_uri"); /* optional: an older helper */
	size_t i;

	if (get_str(o, "token", &res->u.probe.token, NULL) != 0 ||
	    get_str(o, "module", &res->u.probe.module, NULL) != 0 || !json_is_array(ps) ||
	    (tu != NULL && !json_is_null(tu) && get_str(o, "token_uri", &res->u.probe.token_uri,
	    NULL) != 0) ||
	    json_array_size(ps) > HSM_PROBE_PROFILES_MAX)
		return KW_ERR_HSM;
	json_array_foreach(ps, i, p) {
		if (!json_is_string(p))
			return KW_ERR_HSM;
		res->u.probe.profiles[i] = json_string_value(p);
	}
	res->u.probe.n_profiles = json_array_size(ps);
	return 0;
}

static int
dec_generate(json_t *o, struct hsm_result *res)
{
	if (get_bool(o, "created", &res->u.generate.created) != 0)
		return KW_ERR_HSM;
	return get_kind(o, &res->u.generate.kind, &res->u.generate.length);
}

/*
 * A compact JWE as the helper builds it: five non-empty base64url parts
 * (RSA-OAEP always has an encrypted key, a released value at least one
 * cipher block).
 */
static bool
compact_jwe(const char *s, size_t len)
{
	size_t dots = 0, part = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (part == 0 || ++dots > 4)
				return false;
			part = 0;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return false;
		part++;
	}
	return dots == 4 && part > 0;
}

static int
dec_release(json_t *o, struct hsm_result *res)
{
	if (get_str(o, "jwe", &res->u.release.jwe, &res->u.release.jwe_len) != 0 ||
	    !compact_jwe(res->u.release.jwe, res->u.release.jwe_len))
		return KW_ERR_HSM;
	return 0;
}

static int
dec_random(json_t *o, struct hsm_result *res)
{
	return get_b64(o, "bytes", res->u.random.bytes, sizeof(res->u.random.bytes), 0,
	    &res->u.random.len);
}

static int
dec_stats(json_t *o, struct hsm_result *res)
{
	int64_t rel, rec, signs = 0, rss;
	int r;

	if (get_int(o, "releases", 0, INT64_MAX, &rel) != 0 ||
	    get_int(o, "recycles", 0, INT64_MAX, &rec) != 0 ||
	    get_int(o, "rss_kb", -1, INT64_MAX, &rss) != 0)
		return KW_ERR_HSM;
	/* "signs" came with the token keys; an older helper does not send it */
	if ((r = kw_json_get_int(o, "signs", &signs)) != 0 && r != KW_ERR_NOT_FOUND)
		return KW_ERR_HSM;
	if (signs < 0)
		return KW_ERR_HSM;
	res->u.stats.releases = (uint64_t)rel;
	res->u.stats.recycles = (uint64_t)rec;
	res->u.stats.signs = (uint64_t)signs;
	res->u.stats.rss_kb = rss;
	return 0;
}

/* One token key entry: label and created agree, kid is a thumbprint, jwk an object. */
static int
token_key_entry(const json_t *e, struct hsm_token_key_entry *out)
{
	const json_t *jwk = json_object_get(e, "jwk");
	const char *label;
	size_t len;
	int64_t created, n;

	if (!json_is_object(e) || get_str(e, "label", &label, &len) != 0 ||
	    hsm_token_label_parse(label, len, &n) != 0 ||
	    get_int(e, "created", 0, HSM_TOKEN_TIME_MAX, &created) != 0 || created != n ||
	    get_kid(e, out->kid) != 0 || !json_is_object(jwk))
		return KW_ERR_HSM;
	memcpy(out->label, label, len + 1);
	out->created = created;
	out->jwk = jwk;
	return 0;
}

static int
dec_token_keys(json_t *o, struct hsm_result *res)
{
	const json_t *keys = json_object_get(o, "keys"), *e;
	size_t i;

	if (!json_is_array(keys) || json_array_size(keys) > HSM_TOKEN_KEYS_MAX)
		return KW_ERR_HSM;
	json_array_foreach(keys, i, e) {
		if (token_key_entry(e, &res->u.token_keys.k[i]) != 0)
			return KW_ERR_HSM;
		/* oldest first; labels are unique */
		if (i > 0 && res->u.token_keys.k[i].created <= res->u.token_keys.k[i - 1].created)
			return KW_ERR_HSM;
	}
	res->u.token_keys.n = json_array_size(keys);
	return 0;
}

static int
dec_token_key_new(json_t *o, struct hsm_result *res)
{
	return token_key_entry(o, &res->u.token_key_new);
}

static int
dec_sign(json_t *o, struct hsm_result *res)
{
	return get_b64(o, "sig", res->u.sign.sig, sizeof(res->u.sign.sig), HSM_SIGN_SIG_LEN, NULL);
}

static int
dec_audit_sign(json_t *o, struct hsm_result *res)
{
	return get_b64(o, "sig", res->u.audit_sign.sig, sizeof(res->u.audit_sign.sig),
	    HSM_SIGN_SIG_LEN, NULL);
}

static int
dec_key_list(json_t *o, struct hsm_result *res)
{
	const json_t *ls = json_object_get(o, "labels"), *l;
	size_t i;

	if (!json_is_array(ls) || json_array_size(ls) > HSM_KEY_LIST_PAGE ||
	    get_bool(o, "more", &res->u.key_list.more) != 0)
		return KW_ERR_HSM;
	json_array_foreach(ls, i, l) {
		const char *s = json_string_value(l);

		if (s == NULL || !hsm_key_label_valid(s, json_string_length(l)))
			return KW_ERR_HSM;
		/* sorted and distinct: the last one is where the next page starts */
		if (i > 0 && strcmp(res->u.key_list.labels[i - 1], s) >= 0)
			return KW_ERR_HSM;
		res->u.key_list.labels[i] = s;
	}
	res->u.key_list.n = json_array_size(ls);
	return 0;
}

static int
dec_destroy(json_t *o, struct hsm_result *res)
{
	return get_bool(o, "destroyed", &res->u.destroy.destroyed);
}

static int
dec_import_key(json_t *o, struct hsm_result *res)
{
	const json_t *jwk = json_object_get(o, "jwk");

	if (get_kid(o, res->u.import_key.kid) != 0 || !json_is_object(jwk))
		return KW_ERR_HSM;
	res->u.import_key.jwk = jwk;
	return 0;
}

static int
dec_audit_key(json_t *o, struct hsm_result *res)
{
	const json_t *jwk = json_object_get(o, "jwk");
	const char *label;
	size_t len;

	if (get_str(o, "label", &label, &len) != 0 || strcmp(label, HSM_AUDIT_LABEL) != 0 ||
	    get_kid(o, res->u.audit_key.kid) != 0 || !json_is_object(jwk))
		return KW_ERR_HSM;
	res->u.audit_key.jwk = jwk;
	return 0;
}

static int
dec_import(json_t *o, struct hsm_result *res)
{
	if (get_bool(o, "created", &res->u.import.created) != 0)
		return KW_ERR_HSM;
	/* kind and length joined the reply later: optional, but both or none */
	if (json_object_get(o, "kind") == NULL && json_object_get(o, "length") == NULL)
		return 0;
	return get_kind(o, &res->u.import.kind, &res->u.import.length);
}

static int
dec_seal_keys(json_t *o, struct hsm_result *res)
{
	const json_t *keys = json_object_get(o, "keys"), *e;
	size_t i;

	if (!json_is_array(keys) || json_array_size(keys) == 0 ||
	    json_array_size(keys) > HSM_SEAL_KEYS_MAX)
		return KW_ERR_HSM;
	json_array_foreach(keys, i, e) {
		if (!json_is_object(e) || get_int(e, "version", 1, HSM_SEAL_VERSION_MAX,
		    &res->u.seal_keys.k[i].version) != 0 ||
		    get_b64(e, "key", res->u.seal_keys.k[i].key, HSM_SEAL_KEY_LEN, HSM_SEAL_KEY_LEN,
		    NULL) != 0)
			return KW_ERR_HSM;
		/* oldest first, versions distinct */
		if (i > 0 && res->u.seal_keys.k[i].version <= res->u.seal_keys.k[i - 1].version)
			return KW_ERR_HSM;
	}
	res->u.seal_keys.n = json_array_size(keys);
	return 0;
}

static int
dec_seal_key_new(json_t *o, struct hsm_result *res)
{
	return get_int(o, "version", 1, HSM_SEAL_VERSION_MAX, &res->u.seal_key_new.version);
}

static int
enc_log(const struct hsm_args *a, json_t *o)
{
	int r;

	if ((r = put_str(o, "level", a->u.log.level)) != 0)
		return r;
	return put_str(o, "format", a->u.log.format);
}

/* One encoder and one decoder per op (hsm_proto.h OPS). */
static const struct {
	int (*encode)(const struct hsm_args *a, json_t *o);
	int (*decode)(json_t *o, struct hsm_result *res);
} codecs[HSM_OP__COUNT] = {
	[HSM_OP_NONE] = {NULL, dec_none},
	[HSM_OP_PROBE] = {enc_none, dec_probe},
	[HSM_OP_GENERATE] = {enc_generate, dec_generate},
	[HSM_OP_RELEASE] = {enc_release, dec_release},
	[HSM_OP_RANDOM] = {enc_random, dec_random},
	[HSM_OP_STATS] = {enc_none, dec_stats},
	[HSM_OP_TOKEN_KEYS] = {enc_none, dec_token_keys},
	[HSM_OP_TOKEN_KEY_NEW] = {enc_token_key_new, dec_token_key_new},
	[HSM_OP_SIGN] = {enc_sign, dec_sign},
	[HSM_OP_TOKEN_KEY_DESTROY] = {enc_token_key_destroy, dec_none},
	[HSM_OP_KEY_LIST] = {enc_key_list, dec_key_list},
	[HSM_OP_DESTROY] = {enc_destroy, dec_destroy},
	[HSM_OP_IMPORT_KEY] = {enc_none, dec_import_key},
	[HSM_OP_IMPORT] = {enc_import, dec_import},
	[HSM_OP_AUDIT_KEY] = {enc_none, dec_audit_key},
	[HSM_OP_AUDIT_SIGN] = {enc_audit_sign, dec_audit_sign},
	[HSM_OP_SEAL_KEYS] = {enc_none, dec_seal_keys},
	[HSM_OP_SEAL_KEY_NEW] = {enc_seal_key_new, dec_seal_key_new},
	[HSM_OP_LOG] = {enc_log, dec_none},
};

int
hsm_args_encode(const struct hsm_args *a, json_t **ret)
{
	const struct hsm_op_info *info = a != NULL ? hsm_op_info(a->op) : NULL;
	json_t *o = NULL;
	int r;

	if (info == NULL || codecs[a->op].encode == NULL)
		return KW_ERR_INVALID_ARG;
	if ((o = json_object()) == NULL)
		return KW_ERR_NOMEM;
	if ((r = put_str(o, "op", info->name)) != 0 || (r = codecs[a->op].encode(a, o)) != 0) {
		json_decref(o);
		return r;
	}
	*ret = o;
	return 0;
}

int
hsm_reply_parse(const void *buf, size_t len, uint32_t *ret_id, int *ret_err, json_t **ret_obj)
{
	json_t *o = NULL;
	int64_t id, err = 0;
	int ok, r;

	if ((r = kw_json_parse(buf, len, HSM_PROTO_MAX, &o)) != 0)
		return r;
	if (kw_json_get_int(o, "id", &id) != 0 || id < 0 || id > UINT32_MAX ||
	    kw_json_get_bool(o, "ok", &ok) != 0) {
		json_decref(o);
		return KW_ERR_INVALID_FORMAT;
	}
	if (!ok && (kw_json_get_int(o, "error", &err) != 0 || err >= 0 || err <= KW_ERR__LAST))
		err = KW_ERR_HSM;
	*ret_id = (uint32_t)id;
	*ret_err = ok ? 0 : (int)err;
	*ret_obj = o;
	return 0;
}

int
hsm_result_decode(enum hsm_op op, json_t *o, struct hsm_result **ret)
{
	struct hsm_result *res;
	int r;

	if ((size_t)op >= KW_ARRAY_SIZE(codecs) || codecs[op].decode == NULL || !json_is_object(o))
		return KW_ERR_INVALID_ARG;
	if ((res = calloc(1, sizeof(*res))) == NULL)
		return KW_ERR_NOMEM;
	res->op = op;
	res->json = json_incref(o);
	if ((r = codecs[op].decode(o, res)) != 0) {
		hsm_result_free(res);
		return r;
	}
	*ret = res;
	return 0;
}

int
hsm_result_copy(const struct hsm_result *res, struct hsm_result **ret)
{
	json_t *o;
	int r;

	if ((o = json_deep_copy(res->json)) == NULL)
		return KW_ERR_NOMEM;
	r = hsm_result_decode(res->op, o, ret);
	json_decref(o);
	return r;
}

void
hsm_result_free(struct hsm_result *res)
{
	if (res == NULL)
		return;
	json_decref(res->json);
	if (res->op == HSM_OP_RANDOM)
		kw_wipe(res->u.random.bytes, sizeof(res->u.random.bytes));
	if (res->op == HSM_OP_SEAL_KEYS)
		kw_wipe(&res->u.seal_keys, sizeof(res->u.seal_keys));
	free(res);
}
