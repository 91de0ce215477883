/* SPDX-License-Identifier: Apache-2.0 */
/* hsm/hsm_proto.c: the op table shared by both sides, kinds, label rules. */
#include <stdio.h>
#include <string.h>

#include "hsm_proto.h"
#include "kw_util.h"
#include "test_hsm.h"

static void
test_token_label_parse(void)
{
	static const char *const good[] = {"kw-token/0", "kw-token/1", "kw-token/1700000000",
	    "kw-token/999999999999"};
	static const int64_t want[] = {0, 1, 1700000000, 999999999999LL};
	static const char *const bad[] = {"kw-token/", "kw-token/01", "kw-token/00",
	    "kw-token/1234567890123", "kw-token/-1", "kw-token/+1", "kw-token/1a", "kw-token/1 ",
	    "kw-token//1", "kw-token/1/2", "KW-token/1", "kw-token1", "kw-tokens/1", "x/kw-token/1",
	    "", "kw-token/1.5"};
	int64_t n;

	for (size_t i = 0; i < KW_ARRAY_SIZE(good); i++) {
		n = -1;
		CU_ASSERT_EQUAL(hsm_token_label_parse(good[i], strlen(good[i]), &n), 0);
		CU_ASSERT_EQUAL(n, want[i]);
		/* reserved for token keys: never a resource label */
		CU_ASSERT_FALSE(hsm_label_valid(good[i], strlen(good[i])));
	}
	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		n = -1;
		if (hsm_token_label_parse(bad[i], strlen(bad[i]), &n) == 0)
			fprintf(stderr, "accepted token label: %s\n", bad[i]);
		CU_ASSERT_EQUAL(hsm_token_label_parse(bad[i], strlen(bad[i]), &n), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_EQUAL(n, -1);
	}
	/* embedded NUL: len beyond the string */
	CU_ASSERT_EQUAL(hsm_token_label_parse("kw-token/1\0" "2", 12, &n), KW_ERR_INVALID_FORMAT);
	/* the prefix is reserved for resources too, also with a non-numeric tail */
	CU_ASSERT_FALSE(hsm_label_valid("kw-token/x", 10));
	CU_ASSERT_TRUE(hsm_label_valid("kw-token", 8));
	/* the audit key's prefix is reserved like the token keys' */
	CU_ASSERT_FALSE(hsm_label_valid("kw-audit/1", 10));
	CU_ASSERT_FALSE(hsm_key_label_valid("kw-audit/1", 10));
	CU_ASSERT_FALSE(hsm_label_valid("kw-seal/1", 9));
	CU_ASSERT_FALSE(hsm_key_label_valid("kw-seal/1", 9));
	CU_ASSERT_TRUE(hsm_label_valid("kw-audits", 9));
	CU_ASSERT_TRUE(hsm_label_valid("kw-tokens/1", 11));
	CU_ASSERT_TRUE(hsm_label_valid("a/kw-token/1", 12));
}

/* Every op has a distinct name that maps back to it; the flags are the OPS table's. */
static void
test_op_table(void)
{
	static const char *const admin[] = {"generate", "import", "import_key", "key_list",
		"destroy", "token_key_new", "token_key_destroy", "audit_key", "seal_key_new"};
	size_t n_admin = 0, n_selftest = 0, n_recycle = 0;

	CU_ASSERT_PTR_NULL(hsm_op_info(HSM_OP_NONE));
	CU_ASSERT_PTR_NULL(hsm_op_info(HSM_OP__COUNT));
	CU_ASSERT_PTR_NULL(hsm_op_info((enum hsm_op)-1));
	for (int op = HSM_OP_NONE + 1; op < HSM_OP__COUNT; op++) {
		const struct hsm_op_info *info = hsm_op_info((enum hsm_op)op);

		CU_ASSERT_PTR_NOT_NULL_FATAL(info);
		CU_ASSERT_EQUAL(info->op, (enum hsm_op)op);
		CU_ASSERT_EQUAL(hsm_op_from_name(info->name), (enum hsm_op)op);
		for (int other = HSM_OP_NONE + 1; other < op; other++)
			CU_ASSERT_STRING_NOT_EQUAL(hsm_op_info((enum hsm_op)other)->name, info->name);
		n_admin += (info->flags & HSM_OPF_ADMIN) != 0;
		n_selftest += (info->flags & HSM_OPF_SELFTEST) != 0;
		n_recycle += (info->flags & HSM_OPF_RECYCLE) != 0;
	}
	/* the admin class of docs/hsm.md "Deadlines" */
	CU_ASSERT_EQUAL(n_admin, KW_ARRAY_SIZE(admin));
	for (size_t i = 0; i < KW_ARRAY_SIZE(admin); i++)
		CU_ASSERT_TRUE((hsm_op_info(hsm_op_from_name(admin[i]))->flags & HSM_OPF_ADMIN) != 0);
	/* only release needs the self test; release and import make session objects */
	CU_ASSERT_EQUAL(n_selftest, 1);
	CU_ASSERT_TRUE((hsm_op_info(HSM_OP_RELEASE)->flags & HSM_OPF_SELFTEST) != 0);
	CU_ASSERT_EQUAL(n_recycle, 2);
	CU_ASSERT_TRUE((hsm_op_info(HSM_OP_RELEASE)->flags & HSM_OPF_RECYCLE) != 0);
	CU_ASSERT_TRUE((hsm_op_info(HSM_OP_IMPORT)->flags & HSM_OPF_RECYCLE) != 0);
	/* names are exact */
	CU_ASSERT_EQUAL(hsm_op_from_name("Probe"), HSM_OP_NONE);
	CU_ASSERT_EQUAL(hsm_op_from_name("probe "), HSM_OP_NONE);
	CU_ASSERT_EQUAL(hsm_op_from_name(""), HSM_OP_NONE);
	CU_ASSERT_EQUAL(hsm_op_from_name(NULL), HSM_OP_NONE);
}

static void
test_kinds(void)
{
	enum hsm_kind k = 0;

	CU_ASSERT_EQUAL(hsm_kind_from_name("aes-128", &k), 0);
	CU_ASSERT_EQUAL(k, HSM_KIND_AES128);
	CU_ASSERT_EQUAL(hsm_kind_from_name("aes-256", &k), 0);
	CU_ASSERT_EQUAL(k, HSM_KIND_AES256);
	CU_ASSERT_EQUAL(hsm_kind_from_name("secret", &k), 0);
	CU_ASSERT_EQUAL(k, HSM_KIND_SECRET);
	k = 0;
	CU_ASSERT_EQUAL(hsm_kind_from_name("aes-192", &k), KW_ERR_UNSUPPORTED);
	CU_ASSERT_EQUAL(hsm_kind_from_name("AES-128", &k), KW_ERR_UNSUPPORTED);
	CU_ASSERT_EQUAL(hsm_kind_from_name(NULL, &k), KW_ERR_UNSUPPORTED);
	CU_ASSERT_EQUAL(k, 0);    /* not written on failure */
	for (int i = HSM_KIND_AES128; i <= HSM_KIND_SECRET; i++) {
		CU_ASSERT_EQUAL(hsm_kind_from_name(hsm_kind_name((enum hsm_kind)i), &k), 0);
		CU_ASSERT_EQUAL(k, (enum hsm_kind)i);
	}
	CU_ASSERT_PTR_NULL(hsm_kind_name(0));
	CU_ASSERT_PTR_NULL(hsm_kind_name((enum hsm_kind)4));
	CU_ASSERT_EQUAL(hsm_kind_length(HSM_KIND_AES128, 99), 16);
	CU_ASSERT_EQUAL(hsm_kind_length(HSM_KIND_AES256, 0), 32);
	CU_ASSERT_EQUAL(hsm_kind_length(HSM_KIND_SECRET, 20), 20);
}

/* Resource and key label rules, and the reserved prefixes. */
static void
test_label_rules(void)
{
	static const char *const good[] = {"a", "t/aes/one", "kw-key/r/t/x/v1", "A-Z_0.9/x",
		"kw-importx", "kw-token"};
	static const char *const bad[] = {"", "a b", "a..b", "..", "t/%41", "kw-token/1",
		"kw-import/1", "kw-import/", "a\\b", "\xc3\xa9"};
	char big[HSM_LABEL_MAX + 2];

	for (size_t i = 0; i < KW_ARRAY_SIZE(good); i++)
		CU_ASSERT_TRUE(hsm_label_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++)
		CU_ASSERT_FALSE(hsm_label_valid(bad[i], strlen(bad[i])));
	memset(big, 'a', sizeof(big));
	big[HSM_LABEL_MAX] = '\0';
	CU_ASSERT_TRUE(hsm_label_valid(big, HSM_LABEL_MAX));
	big[HSM_LABEL_MAX] = 'a';
	big[HSM_LABEL_MAX + 1] = '\0';
	CU_ASSERT_FALSE(hsm_label_valid(big, HSM_LABEL_MAX + 1));
	/* an embedded NUL: len says more than the string holds */
	CU_ASSERT_FALSE(hsm_label_valid("ab\0c", 4));
	CU_ASSERT_TRUE(hsm_key_label_valid("kw-key/x", 8));
	CU_ASSERT_FALSE(hsm_key_label_valid("kw-key/", 7));
	CU_ASSERT_FALSE(hsm_key_label_valid("kw-key", 6));
	CU_ASSERT_FALSE(hsm_key_label_valid("t/aes/one", 9));
	CU_ASSERT_FALSE(hsm_key_label_valid("kw-key/../x", 11));
}

int
test_hsm_proto_suite(void)
{
	static const struct hsm_test tests[] = {
		{"token_label_parse", test_token_label_parse},
		{"op_table", test_op_table},
		{"kinds", test_kinds},
		{"label_rules", test_label_rules},
		{NULL, NULL},
	};

	return hsm_test_add_suite("hsm_proto", false, tests);
}
