/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NVIDIA RIMs in kwctl: "kwctl rim verify" (offline) and the verification
 * half of "kwctl refval import-rim" (kwctl_admin.c stores the result). The
 * XML is verified here, on the admin's machine, with libxml2 and xmlsec1
 * (verifier-client/nvgpu/nvgpu_rim.c); the broker only ever receives the
 * extracted values as a reference-value set (docs/verifier-nvgpu.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kw_json.h"
#include "kw_util.h"
#include "kwctl.h"
#include "nvgpu_rim.h"

/* Read, verify and extract; *ret_rim and *ret_doc (new) on success. */
static int
rim_load(const char *what, const char *file, const char *root, const char *at, json_t **ret_rim,
    json_t **ret_doc)
{
	uint8_t *xml = NULL, *pem = NULL;
	size_t xml_len = 0, pem_len = 0;
	char ef[200];
	const char *why = NULL;
	json_t *rim = NULL, *doc = NULL;
	int64_t t = (int64_t)time(NULL);
	int r, rc;

	kwctl_escape(file, 120, ef, sizeof(ef));
	if (at != NULL && kw_time_parse_rfc3339(at, &t) != 0)
		return kwctl_usage_error("%s: --at must be an RFC 3339 time", what);
	if ((r = kw_file_read(file, NVGPU_RIM_MAX_XML, &xml, &xml_len)) != 0) {
		rc = kwctl_usage_error("%s: %s: %s", what, ef, kw_strerror(r));
		goto out;
	}
	if ((r = kw_file_read(root, NVGPU_RIM_MAX_ROOT, &pem, &pem_len)) != 0) {
		kwctl_escape(root, 120, ef, sizeof(ef));
		rc = kwctl_usage_error("%s: --root %s: %s", what, ef, kw_strerror(r));
		goto out;
	}
	if ((r = nvgpu_rim_verify(xml, xml_len, pem, pem_len, t, &rim, &why)) != 0) {
		rc = kwctl_fail(r == KW_ERR_CONFIG ? KWCTL_EUSAGE : KWCTL_EFAIL,
		    "%s: %s: refused: %s", what, ef, why);
		goto out;
	}
	if ((r = nvgpu_rim_refval(rim, &doc)) != 0) {
		rc = kwctl_fail(KWCTL_EFAIL, "%s: %s: refused: %s", what, ef,
		    r == KW_ERR_UNSUPPORTED ? "a measurement is not 48 bytes (SHA-384)" :
		    kw_strerror(r));
		goto out;
	}
	*ret_rim = rim;
	rim = NULL;   /* transferred */
	*ret_doc = doc;
	doc = NULL;   /* transferred */
	rc = 0;
out:
	json_decref(rim);
	json_decref(doc);
	free(xml);
	free(pem);
	return rc;
}

int
kwctl_rim_refval(const char *what, const char *file, const char *root, const char *at, json_t **ret)
{
	json_t *rim = NULL, *doc = NULL;
	int rc;

	if ((rc = rim_load(what, file, root, at, &rim, &doc)) != 0)
		return rc;
	json_decref(rim);
	*ret = doc;
	return 0;
}

void
kwctl_usage_rim(FILE *f)
{
	fputs("usage: kwctl rim verify --file RIM --root PEM [--at TIME]\n"
	    "\n"
	    "Verify an NVIDIA RIM (signed SWID tag XML) offline: its XML signature and the\n"
	    "certificate chain it carries to the RIM root PEM (the only trust anchor; every\n"
	    "certificate valid at --at, an RFC 3339 time, default now). Prints\n"
	    "{\"rim\": the measurements as the RIM states them, \"refval\": the reference-value\n"
	    "set 'kwctl refval import-rim' would store}. Exit status 0 verified, 1 refused\n"
	    "(one line on standard error says why), 2 usage or unreadable file.\n", f);
}

enum { R_FILE = 1000, R_ROOT, R_AT, R_HELP };

/* rim verify's options; the completion script is made from them too. */
const struct option kwctl_rim_opts[] = {
	{ "file", required_argument, NULL, R_FILE },
	{ "root", required_argument, NULL, R_ROOT },
	{ "at", required_argument, NULL, R_AT },
	{ "help", no_argument, NULL, R_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Value names (completion). */
const struct kwctl_optarg kwctl_rim_args[] = {
	{"file", "FILE"}, {"root", "FILE"}, {"at", "TIME"},
	{NULL, NULL},
};

int
kwctl_cmd_rim(int argc, char **argv)
{
	const struct option *lo = kwctl_rim_opts;
	const char *file = NULL, *root = NULL, *at = NULL;
	json_t *rim = NULL, *doc = NULL, *outj = NULL;
	char *txt = NULL;
	int o, rc;

	if (argc < 1 || strcmp(argv[0], "verify") != 0)
		return kwctl_usage_error("unknown rim command (try 'kwctl rim verify --help')");
	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (o) {
		case R_FILE: file = optarg; break;
		case R_ROOT: root = optarg; break;
		case R_AT: at = optarg; break;
		case R_HELP:
		case 'h':
			kwctl_usage_rim(stdout);
			return 0;
		default:
			return kwctl_usage_error("rim verify: unknown option or missing value (see --help)");
		}
	}
	if (optind != argc)
		return kwctl_usage_error("rim verify: unexpected argument (see --help)");
	if (file == NULL || root == NULL)
		return kwctl_usage_error("rim verify: --file RIM and --root PEM are required");
	if ((rc = rim_load("rim verify", file, root, at, &rim, &doc)) != 0)
		return rc;
	if ((outj = json_pack("{s:o,s:o}", "rim", rim, "refval", doc)) == NULL ||
	    (txt = kw_json_dumps(outj, JSON_INDENT(2) | JSON_ENSURE_ASCII)) == NULL) {
		rc = kwctl_fail(KWCTL_EFAIL, "rim verify: out of memory");
		goto out;
	}
	rim = doc = NULL;   /* owned by outj */
	printf("%s\n", txt);
	rc = 0;
out:
	free(txt);
	json_decref(outj);
	return rc;
}
