/* SPDX-License-Identifier: Apache-2.0 */
/* The shared tee-evidence members of the TPM evidence types (tpm_evidence.h). */
#include <stdlib.h>
#include <string.h>

#include "kw_b64url.h"
#include "kw_json.h"
#include "tpm_evidence.h"

static int
b64_member(const json_t *ev, const char *name, size_t max, uint8_t **ret, size_t *ret_len)
{
	const json_t *v = json_object_get(ev, name);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return KW_ERR_INVALID_FORMAT;
	if (json_string_length(v) > kw_b64url_enclen(max))
		return KW_ERR_TOO_LARGE;
	return kw_b64url_decode_alloc(json_string_value(v), json_string_length(v), max, ret, ret_len);
}

void
tpm_evidence_clear(struct tpm_evidence *e)
{
	if (e == NULL)
		return;
	free(e->quote);
	free(e->sig);
	free(e->event_log);
	memset(e, 0, sizeof(*e));
}

int
tpm_evidence_parse(const json_t *ev, const char *const *allowed, struct tpm_evidence *ret, const char **why)
{
	struct tpm_evidence *e = NULL;
	int r;

	if (!json_is_object(ev) || allowed == NULL || kw_json_check_keys(ev, allowed) != 0) {
		*why = "unknown member in tee-evidence";
		return KW_ERR_INVALID_FORMAT;
	}
	/* struct tpm_pcrs is a few KiB: keep it off the loop thread's stack */
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		*why = "out of memory";
		return KW_ERR_NOMEM;
	}
	if ((r = b64_member(ev, "quote", TPM_MAX_ATTEST, &e->quote, &e->quote_len)) != 0) {
		*why = "tee-evidence.quote must be base64url of a TPMS_ATTEST (at most 1 KiB)";
		goto fail;
	}
	if ((r = b64_member(ev, "signature", TPM_MAX_SIGNATURE, &e->sig, &e->sig_len)) != 0) {
		*why = "tee-evidence.signature must be base64url of a TPMT_SIGNATURE (at most 1 KiB)";
		goto fail;
	}
	if ((r = tpm_pcrs_from_json(json_object_get(ev, "pcrs"), &e->pcrs, why)) != 0)
		goto fail;
	if (json_object_get(ev, "event_log") != NULL &&
	    (r = b64_member(ev, "event_log", TPM_EVIDENCE_MAX_EVENTLOG, &e->event_log, &e->event_log_len)) != 0) {
		*why = "tee-evidence.event_log must be base64url of a TCG event log (at most 512 KiB)";
		goto fail;
	}
	if (ret != NULL)
		*ret = *e;
	else
		tpm_evidence_clear(e);
	free(e);
	return 0;
fail:
	tpm_evidence_clear(e);
	free(e);
	return r == KW_ERR_NOMEM || r == KW_ERR_TOO_LARGE ? r : KW_ERR_INVALID_FORMAT;
}

int
tpm_evidence_expected(const uint8_t *binding, size_t binding_len, const uint8_t *nonce, size_t nonce_len,
    int nonce_set, const uint8_t **ret, size_t *ret_len, const char **why)
{
	*why = "invalid arguments";
	if ((binding != NULL) == (nonce_set != 0))
		return KW_ERR_INVALID_ARG;
	if (binding != NULL) {
		if (binding_len != 64)
			return KW_ERR_INVALID_ARG;
		for (size_t i = TPM_BINDING_LEN; i < binding_len; i++)
			if (binding[i] != 0)
				return KW_ERR_INVALID_ARG;
		*ret = binding;
		*ret_len = TPM_BINDING_LEN;
		return 0;
	}
	if (nonce_len > 64 || (nonce == NULL && nonce_len != 0))
		return KW_ERR_INVALID_ARG;
	*ret = nonce;
	*ret_len = nonce_len;
	return 0;
}

int
tpm_evidence_verify(const struct tpm_evidence *e, EVP_PKEY *ak, const uint8_t *expected, size_t expected_len,
    json_t **ret_claims, struct tpm_quote_info *ret_info, const char **why)
{
	struct tpm_quote_info q;
	struct tpm_eventlog *log = NULL;
	json_t *claims = NULL, *el = NULL;
	int r;

	if ((r = tpm_quote_verify(e->quote, e->quote_len, e->sig, e->sig_len, ak, &e->pcrs, expected, expected_len,
	    &claims, &q, why)) != 0)
		return r;
	if (e->event_log != NULL) {
		if ((r = tpm_eventlog_parse(e->event_log, e->event_log_len, &log, why)) != 0 ||
		    (r = tpm_eventlog_appraise(log, &e->pcrs, q.selected, &el, why)) != 0)
			goto out;
		if (json_object_set_new(claims, "eventlog", el) != 0) {
			el = NULL;
			*why = "out of memory";
			r = KW_ERR_NOMEM;
			goto out;
		}
	}
	*ret_claims = claims;
	claims = NULL;   /* transferred */
	if (ret_info != NULL)
		*ret_info = q;
	r = 0;
out:
	tpm_eventlog_free(log);
	json_decref(claims);
	return r;
}
