/* SPDX-License-Identifier: Apache-2.0 */
/* RSA SubjectPublicKeyInfo with ASN.1 templates (kw_spki.h). */
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "kw_spki.h"

#define SPKI_MAX (16 * 1024)

typedef struct {
	ASN1_INTEGER *n;
	ASN1_INTEGER *e;
} KW_RSA_PUB;

ASN1_SEQUENCE(KW_RSA_PUB) = {
	ASN1_SIMPLE(KW_RSA_PUB, n, ASN1_INTEGER),
	ASN1_SIMPLE(KW_RSA_PUB, e, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(KW_RSA_PUB)
IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(KW_RSA_PUB)

typedef struct {
	X509_ALGOR *alg;
	ASN1_BIT_STRING *key;
} KW_SPKI;

ASN1_SEQUENCE(KW_SPKI) = {
	ASN1_SIMPLE(KW_SPKI, alg, X509_ALGOR),
	ASN1_SIMPLE(KW_SPKI, key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(KW_SPKI)
IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(KW_SPKI)

/* Unsigned big-endian bytes as a new ASN1_INTEGER (positive). */
static ASN1_INTEGER *
uint_to_asn1(const uint8_t *b, size_t n)
{
	BIGNUM *bn = BN_bin2bn(b, (int)n, NULL);
	ASN1_INTEGER *ai = bn != NULL ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;

	BN_free(bn);
	return ai;
}

/* A positive ASN1_INTEGER as new minimal big-endian bytes. */
static int
asn1_to_uint(const ASN1_INTEGER *ai, uint8_t **ret, size_t *ret_len)
{
	BIGNUM *bn = NULL;
	uint8_t *b = NULL;
	int n, r = KW_ERR_INVALID_FORMAT;

	if (ASN1_STRING_type(ai) != V_ASN1_INTEGER || (bn = ASN1_INTEGER_to_BN(ai, NULL)) == NULL ||
	    BN_is_zero(bn) || BN_is_negative(bn))
		goto out;
	n = BN_num_bytes(bn);
	r = KW_ERR_NOMEM;
	if ((b = malloc((size_t)n)) == NULL)
		goto out;
	if (BN_bn2bin(bn, b) != n) {
		r = KW_ERR_INTERNAL;
		goto out;
	}
	*ret = b;
	b = NULL;
	*ret_len = (size_t)n;
	r = 0;
out:
	free(b);
	BN_free(bn);
	return r;
}

int
kw_rsa_spki_encode(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen, uint8_t **ret,
    size_t *ret_len)
{
	KW_RSA_PUB *rp = NULL;
	KW_SPKI *sp = NULL;
	unsigned char *inner = NULL, *der = NULL;
	int il, dl, r = KW_ERR_NOMEM;

	if (n == NULL || e == NULL || ret == NULL || ret_len == NULL || nlen == 0 || elen == 0 ||
	    n[0] == 0 || e[0] == 0 || nlen > SPKI_MAX || elen > 8)
		return KW_ERR_INVALID_ARG;
	if ((rp = KW_RSA_PUB_new()) == NULL || (sp = KW_SPKI_new()) == NULL)
		goto out;
	ASN1_INTEGER_free(rp->n);
	ASN1_INTEGER_free(rp->e);
	rp->n = rp->e = NULL;
	if ((rp->n = uint_to_asn1(n, nlen)) == NULL || (rp->e = uint_to_asn1(e, elen)) == NULL ||
	    (il = ASN1_item_i2d((ASN1_VALUE *)rp, &inner, ASN1_ITEM_rptr(KW_RSA_PUB))) <= 0)
		goto out;
	if (X509_ALGOR_set0(sp->alg, OBJ_nid2obj(NID_rsaEncryption), V_ASN1_NULL, NULL) != 1 ||
	    ASN1_BIT_STRING_set(sp->key, inner, il) != 1)
		goto out;
	/* no unused bits */
	sp->key->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	sp->key->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	if ((dl = ASN1_item_i2d((ASN1_VALUE *)sp, &der, ASN1_ITEM_rptr(KW_SPKI))) <= 0)
		goto out;
	if ((*ret = malloc((size_t)dl)) == NULL)
		goto out;
	memcpy(*ret, der, (size_t)dl);
	*ret_len = (size_t)dl;
	r = 0;
out:
	OPENSSL_free(inner);
	OPENSSL_free(der);
	KW_RSA_PUB_free(rp);
	KW_SPKI_free(sp);
	return r;
}

int
kw_rsa_spki_decode(const uint8_t *der, size_t len, uint8_t **ret_n, size_t *ret_nlen, uint8_t **ret_e,
    size_t *ret_elen)
{
	const unsigned char *p = der, *q;
	KW_SPKI *sp = NULL;
	KW_RSA_PUB *rp = NULL;
	const ASN1_OBJECT *oid = NULL;
	const void *pval = NULL;
	uint8_t *n = NULL, *e = NULL, *re = NULL;
	size_t nlen = 0, elen = 0, relen = 0;
	int ptype = 0, r = KW_ERR_INVALID_FORMAT;

	if (der == NULL || ret_n == NULL || ret_nlen == NULL || ret_e == NULL || ret_elen == NULL)
		return KW_ERR_INVALID_ARG;
	if (len > SPKI_MAX)
		return KW_ERR_TOO_LARGE;
	if (len == 0 || (sp = (KW_SPKI *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(KW_SPKI))) == NULL ||
	    p != der + len)
		goto out;
	X509_ALGOR_get0(&oid, &ptype, &pval, sp->alg);
	if (OBJ_obj2nid(oid) != NID_rsaEncryption || ptype != V_ASN1_NULL ||
	    (sp->key->flags & 0x07) != 0)
		goto out;
	q = ASN1_STRING_get0_data(sp->key);
	if ((rp = (KW_RSA_PUB *)ASN1_item_d2i(NULL, &q, ASN1_STRING_length(sp->key),
	    ASN1_ITEM_rptr(KW_RSA_PUB))) == NULL ||
	    q != ASN1_STRING_get0_data(sp->key) + ASN1_STRING_length(sp->key))
		goto out;
	if ((r = asn1_to_uint(rp->n, &n, &nlen)) != 0 || (r = asn1_to_uint(rp->e, &e, &elen)) != 0)
		goto out;
	if (elen > 8) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	/* DER only: what we would write for these values, byte for byte */
	if ((r = kw_rsa_spki_encode(n, nlen, e, elen, &re, &relen)) != 0)
		goto out;
	if (relen != len || memcmp(re, der, len) != 0) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	*ret_n = n;
	*ret_nlen = nlen;
	*ret_e = e;
	*ret_elen = elen;
	n = e = NULL;
	r = 0;
out:
	free(n);
	free(e);
	free(re);
	KW_RSA_PUB_free(rp);
	KW_SPKI_free(sp);
	return r;
}
