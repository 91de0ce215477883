/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: keywarden-hsm request datagrams (hsm_req_parse, including the
 * admin-plane ops key_list, destroy, import_key, import), and the same
 * bytes as a CKA_EC_POINT (hsm_ec_point_parse) and a CKM_ECDSA result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_req.h"
#include "hsm_tokkey.h"
#include "kw_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct hsm_req *req;
	uint8_t x[HSM_P256_COORD], y[HSM_P256_COORD], sig[HSM_SIGN_SIG_LEN];
	int64_t n;
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
		/* token-key labels and resource labels never overlap */
		if ((req->op == HSM_OP_SIGN || req->op == HSM_OP_TOKEN_KEY_DESTROY) &&
		    (hsm_token_label_parse(req->label, strlen(req->label), &n) != 0 || n < 0 ||
		    hsm_label_valid(req->label, strlen(req->label))))
			abort();
		/* destroy and import reach kw-key/ labels only; import lengths are exact */
		if ((req->op == HSM_OP_DESTROY || req->op == HSM_OP_IMPORT) &&
		    !hsm_key_label_valid(req->label, strlen(req->label)))
			abort();
		if (req->op == HSM_OP_IMPORT &&
		    (req->value_len != hsm_import_plain_len(req->kind, req->length) + 8 ||
		    req->value_len < 24 || strlen(req->import_kid) != HSM_IMPORT_KID_LEN))
			abort();
		if (req->op == HSM_OP_KEY_LIST && req->after_set && strlen(req->after) > HSM_LABEL_MAX)
			abort();
		/* no resource op reaches the reserved prefixes */
		if ((req->op == HSM_OP_GENERATE || req->op == HSM_OP_RELEASE) &&
		    (strncmp(req->label, HSM_IMPORT_LABEL_PREFIX, strlen(HSM_IMPORT_LABEL_PREFIX)) == 0 ||
		    strncmp(req->label, HSM_TOKEN_LABEL_PREFIX, strlen(HSM_TOKEN_LABEL_PREFIX)) == 0))
			abort();
		if (req->op == HSM_OP_TOKEN_KEY_NEW && req->now_set &&
		    (req->now < 0 || req->now > HSM_TOKEN_TIME_MAX))
			abort();
	}
	free(req);
	if (hsm_ec_point_parse(data, size, x, y) == 0 &&
	    (size != 67 || memcmp(x, data + 3, sizeof(x)) != 0 || memcmp(y, data + 35, sizeof(y)) != 0))
		abort();
	if (hsm_ecdsa_sig_fixed(data, size, sig) == 0 &&
	    (size % 2 != 0 || memcmp(sig + HSM_SIGN_SIG_LEN - size / 2, data + size / 2, size / 2) != 0))
		abort();
	return 0;
}
