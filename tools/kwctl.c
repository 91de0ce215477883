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
#include "kw_err.h"
#include "kw_json.h"
#include "kw_secret.h"
#include "kwctl.h"

/*
 * The commands, in the order --help lists them: the admin groups' words come
 * from the admin table (kwctl_admin.c), the offline ones from here. The
 * same rows drive the completion script (kwctl --completion bash).
 */
struct top {
	const char *name;
	int admin;              /* 1: an admin command (its words: the admin table) */
	const char *words;      /* offline subcommand words; NULL: none */
	const char *help;
};

static const struct top tops[] = {
	{"whoami", 1, NULL, "the caller's subject and grants"},
	{"key", 1, NULL, "keys in the HSM: metadata, lifecycle, policy binding"},
	{"policy", 1, NULL, "policy documents (docs/policy.md); hygiene warnings; dry run"},
	{"refval", 1, NULL, "reference-value sets; phase out a measurement"},
	{"changes", 1, NULL, "the admin change record"},
	{"report", 1, NULL, "the governance report (auditor role)"},
	{"audit", 1, NULL, "the broker's audit log (auditor role)"},
	{"evidence", 0, "verify", "verify attestation evidence and print claims"},
	{"audit", 0, "verify export", "verify an exported audit log; export one"},
	{"rim", 0, "verify", "verify an NVIDIA RIM and print its measurements"},
};

/* "name w1|w2|..." of row t. */
static void
top_line(const struct top *t, char *buf, size_t len)
{
	char words[256];

	if (t->admin)
		kwctl_admin_subs(t->name, "|", words, sizeof(words));
	else
		snprintf(words, sizeof(words), "%s", t->words != NULL ? t->words : "");
	for (char *p = words; !t->admin && *p != '\0'; p++)
		if (*p == ' ')
			*p = '|';
	snprintf(buf, len, "%s%s%s", t->name, words[0] != '\0' ? " " : "", words);
}

static void
usage_main(FILE *f)
{
	char line[300];

	fputs("usage: kwctl [--help] [--version] <command> [<args>]\n", f);
	for (size_t i = 0; i < KW_ARRAY_SIZE(tops); i++) {
		if (i == 0 || tops[i].admin != tops[i - 1].admin)
			fputs(tops[i].admin ? "\nadmin commands (HTTPS with a client certificate; see "
			    "'kwctl <command> --help'):\n" : "\noffline commands:\n", f);
		top_line(&tops[i], line, sizeof(line));
		if (strlen(line) > 30)
			fprintf(f, "  %s\n%33s%s\n", line, "", tops[i].help);
		else
			fprintf(f, "  %-31s%s\n", line, tops[i].help);
	}
	fputs("\n"
	    "connection options of every admin command (they override the profile):\n"
	    "  --profile FILE --url URL --cacert FILE --cert FILE --key FILE --json\n"
	    "profile: --profile, else $KWCTL_PROFILE, else ~/.config/keywarden/kwctl.json\n"
	    "\n"
	    "exit status: 0 ok, 1 refused or failed, 2 usage, 3 network/TLS, 4 not found,\n"
	    "             5 not permitted, 6 conflict, 7 server unavailable,\n"
	    "             8 policy lint found warnings, 9 policy explain: denied\n", f);
}

/* Is o's name in a set before sets[s], or before o in sets[s]? */
static int
seen_before(const struct option *const *sets, size_t s, const struct option *o)
{
	for (size_t e = 0; e <= s; e++)
		for (const struct option *q = sets[e]; q->name != NULL && q != o; q++)
			if (strcmp(q->name, o->name) == 0)
				return 1;
	return 0;
}

int
kwctl_complete_opts(struct kw_complete *c, const char *path, const struct option *const *sets,
    const struct kwctl_optarg *args)
{
	char flag[48];
	int r;

	for (size_t s = 0; sets[s] != NULL; s++) {
		for (const struct option *o = sets[s]; o->name != NULL; o++) {
			const char *arg = NULL;

			if (seen_before(sets, s, o))
				continue;
			for (size_t a = 0; o->has_arg != no_argument && args[a].name != NULL; a++)
				if (strcmp(args[a].name, o->name) == 0)
					arg = args[a].arg;
			if (o->has_arg != no_argument && arg == NULL)
				return KW_ERR_INVALID_ARG;    /* every value needs a name */
			snprintf(flag, sizeof(flag), "--%s", o->name);
			if ((r = kw_complete_flag(c, path, flag, arg)) != 0)
				return r;
		}
	}
	return 0;
}

/* kwctl --completion bash: the script, from tops[], the admin table and the offline tables. */
static int
completion(const char *shell)
{
	static const struct option *const evidence[] = {kwctl_evidence_opts, kwctl_azure_opts,
		kwctl_cca_opts, NULL};
	static const struct option *const verify[] = {kwctl_audit_verify_opts, NULL};
	static const struct option *const export[] = {kwctl_audit_export_opts, NULL};
	static const struct option *const report[] = {kwctl_report_opts, NULL};
	static const struct option *const rim[] = {kwctl_rim_opts, NULL};
	struct kw_complete c;
	char words[512], audit[256], path[64];
	size_t n = 0;
	int r;

	if (strcmp(shell, "bash") != 0)
		return kwctl_usage_error("--completion: only bash is supported");
	words[0] = audit[0] = '\0';
	for (size_t i = 0; i < KW_ARRAY_SIZE(tops); i++) {
		int dup = 0;

		for (size_t k = 0; k < i; k++)
			dup |= strcmp(tops[k].name, tops[i].name) == 0;
		if (!dup && n < sizeof(words))
			n += (size_t)snprintf(words + n, sizeof(words) - n, "%s%s", n > 0 ? " " : "",
			    tops[i].name);
	}
	kwctl_admin_subs("audit", " ", audit, sizeof(audit));
	if ((r = kw_complete_begin(&c, stdout, "kwctl")) != 0 ||
	    (r = kw_complete_children(&c, "kwctl", words)) != 0 ||
	    (r = kw_complete_flag(&c, "kwctl", "--help", NULL)) != 0 ||
	    (r = kw_complete_flag(&c, "kwctl", "--version", NULL)) != 0 ||
	    (r = kwctl_admin_complete(&c)) != 0)
		goto out;
	for (size_t i = 0; i < KW_ARRAY_SIZE(tops); i++) {
		if (tops[i].words == NULL)
			continue;
		snprintf(path, sizeof(path), "kwctl %s", tops[i].name);
		/* audit: the admin words and the offline ones */
		snprintf(words, sizeof(words), "%s%s%s", strcmp(tops[i].name, "audit") == 0 ? audit : "",
		    strcmp(tops[i].name, "audit") == 0 ? " " : "", tops[i].words);
		if ((r = kw_complete_children(&c, path, words)) != 0)
			goto out;
	}
	if ((r = kwctl_complete_opts(&c, "kwctl evidence verify", evidence,
	    kwctl_evidence_args)) != 0 ||
	    (r = kwctl_complete_opts(&c, "kwctl audit verify", verify, kwctl_audit_args)) != 0 ||
	    (r = kwctl_complete_opts(&c, "kwctl audit export", export, kwctl_audit_args)) != 0 ||
	    (r = kwctl_complete_opts(&c, "kwctl report", report, kwctl_report_args)) != 0 ||
	    (r = kwctl_complete_opts(&c, "kwctl rim verify", rim, kwctl_rim_args)) != 0)
		goto out;
	r = kw_complete_end(&c);
out:
	if (r != 0 || fflush(stdout) != 0)
		return kwctl_fail(KWCTL_EFAIL, "--completion: cannot write the script (%s)",
		    kw_strerror(r != 0 ? r : KW_ERR_IO));
	return KWCTL_OK;
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
	if (strcmp(c, "--completion") == 0)    /* hidden: meson writes the script with it */
		return argc == 3 ? completion(argv[2]) :
		    kwctl_usage_error("--completion wants a shell (bash)");
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
