/* oidc.c: the apiserver's `jwt:` authenticator (structured authentication
 * configuration): token checks (claims.c maps the claims to the user),
 * and the issuer's keys fetched by discovery and kept in a root-only disk
 * cache.
 *
 * Where the apiserver is lenient by accident of Go's JSON decoding (null
 * claims decoding as "", email_verified as anything), this refuses. */
#include "oidc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cachedir.h"
#include "claims.h"
#include "explain.h"
#include "http.h"
#include "util.h"

#define CACHE_VERSION      2
#define CACHE_MAX_BYTES    (3 * 1024 * 1024)
#define DEFAULT_TIMEOUT_MS 5000
/* Keys fetched "in the future" by more than this (the clock was set back)
 * have an unknown age: never fresh, and not served stale either. */
#define FUTURE_SKEW_S      300

/* ------------------------------------------------------------------ claims */

const struct k8s_jwt_authenticator *k8s_oidc_find(const struct k8s_config *cfg, const struct k8s_jwt *jwt)
{
	const char *iss;
	size_t i;

	if (cfg == NULL || jwt == NULL)
		return NULL;
	iss = json_string_value(json_object_get(jwt->payload, "iss"));
	if (iss == NULL)
		return NULL;
	for (i = 0; i < cfg->n_jwt; i++)
		if (cfg->jwt[i].issuer_url != NULL && strcmp(cfg->jwt[i].issuer_url, iss) == 0)
			return &cfg->jwt[i];
	return NULL;
}

/* A NumericDate claim (k8s_numeric_date): absent (0, *present = 0), or
 * refused unless a number within time_t's range, truncated.  go-oidc
 * decodes nbf through a pointer, so a null nbf is no nbf; a null exp or
 * iat is refused there as here. */
static int time_claim(json_t *payload, const char *name, time_t *val, int *present,
		      struct k8s_err *err)
{
	json_t *v = json_object_get(payload, name);
	int r = strcmp(name, "nbf") == 0 && json_is_null(v) ? 0 : k8s_numeric_date(v, val);

	*present = r > 0;
	if (r < 0)
		return k8s_err_set(err, K8S_REFUSED, "malformed token",
				   "claim %s is not a number of seconds within time_t's range", name);
	return K8S_OK;
}

/* exp required and in the future (no leeway: now >= exp is expired);
 * nbf at most K8S_CLOCK_LEEWAY_S ahead; iat only typed.  The differences
 * are printed through double: exp may be anywhere in time_t. */
static int check_times(json_t *payload, time_t now, struct k8s_err *err)
{
	time_t exp, nbf, iat;
	int has_exp, has_nbf, has_iat;

	if (time_claim(payload, "exp", &exp, &has_exp, err) != K8S_OK ||
	    time_claim(payload, "nbf", &nbf, &has_nbf, err) != K8S_OK ||
	    time_claim(payload, "iat", &iat, &has_iat, err) != K8S_OK)
		return K8S_REFUSED;
	if (!has_exp)
		return k8s_err_set(err, K8S_REFUSED, "malformed token",
				   "token has no exp claim (tokens that never expire are refused)");
	if (now >= exp)
		return k8s_err_expired(err, exp, now);
	if (has_nbf && nbf > now + K8S_CLOCK_LEEWAY_S)
		return k8s_err_not_yet_valid(err, nbf, now);
	return K8S_OK;
}

static int audience_listed(json_t *aud, const char *want)
{
	size_t i;
	json_t *v;

	if (want == NULL || *want == '\0')
		return 0;
	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	json_array_foreach(aud, i, v)
		if (strcmp(json_string_value(v), want) == 0)
			return 1;
	return 0;
}

/* One configured audience: the token must list it.  Several: only with
 * audienceMatchPolicy MatchAny, and one of them must be listed. */
static int check_audience(const struct k8s_jwt_authenticator *a, json_t *payload, struct k8s_err *err)
{
	json_t *aud = json_object_get(payload, "aud"), *v;
	char got[200], want[200];
	size_t i;

	if (a->audiences.n == 0 ||
	    (a->audiences.n > 1 && (a->audience_match_policy == NULL ||
				    strcmp(a->audience_match_policy, "MatchAny") != 0)))
		return k8s_err_set(err, K8S_ECONFIG, "configuration error",
				   "jwt authenticator %s: %s", a->issuer_url,
				   a->audiences.n == 0 ? "no audiences"
						       : "several audiences need audienceMatchPolicy: MatchAny");
	k8s_show_strv(&a->audiences, want, sizeof(want));
	if (aud == NULL)
		return k8s_err_set(err, K8S_REFUSED, "wrong audience", "token has no aud claim; expected %s%s",
				   a->audiences.n > 1 ? "one of " : "", want);
	if (!json_is_string(aud) && !json_is_array(aud))
		return k8s_err_set(err, K8S_REFUSED, "malformed token",
				   "claim aud is not a string or an array of strings");
	json_array_foreach(aud, i, v)
		if (!json_is_string(v))
			return k8s_err_set(err, K8S_REFUSED, "malformed token",
					   "claim aud is not a string or an array of strings");
	for (i = 0; i < a->audiences.n; i++)
		if (audience_listed(aud, a->audiences.v[i]))
			return K8S_OK;
	k8s_show_audiences(aud, got, sizeof(got));
	return k8s_err_set(err, K8S_REFUSED, "wrong audience",
			   "the token's aud is %s; expected %s%s", got,
			   a->audiences.n > 1 ? "one of " : "", want);
}

/* Does key equal name (lower-case ASCII) when compared as Go's JSON
 * decoder matches object keys to struct fields: ASCII case-insensitively,
 * with U+017F and U+212A folding to 's' and 'k'? */
static int go_fold_eq(const char *key, const char *name)
{
	const unsigned char *k = (const unsigned char *)key;

	for (; *name != '\0'; name++) {
		if (*name == 's' && k[0] == 0xc5 && k[1] == 0xbf)
			k += 2;
		else if (*name == 'k' && k[0] == 0xe2 && k[1] == 0x84 && k[2] == 0xaa)
			k += 3;
		else if (*k != '\0' && (*k | 0x20) == (unsigned char)*name && ((*k | 0x20) >= 'a' &&
			 (*k | 0x20) <= 'z'))
			k++;
		else if (*k != '\0' && *k == (unsigned char)*name)
			k++;
		else
			return 0;
	}
	return *k == '\0';
}

/* The claims go-oidc decodes into typed fields (its idToken) refuse the
 * token there when their type is wrong; null is their zero value.  Names
 * differing from them only in case are refused here: Go would read them
 * as those claims (the last of several wins), so one token would say two
 * things. */
static int check_id_token_fields(json_t *payload, struct k8s_err *err)
{
	static const char *const strs[] = { "iss", "sub", "nonce", "at_hash" };
	static const char *const fields[] = { "iss", "sub", "aud", "exp", "iat", "nbf", "nonce",
					      "at_hash", "_claim_names", "_claim_sources" };
	json_t *v, *names, *sources, *src;
	const char *key;
	size_t i;

	json_object_foreach(payload, key, v)
		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (strcmp(key, fields[i]) != 0 && go_fold_eq(key, fields[i]))
				return k8s_err_set(err, K8S_REFUSED, "malformed token",
						   "a claim name differs from %s only in case", fields[i]);
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		v = json_object_get(payload, strs[i]);
		if (v != NULL && !json_is_null(v) && !json_is_string(v))
			return k8s_err_set(err, K8S_REFUSED, "malformed token",
					   "claim %s is not a string", strs[i]);
	}
	/* Distributed claims (OIDC Core 5.6.2): _claim_names maps claim names
	 * to non-empty source names that _claim_sources must hold, each
	 * source an object of strings. */
	names = json_object_get(payload, "_claim_names");
	sources = json_object_get(payload, "_claim_sources");
	if ((names != NULL && !json_is_null(names) && !json_is_object(names)) ||
	    (sources != NULL && !json_is_null(sources) && !json_is_object(sources)))
		return k8s_err_set(err, K8S_REFUSED, "malformed token",
				   "_claim_names or _claim_sources is not an object");
	json_object_foreach(sources, key, src) {
		static const char *const members[] = { "endpoint", "access_token", "JWT" };

		if (!json_is_null(src) && !json_is_object(src))
			return k8s_err_set(err, K8S_REFUSED, "malformed token",
					   "a _claim_sources entry is not an object");
		for (i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
			v = json_object_get(src, members[i]);
			if (v != NULL && !json_is_null(v) && !json_is_string(v))
				return k8s_err_set(err, K8S_REFUSED, "malformed token",
						   "_claim_sources member %s is not a string", members[i]);
		}
	}
	json_object_foreach(names, key, v)
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_object_get(sources, json_string_value(v)) == NULL)
			return k8s_err_set(err, K8S_REFUSED, "malformed token",
					   "_claim_names names a source that _claim_sources lacks");
	return K8S_OK;
}

static int fill_identity(const struct k8s_jwt_authenticator *a, json_t *payload,
			 struct k8s_identity *id, struct k8s_err *err)
{
	json_t *sub = json_object_get(payload, "sub");
	int ret;

	if (json_is_null(sub))
		sub = NULL;
	if (sub != NULL && !json_is_string(sub))
		return k8s_err_set(err, K8S_REFUSED, "malformed token", "claim sub is not a string");
	id->method = "jwt";
	id->issuer = strdup(a->issuer_url);
	id->subject = k8s_strdup(json_string_value(sub));
	id->extra = json_object();
	if (id->issuer == NULL || id->extra == NULL || (sub != NULL && id->subject == NULL))
		return k8s_err_set(err, K8S_REFUSED, "out of memory", "filling the identity");
	ret = k8s_claims_map(a, payload, id, err);
	if (ret == K8S_OK)
		ret = k8s_identity_take_jwt_claims(id, payload, err);
	return ret;
}

int k8s_oidc_check_claims(const struct k8s_jwt_authenticator *a, const struct k8s_jwt *jwt,
			  time_t now, struct k8s_identity *id, struct k8s_err *err)
{
	struct k8s_err e;
	const char *iss;
	int ret;

	k8s_err_clear(&e);
	memset(id, 0, sizeof(*id));
	if (a == NULL || a->issuer_url == NULL || jwt == NULL || !json_is_object(jwt->payload)) {
		ret = k8s_err_set(&e, K8S_ECONFIG, "configuration error", "no authenticator or token");
		goto out;
	}
	iss = json_string_value(json_object_get(jwt->payload, "iss"));
	if (iss == NULL || strcmp(iss, a->issuer_url) != 0) {
		ret = k8s_err_set(&e, K8S_REFUSED, "issuer mismatch",
				  "token iss is not %s", a->issuer_url);
		goto out;
	}
	ret = check_id_token_fields(jwt->payload, &e);
	if (ret == K8S_OK)
		ret = check_times(jwt->payload, now, &e);
	if (ret == K8S_OK)
		ret = check_audience(a, jwt->payload, &e);
	if (ret == K8S_OK)
		ret = fill_identity(a, jwt->payload, id, &e);
out:
	if (ret != K8S_OK)
		k8s_identity_free(id);
	if (err != NULL)
		*err = e;
	return ret;
}

/* --------------------------------------------------------------- key cache
 * cacheDir/jwks/<hex>.json, root-only, written atomically, where hex =
 * SHA-256("pam-k8s jwks v2" NUL issuer URL NUL discovery URL NUL trust)
 * and trust = the SHA-256 hex of certificateAuthority, or "-" for the
 * system trust store: everything that decides which keys are fetched.  So
 * keys fetched under one configuration (another discovery URL, CA, or
 * none) are never found under another, and configurations may share
 * cacheDir.  Content: {"version":2, "issuer", "discovery_url", "trust",
 * "fetched_at" (last success), "attempted_at" (last try), "untrusted"
 * (the last try failed TLS verification), "discovery": {...}, "jwks":
 * {...}}.  A file that does not parse, names another issuer, discovery URL
 * or trust, or holds no usable key is ignored and replaced by the next
 * fetch.  Version 1 named the file SHA-256(issuer URL) alone: that file is
 * removed when this issuer's cache is next written.
 *
 * Stale keys.  The apiserver (go-oidc's remote key set) keeps the keys it
 * fetched in memory for the life of the authenticator, refetching when no
 * cached key verifies a token (once they expired: at once without
 * Cache-Control); a configuration change builds a new authenticator.  Here
 * keys are fresh for K8S_JWKS_FRESH_S; after that every use refetches
 * (rate-limited), and when that fails because the issuer cannot be reached
 * or answers badly, cached keys serve for at most jwtOptions.maxStaleness
 * after their fetch, each such use with a warning (check: stderr; PAM: the
 * log).  They do not serve when the refetch failed TLS verification (the
 * issuer was reached and did not prove itself: a clock far off, a replaced
 * certificate), nor when their fetch time lies in the future (the clock was
 * set back: their age is unknown). */

struct keycache {
	int dfd;                 /* cacheDir/jwks, or -1: no cache (fetch every time) */
	char name[80];           /* <sha256 hex>.json */
	char name_v1[80];        /* the version 1 name of this issuer's file */
	char *durl;              /* discovery URL in effect */
	char trust[65];          /* SHA-256 hex of certificateAuthority, or "-" */
	int have;                /* keys is loaded (from disk or the network) */
	int untrusted;           /* the last attempt failed TLS verification */
	time_t fetched_at, attempted_at;
	time_t date;             /* the last answer's Date header (k8s-auth status) */
	json_t *doc;             /* what is, or goes, on disk */
	struct k8s_jwks keys;
	char why[256];           /* why there is no usable cache, for error details */
	char warning[1024];      /* stale keys served: for id->warning */
};

static int cache_open_dir(const struct k8s_config *cfg, char *why, size_t n)
{
	const char *base = cfg->cache_dir != NULL ? cfg->cache_dir : K8S_DEFAULT_CACHEDIR;
	char path[4096];
	struct stat st;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/" K8S_CACHEDIR_JWKS, base) >= sizeof(path) ||
	    k8s_mkdir_owned(AT_FDCWD, base, 0700) != 0 || k8s_mkdir_owned(AT_FDCWD, path, 0700) != 0) {
		snprintf(why, n, "cannot create %.120s/jwks: %s", base, strerror(errno));
		return -1;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 022) != 0 ||
	    k8s_own_fd(fd) != 0) {
		/* Keys found there decide who logs in: trust only our own, private dir. */
		snprintf(why, n, "%.120s is not a directory of uid %u without group/other write",
			 path, (unsigned)geteuid());
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static char *cache_read_file(struct keycache *c, size_t *len)
{
	struct k8s_buf b = { 0 };
	struct stat st;
	char chunk[8192];
	ssize_t r;
	int fd;

	fd = openat(c->dfd, c->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ENOENT)
			snprintf(c->why, sizeof(c->why), "cache file %s: %s", c->name, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022) != 0 || st.st_size > CACHE_MAX_BYTES) {
		snprintf(c->why, sizeof(c->why), "cache file %s is not ours, not private or too big", c->name);
		close(fd);
		return NULL;
	}
	while ((r = read(fd, chunk, sizeof(chunk))) > 0 && b.len + (size_t)r <= CACHE_MAX_BYTES)
		if (k8s_buf_append(&b, chunk, (size_t)r) != 0)
			break;
	close(fd);
	if (r != 0 || b.data == NULL) {
		k8s_buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.data;
}

static int jwks_from_object(json_t *jwks, struct k8s_jwks *keys, struct k8s_err *err)
{
	char *text = json_dumps(jwks, JSON_COMPACT);
	int r;

	if (text == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "serializing a JWKS");
	r = k8s_jwks_parse(text, strlen(text), keys, err);
	free(text);
	return r;
}

static int json_time(json_t *doc, const char *key, time_t *out)
{
	json_t *v = json_object_get(doc, key);

	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return -1;
	*out = (time_t)json_integer_value(v);
	return 0;
}

static void cache_load(struct keycache *c, const struct k8s_jwt_authenticator *a)
{
	struct k8s_err e;
	char *text;
	size_t len = 0;
	json_t *doc;

	text = cache_read_file(c, &len);
	if (text == NULL)
		return;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	k8s_freezero(text, len);
	if (!json_is_object(doc) || json_integer_value(json_object_get(doc, "version")) != CACHE_VERSION ||
	    !json_is_string(json_object_get(doc, "issuer")) ||
	    strcmp(json_string_value(json_object_get(doc, "issuer")), a->issuer_url) != 0 ||
	    !json_is_string(json_object_get(doc, "discovery_url")) ||
	    strcmp(json_string_value(json_object_get(doc, "discovery_url")), c->durl) != 0 ||
	    !json_is_string(json_object_get(doc, "trust")) ||
	    strcmp(json_string_value(json_object_get(doc, "trust")), c->trust) != 0 ||
	    json_time(doc, "fetched_at", &c->fetched_at) != 0 ||
	    json_time(doc, "attempted_at", &c->attempted_at) != 0 ||
	    jwks_from_object(json_object_get(doc, "jwks"), &c->keys, &e) != K8S_OK ||
	    c->keys.n == 0 || c->keys.private_keys > 0) {
		snprintf(c->why, sizeof(c->why), "cache file %s is corrupt or stale in form: ignored", c->name);
		k8s_jwks_free(&c->keys);
		json_decref(doc);
		return;
	}
	c->untrusted = json_is_true(json_object_get(doc, "untrusted"));
	c->doc = doc;
	c->have = 1;
}

/* Written atomically (k8s_write_file_at); failure only costs a refetch
 * next time. */
static void cache_store(struct keycache *c)
{
	char *text;

	if (c->dfd < 0 || c->doc == NULL ||
	    json_object_set_new(c->doc, "attempted_at", json_integer(c->attempted_at)) != 0 ||
	    json_object_set_new(c->doc, "untrusted", json_boolean(c->untrusted)) != 0)
		return;
	text = json_dumps(c->doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (text != NULL && k8s_write_file_at(c->dfd, c->name, text, strlen(text), 0600, NULL) == 0)
		(void)unlinkat(c->dfd, c->name_v1, 0); /* this issuer's version 1 file */
	free(text);
}

/* The discovery URL in effect (malloc'd; NULL when out of memory). */
static char *discovery_url(const struct k8s_jwt_authenticator *a)
{
	char *u = NULL;
	size_t n;

	if (a->discovery_url != NULL && *a->discovery_url != '\0')
		return strdup(a->discovery_url);
	/* As go-oidc: a trailing slash on the issuer is not doubled. */
	n = strlen(a->issuer_url);
	if (n > 0 && a->issuer_url[n - 1] == '/')
		n--;
	if (asprintf(&u, "%.*s/.well-known/openid-configuration", (int)n, a->issuer_url) < 0)
		return NULL;
	return u;
}

static int cache_setup(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
		       struct keycache *c, struct k8s_err *err)
{
	struct k8s_buf b = {0};
	char hex[65];

	c->durl = discovery_url(a);
	if (c->durl == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "discovery URL");
	if (a->ca_pem != NULL)
		k8s_sha256_hex(a->ca_pem, strlen(a->ca_pem), c->trust);
	else
		snprintf(c->trust, sizeof(c->trust), "-");
	if (k8s_buf_printf(&b, "pam-k8s jwks v%d", CACHE_VERSION) != 0 ||
	    k8s_buf_append(&b, "", 1) != 0 ||
	    k8s_buf_append(&b, a->issuer_url, strlen(a->issuer_url) + 1) != 0 ||
	    k8s_buf_append(&b, c->durl, strlen(c->durl) + 1) != 0 ||
	    k8s_buf_append(&b, c->trust, strlen(c->trust)) != 0) {
		k8s_buf_free(&b);
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "key cache name");
	}
	k8s_sha256_hex(b.data, b.len, hex);
	k8s_buf_free(&b);
	snprintf(c->name, sizeof(c->name), "%s.json", hex);
	k8s_sha256_hex(a->issuer_url, strlen(a->issuer_url), hex);
	snprintf(c->name_v1, sizeof(c->name_v1), "%s.json", hex);
	c->dfd = cache_open_dir(cfg, c->why, sizeof(c->why));
	if (c->dfd >= 0)
		cache_load(c, a);
	return K8S_OK;
}

static void cache_free(struct keycache *c)
{
	if (c->dfd >= 0)
		close(c->dfd);
	free(c->durl);
	json_decref(c->doc);
	k8s_jwks_free(&c->keys);
	memset(c, 0, sizeof(*c));
	c->dfd = -1;
}

/* ------------------------------------------------------------------ fetch */

/* *untrusted is set when the answer failed TLS verification; *date gets
 * the answer's Date header (0: none, or no answer). */
static int http_get_json(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
			 const char *url, const char *what, json_t **out, int *untrusted,
			 time_t *date, struct k8s_err *err)
{
	struct k8s_http_req req;
	struct k8s_http_resp resp;
	struct k8s_err herr;
	int ret;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	k8s_err_clear(&herr);
	*out = NULL;
	if (strncmp(url, "https://", 8) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "issuer unavailable",
				   "issuer %s: %s URL %.200s is not https", a->issuer_url, what, url);
	req.method = "GET";
	req.url = url;
	/* The kube-apiserver answers its JWKS only as application/jwk-set+json
	 * and refuses (406) a request that accepts application/json alone. */
	req.accept = "application/json, application/jwk-set+json";
	req.ca_pem = a->ca_pem;
	req.ca_pem_len = a->ca_pem != NULL ? strlen(a->ca_pem) : 0;
	req.timeout_ms = cfg->jwt_timeout_ms > 0 ? (long)cfg->jwt_timeout_ms : DEFAULT_TIMEOUT_MS;
	*date = 0;
	if (k8s_http_do(&req, &resp, &herr) != K8S_OK) {
		*untrusted = strcmp(herr.reason, K8S_REASON_TLS_VERIFY) == 0;
		ret = k8s_err_set(err, K8S_UNAVAILABLE, "issuer unavailable", "issuer %s: %s from %.200s: %s",
				  a->issuer_url, what, url, herr.detail);
		goto out;
	}
	*date = resp.date;
	if (resp.status != 200) {
		ret = k8s_err_set(err, K8S_UNAVAILABLE, "issuer unavailable", "issuer %s: %s from %.200s: HTTP %ld",
				  a->issuer_url, what, url, resp.status);
		goto out;
	}
	*out = json_loadb(resp.body != NULL ? resp.body : "", resp.body_len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		ret = k8s_err_set(err, K8S_UNAVAILABLE, "issuer unavailable",
				  "issuer %s: %s from %.200s is not a JSON object with unique keys",
				  a->issuer_url, what, url);
		goto out;
	}
	ret = K8S_OK;
out:
	k8s_http_resp_free(&resp);
	return ret;
}

/* The discovery document must name exactly our issuer (else anyone able to
 * serve that URL could vouch for keys of another issuer) and an https
 * jwks_uri. */
static int fetch_discovery(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
			   const char *durl, json_t **disc, int *untrusted, time_t *date,
			   struct k8s_err *err)
{
	const char *iss, *juri;

	if (http_get_json(cfg, a, durl, "discovery document", disc, untrusted, date, err) != K8S_OK)
		return K8S_UNAVAILABLE;
	iss = json_string_value(json_object_get(*disc, "issuer"));
	juri = json_string_value(json_object_get(*disc, "jwks_uri"));
	if (iss == NULL || strcmp(iss, a->issuer_url) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "issuer unavailable",
				   "issuer %s: discovery document at %.200s names another issuer",
				   a->issuer_url, durl);
	if (juri == NULL || strncmp(juri, "https://", 8) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "issuer unavailable",
				   "issuer %s: discovery document has no https jwks_uri", a->issuer_url);
	return K8S_OK;
}

/* One discovery and one JWKS request; on success c holds the new keys.
 * Either way c->untrusted says whether it failed TLS verification. */
static int fetch_keys(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
		      struct keycache *c, time_t now, struct k8s_err *err)
{
	json_t *disc = NULL, *jwks = NULL, *doc = NULL;
	struct k8s_jwks keys;
	const char *juri;
	int ret;

	memset(&keys, 0, sizeof(keys));
	c->untrusted = 0;
	ret = fetch_discovery(cfg, a, c->durl, &disc, &c->untrusted, &c->date, err);
	if (ret != K8S_OK)
		goto out;
	juri = json_string_value(json_object_get(disc, "jwks_uri"));
	ret = http_get_json(cfg, a, juri, "JWKS", &jwks, &c->untrusted, &c->date, err);
	if (ret == K8S_OK)
		ret = jwks_from_object(jwks, &keys, err);
	if (ret != K8S_OK)
		goto out;
	ret = K8S_UNAVAILABLE;
	if (keys.private_keys > 0) {
		k8s_err_set(err, ret, "issuer unavailable", "issuer %s: JWKS publishes private key "
			    "material, refusing the whole set (%s)", a->issuer_url, keys.skip_note);
		goto out;
	}
	if (keys.n == 0) {
		k8s_err_set(err, ret, "issuer unavailable", "issuer %s: JWKS has no usable signing key (%s)",
			    a->issuer_url, keys.skip_note);
		goto out;
	}
	doc = json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:b, s:O, s:O}", "version", CACHE_VERSION,
			"issuer", a->issuer_url, "discovery_url", c->durl, "trust", c->trust,
			"fetched_at", (json_int_t)now, "attempted_at", (json_int_t)now, "untrusted", 0,
			"discovery", disc, "jwks", jwks);
	if (doc == NULL) {
		k8s_err_set(err, ret, "out of memory", "building the key cache");
		goto out;
	}
	json_decref(c->doc);
	k8s_jwks_free(&c->keys);
	c->doc = doc;
	c->keys = keys;
	memset(&keys, 0, sizeof(keys));
	c->have = 1;
	c->fetched_at = c->attempted_at = now;
	ret = K8S_OK;
out:
	k8s_jwks_free(&keys);
	json_decref(disc);
	json_decref(jwks);
	return ret;
}

/* Cached keys may serve although a refetch failed: within maxStaleness of
 * their fetch, fetched in the past, and not after a TLS verification
 * failure. */
static int stale_ok(const struct k8s_config *cfg, const struct keycache *c, time_t age)
{
	time_t max = (time_t)(cfg->jwks_max_stale_ms / 1000);

	return c->have && !c->untrusted && age <= max && age >= -FUTURE_SKEW_S;
}

static void stale_warning(const struct k8s_jwt_authenticator *a, struct keycache *c, time_t age,
			  const char *why)
{
	snprintf(c->warning, sizeof(c->warning),
		 "issuer %.200s: using cached keys fetched %lld s ago (fresh for %d s, "
		 "jwtOptions.maxStaleness bounds this) because refreshing them failed: %.512s",
		 a->issuer_url, (long long)age, K8S_JWKS_FRESH_S, why);
}

/* Keys for this call: fresh cache, else one fetch, else stale cache. */
static int keys_for(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
		    struct keycache *c, time_t now, int *fetched, struct k8s_err *err)
{
	struct k8s_err ferr;
	time_t age = now - c->fetched_at, since_try = now - c->attempted_at;

	k8s_err_clear(&ferr);
	if (c->have && age >= -FUTURE_SKEW_S && age < K8S_JWKS_FRESH_S)
		return K8S_OK;
	/* The issuer failed moments ago: do not make this login wait for it again. */
	if (stale_ok(cfg, c, age) && since_try >= 0 && since_try < K8S_JWKS_REFRESH_MIN_S) {
		char why[96];

		snprintf(why, sizeof(why), "the last attempt, %lld s ago", (long long)since_try);
		stale_warning(a, c, age, why);
		return K8S_OK;
	}
	*fetched = 1;
	if (fetch_keys(cfg, a, c, now, &ferr) == K8S_OK) {
		cache_store(c);
		return K8S_OK;
	}
	if (c->have) {
		c->attempted_at = now;
		cache_store(c);
	}
	if (stale_ok(cfg, c, age)) {
		stale_warning(a, c, age, ferr.detail);
		return K8S_OK;
	}
	if (c->have && c->untrusted)
		return k8s_err_set(err, K8S_UNAVAILABLE, ferr.reason, "%s; cached keys (%lld s old) "
				   "are not used after a TLS verification failure (is the clock right?)",
				   ferr.detail, (long long)age);
	if (c->have)
		return k8s_err_set(err, K8S_UNAVAILABLE, ferr.reason, "%s; cached keys are %lld s old, "
				   "beyond jwtOptions.maxStaleness", ferr.detail, (long long)age);
	return k8s_err_set(err, K8S_UNAVAILABLE, ferr.reason, "%s%s%s", ferr.detail,
			   c->why[0] ? "; " : "", c->why);
}

/* No cached key verifies the token (its kid is unknown, or the issuer
 * rotated a key in place or publishes keys without kid): refetch once, as
 * go-oidc does, unless the last attempt was less than
 * K8S_JWKS_REFRESH_MIN_S ago.  A key gone from the new set no longer
 * verifies. */
static int refresh_for_kid(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
			   const struct k8s_jwt *jwt, struct keycache *c, time_t now, struct k8s_err *err)
{
	time_t last = c->attempted_at > c->fetched_at ? c->attempted_at : c->fetched_at;
	struct k8s_err ferr;

	if (now - last < K8S_JWKS_REFRESH_MIN_S && now >= last)
		return K8S_REFUSED; /* err still says "unknown signing key" */
	k8s_err_clear(&ferr);
	if (fetch_keys(cfg, a, c, now, &ferr) != K8S_OK) {
		c->attempted_at = now;
		cache_store(c);
		return k8s_err_set(err, K8S_UNAVAILABLE, ferr.reason,
				   "the token's key is not among the cached keys and refreshing them "
				   "failed: %s", ferr.detail);
	}
	cache_store(c);
	return k8s_jwt_verify(jwt, &c->keys, err);
}

/* ----------------------------------------------------- distributed claims
 * The apiserver resolves a groups claim that the token lacks from the
 * endpoint _claim_names/_claim_sources name for it: a GET with the
 * source's access_token as bearer (over the issuer's trust), an answer
 * with a 2xx status whose body is a JWT it verifies as an ID token (keys,
 * audience, expiry) and whose groups claim it takes.  The same here, for
 * an answer from the token's own issuer, whose keys we hold; the apiserver
 * would also fetch the keys of another issuer the answer names, here that
 * answer refuses the token.  Only after the token's own signature held. */
static int resolve_distributed(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
			       const struct k8s_jwt *jwt, const struct keycache *c, time_t now,
			       struct k8s_err *err)
{
	json_t *names = json_object_get(jwt->payload, "_claim_names"), *src, *v;
	const char *name, *url, *bearer;
	struct k8s_http_req req;
	struct k8s_http_resp resp;
	struct k8s_jwt dj;
	struct k8s_err e;
	int ret;

	if (a->groups.claim == NULL || names == NULL ||
	    json_object_get(jwt->payload, a->groups.claim) != NULL)
		return K8S_OK;
	if (check_id_token_fields(jwt->payload, err) != K8S_OK)
		return K8S_REFUSED;
	/* as the apiserver: the token is valid (times, audience) before the
	 * helper goes anywhere its claims name; an expired or foreign token,
	 * however well signed, sends no request */
	if (check_times(jwt->payload, now, err) != K8S_OK || check_audience(a, jwt->payload, err) != K8S_OK)
		return K8S_REFUSED;
	name = json_string_value(json_object_get(names, a->groups.claim));
	src = name != NULL ? json_object_get(json_object_get(jwt->payload, "_claim_sources"), name) : NULL;
	url = json_string_value(json_object_get(src, "endpoint"));
	bearer = json_string_value(json_object_get(src, "access_token"));
	if (url == NULL || *url == '\0')
		return K8S_OK;
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	memset(&dj, 0, sizeof(dj));
	k8s_err_clear(&e);
	req.method = "GET";
	req.url = url;
	req.bearer = bearer != NULL && *bearer != '\0' ? bearer : NULL;
	req.ca_pem = a->ca_pem;
	req.ca_pem_len = a->ca_pem != NULL ? strlen(a->ca_pem) : 0;
	req.timeout_ms = cfg->jwt_timeout_ms > 0 ? (long)cfg->jwt_timeout_ms : DEFAULT_TIMEOUT_MS;
	req.max_body = K8S_TOKEN_MAX;
	/* The URL and the access token came in the token: neither is logged. */
	if (k8s_http_do(&req, &resp, &e) != K8S_OK) {
		ret = k8s_err_set(err, K8S_UNAVAILABLE, "issuer unavailable",
				  "issuer %s: distributed groups claim %s: the claim source endpoint "
				  "failed: %s", a->issuer_url, a->groups.claim, e.reason);
		goto out;
	}
	ret = K8S_REFUSED;
	if (resp.status < 200 || resp.status > 226) {
		k8s_err_set(err, ret, "distributed claim refused",
			    "groups claim %s: the claim source endpoint answered HTTP %ld",
			    a->groups.claim, resp.status);
		goto out;
	}
	if (k8s_jwt_parse(resp.body, resp.body_len, &dj, &e) != K8S_OK) {
		k8s_err_set(err, ret, "distributed claim refused",
			    "groups claim %s: the claim source did not answer a JWT: %s",
			    a->groups.claim, e.detail);
		goto out;
	}
	v = json_object_get(dj.payload, "iss");
	if (!json_is_string(v) || strcmp(json_string_value(v), a->issuer_url) != 0) {
		k8s_err_set(err, ret, "distributed claim refused",
			    "groups claim %s: the claim source's JWT is not from issuer %s",
			    a->groups.claim, a->issuer_url);
		goto out;
	}
	if (k8s_jwt_verify(&dj, &c->keys, &e) != K8S_OK || check_id_token_fields(dj.payload, &e) != K8S_OK ||
	    check_times(dj.payload, now, &e) != K8S_OK || check_audience(a, dj.payload, &e) != K8S_OK) {
		k8s_err_set(err, ret, "distributed claim refused",
			    "groups claim %s: the claim source's JWT: %s: %s", a->groups.claim, e.reason,
			    e.detail);
		goto out;
	}
	v = json_object_get(dj.payload, a->groups.claim);
	if (v == NULL) {
		k8s_err_set(err, ret, "distributed claim refused",
			    "groups claim %s: the claim source's JWT does not hold it", a->groups.claim);
		goto out;
	}
	ret = json_object_set(jwt->payload, a->groups.claim, v) == 0
		      ? K8S_OK : k8s_err_set(err, K8S_REFUSED, "out of memory", "distributed claim");
out:
	k8s_jwt_free(&dj);
	k8s_http_resp_free(&resp);
	return ret;
}

int k8s_oidc_authenticate_at(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
			     const struct k8s_jwt *jwt, time_t now, struct k8s_identity *id,
			     struct k8s_err *err)
{
	struct keycache c;
	struct k8s_err e;
	int ret, fetched = 0;

	memset(&c, 0, sizeof(c));
	c.dfd = -1;
	k8s_err_clear(&e);
	memset(id, 0, sizeof(*id));
	if (cfg == NULL || a == NULL || a->issuer_url == NULL || jwt == NULL) {
		ret = k8s_err_set(&e, K8S_ECONFIG, "configuration error", "no authenticator or token");
		goto out;
	}
	ret = cache_setup(cfg, a, &c, &e);
	if (ret == K8S_OK)
		ret = keys_for(cfg, a, &c, now, &fetched, &e);
	if (ret == K8S_OK)
		ret = k8s_jwt_verify(jwt, &c.keys, &e);
	if (ret == K8S_REFUSED && !fetched && strcmp(e.reason, "unsupported algorithm") != 0 &&
	    strcmp(e.reason, "malformed token") != 0)
		ret = refresh_for_kid(cfg, a, jwt, &c, now, &e);
	if (ret == K8S_OK)
		ret = resolve_distributed(cfg, a, jwt, &c, now, &e);
	if (ret == K8S_OK)
		ret = k8s_oidc_check_claims(a, jwt, now, id, &e);
	if (c.warning[0] != '\0')
		k8s_identity_warn(id, "%s", c.warning);
out:
	cache_free(&c);
	if (err != NULL)
		*err = e;
	return ret;
}

int k8s_oidc_authenticate(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
			  const struct k8s_jwt *jwt, struct k8s_identity *id, struct k8s_err *err)
{
	return k8s_oidc_authenticate_at(cfg, a, jwt, time(NULL), id, err);
}

/* ------------------------------------------------------- k8s-auth status */

int k8s_oidc_probe(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
		   struct k8s_oidc_probe *out, struct k8s_err *err)
{
	struct keycache c;
	const char *juri;
	int ret;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.dfd = -1;  /* no cache: neither read nor written */
	if (cfg == NULL || a == NULL || a->issuer_url == NULL)
		return k8s_err_set(err, K8S_ECONFIG, "configuration error", "no authenticator");
	c.durl = discovery_url(a);
	if (c.durl == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "discovery URL");
	snprintf(out->discovery_url, sizeof(out->discovery_url), "%s", c.durl);
	ret = fetch_keys(cfg, a, &c, time(NULL), err);
	out->untrusted = c.untrusted;
	out->date = c.date;
	if (ret == K8S_OK) {
		juri = json_string_value(json_object_get(json_object_get(c.doc, "discovery"), "jwks_uri"));
		snprintf(out->jwks_uri, sizeof(out->jwks_uri), "%s", juri != NULL ? juri : "");
		out->n_keys = c.keys.n;
		out->skipped = c.keys.skipped;
		snprintf(out->skip_note, sizeof(out->skip_note), "%s", c.keys.skip_note);
	}
	cache_free(&c);
	return ret;
}

char *k8s_oidc_cache_file_issuer(int dfd, const char *name)
{
	struct keycache c;
	json_t *doc;
	char *text, *iss = NULL;
	size_t len = 0;

	memset(&c, 0, sizeof(c));
	c.dfd = dfd;
	snprintf(c.name, sizeof(c.name), "%s", name);
	text = cache_read_file(&c, &len);
	if (text == NULL)
		return NULL;
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	k8s_freezero(text, len);
	if (json_is_string(json_object_get(doc, "issuer")))
		iss = strdup(json_string_value(json_object_get(doc, "issuer")));
	json_decref(doc);
	return iss;
}
