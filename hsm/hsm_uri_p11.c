/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The helper's side of PKCS#11 URIs (hsm_uri_p11.h): a token URI matched
 * against the module's slots and tokens, and the URI of a token found,
 * through p11-kit's URI API. Only keywarden-hsm links this (libkwhsm); the
 * URI is first checked with keywarden's rules by hsm_uri.c, which the
 * broker uses without p11-kit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "hsm_uri_p11.h"
#include "kw_err.h"

struct hsm_uri {
	P11KitUri *u;
};

int
hsm_uri_token_new(const char *s, struct hsm_uri **ret, char *eb, size_t el)
{
	struct hsm_uri *h;
	P11KitUri *u = NULL;
	int r, pr;

	if ((r = hsm_uri_token_check(s, eb, el)) != 0)
		return r;
	if ((u = p11_kit_uri_new()) == NULL)
		return KW_ERR_NOMEM;
	if ((pr = p11_kit_uri_parse(s, P11_KIT_URI_FOR_ANY, u)) != P11_KIT_URI_OK ||
	    p11_kit_uri_any_unrecognized(u)) {
		/* hsm_uri.c's parser accepted what p11-kit does not: refuse, and say so */
		if (eb != NULL && el > 0)
			(void)snprintf(eb, el, "not a valid PKCS#11 URI: %s",
			    pr != P11_KIT_URI_OK ? p11_kit_uri_message(pr) : "p11-kit does not "
			    "recognise a value");
		p11_kit_uri_free(u);
		return pr == P11_KIT_URI_NO_MEMORY ? KW_ERR_NOMEM : KW_ERR_CONFIG;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		p11_kit_uri_free(u);
		return KW_ERR_NOMEM;
	}
	h->u = u;    /* transferred */
	*ret = h;
	return 0;
}

void
hsm_uri_free(struct hsm_uri *u)
{
	if (u == NULL)
		return;
	p11_kit_uri_free(u->u);
	free(u);
}

bool
hsm_uri_match(const struct hsm_uri *u, const CK_INFO *mi, CK_SLOT_ID slot_id,
    const CK_SLOT_INFO *si, const CK_TOKEN_INFO *ti)
{
	CK_SLOT_ID want = p11_kit_uri_get_slot_id(u->u);

	if (want != (CK_SLOT_ID)-1 && want != slot_id)
		return false;
	return p11_kit_uri_match_module_info(u->u, mi) && p11_kit_uri_match_slot_info(u->u, si) &&
	    p11_kit_uri_match_token_info(u->u, ti);
}

int
hsm_uri_format_token(const CK_TOKEN_INFO *ti, char **ret)
{
	P11KitUri *u;
	char *s = NULL;
	int pr;

	if ((u = p11_kit_uri_new()) == NULL)
		return KW_ERR_NOMEM;
	memcpy(p11_kit_uri_get_token_info(u), ti, sizeof(*ti));
	pr = p11_kit_uri_format(u, P11_KIT_URI_FOR_TOKEN, &s);
	p11_kit_uri_free(u);
	if (pr != P11_KIT_URI_OK)
		return KW_ERR_NOMEM;
	*ret = s;
	return 0;
}
