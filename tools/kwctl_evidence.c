/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwctl evidence verify --tee snp --report FILE [--cert FILE ...] ...
 * kwctl evidence verify --tee tdx --quote FILE --collateral FILE ...
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
	    "\n"
	    "  --tee snp|tdx      evidence type: AMD SEV-SNP or Intel TDX\n"
	    "  --report FILE      (snp) the 1184-byte SNP ATTESTATION_REPORT (binary)\n"
	    "  --cert FILE        PEM (one or more certificates) or DER; the first certificate\n"
	    "                     overall is the VCEK/VLEK, further ones (ASK/ASVK, ARK) are\n"
	    "                     passed as chain candidates; up to 4 in total\n"
	    "  --chain FILE       AMD KDS cert_chain bundle (ASK or ASVK, then ARK); its ARK\n"
	    "                     must be pinned (compiled in) or named with --test-root\n"
	    "  --quote FILE       (tdx) the DCAP quote, v4 or v5 (binary; zero padding allowed)\n"
	    "  --collateral FILE  (tdx) Intel collateral for the quote's FMSPC, a dcap-qvl\n"
	    "                     QuoteCollateralV3 JSON object; its time window must hold --at\n"
	    "  --test-root FILE   trust this self-signed emulation root (testing only): an\n"
	    "                     ARK for snp, a \"NOT INTEL\" root for tdx\n"
	    "  --at TIME          verification time, RFC 3339 (default: now)\n"
	    "  --allow-debug      accept debug guests and debug TDs (claims still show \"debug\": true)\n"
	    "\n"
	    "       kwctl evidence verify --tee az-snp-vtpm|az-tdx-vtpm --evidence FILE --nonce HEX\n"
	    "                             [--collateral FILE] [--chain FILE] [--test-root FILE ...]\n"
	    "                             [--at RFC3339-TIME] [--allow-debug]\n"
	    "  --evidence FILE    (az-*) recorded Azure vTPM evidence JSON (docs/verifier-tpm.md)\n"
	    "  --nonce HEX        (az-*) the TPM quote's expected extraData, 1..63 bytes, or 64\n"
	    "                     (the broker's binding: SHA-384 digest, 16 zero bytes)\n"
	    "\n"
	    "Prints one JSON document {\"verdict\", \"reason\", \"claims\"} on stdout.\n"
	    "Exit status: 0 verified, 1 rejected, 2 usage or unreadable input.\n", f);
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
kwctl_evidence_appraise(const char *tee, const struct kw_trust *trust, const json_t *evidence,
    const uint8_t *binding, size_t binding_len, int64_t at, int allow_debug)
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
	in.binding = binding;
	in.binding_len = binding_len;
	in.at = at;
	in.trust = trust;
	in.allow_debug = allow_debug;
	in.diag = diag;
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
	struct kw_trust trust = { NULL, NULL, NULL };
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
	rc = kwctl_evidence_appraise("tdx", &trust, ev, NULL, 0, at, allow_debug);
out:
	json_decref(ev);
	json_decref(coll);
	kw_tdx_source_free(src);
	tdx_trust_free(trust.tdx);
	free(cbuf);
	free(quote);
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

int
kwctl_cmd_evidence_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tee", required_argument, NULL, 't' },
		{ "report", required_argument, NULL, 'r' },
		{ "quote", required_argument, NULL, 'q' },
		{ "collateral", required_argument, NULL, 'L' },
		{ "cert", required_argument, NULL, 'c' },
		{ "chain", required_argument, NULL, 'C' },
		{ "test-root", required_argument, NULL, 'T' },
		{ "at", required_argument, NULL, 'a' },
		{ "allow-debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tee = NULL, *report_path = NULL, *at_str = NULL, *quote_path = NULL, *coll_path = NULL;
	const char *chains[16], *roots[16];
	size_t nchains = 0, nroots = 0;
	struct cert_list cl = { .n = 0 };
	struct kw_trust trust = { NULL, NULL, NULL };
	struct snp_verify_opts vo = { .at = 0, .allow_debug = 0 };
	uint8_t *report = NULL;
	size_t report_len = 0;
	json_t *ev = NULL;
	int c, r, rc = KWCTL_EUSAGE;

	/* the Azure vTPM types have their own options (kwctl_azure.c) */
	if (kwctl_azure_wanted(argc, argv))
		return kwctl_evidence_verify_azure(argc, argv);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
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
	if (strcmp(tee, "snp") != 0 && strcmp(tee, "tdx") != 0) {
		rc = kwctl_usage_error("unsupported --tee '%s' (supported: snp, tdx, az-snp-vtpm, az-tdx-vtpm)",
		    tee);
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
	rc = kwctl_evidence_appraise("snp", &trust, ev, NULL, 0, vo.at, vo.allow_debug);
out:
	json_decref(ev);
	snp_trust_free(trust.snp);
	cert_list_free(&cl);
	free(report);
	return rc;
}
