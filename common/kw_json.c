/* SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"

#define KW_JSON_MAX_DEPTH 32

/*
 * jansson does not report every allocation failure: its lexer drops a byte
 * when a token buffer cannot grow and carries on. Every jansson allocation
 * comes through here, so a failure is remembered per thread and the callers
 * that must not return a silently altered value check it (kw_json_parse,
 * kw_json_dumps, and kw_json_oom() for longer sequences).
 */
static _Thread_local bool json_oom;

static void *
json_alloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		json_oom = true;
	return p;
}

void
kw_json_oom_reset(void)
{
	json_oom = false;
}

bool
kw_json_oom(void)
{
	return json_oom;
}

char *
kw_json_dumps(const json_t *v, size_t flags)
{
	bool before = json_oom;
	char *s;

	json_oom = false;
	s = json_dumps(v, flags);
	if (s != NULL && json_oom) {
		kw_free_wipe(s);
		s = NULL;
	}
	json_oom = json_oom || before;
	return s;
}

void
kw_json_init(void)
{
	/* JSON may carry wrapped keys: wipe every block jansson frees. */
	json_set_alloc_funcs(json_alloc, kw_free_wipe);
}

/* 0 when v nests at most max containers deep (v itself counts as one). */
static int
json_depth_ok(const json_t *v, int max)
{
	if (!json_is_object(v) && !json_is_array(v))
		return 0;
	if (max <= 0)
		return KW_ERR_INVALID_FORMAT;
	if (json_is_object(v)) {
		const char *k;
		json_t *m;

		/* json_object_foreach wants a non-const object but only reads it */
		json_object_foreach((json_t *)(uintptr_t)v, k, m) {
			if (json_depth_ok(m, max - 1) != 0)
				return KW_ERR_INVALID_FORMAT;
		}
	} else {
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (json_depth_ok(json_array_get(v, i), max - 1) != 0)
				return KW_ERR_INVALID_FORMAT;
		}
	}
	return 0;
}

int
kw_json_parse(const void *buf, size_t len, size_t max, json_t **ret)
{
	json_error_t err;
	json_t *v = NULL;
	int r = KW_ERR_INVALID_FORMAT;

	if (buf == NULL && len > 0)
		return KW_ERR_INVALID_ARG;
	if (len > max)
		return KW_ERR_TOO_LARGE;
	/* No JSON_ALLOW_NUL (\u0000 is rejected), no JSON_DECODE_ANY. */
	kw_json_oom_reset();
	v = json_loadb(buf == NULL ? "" : buf, len, JSON_REJECT_DUPLICATES, &err);
	if (kw_json_oom()) {
		r = KW_ERR_NOMEM;    /* the value may have lost bytes: never return it */
		goto out;
	}
	if (v == NULL)
		goto out;
	if (!json_is_object(v))
		goto out;
	if (json_depth_ok(v, KW_JSON_MAX_DEPTH) != 0)
		goto out;
	*ret = v;
	v = NULL;    /* transferred */
	r = 0;
out:
	json_decref(v);
	return r;
}

int
kw_json_get_str(const json_t *obj, const char *key, const char **ret, size_t *ret_len)
{
	const json_t *m;

	if (!json_is_object(obj) || key == NULL)
		return KW_ERR_INVALID_ARG;
	if ((m = json_object_get(obj, key)) == NULL)
		return KW_ERR_NOT_FOUND;
	if (!json_is_string(m))
		return KW_ERR_INVALID_FORMAT;
	*ret = json_string_value(m);
	if (ret_len != NULL)
		*ret_len = json_string_length(m);
	return 0;
}

int
kw_json_get_int(const json_t *obj, const char *key, int64_t *ret)
{
	const json_t *m;

	if (!json_is_object(obj) || key == NULL)
		return KW_ERR_INVALID_ARG;
	if ((m = json_object_get(obj, key)) == NULL)
		return KW_ERR_NOT_FOUND;
	if (!json_is_integer(m))
		return KW_ERR_INVALID_FORMAT;
	*ret = (int64_t)json_integer_value(m);
	return 0;
}

int
kw_json_get_bool(const json_t *obj, const char *key, int *ret)
{
	const json_t *m;

	if (!json_is_object(obj) || key == NULL)
		return KW_ERR_INVALID_ARG;
	if ((m = json_object_get(obj, key)) == NULL)
		return KW_ERR_NOT_FOUND;
	if (!json_is_boolean(m))
		return KW_ERR_INVALID_FORMAT;
	*ret = json_is_true(m) ? 1 : 0;
	return 0;
}

const char *
kw_json_unknown_key(const json_t *obj, const char *const *allowed)
{
	const char *k;
	json_t *m;

	/* json_object_foreach wants a non-const object but only reads it */
	json_object_foreach((json_t *)(uintptr_t)obj, k, m) {
		size_t i;

		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], k) == 0)
				break;
		if (allowed[i] == NULL)
			return k;
	}
	return NULL;
}

int
kw_json_check_keys(const json_t *obj, const char *const *allowed)
{
	if (!json_is_object(obj) || allowed == NULL)
		return KW_ERR_INVALID_ARG;
	return kw_json_unknown_key(obj, allowed) != NULL ? KW_ERR_INVALID_FORMAT : 0;
}

static const char *const redact_keys[] = {
	"d", "p", "q", "dp", "dq", "qi", "k", "key", "value", "pin", "secret",
	"token", "nonce", "encrypted_key", "ciphertext", "tee-evidence", "report",
};

static int
is_redacted(const char *k)
{
	for (size_t i = 0; i < KW_ARRAY_SIZE(redact_keys); i++) {
		if (strcmp(redact_keys[i], k) == 0)
			return 1;
	}
	return 0;
}

/* Replace deny-listed members in place; v is a private deep copy. */
static int
redact(json_t *v, int depth)
{
	if (depth > 64)
		return KW_ERR_TOO_LARGE;
	if (json_is_object(v)) {
		const char *k;
		json_t *m;

		json_object_foreach(v, k, m) {
			if (is_redacted(k)) {
				/* replacing an existing key's value does not disturb iteration */
				if (json_object_set_new(v, k, json_string("<redacted>")) != 0)
					return KW_ERR_NOMEM;
			} else if (redact(m, depth + 1) != 0) {
				return KW_ERR_TOO_LARGE;
			}
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (redact(json_array_get(v, i), depth + 1) != 0)
				return KW_ERR_TOO_LARGE;
		}
	}
	return 0;
}

char *
kw_json_dump_redacted(const json_t *v)
{
	json_t *c;
	char *s = NULL;

	if (v == NULL || (c = json_deep_copy(v)) == NULL)
		return NULL;
	if (redact(c, 0) == 0)
		s = kw_json_dumps(c, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(c);
	return s;
}

int
kw_json_set_b64url(json_t *obj, const char *key, const void *p, size_t n)
{
	char *s = NULL;
	int r;

	if ((r = kw_b64url_encode(p, n, &s)) != 0)
		return r;
	r = json_object_set_new(obj, key, json_string(s)) == 0 ? 0 : KW_ERR_NOMEM;
	kw_free_wipe(s);    /* the value may be secret (kwget's activated credential) */
	return r;
}
