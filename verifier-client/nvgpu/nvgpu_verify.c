/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NVIDIA GPU evidence verification (nvgpu.h): the device chain to the pinned
 * NVIDIA Device Identity CA (or a configured emulation root), the leaf's
 * ECDSA P-384 signature over the SPDM transcript, the nonce, the claims.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kw_util.h"
#include "kw_x509.h"
#include "nvgpu.h"

/* SHA-256 of the DER of "O=NVIDIA, CN=NVIDIA Device Identity CA" (verifier_device_root.pem). */
const uint8_t nvgpu_nvidia_root_sha256[32] = {
	0x10, 0x2b, 0xf6, 0x59, 0xd5, 0x41, 0x96, 0x14, 0xc9, 0xd8, 0xe6, 0xae, 0xce, 0xbc, 0x80, 0x45,
	0x4e, 0xb2, 0x6b, 0x1d, 0xf6, 0xa7, 0x69, 0xac, 0x72, 0x0b, 0x9a, 0x69, 0x0b, 0x16, 0x7b, 0x48,
};

/* A chain that verified: the digest of its certificates and the window in which all are valid. */
struct chain_slot {
	uint8_t key[32];               /* SHA-256 over (u32 length ‖ DER) of each certificate */
	int64_t not_before, not_after;
	int used;
};

struct nvgpu_trust {
	size_t nroots;
	uint8_t roots[NVGPU_MAX_TEST_ROOTS][32];   /* SHA-256 of the emulation roots' DER */
	pthread_mutex_t lock;          /* the cache: the only part that changes after start */
	struct chain_slot cache[NVGPU_CHAIN_CACHE_SLOTS];
	unsigned long hits, misses;
};

int
nvgpu_trust_new(struct nvgpu_trust **ret)
{
	struct nvgpu_trust *t;

	if (ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return KW_ERR_NOMEM;
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t);
		return KW_ERR_NOMEM;
	}
	*ret = t;
	return 0;
}

void
nvgpu_trust_free(struct nvgpu_trust *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void
nvgpu_trust_cache_stats(struct nvgpu_trust *t, unsigned long *ret_hits, unsigned long *ret_misses)
{
	pthread_mutex_lock(&t->lock);
	*ret_hits = t->hits;
	*ret_misses = t->misses;
	pthread_mutex_unlock(&t->lock);
}

/* The cache key of a chain as sent: each certificate's length and bytes. */
static int
chain_key(const uint8_t *const *certs, const size_t *lens, size_t n, uint8_t out[static 32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int olen = 0;
	int r = KW_ERR_CRYPTO;

	if (md == NULL)
		return KW_ERR_NOMEM;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint8_t l[4] = { (uint8_t)(lens[i] >> 24), (uint8_t)(lens[i] >> 16), (uint8_t)(lens[i] >> 8),
			(uint8_t)lens[i] };

		if (EVP_DigestUpdate(md, l, 4) != 1 || EVP_DigestUpdate(md, certs[i], lens[i]) != 1)
			goto out;
	}
	if (EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == 32)
		r = 0;
out:
	EVP_MD_CTX_free(md);
	return r;
}

/* 1 when the chain with this key verified before and at lies in its window. */
static int
cache_hit(struct nvgpu_trust *t, const uint8_t key[static 32], int64_t at)
{
	struct chain_slot *s = &t->cache[key[0] % NVGPU_CHAIN_CACHE_SLOTS];
	int hit;

	pthread_mutex_lock(&t->lock);
	hit = s->used && memcmp(s->key, key, 32) == 0 && at >= s->not_before && at < s->not_after;
	if (hit)
		t->hits++;
	else
		t->misses++;
	pthread_mutex_unlock(&t->lock);
	return hit;
}

/* Remember a chain that verified, with the window where every certificate of it is valid. */
static void
cache_put(struct nvgpu_trust *t, const uint8_t key[static 32], X509 *const *c, size_t n)
{
	int64_t nb = INT64_MIN, na = INT64_MAX;
	struct chain_slot *s = &t->cache[key[0] % NVGPU_CHAIN_CACHE_SLOTS];

	for (size_t i = 0; i < n; i++) {
		int64_t b, a;

		if (kw_x509_window(c[i], &b, &a) != 0)
			return;   /* not cached: verified again next time */
		nb = b > nb ? b : nb;
		na = a < na ? a : na;
	}
	pthread_mutex_lock(&t->lock);
	memcpy(s->key, key, 32);
	s->not_before = nb;
	s->not_after = na;
	s->used = 1;
	pthread_mutex_unlock(&t->lock);
}

static int
cert_sha256(X509 *x, uint8_t out[static 32])
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	int r;

	if (n <= 0)
		return KW_ERR_INVALID_FORMAT;
	r = kw_sha256(der, (size_t)n, out);
	OPENSSL_free(der);
	return r;
}

int
nvgpu_trust_add_test_root_pem(struct nvgpu_trust *t, const void *pem, size_t len)
{
	BIO *bio = NULL;
	X509 *x = NULL, *extra = NULL;
	EVP_PKEY *k = NULL;
	uint8_t d[32];
	int r = KW_ERR_INVALID_FORMAT;

	if (t == NULL || pem == NULL || len > (size_t)INT32_MAX)
		return KW_ERR_INVALID_ARG;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return KW_ERR_NOMEM;
	if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
		goto out;
	if ((extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		goto out;   /* exactly one certificate */
	/* self-signed: its own key verifies it */
	if ((k = X509_get0_pubkey(x)) == NULL || X509_verify(x, k) != 1 ||
	    X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) != 0)
		goto out;
	if ((r = cert_sha256(x, d)) != 0)
		goto out;
	for (size_t i = 0; i < t->nroots; i++)
		if (memcmp(t->roots[i], d, 32) == 0) {
			r = 0;
			goto out;
		}
	r = KW_ERR_TOO_LARGE;
	if (t->nroots == NVGPU_MAX_TEST_ROOTS)
		goto out;
	memcpy(t->roots[t->nroots++], d, 32);
	r = 0;
out:
	X509_free(extra);
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	return r;
}

int
nvgpu_trust_add_test_root_file(struct nvgpu_trust *t, const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = kw_file_read(path, 64 * 1024, &buf, &len)) != 0)
		return r;
	r = nvgpu_trust_add_test_root_pem(t, buf, len);
	free(buf);
	return r;
}

/* ECDSA P-384 r‖s (big-endian) over SHA-384(msg) with the leaf's key. */
static int
sig_verify(X509 *leaf, const uint8_t *msg, size_t len, const uint8_t sig[static NVGPU_SIG_LEN])
{
	EVP_PKEY *k = X509_get0_pubkey(leaf);
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *s = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *der = NULL;
	char group[32];
	size_t glen = 0;
	int dlen, r = KW_ERR_SIG_INVALID;

	if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
	    EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &glen) != 1 ||
	    strcmp(group, "secp384r1") != 0)
		goto out;
	r = KW_ERR_NOMEM;
	if ((s = ECDSA_SIG_new()) == NULL || (br = BN_bin2bn(sig, 48, NULL)) == NULL ||
	    (bs = BN_bin2bn(sig + 48, 48, NULL)) == NULL)
		goto out;
	if (ECDSA_SIG_set0(s, br, bs) != 1)
		goto out;
	br = bs = NULL;   /* owned by s */
	if ((dlen = i2d_ECDSA_SIG(s, &der)) <= 0 || (md = EVP_MD_CTX_new()) == NULL)
		goto out;
	r = KW_ERR_SIG_INVALID;
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, k) == 1 &&
	    EVP_DigestVerify(md, der, (size_t)dlen, msg, len) == 1)
		r = 0;
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(s);
	BN_free(br);
	BN_free(bs);
	ERR_clear_error();
	return r;
}

int
nvgpu_verify(struct nvgpu_trust *t, const uint8_t *report, size_t report_len,
    const uint8_t *const *certs, const size_t *cert_lens, size_t ncerts, int64_t at,
    const uint8_t *nonce, json_t **ret_claims, const char **why)
{
	struct nvgpu_report *rep = NULL;
	X509 *c[NVGPU_MAX_CHAIN] = { NULL };
	json_t *claims = NULL;
	uint8_t rd[32], key[32];
	int r, is_test = 0;

	*why = "invalid arguments";
	if (t == NULL || report == NULL || certs == NULL || cert_lens == NULL || ret_claims == NULL || at <= 0)
		return KW_ERR_INVALID_ARG;
	if ((rep = malloc(sizeof(*rep))) == NULL) {
		*why = "out of memory";
		return KW_ERR_NOMEM;
	}
	*why = "GPU report is not a valid SPDM 1.1 GET_MEASUREMENTS transcript";
	if ((r = nvgpu_report_parse(report, report_len, rep)) != 0)
		goto out;
	r = KW_ERR_CERT_INVALID;
	*why = "GPU certificate chain must hold 2 to 8 certificates, leaf first, root last";
	if (ncerts < 2 || ncerts > NVGPU_MAX_CHAIN)
		goto out;
	for (size_t i = 0; i < ncerts; i++) {
		const unsigned char *p = certs[i];

		*why = "GPU certificate chain entry is not a DER certificate";
		if (certs[i] == NULL || cert_lens[i] == 0 || cert_lens[i] > NVGPU_MAX_CERT)
			goto out;
		if ((c[i] = d2i_X509(NULL, &p, (long)cert_lens[i])) == NULL ||
		    p != certs[i] + cert_lens[i])
			goto out;
	}
	/* the root: NVIDIA's by its exact bytes, or an emulation root the configuration names */
	if ((r = cert_sha256(c[ncerts - 1], rd)) != 0)
		goto out;
	if (memcmp(rd, nvgpu_nvidia_root_sha256, 32) != 0) {
		size_t i;

		for (i = 0; i < t->nroots; i++)
			if (memcmp(rd, t->roots[i], 32) == 0)
				break;
		if (i == t->nroots) {
			r = KW_ERR_UNTRUSTED_ROOT;
			*why = "GPU certificate chain does not end at the NVIDIA Device Identity CA";
			goto out;
		}
		is_test = 1;
	}
	/* the transcript's signature first: one verification rejects most bad input cheaply */
	if ((r = sig_verify(c[0], rep->signed_bytes, rep->signed_len, rep->sig)) != 0) {
		*why = r == KW_ERR_NOMEM ? "out of memory" :
		    "GPU report signature does not verify with the chain's leaf key";
		goto out;
	}
	/* the chain: from the cache when these exact certificates verified and at is in their window */
	if ((r = chain_key(certs, cert_lens, ncerts, key)) != 0) {
		*why = "out of memory";
		goto out;
	}
	if (!cache_hit(t, key, at)) {
		if ((r = kw_x509_verify_path(c, ncerts, at, 0)) != 0) {
			*why = r == KW_ERR_CERT_EXPIRED ? "a GPU certificate is not valid at the verification time" :
			    r == KW_ERR_NOMEM ? "out of memory" : "GPU certificate chain does not verify to its root";
			goto out;
		}
		cache_put(t, key, c, ncerts);
	}
	if (nonce != NULL && CRYPTO_memcmp(nonce, rep->nonce, NVGPU_NONCE_LEN) != 0) {
		r = KW_ERR_MISMATCH;
		*why = "GPU report nonce does not match SHA-256(JCS(runtime-data))[0:32]";
		goto out;
	}
	*why = "GPU report opaque data is malformed";
	if ((r = nvgpu_report_claims(rep, &claims)) != 0)
		goto out;
	if (json_object_set_new(claims, "root", json_string(is_test ? "test" : "nvidia")) != 0) {
		r = KW_ERR_NOMEM;
		*why = "out of memory";
		goto out;
	}
	*ret_claims = claims;
	claims = NULL;   /* transferred */
	r = 0;
out:
	json_decref(claims);
	for (size_t i = 0; i < ncerts && i < NVGPU_MAX_CHAIN; i++)
		X509_free(c[i]);
	free(rep);
	return r;
}
