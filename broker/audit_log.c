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

#include <event2/event.h>
#include <event2/http.h>

#include "broker.h"
#include "kw_build.h"
#include "kw_log.h"
#include "kw_util.h"

struct kw_audit {
	struct audit_writer *w;
	unsigned long pending;        /* kw_audit_write completions not yet run (loop thread) */
	int closing;                  /* loop thread: the broker is stopping */
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
	if ((r = audit_writer_open(b->cfg->audit_path, &wc, &a->w)) != 0) {
		kw_log_err_r(r, "cannot open the audit log in %s", b->cfg->audit_path);
		free(a);
		return r;
	}
	b->audit = a;
	hex32(b->cfg->config_digest, hex);
	if ((data = json_pack("{s:s, s:s}", "version", KW_VERSION, "config_digest", hex)) == NULL)
		return KW_ERR_NOMEM;
	if ((r = kw_audit_write_wait(b, AUDIT_KIND_START, data)) != 0) {
		kw_log_err_r(r, "cannot write the start record to the audit log %s", b->cfg->audit_path);
		return r;
	}
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
	if ((data = json_pack("{s:s}", "reason", reason)) == NULL ||
	    kw_audit_write_wait(b, AUDIT_KIND_STOP, data) != 0)
		kw_log_err("cannot write the stop record to the audit log");
	audit_writer_close(a->w);
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
