/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdlib.h>

#include "kw_log.h"
#include "metrics.h"
#include "workers.h"

struct job {
	kw_work_fn run, done;
	void *arg;
	struct job *next;
};

struct kw_workers {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *queue_head, *queue_tail;   /* waiting for a thread */
	struct job *done_head, *done_tail;   /* waiting for the loop */
	size_t inflight, max;
	size_t queued;                  /* waiting for a thread */
	int met;                        /* enum kw_met_pool published to, or -1 */
	int stopping;
	unsigned int nthreads;
	pthread_t *threads;
	struct event *done_ev;
};

static void *
worker_main(void *arg)
{
	struct kw_workers *w = arg;

	for (;;) {
		struct job *j;

		pthread_mutex_lock(&w->lock);
		while (w->queue_head == NULL && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->queue_head == NULL) {
			pthread_mutex_unlock(&w->lock);
			return NULL;
		}
		j = w->queue_head;
		w->queue_head = j->next;
		if (w->queue_head == NULL)
			w->queue_tail = NULL;
		w->queued--;
		if (w->met >= 0)
			kw_metrics_queue_depth((enum kw_met_pool)w->met, w->queued);
		pthread_mutex_unlock(&w->lock);

		j->run(j->arg);

		pthread_mutex_lock(&w->lock);
		j->next = NULL;
		if (w->done_tail != NULL)
			w->done_tail->next = j;
		else
			w->done_head = j;
		w->done_tail = j;
		pthread_mutex_unlock(&w->lock);
		event_active(w->done_ev, EV_READ, 0);   /* thread-safe with evthread_use_pthreads */
	}
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kw_workers *w = arg;
	struct job *list;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->lock);
	list = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->lock);
	while (list != NULL) {
		struct job *j = list;

		list = j->next;
		pthread_mutex_lock(&w->lock);
		w->inflight--;
		pthread_mutex_unlock(&w->lock);
		j->done(j->arg);
		free(j);
	}
}

int
kw_workers_new(struct event_base *base, unsigned int nthreads, size_t max_queued,
    struct kw_workers **ret)
{
	struct kw_workers *w;

	if (nthreads == 0 || nthreads > 64 || max_queued == 0)
		return KW_ERR_INVALID_ARG;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return KW_ERR_NOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->max = max_queued;
	w->met = -1;
	if ((w->threads = calloc(nthreads, sizeof(pthread_t))) == NULL ||
	    (w->done_ev = event_new(base, -1, 0, done_cb, w)) == NULL) {
		kw_workers_free(w);
		return KW_ERR_NOMEM;
	}
	for (unsigned int i = 0; i < nthreads; i++) {
		if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0) {
			kw_workers_free(w);
			return KW_ERR_INTERNAL;
		}
		w->nthreads++;
	}
	*ret = w;
	return 0;
}

int
kw_workers_submit(struct kw_workers *w, kw_work_fn run, kw_work_fn done, void *arg)
{
	struct job *j;

	pthread_mutex_lock(&w->lock);
	if (w->inflight >= w->max || w->stopping) {
		pthread_mutex_unlock(&w->lock);
		return KW_ERR_UNAVAILABLE;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		pthread_mutex_unlock(&w->lock);
		return KW_ERR_NOMEM;
	}
	j->run = run;
	j->done = done;
	j->arg = arg;
	if (w->queue_tail != NULL)
		w->queue_tail->next = j;
	else
		w->queue_head = j;
	w->queue_tail = j;
	w->inflight++;
	w->queued++;
	if (w->met >= 0)
		kw_metrics_queue_depth((enum kw_met_pool)w->met, w->queued);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

void
kw_workers_set_metrics(struct kw_workers *w, int pool)
{
	pthread_mutex_lock(&w->lock);
	w->met = pool;
	pthread_mutex_unlock(&w->lock);
}

void
kw_workers_free(struct kw_workers *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (unsigned int i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	while (w->done_head != NULL) {
		struct job *j = w->done_head;
		w->done_head = j->next;
		free(j);
	}
	while (w->queue_head != NULL) {
		struct job *j = w->queue_head;
		w->queue_head = j->next;
		free(j);
	}
	if (w->done_ev != NULL)
		event_free(w->done_ev);
	free(w->threads);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
