/* validate.h: the engine.  One call does everything `auth` needs to know
 * about a token: prechecks, JWT-or-TokenReview dispatch, review cache,
 * policy.  Mapping and login authorization are in authz.h. */
#ifndef K8S_VALIDATE_H
#define K8S_VALIDATE_H

#include "config.h"
#include "err.h"
#include "identity.h"

#define K8S_VALIDATE_NO_CACHE 0x1 /* sudo re-validation: never the review cache */

int k8s_validate_token(const struct k8s_config *cfg, const char *token, unsigned flags,
		       struct k8s_identity *id, struct k8s_err *err);

#endif
