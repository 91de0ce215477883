/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_TEST_MANIFEST_H
#define KW_TEST_MANIFEST_H

/*
 * An empty file for OPENSSL_CONF (set before OpenSSL is first used, so the
 * process's TLS defaults are the library's), or NULL.
 */
const char *manifest_tests_env(void);
/* Register the "manifest" CUnit suite; 0 or -1. */
int manifest_tests_add(void);

#endif
