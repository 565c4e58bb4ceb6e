/* syncwatch.h: `k8s-auth sync --watch` (docs/sync.md).
 *
 * The objects sync reads (ClusterRoles and Roles when sync.rules is set,
 * ClusterRoleBindings, RoleBindings and ServiceAccounts in
 * sync.namespaces) are kept in memory, one collection per list URL: listed
 * once with resourceVersion=0 (the apiserver's watch cache), then watched
 * from the list's resourceVersion with bookmarks, one thread per
 * collection.  The view is rebuilt from the kept objects exactly as a
 * one-shot sync builds it from its lists (k8s_sync_take_*), so the two
 * plan the same store.  A watch that ends is reopened from the last
 * resourceVersion seen (each asks the server to end it after 2 to 3 hours);
 * 410 Gone (an HTTP answer or an ERROR event) and any
 * malformed event relist the collection; other failures back off (1 s
 * doubling to 60 s, with jitter), 429 waits Retry-After. */
#ifndef K8S_SYNCWATCH_H
#define K8S_SYNCWATCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include <jansson.h>

#include "config.h"
#include "err.h"
#include "sync.h"

#define K8S_WATCH_MAX_LINE (4u << 20) /* one watch event, bytes */
/* timeoutSeconds asked for each watch: uniform in [MIN, MAX] */
#define K8S_WATCH_TIMEOUT_MIN_S 7200L
#define K8S_WATCH_TIMEOUT_MAX_S 10800L
/* a stream whose server sent heartbeat bookmarks is dropped after three
 * of their intervals of silence, and never sooner than this */
#ifndef K8S_WATCH_STALL_MIN_MS
#define K8S_WATCH_STALL_MIN_MS 20000LL
#endif

enum k8s_wkind { K8S_W_CROLE, K8S_W_ROLE, K8S_W_CRB, K8S_W_RB, K8S_W_SA };

/* One collection's objects: key "NS/NAME" or "NAME" -> the object
 * (metadata.managedFields dropped). */
struct k8s_wcoll {
	enum k8s_wkind kind;
	char path[768];       /* the list URL path (and labelSelector) */
	const char *list_kind; /* "RoleBindingList", ... */
	json_t *objs;
	char rv[64];          /* last resourceVersion seen ("" = list first) */
	int relist;           /* the watch thread must list again */
};

/* One watch event line applied to a collection (exposed for the fuzz
 * target and tests).  0 applied (or a bookmark), 1 "410 Gone: relist",
 * -1 malformed or an ERROR event (the caller drops the stream and
 * relists: nothing half-read is applied). */
int k8s_watch_apply_line(struct k8s_wcoll *c, const char *line, size_t len);

/* Put a listed item into c (keyed, managedFields dropped).  K8S_OK or
 * K8S_UNAVAILABLE (malformed: no metadata.name). */
int k8s_wcoll_put(struct k8s_wcoll *c, json_t *item, struct k8s_err *err);

/* The view a one-shot fetch would build from the same objects. */
int k8s_watch_view(struct k8s_wcoll *colls, size_t n, const struct k8s_config *cfg,
		   struct k8s_sync_view *v, struct k8s_err *err);

struct k8s_watch {
	const struct k8s_config *cfg;
	struct k8s_wcoll *colls;
	size_t n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int dirty;               /* a change since the last take */
	/* set by a signal handler and k8s_watch_free, read by every thread:
	 * a lock-free atomic (async-signal-safe) */
	atomic_int stop;
	/* figures (under mu) */
	unsigned long requests, events, bookmarks, relists, retries, bytes;
	pthread_t *threads;
	size_t n_threads;
};

/* Collections from the config, listed (resourceVersion=0).  K8S_OK,
 * K8S_UNAVAILABLE, K8S_ECONFIG. */
int k8s_watch_init(struct k8s_watch *w, const struct k8s_config *cfg, struct k8s_err *err);
/* Start one watching thread per collection. */
int k8s_watch_start(struct k8s_watch *w, struct k8s_err *err);
/* Wait until something changed (then wait batch_ms more for the rest of
 * the batch) or *w->stop; then build the view under the lock.  1 a view,
 * 0 stopped, K8S_UNAVAILABLE-as-negative never: errors come back as
 * -1 with err set. */
int k8s_watch_next(struct k8s_watch *w, long batch_ms, struct k8s_sync_view *v, struct k8s_err *err);
/* Relist every collection on its thread (after a batch failed). */
void k8s_watch_relist_all(struct k8s_watch *w);
void k8s_watch_free(struct k8s_watch *w);
/* A delay in [ms/2, 3ms/2] (getrandom). */
long k8s_watch_jitter_ms(long ms);

#endif
