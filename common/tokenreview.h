/* tokenreview.h: online validation, authentication.k8s.io/v1 TokenReview. */
#ifndef K8S_TOKENREVIEW_H
#define K8S_TOKENREVIEW_H

#include <stddef.h>
#include "config.h"
#include "err.h"
#include "identity.h"
#include "kubeconfig.h"

/* POST a TokenReview for token with the configured audiences.
 *   K8S_OK          authenticated, audiences intersect: *id filled (method "tokenreview")
 *   K8S_REFUSED     status.authenticated false (err->detail has status.error),
 *                   or audiences do not intersect / empty status.audiences
 *   K8S_UNAVAILABLE 401/403 for the reviewer, 5xx, other status, timeout, TLS,
 *                   malformed answer
 * No cache here (see reviewcache.h). */
int k8s_tokenreview(const struct k8s_config *cfg, const struct k8s_kubeconfig *kc,
		    const char *token, struct k8s_identity *id, struct k8s_err *err);

/* Body of the request (exposed for tests/fuzzing): malloc'd JSON. */
char *k8s_tokenreview_request_body(const char *token, const struct k8s_strv *audiences);
/* Parse a 201 answer body (exposed for fuzzing). */
int k8s_tokenreview_parse_response(const char *body, size_t len, const struct k8s_strv *audiences,
				   struct k8s_identity *id, struct k8s_err *err);

#endif
