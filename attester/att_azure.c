/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Azure vTPM evidence on the workload side (att_azure.h): the HCL report
 * and a quote through tss2-esys, the VCEK or TD quote from Azure's IMDS
 * through libcurl, the tee-evidence JSON.
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include "att_azure.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_rd.h"
#include "kw_util.h"

#define AZ_NV_CHUNK 512                  /* below every TPM's NV buffer maximum */
#define AZ_QUOTE_TRIES 3                 /* a PCR may be extended between quote and read */
#define AZ_HCL_MAGIC 0x414c4348u         /* "HCLA" */
#define AZ_HCL_RUNTIME 0x4C0
#define AZ_MAX_PEM (64 * 1024)

void
att_az_tpm_clear(struct att_az_tpm *t)
{
	if (t == NULL)
		return;
	free(t->hcl);
	free(t->attest);
	free(t->sig);
	memset(t, 0, sizeof(*t));
}

int
att_az_hcl_kind(const uint8_t *hcl, size_t len, int *ret_tdx, const uint8_t **ret_tdreport)
{
	struct kw_rd rd;
	uint32_t magic, type;
	const uint8_t *tdr;

	if (hcl == NULL || ret_tdx == NULL)
		return KW_ERR_INVALID_ARG;
	kw_rd_init(&rd, hcl, len);
	if (kw_rd_u32le(&rd, &magic) != 0 || magic != AZ_HCL_MAGIC || kw_rd_skip(&rd, 0x20 - 4) != 0 ||
	    kw_rd_bytes(&rd, ATT_AZ_TDREPORT_LEN, &tdr) != 0 ||
	    kw_rd_skip(&rd, AZ_HCL_RUNTIME + 8 - 0x20 - ATT_AZ_TDREPORT_LEN) != 0 ||
	    kw_rd_u32le(&rd, &type) != 0 || (type != 2 && type != 4))
		return KW_ERR_INVALID_FORMAT;
	*ret_tdx = type == 4;
	if (ret_tdreport != NULL)
		*ret_tdreport = tdr;
	return 0;
}

/* ---- the vTPM ---- */

static const char *
tcti_conf(const char *tcti)
{
	const char *s;

	if (tcti != NULL)
		return tcti;
	if ((s = getenv("KWGET_TCTI")) != NULL && *s != '\0')
		return s;
	if ((s = getenv("TPM2TOOLS_TCTI")) != NULL && *s != '\0')
		return s;
	return "device:/dev/tpmrm0";
}

/* The whole NV index, read with owner authorization (empty), in chunks. */
static int
read_hcl(ESYS_CONTEXT *ctx, uint8_t **ret, size_t *ret_len, const char **why)
{
	ESYS_TR nv = ESYS_TR_NONE;
	TPM2B_NV_PUBLIC *pub = NULL;
	TPM2B_NAME *name = NULL;
	uint8_t *buf = NULL;
	size_t size, off = 0;
	TSS2_RC rc;
	int r;

	*why = "no HCL report in vTPM NV index 0x01400001 (not an Azure confidential VM?)";
	if ((rc = Esys_TR_FromTPMPublic(ctx, ATT_AZ_HCL_NV_INDEX, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	    &nv)) != TSS2_RC_SUCCESS)
		return KW_ERR_NOT_FOUND;
	r = KW_ERR_CRYPTO;
	*why = "cannot read the public area of NV index 0x01400001";
	if ((rc = Esys_NV_ReadPublic(ctx, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name)) !=
	    TSS2_RC_SUCCESS)
		goto out;
	size = pub->nvPublic.dataSize;
	*why = "the HCL report in NV index 0x01400001 is empty or too large";
	r = KW_ERR_TOO_LARGE;
	if (size == 0 || size > ATT_AZ_MAX_HCL)
		goto out;
	r = KW_ERR_NOMEM;
	*why = "out of memory";
	if ((buf = malloc(size)) == NULL)
		goto out;
	while (off < size) {
		TPM2B_MAX_NV_BUFFER *data = NULL;
		UINT16 n = (UINT16)(size - off > AZ_NV_CHUNK ? AZ_NV_CHUNK : size - off);

		rc = Esys_NV_Read(ctx, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
		    (UINT16)off, &data);
		if (rc != TSS2_RC_SUCCESS || data->size != n) {
			Esys_Free(data);
			r = KW_ERR_CRYPTO;
			*why = "reading NV index 0x01400001 (owner authorization) failed";
			goto out;
		}
		memcpy(buf + off, data->buffer, n);
		off += n;
		Esys_Free(data);
	}
	*ret = buf;
	*ret_len = size;
	buf = NULL;   /* transferred */
	r = 0;
out:
	free(buf);
	Esys_Free(pub);
	Esys_Free(name);
	if (nv != ESYS_TR_NONE)
		(void)Esys_TR_Close(ctx, &nv);
	return r;
}

/* PCR 0..23 of the sha256 bank (PCR_Read returns at most 8 per call). */
static int
read_pcrs(ESYS_CONTEXT *ctx, uint8_t out[ATT_AZ_PCRS][32])
{
	uint32_t want = 0xffffffu;

	while (want != 0) {
		TPML_PCR_SELECTION sel, *got = NULL;
		TPML_DIGEST *vals = NULL;
		UINT32 counter;
		size_t k = 0;
		int progress = 0;

		memset(&sel, 0, sizeof(sel));
		sel.count = 1;
		sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
		sel.pcrSelections[0].sizeofSelect = 3;
		for (int b = 0; b < 3; b++)
			sel.pcrSelections[0].pcrSelect[b] = (BYTE)(want >> (8 * b));
		if (Esys_PCR_Read(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &counter, &got,
		    &vals) != TSS2_RC_SUCCESS)
			return KW_ERR_CRYPTO;
		for (unsigned int i = 0; got->count == 1 && got->pcrSelections[0].hash == TPM2_ALG_SHA256 &&
		    i < ATT_AZ_PCRS; i++) {
			if ((got->pcrSelections[0].pcrSelect[i / 8] & (1u << (i % 8))) == 0)
				continue;
			if (k >= vals->count || vals->digests[k].size != 32 || (want & (1u << i)) == 0)
				break;
			memcpy(out[i], vals->digests[k++].buffer, 32);
			want &= ~(1u << i);
			progress = 1;
		}
		Esys_Free(got);
		Esys_Free(vals);
		if (!progress)
			return KW_ERR_CRYPTO;
	}
	return 0;
}

/* 1 when the quote's pcrDigest is SHA-256 of pcrs (the values were read after quoting). */
static int
quote_matches(const TPM2B_ATTEST *q, const uint8_t pcrs[ATT_AZ_PCRS][32])
{
	TPMS_ATTEST a;
	uint8_t d[32];
	unsigned int dl = 0;
	EVP_MD_CTX *c;
	size_t off = 0;
	int ok = 0;

	if (Tss2_MU_TPMS_ATTEST_Unmarshal(q->attestationData, q->size, &off, &a) != TSS2_RC_SUCCESS ||
	    a.attested.quote.pcrDigest.size != 32 || (c = EVP_MD_CTX_new()) == NULL)
		return 0;
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1) {
		ok = 1;
		for (int i = 0; i < ATT_AZ_PCRS && ok; i++)
			ok = EVP_DigestUpdate(c, pcrs[i], 32) == 1;
		ok = ok && EVP_DigestFinal_ex(c, d, &dl) == 1 && dl == 32 &&
		    memcmp(d, a.attested.quote.pcrDigest.buffer, 32) == 0;
	}
	EVP_MD_CTX_free(c);
	return ok;
}

/* Quote PCR 0..23 (sha256) with the AK; the PCR values read after it must match the quote. */
static int
quote(ESYS_CONTEXT *ctx, const uint8_t *qualifying, size_t qlen, struct att_az_tpm *t, const char **why)
{
	ESYS_TR ak = ESYS_TR_NONE;
	TPM2B_DATA qd;
	TPMT_SIG_SCHEME scheme;
	TPML_PCR_SELECTION sel;
	TPM2B_ATTEST *q = NULL;
	TPMT_SIGNATURE *sig = NULL;
	uint8_t sbuf[sizeof(TPMT_SIGNATURE)];
	size_t soff;
	TSS2_RC rc;
	int r = KW_ERR_NOT_FOUND;

	*why = "no AK at persistent handle 0x81000003";
	if ((rc = Esys_TR_FromTPMPublic(ctx, ATT_AZ_AK_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	    &ak)) != TSS2_RC_SUCCESS)
		return KW_ERR_NOT_FOUND;
	memset(&qd, 0, sizeof(qd));
	qd.size = (UINT16)qlen;
	memcpy(qd.buffer, qualifying, qlen);
	memset(&scheme, 0, sizeof(scheme));
	scheme.scheme = TPM2_ALG_NULL;   /* the AK's own scheme (Azure: RSASSA, SHA-256) */
	memset(&sel, 0, sizeof(sel));
	sel.count = 1;
	sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel.pcrSelections[0].sizeofSelect = 3;
	memset(sel.pcrSelections[0].pcrSelect, 0xff, 3);
	for (int tries = 0; tries < AZ_QUOTE_TRIES; tries++) {
		Esys_Free(q);
		Esys_Free(sig);
		q = NULL;
		sig = NULL;
		r = KW_ERR_CRYPTO;
		*why = "TPM2_Quote with the AK failed";
		if ((rc = Esys_Quote(ctx, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qd, &scheme, &sel,
		    &q, &sig)) != TSS2_RC_SUCCESS)
			goto out;
		*why = "TPM2_PCR_Read failed";
		if ((r = read_pcrs(ctx, t->pcrs)) != 0)
			goto out;
		r = KW_ERR_MISMATCH;
		*why = "the PCRs changed while quoting";
		if (quote_matches(q, t->pcrs)) {
			r = 0;
			break;
		}
	}
	if (r != 0)
		goto out;
	soff = 0;
	r = KW_ERR_CRYPTO;
	*why = "cannot marshal the quote's signature";
	if (Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sbuf, sizeof(sbuf), &soff) != TSS2_RC_SUCCESS)
		goto out;
	r = KW_ERR_NOMEM;
	*why = "out of memory";
	if ((t->attest = malloc(q->size)) == NULL || (t->sig = malloc(soff)) == NULL)
		goto out;
	memcpy(t->attest, q->attestationData, q->size);
	t->attest_len = q->size;
	memcpy(t->sig, sbuf, soff);
	t->sig_len = soff;
	r = 0;
out:
	Esys_Free(q);
	Esys_Free(sig);
	(void)Esys_TR_Close(ctx, &ak);
	return r;
}

int
att_az_tpm_collect(const char *tcti, const uint8_t *qualifying, size_t qlen, struct att_az_tpm *ret,
    const char **why)
{
	TSS2_TCTI_CONTEXT *tc = NULL;
	ESYS_CONTEXT *ctx = NULL;
	struct att_az_tpm t;
	int r;

	*why = "invalid arguments";
	if (qualifying == NULL || qlen == 0 || qlen > sizeof(((TPM2B_DATA *)NULL)->buffer) || ret == NULL)
		return KW_ERR_INVALID_ARG;
	memset(&t, 0, sizeof(t));
	*why = "no TPM (the TCTI did not load or connect)";
	if (Tss2_TctiLdr_Initialize(tcti_conf(tcti), &tc) != TSS2_RC_SUCCESS)
		return KW_ERR_UNAVAILABLE;
	r = KW_ERR_UNAVAILABLE;
	if (Esys_Initialize(&ctx, tc, NULL) != TSS2_RC_SUCCESS)
		goto out;
	if ((r = read_hcl(ctx, &t.hcl, &t.hcl_len, why)) != 0)
		goto out;
	*why = "NV index 0x01400001 does not hold an HCL report";
	if ((r = att_az_hcl_kind(t.hcl, t.hcl_len, &t.tdx, NULL)) != 0)
		goto out;
	if ((r = quote(ctx, qualifying, qlen, &t, why)) != 0)
		goto out;
	*ret = t;
	memset(&t, 0, sizeof(t));   /* transferred */
	r = 0;
out:
	att_az_tpm_clear(&t);
	Esys_Finalize(&ctx);
	Tss2_TctiLdr_Finalize(&tc);
	return r;
}

int
att_az_hcl_probe(const char *tcti, int *ret_tdx, const char **why)
{
	TSS2_TCTI_CONTEXT *tc = NULL;
	ESYS_CONTEXT *ctx = NULL;
	TPM2B_DIGEST *rnd = NULL;
	uint8_t *hcl = NULL;
	size_t len = 0;
	int tdx = 0, r = KW_ERR_UNAVAILABLE;

	*why = "no TPM (the TCTI did not load or connect)";
	if (Tss2_TctiLdr_Initialize(tcti_conf(tcti), &tc) != TSS2_RC_SUCCESS)
		return KW_ERR_UNAVAILABLE;
	if (Esys_Initialize(&ctx, tc, NULL) != TSS2_RC_SUCCESS)
		goto out;
	/* one command that any TPM answers: is one there at all? */
	if (Esys_GetRandom(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, 8, &rnd) != TSS2_RC_SUCCESS) {
		*why = "no TPM answered at the TCTI";
		goto out;
	}
	if ((r = read_hcl(ctx, &hcl, &len, why)) != 0)
		goto out;
	*why = "NV index 0x01400001 does not hold an HCL report";
	if ((r = att_az_hcl_kind(hcl, len, &tdx, NULL)) != 0)
		goto out;
	*ret_tdx = tdx;
	r = 0;
out:
	free(hcl);
	Esys_Free(rnd);
	Esys_Finalize(&ctx);
	Tss2_TctiLdr_Finalize(&tc);
	return r;
}

/* ---- IMDS ---- */

const char *
att_az_imds_base(void)
{
	const char *s = getenv("KWGET_IMDS_URL");

	return s != NULL && strncmp(s, "http://", 7) == 0 && strlen(s) < 512 ? s : ATT_AZ_IMDS_DEFAULT;
}

int
att_az_thim_parse(const char *body, size_t len, char **ret_pem)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	json_t *j = NULL;
	const char *vcek = NULL, *chain = NULL;
	size_t vl = 0, cl = 0;
	char *pem;
	int r;

	if ((r = kw_json_parse(body, len, ATT_AZ_MAX_IMDS, &j)) != 0)
		return r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
	r = KW_ERR_INVALID_FORMAT;
	if (kw_json_get_str(j, "vcekCert", &vcek, &vl) != 0 || kw_json_get_str(j, "certificateChain", &chain,
	    &cl) != 0 || vcek == NULL || chain == NULL || strstr(vcek, begin) == NULL ||
	    vl + cl > AZ_MAX_PEM || strlen(vcek) != vl || strlen(chain) != cl)
		goto out;
	r = KW_ERR_NOMEM;
	if ((pem = malloc(vl + cl + 2)) == NULL)
		goto out;
	memcpy(pem, vcek, vl);
	pem[vl] = '\n';   /* PEM readers skip blank lines; THIM's text may lack the final newline */
	memcpy(pem + vl + 1, chain, cl);
	pem[vl + 1 + cl] = '\0';
	*ret_pem = pem;
	r = 0;
out:
	json_decref(j);
	return r;
}

int
att_az_tdquote_request(const uint8_t *tdreport, size_t len, char **ret)
{
	char *b = NULL, *s;
	json_t *j;
	int r;

	if (tdreport == NULL || len == 0 || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_b64url_encode(tdreport, len, &b)) != 0)
		return r;
	j = json_pack("{s:s}", "report", b);
	free(b);
	s = j != NULL ? kw_json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (s == NULL)
		return KW_ERR_NOMEM;
	*ret = s;
	return 0;
}

int
att_az_tdquote_parse(const char *body, size_t len, uint8_t **ret, size_t *ret_len)
{
	json_t *j = NULL;
	const char *q = NULL;
	size_t ql = 0;
	int r;

	if ((r = kw_json_parse(body, len, ATT_AZ_MAX_IMDS, &j)) != 0)
		return r == KW_ERR_NOMEM ? r : KW_ERR_INVALID_FORMAT;
	r = KW_ERR_INVALID_FORMAT;
	if (kw_json_get_str(j, "quote", &q, &ql) == 0 && q != NULL) {
		while (ql > 0 && q[ql - 1] == '=')
			ql--;
		r = ql == 0 ? KW_ERR_INVALID_FORMAT : kw_b64url_decode_alloc(q, ql, ATT_AZ_MAX_TDQUOTE, ret,
		    ret_len);
		if (r != 0 && r != KW_ERR_NOMEM && r != KW_ERR_TOO_LARGE)
			r = KW_ERR_INVALID_FORMAT;
	}
	json_decref(j);
	return r;
}

struct az_body {
	char *p;
	size_t len;
	int over;
};

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct az_body *b = arg;
	size_t n = size * nmemb;
	char *np;

	if (n > ATT_AZ_MAX_IMDS - b->len) {
		b->over = 1;
		return 0;
	}
	if ((np = realloc(b->p, b->len + n + 1)) == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->len, ptr, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

/* One IMDS request: GET (body NULL) or POST of JSON body; 200 and the body, or a code. */
static int
imds(const char *base, const char *path, const char *body, struct az_body *out)
{
	char url[640];
	struct curl_slist *hdr = NULL, *h2;
	CURL *c = NULL;
	long status = 0;
	CURLcode cc;
	int n, r = KW_ERR_NOMEM;

	n = snprintf(url, sizeof(url), "%s%s", base, path);
	if (n < 0 || (size_t)n >= sizeof(url))
		return KW_ERR_INVALID_ARG;
	memset(out, 0, sizeof(*out));
	if ((c = curl_easy_init()) == NULL || (hdr = curl_slist_append(NULL, "Metadata: true")) == NULL)
		goto out;
	if (body != NULL) {
		if ((h2 = curl_slist_append(hdr, "Content-Type: application/json")) == NULL)
			goto out;
		hdr = h2;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");      /* IMDS must never go through a proxy */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	cc = curl_easy_perform(c);
	(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (out->over)
		r = KW_ERR_TOO_LARGE;
	else if (cc != CURLE_OK || status != 200 || out->p == NULL)
		r = KW_ERR_UNAVAILABLE;
	else
		r = 0;
out:
	if (r != 0) {
		free(out->p);
		memset(out, 0, sizeof(*out));
	}
	curl_slist_free_all(hdr);
	if (c != NULL)
		curl_easy_cleanup(c);
	return r;
}

int
att_az_imds_vcek(const char *base, char **ret_pem)
{
	struct az_body b;
	int r;

	if (base == NULL || ret_pem == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = imds(base, ATT_AZ_THIM_PATH, NULL, &b)) != 0)
		return r;
	r = att_az_thim_parse(b.p, b.len, ret_pem);
	free(b.p);
	return r;
}

int
att_az_imds_td_quote(const char *base, const uint8_t *tdreport, size_t len, uint8_t **ret, size_t *ret_len)
{
	struct az_body b;
	char *req = NULL;
	int r;

	if (base == NULL || ret == NULL || ret_len == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = att_az_tdquote_request(tdreport, len, &req)) != 0)
		return r;
	r = imds(base, ATT_AZ_TDQUOTE_PATH, req, &b);
	free(req);
	if (r != 0)
		return r;
	r = att_az_tdquote_parse(b.p, b.len, ret, ret_len);
	free(b.p);
	return r;
}

/* ---- tee-evidence ---- */

int
att_az_evidence_to_json(const struct att_az_tpm *t, const char *vcek_pem, const uint8_t *td_quote,
    size_t td_quote_len, json_t **ret)
{
	json_t *o = NULL, *bank = NULL;
	char key[4], *hex = NULL;
	int r = KW_ERR_INVALID_ARG;

	if (t == NULL || ret == NULL || t->hcl == NULL || t->attest == NULL || t->sig == NULL ||
	    (t->tdx ? td_quote == NULL || td_quote_len == 0 : vcek_pem == NULL))
		return KW_ERR_INVALID_ARG;
	r = KW_ERR_NOMEM;
	if ((o = json_object()) == NULL || (bank = json_object()) == NULL)
		goto out;
	for (unsigned int i = 0; i < ATT_AZ_PCRS; i++) {
		(void)snprintf(key, sizeof(key), "%u", i);
		if (kw_hex_encode(t->pcrs[i], 32, &hex) != 0 || json_object_set_new(bank, key, json_string(hex)) != 0)
			goto out;
		free(hex);
		hex = NULL;
	}
	if ((r = kw_json_set_b64url(o, t->tdx ? "tdx_hcl_report" : "snp_hcl_report", t->hcl,
	    t->hcl_len)) != 0 ||
	    (r = kw_json_set_b64url(o, "vtpm_quote", t->attest, t->attest_len)) != 0 ||
	    (r = kw_json_set_b64url(o, "vtpm_signature", t->sig, t->sig_len)) != 0)
		goto out;
	r = KW_ERR_NOMEM;
	if (json_object_set_new(o, "pcrs", json_pack("{s:O}", "sha256", bank)) != 0)
		goto out;
	if (t->tdx)
		r = kw_json_set_b64url(o, "td_quote", td_quote, td_quote_len);
	else
		r = json_object_set_new(o, "vcek", json_string(vcek_pem)) == 0 ? 0 : KW_ERR_NOMEM;
	if (r != 0)
		goto out;
	*ret = o;
	o = NULL;   /* transferred */
out:
	free(hex);
	json_decref(bank);
	json_decref(o);
	return r;
}
