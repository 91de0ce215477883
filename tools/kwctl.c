/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwctl: keywarden administration CLI.
 *   kwctl evidence verify ...            offline (kwctl_evidence.c)
 *   kwctl whoami | key | policy | refval | changes ...
 *                                        admin API over mutual TLS (kwctl_admin.c)
 * Exit status: enum kwctl_exit (kwctl.h). See docs/kwctl.md.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "kw_build.h"
#include "kw_json.h"
#include "kw_secret.h"
#include "kwctl.h"

static void
usage_main(FILE *f)
{
	fputs("usage: kwctl [--help] [--version] <command> [<args>]\n"
	    "\n"
	    "admin commands (HTTPS with a client certificate; see 'kwctl <command> --help'):\n"
	    "  whoami                         the caller's subject and grants\n"
	    "  key list|show|create|import|rotate|disable|enable|delete|set-policy\n"
	    "  policy put|show|history|list   policy documents (docs/policy.md)\n"
	    "  policy lint|explain            hygiene warnings; dry run against claims\n"
	    "  refval put|show|history|list   reference-value sets\n"
	    "  refval supersede               phase out a measurement for a new one\n"
	    "  refval import-rim              verify an NVIDIA RIM, store its measurements\n"
	    "  changes                        the admin change record\n"
	    "  report                         the governance report (auditor role)\n"
	    "  audit tail|show|proof|consistency\n"
	    "                                 the broker's audit log (auditor role)\n"
	    "\n"
	    "offline commands:\n"
	    "  evidence verify                verify attestation evidence and print claims\n"
	    "  audit verify|export            verify an exported audit log; export one\n"
	    "  rim verify                     verify an NVIDIA RIM and print its measurements\n"

	    "\n"
	    "connection options of every admin command (they override the profile):\n"
	    "  --profile FILE --url URL --cacert FILE --cert FILE --key FILE --json\n"
	    "profile: --profile, else $KWCTL_PROFILE, else ~/.config/keywarden/kwctl.json\n"
	    "\n"
	    "exit status: 0 ok, 1 refused or failed, 2 usage, 3 network/TLS, 4 not found,\n"
	    "             5 not permitted, 6 conflict, 7 server unavailable,\n"
	    "             8 policy lint found warnings, 9 policy explain: denied\n", f);
}

static void KW_PRINTF(1, 0)
vmsg(const char *fmt, va_list ap)
{
	fputs("kwctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int
kwctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	return KWCTL_EUSAGE;
}

int
kwctl_fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	return code;
}

static int
is_help(const char *s)
{
	return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 || strcmp(s, "help") == 0;
}

static int
run_admin(int (*cmd)(int, char **), int argc, char **argv)
{
	int rc;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return kwctl_fail(KWCTL_EFAIL, "cannot initialise libcurl");
	rc = cmd(argc, argv);
	curl_global_cleanup();
	return rc;
}

int
main(int argc, char **argv)
{
	const char *c;

	if (argc < 2) {
		usage_main(stderr);
		return KWCTL_EUSAGE;
	}
	c = argv[1];
	if (is_help(c)) {
		usage_main(stdout);
		return 0;
	}
	if (strcmp(c, "--version") == 0) {
		printf("kwctl %s\n", KW_VERSION);
		return 0;
	}
	kw_secret_harden_process();
	kw_json_init();
	if (strcmp(c, "evidence") == 0) {
		if (argc >= 3 && strcmp(argv[2], "verify") == 0)
			return kwctl_cmd_evidence_verify(argc - 2, argv + 2);
		if (argc >= 3 && is_help(argv[2])) {
			kwctl_usage_evidence_verify(stdout);
			return 0;
		}
		return kwctl_usage_error("unknown evidence command (try 'kwctl evidence verify --help')");
	}
	if (strcmp(c, "rim") == 0) {
		if (argc >= 3 && is_help(argv[2])) {
			kwctl_usage_rim(stdout);
			return 0;
		}
		return kwctl_cmd_rim(argc - 2, argv + 2);
	}
	if (strcmp(c, "audit") == 0 && argc >= 3 && (strcmp(argv[2], "tail") == 0 ||
	    strcmp(argv[2], "show") == 0 || strcmp(argv[2], "proof") == 0 ||
	    strcmp(argv[2], "consistency") == 0))
		return run_admin(kwctl_cmd_audit_admin, argc - 1, argv + 1);
	if (strcmp(c, "audit") == 0)
		return kwctl_cmd_audit(argc - 2, argv + 2);
	if (strcmp(c, "whoami") == 0)
		return run_admin(kwctl_cmd_whoami, argc - 1, argv + 1);
	if (strcmp(c, "key") == 0)
		return run_admin(kwctl_cmd_key, argc - 1, argv + 1);
	if (strcmp(c, "policy") == 0 || strcmp(c, "refval") == 0)
		return run_admin(kwctl_cmd_policy, argc - 1, argv + 1);
	if (strcmp(c, "report") == 0)
		return run_admin(kwctl_cmd_report, argc - 1, argv + 1);
	if (strcmp(c, "changes") == 0)
		return run_admin(kwctl_cmd_changes, argc - 1, argv + 1);
	return kwctl_usage_error("unknown command '%s' (try 'kwctl --help')", c);
}
