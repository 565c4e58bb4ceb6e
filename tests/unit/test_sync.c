/* Unit tests for `k8s-auth sync`'s parts: list pages (kubeapi.c), reading
 * roles, bindings and ServiceAccounts from list items (sync.c), the plan
 * (syncplan.c), and apply + snapshot + diff on a real store in a temp
 * directory, through commits and reopenings (syncdiff.c, store.c).  The
 * apiserver end of it is tests/integration/t_kube_sync.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "identity.h"
#include "kubeapi.h"
#include "store.h"
#include "sync.h"

static json_t *parse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	if (j == NULL)
		fail_msg("bad JSON in test: %s: %s", e.text, s);
	return j;
}

/* ---------------------------------------------------------- list pages */

struct seen {
	char names[8][32];
	int n;
	int fail_at;
};

static int collect(json_t *item, void *ud, struct k8s_err *err)
{
	struct seen *s = ud;
	const char *n = json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));

	if (s->n == s->fail_at)
		return k8s_err_set(err, K8S_UNAVAILABLE, "stop", "stopped at %d", s->n);
	snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", n ? n : "?");
	return K8S_OK;
}

static int page(const char *text, const char *kind, struct seen *s, char **next, struct k8s_err *err)
{
	json_t *j = parse(text);
	int rc;

	k8s_err_clear(err);
	rc = k8s_kubeapi_list_page(j, kind, collect, s, next, err);
	json_decref(j);
	return rc;
}

static void test_list_page(void **state)
{
	struct seen s = {.fail_at = -1};
	struct k8s_err err;
	char *next = NULL;

	assert_int_equal(page("{\"kind\": \"ServiceAccountList\", \"apiVersion\": \"v1\", "
			      "\"metadata\": {\"resourceVersion\": \"7\", \"continue\": \"eyJ2Ijo+/=\"}, "
			      "\"items\": [{\"metadata\": {\"name\": \"a\"}}, {\"metadata\": {\"name\": \"b\"}}]}",
			      "ServiceAccountList", &s, &next, &err), K8S_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[1], "b");
	assert_string_equal(next, "eyJ2Ijo%2B%2F%3D");
	free(next);
	/* Last page: no continue, or an empty one; Go writes no items as null. */
	assert_int_equal(page("{\"kind\": \"RoleList\", \"metadata\": {\"continue\": \"\"}, \"items\": null}",
			      "RoleList", &s, &next, &err), K8S_OK);
	assert_null(next);
	assert_int_equal(page("{\"kind\": \"RoleList\", \"metadata\": {}}", "RoleList", &s, &next, &err), K8S_OK);
	assert_null(next);
	assert_int_equal(s.n, 2);

	/* What is not the list asked for is no answer. */
	assert_int_equal(page("{\"kind\": \"Status\", \"items\": []}", "RoleList", &s, &next, &err),
			 K8S_UNAVAILABLE);
	assert_string_equal(err.detail, "expected a RoleList");
	assert_int_equal(page("{\"items\": []}", "RoleList", &s, &next, &err), K8S_UNAVAILABLE);
	assert_int_equal(page("{\"kind\": \"RoleList\", \"items\": {}}", "RoleList", &s, &next, &err),
			 K8S_UNAVAILABLE);
	assert_int_equal(page("{\"kind\": \"RoleList\", \"items\": [1]}", "RoleList", &s, &next, &err),
			 K8S_UNAVAILABLE);
	assert_string_equal(err.detail, "RoleList: items[0] is not an object");
	assert_int_equal(page("{\"kind\": \"RoleList\", \"metadata\": {\"continue\": 5}, \"items\": []}",
			      "RoleList", &s, &next, &err), K8S_UNAVAILABLE);
	assert_null(next);
	/* An item the caller refuses stops the page. */
	s.n = 0;
	s.fail_at = 1;
	assert_int_equal(page("{\"kind\": \"RoleList\", \"metadata\": {\"continue\": \"x\"}, \"items\": "
			      "[{\"metadata\": {\"name\": \"a\"}}, {}, {}]}", "RoleList", &s, &next, &err),
			 K8S_UNAVAILABLE);
	assert_int_equal(s.n, 1);
	assert_null(next);
}

static void test_query_escape(void **state)
{
	char *s = k8s_kubeapi_query_escape("aZ09-._~ +/=&?%#\xc3\xa9");

	assert_string_equal(s, "aZ09-._~%20%2B%2F%3D%26%3F%25%23%C3%A9");
	free(s);
	s = k8s_kubeapi_query_escape("");
	assert_string_equal(s, "");
	free(s);
}

/* ------------------------------------------------------- reading RBAC */

#define CFG_BASE \
	"accounts:\n" \
	"  uidRange: [%u, %u]\n" \
	"  gidRange: [%u, %u]\n" \
	"  users:\n" \
	"  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)$'\n" \
	"    local: '\\1.\\2'\n" \
	"  - match: '^([a-z][a-z0-9_-]*)@example\\.com$'\n" \
	"    local: '\\1'\n" \
	"  - match: '^admin$'\n" \
	"    local: root\n" \
	"  - match: '^(daemon)$'\n" \
	"    local: '\\1'\n" \
	"  - match: '^alias-(.*)$'\n" \
	"    local: 'ops.\\1'\n" \
	"  declared: [dana]\n" \
	"  groups:\n" \
	"  - match: '^oidc:team-(.*)$'\n" \
	"    local: 'k8s-\\1'\n" \
	"  - match: '^system:serviceaccounts:ops$'\n" \
	"    local: k8s-ops\n" \
	"  - match: '^oidc:admins$'\n" \
	"    local: sudo\n" \
	"  - match: '^oidc:root$'\n" \
	"    local: root\n" \
	"store: %s\n" \
	"sync:\n"

static struct k8s_config *cfg_with(const char *store, const char *sync)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;
	char *text;
	int n;

	n = asprintf(&text, CFG_BASE "%s", 200000u, 299999u, 200000u, 299999u,
		     store ? store : "/nonexistent", sync);
	assert_true(n > 0);
	if (k8s_config_parse(text, (size_t)n, "test.yaml", &cfg, &err) != K8S_OK)
		fail_msg("config refused: %s", err.detail);
	free(text);
	return cfg;
}

static void view(struct k8s_sync_view *v, const struct k8s_config *cfg)
{
	struct k8s_err err;

	assert_int_equal(k8s_sync_view_init(v, cfg, "web-1", &err), K8S_OK);
}

static int role(struct k8s_sync_view *v, const struct k8s_config *cfg, int cluster, const char *j)
{
	json_t *item = parse(j);
	struct k8s_err err;
	int rc;

	k8s_err_clear(&err);
	rc = k8s_sync_take_role(v, cfg, item, cluster, &err);
	json_decref(item);
	return rc;
}

static int binding(struct k8s_sync_view *v, const struct k8s_config *cfg, int cluster, const char *j)
{
	json_t *item = parse(j);
	struct k8s_err err;
	int rc;

	k8s_err_clear(&err);
	rc = k8s_sync_take_binding(v, cfg, item, cluster, &err);
	json_decref(item);
	return rc;
}

static int has(const struct k8s_strv *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

#define CR(name, rules) "{\"metadata\": {\"name\": \"" name "\"}, \"rules\": " rules "}"
#define R(ns, name, rules) \
	"{\"metadata\": {\"name\": \"" name "\", \"namespace\": \"" ns "\"}, \"rules\": " rules "}"

/* The RBAC authorizer's rule semantics, one aspect at a time. */
static void test_rules(void **state)
{
	struct k8s_config *cfg = cfg_with(NULL, "  namespaces: [ops]\n  rules:\n"
					  "  - {verb: login, resource: nodes, name: \"%h\"}\n"
					  "  - {verb: ssh, group: hosts.example.com, resource: hosts}\n");
	struct k8s_sync_view v;

	view(&v, cfg);
	assert_string_equal(v.rule_names[0], "web-1");
	assert_null(v.rule_names[1]);
	assert_int_equal(role(&v, cfg, 1, CR("exact", "[{\"apiGroups\": [\"\"], \"resources\": [\"nodes\"], "
					     "\"verbs\": [\"get\", \"login\"]}]")), K8S_OK);
	assert_int_equal(role(&v, cfg, 1, CR("wild", "[{\"apiGroups\": [\"*\"], \"resources\": [\"*\"], "
					     "\"verbs\": [\"*\"]}]")), K8S_OK);
	assert_int_equal(role(&v, cfg, 1, CR("named", "[{\"apiGroups\": [\"\"], \"resources\": [\"nodes\"], "
					     "\"verbs\": [\"login\"], \"resourceNames\": [\"db-1\", \"web-1\"]}]")),
			 K8S_OK);
	assert_int_equal(role(&v, cfg, 1, CR("other-host", "[{\"apiGroups\": [\"\"], \"resources\": "
					     "[\"nodes\"], \"verbs\": [\"login\"], \"resourceNames\": [\"db-1\"]}]")),
			 K8S_OK);
	assert_int_equal(role(&v, cfg, 1, CR("wrong-verb", "[{\"apiGroups\": [\"\"], \"resources\": "
					     "[\"nodes\"], \"verbs\": [\"get\", \"list\"]}]")), K8S_OK);
	assert_int_equal(role(&v, cfg, 1, CR("wrong-group", "[{\"apiGroups\": [\"apps\"], \"resources\": "
					     "[\"nodes\"], \"verbs\": [\"login\"]}]")), K8S_OK);
	assert_int_equal(role(&v, cfg, 1, CR("subresource", "[{\"apiGroups\": [\"\"], \"resources\": "
					     "[\"nodes/proxy\"], \"verbs\": [\"login\"]}]")), K8S_OK);
	assert_int_equal(role(&v, cfg, 1, CR("urls", "[{\"nonResourceURLs\": [\"*\"], \"verbs\": [\"*\"]}]")),
			 K8S_OK);
	assert_int_equal(role(&v, cfg, 1, CR("norules", "null")), K8S_OK);
	assert_int_equal(role(&v, cfg, 1, "{\"metadata\": {\"name\": \"aggregated\"}}"), K8S_OK);
	/* sync.rules[1] has no name: a role limited to some names grants it
	 * for those only, so not "any host". */
	assert_int_equal(role(&v, cfg, 0, R("ops", "ssh-any", "[{\"apiGroups\": [\"hosts.example.com\"], "
					    "\"resources\": [\"hosts\"], \"verbs\": [\"ssh\"]}]")), K8S_OK);
	assert_int_equal(role(&v, cfg, 0, R("ops", "ssh-some", "[{\"apiGroups\": [\"hosts.example.com\"], "
					    "\"resources\": [\"hosts\"], \"verbs\": [\"ssh\"], "
					    "\"resourceNames\": [\"web-1\"]}]")), K8S_OK);
	assert_int_equal(v.n_roles, 12);
	assert_int_equal(v.roles.n, 4);
	assert_true(has(&v.roles, "ClusterRole/exact"));
	assert_true(has(&v.roles, "ClusterRole/wild"));
	assert_true(has(&v.roles, "ClusterRole/named"));
	assert_true(has(&v.roles, "Role/ops/ssh-any"));

	/* Malformed: the whole answer is refused. */
	assert_int_equal(role(&v, cfg, 1, CR("bad", "[{\"verbs\": \"login\"}]")), K8S_UNAVAILABLE);
	assert_int_equal(role(&v, cfg, 1, CR("bad", "[{\"verbs\": [1]}]")), K8S_UNAVAILABLE);
	assert_int_equal(role(&v, cfg, 1, CR("bad", "[\"rule\"]")), K8S_UNAVAILABLE);
	assert_int_equal(role(&v, cfg, 1, CR("bad", "{}")), K8S_UNAVAILABLE);
	assert_int_equal(role(&v, cfg, 1, CR("bad", "[{\"verbs\": [\"login\"], \"apiGroups\": [\"\"], "
					   "\"resources\": [\"nodes\"], \"resourceNames\": \"web-1\"}]")),
			 K8S_UNAVAILABLE);
	assert_int_equal(role(&v, cfg, 1, "{\"metadata\": {}}"), K8S_UNAVAILABLE);
	assert_int_equal(role(&v, cfg, 0, CR("no-namespace", "[]")), K8S_UNAVAILABLE);
	k8s_sync_view_free(&v);
	k8s_config_free(cfg);
}

#define RB(ns, name, kind, role, subjects) \
	"{\"metadata\": {\"name\": \"" name "\", \"namespace\": \"" ns "\"}, \"roleRef\": " \
	"{\"apiGroup\": \"rbac.authorization.k8s.io\", \"kind\": \"" kind "\", \"name\": \"" role "\"}, " \
	"\"subjects\": " subjects "}"
#define CRB(name, role, subjects) \
	"{\"metadata\": {\"name\": \"" name "\"}, \"roleRef\": " \
	"{\"apiGroup\": \"rbac.authorization.k8s.io\", \"kind\": \"ClusterRole\", \"name\": \"" role "\"}, " \
	"\"subjects\": " subjects "}"
#define SA(ns, n) "{\"kind\": \"ServiceAccount\", \"name\": \"" n "\", \"namespace\": \"" ns "\"}"
#define USER(n) "{\"kind\": \"User\", \"apiGroup\": \"rbac.authorization.k8s.io\", \"name\": \"" n "\"}"
#define GROUP(n) "{\"kind\": \"Group\", \"apiGroup\": \"rbac.authorization.k8s.io\", \"name\": \"" n "\"}"

static void test_bindings(void **state)
{
	struct k8s_config *cfg = cfg_with(NULL, "  namespaces: [ops]\n  clusterRoles: [host-login]\n"
					  "  rules: [{verb: login, resource: nodes}]\n");
	struct k8s_sync_view v;

	view(&v, cfg);
	assert_int_equal(role(&v, cfg, 0, R("ops", "login", "[{\"apiGroups\": [\"\"], \"resources\": "
					    "[\"nodes\"], \"verbs\": [\"login\"]}]")), K8S_OK);
	assert_int_equal(role(&v, cfg, 1, CR("node-login", "[{\"apiGroups\": [\"\"], \"resources\": "
					     "[\"nodes\"], \"verbs\": [\"login\"]}]")), K8S_OK);
	/* By name, by rules (Role in the binding's namespace, ClusterRole). */
	assert_int_equal(binding(&v, cfg, 1, CRB("a", "host-login", "[" USER("alice@example.com") ", "
						 SA("ci", "deployer") ", " GROUP("oidc:team-db") "]")), K8S_OK);
	assert_int_equal(binding(&v, cfg, 0, RB("ops", "b", "Role", "login", "[" SA("ops", "bob") "]")),
			 K8S_OK);
	assert_int_equal(binding(&v, cfg, 0, RB("ops", "c", "ClusterRole", "node-login",
						"[{\"kind\": \"ServiceAccount\", \"name\": \"carol\"}]")), K8S_OK);
	assert_int_equal(binding(&v, cfg, 0, RB("ops", "d", "ClusterRole", "host-login",
						"[" USER("dave@example.com") "]")), K8S_OK);
	/* Not granting: another role, a Role of that name elsewhere, an
	 * unknown kind, no subjects. */
	assert_int_equal(binding(&v, cfg, 1, CRB("e", "view", "[" USER("eve@example.com") "]")), K8S_OK);
	assert_int_equal(binding(&v, cfg, 0, RB("dev", "f", "Role", "login", "[" USER("frank@example.com") "]")),
			 K8S_OK);
	assert_int_equal(binding(&v, cfg, 0, RB("ops", "g", "Something", "login", "[" USER("gina@example.com") "]")),
			 K8S_OK);
	assert_int_equal(binding(&v, cfg, 1, CRB("h", "host-login", "null")), K8S_OK);
	/* A ClusterRoleBinding's ServiceAccount without a namespace names nobody. */
	assert_int_equal(binding(&v, cfg, 1, CRB("i", "host-login", "[{\"kind\": \"ServiceAccount\", "
						 "\"name\": \"orphan\"}]")), K8S_OK);
	assert_int_equal(v.n_bindings, 9);
	assert_int_equal(v.n_granting, 6);
	assert_int_equal(v.users.n, 5);
	assert_true(has(&v.users, "alice@example.com"));
	assert_true(has(&v.users, "system:serviceaccount:ci:deployer"));
	assert_true(has(&v.users, "system:serviceaccount:ops:bob"));
	assert_true(has(&v.users, "system:serviceaccount:ops:carol"));
	assert_true(has(&v.users, "dave@example.com"));
	assert_int_equal(v.groups.n, 1);
	assert_true(has(&v.groups, "oidc:team-db"));

	assert_int_equal(binding(&v, cfg, 1, "{\"metadata\": {\"name\": \"x\"}}"), K8S_UNAVAILABLE);
	assert_int_equal(binding(&v, cfg, 1, CRB("x", "host-login", "[{\"kind\": \"User\"}]")), K8S_UNAVAILABLE);
	assert_int_equal(binding(&v, cfg, 1, CRB("x", "host-login", "[1]")), K8S_UNAVAILABLE);
	assert_int_equal(binding(&v, cfg, 1, CRB("x", "host-login", "{}")), K8S_UNAVAILABLE);
	assert_int_equal(binding(&v, cfg, 0, CRB("no-namespace", "host-login", "[]")), K8S_UNAVAILABLE);
	k8s_sync_view_free(&v);
	k8s_config_free(cfg);
}

static void take_sa(struct k8s_sync_view *v, const char *ns, const char *name)
{
	struct k8s_err err;
	json_t *j = json_pack("{s:{s:s, s:s, s:s}}", "metadata", "name", name, "namespace", ns,
			      "uid", "u-1");

	assert_int_equal(k8s_sync_take_sa(v, j, &err), K8S_OK);
	json_decref(j);
}

static void test_service_accounts(void **state)
{
	struct k8s_sync_view v;
	struct k8s_err err;
	json_t *j = parse("{\"metadata\": {\"name\": \"x\"}}");

	memset(&v, 0, sizeof(v));
	take_sa(&v, "ops", "alice");
	assert_string_equal(v.sas.v[0], "system:serviceaccount:ops:alice");
	assert_int_equal(k8s_sync_take_sa(&v, j, &err), K8S_UNAVAILABLE);
	json_decref(j);
	k8s_sync_view_free(&v);
}

/* ---------------------------------------------------------------- plan */

static struct k8s_sync_account *account(struct k8s_sync_plan *p, const char *local)
{
	size_t i;

	for (i = 0; i < p->n_accounts; i++)
		if (strcmp(p->accounts[i].local, local) == 0)
			return &p->accounts[i];
	return NULL;
}

static int noted(const struct k8s_sync_plan *p, const char *needle)
{
	size_t i;

	for (i = 0; i < p->notes.n; i++)
		if (strstr(p->notes.v[i], needle) != NULL)
			return 1;
	return 0;
}

static void grant_user(struct k8s_sync_view *v, const char *u)
{
	char *s = strdup(u);

	assert_non_null(s);
	if (v->users.n == v->users.cap) {
		v->users.cap = v->users.cap ? 2 * v->users.cap : 16;
		v->users.v = realloc(v->users.v, v->users.cap * sizeof(char *));
	}
	v->users.v[v->users.n++] = s;
}

static void grant_group(struct k8s_sync_view *v, const char *g)
{
	if (v->groups.n == v->groups.cap) {
		v->groups.cap = v->groups.cap ? 2 * v->groups.cap : 16;
		v->groups.v = realloc(v->groups.v, v->groups.cap * sizeof(char *));
	}
	v->groups.v[v->groups.n++] = strdup(g);
}

static void test_plan(void **state)
{
	struct k8s_config *cfg = cfg_with(NULL, "  namespaces: [ops]\n  clusterRoles: [host-login]\n");
	struct k8s_sync_plan p;
	struct k8s_sync_view v;
	struct k8s_sync_account *a;
	struct k8s_err err;

	view(&v, cfg);
	grant_user(&v, "alice@example.com");
	grant_user(&v, "alice@example.com");                   /* twice: one account */
	grant_user(&v, "system:serviceaccount:ops:bob");
	grant_user(&v, "system:serviceaccount:ci:deployer");
	grant_user(&v, "alias-bob");                           /* maps to ops.bob as well */
	grant_user(&v, "system:kube-scheduler");               /* policy.denyUsernames */
	grant_user(&v, "someone@elsewhere.org");               /* no rule */
	grant_user(&v, "admin");                               /* maps to root */
	grant_user(&v, "Bad@example.com");                     /* no rule (case) */
	grant_group(&v, "oidc:team-db");
	grant_group(&v, "oidc:admins");
	grant_group(&v, "oidc:unmapped");
	grant_group(&v, "oidc:team-Bad");                      /* maps to an invalid name */
	take_sa(&v, "ops", "carol");                           /* listed, but not granted */
	assert_int_equal(k8s_sync_plan(cfg, &v, &p, &err), K8S_OK);
	assert_int_equal(p.n_accounts, 3);
	assert_string_equal(p.accounts[0].local, "alice");
	assert_string_equal(p.accounts[1].local, "ci.deployer");
	assert_string_equal(p.accounts[2].local, "ops.bob");
	assert_int_equal(account(&p, "alice")->n_groups, 0);
	/* A ServiceAccount's groups are known: system:serviceaccounts:ops -> k8s-ops. */
	a = account(&p, "ops.bob");
	assert_int_equal(a->n_groups, 1);
	assert_string_equal(a->groups[0].name, "k8s-ops");
	assert_false(a->groups[0].templated);
	assert_int_equal(account(&p, "ci.deployer")->n_groups, 0);
	assert_null(account(&p, "ops.carol"));
	assert_true(noted(&p, "system:kube-scheduler: denied by policy.denyUsernames"));
	assert_true(noted(&p, "someone@elsewhere.org: no mapping rule matches"));
	assert_true(noted(&p, "admin: maps to root and login.allowRoot is false"));
	assert_true(noted(&p, "Bad@example.com: no mapping rule matches"));
	assert_true(noted(&p, "maps to an account another identity also maps to"));
	assert_int_equal(p.n_notes, 5);
	assert_int_equal(p.n_groups, 2);
	assert_string_equal(p.groups[0].name, "sudo");
	assert_false(p.groups[0].templated);
	assert_string_equal(p.groups[1].name, "k8s-db");
	assert_true(p.groups[1].templated);
	k8s_sync_plan_free(&p);
	k8s_sync_view_free(&v);

	/* Group subjects that stand for a namespace's ServiceAccounts. */
	view(&v, cfg);
	take_sa(&v, "ops", "carol");
	take_sa(&v, "ops", "dan");
	grant_group(&v, "system:serviceaccounts:ops");
	assert_int_equal(k8s_sync_plan(cfg, &v, &p, &err), K8S_OK);
	assert_int_equal(p.n_accounts, 2);
	assert_non_null(account(&p, "ops.carol"));
	assert_string_equal(account(&p, "ops.dan")->groups[0].name, "k8s-ops");
	k8s_sync_plan_free(&p);
	k8s_sync_view_free(&v);
	k8s_config_free(cfg);

	/* serviceAccounts: true takes every listed one. */
	cfg = cfg_with(NULL, "  namespaces: [ops]\n  serviceAccounts: true\n");
	view(&v, cfg);
	take_sa(&v, "ops", "erin");
	take_sa(&v, "ops", "frank");
	assert_int_equal(k8s_sync_plan(cfg, &v, &p, &err), K8S_OK);
	assert_int_equal(p.n_accounts, 2);
	k8s_sync_plan_free(&p);
	/* No view: the cluster grants nothing. */
	assert_int_equal(k8s_sync_plan(cfg, NULL, &p, &err), K8S_OK);
	assert_int_equal(p.n_accounts, 0);
	k8s_sync_plan_free(&p);
	k8s_sync_view_free(&v);
	k8s_config_free(cfg);
}

/* --------------------------------------------------- apply and diff */

struct fx {
	char dir[64];
	char store[96];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/k8s-sync-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

struct result {
	struct k8s_sync_diff diff;
	struct k8s_sync_plan plan;
	uint64_t generation;
	int changed;
};

/* One `k8s-auth sync` run as the CLI does it: the users and groups the
 * cluster grants, apply, commit when the diff says something changed. */
static void run_sync(const struct k8s_config *cfg, const char *store, const char *const *users,
		     const char *const *groups, struct result *r)
{
	struct k8s_sync_snap before, after;
	struct k8s_sync_view v;
	struct k8s_store *st = NULL;
	struct k8s_err err;

	memset(r, 0, sizeof(*r));
	view(&v, cfg);
	for (; users != NULL && *users != NULL; users++)
		grant_user(&v, *users);
	for (; groups != NULL && *groups != NULL; groups++)
		grant_group(&v, *groups);
	assert_int_equal(k8s_sync_plan(cfg, &v, &r->plan, &err), K8S_OK);
	k8s_err_clear(&err);
	assert_int_equal(k8s_store_open(store, 1, &st, &err), K8S_OK);
	assert_int_equal(k8s_store_load_all(st, &err), K8S_OK);
	assert_int_equal(k8s_sync_snapshot(st, &before), 0);
	assert_int_equal(k8s_store_apply_declared(st, cfg, &err), K8S_OK);
	if (k8s_sync_apply(st, cfg, &r->plan, &err) != K8S_OK)
		fail_msg("apply: %s", err.detail);
	assert_int_equal(k8s_sync_snapshot(st, &after), 0);
	assert_int_equal(k8s_sync_diff(&before, &after, &r->diff), 0);
	r->changed = r->diff.lines.n > 0;
	if (r->changed)
		assert_int_equal(k8s_store_commit(st, &err), K8S_OK);
	r->generation = st->generation;
	k8s_sync_snap_free(&before);
	k8s_sync_snap_free(&after);
	k8s_store_close(st);
	k8s_sync_view_free(&v);
}

static void result_free(struct result *r)
{
	k8s_sync_diff_free(&r->diff);
	k8s_sync_plan_free(&r->plan);
}

static int line_is(const struct result *r, const char *want)
{
	size_t i;

	for (i = 0; i < r->diff.lines.n; i++)
		if (strcmp(r->diff.lines.v[i], want) == 0)
			return 1;
	return 0;
}

/* A diff line equal to want, or starting with it when want ends in '*'. */
static void assert_line(const struct result *r, const char *want)
{
	size_t i, n = strlen(want);

	if (line_is(r, want))
		return;
	for (i = 0; n > 0 && want[n - 1] == '*' && i < r->diff.lines.n; i++)
		if (strncmp(r->diff.lines.v[i], want, n - 1) == 0)
			return;
	for (i = 0; i < r->diff.lines.n; i++)
		fprintf(stderr, "  diff: %s\n", r->diff.lines.v[i]);
	fail_msg("no diff line \"%s\"", want);
}

static struct k8s_store_user *user(struct k8s_store *st, const char *name)
{
	return k8s_store_find_user(st, name);
}

static void login(const struct k8s_config *cfg, const char *store, const char *local,
		  const char *username, const char *uid)
{
	struct k8s_identity id;
	struct k8s_store *st = NULL;
	struct k8s_err err;
	char *binding;

	memset(&id, 0, sizeof(id));
	id.method = "tokenreview";
	id.username = strdup(username);
	id.uid = strdup(uid);
	assert_int_equal(k8s_identity_binding(&id, &binding, &err), K8S_OK);
	assert_int_equal(k8s_store_open(store, 1, &st, &err), K8S_OK);
	assert_int_equal(k8s_store_record_login(st, cfg, local, binding, &id, NULL, 0, time(NULL), &err),
			 K8S_OK);
	assert_int_equal(k8s_store_commit(st, &err), K8S_OK);
	k8s_store_close(st);
	free(binding);
	k8s_identity_free(&id);
}

static void test_apply_and_diff(void **state)
{
	struct fx *f = *state;
	struct k8s_config *cfg = cfg_with(f->store, "  namespaces: [ops]\n  clusterRoles: [host-login]\n");
	static const char *const u1[] = {"alice@example.com", "system:serviceaccount:ops:bob",
		"daemon", "dana@example.com", NULL};
	static const char *const g1[] = {"oidc:team-db", "oidc:admins", NULL};
	static const char *const u2[] = {"system:serviceaccount:ops:bob", NULL};
	struct k8s_store *st = NULL;
	struct k8s_err err;
	struct result r;
	uint64_t gen;

	/* First run: accounts and groups appear. */
	run_sync(cfg, f->store, u1, g1, &r);
	assert_true(r.changed);
	assert_int_equal(r.diff.accounts_added, 3); /* alice, ops.bob, dana (declared and synced) */
	assert_line(&r, "+ account alice uid *");
	assert_line(&r, "+ account dana uid *");
	assert_line(&r, "+ account ops.bob uid *");
	assert_line(&r, "+ group k8s-db gid *");
	assert_line(&r, "+ group k8s-ops gid *");
	assert_int_equal(r.diff.lines.n, 5);
	assert_int_equal(r.diff.groups_added, 2); /* k8s-db (synced), k8s-ops (declared) */
	/* daemon is a local account: never taken over. */
	assert_true(noted(&r.plan, "daemon: "));
	gen = r.generation;
	result_free(&r);
	assert_int_equal(k8s_store_open(f->store, 0, &st, &err), K8S_OK);
	assert_int_equal(user(st, "alice")->sources, K8S_SRC_SYNCED);
	assert_int_equal(user(st, "dana")->sources, K8S_SRC_DECLARED | K8S_SRC_SYNCED);
	assert_int_equal(user(st, "ops.bob")->n_groups, 1);
	assert_int_equal(user(st, "ops.bob")->groups[0].sources, K8S_SRC_SYNCED);
	assert_null(user(st, "daemon"));
	assert_non_null(k8s_store_find_group(st, "k8s-db"));
	assert_true(k8s_store_find_group(st, "k8s-db")->sources & K8S_SRC_GROUP_SYNCED);
	assert_null(k8s_store_find_group(st, "sudo")); /* an existing local group: never a store group */
	k8s_store_close(st);

	/* The same again: nothing to write, the generation stays. */
	run_sync(cfg, f->store, u1, g1, &r);
	assert_false(r.changed);
	assert_int_equal(r.generation, gen);
	result_free(&r);

	/* Logins in between (a delta commit): k8s-db keeps existing with no
	 * members, and the next sync sees no change. */
	login(cfg, f->store, "alice", "alice@example.com", "uid-alice");
	login(cfg, f->store, "dana", "dana@example.com", "uid-dana");
	assert_int_equal(k8s_store_open(f->store, 0, &st, &err), K8S_OK);
	assert_non_null(k8s_store_find_group(st, "k8s-db"));
	assert_int_equal(user(st, "alice")->sources, K8S_SRC_SYNCED | K8S_SRC_LOGIN);
	gen = st->generation;
	k8s_store_close(st);
	run_sync(cfg, f->store, u1, g1, &r);
	assert_false(r.changed);
	assert_int_equal(r.generation, gen);
	result_free(&r);

	/* The cluster takes alice, dana and the group away: alice goes whole
	 * (her login does not keep her), dana stays declared and bound. */
	run_sync(cfg, f->store, u2, NULL, &r);
	assert_true(r.changed);
	assert_line(&r, "- account alice uid *");
	assert_non_null(strstr(r.diff.lines.v[0], "(was synced,login, bound)"));
	assert_line(&r, "~ account dana: declared,synced,login -> declared,login");
	assert_line(&r, "- group k8s-db gid *");
	assert_int_equal(r.diff.lines.n, 3);
	result_free(&r);
	assert_int_equal(k8s_store_open(f->store, 0, &st, &err), K8S_OK);
	assert_null(user(st, "alice"));
	assert_null(k8s_store_find_group(st, "alice"));
	assert_null(k8s_store_find_group(st, "k8s-db"));
	assert_non_null(user(st, "dana")->binding);
	assert_non_null(user(st, "ops.bob"));
	assert_non_null(k8s_store_find_group(st, "k8s-ops")); /* declared */
	k8s_store_close(st);

	/* Granted again later: a fresh account, unbound, same uid (a pure
	 * function of the name). */
	run_sync(cfg, f->store, u1, NULL, &r);
	assert_line(&r, "+ account alice uid *");
	assert_line(&r, "~ account dana: declared,login -> declared,synced,login");
	result_free(&r);
	assert_int_equal(k8s_store_open(f->store, 0, &st, &err), K8S_OK);
	assert_null(user(st, "alice")->binding);
	k8s_store_close(st);
	k8s_config_free(cfg);
}

/* The cluster goes quiet (no `sync:` section any more): everything sync
 * brought goes, declared and login-only accounts stay. */
static void test_sync_section_removed(void **state)
{
	struct fx *f = *state;
	struct k8s_config *cfg = cfg_with(f->store, "  clusterRoles: [host-login]\n");
	static const char *const u[] = {"alice@example.com", "dana@example.com",
		"system:serviceaccount:ops:bob", NULL};
	static const char *const g[] = {"oidc:team-db", NULL};
	struct k8s_store *st = NULL;
	struct k8s_sync_plan p;
	struct k8s_err err;
	struct result r;

	run_sync(cfg, f->store, u, g, &r);
	result_free(&r);
	login(cfg, f->store, "ops.bob", "system:serviceaccount:ops:bob", "uid-bob");
	/* Login-only: an account sync never had (declared once, then not). */
	login(cfg, f->store, "dana", "dana@example.com", "uid-dana");
	assert_int_equal(k8s_store_open(f->store, 1, &st, &err), K8S_OK);
	assert_int_equal(k8s_store_apply_declared(st, cfg, &err), K8S_OK);
	assert_int_equal(k8s_sync_plan(cfg, NULL, &p, &err), K8S_OK);
	assert_int_equal(k8s_sync_apply(st, cfg, &p, &err), K8S_OK);
	assert_int_equal(k8s_store_commit(st, &err), K8S_OK);
	k8s_sync_plan_free(&p);
	k8s_store_close(st);
	assert_int_equal(k8s_store_open(f->store, 0, &st, &err), K8S_OK);
	assert_null(user(st, "alice"));
	assert_null(user(st, "ops.bob"));
	assert_null(k8s_store_find_group(st, "k8s-db"));
	assert_int_equal(user(st, "dana")->sources, K8S_SRC_DECLARED | K8S_SRC_LOGIN);
	k8s_store_close(st);
	k8s_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_page),
		cmocka_unit_test(test_query_escape),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_bindings),
		cmocka_unit_test(test_service_accounts),
		cmocka_unit_test(test_plan),
		cmocka_unit_test_setup_teardown(test_apply_and_diff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_section_removed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
