/* SPDX-License-Identifier: Apache-2.0 */
/* keywarden-pg.so's entry point: the PostgreSQL backend's table (store_int.h). */
#include "kw_build.h"
#include "store_int.h"

__attribute__((visibility("default"))) const struct kw_pg_ops *
kw_pg_module_v1(void)
{
	static const struct kw_pg_ops ops = {
		.abi = KW_PG_MODULE_ABI,
		.version = KW_VERSION,
		.open = kw_pg_open,
		.close = kw_pg_close,
		.schema_version = kw_pg_schema_version,
		.set_wait = kw_pg_set_wait,
		.key_create = kw_pg_key_create,
		.version_add = kw_pg_version_add,
		.version_commit = kw_pg_version_commit,
		.version_abort = kw_pg_version_abort,
		.keys_query = kw_pg_keys_query,
		.key_set_state = kw_pg_key_set_state,
		.version_set_state = kw_pg_version_set_state,
		.key_set_policy = kw_pg_key_set_policy,
		.key_delete_begin = kw_pg_key_delete_begin,
		.key_delete_finish = kw_pg_key_delete_finish,
		.release_lookup = kw_pg_release_lookup,
		.all_versions = kw_pg_all_versions,
		.doc_put = kw_pg_doc_put,
		.docs = kw_pg_docs,
		.change_add = kw_pg_change_add,
		.changes = kw_pg_changes,
		.once = kw_pg_once,
		.audit_append = kw_pg_audit_append,
		.audit_size = kw_pg_audit_size,
		.audit_records = kw_pg_audit_records,
		.audit_node = kw_pg_audit_node,
		.audit_checkpoint_add = kw_pg_audit_checkpoint_add,
		.audit_checkpoint = kw_pg_audit_checkpoint,
		.audit_list = kw_pg_audit_list,
		.audit_lease = kw_pg_audit_lease,
		.ping = kw_pg_ping,
	};

	return &ops;
}
