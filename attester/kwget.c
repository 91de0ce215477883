/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwget: fetch a key from a keywarden broker with fresh TEE evidence; a thin
 * command line over libkwattester (kwattester.h). The flow, retries and
 * evidence are the library's; this file parses options, checks outputs
 * before any network traffic and writes the key (file, standard output or
 * the kernel keyring). See docs/kwget.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <keyutils.h>
#include <linux/magic.h>

#include "attester.h"
#include "att_nvgpu_emu.h"
#include "att_tdx_emu.h"
#include "kw_build.h"
#include "kw_complete.h"
#include "kw_json.h"
#include "kw_name.h"
#include "kw_secret.h"
#include "kw_util.h"
#include "kwa_internal.h"
#include "kwattester.h"

/* Exit codes: enum kwa_status (kwattester.h), 0 and 1..8. */
enum {
	EXIT_USAGE = KWA_ERR_USAGE,
	EXIT_LOCAL = KWA_ERR_LOCAL,
	EXIT_NO_TEE = KWA_ERR_NO_TEE,
};

#define MAX_DEADLINE_S 86400
#define MAX_KEY_DESC 256
#define DETECT_REPORT_MAX 2048

struct opts {
	const char *url;
	const char *resource;
	const char *cacert;
	const char *out;
	int to_stdout, force_tty, require_tmpfs;
	const char *keyring;           /* "user", "session" or "@NAME" */
	const char *key_desc;          /* --key-description */
	enum att_key_format format;
	int format_set;
	const char *emulate;           /* "snp" or "tdx" */
	const char *emu_dir;
	const char *emu_collateral_out;   /* write the emulated platform's TDX collateral, exit */
	int emu_debug;
	int have_meas, have_rd;
	uint8_t emu_meas[ATT_MEASUREMENT_LEN];
	uint8_t emu_rd[ATT_REPORT_DATA_LEN];
	const char *save_attest;
	const char *jwe_out;
	const char *tee_key_out;
	const char *token_out;
	int quiet;
	struct att_manifest_opts man;
	int no_manifest;
	const char *tee;               /* --tee NAME, or NULL (auto) */
	uint32_t tpm_ek_handle, tpm_ak_handle;   /* persistent handles, 0: create */
	const char *tpm_event_log;     /* --tpm-event-log FILE */
	int tpm_no_event_log;
	int detect;
	long retries;                  /* -1: the library's default */
	long deadline_s, connect_s, request_s;   /* 0: the library's default */
	unsigned int emu_gpus;         /* --emu-gpus N: emulated GPUs beside the CPU evidence */
	int gpus;                      /* --gpus: enum kwa_gpus, default auto */
	const char *emu_gpu_dir;       /* --emu-gpu-dir DIR: scripts/mk-nvgpu-emu.sh */
};

static int quiet;

static void KW_PRINTF(1, 2)
say(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	fputs("kwget: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Errors are always printed, as one line. */
static int KW_PRINTF(2, 3)
fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("kwget: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* The library's progress lines, as kwget's own. */
static void
on_log(void *arg, int level, const char *line)
{
	(void)arg;
	(void)level;
	say("%s", line);
}

static void usage(FILE *f);

/* ---- outputs ---- */

static int
exists(const char *path)
{
	struct stat st;

	return path != NULL && lstat(path, &st) == 0;
}

/*
 * The file system FILE would be created on (its directory's): 1 when it is
 * tmpfs or ramfs (memory only), 0 otherwise, -1 when it cannot be told.
 * *ret_type gets statfs's f_type.
 */
static int
on_memory_fs(const char *file, long *ret_type)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(file, '/');
	struct statfs sf;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == file)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - file) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - file), file);
	else
		return -1;
	if (statfs(dir, &sf) != 0)
		return -1;
	*ret_type = (long)sf.f_type;
	return sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC;
}

/* The keyring to add to: user, session, or NAME found or created under the user keyring. */
static int
keyring_target(const char *spec, key_serial_t *ret, const char **ret_what)
{
	key_serial_t k;
	long found;

	if (strcmp(spec, "user") == 0) {
		*ret = KEY_SPEC_USER_KEYRING;
		*ret_what = "the user keyring";
		return 0;
	}
	if (strcmp(spec, "session") == 0) {
		*ret = KEY_SPEC_SESSION_KEYRING;
		*ret_what = "the session keyring";
		return 0;
	}
	/* a keyring of that name reachable from the user keyring, else a new one linked there */
	found = keyctl_search(KEY_SPEC_USER_KEYRING, "keyring", spec + 1, 0);
	if (found >= 0 && found <= INT32_MAX) {
		k = (key_serial_t)found;
	} else {
		/*
		 * New: searchable by its uid, or a later run without possession of
		 * the user keyring (a systemd service's private session keyring) would
		 * not find it and displace it with a new one.
		 */
		k = add_key("keyring", spec + 1, NULL, 0, KEY_SPEC_USER_KEYRING);
		if (k >= 0 && keyctl_setperm(k, KEY_POS_ALL | KEY_USR_VIEW | KEY_USR_READ |
		    KEY_USR_SEARCH) != 0) {
			(void)keyctl_invalidate(k);
			k = -1;
		}
	}
	if (k < 0)
		return fail(EXIT_LOCAL, "output failed: cannot find or create keyring '%s' under the "
		    "user keyring: %s", spec + 1, strerror(errno));
	*ret = k;
	*ret_what = "the keyring";
	return 0;
}

/*
 * add_key(2) "user" key: possessor all, and the same uid may view, read and
 * search it (cryptsetup and other services of this user read it without
 * possessing it). The serial goes to standard output.
 */
static int
emit_keyring(const struct opts *o, const uint8_t *k, size_t n, const char *fp)
{
	char desc[MAX_KEY_DESC + 1];
	key_serial_t ring, key;
	const char *what = NULL;
	int code;

	if (o->key_desc != NULL)
		snprintf(desc, sizeof(desc), "%s", o->key_desc);
	else
		snprintf(desc, sizeof(desc), "keywarden:%s", o->resource);
	if ((code = keyring_target(o->keyring, &ring, &what)) != 0)
		return code;
	if ((key = add_key("user", desc, k, n, ring)) < 0)
		return fail(EXIT_LOCAL, "output failed: add_key to %s: %s", o->keyring, strerror(errno));
	if (keyctl_setperm(key, KEY_POS_ALL | KEY_USR_VIEW | KEY_USR_READ | KEY_USR_SEARCH) != 0) {
		(void)keyctl_invalidate(key);
		return fail(EXIT_LOCAL, "output failed: cannot set the key's permissions: %s",
		    strerror(errno));
	}
	printf("%ld\n", (long)key);
	if (fflush(stdout) != 0)
		return fail(EXIT_LOCAL, "output failed: cannot write the key's serial to standard output");
	say("released: key '%s' (%zu bytes, fingerprint %s) added to %s%s%s as key %ld, "
	    "description '%s'", o->resource, n, fp, what, o->keyring[0] == '@' ? " " : "",
	    o->keyring[0] == '@' ? o->keyring + 1 : "", (long)key, desc);
	return 0;
}

static int
emit_key(const struct opts *o, const uint8_t *k, size_t n)
{
	struct kw_secret *enc = NULL;
	char fp[17];
	long fstype = 0;
	int r, code = 0;

	kw_fp(k, n, fp);
	if (o->keyring != NULL)
		return emit_keyring(o, k, n, fp);
	if ((r = att_key_encode(o->format, k, n, &enc)) != 0)
		return fail(EXIT_LOCAL, "output failed: %s", kw_strerror(r));
	if (o->to_stdout) {
		if (kwa_write_fd(STDOUT_FILENO, kw_secret_cptr(enc), kw_secret_len(enc)) != 0)
			code = fail(EXIT_LOCAL, "output failed: cannot write to standard output");
	} else {
		if (on_memory_fs(o->out, &fstype) == 0)
			say("warning: %s is not on tmpfs or ramfs (file system type 0x%lx): the key "
			    "stays on persistent storage until it is deleted", o->out, fstype);
		if ((r = kwa_write_new_file(o->out, kw_secret_cptr(enc), kw_secret_len(enc))) != 0)
			code = fail(EXIT_LOCAL, "output failed: cannot create %s: %s", o->out,
			    r == KW_ERR_EXISTS ? "file exists" : kw_strerror(r));
	}
	kw_secret_free(enc);
	if (code == 0)
		say("released: key '%s' (%zu bytes, fingerprint %s) written to %s%s", o->resource, n,
		    fp, o->to_stdout ? "standard output" : o->out, o->format == ATT_KEY_HEX ? " (hex)" :
		    o->format == ATT_KEY_BASE64 ? " (base64)" : "");
	return code;
}

/* Before any network traffic: the outputs can be made. */
static int
check_outputs(const struct opts *o)
{
	long fstype = 0;

	if (exists(o->out))
		return fail(EXIT_LOCAL, "output failed: %s exists; refusing to overwrite", o->out);
	if (exists(o->token_out))
		return fail(EXIT_LOCAL, "output failed: %s exists; refusing to overwrite", o->token_out);
	if (o->out != NULL && o->require_tmpfs) {
		int mem = on_memory_fs(o->out, &fstype);

		if (mem < 0)
			return fail(EXIT_LOCAL, "output failed: cannot tell the file system of %s's "
			    "directory (--require-tmpfs)", o->out);
		if (mem == 0)
			return fail(EXIT_LOCAL, "output failed: %s is not on tmpfs or ramfs "
			    "(--require-tmpfs)", o->out);
	}
	if (o->to_stdout && !o->force_tty && isatty(STDOUT_FILENO))
		return fail(EXIT_USAGE, "refusing to write the key to a terminal: pipe standard output, "
		    "use --out or --keyring, or give --force-tty");
	return 0;
}

/* ---- arguments ---- */

enum {
	OPT_URL = 256, OPT_RESOURCE, OPT_CACERT, OPT_OUT, OPT_STDOUT, OPT_EMULATE, OPT_EMU_DIR,
	OPT_EMU_MEAS, OPT_EMU_DEBUG, OPT_EMU_RD, OPT_SAVE_ATTEST, OPT_JWE_OUT, OPT_TEE_KEY_OUT,
	OPT_TOKEN_OUT, OPT_QUIET, OPT_HELP, OPT_VERSION, OPT_ROOT_STORE, OPT_TLS_CONFIG,
	OPT_TLS_SECTION, OPT_CRYPTO_CONFIG, OPT_NO_MANIFEST, OPT_EMU_COLLATERAL_OUT,
	OPT_TEE, OPT_TPM_EK_HANDLE, OPT_TPM_AK_HANDLE, OPT_TPM_EVENT_LOG, OPT_TPM_NO_EVENT_LOG,
	OPT_DETECT, OPT_RETRIES, OPT_DEADLINE, OPT_CONNECT_TIMEOUT, OPT_REQUEST_TIMEOUT,
	OPT_KEYRING, OPT_KEY_DESC, OPT_FORMAT, OPT_FORCE_TTY, OPT_REQUIRE_TMPFS,
	OPT_EMU_GPUS, OPT_EMU_GPU_DIR, OPT_GPUS, OPT_COMPLETION,
};

/*
 * Every option, in --help's order: its name, whether it takes a value, the
 * value's name and the help text (lines joined by "\n"). The same rows are
 * getopt_long's table (longopts, filled from them) and the completion
 * script's (kwget --completion bash); help NULL: not listed (hidden).
 */
struct kwget_opt {
	const char *name;
	int has_arg;
	int val;
	const char *arg;
	const char *help;
};

static const struct kwget_opt opts[] = {
	{"url", required_argument, OPT_URL, "URL", "broker base URL, https://host[:port][/prefix]"},
	{"resource", required_argument, OPT_RESOURCE, "R/T/G", "key to fetch: repository/type/tag"},
	{"cacert", required_argument, OPT_CACERT, "FILE",
	 "CA certificate(s) to verify the broker (default: system store)"},
	{"out", required_argument, OPT_OUT, "FILE",
	 "write the key here (must not exist; warns unless on tmpfs)"},
	{"require-tmpfs", no_argument, OPT_REQUIRE_TMPFS, NULL,
	 "refuse an --out FILE that is not on tmpfs or ramfs"},
	{"stdout", no_argument, OPT_STDOUT, NULL, "write the key to standard output (not to a terminal)"},
	{"force-tty", no_argument, OPT_FORCE_TTY, NULL, "allow --stdout on a terminal"},
	{"keyring", required_argument, OPT_KEYRING, "user|session|@NAME",
	 "add the key (type user) to the user or session keyring,\n"
	 "or to the keyring NAME under the user keyring (found or\n"
	 "created); prints the key's serial number"},
	{"key-description", required_argument, OPT_KEY_DESC, "DESC",
	 "the key's description (default keywarden:REPO/TYPE/TAG)"},
	{"format", required_argument, OPT_FORMAT, "raw|hex|base64",
	 "encoding for --out and --stdout (default raw)"},
	{"retries", required_argument, OPT_RETRIES, "N",
	 "retries of a transient failure per request (default 5;\n0: none)"},
	{"deadline", required_argument, OPT_DEADLINE, "SECONDS", "give up after this long in all (default 60)"},
	{"connect-timeout", required_argument, OPT_CONNECT_TIMEOUT, "SECONDS",
	 "connection timeout per attempt (default 10)"},
	{"request-timeout", required_argument, OPT_REQUEST_TIMEOUT, "SECONDS",
	 "request timeout per attempt (default 60)"},
	{"tee", required_argument, OPT_TEE, "auto|snp|tdx|tpm|az-snp-vtpm|az-tdx-vtpm",
	 "the evidence source; default auto (see --detect)\n"
	 "snp, tdx: configfs-tsm; tpm: this machine's TPM 2.0\n"
	 "(TCTI from $TPM2TOOLS_TCTI, else $TCTI, else\n"
	 "device:/dev/tpmrm0); az-snp-vtpm, az-tdx-vtpm: an Azure\n"
	 "confidential VM's vTPM (HCL report in NV 0x01400001, AK at\n"
	 "0x81000003, TCTI from $KWGET_TCTI, else $TPM2TOOLS_TCTI,\n"
	 "else device:/dev/tpmrm0) and Azure IMDS"},
	{"detect", no_argument, OPT_DETECT, NULL, "print what TEE this machine offers and exit"},
	{"tpm-ek-handle", required_argument, OPT_TPM_EK_HANDLE, "HEX",
	 "use the persistent EK at HEX (default: create it from the\n"
	 "TCG default RSA-2048 template)"},
	{"tpm-ak-handle", required_argument, OPT_TPM_AK_HANDLE, "HEX",
	 "use the persistent AK at HEX (default: create a primary\n"
	 "restricted RSA-2048 RSASSA/SHA-256 signing key)"},
	{"tpm-event-log", required_argument, OPT_TPM_EVENT_LOG, "FILE",
	 "send this TCG event log (default: the kernel's\n"
	 "binary_bios_measurements when readable)"},
	{"tpm-no-event-log", no_argument, OPT_TPM_NO_EVENT_LOG, NULL, "send no event log"},
	{"emulate", required_argument, OPT_EMULATE, "snp|tdx|cca",
	 "TESTING ONLY: emulated SEV-SNP report or TDX quote signed by\n"
	 "a test chain (every certificate says it is not AMD's/Intel's),\n"
	 "or an Arm CCA token signed by a test CPAK (\"NOT ARM\")"},
	{"emu-dir", required_argument, OPT_EMU_DIR, "DIR",
	 "the test chain: scripts/mk-emu-chain.sh (snp),\n"
	 "scripts/mk-tdx-emu.sh (tdx); cca: DIR/cpak.key, made with\n"
	 "DIR/cpak-pub.json (for cca.test_cpaks) when missing"},
	{"emu-measurement", required_argument, OPT_EMU_MEAS, "HEX",
	 "emulated MEASUREMENT (snp), MRTD (tdx) or the first 48 bytes of\n"
	 "the RIM (cca), 48 bytes"},
	{"emu-debug", no_argument, OPT_EMU_DEBUG, NULL,
	 "emulated guest with debugging on (POLICY.DEBUG, TD_ATTRIBUTES.DEBUG,\n"
	 "CCA lifecycle non-cca-platform-rot-debug)"},
	{"emu-report-data", required_argument, OPT_EMU_RD, "HEX",
	 "emulated REPORT_DATA (64 bytes), breaking the binding"},
	{"emu-collateral-out", required_argument, OPT_EMU_COLLATERAL_OUT, "FILE",
	 "write Intel-format collateral (QuoteCollateralV3) matching\n"
	 "the emulated TDX platform, valid 30 days, for a broker's\n"
	 "offline tdx.collateral directory, and exit"},
	{"gpus", required_argument, OPT_GPUS, "auto|none|required",
	    "NVIDIA GPUs through NVML (libnvidia-ml.so.1, loaded at run\n"
	    "time): auto (default: every GPU NVML reports; none found:\n"
	    "CPU evidence alone), none, or required (no GPU: exit 7)"},
	{"emu-gpus", required_argument, OPT_EMU_GPUS, "N",
	 "TESTING ONLY: add N (1..8) emulated NVIDIA GPU reports\n"
	 "(composite evidence, \"gpus\") signed by the NOT NVIDIA\n"
	 "chain in --emu-gpu-dir (scripts/mk-nvgpu-emu.sh)"},
	{"emu-gpu-dir", required_argument, OPT_EMU_GPU_DIR, "DIR", "the GPU emulation chain for --emu-gpus"},
	{"save-attest-request", required_argument, OPT_SAVE_ATTEST, "FILE",
	 "write the exact attest request body to FILE"},
	{"jwe-out", required_argument, OPT_JWE_OUT, "FILE", "write the compact JWE received to FILE"},
	{"tee-key-out", required_argument, OPT_TEE_KEY_OUT, "FILE",
	 "write the TEE RSA private key (PEM, 0600) to FILE"},
	{"token-out", required_argument, OPT_TOKEN_OUT, "FILE",
	 "write the TEE-bound token from attest (0600) to FILE"},
	{"root-store", required_argument, OPT_ROOT_STORE, "PATH",
	 "measure this trust store (PEM bundle or CApath directory)"},
	{"tls-config", required_argument, OPT_TLS_CONFIG, "FILE",
	 "measure the TLS settings of this OpenSSL configuration\n"
	 "(default: this process's OpenSSL TLS defaults)"},
	{"tls-config-section", required_argument, OPT_TLS_SECTION, "NAME",
	 "the ssl_conf entry to read (default: system_default)"},
	{"crypto-config", required_argument, OPT_CRYPTO_CONFIG, "FILE",
	 "the workload's declared key lengths (JSON)"},
	{"no-manifest", no_argument, OPT_NO_MANIFEST, NULL,
	 "send an empty configuration manifest (\"config\": {})"},
	{"quiet", no_argument, OPT_QUIET, NULL, "print errors only"},
	{"help", no_argument, OPT_HELP, NULL, "show this help and exit"},
	{"version", no_argument, OPT_VERSION, NULL, "show the version and exit"},
	{"completion", required_argument, OPT_COMPLETION, "bash", NULL},
};

/* getopt_long's table: opts[] and the zero row (longopts_fill). */
static struct option longopts[KW_ARRAY_SIZE(opts) + 1];

static void
longopts_fill(void)
{
	for (size_t i = 0; i < KW_ARRAY_SIZE(opts); i++)
		longopts[i] = (struct option){opts[i].name, opts[i].has_arg, NULL, opts[i].val};
}

#define HELP_COL 25    /* the column of the help text */

static void
usage(FILE *f)
{
	fputs("usage: kwget --url URL --resource REPO/TYPE/TAG\n"
	      "             (--out FILE | --stdout | --keyring user|session|@NAME)\n"
	      "             [--format raw|hex|base64] [--require-tmpfs] [--force-tty]\n"
	      "             [--key-description DESC] [--cacert FILE] [--quiet]\n"
	      "             [--retries N] [--deadline SECONDS] [--connect-timeout SECONDS]\n"
	      "             [--request-timeout SECONDS]\n"
	      "             [--tee auto|snp|tdx|tpm|az-snp-vtpm|az-tdx-vtpm]\n"
	      "             [--tpm-ek-handle HEX] [--tpm-ak-handle HEX]\n"
	      "             [--tpm-event-log FILE | --tpm-no-event-log]\n"
	      "             [--emulate snp|tdx|cca --emu-dir DIR [--emu-measurement HEX] [--emu-debug]\n"
	      "              [--emu-report-data HEX]] [--emu-gpus N --emu-gpu-dir DIR]\n"
	      "             [--gpus auto|none|required]\n"
	      "             [--save-attest-request FILE] [--jwe-out FILE] [--tee-key-out FILE]\n"
	      "             [--token-out FILE]\n"
	      "             [--root-store PATH] [--tls-config FILE [--tls-config-section NAME]]\n"
	      "             [--crypto-config FILE] | [--no-manifest]\n"
	      "       kwget --detect\n"
	      "       kwget --emulate tdx --emu-dir DIR --emu-collateral-out FILE\n"
	      "       kwget --help | --version\n"
	      "\n"
	      "Proves this machine with fresh TEE evidence (SEV-SNP or TDX through configfs-tsm,\n"
	      "a TPM 2.0, an Azure vTPM) to the keywarden broker at URL (https only, TLS 1.3) and\n"
	      "writes the released key to FILE (created new, mode 0600), to standard output or\n"
	      "into a kernel keyring.\n"
	      "\n", f);
	for (size_t i = 0; i < KW_ARRAY_SIZE(opts); i++) {
		const char *h = opts[i].help;
		int n;

		if (h == NULL)
			continue;
		n = fprintf(f, "  --%s%s%s", opts[i].name, opts[i].arg != NULL ? " " : "",
		    opts[i].arg != NULL ? opts[i].arg : "");
		if (n < 0 || n >= HELP_COL)
			n = fprintf(f, "\n%*s", HELP_COL, "") - 1;
		fprintf(f, "%*s", HELP_COL - n, "");
		for (const char *e; (e = strchr(h, '\n')) != NULL; h = e + 1)
			fprintf(f, "%.*s\n%*s", (int)(e - h), h, HELP_COL, "");
		fprintf(f, "%s\n", h);
	}
	fputs("\n"
	      "Exit: 0 ok, 1 usage or configuration, 2 broker unreachable (network/TLS),\n"
	      "      3 attestation denied (401/403), 4 not found, 5 other server error (also\n"
	      "      429/502/503/504 once retries or the deadline ran out), 6 local error,\n"
	      "      7 evidence unavailable (no TEE found), 8 key larger than kwget's buffer.\n", f);
}

/* kwget --completion bash: the script, from opts[] (hidden rows left out). */
static int
completion(const char *shell)
{
	struct kw_complete c;
	char flag[48];
	int r;

	if (strcmp(shell, "bash") != 0)
		return fail(EXIT_USAGE, "--completion: only bash is supported");
	if ((r = kw_complete_begin(&c, stdout, "kwget")) != 0)
		goto out;
	for (size_t i = 0; i < KW_ARRAY_SIZE(opts); i++) {
		if (opts[i].help == NULL)
			continue;
		snprintf(flag, sizeof(flag), "--%s", opts[i].name);
		if ((r = kw_complete_flag(&c, "kwget", flag,
		    opts[i].has_arg != no_argument ? opts[i].arg : NULL)) != 0)
			goto out;
	}
	r = kw_complete_end(&c);
out:
	if (r != 0 || fflush(stdout) != 0)
		return fail(EXIT_LOCAL, "--completion: cannot write the script");
	return -1;
}

/* A persistent handle: 0x81000000..0x81ffffff in hex. */
static int
parse_handle(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno != 0 || end == s || *end != '\0' || v < 0x81000000ul || v > 0x81fffffful)
		return -1;
	*ret = (uint32_t)v;
	return 0;
}

/* A decimal integer in [min, max]. */
static int
parse_long(const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*ret = v;
	return 0;
}

/* --keyring: user, session or @NAME (NAME 1..255 visible characters). */
static int
keyring_spec_valid(const char *s)
{
	size_t n;

	if (strcmp(s, "user") == 0 || strcmp(s, "session") == 0)
		return 1;
	if (s[0] != '@' || (n = strlen(s + 1)) == 0 || n > 255)
		return 0;
	for (size_t i = 1; s[i] != '\0'; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

/* The checks the options need among themselves; 0 or EXIT_USAGE (printed). */
static int
check_args(struct opts *o)
{
	int nout;

	if (o->detect) {
		if (o->url != NULL || o->resource != NULL || o->out != NULL || o->to_stdout ||
		    o->keyring != NULL || o->emulate != NULL || o->tee != NULL)
			return fail(EXIT_USAGE, "--detect takes no other options but --quiet");
		return 0;
	}
	if (o->url == NULL)
		return fail(EXIT_USAGE, "missing --url (see kwget --help)");
	if (strncmp(o->url, "https://", 8) != 0)
		return fail(EXIT_USAGE, "--url must be an https:// URL");
	if (o->resource == NULL)
		return fail(EXIT_USAGE, "missing --resource REPO/TYPE/TAG (see kwget --help)");
	if (!kw_resource_path_valid(o->resource))
		return fail(EXIT_USAGE, "--resource must be REPO/TYPE/TAG of [A-Za-z0-9._-], "
		    "at most %d characters each", KW_NAME_MAX);
	nout = (o->out != NULL) + (o->to_stdout != 0) + (o->keyring != NULL);
	if (nout != 1)
		return fail(EXIT_USAGE, "give exactly one of --out FILE, --stdout or --keyring");
	if (o->keyring != NULL && !keyring_spec_valid(o->keyring))
		return fail(EXIT_USAGE, "--keyring takes user, session or @NAME");
	if (o->key_desc != NULL && (o->keyring == NULL || o->key_desc[0] == '\0' ||
	    strlen(o->key_desc) > MAX_KEY_DESC))
		return fail(EXIT_USAGE, "--key-description needs --keyring and 1 to %d characters",
		    MAX_KEY_DESC);
	if (o->format_set && o->keyring != NULL)
		return fail(EXIT_USAGE, "--format applies to --out and --stdout (the keyring gets the "
		    "raw key)");
	if (o->force_tty && !o->to_stdout)
		return fail(EXIT_USAGE, "--force-tty needs --stdout");
	if (o->require_tmpfs && o->out == NULL)
		return fail(EXIT_USAGE, "--require-tmpfs needs --out FILE");
	if (o->no_manifest && (o->man.root_store != NULL || o->man.tls_config != NULL ||
	    o->man.tls_section != NULL || o->man.crypto_config != NULL))
		return fail(EXIT_USAGE, "--no-manifest excludes --root-store, --tls-config, "
		    "--tls-config-section and --crypto-config");
	if (o->tee != NULL && (o->emulate != NULL || o->emu_dir != NULL || o->have_meas ||
	    o->have_rd || o->emu_debug))
		return fail(EXIT_USAGE, "--tee %s excludes --emulate and the --emu-* options", o->tee);
	if ((o->tee == NULL || strcmp(o->tee, "tpm") != 0) && (o->tpm_ek_handle != 0 ||
	    o->tpm_ak_handle != 0 || o->tpm_event_log != NULL || o->tpm_no_event_log))
		return fail(EXIT_USAGE, "--tpm-* options need --tee tpm");
	if (o->emulate != NULL) {
		if (strcmp(o->emulate, "snp") != 0 && strcmp(o->emulate, "tdx") != 0 &&
		    strcmp(o->emulate, "cca") != 0)
			return fail(EXIT_USAGE, "--emulate supports 'snp', 'tdx' and 'cca'");
		if (o->emu_dir == NULL)
			return fail(EXIT_USAGE, "--emulate %s needs --emu-dir DIR", o->emulate);
	} else if (o->emu_dir != NULL || o->have_meas || o->have_rd || o->emu_debug) {
		return fail(EXIT_USAGE, "--emu-* options need --emulate snp or --emulate tdx");
	}
	return 0;
}

/* 0 to run, -1 to exit 0 (help/version), or an exit code. */
static int
parse_args(int argc, char **argv, struct opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->retries = -1;
	o->gpus = KWA_GPUS_AUTO;
	opterr = 0;
	longopts_fill();
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_URL: o->url = optarg; break;
		case OPT_RESOURCE: o->resource = optarg; break;
		case OPT_CACERT: o->cacert = optarg; break;
		case OPT_OUT: o->out = optarg; break;
		case OPT_STDOUT: o->to_stdout = 1; break;
		case OPT_EMULATE: o->emulate = optarg; break;
		case OPT_EMU_DIR: o->emu_dir = optarg; break;
		case OPT_EMU_DEBUG: o->emu_debug = 1; break;
		case OPT_EMU_COLLATERAL_OUT: o->emu_collateral_out = optarg; break;
		case OPT_EMU_MEAS:
			if (kw_hex_decode(optarg, o->emu_meas, sizeof(o->emu_meas)) != 0)
				return fail(EXIT_USAGE, "--emu-measurement needs 96 hex digits (48 bytes)");
			o->have_meas = 1;
			break;
		case OPT_EMU_RD:
			if (kw_hex_decode(optarg, o->emu_rd, sizeof(o->emu_rd)) != 0)
				return fail(EXIT_USAGE, "--emu-report-data needs 128 hex digits (64 bytes)");
			o->have_rd = 1;
			break;
		case OPT_SAVE_ATTEST: o->save_attest = optarg; break;
		case OPT_JWE_OUT: o->jwe_out = optarg; break;
		case OPT_TEE_KEY_OUT: o->tee_key_out = optarg; break;
		case OPT_TOKEN_OUT: o->token_out = optarg; break;
		case OPT_QUIET: o->quiet = 1; break;
		case OPT_ROOT_STORE: o->man.root_store = optarg; break;
		case OPT_TLS_CONFIG: o->man.tls_config = optarg; break;
		case OPT_TLS_SECTION: o->man.tls_section = optarg; break;
		case OPT_CRYPTO_CONFIG: o->man.crypto_config = optarg; break;
		case OPT_NO_MANIFEST: o->no_manifest = 1; break;
		case OPT_TEE: o->tee = optarg; break;
		case OPT_TPM_EK_HANDLE:
		case OPT_TPM_AK_HANDLE:
			if (parse_handle(optarg, c == OPT_TPM_EK_HANDLE ? &o->tpm_ek_handle : &o->tpm_ak_handle) != 0)
				return fail(EXIT_USAGE, "--tpm-ek-handle/--tpm-ak-handle need a persistent "
				    "handle 0x81000000..0x81ffffff");
			break;
		case OPT_TPM_EVENT_LOG: o->tpm_event_log = optarg; break;
		case OPT_TPM_NO_EVENT_LOG: o->tpm_no_event_log = 1; break;
		case OPT_DETECT: o->detect = 1; break;
		case OPT_RETRIES:
			if (parse_long(optarg, 0, 1000, &o->retries) != 0)
				return fail(EXIT_USAGE, "--retries needs a number from 0 to 1000");
			break;
		case OPT_DEADLINE:
		case OPT_CONNECT_TIMEOUT:
		case OPT_REQUEST_TIMEOUT:
			if (parse_long(optarg, 1, MAX_DEADLINE_S, c == OPT_DEADLINE ? &o->deadline_s :
			    c == OPT_CONNECT_TIMEOUT ? &o->connect_s : &o->request_s) != 0)
				return fail(EXIT_USAGE, "--deadline, --connect-timeout and --request-timeout "
				    "need seconds from 1 to %d", MAX_DEADLINE_S);
			break;
		case OPT_KEYRING: o->keyring = optarg; break;
		case OPT_KEY_DESC: o->key_desc = optarg; break;
		case OPT_FORMAT:
			if (strcmp(optarg, "raw") == 0)
				o->format = ATT_KEY_RAW;
			else if (strcmp(optarg, "hex") == 0)
				o->format = ATT_KEY_HEX;
			else if (strcmp(optarg, "base64") == 0)
				o->format = ATT_KEY_BASE64;
			else
				return fail(EXIT_USAGE, "--format takes raw, hex or base64");
			o->format_set = 1;
			break;
		case OPT_FORCE_TTY: o->force_tty = 1; break;
		case OPT_REQUIRE_TMPFS: o->require_tmpfs = 1; break;
		case OPT_EMU_GPUS:
			if (strlen(optarg) != 1 || optarg[0] < '1' || optarg[0] > '0' + ATT_NVGPU_EMU_MAX)
				return fail(EXIT_USAGE, "--emu-gpus needs a number 1..%d", ATT_NVGPU_EMU_MAX);
			o->emu_gpus = (unsigned int)(optarg[0] - '0');
			break;
		case OPT_EMU_GPU_DIR: o->emu_gpu_dir = optarg; break;
		case OPT_GPUS:
			if (strcmp(optarg, "auto") == 0)
				o->gpus = KWA_GPUS_AUTO;
			else if (strcmp(optarg, "none") == 0)
				o->gpus = KWA_GPUS_NONE;
			else if (strcmp(optarg, "required") == 0)
				o->gpus = KWA_GPUS_REQUIRED;
			else
				return fail(EXIT_USAGE, "--gpus takes auto, none or required");
			break;
		case OPT_HELP: usage(stdout); return -1;
		case OPT_COMPLETION: return completion(optarg);    /* hidden: meson writes the script */
		case OPT_VERSION: printf("kwget %s (libkwattester %s)\n", KW_VERSION, kwa_version_string());
			return -1;
		default:
			return fail(EXIT_USAGE, "unknown or incomplete option (see kwget --help)");
		}
	}
	if (optind != argc)
		return fail(EXIT_USAGE, "unexpected argument (see kwget --help)");
	if ((o->emu_gpus != 0) != (o->emu_gpu_dir != NULL))
		return fail(EXIT_USAGE, "--emu-gpus N and --emu-gpu-dir DIR go together");
	if (o->emu_collateral_out != NULL) {
		if (o->emulate == NULL || strcmp(o->emulate, "tdx") != 0 || o->emu_dir == NULL)
			return fail(EXIT_USAGE, "--emu-collateral-out needs --emulate tdx --emu-dir DIR");
		if (o->url != NULL || o->resource != NULL || o->out != NULL || o->to_stdout ||
		    o->have_meas || o->have_rd || o->emu_debug)
			return fail(EXIT_USAGE, "--emu-collateral-out takes only --emulate tdx and --emu-dir");
		return 0;
	}
	return check_args(o);
}

/*
 * --emu-collateral-out: the collateral a broker needs for the emulated
 * platform (the set's FMSPC, TCB, QE), signed by the set's NOT INTEL TCB
 * Signing key and CAs, written as a new file.
 */
static int
write_emu_collateral(const struct opts *o)
{
	struct att_tdx_emu *e = NULL;
	struct att_tdx_emu_opts eo;
	char *coll = NULL;
	int r;

	if ((r = att_tdx_emu_load(o->emu_dir, kw_time_now(), &e, &eo)) != 0)
		return fail(EXIT_LOCAL, "collateral failed: TDX emulation set in %s: %s", o->emu_dir,
		    kw_strerror(r));
	r = att_tdx_emu_collateral(e, &eo, &coll);
	att_tdx_emu_free(e);
	if (r != 0)
		return fail(EXIT_LOCAL, "collateral failed: %s", kw_strerror(r));
	r = kwa_write_new_file(o->emu_collateral_out, coll, strlen(coll));
	free(coll);
	if (r != 0)
		return fail(EXIT_LOCAL, "output failed: cannot create %s: %s", o->emu_collateral_out,
		    r == KW_ERR_EXISTS ? "file exists" : kw_strerror(r));
	say("wrote EMULATED (NOT INTEL) TDX collateral for the platform in %s to %s", o->emu_dir,
	    o->emu_collateral_out);
	return 0;
}

/* --detect: the report on standard output; 0 when a TEE was found, else EXIT_NO_TEE. */
static int
detect(void)
{
	char report[DETECT_REPORT_MAX];
	const char *tee = NULL;
	int st = kwa_detect(&tee, report, sizeof(report));

	fputs(report, stdout);
	if (fflush(stdout) != 0)
		return fail(EXIT_LOCAL, "cannot write to standard output");
	return st == KWA_OK ? 0 : EXIT_NO_TEE;
}

/* The options into the library's context. 0 or an exit code (printed). */
static int
configure(struct kwa_ctx *c, const struct opts *o)
{
	int st;

	kwa_set_log(c, on_log, NULL);
	if ((st = kwa_set_url(c, o->url)) != KWA_OK || (st = kwa_set_resource(c, o->resource)) != KWA_OK ||
	    (st = kwa_set_cacert(c, o->cacert)) != KWA_OK ||
	    (o->tee != NULL && (st = kwa_set_tee(c, o->tee)) != KWA_OK) ||
	    (st = kwa_set_tpm(c, o->tpm_ek_handle, o->tpm_ak_handle, o->tpm_event_log,
	    o->tpm_no_event_log)) != KWA_OK ||
	    (o->emulate != NULL && (st = kwa_set_emulation(c, o->emulate, o->emu_dir)) != KWA_OK) ||
	    (st = kwa_test_set_emu(c, o->have_meas ? o->emu_meas : NULL, o->have_rd ? o->emu_rd : NULL,
	    o->emu_debug)) != KWA_OK ||
	    (st = kwa_test_set_gpus(c, o->emu_gpus, o->emu_gpu_dir)) != KWA_OK ||
	    (st = kwa_set_gpus(c, o->gpus)) != KWA_OK ||
	    (st = kwa_test_set_outputs(c, o->save_attest, o->jwe_out, o->tee_key_out,
	    o->token_out)) != KWA_OK ||
	    (st = kwa_set_manifest(c, o->man.root_store, o->man.tls_config, o->man.tls_section,
	    o->man.crypto_config)) != KWA_OK ||
	    (st = kwa_set_manifest_enabled(c, !o->no_manifest)) != KWA_OK)
		return fail(st, "%s", kwa_errmsg(c));
	if (o->retries >= 0 || o->deadline_s > 0) {
		if ((st = kwa_set_retries(c, o->retries >= 0 ? (unsigned int)o->retries : 5,
		    o->deadline_s > 0 ? (unsigned int)o->deadline_s * 1000 : 60000)) != KWA_OK)
			return fail(st, "%s", kwa_errmsg(c));
	}
	if (o->connect_s > 0 || o->request_s > 0) {
		if ((st = kwa_set_timeouts(c, o->connect_s > 0 ? (unsigned int)o->connect_s * 1000 : 10000,
		    o->request_s > 0 ? (unsigned int)o->request_s * 1000 : 60000)) != KWA_OK)
			return fail(st, "%s", kwa_errmsg(c));
	}
	return 0;
}

static int
run(const struct opts *o)
{
	struct kwa_ctx *c = NULL;
	struct kw_secret *key = NULL;
	size_t n = 0;
	int code, r;

	if (kwa_new(&c) != KWA_OK)
		return fail(EXIT_LOCAL, "cannot initialise libkwattester");
	if ((code = configure(c, o)) != 0 || (code = check_outputs(o)) != 0)
		goto out;
	if ((r = kw_secret_new(KWA_MAX_KEY, &key)) != 0) {
		code = fail(EXIT_LOCAL, "out of memory: %s", kw_strerror(r));
		goto out;
	}
	if ((code = kwa_fetch(c, kw_secret_ptr(key), kw_secret_len(key), &n)) != KWA_OK) {
		code = fail(code, "%s", kwa_errmsg(c));
		goto out;
	}
	code = emit_key(o, kw_secret_cptr(key), n);
out:
	kw_secret_free(key);
	kwa_free(c);
	return code;
}

int
main(int argc, char **argv)
{
	struct opts o;
	int code;

	if ((code = parse_args(argc, argv, &o)) != 0)
		return code < 0 ? 0 : code;
	quiet = o.quiet;
	kw_secret_harden_process();
	kw_json_init();
	if (o.emu_collateral_out != NULL)
		return write_emu_collateral(&o);
	if (o.detect)
		return detect();
	return run(&o);
}
