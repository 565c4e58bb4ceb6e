/* policy.h: the hardening guide, enforced at the host. */
#ifndef K8S_POLICY_H
#define K8S_POLICY_H

#include <stddef.h>
#include "config.h"
#include "err.h"
#include "identity.h"
#include "jwt.h"

/* Before any network call: size (1..K8S_TOKEN_MAX), charset (every byte
 * 0x21..0x7e: no whitespace, control or 8-bit bytes), bootstrap-token shape
 * (unless policy.allowBootstrapTokens), legacy secret-based SA token (JWT
 * payload with iss "kubernetes/serviceaccount" or the claim
 * "kubernetes.io/serviceaccount/secret.name"; unverified, but refusing on
 * it is safe) unless policy.allowLegacyServiceAccountTokens.
 * K8S_OK / K8S_REFUSED with reason "malformed token", "bootstrap tokens are
 * not allowed" or "legacy service-account tokens are not allowed". */
int k8s_policy_precheck(const struct k8s_config *cfg, const struct k8s_token *t,
			struct k8s_err *err);

/* After authentication, in this order: empty username ("empty username"),
 * id->legacy_sa (as above), maxTokenLifetime when > 0: exp or iat unknown
 * (0), or exp < iat, refuses with "token lifetime unknown" -- an opaque or
 * non-expiring token has no lifetime we could check, so set
 * maxTokenLifetime: 0 to admit those -- and exp - now above the limit plus
 * K8S_CLOCK_LEEWAY_S, or exp - iat above the limit, with "token lifetime
 * exceeds policy"; iat more than K8S_CLOCK_LEEWAY_S ahead of now, whatever
 * maxTokenLifetime says: "token issued in the future"; then denyUsernames
 * as fnmatch(3) globs with no flags ('*' spans ':' and '.'): "username
 * denied by policy".  now is time(NULL).  K8S_OK / K8S_REFUSED. */
int k8s_policy_check_identity(const struct k8s_config *cfg, const struct k8s_identity *id, struct k8s_err *err);
/* The one policy.denyUsernames test (login above, the handled-user check,
 * sync's plan): the index of the first glob username matches, fnmatch(3)
 * with no flags ('*' spans ':' and '.'), or -1.  Anything but a clean
 * no-match counts as a match: fail closed. */
long k8s_policy_denied_username(const struct k8s_config *cfg, const char *username);
/* The same at a given time (tests). */
int k8s_policy_check_identity_at(const struct k8s_config *cfg, const struct k8s_identity *id,
				 time_t now, struct k8s_err *err);

#endif
