/* reviewcache.h: successful TokenReviews cached on disk (root-only
 * cacheDir/reviews/), keyed by SHA-256 of everything that decides the
 * answer: the apiserver (k8s_kubeconfig_fingerprint: server URL, CA,
 * tls-server-name, insecure flag, reviewer credential), the audiences
 * after %h expansion, and the token.  So several configurations may share
 * one cacheDir, and a configuration change (another cluster, CA, reviewer
 * or audience) is never answered from an entry made under the old one.
 * For tokenReview.cacheTTL and never past the token's own expiry.  Bounded
 * in entries; refusals and errors are never cached.  A corrupt entry is a
 * miss and is removed. */
#ifndef K8S_REVIEWCACHE_H
#define K8S_REVIEWCACHE_H

#include "config.h"
#include "identity.h"
#include "kubeconfig.h"

#define K8S_REVIEWCACHE_MAX_ENTRIES 1024

/* 1 hit (*id filled, fingerprint included), 0 miss (*id empty).  A hit
 * needs a live entry for the same token, the same apiserver connection kc
 * (as it is now: a reviewer credential that cannot be read is a miss) and
 * the same configured audiences, younger than the current cacheTTL.
 * cacheTTL 0, a missing cache dir or one not private to the caller's euid
 * (owner, no group/other write) is always a miss. */
int k8s_reviewcache_get(const struct k8s_config *cfg, const struct k8s_kubeconfig *kc,
			const char *token, struct k8s_identity *id);
/* Store a successful review until min(now + cacheTTL, id->exp).  Does
 * nothing for cacheTTL < 1s, an identity without a username or whose
 * method is not "tokenreview", an already expired token, or when a live
 * entry exists (a put never extends an entry: re-putting after a hit must
 * not keep it alive without asking the apiserver).  Creates the cache dir
 * and reviews/ 0700 when missing.  Best effort: errors are silent. */
void k8s_reviewcache_put(const struct k8s_config *cfg, const struct k8s_kubeconfig *kc,
			 const char *token, const struct k8s_identity *id);

#endif
