/* syncwatch.c: `k8s-auth sync --watch` (syncwatch.h). */
#include "syncwatch.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "kubeapi.h"
#include "util.h"

/* Helgrind and DRD do not model C11 atomics: they would call every read of
 * the atomic stop flag a race.  Only that word is exempted. */
#if defined(__has_include)
#if __has_include(<valgrind/helgrind.h>)
#include <valgrind/helgrind.h>
#define K8S_HG_ATOMIC(p) VALGRIND_HG_DISABLE_CHECKING((p), sizeof(*(p)))
#endif
#endif
#ifndef K8S_HG_ATOMIC
#define K8S_HG_ATOMIC(p) ((void)(p))
#endif

#define RBAC_V1 "/apis/rbac.authorization.k8s.io/v1"

/* ------------------------------------------------------------ objects */

static int obj_key(json_t *item, char *key, size_t max)
{
	json_t *meta = json_object_get(item, "metadata");
	json_t *name = json_object_get(meta, "name"), *ns = json_object_get(meta, "namespace");
	int n;

	if (!json_is_string(name) || json_string_length(name) == 0 ||
	    (ns != NULL && !json_is_string(ns)))
		return -1;
	n = ns != NULL ? snprintf(key, max, "%s/%s", json_string_value(ns), json_string_value(name))
		       : snprintf(key, max, "%s", json_string_value(name));
	return n > 0 && (size_t)n < max && strlen(key) == (size_t)n ? 0 : -1;
}

int k8s_wcoll_put(struct k8s_wcoll *c, json_t *item, struct k8s_err *err)
{
	char key[2100];

	if (!json_is_object(item) || obj_key(item, key, sizeof(key)) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "malformed apiserver answer",
				   "%s: an item without metadata.name", c->path);
	json_object_del(json_object_get(item, "metadata"), "managedFields");
	if (json_object_set(c->objs, key, item) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s", c->path);
	return K8S_OK;
}

int k8s_watch_apply_line(struct k8s_wcoll *c, const char *line, size_t len)
{
	json_t *ev = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *type = json_object_get(ev, "type"), *obj = json_object_get(ev, "object");
	json_t *rv = json_object_get(json_object_get(obj, "metadata"), "resourceVersion");
	const char *t;
	char key[2100];
	int r = -1;

	if (!json_is_string(type) || !json_is_object(obj))
		goto out;
	t = json_string_value(type);
	if (strcmp(t, "ERROR") == 0) {
		json_t *code = json_object_get(obj, "code");

		r = json_is_integer(code) && json_integer_value(code) == 410 ? 1 : -1;
		goto out;
	}
	/* every other event carries the object's resourceVersion */
	if (!json_is_string(rv) || json_string_length(rv) == 0 || json_string_length(rv) >= sizeof(c->rv))
		goto out;
	if (strcmp(t, "BOOKMARK") == 0) {
		r = 0;
	} else if (strcmp(t, "ADDED") == 0 || strcmp(t, "MODIFIED") == 0) {
		if (obj_key(obj, key, sizeof(key)) != 0)
			goto out;
		json_object_del(json_object_get(obj, "metadata"), "managedFields");
		r = json_object_set(c->objs, key, obj) == 0 ? 0 : -1;
	} else if (strcmp(t, "DELETED") == 0) {
		if (obj_key(obj, key, sizeof(key)) != 0)
			goto out;
		json_object_del(c->objs, key); /* absent: nothing to do */
		r = 0;
	}
	if (r == 0)
		snprintf(c->rv, sizeof(c->rv), "%s", json_string_value(rv));
out:
	json_decref(ev);
	return r;
}


int k8s_watch_view(struct k8s_wcoll *colls, size_t n, const struct k8s_config *cfg,
		   struct k8s_sync_view *v, struct k8s_err *err)
{
	enum k8s_wkind k;
	const char *key;
	json_t *item;
	size_t i;
	int rc = K8S_OK;

	/* roles before bindings, bindings before ServiceAccounts: the order
	 * k8s_sync_fetch reads them in */
	for (k = K8S_W_CROLE; k <= K8S_W_SA && rc == K8S_OK; k++) {
		if (k == K8S_W_SA && !k8s_sync_needs_service_accounts(cfg, v))
			break;
		for (i = 0; i < n && rc == K8S_OK; i++) {
			if (colls[i].kind != k)
				continue;
			json_object_foreach(colls[i].objs, key, item) {
				if (k == K8S_W_CROLE || k == K8S_W_ROLE)
					rc = k8s_sync_take_role(v, cfg, item, k == K8S_W_CROLE, err);
				else if (k == K8S_W_CRB || k == K8S_W_RB)
					rc = k8s_sync_take_binding(v, cfg, item, k == K8S_W_CRB, err);
				else
					rc = k8s_sync_take_sa(v, item, err);
				if (rc != K8S_OK)
					break;
			}
		}
	}
	return rc;
}

/* ------------------------------------------------------------ threads */

struct wthread {
	struct k8s_watch *w;
	struct k8s_wcoll *c;
	struct k8s_kubeapi api;
	int bad;      /* a malformed event: relist */
	int gone;     /* 410: relist */
	/* the open stream (read and written on this thread only) */
	long long last_rx_ms, last_hb_ms, hb_gap_ms, deadline_ms;
	int hb;       /* heartbeat bookmarks seen */
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Apiservers since 1.27 or so send a bookmark about every minute besides
 * the one just before the deadline (1.20 sends only that one).  Once a
 * stream has shown two such heartbeats, silence for three times their
 * spacing (at least K8S_WATCH_STALL_MIN_MS) means the server stalled while
 * its host still answers TCP (keepalive cannot see that): the stream is
 * dropped and reopened.  Without heartbeats, the deadline is the limit. */
static int stream_alive(void *ud)
{
	struct wthread *t = ud;
	long long limit;

	if (t->hb < 2)
		return 1;
	limit = 3 * t->hb_gap_ms;
	if (limit < K8S_WATCH_STALL_MIN_MS)
		limit = K8S_WATCH_STALL_MIN_MS;
	return mono_ms() - t->last_rx_ms <= limit;
}

long k8s_watch_jitter_ms(long ms)
{
	unsigned int r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned int)time(NULL);
	return ms / 2 + (long)(r % (unsigned int)(ms + 1)); /* [ms/2, 3ms/2] */
}

static int list_put_cb(json_t *item, void *ud, struct k8s_err *err)
{
	return k8s_wcoll_put(ud, item, err);
}

/* List c into a fresh table, swapped in under the lock. */
static int relist(struct k8s_watch *w, struct k8s_kubeapi *api, struct k8s_wcoll *c, int rv0,
		  struct k8s_err *err)
{
	struct k8s_wcoll tmp;
	unsigned long before = api->requests;
	int rc;

	/* c->path and c->list_kind never change once the threads run; the
	 * rest of c is read and written under w->mu only */
	memset(&tmp, 0, sizeof(tmp));
	tmp.kind = c->kind;
	tmp.list_kind = c->list_kind;
	memcpy(tmp.path, c->path, sizeof(tmp.path));
	tmp.objs = json_object();
	if (tmp.objs == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s", c->path);
	api->list_rv0 = rv0;
	rc = k8s_kubeapi_list(api, c->path, c->list_kind, list_put_cb, &tmp, err);
	/* no resourceVersion: nothing to watch from (and listing again at
	 * once would hammer the apiserver) */
	if (rc == K8S_OK && api->last_list_rv[0] == '\0')
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "malformed apiserver answer",
				 "%s: a list without metadata.resourceVersion", c->path);
	pthread_mutex_lock(&w->mu);
	w->requests += api->requests - before;
	if (rc == K8S_OK) {
		json_decref(c->objs);
		c->objs = tmp.objs;
		tmp.objs = NULL;
		snprintf(c->rv, sizeof(c->rv), "%s", api->last_list_rv);
		c->relist = 0;
		w->relists++;
		w->dirty = 1;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	json_decref(tmp.objs);
	return rc;
}

static int on_event(const char *line, size_t len, void *ud)
{
	struct wthread *t = ud;
	struct k8s_watch *w = t->w;
	long long now = mono_ms();
	int r;

	t->last_rx_ms = now;
	pthread_mutex_lock(&w->mu);
	w->bytes += len + 1;
	r = k8s_watch_apply_line(t->c, line, len);
	if (r == 0) {
		if (strstr(line, "\"BOOKMARK\"") != NULL && strncmp(line, "{\"type\":\"BOOKMARK\"", 18) == 0) {
			w->bookmarks++;
			/* a heartbeat: not the one just before the deadline */
			if (t->deadline_ms - now > 10000) {
				if (t->hb > 0)
					t->hb_gap_ms = now - t->last_hb_ms;
				t->last_hb_ms = now;
				t->hb++;
			}
		} else {
			w->events++;
			w->dirty = 1;
			pthread_cond_signal(&w->cv);
		}
	}
	pthread_mutex_unlock(&w->mu);
	if (r == 1)
		t->gone = 1;
	else if (r < 0)
		t->bad = 1;
	return r == 0 ? 0 : 1;
}

static void *watch_thread(void *ud)
{
	struct wthread *t = ud;
	struct k8s_watch *w = t->w;
	struct k8s_wcoll *c = t->c;
	long backoff = 1000;
	struct k8s_err err;

	while (!w->stop) {
		char path[1024], rv[64];
		long retry_after = -1, secs;
		struct timespec opened, ended;
		int rc, need;

		k8s_err_clear(&err);
		pthread_mutex_lock(&w->mu);
		need = c->relist || c->rv[0] == '\0';
		snprintf(rv, sizeof(rv), "%s", c->rv);
		pthread_mutex_unlock(&w->mu);
		if (need) {
			/* after 410 the watch cache cannot serve what we missed: a
			 * consistent list (etcd) */
			rc = relist(w, &t->api, c, 0, &err);
			retry_after = -1;
			if (rc != K8S_OK)
				goto failed;
			backoff = 1000;
			continue;
		}
		/* The server ends a watch after timeoutSeconds, as asked
		 * (when not asked: --min-request-timeout, 30 to 60 minutes).
		 * Each renewal is a request, and they were most of what an idle
		 * host costs: 2 to 3 hours, drawn per watch so the hosts stay
		 * spread.  A dead peer is still found within a minute (TCP
		 * keepalive, common/http.c), and the apiserver bookmarks
		 * 2 s before the deadline, so a renewal starts from a current
		 * resourceVersion however long the watch was idle. */
		secs = K8S_WATCH_TIMEOUT_MIN_S +
		       (k8s_watch_jitter_ms(K8S_WATCH_TIMEOUT_MAX_S - K8S_WATCH_TIMEOUT_MIN_S) -
			(K8S_WATCH_TIMEOUT_MAX_S - K8S_WATCH_TIMEOUT_MIN_S) / 2);
		snprintf(path, sizeof(path), "%s%cwatch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%ld",
			 c->path, strchr(c->path, '?') ? '&' : '?', rv, secs);
		t->bad = t->gone = 0;
		pthread_mutex_lock(&w->mu);
		w->requests++;
		pthread_mutex_unlock(&w->mu);
		clock_gettime(CLOCK_MONOTONIC, &opened);
		t->hb = 0;
		t->hb_gap_ms = 0;
		t->last_rx_ms = mono_ms();
		t->deadline_ms = t->last_rx_ms + secs * 1000LL;
		rc = k8s_kubeapi_stream(&t->api, path, on_event, t, K8S_WATCH_MAX_LINE, (secs + 30) * 1000L,
					&retry_after, &err);
		if (w->stop)
			break;
		if (t->gone || t->bad || t->api.last_status == 410) {
			if (t->bad)
				fprintf(stderr, "k8s-auth sync: %s: malformed watch event; listing again\n", c->path);
			pthread_mutex_lock(&w->mu);
			c->relist = 1;
			pthread_mutex_unlock(&w->mu);
			continue;
		}
		if (rc == K8S_OK) { /* the server ended the watch: reopen */
			backoff = 1000;
			continue;
		}
		/* a watch that ran a while was healthy: its loss starts the
		 * backoff over (else every blip over hours added up to 60 s) */
		clock_gettime(CLOCK_MONOTONIC, &ended);
		if (ended.tv_sec - opened.tv_sec >= 30)
			backoff = 1000;
failed:
		fprintf(stderr, "k8s-auth sync: %s: %s%s%s\n", c->path, err.reason, err.detail[0] ? ": " : "",
			err.detail);
		pthread_mutex_lock(&w->mu);
		w->retries++;
		pthread_mutex_unlock(&w->mu);
		if (t->api.last_status == 429 || retry_after >= 0) {
			/* never before Retry-After (capped as the lists cap it),
			 * then 0.5 to 1.5 s more: hosts turned away together
			 * come back spread */
			long ra = retry_after > 0 ? retry_after : 1;

			if (ra > t->api.retry_max_s)
				ra = t->api.retry_max_s;
			k8s_kubeapi_sleep_ms(ra * 1000L + k8s_watch_jitter_ms(1000), &w->stop);
		} else {
			k8s_kubeapi_sleep_ms(k8s_watch_jitter_ms(backoff), &w->stop);
			backoff = backoff >= 30000 ? 60000 : backoff * 2;
		}
	}
	/* the thread owns its state (k8s_watch_start hands it over) */
	k8s_kubeapi_close(&t->api);
	free(t);
	return NULL;
}

/* ------------------------------------------------------------ public */

static int add_coll(struct k8s_watch *w, enum k8s_wkind kind, const char *list_kind, const char *prefix,
		    const char *ns, const char *resource)
{
	struct k8s_wcoll *c = &w->colls[w->n];

	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->list_kind = list_kind;
	if (ns != NULL)
		snprintf(c->path, sizeof(c->path), "%s/namespaces/%s/%s", prefix, ns, resource);
	else
		snprintf(c->path, sizeof(c->path), "%s/%s", prefix, resource);
	c->objs = json_object();
	if (c->objs == NULL)
		return -1;
	w->n++;
	return 0;
}

int k8s_watch_init(struct k8s_watch *w, const struct k8s_config *cfg, struct k8s_err *err)
{
	struct k8s_kubeapi api;
	size_t i, nns = cfg->sync.namespaces.n;
	char sa_resource[600];
	int rc = K8S_OK;

	memset(w, 0, sizeof(*w));
	atomic_init(&w->stop, 0);
	K8S_HG_ATOMIC(&w->stop);
	if (k8s_sync_sa_resource(cfg, sa_resource, sizeof(sa_resource)) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync --watch");
	w->cfg = cfg;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->colls = calloc(2 + 3 * nns, sizeof(*w->colls));
	if (w->colls == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync --watch");
	if (cfg->sync.n_rules > 0) {
		rc |= add_coll(w, K8S_W_CROLE, "ClusterRoleList", RBAC_V1, NULL, "clusterroles");
		for (i = 0; i < nns; i++)
			rc |= add_coll(w, K8S_W_ROLE, "RoleList", RBAC_V1, cfg->sync.namespaces.v[i], "roles");
	}
	rc |= add_coll(w, K8S_W_CRB, "ClusterRoleBindingList", RBAC_V1, NULL, "clusterrolebindings");
	for (i = 0; i < nns; i++)
		rc |= add_coll(w, K8S_W_RB, "RoleBindingList", RBAC_V1, cfg->sync.namespaces.v[i],
			       "rolebindings");
	for (i = 0; i < nns; i++)
		rc |= add_coll(w, K8S_W_SA, "ServiceAccountList", "/api/v1", cfg->sync.namespaces.v[i],
			       sa_resource);
	if (rc != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync --watch");
	rc = k8s_kubeapi_open(cfg, (long)cfg->sync.timeout_ms, &api, err);
	api.stop = &w->stop;
	api.retry_max_s = 60;
	for (i = 0; rc == K8S_OK && i < w->n; i++)
		rc = relist(w, &api, &w->colls[i], 1, err);
	k8s_kubeapi_close(&api);
	return rc;
}

int k8s_watch_start(struct k8s_watch *w, struct k8s_err *err)
{
	sigset_t term, old;
	size_t i;
	int rc = K8S_OK;

	/* The threads leave SIGTERM/SIGINT/SIGHUP to the main thread, whose
	 * handler sets stop. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigaddset(&term, SIGHUP);
	w->threads = calloc(w->n, sizeof(*w->threads));
	if (w->threads == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync --watch");
	for (i = 0; i < w->n; i++) {
		struct wthread *t = calloc(1, sizeof(*t));

		if (t == NULL)
			return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync --watch");
		t->w = w;
		t->c = &w->colls[i];
		rc = k8s_kubeapi_open(w->cfg, (long)w->cfg->sync.timeout_ms, &t->api, err);
		if (rc != K8S_OK) {
			k8s_kubeapi_close(&t->api);
			free(t);
			return rc;
		}
		t->api.stop = &w->stop;
		t->api.retry_max_s = 60;
		t->api.stream_alive = stream_alive;
		pthread_sigmask(SIG_BLOCK, &term, &old);
		rc = pthread_create(&w->threads[i], NULL, watch_thread, t);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc != 0) {
			k8s_kubeapi_close(&t->api);
			free(t);
			return k8s_err_set(err, K8S_UNAVAILABLE, "cannot start a thread", "sync --watch");
		}
		w->n_threads++;
	}
	return K8S_OK;
}

int k8s_watch_next(struct k8s_watch *w, long batch_ms, struct k8s_sync_view *v, struct k8s_err *err)
{
	struct timespec ts;
	int rc;

	pthread_mutex_lock(&w->mu);
	while (!w->dirty && !w->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	}
	pthread_mutex_unlock(&w->mu);
	if (w->stop)
		return 0;
	k8s_kubeapi_sleep_ms(batch_ms, &w->stop); /* the rest of the batch */
	pthread_mutex_lock(&w->mu);
	w->dirty = 0;
	rc = k8s_watch_view(w->colls, w->n, w->cfg, v, err);
	pthread_mutex_unlock(&w->mu);
	return rc == K8S_OK ? 1 : -1;
}

void k8s_watch_relist_all(struct k8s_watch *w)
{
	size_t i;

	pthread_mutex_lock(&w->mu);
	for (i = 0; i < w->n; i++)
		w->colls[i].relist = 1;
	pthread_mutex_unlock(&w->mu);
}

void k8s_watch_free(struct k8s_watch *w)
{
	size_t i;

	w->stop = 1;
	for (i = 0; i < w->n_threads; i++)
		pthread_join(w->threads[i], NULL);
	free(w->threads);
	for (i = 0; i < w->n; i++)
		json_decref(w->colls[i].objs);
	free(w->colls);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	memset(w, 0, sizeof(*w));
}
