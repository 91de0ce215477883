/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificates for TDX: the strict PEM reader for the chains in quotes and
 * collateral, chain verification to the pinned Intel SGX Root CA (or a
 * configured test root) with a cache by chain digest, the PCK certificate's
 * SGX extension (DER through kw_rd), and the ECDSA-P256 helpers.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509v3.h>

#include "kw_util.h"
#include "kw_x509.h"
#include "tdx_int.h"

#define TDX_MAX_CN 80
#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"
#define PEM_MAX_LINE 76
#define B64_MAX ((TDX_MAX_CERT_DER + 2) / 3 * 4 + 1)   /* base64 text of one certificate */

const uint8_t tdx_intel_root_sha256[32] = {
	0x44, 0xa0, 0x19, 0x6b, 0x2b, 0x99, 0xf8, 0x89, 0xb8, 0xe1, 0x49, 0xe9, 0x5b, 0x80, 0x7a, 0x35,
	0x0e, 0x74, 0x24, 0x96, 0x43, 0x99, 0xe8, 0x85, 0xa7, 0xcb, 0xb8, 0xcc, 0xfa, 0xb6, 0x74, 0xd3,
};

/* ---- strict PEM ---- */

/* One line without its LF (and a CR before it); the last line may end without LF. */
static int
pem_line(struct kw_rd *rd, const uint8_t **ret, size_t *ret_len)
{
	const uint8_t *nl = memchr(rd->p, '\n', rd->len);
	size_t n = nl != NULL ? (size_t)(nl - rd->p) : rd->len;
	const uint8_t *b;
	int r;

	if (rd->len == 0)
		return KW_ERR_INVALID_FORMAT;
	if ((r = kw_rd_bytes(rd, n, &b)) != 0 || (nl != NULL && (r = kw_rd_skip(rd, 1)) != 0))
		return r;
	if (n > 0 && b[n - 1] == '\r')
		n--;
	*ret = b;
	*ret_len = n;
	return 0;
}

static int
line_is(const uint8_t *l, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(l, s, n) == 0;
}

static int
b64_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	    c == '/';
}

/* Canonical base64 text (no line breaks) → one DER certificate. */
static int
b64_cert(const char *text, size_t tlen, X509 **ret)
{
	unsigned char der[TDX_MAX_CERT_DER + 3];
	char back[B64_MAX];
	const unsigned char *p = der;
	size_t pad = 0;
	int dlen, elen;
	X509 *x;

	if (tlen == 0 || tlen % 4 != 0 || tlen / 4 * 3 > TDX_MAX_CERT_DER + 2)
		return KW_ERR_INVALID_FORMAT;
	while (pad < 2 && text[tlen - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < tlen - pad; i++)
		if (!b64_char((uint8_t)text[i]))
			return KW_ERR_INVALID_FORMAT;
	dlen = EVP_DecodeBlock(der, (const unsigned char *)text, (int)tlen);   /* tlen is bounded above */
	if (dlen < 0 || (size_t)dlen < pad || (size_t)dlen - pad > TDX_MAX_CERT_DER)
		return KW_ERR_INVALID_FORMAT;
	dlen -= (int)pad;
	/* Canonical: re-encoding gives back exactly the text (no free bits set). */
	elen = EVP_EncodeBlock((unsigned char *)back, der, dlen);
	if (elen < 0 || (size_t)elen != tlen || memcmp(back, text, tlen) != 0)
		return KW_ERR_INVALID_FORMAT;
	if ((x = d2i_X509(NULL, &p, dlen)) == NULL || p != der + dlen) {
		X509_free(x);
		ERR_clear_error();
		return KW_ERR_INVALID_FORMAT;
	}
	*ret = x;
	return 0;
}

int
tdx_pem_certs(const uint8_t *pem, size_t len, X509 **out, size_t want)
{
	char *buf = NULL;
	X509 *got[TDX_MAX_CHAIN_CERTS] = { NULL };
	struct kw_rd rd;
	const uint8_t *l;
	size_t n = 0, ll;
	int r = KW_ERR_INVALID_FORMAT;

	if (pem == NULL || want == 0 || want > TDX_MAX_CHAIN_CERTS)
		return KW_ERR_INVALID_ARG;
	if (len > TDX_MAX_PCK_CHAIN)
		return KW_ERR_TOO_LARGE;
	if ((buf = malloc(B64_MAX)) == NULL)
		return KW_ERR_NOMEM;
	kw_rd_init(&rd, pem, len);
	while (rd.len > 0) {
		size_t tlen = 0;

		if (rd.len == 1 && rd.p[0] == 0 && n > 0)
			break;   /* the QE's terminating NUL */
		if (n == want || pem_line(&rd, &l, &ll) != 0 || !line_is(l, ll, PEM_BEGIN))
			goto out;
		for (;;) {
			if (pem_line(&rd, &l, &ll) != 0)
				goto out;
			if (line_is(l, ll, PEM_END))
				break;
			if (ll == 0 || ll > PEM_MAX_LINE || tlen + ll >= B64_MAX)
				goto out;
			memcpy(buf + tlen, l, ll);
			tlen += ll;
		}
		if ((r = b64_cert(buf, tlen, &got[n])) != 0)
			goto out;
		n++;
		r = KW_ERR_INVALID_FORMAT;
	}
	if (n != want)
		goto out;
	for (size_t i = 0; i < n; i++) {
		out[i] = got[i];   /* transferred */
		got[i] = NULL;
	}
	r = 0;
out:
	for (size_t i = 0; i < n; i++)
		X509_free(got[i]);
	free(buf);
	return r;
}

/* ---- times and keys ---- */

int
tdx_asn1_time(const ASN1_TIME *t, int64_t *ret)
{
	return kw_asn1_time(t, ret);
}

int
tdx_x509_window(const X509 *x, int64_t *ret_nb, int64_t *ret_na)
{
	return kw_x509_window(x, ret_nb, ret_na);
}

int
tdx_is_p256(EVP_PKEY *key)
{
	char group[32];
	size_t glen = 0;

	return key != NULL && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
	    EVP_PKEY_get_group_name(key, group, sizeof(group), &glen) == 1 && strcmp(group, "prime256v1") == 0;
}

int
tdx_p256_key(const uint8_t xy[static 64], EVP_PKEY **ret)
{
	uint8_t point[65];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *k = NULL;
	int r = KW_ERR_INVALID_FORMAT;

	point[0] = 0x04;
	memcpy(point + 1, xy, 64);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)(uintptr_t)"prime256v1", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	/* The import decodes the point and refuses one that is not on the curve. */
	if (EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	*ret = k;
	k = NULL;
	r = 0;
out:
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

int
tdx_ecdsa_verify(EVP_PKEY *key, const uint8_t sig[static 64], const uint8_t *msg, size_t len)
{
	BIGNUM *br = NULL, *bs = NULL;
	ECDSA_SIG *es = NULL;
	unsigned char *der = NULL;
	EVP_MD_CTX *md = NULL;
	int derlen, r = KW_ERR_NOMEM;

	if ((br = BN_bin2bn(sig, 32, NULL)) == NULL || (bs = BN_bin2bn(sig + 32, 32, NULL)) == NULL ||
	    (es = ECDSA_SIG_new()) == NULL)
		goto out;
	if (ECDSA_SIG_set0(es, br, bs) != 1)
		goto out;
	br = bs = NULL;   /* owned by es */
	if ((derlen = i2d_ECDSA_SIG(es, &der)) <= 0 || (md = EVP_MD_CTX_new()) == NULL)
		goto out;
	r = KW_ERR_CRYPTO;
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1)
		goto out;
	r = EVP_DigestVerify(md, der, (size_t)derlen, msg, len) == 1 ? 0 : KW_ERR_SIG_INVALID;
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	BN_free(br);
	BN_free(bs);
	ERR_clear_error();
	return r;
}

/* ---- chains ---- */

static int
subject_cn(const X509 *x, char out[static TDX_MAX_CN])
{
	return kw_x509_subject_cn(x, out, TDX_MAX_CN);
}

/*
 * Intel names its certificates "Intel SGX <role>"; the emulation chains
 * "NOT INTEL SGX <role>". Each chain must use the naming of its root.
 */
static int
has_role(const X509 *x, int is_test, const char *role)
{
	char cn[TDX_MAX_CN];
	const char *prefix = is_test ? "NOT INTEL " : "Intel ";
	size_t pl = strlen(prefix);

	return subject_cn(x, cn) == 0 && strncmp(cn, prefix, pl) == 0 && strcmp(cn + pl, role) == 0;
}

static int
is_pck_ca(const X509 *x, int is_test)
{
	return has_role(x, is_test, "SGX PCK Platform CA") || has_role(x, is_test, "SGX PCK Processor CA");
}

int
tdx_cert_sha256(const X509 *x, uint8_t out[static 32])
{
	unsigned char *der = NULL;
	int n, r;

	if ((n = i2d_X509(x, &der)) <= 0)
		return KW_ERR_NOMEM;
	r = kw_sha256(der, (size_t)n, out);
	OPENSSL_free(der);
	return r;
}

static int
chain_key(enum tdx_chain_kind kind, X509 *const *certs, size_t n, uint8_t out[static 32])
{
	EVP_MD_CTX *md = NULL;
	uint8_t k = (uint8_t)kind;
	unsigned int olen = 0;
	int r = KW_ERR_CRYPTO;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return KW_ERR_NOMEM;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(md, &k, 1) != 1)
		goto out;
	for (size_t i = 0; i < n; i++) {
		unsigned char *der = NULL;
		uint8_t len[4];
		int dl = i2d_X509(certs[i], &der);

		if (dl <= 0) {
			r = KW_ERR_NOMEM;
			goto out;
		}
		/* Length-prefixed, so that no two chains hash the same input. */
		len[0] = (uint8_t)(dl >> 24);
		len[1] = (uint8_t)(dl >> 16);
		len[2] = (uint8_t)(dl >> 8);
		len[3] = (uint8_t)dl;
		r = EVP_DigestUpdate(md, len, 4) == 1 && EVP_DigestUpdate(md, der, (size_t)dl) == 1 ? 0 :
		    KW_ERR_CRYPTO;
		OPENSSL_free(der);
		if (r != 0)
			goto out;
	}
	r = EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == 32 ? 0 : KW_ERR_CRYPTO;
out:
	EVP_MD_CTX_free(md);
	return r;
}

static struct tdx_cache_slot *
cache_slot(struct tdx_chain_cache *c, const uint8_t key[static 32])
{
	return &c->slot[(((size_t)key[0] << 8) | key[1]) % TDX_CHAIN_CACHE_SLOTS];
}

static int
cache_get(const struct tdx_trust *t, const uint8_t key[static 32], struct tdx_chain *ret)
{
	struct tdx_chain_cache *c = t->cache;
	struct tdx_cache_slot *s;
	int hit;

	pthread_mutex_lock(&c->lock);
	s = cache_slot(c, key);
	hit = s->used && memcmp(s->key, key, 32) == 0;
	if (hit) {
		memcpy(ret->root_sha256, s->root_sha256, 32);
		ret->not_before = s->not_before;
		ret->not_after = s->not_after;
		ret->is_test = s->is_test;
		c->hits++;
	} else {
		c->misses++;
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

static void
cache_put(const struct tdx_trust *t, const uint8_t key[static 32], const struct tdx_chain *v)
{
	struct tdx_chain_cache *c = t->cache;
	struct tdx_cache_slot *s;

	pthread_mutex_lock(&c->lock);
	s = cache_slot(c, key);   /* a collision replaces the older entry */
	memcpy(s->key, key, 32);
	memcpy(s->root_sha256, v->root_sha256, 32);
	s->not_before = v->not_before;
	s->not_after = v->not_after;
	s->is_test = (uint8_t)v->is_test;
	s->used = 1;
	c->written = 1;
	pthread_mutex_unlock(&c->lock);
}

void
tdx_trust_cache_stats(const struct tdx_trust *t, unsigned long *ret_hits, unsigned long *ret_misses)
{
	pthread_mutex_lock(&t->cache->lock);
	*ret_hits = t->cache->hits;
	*ret_misses = t->cache->misses;
	pthread_mutex_unlock(&t->cache->lock);
}

void
tdx_trust_pck_cache_stats(const struct tdx_trust *t, unsigned long *ret_hits, unsigned long *ret_misses)
{
	pthread_mutex_lock(&t->cache->lock);
	*ret_hits = t->cache->pck_hits;
	*ret_misses = t->cache->pck_misses;
	pthread_mutex_unlock(&t->cache->lock);
}

static void
pck_slots_clear(struct tdx_chain_cache *c)
{
	for (size_t i = 0; i < TDX_PCK_CACHE_SLOTS; i++)
		EVP_PKEY_free(c->pck[i].v.leaf_key);
	memset(c->pck, 0, sizeof(c->pck));
}

void
tdx_trust_cache_clear(const struct tdx_trust *t)
{
	pthread_mutex_lock(&t->cache->lock);
	/*
	 * Nothing stored since the last clear (as at start, when the roots are
	 * added): leave the ~320 KB of slots untouched, so their pages never
	 * become resident in a broker that sees no TDX quote.
	 */
	if (t->cache->written) {
		memset(t->cache->slot, 0, sizeof(t->cache->slot));
		pck_slots_clear(t->cache);
		t->cache->written = 0;
	}
	pthread_mutex_unlock(&t->cache->lock);
}

void
tdx_chain_cache_destroy(struct tdx_chain_cache *c)
{
	if (c == NULL)
		return;
	pck_slots_clear(c);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void
tdx_chain_clear(struct tdx_chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		X509_free(c->cert[i]);
	memset(c, 0, sizeof(*c));
}

static size_t
kind_len(enum tdx_chain_kind kind)
{
	return kind == TDX_CHAIN_PCK ? 3 : 2;
}

/* Names and keys of the roles of each kind (the root is identified by its bytes instead). */
static int
check_roles(enum tdx_chain_kind kind, X509 *const *c, int is_test, const char **why)
{
	switch (kind) {
	case TDX_CHAIN_PCK:
		if (!has_role(c[0], is_test, "SGX PCK Certificate") || !is_pck_ca(c[1], is_test)) {
			*why = "PCK chain is not PCK Certificate <- PCK Platform/Processor CA <- root";
			return KW_ERR_CERT_INVALID;
		}
		if (!tdx_is_p256(X509_get0_pubkey(c[0])) || X509_check_ca(c[0]) != 0) {
			*why = "PCK certificate is not an EC P-256 end-entity certificate";
			return KW_ERR_CERT_INVALID;
		}
		return 0;
	case TDX_CHAIN_TCB_SIGNING:
		if (!has_role(c[0], is_test, "SGX TCB Signing") || !tdx_is_p256(X509_get0_pubkey(c[0]))) {
			*why = "TCB signing chain is not TCB Signing <- root";
			return KW_ERR_CERT_INVALID;
		}
		return 0;
	case TDX_CHAIN_PCK_CRL:
		if (!is_pck_ca(c[0], is_test)) {
			*why = "PCK CRL issuer chain is not PCK Platform/Processor CA <- root";
			return KW_ERR_CERT_INVALID;
		}
		return 0;
	}
	return KW_ERR_INVALID_ARG;
}

static const char *
untrusted_reason(enum tdx_chain_kind kind)
{
	switch (kind) {
	case TDX_CHAIN_PCK: return "PCK chain does not end at the Intel SGX Root CA or a configured test root";
	case TDX_CHAIN_TCB_SIGNING: return "TCB signing chain does not end at a trusted root";
	case TDX_CHAIN_PCK_CRL: return "PCK CRL issuer chain does not end at a trusted root";
	}
	return "untrusted root";
}

static const char *
invalid_reason(enum tdx_chain_kind kind)
{
	switch (kind) {
	case TDX_CHAIN_PCK: return "PCK certificate chain invalid";
	case TDX_CHAIN_TCB_SIGNING: return "TCB signing certificate chain invalid";
	case TDX_CHAIN_PCK_CRL: return "PCK CRL issuer chain invalid";
	}
	return "certificate chain invalid";
}

int
tdx_chain_verify(const struct tdx_trust *t, enum tdx_chain_kind kind, X509 **certs, size_t n,
    struct tdx_chain *ret, const char **why)
{
	struct tdx_chain ch;
	uint8_t key[32];
	int r;

	*why = "internal error";
	if (t == NULL || certs == NULL || n != kind_len(kind))
		return KW_ERR_INVALID_ARG;
	memset(&ch, 0, sizeof(ch));
	if ((r = chain_key(kind, certs, n, key)) != 0)
		return r;
	if (!cache_get(t, key, &ch)) {
		/* The root: the pinned Intel root by its bytes, or a configured test root. */
		if ((r = tdx_cert_sha256(certs[n - 1], ch.root_sha256)) != 0)
			return r;
		if (memcmp(ch.root_sha256, tdx_intel_root_sha256, 32) == 0) {
			ch.is_test = 0;
		} else {
			size_t i;

			for (i = 0; i < t->nroots; i++)
				if (memcmp(ch.root_sha256, t->roots[i].sha256, 32) == 0)
					break;
			if (i == t->nroots) {
				*why = untrusted_reason(kind);
				return KW_ERR_UNTRUSTED_ROOT;
			}
			ch.is_test = 1;
		}
		if ((r = check_roles(kind, certs, ch.is_test, why)) != 0)
			return r;
		/* no time check here: the chain's window is cached and checked per use */
		if ((r = kw_x509_verify_path(certs, n, -1, X509_V_FLAG_X509_STRICT)) != 0) {
			*why = invalid_reason(kind);
			return r;
		}
		ch.not_before = INT64_MIN;
		ch.not_after = INT64_MAX;
		for (size_t i = 0; i < n; i++) {
			int64_t nb, na;

			if (tdx_x509_window(certs[i], &nb, &na) != 0) {
				*why = invalid_reason(kind);
				return KW_ERR_CERT_INVALID;
			}
			ch.not_before = nb > ch.not_before ? nb : ch.not_before;
			ch.not_after = na < ch.not_after ? na : ch.not_after;
		}
		cache_put(t, key, &ch);
	}
	for (size_t i = 0; i < n; i++) {
		ch.cert[i] = certs[i];   /* transferred */
		certs[i] = NULL;
	}
	ch.n = n;
	*ret = ch;
	return 0;
}

/* ---- a quote's PCK chain, cached by the digest of its text ---- */

int
tdx_name_sha256(const X509_NAME *n, uint8_t out[static 32])
{
	unsigned char *der = NULL;
	int len, r;

	if ((len = i2d_X509_NAME(n, &der)) <= 0)
		return KW_ERR_NOMEM;
	r = kw_sha256(der, (size_t)len, out);
	OPENSSL_free(der);
	return r;
}

int
tdx_spki_sha256(const X509 *x, uint8_t out[static 32])
{
	unsigned char *der = NULL;
	int len, r;

	if ((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der)) <= 0)
		return KW_ERR_NOMEM;
	r = kw_sha256(der, (size_t)len, out);
	OPENSSL_free(der);
	return r;
}

void
tdx_pck_chain_clear(struct tdx_pck_chain *c)
{
	EVP_PKEY_free(c->leaf_key);
	memset(c, 0, sizeof(*c));
}

static int
serial_bytes(const X509 *x, uint8_t out[static TDX_MAX_SERIAL], size_t *ret_len)
{
	const ASN1_INTEGER *s = X509_get0_serialNumber(x);
	int n = ASN1_STRING_length(s);

	if (ASN1_STRING_type(s) != V_ASN1_INTEGER || n <= 0 || n > TDX_MAX_SERIAL)
		return KW_ERR_CERT_INVALID;   /* negative, empty or oversized serial numbers are not Intel's */
	memcpy(out, ASN1_STRING_get0_data(s), (size_t)n);
	*ret_len = (size_t)n;
	return 0;
}

static struct tdx_pck_slot *
pck_slot(struct tdx_chain_cache *c, const uint8_t key[static 32])
{
	return &c->pck[(((size_t)key[0] << 8) | key[1]) % TDX_PCK_CACHE_SLOTS];
}

/* Verify the PEM chain and extract what the per-quote checks need. */
static int
pck_chain_build(const struct tdx_trust *t, const uint8_t *pem, size_t len, struct tdx_pck_chain *ret,
    const char **why)
{
	X509 *certs[3] = { NULL, NULL, NULL };
	struct tdx_chain ch;
	struct tdx_pck_chain v;
	char cn[TDX_MAX_CN];
	int r;

	memset(&ch, 0, sizeof(ch));
	memset(&v, 0, sizeof(v));
	if ((r = tdx_pem_certs(pem, len, certs, 3)) != 0) {
		*why = "PCK certificate chain is not three PEM certificates";
		goto out;
	}
	if ((r = tdx_chain_verify(t, TDX_CHAIN_PCK, certs, 3, &ch, why)) != 0)
		goto out;
	if ((r = tdx_pck_from_cert(ch.cert[0], &v.pck)) != 0) {
		*why = "PCK certificate SGX extension missing or malformed";
		r = KW_ERR_CERT_INVALID;
		goto out;
	}
	*why = "PCK certificate chain invalid";
	if ((r = serial_bytes(ch.cert[0], v.leaf_serial, &v.leaf_serial_len)) != 0 ||
	    (r = serial_bytes(ch.cert[1], v.ca_serial, &v.ca_serial_len)) != 0 ||
	    (r = tdx_name_sha256(X509_get_issuer_name(ch.cert[0]), v.issuer_name_sha256)) != 0 ||
	    (r = tdx_spki_sha256(ch.cert[1], v.ca_spki_sha256)) != 0)
		goto out;
	if ((v.leaf_key = X509_get_pubkey(ch.cert[0])) == NULL) {
		r = KW_ERR_CERT_INVALID;
		goto out;
	}
	memcpy(v.root_sha256, ch.root_sha256, 32);
	v.not_before = ch.not_before;
	v.not_after = ch.not_after;
	v.is_test = ch.is_test;
	v.processor_ca = subject_cn(ch.cert[1], cn) == 0 && strstr(cn, "Processor CA") != NULL;
	*ret = v;
	memset(&v, 0, sizeof(v));   /* transferred */
	r = 0;
out:
	for (size_t i = 0; i < 3; i++)
		X509_free(certs[i]);
	tdx_chain_clear(&ch);
	EVP_PKEY_free(v.leaf_key);
	ERR_clear_error();
	return r;
}

int
tdx_pck_chain_get(const struct tdx_trust *t, const uint8_t *pem, size_t len, struct tdx_pck_chain *ret,
    const char **why)
{
	struct tdx_chain_cache *c = t->cache;
	struct tdx_pck_slot *s;
	struct tdx_pck_chain v;
	uint8_t key[32];
	int r, hit;

	*why = "internal error";
	if (len > TDX_MAX_PCK_CHAIN)
		return KW_ERR_TOO_LARGE;
	if ((r = kw_sha256(pem, len, key)) != 0)
		return r;
	pthread_mutex_lock(&c->lock);
	s = pck_slot(c, key);
	hit = s->used && memcmp(s->key, key, 32) == 0;
	if (hit) {
		v = s->v;
		EVP_PKEY_up_ref(v.leaf_key);   /* the caller's own reference */
		c->pck_hits++;
	} else {
		c->pck_misses++;
	}
	pthread_mutex_unlock(&c->lock);
	if (hit) {
		*ret = v;
		return 0;
	}
	if ((r = pck_chain_build(t, pem, len, &v, why)) != 0)
		return r;
	pthread_mutex_lock(&c->lock);
	s = pck_slot(c, key);
	if (EVP_PKEY_up_ref(v.leaf_key) == 1) {   /* the cache's reference; a collision replaces the older entry */
		EVP_PKEY_free(s->v.leaf_key);
		memcpy(s->key, key, 32);
		s->v = v;
		s->used = 1;
		c->written = 1;
	}
	pthread_mutex_unlock(&c->lock);
	*ret = v;
	return 0;
}

/* ---- the SGX extension (DER through kw_rd) ---- */

/* 1.2.840.113741.1.13.1 */
static const uint8_t oid_sgx[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01 };

#define DER_INTEGER 0x02
#define DER_OCTET_STRING 0x04
#define DER_OID 0x06
#define DER_ENUMERATED 0x0a
#define DER_SEQUENCE 0x30

/* One TLV with a low tag number and a minimal definite length; the reader is unchanged on failure. */
static int
der_tlv(struct kw_rd *rd, uint8_t *ret_tag, struct kw_rd *ret_val)
{
	struct kw_rd r = *rd;
	uint8_t tag, l0, b;
	size_t len = 0, nb;

	if (kw_rd_u8(&r, &tag) != 0 || (tag & 0x1f) == 0x1f || kw_rd_u8(&r, &l0) != 0)
		return KW_ERR_INVALID_FORMAT;
	if (l0 < 0x80) {
		len = l0;
	} else {
		nb = l0 & 0x7f;
		if (nb == 0 || nb > 3)
			return KW_ERR_INVALID_FORMAT;
		for (size_t i = 0; i < nb; i++) {
			if (kw_rd_u8(&r, &b) != 0 || (i == 0 && b == 0))
				return KW_ERR_INVALID_FORMAT;
			len = (len << 8) | b;
		}
		if (len < 0x80)
			return KW_ERR_INVALID_FORMAT;
	}
	if (kw_rd_sub(&r, len, ret_val) != 0)
		return KW_ERR_INVALID_FORMAT;
	*ret_tag = tag;
	*rd = r;
	return 0;
}

static int
der_expect(struct kw_rd *rd, uint8_t tag, struct kw_rd *ret_val)
{
	uint8_t t;

	if (der_tlv(rd, &t, ret_val) != 0 || t != tag)
		return KW_ERR_INVALID_FORMAT;
	return 0;
}

/* A non-negative DER INTEGER (or ENUMERATED) of at most max. */
static int
der_uint(struct kw_rd *rd, uint8_t tag, uint32_t max, uint32_t *ret)
{
	struct kw_rd v;
	uint64_t val = 0;
	uint8_t b0, b;

	if (der_expect(rd, tag, &v) != 0 || v.len == 0 || v.len > 5)
		return KW_ERR_INVALID_FORMAT;
	b0 = v.p[0];
	if ((b0 & 0x80) != 0 || (v.len > 1 && b0 == 0 && (v.p[1] & 0x80) == 0))
		return KW_ERR_INVALID_FORMAT;   /* negative or not minimal */
	while (v.len > 0) {
		if (kw_rd_u8(&v, &b) != 0)
			return KW_ERR_INVALID_FORMAT;
		val = (val << 8) | b;
	}
	if (val > max)
		return KW_ERR_INVALID_FORMAT;
	*ret = (uint32_t)val;
	return 0;
}

static int
der_octets(struct kw_rd *rd, uint8_t *out, size_t n)
{
	struct kw_rd v;

	if (der_expect(rd, DER_OCTET_STRING, &v) != 0 || v.len != n)
		return KW_ERR_INVALID_FORMAT;
	return kw_rd_copy(&v, out, n);
}

/* The OID's arc below 1.2.840.113741.1.13.1 ("sub"); depth 1 or 2 arcs, each < 128. */
static int
sgx_arc(const struct kw_rd *oid, size_t depth, uint8_t ret[2])
{
	if (oid->len != sizeof(oid_sgx) + depth || memcmp(oid->p, oid_sgx, sizeof(oid_sgx)) != 0)
		return -1;
	for (size_t i = 0; i < depth; i++) {
		if ((oid->p[sizeof(oid_sgx) + i] & 0x80) != 0)
			return -1;
		ret[i] = oid->p[sizeof(oid_sgx) + i];
	}
	return 0;
}

/* .2: SEQUENCE of { OID .2.N, INTEGER } for N = 1..17 and { OID .2.18, OCTET STRING[16] }. */
static int
pck_tcb(struct kw_rd *seq, struct tdx_pck *p)
{
	uint32_t seen = 0;

	while (seq->len > 0) {
		struct kw_rd ent, oid;
		uint8_t arc[2];
		uint32_t v;

		if (der_expect(seq, DER_SEQUENCE, &ent) != 0 || der_expect(&ent, DER_OID, &oid) != 0 ||
		    sgx_arc(&oid, 2, arc) != 0 || arc[0] != 2 || arc[1] < 1 || arc[1] > 18 ||
		    (seen & (1u << arc[1])) != 0)
			return KW_ERR_INVALID_FORMAT;
		seen |= 1u << arc[1];
		if (arc[1] <= 16) {
			if (der_uint(&ent, DER_INTEGER, 255, &v) != 0)
				return KW_ERR_INVALID_FORMAT;
			p->sgx_svn[arc[1] - 1] = (uint8_t)v;
		} else if (arc[1] == 17) {
			if (der_uint(&ent, DER_INTEGER, 65535, &v) != 0)
				return KW_ERR_INVALID_FORMAT;
			p->pcesvn = (uint16_t)v;
		} else if (der_octets(&ent, p->cpusvn, 16) != 0) {
			return KW_ERR_INVALID_FORMAT;
		}
		if (kw_rd_end(&ent) != 0)
			return KW_ERR_INVALID_FORMAT;
	}
	return seen == 0x7fffeu ? 0 : KW_ERR_INVALID_FORMAT;   /* bits 1..18 */
}

int
tdx_pck_ext_parse(const uint8_t *der, size_t len, struct tdx_pck *ret)
{
	struct kw_rd rd, top;
	struct tdx_pck p;
	uint32_t seen = 0;

	if (der == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	memset(&p, 0, sizeof(p));
	kw_rd_init(&rd, der, len);
	if (der_expect(&rd, DER_SEQUENCE, &top) != 0 || kw_rd_end(&rd) != 0)
		return KW_ERR_INVALID_FORMAT;
	while (top.len > 0) {
		struct kw_rd ent, oid, val;
		uint8_t arc[2], tag;
		uint32_t v;

		if (der_expect(&top, DER_SEQUENCE, &ent) != 0 || der_expect(&ent, DER_OID, &oid) != 0 ||
		    sgx_arc(&oid, 1, arc) != 0 || arc[0] < 1 || arc[0] > 7 || (seen & (1u << arc[0])) != 0)
			return KW_ERR_INVALID_FORMAT;
		seen |= 1u << arc[0];
		switch (arc[0]) {
		case 2:   /* TCB */
			if (der_expect(&ent, DER_SEQUENCE, &val) != 0 || pck_tcb(&val, &p) != 0)
				return KW_ERR_INVALID_FORMAT;
			break;
		case 3:   /* PCE-ID */
			if (der_octets(&ent, p.pce_id, 2) != 0)
				return KW_ERR_INVALID_FORMAT;
			break;
		case 4:   /* FMSPC */
			if (der_octets(&ent, p.fmspc, 6) != 0)
				return KW_ERR_INVALID_FORMAT;
			break;
		case 5:   /* SGX type */
			if (der_uint(&ent, DER_ENUMERATED, 255, &v) != 0)
				return KW_ERR_INVALID_FORMAT;
			p.sgx_type = (uint8_t)v;
			break;
		default:  /* .1 PPID, .6 platform instance ID, .7 configuration: one element, not used */
			if (der_tlv(&ent, &tag, &val) != 0)
				return KW_ERR_INVALID_FORMAT;
			break;
		}
		if (kw_rd_end(&ent) != 0)
			return KW_ERR_INVALID_FORMAT;
	}
	if ((seen & 0x3eu) != 0x3eu)   /* .1 … .5 are required */
		return KW_ERR_INVALID_FORMAT;
	*ret = p;
	return 0;
}

int
tdx_pck_from_cert(const X509 *x, struct tdx_pck *ret)
{
	const uint8_t *v;
	size_t len;
	int r;

	if ((r = kw_x509_ext_value(x, "1.2.840.113741.1.13.1", &v, &len)) != 0)
		return r;
	return tdx_pck_ext_parse(v, len, ret);
}
