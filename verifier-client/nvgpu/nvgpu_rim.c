/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NVIDIA RIM (signed SWID tag) verification and measurement extraction with
 * libxml2 and xmlsec1-openssl; contract in nvgpu_rim.h, rationale in
 * docs/verifier-nvgpu.md "RIM import".
 *
 * Order: size and byte checks (no NUL, no DOCTYPE) before libxml2 sees the
 * input; parse with the network off, entities not substituted, an entity
 * loader that loads nothing; refuse any DTD; check the signature's shape
 * (one Signature under the root, one Reference URI="", no Object or
 * Manifest); verify with a keys manager that holds only the root as a
 * trusted certificate, key data from X509Data only, the allowed algorithms
 * only, xmlsec's I/O callbacks removed; then extract from the same tree.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <xmlsec/xmlsec.h>
#include <xmlsec/errors.h>
#include <xmlsec/io.h>
#include <xmlsec/keysmngr.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmltree.h>
#include <xmlsec/openssl/app.h>
#include <xmlsec/openssl/crypto.h>
#include <xmlsec/openssl/x509.h>

#include <openssl/x509.h>

#include "nvgpu_rim.h"

#define SWID_NS "http://standards.iso.org/iso/19770/-2/2015/schema.xsd"
#define DSIG_NS "http://www.w3.org/2000/09/xmldsig#"
#define SHA384_NS "http://www.w3.org/2001/04/xmlenc#sha384"
#define RIM_MAX_TEXT 128    /* tagId, product, version, names */

/* ---- process-wide setup ---- */

/* What xmlsec reported during one verification (single-threaded by contract). */
static struct {
	bool cert_expired, cert_not_yet, cert_failed, key_not_found;
} rim_seen;

static void
rim_xmlsec_err(const char *file, int line, const char *func, const char *obj, const char *subj,
    int reason, const char *msg)
{
	(void)file; (void)line; (void)func; (void)obj; (void)subj; (void)msg;
	switch (reason) {
	case XMLSEC_ERRORS_R_CERT_HAS_EXPIRED: rim_seen.cert_expired = true; break;
	case XMLSEC_ERRORS_R_CERT_NOT_YET_VALID: rim_seen.cert_not_yet = true; break;
	case XMLSEC_ERRORS_R_CERT_VERIFY_FAILED:
	case XMLSEC_ERRORS_R_CERT_ISSUER_FAILED:
	case XMLSEC_ERRORS_R_CERT_NOT_FOUND:
	case XMLSEC_ERRORS_R_CERT_REVOKED: rim_seen.cert_failed = true; break;
	case XMLSEC_ERRORS_R_KEY_NOT_FOUND: rim_seen.key_not_found = true; break;
	default: break;
	}
}

static void
rim_xml_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx; (void)msg;
}

static void
rim_xml_quiet_structured(void *ctx, xmlErrorPtr e)
{
	(void)ctx; (void)e;
}

/* No external entity, DTD or schema is ever loaded, from anywhere. */
static xmlParserInputPtr
rim_no_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	(void)url; (void)id; (void)ctxt;
	return NULL;
}

static int rim_ready;   /* 1 after a successful setup, -1 after a failed one */

static int
rim_setup(void)
{
	if (rim_ready != 0)
		return rim_ready == 1 ? 0 : KW_ERR_CRYPTO;
	rim_ready = -1;
	xmlInitParser();
	xmlSetExternalEntityLoader(rim_no_loader);
	xmlSetGenericErrorFunc(NULL, rim_xml_quiet);
	xmlSetStructuredErrorFunc(NULL, rim_xml_quiet_structured);
	if (xmlSecInit() < 0 || xmlSecCheckVersion() != 1)
		return KW_ERR_CRYPTO;
	/* Drop xmlsec's file/HTTP/FTP callbacks: a Reference can open nothing. */
	xmlSecIOCleanupCallbacks();
	if (xmlSecOpenSSLAppInit(NULL) < 0 || xmlSecOpenSSLInit() < 0)
		return KW_ERR_CRYPTO;
	rim_ready = 1;
	return 0;
}

/* ---- small tree helpers ---- */

static bool
is_elem(const xmlNode *n, const char *ns, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, name) == 0;
}

/* The only element child of n named ns:name, or NULL when none or several (*dup set). */
static xmlNode *
only_child(const xmlNode *n, const char *ns, const char *name, bool *dup)
{
	xmlNode *found = NULL;

	*dup = false;
	for (xmlNode *c = n->children; c != NULL; c = c->next) {
		if (!is_elem(c, ns, name))
			continue;
		if (found != NULL)
			*dup = true;
		found = c;
	}
	return *dup ? NULL : found;
}

/* Elements named ns:name anywhere under n (n included), capped at max + 1. */
static size_t
count_desc(const xmlNode *n, const char *ns, const char *name, size_t max)
{
	size_t k = is_elem(n, ns, name) ? 1 : 0;

	for (const xmlNode *c = n->children; c != NULL && k <= max; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			k += count_desc(c, ns, name, max);
	return k;
}

/* Printable ASCII, 1..RIM_MAX_TEXT. */
static bool
text_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > RIM_MAX_TEXT)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/* Attribute value (malloc'd by libxml2, xmlFree), no namespace or ns. */
static char *
attr(const xmlNode *n, const char *name, const char *ns)
{
	return (char *)(ns == NULL ? xmlGetNoNsProp(n, (const xmlChar *)name) :
	    xmlGetNsProp(n, (const xmlChar *)name, (const xmlChar *)ns));
}

/* Decimal 0..max, digits only, no leading zeros except "0". */
static int
parse_uint(const char *s, long max, long *ret)
{
	long v = 0;
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > 6 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return -1;
	*ret = v;
	return 0;
}

/* Hex digits of exactly 2 * size characters, returned in lower case (new string). */
static json_t *
hex_value(const char *s, long size)
{
	char buf[2 * NVGPU_RIM_MAX_VALUE + 1];
	size_t n = s != NULL ? strlen(s) : 0;

	if (n != (size_t)(2 * size))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return NULL;
		buf[i] = c;
	}
	buf[n] = '\0';
	return json_string(buf);
}

/* ---- the signature's shape ---- */

/*
 * Exactly one ds:Signature in the document, a child of the root; its
 * SignedInfo holds exactly one Reference with URI="" and the Signature no
 * Object (so no Manifest). Returns the Signature or NULL (*why set).
 */
static xmlNode *
signature_shape(xmlNode *root, const char **why)
{
	xmlNode *sig = NULL, *si, *ref;
	bool dup;
	char *uri;

	if (count_desc(root, DSIG_NS, "Signature", 1) != 1) {
		*why = "the RIM must hold exactly one ds:Signature";
		return NULL;
	}
	if ((sig = only_child(root, DSIG_NS, "Signature", &dup)) == NULL) {
		*why = "the ds:Signature must be a child of the root element";
		return NULL;
	}
	if (count_desc(sig, DSIG_NS, "Object", 0) != 0 || count_desc(sig, DSIG_NS, "Manifest", 0) != 0 ||
	    count_desc(sig, DSIG_NS, "RetrievalMethod", 0) != 0) {
		*why = "the ds:Signature must not carry Object, Manifest or RetrievalMethod";
		return NULL;
	}
	if ((si = only_child(sig, DSIG_NS, "SignedInfo", &dup)) == NULL ||
	    count_desc(si, DSIG_NS, "Reference", 1) != 1 ||
	    (ref = only_child(si, DSIG_NS, "Reference", &dup)) == NULL) {
		*why = "the signature must have exactly one Reference";
		return NULL;
	}
	uri = attr(ref, "URI", NULL);
	if (uri == NULL || uri[0] != '\0') {
		xmlFree(uri);
		*why = "the signature's Reference must be URI=\"\" (the whole document)";
		return NULL;
	}
	xmlFree(uri);
	return sig;
}

/* ---- verification ---- */

static int
dsig_restrict(xmlSecDSigCtxPtr d, int64_t at)
{
	d->enabledReferenceUris = xmlSecTransformUriTypeEmpty;
	if (xmlSecDSigCtxEnableReferenceTransform(d, xmlSecTransformEnvelopedId) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(d, xmlSecTransformInclC14N11Id) < 0 ||
	    xmlSecDSigCtxEnableReferenceTransform(d, xmlSecOpenSSLTransformSha384Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(d, xmlSecTransformInclC14N11Id) < 0 ||
	    xmlSecDSigCtxEnableSignatureTransform(d, xmlSecOpenSSLTransformEcdsaSha384Id) < 0)
		return KW_ERR_CRYPTO;
	/* KeyInfo: X509Data only (no KeyValue, KeyName, RetrievalMethod, EncryptedKey). */
	if (xmlSecPtrListAdd(&d->keyInfoReadCtx.enabledKeyData,
	    (xmlSecPtr)(uintptr_t)xmlSecOpenSSLKeyDataX509Id) < 0)
		return KW_ERR_CRYPTO;
	d->keyInfoReadCtx.flags |= XMLSEC_KEYINFO_FLAGS_STOP_ON_UNKNOWN_CHILD |
	    XMLSEC_KEYINFO_FLAGS_X509DATA_STOP_ON_UNKNOWN_CHILD |
	    XMLSEC_KEYINFO_FLAGS_X509DATA_STOP_ON_INVALID_CERT;
	d->keyInfoReadCtx.flags &= ~(unsigned int)XMLSEC_KEYINFO_FLAGS_X509DATA_DONT_VERIFY_CERTS;
	d->keyInfoReadCtx.maxRetrievalMethodLevel = 0;
	d->keyInfoReadCtx.maxEncryptedKeyLevel = 0;
	d->keyInfoReadCtx.certsVerificationTime = (time_t)(at > 0 ? at : 1);
	d->keyInfoReadCtx.certsVerificationDepth = 8;
	return 0;
}

/* The signing certificate's subject, one line (new string), or NULL. */
static json_t *
signer_of(xmlSecDSigCtxPtr d)
{
	xmlSecKeyDataPtr x = d->signKey != NULL ?
	    xmlSecKeyGetData(d->signKey, xmlSecOpenSSLKeyDataX509Id) : NULL;
	X509 *leaf = x != NULL ? xmlSecOpenSSLKeyDataX509GetKeyCert(x) : NULL;
	char buf[256];

	if (leaf == NULL ||
	    X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, buf,
	    (int)sizeof(buf)) <= 0 || !text_ok(buf))
		return json_string("-");
	return json_string(buf);
}

static int
dsig_verify(xmlNode *sig, const uint8_t *root_pem, size_t root_len, int64_t at, json_t **ret_signer,
    const char **why)
{
	xmlSecKeysMngrPtr m = NULL;
	xmlSecDSigCtxPtr d = NULL;
	int r = KW_ERR_CRYPTO;

	if ((m = xmlSecKeysMngrCreate()) == NULL || xmlSecOpenSSLAppDefaultKeysMngrInit(m) < 0) {
		*why = "cannot set up the XML signature key manager";
		goto out;
	}
	if (root_len == 0 || root_len > NVGPU_RIM_MAX_ROOT ||
	    xmlSecOpenSSLAppKeysMngrCertLoadMemory(m, root_pem, (xmlSecSize)root_len,
	    xmlSecKeyDataFormatPem, xmlSecKeyDataTypeTrusted) < 0) {
		*why = "the RIM root is not a PEM certificate";
		r = KW_ERR_CONFIG;
		goto out;
	}
	if ((d = xmlSecDSigCtxCreate(m)) == NULL || dsig_restrict(d, at) != 0) {
		*why = "cannot set up the XML signature context";
		goto out;
	}
	memset(&rim_seen, 0, sizeof(rim_seen));
	/* Set here: the crypto initialisation installs its own callback. */
	xmlSecErrorsSetCallback(rim_xmlsec_err);
	if (xmlSecDSigCtxVerify(d, sig) < 0) {
		if (rim_seen.cert_expired || rim_seen.cert_not_yet) {
			*why = "a certificate of the RIM's chain is not valid at the verification time";
			r = KW_ERR_CERT_EXPIRED;
		} else if (rim_seen.cert_failed || rim_seen.key_not_found) {
			*why = "the RIM's signing certificate does not chain to the RIM root";
			r = KW_ERR_CERT_INVALID;
		} else {
			*why = "the XML signature uses an unsupported layout or algorithm";
			r = KW_ERR_UNSUPPORTED;
		}
		goto out;
	}
	if (d->status != xmlSecDSigStatusSucceeded) {
		xmlSecDSigReferenceCtxPtr ref = xmlSecPtrListGetSize(&d->signedInfoReferences) == 1 ?
		    xmlSecPtrListGetItem(&d->signedInfoReferences, 0) : NULL;

		if (ref != NULL && ref->status != xmlSecDSigStatusSucceeded)
			*why = "the signed content was changed (the reference digest does not match)";
		else
			*why = "the signature value does not verify";
		r = KW_ERR_SIG_INVALID;
		goto out;
	}
	if (xmlSecPtrListGetSize(&d->signedInfoReferences) != 1) {
		*why = "the signature must have exactly one Reference";
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	if ((*ret_signer = signer_of(d)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	if (d != NULL)
		xmlSecDSigCtxDestroy(d);
	if (m != NULL)
		xmlSecKeysMngrDestroy(m);
	return r;
}

/* ---- extraction ---- */

/* One Payload/Resource element into *ret. */
static int
resource(const xmlNode *res, json_t **ret, long *ret_index, const char **why)
{
	char *type = attr(res, "type", NULL), *index = attr(res, "index", NULL);
	char *active = attr(res, "active", NULL), *alts = attr(res, "alternatives", NULL);
	char *size = attr(res, "size", NULL), *name = attr(res, "name", NULL);
	json_t *o = NULL, *vals = NULL;
	long ix, na, sz;
	int r = KW_ERR_INVALID_FORMAT;

	if (type == NULL || strcmp(type, "Measurement") != 0) {
		*why = "a Payload Resource is not of type Measurement";
		goto out;
	}
	if (parse_uint(index, NVGPU_RIM_MAX_INDEX, &ix) != 0 ||
	    parse_uint(alts, NVGPU_RIM_MAX_ALTERNATIVES, &na) != 0 || na < 1 ||
	    parse_uint(size, NVGPU_RIM_MAX_VALUE, &sz) != 0 || sz < 1) {
		*why = "a measurement's index, alternatives or size is missing or out of range";
		goto out;
	}
	if (active == NULL || (strcmp(active, "True") != 0 && strcmp(active, "False") != 0)) {
		*why = "a measurement's active attribute is not True or False";
		goto out;
	}
	if (name != NULL && !text_ok(name)) {
		*why = "a measurement's name is not printable ASCII of 1..128 characters";
		goto out;
	}
	if ((vals = json_array()) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	for (long k = 0; k <= NVGPU_RIM_MAX_ALTERNATIVES; k++) {
		char an[16];
		char *h;
		json_t *v;

		snprintf(an, sizeof(an), "Hash%ld", k);
		h = attr(res, an, SHA384_NS);
		if (k >= na) {
			xmlFree(h);
			if (h != NULL) {
				*why = "a measurement has more Hash values than alternatives";
				goto out;
			}
			continue;
		}
		v = hex_value(h, sz);
		xmlFree(h);
		if (v == NULL || json_array_append_new(vals, v) != 0) {
			*why = "a measurement's Hash value is missing or not size bytes of hex";
			goto out;
		}
	}
	o = json_pack("{s:I,s:s,s:b,s:I,s:O}", "index", (json_int_t)ix, "name",
	    name != NULL ? name : "", "active", strcmp(active, "True") == 0, "size", (json_int_t)sz,
	    "values", vals);
	if (o == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	*ret = o;
	*ret_index = ix;
	r = 0;
out:
	json_decref(vals);
	xmlFree(type); xmlFree(index); xmlFree(active); xmlFree(alts); xmlFree(size); xmlFree(name);
	return r;
}

static int
extract(const xmlNode *root, json_t *out, const char **why)
{
	xmlNode *meta, *payload;
	char *tag = attr(root, "tagId", NULL), *ver = NULL, *prod = NULL;
	json_t *ms = NULL;
	bool dup, seen[NVGPU_RIM_MAX_INDEX + 1];
	size_t n = 0;
	int r = KW_ERR_INVALID_FORMAT;

	memset(seen, 0, sizeof(seen));
	if ((meta = only_child(root, SWID_NS, "Meta", &dup)) == NULL ||
	    (payload = only_child(root, SWID_NS, "Payload", &dup)) == NULL) {
		*why = "the RIM must have exactly one Meta and one Payload";
		goto out;
	}
	ver = attr(meta, "colloquialVersion", NULL);
	prod = attr(meta, "product", NULL);
	if (!text_ok(tag) || !text_ok(ver) || !text_ok(prod)) {
		*why = "the RIM's tagId, colloquialVersion or product is missing or not printable";
		goto out;
	}
	if ((ms = json_array()) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	for (xmlNode *c = payload->children; c != NULL; c = c->next) {
		json_t *m = NULL;
		long ix;

		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (!is_elem(c, SWID_NS, "Resource")) {
			*why = "the Payload holds an element other than Resource";
			goto out;
		}
		if (++n > NVGPU_RIM_MAX_RESOURCES) {
			*why = "the Payload holds too many measurements";
			r = KW_ERR_TOO_LARGE;
			goto out;
		}
		if ((r = resource(c, &m, &ix, why)) != 0)
			goto out;
		if (seen[ix]) {
			json_decref(m);
			*why = "a measurement index appears twice";
			r = KW_ERR_INVALID_FORMAT;
			goto out;
		}
		seen[ix] = true;
		if (json_array_append_new(ms, m) != 0) {
			r = KW_ERR_NOMEM;
			goto out;
		}
	}
	if (n == 0) {
		*why = "the Payload holds no measurement";
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	if (json_object_set_new(out, "tag_id", json_string(tag)) != 0 ||
	    json_object_set_new(out, "product", json_string(prod)) != 0 ||
	    json_object_set_new(out, "version", json_string(ver)) != 0 ||
	    json_object_set(out, "measurements", ms) != 0) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	json_decref(ms);
	xmlFree(tag); xmlFree(ver); xmlFree(prod);
	return r;
}

/* ---- entry points ---- */

/* Bytes libxml2 never sees: NUL (UTF-16 and friends) and any DOCTYPE. */
static int
bytes_ok(const uint8_t *xml, size_t len, const char **why)
{
	static const char dt[] = "<!DOCTYPE";

	if (memchr(xml, 0, len) != NULL) {
		*why = "the RIM is not UTF-8 text (NUL byte)";
		return KW_ERR_INVALID_FORMAT;
	}
	for (size_t i = 0; i + sizeof(dt) - 1 <= len; i++)
		if (xml[i] == '<' && memcmp(xml + i, dt, sizeof(dt) - 1) == 0) {
			*why = "the RIM carries a DOCTYPE (no DTD is accepted)";
			return KW_ERR_INVALID_FORMAT;
		}
	return 0;
}

int
nvgpu_rim_verify(const uint8_t *xml, size_t xml_len, const uint8_t *root_pem, size_t root_len,
    int64_t at, json_t **ret, const char **reterr_why)
{
	const char *why = "internal error";
	xmlDocPtr doc = NULL;
	xmlNode *root, *sig;
	json_t *out = NULL, *signer = NULL;
	int r;

	if (xml == NULL || root_pem == NULL || ret == NULL) {
		r = KW_ERR_INVALID_ARG;
		goto out;
	}
	if (xml_len == 0 || xml_len > NVGPU_RIM_MAX_XML) {
		why = "the RIM is empty or larger than 512 KiB";
		r = KW_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = bytes_ok(xml, xml_len, &why)) != 0)
		goto out;
	if ((r = rim_setup()) != 0) {
		why = "cannot initialise xmlsec";
		goto out;
	}
	/* No NOENT (entities stay references), no DTDLOAD/DTDATTR, no network, UTF-8 forced. */
	doc = xmlReadMemory((const char *)xml, (int)xml_len, "rim.xml", "UTF-8",
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	r = KW_ERR_INVALID_FORMAT;
	if (doc == NULL) {
		why = "the RIM is not well-formed XML";
		goto out;
	}
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		why = "the RIM carries a DTD (none is accepted)";
		goto out;
	}
	if ((root = xmlDocGetRootElement(doc)) == NULL || !is_elem(root, SWID_NS, "SoftwareIdentity")) {
		why = "the root element is not a SWID SoftwareIdentity";
		goto out;
	}
	if ((sig = signature_shape(root, &why)) == NULL) {
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	if ((r = dsig_verify(sig, root_pem, root_len, at, &signer, &why)) != 0)
		goto out;
	if ((out = json_object()) == NULL || json_object_set_new(out, "signer", signer) != 0) {
		signer = NULL;
		r = KW_ERR_NOMEM;
		goto out;
	}
	signer = NULL;   /* owned by out */
	if ((r = extract(root, out, &why)) != 0)
		goto out;
	*ret = out;
	out = NULL;   /* transferred */
	r = 0;
out:
	json_decref(signer);
	json_decref(out);
	if (doc != NULL)
		xmlFreeDoc(doc);
	if (r != 0 && reterr_why != NULL)
		*reterr_why = why;
	return r;
}

static bool
all_zero(const char *hex)
{
	for (; *hex != '\0'; hex++)
		if (*hex != '0')
			return false;
	return true;
}

int
nvgpu_rim_refval(const json_t *rim, json_t **ret)
{
	const char *prod = json_string_value(json_object_get(rim, "product"));
	const char *ver = json_string_value(json_object_get(rim, "version"));
	const json_t *m, *v;
	json_t *doc = NULL, *gm = json_array();
	size_t i, j;
	int r = KW_ERR_NOMEM;

	if (gm == NULL)
		goto out;
	if (prod == NULL || ver == NULL) {
		r = KW_ERR_INVALID_ARG;
		goto out;
	}
	json_array_foreach(json_object_get(rim, "measurements"), i, m) {
		json_int_t ix = json_integer_value(json_object_get(m, "index"));
		const char *name = json_string_value(json_object_get(m, "name"));

		if (!json_is_true(json_object_get(m, "active")))
			continue;
		if (json_integer_value(json_object_get(m, "size")) != 48) {
			r = KW_ERR_UNSUPPORTED;
			goto out;
		}
		json_array_foreach(json_object_get(m, "values"), j, v) {
			char label[2 * RIM_MAX_TEXT + 8];
			bool dup = false;
			const json_t *e;
			size_t k;

			/* Two equal alternatives register once (the set refuses duplicates). */
			json_array_foreach(gm, k, e)
				if (json_integer_value(json_object_get(e, "index")) == ix + 1 &&
				    json_equal(json_object_get(e, "value"), v))
					dup = true;
			if (dup)
				continue;
			snprintf(label, sizeof(label), "%s (%s %s)%s",
			    name != NULL && name[0] != '\0' ? name : "measurement", prod, ver,
			    all_zero(json_string_value(v)) ? " not measured" : "");
			label[128] = '\0';   /* an entry name is at most 128 characters */
			if (json_array_append_new(gm, json_pack("{s:I,s:O,s:s}", "index", ix + 1,
			    "value", v, "name", label)) != 0)
				goto out;
		}
	}
	if ((doc = json_pack("{s:[],s:O}", "measurements", "gpu_measurements", gm)) == NULL)
		goto out;
	*ret = doc;
	r = 0;
out:
	json_decref(gm);
	return r;
}
