/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_SECRET_H
#define KW_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "kw_err.h"

/*
 * The only carrier of keys, PINs and session keys. Page-backed (mmap), with
 * MADV_DONTDUMP, mlock attempted, guard-free but wiped on free. The struct is
 * opaque so it cannot be passed to printf by accident.
 */
struct kw_secret;

/* New zeroed secret of len bytes (1..1 MiB). */
int kw_secret_new(size_t len, struct kw_secret **ret) KW_WUR;
/* New secret holding a copy of p[0..len). */
int kw_secret_from(const void *p, size_t len, struct kw_secret **ret) KW_WUR;
/*
 * Read a secret from a file, at most max bytes (more: KW_ERR_TOO_LARGE).
 * With trim_newline one trailing "\n" or "\r\n" is dropped and an empty
 * result is KW_ERR_INVALID_FORMAT (PINs); without it the bytes are exact
 * and an empty file is KW_ERR_TRUNCATED (key values).
 */
int kw_secret_read_file(const char *path, size_t max, int trim_newline,
    struct kw_secret **ret) KW_WUR;
/* kw_secret_read_file(path, max, 1, ret): a PIN-like one-line secret. */
int kw_secret_from_file(const char *path, size_t max, struct kw_secret **ret) KW_WUR;
uint8_t *kw_secret_ptr(struct kw_secret *s);
const uint8_t *kw_secret_cptr(const struct kw_secret *s);
size_t kw_secret_len(const struct kw_secret *s);
/* Shrink the visible length (e.g. after a decode); never grows. */
void kw_secret_set_len(struct kw_secret *s, size_t len);
/* Wipe and unmap; NULL-safe. */
void kw_secret_free(struct kw_secret *s);

/*
 * Process hardening at start: PR_SET_DUMPABLE 0, RLIMIT_CORE 0, and
 * OpenSSL's secure heap. Call once from main().
 */
void kw_secret_harden_process(void);

#endif
