/* oidc.c: the apiserver's `jwt:` authenticator (structured authentication
 * configuration): token checks (claims.c maps the claims to the user);
 * the issuer's keys, fetched by discovery and kept in a root-only disk
 * cache, are jwkscache.c's.
 *
 * Where the apiserver is lenient by accident of Go's JSON decoding (null
 * claims decoding as "", email_verified as anything), this refuses. */
#include "oidc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "explain.h"
#include "http.h"
#include "jwkscache.h"
#include "util.h"

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
 * iat is refused there as here.  go-jose's Claims take any null as no
 * claim (null_absent). */
static int time_claim(json_t *payload, const char *name, int null_absent, time_t *val,
		      int *present, struct k8s_err *err)
{
	json_t *v = json_object_get(payload, name);
	int r = (null_absent || strcmp(name, "nbf") == 0) && json_is_null(v)
		? 0 : k8s_numeric_date(v, val);

	*present = r > 0;
	if (r < 0)
		return k8s_err_set(err, K8S_REFUSED, "malformed token",
				   "claim %s is not a number of seconds within time_t's range", name);
	return K8S_OK;
}

int k8s_jwt_check_times(json_t *payload, time_t now, unsigned how, struct k8s_err *err)
{
	int sa = (how & K8S_TIMES_SERVICEACCOUNT) != 0;
	time_t exp, nbf, iat;
	int has_exp, has_nbf, has_iat;

	if (time_claim(payload, "exp", sa, &exp, &has_exp, err) != K8S_OK ||
	    time_claim(payload, "nbf", sa, &nbf, &has_nbf, err) != K8S_OK ||
	    time_claim(payload, "iat", sa, &iat, &has_iat, err) != K8S_OK)
		return K8S_REFUSED;
	if (!has_exp)
		return k8s_err_set(err, K8S_REFUSED, "malformed token", "%s",
				   sa ? "service-account token has no exp claim (the apiserver mints "
					"bound tokens with one; tokens that never expire are refused)"
				      : "token has no exp claim (tokens that never expire are refused)");
	if (now >= exp)
		return k8s_err_expired(err, exp, now);
	if (has_nbf && nbf > now + K8S_CLOCK_LEEWAY_S)
		return k8s_err_not_yet_valid(err, nbf, now);
	if (sa && has_iat && iat > now + K8S_CLOCK_LEEWAY_S)
		return k8s_err_issued_ahead(err, iat, now);
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
		ret = k8s_jwt_check_times(jwt->payload, now, 0, &e);
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
			       const struct k8s_jwt *jwt, const struct k8s_keycache *c, time_t now,
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
	if (k8s_jwt_check_times(jwt->payload, now, 0, err) != K8S_OK ||
	    check_audience(a, jwt->payload, err) != K8S_OK)
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
	req.timeout_ms = cfg->jwt_timeout_ms > 0 ? (long)cfg->jwt_timeout_ms : K8S_JWT_HTTP_TIMEOUT_MS;
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
	    k8s_jwt_check_times(dj.payload, now, 0, &e) != K8S_OK ||
	    check_audience(a, dj.payload, &e) != K8S_OK) {
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

/* The issuer's keys (cache, else one fetch, else stale cache) and the
 * token's signature checked with them, refetching once when no cached key
 * verifies it.  c is set up here; the caller frees it. */
static int verify_with_keys(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
			    const struct k8s_jwt *jwt, time_t now, struct k8s_keycache *c,
			    struct k8s_err *e)
{
	int ret, fetched = 0;

	ret = k8s_keycache_open(cfg, a, c, e);
	if (ret == K8S_OK)
		ret = k8s_keycache_keys(cfg, a, c, now, &fetched, e);
	if (ret == K8S_OK)
		ret = k8s_jwt_verify(jwt, &c->keys, e);
	if (ret == K8S_REFUSED && !fetched && strcmp(e->reason, "unsupported algorithm") != 0 &&
	    strcmp(e->reason, "malformed token") != 0)
		ret = k8s_keycache_refresh(cfg, a, jwt, c, now, e);
	return ret;
}

int k8s_oidc_verify_at(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
		       const struct k8s_jwt *jwt, time_t now, char *warning, size_t warning_size,
		       struct k8s_err *err)
{
	struct k8s_keycache c;
	struct k8s_err e;
	int ret;

	memset(&c, 0, sizeof(c));
	c.dfd = -1;
	k8s_err_clear(&e);
	if (warning_size > 0)
		warning[0] = '\0';
	if (cfg == NULL || a == NULL || a->issuer_url == NULL || jwt == NULL)
		ret = k8s_err_set(&e, K8S_ECONFIG, "configuration error", "no authenticator or token");
	else
		ret = verify_with_keys(cfg, a, jwt, now, &c, &e);
	if (c.warning[0] != '\0' && warning_size > 0)
		snprintf(warning, warning_size, "%s", c.warning);
	k8s_keycache_close(&c);
	if (err != NULL)
		*err = e;
	return ret;
}

int k8s_oidc_authenticate_at(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
			     const struct k8s_jwt *jwt, time_t now, struct k8s_identity *id,
			     struct k8s_err *err)
{
	struct k8s_keycache c;
	struct k8s_err e;
	int ret;

	memset(&c, 0, sizeof(c));
	c.dfd = -1;
	k8s_err_clear(&e);
	memset(id, 0, sizeof(*id));
	if (cfg == NULL || a == NULL || a->issuer_url == NULL || jwt == NULL) {
		ret = k8s_err_set(&e, K8S_ECONFIG, "configuration error", "no authenticator or token");
		goto out;
	}
	ret = verify_with_keys(cfg, a, jwt, now, &c, &e);
	if (ret == K8S_OK)
		ret = resolve_distributed(cfg, a, jwt, &c, now, &e);
	if (ret == K8S_OK)
		ret = k8s_oidc_check_claims(a, jwt, now, id, &e);
	if (c.warning[0] != '\0')
		k8s_identity_warn(id, "%s", c.warning);
out:
	k8s_keycache_close(&c);
	if (err != NULL)
		*err = e;
	return ret;
}

int k8s_oidc_authenticate(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
			  const struct k8s_jwt *jwt, struct k8s_identity *id, struct k8s_err *err)
{
	return k8s_oidc_authenticate_at(cfg, a, jwt, time(NULL), id, err);
}
