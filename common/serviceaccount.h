/* serviceaccount.h: `serviceAccounts:`, the apiserver's service-account
 * token authenticator run offline (k8s.io/kubernetes pkg/serviceaccount:
 * jwt.go's token authenticator with claims.go's validator), without what
 * it asks the apiserver: whether the service account, and the pod, secret
 * or node the token is bound to, still exist with the uid the token names
 * (docs/security.md: no revocation).  Keys come from the issuer's discovery
 * and JWKS through the jwt: authenticators' fetch and cache (oidc.h).
 *
 * Bound tokens only (TokenRequest, projected volumes): issuer exactly
 * serviceAccounts.issuer, a kubernetes.io claim.  Legacy secret-based
 * tokens (iss kubernetes/serviceaccount) are never validated offline
 * (docs/design.md). */
#ifndef K8S_SERVICEACCOUNT_H
#define K8S_SERVICEACCOUNT_H

#include <time.h>

#include "config.h"
#include "err.h"
#include "identity.h"
#include "jwt.h"

/* The extra keys the apiserver's ServiceAccountInfo.UserInfo gives. */
#define K8S_EXTRA_POD_NAME  "authentication.kubernetes.io/pod-name"
#define K8S_EXTRA_POD_UID   "authentication.kubernetes.io/pod-uid"
#define K8S_EXTRA_NODE_NAME "authentication.kubernetes.io/node-name"
#define K8S_EXTRA_NODE_UID  "authentication.kubernetes.io/node-uid"
/* The issuer of legacy secret-based tokens. */
#define K8S_SA_LEGACY_ISSUER "kubernetes/serviceaccount"

/* Does the token's (unverified) iss name serviceAccounts.issuer? */
int k8s_sa_claims_token(const struct k8s_config *cfg, const struct k8s_jwt *jwt);

/* Keys, signature (k8s_oidc_verify_at), then k8s_sa_check_claims.
 * K8S_OK fills *id: method "serviceaccount", issuer, subject (the token's
 * sub, not used for the user), username system:serviceaccount:NS:NAME, uid
 * the service account's, groups system:serviceaccounts and
 * system:serviceaccounts:NS (validate.c appends system:authenticated, as
 * the apiserver's group adder), extra pod-name/pod-uid, node-name/node-uid
 * and credential-id as the apiserver's UserInfo, the kubernetes.io fields
 * and exp/iat/nbf.  K8S_REFUSED; K8S_UNAVAILABLE (no keys). */
int k8s_sa_authenticate(const struct k8s_config *cfg, const struct k8s_jwt *jwt,
			struct k8s_identity *id, struct k8s_err *err);
int k8s_sa_authenticate_at(const struct k8s_config *cfg, const struct k8s_jwt *jwt, time_t now,
			   struct k8s_identity *id, struct k8s_err *err);

/* The claim checks alone, signature NOT checked (unit tests, fuzzing, and
 * the last step of k8s_sa_authenticate): iss, exp (required; expired at
 * exp, as on every path here), nbf and iat at most K8S_CLOCK_LEEWAY_S
 * ahead, aud holding one of serviceAccounts.audiences, the kubernetes.io
 * claim (namespace, serviceaccount name and uid; pod, secret and node
 * references each with a name and a uid).  *id overwritten: filled on
 * K8S_OK, zeroed otherwise. */
int k8s_sa_check_claims(const struct k8s_config *cfg, const struct k8s_jwt *jwt, time_t now,
			struct k8s_identity *id, struct k8s_err *err);

#endif
