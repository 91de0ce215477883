/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hsm/hsm_uri.c: token URIs in the configuration (good forms, and every
 * hostile form giving a clear error), object URIs read back with p11-kit,
 * the broker's probe check, and the helper selecting its token by URI.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "hsm_client.h"
#include "hsm_uri.h"
#include "kw_err.h"
#include "test_hsm.h"

#define SOFTHSM_MAN "SoftHSM%20project"
/* NULL-safe: a parse that failed leaves NULL behind */
#define ASSERT_STR(a, b) CU_ASSERT((a) != NULL && strcmp((a), (b)) == 0)
#define ASSERT_HAS(a, b) CU_ASSERT((a) != NULL && strstr((a), (b)) != NULL)

/* Parse s (dir "/etc/kw"); 0 and *c, or the error with its text in eb. */
static int
parse(const char *s, struct hsm_token_cfg *c, char *eb, size_t el)
{
	eb[0] = '\0';
	return hsm_token_cfg_parse(s, "/etc/kw", c, eb, el);
}

/* s is refused with KW_ERR_CONFIG, and the reason contains want. */
static void
refused(const char *s, const char *want)
{
	struct hsm_token_cfg c = {0};
	char eb[300];
	int r = parse(s, &c, eb, sizeof(eb));

	CU_ASSERT_EQUAL(r, KW_ERR_CONFIG);
	CU_ASSERT_PTR_NULL(c.token);
	if (strstr(eb, want) == NULL) {
		fprintf(stderr, "\n%.80s: '%s' lacks '%s'\n", s, eb, want);
		CU_FAIL("error text");
	}
	/* one line, bounded: a hostile URI is never echoed at length */
	CU_ASSERT_PTR_NULL(strchr(eb, '\n'));
	CU_ASSERT(strlen(eb) < 240);
}

static void
test_label_and_uri(void)
{
	struct hsm_token_cfg c = {0};
	char eb[300];

	CU_ASSERT_EQUAL(parse("kw", &c, eb, sizeof(eb)), 0);
	CU_ASSERT_FALSE(c.is_uri);
	ASSERT_STR(c.token, "kw");
	CU_ASSERT_PTR_NULL(c.module_path);
	CU_ASSERT_PTR_NULL(c.pin_file);
	hsm_token_cfg_clear(&c);
	refused("123456789012345678901234567890123", "longer than 32");
	refused("", "empty");

	CU_ASSERT_EQUAL(parse("pkcs11:token=keywarden;manufacturer=" SOFTHSM_MAN, &c, eb,
	    sizeof(eb)), 0);
	CU_ASSERT_TRUE(c.is_uri);
	/* p11_kit_uri_format's order; the token part only */
	ASSERT_STR(c.token, "pkcs11:manufacturer=" SOFTHSM_MAN ";token=keywarden");
	CU_ASSERT_PTR_NULL(c.module_path);
	hsm_token_cfg_clear(&c);

	/* module-path and pin-source leave the token part */
	CU_ASSERT_EQUAL(parse("PKCS11:token=kw?module-path=/usr/lib/softhsm/libsofthsm2.so"
	    "&pin-source=file:/etc/kw/pin", &c, eb, sizeof(eb)), 0);
	ASSERT_STR(c.token, "pkcs11:token=kw");
	ASSERT_STR(c.module_path, "/usr/lib/softhsm/libsofthsm2.so");
	ASSERT_STR(c.pin_file, "/etc/kw/pin");
	hsm_token_cfg_clear(&c);
	CU_ASSERT_EQUAL(parse("pkcs11:token=kw?pin-source=file:///run/pin", &c, eb, sizeof(eb)), 0);
	ASSERT_STR(c.pin_file, "/run/pin");
	hsm_token_cfg_clear(&c);
	CU_ASSERT_EQUAL(parse("pkcs11:token=kw?pin-source=/abs/pin", &c, eb, sizeof(eb)), 0);
	ASSERT_STR(c.pin_file, "/abs/pin");
	hsm_token_cfg_clear(&c);
	CU_ASSERT_EQUAL(parse("pkcs11:token=kw?pin-source=pins/user%20pin", &c, eb, sizeof(eb)), 0);
	ASSERT_STR(c.pin_file, "/etc/kw/pins/user pin");
	hsm_token_cfg_clear(&c);
	/* module, slot and token attributes together */
	CU_ASSERT_EQUAL(parse("pkcs11:library-manufacturer=SoftHSM;slot-id=7;model=SoftHSM%20v2;"
	    "serial=0123456789abcdef;token=kw", &c, eb, sizeof(eb)), 0);
	ASSERT_HAS(c.token, "serial=0123456789abcdef");
	ASSERT_HAS(c.token, "slot-id=7");
	hsm_token_cfg_clear(&c);
}

static void
test_percent_encoding(void)
{
	struct hsm_token_cfg c = {0};
	char eb[300];

	/* an encoded unreserved character is the character; hex of either case */
	CU_ASSERT_EQUAL(parse("pkcs11:token=key%77arden;manufacturer=SoftHSM%20Project%2f%2F",
	    &c, eb, sizeof(eb)), 0);
	ASSERT_STR(c.token, "pkcs11:manufacturer=SoftHSM%20Project%2F%2F;token=keywarden");
	hsm_token_cfg_clear(&c);
	refused("pkcs11:token=%zz", "not a valid PKCS#11 URI");
	refused("pkcs11:token=ab%2", "not a valid PKCS#11 URI");
	refused("pkcs11:token=a%00b", "%00");
	refused("pkcs11:token=a%01b", "control character");
	refused("pkcs11:token=kw?pin-source=/a%0Ab", "control character");
	refused("pkcs11:token=SoftHSM project", "offset 20");
	refused("pkcs11:token=kw\tx", "space, control");
	refused("pkcs11:token=k\xc3\xa9", "non-ASCII");
	refused("pkcs11:;;;", "not a valid PKCS#11 URI");
}

static void
test_attributes(void)
{
	char name[1100], uri[1200];

	refused("pkcs11:tokne=kw", "unknown path attribute 'tokne'");
	refused("pkcs11:token=kw?foo=bar", "unknown query attribute 'foo'");
	refused("pkcs11:token=kw;x-vendor=1", "vendor path attribute 'x-vendor'");
	refused("pkcs11:token=kw?x-vendor=1", "vendor query attribute 'x-vendor'");
	refused("pkcs11:token=a;token=b", "'token' given twice");
	refused("pkcs11:token=kw?pin-source=/a&pin-source=/b", "'pin-source' given twice");
	refused("pkcs11:token=kw;object=kw-key%2Fa;type=secret-key", "names an object");
	refused("pkcs11:token=kw;id=%01", "names an object");
	refused("pkcs11:token=kw?pin-value=1234", "pin-value would put the PIN");
	refused("pkcs11:token=kw?module-name=softhsm2", "module-name is not supported");
	refused("pkcs11:token=kw?module-path=lib.so", "absolute path");
	refused("pkcs11:", "must name the token");
	refused("pkcs11:token=", "must name the token");
	refused("pkcs11:manufacturer=" SOFTHSM_MAN, "must name the token");
	refused("pkcs11:token=kw;library-version=abc", "not a valid PKCS#11 URI");
	refused("pkcs11:token=kw;model=123456789012345678901234567890123", "does not fit");
	refused("pkcs11:token=kw;serial=01234567890123456", "does not fit");
	/* a long unknown name is cut short in the error */
	memset(name, 'q', 1000);
	name[1000] = '\0';
	snprintf(uri, sizeof(uri), "pkcs11:token=kw;%s=1", name);
	refused(uri, "unknown path attribute 'qqqq");
}

static void
test_pin_source(void)
{
	struct hsm_token_cfg c = {0};
	char eb[300];

	refused("pkcs11:token=kw?pin-source=http://example.com/pin", "file: URI or a path");
	refused("pkcs11:token=kw?pin-source=env:PIN", "file: URI or a path");
	refused("pkcs11:token=kw?pin-source=%7C/bin/cat", "file: URI or a path");
	refused("pkcs11:token=kw?pin-source=file://host/pin", "with a host");
	refused("pkcs11:token=kw?pin-source=file:pin", "absolute path");
	refused("pkcs11:token=kw?pin-source=file:/a%2520b", "%, ? or #");
	refused("pkcs11:token=kw?pin-source=file:", "absolute path");
	/* a relative path needs a base directory (the helper's command line has none) */
	CU_ASSERT_EQUAL(hsm_token_cfg_parse("pkcs11:token=kw?pin-source=pin", NULL, &c, eb,
	    sizeof(eb)), KW_ERR_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(eb, "absolute path"));
}

static void
test_long(void)
{
	char *s = malloc(HSM_URI_MAX + 64);
	size_t n;

	CU_ASSERT_FATAL(s != NULL);
	/* 4 KiB: a token label far over 32 bytes */
	n = (size_t)snprintf(s, HSM_URI_MAX + 64, "pkcs11:token=");
	memset(s + n, 'a', HSM_URI_MAX - n);
	s[HSM_URI_MAX] = '\0';
	refused(s, "does not fit");
	/* 4 KiB of valid attributes in a valid order, then one byte more */
	n = (size_t)snprintf(s, HSM_URI_MAX + 64, "pkcs11:token=kw?module-path=/");
	memset(s + n, 'm', HSM_URI_MAX - n);
	s[HSM_URI_MAX] = '\0';
	{
		struct hsm_token_cfg c = {0};
		char eb[300];

		CU_ASSERT_EQUAL(parse(s, &c, eb, sizeof(eb)), 0);
		CU_ASSERT_EQUAL(c.module_path != NULL ? strlen(c.module_path) : 0,
		    HSM_URI_MAX - strlen("pkcs11:token=kw?module-path="));
		hsm_token_cfg_clear(&c);
	}
	s[HSM_URI_MAX] = 'm';
	s[HSM_URI_MAX + 1] = '\0';
	refused(s, "longer than 4096");
	free(s);
}

/* The object URI read back by p11-kit: label, id and class as given. */
static void
test_object_uri(void)
{
	const char *tok = "pkcs11:model=SoftHSM%20v2;manufacturer=" SOFTHSM_MAN
	    ";serial=a1b2c3d4e5f60718;token=keywarden";
	P11KitUri *u = p11_kit_uri_new();
	CK_ATTRIBUTE *a;
	CK_OBJECT_CLASS cls;
	char *s = NULL;

	CU_ASSERT_FATAL(u != NULL);
	CU_ASSERT_EQUAL(hsm_uri_secret(tok, "kw-key/repo/type/tag/v12", 4096, &s), 0);
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, ";type=secret-key"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "object=kw-key%2Frepo%2Ftype%2Ftag%2Fv12"));
	CU_ASSERT_EQUAL(p11_kit_uri_parse(s, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, u), P11_KIT_URI_OK);
	a = p11_kit_uri_get_attribute(u, CKA_LABEL);
	CU_ASSERT(a != NULL && a->ulValueLen == 24 && memcmp(a->pValue, "kw-key/repo/type/tag/v12",
	    24) == 0);
	a = p11_kit_uri_get_attribute(u, CKA_ID);
	CU_ASSERT(a != NULL && a->ulValueLen == 12 && memcmp(a->pValue, "kw1:len=4096", 12) == 0);
	a = p11_kit_uri_get_attribute(u, CKA_CLASS);
	CU_ASSERT_FATAL(a != NULL && a->ulValueLen == sizeof(cls));
	memcpy(&cls, a->pValue, sizeof(cls));
	CU_ASSERT_EQUAL(cls, CKO_SECRET_KEY);
	CU_ASSERT_EQUAL(memcmp(p11_kit_uri_get_token_info(u)->serialNumber, "a1b2c3d4e5f60718",
	    16), 0);
	free(s);
	s = NULL;
	/* a private key without an id */
	CU_ASSERT_EQUAL(hsm_uri_object(tok, "kw-token/1700000000", NULL, 0, HSM_URI_PRIVATE, &s), 0);
	CU_ASSERT(s != NULL && strstr(s, "type=private") != NULL && strstr(s, "id=") == NULL);
	free(s);
	s = NULL;
	CU_ASSERT_EQUAL(hsm_uri_object("not a uri", "l", NULL, 0, HSM_URI_PUBLIC, &s),
	    KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(hsm_uri_object(tok, "", NULL, 0, HSM_URI_PUBLIC, &s), KW_ERR_INVALID_ARG);
	CU_ASSERT_EQUAL(hsm_uri_secret(tok, "l", 0, &s), KW_ERR_INVALID_ARG);
	CU_ASSERT_PTR_NULL(s);
	p11_kit_uri_free(u);
}

/* The broker's check of hsm.token against the probe's token_uri. */
static void
test_token_fits(void)
{
	const char *have = "pkcs11:model=SoftHSM%20v2;manufacturer=" SOFTHSM_MAN
	    ";serial=a1b2c3d4e5f60718;token=keywarden";
	char eb[300];

	CU_ASSERT_EQUAL(hsm_uri_token_fits("pkcs11:token=keywarden", have, eb, sizeof(eb)), 0);
	CU_ASSERT_EQUAL(hsm_uri_token_fits("pkcs11:token=keywarden;manufacturer=" SOFTHSM_MAN,
	    have, eb, sizeof(eb)), 0);
	CU_ASSERT_EQUAL(hsm_uri_token_fits("pkcs11:token=keywarden;serial=a1b2c3d4e5f60718", have,
	    eb, sizeof(eb)), 0);
	CU_ASSERT_EQUAL(hsm_uri_token_fits("pkcs11:token=keywarden;serial=ffff", have, eb,
	    sizeof(eb)), KW_ERR_MISMATCH);
	CU_ASSERT_EQUAL(hsm_uri_token_fits("pkcs11:token=other", have, eb, sizeof(eb)),
	    KW_ERR_MISMATCH);
	CU_ASSERT_EQUAL(hsm_uri_token_fits("pkcs11:token=keywarden;manufacturer=Other", have, eb,
	    sizeof(eb)), KW_ERR_MISMATCH);
	CU_ASSERT_EQUAL(hsm_uri_token_fits("pkcs11:token=kw?pin-source=/p", have, eb, sizeof(eb)),
	    KW_ERR_CONFIG);
	CU_ASSERT_EQUAL(hsm_uri_token_fits("pkcs11:token=keywarden", "garbage", eb, sizeof(eb)),
	    KW_ERR_HSM);
	/* a label against the helper's token URI */
	CU_ASSERT_TRUE(hsm_uri_token_label_is(have, "keywarden"));
	CU_ASSERT_FALSE(hsm_uri_token_label_is(have, "keywarde"));
	CU_ASSERT_FALSE(hsm_uri_token_label_is(have, "keywardenx"));
	CU_ASSERT_FALSE(hsm_uri_token_label_is(have, ""));
	CU_ASSERT_FALSE(hsm_uri_token_label_is(NULL, "keywarden"));
	CU_ASSERT_FALSE(hsm_uri_token_label_is("garbage", "keywarden"));
	CU_ASSERT_FALSE(hsm_uri_token_label_is(have, "123456789012345678901234567890123"));
}

/* A helper started with --token URI; its probe. NULL when it did not start. */
static struct hsm_client *
uri_client(const char *uri)
{
	struct hsm_client_config cfg = {0};
	struct hsm_client *c = NULL;

	cfg.helper_path = helper_path;
	cfg.module_path = MODULE;
	cfg.token_label = uri;
	cfg.pin_file = pin_path;
	cfg.softhsm2_conf = conf_path;
	cfg.log_level = "error";
	cfg.admin_timeout_ms = 60000;
	return hsm_client_start(base, &cfg, &c) == 0 ? c : NULL;
}

static bool
has_profile(const struct hsm_result *p)
{
	for (size_t i = 0; i < p->u.probe.n_profiles; i++)
		if (strcmp(p->u.probe.profiles[i], PROFILE) == 0)
			return true;
	return false;
}

/*
 * Whether a helper started with --token uri finds a token: its probe has a
 * token_uri and the profile (login and self test passed). Without one the
 * helper keeps running and its probe says so (neither).
 */
static bool
uri_finds(const char *uri)
{
	struct hsm_client *c = uri_client(uri);
	const struct hsm_result *p;
	bool found;

	CU_ASSERT_FATAL(c != NULL);
	p = hsm_client_start_probe(c);
	found = p->u.probe.token_uri != NULL;
	CU_ASSERT_EQUAL(found, has_profile(p));
	hsm_client_free(c);
	return found;
}

static void
test_helper_by_uri(void)
{
	const struct hsm_result *p;
	struct hsm_client *c;
	char eb[300];

	/* the label form also reports its token's URI */
	p = hsm_client_start_probe(cl);
	CU_ASSERT_FATAL(p != NULL && p->u.probe.token_uri != NULL);
	ASSERT_HAS(p->u.probe.token_uri, "token=kwtest");
	ASSERT_HAS(p->u.probe.token_uri, "manufacturer=" SOFTHSM_MAN);
	ASSERT_HAS(p->u.probe.token_uri, "serial=");

	c = uri_client("pkcs11:manufacturer=" SOFTHSM_MAN ";token=kwtest");
	CU_ASSERT_FATAL(c != NULL);
	p = hsm_client_start_probe(c);
	ASSERT_STR(p->u.probe.token, "pkcs11:manufacturer=" SOFTHSM_MAN ";token=kwtest");
	CU_ASSERT_TRUE(has_profile(p));    /* found, logged in, self test passed */
	CU_ASSERT_FATAL(p->u.probe.token_uri != NULL);
	CU_ASSERT_EQUAL(hsm_uri_token_fits(p->u.probe.token, p->u.probe.token_uri, eb, sizeof(eb)),
	    0);
	hsm_client_free(c);

	/* library attributes are matched as well; a URI no token fits finds none */
	CU_ASSERT_TRUE(uri_finds("pkcs11:library-manufacturer=SoftHSM;library-description="
	    "Implementation%20of%20PKCS11;token=kwtest"));
	CU_ASSERT_FALSE(uri_finds("pkcs11:library-manufacturer=Other;token=kwtest"));
	CU_ASSERT_FALSE(uri_finds("pkcs11:token=kwtest;serial=0000000000000000"));
}

/* The one entry of dir tokens/ not named skip (or "" when there is none); out: its name. */
static void
other_token_dir(const char *skip, char *out, size_t n)
{
	char path[160];
	struct dirent *e;
	DIR *d;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/tokens", tmpdir);
	if ((d = opendir(path)) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && strcmp(e->d_name, skip) != 0)
			snprintf(out, n, "%s", e->d_name);
	closedir(d);
}

/*
 * Two tokens labelled kwtest: the label URI fits both and is refused (no
 * guess); adding the first token's serial picks it. The second token is
 * removed again (its directory), so nothing after this test sees it.
 */
static void
test_ambiguous_uri(void)
{
	const struct hsm_result *p = hsm_client_start_probe(cl);
	P11KitUri *u = p11_kit_uri_new();
	char first[256], second[256], uri[200], cmd[600], serial[17];

	CU_ASSERT_FATAL(u != NULL && p != NULL && p->u.probe.token_uri != NULL);
	CU_ASSERT_FATAL(p11_kit_uri_parse(p->u.probe.token_uri, P11_KIT_URI_FOR_TOKEN, u) ==
	    P11_KIT_URI_OK);
	memcpy(serial, p11_kit_uri_get_token_info(u)->serialNumber, 16);
	serial[16] = '\0';
	p11_kit_uri_free(u);
	other_token_dir("", first, sizeof(first));
	CU_ASSERT_FATAL(first[0] != '\0');
	CU_ASSERT_FATAL(system("softhsm2-util --init-token --free --label kwtest --so-pin 1234 "
	    "--pin 5678 >/dev/null") == 0);
	other_token_dir(first, second, sizeof(second));
	CU_ASSERT_FATAL(second[0] != '\0');

	CU_ASSERT_FALSE(uri_finds("pkcs11:token=kwtest"));
	CU_ASSERT_FALSE(uri_finds("pkcs11:token=kwtest;manufacturer=" SOFTHSM_MAN));
	snprintf(uri, sizeof(uri), "pkcs11:token=kwtest;serial=%s", serial);
	CU_ASSERT_TRUE(uri_finds(uri));

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/tokens/%s'", tmpdir, second);
	CU_ASSERT(system(cmd) == 0);
}

/* p11-kit's reading of s, formatted without the two query attributes; NULL: refused. */
static char *
p11kit_token(const char *s)
{
	P11KitUri *u = p11_kit_uri_new();
	char *out = NULL;

	CU_ASSERT_FATAL(u != NULL);
	if (p11_kit_uri_parse(s, P11_KIT_URI_FOR_ANY, u) == P11_KIT_URI_OK &&
	    !p11_kit_uri_any_unrecognized(u)) {
		p11_kit_uri_set_module_path(u, NULL);
		p11_kit_uri_set_pin_source(u, NULL);
		CU_ASSERT_EQUAL(p11_kit_uri_format(u, P11_KIT_URI_FOR_ANY, &out), P11_KIT_URI_OK);
	}
	p11_kit_uri_free(u);
	return out;
}

/*
 * hsm_uri.c parses and formats without p11-kit (the broker does not link
 * it); the helper hands the result to p11-kit. Both must read a URI alike:
 * whatever hsm_uri.c accepts, p11-kit accepts and formats to the same
 * string; every byte value round-trips through percent-encoding; and what
 * p11-kit refuses (bad encoding, syntax, versions, values too long),
 * hsm_uri.c refuses too.
 */
static void
test_same_as_p11kit(void)
{
	static const char *const good[] = {
		"pkcs11:token=keywarden",
		"pkcs11:token=keywarden;",
		"pkcs11:token=kw?",
		"pkcs11:serial=a1b2c3d4e5f60718;token=keywarden;manufacturer=SoftHSM%20project",
		"pkcs11:token=kw;model=1234567890123456;serial=0123456789abcdef",
		"pkcs11:token=%6B%77;manufacturer=%2f%2F%7e%5F%2d%2E%3b%3D%25%26%3F",
		"pkcs11:token=a%20%20;manufacturer=b%20",
		"pkcs11:token=kw;manufacturer=",
		"pkcs11:token=kw;library-description=d;library-manufacturer=lm;library-version=1;"
		    "slot-description=sd;slot-manufacturer=sm;slot-id=5",
		"pkcs11:token=kw;library-version=2.40",
		"pkcs11:token=kw;library-version=01.02",
		"pkcs11:token=kw;library-version=254.254",
		"pkcs11:token=kw;library-version=1.50",
		"pkcs11:token=kw;slot-id=007",
		"pkcs11:token=kw;slot-id=18446744073709551614",
		"pkcs11:token=kw;slot-description=1234567890123456789012345678901234567890123456789012"
		    "345678901234",
		"pkcs11:token=kw?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/pin&",
		"PKCS11:token=kw?pin-source=file:///etc/kw/pin",
		"pkcs11:token=%E2%9C%93%C3%A9",
	};
	static const char *const bad[] = {
		"pkcs11:token=%zz", "pkcs11:token=a%2", "pkcs11:token=a%", "pkcs11:token",
		"pkcs11:=a", "pkcs11:token=a;slot-id=x", "pkcs11:token=a;slot-id=-1",
		"pkcs11:token=a;slot-id=0x10", "pkcs11:token=a;slot-id=+5",
		"pkcs11:token=a;library-version=1.x", "pkcs11:token=a;library-version=1.2.3",
		"pkcs11:token=a;library-version=", "pkcs11:token=a;library-version=300",
		"pkcs11:token=a;library-version=.1", "pkcs11:token=a;library-version=1.",
		"pkcs11:token=a;library-version=255", "pkcs11:token=a;library-version=0.255",
		"pkcs11:token=a;model=12345678901234567", "pkcs11:token=a;type=x",
		"pkcs11:token=a?=x", "pkcs11:token=a?pin-source",
		"pkcs11:token=a?pin-source=/x&&module-path=/m",
		"pkcs11:token=123456789012345678901234567890123",
	};
	struct hsm_token_cfg c = {0};
	char eb[300], uri[64], *want;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		want = p11kit_token(good[i]);
		CU_ASSERT_EQUAL(parse(good[i], &c, eb, sizeof(eb)), 0);
		if (want == NULL || c.token == NULL || strcmp(want, c.token) != 0) {
			fprintf(stderr, "\n%s: p11-kit '%s', hsm_uri '%s' (%s)\n", good[i],
			    want != NULL ? want : "(refused)", c.token != NULL ? c.token : "(refused)",
			    eb);
			CU_FAIL("hsm_uri.c and p11-kit read a URI differently");
		}
		free(want);
		hsm_token_cfg_clear(&c);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		want = p11kit_token(bad[i]);
		CU_ASSERT_PTR_NULL(want);    /* the list is of what p11-kit refuses */
		free(want);
		CU_ASSERT_EQUAL(parse(bad[i], &c, eb, sizeof(eb)), KW_ERR_CONFIG);
		CU_ASSERT_PTR_NULL(c.token);
	}
	/* p11-kit reads slot-id (CK_SLOT_ID)-1 as "any slot"; hsm_uri.c refuses it */
	CU_ASSERT_EQUAL(parse("pkcs11:token=kw;slot-id=18446744073709551615", &c, eb, sizeof(eb)),
	    KW_ERR_CONFIG);
	ASSERT_HAS(eb, "not a valid PKCS#11 URI");
	/* every byte but NUL and the controls refused by field_clean, percent-encoded */
	for (unsigned int b = 0x20; b <= 0xff; b++) {
		if (b == 0x7f)
			continue;
		snprintf(uri, sizeof(uri), "pkcs11:token=k%%%02X%%%02xw", b, b);
		want = p11kit_token(uri);
		CU_ASSERT_EQUAL(parse(uri, &c, eb, sizeof(eb)), 0);
		CU_ASSERT(want != NULL && c.token != NULL && strcmp(want, c.token) == 0);
		free(want);
		hsm_token_cfg_clear(&c);
	}
}

/* Object URIs as p11-kit formats them (label bytes of every value, a binary id). */
static void
test_object_uri_same_as_p11kit(void)
{
	const char *tok = "pkcs11:model=SoftHSM%20v2;manufacturer=" SOFTHSM_MAN
	    ";serial=a1b2c3d4e5f60718;token=keywarden";
	static const enum hsm_uri_type types[] = {HSM_URI_SECRET_KEY, HSM_URI_PRIVATE,
		HSM_URI_PUBLIC};
	static const CK_OBJECT_CLASS classes[] = {CKO_SECRET_KEY, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY};
	char label[300];
	unsigned char id[256];
	size_t n = 0;

	for (unsigned int b = 1; b <= 0xff; b++)
		label[n++] = (char)b;
	label[n] = '\0';
	for (size_t i = 0; i < sizeof(id); i++)
		id[i] = (unsigned char)(255 - i);
	for (size_t t = 0; t < 3; t++) {
		for (size_t with_id = 0; with_id < 2; with_id++) {
			CK_OBJECT_CLASS cls = classes[t];
			CK_ATTRIBUTE a[3] = {
				{CKA_CLASS, &cls, sizeof(cls)},
				{CKA_LABEL, label, n},
				{CKA_ID, id, sizeof(id)},
			};
			P11KitUri *u = p11_kit_uri_new();
			char *want = NULL, *got = NULL;

			CU_ASSERT_FATAL(u != NULL);
			CU_ASSERT_FATAL(p11_kit_uri_parse(tok, P11_KIT_URI_FOR_TOKEN, u) ==
			    P11_KIT_URI_OK);
			CU_ASSERT(p11_kit_uri_set_attribute(u, &a[0]) == P11_KIT_URI_OK);
			CU_ASSERT(p11_kit_uri_set_attribute(u, &a[1]) == P11_KIT_URI_OK);
			if (with_id)
				CU_ASSERT(p11_kit_uri_set_attribute(u, &a[2]) == P11_KIT_URI_OK);
			CU_ASSERT(p11_kit_uri_format(u, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &want) ==
			    P11_KIT_URI_OK);
			CU_ASSERT_EQUAL(hsm_uri_object(tok, label, with_id ? id : NULL,
			    with_id ? sizeof(id) : 0, types[t], &got), 0);
			CU_ASSERT(want != NULL && got != NULL && strcmp(want, got) == 0);
			free(want);
			free(got);
			p11_kit_uri_free(u);
		}
	}
}

/* hsm_uri_token_fits against p11_kit_uri_match_token_info, pair by pair. */
static void
test_fits_same_as_p11kit(void)
{
	static const char *const uris[] = {
		"pkcs11:token=keywarden",
		"pkcs11:token=keywarden;manufacturer=SoftHSM%20project",
		"pkcs11:token=keywarden;manufacturer=",
		"pkcs11:token=keywarden;serial=a1b2c3d4e5f60718",
		"pkcs11:token=keywarden%20",
		"pkcs11:token=keywarden;model=SoftHSM%20v2;serial=a1b2c3d4e5f60718",
		"pkcs11:token=other;model=SoftHSM%20v2",
		"pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=a1b2c3d4e5f60718;"
		    "token=keywarden",
	};
	char eb[300];

	for (size_t w = 0; w < sizeof(uris) / sizeof(uris[0]); w++) {
		for (size_t h = 0; h < sizeof(uris) / sizeof(uris[0]); h++) {
			P11KitUri *uw = p11_kit_uri_new(), *uh = p11_kit_uri_new();
			int want;

			CU_ASSERT_FATAL(uw != NULL && uh != NULL);
			CU_ASSERT(p11_kit_uri_parse(uris[w], P11_KIT_URI_FOR_ANY, uw) == P11_KIT_URI_OK);
			CU_ASSERT(p11_kit_uri_parse(uris[h], P11_KIT_URI_FOR_TOKEN, uh) ==
			    P11_KIT_URI_OK);
			want = p11_kit_uri_match_token_info(uw, p11_kit_uri_get_token_info(uh)) ? 0 :
			    KW_ERR_MISMATCH;
			CU_ASSERT_EQUAL(hsm_uri_token_fits(uris[w], uris[h], eb, sizeof(eb)), want);
			p11_kit_uri_free(uw);
			p11_kit_uri_free(uh);
		}
	}
}

int
test_hsm_uri_suite(void)
{
	static const struct hsm_test tests[] = {
		{"label and URI forms", test_label_and_uri},
		{"percent-encoding and bad bytes", test_percent_encoding},
		{"unknown, vendor, repeated and refused attributes", test_attributes},
		{"pin-source forms", test_pin_source},
		{"4 KiB URIs", test_long},
		{"object URIs read back by p11-kit", test_object_uri},
		{"token URIs read as p11-kit reads them", test_same_as_p11kit},
		{"object URIs formatted as p11-kit formats them", test_object_uri_same_as_p11kit},
		{"token matching as p11-kit matches", test_fits_same_as_p11kit},
		{"hsm.token against the probe's token_uri", test_token_fits},
		{"the helper selects its token by URI", test_helper_by_uri},
		{"a URI that fits two tokens is refused", test_ambiguous_uri},
		{NULL, NULL},
	};

	return hsm_test_add_suite("hsm_uri", true, tests);
}
