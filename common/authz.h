/* authz.h: from a validated identity to "may log in as LOCAL": the checks
 * `auth` runs after validation, shared by pam_k8s and `k8s-auth check` so
 * the CLI answers exactly what the module would.  Reads the store (for the
 * identity binding) but never writes it. */
#ifndef K8S_AUTHZ_H
#define K8S_AUTHZ_H

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "identity.h"
#include "mapping.h"

struct k8s_login {
	char local[K8S_LOCAL_NAME_MAX + 1];  /* mapped local name */
	struct k8s_mapped_group *groups;     /* mapped local groups */
	size_t n_groups;
	size_t n_invalid_groups;             /* cluster groups whose mapping was not a valid name */
	char *binding;                       /* immutable id this identity binds to */
	int existing;                        /* local account from another NSS source (allowExisting) */
	long uid_number;                     /* resolved uid, or -1 when not yet known */
	long *gid_numbers;                   /* per group, -1 when not yet known */
};

/* Map and authorize.  requested: the local user asked for (PAM_USER, or
 * --user), or NULL to only map.  K8S_OK, or K8S_REFUSED with a reason:
 * "no mapping rule matches", "token is for another user", "root login not
 * allowed", "not in an allowed group", "identity binding mismatch", "not
 * allowed by the cluster" (login.subjectAccessReview), ...; or
 * K8S_UNAVAILABLE when the SubjectAccessReview got no answer (a refusal
 * too).  The SubjectAccessReview goes to the network on every call. */
int k8s_authorize_login(const struct k8s_config *cfg, const struct k8s_identity *id,
			const char *requested, struct k8s_login *out, struct k8s_err *err);
void k8s_login_free(struct k8s_login *l);

#endif
