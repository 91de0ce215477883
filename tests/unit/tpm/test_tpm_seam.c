/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tpm-akcert member of the verifier seam on Google's real Shielded-VM
 * evidence (gce-vtpm): tee-evidence built from the vector files, the AK CA
 * store from Google's certificates; claims, the binding rules, the trust
 * checks (another CA, the time) and the shape checks.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kw_b64url.h"
#include "kw_util.h"
#include "test_tpm.h"
#include "tpm_evidence.h"
#include "verifier.h"

#define GCE_AT 1767225600   /* 2026-01-01T00:00:00Z: inside the AK certificate's window */

static void
put(json_t *ev, const char *key, const char *rel)
{
	char p[4096], *s = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "gce-vtpm/%s", rel), &buf, &len) == 0);
	CU_ASSERT_FATAL(kw_b64url_encode(buf, len, &s) == 0);
	CU_ASSERT_FATAL(json_object_set_new(ev, key, json_string(s)) == 0);
	free(s);
	free(buf);
}

static json_t *
gce_evidence(const char *bank, int with_log)
{
	char p[4096], rel[128];
	struct tpm_pcrs *pcrs = calloc(1, sizeof(*pcrs));
	json_t *ev = json_object();
	enum tpm_bank b;

	CU_ASSERT_FATAL(pcrs != NULL && ev != NULL && tpm_bank_from_name(bank, &b) == 0);
	snprintf(rel, sizeof(rel), "nonce9009/quote_%s.msg", bank);
	put(ev, "quote", rel);
	snprintf(rel, sizeof(rel), "nonce9009/quote_%s.sig", bank);
	put(ev, "signature", rel);
	put(ev, "ak_cert", "nonce9009/ak_cert.der");
	if (with_log)
		put(ev, "event_log", "nonce9009/event_log.bin");
	CU_ASSERT_FATAL(test_pcrs_file(vpath(p, sizeof(p), "gce-vtpm/nonce9009/pcrs_%s.txt", bank), b, pcrs) == 0);
	CU_ASSERT_FATAL(json_object_set_new(ev, "pcrs", tpm_pcrs_claims(pcrs, pcrs->present)) == 0);
	free(pcrs);
	return ev;
}

static struct tpm_ca *
gce_ca(const char *const *files)
{
	char p[4096];
	struct tpm_ca *ca = NULL;

	CU_ASSERT_FATAL(tpm_ca_new(&ca) == 0);
	for (size_t i = 0; files[i] != NULL; i++)
		CU_ASSERT_FATAL(tpm_ca_add_file(ca, vpath(p, sizeof(p), "gce-vtpm/certs/%s", files[i]), NULL) == 0);
	return ca;
}

static int
appraise(const json_t *ev, const struct tpm_ca *ca, int64_t at, json_t **claims, const char **why)
{
	static const uint8_t nonce[2] = {0x90, 0x09};
	struct kw_trust trust = { .tpm_akcert = ca };
	struct kw_appraisal in;

	memset(&in, 0, sizeof(in));
	in.evidence = ev;
	in.at = at;
	in.trust = &trust;
	in.nonce = nonce;
	in.nonce_len = sizeof(nonce);
	in.nonce_set = 1;
	return kw_verifier_tpm_akcert.appraise(&in, claims, why);
}

static void
test_seam_gce(void)
{
	static const char *const google[] = {"tpm_ek_intermediate_2.crt", "tpm_ek_root_1.cer", NULL};
	static const char *const other[] = {"gcp_ek_ak_ca_intermediate_v3.crt", "gcp_ek_ak_ca_root.crt", NULL};
	struct tpm_ca *ca = gce_ca(google), *wrong = gce_ca(other);
	json_t *ev = gce_evidence("sha256", 1), *claims = NULL;
	const char *why = NULL;
	char p[4096], *hex = NULL;
	uint8_t *der = NULL, md[32];
	size_t len = 0;

	CU_ASSERT_PTR_EQUAL(kw_verifier_find("tpm-akcert"), &kw_verifier_tpm_akcert);
	CU_ASSERT(tpm_ca_count(ca) == 2);
	CU_ASSERT(kw_verifier_tpm_akcert.check(ev, &why) == 0);
	CU_ASSERT_PTR_EQUAL(kw_verifier_for_evidence(ev, &why), &kw_verifier_tpm_akcert);
	CHECK_RC(appraise(ev, ca, GCE_AT, &claims, &why), 0, "%s", why);
	CU_ASSERT_FATAL(claims != NULL);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "tee")), "tpm-akcert");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "root")), "ak-ca");
	CU_ASSERT(json_is_false(json_object_get(claims, "debug")));
	CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "gce-vtpm/nonce9009/ak_cert.der"), &der, &len) == 0);
	CU_ASSERT_FATAL(EVP_Digest(der, len, md, NULL, EVP_sha256(), NULL) == 1);
	CU_ASSERT_FATAL(kw_hex_encode(md, sizeof(md), &hex) == 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "ak_cert_sha256")), hex);
	CU_ASSERT(strstr(json_string_value(json_object_get(claims, "ak_cert_issuer")),
	    "CN=tpm_ek_v1_cloud_host-signer-0-2020-10-22T14:02:08-07:00") != NULL);
	CU_ASSERT(json_object_size(json_object_get(json_object_get(claims, "pcrs"), "sha256")) == 24);
	CU_ASSERT(json_is_true(json_object_get(json_object_get(claims, "eventlog"), "secure_boot")));
	/* every token claim the member names is a claim of genuine evidence (but ak_cert_serial is extra) */
	for (size_t i = 0; kw_verifier_tpm_akcert.token_claims[i] != NULL; i++)
		CHECKF(json_object_get(claims, kw_verifier_tpm_akcert.token_claims[i]) != NULL, "%s",
		    kw_verifier_tpm_akcert.token_claims[i]);
	json_decref(claims);
	claims = NULL;
	/* another CA; no CA; before the AK certificate's notBefore (2021-08-31) */
	CU_ASSERT(appraise(ev, wrong, GCE_AT, &claims, &why) == KW_ERR_UNTRUSTED_ROOT);
	CU_ASSERT_STRING_EQUAL(why, "AK certificate does not chain to a configured AK CA");
	CU_ASSERT(appraise(ev, NULL, GCE_AT, &claims, &why) == KW_ERR_INVALID_ARG);
	CU_ASSERT(appraise(ev, ca, 1609459200 /* 2021-01-01 */, &claims, &why) == KW_ERR_CERT_EXPIRED);
	CU_ASSERT(claims == NULL);
	free(hex);
	free(der);
	json_decref(ev);
	tpm_ca_free(ca);
	tpm_ca_free(wrong);
}

/* Exactly one of binding (64 bytes, padding zero) and nonce. */
static void
test_seam_binding_rules(void)
{
	static const char *const google[] = {"tpm_ek_intermediate_2.crt", NULL};
	struct tpm_ca *ca = gce_ca(google);
	struct kw_trust trust = { .tpm_akcert = ca };
	struct kw_appraisal in;
	json_t *ev = gce_evidence("sha1", 0), *claims = NULL;
	uint8_t binding[64];
	const uint8_t *exp = NULL;
	size_t exp_len = 0;
	const char *why = NULL;

	memset(binding, 0x11, 48);
	memset(binding + 48, 0, 16);
	memset(&in, 0, sizeof(in));
	in.evidence = ev;
	in.at = GCE_AT;
	in.trust = &trust;
	/* neither */
	CU_ASSERT(kw_verifier_tpm_akcert.appraise(&in, &claims, &why) == KW_ERR_INVALID_ARG);
	/* the broker's binding: the quote's 9009 is not SHA-384(JCS(runtime-data)) */
	in.binding = binding;
	in.binding_len = sizeof(binding);
	CU_ASSERT(kw_verifier_tpm_akcert.appraise(&in, &claims, &why) == KW_ERR_MISMATCH);
	CU_ASSERT_STRING_EQUAL(why, "quote nonce (extraData) does not match");
	/* both */
	in.nonce_set = 1;
	CU_ASSERT(kw_verifier_tpm_akcert.appraise(&in, &claims, &why) == KW_ERR_INVALID_ARG);
	CU_ASSERT(claims == NULL);
	/* what the members compare */
	CU_ASSERT(tpm_evidence_expected(binding, 64, NULL, 0, 0, &exp, &exp_len, &why) == 0);
	CU_ASSERT(exp == binding && exp_len == TPM_BINDING_LEN);
	binding[63] = 1;
	CU_ASSERT(tpm_evidence_expected(binding, 64, NULL, 0, 0, &exp, &exp_len, &why) == KW_ERR_INVALID_ARG);
	CU_ASSERT(tpm_evidence_expected(binding, 48, NULL, 0, 0, &exp, &exp_len, &why) == KW_ERR_INVALID_ARG);
	CU_ASSERT(tpm_evidence_expected(NULL, 0, binding, 65, 1, &exp, &exp_len, &why) == KW_ERR_INVALID_ARG);
	CU_ASSERT(tpm_evidence_expected(NULL, 0, NULL, 0, 1, &exp, &exp_len, &why) == 0 && exp_len == 0);
	json_decref(ev);
	tpm_ca_free(ca);
}

static void
test_seam_shapes(void)
{
	static const char *const drop[] = {"quote", "signature", "pcrs", "ak_cert"};
	json_t *good = gce_evidence("sha256", 1), *ev;
	const char *why = NULL;
	struct tpm_ca *ca = NULL;
	struct kw_trust empty = { .tpm_akcert = NULL };

	for (size_t i = 0; i < KW_ARRAY_SIZE(drop); i++) {
		ev = json_deep_copy(good);
		json_object_del(ev, drop[i]);
		CHECK_RC(kw_verifier_tpm_akcert.check(ev, &why), KW_ERR_INVALID_FORMAT, "without %s", drop[i]);
		json_decref(ev);
	}
	ev = json_deep_copy(good);
	json_object_set_new(ev, "extra", json_string("AA"));
	CU_ASSERT(kw_verifier_tpm_akcert.check(ev, &why) == KW_ERR_INVALID_FORMAT);
	json_object_del(ev, "extra");
	json_object_set_new(ev, "quote", json_string("not base64url!"));
	CU_ASSERT(kw_verifier_tpm_akcert.check(ev, &why) == KW_ERR_INVALID_FORMAT);
	json_object_set_new(ev, "quote", json_string(""));
	CU_ASSERT(kw_verifier_tpm_akcert.check(ev, &why) == KW_ERR_INVALID_FORMAT);
	json_decref(ev);
	ev = json_deep_copy(good);
	json_object_set_new(ev, "pcrs", json_pack("{s:{s:s}}", "sha256", "0", "00"));
	CU_ASSERT(kw_verifier_tpm_akcert.check(ev, &why) == KW_ERR_INVALID_FORMAT);
	json_decref(ev);
	/* a quote over the cap */
	ev = json_deep_copy(good);
	char *big = malloc(4096);

	CU_ASSERT_FATAL(big != NULL);
	memset(big, 'A', 4095);
	big[4095] = '\0';
	json_object_set_new(ev, "quote", json_string(big));
	CU_ASSERT(kw_verifier_tpm_akcert.check(ev, &why) == KW_ERR_TOO_LARGE);
	free(big);
	json_decref(ev);
	/* disabled without CAs */
	CU_ASSERT(kw_verifier_tpm_akcert.enabled(NULL) == 0);
	CU_ASSERT(kw_verifier_tpm_akcert.enabled(&empty) == 0);
	CU_ASSERT_FATAL(tpm_ca_new(&ca) == 0);
	empty.tpm_akcert = ca;
	CU_ASSERT(kw_verifier_tpm_akcert.enabled(&empty) == 0);
	tpm_ca_free(ca);
	json_decref(good);
}

/* The CA store refuses what is not a CA certificate. */
static void
test_ca_files(void)
{
	char p[4096];
	struct tpm_ca *ca = NULL;
	size_t n = 9;

	CU_ASSERT_FATAL(tpm_ca_new(&ca) == 0);
	CU_ASSERT(tpm_ca_add_file(ca, vpath(p, sizeof(p), "gce-vtpm/nonce9009/ak_cert.der"), &n) ==
	    KW_ERR_INVALID_FORMAT);
	CU_ASSERT(tpm_ca_add_file(ca, vpath(p, sizeof(p), "gce-vtpm/nonce9009/quote_sha1.msg"), &n) ==
	    KW_ERR_INVALID_FORMAT);
	CU_ASSERT(tpm_ca_add_file(ca, vpath(p, sizeof(p), "gce-vtpm/expected.json"), &n) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(tpm_ca_add_file(ca, "/nonexistent", &n) == KW_ERR_IO);
	CU_ASSERT(n == 9 && tpm_ca_count(ca) == 0);
	CU_ASSERT(tpm_ca_add_file(ca, vpath(p, sizeof(p), "swtpm-local/localca_root_cert.pem"), &n) == 0);
	CU_ASSERT(n == 1 && tpm_ca_count(ca) == 1);
	tpm_ca_free(ca);
}

int
test_tpm_seam_register(void)
{
	CU_pSuite s = CU_add_suite("tpm_seam", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_seam_gce) | TEST_ADD(s, test_seam_binding_rules) | TEST_ADD(s, test_seam_shapes) |
	    TEST_ADD(s, test_ca_files);
}
