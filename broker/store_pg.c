/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PostgreSQL backend of store.h (docs/store.md). Every statement that takes
 * a value is a named prepared statement (PQprepare once per connection, then
 * PQexecPrepared): values never become SQL text. The only texts run with
 * PQexec are constants without values: the migrations, BEGIN, COMMIT,
 * ROLLBACK and the session settings.
 *
 * A kw_pgstore is a pool of connections, safe to use from several threads:
 * each call takes a connection for its duration (waiting at most wait_ms
 * for one), (re)connects it when needed, and gives it back. Every write is
 * one transaction: key writes SERIALIZABLE, taking the rows they change FOR
 * UPDATE; document puts and change records READ COMMITTED under an advisory
 * lock per document name (resp. one for the change record) taken first, so
 * that each statement after it sees every earlier writer's commit (under
 * SERIALIZABLE the snapshot would predate the lock). A serialization failure
 * or deadlock is retried (PG_ATTEMPTS in all) and, if it persists, reported
 * as KW_ERR_EXISTS (409 conflict). A
 * call that finds its connection dead before COMMIT is retried once on a
 * new one (the database restarted); one lost during COMMIT is not (it may
 * have committed): KW_ERR_UNAVAILABLE.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "kw_json.h"
#include "kw_util.h"
#include "store_int.h"

#define PG_ATTEMPTS 6
#define PG_WAIT_MS 5000               /* for a free connection (kw_store_set_busy_timeout) */
#define PG_POOL_MAX 64
#define PG_SERIAL 1                   /* internal: serialization failure, retry */
#define PG_PARAMS_MAX 8
#define PG_LOCK_CLASS "27511"         /* advisory lock class of keywarden ("kw") */
#define PG_SWEEP_EVERY 64             /* spends per sweep of the single-use sets */
#define PG_SWEEP_BATCH 1000           /* expired rows deleted per sweep, at most */

/* Session settings of every connection: constant text, no values. */
static const char pg_session_sql[] =
    "SET statement_timeout = '10s'; SET lock_timeout = '5s';"
    " SET idle_in_transaction_session_timeout = '30s'";

/*
 * Numbered migrations, as in store.c: entry i takes the schema from i to
 * i + 1, in one transaction with its schema_migrations row, under the
 * advisory lock (PG_LOCK_CLASS, 1) so that brokers starting together apply
 * each once. Never edit a released entry; append.
 */
static const char *const pg_migrations[] = {
	/* 1: keys, versions, documents, admin change record (store.c's schema 1) */
	"CREATE FUNCTION kw_refuse() RETURNS trigger LANGUAGE plpgsql AS"
	" $$ BEGIN RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'P0001'; END $$;"
	"CREATE TABLE keys ("
	" id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	" repository TEXT NOT NULL, type TEXT NOT NULL, tag TEXT NOT NULL,"
	" algorithm TEXT NOT NULL CHECK (algorithm IN ('aes-128', 'aes-256', 'secret')),"
	" length INTEGER NOT NULL CHECK (length BETWEEN 1 AND 4096),"
	" policy TEXT,"
	" state TEXT NOT NULL CHECK (state IN ('enabled', 'disabled', 'deleting')),"
	" created BIGINT NOT NULL,"
	" UNIQUE (repository, type, tag));"
	"CREATE TABLE key_versions ("
	" key_id BIGINT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,"
	" version INTEGER NOT NULL CHECK (version >= 1),"
	" label TEXT NOT NULL UNIQUE,"
	" state TEXT NOT NULL CHECK (state IN ('pending', 'enabled', 'disabled', 'deleting')),"
	" origin TEXT NOT NULL CHECK (origin IN ('generated', 'imported')),"
	" created BIGINT NOT NULL,"
	" PRIMARY KEY (key_id, version));"
	"CREATE TABLE documents ("
	" kind TEXT NOT NULL CHECK (kind IN ('policy', 'refval')),"
	" repository TEXT NOT NULL, name TEXT NOT NULL,"
	" version INTEGER NOT NULL CHECK (version >= 1),"
	" document TEXT NOT NULL,"
	" immutable SMALLINT NOT NULL CHECK (immutable IN (0, 1)),"
	" created BIGINT NOT NULL,"
	" created_by TEXT NOT NULL,"
	" PRIMARY KEY (kind, repository, name, version));"
	"CREATE TRIGGER documents_no_update BEFORE UPDATE ON documents FOR EACH ROW"
	" EXECUTE FUNCTION kw_refuse('documents are versioned, not updated');"
	"CREATE TABLE admin_changes ("
	" seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	" at BIGINT NOT NULL,"
	" actor TEXT NOT NULL, action TEXT NOT NULL,"
	" repository TEXT, target TEXT,"
	" outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'denied')),"
	" detail TEXT);"
	"CREATE INDEX admin_changes_repository ON admin_changes (repository, seq);"
	"CREATE TRIGGER admin_changes_no_update BEFORE UPDATE OR DELETE ON admin_changes"
	" FOR EACH ROW EXECUTE FUNCTION kw_refuse('admin_changes is append-only');"
	"CREATE TRIGGER admin_changes_no_truncate BEFORE TRUNCATE ON admin_changes"
	" FOR EACH STATEMENT EXECUTE FUNCTION kw_refuse('admin_changes is append-only');",
	/*
	 * 2: the single-use sets every broker shares (used challenges, DPoP jti):
	 * UNLOGGED (not WAL-logged, emptied by a database crash: see docs/ha.md),
	 * one row per spent value until its expiry, swept in batches
	 */
	"CREATE UNLOGGED TABLE used_once ("
	" kind SMALLINT NOT NULL CHECK (kind IN (1, 2)),"
	" id BYTEA NOT NULL CHECK (octet_length(id) BETWEEN 1 AND 32),"
	" expiry BIGINT NOT NULL,"
	" PRIMARY KEY (kind, id));"
	"CREATE INDEX used_once_expiry ON used_once (expiry);",
	/*
	 * 3: the audit log of every replica (docs/ha.md "Audit across replicas"):
	 * audit/audit_db.c's tables, append-only and dense, plus the head row
	 * every append locks (the one order) and the checkpoint lease
	 */
	"CREATE TABLE audit_records ("
	" idx BIGINT PRIMARY KEY CHECK (idx >= 0),"
	" at BIGINT NOT NULL,"
	" kind TEXT NOT NULL,"
	" repository TEXT, resource TEXT, decision TEXT,"
	" record TEXT NOT NULL,"
	" leaf_hash BYTEA NOT NULL CHECK (octet_length(leaf_hash) = 32));"
	"CREATE INDEX audit_records_at ON audit_records (at);"
	"CREATE INDEX audit_records_kind ON audit_records (kind, idx);"
	"CREATE INDEX audit_records_repository ON audit_records (repository, idx);"
	"CREATE FUNCTION kw_audit_dense() RETURNS trigger LANGUAGE plpgsql AS"
	" $$ BEGIN IF NEW.idx <> (SELECT coalesce(max(idx), -1) + 1 FROM audit_records) THEN"
	" RAISE EXCEPTION 'audit_records: not the next index' USING ERRCODE = 'P0001';"
	" END IF; RETURN NEW; END $$;"
	"CREATE TRIGGER audit_records_dense BEFORE INSERT ON audit_records FOR EACH ROW"
	" EXECUTE FUNCTION kw_audit_dense();"
	"CREATE TRIGGER audit_records_no_update BEFORE UPDATE OR DELETE ON audit_records"
	" FOR EACH ROW EXECUTE FUNCTION kw_refuse('audit_records is append-only');"
	"CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records"
	" FOR EACH STATEMENT EXECUTE FUNCTION kw_refuse('audit_records is append-only');"
	"CREATE TABLE audit_nodes ("
	" level SMALLINT NOT NULL CHECK (level BETWEEN 1 AND 63),"
	" idx BIGINT NOT NULL CHECK (idx >= 0),"
	" hash BYTEA NOT NULL CHECK (octet_length(hash) = 32),"
	" PRIMARY KEY (level, idx));"
	"CREATE TRIGGER audit_nodes_no_update BEFORE UPDATE OR DELETE ON audit_nodes"
	" FOR EACH ROW EXECUTE FUNCTION kw_refuse('audit_nodes is append-only');"
	"CREATE TRIGGER audit_nodes_no_truncate BEFORE TRUNCATE ON audit_nodes"
	" FOR EACH STATEMENT EXECUTE FUNCTION kw_refuse('audit_nodes is append-only');"
	"CREATE TABLE audit_checkpoints ("
	" size BIGINT PRIMARY KEY CHECK (size >= 0),"
	" at BIGINT NOT NULL,"
	" note TEXT NOT NULL);"
	"CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints"
	" FOR EACH ROW EXECUTE FUNCTION kw_refuse('audit_checkpoints is append-only');"
	"CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints"
	" FOR EACH STATEMENT EXECUTE FUNCTION kw_refuse('audit_checkpoints is append-only');"
	/* size, the last leaf hash and the compact range (popcount(size) roots of 32 bytes) */
	"CREATE TABLE audit_head ("
	" id SMALLINT PRIMARY KEY CHECK (id = 1),"
	" size BIGINT NOT NULL CHECK (size >= 0),"
	" last BYTEA NOT NULL CHECK (octet_length(last) = 32),"
	" frontier BYTEA NOT NULL CHECK (octet_length(frontier) % 32 = 0));"
	"INSERT INTO audit_head VALUES (1, 0, decode(repeat('00', 32), 'hex'), ''::bytea);"
	"CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head"
	" FOR EACH ROW EXECUTE FUNCTION kw_refuse('audit_head is kept');"
	"CREATE TABLE audit_lease ("
	" id SMALLINT PRIMARY KEY CHECK (id = 1),"
	" holder TEXT NOT NULL,"
	" expiry TIMESTAMPTZ NOT NULL);"
	"INSERT INTO audit_lease VALUES (1, '', '-infinity');",
};

#define PG_SCHEMA_VERSION ((int64_t)KW_ARRAY_SIZE(pg_migrations))

/* The prepared statements, by id; the name is "kw<id>". */
enum pg_stmt {
	S_MIGRATION_LOCK,
	S_SCHEMA_VERSION,
	S_MIGRATION_ROW,
	S_KEY_INSERT,
	S_VERSION_INSERT,
	S_KEY_FIND,
	S_VERSION_NEXT,
	S_VERSION_BY_LABEL,
	S_VERSION_ENABLE,
	S_VERSION_DELETE,
	S_VERSION_COUNT,
	S_KEY_DELETE,
	S_KEYS_QUERY,
	S_KEY_SET_STATE,
	S_VERSION_STATE,
	S_VERSION_SET_STATE,
	S_KEY_SET_POLICY,
	S_KEY_MARK_DELETING,
	S_VERSIONS_MARK_DELETING,
	S_VERSION_LABELS,
	S_RELEASE_LOOKUP,
	S_ALL_VERSIONS,
	S_DOC_LOCK,
	S_DOC_HEAD,
	S_DOC_INSERT,
	S_DOC_GET,
	S_DOC_HISTORY,
	S_DOC_LIST,
	S_CHANGE_LOCK,
	S_CHANGE_INSERT,
	S_CHANGES,
	S_ONCE_SPEND,
	S_ONCE_SWEEP,
	S_AUDIT_HEAD_LOCK,
	S_AUDIT_INSERT,
	S_AUDIT_NODE_INSERT,
	S_AUDIT_HEAD_SET,
	S_AUDIT_SIZE,
	S_AUDIT_RECORDS,
	S_AUDIT_LEAF,
	S_AUDIT_NODE,
	S_AUDIT_CP_ADD,
	S_AUDIT_CP_LATEST,
	S_AUDIT_CP_COVERING,
	S_AUDIT_CP_FIRST,
	S_AUDIT_LIST,
	S_AUDIT_LEASE,
	S_AUDIT_LEASE_DROP,
	S__COUNT
};

#define DOC_COLS "repository, name, version, immutable, created, created_by, document"

static const char *const pg_sql[S__COUNT] = {
	[S_MIGRATION_LOCK] = "SELECT pg_advisory_xact_lock(" PG_LOCK_CLASS ", 1)",
	[S_SCHEMA_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_migrations",
	[S_MIGRATION_ROW] = "INSERT INTO schema_migrations (version, applied_at)"
	    " VALUES ($1::integer, $2::bigint)",
	[S_KEY_INSERT] = "INSERT INTO keys (repository, type, tag, algorithm, length, policy, state,"
	    " created) VALUES ($1::text, $2::text, $3::text, $4::text, $5::integer, $6::text,"
	    " 'enabled', $7::bigint) RETURNING id",
	[S_VERSION_INSERT] = "INSERT INTO key_versions (key_id, version, label, state, origin, created)"
	    " VALUES ($1::bigint, $2::integer, $3::text, 'pending', $4::text, $5::bigint)",
	[S_KEY_FIND] = "SELECT id, state FROM keys WHERE repository = $1::text AND type = $2::text"
	    " AND tag = $3::text FOR UPDATE",
	[S_VERSION_NEXT] = "SELECT coalesce(max(version), 0) + 1 FROM key_versions"
	    " WHERE key_id = $1::bigint",
	[S_VERSION_BY_LABEL] = "SELECT key_id, state FROM key_versions WHERE label = $1::text"
	    " FOR UPDATE",
	[S_VERSION_ENABLE] = "UPDATE key_versions SET state = 'enabled' WHERE label = $1::text",
	[S_VERSION_DELETE] = "DELETE FROM key_versions WHERE label = $1::text",
	[S_VERSION_COUNT] = "SELECT count(*) FROM key_versions WHERE key_id = $1::bigint",
	[S_KEY_DELETE] = "DELETE FROM keys WHERE id = $1::bigint",
	[S_KEYS_QUERY] = "SELECT k.id, k.repository, k.type, k.tag, k.algorithm, k.length,"
	    " k.policy, k.state, k.created, v.version, v.state, v.origin, v.created"
	    " FROM keys k LEFT JOIN key_versions v ON v.key_id = k.id"
	    " WHERE ($1::text IS NULL OR k.repository = $1::text)"
	    " AND ($2::text IS NULL OR k.type = $2::text) AND ($3::text IS NULL OR k.tag = $3::text)"
	    " ORDER BY (k.repository || '/' || k.type || '/' || k.tag) COLLATE \"C\", k.id, v.version",
	[S_KEY_SET_STATE] = "UPDATE keys SET state = $1::text WHERE id = $2::bigint",
	[S_VERSION_STATE] = "SELECT state FROM key_versions WHERE key_id = $1::bigint AND"
	    " version = $2::integer FOR UPDATE",
	[S_VERSION_SET_STATE] = "UPDATE key_versions SET state = $1::text WHERE key_id = $2::bigint"
	    " AND version = $3::integer",
	[S_KEY_SET_POLICY] = "UPDATE keys SET policy = $1::text WHERE id = $2::bigint",
	[S_KEY_MARK_DELETING] = "UPDATE keys SET state = 'deleting' WHERE id = $1::bigint",
	[S_VERSIONS_MARK_DELETING] = "UPDATE key_versions SET state = 'deleting'"
	    " WHERE key_id = $1::bigint",
	[S_VERSION_LABELS] = "SELECT label FROM key_versions WHERE key_id = $1::bigint"
	    " ORDER BY version",
	[S_RELEASE_LOOKUP] = "SELECT v.label, v.version, k.algorithm, k.length, k.policy"
	    " FROM keys k JOIN key_versions v ON v.key_id = k.id"
	    " WHERE k.repository = $1::text AND k.type = $2::text AND k.tag = $3::text"
	    " AND k.state = 'enabled' AND v.state = 'enabled'"
	    " AND ($4::integer = 0 OR v.version = $4::integer)"
	    " ORDER BY v.version DESC LIMIT 1",
	[S_ALL_VERSIONS] = "SELECT v.label, v.state, k.state, k.repository, k.type, k.tag, v.version"
	    " FROM keys k JOIN key_versions v ON v.key_id = k.id ORDER BY v.label COLLATE \"C\"",
	/* one writer per document name at a time: versions are numbered without gaps */
	[S_DOC_LOCK] = "SELECT pg_advisory_xact_lock(" PG_LOCK_CLASS ","
	    " hashtext($1::text || '/' || $2::text || '/' || $3::text))",
	[S_DOC_HEAD] = "SELECT coalesce(max(immutable), 0), coalesce(max(version), 0)"
	    " FROM documents WHERE kind = $1::text AND repository = $2::text AND name = $3::text",
	[S_DOC_INSERT] = "INSERT INTO documents (kind, repository, name, version, document,"
	    " immutable, created, created_by) VALUES ($1::text, $2::text, $3::text, $4::integer,"
	    " $5::text, $6::smallint, $7::bigint, $8::text)",
	[S_DOC_GET] = "SELECT " DOC_COLS " FROM documents WHERE kind = $1::text AND"
	    " repository = $2::text AND name = $3::text AND ($4::integer = 0 OR version = $4::integer)"
	    " ORDER BY version DESC LIMIT 1",
	[S_DOC_HISTORY] = "SELECT " DOC_COLS " FROM documents WHERE kind = $1::text AND"
	    " repository = $2::text AND name = $3::text ORDER BY version",
	[S_DOC_LIST] = "SELECT " DOC_COLS " FROM documents d WHERE kind = $1::text"
	    " AND ($2::text IS NULL OR repository = $2::text) AND version = (SELECT max(version)"
	    " FROM documents WHERE kind = d.kind AND repository = d.repository AND name = d.name)"
	    " ORDER BY (repository || '/' || name) COLLATE \"C\"",
	/* held to COMMIT: seq values become visible in their order (GET changes?after=) */
	[S_CHANGE_LOCK] = "SELECT pg_advisory_xact_lock(" PG_LOCK_CLASS ", 2)",
	[S_CHANGE_INSERT] = "INSERT INTO admin_changes (at, actor, action, repository, target,"
	    " outcome, detail) VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text, $6::text,"
	    " $7::text)",
	[S_CHANGES] = "SELECT seq, at, actor, action, repository, target, outcome, detail"
	    " FROM admin_changes WHERE seq > $1::bigint AND ($2::text IS NULL OR"
	    " repository = $2::text) ORDER BY seq LIMIT $3::bigint",
	/* a row only when the value was new (or its old entry had expired) */
	[S_ONCE_SPEND] = "INSERT INTO used_once AS u (kind, id, expiry) VALUES ($1::smallint,"
	    " decode($2::text, 'hex'), $3::bigint) ON CONFLICT (kind, id) DO UPDATE"
	    " SET expiry = EXCLUDED.expiry WHERE u.expiry < $4::bigint RETURNING 1",
	[S_ONCE_SWEEP] = "DELETE FROM used_once WHERE ctid = ANY (ARRAY(SELECT ctid FROM used_once"
	    " WHERE expiry < $1::bigint LIMIT $2::integer))",
	/* every append takes this row lock first: one order across replicas */
	[S_AUDIT_HEAD_LOCK] = "SELECT size, encode(last, 'hex'), encode(frontier, 'hex')"
	    " FROM audit_head WHERE id = 1 FOR UPDATE",
	[S_AUDIT_INSERT] = "INSERT INTO audit_records (idx, at, kind, repository, resource, decision,"
	    " record, leaf_hash) VALUES ($1::bigint, $2::bigint, $3::text, $4::text, $5::text,"
	    " $6::text, $7::text, decode($8::text, 'hex'))",
	[S_AUDIT_NODE_INSERT] = "INSERT INTO audit_nodes (level, idx, hash) VALUES ($1::smallint,"
	    " $2::bigint, decode($3::text, 'hex'))",
	[S_AUDIT_HEAD_SET] = "UPDATE audit_head SET size = $1::bigint, last = decode($2::text, 'hex'),"
	    " frontier = decode($3::text, 'hex') WHERE id = 1",
	[S_AUDIT_SIZE] = "SELECT size FROM audit_head WHERE id = 1",
	[S_AUDIT_RECORDS] = "SELECT idx, record FROM audit_records WHERE idx >= $1::bigint"
	    " AND idx < $2::bigint ORDER BY idx LIMIT 1000",
	[S_AUDIT_LEAF] = "SELECT encode(leaf_hash, 'hex') FROM audit_records WHERE idx = $1::bigint",
	[S_AUDIT_NODE] = "SELECT encode(hash, 'hex') FROM audit_nodes WHERE level = $1::smallint"
	    " AND idx = $2::bigint",
	[S_AUDIT_CP_ADD] = "INSERT INTO audit_checkpoints (size, at, note) SELECT $1::bigint,"
	    " $2::bigint, $3::text FROM audit_head WHERE id = 1 AND size >= $1::bigint",
	[S_AUDIT_CP_LATEST] = "SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
	[S_AUDIT_CP_COVERING] = "SELECT note FROM audit_checkpoints WHERE size >= $1::bigint"
	    " ORDER BY size LIMIT 1",
	[S_AUDIT_CP_FIRST] = "SELECT min(at) FROM audit_checkpoints",
	[S_AUDIT_LIST] = "SELECT idx, record FROM audit_records WHERE idx >= $1::bigint"
	    " AND ($2::bigint IS NULL OR at >= $2::bigint) AND ($3::bigint IS NULL OR at < $3::bigint)"
	    " AND ($4::text IS NULL OR repository = $4::text) AND ($5::text IS NULL OR"
	    " resource = $5::text) AND ($6::text IS NULL OR kind = $6::text)"
	    " AND ($7::text IS NULL OR decision = $7::text) ORDER BY idx LIMIT $8::bigint",
	/* the database's clock decides: the replicas' clocks may differ */
	[S_AUDIT_LEASE] = "UPDATE audit_lease SET holder = $1::text, expiry = clock_timestamp() +"
	    " make_interval(secs => $2::integer) WHERE id = 1 AND (holder = $1::text OR"
	    " expiry < clock_timestamp()) RETURNING 1",
	[S_AUDIT_LEASE_DROP] = "UPDATE audit_lease SET expiry = '-infinity' WHERE id = 1"
	    " AND holder = $1::text",
};

struct pg_conn {
	PGconn *c;
	unsigned char prepared[S__COUNT];
	int busy;
	int fresh;                     /* connected by the current acquire */
};

struct kw_pgstore {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int wait_ms;
	size_t n;
	struct pg_conn *conn;
	char *conninfo;                /* may hold a password: wiped at close */
	unsigned int once_calls;       /* under mu: every PG_SWEEP_EVERY-th spend sweeps */
};

/* ---- parameters (struct q_param, QT, QI: store_int.h) ---- */

#define P(...) Q_PARAMS(__VA_ARGS__)
#define P0 NULL, 0

/* ---- errors ---- */

static int
conn_ok(const struct pg_conn *pc)
{
	return pc->c != NULL && PQstatus(pc->c) == CONNECTION_OK;
}

/* The kw_err (or PG_SERIAL) of a failed result. */
static int
map_result(struct pg_conn *pc, const PGresult *res)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (!conn_ok(pc))
		return KW_ERR_UNAVAILABLE;
	if (res == NULL)
		return KW_ERR_NOMEM;
	if (state == NULL)
		return KW_ERR_IO;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return PG_SERIAL;
	if (strcmp(state, "23505") == 0)
		return KW_ERR_EXISTS;
	if (strcmp(state, "P0001") == 0)
		return KW_ERR_DENIED;        /* kw_refuse: an append-only table */
	if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0)
		return KW_ERR_TIMEOUT;       /* statement_timeout, lock_timeout */
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
	    strncmp(state, "57P", 3) == 0)
		return KW_ERR_UNAVAILABLE;   /* connection, resources, shutting down */
	if (strncmp(state, "22", 2) == 0)
		return KW_ERR_INVALID_ARG;   /* data exception (e.g. text the encoding refuses) */
	return KW_ERR_IO;
}

/* ---- connections ---- */

static void
conn_drop(struct pg_conn *pc)
{
	if (pc->c != NULL)
		PQfinish(pc->c);
	pc->c = NULL;
	memset(pc->prepared, 0, sizeof(pc->prepared));
}

static int
exec_const(struct pg_conn *pc, const char *sql)
{
	PGresult *res = PQexec(pc->c, sql);
	int r = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : map_result(pc, res);

	PQclear(res);
	return r;
}

static void
notice_ignore(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static int
conn_open(struct kw_pgstore *pg, struct pg_conn *pc)
{
	/* later entries win: the connection string's own settings override these defaults */
	static const char *const kw[] = { "connect_timeout", "application_name",
	    "client_encoding", "dbname", NULL };
	const char *val[] = { "5", "keywarden", "UTF8", pg->conninfo, NULL };

	conn_drop(pc);
	pc->c = PQconnectdbParams(kw, val, 1);
	if (pc->c == NULL)
		return KW_ERR_NOMEM;
	if (PQstatus(pc->c) != CONNECTION_OK) {
		conn_drop(pc);
		return KW_ERR_UNAVAILABLE;
	}
	/* the server's notices ("already exists, skipping") are not the broker's log */
	(void)PQsetNoticeProcessor(pc->c, notice_ignore, NULL);
	if (exec_const(pc, pg_session_sql) != 0) {
		conn_drop(pc);
		return KW_ERR_UNAVAILABLE;
	}
	pc->fresh = 1;
	return 0;
}

static void
deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/*
 * A connection of the pool, connected, waiting at most wait_ms for a free
 * one; KW_ERR_UNAVAILABLE when none frees up or none connects.
 */
static int
conn_get_wait(struct kw_pgstore *pg, int wait_ms, struct pg_conn **ret)
{
	struct pg_conn *pc = NULL;
	struct timespec dl;
	int r = 0;

	deadline_in(&dl, wait_ms);
	pthread_mutex_lock(&pg->mu);
	for (;;) {
		/* prefer a connected idle one */
		for (size_t i = 0; i < pg->n && pc == NULL; i++)
			if (!pg->conn[i].busy && pg->conn[i].c != NULL)
				pc = &pg->conn[i];
		for (size_t i = 0; i < pg->n && pc == NULL; i++)
			if (!pg->conn[i].busy)
				pc = &pg->conn[i];
		if (pc != NULL || r == ETIMEDOUT)
			break;
		r = pthread_cond_timedwait(&pg->cv, &pg->mu, &dl);
	}
	if (pc != NULL)
		pc->busy = 1;
	pthread_mutex_unlock(&pg->mu);
	if (pc == NULL)
		return KW_ERR_UNAVAILABLE;
	pc->fresh = 0;
	if (!conn_ok(pc) && (r = conn_open(pg, pc)) != 0) {
		pthread_mutex_lock(&pg->mu);
		pc->busy = 0;
		pthread_cond_signal(&pg->cv);
		pthread_mutex_unlock(&pg->mu);
		return r;
	}
	*ret = pc;
	return 0;
}

static int
conn_get(struct kw_pgstore *pg, struct pg_conn **ret)
{
	return conn_get_wait(pg, pg->wait_ms, ret);
}

static void
conn_put(struct kw_pgstore *pg, struct pg_conn *pc)
{
	if (!conn_ok(pc))
		conn_drop(pc);
	pthread_mutex_lock(&pg->mu);
	pc->busy = 0;
	pthread_cond_signal(&pg->cv);
	pthread_mutex_unlock(&pg->mu);
}

/* ---- statements ---- */

/*
 * Run prepared statement id with its parameters (all sent as text, typed by
 * the casts in the SQL). *ret: the result (PQclear it) when the statement
 * succeeded; else the error.
 */
static int
q_run(struct pg_conn *pc, enum pg_stmt id, const struct q_param *p, size_t n, PGresult **ret)
{
	char name[16], ibuf[PG_PARAMS_MAX][24];
	const char *vals[PG_PARAMS_MAX];
	PGresult *res;
	ExecStatusType st;
	int r;

	if (n > PG_PARAMS_MAX)
		return KW_ERR_INTERNAL;
	snprintf(name, sizeof(name), "kw%d", (int)id);
	if (!pc->prepared[id]) {
		res = PQprepare(pc->c, name, pg_sql[id], 0, NULL);
		r = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : map_result(pc, res);
		PQclear(res);
		if (r != 0)
			return r;
		pc->prepared[id] = 1;
	}
	for (size_t k = 0; k < n; k++) {
		if (p[k].type == Q_NONE) {
			return KW_ERR_INTERNAL;    /* SQLite's "no parameters" marker: P0 here */
		} else if (p[k].type == Q_TEXT) {
			vals[k] = p[k].text;
		} else {
			snprintf(ibuf[k], sizeof(ibuf[k]), "%lld", (long long)p[k].i);
			vals[k] = ibuf[k];
		}
	}
	res = PQexecPrepared(pc->c, name, (int)n, n > 0 ? vals : NULL, NULL, NULL, 0);
	st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		r = map_result(pc, res);
		PQclear(res);
		return r;
	}
	*ret = res;
	return 0;
}

static int
q_exec(struct pg_conn *pc, enum pg_stmt id, const struct q_param *p, size_t n)
{
	PGresult *res = NULL;
	int r = q_run(pc, id, p, n, &res);

	PQclear(res);
	return r;
}

static int
parse_i64(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return KW_ERR_INTERNAL;
	*ret = v;
	return 0;
}

/* Column 0 of the one row as int64; KW_ERR_NOT_FOUND without a row or on NULL. */
static int
q_int(struct pg_conn *pc, int64_t *ret, enum pg_stmt id, const struct q_param *p, size_t n)
{
	PGresult *res = NULL;
	int r;

	if ((r = q_run(pc, id, p, n, &res)) != 0)
		return r;
	if (PQntuples(res) < 1 || PQnfields(res) < 1 || PQgetisnull(res, 0, 0))
		r = KW_ERR_NOT_FOUND;
	else
		r = parse_i64(PQgetvalue(res, 0, 0), ret);
	PQclear(res);
	return r;
}

/* (id, state) of the one row; KW_ERR_NOT_FOUND without one. */
static int
q_id_state(struct pg_conn *pc, int64_t *ret_id, char ret_state[static 16], enum pg_stmt id,
    const struct q_param *p, size_t n)
{
	PGresult *res = NULL;
	int64_t v = 0;
	int r;

	if ((r = q_run(pc, id, p, n, &res)) != 0)
		return r;
	if (PQntuples(res) < 1)
		r = KW_ERR_NOT_FOUND;
	else if ((r = parse_i64(PQgetvalue(res, 0, 0), &v)) == 0) {
		*ret_id = v;
		snprintf(ret_state, 16, "%s", PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return r;
}

/* ---- rows to JSON ---- */

static int
row_to_json(const PGresult *res, int row, const struct col *cols, size_t n, json_t *o)
{
	for (size_t i = 0; i < n; i++) {
		int null = PQgetisnull(res, row, cols[i].index);
		const char *text = null ? NULL : PQgetvalue(res, row, cols[i].index);
		int64_t v = 0;
		json_t *j = NULL;
		int r;

		if (text == NULL && cols[i].kind != C_TEXT_NULL)
			return KW_ERR_INTERNAL;    /* NOT NULL in the schema */
		switch (cols[i].kind) {
		case C_TEXT:
		case C_TEXT_NULL:
			j = text == NULL ? json_null() : json_string(text);
			break;
		case C_INT:
		case C_BOOL:
			if ((r = parse_i64(text, &v)) != 0)
				return r;
			j = cols[i].kind == C_INT ? json_integer(v) : json_boolean(v != 0);
			break;
		case C_JSON:
			if ((r = kw_json_parse(text, strlen(text), KW_STORE_DOC_MAX, &j)) != 0)
				return r == KW_ERR_NOMEM ? r : KW_ERR_INTERNAL;
			break;
		}
		if ((r = kw_store_jset(o, cols[i].member, j)) != 0)
			return r;
	}
	return 0;
}

static int
rows_to_array(const PGresult *res, const struct col *cols, size_t n, json_t **ret)
{
	json_t *arr = json_array();
	int r = arr == NULL ? KW_ERR_NOMEM : 0;

	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		json_t *o = json_object();

		if (o == NULL || json_array_append_new(arr, o) != 0)
			r = KW_ERR_NOMEM;
		else
			r = row_to_json(res, i, cols, n, o);
	}
	if (r != 0) {
		json_decref(arr);
		return r;
	}
	*ret = arr;    /* transferred */
	return 0;
}

/* ---- running a call ---- */

typedef int (*pg_fn)(struct pg_conn *pc, void *arg);

enum pg_tx { TX_NONE, TX_SERIALIZABLE, TX_LOCKED };

/*
 * Run fn on a pooled connection; write: inside one SERIALIZABLE transaction,
 * retried on serialization failures. A connection found dead before COMMIT
 * (the database restarted since it was opened) is replaced and the call
 * retried once.
 */
static int
pg_call(struct kw_pgstore *pg, enum pg_tx write, pg_fn fn, void *arg)
{
	int r = KW_ERR_INTERNAL, reconnected = 0;

	for (int attempt = 0; attempt < PG_ATTEMPTS; attempt++) {
		struct pg_conn *pc = NULL;
		int committing = 0, fresh;

		if ((r = conn_get(pg, &pc)) != 0)
			return r;
		fresh = pc->fresh;
		r = 0;
		if (write != TX_NONE)
			r = exec_const(pc, write == TX_SERIALIZABLE ? "BEGIN ISOLATION LEVEL SERIALIZABLE" :
			    "BEGIN ISOLATION LEVEL READ COMMITTED");
		if (r == 0)
			r = fn(pc, arg);
		if (write != TX_NONE && r == 0) {
			committing = 1;
			r = exec_const(pc, "COMMIT");
		} else if (write != TX_NONE && conn_ok(pc)) {
			(void)exec_const(pc, "ROLLBACK");
		}
		if (r == KW_ERR_UNAVAILABLE && !conn_ok(pc) && !fresh && !committing && !reconnected) {
			conn_put(pg, pc);
			reconnected = 1;
			attempt--;
			continue;
		}
		conn_put(pg, pc);
		if (r != PG_SERIAL)
			return r;
		/* a concurrent writer won: back off a little, then run again on a new snapshot */
		{
			struct timespec ts = { 0, (long)(1 + (attempt * 7) % 13) * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	return r == PG_SERIAL ? KW_ERR_EXISTS : r;
}

/* ---- open, migrate, close ---- */

static int
migrate_fn(struct pg_conn *pc, void *arg)
{
	int64_t cur = 0;
	int r;

	(void)arg;
	if ((r = q_exec(pc, S_MIGRATION_LOCK, P0)) != 0)
		return r;
	if ((r = exec_const(pc, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    " version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)")) != 0)
		return r;
	if ((r = q_int(pc, &cur, S_SCHEMA_VERSION, P0)) != 0)
		return r;
	if (cur > PG_SCHEMA_VERSION)
		return KW_ERR_UNSUPPORTED;
	for (; cur < PG_SCHEMA_VERSION; cur++) {
		/* constant SQL text of the next migration, no values */
		if ((r = exec_const(pc, pg_migrations[cur])) != 0)
			return r;
		if ((r = q_exec(pc, S_MIGRATION_ROW, P(QI(cur + 1), QI((int64_t)time(NULL))))) != 0)
			return r;
	}
	return 0;
}

void
kw_pg_close(struct kw_pgstore *pg)
{
	if (pg == NULL)
		return;
	for (size_t i = 0; i < pg->n; i++)
		conn_drop(&pg->conn[i]);
	free(pg->conn);
	if (pg->conninfo != NULL) {
		OPENSSL_cleanse(pg->conninfo, strlen(pg->conninfo));
		free(pg->conninfo);
	}
	pthread_cond_destroy(&pg->cv);
	pthread_mutex_destroy(&pg->mu);
	free(pg);
}

int
kw_pg_open(const char *conninfo, unsigned int pool, struct kw_pgstore **ret)
{
	struct kw_pgstore *pg = NULL;
	pthread_condattr_t ca;
	char *err = NULL;
	PQconninfoOption *opts;
	int r;

	if (conninfo == NULL || pool < 1 || pool > PG_POOL_MAX)
		return KW_ERR_INVALID_ARG;
	/* a malformed connection string is a configuration error, not an outage */
	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		PQfreemem(err);
		return KW_ERR_CONFIG;
	}
	PQconninfoFree(opts);
	if ((pg = calloc(1, sizeof(*pg))) == NULL)
		return KW_ERR_NOMEM;
	if (pthread_condattr_init(&ca) != 0) {
		free(pg);
		return KW_ERR_NOMEM;
	}
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&pg->mu, NULL) != 0 || pthread_cond_init(&pg->cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		free(pg);
		return KW_ERR_NOMEM;
	}
	pthread_condattr_destroy(&ca);
	pg->wait_ms = PG_WAIT_MS;
	pg->n = pool;
	if ((pg->conn = calloc(pool, sizeof(*pg->conn))) == NULL ||
	    (pg->conninfo = strdup(conninfo)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if ((r = pg_call(pg, TX_LOCKED, migrate_fn, NULL)) != 0)
		goto out;
	*ret = pg;    /* transferred */
	pg = NULL;
out:
	kw_pg_close(pg);
	return r;
}

void
kw_pg_set_wait(struct kw_pgstore *pg, int ms)
{
	pthread_mutex_lock(&pg->mu);
	pg->wait_ms = ms;
	pthread_mutex_unlock(&pg->mu);
}

/* Milliseconds from now to dl (CLOCK_MONOTONIC), at least 0. */
static int
ms_until(const struct timespec *dl)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = ((long long)dl->tv_sec - (long long)now.tv_sec) * 1000 +
	    (dl->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

/* Read from pc until a result can be taken without blocking, at most until dl. */
static int
await_result(struct pg_conn *pc, const struct timespec *dl)
{
	for (;;) {
		struct pollfd pfd = { .fd = PQsocket(pc->c), .events = POLLIN };
		int n, flush = PQflush(pc->c);

		if (flush < 0)
			return KW_ERR_UNAVAILABLE;
		if (flush > 0)
			pfd.events |= POLLOUT;
		else if (!PQisBusy(pc->c))
			return 0;
		n = poll(&pfd, 1, ms_until(dl));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? KW_ERR_TIMEOUT : KW_ERR_UNAVAILABLE;
		if ((pfd.revents & (POLLIN | POLLERR | POLLHUP)) != 0 && PQconsumeInput(pc->c) != 1)
			return KW_ERR_UNAVAILABLE;
	}
}

/* "SELECT 1" on pc, its answer awaited until dl: 0, KW_ERR_TIMEOUT or KW_ERR_UNAVAILABLE. */
static int
ping_conn(struct pg_conn *pc, const struct timespec *dl)
{
	PGresult *res;
	int r = 0, e;

	if (PQsendQuery(pc->c, "SELECT 1") != 1)
		return KW_ERR_UNAVAILABLE;
	/* every result up to the end of the query (NULL), each awaited without blocking */
	while ((e = await_result(pc, dl)) == 0 && (res = PQgetResult(pc->c)) != NULL) {
		if (PQresultStatus(res) != PGRES_TUPLES_OK && r == 0)
			r = map_result(pc, res) == KW_ERR_TIMEOUT ? KW_ERR_TIMEOUT : KW_ERR_UNAVAILABLE;
		PQclear(res);
	}
	return e != 0 ? e : r;
}

int
kw_pg_ping(struct kw_pgstore *pg, int deadline_ms)
{
	struct timespec dl;
	int r = KW_ERR_UNAVAILABLE;

	if (pg == NULL || deadline_ms < 1)
		return KW_ERR_INVALID_ARG;
	deadline_in(&dl, deadline_ms);
	/* a pooled connection may have died with a restarted server: one more on a new one */
	for (int attempt = 0; attempt < 2; attempt++) {
		struct pg_conn *pc = NULL;
		int fresh;

		if ((r = conn_get_wait(pg, ms_until(&dl), &pc)) != 0)
			return r;
		fresh = pc->fresh;
		r = ping_conn(pc, &dl);
		if (r != 0)
			conn_drop(pc);    /* a query may still be out on it */
		conn_put(pg, pc);
		if (r == 0 || fresh || ms_until(&dl) == 0)
			break;
	}
	return r;
}

static int
schema_fn(struct pg_conn *pc, void *arg)
{
	return q_int(pc, arg, S_SCHEMA_VERSION, P0);
}

int
kw_pg_schema_version(struct kw_pgstore *pg, int *ret)
{
	int64_t v = 0;
	int r;

	if ((r = pg_call(pg, TX_NONE, schema_fn, &v)) != 0)
		return r;
	*ret = (int)v;
	return 0;
}

/* ---- keys ---- */

struct key_arg {
	const char *repo, *type, *tag;
	const struct kw_key_spec *spec;
	const char *origin, *label;
	enum pg_stmt stmt;             /* key_update_fn */
	const char *value;             /* the new state or policy (NULL: unbind) */
	int64_t now;
	int version;
	json_t *labels;
	/* out */
	int ret_version;
	char *ret_label;
	struct kw_release_target *target;
	json_t *rows;
};

static int
key_find(struct pg_conn *pc, const struct key_arg *a, int64_t *ret_id, char ret_state[static 16])
{
	return q_id_state(pc, ret_id, ret_state, S_KEY_FIND, P(QT(a->repo), QT(a->type), QT(a->tag)));
}

/* The id of the key, locked, unless it is being deleted (KW_ERR_DENIED). */
static int
key_live(struct pg_conn *pc, const struct key_arg *a, int64_t *ret_id)
{
	char cur[16];
	int64_t id = 0;
	int r;

	if ((r = key_find(pc, a, &id, cur)) != 0)
		return r;
	if (strcmp(cur, "deleting") == 0)
		return KW_ERR_DENIED;
	*ret_id = id;
	return 0;
}

static int
key_create_fn(struct pg_conn *pc, void *arg)
{
	struct key_arg *a = arg;
	const struct kw_key_spec *s = a->spec;
	int64_t id = 0;
	int r;

	r = q_int(pc, &id, S_KEY_INSERT, P(QT(s->repository), QT(s->type), QT(s->tag),
	    QT(s->algorithm), QI((int64_t)s->length), QT(s->policy), QI(a->now)));
	if (r == 0)
		r = q_exec(pc, S_VERSION_INSERT, P(QI(id), QI(1), QT(a->label), QT(a->origin),
		    QI(a->now)));
	return r;
}

int
kw_pg_key_create(struct kw_pgstore *pg, const struct kw_key_spec *spec, const char *origin,
    int64_t now, const char *label)
{
	struct key_arg a = { .spec = spec, .origin = origin, .now = now, .label = label };

	return pg_call(pg, TX_SERIALIZABLE, key_create_fn, &a);
}

static int
version_add_fn(struct pg_conn *pc, void *arg)
{
	struct key_arg *a = arg;
	int64_t id = 0, v = 0;
	int r;

	free(a->ret_label);    /* from an attempt that was retried */
	a->ret_label = NULL;
	r = key_live(pc, a, &id);
	if (r == 0)
		r = q_int(pc, &v, S_VERSION_NEXT, P(QI(id)));
	if (r == 0 && v > 1000000)
		r = KW_ERR_TOO_LARGE;
	if (r == 0)
		r = kw_store_make_label(a->repo, a->type, a->tag, v, &a->ret_label);
	if (r == 0)
		r = q_exec(pc, S_VERSION_INSERT, P(QI(id), QI(v), QT(a->ret_label), QT(a->origin),
		    QI(a->now)));
	a->ret_version = (int)v;
	return r;
}

int
kw_pg_version_add(struct kw_pgstore *pg, const char *repo, const char *type, const char *tag,
    const char *origin, int64_t now, int *ret_version, char **ret_label)
{
	struct key_arg a = { .repo = repo, .type = type, .tag = tag, .origin = origin, .now = now };
	int r;

	if ((r = pg_call(pg, TX_SERIALIZABLE, version_add_fn, &a)) != 0) {
		free(a.ret_label);
		return r;
	}
	*ret_version = a.ret_version;
	*ret_label = a.ret_label;    /* transferred */
	return 0;
}

static int
version_commit_fn(struct pg_conn *pc, void *arg)
{
	struct key_arg *a = arg;
	char state[16];
	int64_t key = 0;
	int r;

	r = q_id_state(pc, &key, state, S_VERSION_BY_LABEL, P(QT(a->label)));
	if (r == 0 && strcmp(state, "pending") != 0)
		r = KW_ERR_DENIED;
	if (r == 0)
		r = q_exec(pc, S_VERSION_ENABLE, P(QT(a->label)));
	return r;
}

int
kw_pg_version_commit(struct kw_pgstore *pg, const char *label)
{
	struct key_arg a = { .label = label };

	return pg_call(pg, TX_SERIALIZABLE, version_commit_fn, &a);
}

static int
version_abort_fn(struct pg_conn *pc, void *arg)
{
	struct key_arg *a = arg;
	char state[16];
	int64_t key = 0, left = 0;
	int r;

	r = q_id_state(pc, &key, state, S_VERSION_BY_LABEL, P(QT(a->label)));
	if (r == 0 && strcmp(state, "pending") != 0)
		r = KW_ERR_DENIED;
	if (r == 0)
		r = q_exec(pc, S_VERSION_DELETE, P(QT(a->label)));
	if (r == 0)
		r = q_int(pc, &left, S_VERSION_COUNT, P(QI(key)));
	if (r == 0 && left == 0)
		r = q_exec(pc, S_KEY_DELETE, P(QI(key)));
	return r;
}

int
kw_pg_version_abort(struct kw_pgstore *pg, const char *label)
{
	struct key_arg a = { .label = label };

	return pg_call(pg, TX_SERIALIZABLE, version_abort_fn, &a);
}

static int
keys_query_fn(struct pg_conn *pc, void *arg)
{
	static const struct col key_cols[] = {
		{"repository", C_TEXT, 1}, {"type", C_TEXT, 2}, {"tag", C_TEXT, 3},
		{"algorithm", C_TEXT, 4}, {"length", C_INT, 5}, {"policy", C_TEXT_NULL, 6},
		{"state", C_TEXT, 7}, {"created", C_INT, 8},
	};
	static const struct col version_cols[] = {
		{"version", C_INT, 9}, {"state", C_TEXT, 10}, {"origin", C_TEXT, 11},
		{"created", C_INT, 12},
	};
	struct key_arg *a = arg;
	PGresult *res = NULL;
	json_t *arr = NULL, *cur = NULL;
	const char *cur_id = NULL;
	int r;

	if ((r = q_run(pc, S_KEYS_QUERY, P(QT(a->repo), QT(a->type), QT(a->tag)), &res)) != 0)
		return r;
	if ((arr = json_array()) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		json_t *ver;

		if (cur_id == NULL || strcmp(cur_id, PQgetvalue(res, i, 0)) != 0) {
			cur_id = PQgetvalue(res, i, 0);
			if ((cur = json_object()) == NULL || json_array_append_new(arr, cur) != 0) {
				r = KW_ERR_NOMEM;
				goto out;
			}
			if ((r = row_to_json(res, i, key_cols, KW_ARRAY_SIZE(key_cols), cur)) != 0 ||
			    (r = kw_store_jset(cur, "versions", json_array())) != 0)
				goto out;
		}
		if (PQgetisnull(res, i, 9))
			continue;    /* a key without versions (not left by this code) */
		if ((ver = json_object()) == NULL ||
		    json_array_append_new(json_object_get(cur, "versions"), ver) != 0) {
			r = KW_ERR_NOMEM;
			goto out;
		}
		if ((r = row_to_json(res, i, version_cols, KW_ARRAY_SIZE(version_cols), ver)) != 0)
			goto out;
	}
	a->rows = arr;    /* transferred */
	arr = NULL;
	r = 0;
out:
	PQclear(res);
	json_decref(arr);
	return r;
}

int
kw_pg_keys_query(struct kw_pgstore *pg, const char *repo, const char *type, const char *tag,
    json_t **ret)
{
	struct key_arg a = { .repo = repo, .type = type, .tag = tag };
	int r;

	if ((r = pg_call(pg, TX_NONE, keys_query_fn, &a)) != 0)
		return r;
	*ret = a.rows;
	return 0;
}

/* One column of a live key: a->stmt (S_KEY_SET_STATE, S_KEY_SET_POLICY) with a->value. */
static int
key_update_fn(struct pg_conn *pc, void *arg)
{
	struct key_arg *a = arg;
	int64_t id = 0;
	int r;

	if ((r = key_live(pc, a, &id)) != 0)
		return r;
	return q_exec(pc, a->stmt, P(QT(a->value), QI(id)));
}

int
kw_pg_key_set_state(struct kw_pgstore *pg, const char *repo, const char *type, const char *tag,
    const char *state)
{
	struct key_arg a = { .repo = repo, .type = type, .tag = tag, .stmt = S_KEY_SET_STATE,
	    .value = state };

	return pg_call(pg, TX_SERIALIZABLE, key_update_fn, &a);
}

static const char *const settable[] = { "enabled", "disabled" };

static int
version_set_state_fn(struct pg_conn *pc, void *arg)
{
	struct key_arg *a = arg;
	PGresult *res = NULL;
	int64_t id = 0;
	int r;

	r = key_live(pc, a, &id);
	if (r == 0 && (r = q_run(pc, S_VERSION_STATE, P(QI(id), QI(a->version)), &res)) == 0) {
		if (PQntuples(res) < 1)
			r = KW_ERR_NOT_FOUND;
		/* pending versions are enabled by commit only; deleting ones are gone */
		else if (strcmp(PQgetvalue(res, 0, 0), settable[0]) != 0 &&
		    strcmp(PQgetvalue(res, 0, 0), settable[1]) != 0)
			r = KW_ERR_DENIED;
		PQclear(res);
	}
	if (r == 0)
		r = q_exec(pc, S_VERSION_SET_STATE, P(QT(a->value), QI(id), QI(a->version)));
	return r;
}

int
kw_pg_version_set_state(struct kw_pgstore *pg, const char *repo, const char *type,
    const char *tag, int version, const char *state)
{
	struct key_arg a = { .repo = repo, .type = type, .tag = tag, .version = version,
	    .value = state };

	return pg_call(pg, TX_SERIALIZABLE, version_set_state_fn, &a);
}

int
kw_pg_key_set_policy(struct kw_pgstore *pg, const char *repo, const char *type, const char *tag,
    const char *policy)
{
	struct key_arg a = { .repo = repo, .type = type, .tag = tag, .stmt = S_KEY_SET_POLICY,
	    .value = policy };

	return pg_call(pg, TX_SERIALIZABLE, key_update_fn, &a);
}

static int
delete_begin_fn(struct pg_conn *pc, void *arg)
{
	struct key_arg *a = arg;
	PGresult *res = NULL;
	char cur[16];
	int64_t id = 0;
	int r;

	json_array_clear(a->labels);    /* from an attempt that was retried */
	/* repeating it on a key already "deleting" returns the labels again (crash retry) */
	r = key_find(pc, a, &id, cur);
	if (r == 0)
		r = q_exec(pc, S_KEY_MARK_DELETING, P(QI(id)));
	if (r == 0)
		r = q_exec(pc, S_VERSIONS_MARK_DELETING, P(QI(id)));
	if (r == 0 && (r = q_run(pc, S_VERSION_LABELS, P(QI(id)), &res)) == 0) {
		for (int i = 0; r == 0 && i < PQntuples(res); i++)
			if (json_array_append_new(a->labels, json_string(PQgetvalue(res, i, 0))) != 0)
				r = KW_ERR_NOMEM;
		PQclear(res);
	}
	return r;
}

int
kw_pg_key_delete_begin(struct kw_pgstore *pg, const char *repo, const char *type,
    const char *tag, json_t *labels)
{
	struct key_arg a = { .repo = repo, .type = type, .tag = tag, .labels = labels };

	return pg_call(pg, TX_SERIALIZABLE, delete_begin_fn, &a);
}

static int
delete_finish_fn(struct pg_conn *pc, void *arg)
{
	struct key_arg *a = arg;
	char cur[16];
	int64_t id = 0;
	int r;

	r = key_find(pc, a, &id, cur);
	if (r == 0 && strcmp(cur, "deleting") != 0)
		r = KW_ERR_DENIED;
	if (r == 0)    /* versions go by ON DELETE CASCADE */
		r = q_exec(pc, S_KEY_DELETE, P(QI(id)));
	return r;
}

int
kw_pg_key_delete_finish(struct kw_pgstore *pg, const char *repo, const char *type,
    const char *tag)
{
	struct key_arg a = { .repo = repo, .type = type, .tag = tag };

	return pg_call(pg, TX_SERIALIZABLE, delete_finish_fn, &a);
}

static int
release_lookup_fn(struct pg_conn *pc, void *arg)
{
	struct key_arg *a = arg;
	PGresult *res = NULL;
	int64_t v = 0, len = 0;
	int r;

	r = q_run(pc, S_RELEASE_LOOKUP, P(QT(a->repo), QT(a->type), QT(a->tag), QI(a->version)),
	    &res);
	if (r != 0)
		return r;
	if (PQntuples(res) < 1)
		r = KW_ERR_NOT_FOUND;
	else if ((r = parse_i64(PQgetvalue(res, 0, 1), &v)) == 0 &&
	    (r = parse_i64(PQgetvalue(res, 0, 3), &len)) == 0)
		r = kw_store_target_fill(PQgetvalue(res, 0, 0), v, PQgetvalue(res, 0, 2), len,
		    PQgetisnull(res, 0, 4) ? NULL : PQgetvalue(res, 0, 4), a->target);
	PQclear(res);
	return r;
}

int
kw_pg_release_lookup(struct kw_pgstore *pg, const char *repo, const char *type, const char *tag,
    int version, struct kw_release_target *ret)
{
	struct key_arg a = { .repo = repo, .type = type, .tag = tag, .version = version,
	    .target = ret };

	return pg_call(pg, TX_NONE, release_lookup_fn, &a);
}

static int
all_versions_fn(struct pg_conn *pc, void *arg)
{
	static const struct col cols[] = {
		{"label", C_TEXT, 0}, {"state", C_TEXT, 1}, {"key_state", C_TEXT, 2},
		{"repository", C_TEXT, 3}, {"type", C_TEXT, 4}, {"tag", C_TEXT, 5},
		{"version", C_INT, 6},
	};
	struct key_arg *a = arg;
	PGresult *res = NULL;
	int r;

	if ((r = q_run(pc, S_ALL_VERSIONS, P0, &res)) != 0)
		return r;
	r = rows_to_array(res, cols, KW_ARRAY_SIZE(cols), &a->rows);
	PQclear(res);
	return r;
}

int
kw_pg_all_versions(struct kw_pgstore *pg, json_t **ret)
{
	struct key_arg a = { 0 };
	int r;

	if ((r = pg_call(pg, TX_NONE, all_versions_fn, &a)) != 0)
		return r;
	*ret = a.rows;
	return 0;
}

/* ---- documents ---- */

struct doc_arg {
	enum kw_pg_docq q;
	const char *kind, *repo, *name, *text, *actor;
	int immutable, version, base;
	int64_t now;
	json_t *rows;
};

static int
doc_put_fn(struct pg_conn *pc, void *arg)
{
	struct doc_arg *a = arg;
	PGresult *res = NULL;
	int64_t imm = 0, v = 0;
	int r;

	if ((r = q_exec(pc, S_DOC_LOCK, P(QT(a->kind), QT(a->repo), QT(a->name)))) != 0)
		return r;
	if ((r = q_run(pc, S_DOC_HEAD, P(QT(a->kind), QT(a->repo), QT(a->name)), &res)) != 0)
		return r;
	if (PQntuples(res) != 1 || parse_i64(PQgetvalue(res, 0, 0), &imm) != 0 ||
	    parse_i64(PQgetvalue(res, 0, 1), &v) != 0)
		r = KW_ERR_INTERNAL;
	PQclear(res);
	if (r != 0)
		return r;
	if (imm != 0)
		return KW_ERR_EXISTS;
	if (a->base > 0 && v != a->base)
		return KW_ERR_MISMATCH;      /* changed since the caller read version base */
	if (++v > INT32_MAX)
		return KW_ERR_TOO_LARGE;
	a->version = (int)v;
	return q_exec(pc, S_DOC_INSERT, P(QT(a->kind), QT(a->repo), QT(a->name), QI(v),
	    QT(a->text), QI((int64_t)(a->immutable != 0)), QI(a->now), QT(a->actor)));
}

int
kw_pg_doc_put(struct kw_pgstore *pg, const char *kind, const char *repo, const char *name,
    const char *text, int immutable, const char *actor, int64_t now, int base, int *ret_version)
{
	struct doc_arg a = { .kind = kind, .repo = repo, .name = name, .text = text,
	    .immutable = immutable, .actor = actor, .now = now, .base = base };
	int r;

	if ((r = pg_call(pg, TX_LOCKED, doc_put_fn, &a)) != 0)
		return r;
	*ret_version = a.version;
	return 0;
}

static int
docs_fn(struct pg_conn *pc, void *arg)
{
	static const struct col cols[] = {
		{"document", C_JSON, 6}, {"repository", C_TEXT, 0}, {"name", C_TEXT, 1},
		{"version", C_INT, 2}, {"immutable", C_BOOL, 3}, {"created", C_INT, 4},
		{"created_by", C_TEXT, 5},
	};
	struct doc_arg *a = arg;
	PGresult *res = NULL;
	int r;

	switch (a->q) {
	case KW_PG_DOC_GET:
		r = q_run(pc, S_DOC_GET, P(QT(a->kind), QT(a->repo), QT(a->name), QI(a->version)), &res);
		break;
	case KW_PG_DOC_HISTORY:
		r = q_run(pc, S_DOC_HISTORY, P(QT(a->kind), QT(a->repo), QT(a->name)), &res);
		break;
	default:
		r = q_run(pc, S_DOC_LIST, P(QT(a->kind), QT(a->repo)), &res);
		break;
	}
	if (r != 0)
		return r;
	r = rows_to_array(res, cols, KW_ARRAY_SIZE(cols), &a->rows);
	PQclear(res);
	return r;
}

int
kw_pg_docs(struct kw_pgstore *pg, enum kw_pg_docq q, const char *kind, const char *repo,
    const char *name, int version, json_t **ret)
{
	struct doc_arg a = { .q = q, .kind = kind, .repo = repo, .name = name, .version = version };
	int r;

	if ((r = pg_call(pg, TX_NONE, docs_fn, &a)) != 0)
		return r;
	*ret = a.rows;
	return 0;
}

/* ---- admin change record ---- */

struct change_arg {
	int64_t now, after, limit;
	const char *actor, *action, *repository, *target, *outcome, *detail;
	json_t *rows;
};

static int
change_add_fn(struct pg_conn *pc, void *arg)
{
	struct change_arg *a = arg;
	int r;

	if ((r = q_exec(pc, S_CHANGE_LOCK, P0)) != 0)
		return r;
	return q_exec(pc, S_CHANGE_INSERT, P(QI(a->now), QT(a->actor), QT(a->action),
	    QT(a->repository), QT(a->target), QT(a->outcome), QT(a->detail)));
}

int
kw_pg_change_add(struct kw_pgstore *pg, int64_t now, const char *actor, const char *action,
    const char *repository, const char *target, const char *outcome, const char *detail)
{
	struct change_arg a = { .now = now, .actor = actor, .action = action,
	    .repository = repository, .target = target, .outcome = outcome, .detail = detail };

	return pg_call(pg, TX_LOCKED, change_add_fn, &a);
}

static int
changes_fn(struct pg_conn *pc, void *arg)
{
	static const struct col cols[] = {
		{"seq", C_INT, 0}, {"at", C_INT, 1}, {"actor", C_TEXT, 2}, {"action", C_TEXT, 3},
		{"repository", C_TEXT_NULL, 4}, {"target", C_TEXT_NULL, 5}, {"outcome", C_TEXT, 6},
		{"detail", C_TEXT_NULL, 7},
	};
	struct change_arg *a = arg;
	PGresult *res = NULL;
	int r;

	if ((r = q_run(pc, S_CHANGES, P(QI(a->after), QT(a->repository), QI(a->limit)), &res)) != 0)
		return r;
	r = rows_to_array(res, cols, KW_ARRAY_SIZE(cols), &a->rows);
	PQclear(res);
	return r;
}

int
kw_pg_changes(struct kw_pgstore *pg, const char *repository, int64_t after, int64_t limit,
    json_t **ret)
{
	struct change_arg a = { .after = after, .limit = limit, .repository = repository };
	int r;

	if ((r = pg_call(pg, TX_NONE, changes_fn, &a)) != 0)
		return r;
	*ret = a.rows;
	return 0;
}

/* ---- the shared single-use sets ---- */

struct once_arg {
	int kind;
	char *hex;
	int64_t expiry, now;
	int sweep;
	int64_t swept;
};

static int
once_fn(struct pg_conn *pc, void *arg)
{
	struct once_arg *a = arg;
	PGresult *res = NULL;
	int r;

	r = q_run(pc, S_ONCE_SPEND, P(QI(a->kind), QT(a->hex), QI(a->expiry), QI(a->now)), &res);
	if (r != 0)
		return r;
	r = PQntuples(res) == 1 ? 0 : KW_ERR_REPLAY;
	PQclear(res);
	if (a->sweep) {
		/* best effort: a failed sweep is retried by a later spend */
		if (q_run(pc, S_ONCE_SWEEP, P(QI(a->now), QI(PG_SWEEP_BATCH)), &res) == 0) {
			(void)parse_i64(PQcmdTuples(res), &a->swept);
			PQclear(res);
		}
	}
	return r;
}

int
kw_pg_once(struct kw_pgstore *pg, int kind, const uint8_t *id, size_t id_len, int64_t expiry,
    int64_t now, int64_t *ret_swept)
{
	struct once_arg a = { .kind = kind, .expiry = expiry, .now = now };
	int r;

	if (id_len < 1 || id_len > 32)
		return KW_ERR_INVALID_ARG;
	if ((r = kw_hex_encode(id, id_len, &a.hex)) != 0)
		return r;
	pthread_mutex_lock(&pg->mu);
	a.sweep = ++pg->once_calls % PG_SWEEP_EVERY == 0;
	pthread_mutex_unlock(&pg->mu);
	r = pg_call(pg, TX_NONE, once_fn, &a);
	free(a.hex);
	if (ret_swept != NULL)
		*ret_swept = a.swept;
	return r;
}

/* ---- the audit log of every replica (audit.h's struct audit_backend) ---- */

/* 32 bytes from the hex text column col of row 0; KW_ERR_NOT_FOUND without a row. */
static int
hash_col(const PGresult *res, int col, uint8_t out[static AUDIT_HASH_LEN])
{
	if (PQntuples(res) < 1 || PQgetisnull(res, 0, col))
		return KW_ERR_NOT_FOUND;
	return kw_hex_decode(PQgetvalue(res, 0, col), out, AUDIT_HASH_LEN) == 0 ? 0 :
	    KW_ERR_INVALID_FORMAT;
}

static int
hex_param(const uint8_t *in, size_t n, char **ret)
{
	if (n == 0)
		return (*ret = strdup("")) == NULL ? KW_ERR_NOMEM : 0;
	return kw_hex_encode(in, n, ret);
}

/* The head under the row lock: size, the last leaf hash and the compact range. */
static int
audit_head_lock(struct pg_conn *pc, struct audit_frontier *f, uint8_t last[static AUDIT_HASH_LEN])
{
	PGresult *res = NULL;
	const char *fr;
	int64_t size = 0;
	size_t n;
	int r;

	if ((r = q_run(pc, S_AUDIT_HEAD_LOCK, P0, &res)) != 0)
		return r;
	if (PQntuples(res) != 1 || parse_i64(PQgetvalue(res, 0, 0), &size) != 0 || size < 0 ||
	    (r = hash_col(res, 1, last)) != 0) {
		r = r != 0 ? r : KW_ERR_INVALID_FORMAT;
		goto out;
	}
	memset(f, 0, sizeof(*f));
	f->size = (uint64_t)size;
	fr = PQgetvalue(res, 0, 2);
	n = strlen(fr) / (2 * AUDIT_HASH_LEN);
	if (strlen(fr) != n * 2 * AUDIT_HASH_LEN || n != (size_t)__builtin_popcountll(f->size)) {
		r = KW_ERR_INVALID_FORMAT;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char h[2 * AUDIT_HASH_LEN + 1];

		memcpy(h, fr + i * 2 * AUDIT_HASH_LEN, 2 * AUDIT_HASH_LEN);
		h[2 * AUDIT_HASH_LEN] = '\0';
		if (kw_hex_decode(h, f->hash[i], AUDIT_HASH_LEN) != 0) {
			r = KW_ERR_INVALID_FORMAT;
			goto out;
		}
	}
	f->n = (unsigned int)n;
	r = 0;
out:
	PQclear(res);
	return r;
}

static int
audit_append_fn(struct pg_conn *pc, void *arg)
{
	struct audit_batch *b = arg;
	char *hex = NULL, *fr = NULL;
	int r;

	if ((r = audit_head_lock(pc, &b->head, b->last)) != 0 || (r = b->build(b)) != 0)
		return r;
	for (size_t i = 0; i < b->nrows && r == 0; i++) {
		const struct audit_batch_row *row = &b->rows[i];

		if ((r = hex_param(row->leaf, AUDIT_HASH_LEN, &hex)) != 0)
			break;
		r = q_exec(pc, S_AUDIT_INSERT, P(QI((int64_t)row->index), QI(row->at), QT(row->kind),
		    QT(row->repository), QT(row->resource), QT(row->decision), QT(row->record),
		    QT(hex)));
		free(hex);
		hex = NULL;
	}
	for (size_t i = 0; i < b->nnodes && r == 0; i++) {
		const struct audit_batch_node *nd = &b->nodes[i];

		if ((r = hex_param(nd->hash, AUDIT_HASH_LEN, &hex)) != 0)
			break;
		r = q_exec(pc, S_AUDIT_NODE_INSERT, P(QI(nd->level), QI((int64_t)nd->idx), QT(hex)));
		free(hex);
		hex = NULL;
	}
	if (r == 0 && (r = hex_param(b->last, AUDIT_HASH_LEN, &hex)) == 0 &&
	    (r = hex_param(&b->head.hash[0][0], (size_t)b->head.n * AUDIT_HASH_LEN, &fr)) == 0)
		r = q_exec(pc, S_AUDIT_HEAD_SET, P(QI((int64_t)b->head.size), QT(hex), QT(fr)));
	free(hex);
	free(fr);
	return r;
}

int
kw_pg_audit_append(void *arg, struct audit_batch *b)
{
	/* READ COMMITTED: after waiting for the head's row lock, FOR UPDATE reads its newest version */
	return pg_call(arg, TX_LOCKED, audit_append_fn, b);
}

static int
audit_size_fn(struct pg_conn *pc, void *arg)
{
	return q_int(pc, arg, S_AUDIT_SIZE, P0);
}

int
kw_pg_audit_size(void *arg, uint64_t *ret)
{
	int64_t v = 0;
	int r;

	if ((r = pg_call(arg, TX_NONE, audit_size_fn, &v)) != 0)
		return r;
	if (v < 0)
		return KW_ERR_INVALID_FORMAT;
	*ret = (uint64_t)v;
	return 0;
}

struct audit_q {
	uint64_t from, to;
	unsigned int level;
	audit_record_fn each;
	void *ctx;
	uint8_t *out;
	const struct audit_filter *f;
	size_t limit;
	int64_t size, at;
	const char *note;
	enum audit_cp_query q;
	json_t *arr;
	uint64_t next;
	char *ret_note;
};

static int
i64_of(uint64_t v, int64_t *ret)
{
	if (v > (uint64_t)INT64_MAX)
		return KW_ERR_INVALID_ARG;
	*ret = (int64_t)v;
	return 0;
}

static int
audit_records_fn(struct pg_conn *pc, void *arg)
{
	struct audit_q *q = arg;
	PGresult *res = NULL;
	int64_t from, to;
	int r;

	if (i64_of(q->from, &from) != 0 || i64_of(q->to, &to) != 0)
		return KW_ERR_INVALID_ARG;
	if ((r = q_run(pc, S_AUDIT_RECORDS, P(QI(from), QI(to)), &res)) != 0)
		return r;
	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		int64_t idx = 0;

		if ((r = parse_i64(PQgetvalue(res, i, 0), &idx)) != 0 || idx < 0)
			r = KW_ERR_INVALID_FORMAT;
		else
			r = q->each(q->ctx, (uint64_t)idx, PQgetvalue(res, i, 1),
			    (size_t)PQgetlength(res, i, 1));
	}
	PQclear(res);
	return r;
}

int
kw_pg_audit_records(void *arg, uint64_t from, uint64_t to, audit_record_fn each, void *ctx)
{
	struct audit_q q = { .from = from, .to = to, .each = each, .ctx = ctx };

	return pg_call(arg, TX_NONE, audit_records_fn, &q);
}

static int
audit_node_fn(struct pg_conn *pc, void *arg)
{
	struct audit_q *q = arg;
	PGresult *res = NULL;
	int64_t idx;
	int r;

	if (i64_of(q->from, &idx) != 0)
		return KW_ERR_NOT_FOUND;
	r = q->level == 0 ? q_run(pc, S_AUDIT_LEAF, P(QI(idx)), &res) :
	    q_run(pc, S_AUDIT_NODE, P(QI(q->level), QI(idx)), &res);
	if (r != 0)
		return r;
	r = hash_col(res, 0, q->out);
	PQclear(res);
	return r;
}

int
kw_pg_audit_node(void *arg, unsigned int level, uint64_t idx, uint8_t out[static AUDIT_HASH_LEN])
{
	struct audit_q q = { .from = idx, .level = level, .out = out };

	return pg_call(arg, TX_NONE, audit_node_fn, &q);
}

static int
audit_cp_add_fn(struct pg_conn *pc, void *arg)
{
	struct audit_q *q = arg;
	PGresult *res = NULL;
	int r;

	if ((r = q_run(pc, S_AUDIT_CP_ADD, P(QI(q->size), QI(q->at), QT(q->note)), &res)) != 0)
		return r;
	r = strcmp(PQcmdTuples(res), "1") == 0 ? 0 : KW_ERR_INVALID_ARG;    /* past the head */
	PQclear(res);
	return r;
}

int
kw_pg_audit_checkpoint_add(void *arg, uint64_t size, int64_t at, const char *note)
{
	struct audit_q q = { .at = at, .note = note };

	if (i64_of(size, &q.size) != 0)
		return KW_ERR_INVALID_ARG;
	return pg_call(arg, TX_NONE, audit_cp_add_fn, &q);
}

static int
audit_cp_fn(struct pg_conn *pc, void *arg)
{
	struct audit_q *q = arg;
	PGresult *res = NULL;
	int r;

	if (q->q == AUDIT_CP_FIRST_AT)
		return q_int(pc, &q->at, S_AUDIT_CP_FIRST, P0);
	r = q->q == AUDIT_CP_LATEST ? q_run(pc, S_AUDIT_CP_LATEST, P0, &res) :
	    q_run(pc, S_AUDIT_CP_COVERING, P(QI(q->size)), &res);
	if (r != 0)
		return r;
	if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0))
		r = KW_ERR_NOT_FOUND;
	else if ((q->ret_note = strdup(PQgetvalue(res, 0, 0))) == NULL)
		r = KW_ERR_NOMEM;
	PQclear(res);
	return r;
}

int
kw_pg_audit_checkpoint(void *arg, enum audit_cp_query which, uint64_t size, char **ret_note,
    int64_t *ret_at)
{
	struct audit_q q = { .q = which };
	int r;

	if (i64_of(size, &q.size) != 0 || (which == AUDIT_CP_FIRST_AT ? ret_at == NULL :
	    ret_note == NULL))
		return KW_ERR_INVALID_ARG;
	if ((r = pg_call(arg, TX_NONE, audit_cp_fn, &q)) != 0) {
		free(q.ret_note);
		return r;
	}
	if (which == AUDIT_CP_FIRST_AT)
		*ret_at = q.at;
	else
		*ret_note = q.ret_note;    /* transferred */
	return 0;
}

static int
audit_list_fn(struct pg_conn *pc, void *arg)
{
	struct audit_q *q = arg;
	const struct audit_filter *f = q->f;
	char since[24], until[24];
	PGresult *res = NULL;
	int64_t start;
	int r;

	if (i64_of(q->from, &start) != 0)
		return KW_ERR_INVALID_ARG;
	snprintf(since, sizeof(since), "%lld", (long long)f->since);
	snprintf(until, sizeof(until), "%lld", (long long)f->until);
	if ((r = q_run(pc, S_AUDIT_LIST, P(QI(start), QT(f->since >= 0 ? since : NULL),
	    QT(f->until >= 0 ? until : NULL), QT(f->repository), QT(f->resource), QT(f->kind),
	    QT(f->decision), QI((int64_t)q->limit)), &res)) != 0)
		return r;
	json_decref(q->arr);    /* a retried call starts over */
	q->next = 0;
	if ((q->arr = json_array()) == NULL)
		r = KW_ERR_NOMEM;
	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		int64_t idx = 0;
		json_t *rec;

		if (parse_i64(PQgetvalue(res, i, 0), &idx) != 0 || idx < 0 ||
		    PQgetlength(res, i, 1) > AUDIT_RECORD_MAX ||
		    (rec = json_loadb(PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1),
		    JSON_REJECT_DUPLICATES, NULL)) == NULL)
			r = KW_ERR_INVALID_FORMAT;
		else if (json_array_append_new(q->arr, rec) != 0)
			r = KW_ERR_NOMEM;
		else
			q->next = (uint64_t)idx + 1;
	}
	PQclear(res);
	return r;
}

int
kw_pg_audit_list(void *arg, const struct audit_filter *f, uint64_t start, size_t limit,
    json_t **ret, uint64_t *ret_next)
{
	struct audit_q q = { .f = f, .from = start, .limit = limit };
	int r;

	if ((r = pg_call(arg, TX_NONE, audit_list_fn, &q)) != 0) {
		json_decref(q.arr);
		return r;
	}
	*ret_next = json_array_size(q.arr) == limit ? q.next : 0;
	*ret = q.arr;    /* transferred */
	return 0;
}

struct lease_arg {
	const char *holder;
	int seconds;
	int held;
};

static int
audit_lease_fn(struct pg_conn *pc, void *arg)
{
	struct lease_arg *a = arg;
	PGresult *res = NULL;
	int r;

	if (a->seconds <= 0)
		return q_exec(pc, S_AUDIT_LEASE_DROP, P(QT(a->holder)));
	if ((r = q_run(pc, S_AUDIT_LEASE, P(QT(a->holder), QI(a->seconds)), &res)) != 0)
		return r;
	a->held = PQntuples(res) == 1;
	PQclear(res);
	return 0;
}

int
kw_pg_audit_lease(struct kw_pgstore *pg, const char *holder, int seconds, int *ret_held)
{
	struct lease_arg a = { .holder = holder, .seconds = seconds };
	int r;

	if (holder == NULL || *holder == '\0' || seconds > 3600)
		return KW_ERR_INVALID_ARG;
	if ((r = pg_call(pg, TX_NONE, audit_lease_fn, &a)) != 0)
		return r;
	if (ret_held != NULL)
		*ret_held = a.held;
	return 0;
}
