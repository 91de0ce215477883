/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tpm_quote against the vectors in $KW_VECTORS/tpm: the swtpm quote
 * (swtpm-local), Google's real Shielded-VM quotes (gce-vtpm, both tags,
 * every bank) and trustee's libtpms quote, each reaching the values of its
 * expected.json; then the negatives: a PCR changed, the wrong nonce, the
 * wrong AK, a missing PCR, every bit flip of quote and signature, every
 * truncation; the PCR JSON and text parsers.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kw_util.h"
#include "test_tpm.h"

/* One quote with everything needed to verify it. */
struct qv {
	uint8_t *msg, *sig;
	size_t msg_len, sig_len;
	struct tpm_public ak;
	struct tpm_pcrs pcrs;
	uint8_t nonce[64];
	size_t nonce_len;
};

static void
qv_free(struct qv *q)
{
	free(q->msg);
	free(q->sig);
	tpm_public_clear(&q->ak);
	memset(q, 0, sizeof(*q));
}

static size_t
hex_to(const char *hex, uint8_t *out, size_t max)
{
	size_t n = strlen(hex);

	while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
		n--;
	CU_ASSERT_FATAL(n % 2 == 0 && n / 2 <= max);
	char buf[256];

	CU_ASSERT_FATAL(n < sizeof(buf));
	memcpy(buf, hex, n);
	buf[n] = '\0';
	CU_ASSERT_FATAL(kw_hex_decode(buf, out, n / 2) == 0);
	return n / 2;
}

static void
load_swtpm(struct qv *q)
{
	char p[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	const char *why = NULL;

	memset(q, 0, sizeof(*q));
	CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "swtpm-local/quote.msg"), &q->msg, &q->msg_len) == 0);
	CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "swtpm-local/quote.sig"), &q->sig, &q->sig_len) == 0);
	CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "swtpm-local/ak.tpm2b_public"), &buf, &len) == 0);
	CHECK_RC(tpm_public_parse(buf, len, 1, &q->ak, &why), 0, "%s", why);
	free(buf);
	CU_ASSERT_FATAL(q->ak.pkey != NULL);
	CU_ASSERT_FATAL(test_pcrs_file(vpath(p, sizeof(p), "swtpm-local/pcrs_sha256.txt"), TPM_BANK_SHA256,
	    &q->pcrs) == 0);
	CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "swtpm-local/nonce.hex"), &buf, &len) == 0);
	q->nonce_len = hex_to((const char *)buf, q->nonce, sizeof(q->nonce));
	free(buf);
}

static int
qv_verify(const struct qv *q, json_t **claims, const char **why)
{
	return tpm_quote_verify(q->msg, q->msg_len, q->sig, q->sig_len, q->ak.pkey, &q->pcrs, q->nonce,
	    q->nonce_len, claims, NULL, why);
}

/* The AK's public area: the name is the vector's ak.name and the key is ak_pub.pem. */
static void
test_swtpm_ak(void)
{
	char p[4096];
	uint8_t *name = NULL;
	size_t name_len = 0;
	struct qv q;
	const char *why = NULL;
	EVP_PKEY *pem = NULL;
	BIO *bio = NULL;

	load_swtpm(&q);
	CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "swtpm-local/ak.name"), &name, &name_len) == 0);
	CU_ASSERT(q.ak.name_len == name_len && memcmp(q.ak.name, name, name_len) == 0);
	CU_ASSERT(q.ak.name_alg == 0x000b);
	CU_ASSERT(q.ak.type == 0x0001);
	CHECK_RC(tpm_public_check_ak(&q.ak, &why), 0, "%s", why);
	CU_ASSERT_FATAL((bio = BIO_new_file(vpath(p, sizeof(p), "swtpm-local/ak_pub.pem"), "r")) != NULL);
	CU_ASSERT_FATAL((pem = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) != NULL);
	CU_ASSERT(EVP_PKEY_eq(pem, q.ak.pkey) == 1);
	/* the EK is a decryption key, not an AK */
	EVP_PKEY_free(pem);
	BIO_free(bio);
	free(name);
	qv_free(&q);
}

static void
test_swtpm_quote(void)
{
	char p[4096], *hex = NULL;
	struct qv q;
	json_t *claims = NULL, *exp, *a;
	struct tpm_quote_info info;
	const char *why = NULL;

	load_swtpm(&q);
	exp = test_json_file(vpath(p, sizeof(p), "swtpm-local/expected.json"));
	CU_ASSERT_FATAL(exp != NULL);
	a = test_jget(exp, "quote.attest");
	CU_ASSERT_FATAL(a != NULL);
	CU_ASSERT_STRING_EQUAL(json_string_value(test_jget(exp, "quote.sig")), "OK");
	CU_ASSERT(json_is_true(test_jget(exp, "quote.nonce_matches")));
	memset(&info, 0, sizeof(info));
	CHECK_RC(tpm_quote_verify(q.msg, q.msg_len, q.sig, q.sig_len, q.ak.pkey, &q.pcrs, q.nonce, q.nonce_len,
	    &claims, &info, &why), 0, "%s", why);
	CU_ASSERT_FATAL(claims != NULL);
	CU_ASSERT(json_integer_value(test_jget(claims, "tpm.clock")) ==
	    json_integer_value(json_object_get(a, "clock")));
	CU_ASSERT(json_integer_value(test_jget(claims, "tpm.reset_count")) ==
	    json_integer_value(json_object_get(a, "resetCount")));
	CU_ASSERT(json_integer_value(test_jget(claims, "tpm.restart_count")) ==
	    json_integer_value(json_object_get(a, "restartCount")));
	CU_ASSERT(json_is_true(test_jget(claims, "tpm.safe")) == (json_integer_value(json_object_get(a, "safe")) == 1));
	/* "0x2019102300163636" in expected.json; the claim is the 16 hex digits */
	CU_ASSERT_STRING_EQUAL(json_string_value(test_jget(claims, "tpm.firmware_version")),
	    json_string_value(json_object_get(a, "firmwareVersion")) + 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(test_jget(claims, "tpm.qualified_signer")),
	    json_string_value(json_object_get(a, "qualifiedSigner")));
	CU_ASSERT_FATAL(kw_hex_encode(info.extra, info.extra_len, &hex) == 0);
	CU_ASSERT_STRING_EQUAL(hex, json_string_value(json_object_get(a, "extraData")));
	free(hex);
	CU_ASSERT_FATAL(kw_hex_encode(info.pcr_digest, info.pcr_digest_len, &hex) == 0);
	CU_ASSERT_STRING_EQUAL(hex, json_string_value(json_object_get(a, "pcrDigest")));
	free(hex);
	/* PCRs 0..8 of sha256 are quoted: exactly those are claims, with the vector's values */
	CU_ASSERT(info.selected[TPM_BANK_SHA256] == 0x1ff && info.selected[TPM_BANK_SHA1] == 0);
	CU_ASSERT(json_object_size(json_object_get(claims, "pcrs")) == 1);
	CU_ASSERT(json_object_size(test_jget(claims, "pcrs.sha256")) == 9);
	CU_ASSERT_FATAL(kw_hex_encode(q.pcrs.val[TPM_BANK_SHA256][7], 32, &hex) == 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(test_jget(claims, "pcrs.sha256.7")), hex);
	CU_ASSERT(strncmp(hex, "d5723af1", 8) == 0);
	free(hex);
	json_decref(claims);
	json_decref(exp);
	qv_free(&q);
}

static void
test_swtpm_negatives(void)
{
	struct qv q;
	json_t *claims = NULL;
	const char *why = NULL;
	struct tpm_public other;
	char p[4096];
	uint8_t *buf = NULL;
	size_t len = 0;

	load_swtpm(&q);
	/* a PCR changed: digest mismatch */
	q.pcrs.val[TPM_BANK_SHA256][8][0] ^= 1;
	CU_ASSERT(qv_verify(&q, &claims, &why) == KW_ERR_MISMATCH);
	CU_ASSERT_STRING_EQUAL(why, "PCR values do not match the quote's pcrDigest");
	q.pcrs.val[TPM_BANK_SHA256][8][0] ^= 1;
	/* a quoted PCR not supplied */
	q.pcrs.present[TPM_BANK_SHA256] &= ~(UINT32_C(1) << 3);
	CU_ASSERT(qv_verify(&q, &claims, &why) == KW_ERR_INVALID_FORMAT);
	q.pcrs.present[TPM_BANK_SHA256] |= UINT32_C(1) << 3;
	/* the wrong nonce: one bit, one byte short, empty */
	q.nonce[5] ^= 0x40;
	CU_ASSERT(qv_verify(&q, &claims, &why) == KW_ERR_MISMATCH);
	CU_ASSERT_STRING_EQUAL(why, "quote nonce (extraData) does not match");
	q.nonce[5] ^= 0x40;
	CU_ASSERT(tpm_quote_verify(q.msg, q.msg_len, q.sig, q.sig_len, q.ak.pkey, &q.pcrs, q.nonce,
	    q.nonce_len - 1, &claims, NULL, &why) == KW_ERR_MISMATCH);
	CU_ASSERT(tpm_quote_verify(q.msg, q.msg_len, q.sig, q.sig_len, q.ak.pkey, &q.pcrs, NULL, 0, &claims,
	    NULL, &why) == KW_ERR_MISMATCH);
	/* the wrong AK: Google's */
	CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "gce-vtpm/nonce9009/ak_pub.tpmt_public"), &buf, &len) == 0);
	CU_ASSERT_FATAL(tpm_public_parse(buf, len, 0, &other, &why) == 0);
	CU_ASSERT(tpm_quote_verify(q.msg, q.msg_len, q.sig, q.sig_len, other.pkey, &q.pcrs, q.nonce,
	    q.nonce_len, &claims, NULL, &why) == KW_ERR_SIG_INVALID);
	/* the right AK read the wrong way (TPMT vs TPM2B) does not parse */
	CU_ASSERT(tpm_public_parse(buf, len, 1, &other, &why) != 0);
	tpm_public_clear(&other);
	free(buf);
	CU_ASSERT(claims == NULL);
	/* still good after all that */
	CU_ASSERT(qv_verify(&q, &claims, &why) == 0);
	json_decref(claims);
	qv_free(&q);
}

/* Every bit flip and every truncation of the quote and of the signature fails cleanly. */
static void
test_swtpm_sweeps(void)
{
	struct qv q;
	json_t *claims = NULL;
	const char *why = NULL;
	size_t bad = 0, runs = 0;

	load_swtpm(&q);
	for (size_t i = 0; i < q.msg_len; i++) {
		for (unsigned int bit = 0; bit < 8; bit++) {
			q.msg[i] ^= (uint8_t)(1u << bit);
			bad += qv_verify(&q, &claims, &why) != 0;
			runs++;
			q.msg[i] ^= (uint8_t)(1u << bit);
		}
	}
	for (size_t i = 0; i < q.sig_len; i++) {
		for (unsigned int bit = 0; bit < 8; bit++) {
			q.sig[i] ^= (uint8_t)(1u << bit);
			bad += qv_verify(&q, &claims, &why) != 0;
			runs++;
			q.sig[i] ^= (uint8_t)(1u << bit);
		}
	}
	CU_ASSERT(bad == runs);
	CU_ASSERT(runs == 8 * (q.msg_len + q.sig_len));
	bad = runs = 0;
	for (size_t n = 0; n < q.msg_len; n++, runs++)
		bad += tpm_quote_verify(q.msg, n, q.sig, q.sig_len, q.ak.pkey, &q.pcrs, q.nonce, q.nonce_len,
		    &claims, NULL, &why) != 0;
	for (size_t n = 0; n < q.sig_len; n++, runs++)
		bad += tpm_quote_verify(q.msg, q.msg_len, q.sig, n, q.ak.pkey, &q.pcrs, q.nonce, q.nonce_len,
		    &claims, NULL, &why) != 0;
	CU_ASSERT(bad == runs);
	CU_ASSERT(claims == NULL);
	/* a trailing byte is refused too */
	uint8_t *longer = malloc(q.msg_len + 1);

	CU_ASSERT_FATAL(longer != NULL);
	memcpy(longer, q.msg, q.msg_len);
	longer[q.msg_len] = 0;
	CU_ASSERT(tpm_quote_verify(longer, q.msg_len + 1, q.sig, q.sig_len, q.ak.pkey, &q.pcrs, q.nonce,
	    q.nonce_len, &claims, NULL, &why) == KW_ERR_TRAILING);
	free(longer);
	/* every truncation of the public area */
	char p[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct tpm_public pub;

	CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "swtpm-local/ak.tpm2b_public"), &buf, &len) == 0);
	bad = 0;
	for (size_t n = 0; n < len; n++)
		bad += tpm_public_parse(buf, n, 1, &pub, &why) != 0;
	CU_ASSERT(bad == len);
	free(buf);
	qv_free(&q);
}

/* Google's Shielded VM: both tags, every bank; extraData 0x9009 or empty. */
static void
test_gce(void)
{
	static const char *const tags[] = {"nonce9009", "nononce"};
	char p[4096], key[128];
	json_t *exp, *claims = NULL;
	const char *why = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, ok = 0;

	exp = test_json_file(vpath(p, sizeof(p), "gce-vtpm/expected.json"));
	CU_ASSERT_FATAL(exp != NULL);
	for (size_t t = 0; t < KW_ARRAY_SIZE(tags); t++) {
		struct tpm_public ak;

		CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "gce-vtpm/%s/ak_pub.tpmt_public", tags[t]), &buf,
		    &len) == 0);
		CHECK_RC(tpm_public_parse(buf, len, 0, &ak, &why), 0, "%s", why);
		free(buf);
		CHECK_RC(tpm_public_check_ak(&ak, &why), 0, "%s", why);
		for (unsigned int b = 0; b < TPM_BANK_COUNT; b++) {
			const char *bn = tpm_bank_name((enum tpm_bank)b);
			struct tpm_pcrs pcrs;
			struct tpm_quote_info info;
			uint8_t *msg = NULL, *sig = NULL, extra[64];
			size_t msg_len = 0, sig_len = 0, extra_len;
			const char *xd;

			memset(&pcrs, 0, sizeof(pcrs));
			snprintf(key, sizeof(key), "%s.banks.%s.extraData", tags[t], bn);
			CU_ASSERT_FATAL((xd = json_string_value(test_jget(exp, key))) != NULL);
			extra_len = hex_to(xd, extra, sizeof(extra));
			snprintf(key, sizeof(key), "%s.banks.%s.sig", tags[t], bn);
			CU_ASSERT_STRING_EQUAL(json_string_value(test_jget(exp, key)), "OK");
			CU_ASSERT_FATAL(test_pcrs_file(vpath(p, sizeof(p), "gce-vtpm/%s/pcrs_%s.txt", tags[t], bn),
			    (enum tpm_bank)b, &pcrs) == 0);
			CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "gce-vtpm/%s/quote_%s.msg", tags[t], bn), &msg,
			    &msg_len) == 0);
			CU_ASSERT_FATAL(test_slurp(vpath(p, sizeof(p), "gce-vtpm/%s/quote_%s.sig", tags[t], bn), &sig,
			    &sig_len) == 0);
			int r = tpm_quote_verify(msg, msg_len, sig, sig_len, ak.pkey, &pcrs, extra, extra_len,
			    &claims, &info, &why);

			CHECKF(r == 0, "%s %s: %s", tags[t], bn, why);
			if (r == 0) {
				ok++;
				CU_ASSERT(json_object_size(json_object_get(claims, "pcrs")) == 1);
				snprintf(key, sizeof(key), "pcrs.%s", bn);
				CU_ASSERT(json_object_size(test_jget(claims, key)) == 24);
				snprintf(key, sizeof(key), "%s.banks.%s.pcr_bank_alg", tags[t], bn);
				char alg[16];

				snprintf(alg, sizeof(alg), "0x%x", tpm_bank_alg((enum tpm_bank)b));
				CU_ASSERT_STRING_EQUAL(json_string_value(test_jget(exp, key)), alg);
				CU_ASSERT(info.selected[b] == 0xffffff);
				json_decref(claims);
				claims = NULL;
			}
			/* the other tag's nonce is refused */
			uint8_t other[2] = {0x90, 0x09};

			CU_ASSERT(tpm_quote_verify(msg, msg_len, sig, sig_len, ak.pkey, &pcrs, other,
			    extra_len == 0 ? 2 : 0, &claims, NULL, &why) == KW_ERR_MISMATCH);
			/* PCR 23 changed */
			pcrs.val[b][23][3] ^= 0x10;
			CU_ASSERT(tpm_quote_verify(msg, msg_len, sig, sig_len, ak.pkey, &pcrs, extra, extra_len,
			    &claims, NULL, &why) == KW_ERR_MISMATCH);
			free(msg);
			free(sig);
		}
		tpm_public_clear(&ak);
	}
	CU_ASSERT(ok == 6);
	json_decref(exp);
}

/* Standard base64 with padding (trustee's JSON) into a new buffer. */
static uint8_t *
b64std(const char *s, size_t *ret_len)
{
	size_t n = s != NULL ? strlen(s) : 0;
	uint8_t *out = malloc(n + 1);
	int m;

	CU_ASSERT_FATAL(n >= 4 && out != NULL);
	m = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	CU_ASSERT_FATAL(m > 0);
	/* EVP_DecodeBlock counts the padding as zero bytes */
	if (s[n - 1] == '=')
		m -= s[n - 2] == '=' ? 2 : 1;
	*ret_len = (size_t)m;
	return out;
}

/* trustee's libtpms quote: SPKI AK, 24 sha256 PCRs, 64-byte extraData. */
static void
test_trustee(void)
{
	char p[4096];
	json_t *ev, *exp, *claims = NULL, *v, *a;
	const unsigned char *der;
	uint8_t *raw, *msg, *sig, extra[64];
	size_t i, extra_len, raw_len, msg_len, sig_len;
	EVP_PKEY *ak = NULL;
	struct tpm_pcrs pcrs;
	const char *why = NULL;

	ev = test_json_file(vpath(p, sizeof(p), "trustee-swtpm/tpm_evidence.json"));
	exp = test_json_file(vpath(p, sizeof(p), "trustee-swtpm/expected.json"));
	CU_ASSERT_FATAL(ev != NULL && exp != NULL);
	a = json_object_get(json_object_get(exp, "tpm_evidence.json"), "attest");
	CU_ASSERT_FATAL(a != NULL);
	raw = b64std(json_string_value(json_object_get(ev, "ak_public")), &raw_len);
	der = raw;
	CU_ASSERT_FATAL((ak = d2i_PUBKEY(NULL, &der, (long)raw_len)) != NULL);
	msg = b64std(json_string_value(test_jget(ev, "tpm_quote.message")), &msg_len);
	sig = b64std(json_string_value(test_jget(ev, "tpm_quote.signature")), &sig_len);
	memset(&pcrs, 0, sizeof(pcrs));
	json_array_foreach(test_jget(ev, "tpm_quote.pcrs"), i, v) {
		uint8_t val[32];

		CU_ASSERT_FATAL(json_string_length(v) == 64 && kw_hex_decode(json_string_value(v), val, 32) == 0);
		CU_ASSERT_FATAL(tpm_pcrs_set(&pcrs, TPM_BANK_SHA256, (unsigned int)i, val, 32) == 0);
	}
	CU_ASSERT(pcrs.present[TPM_BANK_SHA256] == 0xffffff);
	extra_len = hex_to(json_string_value(json_object_get(a, "extraData")), extra, sizeof(extra));
	CU_ASSERT(extra_len == 64);
	CHECK_RC(tpm_quote_verify(msg, msg_len, sig, sig_len, ak, &pcrs, extra, extra_len, &claims, NULL,
	    &why), 0, "%s", why);
	CU_ASSERT_STRING_EQUAL(json_string_value(test_jget(claims, "pcrs.sha256.17")),
	    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	CU_ASSERT(json_integer_value(test_jget(claims, "tpm.clock")) == json_integer_value(json_object_get(a,
	    "clock")));
	CU_ASSERT_STRING_EQUAL(json_string_value(test_jget(claims, "tpm.qualified_signer")),
	    json_string_value(json_object_get(a, "qualifiedSigner")));
	/* a 48-byte binding that is the prefix of the 64-byte extraData is refused */
	CU_ASSERT(tpm_quote_verify(msg, msg_len, sig, sig_len, ak, &pcrs, extra, 48, &claims, NULL, &why) ==
	    KW_ERR_MISMATCH);
	json_decref(claims);
	EVP_PKEY_free(ak);
	free(raw);
	free(msg);
	free(sig);
	json_decref(ev);
	json_decref(exp);
}

static json_t *
jt(const char *text)
{
	json_error_t e;

	return json_loads(text, JSON_REJECT_DUPLICATES, &e);
}

static void
test_pcrs_json(void)
{
	static const char *const bad[] = {
		"[]", "{}", "{\"sha512\": {\"0\": \"00\"}}", "{\"sha256\": {}}", "{\"sha256\": []}",
		"{\"sha1\": {\"0\": \"00\"}}", "{\"sha1\": {\"24\": \"0000000000000000000000000000000000000000\"}}",
		"{\"sha1\": {\"01\": \"0000000000000000000000000000000000000000\"}}",
		"{\"sha1\": {\"-1\": \"0000000000000000000000000000000000000000\"}}",
		"{\"sha1\": {\"x\": \"0000000000000000000000000000000000000000\"}}",
		"{\"sha1\": {\"0\": \"000000000000000000000000000000000000000g\"}}",
		"{\"sha1\": {\"0\": 5}}",
		"{\"sha1\": {\"0\": \"00000000000000000000000000000000000000\"}}",
	};
	struct tpm_pcrs p;
	const char *why = NULL;
	json_t *j;

	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		memset(&p, 0xa5, sizeof(p));
		CU_ASSERT_FATAL((j = jt(bad[i])) != NULL);
		CHECK_RC(tpm_pcrs_from_json(j, &p, &why), KW_ERR_INVALID_FORMAT, "accepted %s", bad[i]);
		CU_ASSERT(p.present[0] == 0xa5a5a5a5u);   /* untouched */
		json_decref(j);
	}
	CU_ASSERT_FATAL((j = jt("{\"sha1\": {\"23\": \"00000000000000000000000000000000000000FF\"},"
	    "\"sha384\": {\"0\": \"" "0102030405060708091011121314151617181920212223242526272829303132"
	    "33343536373839404142434445464748\", \"10\": \"" "00000000000000000000000000000000000000000000"
	    "0000000000000000000000000000000000000000000000000000\"}}")) != NULL);
	CHECK_RC(tpm_pcrs_from_json(j, &p, &why), 0, "%s", why);
	CU_ASSERT(p.present[TPM_BANK_SHA1] == UINT32_C(1) << 23);
	CU_ASSERT(p.present[TPM_BANK_SHA256] == 0);
	CU_ASSERT(p.present[TPM_BANK_SHA384] == ((UINT32_C(1) << 10) | 1));
	CU_ASSERT(p.val[TPM_BANK_SHA1][23][19] == 0xff);
	CU_ASSERT(p.val[TPM_BANK_SHA384][0][47] == 0x48);
	json_decref(j);
}

static void
test_pcrs_text(void)
{
	static const char *const bad[] = {
		"", "\n\n", "0 00", "x 0000000000000000000000000000000000000000",
		"0 0000000000000000000000000000000000000000\n0 0000000000000000000000000000000000000000",
		"0  0000000000000000000000000000000000000000", "24 0000000000000000000000000000000000000000",
		"0 0000000000000000000000000000000000000000 ",
	};
	struct tpm_pcrs p;
	const char *why = NULL;

	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		memset(&p, 0, sizeof(p));
		CHECK_RC(tpm_pcrs_from_text(bad[i], strlen(bad[i]), TPM_BANK_SHA1, &p, &why), KW_ERR_INVALID_FORMAT,
		    "accepted '%s'", bad[i]);
		CU_ASSERT(p.present[TPM_BANK_SHA1] == 0);
	}
	const char *good = "3 00000000000000000000000000000000000000AA\r\n\n7 0000000000000000000000000000000000000001";

	memset(&p, 0, sizeof(p));
	CHECK_RC(tpm_pcrs_from_text(good, strlen(good), TPM_BANK_SHA1, &p, &why), 0, "%s", why);
	CU_ASSERT(p.present[TPM_BANK_SHA1] == 0x88);
	CU_ASSERT(p.val[TPM_BANK_SHA1][3][19] == 0xaa && p.val[TPM_BANK_SHA1][7][19] == 1);
}

int
test_tpm_quote_register(void)
{
	CU_pSuite s = CU_add_suite("tpm_quote", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_swtpm_ak) | TEST_ADD(s, test_swtpm_quote) | TEST_ADD(s, test_swtpm_negatives) |
	    TEST_ADD(s, test_swtpm_sweeps) | TEST_ADD(s, test_gce) | TEST_ADD(s, test_trustee) |
	    TEST_ADD(s, test_pcrs_json) | TEST_ADD(s, test_pcrs_text);
}
