/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwctl evidence verify --tee snp --report FILE [--cert FILE ...] ...
 * kwctl evidence verify --tee tdx --quote FILE --collateral FILE ...
 * Offline: runs the broker's verifiers on files and prints the claims.
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
#include "snp.h"
#include "tdx.h"

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

/* --tee tdx: the quote and its collateral; returns the exit status. */
static int
verify_tdx(const char *quote_path, const char *coll_path, const char *const *roots, size_t nroots,
    int64_t at, int allow_debug)
{
	struct tdx_trust *trust = NULL;
	struct tdx_trace tr;
	struct tdx_verify_opts vo = { .at = at, .allow_debug = allow_debug, .trace = &tr };
	uint8_t *quote = NULL, *cbuf = NULL;
	size_t qlen = 0, clen = 0;
	json_t *coll = NULL, *claims = NULL;
	const char *why = NULL;
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
	if (tdx_trust_new(&trust) != 0) {
		rc = kwctl_usage_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < nroots; i++) {
		if ((r = tdx_trust_add_test_root_file(trust, roots[i])) != 0) {
			rc = kwctl_usage_error("cannot use test root %s: %s", roots[i], kw_strerror(r));
			goto out;
		}
	}
	r = tdx_verify(trust, quote, qlen, coll, &vo, &claims, &why);
	/* A rejection after the TCB evaluation says how far it got (TCB_NOT_SUPPORTED, Revoked). */
	rc = print_verdict("tdx", at, r, claims, why, tr.final != TDX_TCB_UNKNOWN ? tdx_tcb_status_name(tr.final) : NULL);
	claims = NULL;   /* taken by print_verdict */
out:
	json_decref(claims);
	json_decref(coll);
	tdx_trust_free(trust);
	free(cbuf);
	free(quote);
	return rc;
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
	struct snp_trust *trust = NULL;
	struct snp_evidence ev;
	struct snp_verify_opts vo = { .at = 0, .allow_debug = 0 };
	uint8_t *report = NULL;
	size_t report_len = 0;
	json_t *claims = NULL;
	const char *why = NULL;
	int c, r, rc = KWCTL_EUSAGE;

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
		rc = kwctl_usage_error("unsupported --tee '%s' (supported: snp, tdx)", tee);
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
	if (snp_trust_new(&trust) != 0) {
		rc = kwctl_usage_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < nroots; i++) {
		if ((r = snp_trust_add_test_root_file(trust, roots[i])) != 0) {
			rc = kwctl_usage_error("cannot use test root %s: %s", roots[i], kw_strerror(r));
			goto out;
		}
	}
	for (size_t i = 0; i < nchains; i++) {
		if ((r = snp_trust_add_chain_file(trust, chains[i])) != 0) {
			rc = kwctl_usage_error("cannot use chain %s: %s", chains[i], kw_strerror(r));
			goto out;
		}
	}

	memset(&ev, 0, sizeof(ev));
	ev.report = report;
	ev.report_len = report_len;
	for (size_t i = 0; i < cl.n; i++) {
		ev.certs[i] = cl.der[i];
		ev.cert_lens[i] = cl.len[i];
	}
	ev.ncerts = cl.n;
	r = snp_verify(trust, &ev, &vo, &claims, &why);

	rc = print_verdict("snp", vo.at, r, claims, why, NULL);
	claims = NULL;   /* taken by print_verdict */
out:
	json_decref(claims);
	snp_trust_free(trust);
	cert_list_free(&cl);
	free(report);
	return rc;
}
