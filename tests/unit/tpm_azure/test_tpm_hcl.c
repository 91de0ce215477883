/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verifier-client/tpm/tpm_hcl and tpm_azure on the recorded Azure vectors
 * ($KW_VECTORS/tpm/azure-snp-vtpm): the HCL report's layout, the binding
 * REPORT_DATA[0:32] == SHA-256(var_data), the HCLAkPub key, truncation and
 * bit-flip sweeps, var_data edits; the recorded evidence formats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <openssl/evp.h>

#include "kw_json.h"
#include "kw_util.h"
#include "test_helper.h"
#include "tpm_azure.h"
#include "tpm_hcl.h"

#define AZ "tpm/azure-snp-vtpm"

static uint8_t *
load(const char *name, size_t *len)
{
	char path[512];
	uint8_t *b = NULL;

	test_vpath(path, sizeof(path), AZ, "%s", name);
	int r = kw_file_read(path, 1024 * 1024, &b, len);

	CHECKF(r == 0, "cannot read %s", path);
	return b;
}

static json_t *
load_json(const char *name)
{
	size_t len = 0;
	uint8_t *b = load(name, &len);
	json_t *j = NULL;

	if (b != NULL) {
		int r = kw_json_parse(b, len, TPM_AZURE_MAX_DOC, &j);

		CHECKF(r == 0, "%s is not JSON", name);
	}
	free(b);
	return j;
}

/* The hex of report_data's 64 bytes equals want (from expected.json). */
static int
rd_is(const struct tpm_hcl *h, const char *want)
{
	char *hex = NULL;
	int eq;

	if (kw_hex_encode(h->report_data, 64, &hex) != 0)
		return 0;
	eq = strcmp(hex, want) == 0;
	free(hex);
	return eq;
}

static void
test_hcl_bin(void)
{
	size_t len = 0;
	uint8_t *b = load("hcl-report.bin", &len);
	struct tpm_hcl *h = NULL;
	const char *why = NULL;
	json_t *c;

	CU_ASSERT_FATAL(b != NULL && len == 2600);
	CU_ASSERT_FATAL(tpm_hcl_parse(b, len, &h, &why) == 0);
	CU_ASSERT_EQUAL(h->type, TPM_HCL_SNP);
	CU_ASSERT_STRING_EQUAL(tpm_hcl_type_name(h->type), "snp");
	CU_ASSERT_EQUAL(h->version, 1);
	CU_ASSERT_EQUAL(h->hw_report_len, 1184);
	CU_ASSERT_EQUAL(h->var_data_len, 1110);
	CU_ASSERT(memcmp(h->hw_report, b + 0x20, 1184) == 0);
	CU_ASSERT(rd_is(h, "b3fbad6514c83caeb0380882145e49f794229ef37c421b91fc47ff93556bafac"
	    "0000000000000000000000000000000000000000000000000000000000000000"));
	CU_ASSERT(tpm_hcl_check_binding(h, h->report_data, &why) == 0);
	CU_ASSERT(EVP_PKEY_get_base_id(h->ak) == EVP_PKEY_RSA);
	CU_ASSERT_EQUAL(EVP_PKEY_get_bits(h->ak), 2048);
	c = tpm_hcl_claims(h);
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT(json_is_true(json_object_get(json_object_get(c, "vm_configuration"), "secure_boot")));
	CU_ASSERT(json_is_true(json_object_get(json_object_get(c, "vm_configuration"), "tpm_enabled")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(c, "vm_configuration"),
	    "vm_unique_id")), "911B0EF8-9DBA-48B0-B275-4E4DF2D39252");
	CU_ASSERT_EQUAL(strlen(json_string_value(json_object_get(c, "user_data"))), 128);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(c, "hcl_version")), 1);
	json_decref(c);
	tpm_hcl_free(h);
	free(b);
}

/* Every prefix shorter than header + var_data fails; the zero tail is optional. */
static void
test_hcl_truncations(void)
{
	size_t len = 0, end = 0x4D4 + 1110;
	uint8_t *b = load("hcl-report.bin", &len);
	struct tpm_hcl *h = NULL;
	const char *why = NULL;

	CU_ASSERT_FATAL(b != NULL);
	for (size_t n = 0; n <= len; n++) {
		int r = tpm_hcl_parse(b, n, &h, &why);

		if (n < end) {
			CHECKF(r != 0 && h == NULL, "prefix %zu parsed", n);
		} else {
			CHECKF(r == 0, "prefix %zu: %s", n, why);
			tpm_hcl_free(h);
			h = NULL;
		}
	}
	/* a non-zero byte after var_data */
	b[len - 1] = 1;
	CU_ASSERT(tpm_hcl_parse(b, len, &h, &why) == KW_ERR_INVALID_FORMAT);
	free(b);
}

/*
 * Bit flips: in the header and runtime header (but the request type, which
 * is not appraised) the parse fails; in var_data it fails or the binding
 * does (against the original REPORT_DATA); in the hardware report's
 * REPORT_DATA[0:32] the binding fails.
 */
static void
test_hcl_bitflips(void)
{
	size_t len = 0, end = 0x4D4 + 1110, fails = 0, total = 0;
	uint8_t *b = load("hcl-report.bin", &len), rd[64];
	struct tpm_hcl *h = NULL;
	const char *why = NULL;

	CU_ASSERT_FATAL(b != NULL);
	memcpy(rd, b + 0x20 + 0x50, 64);
	for (size_t i = 0; i < end; i++) {
		int in_var = i >= 0x4D4, in_hdr = i < 0x20 || (i >= 0x4C0 && i < 0x4D4);

		if ((i >= 12 && i < 16) || (!in_var && !in_hdr && !(i >= 0x70 && i < 0x90)))
			continue;
		for (int bit = 0; bit < 8; bit++) {
			int r, bound = 0;

			b[i] ^= (uint8_t)(1u << bit);
			r = tpm_hcl_parse(b, len, &h, &why);
			if (r == 0) {
				bound = tpm_hcl_check_binding(h, in_var ? rd : h->report_data, &why) == 0;
				tpm_hcl_free(h);
				h = NULL;
			}
			total++;
			fails += r != 0 || !bound;
			CHECKF(r != 0 || !bound, "flip at %zu bit %d still parses and binds", i, bit);
			b[i] ^= (uint8_t)(1u << bit);
		}
	}
	CU_ASSERT(total > 9000 && fails == total);
	free(b);
}

/* A copy of report b with var_data replaced by v (sizes updated). */
static uint8_t *
with_var(const uint8_t *b, const char *v, size_t *ret_len)
{
	size_t vn = strlen(v), n = 0x4D4 + vn + 16;
	uint8_t *o = calloc(1, n);
	uint32_t rs = (uint32_t)(0x4D4 + vn), ds = (uint32_t)(20 + vn), vs = (uint32_t)vn;

	if (o == NULL)
		return NULL;
	memcpy(o, b, 0x4D4);
	for (int k = 0; k < 4; k++) {
		o[8 + k] = (uint8_t)(rs >> (8 * k));
		o[0x4C0 + k] = (uint8_t)(ds >> (8 * k));
		o[0x4D0 + k] = (uint8_t)(vs >> (8 * k));
	}
	memcpy(o + 0x4D4, v, vn);
	*ret_len = n;
	return o;
}

static void
test_hcl_var_data(void)
{
	size_t len = 0, n = 0;
	uint8_t *b = load("hcl-report.bin", &len), *o;
	struct tpm_hcl *h = NULL, *h2 = NULL;
	const char *why = NULL;
	char *v, *p, *q;
	json_t *rt, *keys, *k0;

	CU_ASSERT_FATAL(b != NULL && tpm_hcl_parse(b, len, &h, &why) == 0);
	v = calloc(1, h->var_data_len + 1);
	CU_ASSERT_FATAL(v != NULL);
	memcpy(v, h->var_data, h->var_data_len);

	/* one byte of user-data changed: still JSON, still an AK, but the binding fails */
	p = strstr(v, "\"user-data\":\"");
	CU_ASSERT_FATAL(p != NULL);
	p[13] = p[13] == '0' ? '1' : '0';
	CU_ASSERT_FATAL((o = with_var(b, v, &n)) != NULL);
	CU_ASSERT(tpm_hcl_parse(o, n, &h2, &why) == 0);
	CU_ASSERT(tpm_hcl_check_binding(h2, h->report_data, &why) == KW_ERR_MISMATCH);
	CU_ASSERT(why != NULL && strstr(why, "SHA-256") != NULL);
	tpm_hcl_free(h2);
	h2 = NULL;
	free(o);
	p[13] = p[13] == '0' ? '1' : '0';

	/* the same var_data rebuilt: binds (the helper itself is right) */
	CU_ASSERT_FATAL((o = with_var(b, v, &n)) != NULL);
	CU_ASSERT(tpm_hcl_parse(o, n, &h2, &why) == 0 && tpm_hcl_check_binding(h2, h->report_data, &why) == 0);
	tpm_hcl_free(h2);
	h2 = NULL;
	free(o);

	/* AK and EK swapped: another AK key, and the binding fails */
	p = strstr(v, "\"kid\":\"HCLAkPub\"");
	q = strstr(v, "\"kid\":\"HCLEkPub\"");
	CU_ASSERT_FATAL(p != NULL && q != NULL);
	memcpy(p + 10, "Ek", 2);
	memcpy(q + 10, "Ak", 2);
	CU_ASSERT_FATAL((o = with_var(b, v, &n)) != NULL);
	CU_ASSERT_FATAL(tpm_hcl_parse(o, n, &h2, &why) == 0);
	CU_ASSERT(EVP_PKEY_eq(h->ak, h2->ak) != 1);
	CU_ASSERT(tpm_hcl_check_binding(h2, h->report_data, &why) == KW_ERR_MISMATCH);
	tpm_hcl_free(h2);
	h2 = NULL;
	free(o);
	memcpy(p + 10, "Ak", 2);
	memcpy(q + 10, "Ek", 2);

	/* two HCLAkPub keys, none, a duplicate member, not JSON, an EC key */
	rt = json_deep_copy(h->runtime);
	keys = json_object_get(rt, "keys");
	k0 = json_array_get(keys, 0);
	{
		static const char *const bad[] = {
			"{\"keys\":[]}",
			"{\"keys\":{}}",
			"{\"keys\":[1]}",
			"{\"keys\":[],\"keys\":[]}",
			"{\"keys\":[{\"kid\":\"HCLAkPub\",\"kty\":\"EC\",\"crv\":\"P-256\","
			    "\"x\":\"AAAA\",\"y\":\"AAAA\"}]}",
			"not json",
			"[1,2]",
		};
		char *two;

		json_array_append(keys, k0);
		two = json_dumps(rt, JSON_COMPACT);
		CU_ASSERT_FATAL(two != NULL);
		CU_ASSERT_FATAL((o = with_var(b, two, &n)) != NULL);
		CU_ASSERT(tpm_hcl_parse(o, n, &h2, &why) == KW_ERR_INVALID_FORMAT);
		CU_ASSERT(strstr(why, "more than one") != NULL);
		free(o);
		free(two);
		for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
			int r;

			CU_ASSERT_FATAL((o = with_var(b, bad[i], &n)) != NULL);
			r = tpm_hcl_parse(o, n, &h2, &why);
			CHECKF(r == KW_ERR_INVALID_FORMAT || r == KW_ERR_UNSUPPORTED, "case %zu: %d", i, r);
			CU_ASSERT_PTR_NULL(h2);
			free(o);
		}
	}
	json_decref(rt);
	free(v);
	tpm_hcl_free(h);
	free(b);
}

/* A TDX HCL report: the TDREPORT in the slot, REPORT_DATA at 128. */
static void
test_hcl_tdx(void)
{
	size_t len = 0;
	uint8_t *b = load("hcl-report.bin", &len);
	struct tpm_hcl *h = NULL;
	const char *why = NULL;

	CU_ASSERT_FATAL(b != NULL);
	memset(b + 0x20, 0, 1184);
	b[0x20] = 0x81;
	for (int i = 0; i < 64; i++)
		b[0x20 + 128 + i] = (uint8_t)i;
	b[0x4C8] = 4;   /* report type TDX */
	CU_ASSERT_FATAL(tpm_hcl_parse(b, len, &h, &why) == 0);
	CU_ASSERT_EQUAL(h->type, TPM_HCL_TDX);
	CU_ASSERT_STRING_EQUAL(tpm_hcl_type_name(h->type), "tdx");
	CU_ASSERT_EQUAL(h->hw_report_len, 1024);
	CU_ASSERT(h->report_data[0] == 0 && h->report_data[63] == 63);
	CU_ASSERT(tpm_hcl_check_binding(h, h->report_data, &why) == KW_ERR_MISMATCH);
	tpm_hcl_free(h);
	h = NULL;
	b[0x20 + 1100] = 1;   /* the slot after the TDREPORT must be zero */
	CU_ASSERT(tpm_hcl_parse(b, len, &h, &why) == KW_ERR_INVALID_FORMAT);
	b[0x20 + 1100] = 0;
	b[0x20] = 0x00;       /* not a TDX TDREPORT */
	CU_ASSERT(tpm_hcl_parse(b, len, &h, &why) == KW_ERR_INVALID_FORMAT);
	b[0x20] = 0x81;
	b[0x4C8] = 3;         /* another report type */
	CU_ASSERT(tpm_hcl_parse(b, len, &h, &why) == KW_ERR_UNSUPPORTED);
	b[0x4C8] = 4;
	b[0x4CC] = 2;         /* SHA-384 hash type */
	CU_ASSERT(tpm_hcl_parse(b, len, &h, &why) == KW_ERR_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(h);
	free(b);
}

static const struct {
	const char *file;
	const char *report_data;
	uint32_t hcl_version;
	int version;
} recorded[] = {
	{"evidence-v0.json", "af2910341dd8108360e485f1b72494255190b9cdd5ccb44b73b883037cf99f21", 1, 0},
	{"evidence-v1.json", "af2910341dd8108360e485f1b72494255190b9cdd5ccb44b73b883037cf99f21", 1, 1},
	{"evidence-v2.json", "cf7cc0731c50f64876804b3943b2bfbd93dba69f5928e3df223e78ff34dd46ee", 1, 2},
	{"evidence-genoa.json", "b581f12e29a2d7d64e5e0b738d563879a78b51c644d0fa0cce02b48699f6bf5f", 2, 0},
};

static void
test_recorded(void)
{
	uint8_t *hcl0 = NULL;
	size_t hcl0_len = 0;

	for (size_t i = 0; i < KW_ARRAY_SIZE(recorded); i++) {
		json_t *doc = load_json(recorded[i].file), *tee = NULL;
		struct tpm_azure_evidence e;
		struct tpm_hcl *h = NULL;
		const char *why = NULL;
		char want[129];
		int r;

		CU_ASSERT_FATAL(doc != NULL);
		r = tpm_azure_evidence_parse(doc, &e, &why);
		CHECKF(r == 0, "%s: %s", recorded[i].file, why);
		CU_ASSERT_EQUAL(e.version, recorded[i].version);
		CU_ASSERT(e.vcek_pem != NULL && strncmp(e.vcek_pem, "-----BEGIN CERTIFICATE-----", 27) == 0);
		CU_ASSERT_PTR_NULL(e.td_quote);
		CU_ASSERT(e.sig_len == 256 && e.quote_len > 100 && e.hcl_len == 2600);
		CU_ASSERT(e.quote[0] == 0xff && e.quote[1] == 'T' && e.quote[2] == 'C' && e.quote[3] == 'G');
		r = tpm_hcl_parse(e.hcl, e.hcl_len, &h, &why);
		CHECKF(r == 0, "%s: %s", recorded[i].file, why);
		if (h != NULL) {
			(void)snprintf(want, sizeof(want), "%s%064d", recorded[i].report_data, 0);
			CU_ASSERT(rd_is(h, want));
			CU_ASSERT(tpm_hcl_check_binding(h, h->report_data, &why) == 0);
			CU_ASSERT_EQUAL(h->version, recorded[i].hcl_version);
		}
		/* v0 and v1: the same report in two encodings, signed twice (ECDSA R, S differ) */
		if (i == 0) {
			hcl0 = malloc(e.hcl_len);
			CU_ASSERT_FATAL(hcl0 != NULL);
			memcpy(hcl0, e.hcl, e.hcl_len);
			hcl0_len = e.hcl_len;
		} else if (i == 1) {
			CU_ASSERT(hcl0_len == e.hcl_len && memcmp(hcl0, e.hcl, 0x20 + 0x2A0) == 0);
			CU_ASSERT(memcmp(hcl0 + 0x20 + 0x2A0, e.hcl + 0x20 + 0x2A0, 144) != 0);
			CU_ASSERT(memcmp(hcl0 + 0x20 + 0x2A0 + 144, e.hcl + 0x20 + 0x2A0 + 144,
			    hcl0_len - 0x20 - 0x2A0 - 144) == 0);
		}
		CU_ASSERT(tpm_azure_tee_evidence(&e, 0, &tee) == 0);
		CU_ASSERT(json_is_string(json_object_get(tee, "snp_hcl_report")));
		CU_ASSERT(json_is_string(json_object_get(tee, "vtpm_quote")));
		CU_ASSERT(json_is_string(json_object_get(tee, "vtpm_signature")));
		CU_ASSERT(json_is_string(json_object_get(tee, "vcek")));
		CU_ASSERT_EQUAL(json_object_size(json_object_get(json_object_get(tee, "pcrs"), "sha256")), 24);
		CU_ASSERT(tpm_azure_tee_evidence(&e, 1, &tee) == KW_ERR_INVALID_ARG || tee != NULL);
		json_decref(tee);
		tpm_hcl_free(h);
		tpm_azure_evidence_clear(&e);
		json_decref(doc);
	}
	free(hcl0);
}

static void
test_recorded_bad(void)
{
	static const char *const bad[] = {
		"[]",
		"{}",
		"{\"version\":3,\"tpm_quote\":{},\"hcl_report\":\"AA\",\"vcek\":\"AA\"}",
		"{\"version\":\"1\"}",
		"{\"quote\":{\"message\":[1],\"signature\":[1],\"pcrs\":[]},\"report\":[1],\"vcek\":\"x\"}",
		"{\"quote\":{\"message\":[256],\"signature\":[1],\"pcrs\":[]},\"report\":[1],\"vcek\":\"x\"}",
		"{\"quote\":{},\"tpm_quote\":{},\"report\":[1],\"vcek\":\"x\"}",
		"{\"version\":1,\"tpm_quote\":{\"message\":\"ff\",\"signature\":\"ff\",\"pcrs\":[]},"
		    "\"hcl_report\":\"AA\",\"vcek\":\"AA\",\"td_quote\":\"AA\"}",
		"{\"version\":1,\"tpm_quote\":{\"message\":\"ff\",\"signature\":\"ff\",\"pcrs\":[]},"
		    "\"hcl_report\":\"AA\",\"vcek\":\"AA\",\"extra\":1}",
	};

	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		json_t *j = NULL;
		struct tpm_azure_evidence e;
		const char *why = NULL;
		int r;

		CU_ASSERT_FATAL(kw_json_parse(bad[i], strlen(bad[i]), 4096, &j) == 0 || i == 0);
		if (j == NULL)
			j = json_array();
		memset(&e, 0x5a, sizeof(e));
		r = tpm_azure_evidence_parse(j, &e, &why);
		CHECKF(r != 0, "case %zu parsed", i);
		CU_ASSERT(why != NULL);
		CU_ASSERT(e.version == 0x5a5a5a5a);   /* untouched */
		json_decref(j);
	}
	/* a recorded file with one PCR value cut short, then with bad padding in hcl_report */
	{
		json_t *doc = load_json("evidence-v1.json"), *pcrs;
		struct tpm_azure_evidence e;
		const char *why = NULL;
		char *s;

		CU_ASSERT_FATAL(doc != NULL);
		pcrs = json_object_get(json_object_get(doc, "tpm_quote"), "pcrs");
		s = kw_strdup(json_string_value(json_array_get(pcrs, 5)));
		CU_ASSERT_FATAL(s != NULL);
		s[62] = '\0';
		json_array_set_new(pcrs, 5, json_string(s));
		CU_ASSERT(tpm_azure_evidence_parse(doc, &e, &why) == KW_ERR_INVALID_FORMAT);
		free(s);
		json_decref(doc);
		doc = load_json("evidence-v1.json");
		s = kw_strdup(json_string_value(json_object_get(doc, "hcl_report")));
		CU_ASSERT_FATAL(s != NULL);
		s[100] = '=';   /* padding inside the text */
		json_object_set_new(doc, "hcl_report", json_string(s));
		CU_ASSERT(tpm_azure_evidence_parse(doc, &e, &why) == KW_ERR_INVALID_FORMAT);
		free(s);
		json_decref(doc);
	}
}

int
main(void)
{
	CU_TestInfo tests[] = {
		{"hcl_bin", test_hcl_bin},
		{"hcl_truncations", test_hcl_truncations},
		{"hcl_bitflips", test_hcl_bitflips},
		{"hcl_var_data", test_hcl_var_data},
		{"hcl_tdx", test_hcl_tdx},
		{"recorded", test_recorded},
		{"recorded_bad", test_recorded_bad},
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{"tpm_hcl", NULL, NULL, NULL, NULL, tests},
		CU_SUITE_INFO_NULL,
	};

	/* the recorded Azure vectors are the point of this test: a missing directory is a failure */
	if (test_vectors(AZ) == NULL)
		return 1;
	return test_run_suites(suites);
}
