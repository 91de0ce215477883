/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwctl evidence verify --tee az-snp-vtpm|az-tdx-vtpm --evidence FILE
 *   --nonce HEX [--collateral FILE] [--chain FILE] [--test-root FILE ...]
 *   [--at TIME] [--allow-debug]
 * The recorded Azure vTPM evidence (verifier-client/tpm/tpm_azure.h) is
 * turned into the broker's tee-evidence and appraised by the same table
 * member the broker uses, with the nonce as the quote's expected extraData.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kw_err.h"
#include "kw_json.h"
#include "kw_util.h"
#include "kwctl.h"
#include "tpm_azure.h"
#include "verifier.h"

#define AZ_MAX_NONCE 64
#define AZ_MAX_ROOTS 16

static int
is_azure(const char *tee)
{
	return tee != NULL && (strcmp(tee, "az-snp-vtpm") == 0 || strcmp(tee, "az-tdx-vtpm") == 0);
}

int
kwctl_azure_wanted(int argc, char **argv)
{
	return is_azure(kwctl_tee_arg(argc, argv));
}

struct az_opts {
	const char *tee, *evidence, *nonce, *collateral, *chain, *at;
	const char *roots[AZ_MAX_ROOTS];
	size_t nroots;
	int allow_debug;
};

const struct option kwctl_azure_opts[] = {
	{ "tee", required_argument, NULL, 't' },
	{ "evidence", required_argument, NULL, 'e' },
	{ "nonce", required_argument, NULL, 'n' },
	{ "collateral", required_argument, NULL, 'L' },
	{ "chain", required_argument, NULL, 'C' },
	{ "test-root", required_argument, NULL, 'T' },
	{ "at", required_argument, NULL, 'a' },
	{ "allow-debug", no_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int
az_getopt(int argc, char **argv, struct az_opts *o)
{
	const char **one = NULL;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", kwctl_azure_opts, NULL)) != -1) {
		switch (c) {
		case 't': one = &o->tee; break;
		case 'e': one = &o->evidence; break;
		case 'n': one = &o->nonce; break;
		case 'L': one = &o->collateral; break;
		case 'C': one = &o->chain; break;
		case 'a': one = &o->at; break;
		case 'T':
			if (o->nroots == AZ_MAX_ROOTS)
				return kwctl_usage_error("too many --test-root files");
			o->roots[o->nroots++] = optarg;
			continue;
		case 'd': o->allow_debug = 1; continue;
		case 'h':
			kwctl_usage_evidence_verify(stdout);
			return -1;
		case ':':
			return kwctl_usage_error("option %s needs a value (see --help)", argv[optind - 1]);
		default:
			return kwctl_usage_error("unknown option %s for --tee %s (see --help)", argv[optind - 1],
			    o->tee != NULL ? o->tee : "az-*");
		}
		if (*one != NULL)
			return kwctl_usage_error("%s given twice", argv[optind - 1]);
		*one = optarg;
	}
	if (optind != argc)
		return kwctl_usage_error("unexpected argument '%s' (see --help)", argv[optind]);
	if (o->evidence == NULL || o->nonce == NULL)
		return kwctl_usage_error("--evidence and --nonce are required for --tee %s (see --help)", o->tee);
	if (strcmp(o->tee, "az-snp-vtpm") == 0 && o->collateral != NULL)
		return kwctl_usage_error("--collateral is for --tee az-tdx-vtpm");
	if (strcmp(o->tee, "az-tdx-vtpm") == 0 && o->collateral == NULL)
		return kwctl_usage_error("--collateral is required for --tee az-tdx-vtpm (see --help)");
	if (strcmp(o->tee, "az-tdx-vtpm") == 0 && o->chain != NULL)
		return kwctl_usage_error("--chain is for --tee az-snp-vtpm");
	return 0;
}

/* Trust for the hardware: SNP (pinned ARKs, --chain, test roots) or TDX (collateral). */
static int
az_trust(const struct az_opts *o, struct kw_trust *t, struct kw_tdx_collateral_source **ret_src)
{
	uint8_t *cbuf = NULL;
	size_t clen = 0;
	json_t *coll = NULL;
	int r, rc = KWCTL_EUSAGE;

	if (strcmp(o->tee, "az-snp-vtpm") == 0) {
		if (snp_trust_new(&t->snp) != 0)
			return kwctl_usage_error("out of memory");
		for (size_t i = 0; i < o->nroots; i++)
			if ((r = snp_trust_add_test_root_file(t->snp, o->roots[i])) != 0)
				return kwctl_usage_error("cannot use test root %s: %s", o->roots[i], kw_strerror(r));
		if (o->chain != NULL && (r = snp_trust_add_chain_file(t->snp, o->chain)) != 0)
			return kwctl_usage_error("cannot use chain %s: %s", o->chain, kw_strerror(r));
		return 0;
	}
	if ((r = kw_file_read(o->collateral, TDX_MAX_COLLATERAL, &cbuf, &clen)) != 0 ||
	    (r = kw_json_parse(cbuf, clen, TDX_MAX_COLLATERAL, &coll)) != 0) {
		rc = kwctl_usage_error("cannot read collateral %s: %s", o->collateral, kw_strerror(r));
		goto out;
	}
	if (tdx_trust_new(&t->tdx) != 0) {
		rc = kwctl_usage_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < o->nroots; i++) {
		if ((r = tdx_trust_add_test_root_file(t->tdx, o->roots[i])) != 0) {
			rc = kwctl_usage_error("cannot use test root %s: %s", o->roots[i], kw_strerror(r));
			goto out;
		}
	}
	if (kw_tdx_fixed_new(t->tdx, coll, ret_src) != 0) {
		rc = kwctl_usage_error("out of memory");
		goto out;
	}
	t->tdx_collateral = *ret_src;
	rc = 0;
out:
	json_decref(coll);
	free(cbuf);
	return rc;
}

int
kwctl_evidence_verify_azure(int argc, char **argv)
{
	struct az_opts o;
	struct kw_trust trust;
	struct kw_tdx_collateral_source *src = NULL;
	struct tpm_azure_evidence e;
	uint8_t nonce[AZ_MAX_NONCE], *buf = NULL;
	size_t nlen, len = 0;
	json_t *doc = NULL, *ev = NULL;
	const char *why = NULL;
	int64_t at;
	int r, rc, tdx;

	memset(&o, 0, sizeof(o));
	memset(&e, 0, sizeof(e));
	memset(&trust, 0, sizeof(trust));
	if ((rc = az_getopt(argc, argv, &o)) != 0)
		return rc < 0 ? KWCTL_OK : rc;
	tdx = strcmp(o.tee, "az-tdx-vtpm") == 0;
	nlen = strlen(o.nonce) / 2;
	if (strlen(o.nonce) % 2 != 0 || nlen == 0 || nlen > AZ_MAX_NONCE ||
	    kw_hex_decode(o.nonce, nonce, nlen) != 0)
		return kwctl_usage_error("--nonce needs 1..64 bytes of hex (the quote's extraData)");
	if (o.at != NULL) {
		if (kw_time_parse_rfc3339(o.at, &at) != 0 || at <= 0)
			return kwctl_usage_error("--at needs an RFC 3339 time such as 2026-11-28T00:00:00Z");
	} else {
		at = kw_time_now();
	}
	rc = KWCTL_EUSAGE;
	if ((r = kw_file_read(o.evidence, TPM_AZURE_MAX_DOC, &buf, &len)) != 0 ||
	    (r = kw_json_parse(buf, len, TPM_AZURE_MAX_DOC, &doc)) != 0) {
		rc = kwctl_usage_error("cannot read evidence %s: %s", o.evidence, kw_strerror(r));
		goto out;
	}
	if ((r = tpm_azure_evidence_parse(doc, &e, &why)) != 0) {
		rc = kwctl_usage_error("evidence %s: %s", o.evidence, why);
		goto out;
	}
	if ((e.td_quote != NULL) != tdx) {
		rc = kwctl_usage_error("evidence %s is %s evidence", o.evidence, tdx ? "SNP (vcek)" : "TDX (td_quote)");
		goto out;
	}
	if ((rc = az_trust(&o, &trust, &src)) != 0)
		goto out;
	if (tpm_azure_tee_evidence(&e, tdx, &ev) != 0) {
		rc = kwctl_usage_error("out of memory");
		goto out;
	}
	rc = kwctl_evidence_appraise(o.tee, &trust, ev, at, o.allow_debug, nonce, nlen, 1);
out:
	json_decref(ev);
	json_decref(doc);
	tpm_azure_evidence_clear(&e);
	kw_tdx_source_free(src);
	snp_trust_free(trust.snp);
	tdx_trust_free(trust.tdx);
	free(buf);
	return rc;
}
