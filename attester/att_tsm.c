/* SPDX-License-Identifier: Apache-2.0 */
/*
 * configfs-tsm, the kernel's one report interface for confidential guests
 * (Documentation/ABI/testing/configfs-tsm): a fresh entry under
 * /sys/kernel/config/tsm/report, its provider ("sev_guest", "tdx_guest"),
 * inblob (our 64-byte report data) in, outblob (an SNP report, a TDX quote)
 * and auxblob (SNP's certificate table) out, the generation unchanged in
 * between. Used by att_snp.c and att_tdx.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "attester.h"
#include "kw_util.h"

#define TSM_MAX_SMALL 64

int
att_tsm_available(const char *dir)
{
	struct stat st;

	if (dir == NULL)
		dir = ATT_TSM_REPORT_DIR;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Read a configfs attribute fully (configfs sizes are not meaningful). */
static int
tsm_read(const char *entry, const char *attr, size_t max, uint8_t **ret, size_t *ret_len)
{
	char path[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd = -1, r = KW_ERR_IO;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", entry, attr) >= sizeof(path))
		return KW_ERR_INVALID_ARG;
	if ((buf = malloc(max + 1)) == NULL)
		return KW_ERR_NOMEM;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		goto out;
	if ((r = kw_fd_read_all(fd, buf, max, &len)) != 0)
		goto out;
	buf[len] = 0;
	*ret = buf;
	*ret_len = len;
	buf = NULL; /* transferred */
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

static int
tsm_write(const char *entry, const char *attr, const void *p, size_t n)
{
	char path[4096];
	ssize_t w;
	int fd, r = KW_ERR_IO;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", entry, attr) >= sizeof(path))
		return KW_ERR_INVALID_ARG;
	if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return KW_ERR_IO;
	do
		w = write(fd, p, n);
	while (w < 0 && errno == EINTR);
	if (w == (ssize_t)n)
		r = 0;
	if (close(fd) != 0)
		r = KW_ERR_IO;
	return r;
}

/* A small text attribute without its trailing newline. */
static int
tsm_read_str(const char *entry, const char *attr, char out[static TSM_MAX_SMALL + 1])
{
	uint8_t *b = NULL;
	size_t n = 0;
	int r;

	if ((r = tsm_read(entry, attr, TSM_MAX_SMALL, &b, &n)) != 0)
		return r;
	while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\0'))
		n--;
	memcpy(out, b, n);
	out[n] = '\0';
	free(b);
	return memchr(out, '\0', n) != NULL ? KW_ERR_INVALID_FORMAT : 0;
}

/* A fresh, uniquely named report entry under dir (the kernel fills it in). */
static int
tsm_entry_new(const char *dir, char entry[static 4096])
{
	uint8_t rnd[8];

	if (!att_tsm_available(dir))
		return KW_ERR_UNAVAILABLE;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return KW_ERR_CRYPTO;
	if ((size_t)snprintf(entry, 4096, "%s/kwget-%ld-%02x%02x%02x%02x%02x%02x%02x%02x",
	    dir, (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
	    rnd[7]) >= 4096)
		return KW_ERR_INVALID_ARG;
	if (mkdir(entry, 0700) != 0)
		return KW_ERR_IO;
	return 0;
}

int
att_tsm_provider(const char *dir, char ret[static ATT_TSM_MAX_PROVIDER + 1])
{
	char entry[4096], provider[TSM_MAX_SMALL + 1];
	int r;

	if (dir == NULL)
		dir = ATT_TSM_REPORT_DIR;
	if ((r = tsm_entry_new(dir, entry)) != 0)
		return r;
	r = tsm_read_str(entry, "provider", provider);
	(void)rmdir(entry);
	if (r != 0)
		return r;
	if (strlen(provider) > ATT_TSM_MAX_PROVIDER)
		return KW_ERR_INVALID_FORMAT;
	memcpy(ret, provider, strlen(provider) + 1);
	return 0;
}

void
att_tsm_report_clear(struct att_tsm_report *rep)
{
	if (rep == NULL)
		return;
	free(rep->out);
	free(rep->aux);
	memset(rep, 0, sizeof(*rep));
}

int
att_tsm_report(const char *dir, const char *provider, const uint8_t inblob[static ATT_REPORT_DATA_LEN],
    size_t max_out, size_t max_aux, struct att_tsm_report *ret)
{
	char entry[4096], have[TSM_MAX_SMALL + 1], gen1[TSM_MAX_SMALL + 1], gen2[TSM_MAX_SMALL + 1];
	struct att_tsm_report rep;
	int r;

	if (provider == NULL || ret == NULL)
		return KW_ERR_INVALID_ARG;
	if (dir == NULL)
		dir = ATT_TSM_REPORT_DIR;
	memset(&rep, 0, sizeof(rep));
	if ((r = tsm_entry_new(dir, entry)) != 0)
		return r;
	if ((r = tsm_read_str(entry, "provider", have)) != 0)
		goto out;
	if (strcmp(have, provider) != 0) {
		r = KW_ERR_UNSUPPORTED;
		goto out;
	}
	if ((r = tsm_write(entry, "inblob", inblob, ATT_REPORT_DATA_LEN)) != 0)
		goto out;
	if ((r = tsm_read_str(entry, "generation", gen1)) != 0)
		goto out;
	if ((r = tsm_read(entry, "outblob", max_out, &rep.out, &rep.out_len)) != 0)
		goto out;
	if (max_aux > 0 && (r = tsm_read(entry, "auxblob", max_aux, &rep.aux, &rep.aux_len)) != 0)
		goto out;
	if ((r = tsm_read_str(entry, "generation", gen2)) != 0)
		goto out;
	/* Someone else wrote to our entry between inblob and the reads. */
	if (strcmp(gen1, gen2) != 0) {
		r = KW_ERR_MISMATCH;
		goto out;
	}
	*ret = rep;
	memset(&rep, 0, sizeof(rep));   /* transferred */
	r = 0;
out:
	(void)rmdir(entry);
	att_tsm_report_clear(&rep);
	return r;
}
