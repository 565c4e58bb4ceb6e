/* claims.h: a verified JWT's claims -> the user, as the apiserver's JWT
 * authenticator makes it (claimMappings, claimValidationRules,
 * userValidationRules; claims and CEL expressions). */
#ifndef K8S_CLAIMS_H
#define K8S_CLAIMS_H

#include <jansson.h>

#include "config.h"
#include "err.h"
#include "identity.h"

/* In the apiserver's order: username, groups, uid, extra, then the
 * claim/requiredValue rules, the claimValidationRules expressions and the
 * userValidationRules (on the user so far).  Fills id->username, groups,
 * uid and extra (id->extra must be an object).  K8S_OK, or K8S_REFUSED
 * with a reason and a detail naming the authenticator and the rule (an
 * expression's own message when it has one); K8S_ECONFIG when the
 * authenticator is incomplete (config.c refuses that at load). */
int k8s_claims_map(const struct k8s_jwt_authenticator *a, json_t *payload,
		   struct k8s_identity *id, struct k8s_err *err);

#endif
