/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keywarden-hsm: the only process that loads the PKCS#11 module and knows
 * the PIN. Speaks hsm_proto.h on fd HSM_PROTO_FD, one request at a time.
 * With --listen it is the supervisor instead (hsm_supervise.c): it accepts
 * broker connections on a socket, checks the peer's uid, and starts one
 * fresh serving helper (this program, fd 3 mode) per session.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "hsm_import.h"
#include "hsm_p11.h"
#include "hsm_proto.h"
#include "hsm_req.h"
#include "hsm_supervise.h"
#include "hsm_uri.h"
#include "kw_b64url.h"
#include "kw_json.h"
#include "kw_log.h"
#include "kw_secret.h"
#include "kw_util.h"

#define RECYCLE_DEFAULT 5000

/*
 * SIGTERM/SIGINT only set this flag: the helper ends between requests,
 * never inside a PKCS#11 call. SoftHSM 2.6.1 rewrites token.object in place
 * at every C_Login, and dying in the middle of that loses the token.
 */
static volatile sig_atomic_t stop_requested;

static void
on_term(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Without SA_RESTART, so a blocking recv() returns EINTR and the flag is seen. */
static int
install_term_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGTERM, &sa, NULL) == 0 && sigaction(SIGINT, &sa, NULL) == 0 ? 0 : -1;
}

struct helper {
	struct hsm_p11 *p11;
	const char *token;
	bool profile_ok;
	unsigned long recycle_after; /* 0: never */
	unsigned long releases, recycles, since_recycle, signs;
};

/* --token, parsed (hsm_uri.h); static: it lives until the process exits */
static struct hsm_token_cfg tc;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: keywarden-hsm --module PATH --token LABEL|URI --pin-file PATH\n"
	    "                     [--recycle-after N] [--log-level error|warn|info|debug]\n"
	    "                     [--log-format text|json|journal|auto] [--journal-socket PATH]\n"
	    "                     [--softhsm2-conf PATH] [--release-assembly hsm|helper]\n"
	    "                     [--allow-user NAME|--allow-uid N]...\n"
	    "       keywarden-hsm --listen PATH (--allow-user NAME|--allow-uid N)...\n"
	    "                     --module PATH --token LABEL|URI --pin-file PATH [--socket-mode MODE]\n"
	    "                     [--softhsm2-conf PATH] [--recycle-after N] [--log-level L]\n"
	    "                     [--log-format F] [--journal-socket PATH]\n"
	    "                     [--release-assembly hsm|helper]\n"
	    "Without --listen: speaks the keywarden HSM protocol on fd %d (started by keywarden,\n"
	    "or by the supervisor); the peer's uid must be allowed (default: our own uid).\n"
	    "With --listen: the supervisor. It accepts broker connections on PATH (or on the\n"
	    "socket systemd passes, LISTEN_FDS), refuses peers whose uid is not allowed, and\n"
	    "starts a fresh serving helper for each session; it never loads the module.\n"
	    "  --token            the token's label, or a PKCS#11 URI (RFC 7512) such as\n"
	    "                     pkcs11:token=kw;serial=...?module-path=/lib.so&pin-source=file:/pin\n"
	    "                     (module-path and pin-source then replace --module and --pin-file)\n"
	    "  --recycle-after N  C_Finalize/C_Initialize after every N releases\n"
	    "                     (default %d; 0 = never)\n"
	    "  --log-format       text (default), json (one JSON object per line), journal\n"
	    "                     (journald's native protocol; text on stderr when it cannot\n"
	    "                     be sent) or auto (journal when stderr is the journal);\n"
	    "                     the broker (and the supervisor) pass the one they use\n"
	    "  --journal-socket   the journal's native socket (default\n"
	    "                     /run/systemd/journal/socket)\n"
	    "  --socket-mode MODE mode of the socket the supervisor creates (octal, default 0660)\n"
	    "  --release-assembly hsm (default): the JWE is built inside the token;\n"
	    "                     helper: the secret is wrapped to the helper, which builds the\n"
	    "                     JWE (modules without CKM_AES_CBC, e.g. p11-kit-client 0.24)\n",
	    HSM_PROTO_FD, RECYCLE_DEFAULT);
}

static long
rss_kb(void)
{
	unsigned long size, resident;
	FILE *f = fopen("/proc/self/statm", "re");
	long kb = -1;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%lu %lu", &size, &resident) == 2)
		kb = (long)(resident * (unsigned long)sysconf(_SC_PAGESIZE) / 1024);
	fclose(f);
	return kb;
}

static json_t *
reply_err(uint32_t id, int err, const char *detail)
{
	return json_pack("{s:I,s:b,s:i,s:s}", "id", (json_int_t)id, "ok", 0, "error", err, "detail",
	    detail != NULL ? detail : kw_strerror(err));
}

/*
 * Op handlers. Each returns 0 and *ret, the reply members of hsm_proto.h's
 * OPS table (a new object; NULL for none), or an error and *reterr_detail
 * (static, may stay NULL). handle() adds "id" and "ok".
 */
typedef int (*op_handler)(struct helper *h, const struct hsm_req *req, json_t **ret,
    const char **reterr_detail);

static int
new_object(json_t **ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*ret = json_vpack_ex(NULL, 0, fmt, ap);
	va_end(ap);
	return *ret != NULL ? 0 : KW_ERR_NOMEM;
}

/*
 * The PKCS#11 URI (RFC 7512) of an object on our token, for log lines:
 * the label and type on the token the helper found (plen > 0: a stored
 * secret's CKA_ID too). Only the label when there is no token URI yet or
 * no memory. Valid until the next call.
 */
static const char *
obj_uri(const struct helper *h, const char *label, enum hsm_uri_type type, size_t plen)
{
	static char buf[1024];
	const char *tok = hsm_p11_token_uri(h->p11);
	char *u = NULL;
	int r;

	if (tok == NULL)
		return label;
	r = plen > 0 ? hsm_uri_secret(tok, label, plen, &u) :
	    hsm_uri_object(tok, label, NULL, 0, type, &u);
	if (r != 0 || strlen(u) >= sizeof(buf)) {
		free(u);
		return label;
	}
	snprintf(buf, sizeof(buf), "%s", u);
	free(u);
	return buf;
}

/* obj_uri of seal key version v (kw-seal/<v>, a secret key). */
static const char *
seal_uri(const struct helper *h, int64_t v)
{
	static char label[48]; /* obj_uri may return it */

	snprintf(label, sizeof(label), HSM_SEAL_LABEL_PREFIX "%lld", (long long)v);
	return obj_uri(h, label, HSM_URI_SECRET_KEY, 0);
}

/* Whether the release profile works; the self test is tried again until it passes. */
static bool
selftest_passed(struct helper *h, const char **reterr_detail)
{
	if (!h->profile_ok && hsm_p11_selftest(h->p11, reterr_detail) == 0) {
		h->profile_ok = true;
		kw_log_info("profile %s works (self test passed on retry)",
		    HSM_PROFILE_RSA_OAEP_A256CBC_HS512);
	}
	return h->profile_ok;
}

static int
do_probe(struct helper *h, const struct hsm_req *req, json_t **ret, const char **reterr_detail)
{
	const char *detail = NULL;

	(void)req;
	(void)reterr_detail;
	/* The token may have been unavailable at start: the probe retries the self test. */
	return new_object(ret, "{s:s,s:s,s:[s*],s:s,s:s*}", "token", h->token, "module",
	    hsm_p11_module_desc(h->p11), "profiles",
	    selftest_passed(h, &detail) ? HSM_PROFILE_RSA_OAEP_A256CBC_HS512 : NULL, "assembly",
	    hsm_p11_helper_assembly(h->p11) ? "helper" : "hsm", "token_uri",
	    hsm_p11_token_uri(h->p11));
}

static int
do_generate(struct helper *h, const struct hsm_req *req, json_t **ret, const char **reterr_detail)
{
	enum hsm_kind kind;
	size_t len;
	bool created;
	int r;

	r = hsm_p11_generate(h->p11, req->label, req->kind, req->length, req->if_missing, &created,
	    &kind, &len, reterr_detail);
	if (r != 0)
		return r;
	return new_object(ret, "{s:b,s:s,s:I}", "created", created, "kind", hsm_kind_name(kind),
	    "length", (json_int_t)len);
}

static int
do_release(struct helper *h, const struct hsm_req *req, json_t **ret, const char **reterr_detail)
{
	char *jwe = NULL;
	int r;

	h->releases++;
	r = hsm_p11_release(h->p11, req->label, req->n, req->n_len, req->e, req->e_len, req->kid, &jwe,
	    reterr_detail);
	if (r != 0)
		return r;
	r = new_object(ret, "{s:s}", "jwe", jwe);
	free(jwe);
	return r;
}

static int
do_random(struct helper *h, const struct hsm_req *req, json_t **ret, const char **reterr_detail)
{
	uint8_t buf[HSM_RANDOM_MAX];
	char *b64 = NULL;
	int r;

	if ((r = hsm_p11_random(h->p11, buf, req->length, reterr_detail)) != 0)
		return r;
	r = kw_b64url_encode(buf, req->length, &b64);
	kw_wipe(buf, sizeof(buf));
	if (r != 0)
		return r;
	r = new_object(ret, "{s:s}", "bytes", b64);
	kw_free_wipe(b64);
	return r;
}

static int
do_stats(struct helper *h, const struct hsm_req *req, json_t **ret, const char **reterr_detail)
{
	(void)req;
	(void)reterr_detail;
	return new_object(ret, "{s:I,s:I,s:I,s:I}", "releases", (json_int_t)h->releases,
	    "recycles", (json_int_t)h->recycles, "rss_kb", (json_int_t)rss_kb(), "signs",
	    (json_int_t)h->signs);
}

/* The broker's log level and format after its SIGHUP (we share its stderr). */
static int
do_log(struct helper *h, const struct hsm_req *req, json_t **ret, const char **reterr_detail)
{
	static const char *const lvls[] = {"error", "warn", "info", "debug"};
	static const char *const fmts[] = {"text", "json", "journal"};

	(void)h;
	(void)ret;
	(void)reterr_detail;
	kw_log_set_level(req->log_level);
	kw_log_set_format(req->log_format);
	kw_log_info("log level %s, format %s (from the broker)", lvls[req->log_level],
	    fmts[req->log_format]);
	return 0;
}

static int
do_token_keys(struct helper *h, const struct hsm_req *req, json_t **ret,
    const char **reterr_detail)
{
	struct hsm_token_key *ks = NULL;
	json_t *arr = NULL, *e;
	const char *label, *why;
	size_t n = 0, skipped;
	int r;

	(void)req;
	if ((ks = calloc(HSM_TOKEN_KEYS_MAX, sizeof(*ks))) == NULL || (arr = json_array()) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if ((r = hsm_p11_token_keys(h->p11, ks, HSM_TOKEN_KEYS_MAX, &n, reterr_detail)) != 0)
		goto out;
	if ((skipped = hsm_p11_token_keys_skipped(h->p11, &label, &why)) > 0)
		kw_log_warn("%zu token key(s) skipped as not ours, the last '%s': %s", skipped, label,
		    why);
	for (size_t i = 0; i < n; i++) {
		if ((r = hsm_token_key_json(&ks[i], &e)) != 0) {
			*reterr_detail = "token key is not a valid P-256 public key";
			r = r == KW_ERR_NOMEM ? r : KW_ERR_HSM;
			goto out;
		}
		if (json_array_append_new(arr, e) != 0) {
			r = KW_ERR_NOMEM;
			goto out;
		}
	}
	r = new_object(ret, "{s:O}", "keys", arr);
out:
	json_decref(arr);
	free(ks);
	return r;
}

static int
do_token_key_new(struct helper *h, const struct hsm_req *req, json_t **ret,
    const char **reterr_detail)
{
	struct hsm_token_key k;
	int r;

	r = hsm_p11_token_key_new(h->p11, req->now_set ? req->now : (int64_t)time(NULL), &k,
	    reterr_detail);
	if (r != 0)
		return r;
	if ((r = hsm_token_key_json(&k, ret)) != 0) {
		*reterr_detail = "token key is not a valid P-256 public key";
		return r == KW_ERR_NOMEM ? r : KW_ERR_HSM;
	}
	kw_log_info("token key %s generated", obj_uri(h, k.label, HSM_URI_PRIVATE, 0));
	return 0;
}

/* The reply {"sig"} of sign and audit_sign. */
static int
sig_reply(const uint8_t sig[HSM_SIGN_SIG_LEN], json_t **ret)
{
	char *b64 = NULL;
	int r;

	if ((r = kw_b64url_encode(sig, HSM_SIGN_SIG_LEN, &b64)) != 0)
		return r;
	r = new_object(ret, "{s:s}", "sig", b64);
	free(b64);
	return r;
}

static int
do_sign(struct helper *h, const struct hsm_req *req, json_t **ret, const char **reterr_detail)
{
	uint8_t sig[HSM_SIGN_SIG_LEN];
	int r;

	h->signs++;
	if ((r = hsm_p11_sign(h->p11, req->label, req->digest, sig, reterr_detail)) != 0)
		return r;
	return sig_reply(sig, ret);
}

static int
do_audit_key(struct helper *h, const struct hsm_req *req, json_t **ret,
    const char **reterr_detail)
{
	struct hsm_token_key k;
	bool generated = false;
	json_t *e = NULL;
	int r;

	(void)req;
	if ((r = hsm_p11_audit_key(h->p11, &k, &generated, reterr_detail)) != 0)
		return r;
	if ((r = hsm_token_key_json(&k, &e)) != 0) {
		*reterr_detail = "audit key is not a valid P-256 public key";
		return r == KW_ERR_NOMEM ? r : KW_ERR_HSM;
	}
	/* the entry without "created": there is one audit key, its label fixed */
	r = new_object(ret, "{s:O, s:O, s:O}", "label", json_object_get(e, "label"), "kid",
	    json_object_get(e, "kid"), "jwk", json_object_get(e, "jwk"));
	json_decref(e);
	if (r == 0 && generated)
		kw_log_info("audit key %s generated", obj_uri(h, k.label, HSM_URI_PRIVATE, 0));
	return r;
}

static int
do_audit_sign(struct helper *h, const struct hsm_req *req, json_t **ret,
    const char **reterr_detail)
{
	uint8_t sig[HSM_SIGN_SIG_LEN];
	int r;

	h->signs++;
	if ((r = hsm_p11_audit_sign(h->p11, req->digest, sig, reterr_detail)) != 0)
		return r;
	return sig_reply(sig, ret);
}

static int
do_seal_keys(struct helper *h, const struct hsm_req *req, json_t **ret,
    const char **reterr_detail)
{
	struct hsm_seal_key k[HSM_SEAL_KEYS_MAX];
	json_t *arr = NULL, *e = NULL;
	size_t n = 0;
	bool created = false;
	int r;

	(void)req;
	if ((r = hsm_p11_seal_keys(h->p11, (int64_t)time(NULL), k, &n, &created,
	    reterr_detail)) != 0)
		return r;
	r = KW_ERR_NOMEM;
	if ((arr = json_array()) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		e = json_object();
		if (e == NULL || json_object_set_new(e, "version", json_integer(k[i].version)) != 0 ||
		    kw_json_set_b64url(e, "key", k[i].key, sizeof(k[i].key)) != 0 ||
		    json_array_append_new(arr, e) != 0) {
			json_decref(e);
			goto out;
		}
	}
	if ((r = new_object(ret, "{s:O}", "keys", arr)) != 0)
		goto out;
	if (created)
		kw_log_info("seal key version %lld generated (%s)", (long long)k[n - 1].version,
		    seal_uri(h, k[n - 1].version));
	r = 0;
out:
	json_decref(arr);    /* wiped by the JSON allocator when freed */
	kw_wipe(k, sizeof(k));
	return r;
}

static int
do_seal_key_new(struct helper *h, const struct hsm_req *req, json_t **ret,
    const char **reterr_detail)
{
	int64_t v = 0;
	size_t destroyed = 0;
	int r;

	if ((r = hsm_p11_seal_key_new(h->p11, req->now_set ? req->now : (int64_t)time(NULL), &v,
	    &destroyed, reterr_detail)) != 0)
		return r;
	kw_log_info("seal key version %lld generated (%s); %zu old seal key object(s) destroyed",
	    (long long)v, seal_uri(h, v), destroyed);
	return new_object(ret, "{s:I}", "version", (json_int_t)v);
}

static int
do_token_key_destroy(struct helper *h, const struct hsm_req *req, json_t **ret,
    const char **reterr_detail)
{
	int r;

	(void)ret;
	if ((r = hsm_p11_token_key_destroy(h->p11, req->label, reterr_detail)) != 0)
		return r;
	kw_log_info("token key %s destroyed", obj_uri(h, req->label, HSM_URI_PRIVATE, 0));
	return 0;
}

static int
do_key_list(struct helper *h, const struct hsm_req *req, json_t **ret,
    const char **reterr_detail)
{
	char (*ls)[HSM_LABEL_MAX + 1] = NULL;
	json_t *arr = NULL;
	size_t n = 0;
	bool more = false;
	int r;

	if ((ls = calloc(HSM_KEY_LIST_PAGE, sizeof(*ls))) == NULL || (arr = json_array()) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	r = hsm_p11_key_list(h->p11, req->after_set ? req->after : NULL, ls, HSM_KEY_LIST_PAGE, &n,
	    &more, reterr_detail);
	if (r == 0 && more && !req->after_set) {
		/* the caller asked for everything and would silently miss the rest */
		r = KW_ERR_TOO_LARGE;
		*reterr_detail = "more labels than fit in one reply: page with \"after\"";
	}
	if (r != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (json_array_append_new(arr, json_string(ls[i])) != 0) {
			r = KW_ERR_NOMEM;
			goto out;
		}
	}
	r = new_object(ret, "{s:O,s:b}", "labels", arr, "more", more);
out:
	json_decref(arr);
	free(ls);
	return r;
}

static int
do_destroy(struct helper *h, const struct hsm_req *req, json_t **ret, const char **reterr_detail)
{
	bool destroyed = false;
	int r;

	if ((r = hsm_p11_destroy(h->p11, req->label, &destroyed, reterr_detail)) != 0)
		return r;
	if (destroyed)
		kw_log_info("key %s destroyed", obj_uri(h, req->label, HSM_URI_SECRET_KEY, 0));
	return new_object(ret, "{s:b}", "destroyed", destroyed);
}

static int
do_import_key(struct helper *h, const struct hsm_req *req, json_t **ret,
    const char **reterr_detail)
{
	struct hsm_import_pub pub;
	json_t *jwk = NULL;
	char kid[HSM_JWK_KID_LEN + 1];
	bool generated = false;
	int r;

	(void)req;
	if ((r = hsm_p11_import_key(h->p11, &pub, &generated, reterr_detail)) != 0)
		return r;
	if (generated)
		kw_log_info("import key generated in the token (%s, RSA-%d)", HSM_IMPORT_LABEL,
		    HSM_IMPORT_RSA_BITS);
	if ((r = hsm_rsa_jwk(pub.n, sizeof(pub.n), pub.e, pub.e_len, &jwk, kid)) != 0) {
		*reterr_detail = "import key JWK";
		return r == KW_ERR_NOMEM ? r : KW_ERR_HSM;
	}
	return new_object(ret, "{s:s,s:o}", "kid", kid, "jwk", jwk);
}

static int
do_import(struct helper *h, const struct hsm_req *req, json_t **ret, const char **reterr_detail)
{
	int r;

	r = hsm_p11_import(h->p11, req->label, req->kind, req->length, req->import_kid, req->kek,
	    sizeof(req->kek), req->value, req->value_len, reterr_detail);
	if (r != 0) {
		kw_log_info("import of '%s' refused: %s", req->label,
		    *reterr_detail != NULL ? *reterr_detail : kw_strerror(r));
		return r;
	}
	kw_log_info("key %s imported (%s, %zu bytes)",
	    obj_uri(h, req->label, HSM_URI_SECRET_KEY, req->length), hsm_kind_name(req->kind),
	    req->length);
	return new_object(ret, "{s:b,s:s,s:I}", "created", 1, "kind", hsm_kind_name(req->kind),
	    "length", (json_int_t)req->length);
}

/*
 * The dispatch table: the handler of each op. The per-op rules (which ops
 * need the self test, which count toward recycling; the broker's deadline
 * class) are the protocol's op table (hsm_proto.c), shared with the broker.
 */
static const op_handler handlers[HSM_OP__COUNT] = {
	[HSM_OP_PROBE] = do_probe,
	[HSM_OP_GENERATE] = do_generate,
	[HSM_OP_RELEASE] = do_release,
	[HSM_OP_RANDOM] = do_random,
	[HSM_OP_STATS] = do_stats,
	[HSM_OP_TOKEN_KEYS] = do_token_keys,
	[HSM_OP_TOKEN_KEY_NEW] = do_token_key_new,
	[HSM_OP_SIGN] = do_sign,
	[HSM_OP_TOKEN_KEY_DESTROY] = do_token_key_destroy,
	[HSM_OP_KEY_LIST] = do_key_list,
	[HSM_OP_DESTROY] = do_destroy,
	[HSM_OP_IMPORT_KEY] = do_import_key,
	[HSM_OP_IMPORT] = do_import,
	[HSM_OP_AUDIT_KEY] = do_audit_key,
	[HSM_OP_AUDIT_SIGN] = do_audit_sign,
	[HSM_OP_SEAL_KEYS] = do_seal_keys,
	[HSM_OP_SEAL_KEY_NEW] = do_seal_key_new,
	[HSM_OP_LOG] = do_log,
};

/* One request datagram to its reply (NULL only when not even an error reply can be built). */
static json_t *
handle(struct helper *h, const uint8_t *buf, size_t len)
{
	const struct hsm_op_info *info;
	const char *detail = NULL;
	struct hsm_req *req;
	uint32_t id = 0;
	json_t *o = NULL;
	int r;

	/* The request holds no secret, but it is big (an 8192-bit modulus): heap. */
	if ((req = malloc(sizeof(*req))) == NULL)
		return reply_err(0, KW_ERR_NOMEM, NULL);
	if ((r = hsm_req_parse(buf, len, req, &id)) != 0) {
		kw_log_debug("request %u rejected: %s", id, kw_strerror(r));
		o = reply_err(id, r, "malformed request");
		goto out;
	}
	if ((info = hsm_op_info(req->op)) == NULL || handlers[req->op] == NULL) {
		o = reply_err(id, KW_ERR_UNSUPPORTED, "no handler");    /* not reached */
		goto out;
	}
	if ((info->flags & HSM_OPF_RECYCLE) != 0)
		h->since_recycle++;    /* session objects (PKCS11.md 6.1) */
	if ((info->flags & HSM_OPF_SELFTEST) != 0 && !selftest_passed(h, &detail)) {
		o = reply_err(id, KW_ERR_HSM, detail != NULL ? detail : "self test has not passed");
		goto out;
	}
	if ((r = handlers[req->op](h, req, &o, &detail)) != 0) {
		json_decref(o);
		o = reply_err(id, r, detail);
		goto out;
	}
	if ((o == NULL && (o = json_object()) == NULL) ||
	    json_object_set_new(o, "id", json_integer((json_int_t)id)) != 0 ||
	    json_object_set_new(o, "ok", json_true()) != 0) {
		json_decref(o);
		o = reply_err(id, KW_ERR_NOMEM, NULL);
	}
out:
	free(req);
	return o;
}

/* Recycle between requests (PKCS11.md 6.1: only C_Finalize frees destroyed session objects). */
static void
maybe_recycle(struct helper *h)
{
	const char *detail = NULL;
	int r;

	if (h->recycle_after == 0 || h->since_recycle < h->recycle_after)
		return;
	h->since_recycle = 0;
	h->recycles++;
	if ((r = hsm_p11_recycle(h->p11, &detail)) != 0)
		kw_log_err_r(r, "recycle failed (%s); retrying on the next request", detail);
	else
		kw_log_debug("recycled after %lu releases", h->recycle_after);
}

static int
serve(struct helper *h)
{
	uint8_t *buf = NULL;
	int r = 1;

	if ((buf = malloc(HSM_PROTO_MAX)) == NULL)
		return 1;
	for (;;) {
		json_t *o;
		char *out;
		ssize_t n;

		if (stop_requested) {
			kw_log_debug("SIGTERM: ending between requests");
			r = 0;
			break;
		}
		/* MSG_TRUNC: n is the real datagram size, so oversize is detected. */
		n = recv(HSM_PROTO_FD, buf, HSM_PROTO_MAX, MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			r = 0;    /* the broker closed the socket */
			break;
		}
		if (n < 0) {
			kw_log_err("recv: %s", strerror(errno));
			break;
		}
		if ((size_t)n > HSM_PROTO_MAX)
			o = reply_err(0, KW_ERR_TOO_LARGE, "request too large");
		else
			o = handle(h, buf, (size_t)n);
		kw_wipe(buf, (size_t)n > HSM_PROTO_MAX ? HSM_PROTO_MAX : (size_t)n);
		if (o == NULL || (out = kw_json_dumps(o, JSON_COMPACT)) == NULL) {
			json_decref(o);
			kw_log_err("cannot build a reply");
			break;
		}
		json_decref(o);
		n = send(HSM_PROTO_FD, out, strlen(out), MSG_NOSIGNAL);
		kw_free_wipe(out);
		if (n < 0) {
			r = errno == EPIPE || errno == ECONNRESET ? 0 : 1;
			if (r != 0)
				kw_log_err("send: %s", strerror(errno));
			break;
		}
		maybe_recycle(h);
	}
	free(buf);
	return r;
}

/* The peer on fd 3 must be an allowed uid (defence in depth behind the supervisor). */
static int
check_peer(struct hsm_allow *allow)
{
	struct ucred uc;

	if (hsm_peer_cred(HSM_PROTO_FD, &uc) != 0) {
		kw_log_err("SO_PEERCRED on fd %d: %s", HSM_PROTO_FD, strerror(errno));
		return -1;
	}
	if (allow->n == 0)
		allow->uid[allow->n++] = getuid();    /* spawned by a broker of our own user */
	if (!hsm_allow_has(allow, uc.uid)) {
		kw_log_err("peer uid %u (pid %ld) is not allowed; refusing to serve",
		    (unsigned)uc.uid, (long)uc.pid);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"module", required_argument, NULL, 'm'},
		{"token", required_argument, NULL, 't'},
		{"pin-file", required_argument, NULL, 'p'},
		{"recycle-after", required_argument, NULL, 'r'},
		{"log-level", required_argument, NULL, 'l'},
		{"log-format", required_argument, NULL, 'F'},
		{"journal-socket", required_argument, NULL, 'J'},
		{"listen", required_argument, NULL, 'L'},
		{"allow-user", required_argument, NULL, 'U'},
		{"allow-uid", required_argument, NULL, 'u'},
		{"socket-mode", required_argument, NULL, 'M'},
		{"softhsm2-conf", required_argument, NULL, 'S'},
		{"release-assembly", required_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct helper h = {.recycle_after = RECYCLE_DEFAULT};
	struct hsm_supervise_config sv = {.socket_mode = 0660};
	const char *module = NULL, *pin_file = NULL, *detail = NULL, *recycle = NULL;
	const char *level = NULL, *conf = NULL, *assembly = NULL, *format = NULL, *jsock = NULL;
	enum kw_log_level lvl = KW_LOG_INFO;
	enum kw_log_format lf;
	char *end, self[PATH_MAX], eb[300];
	unsigned long m;
	ssize_t sl;
	int c, r, type;
	socklen_t tl = sizeof(type);

	kw_secret_harden_process();
	kw_json_init();
	kw_log_init("keywarden-hsm", KW_LOG_INFO);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			module = optarg;
			break;
		case 't':
			h.token = optarg;
			break;
		case 'p':
			pin_file = optarg;
			break;
		case 'r':
			errno = 0;
			h.recycle_after = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || optarg[0] < '0' || optarg[0] > '9') {
				usage(stderr);
				return 2;
			}
			recycle = optarg;
			break;
		case 'l':
			if (kw_log_level_parse(optarg, &lvl) != 0) {
				usage(stderr);
				return 2;
			}
			kw_log_set_level(lvl);
			level = optarg;
			break;
		case 'F':
			if (kw_log_format_parse(optarg, &lf) != 0) {
				usage(stderr);
				return 2;
			}
			kw_log_set_format(lf);
			format = optarg;
			break;
		case 'J':
			if (kw_log_set_journal_socket(optarg) != 0) {
				usage(stderr);
				return 2;
			}
			jsock = optarg;
			break;
		case 'L':
			sv.listen_path = optarg;
			break;
		case 'U':
			if ((r = hsm_allow_add_user(&sv.allow, optarg)) != 0) {
				kw_log_err_r(r, "--allow-user: no user '%s'", optarg);
				return 2;
			}
			break;
		case 'u':
			if ((r = hsm_allow_add_uid(&sv.allow, optarg)) != 0) {
				kw_log_err_r(r, "--allow-uid: not a uid");
				return 2;
			}
			break;
		case 'M':
			errno = 0;
			m = strtoul(optarg, &end, 8);
			if (errno != 0 || *end != '\0' || optarg[0] < '0' || optarg[0] > '7' ||
			    m > 0777) {
				usage(stderr);
				return 2;
			}
			sv.socket_mode = (mode_t)m;
			break;
		case 'S':
			conf = optarg;
			break;
		case 'A':
			if (strcmp(optarg, "hsm") != 0 && strcmp(optarg, "helper") != 0) {
				usage(stderr);
				return 2;
			}
			assembly = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || h.token == NULL) {
		usage(stderr);
		return 2;
	}
	/* a URI's module-path and pin-source stand for --module and --pin-file, never both */
	if ((r = hsm_token_cfg_parse(h.token, NULL, &tc, eb, sizeof(eb))) != 0) {
		kw_log_err("--token: %s", r == KW_ERR_NOMEM ? "out of memory" : eb);
		return 2;
	}
	if ((tc.module_path != NULL && module != NULL) || (tc.pin_file != NULL && pin_file != NULL)) {
		kw_log_err("--token's %s and %s both name the %s; give one",
		    tc.module_path != NULL && module != NULL ? "module-path" : "pin-source",
		    tc.module_path != NULL && module != NULL ? "--module" : "--pin-file",
		    tc.module_path != NULL && module != NULL ? "module" : "PIN file");
		return 2;
	}
	h.token = tc.token;
	if (module == NULL)
		module = tc.module_path;
	if (pin_file == NULL)
		pin_file = tc.pin_file;
	if (module == NULL || pin_file == NULL) {
		usage(stderr);
		return 2;
	}
	if (sv.listen_path != NULL) {
		if ((sl = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0) {
			kw_log_err("cannot find our own executable: %s", strerror(errno));
			return 1;
		}
		self[sl] = '\0';
		sv.self_exe = self;
		sv.module = module;
		sv.token = h.token;
		sv.pin_file = pin_file;
		sv.softhsm2_conf = conf;
		sv.recycle_after = recycle;
		sv.log_level = level;
		sv.log_format = format;
		sv.journal_socket = jsock;
		sv.release_assembly = assembly;
		if (sv.allow.n == 0) {
			kw_log_err("--listen needs --allow-user or --allow-uid (the broker's user)");
			return 2;
		}
		return hsm_supervise(&sv);
	}
	if (conf != NULL && setenv("SOFTHSM2_CONF", conf, 1) != 0)
		return 1;
	if (getsockopt(HSM_PROTO_FD, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_SEQPACKET) {
		kw_log_err("fd %d is not a SOCK_SEQPACKET socket", HSM_PROTO_FD);
		return 2;
	}
	/* before the module is loaded or the PIN read */
	if (check_peer(&sv.allow) != 0)
		return 1;
	if (install_term_handler() != 0)
		return 1;
	if ((r = hsm_p11_open(module, h.token, pin_file, &h.p11, &detail)) != 0) {
		kw_log_err_r(r, "cannot load module '%s' (%s)", module, detail);
		return 1;
	}
	hsm_p11_set_helper_assembly(h.p11, assembly != NULL && strcmp(assembly, "helper") == 0);
	/*
	 * Helper assembly is for remote modules (p11-kit-client), which write to
	 * their server's socket: a server that went away must be a
	 * CKR_DEVICE_ERROR (EPIPE), not the end of the helper. Our own socket
	 * needs no such care (send with MSG_NOSIGNAL), and a local module such
	 * as SoftHSM writes to no socket, so SIGPIPE keeps its default in the
	 * usual mode. (Ignoring it everywhere was seen to slow a retired
	 * helper's exit under load; not explained, docs/hsm.md.)
	 */
	if (hsm_p11_helper_assembly(h.p11) && signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		hsm_p11_close(h.p11);
		return 1;
	}
	if (stop_requested) {
		/* retired during start-up: the login (and its token write) is done */
		hsm_p11_close(h.p11);
		return 0;
	}
	if ((r = hsm_p11_selftest(h.p11, &detail)) != 0) {
		kw_log_err_r(r, "profile %s does not work (%s)", HSM_PROFILE_RSA_OAEP_A256CBC_HS512,
		    detail);
	} else {
		h.profile_ok = true;
		kw_log_info("token '%s' on %s: profile %s works (self test passed, assembled in "
		    "the %s); recycle after %lu", h.token, hsm_p11_module_desc(h.p11),
		    HSM_PROFILE_RSA_OAEP_A256CBC_HS512,
		    hsm_p11_helper_assembly(h.p11) ? "helper" : "token", h.recycle_after);
	}
	r = stop_requested ? 0 : serve(&h);
	hsm_p11_close(h.p11);
	return r;
}
