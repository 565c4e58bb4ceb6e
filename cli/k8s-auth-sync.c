/* k8s-auth sync: bring the store in line with the configuration (declared
 * accounts and groups) and, with a `sync:` section, with what the
 * cluster's RBAC grants (docs/sync.md).  Everything is read from the
 * apiserver before the store is even opened, and the store is written
 * once, or not at all: a run that fails leaves it as it was, and a run
 * that changes nothing writes nothing (same generation). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "decide.h"
#include "store.h"
#include "sync.h"

struct run {
	struct k8s_config *cfg;
	struct k8s_sync_view view;
	struct k8s_sync_plan plan;
	struct k8s_store *st;
	struct k8s_sync_snap before, after;
	struct k8s_sync_diff diff;
	int dry, damaged, changed;
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
		rc = k8s_sync_fetch(r->cfg, &r->view, err);
	if (rc == K8S_OK)
		rc = k8s_sync_plan(r->cfg, &r->view, &r->plan, err);
	return rc;
}

static int oom(struct k8s_err *err)
{
	return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: out of memory");
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
	r->changed = r->damaged || r->diff.lines.n > 0;
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

int cmd_sync(int argc, char **argv, const char *config_path)
{
	static const struct option opts[] = {
		{"dry-run", no_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	struct run r;
	struct k8s_err err;
	int c, rc;

	memset(&r, 0, sizeof(r));
	k8s_err_clear(&err);
	optind = 1;
	while ((c = getopt_long(argc, argv, "n", opts, NULL)) != -1) {
		if (c != 'n') {
			fprintf(stderr, "usage: k8s-auth sync [--config PATH] [--dry-run]\n");
			return K8S_ECONFIG;
		}
		r.dry = 1;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: k8s-auth sync [--config PATH] [--dry-run]\n");
		return K8S_ECONFIG;
	}
	rc = k8s_config_load(config_path, &r.cfg, &err);
	if (rc == K8S_OK)
		rc = fetch_and_plan(&r, &err);
	if (rc == K8S_OK)
		rc = apply(&r, &err);
	if (rc == K8S_OK && !r.dry && r.changed)
		rc = k8s_store_commit(r.st, &err);
	/* login.firstLogin on or off, as the configuration now says */
	if (rc == K8S_OK && !r.dry)
		rc = k8s_preauth_sync_policy(r.cfg, &err);
	if (rc == K8S_OK)
		report(&r);
	else
		fprintf(stderr, "k8s-auth sync: %s%s%s\n", err.reason,
			err.detail[0] ? ": " : "", err.detail);
	k8s_sync_diff_free(&r.diff);
	k8s_sync_snap_free(&r.before);
	k8s_sync_snap_free(&r.after);
	k8s_store_close(r.st);
	k8s_sync_plan_free(&r.plan);
	k8s_sync_view_free(&r.view);
	k8s_config_free(r.cfg);
	return rc;
}
