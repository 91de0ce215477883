/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TPM 2.0 quotes: public areas, PCR sets, TPMS_ATTEST + TPMT_SIGNATURE
 * (tpm_quote.h). tss2-mu unmarshals every TPM structure; OpenSSL verifies.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "kw_b64url.h"
#include "kw_jwk.h"
#include "kw_util.h"
#include "tpm_quote.h"

static const struct {
	const char *name;
	uint16_t alg;
	size_t size;
} tpm_banks[TPM_BANK_COUNT] = {
	[TPM_BANK_SHA1] = {"sha1", TPM2_ALG_SHA1, 20},
	[TPM_BANK_SHA256] = {"sha256", TPM2_ALG_SHA256, 32},
	[TPM_BANK_SHA384] = {"sha384", TPM2_ALG_SHA384, 48},
};

const char *
tpm_bank_name(enum tpm_bank b)
{
	return (unsigned int)b < TPM_BANK_COUNT ? tpm_banks[b].name : NULL;
}

int
tpm_bank_from_name(const char *s, enum tpm_bank *ret)
{
	for (unsigned int i = 0; s != NULL && i < TPM_BANK_COUNT; i++) {
		if (strcmp(s, tpm_banks[i].name) == 0) {
			*ret = (enum tpm_bank)i;
			return 0;
		}
	}
	return KW_ERR_NOT_FOUND;
}

int
tpm_bank_from_alg(uint16_t alg, enum tpm_bank *ret)
{
	for (unsigned int i = 0; i < TPM_BANK_COUNT; i++) {
		if (tpm_banks[i].alg == alg) {
			*ret = (enum tpm_bank)i;
			return 0;
		}
	}
	return KW_ERR_UNSUPPORTED;
}

uint16_t
tpm_bank_alg(enum tpm_bank b)
{
	return (unsigned int)b < TPM_BANK_COUNT ? tpm_banks[b].alg : 0;
}

size_t
tpm_bank_size(enum tpm_bank b)
{
	return (unsigned int)b < TPM_BANK_COUNT ? tpm_banks[b].size : 0;
}

const EVP_MD *
tpm_bank_md(enum tpm_bank b)
{
	switch (b) {
	case TPM_BANK_SHA1:
		return EVP_sha1();
	case TPM_BANK_SHA384:
		return EVP_sha384();
	case TPM_BANK_SHA256:
	case TPM_BANK_COUNT:
	default:
		return EVP_sha256();
	}
}

/* ---- PCR sets ---- */

int
tpm_pcrs_set(struct tpm_pcrs *p, enum tpm_bank b, unsigned int n, const uint8_t *value, size_t len)
{
	if (p == NULL || (unsigned int)b >= TPM_BANK_COUNT || n >= TPM_PCR_COUNT || value == NULL ||
	    len != tpm_banks[b].size)
		return KW_ERR_INVALID_ARG;
	memcpy(p->val[b][n], value, len);
	p->present[b] |= UINT32_C(1) << n;
	return 0;
}

int
tpm_pcrs_has(const struct tpm_pcrs *p, enum tpm_bank b, unsigned int n)
{
	return p != NULL && (unsigned int)b < TPM_BANK_COUNT && n < TPM_PCR_COUNT &&
	    (p->present[b] >> n & 1) != 0;
}

/* A PCR index: "0".."23", decimal, no leading zero, no sign. */
static int
pcr_index(const char *s, size_t len, unsigned int *ret)
{
	unsigned int v = 0;

	if (len == 0 || len > 2 || (len == 2 && s[0] == '0'))
		return KW_ERR_INVALID_FORMAT;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return KW_ERR_INVALID_FORMAT;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	if (v >= TPM_PCR_COUNT)
		return KW_ERR_INVALID_FORMAT;
	*ret = v;
	return 0;
}

int
tpm_pcrs_from_json(const json_t *o, struct tpm_pcrs *ret, const char **why)
{
	struct tpm_pcrs *p = NULL;
	const char *bname, *key;
	json_t *bank, *v;
	enum tpm_bank b;
	unsigned int n;
	uint8_t val[TPM_MAX_DIGEST];
	int r = KW_ERR_INVALID_FORMAT;

	*why = "pcrs must be an object of banks (sha1, sha256, sha384)";
	if (!json_is_object(o) || json_object_size(o) == 0)
		return KW_ERR_INVALID_FORMAT;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		*why = "out of memory";
		return KW_ERR_NOMEM;
	}
	/* json_object_foreach wants a non-const object but only reads it */
	json_object_foreach((json_t *)(uintptr_t)o, bname, bank) {
		if (tpm_bank_from_name(bname, &b) != 0)
			goto out;
		if (!json_is_object(bank) || json_object_size(bank) == 0 ||
		    json_object_size(bank) > TPM_PCR_COUNT) {
			*why = "pcrs.<bank> must be an object of 1 to 24 PCRs";
			goto out;
		}
		json_object_foreach(bank, key, v) {
			if (pcr_index(key, strlen(key), &n) != 0) {
				*why = "pcrs.<bank> members must be PCR indices 0..23";
				goto out;
			}
			if (!json_is_string(v) || json_string_length(v) != 2 * tpm_banks[b].size ||
			    kw_hex_decode(json_string_value(v), val, tpm_banks[b].size) != 0) {
				*why = "pcrs.<bank>.<n> must be hex of the bank's digest size";
				goto out;
			}
			if (tpm_pcrs_set(p, b, n, val, tpm_banks[b].size) != 0)
				goto out;
		}
	}
	memcpy(ret, p, sizeof(*p));
	r = 0;
out:
	free(p);
	return r;
}

int
tpm_pcrs_from_text(const char *text, size_t len, enum tpm_bank b, struct tpm_pcrs *ret, const char **why)
{
	struct tpm_pcrs *p = NULL;
	uint8_t val[TPM_MAX_DIGEST];
	char hex[2 * TPM_MAX_DIGEST + 1];
	size_t pos = 0, hexlen;
	unsigned int n, count = 0;
	int r = KW_ERR_INVALID_FORMAT;

	*why = "PCR text must be lines '<index> <hex>'";
	if (text == NULL || (unsigned int)b >= TPM_BANK_COUNT)
		return KW_ERR_INVALID_FORMAT;
	hexlen = 2 * tpm_banks[b].size;
	if ((p = malloc(sizeof(*p))) == NULL) {
		*why = "out of memory";
		return KW_ERR_NOMEM;
	}
	memcpy(p, ret, sizeof(*p));
	p->present[b] = 0;
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos), *sp;
		size_t ll = nl != NULL ? (size_t)(nl - line) : len - pos;

		pos += ll + (nl != NULL ? 1 : 0);
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll == 0)
			continue;
		if ((sp = memchr(line, ' ', ll)) == NULL || pcr_index(line, (size_t)(sp - line), &n) != 0 ||
		    ll - (size_t)(sp - line) - 1 != hexlen)
			goto out;
		memcpy(hex, sp + 1, hexlen);
		hex[hexlen] = '\0';
		if (kw_hex_decode(hex, val, tpm_banks[b].size) != 0)
			goto out;
		if (tpm_pcrs_has(p, b, n)) {
			*why = "PCR text names a PCR twice";
			goto out;
		}
		if (tpm_pcrs_set(p, b, n, val, tpm_banks[b].size) != 0)
			goto out;
		count++;
	}
	if (count == 0) {
		*why = "PCR text holds no PCR";
		goto out;
	}
	memcpy(ret, p, sizeof(*p));
	r = 0;
out:
	free(p);
	return r;
}

json_t *
tpm_pcrs_claims(const struct tpm_pcrs *p, const uint32_t sel[static TPM_BANK_COUNT])
{
	json_t *o = json_object(), *bank = NULL;
	char key[4], *hex = NULL;

	if (o == NULL)
		return NULL;
	for (unsigned int b = 0; b < TPM_BANK_COUNT; b++) {
		if ((sel[b] & p->present[b]) == 0)
			continue;
		if ((bank = json_object()) == NULL)
			goto fail;
		for (unsigned int n = 0; n < TPM_PCR_COUNT; n++) {
			if ((sel[b] >> n & 1) == 0 || !tpm_pcrs_has(p, (enum tpm_bank)b, n))
				continue;
			snprintf(key, sizeof(key), "%u", n);
			if (kw_hex_encode(p->val[b][n], tpm_banks[b].size, &hex) != 0 ||
			    json_object_set_new(bank, key, json_string(hex)) != 0)
				goto fail;
			free(hex);
			hex = NULL;
		}
		if (json_object_set_new(o, tpm_banks[b].name, bank) != 0) {
			bank = NULL;   /* json_object_set_new consumed it */
			goto fail;
		}
		bank = NULL;   /* transferred */
	}
	return o;
fail:
	free(hex);
	json_decref(bank);
	json_decref(o);
	return NULL;
}

/* ---- public areas ---- */

static const EVP_MD *
md_of_alg(uint16_t alg)
{
	switch (alg) {
	case TPM2_ALG_SHA1:
		return EVP_sha1();
	case TPM2_ALG_SHA256:
		return EVP_sha256();
	case TPM2_ALG_SHA384:
		return EVP_sha384();
	case TPM2_ALG_SHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

/* Set jwk[name] to base64url of n bytes. */
static int
jwk_b64(json_t *jwk, const char *name, const uint8_t *in, size_t n)
{
	char *s = NULL;
	int r;

	if ((r = kw_b64url_encode(in, n, &s)) != 0)
		return r;
	r = json_object_set_new(jwk, name, json_string(s)) == 0 ? 0 : KW_ERR_NOMEM;
	free(s);
	return r;
}

/* The key of a TPMT_PUBLIC as an EVP_PKEY, through a JWK so that kw_jwk's checks apply. */
static int
public_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **ret, const char **why)
{
	json_t *jwk = json_object();
	uint8_t e[4];
	uint32_t exp;
	int r = KW_ERR_NOMEM;

	*why = "out of memory";
	if (jwk == NULL)
		return KW_ERR_NOMEM;
	if (pub->type == TPM2_ALG_RSA) {
		exp = pub->parameters.rsaDetail.exponent != 0 ? pub->parameters.rsaDetail.exponent : 65537;
		e[0] = (uint8_t)(exp >> 24);
		e[1] = (uint8_t)(exp >> 16);
		e[2] = (uint8_t)(exp >> 8);
		e[3] = (uint8_t)exp;
		size_t skip = 0;
		while (skip < 3 && e[skip] == 0)
			skip++;
		if (json_object_set_new(jwk, "kty", json_string("RSA")) != 0 ||
		    (r = jwk_b64(jwk, "n", pub->unique.rsa.buffer, pub->unique.rsa.size)) != 0 ||
		    (r = jwk_b64(jwk, "e", e + skip, sizeof(e) - skip)) != 0)
			goto out;
	} else if (pub->type == TPM2_ALG_ECC) {
		const char *crv;

		switch (pub->parameters.eccDetail.curveID) {
		case TPM2_ECC_NIST_P256:
			crv = "P-256";
			break;
		case TPM2_ECC_NIST_P384:
			crv = "P-384";
			break;
		default:
			r = KW_ERR_UNSUPPORTED;
			*why = "TPM public area: unsupported ECC curve";
			goto out;
		}
		if (json_object_set_new(jwk, "kty", json_string("EC")) != 0 ||
		    json_object_set_new(jwk, "crv", json_string(crv)) != 0 ||
		    (r = jwk_b64(jwk, "x", pub->unique.ecc.x.buffer, pub->unique.ecc.x.size)) != 0 ||
		    (r = jwk_b64(jwk, "y", pub->unique.ecc.y.buffer, pub->unique.ecc.y.size)) != 0)
			goto out;
	} else {
		r = KW_ERR_UNSUPPORTED;
		*why = "TPM public area: the key is neither RSA nor ECC";
		goto out;
	}
	if ((r = kw_jwk_import_public(jwk, ret)) != 0) {
		*why = "TPM public area: the key is not a valid RSA (2048+ bits) or P-256/P-384 key";
		r = r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
	}
out:
	json_decref(jwk);
	return r;
}

int
tpm_public_parse(const uint8_t *buf, size_t len, int tpm2b, struct tpm_public *ret, const char **why)
{
	TPMT_PUBLIC pub;
	TPM2B_PUBLIC pub2b;
	struct tpm_public p;
	const uint8_t *area = buf;
	size_t off = 0, area_len = len;
	unsigned int dlen = 0;
	const EVP_MD *md;
	TSS2_RC rc;
	int r;

	*why = "TPM public area does not parse";
	if (buf == NULL || len == 0)
		return KW_ERR_INVALID_FORMAT;
	if (len > TPM_MAX_PUBLIC) {
		*why = "TPM public area is too large";
		return KW_ERR_TOO_LARGE;
	}
	memset(&p, 0, sizeof(p));
	if (tpm2b) {
		memset(&pub2b, 0, sizeof(pub2b));
		rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, &pub2b);
		if (rc != TSS2_RC_SUCCESS || len < 2 || (size_t)pub2b.size != len - 2)
			return KW_ERR_INVALID_FORMAT;
		pub = pub2b.publicArea;
		area = buf + 2;
		area_len = len - 2;
	} else {
		memset(&pub, 0, sizeof(pub));
		rc = Tss2_MU_TPMT_PUBLIC_Unmarshal(buf, len, &off, &pub);
		if (rc != TSS2_RC_SUCCESS)
			return KW_ERR_INVALID_FORMAT;
	}
	if (off != len) {
		*why = "TPM public area: trailing bytes";
		return KW_ERR_TRAILING;
	}
	if ((md = md_of_alg(pub.nameAlg)) == NULL) {
		*why = "TPM public area: unsupported nameAlg";
		return KW_ERR_UNSUPPORTED;
	}
	p.name[0] = (uint8_t)(pub.nameAlg >> 8);
	p.name[1] = (uint8_t)pub.nameAlg;
	if (EVP_Digest(area, area_len, p.name + 2, &dlen, md, NULL) != 1) {
		*why = "digest failed";
		return KW_ERR_CRYPTO;
	}
	p.name_len = 2 + dlen;
	p.type = pub.type;
	p.name_alg = pub.nameAlg;
	p.attributes = pub.objectAttributes;
	if ((r = public_pkey(&pub, &p.pkey, why)) != 0)
		return r;
	*ret = p;
	return 0;
}

int
tpm_public_check_ak(const struct tpm_public *p, const char **why)
{
	const uint32_t need = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;

	if ((p->attributes & need) != need || (p->attributes & TPMA_OBJECT_DECRYPT) != 0) {
		*why = "the AK is not a restricted signing key generated in the TPM";
		return KW_ERR_UNSUPPORTED;
	}
	return 0;
}

void
tpm_public_clear(struct tpm_public *p)
{
	if (p == NULL)
		return;
	EVP_PKEY_free(p->pkey);
	memset(p, 0, sizeof(*p));
}

/* ---- quotes ---- */

int
tpm_quote_parse(const uint8_t *attest, size_t len, struct tpm_quote_info *ret, const char **why)
{
	TPMS_ATTEST *a = NULL;
	struct tpm_quote_info q;
	size_t off = 0;
	enum tpm_bank b;
	int r = KW_ERR_INVALID_FORMAT;

	*why = "quote (TPMS_ATTEST) does not parse";
	if (attest == NULL || len == 0)
		return KW_ERR_INVALID_FORMAT;
	if (len > TPM_MAX_ATTEST) {
		*why = "quote (TPMS_ATTEST) is too large";
		return KW_ERR_TOO_LARGE;
	}
	/* TPMS_ATTEST is large (TPMU_ATTEST's biggest member): keep it off the stack */
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		*why = "out of memory";
		return KW_ERR_NOMEM;
	}
	if (Tss2_MU_TPMS_ATTEST_Unmarshal(attest, len, &off, a) != TSS2_RC_SUCCESS)
		goto out;
	if (off != len) {
		*why = "quote (TPMS_ATTEST): trailing bytes";
		r = KW_ERR_TRAILING;
		goto out;
	}
	if (a->magic != TPM2_GENERATED_VALUE) {
		*why = "quote: magic is not TPM_GENERATED_VALUE";
		goto out;
	}
	if (a->type != TPM2_ST_ATTEST_QUOTE) {
		*why = "quote: type is not TPM_ST_ATTEST_QUOTE";
		goto out;
	}
	memset(&q, 0, sizeof(q));
	if (a->qualifiedSigner.size > sizeof(q.qualified_signer) || a->extraData.size > sizeof(q.extra) ||
	    a->attested.quote.pcrDigest.size > sizeof(q.pcr_digest))
		goto out;
	memcpy(q.qualified_signer, a->qualifiedSigner.name, a->qualifiedSigner.size);
	q.qualified_signer_len = a->qualifiedSigner.size;
	memcpy(q.extra, a->extraData.buffer, a->extraData.size);
	q.extra_len = a->extraData.size;
	q.clock = a->clockInfo.clock;
	q.reset_count = a->clockInfo.resetCount;
	q.restart_count = a->clockInfo.restartCount;
	q.safe = a->clockInfo.safe != 0;
	q.firmware_version = a->firmwareVersion;
	memcpy(q.pcr_digest, a->attested.quote.pcrDigest.buffer, a->attested.quote.pcrDigest.size);
	q.pcr_digest_len = a->attested.quote.pcrDigest.size;
	for (uint32_t i = 0; i < a->attested.quote.pcrSelect.count; i++) {
		const TPMS_PCR_SELECTION *s = &a->attested.quote.pcrSelect.pcrSelections[i];
		uint32_t bits = 0;

		if (tpm_bank_from_alg(s->hash, &b) != 0) {
			*why = "quote: PCR bank not supported (sha1, sha256, sha384)";
			r = KW_ERR_UNSUPPORTED;
			goto out;
		}
		if (q.selected[b] != 0) {
			*why = "quote: a PCR bank is selected twice";
			goto out;
		}
		for (unsigned int j = 0; j < s->sizeofSelect; j++) {
			if (j >= (TPM_PCR_COUNT + 7) / 8) {
				if (s->pcrSelect[j] != 0) {
					*why = "quote: PCR index above 23 selected";
					r = KW_ERR_UNSUPPORTED;
					goto out;
				}
				continue;
			}
			bits |= (uint32_t)s->pcrSelect[j] << (8 * j);
		}
		if (bits == 0) {
			*why = "quote: a selected bank has no PCR";
			goto out;
		}
		q.selected[b] = bits;
		q.bank_order[q.nbanks++] = (uint8_t)b;
	}
	if (q.selected[TPM_BANK_SHA1] == 0 && q.selected[TPM_BANK_SHA256] == 0 &&
	    q.selected[TPM_BANK_SHA384] == 0) {
		*why = "quote: no PCR selected";
		goto out;
	}
	*ret = q;
	r = 0;
out:
	free(a);
	return r;
}

/* ECDSA r ‖ s of a TPMS_SIGNATURE_ECDSA as DER (OpenSSL's form). */
static int
ecdsa_der(const TPMS_SIGNATURE_ECDSA *e, uint8_t **ret, size_t *ret_len)
{
	ECDSA_SIG *s = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *der = NULL;
	int n, r = KW_ERR_CRYPTO;

	if ((s = ECDSA_SIG_new()) == NULL ||
	    (br = BN_bin2bn(e->signatureR.buffer, e->signatureR.size, NULL)) == NULL ||
	    (bs = BN_bin2bn(e->signatureS.buffer, e->signatureS.size, NULL)) == NULL)
		goto out;
	if (ECDSA_SIG_set0(s, br, bs) != 1)
		goto out;
	br = bs = NULL;   /* owned by s */
	if ((n = i2d_ECDSA_SIG(s, &der)) <= 0)
		goto out;
	*ret = der;
	*ret_len = (size_t)n;
	der = NULL;
	r = 0;
out:
	OPENSSL_free(der);
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(s);
	return r;
}

/* Verify sig (a marshalled TPMT_SIGNATURE) over msg with ak; *ret_md: the signature's hash. */
static int
sig_verify(const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len, EVP_PKEY *ak,
    const EVP_MD **ret_md, const char **why)
{
	TPMT_SIGNATURE s;
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md;
	const uint8_t *raw = NULL;
	uint8_t *der = NULL;
	size_t off = 0, raw_len = 0;
	uint16_t hash;
	int r = KW_ERR_INVALID_FORMAT, is_rsa = EVP_PKEY_base_id(ak) == EVP_PKEY_RSA;

	*why = "quote signature (TPMT_SIGNATURE) does not parse";
	if (sig == NULL || sig_len == 0)
		return KW_ERR_INVALID_FORMAT;
	if (sig_len > TPM_MAX_SIGNATURE) {
		*why = "quote signature is too large";
		return KW_ERR_TOO_LARGE;
	}
	memset(&s, 0, sizeof(s));
	if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(sig, sig_len, &off, &s) != TSS2_RC_SUCCESS)
		return KW_ERR_INVALID_FORMAT;
	if (off != sig_len) {
		*why = "quote signature: trailing bytes";
		return KW_ERR_TRAILING;
	}
	switch (s.sigAlg) {
	case TPM2_ALG_RSASSA:
	case TPM2_ALG_RSAPSS:
		if (!is_rsa) {
			*why = "quote signature is RSA but the AK is not";
			return KW_ERR_SIG_INVALID;
		}
		hash = s.signature.rsassa.hash;   /* rsapss has the same layout */
		raw = s.signature.rsassa.sig.buffer;
		raw_len = s.signature.rsassa.sig.size;
		break;
	case TPM2_ALG_ECDSA:
		if (EVP_PKEY_base_id(ak) != EVP_PKEY_EC) {
			*why = "quote signature is ECDSA but the AK is not an EC key";
			return KW_ERR_SIG_INVALID;
		}
		hash = s.signature.ecdsa.hash;
		if ((r = ecdsa_der(&s.signature.ecdsa, &der, &raw_len)) != 0) {
			*why = "quote signature: bad ECDSA values";
			return KW_ERR_INVALID_FORMAT;
		}
		raw = der;
		break;
	default:
		*why = "quote signature: scheme not supported (RSASSA, RSAPSS, ECDSA)";
		return KW_ERR_UNSUPPORTED;
	}
	if (hash == TPM2_ALG_SHA256) {
		md = EVP_sha256();
	} else if (hash == TPM2_ALG_SHA384) {
		md = EVP_sha384();
	} else {
		*why = "quote signature: hash not supported (SHA-256, SHA-384)";
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	r = KW_ERR_CRYPTO;
	*why = "signature verification failed to run";
	if ((ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestVerifyInit(ctx, &pctx, md, NULL, ak) != 1)
		goto out;
	if (s.sigAlg == TPM2_ALG_RSAPSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1))
		goto out;
	if (s.sigAlg == TPM2_ALG_RSASSA && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	if (EVP_DigestVerify(ctx, raw, raw_len, msg, msg_len) != 1) {
		*why = "quote signature does not verify with the AK";
		r = KW_ERR_SIG_INVALID;
		goto out;
	}
	*ret_md = md;
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return r;
}

/* H(selected PCR values in selection order, each bank's PCRs ascending). */
static int
pcr_digest(const struct tpm_quote_info *q, const struct tpm_pcrs *pcrs, const EVP_MD *md,
    uint8_t out[static 64], unsigned int *ret_len)
{
	EVP_MD_CTX *ctx = NULL;
	int r = KW_ERR_CRYPTO;

	if ((ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1)
		goto out;
	for (size_t i = 0; i < q->nbanks; i++) {
		unsigned int b = q->bank_order[i];

		for (unsigned int n = 0; n < TPM_PCR_COUNT; n++) {
			if ((q->selected[b] >> n & 1) == 0)
				continue;
			if (EVP_DigestUpdate(ctx, pcrs->val[b][n], tpm_banks[b].size) != 1)
				goto out;
		}
	}
	if (EVP_DigestFinal_ex(ctx, out, ret_len) != 1)
		goto out;
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

static json_t *
quote_tpm_claims(const struct tpm_quote_info *q)
{
	char fw[17], *signer = NULL;
	json_t *t = NULL;

	snprintf(fw, sizeof(fw), "%016llx", (unsigned long long)q->firmware_version);
	if (q->clock > INT64_MAX || kw_hex_encode(q->qualified_signer, q->qualified_signer_len, &signer) != 0)
		return NULL;
	t = json_pack("{s:I, s:I, s:I, s:b, s:s, s:s}", "clock", (json_int_t)q->clock,
	    "reset_count", (json_int_t)q->reset_count, "restart_count", (json_int_t)q->restart_count,
	    "safe", q->safe, "firmware_version", fw, "qualified_signer", signer);
	free(signer);
	return t;
}

int
tpm_quote_verify(const uint8_t *attest, size_t attest_len, const uint8_t *sig, size_t sig_len,
    EVP_PKEY *ak, const struct tpm_pcrs *pcrs, const uint8_t *expected, size_t expected_len,
    json_t **ret_claims, struct tpm_quote_info *ret_info, const char **why)
{
	struct tpm_quote_info q;
	const EVP_MD *md = NULL;
	uint8_t digest[64];
	unsigned int dlen = 0;
	json_t *claims = NULL, *jp = NULL, *jt = NULL;
	int r;

	*why = "invalid arguments";
	if (ak == NULL || pcrs == NULL || ret_claims == NULL || expected_len > sizeof(q.extra) ||
	    (expected == NULL && expected_len != 0))
		return KW_ERR_INVALID_ARG;
	if ((r = tpm_quote_parse(attest, attest_len, &q, why)) != 0)
		return r;
	if ((r = sig_verify(attest, attest_len, sig, sig_len, ak, &md, why)) != 0)
		return r;
	/* constant time over the expected length; the lengths are public */
	if (q.extra_len != expected_len ||
	    (expected_len > 0 && CRYPTO_memcmp(q.extra, expected, expected_len) != 0)) {
		*why = "quote nonce (extraData) does not match";
		return KW_ERR_MISMATCH;
	}
	for (unsigned int b = 0; b < TPM_BANK_COUNT; b++) {
		if ((q.selected[b] & ~pcrs->present[b]) != 0) {
			*why = "a quoted PCR value is missing";
			return KW_ERR_INVALID_FORMAT;
		}
	}
	if ((r = pcr_digest(&q, pcrs, md, digest, &dlen)) != 0) {
		*why = "PCR digest computation failed";
		return r;
	}
	if (dlen != q.pcr_digest_len || CRYPTO_memcmp(digest, q.pcr_digest, dlen) != 0) {
		*why = "PCR values do not match the quote's pcrDigest";
		return KW_ERR_MISMATCH;
	}
	*why = "out of memory";
	r = KW_ERR_NOMEM;
	if ((claims = json_object()) == NULL || (jp = tpm_pcrs_claims(pcrs, q.selected)) == NULL ||
	    (jt = quote_tpm_claims(&q)) == NULL)
		goto out;
	if (json_object_set_new(claims, "pcrs", jp) != 0) {
		jp = NULL;   /* consumed */
		goto out;
	}
	jp = NULL;   /* owned by claims */
	if (json_object_set_new(claims, "tpm", jt) != 0) {
		jt = NULL;
		goto out;
	}
	jt = NULL;
	*ret_claims = claims;
	claims = NULL;   /* transferred */
	if (ret_info != NULL)
		*ret_info = q;
	r = 0;
out:
	json_decref(jp);
	json_decref(jt);
	json_decref(claims);
	return r;
}
