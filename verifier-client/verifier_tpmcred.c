/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `tpm` in the verifier seam: a TPM 2.0 whose AK is proven, by credential
 * activation, to live in the same TPM as an EK whose certificate chains to
 * a configured manufacturer CA (docs/verifier-tpm.md, "tpm (credential
 * activation)").
 *
 * /auth (kw_verifier.auth): extra-params {"ek_cert", "ek_chain"?,
 * "ak_public"}: the EK certificate is verified, the AK's public area parsed
 * and checked (a restricted, fixedTPM signing key), and the credential —
 * a secret derived from the challenge's key, the AK's name and the EK —
 * sealed to the EK and the AK's name with TPM2_MakeCredential (tpm_cred.c):
 * the answer's extra-params {"credential_blob", "encrypted_secret"}.
 *
 * /attest: tee-evidence {"credential", "ek_cert", "ek_chain"?, "ak_public",
 * "quote", "signature", "pcrs", "event_log"?}: the EK certificate again,
 * the AK, the activated credential equal (constant time) to the secret the
 * broker derives for this challenge, AK and EK, then the quote signed by
 * that AK over the PCRs with qualifyingData = SHA-384(JCS(runtime-data)).
 * With "runtime_events" (tpm_runtime.h), the manifest digest kwget extended
 * into PCR 23 is replayed against the quote and becomes tpm.config_sha384.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_secret.h"
#include "kw_util.h"
#include "tpm_cred.h"
#include "tpm_evidence.h"
#include "tpm_quote.h"
#include "tpm_runtime.h"
#include "verifier.h"

static const char *const tpm_members[] = {"credential", "ek_cert", "ek_chain", "ak_public", "quote",
	"signature", "pcrs", "event_log", "runtime_events", NULL};

static const char *const tpm_auth_members[] = {"ek_cert", "ek_chain", "ak_public", NULL};

static const char *const tpm_token_claims[] = {"tee", "root", "debug", "ek", "ak_name", "pcrs", "tpm",
	"eventlog", NULL};

/* What /auth and /attest both carry: the EK certificate (and chain) and the AK. */
struct tpm_ids {
	uint8_t *ek_cert;
	size_t ek_cert_len;
	uint8_t *chain[TPM_CRED_MAX_EK_CHAIN];
	size_t chain_lens[TPM_CRED_MAX_EK_CHAIN];
	size_t nchain;
	uint8_t *ak_pub;
	size_t ak_pub_len;
	/* verified */
	EVP_PKEY *ek;
	json_t *ek_claims;
	uint8_t ek_id[32];             /* SHA-256 of the EK's SubjectPublicKeyInfo */
	struct tpm_public ak;
};

static void
tpm_ids_clear(struct tpm_ids *d)
{
	free(d->ek_cert);
	for (size_t i = 0; i < d->nchain; i++)
		free(d->chain[i]);
	free(d->ak_pub);
	EVP_PKEY_free(d->ek);
	json_decref(d->ek_claims);
	tpm_public_clear(&d->ak);
	memset(d, 0, sizeof(*d));
}

/* Decode ek_cert, ek_chain and ak_public of o (an object whose keys were checked). */
static int
tpm_ids_decode(const json_t *o, struct tpm_ids *d, const char **why)
{
	const json_t *c, *v;
	size_t i;
	int r;

	if ((r = kw_evidence_b64(o, "ek_cert", TPM_CRED_MAX_EK_CERT, &d->ek_cert, &d->ek_cert_len)) != 0) {
		*why = "ek_cert must be a base64url DER certificate (at most 16 KiB)";
		return r;
	}
	if ((r = kw_evidence_b64(o, "ak_public", TPM_MAX_PUBLIC, &d->ak_pub, &d->ak_pub_len)) != 0) {
		*why = "ak_public must be a base64url TPM2B_PUBLIC (at most 1 KiB)";
		return r;
	}
	if ((c = json_object_get(o, "ek_chain")) == NULL)
		return 0;
	if (!json_is_array(c) || json_array_size(c) > TPM_CRED_MAX_EK_CHAIN) {
		*why = "ek_chain must be an array of at most 4 certificates";
		return KW_ERR_INVALID_FORMAT;
	}
	json_array_foreach(c, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    kw_b64url_decode_alloc(json_string_value(v), json_string_length(v), TPM_CRED_MAX_EK_CERT,
		    &d->chain[d->nchain], &d->chain_lens[d->nchain]) != 0) {
			*why = "ek_chain entries must be base64url DER certificates";
			return KW_ERR_INVALID_FORMAT;
		}
		d->nchain++;
	}
	return 0;
}

/* The EK certificate to tpm.ek_roots at time at, the AK's public area and its attributes. */
static int
tpm_ids_verify(const struct kw_trust *trust, struct tpm_ids *d, int64_t at, const char **why)
{
	const char *spki;
	int r;

	if ((r = tpm_ek_cert_verify(trust->tpm_ek, d->ek_cert, d->ek_cert_len,
	    (const uint8_t *const *)d->chain, d->chain_lens, d->nchain, at, &d->ek, &d->ek_claims, why)) != 0)
		return r;
	spki = json_string_value(json_object_get(d->ek_claims, "spki_sha256"));
	if (spki == NULL || kw_hex_decode(spki, d->ek_id, sizeof(d->ek_id)) != 0) {
		*why = "internal error";
		return KW_ERR_INTERNAL;
	}
	if ((r = tpm_public_parse(d->ak_pub, d->ak_pub_len, 1, &d->ak, why)) != 0)
		return r;
	return tpm_public_check_ak(&d->ak, why);
}

/*
 * The credential for this challenge, AK and EK:
 * HMAC-SHA-256(challenge key, "kw-tpm-credential-v1" ‖ 0x00 ‖ u16be(len) ‖ AK name ‖ SHA-256(EK SPKI)).
 * Only this broker can compute it, only for a challenge it issued, and the
 * workload learns it only from TPM2_ActivateCredential in the TPM that holds
 * both that EK and that AK.
 */
static int
tpm_credential(const uint8_t key[static KW_CHALLENGE_KEY_LEN], const struct tpm_ids *d,
    struct kw_secret **ret)
{
	static const char label[] = "kw-tpm-credential-v1";   /* with its NUL */
	uint8_t len[2] = {(uint8_t)(d->ak.name_len >> 8), (uint8_t)d->ak.name_len};
	struct kw_secret *s = NULL;
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t outlen = 0;
	int r;

	if ((r = kw_secret_new(TPM_CRED_SECRET_LEN, &s)) != 0)
		return r;
	r = KW_ERR_CRYPTO;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL || (ctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    !EVP_MAC_init(ctx, key, KW_CHALLENGE_KEY_LEN, params) ||
	    !EVP_MAC_update(ctx, (const uint8_t *)label, sizeof(label)) ||
	    !EVP_MAC_update(ctx, len, sizeof(len)) ||
	    !EVP_MAC_update(ctx, d->ak.name, d->ak.name_len) ||
	    !EVP_MAC_update(ctx, d->ek_id, sizeof(d->ek_id)) ||
	    !EVP_MAC_final(ctx, kw_secret_ptr(s), &outlen, TPM_CRED_SECRET_LEN) || outlen != TPM_CRED_SECRET_LEN)
		goto out;
	*ret = s;
	s = NULL;   /* transferred */
	r = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	kw_secret_free(s);
	return r;
}

static int
tpm_enabled(const struct kw_trust *trust)
{
	return trust != NULL && trust->tpm_ek != NULL;
}

static int
tpm_auth_params_check(const json_t *p, const char **why)
{
	if (!json_is_object(p) || kw_json_check_keys(p, tpm_auth_members) != 0) {
		*why = "extra-params for tee tpm must be {\"ek_cert\", \"ak_public\", \"ek_chain\"?}";
		return KW_ERR_INVALID_FORMAT;
	}
	return 0;
}

static int
b64_member(json_t *o, const char *name, const uint8_t *p, size_t len)
{
	char *s = NULL;
	int r;

	if ((r = kw_b64url_encode(p, len, &s)) != 0)
		return r;
	r = json_object_set_new(o, name, json_string(s)) == 0 ? 0 : KW_ERR_NOMEM;
	free(s);
	return r;
}

static int
tpm_auth(const struct kw_auth_step *in, json_t **ret_extra, const char **why)
{
	struct tpm_ids d;
	struct kw_secret *cred = NULL;
	uint8_t *blob = NULL, *sec = NULL;
	size_t blob_len = 0, sec_len = 0;
	json_t *extra = NULL;
	int r;

	memset(&d, 0, sizeof(d));
	if (in == NULL || in->challenge_key == NULL || !tpm_enabled(in->trust)) {
		*why = "invalid arguments";
		return KW_ERR_INVALID_ARG;
	}
	if ((r = tpm_auth_params_check(in->params, why)) != 0 || (r = tpm_ids_decode(in->params, &d, why)) != 0)
		goto out;
	if ((r = tpm_ids_verify(in->trust, &d, in->at, why)) != 0)
		goto out;
	if ((r = tpm_credential(in->challenge_key, &d, &cred)) != 0) {
		*why = "cannot derive the credential";
		goto out;
	}
	if ((r = tpm_cred_make(d.ek, d.ak.name, d.ak.name_len, kw_secret_cptr(cred), kw_secret_len(cred), &blob,
	    &blob_len, &sec, &sec_len)) != 0) {
		*why = "cannot make the credential";
		goto out;
	}
	*why = "out of memory";
	if ((extra = json_object()) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if ((r = b64_member(extra, "credential_blob", blob, blob_len)) != 0 ||
	    (r = b64_member(extra, "encrypted_secret", sec, sec_len)) != 0)
		goto out;
	*ret_extra = extra;
	extra = NULL;   /* transferred */
	r = 0;
out:
	json_decref(extra);
	free(blob);
	free(sec);
	kw_secret_free(cred);
	tpm_ids_clear(&d);
	return r;
}

/* Our own members' shape (the shared ones: tpm_evidence_parse). */
static int
tpm_own_shape(const json_t *ev, const char **why)
{
	static const char *const strings[] = {"credential", "ek_cert", "ak_public", NULL};
	uint8_t data[TPM_RUNTIME_DATA_LEN];
	const json_t *c;

	for (size_t i = 0; strings[i] != NULL; i++) {
		const json_t *v = json_object_get(ev, strings[i]);

		if (!json_is_string(v) || json_string_length(v) == 0) {
			*why = "tee-evidence for tpm needs credential, ek_cert and ak_public (base64url)";
			return KW_ERR_INVALID_FORMAT;
		}
	}
	c = json_object_get(ev, "ek_chain");
	if (c != NULL && (!json_is_array(c) || json_array_size(c) > TPM_CRED_MAX_EK_CHAIN)) {
		*why = "tee-evidence.ek_chain must be an array of at most 4 certificates";
		return KW_ERR_INVALID_FORMAT;
	}
	c = json_object_get(ev, "runtime_events");
	if (c != NULL)
		return tpm_runtime_parse(c, data, why);
	return 0;
}

static int
tpm_check(const json_t *ev, const char **why)
{
	int r;

	if ((r = tpm_evidence_parse(ev, tpm_members, NULL, why)) != 0)
		return r;
	return tpm_own_shape(ev, why);
}

static int
tpm_appraise(const struct kw_appraisal *in, json_t **ret_claims, const char **why)
{
	struct tpm_ids d;
	struct tpm_evidence e;
	struct kw_secret *want = NULL;
	uint8_t *cred = NULL;
	size_t cred_len = 0, exp_len = 0;
	const uint8_t *exp = NULL;
	const json_t *rev;
	struct tpm_quote_info info;
	uint8_t cfg[TPM_RUNTIME_DATA_LEN];
	json_t *claims = NULL, *qclaims = NULL;
	char *hex = NULL, *cfghex = NULL;
	int r;

	memset(&d, 0, sizeof(d));
	memset(&e, 0, sizeof(e));
	if (in == NULL || in->evidence == NULL || !tpm_enabled(in->trust)) {
		*why = "invalid arguments";
		return KW_ERR_INVALID_ARG;
	}
	if (in->challenge_key == NULL) {
		*why = "tpm evidence is bound to a broker challenge: it cannot be verified offline";
		return KW_ERR_UNSUPPORTED;
	}
	/* the quote's extraData: the 48 bytes of SHA-384(JCS(runtime-data)), the rest of REPORT_DATA is zero */
	if ((r = tpm_evidence_expected(in->binding, in->binding_len, NULL, 0, 0, &exp, &exp_len, why)) != 0)
		return r;
	if ((r = tpm_evidence_parse(in->evidence, tpm_members, &e, why)) != 0 ||
	    (r = tpm_own_shape(in->evidence, why)) != 0 || (r = tpm_ids_decode(in->evidence, &d, why)) != 0)
		goto out;
	if ((r = kw_evidence_b64(in->evidence, "credential", TPM_CRED_SECRET_LEN, &cred, &cred_len)) != 0) {
		*why = "tee-evidence.credential must be base64url (32 bytes)";
		goto out;
	}
	/* 1. the EK to its manufacturer CA, the AK's public area */
	if ((r = tpm_ids_verify(in->trust, &d, in->at, why)) != 0)
		goto out;
	/* 2. the credential: only the TPM holding this EK and this AK could have activated it */
	if ((r = tpm_credential(in->challenge_key, &d, &want)) != 0) {
		*why = "cannot derive the credential";
		goto out;
	}
	if (cred_len != kw_secret_len(want) ||
	    CRYPTO_memcmp(cred, kw_secret_cptr(want), kw_secret_len(want)) != 0) {   /* constant time */
		r = KW_ERR_MISMATCH;
		*why = "the credential was not activated by the TPM holding this EK and AK";
		goto out;
	}
	/* 3. the quote by that same AK with the binding, and the event log against it */
	if ((r = tpm_evidence_verify(&e, d.ak.pkey, exp, exp_len, &qclaims, &info, why)) != 0)
		goto out;
	/* 4. the manifest digest kwget extended into PCR 23, replayed against the quote */
	if ((rev = json_object_get(in->evidence, "runtime_events")) != NULL) {
		if ((r = tpm_runtime_parse(rev, cfg, why)) != 0 ||
		    (r = tpm_runtime_replay(cfg, sizeof(cfg), &e.pcrs, info.selected, why)) != 0)
			goto out;
		if ((r = kw_hex_encode(cfg, sizeof(cfg), &cfghex)) != 0 ||
		    json_object_set_new(json_object_get(qclaims, "tpm"), "config_sha384", json_string(cfghex)) != 0) {
			r = KW_ERR_NOMEM;
			*why = "out of memory";
			goto out;
		}
	}
	if ((r = kw_hex_encode(d.ak.name, d.ak.name_len, &hex)) != 0) {
		*why = "out of memory";
		goto out;
	}
	r = KW_ERR_NOMEM;
	*why = "out of memory";
	if ((claims = json_pack("{s:s, s:s, s:b, s:O, s:s}", "tee", "tpm", "root", "ek-ca", "debug", 0, "ek",
	    d.ek_claims, "ak_name", hex)) == NULL || json_object_update(claims, qclaims) != 0)
		goto out;
	*ret_claims = claims;
	claims = NULL;   /* transferred */
	r = 0;
out:
	json_decref(claims);
	json_decref(qclaims);
	free(hex);
	free(cfghex);
	kw_secret_free(want);
	if (cred != NULL)
		OPENSSL_clear_free(cred, cred_len);
	tpm_evidence_clear(&e);
	tpm_ids_clear(&d);
	return r;
}

const struct kw_verifier kw_verifier_tpm = {
	.tee = "tpm",
	.vendor_root = "ek-ca",
	.appraisal_policy_id = "urn:keywarden:appraisal:tpm-evidence:v1",
	.log_claim = "ak_name",
	.members = tpm_members,
	.token_claims = tpm_token_claims,
	.enabled = tpm_enabled,
	.check = tpm_check,
	.appraise = tpm_appraise,
	.auth = tpm_auth,
};
