/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker's audit stream (docs/audit.md): one group-commit writer
 * (audit/audit_writer.c) per broker, opened at start-up on the store's
 * database file or audit.path. Three ways in:
 *   kw_audit_note        any thread, fire and forget (appraisals, denials);
 *   kw_audit_write_wait  blocking, never on the loop (admin thread, start, stop);
 *   kw_audit_write       loop thread: the completion comes back to the loop
 *                        (the writer thread activates an event made for it),
 *                        so a release is answered only once its record is durable.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "broker.h"
#include "kw_build.h"
#include "kw_jwk.h"
#include "kw_log.h"
#include "kw_util.h"

struct kw_audit {
	struct kw_broker *b;
	struct audit_writer *w;
	/*
	 * audit.shared (store.kind postgresql, no audit.path): the log is in the
	 * database, one for every replica; checkpoints are signed by the replica
	 * that holds the lease (docs/ha.md "Audit across replicas")
	 */
	int shared;
	struct audit_backend be;
	char holder[96];              /* this broker's lease holder name */
	int lease_held;               /* loop thread, from the last poll */
	int poll_busy;                /* a poll job runs (fields below are its) */
	int poll_r, poll_held;
	uint64_t poll_size;
	char *poll_note;
	unsigned long pending;        /* kw_audit_write completions not yet run (loop thread) */
	int closing;                  /* loop thread: the broker is stopping */

	/* checkpoints (loop thread, but cpdb: one worker job at a time) */
	struct audit_db *cpdb;        /* its own connection: roots, stored checkpoints */
	struct audit_vkey *vkey;      /* the HSM's audit key, named audit.origin */
	char *vkey_text;
	char *latest;                 /* the newest signed checkpoint, NULL before the first */
	uint64_t cp_size;             /* its tree size */
	int64_t cp_time;              /* when it was made (start-up for none) */
	struct event *tick;
	int cp_busy;                  /* a checkpoint is being made (job fields below) */
	struct audit_checkpoint cp;
	uint8_t digest[32], sig[AUDIT_ECDSA_SIG_LEN];
	char *note;
	int cp_r;
};

/* One kw_audit_write: the event the writer thread activates. */
struct audit_wait {
	struct kw_audit *a;
	struct event *ev;
	kw_audit_cb cb;
	void *arg;
	int r;
};

static void
hex32(const uint8_t in[static AUDIT_HASH_LEN], char out[static 2 * AUDIT_HASH_LEN + 1])
{
	for (size_t i = 0; i < AUDIT_HASH_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

void
kw_audit_hex32(const uint8_t in[static 32], char out[static 65])
{
	hex32(in, out);
}

static int64_t
now_s(void)
{
	return kw_broker_now();
}

int
kw_audit_open(struct kw_broker *b)
{
	struct audit_writer_config wc = {0};
	struct kw_audit *a;
	char hex[2 * AUDIT_HASH_LEN + 1];
	json_t *data;
	int r;

	if (!b->cfg->audit_enabled) {
		kw_log_warn("audit.enabled is false: appraisals, releases and changes are not "
		    "recorded in the audit log, and releases do not wait for a record");
		return 0;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return KW_ERR_NOMEM;
	a->shared = b->cfg->audit_shared;
	if (a->shared) {
		uint8_t rnd[6];
		char host[64] = "";

		if ((r = kw_store_audit_backend(b->store, &a->be)) != 0 ||
		    RAND_bytes(rnd, sizeof(rnd)) != 1) {
			free(a);
			return r != 0 ? r : KW_ERR_CRYPTO;
		}
		(void)gethostname(host, sizeof(host) - 1);
		snprintf(a->holder, sizeof(a->holder), "%s/%ld/%02x%02x%02x%02x%02x%02x",
		    host[0] != '\0' ? host : "broker", (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3],
		    rnd[4], rnd[5]);
		r = audit_writer_open_backend(&a->be, &wc, &a->w);
	} else {
		r = audit_writer_open(b->cfg->audit_path, &wc, &a->w);
	}
	if (r != 0) {
		kw_log_err_r(r, "cannot open the audit log in %s", a->shared ? "the database" :
		    b->cfg->audit_path);
		free(a);
		return r;
	}
	a->b = b;
	b->audit = a;
	hex32(b->cfg->config_digest, hex);
	if ((data = json_pack("{s:s, s:s}", "version", KW_VERSION, "config_digest", hex)) == NULL)
		return KW_ERR_NOMEM;
	if ((r = kw_audit_write_wait(b, AUDIT_KIND_START, data)) != 0) {
		kw_log_err_r(r, "cannot write the start record to the audit log %s", b->cfg->audit_path);
		return r;
	}
	if (a->shared)
		kw_log_info("audit log in the database, shared by every broker on it (configuration "
		    "digest %s)", hex);
	else
		kw_log_info("audit log %s (configuration digest %s)", b->cfg->audit_path, hex);
	return 0;
}

void
kw_audit_begin_close(struct kw_broker *b)
{
	struct kw_audit *a = b->audit;

	if (a == NULL)
		return;
	a->closing = 1;
	/* run the completions still on their way: each answers its request */
	while (a->pending > 0)
		if (event_base_loop(b->base, EVLOOP_ONCE) != 0)
			break;
}

void
kw_audit_close(struct kw_broker *b, const char *reason)
{
	struct kw_audit *a = b->audit;
	json_t *data;

	if (a == NULL)
		return;
	a->closing = 1;
	if (a->tick != NULL)
		event_free(a->tick);
	if ((data = json_pack("{s:s}", "reason", reason)) == NULL ||
	    kw_audit_write_wait(b, AUDIT_KIND_STOP, data) != 0)
		kw_log_err("cannot write the stop record to the audit log");
	audit_writer_close(a->w);
	/* a clean stop hands the lease on at once (a kill leaves it to expire) */
	if (a->shared && a->lease_held && kw_store_audit_lease(b->store, a->holder, 0, NULL) != 0)
		kw_log_warn("cannot give up the audit checkpoint lease: it expires by itself");
	audit_db_close(a->cpdb);
	free(a->poll_note);
	audit_vkey_free(a->vkey);
	free(a->vkey_text);
	free(a->latest);
	free(a->note);
	b->audit = NULL;
	free(a);
}

int
kw_audit_closing(const struct kw_broker *b)
{
	return b->audit != NULL && b->audit->closing;
}

/* The writer's completion of a kw_audit_note: only failures are news. */
static void
note_done(void *arg, int r, uint64_t index)
{
	(void)index;
	if (r != 0)
		kw_log_err_r_rl(r, "an audit record (%s) was lost: the audit log cannot be written",
		    audit_kind_name((enum audit_kind)(intptr_t)arg));
}

void
kw_audit_note(struct kw_broker *b, enum audit_kind kind, json_t *data)
{
	int r;

	if (b->audit == NULL || data == NULL) {
		if (b->audit != NULL)
			kw_log_err_rl("an audit record (%s) was lost: out of memory", audit_kind_name(kind));
		json_decref(data);
		return;
	}
	if ((r = audit_writer_append(b->audit->w, kind, now_s(), data, note_done,
	    (void *)(intptr_t)kind)) != 0)
		kw_log_err_r_rl(r, "an audit record (%s) was lost", audit_kind_name(kind));
	json_decref(data);
}

int
kw_audit_write_wait(struct kw_broker *b, enum audit_kind kind, json_t *data)
{
	int r;

	if (data == NULL)
		return KW_ERR_NOMEM;
	r = b->audit == NULL ? 0 : audit_writer_append_wait(b->audit->w, kind, now_s(), data, NULL);
	json_decref(data);
	return r;
}

/* On the writer thread. */
static void
wait_done_writer(void *arg, int r, uint64_t index)
{
	struct audit_wait *aw = arg;

	(void)index;
	aw->r = r;
	event_active(aw->ev, 0, 0);
}

/* On the loop thread. */
static void
wait_done_loop(evutil_socket_t fd, short what, void *arg)
{
	struct audit_wait *aw = arg;

	(void)fd;
	(void)what;
	aw->a->pending--;
	aw->cb(aw->arg, aw->r);
	event_free(aw->ev);
	free(aw);
}

int
kw_audit_write(struct kw_broker *b, enum audit_kind kind, json_t *data, kw_audit_cb cb, void *arg)
{
	struct audit_wait *aw = NULL;
	int r;

	if (data == NULL)
		return KW_ERR_NOMEM;
	if (b->audit == NULL || b->audit->closing) {
		r = KW_ERR_UNAVAILABLE;
		goto out;
	}
	r = KW_ERR_NOMEM;
	if ((aw = calloc(1, sizeof(*aw))) == NULL ||
	    (aw->ev = event_new(b->base, -1, 0, wait_done_loop, aw)) == NULL)
		goto out;
	aw->a = b->audit;
	aw->cb = cb;
	aw->arg = arg;
	if ((r = audit_writer_append(b->audit->w, kind, now_s(), data, wait_done_writer, aw)) != 0)
		goto out;
	b->audit->pending++;
	aw = NULL;    /* the writer calls back */
out:
	if (aw != NULL) {
		if (aw->ev != NULL)
			event_free(aw->ev);
		free(aw);
	}
	json_decref(data);
	return r;
}

void
kw_audit_client(struct evhttp_request *req, char *out, size_t outlen)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;

	if (conn != NULL)
		evhttp_connection_get_peer(conn, &addr, &port);
	snprintf(out, outlen, "%s", addr != NULL && addr[0] != '\0' ? addr : "unknown");
}

/* ---- checkpoints: every audit.checkpoint_every records or checkpoint_interval seconds ---- */

static void
cp_fail(struct kw_audit *a, int r, const char *what)
{
	kw_log_err_r_rl(r, "audit checkpoint of size %llu not made: %s",
	    (unsigned long long)a->cp.size, what);
	free(a->note);
	a->note = NULL;
	a->cp_busy = 0;
}

/* Worker: the root at cp.size (its own connection) and the digest of the note text. */
static void
cp_prepare(void *arg)
{
	struct kw_audit *a = arg;
	char *text = NULL;
	size_t len = 0;

	a->cp_r = audit_db_root(a->cpdb, a->cp.size, a->cp.root);
	if (a->cp_r == 0)
		a->cp_r = audit_checkpoint_text(&a->cp, &text, &len);
	if (a->cp_r == 0)
		a->cp_r = kw_sha256(text, len, a->digest);
	free(text);
}

/* The signature the HSM made for a->digest (audit_sign_fn of audit_checkpoint_sign). */
static int
cp_presigned(void *arg, const uint8_t digest[static 32], uint8_t ret_sig[static AUDIT_ECDSA_SIG_LEN])
{
	struct kw_audit *a = arg;

	if (memcmp(digest, a->digest, sizeof(a->digest)) != 0)
		return KW_ERR_MISMATCH;
	memcpy(ret_sig, a->sig, AUDIT_ECDSA_SIG_LEN);
	return 0;
}

/* Worker: store the signed note. */
static void
cp_store(void *arg)
{
	struct kw_audit *a = arg;

	a->cp_r = audit_db_checkpoint_add(a->cpdb, a->cp.size, a->cp.time, a->note);
}

/* Loop: published. */
static void
cp_stored(void *arg)
{
	struct kw_audit *a = arg;

	if (a->cp_r == KW_ERR_EXISTS && a->shared) {
		/* another replica stored this size first: publish its note (the next poll) */
		free(a->note);
		a->note = NULL;
		a->cp_busy = 0;
		return;
	}
	if (a->cp_r != 0) {
		cp_fail(a, a->cp_r, "cannot store it");
		return;
	}
	free(a->latest);
	a->latest = a->note;
	a->note = NULL;
	a->cp_size = a->cp.size;
	a->cp_time = a->cp.time;
	a->cp_busy = 0;
	kw_log_debug("audit checkpoint: size %llu", (unsigned long long)a->cp_size);
}

/* Loop: the HSM's signature (R || S) over the note text's digest. */
static void
cp_signed(int r, const struct hsm_result *res, void *arg)
{
	struct kw_audit *a = arg;
	size_t len = 0;

	if (r != 0) {
		cp_fail(a, r, "the HSM did not sign it");
		return;
	}
	memcpy(a->sig, res->u.audit_sign.sig, sizeof(a->sig));
	if ((r = audit_checkpoint_sign(&a->cp, a->vkey, cp_presigned, a, &a->note, &len)) != 0) {
		cp_fail(a, r, "cannot encode it");
		return;
	}
	if (a->closing) {
		cp_fail(a, KW_ERR_UNAVAILABLE, "the broker is stopping");
		return;
	}
	if ((r = kw_workers_submit(a->b->workers, cp_store, cp_stored, a)) != 0)
		cp_fail(a, r, "no worker");
}

/* Loop: the root is known; the HSM signs. */
static void
cp_prepared(void *arg)
{
	struct kw_audit *a = arg;
	int r;

	if (a->cp_r != 0) {
		cp_fail(a, a->cp_r, "cannot compute the tree head");
		return;
	}
	if (a->closing) {
		cp_fail(a, KW_ERR_UNAVAILABLE, "the broker is stopping");
		return;
	}
	if ((r = hsm_client_audit_sign(a->b->hsm, a->digest, cp_signed, a)) != 0)
		cp_fail(a, r, "the HSM call could not be started");
}

/* Loop: make a checkpoint of size when one is due (and none is being made). */
static void
cp_maybe(struct kw_audit *a, uint64_t size)
{
	const struct kw_config *c = a->b->cfg;
	int64_t now = now_s();
	int r;

	if (a->cp_busy || a->closing || a->vkey == NULL)
		return;
	if (size <= a->cp_size || (size - a->cp_size < c->audit_checkpoint_every &&
	    now - a->cp_time < (int64_t)c->audit_checkpoint_interval))
		return;
	memset(&a->cp, 0, sizeof(a->cp));
	snprintf(a->cp.origin, sizeof(a->cp.origin), "%s", c->audit_origin);
	a->cp.size = size;
	a->cp.time = now;
	a->cp_busy = 1;
	if ((r = kw_workers_submit(a->b->workers, cp_prepare, cp_prepared, a)) != 0)
		cp_fail(a, r, "no worker");
}

/* Publish note (taken) when it is newer than the published one; its time restarts the interval. */
static void
cp_adopt(struct kw_audit *a, char *note)
{
	struct audit_checkpoint cp;

	if (note != NULL && audit_checkpoint_parse(note, strlen(note), &cp) == 0 &&
	    (a->latest == NULL || cp.size > a->cp_size)) {
		/* another broker's: it must verify with this broker's key and origin */
		if (a->shared && audit_checkpoint_verify(note, strlen(note), a->vkey, &cp) != 0) {
			kw_log_err_rl("the audit checkpoint of size %llu in the database does not verify "
			    "with this broker's checkpoint key and origin %s: give every broker the same "
			    "audit.origin and one kw-audit/1 key (docs/ha.md); not published",
			    (unsigned long long)cp.size, a->b->cfg->audit_origin);
			free(note);
			return;
		}
		free(a->latest);
		a->latest = note;
		a->cp_size = cp.size;
		if (cp.time >= 0)
			a->cp_time = cp.time;
		return;
	}
	free(note);
}

/* Worker (shared log): renew or take the lease, read the log's size and its newest checkpoint. */
static void
cp_poll(void *arg)
{
	struct kw_audit *a = arg;

	free(a->poll_note);
	a->poll_note = NULL;
	a->poll_held = 0;
	a->poll_r = kw_store_audit_lease(a->b->store, a->holder, (int)a->b->cfg->audit_lease,
	    &a->poll_held);
	if (a->poll_r == 0)
		a->poll_r = audit_db_size(a->cpdb, &a->poll_size);
	if (a->poll_r == 0) {
		a->poll_r = audit_db_checkpoint_latest(a->cpdb, &a->poll_note);
		if (a->poll_r == KW_ERR_NOT_FOUND)
			a->poll_r = 0;
	}
}

/* Loop: the poll's answer. */
static void
cp_polled(void *arg)
{
	struct kw_audit *a = arg;
	char *note = a->poll_note;

	a->poll_busy = 0;
	a->poll_note = NULL;
	if (a->poll_r != 0) {
		free(note);
		if (a->lease_held)
			kw_log_warn_r_rl(a->poll_r, "the audit checkpoint lease cannot be renewed");
		a->lease_held = 0;
		return;
	}
	if (a->poll_held != a->lease_held)
		kw_log_info("audit checkpoint lease %s", a->poll_held ? "taken: this broker signs the "
		    "checkpoints" : "lost: another broker signs the checkpoints");
	a->lease_held = a->poll_held;
	cp_adopt(a, note);
	if (a->lease_held)
		cp_maybe(a, a->poll_size);
}

static void
cp_tick(evutil_socket_t fd, short what, void *arg)
{
	struct kw_audit *a = arg;
	struct audit_writer_stats st;
	int r;

	(void)fd;
	(void)what;
	if (a->closing || a->vkey == NULL)
		return;
	if (a->shared) {
		if (a->poll_busy)
			return;
		a->poll_busy = 1;
		if ((r = kw_workers_submit(a->b->workers, cp_poll, cp_polled, a)) != 0) {
			a->poll_busy = 0;
			kw_log_err_r_rl(r, "audit checkpoint poll not started: no worker");
		}
		return;
	}
	audit_writer_stats(a->w, &st);
	cp_maybe(a, st.size);
}

int
kw_audit_start_checkpoints(struct kw_broker *b)
{
	static const struct timeval second = { 1, 0 };
	struct kw_audit *a = b->audit;
	struct audit_checkpoint cp;
	struct hsm_result *res = NULL;
	EVP_PKEY *pk = NULL;
	char *note = NULL;
	int r;

	if (a == NULL)
		return 0;
	if ((r = hsm_client_call_sync(b->hsm, &(struct hsm_args){.op = HSM_OP_AUDIT_KEY}, &res)) != 0) {
		kw_log_err_r(r, "no audit checkpoint key from the HSM");
		return r;
	}
	r = kw_jwk_import_public(res->u.audit_key.jwk, &pk);
	hsm_result_free(res);
	if (r != 0 || (r = audit_vkey_from_pkey(b->cfg->audit_origin, pk, &a->vkey)) != 0 ||
	    (r = audit_vkey_format(a->vkey, &a->vkey_text)) != 0) {
		EVP_PKEY_free(pk);
		kw_log_err_r(r, "the HSM's audit checkpoint key is not usable");
		return r;
	}
	EVP_PKEY_free(pk);
	if ((r = a->shared ? audit_db_open_backend(&a->be, &a->cpdb) :
	    audit_db_open(b->cfg->audit_path, false, &a->cpdb)) != 0) {
		kw_log_err_r(r, "cannot open the audit log %s for checkpoints", b->cfg->audit_path);
		return r;
	}
	a->cp_time = now_s();
	if ((r = audit_db_checkpoint_latest(a->cpdb, &note)) == 0 &&
	    audit_checkpoint_parse(note, strlen(note), &cp) == 0) {
		a->latest = note;
		a->cp_size = cp.size;
		if (a->shared && cp.time >= 0)
			a->cp_time = cp.time;    /* the interval runs from the log's newest checkpoint */
		note = NULL;
	} else if (r != 0 && r != KW_ERR_NOT_FOUND) {
		kw_log_err_r(r, "cannot read the audit checkpoints");
		return r;
	}
	free(note);
	if ((a->tick = event_new(b->base, -1, EV_PERSIST, cp_tick, a)) == NULL ||
	    event_add(a->tick, &second) != 0)
		return KW_ERR_NOMEM;
	kw_log_info("audit checkpoints every %u records or %u s, key %s", b->cfg->audit_checkpoint_every,
	    b->cfg->audit_checkpoint_interval, a->vkey_text);
	return 0;
}

int
kw_audit_db_open(struct kw_broker *b, struct audit_db **ret)
{
	if (b->audit == NULL)
		return KW_ERR_NOT_FOUND;
	if (b->audit->shared)
		return audit_db_open_backend(&b->audit->be, ret);
	return audit_db_open(b->cfg->audit_path, true, ret);
}

void
kw_audit_http_checkpoint(struct kw_broker *b, struct evhttp_request *req, int key)
{
	struct kw_audit *a = b->audit;

	if (a == NULL) {
		kw_http_problem(req, KW_PROBLEM_NOT_FOUND, "the audit log is disabled on this broker");
		return;
	}
	if (key) {
		if (a->vkey_text == NULL)
			kw_http_problem(req, KW_PROBLEM_NOT_FOUND, "no checkpoint key");
		else
			kw_http_text(req, a->vkey_text);
		return;
	}
	if (a->latest == NULL) {
		kw_http_problem(req, KW_PROBLEM_NOT_FOUND, "no checkpoint yet");
		return;
	}
	kw_http_text(req, a->latest);
}
