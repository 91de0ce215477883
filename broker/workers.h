/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_WORKERS_H
#define KW_WORKERS_H

#include <stddef.h>

#include <event2/event.h>

#include "kw_err.h"

/*
 * A small pool of appraisal threads. run() executes on a worker thread and
 * must not touch libevent or broker state; done() runs afterwards on the
 * event loop thread. The queue is bounded: submit fails with
 * KW_ERR_UNAVAILABLE when max_queued jobs are waiting or running, so a
 * flood turns into 503s instead of unbounded memory.
 */
struct kw_workers;

typedef void (*kw_work_fn)(void *arg);

int kw_workers_new(struct event_base *base, unsigned int nthreads, size_t max_queued,
    struct kw_workers **ret) KW_WUR;
int kw_workers_submit(struct kw_workers *w, kw_work_fn run, kw_work_fn done, void *arg) KW_WUR;
/* Publish the jobs waiting for a thread as keywarden_worker_queue_depth{pool} (metrics.h). */
void kw_workers_set_metrics(struct kw_workers *w, int pool);
/* Stop the threads after the jobs already queued; done() of unfinished jobs is not called. */
void kw_workers_free(struct kw_workers *w);

#endif
