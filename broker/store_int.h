/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_STORE_INT_H
#define KW_STORE_INT_H

/*
 * Between store.c (the public kw_store_* functions, argument checks, the
 * SQLite backend) and store_pg.c (the PostgreSQL backend). store.c checks
 * every argument, then hands a PostgreSQL store's call to the kw_pg_*
 * function of the same name: these take checked arguments only.
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "audit.h"
#include "kw_err.h"
#include "store.h"

/*
 * Typed statement parameters (no varargs: a bare int where a vararg reader
 * expects int64_t is undefined behaviour). QT(text) binds text, or NULL for
 * a NULL pointer; QI(integer) binds a 64-bit integer. Parameters are
 * numbered from 1 in the order given. QNONE: SQLite's "no parameters".
 */
enum q_type { Q_NONE, Q_TEXT, Q_INT };
struct q_param {
	enum q_type type;
	const char *text;
	int64_t i;
};

static inline struct q_param
QT(const char *v)
{
	return (struct q_param){ .type = Q_TEXT, .text = v };
}

static inline struct q_param
QI(int64_t v)
{
	return (struct q_param){ .type = Q_INT, .i = v };
}

#define QNONE ((struct q_param){ .type = Q_NONE })
#define Q_PARAMS(...) (const struct q_param[]){ __VA_ARGS__ }, \
	sizeof((const struct q_param[]){ __VA_ARGS__ }) / sizeof(struct q_param)

/* Rows to JSON, driven by a column spec (both backends). */
enum col_kind {
	C_TEXT,        /* string */
	C_TEXT_NULL,   /* string or null */
	C_INT,         /* integer */
	C_BOOL,        /* integer column as true/false */
	C_JSON,        /* a stored JSON document (capped strict parse) */
};
struct col {
	const char *member;
	enum col_kind kind;
	int index;     /* result column */
};

/* A release target from a row's columns (policy NULL: unbound); KW_ERR_INTERNAL when out of range. */
int kw_store_target_fill(const char *label, int64_t version, const char *algorithm, int64_t length,
    const char *policy, struct kw_release_target *ret) KW_WUR;
/* json_object_set_new that steals v; KW_ERR_NOMEM on failure (v NULL included). */
int kw_store_jset(json_t *o, const char *k, json_t *v) KW_WUR;

/* ---- the PostgreSQL backend (store_pg.c) ---- */
struct kw_pgstore;

/* Connect (one connection now, up to pool lazily), apply migrations under an advisory lock. */
int kw_pg_open(const char *conninfo, unsigned int pool, struct kw_pgstore **ret) KW_WUR;
void kw_pg_close(struct kw_pgstore *pg);
int kw_pg_schema_version(struct kw_pgstore *pg, int *ret) KW_WUR;
void kw_pg_set_wait(struct kw_pgstore *pg, int ms);
/* kw_store_ping (store.h). */
int kw_pg_ping(struct kw_pgstore *pg, int deadline_ms) KW_WUR;

int kw_pg_key_create(struct kw_pgstore *pg, const struct kw_key_spec *spec, const char *origin,
    int64_t now, const char *label) KW_WUR;
int kw_pg_version_add(struct kw_pgstore *pg, const char *repo, const char *type, const char *tag,
    const char *origin, int64_t now, int *ret_version, char **ret_label) KW_WUR;
int kw_pg_version_commit(struct kw_pgstore *pg, const char *label) KW_WUR;
int kw_pg_version_abort(struct kw_pgstore *pg, const char *label) KW_WUR;
/* repo, type, tag: NULL = any. */
int kw_pg_keys_query(struct kw_pgstore *pg, const char *repo, const char *type, const char *tag,
    json_t **ret) KW_WUR;
int kw_pg_key_set_state(struct kw_pgstore *pg, const char *repo, const char *type,
    const char *tag, const char *state) KW_WUR;
int kw_pg_version_set_state(struct kw_pgstore *pg, const char *repo, const char *type,
    const char *tag, int version, const char *state) KW_WUR;
int kw_pg_key_set_policy(struct kw_pgstore *pg, const char *repo, const char *type,
    const char *tag, const char *policy) KW_WUR;
/* labels: an empty array, filled here. */
int kw_pg_key_delete_begin(struct kw_pgstore *pg, const char *repo, const char *type,
    const char *tag, json_t *labels) KW_WUR;
int kw_pg_key_delete_finish(struct kw_pgstore *pg, const char *repo, const char *type,
    const char *tag) KW_WUR;
int kw_pg_release_lookup(struct kw_pgstore *pg, const char *repo, const char *type,
    const char *tag, int version, struct kw_release_target *ret) KW_WUR;
int kw_pg_all_versions(struct kw_pgstore *pg, json_t **ret) KW_WUR;
/* text: the document's JCS; base > 0: KW_ERR_MISMATCH unless the latest version is base. */
int kw_pg_doc_put(struct kw_pgstore *pg, const char *kind, const char *repo, const char *name,
    const char *text, int immutable, const char *actor, int64_t now, int base,
    int *ret_version) KW_WUR;
enum kw_pg_docq { KW_PG_DOC_GET, KW_PG_DOC_HISTORY, KW_PG_DOC_LIST };
/* An array of document rows (name NULL and repo NULL = all for LIST). */
int kw_pg_docs(struct kw_pgstore *pg, enum kw_pg_docq q, const char *kind, const char *repo,
    const char *name, int version, json_t **ret) KW_WUR;
int kw_pg_change_add(struct kw_pgstore *pg, int64_t now, const char *actor, const char *action,
    const char *repository, const char *target, const char *outcome, const char *detail) KW_WUR;
int kw_pg_changes(struct kw_pgstore *pg, const char *repository, int64_t after, int64_t limit,
    json_t **ret) KW_WUR;
/* id: 1..32 bytes (checked); *ret_swept (may be NULL): expired rows this call swept. */
int kw_pg_once(struct kw_pgstore *pg, int kind, const uint8_t *id, size_t id_len, int64_t expiry,
    int64_t now, int64_t *ret_swept) KW_WUR;

/* The audit log of every replica: struct audit_backend's calls, arg = the kw_pgstore. */
int kw_pg_audit_append(void *arg, struct audit_batch *b) KW_WUR;
int kw_pg_audit_size(void *arg, uint64_t *ret) KW_WUR;
int kw_pg_audit_records(void *arg, uint64_t from, uint64_t to, audit_record_fn each,
    void *ctx) KW_WUR;
int kw_pg_audit_node(void *arg, unsigned int level, uint64_t idx,
    uint8_t out[static AUDIT_HASH_LEN]) KW_WUR;
int kw_pg_audit_checkpoint_add(void *arg, uint64_t size, int64_t at, const char *note) KW_WUR;
int kw_pg_audit_checkpoint(void *arg, enum audit_cp_query which, uint64_t size, char **ret_note,
    int64_t *ret_at) KW_WUR;
int kw_pg_audit_list(void *arg, const struct audit_filter *f, uint64_t start, size_t limit,
    json_t **ret, uint64_t *ret_next) KW_WUR;
/* Take or renew the checkpoint lease for seconds (the database's clock); seconds 0: give it up. */
int kw_pg_audit_lease(struct kw_pgstore *pg, const char *holder, int seconds, int *ret_held) KW_WUR;

/*
 * The PostgreSQL backend is the module keywarden-pg.so (libpq and what it pulls
 * in — GnuTLS, Kerberos, LDAP — are mapped only when store.kind is
 * "postgresql"; common/kw_module.h). store.c calls it through this table,
 * which the module's one exported function returns.
 */
#define KW_PG_MODULE_FILE "keywarden-pg.so"
#define KW_PG_MODULE_ENTRY "kw_pg_module_v1"
#define KW_PG_MODULE_ABI 3u

struct kw_pg_ops {
	unsigned int abi;       /* KW_PG_MODULE_ABI */
	const char *version;    /* KW_VERSION of the module's build */
	int (*open)(const char *conninfo, unsigned int pool, struct kw_pgstore **ret);
	void (*close)(struct kw_pgstore *pg);
	int (*schema_version)(struct kw_pgstore *pg, int *ret);
	void (*set_wait)(struct kw_pgstore *pg, int ms);
	int (*key_create)(struct kw_pgstore *pg, const struct kw_key_spec *spec, const char *origin, int64_t now, const char *label);
	int (*version_add)(struct kw_pgstore *pg, const char *repo, const char *type, const char *tag, const char *origin, int64_t now, int *ret_version, char **ret_label);
	int (*version_commit)(struct kw_pgstore *pg, const char *label);
	int (*version_abort)(struct kw_pgstore *pg, const char *label);
	int (*keys_query)(struct kw_pgstore *pg, const char *repo, const char *type, const char *tag, json_t **ret);
	int (*key_set_state)(struct kw_pgstore *pg, const char *repo, const char *type, const char *tag, const char *state);
	int (*version_set_state)(struct kw_pgstore *pg, const char *repo, const char *type, const char *tag, int version, const char *state);
	int (*key_set_policy)(struct kw_pgstore *pg, const char *repo, const char *type, const char *tag, const char *policy);
	int (*key_delete_begin)(struct kw_pgstore *pg, const char *repo, const char *type, const char *tag, json_t *labels);
	int (*key_delete_finish)(struct kw_pgstore *pg, const char *repo, const char *type, const char *tag);
	int (*release_lookup)(struct kw_pgstore *pg, const char *repo, const char *type, const char *tag, int version, struct kw_release_target *ret);
	int (*all_versions)(struct kw_pgstore *pg, json_t **ret);
	int (*doc_put)(struct kw_pgstore *pg, const char *kind, const char *repo, const char *name, const char *text, int immutable, const char *actor, int64_t now, int base, int *ret_version);
	int (*docs)(struct kw_pgstore *pg, enum kw_pg_docq q, const char *kind, const char *repo, const char *name, int version, json_t **ret);
	int (*change_add)(struct kw_pgstore *pg, int64_t now, const char *actor, const char *action, const char *repository, const char *target, const char *outcome, const char *detail);
	int (*changes)(struct kw_pgstore *pg, const char *repository, int64_t after, int64_t limit, json_t **ret);
	int (*once)(struct kw_pgstore *pg, int kind, const uint8_t *id, size_t id_len, int64_t expiry, int64_t now, int64_t *ret_swept);
	/* ABI 2: the audit log */
	int (*audit_append)(void *arg, struct audit_batch *b);
	int (*audit_size)(void *arg, uint64_t *ret);
	int (*audit_records)(void *arg, uint64_t from, uint64_t to, audit_record_fn each, void *ctx);
	int (*audit_node)(void *arg, unsigned int level, uint64_t idx, uint8_t out[static AUDIT_HASH_LEN]);
	int (*audit_checkpoint_add)(void *arg, uint64_t size, int64_t at, const char *note);
	int (*audit_checkpoint)(void *arg, enum audit_cp_query which, uint64_t size, char **ret_note, int64_t *ret_at);
	int (*audit_list)(void *arg, const struct audit_filter *f, uint64_t start, size_t limit, json_t **ret, uint64_t *ret_next);
	int (*audit_lease)(struct kw_pgstore *pg, const char *holder, int seconds, int *ret_held);
	/* ABI 3: readiness (/readyz) */
	int (*ping)(struct kw_pgstore *pg, int deadline_ms);
};

const struct kw_pg_ops *kw_pg_module_v1(void);

#endif
