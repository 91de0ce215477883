/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verifier seam (verifier.h): the table of evidence types, how a
 * tee-evidence object finds its member, the helpers members share, and the
 * collateral source wrapper.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"
#include "verifier.h"

const struct kw_verifier *const kw_verifiers[] = {
	&kw_verifier_snp,
	&kw_verifier_tdx,
	&kw_verifier_tpm_akcert,
	&kw_verifier_tpm,
	&kw_verifier_az_snp_vtpm,
	&kw_verifier_az_tdx_vtpm,
	&kw_verifier_cca,
	NULL,
};

const struct kw_verifier *
kw_verifier_find(const char *tee)
{
	if (tee == NULL)
		return NULL;
	for (size_t i = 0; kw_verifiers[i] != NULL; i++)
		if (strcmp(kw_verifiers[i]->tee, tee) == 0)
			return kw_verifiers[i];
	return NULL;
}

/* 1 when every member of evidence is one of v's members. */
static int
covers(const struct kw_verifier *v, const json_t *evidence)
{
	return kw_json_check_keys(evidence, v->members) == 0;
}

const struct kw_verifier *
kw_verifier_for_evidence(const json_t *evidence, const char **why)
{
	const struct kw_verifier *found = NULL, *covering = NULL;
	size_t n = 0, ncovering = 0;

	if (!json_is_object(evidence)) {
		*why = "\"tee-evidence\" must be an object";
		return NULL;
	}
	for (size_t i = 0; kw_verifiers[i] != NULL; i++) {
		if (json_object_get(evidence, kw_verifiers[i]->members[0]) == NULL)
			continue;
		found = kw_verifiers[i];
		n++;
		if (covers(kw_verifiers[i], evidence)) {
			covering = kw_verifiers[i];
			ncovering++;
		}
	}
	if (n == 1)
		return found;
	if (n > 1 && ncovering == 1)
		return covering;
	if (n > 1)
		*why = "tee-evidence holds members of more than one evidence type";
	else
		*why = "tee-evidence is no supported evidence (snp: report, vcek, chain; "
		    "tdx: quote, cc_eventlog; tpm-akcert: quote, signature, pcrs, ak_cert, event_log; "
		    "tpm: credential, ek_cert, ak_public, quote, signature, pcrs, event_log; "
		    "az-snp-vtpm: snp_hcl_report, ...; az-tdx-vtpm: tdx_hcl_report, ...; cca: token)";
	return NULL;
}

static char names_buf[256];
static char unsupported_buf[320];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void
names_build(void)
{
	size_t o = 0;

	for (size_t i = 0; kw_verifiers[i] != NULL && o < sizeof(names_buf); i++) {
		int n = snprintf(names_buf + o, sizeof(names_buf) - o, "%s%s", i > 0 ? ", " : "",
		    kw_verifiers[i]->tee);

		if (n < 0)
			break;
		o += (size_t)n;
	}
	snprintf(unsupported_buf, sizeof(unsupported_buf), "unsupported \"tee\" (supported: %s)", names_buf);
}

const char *
kw_verifier_names(void)
{
	(void)pthread_once(&names_once, names_build);
	return names_buf;
}

const char *
kw_verifier_unsupported_reason(void)
{
	(void)pthread_once(&names_once, names_build);
	return unsupported_buf;
}

int
kw_evidence_b64(const json_t *evidence, const char *name, size_t max, uint8_t **ret, size_t *ret_len)
{
	const json_t *v = json_object_get(evidence, name);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return KW_ERR_INVALID_FORMAT;
	/* evidence is public: the fast decoder (accepts exactly what the constant-time one does) */
	return kw_b64url_decode_public_alloc(json_string_value(v), json_string_length(v), max, ret,
	    ret_len);
}

int
kw_binding_check(const json_t *claims, const uint8_t *binding, size_t binding_len, const char **why)
{
	const char *hex = json_string_value(json_object_get(claims, "report_data"));
	uint8_t rd[KW_BINDING_LEN];

	if (binding == NULL)
		return 0;
	if (binding_len != KW_BINDING_LEN) {
		*why = "invalid arguments";
		return KW_ERR_INVALID_ARG;
	}
	if (hex == NULL || kw_hex_decode(hex, rd, sizeof(rd)) != 0) {
		*why = "verifier returned no report_data";
		return KW_ERR_INTERNAL;
	}
	if (CRYPTO_memcmp(rd, binding, sizeof(rd)) != 0) {
		*why = "report data does not match SHA-384(JCS(runtime-data))";
		return KW_ERR_MISMATCH;
	}
	return 0;
}

/* ---- collateral sources ---- */

struct kw_tdx_collateral_source {
	const struct kw_tdx_collateral_ops *ops;
	void *ctx;
};

int
kw_tdx_source_new(const struct kw_tdx_collateral_ops *ops, void *ctx, struct kw_tdx_collateral_source **ret)
{
	struct kw_tdx_collateral_source *s;

	if (ops == NULL || ops->get == NULL || ret == NULL) {
		if (ops != NULL && ops->free != NULL)
			ops->free(ctx);
		return KW_ERR_INVALID_ARG;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		if (ops->free != NULL)
			ops->free(ctx);
		return KW_ERR_NOMEM;
	}
	s->ops = ops;
	s->ctx = ctx;   /* taken */
	*ret = s;
	return 0;
}

void
kw_tdx_source_free(struct kw_tdx_collateral_source *s)
{
	if (s == NULL)
		return;
	if (s->ops->free != NULL)
		s->ops->free(s->ctx);
	free(s);
}

const char *
kw_tdx_source_mode(const struct kw_tdx_collateral_source *s)
{
	return s != NULL && s->ops->mode != NULL ? s->ops->mode : "none";
}

int
kw_tdx_source_get(const struct kw_tdx_collateral_source *s, const uint8_t fmspc[static 6], enum kw_pck_ca ca,
    int64_t now, struct tdx_collateral **ret, const char **why)
{
	if (s == NULL || ret == NULL) {
		*why = "no TDX collateral source configured";
		return KW_ERR_INVALID_ARG;
	}
	return s->ops->get(s->ctx, fmspc, ca, now, ret, why);
}
