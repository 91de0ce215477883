/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rim_gen_corpus DIR: writes DIR/nvgpu_rim/ for fuzz_nvgpu_rim. Each file is
 * a root certificate PEM followed by a RIM-shaped SWID document, signed with
 * xmlsec1 by a leaf that root issued (fresh P-384 keys; "NOT NVIDIA"; no
 * vector bytes): a good RIM, RIMs whose signed content is malformed for the
 * extraction (duplicate index, short value, too many hashes, other resource
 * type), and unsigned shapes (no signature, DOCTYPE, two references).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/templates.h>
#include <xmlsec/openssl/app.h>
#include <xmlsec/openssl/crypto.h>

#define SWID "http://standards.iso.org/iso/19770/-2/2015/schema.xsd"
#define H384 "http://www.w3.org/2001/04/xmlenc#sha384"
#define V48 "4e4f54204e56494449412052494d20736565642076616c75652041000000000000000000000000000000000000000000"
#define V48B "4e4f54204e56494449412052494d20736565642076616c75652042000000000000000000000000000000000000000000"

static const char *dir;

static X509 *
mk_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey, int ca)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : n);
	ASN1_TIME_set_string(X509_getm_notBefore(x), "20200101000000Z");
	ASN1_TIME_set_string(X509_getm_notAfter(x), "20400101000000Z");
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	X509_sign(x, ikey != NULL ? ikey : key, EVP_sha384());
	X509_NAME_free(n);
	return x;
}

static char *
pem_of(X509 *x, EVP_PKEY *k, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	if (x != NULL)
		PEM_write_bio_X509(b, x);
	else
		PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(b, &p);
	out = malloc((size_t)n + 1);
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	BIO_free(b);
	return out;
}

static void
put(const char *name, const char *root, size_t root_len, const char *xml, size_t xml_len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/nvgpu_rim/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL) {
		perror(path);
		exit(1);
	}
	fwrite(root, 1, root_len, f);
	fwrite(xml, 1, xml_len, f);
	fclose(f);
}

/* The SWID document with resources res (already XML), signed unless sign == 0. */
static void
rim(const char *name, const char *res, int sign, const char *root, size_t rl, const char *kpem,
    size_t kl, const char *lpem, size_t ll)
{
	char text[8192];
	xmlDocPtr doc;
	xmlNodePtr sig, ref, ki;
	xmlSecDSigCtxPtr d;
	xmlChar *out = NULL;
	int n;

	snprintf(text, sizeof(text),
	    "<SoftwareIdentity xmlns=\"" SWID "\" xmlns:ns2=\"" H384 "\" name=\"GH100\" tagId=\"NOT-NVIDIA-seed\" "
	    "version=\"1.0\"><Entity name=\"NOT NVIDIA\" role=\"tagCreator\"/><Meta colloquialVersion=\"96.00.00.00.01\" "
	    "product=\"GH100\"/><Payload>%s</Payload></SoftwareIdentity>", res);
	doc = xmlReadMemory(text, (int)strlen(text), "seed.xml", NULL, 0);
	if (sign) {
		sig = xmlSecTmplSignatureCreateNsPref(doc, xmlSecTransformInclC14N11Id,
		    xmlSecOpenSSLTransformEcdsaSha384Id, NULL, (const xmlChar *)"ds");
		xmlAddChild(xmlDocGetRootElement(doc), sig);
		ref = xmlSecTmplSignatureAddReference(sig, xmlSecOpenSSLTransformSha384Id, NULL,
		    (const xmlChar *)"", NULL);
		xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId);
		xmlSecTmplReferenceAddTransform(ref, xmlSecTransformInclC14N11Id);
		if (sign == 2)   /* a second reference */
			xmlSecTmplSignatureAddReference(sig, xmlSecOpenSSLTransformSha384Id, NULL,
			    (const xmlChar *)"", NULL);
		ki = xmlSecTmplSignatureEnsureKeyInfo(sig, NULL);
		xmlSecTmplKeyInfoAddX509Data(ki);
		d = xmlSecDSigCtxCreate(NULL);
		d->signKey = xmlSecOpenSSLAppKeyLoadMemory((const xmlSecByte *)kpem, (xmlSecSize)kl,
		    xmlSecKeyDataFormatPem, NULL, NULL, NULL);
		xmlSecOpenSSLAppKeyCertLoadMemory(d->signKey, (const xmlSecByte *)lpem, (xmlSecSize)ll,
		    xmlSecKeyDataFormatPem);
		xmlSecOpenSSLAppKeyCertLoadMemory(d->signKey, (const xmlSecByte *)root, (xmlSecSize)rl,
		    xmlSecKeyDataFormatPem);
		if (sign != 2 && xmlSecDSigCtxSign(d, sig) < 0) {
			fprintf(stderr, "rim_gen_corpus: signing %s failed\n", name);
			exit(1);
		}
		xmlSecDSigCtxDestroy(d);
	}
	xmlDocDumpMemory(doc, &out, &n);
	put(name, root, rl, (const char *)out, (size_t)n);
	xmlFree(out);
	xmlFreeDoc(doc);
}

#define RES(i, alts, hashes, size) \
	"<Resource type=\"Measurement\" index=\"" i "\" active=\"True\" alternatives=\"" alts "\" " \
	hashes " name=\"seed " i "\" size=\"" size "\"/>"

int
main(int argc, char **argv)
{
	char sub[4096], *root, *lpem, *kpem;
	size_t rl, ll, kl;
	EVP_PKEY *rk, *lk;
	X509 *rc, *lc;

	if (argc != 2) {
		fprintf(stderr, "usage: rim_gen_corpus DIR\n");
		return 2;
	}
	dir = argv[1];
	snprintf(sub, sizeof(sub), "%s/nvgpu_rim", dir);
	(void)mkdir(sub, 0755);
	xmlInitParser();
	if (xmlSecInit() < 0 || xmlSecOpenSSLAppInit(NULL) < 0 || xmlSecOpenSSLInit() < 0)
		return 1;
	rk = EVP_EC_gen("P-384");
	lk = EVP_EC_gen("P-384");
	rc = mk_cert(rk, "NOT NVIDIA RIM seed root", NULL, NULL, 1);
	lc = mk_cert(lk, "NOT NVIDIA RIM seed signer", rc, rk, 0);
	root = pem_of(rc, NULL, &rl);
	lpem = pem_of(lc, NULL, &ll);
	kpem = pem_of(NULL, lk, &kl);

	rim("good", RES("0", "1", "ns2:Hash0=\"" V48 "\"", "48")
	    RES("1", "2", "ns2:Hash0=\"" V48 "\" ns2:Hash1=\"" V48B "\"", "48")
	    "<Resource type=\"Measurement\" index=\"2\" active=\"False\" alternatives=\"1\" ns2:Hash0=\""
	    V48 "\" size=\"48\"/>", 1, root, rl, kpem, kl, lpem, ll);
	rim("dup-index", RES("3", "1", "ns2:Hash0=\"" V48 "\"", "48") RES("3", "1", "ns2:Hash0=\"" V48 "\"", "48"),
	    1, root, rl, kpem, kl, lpem, ll);
	rim("short-value", RES("4", "1", "ns2:Hash0=\"abcd\"", "48"), 1, root, rl, kpem, kl, lpem, ll);
	rim("size-2", RES("4", "1", "ns2:Hash0=\"abcd\"", "2"), 1, root, rl, kpem, kl, lpem, ll);
	rim("extra-hash", RES("5", "1", "ns2:Hash0=\"" V48 "\" ns2:Hash1=\"" V48 "\"", "48"), 1, root, rl, kpem,
	    kl, lpem, ll);
	rim("other-type", "<Resource type=\"File\" index=\"1\"/>", 1, root, rl, kpem, kl, lpem, ll);
	rim("index-255", RES("255", "1", "ns2:Hash0=\"" V48 "\"", "48"), 1, root, rl, kpem, kl, lpem, ll);
	rim("unsigned", RES("0", "1", "ns2:Hash0=\"" V48 "\"", "48"), 0, root, rl, kpem, kl, lpem, ll);
	rim("two-references", RES("0", "1", "ns2:Hash0=\"" V48 "\"", "48"), 2, root, rl, kpem, kl, lpem, ll);
	put("doctype", root, rl, "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", 38);
	put("empty", root, rl, "", 0);
	free(root);
	free(lpem);
	free(kpem);
	X509_free(rc);
	X509_free(lc);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(lk);
	return 0;
}
