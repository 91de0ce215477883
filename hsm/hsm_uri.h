/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_URI_H
#define HSM_URI_H

/*
 * PKCS#11 URIs (RFC 7512) for keywarden: the token named in the
 * configuration (hsm.token, keywarden-hsm --token) and the objects the
 * helper keeps, with keywarden's rules: which attributes a token URI may
 * carry, the module-path and pin-source query attributes, and clear errors
 * for everything else (docs/hsm.md "PKCS#11 URIs").
 *
 * Both sides link it (hsm_uri.c, without p11-kit, so that the broker does
 * not load libp11-kit): the broker parses hsm.token to check the
 * configuration and passes the parts on, checks the helper's probe, and
 * names objects; the helper parses --token again and matches it against
 * the module's tokens through p11-kit (hsm_uri_p11.h, helper only). Parsing
 * and formatting follow p11-kit 0.24's (p11_kit_uri_parse,
 * p11_kit_uri_format; the unit tests compare them). Neither reads the PIN
 * here: pin-source is only turned into a path.
 */
#include <stdbool.h>
#include <stddef.h>

#define HSM_URI_MAX 4096               /* bytes of a URI we accept */
#define HSM_SECRET_ID_PREFIX "kw1:len=" /* CKA_ID of a stored secret: prefix + plain length */

/* True when s is meant as a PKCS#11 URI: it starts with "pkcs11:" (any case). */
bool hsm_uri_is_uri(const char *s);

/* A parsed hsm.token / --token value. */
struct hsm_token_cfg {
	bool is_uri;
	char *token;       /* the label, or the URI without module-path and pin-source
	                    * (p11_kit_uri_format's form): what --token gets */
	char *module_path; /* the URI's module-path (absolute), or NULL */
	char *pin_file;    /* the URI's pin-source as a path, or NULL */
};

/*
 * Parse s, a token label (1..32 bytes) or a token URI. A relative path in
 * pin-source is resolved against dir (NULL: refused). 0 and *ret filled
 * (hsm_token_cfg_clear frees it), or KW_ERR_CONFIG with a one-line reason in
 * eb (it never quotes more than 40 bytes of s; eb may be NULL, el 0: no
 * reason wanted), or KW_ERR_NOMEM. Refused:
 * an empty or over-long URI, spaces or control characters (percent-encode
 * them), %00, bad percent-encoding, unknown, vendor (x-...) or repeated
 * attributes, object attributes (object, id, type), pin-value,
 * module-name, a URI without token=, values too long for their field, a
 * pin-source that is neither a file: URI nor a path.
 */
int hsm_token_cfg_parse(const char *s, const char *dir, struct hsm_token_cfg *ret, char *eb,
    size_t el);
void hsm_token_cfg_clear(struct hsm_token_cfg *c);

/*
 * Check a token URI as hsm_token_cfg_parse does, except that module-path and
 * pin-source are refused (the caller has them separately). 0, or
 * KW_ERR_CONFIG with the reason in eb, or KW_ERR_NOMEM.
 */
int hsm_uri_token_check(const char *s, char *eb, size_t el);

/*
 * Broker side: whether the token the helper serves (have, its probe's
 * token_uri) fits want (a token URI from the configuration). 0 when it
 * does, KW_ERR_MISMATCH when not, KW_ERR_CONFIG/KW_ERR_HSM when want/have
 * do not parse (reason in eb), KW_ERR_NOMEM.
 */
int hsm_uri_token_fits(const char *want, const char *have, char *eb, size_t el);

/* Whether the token URI have (a probe's token_uri) names a token labelled label. */
bool hsm_uri_token_label_is(const char *have, const char *label);

/* The object classes keywarden names in URIs (RFC 7512 "type"). */
enum hsm_uri_type {
	HSM_URI_SECRET_KEY,
	HSM_URI_PRIVATE,
	HSM_URI_PUBLIC,
};

/*
 * *ret (free()): the URI of the object labelled label with CKA_ID id (idlen
 * bytes; idlen 0: no id attribute) and class type on the token token_uri
 * names (a URI from hsm_uri_format_token). 0, KW_ERR_INVALID_ARG (token_uri
 * does not parse, or an empty label), KW_ERR_NOMEM.
 */
int hsm_uri_object(const char *token_uri, const char *label, const void *id, size_t idlen,
    enum hsm_uri_type type, char **ret);
/* The same for a stored secret (CKA_ID HSM_SECRET_ID_PREFIX + plain_len). */
int hsm_uri_secret(const char *token_uri, const char *label, size_t plain_len, char **ret);

#endif
