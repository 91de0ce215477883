/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "kw_secret.h"
#include "kw_util.h"

#define KW_SECRET_MAX (1024 * 1024)

struct kw_secret {
	size_t len;    /* visible length */
	size_t maplen; /* bytes mapped, header included */
	uint8_t data[];
};

int
kw_secret_new(size_t len, struct kw_secret **ret)
{
	struct kw_secret *s;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), maplen;
	void *m;

	if (len == 0 || len > KW_SECRET_MAX)
		return KW_ERR_INVALID_ARG;
	maplen = (sizeof(*s) + len + page - 1) / page * page;
	m = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return KW_ERR_NOMEM;
	(void)madvise(m, maplen, MADV_DONTDUMP);
	(void)mlock(m, maplen);    /* best effort: RLIMIT_MEMLOCK may refuse */
	s = m;
	s->len = len;
	s->maplen = maplen;
	*ret = s;
	return 0;
}

int
kw_secret_from(const void *p, size_t len, struct kw_secret **ret)
{
	struct kw_secret *s;
	int r;

	if ((r = kw_secret_new(len, &s)) != 0)
		return r;
	memcpy(s->data, p, len);
	*ret = s;
	return 0;
}

int
kw_secret_read_file(const char *path, size_t max, int trim_newline, struct kw_secret **ret)
{
	struct kw_secret *s = NULL;
	size_t len = 0;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return KW_ERR_IO;
	if ((r = kw_secret_new(max + 1, &s)) != 0 ||
	    (r = kw_fd_read_all(fd, s->data, max, &len)) != 0)
		goto out;
	/* exactly one trailing "\n" or "\r\n"; a lone trailing "\r" is data */
	if (trim_newline && len > 0 && s->data[len - 1] == '\n') {
		len--;
		if (len > 0 && s->data[len - 1] == '\r')
			len--;
	}
	if (len == 0) {
		r = trim_newline ? KW_ERR_INVALID_FORMAT : KW_ERR_TRUNCATED;
		goto out;
	}
	s->len = len;
	*ret = s;
	s = NULL;    /* transferred */
	r = 0;
out:
	kw_secret_free(s);
	close(fd);
	return r;
}

int
kw_secret_from_file(const char *path, size_t max, struct kw_secret **ret)
{
	return kw_secret_read_file(path, max, 1, ret);
}

uint8_t *
kw_secret_ptr(struct kw_secret *s)
{
	return s->data;
}

const uint8_t *
kw_secret_cptr(const struct kw_secret *s)
{
	return s->data;
}

size_t
kw_secret_len(const struct kw_secret *s)
{
	return s->len;
}

void
kw_secret_set_len(struct kw_secret *s, size_t len)
{
	if (len < s->len) {
		kw_wipe(s->data + len, s->len - len);
		s->len = len;
	}
}

void
kw_secret_free(struct kw_secret *s)
{
	size_t maplen;

	if (s == NULL)
		return;
	maplen = s->maplen;
	kw_wipe(s, maplen);
	(void)munlock(s, maplen);
	(void)munmap(s, maplen);
}

void
kw_secret_harden_process(void)
{
	struct rlimit rl = {0, 0};

#if !defined(__SANITIZE_ADDRESS__)
	/* LeakSanitizer needs ptrace on its own process; sanitizer builds keep it. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
	(void)setrlimit(RLIMIT_CORE, &rl);
	if (CRYPTO_secure_malloc_initialized() == 0)
		(void)CRYPTO_secure_malloc_init(64 * 1024, 64);
}
