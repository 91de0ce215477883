/* SPDX-License-Identifier: Apache-2.0 */
#include <libgen.h>
#include <stddef.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "config.h"
#include "conntab.h"
#include "hsm_uri.h"
#include "policy.h"
#include "kw_json.h"
#include "kw_log.h"
#include "kw_name.h"
#include "kw_util.h"
#include "tdx_pcs.h"

static int KW_PRINTF(3, 4)
cfg_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
	return KW_ERR_CONFIG;
}

/* Resolve a relative path against the configuration file's directory. */
static char *
cfg_path(const char *dir, const char *p)
{
	char buf[PATH_MAX];
	int n;

	if (p[0] == '/')
		return strdup(p);
	n = snprintf(buf, sizeof(buf), "%s/%s", dir, p);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return NULL;
	return strdup(buf);
}

static int
get_str(json_t *o, const char *key, const char **ret, int required, char *eb, size_t el,
    const char *where)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL) {
		if (required)
			return cfg_err(eb, el, "%s: missing \"%s\"", where, key);
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 4096)
		return cfg_err(eb, el, "%s: \"%s\" must be a non-empty string", where, key);
	*ret = json_string_value(v);
	return 0;
}

static int
get_uint(json_t *o, const char *key, unsigned long long min, unsigned long long max,
    unsigned long long *inout, char *eb, size_t el, const char *where)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (unsigned long long)json_integer_value(v) < min ||
	    (unsigned long long)json_integer_value(v) > max)
		return cfg_err(eb, el, "%s: \"%s\" must be an integer in %llu..%llu", where, key,
		    min, max);
	*inout = (unsigned long long)json_integer_value(v);
	return 0;
}

static int
check_keys(json_t *o, const char *const *allowed, char *eb, size_t el, const char *where)
{
	const char *k;

	if (!json_is_object(o))
		return cfg_err(eb, el, "%s must be an object", where);
	if ((k = kw_json_unknown_key(o, allowed)) != NULL) {
		char esc[80];

		kw_log_escape(k, 40, esc, sizeof(esc));
		return cfg_err(eb, el, "%s: unknown key '%s'", where, esc);
	}
	return 0;
}

static int
path_list(json_t *o, const char *key, const char *dir, char ***ret, size_t *ret_n, char *eb,
    size_t el, const char *where)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i;

	*ret = NULL;
	*ret_n = 0;
	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > 64)
		return cfg_err(eb, el, "%s: \"%s\" must be an array of at most 64 paths", where, key);
	if (json_array_size(a) == 0)
		return 0;
	if ((*ret = calloc(json_array_size(a), sizeof(char *))) == NULL)
		return KW_ERR_NOMEM;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0)
			return cfg_err(eb, el, "%s: \"%s\"[%zu] must be a path", where, key, i);
		if (((*ret)[i] = cfg_path(dir, json_string_value(v))) == NULL)
			return KW_ERR_NOMEM;
		(*ret_n)++;
	}
	return 0;
}

static int
parse_listen(const char *s, struct kw_config *c, char *eb, size_t el)
{
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long port;

	if (colon == NULL || colon == s || colon[1] == '\0')
		return cfg_err(eb, el, "\"listen\" must be ADDRESS:PORT");
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535)
		return cfg_err(eb, el, "\"listen\": invalid port");
	if (s[0] == '[' && colon[-1] == ']')
		c->listen_addr = strndup(s + 1, (size_t)(colon - s - 2));
	else
		c->listen_addr = strndup(s, (size_t)(colon - s));
	if (c->listen_addr == NULL)
		return KW_ERR_NOMEM;
	c->listen_port = (uint16_t)port;
	return 0;
}

static int
parse_admin(json_t *o, const char *dir, struct kw_config *c, char *eb, size_t el)
{
	static const char *const admin_keys[] = {"listen", "certificate", "private_key", "client_ca",
		"grants", "identity", "max_intermediates", "issuer_sha256", "max_connections",
		NULL};
	static const char *const grant_keys[] = {"subject", "role", "repositories", NULL};
	struct kw_config tmp;
	const char *s = NULL;
	json_t *a, *g, *v;
	size_t i, k;
	int r;

	if ((r = check_keys(o, admin_keys, eb, el, "admin")) != 0)
		return r;
	if ((r = get_str(o, "listen", &s, 1, eb, el, "admin")) != 0)
		return r;
	memset(&tmp, 0, sizeof(tmp));
	if ((r = parse_listen(s, &tmp, eb, el)) != 0)
		return r;
	c->admin_listen_addr = tmp.listen_addr;
	c->admin_listen_port = tmp.listen_port;
	{
		unsigned long long u = c->admin_max_connections;
		if ((r = get_uint(o, "max_connections", 1, 4096, &u, eb, el, "admin")) != 0)
			return r;
		c->admin_max_connections = (size_t)u;
	}
	if ((r = get_str(o, "certificate", &s, 1, eb, el, "admin")) != 0 ||
	    (c->admin_cert = cfg_path(dir, s)) == NULL ||
	    (r = get_str(o, "private_key", &s, 1, eb, el, "admin")) != 0 ||
	    (c->admin_key = cfg_path(dir, s)) == NULL ||
	    (r = get_str(o, "client_ca", &s, 1, eb, el, "admin")) != 0 ||
	    (c->admin_client_ca = cfg_path(dir, s)) == NULL)
		return r != 0 ? r : KW_ERR_NOMEM;
	if ((r = get_str(o, "identity", &s, 0, eb, el, "admin")) != 0)
		return r;
	if (s == NULL || strcmp(s, "cn") == 0)
		c->admin_identity = KW_ADMIN_ID_CN;
	else if (strcmp(s, "san-dns") == 0)
		c->admin_identity = KW_ADMIN_ID_SAN_DNS;
	else if (strcmp(s, "san-email") == 0)
		c->admin_identity = KW_ADMIN_ID_SAN_EMAIL;
	else if (strcmp(s, "san-uri") == 0)
		c->admin_identity = KW_ADMIN_ID_SAN_URI;
	else
		return cfg_err(eb, el, "admin: \"identity\" must be cn, san-dns, san-email or san-uri");
	{
		unsigned long long depth = 0;

		if ((r = get_uint(o, "max_intermediates", 0, 4, &depth, eb, el, "admin")) != 0)
			return r;
		c->admin_max_intermediates = (unsigned int)depth;
	}
	a = json_object_get(o, "issuer_sha256");
	if (a != NULL) {
		if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > 16)
			return cfg_err(eb, el, "admin: \"issuer_sha256\" must be an array of 1..16 "
			    "SHA-256 fingerprints (64 hex digits)");
		if ((c->admin_issuers = calloc(json_array_size(a), sizeof(*c->admin_issuers))) == NULL)
			return KW_ERR_NOMEM;
		json_array_foreach(a, i, v) {
			const char *hx = json_string_value(v);
			char norm[65];
			size_t k2;

			/* colons allowed, as openssl x509 -fingerprint prints them */
			for (k2 = 0; hx != NULL && *hx != '\0' && k2 < sizeof(norm) - 1; hx++)
				if (*hx != ':')
					norm[k2++] = *hx;
			norm[k2] = '\0';
			if (hx == NULL || *hx != '\0' || k2 != 64 ||
			    kw_hex_decode(norm, c->admin_issuers[i], 32) != 0)
				return cfg_err(eb, el, "admin: issuer_sha256[%zu] must be 64 hex digits", i);
			c->n_admin_issuers++;
		}
	}
	a = json_object_get(o, "grants");
	if (!json_is_array(a) || json_array_size(a) > 1024)
		return cfg_err(eb, el, "admin: \"grants\" must be an array");
	if (json_array_size(a) > 0 &&
	    (c->grants = calloc(json_array_size(a), sizeof(*c->grants))) == NULL)
		return KW_ERR_NOMEM;
	json_array_foreach(a, i, g) {
		struct kw_grant *gr = &c->grants[i];
		char where[40];

		snprintf(where, sizeof(where), "admin.grants[%zu]", i);
		c->n_grants++;
		if ((r = check_keys(g, grant_keys, eb, el, where)) != 0 ||
		    (r = get_str(g, "subject", &s, 1, eb, el, where)) != 0)
			return r;
		if ((gr->subject = strdup(s)) == NULL)
			return KW_ERR_NOMEM;
		if ((r = get_str(g, "role", &s, 1, eb, el, where)) != 0)
			return r;
		if (strcmp(s, "key-admin") != 0 && strcmp(s, "policy-admin") != 0 &&
		    strcmp(s, "auditor") != 0)
			return cfg_err(eb, el, "%s: \"role\" must be key-admin, policy-admin or auditor",
			    where);
		if ((gr->role = strdup(s)) == NULL)
			return KW_ERR_NOMEM;
		v = json_object_get(g, "repositories");
		if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 256)
			return cfg_err(eb, el, "%s: \"repositories\" must be a non-empty array", where);
		if ((gr->repos = calloc(json_array_size(v), sizeof(char *))) == NULL)
			return KW_ERR_NOMEM;
		for (k = 0; k < json_array_size(v); k++) {
			const char *rp = json_string_value(json_array_get(v, k));
			if (rp == NULL || (strcmp(rp, "*") != 0 && !kw_name_valid(rp)))
				return cfg_err(eb, el, "%s: repositories[%zu] must be a name or \"*\"",
				    where, k);
			if ((gr->repos[k] = strdup(rp)) == NULL)
				return KW_ERR_NOMEM;
			gr->n_repos++;
		}
	}
	return 0;
}

/* ---- the key table ---- */

enum key_kind {
	K_SECTION,     /* an object of its own keys (section = its name) */
	K_UINT,        /* unsigned int in [min, max] */
	K_SIZE,        /* size_t in [min, max] */
	K_STR,         /* a non-empty string, copied */
	K_PATH,        /* a non-empty string, resolved against the configuration's directory */
	K_PATHS,       /* an array of at most 64 paths (off: char **, n_off: size_t count) */
	K_CUSTOM,      /* parsed by a step of its own below (the table only admits it) */
};

struct key {
	const char *section;           /* "" for the top level */
	const char *name;
	enum key_kind kind;
	size_t off, n_off;             /* offsetof(struct kw_config, ...) */
	unsigned long long min, max, def;
	int required;
};

#define F(field) offsetof(struct kw_config, field)

/*
 * Every key the configuration may hold (docs/configuration.md), with type,
 * range and default. Unknown keys anywhere are an error: each section's
 * allowed members are exactly its rows here.
 */
static const struct key keys[] = {
	{"", "listen", K_CUSTOM, 0, 0, 0, 0, 0, 0},
	{"", "tls", K_SECTION, 0, 0, 0, 0, 0, 1},
	{"", "hsm", K_SECTION, 0, 0, 0, 0, 0, 1},
	{"", "snp", K_SECTION, 0, 0, 0, 0, 0, 0},
	{"", "tdx", K_SECTION, 0, 0, 0, 0, 0, 0},
	{"", "nvgpu", K_SECTION, 0, 0, 0, 0, 0, 0},
	{"", "tpm", K_SECTION, 0, 0, 0, 0, 0, 0},
	{"", "cca", K_SECTION, 0, 0, 0, 0, 0, 0},
	{"", "limits", K_SECTION, 0, 0, 0, 0, 0, 0},
	{"", "token", K_SECTION, 0, 0, 0, 0, 0, 0},
	{"", "dpop", K_SECTION, 0, 0, 0, 0, 0, 0},
	{"", "policy", K_SECTION, 0, 0, 0, 0, 0, 0},
	{"", "store", K_SECTION, 0, 0, 0, 0, 0, 0},
	{"", "audit", K_SECTION, 0, 0, 0, 0, 0, 0},
	{"", "admin", K_CUSTOM, 0, 0, 0, 0, 0, 0},        /* parse_admin: keys of its own */
	{"", "metrics", K_SECTION, 0, 0, 0, 0, 0, 0},
	{"", "nonce_ttl", K_UINT, F(nonce_ttl), 0, 5, 600, 60, 0},
	{"", "public_url", K_CUSTOM, 0, 0, 0, 0, 0, 0},
	{"", "workers", K_UINT, F(workers), 0, 1, 64, 2, 0},
	{"", "log_level", K_CUSTOM, 0, 0, 0, 0, 0, 0},     /* the older spelling of log.level */
	{"", "log", K_SECTION, 0, 0, 0, 0, 0, 0},
	{"", "resources", K_CUSTOM, 0, 0, 0, 0, 0, 0},    /* removed: a clear error */
	{"tls", "certificate", K_PATH, F(tls_cert), 0, 0, 0, 0, 1},
	{"tls", "private_key", K_PATH, F(tls_key), 0, 0, 0, 0, 1},
	{"tls", "min_version", K_CUSTOM, 0, 0, 0, 0, 0, 0},
	{"hsm", "socket", K_CUSTOM, 0, 0, 0, 0, 0, 0},
	{"hsm", "call_timeout", K_UINT, F(hsm_call_timeout), 0, 1, 300, 5, 0},
	{"hsm", "admin_timeout", K_UINT, F(hsm_admin_timeout), 0, 1, 3600, 30, 0},
	{"hsm", "max_pending", K_UINT, F(hsm_max_pending), 0, 1, 1000000, 1024, 0},
	{"hsm", "helper", K_PATH, F(hsm_helper), 0, 0, 0, 0, 0},
	{"hsm", "module", K_CUSTOM, 0, 0, 0, 0, 0, 0},
	{"hsm", "token", K_CUSTOM, 0, 0, 0, 0, 0, 0},
	{"hsm", "pin_file", K_PATH, F(hsm_pin_file), 0, 0, 0, 0, 0},
	{"hsm", "softhsm2_conf", K_PATH, F(hsm_softhsm2_conf), 0, 0, 0, 0, 0},
	{"hsm", "recycle_after", K_UINT, F(hsm_recycle_after), 0, 0, 100000000, 0, 0},
	{"hsm", "release_assembly", K_CUSTOM, 0, 0, 0, 0, 0, 0},
	{"hsm", "key_poll_interval", K_UINT, F(hsm_key_poll_interval), 0, 0, 240, 30, 0},
	{"snp", "cert_chains", K_PATHS, F(snp_chains), F(n_snp_chains), 0, 0, 0, 0},
	{"snp", "test_roots", K_PATHS, F(snp_test_roots), F(n_snp_test_roots), 0, 0, 0, 0},
	{"tdx", "test_roots", K_PATHS, F(tdx_test_roots), F(n_tdx_test_roots), 0, 0, 0, 0},
	{"tdx", "collateral", K_CUSTOM, 0, 0, 0, 0, 0, 0},   /* custom_tdx */
	{"nvgpu", "test_roots", K_PATHS, F(nvgpu_test_roots), F(n_nvgpu_test_roots), 0, 0, 0, 0},
	{"nvgpu", "ocsp_url", K_STR, F(nvgpu_ocsp_url), 0, 0, 0, 0, 0},
	{"nvgpu", "ocsp_timeout", K_UINT, F(nvgpu_ocsp_timeout), 0, 1, 60, 5, 0},
	{"nvgpu", "ocsp_fail_open", K_UINT, F(nvgpu_ocsp_fail_open), 0, 0, 1, 0, 0},
	{"tpm", "akcert_roots", K_PATHS, F(tpm_akcert_roots), F(n_tpm_akcert_roots), 0, 0, 0, 0},
	{"tpm", "ek_roots", K_PATHS, F(tpm_ek_roots), F(n_tpm_ek_roots), 0, 0, 0, 0},
	{"cca", "cpaks", K_PATHS, F(cca_cpaks), F(n_cca_cpaks), 0, 0, 0, 0},
	{"cca", "test_cpaks", K_PATHS, F(cca_test_cpaks), F(n_cca_test_cpaks), 0, 0, 0, 0},
	{"limits", "max_body", K_SIZE, F(max_body), 0, 1024, 1024 * 1024, 256 * 1024, 0},
	{"limits", "max_inflight", K_SIZE, F(max_inflight), 0, 1, 100000, 256, 0},
	{"limits", "max_sessions", K_SIZE, F(max_sessions), 0, 16, 10000000, 100000, 0},
	{"limits", "dpop_jti_per_key", K_SIZE, F(dpop_jti_per_key), 0, 1, 10000000, 256, 0},
	/* 0 (absent) = derived from RLIMIT_NOFILE at start (conntab.h) */
	{"limits", "max_connections", K_SIZE, F(max_connections), 0, KW_MIN_CONNECTIONS, 1000000, 0, 0},
	{"limits", "max_connections_per_address", K_SIZE, F(max_connections_per_address), 0, 1,
		1000000, 0, 0},
	{"limits", "request_timeout", K_UINT, F(request_timeout), 0, 2, 120, 10, 0},
	{"token", "ttl", K_UINT, F(token_ttl), 0, 10, 300, 300, 0},
	{"token", "issuer", K_STR, F(token_issuer), 0, 0, 0, 0, 0},
	{"dpop", "iat_window", K_UINT, F(dpop_iat_window), 0, 5, 300, 60, 0},
	{"dpop", "nonce_ttl", K_UINT, F(dpop_nonce_ttl), 0, 10, 3600, 300, 0},
	{"policy", "max_reference_age", K_CUSTOM, 0, 0, 0, 0, 0, 0},
	{"store", "path", K_PATH, F(store_path), 0, 0, 0, 0, 0},
	{"store", "kind", K_CUSTOM, 0, 0, 0, 0, 0, 0},       /* custom_policy_store */
	{"store", "conninfo", K_STR, F(store_conninfo), 0, 0, 0, 0, 0},
	{"store", "pool", K_UINT, F(store_pool), 0, 1, 64, 4, 0},
	{"audit", "enabled", K_CUSTOM, 0, 0, 0, 0, 0, 0},    /* custom_audit */
	{"audit", "path", K_PATH, F(audit_path), 0, 0, 0, 0, 0},
	{"audit", "checkpoint_every", K_UINT, F(audit_checkpoint_every), 0, 1, 1000000, 1000, 0},
	{"audit", "checkpoint_interval", K_UINT, F(audit_checkpoint_interval), 0, 1, 86400, 60, 0},
	{"audit", "origin", K_CUSTOM, 0, 0, 0, 0, 0, 0},     /* custom_audit */
	{"log", "level", K_CUSTOM, 0, 0, 0, 0, 0, 0},        /* custom_log */
	{"log", "format", K_CUSTOM, 0, 0, 0, 0, 0, 0},       /* custom_log */
	{"metrics", "listen", K_CUSTOM, 0, 0, 0, 0, 0, 0},   /* custom_metrics */
	{"metrics", "on_admin", K_CUSTOM, 0, 0, 0, 0, 0, 0},
	{"metrics", "key_labels", K_CUSTOM, 0, 0, 0, 0, 0, 0},
	{"audit", "lease", K_UINT, F(audit_lease), 0, 2, 300, 10, 0},
};

#define SECTION_KEYS_MAX 32   /* the top level holds 18; section_keys drops any beyond: keep headroom */

/* The allowed members of a section ("" = top level), from the table. */
static void
section_keys(const char *section, const char *out[static SECTION_KEYS_MAX + 1])
{
	size_t n = 0;

	for (size_t i = 0; i < KW_ARRAY_SIZE(keys) && n < SECTION_KEYS_MAX; i++)
		if (strcmp(keys[i].section, section) == 0)
			out[n++] = keys[i].name;
	out[n] = NULL;
}

/* The object holding a key's section: root for "", else root's member (NULL when absent). */
static json_t *
section_of(json_t *root, const char *section)
{
	return section[0] == '\0' ? root : json_object_get(root, section);
}

/* Check every section's shape and members, then fill the K_UINT..K_PATHS keys. */
static int
apply_table(json_t *root, const char *dir, struct kw_config *c, char *eb, size_t el)
{
	const char *allowed[SECTION_KEYS_MAX + 1];
	unsigned long long u;
	const char *s;
	json_t *o;
	int r;

	section_keys("", allowed);
	if ((r = check_keys(root, allowed, eb, el, "configuration")) != 0)
		return r;
	for (size_t i = 0; i < KW_ARRAY_SIZE(keys); i++) {
		const struct key *k = &keys[i];
		char *base = (char *)c;

		if (k->kind == K_SECTION) {
			if ((o = json_object_get(root, k->name)) == NULL) {
				if (k->required)
					return cfg_err(eb, el, "missing \"%s\" section", k->name);
				continue;
			}
			section_keys(k->name, allowed);
			if ((r = check_keys(o, allowed, eb, el, k->name)) != 0)
				return r;
			continue;
		}
		if (k->kind == K_CUSTOM)
			continue;
		o = section_of(root, k->section);
		switch (k->kind) {
		case K_UINT:
		case K_SIZE:
			u = k->def;
			if (o != NULL && (r = get_uint(o, k->name, k->min, k->max, &u, eb, el,
			    k->section[0] != '\0' ? k->section : "configuration")) != 0)
				return r;
			if (k->kind == K_UINT)
				*(unsigned int *)(void *)(base + k->off) = (unsigned int)u;
			else
				*(size_t *)(void *)(base + k->off) = (size_t)u;
			break;
		case K_STR:
		case K_PATH:
			s = NULL;
			if (o != NULL && (r = get_str(o, k->name, &s, k->required, eb, el,
			    k->section)) != 0)
				return r;
			if (s == NULL)
				break;
			if ((*(char **)(void *)(base + k->off) = k->kind == K_PATH ? cfg_path(dir, s) :
			    strdup(s)) == NULL)
				return KW_ERR_NOMEM;
			break;
		case K_PATHS:
			if (o != NULL && (r = path_list(o, k->name, dir, (char ***)(void *)(base + k->off),
			    (size_t *)(void *)(base + k->n_off), eb, el, k->section)) != 0)
				return r;
			break;
		case K_SECTION:
		case K_CUSTOM:
			break;
		}
	}
	return 0;
}

/* ---- the keys with rules of their own ---- */

static int
custom_tls(json_t *root, struct kw_config *c, char *eb, size_t el)
{
	const char *s = NULL;
	int r;

	if ((r = get_str(json_object_get(root, "tls"), "min_version", &s, 0, eb, el, "tls")) != 0)
		return r;
	if (s != NULL && strcmp(s, "1.3") != 0 && strcmp(s, "1.2") != 0)
		return cfg_err(eb, el, "tls: \"min_version\" must be \"1.3\" or \"1.2\"");
	c->tls_allow_12 = s != NULL && strcmp(s, "1.2") == 0;
	return 0;
}

/*
 * hsm.token: a label, or a PKCS#11 URI (RFC 7512, hsm/hsm_uri.h) whose
 * module-path and pin-source stand for hsm.module and hsm.pin_file. The
 * broker only checks it and passes the parts on (--module, --token with
 * the URI's token part, --pin-file): the helper loads the module and reads
 * the PIN, and matches the URI against the module's tokens.
 */
static int
custom_hsm_token(json_t *o, const char *dir, struct kw_config *c, char *eb, size_t el)
{
	struct hsm_token_cfg t = {0};
	const char *s = NULL;
	char why[300];
	int r;

	if ((r = get_str(o, "token", &s, c->hsm_socket == NULL, eb, el, "hsm")) != 0 || s == NULL)
		return r;
	if ((r = hsm_token_cfg_parse(s, dir, &t, why, sizeof(why))) != 0)
		return r == KW_ERR_NOMEM ? r : cfg_err(eb, el, "hsm: \"token\": %s", why);
	r = KW_ERR_CONFIG;
	if (c->hsm_socket != NULL && (t.module_path != NULL || t.pin_file != NULL)) {
		cfg_err(eb, el, "hsm: the \"%s\" attribute of \"token\" is set on keywarden-hsm's "
		    "command line when \"socket\" is set (docs/deploy.md)",
		    t.module_path != NULL ? "module-path" : "pin-source");
		goto out;
	}
	if (t.module_path != NULL && json_object_get(o, "module") != NULL) {
		cfg_err(eb, el, "hsm: \"module\" and the \"module-path\" attribute of \"token\" "
		    "both name the PKCS#11 module; keep one");
		goto out;
	}
	if (t.pin_file != NULL && json_object_get(o, "pin_file") != NULL) {
		cfg_err(eb, el, "hsm: \"pin_file\" and the \"pin-source\" attribute of \"token\" "
		    "both name the PIN file; keep one");
		goto out;
	}
	c->hsm_token = t.token;    /* transferred, like the two below */
	t.token = NULL;
	if (t.module_path != NULL) {
		c->hsm_module = t.module_path;
		t.module_path = NULL;
	}
	if (t.pin_file != NULL) {
		free(c->hsm_pin_file);
		c->hsm_pin_file = t.pin_file;
		t.pin_file = NULL;
	}
	r = 0;
out:
	hsm_token_cfg_clear(&t);
	return r;
}

/* Spawn mode (the broker starts the helper) or socket mode (a supervisor of its own user). */
static int
custom_hsm(json_t *root, const char *dir, struct kw_config *c, char *eb, size_t el)
{
	/* with "socket", these belong to keywarden-hsm's own command line */
	static const char *const spawn_only[] = {"helper", "module", "pin_file",
		"softhsm2_conf", "recycle_after", "release_assembly", NULL};
	json_t *o = json_object_get(root, "hsm");
	const char *s = NULL;
	int r;

	if ((r = get_str(o, "socket", &s, 0, eb, el, "hsm")) != 0)
		return r;
	if (s != NULL) {
		if ((c->hsm_socket = cfg_path(dir, s)) == NULL || strlen(c->hsm_socket) > 107)
			return cfg_err(eb, el, "hsm: \"socket\" path longer than 107 bytes");
		for (size_t i = 0; spawn_only[i] != NULL; i++)
			if (json_object_get(o, spawn_only[i]) != NULL)
				return cfg_err(eb, el, "hsm: \"%s\" is set on keywarden-hsm's command "
				    "line when \"socket\" is set (docs/deploy.md)", spawn_only[i]);
	}
	if ((r = custom_hsm_token(o, dir, c, eb, el)) != 0)
		return r;
	if ((r = get_str(o, "module", &s, 0, eb, el, "hsm")) != 0)
		return r;
	if (c->hsm_socket == NULL && c->hsm_module == NULL &&
	    (c->hsm_module = strdup(s != NULL ? s : "/usr/lib/softhsm/libsofthsm2.so")) == NULL)
		return KW_ERR_NOMEM;
	if ((r = get_str(o, "release_assembly", &s, 0, eb, el, "hsm")) != 0)
		return r;
	if (s != NULL && strcmp(s, "hsm") != 0 && strcmp(s, "helper") != 0)
		return cfg_err(eb, el, "hsm: \"release_assembly\" must be \"hsm\" or \"helper\"");
	if (s != NULL && (c->hsm_release_assembly = strdup(s)) == NULL)
		return KW_ERR_NOMEM;
	if (c->hsm_socket == NULL && c->hsm_pin_file == NULL)
		return get_str(o, "pin_file", &s, 1, eb, el, "hsm");    /* the "required" message */
	return 0;
}

/* log.level (or the older top-level log_level, not both) and log.format (docs/configuration.md). */
static int
custom_log(json_t *root, struct kw_config *c, char *eb, size_t el)
{
	json_t *o = json_object_get(root, "log");
	const char *s = NULL, *lvl = NULL;
	enum kw_log_level lv;
	int r;

	if ((r = get_str(root, "log_level", &s, 0, eb, el, "configuration")) != 0 ||
	    (r = get_str(o, "level", &lvl, 0, eb, el, "log")) != 0)
		return r;
	if (s != NULL && lvl != NULL)
		return cfg_err(eb, el, "\"log_level\" and \"log\".\"level\" are both set: keep log.level");
	if (lvl == NULL)
		lvl = s;
	if ((c->log_level = strdup(lvl != NULL ? lvl : "info")) == NULL)
		return KW_ERR_NOMEM;
	if (kw_log_level_parse(c->log_level, &lv) != 0)
		return cfg_err(eb, el, "log: \"level\" must be error, warn, info or debug");
	if ((r = get_str(o, "format", &s, 0, eb, el, "log")) != 0)
		return r;
	if (s != NULL && strcmp(s, "text") != 0 && strcmp(s, "json") != 0 &&
	    strcmp(s, "journal") != 0 && strcmp(s, "auto") != 0)
		return cfg_err(eb, el, "log: \"format\" must be text, json, journal or auto");
	if ((c->log_format = strdup(s != NULL ? s : "auto")) == NULL)
		return KW_ERR_NOMEM;
	return 0;
}

static int
custom_top(json_t *root, struct kw_config *c, char *eb, size_t el)
{
	const char *s = NULL;
	int r;

	if (json_object_get(root, "resources") != NULL)
		return cfg_err(eb, el, "\"resources\" moved to the store: register keys and policies "
		    "with kwctl (docs/admin.md)");
	if ((r = get_str(root, "listen", &s, 0, eb, el, "configuration")) != 0 ||
	    (r = parse_listen(s != NULL ? s : "127.0.0.1:8443", c, eb, el)) != 0)
		return r;
	if ((r = get_str(root, "public_url", &s, 0, eb, el, "configuration")) != 0)
		return r;
	if (s != NULL) {
		if (strncmp(s, "https://", 8) != 0 || strlen(s) < 9 || s[strlen(s) - 1] == '/' ||
		    strchr(s + 8, '/') != NULL || strchr(s, '?') != NULL || strchr(s, '#') != NULL)
			return cfg_err(eb, el, "\"public_url\" must be https://HOST[:PORT] without a path");
		c->public_url = strdup(s);
	} else {
		char tmp[300];
		int is6 = strchr(c->listen_addr, ':') != NULL;

		snprintf(tmp, sizeof(tmp), "https://%s%s%s:%u", is6 ? "[" : "", c->listen_addr,
		    is6 ? "]" : "", (unsigned int)c->listen_port);
		c->public_url = strdup(tmp);
	}
	if (c->public_url == NULL)
		return KW_ERR_NOMEM;
	if (c->token_issuer == NULL && (c->token_issuer = strdup(c->public_url)) == NULL)
		return KW_ERR_NOMEM;
	return custom_log(root, c, eb, el);
}

/* The fetched modes' keys: tdx.collateral = {"mode": "pcs" | "pccs", ...}. */
static int
tdx_collateral_fetched(json_t *coll, const char *mode, const char *dir, struct kw_config *c,
    char *eb, size_t el)
{
	static const struct {
		const char *key;
		unsigned long long min, max, def;
		size_t off;
	} secs[] = {
		{"timeout", 1, 120, 10, offsetof(struct kw_config, tdx_pcs_timeout)},
		{"refresh_interval", 1, 30 * 86400, 86400, offsetof(struct kw_config, tdx_pcs_refresh_interval)},
		{"refresh_margin", 0, 30 * 86400, 7 * 86400, offsetof(struct kw_config, tdx_pcs_refresh_margin)},
		{"retry", 1, 86400, 300, offsetof(struct kw_config, tdx_pcs_retry)},
	};
	const char *url = NULL, *crl = NULL, *ca = NULL, *proxy = NULL, *cache = NULL;
	int pccs = strcmp(mode, "pccs") == 0, r;

	if ((r = get_str(coll, "url", &url, pccs, eb, el, "tdx.collateral")) != 0 ||
	    (r = get_str(coll, "root_crl_url", &crl, 0, eb, el, "tdx.collateral")) != 0 ||
	    (r = get_str(coll, "ca_file", &ca, 0, eb, el, "tdx.collateral")) != 0 ||
	    (r = get_str(coll, "proxy", &proxy, 0, eb, el, "tdx.collateral")) != 0 ||
	    (r = get_str(coll, "cache_dir", &cache, 0, eb, el, "tdx.collateral")) != 0)
		return r;
	if (url == NULL)
		url = TDX_PCS_INTEL_URL;
	if (strncmp(url, "https://", 8) != 0 || (crl != NULL && strncmp(crl, "https://", 8) != 0))
		return cfg_err(eb, el, "tdx.collateral: \"url\" and \"root_crl_url\" must be https URLs");
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		unsigned long long v = secs[i].def;

		if ((r = get_uint(coll, secs[i].key, secs[i].min, secs[i].max, &v, eb, el,
		    "tdx.collateral")) != 0)
			return r;
		*(unsigned int *)(void *)((char *)c + secs[i].off) = (unsigned int)v;
	}
	if ((c->tdx_pcs_url = strdup(url)) == NULL ||
	    (crl != NULL && (c->tdx_pcs_root_crl_url = strdup(crl)) == NULL) ||
	    (ca != NULL && (c->tdx_pcs_ca_file = cfg_path(dir, ca)) == NULL) ||
	    (proxy != NULL && (c->tdx_pcs_proxy = strdup(proxy)) == NULL) ||
	    (c->tdx_collateral_dir = cfg_path(dir, cache != NULL ? cache : "tdx-collateral-cache")) == NULL)
		return KW_ERR_NOMEM;
	return 0;
}

/*
 * tdx.collateral: where Intel's collateral comes from (docs/configuration.md).
 * {"mode": "offline", "dir": PATH}, or {"mode": "pcs" | "pccs", "url", ...}
 * fetched and cached (tdx_collateral_fetched). Required with a "tdx"
 * section: TDX quotes cannot be appraised without it.
 */
static int
custom_tdx(json_t *root, const char *dir, struct kw_config *c, char *eb, size_t el)
{
	static const char *const offline_keys[] = {"mode", "dir", NULL};
	static const char *const fetched_keys[] = {"mode", "url", "root_crl_url", "ca_file", "proxy",
	    "cache_dir", "timeout", "refresh_interval", "refresh_margin", "retry", NULL};
	json_t *o = json_object_get(root, "tdx"), *coll;
	const char *mode = NULL, *d = NULL;
	int r, fetched;

	if (o == NULL)
		return 0;
	c->tdx_enabled = 1;
	if ((coll = json_object_get(o, "collateral")) == NULL)
		return cfg_err(eb, el, "tdx: \"collateral\" is required: TDX quotes are appraised "
		    "with Intel's collateral (docs/configuration.md)");
	if (!json_is_object(coll))
		return cfg_err(eb, el, "tdx.collateral must be an object");
	if ((r = get_str(coll, "mode", &mode, 1, eb, el, "tdx.collateral")) != 0)
		return r;
	fetched = strcmp(mode, "pcs") == 0 || strcmp(mode, "pccs") == 0;
	if (!fetched && strcmp(mode, "offline") != 0)
		return cfg_err(eb, el, "tdx.collateral: \"mode\" must be \"offline\", \"pcs\" or \"pccs\"");
	if ((r = check_keys(coll, fetched ? fetched_keys : offline_keys, eb, el, "tdx.collateral")) != 0)
		return r;
	if ((c->tdx_collateral_mode = strdup(mode)) == NULL)
		return KW_ERR_NOMEM;
	if (fetched)
		return tdx_collateral_fetched(coll, mode, dir, c, eb, el);
	if ((r = get_str(coll, "dir", &d, 1, eb, el, "tdx.collateral")) != 0)
		return r;
	if ((c->tdx_collateral_dir = cfg_path(dir, d)) == NULL)
		return KW_ERR_NOMEM;
	return 0;
}

static int
custom_policy_store(json_t *root, const char *dir, struct kw_config *c, char *eb, size_t el)
{
	const char *s = NULL;
	int r;

	c->policy_max_age = 180LL * 86400;
	if ((r = get_str(json_object_get(root, "policy"), "max_reference_age", &s, 0, eb, el,
	    "policy")) != 0)
		return r;
	if (s != NULL && kw_duration_parse(s, &c->policy_max_age) != 0)
		return cfg_err(eb, el, "policy: \"max_reference_age\" must be a duration like 180d");
	if (c->store_path == NULL && (c->store_path = cfg_path(dir, "keywarden.db")) == NULL)
		return KW_ERR_NOMEM;
	s = NULL;
	if ((r = get_str(json_object_get(root, "store"), "kind", &s, 0, eb, el, "store")) != 0)
		return r;
	if (s == NULL || strcmp(s, "sqlite") == 0)
		c->store_kind = KW_STORE_SQLITE;
	else if (strcmp(s, "postgresql") == 0)
		c->store_kind = KW_STORE_POSTGRESQL;
	else
		return cfg_err(eb, el, "store: \"kind\" must be \"sqlite\" or \"postgresql\"");
	if (c->store_kind == KW_STORE_POSTGRESQL && c->store_conninfo == NULL)
		return cfg_err(eb, el, "store: \"kind\": \"postgresql\" needs \"conninfo\" "
		    "(a libpq connection string)");
	if (c->store_kind == KW_STORE_SQLITE && c->store_conninfo != NULL)
		return cfg_err(eb, el, "store: \"conninfo\" is for \"kind\": \"postgresql\"");
	return 0;
}

/* audit.enabled (boolean), audit.origin (a checkpoint origin), audit.path's default. */
static int
custom_audit(json_t *root, struct kw_config *c, char *eb, size_t el)
{
	json_t *o = json_object_get(root, "audit"), *v = json_object_get(o, "enabled");
	const char *s = NULL, *host;
	char buf[AUDIT_ORIGIN_CFG_MAX + 16];
	size_t n;
	int r;

	if (v != NULL && !json_is_boolean(v))
		return cfg_err(eb, el, "audit: \"enabled\" must be true or false");
	c->audit_enabled = v == NULL || json_is_true(v);
	if ((r = get_str(o, "origin", &s, 0, eb, el, "audit")) != 0)
		return r;
	if (s == NULL) {
		/* "https://host:port" -> "host:port/audit" */
		host = strstr(c->public_url, "://");
		host = host != NULL ? host + 3 : c->public_url;
		snprintf(buf, sizeof(buf), "%.*s/audit", AUDIT_ORIGIN_CFG_MAX - 6, host);
		s = buf;
	}
	n = strlen(s);
	if (n == 0 || n > AUDIT_ORIGIN_CFG_MAX)
		return cfg_err(eb, el, "audit: \"origin\" must be 1..%d bytes", AUDIT_ORIGIN_CFG_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == '+' || (unsigned char)s[i] >= 0x7f)
			return cfg_err(eb, el, "audit: \"origin\" must be printable ASCII without "
			    "spaces or '+'");
	if ((c->audit_origin = strdup(s)) == NULL)
		return KW_ERR_NOMEM;
	/* PostgreSQL without audit.path: one log in the database for every replica (docs/ha.md) */
	c->audit_shared = c->audit_path == NULL && c->store_kind == KW_STORE_POSTGRESQL;
	if (c->audit_path == NULL && (c->audit_path = strdup(c->store_path)) == NULL)
		return KW_ERR_NOMEM;
	return 0;
}

/* metrics.listen (ADDRESS:PORT), metrics.on_admin and metrics.key_labels (booleans). */
static int
custom_metrics(json_t *root, struct kw_config *c, char *eb, size_t el)
{
	json_t *o = json_object_get(root, "metrics");
	json_t *on_admin = json_object_get(o, "on_admin"), *kl = json_object_get(o, "key_labels");
	struct kw_config tmp;
	const char *s = NULL;
	int r;

	if ((on_admin != NULL && !json_is_boolean(on_admin)) || (kl != NULL && !json_is_boolean(kl)))
		return cfg_err(eb, el, "metrics: \"on_admin\" and \"key_labels\" must be true or false");
	c->metrics_on_admin = json_is_true(on_admin);
	c->metrics_key_labels = json_is_true(kl);
	if (c->metrics_on_admin && json_object_get(root, "admin") == NULL)
		return cfg_err(eb, el, "metrics: \"on_admin\" needs the \"admin\" listener");
	if ((r = get_str(o, "listen", &s, 0, eb, el, "metrics")) != 0)
		return r;
	if (s == NULL)
		return 0;
	memset(&tmp, 0, sizeof(tmp));
	if ((r = parse_listen(s, &tmp, eb, el)) != 0)
		return r;
	c->metrics_listen_addr = tmp.listen_addr;
	c->metrics_listen_port = tmp.listen_port;
	if (strcmp(c->metrics_listen_addr, c->listen_addr) == 0 &&
	    c->metrics_listen_port == c->listen_port)
		return cfg_err(eb, el, "metrics: \"listen\" must not be the workload listener");
	return 0;
}

/* SHA-256 of the configuration's canonical form (RFC 8785). */
static int
config_digest(const json_t *root, struct kw_config *c)
{
	char *jcs = NULL;
	size_t len;
	int r;

	if ((r = kw_jcs_serialize(root, &jcs, &len)) != 0)
		return r;
	r = kw_sha256(jcs, len, c->config_digest);
	free(jcs);
	return r;
}

int
kw_config_load(const char *path, struct kw_config **ret, char *eb, size_t el)
{
	struct kw_config *c = NULL;
	uint8_t *buf = NULL;
	size_t len;
	json_t *root = NULL, *o;
	char dirbuf[PATH_MAX], *dir;
	int r;

	snprintf(eb, el, "internal error");
	if ((r = kw_file_read(path, KW_CONFIG_MAX, &buf, &len)) != 0) {
		snprintf(eb, el, "cannot read %s: %s", path, kw_strerror(r));
		return r == KW_ERR_TOO_LARGE ? KW_ERR_CONFIG : r;
	}
	if (kw_json_parse(buf, len, KW_CONFIG_MAX, &root) != 0) {
		json_error_t je;
		json_t *tmp = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
		json_decref(tmp);
		r = cfg_err(eb, el, "%s: not a valid JSON object (line %d: %s)", path, je.line,
		    tmp == NULL ? je.text : "duplicate key, too deep, or not an object");
		goto out;
	}
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	dir = dirname(dirbuf);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	c->admin_max_connections = 32;
	/* the table first (shapes, unknown keys, typed values, defaults), then the rules
	 * that tie keys together, in the order their errors are reported */
	if ((r = apply_table(root, dir, c, eb, el)) != 0 ||
	    (r = custom_tls(root, c, eb, el)) != 0 ||
	    (r = custom_hsm(root, dir, c, eb, el)) != 0 ||
	    (r = custom_top(root, c, eb, el)) != 0 ||
	    (r = custom_tdx(root, dir, c, eb, el)) != 0 ||
	    (r = custom_policy_store(root, dir, c, eb, el)) != 0 ||
	    (r = custom_audit(root, c, eb, el)) != 0 ||
	    (r = custom_metrics(root, c, eb, el)) != 0 ||
	    (r = config_digest(root, c)) != 0)
		goto out;
	o = json_object_get(root, "admin");
	if (o != NULL && (r = parse_admin(o, dir, c, eb, el)) != 0)
		goto out;
	*ret = c;
	c = NULL;    /* transferred */
	r = 0;
out:
	kw_config_free(c);
	json_decref(root);
	free(buf);
	return r;
}

static void
free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void
kw_config_free(struct kw_config *c)
{
	if (c == NULL)
		return;
	free(c->listen_addr);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->hsm_helper);
	free(c->hsm_module);
	free(c->hsm_token);
	free(c->hsm_pin_file);
	free(c->hsm_softhsm2_conf);
	free(c->hsm_socket);
	free(c->hsm_release_assembly);
	free_list(c->snp_chains, c->n_snp_chains);
	free_list(c->snp_test_roots, c->n_snp_test_roots);
	free_list(c->tdx_test_roots, c->n_tdx_test_roots);
	free_list(c->cca_cpaks, c->n_cca_cpaks);
	free_list(c->cca_test_cpaks, c->n_cca_test_cpaks);
	free_list(c->nvgpu_test_roots, c->n_nvgpu_test_roots);
	free(c->nvgpu_ocsp_url);
	free(c->tdx_collateral_mode);
	free(c->tdx_collateral_dir);
	free(c->tdx_pcs_url);
	free(c->tdx_pcs_root_crl_url);
	free(c->tdx_pcs_ca_file);
	free(c->tdx_pcs_proxy);
	free_list(c->tpm_akcert_roots, c->n_tpm_akcert_roots);
	free_list(c->tpm_ek_roots, c->n_tpm_ek_roots);
	free(c->log_level);
	free(c->log_format);
	free(c->public_url);
	free(c->token_issuer);
	free(c->audit_path);
	free(c->audit_origin);
	free(c->store_path);
	if (c->store_conninfo != NULL)
		OPENSSL_cleanse(c->store_conninfo, strlen(c->store_conninfo));
	free(c->store_conninfo);
	free(c->metrics_listen_addr);
	free(c->admin_listen_addr);
	free(c->admin_cert);
	free(c->admin_key);
	free(c->admin_client_ca);
	free(c->admin_issuers);
	for (size_t i = 0; i < c->n_grants; i++) {
		free(c->grants[i].subject);
		free(c->grants[i].role);
		free_list(c->grants[i].repos, c->grants[i].n_repos);
	}
	free(c->grants);
	free(c);
}
