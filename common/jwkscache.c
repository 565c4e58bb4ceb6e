/* jwkscache.c: a jwt: authenticator's keys: OIDC discovery, the JWKS
 * fetch, and the root-only disk cache that serves them (beside
 * reviewcache.c, the TokenReview answers' cache); and what `k8s-auth
 * status` reports of them (oidc.h declares those two). */
#include "jwkscache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cachedir.h"
#include "http.h"
#include "oidc.h"
#include "sha256.h"
#include "util.h"

#define CACHE_VERSION      2
#define CACHE_MAX_BYTES    (3 * 1024 * 1024)
/* Keys fetched "in the future" by more than this (the clock was set back)
 * have an unknown age: never fresh, and not served stale either. */
#define FUTURE_SKEW_S      300

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

static char *cache_read_file(struct k8s_keycache *c, size_t *len)
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

static void cache_load(struct k8s_keycache *c, const struct k8s_jwt_authenticator *a)
{
	struct k8s_err e;
	char *text;
	size_t len = 0;
	json_t *doc;

	text = cache_read_file(c, &len);
	if (text == NULL)
		return;
	k8s_err_clear(&e);
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
		if (strcmp(e.reason, K8S_REASON_NO_SIGLIB) == 0) /* the host, not the file */
			snprintf(c->why, sizeof(c->why), "%.200s", e.detail);
		else
			snprintf(c->why, sizeof(c->why), "cache file %s is corrupt or stale in form: ignored",
				 c->name);
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
static void cache_store(struct k8s_keycache *c)
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

int k8s_keycache_open(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
		       struct k8s_keycache *c, struct k8s_err *err)
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

void k8s_keycache_close(struct k8s_keycache *c)
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
	req.timeout_ms = cfg->jwt_timeout_ms > 0 ? (long)cfg->jwt_timeout_ms : K8S_JWT_HTTP_TIMEOUT_MS;
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
		      struct k8s_keycache *c, time_t now, struct k8s_err *err)
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
static int stale_ok(const struct k8s_config *cfg, const struct k8s_keycache *c, time_t age)
{
	time_t max = (time_t)(cfg->jwks_max_stale_ms / 1000);

	return c->have && !c->untrusted && age <= max && age >= -FUTURE_SKEW_S;
}

static void stale_warning(const struct k8s_jwt_authenticator *a, struct k8s_keycache *c, time_t age,
			  const char *why)
{
	snprintf(c->warning, sizeof(c->warning),
		 "issuer %.200s: using cached keys fetched %lld s ago (fresh for %d s, "
		 "jwtOptions.maxStaleness bounds this) because refreshing them failed: %.512s",
		 a->issuer_url, (long long)age, K8S_JWKS_FRESH_S, why);
}

/* Keys for this call: fresh cache, else one fetch, else stale cache. */
int k8s_keycache_keys(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
		    struct k8s_keycache *c, time_t now, int *fetched, struct k8s_err *err)
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
int k8s_keycache_refresh(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
			   const struct k8s_jwt *jwt, struct k8s_keycache *c, time_t now, struct k8s_err *err)
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

/* ------------------------------------------------------- k8s-auth status */

int k8s_oidc_probe(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
		   struct k8s_oidc_probe *out, struct k8s_err *err)
{
	struct k8s_keycache c;
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
	k8s_keycache_close(&c);
	return ret;
}

char *k8s_oidc_cache_file_issuer(int dfd, const char *name)
{
	struct k8s_keycache c;
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
