/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Recorded Azure vTPM evidence (tpm_azure.h) → the broker's tee-evidence.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"
#include "tpm_azure.h"

enum enc { ENC_ARRAY, ENC_HEX, ENC_B64 };

void
tpm_azure_evidence_clear(struct tpm_azure_evidence *e)
{
	if (e == NULL)
		return;
	free(e->quote);
	free(e->sig);
	free(e->hcl);
	free(e->td_quote);
	free(e->vcek_pem);
	memset(e, 0, sizeof(*e));
}

/* A JSON array of integers 0..255 (1..max of them) into a new buffer. */
static int
from_array(const json_t *v, size_t max, uint8_t **ret, size_t *ret_len)
{
	size_t n = json_array_size(v), i;
	const json_t *x;
	uint8_t *b;

	if (n == 0)
		return KW_ERR_INVALID_FORMAT;
	if (n > max)
		return KW_ERR_TOO_LARGE;
	if ((b = malloc(n)) == NULL)
		return KW_ERR_NOMEM;
	json_array_foreach(v, i, x) {
		json_int_t k = json_integer_value(x);

		if (!json_is_integer(x) || k < 0 || k > 255) {
			free(b);
			return KW_ERR_INVALID_FORMAT;
		}
		b[i] = (uint8_t)k;
	}
	*ret = b;
	*ret_len = n;
	return 0;
}

/* Hex (either case) into a new buffer of 1..max bytes. */
static int
from_hex(const char *s, size_t slen, size_t max, uint8_t **ret, size_t *ret_len)
{
	uint8_t *b;

	if (slen == 0 || slen % 2 != 0)
		return KW_ERR_INVALID_FORMAT;
	if (slen / 2 > max)
		return KW_ERR_TOO_LARGE;
	if ((b = malloc(slen / 2)) == NULL)
		return KW_ERR_NOMEM;
	if (kw_hex_decode(s, b, slen / 2) != 0) {
		free(b);
		return KW_ERR_INVALID_FORMAT;
	}
	*ret = b;
	*ret_len = slen / 2;
	return 0;
}

/* base64url, optionally with the '=' padding Azure's tools write. */
static int
from_b64(const char *s, size_t slen, size_t max, uint8_t **ret, size_t *ret_len)
{
	size_t pad = 0;

	while (pad < 2 && pad < slen && s[slen - 1 - pad] == '=')
		pad++;
	if (pad > 0 && (slen % 4) != 0)
		return KW_ERR_INVALID_FORMAT;   /* padding only completes a quantum */
	return kw_b64url_decode_alloc(s, slen - pad, max, ret, ret_len);
}

static int
decode(const json_t *v, enum enc enc, size_t max, uint8_t **ret, size_t *ret_len)
{
	if (enc == ENC_ARRAY)
		return json_is_array(v) ? from_array(v, max, ret, ret_len) : KW_ERR_INVALID_FORMAT;
	if (!json_is_string(v))
		return KW_ERR_INVALID_FORMAT;
	if (enc == ENC_HEX)
		return from_hex(json_string_value(v), json_string_length(v), max, ret, ret_len);
	return from_b64(json_string_value(v), json_string_length(v), max, ret, ret_len);
}

/* DER certificate → PEM text (new string). */
static int
der_to_pem(const uint8_t *der, size_t len, char **ret)
{
	const unsigned char *p = der;
	X509 *x = NULL;
	BIO *bio = NULL;
	BUF_MEM *bm = NULL;
	char *s = NULL;
	int r = KW_ERR_INVALID_FORMAT;

	if (len > TPM_AZURE_MAX_BLOB || (x = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    p != der + len)
		goto out;
	r = KW_ERR_NOMEM;
	if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509(bio, x) != 1)
		goto out;
	BIO_get_mem_ptr(bio, &bm);
	if (bm == NULL || (s = malloc(bm->length + 1)) == NULL)
		goto out;
	memcpy(s, bm->data, bm->length);
	s[bm->length] = '\0';
	*ret = s;
	r = 0;
out:
	ERR_clear_error();
	BIO_free(bio);
	X509_free(x);
	return r;
}

/* "vcek": PEM text as is, or base64url DER converted to PEM. */
static int
vcek_pem(const json_t *v, char **ret)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	uint8_t *der = NULL;
	size_t dlen = 0;
	int r;

	if (s == NULL || n == 0)
		return KW_ERR_INVALID_FORMAT;
	if (n > TPM_AZURE_MAX_PEM)
		return KW_ERR_TOO_LARGE;
	if (strncmp(s, "-----BEGIN", 10) == 0) {
		if (strlen(s) != n)
			return KW_ERR_INVALID_FORMAT;   /* embedded NUL */
		return (*ret = kw_strdup(s)) != NULL ? 0 : KW_ERR_NOMEM;
	}
	if ((r = from_b64(s, n, TPM_AZURE_MAX_BLOB, &der, &dlen)) != 0)
		return r;
	r = der_to_pem(der, dlen, ret);
	free(der);
	return r;
}

/* The quote object {"message","signature","pcrs"} in encoding enc. */
static int
parse_quote(const json_t *q, enum enc enc, struct tpm_azure_evidence *e, const char **why)
{
	static const char *const keys[] = {"message", "signature", "pcrs", NULL};
	const json_t *pcrs, *p;
	size_t i;
	int r;

	*why = "the TPM quote must be {\"message\", \"signature\", \"pcrs\"}";
	if (!json_is_object(q) || kw_json_check_keys(q, keys) != 0 ||
	    json_object_size(q) != 3)
		return KW_ERR_INVALID_FORMAT;
	*why = "the TPM quote's message or signature is not encoded as expected";
	if ((r = decode(json_object_get(q, "message"), enc, TPM_AZURE_MAX_BLOB, &e->quote,
	    &e->quote_len)) != 0 ||
	    (r = decode(json_object_get(q, "signature"), enc, TPM_AZURE_MAX_BLOB, &e->sig,
	    &e->sig_len)) != 0)
		return r;
	pcrs = json_object_get(q, "pcrs");
	*why = "the TPM quote's pcrs must be 24 SHA-256 values (PCR 0..23)";
	if (!json_is_array(pcrs) || json_array_size(pcrs) != TPM_AZURE_PCRS)
		return KW_ERR_INVALID_FORMAT;
	json_array_foreach(pcrs, i, p) {
		uint8_t *b = NULL;
		size_t blen = 0;

		if ((r = decode(p, enc == ENC_ARRAY ? ENC_ARRAY : ENC_HEX, 32, &b, &blen)) != 0)
			return r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
		if (blen != 32) {
			free(b);
			return KW_ERR_INVALID_FORMAT;
		}
		memcpy(e->pcrs[i], b, 32);
		free(b);
	}
	return 0;
}

int
tpm_azure_evidence_parse(const json_t *doc, struct tpm_azure_evidence *ret, const char **why)
{
	static const char *const v0_keys[] = {"quote", "tpm_quote", "report", "hcl_report", "vcek",
		"td_quote", NULL};
	static const char *const vn_keys[] = {"version", "tpm_quote", "hcl_report", "vcek", "td_quote",
		NULL};
	struct tpm_azure_evidence e;
	const json_t *ver, *q, *hcl, *vcek, *td;
	enum enc enc;
	json_int_t n;
	int r;

	memset(&e, 0, sizeof(e));
	*why = "Azure evidence must be a JSON object";
	if (!json_is_object(doc))
		return KW_ERR_INVALID_FORMAT;
	ver = json_object_get(doc, "version");
	if (ver == NULL) {
		enc = ENC_ARRAY;
		*why = "unknown member in the Azure evidence (byte-array form)";
		if (kw_json_check_keys(doc, v0_keys) != 0)
			return KW_ERR_INVALID_FORMAT;
		q = json_object_get(doc, "quote");
		if (json_object_get(doc, "tpm_quote") != NULL)
			q = q == NULL ? json_object_get(doc, "tpm_quote") : NULL;
		hcl = json_object_get(doc, "report");
		if (json_object_get(doc, "hcl_report") != NULL)
			hcl = hcl == NULL ? json_object_get(doc, "hcl_report") : NULL;
	} else {
		n = json_integer_value(ver);
		*why = "unsupported Azure evidence version (1 or 2)";
		if (!json_is_integer(ver) || (n != 1 && n != 2))
			return KW_ERR_UNSUPPORTED;
		e.version = (int)n;
		enc = ENC_HEX;
		*why = "unknown member in the Azure evidence (versioned form)";
		if (kw_json_check_keys(doc, vn_keys) != 0)
			return KW_ERR_INVALID_FORMAT;
		q = json_object_get(doc, "tpm_quote");
		hcl = json_object_get(doc, "hcl_report");
	}
	vcek = json_object_get(doc, "vcek");
	td = json_object_get(doc, "td_quote");
	*why = "Azure evidence needs one TPM quote, one HCL report and either vcek or td_quote";
	if (q == NULL || hcl == NULL || (vcek == NULL) == (td == NULL)) {
		r = KW_ERR_INVALID_FORMAT;
		goto fail;
	}
	if ((r = parse_quote(q, enc, &e, why)) != 0)
		goto fail;
	*why = "the HCL report is not encoded as expected";
	if ((r = decode(hcl, enc == ENC_ARRAY ? ENC_ARRAY : ENC_B64, TPM_AZURE_MAX_BLOB, &e.hcl,
	    &e.hcl_len)) != 0)
		goto fail;
	if (td != NULL) {
		*why = "td_quote is not encoded as expected";
		if ((r = decode(td, enc == ENC_ARRAY ? ENC_ARRAY : ENC_B64, TPM_AZURE_MAX_BLOB,
		    &e.td_quote, &e.td_quote_len)) != 0)
			goto fail;
	} else {
		*why = "vcek must be PEM or base64url DER";
		if ((r = vcek_pem(vcek, &e.vcek_pem)) != 0)
			goto fail;
	}
	*ret = e;   /* transferred */
	return 0;
fail:
	tpm_azure_evidence_clear(&e);
	return r == KW_ERR_NOMEM || r == KW_ERR_TOO_LARGE ? r : KW_ERR_INVALID_FORMAT;
}

/*
 * The recorded formats carry the bare RSASSA-PKCS1-v1_5 signature (Azure's
 * vTPM AK signs with SHA-256); the broker's tee-evidence carries the
 * TPMT_SIGNATURE the TPM returned. Marshalled by tss2-mu.
 */
static int
put_tpmt_signature(json_t *o, const char *key, const uint8_t *sig, size_t len)
{
	TPMT_SIGNATURE ts;
	uint8_t buf[sizeof(TPMT_SIGNATURE)];
	size_t off = 0;

	if (len == 0 || len > sizeof(ts.signature.rsassa.sig.buffer))
		return KW_ERR_INVALID_ARG;
	memset(&ts, 0, sizeof(ts));
	ts.sigAlg = TPM2_ALG_RSASSA;
	ts.signature.rsassa.hash = TPM2_ALG_SHA256;
	ts.signature.rsassa.sig.size = (UINT16)len;
	memcpy(ts.signature.rsassa.sig.buffer, sig, len);
	if (Tss2_MU_TPMT_SIGNATURE_Marshal(&ts, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return KW_ERR_INTERNAL;
	return kw_json_set_b64url(o, key, buf, off);
}

int
tpm_azure_tee_evidence(const struct tpm_azure_evidence *e, int tdx, json_t **ret)
{
	json_t *o = json_object(), *pcrs = json_object(), *bank = json_object();
	char key[4];
	char *hex = NULL;
	int r = KW_ERR_NOMEM;

	if (o == NULL || pcrs == NULL || bank == NULL)
		goto out;
	for (unsigned int i = 0; i < TPM_AZURE_PCRS; i++) {
		(void)snprintf(key, sizeof(key), "%u", i);
		if (kw_hex_encode(e->pcrs[i], 32, &hex) != 0 ||
		    json_object_set_new(bank, key, json_string(hex)) != 0)
			goto out;
		free(hex);
		hex = NULL;
	}
	if (json_object_set(pcrs, "sha256", bank) != 0 ||
	    (r = kw_json_set_b64url(o, tdx ? "tdx_hcl_report" : "snp_hcl_report", e->hcl, e->hcl_len)) != 0 ||
	    (r = kw_json_set_b64url(o, "vtpm_quote", e->quote, e->quote_len)) != 0 ||
	    (r = put_tpmt_signature(o, "vtpm_signature", e->sig, e->sig_len)) != 0)
		goto out;
	r = KW_ERR_NOMEM;
	if (json_object_set(o, "pcrs", pcrs) != 0)
		goto out;
	if (tdx) {
		if (e->td_quote == NULL) {
			r = KW_ERR_INVALID_ARG;
			goto out;
		}
		if ((r = kw_json_set_b64url(o, "td_quote", e->td_quote, e->td_quote_len)) != 0)
			goto out;
	} else {
		if (e->vcek_pem == NULL) {
			r = KW_ERR_INVALID_ARG;
			goto out;
		}
		if (json_object_set_new(o, "vcek", json_string(e->vcek_pem)) != 0)
			goto out;
	}
	*ret = o;
	o = NULL;   /* transferred */
	r = 0;
out:
	free(hex);
	json_decref(bank);
	json_decref(pcrs);
	json_decref(o);
	return r;
}
