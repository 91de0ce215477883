/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "kw_util.h"

int
kw_hex_encode(const void *in, size_t n, char **ret)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = in;
	char *out;

	if (n > (SIZE_MAX - 1) / 2)
		return KW_ERR_TOO_LARGE;
	if ((out = malloc(2 * n + 1)) == NULL)
		return KW_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
	*ret = out;
	return 0;
}

int
kw_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
kw_hex_decode(const char *in, uint8_t *out, size_t outlen)
{
	if (in == NULL || strlen(in) != 2 * outlen)
		return KW_ERR_INVALID_FORMAT;
	for (size_t i = 0; i < outlen; i++) {
		int hi = kw_hex_digit(in[2 * i]), lo = kw_hex_digit(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return KW_ERR_INVALID_FORMAT;
		out[i] = (uint8_t)((hi << 4) | lo);
	}
	return 0;
}

int
kw_fd_read_all(int fd, uint8_t *buf, size_t max, size_t *ret_len)
{
	size_t len = 0;

	for (;;) {
		ssize_t n;

		if (len == max + 1)
			return KW_ERR_TOO_LARGE;
		n = read(fd, buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return KW_ERR_IO;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max)
		return KW_ERR_TOO_LARGE;
	*ret_len = len;
	return 0;
}

int
kw_file_read(const char *path, size_t max, uint8_t **ret, size_t *ret_len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd, r = KW_ERR_IO;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return KW_ERR_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	/* st_size only sizes the buffer; kw_fd_read_all bounds what is read */
	if ((uint64_t)st.st_size > max) {
		r = KW_ERR_TOO_LARGE;
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if ((r = kw_fd_read_all(fd, buf, (size_t)st.st_size, &len)) != 0)
		goto out;
	buf[len] = 0;
	*ret = buf;
	buf = NULL;    /* transferred */
	*ret_len = len;
	r = 0;
out:
	kw_free_wipe(buf);
	close(fd);
	return r;
}

int
kw_file_write_atomic(const char *path, const void *buf, size_t len, unsigned int mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX], *slash;
	const uint8_t *p = buf;
	size_t off = 0;
	int fd, dfd, n;

	/* unique temporary name: a fixed per-pid name would let two threads
	 * writing the same path unlink or rename each other's partial file */
	n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return KW_ERR_INVALID_ARG;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return KW_ERR_IO;
	if (fchmod(fd, (mode_t)mode) != 0)
		goto fail;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	/* make the rename durable (best effort) */
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL) {
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	} else {
		snprintf(dir, sizeof(dir), ".");
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
	return KW_ERR_IO;
}

void
kw_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

void
kw_free_wipe(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

char *
kw_strdup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

static int
rd_digits(const char **s, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*s)[i];

		if (c < '0' || c > '9')
			return KW_ERR_INVALID_FORMAT;
		v = v * 10 + (c - '0');
	}
	*s += n;
	*ret = v;
	return 0;
}

static int64_t
days_from_civil(int64_t y, unsigned int m, unsigned int d)
{
	/* Howard Hinnant's days_from_civil, proleptic Gregorian. */
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned int yoe = (unsigned int)(y - era * 400);
	const unsigned int doy = (153 * (m + (m > 2 ? (unsigned int)-3 : 9)) + 2) / 5 + d - 1;
	const unsigned int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int
kw_time_parse_rfc3339(const char *s, int64_t *ret)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t t;

	if (s == NULL)
		return KW_ERR_INVALID_FORMAT;
	if (rd_digits(&s, 4, &y) || *s++ != '-' || rd_digits(&s, 2, &mo) || *s++ != '-' ||
	    rd_digits(&s, 2, &d))
		return KW_ERR_INVALID_FORMAT;
	if (*s != 'T' && *s != 't' && *s != ' ')
		return KW_ERR_INVALID_FORMAT;
	s++;
	if (rd_digits(&s, 2, &h) || *s++ != ':' || rd_digits(&s, 2, &mi) || *s++ != ':' ||
	    rd_digits(&s, 2, &sec))
		return KW_ERR_INVALID_FORMAT;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return KW_ERR_INVALID_FORMAT;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s == '+' ? 1 : -1;
		s++;
		if (rd_digits(&s, 2, &oh) || *s++ != ':' || rd_digits(&s, 2, &om))
			return KW_ERR_INVALID_FORMAT;
		if (oh > 23 || om > 59)
			return KW_ERR_INVALID_FORMAT;
	} else {
		return KW_ERR_INVALID_FORMAT;
	}
	if (*s != '\0')
		return KW_ERR_INVALID_FORMAT;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return KW_ERR_INVALID_FORMAT;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return KW_ERR_INVALID_FORMAT;
	if (sec == 60)
		sec = 59;
	t = days_from_civil(y, (unsigned int)mo, (unsigned int)d) * 86400 + h * 3600 + mi * 60 + sec;
	t -= (int64_t)sign * (oh * 3600 + om * 60);
	*ret = t;
	return 0;
}

void
kw_time_format_rfc3339(int64_t t, char out[static 21])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 21, "invalid-time");
}

int64_t
kw_time_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t
kw_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double
kw_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
digest(const char *alg, const void *in, size_t n, uint8_t *out, unsigned int want)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD *m = EVP_MD_fetch(NULL, alg, NULL);
	int ok = m != NULL && EVP_Digest(in, n, md, &len, m, NULL) == 1 && len == want;

	EVP_MD_free(m);
	if (ok)
		memcpy(out, md, want);
	OPENSSL_cleanse(md, sizeof(md));
	return ok ? 0 : KW_ERR_CRYPTO;
}

int
kw_sha256(const void *in, size_t n, uint8_t out[static 32])
{
	return digest("SHA256", in, n, out, 32);
}

int
kw_sha384(const void *in, size_t n, uint8_t out[static 48])
{
	return digest("SHA384", in, n, out, 48);
}

int
kw_all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

void
kw_fp(const void *in, size_t n, char out[static 17])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t md[SHA256_DIGEST_LENGTH];

	if (kw_sha256(in, n, md) != 0) {
		memcpy(out, "????????????????", 17);    /* log-only: never a fingerprint of zeros */
		return;
	}
	for (int i = 0; i < 8; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[16] = '\0';
	OPENSSL_cleanse(md, sizeof(md));
}

int
kw_duration_parse(const char *s, int64_t *ret)
{
	int64_t v = 0, mul;
	size_t n;

	if (s == NULL || (n = strlen(s)) < 2 || n > 12)
		return KW_ERR_INVALID_FORMAT;
	switch (s[n - 1]) {
	case 'd': mul = 86400; break;
	case 'h': mul = 3600; break;
	case 'm': mul = 60; break;
	case 's': mul = 1; break;
	default: return KW_ERR_INVALID_FORMAT;
	}
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return KW_ERR_INVALID_FORMAT;
		v = v * 10 + (s[i] - '0');   /* at most 11 digits: no overflow */
	}
	if (v > KW_DURATION_MAX / mul)
		return KW_ERR_INVALID_FORMAT;
	*ret = v * mul;
	return 0;
}
