/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blocking HSM calls for the admin thread. hsm_client lives on the event
 * loop; the admin thread encodes its typed request (hsm_args_encode) and
 * queues it here, event_active() wakes the loop, which issues the
 * asynchronous call, and a copy of the typed reply is handed back through
 * a condition variable. The loop itself never waits, and the two threads
 * share no JSON: the request is the loop's once queued, the reply copy the
 * admin thread's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "broker.h"
#include "kw_log.h"

/*
 * A backstop only: hsm_client completes every call by its deadline
 * (hsm.admin_timeout at most), so the admin thread sees HSM failures after
 * that deadline; this wait is longer so that it never fires first.
 */
#define BRIDGE_MARGIN_S 10

struct kw_hsm_bridge;

struct bridge_call {
	struct kw_hsm_bridge *br;
	enum hsm_op op;
	json_t *req;
	struct hsm_result *reply;
	int r;
	int done;
	struct bridge_call *next;
};

struct kw_hsm_bridge {
	struct kw_broker *b;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct bridge_call *head, *tail;
	struct event *ev;
	int shutdown;
};

static void
call_done(int r, const struct hsm_result *res, void *arg)
{
	struct bridge_call *c = arg;
	struct kw_hsm_bridge *br = c->br;
	struct hsm_result *copy = NULL;

	/* res lives only during this callback: the admin thread gets its own copy */
	if (r == 0)
		r = hsm_result_copy(res, &copy);
	pthread_mutex_lock(&br->lock);
	c->reply = copy;
	c->r = r;
	c->done = 1;
	pthread_cond_broadcast(&br->cond);
	pthread_mutex_unlock(&br->lock);
}

static void
bridge_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kw_hsm_bridge *br = arg;
	struct bridge_call *list, *c;
	json_t *req;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&br->lock);
	list = br->head;
	br->head = br->tail = NULL;
	pthread_mutex_unlock(&br->lock);
	while ((c = list) != NULL) {
		list = c->next;
		c->next = NULL;
		req = c->req;
		c->req = NULL;    /* stolen by hsm_client_call */
		/* hsm_client_call never runs the callback inside the call */
		int r = hsm_client_call_json(br->b->hsm, c->op, req, call_done, c);

		if (r != 0) {
			pthread_mutex_lock(&br->lock);
			c->r = r;    /* e.g. KW_ERR_HSM: the HSM cannot take the call now */
			c->done = 1;
			pthread_cond_broadcast(&br->cond);
			pthread_mutex_unlock(&br->lock);
		}
	}
}

int
kw_hsm_bridge_new(struct kw_broker *b, struct kw_hsm_bridge **ret)
{
	struct kw_hsm_bridge *br;

	if ((br = calloc(1, sizeof(*br))) == NULL)
		return KW_ERR_NOMEM;
	br->b = b;
	pthread_mutex_init(&br->lock, NULL);
	pthread_cond_init(&br->cond, NULL);
	if ((br->ev = event_new(b->base, -1, 0, bridge_cb, br)) == NULL) {
		kw_hsm_bridge_free(br);
		return KW_ERR_NOMEM;
	}
	*ret = br;
	return 0;
}

void
kw_hsm_bridge_shutdown(struct kw_hsm_bridge *br)
{
	if (br == NULL)
		return;
	pthread_mutex_lock(&br->lock);
	br->shutdown = 1;
	pthread_cond_broadcast(&br->cond);
	pthread_mutex_unlock(&br->lock);
}

void
kw_hsm_bridge_free(struct kw_hsm_bridge *br)
{
	if (br == NULL)
		return;
	if (br->ev != NULL)
		event_free(br->ev);
	pthread_cond_destroy(&br->cond);
	pthread_mutex_destroy(&br->lock);
	free(br);
}

int
kw_hsm_bridge_call(struct kw_hsm_bridge *br, const struct hsm_args *a, struct hsm_result **ret)
{
	struct bridge_call *c;
	struct timespec deadline;
	json_t *req = NULL;
	int r;

	if ((r = hsm_args_encode(a, &req)) != 0)
		return r;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		json_decref(req);
		return KW_ERR_NOMEM;
	}
	c->br = br;
	c->op = a->op;
	c->req = req;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += (time_t)(br->b->cfg->hsm_admin_timeout > br->b->cfg->hsm_call_timeout ?
	    br->b->cfg->hsm_admin_timeout : br->b->cfg->hsm_call_timeout) + BRIDGE_MARGIN_S;
	pthread_mutex_lock(&br->lock);
	if (br->shutdown) {
		pthread_mutex_unlock(&br->lock);
		json_decref(req);
		free(c);
		return KW_ERR_UNAVAILABLE;
	}
	if (br->tail != NULL)
		br->tail->next = c;
	else
		br->head = c;
	br->tail = c;
	pthread_mutex_unlock(&br->lock);
	event_active(br->ev, EV_READ, 0);
	pthread_mutex_lock(&br->lock);
	while (c->done == 0 && !br->shutdown) {
		if (pthread_cond_timedwait(&br->cond, &br->lock, &deadline) == ETIMEDOUT)
			break;
	}
	r = c->done != 0 ? c->r : KW_ERR_UNAVAILABLE;
	if (c->done != 0) {
		if (r == 0)
			*ret = c->reply;    /* transferred */
		else
			hsm_result_free(c->reply);
		pthread_mutex_unlock(&br->lock);
		free(c);
	} else {
		/* timed out or shutting down: the loop may still complete c; leak it
		 * deliberately rather than free memory the loop will write to */
		pthread_mutex_unlock(&br->lock);
		kw_log_err("HSM call from the admin thread did not complete");
	}
	return r;
}
