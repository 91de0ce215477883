/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Audit records: the closed schema of each kind's data, the canonical (JCS)
 * encoding with index, time, kind and the predecessor's leaf hash, and the
 * strict decoder the verifier uses. A closed schema is also the guard that
 * keeps secrets out: a member that is not in the table is refused.
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "kw_json.h"
#include "kw_util.h"

#define AUDIT_RECORD_VERSION 1
#define AUDIT_INT_MAX ((INT64_C(1) << 53) - 1)   /* what JCS numbers carry exactly */

enum f_type { F_STR, F_INT, F_HEX32, F_REFVAL };
struct field {
	const char *name;
	enum f_type type;
	bool required;
};

#define REQ(n, t) { n, t, true }
#define OPT(n, t) { n, t, false }

static const struct field f_appraisal[] = {
	REQ("tee", F_STR), REQ("result", F_STR), OPT("claims_digest", F_HEX32),
	OPT("evidence_digest", F_HEX32),
	OPT("measurement", F_STR), OPT("tcb_status", F_STR), OPT("signer", F_STR),
	OPT("root", F_STR), OPT("jkt", F_STR), OPT("jti", F_STR), OPT("reason", F_STR),
	OPT("client", F_STR), { NULL, 0, false },
};
static const struct field f_release[] = {
	REQ("repository", F_STR), REQ("resource", F_STR), REQ("version", F_INT),
	REQ("policy", F_STR), REQ("policy_version", F_INT), OPT("refval", F_REFVAL),
	REQ("wrap_jkt", F_STR), REQ("client", F_STR), OPT("jti", F_STR), OPT("jkt", F_STR),
	OPT("tee", F_STR), OPT("measurement", F_STR), { NULL, 0, false },
};
static const struct field f_denial[] = {
	REQ("repository", F_STR), REQ("resource", F_STR), REQ("check", F_STR),
	OPT("reason", F_STR), OPT("version", F_INT), OPT("policy", F_STR),
	OPT("policy_version", F_INT), OPT("refval", F_REFVAL), OPT("wrap_jkt", F_STR),
	REQ("client", F_STR), OPT("jti", F_STR), OPT("jkt", F_STR), OPT("tee", F_STR),
	OPT("measurement", F_STR), { NULL, 0, false },
};
static const struct field f_admin[] = {
	REQ("actor", F_STR), REQ("action", F_STR), REQ("outcome", F_STR),
	OPT("repository", F_STR), OPT("target", F_STR), OPT("detail", F_STR),
	{ NULL, 0, false },
};
static const struct field f_start[] = {
	REQ("version", F_STR), REQ("config_digest", F_HEX32), { NULL, 0, false },
};
static const struct field f_stop[] = {
	OPT("reason", F_STR), { NULL, 0, false },
};
static const struct field f_rotation[] = {
	REQ("kid", F_STR), REQ("action", F_STR), OPT("label", F_STR), OPT("created", F_INT),
	{ NULL, 0, false },
};
static const struct field f_refval[] = {
	REQ("set", F_STR), REQ("entry", F_STR), OPT("name", F_STR), OPT("not_before", F_INT),
	OPT("not_after", F_INT),
	{ NULL, 0, false },
};

static const struct {
	const char *name;
	const struct field *fields;
} kinds[AUDIT_KIND__END] = {
	[AUDIT_KIND_APPRAISAL] = { "appraisal", f_appraisal },
	[AUDIT_KIND_RELEASE] = { "release", f_release },
	[AUDIT_KIND_DENIAL] = { "denial", f_denial },
	[AUDIT_KIND_ADMIN_CHANGE] = { "admin_change", f_admin },
	[AUDIT_KIND_START] = { "start", f_start },
	[AUDIT_KIND_STOP] = { "stop", f_stop },
	[AUDIT_KIND_TOKEN_KEY_ROTATION] = { "token_key_rotation", f_rotation },
};

const char *
audit_kind_name(enum audit_kind k)
{
	if ((int)k <= 0 || k >= AUDIT_KIND__END)
		return NULL;
	return kinds[k].name;
}

int
audit_kind_from_name(const char *name, enum audit_kind *ret)
{
	if (name == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	for (int k = 1; k < AUDIT_KIND__END; k++)
		if (strcmp(name, kinds[k].name) == 0) {
			*ret = (enum audit_kind)k;
			return 0;
		}
	return KW_ERR_INVALID_FORMAT;
}

static bool
hex32_valid(const char *s, size_t len)
{
	if (len != 2 * AUDIT_HASH_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static int fields_check(const struct field *fields, const json_t *o, const char **ret_why);

static int
field_check(const struct field *f, const json_t *v, const char **ret_why)
{
	switch (f->type) {
	case F_STR:
	case F_HEX32: {
		size_t len;

		if (!json_is_string(v))
			break;
		len = json_string_length(v);
		if (len == 0 || len > AUDIT_TEXT_MAX || strlen(json_string_value(v)) != len)
			break;
		if (f->type == F_HEX32 && !hex32_valid(json_string_value(v), len))
			break;
		return 0;
	}
	case F_INT:
		if (!json_is_integer(v) || json_integer_value(v) < -AUDIT_INT_MAX ||
		    json_integer_value(v) > AUDIT_INT_MAX)
			break;
		return 0;
	case F_REFVAL:
		return fields_check(f_refval, v, ret_why);
	}
	if (ret_why != NULL)
		*ret_why = f->name;
	return KW_ERR_INVALID_FORMAT;
}

static int
fields_check(const struct field *fields, const json_t *o, const char **ret_why)
{
	const char *key;
	json_t *v;
	int r;

	if (!json_is_object(o)) {
		if (ret_why != NULL)
			*ret_why = "data";
		return KW_ERR_INVALID_FORMAT;
	}
	json_object_foreach((json_t *)(uintptr_t)o, key, v) {
		const struct field *f = fields;

		while (f->name != NULL && strcmp(f->name, key) != 0)
			f++;
		if (f->name == NULL) {
			if (ret_why != NULL)
				*ret_why = "unknown member";
			return KW_ERR_INVALID_FORMAT;
		}
		if ((r = field_check(f, v, ret_why)) != 0)
			return r;
	}
	for (const struct field *f = fields; f->name != NULL; f++)
		if (f->required && json_object_get(o, f->name) == NULL) {
			if (ret_why != NULL)
				*ret_why = f->name;
			return KW_ERR_INVALID_FORMAT;
		}
	return 0;
}

int
audit_data_check(enum audit_kind kind, const json_t *data, const char **ret_why)
{
	if (audit_kind_name(kind) == NULL || !json_is_object(data))
		return KW_ERR_INVALID_ARG;
	return fields_check(kinds[kind].fields, data, ret_why);
}

int
audit_record_encode(uint64_t index, int64_t at, enum audit_kind kind,
    const uint8_t prev[static AUDIT_HASH_LEN], const json_t *data, char **ret, size_t *ret_len)
{
	json_t *o = NULL;
	char *hex = NULL, *out = NULL;
	size_t len = 0;
	int r;

	if (ret == NULL || ret_len == NULL || index > (uint64_t)AUDIT_INT_MAX || at < 0 ||
	    at > AUDIT_INT_MAX)
		return KW_ERR_INVALID_ARG;
	if ((r = audit_data_check(kind, data, NULL)) != 0)
		return r;
	if ((r = kw_hex_encode(prev, AUDIT_HASH_LEN, &hex)) != 0)
		return r;
	kw_json_oom_reset();
	o = json_pack("{s:i, s:I, s:I, s:s, s:s, s:O}", "v", AUDIT_RECORD_VERSION,
	    "index", (json_int_t)index, "at", (json_int_t)at, "kind", audit_kind_name(kind),
	    "prev", hex, "data", (json_t *)(uintptr_t)data);
	if (o == NULL || kw_json_oom()) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if ((r = kw_jcs_serialize(o, &out, &len)) != 0)
		goto out;
	if (len > AUDIT_RECORD_MAX) {
		r = KW_ERR_TOO_LARGE;
		goto out;
	}
	*ret = out;    /* transferred */
	out = NULL;
	*ret_len = len;
	r = 0;
out:
	free(out);
	free(hex);
	json_decref(o);
	return r;
}

void
audit_record_clear(struct audit_record *rec)
{
	if (rec == NULL)
		return;
	json_decref(rec->data);
	memset(rec, 0, sizeof(*rec));
}

int
audit_record_decode(const void *buf, size_t len, struct audit_record *ret)
{
	static const char *const members[] = { "v", "index", "at", "kind", "prev", "data", NULL };
	struct audit_record rec = { .index = 0 };
	json_t *o = NULL, *v;
	const char *s;
	char *again = NULL;
	size_t slen, alen = 0;
	int64_t i;
	int r;

	if (buf == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if (len > AUDIT_RECORD_MAX)
		return KW_ERR_TOO_LARGE;
	if ((r = kw_json_parse(buf, len, AUDIT_RECORD_MAX, &o)) != 0)
		return r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
	r = KW_ERR_INVALID_FORMAT;
	if (kw_json_check_keys(o, members) != 0)
		goto out;
	if (kw_json_get_int(o, "v", &i) != 0 || i != AUDIT_RECORD_VERSION)
		goto out;
	if (kw_json_get_int(o, "index", &i) != 0 || i < 0 || i > AUDIT_INT_MAX)
		goto out;
	rec.index = (uint64_t)i;
	if (kw_json_get_int(o, "at", &i) != 0 || i < 0 || i > AUDIT_INT_MAX)
		goto out;
	rec.at = i;
	if (kw_json_get_str(o, "kind", &s, &slen) != 0 || audit_kind_from_name(s, &rec.kind) != 0)
		goto out;
	if (kw_json_get_str(o, "prev", &s, &slen) != 0 || !hex32_valid(s, slen) ||
	    kw_hex_decode(s, rec.prev, sizeof(rec.prev)) != 0)
		goto out;
	v = json_object_get(o, "data");
	if (v == NULL || audit_data_check(rec.kind, v, NULL) != 0)
		goto out;
	/* canonical: the bytes are exactly what the encoder writes */
	if ((r = kw_jcs_serialize(o, &again, &alen)) != 0) {
		r = r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
		goto out;
	}
	if (alen != len || memcmp(again, buf, len) != 0) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	rec.data = json_incref(v);
	*ret = rec;    /* transferred */
	r = 0;
out:
	free(again);
	json_decref(o);
	return r;
}
