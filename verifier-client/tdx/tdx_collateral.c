/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel collateral for TDX quotes, in the dcap-qvl QuoteCollateralV3 layout:
 * parse (strict envelope, hex CRLs, strict PEM chains, TCB Info v3 and
 * TD_QE identity v2 JSON), then verify what depends on neither the quote
 * nor the time (chains to one trusted root, signatures over the exact signed
 * JSON bytes, CRL signatures, signing certificates not revoked). The result
 * is an immutable, reference-counted object.
 *
 * The signed TCB Info / QE identity texts are Intel-authenticated: members
 * this verifier does not use are ignored (as Intel's QVL does), every member
 * it uses is required with its exact type. The envelope is not signed and is
 * strict: unknown members are refused.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "kw_json.h"
#include "kw_util.h"
#include "tdx_int.h"

#define FAIL(code, text) do { r = (code); *why = (text); goto out; } while (0)

struct tdx_collateral *
tdx_collateral_alloc(void)
{
	struct tdx_collateral *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if ((c->adv = calloc(TDX_MAX_ADVISORIES, sizeof(*c->adv))) == NULL) {
		free(c);
		return NULL;
	}
	atomic_init(&c->refs, 1);
	return c;
}

struct tdx_collateral *
tdx_collateral_ref(struct tdx_collateral *c)
{
	if (c != NULL)
		atomic_fetch_add(&c->refs, 1);
	return c;
}

void
tdx_collateral_free(struct tdx_collateral *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	X509_CRL_free(c->pck_crl);
	X509_CRL_free(c->root_crl);
	free(c->adv);
	free(c);
}

void
tdx_collateral_get_info(const struct tdx_collateral *c, struct tdx_collateral_info *ret)
{
	int64_t nb = c->certs_not_before, na = c->certs_not_after;
	const int64_t from[] = { c->tcb.issue, c->qe.issue, c->pck_crl_this, c->root_crl_this };
	const int64_t to[] = { c->tcb.next, c->qe.next, c->pck_crl_next, c->root_crl_next };

	for (size_t i = 0; i < KW_ARRAY_SIZE(from); i++) {
		nb = from[i] > nb ? from[i] : nb;
		na = to[i] < na ? to[i] : na;
	}
	memset(ret, 0, sizeof(*ret));
	memcpy(ret->fmspc, c->tcb.fmspc, 6);
	memcpy(ret->pce_id, c->tcb.pce_id, 2);
	ret->not_before = nb;
	ret->not_after = na;
	ret->tcb_evaluation_data_number = c->tcb.eval_num;
	ret->is_test_root = c->is_test;
}

void
tdx_collateral_raw_clear(struct tdx_collateral_raw *raw)
{
	for (size_t i = 0; i < 3; i++)
		for (size_t j = 0; j < 2; j++)
			X509_free(raw->chain[i][j]);
	memset(raw, 0, sizeof(*raw));
}

/* ---- JSON helpers for the signed documents ---- */

static int
get_hex(const json_t *o, const char *key, uint8_t *out, size_t n)
{
	const char *s;
	size_t len;

	if (kw_json_get_str(o, key, &s, &len) != 0 || len != 2 * n || kw_hex_decode(s, out, n) != 0)
		return KW_ERR_INVALID_FORMAT;
	return 0;
}

static int
get_uint(const json_t *o, const char *key, int64_t max, int64_t *ret)
{
	int64_t v;

	if (kw_json_get_int(o, key, &v) != 0 || v < 0 || v > max)
		return KW_ERR_INVALID_FORMAT;
	*ret = v;
	return 0;
}

static int
get_time(const json_t *o, const char *key, int64_t *ret)
{
	const char *s;
	size_t len;

	if (kw_json_get_str(o, key, &s, &len) != 0 || len > 40 || kw_time_parse_rfc3339(s, ret) != 0)
		return KW_ERR_INVALID_FORMAT;
	return 0;
}

static int
get_status(const json_t *o, int set, enum tdx_tcb_status *ret)
{
	const char *s;
	size_t len;

	if (kw_json_get_str(o, "tcbStatus", &s, &len) != 0 ||
	    (*ret = tdx_tcb_status_parse(s, set)) == TDX_TCB_UNKNOWN)
		return KW_ERR_INVALID_FORMAT;
	return 0;
}

/* "advisoryIDs" (optional): strings of [A-Za-z0-9-], stored in the collateral's pool. */
static int
get_advisories(const json_t *o, struct tdx_collateral *c, struct tdx_adv_ids *ret)
{
	const json_t *a = json_object_get(o, "advisoryIDs");
	size_t i;
	const json_t *v;

	ret->first = c->nadv;
	ret->n = 0;
	if (a == NULL)
		return 0;
	if (!json_is_array(a))
		return KW_ERR_INVALID_FORMAT;
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);

		if (s == NULL || len == 0 || len >= TDX_ADVISORY_LEN)
			return KW_ERR_INVALID_FORMAT;
		for (size_t k = 0; k < len; k++)
			if (!isalnum((unsigned char)s[k]) && s[k] != '-')
				return KW_ERR_INVALID_FORMAT;
		if (c->nadv == TDX_MAX_ADVISORIES)
			return KW_ERR_TOO_LARGE;
		memcpy(c->adv[c->nadv], s, len + 1);
		c->nadv++;
		ret->n++;
	}
	return 0;
}

/* 16 component objects {"svn": 0..255, ...}. */
static int
get_components(const json_t *tcb, const char *key, uint8_t out[static 16])
{
	const json_t *a = json_object_get(tcb, key);

	if (!json_is_array(a) || json_array_size(a) != 16)
		return KW_ERR_INVALID_FORMAT;
	for (size_t i = 0; i < 16; i++) {
		int64_t v;

		if (!json_is_object(json_array_get(a, i)) || get_uint(json_array_get(a, i), "svn", 255, &v) != 0)
			return KW_ERR_INVALID_FORMAT;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* {"tcb": {"isvsvn": n}, "tcbDate", "tcbStatus", "advisoryIDs"?} levels (QE and TDX module). */
static int
get_isv_levels(const json_t *arr, int set, struct tdx_collateral *c, struct tdx_isv_level *out,
    size_t *ret_n)
{
	size_t i;
	const json_t *v;

	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > TDX_MAX_ISV_LEVELS)
		return KW_ERR_INVALID_FORMAT;
	json_array_foreach(arr, i, v) {
		const json_t *tcb = json_object_get(v, "tcb");
		int64_t isvsvn;

		if (!json_is_object(v) || !json_is_object(tcb) || get_uint(tcb, "isvsvn", 65535, &isvsvn) != 0 ||
		    get_time(v, "tcbDate", &out[i].date) != 0 || get_status(v, set, &out[i].status) != 0 ||
		    get_advisories(v, c, &out[i].adv) != 0)
			return KW_ERR_INVALID_FORMAT;
		out[i].isvsvn = (uint16_t)isvsvn;
	}
	*ret_n = json_array_size(arr);
	return 0;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int
module_identity(const json_t *v, struct tdx_collateral *c, struct tdx_module_id *m)
{
	const char *id;
	size_t len;
	int hi, lo;

	if (!json_is_object(v) || kw_json_get_str(v, "id", &id, &len) != 0 || len != 6 ||
	    strncmp(id, "TDX_", 4) != 0 || (hi = hexval(id[4])) < 0 || (lo = hexval(id[5])) < 0)
		return KW_ERR_INVALID_FORMAT;
	memcpy(m->id, id, 7);
	m->version = (uint8_t)(hi * 16 + lo);
	if (get_hex(v, "mrsigner", m->mrsigner, 48) != 0 || get_hex(v, "attributes", m->attributes, 8) != 0 ||
	    get_hex(v, "attributesMask", m->attributes_mask, 8) != 0)
		return KW_ERR_INVALID_FORMAT;
	return get_isv_levels(json_object_get(v, "tcbLevels"), 1, c, m->levels, &m->nlevels);
}

int
tdx_tcb_info_parse(const char *text, size_t len, struct tdx_collateral *c, const char **why)
{
	struct tdx_tcb_info *ti = &c->tcb;
	json_t *j = NULL;
	const json_t *mod, *mods, *levels, *v;
	const char *id;
	size_t idlen, i;
	int64_t version, tcb_type;
	int r;

	if ((r = kw_json_parse(text, len, TDX_MAX_SIGNED_JSON, &j)) != 0)
		FAIL(r, "TCB Info is not a JSON object");
	r = KW_ERR_INVALID_FORMAT;
	if (kw_json_get_str(j, "id", &id, &idlen) != 0 || kw_json_get_int(j, "version", &version) != 0)
		FAIL(r, "TCB Info has no id or version");
	if (strcmp(id, "TDX") != 0)
		FAIL(KW_ERR_UNSUPPORTED, strcmp(id, "SGX") == 0 ? "TCB Info is for SGX, not TDX" :
		    "TCB Info id is not TDX");
	if (version != 3)
		FAIL(KW_ERR_UNSUPPORTED, "TCB Info version unsupported (need 3)");
	*why = "TCB Info malformed";
	if (get_time(j, "issueDate", &ti->issue) != 0 || get_time(j, "nextUpdate", &ti->next) != 0 ||
	    get_hex(j, "fmspc", ti->fmspc, 6) != 0 || get_hex(j, "pceId", ti->pce_id, 2) != 0 ||
	    get_uint(j, "tcbType", 0, &tcb_type) != 0 ||
	    get_uint(j, "tcbEvaluationDataNumber", INT32_MAX, &ti->eval_num) != 0)
		goto out;
	mod = json_object_get(j, "tdxModule");
	if (!json_is_object(mod) || get_hex(mod, "mrsigner", ti->mod_mrsigner, 48) != 0 ||
	    get_hex(mod, "attributes", ti->mod_attributes, 8) != 0 ||
	    get_hex(mod, "attributesMask", ti->mod_attributes_mask, 8) != 0)
		goto out;
	if ((mods = json_object_get(j, "tdxModuleIdentities")) != NULL) {
		if (!json_is_array(mods) || json_array_size(mods) > TDX_MAX_MODULE_IDS)
			goto out;
		ti->has_mods = 1;
		json_array_foreach(mods, i, v) {
			if (module_identity(v, c, &ti->mods[i]) != 0)
				goto out;
			for (size_t k = 0; k < i; k++)
				if (ti->mods[k].version == ti->mods[i].version)
					goto out;   /* two identities for one module version */
		}
		ti->nmods = json_array_size(mods);
	}
	levels = json_object_get(j, "tcbLevels");
	if (!json_is_array(levels) || json_array_size(levels) == 0 || json_array_size(levels) > TDX_MAX_TCB_LEVELS)
		goto out;
	json_array_foreach(levels, i, v) {
		struct tdx_level *l = &ti->levels[i];
		const json_t *tcb = json_object_get(v, "tcb");
		int64_t pcesvn;

		if (!json_is_object(v) || !json_is_object(tcb) || get_components(tcb, "sgxtcbcomponents", l->sgx) != 0 ||
		    get_components(tcb, "tdxtcbcomponents", l->tdx) != 0 ||
		    get_uint(tcb, "pcesvn", 65535, &pcesvn) != 0 || get_time(v, "tcbDate", &l->date) != 0 ||
		    get_status(v, 0, &l->status) != 0 || get_advisories(v, c, &l->adv) != 0)
			goto out;
		l->pcesvn = (uint16_t)pcesvn;
	}
	ti->nlevels = json_array_size(levels);
	r = 0;
out:
	json_decref(j);
	return r;
}

int
tdx_qe_identity_parse(const char *text, size_t len, struct tdx_collateral *c, const char **why)
{
	struct tdx_qe_identity *qe = &c->qe;
	json_t *j = NULL;
	const char *id;
	size_t idlen;
	int64_t version, prodid;
	uint8_t ms[4], msm[4];
	int r;

	if ((r = kw_json_parse(text, len, TDX_MAX_SIGNED_JSON, &j)) != 0)
		FAIL(r, "QE identity is not a JSON object");
	r = KW_ERR_INVALID_FORMAT;
	if (kw_json_get_str(j, "id", &id, &idlen) != 0 || kw_json_get_int(j, "version", &version) != 0)
		FAIL(r, "QE identity has no id or version");
	if (strcmp(id, "TD_QE") != 0)
		FAIL(KW_ERR_UNSUPPORTED, strcmp(id, "QE") == 0 ? "QE identity is for SGX (QE), not TD_QE" :
		    "QE identity id is not TD_QE");
	if (version != 2)
		FAIL(KW_ERR_UNSUPPORTED, "QE identity version unsupported (need 2)");
	*why = "QE identity malformed";
	if (get_time(j, "issueDate", &qe->issue) != 0 || get_time(j, "nextUpdate", &qe->next) != 0 ||
	    get_uint(j, "tcbEvaluationDataNumber", INT32_MAX, &qe->eval_num) != 0 ||
	    get_hex(j, "miscselect", ms, 4) != 0 || get_hex(j, "miscselectMask", msm, 4) != 0 ||
	    get_hex(j, "attributes", qe->attributes, 16) != 0 ||
	    get_hex(j, "attributesMask", qe->attributes_mask, 16) != 0 ||
	    get_hex(j, "mrsigner", qe->mrsigner, 32) != 0 || get_uint(j, "isvprodid", 65535, &prodid) != 0 ||
	    get_isv_levels(json_object_get(j, "tcbLevels"), 2, c, qe->levels, &qe->nlevels) != 0)
		goto out;
	/* The hex bytes are the report's bytes (little-endian), as Intel's QVL reads them. */
	qe->miscselect = (uint32_t)ms[0] | (uint32_t)ms[1] << 8 | (uint32_t)ms[2] << 16 | (uint32_t)ms[3] << 24;
	qe->miscselect_mask = (uint32_t)msm[0] | (uint32_t)msm[1] << 8 | (uint32_t)msm[2] << 16 |
	    (uint32_t)msm[3] << 24;
	qe->isvprodid = (uint16_t)prodid;
	r = 0;
out:
	json_decref(j);
	return r;
}

/* ---- the envelope ---- */

static int
env_str(const json_t *j, const char *key, const char **ret, size_t *ret_len)
{
	return kw_json_get_str(j, key, ret, ret_len) == 0 && *ret_len > 0 ? 0 : KW_ERR_INVALID_FORMAT;
}

static int
env_crl(const json_t *j, const char *key, X509_CRL **ret)
{
	const char *s;
	size_t len;
	uint8_t *der = NULL;
	const unsigned char *p;
	X509_CRL *crl = NULL;
	int r = KW_ERR_INVALID_FORMAT;

	if (env_str(j, key, &s, &len) != 0 || len % 2 != 0)
		return KW_ERR_INVALID_FORMAT;
	if (len / 2 > TDX_MAX_CRL_DER)
		return KW_ERR_TOO_LARGE;
	if ((der = malloc(len / 2)) == NULL)
		return KW_ERR_NOMEM;
	if (kw_hex_decode(s, der, len / 2) != 0)
		goto out;
	p = der;
	if ((crl = d2i_X509_CRL(NULL, &p, (long)(len / 2))) == NULL || p != der + len / 2)
		goto out;
	*ret = crl;
	crl = NULL;
	r = 0;
out:
	X509_CRL_free(crl);
	free(der);
	ERR_clear_error();
	return r;
}

static int
env_chain(const json_t *j, const char *key, X509 *out[2])
{
	const char *s;
	size_t len;

	if (env_str(j, key, &s, &len) != 0)
		return KW_ERR_INVALID_FORMAT;
	if (len > TDX_MAX_CHAIN_PEM)
		return KW_ERR_TOO_LARGE;
	return tdx_pem_certs((const uint8_t *)s, len, out, 2);
}

static int
env_sig(const json_t *j, const char *key, uint8_t out[static 64])
{
	const char *s;
	size_t len;

	if (env_str(j, key, &s, &len) != 0 || len != 128 || kw_hex_decode(s, out, 64) != 0)
		return KW_ERR_INVALID_FORMAT;
	return 0;
}

int
tdx_collateral_parse(const json_t *j, struct tdx_collateral *c, struct tdx_collateral_raw *raw,
    const char **why)
{
	static const char *const allowed[] = {
		"pck_crl_issuer_chain", "root_ca_crl", "pck_crl", "tcb_info_issuer_chain", "tcb_info",
		"tcb_info_signature", "qe_identity_issuer_chain", "qe_identity", "qe_identity_signature",
		"pck_certificate_chain", NULL,
	};
	struct tdx_collateral_raw rw;
	int r = KW_ERR_INVALID_FORMAT;

	memset(&rw, 0, sizeof(rw));
	if (!json_is_object(j))
		FAIL(KW_ERR_INVALID_FORMAT, "collateral is not a JSON object");
	if (kw_json_check_keys(j, allowed) != 0)
		FAIL(KW_ERR_INVALID_FORMAT, "collateral has an unknown member");
	if ((r = env_crl(j, "root_ca_crl", &c->root_crl)) != 0)
		FAIL(r, "collateral root_ca_crl is not a hex DER CRL");
	if ((r = env_crl(j, "pck_crl", &c->pck_crl)) != 0)
		FAIL(r, "collateral pck_crl is not a hex DER CRL");
	if ((r = env_chain(j, "tcb_info_issuer_chain", rw.chain[0])) != 0)
		FAIL(r, "collateral tcb_info_issuer_chain is not two PEM certificates");
	if ((r = env_chain(j, "qe_identity_issuer_chain", rw.chain[1])) != 0)
		FAIL(r, "collateral qe_identity_issuer_chain is not two PEM certificates");
	if ((r = env_chain(j, "pck_crl_issuer_chain", rw.chain[2])) != 0)
		FAIL(r, "collateral pck_crl_issuer_chain is not two PEM certificates");
	if ((r = env_sig(j, "tcb_info_signature", rw.tcb_sig)) != 0)
		FAIL(r, "collateral tcb_info_signature is not 64 hex bytes");
	if ((r = env_sig(j, "qe_identity_signature", rw.qe_sig)) != 0)
		FAIL(r, "collateral qe_identity_signature is not 64 hex bytes");
	if ((r = env_str(j, "tcb_info", &rw.tcb_text, &rw.tcb_len)) != 0)
		FAIL(r, "collateral tcb_info missing");
	if ((r = env_str(j, "qe_identity", &rw.qe_text, &rw.qe_len)) != 0)
		FAIL(r, "collateral qe_identity missing");
	if (json_object_get(j, "pck_certificate_chain") != NULL &&
	    !json_is_string(json_object_get(j, "pck_certificate_chain")))
		FAIL(KW_ERR_INVALID_FORMAT, "collateral pck_certificate_chain is not a string");
	if ((r = tdx_tcb_info_parse(rw.tcb_text, rw.tcb_len, c, why)) != 0 ||
	    (r = tdx_qe_identity_parse(rw.qe_text, rw.qe_len, c, why)) != 0)
		goto out;
	if (tdx_asn1_time(X509_CRL_get0_lastUpdate(c->pck_crl), &c->pck_crl_this) != 0 ||
	    tdx_asn1_time(X509_CRL_get0_nextUpdate(c->pck_crl), &c->pck_crl_next) != 0)
		FAIL(KW_ERR_INVALID_FORMAT, "PCK CRL has no thisUpdate/nextUpdate");
	if (tdx_asn1_time(X509_CRL_get0_lastUpdate(c->root_crl), &c->root_crl_this) != 0 ||
	    tdx_asn1_time(X509_CRL_get0_nextUpdate(c->root_crl), &c->root_crl_next) != 0)
		FAIL(KW_ERR_INVALID_FORMAT, "Root CA CRL has no thisUpdate/nextUpdate");
	*raw = rw;
	memset(&rw, 0, sizeof(rw));   /* transferred */
	r = 0;
out:
	tdx_collateral_raw_clear(&rw);
	return r;
}

/* ---- verification ---- */

static int
crl_verify(X509_CRL *crl, const X509 *issuer)
{
	EVP_PKEY *k = X509_get0_pubkey(issuer);
	int ok = k != NULL && X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) == 0 &&
	    X509_CRL_verify(crl, k) == 1;

	ERR_clear_error();
	return ok ? 0 : KW_ERR_SIG_INVALID;
}

static int
crl_revokes(X509_CRL *crl, const X509 *x)
{
	X509_REVOKED *rev = NULL;

	/* X509_CRL_get0_by_serial sorts the list under the CRL's own lock on first use. */
	return X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(x)) == 1;
}

int
tdx_collateral_new(const struct tdx_trust *t, const json_t *collateral, struct tdx_collateral **ret,
    const char **reterr_reason)
{
	struct tdx_collateral *c = NULL;
	struct tdx_collateral_raw raw;
	struct tdx_chain ch[3];
	const char *whyv = "invalid arguments", **why = &whyv;
	int r = KW_ERR_INVALID_ARG;

	memset(&raw, 0, sizeof(raw));
	memset(ch, 0, sizeof(ch));
	if (t == NULL || collateral == NULL || ret == NULL)
		goto out;
	if ((c = tdx_collateral_alloc()) == NULL)
		FAIL(KW_ERR_NOMEM, "out of memory");
	if ((r = tdx_collateral_parse(collateral, c, &raw, why)) != 0)
		goto out;

	/* Chains: TCB Info signer, QE identity signer, PCK CRL issuer; one root for all. */
	if ((r = tdx_chain_verify(t, TDX_CHAIN_TCB_SIGNING, raw.chain[0], 2, &ch[0], why)) != 0 ||
	    (r = tdx_chain_verify(t, TDX_CHAIN_TCB_SIGNING, raw.chain[1], 2, &ch[1], why)) != 0)
		goto out;
	c->checks |= TDX_CHECK_TCB_SIGNING_CHAIN;
	if ((r = tdx_chain_verify(t, TDX_CHAIN_PCK_CRL, raw.chain[2], 2, &ch[2], why)) != 0)
		goto out;
	if (memcmp(ch[0].root_sha256, ch[1].root_sha256, 32) != 0 ||
	    memcmp(ch[0].root_sha256, ch[2].root_sha256, 32) != 0)
		FAIL(KW_ERR_MISMATCH, "collateral chains end at different roots");
	memcpy(c->root_sha256, ch[0].root_sha256, 32);
	c->is_test = ch[0].is_test;
	c->certs_not_before = INT64_MIN;
	c->certs_not_after = INT64_MAX;
	for (size_t i = 0; i < 3; i++) {
		if (ch[i].not_before > c->certs_not_before)
			c->certs_not_before = ch[i].not_before;
		if (ch[i].not_after < c->certs_not_after)
			c->certs_not_after = ch[i].not_after;
	}

	/* Signatures over the exact signed bytes. */
	if (tdx_ecdsa_verify(X509_get0_pubkey(ch[0].cert[0]), raw.tcb_sig, (const uint8_t *)raw.tcb_text,
	    raw.tcb_len) != 0)
		FAIL(KW_ERR_SIG_INVALID, "TCB Info signature invalid");
	c->checks |= TDX_CHECK_TCB_INFO_SIG;
	if (tdx_ecdsa_verify(X509_get0_pubkey(ch[1].cert[0]), raw.qe_sig, (const uint8_t *)raw.qe_text,
	    raw.qe_len) != 0)
		FAIL(KW_ERR_SIG_INVALID, "QE identity signature invalid");
	c->checks |= TDX_CHECK_QE_IDENTITY_SIG;
	if (crl_verify(c->root_crl, ch[0].cert[1]) != 0)
		FAIL(KW_ERR_SIG_INVALID, "Root CA CRL signature invalid");
	c->checks |= TDX_CHECK_ROOT_CRL_SIG;
	if (crl_verify(c->pck_crl, ch[2].cert[0]) != 0)
		FAIL(KW_ERR_SIG_INVALID, "PCK CRL signature invalid");
	c->checks |= TDX_CHECK_PCK_CRL_SIG;

	/* The signing certificates themselves must not be revoked by the root. */
	if (crl_revokes(c->root_crl, ch[0].cert[0]) || crl_revokes(c->root_crl, ch[1].cert[0]))
		FAIL(KW_ERR_CERT_INVALID, "TCB signing certificate revoked");
	if (crl_revokes(c->root_crl, ch[2].cert[0]))
		FAIL(KW_ERR_CERT_INVALID, "PCK CRL issuer revoked");
	(void)crl_revokes(c->pck_crl, ch[2].cert[0]);   /* sort its list now, before sharing */

	if (tdx_name_sha256(X509_get_subject_name(ch[2].cert[0]), c->pck_crl_issuer_name_sha256) != 0 ||
	    tdx_spki_sha256(ch[2].cert[0], c->pck_crl_issuer_spki_sha256) != 0)
		FAIL(KW_ERR_NOMEM, "out of memory");
	*ret = c;
	c = NULL;
	r = 0;
out:
	for (size_t i = 0; i < 3; i++)
		tdx_chain_clear(&ch[i]);
	tdx_collateral_raw_clear(&raw);
	tdx_collateral_free(c);
	ERR_clear_error();
	if (r != 0 && reterr_reason != NULL)
		*reterr_reason = *why;
	return r;
}
