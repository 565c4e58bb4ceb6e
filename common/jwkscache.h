/* jwkscache.h: a jwt: authenticator's keys, as oidc.c uses them: found
 * by OIDC discovery, fetched, kept in cacheDir/jwks (jwkscache.c says how,
 * and when stale keys may serve). */
#ifndef K8S_JWKSCACHE_H
#define K8S_JWKSCACHE_H

#include <time.h>
#include <jansson.h>

#include "config.h"
#include "err.h"
#include "jwks.h"
#include "jwt.h"

/* Issuer requests (discovery, JWKS, distributed claims) without jwtOptions.timeout */
#define K8S_JWT_HTTP_TIMEOUT_MS 5000

struct k8s_keycache {
	int dfd;                 /* cacheDir/jwks, or -1: no cache (fetch every time) */
	char name[80];           /* <sha256 hex>.json */
	char name_v1[80];        /* the version 1 name of this issuer's file */
	char *durl;              /* discovery URL in effect */
	char trust[65];          /* SHA-256 hex of certificateAuthority, or "-" */
	int have;                /* keys is loaded (from disk or the network) */
	int untrusted;           /* the last attempt failed TLS verification */
	time_t fetched_at, attempted_at;
	time_t date;             /* the last answer's Date header (k8s-auth status) */
	json_t *doc;             /* what is, or goes, on disk */
	struct k8s_jwks keys;
	char why[256];           /* why there is no usable cache, for error details */
	char warning[1024];      /* stale keys served: for id->warning */
};

/* Set c up for authenticator a: its file name, the discovery URL, and the
 * cached keys if any (c->why says why none).  K8S_OK, or out of memory. */
int k8s_keycache_open(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
		      struct k8s_keycache *c, struct k8s_err *err);
void k8s_keycache_close(struct k8s_keycache *c);
/* Keys for this call: the fresh cache, else one fetch, else the stale
 * cache within jwtOptions.maxStaleness (c->warning says so); *fetched set
 * when a fetch was tried. */
int k8s_keycache_keys(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
		      struct k8s_keycache *c, time_t now, int *fetched, struct k8s_err *err);
/* No cached key verifies jwt: refetch once (rate-limited, as go-oidc) and
 * verify again.  K8S_OK, K8S_REFUSED (err from the verification) or
 * K8S_UNAVAILABLE. */
int k8s_keycache_refresh(const struct k8s_config *cfg, const struct k8s_jwt_authenticator *a,
			 const struct k8s_jwt *jwt, struct k8s_keycache *c, time_t now,
			 struct k8s_err *err);

#endif
