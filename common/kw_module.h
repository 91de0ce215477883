/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_MODULE_H
#define KW_MODULE_H

#include <stddef.h>

#include "kw_err.h"

/*
 * keywarden's optional parts that pull in large library trees (libcurl for
 * the Intel PCS/PCCS collateral sources, libpq for the PostgreSQL store) are
 * modules loaded only when the configuration asks for them, so that a broker
 * that does not use them does not map them (docs/performance.md, idle RSS).
 *
 * kw_module_load looks for FILE next to the executable, in the build tree's
 * subdirectory SUBDIR beside it (../SUBDIR), then in INSTALL_DIR; TEST_DIR
 * (NULL in production; test-hook builds pass $KEYWARDEN_TEST_MODULE_DIR)
 * first. The file must be a regular
 * file owned by root or by the effective user and writable by no one else.
 * It is opened with RTLD_NOW | RTLD_LOCAL (and never closed), and ENTRY, a
 * function without arguments that returns a pointer, is called; its result is
 * *ret. The caller checks what it points to (an interface number and
 * KW_VERSION). On failure why holds one line; nothing is written to *ret.
 * Errors: KW_ERR_NOT_FOUND, KW_ERR_CONFIG (ownership or mode), KW_ERR_IO
 * (dlopen), KW_ERR_UNSUPPORTED (no ENTRY, or it returned NULL).
 */
int kw_module_load(const char *file, const char *test_dir, const char *subdir,
    const char *install_dir, const char *entry, const void **ret, char *path, size_t pathlen,
    char *why, size_t whylen) KW_WUR;

#endif
