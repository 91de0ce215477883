/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_proof_dump [n]: write a log of n records (default 40) through the
 * group-commit writer into a scratch database, sign a checkpoint with a
 * software key, and print as JSON the records, the roots, every inclusion
 * proof (index < size <= n) and every consistency proof (1 <= first <=
 * second <= n) the C code makes, with the checkpoint and its key, for the
 * independent verifier verify_proofs.py.
 *
 * audit_proof_dump --make DB N CHECKPOINT VKEY: write a log of N records into
 * the database DB (kept), store a checkpoint over it there too, and write
 * the checkpoint and its verifier key to the files CHECKPOINT and VKEY (for
 * the kwctl audit tests).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "audit_soft.h"
#include "kw_json.h"
#include "kw_util.h"

static json_t *
hexs(const uint8_t *h)
{
	char *x = NULL;
	json_t *s;

	if (kw_hex_encode(h, AUDIT_HASH_LEN, &x) != 0)
		return NULL;
	s = json_string(x);
	free(x);
	return s;
}

static json_t *
proof_json(const struct audit_proof *p)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < p->n; i++)
		json_array_append_new(a, hexs(p->hash[i]));
	return a;
}

static json_t *
data_for(int i, enum audit_kind *kind)
{
	char res[64];

	snprintf(res, sizeof(res), "r%d/keys/k%d", i % 3, i);
	switch (i % 4) {
	case 0:
		*kind = AUDIT_KIND_RELEASE;
		return json_pack("{s:s, s:s, s:i, s:s, s:i, s:s, s:s}", "repository", "r0",
		    "resource", res, "version", 1, "policy", "p", "policy_version", 1,
		    "wrap_jkt", "jkt-w", "client", "127.0.0.1");
	case 1:
		*kind = AUDIT_KIND_DENIAL;
		return json_pack("{s:s, s:s, s:s, s:s}", "repository", "r1", "resource", res,
		    "check", "measurement", "client", "127.0.0.1");
	case 2:
		*kind = AUDIT_KIND_APPRAISAL;
		return json_pack("{s:s, s:s, s:s, s:s}", "tee", "snp", "result", "affirming",
		    "claims_digest", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		    "measurement", "ab\"c\\d\u00e9\u2028");
	default:
		*kind = AUDIT_KIND_ADMIN_CHANGE;
		return json_pack("{s:s, s:s, s:s}", "actor", "admin", "action", "key.create",
		    "outcome", "ok");
	}
}

static int
write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL)
		return -1;
	ok = fputs(s, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int
make(const char *path, int n, const char *cp_path, const char *vk_path)
{
	struct audit_writer *w = NULL;
	struct audit_db *db = NULL;
	struct audit_vkey *vk = NULL;
	struct audit_checkpoint cp = { .time = 1800000000 };
	EVP_PKEY *key = NULL;
	char *note = NULL, *vtext = NULL;
	size_t len = 0;
	int rc = 1;

	if (n < 0 || n > 100000 || audit_writer_open(path, NULL, &w) != 0)
		return 1;
	for (int i = 0; i < n; i++) {
		enum audit_kind kind;
		json_t *d = data_for(i, &kind);
		int r = audit_writer_append_wait(w, kind, 1800000000 + i, d, NULL);

		json_decref(d);
		if (r != 0)
			goto out;
	}
	audit_writer_close(w);
	w = NULL;
	if (audit_db_open(path, false, &db) != 0 || (key = audit_soft_key()) == NULL ||
	    audit_vkey_from_pkey("keywarden.test/audit", key, &vk) != 0 ||
	    audit_vkey_format(vk, &vtext) != 0)
		goto out;
	snprintf(cp.origin, sizeof(cp.origin), "keywarden.test/audit");
	cp.size = (uint64_t)n;
	if (audit_db_root(db, cp.size, cp.root) != 0 ||
	    audit_checkpoint_sign(&cp, vk, audit_soft_sign, key, &note, &len) != 0 ||
	    audit_db_checkpoint_add(db, cp.size, cp.time, note) != 0 ||
	    write_str(cp_path, note) != 0 || write_str(vk_path, vtext) != 0)
		goto out;
	rc = 0;
out:
	audit_writer_close(w);
	audit_db_close(db);
	audit_vkey_free(vk);
	EVP_PKEY_free(key);
	free(note);
	free(vtext);
	return rc;
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/kw-audit-dump.XXXXXX", path[128], *note = NULL, *vtext = NULL, *out;
	struct audit_writer *w = NULL;
	struct audit_db *db = NULL;
	struct audit_nodes src;
	struct audit_vkey *vk = NULL;
	struct audit_checkpoint cp = { .time = 1800000000 };
	EVP_PKEY *key = NULL;
	json_t *o = NULL, *recs, *roots, *inc, *con;
	size_t len = 0;
	int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 40, rc = 1;

	kw_json_init();
	if (argc == 6 && strcmp(argv[1], "--make") == 0)
		return make(argv[2], (int)strtol(argv[3], NULL, 10), argv[4], argv[5]);
	if (n < 1 || n > 200 || mkdtemp(dir) == NULL)
		return 2;
	snprintf(path, sizeof(path), "%s/audit.db", dir);
	if (audit_writer_open(path, NULL, &w) != 0)
		goto out;
	for (int i = 0; i < n; i++) {
		enum audit_kind kind;
		json_t *d = data_for(i, &kind);
		int r = audit_writer_append_wait(w, kind, 1800000000 + i, d, NULL);

		json_decref(d);
		if (r != 0)
			goto out;
	}
	audit_writer_close(w);
	w = NULL;
	if (audit_db_open(path, true, &db) != 0)
		goto out;
	audit_db_nodes(db, &src);
	o = json_object();
	recs = json_array();
	roots = json_object();
	inc = json_array();
	con = json_array();
	if (o == NULL || recs == NULL || roots == NULL || inc == NULL || con == NULL)
		goto out;
	json_object_set_new(o, "records", recs);
	json_object_set_new(o, "roots", roots);
	json_object_set_new(o, "inclusion", inc);
	json_object_set_new(o, "consistency", con);
	for (int i = 0; i < n; i++) {
		char *rec = NULL;
		size_t rl = 0;

		if (audit_db_record(db, (uint64_t)i, &rec, &rl) != 0)
			goto out;
		json_array_append_new(recs, json_stringn(rec, rl));
		free(rec);
	}
	for (uint64_t size = 1; size <= (uint64_t)n; size++) {
		uint8_t root[AUDIT_HASH_LEN];
		char k[24];

		if (audit_db_root(db, size, root) != 0)
			goto out;
		snprintf(k, sizeof(k), "%llu", (unsigned long long)size);
		json_object_set_new(roots, k, hexs(root));
		for (uint64_t i = 0; i < size; i++) {
			struct audit_proof p;

			if (audit_proof_inclusion(&src, i, size, &p) != 0)
				goto out;
			json_array_append_new(inc, json_pack("{s:I, s:I, s:o}", "index",
			    (json_int_t)i, "size", (json_int_t)size, "path", proof_json(&p)));
		}
		for (uint64_t first = 1; first <= size; first++) {
			struct audit_proof p;

			if (audit_proof_consistency(&src, first, size, &p) != 0)
				goto out;
			json_array_append_new(con, json_pack("{s:I, s:I, s:o}", "first",
			    (json_int_t)first, "second", (json_int_t)size, "path", proof_json(&p)));
		}
	}
	/* a checkpoint over the whole log */
	if ((key = audit_soft_key()) == NULL ||
	    audit_vkey_from_pkey("keywarden.test/audit", key, &vk) != 0 ||
	    audit_vkey_format(vk, &vtext) != 0)
		goto out;
	snprintf(cp.origin, sizeof(cp.origin), "keywarden.test/audit");
	cp.size = (uint64_t)n;
	if (audit_db_root(db, cp.size, cp.root) != 0 ||
	    audit_checkpoint_sign(&cp, vk, audit_soft_sign, key, &note, &len) != 0)
		goto out;
	json_object_set_new(o, "checkpoint", json_stringn(note, len));
	json_object_set_new(o, "vkey", json_string(vtext));
	if ((out = json_dumps(o, JSON_COMPACT)) == NULL)
		goto out;
	puts(out);
	free(out);
	rc = 0;
out:
	audit_writer_close(w);
	audit_db_close(db);
	audit_vkey_free(vk);
	EVP_PKEY_free(key);
	free(note);
	free(vtext);
	json_decref(o);
	snprintf(path, sizeof(path), "%s/audit.db", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/audit.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/audit.db-shm", dir);
	unlink(path);
	rmdir(dir);
	return rc;
}
