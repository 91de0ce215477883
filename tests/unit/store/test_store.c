/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store: the SQLite store on real files in a temporary directory; with
 * KW_TEST_PG_CONNINFO set (tests/integration/kwpg.py run ...: meson test
 * store-pg), the same backend-neutral cases plus PostgreSQL's own against a
 * throwaway cluster, each test in a schema of its own (search_path).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_helper.h"
#include <libpq-fe.h>
#include <sqlite3.h>

#include "audit.h"
#include "kw_json.h"
#include "kw_name.h"
#include "store.h"

#define T0 1800000000LL


/* A fresh database path per test. */
static const char *
db_path(const char *name)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s.db", test_tmpdir(), name);
	return p;
}

/* PostgreSQL: the base connection string, or NULL (SQLite). */
static const char *pg_base;

/* The connection string of test schema "kwt_<name>" (static buffer). */
static const char *
pg_info(const char *name)
{
	static char p[2048];

	snprintf(p, sizeof(p), "%s options='-c search_path=kwt_%s'", pg_base, name);
	return p;
}

/* Run constant SQL on c: 0, or 1 with the server's message in err. */
static int
pg_exec(PGconn *c, const char *sql, char *err, size_t n)
{
	PGresult *res = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(res);
	int r = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : 1;

	if (err != NULL)
		snprintf(err, n, "%s", r == 0 ? "" : PQresultErrorMessage(res));
	PQclear(res);
	return r;
}

static PGconn *
pg_raw(const char *info)
{
	PGconn *c = PQconnectdb(info);

	CU_ASSERT_FATAL(c != NULL && PQstatus(c) == CONNECTION_OK);
	CU_ASSERT_FATAL(pg_exec(c, "SET client_min_messages = warning", NULL, 0) == 0);
	return c;
}

/* A new empty schema kwt_<name> (dropped first when a previous run left it). */
static void
pg_fresh_schema(const char *name)
{
	PGconn *c = pg_raw(pg_base);
	char sql[256];

	snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS kwt_%s CASCADE", name);
	CU_ASSERT_FATAL(pg_exec(c, sql, NULL, 0) == 0);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA kwt_%s", name);
	CU_ASSERT_FATAL(pg_exec(c, sql, NULL, 0) == 0);
	PQfinish(c);
}

static struct kw_store *
open_fresh(const char *name)
{
	struct kw_store *st = NULL;

	if (pg_base != NULL) {
		pg_fresh_schema(name);
		CU_ASSERT_FATAL(kw_store_open_pg(pg_info(name), 4, &st) == 0);
		CU_ASSERT_FATAL(kw_store_is_shared(st));
	} else {
		CU_ASSERT_FATAL(kw_store_open(db_path(name), &st) == 0);
		CU_ASSERT_FATAL(!kw_store_is_shared(st));
	}
	CU_ASSERT_FATAL(st != NULL);
	return st;
}

static sqlite3 *
raw_open(const char *path)
{
	sqlite3 *db = NULL;

	CU_ASSERT_FATAL(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

/* First column of the first row as text (static buffer), "" without rows. */
static const char *
raw_text(sqlite3 *db, const char *sql)
{
	static char buf[4096];
	sqlite3_stmt *s = NULL;

	buf[0] = '\0';
	CU_ASSERT_FATAL(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
		snprintf(buf, sizeof(buf), "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return buf;
}

/* raw_text on the store of test name, whichever the backend (static buffer). */
static const char *
raw_text_of(const char *name, const char *sql)
{
	static char buf[4096];

	buf[0] = '\0';
	if (pg_base != NULL) {
		PGconn *c = pg_raw(pg_info(name));
		PGresult *res = PQexec(c, sql);

		CU_ASSERT_FATAL(PQresultStatus(res) == PGRES_TUPLES_OK);
		if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
			snprintf(buf, sizeof(buf), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		PQfinish(c);
	} else {
		sqlite3 *db = raw_open(db_path(name));

		snprintf(buf, sizeof(buf), "%s", raw_text(db, sql));
		sqlite3_close(db);
	}
	return buf;
}

/* Run sql directly on the store of test name: 0, or 1 with the error message in err. */
static int
raw_exec_of(const char *name, const char *sql, char *err, size_t n)
{
	int r;

	if (pg_base != NULL) {
		PGconn *c = pg_raw(pg_info(name));

		r = pg_exec(c, sql, err, n);
		PQfinish(c);
	} else {
		sqlite3 *db = raw_open(db_path(name));

		r = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : 1;
		snprintf(err, n, "%s", r == 0 ? "" : sqlite3_errmsg(db));
		sqlite3_close(db);
	}
	return r;
}

static struct kw_key_spec
spec(const char *repo, const char *type, const char *tag)
{
	struct kw_key_spec s = { repo, type, tag, "aes-256", 32, NULL };

	return s;
}

/* Create a key and commit version 1. */
static void
make_key(struct kw_store *st, const char *repo, const char *type, const char *tag)
{
	struct kw_key_spec s = spec(repo, type, tag);
	char *label = NULL;

	CU_ASSERT_FATAL(kw_store_key_create(st, &s, "generated", T0, &label) == 0);
	CU_ASSERT_FATAL(kw_store_version_commit(st, label) == 0);
	free(label);
}

static void
test_names(void)
{
	char long64[65], long65[66];

	memset(long64, 'a', 64);
	long64[64] = '\0';
	memset(long65, 'a', 65);
	long65[65] = '\0';
	CU_ASSERT(kw_name_valid("repo"));
	CU_ASSERT(kw_name_valid("A-z_0.9"));
	CU_ASSERT(kw_name_valid("..."));
	CU_ASSERT(kw_name_valid(".hidden"));
	CU_ASSERT(kw_name_valid(long64));
	CU_ASSERT(!kw_name_valid(long65));
	CU_ASSERT(!kw_name_valid(""));
	CU_ASSERT(!kw_name_valid(NULL));
	CU_ASSERT(!kw_name_valid("."));
	CU_ASSERT(!kw_name_valid(".."));
	CU_ASSERT(!kw_name_valid("%2e"));
	CU_ASSERT(!kw_name_valid("%2e%2e"));
	CU_ASSERT(!kw_name_valid("a/b"));
	CU_ASSERT(!kw_name_valid("a b"));
	CU_ASSERT(!kw_name_valid("a\\b"));
	CU_ASSERT(!kw_name_valid("\xc3\xa9"));
}

static void
test_invalid_args(void)
{
	struct kw_store *st = open_fresh("invalid");
	const char *bad[] = { "..", ".", "%2e", "a/b", "", NULL };
	char long65[66], *label = NULL;
	json_t *j = NULL, *doc = json_pack("{s:i}", "a", 1);
	int v = 0;

	memset(long65, 'b', 65);
	long65[65] = '\0';
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + 1; i++) {
		const char *n = i < sizeof(bad) / sizeof(bad[0]) ? bad[i] : long65;
		struct kw_key_spec s1 = spec(n, "t", "g"), s2 = spec("r", n, "g"), s3 = spec("r", "t", n);
		struct kw_release_target t;

		CU_ASSERT_EQUAL(kw_store_key_create(st, &s1, "generated", T0, &label), KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_key_create(st, &s2, "generated", T0, &label), KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_key_create(st, &s3, "generated", T0, &label), KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_key_get(st, "r", n, "g", &j), KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_release_lookup(st, "r", "t", n, 0, &t), KW_ERR_INVALID_ARG);
		if (n != NULL)    /* NULL unbinds; a NULL repository is a global change */
			CU_ASSERT_EQUAL(kw_store_key_set_policy(st, "r", "t", "g", n),
			    KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_doc_put(st, "policy", n, "p", doc, 0, "me", T0, &v),
		    KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_doc_put(st, "policy", "r", n, doc, 0, "me", T0, &v),
		    KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_doc_get(st, "refval", "r", n, 0, &j), KW_ERR_INVALID_ARG);
		if (n != NULL && *n != '\0')    /* NULL and "" mean no repository */
			CU_ASSERT_EQUAL(kw_store_change_add(st, T0, "me", "x", n, NULL, "ok", NULL),
			    KW_ERR_INVALID_ARG);
	}
	{
		struct kw_key_spec s = spec("r", "t", "g");
		const struct { const char *alg; unsigned int len; int ok; } combos[] = {
			{ "aes-128", 16, 1 }, { "aes-128", 32, 0 }, { "aes-256", 32, 1 },
			{ "aes-256", 16, 0 }, { "secret", 1, 1 }, { "secret", 4096, 1 },
			{ "secret", 0, 0 }, { "secret", 4097, 0 }, { "AES-128", 16, 0 },
			{ "rsa", 256, 0 },
		};
		char tag[16];

		for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
			snprintf(tag, sizeof(tag), "g%zu", i);
			s.tag = tag;
			s.algorithm = combos[i].alg;
			s.length = combos[i].len;
			label = NULL;
			CU_ASSERT_EQUAL(kw_store_key_create(st, &s, "imported", T0, &label),
			    combos[i].ok ? 0 : KW_ERR_INVALID_ARG);
			CU_ASSERT_EQUAL(label != NULL, combos[i].ok);
			free(label);
		}
		s = spec("r", "t", "o");
		CU_ASSERT_EQUAL(kw_store_key_create(st, &s, "stolen", T0, &label), KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_key_create(st, &s, NULL, T0, &label), KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_key_set_state(st, "r", "t", "g0", "deleting"),
		    KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_key_set_state(st, "r", "t", "g0", "pending"),
		    KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_version_set_state(st, "r", "t", "g0", 1, "pending"),
		    KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_version_set_state(st, "r", "t", "g0", 0, "enabled"),
		    KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_version_commit(st, "not-a-label"), KW_ERR_INVALID_ARG);
	}
	{
		json_t *arr = json_array();

		CU_ASSERT_EQUAL(kw_store_doc_put(st, "rule", "r", "p", doc, 0, "me", T0, &v),
		    KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_doc_put(st, "policy", "r", "p", arr, 0, "me", T0, &v),
		    KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_doc_put(st, "policy", "r", "p", doc, 0, NULL, T0, &v),
		    KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_change_add(st, T0, "me", "x", "r", NULL, "maybe", NULL),
		    KW_ERR_INVALID_ARG);
		CU_ASSERT_EQUAL(kw_store_change_add(st, T0, NULL, "x", "r", NULL, "ok", NULL),
		    KW_ERR_INVALID_ARG);
		json_decref(arr);
	}
	/* nothing was written by the refused calls (beyond the valid combos) */
	CU_ASSERT_FATAL(kw_store_key_list(st, NULL, &j) == 0);
	CU_ASSERT_EQUAL(json_array_size(j), 4);
	json_decref(j);
	CU_ASSERT_FATAL(kw_store_changes(st, NULL, 0, 100, &j) == 0);
	CU_ASSERT_EQUAL(json_array_size(j), 0);
	json_decref(j);
	json_decref(doc);
	kw_store_close(st);
}

static void
test_create_commit_abort(void)
{
	struct kw_store *st = open_fresh("create");
	struct kw_key_spec s = spec("repo", "type", "tag");
	struct kw_release_target t;
	char *label = NULL, *l2 = NULL;
	json_t *k = NULL, *vs;

	s.policy = "pol";
	CU_ASSERT_FATAL(kw_store_key_create(st, &s, "generated", T0, &label) == 0);
	CU_ASSERT_STRING_EQUAL(label, "kw-key/repo/type/tag/v1");
	CU_ASSERT_FATAL(kw_store_key_get(st, "repo", "type", "tag", &k) == 0);
	CU_ASSERT_EQUAL(json_object_size(k), 9);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(k, "repository")), "repo");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(k, "type")), "type");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(k, "tag")), "tag");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(k, "algorithm")), "aes-256");
	CU_ASSERT(json_is_integer(json_object_get(k, "length")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(k, "length")), 32);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(k, "policy")), "pol");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(k, "state")), "enabled");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(k, "created")), T0);
	vs = json_object_get(k, "versions");
	CU_ASSERT_FATAL(json_array_size(vs) == 1);
	CU_ASSERT_EQUAL(json_object_size(json_array_get(vs, 0)), 4);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(vs, 0), "version")), 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(vs, 0), "state")),
	    "pending");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(vs, 0), "origin")),
	    "generated");
	json_decref(k);
	/* pending is never served */
	CU_ASSERT_EQUAL(kw_store_release_lookup(st, "repo", "type", "tag", 0, &t), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(kw_store_release_lookup(st, "repo", "type", "tag", 1, &t), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(kw_store_version_commit(st, label), 0);
	CU_ASSERT_EQUAL(kw_store_version_commit(st, label), KW_ERR_DENIED);
	CU_ASSERT_EQUAL(kw_store_version_abort(st, label), KW_ERR_DENIED);
	CU_ASSERT_EQUAL(kw_store_version_commit(st, "kw-key/repo/type/tag/v9"), KW_ERR_NOT_FOUND);
	memset(&t, 0x55, sizeof(t));
	CU_ASSERT_FATAL(kw_store_release_lookup(st, "repo", "type", "tag", 0, &t) == 0);
	CU_ASSERT_STRING_EQUAL(t.label, label);
	CU_ASSERT_EQUAL(t.version, 1);
	CU_ASSERT_STRING_EQUAL(t.algorithm, "aes-256");
	CU_ASSERT_EQUAL(t.length, 32);
	CU_ASSERT_STRING_EQUAL(t.policy, "pol");
	free(label);

	/* abort of the only version removes the key */
	s = spec("repo", "type", "gone");
	s.algorithm = "secret";
	s.length = 100;
	CU_ASSERT_FATAL(kw_store_key_create(st, &s, "imported", T0, &label) == 0);
	CU_ASSERT_EQUAL(kw_store_version_abort(st, label), 0);
	CU_ASSERT_EQUAL(kw_store_key_get(st, "repo", "type", "gone", &k), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(kw_store_version_abort(st, label), KW_ERR_NOT_FOUND);
	free(label);

	/* abort of a later version keeps the key and its other versions */
	int v = 0;
	CU_ASSERT_FATAL(kw_store_version_add(st, "repo", "type", "tag", "imported", T0 + 1, &v,
	    &l2) == 0);
	CU_ASSERT_EQUAL(v, 2);
	CU_ASSERT_STRING_EQUAL(l2, "kw-key/repo/type/tag/v2");
	CU_ASSERT_EQUAL(kw_store_version_abort(st, l2), 0);
	CU_ASSERT_FATAL(kw_store_key_get(st, "repo", "type", "tag", &k) == 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(k, "versions")), 1);
	json_decref(k);
	free(l2);
	kw_store_close(st);
}

static void
test_duplicates(void)
{
	struct kw_store *st = open_fresh("dup");
	struct kw_key_spec s = spec("r", "t", "g");
	char *label = NULL;
	json_t *labels = NULL;

	make_key(st, "r", "t", "g");
	CU_ASSERT_EQUAL(kw_store_key_create(st, &s, "generated", T0, &label), KW_ERR_EXISTS);
	CU_ASSERT_PTR_NULL(label);
	s.algorithm = "aes-128";
	s.length = 16;
	CU_ASSERT_EQUAL(kw_store_key_create(st, &s, "imported", T0, &label), KW_ERR_EXISTS);
	CU_ASSERT_EQUAL(kw_store_key_set_state(st, "r", "t", "g", "disabled"), 0);
	CU_ASSERT_EQUAL(kw_store_key_create(st, &s, "imported", T0, &label), KW_ERR_EXISTS);
	CU_ASSERT_FATAL(kw_store_key_delete_begin(st, "r", "t", "g", &labels) == 0);
	CU_ASSERT_EQUAL(kw_store_key_create(st, &s, "imported", T0, &label), KW_ERR_EXISTS);
	json_decref(labels);
	/* same names in another path position are distinct keys */
	s = spec("r", "g", "t");
	CU_ASSERT_EQUAL(kw_store_key_create(st, &s, "imported", T0, &label), 0);
	free(label);
	kw_store_close(st);
}

static void
test_versions_and_lookup(void)
{
	struct kw_store *st = open_fresh("versions");
	struct kw_release_target t;
	char *label = NULL;
	int v = 0;
	json_t *k = NULL;

	make_key(st, "r", "t", "g");
	for (int i = 2; i <= 4; i++) {
		CU_ASSERT_FATAL(kw_store_version_add(st, "r", "t", "g", "generated", T0 + i, &v,
		    &label) == 0);
		CU_ASSERT_EQUAL(v, i);
		if (i < 4)
			CU_ASSERT_EQUAL(kw_store_version_commit(st, label), 0);
		free(label);
	}
	/* v4 pending: newest enabled is v3 */
	CU_ASSERT_FATAL(kw_store_release_lookup(st, "r", "t", "g", 0, &t) == 0);
	CU_ASSERT_EQUAL(t.version, 3);
	CU_ASSERT_STRING_EQUAL(t.label, "kw-key/r/t/g/v3");
	CU_ASSERT_STRING_EQUAL(t.policy, "");
	CU_ASSERT_EQUAL(kw_store_release_lookup(st, "r", "t", "g", 4, &t), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(kw_store_release_lookup(st, "r", "t", "g", 5, &t), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(kw_store_version_set_state(st, "r", "t", "g", 4, "enabled"), KW_ERR_DENIED);
	CU_ASSERT_EQUAL(kw_store_version_set_state(st, "r", "t", "g", 9, "enabled"),
	    KW_ERR_NOT_FOUND);
	/* disable v3: newest enabled is v2; v3 by name refused */
	CU_ASSERT_EQUAL(kw_store_version_set_state(st, "r", "t", "g", 3, "disabled"), 0);
	CU_ASSERT_FATAL(kw_store_release_lookup(st, "r", "t", "g", 0, &t) == 0);
	CU_ASSERT_EQUAL(t.version, 2);
	CU_ASSERT_EQUAL(kw_store_release_lookup(st, "r", "t", "g", 3, &t), KW_ERR_NOT_FOUND);
	CU_ASSERT_FATAL(kw_store_release_lookup(st, "r", "t", "g", 1, &t) == 0);
	CU_ASSERT_EQUAL(t.version, 1);
	CU_ASSERT_STRING_EQUAL(t.label, "kw-key/r/t/g/v1");
	/* key disabled: nothing served, not even a named enabled version */
	CU_ASSERT_EQUAL(kw_store_key_set_state(st, "r", "t", "g", "disabled"), 0);
	CU_ASSERT_EQUAL(kw_store_release_lookup(st, "r", "t", "g", 0, &t), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(kw_store_release_lookup(st, "r", "t", "g", 1, &t), KW_ERR_NOT_FOUND);
	/* a disabled key still gets versions */
	CU_ASSERT_EQUAL(kw_store_version_add(st, "r", "t", "g", "imported", T0, &v, &label), 0);
	CU_ASSERT_EQUAL(v, 5);
	CU_ASSERT_EQUAL(kw_store_version_commit(st, label), 0);
	free(label);
	CU_ASSERT_EQUAL(kw_store_key_set_state(st, "r", "t", "g", "enabled"), 0);
	CU_ASSERT_FATAL(kw_store_release_lookup(st, "r", "t", "g", 0, &t) == 0);
	CU_ASSERT_EQUAL(t.version, 5);
	CU_ASSERT_EQUAL(kw_store_version_set_state(st, "r", "t", "g", 3, "enabled"), 0);
	CU_ASSERT_FATAL(kw_store_release_lookup(st, "r", "t", "g", 3, &t) == 0);
	CU_ASSERT_EQUAL(t.version, 3);
	/* versions listed ascending with their states */
	CU_ASSERT_FATAL(kw_store_key_get(st, "r", "t", "g", &k) == 0);
	{
		json_t *vs = json_object_get(k, "versions");
		const char *want[] = { "enabled", "enabled", "enabled", "pending", "enabled" };

		CU_ASSERT_FATAL(json_array_size(vs) == 5);
		for (size_t i = 0; i < 5; i++) {
			json_t *e = json_array_get(vs, i);

			CU_ASSERT_EQUAL(json_integer_value(json_object_get(e, "version")), (int)i + 1);
			CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "state")), want[i]);
		}
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(vs, 4),
		    "origin")), "imported");
	}
	json_decref(k);
	CU_ASSERT_EQUAL(kw_store_version_add(st, "r", "t", "nokey", "generated", T0, &v, &label),
	    KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(kw_store_key_set_state(st, "r", "t", "nokey", "enabled"), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(kw_store_release_lookup(st, "r", "t", "nokey", 0, &t), KW_ERR_NOT_FOUND);
	kw_store_close(st);
}

static void
test_delete(void)
{
	struct kw_store *st = open_fresh("delete");
	struct kw_key_spec s = spec("r", "t", "g");
	struct kw_release_target t;
	json_t *labels = NULL, *again = NULL, *k = NULL, *all = NULL;
	char *label = NULL;
	int v = 0;

	make_key(st, "r", "t", "g");
	make_key(st, "r", "t", "keep");
	CU_ASSERT_FATAL(kw_store_version_add(st, "r", "t", "g", "generated", T0, &v, &label) == 0);
	free(label);
	CU_ASSERT_EQUAL(kw_store_key_delete_finish(st, "r", "t", "g"), KW_ERR_DENIED);
	CU_ASSERT_FATAL(kw_store_key_delete_begin(st, "r", "t", "g", &labels) == 0);
	CU_ASSERT_FATAL(json_array_size(labels) == 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(labels, 0)), "kw-key/r/t/g/v1");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(labels, 1)), "kw-key/r/t/g/v2");
	/* deleting: not served, no changes allowed, begin again returns the same labels */
	CU_ASSERT_EQUAL(kw_store_release_lookup(st, "r", "t", "g", 0, &t), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(kw_store_key_set_state(st, "r", "t", "g", "enabled"), KW_ERR_DENIED);
	CU_ASSERT_EQUAL(kw_store_version_set_state(st, "r", "t", "g", 1, "enabled"), KW_ERR_DENIED);
	CU_ASSERT_EQUAL(kw_store_key_set_policy(st, "r", "t", "g", "p"), KW_ERR_DENIED);
	CU_ASSERT_EQUAL(kw_store_version_add(st, "r", "t", "g", "generated", T0, &v, &label),
	    KW_ERR_DENIED);
	CU_ASSERT_EQUAL(kw_store_version_commit(st, "kw-key/r/t/g/v2"), KW_ERR_DENIED);
	CU_ASSERT_FATAL(kw_store_key_get(st, "r", "t", "g", &k) == 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(k, "state")), "deleting");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(
	    json_object_get(k, "versions"), 1), "state")), "deleting");
	json_decref(k);
	CU_ASSERT_FATAL(kw_store_all_versions(st, &all) == 0);
	CU_ASSERT_FATAL(json_array_size(all) == 3);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(all, 0), "label")),
	    "kw-key/r/t/g/v1");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(all, 0), "state")),
	    "deleting");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(all, 0),
	    "key_state")), "deleting");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(all, 2), "label")),
	    "kw-key/r/t/keep/v1");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(all, 2), "state")),
	    "enabled");
	json_decref(all);
	CU_ASSERT_FATAL(kw_store_key_delete_begin(st, "r", "t", "g", &again) == 0);
	CU_ASSERT(json_equal(labels, again));
	json_decref(again);
	json_decref(labels);
	CU_ASSERT_EQUAL(kw_store_key_delete_finish(st, "r", "t", "g"), 0);
	CU_ASSERT_EQUAL(kw_store_key_get(st, "r", "t", "g", &k), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(kw_store_key_delete_finish(st, "r", "t", "g"), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(kw_store_key_delete_begin(st, "r", "t", "g", &labels), KW_ERR_NOT_FOUND);
	CU_ASSERT_FATAL(kw_store_all_versions(st, &all) == 0);
	CU_ASSERT_EQUAL(json_array_size(all), 1);
	json_decref(all);
	/* the path can be reused */
	CU_ASSERT_EQUAL(kw_store_key_create(st, &s, "generated", T0, &label), 0);
	CU_ASSERT_STRING_EQUAL(label, "kw-key/r/t/g/v1");
	free(label);
	kw_store_close(st);
}

static void
test_policy_binding(void)
{
	struct kw_store *st = open_fresh("policy");
	struct kw_release_target t;
	json_t *k = NULL;

	make_key(st, "r", "t", "g");
	CU_ASSERT_FATAL(kw_store_key_get(st, "r", "t", "g", &k) == 0);
	CU_ASSERT(json_is_null(json_object_get(k, "policy")));
	json_decref(k);
	CU_ASSERT_EQUAL(kw_store_key_set_policy(st, "r", "t", "g", "not-yet-written"), 0);
	CU_ASSERT_FATAL(kw_store_key_get(st, "r", "t", "g", &k) == 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(k, "policy")), "not-yet-written");
	json_decref(k);
	CU_ASSERT_FATAL(kw_store_release_lookup(st, "r", "t", "g", 0, &t) == 0);
	CU_ASSERT_STRING_EQUAL(t.policy, "not-yet-written");
	CU_ASSERT_EQUAL(kw_store_key_set_policy(st, "r", "t", "g", NULL), 0);
	CU_ASSERT_FATAL(kw_store_key_get(st, "r", "t", "g", &k) == 0);
	CU_ASSERT(json_is_null(json_object_get(k, "policy")));
	json_decref(k);
	CU_ASSERT_FATAL(kw_store_release_lookup(st, "r", "t", "g", 0, &t) == 0);
	CU_ASSERT_STRING_EQUAL(t.policy, "");
	CU_ASSERT_EQUAL(kw_store_key_set_policy(st, "r", "t", "x", "p"), KW_ERR_NOT_FOUND);
	kw_store_close(st);
}

static void
test_key_list(void)
{
	struct kw_store *st = open_fresh("list");
	json_t *l = NULL;
	const char *want[] = { "a/t.x/g", "a/t/g", "a/t/h", "b/t/g" };

	/* path order: "a/t.x/g" < "a/t/g" because '.' < '/' */
	make_key(st, "b", "t", "g");
	make_key(st, "a", "t", "h");
	make_key(st, "a", "t", "g");
	make_key(st, "a", "t.x", "g");
	CU_ASSERT_FATAL(kw_store_key_list(st, NULL, &l) == 0);
	CU_ASSERT_FATAL(json_array_size(l) == 4);
	for (size_t i = 0; i < 4; i++) {
		json_t *k = json_array_get(l, i);
		char p[200];

		snprintf(p, sizeof(p), "%s/%s/%s", json_string_value(json_object_get(k, "repository")),
		    json_string_value(json_object_get(k, "type")),
		    json_string_value(json_object_get(k, "tag")));
		CU_ASSERT_STRING_EQUAL(p, want[i]);
		CU_ASSERT_EQUAL(json_array_size(json_object_get(k, "versions")), 1);
	}
	json_decref(l);
	CU_ASSERT_FATAL(kw_store_key_list(st, "b", &l) == 0);
	CU_ASSERT_EQUAL(json_array_size(l), 1);
	json_decref(l);
	CU_ASSERT_FATAL(kw_store_key_list(st, "c", &l) == 0);
	CU_ASSERT_EQUAL(json_array_size(l), 0);
	json_decref(l);
	CU_ASSERT_EQUAL(kw_store_key_list(st, "..", &l), KW_ERR_INVALID_ARG);
	kw_store_close(st);
}

static void
test_documents(void)
{
	struct kw_store *st = open_fresh("docs");
	json_t *d1 = json_pack("{s:s, s:[i,i], s:{s:b, s:n}}", "zeta", "z", "list", 1, 2, "obj",
	    "y", 1, "x");
	json_t *d2 = json_pack("{s:{s:n, s:b}, s:[i,i], s:s}", "obj", "x", "y", 1, "list", 1, 2,
	    "zeta", "z");
	json_t *d3 = json_pack("{s:i}", "v", 3);
	json_t *g = NULL, *h = NULL, *l = NULL;
	int v = 0;

	CU_ASSERT_EQUAL(kw_store_doc_get(st, "policy", "r", "p", 0, &g), KW_ERR_NOT_FOUND);
	CU_ASSERT_EQUAL(kw_store_doc_history(st, "policy", "r", "p", &h), KW_ERR_NOT_FOUND);
	CU_ASSERT_FATAL(kw_store_doc_put(st, "policy", "r", "p", d1, 0, "alice", T0, &v) == 0);
	CU_ASSERT_EQUAL(v, 1);
	CU_ASSERT_FATAL(kw_store_doc_put(st, "policy", "r", "p", d2, 0, "bob", T0 + 1, &v) == 0);
	CU_ASSERT_EQUAL(v, 2);
	CU_ASSERT_FATAL(kw_store_doc_put(st, "policy", "r", "p", d3, 0, "carol", T0 + 2, &v) == 0);
	CU_ASSERT_EQUAL(v, 3);
	/* same name, other kind and other repository: separate version sequences */
	CU_ASSERT_FATAL(kw_store_doc_put(st, "refval", "r", "p", d3, 0, "dan", T0, &v) == 0);
	CU_ASSERT_EQUAL(v, 1);
	CU_ASSERT_FATAL(kw_store_doc_put(st, "policy", "s", "p", d3, 0, "dan", T0, &v) == 0);
	CU_ASSERT_EQUAL(v, 1);
	CU_ASSERT_FATAL(kw_store_doc_put(st, "policy", "r", "a", d1, 0, "dan", T0, &v) == 0);

	/* JCS: both key orders stored as the identical canonical text */
	{
		char t1[512];

		snprintf(t1, sizeof(t1), "%s", raw_text_of("docs", "SELECT document FROM documents"
		    " WHERE kind = 'policy' AND repository = 'r' AND name = 'p' AND version = 1"));
		CU_ASSERT_STRING_EQUAL(t1, "{\"list\":[1,2],\"obj\":{\"x\":null,\"y\":true},"
		    "\"zeta\":\"z\"}");
		CU_ASSERT_STRING_EQUAL(raw_text_of("docs", "SELECT document FROM documents WHERE"
		    " kind = 'policy' AND repository = 'r' AND name = 'p' AND version = 2"), t1);
	}

	CU_ASSERT_FATAL(kw_store_doc_get(st, "policy", "r", "p", 0, &g) == 0);
	CU_ASSERT_EQUAL(json_object_size(g), 7);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(g, "repository")), "r");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(g, "name")), "p");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(g, "version")), 3);
	CU_ASSERT(json_is_false(json_object_get(g, "immutable")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(g, "created")), T0 + 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(g, "created_by")), "carol");
	CU_ASSERT(json_equal(json_object_get(g, "document"), d3));
	json_decref(g);
	CU_ASSERT_FATAL(kw_store_doc_get(st, "policy", "r", "p", 1, &g) == 0);
	CU_ASSERT(json_equal(json_object_get(g, "document"), d1));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(g, "created_by")), "alice");
	json_decref(g);
	CU_ASSERT_EQUAL(kw_store_doc_get(st, "policy", "r", "p", 4, &g), KW_ERR_NOT_FOUND);

	CU_ASSERT_FATAL(kw_store_doc_history(st, "policy", "r", "p", &h) == 0);
	CU_ASSERT_FATAL(json_array_size(h) == 3);
	for (size_t i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(h, i), "version")),
		    (int)i + 1);
	json_decref(h);

	CU_ASSERT_FATAL(kw_store_doc_list(st, "policy", "r", &l) == 0);
	CU_ASSERT_FATAL(json_array_size(l) == 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(l, 0), "name")), "a");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(l, 1), "name")), "p");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(l, 1), "version")), 3);
	json_decref(l);
	CU_ASSERT_FATAL(kw_store_doc_list(st, "policy", NULL, &l) == 0);
	CU_ASSERT_EQUAL(json_array_size(l), 3);
	json_decref(l);
	CU_ASSERT_FATAL(kw_store_doc_list(st, "refval", NULL, &l) == 0);
	CU_ASSERT_EQUAL(json_array_size(l), 1);
	json_decref(l);

	/* immutable: the put itself succeeds, later puts are refused */
	CU_ASSERT_FATAL(kw_store_doc_put(st, "refval", "r", "p", d1, 1, "erin", T0, &v) == 0);
	CU_ASSERT_EQUAL(v, 2);
	v = 99;
	CU_ASSERT_EQUAL(kw_store_doc_put(st, "refval", "r", "p", d2, 0, "erin", T0, &v),
	    KW_ERR_EXISTS);
	CU_ASSERT_EQUAL(kw_store_doc_put(st, "refval", "r", "p", d2, 1, "erin", T0, &v),
	    KW_ERR_EXISTS);
	CU_ASSERT_EQUAL(v, 99);
	CU_ASSERT_FATAL(kw_store_doc_get(st, "refval", "r", "p", 0, &g) == 0);
	CU_ASSERT(json_is_true(json_object_get(g, "immutable")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(g, "version")), 2);
	json_decref(g);

	/* size cap applies to the canonical form */
	{
		size_t n = KW_STORE_DOC_MAX;
		char *big = malloc(n + 1);
		json_t *bd;

		CU_ASSERT_FATAL(big != NULL);
		memset(big, 'x', n);
		big[n] = '\0';
		bd = json_pack("{s:s}", "k", big);
		CU_ASSERT_EQUAL(kw_store_doc_put(st, "policy", "r", "big", bd, 0, "f", T0, &v),
		    KW_ERR_TOO_LARGE);
		json_decref(bd);
		big[n - 100] = '\0';
		bd = json_pack("{s:s}", "k", big);
		CU_ASSERT_EQUAL(kw_store_doc_put(st, "policy", "r", "big", bd, 0, "f", T0, &v), 0);
		json_decref(bd);
		free(big);
	}
	/* integers JCS cannot represent are refused, not stored */
	{
		json_t *bad = json_pack("{s:I}", "n", (json_int_t)1 << 60);

		CU_ASSERT_NOT_EQUAL(kw_store_doc_put(st, "policy", "r", "bad", bad, 0, "f", T0, &v), 0);
		CU_ASSERT_EQUAL(kw_store_doc_get(st, "policy", "r", "bad", 0, &g), KW_ERR_NOT_FOUND);
		json_decref(bad);
	}
	json_decref(d1);
	json_decref(d2);
	json_decref(d3);
	kw_store_close(st);
}

static void
test_changes(void)
{
	struct kw_store *st = open_fresh("changes");
	json_t *c = NULL, *e;
	int64_t last = 0;
	size_t total = 0;

	for (int i = 0; i < 25; i++) {
		char target[32];

		snprintf(target, sizeof(target), "keys/t/g%d", i);
		CU_ASSERT_FATAL(kw_store_change_add(st, T0 + i, "CN=admin", "key.create",
		    i % 2 ? "odd" : "even", target, i % 5 ? "ok" : "error",
		    i % 5 ? NULL : "hsm unavailable") == 0);
	}
	CU_ASSERT_FATAL(kw_store_change_add(st, T0 + 99, "CN=admin", "config.reload", NULL, NULL,
	    "ok", NULL) == 0);
	CU_ASSERT_FATAL(kw_store_change_add(st, T0 + 100, "CN=intruder", "key.create", "", "",
	    "denied", "") == 0);
	CU_ASSERT_FATAL(kw_store_changes(st, NULL, 0, 1000, &c) == 0);
	CU_ASSERT_FATAL(json_array_size(c) == 27);
	e = json_array_get(c, 26);
	CU_ASSERT(json_is_null(json_object_get(e, "repository")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "target")), "");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "outcome")), "denied");
	e = json_array_get(c, 0);
	CU_ASSERT_EQUAL(json_object_size(e), 8);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(e, "seq")), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(e, "at")), T0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "actor")), "CN=admin");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "action")), "key.create");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "repository")), "even");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "target")), "keys/t/g0");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "outcome")), "error");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "detail")), "hsm unavailable");
	e = json_array_get(c, 25);
	CU_ASSERT(json_is_null(json_object_get(e, "repository")));
	CU_ASSERT(json_is_null(json_object_get(e, "target")));
	CU_ASSERT(json_is_null(json_object_get(e, "detail")));
	json_decref(c);

	/* repository filter with pagination by seq */
	for (;;) {
		CU_ASSERT_FATAL(kw_store_changes(st, "odd", last, 5, &c) == 0);
		if (json_array_size(c) == 0) {
			json_decref(c);
			break;
		}
		CU_ASSERT(json_array_size(c) <= 5);
		for (size_t i = 0; i < json_array_size(c); i++) {
			e = json_array_get(c, i);
			CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "repository")), "odd");
			CU_ASSERT(json_integer_value(json_object_get(e, "seq")) > last);
			last = json_integer_value(json_object_get(e, "seq"));
			CU_ASSERT_EQUAL(last % 2, 0);    /* odd i -> even seq */
			total++;
		}
		json_decref(c);
	}
	CU_ASSERT_EQUAL(total, 12);
	CU_ASSERT_FATAL(kw_store_changes(st, NULL, 24, 0, &c) == 0);
	CU_ASSERT_EQUAL(json_array_size(c), 0);
	json_decref(c);
	CU_ASSERT_FATAL(kw_store_changes(st, NULL, 24, 100, &c) == 0);
	CU_ASSERT_EQUAL(json_array_size(c), 3);
	json_decref(c);
	kw_store_close(st);
}

static void
test_append_only(void)
{
	struct kw_store *st = open_fresh("append");
	json_t *c = NULL, *empty = json_object();
	char err[512];
	int v = 0;

	CU_ASSERT_FATAL(kw_store_change_add(st, T0, "a", "x", "r", "t", "ok", "d") == 0);
	CU_ASSERT_FATAL(kw_store_doc_put(st, "policy", "r", "p", empty, 0, "a", T0, &v) == 0);
	json_decref(empty);
	CU_ASSERT_EQUAL(raw_exec_of("append", "UPDATE admin_changes SET outcome = 'error'", err,
	    sizeof(err)), 1);
	CU_ASSERT(strstr(err, "append-only") != NULL);
	CU_ASSERT_EQUAL(raw_exec_of("append", "DELETE FROM admin_changes", err, sizeof(err)), 1);
	CU_ASSERT(strstr(err, "append-only") != NULL);
	CU_ASSERT_EQUAL(raw_exec_of("append", "UPDATE documents SET document = '{}'", err,
	    sizeof(err)), 1);
	CU_ASSERT(strstr(err, "versioned") != NULL);
	if (pg_base != NULL) {
		CU_ASSERT_EQUAL(raw_exec_of("append", "TRUNCATE admin_changes", err, sizeof(err)), 1);
		CU_ASSERT(strstr(err, "append-only") != NULL);
	}
	CU_ASSERT_STRING_EQUAL(raw_text_of("append", "SELECT count(*) FROM admin_changes"), "1");
	CU_ASSERT_FATAL(kw_store_changes(st, NULL, 0, 10, &c) == 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(c, 0), "outcome")),
	    "ok");
	json_decref(c);
	kw_store_close(st);
}

static void
test_migrations(void)
{
	struct kw_store *st = NULL;
	char p[256];
	sqlite3 *db;
	struct stat sb;
	int v = 0;
	char wal[300];

	snprintf(p, sizeof(p), "%s", db_path("migrate"));
	st = open_fresh("migrate");
	make_key(st, "r", "t", "g");
	CU_ASSERT_EQUAL(kw_store_schema_version(st, &v), 0);
	CU_ASSERT_EQUAL(v, KW_STORE_SCHEMA_VERSION);
	/* a second connection while the first is open, then reopen: no change */
	{
		struct kw_store *st2 = NULL;
		json_t *k = NULL;

		CU_ASSERT_FATAL(kw_store_open(p, &st2) == 0);
		CU_ASSERT_EQUAL(kw_store_key_get(st2, "r", "t", "g", &k), 0);
		json_decref(k);
		kw_store_close(st2);
	}
	kw_store_close(st);
	CU_ASSERT_FATAL(kw_store_open(p, &st) == 0);
	kw_store_close(st);
	db = raw_open(p);
	CU_ASSERT_STRING_EQUAL(raw_text(db, "SELECT count(*) FROM schema_migrations"), "1");
	CU_ASSERT_STRING_EQUAL(raw_text(db, "SELECT version FROM schema_migrations"), "1");
	CU_ASSERT_STRING_EQUAL(raw_text(db, "PRAGMA journal_mode"), "wal");
	CU_ASSERT_STRING_EQUAL(raw_text(db, "SELECT count(*) FROM keys"), "1");
	sqlite3_close(db);
	/* the database and its WAL are private */
	CU_ASSERT_FATAL(stat(p, &sb) == 0);
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
	snprintf(wal, sizeof(wal), "%s-wal", p);
	CU_ASSERT_FATAL(kw_store_open(p, &st) == 0);
	make_key(st, "r", "t", "h");
	if (stat(wal, &sb) == 0)
		CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
	kw_store_close(st);
	/* a non-database file is refused */
	{
		FILE *f = fopen(db_path("garbage"), "w");

		CU_ASSERT_FATAL(f != NULL);
		fputs("this is not a database, just some text that is long enough......"
		    "................................................................", f);
		fclose(f);
		CU_ASSERT_NOT_EQUAL(kw_store_open(db_path("garbage"), &st), 0);
	}
}

static void
test_newer_schema(void)
{
	struct kw_store *st = open_fresh("newer");
	const char *p = db_path("newer");
	sqlite3 *db;

	kw_store_close(st);
	db = raw_open(p);
	CU_ASSERT_FATAL(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (2, 0)", NULL, NULL,
	    NULL) == SQLITE_OK);
	sqlite3_close(db);
	st = NULL;
	CU_ASSERT_EQUAL(kw_store_open(p, &st), KW_ERR_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(st);
	CU_ASSERT_EQUAL(kw_store_open_readonly(p, &st), KW_ERR_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(st);
	/* and nothing was migrated or touched */
	db = raw_open(p);
	CU_ASSERT_STRING_EQUAL(raw_text(db, "SELECT max(version) FROM schema_migrations"), "2");
	sqlite3_close(db);
}

static void
test_readonly(void)
{
	struct kw_store *st = open_fresh("ro"), *ro = NULL;
	struct kw_key_spec s = spec("r", "t", "new");
	struct kw_release_target t;
	char p[256], *label = NULL;
	json_t *j = NULL, *empty = json_object();
	int v = 0;

	snprintf(p, sizeof(p), "%s", db_path("ro"));    /* db_path reuses its buffer */
	/* a missing file is not created read-only */
	CU_ASSERT_EQUAL(kw_store_open_readonly(db_path("ro-missing"), &ro), KW_ERR_NOT_FOUND);
	CU_ASSERT(access(db_path("ro-missing"), F_OK) != 0);
	/* an empty file has no schema: not migrated by the read-only opener */
	close(creat(db_path("ro-empty"), 0600));
	CU_ASSERT_EQUAL(kw_store_open_readonly(db_path("ro-empty"), &ro), KW_ERR_UNSUPPORTED);

	make_key(st, "r", "t", "g");
	CU_ASSERT_FATAL(kw_store_open_readonly(p, &ro) == 0);
	CU_ASSERT_EQUAL(kw_store_schema_version(ro, &v), 0);
	CU_ASSERT_EQUAL(v, KW_STORE_SCHEMA_VERSION);
	CU_ASSERT_FATAL(kw_store_release_lookup(ro, "r", "t", "g", 0, &t) == 0);
	CU_ASSERT_EQUAL(t.version, 1);
	CU_ASSERT_NOT_EQUAL(kw_store_key_create(ro, &s, "generated", T0, &label), 0);
	CU_ASSERT_PTR_NULL(label);
	CU_ASSERT_NOT_EQUAL(kw_store_key_set_state(ro, "r", "t", "g", "disabled"), 0);
	CU_ASSERT_NOT_EQUAL(kw_store_change_add(ro, T0, "a", "x", NULL, NULL, "ok", NULL), 0);
	CU_ASSERT_NOT_EQUAL(kw_store_doc_put(ro, "policy", "r", "p", empty, 0, "a", T0, &v), 0);
	json_decref(empty);
	/* the reader sees the writer's later commits (WAL) */
	CU_ASSERT_EQUAL(kw_store_key_set_state(st, "r", "t", "g", "disabled"), 0);
	CU_ASSERT_EQUAL(kw_store_release_lookup(ro, "r", "t", "g", 0, &t), KW_ERR_NOT_FOUND);
	CU_ASSERT_FATAL(kw_store_key_get(ro, "r", "t", "g", &j) == 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "state")), "disabled");
	json_decref(j);
	CU_ASSERT_FATAL(kw_store_key_list(st, NULL, &j) == 0);
	CU_ASSERT_EQUAL(json_array_size(j), 1);
	json_decref(j);
	CU_ASSERT_FATAL(kw_store_changes(st, NULL, 0, 10, &j) == 0);
	CU_ASSERT_EQUAL(json_array_size(j), 0);
	json_decref(j);
	kw_store_close(ro);
	kw_store_close(st);
}

/* A concurrent writer holding the lock past busy_timeout -> KW_ERR_UNAVAILABLE. */
static void
test_busy(void)
{
	struct kw_store *st = open_fresh("busy");
	sqlite3 *db = raw_open(db_path("busy"));
	json_t *j = NULL;

	sqlite3_busy_timeout(db, 0);
	CU_ASSERT_FATAL(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	/* reads still work under WAL while another connection writes */
	CU_ASSERT_EQUAL(kw_store_key_list(st, NULL, &j), 0);
	json_decref(j);
	CU_ASSERT_EQUAL(kw_store_set_busy_timeout(st, -1), KW_ERR_INVALID_ARG);
	CU_ASSERT_FATAL(kw_store_set_busy_timeout(st, 50) == 0);
	CU_ASSERT_EQUAL(kw_store_change_add(st, T0, "a", "x", NULL, NULL, "ok", NULL),
	    KW_ERR_UNAVAILABLE);
	CU_ASSERT_EQUAL(kw_store_version_commit(st, "kw-key/r/t/g/v1"), KW_ERR_UNAVAILABLE);
	CU_ASSERT_FATAL(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
	CU_ASSERT_EQUAL(kw_store_change_add(st, T0, "a", "x", NULL, NULL, "ok", NULL), 0);
	CU_ASSERT_FATAL(kw_store_changes(st, NULL, 0, 10, &j) == 0);
	CU_ASSERT_EQUAL(json_array_size(j), 1);    /* the refused one left nothing */
	json_decref(j);
	sqlite3_close(db);
	kw_store_close(st);
}

/* ---- durability: SIGKILL a writer at a random point ---- */

#define DUR_ROUNDS 20
#define DUR_WRITES 30

/* One iteration = four transactions; the child reports i once all four returned. */
static int
dur_iteration(struct kw_store *st, int round, int i)
{
	char repo[16], tag[16], detail[32], *label = NULL;
	struct kw_key_spec s;
	json_t *doc;
	int r, v = 0;

	snprintf(repo, sizeof(repo), "d%d", round);
	snprintf(tag, sizeof(tag), "k%d", i);
	snprintf(detail, sizeof(detail), "r%d i%d", round, i);
	s = spec(repo, "t", tag);
	if ((r = kw_store_key_create(st, &s, "generated", T0 + i, &label)) != 0)
		return r;
	r = kw_store_version_commit(st, label);
	free(label);
	if (r != 0)
		return r;
	if ((doc = json_pack("{s:i, s:s}", "i", i, "pad", detail)) == NULL)
		return KW_ERR_NOMEM;
	r = kw_store_doc_put(st, "policy", repo, tag, doc, 0, "child", T0 + i, &v);
	json_decref(doc);
	if (r != 0)
		return r;
	return kw_store_change_add(st, T0 + i, "child", "key.create", repo, tag, "ok", detail);
}

static void
dur_child(const char *path, int round, int fd)
{
	struct kw_store *st = NULL;

	if (kw_store_open(path, &st) != 0)
		_exit(3);
	for (int i = 0; i < DUR_WRITES; i++) {
		if (dur_iteration(st, round, i) != 0)
			_exit(4);
		if (write(fd, &i, sizeof(i)) != (ssize_t)sizeof(i))
			_exit(5);
	}
	kw_store_close(st);
	_exit(0);
}

static void
dur_check(const char *path, int round, int acked)
{
	struct kw_store *st = NULL;
	struct kw_release_target t;
	char repo[16], tag[16], detail[32];
	json_t *j = NULL;
	sqlite3 *db;
	size_t nkeys;

	CU_ASSERT_FATAL(kw_store_open(path, &st) == 0);
	snprintf(repo, sizeof(repo), "d%d", round);
	for (int i = 0; i < acked; i++) {
		snprintf(tag, sizeof(tag), "k%d", i);
		snprintf(detail, sizeof(detail), "r%d i%d", round, i);
		CU_ASSERT_EQUAL(kw_store_release_lookup(st, repo, "t", tag, 0, &t), 0);
		CU_ASSERT_EQUAL(kw_store_doc_get(st, "policy", repo, tag, 1, &j), 0);
		if (j != NULL)
			CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(j,
			    "document"), "i")), i);
		json_decref(j);
		j = NULL;
	}
	CU_ASSERT_FATAL(kw_store_changes(st, repo, 0, 1000, &j) == 0);
	CU_ASSERT(json_array_size(j) >= (size_t)acked);
	CU_ASSERT(json_array_size(j) <= (size_t)acked + 1);
	for (size_t i = 0; i < json_array_size(j) && i < (size_t)acked; i++) {
		snprintf(detail, sizeof(detail), "r%d i%zu", round, i);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(j, i),
		    "detail")), detail);
	}
	json_decref(j);
	CU_ASSERT_FATAL(kw_store_key_list(st, repo, &j) == 0);
	nkeys = json_array_size(j);
	CU_ASSERT(nkeys >= (size_t)acked && nkeys <= (size_t)acked + 1);
	json_decref(j);
	kw_store_close(st);
	db = raw_open(path);
	CU_ASSERT_STRING_EQUAL(raw_text(db, "PRAGMA integrity_check"), "ok");
	CU_ASSERT_STRING_EQUAL(raw_text(db, "PRAGMA foreign_key_check"), "");
	sqlite3_close(db);
}

static void
test_durability_sigkill(void)
{
	char path[256];
	unsigned int seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
	int total_acked = 0, total_killed = 0;

	snprintf(path, sizeof(path), "%s", db_path("durable"));
	fprintf(stderr, "\n  durability seed %u\n", seed);
	srand(seed);
	for (int round = 0; round < DUR_ROUNDS; round++) {
		int fds[2], acked = 0, kill_after = rand() % (DUR_WRITES + 5), status = 0, x;
		pid_t pid;
		ssize_t n;

		CU_ASSERT_FATAL(pipe(fds) == 0);
		fflush(NULL);
		pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			dur_child(path, round, fds[1]);
		}
		close(fds[1]);
		/* kill_after == 0: right away, possibly before or during open */
		if (kill_after == 0) {
			kill(pid, SIGKILL);
			total_killed++;
		}
		while ((n = read(fds[0], &x, sizeof(x))) == (ssize_t)sizeof(x) ||
		    (n < 0 && errno == EINTR)) {
			if (n < 0)
				continue;
			CU_ASSERT_EQUAL(x, acked);
			acked++;
			if (acked == kill_after) {
				/* a small random delay lands the kill inside a transaction */
				usleep((useconds_t)(rand() % 3000));
				kill(pid, SIGKILL);
				total_killed++;
			}
		}
		/* whatever reached the pipe before death was acknowledged too */
		close(fds[0]);
		CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
		CU_ASSERT((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
		    (WIFEXITED(status) && WEXITSTATUS(status) == 0));
		total_acked += acked;
		dur_check(path, round, acked);
	}
	fprintf(stderr, "  durability: %d rounds, %d killed, %d acknowledged iterations\n",
	    DUR_ROUNDS, total_killed, total_acked);
}

/* A put based on a version: refused once someone else wrote after it (both backends). */
static void
test_doc_put_based(void)
{
	struct kw_store *st = open_fresh("based");
	json_t *d1 = json_pack("{s:i}", "a", 1), *d2 = json_pack("{s:i}", "a", 2), *g = NULL;
	int v = 0;

	CU_ASSERT_FATAL(kw_store_doc_put(st, "refval", "r", "s", d1, 0, "a", T0, &v) == 0);
	CU_ASSERT_EQUAL(v, 1);
	CU_ASSERT_EQUAL(kw_store_doc_put_based(st, "refval", "r", "s", d2, 0, "a", T0, 0, &v),
	    KW_ERR_INVALID_ARG);
	CU_ASSERT_FATAL(kw_store_doc_put_based(st, "refval", "r", "s", d2, 0, "b", T0, 1, &v) == 0);
	CU_ASSERT_EQUAL(v, 2);
	/* a second writer that also read version 1 loses, and nothing is written */
	v = -7;
	CU_ASSERT_EQUAL(kw_store_doc_put_based(st, "refval", "r", "s", d1, 0, "c", T0, 1, &v),
	    KW_ERR_MISMATCH);
	CU_ASSERT_EQUAL(v, -7);
	CU_ASSERT_FATAL(kw_store_doc_get(st, "refval", "r", "s", 0, &g) == 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(g, "version")), 2);
	CU_ASSERT(json_equal(json_object_get(g, "document"), d2));
	json_decref(g);
	/* based on a version of a document that does not exist */
	CU_ASSERT_EQUAL(kw_store_doc_put_based(st, "refval", "r", "none", d1, 0, "c", T0, 1, &v),
	    KW_ERR_MISMATCH);
	json_decref(d1);
	json_decref(d2);
	kw_store_close(st);
}

static void
test_sqlite_no_once(void)
{
	struct kw_store *st = open_fresh("noonce");
	uint8_t id[16] = { 1 };

	CU_ASSERT_EQUAL(kw_store_once(st, KW_STORE_ONCE_JTI, id, sizeof(id), T0 + 60, T0),
	    KW_ERR_UNSUPPORTED);
	kw_store_close(st);
}

/* ---- PostgreSQL only ---- */

struct opener {
	const char *info;
	int r;
	struct kw_store *st;
};

static void *
open_thread(void *arg)
{
	struct opener *o = arg;

	o->r = kw_store_open_pg(o->info, 2, &o->st);
	return NULL;
}

/* Brokers starting together: the migrations run once (advisory lock), every opener succeeds. */
static void
test_pg_migrations(void)
{
	struct opener o[4];
	pthread_t t[4];
	struct kw_store *st = NULL;
	char info[2048];
	int v = 0;

	pg_fresh_schema("migrate");
	snprintf(info, sizeof(info), "%s", pg_info("migrate"));
	for (int i = 0; i < 4; i++) {
		o[i] = (struct opener){ info, -999, NULL };
		CU_ASSERT_FATAL(pthread_create(&t[i], NULL, open_thread, &o[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CU_ASSERT_EQUAL(o[i].r, 0);
	}
	/* PostgreSQL's schema 2 adds the shared single-use sets */
	CU_ASSERT_STRING_EQUAL(raw_text_of("migrate", "SELECT string_agg(version::text, ',' ORDER BY"
	    " version) FROM schema_migrations"), "1,2,3");
	CU_ASSERT_EQUAL(kw_store_schema_version(o[0].st, &v), 0);
	CU_ASSERT_EQUAL(v, 3);
	CU_ASSERT_STRING_EQUAL(raw_text_of("migrate", "SELECT relpersistence FROM pg_class"
	    " WHERE relname = 'used_once'"), "u");
	make_key(o[1].st, "r", "t", "g");
	{
		json_t *k = NULL;

		CU_ASSERT_EQUAL(kw_store_key_get(o[2].st, "r", "t", "g", &k), 0);
		json_decref(k);
	}
	for (int i = 0; i < 4; i++)
		kw_store_close(o[i].st);
	/* a newer schema than this build knows: refused, nothing touched */
	CU_ASSERT_EQUAL(raw_exec_of("migrate", "INSERT INTO schema_migrations VALUES (99, 0)", info,
	    sizeof(info)), 0);
	CU_ASSERT_EQUAL(kw_store_open_pg(pg_info("migrate"), 1, &st), KW_ERR_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(st);
	CU_ASSERT_STRING_EQUAL(raw_text_of("migrate", "SELECT count(*) FROM keys"), "1");
}

static void
test_pg_open_errors(void)
{
	struct kw_store *st = NULL;

	CU_ASSERT_EQUAL(kw_store_open_pg("not a = valid = connection string", 1, &st), KW_ERR_CONFIG);
	CU_ASSERT_EQUAL(kw_store_open_pg("host=/nonexistent-kw-dir port=1 connect_timeout=2", 1, &st),
	    KW_ERR_UNAVAILABLE);
	CU_ASSERT_EQUAL(kw_store_open_pg(pg_base, 0, &st), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_store_open_pg(pg_base, 65, &st), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_store_open_pg("", 1, &st), KW_ERR_INVALID_ARG);
	CU_ASSERT_PTR_NULL(st);
}

#define RACERS 4

struct racer {
	struct kw_store *st;
	pthread_barrier_t *go;
	int id, r_key, r_based, r_put[10], versions[10];
};

static void *
race_thread(void *arg)
{
	struct racer *x = arg;
	struct kw_key_spec s = spec("race", "t", "k");
	json_t *d = json_pack("{s:i}", "writer", x->id);
	char *label = NULL;
	int v = 0;

	pthread_barrier_wait(x->go);
	x->r_key = kw_store_key_create(x->st, &s, "generated", T0, &label);
	free(label);
	pthread_barrier_wait(x->go);
	x->r_based = kw_store_doc_put_based(x->st, "refval", "race", "set", d, 0, "w", T0, 1, &v);
	pthread_barrier_wait(x->go);
	for (int i = 0; i < 10; i++)
		x->r_put[i] = kw_store_doc_put(x->st, "policy", "race", "p", d, 0, "w", T0,
		    &x->versions[i]);
	json_decref(d);
	return NULL;
}

/*
 * Writers on separate pools (as on separate brokers) racing: one key create
 * wins, the others get KW_ERR_EXISTS; one based put wins, the others get
 * KW_ERR_MISMATCH; plain puts all land, numbered 1..N without gaps.
 */
static void
test_pg_concurrent_writers(void)
{
	struct kw_store *first = open_fresh("race");
	struct racer x[RACERS];
	pthread_t t[RACERS];
	pthread_barrier_t go;
	json_t *d0 = json_pack("{s:i}", "writer", -1), *h = NULL;
	int v = 0, key_ok = 0, based_ok = 0, seen[RACERS * 10 + 1];

	CU_ASSERT_FATAL(kw_store_doc_put(first, "refval", "race", "set", d0, 0, "w", T0, &v) == 0);
	CU_ASSERT_FATAL(pthread_barrier_init(&go, NULL, RACERS) == 0);
	for (int i = 0; i < RACERS; i++) {
		memset(&x[i], 0, sizeof(x[i]));
		x[i].id = i;
		x[i].go = &go;
		CU_ASSERT_FATAL(kw_store_open_pg(pg_info("race"), 2, &x[i].st) == 0);
		CU_ASSERT_FATAL(pthread_create(&t[i], NULL, race_thread, &x[i]) == 0);
	}
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < RACERS; i++) {
		pthread_join(t[i], NULL);
		CHECKF(x[i].r_key == 0 || x[i].r_key == KW_ERR_EXISTS, "key create: %d", x[i].r_key);
		key_ok += x[i].r_key == 0;
		CHECKF(x[i].r_based == 0 || x[i].r_based == KW_ERR_MISMATCH, "based put: %d",
		    x[i].r_based);
		based_ok += x[i].r_based == 0;
		for (int k = 0; k < 10; k++) {
			CHECKF(x[i].r_put[k] == 0, "put: %d", x[i].r_put[k]);
			if (x[i].r_put[k] == 0 && x[i].versions[k] >= 1 && x[i].versions[k] <= RACERS * 10)
				seen[x[i].versions[k]]++;
		}
		kw_store_close(x[i].st);
	}
	pthread_barrier_destroy(&go);
	CU_ASSERT_EQUAL(key_ok, 1);
	CU_ASSERT_EQUAL(based_ok, 1);
	for (int k = 1; k <= RACERS * 10; k++)
		CHECKF(seen[k] == 1, "version %d returned %d times", k, seen[k]);
	CU_ASSERT_FATAL(kw_store_doc_history(first, "policy", "race", "p", &h) == 0);
	CU_ASSERT_EQUAL(json_array_size(h), RACERS * 10);
	json_decref(h);
	CU_ASSERT_FATAL(kw_store_doc_history(first, "refval", "race", "set", &h) == 0);
	CU_ASSERT_EQUAL(json_array_size(h), 2);
	json_decref(h);
	CU_ASSERT_STRING_EQUAL(raw_text_of("race", "SELECT count(*) FROM keys"), "1");
	CU_ASSERT_STRING_EQUAL(raw_text_of("race", "SELECT count(*) FROM key_versions"), "1");
	json_decref(d0);
	kw_store_close(first);
}

/* The server drops every connection (as in a restart): the next calls reconnect and work. */
static void
test_pg_reconnect(void)
{
	struct kw_store *st = open_fresh("reconnect");
	struct kw_release_target t;
	json_t *k = NULL;
	PGconn *c;
	char *label = NULL;
	int v = 0;

	make_key(st, "r", "t", "g");
	CU_ASSERT_EQUAL(kw_store_release_lookup(st, "r", "t", "g", 0, &t), 0);
	c = pg_raw(pg_base);
	CU_ASSERT_STRING_NOT_EQUAL(raw_text_of("reconnect", "SELECT count(*) FROM pg_stat_activity"
	    " WHERE application_name = 'keywarden'"), "0");
	CU_ASSERT_EQUAL(pg_exec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	    " WHERE application_name = 'keywarden'", NULL, 0), 0);
	PQfinish(c);
	memset(&t, 0, sizeof(t));
	CU_ASSERT_EQUAL(kw_store_release_lookup(st, "r", "t", "g", 0, &t), 0);
	CU_ASSERT_STRING_EQUAL(t.label, "kw-key/r/t/g/v1");
	CU_ASSERT_EQUAL(kw_store_version_add(st, "r", "t", "g", "generated", T0, &v, &label), 0);
	CU_ASSERT_EQUAL(v, 2);
	CU_ASSERT_EQUAL(kw_store_version_commit(st, label), 0);
	free(label);
	CU_ASSERT_EQUAL(kw_store_key_get(st, "r", "t", "g", &k), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(k, "versions")), 2);
	json_decref(k);
	kw_store_close(st);
}

/* The single-use sets brokers share: once across pools, per set, until expiry, swept. */
static void
test_pg_once(void)
{
	struct kw_store *a = open_fresh("once"), *b = NULL;
	uint8_t id[32], id2[16];
	struct timespec t0, t1;
	char sql[256];
	double us;

	CU_ASSERT_FATAL(kw_store_open_pg(pg_info("once"), 2, &b) == 0);
	memset(id, 0xa5, sizeof(id));
	memset(id2, 0x5a, sizeof(id2));
	CU_ASSERT_EQUAL(kw_store_once(a, KW_STORE_ONCE_JTI, id, sizeof(id), T0 + 60, T0), 0);
	/* the other broker (pool) sees it spent; so does the same one */
	CU_ASSERT_EQUAL(kw_store_once(b, KW_STORE_ONCE_JTI, id, sizeof(id), T0 + 60, T0 + 1),
	    KW_ERR_REPLAY);
	CU_ASSERT_EQUAL(kw_store_once(a, KW_STORE_ONCE_JTI, id, sizeof(id), T0 + 60, T0 + 1),
	    KW_ERR_REPLAY);
	/* the sets are separate; ids of different lengths are different ids */
	CU_ASSERT_EQUAL(kw_store_once(b, KW_STORE_ONCE_CHALLENGE, id, sizeof(id), T0 + 60, T0), 0);
	CU_ASSERT_EQUAL(kw_store_once(b, KW_STORE_ONCE_JTI, id, 16, T0 + 60, T0), 0);
	CU_ASSERT_EQUAL(kw_store_once(a, KW_STORE_ONCE_JTI, id2, sizeof(id2), T0 - 1, T0),
	    KW_ERR_EXPIRED);
	CU_ASSERT_EQUAL(kw_store_once(a, KW_STORE_ONCE_JTI, id, 0, T0 + 60, T0), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_store_once(a, KW_STORE_ONCE_JTI, id, 33, T0 + 60, T0), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_store_once(a, (enum kw_store_once_set)3, id, 16, T0 + 60, T0),
	    KW_ERR_INVALID_ARG);
	/* once its entry expired, a value is new again (its MAC'd expiry refuses it anyway) */
	CU_ASSERT_EQUAL(kw_store_once(b, KW_STORE_ONCE_JTI, id, sizeof(id), T0 + 200, T0 + 61), 0);
	CU_ASSERT_EQUAL(kw_store_once(a, KW_STORE_ONCE_JTI, id, sizeof(id), T0 + 200, T0 + 62),
	    KW_ERR_REPLAY);
	/* 3000 expired rows: spends sweep them in batches of at most 1000 */
	CU_ASSERT_EQUAL(raw_exec_of("once", "INSERT INTO used_once SELECT 2, int4send(g), 5"
	    " FROM generate_series(1, 3000) g", sql, sizeof(sql)), 0);
	CU_ASSERT_STRING_EQUAL(raw_text_of("once", "SELECT count(*) FROM used_once WHERE expiry = 5"),
	    "3000");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint32_t i = 0; i < 1000; i++) {
		uint8_t x[16] = { 0 };

		memcpy(x, &i, sizeof(i));
		int r = kw_store_once(i % 2 ? a : b, KW_STORE_ONCE_CHALLENGE, x, sizeof(x), T0 + 60, T0);

		CHECKF(r == 0, "spend %u: %d", i, r);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / 1000;
	fprintf(stderr, "  shared single-use set: %.0f us per spend (1000 spends, Unix socket)\n", us);
	CU_ASSERT_STRING_EQUAL(raw_text_of("once", "SELECT count(*) FROM used_once WHERE expiry = 5"),
	    "0");
	CU_ASSERT_STRING_EQUAL(raw_text_of("once", "SELECT count(*) FROM used_once WHERE kind = 1"),
	    "1001");
	kw_store_close(b);
	kw_store_close(a);
}

/* ---- the audit log of every replica (docs/ha.md "Audit across replicas") ---- */

#define AW_WRITERS 2          /* brokers: each its own pool and writer */
#define AW_PRODUCERS 4        /* per writer */

struct aw_producer {
	struct audit_writer *w;
	int writer, id, n, r;
};

static void *
aw_thread(void *arg)
{
	struct aw_producer *x = arg;

	for (int i = 0; i < x->n && x->r == 0; i++) {
		json_t *d = json_pack("{s:s, s:s, s:s}", "actor", x->writer ? "b" : "a", "action",
		    "t", "outcome", "ok");

		x->r = audit_writer_append_wait(x->w, AUDIT_KIND_ADMIN_CHANGE, T0 + i, d, NULL);
		json_decref(d);
	}
	return NULL;
}

static double
aw_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Append with writers writers x AW_PRODUCERS producers, n records each: records per second. */
static double
aw_run(struct audit_writer **w, int writers, int n)
{
	struct aw_producer x[AW_WRITERS * AW_PRODUCERS];
	pthread_t t[AW_WRITERS * AW_PRODUCERS];
	int k = writers * AW_PRODUCERS;
	double t0 = aw_now();

	for (int i = 0; i < k; i++) {
		x[i] = (struct aw_producer){ .w = w[i % writers], .writer = i % writers, .id = i, .n = n };
		CU_ASSERT_FATAL(pthread_create(&t[i], NULL, aw_thread, &x[i]) == 0);
	}
	for (int i = 0; i < k; i++) {
		pthread_join(t[i], NULL);
		CU_ASSERT_EQUAL(x[i].r, 0);
	}
	return (double)(k * n) / (aw_now() - t0);
}

struct aw_lines {
	char *buf;
	size_t len;
};

/*
 * Two writers on separate pools (two brokers) append at once: one dense log,
 * each record chained to its predecessor whichever writer wrote it, the
 * subtree roots both wrote give the tree of the records; measured against
 * one writer. The tables refuse edits; the lease goes to one holder at a time.
 */
static void
test_pg_audit_two_writers(void)
{
	struct kw_store *st[AW_WRITERS] = { open_fresh("audit"), NULL };
	struct audit_writer *w[AW_WRITERS] = { NULL };
	struct audit_backend be[AW_WRITERS];
	struct audit_db *db = NULL;
	struct audit_nodes src;
	uint8_t (*leaves)[AUDIT_HASH_LEN] = NULL, root_db[AUDIT_HASH_LEN], root_mem[AUDIT_HASH_LEN];
	uint8_t prev[AUDIT_HASH_LEN] = { 0 };
	struct aw_lines ex = { NULL, 0 };
	uint64_t size = 0, n_a = 0, n_b = 0;
	double one, two;
	int held = -1, per = 100, total;
	FILE *f;
	char err[256];

	CU_ASSERT_FATAL(kw_store_open_pg(pg_info("audit"), 4, &st[1]) == 0);
	CU_ASSERT_EQUAL(kw_store_audit_backend(NULL, &be[0]), KW_ERR_INVALID_ARG);
	for (int i = 0; i < AW_WRITERS; i++) {
		CU_ASSERT_FATAL(kw_store_audit_backend(st[i], &be[i]) == 0);
		CU_ASSERT_FATAL(audit_writer_open_backend(&be[i], NULL, &w[i]) == 0);
	}
	one = aw_run(w, 1, per);
	two = aw_run(w, AW_WRITERS, per);
	total = (1 + AW_WRITERS) * AW_PRODUCERS * per;
	printf("\n    audit appends on PostgreSQL (Unix socket), %d producers per writer, each waiting"
	    " for its commit: one writer %.0f/s, %d writers at once %.0f/s ", AW_PRODUCERS, one,
	    AW_WRITERS, two);
	for (int i = 0; i < AW_WRITERS; i++)
		audit_writer_close(w[i]);
	CU_ASSERT_FATAL(audit_db_open_backend(&be[1], &db) == 0);
	CU_ASSERT_EQUAL(audit_db_size(db, &size), 0);
	CU_ASSERT_EQUAL_FATAL(size, (uint64_t)total);
	CU_ASSERT_FATAL((f = open_memstream(&ex.buf, &ex.len)) != NULL);
	CU_ASSERT_EQUAL(audit_db_export(db, 0, size, f), 0);
	fclose(f);
	CU_ASSERT_FATAL((leaves = calloc(size, sizeof(*leaves))) != NULL);
	{
		char *line = ex.buf, *nl;
		uint64_t i = 0;

		for (; i < size && (nl = memchr(line, '\n', ex.len - (size_t)(line - ex.buf))) != NULL;
		    i++, line = nl + 1) {
			struct audit_record rec;

			CU_ASSERT_FATAL(audit_record_decode(line, (size_t)(nl - line), &rec) == 0);
			CU_ASSERT_EQUAL(rec.index, i);
			CU_ASSERT(memcmp(rec.prev, prev, AUDIT_HASH_LEN) == 0);
			if (strcmp(json_string_value(json_object_get(rec.data, "actor")), "a") == 0)
				n_a++;
			else
				n_b++;
			audit_record_clear(&rec);
			CU_ASSERT_FATAL(audit_leaf_hash(line, (size_t)(nl - line), leaves[i]) == 0);
			memcpy(prev, leaves[i], AUDIT_HASH_LEN);
		}
		CU_ASSERT_EQUAL(i, size);
	}
	CU_ASSERT_EQUAL(n_a, (uint64_t)(2 * AW_PRODUCERS * per));
	CU_ASSERT_EQUAL(n_b, (uint64_t)(AW_PRODUCERS * per));
	audit_nodes_from_mem(&(struct audit_mem_nodes){ .leaves = (const uint8_t (*)[AUDIT_HASH_LEN])leaves,
	    .n = size }, &src);
	CU_ASSERT_EQUAL(audit_tree_root(&src, size, root_mem), 0);
	CU_ASSERT_EQUAL(audit_db_root(db, size, root_db), 0);
	CU_ASSERT(memcmp(root_mem, root_db, AUDIT_HASH_LEN) == 0);
	CU_ASSERT_EQUAL(audit_db_root(db, 777, root_db), 0);
	CU_ASSERT_EQUAL(audit_tree_root(&src, 777, root_mem), 0);
	CU_ASSERT(memcmp(root_mem, root_db, AUDIT_HASH_LEN) == 0);
	/* checkpoints: stored once per size, never past the head */
	CU_ASSERT_EQUAL(audit_db_checkpoint_add(db, 10, T0, "note 10\n"), 0);
	CU_ASSERT_EQUAL(audit_db_checkpoint_add(db, 10, T0, "other\n"), KW_ERR_EXISTS);
	CU_ASSERT_EQUAL(audit_db_checkpoint_add(db, size + 1, T0, "x\n"), KW_ERR_INVALID_ARG);
	{
		char *note = NULL;

		CU_ASSERT_EQUAL(audit_db_checkpoint_covering(db, 3, &note), 0);
		CU_ASSERT_STRING_EQUAL(note != NULL ? note : "", "note 10\n");
		free(note);
	}
	audit_db_close(db);
	/* append-only, whoever asks */
	CU_ASSERT_EQUAL(raw_exec_of("audit", "UPDATE audit_records SET at = 0 WHERE idx = 1", err,
	    sizeof(err)), 1);
	CU_ASSERT_EQUAL(raw_exec_of("audit", "DELETE FROM audit_nodes", err, sizeof(err)), 1);
	CU_ASSERT_EQUAL(raw_exec_of("audit", "INSERT INTO audit_records VALUES (999999, 0, 'x',"
	    " NULL, NULL, NULL, 'x', decode(repeat('00', 32), 'hex'))", err, sizeof(err)), 1);
	/* the lease: one holder until it expires or gives it up */
	CU_ASSERT_EQUAL(kw_store_audit_lease(st[0], "a", 30, &held), 0);
	CU_ASSERT_EQUAL(held, 1);
	CU_ASSERT_EQUAL(kw_store_audit_lease(st[1], "b", 30, &held), 0);
	CU_ASSERT_EQUAL(held, 0);
	CU_ASSERT_EQUAL(kw_store_audit_lease(st[0], "a", 30, &held), 0);
	CU_ASSERT_EQUAL(held, 1);
	CU_ASSERT_EQUAL(kw_store_audit_lease(st[1], "b", 0, NULL), 0);    /* not b's to give */
	CU_ASSERT_EQUAL(kw_store_audit_lease(st[1], "b", 30, &held), 0);
	CU_ASSERT_EQUAL(held, 0);
	CU_ASSERT_EQUAL(kw_store_audit_lease(st[0], "a", 0, NULL), 0);
	CU_ASSERT_EQUAL(kw_store_audit_lease(st[1], "b", 30, &held), 0);
	CU_ASSERT_EQUAL(held, 1);
	CU_ASSERT_EQUAL(raw_exec_of("audit", "UPDATE audit_lease SET expiry = clock_timestamp() -"
	    " interval '1 second'", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(kw_store_audit_lease(st[0], "a", 30, &held), 0);
	CU_ASSERT_EQUAL(held, 1);    /* expired: taken over */
	free(leaves);
	free(ex.buf);
	for (int i = 0; i < AW_WRITERS; i++)
		kw_store_close(st[i]);
}

int
main(void)
{
	CU_pSuite s;

	if (test_begin() != 0)
		return 2;
	pg_base = getenv("KW_TEST_PG_CONNINFO");
	if (pg_base != NULL && *pg_base == '\0')
		pg_base = NULL;
	s = CU_add_suite(pg_base != NULL ? "store (PostgreSQL)" : "store", NULL, NULL);
	CU_add_test(s, "name validation", test_names);
	CU_add_test(s, "invalid arguments change nothing", test_invalid_args);
	CU_add_test(s, "key create, commit, abort", test_create_commit_abort);
	CU_add_test(s, "duplicate keys", test_duplicates);
	CU_add_test(s, "versions and release lookup", test_versions_and_lookup);
	CU_add_test(s, "delete begin and finish", test_delete);
	CU_add_test(s, "policy binding", test_policy_binding);
	CU_add_test(s, "key list order and filter", test_key_list);
	CU_add_test(s, "documents", test_documents);
	CU_add_test(s, "admin changes", test_changes);
	CU_add_test(s, "admin changes append-only", test_append_only);
	CU_add_test(s, "put based on a version", test_doc_put_based);
	if (pg_base == NULL)
		CU_add_test(s, "no shared single-use sets in SQLite", test_sqlite_no_once);
	if (pg_base != NULL) {
		/* the cases below are SQLite's files, WAL, locks and processes */
		CU_add_test(s, "migrations once under concurrent opens", test_pg_migrations);
		CU_add_test(s, "open errors", test_pg_open_errors);
		CU_add_test(s, "concurrent writers on separate pools", test_pg_concurrent_writers);
		CU_add_test(s, "reconnect after the server dropped connections", test_pg_reconnect);
		CU_add_test(s, "shared single-use sets", test_pg_once);
		CU_add_test(s, "one audit log from two writers", test_pg_audit_two_writers);
		return test_end(0);
	}
	CU_add_test(s, "migrations idempotent, file mode", test_migrations);
	CU_add_test(s, "newer schema refused", test_newer_schema);
	CU_add_test(s, "read-only open", test_readonly);
	CU_add_test(s, "busy writer", test_busy);
	CU_add_test(s, "durability under SIGKILL", test_durability_sigkill);
	return test_end(0);
}
