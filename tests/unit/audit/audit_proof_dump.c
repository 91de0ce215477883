/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_proof_dump [n]: write a log of n records (default 40) through the
 * group-commit writer into a scratch database, sign a checkpoint with a
 * software key, and print as JSON the records, the roots, every inclusion
 * proof (index < size <= n) and every consistency proof (1 <= first <=
 * second <= n) the C code makes, with the checkpoint and its key, for the
 * independent verifier verify_proofs.py.
 *
 * audit_proof_dump --make DB N CHECKPOINT VKEY [SIZE...]: write a log of N
 * records into the database DB (kept), store a checkpoint over it there too
 * (and ones of the given smaller sizes, same key), and write the checkpoint
 * of size N and its verifier key to the files CHECKPOINT and VKEY (for the
 * kwctl audit tests).
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

/* n records through the group-commit writer into the database at path. */
static int
write_log(const char *path, int n)
{
	struct audit_writer *w = NULL;
	int r = 0;

	if (audit_writer_open(path, NULL, &w) != 0)
		return -1;
	for (int i = 0; i < n && r == 0; i++) {
		enum audit_kind kind;
		json_t *d = data_for(i, &kind);

		r = audit_writer_append_wait(w, kind, 1800000000 + i, d, NULL);
		json_decref(d);
	}
	audit_writer_close(w);
	return r == 0 ? 0 : -1;
}

/* A new software key, its verifier key text, and a checkpoint over size records of db. */
struct signed_head {
	EVP_PKEY *key;
	struct audit_vkey *vk;
	char *vtext, *note;
	size_t len;
	struct audit_checkpoint cp;
};

static int
sign_head(struct audit_db *db, uint64_t size, struct signed_head *h)
{
	memset(h, 0, sizeof(*h));
	h->cp.time = 1800000000;
	h->cp.size = size;
	snprintf(h->cp.origin, sizeof(h->cp.origin), "keywarden.test/audit");
	if ((h->key = audit_soft_key()) == NULL ||
	    audit_vkey_from_pkey(h->cp.origin, h->key, &h->vk) != 0 ||
	    audit_vkey_format(h->vk, &h->vtext) != 0 ||
	    audit_db_root(db, size, h->cp.root) != 0 ||
	    audit_checkpoint_sign(&h->cp, h->vk, audit_soft_sign, h->key, &h->note, &h->len) != 0)
		return -1;
	return 0;
}

static void
signed_head_clear(struct signed_head *h)
{
	audit_vkey_free(h->vk);
	EVP_PKEY_free(h->key);
	free(h->note);
	free(h->vtext);
	memset(h, 0, sizeof(*h));
}

/* A checkpoint of size over db with h's key, stored. */
static int
store_head(struct audit_db *db, const struct signed_head *h, uint64_t size)
{
	struct audit_checkpoint cp = h->cp;
	char *note = NULL;
	size_t len = 0;
	int r;

	cp.size = size;
	if (audit_db_root(db, size, cp.root) != 0 ||
	    audit_checkpoint_sign(&cp, h->vk, audit_soft_sign, h->key, &note, &len) != 0)
		return -1;
	r = audit_db_checkpoint_add(db, size, cp.time, note);
	free(note);
	return r == 0 ? 0 : -1;
}

static int
make(const char *path, int n, const char *cp_path, const char *vk_path, char **sizes, int nsizes)
{
	struct audit_db *db = NULL;
	struct signed_head h = { .key = NULL };
	int rc = 1;

	if (n < 0 || n > 100000 || write_log(path, n) != 0)
		return 1;
	if (audit_db_open(path, false, &db) != 0 || sign_head(db, (uint64_t)n, &h) != 0)
		goto out;
	for (int i = 0; i < nsizes; i++) {
		long sz = strtol(sizes[i], NULL, 10);

		if (sz < 1 || sz >= n || store_head(db, &h, (uint64_t)sz) != 0)
			goto out;
	}
	if (audit_db_checkpoint_add(db, h.cp.size, h.cp.time, h.note) != 0 ||
	    write_str(cp_path, h.note) != 0 || write_str(vk_path, h.vtext) != 0)
		goto out;
	rc = 0;
out:
	audit_db_close(db);
	signed_head_clear(&h);
	return rc;
}

/* Every root and proof of the tree in db as members of o. */
static int
dump_proofs(struct audit_db *db, int n, json_t *o)
{
	struct audit_nodes src;
	json_t *recs = json_array(), *roots = json_object(), *inc = json_array(),
	    *con = json_array();

	json_object_set_new(o, "records", recs);
	json_object_set_new(o, "roots", roots);
	json_object_set_new(o, "inclusion", inc);
	json_object_set_new(o, "consistency", con);
	if (recs == NULL || roots == NULL || inc == NULL || con == NULL)
		return -1;
	audit_db_nodes(db, &src);
	for (int i = 0; i < n; i++) {
		char *rec = NULL;
		size_t rl = 0;

		if (audit_db_record(db, (uint64_t)i, &rec, &rl) != 0)
			return -1;
		json_array_append_new(recs, json_stringn(rec, rl));
		free(rec);
	}
	for (uint64_t size = 1; size <= (uint64_t)n; size++) {
		uint8_t root[AUDIT_HASH_LEN];
		char k[24];

		if (audit_db_root(db, size, root) != 0)
			return -1;
		snprintf(k, sizeof(k), "%llu", (unsigned long long)size);
		json_object_set_new(roots, k, hexs(root));
		for (uint64_t i = 0; i < size; i++) {
			struct audit_proof p;

			if (audit_proof_inclusion(&src, i, size, &p) != 0)
				return -1;
			json_array_append_new(inc, json_pack("{s:I, s:I, s:o}", "index",
			    (json_int_t)i, "size", (json_int_t)size, "path", proof_json(&p)));
		}
		for (uint64_t first = 1; first <= size; first++) {
			struct audit_proof p;

			if (audit_proof_consistency(&src, first, size, &p) != 0)
				return -1;
			json_array_append_new(con, json_pack("{s:I, s:I, s:o}", "first",
			    (json_int_t)first, "second", (json_int_t)size, "path", proof_json(&p)));
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/kw-audit-dump.XXXXXX", path[128], *out;
	struct audit_db *db = NULL;
	struct signed_head h = { .key = NULL };
	json_t *o = NULL;
	int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 40, rc = 1;

	kw_json_init();
	if (argc >= 6 && strcmp(argv[1], "--make") == 0)
		return make(argv[2], (int)strtol(argv[3], NULL, 10), argv[4], argv[5], argv + 6,
		    argc - 6);
	if (n < 1 || n > 200 || mkdtemp(dir) == NULL)
		return 2;
	snprintf(path, sizeof(path), "%s/audit.db", dir);
	if (write_log(path, n) != 0 || audit_db_open(path, true, &db) != 0 ||
	    (o = json_object()) == NULL || dump_proofs(db, n, o) != 0 ||
	    sign_head(db, (uint64_t)n, &h) != 0)
		goto out;
	json_object_set_new(o, "checkpoint", json_stringn(h.note, h.len));
	json_object_set_new(o, "vkey", json_string(h.vtext));
	if ((out = json_dumps(o, JSON_COMPACT)) == NULL)
		goto out;
	puts(out);
	free(out);
	rc = 0;
out:
	audit_db_close(db);
	signed_head_clear(&h);
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
