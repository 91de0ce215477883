/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_manifest: the configuration manifest (attester/att_manifest.c), part
 * of the test_attester program. Expected fingerprints and digests are
 * computed here from the certificates' DER, independently of the library;
 * TLS expectations are written out by hand.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "attester.h"
#include "kw_json.h"
#include "kw_util.h"
#include "test_helper.h"
#include "test_manifest.h"

#define NCERT 4

static char mdir[128];
static X509 *certs[NCERT];
static char *cert_pem[NCERT];   /* PEM text of each */
static char cert_fp[NCERT][65]; /* hex SHA-256 of each DER, computed here */
static char empty_conf[128];


static const char *
mpath(const char *name)
{
	static char buf[4][192];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", mdir, name);
	return buf[i];
}

static void
put(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_FATAL(len == 0 || fwrite(data, 1, len, f) == len);
	CU_ASSERT_FATAL(fclose(f) == 0);
}

static void
puts_file(const char *path, const char *s)
{
	put(path, s, strlen(s));
}

static X509 *
make_cert(const char *cn, long serial)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;

	if (k == NULL || x == NULL || X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), serial) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    (n = X509_get_subject_name(x)) == NULL ||
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, n) != 1 || X509_set_pubkey(x, k) != 1 ||
	    X509_sign(x, k, EVP_sha256()) <= 0) {
		X509_free(x);
		x = NULL;
	}
	EVP_PKEY_free(k);
	return x;
}

static char *
to_pem(X509 *x, int aux)
{
	BIO *b = BIO_new(BIO_s_mem());
	BUF_MEM *m = NULL;
	char *s = NULL;

	if (b != NULL && (aux ? PEM_write_bio_X509_AUX(b, x) : PEM_write_bio_X509(b, x)) == 1 &&
	    BIO_get_mem_ptr(b, &m) == 1 && (s = malloc(m->length + 1)) != NULL) {
		memcpy(s, m->data, m->length);
		s[m->length] = '\0';
	}
	BIO_free(b);
	return s;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Expected digest of certificates idx[0..n): SHA-384 over sorted unique "hex\n". */
static void
expect_digest(const int *idx, size_t n, char out[97])
{
	const char *fps[NCERT];
	uint8_t md[48];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	char *hex = NULL;
	size_t u = 0;

	CU_ASSERT_FATAL(c != NULL && n <= NCERT);
	for (size_t i = 0; i < n; i++)
		fps[i] = cert_fp[idx[i]];
	qsort(fps, n, sizeof(fps[0]), str_cmp);
	CU_ASSERT_FATAL(EVP_DigestInit_ex(c, EVP_sha384(), NULL) == 1);
	for (size_t i = 0; i < n; i++) {
		if (u > 0 && strcmp(fps[u - 1], fps[i]) == 0)
			continue;
		fps[u++] = fps[i];
		CU_ASSERT_FATAL(EVP_DigestUpdate(c, fps[i], 64) == 1 && EVP_DigestUpdate(c, "\n", 1) == 1);
	}
	CU_ASSERT_FATAL(EVP_DigestFinal_ex(c, md, NULL) == 1);
	EVP_MD_CTX_free(c);
	CU_ASSERT_FATAL(kw_hex_encode(md, sizeof(md), &hex) == 0);
	memcpy(out, hex, 97);
	free(hex);
}

/* The store's result must be exactly certificates idx[0..n) (distinct). */
static void
check_store(const json_t *rs, const int *idx, size_t n)
{
	const json_t *fps = json_object_get(rs, "fingerprints");
	const char *sorted[NCERT];
	char want[97];

	CU_ASSERT_FATAL(rs != NULL && json_object_size(rs) == 2);
	CU_ASSERT_FATAL(json_is_array(fps) && json_array_size(fps) == n);
	for (size_t i = 0; i < n; i++)
		sorted[i] = cert_fp[idx[i]];
	qsort(sorted, n, sizeof(sorted[0]), str_cmp);
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(fps, i)), sorted[i]);
	expect_digest(idx, n, want);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(rs, "digest")), want);
}

static int
suite_manifest_init(void)
{
	snprintf(mdir, sizeof(mdir), "%s/manifest", test_tmpdir());
	if (mkdir(mdir, 0700) != 0)
		return -1;
	for (int i = 0; i < NCERT; i++) {
		char cn[32];
		unsigned char *der = NULL;
		uint8_t md[32];
		int len;

		snprintf(cn, sizeof(cn), "manifest test root %d", i);
		if ((certs[i] = make_cert(cn, i + 1)) == NULL || (cert_pem[i] = to_pem(certs[i], 0)) == NULL ||
		    (len = i2d_X509(certs[i], &der)) <= 0)
			return -1;
		SHA256(der, (size_t)len, md);
		OPENSSL_free(der);
		for (int j = 0; j < 32; j++)
			snprintf(cert_fp[i] + 2 * j, 3, "%02x", md[j]);
	}
	return 0;
}

static int
suite_manifest_clean(void)
{
	for (int i = 0; i < NCERT; i++) {
		X509_free(certs[i]);
		free(cert_pem[i]);
	}
	return 0;
}

/* ---------------------------------------------------------- root store */

static void
test_root_store_bundle_dir(void)
{
	static const int three[] = {0, 1, 2}, four[] = {0, 1, 2, 3};
	json_t *a = NULL, *b = NULL, *c = NULL;
	char *bundle;
	size_t l0 = strlen(cert_pem[0]), l1 = strlen(cert_pem[1]), l2 = strlen(cert_pem[2]);

	/* bundle in the order 2, 0, 1, with text around the blocks */
	bundle = malloc(l0 + l1 + l2 + 64);
	CU_ASSERT_FATAL(bundle != NULL);
	snprintf(bundle, l0 + l1 + l2 + 64, "# roots\n%s\nsubject=...\n%s%s", cert_pem[2], cert_pem[0],
	    cert_pem[1]);
	puts_file(mpath("bundle.pem"), bundle);
	free(bundle);
	CU_ASSERT_FATAL(att_manifest_root_store(mpath("bundle.pem"), &a) == 0);
	check_store(a, three, 3);

	/* a CApath-like directory: the same certs in other files, a symlink to one
	 * of them, a text file, a non-certificate PEM block, a subdirectory and a
	 * dangling symlink, which are all skipped or de-duplicated */
	CU_ASSERT_FATAL(mkdir(mpath("dir"), 0700) == 0);
	puts_file(mpath("dir/c.pem"), cert_pem[0]);
	puts_file(mpath("dir/a.pem"), cert_pem[1]);
	puts_file(mpath("dir/b.pem"), cert_pem[2]);
	CU_ASSERT_FATAL(symlink("a.pem", mpath("dir/1a2b3c4d.0")) == 0);
	CU_ASSERT_FATAL(symlink("missing.pem", mpath("dir/dangling.0")) == 0);
	puts_file(mpath("dir/README"), "This directory holds the trusted roots.\n");
	puts_file(mpath("dir/params.pem"), "-----BEGIN DH PARAMETERS-----\nMAYCAQACAQI=\n"
	    "-----END DH PARAMETERS-----\n");
	CU_ASSERT_FATAL(mkdir(mpath("dir/sub"), 0700) == 0);
	puts_file(mpath("dir/sub/x.pem"), "-----BEGIN CERTIFICATE-----\nnot looked at\n");
	CU_ASSERT_FATAL(att_manifest_root_store(mpath("dir"), &b) == 0);
	check_store(b, three, 3);
	CU_ASSERT(json_equal(a, b));

	/* one more CA: another digest */
	puts_file(mpath("dir/d.pem"), cert_pem[3]);
	CU_ASSERT_FATAL(att_manifest_root_store(mpath("dir"), &c) == 0);
	check_store(c, four, 4);
	CU_ASSERT(!json_equal(json_object_get(b, "digest"), json_object_get(c, "digest")));
	CU_ASSERT(unlink(mpath("dir/d.pem")) == 0);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

static void
test_root_store_trusted_certificate(void)
{
	static const int one[] = {1};
	char *pem;
	json_t *r = NULL;

	/* "TRUSTED CERTIFICATE": fingerprint of the certificate, not of the trust attributes */
	CU_ASSERT_FATAL(X509_add1_trust_object(certs[1], OBJ_nid2obj(NID_server_auth)) == 1);
	CU_ASSERT_FATAL((pem = to_pem(certs[1], 1)) != NULL);
	CU_ASSERT(strstr(pem, "-----BEGIN TRUSTED CERTIFICATE-----") != NULL);
	puts_file(mpath("trusted.pem"), pem);
	CU_ASSERT_FATAL(att_manifest_root_store(mpath("trusted.pem"), &r) == 0);
	check_store(r, one, 1);
	json_decref(r);
	free(pem);
}

static void
expect_store_err(const char *path, int want)
{
	json_t *sentinel = json_object(), *r = sentinel;

	CU_ASSERT_EQUAL(att_manifest_root_store(path, &r), want);
	CU_ASSERT(r == sentinel); /* ret_* untouched on failure */
	json_decref(sentinel);
}

static void
test_root_store_bad(void)
{
	char buf[4096];
	size_t l = strlen(cert_pem[0]);
	char *nl;

	CU_ASSERT_FATAL(l + 64 < sizeof(buf));
	/* corrupt base64 in the body */
	memcpy(buf, cert_pem[0], l + 1);
	nl = strchr(buf, '\n');
	memcpy(nl + 5, "!!!!", 4);
	puts_file(mpath("corrupt.pem"), buf);
	expect_store_err(mpath("corrupt.pem"), KW_ERR_INVALID_FORMAT);
	/* ... also inside a directory next to good certificates */
	CU_ASSERT_FATAL(mkdir(mpath("baddir"), 0700) == 0);
	puts_file(mpath("baddir/good.pem"), cert_pem[1]);
	puts_file(mpath("baddir/corrupt.pem"), buf);
	expect_store_err(mpath("baddir"), KW_ERR_INVALID_FORMAT);
	/* no END line */
	memcpy(buf, cert_pem[0], l + 1);
	*strstr(buf, "-----END") = '\0';
	puts_file(mpath("noend.pem"), buf);
	expect_store_err(mpath("noend.pem"), KW_ERR_INVALID_FORMAT);
	/* a start marker OpenSSL does not read as one, after a good block */
	snprintf(buf, sizeof(buf), "%s-----BEGIN CERTIFICATE\nMAYCAQACAQI=\n-----END CERTIFICATE-----\n",
	    cert_pem[1]);
	puts_file(mpath("badstart.pem"), buf);
	expect_store_err(mpath("badstart.pem"), KW_ERR_INVALID_FORMAT);
	/* a certificate block that is not a certificate; one with a trailing byte */
	puts_file(mpath("notcert.pem"), "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n"
	    "-----END CERTIFICATE-----\n");
	expect_store_err(mpath("notcert.pem"), KW_ERR_INVALID_FORMAT);
	{
		unsigned char *der = NULL, *d2 = NULL;
		int dl = i2d_X509(certs[2], &der);
		BIO *b = BIO_new(BIO_s_mem());
		BUF_MEM *m = NULL;

		CU_ASSERT_FATAL(dl > 0 && b != NULL && (d2 = malloc((size_t)dl + 1)) != NULL);
		memcpy(d2, der, (size_t)dl);
		d2[dl] = 0;
		CU_ASSERT_FATAL(PEM_write_bio(b, "CERTIFICATE", "", d2, dl + 1) > 0 &&
		    BIO_get_mem_ptr(b, &m) == 1);
		put(mpath("trailing.pem"), m->data, m->length);
		expect_store_err(mpath("trailing.pem"), KW_ERR_INVALID_FORMAT);
		/* PEM headers (Proc-Type) on a certificate block */
		BIO_free(b);
		CU_ASSERT_FATAL((b = BIO_new(BIO_s_mem())) != NULL);
		CU_ASSERT_FATAL(PEM_write_bio(b, "CERTIFICATE", "Proc-Type: 4,ENCRYPTED\nDEK-Info: "
		    "AES-128-CBC,00000000000000000000000000000000\n", der, dl) > 0 &&
		    BIO_get_mem_ptr(b, &m) == 1);
		put(mpath("header.pem"), m->data, m->length);
		expect_store_err(mpath("header.pem"), KW_ERR_INVALID_FORMAT);
		BIO_free(b);
		free(d2);
		OPENSSL_free(der);
	}
	/* nothing there */
	CU_ASSERT_FATAL(mkdir(mpath("emptydir"), 0700) == 0);
	expect_store_err(mpath("emptydir"), KW_ERR_NOT_FOUND);
	puts_file(mpath("emptydir/notes.txt"), "no certificates here\n");
	expect_store_err(mpath("emptydir"), KW_ERR_NOT_FOUND);
	expect_store_err(mpath("emptydir/notes.txt"), KW_ERR_NOT_FOUND);
	expect_store_err(mpath("does-not-exist"), KW_ERR_IO);
	expect_store_err("/dev/null", KW_ERR_IO); /* neither a regular file nor a directory */
	CU_ASSERT(att_manifest_root_store(NULL, NULL) == KW_ERR_INVALID_ARG);
}

static void
test_root_store_caps(void)
{
	static const int one[] = {2};
	size_t l = strlen(cert_pem[2]);
	char *big = malloc(l * (ATT_MAX_ROOT_CERTS + 1) + 1);
	json_t *r = NULL;
	int fd;

	/* ATT_MAX_ROOT_CERTS copies: fine (one fingerprint); one more: too large */
	CU_ASSERT_FATAL(big != NULL);
	for (size_t i = 0; i <= ATT_MAX_ROOT_CERTS; i++)
		memcpy(big + i * l, cert_pem[2], l);
	put(mpath("many.pem"), big, l * ATT_MAX_ROOT_CERTS);
	CU_ASSERT_FATAL(att_manifest_root_store(mpath("many.pem"), &r) == 0);
	check_store(r, one, 1);
	json_decref(r);
	put(mpath("toomany.pem"), big, l * (ATT_MAX_ROOT_CERTS + 1));
	expect_store_err(mpath("toomany.pem"), KW_ERR_TOO_LARGE);
	free(big);
	/* more than ATT_MAX_ROOT_BYTES: one file, or two files in a directory */
	CU_ASSERT_FATAL((fd = open(mpath("huge.pem"), O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	CU_ASSERT_FATAL(ftruncate(fd, ATT_MAX_ROOT_BYTES + 1) == 0 && close(fd) == 0);
	expect_store_err(mpath("huge.pem"), KW_ERR_TOO_LARGE);
	CU_ASSERT_FATAL(mkdir(mpath("bigdir"), 0700) == 0);
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_FATAL((fd = open(mpath(i == 0 ? "bigdir/a" : "bigdir/b"),
		    O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
		CU_ASSERT_FATAL(ftruncate(fd, ATT_MAX_ROOT_BYTES / 2 + 1) == 0 && close(fd) == 0);
	}
	expect_store_err(mpath("bigdir"), KW_ERR_TOO_LARGE);
}

static size_t
count_str(const char *p, size_t n, const char *needle)
{
	size_t c = 0, m = strlen(needle);

	for (size_t i = 0; m <= n && i <= n - m; i++)
		if (memcmp(p + i, needle, m) == 0)
			c++;
	return c;
}

/* Every prefix: either the complete blocks in it, or a clean error when a block is cut. */
static void
test_root_store_truncation_sweep(void)
{
	char bundle[8192];
	size_t len;

	len = (size_t)snprintf(bundle, sizeof(bundle), "%s%s%s", cert_pem[0], cert_pem[1], cert_pem[2]);
	CU_ASSERT_FATAL(len < sizeof(bundle));
	for (size_t n = 0; n < len; n++) {
		size_t begins = count_str(bundle, n, "-----BEGIN CERTIFICATE-----");
		size_t ends = count_str(bundle, n, "-----END CERTIFICATE-----");
		size_t partial_begin = count_str(bundle, n, "-----BEGIN");
		json_t *r = NULL;
		int rc;

		put(mpath("trunc.pem"), bundle, n);
		rc = att_manifest_root_store(mpath("trunc.pem"), &r);
		if (partial_begin > ends) {
			/* a block was started and not finished */
			CU_ASSERT(rc == KW_ERR_INVALID_FORMAT);
			CU_ASSERT(r == NULL);
		} else if (ends == 0) {
			CU_ASSERT(rc == KW_ERR_NOT_FOUND);
		} else {
			CU_ASSERT(begins == ends);
			CU_ASSERT_FATAL(rc == 0);
			CU_ASSERT(json_array_size(json_object_get(r, "fingerprints")) == ends);
		}
		json_decref(r);
	}
}

static void
test_root_store_bitflips(void)
{
	size_t len = strlen(cert_pem[3]);
	char *buf = malloc(len);
	int bad = 0;

	CU_ASSERT_FATAL(buf != NULL);
	for (size_t i = 0; i < len; i++) {
		json_t *r = NULL;
		int rc;

		memcpy(buf, cert_pem[3], len);
		buf[i] ^= 0x04;
		put(mpath("flip.pem"), buf, len);
		rc = att_manifest_root_store(mpath("flip.pem"), &r);
		CU_ASSERT(rc == 0 || rc == KW_ERR_INVALID_FORMAT || rc == KW_ERR_NOT_FOUND);
		if (rc == 0) {
			CU_ASSERT(json_array_size(json_object_get(r, "fingerprints")) == 1);
		} else {
			CU_ASSERT(r == NULL);
			bad++;
		}
		json_decref(r);
	}
	CU_ASSERT(bad > 0);
	free(buf);
}

/* ----------------------------------------------------------------- TLS */

static const char tls_conf[] =
    "# a workload's OpenSSL configuration\n"
    "openssl_conf = init\n"
    "[init]\n"
    "ssl_conf = ssl\n"
    "[ssl]\n"
    "system_default = sys\n"
    "legacy = old\n"
    "capped = cap\n"
    "noversions = nov\n"
    "seczero = sz\n"
    "[sys]\n"
    "MinProtocol = TLSv1.3\n"
    "CipherSuites = TLS_AES_256_GCM_SHA384\n"
    "VerifyCAFile = /nonexistent/ca.pem\n"
    "[old]\n"
    "MinProtocol = TLSv1.2\n"
    "CipherString = AES128-SHA\n"
    "Groups = X25519:P-256\n"
    "SignatureAlgorithms = ECDSA+SHA256:RSA-PSS+SHA256\n"
    "[cap]\n"
    "Protocol = -ALL, TLSv1.2\n"
    "CipherString = ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA\n"
    "Curves = P-384\n"
    "[nov]\n"
    "Protocol = -ALL\n"
    "[sz]\n"
    "CipherString = ECDHE-ECDSA-AES128-SHA@SECLEVEL=0\n"
    "Ciphersuites = TLS_AES_128_GCM_SHA256\n";

/* tls must be exactly {min_version, cipher_suites = want[0..n)} plus the given extras. */
static void
check_tls(const json_t *t, const char *min, const char *const *want, size_t n, size_t nmembers)
{
	const json_t *cs = json_object_get(t, "cipher_suites");

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(json_object_size(t), nmembers);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(t, "min_version")), min);
	CU_ASSERT_FATAL(json_is_array(cs));
	CU_ASSERT_EQUAL(json_array_size(cs), n);
	for (size_t i = 0; i < n && i < json_array_size(cs); i++)
		CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(cs, i)), want[i]);
}

static void
check_list(const json_t *t, const char *key, const char *const *want, size_t n)
{
	const json_t *l = json_object_get(t, key);

	CU_ASSERT_FATAL(json_is_array(l));
	CU_ASSERT_EQUAL(json_array_size(l), n);
	for (size_t i = 0; i < n && i < json_array_size(l); i++)
		CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(l, i)), want[i]);
}

static void
test_tls_config(void)
{
	static const char *const only13[] = {"TLS_AES_256_GCM_SHA384"};
	static const char *const legacy[] = {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
		"TLS_AES_128_GCM_SHA256", "AES128-SHA"};
	static const char *const groups[] = {"X25519", "P-256"};
	static const char *const sigalgs[] = {"ECDSA+SHA256", "RSA-PSS+SHA256"};
	static const char *const capped[] = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA"};
	static const char *const p384[] = {"P-384"};
	static const char *const sz[] = {"TLS_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-SHA"};
	json_t *t = NULL;

	puts_file(mpath("tls.cnf"), tls_conf);
	/* TLS 1.3 only, one suite; the CA file directive is skipped, not read */
	CU_ASSERT_FATAL(att_manifest_tls(mpath("tls.cnf"), NULL, &t) == 0);
	check_tls(t, "1.3", only13, 1, 2);
	json_decref(t);
	CU_ASSERT_FATAL(att_manifest_tls(mpath("tls.cnf"), "system_default", &t) == 0);
	check_tls(t, "1.3", only13, 1, 2);
	json_decref(t);
	/* TLS 1.2 allowed with a non-AEAD cipher: the default 1.3 suites plus AES128-SHA */
	CU_ASSERT_FATAL(att_manifest_tls(mpath("tls.cnf"), "legacy", &t) == 0);
	check_tls(t, "1.2", legacy, 4, 4);
	check_list(t, "groups", groups, 2);
	check_list(t, "signature_algorithms", sigalgs, 2);
	json_decref(t);
	/* TLS 1.2 only (Protocol): no 1.3 suites; Curves is the old name of Groups */
	CU_ASSERT_FATAL(att_manifest_tls(mpath("tls.cnf"), "capped", &t) == 0);
	check_tls(t, "1.2", capped, 2, 3);
	check_list(t, "groups", p384, 1);
	json_decref(t);
	/* security level 0 and no minimum: everything down to TLS 1.0 */
	CU_ASSERT_FATAL(att_manifest_tls(mpath("tls.cnf"), "seczero", &t) == 0);
	check_tls(t, "1.0", sz, 2, 2);
	json_decref(t);
}

static void
test_tls_defaults(void)
{
	json_t *d = NULL, *f = NULL;
	const json_t *cs;
	int has13 = 0, has12 = 0;

	/* OPENSSL_CONF is an empty file (main), so these are the library's defaults */
	CU_ASSERT_FATAL(att_manifest_tls(NULL, NULL, &d) == 0);
	CU_ASSERT_EQUAL(json_object_size(d), 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(d, "min_version")), "1.2");
	cs = json_object_get(d, "cipher_suites");
	CU_ASSERT(json_array_size(cs) > 10);
	for (size_t i = 0; i < json_array_size(cs); i++) {
		const char *n = json_string_value(json_array_get(cs, i));

		has13 |= strcmp(n, "TLS_AES_256_GCM_SHA384") == 0;
		has12 |= strcmp(n, "ECDHE-ECDSA-AES256-GCM-SHA384") == 0;
	}
	CU_ASSERT(has13 && has12);
	/* a file without the openssl_conf -> ssl_conf chain configures nothing */
	puts_file(mpath("plain.cnf"), "HOME = .\n[ca]\ndefault_ca = CA_default\n");
	CU_ASSERT_FATAL(att_manifest_tls(mpath("plain.cnf"), NULL, &f) == 0);
	CU_ASSERT(json_equal(d, f));
	json_decref(f);
	puts_file(mpath("empty.cnf"), "");
	CU_ASSERT_FATAL(att_manifest_tls(mpath("empty.cnf"), NULL, &f) == 0);
	CU_ASSERT(json_equal(d, f));
	json_decref(f);
	json_decref(d);
}

static void
expect_tls_err(const char *text, const char *section, int want)
{
	json_t *sentinel = json_object(), *r = sentinel;

	CU_ASSERT_EQUAL(att_manifest_tls_parse(text, strlen(text), section, &r), want);
	CU_ASSERT(r == sentinel);
	json_decref(sentinel);
}

#define CHAIN "openssl_conf = i\n[i]\nssl_conf = s\n[s]\nsystem_default = d\n[d]\n"

static void
test_tls_bad(void)
{
	json_t *r = NULL;
	char *big;

	expect_tls_err(CHAIN "MinProtocol = TLSv9\n", NULL, KW_ERR_CONFIG);
	expect_tls_err(CHAIN "CipherSuites = TLS_NOPE\n", NULL, KW_ERR_CONFIG);
	expect_tls_err(CHAIN "CipherString = NOTHING-MATCHES\n", NULL, KW_ERR_CONFIG);
	expect_tls_err(CHAIN "Groups = bogus\n", NULL, KW_ERR_CONFIG);
	expect_tls_err(CHAIN "SignatureAlgorithms = bogus\n", NULL, KW_ERR_CONFIG);
	expect_tls_err(CHAIN "Bogus = 1\n", NULL, KW_ERR_CONFIG);
	expect_tls_err(CHAIN "Protocol = -ALL\n", NULL, KW_ERR_CONFIG); /* no version left */
	expect_tls_err("[d\nMinProtocol = TLSv1.3\n", NULL, KW_ERR_CONFIG); /* NCONF syntax */
	expect_tls_err(CHAIN "x = $undefined_variable\n", NULL, KW_ERR_CONFIG);
	expect_tls_err(CHAIN, "other", KW_ERR_NOT_FOUND);
	expect_tls_err("x = 1\n", "system_default", KW_ERR_NOT_FOUND);
	CU_ASSERT(att_manifest_tls_parse("a\0b", 3, NULL, &r) == KW_ERR_INVALID_FORMAT);
	CU_ASSERT_FATAL((big = calloc(1, ATT_MAX_TLS_CONF + 1)) != NULL);
	memset(big, '#', ATT_MAX_TLS_CONF);
	CU_ASSERT(att_manifest_tls_parse(big, ATT_MAX_TLS_CONF + 1, NULL, &r) == KW_ERR_TOO_LARGE);
	big[ATT_MAX_TLS_CONF - 1] = '\n';
	CU_ASSERT_FATAL(att_manifest_tls_parse(big, ATT_MAX_TLS_CONF, NULL, &r) == 0); /* a comment */
	json_decref(r);
	r = NULL;
	free(big);
	CU_ASSERT(att_manifest_tls(NULL, "system_default", &r) == KW_ERR_INVALID_ARG);
	CU_ASSERT(att_manifest_tls(mpath("no-such.cnf"), NULL, &r) == KW_ERR_IO);
	CU_ASSERT(r == NULL);
}

/* Prefixes and bit flips of the configuration never crash and fail cleanly. */
static void
test_tls_sweeps(void)
{
	size_t len = strlen(tls_conf);
	char *buf = malloc(len);
	int ok = 0;

	CU_ASSERT_FATAL(buf != NULL);
	for (size_t n = 0; n <= len; n++) {
		json_t *r = NULL;
		int rc = att_manifest_tls_parse(tls_conf, n, NULL, &r);

		CU_ASSERT(rc == 0 || rc == KW_ERR_CONFIG || rc == KW_ERR_NOT_FOUND);
		CU_ASSERT((rc == 0) == (r != NULL));
		ok += rc == 0;
		json_decref(r);
	}
	CU_ASSERT(ok > 0);
	for (size_t i = 0; i < len; i++) {
		json_t *r = NULL;
		int rc;

		memcpy(buf, tls_conf, len);
		buf[i] ^= 0x20;
		rc = att_manifest_tls_parse(buf, len, "legacy", &r);
		CU_ASSERT(rc == 0 || rc == KW_ERR_CONFIG || rc == KW_ERR_NOT_FOUND ||
		    rc == KW_ERR_INVALID_FORMAT);
		CU_ASSERT((rc == 0) == (r != NULL));
		json_decref(r);
	}
	free(buf);
}

/* -------------------------------------------------------------- crypto */

static void
test_crypto_config(void)
{
	static const char *const bad[] = {
		"{}", "[]", "3072", "", "{\"rsa_bits\": 0}", "{\"rsa_bits\": -1}",
		"{\"rsa_bits\": 65537}", "{\"rsa_bits\": 3072.0}", "{\"rsa_bits\": \"3072\"}",
		"{\"rsa_bits\": true}", "{\"rsa_bits\": null}", "{\"rsa_bits\": [3072]}",
		"{\"rsa_bits\": 3072, \"sha\": 256}", "{\"RSA_bits\": 3072}",
		"{\"rsa_bits\": 3072, \"rsa_bits\": 2048}", "{\"rsa_bits\": 3072} x",
		"{\"rsa_bits\": 99999999999999999999}",
	};
	static const char good[] = "{\"symmetric_bits\": 256, \"rsa_bits\": 3072, \"ec_bits\": 384}";
	json_t *r = NULL, *want;
	char big[ATT_MAX_CRYPTO_CONF + 16];

	CU_ASSERT_FATAL(att_manifest_crypto_parse(good, strlen(good), &r) == 0);
	want = json_pack("{s:i,s:i,s:i}", "rsa_bits", 3072, "ec_bits", 384, "symmetric_bits", 256);
	CU_ASSERT(json_equal(r, want));
	json_decref(want);
	json_decref(r);
	CU_ASSERT_FATAL(att_manifest_crypto_parse("{\"ec_bits\":1}", 13, &r) == 0);
	CU_ASSERT(json_object_size(r) == 1 && json_integer_value(json_object_get(r, "ec_bits")) == 1);
	json_decref(r);
	CU_ASSERT_FATAL(att_manifest_crypto_parse("{\"rsa_bits\":65536}", 18, &r) == 0);
	json_decref(r);
	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		json_t *sentinel = json_object();

		r = sentinel;
		CU_ASSERT(att_manifest_crypto_parse(bad[i], strlen(bad[i]), &r) == KW_ERR_INVALID_FORMAT);
		CU_ASSERT(r == sentinel);
		json_decref(sentinel);
	}
	/* every proper prefix of the good document fails */
	for (size_t n = 0; n < strlen(good); n++) {
		r = NULL;
		CU_ASSERT(att_manifest_crypto_parse(good, n, &r) != 0 && r == NULL);
	}
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"rsa_bits\": 3072}", 18);
	CU_ASSERT(att_manifest_crypto_parse(big, sizeof(big), &r) == KW_ERR_TOO_LARGE);
	puts_file(mpath("crypto.json"), good);
	CU_ASSERT_FATAL(att_manifest_crypto(mpath("crypto.json"), &r) == 0);
	CU_ASSERT(json_object_size(r) == 3);
	json_decref(r);
	r = NULL;
	CU_ASSERT(att_manifest_crypto(mpath("no-such.json"), &r) == KW_ERR_IO && r == NULL);
}

/* ------------------------------------------------------------- build */

static void
test_manifest_build(void)
{
	static const int three[] = {0, 1, 2};
	struct att_manifest_opts o = {NULL, NULL, NULL, NULL};
	json_t *m = NULL, *d = NULL, *sentinel = json_object();
	const char *what = NULL;

	/* nothing given: the TLS defaults only */
	CU_ASSERT_FATAL(att_manifest_build(&o, &m, &what) == 0 && what == NULL);
	CU_ASSERT_FATAL(att_manifest_tls(NULL, NULL, &d) == 0);
	CU_ASSERT(json_object_size(m) == 1 && json_equal(json_object_get(m, "tls"), d));
	json_decref(m);
	json_decref(d);
	/* everything */
	o.root_store = mpath("bundle.pem");
	o.tls_config = mpath("tls.cnf");
	o.tls_section = "legacy";
	o.crypto_config = mpath("crypto.json");
	CU_ASSERT_FATAL(att_manifest_build(&o, &m, &what) == 0);
	CU_ASSERT(json_object_size(m) == 3);
	check_store(json_object_get(m, "root-store"), three, 3);
	CU_ASSERT(json_array_size(json_object_get(json_object_get(m, "tls"), "groups")) == 2);
	CU_ASSERT(json_integer_value(json_object_get(json_object_get(m, "crypto"), "rsa_bits")) == 3072);
	json_decref(m);
	/* each failing part is named; nothing is returned */
	m = sentinel;
	o.crypto_config = mpath("no-such.json");
	CU_ASSERT(att_manifest_build(&o, &m, &what) == KW_ERR_IO && m == sentinel);
	CU_ASSERT_STRING_EQUAL(what, "crypto");
	o.tls_section = "nope";
	CU_ASSERT(att_manifest_build(&o, &m, &what) == KW_ERR_NOT_FOUND && m == sentinel);
	CU_ASSERT_STRING_EQUAL(what, "tls");
	o.root_store = mpath("corrupt.pem");
	CU_ASSERT(att_manifest_build(&o, &m, &what) == KW_ERR_INVALID_FORMAT && m == sentinel);
	CU_ASSERT_STRING_EQUAL(what, "root-store");
	json_decref(sentinel);
}

const char *
manifest_tests_env(void)
{
	int fd;

	/* An empty OpenSSL configuration makes "this process's defaults" the library's.
	 * It lives in the run's scratch directory, removed at exit. */
	snprintf(empty_conf, sizeof(empty_conf), "%s/openssl-empty.cnf", test_tmpdir());
	if ((fd = open(empty_conf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    close(fd) != 0)
		return NULL;
	return empty_conf;
}

int
manifest_tests_add(void)
{
	CU_pSuite s = CU_add_suite("manifest", suite_manifest_init, suite_manifest_clean);

	if (s == NULL || CU_add_test(s, "root_store_bundle_dir", test_root_store_bundle_dir) == NULL ||
	    CU_add_test(s, "root_store_trusted_certificate", test_root_store_trusted_certificate) == NULL ||
	    CU_add_test(s, "root_store_bad", test_root_store_bad) == NULL ||
	    CU_add_test(s, "root_store_caps", test_root_store_caps) == NULL ||
	    CU_add_test(s, "root_store_truncation_sweep", test_root_store_truncation_sweep) == NULL ||
	    CU_add_test(s, "root_store_bitflips", test_root_store_bitflips) == NULL ||
	    CU_add_test(s, "tls_config", test_tls_config) == NULL ||
	    CU_add_test(s, "tls_defaults", test_tls_defaults) == NULL ||
	    CU_add_test(s, "tls_bad", test_tls_bad) == NULL ||
	    CU_add_test(s, "tls_sweeps", test_tls_sweeps) == NULL ||
	    CU_add_test(s, "crypto_config", test_crypto_config) == NULL ||
	    CU_add_test(s, "manifest_build", test_manifest_build) == NULL)
		return -1;
	return 0;
}
