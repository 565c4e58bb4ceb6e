/* fuzz_watch: what `k8s-auth sync --watch` reads from a watch stream.
 * Input: a selector byte (the collection: ClusterRoles, Roles,
 * ClusterRoleBindings, RoleBindings, ServiceAccounts), a chunk-size byte
 * (how the bytes arrive: 1..256 at a time, as TLS records cut them), then
 * the stream.  It goes through http.c's line splitter (a small line limit,
 * so overlong lines are exercised) and syncwatch.c's event reader, which
 * stop at the first malformed or 410 event as the watch thread does; the
 * objects kept then go through the view and the plan a batch builds.
 * Checks: lines never hold '\n' nor exceed the limit, the reader answers
 * only 0/1/-1, the kept resourceVersion is terminated and short, only
 * OK/UNAVAILABLE come back, and a plan names only valid local accounts,
 * sorted and unique. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "http.h"
#include "mapping.h"
#include "sync.h"
#include "syncwatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINE 2048

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

struct feed {
	struct k8s_wcoll *c;
	int last;  /* the reader's last answer */
};

static int on_line(const char *line, size_t len, void *ud)
{
	struct feed *f = ud;

	if (len > MAX_LINE || memchr(line, '\n', len) != NULL || line[len] != '\0')
		abort();
	f->last = k8s_watch_apply_line(f->c, line, len);
	if (f->last != 0 && f->last != 1 && f->last != -1)
		abort();
	if (memchr(f->c->rv, '\0', sizeof(f->c->rv)) == NULL)
		abort();
	return f->last == 0 ? 0 : 1;
}

static void check_plan(const struct k8s_sync_plan *p)
{
	size_t i;

	for (i = 0; i < p->n_accounts; i++) {
		if (!k8s_valid_local_name(p->accounts[i].local))
			abort();
		if (i > 0 && strcmp(p->accounts[i - 1].local, p->accounts[i].local) >= 0)
			abort();
	}
	for (i = 0; i < p->n_groups; i++)
		if (!k8s_valid_local_name(p->groups[i].name))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct k8s_config *cfg;
	static const enum k8s_wkind kinds[] = {K8S_W_CROLE, K8S_W_ROLE, K8S_W_CRB, K8S_W_RB, K8S_W_SA};
	struct k8s_linesplit ls = {.max = MAX_LINE};
	struct k8s_wcoll c;
	struct k8s_sync_view v;
	struct k8s_sync_plan plan;
	struct k8s_err err;
	struct feed f;
	size_t chunk, off;
	int r = 0, rc;

	if (cfg == NULL && k8s_config_parse(CONFIG, strlen(CONFIG), "fuzz.yaml", &cfg, &err) != K8S_OK)
		abort();
	if (size < 2)
		return 0;
	memset(&c, 0, sizeof(c));
	c.kind = kinds[data[0] % 5];
	snprintf(c.path, sizeof(c.path), "/fuzz");
	c.objs = json_object();
	if (c.objs == NULL)
		return 0;
	chunk = (size_t)data[1] + 1;
	f.c = &c;
	f.last = 0;
	for (off = 2; off < size && r == 0; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		r = k8s_linesplit_feed(&ls, (const char *)data + off, n, on_line, &f);
		if (r != 0 && r != -1 && r != 1)
			abort();
	}
	k8s_linesplit_free(&ls);
	k8s_err_clear(&err);
	if (k8s_sync_view_init(&v, cfg, "web-1", &err) != K8S_OK)
		abort();
	rc = k8s_watch_view(&c, 1, cfg, &v, &err);
	if (rc != K8S_OK && (rc != K8S_UNAVAILABLE || memchr(err.detail, '\0', sizeof(err.detail)) == NULL))
		abort();
	if (rc == K8S_OK) {
		if (k8s_sync_plan(cfg, &v, &plan, &err) != K8S_OK)
			abort();
		check_plan(&plan);
		k8s_sync_plan_free(&plan);
	}
	k8s_sync_view_free(&v);
	json_decref(c.objs);
	return 0;
}
