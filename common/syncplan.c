/* syncplan.c: from what the cluster grants to the store (sync.h steps 2
 * and 3).  Identities map exactly as at login (accounts.users, first rule
 * wins; policy.denyUsernames; allowRoot), so sync never makes an account
 * a login could not open.  A ServiceAccount's groups are known without a
 * login (system:serviceaccounts, system:serviceaccounts:NS,
 * system:authenticated), so its mapped groups become synced memberships;
 * a user's groups come from its token, at login. */
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "util.h"

struct cand {
	const char *username;
	char local[K8S_LOCAL_NAME_MAX + 1];
	struct k8s_mapped_group *groups;
	size_t n_groups;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_cand_user(const void *a, const void *b)
{
	return strcmp(((const struct cand *)a)->username, ((const struct cand *)b)->username);
}

static int cmp_cand_local(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int r = strcmp(x->local, y->local);

	return r != 0 ? r : strcmp(x->username, y->username);
}

/* Sort and drop repeats, in place. */
static void list_unique(struct k8s_strv *l)
{
	size_t i, k = 0;

	if (l->n == 0)
		return;
	k8s_qsort(l->v, l->n, sizeof(char *), cmp_str);
	for (i = 0; i < l->n; i++) {
		if (k > 0 && strcmp(l->v[k - 1], l->v[i]) == 0)
			free(l->v[i]);
		else
			l->v[k++] = l->v[i];
	}
	l->n = k;
}

static int note(struct k8s_sync_plan *p, const char *username, const char *why)
{
	char *s;

	p->n_notes++;
	if (p->notes.n >= K8S_SYNC_NOTES_MAX)
		return 0;
	if (asprintf(&s, "%.200s: %s", username, why) < 0)
		return -1;
	return k8s_strv_push(&p->notes, s);
}

/* The namespace of a service-account username, into ns (NULL when it is
 * not one). */
static const char *sa_namespace(const char *username, char *ns, size_t size)
{
	const char *p, *colon;

	if (strncmp(username, K8S_SA_PREFIX, strlen(K8S_SA_PREFIX)) != 0)
		return NULL;
	p = username + strlen(K8S_SA_PREFIX);
	colon = strchr(p, ':');
	if (colon == NULL || colon == p || (size_t)(colon - p) >= size)
		return NULL;
	memcpy(ns, p, (size_t)(colon - p));
	ns[colon - p] = '\0';
	return ns;
}

/* What a ServiceAccount's token would carry as groups, mapped. */
static int sa_groups(const struct k8s_config *cfg, const char *ns, struct cand *c)
{
	char nsgroup[160];
	char *g[3] = {"system:serviceaccounts", nsgroup, "system:authenticated"};

	snprintf(nsgroup, sizeof(nsgroup), "system:serviceaccounts:%s", ns);
	return k8s_map_groups(cfg, g, 3, &c->groups, &c->n_groups, NULL) == K8S_OK ? 0 : -1;
}

/* 1 when a granted group stands for every ServiceAccount of ns. */
static int sa_group_granted(const struct k8s_sync_view *v, const char *ns)
{
	char g[160];
	const char *k = g;

	snprintf(g, sizeof(g), "system:serviceaccounts:%s", ns);
	if (k8s_bsearch(&k, v->groups.v, v->groups.n, sizeof(char *), cmp_str) != NULL)
		return 1;
	k = "system:serviceaccounts";
	return k8s_bsearch(&k, v->groups.v, v->groups.n, sizeof(char *), cmp_str) != NULL;
}

/* Every username the cluster grants, sorted and unique. */
static int gather(const struct k8s_config *cfg, struct k8s_sync_view *v, struct cand **out,
		  size_t *n)
{
	struct cand *c;
	char ns[128];
	size_t i, k = 0;

	list_unique(&v->users);
	list_unique(&v->groups);
	list_unique(&v->sas);
	c = calloc(v->users.n + v->sas.n + 1, sizeof(*c));
	if (c == NULL)
		return -1;
	for (i = 0; i < v->users.n; i++)
		c[k++].username = v->users.v[i];
	for (i = 0; i < v->sas.n; i++)
		if (cfg->sync.service_accounts ||
		    (sa_namespace(v->sas.v[i], ns, sizeof(ns)) && sa_group_granted(v, ns)))
			c[k++].username = v->sas.v[i];
	k8s_qsort(c, k, sizeof(*c), cmp_cand_user);
	for (i = 0, *n = 0; i < k; i++)
		if (*n == 0 || strcmp(c[*n - 1].username, c[i].username) != 0)
			c[(*n)++] = c[i];
	*out = c;
	return 0;
}

/* Map one candidate; 1 kept, 0 left out (noted), -1 out of memory. */
static int map_one(const struct k8s_config *cfg, struct cand *c, struct k8s_sync_plan *p)
{
	struct k8s_err e;
	char ns[128];

	k8s_err_clear(&e);
	if (strlen(c->username) > 1024)
		return note(p, "(a very long username)", "longer than 1024 bytes") ? -1 : 0;
	if (k8s_policy_denied_username(cfg, c->username) >= 0)
		return note(p, c->username, "denied by policy.denyUsernames") ? -1 : 0;
	if (k8s_map_user(cfg, c->username, c->local, &e) != K8S_OK)
		return note(p, c->username, e.reason) ? -1 : 0;
	if (strcmp(c->local, "root") == 0 && !cfg->login.allow_root)
		return note(p, c->username, "maps to root and login.allowRoot is false") ? -1 : 0;
	if (sa_namespace(c->username, ns, sizeof(ns)) != NULL && sa_groups(cfg, ns, c) != 0)
		return -1;
	return 1;
}

/* Candidates mapping to one local name: one account, memberships merged. */
static int merge_into(struct k8s_sync_account *a, const struct cand *c)
{
	struct k8s_mapped_group *ng;
	size_t i, j;

	for (i = 0; i < c->n_groups; i++) {
		for (j = 0; j < a->n_groups; j++)
			if (strcmp(a->groups[j].name, c->groups[i].name) == 0)
				break;
		if (j < a->n_groups) {
			a->groups[j].templated &= c->groups[i].templated;
			continue;
		}
		ng = realloc(a->groups, (a->n_groups + 1) * sizeof(*ng));
		if (ng == NULL)
			return -1;
		a->groups = ng;
		a->groups[a->n_groups++] = c->groups[i];
	}
	return 0;
}

static int build_accounts(struct cand *c, size_t n, struct k8s_sync_plan *p)
{
	struct k8s_sync_account *a;
	size_t i;

	k8s_qsort(c, n, sizeof(*c), cmp_cand_local);
	p->accounts = calloc(n + 1, sizeof(*p->accounts));
	if (p->accounts == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		a = p->n_accounts > 0 ? &p->accounts[p->n_accounts - 1] : NULL;
		if (a != NULL && strcmp(a->local, c[i].local) == 0) {
			if (note(p, c[i].username, "maps to an account another identity also maps to") != 0)
				return -1;
		} else {
			a = &p->accounts[p->n_accounts++];
			memcpy(a->local, c[i].local, sizeof(a->local));
		}
		if (merge_into(a, &c[i]) != 0)
			return -1;
	}
	return 0;
}

int k8s_sync_plan(const struct k8s_config *cfg, struct k8s_sync_view *v,
		  struct k8s_sync_plan *plan, struct k8s_err *err)
{
	struct cand *c = NULL;
	size_t i, n = 0, k = 0;
	int r, rc = K8S_UNAVAILABLE;

	memset(plan, 0, sizeof(*plan));
	if (v == NULL)
		return K8S_OK;
	if (gather(cfg, v, &c, &n) != 0)
		goto out;
	/* Kept candidates move to the front; every slot owns at most one
	 * groups array, so the cleanup below frees each once. */
	for (i = 0; i < n; i++) {
		r = map_one(cfg, &c[i], plan);
		if (r < 0)
			goto out;
		if (r == 0) {
			free(c[i].groups);
			c[i].groups = NULL;
		} else if (k != i) {
			c[k] = c[i];
			c[i].groups = NULL;
		}
		k += r == 1;
	}
	if (build_accounts(c, k, plan) != 0 ||
	    k8s_map_groups(cfg, v->groups.v, v->groups.n, &plan->groups, &plan->n_groups, NULL) != K8S_OK)
		goto out;
	rc = K8S_OK;
out:
	for (i = 0; i < n; i++)
		free(c[i].groups);
	free(c);
	if (rc != K8S_OK) {
		k8s_sync_plan_free(plan);
		return k8s_err_set(err, rc, "out of memory", "sync: planning: out of memory");
	}
	return rc;
}

void k8s_sync_plan_free(struct k8s_sync_plan *plan)
{
	size_t i;

	if (plan == NULL)
		return;
	for (i = 0; i < plan->n_accounts; i++)
		free(plan->accounts[i].groups);
	free(plan->accounts);
	free(plan->groups);
	for (i = 0; i < plan->notes.n; i++)
		free(plan->notes.v[i]);
	free(plan->notes.v);
	memset(plan, 0, sizeof(*plan));
}

/* ---------------------------------------------------------------- apply */

/* Warnings the store gives with K8S_OK (dropped group mappings). */
static int keep_warning(struct k8s_sync_plan *p, const char *who, struct k8s_err *e)
{
	int r = 0;

	if (e->status == K8S_OK && e->reason[0] != '\0')
		r = note(p, who, e->detail[0] ? e->detail : e->reason);
	k8s_err_clear(e);
	return r;
}

static int apply_accounts(struct k8s_store *st, const struct k8s_config *cfg,
			  struct k8s_sync_plan *p, unsigned char *granted, struct k8s_err *err)
{
	struct k8s_sync_account *a;
	struct k8s_store_user *u;
	struct k8s_err e;
	size_t i;
	int rc;

	for (i = 0; i < p->n_accounts; i++) {
		a = &p->accounts[i];
		k8s_err_clear(&e);
		rc = k8s_store_ensure_user(st, cfg, a->local, K8S_SRC_SYNCED, -1, &u, &e);
		if (rc == K8S_REFUSED) {
			/* Another account source has the name: never take it over. */
			if (note(p, a->local, e.reason) != 0)
				goto oom;
			continue;
		}
		if (rc != K8S_OK)
			return k8s_err_set(err, rc, e.reason, "%s", e.detail);
		rc = k8s_store_set_memberships(st, cfg, u, K8S_SRC_SYNCED, a->groups, a->n_groups, &e);
		if (rc != K8S_OK)
			return k8s_err_set(err, rc, e.reason, "%s", e.detail);
		if (keep_warning(p, a->local, &e) != 0)
			goto oom;
		granted[i] = 1;
	}
	return K8S_OK;
oom:
	return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: out of memory");
}

int k8s_sync_apply(struct k8s_store *st, const struct k8s_config *cfg, struct k8s_sync_plan *p,
		   struct k8s_err *err)
{
	unsigned char *granted = calloc(p->n_accounts + 1, 1);
	const char **keep = calloc(p->n_accounts + 1, sizeof(char *));
	struct k8s_err e;
	size_t i, n_keep = 0;
	int rc;

	k8s_err_clear(&e);
	if (granted == NULL || keep == NULL) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: out of memory");
		goto out;
	}
	rc = apply_accounts(st, cfg, p, granted, err);
	if (rc != K8S_OK)
		goto out;
	for (i = 0; i < p->n_accounts; i++) /* sorted, so keep[] is too */
		if (granted[i])
			keep[n_keep++] = p->accounts[i].local;
	/* What sync added and the cluster no longer grants goes whole, login
	 * data included: one login must not outlive the grant.  DECLARED
	 * keeps an account (and its binding). */
	rc = k8s_store_prune_source(st, K8S_SRC_SYNCED, keep, n_keep, K8S_SRC_LOGIN, err);
	if (rc != K8S_OK)
		goto out;
	rc = k8s_store_define_groups(st, cfg, p->groups, p->n_groups, &e);
	if (rc != K8S_OK)
		rc = k8s_err_set(err, rc, e.reason, "%s", e.detail);
	else if (keep_warning(p, "groups", &e) != 0)
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: out of memory");
out:
	free(keep);
	free(granted);
	return rc;
}
