/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_UTIL_H
#define KW_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "kw_err.h"

/* Lower-case hex of n bytes into a new NUL-terminated string (free()). */
int kw_hex_encode(const void *in, size_t n, char **ret) KW_WUR;
/* Strict hex decode (either case, even length, exactly outlen bytes). */
int kw_hex_decode(const char *in, uint8_t *out, size_t outlen) KW_WUR;
/* The value of hex digit c (either case), or -1. */
int kw_hex_digit(char c);

/*
 * Read a whole regular file of at most max bytes into a new buffer (one
 * extra NUL byte is appended but not counted). KW_ERR_TOO_LARGE when bigger,
 * KW_ERR_IO when it cannot be opened or read.
 */
int kw_file_read(const char *path, size_t max, uint8_t **ret, size_t *ret_len) KW_WUR;

/*
 * The one bounded reader of files and descriptors: read fd to its end into
 * buf, which holds max + 1 bytes (one byte more than max proves that the
 * input is longer). Sizes from stat are never trusted (configfs, procfs,
 * pipes). Returns 0 and *ret_len <= max, KW_ERR_TOO_LARGE or KW_ERR_IO;
 * buf's contents are unspecified on failure (the caller wipes it if needed).
 */
int kw_fd_read_all(int fd, uint8_t *buf, size_t max, size_t *ret_len) KW_WUR;

/*
 * Write buf to path atomically: a temporary file in the same directory with
 * the given mode, fsync, rename. Never leaves a partial file at path.
 */
int kw_file_write_atomic(const char *path, const void *buf, size_t len, unsigned int mode) KW_WUR;

/* Zero memory in a way the compiler cannot elide. */
void kw_wipe(void *p, size_t n);
/* free() after wiping malloc_usable_size(p) bytes; NULL-safe. */
void kw_free_wipe(void *p);
/* strdup that returns NULL on NULL input. */
char *kw_strdup(const char *s);

/*
 * Parse an RFC 3339 UTC time ("2026-11-28T09:17:15Z", fractional seconds
 * and numeric offsets accepted) into seconds since the epoch.
 */
int kw_time_parse_rfc3339(const char *s, int64_t *ret) KW_WUR;
/* Format t as "YYYY-MM-DDTHH:MM:SSZ" into out (at least 21 bytes). */
void kw_time_format_rfc3339(int64_t t, char out[static 21]);
/* Seconds since the epoch from the wall clock. */
int64_t kw_time_now(void);
/* CLOCK_MONOTONIC in microseconds (durations, deadlines). */
int64_t kw_mono_us(void);
/* This process's CPU time (all threads, CLOCK_PROCESS_CPUTIME_ID) in milliseconds (benchmarks). */
double kw_cpu_ms(void);

#define KW_DURATION_MAX (3650LL * 86400)     /* kw_duration_parse upper bound (10 years) */
/*
 * Parse "<digits><unit>" with unit d, h, m or s ("7d", "12h", "30m", "45s";
 * no sign, no spaces, no combinations) into seconds, at most
 * KW_DURATION_MAX. Returns 0 or KW_ERR_INVALID_FORMAT; *ret only on 0.
 * The one duration grammar of the broker's configuration, its admin API
 * and kwctl.
 */
int kw_duration_parse(const char *s, int64_t *ret) KW_WUR;

/* SHA-256 of in, first 8 bytes as 16 lower-case hex chars: safe to log. */
void kw_fp(const void *in, size_t n, char out[static 17]);

/*
 * SHA-256 / SHA-384 of in[0..n) into out. OpenSSL 3's one-shot SHA256()
 * allocates and returns NULL on failure, leaving out unwritten: always use
 * these, which report it. Returns 0 or KW_ERR_CRYPTO (out untouched).
 */
int kw_sha256(const void *in, size_t n, uint8_t out[static 32]) KW_WUR;
int kw_sha384(const void *in, size_t n, uint8_t out[static 48]) KW_WUR;

/* 1 when all n bytes of p are zero (n 0: 1). Not constant time. */
int kw_all_zero(const uint8_t *p, size_t n);

#endif
