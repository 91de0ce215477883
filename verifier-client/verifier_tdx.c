/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel TDX in the verifier seam: tee-evidence {"quote", "cc_eventlog"?}
 * (base64url of the DCAP quote; the CC event log is accepted as a string and
 * not used: RTMRs are appraised as reported, not replayed), the collateral
 * for the quote's FMSPC from the configured source, tdx_verify_quote at the
 * appraisal time, the binding.
 */
#include <stdlib.h>
#include <string.h>

#include "kw_json.h"
#include "kw_util.h"
#include "verifier.h"

#define TDX_SEAM_MAX_EVENTLOG (1024 * 1024)   /* characters; the request body cap is smaller */

static const char *const tdx_members[] = {"quote", "cc_eventlog", NULL};

static const char *const tdx_token_claims[] = {"tee", "root", "tdx_version", "mrtd", "rtmr0", "rtmr1",
	"rtmr2", "rtmr3", "mrconfigid", "mrowner", "mrownerconfig", "mrseam", "mrsignerseam",
	"seam_attributes", "td_attributes", "debug", "sept_ve_disable", "xfam", "tee_tcb_svn",
	"tee_tcb_svn2", "mrservicetd", "fmspc", "tcb_status", "platform_tcb_status", "tcb_date",
	"advisory_ids", "tdx_module_status", "tdx_module_id", "qe_status", "collateral", NULL};

/* The strict shape; with ret the decoded quote (free()). */
static int
tdx_parse(const json_t *ev, uint8_t **ret, size_t *ret_len, const char **why)
{
	const json_t *log;
	uint8_t *q = NULL;
	size_t qlen = 0;
	int r;

	if (!json_is_object(ev) || kw_json_check_keys(ev, tdx_members) != 0) {
		*why = "unknown member in tee-evidence";
		return KW_ERR_INVALID_FORMAT;
	}
	if ((r = kw_evidence_b64(ev, "quote", TDX_MAX_QUOTE, &q, &qlen)) != 0) {
		*why = "tee-evidence.quote must be base64url (at most 64 KiB)";
		return r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
	}
	log = json_object_get(ev, "cc_eventlog");
	if (log != NULL && (!json_is_string(log) || json_string_length(log) > TDX_SEAM_MAX_EVENTLOG)) {
		free(q);
		*why = "tee-evidence.cc_eventlog must be a string (it is not used)";
		return KW_ERR_INVALID_FORMAT;
	}
	if (ret != NULL) {
		*ret = q;
		*ret_len = qlen;
	} else {
		free(q);
	}
	return 0;
}

static int
tdx_check(const json_t *ev, const char **why)
{
	return tdx_parse(ev, NULL, NULL, why);
}

static int
tdx_enabled(const struct kw_trust *t)
{
	return t != NULL && t->tdx != NULL && t->tdx_collateral != NULL;
}

/* Diagnostics are best effort: v is taken, also when it cannot be added. */
static void
diag_set(json_t *diag, const char *key, json_t *v)
{
	if (diag == NULL) {
		json_decref(v);
		return;
	}
	(void)json_object_set_new(diag, key, v);   /* steals v, also on failure */
}

int
kw_tdx_appraise_quote(const struct kw_appraisal *in, const uint8_t *quote, size_t qlen, json_t **ret_claims,
    const char **why)
{
	struct tdx_quote_platform plat;
	struct tdx_collateral *c = NULL;
	struct tdx_trace tr;
	struct tdx_verify_opts o;
	json_t *claims = NULL;
	char *fmspc = NULL;
	int r;

	*why = "invalid arguments";
	if (in == NULL || quote == NULL || ret_claims == NULL || !tdx_enabled(in->trust))
		return KW_ERR_INVALID_ARG;
	/* the platform the PCK chain certifies selects the collateral */
	if ((r = tdx_quote_platform(in->trust->tdx, quote, qlen, &plat, why)) != 0)
		goto out;
	if (in->diag != NULL && kw_hex_encode(plat.fmspc, sizeof(plat.fmspc), &fmspc) == 0)
		diag_set(in->diag, "fmspc", json_string(fmspc));
	if ((r = kw_tdx_source_get(in->trust->tdx_collateral, plat.fmspc,
	    plat.processor_ca ? KW_PCK_CA_PROCESSOR : KW_PCK_CA_PLATFORM, in->at, &c, why)) != 0)
		goto out;
	memset(&o, 0, sizeof(o));
	o.at = in->at;
	o.allow_debug = in->allow_debug;
	o.trace = &tr;
	r = tdx_verify_quote(in->trust->tdx, quote, qlen, c, &o, &claims, why);
	if (tr.final != TDX_TCB_UNKNOWN)
		diag_set(in->diag, "tcb_status", json_string(tdx_tcb_status_name(tr.final)));
	if (r != 0)
		goto out;
	*ret_claims = claims;
	claims = NULL;   /* transferred */
out:
	json_decref(claims);
	tdx_collateral_free(c);
	free(fmspc);
	return r;
}

static int
tdx_appraise(const struct kw_appraisal *in, json_t **ret_claims, const char **why)
{
	uint8_t *quote = NULL;
	size_t qlen = 0;
	json_t *claims = NULL;
	int r;

	*why = "invalid arguments";
	if (in == NULL || ret_claims == NULL || !tdx_enabled(in->trust))
		return KW_ERR_INVALID_ARG;
	if ((r = tdx_parse(in->evidence, &quote, &qlen, why)) != 0)
		return r;
	if ((r = kw_tdx_appraise_quote(in, quote, qlen, &claims, why)) != 0)
		goto out;
	/* bind: REPORT_DATA must be SHA-384(JCS(runtime-data)) zero-padded, as for SNP */
	if ((r = kw_binding_check(claims, in->binding, in->binding_len, why)) != 0)
		goto out;
	*ret_claims = claims;
	claims = NULL;   /* transferred */
out:
	json_decref(claims);
	free(quote);
	return r;
}

const struct kw_verifier kw_verifier_tdx = {
	.tee = "tdx",
	.vendor_root = "intel",
	.appraisal_policy_id = "urn:keywarden:appraisal:tdx-evidence:v1",
	.log_claim = "mrtd",
	.members = tdx_members,
	.token_claims = tdx_token_claims,
	.enabled = tdx_enabled,
	.check = tdx_check,
	.appraise = tdx_appraise,
};
