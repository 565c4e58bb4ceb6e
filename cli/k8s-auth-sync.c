/* k8s-auth sync: bring the store in line with the configuration (declared
 * accounts and groups) and, with a `sync:` section, with what the
 * cluster's RBAC grants (docs/sync.md).  Everything is read from the
 * apiserver before the store is even opened, and the store is written
 * once, or not at all: a run that fails leaves it as it was, and a run
 * that changes nothing writes nothing (same generation). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "decide.h"
#include "kubeapi.h"
#include "store.h"
#include "sync.h"
#include "syncwatch.h"

struct run {
	struct k8s_config *cfg;
	struct k8s_sync_view view;
	struct k8s_sync_plan plan;
	struct k8s_store *st;
	struct k8s_sync_snap before, after;
	struct k8s_sync_diff diff;
	int dry, damaged, changed;
	struct k8s_watch *watch;  /* --watch: the view comes from its objects */
};

static int fetch_and_plan(struct run *r, struct k8s_err *err)
{
	char host[256];
	int rc;

	if (!r->cfg->has_sync)
		return k8s_sync_plan(r->cfg, NULL, &r->plan, err);
	if (gethostname(host, sizeof(host)) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "no host name", "gethostname failed");
	host[sizeof(host) - 1] = '\0';
	rc = k8s_sync_view_init(&r->view, r->cfg, host, err);
	if (rc == K8S_OK)
		rc = r->watch != NULL ? k8s_watch_view(r->watch->colls, r->watch->n, r->cfg, &r->view, err)
				      : k8s_sync_fetch(r->cfg, &r->view, err);
	if (r->watch != NULL)
		r->view.requests = r->watch->requests; /* the lists */
	if (rc == K8S_OK)
		rc = k8s_sync_plan(r->cfg, &r->view, &r->plan, err);
	return rc;
}

static int oom(struct k8s_err *err)
{
	return k8s_err_oom(err, "sync");
}

/* Apply the config and the plan to the model; diff against the loaded
 * store. */
static int apply(struct run *r, struct k8s_err *err)
{
	int rc;

	rc = k8s_store_open(r->cfg->store, !r->dry, &r->st, err);
	if (rc != K8S_OK)
		return rc;
	/* A salvaged store must be rewritten even when nothing else changes. */
	if (err->reason[0] != '\0') {
		r->damaged = 1;
		fprintf(stderr, "k8s-auth sync: %s\n", err->detail[0] ? err->detail : err->reason);
		k8s_err_clear(err);
	}
	rc = k8s_store_load_all(r->st, err);
	if (rc != K8S_OK)
		return rc;
	k8s_store_nss_snapshot(r->st);
	if (k8s_sync_snapshot(r->st, &r->before) != 0)
		return oom(err);
	rc = k8s_store_apply_declared(r->st, r->cfg, err);
	if (rc != K8S_OK)
		return rc;
	if (err->reason[0] != '\0') {
		fprintf(stderr, "k8s-auth sync: %s\n", err->detail[0] ? err->detail : err->reason);
		k8s_err_clear(err);
	}
	rc = k8s_sync_apply(r->st, r->cfg, &r->plan, err);
	if (rc != K8S_OK)
		return rc;
	if (k8s_sync_snapshot(r->st, &r->after) != 0 || k8s_sync_diff(&r->before, &r->after, &r->diff) != 0)
		return oom(err);
	/* a file libnss_k8s would refuse or cannot read is rewritten too */
	r->changed = r->damaged || r->diff.lines.n > 0 || k8s_store_not_served(r->st);
	return K8S_OK;
}

static void report(const struct run *r)
{
	const struct k8s_sync_diff *d = &r->diff;
	size_t i;

	for (i = 0; i < d->lines.n; i++)
		printf("%s\n", d->lines.v[i]);
	for (i = 0; i < r->plan.notes.n; i++)
		fprintf(stderr, "k8s-auth sync: left out: %s\n", r->plan.notes.v[i]);
	if (r->plan.n_notes > r->plan.notes.n)
		fprintf(stderr, "k8s-auth sync: left out: ... and %zu more\n",
			r->plan.n_notes - r->plan.notes.n);
	if (r->cfg->has_sync)
		printf("cluster: %zu bindings read, %zu grant; %zu accounts granted; %lu requests\n",
		       r->view.n_bindings, r->view.n_granting, r->plan.n_accounts, r->view.requests);
	printf("%s %s: accounts +%zu -%zu ~%zu, groups +%zu -%zu ~%zu; %zu accounts, %zu groups",
	       r->dry ? "dry run, nothing written to" : "store", r->cfg->store, d->accounts_added,
	       d->accounts_removed, d->accounts_changed, d->groups_added, d->groups_removed,
	       d->groups_changed, r->after.n_accounts, r->after.n_groups);
	if (!r->dry)
		printf(r->changed ? "; generation %llu\n" : "; unchanged (generation %llu)\n",
		       (unsigned long long)r->st->generation);
	else
		printf("\n");
}

/* One run's store part and its report; frees what the run holds but the
 * config.  view/plan already filled. */
static int finish(struct run *r, struct k8s_err *err)
{
	int rc = apply(r, err);

	if (rc == K8S_OK && !r->dry && r->changed)
		rc = k8s_store_commit(r->st, err);
	/* login.firstLogin on: the policy as the configuration now says (a
	 * host just booted serves first login before any ssh login ran).
	 * Off is left to sshd's PAM calls, which own the policy: a sync run
	 * with another configuration than sshd's stack names must not turn
	 * first login off under sshd (docs/security.md) */
	if (rc == K8S_OK && !r->dry && r->cfg->login.first_login)
		rc = k8s_preauth_sync_policy(r->cfg, err);
	if (rc == K8S_OK)
		report(r);
	k8s_sync_diff_free(&r->diff);
	k8s_sync_snap_free(&r->before);
	k8s_sync_snap_free(&r->after);
	k8s_store_close(r->st);
	r->st = NULL;
	r->damaged = r->changed = 0;
	k8s_sync_plan_free(&r->plan);
	k8s_sync_view_free(&r->view);
	return rc;
}

/* SIGTERM/SIGINT are handled on the main thread (the watch threads block
 * them), so watch_stop is only ever touched there; the flags are atomic. */
static atomic_int *volatile watch_stop;
static atomic_int term_seen;

static void on_term(int sig)
{
	(void)sig;
	term_seen = 1;
	if (watch_stop != NULL)
		*watch_stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: k8s-auth sync [--config PATH] [--dry-run | --watch]\n");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --watch: list, apply, then one batch per change until SIGTERM/SIGINT.
 * Exit 3 only when the first list fails; later failures are retried. */
static int watch_loop(struct run *r, struct k8s_err *err)
{
	struct sigaction sa;
	struct k8s_watch w;
	unsigned long batches = 0;
	long backoff = 1000;
	int rc, got;

	if (!r->cfg->has_sync)
		return k8s_err_set(err, K8S_ECONFIG, "no sync: section", "--watch needs a sync: section");
	memset(&w, 0, sizeof(w));
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* The first list: retried here with backoff and jitter (a fleet whose
	 * apiserver was down must not come back in step). */
	for (;;) {
		rc = k8s_watch_init(&w, r->cfg, err);
		if (rc != K8S_UNAVAILABLE || term_seen)
			break;
		fprintf(stderr, "k8s-auth sync: first list failed (retrying in about %ld s): %s%s%s\n",
			backoff / 1000, err->reason, err->detail[0] ? ": " : "", err->detail);
		k8s_watch_free(&w);
		k8s_err_clear(err);
		k8s_kubeapi_sleep_ms(k8s_watch_jitter_ms(backoff), &term_seen);
		backoff = backoff >= 30000 ? 60000 : backoff * 2;
	}
	if (rc != K8S_OK || term_seen)
		goto out;
	watch_stop = &w.stop;
	r->watch = &w;
	rc = fetch_and_plan(r, err);
	if (rc == K8S_OK)
		rc = finish(r, err);
	if (rc != K8S_OK)
		goto out;
	w.dirty = 0; /* the lists are applied */
	rc = k8s_watch_start(&w, err);
	if (rc != K8S_OK)
		goto out;
	pthread_mutex_lock(&w.mu); /* the threads count their requests */
	printf("watch: %zu collections, %lu list requests; watching (each watch renewed after %ld to %ld s)\n",
	       w.n, w.requests, K8S_WATCH_TIMEOUT_MIN_S, K8S_WATCH_TIMEOUT_MAX_S);
	pthread_mutex_unlock(&w.mu);
	while (!w.stop) {
		char host[256];

		k8s_err_clear(err);
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		rc = k8s_sync_view_init(&r->view, r->cfg, host, err);
		got = rc == K8S_OK ? k8s_watch_next(&w, 100, &r->view, err) : -1;
		if (got == 0)
			break;
		if (got == 1) {
			pthread_mutex_lock(&w.mu);
			r->view.requests = w.requests;
			pthread_mutex_unlock(&w.mu);
			rc = k8s_sync_plan(r->cfg, &r->view, &r->plan, err);
		}
		if (got == 1 && rc == K8S_OK)
			rc = finish(r, err);
		else
			rc = rc == K8S_OK ? K8S_UNAVAILABLE : rc;
		if (rc != K8S_OK) {
			fprintf(stderr, "k8s-auth sync: watch batch failed (nothing written; listing again): %s%s%s\n",
				err->reason, err->detail[0] ? ": " : "", err->detail);
			k8s_sync_plan_free(&r->plan);
			k8s_sync_view_free(&r->view);
			k8s_watch_relist_all(&w);
			k8s_kubeapi_sleep_ms(1000, &w.stop);
			continue;
		}
		batches++;
		pthread_mutex_lock(&w.mu);
		printf("watch: batch %lu at %.3f; %lu requests, %lu events, %lu bookmarks, %lu relists, "
		       "%lu retries, %lu bytes streamed\n", batches, now_s(), w.requests, w.events,
		       w.bookmarks, w.relists, w.retries, w.bytes);
		pthread_mutex_unlock(&w.mu);
	}
	pthread_mutex_lock(&w.mu);
	printf("watch: stopped; %lu requests, %lu events, %lu bookmarks, %lu relists, %lu retries, %lu bytes streamed\n",
	       w.requests, w.events, w.bookmarks, w.relists, w.retries, w.bytes);
	pthread_mutex_unlock(&w.mu);
	rc = K8S_OK;
out:
	k8s_sync_view_free(&r->view);
	k8s_watch_free(&w);
	watch_stop = NULL;
	r->watch = NULL;
	return rc;
}

int cmd_sync(int argc, char **argv, const char *config_path)
{
	static const struct option opts[] = {
		{"dry-run", no_argument, NULL, 'n'},
		{"watch", no_argument, NULL, 'w'},
		{NULL, 0, NULL, 0},
	};
	struct run r;
	struct k8s_err err;
	int c, rc, watch = 0;

	memset(&r, 0, sizeof(r));
	k8s_err_clear(&err);
	optind = 1;
	while ((c = getopt_long(argc, argv, "nw", opts, NULL)) != -1) {
		if (c == 'n') {
			r.dry = 1;
		} else if (c == 'w') {
			watch = 1;
		} else {
			usage();
			return K8S_ECONFIG;
		}
	}
	if (optind != argc || (watch && r.dry)) {
		usage();
		return K8S_ECONFIG;
	}
	rc = k8s_config_load(config_path, &r.cfg, &err);
	if (rc == K8S_OK && watch) {
		rc = watch_loop(&r, &err);
	} else if (rc == K8S_OK) {
		rc = fetch_and_plan(&r, &err);
		if (rc == K8S_OK)
			rc = finish(&r, &err);
	}
	if (rc != K8S_OK)
		fprintf(stderr, "k8s-auth sync: %s%s%s\n", err.reason, err.detail[0] ? ": " : "", err.detail);
	k8s_store_close(r.st);
	k8s_sync_plan_free(&r.plan);
	k8s_sync_view_free(&r.view);
	k8s_config_free(r.cfg);
	return rc;
}
