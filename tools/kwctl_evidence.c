/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwctl evidence verify --tee snp --report FILE [--cert FILE ...] ...
 * kwctl evidence verify --tee tdx --quote FILE --collateral FILE ...
 * kwctl evidence verify --tee tpm-akcert --quote FILE --sig FILE --pcrs FILE --ak-cert FILE
 *                       --ca FILE [--event-log FILE] --nonce HEX
 * Offline: runs the broker's verifiers on files, through the same verifier
 * table (verifier-client/verifier.h) the broker uses, and prints the claims.
 * Exit status: 0 verified, 1 rejected, 2 usage or input-file errors.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kw_err.h"
#include "kw_json.h"
#include "kw_util.h"
#include "kwctl.h"
#include "kw_b64url.h"
#include "tpm_evidence.h"
#include "verifier.h"

#define KWCTL_MAX_FILE (256 * 1024)
#define KWCTL_MAX_CERTS 4

void
kwctl_usage_evidence_verify(FILE *f)
{
	fputs("usage: kwctl evidence verify --tee snp --report FILE [--cert FILE ...]\n"
	    "                             [--chain FILE ...] [--test-root FILE ...]\n"
	    "                             [--at RFC3339-TIME] [--allow-debug]\n"
	    "       kwctl evidence verify --tee tdx --quote FILE --collateral FILE\n"
	    "                             [--test-root FILE ...] [--at RFC3339-TIME] [--allow-debug]\n"
	    "       kwctl evidence verify --tee tpm-akcert --quote FILE --sig FILE --pcrs FILE ...\n"
	    "                             --ak-cert FILE --ca FILE ... [--event-log FILE]\n"
	    "                             --nonce HEX [--at RFC3339-TIME]\n"
	    "\n"
	    "  --tee snp|tdx|tpm-akcert  evidence type: AMD SEV-SNP, Intel TDX, or a TPM 2.0\n"
	    "                     quote whose attestation key has a certificate from a CA\n"
	    "  --report FILE      (snp) the 1184-byte SNP ATTESTATION_REPORT (binary)\n"
	    "  --cert FILE        PEM (one or more certificates) or DER; the first certificate\n"
	    "                     overall is the VCEK/VLEK, further ones (ASK/ASVK, ARK) are\n"
	    "                     passed as chain candidates; up to 4 in total\n"
	    "  --chain FILE       AMD KDS cert_chain bundle (ASK or ASVK, then ARK); its ARK\n"
	    "                     must be pinned (compiled in) or named with --test-root\n"
	    "  --quote FILE       (tdx) the DCAP quote, v4 or v5 (binary; zero padding allowed)\n"
	    "  --collateral FILE  (tdx) Intel collateral for the quote's FMSPC, a dcap-qvl\n"
	    "                     QuoteCollateralV3 JSON object; its time window must hold --at\n"
	    "  --quote FILE       (tpm-akcert) the TPMS_ATTEST of the quote (binary)\n"
	    "  --sig FILE         (tpm-akcert) its TPMT_SIGNATURE (binary)\n"
	    "  --pcrs FILE        (tpm-akcert) PCR values, lines '<index> <hex>' of one bank (the\n"
	    "                     bank follows from the digest length: sha1, sha256, sha384);\n"
	    "                     once per bank\n"
	    "  --ak-cert FILE     (tpm-akcert) the AK certificate (DER)\n"
	    "  --ca FILE          (tpm-akcert) an AK CA: PEM (one or more) or DER; every listed\n"
	    "                     certificate is a trust anchor; repeatable\n"
	    "  --event-log FILE   (tpm-akcert) the TCG crypto-agile event log (binary)\n"
	    "  --nonce HEX        (tpm-akcert) the quote's expected extraData (may be empty: '')\n"
	    "  --test-root FILE   trust this self-signed emulation root (testing only): an\n"
	    "                     ARK for snp, a \"NOT INTEL\" root for tdx\n"
	    "  --at TIME          verification time, RFC 3339 (default: now)\n"
	    "  --allow-debug      accept debug guests and debug TDs (claims still show \"debug\": true)\n"
	    "\n"
	    "       kwctl evidence verify --tee az-snp-vtpm|az-tdx-vtpm --evidence FILE --nonce HEX\n"
	    "                             [--collateral FILE] [--chain FILE] [--test-root FILE ...]\n"
	    "                             [--at RFC3339-TIME] [--allow-debug]\n"
	    "  --evidence FILE    (az-*) recorded Azure vTPM evidence JSON (docs/verifier-tpm.md)\n"
	    "  --nonce HEX        (az-*) the TPM quote's expected extraData, 1..64 bytes\n"
	    "\n"
	    "       kwctl evidence verify --tee cca (--token FILE | --evidence FILE)\n"
	    "                             (--cpak FILE | --test-cpak FILE)... [--nonce HEX] [--allow-debug]\n"
	    "  --token FILE       (cca) the CCA attestation token (CBOR tag 399, binary)\n"
	    "  --evidence FILE    (cca) tee-evidence JSON {\"token\": base64url}\n"
	    "  --cpak FILE        (cca) a CPAK (P-384 public JWK) to trust; repeatable\n"
	    "  --test-cpak FILE   (cca) the same for a test CPAK (claims say \"root\": \"test\")\n"
	    "  --nonce HEX        (cca) the expected realm challenge, 64 bytes\n"
	    "\n"
	    "Prints one JSON document {\"verdict\", \"reason\", \"claims\"} on stdout.\n"
	    "Exit status: 0 verified, 1 rejected, 2 usage or unreadable input.\n", f);
}

const char *
kwctl_tee_arg(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return NULL;
		if (strcmp(argv[i], "--tee") == 0 && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(argv[i], "--tee=", 6) == 0)
			return argv[i] + 6;
	}
	return NULL;
}

struct cert_list {
	uint8_t *der[KWCTL_MAX_CERTS];
	size_t len[KWCTL_MAX_CERTS];
	size_t n;
};

static void
cert_list_free(struct cert_list *cl)
{
	for (size_t i = 0; i < cl->n; i++)
		free(cl->der[i]);
	cl->n = 0;
}

static int
cert_list_add(struct cert_list *cl, const uint8_t *der, size_t len)
{
	if (cl->n == KWCTL_MAX_CERTS)
		return KW_ERR_TOO_LARGE;
	if ((cl->der[cl->n] = malloc(len)) == NULL)
		return KW_ERR_NOMEM;
	memcpy(cl->der[cl->n], der, len);
	cl->len[cl->n++] = len;
	return 0;
}

/* Append the certificates of a PEM file (all of them) or a DER file (one) as DER. */
static int
load_cert_file(const char *path, struct cert_list *cl)
{
	uint8_t *buf = NULL;
	size_t len = 0, before = cl->n;
	BIO *bio = NULL;
	X509 *x = NULL;
	int r;

	if ((r = kw_file_read(path, KWCTL_MAX_FILE, &buf, &len)) != 0)
		return r;
	if (memmem(buf, len, "-----BEGIN", 10) == NULL) {
		r = cert_list_add(cl, buf, len);   /* DER: checked by the verifier */
		goto out;
	}
	r = KW_ERR_NOMEM;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)   /* len <= KWCTL_MAX_FILE */
		goto out;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		unsigned char *der = NULL;
		int n = i2d_X509(x, &der);

		X509_free(x);
		r = n > 0 ? cert_list_add(cl, der, (size_t)n) : KW_ERR_INVALID_FORMAT;
		OPENSSL_free(der);
		if (r != 0)
			goto out;
	}
	r = ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE && cl->n > before ?
	    0 : KW_ERR_INVALID_FORMAT;
out:
	ERR_clear_error();
	BIO_free(bio);
	free(buf);
	return r;
}

static int
print_doc(json_t *doc)
{
	if (doc == NULL || json_dumpf(doc, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF ||
	    fflush(stdout) != 0) {
		fputs("kwctl: cannot write output\n", stderr);
		return -1;
	}
	return 0;
}

/*
 * The verdict document for verifier result r: {"verdict","tee","at","claims"} or
 * {"verdict","tee","at","reason","error"[,"tcb_status"]}. Takes claims (also on
 * failure). Returns the exit status: KWCTL_OK, or KWCTL_EFAIL (rejected, or output failed).
 */
static int
print_verdict(const char *tee, int64_t at, int r, json_t *claims, const char *why, const char *tcb_status)
{
	char when[21];
	json_t *doc;
	int ok;

	kw_time_format_rfc3339(at, when);
	if (r == 0)
		doc = json_pack("{s:s,s:s,s:s,s:o}", "verdict", "verified", "tee", tee, "at", when, "claims", claims);
	else
		doc = json_pack("{s:s,s:s,s:s,s:s,s:s}", "verdict", "rejected", "tee", tee, "at", when,
		    "reason", why != NULL ? why : "unknown", "error", kw_strerror(r));
	claims = NULL;   /* stolen by json_pack ("o"), also on failure */
	if (r != 0 && doc != NULL && tcb_status != NULL &&
	    json_object_set_new(doc, "tcb_status", json_string(tcb_status)) != 0) {
		json_decref(doc);
		doc = NULL;
	}
	ok = print_doc(doc) == 0;
	json_decref(doc);
	return ok && r == 0 ? KWCTL_OK : KWCTL_EFAIL;
}

/* Set member key of o to base64url(p[0..n)); 0 or a kw_err. */
static int
put_b64(json_t *o, const char *key, const uint8_t *p, size_t n)
{
	char *e = NULL;
	int r;

	if ((r = kw_b64url_encode(p, n, &e)) != 0)
		return r;
	r = json_is_array(o) ? json_array_append_new(o, json_string(e)) : json_object_set_new(o, key,
	    json_string(e));
	free(e);
	return r == 0 ? 0 : KW_ERR_NOMEM;
}

/*
 * The broker's path: the verifier table entry for tee appraises the
 * tee-evidence object built from the files (binding NULL: not checked, kwctl
 * prints the report data instead). Returns the exit status.
 */
int
kwctl_evidence_appraise(const char *tee, const struct kw_trust *trust, const json_t *evidence, int64_t at,
    int allow_debug, const uint8_t *nonce, size_t nonce_len, int nonce_set)
{
	const struct kw_verifier *v = kw_verifier_find(tee);
	struct kw_appraisal in;
	json_t *claims = NULL, *diag = json_object();
	const char *why = NULL;
	int r, rc;

	if (v == NULL || diag == NULL) {
		json_decref(diag);
		return kwctl_usage_error("out of memory");
	}
	memset(&in, 0, sizeof(in));
	in.evidence = evidence;
	in.at = at;
	in.trust = trust;
	in.allow_debug = allow_debug;
	in.diag = diag;
	in.nonce = nonce;
	in.nonce_len = nonce_len;
	in.nonce_set = nonce_set;
	r = v->appraise(&in, &claims, &why);
	/* A TDX rejection after the TCB evaluation says how far it got (TCB_NOT_SUPPORTED, Revoked). */
	rc = print_verdict(tee, at, r, claims, why, json_string_value(json_object_get(diag, "tcb_status")));
	json_decref(diag);
	return rc;
}

/* --tee tdx: the quote and its collateral; returns the exit status. */
static int
verify_tdx(const char *quote_path, const char *coll_path, const char *const *roots, size_t nroots,
    int64_t at, int allow_debug)
{
	struct kw_trust trust = { .snp = NULL };
	struct kw_tdx_collateral_source *src = NULL;
	uint8_t *quote = NULL, *cbuf = NULL;
	size_t qlen = 0, clen = 0;
	json_t *coll = NULL, *ev = NULL;
	int r, rc = KWCTL_EUSAGE;

	if ((r = kw_file_read(quote_path, KWCTL_MAX_FILE, &quote, &qlen)) != 0) {
		rc = kwctl_usage_error("cannot read quote %s: %s", quote_path, kw_strerror(r));
		goto out;
	}
	if ((r = kw_file_read(coll_path, TDX_MAX_COLLATERAL, &cbuf, &clen)) != 0 ||
	    (r = kw_json_parse(cbuf, clen, TDX_MAX_COLLATERAL, &coll)) != 0) {
		rc = kwctl_usage_error("cannot read collateral %s: %s", coll_path, kw_strerror(r));
		goto out;
	}
	if (tdx_trust_new(&trust.tdx) != 0) {
		rc = kwctl_usage_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < nroots; i++) {
		if ((r = tdx_trust_add_test_root_file(trust.tdx, roots[i])) != 0) {
			rc = kwctl_usage_error("cannot use test root %s: %s", roots[i], kw_strerror(r));
			goto out;
		}
	}
	/* the one collateral file, whatever the quote's FMSPC: the verifier says when it does not fit */
	if (kw_tdx_fixed_new(trust.tdx, coll, &src) != 0 || (ev = json_object()) == NULL ||
	    put_b64(ev, "quote", quote, qlen) != 0) {
		rc = kwctl_usage_error("out of memory");
		goto out;
	}
	trust.tdx_collateral = src;
	rc = kwctl_evidence_appraise("tdx", &trust, ev, at, allow_debug, NULL, 0, 0);
out:
	json_decref(ev);
	json_decref(coll);
	kw_tdx_source_free(src);
	tdx_trust_free(trust.tdx);
	free(cbuf);
	free(quote);
	return rc;
}

/* The files of --tee tpm-akcert. */
struct tpm_files {
	const char *quote, *sig, *ak_cert, *event_log, *nonce;
	const char *pcrs[TPM_BANK_COUNT];
	size_t npcrs;
	const char *cas[16];
	size_t ncas;
};

/* Add one --pcrs file (one bank, told by the digest length) to *p. */
static int
read_pcrs(const char *path, struct tpm_pcrs *p)
{
	uint8_t *buf = NULL;
	size_t len = 0, hexlen;
	const char *sp, *nl, *why = NULL;
	enum tpm_bank b;
	int r;

	if ((r = kw_file_read(path, KWCTL_MAX_FILE, &buf, &len)) != 0)
		return kwctl_usage_error("cannot read --pcrs %s: %s", path, kw_strerror(r));
	sp = memchr(buf, ' ', len);
	nl = sp != NULL ? memchr(sp, '\n', len - (size_t)(sp - (const char *)buf)) : NULL;
	hexlen = sp == NULL ? 0 : (nl != NULL ? (size_t)(nl - sp) : len - (size_t)(sp - (const char *)buf)) - 1;
	if (hexlen > 0 && sp[hexlen] == '\r')
		hexlen--;
	b = hexlen == 40 ? TPM_BANK_SHA1 : hexlen == 96 ? TPM_BANK_SHA384 : TPM_BANK_SHA256;
	if (hexlen != 40 && hexlen != 64 && hexlen != 96) {
		r = kwctl_usage_error("--pcrs %s: lines must be '<index> <hex>' of 40, 64 or 96 hex digits", path);
	} else if (p->present[b] != 0) {
		r = kwctl_usage_error("--pcrs %s: bank %s given twice", path, tpm_bank_name(b));
	} else if ((r = tpm_pcrs_from_text((const char *)buf, len, b, p, &why)) != 0) {
		r = kwctl_usage_error("--pcrs %s: %s", path, why);
	}
	free(buf);
	return r;
}

/* Set member key of ev to base64url of the file at path. */
static int
put_file(json_t *ev, const char *key, const char *path, size_t max)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = kw_file_read(path, max, &buf, &len)) != 0)
		return kwctl_usage_error("cannot read %s: %s", path, kw_strerror(r));
	if (len == 0)
		r = kwctl_usage_error("%s is empty", path);
	else if (put_b64(ev, key, buf, len) != 0)
		r = kwctl_usage_error("out of memory");
	free(buf);
	return r;
}

/* --tee tpm-akcert: the files as tee-evidence, the CAs as trust; returns the exit status. */
static int
verify_tpm_akcert(const struct tpm_files *f, int64_t at)
{
	struct kw_trust trust = { .snp = NULL };
	struct tpm_ca *ca = NULL;
	struct tpm_pcrs *pcrs = NULL;
	uint8_t nonce[64];
	size_t nlen = strlen(f->nonce);
	json_t *ev = NULL, *pj = NULL;
	int r, rc = KWCTL_EUSAGE;

	if (nlen % 2 != 0 || nlen / 2 > sizeof(nonce) || kw_hex_decode(f->nonce, nonce, nlen / 2) != 0)
		return kwctl_usage_error("--nonce needs 0 to 64 bytes of hex");
	if ((pcrs = calloc(1, sizeof(*pcrs))) == NULL || (ev = json_object()) == NULL ||
	    tpm_ca_new(&ca) != 0) {
		rc = kwctl_usage_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < f->ncas; i++) {
		if ((r = tpm_ca_add_file(ca, f->cas[i], NULL)) != 0) {
			rc = kwctl_usage_error("cannot use --ca %s: %s (PEM or DER CA certificates)", f->cas[i],
			    kw_strerror(r));
			goto out;
		}
	}
	for (size_t i = 0; i < f->npcrs; i++)
		if (read_pcrs(f->pcrs[i], pcrs) != 0)
			goto out;
	if (put_file(ev, "quote", f->quote, TPM_MAX_ATTEST) != 0 ||
	    put_file(ev, "signature", f->sig, TPM_MAX_SIGNATURE) != 0 ||
	    put_file(ev, "ak_cert", f->ak_cert, TPM_CA_MAX_CERT) != 0 ||
	    (f->event_log != NULL && put_file(ev, "event_log", f->event_log, TPM_EVIDENCE_MAX_EVENTLOG) != 0))
		goto out;
	if ((pj = tpm_pcrs_claims(pcrs, pcrs->present)) == NULL || json_object_set(ev, "pcrs", pj) != 0) {
		rc = kwctl_usage_error("out of memory");
		goto out;
	}
	trust.tpm_akcert = ca;
	rc = kwctl_evidence_appraise("tpm-akcert", &trust, ev, at, 0, nonce, nlen / 2, 1);
out:
	json_decref(pj);
	json_decref(ev);
	tpm_ca_free(ca);
	free(pcrs);
	return rc;
}

/* --tee snp: report and certificates as tee-evidence {"report","vcek","chain"}. */
static json_t *
snp_evidence(const uint8_t *report, size_t report_len, const struct cert_list *cl)
{
	json_t *ev = json_object(), *chain = NULL;

	if (ev == NULL || put_b64(ev, "report", report, report_len) != 0 ||
	    put_b64(ev, "vcek", cl->der[0], cl->len[0]) != 0)
		goto fail;
	if (cl->n > 1) {
		if ((chain = json_array()) == NULL || json_object_set(ev, "chain", chain) != 0)
			goto fail;
		for (size_t i = 1; i < cl->n; i++)
			if (put_b64(chain, NULL, cl->der[i], cl->len[i]) != 0)
				goto fail;
	}
	json_decref(chain);
	return ev;
fail:
	json_decref(chain);
	json_decref(ev);
	return NULL;
}

/* The options of --tee snp, tdx and tpm-akcert (kwctl_azure.c, kwctl_cca.c: the others). */
const struct option kwctl_evidence_opts[] = {
	{ "tee", required_argument, NULL, 't' },
	{ "report", required_argument, NULL, 'r' },
	{ "quote", required_argument, NULL, 'q' },
	{ "collateral", required_argument, NULL, 'L' },
	{ "cert", required_argument, NULL, 'c' },
	{ "chain", required_argument, NULL, 'C' },
	{ "test-root", required_argument, NULL, 'T' },
	{ "at", required_argument, NULL, 'a' },
	{ "allow-debug", no_argument, NULL, 'd' },
	{ "sig", required_argument, NULL, 'S' },
	{ "pcrs", required_argument, NULL, 'P' },
	{ "ak-cert", required_argument, NULL, 'K' },
	{ "ca", required_argument, NULL, 'A' },
	{ "event-log", required_argument, NULL, 'E' },
	{ "nonce", required_argument, NULL, 'N' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Value names of the evidence verify options (all --tee kinds; completion). */
const struct kwctl_optarg kwctl_evidence_args[] = {
	{"tee", "snp|tdx|tpm-akcert|az-snp-vtpm|az-tdx-vtpm|cca"},
	{"report", "FILE"}, {"quote", "FILE"}, {"collateral", "FILE"}, {"cert", "FILE"},
	{"chain", "FILE"}, {"test-root", "FILE"}, {"at", "TIME"}, {"sig", "FILE"},
	{"pcrs", "FILE"}, {"ak-cert", "FILE"}, {"ca", "FILE"}, {"event-log", "FILE"},
	{"nonce", "HEX"}, {"evidence", "FILE"}, {"token", "FILE"}, {"cpak", "FILE"},
	{"test-cpak", "FILE"},
	{NULL, NULL},
};

int
kwctl_cmd_evidence_verify(int argc, char **argv)
{
	const char *tee = NULL, *report_path = NULL, *at_str = NULL, *quote_path = NULL, *coll_path = NULL;
	const char *chains[16], *roots[16];
	size_t nchains = 0, nroots = 0;
	struct cert_list cl = { .n = 0 };
	struct kw_trust trust = { .snp = NULL };
	struct snp_verify_opts vo = { .at = 0, .allow_debug = 0 };
	struct tpm_files tf;
	uint8_t *report = NULL;
	size_t report_len = 0;
	json_t *ev = NULL;
	int c, r, rc = KWCTL_EUSAGE;

	/* the Azure vTPM types have their own options (kwctl_azure.c) */
	if (kwctl_azure_wanted(argc, argv))
		return kwctl_evidence_verify_azure(argc, argv);
	if (kwctl_cca_wanted(argc, argv))
		return kwctl_evidence_verify_cca(argc, argv);
	memset(&tf, 0, sizeof(tf));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", kwctl_evidence_opts, NULL)) != -1) {
		switch (c) {
		case 't': tee = optarg; break;
		case 'r':
			if (report_path != NULL)
				return kwctl_usage_error("--report given twice");
			report_path = optarg;
			break;
		case 'q':
			if (quote_path != NULL)
				return kwctl_usage_error("--quote given twice");
			quote_path = optarg;
			break;
		case 'L':
			if (coll_path != NULL)
				return kwctl_usage_error("--collateral given twice");
			coll_path = optarg;
			break;
		case 'c':
			if ((r = load_cert_file(optarg, &cl)) != 0) {
				rc = kwctl_usage_error("cannot load certificate file %s: %s", optarg, kw_strerror(r));
				goto out;
			}
			break;
		case 'C':
			if (nchains == KW_ARRAY_SIZE(chains)) {
				rc = kwctl_usage_error("too many --chain files");
				goto out;
			}
			chains[nchains++] = optarg;
			break;
		case 'T':
			if (nroots == KW_ARRAY_SIZE(roots)) {
				rc = kwctl_usage_error("too many --test-root files");
				goto out;
			}
			roots[nroots++] = optarg;
			break;
		case 'a': at_str = optarg; break;
		case 'd': vo.allow_debug = 1; break;
		case 'S':
		case 'K':
		case 'E':
		case 'N': {
			const char **slot = c == 'S' ? &tf.sig : c == 'K' ? &tf.ak_cert : c == 'E' ? &tf.event_log : &tf.nonce;

			if (*slot != NULL) {
				rc = kwctl_usage_error("%s given twice", argv[optind - 1]);
				goto out;
			}
			*slot = optarg;
			break;
		}
		case 'P':
			if (tf.npcrs == KW_ARRAY_SIZE(tf.pcrs)) {
				rc = kwctl_usage_error("--pcrs at most once per bank (sha1, sha256, sha384)");
				goto out;
			}
			tf.pcrs[tf.npcrs++] = optarg;
			break;
		case 'A':
			if (tf.ncas == KW_ARRAY_SIZE(tf.cas)) {
				rc = kwctl_usage_error("too many --ca files");
				goto out;
			}
			tf.cas[tf.ncas++] = optarg;
			break;
		case 'h':
			kwctl_usage_evidence_verify(stdout);
			rc = KWCTL_OK;
			goto out;
		case ':':
			rc = kwctl_usage_error("option %s needs a value (see --help)", argv[optind - 1]);
			goto out;
		default:
			rc = kwctl_usage_error("unknown option %s (see --help)", argv[optind - 1]);
			goto out;
		}
	}
	if (optind != argc) {
		rc = kwctl_usage_error("unexpected argument '%s' (see --help)", argv[optind]);
		goto out;
	}
	if (tee == NULL) {
		rc = kwctl_usage_error("--tee is required (see --help)");
		goto out;
	}
	if (strcmp(tee, "snp") != 0 && strcmp(tee, "tdx") != 0 && strcmp(tee, "tpm-akcert") != 0) {
		rc = kwctl_usage_error("unsupported --tee '%s' (supported: snp, tdx, tpm-akcert, az-snp-vtpm, "
		    "az-tdx-vtpm)", tee);
		goto out;
	}
	if (strcmp(tee, "tpm-akcert") != 0 && (tf.sig != NULL || tf.ak_cert != NULL || tf.event_log != NULL ||
	    tf.nonce != NULL || tf.npcrs != 0 || tf.ncas != 0)) {
		rc = kwctl_usage_error("--sig, --pcrs, --ak-cert, --ca, --event-log and --nonce are for --tee tpm-akcert");
		goto out;
	}
	if (at_str != NULL) {
		if (kw_time_parse_rfc3339(at_str, &vo.at) != 0 || vo.at <= 0) {
			rc = kwctl_usage_error("--at needs an RFC 3339 time such as 2026-11-28T00:00:00Z");
			goto out;
		}
	} else {
		vo.at = kw_time_now();
	}
	if (strcmp(tee, "tpm-akcert") == 0) {
		if (quote_path == NULL || tf.sig == NULL || tf.npcrs == 0 || tf.ak_cert == NULL || tf.ncas == 0 ||
		    tf.nonce == NULL) {
			rc = kwctl_usage_error("--quote, --sig, --pcrs, --ak-cert, --ca and --nonce are required "
			    "for --tee tpm-akcert (see --help)");
			goto out;
		}
		if (report_path != NULL || cl.n != 0 || nchains != 0 || coll_path != NULL || nroots != 0 ||
		    vo.allow_debug) {
			rc = kwctl_usage_error("--report, --cert, --chain, --collateral, --test-root and "
			    "--allow-debug are not for --tee tpm-akcert");
			goto out;
		}
		tf.quote = quote_path;
		rc = verify_tpm_akcert(&tf, vo.at);
		goto out;
	}
	if (strcmp(tee, "tdx") == 0) {
		if (quote_path == NULL || coll_path == NULL) {
			rc = kwctl_usage_error("--quote and --collateral are required for --tee tdx (see --help)");
			goto out;
		}
		if (report_path != NULL || cl.n != 0 || nchains != 0) {
			rc = kwctl_usage_error("--report, --cert and --chain are for --tee snp");
			goto out;
		}
		rc = verify_tdx(quote_path, coll_path, roots, nroots, vo.at, vo.allow_debug);
		goto out;
	}
	if (quote_path != NULL || coll_path != NULL) {
		rc = kwctl_usage_error("--quote and --collateral are for --tee tdx");
		goto out;
	}
	if (report_path == NULL) {
		rc = kwctl_usage_error("--tee and --report are required (see --help)");
		goto out;
	}
	if (cl.n == 0) {
		rc = kwctl_usage_error("--cert is required for --tee snp (the VCEK or VLEK)");
		goto out;
	}
	if ((r = kw_file_read(report_path, KWCTL_MAX_FILE, &report, &report_len)) != 0) {
		rc = kwctl_usage_error("cannot read report %s: %s", report_path, kw_strerror(r));
		goto out;
	}

	/* Trust: test roots first, so chain bundles ending in them can load. */
	if (snp_trust_new(&trust.snp) != 0) {
		rc = kwctl_usage_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < nroots; i++) {
		if ((r = snp_trust_add_test_root_file(trust.snp, roots[i])) != 0) {
			rc = kwctl_usage_error("cannot use test root %s: %s", roots[i], kw_strerror(r));
			goto out;
		}
	}
	for (size_t i = 0; i < nchains; i++) {
		if ((r = snp_trust_add_chain_file(trust.snp, chains[i])) != 0) {
			rc = kwctl_usage_error("cannot use chain %s: %s", chains[i], kw_strerror(r));
			goto out;
		}
	}
	if ((ev = snp_evidence(report, report_len, &cl)) == NULL) {
		rc = kwctl_usage_error("out of memory");
		goto out;
	}
	rc = kwctl_evidence_appraise("snp", &trust, ev, vo.at, vo.allow_debug, NULL, 0, 0);
out:
	json_decref(ev);
	snp_trust_free(trust.snp);
	cert_list_free(&cl);
	free(report);
	return rc;
}
