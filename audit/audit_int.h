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

#endif
