/* validate.c: the engine's one entry point.  Order matters for floods:
 * everything that can be refused locally is refused before any network
 * call, and nothing but a fully successful review is ever cached. */
#include "validate.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "explain.h"
#include "jwt.h"
#include "kubeconfig.h"
#include "oidc.h"
#include "policy.h"
#include "reviewcache.h"
#include "serviceaccount.h"
#include "tokenreview.h"
#include "util.h"

/* *fresh is set when the apiserver answered now (not the cache), so only
 * fresh answers are cached: re-putting a hit would keep a revoked token's
 * entry alive forever.  The kubeconfig is loaded first, whatever the cache
 * holds: the cache is keyed on the connection it describes, and a broken
 * or changed kubeconfig must show now, not when an entry expires.  *kc is
 * the caller's to free (k8s_validate_token puts the answer under it). */
static int review_online(const struct k8s_config *cfg, const struct k8s_token *t, unsigned flags,
			 struct k8s_kubeconfig **kc, struct k8s_identity *id, int *fresh,
			 struct k8s_err *err)
{
	char *warning = NULL;
	int rc;

	*fresh = 0;
	rc = k8s_kubeconfig_load(cfg->tokenreview.kubeconfig, kc, err);
	if (rc == K8S_OK)
		rc = k8s_tokenreview_kubeconfig_allowed(cfg, *kc, err);
	if (rc != K8S_OK)
		return rc;
	/* The loader compared the audiences with this server if it could read
	 * the kubeconfig then; this covers the case it could not, and a
	 * kubeconfig changed since. */
	rc = k8s_config_check_server_audiences(cfg, (*kc)->server, &warning, err);
	if (rc != K8S_OK)
		return rc;
	if (!(flags & K8S_VALIDATE_NO_CACHE) && cfg->tokenreview.cache_ttl_ms > 0 &&
	    k8s_reviewcache_get(cfg, *kc, t->text, id) == 1) {
		rc = K8S_OK;
	} else {
		rc = k8s_tokenreview(cfg, *kc, t, id, err);
		*fresh = 1;
	}
	if (warning != NULL)
		k8s_identity_warn(id, "%s", warning);
	free(warning);
	return rc;
}

/* A JWT whose `iss` names a configured jwt: authenticator, or the
 * serviceAccounts issuer, is verified locally; every other token goes to
 * TokenReview when it is configured. */
static int validate_dispatch(const struct k8s_config *cfg, const struct k8s_token *t,
			     unsigned flags, struct k8s_kubeconfig **kc, struct k8s_identity *id,
			     int *fresh_review, struct k8s_err *err)
{
	const struct k8s_jwt_authenticator *a = NULL;
	int rc, sa = 0;

	*fresh_review = 0;
	if ((cfg->n_jwt > 0 || cfg->has_sa) && t->parsed) {
		a = k8s_oidc_find(cfg, &t->jwt);
	} else if ((cfg->n_jwt > 0 || cfg->has_sa) && t->jws && !cfg->has_tokenreview) {
		rc = k8s_err_set(err, t->perr.status, t->perr.reason, "%s", t->perr.detail);
		goto out;
	}
	if (t->parsed && a == NULL && k8s_sa_claims_token(cfg, &t->jwt)) {
		rc = k8s_sa_authenticate(cfg, &t->jwt, id, err);
		sa = 1;
		goto out;
	}
	/* Secret-based tokens (they never expire; their revocation is the
	 * secret's deletion, which only the apiserver sees) are never
	 * validated offline: TokenReview, or a clear refusal. */
	if (t->parsed && cfg->has_sa && !cfg->has_tokenreview &&
	    json_is_string(json_object_get(t->jwt.payload, "iss")) &&
	    strcmp(json_string_value(json_object_get(t->jwt.payload, "iss")), K8S_SA_LEGACY_ISSUER) == 0) {
		rc = k8s_err_set(err, K8S_REFUSED, "legacy service-account token",
				 "a secret-based service-account token (iss %s) is not validated "
				 "offline (serviceAccounts takes bound tokens only: it could not see the "
				 "secret deleted); use a bound token, or configure tokenReview",
				 K8S_SA_LEGACY_ISSUER);
		sa = 1;
		goto out;
	}
	if (a != NULL) {
		rc = k8s_oidc_authenticate(cfg, a, &t->jwt, id, err);
		goto out;
	}
	if (!cfg->has_tokenreview) {
		if (cfg->n_jwt == 0 && !cfg->has_sa)
			rc = k8s_err_set(err, K8S_ECONFIG, "no validation method configured",
					 "%s: neither tokenReview nor jwt is configured", cfg->path);
		else if (t->parsed)
			rc = k8s_err_set(err, K8S_REFUSED, "unknown issuer",
					 "tokenReview is not configured");
		else
			rc = k8s_err_set(err, K8S_REFUSED, "malformed token",
					 "not a JWT, and tokenReview is not configured");
		goto out;
	}
	rc = review_online(cfg, t, flags, kc, id, fresh_review, err);
out:
	/* the apiserver wraps its authenticators in the authenticated-group
	 * adder: here the offline ones (a TokenReview answer has been
	 * through it already) */
	if (rc == K8S_OK && (a != NULL || sa) && k8s_identity_add_authenticated(id) != 0)
		rc = k8s_err_oom(err, "adding system:authenticated");
	/* refused: say which issuer the token named, and one it nearly matched */
	if (rc == K8S_REFUSED && a == NULL && !sa)
		k8s_explain_unclaimed_jwt(cfg, t, err);
	return rc;
}

int k8s_validate_token(const struct k8s_config *cfg, const char *token, unsigned flags,
		       struct k8s_identity *id, struct k8s_err *err)
{
	struct k8s_token t;
	int rc;

	k8s_token_decode(&t, token, token != NULL ? strnlen(token, K8S_TOKEN_MAX + 1) : 0);
	rc = k8s_validate_decoded(cfg, &t, flags, id, err);
	k8s_token_free(&t);
	return rc;
}

int k8s_validate_decoded(const struct k8s_config *cfg, const struct k8s_token *t, unsigned flags,
			 struct k8s_identity *id, struct k8s_err *err)
{
	struct k8s_kubeconfig *kc = NULL;
	const char *token = t->text;
	char *warning;
	size_t len = t->len;
	int rc, fresh_review = 0;

	memset(id, 0, sizeof(*id));
	if (token == NULL)
		return k8s_err_set(err, K8S_REFUSED, "no token", "no token was given");
	rc = k8s_policy_precheck(cfg, t, err);
	if (rc != K8S_OK)
		goto out;
	rc = validate_dispatch(cfg, t, flags, &kc, id, &fresh_review, err);
	if (rc != K8S_OK)
		goto out;
	k8s_token_fingerprint(token, len, id->fingerprint);
	if (id->exp != 0 && id->exp <= time(NULL)) {
		rc = k8s_err_expired(err, id->exp, time(NULL));
		goto out;
	}
	rc = k8s_policy_check_identity(cfg, id, err);
	if (rc != K8S_OK)
		goto out;
	if (fresh_review && !(flags & K8S_VALIDATE_NO_CACHE) && cfg->tokenreview.cache_ttl_ms > 0)
		k8s_reviewcache_put(cfg, kc, token, id);
out:
	k8s_kubeconfig_free(kc);
	/* Every use of a configuration that accepts cluster audiences says so. */
	if (cfg->warning != NULL)
		k8s_identity_warn(id, "%s", cfg->warning);
	if (rc != K8S_OK) {
		/* Keep what a refusal can still tell ("a valid token refused by
		 * policy still shows its username", and the warnings); drop
		 * nothing else. */
		if (id->username == NULL) {
			warning = id->warning;
			id->warning = NULL;
			k8s_identity_free(id);
			id->warning = warning;
		}
	}
	return rc;
}
