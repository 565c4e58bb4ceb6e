/* oidc.h: the `jwt:` authenticators: offline validation of JWTs with the
 * apiserver's structured-authentication semantics (CEL excepted).
 * Discovery and JWKS come over verified TLS and are cached on disk under
 * cacheDir/jwks/ (root-only), refreshed when no cached key verifies a
 * token (rate-limited),
 * and served stale up to jwks_max_stale_ms when the issuer is unreachable. */
#ifndef K8S_OIDC_H
#define K8S_OIDC_H

#include <time.h>

#include "config.h"
#include "err.h"
#include "identity.h"
#include "jwt.h"

/* Cached keys younger than this are used without asking the issuer (go-oidc's
 * remote key set has no TTL at all; an hour bounds how long a key the issuer
 * has withdrawn keeps working here). */
#define K8S_JWKS_FRESH_S        3600
/* A token no cached key verifies (unknown kid, a key rotated in place,
 * kid-less keys) triggers one refetch, but not within this long of the
 * previous fetch attempt: a flood of forged tokens must not turn into a
 * flood of requests to the issuer. */
#define K8S_JWKS_REFRESH_MIN_S  10

/* The authenticator whose issuer URL equals the token's (unverified) `iss`
 * exactly, or NULL. */
const struct k8s_jwt_authenticator *k8s_oidc_find(const struct k8s_config *cfg, const struct k8s_jwt *jwt);

/* Get the issuer's keys (cache, discovery, JWKS), verify the signature,
 * then k8s_oidc_check_claims.  K8S_OK fills *id (method "jwt", issuer
 * set); K8S_REFUSED; K8S_UNAVAILABLE when keys could not be had (detail
 * names the issuer and why); K8S_ECONFIG for an authenticator the config
 * loader should not have let through.  At most one discovery and one JWKS
 * request per call, and one request to a distributed-claims endpoint when
 * the token's groups claim is there (docs/design.md). */
int k8s_oidc_authenticate(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
			  const struct k8s_jwt *jwt, struct k8s_identity *id, struct k8s_err *err);
/* The same at a given time (tests: cache ageing without sleeping). */
int k8s_oidc_authenticate_at(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
			     const struct k8s_jwt *jwt, time_t now, struct k8s_identity *id,
			     struct k8s_err *err);

/* The signature alone, with the issuer's keys got exactly as
 * k8s_oidc_authenticate gets them (the same cache, fetch, refetch and
 * stale rules): for the service-account authenticator (serviceaccount.h),
 * whose claims are its own.  K8S_OK; K8S_REFUSED; K8S_UNAVAILABLE (no
 * keys).  warning gets the stale-keys sentence, or "". */
int k8s_oidc_verify_at(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
		       const struct k8s_jwt *jwt, time_t now, char *warning, size_t warning_size,
		       struct k8s_err *err);

/* A token's times, NumericDates (k8s_numeric_date): exp required and in
 * the future (no leeway: now >= exp is expired), nbf at most
 * K8S_CLOCK_LEEWAY_S ahead, iat only typed, a null nbf none (go-oidc).
 * K8S_TIMES_SERVICEACCOUNT: go-jose's Claims.Validate as the apiserver's
 * service-account validator calls it: any null claim is none, and iat too
 * at most the leeway ahead.  K8S_OK or K8S_REFUSED with err. */
#define K8S_TIMES_SERVICEACCOUNT 1u
int k8s_jwt_check_times(json_t *payload, time_t now, unsigned how, struct k8s_err *err);

/* The claim checks alone, signature NOT checked (unit tests, fuzzing,
 * bench, and the last step of k8s_oidc_authenticate).  *id is overwritten:
 * filled on K8S_OK, zeroed otherwise. */
int k8s_oidc_check_claims(const struct k8s_jwt_authenticator *a, const struct k8s_jwt *jwt,
			  time_t now, struct k8s_identity *id, struct k8s_err *err);

/* `k8s-auth status`: the issuer's discovery document and JWKS fetched now,
 * with the configured certificateAuthority and jwtOptions.timeout, exactly
 * as a login would fetch them (the same checks: discovery names this
 * issuer, an https jwks_uri, no private keys, at least one usable key),
 * but neither read from nor written to the cache.  K8S_OK fills *out;
 * K8S_UNAVAILABLE says why in err (out->untrusted: TLS verification
 * failed). */
struct k8s_oidc_probe {
	char discovery_url[512];
	char jwks_uri[512];
	size_t n_keys;        /* usable signing keys */
	size_t skipped;       /* JWKS entries not usable here */
	char skip_note[256];
	int untrusted;
	time_t date;          /* the issuer's last Date header (0: none) */
};
int k8s_oidc_probe(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
		   struct k8s_oidc_probe *out, struct k8s_err *err);

/* The issuer URL a key-cache file (an entry of cacheDir/jwks, see
 * cachedir.h) names, malloc'd; NULL when it is not a private file of ours
 * or names none. */
char *k8s_oidc_cache_file_issuer(int dfd, const char *name);

#endif
