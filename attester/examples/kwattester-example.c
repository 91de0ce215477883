/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kwattester-example: fetch one key with libkwattester, using nothing but
 * its public header. Build against the installed library with
 *
 *   cc -o kwattester-example kwattester-example.c $(pkg-config --cflags --libs kwattester)
 *
 * usage: kwattester-example URL CAFILE REPO/TYPE/TAG [snp|tdx EMU_DIR]
 *
 * The optional last two arguments use emulated evidence (testing only). On
 * success it prints the key's length and the key in hex to standard output
 * (a demonstration: a real workload hands the key to its consumer and never
 * prints it), wipes it and exits 0; on failure it prints the library's
 * message and exits with the library's status.
 */
#include <stdio.h>
#include <string.h>

#include <kwattester.h>

static void
on_log(void *arg, int level, const char *line)
{
	(void)arg;
	fprintf(stderr, "%s: %s\n", level == KWA_LOG_WARN ? "warning" : "info", line);
}

/* The key cannot be optimised away before it is wiped. */
static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

int
main(int argc, char **argv)
{
	static unsigned char key[KWA_MAX_KEY];
	struct kwa_ctx *c = NULL;
	size_t n = 0;
	int st;

	if (argc != 4 && argc != 6) {
		fprintf(stderr, "usage: %s URL CAFILE REPO/TYPE/TAG [snp|tdx EMU_DIR]\n", argv[0]);
		return 1;
	}
	if (kwa_version() >> 16 != KWA_VERSION_MAJOR) {
		fprintf(stderr, "libkwattester %s does not match the header (%s)\n",
		    kwa_version_string(), KWA_VERSION);
		return 1;
	}
	if ((st = kwa_new(&c)) != KWA_OK) {
		fprintf(stderr, "kwa_new: %s\n", kwa_strerror(st));
		return st;
	}
	kwa_set_log(c, on_log, NULL);
	if ((st = kwa_set_url(c, argv[1])) != KWA_OK || (st = kwa_set_cacert(c, argv[2])) != KWA_OK ||
	    (st = kwa_set_resource(c, argv[3])) != KWA_OK ||
	    (argc == 6 && (st = kwa_set_emulation(c, argv[4], argv[5])) != KWA_OK) ||
	    (st = kwa_set_retries(c, 3, 30000)) != KWA_OK)
		goto out;
	if ((st = kwa_fetch(c, key, sizeof(key), &n)) != KWA_OK)
		goto out;
	printf("tee %s\nlength %zu\nkey ", kwa_tee(c), n);
	for (size_t i = 0; i < n; i++)
		printf("%02x", key[i]);
	printf("\n");
out:
	if (st != KWA_OK)
		fprintf(stderr, "error (%d, %s): %s\n", st, kwa_strerror(st), kwa_errmsg(c));
	wipe(key, sizeof(key));
	kwa_free(c);
	return st;
}
