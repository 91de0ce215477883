/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Arm CCA in the verifier seam: tee-evidence {"token"} (base64url of the
 * CBOR tag 399 collection: platform and realm COSE_Sign1 tokens), cca_verify
 * against the configured CPAKs, the debug lifecycle rule, the binding: the
 * 64-byte realm challenge must be REPORT_DATA (SHA-384(JCS(runtime-data)) ‖
 * 16 zero bytes), the same rule as SNP and TDX.
 */
#include <stdlib.h>

#include <openssl/crypto.h>

#include "cca.h"
#include "kw_json.h"
#include "kw_util.h"
#include "verifier.h"

static const char *const cca_members[] = {"token", NULL};

static const char *const cca_token_claims[] = {"tee", "root", "cpak", "platform_profile", "implementation_id",
	"instance_id", "platform_config", "lifecycle", "lifecycle_state", "debug", "platform_hash_alg",
	"verification_service", "sw_components", "realm_profile", "rim", "rem0", "rem1", "rem2", "rem3",
	"realm_hash_alg", "rak_hash_alg", "personalization", NULL};

/* The strict shape; with ret the decoded token (free()). */
static int
cca_parse(const json_t *ev, uint8_t **ret, size_t *ret_len, const char **why)
{
	uint8_t *tok = NULL;
	size_t len = 0;
	int r;

	if (!json_is_object(ev) || kw_json_check_keys(ev, cca_members) != 0) {
		*why = "unknown member in tee-evidence";
		return KW_ERR_INVALID_FORMAT;
	}
	if ((r = kw_evidence_b64(ev, "token", CCA_MAX_TOKEN, &tok, &len)) != 0) {
		*why = "tee-evidence.token must be base64url (at most 16 KiB)";
		return r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
	}
	if (ret != NULL) {
		*ret = tok;
		*ret_len = len;
	} else {
		free(tok);
	}
	return 0;
}

static int
cca_check(const json_t *ev, const char **why)
{
	return cca_parse(ev, NULL, NULL, why);
}

static int
cca_enabled(const struct kw_trust *t)
{
	return t != NULL && cca_trust_count(t->cca) > 0;
}

static int
cca_appraise(const struct kw_appraisal *in, json_t **ret_claims, const char **why)
{
	uint8_t *tok = NULL;
	size_t len = 0;
	json_t *claims = NULL;
	int r;

	*why = "invalid arguments";
	if (in == NULL || ret_claims == NULL || !cca_enabled(in->trust))
		return KW_ERR_INVALID_ARG;
	if ((r = cca_parse(in->evidence, &tok, &len, why)) != 0)
		return r;
	if ((r = cca_verify(in->trust->cca, tok, len, &claims, why)) != 0)
		goto out;
	/* a platform in a debug lifecycle state is debuggable: refused unless debug is allowed */
	if (json_is_true(json_object_get(claims, "debug")) && !in->allow_debug) {
		*why = "platform lifecycle is a debug state";
		r = KW_ERR_DEBUG_GUEST;
		goto out;
	}
	/* bind: the realm challenge must be SHA-384(JCS(runtime-data)) zero-padded, as for SNP */
	if ((r = kw_binding_check(claims, in->binding, in->binding_len, why)) != 0)
		goto out;
	/* kwctl --nonce: without a binding, the exact challenge expected */
	if (in->binding == NULL && in->nonce_set) {
		uint8_t chal[CCA_CHALLENGE_LEN];
		const char *hex = json_string_value(json_object_get(claims, "report_data"));

		*why = "realm challenge does not match the expected nonce (64 bytes)";
		r = KW_ERR_MISMATCH;
		if (in->nonce == NULL || in->nonce_len != sizeof(chal) || hex == NULL ||
		    kw_hex_decode(hex, chal, sizeof(chal)) != 0 || CRYPTO_memcmp(chal, in->nonce, sizeof(chal)) != 0)
			goto out;
		r = 0;
	}
	*ret_claims = claims;
	claims = NULL;   /* transferred */
out:
	json_decref(claims);
	free(tok);
	return r;
}

const struct kw_verifier kw_verifier_cca = {
	.tee = "cca",
	.vendor_root = "cpak",
	.appraisal_policy_id = "urn:keywarden:appraisal:cca-evidence:v1",
	.log_claim = "rim",
	.members = cca_members,
	.token_claims = cca_token_claims,
	.enabled = cca_enabled,
	.check = cca_check,
	.appraise = cca_appraise,
};
