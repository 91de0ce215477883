/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emulated TDX quotes and collateral under a locally generated test root
 * (att_tdx_emu.h). Layouts as in verifier-client/tdx/tdx_quote.c; every subject
 * says "NOT INTEL".
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kw_json.h"
#include "kw_util.h"
#include "att_tdx_emu.h"

#define EMU_MAX_QUOTE (16 * 1024)
#define EMU_MAX_DER 1024
#define EMU_DAY 86400

/* The TD QE identity Intel publishes (MRSIGNER, ISVPRODID, ATTRIBUTES), reused by the emulation. */
static const uint8_t qe_mrsigner[32] = {
	0xdc, 0x9e, 0x2a, 0x7c, 0x6f, 0x94, 0x8f, 0x17, 0x47, 0x4e, 0x34, 0xa7, 0xfc, 0x43, 0xed, 0x03,
	0x0f, 0x7c, 0x15, 0x63, 0xf1, 0xba, 0xbd, 0xdf, 0x63, 0x40, 0xc8, 0x2e, 0x0e, 0x54, 0xa8, 0xc5,
};
static const uint8_t qe_vendor[16] = {
	0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
};

struct att_tdx_emu {
	EVP_PKEY *root_key, *ca_key, *leaf_key, *signer_key, *attest_key;
	X509 *root, *ca, *leaf, *signer;
	int intel_names;
};

/* ---- small writers ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void
w_bytes(struct wbuf *w, const void *b, size_t n)
{
	if (w->err || n > w->cap - w->len) {
		w->err = 1;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->len, b, n);
	w->len += n;
}

static void
w_u16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	w_bytes(w, b, 2);
}

static void
w_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	w_bytes(w, b, 4);
}

static void
w_zero(struct wbuf *w, size_t n)
{
	static const uint8_t z[64];

	while (n > 0 && !w->err) {
		size_t k = n < sizeof(z) ? n : sizeof(z);

		w_bytes(w, z, k);
		n -= k;
	}
}

/* DER TLV (lengths < 64 KiB) */
static void
der(struct wbuf *w, uint8_t tag, const uint8_t *v, size_t n)
{
	uint8_t h[4] = { tag, 0, 0, 0 };
	size_t hl;

	if (n < 0x80) {
		h[1] = (uint8_t)n;
		hl = 2;
	} else if (n < 0x100) {
		h[1] = 0x81;
		h[2] = (uint8_t)n;
		hl = 3;
	} else {
		h[1] = 0x82;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hl = 4;
	}
	w_bytes(w, h, hl);
	w_bytes(w, v, n);
}

static void
der_uint(struct wbuf *w, uint8_t tag, unsigned int v)
{
	uint8_t b[3];
	size_t n = 0;

	if (v > 0xff)
		b[n++] = (uint8_t)(v >> 8);
	b[n++] = (uint8_t)v;
	if ((b[0] & 0x80) != 0) {
		memmove(b + 1, b, n);
		b[0] = 0;
		n++;
	}
	der(w, tag, b, n);
}

/* SEQUENCE { OID 1.2.840.113741.1.13.1.<arcs>, <value> } */
static void
sgx_entry(struct wbuf *w, const uint8_t *arcs, size_t narcs, const uint8_t *val, size_t vlen)
{
	uint8_t oid[16] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01 };
	uint8_t tmp[EMU_MAX_DER];
	struct wbuf e = { tmp, 0, sizeof(tmp), 0 };

	memcpy(oid + 9, arcs, narcs);
	der(&e, 0x06, oid, 9 + narcs);
	w_bytes(&e, val, vlen);
	if (e.err)
		w->err = 1;
	der(w, 0x30, tmp, e.len);
}

/* sgx_entry with a value of one primitive TLV: an unsigned INTEGER/ENUMERATED or bytes. */
static void
sgx_prim(struct wbuf *w, uint8_t a0, uint8_t a1, uint8_t tag, unsigned int num, const uint8_t *bytes, size_t n)
{
	uint8_t v[64], arcs[2] = { a0, a1 };
	struct wbuf vb = { v, 0, sizeof(v), 0 };

	if (bytes != NULL)
		der(&vb, tag, bytes, n);
	else
		der_uint(&vb, tag, num);
	if (vb.err)
		w->err = 1;
	sgx_entry(w, arcs, a1 != 0 ? 2 : 1, v, vb.len);
}

/* The SGX extension value: PPID, TCB (16 SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX type. */
static int
sgx_ext(const struct att_tdx_emu_opts *o, uint8_t *out, size_t cap, size_t *ret_len)
{
	uint8_t tcb[EMU_MAX_DER], seq[EMU_MAX_DER], all[EMU_MAX_DER], ppid[16];
	struct wbuf t = { tcb, 0, sizeof(tcb), 0 }, s = { seq, 0, sizeof(seq), 0 };
	struct wbuf a = { all, 0, sizeof(all), 0 }, ov = { out, 0, cap, 0 };
	uint8_t arcs[1] = { 2 };

	memset(ppid, 0x5a, sizeof(ppid));
	for (uint8_t i = 1; i <= 16; i++)
		sgx_prim(&t, 2, i, 0x02, o->pck_sgx_svn[i - 1], NULL, 0);
	sgx_prim(&t, 2, 17, 0x02, o->pcesvn, NULL, 0);
	sgx_prim(&t, 2, 18, 0x04, 0, o->pck_sgx_svn, 16);
	der(&s, 0x30, tcb, t.len);
	sgx_prim(&a, 1, 0, 0x04, 0, ppid, 16);
	sgx_entry(&a, arcs, 1, seq, s.len);
	sgx_prim(&a, 3, 0, 0x04, 0, (const uint8_t *)"\0\0", 2);
	sgx_prim(&a, 4, 0, 0x04, 0, o->fmspc, 6);
	sgx_prim(&a, 5, 0, 0x0a, 0, NULL, 0);
	der(&ov, 0x30, all, a.len);
	if (t.err || s.err || a.err || ov.err)
		return KW_ERR_INTERNAL;
	*ret_len = ov.len;
	return 0;
}

/* ---- keys, certificates, CRLs ---- */

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	return ok == 1 ? 0 : -1;
}

enum role { ROLE_ROOT, ROLE_CA, ROLE_LEAF, ROLE_SIGNER };

static X509 *
mk_cert(const struct att_tdx_emu *e, enum role role, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
    long serial, int64_t now, const uint8_t *sgx, size_t sgx_len)
{
	static const char *const roles[] = { "SGX Root CA", "SGX PCK Platform CA", "SGX PCK Certificate",
		"SGX TCB Signing" };
	char cn[80];
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();
	int ok = x != NULL && nm != NULL;

	snprintf(cn, sizeof(cn), "%s %s", e->intel_names ? "Intel" : "NOT INTEL", roles[role]);
	ok = ok && X509_set_version(x, 2) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1 &&
	    X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC,
	        (const unsigned char *)"NOT INTEL - keywarden emulation", -1, -1, 0) == 1 &&
	    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) == 1 &&
	    X509_set_subject_name(x, nm) == 1 &&
	    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : nm) == 1 &&
	    X509_time_adj_ex(X509_getm_notBefore(x), -365, 0, &(time_t){ (time_t)now }) != NULL &&
	    X509_time_adj_ex(X509_getm_notAfter(x), 3650, 0, &(time_t){ (time_t)now }) != NULL &&
	    X509_set_pubkey(x, key) == 1;
	if (ok && (role == ROLE_ROOT || role == ROLE_CA))
		ok = add_ext(x, issuer != NULL ? issuer : x, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
		    add_ext(x, issuer != NULL ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign") == 0;
	else if (ok)
		ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
		    add_ext(x, issuer, NID_key_usage, "critical,digitalSignature,nonRepudiation") == 0;
	ok = ok && add_ext(x, issuer != NULL ? issuer : x, NID_subject_key_identifier, "hash") == 0;
	if (ok && issuer != NULL)
		ok = add_ext(x, issuer, NID_authority_key_identifier, "keyid:always") == 0;
	if (ok && sgx != NULL) {
		ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		X509_EXTENSION *ex = NULL;

		ok = obj != NULL && os != NULL && ASN1_OCTET_STRING_set(os, sgx, (int)sgx_len) == 1 &&
		    (ex = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) != NULL && X509_add_ext(x, ex, -1) == 1;
		X509_EXTENSION_free(ex);
		ASN1_OCTET_STRING_free(os);
		ASN1_OBJECT_free(obj);
	}
	ok = ok && X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0;
	X509_NAME_free(nm);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

void
att_tdx_emu_free(struct att_tdx_emu *e)
{
	if (e == NULL)
		return;
	EVP_PKEY_free(e->root_key);
	EVP_PKEY_free(e->ca_key);
	EVP_PKEY_free(e->leaf_key);
	EVP_PKEY_free(e->signer_key);
	EVP_PKEY_free(e->attest_key);
	X509_free(e->root);
	X509_free(e->ca);
	X509_free(e->leaf);
	X509_free(e->signer);
	free(e);
}

int
att_tdx_emu_new(const struct att_tdx_emu_opts *o, int intel_names, struct att_tdx_emu **ret)
{
	struct att_tdx_emu *e;
	uint8_t ext[EMU_MAX_DER];
	size_t ext_len = 0;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return KW_ERR_NOMEM;
	e->intel_names = intel_names;
	if ((e->root_key = EVP_EC_gen("P-256")) == NULL || (e->ca_key = EVP_EC_gen("P-256")) == NULL ||
	    (e->leaf_key = EVP_EC_gen("P-256")) == NULL || (e->signer_key = EVP_EC_gen("P-256")) == NULL ||
	    (e->attest_key = EVP_EC_gen("P-256")) == NULL || sgx_ext(o, ext, sizeof(ext), &ext_len) != 0 ||
	    (e->root = mk_cert(e, ROLE_ROOT, e->root_key, NULL, NULL, 1, o->now, NULL, 0)) == NULL ||
	    (e->ca = mk_cert(e, ROLE_CA, e->ca_key, e->root, e->root_key, 2, o->now, NULL, 0)) == NULL ||
	    (e->signer = mk_cert(e, ROLE_SIGNER, e->signer_key, e->root, e->root_key, 3, o->now, NULL, 0)) == NULL ||
	    (e->leaf = mk_cert(e, ROLE_LEAF, e->leaf_key, e->ca, e->ca_key, 4, o->now, ext, ext_len)) == NULL) {
		att_tdx_emu_free(e);
		ERR_clear_error();
		return KW_ERR_CRYPTO;
	}
	*ret = e;
	return 0;
}

/* ---- a set made by scripts/mk-tdx-emu.sh ---- */

#define EMU_MAX_FILE (64 * 1024)

static int
load_pem(const char *dir, const char *name, X509 **ret_cert, EVP_PKEY **ret_key)
{
	char path[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((r = kw_file_read(path, EMU_MAX_FILE, &buf, &len)) != 0)
		return r;
	r = KW_ERR_INVALID_FORMAT;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)   /* len <= EMU_MAX_FILE */
		r = KW_ERR_NOMEM;
	else if (ret_cert != NULL && (*ret_cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		r = 0;
	else if (ret_key != NULL && (*ret_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) != NULL)
		r = 0;
	BIO_free(bio);
	kw_free_wipe(buf);   /* may hold a private key */
	ERR_clear_error();
	return r;
}

/* emu.json: what the platform reports, written by mk-tdx-emu.sh with the PCK certificate. */
static int
load_platform(const char *dir, struct att_tdx_emu_opts *o)
{
	static const char *const keys[] = { "fmspc", "pcesvn", "sgx_tcb_components", "tee_tcb_svn", "mrtd",
		"qe_isvsvn", NULL };
	char path[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *j = NULL, *comps;
	const char *s;
	size_t slen;
	int64_t v;
	int r;

	snprintf(path, sizeof(path), "%s/emu.json", dir);
	if ((r = kw_file_read(path, EMU_MAX_FILE, &buf, &len)) != 0)
		return r;
	r = KW_ERR_INVALID_FORMAT;
	if (kw_json_parse(buf, len, EMU_MAX_FILE, &j) != 0 || kw_json_check_keys(j, keys) != 0)
		goto out;
	if (kw_json_get_str(j, "fmspc", &s, &slen) != 0 || kw_hex_decode(s, o->fmspc, 6) != 0 ||
	    kw_json_get_str(j, "tee_tcb_svn", &s, &slen) != 0 || kw_hex_decode(s, o->tee_tcb_svn, 16) != 0 ||
	    kw_json_get_str(j, "mrtd", &s, &slen) != 0 || kw_hex_decode(s, o->mrtd, 48) != 0)
		goto out;
	if (kw_json_get_int(j, "pcesvn", &v) != 0 || v < 0 || v > 65535)
		goto out;
	o->pcesvn = (uint16_t)v;
	if (kw_json_get_int(j, "qe_isvsvn", &v) != 0 || v < 0 || v > 65535)
		goto out;
	o->qe_isvsvn = (uint16_t)v;
	comps = json_object_get(j, "sgx_tcb_components");
	if (!json_is_array(comps) || json_array_size(comps) != 16)
		goto out;
	for (size_t i = 0; i < 16; i++) {
		json_t *c = json_array_get(comps, i);

		if (!json_is_integer(c) || json_integer_value(c) < 0 || json_integer_value(c) > 255)
			goto out;
		o->pck_sgx_svn[i] = (uint8_t)json_integer_value(c);
	}
	r = 0;
out:
	json_decref(j);
	free(buf);
	return r;
}

int
att_tdx_emu_load(const char *dir, int64_t now, struct att_tdx_emu **ret, struct att_tdx_emu_opts *ret_opts)
{
	struct att_tdx_emu *e;
	struct att_tdx_emu_opts o;
	int r;

	if (dir == NULL || ret == NULL || ret_opts == NULL)
		return KW_ERR_INVALID_ARG;
	att_tdx_emu_opts_default(&o, now);
	if ((r = load_platform(dir, &o)) != 0)
		return r;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return KW_ERR_NOMEM;
	if ((r = load_pem(dir, "root.pem", &e->root, NULL)) != 0 ||
	    (r = load_pem(dir, "root.key", NULL, &e->root_key)) != 0 ||
	    (r = load_pem(dir, "pck-ca.pem", &e->ca, NULL)) != 0 ||
	    (r = load_pem(dir, "pck-ca.key", NULL, &e->ca_key)) != 0 ||
	    (r = load_pem(dir, "pck.pem", &e->leaf, NULL)) != 0 ||
	    (r = load_pem(dir, "pck.key", NULL, &e->leaf_key)) != 0 ||
	    (r = load_pem(dir, "tcb-signing.pem", &e->signer, NULL)) != 0 ||
	    (r = load_pem(dir, "tcb-signing.key", NULL, &e->signer_key)) != 0)
		goto fail;
	if ((e->attest_key = EVP_EC_gen("P-256")) == NULL) {
		r = KW_ERR_CRYPTO;
		goto fail;
	}
	*ret = e;
	*ret_opts = o;
	return 0;
fail:
	att_tdx_emu_free(e);
	ERR_clear_error();
	return r;
}

static int
pem_of(X509 *const *xs, size_t n, int nul, char **ret, size_t *ret_len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *s;
	long len;
	int ok = b != NULL;

	for (size_t i = 0; ok && i < n; i++)
		ok = PEM_write_bio_X509(b, xs[i]) == 1;
	if (!ok || (len = BIO_get_mem_data(b, &data)) <= 0 || (s = malloc((size_t)len + 1)) == NULL) {
		BIO_free(b);
		return KW_ERR_NOMEM;
	}
	memcpy(s, data, (size_t)len);
	s[len] = '\0';
	*ret = s;
	*ret_len = (size_t)len + (nul ? 1 : 0);
	BIO_free(b);
	return 0;
}

int
att_tdx_emu_root_pem(const struct att_tdx_emu *e, char **ret)
{
	size_t len;

	return pem_of(&e->root, 1, 0, ret, &len);
}

/* ECDSA-P256/SHA-256 as r ‖ s. */
static int
sign_raw(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t out[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[80];
	const unsigned char *p = der;
	size_t dlen = sizeof(der);
	ECDSA_SIG *sig = NULL;
	int ok = md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(md, der, &dlen, msg, len) == 1 && (sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) != NULL &&
	    BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32) == 32 && BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32) == 32;

	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	return ok ? 0 : KW_ERR_CRYPTO;
}

static int
raw_point(EVP_PKEY *key, uint8_t out[64])
{
	uint8_t pt[65];
	size_t len = 0;

	if (EVP_PKEY_get_octet_string_param(key, "encoded-pub-key", pt, sizeof(pt), &len) != 1 || len != 65)
		return KW_ERR_CRYPTO;
	memcpy(out, pt + 1, 64);
	return 0;
}

int
att_tdx_emu_quote(const struct att_tdx_emu *e, const struct att_tdx_emu_opts *o, uint8_t **ret, size_t *ret_len)
{
	uint8_t *buf = calloc(1, EMU_MAX_QUOTE), qe[384], qe_sig[64], sig[64], ak[64], auth[32], md[32];
	struct wbuf w = { buf, 0, EMU_MAX_QUOTE, 0 }, q = { qe, 0, sizeof(qe), 0 };
	int version = o->version == 0 ? 4 : o->version, type = o->body_type == 0 ? 2 : o->body_type;
	char *pem = NULL;
	size_t pem_len = 0, signed_len;
	EVP_MD_CTX *mdc = NULL;
	unsigned int mdl = 0;
	X509 *chain[3] = { e->leaf, e->ca, e->root };
	int r = KW_ERR_CRYPTO;

	if (buf == NULL)
		return KW_ERR_NOMEM;
	if (raw_point(e->attest_key, ak) != 0 || pem_of(chain, 3, 1, &pem, &pem_len) != 0)
		goto out;
	for (size_t i = 0; i < sizeof(auth); i++)
		auth[i] = (uint8_t)i;

	/* header ‖ body */
	w_u16(&w, (uint16_t)version);
	w_u16(&w, 2);
	w_u32(&w, 0x81);
	w_zero(&w, 4);
	w_bytes(&w, qe_vendor, 16);
	w_zero(&w, 20);
	if (version == 5) {
		w_u16(&w, (uint16_t)type);
		w_u32(&w, type == 3 ? 648 : 584);
	}
	w_bytes(&w, o->tee_tcb_svn, 16);
	w_bytes(&w, o->mrseam, 48);
	w_zero(&w, 48);                 /* MRSIGNERSEAM: Intel's module */
	w_zero(&w, 8);                  /* SEAM_ATTRIBUTES */
	w_bytes(&w, o->td_attributes, 8);
	w_bytes(&w, o->xfam, 8);
	w_bytes(&w, o->mrtd, 48);
	w_bytes(&w, o->mrconfigid, 48);
	w_zero(&w, 96);                 /* MROWNER, MROWNERCONFIG */
	for (size_t i = 0; i < 4; i++)
		w_bytes(&w, o->rtmr[i], 48);
	w_bytes(&w, o->report_data, 64);
	if (version == 5 && type == 3) {
		w_bytes(&w, o->tee_tcb_svn2, 16);
		w_zero(&w, 48);             /* MRSERVICETD */
	}
	signed_len = w.len;
	if (w.err || sign_raw(e->attest_key, buf, signed_len, sig) != 0)
		goto out;

	/* QE report: REPORT_DATA = SHA-256(attestation key ‖ auth data) ‖ 0^32 */
	if ((mdc = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(mdc, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(mdc, ak, 64) != 1 || EVP_DigestUpdate(mdc, auth, 32) != 1 ||
	    EVP_DigestFinal_ex(mdc, md, &mdl) != 1)
		goto out;
	w_bytes(&q, o->pck_sgx_svn, 16);                  /* CPUSVN */
	w_zero(&q, 4 + 28);                               /* MISCSELECT, reserved */
	w_bytes(&q, (const uint8_t *)"\x11\0\0\0\0\0\0\0\xe7\0\0\0\0\0\0\0", 16);   /* ATTRIBUTES */
	w_bytes(&q, md, 32);                              /* MRENCLAVE: any value */
	w_zero(&q, 32);
	w_bytes(&q, qe_mrsigner, 32);
	w_zero(&q, 96);
	w_u16(&q, 2);                                     /* ISVPRODID */
	w_u16(&q, o->qe_isvsvn);
	w_zero(&q, 60);
	w_bytes(&q, md, 32);
	w_zero(&q, 32);
	if (q.err || sign_raw(e->leaf_key, qe, sizeof(qe), qe_sig) != 0)
		goto out;

	/* signature data: sig, key, type 6 { QE report, its sig, auth data, type 5 { PEM } } */
	w_u32(&w, (uint32_t)(64 + 64 + 6 + 384 + 64 + 2 + 32 + 6 + pem_len));
	w_bytes(&w, sig, 64);
	w_bytes(&w, ak, 64);
	w_u16(&w, 6);
	w_u32(&w, (uint32_t)(384 + 64 + 2 + 32 + 6 + pem_len));
	w_bytes(&w, qe, sizeof(qe));
	w_bytes(&w, qe_sig, 64);
	w_u16(&w, 32);
	w_bytes(&w, auth, 32);
	w_u16(&w, 5);
	w_u32(&w, (uint32_t)pem_len);
	w_bytes(&w, pem, pem_len);    /* includes the QE's terminating NUL */
	if (w.err) {
		r = KW_ERR_TOO_LARGE;
		goto out;
	}
	*ret = buf;
	*ret_len = w.len;
	buf = NULL;
	r = 0;
out:
	EVP_MD_CTX_free(mdc);
	free(pem);
	free(buf);
	ERR_clear_error();
	return r;
}

/* ---- collateral ---- */

static json_t *
hexstr(const uint8_t *b, size_t n, int upper)
{
	char *h = NULL;
	json_t *v;

	if (kw_hex_encode(b, n, &h) != 0)
		return NULL;
	for (size_t i = 0; upper && h[i] != '\0'; i++)
		if (h[i] >= 'a' && h[i] <= 'f')
			h[i] = (char)(h[i] - 'a' + 'A');
	v = json_string(h);
	free(h);
	return v;
}

static json_t *
timestr(int64_t t)
{
	char s[21];

	kw_time_format_rfc3339(t, s);
	return json_string(s);
}

/* Append / set v (taken); any failure (also v == NULL) sets *bad, so no document loses a member silently. */
static void
add(json_t *a, json_t *v, int *bad)
{
	if (a == NULL || v == NULL || json_array_append_new(a, v) != 0)
		*bad = 1;
	else
		return;
	if (a == NULL)
		json_decref(v);
}

static void
set(json_t *o, const char *key, json_t *v, int *bad)
{
	if (o == NULL || v == NULL || json_object_set_new(o, key, v) != 0)
		*bad = 1;
	else
		return;
	if (o == NULL)
		json_decref(v);
}

static json_t *
advisories(const char *list, int *bad)
{
	json_t *a = json_array();
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
		add(a, json_string(tok), bad);
	return a;
}

static json_t *
components(const uint8_t svn[16], int *bad)
{
	json_t *a = json_array();

	for (size_t i = 0; i < 16; i++)
		add(a, json_pack("{s:i}", "svn", svn[i]), bad);
	return a;
}

static json_t *
isv_levels(const struct att_tdx_emu_isv_level *l, size_t n, int64_t now, int *bad)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *lv = json_pack("{s:{s:i},s:o,s:s}", "tcb", "isvsvn", l[i].isvsvn, "tcbDate",
		    timestr(now - 30 * EMU_DAY), "tcbStatus", l[i].status);

		if (l[i].advisories != NULL)
			set(lv, "advisoryIDs", advisories(l[i].advisories, bad), bad);
		add(a, lv, bad);
	}
	return a;
}

/* Compact text of v (taken), NULL when v or anything in it failed. */
static char *
dump(json_t *v, int bad)
{
	char *s = v != NULL && !bad ? kw_json_dumps(v, JSON_COMPACT) : NULL;

	json_decref(v);
	return s;
}

static char *
tcb_info_text(const struct att_tdx_emu_opts *o)
{
	static const uint8_t zero48[48];
	struct att_tdx_emu_level def;
	const struct att_tdx_emu_level *lv = o->levels;
	size_t nlv = o->nlevels;
	json_t *ti, *levels = json_array();
	int bad = 0;

	if (nlv == 0) {
		memset(&def, 0, sizeof(def));
		memcpy(def.sgx, o->pck_sgx_svn, 16);
		def.pcesvn = o->pcesvn;
		memcpy(def.tdx, o->tee_tcb_svn, 16);
		def.status = "UpToDate";
		lv = &def;
		nlv = 1;
	}
	for (size_t i = 0; i < nlv; i++) {
		json_t *l = json_pack("{s:{s:o,s:i,s:o},s:o,s:s}", "tcb", "sgxtcbcomponents",
		    components(lv[i].sgx, &bad), "pcesvn", lv[i].pcesvn, "tdxtcbcomponents",
		    components(lv[i].tdx, &bad), "tcbDate", timestr(o->now - 60 * EMU_DAY), "tcbStatus", lv[i].status);

		if (lv[i].advisories != NULL)
			set(l, "advisoryIDs", advisories(lv[i].advisories, &bad), &bad);
		add(levels, l, &bad);
	}
	ti = json_pack("{s:s,s:i,s:o,s:o,s:o,s:s,s:i,s:i,s:{s:o,s:s,s:s}}",
	    "id", "TDX", "version", 3,
	    "issueDate", timestr(o->now - 3600),
	    "nextUpdate", timestr(o->tcb_next != 0 ? o->tcb_next : o->now + 30 * EMU_DAY),
	    "fmspc", hexstr(o->fmspc, 6, 1), "pceId", "0000", "tcbType", 0, "tcbEvaluationDataNumber", 17,
	    "tdxModule", "mrsigner", hexstr(zero48, 48, 1), "attributes", "0000000000000000",
	    "attributesMask", "FFFFFFFFFFFFFFFF");
	if (!o->no_module_identities) {
		struct att_tdx_emu_module def_mod = { 1, { { 0, "UpToDate", NULL } }, 1 };
		const struct att_tdx_emu_module *m = o->nmodules > 0 ? o->modules : &def_mod;
		size_t nm = o->nmodules > 0 ? o->nmodules : 1;
		json_t *mods = json_array();

		for (size_t i = 0; i < nm; i++) {
			char id[8];

			snprintf(id, sizeof(id), "TDX_%02X", m[i].version);
			add(mods, json_pack("{s:s,s:o,s:s,s:s,s:o}", "id", id, "mrsigner", hexstr(zero48, 48, 1),
			    "attributes", "0000000000000000", "attributesMask", "FFFFFFFFFFFFFFFF",
			    "tcbLevels", isv_levels(m[i].levels, m[i].nlevels, o->now, &bad)), &bad);
		}
		set(ti, "tdxModuleIdentities", mods, &bad);
	}
	set(ti, "tcbLevels", levels, &bad);
	return dump(ti, bad);
}

static char *
qe_identity_text(const struct att_tdx_emu_opts *o)
{
	struct att_tdx_emu_isv_level def = { 0, "UpToDate", NULL };
	int bad = 0;
	json_t *qe = json_pack("{s:s,s:i,s:o,s:o,s:i,s:s,s:s,s:s,s:s,s:o,s:i,s:o}",
	    "id", "TD_QE", "version", 2,
	    "issueDate", timestr(o->now - 3600),
	    "nextUpdate", timestr(o->qe_next != 0 ? o->qe_next : o->now + 30 * EMU_DAY),
	    "tcbEvaluationDataNumber", 17, "miscselect", "00000000", "miscselectMask", "FFFFFFFF",
	    "attributes", "11000000000000000000000000000000",
	    "attributesMask", "FBFFFFFFFFFFFFFF0000000000000000",
	    "mrsigner", hexstr(qe_mrsigner, 32, 1), "isvprodid", 2,
	    "tcbLevels", o->nqe_levels > 0 ? isv_levels(o->qe_levels, o->nqe_levels, o->now, &bad) :
	        isv_levels(&def, 1, o->now, &bad));

	return dump(qe, bad);
}

static json_t *
crl_hex(X509 *issuer, EVP_PKEY *key, const X509 *revoked, int64_t now, int64_t next)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t1 = ASN1_TIME_set(NULL, (time_t)(now - 3600)), *t2 = ASN1_TIME_set(NULL, (time_t)next);
	unsigned char *der = NULL;
	int n = 0, ok = crl != NULL && t1 != NULL && t2 != NULL && X509_CRL_set_version(crl, 1) == 1 &&
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) == 1 &&
	    X509_CRL_set1_lastUpdate(crl, t1) == 1 && X509_CRL_set1_nextUpdate(crl, t2) == 1;
	json_t *v = NULL;

	if (ok) {
		/* One unrelated entry always, so that an empty list is never what passes. */
		ASN1_INTEGER *other = ASN1_INTEGER_new();
		X509_REVOKED *rv = X509_REVOKED_new();

		ok = other != NULL && rv != NULL && ASN1_INTEGER_set(other, 9999) == 1 &&
		    X509_REVOKED_set_serialNumber(rv, other) == 1 && X509_REVOKED_set_revocationDate(rv, t1) == 1 &&
		    X509_CRL_add0_revoked(crl, rv) == 1;
		if (!ok)
			X509_REVOKED_free(rv);
		ASN1_INTEGER_free(other);
	}
	if (ok && revoked != NULL) {
		X509_REVOKED *rv = X509_REVOKED_new();
		ASN1_INTEGER *serial = ASN1_INTEGER_dup(X509_get0_serialNumber(revoked));

		ok = rv != NULL && serial != NULL && X509_REVOKED_set_serialNumber(rv, serial) == 1 &&
		    X509_REVOKED_set_revocationDate(rv, t1) == 1 && X509_CRL_add0_revoked(crl, rv) == 1;
		if (!ok)
			X509_REVOKED_free(rv);
		ASN1_INTEGER_free(serial);
	}
	ok = ok && X509_CRL_sort(crl) == 1 && X509_CRL_sign(crl, key, EVP_sha256()) > 0 &&
	    (n = i2d_X509_CRL(crl, &der)) > 0;
	if (ok)
		v = hexstr(der, (size_t)n, 0);
	OPENSSL_free(der);
	ASN1_TIME_free(t1);
	ASN1_TIME_free(t2);
	X509_CRL_free(crl);
	return v;
}

int
att_tdx_emu_collateral(const struct att_tdx_emu *e, const struct att_tdx_emu_opts *o, char **ret)
{
	X509 *signing[2] = { e->signer, e->root }, *crl_chain[2] = { e->ca, e->root };
	char *tcb = tcb_info_text(o), *qe = qe_identity_text(o), *sch = NULL, *cch = NULL, *out;
	size_t l1, l2;
	uint8_t s1[64], s2[64];
	int r = KW_ERR_CRYPTO;

	if (tcb == NULL || qe == NULL || pem_of(signing, 2, 0, &sch, &l1) != 0 ||
	    pem_of(crl_chain, 2, 0, &cch, &l2) != 0 ||
	    sign_raw(e->signer_key, (const uint8_t *)tcb, strlen(tcb), s1) != 0 ||
	    sign_raw(e->signer_key, (const uint8_t *)qe, strlen(qe), s2) != 0)
		goto out;
	out = dump(json_pack("{s:s,s:o,s:o,s:s,s:s,s:o,s:s,s:s,s:o}",
	    "pck_crl_issuer_chain", cch,
	    "root_ca_crl", crl_hex(e->root, e->root_key, o->revoke_ca ? e->ca : NULL, o->now,
	        o->root_crl_next != 0 ? o->root_crl_next : o->now + 365 * EMU_DAY),
	    "pck_crl", crl_hex(e->ca, e->ca_key, o->revoke_leaf ? e->leaf : NULL, o->now,
	        o->pck_crl_next != 0 ? o->pck_crl_next : o->now + 30 * EMU_DAY),
	    "tcb_info_issuer_chain", sch, "tcb_info", tcb, "tcb_info_signature", hexstr(s1, 64, 0),
	    "qe_identity_issuer_chain", sch, "qe_identity", qe, "qe_identity_signature", hexstr(s2, 64, 0)), 0);
	if (out == NULL)
		goto out;
	*ret = out;
	r = 0;
out:
	free(tcb);
	free(qe);
	free(sch);
	free(cch);
	ERR_clear_error();
	return r;
}

void
att_tdx_emu_opts_default(struct att_tdx_emu_opts *o, int64_t now)
{
	static const uint8_t fmspc[6] = { 0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00 };

	memset(o, 0, sizeof(*o));
	o->now = now;
	o->version = 4;
	o->body_type = 2;
	o->tee_tcb_svn[0] = 5;     /* module minor SVN */
	o->tee_tcb_svn[1] = 1;     /* module major version: TDX_01 */
	o->tee_tcb_svn[2] = 2;
	o->td_attributes[3] = 0x10;   /* SEPT_VE_DISABLE */
	o->xfam[0] = 0xe7;
	o->xfam[1] = 0x02;
	o->xfam[2] = 0x06;
	for (size_t i = 0; i < 48; i++) {
		o->mrtd[i] = (uint8_t)(0xa0 + i);
		o->mrseam[i] = (uint8_t)(0x50 + i);
		for (size_t k = 0; k < 4; k++)
			o->rtmr[k][i] = (uint8_t)(16 * k + i);
	}
	memcpy(o->fmspc, fmspc, 6);
	for (size_t i = 0; i < 8; i++)
		o->pck_sgx_svn[i] = (uint8_t)(i + 2);
	o->pcesvn = 13;
	o->qe_isvsvn = 8;
}
