/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TESTING ONLY: emulated NVIDIA GPU evidence (att_nvgpu_emu.h). The transcript
 * is built in a fixed-size array: everything here is our own data, nothing
 * is parsed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "att_nvgpu_emu.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"

#define EMU_BLOCKS 8
#define EMU_MAX 2048     /* request 37 + response header 8 + 8 blocks of 55 + nonce, opaque, sig */

struct emu_buf {
	uint8_t b[EMU_MAX];
	size_t n;
};

static void
put(struct emu_buf *e, const void *p, size_t n)
{
	/* our own fixed content: EMU_MAX holds it with room to spare */
	memcpy(e->b + e->n, p, n);
	e->n += n;
}

static void
put_u16(struct emu_buf *e, size_t v)
{
	uint8_t b[2] = { (uint8_t)(v & 0xff), (uint8_t)((v >> 8) & 0xff) };

	put(e, b, 2);
}

static void
put_tlv(struct emu_buf *e, unsigned int type, const void *v, size_t n)
{
	put_u16(e, type);
	put_u16(e, n);
	put(e, v, n);
}

/* The transcript, unsigned: request ‖ response up to the signature. */
static int
transcript(const uint8_t nonce[static 32], struct emu_buf *e)
{
	static const uint8_t vbios[8] = { 0x00, 0x9f, 0x00, 0x96, 0x01, 0x00, 0x00, 0x00 };
	static const uint8_t ppcie = 0x55, ver[2] = { 1, 0 }, flag[2] = { 0, 0 };
	uint8_t hdr[4] = { 0x11, 0xE0, 0x01, 0xFF }, slot = 0, rsp[5] = { 0x11, 0x60, 0x00, 0x00, EMU_BLOCKS };
	uint8_t rnonce[32], len3[3], md[48];
	struct emu_buf op;
	size_t rec = EMU_BLOCKS * (4 + 3 + 48);
	char label[64];
	int r;

	e->n = 0;
	put(e, hdr, 4);
	put(e, nonce, 32);
	put(e, &slot, 1);
	put(e, rsp, 5);
	len3[0] = (uint8_t)(rec & 0xff);
	len3[1] = (uint8_t)((rec >> 8) & 0xff);
	len3[2] = 0;
	put(e, len3, 3);
	for (unsigned int i = 1; i <= EMU_BLOCKS; i++) {
		uint8_t bh[2] = { (uint8_t)i, 0x01 }, vt = 0x01;
		int n = snprintf(label, sizeof(label), "NOT NVIDIA emulated GPU block %u", i);

		if ((r = kw_sha384(label, (size_t)n, md)) != 0)
			return r;
		put(e, bh, 2);
		put_u16(e, 3 + 48);
		put(e, &vt, 1);
		put_u16(e, 48);
		put(e, md, 48);
	}
	if ((r = kw_sha256(nonce, 32, rnonce)) != 0)   /* the responder's nonce: any 32 bytes */
		return r;
	put(e, rnonce, 32);
	op.n = 0;
	put_tlv(&op, 3, "550.90.07\0", 10);
	put_tlv(&op, 6, vbios, sizeof(vbios));
	put_tlv(&op, 15, "882\0\0\0\0\0\0", 9);
	put_tlv(&op, 17, "1010\0", 5);
	put_tlv(&op, 18, "0200\0", 5);
	put_tlv(&op, 21, &ppcie, 1);
	put_tlv(&op, 34, ver, 2);
	put_tlv(&op, 36, flag, 2);
	put_u16(e, op.n);
	put(e, op.b, op.n);
	return 0;
}

/* ECDSA P-384 over SHA-384(msg), as r‖s big-endian (96 bytes). */
static int
sign_rs(EVP_PKEY *k, const uint8_t *msg, size_t len, uint8_t out[static 96])
{
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *s = NULL;
	unsigned char der[128];
	const unsigned char *p = der;
	size_t dlen = sizeof(der);
	const BIGNUM *br, *bs;
	int r = KW_ERR_CRYPTO;

	if ((md = EVP_MD_CTX_new()) == NULL || EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, k) != 1 ||
	    EVP_DigestSign(md, der, &dlen, msg, len) != 1 ||
	    (s = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) == NULL)
		goto out;
	ECDSA_SIG_get0(s, &br, &bs);
	if (BN_bn2binpad(br, out, 48) != 48 || BN_bn2binpad(bs, out + 48, 48) != 48)
		goto out;
	r = 0;
out:
	ECDSA_SIG_free(s);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return r;
}

/* A PEM certificate file as base64url DER. */
static int
cert_b64(const char *path, char **ret)
{
	uint8_t *pem = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	X509 *x = NULL;
	int n, r;

	if ((r = kw_file_read(path, 64 * 1024, &pem, &len)) != 0)
		return r;
	r = KW_ERR_INVALID_FORMAT;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL || (n = i2d_X509(x, &der)) <= 0)
		goto out;
	r = kw_b64url_encode(der, (size_t)n, ret);
out:
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(bio);
	free(pem);
	ERR_clear_error();
	return r;
}

static int
leaf_key(const char *path, EVP_PKEY **ret)
{
	uint8_t *pem = NULL;
	size_t len = 0;
	BIO *bio;
	int r;

	if ((r = kw_file_read(path, 64 * 1024, &pem, &len)) != 0)
		return r;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) != NULL)
		*ret = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	r = bio != NULL && *ret != NULL ? 0 : KW_ERR_INVALID_FORMAT;
	BIO_free(bio);
	OPENSSL_cleanse(pem, len);
	free(pem);
	ERR_clear_error();
	return r;
}

/* One GPU: {"report", "chain": [leaf, ica, root]}. */
static int
one_gpu(const char *dir, unsigned int i, const uint8_t nonce[static 32], json_t **ret)
{
	struct emu_buf *e = NULL;
	EVP_PKEY *k = NULL;
	char path[4096], *rep = NULL, *c[3] = { NULL, NULL, NULL };
	json_t *o = NULL;
	int r;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return KW_ERR_NOMEM;
	snprintf(path, sizeof(path), "%s/leaf%u.key", dir, i);
	if ((r = transcript(nonce, e)) != 0 || (r = leaf_key(path, &k)) != 0 ||
	    (r = sign_rs(k, e->b, e->n, e->b + e->n)) != 0)
		goto out;
	e->n += 96;
	if ((r = kw_b64url_encode(e->b, e->n, &rep)) != 0)
		goto out;
	for (size_t j = 0; j < 3; j++) {
		if (j == 0)
			snprintf(path, sizeof(path), "%s/leaf%u.pem", dir, i);
		else
			snprintf(path, sizeof(path), "%s/%s", dir, j == 1 ? "ica.pem" : "root.pem");
		if ((r = cert_b64(path, &c[j])) != 0)
			goto out;
	}
	r = KW_ERR_NOMEM;
	if ((o = json_pack("{s:s, s:[s, s, s]}", "report", rep, "chain", c[0], c[1], c[2])) == NULL)
		goto out;
	*ret = o;
	r = 0;
out:
	for (size_t j = 0; j < 3; j++)
		free(c[j]);
	free(rep);
	EVP_PKEY_free(k);
	free(e);
	return r;
}

int
att_nvgpu_emu_gpus(const char *dir, unsigned int n, const json_t *runtime_data, json_t **ret)
{
	json_t *a = NULL, *g;
	char *jcs = NULL;
	size_t len = 0;
	uint8_t md[32];
	int r;

	if (dir == NULL || n == 0 || n > ATT_NVGPU_EMU_MAX || runtime_data == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	/* the GPUs' binding: SHA-256(JCS(runtime-data))[0:32] (docs/verifier-nvgpu.md) */
	if ((r = kw_jcs_serialize(runtime_data, &jcs, &len)) != 0)
		return r;
	r = kw_sha256(jcs, len, md);
	free(jcs);
	if (r != 0)
		return r;
	if ((a = json_array()) == NULL)
		return KW_ERR_NOMEM;
	for (unsigned int i = 0; i < n; i++) {
		if ((r = one_gpu(dir, i, md, &g)) != 0)
			goto fail;
		if (json_array_append_new(a, g) != 0) {
			r = KW_ERR_NOMEM;
			goto fail;
		}
	}
	*ret = a;
	return 0;
fail:
	json_decref(a);
	return r;
}
