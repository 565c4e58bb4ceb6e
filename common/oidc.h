/* oidc.h: the `jwt:` authenticators: offline validation of JWTs with the
 * apiserver's structured-authentication semantics (CEL excepted).
 * Discovery and JWKS come over verified TLS and are cached on disk under
 * cacheDir/jwks/ (root-only), refreshed on an unknown kid (rate-limited),
 * and served stale up to jwks_max_stale_ms when the issuer is unreachable. */
#ifndef K8S_OIDC_H
#define K8S_OIDC_H

#include "config.h"
#include "err.h"
#include "identity.h"
#include "jwt.h"

/* The authenticator whose issuer URL equals the token's (unverified) `iss`
 * exactly, or NULL. */
const struct k8s_jwt_authenticator *k8s_oidc_find(const struct k8s_config *cfg, const struct k8s_jwt *jwt);

/* Verify signature, exp/nbf, audiences, claim rules and mappings.
 * K8S_OK fills *id (method "jwt", issuer set); K8S_REFUSED; K8S_UNAVAILABLE
 * when keys could not be had. */
int k8s_oidc_authenticate(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
			  const struct k8s_jwt *jwt, struct k8s_identity *id, struct k8s_err *err);

/* The claim checks alone, with a given key set (unit tests, fuzzing, bench). */
int k8s_oidc_check_claims(const struct k8s_jwt_authenticator *a, const struct k8s_jwt *jwt,
			  time_t now, struct k8s_identity *id, struct k8s_err *err);

#endif
