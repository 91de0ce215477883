/* SPDX-License-Identifier: Apache-2.0 */
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conntab.h"
#include "policy.h"
#include "kw_json.h"
#include "kw_log.h"
#include "kw_name.h"
#include "kw_util.h"

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

int
kw_config_load(const char *path, struct kw_config **ret, char *eb, size_t el)
{
	static const char *const top_keys[] = {"listen", "tls", "hsm", "snp", "limits",
		"nonce_ttl", "public_url", "token", "dpop", "workers", "log_level", "resources", "store",
		"admin", "policy", NULL};
	static const char *const policy_keys[] = {"max_reference_age", NULL};
	static const char *const store_keys[] = {"path", NULL};
	static const char *const token_keys[] = {"ttl", "issuer", NULL};
	static const char *const dpop_keys[] = {"iat_window", "nonce_ttl", NULL};
	static const char *const tls_keys[] = {"certificate", "private_key", "min_version", NULL};
	static const char *const hsm_keys[] = {"helper", "module", "token", "pin_file",
		"softhsm2_conf", "recycle_after", "socket", "call_timeout", "admin_timeout",
		"max_pending", NULL};
	/* with "socket", these belong to keywarden-hsm's own command line */
	static const char *const hsm_spawn_only[] = {"helper", "module", "pin_file",
		"softhsm2_conf", "recycle_after", NULL};
	static const char *const snp_keys[] = {"cert_chains", "test_roots", NULL};
	static const char *const lim_keys[] = {"max_body", "max_inflight", "max_sessions",
		"dpop_jti_per_key", "max_connections", "max_connections_per_address",
		"request_timeout", NULL};
	struct kw_config *c = NULL;
	uint8_t *buf = NULL;
	size_t len;
	json_t *root = NULL, *o;
	char dirbuf[PATH_MAX], *dir;
	const char *s = NULL;
	unsigned long long u;
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
	c->nonce_ttl = 60;
	c->token_ttl = 300;
	c->dpop_iat_window = 60;
	c->dpop_nonce_ttl = 300;
	c->workers = 2;
	c->max_body = 256 * 1024;
	c->max_inflight = 256;
	c->max_sessions = 100000;
	c->dpop_jti_per_key = 256;
	c->request_timeout = 10;
	c->admin_max_connections = 32;
	if ((r = check_keys(root, top_keys, eb, el, "configuration")) != 0)
		goto out;

	if ((r = get_str(root, "listen", &s, 0, eb, el, "configuration")) != 0)
		goto out;
	if ((r = parse_listen(s != NULL ? s : "127.0.0.1:8443", c, eb, el)) != 0)
		goto out;

	o = json_object_get(root, "tls");
	if (o == NULL) {
		r = cfg_err(eb, el, "missing \"tls\" section");
		goto out;
	}
	if ((r = check_keys(o, tls_keys, eb, el, "tls")) != 0 ||
	    (r = get_str(o, "certificate", &s, 1, eb, el, "tls")) != 0)
		goto out;
	c->tls_cert = cfg_path(dir, s);
	if ((r = get_str(o, "private_key", &s, 1, eb, el, "tls")) != 0)
		goto out;
	c->tls_key = cfg_path(dir, s);
	if ((r = get_str(o, "min_version", &s, 0, eb, el, "tls")) != 0)
		goto out;
	if (s != NULL && strcmp(s, "1.3") != 0 && strcmp(s, "1.2") != 0) {
		r = cfg_err(eb, el, "tls: \"min_version\" must be \"1.3\" or \"1.2\"");
		goto out;
	}
	c->tls_allow_12 = s != NULL && strcmp(s, "1.2") == 0;

	o = json_object_get(root, "hsm");
	if (o == NULL) {
		r = cfg_err(eb, el, "missing \"hsm\" section");
		goto out;
	}
	if ((r = check_keys(o, hsm_keys, eb, el, "hsm")) != 0)
		goto out;
	if ((r = get_str(o, "socket", &s, 0, eb, el, "hsm")) != 0)
		goto out;
	if (s != NULL) {
		if ((c->hsm_socket = cfg_path(dir, s)) == NULL || strlen(c->hsm_socket) > 107) {
			r = cfg_err(eb, el, "hsm: \"socket\" path longer than 107 bytes");
			goto out;
		}
		for (size_t i = 0; hsm_spawn_only[i] != NULL; i++) {
			if (json_object_get(o, hsm_spawn_only[i]) != NULL) {
				r = cfg_err(eb, el, "hsm: \"%s\" is set on keywarden-hsm's command line "
				    "when \"socket\" is set (docs/deploy.md)", hsm_spawn_only[i]);
				goto out;
			}
		}
	}
	u = 5;
	if ((r = get_uint(o, "call_timeout", 1, 300, &u, eb, el, "hsm")) != 0)
		goto out;
	c->hsm_call_timeout = (unsigned int)u;
	u = 30;
	if ((r = get_uint(o, "admin_timeout", 1, 3600, &u, eb, el, "hsm")) != 0)
		goto out;
	c->hsm_admin_timeout = (unsigned int)u;
	u = 1024;
	if ((r = get_uint(o, "max_pending", 1, 1000000, &u, eb, el, "hsm")) != 0)
		goto out;
	c->hsm_max_pending = (unsigned int)u;
	if ((r = get_str(o, "helper", &s, 0, eb, el, "hsm")) != 0)
		goto out;
	if (s != NULL)
		c->hsm_helper = cfg_path(dir, s);
	if ((r = get_str(o, "module", &s, 0, eb, el, "hsm")) != 0)
		goto out;
	if (c->hsm_socket == NULL)
		c->hsm_module = strdup(s != NULL ? s : "/usr/lib/softhsm/libsofthsm2.so");
	if ((r = get_str(o, "token", &s, c->hsm_socket == NULL, eb, el, "hsm")) != 0)
		goto out;
	if (s != NULL && strlen(s) > 32) {
		r = cfg_err(eb, el, "hsm: \"token\" label longer than 32 bytes");
		goto out;
	}
	if (s != NULL && (c->hsm_token = strdup(s)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	if ((r = get_str(o, "pin_file", &s, c->hsm_socket == NULL, eb, el, "hsm")) != 0)
		goto out;
	if (s != NULL)
		c->hsm_pin_file = cfg_path(dir, s);
	if ((r = get_str(o, "softhsm2_conf", &s, 0, eb, el, "hsm")) != 0)
		goto out;
	if (s != NULL)
		c->hsm_softhsm2_conf = cfg_path(dir, s);
	u = 0;
	if ((r = get_uint(o, "recycle_after", 0, 100000000, &u, eb, el, "hsm")) != 0)
		goto out;
	c->hsm_recycle_after = (unsigned int)u;

	o = json_object_get(root, "snp");
	if (o != NULL) {
		if ((r = check_keys(o, snp_keys, eb, el, "snp")) != 0 ||
		    (r = path_list(o, "cert_chains", dir, &c->snp_chains, &c->n_snp_chains, eb, el,
		    "snp")) != 0 ||
		    (r = path_list(o, "test_roots", dir, &c->snp_test_roots, &c->n_snp_test_roots,
		    eb, el, "snp")) != 0)
			goto out;
	}

	o = json_object_get(root, "limits");
	if (o != NULL) {
		if ((r = check_keys(o, lim_keys, eb, el, "limits")) != 0)
			goto out;
		u = c->max_body;
		if ((r = get_uint(o, "max_body", 1024, 1024 * 1024, &u, eb, el, "limits")) != 0)
			goto out;
		c->max_body = (size_t)u;
		u = c->max_inflight;
		if ((r = get_uint(o, "max_inflight", 1, 100000, &u, eb, el, "limits")) != 0)
			goto out;
		c->max_inflight = (size_t)u;
		u = c->max_sessions;
		if ((r = get_uint(o, "max_sessions", 16, 10000000, &u, eb, el, "limits")) != 0)
			goto out;
		c->max_sessions = (size_t)u;
		u = c->dpop_jti_per_key;
		if ((r = get_uint(o, "dpop_jti_per_key", 1, 10000000, &u, eb, el, "limits")) != 0)
			goto out;
		c->dpop_jti_per_key = (size_t)u;
		/* 0 (absent) = derived from RLIMIT_NOFILE at start (conntab.h) */
		u = 0;
		if ((r = get_uint(o, "max_connections", KW_MIN_CONNECTIONS, 1000000, &u, eb, el,
		    "limits")) != 0)
			goto out;
		c->max_connections = (size_t)u;
		u = 0;
		if ((r = get_uint(o, "max_connections_per_address", 1, 1000000, &u, eb, el,
		    "limits")) != 0)
			goto out;
		c->max_connections_per_address = (size_t)u;
		u = c->request_timeout;
		if ((r = get_uint(o, "request_timeout", 2, 120, &u, eb, el, "limits")) != 0)
			goto out;
		c->request_timeout = (unsigned int)u;
	}
	u = c->nonce_ttl;
	if ((r = get_uint(root, "nonce_ttl", 5, 600, &u, eb, el, "configuration")) != 0)
		goto out;
	c->nonce_ttl = (unsigned int)u;
	if ((r = get_str(root, "public_url", &s, 0, eb, el, "configuration")) != 0)
		goto out;
	if (s != NULL) {
		if (strncmp(s, "https://", 8) != 0 || strlen(s) < 9 || s[strlen(s) - 1] == '/' ||
		    strchr(s + 8, '/') != NULL || strchr(s, '?') != NULL || strchr(s, '#') != NULL) {
			r = cfg_err(eb, el, "\"public_url\" must be https://HOST[:PORT] without a path");
			goto out;
		}
		c->public_url = strdup(s);
	} else {
		char tmp[300];
		int is6 = strchr(c->listen_addr, ':') != NULL;
		snprintf(tmp, sizeof(tmp), "https://%s%s%s:%u", is6 ? "[" : "", c->listen_addr,
		    is6 ? "]" : "", (unsigned int)c->listen_port);
		c->public_url = strdup(tmp);
	}
	if (c->public_url == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	o = json_object_get(root, "token");
	if (o != NULL) {
		if ((r = check_keys(o, token_keys, eb, el, "token")) != 0)
			goto out;
		u = c->token_ttl;
		if ((r = get_uint(o, "ttl", 10, 300, &u, eb, el, "token")) != 0)
			goto out;
		c->token_ttl = (unsigned int)u;
		if ((r = get_str(o, "issuer", &s, 0, eb, el, "token")) != 0)
			goto out;
		if (s != NULL && (c->token_issuer = strdup(s)) == NULL) {
			r = KW_ERR_NOMEM;
			goto out;
		}
	}
	if (c->token_issuer == NULL && (c->token_issuer = strdup(c->public_url)) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	o = json_object_get(root, "dpop");
	if (o != NULL) {
		if ((r = check_keys(o, dpop_keys, eb, el, "dpop")) != 0)
			goto out;
		u = c->dpop_iat_window;
		if ((r = get_uint(o, "iat_window", 5, 300, &u, eb, el, "dpop")) != 0)
			goto out;
		c->dpop_iat_window = (unsigned int)u;
		u = c->dpop_nonce_ttl;
		if ((r = get_uint(o, "nonce_ttl", 10, 3600, &u, eb, el, "dpop")) != 0)
			goto out;
		c->dpop_nonce_ttl = (unsigned int)u;
	}
	u = c->workers;
	if ((r = get_uint(root, "workers", 1, 64, &u, eb, el, "configuration")) != 0)
		goto out;
	c->workers = (unsigned int)u;
	if ((r = get_str(root, "log_level", &s, 0, eb, el, "configuration")) != 0)
		goto out;
	c->log_level = strdup(s != NULL ? s : "info");
	{
		enum kw_log_level lv;
		if (kw_log_level_parse(c->log_level, &lv) != 0) {
			r = cfg_err(eb, el, "\"log_level\" must be error, warn, info or debug");
			goto out;
		}
	}

	c->policy_max_age = 180LL * 86400;
	o = json_object_get(root, "policy");
	if (o != NULL) {
		if ((r = check_keys(o, policy_keys, eb, el, "policy")) != 0 ||
		    (r = get_str(o, "max_reference_age", &s, 0, eb, el, "policy")) != 0)
			goto out;
		if (s != NULL && kw_duration_parse(s, &c->policy_max_age) != 0) {
			r = cfg_err(eb, el, "policy: \"max_reference_age\" must be a duration like 180d");
			goto out;
		}
	}
	o = json_object_get(root, "store");
	s = NULL;
	if (o != NULL) {
		if ((r = check_keys(o, store_keys, eb, el, "store")) != 0 ||
		    (r = get_str(o, "path", &s, 0, eb, el, "store")) != 0)
			goto out;
	}
	if ((c->store_path = cfg_path(dir, s != NULL ? s : "keywarden.db")) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	o = json_object_get(root, "admin");
	if (o != NULL && (r = parse_admin(o, dir, c, eb, el)) != 0)
		goto out;

	if (json_object_get(root, "resources") != NULL) {
		r = cfg_err(eb, el, "\"resources\" moved to the store: register keys and policies "
		    "with kwctl (docs/admin.md)");
		goto out;
	}
	if (c->listen_addr == NULL || c->tls_cert == NULL || c->tls_key == NULL ||
	    (c->hsm_socket == NULL && (c->hsm_module == NULL || c->hsm_token == NULL ||
	    c->hsm_pin_file == NULL)) || c->log_level == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
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
	free_list(c->snp_chains, c->n_snp_chains);
	free_list(c->snp_test_roots, c->n_snp_test_roots);
	free(c->log_level);
	free(c->public_url);
	free(c->token_issuer);
	free(c->store_path);
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
