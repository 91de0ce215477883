/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TPM 2.0 evidence types in the verifier seam (docs/verifier-tpm.md):
 *
 * tpm-akcert: tee-evidence {"quote", "signature", "pcrs", "ak_cert",
 * "event_log"?}: the AK certificate (base64url DER) chains to a configured
 * AK CA (tpm.akcert_roots) at the verification time, its public key is the
 * key that signed the quote, the quote's extraData is the 48-byte
 * SHA-384(JCS(runtime-data)) (the first 48 bytes of the broker's 64-byte
 * REPORT_DATA), the PCR values match pcrDigest, and the event log, when
 * present, replays to the quoted PCRs.
 */
#include <stdlib.h>
#include <string.h>

#include "kw_json.h"
#include "tpm_evidence.h"
#include "verifier.h"

static const char *const akcert_members[] = {"ak_cert", "quote", "signature", "pcrs", "event_log", NULL};

static const char *const akcert_token_claims[] = {"tee", "root", "debug", "ak_cert_issuer", "ak_cert_sha256",
	"pcrs", "tpm", "eventlog", NULL};

static int
akcert_parse(const json_t *ev, struct tpm_evidence *ret, uint8_t **ret_cert, size_t *ret_cert_len,
    const char **why)
{
	struct tpm_evidence e;
	uint8_t *cert = NULL;
	size_t len = 0;
	int r;

	if ((r = tpm_evidence_parse(ev, akcert_members, ret != NULL ? &e : NULL, why)) != 0)
		return r;
	if ((r = kw_evidence_b64(ev, "ak_cert", TPM_CA_MAX_CERT, &cert, &len)) != 0) {
		*why = "tee-evidence.ak_cert must be base64url of a DER certificate (at most 16 KiB)";
		if (ret != NULL)
			tpm_evidence_clear(&e);
		return r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
	}
	if (ret == NULL) {
		free(cert);
		return 0;
	}
	*ret = e;
	*ret_cert = cert;
	*ret_cert_len = len;
	return 0;
}

static int
akcert_check(const json_t *ev, const char **why)
{
	return akcert_parse(ev, NULL, NULL, NULL, why);
}

static int
akcert_enabled(const struct kw_trust *t)
{
	return t != NULL && t->tpm_akcert != NULL && tpm_ca_count(t->tpm_akcert) > 0;
}

/* Move info's "issuer" and "sha256" to claims' "ak_cert_issuer" and "ak_cert_sha256". */
static int
akcert_claims(json_t *claims, const json_t *info)
{
	if (json_object_set(claims, "ak_cert_issuer", json_object_get(info, "issuer")) != 0 ||
	    json_object_set(claims, "ak_cert_sha256", json_object_get(info, "sha256")) != 0 ||
	    json_object_set(claims, "ak_cert_serial", json_object_get(info, "serial")) != 0)
		return KW_ERR_NOMEM;
	return 0;
}

static int
akcert_appraise(const struct kw_appraisal *in, json_t **ret_claims, const char **why)
{
	struct tpm_evidence e;
	uint8_t *cert = NULL;
	size_t cert_len = 0, exp_len = 0;
	const uint8_t *exp = NULL;
	EVP_PKEY *ak = NULL;
	json_t *claims = NULL, *info = NULL;
	int r;

	*why = "invalid arguments";
	if (in == NULL || ret_claims == NULL || !akcert_enabled(in->trust))
		return KW_ERR_INVALID_ARG;
	/* the broker's REPORT_DATA is 64 bytes; a quote's extraData holds the 48-byte digest only */
	if ((r = tpm_evidence_expected(in->binding, in->binding_len, in->nonce, in->nonce_len, in->nonce_set, &exp,
	    &exp_len, why)) != 0)
		return r;
	if ((r = akcert_parse(in->evidence, &e, &cert, &cert_len, why)) != 0)
		return r;
	/* 1. the AK certificate chains to a configured AK CA; its key is the AK */
	if ((r = tpm_ca_verify(in->trust->tpm_akcert, cert, cert_len, in->at, &ak, &info, why)) != 0)
		goto out;
	/* 2. the quote, signed by that key, bound, over the PCRs given; 3. the event log */
	if ((r = tpm_evidence_verify(&e, ak, exp, exp_len, &claims, NULL, why)) != 0) {
		if (r == KW_ERR_SIG_INVALID)
			*why = "quote signature does not verify with the AK certificate's key";
		goto out;
	}
	*why = "out of memory";
	r = KW_ERR_NOMEM;
	if (json_object_set_new(claims, "tee", json_string(kw_verifier_tpm_akcert.tee)) != 0 ||
	    json_object_set_new(claims, "root", json_string(kw_verifier_tpm_akcert.vendor_root)) != 0 ||
	    json_object_set_new(claims, "debug", json_false()) != 0 || akcert_claims(claims, info) != 0)
		goto out;
	*ret_claims = claims;
	claims = NULL;   /* transferred */
	r = 0;
out:
	json_decref(info);
	json_decref(claims);
	EVP_PKEY_free(ak);
	free(cert);
	tpm_evidence_clear(&e);
	return r;
}

const struct kw_verifier kw_verifier_tpm_akcert = {
	.tee = "tpm-akcert",
	.vendor_root = "ak-ca",
	.appraisal_policy_id = "urn:keywarden:appraisal:tpm-akcert-evidence:v1",
	.log_claim = "ak_cert_sha256",
	.members = akcert_members,
	.token_claims = akcert_token_claims,
	.enabled = akcert_enabled,
	.check = akcert_check,
	.appraise = akcert_appraise,
};
