/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_AUDIT_INT_H
#define KW_AUDIT_INT_H

/* Between audit_db.c and the writer (audit_writer.c); not for other modules. */
#include "audit.h"

/* BEGIN IMMEDIATE: 0 or an error. */
int audit_db_begin(struct audit_db *db) KW_WUR;
/* COMMIT when r == 0, else (and when the commit fails) ROLLBACK: r or the commit's error. */
int audit_db_end(struct audit_db *db, int r) KW_WUR;
/* Insert one record row; decision, repository, resource may be NULL. */
int audit_db_insert_record(struct audit_db *db, uint64_t index, int64_t at,
    enum audit_kind kind, const char *repository, const char *resource, const char *decision,
    const char *record, size_t len, const uint8_t leaf[static AUDIT_HASH_LEN]) KW_WUR;
/* Insert one perfect subtree root (level >= 1). */
int audit_db_insert_node(struct audit_db *db, unsigned int level, uint64_t idx,
    const uint8_t hash[static AUDIT_HASH_LEN]) KW_WUR;
/* The compact range and the last leaf hash (zeros when empty) of the committed log. */
int audit_db_load_head(struct audit_db *db, struct audit_frontier *ret_f,
    uint8_t ret_last[static AUDIT_HASH_LEN]) KW_WUR;

/* The backend of db (audit_db_open_backend), NULL for SQLite. */
const struct audit_backend *audit_db_backend(const struct audit_db *db);

/* Mark res bad at index i for the static reason why. */
void audit_verify_bad(struct audit_verify_result *res, uint64_t i, const char *why);
/*
 * The record checks of audit_verify_log for n records holding indexes base,
 * base + 1, ...: each decodes canonically, holds its index, and names the
 * leaf hash of its predecessor as prev (the first one first_prev, unchecked
 * when NULL); leaves[i] is record i's leaf hash. Marks res bad at the first
 * bad index (docs/audit.md says how a break is attributed). 0 or KW_ERR_NOMEM.
 */
int audit_verify_chain(const char *const *recs, const size_t *lens, uint64_t n, uint64_t base,
    const uint8_t *first_prev, const uint8_t (*leaves)[AUDIT_HASH_LEN],
    struct audit_verify_result *res) KW_WUR;

/*
 * Split buf at '\n' only (records may hold U+2028): *ret_lines[i] points
 * into buf, *ret_lens[i] its length without the newline; a last line without
 * one counts too. Both arrays malloc'd (NULL when n is 0). 0 or KW_ERR_NOMEM.
 */
int audit_split_lines(const char *buf, size_t len, const char ***ret_lines, size_t **ret_lens,
    size_t *ret_n) KW_WUR;

#endif
