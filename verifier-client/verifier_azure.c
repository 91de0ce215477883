/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Azure confidential VMs' vTPM in the verifier seam: az-snp-vtpm and
 * az-tdx-vtpm (docs/verifier-tpm.md, "Azure vTPM (HCL report)").
 *
 * tee-evidence (docs/protocol.md):
 *   {"snp_hcl_report" | "tdx_hcl_report": b64url HCL report (NV 0x01400001),
 *    "vtpm_quote": b64url TPMS_ATTEST, "vtpm_signature": b64url TPMT_SIGNATURE,
 *    "pcrs": {"sha256": {"0": hex, ...}},
 *    "vcek": PEM (VCEK, then optionally ASK and ARK)      -- az-snp-vtpm
 *    | "td_quote": b64url DCAP quote}                      -- az-tdx-vtpm
 *
 * Checks in order: the HCL report parses and is of the member's hardware;
 * the hardware is appraised (SNP: the report in the HCL slot by snp_verify,
 * VCEK chain to the pinned AMD ARK; TDX: the TD quote by the TDX member's
 * appraisal with the configured collateral, and the TD quote's REPORT_DATA
 * equals the TDREPORT's); the authenticated REPORT_DATA[0:32] equals
 * SHA-256(var_data), so the HCLAkPub key is the vTPM's AK; the quote verifies
 * with that AK (tpm_quote_verify) with extraData equal to the binding and the
 * PCR values supplied.
 *
 * The binding (tpm_evidence_expected, shared with the other TPM members):
 * the broker gives KW_BINDING_LEN (64) bytes, SHA-384(JCS(runtime-data))
 * and 16 zero bytes; the TPM quote's extraData is the 48-byte digest only
 * (the zero tail must be zero and is not in the quote). kwctl --nonce gives
 * the exact extraData instead (in->nonce).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"
#include "tpm_evidence.h"
#include "tpm_hcl.h"
#include "tpm_quote.h"
#include "verifier.h"

#define AZ_MAX_CERTS 4                /* VCEK, ASK, ARK (and one spare) */
#define AZ_MAX_PEM (4 * 4 * SNP_MAX_CERT_LEN)

static const char *const az_snp_members[] = {"snp_hcl_report", "vtpm_quote", "vtpm_signature", "pcrs",
	"vcek", NULL};
static const char *const az_tdx_members[] = {"tdx_hcl_report", "vtpm_quote", "vtpm_signature", "pcrs",
	"td_quote", NULL};

static const char *const az_snp_token_claims[] = {"tee", "product", "signing_key", "root", "measurement",
	"host_data", "debug", "vmpl", "guest_svn", "policy", "tcb", "pcrs", "tpm", "azure", NULL};
static const char *const az_tdx_token_claims[] = {"tee", "root", "tdx_version", "mrtd", "rtmr0", "rtmr1",
	"rtmr2", "rtmr3", "mrconfigid", "mrowner", "mrownerconfig", "mrseam", "mrsignerseam",
	"seam_attributes", "td_attributes", "debug", "sept_ve_disable", "xfam", "tee_tcb_svn",
	"tee_tcb_svn2", "mrservicetd", "fmspc", "tcb_status", "platform_tcb_status", "tcb_date",
	"advisory_ids", "tdx_module_status", "tdx_module_id", "qe_status", "collateral", "pcrs", "tpm",
	"azure", NULL};

struct az_ev {
	uint8_t *hcl, *quote, *sig, *td_quote;
	size_t hcl_len, quote_len, sig_len, td_quote_len;
	struct tpm_pcrs pcrs;
	uint8_t *certs[AZ_MAX_CERTS];    /* SNP: DER, VCEK first */
	size_t cert_lens[AZ_MAX_CERTS];
	size_t ncerts;
};

static void
az_ev_clear(struct az_ev *e)
{
	free(e->hcl);
	free(e->quote);
	free(e->sig);
	free(e->td_quote);
	for (size_t i = 0; i < e->ncerts; i++)
		free(e->certs[i]);
	memset(e, 0, sizeof(*e));
}

/* The certificates of a PEM text (1..AZ_MAX_CERTS) as DER. */
static int
pem_certs(const char *pem, size_t len, struct az_ev *e)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	int r = KW_ERR_NOMEM;

	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)   /* len <= AZ_MAX_PEM */
		goto out;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		unsigned char *der = NULL;
		int n = i2d_X509(x, &der);

		X509_free(x);
		if (n <= 0 || (size_t)n > SNP_MAX_CERT_LEN || e->ncerts == AZ_MAX_CERTS) {
			OPENSSL_free(der);
			r = KW_ERR_INVALID_FORMAT;
			goto out;
		}
		if ((e->certs[e->ncerts] = malloc((size_t)n)) == NULL) {
			OPENSSL_free(der);
			goto out;
		}
		memcpy(e->certs[e->ncerts], der, (size_t)n);
		e->cert_lens[e->ncerts++] = (size_t)n;
		OPENSSL_free(der);
	}
	/* the loop ends at the end of the text, nothing else */
	r = ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE && e->ncerts > 0 ?
	    0 : KW_ERR_INVALID_FORMAT;
out:
	ERR_clear_error();
	BIO_free(bio);
	return r;
}

/* The strict shape; with ret the decoded parts too (az_ev_clear). */
static int
az_parse(const json_t *ev, int tdx, struct az_ev *ret, const char **why)
{
	const char *const *members = tdx ? az_tdx_members : az_snp_members;
	struct az_ev e;
	const json_t *v;
	int r;

	memset(&e, 0, sizeof(e));
	if (!json_is_object(ev) || kw_json_check_keys(ev, members) != 0) {
		*why = "unknown member in tee-evidence";
		return KW_ERR_INVALID_FORMAT;
	}
	if ((r = kw_evidence_b64(ev, members[0], TPM_HCL_MAX_REPORT, &e.hcl, &e.hcl_len)) != 0) {
		*why = tdx ? "tee-evidence.tdx_hcl_report must be base64url (at most 20 KiB)" :
		    "tee-evidence.snp_hcl_report must be base64url (at most 20 KiB)";
		goto fail;
	}
	if ((r = kw_evidence_b64(ev, "vtpm_quote", TPM_MAX_ATTEST, &e.quote, &e.quote_len)) != 0) {
		*why = "tee-evidence.vtpm_quote must be base64url (at most 1 KiB)";
		goto fail;
	}
	if ((r = kw_evidence_b64(ev, "vtpm_signature", TPM_MAX_SIGNATURE, &e.sig, &e.sig_len)) != 0) {
		*why = "tee-evidence.vtpm_signature must be base64url (at most 1 KiB)";
		goto fail;
	}
	if ((v = json_object_get(ev, "pcrs")) == NULL) {
		r = KW_ERR_INVALID_FORMAT;
		*why = "tee-evidence.pcrs is required";
		goto fail;
	}
	if ((r = tpm_pcrs_from_json(v, &e.pcrs, why)) != 0)
		goto fail;
	if (tdx) {
		if ((r = kw_evidence_b64(ev, "td_quote", TDX_MAX_QUOTE, &e.td_quote, &e.td_quote_len)) != 0) {
			*why = "tee-evidence.td_quote must be base64url (at most 64 KiB)";
			goto fail;
		}
	} else {
		v = json_object_get(ev, "vcek");
		r = KW_ERR_INVALID_FORMAT;
		*why = "tee-evidence.vcek must be PEM: the VCEK, then optionally ASK and ARK";
		if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > AZ_MAX_PEM)
			goto fail;
		if ((r = pem_certs(json_string_value(v), json_string_length(v), &e)) != 0)
			goto fail;
	}
	if (ret != NULL)
		*ret = e;
	else
		az_ev_clear(&e);
	return 0;
fail:
	az_ev_clear(&e);
	return r == KW_ERR_NOMEM ? r : (r == KW_ERR_TOO_LARGE ? r : KW_ERR_INVALID_FORMAT);
}

static int
az_snp_check(const json_t *ev, const char **why)
{
	return az_parse(ev, 0, NULL, why);
}

static int
az_tdx_check(const json_t *ev, const char **why)
{
	return az_parse(ev, 1, NULL, why);
}

static int
az_snp_enabled(const struct kw_trust *t)
{
	return t != NULL && t->snp != NULL;
}

static int
az_tdx_enabled(const struct kw_trust *t)
{
	return t != NULL && t->tdx != NULL && t->tdx_collateral != NULL;
}

/* The claim "report_data" (128 hex) of hardware claims as bytes. */
static int
claims_report_data(const json_t *claims, uint8_t rd[static 64], const char **why)
{
	const char *hex = json_string_value(json_object_get(claims, "report_data"));

	if (hex == NULL || strlen(hex) != 128 || kw_hex_decode(hex, rd, 64) != 0) {
		*why = "verifier returned no report_data";
		return KW_ERR_INTERNAL;
	}
	return 0;
}

/* The hardware: 0 and the hardware claims, after which hcl's var_data (and AK) is authentic. */
static int
az_hardware(const struct kw_appraisal *in, const struct az_ev *e, const struct tpm_hcl *hcl,
    json_t **ret_claims, const char **why)
{
	struct snp_evidence sev;
	struct snp_verify_opts o;
	json_t *claims = NULL;
	uint8_t rd[64];
	int r;

	if (hcl->type == TPM_HCL_SNP) {
		memset(&sev, 0, sizeof(sev));
		sev.report = hcl->hw_report;
		sev.report_len = hcl->hw_report_len;
		for (size_t i = 0; i < e->ncerts; i++) {
			sev.certs[i] = e->certs[i];
			sev.cert_lens[i] = e->cert_lens[i];
		}
		sev.ncerts = e->ncerts;
		o.at = in->at;
		o.allow_debug = in->allow_debug;
		*why = "evidence did not verify";
		if ((r = snp_verify(in->trust->snp, &sev, &o, &claims, why)) != 0)
			goto out;
		if ((r = claims_report_data(claims, rd, why)) != 0)
			goto out;
	} else {
		if ((r = kw_tdx_appraise_quote(in, e->td_quote, e->td_quote_len, &claims, why)) != 0)
			goto out;
		if ((r = claims_report_data(claims, rd, why)) != 0)
			goto out;
		/* the TD quote speaks for the TDREPORT in the HCL report (constant time) */
		if (CRYPTO_memcmp(rd, hcl->report_data, sizeof(rd)) != 0) {
			*why = "TD quote REPORT_DATA does not match the HCL report's TDREPORT";
			r = KW_ERR_MISMATCH;
			goto out;
		}
	}
	if ((r = tpm_hcl_check_binding(hcl, rd, why)) != 0)
		goto out;
	*ret_claims = claims;
	claims = NULL;   /* transferred */
out:
	json_decref(claims);
	return r;
}

/* Move every member of src into dst (src is emptied); 0 or KW_ERR_NOMEM. */
static int
merge_into(json_t *dst, json_t *src)
{
	return json_object_update(dst, src) == 0 ? 0 : KW_ERR_NOMEM;
}

static int
az_appraise(const struct kw_appraisal *in, int tdx, json_t **ret_claims, const char **why)
{
	const struct kw_verifier *self = tdx ? &kw_verifier_az_tdx_vtpm : &kw_verifier_az_snp_vtpm;
	struct tpm_hcl *hcl = NULL;
	struct az_ev e;
	json_t *claims = NULL, *tpm = NULL, *azure = NULL;
	const uint8_t *expected = NULL;
	size_t expected_len = 0;
	int r;

	*why = "invalid arguments";
	if (in == NULL || ret_claims == NULL || !self->enabled(in->trust))
		return KW_ERR_INVALID_ARG;
	if ((r = az_parse(in->evidence, tdx, &e, why)) != 0)
		return r;
	if ((r = tpm_hcl_parse(e.hcl, e.hcl_len, &hcl, why)) != 0)
		goto out;
	if (hcl->type != (tdx ? TPM_HCL_TDX : TPM_HCL_SNP)) {
		*why = tdx ? "the HCL report holds no TDX TDREPORT" : "the HCL report holds no SNP report";
		r = KW_ERR_MISMATCH;
		goto out;
	}
	/* 1. the hardware, and through it var_data and the AK */
	if ((r = az_hardware(in, &e, hcl, &claims, why)) != 0)
		goto out;
	/* 2. the quote, signed by that AK, over the PCRs, bound to the challenge */
	if ((r = tpm_evidence_expected(in->binding, in->binding_len, in->nonce, in->nonce_len, in->nonce_set,
	    &expected, &expected_len, why)) != 0)
		goto out;
	if ((r = tpm_quote_verify(e.quote, e.quote_len, e.sig, e.sig_len, hcl->ak, &e.pcrs, expected,
	    expected_len, &tpm, NULL, why)) != 0)
		goto out;
	/* 3. claims: the hardware's, then pcrs and tpm, then the HCL runtime claims */
	r = KW_ERR_NOMEM;
	*why = "out of memory";
	if ((azure = tpm_hcl_claims(hcl)) == NULL || merge_into(claims, tpm) != 0 ||
	    json_object_set_new(claims, "azure", azure) != 0) {
		azure = NULL;   /* stolen by json_object_set_new, also on failure */
		goto out;
	}
	azure = NULL;   /* transferred */
	if (json_object_set_new(claims, "tee", json_string(self->tee)) != 0)
		goto out;
	*ret_claims = claims;
	claims = NULL;   /* transferred */
	r = 0;
out:
	json_decref(azure);
	json_decref(tpm);
	json_decref(claims);
	tpm_hcl_free(hcl);
	az_ev_clear(&e);
	return r;
}

static int
az_snp_appraise(const struct kw_appraisal *in, json_t **ret_claims, const char **why)
{
	return az_appraise(in, 0, ret_claims, why);
}

static int
az_tdx_appraise(const struct kw_appraisal *in, json_t **ret_claims, const char **why)
{
	return az_appraise(in, 1, ret_claims, why);
}

const struct kw_verifier kw_verifier_az_snp_vtpm = {
	.tee = "az-snp-vtpm",
	.vendor_root = "amd",
	.appraisal_policy_id = "urn:keywarden:appraisal:az-snp-vtpm-evidence:v1",
	.log_claim = "measurement",
	.members = az_snp_members,
	.token_claims = az_snp_token_claims,
	.enabled = az_snp_enabled,
	.check = az_snp_check,
	.appraise = az_snp_appraise,
};

const struct kw_verifier kw_verifier_az_tdx_vtpm = {
	.tee = "az-tdx-vtpm",
	.vendor_root = "intel",
	.appraisal_policy_id = "urn:keywarden:appraisal:az-tdx-vtpm-evidence:v1",
	.log_claim = "mrtd",
	.members = az_tdx_members,
	.token_claims = az_tdx_token_claims,
	.enabled = az_tdx_enabled,
	.check = az_tdx_check,
	.appraise = az_tdx_appraise,
};
