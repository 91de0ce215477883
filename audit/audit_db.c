/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit tables in SQLite: append-only records (with their leaf hashes),
 * the roots of perfect subtrees (so proofs and tree heads need O(log n)
 * lookups), and signed checkpoints. Every SQL text is a constant; values
 * reach SQLite only as bound parameters.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "audit_int.h"

#define AUDIT_BUSY_MS 5000

struct audit_db {
	sqlite3 *db;
	bool readonly;
	sqlite3_stmt *ins_record, *ins_node, *get_leaf, *get_node;
	bool has_be;                   /* a backend (audit_db_open_backend), not SQLite */
	struct audit_backend be;
};

/*
 * Version 1 of the audit tables. The triggers make every table append-only;
 * audit_records_dense refuses a row that is not the next index, so the
 * table holds 0..n-1 without holes (max() on the primary key is O(log n)).
 */
static const char schema[] =
	"CREATE TABLE IF NOT EXISTS audit_records ("
	" idx INTEGER PRIMARY KEY CHECK (idx >= 0),"
	" at INTEGER NOT NULL,"
	" kind TEXT NOT NULL,"
	" repository TEXT, resource TEXT, decision TEXT,"
	" record TEXT NOT NULL,"
	" leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32));"
	"CREATE INDEX IF NOT EXISTS audit_records_at ON audit_records (at);"
	"CREATE INDEX IF NOT EXISTS audit_records_kind ON audit_records (kind, idx);"
	"CREATE INDEX IF NOT EXISTS audit_records_repository ON audit_records (repository, idx);"
	"CREATE TRIGGER IF NOT EXISTS audit_records_dense BEFORE INSERT ON audit_records"
	" WHEN NEW.idx != coalesce((SELECT max(idx) FROM audit_records), -1) + 1"
	" BEGIN SELECT RAISE(ABORT, 'audit_records: not the next index'); END;"
	"CREATE TRIGGER IF NOT EXISTS audit_records_no_update BEFORE UPDATE ON audit_records"
	" BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS audit_records_no_delete BEFORE DELETE ON audit_records"
	" BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;"
	"CREATE TABLE IF NOT EXISTS audit_nodes ("
	" level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 63),"
	" idx INTEGER NOT NULL CHECK (idx >= 0),"
	" hash BLOB NOT NULL CHECK (length(hash) = 32),"
	" PRIMARY KEY (level, idx)) WITHOUT ROWID;"
	"CREATE TRIGGER IF NOT EXISTS audit_nodes_no_update BEFORE UPDATE ON audit_nodes"
	" BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS audit_nodes_no_delete BEFORE DELETE ON audit_nodes"
	" BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only'); END;"
	"CREATE TABLE IF NOT EXISTS audit_checkpoints ("
	" size INTEGER PRIMARY KEY CHECK (size >= 0),"
	" at INTEGER NOT NULL,"
	" note TEXT NOT NULL);"
	"CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints"
	" BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints"
	" BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;";

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
		return KW_ERR_UNAVAILABLE;
	case SQLITE_NOMEM:
		return KW_ERR_NOMEM;
	case SQLITE_CONSTRAINT:
		return rc == SQLITE_CONSTRAINT_PRIMARYKEY ? KW_ERR_EXISTS : KW_ERR_DENIED;
	default:
		return KW_ERR_IO;    /* SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR, ... */
	}
}

static int
db_err(struct audit_db *db)
{
	int r = map_rc(sqlite3_extended_errcode(db->db));

	return r != 0 ? r : KW_ERR_IO;
}

static int
exec(struct audit_db *db, const char *sql)
{
	return sqlite3_exec(db->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : db_err(db);
}

static int
prepare(struct audit_db *db, const char *sql, sqlite3_stmt **ret)
{
	int rc = sqlite3_prepare_v3(db->db, sql, -1, SQLITE_PREPARE_PERSISTENT, ret, NULL);

	return rc == SQLITE_OK ? 0 : map_rc(rc) ?: KW_ERR_IO;
}

static int
int64_of(uint64_t v, sqlite3_int64 *ret)
{
	if (v > (uint64_t)INT64_MAX)
		return KW_ERR_INVALID_ARG;
	*ret = (sqlite3_int64)v;
	return 0;
}

static int
tables_exist(struct audit_db *db)
{
	sqlite3_stmt *s = NULL;
	int found = 0;

	if (sqlite3_prepare_v2(db->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
	    " AND name IN ('audit_records', 'audit_nodes', 'audit_checkpoints')", -1, &s,
	    NULL) != SQLITE_OK)
		return db_err(db);
	if (sqlite3_step(s) == SQLITE_ROW)
		found = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return found == 3 ? 0 : KW_ERR_NOT_FOUND;
}

int
audit_db_open(const char *path, bool readonly, struct audit_db **ret)
{
	struct audit_db *db = NULL;
	int r = KW_ERR_INTERNAL, rc, flags;

	if (path == NULL || *path == '\0' || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if (!readonly) {
		/* 0600 from the start (SQLite gives -wal and -shm the same mode) */
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0)
			return KW_ERR_IO;
		close(fd);
	}
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return KW_ERR_NOMEM;
	db->readonly = readonly;
	flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
	if ((rc = sqlite3_open_v2(path, &db->db, flags, NULL)) != SQLITE_OK) {
		r = rc == SQLITE_NOMEM ? KW_ERR_NOMEM :
		    access(path, F_OK) != 0 ? KW_ERR_NOT_FOUND : KW_ERR_IO;
		goto out;
	}
	sqlite3_extended_result_codes(db->db, 1);
	(void)sqlite3_db_config(db->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	(void)sqlite3_db_config(db->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if ((rc = sqlite3_busy_timeout(db->db, AUDIT_BUSY_MS)) != SQLITE_OK) {
		r = map_rc(rc);
		goto out;
	}
	if (readonly) {
		if ((r = exec(db, "PRAGMA query_only = ON")) != 0 || (r = tables_exist(db)) != 0)
			goto out;
	} else {
		sqlite3_stmt *s = NULL;
		bool wal = false;

		if (sqlite3_prepare_v2(db->db, "PRAGMA journal_mode = WAL", -1, &s, NULL) !=
		    SQLITE_OK) {
			r = db_err(db);
			goto out;
		}
		if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
			wal = strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0;
		sqlite3_finalize(s);
		if (!wal) {
			r = KW_ERR_IO;
			goto out;
		}
		/* durable at COMMIT: the point of group commit is one fsync per batch */
		if ((r = exec(db, "PRAGMA synchronous = FULL")) != 0)
			goto out;
		if ((r = audit_db_begin(db)) != 0)
			goto out;
		if ((r = audit_db_end(db, exec(db, schema))) != 0)
			goto out;
		if ((r = prepare(db, "INSERT INTO audit_records (idx, at, kind, repository, resource,"
		    " decision, record, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		    &db->ins_record)) != 0 ||
		    (r = prepare(db, "INSERT INTO audit_nodes (level, idx, hash) VALUES (?, ?, ?)",
		    &db->ins_node)) != 0)
			goto out;
	}
	if ((r = prepare(db, "SELECT leaf_hash FROM audit_records WHERE idx = ?",
	    &db->get_leaf)) != 0 ||
	    (r = prepare(db, "SELECT hash FROM audit_nodes WHERE level = ? AND idx = ?",
	    &db->get_node)) != 0)
		goto out;
	*ret = db;    /* transferred */
	db = NULL;
	r = 0;
out:
	audit_db_close(db);
	return r;
}

int
audit_db_open_backend(const struct audit_backend *be, struct audit_db **ret)
{
	struct audit_db *db;

	if (be == NULL || ret == NULL || be->size == NULL || be->records == NULL ||
	    be->node == NULL || be->checkpoint_add == NULL || be->checkpoint == NULL ||
	    be->list == NULL || be->append == NULL)
		return KW_ERR_INVALID_ARG;
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return KW_ERR_NOMEM;
	db->has_be = true;
	db->be = *be;
	*ret = db;
	return 0;
}

const struct audit_backend *
audit_db_backend(const struct audit_db *db)
{
	return db != NULL && db->has_be ? &db->be : NULL;
}

void
audit_db_close(struct audit_db *db)
{
	if (db == NULL)
		return;
	if (db->has_be) {
		free(db);
		return;
	}
	sqlite3_finalize(db->ins_record);
	sqlite3_finalize(db->ins_node);
	sqlite3_finalize(db->get_leaf);
	sqlite3_finalize(db->get_node);
	(void)sqlite3_close_v2(db->db);
	free(db);
}

int
audit_db_begin(struct audit_db *db)
{
	return exec(db, "BEGIN IMMEDIATE");
}

int
audit_db_end(struct audit_db *db, int r)
{
	if (r == 0 && sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		r = db_err(db);
	if (r != 0 && !sqlite3_get_autocommit(db->db))
		(void)sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/* Step a write statement once and reset it. */
static int
step_done(struct audit_db *db, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s), r = rc == SQLITE_DONE ? 0 : db_err(db);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return r;
}

static int
bind_text_or_null(sqlite3_stmt *s, int col, const char *t)
{
	return t == NULL ? sqlite3_bind_null(s, col) :
	    sqlite3_bind_text(s, col, t, -1, SQLITE_TRANSIENT);
}

int
audit_db_insert_record(struct audit_db *db, uint64_t index, int64_t at, enum audit_kind kind,
    const char *repository, const char *resource, const char *decision, const char *record,
    size_t len, const uint8_t leaf[static AUDIT_HASH_LEN])
{
	sqlite3_stmt *s;
	sqlite3_int64 idx;

	if (db == NULL || db->ins_record == NULL || record == NULL || len > AUDIT_RECORD_MAX ||
	    audit_kind_name(kind) == NULL || int64_of(index, &idx) != 0)
		return KW_ERR_INVALID_ARG;
	s = db->ins_record;
	if (sqlite3_bind_int64(s, 1, idx) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, at) != SQLITE_OK ||
	    sqlite3_bind_text(s, 3, audit_kind_name(kind), -1, SQLITE_STATIC) != SQLITE_OK ||
	    bind_text_or_null(s, 4, repository) != SQLITE_OK ||
	    bind_text_or_null(s, 5, resource) != SQLITE_OK ||
	    bind_text_or_null(s, 6, decision) != SQLITE_OK ||
	    sqlite3_bind_text(s, 7, record, (int)len, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 8, leaf, AUDIT_HASH_LEN, SQLITE_TRANSIENT) != SQLITE_OK) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return db_err(db);
	}
	return step_done(db, s);
}

int
audit_db_insert_node(struct audit_db *db, unsigned int level, uint64_t idx,
    const uint8_t hash[static AUDIT_HASH_LEN])
{
	sqlite3_stmt *s;
	sqlite3_int64 i;

	if (db == NULL || db->ins_node == NULL || level < 1 || level > 63 || int64_of(idx, &i) != 0)
		return KW_ERR_INVALID_ARG;
	s = db->ins_node;
	if (sqlite3_bind_int(s, 1, (int)level) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, i) != SQLITE_OK ||
	    sqlite3_bind_blob(s, 3, hash, AUDIT_HASH_LEN, SQLITE_TRANSIENT) != SQLITE_OK) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return db_err(db);
	}
	return step_done(db, s);
}

/* The 32-byte blob of the one row of s (reset here); KW_ERR_NOT_FOUND without one. */
static int
hash_row(struct audit_db *db, sqlite3_stmt *s, uint8_t out[static AUDIT_HASH_LEN])
{
	int rc = sqlite3_step(s), r;

	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) == AUDIT_HASH_LEN &&
		    sqlite3_column_blob(s, 0) != NULL) {
			memcpy(out, sqlite3_column_blob(s, 0), AUDIT_HASH_LEN);
			r = 0;
		} else {
			r = KW_ERR_INVALID_FORMAT;
		}
	} else {
		r = rc == SQLITE_DONE ? KW_ERR_NOT_FOUND : db_err(db);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return r;
}

static int
node_get(void *arg, unsigned int level, uint64_t idx, uint8_t out[static AUDIT_HASH_LEN])
{
	struct audit_db *db = arg;
	sqlite3_stmt *s = level == 0 ? db->get_leaf : db->get_node;
	sqlite3_int64 i;

	if (level > 63 || int64_of(idx, &i) != 0)
		return KW_ERR_NOT_FOUND;
	if (db->has_be)
		return db->be.node(db->be.arg, level, idx, out);
	if (level == 0) {
		if (sqlite3_bind_int64(s, 1, i) != SQLITE_OK)
			return db_err(db);
	} else if (sqlite3_bind_int(s, 1, (int)level) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, i) != SQLITE_OK) {
		sqlite3_reset(s);
		return db_err(db);
	}
	return hash_row(db, s, out);
}

void
audit_db_nodes(struct audit_db *db, struct audit_nodes *ret)
{
	ret->get = node_get;
	ret->arg = db;
}

int
audit_db_size(struct audit_db *db, uint64_t *ret)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	if (db == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if (db->has_be)
		return db->be.size(db->be.arg, ret);
	if (sqlite3_prepare_v2(db->db, "SELECT coalesce(max(idx), -1) + 1 FROM audit_records", -1,
	    &s, NULL) != SQLITE_OK)
		return db_err(db);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*ret = (uint64_t)sqlite3_column_int64(s, 0);
		r = 0;
	} else {
		r = db_err(db);
	}
	sqlite3_finalize(s);
	return r;
}

int
audit_db_load_head(struct audit_db *db, struct audit_frontier *ret_f,
    uint8_t ret_last[static AUDIT_HASH_LEN])
{
	struct audit_frontier f;
	uint8_t last[AUDIT_HASH_LEN] = { 0 };
	uint64_t size = 0, off = 0;
	int r;

	if ((r = audit_db_size(db, &size)) != 0)
		return r;
	audit_frontier_init(&f);
	for (int level = 62; level >= 0; level--) {
		if (!((size >> level) & 1))
			continue;
		if ((r = node_get(db, (unsigned int)level, off >> level, f.hash[f.n])) != 0)
			return r == KW_ERR_NOT_FOUND ? KW_ERR_INVALID_FORMAT : r;
		f.n++;
		off += UINT64_C(1) << level;
	}
	f.size = size;
	if (size > 0 && (r = node_get(db, 0, size - 1, last)) != 0)
		return r;
	*ret_f = f;
	memcpy(ret_last, last, sizeof(last));
	return 0;
}

int
audit_db_root(struct audit_db *db, uint64_t size, uint8_t out[static AUDIT_HASH_LEN])
{
	struct audit_nodes src;
	uint64_t n = 0;
	int r;

	if (db == NULL)
		return KW_ERR_INVALID_ARG;
	if ((r = audit_db_size(db, &n)) != 0)
		return r;
	if (size > n)
		return KW_ERR_INVALID_ARG;
	audit_db_nodes(db, &src);
	return audit_tree_root(&src, size, out);
}

struct one_record {
	bool found;
	char *rec;
	size_t len;
};

static int
one_record_fn(void *ctx, uint64_t index, const char *rec, size_t len)
{
	struct one_record *o = ctx;

	(void)index;
	if (o->found || len > AUDIT_RECORD_MAX)
		return KW_ERR_INVALID_FORMAT;
	if ((o->rec = malloc(len + 1)) == NULL)
		return KW_ERR_NOMEM;
	memcpy(o->rec, rec, len);
	o->rec[len] = '\0';
	o->len = len;
	o->found = true;
	return 0;
}

int
audit_db_record(struct audit_db *db, uint64_t index, char **ret, size_t *ret_len)
{
	sqlite3_stmt *s = NULL;
	sqlite3_int64 i;
	int r, rc;

	if (db == NULL || ret == NULL || ret_len == NULL || int64_of(index, &i) != 0)
		return KW_ERR_INVALID_ARG;
	if (db->has_be) {
		struct one_record one = { .found = false };

		if ((r = db->be.records(db->be.arg, index, index + 1, one_record_fn, &one)) != 0) {
			free(one.rec);
			return r;
		}
		if (!one.found)
			return KW_ERR_NOT_FOUND;
		*ret = one.rec;    /* transferred */
		*ret_len = one.len;
		return 0;
	}
	if (sqlite3_prepare_v2(db->db, "SELECT record FROM audit_records WHERE idx = ?", -1, &s,
	    NULL) != SQLITE_OK)
		return db_err(db);
	if (sqlite3_bind_int64(s, 1, i) != SQLITE_OK) {
		r = db_err(db);
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		int n = sqlite3_column_bytes(s, 0);
		char *c;

		if (t == NULL || n < 0 || (size_t)n > AUDIT_RECORD_MAX) {
			r = KW_ERR_INVALID_FORMAT;
			goto out;
		}
		if ((c = malloc((size_t)n + 1)) == NULL) {
			r = KW_ERR_NOMEM;
			goto out;
		}
		memcpy(c, t, (size_t)n);
		c[n] = '\0';
		*ret = c;    /* transferred */
		*ret_len = (size_t)n;
		r = 0;
	} else {
		r = rc == SQLITE_DONE ? KW_ERR_NOT_FOUND : db_err(db);
	}
out:
	sqlite3_finalize(s);
	return r;
}

int
audit_db_checkpoint_add(struct audit_db *db, uint64_t size, int64_t at, const char *note)
{
	sqlite3_stmt *s = NULL;
	sqlite3_int64 sz;
	uint64_t n = 0;
	int r;

	if (db == NULL || note == NULL || strnlen(note, AUDIT_NOTE_MAX + 1) > AUDIT_NOTE_MAX ||
	    int64_of(size, &sz) != 0)
		return KW_ERR_INVALID_ARG;
	if ((r = audit_db_size(db, &n)) != 0)
		return r;
	if (size > n)
		return KW_ERR_INVALID_ARG;
	if (db->has_be)
		return db->be.checkpoint_add(db->be.arg, size, at, note);
	if (sqlite3_prepare_v2(db->db, "INSERT INTO audit_checkpoints (size, at, note)"
	    " VALUES (?, ?, ?)", -1, &s, NULL) != SQLITE_OK)
		return db_err(db);
	if (sqlite3_bind_int64(s, 1, sz) != SQLITE_OK || sqlite3_bind_int64(s, 2, at) != SQLITE_OK ||
	    sqlite3_bind_text(s, 3, note, -1, SQLITE_TRANSIENT) != SQLITE_OK)
		r = db_err(db);
	else
		r = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(db);
	sqlite3_finalize(s);
	return r;
}

/* The note of the first row sql gives (its ?1 bound to min when min >= 0). */
static int
checkpoint_note(struct audit_db *db, const char *sql, sqlite3_int64 min, char **ret)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	if (sqlite3_prepare_v2(db->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_err(db);
	if (min >= 0 && sqlite3_bind_int64(s, 1, min) != SQLITE_OK) {
		r = db_err(db);
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL) {
		char *c = strdup((const char *)sqlite3_column_text(s, 0));

		r = c == NULL ? KW_ERR_NOMEM : 0;
		if (c != NULL)
			*ret = c;
	} else {
		r = rc == SQLITE_DONE || rc == SQLITE_ROW ? KW_ERR_NOT_FOUND : db_err(db);
	}
out:
	sqlite3_finalize(s);
	return r;
}

int
audit_db_checkpoint_latest(struct audit_db *db, char **ret)
{
	if (db == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if (db->has_be)
		return db->be.checkpoint(db->be.arg, AUDIT_CP_LATEST, 0, ret, NULL);
	return checkpoint_note(db, "SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
	    -1, ret);
}

int
audit_db_checkpoint_covering(struct audit_db *db, uint64_t size, char **ret)
{
	sqlite3_int64 sz;

	if (db == NULL || ret == NULL || int64_of(size, &sz) != 0)
		return KW_ERR_INVALID_ARG;
	if (db->has_be)
		return db->be.checkpoint(db->be.arg, AUDIT_CP_COVERING, size, ret, NULL);
	return checkpoint_note(db, "SELECT note FROM audit_checkpoints WHERE size >= ?1"
	    " ORDER BY size LIMIT 1", sz, ret);
}

int
audit_db_checkpoint_first_at(struct audit_db *db, int64_t *ret)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	if (db == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if (db->has_be)
		return db->be.checkpoint(db->be.arg, AUDIT_CP_FIRST_AT, 0, NULL, ret);
	if (sqlite3_prepare_v2(db->db, "SELECT MIN(at) FROM audit_checkpoints", -1, &s, NULL) !=
	    SQLITE_OK)
		return db_err(db);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_INTEGER) {
		*ret = sqlite3_column_int64(s, 0);
		r = 0;
	} else {
		r = rc == SQLITE_ROW || rc == SQLITE_DONE ? KW_ERR_NOT_FOUND : db_err(db);
	}
	sqlite3_finalize(s);
	return r;
}

struct export_ctx {
	FILE *f;
	uint64_t next;
};

static int
export_fn(void *ctx, uint64_t index, const char *rec, size_t len)
{
	struct export_ctx *x = ctx;

	if (index != x->next || memchr(rec, '\n', len) != NULL)
		return KW_ERR_INVALID_FORMAT;
	if (fwrite(rec, 1, len, x->f) != len || fputc('\n', x->f) == EOF)
		return KW_ERR_IO;
	x->next++;
	return 0;
}

int
audit_db_export(struct audit_db *db, uint64_t from, uint64_t to, FILE *f)
{
	sqlite3_stmt *s = NULL;
	sqlite3_int64 a, b;
	int r = 0, rc;

	if (db == NULL || f == NULL || from > to || int64_of(from, &a) != 0 ||
	    int64_of(to, &b) != 0)
		return KW_ERR_INVALID_ARG;
	if (db->has_be) {
		struct export_ctx x = { .f = f, .next = from };

		/* in chunks (the backend returns at most 1000 per call) */
		while (x.next < to) {
			uint64_t start = x.next;

			if ((r = db->be.records(db->be.arg, start, to, export_fn, &x)) != 0)
				return r;
			if (x.next == start)
				break;    /* past the end of the log: as SQLite, what exists */
		}
		return 0;
	}
	if (sqlite3_prepare_v2(db->db, "SELECT record FROM audit_records WHERE idx >= ? AND idx < ?"
	    " ORDER BY idx", -1, &s, NULL) != SQLITE_OK)
		return db_err(db);
	if (sqlite3_bind_int64(s, 1, a) != SQLITE_OK || sqlite3_bind_int64(s, 2, b) != SQLITE_OK) {
		r = db_err(db);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		int n = sqlite3_column_bytes(s, 0);

		if (t == NULL || n < 0 || memchr(t, '\n', (size_t)n) != NULL) {
			r = KW_ERR_INVALID_FORMAT;
			goto out;
		}
		if (fwrite(t, 1, (size_t)n, f) != (size_t)n || fputc('\n', f) == EOF) {
			r = KW_ERR_IO;
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		r = db_err(db);
out:
	sqlite3_finalize(s);
	return r;
}

int
audit_db_list(struct audit_db *db, const struct audit_filter *f, uint64_t start, size_t limit,
    json_t **ret, uint64_t *ret_next)
{
	static const char sql[] =
	    "SELECT idx, record FROM audit_records WHERE idx >= ?1"
	    " AND (?2 IS NULL OR at >= ?2) AND (?3 IS NULL OR at < ?3)"
	    " AND (?4 IS NULL OR repository = ?4) AND (?5 IS NULL OR resource = ?5)"
	    " AND (?6 IS NULL OR kind = ?6) AND (?7 IS NULL OR decision = ?7)"
	    " ORDER BY idx LIMIT ?8";
	const char *texts[4] = { f->repository, f->resource, f->kind, f->decision };
	sqlite3_stmt *s = NULL;
	sqlite3_int64 st;
	json_t *out = NULL;
	uint64_t next = 0;
	size_t n = 0;
	int r, rc;

	if (db == NULL || f == NULL || ret == NULL || ret_next == NULL || limit == 0 ||
	    limit > 10000 || int64_of(start, &st) != 0)
		return KW_ERR_INVALID_ARG;
	if (db->has_be)
		return db->be.list(db->be.arg, f, start, limit, ret, ret_next);
	if (sqlite3_prepare_v2(db->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_err(db);
	rc = sqlite3_bind_int64(s, 1, st);
	if (rc == SQLITE_OK && f->since >= 0)
		rc = sqlite3_bind_int64(s, 2, f->since);
	if (rc == SQLITE_OK && f->until >= 0)
		rc = sqlite3_bind_int64(s, 3, f->until);
	for (int i = 0; i < 4 && rc == SQLITE_OK; i++)
		if (texts[i] != NULL)
			rc = sqlite3_bind_text(s, 4 + i, texts[i], -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 8, (sqlite3_int64)limit);
	if (rc != SQLITE_OK || (out = json_array()) == NULL) {
		r = rc != SQLITE_OK ? db_err(db) : KW_ERR_NOMEM;
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 1);
		int len = sqlite3_column_bytes(s, 1);
		json_t *rec = NULL;

		if (t == NULL || len < 0 || (size_t)len > AUDIT_RECORD_MAX ||
		    (rec = json_loadb(t, (size_t)len, JSON_REJECT_DUPLICATES, NULL)) == NULL) {
			r = KW_ERR_INVALID_FORMAT;
			goto out;
		}
		if (json_array_append_new(out, rec) != 0) {
			r = KW_ERR_NOMEM;
			goto out;
		}
		next = (uint64_t)sqlite3_column_int64(s, 0) + 1;
		n++;
	}
	if (rc != SQLITE_DONE) {
		r = db_err(db);
		goto out;
	}
	*ret = out;
	*ret_next = n == limit ? next : 0;
	out = NULL;
	r = 0;
out:
	json_decref(out);
	sqlite3_finalize(s);
	return r;
}
