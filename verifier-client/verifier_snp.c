/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AMD SEV-SNP in the verifier seam: tee-evidence {"report", "vcek", "chain"?}
 * (base64url of the 1184-byte ATTESTATION_REPORT, of the VCEK or VLEK DER,
 * and of up to three chain certificates), snp_verify, the binding.
 */
#include <stdlib.h>
#include <string.h>

#include "kw_b64url.h"
#include "kw_json.h"
#include "verifier.h"

#define SNP_SEAM_MAX_REPORT 4096     /* a report is 1184 bytes; the parser says so exactly */
#define SNP_SEAM_MAX_CERTS 4         /* VCEK/VLEK and at most three chain certificates */

static const char *const snp_members[] = {"report", "vcek", "chain", NULL};

static const char *const snp_token_claims[] = {"tee", "product", "signing_key", "root", "measurement",
	"host_data", "debug", "vmpl", "guest_svn", "policy", "tcb", NULL};

struct snp_seam_ev {
	uint8_t *report;
	size_t report_len;
	uint8_t *certs[SNP_SEAM_MAX_CERTS];
	size_t cert_lens[SNP_SEAM_MAX_CERTS];
	size_t ncerts;
};

static void
snp_seam_ev_clear(struct snp_seam_ev *e)
{
	free(e->report);
	for (size_t i = 0; i < e->ncerts; i++)
		free(e->certs[i]);
	memset(e, 0, sizeof(*e));
}

/* The strict shape; with ret the decoded bytes too (freed with snp_seam_ev_clear). */
static int
snp_parse(const json_t *ev, struct snp_seam_ev *ret, const char **why)
{
	struct snp_seam_ev e;
	const json_t *c, *v;
	size_t i;
	int r;

	memset(&e, 0, sizeof(e));
	if (!json_is_object(ev) || kw_json_check_keys(ev, snp_members) != 0) {
		*why = "unknown member in tee-evidence";
		return KW_ERR_INVALID_FORMAT;
	}
	if ((r = kw_evidence_b64(ev, "report", SNP_SEAM_MAX_REPORT, &e.report, &e.report_len)) != 0) {
		*why = "tee-evidence.report must be base64url (at most 4 KiB)";
		goto fail;
	}
	if ((r = kw_evidence_b64(ev, "vcek", SNP_MAX_CERT_LEN, &e.certs[0], &e.cert_lens[0])) != 0) {
		*why = "tee-evidence.vcek must be a base64url DER certificate";
		goto fail;
	}
	e.ncerts = 1;
	if ((c = json_object_get(ev, "chain")) != NULL) {
		if (!json_is_array(c) || json_array_size(c) > SNP_SEAM_MAX_CERTS - 1) {
			r = KW_ERR_INVALID_FORMAT;
			*why = "tee-evidence.chain must be an array of at most 3 certificates";
			goto fail;
		}
		json_array_foreach(c, i, v) {
			if (!json_is_string(v) || json_string_length(v) == 0) {
				r = KW_ERR_INVALID_FORMAT;
			} else {
				r = kw_b64url_decode_public_alloc(json_string_value(v),
				    json_string_length(v), SNP_MAX_CERT_LEN, &e.certs[e.ncerts],
				    &e.cert_lens[e.ncerts]);
			}
			if (r != 0) {
				*why = "tee-evidence.chain entries must be base64url DER certificates";
				goto fail;
			}
			e.ncerts++;
		}
	}
	if (ret != NULL)
		*ret = e;
	else
		snp_seam_ev_clear(&e);
	return 0;
fail:
	snp_seam_ev_clear(&e);
	return r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
}

static int
snp_check(const json_t *ev, const char **why)
{
	return snp_parse(ev, NULL, why);
}

static int
snp_enabled(const struct kw_trust *t)
{
	return t != NULL && t->snp != NULL;
}

static int
snp_appraise(const struct kw_appraisal *in, json_t **ret_claims, const char **why)
{
	struct snp_seam_ev e;
	struct snp_evidence ev;
	struct snp_verify_opts o;
	json_t *claims = NULL;
	int r;

	*why = "invalid arguments";
	if (in == NULL || ret_claims == NULL || !snp_enabled(in->trust))
		return KW_ERR_INVALID_ARG;
	if ((r = snp_parse(in->evidence, &e, why)) != 0)
		return r;
	memset(&ev, 0, sizeof(ev));
	ev.report = e.report;
	ev.report_len = e.report_len;
	for (size_t i = 0; i < e.ncerts; i++) {
		ev.certs[i] = e.certs[i];
		ev.cert_lens[i] = e.cert_lens[i];
	}
	ev.ncerts = e.ncerts;
	o.at = in->at;
	o.allow_debug = in->allow_debug;
	*why = "evidence did not verify";
	if ((r = snp_verify(in->trust->snp, &ev, &o, &claims, why)) != 0)
		goto out;
	/* bind: report data must be SHA-384(JCS(runtime-data)) zero-padded */
	if ((r = kw_binding_check(claims, in->binding, in->binding_len, why)) != 0)
		goto out;
	*ret_claims = claims;
	claims = NULL;   /* transferred */
out:
	json_decref(claims);
	snp_seam_ev_clear(&e);
	return r;
}

const struct kw_verifier kw_verifier_snp = {
	.tee = "snp",
	.vendor_root = "amd",
	.appraisal_policy_id = "urn:keywarden:appraisal:snp-evidence:v1",
	.log_claim = "measurement",
	.members = snp_members,
	.token_claims = snp_token_claims,
	.enabled = snp_enabled,
	.check = snp_check,
	.appraise = snp_appraise,
};
