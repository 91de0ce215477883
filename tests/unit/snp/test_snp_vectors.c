/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP verifier against the real AMD vectors in $KW_VECTORS/sev-snp:
 * every positive vector listed in an expected.json must verify with every
 * decoded field equal to the independent verifier's values; the documented
 * negative cases must be rejected; truncation and bit-flip sweeps.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kw_util.h"
#include "snp.h"
#include "test_snp.h"

#define T_2026_11_28 1795824000LL   /* 2026-11-28T00:00:00Z */

struct certs {
	uint8_t *der[4];
	size_t len[4];
	size_t n;
};

static void
certs_free(struct certs *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->der[i]);
	memset(c, 0, sizeof(*c));
}

static int
slurp(const char *path, uint8_t **buf, size_t *len)
{
	int r = kw_file_read(path, 1024 * 1024, buf, len);

	CHECKF(r == 0, "cannot read vector file %s: %s", path, kw_strerror(r));
	return r;
}

/* Append the certificates of a PEM (one or more) or DER file to c, as DER. */
static int
load_certs(const char *path, struct certs *c)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = -1;

	if (slurp(path, &buf, &len) != 0)
		return -1;
	if (memmem(buf, len, "-----BEGIN", 10) != NULL) {
		BIO *bio = BIO_new_mem_buf(buf, (int)len);
		X509 *x;

		while (bio != NULL && c->n < 4 && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			unsigned char *der = NULL;
			int n = i2d_X509(x, &der);

			X509_free(x);
			if (n <= 0)
				break;
			c->der[c->n] = malloc((size_t)n);
			memcpy(c->der[c->n], der, (size_t)n);
			c->len[c->n++] = (size_t)n;
			OPENSSL_free(der);
			r = 0;
		}
		BIO_free(bio);
	} else if (c->n < 4) {
		c->der[c->n] = buf;   /* transferred */
		c->len[c->n++] = len;
		buf = NULL;
		r = 0;
	}
	free(buf);
	CHECKF(r == 0, "no certificate in %s", path);
	return r;
}

static struct snp_trust *
trust_with(const char *chain1, const char *chain2)
{
	struct snp_trust *t = NULL;
	char p[4096];
	int r;

	CU_ASSERT_FATAL(snp_trust_new(&t) == 0);
	if (chain1 != NULL) {
		r = snp_trust_add_chain_file(t, vpath(p, sizeof(p), "certs/%s", chain1));
		CHECKF(r == 0, "chain %s: %s", chain1, kw_strerror(r));
	}
	if (chain2 != NULL) {
		r = snp_trust_add_chain_file(t, vpath(p, sizeof(p), "certs/%s", chain2));
		CHECKF(r == 0, "chain %s: %s", chain2, kw_strerror(r));
	}
	return t;
}

static int
verify(const struct snp_trust *t, const uint8_t *rep, size_t rep_len, const struct certs *c,
    int64_t at, int allow_debug, json_t **claims, const char **why)
{
	struct snp_evidence ev;
	struct snp_verify_opts o = { .at = at, .allow_debug = allow_debug };

	memset(&ev, 0, sizeof(ev));
	ev.report = rep;
	ev.report_len = rep_len;
	for (size_t i = 0; i < c->n; i++) {
		ev.certs[i] = c->der[i];
		ev.cert_lens[i] = c->len[i];
	}
	ev.ncerts = c->n;
	return snp_verify(t, &ev, &o, claims, why);
}

/* ---- field comparison against expected.json ---- */

static void
hexs(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* The report's value of an expected.json "fields" member, rendered like expected.json. */
static int
actual_field(const struct snp_report *r, const char *k, char *out, size_t n)
{
	static const struct { const char *name; size_t off; } u64s[] = {
		{ "policy", offsetof(struct snp_report, policy) },
		{ "current_tcb", offsetof(struct snp_report, current_tcb) },
		{ "platform_info", offsetof(struct snp_report, platform_info) },
		{ "reported_tcb", offsetof(struct snp_report, reported_tcb) },
		{ "committed_tcb", offsetof(struct snp_report, committed_tcb) },
		{ "launch_tcb", offsetof(struct snp_report, launch_tcb) },
		{ "launch_mit_vector", offsetof(struct snp_report, launch_mit_vector) },
		{ "current_mit_vector", offsetof(struct snp_report, current_mit_vector) },
	};
	static const struct { const char *name; size_t off, len; } bins[] = {
		{ "family_id", offsetof(struct snp_report, family_id), 16 },
		{ "image_id", offsetof(struct snp_report, image_id), 16 },
		{ "report_data", offsetof(struct snp_report, report_data), 64 },
		{ "measurement", offsetof(struct snp_report, measurement), 48 },
		{ "host_data", offsetof(struct snp_report, host_data), 32 },
		{ "id_key_digest", offsetof(struct snp_report, id_key_digest), 48 },
		{ "author_key_digest", offsetof(struct snp_report, author_key_digest), 48 },
		{ "report_id", offsetof(struct snp_report, report_id), 32 },
		{ "chip_id", offsetof(struct snp_report, chip_id), 64 },
	};
	const uint8_t *base = (const uint8_t *)r;

	if (strcmp(k, "version") == 0)
		snprintf(out, n, "%u", r->version);
	else if (strcmp(k, "guest_svn") == 0)
		snprintf(out, n, "%u", r->guest_svn);
	else if (strcmp(k, "vmpl") == 0)
		snprintf(out, n, "%u", r->vmpl);
	else if (strcmp(k, "signature_algo") == 0)
		snprintf(out, n, "%u", r->sig_algo);
	else if (strcmp(k, "signer_info") == 0)
		snprintf(out, n, "0x%x", r->signer_info);
	else if (strcmp(k, "cpuid_fam_mod_step") == 0)
		snprintf(out, n, "%02x%02x%02x", r->cpuid_fam_id, r->cpuid_mod_id, r->cpuid_step);
	else {
		for (size_t i = 0; i < KW_ARRAY_SIZE(u64s); i++) {
			if (strcmp(k, u64s[i].name) == 0) {
				uint64_t v;

				memcpy(&v, base + u64s[i].off, sizeof(v));
				snprintf(out, n, "0x%llx", (unsigned long long)v);
				return 0;
			}
		}
		for (size_t i = 0; i < KW_ARRAY_SIZE(bins); i++) {
			if (strcmp(k, bins[i].name) == 0 && n > 2 * bins[i].len) {
				hexs(base + bins[i].off, bins[i].len, out);
				return 0;
			}
		}
		return -1;
	}
	return 0;
}

static void
expect_str(const char *out, const json_t *v, char *buf, size_t n)
{
	if (json_is_integer(v))
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v))
		snprintf(buf, n, "%s", json_string_value(v));
	else
		snprintf(buf, n, "<%s: not a string or integer>", out);
}

static void
compare_fields(const char *name, json_t *fields, const struct snp_report *rep)
{
	const char *k;
	json_t *v;
	size_t checked = 0;

	json_object_foreach(fields, k, v) {
		char want[256], got[256];

		if (actual_field(rep, k, got, sizeof(got)) != 0) {
			CHECKF(0, "%s: expected.json field '%s' is not decoded by the test", name, k);
			continue;
		}
		expect_str(k, v, want, sizeof(want));
		CHECKF(strcmp(want, got) == 0, "%s: field %s: want %s got %s", name, k, want, got);
		checked++;
	}
	CHECKF(checked >= 23 && checked == json_object_size(fields), "%s: only %zu fields compared", name, checked);
}

static void
claim_eq(const char *name, json_t *claims, const char *cpath, json_t *want)
{
	json_t *got = test_jget(claims, cpath);

	CHECKF(got != NULL && want != NULL && json_equal(got, want), "%s: claim %s differs from expected.json",
	    name, cpath);
}

static void
compare_claims(const char *name, json_t *claims, json_t *fields, json_t *ver, int debug)
{
	static const char *same[][2] = {
		{ "measurement", "measurement" }, { "report_data", "report_data" },
		{ "host_data", "host_data" }, { "vmpl", "vmpl" }, { "guest_svn", "guest_svn" },
		{ "policy.raw", "policy" }, { "platform.chip_id", "chip_id" },
		{ "platform.family_id", "family_id" }, { "platform.image_id", "image_id" },
		{ "platform.id_key_digest", "id_key_digest" },
		{ "platform.author_key_digest", "author_key_digest" },
		{ "platform.report_id", "report_id" }, { "platform.version", "version" },
		{ "platform.platform_info", "platform_info" },
	};
	static const char *tcb[][2] = {
		{ "tcb.reported.bl", "vcek_tcb.bl" }, { "tcb.reported.tee", "vcek_tcb.tee" },
		{ "tcb.reported.snp", "vcek_tcb.snp" }, { "tcb.reported.ucode", "vcek_tcb.ucode" },
	};
	const char *pname = json_string_value(json_object_get(ver, "vcek_productName"));
	const char *prod = json_string_value(json_object_get(claims, "product"));
	const char *si = json_string_value(json_object_get(fields, "signer_info"));
	const char *tee = json_string_value(json_object_get(claims, "tee"));

	CHECKF(tee != NULL && strcmp(tee, "snp") == 0, "%s: tee", name);
	for (size_t i = 0; i < KW_ARRAY_SIZE(same); i++)
		claim_eq(name, claims, same[i][0], json_object_get(fields, same[i][1]));
	for (size_t i = 0; i < KW_ARRAY_SIZE(tcb); i++)
		claim_eq(name, claims, tcb[i][0], test_jget(ver, tcb[i][1]));
	CHECKF(test_jget(claims, "tcb.current.ucode") && test_jget(claims, "tcb.committed.snp") &&
	    test_jget(claims, "tcb.launch.bl") && test_jget(claims, "tcb.reported.fmc") == NULL, "%s: tcb shape", name);
	CHECKF(prod != NULL && pname != NULL && strncmp(pname, prod, strlen(prod)) == 0,
	    "%s: product %s vs productName %s", name, prod ? prod : "-", pname ? pname : "-");
	CHECKF(json_is_boolean(json_object_get(claims, "debug")) &&
	    json_boolean_value(json_object_get(claims, "debug")) == debug &&
	    json_boolean_value(test_jget(claims, "policy.debug")) == debug, "%s: debug claim", name);
	CHECKF(si != NULL && strcmp(json_string_value(json_object_get(claims, "signing_key")),
	    strcmp(si, "0x4") == 0 ? "vlek" : "vcek") == 0, "%s: signing_key", name);
	CHECKF(strcmp(json_string_value(json_object_get(claims, "root")), "amd") == 0, "%s: root", name);
	CHECKF(json_is_boolean(test_jget(claims, "policy.smt")) && json_is_boolean(test_jget(claims, "policy.migrate_ma")) &&
	    json_is_boolean(test_jget(claims, "policy.single_socket")) && json_is_integer(test_jget(claims, "policy.abi_major")) &&
	    json_is_integer(test_jget(claims, "policy.abi_minor")), "%s: policy claims", name);
}

/* notBefore from expected.json ("2024-12-10 22:14:21+00:00") in seconds. */
static int64_t
not_before(json_t *ver)
{
	char buf[64];
	int64_t t = 0;
	const char *s = json_string_value(json_object_get(ver, "vcek_not_before"));

	CU_ASSERT_FATAL(s != NULL && strlen(s) < sizeof(buf));
	snprintf(buf, sizeof(buf), "%s", s);
	buf[10] = 'T';
	CU_ASSERT_FATAL(kw_time_parse_rfc3339(buf, &t) == 0);
	return t;
}

static int
run_positive(const char *dir, const char *name, json_t *e)
{
	json_t *fields = json_object_get(e, "fields"), *ver = json_object_get(e, "verify"), *claims = NULL;
	const char *rep_f = json_string_value(json_object_get(e, "report"));
	const char *key_f = json_string_value(json_object_get(e, "key"));
	const char *chain_f = json_string_value(json_object_get(e, "chain"));
	struct certs c = { 0 };
	struct snp_report rep;
	struct snp_trust *t = NULL;
	uint8_t *report = NULL;
	size_t report_len = 0;
	const char *why = NULL;
	char p[4096], label[512];
	int64_t at;
	int vlek, debug, r;

	snprintf(label, sizeof(label), "%s/%s", dir, name);
	CHECKF(rep_f && key_f && chain_f && fields && ver, "%s: incomplete expected.json entry", label);
	if (!(rep_f && key_f && chain_f && fields && ver))
		return -1;
	if (slurp(vpath(p, sizeof(p), "%s/%s", dir, rep_f), &report, &report_len) != 0 ||
	    load_certs(vpath(p, sizeof(p), "%s/%s", dir, key_f), &c) != 0)
		goto out;
	CU_ASSERT_FATAL(snp_trust_new(&t) == 0);
	r = snp_trust_add_chain_file(t, vpath(p, sizeof(p), "%s/%s", dir, chain_f));
	CHECKF(r == 0, "%s: chain %s: %s", label, chain_f, kw_strerror(r));

	r = snp_report_parse(report, report_len, &rep);
	CHECKF(r == 0, "%s: parse: %s", label, kw_strerror(r));
	if (r != 0)
		goto out;
	compare_fields(label, fields, &rep);
	vlek = SNP_SIGNING_KEY(rep.signer_info) == SNP_SIGNING_KEY_VLEK;
	debug = (rep.policy & SNP_POLICY_DEBUG) != 0;
	/* VCEKs: the collection date; VLEKs (one-year certs, now expired): notBefore + 1 day. */
	at = vlek ? not_before(ver) + 86400 : T_2026_11_28;

	r = verify(t, report, report_len, &c, at, 1, &claims, &why);
	CHECKF(r == 0, "%s: verify: %s (%s)", label, kw_strerror(r), why ? why : "-");
	if (r == 0) {
		compare_claims(label, claims, fields, ver, debug);
		json_decref(claims);
		claims = NULL;
	}
	/* Without allow_debug only the debug guest is rejected, with its own code. */
	why = NULL;
	r = verify(t, report, report_len, &c, at, 0, &claims, &why);
	CHECKF(r == (debug ? KW_ERR_DEBUG_GUEST : 0), "%s: allow_debug=0 gave %s", label, kw_strerror(r));
	if (debug)
		CHECKF(r != 0 && claims == NULL && why != NULL && strstr(why, "debug") != NULL,
		    "%s: debug rejection reason", label);
	json_decref(claims);
	claims = NULL;
	if (vlek) {
		r = verify(t, report, report_len, &c, T_2026_11_28, 1, &claims, &why);
		CHECKF(r == KW_ERR_CERT_EXPIRED, "%s: VLEK at 2026-11-28 gave %s", label, kw_strerror(r));
	}
out:
	json_decref(claims);
	snp_trust_free(t);
	certs_free(&c);
	free(report);
	return 0;
}

static void
run_negative(const char *dir, const char *name)
{
	struct certs c = { 0 };
	struct snp_trust *t = trust_with("cert_chain_milan_vcek.pem", NULL);
	uint8_t *report = NULL;
	size_t report_len = 0;
	json_t *claims = NULL;
	const char *why = NULL;
	char p[4096];
	int r;

	if (slurp(vpath(p, sizeof(p), "%s/report.bin", dir), &report, &report_len) == 0 &&
	    load_certs(vpath(p, sizeof(p), "%s/%s", dir, name), &c) == 0) {
		r = verify(t, report, report_len, &c, T_2026_11_28, 1, &claims, &why);
		CHECKF(r == KW_ERR_CERT_INVALID || r == KW_ERR_UNTRUSTED_ROOT,
		    "%s/%s: must be rejected at the chain, got %s", dir, name, kw_strerror(r));
		CHECKF(claims == NULL && why != NULL, "%s/%s: outputs on failure", dir, name);
	}
	json_decref(claims);
	snp_trust_free(t);
	certs_free(&c);
	free(report);
}

static void
test_expected_json(void)
{
	char p[4096];
	DIR *d = opendir(vpath(p, sizeof(p), "%s", ""));
	struct dirent *de;
	int npos = 0, nneg = 0;

	CU_ASSERT_FATAL(d != NULL);
	while ((de = readdir(d)) != NULL) {
		json_error_t err;
		json_t *doc, *e;
		const char *name;

		if (de->d_name[0] == '.' || strcmp(de->d_name, "certs") == 0)
			continue;
		vpath(p, sizeof(p), "%s/expected.json", de->d_name);
		if (access(p, R_OK) != 0)
			continue;
		doc = json_load_file(p, JSON_REJECT_DUPLICATES, &err);
		CHECKF(doc != NULL, "%s: %s", p, err.text);
		json_object_foreach(doc, name, e) {
			const char *exp = json_string_value(json_object_get(e, "expected"));

			if (json_object_get(e, "fields") != NULL) {
				run_positive(de->d_name, name, e);
				npos++;
			} else if (exp != NULL && strncmp(exp, "REJECT", 6) == 0) {
				run_negative(de->d_name, name);
				nneg++;
			} else {
				CHECKF(0, "%s: entry %s neither positive nor negative", p, name);
			}
		}
		json_decref(doc);
	}
	closedir(d);
	CHECKF(npos == 9, "expected 9 positive SNP vectors, found %d", npos);
	CHECKF(nneg == 2, "expected 2 negative SNP vectors, found %d", nneg);
}

/* A vector loaded for the targeted tests below. */
struct vec {
	uint8_t *report;
	size_t report_len;
	struct certs c;
};

static int
vec_load(struct vec *v, const char *report, const char *cert)
{
	char p[4096];

	memset(v, 0, sizeof(*v));
	if (slurp(vpath(p, sizeof(p), "%s", report), &v->report, &v->report_len) != 0)
		return -1;
	return load_certs(vpath(p, sizeof(p), "%s", cert), &v->c);
}

static void
vec_free(struct vec *v)
{
	free(v->report);
	certs_free(&v->c);
}

static void
test_wrong_vcek(void)
{
	struct snp_trust *t = trust_with("cert_chain_milan_vcek.pem", NULL);
	struct vec v;
	json_t *claims = NULL;
	const char *why = NULL;
	int r;

	/* GCP report with go-sev-guest's (valid, AMD-issued) VCEK: another chip. */
	if (vec_load(&v, "gcp-milan-v5/report_zero_report_data.bin", "gosevguest-milan-v2/vcek.der") == 0) {
		r = verify(t, v.report, v.report_len, &v.c, T_2026_11_28, 1, &claims, &why);
		CHECKF(r == KW_ERR_SIG_INVALID, "wrong VCEK gave %s", kw_strerror(r));
		CHECKF(why != NULL && strcmp(why, "report signature invalid") == 0, "reason %s", why ? why : "-");
		CU_ASSERT(claims == NULL);
	}
	vec_free(&v);
	/* VLEK report with a VCEK and VCEK report with a VLEK: wrong certificate kind. */
	if (vec_load(&v, "trustee-milan-vlek-v3/report.bin", "gcp-milan-v5/vcek.pem") == 0) {
		r = verify(t, v.report, v.report_len, &v.c, T_2026_11_28, 1, &claims, &why);
		CHECKF(r == KW_ERR_CERT_INVALID, "VLEK report + VCEK gave %s", kw_strerror(r));
	}
	vec_free(&v);
	if (vec_load(&v, "virtee-milan-v2/report.bin", "trustee-milan-vlek-v3/vlek.der") == 0) {
		r = verify(t, v.report, v.report_len, &v.c, 1733961600LL, 1, &claims, &why);
		CHECKF(r == KW_ERR_CERT_INVALID, "VCEK report + VLEK gave %s", kw_strerror(r));
	}
	vec_free(&v);
	snp_trust_free(t);
}

static void
test_vlek_chains(void)
{
	struct snp_trust *vcek_only = trust_with("cert_chain_milan_vcek.pem", NULL);
	struct snp_trust *vlek_only = trust_with("cert_chain_milan_vlek.pem", NULL);
	struct snp_trust *both = trust_with("cert_chain_milan_vcek.pem", "cert_chain_milan_vlek.pem");
	const int64_t in_window = 1733868861LL + 86400;   /* notBefore 2024-12-10T22:14:21Z + 1 day */
	json_t *claims = NULL;
	const char *why = NULL;
	struct vec v;
	int r;

	if (vec_load(&v, "trustee-milan-vlek-v3/report.bin", "trustee-milan-vlek-v3/vlek.der") == 0) {
		r = verify(vcek_only, v.report, v.report_len, &v.c, in_window, 0, &claims, &why);
		CHECKF(r == KW_ERR_UNTRUSTED_ROOT, "VLEK via the ASK chain gave %s", kw_strerror(r));
		CU_ASSERT(claims == NULL);
		r = verify(vlek_only, v.report, v.report_len, &v.c, in_window, 0, &claims, &why);
		CHECKF(r == 0, "VLEK via ASVK gave %s (%s)", kw_strerror(r), why);
		json_decref(claims);
		claims = NULL;
		r = verify(both, v.report, v.report_len, &v.c, in_window, 0, &claims, &why);
		CHECKF(r == 0, "VLEK with both chains gave %s (%s)", kw_strerror(r), why);
		json_decref(claims);
		claims = NULL;
		r = verify(vlek_only, v.report, v.report_len, &v.c, T_2026_11_28, 0, &claims, &why);
		CHECKF(r == KW_ERR_CERT_EXPIRED, "VLEK at 2026-11-28 gave %s", kw_strerror(r));
		r = verify(vlek_only, v.report, v.report_len, &v.c, 1733868861LL - 60, 0, &claims, &why);
		CHECKF(r == KW_ERR_CERT_EXPIRED, "VLEK before notBefore gave %s", kw_strerror(r));
		CU_ASSERT(claims == NULL);
	}
	vec_free(&v);
	/* And a VCEK does not verify through the ASVK chain. */
	if (vec_load(&v, "virtee-milan-v2/report.bin", "virtee-milan-v2/vcek.der") == 0) {
		r = verify(vlek_only, v.report, v.report_len, &v.c, T_2026_11_28, 0, &claims, &why);
		CHECKF(r == KW_ERR_UNTRUSTED_ROOT, "VCEK via the ASVK chain gave %s", kw_strerror(r));
	}
	vec_free(&v);
	snp_trust_free(vcek_only);
	snp_trust_free(vlek_only);
	snp_trust_free(both);
}

/* The ARK may come with the evidence: trusted because its DER is pinned, not because it was sent. */
static void
test_pinned_ark_in_evidence(void)
{
	struct snp_trust *empty = trust_with(NULL, NULL);
	json_t *claims = NULL;
	const char *why = NULL;
	char p[4096];
	struct vec v;
	int r;

	if (vec_load(&v, "virtee-milan-v2/report.bin", "virtee-milan-v2/vcek.der") == 0) {
		r = verify(empty, v.report, v.report_len, &v.c, T_2026_11_28, 0, &claims, &why);
		CHECKF(r == KW_ERR_UNTRUSTED_ROOT, "VCEK alone, empty trust: %s", kw_strerror(r));
		CU_ASSERT(load_certs(vpath(p, sizeof(p), "certs/cert_chain_milan_vcek.pem"), &v.c) == 0);
		CU_ASSERT_FATAL(v.c.n == 3);
		r = verify(empty, v.report, v.report_len, &v.c, T_2026_11_28, 0, &claims, &why);
		CHECKF(r == 0, "VCEK+ASK+pinned ARK in evidence: %s (%s)", kw_strerror(r), why);
		json_decref(claims);
		claims = NULL;
		v.c.n = 2;   /* VCEK + ASK, no ARK */
		r = verify(empty, v.report, v.report_len, &v.c, T_2026_11_28, 0, &claims, &why);
		CHECKF(r == KW_ERR_UNTRUSTED_ROOT, "VCEK+ASK without ARK: %s", kw_strerror(r));
		v.c.n = 3;
		/* The Genoa ARK is pinned but is not the issuer of the Milan ASK. */
		free(v.c.der[2]);
		v.c.n = 2;
		CU_ASSERT(load_certs(vpath(p, sizeof(p), "certs/cert_chain_genoa_vcek.pem"), &v.c) == 0);
		free(v.c.der[2]);
		v.c.der[2] = v.c.der[3];
		v.c.len[2] = v.c.len[3];
		v.c.der[3] = NULL;
		v.c.n = 3;
		r = verify(empty, v.report, v.report_len, &v.c, T_2026_11_28, 0, &claims, &why);
		CHECKF(r == KW_ERR_UNTRUSTED_ROOT || r == KW_ERR_CERT_INVALID, "Milan ASK + Genoa ARK: %s",
		    kw_strerror(r));
	}
	vec_free(&v);
	snp_trust_free(empty);
}

static void
test_trust_load_errors(void)
{
	struct snp_trust *t = trust_with(NULL, NULL);
	char p[4096];

	CU_ASSERT(snp_trust_add_chain_file(t, vpath(p, sizeof(p), "no-such-file.pem")) == KW_ERR_IO);
	/* One certificate only (a VCEK) is not a chain. */
	CU_ASSERT(snp_trust_add_chain_file(t, vpath(p, sizeof(p), "gcp-milan-v5/vcek.pem")) ==
	    KW_ERR_INVALID_FORMAT);
	/* A DER file is not a PEM bundle. */
	CU_ASSERT(snp_trust_add_chain_file(t, vpath(p, sizeof(p), "virtee-milan-v2/vcek.der")) ==
	    KW_ERR_INVALID_FORMAT);
	/* Loading the same bundle twice is harmless; VCEK and VLEK bundles can be mixed. */
	CU_ASSERT(snp_trust_add_chain_file(t, vpath(p, sizeof(p), "certs/cert_chain_turin_vcek.pem")) == 0);
	CU_ASSERT(snp_trust_add_chain_file(t, vpath(p, sizeof(p), "certs/cert_chain_turin_vcek.pem")) == 0);
	CU_ASSERT(snp_trust_add_chain_file(t, vpath(p, sizeof(p), "certs/cert_chain_genoa_vlek.pem")) == 0);
	CU_ASSERT(snp_trust_add_test_root_file(t, vpath(p, sizeof(p), "certs/cert_chain_genoa_vcek.pem")) ==
	    KW_ERR_INVALID_FORMAT);   /* two certificates */
	CU_ASSERT(snp_trust_add_chain_pem(NULL, "x", 1) == KW_ERR_INVALID_ARG);
	CU_ASSERT(snp_trust_add_chain_pem(t, "", 0) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(snp_trust_add_chain_pem(t, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	    60) == KW_ERR_INVALID_FORMAT);
	snp_trust_free(t);
	snp_trust_free(NULL);
}

static void
test_truncation(void)
{
	struct snp_trust *t = trust_with("cert_chain_milan_vcek.pem", NULL);
	struct snp_report rep, sentinel;
	json_t *claims = (json_t *)&sentinel;   /* must stay untouched */
	struct vec v;
	uint8_t *buf;

	if (vec_load(&v, "trustee-milan-v2/report.bin", "trustee-milan-v2/vcek.der") != 0)
		goto out;
	CU_ASSERT_FATAL(v.report_len == SNP_REPORT_SIZE);
	memset(&sentinel, 0xa5, sizeof(sentinel));
	for (size_t n = 0; n < SNP_REPORT_SIZE; n++) {
		const char *why = NULL;
		int r;

		/* A fresh allocation of exactly n bytes, so ASan sees any over-read. */
		buf = malloc(n > 0 ? n : 1);
		memcpy(buf, v.report, n);
		rep = sentinel;
		r = snp_report_parse(buf, n, &rep);
		CHECKF(r == KW_ERR_TRUNCATED, "prefix %zu: parse gave %s", n, kw_strerror(r));
		CHECKF(memcmp(&rep, &sentinel, sizeof(rep)) == 0, "prefix %zu: output written", n);
		r = verify(t, buf, n, &v.c, T_2026_11_28, 1, &claims, &why);
		CHECKF(r == KW_ERR_TRUNCATED && why != NULL && claims == (json_t *)&sentinel,
		    "prefix %zu: verify gave %s", n, kw_strerror(r));
		free(buf);
	}
	buf = calloc(1, SNP_REPORT_SIZE + 1);
	memcpy(buf, v.report, SNP_REPORT_SIZE);
	CU_ASSERT(snp_report_parse(buf, SNP_REPORT_SIZE + 1, &rep) == KW_ERR_TRAILING);
	free(buf);
	CU_ASSERT(snp_report_parse(NULL, 0, &rep) == KW_ERR_TRUNCATED);
	CU_ASSERT(snp_report_parse(v.report, v.report_len, NULL) == KW_ERR_INVALID_ARG);
out:
	vec_free(&v);
	snp_trust_free(t);
}

static void
test_bitflip(void)
{
	struct snp_trust *t = trust_with("cert_chain_milan_vcek.pem", NULL);
	json_t *claims = NULL;
	struct vec v;
	uint8_t buf[SNP_REPORT_SIZE];
	size_t nsig = 0, nfmt = 0;

	if (vec_load(&v, "trustee-milan-v2/report.bin", "trustee-milan-v2/vcek.der") != 0)
		goto out;
	for (size_t i = 0; i < SNP_REPORT_SIZE; i++) {
		const char *why = NULL;
		int r;

		memcpy(buf, v.report, sizeof(buf));
		buf[i] ^= (uint8_t)(1u << (i % 8));
		r = verify(t, buf, sizeof(buf), &v.c, T_2026_11_28, 1, &claims, &why);
		CHECKF(r != 0 && claims == NULL && why != NULL, "flip at 0x%zx accepted", i);
		if (r == 0) {
			json_decref(claims);
			claims = NULL;
		}
		/* Guest data, the measurement and the used bytes of R and S: the signature catches them. */
		if ((i >= 0x50 && i < 0xC0) || (i >= 0x2A0 && i < 0x2D0) || (i >= 0x2E8 && i < 0x318))
			CHECKF(r == KW_ERR_SIG_INVALID, "flip at 0x%zx gave %s", i, kw_strerror(r));
		/* Unused signature bytes and the tail are not signed: the parser must refuse them. */
		if ((i >= 0x2D0 && i < 0x2E8) || i >= 0x318)
			CHECKF(r == KW_ERR_INVALID_FORMAT, "flip at 0x%zx gave %s", i, kw_strerror(r));
		nsig += r == KW_ERR_SIG_INVALID;
		nfmt += r == KW_ERR_INVALID_FORMAT;
	}
	CHECKF(nsig >= 0x200 && nfmt >= 0x190, "sig %zu fmt %zu", nsig, nfmt);
	/* All bits of a few bytes in the signed region too. */
	for (size_t i = 0x90; i < 0x98; i++) {
		for (unsigned int b = 0; b < 8; b++) {
			const char *why = NULL;

			memcpy(buf, v.report, sizeof(buf));
			buf[i] ^= (uint8_t)(1u << b);
			CU_ASSERT(verify(t, buf, sizeof(buf), &v.c, T_2026_11_28, 1, &claims, &why) ==
			    KW_ERR_SIG_INVALID);
		}
	}
out:
	vec_free(&v);
	snp_trust_free(t);
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
test_versions_and_reserved(void)
{
	struct snp_trust *t = trust_with("cert_chain_milan_vcek.pem", NULL);
	static const uint32_t bad_versions[] = { 0, 1, 4, 6, 0xffffffffu };
	struct snp_report rep;
	json_t *claims = NULL;
	const char *why;
	uint8_t buf[SNP_REPORT_SIZE];
	struct vec v;

	if (vec_load(&v, "virtee-milan-v2/report.bin", "virtee-milan-v2/vcek.der") != 0)
		goto out;
	for (size_t i = 0; i < KW_ARRAY_SIZE(bad_versions); i++) {
		memcpy(buf, v.report, sizeof(buf));
		put32(buf, bad_versions[i]);
		CHECKF(snp_report_parse(buf, sizeof(buf), &rep) == KW_ERR_UNSUPPORTED, "version %u parsed",
		    bad_versions[i]);
		why = NULL;
		CHECKF(verify(t, buf, sizeof(buf), &v.c, T_2026_11_28, 1, &claims, &why) == KW_ERR_UNSUPPORTED &&
		    why != NULL, "version %u verified", bad_versions[i]);
	}
	/* Version 3 and 5 layouts parse, but the signature no longer matches. */
	memcpy(buf, v.report, sizeof(buf));
	put32(buf, 3);
	CU_ASSERT(snp_report_parse(buf, sizeof(buf), &rep) == 0 && rep.version == 3);
	CU_ASSERT(verify(t, buf, sizeof(buf), &v.c, T_2026_11_28, 1, &claims, &why) == KW_ERR_SIG_INVALID);
	/* SIGNATURE_ALGO other than 1 */
	memcpy(buf, v.report, sizeof(buf));
	put32(buf + 0x34, 2);
	CU_ASSERT(snp_report_parse(buf, sizeof(buf), &rep) == KW_ERR_UNSUPPORTED);
	/* POLICY bit 17 must be one */
	memcpy(buf, v.report, sizeof(buf));
	buf[0x0A] &= (uint8_t)~0x02;
	CU_ASSERT(snp_report_parse(buf, sizeof(buf), &rep) == KW_ERR_INVALID_FORMAT);
	/* SIGNER_INFO: bits above 4 MBZ; key types other than VCEK/VLEK unsupported */
	memcpy(buf, v.report, sizeof(buf));
	buf[0x48] = 0x20;
	CU_ASSERT(snp_report_parse(buf, sizeof(buf), &rep) == KW_ERR_INVALID_FORMAT);
	buf[0x48] = 7 << 2;
	CU_ASSERT(snp_report_parse(buf, sizeof(buf), &rep) == 0);
	CU_ASSERT(verify(t, buf, sizeof(buf), &v.c, T_2026_11_28, 1, &claims, &why) == KW_ERR_UNSUPPORTED);
	/* Version 2 has no CPUID bytes and no mitigation vectors */
	memcpy(buf, v.report, sizeof(buf));
	buf[0x188] = 0x19;
	CU_ASSERT(snp_report_parse(buf, sizeof(buf), &rep) == KW_ERR_INVALID_FORMAT);
	memcpy(buf, v.report, sizeof(buf));
	buf[0x1F8] = 1;
	CU_ASSERT(snp_report_parse(buf, sizeof(buf), &rep) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(claims == NULL);
out:
	vec_free(&v);
	snp_trust_free(t);
}

static void
test_bad_args(void)
{
	struct snp_trust *t = trust_with("cert_chain_milan_vcek.pem", NULL);
	struct snp_verify_opts o = { .at = T_2026_11_28, .allow_debug = 0 };
	struct snp_evidence ev;
	json_t *claims = NULL;
	const char *why = NULL;
	struct vec v;
	struct certs ask = { 0 };
	char p[4096];
	uint8_t *der2 = NULL;

	if (vec_load(&v, "virtee-milan-v2/report.bin", "virtee-milan-v2/vcek.der") != 0)
		goto out;
	memset(&ev, 0, sizeof(ev));
	ev.report = v.report;
	ev.report_len = v.report_len;
	ev.certs[0] = v.c.der[0];
	ev.cert_lens[0] = v.c.len[0];
	ev.ncerts = 1;
	CU_ASSERT(snp_verify(t, &ev, &o, &claims, &why) == 0);
	json_decref(claims);
	claims = NULL;
	CU_ASSERT(snp_verify(NULL, &ev, &o, &claims, &why) == KW_ERR_INVALID_ARG);
	CU_ASSERT(snp_verify(t, NULL, &o, &claims, &why) == KW_ERR_INVALID_ARG);
	CU_ASSERT(snp_verify(t, &ev, NULL, &claims, &why) == KW_ERR_INVALID_ARG);
	CU_ASSERT(snp_verify(t, &ev, &o, NULL, &why) == KW_ERR_INVALID_ARG);
	o.at = 0;
	CU_ASSERT(snp_verify(t, &ev, &o, &claims, NULL) == KW_ERR_INVALID_ARG);
	o.at = T_2026_11_28;
	ev.ncerts = 0;
	CU_ASSERT(snp_verify(t, &ev, &o, &claims, &why) == KW_ERR_INVALID_ARG);
	ev.ncerts = 5;
	CU_ASSERT(snp_verify(t, &ev, &o, &claims, &why) == KW_ERR_INVALID_ARG);
	/* A certificate with a trailing byte, or cut short, is malformed. */
	der2 = calloc(1, v.c.len[0] + 1);
	memcpy(der2, v.c.der[0], v.c.len[0]);
	ev.certs[0] = der2;
	ev.cert_lens[0] = v.c.len[0] + 1;
	ev.ncerts = 1;
	CU_ASSERT(snp_verify(t, &ev, &o, &claims, &why) == KW_ERR_INVALID_FORMAT);
	ev.cert_lens[0] = v.c.len[0] - 1;
	CU_ASSERT(snp_verify(t, &ev, &o, &claims, &why) == KW_ERR_INVALID_FORMAT);
	/* A non-EC certificate (the ASK) in place of the VCEK. */
	CU_ASSERT(load_certs(vpath(p, sizeof(p), "certs/cert_chain_milan_vcek.pem"), &ask) == 0);
	ev.certs[0] = ask.der[0];
	ev.cert_lens[0] = ask.len[0];
	why = NULL;
	CU_ASSERT(snp_verify(t, &ev, &o, &claims, &why) == KW_ERR_CERT_INVALID);
	CHECKF(why != NULL && strstr(why, "P-384") != NULL, "reason %s", why ? why : "-");
	CU_ASSERT(claims == NULL);
out:
	certs_free(&ask);
	free(der2);
	vec_free(&v);
	snp_trust_free(t);
}

struct thr {
	const struct snp_trust *t;
	const struct vec *v;
	int failures;
};

static void *
thr_main(void *arg)
{
	struct thr *a = arg;

	for (int i = 0; i < 25; i++) {
		json_t *claims = NULL;
		const char *why = NULL;

		if (verify(a->t, a->v->report, a->v->report_len, &a->v->c, T_2026_11_28, 0, &claims, &why) != 0)
			a->failures++;
		json_decref(claims);
	}
	return NULL;
}

static void
test_concurrent(void)
{
	struct snp_trust *t = trust_with("cert_chain_milan_vcek.pem", "cert_chain_milan_vlek.pem");
	pthread_t th[4];
	struct thr a[4];
	struct vec v;

	if (vec_load(&v, "trustee-milan-v2/report.bin", "trustee-milan-v2/vcek.der") != 0)
		goto out;
	for (int i = 0; i < 4; i++) {
		a[i] = (struct thr){ t, &v, 0 };
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, thr_main, &a[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECKF(a[i].failures == 0, "thread %d: %d failures", i, a[i].failures);
	}
out:
	vec_free(&v);
	snp_trust_free(t);
}

int
test_snp_vectors_register(void)
{
	CU_pSuite s = CU_add_suite("snp_vectors", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_expected_json) | TEST_ADD(s, test_wrong_vcek) | TEST_ADD(s, test_vlek_chains) |
	    TEST_ADD(s, test_pinned_ark_in_evidence) | TEST_ADD(s, test_trust_load_errors) |
	    TEST_ADD(s, test_truncation) | TEST_ADD(s, test_bitflip) |
	    TEST_ADD(s, test_versions_and_reserved) | TEST_ADD(s, test_bad_args) |
	    TEST_ADD(s, test_concurrent);
}
