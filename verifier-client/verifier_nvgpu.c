/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Composite evidence in the verifier seam (verifier.h, "GPUs"): the /attest
 * member "gpus" [{"report": b64url, "chain": [b64url DER, ...]}, ...], each
 * an NVIDIA GPU's SPDM transcript and device chain (verifier-client/nvgpu),
 * all bound to the same runtime-data as the CPU evidence.
 */
#include <stdlib.h>
#include <string.h>

#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"
#include "verifier.h"

static const char *const gpu_members[] = {"report", "chain", NULL};

struct gpu_ev {
	uint8_t *report;
	size_t report_len;
	uint8_t *certs[NVGPU_MAX_CHAIN];
	size_t cert_lens[NVGPU_MAX_CHAIN];
	size_t ncerts;
};

static void
gpu_ev_clear(struct gpu_ev *e)
{
	free(e->report);
	for (size_t i = 0; i < e->ncerts; i++)
		free(e->certs[i]);
	memset(e, 0, sizeof(*e));
}

/* One element of "gpus": its strict shape, with ret the decoded bytes (gpu_ev_clear). */
static int
gpu_parse(const json_t *g, struct gpu_ev *ret, const char **why)
{
	struct gpu_ev e;
	const json_t *c, *v;
	size_t i;
	int r;

	memset(&e, 0, sizeof(e));
	if (!json_is_object(g) || kw_json_check_keys(g, gpu_members) != 0) {
		*why = "each element of \"gpus\" must be an object {\"report\", \"chain\"}";
		return KW_ERR_INVALID_FORMAT;
	}
	if ((r = kw_evidence_b64(g, "report", NVGPU_MAX_REPORT, &e.report, &e.report_len)) != 0) {
		*why = "gpus[].report must be base64url (at most 16 KiB)";
		goto fail;
	}
	c = json_object_get(g, "chain");
	if (!json_is_array(c) || json_array_size(c) < 2 || json_array_size(c) > NVGPU_MAX_CHAIN) {
		r = KW_ERR_INVALID_FORMAT;
		*why = "gpus[].chain must be an array of 2 to 8 certificates";
		goto fail;
	}
	json_array_foreach(c, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0)
			r = KW_ERR_INVALID_FORMAT;
		else
			r = kw_b64url_decode_alloc(json_string_value(v), json_string_length(v),
			    NVGPU_MAX_CERT, &e.certs[e.ncerts], &e.cert_lens[e.ncerts]);
		if (r != 0) {
			*why = "gpus[].chain entries must be base64url DER certificates";
			goto fail;
		}
		e.ncerts++;
	}
	if (ret != NULL)
		*ret = e;
	else
		gpu_ev_clear(&e);
	return 0;
fail:
	gpu_ev_clear(&e);
	return r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
}

int
kw_gpus_check(const json_t *gpus, const char **why)
{
	const json_t *g;
	size_t i;
	int r;

	if (!json_is_array(gpus) || json_array_size(gpus) == 0 || json_array_size(gpus) > KW_GPUS_MAX) {
		*why = "\"gpus\" must be an array of 1 to 8 GPU evidence objects";
		return KW_ERR_INVALID_FORMAT;
	}
	json_array_foreach(gpus, i, g)
		if ((r = gpu_parse(g, NULL, why)) != 0)
			return r;
	return 0;
}

int
kw_gpu_binding(const json_t *runtime_data, uint8_t out[static NVGPU_NONCE_LEN])
{
	char *jcs = NULL;
	size_t len = 0;
	uint8_t md[32];
	int r;

	if ((r = kw_jcs_serialize(runtime_data, &jcs, &len)) != 0)
		return r;
	r = kw_sha256(jcs, len, md);
	free(jcs);
	if (r != 0)
		return r;   /* out is not written: no default binding */
	memcpy(out, md, NVGPU_NONCE_LEN);
	return 0;
}

/*
 * The certificate status of a verified GPU chain (NVIDIA's device leaf is
 * made by the GPU and unknown to the responder: from index 1). Revoked or
 * unknown always fails; an unanswered check fails unless fail_open, which
 * marks the claims instead.
 */
static int
gpu_status(const struct kw_cert_status *cs, const struct gpu_ev *e, int64_t at, json_t *claims,
    const char **why)
{
	int r = cs->check(cs->ctx, (const uint8_t *const *)e->certs, e->cert_lens, e->ncerts, 1, at, why);

	if (r == 0)
		return json_object_set_new(claims, "ocsp", json_string("good")) == 0 ? 0 : KW_ERR_NOMEM;
	if (r == KW_ERR_CERT_INVALID || r == KW_ERR_NOMEM)
		return r;
	if (!cs->fail_open)
		return KW_ERR_UNAVAILABLE;   /* outside input missing: 503, like TDX collateral */
	return json_object_set_new(claims, "ocsp", json_string("unavailable")) == 0 ? 0 : KW_ERR_NOMEM;
}

int
kw_gpus_appraise(const json_t *gpus, const struct kw_trust *trust, int64_t at,
    const uint8_t nonce[static NVGPU_NONCE_LEN], json_t **ret, size_t *reterr_index, const char **why)
{
	json_t *all = NULL, *claims = NULL;
	struct gpu_ev e;
	const json_t *g;
	size_t i;
	int r;

	memset(&e, 0, sizeof(e));
	*why = "invalid arguments";
	if (trust == NULL || trust->nvgpu == NULL || ret == NULL || reterr_index == NULL)
		return KW_ERR_INVALID_ARG;
	if (!json_is_array(gpus) || json_array_size(gpus) == 0 || json_array_size(gpus) > KW_GPUS_MAX) {
		*why = "\"gpus\" must be an array of 1 to 8 GPU evidence objects";
		return KW_ERR_INVALID_FORMAT;
	}
	if ((all = json_array()) == NULL)
		return KW_ERR_NOMEM;
	json_array_foreach(gpus, i, g) {
		if ((r = gpu_parse(g, &e, why)) != 0)
			goto fail;
		r = nvgpu_verify(trust->nvgpu, e.report, e.report_len, (const uint8_t *const *)e.certs,
		    e.cert_lens, e.ncerts, at, nonce, &claims, why);
		if (r == 0 && trust->gpu_status != NULL)
			r = gpu_status(trust->gpu_status, &e, at, claims, why);
		gpu_ev_clear(&e);
		if (r != 0) {
			json_decref(claims);
			claims = NULL;
			goto fail;
		}
		if (json_array_append_new(all, claims) != 0) {
			r = KW_ERR_NOMEM;
			goto fail;
		}
		claims = NULL;   /* owned by all */
	}
	*ret = all;
	return 0;
fail:
	*reterr_index = i;
	gpu_ev_clear(&e);
	json_decref(all);
	return r;
}
