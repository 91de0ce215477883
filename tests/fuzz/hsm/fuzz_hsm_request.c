/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: keywarden-hsm request datagrams (hsm_req_parse). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_req.h"
#include "kw_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct hsm_req *req;
	uint32_t id;

	if (!init) {
		kw_json_init();
		init = 1;
	}
	if ((req = malloc(sizeof(*req))) == NULL)
		return 0;
	if (hsm_req_parse(data, size, req, &id) == 0) {
		/* Invariants of an accepted request. */
		if (req->id != id)
			abort();
		if ((req->op == HSM_OP_GENERATE || req->op == HSM_OP_RELEASE) &&
		    !hsm_label_valid(req->label, strlen(req->label)))
			abort();
		if (req->op == HSM_OP_RELEASE && (req->n_len < HSM_RSA_MIN_BITS / 8 ||
		    req->n_len > HSM_RSA_MAX_BITS / 8 || req->n[0] == 0 || (req->e[req->e_len - 1] & 1) == 0))
			abort();
		if (req->op == HSM_OP_RANDOM && (req->length == 0 || req->length > HSM_RANDOM_MAX))
			abort();
	}
	free(req);
	return 0;
}
