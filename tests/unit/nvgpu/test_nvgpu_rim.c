/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_nvgpu_rim: verifier-client/nvgpu/nvgpu_rim.c (meson test --suite unit
 * nvgpu_rim). The real RIM of $KW_VECTORS/nvidia/rim-samples against
 * NVIDIA's RIM root (values, the time window, another root); the synthesized
 * RIMs of tests/fuzz/corpus/nvgpu_rim (root PEM + signed XML, rim_gen_corpus)
 * each to its result; every prefix of a signed RIM fails; one bit flipped in
 * every 29th byte either fails or leaves the extracted values unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "nvgpu_rim.h"
#include "test_helper.h"

#define T_2024_06_01 1717200000LL
#define T_2027 1800000000LL
#define RIM_FILE "rim-samples/1010_0200_882_96005E0001_PROD.swidtag"

static int
verify(const uint8_t *x, size_t n, const uint8_t *root, size_t rl, int64_t at, json_t **ret, const char **why)
{
	json_t *r = NULL;
	int rc = nvgpu_rim_verify(x, n, root, rl, at, &r, why);

	if (ret != NULL)
		*ret = r;
	else
		json_decref(r);
	return rc;
}

static void
test_real_rim(void)
{
	char p[1024];
	uint8_t *x = NULL, *root = NULL, *other = NULL;
	size_t n = 0, rl = 0, ol = 0;
	json_t *rim = NULL, *doc = NULL, *m;
	const char *why = NULL;
	size_t active = 0, entries = 0, i;
	int rc;

	if (test_slurp(test_vpath(p, sizeof(p), "nvidia", RIM_FILE), &x, &n) != 0 ||
	    test_slurp(test_vpath(p, sizeof(p), "nvidia", "certs/nvidia_rim_root.pem"), &root, &rl) != 0 ||
	    test_slurp(test_vpath(p, sizeof(p), "nvidia", "certs/nvidia_device_identity_ca.pem"), &other,
	    &ol) != 0)
		goto out;
	rc = verify(x, n, root, rl, T_2024_06_01, &rim, &why);   /* CHECKF evaluates twice */
	CHECKF(rc == 0, "%s", why);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(rim, "version")), "96.00.5E.00.01");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(rim, "product")), "GH100");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(rim, "signer")), "HCC RIM L4 Signer");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(rim, "measurements")), 64);
	m = json_array_get(json_object_get(rim, "measurements"), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(m, "index")), 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(m, "values"), 0)),
	    "c3f65ef79a19c029868cd7ce54b10e44f192444edb3506dde29cef2aac4e916c90a4f438e55aa7581a9e384c74d82db6");
	m = json_array_get(json_object_get(rim, "measurements"), 12);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(m, "values")), 4);
	json_array_foreach(json_object_get(rim, "measurements"), i, m)
		if (json_is_true(json_object_get(m, "active"))) {
			active++;
			entries += json_array_size(json_object_get(m, "values"));
		}
	CU_ASSERT_EQUAL(active, 12);
	CU_ASSERT_EQUAL(nvgpu_rim_refval(rim, &doc), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(doc, "gpu_measurements")), entries);
	m = json_array_get(json_object_get(doc, "gpu_measurements"), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(m, "index")), 2);   /* RIM index 1 */
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(m, "name")),
	    "HashedMeasurement_1_FSP (GH100 96.00.5E.00.01)");
	/* the signing certificate expired on 2025-06-22; another root; a bad root */
	CU_ASSERT_EQUAL(verify(x, n, root, rl, T_2027, NULL, &why), KW_ERR_CERT_EXPIRED);
	CU_ASSERT_EQUAL(verify(x, n, other, ol, T_2024_06_01, NULL, &why), KW_ERR_CERT_INVALID);
	CU_ASSERT_EQUAL(verify(x, n, (const uint8_t *)"junk", 4, T_2024_06_01, NULL, &why), KW_ERR_CONFIG);
out:
	json_decref(rim);
	json_decref(doc);
	free(x);
	free(root);
	free(other);
}

/* A corpus seed split into its root PEM and XML. */
static int
seed(const char *name, uint8_t **buf, size_t *n, size_t *root_len)
{
	static const char end[] = "-----END CERTIFICATE-----\n";
	char p[1024];
	const uint8_t *e;

	snprintf(p, sizeof(p), "%s/tests/fuzz/corpus/nvgpu_rim/%s", getenv("KW_SOURCE_ROOT"), name);
	if (test_slurp(p, buf, n) != 0)
		return -1;
	e = memmem(*buf, *n, end, sizeof(end) - 1);
	CHECKF(e != NULL, "%s: no root PEM", name);
	if (e == NULL)
		return -1;
	*root_len = (size_t)(e - *buf) + sizeof(end) - 1;
	return 0;
}

static void
test_synthesized(void)
{
	static const struct { const char *name; int rc; const char *why; } cases[] = {
		{ "good", 0, NULL },
		{ "dup-index", KW_ERR_INVALID_FORMAT, "a measurement index appears twice" },
		{ "extra-hash", KW_ERR_INVALID_FORMAT, "a measurement has more Hash values than alternatives" },
		{ "short-value", KW_ERR_INVALID_FORMAT, "a measurement's Hash value is missing or not size bytes of hex" },
		{ "other-type", KW_ERR_INVALID_FORMAT, "a Payload Resource is not of type Measurement" },
		{ "index-255", KW_ERR_INVALID_FORMAT, "a measurement's index, alternatives or size is missing or out of range" },
		{ "unsigned", KW_ERR_UNSUPPORTED, "the RIM must hold exactly one ds:Signature" },
		{ "two-references", KW_ERR_UNSUPPORTED, "the signature must have exactly one Reference" },
		{ "doctype", KW_ERR_INVALID_FORMAT, "the RIM carries a DOCTYPE (no DTD is accepted)" },
		{ "empty", KW_ERR_TOO_LARGE, "the RIM is empty or larger than 512 KiB" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *b = NULL;
		size_t n = 0, rl = 0;
		const char *why = NULL;
		json_t *rim = NULL, *doc = NULL;
		int rc;

		if (seed(cases[i].name, &b, &n, &rl) != 0)
			continue;
		rc = verify(b + rl, n - rl, b, rl, T_2027, &rim, &why);
		CHECKF(rc == cases[i].rc, "%s: %d (%s)", cases[i].name, rc, why != NULL ? why : "-");
		if (cases[i].why != NULL)
			CHECKF(why != NULL && strcmp(why, cases[i].why) == 0, "%s: %s", cases[i].name, why);
		if (rc == 0) {
			CU_ASSERT_EQUAL(nvgpu_rim_refval(rim, &doc), 0);
			/* 2 active measurements, 1 + 2 alternatives; the inactive one left out */
			CU_ASSERT_EQUAL(json_array_size(json_object_get(doc, "gpu_measurements")), 3);
			json_decref(doc);
		}
		json_decref(rim);
		free(b);
	}
	/* a 2-byte measurement verifies but is not a GPU (SHA-384) reference value */
	{
		uint8_t *b = NULL;
		size_t n = 0, rl = 0;
		const char *why = NULL;
		json_t *rim = NULL, *doc = NULL;

		if (seed("size-2", &b, &n, &rl) == 0) {
			CU_ASSERT_EQUAL(verify(b + rl, n - rl, b, rl, T_2027, &rim, &why), 0);
			CU_ASSERT_EQUAL(nvgpu_rim_refval(rim, &doc), KW_ERR_UNSUPPORTED);
			CU_ASSERT_PTR_NULL(doc);
		}
		json_decref(rim);
		free(b);
	}
}

/* Every prefix fails; a flipped bit fails or changes nothing that is extracted. */
static void
test_sweeps(void)
{
	uint8_t *b = NULL;
	size_t n = 0, rl = 0, bad = 0;
	json_t *ref = NULL, *rim = NULL;
	const char *why = NULL;

	if (seed("good", &b, &n, &rl) != 0)
		return;
	if (verify(b + rl, n - rl, b, rl, T_2027, &ref, &why) != 0) {
		CU_FAIL("the good seed does not verify");
		goto out;
	}
	/* only the dump's final newline may go */
	for (size_t k = 0; k < n - rl - 1; k++)
		if (verify(b + rl, k, b, rl, T_2027, NULL, &why) == 0)
			bad++;
	CHECKF(bad == 0 && b[n - 1] == '\n', "%zu prefixes verify", bad);
	bad = 0;
	/* One verification costs ~25 ms of CPU (xmlsec sets up its key manager each time): every 29th byte. */
	for (size_t k = rl; k < n; k += 29) {
		b[k] ^= 0x04;
		if (verify(b + rl, n - rl, b, rl, T_2027, &rim, &why) == 0) {
			json_object_del(rim, "signer");
			json_object_del(ref, "signer");
			if (!json_equal(rim, ref))
				bad++;
			json_decref(rim);
		}
		b[k] ^= 0x04;
	}
	CHECKF(bad == 0, "%zu bit flips changed the extracted values and still verified", bad);
out:
	json_decref(ref);
	free(b);
}

int
main(void)
{
	CU_pSuite s;

	if (test_vectors("nvidia") == NULL)
		return 1;
	if (test_begin() != 0)
		return 2;
	s = CU_add_suite("nvgpu_rim", NULL, NULL);
	return test_end(s == NULL || (TEST_ADD(s, test_real_rim) | TEST_ADD(s, test_synthesized) |
	    TEST_ADD(s, test_sweeps)) != 0);
}
