/* tokenreview.h: online validation, authentication.k8s.io/v1 TokenReview. */
#ifndef K8S_TOKENREVIEW_H
#define K8S_TOKENREVIEW_H

#include <stddef.h>
#include "config.h"
#include "err.h"
#include "identity.h"
#include "jwt.h"
#include "kubeconfig.h"

/* POST a TokenReview for the token t (k8s_token_decode) with the configured audiences.
 *   K8S_OK          authenticated, audiences intersect: *id filled (method "tokenreview")
 *   K8S_REFUSED     status.authenticated false (err->detail has status.error),
 *                   or audiences do not intersect / empty status.audiences
 *   K8S_UNAVAILABLE 401/403 for the reviewer, 5xx, other status (redirects
 *                   included: never followed), timeout, TLS, malformed answer
 *   K8S_ECONFIG     kubeconfig unusable (no server, insecure-skip-tls-verify
 *                   without tokenReview.allowInsecureSkipTLSVerify)
 * On success id also has the fingerprint and, for a JWT, exp/iat/nbf and
 * the service-account binding from its (apiserver-authenticated) payload.
 * No cache here (see reviewcache.h). */
int k8s_tokenreview(const struct k8s_config *cfg, const struct k8s_kubeconfig *kc,
		    const struct k8s_token *t, struct k8s_identity *id, struct k8s_err *err);

/* What the configuration says about this kubeconfig, before any request
 * or cache lookup: K8S_ECONFIG for insecure-skip-tls-verify without
 * tokenReview.allowInsecureSkipTLSVerify, or no server; else K8S_OK.
 * k8s_tokenreview checks it too. */
int k8s_tokenreview_kubeconfig_allowed(const struct k8s_config *cfg, const struct k8s_kubeconfig *kc,
				       struct k8s_err *err);

/* Body of the request (exposed for tests/fuzzing): malloc'd compact JSON,
 * free with k8s_freezero_str.  NULL when out of memory or when token is
 * not an RFC 6750 b64token of at most K8S_TOKEN_MAX bytes.  No
 * "audiences" member when audiences is NULL or empty. */
char *k8s_tokenreview_request_body(const char *token, const struct k8s_strv *audiences);
/* Parse a 200/201 answer body (exposed for tests and fuzzing).  token
 * (may be NULL) is scrubbed from anything quoted in err->detail.  Fills
 * method, username, uid, groups, extra; not fingerprint or JWT claims
 * (k8s_tokenreview adds those).  On failure *id is left empty. */
int k8s_tokenreview_parse_response(const char *body, size_t len, const char *token,
				   const struct k8s_strv *audiences,
				   struct k8s_identity *id, struct k8s_err *err);

#endif
