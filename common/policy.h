/* policy.h: the hardening guide, enforced at the host. */
#ifndef K8S_POLICY_H
#define K8S_POLICY_H

#include <stddef.h>
#include "config.h"
#include "err.h"
#include "identity.h"

/* Before any network call: size, charset (printable ASCII, no whitespace or
 * control bytes), bootstrap-token shape, legacy secret-based SA token
 * shape (unverified payload: refusing on it is safe).  K8S_OK / K8S_REFUSED. */
int k8s_policy_precheck(const struct k8s_config *cfg, const char *token, size_t len, struct k8s_err *err);

/* After authentication: legacy SA, maxTokenLifetime, denyUsernames,
 * empty username.  K8S_OK / K8S_REFUSED. */
int k8s_policy_check_identity(const struct k8s_config *cfg, const struct k8s_identity *id, struct k8s_err *err);

#endif
