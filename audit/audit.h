/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_AUDIT_H
#define KW_AUDIT_H

/*
 * The audit record stream (docs/audit.md).
 *
 * Records are JSON objects encoded canonically (RFC 8785, kw_jcs):
 *   {"at":<seconds>,"data":{...},"index":<n>,"kind":"<kind>","prev":"<hex>","v":1}
 * "prev" is the RFC 6962 leaf hash of record n-1 (64 zeros for record 0).
 * The encodings are the leaves of an RFC 6962 / RFC 9162 Merkle tree
 * (leaf hash SHA-256(0x00 || record), node hash SHA-256(0x01 || l || r)).
 * Checkpoints are C2SP signed notes (tlog-checkpoint) signed with ECDSA
 * P-256 (signed-note type 0x02).
 *
 * No libevent here: a writer thread does group commit; callers are told by a
 * callback on that thread, or wait.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "kw_err.h"

#define AUDIT_HASH_LEN 32
#define AUDIT_RECORD_MAX (16 * 1024)   /* one encoded record */
#define AUDIT_TEXT_MAX 1024            /* one string member of a record's data */
#define AUDIT_TREE_MAX_LEVELS 64

/* ---- record kinds and encoding (audit_record.c) ---- */

enum audit_kind {
	AUDIT_KIND_APPRAISAL = 1,
	AUDIT_KIND_RELEASE,
	AUDIT_KIND_DENIAL,
	AUDIT_KIND_ADMIN_CHANGE,
	AUDIT_KIND_START,
	AUDIT_KIND_STOP,
	AUDIT_KIND_TOKEN_KEY_ROTATION,
	AUDIT_KIND__END,
};

/* "appraisal", ...; NULL for an unknown value. */
const char *audit_kind_name(enum audit_kind k);
/* 0 and *ret, or KW_ERR_INVALID_FORMAT for an unknown name. */
int audit_kind_from_name(const char *name, enum audit_kind *ret) KW_WUR;

/*
 * Check data against the schema of kind (docs/audit.md "Record schema"):
 * an object with only the kind's members, the required ones present, of the
 * right types, strings of 1..AUDIT_TEXT_MAX bytes. Returns 0,
 * KW_ERR_INVALID_ARG (not an object, unknown kind) or KW_ERR_INVALID_FORMAT
 * (*ret_why, may be NULL, names the member: a static string).
 */
int audit_data_check(enum audit_kind kind, const json_t *data, const char **ret_why) KW_WUR;

/*
 * The canonical encoding of record index with the given predecessor hash.
 * data is checked (audit_data_check). Returns 0 and *ret (malloc'd, NUL
 * terminated, not counted in *ret_len), or KW_ERR_INVALID_ARG,
 * KW_ERR_INVALID_FORMAT, KW_ERR_TOO_LARGE (> AUDIT_RECORD_MAX), KW_ERR_NOMEM.
 */
int audit_record_encode(uint64_t index, int64_t at, enum audit_kind kind,
    const uint8_t prev[static AUDIT_HASH_LEN], const json_t *data, char **ret,
    size_t *ret_len) KW_WUR;

/* A decoded record; data is a new reference owned by the struct. */
struct audit_record {
	uint64_t index;
	int64_t at;
	enum audit_kind kind;
	uint8_t prev[AUDIT_HASH_LEN];
	json_t *data;
};
/*
 * Parse an encoded record strictly: the canonical encoding (re-encoding gives
 * the same bytes), the members above and a valid data object. 0 and *ret
 * (release with audit_record_clear), else KW_ERR_INVALID_FORMAT,
 * KW_ERR_TOO_LARGE or KW_ERR_NOMEM.
 */
int audit_record_decode(const void *buf, size_t len, struct audit_record *ret) KW_WUR;
void audit_record_clear(struct audit_record *rec);

/* ---- RFC 6962 hashing, the compact range, proofs (audit_tree.c) ---- */

/* SHA-256(0x00 || leaf): 0 or KW_ERR_CRYPTO. */
int audit_leaf_hash(const void *leaf, size_t len, uint8_t out[static AUDIT_HASH_LEN]) KW_WUR;
/* SHA-256(0x01 || left || right): 0 or KW_ERR_CRYPTO. */
int audit_node_hash(const uint8_t left[static AUDIT_HASH_LEN],
    const uint8_t right[static AUDIT_HASH_LEN], uint8_t out[static AUDIT_HASH_LEN]) KW_WUR;
/* SHA-256 of nothing: the root of the empty tree. */
int audit_empty_root(uint8_t out[static AUDIT_HASH_LEN]) KW_WUR;

/*
 * The compact range of a tree of size leaves: the roots of its perfect
 * subtrees, largest (leftmost) first, one per bit set in size. Appending is
 * O(log n); the root is folded from the right.
 */
struct audit_frontier {
	uint64_t size;
	unsigned int n;                         /* popcount(size) */
	uint8_t hash[AUDIT_TREE_MAX_LEVELS][AUDIT_HASH_LEN];
};
void audit_frontier_init(struct audit_frontier *f);
/*
 * Append a leaf hash. on_node (may be NULL) is called for every perfect
 * subtree root this completes, level >= 1, with its index at that level
 * (leaf range [idx << level, (idx + 1) << level)); a non-zero return stops
 * and is returned, f then being unchanged. KW_ERR_TOO_LARGE at 2^63 leaves.
 */
typedef int (*audit_node_cb)(void *arg, unsigned int level, uint64_t idx,
    const uint8_t hash[static AUDIT_HASH_LEN]);
int audit_frontier_append(struct audit_frontier *f, const uint8_t leaf[static AUDIT_HASH_LEN],
    audit_node_cb on_node, void *arg) KW_WUR;
/* The tree head (the empty root for size 0). */
int audit_frontier_root(const struct audit_frontier *f, uint8_t out[static AUDIT_HASH_LEN]) KW_WUR;

/*
 * Where proofs get the roots of perfect subtrees: level 0 = leaf hashes,
 * level L, index i = MTH(D[i*2^L : (i+1)*2^L]). 0 or an error (passed on).
 */
struct audit_nodes {
	int (*get)(void *arg, unsigned int level, uint64_t idx, uint8_t out[static AUDIT_HASH_LEN]);
	void *arg;
};

#define AUDIT_PROOF_MAX AUDIT_TREE_MAX_LEVELS
struct audit_proof {
	size_t n;
	uint8_t hash[AUDIT_PROOF_MAX][AUDIT_HASH_LEN];
};

/* MTH(D[0:size]) from the node source (O(log size) lookups). size 0: the empty root. */
int audit_tree_root(const struct audit_nodes *src, uint64_t size,
    uint8_t out[static AUDIT_HASH_LEN]) KW_WUR;
/*
 * The compact range of D[0:size] (what audit_frontier_append would have
 * built): popcount(size) lookups. KW_ERR_INVALID_ARG for size >= 2^62.
 */
int audit_tree_compact_range(const struct audit_nodes *src, uint64_t size,
    struct audit_frontier *ret) KW_WUR;
/*
 * RFC 9162 §2.1.3.1 inclusion proof of leaf index in the tree of size leaves
 * (index < size, else KW_ERR_INVALID_ARG).
 */
int audit_proof_inclusion(const struct audit_nodes *src, uint64_t index, uint64_t size,
    struct audit_proof *ret) KW_WUR;
/*
 * RFC 9162 §2.1.4.1 consistency proof from size first to size second
 * (0 < first <= second, else KW_ERR_INVALID_ARG; first == second: empty).
 */
int audit_proof_consistency(const struct audit_nodes *src, uint64_t first, uint64_t second,
    struct audit_proof *ret) KW_WUR;
/*
 * RFC 9162 §2.1.3.2: 0 when proof shows leaf (a leaf hash) at index in the
 * tree of size with root; KW_ERR_MISMATCH when it does not;
 * KW_ERR_INVALID_ARG for index >= size.
 */
int audit_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf[static AUDIT_HASH_LEN],
    const struct audit_proof *proof, const uint8_t root[static AUDIT_HASH_LEN]) KW_WUR;
/* RFC 9162 §2.1.4.2: 0, KW_ERR_MISMATCH, or KW_ERR_INVALID_ARG (first == 0, first > second). */
int audit_verify_consistency(uint64_t first, uint64_t second,
    const uint8_t first_root[static AUDIT_HASH_LEN],
    const uint8_t second_root[static AUDIT_HASH_LEN], const struct audit_proof *proof) KW_WUR;

/*
 * A node source over an array of n leaf hashes in memory (for tests and the
 * offline verifier): perfect subtree roots are computed on demand.
 */
struct audit_mem_nodes {
	const uint8_t (*leaves)[AUDIT_HASH_LEN];
	uint64_t n;
};
void audit_nodes_from_mem(const struct audit_mem_nodes *m, struct audit_nodes *ret);

/* ---- checkpoints: C2SP signed notes with ECDSA P-256 (audit_checkpoint.c) ---- */

#define AUDIT_ORIGIN_MAX 256
#define AUDIT_NOTE_MAX (64 * 1024)   /* 16 signatures, post-quantum ones too */
#define AUDIT_ECDSA_SIG_LEN 64   /* R || S, what the HSM's CKM_ECDSA gives */
/* signed-note signature type of ECDSA (c2sp.org/signed-note: 0x02) */
#define AUDIT_NOTE_TYPE_ECDSA 0x02

struct audit_checkpoint {
	char origin[AUDIT_ORIGIN_MAX + 1];
	uint64_t size;
	uint8_t root[AUDIT_HASH_LEN];
	int64_t time;      /* the "time <seconds>" extension line; -1 when absent */
};

/*
 * The signer: ECDSA P-256 over digest (SHA-256 of the note text) giving
 * R || S. The broker routes this to the HSM; tests use a software key.
 * Returns 0 or an error (passed on).
 */
typedef int (*audit_sign_fn)(void *arg, const uint8_t digest[static 32],
    uint8_t ret_sig[static AUDIT_ECDSA_SIG_LEN]);

/*
 * The verifier key: name, the key ID and the public key. Its text form is the
 * one of transparency-dev and sigstore for type 0x02:
 *   <name>+<8 hex digits key ID>+base64(0x02 || DER SubjectPublicKeyInfo)
 * with key ID = the first four bytes (big-endian) of SHA-256(SPKI).
 */
struct audit_vkey;
/* From an EC P-256 public (or private: only the public half is kept) key. */
int audit_vkey_from_pkey(const char *name, void *evp_pkey, struct audit_vkey **ret) KW_WUR;
/* Parse the text form (strict: KW_ERR_INVALID_FORMAT, KW_ERR_UNSUPPORTED for other types/curves). */
int audit_vkey_parse(const char *text, size_t len, struct audit_vkey **ret) KW_WUR;
/* The text form (malloc'd). */
int audit_vkey_format(const struct audit_vkey *k, char **ret) KW_WUR;
const char *audit_vkey_name(const struct audit_vkey *k);
uint32_t audit_vkey_id(const struct audit_vkey *k);
void audit_vkey_free(struct audit_vkey *k);

/*
 * The note text of a checkpoint (origin, size, base64 root, and "time <t>"
 * when time >= 0), each line ending in a newline. KW_ERR_INVALID_ARG for an
 * origin that is empty, too long, or holds a space, '+' or a control byte.
 */
int audit_checkpoint_text(const struct audit_checkpoint *cp, char **ret, size_t *ret_len) KW_WUR;
/*
 * The whole signed checkpoint: text, a blank line and the signature line
 * "— <name> base64(key ID || DER ECDSA signature)". sign is called once.
 */
int audit_checkpoint_sign(const struct audit_checkpoint *cp, const struct audit_vkey *key,
    audit_sign_fn sign, void *sign_arg, char **ret, size_t *ret_len) KW_WUR;
/*
 * Parse and verify a signed checkpoint against key. Signatures of other keys
 * are ignored (signed-note), at most 16 signature lines; the note is
 * accepted only when a signature of key verifies. Returns 0 and *ret, or
 * KW_ERR_INVALID_FORMAT, KW_ERR_TOO_LARGE (> AUDIT_NOTE_MAX),
 * KW_ERR_NOT_FOUND (no signature by key), KW_ERR_SIG_INVALID.
 */
int audit_checkpoint_verify(const char *note, size_t len, const struct audit_vkey *key,
    struct audit_checkpoint *ret) KW_WUR;
/* Parse only (no signature check): for fuzzing and diagnostics. */
int audit_checkpoint_parse(const char *note, size_t len, struct audit_checkpoint *ret) KW_WUR;

/* ---- the store: append-only tables, reads and proofs (audit_db.c) ---- */

/*
 * Tables (in the broker's database file or one of their own):
 *   audit_records (idx, at, kind, repository, resource, decision, record, leaf_hash)
 *   audit_nodes (level, idx, hash): perfect subtree roots, level >= 1
 *   audit_checkpoints (size, at, note)
 * all append-only (triggers refuse UPDATE and DELETE).
 * An audit_db is one SQLite connection: one thread at a time.
 */
struct audit_db;

/* readonly: never writes and requires the tables to exist (KW_ERR_NOT_FOUND). */
int audit_db_open(const char *path, bool readonly, struct audit_db **ret) KW_WUR;
void audit_db_close(struct audit_db *db);
/* Committed records. */
int audit_db_size(struct audit_db *db, uint64_t *ret) KW_WUR;
/* The encoding of record index (malloc'd). KW_ERR_NOT_FOUND past the end. */
int audit_db_record(struct audit_db *db, uint64_t index, char **ret, size_t *ret_len) KW_WUR;
/* A node source reading the tables (valid while db is open). */
void audit_db_nodes(struct audit_db *db, struct audit_nodes *ret);
/* Root at size (<= audit_db_size). */
int audit_db_root(struct audit_db *db, uint64_t size, uint8_t out[static AUDIT_HASH_LEN]) KW_WUR;
/* Store a signed checkpoint (its size must be <= the log size; KW_ERR_EXISTS for a stored size). */
int audit_db_checkpoint_add(struct audit_db *db, uint64_t size, int64_t at, const char *note) KW_WUR;
/* The newest stored checkpoint note (malloc'd); KW_ERR_NOT_FOUND when none. */
int audit_db_checkpoint_latest(struct audit_db *db, char **ret) KW_WUR;
/* The stored checkpoint of the smallest size >= size (malloc'd); KW_ERR_NOT_FOUND when none. */
int audit_db_checkpoint_covering(struct audit_db *db, uint64_t size, char **ret) KW_WUR;
/* The time of the oldest stored checkpoint (about the checkpoint key's first use); KW_ERR_NOT_FOUND when none. */
int audit_db_checkpoint_first_at(struct audit_db *db, int64_t *ret) KW_WUR;
/*
 * The admin listing: records with index >= start matching every given filter
 * (at in [since, until), -1: unbounded; the strings: NULL for any; decision
 * is the decision column), at most limit (1..10000), in index order, each a
 * decoded JSON object in the array *ret. *ret_next is the index to start
 * the next page at when the page is full, else 0.
 */
struct audit_filter {
	int64_t since, until;
	const char *repository, *resource, *kind, *decision;
};
int audit_db_list(struct audit_db *db, const struct audit_filter *f, uint64_t start, size_t limit,
    json_t **ret, uint64_t *ret_next) KW_WUR;
/*
 * Write records [from, to) to f, one canonical record per line (JSON Lines:
 * JCS output holds no newline). The export format of audit_verify_log.
 */
int audit_db_export(struct audit_db *db, uint64_t from, uint64_t to, FILE *f) KW_WUR;

/*
 * Another backend than SQLite: the broker's PostgreSQL store keeps one log
 * for every replica (docs/ha.md "Audit across replicas"). The backend's
 * calls take and return what the SQLite functions above do; audit_db_*
 * dispatch to them, and a writer opened on a backend hands it whole batches.
 */
struct audit_batch_row {
	uint64_t index;
	int64_t at;
	const char *kind, *repository, *resource, *decision;   /* the filter columns (may be NULL) */
	char *record;                                          /* the canonical bytes, NUL terminated */
	size_t len;
	uint8_t leaf[AUDIT_HASH_LEN];
};
struct audit_batch_node {
	unsigned int level;
	uint64_t idx;
	uint8_t hash[AUDIT_HASH_LEN];
};
/*
 * A batch of queued records. The backend's append takes its lock on the
 * log's head, reads the head into head/last, calls build (which encodes the
 * records after that head: rows, the subtree roots they complete, and
 * head/last after them; 0 or KW_ERR_NOMEM, KW_ERR_TOO_LARGE, an encoding
 * error), writes all of it with the new head, and commits. It may call build
 * again on a retry. (A function pointer: the backend may be a module.)
 */
struct audit_batch {
	struct audit_frontier head;       /* in: the committed head; out: after the batch */
	uint8_t last[AUDIT_HASH_LEN];     /* the leaf hash of record head.size - 1 (zeros: none) */
	struct audit_batch_row *rows;
	size_t nrows;
	struct audit_batch_node *nodes;
	size_t nnodes;
	int (*build)(struct audit_batch *b);
	void *items;                      /* the writer's */
	size_t n;
};

/* Called per record, in index order; a non-zero return stops and is returned. */
typedef int (*audit_record_fn)(void *ctx, uint64_t index, const char *rec, size_t len);
enum audit_cp_query { AUDIT_CP_LATEST, AUDIT_CP_COVERING, AUDIT_CP_FIRST_AT };

struct audit_backend {
	void *arg;
	/* committed records */
	int (*size)(void *arg, uint64_t *ret);
	/* records [from, to), at most 1000 per call */
	int (*records)(void *arg, uint64_t from, uint64_t to, audit_record_fn each, void *ctx);
	/* level 0: the leaf hash; KW_ERR_NOT_FOUND when absent */
	int (*node)(void *arg, unsigned int level, uint64_t idx, uint8_t out[static AUDIT_HASH_LEN]);
	int (*checkpoint_add)(void *arg, uint64_t size, int64_t at, const char *note);
	/* LATEST / COVERING (size >= the given one): *ret_note; FIRST_AT: *ret_at */
	int (*checkpoint)(void *arg, enum audit_cp_query q, uint64_t size, char **ret_note,
	    int64_t *ret_at);
	int (*list)(void *arg, const struct audit_filter *f, uint64_t start, size_t limit,
	    json_t **ret, uint64_t *ret_next);
	/* the whole batch in one transaction (above): 0 once committed */
	int (*append)(void *arg, struct audit_batch *b);
};
/* An audit_db over be (copied; be->arg must outlive it). */
int audit_db_open_backend(const struct audit_backend *be, struct audit_db **ret) KW_WUR;

/* ---- the group-commit writer (audit_writer.c) ---- */

struct audit_writer;
struct audit_writer_config {
	unsigned int max_batch;   /* records per transaction (0: 256) */
	unsigned int queue_max;   /* records queued (0: 8192); more: KW_ERR_UNAVAILABLE */
	bool one_per_commit;      /* benchmark baseline: one transaction (fsync) per record */
};

/*
 * Open (create) the tables in the database at path and start the writer
 * thread. The database runs in WAL mode with synchronous=FULL: a batch is
 * durable when its COMMIT returns.
 */
int audit_writer_open(const char *path, const struct audit_writer_config *cfg,
    struct audit_writer **ret) KW_WUR;
/* The same on a backend (audit_db_open_backend): each batch is be->append's transaction. */
int audit_writer_open_backend(const struct audit_backend *be, const struct audit_writer_config *cfg,
    struct audit_writer **ret) KW_WUR;
/*
 * Called exactly once per accepted append, on the writer thread, after the
 * batch holding it committed (r == 0, index its leaf index) or failed
 * (r < 0: KW_ERR_IO — disk full, read-only file —, KW_ERR_UNAVAILABLE — the
 * database is locked —, KW_ERR_NOMEM; nothing of the batch was written).
 * Must not call back into the writer's blocking functions.
 */
typedef void (*audit_done_fn)(void *arg, int r, uint64_t index);
/*
 * Queue a record. data is checked and copied here (the caller keeps it).
 * Returns 0 (done will be called) or, and then done is never called,
 * KW_ERR_INVALID_ARG, KW_ERR_INVALID_FORMAT (audit_data_check),
 * KW_ERR_UNAVAILABLE (queue full or writer stopping), KW_ERR_NOMEM.
 */
int audit_writer_append(struct audit_writer *w, enum audit_kind kind, int64_t at,
    const json_t *data, audit_done_fn done, void *arg) KW_WUR;
/* Queue and wait until durable: 0 and *ret_index (may be NULL), or the error. */
int audit_writer_append_wait(struct audit_writer *w, enum audit_kind kind, int64_t at,
    const json_t *data, uint64_t *ret_index) KW_WUR;
/* Counters: records and transactions committed, batches failed. */
struct audit_writer_stats {
	uint64_t size, records, commits, failed_batches;
};
void audit_writer_stats(struct audit_writer *w, struct audit_writer_stats *ret);
/* Finish every queued append, stop the thread, close. NULL-safe. */
void audit_writer_close(struct audit_writer *w);

/* ---- offline verification (audit_verify.c) ---- */

struct audit_verify_result {
	bool ok;
	uint64_t records;      /* records read */
	uint64_t checked;      /* size the checkpoint vouches for */
	uint64_t first_bad;    /* valid when !ok */
	const char *reason;    /* static text */
};

/*
 * Verify exported records (recs[i] of lens[i] bytes, in file order) against
 * a signed checkpoint and its key: every record parses canonically, holds
 * index i and the leaf hash of record i-1 as prev, and the tree of the first
 * checkpoint.size records has the checkpoint's root. Returns 0 with
 * ret->ok false and ret->first_bad for a bad log (docs/audit.md says how a
 * break is attributed), or an error for bad arguments, a checkpoint that
 * does not verify (KW_ERR_SIG_INVALID, ...) or NOMEM.
 */
int audit_verify_log(const char *const *recs, const size_t *lens, uint64_t n,
    const char *note, size_t note_len, const struct audit_vkey *key,
    struct audit_verify_result *ret) KW_WUR;
/* The same for an export file (JSON Lines as audit_db_export writes it). */
int audit_verify_file(const char *path, const char *note, size_t note_len,
    const struct audit_vkey *key, struct audit_verify_result *ret) KW_WUR;

/* ---- segments: a range verifiable on its own, for retention (audit_segment.c) ---- */

/*
 * A segment export (docs/audit.md "Retention") is JSON Lines: one header
 * line, the RFC 8785 form of
 *   {"checkpoint":<signed note of size N >= to>,
 *    "consistency":[<hex>...],   RFC 9162 proof from to to N ([] when to == N)
 *    "format":"keywarden-audit-segment","from":F,
 *    "latest":{"checkpoint":<newer note>,"consistency":[<hex>...]},   optional
 *    "left":[<hex>...],          compact range of D[0:from], largest first
 *    "to":T,"v":1}
 * then records from..to-1, one per line, exactly as audit_db_export writes.
 */
#define AUDIT_SEGMENT_FORMAT "keywarden-audit-segment"

struct audit_segment_info {
	uint64_t from, to;          /* the range [from, to) */
	uint64_t size;              /* the tree size of the segment's checkpoint */
	uint64_t latest_size;       /* the newer checkpoint's size; 0 when none */
	char origin[AUDIT_ORIGIN_MAX + 1];
	uint8_t first_prev[AUDIT_HASH_LEN];   /* verify: the first record's prev */
	uint8_t last_leaf[AUDIT_HASH_LEN];    /* verify: the last record's leaf hash */
};

/*
 * Write records [from, to) of db as a segment to f, with the stored
 * checkpoint of the smallest size >= to, and the newest stored checkpoint
 * when it is larger. The checkpoints are checked against the tables' tree
 * (KW_ERR_MISMATCH when one is not). Returns 0 and *ret_info (may be NULL;
 * first_prev and last_leaf unset), KW_ERR_INVALID_ARG (from >= to, to past
 * the log), KW_ERR_NOT_FOUND (no checkpoint covers to), KW_ERR_IO or a
 * database error.
 */
int audit_segment_export(struct audit_db *db, uint64_t from, uint64_t to, FILE *f,
    struct audit_segment_info *ret_info) KW_WUR;
/*
 * Verify a segment (buf, len: the whole export) with the log's key: the
 * header is well formed (else KW_ERR_INVALID_FORMAT), its checkpoint
 * verifies with key and names the key's log as origin (else the error of
 * audit_checkpoint_verify, or KW_ERR_NOT_FOUND for another origin), the
 * newer checkpoint, when present, likewise and consistent with it
 * (KW_ERR_MISMATCH: the log forked). Then the verdict in *ret, as
 * audit_verify_log gives it: every record decodes canonically and holds its
 * index from, from + 1, ..., each names its predecessor's leaf hash in
 * prev, the segment holds exactly to - from records, and they are the
 * leaves from..to-1 of the checkpoint's tree. ret->first_bad is a log
 * index. *ret_info (may be NULL) says what the segment is.
 */
int audit_verify_segment(const char *buf, size_t len, const struct audit_vkey *key,
    struct audit_verify_result *ret, struct audit_segment_info *ret_info) KW_WUR;
/* The same for a segment file (up to 1 GiB; KW_ERR_IO, KW_ERR_TOO_LARGE). */
int audit_verify_segment_file(const char *path, const struct audit_vkey *key,
    struct audit_verify_result *ret, struct audit_segment_info *ret_info) KW_WUR;

#endif
