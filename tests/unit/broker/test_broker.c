/* SPDX-License-Identifier: Apache-2.0 */
/* test_broker: challenges, sessions, configuration, request parsers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_helper.h"
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "broker.h"
#include "keysync.h"
#include "kw_b64url.h"
#include "kw_jose.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_util.h"

#define T0 1800000000LL

static json_t *
jwk_of_pub(EVP_PKEY *pk)
{
	json_t *j = NULL;

	CU_ASSERT_FATAL(kw_jwk_export_public(pk, &j) == 0);
	return j;
}

/* ---- challenges ---- */

static void
test_challenge_roundtrip(void)
{
	struct kw_challenges *c;
	char n[KW_CHALLENGE_STR_MAX], n2[KW_CHALLENGE_STR_MAX];

	CU_ASSERT_FATAL(kw_challenges_new(60, 100, &c) == 0);
	CU_ASSERT_FATAL(kw_challenge_issue(c, "snp", T0, n) == 0);
	CU_ASSERT_EQUAL(strlen(n), kw_b64url_enclen(KW_CHALLENGE_RAW_LEN));
	CU_ASSERT_FATAL(kw_challenge_issue(c, "snp", T0, n2) == 0);
	CU_ASSERT(strcmp(n, n2) != 0);
	CU_ASSERT_EQUAL(kw_challenge_consume(c, "tdx", n, T0), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_challenge_consume(c, "snp", n, T0 + 1), 0);
	CU_ASSERT_EQUAL(kw_challenge_consume(c, "snp", n, T0 + 2), KW_ERR_REPLAY);
	CU_ASSERT_EQUAL(kw_challenge_consume(c, "snp", n2, T0 + 61), KW_ERR_EXPIRED);
	CU_ASSERT_EQUAL(kw_challenge_consume(c, "snp", n2, T0 + 60), 0);
	kw_challenges_free(c);
}

static void
test_challenge_tamper(void)
{
	struct kw_challenges *c, *other;
	char n[KW_CHALLENGE_STR_MAX], t[KW_CHALLENGE_STR_MAX];
	size_t len;

	CU_ASSERT_FATAL(kw_challenges_new(60, 100, &c) == 0);
	CU_ASSERT_FATAL(kw_challenges_new(60, 100, &other) == 0);
	CU_ASSERT_FATAL(kw_challenge_issue(c, "snp", T0, n) == 0);
	len = strlen(n);
	/* every single-character change is rejected without consuming n */
	for (size_t i = 0; i < len; i++) {
		memcpy(t, n, len + 1);
		t[i] = t[i] == 'A' ? 'B' : 'A';
		CU_ASSERT_NOT_EQUAL(kw_challenge_consume(c, "snp", t, T0), 0);
	}
	/* every truncation is rejected */
	for (size_t i = 0; i < len; i++) {
		memcpy(t, n, i);
		t[i] = '\0';
		CU_ASSERT_EQUAL(kw_challenge_consume(c, "snp", t, T0), KW_ERR_INVALID_FORMAT);
	}
	/* another broker instance (another key) does not accept it */
	CU_ASSERT_EQUAL(kw_challenge_consume(other, "snp", n, T0), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_challenge_consume(c, "snp", n, T0), 0);
	CU_ASSERT_EQUAL(kw_challenge_consume(c, "snp", NULL, T0), KW_ERR_INVALID_FORMAT);
	kw_challenges_free(c);
	kw_challenges_free(other);
}

/* kw_challenge_key: one secret per challenge, only for a challenge that opens, not the challenge's MAC */
static void
test_challenge_key(void)
{
	struct kw_challenges *c, *other;
	char n[KW_CHALLENGE_STR_MAX], n2[KW_CHALLENGE_STR_MAX], t[KW_CHALLENGE_STR_MAX];
	uint8_t k1[KW_CHALLENGE_KEY_SIZE], k2[KW_CHALLENGE_KEY_SIZE], k3[KW_CHALLENGE_KEY_SIZE], raw[KW_CHALLENGE_RAW_LEN];
	size_t rawlen = 0;

	CU_ASSERT_FATAL(kw_challenges_new(60, 100, &c) == 0);
	CU_ASSERT_FATAL(kw_challenges_new(60, 100, &other) == 0);
	CU_ASSERT_FATAL(kw_challenge_issue(c, "tpm", T0, n) == 0);
	CU_ASSERT_FATAL(kw_challenge_issue(c, "tpm", T0, n2) == 0);
	/* the same key at /auth and at /attest, until the challenge expires */
	CU_ASSERT_EQUAL(kw_challenge_key(c, "tpm", n, T0, k1), 0);
	CU_ASSERT_EQUAL(kw_challenge_key(c, "tpm", n, T0 + 60, k2), 0);
	CU_ASSERT(memcmp(k1, k2, sizeof(k1)) == 0);
	memset(k3, 0x5a, sizeof(k3));
	CU_ASSERT_EQUAL(kw_challenge_key(c, "tpm", n, T0 + 61, k3), KW_ERR_EXPIRED);
	CU_ASSERT(k3[0] == 0x5a && k3[31] == 0x5a);    /* untouched on failure */
	/* another challenge, another tee, another broker: no key or another one */
	CU_ASSERT_EQUAL(kw_challenge_key(c, "tpm", n2, T0, k2), 0);
	CU_ASSERT(memcmp(k1, k2, sizeof(k1)) != 0);
	CU_ASSERT_EQUAL(kw_challenge_key(c, "snp", n, T0, k3), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_challenge_key(other, "tpm", n, T0, k3), KW_ERR_INVALID_FORMAT);
	memcpy(t, n, strlen(n) + 1);
	t[5] = t[5] == 'A' ? 'B' : 'A';
	CU_ASSERT_NOT_EQUAL(kw_challenge_key(c, "tpm", t, T0, k3), 0);
	/* the key is neither the challenge's MAC nor any part of the challenge */
	CU_ASSERT_FATAL(kw_b64url_decode(n, strlen(n), raw, sizeof(raw), &rawlen) == 0 && rawlen == sizeof(raw));
	for (size_t i = 0; i + sizeof(k1) <= rawlen; i++)
		CU_ASSERT(memcmp(raw + i, k1, sizeof(k1)) != 0);
	/* deriving spends nothing: the challenge still opens once */
	CU_ASSERT_EQUAL(kw_challenge_consume(c, "tpm", n, T0), 0);
	kw_challenges_free(c);
	kw_challenges_free(other);
}

/*
 * Shared seal keys (kw_challenges_set_keys): two instances with the same
 * masters open each other's challenges and derive the same /auth secret;
 * the version travels in the challenge; a rotation keeps the older
 * versions; an unknown version or another master is refused; purposes
 * separate the keys.
 */
static void
test_challenge_seal_keys(void)
{
	struct kw_challenges *a, *b, *other;
	struct kw_seal_master m[3];
	char n[KW_CHALLENGE_STR_MAX], n2[KW_CHALLENGE_STR_MAX];
	uint8_t ka[KW_CHALLENGE_KEY_SIZE], kb[KW_CHALLENGE_KEY_SIZE], raw[KW_CHALLENGE_RAW_LEN];
	size_t rawlen = 0;
	int64_t vers[3] = {100, 200, 300};

	for (size_t i = 0; i < 3; i++) {
		m[i].version = (uint32_t)vers[i];
		memset(m[i].key, (int)(0x11 * (i + 1)), sizeof(m[i].key));
	}
	CU_ASSERT_FATAL(kw_challenges_new(60, 100, &a) == 0);
	CU_ASSERT_FATAL(kw_challenges_new(60, 100, &b) == 0);
	CU_ASSERT_FATAL(kw_challenges_new(60, 100, &other) == 0);
	CU_ASSERT_EQUAL(kw_challenges_version(a), 0);
	/* bad arguments leave the keys as they were */
	CU_ASSERT_EQUAL(kw_challenges_set_keys(a, "challenge", m, 0, 0), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_challenges_set_keys(a, "challenge", m, 2, 2), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_challenges_set_keys(a, "challenge", m, 4, 0), KW_ERR_INVALID_ARG);
	m[1].version = 100;
	CU_ASSERT_EQUAL(kw_challenges_set_keys(a, "challenge", m, 2, 0), KW_ERR_INVALID_ARG);
	m[1].version = 200;
	CU_ASSERT_EQUAL(kw_challenges_version(a), 0);
	/* A and B share version 100 */
	CU_ASSERT_FATAL(kw_challenges_set_keys(a, "challenge", m, 1, 0) == 0);
	CU_ASSERT_FATAL(kw_challenges_set_keys(b, "challenge", m, 1, 0) == 0);
	CU_ASSERT_FATAL(kw_challenges_set_keys(other, "dpop", m, 1, 0) == 0);
	CU_ASSERT_EQUAL(kw_challenges_version(a), 100);
	CU_ASSERT_FATAL(kw_challenge_issue(a, "tpm", T0, n) == 0);
	CU_ASSERT_FATAL(kw_b64url_decode(n, strlen(n), raw, sizeof(raw), &rawlen) == 0);
	CU_ASSERT_EQUAL(rawlen, KW_CHALLENGE_RAW_LEN);
	CU_ASSERT(raw[0] == 2 && raw[1] == 0 && raw[2] == 0 && raw[3] == 0 && raw[4] == 100);
	CU_ASSERT_EQUAL(kw_challenge_verify(b, "tpm", n, T0), 0);
	CU_ASSERT_EQUAL(kw_challenge_key(a, "tpm", n, T0, ka), 0);
	CU_ASSERT_EQUAL(kw_challenge_key(b, "tpm", n, T0, kb), 0);
	CU_ASSERT(memcmp(ka, kb, sizeof(ka)) == 0);
	/* another purpose of the same master is another key */
	CU_ASSERT_EQUAL(kw_challenge_verify(other, "tpm", n, T0), KW_ERR_INVALID_FORMAT);
	/* rotation at A: 100 and 200 held, 200 seals; B still on 100 only refuses 200 */
	CU_ASSERT_FATAL(kw_challenges_set_keys(a, "challenge", m, 2, 1) == 0);
	CU_ASSERT_EQUAL(kw_challenges_version(a), 200);
	CU_ASSERT_FATAL(kw_challenge_issue(a, "tpm", T0, n2) == 0);
	CU_ASSERT_EQUAL(kw_challenge_verify(a, "tpm", n, T0), 0);     /* issued before */
	CU_ASSERT_EQUAL(kw_challenge_verify(a, "tpm", n2, T0), 0);
	CU_ASSERT_EQUAL(kw_challenge_verify(b, "tpm", n2, T0), KW_ERR_INVALID_FORMAT);
	/* B catches up, still sealing with 100 (not active yet): both open */
	CU_ASSERT_FATAL(kw_challenges_set_keys(b, "challenge", m, 2, 0) == 0);
	CU_ASSERT_EQUAL(kw_challenges_version(b), 100);
	CU_ASSERT_EQUAL(kw_challenge_verify(b, "tpm", n2, T0), 0);
	CU_ASSERT_EQUAL(kw_challenge_key(b, "tpm", n2, T0, kb), 0);
	CU_ASSERT_EQUAL(kw_challenge_key(a, "tpm", n2, T0, ka), 0);
	CU_ASSERT(memcmp(ka, kb, sizeof(ka)) == 0);
	/* 200 and 300 only: the challenge of version 100 is no longer accepted */
	CU_ASSERT_FATAL(kw_challenges_set_keys(b, "challenge", m + 1, 2, 1) == 0);
	CU_ASSERT_EQUAL(kw_challenge_verify(b, "tpm", n, T0), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_challenge_verify(b, "tpm", n2, T0), 0);
	/* the version byte is covered by the MAC: relabelled as 300, refused */
	CU_ASSERT_FATAL(kw_b64url_decode(n2, strlen(n2), raw, sizeof(raw), &rawlen) == 0);
	raw[3] = 1;
	raw[4] = 44;    /* 300 = 0x012c */
	{
		char *t = NULL;

		CU_ASSERT_FATAL(kw_b64url_encode(raw, rawlen, &t) == 0);
		CU_ASSERT_EQUAL(kw_challenge_verify(b, "tpm", t, T0), KW_ERR_INVALID_FORMAT);
		free(t);
	}
	/* spending is per instance (the global set is the store's) */
	CU_ASSERT_EQUAL(kw_challenge_consume(a, "tpm", n2, T0), 0);
	CU_ASSERT_EQUAL(kw_challenge_consume(a, "tpm", n2, T0), KW_ERR_REPLAY);
	CU_ASSERT_EQUAL(kw_challenge_consume(b, "tpm", n2, T0), 0);
	kw_challenges_free(a);
	kw_challenges_free(b);
	kw_challenges_free(other);
	/* which version seals: the newest at least delay seconds old, else the oldest */
	CU_ASSERT_EQUAL(kw_keysync_seal_issue(vers, 3, 400, 50), 2);
	CU_ASSERT_EQUAL(kw_keysync_seal_issue(vers, 3, 300, 50), 1);
	CU_ASSERT_EQUAL(kw_keysync_seal_issue(vers, 3, 249, 50), 0);
	CU_ASSERT_EQUAL(kw_keysync_seal_issue(vers, 3, 120, 50), 0);
	CU_ASSERT_EQUAL(kw_keysync_seal_issue(vers, 1, 100, 50), 0);
	CU_ASSERT_EQUAL(kw_keysync_seal_issue(vers, 3, 300, 0), 2);
}

static void
test_challenge_capacity(void)
{
	struct kw_challenges *c;
	char n[8][KW_CHALLENGE_STR_MAX];

	CU_ASSERT_FATAL(kw_challenges_new(10, 4, &c) == 0);
	for (int i = 0; i < 8; i++)
		CU_ASSERT_FATAL(kw_challenge_issue(c, "snp", T0, n[i]) == 0);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(kw_challenge_consume(c, "snp", n[i], T0), 0);
	/* full of live entries: shed, do not forget a used one */
	CU_ASSERT_EQUAL(kw_challenge_consume(c, "snp", n[4], T0), KW_ERR_UNAVAILABLE);
	CU_ASSERT_EQUAL(kw_challenge_consume(c, "snp", n[0], T0), KW_ERR_REPLAY);
	kw_challenges_free(c);

	/* once the used ones expire, room is made again */
	CU_ASSERT_FATAL(kw_challenges_new(10, 2, &c) == 0);
	CU_ASSERT_FATAL(kw_challenge_issue(c, "snp", T0, n[0]) == 0);
	CU_ASSERT_FATAL(kw_challenge_issue(c, "snp", T0, n[1]) == 0);
	CU_ASSERT_FATAL(kw_challenge_issue(c, "snp", T0 + 20, n[2]) == 0);
	CU_ASSERT_EQUAL(kw_challenge_consume(c, "snp", n[0], T0), 0);
	CU_ASSERT_EQUAL(kw_challenge_consume(c, "snp", n[1], T0), 0);
	CU_ASSERT_EQUAL(kw_challenge_consume(c, "snp", n[2], T0 + 25), 0);
	kw_challenges_free(c);
}

/* Check records nothing; only record spends; of two checks of one challenge one record wins. */
static void
test_challenge_check_record(void)
{
	struct kw_challenges *c;
	struct kw_challenge_ticket t1, t2;
	char n[4][KW_CHALLENGE_STR_MAX];

	CU_ASSERT_FATAL(kw_challenges_new(60, 2, &c) == 0);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_FATAL(kw_challenge_issue(c, "snp", T0, n[i]) == 0);
	CU_ASSERT_EQUAL(kw_challenge_check(c, "snp", n[0], T0, &t1), 0);
	CU_ASSERT_EQUAL(kw_challenge_check(c, "snp", n[0], T0 + 1, &t2), 0);
	CU_ASSERT_EQUAL(t1.expiry, T0 + 60);
	CU_ASSERT_EQUAL(memcmp(t1.id, t2.id, sizeof(t1.id)), 0);
	CU_ASSERT_EQUAL(kw_challenge_record(c, &t1, T0 + 2), 0);
	CU_ASSERT_EQUAL(kw_challenge_record(c, &t2, T0 + 2), KW_ERR_REPLAY);
	CU_ASSERT_EQUAL(kw_challenge_check(c, "snp", n[0], T0 + 2, &t1), KW_ERR_REPLAY);
	/* forged: nothing checked, nothing recorded */
	CU_ASSERT_EQUAL(kw_challenge_check(c, "tdx", n[1], T0, &t1), KW_ERR_INVALID_FORMAT);
	/* expired during the appraisal: not accepted */
	CU_ASSERT_EQUAL(kw_challenge_check(c, "snp", n[1], T0 + 59, &t1), 0);
	CU_ASSERT_EQUAL(kw_challenge_record(c, &t1, T0 + 61), KW_ERR_EXPIRED);
	/* the set (2 entries) fills: check already says so, before any appraisal */
	CU_ASSERT_EQUAL(kw_challenge_consume(c, "snp", n[2], T0 + 3), 0);
	CU_ASSERT_EQUAL(kw_challenge_check(c, "snp", n[3], T0 + 3, &t1), KW_ERR_UNAVAILABLE);
	CU_ASSERT_EQUAL(kw_challenge_check(c, "snp", n[2], T0 + 3, &t1), KW_ERR_REPLAY);
	kw_challenges_free(c);
}

/* ---- tokens and DPoP ---- */

static EVP_PKEY *
ec_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	CU_ASSERT_FATAL(k != NULL);
	return k;
}

/* A token key set of one key held in memory (the HSM signs in production). */
static struct kw_token_keys *
keys_of(EVP_PKEY **privs, size_t n, const int64_t *created)
{
	json_t *arr = json_array(), *reply;
	struct kw_token_keys *ks = NULL;

	for (size_t i = 0; i < n; i++) {
		json_t *jwk = NULL;
		char kid[44], label[32];
		CU_ASSERT_FATAL(kw_jwk_export_public(privs[i], &jwk) == 0);
		CU_ASSERT_FATAL(kw_jwk_thumbprint(jwk, kid) == 0);
		snprintf(label, sizeof(label), "kw-token/%lld", (long long)created[i]);
		json_array_append_new(arr, json_pack("{s:s, s:I, s:s, s:o}", "label", label,
		    "created", (json_int_t)created[i], "kid", kid, "jwk", jwk));
	}
	reply = json_pack("{s:o}", "keys", arr);
	CU_ASSERT_FATAL(kw_token_keys_from_reply(reply, &ks) == 0);
	json_decref(reply);
	return ks;
}

static char *
sign_compact(EVP_PKEY *priv, const json_t *hdr, const json_t *pl)
{
	char *si = NULL, *out = NULL;
	size_t silen;
	uint8_t sig[KW_ES256_SIG_LEN];

	CU_ASSERT_FATAL(kw_jws_signing_input(hdr, pl, &si, &silen) == 0);
	CU_ASSERT_FATAL(kw_es256_sign(priv, si, silen, sig) == 0);
	CU_ASSERT_FATAL(kw_jws_compact(si, sig, sizeof(sig), &out) == 0);
	free(si);
	return out;
}

static json_t *
fake_claims(int debug)
{
	return json_pack("{s:s, s:s, s:s, s:b, s:s}", "tee", "snp", "root", "amd", "measurement",
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f",
	    "debug", debug, "report_data", "ff");
}

/*
 * TDX claims in the token: the verifier table's list (no raw evidence, no
 * platform details), its appraisal policy, and the hardware tier by root
 * and TCB status.
 */
static void
test_token_tdx(void)
{
	static const struct { const char *root, *status; int hw; const char *ear; } cases[] = {
		{"intel", "UpToDate", 2, "affirming"},
		{"intel", "OutOfDate", 32, "warning"},
		{"intel", "SWHardeningNeeded", 32, "warning"},
		{"intel", "Revoked", 96, "contraindicated"},
		{"test", "UpToDate", 96, "contraindicated"},
		{"amd", "UpToDate", 96, "contraindicated"},     /* another TEE's vendor is not genuine here */
	};
	EVP_PKEY *sigkey = ec_key(), *enc = EVP_RSA_gen(3072);
	json_t *pub = jwk_of_pub(enc), *sig = jwk_of_pub(sigkey);

	for (size_t i = 0; i < KW_ARRAY_SIZE(cases); i++) {
		json_t *claims = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:[s], s:{s:i}, s:s, s:{s:s}, s:{}}",
		    "tee", "tdx", "root", cases[i].root, "mrtd", "aa", "debug", 0, "tcb_status", cases[i].status,
		    "report_data", "ff", "advisory_ids", "INTEL-SA-00837", "collateral",
		    "tcb_evaluation_data_number", 17, "rtmr3", "bb", "platform", "pce_id", "0000", "config");
		json_t *hdr = NULL, *pl = NULL, *sub, *kc;

		CU_ASSERT_FATAL(kw_ear_build(claims, pub, sig, "https://kw", "kid", T0, 300, &hdr, &pl) == 0);
		sub = json_object_get(json_object_get(pl, "submods"), "cpu0");
		kc = json_object_get(sub, "kw.claims");
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(sub,
		    "ear.trustworthiness-vector"), "hardware")), cases[i].hw);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(sub, "ear.status")), cases[i].ear);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(sub, "ear.appraisal-policy-id")),
		    "urn:keywarden:appraisal:tdx-evidence:v1");
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(kc, "tcb_status")), cases[i].status);
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(kc, "collateral"),
		    "tcb_evaluation_data_number")), 17);
		CU_ASSERT_PTR_NOT_NULL(json_object_get(kc, "advisory_ids"));
		CU_ASSERT_PTR_NOT_NULL(json_object_get(kc, "rtmr3"));
		CU_ASSERT_PTR_NOT_NULL(json_object_get(kc, "config"));
		CU_ASSERT_PTR_NULL(json_object_get(kc, "report_data"));
		CU_ASSERT_PTR_NULL(json_object_get(kc, "platform"));
		json_decref(hdr);
		json_decref(pl);
		json_decref(claims);
	}
	/* a tee the verifier table does not have gets no token */
	{
		json_t *claims = json_pack("{s:s, s:s}", "tee", "sgx", "root", "test"), *hdr = NULL, *pl = NULL;

		CU_ASSERT_EQUAL(kw_ear_build(claims, pub, sig, "https://kw", "kid", T0, 300, &hdr, &pl),
		    KW_ERR_INVALID_ARG);
		CU_ASSERT_PTR_NULL(hdr);
		json_decref(claims);
	}
	json_decref(pub);
	json_decref(sig);
	EVP_PKEY_free(sigkey);
	EVP_PKEY_free(enc);
}

static void
test_token_roundtrip(void)
{
	EVP_PKEY *tk = ec_key(), *sigkey = ec_key(), *enc = EVP_RSA_gen(3072);
	int64_t created = T0 - 1000;
	struct kw_token_keys *ks = keys_of(&tk, 1, &created);
	json_t *hdr = NULL, *pl = NULL, *got = NULL, *claims = fake_claims(0);
	json_t *pub = jwk_of_pub(enc), *sig = jwk_of_pub(sigkey);
	struct kw_token_view v;
	const char *why;
	char *tok, jkt[44];

	CU_ASSERT_FATAL(kw_ear_build(claims, pub, sig, "https://kw", ks->k[0].kid, T0, 300, &hdr,
	    &pl) == 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(pl, "eat_profile")), KW_EAR_PROFILE);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(pl, "exp")), T0 + 300);
	CU_ASSERT_FATAL(kw_jwk_thumbprint(sig, jkt) == 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(pl, "cnf"), "jkt")), jkt);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(json_object_get(pl,
	    "submods"), "cpu0"), "ear.status")), "affirming");
	/* no raw evidence: the report data stays out */
	CU_ASSERT_PTR_NULL(json_object_get(json_object_get(json_object_get(json_object_get(pl,
	    "submods"), "cpu0"), "kw.claims"), "report_data"));
	tok = sign_compact(tk, hdr, pl);
	CU_ASSERT_EQUAL(kw_token_verify(ks, tok, strlen(tok), "https://kw", T0 + 10, 300, &got, &why), 0);
	CU_ASSERT_FATAL(got != NULL);
	CU_ASSERT_EQUAL(kw_token_view(got, &v), 0);
	CU_ASSERT_STRING_EQUAL(v.jkt, jkt);
	CU_ASSERT_EQUAL(v.measurement[47], 0x2f);
	CU_ASSERT_EQUAL(v.debug, 0);
	{
		/* the view's RSA key is the TEE's, its kid the JWK's thumbprint */
		uint8_t *n = NULL, *e = NULL;
		size_t nlen = 0, elen = 0;
		char kid[44];

		CU_ASSERT_FATAL(kw_jwk_rsa_components(enc, &n, &nlen, &e, &elen) == 0);
		CU_ASSERT(v.tee_nlen == nlen && memcmp(v.tee_n, n, nlen) == 0);
		CU_ASSERT(v.tee_elen == elen && memcmp(v.tee_e, e, elen) == 0);
		CU_ASSERT_FATAL(kw_jwk_thumbprint(pub, kid) == 0);
		CU_ASSERT_STRING_EQUAL(v.tee_kid, kid);
		free(n);
		free(e);
	}
	kw_token_view_clear(&v);
	json_decref(got);
	/* expiry is exact; another issuer and time travel fail */
	CU_ASSERT_EQUAL(kw_token_verify(ks, tok, strlen(tok), "https://kw", T0 + 300, 300, &got, &why),
	    KW_ERR_EXPIRED);
	CU_ASSERT_EQUAL(kw_token_verify(ks, tok, strlen(tok), "https://other", T0, 300, &got, &why),
	    KW_ERR_MISMATCH);
	CU_ASSERT_EQUAL(kw_token_verify(ks, tok, strlen(tok), "https://kw", T0 - 100, 300, &got, &why),
	    KW_ERR_EXPIRED);
	/* altered payload */
	json_object_set_new(json_object_get(json_object_get(json_object_get(pl, "submods"), "cpu0"),
	    "kw.claims"), "debug", json_true());
	{
		char *si, *forged;
		size_t silen;
		CU_ASSERT_FATAL(kw_jws_signing_input(hdr, pl, &si, &silen) == 0);
		forged = malloc(silen + 200);
		snprintf(forged, silen + 200, "%s%s", si, strrchr(tok, '.'));
		CU_ASSERT_EQUAL(kw_token_verify(ks, forged, strlen(forged), "https://kw", T0, 300, &got,
		    &why), KW_ERR_SIG_INVALID);
		free(si);
		free(forged);
	}
	free(tok);
	/* signed by a key that is not ours */
	{
		EVP_PKEY *other = ec_key();
		tok = sign_compact(other, hdr, pl);
		CU_ASSERT_EQUAL(kw_token_verify(ks, tok, strlen(tok), "https://kw", T0, 300, &got, &why),
		    KW_ERR_SIG_INVALID);
		free(tok);
		EVP_PKEY_free(other);
	}
	/* a jwk header, a crit header, another alg: rejected before any key is used */
	{
		json_t *h2 = json_deep_copy(hdr);
		json_object_set_new(h2, "jwk", json_deep_copy(sig));
		tok = sign_compact(tk, h2, pl);
		CU_ASSERT_NOT_EQUAL(kw_token_verify(ks, tok, strlen(tok), "https://kw", T0, 300, &got,
		    &why), 0);
		free(tok);
		json_decref(h2);
		h2 = json_deep_copy(hdr);
		json_object_set_new(h2, "crit", json_pack("[s]", "exp"));
		tok = sign_compact(tk, h2, pl);
		CU_ASSERT_NOT_EQUAL(kw_token_verify(ks, tok, strlen(tok), "https://kw", T0, 300, &got,
		    &why), 0);
		free(tok);
		json_decref(h2);
		h2 = json_deep_copy(hdr);
		json_object_set_new(h2, "alg", json_string("HS256"));
		tok = sign_compact(tk, h2, pl);
		CU_ASSERT_EQUAL(kw_token_verify(ks, tok, strlen(tok), "https://kw", T0, 300, &got,
		    &why), KW_ERR_UNSUPPORTED);
		free(tok);
		json_decref(h2);
	}
	json_decref(hdr);
	json_decref(pl);
	json_decref(claims);
	json_decref(pub);
	json_decref(sig);
	kw_token_keys_free(ks);
	EVP_PKEY_free(tk);
	EVP_PKEY_free(sigkey);
	EVP_PKEY_free(enc);
}

static void
test_token_rotation(void)
{
	EVP_PKEY *k[2] = {ec_key(), ec_key()};
	int64_t created[2] = {T0 - 10000, T0};
	struct kw_token_keys *ks = keys_of(k, 2, created);
	json_t *jwks;

	CU_ASSERT_PTR_EQUAL(kw_token_keys_active(ks), &ks->k[1]);
	/* the old key stays published while its tokens can live, then goes */
	CU_ASSERT_TRUE(kw_token_key_published(ks, 0, T0 + 300, 300));
	CU_ASSERT_FALSE(kw_token_key_published(ks, 0, T0 + 300 + 61, 300));
	CU_ASSERT_TRUE(kw_token_key_published(ks, 1, T0 + 100000, 300));
	jwks = kw_token_jwks(ks, T0 + 10, 300);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(jwks, "keys")), 2);
	json_decref(jwks);
	jwks = kw_token_jwks(ks, T0 + 1000, 300);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(jwks, "keys")), 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(json_object_get(jwks,
	    "keys"), 0), "kid")), ks->k[1].kid);
	json_decref(jwks);
	kw_token_keys_free(ks);
	EVP_PKEY_free(k[0]);
	EVP_PKEY_free(k[1]);
}

static char *
make_proof(EVP_PKEY *key, const char *htm, const char *htu, int64_t iat, const char *jti,
    const char *token, const char *nonce)
{
	json_t *hdr = json_pack("{s:s, s:s, s:o}", "typ", "dpop+jwt", "alg", "ES256", "jwk",
	    jwk_of_pub(key));
	json_t *pl = json_pack("{s:s, s:s, s:I, s:s}", "htm", htm, "htu", htu, "iat",
	    (json_int_t)iat, "jti", jti);
	char ath[44], *out;

	CU_ASSERT_FATAL(kw_jose_ath(token, strlen(token), ath) == 0);
	json_object_set_new(pl, "ath", json_string(ath));
	if (nonce != NULL)
		json_object_set_new(pl, "nonce", json_string(nonce));
	out = sign_compact(key, hdr, pl);
	json_decref(hdr);
	json_decref(pl);
	return out;
}

static void
test_dpop(void)
{
	struct kw_dpop *d;
	EVP_PKEY *key = ec_key(), *other = ec_key();
	json_t *jwk = jwk_of_pub(key);
	char jkt[44], nonce[KW_CHALLENGE_STR_MAX], *p;
	const char *why, *htu = "https://kw/kbs/v0/resource/a/b/c", *tok = "aaa.bbb.ccc";
	struct kw_dpop_jti jti;
	int need;

	CU_ASSERT_FATAL(kw_jwk_thumbprint(jwk, jkt) == 0);
	CU_ASSERT_FATAL(kw_dpop_new(300, 60, 300, 1000, 256, &d) == 0);
	CU_ASSERT_FATAL(kw_dpop_nonce(d, T0, nonce) == 0);

	p = make_proof(key, "GET", htu, T0, "jti-0000000000000001", tok, nonce);
	CU_ASSERT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, jkt, T0, &jti, &need, &why), 0);
	/* verifying records nothing: the same proof verifies again until recorded */
	CU_ASSERT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, jkt, T0, &jti, &need, &why), 0);
	CU_ASSERT_EQUAL(jti.expiry, T0 + 60);    /* iat + iat_window */
	CU_ASSERT_EQUAL(kw_dpop_record(d, &jti, T0), 0);
	CU_ASSERT_EQUAL(kw_dpop_record(d, &jti, T0), KW_ERR_REPLAY);
	/* replay of the same proof */
	CU_ASSERT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, jkt, T0 + 1, &jti, &need, &why), KW_ERR_REPLAY);
	free(p);
	/* no nonce, a stale nonce, a foreign nonce: use_dpop_nonce */
	p = make_proof(key, "GET", htu, T0, "jti-0000000000000002", tok, NULL);
	CU_ASSERT_NOT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, jkt, T0, &jti, &need, &why), 0);
	CU_ASSERT_EQUAL(need, 1);
	free(p);
	p = make_proof(key, "GET", htu, T0 + 301, "jti-0000000000000003", tok, nonce);
	CU_ASSERT_NOT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, jkt, T0 + 301, &jti, &need, &why), 0);
	CU_ASSERT_EQUAL(need, 1);
	free(p);
	/* the nonce is reusable within its lifetime */
	p = make_proof(key, "GET", htu, T0 + 5, "jti-0000000000000004", tok, nonce);
	CU_ASSERT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, jkt, T0 + 5, &jti, &need, &why), 0);
	free(p);
	/* another key than cnf.jkt, another method, another URL, stale iat, other token */
	p = make_proof(other, "GET", htu, T0, "jti-0000000000000005", tok, nonce);
	CU_ASSERT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, jkt, T0, &jti, &need, &why), KW_ERR_MISMATCH);
	CU_ASSERT_EQUAL(need, 0);
	free(p);
	p = make_proof(key, "POST", htu, T0, "jti-0000000000000006", tok, nonce);
	CU_ASSERT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, jkt, T0, &jti, &need, &why), KW_ERR_MISMATCH);
	free(p);
	p = make_proof(key, "GET", "https://kw/kbs/v0/resource/a/b/d", T0, "jti-0000000000000007",
	    tok, nonce);
	CU_ASSERT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, jkt, T0, &jti, &need, &why), KW_ERR_MISMATCH);
	free(p);
	p = make_proof(key, "GET", htu, T0 - 61, "jti-0000000000000008", tok, nonce);
	CU_ASSERT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, jkt, T0, &jti, &need, &why), KW_ERR_EXPIRED);
	free(p);
	p = make_proof(key, "GET", htu, T0 + 61, "jti-0000000000000009", tok, nonce);
	CU_ASSERT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, jkt, T0, &jti, &need, &why), KW_ERR_EXPIRED);
	free(p);
	p = make_proof(key, "GET", htu, T0, "jti-0000000000000010", "xxx.yyy.zzz", nonce);
	CU_ASSERT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, jkt, T0, &jti, &need, &why), KW_ERR_MISMATCH);
	free(p);
	CU_ASSERT_NOT_EQUAL(kw_dpop_verify(d, NULL, "GET", htu, tok, jkt, T0, &jti, &need, &why), 0);
	CU_ASSERT_NOT_EQUAL(kw_dpop_verify(d, "a.b.c", "GET", htu, tok, jkt, T0, &jti, &need, &why), 0);
	kw_dpop_free(d);
	json_decref(jwk);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

/* jti values are partitioned by token key: one key's quota leaves the others alone. */
static void
test_dpop_quota(void)
{
	struct kw_dpop *d;
	struct kw_dpop_jti jti;
	EVP_PKEY *ka = ec_key(), *kb = ec_key();
	json_t *ja = jwk_of_pub(ka), *jb = jwk_of_pub(kb);
	char jkta[44], jktb[44], nonce[KW_CHALLENGE_STR_MAX], js[32], *p;
	const char *why, *htu = "https://kw/kbs/v0/resource/a/b/c", *tok = "aaa.bbb.ccc";
	int need;

	CU_ASSERT_FATAL(kw_jwk_thumbprint(ja, jkta) == 0 && kw_jwk_thumbprint(jb, jktb) == 0);
	CU_ASSERT_FATAL(kw_dpop_new(300, 60, 300, 5, 2, &d) == 0);
	CU_ASSERT_FATAL(kw_dpop_nonce(d, T0, nonce) == 0);
	for (int i = 0; i < 3; i++) {
		snprintf(js, sizeof(js), "jti-a-%016d", i);
		p = make_proof(ka, "GET", htu, T0, js, tok, nonce);
		CU_ASSERT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, jkta, T0, &jti, &need, &why),
		    i < 2 ? 0 : KW_ERR_BUSY);
		if (i < 2)
			CU_ASSERT_EQUAL(kw_dpop_record(d, &jti, T0), 0);
		free(p);
	}
	/* key b is not affected by key a's quota; then the set (5) fills up */
	for (int i = 0; i < 4; i++) {
		snprintf(js, sizeof(js), "jti-b-%016d", i);
		p = make_proof(kb, "GET", htu, T0, js, tok, nonce);
		CU_ASSERT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, jktb, T0, &jti, &need, &why),
		    i < 2 ? 0 : KW_ERR_BUSY);
		if (i < 2)
			CU_ASSERT_EQUAL(kw_dpop_record(d, &jti, T0), 0);
		free(p);
	}
	/* after the proofs' iat window, key a has room again */
	p = make_proof(ka, "GET", htu, T0 + 61, "jti-a-later-00000001", tok, nonce);
	CU_ASSERT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, jkta, T0 + 61, &jti, &need, &why), 0);
	CU_ASSERT_EQUAL(kw_dpop_record(d, &jti, T0 + 61), 0);
	free(p);
	kw_dpop_free(d);

	/* a full set is the broker's capacity, not the client's fault */
	CU_ASSERT_FATAL(kw_dpop_new(300, 60, 300, 16, 256, &d) == 0);
	CU_ASSERT_FATAL(kw_dpop_nonce(d, T0, nonce) == 0);
	for (int i = 0; i < 17; i++) {
		snprintf(js, sizeof(js), "jti-f-%016d", i);
		p = make_proof(i < 16 ? ka : kb, "GET", htu, T0, js, tok, nonce);
		CU_ASSERT_EQUAL(kw_dpop_verify(d, p, "GET", htu, tok, i < 16 ? jkta : jktb, T0, &jti,
		    &need, &why), i < 16 ? 0 : KW_ERR_UNAVAILABLE);
		if (i < 16)
			CU_ASSERT_EQUAL(kw_dpop_record(d, &jti, T0), 0);
		free(p);
	}
	kw_dpop_free(d);
	json_decref(ja);
	json_decref(jb);
	EVP_PKEY_free(ka);
	EVP_PKEY_free(kb);
}

/* ---- configuration ---- */


static int
load_cfg(const char *text, struct kw_config **ret, char *eb, size_t el)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/kw.json", test_tmpdir());
	f = fopen(path, "w");
	if (f == NULL)
		return -100;
	fputs(text, f);
	fclose(f);
	return kw_config_load(path, ret, eb, el);
}

/* Each text is refused with KW_ERR_CONFIG and a message containing msg. */
struct bad_config {
	const char *text, *msg;
};

static void
expect_config_errors(const struct bad_config *bad, size_t n)
{
	struct kw_config *c;
	char eb[256];

	for (size_t i = 0; i < n; i++) {
		c = NULL;
		eb[0] = '\0';
		CU_ASSERT_EQUAL(load_cfg(bad[i].text, &c, eb, sizeof(eb)), KW_ERR_CONFIG);
		CU_ASSERT_PTR_NULL(c);
		if (strstr(eb, bad[i].msg) == NULL)
			fprintf(stderr, "config case %zu: message '%s' lacks '%s'\n", i, eb, bad[i].msg);
		CU_ASSERT_PTR_NOT_NULL(strstr(eb, bad[i].msg));
	}
}

#define M48 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"

static void
test_config(void)
{
	struct kw_config *c = NULL;
	char eb[256];
	const char *ok =
	    "{\"listen\":\"127.0.0.1:9443\",\"tls\":{\"certificate\":\"a.pem\",\"private_key\":\"/k.pem\"},"
	    "\"hsm\":{\"token\":\"t\",\"pin_file\":\"pin\"},\"workers\":3,"
	    "\"store\":{\"path\":\"state.db\"},"
	    "\"admin\":{\"listen\":\"127.0.0.1:9444\",\"certificate\":\"a.pem\",\"private_key\":\"a.key\","
	    "\"client_ca\":\"ca.pem\",\"grants\":[{\"subject\":\"alice\",\"role\":\"key-admin\","
	    "\"repositories\":[\"demo\",\"*\"]}]}}";

	CU_ASSERT_FATAL(load_cfg(ok, &c, eb, sizeof(eb)) == 0);
	CU_ASSERT_STRING_EQUAL(c->listen_addr, "127.0.0.1");
	CU_ASSERT_EQUAL(c->listen_port, 9443);
	CU_ASSERT_EQUAL(c->workers, 3);
	CU_ASSERT_EQUAL(c->nonce_ttl, 60);
	CU_ASSERT_EQUAL(c->max_body, 256 * 1024);
	CU_ASSERT_FALSE(c->tls_allow_12);
	CU_ASSERT(strncmp(c->tls_cert, test_tmpdir(), strlen(test_tmpdir())) == 0);   /* relative to the file */
	CU_ASSERT_STRING_EQUAL(c->tls_key, "/k.pem");
	CU_ASSERT_STRING_EQUAL(c->hsm_module, "/usr/lib/softhsm/libsofthsm2.so");
	CU_ASSERT(strstr(c->store_path, "/state.db") != NULL);
	CU_ASSERT_STRING_EQUAL(c->public_url, "https://127.0.0.1:9443");
	CU_ASSERT_EQUAL(c->admin_listen_port, 9444);
	CU_ASSERT_EQUAL(c->n_grants, 1);
	CU_ASSERT_STRING_EQUAL(c->grants[0].role, "key-admin");
	CU_ASSERT_EQUAL(c->grants[0].n_repos, 2);
	CU_ASSERT_STRING_EQUAL(c->grants[0].repos[1], "*");
	CU_ASSERT_FALSE(c->tdx_enabled);    /* no tdx section: TDX is off */
	kw_config_free(c);
	{
		const char *tdx =
		    "{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},"
		    "\"tdx\":{\"test_roots\":[\"emu/root.pem\"],\"collateral\":{\"mode\":\"offline\",\"dir\":\"coll\"}}}";

		CU_ASSERT_FATAL(load_cfg(tdx, &c, eb, sizeof(eb)) == 0);
		CU_ASSERT(c->tdx_enabled);
		CU_ASSERT_EQUAL(c->n_tdx_test_roots, 1);
		CU_ASSERT(strstr(c->tdx_test_roots[0], "/emu/root.pem") != NULL);
		CU_ASSERT_STRING_EQUAL(c->tdx_collateral_mode, "offline");
		CU_ASSERT(strncmp(c->tdx_collateral_dir, test_tmpdir(), strlen(test_tmpdir())) == 0);
		kw_config_free(c);
	}

	static const struct bad_config bad[] = {
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"wrokers\":2}", "unknown key 'wrokers'"},
		{"{\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"}}", "missing \"tls\""},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\"}}", "pin_file"},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\",\"min_version\":\"1.1\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"}}", "min_version"},
		{"{\"listen\":\"x\",\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"}}", "listen"},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"workers\":0}", "workers"},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"resources\":[]}", "moved to the store"},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"admin\":{\"listen\":\"127.0.0.1:1\",\"certificate\":\"a\",\"private_key\":\"b\",\"client_ca\":\"c\",\"grants\":[{\"subject\":\"x\",\"role\":\"root\",\"repositories\":[\"*\"]}]}}", "role"},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"admin\":{\"listen\":\"127.0.0.1:1\",\"certificate\":\"a\",\"private_key\":\"b\",\"client_ca\":\"c\",\"grants\":[{\"subject\":\"x\",\"role\":\"auditor\",\"repositories\":[\"..\"]}]}}", "repositories[0]"},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"admin\":{\"listen\":\"127.0.0.1:1\",\"certificate\":\"a\",\"private_key\":\"b\",\"grants\":[]}}", "client_ca"},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"public_url\":\"http://x\"}", "public_url"},
		{"{\"a\":1,\"a\":2}", "not a valid JSON"},
		{"[1]", "not a valid JSON"},
		/* tdx: collateral required; strict members per mode */
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"tdx\":{\"test_roots\":[\"r.pem\"]}}", "\"collateral\" is required"},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"tdx\":{\"collateral\":{\"mode\":\"pccs\"}}}", "missing \"url\""},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"tdx\":{\"collateral\":{\"mode\":\"pcs\",\"url\":\"http://x\"}}}", "must be https URLs"},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"tdx\":{\"collateral\":{\"mode\":\"pcs\",\"retry\":0}}}", "\"retry\" must be an integer in 1..86400"},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"tdx\":{\"collateral\":{\"mode\":\"pcs\",\"dir\":\"d\"}}}", "unknown key 'dir'"},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"tdx\":{\"collateral\":{\"mode\":\"web\",\"dir\":\"d\"}}}", "\"mode\" must be"},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"tdx\":{\"collateral\":{\"mode\":\"offline\"}}}", "missing \"dir\""},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"tdx\":{\"collateral\":{\"mode\":\"offline\",\"dir\":\"d\",\"url\":\"x\"}}}", "unknown key 'url'"},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"tdx\":{\"collateral\":\"d\"}}", "tdx.collateral must be an object"},
		{"{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},\"tdx\":{\"roots\":[]}}", "unknown key 'roots'"},
	};
	expect_config_errors(bad, KW_ARRAY_SIZE(bad));
}

/* tdx.collateral pcs/pccs: defaults and values */
static void
test_config_tdx_pcs(void)
{
	struct kw_config *c = NULL;
	char eb[256];
#define TLS "\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},"

	CU_ASSERT_FATAL(load_cfg("{" TLS "\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},"
	    "\"tdx\":{\"collateral\":{\"mode\":\"pcs\"}}}", &c, eb, sizeof(eb)) == 0);
	CU_ASSERT_STRING_EQUAL(c->tdx_collateral_mode, "pcs");
	CU_ASSERT_STRING_EQUAL(c->tdx_pcs_url, "https://api.trustedservices.intel.com");
	CU_ASSERT_PTR_NULL(c->tdx_pcs_root_crl_url);
	CU_ASSERT_PTR_NULL(c->tdx_pcs_ca_file);
	CU_ASSERT_EQUAL(c->tdx_pcs_timeout, 10);
	CU_ASSERT_EQUAL(c->tdx_pcs_refresh_interval, 86400);
	CU_ASSERT_EQUAL(c->tdx_pcs_refresh_margin, 7 * 86400);
	CU_ASSERT_EQUAL(c->tdx_pcs_retry, 300);
	CU_ASSERT_PTR_NOT_NULL(strstr(c->tdx_collateral_dir, "/tdx-collateral-cache"));
	kw_config_free(c);
	c = NULL;
	CU_ASSERT_FATAL(load_cfg("{" TLS "\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},"
	    "\"tdx\":{\"collateral\":{\"mode\":\"pccs\",\"url\":\"https://pccs.example:8081\","
	    "\"ca_file\":\"/etc/pccs-ca.pem\",\"cache_dir\":\"/var/cache/kw\",\"timeout\":3,"
	    "\"refresh_interval\":600,\"refresh_margin\":0,\"retry\":30}}}", &c, eb, sizeof(eb)) == 0);
	CU_ASSERT_STRING_EQUAL(c->tdx_collateral_mode, "pccs");
	CU_ASSERT_STRING_EQUAL(c->tdx_pcs_url, "https://pccs.example:8081");
	CU_ASSERT_STRING_EQUAL(c->tdx_pcs_ca_file, "/etc/pccs-ca.pem");
	CU_ASSERT_STRING_EQUAL(c->tdx_collateral_dir, "/var/cache/kw");
	CU_ASSERT_EQUAL(c->tdx_pcs_timeout, 3);
	CU_ASSERT_EQUAL(c->tdx_pcs_refresh_interval, 600);
	CU_ASSERT_EQUAL(c->tdx_pcs_refresh_margin, 0);
	CU_ASSERT_EQUAL(c->tdx_pcs_retry, 30);
	kw_config_free(c);
#undef TLS
}

/* store: kind, conninfo, pool */
static void
test_config_store(void)
{
	struct kw_config *c = NULL;
	char eb[256];
#define BASE "\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"},"
	static const struct bad_config bad[] = {
		{"{" BASE "\"store\":{\"kind\":\"mysql\"}}", "\"kind\" must be"},
		{"{" BASE "\"store\":{\"kind\":\"postgresql\"}}", "needs \"conninfo\""},
		{"{" BASE "\"store\":{\"conninfo\":\"host=x\"}}", "is for \"kind\": \"postgresql\""},
		{"{" BASE "\"store\":{\"kind\":\"postgresql\",\"conninfo\":\"host=x\",\"pool\":0}}", "pool"},
		{"{" BASE "\"store\":{\"kind\":\"postgresql\",\"conninfo\":\"host=x\",\"pool\":65}}", "pool"},
		{"{" BASE "\"store\":{\"kind\":\"postgresql\",\"conninfo\":\"\"}}", "conninfo"},
	};

	CU_ASSERT_FATAL(load_cfg("{" BASE "\"store\":{}}", &c, eb, sizeof(eb)) == 0);
	CU_ASSERT_EQUAL(c->store_kind, KW_STORE_SQLITE);
	CU_ASSERT_PTR_NULL(c->store_conninfo);
	CU_ASSERT_EQUAL(c->store_pool, 4);
	kw_config_free(c);
	c = NULL;
	CU_ASSERT_FATAL(load_cfg("{" BASE "\"store\":{\"kind\":\"postgresql\",\"conninfo\":"
	    "\"host=db port=5432 sslmode=verify-full\",\"pool\":9}}", &c, eb, sizeof(eb)) == 0);
	CU_ASSERT_EQUAL(c->store_kind, KW_STORE_POSTGRESQL);
	CU_ASSERT_STRING_EQUAL(c->store_conninfo, "host=db port=5432 sslmode=verify-full");
	CU_ASSERT_EQUAL(c->store_pool, 9);
	CU_ASSERT_PTR_NOT_NULL(c->audit_path);    /* the audit log stays a SQLite file */
	kw_config_free(c);
	expect_config_errors(bad, KW_ARRAY_SIZE(bad));
#undef BASE
}

/* log: level and format, the older log_level */
static void
test_config_log(void)
{
#define BASE "{\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"}"
	static const struct bad_config bad[] = {
		{BASE ",\"log_level\":\"info\",\"log\":{\"level\":\"debug\"}}", "both set"},
		{BASE ",\"log\":{\"level\":\"verbose\"}}", "log: \"level\" must be error, warn, info or debug"},
		{BASE ",\"log_level\":\"loud\"}", "log: \"level\" must be"},
		{BASE ",\"log\":{\"format\":\"yaml\"}}", "log: \"format\" must be text, json, journal or auto"},
		{BASE ",\"log\":{\"format\":\"\"}}", "log: \"format\" must be a non-empty string"},
		{BASE ",\"log\":{\"levels\":{}}}", "log: unknown key 'levels'"},
		{BASE ",\"log\":[]}", "log must be an object"},
	};
	struct kw_config *c = NULL;
	char eb[256];

	CU_ASSERT_FATAL(load_cfg(BASE "}", &c, eb, sizeof(eb)) == 0);
	CU_ASSERT_STRING_EQUAL(c->log_level, "info");
	CU_ASSERT_STRING_EQUAL(c->log_format, "auto");
	kw_config_free(c);
	CU_ASSERT_FATAL(load_cfg(BASE ",\"log_level\":\"warn\"}", &c, eb, sizeof(eb)) == 0);
	CU_ASSERT_STRING_EQUAL(c->log_level, "warn");
	kw_config_free(c);
	CU_ASSERT_FATAL(load_cfg(BASE ",\"log\":{\"level\":\"debug\",\"format\":\"json\"}}", &c, eb,
	    sizeof(eb)) == 0);
	CU_ASSERT_STRING_EQUAL(c->log_level, "debug");
	CU_ASSERT_STRING_EQUAL(c->log_format, "json");
	kw_config_free(c);
	expect_config_errors(bad, KW_ARRAY_SIZE(bad));
#undef BASE
}

/* hsm: deadlines, queue bound, socket mode (spawn-only keys refused there) */
static void
test_config_hsm(void)
{
	struct kw_config *c = NULL;
	char eb[256];
#define TLS "\"tls\":{\"certificate\":\"a\",\"private_key\":\"b\"},"

	CU_ASSERT_FATAL(load_cfg("{" TLS "\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\"}}", &c, eb,
	    sizeof(eb)) == 0);
	CU_ASSERT_EQUAL(c->hsm_call_timeout, 5);
	CU_ASSERT_EQUAL(c->hsm_admin_timeout, 30);
	CU_ASSERT_EQUAL(c->hsm_max_pending, 1024);
	CU_ASSERT_PTR_NULL(c->hsm_socket);
	kw_config_free(c);
	c = NULL;
	CU_ASSERT_FATAL(load_cfg("{" TLS "\"hsm\":{\"socket\":\"run/hsm.sock\",\"call_timeout\":2,"
	    "\"admin_timeout\":60,\"max_pending\":8}}", &c, eb, sizeof(eb)) == 0);
	CU_ASSERT(strncmp(c->hsm_socket, test_tmpdir(), strlen(test_tmpdir())) == 0);
	CU_ASSERT(strstr(c->hsm_socket, "/run/hsm.sock") != NULL);
	CU_ASSERT_PTR_NULL(c->hsm_token);       /* optional in socket mode */
	CU_ASSERT_PTR_NULL(c->hsm_pin_file);
	CU_ASSERT_PTR_NULL(c->hsm_module);
	CU_ASSERT_EQUAL(c->hsm_call_timeout, 2);
	CU_ASSERT_EQUAL(c->hsm_admin_timeout, 60);
	CU_ASSERT_EQUAL(c->hsm_max_pending, 8);
	kw_config_free(c);
	c = NULL;
	CU_ASSERT_FATAL(load_cfg("{" TLS "\"hsm\":{\"socket\":\"/run/k/hsm.sock\",\"token\":\"kw\"}}",
	    &c, eb, sizeof(eb)) == 0);
	CU_ASSERT_STRING_EQUAL(c->hsm_socket, "/run/k/hsm.sock");
	CU_ASSERT_STRING_EQUAL(c->hsm_token, "kw");
	kw_config_free(c);
	/* a PKCS#11 URI: module-path and pin-source (relative: the config's directory) */
	c = NULL;
	CU_ASSERT_FATAL(load_cfg("{" TLS "\"hsm\":{\"token\":\"pkcs11:token=kw;manufacturer="
	    "SoftHSM%20project?module-path=/usr/lib/m.so&pin-source=file:pin\"}}", &c, eb,
	    sizeof(eb)) == KW_ERR_CONFIG);    /* file: needs an absolute path */
	CU_ASSERT_FATAL(load_cfg("{" TLS "\"hsm\":{\"token\":\"pkcs11:token=kw;manufacturer="
	    "SoftHSM%20project?module-path=/usr/lib/m.so&pin-source=pins/p\"}}", &c, eb,
	    sizeof(eb)) == 0);
	CU_ASSERT_STRING_EQUAL(c->hsm_token, "pkcs11:manufacturer=SoftHSM%20project;token=kw");
	CU_ASSERT_STRING_EQUAL(c->hsm_module, "/usr/lib/m.so");
	CU_ASSERT(strncmp(c->hsm_pin_file, test_tmpdir(), strlen(test_tmpdir())) == 0);
	CU_ASSERT(strstr(c->hsm_pin_file, "/pins/p") != NULL);
	kw_config_free(c);
	/* the URI names the token only; the keys keep their meaning */
	c = NULL;
	CU_ASSERT_FATAL(load_cfg("{" TLS "\"hsm\":{\"token\":\"pkcs11:token=kw\",\"pin_file\":"
	    "\"/p\",\"module\":\"/m.so\"}}", &c, eb, sizeof(eb)) == 0);
	CU_ASSERT_STRING_EQUAL(c->hsm_token, "pkcs11:token=kw");
	CU_ASSERT_STRING_EQUAL(c->hsm_module, "/m.so");
	CU_ASSERT_STRING_EQUAL(c->hsm_pin_file, "/p");
	kw_config_free(c);
	c = NULL;
	CU_ASSERT_FATAL(load_cfg("{" TLS "\"hsm\":{\"socket\":\"/s\",\"token\":\"pkcs11:token=kw;"
	    "serial=0123\"}}", &c, eb, sizeof(eb)) == 0);
	CU_ASSERT_STRING_EQUAL(c->hsm_token, "pkcs11:serial=0123;token=kw");
	kw_config_free(c);

	static const struct bad_config bad[] = {
		{"{" TLS "\"hsm\":{\"token\":\"pkcs11:token=kw?module-path=/m.so&pin-source=/p\","
		    "\"module\":\"/m.so\"}}", "\"module\" and the \"module-path\" attribute"},
		{"{" TLS "\"hsm\":{\"token\":\"pkcs11:token=kw?pin-source=/p\",\"pin_file\":\"p\"}}",
		    "\"pin_file\" and the \"pin-source\" attribute"},
		{"{" TLS "\"hsm\":{\"token\":\"pkcs11:token=kw?pin-value=1234\",\"pin_file\":\"p\"}}",
		    "pin-value would put the PIN"},
		{"{" TLS "\"hsm\":{\"socket\":\"/s\",\"token\":\"pkcs11:token=kw?pin-source=/p\"}}",
		    "\"pin-source\" attribute of \"token\" is set on keywarden-hsm"},
		{"{" TLS "\"hsm\":{\"socket\":\"/s\",\"token\":\"pkcs11:token=kw?module-path=/m\"}}",
		    "\"module-path\" attribute of \"token\" is set on keywarden-hsm"},
		{"{" TLS "\"hsm\":{\"token\":\"pkcs11:token=kw\"}}", "pin_file"},
		{"{" TLS "\"hsm\":{\"token\":\"pkcs11:tokn=kw\",\"pin_file\":\"p\"}}",
		    "hsm: \"token\": unknown path attribute 'tokn'"},
		{"{" TLS "\"hsm\":{\"token\":\"0123456789012345678901234567890123\",\"pin_file\":\"p\"}}",
		    "longer than 32"},
		{"{" TLS "\"hsm\":{\"socket\":\"/s\",\"pin_file\":\"p\"}}", "\"pin_file\" is set on keywarden-hsm"},
		{"{" TLS "\"hsm\":{\"socket\":\"/s\",\"module\":\"m\"}}", "\"module\" is set on keywarden-hsm"},
		{"{" TLS "\"hsm\":{\"socket\":\"/s\",\"softhsm2_conf\":\"c\"}}", "\"softhsm2_conf\""},
		{"{" TLS "\"hsm\":{\"socket\":\"/s\",\"helper\":\"h\"}}", "\"helper\""},
		{"{" TLS "\"hsm\":{\"socket\":\"/s\",\"recycle_after\":5}}", "\"recycle_after\""},
		{"{" TLS "\"hsm\":{\"socket\":\"/" "01234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456\"}}", "longer than 107"},
		{"{" TLS "\"hsm\":{\"socket\":\"\"}}", "non-empty string"},
		{"{" TLS "\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\",\"call_timeout\":0}}", "call_timeout"},
		{"{" TLS "\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\",\"call_timeout\":301}}", "call_timeout"},
		{"{" TLS "\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\",\"admin_timeout\":\"30\"}}", "admin_timeout"},
		{"{" TLS "\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\",\"max_pending\":0}}", "max_pending"},
		{"{" TLS "\"hsm\":{\"token\":\"t\",\"pin_file\":\"p\",\"max_pendng\":4}}", "unknown key 'max_pendng'"},
		{"{" TLS "\"hsm\":{\"pin_file\":\"p\"}}", "token"},
	};
#undef TLS
	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		c = NULL;
		eb[0] = '\0';
		CU_ASSERT_EQUAL(load_cfg(bad[i].text, &c, eb, sizeof(eb)), KW_ERR_CONFIG);
		CU_ASSERT_PTR_NULL(c);
		if (strstr(eb, bad[i].msg) == NULL)
			fprintf(stderr, "hsm config case %zu: message '%s' lacks '%s'\n", i, eb, bad[i].msg);
		CU_ASSERT_PTR_NOT_NULL(strstr(eb, bad[i].msg));
	}
}

/* ---- request bodies ---- */

static json_t *
jwk_of(EVP_PKEY *pk)
{
	json_t *j = NULL;

	CU_ASSERT_FATAL(kw_jwk_export_public(pk, &j) == 0);
	return j;
}

static json_t *
make_attest(void)
{
	EVP_PKEY *rsa = EVP_RSA_gen(3072), *ec = EVP_EC_gen("P-256");
	json_t *b;

	CU_ASSERT_FATAL(rsa != NULL && ec != NULL);
	b = json_pack("{s:{s:s, s:o, s:o, s:{}}, s:{s:s, s:s, s:[s]}}",
	    "runtime-data", "nonce", "abc", "tee-pubkey", jwk_of(rsa), "tee-sigkey", jwk_of(ec),
	    "config", "tee-evidence", "report", "AAAA", "vcek", "AQID", "chain", "BAUG");
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	CU_ASSERT_FATAL(b != NULL);
	return b;
}

static void
test_parse_auth(void)
{
	struct kw_auth_req a;
	const char *why = NULL;
	json_t *j;

	j = json_pack("{s:s, s:s, s:{}}", "version", "0.1.0", "tee", "snp", "extra-params");
	CU_ASSERT_EQUAL(kw_parse_auth(j, &a, &why), 0);
	CU_ASSERT_STRING_EQUAL(a.tee, "snp");
	json_decref(j);
	j = json_pack("{s:s, s:s, s:s}", "version", "0.1.0", "tee", "snp", "extra-params", "");
	CU_ASSERT_EQUAL(kw_parse_auth(j, &a, &why), 0);
	json_decref(j);
	j = json_pack("{s:s, s:s}", "version", "0.1.0", "tee", "tdx");
	CU_ASSERT_EQUAL(kw_parse_auth(j, &a, &why), 0);
	CU_ASSERT_STRING_EQUAL(a.tee, "tdx");
	json_decref(j);
	j = json_pack("{s:s, s:s}", "version", "0.1.0", "tee", "sgx");
	CU_ASSERT_EQUAL(kw_parse_auth(j, &a, &why), KW_ERR_UNSUPPORTED);
	json_decref(j);
	j = json_pack("{s:s, s:s, s:i}", "version", "0.1.0", "tee", "snp", "extra", 1);
	CU_ASSERT_EQUAL(kw_parse_auth(j, &a, &why), KW_ERR_INVALID_FORMAT);
	json_decref(j);
	j = json_pack("{s:i, s:s}", "version", 1, "tee", "snp");
	CU_ASSERT_EQUAL(kw_parse_auth(j, &a, &why), KW_ERR_INVALID_FORMAT);
	json_decref(j);
	j = json_pack("{s:s}", "version", "0.1.0");
	CU_ASSERT_EQUAL(kw_parse_auth(j, &a, &why), KW_ERR_INVALID_FORMAT);
	json_decref(j);
}

static void
test_parse_attest(void)
{
	struct kw_attest_req a;
	const char *why = NULL;
	json_t *b = make_attest(), *c;
	EVP_PKEY *small;

	CU_ASSERT_FATAL(kw_parse_attest(b, &a, &why) == 0);
	CU_ASSERT_STRING_EQUAL(a.nonce, "abc");
	/* the evidence is SNP's by its shape; the bytes are decoded by the verifier */
	CU_ASSERT_PTR_EQUAL(a.verifier, &kw_verifier_snp);
	CU_ASSERT_PTR_EQUAL(a.evidence, json_object_get(b, "tee-evidence"));
	kw_attest_req_clear(&a);
	/* a TDX quote's shape picks the TDX member; cc_eventlog is accepted (and not used) */
	c = json_deep_copy(b);
	json_object_set_new(c, "tee-evidence", json_pack("{s:s, s:s}", "quote", "AQID", "cc_eventlog", "x"));
	CU_ASSERT_EQUAL(kw_parse_attest(c, &a, &why), 0);
	CU_ASSERT_PTR_EQUAL(a.verifier, &kw_verifier_tdx);
	json_object_set_new(json_object_get(c, "tee-evidence"), "cc_eventlog", json_integer(1));
	CU_ASSERT_EQUAL(kw_parse_attest(c, &a, &why), KW_ERR_INVALID_FORMAT);
	json_object_del(json_object_get(c, "tee-evidence"), "cc_eventlog");
	json_object_set_new(json_object_get(c, "tee-evidence"), "quote", json_string("AQ=="));
	CU_ASSERT_EQUAL(kw_parse_attest(c, &a, &why), KW_ERR_INVALID_FORMAT);
	/* members of two evidence types, or of none */
	json_object_set_new(c, "tee-evidence", json_pack("{s:s, s:s, s:s}", "quote", "AQID", "report", "AQID",
	    "vcek", "AQID"));
	CU_ASSERT_EQUAL(kw_parse_attest(c, &a, &why), KW_ERR_INVALID_FORMAT);
	json_object_set_new(c, "tee-evidence", json_pack("{s:s}", "vcek", "AQID"));
	CU_ASSERT_EQUAL(kw_parse_attest(c, &a, &why), KW_ERR_INVALID_FORMAT);
	json_object_set_new(c, "tee-evidence", json_object());
	CU_ASSERT_EQUAL(kw_parse_attest(c, &a, &why), KW_ERR_INVALID_FORMAT);
	json_decref(c);

	/* each mutation is rejected */
	c = json_deep_copy(b);
	json_object_set_new(json_object_get(c, "runtime-data"), "extra", json_true());
	CU_ASSERT_EQUAL(kw_parse_attest(c, &a, &why), KW_ERR_INVALID_FORMAT);
	json_decref(c);
	c = json_deep_copy(b);
	json_object_set_new(c, "tee", json_string("snp"));
	CU_ASSERT_EQUAL(kw_parse_attest(c, &a, &why), KW_ERR_INVALID_FORMAT);
	json_decref(c);
	c = json_deep_copy(b);
	json_object_set_new(json_object_get(c, "tee-evidence"), "report", json_string("AA=="));
	CU_ASSERT_EQUAL(kw_parse_attest(c, &a, &why), KW_ERR_INVALID_FORMAT);
	json_decref(c);
	c = json_deep_copy(b);
	json_object_del(json_object_get(c, "tee-evidence"), "vcek");
	CU_ASSERT_EQUAL(kw_parse_attest(c, &a, &why), KW_ERR_INVALID_FORMAT);
	json_decref(c);
	c = json_deep_copy(b);
	json_object_set_new(json_object_get(c, "tee-evidence"), "chain",
	    json_pack("[s,s,s,s]", "AA", "AA", "AA", "AA"));
	CU_ASSERT_EQUAL(kw_parse_attest(c, &a, &why), KW_ERR_INVALID_FORMAT);
	json_decref(c);
	c = json_deep_copy(b);
	json_object_set_new(json_object_get(c, "runtime-data"), "nonce", json_integer(5));
	CU_ASSERT_EQUAL(kw_parse_attest(c, &a, &why), KW_ERR_INVALID_FORMAT);
	json_decref(c);
	/* the encryption key must be RSA of at least 3072 bits, the signing key EC P-256 */
	small = EVP_RSA_gen(2048);
	c = json_deep_copy(b);
	json_object_set_new(json_object_get(c, "runtime-data"), "tee-pubkey", jwk_of(small));
	CU_ASSERT_EQUAL(kw_parse_attest(c, &a, &why), KW_ERR_INVALID_FORMAT);
	json_object_set(json_object_get(c, "runtime-data"), "tee-pubkey",
	    json_object_get(json_object_get(b, "runtime-data"), "tee-sigkey"));
	CU_ASSERT_EQUAL(kw_parse_attest(c, &a, &why), KW_ERR_INVALID_FORMAT);
	json_decref(c);
	EVP_PKEY_free(small);
	c = json_deep_copy(b);
	json_object_set(json_object_get(c, "runtime-data"), "tee-sigkey",
	    json_object_get(json_object_get(b, "runtime-data"), "tee-pubkey"));
	CU_ASSERT_EQUAL(kw_parse_attest(c, &a, &why), KW_ERR_INVALID_FORMAT);
	json_decref(c);
	json_decref(b);
}

static void
test_attest_truncations(void)
{
	json_t *b = make_attest(), *j;
	struct kw_attest_req a;
	const char *why;
	char *s = json_dumps(b, JSON_COMPACT);
	size_t len = strlen(s), ok = 0;

	/* every strict prefix fails to parse or to validate, cleanly */
	for (size_t i = 0; i < len; i++) {
		if (kw_json_parse(s, i, 65536, &j) == 0) {
			if (kw_parse_attest(j, &a, &why) == 0) {
				ok++;
				kw_attest_req_clear(&a);
			}
			json_decref(j);
		}
	}
	CU_ASSERT_EQUAL(ok, 0);
	CU_ASSERT_FATAL(kw_json_parse(s, len, 65536, &j) == 0);
	CU_ASSERT_EQUAL(kw_parse_attest(j, &a, &why), 0);
	kw_attest_req_clear(&a);
	json_decref(j);
	free(s);
	json_decref(b);
}

static void
test_manifest(void)
{
	/* digest over "<fp>\n" lines of the sorted list, computed here independently */
	const char *fp1 = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *fp2 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char lines[200], hex[97];
	uint8_t md[48];
	const char *why;
	json_t *m;

	snprintf(lines, sizeof(lines), "%s\n%s\n", fp1, fp2);
	SHA384((const uint8_t *)lines, strlen(lines), md);
	for (int i = 0; i < 48; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	m = json_pack("{s:{s:[s,s], s:s}, s:{s:s, s:[s], s:[s]}, s:{s:i}}", "root-store",
	    "fingerprints", fp1, fp2, "digest", hex, "tls", "min_version", "1.3", "cipher_suites",
	    "TLS_AES_256_GCM_SHA384", "groups", "X25519", "crypto", "rsa_bits", 3072);
	CU_ASSERT_EQUAL(kw_manifest_check(m, &why), 0);
	/* another digest, another order, an unknown member, a bad type: rejected */
	json_object_set_new(json_object_get(m, "root-store"), "digest", json_string(
	    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"));
	CU_ASSERT_EQUAL(kw_manifest_check(m, &why), KW_ERR_INVALID_FORMAT);
	json_object_set_new(json_object_get(m, "root-store"), "digest", json_string(hex));
	json_object_set_new(json_object_get(m, "root-store"), "fingerprints", json_pack("[s,s]", fp2, fp1));
	CU_ASSERT_EQUAL(kw_manifest_check(m, &why), KW_ERR_INVALID_FORMAT);
	json_object_set_new(json_object_get(m, "root-store"), "fingerprints", json_pack("[s,s]", fp1, fp2));
	CU_ASSERT_EQUAL(kw_manifest_check(m, &why), 0);
	json_object_set_new(json_object_get(m, "crypto"), "aes", json_integer(5));
	CU_ASSERT_EQUAL(kw_manifest_check(m, &why), KW_ERR_INVALID_FORMAT);
	json_object_del(json_object_get(m, "crypto"), "aes");
	json_object_set_new(json_object_get(m, "tls"), "groups", json_string("X25519"));
	CU_ASSERT_EQUAL(kw_manifest_check(m, &why), KW_ERR_INVALID_FORMAT);
	json_decref(m);
	m = json_object();
	CU_ASSERT_EQUAL(kw_manifest_check(m, &why), 0);
	json_object_set_new(m, "extra", json_true());
	CU_ASSERT_EQUAL(kw_manifest_check(m, &why), KW_ERR_INVALID_FORMAT);
	json_decref(m);
}

/* A root-store manifest of n sorted fingerprints with its digest, built here independently. */
static json_t *
manifest_of(size_t n)
{
	json_t *fps = json_array();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t md[48];
	char fp[65], hex[97];

	CU_ASSERT_FATAL(fps != NULL && ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha384(), NULL));
	for (size_t i = 0; i < n; i++) {
		snprintf(fp, sizeof(fp), "%064zx", i);
		json_array_append_new(fps, json_string(fp));
		EVP_DigestUpdate(ctx, fp, 64);
		EVP_DigestUpdate(ctx, "\n", 1);
	}
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	for (int i = 0; i < 48; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return json_pack("{s:{s:o, s:s}}", "root-store", "fingerprints", fps, "digest", hex);
}

/* The manifest limits follow from what a token carries: 413 (KW_ERR_TOO_LARGE), not 400. */
static void
test_manifest_limits(void)
{
	json_t *m, *b, *names;
	struct kw_attest_req a;
	const char *why;
	char name[65], issuer[2000];

	CU_ASSERT(KW_TOKEN_PAYLOAD_MAX == (65536 - 128 - 86 - 2) / 4 * 3);
	CU_ASSERT(KW_MANIFEST_MAX_FINGERPRINTS * KW_MANIFEST_FP_JSON + 256 <= KW_MANIFEST_MAX);
	m = manifest_of(KW_MANIFEST_MAX_FINGERPRINTS);
	CU_ASSERT_EQUAL(kw_manifest_check(m, &why), 0);
	CU_ASSERT(kw_manifest_size(m) <= KW_MANIFEST_MAX);
	/* in a request body too */
	b = make_attest();
	json_object_set(json_object_get(b, "runtime-data"), "config", m);
	CU_ASSERT_EQUAL(kw_parse_attest(b, &a, &why), 0);
	kw_attest_req_clear(&a);
	json_decref(m);
	m = manifest_of(KW_MANIFEST_MAX_FINGERPRINTS + 1);
	CU_ASSERT_EQUAL(kw_manifest_check(m, &why), KW_ERR_TOO_LARGE);
	json_object_set(json_object_get(b, "runtime-data"), "config", m);
	CU_ASSERT_EQUAL(kw_parse_attest(b, &a, &why), KW_ERR_TOO_LARGE);
	json_decref(m);
	/* the old cap (1024) is well beyond what fits */
	m = manifest_of(1024);
	CU_ASSERT_EQUAL(kw_manifest_check(m, &why), KW_ERR_TOO_LARGE);
	json_decref(m);
	/* long tls lists count as well: 3 x 250 names of 64 characters */
	names = json_array();
	for (int i = 0; i < 250; i++) {
		snprintf(name, sizeof(name), "%064d", i);
		json_array_append_new(names, json_string(name));
	}
	m = json_pack("{s:{s:O, s:O, s:O}}", "tls", "cipher_suites", names, "groups", names,
	    "signature_algorithms", names);
	CU_ASSERT(kw_manifest_size(m) > KW_MANIFEST_MAX);
	CU_ASSERT_EQUAL(kw_manifest_check(m, &why), KW_ERR_TOO_LARGE);
	json_decref(m);
	m = json_pack("{s:{s:O}}", "tls", "cipher_suites", names);
	CU_ASSERT_EQUAL(kw_manifest_check(m, &why), 0);
	json_decref(m);
	json_decref(names);
	json_decref(b);
	/* a long token.issuer leaves less room for the manifest */
	CU_ASSERT_EQUAL(kw_manifest_budget("https://kw.example:8443"), KW_MANIFEST_MAX);
	memset(issuer, 'x', sizeof(issuer) - 1);
	issuer[sizeof(issuer) - 1] = '\0';
	CU_ASSERT_EQUAL(kw_manifest_budget(issuer),
	    KW_MANIFEST_MAX - (sizeof(issuer) - 1 + 2 - KW_TOKEN_ISSUER_RESERVE));
}

static void
test_expected_report_data(void)
{
	/* JCS sorts members and strips whitespace; compute the digest independently */
	const char *canon = "{\"config\":{},\"nonce\":\"n\",\"tee-pubkey\":{\"e\":\"AQAB\",\"kty\":\"RSA\"},"
	    "\"tee-sigkey\":{\"crv\":\"P-256\"}}";
	json_t *rd = json_pack("{s:{s:s, s:s}, s:{s:s}, s:s, s:{}}", "tee-pubkey", "kty", "RSA", "e",
	    "AQAB", "tee-sigkey", "crv", "P-256", "nonce", "n", "config");
	uint8_t got[64], want[64];

	memset(want, 0, sizeof(want));
	SHA384((const uint8_t *)canon, strlen(canon), want);
	CU_ASSERT_FATAL(kw_expected_report_data(rd, got) == 0);
	CU_ASSERT_EQUAL(memcmp(got, want, 64), 0);
	for (int i = 48; i < 64; i++)
		CU_ASSERT_EQUAL(got[i], 0);
	json_decref(rd);
}

int
main(void)
{
	CU_pSuite s;

	if (test_begin() != 0)
		return 2;
	s = CU_add_suite("broker", NULL, NULL);
	CU_add_test(s, "challenge round trip", test_challenge_roundtrip);
	CU_add_test(s, "challenge tamper and truncation", test_challenge_tamper);
	CU_add_test(s, "challenge replay set capacity", test_challenge_capacity);
	CU_add_test(s, "challenge key", test_challenge_key);
	CU_add_test(s, "challenge seal keys", test_challenge_seal_keys);
	CU_add_test(s, "challenge check, then record", test_challenge_check_record);
	CU_add_test(s, "EAR token build, sign, verify", test_token_roundtrip);
	CU_add_test(s, "EAR token of TDX claims", test_token_tdx);
	CU_add_test(s, "token key rotation and JWKS", test_token_rotation);
	CU_add_test(s, "DPoP proofs", test_dpop);
	CU_add_test(s, "DPoP jti quota per token key", test_dpop_quota);
	CU_add_test(s, "configuration", test_config);
	CU_add_test(s, "config_hsm", test_config_hsm);
	CU_add_test(s, "config_log", test_config_log);
	CU_add_test(s, "config_tdx_pcs", test_config_tdx_pcs);

	CU_add_test(s, "config_store", test_config_store);
	CU_add_test(s, "auth body", test_parse_auth);
	CU_add_test(s, "attest body", test_parse_attest);
	CU_add_test(s, "attest body truncations", test_attest_truncations);
	CU_add_test(s, "expected report data", test_expected_report_data);
	CU_add_test(s, "configuration manifest", test_manifest);
	CU_add_test(s, "configuration manifest limits", test_manifest_limits);
	return test_end(0);
}
