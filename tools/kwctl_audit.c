/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwctl audit verify --log FILE --checkpoint FILE --key FILE
 * kwctl audit verify --segment FILE --key FILE
 * kwctl audit export --db FILE [--from N] [--to N] [--out FILE] [--checkpoint-out FILE]
 *                    [--segment]
 * Offline: verify an exported audit log against a signed checkpoint and the
 * log's public key (audit/audit_verify.c), or a segment export on its own
 * (audit/audit_segment.c), and export records (and the newest stored
 * checkpoint), or a segment, from a database file read-only. docs/audit.md.
 * Exit status: 0 verified / exported, 1 the log or checkpoint does not
 * verify or the export failed, 2 usage or unreadable input.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "kw_err.h"
#include "kw_util.h"
#include "kwctl.h"

#define KWCTL_MAX_VKEY 1024

void
kwctl_usage_audit(FILE *f, const char *sub)
{
	const int verify = sub == NULL || strcmp(sub, "verify") == 0;
	const int export = sub == NULL || strcmp(sub, "export") == 0;

	if (verify)
		fputs("usage: kwctl audit verify --log FILE --checkpoint FILE --key FILE\n"
		    "       kwctl audit verify --segment FILE --key FILE\n", f);
	if (export)
		fprintf(f, "%s kwctl audit export --db FILE [--from N] [--to N] [--out FILE]\n"
		    "                          [--checkpoint-out FILE] [--segment]\n",
		    verify ? "      " : "usage:");
	fputc('\n', f);
	if (verify)
		fputs("  verify: check an exported log (JSON Lines, one record per line, from record 0)\n"
		    "          against a signed checkpoint (C2SP signed note) and the log's verifier key\n"
		    "          (<name>+<key id>+<base64 key>, one line); prints \"ok\" or the first bad\n"
		    "          record's index and why. --segment: check a segment export (below),\n"
		    "          which carries its own checkpoint and proofs, with the key alone\n", f);
	if (export)
		fputs("  export: write records [from, to) of the audit tables in a database file (read\n"
		    "          only; default: all) to --out (default: standard output), and the newest\n"
		    "          stored checkpoint to --checkpoint-out. --segment: write a segment: a\n"
		    "          header line with the stored checkpoint covering the range, the tree\n"
		    "          hashes left of --from and the consistency proof to the checkpoint (and\n"
		    "          the newest checkpoint with its proof), then the records; --to defaults\n"
		    "          to the newest checkpoint's size\n", f);
	fputs("\n"
	    "Exit status: 0 verified or exported, 1 not verified or failed, 2 usage or\n"
	    "unreadable input.\n", f);
}

const struct option kwctl_audit_verify_opts[] = {
	{"log", required_argument, NULL, 'l'},
	{"checkpoint", required_argument, NULL, 'c'},
	{"key", required_argument, NULL, 'k'},
	{"segment", required_argument, NULL, 's'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

const struct option kwctl_audit_export_opts[] = {
	{"db", required_argument, NULL, 'd'},
	{"from", required_argument, NULL, 'f'},
	{"to", required_argument, NULL, 't'},
	{"out", required_argument, NULL, 'o'},
	{"checkpoint-out", required_argument, NULL, 'c'},
	{"segment", no_argument, NULL, 's'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Value names of both (completion); --segment takes a FILE in verify only. */
const struct kwctl_optarg kwctl_audit_args[] = {
	{"log", "FILE"}, {"checkpoint", "FILE"}, {"key", "FILE"}, {"segment", "FILE"},
	{"db", "FILE"}, {"from", "N"}, {"to", "N"}, {"out", "FILE"}, {"checkpoint-out", "FILE"},
	{NULL, NULL},
};

/* A small text file without its trailing newline (malloc'd, NUL-terminated). */
static int
read_text(const char *path, size_t max, bool strip, char **ret, size_t *ret_len)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = kw_file_read(path, max, &buf, &len)) != 0)
		return r;
	if (memchr(buf, '\0', len) != NULL) {
		free(buf);
		return KW_ERR_INVALID_FORMAT;
	}
	while (strip && len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	*ret = (char *)buf;
	*ret_len = len;
	return 0;
}

static void
print_hex(const char *label, const uint8_t h[static AUDIT_HASH_LEN])
{
	printf("%s ", label);
	for (size_t i = 0; i < AUDIT_HASH_LEN; i++)
		printf("%02x", h[i]);
	putchar('\n');
}

/* kwctl audit verify --segment FILE --key FILE, the key already parsed. */
static int
verify_segment(const char *path, const struct audit_vkey *key)
{
	struct audit_verify_result res;
	struct audit_segment_info info;
	int r;

	if ((r = audit_verify_segment_file(path, key, &res, &info)) != 0) {
		switch (r) {
		case KW_ERR_IO:
		case KW_ERR_TOO_LARGE:
			return kwctl_usage_error("audit verify: cannot read the segment file");
		case KW_ERR_INVALID_FORMAT:
			return kwctl_fail(KWCTL_EFAIL, "audit verify: not a segment export (its"
			    " header line is missing or malformed)");
		case KW_ERR_NOT_FOUND:
			return kwctl_fail(KWCTL_EFAIL, "audit verify: the segment's checkpoint does"
			    " not verify with the key: another log's, or not signed by this key");
		case KW_ERR_MISMATCH:
			return kwctl_fail(KWCTL_EFAIL, "audit verify: the segment's newer checkpoint"
			    " is not consistent with its checkpoint: the log forked");
		default:
			return kwctl_fail(KWCTL_EFAIL, "audit verify: the segment's checkpoint does"
			    " not verify with the key: %s", kw_strerror(r));
		}
	}
	if (!res.ok) {
		printf("bad: first bad record %llu: %s\n", (unsigned long long)res.first_bad,
		    res.reason);
		return KWCTL_EFAIL;
	}
	printf("ok: records [%llu, %llu) of '%s' are leaves of the tree of size %llu its"
	    " checkpoint signs", (unsigned long long)info.from, (unsigned long long)info.to,
	    info.origin, (unsigned long long)info.size);
	if (info.latest_size > 0)
		printf("; the newer checkpoint of size %llu extends it",
		    (unsigned long long)info.latest_size);
	putchar('\n');
	print_hex("first-prev", info.first_prev);
	print_hex("last-leaf", info.last_leaf);
	return KWCTL_OK;
}

static int
cmd_verify(int argc, char **argv)
{
	const char *log = NULL, *cpath = NULL, *kpath = NULL, *spath = NULL;
	struct audit_verify_result res;
	struct audit_checkpoint cp;
	struct audit_vkey *key = NULL;
	char *note = NULL, *vtext = NULL;
	size_t note_len = 0, vlen = 0;
	int c, r, rc = KWCTL_EFAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", kwctl_audit_verify_opts, NULL)) != -1) {
		switch (c) {
		case 'l': log = optarg; break;
		case 'c': cpath = optarg; break;
		case 'k': kpath = optarg; break;
		case 's': spath = optarg; break;
		case 'h': kwctl_usage_audit(stdout, "verify"); return KWCTL_OK;
		default: return kwctl_usage_error("audit verify: unknown option (try --help)");
		}
	}
	if (optind == argc && spath != NULL && (log != NULL || cpath != NULL))
		return kwctl_usage_error("audit verify: a segment carries its checkpoint: --segment"
		    " goes with --key alone");
	if (optind != argc || kpath == NULL || (spath == NULL && (log == NULL || cpath == NULL)))
		return kwctl_usage_error("audit verify: --log, --checkpoint and --key (or --segment"
		    " and --key) are required");
	if (read_text(kpath, KWCTL_MAX_VKEY, true, &vtext, &vlen) != 0) {
		rc = kwctl_usage_error("audit verify: cannot read the key file");
		goto out;
	}
	if ((r = audit_vkey_parse(vtext, vlen, &key)) != 0) {
		rc = kwctl_usage_error("audit verify: the key is not an ECDSA P-256 verifier key"
		    " (%s)", kw_strerror(r));
		goto out;
	}
	if (spath != NULL) {
		rc = verify_segment(spath, key);
		goto out;
	}
	if (read_text(cpath, AUDIT_NOTE_MAX, false, &note, &note_len) != 0) {
		rc = kwctl_usage_error("audit verify: cannot read the checkpoint file");
		goto out;
	}
	if ((r = audit_checkpoint_verify(note, note_len, key, &cp)) != 0) {
		rc = kwctl_fail(KWCTL_EFAIL, "audit verify: the checkpoint does not verify with"
		    " the key: %s", kw_strerror(r));
		goto out;
	}
	if ((r = audit_verify_file(log, note, note_len, key, &res)) != 0) {
		rc = r == KW_ERR_IO || r == KW_ERR_TOO_LARGE ?
		    kwctl_usage_error("audit verify: cannot read the log file") :
		    kwctl_fail(KWCTL_EFAIL, "audit verify: %s", kw_strerror(r));
		goto out;
	}
	if (!res.ok) {
		printf("bad: first bad record %llu: %s\n", (unsigned long long)res.first_bad,
		    res.reason);
		rc = KWCTL_EFAIL;
		goto out;
	}
	printf("ok: %llu records, the checkpoint of '%s' vouches for the first %llu\n",
	    (unsigned long long)res.records, cp.origin, (unsigned long long)res.checked);
	rc = KWCTL_OK;
out:
	audit_vkey_free(key);
	free(note);
	free(vtext);
	return rc;
}

static int
parse_u64(const char *s, uint64_t *ret)
{
	char *end = NULL;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > (unsigned long long)INT64_MAX)
		return -1;
	*ret = v;
	return 0;
}

/* The size of the newest stored checkpoint. */
static int
latest_size(struct audit_db *db, uint64_t *ret)
{
	struct audit_checkpoint cp;
	char *note = NULL;
	int r;

	if ((r = audit_db_checkpoint_latest(db, &note)) != 0)
		return r;
	r = audit_checkpoint_parse(note, strlen(note), &cp);
	free(note);
	if (r == 0)
		*ret = cp.size;
	return r;
}

static int
cmd_export(int argc, char **argv)
{
	const char *db_path = NULL, *out = NULL, *cp_out = NULL;
	uint64_t from = 0, to = UINT64_MAX, size = 0;
	bool segment = false;
	struct audit_db *db = NULL;
	char *note = NULL;
	FILE *f = NULL;
	int c, r, rc = KWCTL_EFAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", kwctl_audit_export_opts, NULL)) != -1) {
		switch (c) {
		case 'd': db_path = optarg; break;
		case 'o': out = optarg; break;
		case 'c': cp_out = optarg; break;
		case 's': segment = true; break;
		case 'f':
			if (parse_u64(optarg, &from) != 0)
				return kwctl_usage_error("audit export: --from wants a record index");
			break;
		case 't':
			if (parse_u64(optarg, &to) != 0)
				return kwctl_usage_error("audit export: --to wants a record index");
			break;
		case 'h': kwctl_usage_audit(stdout, "export"); return KWCTL_OK;
		default: return kwctl_usage_error("audit export: unknown option (try --help)");
		}
	}
	if (optind != argc || db_path == NULL)
		return kwctl_usage_error("audit export: --db is required");
	if ((r = audit_db_open(db_path, true, &db)) != 0)
		return kwctl_usage_error("audit export: cannot open the audit tables: %s",
		    kw_strerror(r));
	if ((r = audit_db_size(db, &size)) != 0) {
		rc = kwctl_fail(KWCTL_EFAIL, "audit export: %s", kw_strerror(r));
		goto out;
	}
	if (segment && to == UINT64_MAX && (r = latest_size(db, &to)) != 0) {
		rc = kwctl_fail(KWCTL_EFAIL, "audit export: no stored checkpoint: %s",
		    kw_strerror(r));
		goto out;
	}
	if (to > size)
		to = size;
	if (segment && from >= to) {
		rc = kwctl_usage_error("audit export: a segment needs --from below --to (and the"
		    " end of the log)");
		goto out;
	}
	if (from > to) {
		rc = kwctl_usage_error("audit export: --from is past the end of the log");
		goto out;
	}
	if (out != NULL && (f = fopen(out, "wx")) == NULL) {
		rc = kwctl_usage_error("audit export: cannot create the output file (it must not"
		    " exist)");
		goto out;
	}
	if (segment)
		r = audit_segment_export(db, from, to, f != NULL ? f : stdout, NULL);
	else
		r = audit_db_export(db, from, to, f != NULL ? f : stdout);
	if (r == KW_ERR_NOT_FOUND && segment) {
		rc = kwctl_fail(KWCTL_EFAIL, "audit export: no stored checkpoint covers record"
		    " %llu yet: export a shorter range (--to) or wait for the next checkpoint",
		    (unsigned long long)(to - 1));
		goto out;
	}
	if (r != 0) {
		rc = kwctl_fail(KWCTL_EFAIL, "audit export: %s", kw_strerror(r));
		goto out;
	}
	if (cp_out != NULL) {
		if ((r = audit_db_checkpoint_latest(db, &note)) != 0) {
			rc = kwctl_fail(KWCTL_EFAIL, "audit export: no checkpoint: %s",
			    kw_strerror(r));
			goto out;
		}
		if (kw_file_write_atomic(cp_out, note, strlen(note), 0644) != 0) {
			rc = kwctl_fail(KWCTL_EFAIL, "audit export: cannot write the checkpoint file");
			goto out;
		}
	}
	rc = KWCTL_OK;
out:
	if (f != NULL && fclose(f) != 0 && rc == KWCTL_OK)
		rc = kwctl_fail(KWCTL_EFAIL, "audit export: cannot write the output file");
	if (f == NULL && rc == KWCTL_OK && fflush(stdout) != 0)
		rc = kwctl_fail(KWCTL_EFAIL, "audit export: cannot write standard output");
	free(note);
	audit_db_close(db);
	return rc;
}

int
kwctl_cmd_audit(int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "verify") == 0)
		return cmd_verify(argc, argv);
	if (argc >= 1 && strcmp(argv[0], "export") == 0)
		return cmd_export(argc, argv);
	if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
	    strcmp(argv[0], "help") == 0)) {
		kwctl_usage_audit(stdout, NULL);
		return KWCTL_OK;
	}
	return kwctl_usage_error("unknown audit command (try 'kwctl audit --help')");
}
