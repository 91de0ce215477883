/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the broker's side of a helper reply datagram (hsm_msg.c):
 * the envelope (hsm_reply_parse, what hsm_client.c's dispatch reads to
 * match a pending call) and, for an ok reply, the typed decoding as the
 * reply to every op, since the op comes from the pending call, not from the
 * datagram. Invariants of every result that decodes are checked, and a
 * copy (hsm_result_copy, the admin bridge's) decodes to the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_msg.h"
#include "kw_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct hsm_result *res)
{
	switch (res->op) {
	case HSM_OP_PROBE:
		if (res->u.probe.token == NULL || res->u.probe.module == NULL ||
		    res->u.probe.n_profiles > HSM_PROBE_PROFILES_MAX)
			abort();
		for (size_t i = 0; i < res->u.probe.n_profiles; i++)
			if (res->u.probe.profiles[i] == NULL)
				abort();
		break;
	case HSM_OP_GENERATE:
	case HSM_OP_IMPORT:
		if (res->op == HSM_OP_IMPORT && res->u.import.kind == 0)
			break;    /* an older helper's import reply */
		if (hsm_kind_name(res->u.generate.kind) == NULL || res->u.generate.length == 0 ||
		    res->u.generate.length > HSM_SECRET_MAX ||
		    hsm_kind_length(res->u.generate.kind, res->u.generate.length) !=
		    res->u.generate.length)
			abort();
		break;
	case HSM_OP_RELEASE:
		if (strlen(res->u.release.jwe) != res->u.release.jwe_len || res->u.release.jwe_len < 9)
			abort();
		break;
	case HSM_OP_RANDOM:
		if (res->u.random.len == 0 || res->u.random.len > HSM_RANDOM_MAX)
			abort();
		break;
	case HSM_OP_STATS:
		if (res->u.stats.rss_kb < -1)
			abort();
		break;
	case HSM_OP_TOKEN_KEYS:
		if (res->u.token_keys.n > HSM_TOKEN_KEYS_MAX)
			abort();
		for (size_t i = 0; i < res->u.token_keys.n; i++) {
			const struct hsm_token_key_entry *e = &res->u.token_keys.k[i];
			int64_t n;

			if (hsm_token_label_parse(e->label, strlen(e->label), &n) != 0 ||
			    n != e->created || strlen(e->kid) != HSM_JWK_KID_LEN ||
			    !json_is_object(e->jwk) ||
			    (i > 0 && e->created <= res->u.token_keys.k[i - 1].created))
				abort();
		}
		break;
	case HSM_OP_KEY_LIST:
		if (res->u.key_list.n > HSM_KEY_LIST_PAGE)
			abort();
		for (size_t i = 0; i < res->u.key_list.n; i++) {
			const char *l = res->u.key_list.labels[i];

			if (!hsm_key_label_valid(l, strlen(l)) ||
			    (i > 0 && strcmp(res->u.key_list.labels[i - 1], l) >= 0))
				abort();
		}
		break;
	case HSM_OP_IMPORT_KEY:
		if (strlen(res->u.import_key.kid) != HSM_JWK_KID_LEN ||
		    !json_is_object(res->u.import_key.jwk))
			abort();
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct hsm_result *res, *copy;
	json_t *o = NULL;
	uint32_t id;
	int err;

	if (!init) {
		kw_json_init();
		init = 1;
	}
	if (hsm_reply_parse(data, size, &id, &err, &o) != 0)
		return 0;
	if (err > 0 || (err != 0 && err <= KW_ERR__LAST) || !json_is_object(o))
		abort();
	for (int op = HSM_OP_NONE; err == 0 && op < HSM_OP__COUNT; op++) {
		res = NULL;
		if (hsm_result_decode((enum hsm_op)op, o, &res) != 0) {
			if (res != NULL || op == HSM_OP_NONE)
				abort();
			continue;
		}
		if (res->op != (enum hsm_op)op || res->json != o)
			abort();
		check(res);
		if (hsm_result_copy(res, &copy) == 0) {
			if (copy->op != res->op || !json_equal(copy->json, res->json))
				abort();
			check(copy);
			hsm_result_free(copy);
		}
		hsm_result_free(res);
	}
	json_decref(o);
	return 0;
}
