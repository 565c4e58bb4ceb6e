/* fuzz_sync: what `k8s-auth sync` and the SubjectAccessReview parse from
 * the apiserver.  Input: one selector byte, then a JSON answer body.  The
 * selector picks how the answer is read: as a page of ClusterRoles,
 * Roles, ClusterRoleBindings, RoleBindings or ServiceAccounts (each item
 * through sync.c, then the plan), or as a SubjectAccessReview.  Checks the
 * promises: only OK/UNAVAILABLE come back, messages are terminated, and a
 * plan names only valid local accounts, sorted and unique. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "kubeapi.h"
#include "mapping.h"
#include "sar.h"
#include "sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CONFIG[] =
	"accounts:\n"
	"  users:\n"
	"  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)$'\n"
	"    local: '\\1.\\2'\n"
	"  - match: '^([a-z][a-z0-9_-]*)@example\\.com$'\n"
	"    local: '\\1'\n"
	"  groups:\n"
	"  - match: '^system:serviceaccounts:ops$'\n"
	"    local: k8s-ops\n"
	"  - match: '^oidc:team-(.*)$'\n"
	"    local: 'k8s-\\1'\n"
	"sync:\n"
	"  namespaces: [ops]\n"
	"  clusterRoles: [host-login]\n"
	"  rules:\n"
	"  - {verb: login, resource: nodes, name: \"%h\"}\n"
	"  - {verb: ssh, group: hosts.example.com, resource: hosts}\n";

static const char *const kinds[] = {"ClusterRoleList", "RoleList", "ClusterRoleBindingList",
	"RoleBindingList", "ServiceAccountList"};

struct ctx {
	struct k8s_sync_view *v;
	const struct k8s_config *cfg;
	int which;
};

static int take(json_t *item, void *ud, struct k8s_err *err)
{
	struct ctx *c = ud;

	switch (c->which) {
	case 0: return k8s_sync_take_role(c->v, c->cfg, item, 1, err);
	case 1: return k8s_sync_take_role(c->v, c->cfg, item, 0, err);
	case 2: return k8s_sync_take_binding(c->v, c->cfg, item, 1, err);
	case 3: return k8s_sync_take_binding(c->v, c->cfg, item, 0, err);
	default: return k8s_sync_take_sa(c->v, item, err);
	}
}

static void check_err(int rc, const struct k8s_err *err)
{
	if (rc != K8S_OK && rc != K8S_REFUSED && rc != K8S_UNAVAILABLE)
		abort();
	if (rc != K8S_OK && (err->status != rc || memchr(err->detail, '\0', sizeof(err->detail)) == NULL))
		abort();
}

static void check_plan(const struct k8s_sync_plan *p)
{
	size_t i, j;

	for (i = 0; i < p->n_accounts; i++) {
		if (!k8s_valid_local_name(p->accounts[i].local))
			abort();
		if (i > 0 && strcmp(p->accounts[i - 1].local, p->accounts[i].local) >= 0)
			abort();
		for (j = 0; j < p->accounts[i].n_groups; j++)
			if (!k8s_valid_local_name(p->accounts[i].groups[j].name))
				abort();
	}
	for (i = 0; i < p->n_groups; i++)
		if (!k8s_valid_local_name(p->groups[i].name))
			abort();
}

static void read_page(const struct k8s_config *cfg, json_t *root, int which)
{
	struct k8s_sync_view v;
	struct k8s_sync_plan plan;
	struct k8s_err err;
	struct ctx c = {&v, cfg, which};
	char *next = NULL;
	int rc;

	k8s_err_clear(&err);
	if (k8s_sync_view_init(&v, cfg, "web-1", &err) != K8S_OK)
		abort();
	rc = k8s_kubeapi_list_page(root, kinds[which], take, &c, &next, &err);
	check_err(rc, &err);
	if (rc != K8S_OK && next != NULL)
		abort();
	free(next);
	if (rc == K8S_OK) {
		rc = k8s_sync_plan(cfg, &v, &plan, &err);
		if (rc != K8S_OK)
			abort();
		check_plan(&plan);
		k8s_sync_plan_free(&plan);
	}
	k8s_sync_view_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct k8s_config *cfg;
	struct k8s_err err;
	json_t *root;
	int which, rc;

	if (cfg == NULL && k8s_config_parse(CONFIG, strlen(CONFIG), "fuzz.yaml", &cfg, &err) != K8S_OK)
		abort();
	if (size < 1)
		return 0;
	which = data[0] % 6;
	root = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
	if (root == NULL)
		return 0;
	if (which < 5) {
		read_page(cfg, root, which);
	} else {
		k8s_err_clear(&err);
		rc = k8s_sar_parse_response(root, &err);
		check_err(rc, &err);
	}
	json_decref(root);
	return 0;
}
