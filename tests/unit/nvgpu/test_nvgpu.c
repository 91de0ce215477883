/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_nvgpu: verifier-client/nvgpu against the real NVIDIA Hopper vectors in
 * $KW_VECTORS/nvidia (meson test --suite unit nvgpu). Every vector reaches
 * the result of its expected.json (parsed fields, signature, chain, the
 * three broken chains); the nonce binding; the trailing-byte tolerance and
 * its limits; truncation and bit-flip sweeps over the transcript.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kw_util.h"
#include "nvgpu.h"
#include "test_helper.h"

#define T_2026_12_07 1796601600LL   /* 2026-12-07T00:00:00Z */

struct chain {
	uint8_t *der[NVGPU_MAX_CHAIN];
	size_t len[NVGPU_MAX_CHAIN];
	size_t n;
};

static void
chain_free(struct chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->der[i]);
	memset(c, 0, sizeof(*c));
}

/* The certificates of a PEM file as DER, in file order. */
static int
load_chain(const char *path, struct chain *c)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	BIO *bio;
	X509 *x;

	memset(c, 0, sizeof(*c));
	if (test_slurp(path, &buf, &len) != 0)
		return -1;
	bio = BIO_new_mem_buf(buf, (int)len);
	while (bio != NULL && c->n < NVGPU_MAX_CHAIN && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		unsigned char *der = NULL;
		int n = i2d_X509(x, &der);

		X509_free(x);
		if (n <= 0)
			break;
		c->der[c->n] = malloc((size_t)n);
		memcpy(c->der[c->n], der, (size_t)n);
		c->len[c->n++] = (size_t)n;
		OPENSSL_free(der);
	}
	BIO_free(bio);
	free(buf);
	CHECKF(c->n > 0, "no certificate in %s", path);
	return c->n > 0 ? 0 : -1;
}

/* report.hex: hex digits, whitespace ignored. */
static int
load_report(const char *path, uint8_t **ret, size_t *ret_len)
{
	uint8_t *buf = NULL, *out;
	size_t len = 0, n = 0;
	char *hex;

	if (test_slurp(path, &buf, &len) != 0)
		return -1;
	hex = calloc(1, len + 1);
	for (size_t i = 0; i < len; i++)
		if (!isspace(buf[i]))
			hex[n++] = (char)buf[i];
	free(buf);
	out = malloc(n / 2 + 1);
	if (n % 2 != 0 || kw_hex_decode(hex, out, n / 2) != 0) {
		CHECKF(0, "%s is not hex", path);
		free(hex);
		free(out);
		return -1;
	}
	free(hex);
	*ret = out;
	*ret_len = n / 2;
	return 0;
}

/* A vector directory's report, and with c its chain, and with t a new trust: 0 or -1 (asserted). */
static int
load_vector(const char *dir, uint8_t **rep, size_t *len, struct chain *c, struct nvgpu_trust **t)
{
	char path[512];

	if (c != NULL)
		memset(c, 0, sizeof(*c));
	if (load_report(test_vpath(path, sizeof(path), "nvidia", "%s/report.hex", dir), rep, len) != 0)
		return -1;
	if (c != NULL && load_chain(test_vpath(path, sizeof(path), "nvidia", "%s/cert_chain.pem", dir), c) != 0)
		return -1;
	if (t != NULL && nvgpu_trust_new(t) != 0)
		return -1;
	return 0;
}

static int
hexeq(const uint8_t *p, size_t n, const char *hex)
{
	char *h = NULL;
	int eq;

	if (hex == NULL || kw_hex_encode(p, n, &h) != 0)
		return 0;
	eq = strcmp(h, hex) == 0;
	free(h);
	return eq;
}

/* The expected value may be shortened (the vectors print at most 40 bytes). */
static int
hexprefix(const uint8_t *p, size_t n, const char *hex)
{
	char *h = NULL;
	int eq;

	if (hex == NULL || strlen(hex) == 0 || kw_hex_encode(p, n, &h) != 0)
		return 0;
	eq = strlen(hex) <= strlen(h) && strncmp(h, hex, strlen(hex)) == 0;
	free(h);
	return eq;
}

static long
jlong(json_t *o, const char *path)
{
	json_t *v = test_jget(o, path);

	if (json_is_integer(v))
		return (long)json_integer_value(v);
	if (json_is_string(v))
		return strtol(json_string_value(v), NULL, 0);
	return -1;
}

static int
verify(struct nvgpu_trust *t, const uint8_t *rep, size_t len, const struct chain *c, int64_t at,
    const uint8_t *nonce, json_t **claims, const char **why)
{
	return nvgpu_verify(t, rep, len, (const uint8_t *const *)c->der, c->len, c->n, at, nonce, claims, why);
}

/* One vector directory: parse equals expected.json, verify equals its verdicts. */
static void
check_vector(const char *dir)
{
	char path[512];
	uint8_t *rep = NULL;
	size_t len = 0;
	struct nvgpu_report *r = calloc(1, sizeof(*r));
	struct nvgpu_trust *t = NULL;
	struct chain c;
	json_t *exp, *claims = NULL, *a, *e;
	const char *why = NULL;
	uint8_t nonce[32];
	size_t i;
	int rc;

	exp = test_json_file(test_vpath(path, sizeof(path), "nvidia", "%s/expected.json", dir));
	if (exp == NULL || load_report(test_vpath(path, sizeof(path), "nvidia", "%s/report.hex", dir), &rep,
	    &len) != 0 || load_chain(test_vpath(path, sizeof(path), "nvidia", "%s/cert_chain.pem", dir), &c) != 0)
		goto out;
	rc = nvgpu_report_parse(rep, len, r);
	CHECKF(rc == 0, "%s: parse: %s", dir, kw_strerror(rc));
	if (rc != 0)
		goto out;
	CHECKF(hexeq(r->nonce, 32, json_string_value(test_jget(exp, "request.nonce"))), "%s: request nonce", dir);
	CHECKF(hexeq(r->rsp_nonce, 32, json_string_value(test_jget(exp, "response.nonce"))), "%s: response nonce",
	    dir);
	CHECKF(r->version == jlong(exp, "request.version") && r->req_param1 == jlong(exp, "request.param1") &&
	    r->req_param2 == jlong(exp, "request.param2") && r->slot == jlong(exp, "request.slot"),
	    "%s: request header", dir);
	CHECKF((long)r->nblocks == jlong(exp, "response.number_of_blocks"), "%s: %zu blocks", dir, r->nblocks);
	CHECKF((long)r->nblocks == jlong(exp, "n_measurements"), "%s: n_measurements", dir);
	CHECKF((long)r->signed_len == jlong(exp, "signed_len"), "%s: signed_len %zu", dir, r->signed_len);
	CHECKF((long)r->trailing == jlong(exp, "trailing_bytes"), "%s: trailing %zu", dir, r->trailing);
	a = json_object_get(exp, "opaque_fields");
	CHECKF(r->ntlvs == json_array_size(a), "%s: %zu opaque fields, expected %zu", dir, r->ntlvs,
	    json_array_size(a));
	json_array_foreach(a, i, e) {
		if (i >= r->ntlvs)
			break;
		CHECKF(r->tlvs[i].type == jlong(e, "type") && (long)r->tlvs[i].len == jlong(e, "size") &&
		    hexprefix(r->tlvs[i].value, r->tlvs[i].len, json_string_value(json_object_get(e, "value"))),
		    "%s: opaque field %zu (type %u)", dir, i, r->tlvs[i].type);
	}
	a = json_object_get(exp, "measurements");
	CHECKF(json_array_size(a) == r->nblocks, "%s: measurement count", dir);
	json_array_foreach(a, i, e) {
		if (i >= r->nblocks)
			break;
		CHECKF(r->blocks[i].index == jlong(e, "index") &&
		    hexeq(r->blocks[i].value, r->blocks[i].value_len, json_string_value(json_object_get(e, "value"))),
		    "%s: measurement %zu", dir, i);
	}

	/* expected: report signature OK, chain OK to the NVIDIA root */
	CHECKF(json_is_true(json_object_get(exp, "root_is_nvidia_device_identity_ca")), "%s: expected root", dir);
	CHECKF(strcmp(json_string_value(json_object_get(exp, "report_sig")), "OK") == 0, "%s: expected sig", dir);
	if (nvgpu_trust_new(&t) != 0)
		goto out;
	memcpy(nonce, r->nonce, 32);
	rc = verify(t, rep, len, &c, T_2026_12_07, nonce, &claims, &why);
	CHECKF(rc == 0, "%s: verify: %s (%s)", dir, kw_strerror(rc), why);
	CHECKF(json_is_string(test_jget(claims, "root")) &&
	    strcmp(json_string_value(test_jget(claims, "root")), "nvidia") == 0, "%s: root claim", dir);
	/* every non-zero block is a measurement claim, by index */
	json_array_foreach(a, i, e) {
		char k[8];
		const char *v = json_string_value(json_object_get(e, "value"));
		json_t *m = json_object_get(json_object_get(claims, "measurements"), (snprintf(k, sizeof(k), "%ld",
		    jlong(e, "index")), k));

		if (strspn(v, "0") == strlen(v))
			CHECKF(m == NULL, "%s: zero block %s is a claim", dir, k);
		else
			CHECKF(json_is_string(m) && strcmp(json_string_value(m), v) == 0, "%s: measurement %s", dir, k);
	}
	/* a different nonce: the binding fails, after authentication */
	nonce[31] ^= 1;
	json_decref(claims);
	claims = NULL;
	rc = verify(t, rep, len, &c, T_2026_12_07, nonce, &claims, &why);
	CHECKF(rc == KW_ERR_MISMATCH && claims == NULL, "%s: foreign nonce: %s", dir, kw_strerror(rc));
	/* before the certificates were issued */
	rc = verify(t, rep, len, &c, 86400, NULL, &claims, &why);
	CHECKF(rc == KW_ERR_CERT_EXPIRED && claims == NULL, "%s: 1970: %s", dir, kw_strerror(rc));
	/* the leaf is not the root's: an unknown root */
	{
		struct chain c2 = c;

		c2.n = c.n - 1;
		rc = verify(t, rep, len, &c2, T_2026_12_07, NULL, &claims, &why);
		CHECKF(rc == KW_ERR_UNTRUSTED_ROOT && claims == NULL, "%s: chain without root: %s", dir,
		    kw_strerror(rc));
	}
out:
	json_decref(claims);
	json_decref(exp);
	nvgpu_trust_free(t);
	chain_free(&c);
	free(rep);
	free(r);
}

static void
test_vector_hopper(void)
{
	check_vector("hopper-550.90.07");
}

static void
test_vector_coco(void)
{
	check_vector("hopper-coco-1");
}

/* The claims of the trustee vector equal trustee's parsed claims (claims.json). */
static void
test_claims_hopper(void)
{
	char path[512];
	uint8_t *rep = NULL;
	size_t len = 0;
	struct nvgpu_trust *t = NULL;
	struct chain c;
	json_t *want, *claims = NULL;
	int rc;
	const char *why = NULL;
	static const char *const same[] = {"driver_version", "vbios_version", "chip_sku", "project", "project_sku",
		"chip_sku_mod", NULL};

	memset(&c, 0, sizeof(c));
	want = test_json_file(test_vpath(path, sizeof(path), "nvidia", "hopper-550.90.07/claims.json"));
	if (want == NULL || load_vector("hopper-550.90.07", &rep, &len, &c, &t) != 0)
		goto out;
	rc = verify(t, rep, len, &c, T_2026_12_07, NULL, &claims, &why);   /* not in CHECKF: it evaluates twice */
	CHECKF(rc == 0, "verify: %s", why);
	for (size_t i = 0; same[i] != NULL; i++) {
		const char *w = json_string_value(test_jget(json_object_get(want, "config"), same[i]));
		const char *g = json_string_value(json_object_get(claims, same[i]));

		CHECKF(w != NULL && g != NULL && strcmp(w, g) == 0, "%s: got %s, trustee %s", same[i],
		    g != NULL ? g : "(none)", w != NULL ? w : "(none)");
	}
	CHECKF(strcmp(json_string_value(json_object_get(claims, "cc_mode")), "legacy") == 0, "cc_mode");
	CHECKF(strcmp(json_string_value(json_object_get(claims, "protected_pcie")), "disabled") == 0,
	    "protected_pcie");
	CHECKF(json_integer_value(json_object_get(claims, "board_id")) == 0x3b1, "board_id");
	CHECKF(json_integer_value(json_object_get(claims, "measurement_blocks")) == 64, "measurement_blocks");
	/* every non-zero measurement of trustee's claims, none else */
	{
		const char *k;
		json_t *v;
		size_t nz = 0;

		json_object_foreach(json_object_get(want, "measurements"), k, v) {
			const char *s = json_string_value(v);
			json_t *m = json_object_get(json_object_get(claims, "measurements"), k);

			if (strspn(s, "0") == strlen(s))
				continue;
			nz++;
			CHECKF(m != NULL && strcmp(json_string_value(m), s) == 0, "measurement %s", k);
		}
		CHECKF(json_object_size(json_object_get(claims, "measurements")) == nz, "measurement count %zu", nz);
	}
out:
	json_decref(claims);
	json_decref(want);
	nvgpu_trust_free(t);
	chain_free(&c);
	free(rep);
}

/* hopper-coco-1: OPAQUE_DATA_VERSION and FEATURE_FLAG (0: single-GPU passthrough). */
static void
test_claims_coco(void)
{
	uint8_t *rep = NULL;
	size_t len = 0;
	struct nvgpu_report *r = calloc(1, sizeof(*r));
	json_t *claims = NULL;
	int rc;

	if (load_vector("hopper-coco-1", &rep, &len, NULL, NULL) != 0)
		goto out;
	CHECKF(nvgpu_report_parse(rep, len, r) == 0, "parse");
	rc = nvgpu_report_claims(r, &claims);
	CHECKF(rc == 0, "claims: %s", kw_strerror(rc));
	CHECKF(strcmp(json_string_value(json_object_get(claims, "cc_mode")), "spt") == 0, "cc_mode");
	CHECKF(json_integer_value(json_object_get(claims, "opaque_data_version")) == 1, "opaque_data_version");
	CHECKF(strcmp(json_string_value(json_object_get(claims, "driver_version")), "580.95.05") == 0, "driver");
	CHECKF(strcmp(json_string_value(json_object_get(claims, "vbios_version")), "96.00.74.00.1a") == 0, "vbios");
out:
	json_decref(claims);
	free(rep);
	free(r);
}

/* The three broken chains of hopper-550.90.07/negative are rejected, each for its reason. */
static void
test_negative_chains(void)
{
	static const struct {
		const char *file;
		int want;
	} neg[] = {
		{"chain_root_only.pem", KW_ERR_CERT_INVALID},            /* no leaf: too short */
		{"chain_missing_provisioner_ica.pem", KW_ERR_CERT_INVALID},   /* path broken */
		{"chain_missing_leaf.pem", KW_ERR_SIG_INVALID},          /* the BROM key did not sign */
	};
	char path[512];
	uint8_t *rep = NULL;
	size_t len = 0;
	struct nvgpu_trust *t = NULL;
	json_t *exp;

	exp = test_json_file(test_vpath(path, sizeof(path), "nvidia", "hopper-550.90.07/expected.json"));
	if (exp == NULL || load_report(test_vpath(path, sizeof(path), "nvidia", "hopper-550.90.07/report.hex"),
	    &rep, &len) != 0 || nvgpu_trust_new(&t) != 0)
		goto out;
	CHECKF(json_object_size(test_jget(exp, "negative_chains")) == 3, "three negative chains");
	for (size_t i = 0; i < sizeof(neg) / sizeof(neg[0]); i++) {
		struct chain c;
		json_t *claims = NULL;
		const char *why = NULL, *expected;
		json_t *ne = json_object_get(test_jget(exp, "negative_chains"), neg[i].file);
		int rc;

		expected = json_string_value(json_object_get(ne, "expected"));
		CHECKF(expected != NULL && strncmp(expected, "REJECT", 6) == 0, "%s: expected REJECT", neg[i].file);
		if (load_chain(test_vpath(path, sizeof(path), "nvidia", "hopper-550.90.07/negative/%s",
		    neg[i].file), &c) != 0)
			continue;
		CHECKF((long)c.n == jlong(ne, "n"), "%s: %zu certificates", neg[i].file, c.n);
		rc = verify(t, rep, len, &c, T_2026_12_07, NULL, &claims, &why);
		CHECKF(rc == neg[i].want && claims == NULL && why != NULL, "%s: %s (%s)", neg[i].file,
		    kw_strerror(rc), why != NULL ? why : "");
		json_decref(claims);
		chain_free(&c);
	}
out:
	json_decref(exp);
	nvgpu_trust_free(t);
	free(rep);
}

/* One zero byte after the signature verifies (hopper-coco-1 has one); more, or non-zero, do not. */
static void
test_trailing(void)
{
	uint8_t *rep = NULL, *big = NULL;
	size_t len = 0;
	struct nvgpu_report *r = calloc(1, sizeof(*r));
	struct nvgpu_trust *t = NULL;
	struct chain c;
	json_t *claims = NULL;
	const char *why;
	int rc;

	memset(&c, 0, sizeof(c));
	if (load_vector("hopper-550.90.07", &rep, &len, &c, &t) != 0)
		goto out;
	big = calloc(1, len + NVGPU_MAX_TRAILING + 1);
	memcpy(big, rep, len);
	rc = verify(t, big, len + 1, &c, T_2026_12_07, NULL, &claims, &why);
	CHECKF(rc == 0, "one zero byte: %s", kw_strerror(rc));
	json_decref(claims);
	claims = NULL;
	CHECKF(nvgpu_report_parse(big, len + NVGPU_MAX_TRAILING, r) == 0 && r->trailing == NVGPU_MAX_TRAILING,
	    "%d zero bytes", NVGPU_MAX_TRAILING);
	CHECKF(nvgpu_report_parse(big, len + NVGPU_MAX_TRAILING + 1, r) == KW_ERR_TRAILING, "too many zeros");
	big[len] = 0x01;
	CHECKF(nvgpu_report_parse(big, len + 1, r) == KW_ERR_TRAILING, "a non-zero trailing byte");
out:
	nvgpu_trust_free(t);
	chain_free(&c);
	free(big);
	free(rep);
	free(r);
}

/* Every prefix shorter than the signed bytes plus the signature fails cleanly. */
static void
test_truncation(void)
{
	uint8_t *rep = NULL;
	size_t len = 0;
	struct nvgpu_report *r = calloc(1, sizeof(*r));

	if (load_vector("hopper-coco-1", &rep, &len, NULL, NULL) != 0)
		goto out;
	CHECKF(nvgpu_report_parse(rep, len, r) == 0, "full report");
	for (size_t n = 0; n < r->signed_len + NVGPU_SIG_LEN; n++) {
		uint8_t *p = malloc(n + 1);   /* exact-size copy: ASan sees any overread */
		int rc;

		memcpy(p, rep, n);
		rc = nvgpu_report_parse(p, n, r);
		CHECKF(rc != 0, "prefix of %zu bytes parsed", n);
		free(p);
	}
out:
	free(rep);
	free(r);
}

/*
 * One bit flipped in every byte of the transcript (signed bytes and
 * signature): parse error, or the signature fails; never accepted.
 */
static void
test_bitflip(void)
{
	uint8_t *rep = NULL;
	size_t len = 0;
	struct nvgpu_trust *t = NULL;
	struct chain c;
	size_t accepted = 0, sig = 0;

	memset(&c, 0, sizeof(c));
	if (load_vector("hopper-550.90.07", &rep, &len, &c, &t) != 0)
		goto out;
	for (size_t i = 0; i < len; i++) {
		json_t *claims = NULL;
		const char *why = NULL;
		int rc;

		rep[i] ^= (uint8_t)(1u << (i % 8));
		rc = verify(t, rep, len, &c, T_2026_12_07, NULL, &claims, &why);
		rep[i] ^= (uint8_t)(1u << (i % 8));
		if (rc == 0 || claims != NULL)
			accepted++;
		if (rc == KW_ERR_SIG_INVALID)
			sig++;
		json_decref(claims);
	}
	CHECKF(accepted == 0, "%zu flips accepted", accepted);
	/* most flips (measurement values, nonces, signature) parse and fail the signature */
	CHECKF(sig > len / 2, "only %zu of %zu flips failed on the signature", sig, len);
out:
	nvgpu_trust_free(t);
	chain_free(&c);
	free(rep);
}

/* The chain cache: a verified chain is reused inside its window; failures and other times are not. */
static void
test_chain_cache(void)
{
	char path[512];
	uint8_t *rep = NULL;
	size_t len = 0;
	struct nvgpu_trust *t = NULL;
	struct chain c, bad;
	json_t *claims = NULL;
	const char *why = NULL;
	unsigned long hits = 0, misses = 0;
	int rc;

	memset(&bad, 0, sizeof(bad));
	if (load_vector("hopper-550.90.07", &rep, &len, &c, &t) != 0 ||
	    load_chain(test_vpath(path, sizeof(path), "nvidia", "hopper-550.90.07/negative/chain_missing_provisioner_ica.pem"),
	    &bad) != 0)
		goto out;
	for (int i = 0; i < 3; i++) {
		rc = verify(t, rep, len, &c, T_2026_12_07 + i, NULL, &claims, &why);
		CHECKF(rc == 0, "round %d: %s", i, kw_strerror(rc));
		json_decref(claims);
		claims = NULL;
	}
	nvgpu_trust_cache_stats(t, &hits, &misses);
	CHECKF(hits == 2 && misses == 1, "%lu hits, %lu misses", hits, misses);
	/* outside the window: verified again, and refused */
	rc = verify(t, rep, len, &c, 86400, NULL, &claims, &why);
	CHECKF(rc == KW_ERR_CERT_EXPIRED && claims == NULL, "1970 after a cached success: %s", kw_strerror(rc));
	/* a chain that failed is never entered */
	for (int i = 0; i < 2; i++) {
		rc = verify(t, rep, len, &bad, T_2026_12_07, NULL, &claims, &why);
		CHECKF(rc == KW_ERR_CERT_INVALID && claims == NULL, "broken chain, round %d: %s", i, kw_strerror(rc));
	}
	/* a cached chain still needs the transcript's own signature */
	rep[60] ^= 1;   /* inside measurement block 1's value */
	rc = verify(t, rep, len, &c, T_2026_12_07, NULL, &claims, &why);
	CHECKF(rc == KW_ERR_SIG_INVALID && claims == NULL, "flipped report with a cached chain: %s", kw_strerror(rc));
	nvgpu_trust_cache_stats(t, &hits, &misses);
	CHECKF(hits == 2 && misses == 4, "%lu hits, %lu misses", hits, misses);
out:
	nvgpu_trust_free(t);
	chain_free(&c);
	chain_free(&bad);
	free(rep);
}

/* Emulation roots: only PEM of one self-signed certificate. */
static void
test_trust(void)
{
	char path[512];
	uint8_t *pem = NULL;
	size_t len = 0;
	struct nvgpu_trust *t = NULL;

	if (nvgpu_trust_new(&t) != 0)
		return;
	if (test_slurp(test_vpath(path, sizeof(path), "nvidia", "certs/nvidia_device_identity_ca.pem"), &pem,
	    &len) == 0)
		CHECKF(nvgpu_trust_add_test_root_pem(t, pem, len) == 0, "a self-signed root");
	free(pem);
	pem = NULL;
	if (test_slurp(test_vpath(path, sizeof(path), "nvidia", "hopper-550.90.07/cert_chain.pem"), &pem,
	    &len) == 0)
		CHECKF(nvgpu_trust_add_test_root_pem(t, pem, len) == KW_ERR_INVALID_FORMAT, "a whole chain");
	CHECKF(nvgpu_trust_add_test_root_pem(t, "junk", 4) == KW_ERR_INVALID_FORMAT, "junk");
	free(pem);
	nvgpu_trust_free(t);
}

int
main(void)
{
	CU_pSuite s;

	/* The real NVIDIA vectors are the point of this test: a missing directory is a failure. */
	if (test_vectors("nvidia") == NULL)
		return 1;
	if (test_begin() != 0)
		return 2;
	s = CU_add_suite("nvgpu", NULL, NULL);
	return test_end(s == NULL || (TEST_ADD(s, test_vector_hopper) | TEST_ADD(s, test_vector_coco) |
	    TEST_ADD(s, test_claims_hopper) | TEST_ADD(s, test_claims_coco) | TEST_ADD(s, test_negative_chains) |
	    TEST_ADD(s, test_trailing) | TEST_ADD(s, test_truncation) | TEST_ADD(s, test_bitflip) |
	    TEST_ADD(s, test_chain_cache) | TEST_ADD(s, test_trust)) != 0);
}
