/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwctl evidence verify --tee cca (--token FILE | --evidence FILE)
 *                       (--cpak FILE | --test-cpak FILE)... [--nonce HEX] [--allow-debug]
 * An Arm CCA token through the verifier table's "cca" member, with the CPAKs
 * named here as its only trust anchors (docs/verifier-cca.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cca.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_util.h"
#include "kwctl.h"
#include "verifier.h"

#define CCA_KWCTL_MAX_CPAKS 16
#define CCA_KWCTL_MAX_EVIDENCE (32 * 1024)

int
kwctl_cca_wanted(int argc, char **argv)
{
	const char *tee = kwctl_tee_arg(argc, argv);

	return tee != NULL && strcmp(tee, "cca") == 0;
}

struct cca_opts {
	const char *token, *evidence, *nonce;
	const char *cpaks[CCA_KWCTL_MAX_CPAKS];
	int test[CCA_KWCTL_MAX_CPAKS];
	size_t ncpaks;
	int allow_debug;
};

const struct option kwctl_cca_opts[] = {
	{ "tee", required_argument, NULL, 't' },
	{ "token", required_argument, NULL, 'k' },
	{ "evidence", required_argument, NULL, 'e' },
	{ "nonce", required_argument, NULL, 'n' },
	{ "cpak", required_argument, NULL, 'c' },
	{ "test-cpak", required_argument, NULL, 'T' },
	{ "allow-debug", no_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int
cca_getopt(int argc, char **argv, struct cca_opts *o)
{
	const char **one = NULL, *tee = NULL;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", kwctl_cca_opts, NULL)) != -1) {
		switch (c) {
		case 't': one = &tee; break;
		case 'k': one = &o->token; break;
		case 'e': one = &o->evidence; break;
		case 'n': one = &o->nonce; break;
		case 'c':
		case 'T':
			if (o->ncpaks == CCA_KWCTL_MAX_CPAKS)
				return kwctl_usage_error("too many --cpak / --test-cpak files");
			o->test[o->ncpaks] = c == 'T';
			o->cpaks[o->ncpaks++] = optarg;
			continue;
		case 'd': o->allow_debug = 1; continue;
		case 'h':
			kwctl_usage_evidence_verify(stdout);
			return -1;
		case ':':
			return kwctl_usage_error("option %s needs a value (see --help)", argv[optind - 1]);
		default:
			return kwctl_usage_error("unknown option %s for --tee cca (see --help)", argv[optind - 1]);
		}
		if (*one != NULL)
			return kwctl_usage_error("%s given twice", argv[optind - 1]);
		*one = optarg;
	}
	if (optind != argc)
		return kwctl_usage_error("unexpected argument '%s' (see --help)", argv[optind]);
	if ((o->token == NULL) == (o->evidence == NULL))
		return kwctl_usage_error("--tee cca needs one of --token FILE or --evidence FILE (see --help)");
	if (o->ncpaks == 0)
		return kwctl_usage_error("--tee cca needs --cpak FILE or --test-cpak FILE: there is no "
		    "built-in CCA trust anchor");
	return 0;
}

/* The tee-evidence object: the --evidence JSON as given, or {"token": b64url(--token)}. */
static int
cca_evidence(const struct cca_opts *o, json_t **ret)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *ev = NULL;
	int r;

	if (o->evidence != NULL) {
		if ((r = kw_file_read(o->evidence, CCA_KWCTL_MAX_EVIDENCE, &buf, &len)) != 0 ||
		    (r = kw_json_parse(buf, len, CCA_KWCTL_MAX_EVIDENCE, &ev)) != 0)
			r = kwctl_usage_error("cannot read evidence %s: %s", o->evidence, kw_strerror(r));
	} else if ((r = kw_file_read(o->token, CCA_MAX_TOKEN, &buf, &len)) != 0 || len == 0) {
		r = kwctl_usage_error("cannot read token %s: %s", o->token, r != 0 ? kw_strerror(r) : "empty");
	} else if ((ev = json_object()) == NULL || kw_json_set_b64url(ev, "token", buf, len) != 0) {
		r = kwctl_usage_error("out of memory");
	}
	free(buf);
	if (r != 0) {
		json_decref(ev);
		return r;
	}
	*ret = ev;
	return 0;
}

int
kwctl_evidence_verify_cca(int argc, char **argv)
{
	struct cca_opts o;
	struct kw_trust trust;
	struct cca_trust *t = NULL;
	uint8_t nonce[CCA_CHALLENGE_LEN];
	json_t *ev = NULL;
	int r, rc;

	memset(&o, 0, sizeof(o));
	memset(&trust, 0, sizeof(trust));
	if ((rc = cca_getopt(argc, argv, &o)) != 0)
		return rc < 0 ? KWCTL_OK : rc;
	if (o.nonce != NULL && (strlen(o.nonce) != 2 * sizeof(nonce) || kw_hex_decode(o.nonce, nonce, sizeof(nonce)) != 0))
		return kwctl_usage_error("--nonce needs 64 bytes of hex (the expected realm challenge)");
	if (cca_trust_new(&t) != 0)
		return kwctl_usage_error("out of memory");
	rc = KWCTL_EUSAGE;
	for (size_t i = 0; i < o.ncpaks; i++) {
		if ((r = cca_trust_add_cpak_file(t, o.cpaks[i], o.test[i])) != 0) {
			rc = kwctl_usage_error("cannot use %s %s: %s (a P-384 public JWK)",
			    o.test[i] ? "--test-cpak" : "--cpak", o.cpaks[i], kw_strerror(r));
			goto out;
		}
	}
	if ((rc = cca_evidence(&o, &ev)) != 0)
		goto out;
	trust.cca = t;
	rc = kwctl_evidence_appraise("cca", &trust, ev, kw_time_now(), o.allow_debug, o.nonce != NULL ? nonce : NULL,
	    o.nonce != NULL ? sizeof(nonce) : 0, o.nonce != NULL);
out:
	json_decref(ev);
	cca_trust_free(t);
	return rc;
}
