/* validate.h: the engine.  One call does everything `auth` needs to know
 * about a token: prechecks, JWT-or-TokenReview dispatch, review cache,
 * policy.  Mapping and login authorization are in authz.h. */
#ifndef K8S_VALIDATE_H
#define K8S_VALIDATE_H

#include "config.h"
#include "err.h"
#include "identity.h"
#include "jwt.h"

#define K8S_VALIDATE_NO_CACHE 0x1 /* sudo re-validation: never the review cache */

int k8s_validate_token(const struct k8s_config *cfg, const char *token, unsigned flags,
		       struct k8s_identity *id, struct k8s_err *err);
/* The same for a token the caller has already read (k8s_token_decode,
 * with len = strnlen(token, K8S_TOKEN_MAX + 1)): the one decoding is handed
 * on to the pre-check, the jwt authenticators, TokenReview's claim pickup
 * and the refusal's explanation.  k8s_validate_token is decode, this,
 * free. */
int k8s_validate_decoded(const struct k8s_config *cfg, const struct k8s_token *t, unsigned flags,
			 struct k8s_identity *id, struct k8s_err *err);

#endif
