/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Group commit: producers queue records; one writer thread takes whatever is
 * queued (up to max_batch), writes it in one transaction and COMMITs with
 * synchronous=FULL, so a batch costs one WAL fsync however many producers
 * wait on it. The writer owns the connection, the compact range and the
 * chain head; a failed batch rolls all of them back and every waiter of the
 * batch gets the error.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "kw_json.h"

#define AUDIT_BATCH_DEFAULT 256U
#define AUDIT_QUEUE_DEFAULT 8192U

struct item {
	struct item *next;
	enum audit_kind kind;
	int64_t at;
	json_t *data;        /* owned */
	audit_done_fn done;
	void *arg;
};

struct audit_writer {
	struct audit_db *db;            /* the writer thread's (after open) */
	unsigned int max_batch, queue_max;
	bool one_per_commit;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item *head, *tail;       /* under mu */
	size_t queued;                  /* under mu */
	bool stop;                      /* under mu */
	struct audit_writer_stats stats; /* under mu */
	pthread_t thread;
	bool started;

	/* the writer thread's alone */
	struct audit_frontier f;
	uint8_t last[AUDIT_HASH_LEN];
};

static void
item_free(struct item *it)
{
	if (it == NULL)
		return;
	json_decref(it->data);
	free(it);
}

/* The filter columns of a record (borrowed strings of data). */
static void
columns(enum audit_kind kind, const json_t *data, const char **repo, const char **resource,
    const char **decision)
{
	*repo = json_string_value(json_object_get(data, "repository"));
	*resource = json_string_value(json_object_get(data, "resource"));
	switch (kind) {
	case AUDIT_KIND_RELEASE:
		*decision = "release";
		break;
	case AUDIT_KIND_DENIAL:
		*decision = "deny";
		break;
	case AUDIT_KIND_APPRAISAL:
		*decision = json_string_value(json_object_get(data, "result"));
		break;
	case AUDIT_KIND_ADMIN_CHANGE:
		*decision = json_string_value(json_object_get(data, "outcome"));
		break;
	default:
		*decision = NULL;
		break;
	}
}

static int
on_node(void *arg, unsigned int level, uint64_t idx, const uint8_t hash[static AUDIT_HASH_LEN])
{
	return audit_db_insert_node(arg, level, idx, hash);
}

static void
batch_clear(struct audit_batch *b)
{
	for (size_t i = 0; i < b->nrows; i++)
		free(b->rows[i].record);
	free(b->rows);
	free(b->nodes);
	b->rows = NULL;
	b->nodes = NULL;
	b->nrows = 0;
	b->nnodes = 0;
}

static int
batch_node(void *arg, unsigned int level, uint64_t idx, const uint8_t hash[static AUDIT_HASH_LEN])
{
	struct audit_batch *b = arg;
	struct audit_batch_node *nd;

	if (b->nnodes >= b->n + AUDIT_TREE_MAX_LEVELS)
		return KW_ERR_INTERNAL;    /* cannot happen: n leaves complete < n + 64 roots */
	nd = &b->nodes[b->nnodes++];
	nd->level = level;
	nd->idx = idx;
	memcpy(nd->hash, hash, AUDIT_HASH_LEN);
	return 0;
}

/* struct audit_batch's build. */
static int
batch_build(struct audit_batch *b)
{
	struct audit_frontier f = b->head;
	uint8_t last[AUDIT_HASH_LEN];
	struct item *it = b->items;
	int r = 0;

	batch_clear(b);
	memcpy(last, b->last, sizeof(last));
	if ((b->rows = calloc(b->n, sizeof(*b->rows))) == NULL ||
	    (b->nodes = calloc(b->n + AUDIT_TREE_MAX_LEVELS, sizeof(*b->nodes))) == NULL) {
		batch_clear(b);
		return KW_ERR_NOMEM;
	}
	for (size_t k = 0; k < b->n && r == 0; k++, it = it->next) {
		struct audit_batch_row *row = &b->rows[k];

		row->index = f.size;
		row->at = it->at;
		row->kind = audit_kind_name(it->kind);
		columns(it->kind, it->data, &row->repository, &row->resource, &row->decision);
		if ((r = audit_record_encode(f.size, it->at, it->kind, last, it->data, &row->record,
		    &row->len)) != 0)
			break;
		b->nrows = k + 1;
		if ((r = audit_leaf_hash(row->record, row->len, row->leaf)) == 0 &&
		    (r = audit_frontier_append(&f, row->leaf, batch_node, b)) == 0)
			memcpy(last, row->leaf, sizeof(last));
	}
	if (r != 0) {
		batch_clear(b);
		return r;
	}
	b->head = f;
	memcpy(b->last, last, sizeof(last));
	return 0;
}

/* A batch on a backend: its append is the transaction (it reads the head under its lock). */
static int
batch_write_backend(struct audit_writer *w, const struct audit_backend *be, struct item *items,
    size_t n, uint64_t *ret_first)
{
	struct audit_batch b = { .build = batch_build, .items = items, .n = n };
	int r;

	if ((r = be->append(be->arg, &b)) == 0) {
		if (b.nrows != n) {
			r = KW_ERR_INTERNAL;
		} else {
			*ret_first = b.rows[0].index;
			w->f = b.head;    /* the log's head after this batch (other replicas append too) */
			memcpy(w->last, b.last, sizeof(w->last));
		}
	}
	batch_clear(&b);
	return r;
}

/* Write items (n of them) as one transaction: 0, or an error with nothing written. */
static int
batch_write(struct audit_writer *w, struct item *items, size_t n)
{
	struct audit_frontier f = w->f;
	uint8_t last[AUDIT_HASH_LEN];
	struct item *it = items;
	int r;

	memcpy(last, w->last, sizeof(last));
	if ((r = audit_db_begin(w->db)) != 0)
		return r;
	for (size_t k = 0; k < n && r == 0; k++, it = it->next) {
		const char *repo, *resource, *decision;
		uint8_t leaf[AUDIT_HASH_LEN];
		char *rec = NULL;
		size_t len = 0;

		if ((r = audit_record_encode(f.size, it->at, it->kind, last, it->data, &rec,
		    &len)) != 0)
			break;
		columns(it->kind, it->data, &repo, &resource, &decision);
		if ((r = audit_leaf_hash(rec, len, leaf)) == 0)
			r = audit_db_insert_record(w->db, f.size, it->at, it->kind, repo, resource,
			    decision, rec, len, leaf);
		free(rec);
		if (r == 0)
			r = audit_frontier_append(&f, leaf, on_node, w->db);
		if (r == 0)
			memcpy(last, leaf, sizeof(last));
	}
	if ((r = audit_db_end(w->db, r)) != 0)
		return r;
	/* durable: now the in-memory head moves */
	w->f = f;
	memcpy(w->last, last, sizeof(last));
	return 0;
}

static void *
writer_main(void *arg)
{
	struct audit_writer *w = arg;

	for (;;) {
		struct item *batch, *it, *next;
		uint64_t first;
		size_t n = 0;
		int r;

		pthread_mutex_lock(&w->mu);
		while (w->head == NULL && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->head == NULL) {    /* stopping and drained */
			pthread_mutex_unlock(&w->mu);
			break;
		}
		/* take up to max_batch items off the queue */
		batch = w->head;
		it = batch;
		n = 1;
		while (n < w->max_batch && it->next != NULL) {
			it = it->next;
			n++;
		}
		w->head = it->next;
		if (w->head == NULL)
			w->tail = NULL;
		it->next = NULL;
		w->queued -= n;
		pthread_mutex_unlock(&w->mu);

		first = w->f.size;
		if (audit_db_backend(w->db) != NULL)
			r = batch_write_backend(w, audit_db_backend(w->db), batch, n, &first);
		else
			r = batch_write(w, batch, n);

		pthread_mutex_lock(&w->mu);
		if (r == 0) {
			w->stats.records += n;
			w->stats.commits++;
		} else {
			w->stats.failed_batches++;
		}
		w->stats.size = w->f.size;
		pthread_mutex_unlock(&w->mu);

		/* tell every waiter of the batch, in order */
		for (uint64_t i = first; batch != NULL; batch = next, i++) {
			next = batch->next;
			batch->done(batch->arg, r, r == 0 ? i : 0);
			item_free(batch);
		}
	}
	return NULL;
}

static int
writer_open(const char *path, const struct audit_backend *be, const struct audit_writer_config *cfg,
    struct audit_writer **ret)
{
	struct audit_writer *w = NULL;
	int r;

	if ((path == NULL && be == NULL) || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return KW_ERR_NOMEM;
	w->max_batch = cfg != NULL && cfg->max_batch > 0 ? cfg->max_batch : AUDIT_BATCH_DEFAULT;
	w->queue_max = cfg != NULL && cfg->queue_max > 0 ? cfg->queue_max : AUDIT_QUEUE_DEFAULT;
	w->one_per_commit = cfg != NULL && cfg->one_per_commit;
	if (w->one_per_commit)
		w->max_batch = 1;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		free(w);
		return KW_ERR_NOMEM;
	}
	if (pthread_cond_init(&w->cv, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		free(w);
		return KW_ERR_NOMEM;
	}
	if ((r = be != NULL ? audit_db_open_backend(be, &w->db) :
	    audit_db_open(path, false, &w->db)) != 0)
		goto fail;
	/* on a backend the head is read again under its lock by every batch */
	if ((r = audit_db_load_head(w->db, &w->f, w->last)) != 0)
		goto fail;
	w->stats.size = w->f.size;
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		r = KW_ERR_NOMEM;
		goto fail;
	}
	w->started = true;
	*ret = w;
	return 0;
fail:
	audit_writer_close(w);
	return r;
}

int
audit_writer_open(const char *path, const struct audit_writer_config *cfg,
    struct audit_writer **ret)
{
	return path == NULL ? KW_ERR_INVALID_ARG : writer_open(path, NULL, cfg, ret);
}

int
audit_writer_open_backend(const struct audit_backend *be, const struct audit_writer_config *cfg,
    struct audit_writer **ret)
{
	return be == NULL ? KW_ERR_INVALID_ARG : writer_open(NULL, be, cfg, ret);
}

int
audit_writer_append(struct audit_writer *w, enum audit_kind kind, int64_t at,
    const json_t *data, audit_done_fn done, void *arg)
{
	struct item *it;
	int r;

	if (w == NULL || done == NULL || at < 0)
		return KW_ERR_INVALID_ARG;
	if ((r = audit_data_check(kind, data, NULL)) != 0)
		return r;
	if ((it = calloc(1, sizeof(*it))) == NULL)
		return KW_ERR_NOMEM;
	/* a deep copy: the caller keeps data, and the writer thread reads ours */
	kw_json_oom_reset();
	if ((it->data = json_deep_copy(data)) == NULL || kw_json_oom()) {
		item_free(it);
		return KW_ERR_NOMEM;
	}
	it->kind = kind;
	it->at = at;
	it->done = done;
	it->arg = arg;
	pthread_mutex_lock(&w->mu);
	if (w->stop || w->queued >= w->queue_max) {
		pthread_mutex_unlock(&w->mu);
		item_free(it);
		return KW_ERR_UNAVAILABLE;
	}
	if (w->tail != NULL)
		w->tail->next = it;
	else
		w->head = it;
	w->tail = it;
	w->queued++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int r;
	uint64_t index;
};

static void
wait_done(void *arg, int r, uint64_t index)
{
	struct waiter *wt = arg;

	pthread_mutex_lock(&wt->mu);
	wt->r = r;
	wt->index = index;
	wt->done = true;
	pthread_cond_signal(&wt->cv);
	pthread_mutex_unlock(&wt->mu);
}

int
audit_writer_append_wait(struct audit_writer *w, enum audit_kind kind, int64_t at,
    const json_t *data, uint64_t *ret_index)
{
	struct waiter wt = { .done = false };
	int r;

	if (pthread_mutex_init(&wt.mu, NULL) != 0)
		return KW_ERR_NOMEM;
	if (pthread_cond_init(&wt.cv, NULL) != 0) {
		pthread_mutex_destroy(&wt.mu);
		return KW_ERR_NOMEM;
	}
	if ((r = audit_writer_append(w, kind, at, data, wait_done, &wt)) == 0) {
		pthread_mutex_lock(&wt.mu);
		while (!wt.done)
			pthread_cond_wait(&wt.cv, &wt.mu);
		pthread_mutex_unlock(&wt.mu);
		r = wt.r;
		if (r == 0 && ret_index != NULL)
			*ret_index = wt.index;
	}
	pthread_cond_destroy(&wt.cv);
	pthread_mutex_destroy(&wt.mu);
	return r;
}

void
audit_writer_stats(struct audit_writer *w, struct audit_writer_stats *ret)
{
	pthread_mutex_lock(&w->mu);
	*ret = w->stats;
	pthread_mutex_unlock(&w->mu);
}

void
audit_writer_close(struct audit_writer *w)
{
	if (w == NULL)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->stop = true;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
	}
	audit_db_close(w->db);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
