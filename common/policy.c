/* policy.c: the hardening guide, enforced at the host (SPEC.md `policy:`).
 *
 * The precheck runs before any network call, on bytes nobody has verified
 * yet: it may only REFUSE on them, never accept. */
#include "policy.h"

#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64.h"
#include "explain.h"
#include "jwt.h"
#include "util.h"

static int lower_alnum(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

/* ^[a-z0-9]{6}\.[a-z0-9]{16}$: kubeadm's node-join tokens. */
static int is_bootstrap_token(const char *t, size_t len)
{
	return len == 23 && t[6] == '.' && lower_alnum(t, 6) && lower_alnum(t + 7, 16);
}

/* Secret-based service-account tokens (before 1.24, and still mintable
 * through a kubernetes.io/service-account-token Secret) carry no exp, so
 * a leaked one is valid until the Secret is deleted.  They are recognised
 * by the unverified payload; a payload we cannot decode is no legacy token
 * here and is left to the validator, which refuses what it cannot verify. */
static int is_legacy_sa_token(const char *t, size_t len)
{
	const char *dot1, *dot2;
	unsigned char *raw = NULL;
	size_t raw_len = 0;
	json_t *payload = NULL, *iss;
	int legacy = 0;

	dot1 = memchr(t, '.', len);
	if (dot1 == NULL)
		return 0;
	dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - t));
	if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - t)) != NULL)
		return 0;
	raw = k8s_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &raw_len);
	if (raw == NULL)
		return 0;
	payload = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(payload)) {
		iss = json_object_get(payload, "iss");
		legacy = (json_is_string(iss) &&
			  strcmp(json_string_value(iss), "kubernetes/serviceaccount") == 0) ||
			 json_object_get(payload, "kubernetes.io/serviceaccount/secret.name") != NULL;
	}
	json_decref(payload);
	k8s_freezero(raw, raw_len);
	return legacy;
}

int k8s_policy_precheck(const struct k8s_config *cfg, const char *token, size_t len,
			struct k8s_err *err)
{
	size_t i;

	k8s_err_clear(err);
	if (token == NULL || len == 0 || len > K8S_TOKEN_MAX)
		return k8s_err_set(err, K8S_REFUSED, "malformed token",
				   "token length %zu outside 1..%d", token ? len : 0, K8S_TOKEN_MAX);
	/* The apiserver trims or ignores some whitespace, so a token with any
	 * would be validated as something other than what was typed. */
	for (i = 0; i < len; i++)
		if ((unsigned char)token[i] < 0x21 || (unsigned char)token[i] > 0x7e)
			return k8s_err_set(err, K8S_REFUSED, "malformed token",
					   "byte %zu is whitespace, a control or a non-ASCII byte", i);
	if (is_bootstrap_token(token, len) && !cfg->policy.allow_bootstrap)
		return k8s_err_set(err, K8S_REFUSED, "bootstrap tokens are not allowed",
				   "token has the bootstrap-token shape and policy.allowBootstrapTokens "
				   "is false");
	if (!cfg->policy.allow_legacy_sa && is_legacy_sa_token(token, len))
		return k8s_err_set(err, K8S_REFUSED, "legacy service-account tokens are not allowed",
				   "secret-based service-account token and "
				   "policy.allowLegacyServiceAccountTokens is false");
	return K8S_OK;
}

/* maxTokenLifetime bounds both what the issuer says (exp - iat) and what
 * the host sees (exp - now, plus the clock leeway): an iat the issuer put
 * in the future would otherwise stretch the first without limit. */
static int check_lifetime(const struct k8s_config *cfg, const struct k8s_identity *id, time_t now,
			  struct k8s_err *err)
{
	int64_t max_ms = cfg->policy.max_token_lifetime_ms, life, left;
	char when[K8S_WHEN_MAX], max_s[32], life_s[32];

	if (max_ms <= 0)
		return K8S_OK;
	/* An opaque token (static, webhook) or one without exp has no lifetime
	 * we can know, so it cannot be shown to be within the limit. */
	if (id->exp <= 0 || id->iat <= 0 || id->exp < id->iat)
		return k8s_err_set(err, K8S_REFUSED, "token lifetime unknown",
				   "token lifetime unknown (exp/iat missing) and policy.maxTokenLifetime "
				   "is set");
	/* exp, iat > 0 and now >= 0 (k8s_policy_check_identity_at): no overflow. */
	left = (int64_t)id->exp - (int64_t)now;
	k8s_format_span(max_ms / 1000, max_s);
	if (left > max_ms / 1000 + K8S_CLOCK_LEEWAY_S) {
		k8s_format_when(id->exp, now, when);
		return k8s_err_set(err, K8S_REFUSED, "token lifetime exceeds policy",
				   "token is valid until %s, more than policy.maxTokenLifetime "
				   "(%s) from now", when, max_s);
	}
	life = (int64_t)id->exp - (int64_t)id->iat;
	/* life * 1000 > max_ms, without the overflow. */
	if (life > max_ms / 1000) {
		k8s_format_span(life, life_s);
		return k8s_err_set(err, K8S_REFUSED, "token lifetime exceeds policy",
				   "token lifetime %s (exp - iat) exceeds policy.maxTokenLifetime %s",
				   life_s, max_s);
	}
	return K8S_OK;
}

int k8s_policy_check_identity(const struct k8s_config *cfg, const struct k8s_identity *id,
			      struct k8s_err *err)
{
	return k8s_policy_check_identity_at(cfg, id, time(NULL), err);
}

int k8s_policy_check_identity_at(const struct k8s_config *cfg, const struct k8s_identity *id,
				 time_t now, struct k8s_err *err)
{
	const struct k8s_strv *deny = &cfg->policy.deny_usernames;
	size_t i;
	int r;

	k8s_err_clear(err);
	if (id->username == NULL || id->username[0] == '\0')
		return k8s_err_set(err, K8S_REFUSED, "empty username",
				   "the token authenticated without a username");
	if (id->legacy_sa && !cfg->policy.allow_legacy_sa)
		return k8s_err_set(err, K8S_REFUSED, "legacy service-account tokens are not allowed",
				   "secret-based service-account token and "
				   "policy.allowLegacyServiceAccountTokens is false");
	if (now < 0)
		return k8s_err_set(err, K8S_REFUSED, "host clock unusable",
				   "the host clock reads before 1970");
	if (check_lifetime(cfg, id, now, err) != K8S_OK)
		return K8S_REFUSED;
	/* go-jose (service-account tokens) refuses an iat in the future too;
	 * whatever maxTokenLifetime says, a token the issuer dated ahead is
	 * refused on every path. */
	if (id->iat > now && id->iat - now > K8S_CLOCK_LEEWAY_S)
		return k8s_err_issued_ahead(err, id->iat, now);
	/* No FNM_PATHNAME/FNM_PERIOD: '*' spans ':' and '.', as the defaults
	 * ("system:node:*") need.  Anything but a clean no-match refuses. */
	for (i = 0; i < deny->n; i++) {
		r = fnmatch(deny->v[i], id->username, 0);
		if (r != FNM_NOMATCH)
			return k8s_err_set(err, K8S_REFUSED, "username denied by policy",
					   "username matches policy.denyUsernames[%zu] \"%.64s\"", i,
					   deny->v[i]);
	}
	return K8S_OK;
}
