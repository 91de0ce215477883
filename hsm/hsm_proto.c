/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The protocol's shared tables and rules (hsm_proto.h): linked into both
 * the helper (keywarden-hsm, through libkwhsm) and the broker side
 * (libkwhsmclient), so both read the same op names and per-op rules.
 */
#include <string.h>

#include "hsm_proto.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"

/* Indexed by enum hsm_op; the OPS table of hsm_proto.h in data form. */
static const struct hsm_op_info ops[HSM_OP__COUNT] = {
	[HSM_OP_PROBE] = {HSM_OP_PROBE, "probe", 0},
	[HSM_OP_GENERATE] = {HSM_OP_GENERATE, "generate", HSM_OPF_ADMIN},
	[HSM_OP_RELEASE] = {HSM_OP_RELEASE, "release", HSM_OPF_SELFTEST | HSM_OPF_RECYCLE},
	[HSM_OP_RANDOM] = {HSM_OP_RANDOM, "random", 0},
	[HSM_OP_STATS] = {HSM_OP_STATS, "stats", 0},
	[HSM_OP_TOKEN_KEYS] = {HSM_OP_TOKEN_KEYS, "token_keys", 0},
	[HSM_OP_TOKEN_KEY_NEW] = {HSM_OP_TOKEN_KEY_NEW, "token_key_new", HSM_OPF_ADMIN},
	[HSM_OP_SIGN] = {HSM_OP_SIGN, "sign", 0},
	[HSM_OP_TOKEN_KEY_DESTROY] = {HSM_OP_TOKEN_KEY_DESTROY, "token_key_destroy", HSM_OPF_ADMIN},
	[HSM_OP_KEY_LIST] = {HSM_OP_KEY_LIST, "key_list", HSM_OPF_ADMIN},
	[HSM_OP_DESTROY] = {HSM_OP_DESTROY, "destroy", HSM_OPF_ADMIN},
	[HSM_OP_IMPORT_KEY] = {HSM_OP_IMPORT_KEY, "import_key", HSM_OPF_ADMIN},
	[HSM_OP_IMPORT] = {HSM_OP_IMPORT, "import", HSM_OPF_ADMIN | HSM_OPF_RECYCLE},
	[HSM_OP_AUDIT_KEY] = {HSM_OP_AUDIT_KEY, "audit_key", HSM_OPF_ADMIN},
	[HSM_OP_AUDIT_SIGN] = {HSM_OP_AUDIT_SIGN, "audit_sign", 0},
	[HSM_OP_SEAL_KEYS] = {HSM_OP_SEAL_KEYS, "seal_keys", 0},
	[HSM_OP_SEAL_KEY_NEW] = {HSM_OP_SEAL_KEY_NEW, "seal_key_new", HSM_OPF_ADMIN},
	[HSM_OP_LOG] = {HSM_OP_LOG, "log", 0},
};

const struct hsm_op_info *
hsm_op_info(enum hsm_op op)
{
	if ((size_t)op >= KW_ARRAY_SIZE(ops) || ops[op].name == NULL)
		return NULL;
	return &ops[op];
}

enum hsm_op
hsm_op_from_name(const char *name)
{
	for (size_t i = 0; name != NULL && i < KW_ARRAY_SIZE(ops); i++) {
		if (ops[i].name != NULL && strcmp(ops[i].name, name) == 0)
			return ops[i].op;
	}
	return HSM_OP_NONE;
}

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

int
hsm_kind_from_name(const char *name, enum hsm_kind *ret)
{
	for (size_t i = 0; name != NULL && i < KW_ARRAY_SIZE(kind_names); i++) {
		if (kind_names[i] != NULL && strcmp(kind_names[i], name) == 0) {
			*ret = (enum hsm_kind)i;
			return 0;
		}
	}
	return KW_ERR_UNSUPPORTED;
}

size_t
hsm_kind_length(enum hsm_kind k, size_t length)
{
	return k == HSM_KIND_AES128 ? 16 : k == HSM_KIND_AES256 ? 32 : length;
}

int
hsm_member_b64(const json_t *o, const char *key, uint8_t *out, size_t max, size_t want,
    size_t *ret_len)
{
	const char *s;
	size_t len, n;

	if (kw_json_get_str(o, key, &s, &len) != 0 || len > kw_b64url_enclen(max) ||
	    kw_b64url_decode(s, len, out, max, &n) != 0 || n == 0 || (want != 0 && n != want))
		return KW_ERR_INVALID_FORMAT;
	if (ret_len != NULL)
		*ret_len = n;
	return 0;
}

bool
hsm_label_valid(const char *s, size_t len)
{
	if (len == 0 || len > HSM_LABEL_MAX || strlen(s) != len)
		return false;
	/* token keys are reachable through sign/token_key_* only, the import key through
	 * import, the audit key through audit_*, the seal keys through seal_* */
	if (strncmp(s, HSM_TOKEN_LABEL_PREFIX, strlen(HSM_TOKEN_LABEL_PREFIX)) == 0 ||
	    strncmp(s, HSM_IMPORT_LABEL_PREFIX, strlen(HSM_IMPORT_LABEL_PREFIX)) == 0 ||
	    strncmp(s, HSM_AUDIT_LABEL_PREFIX, strlen(HSM_AUDIT_LABEL_PREFIX)) == 0 ||
	    strncmp(s, HSM_SEAL_LABEL_PREFIX, strlen(HSM_SEAL_LABEL_PREFIX)) == 0)
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
