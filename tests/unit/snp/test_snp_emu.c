/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP verifier against chains generated here: an RSA ARK (self-signed,
 * RSASSA-PSS SHA-384), an ASK or ASVK, and an EC P-384 VCEK/VLEK with the
 * AMD extensions, signing synthetic reports. Covers the test-root rule and
 * the checks real vectors cannot reach (TCB and hwID mismatch, Turin layout,
 * VLEK through an ASK, wrong curve, expiry).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kw_util.h"
#include "snp.h"
#include "test_snp.h"

#define NOW 1795824000LL   /* 2026-11-28T00:00:00Z */
#define DAY 86400LL

static EVP_PKEY *ark_key, *ask_key;   /* generated once (RSA keygen is slow) */

struct emu_opts {
	const char *ark_cn, *ask_cn, *leaf_cn, *product_name;
	int vlek;               /* report SIGNER_INFO says VLEK */
	int leaf_p256;          /* wrong curve */
	int hwid_len;           /* 64, 8 (Turin) or 0 (none) */
	int hwid_wrapped;       /* hwID as an OCTET STRING inside the extension (newer encoding) */
	int flip_hwid;          /* certificate hwID != CHIP_ID */
	int turin;              /* Turin TCB layout and FMC extension */
	struct snp_tcb cert_tcb, rep_tcb;
	int64_t leaf_nb, leaf_na;
	uint64_t policy;
};

struct emu {
	X509 *ark, *ask, *leaf;
	EVP_PKEY *leaf_key;
	uint8_t report[SNP_REPORT_SIZE];
	uint8_t *der[3];
	size_t len[3];
};

static void
emu_free(struct emu *e)
{
	X509_free(e->ark);
	X509_free(e->ask);
	X509_free(e->leaf);
	EVP_PKEY_free(e->leaf_key);
	for (int i = 0; i < 3; i++)
		OPENSSL_free(e->der[i]);
	memset(e, 0, sizeof(*e));
}

static void
add_ext(X509 *x, const char *oid, const uint8_t *val, size_t len)
{
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e;

	CU_ASSERT_FATAL(o != NULL && os != NULL && ASN1_OCTET_STRING_set(os, val, (int)len) == 1);
	e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, os);
	CU_ASSERT_FATAL(e != NULL && X509_add_ext(x, e, -1) == 1);
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(o);
}

static void
add_spl(X509 *x, const char *oid, uint8_t v)
{
	uint8_t der[4] = { 0x02, 0x01, v, 0 };

	if (v >= 0x80) {   /* positive INTEGER needs a leading zero byte */
		der[1] = 2;
		der[2] = 0;
		der[3] = v;
	}
	add_ext(x, oid, der, v >= 0x80 ? 4 : 3);
}

static void
add_v3(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	CU_ASSERT_FATAL(e != NULL && X509_add_ext(x, e, -1) == 1);
	X509_EXTENSION_free(e);
}

static X509 *
mk_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int ca, int64_t nb, int64_t na)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	CU_ASSERT_FATAL(x != NULL && n != NULL && md != NULL);
	CU_ASSERT_FATAL(X509_set_version(x, 2) == 1);
	CU_ASSERT_FATAL(ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 0x10001 : 0) == 1);
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
	    (const unsigned char *)"keywarden test (NOT AMD)", -1, -1, 0) == 1);
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) == 1);
	CU_ASSERT_FATAL(X509_set_subject_name(x, n) == 1);
	CU_ASSERT_FATAL(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n) == 1);
	CU_ASSERT_FATAL(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) != NULL);
	CU_ASSERT_FATAL(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) != NULL);
	CU_ASSERT_FATAL(X509_set_pubkey(x, key) == 1);
	if (ca) {
		add_v3(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
		add_v3(x, issuer ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign");
	}
	/* RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48: like AMD's certificates. */
	CU_ASSERT_FATAL(EVP_DigestSignInit(md, &pctx, EVP_sha384(), NULL, issuer_key) == 1);
	CU_ASSERT_FATAL(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
	CU_ASSERT_FATAL(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1);
	CU_ASSERT_FATAL(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1);
	CU_ASSERT_FATAL(X509_sign_ctx(x, md) > 0);
	EVP_MD_CTX_free(md);
	X509_NAME_free(n);
	return x;
}

static void
put_le(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
tcb_raw(const struct snp_tcb *t, int turin)
{
	if (turin)
		return (uint64_t)t->fmc | (uint64_t)t->bl << 8 | (uint64_t)t->tee << 16 | (uint64_t)t->snp << 24 |
		    (uint64_t)t->ucode << 56;
	return (uint64_t)t->bl | (uint64_t)t->tee << 8 | (uint64_t)t->snp << 48 | (uint64_t)t->ucode << 56;
}

static void
sign_report(struct emu *e)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t der[160];
	size_t derlen = sizeof(der);
	const unsigned char *p = der;
	ECDSA_SIG *sig;

	CU_ASSERT_FATAL(EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, e->leaf_key) == 1);
	CU_ASSERT_FATAL(EVP_DigestSign(md, der, &derlen, e->report, SNP_REPORT_SIGNED_LEN) == 1);
	CU_ASSERT_FATAL((sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) != NULL);
	memset(e->report + SNP_REPORT_SIG_OFFSET, 0, SNP_REPORT_SIZE - SNP_REPORT_SIG_OFFSET);
	CU_ASSERT_FATAL(BN_bn2lebinpad(ECDSA_SIG_get0_r(sig), e->report + 0x2A0, 72) == 72);
	CU_ASSERT_FATAL(BN_bn2lebinpad(ECDSA_SIG_get0_s(sig), e->report + 0x2E8, 72) == 72);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
}

static void
emu_build(const struct emu_opts *o, struct emu *e)
{
	uint8_t chip[64], hw[66], name[32];
	size_t nlen;

	memset(e, 0, sizeof(*e));
	for (int i = 0; i < 64; i++)
		chip[i] = (uint8_t)(0xc0 + i);
	e->ark = mk_cert(ark_key, o->ark_cn, NULL, ark_key, 1, NOW - 3650 * DAY, NOW + 3650 * DAY);
	e->ask = mk_cert(ask_key, o->ask_cn, e->ark, ark_key, 1, NOW - 3650 * DAY, NOW + 3650 * DAY);
	e->leaf_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", o->leaf_p256 ? "P-256" : "P-384");
	CU_ASSERT_FATAL(e->leaf_key != NULL);
	e->leaf = mk_cert(e->leaf_key, o->leaf_cn, e->ask, ask_key, 0, o->leaf_nb, o->leaf_na);

	/* AMD extensions (1.3.6.1.4.1.3704.1.*) as KDS issues them. */
	add_ext(e->leaf, "1.3.6.1.4.1.3704.1.1", (const uint8_t *)"\x02\x01\x00", 3);
	nlen = strlen(o->product_name);
	name[0] = 0x16;   /* IA5String */
	name[1] = (uint8_t)nlen;
	memcpy(name + 2, o->product_name, nlen);
	add_ext(e->leaf, "1.3.6.1.4.1.3704.1.2", name, nlen + 2);
	if (o->turin)
		add_spl(e->leaf, "1.3.6.1.4.1.3704.1.3.9", o->cert_tcb.fmc);
	add_spl(e->leaf, "1.3.6.1.4.1.3704.1.3.1", o->cert_tcb.bl);
	add_spl(e->leaf, "1.3.6.1.4.1.3704.1.3.2", o->cert_tcb.tee);
	add_spl(e->leaf, "1.3.6.1.4.1.3704.1.3.3", o->cert_tcb.snp);
	add_spl(e->leaf, "1.3.6.1.4.1.3704.1.3.8", o->cert_tcb.ucode);
	if (o->hwid_len > 0) {
		size_t n = (size_t)o->hwid_len;

		if (o->hwid_wrapped) {
			hw[0] = 0x04;
			hw[1] = (uint8_t)n;
			memcpy(hw + 2, chip, n);
			hw[2] ^= (uint8_t)(o->flip_hwid ? 1 : 0);
			add_ext(e->leaf, "1.3.6.1.4.1.3704.1.4", hw, n + 2);
		} else {
			memcpy(hw, chip, n);
			hw[0] ^= (uint8_t)(o->flip_hwid ? 1 : 0);
			add_ext(e->leaf, "1.3.6.1.4.1.3704.1.4", hw, n);
		}
	}
	/* Re-sign the leaf after adding extensions. */
	{
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pctx = NULL;

		CU_ASSERT_FATAL(EVP_DigestSignInit(md, &pctx, EVP_sha384(), NULL, ask_key) == 1);
		CU_ASSERT_FATAL(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
		CU_ASSERT_FATAL(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1);
		CU_ASSERT_FATAL(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1);
		CU_ASSERT_FATAL(X509_sign_ctx(e->leaf, md) > 0);
		EVP_MD_CTX_free(md);
	}

	memset(e->report, 0, sizeof(e->report));
	put_le(e->report + 0x000, 3, 4);
	put_le(e->report + 0x004, 7, 4);                          /* GUEST_SVN */
	put_le(e->report + 0x008, o->policy ? o->policy : 0x30000, 8);
	put_le(e->report + 0x034, 1, 4);
	put_le(e->report + 0x038, tcb_raw(&o->rep_tcb, o->turin), 8);
	put_le(e->report + 0x048, o->vlek ? 1u << 2 : 0, 4);
	for (int i = 0; i < 64; i++)
		e->report[0x50 + i] = (uint8_t)i;                  /* REPORT_DATA */
	memset(e->report + 0x90, 0x5a, 48);                        /* MEASUREMENT */
	put_le(e->report + 0x180, tcb_raw(&o->rep_tcb, o->turin), 8);
	e->report[0x188] = o->turin ? 0x1A : 0x19;
	e->report[0x189] = o->turin ? 0x02 : 0x01;
	e->report[0x18A] = 0x01;
	if (!o->vlek)
		memcpy(e->report + 0x1A0, chip, o->turin ? 8 : 64);
	put_le(e->report + 0x1E0, tcb_raw(&o->rep_tcb, o->turin), 8);
	put_le(e->report + 0x1F0, tcb_raw(&o->rep_tcb, o->turin), 8);
	sign_report(e);

	e->len[0] = (size_t)i2d_X509(e->leaf, &e->der[0]);
	e->len[1] = (size_t)i2d_X509(e->ask, &e->der[1]);
	e->len[2] = (size_t)i2d_X509(e->ark, &e->der[2]);
	CU_ASSERT_FATAL(e->der[0] && e->der[1] && e->der[2]);
}

static void
default_opts(struct emu_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ark_cn = "ARK-Milan";
	o->ask_cn = "SEV-Milan";
	o->leaf_cn = "SEV-VCEK";
	o->product_name = "Milan-B0";
	o->hwid_len = 64;
	o->cert_tcb = (struct snp_tcb){ .bl = 3, .tee = 0, .snp = 8, .ucode = 0xd1 };
	o->rep_tcb = o->cert_tcb;
	o->leaf_nb = NOW - DAY;
	o->leaf_na = NOW + 365 * DAY;
}

/* Write a certificate (or two: cert then issuer) to a PEM file in the scratch dir. */
static const char *
write_pem(const char *name, X509 *a, X509 *b, char *path, size_t n)
{
	FILE *f;

	snprintf(path, n, "%s/%s", test_tmpdir(), name);
	CU_ASSERT_FATAL((f = fopen(path, "w")) != NULL);
	CU_ASSERT_FATAL(PEM_write_X509(f, a) == 1);
	if (b != NULL)
		CU_ASSERT_FATAL(PEM_write_X509(f, b) == 1);
	fclose(f);
	return path;
}

static int
emu_verify(const struct snp_trust *t, const struct emu *e, size_t ncerts, int64_t at, json_t **claims,
    const char **why)
{
	struct snp_evidence ev;
	struct snp_verify_opts o = { .at = at, .allow_debug = 0 };

	memset(&ev, 0, sizeof(ev));
	ev.report = e->report;
	ev.report_len = sizeof(e->report);
	for (size_t i = 0; i < ncerts; i++) {
		ev.certs[i] = e->der[i];
		ev.cert_lens[i] = e->len[i];
	}
	ev.ncerts = ncerts;
	return snp_verify(t, &ev, &o, claims, why);
}

/* Build with o, trust the ARK as a test root, verify with VCEK+ASK; return the code. */
static int
emu_case(const struct emu_opts *o, const char *label, json_t **ret_claims)
{
	struct snp_trust *t = NULL;
	struct emu e;
	json_t *claims = NULL;
	const char *why = NULL;
	char path[4096];
	int r;

	emu_build(o, &e);
	CU_ASSERT_FATAL(snp_trust_new(&t) == 0);
	r = snp_trust_add_test_root_file(t, write_pem("ark.pem", e.ark, NULL, path, sizeof(path)));
	CHECKF(r == 0, "%s: test root: %s", label, kw_strerror(r));
	r = emu_verify(t, &e, 2, NOW, &claims, &why);
	CHECKF((r == 0) == (claims != NULL) && (r == 0 || why != NULL), "%s: outputs", label);
	if (ret_claims != NULL)
		*ret_claims = claims;
	else
		json_decref(claims);
	snp_trust_free(t);
	emu_free(&e);
	return r;
}

#define EMU_EXPECT(o, label, want) do { \
	int r_ = emu_case((o), (label), NULL); \
	CHECKF(r_ == (want), "%s: got %s", (label), kw_strerror(r_)); \
} while (0)

static void
test_emu_test_root(void)
{
	struct emu_opts o;
	struct snp_trust *t = NULL;
	struct emu e;
	json_t *claims = NULL;
	const char *why = NULL, *s;
	char path[4096];
	int r;

	default_opts(&o);
	emu_build(&o, &e);
	CU_ASSERT_FATAL(snp_trust_new(&t) == 0);

	/* Not named by the configuration: untrusted, whether or not the ARK travels with the evidence. */
	r = emu_verify(t, &e, 3, NOW, &claims, &why);
	CHECKF(r == KW_ERR_UNTRUSTED_ROOT, "unnamed test ARK (in evidence): %s", kw_strerror(r));
	r = emu_verify(t, &e, 2, NOW, &claims, &why);
	CHECKF(r == KW_ERR_UNTRUSTED_ROOT, "unnamed test ARK: %s", kw_strerror(r));
	CU_ASSERT(claims == NULL);
	/* Its chain bundle cannot be loaded before the root is named either. */
	CU_ASSERT(snp_trust_add_chain_file(t, write_pem("chain.pem", e.ask, e.ark, path, sizeof(path))) ==
	    KW_ERR_UNTRUSTED_ROOT);

	CU_ASSERT_FATAL(snp_trust_add_test_root_file(t, write_pem("ark.pem", e.ark, NULL, path, sizeof(path))) == 0);
	r = emu_verify(t, &e, 2, NOW, &claims, &why);
	CHECKF(r == 0, "named test ARK: %s (%s)", kw_strerror(r), why ? why : "-");
	if (r == 0) {
		s = json_string_value(json_object_get(claims, "root"));
		CHECKF(s != NULL && strcmp(s, "test") == 0, "root claim %s", s ? s : "-");
		s = json_string_value(json_object_get(claims, "product"));
		CU_ASSERT(s != NULL && strcmp(s, "Milan") == 0);
		CU_ASSERT(json_integer_value(json_object_get(claims, "guest_svn")) == 7);
		CU_ASSERT(json_integer_value(json_object_get(json_object_get(json_object_get(claims, "tcb"),
		    "reported"), "ucode")) == 0xd1);
		s = json_string_value(json_object_get(claims, "measurement"));
		CU_ASSERT(s != NULL && strncmp(s, "5a5a5a", 6) == 0 && strlen(s) == 96);
		json_decref(claims);
		claims = NULL;
	}
	/* Now the bundle loads, and the VCEK alone suffices. */
	CU_ASSERT(snp_trust_add_chain_file(t, write_pem("chain.pem", e.ask, e.ark, path, sizeof(path))) == 0);
	r = emu_verify(t, &e, 1, NOW, &claims, &why);
	CHECKF(r == 0, "VCEK with loaded test chain: %s", kw_strerror(r));
	json_decref(claims);
	claims = NULL;
	/* Outside the VCEK's validity window */
	r = emu_verify(t, &e, 1, NOW + 400 * DAY, &claims, &why);
	CHECKF(r == KW_ERR_CERT_EXPIRED, "after notAfter: %s", kw_strerror(r));
	r = emu_verify(t, &e, 1, NOW - 2 * DAY, &claims, &why);
	CHECKF(r == KW_ERR_CERT_EXPIRED, "before notBefore: %s", kw_strerror(r));
	CU_ASSERT(claims == NULL);
	snp_trust_free(t);
	emu_free(&e);

	/* A test root must be a self-signed ARK-<product> CA. */
	CU_ASSERT_FATAL(snp_trust_new(&t) == 0);
	o.ark_cn = "Some Root";
	emu_build(&o, &e);
	CU_ASSERT(snp_trust_add_test_root_file(t, write_pem("ark.pem", e.ark, NULL, path, sizeof(path))) ==
	    KW_ERR_CERT_INVALID);
	CU_ASSERT(snp_trust_add_test_root_file(t, write_pem("ask.pem", e.ask, NULL, path, sizeof(path))) ==
	    KW_ERR_CERT_INVALID);
	emu_free(&e);
	snp_trust_free(t);
}

static void
test_emu_bindings(void)
{
	struct emu_opts o;
	json_t *claims = NULL;
	int r;

	default_opts(&o);
	o.hwid_wrapped = 1;
	EMU_EXPECT(&o, "hwID wrapped in OCTET STRING", 0);

	default_opts(&o);
	o.flip_hwid = 1;
	EMU_EXPECT(&o, "hwID differs", KW_ERR_MISMATCH);
	o.hwid_wrapped = 1;
	EMU_EXPECT(&o, "wrapped hwID differs", KW_ERR_MISMATCH);

	default_opts(&o);
	o.hwid_len = 0;
	EMU_EXPECT(&o, "no hwID", KW_ERR_CERT_INVALID);

	/* Each TCB component is compared. */
	default_opts(&o);
	o.cert_tcb.snp = 9;
	EMU_EXPECT(&o, "SNP SPL differs", KW_ERR_MISMATCH);
	default_opts(&o);
	o.cert_tcb.ucode = 0xd0;
	EMU_EXPECT(&o, "ucode SPL differs", KW_ERR_MISMATCH);
	default_opts(&o);
	o.cert_tcb.bl = 2;
	EMU_EXPECT(&o, "BL SPL differs", KW_ERR_MISMATCH);
	default_opts(&o);
	o.cert_tcb.tee = 1;
	EMU_EXPECT(&o, "TEE SPL differs", KW_ERR_MISMATCH);

	/* Wrong key type / names */
	default_opts(&o);
	o.leaf_p256 = 1;
	EMU_EXPECT(&o, "P-256 VCEK", KW_ERR_CERT_INVALID);
	default_opts(&o);
	o.leaf_cn = "SEV-VCEK-X";
	EMU_EXPECT(&o, "leaf CN", KW_ERR_CERT_INVALID);
	default_opts(&o);
	o.product_name = "Genoa";
	EMU_EXPECT(&o, "productName Genoa under SEV-Milan", KW_ERR_MISMATCH);
	default_opts(&o);
	o.ask_cn = "SEV-Genoa";
	EMU_EXPECT(&o, "ASK product differs from ARK", KW_ERR_CERT_INVALID);

	/* Debug policy */
	default_opts(&o);
	o.policy = 0x30000 | SNP_POLICY_DEBUG;
	EMU_EXPECT(&o, "debug", KW_ERR_DEBUG_GUEST);

	/* Genoa layout is Milan's */
	default_opts(&o);
	o.ark_cn = "ARK-Genoa";
	o.ask_cn = "SEV-Genoa";
	o.product_name = "Genoa";
	r = emu_case(&o, "Genoa", &claims);
	CU_ASSERT(r == 0);
	if (r == 0)
		CU_ASSERT(strcmp(json_string_value(json_object_get(claims, "product")), "Genoa") == 0);
	json_decref(claims);
}

static void
test_emu_turin(void)
{
	struct emu_opts o;
	json_t *claims = NULL, *tcb;
	int r;

	default_opts(&o);
	o.ark_cn = "ARK-Turin";
	o.ask_cn = "SEV-Turin";
	o.product_name = "Turin";
	o.turin = 1;
	o.hwid_len = 8;
	o.cert_tcb = (struct snp_tcb){ .fmc = 1, .bl = 2, .tee = 3, .snp = 4, .ucode = 0x91 };
	o.rep_tcb = o.cert_tcb;
	r = emu_case(&o, "Turin", &claims);
	CU_ASSERT(r == 0);
	if (r == 0) {
		tcb = json_object_get(json_object_get(claims, "tcb"), "reported");
		CU_ASSERT(json_integer_value(json_object_get(tcb, "fmc")) == 1);
		CU_ASSERT(json_integer_value(json_object_get(tcb, "bl")) == 2);
		CU_ASSERT(json_integer_value(json_object_get(tcb, "tee")) == 3);
		CU_ASSERT(json_integer_value(json_object_get(tcb, "snp")) == 4);
		CU_ASSERT(json_integer_value(json_object_get(tcb, "ucode")) == 0x91);
		CU_ASSERT(strcmp(json_string_value(json_object_get(tcb, "raw")), "0x9100000004030201") == 0);
	}
	json_decref(claims);
	o.cert_tcb.fmc = 2;
	EMU_EXPECT(&o, "Turin FMC differs", KW_ERR_MISMATCH);
	o.cert_tcb.fmc = 1;
	o.hwid_len = 64;   /* a Milan-sized hwID on Turin */
	EMU_EXPECT(&o, "Turin 64-byte hwID", KW_ERR_INVALID_FORMAT);
}

static void
test_emu_vlek(void)
{
	struct emu_opts o;
	json_t *claims = NULL;
	int r;

	default_opts(&o);
	o.vlek = 1;
	o.hwid_len = 0;
	o.leaf_cn = "SEV-VLEK";
	o.ask_cn = "SEV-VLEK-Milan";
	r = emu_case(&o, "VLEK via ASVK", &claims);
	CU_ASSERT(r == 0);
	if (r == 0) {
		CU_ASSERT(strcmp(json_string_value(json_object_get(claims, "signing_key")), "vlek") == 0);
		CU_ASSERT(strcmp(json_string_value(json_object_get(json_object_get(claims, "platform"), "chip_id")),
		    "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
		    "000000000000000000000000000000000000000000000000") == 0);
	}
	json_decref(claims);
	/* A VLEK must not verify through an ASK, nor a VCEK through an ASVK. */
	o.ask_cn = "SEV-Milan";
	EMU_EXPECT(&o, "VLEK via ASK", KW_ERR_CERT_INVALID);
	default_opts(&o);
	o.ask_cn = "SEV-VLEK-Milan";
	EMU_EXPECT(&o, "VCEK via ASVK", KW_ERR_CERT_INVALID);
	/* A VLEK-signed report with a VCEK-named certificate */
	default_opts(&o);
	o.vlek = 1;
	EMU_EXPECT(&o, "VLEK report, VCEK cert", KW_ERR_CERT_INVALID);
}

static int
suite_init(void)
{
	ark_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ask_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	return ark_key != NULL && ask_key != NULL ? 0 : -1;
}

static int
suite_clean(void)
{
	EVP_PKEY_free(ark_key);
	EVP_PKEY_free(ask_key);
	return 0;
}

int
test_snp_emu_register(void)
{
	CU_pSuite s = CU_add_suite("snp_emulated_chain", suite_init, suite_clean);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_emu_test_root) | TEST_ADD(s, test_emu_bindings) | TEST_ADD(s, test_emu_turin) |
	    TEST_ADD(s, test_emu_vlek);
}
