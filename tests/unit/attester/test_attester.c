/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_attester: CUnit tests for libkwattester (meson test --suite unit,
 * test 'attester'): binding, emulated SNP reports, the SNP certificate table
 * parser, configfs-tsm absence, JWE decryption (the encrypt side is
 * written here, independently of the library), DPoP proofs, the
 * use_dpop_nonce challenge and the token's lifetime, kwget's key encodings
 * and Retry-After; the configuration manifest in test_manifest.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "attester.h"
#include "att_tdx_emu.h"
#include "kw_b64url.h"
#include "kw_jose.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_rd.h"
#include "kw_util.h"
#include "kwa_internal.h"
#include "test_helper.h"
#include "test_manifest.h"


static EVP_PKEY *rsa_key;   /* shared RSA-3072 TEE key for the JWE tests */
static EVP_PKEY *rsa_other; /* a second, unrelated key */

static void
hex_to(const char *hex, uint8_t *out, size_t n)
{
	CU_ASSERT_FATAL(kw_hex_decode(hex, out, n) == 0);
}

/* ---------------------------------------------------------------- binding */

static void
test_report_data_fixed(void)
{
	/* Canonical form written by hand; digest from `openssl dgst -sha384`. */
	static const char expect_hex[] =
	    "cd5eed1ab899c32f97cbf1ff41caeff799a6e8de1941028cc20f40982c467cda"
	    "9a74d5abfa86c907550c62a390b56ca8";
	static const char canon[] =
	    "{\"config\":{},\"nonce\":\"bm9uY2U\",\"tee-pubkey\":{\"e\":\"AQAB\",\"kty\":\"RSA\","
	    "\"n\":\"uVw\"},\"tee-sigkey\":{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"eA\",\"y\":\"eQ\"}}";
	uint8_t expect[48], rd[64], md[48];
	json_t *v;

	/* Members deliberately out of order: JCS must sort them. */
	v = json_pack("{s:{s:s,s:s,s:s}, s:s, s:{s:s,s:s,s:s,s:s}, s:{}}",
	    "tee-pubkey", "n", "uVw", "kty", "RSA", "e", "AQAB",
	    "nonce", "bm9uY2U",
	    "tee-sigkey", "y", "eQ", "x", "eA", "kty", "EC", "crv", "P-256",
	    "config");
	CU_ASSERT_FATAL(v != NULL);
	hex_to(expect_hex, expect, sizeof(expect));
	SHA384((const unsigned char *)canon, strlen(canon), md);
	CU_ASSERT(memcmp(md, expect, 48) == 0); /* the hand-written string is what we think */
	memset(rd, 0xaa, sizeof(rd));
	CU_ASSERT_FATAL(att_report_data(v, rd) == 0);
	CU_ASSERT(memcmp(rd, expect, 48) == 0);
	for (size_t i = 48; i < 64; i++)
		CU_ASSERT(rd[i] == 0);
	/* A change anywhere changes the binding. */
	json_object_set_new(v, "nonce", json_string("bm9uY2V"));
	CU_ASSERT_FATAL(att_report_data(v, rd) == 0);
	CU_ASSERT(memcmp(rd, expect, 48) != 0);
	json_decref(v);
	CU_ASSERT(att_report_data(NULL, rd) == KW_ERR_INVALID_ARG);
}

static void
test_runtime_data_build(void)
{
	struct att_keys *k = NULL;
	json_t *rd = NULL, *cfg;
	EVP_PKEY *pub = NULL;
	const char *s;
	size_t n;
	uint8_t a[64], b[64];

	CU_ASSERT_FATAL(att_rng_check() == 0);
	CU_ASSERT_FATAL(att_keys_generate(&k) == 0);
	CU_ASSERT(EVP_PKEY_is_a(k->enc, "RSA") && EVP_PKEY_get_bits(k->enc) == 3072);
	CU_ASSERT(EVP_PKEY_is_a(k->sig, "EC") && EVP_PKEY_get_bits(k->sig) == 256);

	CU_ASSERT_FATAL(att_runtime_data_build("the-nonce", k, NULL, &rd) == 0);
	CU_ASSERT(json_object_size(rd) == 4);
	CU_ASSERT(kw_json_get_str(rd, "nonce", &s, &n) == 0 && strcmp(s, "the-nonce") == 0);
	cfg = json_object_get(rd, "config");
	CU_ASSERT(json_is_object(cfg) && json_object_size(cfg) == 0);
	CU_ASSERT(kw_json_get_str(json_object_get(rd, "tee-pubkey"), "kty", &s, &n) == 0 &&
	    strcmp(s, "RSA") == 0);
	CU_ASSERT(json_object_get(json_object_get(rd, "tee-pubkey"), "d") == NULL);
	CU_ASSERT_FATAL(kw_jwk_import_public(json_object_get(rd, "tee-pubkey"), &pub) == 0);
	CU_ASSERT(EVP_PKEY_eq(pub, k->enc) == 1);
	EVP_PKEY_free(pub);
	pub = NULL;
	CU_ASSERT(kw_json_get_str(json_object_get(rd, "tee-sigkey"), "crv", &s, &n) == 0 &&
	    strcmp(s, "P-256") == 0);
	CU_ASSERT_FATAL(kw_jwk_import_public(json_object_get(rd, "tee-sigkey"), &pub) == 0);
	CU_ASSERT(EVP_PKEY_eq(pub, k->sig) == 1);
	EVP_PKEY_free(pub);

	/* report data is deterministic for one runtime-data */
	CU_ASSERT(att_report_data(rd, a) == 0 && att_report_data(rd, b) == 0);
	CU_ASSERT(memcmp(a, b, 64) == 0);
	json_decref(rd);

	/* a given config object is copied */
	cfg = json_pack("{s:i}", "x", 1);
	rd = NULL;
	CU_ASSERT_FATAL(att_runtime_data_build("n", k, cfg, &rd) == 0);
	CU_ASSERT(json_equal(json_object_get(rd, "config"), cfg));
	CU_ASSERT(json_object_get(rd, "config") != cfg);
	json_decref(rd);
	json_decref(cfg);

	rd = NULL;
	CU_ASSERT(att_runtime_data_build("", k, NULL, &rd) == KW_ERR_INVALID_ARG);
	CU_ASSERT(att_runtime_data_build(NULL, k, NULL, &rd) == KW_ERR_INVALID_ARG);
	cfg = json_array();
	CU_ASSERT(att_runtime_data_build("n", k, cfg, &rd) == KW_ERR_INVALID_ARG);
	json_decref(cfg);
	CU_ASSERT(rd == NULL);
	att_keys_free(k);
	att_keys_free(NULL);
}

/* ---------------------------------------------------------- emulated SNP */

/* Independent check of an SNP report signature (FORMATS.md §3 recipe). */
static int
verify_report(const uint8_t *rep, EVP_PKEY *pub)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_lebin2bn(rep + 0x2A0, 72, NULL), *s = BN_lebin2bn(rep + 0x2E8, 72, NULL);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	int n, ok = 0;

	if (sig == NULL || r == NULL || s == NULL || md == NULL || ECDSA_SIG_set0(sig, r, s) != 1)
		goto out;
	r = s = NULL;
	if ((n = i2d_ECDSA_SIG(sig, &der)) <= 0)
		goto out;
	if (EVP_DigestVerifyInit_ex(md, NULL, "SHA384", NULL, NULL, pub, NULL) != 1)
		goto out;
	ok = EVP_DigestVerify(md, der, (size_t)n, rep, 0x2A0) == 1;
out:
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	return ok;
}

static uint64_t
rd_u64_at(const uint8_t *rep, size_t off)
{
	struct kw_rd rd;
	uint64_t v = 0;

	kw_rd_init(&rd, rep, ATT_SNP_REPORT_LEN);
	CU_ASSERT_FATAL(kw_rd_skip(&rd, off) == 0 && kw_rd_u64le(&rd, &v) == 0);
	return v;
}

static uint32_t
rd_u32_at(const uint8_t *rep, size_t off)
{
	struct kw_rd rd;
	uint32_t v = 0;

	kw_rd_init(&rd, rep, ATT_SNP_REPORT_LEN);
	CU_ASSERT_FATAL(kw_rd_skip(&rd, off) == 0 && kw_rd_u32le(&rd, &v) == 0);
	return v;
}

static const uint8_t *
rd_bytes_at(const uint8_t *rep, size_t off, size_t n)
{
	struct kw_rd rd;
	const uint8_t *p = NULL;

	kw_rd_init(&rd, rep, ATT_SNP_REPORT_LEN);
	CU_ASSERT_FATAL(kw_rd_skip(&rd, off) == 0 && kw_rd_bytes(&rd, n, &p) == 0);
	return p;
}

static int
is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static void
check_report_layout(const uint8_t *rep, const struct att_emu_report_params *p)
{
	const uint8_t *b;

	CU_ASSERT(rd_u32_at(rep, 0x000) == 3);
	CU_ASSERT(rd_u32_at(rep, 0x004) == 0);
	CU_ASSERT(rd_u64_at(rep, 0x008) == (p->debug ? 0xB0000ULL : 0x30000ULL));
	CU_ASSERT(rd_u32_at(rep, 0x030) == 0);                       /* VMPL */
	CU_ASSERT(rd_u32_at(rep, 0x034) == 1);                       /* ECDSA P-384 */
	CU_ASSERT(rd_u64_at(rep, 0x038) == p->tcb);                  /* CURRENT */
	CU_ASSERT(rd_u32_at(rep, 0x048) == 0);                       /* VCEK signer */
	CU_ASSERT(memcmp(rd_bytes_at(rep, 0x050, 64), p->report_data, 64) == 0);
	CU_ASSERT(memcmp(rd_bytes_at(rep, 0x090, 48), p->measurement, 48) == 0);
	CU_ASSERT(rd_u64_at(rep, 0x180) == p->tcb);                  /* REPORTED */
	b = rd_bytes_at(rep, 0x188, 3);
	CU_ASSERT(b[0] == 0x19 && b[1] == 0x01 && b[2] == 0x01);   /* Milan */
	CU_ASSERT(is_zero(rd_bytes_at(rep, 0x18B, 21), 21));
	CU_ASSERT(memcmp(rd_bytes_at(rep, 0x1A0, 64), p->chip_id, 64) == 0);
	CU_ASSERT(rd_u64_at(rep, 0x1E0) == p->tcb);                  /* COMMITTED */
	CU_ASSERT(rd_u64_at(rep, 0x1F0) == p->tcb);                  /* LAUNCH */
	CU_ASSERT(is_zero(rd_bytes_at(rep, 0x1F8, 0x2A0 - 0x1F8), 0x2A0 - 0x1F8));
	/* R and S: 48 significant bytes each, zero above them and after S */
	CU_ASSERT(is_zero(rd_bytes_at(rep, 0x2A0 + 48, 24), 24));
	CU_ASSERT(is_zero(rd_bytes_at(rep, 0x2E8 + 48, 24), 24));
	CU_ASSERT(is_zero(rd_bytes_at(rep, 0x330, ATT_SNP_REPORT_LEN - 0x330),
	    ATT_SNP_REPORT_LEN - 0x330));
}

static void
test_emu_report_build(void)
{
	struct att_emu_report_params p;
	uint8_t rep[ATT_SNP_REPORT_LEN], bad[ATT_SNP_REPORT_LEN];
	EVP_PKEY *k = EVP_EC_gen("P-384"), *other = EVP_EC_gen("P-384"), *p256 = EVP_EC_gen("P-256");

	CU_ASSERT_FATAL(k != NULL && other != NULL && p256 != NULL);
	memset(&p, 0, sizeof(p));
	for (size_t i = 0; i < 64; i++)
		p.report_data[i] = (uint8_t)(i + 1), p.chip_id[i] = (uint8_t)(0xc0 ^ i);
	for (size_t i = 0; i < 48; i++)
		p.measurement[i] = (uint8_t)(0x80 + i);
	p.tcb = 0x7308000000000003ULL;
	for (int dbg = 0; dbg <= 1; dbg++) {
		p.debug = dbg;
		CU_ASSERT_FATAL(att_emu_report_build(&p, k, rep) == 0);
		check_report_layout(rep, &p);
		CU_ASSERT(verify_report(rep, k));
		CU_ASSERT(!verify_report(rep, other));
		/* a flip anywhere in the signed range breaks the signature (sampled) */
		for (size_t off = 0; off < ATT_SNP_SIGNED_LEN; off += 37) {
			memcpy(bad, rep, sizeof(bad));
			bad[off] ^= 0x01;
			CU_ASSERT(!verify_report(bad, k));
		}
	}
	CU_ASSERT(att_emu_report_build(&p, p256, rep) == KW_ERR_UNSUPPORTED);
	CU_ASSERT(att_emu_report_build(&p, rsa_key, rep) == KW_ERR_UNSUPPORTED);
	CU_ASSERT(att_emu_report_build(NULL, k, rep) == KW_ERR_INVALID_ARG);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
	EVP_PKEY_free(p256);
}

static char emu_dir[128];

static int
make_emu_chain(void)
{
	const char *src = getenv("KW_SOURCE_ROOT");
	char cmd[1024];

	if (emu_dir[0] != '\0')
		return 0;
	if (src == NULL)
		src = ".";
	snprintf(emu_dir, sizeof(emu_dir), "%s/emu", test_tmpdir());
	snprintf(cmd, sizeof(cmd), "sh '%s/scripts/mk-emu-chain.sh' '%s' 2>/dev/null", src, emu_dir);
	if (system(cmd) != 0) {
		emu_dir[0] = '\0';
		return -1;
	}
	return 0;
}

static X509 *
load_pem_cert(const char *dir, const char *name)
{
	char path[512];
	FILE *f;
	X509 *x;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static X509 *
der_cert(const uint8_t *p, size_t n)
{
	const unsigned char *q = p;
	X509 *x = d2i_X509(NULL, &q, (long)n);

	CU_ASSERT(q == p + n);
	return x;
}

static void
test_emu_evidence(void)
{
	struct att_emu_opts o = {0};
	struct att_evidence *ev = NULL;
	uint8_t rd[64], meas[48], chip[64], *buf = NULL;
	char path[512];
	X509 *vcek = NULL, *ask = NULL, *ark = NULL, *vcek_pem = NULL;
	json_t *emu = NULL, *ej = NULL;
	const char *s;
	size_t n;

	CU_ASSERT_FATAL(make_emu_chain() == 0);
	snprintf(path, sizeof(path), "%s/emu.json", emu_dir);
	CU_ASSERT_FATAL(kw_file_read(path, 4096, &buf, &n) == 0);
	CU_ASSERT_FATAL(kw_json_parse(buf, n, 4096, &emu) == 0);
	free(buf);
	CU_ASSERT_FATAL(kw_json_get_str(emu, "chip_id", &s, &n) == 0);
	hex_to(s, chip, 64);
	CU_ASSERT_FATAL(kw_json_get_str(emu, "measurement", &s, &n) == 0);
	hex_to(s, meas, 48);
	CU_ASSERT_FATAL(kw_json_get_str(emu, "reported_tcb", &s, &n) == 0);
	CU_ASSERT(strcmp(s, "0x7308000000000003") == 0);

	for (size_t i = 0; i < 64; i++)
		rd[i] = (uint8_t)(0x55 ^ i);
	o.dir = emu_dir;
	CU_ASSERT_FATAL(att_emu_snp_evidence(&o, rd, &ev) == 0);
	CU_ASSERT(ev->emulated == 1 && ev->nchain == 2 && ev->ek_is_vlek == 0);
	vcek = der_cert(ev->ek, ev->ek_len);
	ask = der_cert(ev->chain[0], ev->chain_len[0]);
	ark = der_cert(ev->chain[1], ev->chain_len[1]);
	CU_ASSERT_FATAL(vcek != NULL && ask != NULL && ark != NULL);
	vcek_pem = load_pem_cert(emu_dir, "vcek.pem");
	CU_ASSERT(vcek_pem != NULL && X509_cmp(vcek, vcek_pem) == 0);
	/* chain: VCEK <- ASK <- ARK (self-signed), all PSS */
	CU_ASSERT(X509_verify(vcek, X509_get0_pubkey(ask)) == 1);
	CU_ASSERT(X509_verify(ask, X509_get0_pubkey(ark)) == 1);
	CU_ASSERT(X509_verify(ark, X509_get0_pubkey(ark)) == 1);
	CU_ASSERT(X509_verify(vcek, X509_get0_pubkey(ark)) != 1);
	/* the report: our binding, emu.json's values, signed by the VCEK */
	{
		struct att_emu_report_params p;

		memset(&p, 0, sizeof(p));
		memcpy(p.report_data, rd, 64);
		memcpy(p.measurement, meas, 48);
		memcpy(p.chip_id, chip, 64);
		p.tcb = 0x7308000000000003ULL;
		check_report_layout(ev->report, &p);
	}
	CU_ASSERT(verify_report(ev->report, X509_get0_pubkey(vcek)));

	/* JSON form */
	CU_ASSERT_FATAL(att_evidence_to_json(ev, &ej) == 0);
	CU_ASSERT(json_object_size(ej) == 3);
	CU_ASSERT(kw_json_get_str(ej, "report", &s, &n) == 0 && n == kw_b64url_enclen(1184));
	{
		uint8_t back[ATT_SNP_REPORT_LEN];
		size_t bl = 0;

		CU_ASSERT(kw_b64url_decode(s, n, back, sizeof(back), &bl) == 0 && bl == 1184 &&
		    memcmp(back, ev->report, 1184) == 0);
	}
	CU_ASSERT(kw_json_get_str(ej, "vcek", &s, &n) == 0 && n == kw_b64url_enclen(ev->ek_len));
	CU_ASSERT(json_array_size(json_object_get(ej, "chain")) == 2);
	json_decref(ej);
	ej = NULL;
	ev->nchain = 0;
	CU_ASSERT_FATAL(att_evidence_to_json(ev, &ej) == 0);
	CU_ASSERT(json_object_get(ej, "chain") == NULL);
	json_decref(ej);
	att_evidence_free(ev);
	ev = NULL;

	/* options: measurement, debug, report-data override */
	{
		uint8_t m2[48], rd2[64];
		struct att_emu_report_params p;

		memset(m2, 0xcd, sizeof(m2));
		memset(rd2, 0x11, sizeof(rd2));
		o.measurement = m2;
		o.report_data = rd2;
		o.debug = 1;
		CU_ASSERT_FATAL(att_emu_snp_evidence(&o, rd, &ev) == 0);
		memset(&p, 0, sizeof(p));
		memcpy(p.report_data, rd2, 64);
		memcpy(p.measurement, m2, 48);
		memcpy(p.chip_id, chip, 64);
		p.tcb = 0x7308000000000003ULL;
		p.debug = 1;
		check_report_layout(ev->report, &p);
		CU_ASSERT(verify_report(ev->report, X509_get0_pubkey(vcek)));
		att_evidence_free(ev);
		ev = NULL;
	}

	/* a missing directory or a broken emu.json fail cleanly */
	o = (struct att_emu_opts){.dir = "/nonexistent/kw-emu"};
	CU_ASSERT(att_emu_snp_evidence(&o, rd, &ev) == KW_ERR_IO && ev == NULL);
	{
		char bad[256], cmd[1024];

		snprintf(bad, sizeof(bad), "%s/emu-bad", test_tmpdir());
		snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s' && sed -i 's/Milan/Genoa/' '%s/emu.json'",
		    emu_dir, bad, bad);
		CU_ASSERT_FATAL(system(cmd) == 0);
		o.dir = bad;
		CU_ASSERT(att_emu_snp_evidence(&o, rd, &ev) == KW_ERR_UNSUPPORTED && ev == NULL);
		snprintf(cmd, sizeof(cmd), "sed -i 's/Genoa/Milan/; s/\"0x/\"0y/' '%s/emu.json'", bad);
		CU_ASSERT_FATAL(system(cmd) == 0);
		CU_ASSERT(att_emu_snp_evidence(&o, rd, &ev) == KW_ERR_INVALID_FORMAT && ev == NULL);
		/* a VCEK certificate that does not match vcek.key */
		snprintf(cmd, sizeof(cmd), "sed -i 's/\"0y/\"0x/' '%s/emu.json' && cp '%s/ask.pem' "
		    "'%s/vcek.pem'", bad, bad, bad);
		CU_ASSERT_FATAL(system(cmd) == 0);
		CU_ASSERT(att_emu_snp_evidence(&o, rd, &ev) == KW_ERR_MISMATCH && ev == NULL);
	}

	json_decref(emu);
	X509_free(vcek);
	X509_free(vcek_pem);
	X509_free(ask);
	X509_free(ark);
}

static void
test_mk_emu_chain_refuses(void)
{
	const char *src = getenv("KW_SOURCE_ROOT");
	char cmd[1024];

	CU_ASSERT_FATAL(make_emu_chain() == 0);
	snprintf(cmd, sizeof(cmd), "sh '%s/scripts/mk-emu-chain.sh' '%s' 2>/dev/null",
	    src != NULL ? src : ".", emu_dir);
	CU_ASSERT(system(cmd) != 0); /* exists, no --force */
}

/* ------------------------------------------------------------ cert table */

struct tbl_entry {
	const uint8_t *guid;
	const uint8_t *data;
	uint32_t len;
};

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Table + certificates, certificates packed right after the terminator. */
static size_t
make_table(const struct tbl_entry *e, size_t n, uint8_t *out, size_t outsz)
{
	size_t off = (n + 1) * 24;

	memset(out, 0, outsz);
	for (size_t i = 0; i < n; i++) {
		memcpy(out + 24 * i, e[i].guid, 16);
		put32(out + 24 * i + 16, (uint32_t)off);
		put32(out + 24 * i + 20, e[i].len);
		memcpy(out + off, e[i].data, e[i].len);
		off += e[i].len;
	}
	CU_ASSERT_FATAL(off <= outsz);
	return off;
}

static const uint8_t unknown_guid[16] = {0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d,
	0x97, 0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67, 0xea}; /* the CRL GUID: not used by us */

static void
test_certtable_guids(void)
{
	char *hex = NULL;

	/* Wire bytes pinned in the order the GUID string is written. */
	CU_ASSERT_FATAL(kw_hex_encode(att_snp_cert_guid(ATT_CERT_VCEK), 16, &hex) == 0);
	CU_ASSERT(strcmp(hex, "63da758de6644564adc5f4b93be8accd") == 0);
	free(hex);
	CU_ASSERT_FATAL(kw_hex_encode(att_snp_cert_guid(ATT_CERT_VLEK), 16, &hex) == 0);
	CU_ASSERT(strcmp(hex, "a8074bc2a25a483eaae639c045a0b8a1") == 0);
	free(hex);
	CU_ASSERT_FATAL(kw_hex_encode(att_snp_cert_guid(ATT_CERT_ASK), 16, &hex) == 0);
	CU_ASSERT(strcmp(hex, "4ab7b379bbac4fe4a02f05aef327c782") == 0);
	free(hex);
	CU_ASSERT_FATAL(kw_hex_encode(att_snp_cert_guid(ATT_CERT_ARK), 16, &hex) == 0);
	CU_ASSERT(strcmp(hex, "c0b406a4a803495297433fb6014cd0ae") == 0);
	free(hex);
	CU_ASSERT(att_snp_cert_guid(ATT_CERT__N) == NULL);
}

static void
test_certtable_good(void)
{
	static const uint8_t vcek[] = "vcek-der-bytes", ask[] = "ask-der", ark[] = "ark-der!!",
	    other[] = "crl";
	struct tbl_entry e[] = {
		{att_snp_cert_guid(ATT_CERT_ARK), ark, sizeof(ark)},
		{unknown_guid, other, sizeof(other)},
		{att_snp_cert_guid(ATT_CERT_ASK), ask, sizeof(ask)},
		{att_snp_cert_guid(ATT_CERT_VCEK), vcek, sizeof(vcek)},
	};
	uint8_t buf[512];
	struct att_snp_certs c;
	size_t len = make_table(e, 4, buf, sizeof(buf));

	CU_ASSERT_FATAL(att_snp_certtable_parse(buf, len, &c) == 0);
	CU_ASSERT(c.nentries == 4);
	CU_ASSERT(c.c[ATT_CERT_VCEK].len == sizeof(vcek) &&
	    memcmp(c.c[ATT_CERT_VCEK].p, vcek, sizeof(vcek)) == 0);
	CU_ASSERT(c.c[ATT_CERT_ASK].len == sizeof(ask) &&
	    memcmp(c.c[ATT_CERT_ASK].p, ask, sizeof(ask)) == 0);
	CU_ASSERT(c.c[ATT_CERT_ARK].len == sizeof(ark) &&
	    memcmp(c.c[ATT_CERT_ARK].p, ark, sizeof(ark)) == 0);
	CU_ASSERT(c.c[ATT_CERT_VLEK].p == NULL && c.c[ATT_CERT_VLEK].len == 0);

	/* trailing padding (a page-sized auxblob) is fine */
	CU_ASSERT(att_snp_certtable_parse(buf, sizeof(buf), &c) == 0 && c.nentries == 4);

	/* only a terminator: no certificates */
	memset(buf, 0, 24);
	CU_ASSERT(att_snp_certtable_parse(buf, 24, &c) == 0 && c.nentries == 0 &&
	    c.c[ATT_CERT_VCEK].p == NULL);
}

static void
test_certtable_bad(void)
{
	static const uint8_t cert[] = "0123456789";
	struct tbl_entry e[2] = {
		{att_snp_cert_guid(ATT_CERT_VCEK), cert, sizeof(cert)},
		{att_snp_cert_guid(ATT_CERT_ASK), cert, sizeof(cert)},
	};
	uint8_t buf[4096], copy[4096];
	struct att_snp_certs c, sentinel;
	size_t len = make_table(e, 2, buf, sizeof(buf));

	memset(&sentinel, 0x5a, sizeof(sentinel));
	/* truncation sweep: every proper prefix fails and leaves *ret alone */
	for (size_t n = 0; n < len; n++) {
		c = sentinel;
		CU_ASSERT(att_snp_certtable_parse(buf, n, &c) != 0);
		CU_ASSERT(memcmp(&c, &sentinel, sizeof(c)) == 0);
	}
	/* no terminator at all */
	memset(copy, 0xff, sizeof(copy));
	CU_ASSERT(att_snp_certtable_parse(copy, 240, &c) != 0);
	/* terminator GUID with a non-zero offset */
	memcpy(copy, buf, len);
	copy[48 + 16] = 1;
	CU_ASSERT(att_snp_certtable_parse(copy, len, &c) == KW_ERR_INVALID_FORMAT);
	/* zero length */
	memcpy(copy, buf, len);
	put32(copy + 20, 0);
	CU_ASSERT(att_snp_certtable_parse(copy, len, &c) == KW_ERR_INVALID_FORMAT);
	/* offset inside the table */
	memcpy(copy, buf, len);
	put32(copy + 16, 40);
	CU_ASSERT(att_snp_certtable_parse(copy, len, &c) == KW_ERR_INVALID_FORMAT);
	/* offset / length beyond the end, and wrap-around values */
	memcpy(copy, buf, len);
	put32(copy + 16, 0xfffffff0u);
	CU_ASSERT(att_snp_certtable_parse(copy, len, &c) == KW_ERR_TRUNCATED);
	memcpy(copy, buf, len);
	put32(copy + 20, 0xffffffffu);
	CU_ASSERT(att_snp_certtable_parse(copy, len, &c) == KW_ERR_TOO_LARGE);
	memcpy(copy, buf, len);
	put32(copy + 24 + 20, (uint32_t)sizeof(cert) + 1); /* the last certificate, one byte longer */
	CU_ASSERT(att_snp_certtable_parse(copy, len, &c) == KW_ERR_TRUNCATED);
	/* the same known GUID twice */
	memcpy(copy, buf, len);
	memcpy(copy + 24, att_snp_cert_guid(ATT_CERT_VCEK), 16);
	CU_ASSERT(att_snp_certtable_parse(copy, len, &c) == KW_ERR_INVALID_FORMAT);
	/* too many entries */
	{
		struct tbl_entry many[ATT_MAX_CERTTABLE_ENTRIES + 1];

		for (size_t i = 0; i < KW_ARRAY_SIZE(many); i++)
			many[i] = (struct tbl_entry){unknown_guid, cert, sizeof(cert)};
		len = make_table(many, KW_ARRAY_SIZE(many), copy, sizeof(copy));
		CU_ASSERT(att_snp_certtable_parse(copy, len, &c) == KW_ERR_TOO_LARGE);
		len = make_table(many, ATT_MAX_CERTTABLE_ENTRIES, copy, sizeof(copy));
		CU_ASSERT(att_snp_certtable_parse(copy, len, &c) == 0);
	}
	CU_ASSERT(att_snp_certtable_parse(buf, ATT_MAX_AUXBLOB + 1, &c) == KW_ERR_TOO_LARGE);
	CU_ASSERT(att_snp_certtable_parse(NULL, 0, &c) == KW_ERR_INVALID_ARG);
}

static void
test_certtable_bitflips(void)
{
	static const uint8_t cert[] = "certificate-bytes";
	struct tbl_entry e[3] = {
		{att_snp_cert_guid(ATT_CERT_VCEK), cert, sizeof(cert)},
		{att_snp_cert_guid(ATT_CERT_ASK), cert, sizeof(cert)},
		{att_snp_cert_guid(ATT_CERT_ARK), cert, sizeof(cert)},
	};
	uint8_t buf[512];
	size_t len = make_table(e, 3, buf, sizeof(buf));

	/* Every single-bit flip: either a clean error, or views that stay inside the buffer. */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct att_snp_certs c;
			int r;

			buf[i] ^= (uint8_t)(1u << bit);
			r = att_snp_certtable_parse(buf, len, &c);
			if (r == 0) {
				for (int k = 0; k < ATT_CERT__N; k++) {
					if (c.c[k].p == NULL)
						continue;
					CU_ASSERT(c.c[k].p >= buf + 4 * 24 &&
					    c.c[k].p + c.c[k].len <= buf + len && c.c[k].len > 0);
				}
			} else {
				CU_ASSERT(r < 0);
			}
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
}

static void
test_tsm_absent(void)
{
	struct att_evidence *ev = NULL;
	uint8_t rd[64] = {0};
	char path[256];

	CU_ASSERT(att_tsm_available("/nonexistent/tsm/report") == 0);
	CU_ASSERT(att_tsm_snp_evidence("/nonexistent/tsm/report", rd, &ev) == KW_ERR_UNAVAILABLE);
	CU_ASSERT(ev == NULL);
	/* a plain directory is not configfs: the entry has no provider attribute */
	snprintf(path, sizeof(path), "%s/tsm", test_tmpdir());
	CU_ASSERT_FATAL(mkdir(path, 0700) == 0);
	CU_ASSERT(att_tsm_available(path) == 1);
	CU_ASSERT(att_tsm_snp_evidence(path, rd, &ev) == KW_ERR_IO && ev == NULL);
	/* the same for TDX quotes and the provider */
	{
		char prov[ATT_TSM_MAX_PROVIDER + 1] = "unchanged";
		uint8_t *q = NULL;
		size_t qlen = 0;

		CU_ASSERT(att_tsm_tdx_quote(path, rd, &q, &qlen) == KW_ERR_IO && q == NULL);
		CU_ASSERT(att_tsm_provider(path, prov) == KW_ERR_IO);
		CU_ASSERT_STRING_EQUAL(prov, "unchanged");
		CU_ASSERT(att_tsm_tdx_quote("/nonexistent/tsm/report", rd, &q, &qlen) == KW_ERR_UNAVAILABLE);
		CU_ASSERT(att_tsm_provider("/nonexistent/tsm/report", prov) == KW_ERR_UNAVAILABLE);
	}
	CU_ASSERT(rmdir(path) == 0); /* and the entries it made were removed again */
}

/* The REPORT_DATA of emulated quotes v4 and v5 (both body types), and every truncation. */
static void
test_tdx_quote_report_data(void)
{
	static const struct { int version, body_type; } kinds[] = { {4, 2}, {5, 2}, {5, 3} };
	struct att_tdx_emu_opts o;
	struct att_tdx_emu *e = NULL;

	att_tdx_emu_opts_default(&o, 1796600000);
	CU_ASSERT_FATAL(att_tdx_emu_new(&o, 0, &e) == 0);
	for (size_t i = 0; i < 64; i++)
		o.report_data[i] = (uint8_t)(0x40 + i);
	for (size_t k = 0; k < KW_ARRAY_SIZE(kinds); k++) {
		uint8_t *q = NULL;
		size_t qlen = 0;
		const uint8_t *rd = NULL;
		json_t *ev = NULL;

		o.version = kinds[k].version;
		o.body_type = kinds[k].body_type;
		CU_ASSERT_FATAL(att_tdx_emu_quote(e, &o, &q, &qlen) == 0);
		CU_ASSERT_EQUAL(att_tdx_quote_report_data(q, qlen, &rd), 0);
		CU_ASSERT(rd != NULL && memcmp(rd, o.report_data, 64) == 0);
		/* every prefix that cuts into the report data fails cleanly */
		for (size_t n = 0; n < (kinds[k].version == 5 ? 54u : 48u) + 584u; n++) {
			const uint8_t *x = NULL;
			int r = att_tdx_quote_report_data(q, n, &x);

			CHECKF(r == KW_ERR_TRUNCATED && x == NULL, "kind %zu prefix %zu", k, n);
		}
		CU_ASSERT_EQUAL(att_tdx_evidence_to_json(q, qlen, &ev), 0);
		CU_ASSERT_EQUAL(json_object_size(ev), 1);
		CU_ASSERT_EQUAL(json_string_length(json_object_get(ev, "quote")), kw_b64url_enclen(qlen));
		json_decref(ev);
		/* an SGX quote (TEE type 0) and an unknown version are refused */
		q[4] = 0;
		CU_ASSERT_EQUAL(att_tdx_quote_report_data(q, qlen, &rd), KW_ERR_UNSUPPORTED);
		q[4] = 0x81;
		q[0] = 3;
		CU_ASSERT_EQUAL(att_tdx_quote_report_data(q, qlen, &rd), KW_ERR_UNSUPPORTED);
		free(q);
	}
	CU_ASSERT_EQUAL(att_tdx_evidence_to_json(NULL, 0, NULL), KW_ERR_INVALID_ARG);
	att_tdx_emu_free(e);
}

/* ------------------------------------------------------------------- JWE */

struct jwe_spec {
	const char *header;   /* JSON text of the protected header */
	const uint8_t *pt;
	size_t pt_len;
	size_t cek_len;       /* 64 normally */
	size_t iv_len;        /* 16 normally */
	size_t tag_len;       /* 32 normally */
	int no_padding;       /* encrypt pt (a multiple of 16) without PKCS#7 */
	EVP_PKEY *to;
};

static char *
b64(const void *p, size_t n)
{
	char *s = NULL;

	CU_ASSERT_FATAL(kw_b64url_encode(p, n, &s) == 0);
	return s;
}

/* The encrypt side, written from RFC 7516/7518 independently of att_jwe.c. */
static char *
make_jwe(const struct jwe_spec *sp)
{
	uint8_t cek[64], iv[16], ek[1024], ct[4096], md[64], al[8];
	size_t ek_len = sizeof(ek), hlen;
	int n1 = 0, n2 = 0;
	EVP_PKEY_CTX *pc;
	EVP_CIPHER_CTX *cc;
	char *h, *e, *i, *c, *t, *out;
	uint64_t bits;
	EVP_MAC *mac;
	EVP_MAC_CTX *mc;
	OSSL_PARAM params[2];
	char digest[] = "SHA512";
	size_t mlen = 0;

	CU_ASSERT_FATAL(RAND_bytes(cek, sizeof(cek)) == 1 && RAND_bytes(iv, sizeof(iv)) == 1);
	pc = EVP_PKEY_CTX_new_from_pkey(NULL, sp->to, NULL);
	CU_ASSERT_FATAL(pc != NULL && EVP_PKEY_encrypt_init(pc) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_rsa_oaep_md_name(pc, "SHA1", NULL) == 1 &&
	    EVP_PKEY_encrypt(pc, ek, &ek_len, cek, sp->cek_len) == 1);
	EVP_PKEY_CTX_free(pc);

	cc = EVP_CIPHER_CTX_new();
	CU_ASSERT_FATAL(cc != NULL && EVP_EncryptInit_ex2(cc, EVP_aes_256_cbc(), cek + 32, iv, NULL) == 1);
	if (sp->no_padding)
		EVP_CIPHER_CTX_set_padding(cc, 0);
	CU_ASSERT_FATAL(sp->pt_len + 16 <= sizeof(ct));
	CU_ASSERT_FATAL(EVP_EncryptUpdate(cc, ct, &n1, sp->pt, (int)sp->pt_len) == 1 &&
	    EVP_EncryptFinal_ex(cc, ct + n1, &n2) == 1);
	EVP_CIPHER_CTX_free(cc);

	h = b64(sp->header, strlen(sp->header));
	hlen = strlen(h);
	bits = (uint64_t)hlen * 8;
	for (int k = 0; k < 8; k++)
		al[k] = (uint8_t)(bits >> (56 - 8 * k));
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	mc = EVP_MAC_CTX_new(mac);
	CU_ASSERT_FATAL(mc != NULL && EVP_MAC_init(mc, cek, 32, params) == 1 &&
	    EVP_MAC_update(mc, (const uint8_t *)h, hlen) == 1 &&
	    EVP_MAC_update(mc, iv, sizeof(iv)) == 1 &&
	    EVP_MAC_update(mc, ct, (size_t)(n1 + n2)) == 1 &&
	    EVP_MAC_update(mc, al, sizeof(al)) == 1 &&
	    EVP_MAC_final(mc, md, &mlen, sizeof(md)) == 1 && mlen == 64);
	EVP_MAC_CTX_free(mc);
	EVP_MAC_free(mac);

	e = b64(ek, ek_len);
	i = b64(iv, sp->iv_len);
	c = b64(ct, (size_t)(n1 + n2));
	t = b64(md, sp->tag_len);
	CU_ASSERT_FATAL(asprintf(&out, "%s.%s.%s.%s.%s", h, e, i, c, t) > 0);
	free(h);
	free(e);
	free(i);
	free(c);
	free(t);
	return out;
}

static const char hdr_ok[] = "{\"alg\":\"RSA-OAEP\",\"enc\":\"A256CBC-HS512\",\"kid\":\"demo/key/one#1\"}";
static const uint8_t secret32[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static struct jwe_spec
spec_ok(void)
{
	struct jwe_spec s = {hdr_ok, secret32, sizeof(secret32), 64, 16, 32, 0, rsa_key};

	return s;
}

static int
try_decrypt(const char *jwe, size_t len, EVP_PKEY *k, struct kw_secret **pt)
{
	*pt = NULL;
	return att_jwe_decrypt(jwe, len, k, pt, NULL);
}

static void
test_jwe_good(void)
{
	struct jwe_spec sp = spec_ok();
	struct kw_secret *pt = NULL;
	char *kid = NULL, *jwe = make_jwe(&sp);
	static const uint8_t odd[] = "a password of 27 characters";

	CU_ASSERT_FATAL(att_jwe_decrypt(jwe, strlen(jwe), rsa_key, &pt, &kid) == 0);
	CU_ASSERT(kw_secret_len(pt) == 32 && memcmp(kw_secret_cptr(pt), secret32, 32) == 0);
	CU_ASSERT(kid != NULL && strcmp(kid, "demo/key/one#1") == 0);
	kw_secret_free(pt);
	free(kid);
	free(jwe);

	/* no kid; an odd-length secret (PKCS#7 stripped) */
	sp.header = "{\"enc\":\"A256CBC-HS512\",\"alg\":\"RSA-OAEP\"}";
	sp.pt = odd;
	sp.pt_len = sizeof(odd) - 1;
	jwe = make_jwe(&sp);
	kid = (char *)1;
	CU_ASSERT_FATAL(att_jwe_decrypt(jwe, strlen(jwe), rsa_key, &pt, &kid) == 0);
	CU_ASSERT(kid == NULL);
	CU_ASSERT(kw_secret_len(pt) == sp.pt_len && memcmp(kw_secret_cptr(pt), odd, sp.pt_len) == 0);
	kw_secret_free(pt);
	free(jwe);
}

static void
test_jwe_rejects(void)
{
	struct jwe_spec sp;
	struct kw_secret *pt;
	char *jwe, *x;
	static const uint8_t block[16] = {0}; /* last byte 0: invalid PKCS#7 */

	/* wrong key */
	sp = spec_ok();
	jwe = make_jwe(&sp);
	CU_ASSERT(try_decrypt(jwe, strlen(jwe), rsa_other, &pt) == KW_ERR_SIG_INVALID && pt == NULL);
	/* the JWE text must be the whole length given */
	CU_ASSERT(try_decrypt(jwe, strlen(jwe) + 1, rsa_key, &pt) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(att_jwe_decrypt(jwe, strlen(jwe), NULL, &pt, NULL) == KW_ERR_INVALID_ARG);
	{
		EVP_PKEY *ec = EVP_EC_gen("P-256");

		CU_ASSERT(att_jwe_decrypt(jwe, strlen(jwe), ec, &pt, NULL) == KW_ERR_INVALID_ARG);
		EVP_PKEY_free(ec);
	}
	/* six parts, four parts, an empty part */
	CU_ASSERT_FATAL(asprintf(&x, "%s.AAAA", jwe) > 0);
	CU_ASSERT(try_decrypt(x, strlen(x), rsa_key, &pt) == KW_ERR_INVALID_FORMAT);
	free(x);
	*strrchr(jwe, '.') = '\0';
	CU_ASSERT(try_decrypt(jwe, strlen(jwe), rsa_key, &pt) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT(try_decrypt("a..b.c.d", 8, rsa_key, &pt) == KW_ERR_INVALID_FORMAT);
	free(jwe);

	/* headers */
	sp = spec_ok();
	sp.header = "{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256CBC-HS512\"}";
	jwe = make_jwe(&sp);
	CU_ASSERT(try_decrypt(jwe, strlen(jwe), rsa_key, &pt) == KW_ERR_UNSUPPORTED);
	free(jwe);
	sp.header = "{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\"}";
	jwe = make_jwe(&sp);
	CU_ASSERT(try_decrypt(jwe, strlen(jwe), rsa_key, &pt) == KW_ERR_UNSUPPORTED);
	free(jwe);
	sp.header = "{\"alg\":\"RSA-OAEP\",\"enc\":\"A256CBC-HS512\",\"zip\":\"DEF\"}";
	jwe = make_jwe(&sp);
	CU_ASSERT(try_decrypt(jwe, strlen(jwe), rsa_key, &pt) == KW_ERR_INVALID_FORMAT);
	free(jwe);
	sp.header = "{\"alg\":\"RSA-OAEP\"}";
	jwe = make_jwe(&sp);
	CU_ASSERT(try_decrypt(jwe, strlen(jwe), rsa_key, &pt) == KW_ERR_INVALID_FORMAT);
	free(jwe);
	sp.header = "{\"alg\":\"RSA-OAEP\",\"enc\":\"A256CBC-HS512\",\"kid\":7}";
	jwe = make_jwe(&sp);
	CU_ASSERT(try_decrypt(jwe, strlen(jwe), rsa_key, &pt) == KW_ERR_INVALID_FORMAT);
	free(jwe);
	sp.header = "{\"alg\":\"RSA-OAEP\",\"alg\":\"RSA-OAEP\",\"enc\":\"A256CBC-HS512\"}";
	jwe = make_jwe(&sp);
	CU_ASSERT(try_decrypt(jwe, strlen(jwe), rsa_key, &pt) == KW_ERR_INVALID_FORMAT);
	free(jwe);

	/* sizes: CEK 32 bytes, IV 12, tag 16 */
	sp = spec_ok();
	sp.cek_len = 32;
	jwe = make_jwe(&sp);
	CU_ASSERT(try_decrypt(jwe, strlen(jwe), rsa_key, &pt) == KW_ERR_SIG_INVALID);
	free(jwe);
	sp = spec_ok();
	sp.iv_len = 12;
	jwe = make_jwe(&sp);
	CU_ASSERT(try_decrypt(jwe, strlen(jwe), rsa_key, &pt) == KW_ERR_INVALID_FORMAT);
	free(jwe);
	sp = spec_ok();
	sp.tag_len = 16;
	jwe = make_jwe(&sp);
	CU_ASSERT(try_decrypt(jwe, strlen(jwe), rsa_key, &pt) == KW_ERR_INVALID_FORMAT);
	free(jwe);
	/* authentic, but badly padded */
	sp = spec_ok();
	sp.pt = block;
	sp.pt_len = sizeof(block);
	sp.no_padding = 1;
	jwe = make_jwe(&sp);
	CU_ASSERT(try_decrypt(jwe, strlen(jwe), rsa_key, &pt) == KW_ERR_INVALID_FORMAT && pt == NULL);
	free(jwe);
	/* too large */
	CU_ASSERT(try_decrypt("x", ATT_MAX_JWE + 1, rsa_key, &pt) == KW_ERR_TOO_LARGE);
}

static void
test_jwe_truncation_sweep(void)
{
	struct jwe_spec sp = spec_ok();
	struct kw_secret *pt;
	char *jwe = make_jwe(&sp);
	size_t len = strlen(jwe);

	for (size_t n = 0; n < len; n++) {
		char *cut = strndup(jwe, n);

		CU_ASSERT_FATAL(cut != NULL);
		CU_ASSERT(try_decrypt(cut, n, rsa_key, &pt) < 0);
		CU_ASSERT(pt == NULL);
		free(cut);
	}
	/* and dropping any one character */
	for (size_t n = 0; n < len; n++) {
		char *cut = strdup(jwe);

		CU_ASSERT_FATAL(cut != NULL);
		memmove(cut + n, cut + n + 1, len - n);
		CU_ASSERT(try_decrypt(cut, len - 1, rsa_key, &pt) < 0);
		free(cut);
	}
	free(jwe);
}

static void
test_jwe_bitflip_sweep(void)
{
	struct jwe_spec sp = spec_ok();
	struct kw_secret *pt;
	char *jwe = make_jwe(&sp);
	size_t len = strlen(jwe);
	int parts_hit[5] = {0};

	/* One bit per position (bit chosen by position), in every part and every dot. */
	for (size_t i = 0, part = 0; i < len; i++) {
		char saved = jwe[i];

		if (saved == '.')
			part++;
		jwe[i] = (char)(saved ^ (1 << (i % 7)));
		CU_ASSERT(try_decrypt(jwe, len, rsa_key, &pt) < 0);
		CU_ASSERT(pt == NULL);
		jwe[i] = saved;
		parts_hit[part]++;
	}
	for (int k = 0; k < 5; k++)
		CU_ASSERT(parts_hit[k] > 0);
	/* the unmodified JWE still decrypts */
	CU_ASSERT(try_decrypt(jwe, len, rsa_key, &pt) == 0);
	kw_secret_free(pt);
	free(jwe);
}

/* ----------------------------------------------------------------- main */

static int
suite_init(void)
{
	rsa_key = EVP_RSA_gen(3072);
	rsa_other = EVP_RSA_gen(3072);
	return rsa_key != NULL && rsa_other != NULL ? 0 : -1;
}

static int
suite_clean(void)
{
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(rsa_other);
	return 0;
}

/* ------------------------------------------------------------------ DPoP */

/* A compact JWS with the given payload JSON, signed by k (for att_token_times). */
static char *
signed_token(EVP_PKEY *k, const char *payload)
{
	json_t *h = json_pack("{s:s, s:s}", "alg", "ES256", "typ", "JWT"), *p = NULL;
	uint8_t sig[KW_ES256_SIG_LEN];
	char *si = NULL, *tok = NULL;
	size_t n = 0;

	CU_ASSERT_EQUAL_FATAL(kw_json_parse(payload, strlen(payload), 4096, &p), 0);
	CU_ASSERT_EQUAL_FATAL(kw_jws_signing_input(h, p, &si, &n), 0);
	CU_ASSERT_EQUAL_FATAL(kw_es256_sign(k, si, n, sig), 0);
	CU_ASSERT_EQUAL_FATAL(kw_jws_compact(si, sig, sizeof(sig), &tok), 0);
	free(si);
	json_decref(h);
	json_decref(p);
	return tok;
}

static void
test_dpop_proof(void)
{
	static const char *const allowed[] = {"typ", "jwk", NULL};
	static const char url[] = "https://127.0.0.1:8443/kbs/v0/resource/demo/key/one";
	struct att_keys *keys = NULL;
	struct kw_jws *j = NULL;
	EVP_PKEY *emb = NULL;
	char *proof = NULL, *proof2 = NULL, *tok, ath[44];
	const char *k;
	json_t *v, *mine = NULL;
	char tp1[44], tp2[44];
	int64_t iat = 0;
	size_t i = 0;

	CU_ASSERT_EQUAL_FATAL(att_keys_generate(&keys), 0);
	tok = signed_token(keys->sig, "{\"iat\":1000,\"exp\":1300}");
	CU_ASSERT_EQUAL_FATAL(att_dpop_proof(keys->sig, "GET", url, tok, "srv-nonce_1", 1767225600, &proof), 0);
	CU_ASSERT_EQUAL_FATAL(kw_jws_parse(proof, strlen(proof), KW_JWS_MAX, &j), 0);
	CU_ASSERT_EQUAL(kw_jws_check_header(j, "ES256", allowed), 0);
	/* header: exactly typ, alg, jwk in that order; jwk is the public tee-sigkey only */
	json_object_foreach(j->header, k, v) {
		static const char *const order[] = {"typ", "alg", "jwk"};

		CU_ASSERT_FATAL(i < 3);
		CU_ASSERT_STRING_EQUAL(k, order[i]);
		i++;
	}
	CU_ASSERT_EQUAL(i, 3);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j->header, "typ")), "dpop+jwt");
	v = json_object_get(j->header, "jwk");
	CU_ASSERT_EQUAL(json_object_size(v), 4);
	CU_ASSERT_PTR_NULL(json_object_get(v, "d"));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v, "kty")), "EC");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(v, "crv")), "P-256");
	CU_ASSERT_EQUAL_FATAL(kw_jwk_import_public(v, &emb), 0);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(emb, keys->sig), 1);
	CU_ASSERT_EQUAL(kw_jwk_export_public(keys->sig, &mine), 0);
	CU_ASSERT_EQUAL(kw_jwk_thumbprint(mine, tp1), 0);
	CU_ASSERT_EQUAL(kw_jwk_thumbprint(v, tp2), 0);
	CU_ASSERT_STRING_EQUAL(tp1, tp2);
	CU_ASSERT_EQUAL(kw_jws_verify_es256(j, emb), 0);
	/* payload: htm, htu, iat, jti, ath, nonce in that order */
	i = 0;
	json_object_foreach(j->payload, k, v) {
		static const char *const order[] = {"htm", "htu", "iat", "jti", "ath", "nonce"};

		CU_ASSERT_FATAL(i < 6);
		CU_ASSERT_STRING_EQUAL(k, order[i]);
		i++;
	}
	CU_ASSERT_EQUAL(i, 6);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j->payload, "htm")), "GET");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j->payload, "htu")), url);
	CU_ASSERT_EQUAL(kw_json_get_int(j->payload, "iat", &iat), 0);
	CU_ASSERT_EQUAL(iat, 1767225600);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j->payload, "nonce")), "srv-nonce_1");
	CU_ASSERT_EQUAL(kw_jose_ath(tok, strlen(tok), ath), 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j->payload, "ath")), ath);
	CU_ASSERT_EQUAL(json_string_length(json_object_get(j->payload, "jti")), 22); /* 16 bytes */
	/* a second proof: new jti, no nonce member when none is known */
	CU_ASSERT_EQUAL_FATAL(att_dpop_proof(keys->sig, "GET", url, tok, NULL, 1767225601, &proof2), 0);
	{
		struct kw_jws *j2 = NULL;

		CU_ASSERT_EQUAL_FATAL(kw_jws_parse(proof2, strlen(proof2), KW_JWS_MAX, &j2), 0);
		CU_ASSERT_PTR_NULL(json_object_get(j2->payload, "nonce"));
		CU_ASSERT_EQUAL(json_object_size(j2->payload), 5);
		CU_ASSERT_STRING_NOT_EQUAL(json_string_value(json_object_get(j2->payload, "jti")),
		    json_string_value(json_object_get(j->payload, "jti")));
		CU_ASSERT_EQUAL(kw_jws_verify_es256(j2, emb), 0);
		kw_jws_free(j2);
	}
	/* refused: URL with query or fragment, bad nonce, RSA key, missing inputs */
	free(proof2);
	proof2 = (char *)&proof2;
	CU_ASSERT_EQUAL(att_dpop_proof(keys->sig, "GET", "https://x/a?b=1", tok, NULL, 1, &proof2), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(att_dpop_proof(keys->sig, "GET", "https://x/a#f", tok, NULL, 1, &proof2), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(att_dpop_proof(keys->sig, "GET", url, tok, "a\"b", 1, &proof2), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(att_dpop_proof(keys->sig, "GET", url, tok, "", 1, &proof2), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(att_dpop_proof(keys->enc, "GET", url, tok, NULL, 1, &proof2), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(att_dpop_proof(keys->sig, "", url, tok, NULL, 1, &proof2), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(att_dpop_proof(keys->sig, "GET", url, NULL, NULL, 1, &proof2), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(att_dpop_proof(keys->sig, "GET", url, tok, NULL, 0, &proof2), KW_ERR_INVALID_ARG);
	CU_ASSERT_PTR_EQUAL(proof2, (char *)&proof2);
	json_decref(mine);
	EVP_PKEY_free(emb);
	kw_jws_free(j);
	free(proof);
	free(tok);
	att_keys_free(keys);
}

static void
test_dpop_nonce_and_challenge(void)
{
	static const struct {
		const char *v;
		int want;
	} cases[] = {
		{"DPoP error=\"use_dpop_nonce\"", 1},
		{"DPoP error=use_dpop_nonce", 1},
		{"dpop ERROR = \"use_dpop_nonce\" , error_description=\"Resource server requires nonce\"", 1},
		{"DPoP algs=\"ES256\", error=\"use_dpop_nonce\", error_description=\"a, b\"", 1},
		{"Bearer realm=\"x\", DPoP error=\"use_dpop_nonce\"", 1},
		{"Basic abc==, DPoP error=\"use_dpop_nonce\"", 1},
		{"DPoP error=\"use_\\dpop_nonce\"", 1}, /* quoted-pair */
		{"DPoP error=\"invalid_token\"", 0},
		{"DPoP error=\"invalid_dpop_proof\"", 0},
		{"Bearer error=\"use_dpop_nonce\"", 0},
		{"DPoP error_description=\"use_dpop_nonce\"", 0},
		{"DPoP xerror=\"use_dpop_nonce\"", 0},
		{"DPoP error=\"use_dpop_nonce_\"", 0},
		{"DPoP error=\"use_dpop_nonc\"", 0},
		{"DPoP error=\"use_dpop_nonce", 0},
		{"DPoPx error=\"use_dpop_nonce\"", 0},
		{"DPoP error=\"use_dpop_nonce\"x", 0},
		{"", 0},
		{"DPoP", 0},
	};
	static const char *const good[] = {"a", "n-1", "!#$%&'()*+,-./0123456789:;<=>?@[]^_`{|}~"};
	static const char *const bad[] = {"", " a", "a b", "a\"", "a\\b", "\x7f", "\xc3\xa9"};
	char big[ATT_MAX_DPOP_NONCE + 2];

	for (size_t i = 0; i < KW_ARRAY_SIZE(cases); i++) {
		int got = att_www_auth_use_dpop_nonce(cases[i].v, strlen(cases[i].v));

		if (got != cases[i].want)
			fprintf(stderr, "challenge case %zu: '%s' -> %d\n", i, cases[i].v, got);
		CU_ASSERT_EQUAL(got, cases[i].want);
	}
	/* every prefix of the good challenge is refused but the full one */
	{
		const char *v = cases[0].v;

		for (size_t n = 0; n < strlen(v); n++)
			CU_ASSERT_EQUAL(att_www_auth_use_dpop_nonce(v, n), 0);
	}
	for (size_t i = 0; i < KW_ARRAY_SIZE(good); i++)
		CU_ASSERT_EQUAL(att_dpop_nonce_valid(good[i], strlen(good[i])), 1);
	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++)
		CU_ASSERT_EQUAL(att_dpop_nonce_valid(bad[i], strlen(bad[i])), 0);
	memset(big, 'n', sizeof(big));
	CU_ASSERT_EQUAL(att_dpop_nonce_valid(big, ATT_MAX_DPOP_NONCE), 1);
	CU_ASSERT_EQUAL(att_dpop_nonce_valid(big, ATT_MAX_DPOP_NONCE + 1), 0);
}

static void
test_token_times(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	int64_t iat = 7, exp = 7;
	char *t;

	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	t = signed_token(k, "{\"iat\":1767225600,\"exp\":1767225900,\"cnf\":{\"jkt\":\"x\"}}");
	CU_ASSERT_EQUAL(att_token_times(t, strlen(t), &iat, &exp), 0);
	CU_ASSERT_EQUAL(iat, 1767225600);
	CU_ASSERT_EQUAL(exp - iat, 300);
	/* every prefix that cuts into the header or the payload fails (the
	 * signature is not checked client-side, so cutting it may not) */
	for (size_t n = 0; n <= (size_t)(strrchr(t, '.') - t); n++) {
		int64_t a = 7, b = 7;

		if (att_token_times(t, n, &a, &b) == 0)
			CU_FAIL("a truncated token gave times");
		CU_ASSERT(a == 7 && b == 7);
	}
	free(t);
	{
		static const char *const bad[] = {"{\"iat\":1000}", "{\"exp\":1000}",
			"{\"iat\":1000,\"exp\":1000}", "{\"iat\":1000,\"exp\":999}",
			"{\"iat\":\"1000\",\"exp\":1300}", "{\"iat\":1000.0,\"exp\":1300}", "{\"iat\":0,\"exp\":1}"};

		for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
			t = signed_token(k, bad[i]);
			CU_ASSERT_EQUAL(att_token_times(t, strlen(t), &iat, &exp), KW_ERR_INVALID_FORMAT);
			free(t);
		}
	}
	CU_ASSERT_EQUAL(att_token_times("a.b.c", ATT_MAX_TOKEN + 1, &iat, &exp), KW_ERR_TOO_LARGE);
	EVP_PKEY_free(k);
}

/* ------------------------------------------------------ outputs, retries */

/* att_key_encode against OpenSSL's base64 and a plain hex loop, for every length 1..70. */
static void
test_key_encode(void)
{
	uint8_t k[256];
	char want[520];   /* 512 hex digits and the NUL snprintf writes */
	struct kw_secret *s = NULL;

	for (size_t i = 0; i < sizeof(k); i++)
		k[i] = (uint8_t)i;           /* every byte value: every hex digit, every base64 sextet */
	CU_ASSERT_EQUAL_FATAL(att_key_encode(ATT_KEY_HEX, k, sizeof(k), &s), 0);
	for (size_t i = 0; i < sizeof(k); i++)
		snprintf(want + 2 * i, 3, "%02x", k[i]);
	CU_ASSERT_EQUAL(kw_secret_len(s), 512);
	CU_ASSERT(memcmp(kw_secret_cptr(s), want, 512) == 0);
	kw_secret_free(s);
	s = NULL;
	CU_ASSERT_EQUAL_FATAL(att_key_encode(ATT_KEY_BASE64, k, 192, &s), 0);
	CU_ASSERT_EQUAL(EVP_EncodeBlock((unsigned char *)want, k, 192), 256);
	CU_ASSERT_EQUAL(kw_secret_len(s), 256);
	CU_ASSERT(memcmp(kw_secret_cptr(s), want, 256) == 0);
	kw_secret_free(s);
	for (size_t n = 1; n <= 70; n++) {
		uint8_t r[70];
		int wl;

		CU_ASSERT_EQUAL_FATAL(RAND_bytes(r, (int)n), 1);
		s = NULL;
		CU_ASSERT_EQUAL_FATAL(att_key_encode(ATT_KEY_BASE64, r, n, &s), 0);
		wl = EVP_EncodeBlock((unsigned char *)want, r, (int)n);
		CU_ASSERT_EQUAL(kw_secret_len(s), (size_t)wl);
		CU_ASSERT(memcmp(kw_secret_cptr(s), want, (size_t)wl) == 0);
		kw_secret_free(s);
		s = NULL;
		CU_ASSERT_EQUAL_FATAL(att_key_encode(ATT_KEY_RAW, r, n, &s), 0);
		CU_ASSERT(kw_secret_len(s) == n && memcmp(kw_secret_cptr(s), r, n) == 0);
		kw_secret_free(s);
	}
	s = NULL;
	CU_ASSERT_EQUAL(att_key_encode(ATT_KEY_HEX, k, 0, &s), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(att_key_encode(ATT_KEY_HEX, NULL, 1, &s), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(att_key_encode(ATT_KEY_RAW, k, ATT_MAX_PLAINTEXT + 1, &s), KW_ERR_INVALID_ARG);
	CU_ASSERT_PTR_NULL(s);
}

static void
test_retry_after(void)
{
	static const struct {
		const char *v;
		int64_t want;
	} cases[] = {
		{"0", 0}, {"1", 1}, {"120", 120}, {"0007", 7}, {"86400", 86400}, {"86401", 86400},
		{"99999999999999999999999", 86400},
		/* 1767225600 is Thu, 01 Jan 2026 00:00:00 GMT */
		{"Thu, 01 Jan 2026 00:00:10 GMT", 10}, {"Thu, 01 Jan 2026 00:00:00 GMT", 0},
		{"Wed, 31 Dec 2025 23:00:00 GMT", 0}, {"Sat, 03 Jan 2026 00:00:00 GMT", 86400},
		{"", -1}, {"1.5", -1}, {"-1", -1}, {"1 ", -1}, {"+1", -1}, {"soon", -1},
		{"Thu, 01 Jan 2026 00:00:10", -1}, {"Thu, 01 Jan 2026 00:00:10 GMT x", -1},
		{"Thu, 32 Jan 2026 00:00:10 GMT", -1}, {"2026-01-01T00:00:10Z", -1},
	};

	for (size_t i = 0; i < KW_ARRAY_SIZE(cases); i++) {
		int64_t got = kwa_retry_after_parse(cases[i].v, strlen(cases[i].v), 1767225600);

		if (got != cases[i].want)
			fprintf(stderr, "Retry-After '%s': %lld, want %lld\n", cases[i].v, (long long)got,
			    (long long)cases[i].want);
		CU_ASSERT_EQUAL(got, cases[i].want);
	}
	/* a value longer than any valid one */
	CU_ASSERT_EQUAL(kwa_retry_after_parse("1111111111111111111111111111111111111111111111111111111111111111111", 67,
	    1767225600), -1);
}

int
main(void)
{
	CU_pSuite s;
	const char *conf;

	/* before OpenSSL is first used: see test_manifest.c (test_tls_defaults) */
	if ((conf = manifest_tests_env()) == NULL || setenv("OPENSSL_CONF", conf, 1) != 0)
		return 2;
	if (test_begin() != 0)
		return 2;
	if ((s = CU_add_suite("attester", suite_init, suite_clean)) == NULL ||
	    TEST_ADD(s, test_report_data_fixed) || TEST_ADD(s, test_runtime_data_build) ||
	    TEST_ADD(s, test_emu_report_build) || TEST_ADD(s, test_emu_evidence) ||
	    TEST_ADD(s, test_mk_emu_chain_refuses) || TEST_ADD(s, test_certtable_guids) ||
	    TEST_ADD(s, test_certtable_good) || TEST_ADD(s, test_certtable_bad) ||
	    TEST_ADD(s, test_certtable_bitflips) || TEST_ADD(s, test_tsm_absent) ||
	    TEST_ADD(s, test_tdx_quote_report_data) ||
	    TEST_ADD(s, test_jwe_good) || TEST_ADD(s, test_jwe_rejects) ||
	    TEST_ADD(s, test_jwe_truncation_sweep) || TEST_ADD(s, test_jwe_bitflip_sweep) ||
	    TEST_ADD(s, test_dpop_proof) || TEST_ADD(s, test_dpop_nonce_and_challenge) ||
	    TEST_ADD(s, test_token_times) || TEST_ADD(s, test_key_encode) ||
	    TEST_ADD(s, test_retry_after) || manifest_tests_add() != 0)
		return test_end(-1);
	return test_end(0);
}
