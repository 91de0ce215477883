/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_STORE_H
#define KW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kw_err.h"

/*
 * keywarden's durable state: keys and their versions (metadata only — a
 * key's value lives in the HSM and nowhere else), policies and reference
 * values (versioned documents), and the append-only record of admin changes.
 *
 * Embedded backend: SQLite, WAL, synchronous=FULL, foreign keys on, numbered
 * migrations applied at open. Every write function is one transaction and
 * returns only after it is durable. The interface speaks in rows and JSON
 * documents, not SQL, so that a PostgreSQL backend can implement it later.
 *
 * Threading: a SQLite kw_store is one connection; use it from one thread at a
 * time. The broker opens one for the admin thread (writes) and one for the
 * event loop (reads only: release lookups). A PostgreSQL kw_store is a pool
 * shared by the admin thread and the appraisal workers (which then do the
 * release reads: kw_store_is_shared).
 *
 * Names: repository, type, tag and document names are [A-Za-z0-9._-]{1,64},
 * not "." or ".." (checked here too: KW_ERR_INVALID_ARG).
 *
 * Key states: "enabled", "disabled", "deleting". Version states: "pending"
 * (row written, HSM object maybe not yet), "enabled", "disabled", "deleting".
 * A version serves workloads only when it and its key are enabled.
 * HSM labels are "kw-key/<repository>/<type>/<tag>/v<version>".
 */
struct kw_store;

#define KW_STORE_SCHEMA_VERSION 1
#define KW_STORE_LABEL_MAX 256
#define KW_STORE_DOC_MAX (64 * 1024)

int kw_store_open(const char *path, struct kw_store **ret) KW_WUR;
/* As kw_store_open but never writes (no migrations; fails if the schema is older). */
int kw_store_open_readonly(const char *path, struct kw_store **ret) KW_WUR;
/*
 * PostgreSQL (docs/store.md): conninfo is a libpq connection string (TLS via
 * its sslmode/sslrootcert/...), pool the number of connections (1..64,
 * opened as needed). Applies the migrations under an advisory lock. The
 * store is then safe to use from several threads at once; a call waits for
 * a free connection (kw_store_set_busy_timeout) and reconnects a dead one.
 * A malformed conninfo: KW_ERR_CONFIG; the database unreachable:
 * KW_ERR_UNAVAILABLE. Admin writes that keep losing to concurrent writers
 * on other brokers: KW_ERR_EXISTS (409 conflict).
 */
int kw_store_open_pg(const char *conninfo, unsigned int pool, struct kw_store **ret) KW_WUR;
/* 1 for a PostgreSQL store: thread-safe, and its calls wait on the network (never on the loop). */
int kw_store_is_shared(const struct kw_store *st);
void kw_store_close(struct kw_store *st);
/*
 * PostgreSQL: one "SELECT 1" through the pool (a free connection, connected
 * or reconnected as needed; one more try on a new connection when a pooled
 * one turns out dead), its answer awaited at most deadline_ms (1..60000).
 * Blocks: call it on a worker thread. 0, KW_ERR_TIMEOUT (no answer in time;
 * the query left out is dropped with its connection) or KW_ERR_UNAVAILABLE
 * (no free connection in time, no connection, an error). Connecting itself is bounded by the connection's
 * connect_timeout (5 s unless conninfo sets it). SQLite: 0 at once.
 */
int kw_store_ping(struct kw_store *st, int deadline_ms) KW_WUR;
int kw_store_schema_version(struct kw_store *st, int *ret) KW_WUR;
/* How long a write waits for another connection's write lock before
 * KW_ERR_UNAVAILABLE (default 5000 ms; 0..60000). */
int kw_store_set_busy_timeout(struct kw_store *st, int ms) KW_WUR;

/* Names: kw_name_valid() (kw_name.h). */

struct kw_key_spec {
	const char *repository, *type, *tag;
	const char *algorithm;      /* "aes-128", "aes-256", "secret" */
	unsigned int length;        /* bytes: 16, 32, or 1..4096 for "secret" */
	const char *policy;         /* policy name in the same repository, or NULL (denies all) */
};

/* "kw-key/<repo>/<type>/<tag>/v<version>", malloc'd in *ret. */
int kw_store_make_label(const char *repo, const char *type, const char *tag, int64_t version,
    char **ret) KW_WUR;
/*
 * Create a key with version 1 in state "pending" (origin "generated" or
 * "imported"). KW_ERR_EXISTS when the key exists (in any state).
 * *ret_label (malloc'd) is the HSM label to create next.
 */
int kw_store_key_create(struct kw_store *st, const struct kw_key_spec *spec, const char *origin,
    int64_t now, char **ret_label) KW_WUR;
/* Add version n+1 in state "pending" to an enabled or disabled key. */
int kw_store_version_add(struct kw_store *st, const char *repo, const char *type,
    const char *tag, const char *origin, int64_t now, int *ret_version, char **ret_label) KW_WUR;
/* pending -> enabled, once the HSM object exists. */
int kw_store_version_commit(struct kw_store *st, const char *label) KW_WUR;
/* Remove a pending version (and its key if that leaves it without versions). */
int kw_store_version_abort(struct kw_store *st, const char *label) KW_WUR;

/*
 * Key metadata: {"repository","type","tag","algorithm","length","policy"|null,
 * "state","created","versions":[{"version","state","origin","created"}...]}
 * (versions ascending; pending and deleting versions included).
 */
int kw_store_key_get(struct kw_store *st, const char *repo, const char *type, const char *tag,
    json_t **ret) KW_WUR;
/* Array of key metadata objects (as above), repository NULL = all, sorted by path. */
int kw_store_key_list(struct kw_store *st, const char *repo, json_t **ret) KW_WUR;
/* state "enabled" or "disabled". KW_ERR_NOT_FOUND, KW_ERR_DENIED when deleting. */
int kw_store_key_set_state(struct kw_store *st, const char *repo, const char *type,
    const char *tag, const char *state) KW_WUR;
int kw_store_version_set_state(struct kw_store *st, const char *repo, const char *type,
    const char *tag, int version, const char *state) KW_WUR;
/* policy NULL unbinds. The policy need not exist yet (a missing policy denies). */
int kw_store_key_set_policy(struct kw_store *st, const char *repo, const char *type,
    const char *tag, const char *policy) KW_WUR;
/* Mark the key and all versions "deleting"; *ret_labels = array of HSM labels to destroy. */
int kw_store_key_delete_begin(struct kw_store *st, const char *repo, const char *type,
    const char *tag, json_t **ret_labels) KW_WUR;
/* Remove the rows of a key in state "deleting". */
int kw_store_key_delete_finish(struct kw_store *st, const char *repo, const char *type,
    const char *tag) KW_WUR;

/*
 * For a release: the HSM label and metadata of the newest enabled version
 * (version 0) or of the named version, only when the key is enabled; plus
 * the bound policy name (NULL when unbound). KW_ERR_NOT_FOUND otherwise.
 */
struct kw_release_target {
	char label[KW_STORE_LABEL_MAX];
	int version;
	char algorithm[16];
	unsigned int length;
	char policy[72];            /* "" when unbound */
};
int kw_store_release_lookup(struct kw_store *st, const char *repo, const char *type,
    const char *tag, int version, struct kw_release_target *ret) KW_WUR;

/* Reconciliation at start: {"label","state"} of every version, and key states. */
int kw_store_all_versions(struct kw_store *st, json_t **ret) KW_WUR;

/*
 * Versioned documents, kind "policy" or "refval": each put is a new version
 * (1, 2, ...). immutable: once a document is stored immutable, further puts
 * fail with KW_ERR_EXISTS. doc is stored canonically (JCS).
 * get: version 0 = latest -> {"repository","name","version","immutable",
 * "created","created_by","document"}; history: array of those, ascending;
 * list: array of latest versions in repo (NULL = all).
 */
int kw_store_doc_put(struct kw_store *st, const char *kind, const char *repo, const char *name,
    const json_t *doc, int immutable, const char *actor, int64_t now, int *ret_version) KW_WUR;
/*
 * A put that is based on version base (>= 1) of the document: KW_ERR_MISMATCH
 * when the latest version is no longer base (another admin, maybe on another
 * broker, wrote in between: a read-modify-write would lose their change).
 */
int kw_store_doc_put_based(struct kw_store *st, const char *kind, const char *repo,
    const char *name, const json_t *doc, int immutable, const char *actor, int64_t now, int base,
    int *ret_version) KW_WUR;
int kw_store_doc_get(struct kw_store *st, const char *kind, const char *repo, const char *name,
    int version, json_t **ret) KW_WUR;
int kw_store_doc_history(struct kw_store *st, const char *kind, const char *repo,
    const char *name, json_t **ret) KW_WUR;
int kw_store_doc_list(struct kw_store *st, const char *kind, const char *repo, json_t **ret) KW_WUR;

/*
 * The append-only admin change record (UPDATE and DELETE are refused by
 * triggers). outcome: "ok", "error" or "denied" (authorization refused);
 * repository: a name, or NULL or "" (stored as null) when the change is not
 * about one repository; detail: short text, never a secret.
 */
int kw_store_change_add(struct kw_store *st, int64_t now, const char *actor, const char *action,
    const char *repository, const char *target, const char *outcome, const char *detail) KW_WUR;
/*
 * Array of {"seq","at","actor","action","repository","target","outcome","detail"}
 * with seq > after, ascending, at most limit; repository NULL = all.
 */
int kw_store_changes(struct kw_store *st, const char *repository, int64_t after, size_t limit,
    json_t **ret) KW_WUR;

/*
 * The audit log in the shared store (PostgreSQL only; docs/ha.md "Audit
 * across replicas"): *ret is an audit backend on the store's pool, valid
 * while st is open. KW_ERR_INVALID_ARG for a SQLite store.
 */
struct audit_backend;
int kw_store_audit_backend(struct kw_store *st, struct audit_backend *ret) KW_WUR;
/*
 * The checkpoint lease: take it, or renew it when holder has it, for seconds
 * (the database's clock); *ret_held (may be NULL) 1 when holder has it now.
 * seconds 0: give it up when holder has it.
 */
int kw_store_audit_lease(struct kw_store *st, const char *holder, int seconds,
    int *ret_held) KW_WUR;

/*
 * The single-use sets shared by every broker on one PostgreSQL store (docs/ha.md):
 * spend id (1..32 bytes) of set until expiry. 0 (spent now), KW_ERR_REPLAY
 * (spent before and still live, here or at another broker), KW_ERR_EXPIRED
 * (expiry < now), KW_ERR_UNAVAILABLE / KW_ERR_TIMEOUT (the database),
 * KW_ERR_UNSUPPORTED (a SQLite store: the broker's in-memory sets are all
 * there is). Expired entries are swept in batches as spends go by. Waits on
 * the network: never on the event loop.
 */
enum kw_store_once_set { KW_STORE_ONCE_CHALLENGE = 1, KW_STORE_ONCE_JTI = 2 };
int kw_store_once(struct kw_store *st, enum kw_store_once_set set, const uint8_t *id,
    size_t id_len, int64_t expiry, int64_t now) KW_WUR;

#endif
