/* sync.c: reading who the cluster grants host login (sync.h step 1).
 *
 * A binding grants when its roleRef is a ClusterRole named in
 * sync.clusterRoles, or a role (Role in the binding's namespace, or
 * ClusterRole) with a rule that allows one of sync.rules, judged as the
 * RBAC authorizer judges a request: verb, API group and resource equal or
 * "*", resourceNames empty or holding the name asked for.
 * ClusterRoleBindings are read cluster-wide; RoleBindings, Roles and
 * ServiceAccounts only in sync.namespaces.  Only granting roles and the
 * subjects of granting bindings are kept, so 10k objects cost little. */
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kubeapi.h"
#include "util.h"

#define RBAC_V1     "/apis/rbac.authorization.k8s.io/v1"
#define NAME_MAX_   1024   /* longest object or subject name we take */
#define MALFORMED   "malformed apiserver answer"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int k8s_sync_view_init(struct k8s_sync_view *v, const struct k8s_config *cfg, const char *host,
		       struct k8s_err *err)
{
	size_t i;

	memset(v, 0, sizeof(*v));
	if (cfg->sync.n_rules == 0)
		return K8S_OK;
	v->rule_names = calloc(cfg->sync.n_rules, sizeof(char *));
	if (v->rule_names == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: out of memory");
	v->n_rule_names = cfg->sync.n_rules;
	for (i = 0; i < cfg->sync.n_rules; i++) {
		const char *t = cfg->sync.rules[i].name, *vals[] = { host };

		if (t == NULL)
			continue;
		v->rule_names[i] = k8s_expand(t, "h", vals);
		if (v->rule_names[i] == NULL)
			return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: out of memory");
	}
	return K8S_OK;
}

void k8s_sync_view_free(struct k8s_sync_view *v)
{
	size_t i;

	if (v == NULL)
		return;
	k8s_strv_free(&v->users);
	k8s_strv_free(&v->groups);
	k8s_strv_free(&v->sas);
	k8s_strv_free(&v->roles);
	for (i = 0; i < v->n_rule_names; i++)
		free(v->rule_names[i]);
	free(v->rule_names);
	memset(v, 0, sizeof(*v));
}

/* ---------------------------------------------------------------- items */

static int malformed(struct k8s_err *err, const char *what, const char *field)
{
	return k8s_err_set(err, K8S_UNAVAILABLE, MALFORMED, "%s: %s missing or of the wrong type",
			   what, field);
}

/* A required string of 1..NAME_MAX_ bytes, or NULL. */
static const char *name_field(json_t *o, const char *key)
{
	json_t *s = json_object_get(o, key);

	if (!json_is_string(s) || json_string_length(s) == 0 || json_string_length(s) > NAME_MAX_ ||
	    strlen(json_string_value(s)) != json_string_length(s))
		return NULL;
	return json_string_value(s);
}

/* 1 when the string list arr holds s or "*", 0 when not, -1 malformed.
 * A missing list holds nothing. */
static int holds(json_t *arr, const char *s, int wildcard)
{
	size_t i;
	json_t *e;
	int found = 0;

	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return -1;
	json_array_foreach(arr, i, e) {
		if (!json_is_string(e))
			return -1;
		if ((s != NULL && strcmp(json_string_value(e), s) == 0) ||
		    (wildcard && strcmp(json_string_value(e), "*") == 0))
			found = 1;
	}
	return found;
}

/* Does one PolicyRule allow rule i of sync.rules?  1, 0, -1 malformed. */
static int rule_allows(const struct k8s_sync_view *v, const struct k8s_config *cfg, json_t *rule,
		       size_t i)
{
	const struct k8s_resource_attrs *a = &cfg->sync.rules[i];
	json_t *names = json_object_get(rule, "resourceNames");
	int verb, group, res, name = 1;

	if (!json_is_object(rule))
		return -1;
	verb = holds(json_object_get(rule, "verbs"), a->verb, 1);
	group = holds(json_object_get(rule, "apiGroups"), a->group, 1);
	res = holds(json_object_get(rule, "resources"), a->resource, 1);
	if (names != NULL && !json_is_null(names) && (!json_is_array(names) || json_array_size(names) > 0))
		name = holds(names, v->rule_names[i], 0);
	if (verb < 0 || group < 0 || res < 0 || name < 0)
		return -1;
	return verb && group && res && name;
}

int k8s_sync_take_role(struct k8s_sync_view *v, const struct k8s_config *cfg, json_t *item,
		       int cluster, struct k8s_err *err)
{
	json_t *meta = json_object_get(item, "metadata"), *rules = json_object_get(item, "rules"), *r;
	const char *what = cluster ? "ClusterRole" : "Role";
	const char *name = name_field(meta, "name"), *ns = name_field(meta, "namespace");
	size_t i, j;
	char *key;
	int a;

	if (name == NULL || (!cluster && ns == NULL))
		return malformed(err, what, "metadata.name/namespace");
	if (rules != NULL && !json_is_array(rules) && !json_is_null(rules))
		return malformed(err, what, "rules");
	v->n_roles++;
	json_array_foreach(rules, i, r) {
		for (j = 0; j < cfg->sync.n_rules; j++) {
			a = rule_allows(v, cfg, r, j);
			if (a < 0)
				return malformed(err, what, "a rule's verbs/apiGroups/resources/resourceNames");
			if (a == 0)
				continue;
			if (cluster ? asprintf(&key, "ClusterRole/%s", name) < 0
				    : asprintf(&key, "Role/%s/%s", ns, name) < 0)
				key = NULL;
			if (k8s_strv_push(&v->roles, key) != 0)
				return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: roles");
			v->roles_sorted = 0;
			return K8S_OK;
		}
	}
	return K8S_OK;
}

static int role_grants(struct k8s_sync_view *v, const char *key)
{
	if (!v->roles_sorted) {
		k8s_qsort(v->roles.v, v->roles.n, sizeof(char *), cmp_str);
		v->roles_sorted = 1;
	}
	return k8s_bsearch(&key, v->roles.v, v->roles.n, sizeof(char *), cmp_str) != NULL;
}

/* 1 grants, 0 does not, -1 malformed roleRef, -2 out of memory. */
static int binding_grants(struct k8s_sync_view *v, const struct k8s_config *cfg, json_t *ref,
			  const char *ns)
{
	const char *kind = name_field(ref, "kind"), *name = name_field(ref, "name");
	char *key = NULL;
	int r;

	if (kind == NULL || name == NULL)
		return -1;
	if (strcmp(kind, "ClusterRole") == 0) {
		if (k8s_strv_contains(&cfg->sync.cluster_roles, name))
			return 1;
		if (asprintf(&key, "ClusterRole/%s", name) < 0)
			return -2;
	} else if (strcmp(kind, "Role") == 0 && ns != NULL) {
		if (asprintf(&key, "Role/%s/%s", ns, name) < 0)
			return -2;
	} else {
		return 0;
	}
	r = cfg->sync.n_rules > 0 && role_grants(v, key);
	free(key);
	return r;
}

/* User and ServiceAccount subjects become usernames, Group subjects
 * groups; other kinds grant nothing we can use. */
static int take_subject(struct k8s_sync_view *v, json_t *s, const char *binding_ns,
			struct k8s_err *err)
{
	const char *kind = name_field(s, "kind"), *name = name_field(s, "name");
	const char *ns = name_field(s, "namespace");
	char *u = NULL;
	int r = 0;

	if (!json_is_object(s) || kind == NULL || name == NULL)
		return malformed(err, "binding subject", "kind/name");
	if (strcmp(kind, "User") == 0) {
		r = k8s_strv_push(&v->users, strdup(name));
	} else if (strcmp(kind, "Group") == 0) {
		r = k8s_strv_push(&v->groups, strdup(name));
	} else if (strcmp(kind, "ServiceAccount") == 0) {
		if (ns == NULL)
			ns = binding_ns;
		if (ns == NULL)
			return K8S_OK; /* the apiserver refuses these; nothing to name */
		if (asprintf(&u, K8S_SA_PREFIX "%s:%s", ns, name) < 0)
			u = NULL;
		r = k8s_strv_push(&v->users, u);
	}
	return r == 0 ? K8S_OK : k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: subjects");
}

int k8s_sync_take_binding(struct k8s_sync_view *v, const struct k8s_config *cfg, json_t *item,
			  int cluster, struct k8s_err *err)
{
	json_t *meta = json_object_get(item, "metadata"), *subjects = json_object_get(item, "subjects");
	const char *what = cluster ? "ClusterRoleBinding" : "RoleBinding";
	const char *ns = cluster ? NULL : name_field(meta, "namespace");
	json_t *s;
	size_t i;
	int g, rc;

	if (name_field(meta, "name") == NULL || (!cluster && ns == NULL))
		return malformed(err, what, "metadata.name/namespace");
	if (subjects != NULL && !json_is_array(subjects) && !json_is_null(subjects))
		return malformed(err, what, "subjects");
	v->n_bindings++;
	g = binding_grants(v, cfg, json_object_get(item, "roleRef"), ns);
	if (g == -1)
		return malformed(err, what, "roleRef.kind/name");
	if (g == -2)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: bindings");
	if (g == 0)
		return K8S_OK;
	v->n_granting++;
	json_array_foreach(subjects, i, s) {
		rc = take_subject(v, s, ns, err);
		if (rc != K8S_OK)
			return rc;
	}
	return K8S_OK;
}

int k8s_sync_take_sa(struct k8s_sync_view *v, json_t *item, struct k8s_err *err)
{
	json_t *meta = json_object_get(item, "metadata");
	const char *name = name_field(meta, "name"), *ns = name_field(meta, "namespace");
	char *u;

	if (name == NULL || ns == NULL)
		return malformed(err, "ServiceAccount", "metadata.name/namespace");
	if (asprintf(&u, K8S_SA_PREFIX "%s:%s", ns, name) < 0)
		u = NULL;
	if (k8s_strv_push(&v->sas, u) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: service accounts");
	return K8S_OK;
}

/* ---------------------------------------------------------------- fetch */

struct take_ctx {
	struct k8s_sync_view *v;
	const struct k8s_config *cfg;
	int cluster;
};

static int take_role_cb(json_t *item, void *ud, struct k8s_err *err)
{
	struct take_ctx *c = ud;

	return k8s_sync_take_role(c->v, c->cfg, item, c->cluster, err);
}

static int take_binding_cb(json_t *item, void *ud, struct k8s_err *err)
{
	struct take_ctx *c = ud;

	return k8s_sync_take_binding(c->v, c->cfg, item, c->cluster, err);
}

static int take_sa_cb(json_t *item, void *ud, struct k8s_err *err)
{
	struct take_ctx *c = ud;

	return k8s_sync_take_sa(c->v, item, err);
}

/* GET prefix/namespaces/NS/what in every configured namespace. */
static int list_each_ns(struct k8s_kubeapi *api, struct take_ctx *c, const char *prefix,
			const char *what, const char *kind, k8s_kubeapi_item_fn fn,
			struct k8s_err *err)
{
	char path[768];
	size_t i;
	int rc = K8S_OK;

	for (i = 0; i < c->cfg->sync.namespaces.n && rc == K8S_OK; i++) {
		snprintf(path, sizeof(path), "%s/namespaces/%s/%s", prefix,
			 c->cfg->sync.namespaces.v[i], what);
		rc = k8s_kubeapi_list(api, path, kind, fn, c, err);
	}
	return rc;
}

/* Group subjects that stand for every ServiceAccount of a namespace. */
int k8s_sync_needs_service_accounts(const struct k8s_config *cfg, const struct k8s_sync_view *v)
{
	size_t i, j;
	const char *g;

	if (cfg->sync.service_accounts)
		return 1;
	for (i = 0; i < v->groups.n; i++) {
		g = v->groups.v[i];
		if (strcmp(g, "system:serviceaccounts") == 0)
			return 1;
		if (strncmp(g, "system:serviceaccounts:", 23) != 0)
			continue;
		for (j = 0; j < cfg->sync.namespaces.n; j++)
			if (strcmp(g + 23, cfg->sync.namespaces.v[j]) == 0)
				return 1;
	}
	return 0;
}

int k8s_sync_sa_resource(const struct k8s_config *cfg, char *out, size_t max)
{
	char *sel;
	int n;

	if (cfg->sync.sa_label == NULL)
		return snprintf(out, max, "serviceaccounts") < (int)max ? 0 : -1;
	sel = k8s_kubeapi_query_escape(cfg->sync.sa_label);
	if (sel == NULL)
		return -1;
	n = snprintf(out, max, "serviceaccounts?labelSelector=%s", sel);
	free(sel);
	return n > 0 && (size_t)n < max ? 0 : -1;
}

int k8s_sync_fetch(const struct k8s_config *cfg, struct k8s_sync_view *v, struct k8s_err *err)
{
	struct k8s_kubeapi api;
	struct take_ctx c = {v, cfg, 1};
	int rc;

	rc = k8s_kubeapi_open(cfg, (long)cfg->sync.timeout_ms, &api, err);
	if (rc != K8S_OK)
		goto out;
	/* the watch cache: a second or so stale at worst, no etcd read */
	api.list_rv0 = 1;
	api.retry_max_s = 60;
	if (cfg->sync.n_rules > 0) {
		rc = k8s_kubeapi_list(&api, RBAC_V1 "/clusterroles", "ClusterRoleList", take_role_cb,
				      &c, err);
		c.cluster = 0;
		if (rc == K8S_OK)
			rc = list_each_ns(&api, &c, RBAC_V1, "roles", "RoleList", take_role_cb, err);
		if (rc != K8S_OK)
			goto out;
	}
	c.cluster = 1;
	rc = k8s_kubeapi_list(&api, RBAC_V1 "/clusterrolebindings", "ClusterRoleBindingList",
			      take_binding_cb, &c, err);
	c.cluster = 0;
	if (rc == K8S_OK)
		rc = list_each_ns(&api, &c, RBAC_V1, "rolebindings", "RoleBindingList",
				  take_binding_cb, err);
	if (rc == K8S_OK && k8s_sync_needs_service_accounts(cfg, v)) {
		char what[600];

		if (k8s_sync_sa_resource(cfg, what, sizeof(what)) != 0)
			rc = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: service accounts");
		else
			rc = list_each_ns(&api, &c, "/api/v1", what, "ServiceAccountList", take_sa_cb, err);
	}
out:
	v->requests = api.requests;
	k8s_kubeapi_close(&api);
	return rc;
}
