/* sar.h: SubjectAccessReview (authorization.k8s.io/v1): "may this
 * identity log into this host / use sudo on it?", asked of the cluster
 * after the token validated.  Opt-in: login.subjectAccessReview and
 * login.sudoSubjectAccessReview (docs/sync.md). */
#ifndef K8S_SAR_H
#define K8S_SAR_H

#include <jansson.h>

#include "config.h"
#include "err.h"
#include "identity.h"

enum k8s_sar_kind {
	K8S_SAR_LOGIN = 0,  /* login.subjectAccessReview: k8s_authorize_login asks it */
	K8S_SAR_SUDO = 1,   /* login.sudoSubjectAccessReview: sudo re-validation asks it */
};

/* Ask the apiserver (tokenReview.kubeconfig, tokenReview.timeout) whether
 * id (username, uid, groups, extra, as the review gave them) has the
 * configured permission; local is the local user %u stands for.
 *   K8S_OK           not configured, or status.allowed is true
 *   K8S_REFUSED      not allowed ("not allowed by the cluster"), with the
 *                    apiserver's reason (sanitized) in err->detail
 *   K8S_UNAVAILABLE  no usable answer: a refusal too, fail closed
 *   K8S_ECONFIG      kubeconfig unusable
 * Never cached: revoking a RoleBinding takes effect at the next attempt. */
int k8s_sar_check(const struct k8s_config *cfg, const struct k8s_identity *id, const char *local,
		  enum k8s_sar_kind which, struct k8s_err *err);

/* Exposed for tests. */
/* name template: %h host, %u local, %% '%'; malloc'd (NULL: out of memory). */
char *k8s_sar_expand_name(const char *tmpl, const char *host, const char *local);
/* The request object, or NULL when out of memory or id is unusable. */
json_t *k8s_sar_request(const struct k8s_resource_attrs *a, const struct k8s_identity *id,
			const char *local, const char *host);
/* A 200/201 answer: K8S_OK (allowed), K8S_REFUSED, or K8S_UNAVAILABLE when
 * it is not a SubjectAccessReview with a boolean status.allowed. */
int k8s_sar_parse_response(json_t *root, struct k8s_err *err);

#endif
