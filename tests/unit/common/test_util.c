/* SPDX-License-Identifier: Apache-2.0 */
/* kw_util (hex, files, time), kw_secret, kw_log_escape. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kw_log.h"
#include "kw_secret.h"
#include "kw_util.h"
#include "test_common.h"

static void
test_hex(void)
{
	static const uint8_t raw[] = {0x00, 0x01, 0xab, 0xcd, 0xef, 0xff};
	uint8_t out[6];
	char *s = NULL;

	CU_ASSERT_EQUAL_FATAL(kw_hex_encode(raw, sizeof(raw), &s), 0);
	CU_ASSERT_STRING_EQUAL(s, "0001abcdefff");
	free(s);
	CU_ASSERT_EQUAL_FATAL(kw_hex_encode(raw, 0, &s), 0);
	CU_ASSERT_STRING_EQUAL(s, "");
	free(s);
	CU_ASSERT_EQUAL(kw_hex_decode("0001ABCDefFF", out, sizeof(out)), 0);
	CU_ASSERT(memcmp(out, raw, sizeof(raw)) == 0);
	CU_ASSERT_EQUAL(kw_hex_decode("0001abcdeff", out, sizeof(out)), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_hex_decode("0001abcdefff00", out, sizeof(out)), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_hex_decode("0001abcdefgf", out, sizeof(out)), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_hex_decode(" 001abcdefff", out, sizeof(out)), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL(kw_hex_decode(NULL, out, sizeof(out)), KW_ERR_INVALID_FORMAT);
	/* every byte value */
	for (int b = 0; b < 256; b++) {
		uint8_t one = (uint8_t)b, got;
		CU_ASSERT_EQUAL_FATAL(kw_hex_encode(&one, 1, &s), 0);
		CU_ASSERT_EQUAL(kw_hex_decode(s, &got, 1), 0);
		CU_ASSERT_EQUAL(got, one);
		free(s);
	}
}

static int64_t
utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {0};

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return (int64_t)timegm(&tm);
}

/* timegm normalizes 31 April to 1 May: the date exists if it stays put */
static int
date_exists(int y, int mo, int d)
{
	struct tm tm = {0};

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = 12;
	(void)timegm(&tm);
	return tm.tm_mday == d && tm.tm_mon == mo - 1;
}

static void
test_time_parse(void)
{
	static const char *const bad[] = {
		"", "2026-11-28", "2026-11-28T09:17:15", "2026-11-28T09:17:15ZZ",
		"2026-11-28T09:17:15 Z", "2026-1-28T09:17:15Z", "2026-11-28T9:17:15Z",
		"2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-04-31T00:00:00Z",
		"2026-01-00T00:00:00Z", "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
		"2100-02-29T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
		"2026-01-01T00:00:61Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00+0100",
		"2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+01:60", "2026-01-01T00:00:00+1:00",
		"2026/01/01T00:00:00Z", "2026-01-01X00:00:00Z", "2026-01-01T00:00:00Zjunk",
		"+026-01-01T00:00:00Z", "2026-01-01T00:00:0aZ",
	};
	int64_t t;

	CU_ASSERT_EQUAL(kw_time_parse_rfc3339("1970-01-01T00:00:00Z", &t), 0);
	CU_ASSERT_EQUAL(t, 0);
	CU_ASSERT_EQUAL(kw_time_parse_rfc3339("2026-11-28T09:17:15Z", &t), 0);
	CU_ASSERT_EQUAL(t, utc(2026, 11, 28, 9, 17, 15));
	CU_ASSERT_EQUAL(kw_time_parse_rfc3339("2026-11-28t09:17:15z", &t), 0);
	CU_ASSERT_EQUAL(t, utc(2026, 11, 28, 9, 17, 15));
	CU_ASSERT_EQUAL(kw_time_parse_rfc3339("2026-11-28T09:17:15.123456789Z", &t), 0);
	CU_ASSERT_EQUAL(t, utc(2026, 11, 28, 9, 17, 15));
	/* leap days */
	CU_ASSERT_EQUAL(kw_time_parse_rfc3339("2000-02-29T00:00:00Z", &t), 0);
	CU_ASSERT_EQUAL(t, 951782400);
	CU_ASSERT_EQUAL(kw_time_parse_rfc3339("2024-02-29T23:59:59Z", &t), 0);
	CU_ASSERT_EQUAL(t, utc(2024, 2, 29, 23, 59, 59));
	/* offsets: local time minus offset is UTC */
	CU_ASSERT_EQUAL(kw_time_parse_rfc3339("2026-01-01T01:00:00+01:00", &t), 0);
	CU_ASSERT_EQUAL(t, utc(2026, 1, 1, 0, 0, 0));
	CU_ASSERT_EQUAL(kw_time_parse_rfc3339("2025-12-31T18:30:00-05:30", &t), 0);
	CU_ASSERT_EQUAL(t, utc(2026, 1, 1, 0, 0, 0));
	CU_ASSERT_EQUAL(kw_time_parse_rfc3339("2026-01-01T00:00:00-00:00", &t), 0);
	CU_ASSERT_EQUAL(t, utc(2026, 1, 1, 0, 0, 0));
	/* a leap second clamps to :59 */
	CU_ASSERT_EQUAL(kw_time_parse_rfc3339("2016-12-31T23:59:60Z", &t), 0);
	CU_ASSERT_EQUAL(t, utc(2016, 12, 31, 23, 59, 59));
	/* every day of 1999..2001 agrees with timegm */
	for (int y = 1999; y <= 2001; y++) {
		for (int mo = 1; mo <= 12; mo++) {
			for (int d = 1; d <= 31; d++) {
				char s[32];
				int64_t want = utc(y, mo, d, 12, 34, 56);
				int valid = date_exists(y, mo, d);

				snprintf(s, sizeof(s), "%04d-%02d-%02dT12:34:56Z", y, mo, d);
				t = -1;
				CU_ASSERT_EQUAL(kw_time_parse_rfc3339(s, &t), valid ? 0 : KW_ERR_INVALID_FORMAT);
				if (valid)
					CU_ASSERT_EQUAL(t, want);
			}
		}
	}
	for (size_t i = 0; i < KW_ARRAY_SIZE(bad); i++) {
		t = 4242;
		CU_ASSERT_EQUAL(kw_time_parse_rfc3339(bad[i], &t), KW_ERR_INVALID_FORMAT);
		CU_ASSERT_EQUAL(t, 4242);
	}
	CU_ASSERT_EQUAL(kw_time_parse_rfc3339(NULL, &t), KW_ERR_INVALID_FORMAT);
	/* truncation sweep: every proper prefix fails */
	{
		const char *good = "2026-11-28T09:17:15.5+01:00";
		char pre[64];
		for (size_t n = 0; n < strlen(good); n++) {
			memcpy(pre, good, n);
			pre[n] = '\0';
			CU_ASSERT_EQUAL(kw_time_parse_rfc3339(pre, &t), KW_ERR_INVALID_FORMAT);
		}
		CU_ASSERT_EQUAL(kw_time_parse_rfc3339(good, &t), 0);
		CU_ASSERT_EQUAL(t, utc(2026, 11, 28, 8, 17, 15));
	}
}

static void
test_time_format(void)
{
	char out[21];
	int64_t t;

	kw_time_format_rfc3339(0, out);
	CU_ASSERT_STRING_EQUAL(out, "1970-01-01T00:00:00Z");
	kw_time_format_rfc3339(951782400, out);
	CU_ASSERT_STRING_EQUAL(out, "2000-02-29T00:00:00Z");
	t = utc(2026, 11, 28, 9, 17, 15);
	kw_time_format_rfc3339(t, out);
	CU_ASSERT_STRING_EQUAL(out, "2026-11-28T09:17:15Z");
	CU_ASSERT(kw_time_now() > utc(2024, 1, 1, 0, 0, 0));
}

static void
test_fp(void)
{
	char out[17];

	/* SHA-256("abc") = ba7816bf8f01cfea... */
	kw_fp("abc", 3, out);
	CU_ASSERT_STRING_EQUAL(out, "ba7816bf8f01cfea");
}

static int
write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		return -1;
	if (n > 0 && fwrite(p, 1, n, f) != n) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static size_t
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

static void
test_file_atomic(void)
{
	char dir[256], path[300], bad[300];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/atomic", test_tmpdir());
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/f", dir);
	CU_ASSERT_EQUAL(kw_file_write_atomic(path, "hello", 5, 0600), 0);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(kw_file_read(path, 100, &buf, &len), 0);
	CU_ASSERT_EQUAL(len, 5);
	CU_ASSERT(buf != NULL && memcmp(buf, "hello", 6) == 0);    /* NUL appended */
	free(buf);
	buf = NULL;
	/* overwrite with different mode and content; no temporaries are left */
	CU_ASSERT_EQUAL(kw_file_write_atomic(path, "hi", 2, 0640), 0);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0640);
	CU_ASSERT_EQUAL(kw_file_read(path, 100, &buf, &len), 0);
	CU_ASSERT_EQUAL(len, 2);
	CU_ASSERT(buf != NULL && memcmp(buf, "hi", 2) == 0);
	free(buf);
	buf = NULL;
	CU_ASSERT_EQUAL(kw_file_write_atomic(path, "", 0, 0600), 0);
	CU_ASSERT_EQUAL(kw_file_read(path, 100, &buf, &len), 0);
	CU_ASSERT_EQUAL(len, 0);
	free(buf);
	buf = NULL;
	CU_ASSERT_EQUAL(count_entries(dir), 1);
	/* missing directory: error, and the old file is not touched */
	snprintf(bad, sizeof(bad), "%s/missing/f", dir);
	CU_ASSERT_EQUAL(kw_file_write_atomic(bad, "x", 1, 0600), KW_ERR_IO);
	CU_ASSERT_EQUAL(count_entries(dir), 1);
	/* kw_file_read caps and errors */
	CU_ASSERT_EQUAL(kw_file_write_atomic(path, "0123456789", 10, 0600), 0);
	CU_ASSERT_EQUAL(kw_file_read(path, 9, &buf, &len), KW_ERR_TOO_LARGE);
	CU_ASSERT_PTR_NULL(buf);
	CU_ASSERT_EQUAL(kw_file_read(path, 10, &buf, &len), 0);
	free(buf);
	buf = NULL;
	CU_ASSERT_EQUAL(kw_file_read(bad, 10, &buf, &len), KW_ERR_IO);
	CU_ASSERT_EQUAL(kw_file_read(dir, 10, &buf, &len), KW_ERR_IO);    /* not a regular file */
	CU_ASSERT_PTR_NULL(buf);
}

static void
test_secret(void)
{
	static const struct {
		const char *content;
		size_t clen;
		const char *want;
		size_t wlen;
	} cases[] = {
		{"1234", 4, "1234", 4},
		{"1234\n", 5, "1234", 4},
		{"1234\r\n", 6, "1234", 4},
		{"1234\n\n", 6, "1234\n", 5},    /* only one newline is dropped */
		{"1234\r", 5, "1234\r", 5},      /* a lone CR is data */
		{"a\0b\n", 4, "a\0b", 3},
	};
	struct kw_secret *s = NULL;
	char path[300];

	snprintf(path, sizeof(path), "%s/secret", test_tmpdir());
	for (size_t i = 0; i < KW_ARRAY_SIZE(cases); i++) {
		CU_ASSERT_EQUAL_FATAL(write_file(path, cases[i].content, cases[i].clen), 0);
		s = NULL;
		CU_ASSERT_EQUAL(kw_secret_from_file(path, 64, &s), 0);
		if (s == NULL)
			continue;
		CU_ASSERT_EQUAL(kw_secret_len(s), cases[i].wlen);
		CU_ASSERT(memcmp(kw_secret_cptr(s), cases[i].want, cases[i].wlen) == 0);
		kw_secret_free(s);
	}
	s = NULL;
	CU_ASSERT_EQUAL_FATAL(write_file(path, "\n", 1), 0);
	CU_ASSERT_EQUAL(kw_secret_from_file(path, 64, &s), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL_FATAL(write_file(path, "", 0), 0);
	CU_ASSERT_EQUAL(kw_secret_from_file(path, 64, &s), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_EQUAL_FATAL(write_file(path, "12345678\n", 9), 0);
	CU_ASSERT_EQUAL(kw_secret_from_file(path, 8, &s), KW_ERR_TOO_LARGE);
	CU_ASSERT_EQUAL(kw_secret_from_file("/nonexistent/kw", 8, &s), KW_ERR_IO);
	CU_ASSERT_PTR_NULL(s);

	CU_ASSERT_EQUAL(kw_secret_new(0, &s), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_secret_new(1024 * 1024 + 1, &s), KW_ERR_INVALID_ARG);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_EQUAL_FATAL(kw_secret_from("abcdef", 6, &s), 0);
	CU_ASSERT_EQUAL(kw_secret_len(s), 6);
	kw_secret_set_len(s, 10);    /* never grows */
	CU_ASSERT_EQUAL(kw_secret_len(s), 6);
	kw_secret_set_len(s, 3);
	CU_ASSERT_EQUAL(kw_secret_len(s), 3);
	CU_ASSERT(memcmp(kw_secret_cptr(s), "abc", 3) == 0);
	/* the dropped tail is wiped */
	CU_ASSERT(memcmp(kw_secret_ptr(s) + 3, "\0\0\0", 3) == 0);
	kw_secret_free(s);
	kw_secret_free(NULL);
	s = NULL;
	CU_ASSERT_EQUAL_FATAL(kw_secret_new(32, &s), 0);
	for (size_t i = 0; i < 32; i++)
		CU_ASSERT_EQUAL(kw_secret_cptr(s)[i], 0);
	kw_secret_free(s);
}

static void
test_log_escape(void)
{
	char out[64];

	kw_log_escape("plain text 123", 100, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "plain text 123");
	kw_log_escape("a\nb\rc\x1b[0m", 100, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "a\\x0ab\\x0dc\\x1b[0m");
	kw_log_escape("it's \\ \"q\"", 100, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "it\\x27s \\x5c \"q\"");
	kw_log_escape("\x7f\x80\xff", 100, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "\\x7f\\x80\\xff");
	/* input cap */
	kw_log_escape("abcdef", 3, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "abc...");
	kw_log_escape("abc", 3, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "abc");
	/* output cap: always NUL-terminated, never a partial escape */
	kw_log_escape("abcdef", 100, out, 4);
	CU_ASSERT_STRING_EQUAL(out, "abc");
	kw_log_escape("a\n", 100, out, 5);
	CU_ASSERT_STRING_EQUAL(out, "a...");
	kw_log_escape("abc", 100, out, 1);
	CU_ASSERT_STRING_EQUAL(out, "");
	kw_log_escape(NULL, 100, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "(null)");
	/* every byte value: output is printable ASCII only */
	for (int c = 1; c < 256; c++) {
		char in[2] = {(char)c, 0};
		kw_log_escape(in, 10, out, sizeof(out));
		for (size_t i = 0; out[i] != '\0'; i++)
			CU_ASSERT(out[i] >= 0x20 && out[i] < 0x7f && out[i] != '\'');
	}
}

static void
test_log_level(void)
{
	enum kw_log_level l = KW_LOG_INFO;

	CU_ASSERT_EQUAL(kw_log_level_parse("debug", &l), 0);
	CU_ASSERT_EQUAL(l, KW_LOG_DEBUG);
	CU_ASSERT_EQUAL(kw_log_level_parse("error", &l), 0);
	CU_ASSERT_EQUAL(l, KW_LOG_ERR);
	CU_ASSERT_EQUAL(kw_log_level_parse("verbose", &l), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(kw_log_level_parse(NULL, &l), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(l, KW_LOG_ERR);
	for (int r = 0; r > KW_ERR__LAST; r--)
		CU_ASSERT_STRING_NOT_EQUAL(kw_strerror(r), "unknown error");
	CU_ASSERT_STRING_EQUAL(kw_strerror(KW_ERR__LAST), "unknown error");
	CU_ASSERT_STRING_EQUAL(kw_strerror(1), "unknown error");
}

/* A pipe holding n bytes of 'x' (written by the caller before reading: n <= 4096). */
static int
pipe_with(size_t n)
{
	uint8_t b[4096];
	int p[2];

	memset(b, 'x', sizeof(b));
	if (pipe(p) != 0 || write(p[1], b, n) != (ssize_t)n)
		return -1;
	close(p[1]);
	return p[0];
}

static void
test_fd_read_all(void)
{
	uint8_t buf[65];
	size_t len = 99;
	int fd;

	/* sizes from stat are not used: a pipe reports none */
	CU_ASSERT_FATAL((fd = pipe_with(64)) >= 0);
	CU_ASSERT_EQUAL(kw_fd_read_all(fd, buf, 64, &len), 0);
	CU_ASSERT_EQUAL(len, 64);
	close(fd);
	CU_ASSERT_FATAL((fd = pipe_with(65)) >= 0);
	len = 99;
	CU_ASSERT_EQUAL(kw_fd_read_all(fd, buf, 64, &len), KW_ERR_TOO_LARGE);
	CU_ASSERT_EQUAL(len, 99);    /* not written on failure */
	close(fd);
	CU_ASSERT_FATAL((fd = pipe_with(0)) >= 0);
	CU_ASSERT_EQUAL(kw_fd_read_all(fd, buf, 64, &len), 0);
	CU_ASSERT_EQUAL(len, 0);
	close(fd);
	CU_ASSERT_EQUAL(kw_fd_read_all(-1, buf, 64, &len), KW_ERR_IO);
}

static void
test_secret_read_exact(void)
{
	char path[] = "/tmp/kw-sec-XXXXXX";
	struct kw_secret *s = NULL;
	int fd = mkstemp(path);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, "ab\n", 3) == 3);
	close(fd);
	/* exact: the newline is data; trimmed: it is not */
	CU_ASSERT_EQUAL(kw_secret_read_file(path, 64, 0, &s), 0);
	CU_ASSERT_EQUAL(kw_secret_len(s), 3);
	kw_secret_free(s);
	CU_ASSERT_EQUAL(kw_secret_read_file(path, 64, 1, &s), 0);
	CU_ASSERT_EQUAL(kw_secret_len(s), 2);
	kw_secret_free(s);
	s = NULL;
	CU_ASSERT_EQUAL(kw_secret_read_file(path, 2, 0, &s), KW_ERR_TOO_LARGE);
	CU_ASSERT_PTR_NULL(s);
	fd = open(path, O_WRONLY | O_TRUNC);
	close(fd);
	CU_ASSERT_EQUAL(kw_secret_read_file(path, 64, 0, &s), KW_ERR_TRUNCATED);
	CU_ASSERT_EQUAL(kw_secret_read_file(path, 64, 1, &s), KW_ERR_INVALID_FORMAT);
	CU_ASSERT_PTR_NULL(s);
	unlink(path);
}

static void
test_log_escapes_everything(void)
{
	char path[] = "/tmp/kw-log-XXXXXX", buf[4096];
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	CU_ASSERT_FATAL(fd >= 0 && saved >= 0);
	fflush(stderr);
	CU_ASSERT_FATAL(dup2(fd, 2) == 2);
	kw_log_info("peer said '%s'", "x\n2026-01-01T00:00:00Z error forged\x1b[0m\\x41\xc3\xa9");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	CU_ASSERT_FATAL(n > 0);
	buf[n] = '\0';
	/* one line: the only newline is the record's own */
	CU_ASSERT_PTR_EQUAL(strchr(buf, '\n'), buf + n - 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "peer said 'x\\x0a2026-01-01T00:00:00Z error forged"
	    "\\x1b[0m\\x5cx41\\xc3\\xa9'\n"));
}

/* Emit n rate-limited lines from one call site. */
static void
rl_lines(int n)
{
	for (int i = 0; i < n; i++)
		kw_log_info_rl("peer line %d", i);
}

static void
test_log_ratelimit(void)
{
	char path[] = "/tmp/kw-log-XXXXXX", buf[8192];
	int fd = mkstemp(path), saved = dup(2);
	struct timespec t, pause = {0, 20 * 1000 * 1000};
	size_t lines = 0;
	ssize_t n;
	FILE *f;

	CU_ASSERT_FATAL(fd >= 0 && saved >= 0);
	fflush(stderr);
	CU_ASSERT_FATAL(dup2(fd, 2) == 2);
	/* start at the beginning of a second so the burst fits in one window */
	do {
		clock_gettime(CLOCK_MONOTONIC, &t);
		nanosleep(&pause, NULL);
	} while (t.tv_nsec > 200 * 1000 * 1000);
	rl_lines(100);
	sleep(2);
	/* a sustained flood refills one line a second: two seconds later, 100 more
	 * lines give 2 (3 if another second starts meanwhile), not another burst */
	rl_lines(100);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	CU_ASSERT_FATAL((f = fdopen(fd, "r")) != NULL);
	rewind(f);
	n = (ssize_t)fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	unlink(path);
	CU_ASSERT_FATAL(n > 0);
	buf[n] = '\0';
	for (char *p = buf; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	CU_ASSERT(lines >= KW_LOG_BURST + 2 && lines <= KW_LOG_BURST + 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "peer line 9\n"));
	CU_ASSERT_PTR_NULL(strstr(buf, "peer line 10"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "peer line 0 [90 similar lines suppressed]\n"));
}

int
test_util_register(void)
{
	CU_pSuite s = CU_add_suite("util", NULL, NULL);

	if (s == NULL)
		return -1;
	return TEST_ADD(s, test_hex) | TEST_ADD(s, test_time_parse) | TEST_ADD(s, test_time_format) |
	    TEST_ADD(s, test_fp) | TEST_ADD(s, test_file_atomic) | TEST_ADD(s, test_secret) |
	    TEST_ADD(s, test_log_escape) | TEST_ADD(s, test_log_level) |
	    TEST_ADD(s, test_log_ratelimit) | TEST_ADD(s, test_fd_read_all) |
	    TEST_ADD(s, test_secret_read_exact) | TEST_ADD(s, test_log_escapes_everything);
}
