/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the configuration file parser (operator input, but still parsed strictly). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "kw_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct kw_config *c = NULL;
	char eb[256];

	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "/tmp/kw-fuzz-config.%ld.json", (long)getpid());
	}
	if (kw_file_write_atomic(path, data, size, 0600) != 0)
		return 0;
	if (kw_config_load(path, &c, eb, sizeof(eb)) == 0) {
		if (c->listen_addr == NULL || c->public_url == NULL || c->store_path == NULL)
			__builtin_trap();
		kw_config_free(c);
	} else if (c != NULL) {
		__builtin_trap();    /* nothing returned on failure */
	}
	(void)unlink(path);
	return 0;
}
