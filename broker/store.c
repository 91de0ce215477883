/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQLite backend of store.h. Every SQL text here is a constant; inputs only
 * ever reach SQLite as bound parameters. Every write is one BEGIN IMMEDIATE
 * ... COMMIT and returns after COMMIT, which synchronous=FULL makes durable.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "kw_build.h"
#include "kw_json.h"
#include "kw_log.h"
#include "kw_module.h"
#include "kw_name.h"
#include "metrics.h"
#include "store.h"
#include "store_int.h"

#define KW_STORE_BUSY_MS 5000
#define KW_STORE_TEXT_MAX 1024     /* actor, action, target, detail */

/*
 * Prepared statements kept for reuse, by the address of their SQL text (a
 * string literal at each call site): preparing costs more than running the
 * short look-ups of a release. A statement in use is not handed out twice.
 */
#define STORE_STMT_CACHE 24

struct stmt_slot {
	const char *sql;
	sqlite3_stmt *s;
	int busy;
};

struct kw_store {
	struct kw_pgstore *pg;         /* PostgreSQL (store_pg.c): every call goes there */
	sqlite3 *db;
	int readonly;
	size_t nstmt;
	struct stmt_slot stmt[STORE_STMT_CACHE];
};

/*
 * Numbered migrations. Entry i takes the schema from version i to i + 1; it
 * runs in one transaction together with its schema_migrations row. Never edit
 * a released entry: append a new one and bump KW_STORE_SCHEMA_VERSION.
 */
static const char *const migrations[] = {
	/* 1: keys, versions, documents, admin change record */
	"CREATE TABLE keys ("
	" id INTEGER PRIMARY KEY,"
	" repository TEXT NOT NULL, type TEXT NOT NULL, tag TEXT NOT NULL,"
	" algorithm TEXT NOT NULL CHECK (algorithm IN ('aes-128', 'aes-256', 'secret')),"
	" length INTEGER NOT NULL CHECK (length BETWEEN 1 AND 4096),"
	" policy TEXT,"
	" state TEXT NOT NULL CHECK (state IN ('enabled', 'disabled', 'deleting')),"
	" created INTEGER NOT NULL,"
	" UNIQUE (repository, type, tag));"
	"CREATE TABLE key_versions ("
	" key_id INTEGER NOT NULL REFERENCES keys (id) ON DELETE CASCADE,"
	" version INTEGER NOT NULL CHECK (version >= 1),"
	" label TEXT NOT NULL UNIQUE,"
	" state TEXT NOT NULL CHECK (state IN ('pending', 'enabled', 'disabled', 'deleting')),"
	" origin TEXT NOT NULL CHECK (origin IN ('generated', 'imported')),"
	" created INTEGER NOT NULL,"
	" PRIMARY KEY (key_id, version));"
	"CREATE TABLE documents ("
	" kind TEXT NOT NULL CHECK (kind IN ('policy', 'refval')),"
	" repository TEXT NOT NULL, name TEXT NOT NULL,"
	" version INTEGER NOT NULL CHECK (version >= 1),"
	" document TEXT NOT NULL,"
	" immutable INTEGER NOT NULL CHECK (immutable IN (0, 1)),"
	" created INTEGER NOT NULL,"
	" created_by TEXT NOT NULL,"
	" PRIMARY KEY (kind, repository, name, version));"
	"CREATE TRIGGER documents_no_update BEFORE UPDATE ON documents"
	" BEGIN SELECT RAISE(ABORT, 'documents are versioned, not updated'); END;"
	"CREATE TABLE admin_changes ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" at INTEGER NOT NULL,"
	" actor TEXT NOT NULL, action TEXT NOT NULL,"
	" repository TEXT, target TEXT,"
	" outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'denied')),"
	" detail TEXT);"
	"CREATE INDEX admin_changes_repository ON admin_changes (repository, seq);"
	"CREATE TRIGGER admin_changes_no_update BEFORE UPDATE ON admin_changes"
	" BEGIN SELECT RAISE(ABORT, 'admin_changes is append-only'); END;"
	"CREATE TRIGGER admin_changes_no_delete BEFORE DELETE ON admin_changes"
	" BEGIN SELECT RAISE(ABORT, 'admin_changes is append-only'); END;",
};

_Static_assert(KW_ARRAY_SIZE(migrations) == KW_STORE_SCHEMA_VERSION,
    "one migration per schema version");

/* ---- SQLite plumbing ---- */

static int
map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		kw_metrics_store_error(KW_MET_SE_BUSY);
		return KW_ERR_UNAVAILABLE;
	case SQLITE_NOMEM:
		kw_metrics_store_error(KW_MET_SE_NOMEM);
		return KW_ERR_NOMEM;
	case SQLITE_CONSTRAINT:
		/* unique keys and the append-only triggers are answers, not errors */
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return KW_ERR_EXISTS;
		if (rc == SQLITE_CONSTRAINT_TRIGGER)
			return KW_ERR_DENIED;
		kw_metrics_store_error(KW_MET_SE_CONSTRAINT);
		return KW_ERR_IO;
	default:
		kw_metrics_store_error(KW_MET_SE_IO);
		return KW_ERR_IO;
	}
}

/* Statement parameters: struct q_param, QT, QI, QNONE, Q_PARAMS (store_int.h). */

/* Done with a statement of q_prepare: a kept one is reset for reuse, others finalized. */
static void
q_finalize(struct kw_store *st, sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < st->nstmt; i++)
		if (st->stmt[i].s == s) {
			(void)sqlite3_reset(s);
			(void)sqlite3_clear_bindings(s);
			st->stmt[i].busy = 0;
			return;
		}
	sqlite3_finalize(s);
}

/* A kept statement for sql, or a new one (kept while there is room). */
static int
q_stmt(struct kw_store *st, const char *sql, sqlite3_stmt **ret)
{
	sqlite3_stmt *s = NULL;
	int rc;

	for (size_t i = 0; i < st->nstmt; i++)
		if (st->stmt[i].sql == sql && !st->stmt[i].busy) {
			st->stmt[i].busy = 1;
			*ret = st->stmt[i].s;
			return 0;
		}
	if ((rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL)) != SQLITE_OK)
		return map_rc(rc);
	if (st->nstmt < STORE_STMT_CACHE)
		st->stmt[st->nstmt++] = (struct stmt_slot){ sql, s, 1 };
	*ret = s;
	return 0;
}

static int
q_prepare_v(struct kw_store *st, const char *sql, sqlite3_stmt **ret, const struct q_param *p,
    size_t n)
{
	sqlite3_stmt *s = NULL;
	int rc = SQLITE_OK, col = 1, r;

	if ((r = q_stmt(st, sql, &s)) != 0)
		return r;
	for (size_t k = 0; k < n; k++) {
		switch (p[k].type) {
		case Q_NONE:
			continue;
		case Q_TEXT:
			rc = p[k].text == NULL ? sqlite3_bind_null(s, col) :
			    sqlite3_bind_text(s, col, p[k].text, -1, SQLITE_TRANSIENT);
			break;
		case Q_INT:
			rc = sqlite3_bind_int64(s, col, p[k].i);
			break;
		}
		col++;
		if (rc != SQLITE_OK) {
			q_finalize(st, s);
			return map_rc(rc);
		}
	}
	*ret = s;
	return 0;
}

/* Prepare sql with its parameters: q_prepare(st, sql, &stmt, QT(a), QI(b)) or QNONE. */
#define q_prepare(st, sql, ret, ...) q_prepare_v((st), (sql), (ret), Q_PARAMS(__VA_ARGS__))

/* Run a statement that returns no rows; *ret_changes (may be NULL) = rows changed. */
static int
q_exec_v(struct kw_store *st, int *ret_changes, const char *sql, const struct q_param *p, size_t n)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	if ((r = q_prepare_v(st, sql, &s, p, n)) != 0)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	r = rc == SQLITE_DONE ? 0 : map_rc(sqlite3_extended_errcode(st->db));
	if (r == 0 && rc != SQLITE_DONE)
		r = KW_ERR_IO;
	q_finalize(st, s);
	if (r == 0 && ret_changes != NULL)
		*ret_changes = sqlite3_changes(st->db);
	return r;
}
#define q_exec(st, ret_changes, sql, ...) \
	q_exec_v((st), (ret_changes), (sql), Q_PARAMS(__VA_ARGS__))

/* One row, first column as int64; KW_ERR_NOT_FOUND without a row or on NULL. */
static int
q_int_v(struct kw_store *st, int64_t *ret, const char *sql, const struct q_param *p, size_t n)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	if ((r = q_prepare_v(st, sql, &s, p, n)) != 0)
		return r;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
		*ret = sqlite3_column_int64(s, 0);
		r = 0;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		r = KW_ERR_NOT_FOUND;
	} else {
		r = map_rc(sqlite3_extended_errcode(st->db));
		if (r == 0)
			r = KW_ERR_IO;
	}
	q_finalize(st, s);
	return r;
}
#define q_int(st, ret, sql, ...) q_int_v((st), (ret), (sql), Q_PARAMS(__VA_ARGS__))

static int
tx_begin(struct kw_store *st)
{
	int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : map_rc(sqlite3_extended_errcode(st->db));
}

/* Commit when r == 0, else roll back. Returns r, or the commit's error. */
static int
tx_end(struct kw_store *st, int r)
{
	if (r == 0 && sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		r = map_rc(sqlite3_extended_errcode(st->db));
		if (r == 0)
			r = KW_ERR_IO;
	}
	if (r != 0 && !sqlite3_get_autocommit(st->db))
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static const char *
col_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

/* jansson helpers: set a member, stealing v; any failure -> KW_ERR_NOMEM. */
int
kw_store_jset(json_t *o, const char *k, json_t *v)
{
	return v != NULL && json_object_set_new(o, k, v) == 0 ? 0 : KW_ERR_NOMEM;
}

static json_t *
jstr_or_null(const char *s)
{
	return s == NULL ? json_null() : json_string(s);
}

/*
 * The one row (id, state) of the prepared statement s, finalized here:
 * KW_ERR_NOT_FOUND without a row; *ret_id and ret_state only on 0.
 */
static int
id_state_row(struct kw_store *st, sqlite3_stmt *s, int64_t *ret_id, char ret_state[static 16])
{
	int r, rc = sqlite3_step(s);

	if (rc == SQLITE_ROW) {
		*ret_id = sqlite3_column_int64(s, 0);
		snprintf(ret_state, 16, "%s", col_text(s, 1) != NULL ? col_text(s, 1) : "");
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? KW_ERR_NOT_FOUND : map_rc(sqlite3_extended_errcode(st->db));
		if (r == 0)
			r = KW_ERR_IO;
	}
	q_finalize(st, s);
	return r;
}

/* ---- rows to JSON, driven by a column spec (store_int.h) ---- */

/* Set the members of o from the current row of s. */
static int
row_to_json(sqlite3_stmt *s, const struct col *cols, size_t n, json_t *o)
{
	for (size_t i = 0; i < n; i++) {
		const char *text = col_text(s, cols[i].index);
		json_t *v = NULL;
		int r;

		switch (cols[i].kind) {
		case C_TEXT:
			if (text == NULL)
				return KW_ERR_INTERNAL;    /* NOT NULL in the schema */
			v = json_string(text);
			break;
		case C_TEXT_NULL:
			v = jstr_or_null(text);
			break;
		case C_INT:
			v = json_integer(sqlite3_column_int64(s, cols[i].index));
			break;
		case C_BOOL:
			v = json_boolean(sqlite3_column_int64(s, cols[i].index) != 0);
			break;
		case C_JSON:
			if (text == NULL)
				return KW_ERR_INTERNAL;
			if ((r = kw_json_parse(text, strlen(text), KW_STORE_DOC_MAX, &v)) != 0)
				return r == KW_ERR_NOMEM ? r : KW_ERR_INTERNAL;
			break;
		}
		if ((r = kw_store_jset(o, cols[i].member, v)) != 0)
			return r;
	}
	return 0;
}

/* The step result that ended a loop over rows: 0 for SQLITE_DONE, else an error. */
static int
step_end(struct kw_store *st, int rc)
{
	if (rc == SQLITE_DONE)
		return 0;
	return map_rc(sqlite3_extended_errcode(st->db)) ?: KW_ERR_IO;
}

/* Every row of s (finalized here) as one object of an array in *ret. */
static int
rows_to_array(struct kw_store *st, sqlite3_stmt *s, const struct col *cols, size_t n, json_t **ret)
{
	json_t *arr = json_array();
	int r = arr == NULL ? KW_ERR_NOMEM : 0, rc = SQLITE_DONE;

	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *o = json_object();

		if (o == NULL || json_array_append_new(arr, o) != 0)
			r = KW_ERR_NOMEM;
		else
			r = row_to_json(s, cols, n, o);
	}
	if (r == 0)
		r = step_end(st, rc);
	q_finalize(st, s);
	if (r != 0) {
		json_decref(arr);
		return r;
	}
	*ret = arr;    /* transferred */
	return 0;
}

/* ---- validation ---- */

static int
one_of(const char *s, const char *const *set)
{
	if (s == NULL)
		return 0;
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return 1;
	return 0;
}

static const char *const origins[] = { "generated", "imported", NULL };
static const char *const settable_states[] = { "enabled", "disabled", NULL };
static const char *const kinds[] = { "policy", "refval", NULL };
static const char *const outcomes[] = {"ok", "denied", "error", NULL};

static int
path_valid(const char *repo, const char *type, const char *tag)
{
	return kw_name_valid(repo) && kw_name_valid(type) && kw_name_valid(tag);
}

static int
text_valid(const char *s, int nullable)
{
	if (s == NULL)
		return nullable;
	return strnlen(s, KW_STORE_TEXT_MAX + 1) <= KW_STORE_TEXT_MAX;
}

static int
spec_valid(const struct kw_key_spec *spec)
{
	if (spec == NULL || !path_valid(spec->repository, spec->type, spec->tag) ||
	    spec->algorithm == NULL)
		return 0;
	if (spec->policy != NULL && !kw_name_valid(spec->policy))
		return 0;
	if (strcmp(spec->algorithm, "aes-128") == 0)
		return spec->length == 16;
	if (strcmp(spec->algorithm, "aes-256") == 0)
		return spec->length == 32;
	if (strcmp(spec->algorithm, "secret") == 0)
		return spec->length >= 1 && spec->length <= 4096;
	return 0;
}

int
kw_store_make_label(const char *repo, const char *type, const char *tag, int64_t version, char **ret)
{
	char buf[KW_STORE_LABEL_MAX], *l;
	int n;

	n = snprintf(buf, sizeof(buf), "kw-key/%s/%s/%s/v%lld", repo, type, tag, (long long)version);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return KW_ERR_INTERNAL;    /* names are capped: cannot happen */
	if ((l = strdup(buf)) == NULL)
		return KW_ERR_NOMEM;
	*ret = l;
	return 0;
}

/* ---- open, migrate, close ---- */

static int
schema_version_raw(struct kw_store *st, int64_t *ret)
{
	int64_t v = 0;
	int r;

	r = q_int(st, &v, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND"
	    " name = 'schema_migrations'", QNONE);
	if (r != 0)
		return r;
	if (v == 0) {
		*ret = 0;
		return 0;
	}
	r = q_int(st, &v, "SELECT max(version) FROM schema_migrations", QNONE);
	if (r == KW_ERR_NOT_FOUND) {
		v = 0;
		r = 0;
	}
	if (r == 0)
		*ret = v;
	return r;
}

/* Apply missing migrations, one transaction each (safe against a concurrent opener). */
static int
migrate(struct kw_store *st)
{
	for (;;) {
		int64_t cur = 0;
		int r;

		if ((r = tx_begin(st)) != 0)
			return r;
		r = q_exec(st, NULL, "CREATE TABLE IF NOT EXISTS schema_migrations ("
		    " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)", QNONE);
		if (r == 0)
			r = schema_version_raw(st, &cur);
		if (r == 0 && cur > KW_STORE_SCHEMA_VERSION)
			r = KW_ERR_UNSUPPORTED;
		if (r != 0 || cur == KW_STORE_SCHEMA_VERSION) {
			if ((r = tx_end(st, r)) != 0)
				return r;
			return 0;
		}
		/* constant SQL text of the next migration, no parameters */
		if (sqlite3_exec(st->db, migrations[cur], NULL, NULL, NULL) != SQLITE_OK) {
			r = map_rc(sqlite3_extended_errcode(st->db));
			if (r == 0)
				r = KW_ERR_IO;
		}
		if (r == 0)
			r = q_exec(st, NULL, "INSERT INTO schema_migrations (version, applied_at)"
			    " VALUES (?, ?)", QI(cur + 1), QI((int64_t)time(NULL)));
		if ((r = tx_end(st, r)) != 0)
			return r;
	}
}

static int
pragma_text(struct kw_store *st, const char *sql, const char *want)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	if ((r = q_prepare(st, sql, &s, QNONE)) != 0)
		return r;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && col_text(s, 0) != NULL && strcmp(col_text(s, 0), want) == 0)
		r = 0;
	else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		r = KW_ERR_IO;    /* the setting did not take */
	else
		r = map_rc(sqlite3_extended_errcode(st->db)) ?: KW_ERR_IO;
	q_finalize(st, s);
	return r;
}

static int
store_open(const char *path, int readonly, struct kw_store **ret)
{
	struct kw_store *st = NULL;
	int r = KW_ERR_INTERNAL, flags, rc;

	if (path == NULL || ret == NULL || *path == '\0')
		return KW_ERR_INVALID_ARG;
	if (!readonly) {
		/* create the file ourselves so that it (and its -wal, -shm, which
		 * SQLite creates with the database's mode) is 0600 from the start */
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0)
			return KW_ERR_IO;
		close(fd);
	}
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return KW_ERR_NOMEM;
	st->readonly = readonly;
	/* one thread per connection: no per-connection mutex needed */
	flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
	rc = sqlite3_open_v2(path, &st->db, flags, NULL);
	if (rc != SQLITE_OK) {
		r = rc == SQLITE_NOMEM ? KW_ERR_NOMEM :
		    access(path, F_OK) != 0 ? KW_ERR_NOT_FOUND : KW_ERR_IO;
		goto out;
	}
	sqlite3_extended_result_codes(st->db, 1);
	(void)sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	(void)sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if ((rc = sqlite3_busy_timeout(st->db, KW_STORE_BUSY_MS)) != SQLITE_OK) {
		r = map_rc(rc);
		goto out;
	}
	if ((r = q_exec(st, NULL, "PRAGMA foreign_keys = ON", QNONE)) != 0)
		goto out;
	if (readonly) {
		int64_t v = 0;

		if ((r = q_exec(st, NULL, "PRAGMA query_only = ON", QNONE)) != 0)
			goto out;
		if ((r = schema_version_raw(st, &v)) != 0)
			goto out;
		if (v != KW_STORE_SCHEMA_VERSION) {
			r = KW_ERR_UNSUPPORTED;
			goto out;
		}
	} else {
		if ((r = pragma_text(st, "PRAGMA journal_mode = WAL", "wal")) != 0)
			goto out;
		if ((r = q_exec(st, NULL, "PRAGMA synchronous = FULL", QNONE)) != 0)
			goto out;
		if ((r = migrate(st)) != 0)
			goto out;
	}
	*ret = st;    /* transferred */
	st = NULL;
	r = 0;
out:
	kw_store_close(st);
	return r;
}

int
kw_store_open(const char *path, struct kw_store **ret)
{
	return store_open(path, 0, ret);
}

int
kw_store_open_readonly(const char *path, struct kw_store **ret)
{
	return store_open(path, 1, ret);
}

/* keywarden-pg.so's table, loaded by the first kw_store_open_pg (never unloaded). */
static const struct kw_pg_ops *pg_ops;
static pthread_mutex_t pg_ops_lock = PTHREAD_MUTEX_INITIALIZER;

static int
load_pg_module(void)
{
	char why[2400], path[PATH_MAX];
	const char *test_dir = NULL;
	const struct kw_pg_ops *m;
	const void *p;
	int r = 0;

#ifdef KW_TEST_HOOKS
	test_dir = getenv("KEYWARDEN_TEST_MODULE_DIR");
#endif
	pthread_mutex_lock(&pg_ops_lock);
	if (pg_ops != NULL)
		goto out;
	if ((r = kw_module_load(KW_PG_MODULE_FILE, test_dir, "broker", KW_MODULE_DIR,
	    KW_PG_MODULE_ENTRY, &p, path, sizeof(path), why, sizeof(why))) != 0) {
		kw_log_err_r(r, "store: kind postgresql needs %s: %s", KW_PG_MODULE_FILE, why);
		goto out;
	}
	m = p;
	if (m->abi != KW_PG_MODULE_ABI || m->version == NULL || strcmp(m->version, KW_VERSION) != 0) {
		kw_log_err("store: %s is not a keywarden %s PostgreSQL module of interface %u", path,
		    KW_VERSION, KW_PG_MODULE_ABI);
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	pg_ops = m;
out:
	pthread_mutex_unlock(&pg_ops_lock);
	return r;
}

int
kw_store_open_pg(const char *conninfo, unsigned int pool, struct kw_store **ret)
{
	struct kw_store *st;
	int r;

	if (conninfo == NULL || *conninfo == '\0' || ret == NULL || pool < 1 || pool > 64)
		return KW_ERR_INVALID_ARG;
	if ((r = load_pg_module()) != 0)
		return r;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return KW_ERR_NOMEM;
	if ((r = pg_ops->open(conninfo, pool, &st->pg)) != 0) {
		free(st);
		return r;
	}
	*ret = st;    /* transferred */
	return 0;
}

int
kw_store_is_shared(const struct kw_store *st)
{
	return st != NULL && st->pg != NULL;
}

int
kw_store_audit_backend(struct kw_store *st, struct audit_backend *ret)
{
	if (st == NULL || st->pg == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	*ret = (struct audit_backend){
		.arg = st->pg,
		.size = pg_ops->audit_size,
		.records = pg_ops->audit_records,
		.node = pg_ops->audit_node,
		.checkpoint_add = pg_ops->audit_checkpoint_add,
		.checkpoint = pg_ops->audit_checkpoint,
		.list = pg_ops->audit_list,
		.append = pg_ops->audit_append,
	};
	return 0;
}

int
kw_store_audit_lease(struct kw_store *st, const char *holder, int seconds, int *ret_held)
{
	if (st == NULL || st->pg == NULL || holder == NULL || seconds < 0)
		return KW_ERR_INVALID_ARG;
	return pg_ops->audit_lease(st->pg, holder, seconds, ret_held);
}

void
kw_store_close(struct kw_store *st)
{
	if (st == NULL)
		return;
	if (st->pg != NULL)
		pg_ops->close(st->pg);
	for (size_t i = 0; i < st->nstmt; i++)
		sqlite3_finalize(st->stmt[i].s);
	/* sqlite3_close_v2 finalizes lazily; every other statement is finalized already */
	(void)sqlite3_close_v2(st->db);
	free(st);
}

int
kw_store_ping(struct kw_store *st, int deadline_ms)
{
	if (st == NULL || deadline_ms < 1 || deadline_ms > 60000)
		return KW_ERR_INVALID_ARG;
	return st->pg != NULL ? pg_ops->ping(st->pg, deadline_ms) : 0;
}

int
kw_store_schema_version(struct kw_store *st, int *ret)
{
	int64_t v = 0;
	int r;

	if (st == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if (st->pg != NULL)
		return pg_ops->schema_version(st->pg, ret);
	if ((r = schema_version_raw(st, &v)) != 0)
		return r;
	*ret = (int)v;
	return 0;
}

int
kw_store_set_busy_timeout(struct kw_store *st, int ms)
{
	if (st == NULL || ms < 0 || ms > 60000)
		return KW_ERR_INVALID_ARG;
	if (st->pg != NULL) {
		pg_ops->set_wait(st->pg, ms);
		return 0;
	}
	return map_rc(sqlite3_busy_timeout(st->db, ms));
}

/* ---- keys ---- */

#define KEY_SQL_ID "SELECT id FROM keys WHERE repository = ? AND type = ? AND tag = ?"

/* Key id and state (must hold the write lock to act on the answer). */
static int
key_find(struct kw_store *st, const char *repo, const char *type, const char *tag,
    int64_t *ret_id, char ret_state[16])
{
	sqlite3_stmt *s = NULL;
	int r;

	r = q_prepare(st, "SELECT id, state FROM keys WHERE repository = ? AND type = ? AND tag = ?",
	    &s, QT(repo), QT(type), QT(tag));
	if (r != 0)
		return r;
	return id_state_row(st, s, ret_id, ret_state);
}

int
kw_store_key_create(struct kw_store *st, const struct kw_key_spec *spec, const char *origin,
    int64_t now, char **ret_label)
{
	char *label = NULL;
	int64_t id = 0;
	int r;

	if (st == NULL || ret_label == NULL || !spec_valid(spec) || !one_of(origin, origins))
		return KW_ERR_INVALID_ARG;
	if ((r = kw_store_make_label(spec->repository, spec->type, spec->tag, 1, &label)) != 0)
		return r;
	if (st->pg != NULL) {
		if ((r = pg_ops->key_create(st->pg, spec, origin, now, label)) != 0)
			goto out;
		goto done;
	}
	if ((r = tx_begin(st)) != 0)
		goto out;
	r = q_exec(st, NULL, "INSERT INTO keys (repository, type, tag, algorithm, length, policy,"
	    " state, created) VALUES (?, ?, ?, ?, ?, ?, 'enabled', ?)", QT(spec->repository),
	    QT(spec->type), QT(spec->tag), QT(spec->algorithm), QI((int64_t)spec->length),
	    QT(spec->policy), QI(now));
	if (r == 0)
		r = q_int(st, &id, KEY_SQL_ID, QT(spec->repository), QT(spec->type), QT(spec->tag));
	if (r == 0)
		r = q_exec(st, NULL, "INSERT INTO key_versions (key_id, version, label, state, origin,"
		    " created) VALUES (?, 1, ?, 'pending', ?, ?)", QI(id), QT(label), QT(origin), QI(now));
	if ((r = tx_end(st, r)) != 0)
		goto out;
done:
	*ret_label = label;    /* transferred */
	label = NULL;
out:
	free(label);
	return r;
}

int
kw_store_version_add(struct kw_store *st, const char *repo, const char *type, const char *tag,
    const char *origin, int64_t now, int *ret_version, char **ret_label)
{
	char state[16], *label = NULL;
	int64_t id = 0, v = 0;
	int r;

	if (st == NULL || ret_version == NULL || ret_label == NULL ||
	    !path_valid(repo, type, tag) || !one_of(origin, origins))
		return KW_ERR_INVALID_ARG;
	if (st->pg != NULL)
		return pg_ops->version_add(st->pg, repo, type, tag, origin, now, ret_version, ret_label);
	if ((r = tx_begin(st)) != 0)
		return r;
	r = key_find(st, repo, type, tag, &id, state);
	if (r == 0 && strcmp(state, "deleting") == 0)
		r = KW_ERR_DENIED;
	if (r == 0)
		r = q_int(st, &v, "SELECT coalesce(max(version), 0) + 1 FROM key_versions"
		    " WHERE key_id = ?", QI(id));
	if (r == 0 && v > 1000000)
		r = KW_ERR_TOO_LARGE;
	if (r == 0)
		r = kw_store_make_label(repo, type, tag, v, &label);
	if (r == 0)
		r = q_exec(st, NULL, "INSERT INTO key_versions (key_id, version, label, state, origin,"
		    " created) VALUES (?, ?, ?, 'pending', ?, ?)", QI(id), QI(v), QT(label), QT(origin), QI(now));
	if ((r = tx_end(st, r)) != 0)
		goto out;
	*ret_version = (int)v;
	*ret_label = label;    /* transferred */
	label = NULL;
out:
	free(label);
	return r;
}

/* State of the version with this label (under the write lock). */
static int
version_state_by_label(struct kw_store *st, const char *label, int64_t *ret_key, char ret_state[16])
{
	sqlite3_stmt *s = NULL;
	int r;

	if ((r = q_prepare(st, "SELECT key_id, state FROM key_versions WHERE label = ?", &s,
	    QT(label))) != 0)
		return r;
	return id_state_row(st, s, ret_key, ret_state);
}

static int
label_valid(const char *label)
{
	return label != NULL && strnlen(label, KW_STORE_LABEL_MAX) < KW_STORE_LABEL_MAX &&
	    strncmp(label, "kw-key/", 7) == 0;
}

int
kw_store_version_commit(struct kw_store *st, const char *label)
{
	char state[16];
	int64_t key = 0;
	int r;

	if (st == NULL || !label_valid(label))
		return KW_ERR_INVALID_ARG;
	if (st->pg != NULL)
		return pg_ops->version_commit(st->pg, label);
	if ((r = tx_begin(st)) != 0)
		return r;
	r = version_state_by_label(st, label, &key, state);
	if (r == 0 && strcmp(state, "pending") != 0)
		r = KW_ERR_DENIED;
	if (r == 0)
		r = q_exec(st, NULL, "UPDATE key_versions SET state = 'enabled' WHERE label = ?",
		    QT(label));
	return tx_end(st, r);
}

int
kw_store_version_abort(struct kw_store *st, const char *label)
{
	char state[16];
	int64_t key = 0, left = 0;
	int r;

	if (st == NULL || !label_valid(label))
		return KW_ERR_INVALID_ARG;
	if (st->pg != NULL)
		return pg_ops->version_abort(st->pg, label);
	if ((r = tx_begin(st)) != 0)
		return r;
	r = version_state_by_label(st, label, &key, state);
	if (r == 0 && strcmp(state, "pending") != 0)
		r = KW_ERR_DENIED;
	if (r == 0)
		r = q_exec(st, NULL, "DELETE FROM key_versions WHERE label = ?", QT(label));
	if (r == 0)
		r = q_int(st, &left, "SELECT count(*) FROM key_versions WHERE key_id = ?", QI(key));
	if (r == 0 && left == 0)
		r = q_exec(st, NULL, "DELETE FROM keys WHERE id = ?", QI(key));
	return tx_end(st, r);
}

/*
 * Key metadata objects for keys matching (repo|NULL, type|NULL, tag|NULL),
 * sorted by path, versions ascending. One statement: one consistent snapshot.
 */
static int
keys_query(struct kw_store *st, const char *repo, const char *type, const char *tag,
    json_t **ret)
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
	sqlite3_stmt *s = NULL;
	json_t *arr = NULL, *cur = NULL;
	int64_t cur_id = -1;
	int r, rc;

	if (st->pg != NULL)
		return pg_ops->keys_query(st->pg, repo, type, tag, ret);
	r = q_prepare(st, "SELECT k.id, k.repository, k.type, k.tag, k.algorithm, k.length,"
	    " k.policy, k.state, k.created, v.version, v.state, v.origin, v.created"
	    " FROM keys k LEFT JOIN key_versions v ON v.key_id = k.id"
	    " WHERE (?1 IS NULL OR k.repository = ?1) AND (?2 IS NULL OR k.type = ?2)"
	    " AND (?3 IS NULL OR k.tag = ?3)"
	    " ORDER BY k.repository || '/' || k.type || '/' || k.tag, k.id, v.version",
	    &s, QT(repo), QT(type), QT(tag));
	if (r != 0)
		return r;
	if ((arr = json_array()) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		json_t *ver;

		if (id != cur_id) {
			cur_id = id;
			if ((cur = json_object()) == NULL || json_array_append_new(arr, cur) != 0) {
				r = KW_ERR_NOMEM;
				goto out;
			}
			if ((r = row_to_json(s, key_cols, KW_ARRAY_SIZE(key_cols), cur)) != 0 ||
			    (r = kw_store_jset(cur, "versions", json_array())) != 0)
				goto out;
		}
		if (sqlite3_column_type(s, 9) == SQLITE_NULL)
			continue;    /* a key without versions (not left by this code) */
		if ((ver = json_object()) == NULL ||
		    json_array_append_new(json_object_get(cur, "versions"), ver) != 0) {
			r = KW_ERR_NOMEM;
			goto out;
		}
		if ((r = row_to_json(s, version_cols, KW_ARRAY_SIZE(version_cols), ver)) != 0)
			goto out;
	}
	if ((r = step_end(st, rc)) != 0)
		goto out;
	*ret = arr;    /* transferred */
	arr = NULL;
	r = 0;
out:
	q_finalize(st, s);
	json_decref(arr);
	return r;
}

int
kw_store_key_get(struct kw_store *st, const char *repo, const char *type, const char *tag,
    json_t **ret)
{
	json_t *arr = NULL, *k;
	int r;

	if (st == NULL || ret == NULL || !path_valid(repo, type, tag))
		return KW_ERR_INVALID_ARG;
	if ((r = keys_query(st, repo, type, tag, &arr)) != 0)
		return r;
	if ((k = json_array_get(arr, 0)) == NULL) {
		json_decref(arr);
		return KW_ERR_NOT_FOUND;
	}
	*ret = json_incref(k);
	json_decref(arr);
	return 0;
}

int
kw_store_key_list(struct kw_store *st, const char *repo, json_t **ret)
{
	if (st == NULL || ret == NULL || (repo != NULL && !kw_name_valid(repo)))
		return KW_ERR_INVALID_ARG;
	return keys_query(st, repo, NULL, NULL, ret);
}

int
kw_store_key_set_state(struct kw_store *st, const char *repo, const char *type, const char *tag,
    const char *state)
{
	char cur[16];
	int64_t id = 0;
	int r;

	if (st == NULL || !path_valid(repo, type, tag) || !one_of(state, settable_states))
		return KW_ERR_INVALID_ARG;
	if (st->pg != NULL)
		return pg_ops->key_set_state(st->pg, repo, type, tag, state);
	if ((r = tx_begin(st)) != 0)
		return r;
	r = key_find(st, repo, type, tag, &id, cur);
	if (r == 0 && strcmp(cur, "deleting") == 0)
		r = KW_ERR_DENIED;
	if (r == 0)
		r = q_exec(st, NULL, "UPDATE keys SET state = ? WHERE id = ?", QT(state), QI(id));
	return tx_end(st, r);
}

int
kw_store_version_set_state(struct kw_store *st, const char *repo, const char *type,
    const char *tag, int version, const char *state)
{
	char cur[16];
	int64_t id = 0;
	sqlite3_stmt *s = NULL;
	int r, rc;

	if (st == NULL || !path_valid(repo, type, tag) || version < 1 ||
	    !one_of(state, settable_states))
		return KW_ERR_INVALID_ARG;
	if (st->pg != NULL)
		return pg_ops->version_set_state(st->pg, repo, type, tag, version, state);
	if ((r = tx_begin(st)) != 0)
		return r;
	r = key_find(st, repo, type, tag, &id, cur);
	if (r == 0 && strcmp(cur, "deleting") == 0)
		r = KW_ERR_DENIED;
	if (r == 0)
		r = q_prepare(st, "SELECT state FROM key_versions WHERE key_id = ? AND version = ?",
		    &s, QI(id), QI(version));
	if (r == 0) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE)
			r = KW_ERR_NOT_FOUND;
		else if (rc != SQLITE_ROW)
			r = map_rc(sqlite3_extended_errcode(st->db)) ?: KW_ERR_IO;
		/* pending versions are enabled by commit only; deleting ones are gone */
		else if (!one_of(col_text(s, 0), settable_states))
			r = KW_ERR_DENIED;
		q_finalize(st, s);
	}
	if (r == 0)
		r = q_exec(st, NULL, "UPDATE key_versions SET state = ? WHERE key_id = ? AND"
		    " version = ?", QT(state), QI(id), QI(version));
	return tx_end(st, r);
}

int
kw_store_key_set_policy(struct kw_store *st, const char *repo, const char *type, const char *tag,
    const char *policy)
{
	char cur[16];
	int64_t id = 0;
	int r;

	if (st == NULL || !path_valid(repo, type, tag) ||
	    (policy != NULL && !kw_name_valid(policy)))
		return KW_ERR_INVALID_ARG;
	if (st->pg != NULL)
		return pg_ops->key_set_policy(st->pg, repo, type, tag, policy);
	if ((r = tx_begin(st)) != 0)
		return r;
	r = key_find(st, repo, type, tag, &id, cur);
	if (r == 0 && strcmp(cur, "deleting") == 0)
		r = KW_ERR_DENIED;
	if (r == 0)
		r = q_exec(st, NULL, "UPDATE keys SET policy = ? WHERE id = ?", QT(policy), QI(id));
	return tx_end(st, r);
}

int
kw_store_key_delete_begin(struct kw_store *st, const char *repo, const char *type,
    const char *tag, json_t **ret_labels)
{
	char cur[16];
	int64_t id = 0;
	sqlite3_stmt *s = NULL;
	json_t *labels = NULL;
	int r, rc;

	if (st == NULL || ret_labels == NULL || !path_valid(repo, type, tag))
		return KW_ERR_INVALID_ARG;
	if ((labels = json_array()) == NULL)
		return KW_ERR_NOMEM;
	if (st->pg != NULL) {
		if ((r = pg_ops->key_delete_begin(st->pg, repo, type, tag, labels)) != 0)
			goto out;
		goto done;
	}
	if ((r = tx_begin(st)) != 0)
		goto out;
	/* repeating it on a key already "deleting" returns the labels again (crash retry) */
	r = key_find(st, repo, type, tag, &id, cur);
	if (r == 0)
		r = q_exec(st, NULL, "UPDATE keys SET state = 'deleting' WHERE id = ?", QI(id));
	if (r == 0)
		r = q_exec(st, NULL, "UPDATE key_versions SET state = 'deleting' WHERE key_id = ?", QI(id));
	if (r == 0)
		r = q_prepare(st, "SELECT label FROM key_versions WHERE key_id = ? ORDER BY version",
		    &s, QI(id));
	if (r == 0) {
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (json_array_append_new(labels, json_string(col_text(s, 0))) != 0) {
				r = KW_ERR_NOMEM;
				break;
			}
		}
		if (r == 0 && rc != SQLITE_DONE)
			r = map_rc(sqlite3_extended_errcode(st->db)) ?: KW_ERR_IO;
		q_finalize(st, s);
	}
	if ((r = tx_end(st, r)) != 0)
		goto out;
done:
	*ret_labels = labels;    /* transferred */
	labels = NULL;
out:
	json_decref(labels);
	return r;
}

int
kw_store_key_delete_finish(struct kw_store *st, const char *repo, const char *type,
    const char *tag)
{
	char cur[16];
	int64_t id = 0;
	int r;

	if (st == NULL || !path_valid(repo, type, tag))
		return KW_ERR_INVALID_ARG;
	if (st->pg != NULL)
		return pg_ops->key_delete_finish(st->pg, repo, type, tag);
	if ((r = tx_begin(st)) != 0)
		return r;
	r = key_find(st, repo, type, tag, &id, cur);
	if (r == 0 && strcmp(cur, "deleting") != 0)
		r = KW_ERR_DENIED;
	if (r == 0)    /* versions go by ON DELETE CASCADE */
		r = q_exec(st, NULL, "DELETE FROM keys WHERE id = ?", QI(id));
	return tx_end(st, r);
}

int
kw_store_target_fill(const char *label, int64_t version, const char *algorithm, int64_t length,
    const char *policy, struct kw_release_target *ret)
{
	struct kw_release_target t;

	memset(&t, 0, sizeof(t));
	if (label == NULL || algorithm == NULL || strlen(label) >= sizeof(t.label) ||
	    strlen(algorithm) >= sizeof(t.algorithm) ||
	    (policy != NULL && strlen(policy) >= sizeof(t.policy)) ||
	    version < 1 || version > INT32_MAX || length < 1 || length > 4096)
		return KW_ERR_INTERNAL;    /* rows violate what the writers guarantee */
	memcpy(t.label, label, strlen(label) + 1);
	memcpy(t.algorithm, algorithm, strlen(algorithm) + 1);
	if (policy != NULL)
		memcpy(t.policy, policy, strlen(policy) + 1);
	t.version = (int)version;
	t.length = (unsigned int)length;
	*ret = t;
	return 0;
}

int
kw_store_release_lookup(struct kw_store *st, const char *repo, const char *type,
    const char *tag, int version, struct kw_release_target *ret)
{
	struct kw_release_target t;
	sqlite3_stmt *s = NULL;
	int r, rc;

	if (st == NULL || ret == NULL || !path_valid(repo, type, tag) || version < 0)
		return KW_ERR_INVALID_ARG;
	if (st->pg != NULL)
		return pg_ops->release_lookup(st->pg, repo, type, tag, version, ret);
	r = q_prepare(st, "SELECT v.label, v.version, k.algorithm, k.length, k.policy"
	    " FROM keys k JOIN key_versions v ON v.key_id = k.id"
	    " WHERE k.repository = ? AND k.type = ? AND k.tag = ? AND k.state = 'enabled'"
	    " AND v.state = 'enabled' AND (?4 = 0 OR v.version = ?4)"
	    " ORDER BY v.version DESC LIMIT 1", &s, QT(repo), QT(type), QT(tag), QI(version));
	if (r != 0)
		return r;
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		r = KW_ERR_NOT_FOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = map_rc(sqlite3_extended_errcode(st->db)) ?: KW_ERR_IO;
		goto out;
	}
	if ((r = kw_store_target_fill(col_text(s, 0), sqlite3_column_int64(s, 1), col_text(s, 2),
	    sqlite3_column_int64(s, 3), col_text(s, 4), &t)) != 0)
		goto out;
	*ret = t;
out:
	q_finalize(st, s);
	return r;
}

int
kw_store_all_versions(struct kw_store *st, json_t **ret)
{
	static const struct col cols[] = {
		{"label", C_TEXT, 0}, {"state", C_TEXT, 1}, {"key_state", C_TEXT, 2},
		{"repository", C_TEXT, 3}, {"type", C_TEXT, 4}, {"tag", C_TEXT, 5},
		{"version", C_INT, 6},
	};
	sqlite3_stmt *s = NULL;
	int r;

	if (st == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if (st->pg != NULL)
		return pg_ops->all_versions(st->pg, ret);
	r = q_prepare(st, "SELECT v.label, v.state, k.state, k.repository, k.type, k.tag, v.version"
	    " FROM keys k JOIN key_versions v ON v.key_id = k.id ORDER BY v.label", &s, QNONE);
	if (r != 0)
		return r;
	return rows_to_array(st, s, cols, KW_ARRAY_SIZE(cols), ret);
}

/* ---- documents ---- */

static int
doc_put(struct kw_store *st, const char *kind, const char *repo, const char *name,
    const json_t *doc, int immutable, const char *actor, int64_t now, int base, int *ret_version)
{
	char *text = NULL;
	size_t len = 0;
	json_t *check = NULL;
	int64_t v = 0, imm = 0;
	int r;

	if (st == NULL || ret_version == NULL || !one_of(kind, kinds) ||
	    !kw_name_valid(repo) || !kw_name_valid(name) || !json_is_object(doc) ||
	    actor == NULL || *actor == '\0' || !text_valid(actor, 0))
		return KW_ERR_INVALID_ARG;
	if ((r = kw_jcs_serialize(doc, &text, &len)) != 0)
		goto out;
	if (len > KW_STORE_DOC_MAX) {
		r = KW_ERR_TOO_LARGE;
		goto out;
	}
	/* what is stored must read back: same parser and limits as get */
	if ((r = kw_json_parse(text, len, KW_STORE_DOC_MAX, &check)) != 0)
		goto out;
	if (st->pg != NULL) {
		r = pg_ops->doc_put(st->pg, kind, repo, name, text, immutable, actor, now, base,
		    ret_version);
		goto out;
	}
	if ((r = tx_begin(st)) != 0)
		goto out;
	r = q_int(st, &imm, "SELECT max(immutable) FROM documents WHERE kind = ? AND"
	    " repository = ? AND name = ?", QT(kind), QT(repo), QT(name));
	if (r == KW_ERR_NOT_FOUND)
		r = 0;
	else if (r == 0 && imm != 0)
		r = KW_ERR_EXISTS;
	if (r == 0)
		r = q_int(st, &v, "SELECT coalesce(max(version), 0) + 1 FROM documents WHERE kind = ?"
		    " AND repository = ? AND name = ?", QT(kind), QT(repo), QT(name));
	if (r == 0 && base > 0 && v - 1 != base)
		r = KW_ERR_MISMATCH;    /* changed since the caller read version base */
	if (r == 0 && v > INT32_MAX)
		r = KW_ERR_TOO_LARGE;
	if (r == 0)
		r = q_exec(st, NULL, "INSERT INTO documents (kind, repository, name, version, document,"
		    " immutable, created, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		    QT(kind), QT(repo), QT(name), QI(v), QT(text), QI((int64_t)(immutable != 0)),
		    QI(now), QT(actor));
	if ((r = tx_end(st, r)) != 0)
		goto out;
	*ret_version = (int)v;
out:
	json_decref(check);
	free(text);
	return r;
}

int
kw_store_doc_put(struct kw_store *st, const char *kind, const char *repo, const char *name,
    const json_t *doc, int immutable, const char *actor, int64_t now, int *ret_version)
{
	return doc_put(st, kind, repo, name, doc, immutable, actor, now, 0, ret_version);
}

int
kw_store_doc_put_based(struct kw_store *st, const char *kind, const char *repo, const char *name,
    const json_t *doc, int immutable, const char *actor, int64_t now, int base, int *ret_version)
{
	if (base < 1)
		return KW_ERR_INVALID_ARG;
	return doc_put(st, kind, repo, name, doc, immutable, actor, now, base, ret_version);
}

#define DOC_COLS "repository, name, version, immutable, created, created_by, document"

/* Run the prepared statement s (columns DOC_COLS; finalized here) into a new array. */
static int
docs_run(struct kw_store *st, sqlite3_stmt *s, json_t **ret)
{
	static const struct col cols[] = {
		{"document", C_JSON, 6}, {"repository", C_TEXT, 0}, {"name", C_TEXT, 1},
		{"version", C_INT, 2}, {"immutable", C_BOOL, 3}, {"created", C_INT, 4},
		{"created_by", C_TEXT, 5},
	};

	return rows_to_array(st, s, cols, KW_ARRAY_SIZE(cols), ret);
}

int
kw_store_doc_get(struct kw_store *st, const char *kind, const char *repo, const char *name,
    int version, json_t **ret)
{
	sqlite3_stmt *s = NULL;
	json_t *arr = NULL, *d;
	int r;

	if (st == NULL || ret == NULL || !one_of(kind, kinds) || !kw_name_valid(repo) ||
	    !kw_name_valid(name) || version < 0)
		return KW_ERR_INVALID_ARG;
	if (st->pg != NULL)
		r = pg_ops->docs(st->pg, KW_PG_DOC_GET, kind, repo, name, version, &arr);
	else if ((r = q_prepare(st, "SELECT " DOC_COLS " FROM documents WHERE kind = ? AND"
	    " repository = ? AND name = ? AND (?4 = 0 OR version = ?4) ORDER BY version DESC"
	    " LIMIT 1", &s, QT(kind), QT(repo), QT(name), QI(version))) == 0)
		r = docs_run(st, s, &arr);
	if (r != 0)
		return r;
	if ((d = json_array_get(arr, 0)) == NULL) {
		json_decref(arr);
		return KW_ERR_NOT_FOUND;
	}
	*ret = json_incref(d);
	json_decref(arr);
	return 0;
}

int
kw_store_doc_history(struct kw_store *st, const char *kind, const char *repo, const char *name,
    json_t **ret)
{
	sqlite3_stmt *s = NULL;
	json_t *arr = NULL;
	int r;

	if (st == NULL || ret == NULL || !one_of(kind, kinds) || !kw_name_valid(repo) ||
	    !kw_name_valid(name))
		return KW_ERR_INVALID_ARG;
	if (st->pg != NULL)
		r = pg_ops->docs(st->pg, KW_PG_DOC_HISTORY, kind, repo, name, 0, &arr);
	else if ((r = q_prepare(st, "SELECT " DOC_COLS " FROM documents WHERE kind = ? AND"
	    " repository = ? AND name = ? ORDER BY version", &s, QT(kind), QT(repo), QT(name))) == 0)
		r = docs_run(st, s, &arr);
	if (r != 0)
		return r;
	if (json_array_size(arr) == 0) {
		json_decref(arr);
		return KW_ERR_NOT_FOUND;
	}
	*ret = arr;
	return 0;
}

int
kw_store_doc_list(struct kw_store *st, const char *kind, const char *repo, json_t **ret)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (st == NULL || ret == NULL || !one_of(kind, kinds) ||
	    (repo != NULL && !kw_name_valid(repo)))
		return KW_ERR_INVALID_ARG;
	if (st->pg != NULL)
		return pg_ops->docs(st->pg, KW_PG_DOC_LIST, kind, repo, NULL, 0, ret);
	r = q_prepare(st, "SELECT " DOC_COLS " FROM documents d WHERE kind = ?1"
	    " AND (?2 IS NULL OR repository = ?2) AND version = (SELECT max(version) FROM documents"
	    " WHERE kind = d.kind AND repository = d.repository AND name = d.name)"
	    " ORDER BY repository || '/' || name", &s, QT(kind), QT(repo));
	if (r != 0)
		return r;
	return docs_run(st, s, ret);
}

/* ---- admin change record ---- */

int
kw_store_change_add(struct kw_store *st, int64_t now, const char *actor, const char *action,
    const char *repository, const char *target, const char *outcome, const char *detail)
{
	int r;

	if (repository != NULL && *repository == '\0')
		repository = NULL;    /* "" = not about one repository */
	if (st == NULL || actor == NULL || *actor == '\0' || !text_valid(actor, 0) ||
	    action == NULL || *action == '\0' || !text_valid(action, 0) ||
	    (repository != NULL && !kw_name_valid(repository)) || !text_valid(target, 1) ||
	    !one_of(outcome, outcomes) || !text_valid(detail, 1))
		return KW_ERR_INVALID_ARG;
	if (st->pg != NULL)
		return pg_ops->change_add(st->pg, now, actor, action, repository, target, outcome,
		    detail);
	if ((r = tx_begin(st)) != 0)
		return r;
	r = q_exec(st, NULL, "INSERT INTO admin_changes (at, actor, action, repository, target,"
	    " outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)", QI(now), QT(actor), QT(action),
	    QT(repository), QT(target), QT(outcome), QT(detail));
	return tx_end(st, r);
}

int
kw_store_changes(struct kw_store *st, const char *repository, int64_t after, size_t limit,
    json_t **ret)
{
	static const struct col cols[] = {
		{"seq", C_INT, 0}, {"at", C_INT, 1}, {"actor", C_TEXT, 2}, {"action", C_TEXT, 3},
		{"repository", C_TEXT_NULL, 4}, {"target", C_TEXT_NULL, 5}, {"outcome", C_TEXT, 6},
		{"detail", C_TEXT_NULL, 7},
	};
	sqlite3_stmt *s = NULL;
	int r;

	if (st == NULL || ret == NULL || (repository != NULL && !kw_name_valid(repository)))
		return KW_ERR_INVALID_ARG;
	if (limit > (uint64_t)INT64_MAX)
		limit = (size_t)INT64_MAX;
	if (st->pg != NULL)
		return pg_ops->changes(st->pg, repository, after, (int64_t)limit, ret);
	r = q_prepare(st, "SELECT seq, at, actor, action, repository, target, outcome, detail"
	    " FROM admin_changes WHERE seq > ?1 AND (?2 IS NULL OR repository = ?2)"
	    " ORDER BY seq LIMIT ?3", &s, QI(after), QT(repository), QI((int64_t)limit));
	if (r != 0)
		return r;
	return rows_to_array(st, s, cols, KW_ARRAY_SIZE(cols), ret);
}

/* ---- shared single-use sets (PostgreSQL) ---- */

int
kw_store_once(struct kw_store *st, enum kw_store_once_set set, const uint8_t *id, size_t id_len,
    int64_t expiry, int64_t now)
{
	if (st == NULL || id == NULL || id_len < 1 || id_len > 32 ||
	    (set != KW_STORE_ONCE_CHALLENGE && set != KW_STORE_ONCE_JTI))
		return KW_ERR_INVALID_ARG;
	if (st->pg == NULL)
		return KW_ERR_UNSUPPORTED;
	if (expiry < now)
		return KW_ERR_EXPIRED;
	return pg_ops->once(st->pg, (int)set, id, id_len, expiry, now, NULL);
}
