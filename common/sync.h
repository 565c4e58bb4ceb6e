/* sync.h: `k8s-auth sync` from the cluster's RBAC (docs/sync.md).
 *
 * Three steps, so that nothing is written from a partial picture:
 *   1. fetch: read everything (roles, bindings, ServiceAccounts, paged)
 *      into a k8s_sync_view, holding no store lock; any failure stops here;
 *   2. plan: from the view and the config, the accounts the cluster grants
 *      (mapped by accounts.users, as a login is) and the groups its Group
 *      subjects name (mapped by accounts.groups);
 *   3. apply: one change of the store model (SYNCED source only), which
 *      the caller commits once, or not at all (dry run).
 * Snapshots before and after give the diff the CLI prints. */
#ifndef K8S_SYNC_H
#define K8S_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "err.h"
#include "mapping.h"
#include "store.h"

#define K8S_SA_PREFIX      "system:serviceaccount:"
#define K8S_SYNC_NOTES_MAX 50   /* notes kept; the rest only counted */

/* What the cluster says, reduced to what sync needs. */
struct k8s_sync_view {
	struct k8s_strv users;   /* usernames of User and ServiceAccount subjects */
	struct k8s_strv groups;  /* names of Group subjects */
	struct k8s_strv sas;     /* usernames of the ServiceAccounts in sync.namespaces */
	struct k8s_strv roles;   /* roles whose rules grant: "ClusterRole/N", "Role/NS/N" */
	char **rule_names;            /* sync.rules[i].name with %h expanded (NULL = none) */
	size_t n_rule_names;
	size_t n_roles, n_bindings, n_granting; /* read, read, of which grant */
	unsigned long requests;       /* apiserver requests made */
	int roles_sorted;
};

/* host: what %h in sync.rules[].name stands for.  0 or K8S_UNAVAILABLE (OOM). */
int k8s_sync_view_init(struct k8s_sync_view *v, const struct k8s_config *cfg, const char *host,
		       struct k8s_err *err);
void k8s_sync_view_free(struct k8s_sync_view *v);

/* One item of a list answer (exposed for tests; the fetch calls them).
 * cluster: a ClusterRole / ClusterRoleBinding, else a namespaced Role /
 * RoleBinding.  Roles must all be taken before bindings.  A malformed item
 * is K8S_UNAVAILABLE: sync writes nothing from an answer it cannot read. */
int k8s_sync_take_role(struct k8s_sync_view *v, const struct k8s_config *cfg, json_t *item,
		       int cluster, struct k8s_err *err);
int k8s_sync_take_binding(struct k8s_sync_view *v, const struct k8s_config *cfg, json_t *item,
			  int cluster, struct k8s_err *err);
int k8s_sync_take_sa(struct k8s_sync_view *v, json_t *item, struct k8s_err *err);

/* Step 1 against the apiserver (tokenReview.kubeconfig, sync.timeout per
 * request).  K8S_OK, K8S_UNAVAILABLE (unreachable, 401/403, 5xx, a page
 * that cannot be read), K8S_ECONFIG (kubeconfig). */
int k8s_sync_fetch(const struct k8s_config *cfg, struct k8s_sync_view *v, struct k8s_err *err);
/* ServiceAccounts are read (serviceAccounts: true, or a granting binding
 * names system:serviceaccounts[:NS] for a listed NS); v has the bindings. */
int k8s_sync_needs_service_accounts(const struct k8s_config *cfg, const struct k8s_sync_view *v);
/* "serviceaccounts", with ?labelSelector=KEY when sync.serviceAccountLabel
 * is set (only ServiceAccounts carrying that label key are read, whatever
 * grants them).  0, or -1 when it does not fit max. */
int k8s_sync_sa_resource(const struct k8s_config *cfg, char *out, size_t max);

struct k8s_sync_account {
	char local[K8S_LOCAL_NAME_MAX + 1];
	struct k8s_mapped_group *groups;  /* memberships sync knows (service accounts' groups) */
	size_t n_groups;
};

struct k8s_sync_plan {
	struct k8s_sync_account *accounts; /* sorted by local name, unique */
	size_t n_accounts;
	struct k8s_mapped_group *groups;   /* mapped Group subjects */
	size_t n_groups;
	struct k8s_strv notes;        /* identities left out, and why */
	size_t n_notes;                    /* all of them, kept or not */
};

/* Step 2.  v NULL = the cluster grants nothing (no `sync:` section: every
 * synced account goes).  K8S_OK or K8S_UNAVAILABLE (out of memory). */
int k8s_sync_plan(const struct k8s_config *cfg, struct k8s_sync_view *v,
		  struct k8s_sync_plan *plan, struct k8s_err *err);
void k8s_sync_plan_free(struct k8s_sync_plan *plan);

/* Step 3: accounts of the plan get SYNCED (names another account source
 * owns are noted and skipped) and their synced memberships; synced
 * accounts not in the plan lose SYNCED and are removed unless declared
 * (their identity binding and login-learned data go with them; a declared
 * one keeps its binding); synced groups become the plan's.  Declared and
 * login-only accounts are not touched.  Does not commit. */
int k8s_sync_apply(struct k8s_store *st, const struct k8s_config *cfg, struct k8s_sync_plan *plan,
		   struct k8s_err *err);

/* The store as the diff sees it. */
struct k8s_sync_snap {
	struct k8s_sync_snap_ent *v;
	size_t n;
	size_t n_accounts, n_groups;  /* n = n_accounts + n_groups */
};
int k8s_sync_snapshot(const struct k8s_store *st, struct k8s_sync_snap *snap);
void k8s_sync_snap_free(struct k8s_sync_snap *snap);

struct k8s_sync_diff {
	size_t accounts_added, accounts_removed, accounts_changed;
	size_t groups_added, groups_removed, groups_changed;
	struct k8s_strv lines; /* "+ account ops.alice uid 212345 (synced)", ... */
};
int k8s_sync_diff(const struct k8s_sync_snap *before, const struct k8s_sync_snap *after,
		  struct k8s_sync_diff *d);
void k8s_sync_diff_free(struct k8s_sync_diff *d);

/* "declared,synced,login" (or "none") into buf. */
const char *k8s_sync_sources_text(uint32_t sources, char buf[32]);

#endif
