/* SPDX-License-Identifier: Apache-2.0 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hsm_uri.h"
#include "kw_err.h"
#include "kw_log.h"
#include "kw_util.h"

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
 * The attribute names of RFC 7512 (those p11-kit 0.24 knows), path and
 * query: every name must be known, and none may come twice. path_names is
 * in p11-kit's formatting order (p11_kit_uri_format), which hsm_uri_p11.c
 * relies on too: the helper hands the formatted token URI to p11-kit.
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

static bool
str_clean(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/*
 * The token URI itself, parsed here without p11-kit so that the broker does
 * not load libp11-kit (and libffi) for it (docs/performance.md "Idle RSS").
 * The rules and the formatting follow p11-kit 0.24's (p11_kit_uri_parse,
 * p11_kit_uri_format), which the helper still uses to match tokens
 * (hsm_uri_p11.c), and tests/unit/hsm/test_hsm_uri.c checks both against
 * each other: values are percent-decoded into the fixed-size, space-padded
 * fields of CK_INFO, CK_SLOT_INFO and CK_TOKEN_INFO (all zero: not given),
 * and formatted with every byte outside ALPHA / DIGIT / "-" / "." / "_"
 * percent-encoded (RFC 7512 section 2.3), trailing spaces dropped.
 */
enum attr_kind { A_STR, A_VERSION, A_SLOT_ID, A_ID, A_OBJECT, A_TYPE };

/* Path attributes in p11_kit_uri_format's order; len: the field's size. */
static const struct attr {
	const char *name;
	enum attr_kind kind;
	size_t len;
	bool token;        /* part of an object URI on a token (FOR_OBJECT_ON_TOKEN) */
} attrs[] = {
	{"library-description", A_STR, 32, false},
	{"library-manufacturer", A_STR, 32, false},
	{"library-version", A_VERSION, 0, false},
	{"slot-description", A_STR, 64, false},
	{"slot-manufacturer", A_STR, 32, false},
	{"slot-id", A_SLOT_ID, 0, false},
	{"model", A_STR, 16, true},
	{"manufacturer", A_STR, 32, true},
	{"serial", A_STR, 16, true},
	{"token", A_STR, 32, true},
	{"id", A_ID, 0, true},
	{"object", A_OBJECT, 0, true},
	{"type", A_TYPE, 0, true},
};
#define N_ATTRS (sizeof(attrs) / sizeof(attrs[0]))
#define FIELD_MAX 64
#define A_TOKEN 9 /* attrs[] index of "token" */

static const char *const types[] = {"cert", "data", "private", "public", "secret-key"};

/* p11_kit_uri_message's texts, so that errors read as they did */
#define MSG_ENCODING "URI encoding invalid or corrupted"
#define MSG_SYNTAX "URI syntax is invalid"
#define MSG_VERSION "URI version component is invalid"

struct tok {
	unsigned char f[N_ATTRS][FIELD_MAX]; /* A_STR fields: space-padded, all zero: unset */
	bool set[N_ATTRS];
	unsigned int ver_major, ver_minor;
	unsigned long slot_id;
	bool unrecognized; /* a value longer than its field, or an unknown type */
	bool pin_value, module_name;
	char *module_path, *pin_source; /* decoded query values (free()) */
};

static void
tok_clear(struct tok *t)
{
	free(t->module_path);
	free(t->pin_source);
	memset(t, 0, sizeof(*t));
}

/*
 * Percent-decode v (n bytes) into out (room for cap bytes; more decoded
 * bytes are counted in *ret_len but not stored). False on bad encoding.
 */
static bool
pct_decode(const char *v, size_t n, unsigned char *out, size_t cap, size_t *ret_len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)v[i];

		if (v[i] == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return false;
			if ((hi = kw_hex_digit(v[i + 1])) < 0 || (lo = kw_hex_digit(v[i + 2])) < 0)
				return false;
			c = hi * 16 + lo;
			i += 2;
		}
		if (o < cap)
			out[o] = (unsigned char)c;
		o++;
	}
	*ret_len = o;
	return true;
}

/* A decimal number of at most max, digits only (no sign, no spaces). */
static bool
parse_num(const unsigned char *s, size_t n, unsigned long max, unsigned long *ret)
{
	unsigned long v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (max - (unsigned long)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*ret = v;
	return true;
}

/* One path attribute (name nl bytes, value v, vl bytes) into t; NULL or an error text. */
static const char *
tok_path_attr(struct tok *t, const char *name, size_t nl, const char *v, size_t vl)
{
	unsigned char buf[HSM_URI_MAX];
	size_t i, n;

	if (!pct_decode(v, vl, buf, sizeof(buf), &n))
		return MSG_ENCODING;
	for (i = 0; i < N_ATTRS; i++)
		if (strlen(attrs[i].name) == nl && memcmp(attrs[i].name, name, nl) == 0)
			break;
	if (i == N_ATTRS) {
		t->unrecognized = true;    /* an unknown name: check_names says which */
		return NULL;
	}
	switch (attrs[i].kind) {
	case A_STR:
		if (n > attrs[i].len) {
			t->unrecognized = true;
			return NULL;
		}
		memset(t->f[i], ' ', attrs[i].len);
		memcpy(t->f[i], buf, n);
		break;
	case A_VERSION: {
		const unsigned char *dot = memchr(buf, '.', n);
		unsigned long ma, mi = 0;

		/* each part at most 254: p11-kit reads 255 ((CK_BYTE)-1) as "not given" */
		if (!parse_num(buf, dot != NULL ? (size_t)(dot - buf) : n, 254, &ma) ||
		    (dot != NULL && !parse_num(dot + 1, n - (size_t)(dot + 1 - buf), 254, &mi)))
			return MSG_VERSION;
		t->ver_major = (unsigned int)ma;
		t->ver_minor = (unsigned int)mi;
		break;
	}
	case A_SLOT_ID:
		/* (CK_SLOT_ID)-1 is p11-kit's "no slot-id": refused rather than read as none */
		if (!parse_num(buf, n, ULONG_MAX - 1, &t->slot_id))
			return MSG_SYNTAX;
		break;
	case A_TYPE: {
		size_t k;

		for (k = 0; k < sizeof(types) / sizeof(types[0]); k++)
			if (strlen(types[k]) == n && memcmp(types[k], buf, n) == 0)
				break;
		if (k == sizeof(types) / sizeof(types[0])) {
			t->unrecognized = true;
			return NULL;
		}
		break;
	}
	case A_ID:
	case A_OBJECT:
		break;
	}
	t->set[i] = true;
	return NULL;
}

/* One query attribute into t; 0, KW_ERR_NOMEM, or KW_ERR_CONFIG with *why. */
static int
tok_query_attr(struct tok *t, const char *name, size_t nl, const char *v, size_t vl,
    const char **why)
{
	char **dst = NULL;
	size_t n;

	if (!pct_decode(v, vl, NULL, 0, &n)) {
		*why = MSG_ENCODING;
		return KW_ERR_CONFIG;
	}
	if (nl == 10 && memcmp(name, "pin-source", nl) == 0)
		dst = &t->pin_source;
	else if (nl == 11 && memcmp(name, "module-path", nl) == 0)
		dst = &t->module_path;
	else if (nl == 9 && memcmp(name, "pin-value", nl) == 0)
		t->pin_value = true;    /* never decoded: it is refused without a word on it */
	else if (nl == 11 && memcmp(name, "module-name", nl) == 0)
		t->module_name = true;
	if (dst == NULL)
		return 0;
	free(*dst);
	if ((*dst = malloc(n + 1)) == NULL)
		return KW_ERR_NOMEM;
	(void)pct_decode(v, vl, (unsigned char *)*dst, n, &n);
	(*dst)[n] = '\0';    /* parse_checked refused %00; in a helper's URI these go unused */
	return 0;
}

/*
 * Split [p, end) at sep and hand each name=value to the path or query
 * handler. A separator may end the part; an empty segment elsewhere, one
 * without '=' or one with an empty name is a syntax error.
 */
static int
tok_segments(struct tok *t, const char *p, const char *end, char sep, bool query,
    const char **why)
{
	while (p < end) {
		const char *seg_end = memchr(p, sep, (size_t)(end - p));
		const char *eq, *w;
		int r;

		if (seg_end == NULL)
			seg_end = end;
		if ((eq = memchr(p, '=', (size_t)(seg_end - p))) == NULL || eq == p) {
			*why = MSG_SYNTAX;
			return KW_ERR_CONFIG;
		}
		if (query) {
			if ((r = tok_query_attr(t, p, (size_t)(eq - p), eq + 1,
			    (size_t)(seg_end - eq - 1), why)) != 0)
				return r;
		} else if ((w = tok_path_attr(t, p, (size_t)(eq - p), eq + 1,
		    (size_t)(seg_end - eq - 1))) != NULL) {
			*why = w;
			return KW_ERR_CONFIG;
		}
		p = seg_end + 1;
	}
	return 0;
}

/*
 * The syntax of a PKCS#11 URI (s starts with the scheme): path and query
 * attributes decoded into *t. 0, KW_ERR_NOMEM, or KW_ERR_CONFIG with *why
 * (one of p11-kit's messages). *t is filled on failure too (tok_clear it).
 */
static int
tok_parse(const char *s, struct tok *t, const char **why)
{
	const char *p = s + SCHEME_LEN, *end = s + strlen(s), *q = strchr(p, '?');
	int r;

	memset(t, 0, sizeof(*t));
	if (q != NULL && strchr(q + 1, '?') != NULL) {
		*why = MSG_SYNTAX;
		return KW_ERR_CONFIG;
	}
	if ((r = tok_segments(t, p, q != NULL ? q : end, ';', false, why)) != 0)
		return r;
	return q != NULL ? tok_segments(t, q + 1, end, '&', true, why) : 0;
}

/*
 * Parse s with keywarden's rules (hsm_token_cfg_parse's contract, less the
 * query attributes' meaning): 0 and *t (tok_clear it), or the error.
 */
static int
parse_checked(const char *s, struct tok *t, char *eb, size_t el)
{
	const char *q, *why = NULL;
	size_t len = strlen(s);
	int r;

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
	if ((r = tok_parse(s, t, &why)) != 0) {
		tok_clear(t);
		return r == KW_ERR_NOMEM ? r : uri_err(eb, el, "not a valid PKCS#11 URI: %s", why);
	}
	r = KW_ERR_CONFIG;
	q = strchr(s, '?');
	if ((r = check_names(s + SCHEME_LEN, (size_t)((q != NULL ? q : s + len) - s) - SCHEME_LEN,
	    ';', path_names, sizeof(path_names) / sizeof(path_names[0]), "path", eb, el)) != 0 ||
	    (q != NULL && (r = check_names(q + 1, strlen(q + 1), '&', query_names,
	    sizeof(query_names) / sizeof(query_names[0]), "query", eb, el)) != 0))
		goto out;
	r = KW_ERR_CONFIG;
	if (t->unrecognized) {
		uri_err(eb, el, "a value does not fit its attribute (token, manufacturer, "
		    "slot-manufacturer, library-*: at most 32 bytes; model, serial: 16; "
		    "slot-description: 64; type: cert, data, private, public or secret-key)");
		goto out;
	}
	for (size_t i = 0; i < N_ATTRS; i++) {
		if (t->set[i] && (attrs[i].kind == A_ID || attrs[i].kind == A_OBJECT ||
		    attrs[i].kind == A_TYPE)) {
			uri_err(eb, el, "the URI names an object (object, id or type); name the "
			    "token only");
			goto out;
		}
	}
	if (t->pin_value) {
		uri_err(eb, el, "pin-value would put the PIN in the configuration; use pin-source "
		    "(a file only the HSM helper's user can read)");
		goto out;
	}
	if (t->module_name) {
		uri_err(eb, el, "module-name is not supported: name the module file with module-path");
		goto out;
	}
	for (size_t i = 0; i < N_ATTRS; i++) {
		if (attrs[i].kind != A_STR || !t->set[i])
			continue;
		for (size_t k = 0; k < attrs[i].len; k++) {
			if (t->f[i][k] < 0x20 || t->f[i][k] == 0x7f) {
				uri_err(eb, el, "a token attribute has a control character");
				goto out;
			}
		}
	}
	if (!t->set[A_TOKEN] || strspn((const char *)t->f[A_TOKEN], " ") >= attrs[A_TOKEN].len) {
		uri_err(eb, el, "the URI must name the token's label (token=...)");
		goto out;
	}
	return 0;
out:
	tok_clear(t);
	return r;
}

/* Append n bytes of v to the buffer at *o (room: end), percent-encoding them; false: no room. */
static bool
put_enc(char *buf, size_t cap, size_t *o, const unsigned char *v, size_t n, bool all)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = v[i];
		bool verbatim = !all && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_');

		if (*o + (verbatim ? 1 : 3) >= cap)
			return false;
		if (verbatim) {
			buf[(*o)++] = (char)c;
		} else {
			buf[(*o)++] = '%';
			buf[(*o)++] = hex[c >> 4];
			buf[(*o)++] = hex[c & 15];
		}
	}
	buf[*o] = '\0';
	return true;
}

static bool
put_raw(char *buf, size_t cap, size_t *o, const char *s)
{
	size_t n = strlen(s);

	if (*o + n >= cap)
		return false;
	memcpy(buf + *o, s, n + 1);
	*o += n;
	return true;
}

/* One "name=value" after the scheme or a ';'. */
static bool
put_attr(char *buf, size_t cap, size_t *o, const char *name, const unsigned char *v, size_t n,
    bool all)
{
	return (buf[*o - 1] == ':' || put_raw(buf, cap, o, ";")) && put_raw(buf, cap, o, name) &&
	    put_raw(buf, cap, o, "=") && put_enc(buf, cap, o, v, n, all);
}

/*
 * *ret (free()): t's path attributes as p11_kit_uri_format writes them
 * (token_only: those of a token, as for an object on a token), then the
 * object's id, label and type when label is not NULL. 0 or KW_ERR_NOMEM,
 * KW_ERR_TOO_LARGE.
 */
static int
tok_format(const struct tok *t, bool token_only, const char *label, const void *id,
    size_t idlen, const char *type, char **ret)
{
	char buf[HSM_URI_MAX * 3 + 64], num[48];
	size_t o = 0;
	bool ok = put_raw(buf, sizeof(buf), &o, SCHEME);

	for (size_t i = 0; ok && i < N_ATTRS; i++) {
		size_t n;

		if (!t->set[i] || (token_only && !attrs[i].token))
			continue;
		switch (attrs[i].kind) {
		case A_STR:
			for (n = attrs[i].len; n > 0 && t->f[i][n - 1] == ' '; n--)
				;
			ok = put_attr(buf, sizeof(buf), &o, attrs[i].name, t->f[i], n, false);
			break;
		case A_VERSION:
			(void)snprintf(num, sizeof(num), "%u.%u", t->ver_major, t->ver_minor);
			ok = put_attr(buf, sizeof(buf), &o, attrs[i].name, (const unsigned char *)num,
			    strlen(num), false);
			break;
		case A_SLOT_ID:
			(void)snprintf(num, sizeof(num), "%lu", t->slot_id);
			ok = put_attr(buf, sizeof(buf), &o, attrs[i].name, (const unsigned char *)num,
			    strlen(num), false);
			break;
		case A_ID:
		case A_OBJECT:
		case A_TYPE:
			break;    /* refused in token URIs (parse_checked); objects come from label */
		}
	}
	if (ok && label != NULL)
		ok = (idlen == 0 || put_attr(buf, sizeof(buf), &o, "id", id, idlen, true)) &&
		    put_attr(buf, sizeof(buf), &o, "object", (const unsigned char *)label,
		    strlen(label), false) &&
		    put_attr(buf, sizeof(buf), &o, "type", (const unsigned char *)type, strlen(type),
		    false);
	if (!ok)
		return KW_ERR_TOO_LARGE;
	if ((*ret = strdup(buf)) == NULL)
		return KW_ERR_NOMEM;
	return 0;
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
	struct tok t;
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
	if ((r = parse_checked(s, &t, eb, el)) != 0)
		return r;
	r = KW_ERR_CONFIG;
	if (t.module_path != NULL) {
		if (t.module_path[0] != '/' || !str_clean(t.module_path)) {
			uri_err(eb, el, "module-path must be an absolute path");
			goto out;
		}
		c.module_path = t.module_path;    /* transferred */
		t.module_path = NULL;
	}
	if (t.pin_source != NULL && (r = pin_path(t.pin_source, dir, &c.pin_file, eb, el)) != 0)
		goto out;
	/* what the helper matches: the URI without the two query attributes */
	if ((r = tok_format(&t, false, NULL, NULL, 0, NULL, &c.token)) != 0)
		goto out;
	*ret = c;
	memset(&c, 0, sizeof(c));    /* transferred */
	r = 0;
out:
	hsm_token_cfg_clear(&c);
	tok_clear(&t);
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

int
hsm_uri_token_check(const char *s, char *eb, size_t el)
{
	struct tok t;
	int r;

	if ((r = parse_checked(s, &t, eb, el)) != 0)
		return r;
	r = t.module_path != NULL || t.pin_source != NULL ?
	    uri_err(eb, el, "module-path and pin-source do not belong here") : 0;
	tok_clear(&t);
	return r;
}

/* A URI the helper formatted (a probe's token_uri): its syntax only. */
static bool
tok_parse_have(const char *have, struct tok *t)
{
	const char *why;

	if (!hsm_uri_is_uri(have) || strlen(have) > HSM_URI_MAX || tok_parse(have, t, &why) != 0) {
		tok_clear(t);
		return false;
	}
	return true;
}

int
hsm_uri_token_fits(const char *want, const char *have, char *eb, size_t el)
{
	struct tok w, h;
	int r;

	if ((r = parse_checked(want, &w, eb, el)) != 0)
		return r;
	if (w.module_path != NULL || w.pin_source != NULL) {
		tok_clear(&w);
		return uri_err(eb, el, "module-path and pin-source do not belong here");
	}
	if (have == NULL || !tok_parse_have(have, &h)) {
		tok_clear(&w);
		(void)uri_err(eb, el, "the helper's token URI does not parse");
		return KW_ERR_HSM;
	}
	/*
	 * The helper's URI carries the token only: module and slot attributes
	 * were its to check. A token attribute want gives must equal have's
	 * (p11_kit_uri_match_token_info: the space-padded fields compared).
	 */
	r = 0;
	for (size_t i = 0; i < N_ATTRS; i++)
		if (attrs[i].kind == A_STR && attrs[i].token && w.set[i] &&
		    memcmp(w.f[i], h.f[i], attrs[i].len) != 0)
			r = KW_ERR_MISMATCH;
	tok_clear(&w);
	tok_clear(&h);
	return r;
}

bool
hsm_uri_token_label_is(const char *have, const char *label)
{
	unsigned char want[32];
	size_t ll = label != NULL ? strlen(label) : 0;
	struct tok h;
	bool r;

	if (have == NULL || ll == 0 || ll > sizeof(want) || !tok_parse_have(have, &h))
		return false;
	memset(want, ' ', sizeof(want));
	memcpy(want, label, ll);
	r = h.set[A_TOKEN] && memcmp(h.f[A_TOKEN], want, sizeof(want)) == 0;
	tok_clear(&h);
	return r;
}

int
hsm_uri_object(const char *token_uri, const char *label, const void *id, size_t idlen,
    enum hsm_uri_type type, char **ret)
{
	const char *ts = type == HSM_URI_SECRET_KEY ? "secret-key" :
	    type == HSM_URI_PRIVATE ? "private" : "public";
	struct tok t;
	int r;

	if (token_uri == NULL || label == NULL || label[0] == '\0' || (idlen > 0 && id == NULL) ||
	    idlen > HSM_URI_MAX || strlen(label) > HSM_URI_MAX)
		return KW_ERR_INVALID_ARG;
	if (!tok_parse_have(token_uri, &t))
		return KW_ERR_INVALID_ARG;
	r = tok_format(&t, true, label, id, idlen, ts, ret);
	tok_clear(&t);
	return r == KW_ERR_TOO_LARGE ? KW_ERR_INVALID_ARG : r;
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
