/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP evidence verification: trust anchors (pinned AMD ARKs, configured
 * test ARKs), VCEK/VLEK chain through ASK/ASVK, report signature, hwID and
 * TCB binding, debug policy, normalized claims. The order of the checks is
 * documented in docs/verifier-snp.md.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kw_rd.h"
#include "kw_util.h"
#include "kw_x509.h"
#include "snp.h"

#define SNP_MAX_ROOTS 16
#define SNP_MAX_INTERS 32
#define SNP_MAX_PEM_CERTS 8
#define SNP_MAX_CN 64

#define AMD_OID_PRODUCT_NAME "1.3.6.1.4.1.3704.1.2"
#define AMD_OID_BL_SPL "1.3.6.1.4.1.3704.1.3.1"
#define AMD_OID_TEE_SPL "1.3.6.1.4.1.3704.1.3.2"
#define AMD_OID_SNP_SPL "1.3.6.1.4.1.3704.1.3.3"
#define AMD_OID_UCODE_SPL "1.3.6.1.4.1.3704.1.3.8"
#define AMD_OID_FMC_SPL "1.3.6.1.4.1.3704.1.3.9"
#define AMD_OID_HWID "1.3.6.1.4.1.3704.1.4"

struct snp_root {
	X509 *cert;               /* owned */
	enum snp_product product;
	int is_test;
};

/*
 * The key certificate verified once: what the per-report checks need from
 * it, for the window in which its whole chain is valid. Keyed by SHA-256 of
 * the evidence's certificate DER bytes as sent (and VCEK/VLEK), so a hit
 * parses no certificate. Only chains that verified are entered.
 */
struct leaf_info {
	EVP_PKEY *key;                 /* the VCEK/VLEK public key (a reference) */
	enum snp_product product;      /* of the issuing ARK */
	int is_test;
	int64_t not_before, not_after; /* the intersection of the chain's validity periods */
	int hwid_r;                    /* ext_hwid's result (VCEK only) */
	uint8_t hwid[64];
	int tcb_r;                     /* the TCB extensions' result */
	struct snp_tcb tcb;
};

struct chain_slot {
	uint8_t key[32];
	int used;
	struct leaf_info v;
};

struct chain_cache {
	pthread_mutex_t lock;
	size_t nslots;                 /* 0: no cache */
	struct chain_slot *slot;
	unsigned long hits, misses;
};

struct snp_trust {
	struct snp_root roots[SNP_MAX_ROOTS];
	size_t nroots;
	X509 *inters[SNP_MAX_INTERS];   /* owned; ASK / ASVK verified against a root at load */
	size_t ninters;
	struct chain_cache *cache;      /* mutable under its lock: the trust is shared read-only */
};

/* SHA-256 of the DER of the AMD root keys (ARK), from AMD KDS cert_chain. */
static const struct {
	enum snp_product product;
	uint8_t sha256[32];
} pinned_arks[] = {
	{ SNP_PRODUCT_MILAN, {
	    0x69, 0xd0, 0x63, 0xb4, 0x53, 0x44, 0xd2, 0x6a, 0x2e, 0x94, 0xe1, 0xf4, 0x21, 0x0d, 0xe4, 0x9e,
	    0xf5, 0x55, 0x30, 0x82, 0x87, 0xd4, 0xc1, 0x74, 0x44, 0x5c, 0x95, 0x63, 0x9a, 0x54, 0x0b, 0xcd } },
	{ SNP_PRODUCT_GENOA, {
	    0x4c, 0x65, 0x98, 0xd1, 0x9c, 0x18, 0x71, 0x9c, 0x5d, 0xfd, 0x4a, 0x7d, 0x33, 0x5f, 0x67, 0x4e,
	    0x5b, 0xfe, 0x1d, 0x8f, 0x80, 0x0c, 0xea, 0x2c, 0xf2, 0x70, 0xc1, 0x0d, 0x10, 0x3d, 0xb2, 0xf1 } },
	{ SNP_PRODUCT_TURIN, {
	    0x1f, 0x08, 0x41, 0x61, 0xa4, 0x4b, 0xb6, 0xd9, 0x37, 0x78, 0xa9, 0x04, 0x87, 0x7d, 0x48, 0x19,
	    0xca, 0xfa, 0x5d, 0x05, 0xef, 0x41, 0x93, 0xb2, 0xde, 0xd9, 0xdd, 0x9c, 0x73, 0xdd, 0x3f, 0x6a } },
};

/* ---- small certificate helpers ---- */

static enum snp_product
product_from(const char *s, size_t n)
{
	static const struct { const char *name; enum snp_product p; } tab[] = {
		{ "Milan", SNP_PRODUCT_MILAN }, { "Genoa", SNP_PRODUCT_GENOA }, { "Turin", SNP_PRODUCT_TURIN },
	};

	for (size_t i = 0; i < KW_ARRAY_SIZE(tab); i++)
		if (strlen(tab[i].name) == n && memcmp(tab[i].name, s, n) == 0)
			return tab[i].p;
	return SNP_PRODUCT_UNKNOWN;
}

static int
subject_cn(const X509 *x, char out[static SNP_MAX_CN])
{
	return kw_x509_subject_cn(x, out, SNP_MAX_CN);
}

/* "ARK-<product>" → product, else UNKNOWN. */
static enum snp_product
ark_product(const X509 *x)
{
	char cn[SNP_MAX_CN];

	if (subject_cn(x, cn) != 0 || strncmp(cn, "ARK-", 4) != 0)
		return SNP_PRODUCT_UNKNOWN;
	return product_from(cn + 4, strlen(cn + 4));
}

/* "SEV-<product>" (ASK, *ret_vlek = 0) or "SEV-VLEK-<product>" (ASVK, 1). */
static enum snp_product
ca_product(const X509 *x, int *ret_vlek)
{
	char cn[SNP_MAX_CN];
	enum snp_product p;

	if (subject_cn(x, cn) != 0)
		return SNP_PRODUCT_UNKNOWN;
	if (strncmp(cn, "SEV-VLEK-", 9) == 0) {
		if ((p = product_from(cn + 9, strlen(cn + 9))) != SNP_PRODUCT_UNKNOWN)
			*ret_vlek = 1;
		return p;
	}
	if (strncmp(cn, "SEV-", 4) == 0) {
		if ((p = product_from(cn + 4, strlen(cn + 4))) != SNP_PRODUCT_UNKNOWN)
			*ret_vlek = 0;
		return p;
	}
	return SNP_PRODUCT_UNKNOWN;
}

/* Product of a pinned AMD ARK with exactly this DER, else UNKNOWN. */
static enum snp_product
pinned_product(const X509 *x)
{
	unsigned char *der = NULL;
	uint8_t md[32];
	unsigned int mdlen = 0;
	enum snp_product p = SNP_PRODUCT_UNKNOWN;
	int n;

	if ((n = i2d_X509(x, &der)) <= 0)
		return SNP_PRODUCT_UNKNOWN;
	if (EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == sizeof(md)) {
		for (size_t i = 0; i < KW_ARRAY_SIZE(pinned_arks); i++)
			if (memcmp(md, pinned_arks[i].sha256, sizeof(md)) == 0)
				p = pinned_arks[i].product;
	}
	OPENSSL_free(der);
	return p;
}

static int
self_signed_ok(X509 *x)
{
	EVP_PKEY *k = X509_get0_pubkey(x);

	return k != NULL && X509_check_issued(x, x) == X509_V_OK && X509_verify(x, k) == 1;
}

static const struct snp_root *
find_root(const struct snp_trust *t, const X509 *x)
{
	for (size_t i = 0; i < t->nroots; i++)
		if (X509_cmp(t->roots[i].cert, x) == 0)
			return &t->roots[i];
	return NULL;
}

static int
have_inter(const struct snp_trust *t, const X509 *x)
{
	for (size_t i = 0; i < t->ninters; i++)
		if (X509_cmp(t->inters[i], x) == 0)
			return 1;
	return 0;
}

/* Parse up to max PEM certificates from a buffer into out[]; *ret_n set on success. */
static int
pem_certs(const void *pem, size_t len, X509 **out, size_t max, size_t *ret_n)
{
	BIO *bio = NULL;
	X509 *x;
	size_t n = 0;
	int r = KW_ERR_INVALID_FORMAT;

	if (pem == NULL || len == 0)
		return KW_ERR_INVALID_FORMAT;
	if (len > SNP_MAX_CHAIN_FILE)
		return KW_ERR_TOO_LARGE;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)   /* len <= SNP_MAX_CHAIN_FILE */
		return KW_ERR_NOMEM;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (n == max) {
			X509_free(x);
			r = KW_ERR_TOO_LARGE;
			goto out;
		}
		out[n++] = x;     /* owned by caller's array */
	}
	/* The loop ends on "no start line" at EOF; anything else is a broken PEM block. */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE || n == 0)
		goto out;
	*ret_n = n;
	n = 0;
	r = 0;
out:
	while (n > 0)
		X509_free(out[--n]);
	ERR_clear_error();
	BIO_free(bio);
	return r;
}

static int
read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	if (path == NULL)
		return KW_ERR_INVALID_ARG;
	return kw_file_read(path, SNP_MAX_CHAIN_FILE, ret, ret_len);
}

/* ---- trust ---- */

int
snp_trust_new(struct snp_trust **ret)
{
	struct snp_trust *t;

	if (ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return KW_ERR_NOMEM;
	if ((t->cache = calloc(1, sizeof(*t->cache))) == NULL ||
	    (t->cache->slot = calloc(SNP_CHAIN_CACHE_DEFAULT, sizeof(*t->cache->slot))) == NULL) {
		if (t->cache != NULL)
			free(t->cache);
		free(t);
		return KW_ERR_NOMEM;
	}
	t->cache->nslots = SNP_CHAIN_CACHE_DEFAULT;
	pthread_mutex_init(&t->cache->lock, NULL);
	*ret = t;
	return 0;
}

static void
cache_slots_clear(struct chain_cache *c)
{
	for (size_t i = 0; i < c->nslots; i++)
		if (c->slot[i].used)
			EVP_PKEY_free(c->slot[i].v.key);
	if (c->nslots > 0)
		memset(c->slot, 0, c->nslots * sizeof(*c->slot));
}

int
snp_trust_set_cache_slots(struct snp_trust *t, size_t n)
{
	struct chain_slot *s = NULL;

	if (t == NULL || n > SNP_CHAIN_CACHE_MAX)
		return KW_ERR_INVALID_ARG;
	if (n > 0 && (s = calloc(n, sizeof(*s))) == NULL)
		return KW_ERR_NOMEM;
	pthread_mutex_lock(&t->cache->lock);
	cache_slots_clear(t->cache);
	free(t->cache->slot);
	t->cache->slot = s;
	t->cache->nslots = n;
	pthread_mutex_unlock(&t->cache->lock);
	return 0;
}

void
snp_trust_cache_stats(const struct snp_trust *t, unsigned long *ret_hits, unsigned long *ret_misses)
{
	pthread_mutex_lock(&t->cache->lock);
	*ret_hits = t->cache->hits;
	*ret_misses = t->cache->misses;
	pthread_mutex_unlock(&t->cache->lock);
}

void
snp_trust_free(struct snp_trust *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nroots; i++)
		X509_free(t->roots[i].cert);
	for (size_t i = 0; i < t->ninters; i++)
		X509_free(t->inters[i]);
	if (t->cache != NULL) {
		cache_slots_clear(t->cache);
		free(t->cache->slot);
		pthread_mutex_destroy(&t->cache->lock);
		free(t->cache);
	}
	free(t);
}

int
snp_trust_add_chain_pem(struct snp_trust *t, const void *pem, size_t len)
{
	X509 *c[SNP_MAX_PEM_CERTS] = { 0 };
	size_t n = 0, nnew = 0;
	X509 *ark;
	const struct snp_root *known;
	enum snp_product p, pin;
	int r;

	if (t == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = pem_certs(pem, len, c, KW_ARRAY_SIZE(c), &n)) != 0)
		return r;
	r = KW_ERR_INVALID_FORMAT;
	if (n < 2)
		goto out;
	ark = c[n - 1];
	r = KW_ERR_CERT_INVALID;
	if (!self_signed_ok(ark) || (p = ark_product(ark)) == SNP_PRODUCT_UNKNOWN)
		goto out;
	pin = pinned_product(ark);
	known = find_root(t, ark);
	if (pin == SNP_PRODUCT_UNKNOWN && known == NULL) {
		r = KW_ERR_UNTRUSTED_ROOT;
		goto out;
	}
	if (pin != SNP_PRODUCT_UNKNOWN && pin != p)
		goto out;     /* a pinned ARK must carry its own product name */
	for (size_t i = 0; i + 1 < n; i++) {
		int vlek = 0;

		if (X509_check_issued(ark, c[i]) != X509_V_OK || X509_verify(c[i], X509_get0_pubkey(ark)) != 1 ||
		    ca_product(c[i], &vlek) != p)
			goto out;
		if (!have_inter(t, c[i]))
			nnew++;
	}
	r = KW_ERR_TOO_LARGE;
	if (t->ninters + nnew > SNP_MAX_INTERS || (known == NULL && t->nroots == SNP_MAX_ROOTS))
		goto out;

	/* Commit; precompute extension caches so later concurrent reads do not write. */
	for (size_t i = 0; i < n; i++)
		(void)X509_check_purpose(c[i], -1, 0);
	if (known == NULL) {
		t->roots[t->nroots].cert = ark;   /* transferred */
		t->roots[t->nroots].product = p;
		t->roots[t->nroots].is_test = 0;
		t->nroots++;
		c[n - 1] = NULL;
	}
	for (size_t i = 0; i + 1 < n; i++) {
		if (have_inter(t, c[i]))
			continue;
		t->inters[t->ninters++] = c[i];   /* transferred */
		c[i] = NULL;
	}
	r = 0;
out:
	for (size_t i = 0; i < n; i++)
		X509_free(c[i]);
	ERR_clear_error();
	return r;
}

int
snp_trust_add_chain_file(struct snp_trust *t, const char *pem_path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (t == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = read_file(pem_path, &buf, &len)) != 0)
		return r;
	r = snp_trust_add_chain_pem(t, buf, len);
	free(buf);
	return r;
}

int
snp_trust_add_test_root_pem(struct snp_trust *t, const void *pem, size_t len)
{
	X509 *c[1] = { NULL };
	size_t n = 0;
	enum snp_product p;
	int r;

	if (t == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = pem_certs(pem, len, c, KW_ARRAY_SIZE(c), &n)) != 0)
		return r == KW_ERR_TOO_LARGE ? KW_ERR_INVALID_FORMAT : r;
	r = KW_ERR_CERT_INVALID;
	if (!self_signed_ok(c[0]) || X509_check_ca(c[0]) == 0 ||
	    (p = ark_product(c[0])) == SNP_PRODUCT_UNKNOWN)
		goto out;
	r = 0;
	if (find_root(t, c[0]) != NULL)
		goto out;
	r = KW_ERR_TOO_LARGE;
	if (t->nroots == SNP_MAX_ROOTS)
		goto out;
	(void)X509_check_purpose(c[0], -1, 0);
	t->roots[t->nroots].cert = c[0];   /* transferred */
	t->roots[t->nroots].product = p;
	t->roots[t->nroots].is_test = pinned_product(c[0]) == SNP_PRODUCT_UNKNOWN;
	t->nroots++;
	c[0] = NULL;
	r = 0;
out:
	X509_free(c[0]);
	ERR_clear_error();
	return r;
}

int
snp_trust_add_test_root_file(struct snp_trust *t, const char *pem_path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (t == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = read_file(pem_path, &buf, &len)) != 0)
		return r;
	r = snp_trust_add_test_root_pem(t, buf, len);
	free(buf);
	return r;
}

/* ---- AMD certificate extensions ---- */

/* A TCB SPL extension: DER INTEGER 0..255. */
static int
ext_spl(const X509 *x, const char *oid, uint8_t *ret)
{
	const uint8_t *v, *p;
	size_t len;
	ASN1_INTEGER *ai = NULL;
	int64_t val;
	int r;

	if ((r = kw_x509_ext_value(x, oid, &v, &len)) != 0)
		return r;
	r = KW_ERR_INVALID_FORMAT;
	p = v;
	if (len > 16 || (ai = d2i_ASN1_INTEGER(NULL, &p, (long)len)) == NULL || p != v + len)
		goto out;
	if (ASN1_INTEGER_get_int64(&val, ai) != 1 || val < 0 || val > 255)
		goto out;
	*ret = (uint8_t)val;
	r = 0;
out:
	ASN1_INTEGER_free(ai);
	return r;
}

/* productName (IA5String, e.g. "Milan-B0") → product (part before '-'). Absent → UNKNOWN. */
static int
ext_product(const X509 *x, enum snp_product *ret)
{
	const uint8_t *v, *p;
	size_t len, n;
	ASN1_IA5STRING *s = NULL;
	const char *str;
	int r;

	if ((r = kw_x509_ext_value(x, AMD_OID_PRODUCT_NAME, &v, &len)) != 0) {
		if (r != KW_ERR_NOT_FOUND)
			return r;
		*ret = SNP_PRODUCT_UNKNOWN;
		return 0;
	}
	r = KW_ERR_INVALID_FORMAT;
	p = v;
	if (len > 64 || (s = d2i_ASN1_IA5STRING(NULL, &p, (long)len)) == NULL || p != v + len)
		goto out;
	str = (const char *)ASN1_STRING_get0_data(s);
	len = (size_t)ASN1_STRING_length(s);
	for (n = 0; n < len && str[n] != '-'; n++)
		;
	*ret = product_from(str, n);
	r = 0;
out:
	ASN1_IA5STRING_free(s);
	return r;
}

/* hwID: the raw chip id (legacy encoding) or an OCTET STRING wrapping it (newer). */
static int
ext_hwid(const X509 *x, size_t want, uint8_t out[static 64])
{
	const uint8_t *v, *p;
	size_t len;
	ASN1_OCTET_STRING *os = NULL;
	int r;

	if ((r = kw_x509_ext_value(x, AMD_OID_HWID, &v, &len)) != 0)
		return r;
	if (len == want) {
		memcpy(out, v, want);
		return 0;
	}
	r = KW_ERR_INVALID_FORMAT;
	p = v;
	if (len > 80 || (os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)len)) == NULL || p != v + len ||
	    (size_t)ASN1_STRING_length(os) != want)
		goto out;
	memcpy(out, ASN1_STRING_get0_data(os), want);
	r = 0;
out:
	ASN1_OCTET_STRING_free(os);
	return r;
}

/* ---- verification steps ---- */

struct chain_result {
	enum snp_product product;
	int is_test;
	int64_t not_before, not_after;   /* where every certificate of the path is valid */
};

static int
check_leaf(const X509 *leaf, int vlek, const char **why)
{
	EVP_PKEY *k = X509_get0_pubkey(leaf);
	char cn[SNP_MAX_CN], group[32];
	size_t glen = 0;

	if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
	    EVP_PKEY_get_group_name(k, group, sizeof(group), &glen) != 1 || strcmp(group, "secp384r1") != 0) {
		*why = vlek ? "VLEK key is not EC P-384" : "VCEK key is not EC P-384";
		return KW_ERR_CERT_INVALID;
	}
	if (subject_cn(leaf, cn) != 0 || strcmp(cn, vlek ? "SEV-VLEK" : "SEV-VCEK") != 0) {
		*why = vlek ? "certificate is not a VLEK (CN SEV-VLEK)" : "certificate is not a VCEK (CN SEV-VCEK)";
		return KW_ERR_CERT_INVALID;
	}
	return 0;
}

static int
chain_error(int err, int vlek, const char **why)
{
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		*why = "certificate outside its validity period";
		return KW_ERR_CERT_EXPIRED;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:
		*why = vlek ? "VLEK not issued by a pinned AMD root" : "VCEK not issued by a pinned AMD root";
		return KW_ERR_UNTRUSTED_ROOT;
	default:
		*why = vlek ? "VLEK certificate chain invalid" : "VCEK certificate chain invalid";
		return KW_ERR_CERT_INVALID;
	}
}

/*
 * Build and verify leaf ← ASK/ASVK ← ARK with a per-call store, then check
 * the names along the path: the intermediate must be an ASK for a VCEK and an
 * ASVK for a VLEK, all of the same product as the ARK.
 */
static int
verify_chain(const struct snp_trust *t, X509 *leaf, X509 *const *extra, size_t nextra, int64_t at,
    int vlek, struct chain_result *ret, const char **why)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	STACK_OF(X509) *chain;
	const struct snp_root *root;
	enum snp_product p, pin;
	int r = KW_ERR_NOMEM, inter_vlek = -1;

	*why = "internal error";
	if ((store = X509_STORE_new()) == NULL || (untrusted = sk_X509_new_null()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL)
		goto out;
	for (size_t i = 0; i < t->nroots; i++)
		if (X509_STORE_add_cert(store, t->roots[i].cert) != 1)
			goto out;
	for (size_t i = 0; i < t->ninters; i++)
		if (sk_X509_push(untrusted, t->inters[i]) <= 0)   /* borrowed */
			goto out;
	for (size_t i = 0; i < nextra; i++) {
		/* An ARK in the evidence is a trust anchor only when its exact DER is pinned. */
		if (pinned_product(extra[i]) != SNP_PRODUCT_UNKNOWN) {
			if (X509_STORE_add_cert(store, extra[i]) != 1)
				goto out;
		} else if (sk_X509_push(untrusted, extra[i]) <= 0) {
			goto out;
		}
	}
	r = KW_ERR_INTERNAL;
	if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1)
		goto out;
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)at);
	X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(ctx), 1);
	if (X509_verify_cert(ctx) != 1) {
		r = chain_error(X509_STORE_CTX_get_error(ctx), vlek, why);
		goto out;
	}
	r = KW_ERR_CERT_INVALID;
	*why = vlek ? "VLEK chain is not VLEK <- ASVK <- ARK" : "VCEK chain is not VCEK <- ASK <- ARK";
	if ((chain = X509_STORE_CTX_get0_chain(ctx)) == NULL || sk_X509_num(chain) != 3)
		goto out;
	if ((p = ark_product(sk_X509_value(chain, 2))) == SNP_PRODUCT_UNKNOWN ||
	    ca_product(sk_X509_value(chain, 1), &inter_vlek) != p || inter_vlek != vlek)
		goto out;
	pin = pinned_product(sk_X509_value(chain, 2));
	root = find_root(t, sk_X509_value(chain, 2));
	if (pin == SNP_PRODUCT_UNKNOWN && (root == NULL || !root->is_test)) {
		r = KW_ERR_UNTRUSTED_ROOT;   /* cannot happen: the store holds only these */
		goto out;
	}
	if (pin != SNP_PRODUCT_UNKNOWN && pin != p)
		goto out;
	ret->not_before = INT64_MIN;
	ret->not_after = INT64_MAX;
	for (int i = 0; i < 3; i++) {
		int64_t nb, na;

		if (kw_x509_window(sk_X509_value(chain, i), &nb, &na) != 0)
			goto out;
		ret->not_before = nb > ret->not_before ? nb : ret->not_before;
		ret->not_after = na < ret->not_after ? na : ret->not_after;
	}
	ret->product = p;
	ret->is_test = pin == SNP_PRODUCT_UNKNOWN;
	r = 0;
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	X509_STORE_free(store);
	return r;
}

/* ECDSA P-384 / SHA-384 over the signed region; R and S little-endian in the report. */
static int
verify_report_sig(EVP_PKEY *pub, const uint8_t *signed_part, const struct snp_report *rep)
{
	uint8_t rbe[48], sbe[48];
	BIGNUM *br = NULL, *bs = NULL;
	ECDSA_SIG *sig = NULL;
	unsigned char *der = NULL;
	EVP_MD_CTX *md = NULL;
	int derlen, r = KW_ERR_NOMEM;

	for (size_t i = 0; i < 48; i++) {
		rbe[i] = rep->sig_r[47 - i];
		sbe[i] = rep->sig_s[47 - i];
	}
	if ((br = BN_bin2bn(rbe, 48, NULL)) == NULL || (bs = BN_bin2bn(sbe, 48, NULL)) == NULL ||
	    (sig = ECDSA_SIG_new()) == NULL)
		goto out;
	if (ECDSA_SIG_set0(sig, br, bs) != 1)
		goto out;
	br = bs = NULL;   /* owned by sig */
	if ((derlen = i2d_ECDSA_SIG(sig, &der)) <= 0 || (md = EVP_MD_CTX_new()) == NULL)
		goto out;
	r = KW_ERR_CRYPTO;
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, pub) != 1)
		goto out;
	r = EVP_DigestVerify(md, der, (size_t)derlen, signed_part, SNP_REPORT_SIGNED_LEN) == 1 ?
	    0 : KW_ERR_SIG_INVALID;
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	BN_free(br);
	BN_free(bs);
	return r;
}

/* The key certificate's binding extensions, read once per chain (leaf_info). */
static void
leaf_extensions(const X509 *leaf, int vlek, struct leaf_info *li)
{
	enum snp_product p = li->product;

	memset(&li->tcb, 0, sizeof(li->tcb));
	if ((li->tcb_r = ext_spl(leaf, AMD_OID_BL_SPL, &li->tcb.bl)) == 0 &&
	    (li->tcb_r = ext_spl(leaf, AMD_OID_TEE_SPL, &li->tcb.tee)) == 0 &&
	    (li->tcb_r = ext_spl(leaf, AMD_OID_SNP_SPL, &li->tcb.snp)) == 0 &&
	    (li->tcb_r = ext_spl(leaf, AMD_OID_UCODE_SPL, &li->tcb.ucode)) == 0 && p == SNP_PRODUCT_TURIN)
		li->tcb_r = ext_spl(leaf, AMD_OID_FMC_SPL, &li->tcb.fmc);
	/* Turin: 8 significant bytes */
	li->hwid_r = vlek ? 0 : ext_hwid(leaf, p == SNP_PRODUCT_TURIN ? 8 : 64, li->hwid);
}

static int
check_tcb(const struct leaf_info *li, const struct snp_report *rep, const char **why)
{
	struct snp_tcb want;
	const struct snp_tcb *got = &li->tcb;

	snp_tcb_decode(rep->reported_tcb, li->product, &want);
	if (li->tcb_r != 0) {
		*why = "certificate TCB extension missing or malformed";
		return li->tcb_r == KW_ERR_NOT_FOUND ? KW_ERR_CERT_INVALID : li->tcb_r;
	}
	if (got->bl != want.bl || got->tee != want.tee || got->snp != want.snp || got->ucode != want.ucode ||
	    got->fmc != want.fmc) {
		*why = "certificate TCB does not match REPORTED_TCB";
		return KW_ERR_MISMATCH;
	}
	return 0;
}

static int
check_hwid(const struct leaf_info *li, const struct snp_report *rep, const char **why)
{
	size_t n = li->product == SNP_PRODUCT_TURIN ? 8 : 64;

	if (li->hwid_r != 0) {
		*why = "VCEK hwID extension missing or malformed";
		return li->hwid_r == KW_ERR_NOT_FOUND ? KW_ERR_CERT_INVALID : li->hwid_r;
	}
	if (memcmp(li->hwid, rep->chip_id, n) != 0) {
		*why = "hwID does not match CHIP_ID";
		return KW_ERR_MISMATCH;
	}
	return 0;
}

/* ---- the chain cache ---- */

/* SHA-256 over the VCEK/VLEK flag and each certificate's length and DER bytes as sent. */
static int
evidence_key(const struct snp_evidence *ev, int vlek, uint8_t out[static 32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t k = (uint8_t)vlek;
	unsigned int olen = 0;
	int ok;

	if (md == NULL)
		return KW_ERR_NOMEM;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, &k, 1) == 1;
	for (size_t i = 0; ok && i < ev->ncerts; i++) {
		uint8_t len[4] = { (uint8_t)(ev->cert_lens[i] >> 24), (uint8_t)(ev->cert_lens[i] >> 16),
		    (uint8_t)(ev->cert_lens[i] >> 8), (uint8_t)ev->cert_lens[i] };

		ok = EVP_DigestUpdate(md, len, 4) == 1 &&
		    EVP_DigestUpdate(md, ev->certs[i], ev->cert_lens[i]) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == 32;
	EVP_MD_CTX_free(md);
	return ok ? 0 : KW_ERR_CRYPTO;
}

static struct chain_slot *
cache_slot(struct chain_cache *c, const uint8_t key[static 32])
{
	return &c->slot[(((size_t)key[0] << 16) | ((size_t)key[1] << 8) | key[2]) % c->nslots];
}

/* A hit valid at `at` copies the entry into *ret with a new key reference. */
static int
cache_get(const struct snp_trust *t, const uint8_t key[static 32], int64_t at, struct leaf_info *ret)
{
	struct chain_cache *c = t->cache;
	struct chain_slot *s;
	int hit = 0;

	pthread_mutex_lock(&c->lock);
	if (c->nslots > 0) {
		s = cache_slot(c, key);
		hit = s->used && memcmp(s->key, key, 32) == 0 && s->v.not_before <= at &&
		    at <= s->v.not_after && EVP_PKEY_up_ref(s->v.key) == 1;
		if (hit)
			*ret = s->v;
	}
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

/* Enter a verified chain; a slot in use is replaced (direct-mapped). */
static void
cache_put(const struct snp_trust *t, const uint8_t key[static 32], const struct leaf_info *v)
{
	struct chain_cache *c = t->cache;
	struct chain_slot *s;

	pthread_mutex_lock(&c->lock);
	if (c->nslots > 0 && EVP_PKEY_up_ref(v->key) == 1) {
		s = cache_slot(c, key);
		if (s->used)
			EVP_PKEY_free(s->v.key);
		memcpy(s->key, key, 32);
		s->v = *v;
		s->used = 1;
	}
	pthread_mutex_unlock(&c->lock);
}

/*
 * A cache miss: parse the certificates (DER, exact length, the leaf an EC
 * P-384 VCEK/VLEK), verify the chain to a pinned or configured test ARK at
 * `at`, check the productName; then read the binding extensions and enter
 * the result. *ret holds a key reference on success.
 */
static int
verify_certs(const struct snp_trust *t, const struct snp_evidence *ev, int vlek, int64_t at,
    const uint8_t key[static 32], struct leaf_info *ret, const char **why)
{
	X509 *certs[4] = { NULL, NULL, NULL, NULL };
	struct chain_result cr;
	struct leaf_info li;
	enum snp_product named;
	int r = KW_ERR_INVALID_FORMAT;

	memset(&li, 0, sizeof(li));
	for (size_t i = 0; i < ev->ncerts; i++) {
		const unsigned char *p = ev->certs[i];

		*why = i == 0 ? "VCEK/VLEK certificate malformed" : "chain certificate malformed";
		if (ev->cert_lens[i] > SNP_MAX_CERT_LEN ||
		    (certs[i] = d2i_X509(NULL, &p, (long)ev->cert_lens[i])) == NULL ||
		    p != ev->certs[i] + ev->cert_lens[i])
			goto out;
	}
	if ((r = check_leaf(certs[0], vlek, why)) != 0)
		goto out;
	if ((r = verify_chain(t, certs[0], certs + 1, ev->ncerts - 1, at, vlek, &cr, why)) != 0)
		goto out;
	if ((r = ext_product(certs[0], &named)) != 0) {
		*why = "productName extension malformed";
		goto out;
	}
	if (named != SNP_PRODUCT_UNKNOWN && named != cr.product) {
		*why = "productName does not match the issuing ASK";
		r = KW_ERR_MISMATCH;
		goto out;
	}
	r = KW_ERR_NOMEM;
	if ((li.key = X509_get0_pubkey(certs[0])) == NULL || EVP_PKEY_up_ref(li.key) != 1) {
		li.key = NULL;
		goto out;
	}
	li.product = cr.product;
	li.is_test = cr.is_test;
	li.not_before = cr.not_before;
	li.not_after = cr.not_after;
	leaf_extensions(certs[0], vlek, &li);
	cache_put(t, key, &li);
	*ret = li;    /* the reference moves to the caller */
	r = 0;
out:
	for (size_t i = 0; i < KW_ARRAY_SIZE(certs); i++)
		X509_free(certs[i]);
	return r;
}

/* ---- claims ---- */

static void
hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static json_t *
tcb_json(uint64_t raw, enum snp_product p)
{
	struct snp_tcb t;
	char rawhex[19];
	json_t *o;

	snp_tcb_decode(raw, p, &t);
	snprintf(rawhex, sizeof(rawhex), "0x%016llx", (unsigned long long)raw);
	o = json_pack("{s:s,s:i,s:i,s:i,s:i}", "raw", rawhex, "bl", t.bl, "tee", t.tee, "snp", t.snp,
	    "ucode", t.ucode);
	if (o != NULL && p == SNP_PRODUCT_TURIN && json_object_set_new(o, "fmc", json_integer(t.fmc)) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

static json_t *
build_claims(const struct snp_report *rep, const struct chain_result *cr, int vlek)
{
	char meas[97], rdata[129], hdata[65], chip[129], fam[33], img[33], idk[97], auk[97], rid[65];
	char praw[19], pinfo[19];
	json_t *tcb;
	int debug = (rep->policy & SNP_POLICY_DEBUG) != 0;

	hex(rep->measurement, sizeof(rep->measurement), meas);
	hex(rep->report_data, sizeof(rep->report_data), rdata);
	hex(rep->host_data, sizeof(rep->host_data), hdata);
	hex(rep->chip_id, sizeof(rep->chip_id), chip);
	hex(rep->family_id, sizeof(rep->family_id), fam);
	hex(rep->image_id, sizeof(rep->image_id), img);
	hex(rep->id_key_digest, sizeof(rep->id_key_digest), idk);
	hex(rep->author_key_digest, sizeof(rep->author_key_digest), auk);
	hex(rep->report_id, sizeof(rep->report_id), rid);
	snprintf(praw, sizeof(praw), "0x%llx", (unsigned long long)rep->policy);
	snprintf(pinfo, sizeof(pinfo), "0x%llx", (unsigned long long)rep->platform_info);

	/* "o" arguments are stolen by json_pack, also when it fails (jansson >= 2.11). */
	tcb = json_pack("{s:o,s:o,s:o,s:o}", "reported", tcb_json(rep->reported_tcb, cr->product),
	    "current", tcb_json(rep->current_tcb, cr->product),
	    "committed", tcb_json(rep->committed_tcb, cr->product),
	    "launch", tcb_json(rep->launch_tcb, cr->product));
	if (tcb == NULL)
		return NULL;
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:I,s:I,"
	    "s:{s:s,s:b,s:b,s:b,s:b,s:i,s:i},s:o,"
	    "s:{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s}}",
	    "tee", "snp",
	    "product", snp_product_name(cr->product),
	    "signing_key", vlek ? "vlek" : "vcek",
	    "root", cr->is_test ? "test" : "amd",
	    "measurement", meas,
	    "report_data", rdata,
	    "host_data", hdata,
	    "debug", debug,
	    "vmpl", (json_int_t)rep->vmpl,
	    "guest_svn", (json_int_t)rep->guest_svn,
	    "policy",
	        "raw", praw,
	        "debug", debug,
	        "migrate_ma", (rep->policy & SNP_POLICY_MIGRATE_MA) != 0,
	        "smt", (rep->policy & SNP_POLICY_SMT) != 0,
	        "single_socket", (rep->policy & SNP_POLICY_SINGLE_SOCKET) != 0,
	        "abi_major", (int)((rep->policy >> 8) & 0xff),
	        "abi_minor", (int)(rep->policy & 0xff),
	    "tcb", tcb,
	    "platform",
	        "chip_id", chip,
	        "family_id", fam,
	        "image_id", img,
	        "id_key_digest", idk,
	        "author_key_digest", auk,
	        "report_id", rid,
	        "version", (json_int_t)rep->version,
	        "platform_info", pinfo);
}

/* ---- entry point ---- */

int
snp_verify(const struct snp_trust *t, const struct snp_evidence *ev, const struct snp_verify_opts *o,
    json_t **ret_claims, const char **reterr_reason)
{
	const char *why = "invalid arguments";
	struct snp_report rep;
	struct chain_result cr = { SNP_PRODUCT_UNKNOWN, 0, 0, 0 };
	struct leaf_info li;
	struct kw_rd rd;
	const uint8_t *signed_part;
	uint8_t ckey[32];
	json_t *claims = NULL;
	unsigned int key;
	int vlek, r = KW_ERR_INVALID_ARG;

	memset(&li, 0, sizeof(li));
	if (t == NULL || ev == NULL || o == NULL || ret_claims == NULL || ev->report == NULL ||
	    ev->ncerts < 1 || ev->ncerts > KW_ARRAY_SIZE(ev->certs) || o->at <= 0)
		goto out;
	for (size_t i = 0; i < ev->ncerts; i++)
		if (ev->certs[i] == NULL || ev->cert_lens[i] == 0)
			goto out;

	/* 1. structure */
	if ((r = snp_report_parse(ev->report, ev->report_len, &rep)) != 0) {
		why = r == KW_ERR_UNSUPPORTED ? "report version or algorithm unsupported" : "report malformed";
		goto out;
	}
	kw_rd_init(&rd, ev->report, ev->report_len);
	if ((r = kw_rd_bytes(&rd, SNP_REPORT_SIGNED_LEN, &signed_part)) != 0)
		goto out;
	key = SNP_SIGNING_KEY(rep.signer_info);
	if (key != SNP_SIGNING_KEY_VCEK && key != SNP_SIGNING_KEY_VLEK) {
		why = "signing key type unsupported";
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	vlek = key == SNP_SIGNING_KEY_VLEK;

	/* 2.-3. the key certificate and its chain: verified, or verified before for this time */
	if ((r = evidence_key(ev, vlek, ckey)) != 0) {
		why = "internal error";
		goto out;
	}
	if (!cache_get(t, ckey, o->at, &li) && (r = verify_certs(t, ev, vlek, o->at, ckey, &li, &why)) != 0)
		goto out;
	cr.product = li.product;
	cr.is_test = li.is_test;

	/* 4. report signature */
	if ((r = verify_report_sig(li.key, signed_part, &rep)) != 0) {
		why = "report signature invalid";
		goto out;
	}

	/* 5. binding of the key certificate to this chip and TCB */
	if (!vlek && (r = check_hwid(&li, &rep, &why)) != 0)
		goto out;
	if ((r = check_tcb(&li, &rep, &why)) != 0)
		goto out;

	/* 6. guest policy */
	if ((rep.policy & SNP_POLICY_DEBUG) != 0 && !o->allow_debug) {
		why = "debug guest not allowed";
		r = KW_ERR_DEBUG_GUEST;
		goto out;
	}

	if ((claims = build_claims(&rep, &cr, vlek)) == NULL) {
		why = "out of memory";
		r = KW_ERR_NOMEM;
		goto out;
	}
	*ret_claims = claims;   /* transferred */
	r = 0;
out:
	EVP_PKEY_free(li.key);
	if (r != 0) {
		ERR_clear_error();
		if (reterr_reason != NULL)
			*reterr_reason = why;
	}
	return r;
}
