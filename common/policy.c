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
 * by the unverified payload (k8s_token_decode: of any three-segment
 * token); a payload that does not decode is no legacy token here and is
 * left to the validator, which refuses what it cannot verify. */
static int is_legacy_sa_token(const json_t *payload)
{
	json_t *iss = json_object_get(payload, "iss");

	return (json_is_string(iss) && strcmp(json_string_value(iss), "kubernetes/serviceaccount") == 0) ||
	       json_object_get(payload, "kubernetes.io/serviceaccount/secret.name") != NULL;
}

int k8s_policy_precheck(const struct k8s_config *cfg, const struct k8s_token *t,
			struct k8s_err *err)
{
	const char *token = t->text;
	size_t i, len = t->len;

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
	if (!cfg->policy.allow_legacy_sa && is_legacy_sa_token(t->payload))
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

long k8s_policy_denied_username(const struct k8s_config *cfg, const char *username)
{
	const struct k8s_strv *deny = &cfg->policy.deny_usernames;
	size_t i;

	/* No FNM_PATHNAME/FNM_PERIOD: '*' spans ':' and '.', as the defaults
	 * ("system:node:*") need. */
	for (i = 0; i < deny->n; i++)
		if (fnmatch(deny->v[i], username, 0) != FNM_NOMATCH)
			return (long)i;
	return -1;
}

int k8s_policy_check_identity_at(const struct k8s_config *cfg, const struct k8s_identity *id,
				 time_t now, struct k8s_err *err)
{
	long d;

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
	d = k8s_policy_denied_username(cfg, id->username);
	if (d >= 0)
		return k8s_err_set(err, K8S_REFUSED, "username denied by policy",
				   "username matches policy.denyUsernames[%ld] \"%.64s\"", d,
				   cfg->policy.deny_usernames.v[d]);
	return K8S_OK;
}
