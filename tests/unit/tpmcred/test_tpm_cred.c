/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credential activation against two live swtpms (tests/integration/kwswtpm.py
 * run-unit starts them): the broker's software TPM2_MakeCredential
 * (verifier-client/tpm/tpm_cred.c) is activated by the real TPM through
 * kwget's tss2-esys code (attester/att_tpm.c) and recovers the secret; a
 * credential for the other TPM's EK, or for another AK, is refused by the
 * TPM. EK certificates verify to their CA and no other; AK public areas
 * with the wrong attributes, truncated or with trailing bytes are refused
 * (tpm_quote.h's parser and AK check, as the `tpm` member uses them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <openssl/rand.h>
#include <tss2/tss2_mu.h>

#include "att_tpm.h"
#include "kw_util.h"
#include "test_helper.h"
#include "tpm_cred.h"
#include "tpm_quote.h"

#define YEAR (365LL * 86400)

/* One TPM as the broker sees it: its EK (verified) and its AK's public area and name. */
struct side {
	struct att_tpm *tpm;
	EVP_PKEY *ek;
	uint8_t *ak_pub;
	size_t ak_pub_len;
	uint8_t name[TPM_CRED_MAX_NAME];
	size_t name_len;
};

static struct tpm_ca *trust, *other_trust;
static struct side a, b;

/* tpm_public_parse + tpm_public_check_ak, as the `tpm` member runs them: 0 and the name, or the code. */
static int
ak_name(const uint8_t *pub, size_t len, uint8_t name[static TPM_CRED_MAX_NAME], size_t *ret_len)
{
	struct tpm_public p;
	const char *why = NULL;
	int r;

	memset(&p, 0, sizeof(p));
	if ((r = tpm_public_parse(pub, len, 1, &p, &why)) != 0)
		return r;
	if ((r = tpm_public_check_ak(&p, &why)) == 0) {
		memcpy(name, p.name, p.name_len);
		*ret_len = p.name_len;
	}
	tpm_public_clear(&p);
	return r;
}

static int
side_open(const char *env, struct side *s)
{
	struct att_tpm_opts o = {.tcti = getenv(env)};
	uint8_t *cert = NULL;
	size_t cert_len = 0;
	const char *why = NULL;
	char msg[256];
	int r;

	if (o.tcti == NULL) {
		fprintf(stderr, "%s is not set: run under tests/integration/kwswtpm.py run-unit\n", env);
		return -1;
	}
	if ((r = att_tpm_open(&o, &s->tpm, msg, sizeof(msg))) != 0 ||
	    (r = att_tpm_ek_cert(s->tpm, &cert, &cert_len, msg, sizeof(msg))) != 0) {
		fprintf(stderr, "%s: %s\n", env, msg);
		return -1;
	}
	r = tpm_ek_cert_verify(trust, cert, cert_len, NULL, NULL, 0, kw_time_now(), &s->ek, NULL, &why);
	free(cert);
	if (r != 0) {
		fprintf(stderr, "%s: EK certificate: %s\n", env, why);
		return -1;
	}
	return att_tpm_ak_public(s->tpm, &s->ak_pub, &s->ak_pub_len) == 0 &&
	    ak_name(s->ak_pub, s->ak_pub_len, s->name, &s->name_len) == 0 ? 0 : -1;
}

static void
side_close(struct side *s)
{
	att_tpm_free(s->tpm);
	EVP_PKEY_free(s->ek);
	free(s->ak_pub);
	memset(s, 0, sizeof(*s));
}

static int
setup(void)
{
	const char *ca = getenv("KW_TPM_EK_CA"), *other = getenv("KW_TPM_OTHER_CA");
	if (ca == NULL || other == NULL) {
		fprintf(stderr, "KW_TPM_EK_CA / KW_TPM_OTHER_CA not set: run under kwswtpm.py run-unit\n");
		return -1;
	}
	if (tpm_ca_new(&trust) != 0 || tpm_ca_add_file(trust, ca, NULL) != 0 || tpm_ca_new(&other_trust) != 0 ||
	    tpm_ca_add_file(other_trust, other, NULL) != 0) {
		fprintf(stderr, "cannot load the test CAs\n");
		return -1;
	}
	return side_open("KW_TPM_TCTI_A", &a) == 0 && side_open("KW_TPM_TCTI_B", &b) == 0 ? 0 : -1;
}

static int
teardown(void)
{
	side_close(&a);
	side_close(&b);
	tpm_ca_free(trust);
	tpm_ca_free(other_trust);
	return 0;
}

/* MakeCredential(ek, name, secret) then ActivateCredential on tpm: the code, and the secret on 0. */
static int
make_and_activate(EVP_PKEY *ek, const uint8_t *name, size_t name_len, struct att_tpm *tpm,
    const uint8_t secret[static TPM_CRED_SECRET_LEN], struct kw_secret **ret)
{
	uint8_t *blob = NULL, *sec = NULL;
	size_t blob_len = 0, sec_len = 0;
	char why[256];
	int r;

	r = tpm_cred_make(ek, name, name_len, secret, TPM_CRED_SECRET_LEN, &blob, &blob_len, &sec, &sec_len);
	CHECKF(r == 0, "tpm_cred_make: %s", kw_strerror(r));
	if (r != 0)
		return r;
	CU_ASSERT(blob_len > 2 + 2 + 32 && blob_len <= TPM_CRED_MAX_BLOB);
	CU_ASSERT_EQUAL(sec_len, 2 + 256);
	r = att_tpm_activate(tpm, blob, blob_len, sec, sec_len, ret, why, sizeof(why));
	if (r != 0)
		fprintf(stderr, "  (activate: %s)\n", why);
	free(blob);
	free(sec);
	return r;
}

static void
test_activate(void)
{
	uint8_t secret[TPM_CRED_SECRET_LEN];
	struct kw_secret *got = NULL;
	int r;

	CU_ASSERT_FATAL(RAND_bytes(secret, sizeof(secret)) == 1);
	for (int i = 0; i < 2; i++) {
		struct side *s = i == 0 ? &a : &b;

		r = make_and_activate(s->ek, s->name, s->name_len, s->tpm, secret, &got);
		CHECKF(r == 0, "activation on TPM %c: %s", 'A' + i, kw_strerror(r));
		if (r == 0) {
			CU_ASSERT_EQUAL(kw_secret_len(got), sizeof(secret));
			CU_ASSERT(memcmp(kw_secret_cptr(got), secret, sizeof(secret)) == 0);
		}
		kw_secret_free(got);
		got = NULL;
		secret[0] ^= 0x5a;   /* a different secret for B */
	}
}

static void
test_activate_elsewhere(void)
{
	uint8_t secret[TPM_CRED_SECRET_LEN], name[TPM_CRED_MAX_NAME];
	struct kw_secret *got = NULL;
	int r;

	CU_ASSERT_FATAL(RAND_bytes(secret, sizeof(secret)) == 1);
	/* sealed to A's EK and A's AK, activated on B (B's AK, B's EK): the seed does not decrypt */
	r = make_and_activate(a.ek, a.name, a.name_len, b.tpm, secret, &got);
	CHECKF(r == KW_ERR_DENIED, "A's credential on TPM B: %s", kw_strerror(r));
	CU_ASSERT_PTR_NULL(got);
	/* sealed to B's EK but named for A's AK, activated on B: the name does not match B's AK */
	r = make_and_activate(b.ek, a.name, a.name_len, b.tpm, secret, &got);
	CHECKF(r == KW_ERR_DENIED, "credential for A's AK on TPM B: %s", kw_strerror(r));
	CU_ASSERT_PTR_NULL(got);
	/* A's EK, a name one bit off A's AK's */
	memcpy(name, a.name, a.name_len);
	name[a.name_len - 1] ^= 1;
	r = make_and_activate(a.ek, name, a.name_len, a.tpm, secret, &got);
	CHECKF(r == KW_ERR_DENIED, "credential for another name on TPM A: %s", kw_strerror(r));
	CU_ASSERT_PTR_NULL(got);
	kw_secret_free(got);
}

static void
test_ek_cert(void)
{
	uint8_t *cert = NULL;
	size_t len = 0;
	char msg[256];
	const char *why = NULL;
	EVP_PKEY *ek = NULL;
	json_t *claims = NULL;
	int r;

	CU_ASSERT_FATAL(att_tpm_ek_cert(a.tpm, &cert, &len, msg, sizeof(msg)) == 0);
	r = tpm_ek_cert_verify(trust, cert, len, NULL, NULL, 0, kw_time_now(), &ek, &claims, &why);
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT(r == 0 && EVP_PKEY_eq(ek, a.ek) == 1 && EVP_PKEY_eq(ek, b.ek) != 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(claims, "issuer")), "CN=keywarden test EK CA");
	CU_ASSERT_EQUAL(json_string_length(json_object_get(claims, "spki_sha256")), 64);
	EVP_PKEY_free(ek);
	json_decref(claims);
	ek = NULL;
	claims = NULL;

	r = tpm_ek_cert_verify(other_trust, cert, len, NULL, NULL, 0, kw_time_now(), &ek, &claims, &why);
	CHECKF(r == KW_ERR_UNTRUSTED_ROOT, "other CA: %s", kw_strerror(r));
	CU_ASSERT_PTR_NULL(ek);
	r = tpm_ek_cert_verify(trust, cert, len, NULL, NULL, 0, kw_time_now() + 20 * YEAR, &ek, NULL, &why);
	CHECKF(r == KW_ERR_CERT_EXPIRED, "in 20 years: %s", kw_strerror(r));
	/* every proper prefix fails cleanly, and so does a byte more */
	for (size_t n = 0; n < len; n++) {
		r = tpm_ek_cert_verify(trust, cert, n, NULL, NULL, 0, kw_time_now(), &ek, NULL, &why);
		if (r == 0)
			break;
	}
	CU_ASSERT_NOT_EQUAL(r, 0);
	CU_ASSERT_PTR_NULL(ek);
	/* a flipped bit in the signed part: the signature no longer verifies */
	cert[len / 2] ^= 0x01;
	r = tpm_ek_cert_verify(trust, cert, len, NULL, NULL, 0, kw_time_now(), &ek, NULL, &why);
	CHECKF(r != 0, "bit flip verified");
	CU_ASSERT_PTR_NULL(ek);
	free(cert);
}

static int
ak_variant(uint32_t set, uint32_t clear, uint8_t *out, size_t *out_len)
{
	TPM2B_PUBLIC p;
	size_t off = 0;

	memset(&p, 0, sizeof(p));
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(a.ak_pub, a.ak_pub_len, &off, &p) != TSS2_RC_SUCCESS)
		return -1;
	p.publicArea.objectAttributes = (p.publicArea.objectAttributes | set) & ~clear;
	p.size = 0;   /* the marshaller computes it */
	*out_len = 0;
	return Tss2_MU_TPM2B_PUBLIC_Marshal(&p, out, TPM_MAX_PUBLIC, out_len) == TSS2_RC_SUCCESS ? 0 : -1;
}

static void
test_ak_public(void)
{
	static const uint32_t bad_clear[] = {TPMA_OBJECT_FIXEDTPM, TPMA_OBJECT_FIXEDPARENT,
		TPMA_OBJECT_RESTRICTED, TPMA_OBJECT_SIGN_ENCRYPT, TPMA_OBJECT_SENSITIVEDATAORIGIN};
	uint8_t buf[TPM_MAX_PUBLIC + 1], name[TPM_CRED_MAX_NAME], name2[TPM_CRED_MAX_NAME];
	size_t len = 0, name_len = 0, name2_len = 0;
	int r;

	/* the name is SHA-256 (0x000b) ‖ 32 bytes, the one ActivateCredential accepted above */
	CU_ASSERT_EQUAL(a.name_len, 34);
	CU_ASSERT(a.name[0] == 0x00 && a.name[1] == 0x0b);
	CU_ASSERT(a.name_len != b.name_len || memcmp(a.name, b.name, a.name_len) != 0);
	/* unchanged: the same name */
	CU_ASSERT_FATAL(ak_variant(0, 0, buf, &len) == 0);
	CU_ASSERT_EQUAL(ak_name(buf, len, name, &name_len), 0);
	CU_ASSERT(name_len == a.name_len && memcmp(name, a.name, name_len) == 0);
	/* a decryption key, or any of the four attributes missing: refused */
	CU_ASSERT_FATAL(ak_variant(TPMA_OBJECT_DECRYPT, 0, buf, &len) == 0);
	CU_ASSERT_EQUAL(ak_name(buf, len, name2, &name2_len), KW_ERR_UNSUPPORTED);
	for (size_t i = 0; i < sizeof(bad_clear) / sizeof(bad_clear[0]); i++) {
		CU_ASSERT_FATAL(ak_variant(0, bad_clear[i], buf, &len) == 0);
		r = ak_name(buf, len, name2, &name2_len);
		CHECKF(r == KW_ERR_UNSUPPORTED, "attribute 0x%x cleared: %s", bad_clear[i], kw_strerror(r));
	}
	/* truncations and a trailing byte */
	for (size_t n = 0; n < a.ak_pub_len; n++)
		CU_ASSERT_NOT_EQUAL(ak_name(a.ak_pub, n, name2, &name2_len), 0);
	memcpy(buf, a.ak_pub, a.ak_pub_len);
	buf[a.ak_pub_len] = 0;
	CU_ASSERT_NOT_EQUAL(ak_name(buf, a.ak_pub_len + 1, name2, &name2_len), 0);
}

static void
test_make_args(void)
{
	uint8_t secret[TPM_CRED_SECRET_LEN] = {1}, *blob = NULL, *sec = NULL;
	size_t blob_len = 0, sec_len = 0;
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	CU_ASSERT_EQUAL(tpm_cred_make(a.ek, a.name, a.name_len, secret, 0, &blob, &blob_len, &sec, &sec_len),
	    KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(tpm_cred_make(a.ek, a.name, a.name_len, secret, TPM_CRED_SECRET_LEN + 1, &blob,
	    &blob_len, &sec, &sec_len), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(tpm_cred_make(ec, a.name, a.name_len, secret, sizeof(secret), &blob, &blob_len, &sec,
	    &sec_len), KW_ERR_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(blob);
	CU_ASSERT_PTR_NULL(sec);
	EVP_PKEY_free(ec);
}

int
main(void)
{
	static CU_TestInfo tests[] = {
		{"MakeCredential activates on its TPM", test_activate},
		{"and on no other TPM or AK", test_activate_elsewhere},
		{"EK certificate to its CA", test_ek_cert},
		{"AK public area and name", test_ak_public},
		{"MakeCredential arguments", test_make_args},
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		{"tpmcred", setup, teardown, NULL, NULL, tests},
		CU_SUITE_INFO_NULL,
	};

	return test_run_suites(suites);
}
