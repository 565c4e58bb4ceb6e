/* cachedir.h: the cache directories under cacheDir as `k8s-auth status`
 * and `k8s-auth cache clear` see them: reviews/ (reviewcache.h) and jwks/
 * (oidc.h).  Their writers name every entry "<64 lowercase hex>.json" and
 * write it through k8s_write_file_at, whose temp files are
 * ".<entry>.<pid>.<seq>.tmp"; nothing else in these directories is ours,
 * and nothing else is counted or touched. */
#ifndef K8S_CACHEDIR_H
#define K8S_CACHEDIR_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "err.h"

#define K8S_CACHEDIR_REVIEWS "reviews"  /* reviewcache.c */
#define K8S_CACHEDIR_JWKS    "jwks"     /* oidc.c */

/* Open cacheDir (sub NULL) or cacheDir/sub for reading, never creating
 * it and never following a symlink.  K8S_OK with *dfd >= 0; K8S_OK with
 * *dfd = -1 when it does not exist (nothing cached yet); K8S_REFUSED when
 * it is not a directory owned by the effective user without group/other
 * write (the writers then do not use it either), or cannot be opened
 * (detail names the directory and why; "only root may read it" for a
 * non-root user).  *mode and *uid (may be NULL) get what was found. */
int k8s_cachedir_open(const struct k8s_config *cfg, const char *sub, int *dfd, mode_t *mode,
		      uid_t *uid, struct k8s_err *err);

/* "<64 lowercase hex>.json", and the temp files of such a name. */
int k8s_cachedir_is_entry(const char *name);
int k8s_cachedir_is_temp(const char *name);

struct k8s_cachedir_scan {
	size_t entries;  /* entry files found */
	size_t temps;    /* temp files found */
	size_t removed;  /* files unlinked (entries and temps) */
};

/* Count the regular files of dfd that are entries or temp files; with
 * remove, unlink them too, under the directory's flock (the one
 * k8s_reviewcache_put takes).  each (may be NULL) sees every entry before
 * it is removed.  0, or -1 with errno when the directory cannot be read
 * or a file cannot be removed (what was removed stays counted). */
int k8s_cachedir_sweep(int dfd, int remove, void (*each)(int dfd, const char *name, void *ctx),
		       void *ctx, struct k8s_cachedir_scan *out);

#endif
