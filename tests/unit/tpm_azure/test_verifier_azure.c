/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The az-snp-vtpm and az-tdx-vtpm members (verifier-client/verifier_azure.c)
 * through the seam:
 *   - SNP on the real Azure vectors, with the broker's binding form (the
 *     48-byte extraData of evidence-v2 and evidence-genoa, zero-padded);
 *   - TDX with evidence built here: an emulated TD quote (att_tdx_emu,
 *     trusted only through its test root) whose REPORT_DATA is
 *     SHA-256(var_data), an HCL report carrying a TDREPORT with the same
 *     REPORT_DATA and an HCLAkPub JWK of an RSA key made here, and a
 *     TPMS_ATTEST marshalled with tss2-mu and signed with that key;
 *   - negatives: the TD quote's and the TDREPORT's REPORT_DATA differ,
 *     var_data not bound, an AK JWK swapped (bound, but not the quote's
 *     signer), a PCR changed, wrong binding, collateral unavailable, shapes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "att_tdx_emu.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_util.h"
#include "test_helper.h"
#include "tpm_azure.h"
#include "tpm_hcl.h"
#include "tpm_quote.h"
#include "verifier.h"

#define T0 1796600000LL      /* the emulated collateral's "now" */
#define DAY 86400LL
#define AZ "tpm/azure-snp-vtpm"

static void
b64_member(json_t *o, const char *key, const uint8_t *p, size_t n)
{
	char *s = NULL;

	CU_ASSERT_FATAL(kw_b64url_encode(p, n, &s) == 0);
	json_object_set_new(o, key, json_string(s));
	free(s);
}

static json_t *
load_json(const char *name)
{
	char path[512];
	uint8_t *b = NULL;
	size_t len = 0;
	json_t *j = NULL;

	test_vpath(path, sizeof(path), AZ, "%s", name);
	CU_ASSERT_FATAL(kw_file_read(path, TPM_AZURE_MAX_DOC, &b, &len) == 0);
	CU_ASSERT_FATAL(kw_json_parse(b, len, TPM_AZURE_MAX_DOC, &j) == 0);
	free(b);
	return j;
}

/* ---- SNP: the real vectors ---- */

static void
test_snp_vectors(void)
{
	static const struct {
		const char *file, *chain, *extra, *product;
	} cases[] = {
		{"evidence-v2.json", "certs/cert_chain_milan_vcek.pem",
			"982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef",
			"Milan"},
		{"evidence-genoa.json", "certs/cert_chain_genoa_vcek.pem",
			"0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b64270ea35d950f",
			"Genoa"},
	};

	for (size_t i = 0; i < KW_ARRAY_SIZE(cases); i++) {
		json_t *doc = load_json(cases[i].file), *ev = NULL, *claims = NULL;
		struct tpm_azure_evidence e;
		struct kw_trust trust = { .snp = NULL };
		struct kw_appraisal in;
		uint8_t binding[KW_BINDING_LEN];
		const char *why = NULL;
		char path[512];
		int64_t at = 0;
		int r;

		CU_ASSERT_FATAL(tpm_azure_evidence_parse(doc, &e, &why) == 0);
		CU_ASSERT_FATAL(tpm_azure_tee_evidence(&e, 0, &ev) == 0);
		CU_ASSERT_PTR_EQUAL(kw_verifier_for_evidence(ev, &why), &kw_verifier_az_snp_vtpm);
		CU_ASSERT_EQUAL(kw_verifier_az_snp_vtpm.check(ev, &why), 0);
		CU_ASSERT_EQUAL(kw_verifier_az_tdx_vtpm.check(ev, &why), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_FATAL(snp_trust_new(&trust.snp) == 0);
		CU_ASSERT_FATAL(snp_trust_add_chain_file(trust.snp, test_vpath(path, sizeof(path), "sev-snp", "%s",
		    cases[i].chain)) == 0);
		CU_ASSERT_FATAL(kw_time_parse_rfc3339("2026-11-28T00:00:00Z", &at) == 0);
		memset(binding, 0, sizeof(binding));
		CU_ASSERT_FATAL(kw_hex_decode(cases[i].extra, binding, 48) == 0);
		memset(&in, 0, sizeof(in));
		in.evidence = ev;
		in.binding = binding;
		in.binding_len = sizeof(binding);
		in.at = at;
		in.trust = &trust;
		r = kw_verifier_az_snp_vtpm.appraise(&in, &claims, &why);
		CHECKF(r == 0, "%s: %s", cases[i].file, why);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "tee")), "az-snp-vtpm");
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "root")), "amd");
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "product")), cases[i].product);
		CU_ASSERT_EQUAL(json_object_size(json_object_get(json_object_get(claims, "pcrs"), "sha256")), 24);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(claims, "tpm"),
		    "firmware_version")), "2020031200120003");
		json_decref(claims);
		claims = NULL;
		/* the broker's binding with a different digest: the nonce check */
		binding[47] ^= 1;
		CU_ASSERT_EQUAL(kw_verifier_az_snp_vtpm.appraise(&in, &claims, &why), KW_ERR_MISMATCH);
		CU_ASSERT(strstr(why, "extraData") != NULL);
		binding[47] ^= 1;
		/* a non-zero padding byte is not the broker's binding */
		binding[63] = 1;
		CU_ASSERT_EQUAL(kw_verifier_az_snp_vtpm.appraise(&in, &claims, &why), KW_ERR_INVALID_ARG);
		CU_ASSERT_PTR_NULL(claims);
		/* the TDX member is off without TDX trust */
		CU_ASSERT_EQUAL(kw_verifier_az_tdx_vtpm.enabled(&trust), 0);

		/* AK JWK swapped: the HCLEkPub key does not verify the quote */
		{
			struct tpm_hcl *h = NULL;
			const json_t *keys;
			EVP_PKEY *ek = NULL;
			struct tpm_pcrs pcrs;
			json_t *tpm = NULL;
			uint8_t sig[6 + 512];
			size_t slen;

			CU_ASSERT_FATAL(tpm_hcl_parse(e.hcl, e.hcl_len, &h, &why) == 0);
			keys = json_object_get(h->runtime, "keys");
			CU_ASSERT_FATAL(kw_jwk_import_public(json_array_get(keys, 1), &ek) == 0);
			CU_ASSERT_FATAL(tpm_pcrs_from_json(json_object_get(ev, "pcrs"), &pcrs, &why) == 0);
			CU_ASSERT_FATAL(kw_b64url_decode(json_string_value(json_object_get(ev, "vtpm_signature")),
			    json_string_length(json_object_get(ev, "vtpm_signature")), sig, sizeof(sig), &slen) == 0);
			CU_ASSERT(tpm_quote_verify(e.quote, e.quote_len, sig, slen, h->ak, &pcrs, binding, 48, &tpm,
			    NULL, &why) == 0);
			json_decref(tpm);
			tpm = NULL;
			CU_ASSERT(tpm_quote_verify(e.quote, e.quote_len, sig, slen, ek, &pcrs, binding, 48, &tpm,
			    NULL, &why) == KW_ERR_SIG_INVALID);
			CU_ASSERT_PTR_NULL(tpm);
			EVP_PKEY_free(ek);
			tpm_hcl_free(h);
		}
		snp_trust_free(trust.snp);
		json_decref(ev);
		tpm_azure_evidence_clear(&e);
		json_decref(doc);
	}
}

/* ---- TDX: evidence built here ---- */

struct aztdx {
	struct att_tdx_emu *emu;
	struct att_tdx_emu_opts o;
	struct kw_trust trust;
	struct kw_tdx_collateral_source *src;
	EVP_PKEY *ak, *other;
	uint8_t pcrs[24][32];
	uint8_t extra[48];
};

static EVP_PKEY *
rsa_key(void)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);

	CU_ASSERT_FATAL(k != NULL);
	return k;
}

/* var_data as Azure writes it, with key's JWK as HCLAkPub (new string). */
static char *
var_data(EVP_PKEY *key, EVP_PKEY *ek)
{
	json_t *ak = NULL, *ekj = NULL, *v;
	char *s;

	CU_ASSERT_FATAL(kw_jwk_export_public(key, &ak) == 0 && kw_jwk_export_public(ek, &ekj) == 0);
	json_object_set_new(ak, "kid", json_string("HCLAkPub"));
	json_object_set_new(ak, "key_ops", json_pack("[s]", "sign"));
	json_object_set_new(ekj, "kid", json_string("HCLEkPub"));
	json_object_set_new(ekj, "key_ops", json_pack("[s]", "encrypt"));
	v = json_pack("{s:[o,o],s:{s:b,s:b,s:b,s:s},s:s}", "keys", ak, ekj, "vm-configuration",
	    "console-enabled", 0, "secure-boot", 1, "tpm-enabled", 1, "vmUniqueId", "TEST-VM",
	    "user-data", "00");
	CU_ASSERT_FATAL(v != NULL);
	s = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	CU_ASSERT_FATAL(s != NULL);
	return s;
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* An HCL report (TDX) with var and the TDREPORT REPORT_DATA rd (new buffer of *ret_len). */
static uint8_t *
hcl_tdx(const char *var, const uint8_t rd[64], size_t *ret_len)
{
	size_t vn = strlen(var), n = 2600;
	uint8_t *b = calloc(1, n);

	CU_ASSERT_FATAL(b != NULL && 0x4D4 + vn <= n);
	memcpy(b, "HCLA", 4);
	put32(b + 4, 2);
	put32(b + 8, (uint32_t)(0x4D4 + vn));
	put32(b + 12, 2);
	b[0x20] = 0x81;
	memcpy(b + 0x20 + 128, rd, 64);
	memset(b + 0x20 + 528, 0xab, 48);    /* MRTD */
	put32(b + 0x4C0, (uint32_t)(20 + vn));
	put32(b + 0x4C4, 1);
	put32(b + 0x4C8, 4);
	put32(b + 0x4CC, 1);
	put32(b + 0x4D0, (uint32_t)vn);
	memcpy(b + 0x4D4, var, vn);
	*ret_len = n;
	return b;
}

/* A TPMS_ATTEST quote of PCR 0..23 (sha256) with extraData extra, marshalled by tss2-mu. */
static void
make_quote(const struct aztdx *t, const uint8_t *extra, size_t extra_len, uint8_t *out, size_t *out_len)
{
	TPMS_ATTEST a;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int dl = 0;
	size_t off = 0;

	memset(&a, 0, sizeof(a));
	a.magic = TPM2_GENERATED_VALUE;
	a.type = TPM2_ST_ATTEST_QUOTE;
	a.qualifiedSigner.size = 34;
	a.qualifiedSigner.name[1] = 0x0b;
	a.extraData.size = (UINT16)extra_len;
	memcpy(a.extraData.buffer, extra, extra_len);
	a.clockInfo.clock = 123456;
	a.clockInfo.resetCount = 2;
	a.clockInfo.safe = 1;
	a.firmwareVersion = 0x2020031200120003ULL;
	a.attested.quote.pcrSelect.count = 1;
	a.attested.quote.pcrSelect.pcrSelections[0].hash = TPM2_ALG_SHA256;
	a.attested.quote.pcrSelect.pcrSelections[0].sizeofSelect = 3;
	memset(a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect, 0xff, 3);
	CU_ASSERT_FATAL(c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1);
	for (int i = 0; i < 24; i++)
		CU_ASSERT_FATAL(EVP_DigestUpdate(c, t->pcrs[i], 32) == 1);
	CU_ASSERT_FATAL(EVP_DigestFinal_ex(c, a.attested.quote.pcrDigest.buffer, &dl) == 1 && dl == 32);
	a.attested.quote.pcrDigest.size = 32;
	EVP_MD_CTX_free(c);
	CU_ASSERT_FATAL(Tss2_MU_TPMS_ATTEST_Marshal(&a, out, *out_len, &off) == TSS2_RC_SUCCESS);
	*out_len = off;
}

/* RSASSA-PKCS1-v1_5/SHA-256 of msg with key, as a marshalled TPMT_SIGNATURE. */
static void
sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t *out, size_t *out_len)
{
	TPMT_SIGNATURE s;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t sl = sizeof(s.signature.rsassa.sig.buffer), off = 0;

	memset(&s, 0, sizeof(s));
	CU_ASSERT_FATAL(c != NULL && EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, key) == 1);
	CU_ASSERT_FATAL(EVP_DigestSign(c, s.signature.rsassa.sig.buffer, &sl, msg, len) == 1);
	EVP_MD_CTX_free(c);
	s.sigAlg = TPM2_ALG_RSASSA;
	s.signature.rsassa.hash = TPM2_ALG_SHA256;
	s.signature.rsassa.sig.size = (UINT16)sl;
	CU_ASSERT_FATAL(Tss2_MU_TPMT_SIGNATURE_Marshal(&s, out, *out_len, &off) == TSS2_RC_SUCCESS);
	*out_len = off;
}

struct build {
	int swap_ak;             /* HCLAkPub is t->other (bound), the quote signed by t->ak */
	int quote_rd_differs;    /* TD quote REPORT_DATA != TDREPORT's */
	int unbound;             /* REPORT_DATA is not SHA-256(var_data) */
	int pcr_changed;         /* a PCR value in the evidence differs from the quoted one */
};

static json_t *
build(const struct aztdx *t, const struct build *how)
{
	char *var = var_data(how->swap_ak ? t->other : t->ak, t->other);
	uint8_t rd[64], *hcl, *q = NULL, attest[1024], sig[1024];
	size_t hlen = 0, qlen = 0, alen = sizeof(attest), slen = sizeof(sig);
	struct att_tdx_emu_opts o = t->o;
	json_t *ev = json_object(), *bank = json_object();
	char key[4], *hex = NULL;

	memset(rd, 0, sizeof(rd));
	CU_ASSERT_FATAL(kw_sha256(var, strlen(var), rd) == 0);
	if (how->unbound)
		rd[5] ^= 1;
	hcl = hcl_tdx(var, rd, &hlen);
	memcpy(o.report_data, rd, 64);
	if (how->quote_rd_differs)
		o.report_data[40] ^= 1;
	memset(o.mrtd, 0xab, sizeof(o.mrtd));
	CU_ASSERT_FATAL(att_tdx_emu_quote(t->emu, &o, &q, &qlen) == 0);
	make_quote(t, t->extra, sizeof(t->extra), attest, &alen);
	sign(t->ak, attest, alen, sig, &slen);
	b64_member(ev, "tdx_hcl_report", hcl, hlen);
	b64_member(ev, "vtpm_quote", attest, alen);
	b64_member(ev, "vtpm_signature", sig, slen);
	b64_member(ev, "td_quote", q, qlen);
	for (unsigned int i = 0; i < 24; i++) {
		uint8_t v[32];

		memcpy(v, t->pcrs[i], 32);
		if (how->pcr_changed && i == 7)
			v[0] ^= 1;
		snprintf(key, sizeof(key), "%u", i);
		CU_ASSERT_FATAL(kw_hex_encode(v, 32, &hex) == 0);
		json_object_set_new(bank, key, json_string(hex));
		free(hex);
	}
	json_object_set_new(ev, "pcrs", json_pack("{s:o}", "sha256", bank));
	free(q);
	free(hcl);
	free(var);
	return ev;
}

static void
aztdx_init(struct aztdx *t)
{
	char *root = NULL, *coll = NULL;
	json_t *cj = NULL;

	memset(t, 0, sizeof(*t));
	att_tdx_emu_opts_default(&t->o, T0);
	CU_ASSERT_FATAL(att_tdx_emu_new(&t->o, 0, &t->emu) == 0);
	CU_ASSERT_FATAL(tdx_trust_new(&t->trust.tdx) == 0);
	CU_ASSERT_FATAL(att_tdx_emu_root_pem(t->emu, &root) == 0);
	CU_ASSERT_FATAL(tdx_trust_add_test_root_pem(t->trust.tdx, root, strlen(root)) == 0);
	CU_ASSERT_FATAL(att_tdx_emu_collateral(t->emu, &t->o, &coll) == 0);
	CU_ASSERT_FATAL(kw_json_parse(coll, strlen(coll), TDX_MAX_COLLATERAL, &cj) == 0);
	CU_ASSERT_FATAL(kw_tdx_fixed_new(t->trust.tdx, cj, &t->src) == 0);
	t->trust.tdx_collateral = t->src;
	t->ak = rsa_key();
	t->other = rsa_key();
	for (int i = 0; i < 24; i++)
		memset(t->pcrs[i], i < 17 || i == 23 ? i : 0xff, 32);
	for (int i = 0; i < 48; i++)
		t->extra[i] = (uint8_t)(0xc0 + i);
	json_decref(cj);
	free(coll);
	free(root);
}

static void
aztdx_free(struct aztdx *t)
{
	kw_tdx_source_free(t->src);
	tdx_trust_free(t->trust.tdx);
	att_tdx_emu_free(t->emu);
	EVP_PKEY_free(t->ak);
	EVP_PKEY_free(t->other);
}

static int
appraise(const struct aztdx *t, const json_t *ev, int64_t at, json_t **claims, const char **why)
{
	struct kw_appraisal in;
	uint8_t binding[KW_BINDING_LEN];

	memset(binding, 0, sizeof(binding));
	memcpy(binding, t->extra, sizeof(t->extra));
	memset(&in, 0, sizeof(in));
	in.evidence = ev;
	in.binding = binding;
	in.binding_len = sizeof(binding);
	in.at = at;
	in.trust = &t->trust;
	return kw_verifier_az_tdx_vtpm.appraise(&in, claims, why);
}

static void
test_tdx_emulated(void)
{
	struct aztdx t;
	struct build how;
	json_t *ev, *claims = NULL, *pcrs;
	const char *why = NULL;
	int r;

	aztdx_init(&t);
	CU_ASSERT(kw_verifier_az_tdx_vtpm.enabled(&t.trust) == 1);
	CU_ASSERT(kw_verifier_az_snp_vtpm.enabled(&t.trust) == 0);
	memset(&how, 0, sizeof(how));
	ev = build(&t, &how);
	CU_ASSERT_PTR_EQUAL(kw_verifier_for_evidence(ev, &why), &kw_verifier_az_tdx_vtpm);
	CU_ASSERT_EQUAL(kw_verifier_az_tdx_vtpm.check(ev, &why), 0);
	r = appraise(&t, ev, T0 + DAY, &claims, &why);
	CHECKF(r == 0, "%d %s", r, why);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "tee")), "az-tdx-vtpm");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "root")), "test");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "tcb_status")), "UpToDate");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "mrtd")),
	    "abababababababababababababababababababababababab"
	    "abababababababababababababababababababababababab");
	pcrs = json_object_get(json_object_get(claims, "pcrs"), "sha256");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(pcrs, "7")),
	    "0707070707070707070707070707070707070707070707070707070707070707");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(pcrs, "20")),
	    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(claims, "tpm"), "clock")), 123456);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(json_object_get(claims,
	    "azure"), "vm_configuration"), "vm_unique_id")), "TEST-VM");
	CU_ASSERT(json_is_false(json_object_get(json_object_get(json_object_get(claims, "azure"),
	    "vm_configuration"), "console_enabled")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(claims, "azure"), "hcl_version")), 2);
	json_decref(claims);
	claims = NULL;
	/* the same evidence is not SNP evidence */
	CU_ASSERT_EQUAL(kw_verifier_az_snp_vtpm.check(ev, &why), KW_ERR_INVALID_FORMAT);
	/* collateral outside its window: the TDX verifier refuses it (fail closed) */
	r = appraise(&t, ev, T0 + 40 * DAY, &claims, &why);
	CHECKF(r == KW_ERR_CERT_EXPIRED && strstr(why, "verification time") != NULL, "%d %s", r, why);
	CU_ASSERT_PTR_NULL(claims);
	/* the wrong binding */
	t.extra[0] ^= 1;
	CU_ASSERT_EQUAL(appraise(&t, ev, T0 + DAY, &claims, &why), KW_ERR_MISMATCH);
	CU_ASSERT(strstr(why, "extraData") != NULL);
	t.extra[0] ^= 1;
	json_decref(ev);

	how.quote_rd_differs = 1;
	ev = build(&t, &how);
	CU_ASSERT_EQUAL(appraise(&t, ev, T0 + DAY, &claims, &why), KW_ERR_MISMATCH);
	CU_ASSERT_STRING_EQUAL(why, "TD quote REPORT_DATA does not match the HCL report's TDREPORT");
	json_decref(ev);
	memset(&how, 0, sizeof(how));

	how.unbound = 1;
	ev = build(&t, &how);
	CU_ASSERT_EQUAL(appraise(&t, ev, T0 + DAY, &claims, &why), KW_ERR_MISMATCH);
	CU_ASSERT_STRING_EQUAL(why, "hardware REPORT_DATA does not match SHA-256(HCL var_data)");
	json_decref(ev);
	memset(&how, 0, sizeof(how));

	how.swap_ak = 1;   /* the hardware vouches for another key than the quote's signer */
	ev = build(&t, &how);
	CU_ASSERT_EQUAL(appraise(&t, ev, T0 + DAY, &claims, &why), KW_ERR_SIG_INVALID);
	json_decref(ev);
	memset(&how, 0, sizeof(how));

	how.pcr_changed = 1;
	ev = build(&t, &how);
	CU_ASSERT_EQUAL(appraise(&t, ev, T0 + DAY, &claims, &why), KW_ERR_MISMATCH);
	CU_ASSERT(strstr(why, "pcrDigest") != NULL);
	CU_ASSERT_PTR_NULL(claims);
	/* shapes: no pcrs, an unknown member, an SNP member */
	json_object_del(ev, "pcrs");
	CU_ASSERT_EQUAL(kw_verifier_az_tdx_vtpm.check(ev, &why), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_STRING_EQUAL(why, "tee-evidence.pcrs is required");
	json_object_set_new(ev, "vcek", json_string("x"));
	CU_ASSERT_EQUAL(kw_verifier_az_tdx_vtpm.check(ev, &why), KW_ERR_INVALID_FORMAT);
	json_decref(ev);
	aztdx_free(&t);
}

/* An SNP member given the TDX-shaped HCL under the SNP name: the HCL type decides. */
static void
test_type_mismatch(void)
{
	struct aztdx t;
	struct build how;
	struct kw_trust trust = { .snp = NULL };
	struct kw_appraisal in;
	json_t *ev, *snp, *claims = NULL;
	const char *why = NULL;
	char path[512];
	uint8_t *pem = NULL;
	size_t plen = 0;

	aztdx_init(&t);
	memset(&how, 0, sizeof(how));
	ev = build(&t, &how);
	CU_ASSERT_FATAL(kw_file_read(test_vpath(path, sizeof(path), AZ, "vcek.pem"), 65536, &pem, &plen) == 0);
	snp = json_pack("{s:O,s:O,s:O,s:O,s:s%}", "snp_hcl_report", json_object_get(ev, "tdx_hcl_report"),
	    "vtpm_quote", json_object_get(ev, "vtpm_quote"), "vtpm_signature",
	    json_object_get(ev, "vtpm_signature"), "pcrs", json_object_get(ev, "pcrs"), "vcek", (char *)pem,
	    plen);
	CU_ASSERT_FATAL(snp != NULL);
	CU_ASSERT_EQUAL(kw_verifier_az_snp_vtpm.check(snp, &why), 0);
	CU_ASSERT_FATAL(snp_trust_new(&trust.snp) == 0);
	memset(&in, 0, sizeof(in));
	in.evidence = snp;
	in.at = T0;
	in.trust = &trust;
	CU_ASSERT_EQUAL(kw_verifier_az_snp_vtpm.appraise(&in, &claims, &why), KW_ERR_MISMATCH);
	CU_ASSERT_STRING_EQUAL(why, "the HCL report holds no SNP report");
	/* a PEM with something else than certificates */
	json_object_set_new(snp, "vcek", json_string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
	CU_ASSERT_EQUAL(kw_verifier_az_snp_vtpm.check(snp, &why), KW_ERR_INVALID_FORMAT);
	json_object_set_new(snp, "vcek", json_string("not pem"));
	CU_ASSERT_EQUAL(kw_verifier_az_snp_vtpm.check(snp, &why), KW_ERR_INVALID_FORMAT);
	snp_trust_free(trust.snp);
	json_decref(snp);
	json_decref(ev);
	free(pem);
	aztdx_free(&t);
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{"snp_vectors", test_snp_vectors},
		{"tdx_emulated", test_tdx_emulated},
		{"type_mismatch", test_type_mismatch},
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{"verifier_azure", NULL, NULL, NULL, NULL, tests},
		CU_SUITE_INFO_NULL,
	};

	if (test_vectors(AZ) == NULL)
		return 1;
	return test_run_suites(suites);
}
