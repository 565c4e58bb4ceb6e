/* reviewcache.h: successful TokenReviews cached on disk (root-only
 * cacheDir/reviews/), keyed by SHA-256 of the audiences and the token,
 * for tokenReview.cacheTTL and never past the token's own expiry.  Bounded
 * in entries; refusals and errors are never cached.  A corrupt entry is a
 * miss and is removed. */
#ifndef K8S_REVIEWCACHE_H
#define K8S_REVIEWCACHE_H

#include "config.h"
#include "identity.h"

#define K8S_REVIEWCACHE_MAX_ENTRIES 1024

/* 1 hit (*id filled), 0 miss. */
int k8s_reviewcache_get(const struct k8s_config *cfg, const char *token, struct k8s_identity *id);
void k8s_reviewcache_put(const struct k8s_config *cfg, const char *token, const struct k8s_identity *id);

#endif
