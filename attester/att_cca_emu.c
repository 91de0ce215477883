/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emulated Arm CCA tokens (att_cca_emu.h): claims maps, COSE_Sign1 and the
 * tag 399 collection encoded with libcbor, ES384 signatures with OpenSSL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cbor.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "att_cca_emu.h"
#include "kw_jose.h"
#include "kw_json.h"
#include "kw_jwk.h"
#include "kw_util.h"

#define EMU_SIG_LEN 96
#define EMU_POINT_LEN 97
#define EMU_MAX_KEY_FILE 8192

void
att_cca_emu_opts_default(struct att_cca_emu_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->lifecycle = 0x3000;
	o->realm_hash_alg = "sha-512";
	o->rak_hash_alg = "sha-256";
	for (size_t i = 0; i < sizeof(o->rim); i++)
		o->rim[i] = (uint8_t)(0xc0 + (i & 0x0f));
}

static const EVP_MD *
emu_md(const char *name, size_t *ret_len)
{
	static const struct { const char *name; size_t len; } h[] = {
		{"sha-256", 32}, {"sha-384", 48}, {"sha-512", 64}};

	for (size_t i = 0; name != NULL && i < sizeof(h) / sizeof(h[0]); i++)
		if (strcmp(name, h[i].name) == 0) {
			*ret_len = h[i].len;
			return EVP_get_digestbyname(h[i].len == 32 ? "SHA256" : h[i].len == 48 ? "SHA384" : "SHA512");
		}
	return NULL;
}

/* ---- keys ---- */

static int
write_cpak(const char *dir, EVP_PKEY *k)
{
	char path[4096];
	BIO *b = NULL;
	json_t *jwk = NULL;
	char *text = NULL, *pem;
	long n;
	int r = KW_ERR_CRYPTO;

	if ((b = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (n = BIO_get_mem_data(b, &pem)) <= 0)
		goto out;
	r = KW_ERR_IO;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ATT_CCA_EMU_CPAK_KEY) >= sizeof(path) ||
	    kw_file_write_atomic(path, pem, (size_t)n, 0600) != 0)
		goto out;
	if ((r = kw_jwk_export_public(k, &jwk)) != 0)
		goto out;
	r = KW_ERR_NOMEM;
	if ((text = kw_json_dumps(jwk, JSON_COMPACT)) == NULL)
		goto out;
	r = KW_ERR_IO;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ATT_CCA_EMU_CPAK_JWK) >= sizeof(path) ||
	    kw_file_write_atomic(path, text, strlen(text), 0644) != 0)
		goto out;
	r = 0;
out:
	free(text);
	json_decref(jwk);
	BIO_free(b);
	return r;
}

int
att_cca_emu_cpak(const char *dir, EVP_PKEY **ret)
{
	char path[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	BIO *b = NULL;
	EVP_PKEY *k = NULL;
	struct stat st;
	int r;

	if (dir == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ATT_CCA_EMU_CPAK_KEY) >= sizeof(path))
		return KW_ERR_INVALID_ARG;
	if (stat(path, &st) != 0 && errno == ENOENT) {
		if ((k = EVP_EC_gen("P-384")) == NULL)
			return KW_ERR_CRYPTO;
		if ((r = write_cpak(dir, k)) != 0)
			goto out;
	} else {
		if ((r = kw_file_read(path, EMU_MAX_KEY_FILE, &buf, &len)) != 0)
			goto out;
		r = KW_ERR_INVALID_FORMAT;
		if (len > INT32_MAX || (b = BIO_new_mem_buf(buf, (int)len)) == NULL ||
		    (k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL ||
		    !EVP_PKEY_is_a(k, "EC") || EVP_PKEY_get_bits(k) != 384)
			goto out;
	}
	*ret = k;
	k = NULL;   /* transferred */
	r = 0;
out:
	EVP_PKEY_free(k);
	BIO_free(b);
	if (buf != NULL)
		kw_wipe(buf, len);
	free(buf);
	ERR_clear_error();
	return r;
}

/* ---- CBOR ---- */

static cbor_item_t *
emu_uint(uint64_t v)
{
	if (v <= UINT8_MAX)
		return cbor_build_uint8((uint8_t)v);
	if (v <= UINT16_MAX)
		return cbor_build_uint16((uint16_t)v);
	if (v <= UINT32_MAX)
		return cbor_build_uint32((uint32_t)v);
	return cbor_build_uint64(v);
}

/* m[k] = v; k and v are consumed (also on failure). */
static int
emu_put(cbor_item_t *m, cbor_item_t *k, cbor_item_t *v)
{
	int ok = m != NULL && k != NULL && v != NULL && cbor_map_add(m, (struct cbor_pair){.key = k, .value = v});

	if (k != NULL)
		cbor_decref(&k);
	if (v != NULL)
		cbor_decref(&v);
	return ok ? 0 : KW_ERR_NOMEM;
}

static int
emu_put_bytes(cbor_item_t *m, uint64_t key, const uint8_t *p, size_t n)
{
	return emu_put(m, emu_uint(key), cbor_build_bytestring(p, n));
}

static int
emu_put_text(cbor_item_t *m, uint64_t key, const char *s)
{
	return emu_put(m, emu_uint(key), cbor_build_string(s));
}

/* a consumed into *ret as its encoding (free()). */
static int
emu_encode(cbor_item_t *a, uint8_t **ret, size_t *ret_len)
{
	unsigned char *buf = NULL;
	size_t size = 0, n = 0;

	if (a != NULL) {
		n = cbor_serialize_alloc(a, &buf, &size);
		cbor_decref(&a);
	}
	if (n == 0) {
		free(buf);
		return KW_ERR_NOMEM;
	}
	*ret = buf;
	*ret_len = n;
	return 0;
}

/* COSE_Sign1 (tag 18) over the encoded claims, ES384 with k. */
static int
emu_sign1(EVP_PKEY *k, const uint8_t *payload, size_t plen, uint8_t **ret, size_t *ret_len)
{
	static const uint8_t prot[] = {0xa1, 0x01, 0x38, 0x22};   /* {1: -35} */
	cbor_item_t *tbs = NULL, *arr = NULL, *it[4] = {NULL, NULL, NULL, NULL};
	uint8_t *tbs_buf = NULL, *der = NULL, sig[EMU_SIG_LEN];
	size_t tbs_len = 0, der_len = 0;
	EVP_MD_CTX *md = NULL;
	int r = KW_ERR_NOMEM, ok = 1;

	/* Sig_structure ["Signature1", protected, h'', payload] */
	if ((tbs = cbor_new_definite_array(4)) == NULL || (it[0] = cbor_build_string("Signature1")) == NULL ||
	    (it[1] = cbor_build_bytestring(prot, sizeof(prot))) == NULL ||
	    (it[2] = cbor_new_definite_bytestring()) == NULL ||
	    (it[3] = cbor_build_bytestring(payload, plen)) == NULL)
		goto out;
	for (size_t i = 0; i < 4; i++)
		ok = ok && cbor_array_push(tbs, it[i]);
	if (!ok)
		goto out;
	r = emu_encode(tbs, &tbs_buf, &tbs_len);
	tbs = NULL;   /* consumed */
	if (r != 0)
		goto out;
	r = KW_ERR_CRYPTO;
	if ((md = EVP_MD_CTX_new()) == NULL || EVP_DigestSignInit_ex(md, NULL, "SHA384", NULL, NULL, k, NULL) != 1 ||
	    EVP_DigestSign(md, NULL, &der_len, tbs_buf, tbs_len) != 1 || (der = malloc(der_len)) == NULL ||
	    EVP_DigestSign(md, der, &der_len, tbs_buf, tbs_len) != 1 ||
	    kw_ecdsa_der_to_raw(der, der_len, EMU_SIG_LEN / 2, sig) != 0)
		goto out;
	/* [protected, {}, payload, signature] with COSE_Sign1's tag */
	r = KW_ERR_NOMEM;
	ok = (arr = cbor_new_definite_array(4)) != NULL;
	for (size_t i = 0; i < 4 && ok; i++) {
		cbor_item_t *v = i == 0 ? cbor_build_bytestring(prot, sizeof(prot)) : i == 1 ? cbor_new_definite_map(0) :
		    i == 2 ? cbor_build_bytestring(payload, plen) : cbor_build_bytestring(sig, sizeof(sig));

		ok = v != NULL && cbor_array_push(arr, v);
		if (v != NULL)
			cbor_decref(&v);
	}
	if (!ok)
		goto out;
	{
		cbor_item_t *tag = cbor_new_tag(18);

		if (tag == NULL)
			goto out;
		cbor_tag_set_item(tag, arr);
		cbor_decref(&arr);
		arr = NULL;   /* the tag holds it (cbor_decref clears only what it frees) */
		r = emu_encode(tag, ret, ret_len);
	}
out:
	for (size_t i = 0; i < 4; i++)
		if (it[i] != NULL)
			cbor_decref(&it[i]);
	if (tbs != NULL)
		cbor_decref(&tbs);
	if (arr != NULL)
		cbor_decref(&arr);
	EVP_MD_CTX_free(md);
	free(der);
	free(tbs_buf);
	ERR_clear_error();
	return r;
}

static int
emu_point(EVP_PKEY *k, uint8_t out[static EMU_POINT_LEN])
{
	size_t n = 0;

	if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out, EMU_POINT_LEN, &n) != 1 ||
	    n != EMU_POINT_LEN || out[0] != 0x04)
		return KW_ERR_CRYPTO;
	return 0;
}

/* -1 - v for a small negative v (COSE labels and values). */
static cbor_item_t *
emu_neg(int v)
{
	return cbor_build_negint8((uint8_t)(-1 - v));
}

/*
 * The RAK as a COSE_Key (RFC 9052 §7, RFC 9053 §7.1.1), the encoding of the
 * realm#1.0.0 profile: {1: 2 (EC2), 3: -35 (ES384), -1: 2 (P-384), -2: x, -3: y}.
 */
static int
emu_cose_key(const uint8_t point[static EMU_POINT_LEN], uint8_t **ret, size_t *ret_len)
{
	cbor_item_t *k = cbor_new_definite_map(5);
	int r;

	if ((r = emu_put(k, emu_uint(1), emu_uint(2))) != 0 || (r = emu_put(k, emu_uint(3), emu_neg(-35))) != 0 ||
	    (r = emu_put(k, emu_neg(-1), emu_uint(2))) != 0 ||
	    (r = emu_put(k, emu_neg(-2), cbor_build_bytestring(point + 1, 48))) != 0 ||
	    (r = emu_put(k, emu_neg(-3), cbor_build_bytestring(point + 1 + 48, 48))) != 0) {
		if (k != NULL)
			cbor_decref(&k);
		return r;
	}
	return emu_encode(k, ret, ret_len);
}

/* Claim 44237's bytes for o: a COSE_Key, the raw point, or o->rak_claim (free()). */
static int
emu_rak_claim(const uint8_t point[static EMU_POINT_LEN], const struct att_cca_emu_opts *o, uint8_t **ret,
    size_t *ret_len)
{
	const uint8_t *p = point;
	size_t n = EMU_POINT_LEN;
	uint8_t *buf;

	if (o->rak_claim == NULL && !o->rak_raw_point)
		return emu_cose_key(point, ret, ret_len);
	if (o->rak_claim != NULL) {
		p = o->rak_claim;
		n = o->rak_claim_len;
	}
	if (n == 0 || (buf = malloc(n)) == NULL)
		return n == 0 ? KW_ERR_INVALID_ARG : KW_ERR_NOMEM;
	memcpy(buf, p, n);
	*ret = buf;
	*ret_len = n;
	return 0;
}

static int
emu_realm_claims(const uint8_t *rak_claim, size_t rak_claim_len, const struct att_cca_emu_opts *o, size_t dlen,
    cbor_item_t **ret)
{
	cbor_item_t *m = cbor_new_definite_map(8), *rems = cbor_new_definite_array(4);
	int r = KW_ERR_NOMEM, ok = m != NULL && rems != NULL;

	for (size_t i = 0; i < 4 && ok; i++) {
		cbor_item_t *v = cbor_build_bytestring(o->rem[i], dlen);

		ok = v != NULL && cbor_array_push(rems, v);
		if (v != NULL)
			cbor_decref(&v);
	}
	if (!ok)
		goto out;
	if ((r = emu_put_text(m, 265, "tag:arm.com,2023:realm#1.0.0")) != 0 ||
	    (r = emu_put_bytes(m, 10, o->challenge, sizeof(o->challenge))) != 0 ||
	    (r = emu_put_bytes(m, 44235, o->personalization, sizeof(o->personalization))) != 0 ||
	    (r = emu_put_text(m, 44236, o->realm_hash_alg)) != 0 ||
	    (r = emu_put_bytes(m, 44237, rak_claim, rak_claim_len)) != 0 ||
	    (r = emu_put_bytes(m, 44238, o->rim, dlen)) != 0)
		goto out;
	r = emu_put(m, emu_uint(44239), rems);
	rems = NULL;   /* consumed */
	if (r != 0 || (r = emu_put_text(m, 44240, o->rak_hash_alg)) != 0)
		goto out;
	*ret = m;
	m = NULL;   /* transferred */
out:
	if (m != NULL)
		cbor_decref(&m);
	if (rems != NULL)
		cbor_decref(&rems);
	return r;
}

static int
emu_sw_component(cbor_item_t *a, const char *type, uint8_t seed)
{
	uint8_t meas[32], signer[32];
	cbor_item_t *c = cbor_new_definite_map(4);
	int r;

	memset(meas, seed, sizeof(meas));
	memset(signer, 0x5a, sizeof(signer));
	if ((r = emu_put_text(c, 1, type)) != 0 || (r = emu_put_bytes(c, 2, meas, sizeof(meas))) != 0 ||
	    (r = emu_put_text(c, 4, "1.0.0-emulated")) != 0 || (r = emu_put_bytes(c, 5, signer, sizeof(signer))) != 0)
		goto out;
	r = c != NULL && cbor_array_push(a, c) ? 0 : KW_ERR_NOMEM;
out:
	if (c != NULL)
		cbor_decref(&c);
	return r;
}

static int
emu_platform_claims(EVP_PKEY *cpak, const uint8_t *chal, size_t chal_len, int64_t lifecycle, cbor_item_t **ret)
{
	static const char impl[32] = "NOT ARM: keywarden emulated CCA";
	uint8_t point[EMU_POINT_LEN], inst[33], cfg[4] = {0xcf, 0xcf, 0xcf, 0xcf};
	cbor_item_t *m = cbor_new_definite_map(9), *sw = cbor_new_definite_array(2);
	int r = KW_ERR_NOMEM;

	if (m == NULL || sw == NULL)
		goto out;
	inst[0] = 0x01;   /* instance id: 0x01 ‖ SHA-256(CPAK point) */
	if ((r = emu_point(cpak, point)) != 0 || (r = kw_sha256(point, sizeof(point), inst + 1)) != 0)
		goto out;
	if ((r = emu_sw_component(sw, "RSE_BL1_2", 0x11)) != 0 || (r = emu_sw_component(sw, "RMM", 0x22)) != 0)
		goto out;
	if ((r = emu_put_text(m, 265, "tag:arm.com,2023:cca_platform#1.0.0")) != 0 ||
	    (r = emu_put_bytes(m, 10, chal, chal_len)) != 0 ||
	    (r = emu_put_bytes(m, 2396, (const uint8_t *)impl, sizeof(impl))) != 0 ||
	    (r = emu_put_bytes(m, 256, inst, sizeof(inst))) != 0 ||
	    (r = emu_put_bytes(m, 2401, cfg, sizeof(cfg))) != 0 ||
	    (r = emu_put(m, emu_uint(2395), emu_uint((uint64_t)lifecycle))) != 0 ||
	    (r = emu_put_text(m, 2400, "https://keywarden.invalid/emulated-cca")) != 0 ||
	    (r = emu_put_text(m, 2402, "sha-256")) != 0)
		goto out;
	r = emu_put(m, emu_uint(2399), sw);
	sw = NULL;   /* consumed */
	if (r != 0)
		goto out;
	*ret = m;
	m = NULL;   /* transferred */
out:
	if (m != NULL)
		cbor_decref(&m);
	if (sw != NULL)
		cbor_decref(&sw);
	return r;
}

int
att_cca_emu_token(EVP_PKEY *cpak, EVP_PKEY *rak, const struct att_cca_emu_opts *o, uint8_t **ret, size_t *ret_len)
{
	uint8_t point[EMU_POINT_LEN], chal[EVP_MAX_MD_SIZE];
	uint8_t *rclaims = NULL, *pclaims = NULL, *rtok = NULL, *ptok = NULL, *rakc = NULL;
	size_t rakc_len = 0, rclaims_len = 0, pclaims_len = 0, rtok_len = 0, ptok_len = 0, dlen = 0, rlen = 0;
	unsigned int chal_len = 0;
	cbor_item_t *m = NULL, *coll = NULL;
	const EVP_MD *rak_md;
	int r;

	if (cpak == NULL || rak == NULL || o == NULL || ret == NULL || o->lifecycle < 0 ||
	    emu_md(o->realm_hash_alg, &dlen) == NULL || (rak_md = emu_md(o->rak_hash_alg, &rlen)) == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = emu_point(rak, point)) != 0 || (r = emu_rak_claim(point, o, &rakc, &rakc_len)) != 0 ||
	    (r = emu_realm_claims(rakc, rakc_len, o, dlen, &m)) != 0)
		goto out;
	r = emu_encode(m, &rclaims, &rclaims_len);
	m = NULL;   /* consumed */
	if (r != 0 || (r = emu_sign1(o->realm_signer != NULL ? o->realm_signer : rak, rclaims, rclaims_len, &rtok,
	    &rtok_len)) != 0)
		goto out;
	/* the platform vouches for the RAK: its challenge is the hash of claim 44237's bytes */
	r = KW_ERR_CRYPTO;
	if ((o->hash_point ? EVP_Digest(point, sizeof(point), chal, &chal_len, rak_md, NULL) :
	    EVP_Digest(rakc, rakc_len, chal, &chal_len, rak_md, NULL)) != 1)
		goto out;
	if (o->break_rak_hash)
		chal[0] ^= 0x01;
	if ((r = emu_platform_claims(cpak, chal, chal_len, o->lifecycle, &m)) != 0)
		goto out;
	r = emu_encode(m, &pclaims, &pclaims_len);
	m = NULL;   /* consumed */
	if (r != 0 || (r = emu_sign1(cpak, pclaims, pclaims_len, &ptok, &ptok_len)) != 0)
		goto out;
	r = KW_ERR_NOMEM;
	if ((m = cbor_new_definite_map(2)) == NULL || (coll = cbor_new_tag(399)) == NULL)
		goto out;
	if ((r = emu_put_bytes(m, 44234, ptok, ptok_len)) != 0 || (r = emu_put_bytes(m, 44241, rtok, rtok_len)) != 0)
		goto out;
	cbor_tag_set_item(coll, m);
	cbor_decref(&m);
	m = NULL;   /* the tag holds it */
	r = emu_encode(coll, ret, ret_len);
	coll = NULL;   /* consumed */
out:
	if (m != NULL)
		cbor_decref(&m);
	if (coll != NULL)
		cbor_decref(&coll);
	free(rakc);
	free(rclaims);
	free(pclaims);
	free(rtok);
	free(ptok);
	ERR_clear_error();
	return r;
}

int
att_cca_emu_evidence(const char *dir, const uint8_t challenge[static 64], const uint8_t *rim48, int debug,
    json_t **ret)
{
	struct att_cca_emu_opts o;
	EVP_PKEY *cpak = NULL, *rak = NULL;
	uint8_t *tok = NULL;
	size_t len = 0;
	json_t *ev = NULL;
	int r;

	if (dir == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	att_cca_emu_opts_default(&o);
	memcpy(o.challenge, challenge, sizeof(o.challenge));
	if (rim48 != NULL)
		memcpy(o.rim, rim48, 48);
	if (debug)
		o.lifecycle = 0x4000;   /* non-cca-platform-rot-debug */
	if ((r = att_cca_emu_cpak(dir, &cpak)) != 0)
		goto out;
	r = KW_ERR_CRYPTO;
	if ((rak = EVP_EC_gen("P-384")) == NULL)
		goto out;
	if ((r = att_cca_emu_token(cpak, rak, &o, &tok, &len)) != 0)
		goto out;
	r = KW_ERR_NOMEM;
	if ((ev = json_object()) == NULL || kw_json_set_b64url(ev, "token", tok, len) != 0)
		goto out;
	*ret = ev;
	ev = NULL;   /* transferred */
	r = 0;
out:
	json_decref(ev);
	free(tok);
	EVP_PKEY_free(rak);
	EVP_PKEY_free(cpak);
	ERR_clear_error();
	return r;
}
