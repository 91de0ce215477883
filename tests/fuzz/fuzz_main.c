/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replay main for fuzz targets (after systemd's fuzz-main.c): runs
 * LLVMFuzzerTestOneInput over every file in the directories or files given
 * on the command line, so the corpus is exercised in every normal test run
 * without clang. Built only when -Dfuzzing=none.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kw_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path, unsigned long *count)
{
	uint8_t *buf;
	size_t len;

	if (kw_file_read(path, 16 * 1024 * 1024, &buf, &len) != 0) {
		fprintf(stderr, "fuzz-replay: cannot read %s\n", path);
		return 1;
	}
	(void)LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	(*count)++;
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned long count = 0;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "fuzz-replay: %s: not found\n", argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *de;
			if (d == NULL)
				return 1;
			while ((de = readdir(d)) != NULL) {
				char p[4096];
				if (de->d_name[0] == '.')
					continue;
				snprintf(p, sizeof(p), "%s/%s", argv[i], de->d_name);
				rc |= run_file(p, &count);
			}
			closedir(d);
		} else {
			rc |= run_file(argv[i], &count);
		}
	}
	printf("fuzz-replay: %lu inputs, %s\n", count, rc == 0 ? "ok" : "errors");
	if (count == 0) {
		fprintf(stderr, "fuzz-replay: empty corpus\n");
		return 1;
	}
	return rc;
}
