/* SPDX-License-Identifier: Apache-2.0 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "hsm_uri_p11.h"
#include "kw_err.h"
#include "kw_log.h"

#define SCHEME "pkcs11:"
#define SCHEME_LEN 7
#define NAME_SHOWN 40 /* bytes of an attribute name quoted in an error */

/* KW_ERR_CONFIG, with the reason in eb unless the caller wants none (eb NULL or el 0). */
static int KW_PRINTF(3, 4)
uri_err(char *eb, size_t el, const char *fmt, ...)
{
	va_list ap;

	if (eb != NULL && el > 0) {
		va_start(ap, fmt);
		(void)vsnprintf(eb, el, fmt, ap);
		va_end(ap);
	}
	return KW_ERR_CONFIG;
}

bool
hsm_uri_is_uri(const char *s)
{
	return s != NULL && strncasecmp(s, SCHEME, SCHEME_LEN) == 0;
}

/*
 * The attribute names of RFC 7512 that p11-kit 0.24 knows, path and query.
 * p11-kit keeps the last of a repeated attribute and files an unknown query
 * attribute as a vendor one without a word, so the names are checked here
 * (the values are p11-kit's business): every name must be known, and none
 * may come twice.
 */
static const char *const path_names[] = {
	"token", "manufacturer", "serial", "model", "library-manufacturer",
	"library-description", "library-version", "slot-description", "slot-manufacturer",
	"slot-id", "object", "type", "id",
};
static const char *const query_names[] = {
	"pin-source", "pin-value", "module-name", "module-path",
};

static int
check_names(const char *s, size_t len, char sep, const char *const *names, size_t n_names,
    const char *where, char *eb, size_t el)
{
	uint32_t seen = 0;
	const char *p = s, *end = s + len;

	while (p < end) {
		const char *seg_end = memchr(p, sep, (size_t)(end - p));
		size_t seg, nl;
		size_t i;
		char shown[NAME_SHOWN * 4 + 8], name[NAME_SHOWN + 1];

		if (seg_end == NULL)
			seg_end = end;
		seg = (size_t)(seg_end - p);
		if (seg > 0) {
			const char *eq = memchr(p, '=', seg);

			nl = eq != NULL ? (size_t)(eq - p) : seg;
			for (i = 0; i < n_names; i++)
				if (strlen(names[i]) == nl && memcmp(names[i], p, nl) == 0)
					break;
			snprintf(name, sizeof(name), "%.*s", (int)(nl < NAME_SHOWN ? nl : NAME_SHOWN), p);
			kw_log_escape(name, NAME_SHOWN, shown, sizeof(shown));
			if (i == n_names) {
				if (nl >= 2 && (p[0] == 'x' || p[0] == 'X') && p[1] == '-')
					return uri_err(eb, el, "vendor %s attribute '%s' is not supported",
					    where, shown);
				return uri_err(eb, el, "unknown %s attribute '%s' (RFC 7512)", where,
				    shown);
			}
			if (seen & (1U << i))
				return uri_err(eb, el, "attribute '%s' given twice", shown);
			seen |= 1U << i;
		}
		p = seg_end + 1;
	}
	return 0;
}

/*
 * A fixed-size token-info field without control bytes: space-padded when
 * the URI set it, all zero (match anything) when not; %00 was refused.
 */
static bool
field_clean(const unsigned char *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((f[i] != 0 && f[i] < 0x20) || f[i] == 0x7f)
			return false;
	return true;
}

static bool
str_clean(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/*
 * p11_kit_uri_parse with keywarden's rules (hsm_token_cfg_parse's
 * contract, less the query attributes' meaning). *ret owned by the caller.
 */
static int
parse_checked(const char *s, P11KitUri **ret, char *eb, size_t el)
{
	P11KitUri *u = NULL;
	CK_TOKEN_INFO *ti;
	CK_ULONG n_attrs = 0;
	const char *q;
	size_t len = strlen(s);
	int r = KW_ERR_CONFIG, pr;

	if (!hsm_uri_is_uri(s))
		return uri_err(eb, el, "a PKCS#11 URI starts with \"pkcs11:\"");
	if (len > HSM_URI_MAX)
		return uri_err(eb, el, "the URI is longer than %d bytes", HSM_URI_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f)
			return uri_err(eb, el, "the URI has a space, control or non-ASCII byte at "
			    "offset %zu (percent-encode it, e.g. %%20)", i);
		if (c == '%' && i + 2 < len && s[i + 1] == '0' && s[i + 2] == '0')
			return uri_err(eb, el, "the URI has %%00 at offset %zu", i);
	}
	if ((u = p11_kit_uri_new()) == NULL)
		return KW_ERR_NOMEM;
	if ((pr = p11_kit_uri_parse(s, P11_KIT_URI_FOR_ANY, u)) != P11_KIT_URI_OK) {
		if (pr == P11_KIT_URI_NO_MEMORY)
			r = KW_ERR_NOMEM;
		else
			uri_err(eb, el, "not a valid PKCS#11 URI: %s", p11_kit_uri_message(pr));
		goto out;
	}
	q = strchr(s, '?');
	if ((r = check_names(s + SCHEME_LEN, (size_t)((q != NULL ? q : s + len) - s) - SCHEME_LEN,
	    ';', path_names, sizeof(path_names) / sizeof(path_names[0]), "path", eb, el)) != 0 ||
	    (q != NULL && (r = check_names(q + 1, strlen(q + 1), '&', query_names,
	    sizeof(query_names) / sizeof(query_names[0]), "query", eb, el)) != 0))
		goto out;
	r = KW_ERR_CONFIG;
	if (p11_kit_uri_any_unrecognized(u)) {
		uri_err(eb, el, "a value does not fit its attribute (token, manufacturer, model, "
		    "slot-manufacturer: at most 32 bytes; serial: 16; the descriptions: 64; "
		    "library-version: M or M.N; slot-id: a number)");
		goto out;
	}
	if (p11_kit_uri_get_attributes(u, &n_attrs) != NULL && n_attrs > 0) {
		uri_err(eb, el, "the URI names an object (object, id or type); name the token only");
		goto out;
	}
	if (p11_kit_uri_get_pin_value(u) != NULL) {
		uri_err(eb, el, "pin-value would put the PIN in the configuration; use pin-source "
		    "(a file only the HSM helper's user can read)");
		goto out;
	}
	if (p11_kit_uri_get_module_name(u) != NULL) {
		uri_err(eb, el, "module-name is not supported: name the module file with module-path");
		goto out;
	}
	ti = p11_kit_uri_get_token_info(u);
	if (!field_clean(ti->label, sizeof(ti->label)) ||
	    !field_clean(ti->manufacturerID, sizeof(ti->manufacturerID)) ||
	    !field_clean(ti->model, sizeof(ti->model)) ||
	    !field_clean(ti->serialNumber, sizeof(ti->serialNumber))) {
		uri_err(eb, el, "a token attribute has a control character");
		goto out;
	}
	if (ti->label[0] == 0 || strspn((const char *)ti->label, " ") >= sizeof(ti->label)) {
		uri_err(eb, el, "the URI must name the token's label (token=...)");
		goto out;
	}
	*ret = u;
	u = NULL;    /* transferred */
	r = 0;
out:
	if (u != NULL)
		p11_kit_uri_free(u);
	return r;
}

/* pin-source: "file:/abs", "file:///abs", "/abs" or a path relative to dir. */
static int
pin_path(const char *v, const char *dir, char **ret, char *eb, size_t el)
{
	char buf[PATH_MAX];
	const char *p = v;
	int n;

	if (!str_clean(v))
		return uri_err(eb, el, "pin-source has a control character");
	if (strncasecmp(v, "file:", 5) == 0) {
		p = v + 5;
		if (strncmp(p, "///", 3) == 0)
			p += 2;
		else if (strncmp(p, "//", 2) == 0)
			return uri_err(eb, el, "pin-source: a file: URI with a host is not supported "
			    "(use file:///path)");
		if (p[0] != '/')
			return uri_err(eb, el, "pin-source: a file: URI needs an absolute path");
		if (strpbrk(p, "%?#") != NULL)
			return uri_err(eb, el, "pin-source: a file: URI with %%, ? or # is not "
			    "supported (give the path itself)");
	} else if (p[0] == '|' || (strchr(p, ':') != NULL &&
	    (strchr(p, '/') == NULL || strchr(p, ':') < strchr(p, '/')))) {
		return uri_err(eb, el, "pin-source must be a file: URI or a path (no programs, no "
		    "other schemes)");
	}
	if (p[0] == '\0')
		return uri_err(eb, el, "pin-source is empty");
	if (p[0] == '/') {
		n = snprintf(buf, sizeof(buf), "%s", p);
	} else {
		if (dir == NULL)
			return uri_err(eb, el, "pin-source must be an absolute path here");
		n = snprintf(buf, sizeof(buf), "%s/%s", dir, p);
	}
	if (n < 0 || (size_t)n >= sizeof(buf))
		return uri_err(eb, el, "pin-source: the path is too long");
	if ((*ret = strdup(buf)) == NULL)
		return KW_ERR_NOMEM;
	return 0;
}

int
hsm_token_cfg_parse(const char *s, const char *dir, struct hsm_token_cfg *ret, char *eb,
    size_t el)
{
	struct hsm_token_cfg c = {0};
	P11KitUri *u = NULL;
	const char *mp, *ps;
	int r;

	if (s == NULL || s[0] == '\0')
		return uri_err(eb, el, "the token is empty");
	if (!hsm_uri_is_uri(s)) {
		if (strlen(s) > 32)
			return uri_err(eb, el, "token label longer than 32 bytes");
		if ((c.token = strdup(s)) == NULL)
			return KW_ERR_NOMEM;
		*ret = c;
		return 0;
	}
	c.is_uri = true;
	if ((r = parse_checked(s, &u, eb, el)) != 0)
		return r;
	r = KW_ERR_CONFIG;
	if ((mp = p11_kit_uri_get_module_path(u)) != NULL) {
		if (mp[0] != '/' || !str_clean(mp)) {
			uri_err(eb, el, "module-path must be an absolute path");
			goto out;
		}
		if ((c.module_path = strdup(mp)) == NULL) {
			r = KW_ERR_NOMEM;
			goto out;
		}
	}
	if ((ps = p11_kit_uri_get_pin_source(u)) != NULL &&
	    (r = pin_path(ps, dir, &c.pin_file, eb, el)) != 0)
		goto out;
	/* what the helper matches: the URI without the two query attributes */
	p11_kit_uri_set_module_path(u, NULL);
	p11_kit_uri_set_pin_source(u, NULL);
	if (p11_kit_uri_format(u, P11_KIT_URI_FOR_ANY, &c.token) != P11_KIT_URI_OK) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	*ret = c;
	memset(&c, 0, sizeof(c));    /* transferred */
	r = 0;
out:
	hsm_token_cfg_clear(&c);
	p11_kit_uri_free(u);
	return r;
}

void
hsm_token_cfg_clear(struct hsm_token_cfg *c)
{
	if (c == NULL)
		return;
	free(c->token);
	free(c->module_path);
	free(c->pin_file);
	memset(c, 0, sizeof(*c));
}

struct hsm_uri {
	P11KitUri *u;
};

int
hsm_uri_token_new(const char *s, struct hsm_uri **ret, char *eb, size_t el)
{
	struct hsm_uri *h;
	P11KitUri *u = NULL;
	int r;

	if ((r = parse_checked(s, &u, eb, el)) != 0)
		return r;
	if (p11_kit_uri_get_module_path(u) != NULL || p11_kit_uri_get_pin_source(u) != NULL) {
		p11_kit_uri_free(u);
		return uri_err(eb, el, "module-path and pin-source do not belong here");
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

int
hsm_uri_token_fits(const char *want, const char *have, char *eb, size_t el)
{
	struct hsm_uri *w = NULL;
	P11KitUri *h = NULL;
	int r;

	if ((r = hsm_uri_token_new(want, &w, eb, el)) != 0)
		return r;
	r = KW_ERR_NOMEM;
	if ((h = p11_kit_uri_new()) == NULL)
		goto out;
	if (p11_kit_uri_parse(have, P11_KIT_URI_FOR_TOKEN, h) != P11_KIT_URI_OK) {
		r = KW_ERR_HSM;
		uri_err(eb, el, "the helper's token URI does not parse");
		goto out;
	}
	/* the helper's URI carries the token only: module and slot attributes were its to check */
	r = p11_kit_uri_match_token_info(w->u, p11_kit_uri_get_token_info(h)) ? 0 : KW_ERR_MISMATCH;
out:
	if (h != NULL)
		p11_kit_uri_free(h);
	hsm_uri_free(w);
	return r;
}

bool
hsm_uri_token_label_is(const char *have, const char *label)
{
	P11KitUri *h;
	CK_UTF8CHAR want[sizeof(((CK_TOKEN_INFO *)NULL)->label)];
	size_t ll = label != NULL ? strlen(label) : 0;
	bool r = false;

	if (have == NULL || ll == 0 || ll > sizeof(want) || (h = p11_kit_uri_new()) == NULL)
		return false;
	memset(want, ' ', sizeof(want));
	memcpy(want, label, ll);
	if (p11_kit_uri_parse(have, P11_KIT_URI_FOR_TOKEN, h) == P11_KIT_URI_OK)
		r = memcmp(p11_kit_uri_get_token_info(h)->label, want, sizeof(want)) == 0;
	p11_kit_uri_free(h);
	return r;
}

int
hsm_uri_object(const char *token_uri, const char *label, const void *id, size_t idlen,
    enum hsm_uri_type type, char **ret)
{
	CK_OBJECT_CLASS cls = type == HSM_URI_SECRET_KEY ? CKO_SECRET_KEY :
	    type == HSM_URI_PRIVATE ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY;
	CK_ATTRIBUTE a[3] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_LABEL, (void *)(uintptr_t)label, label != NULL ? strlen(label) : 0},
		{CKA_ID, (void *)(uintptr_t)id, idlen},
	};
	P11KitUri *u;
	char *s = NULL;
	int r = KW_ERR_INVALID_ARG;

	if (token_uri == NULL || label == NULL || label[0] == '\0' || (idlen > 0 && id == NULL))
		return KW_ERR_INVALID_ARG;
	if ((u = p11_kit_uri_new()) == NULL)
		return KW_ERR_NOMEM;
	if (p11_kit_uri_parse(token_uri, P11_KIT_URI_FOR_TOKEN, u) != P11_KIT_URI_OK)
		goto out;
	r = KW_ERR_NOMEM;
	if (p11_kit_uri_set_attribute(u, &a[0]) != P11_KIT_URI_OK ||
	    p11_kit_uri_set_attribute(u, &a[1]) != P11_KIT_URI_OK ||
	    (idlen > 0 && p11_kit_uri_set_attribute(u, &a[2]) != P11_KIT_URI_OK) ||
	    p11_kit_uri_format(u, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &s) != P11_KIT_URI_OK)
		goto out;
	*ret = s;
	r = 0;
out:
	p11_kit_uri_free(u);
	return r;
}

int
hsm_uri_secret(const char *token_uri, const char *label, size_t plain_len, char **ret)
{
	char id[32];
	int n = snprintf(id, sizeof(id), HSM_SECRET_ID_PREFIX "%zu", plain_len);

	if (n < 0 || (size_t)n >= sizeof(id) || plain_len == 0)
		return KW_ERR_INVALID_ARG;
	return hsm_uri_object(token_uri, label, id, (size_t)n, HSM_URI_SECRET_KEY, ret);
}
