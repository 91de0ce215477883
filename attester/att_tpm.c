/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `tpm` evidence type on the workload (att_tpm.h): EK, EK certificate,
 * AK, credential activation and the quote through tss2-esys. Every TPM
 * structure is (un)marshalled by tss2-mu.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "att_tpm.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"

#define ATT_TPM_NV_CHUNK 512u        /* below every TPM's TPM_PT_NV_BUFFER_MAX we know of */
#define ATT_TPM_PCRS 24
#define ATT_TPM_PCR_READS 8          /* TPM2_PCR_Read returns at most 8 digests per call */

struct att_tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR ek, ak;
	int ek_transient, ak_transient;
	TPM2B_PUBLIC *ek_pub, *ak_pub;   /* Esys_Free */
};

static int
tpm_fail(char *why, size_t whylen, const char *what, TSS2_RC rc)
{
	snprintf(why, whylen, "%s: %s", what, Tss2_RC_Decode(rc));
	return KW_ERR_IO;
}

const char *
att_tpm_tcti_from_env(void)
{
	const char *s;

	if ((s = getenv("TPM2TOOLS_TCTI")) != NULL && *s != '\0')
		return s;
	if ((s = getenv("TCTI")) != NULL && *s != '\0')
		return s;
	return ATT_TPM_DEFAULT_TCTI;
}

void
att_tpm_free(struct att_tpm *t)
{
	if (t == NULL)
		return;
	if (t->esys != NULL) {
		if (t->ak_transient && t->ak != ESYS_TR_NONE && Esys_FlushContext(t->esys, t->ak) != TSS2_RC_SUCCESS)
			t->ak = ESYS_TR_NONE;   /* nothing more to do: the TPM drops it at the next reset */
		if (t->ek_transient && t->ek != ESYS_TR_NONE && Esys_FlushContext(t->esys, t->ek) != TSS2_RC_SUCCESS)
			t->ek = ESYS_TR_NONE;
		Esys_Finalize(&t->esys);
	}
	Tss2_TctiLdr_Finalize(&t->tcti);
	Esys_Free(t->ek_pub);
	Esys_Free(t->ak_pub);
	free(t);
}

/* The TCG EK Credential Profile's default RSA-2048 EK template (L-1). */
static void
ek_template(TPM2B_PUBLIC *p)
{
	/* PolicySecret(TPM_RH_ENDORSEMENT): the EK's authPolicy (EK Credential Profile, B.3.3) */
	static const uint8_t policy[32] = {
		0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
		0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
	};

	memset(p, 0, sizeof(*p));
	p->publicArea.type = TPM2_ALG_RSA;
	p->publicArea.nameAlg = TPM2_ALG_SHA256;
	p->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED |
	    TPMA_OBJECT_DECRYPT;
	p->publicArea.authPolicy.size = sizeof(policy);
	memcpy(p->publicArea.authPolicy.buffer, policy, sizeof(policy));
	p->publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
	p->publicArea.parameters.rsaDetail.symmetric.keyBits.aes = 128;
	p->publicArea.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	p->publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	p->publicArea.parameters.rsaDetail.keyBits = 2048;
	p->publicArea.parameters.rsaDetail.exponent = 0;
	p->publicArea.unique.rsa.size = 256;   /* 256 zero bytes */
}

/* A restricted RSA-2048 signing key, RSASSA with SHA-256 (what tpm2_createak makes by default). */
static void
ak_template(TPM2B_PUBLIC *p)
{
	memset(p, 0, sizeof(*p));
	p->publicArea.type = TPM2_ALG_RSA;
	p->publicArea.nameAlg = TPM2_ALG_SHA256;
	p->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED |
	    TPMA_OBJECT_SIGN_ENCRYPT;
	p->publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	p->publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
	p->publicArea.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
	p->publicArea.parameters.rsaDetail.keyBits = 2048;
	p->publicArea.parameters.rsaDetail.exponent = 0;
}

static int
create_primary(struct att_tpm *t, const TPM2B_PUBLIC *tmpl, ESYS_TR *ret, TPM2B_PUBLIC **ret_pub, char *why,
    size_t whylen, const char *what)
{
	TPM2B_SENSITIVE_CREATE sens;
	TPM2B_DATA outside;
	TPML_PCR_SELECTION pcrs;
	TSS2_RC rc;

	memset(&sens, 0, sizeof(sens));
	memset(&outside, 0, sizeof(outside));
	memset(&pcrs, 0, sizeof(pcrs));
	rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
	    &sens, tmpl, &outside, &pcrs, ret, ret_pub, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(why, whylen, what, rc);
	return 0;
}

static int
load_persistent(struct att_tpm *t, uint32_t handle, ESYS_TR *ret, TPM2B_PUBLIC **ret_pub, char *why,
    size_t whylen, const char *what)
{
	ESYS_TR h = ESYS_TR_NONE;
	TSS2_RC rc;

	if ((handle & 0xff000000u) != 0x81000000u) {
		snprintf(why, whylen, "%s: 0x%08x is not a persistent handle (0x81xxxxxx)", what, handle);
		return KW_ERR_INVALID_ARG;
	}
	if ((rc = Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &h)) !=
	    TSS2_RC_SUCCESS)
		return tpm_fail(why, whylen, what, rc);
	if ((rc = Esys_ReadPublic(t->esys, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ret_pub, NULL, NULL)) !=
	    TSS2_RC_SUCCESS)
		return tpm_fail(why, whylen, what, rc);
	*ret = h;
	return 0;
}

int
att_tpm_open(const struct att_tpm_opts *o, struct att_tpm **ret, char *why, size_t whylen)
{
	int r = KW_ERR_INTERNAL;
	struct att_tpm *t = NULL;
	TPM2B_PUBLIC tmpl;
	const char *tcti;
	TPMA_OBJECT a;
	TSS2_RC rc;

	if (o == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	tcti = o->tcti != NULL ? o->tcti : att_tpm_tcti_from_env();
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return KW_ERR_NOMEM;
	t->ek = t->ak = ESYS_TR_NONE;
	if ((rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti)) != TSS2_RC_SUCCESS) {
		snprintf(why, whylen, "no TPM at TCTI '%s': %s", tcti, Tss2_RC_Decode(rc));
		r = KW_ERR_UNAVAILABLE;
		goto out;
	}
	if ((rc = Esys_Initialize(&t->esys, t->tcti, NULL)) != TSS2_RC_SUCCESS) {
		r = tpm_fail(why, whylen, "Esys_Initialize", rc);
		goto out;
	}
	if (o->ek_handle != 0) {
		r = load_persistent(t, o->ek_handle, &t->ek, &t->ek_pub, why, whylen, "EK");
	} else {
		ek_template(&tmpl);
		r = create_primary(t, &tmpl, &t->ek, &t->ek_pub, why, whylen, "creating the EK");
		t->ek_transient = r == 0;
	}
	if (r != 0)
		goto out;
	if (o->ak_handle != 0) {
		r = load_persistent(t, o->ak_handle, &t->ak, &t->ak_pub, why, whylen, "AK");
	} else {
		ak_template(&tmpl);
		r = create_primary(t, &tmpl, &t->ak, &t->ak_pub, why, whylen, "creating the AK");
		t->ak_transient = r == 0;
	}
	if (r != 0)
		goto out;
	a = t->ek_pub->publicArea.objectAttributes;
	if (t->ek_pub->publicArea.type != TPM2_ALG_RSA || (a & TPMA_OBJECT_DECRYPT) == 0 ||
	    (a & TPMA_OBJECT_RESTRICTED) == 0) {
		snprintf(why, whylen, "the EK is not a restricted RSA decryption key");
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	a = t->ak_pub->publicArea.objectAttributes;
	if ((a & TPMA_OBJECT_SIGN_ENCRYPT) == 0 || (a & TPMA_OBJECT_RESTRICTED) == 0 ||
	    (a & TPMA_OBJECT_DECRYPT) != 0) {
		snprintf(why, whylen, "the AK is not a restricted signing key");
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	*ret = t;
	t = NULL;   /* transferred */
	r = 0;
out:
	att_tpm_free(t);
	return r;
}

/* 1 when the certificate's key is the RSA key of pub (modulus; exponent 0 means 65537). */
static int
cert_matches_ek(X509 *x, const TPM2B_PUBLIC *pub)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	BIGNUM *n = NULL, *e = NULL;
	uint8_t mod[512];
	int len, ok = 0;
	uint32_t exp = pub->publicArea.parameters.rsaDetail.exponent;

	if (pk == NULL || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bn_param(pk, "n", &n) != 1 || EVP_PKEY_get_bn_param(pk, "e", &e) != 1)
		goto out;
	len = BN_num_bytes(n);
	if (len <= 0 || (size_t)len != pub->publicArea.unique.rsa.size || (size_t)len > sizeof(mod) ||
	    BN_bn2bin(n, mod) != len)
		goto out;
	ok = memcmp(mod, pub->publicArea.unique.rsa.buffer, (size_t)len) == 0 &&
	    BN_is_word(e, exp == 0 ? 65537 : exp);
out:
	BN_free(n);
	BN_free(e);
	return ok;
}

int
att_tpm_ek_cert(struct att_tpm *t, uint8_t **ret, size_t *ret_len, char *why, size_t whylen)
{
	int r = KW_ERR_INTERNAL;
	ESYS_TR nv = ESYS_TR_NONE;
	TPM2B_NV_PUBLIC *nvpub = NULL;
	TPM2B_MAX_NV_BUFFER *chunk = NULL;
	uint8_t *buf = NULL, *der = NULL;
	const unsigned char *p;
	size_t size, off = 0;
	X509 *x = NULL;
	TSS2_RC rc;

	if ((rc = Esys_TR_FromTPMPublic(t->esys, ATT_TPM_EK_CERT_NV, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	    &nv)) != TSS2_RC_SUCCESS) {
		r = tpm_fail(why, whylen, "no EK certificate at NV 0x01c00002", rc);
		goto out;
	}
	if ((rc = Esys_NV_ReadPublic(t->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nvpub, NULL)) !=
	    TSS2_RC_SUCCESS) {
		r = tpm_fail(why, whylen, "reading NV 0x01c00002's public area", rc);
		goto out;
	}
	size = nvpub->nvPublic.dataSize;
	if (size == 0 || size > ATT_TPM_MAX_EK_CERT) {
		snprintf(why, whylen, "NV 0x01c00002 holds %zu bytes (1..%d)", size, ATT_TPM_MAX_EK_CERT);
		r = KW_ERR_TOO_LARGE;
		goto out;
	}
	if ((buf = malloc(size)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	while (off < size) {
		UINT16 n = (UINT16)(size - off < ATT_TPM_NV_CHUNK ? size - off : ATT_TPM_NV_CHUNK);

		if ((rc = Esys_NV_Read(t->esys, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
		    (UINT16)off, &chunk)) != TSS2_RC_SUCCESS) {
			r = tpm_fail(why, whylen, "reading the EK certificate from NV 0x01c00002", rc);
			goto out;
		}
		if (chunk->size != n) {
			snprintf(why, whylen, "NV 0x01c00002: short read");
			r = KW_ERR_IO;
			goto out;
		}
		memcpy(buf + off, chunk->buffer, n);
		off += n;
		Esys_Free(chunk);
		chunk = NULL;
	}
	/* TPMs may pad the index: the certificate is the DER object at its start. */
	p = buf;
	if ((x = d2i_X509(NULL, &p, (long)size)) == NULL) {
		snprintf(why, whylen, "NV 0x01c00002 does not hold a DER certificate");
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	if (!cert_matches_ek(x, t->ek_pub)) {
		snprintf(why, whylen, "the EK certificate in NV 0x01c00002 does not certify the EK in use");
		r = KW_ERR_MISMATCH;
		goto out;
	}
	if ((der = malloc((size_t)(p - buf))) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	memcpy(der, buf, (size_t)(p - buf));
	*ret_len = (size_t)(p - buf);
	*ret = der;   /* transferred */
	r = 0;
out:
	X509_free(x);
	Esys_Free(chunk);
	Esys_Free(nvpub);
	if (nv != ESYS_TR_NONE && Esys_TR_Close(t->esys, &nv) != TSS2_RC_SUCCESS)
		nv = ESYS_TR_NONE;
	free(buf);
	return r;
}

int
att_tpm_ak_public(struct att_tpm *t, uint8_t **ret, size_t *ret_len)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC)], *out;
	size_t len = 0;

	if (Tss2_MU_TPM2B_PUBLIC_Marshal(t->ak_pub, buf, sizeof(buf), &len) != TSS2_RC_SUCCESS)
		return KW_ERR_INTERNAL;
	if ((out = malloc(len)) == NULL)
		return KW_ERR_NOMEM;
	memcpy(out, buf, len);
	*ret = out;
	*ret_len = len;
	return 0;
}

int
att_tpm_activate(struct att_tpm *t, const uint8_t *blob, size_t blob_len, const uint8_t *secret,
    size_t secret_len, struct kw_secret **ret, char *why, size_t whylen)
{
	int r = KW_ERR_INTERNAL;
	TPM2B_ID_OBJECT id;
	TPM2B_ENCRYPTED_SECRET es;
	TPMT_SYM_DEF sym;
	TPM2B_DIGEST *cred = NULL;
	ESYS_TR session = ESYS_TR_NONE;
	size_t off = 0;
	TSS2_RC rc;

	memset(&id, 0, sizeof(id));
	memset(&es, 0, sizeof(es));
	if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(blob, blob_len, &off, &id) != TSS2_RC_SUCCESS || off != blob_len) {
		snprintf(why, whylen, "credential_blob is not a TPM2B_ID_OBJECT");
		return KW_ERR_INVALID_FORMAT;
	}
	off = 0;
	if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(secret, secret_len, &off, &es) != TSS2_RC_SUCCESS ||
	    off != secret_len) {
		snprintf(why, whylen, "encrypted_secret is not a TPM2B_ENCRYPTED_SECRET");
		return KW_ERR_INVALID_FORMAT;
	}
	/* The EK's authPolicy is PolicySecret(TPM_RH_ENDORSEMENT): satisfy it in a policy session. */
	memset(&sym, 0, sizeof(sym));
	sym.algorithm = TPM2_ALG_NULL;
	if ((rc = Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	    ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &session)) != TSS2_RC_SUCCESS) {
		r = tpm_fail(why, whylen, "starting the EK policy session", rc);
		goto out;
	}
	if ((rc = Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	    ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL)) != TSS2_RC_SUCCESS) {
		r = tpm_fail(why, whylen, "PolicySecret(TPM_RH_ENDORSEMENT)", rc);
		goto out;
	}
	rc = Esys_ActivateCredential(t->esys, t->ak, t->ek, ESYS_TR_PASSWORD, session, ESYS_TR_NONE, &id, &es,
	    &cred);
	if (rc != TSS2_RC_SUCCESS) {
		/*
		 * The TPM itself refuses: integrity (another AK name, another seed), value
		 * or size; swtpm answers TPM_RC_FAILURE when the seed does not decrypt with
		 * its EK. Errors from the TSS or the TCTI layers stay I/O errors.
		 */
		if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER) {
			snprintf(why, whylen, "the TPM refuses the credential (%s): it was made for another TPM "
			    "or another AK", Tss2_RC_Decode(rc));
			r = KW_ERR_DENIED;
		} else {
			r = tpm_fail(why, whylen, "TPM2_ActivateCredential", rc);
		}
		goto out;
	}
	if (cred->size == 0 || (r = kw_secret_from(cred->buffer, cred->size, ret)) != 0) {
		r = r != 0 ? r : KW_ERR_INVALID_FORMAT;
		goto out;
	}
	r = 0;
out:
	if (cred != NULL) {
		OPENSSL_cleanse(cred, sizeof(*cred));
		Esys_Free(cred);
	}
	if (session != ESYS_TR_NONE && Esys_FlushContext(t->esys, session) != TSS2_RC_SUCCESS)
		session = ESYS_TR_NONE;   /* already gone (not continued) */
	OPENSSL_cleanse(&id, sizeof(id));
	OPENSSL_cleanse(&es, sizeof(es));
	return r;
}

/* Read PCRs 0..23 of sha256 into vals (several TPM2_PCR_Read calls: each returns at most 8). */
static int
read_pcrs(struct att_tpm *t, uint8_t vals[ATT_TPM_PCRS][32], char *why, size_t whylen)
{
	uint32_t want = (1u << ATT_TPM_PCRS) - 1, got;
	TPML_PCR_SELECTION sel, *out_sel = NULL;
	TPML_DIGEST *digests = NULL;
	int r = KW_ERR_IO;

	for (int round = 0; want != 0 && round < ATT_TPM_PCRS; round++) {
		size_t k = 0;
		TSS2_RC rc;

		memset(&sel, 0, sizeof(sel));
		sel.count = 1;
		sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
		sel.pcrSelections[0].sizeofSelect = 3;
		for (unsigned int b = 0; b < 3; b++)
			sel.pcrSelections[0].pcrSelect[b] = (uint8_t)(want >> (8 * b));
		if ((rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, NULL, &out_sel,
		    &digests)) != TSS2_RC_SUCCESS)
			return tpm_fail(why, whylen, "TPM2_PCR_Read", rc);
		got = 0;
		if (out_sel->count == 1 && out_sel->pcrSelections[0].hash == TPM2_ALG_SHA256)
			for (unsigned int b = 0; b < 3 && b < out_sel->pcrSelections[0].sizeofSelect; b++)
				got |= (uint32_t)out_sel->pcrSelections[0].pcrSelect[b] << (8 * b);
		got &= want;
		for (unsigned int n = 0; n < ATT_TPM_PCRS; n++) {
			if ((got & (1u << n)) == 0)
				continue;
			if (k >= digests->count || digests->digests[k].size != 32) {
				snprintf(why, whylen, "TPM2_PCR_Read: unexpected answer");
				goto out;
			}
			memcpy(vals[n], digests->digests[k].buffer, 32);
			k++;
		}
		Esys_Free(out_sel);
		Esys_Free(digests);
		out_sel = NULL;
		digests = NULL;
		if (got == 0) {
			snprintf(why, whylen, "the TPM has no sha256 PCR bank (PCRs 0..23)");
			return KW_ERR_UNSUPPORTED;
		}
		want &= ~got;
	}
	r = want == 0 ? 0 : KW_ERR_IO;
out:
	Esys_Free(out_sel);
	Esys_Free(digests);
	return r;
}

int
att_tpm_quote(struct att_tpm *t, const uint8_t *qualifying, size_t qualifying_len, uint8_t **ret_attest,
    size_t *ret_attest_len, uint8_t **ret_sig, size_t *ret_sig_len, json_t **ret_pcrs, char *why,
    size_t whylen)
{
	int r = KW_ERR_INTERNAL;
	TPM2B_DATA q;
	TPMT_SIG_SCHEME scheme;
	TPML_PCR_SELECTION sel;
	TPM2B_ATTEST *quoted = NULL;
	TPMT_SIGNATURE *sig = NULL;
	uint8_t sigbuf[sizeof(TPMT_SIGNATURE)], vals[ATT_TPM_PCRS][32];
	uint8_t *attest = NULL, *sigout = NULL;
	size_t sig_len = 0;
	json_t *bank = NULL, *pcrs = NULL;
	char idx[4], *hex = NULL;
	TSS2_RC rc;

	if (qualifying == NULL || qualifying_len == 0 || qualifying_len > sizeof(q.buffer))
		return KW_ERR_INVALID_ARG;
	memset(&q, 0, sizeof(q));
	q.size = (UINT16)qualifying_len;
	memcpy(q.buffer, qualifying, qualifying_len);
	memset(&scheme, 0, sizeof(scheme));
	scheme.scheme = TPM2_ALG_NULL;   /* the AK's own scheme */
	memset(&sel, 0, sizeof(sel));
	sel.count = 1;
	sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel.pcrSelections[0].sizeofSelect = 3;
	memset(sel.pcrSelections[0].pcrSelect, 0xff, 3);
	if ((rc = Esys_Quote(t->esys, t->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &q, &scheme, &sel,
	    &quoted, &sig)) != TSS2_RC_SUCCESS) {
		r = tpm_fail(why, whylen, "TPM2_Quote", rc);
		goto out;
	}
	if ((r = read_pcrs(t, vals, why, whylen)) != 0)
		goto out;
	if (Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sigbuf, sizeof(sigbuf), &sig_len) != TSS2_RC_SUCCESS) {
		r = KW_ERR_INTERNAL;
		goto out;
	}
	r = KW_ERR_NOMEM;
	if (quoted->size == 0 || (attest = malloc(quoted->size)) == NULL || (sigout = malloc(sig_len)) == NULL)
		goto out;
	memcpy(attest, quoted->attestationData, quoted->size);
	memcpy(sigout, sigbuf, sig_len);
	if ((bank = json_object()) == NULL)
		goto out;
	for (unsigned int n = 0; n < ATT_TPM_PCRS; n++) {
		snprintf(idx, sizeof(idx), "%u", n);
		if ((r = kw_hex_encode(vals[n], 32, &hex)) != 0)
			goto out;
		r = KW_ERR_NOMEM;
		if (json_object_set_new(bank, idx, json_string(hex)) != 0)
			goto out;
		free(hex);
		hex = NULL;
	}
	if ((pcrs = json_object()) == NULL || json_object_set(pcrs, "sha256", bank) != 0)
		goto out;
	*ret_attest_len = quoted->size;
	*ret_attest = attest;
	*ret_sig_len = sig_len;
	*ret_sig = sigout;
	*ret_pcrs = pcrs;
	attest = NULL;   /* transferred */
	sigout = NULL;   /* transferred */
	pcrs = NULL;     /* transferred */
	r = 0;
out:
	free(hex);
	json_decref(bank);
	json_decref(pcrs);
	free(attest);
	free(sigout);
	Esys_Free(quoted);
	Esys_Free(sig);
	return r;
}

/*
 * PCR 23 := H(0 ‖ H(data)) in every active bank: TPM2_PCR_Reset(23) (the PC
 * Client application PCR, resettable at locality 0) and TPM2_PCR_Event(23,
 * data). Whatever another program kept in PCR 23 is gone.
 */
static int
extend_pcr23(struct att_tpm *t, const uint8_t *data, size_t len, char *why, size_t whylen)
{
	TPM2B_EVENT ev;
	TPML_DIGEST_VALUES *digests = NULL;
	TSS2_RC rc;

	if (len == 0 || len > sizeof(ev.buffer))
		return KW_ERR_INVALID_ARG;
	memset(&ev, 0, sizeof(ev));
	ev.size = (UINT16)len;
	memcpy(ev.buffer, data, len);
	if ((rc = Esys_PCR_Reset(t->esys, ESYS_TR_PCR23, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE)) !=
	    TSS2_RC_SUCCESS)
		return tpm_fail(why, whylen, "TPM2_PCR_Reset(23)", rc);
	if ((rc = Esys_PCR_Event(t->esys, ESYS_TR_PCR23, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &ev,
	    &digests)) != TSS2_RC_SUCCESS)
		return tpm_fail(why, whylen, "TPM2_PCR_Event(23)", rc);
	Esys_Free(digests);
	return 0;
}

/* "runtime_events": [{"pcr": 23, "data": b64url}] into ev. */
static int
set_runtime_events(json_t *ev, const uint8_t *data, size_t len)
{
	json_t *e = NULL, *a = NULL;
	int r = KW_ERR_NOMEM;

	if ((e = json_pack("{s:i}", "pcr", 23)) == NULL || (r = kw_json_set_b64url(e, "data", data, len)) != 0)
		goto out;
	r = KW_ERR_NOMEM;
	if ((a = json_array()) == NULL || json_array_append(a, e) != 0 ||
	    json_object_set(ev, "runtime_events", a) != 0)
		goto out;
	r = 0;
out:
	json_decref(e);
	json_decref(a);
	return r;
}

/* The EK certificate and the AK's public area, as both /auth and /attest carry them. */
static int
ids_json(struct att_tpm *t, json_t **ret, char *why, size_t whylen)
{
	uint8_t *cert = NULL, *pub = NULL;
	size_t cert_len = 0, pub_len = 0;
	json_t *o = NULL;
	int r;

	if ((r = att_tpm_ek_cert(t, &cert, &cert_len, why, whylen)) != 0)
		goto out;
	if ((r = att_tpm_ak_public(t, &pub, &pub_len)) != 0) {
		snprintf(why, whylen, "cannot marshal the AK's public area");
		goto out;
	}
	r = KW_ERR_NOMEM;
	if ((o = json_object()) == NULL)
		goto out;
	if ((r = kw_json_set_b64url(o, "ek_cert", cert, cert_len)) != 0 ||
	    (r = kw_json_set_b64url(o, "ak_public", pub, pub_len)) != 0)
		goto out;
	*ret = o;
	o = NULL;   /* transferred */
	r = 0;
out:
	json_decref(o);
	free(cert);
	free(pub);
	return r;
}

int
att_tpm_auth_params(struct att_tpm *t, json_t **ret, char *why, size_t whylen)
{
	return ids_json(t, ret, why, whylen);
}

/* A strict base64url member of the broker's answer, 1..max bytes. */
static int
answer_b64(const json_t *o, const char *name, size_t max, uint8_t **ret, size_t *ret_len)
{
	const char *s;
	size_t n;

	if (kw_json_get_str(o, name, &s, &n) != 0 || n == 0)
		return KW_ERR_INVALID_FORMAT;
	return kw_b64url_decode_alloc(s, n, max, ret, ret_len);
}

int
att_tpm_evidence(struct att_tpm *t, const json_t *auth_extra, const uint8_t binding[static 48],
    const uint8_t *config_sha384, const char *event_log, json_t **ret, char *why, size_t whylen)
{
	static const char *const keys[] = {"credential_blob", "encrypted_secret", NULL};
	uint8_t *blob = NULL, *sec = NULL, *attest = NULL, *sig = NULL, *log = NULL;
	size_t blob_len = 0, sec_len = 0, attest_len = 0, sig_len = 0, log_len = 0;
	struct kw_secret *cred = NULL;
	json_t *ev = NULL, *pcrs = NULL;
	int r;

	if (!json_is_object(auth_extra) || kw_json_check_keys(auth_extra, keys) != 0 ||
	    answer_b64(auth_extra, "credential_blob", sizeof(TPM2B_ID_OBJECT), &blob, &blob_len) != 0 ||
	    answer_b64(auth_extra, "encrypted_secret", sizeof(TPM2B_ENCRYPTED_SECRET), &sec, &sec_len) != 0) {
		snprintf(why, whylen, "the broker's /auth answer holds no credential "
		    "(extra-params: credential_blob, encrypted_secret)");
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((r = att_tpm_activate(t, blob, blob_len, sec, sec_len, &cred, why, whylen)) != 0)
		goto out;
	if (config_sha384 != NULL && (r = extend_pcr23(t, config_sha384, 48, why, whylen)) != 0)
		goto out;
	if ((r = att_tpm_quote(t, binding, 48, &attest, &attest_len, &sig, &sig_len, &pcrs, why, whylen)) != 0)
		goto out;
	if (event_log != NULL && (r = kw_file_read(event_log, ATT_TPM_MAX_EVENTLOG, &log, &log_len)) != 0) {
		snprintf(why, whylen, "cannot read the event log %s (at most 512 KiB)", event_log);
		goto out;
	}
	if (log != NULL && log_len == 0) {
		snprintf(why, whylen, "the event log %s is empty", event_log);
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	if ((r = ids_json(t, &ev, why, whylen)) != 0)
		goto out;
	if ((r = kw_json_set_b64url(ev, "credential", kw_secret_cptr(cred), kw_secret_len(cred))) != 0 ||
	    (r = kw_json_set_b64url(ev, "quote", attest, attest_len)) != 0 ||
	    (r = kw_json_set_b64url(ev, "signature", sig, sig_len)) != 0 ||
	    (log != NULL && (r = kw_json_set_b64url(ev, "event_log", log, log_len)) != 0) ||
	    (config_sha384 != NULL && (r = set_runtime_events(ev, config_sha384, 48)) != 0))
		goto out;
	r = KW_ERR_NOMEM;
	if (json_object_set(ev, "pcrs", pcrs) != 0)
		goto out;
	*ret = ev;
	ev = NULL;   /* transferred */
	r = 0;
out:
	json_decref(ev);
	json_decref(pcrs);
	kw_secret_free(cred);
	free(blob);
	free(sec);
	free(attest);
	free(sig);
	free(log);
	return r;
}
