/* syncdiff.c: what a sync changes, as the administrator reads it, and
 * whether it changes anything at all (an idle sync writes nothing).
 *
 * A snapshot holds every account (uid, gid, sources, binding, memberships
 * with their sources) and every store group as a commit would leave it:
 * members derived from the accounts, kept when it has members or standing
 * of its own (declared, or defined by sync).  Deriving both sides the same
 * way makes the comparison independent of how the model was loaded. */
#include "sync.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct k8s_sync_snap_ent {
	int group;                 /* 0 account, 1 group */
	char name[K8S_LOCAL_NAME_MAX + 1];
	uint32_t id;               /* uid / gid */
	uint32_t gid;              /* accounts: private group */
	uint32_t sources;          /* groups: standing (DECLARED, GROUP_SYNCED) */
	char *binding;             /* accounts; NULL = unbound */
	char **groups;             /* accounts: "name:sources", sorted; groups: member names */
	size_t n_groups;
};

const char *k8s_sync_sources_text(uint32_t s, char buf[32])
{
	snprintf(buf, 32, "%s%s%s%s%s", s & K8S_SRC_DECLARED ? "declared" : "",
		 (s & K8S_SRC_DECLARED) && (s & (K8S_SRC_SYNCED | K8S_SRC_LOGIN)) ? "," : "",
		 s & K8S_SRC_SYNCED ? "synced" : "",
		 (s & K8S_SRC_SYNCED) && (s & K8S_SRC_LOGIN) ? "," : "",
		 s & K8S_SRC_LOGIN ? "login" : "");
	if (buf[0] == '\0')
		snprintf(buf, 32, "none");
	return buf;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct k8s_sync_snap_ent *x = a, *y = b;

	if (x->group != y->group)
		return x->group - y->group;
	return strcmp(x->name, y->name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int take_account(struct k8s_sync_snap_ent *e, const struct k8s_store_user *u)
{
	size_t i;

	snprintf(e->name, sizeof(e->name), "%s", u->name);
	e->id = (uint32_t)u->uid;
	e->gid = (uint32_t)u->gid;
	e->sources = u->sources;
	if (u->binding != NULL && (e->binding = strdup(u->binding)) == NULL)
		return -1;
	e->groups = calloc(u->n_groups + 1, sizeof(char *));
	if (e->groups == NULL)
		return -1;
	for (i = 0; i < u->n_groups; i++) {
		if (asprintf(&e->groups[i], "%s:%u", u->groups[i].group,
			     (unsigned)u->groups[i].sources) < 0)
			return -1;
		e->n_groups++;
	}
	k8s_qsort(e->groups, e->n_groups, sizeof(char *), cmp_str);
	return 0;
}

struct pair {
	const char *group, *user;
};

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int r = strcmp(x->group, y->group);

	return r != 0 ? r : strcmp(x->user, y->user);
}

/* Every (group, member) the accounts name, sorted: members per group in
 * O(log n) instead of a scan of every account per group. */
static struct pair *member_pairs(const struct k8s_store *st, size_t *n)
{
	struct pair *p;
	size_t i, j, total = 0;

	for (i = 0; i < st->n_users; i++)
		total += st->users[i]->n_groups;
	p = calloc(total + 1, sizeof(*p));
	if (p == NULL)
		return NULL;
	*n = 0;
	for (i = 0; i < st->n_users; i++)
		for (j = 0; j < st->users[i]->n_groups; j++) {
			p[*n].group = st->users[i]->groups[j].group;
			p[(*n)++].user = st->users[i]->name;
		}
	k8s_qsort(p, *n, sizeof(*p), cmp_pair);
	return p;
}

static int take_members(struct k8s_sync_snap_ent *e, const struct pair *p, size_t n)
{
	size_t lo = 0, hi = n, mid, k;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(p[mid].group, e->name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (k = lo; k < n && strcmp(p[k].group, e->name) == 0; k++)
		;
	e->groups = calloc(k - lo + 1, sizeof(char *));
	if (e->groups == NULL)
		return -1;
	for (; lo < k; lo++)
		if ((e->groups[e->n_groups++] = strdup(p[lo].user)) == NULL)
			return -1;
	return 0;
}

int k8s_sync_snapshot(const struct k8s_store *st, struct k8s_sync_snap *snap)
{
	struct k8s_sync_snap_ent *e;
	const struct k8s_store_group *g;
	struct pair *pairs = NULL;
	size_t i, n_pairs = 0;

	memset(snap, 0, sizeof(*snap));
	snap->v = calloc(st->n_users + st->n_groups + 1, sizeof(*snap->v));
	pairs = member_pairs(st, &n_pairs);
	if (snap->v == NULL || pairs == NULL)
		goto oom;
	for (i = 0; i < st->n_users; i++)
		if (take_account(&snap->v[snap->n++], st->users[i]) != 0)
			goto oom;
	for (i = 0; i < st->n_groups; i++) {
		g = st->groups[i];
		if (g->private_group)
			continue;
		e = &snap->v[snap->n++];
		e->group = 1;
		snprintf(e->name, sizeof(e->name), "%s", g->name);
		e->id = (uint32_t)g->gid;
		e->sources = g->sources & (K8S_SRC_DECLARED | K8S_SRC_GROUP_SYNCED);
		if (take_members(e, pairs, n_pairs) != 0)
			goto oom;
		if (e->n_groups == 0 && e->sources == 0) {
			free(e->groups);
			memset(e, 0, sizeof(*e));
			snap->n--; /* a commit drops it */
		}
	}
	k8s_qsort(snap->v, snap->n, sizeof(*snap->v), cmp_ent);
	snap->n_accounts = st->n_users;
	snap->n_groups = snap->n - st->n_users;
	free(pairs);
	return 0;
oom:
	free(pairs);
	k8s_sync_snap_free(snap);
	return -1;
}

void k8s_sync_snap_free(struct k8s_sync_snap *snap)
{
	size_t i, j;

	if (snap == NULL)
		return;
	for (i = 0; i < snap->n; i++) {
		free(snap->v[i].binding);
		for (j = 0; j < snap->v[i].n_groups; j++)
			free(snap->v[i].groups[j]);
		free(snap->v[i].groups);
	}
	free(snap->v);
	memset(snap, 0, sizeof(*snap));
}

/* ----------------------------------------------------------------- diff */

static int line(struct k8s_sync_diff *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int line(struct k8s_sync_diff *d, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	return k8s_strv_push(&d->lines, s);
}

/* Group names (before the ':' for accounts) in a but not in b, as
 * " +x +y" into out. */
static void set_minus(char **a, size_t na, char **b, size_t nb, int account, char sign,
		      char *out, size_t len)
{
	size_t i, j, used = strlen(out), k;

	for (i = 0; i < na; i++) {
		k = account ? strcspn(a[i], ":") : strlen(a[i]);
		for (j = 0; j < nb; j++)
			if ((account ? strcspn(b[j], ":") : strlen(b[j])) == k &&
			    strncmp(a[i], b[j], k) == 0)
				break;
		if (j == nb && used < len)
			used += (size_t)snprintf(out + used, len - used, " %c%.*s", sign, (int)k, a[i]);
		if (used >= len)
			used = len - 1;
	}
}

static int same_list(char **a, size_t na, char **b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

static int same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int diff_account(struct k8s_sync_diff *d, const struct k8s_sync_snap_ent *o,
			const struct k8s_sync_snap_ent *n)
{
	char a[32], b[32], gl[512] = "";
	int changed = 0, r = 0;

	if (o->sources != n->sources || o->id != n->id) {
		changed = 1;
		r |= line(d, "~ account %s: %s -> %s", n->name, k8s_sync_sources_text(o->sources, a),
			  k8s_sync_sources_text(n->sources, b));
	}
	if (!same_str(o->binding, n->binding)) {
		changed = 1;
		r |= line(d, "~ account %s: identity binding %s", n->name,
			  n->binding == NULL ? "dropped" : "set");
	}
	if (!same_list(o->groups, o->n_groups, n->groups, n->n_groups)) {
		changed = 1;
		set_minus(n->groups, n->n_groups, o->groups, o->n_groups, 1, '+', gl, sizeof(gl));
		set_minus(o->groups, o->n_groups, n->groups, n->n_groups, 1, '-', gl, sizeof(gl));
		r |= line(d, "~ account %s: groups%s", n->name, gl[0] ? gl : " (sources changed)");
	}
	d->accounts_changed += changed;
	return r;
}

static int diff_group(struct k8s_sync_diff *d, const struct k8s_sync_snap_ent *o,
		      const struct k8s_sync_snap_ent *n)
{
	char ml[512] = "";
	int changed = 0, r = 0;

	if (o->sources != n->sources || o->id != n->id) {
		changed = 1;
		r |= line(d, "~ group %s: %s -> %s", n->name,
			  o->sources & K8S_SRC_GROUP_SYNCED ? "synced" : o->sources ? "declared" : "members only",
			  n->sources & K8S_SRC_GROUP_SYNCED ? "synced" : n->sources ? "declared" : "members only");
	}
	if (!same_list(o->groups, o->n_groups, n->groups, n->n_groups)) {
		changed = 1;
		set_minus(n->groups, n->n_groups, o->groups, o->n_groups, 0, '+', ml, sizeof(ml));
		set_minus(o->groups, o->n_groups, n->groups, n->n_groups, 0, '-', ml, sizeof(ml));
		r |= line(d, "~ group %s: members%s", n->name, ml);
	}
	d->groups_changed += changed;
	return r;
}

static int added(struct k8s_sync_diff *d, const struct k8s_sync_snap_ent *n)
{
	char s[32];

	if (n->group) {
		d->groups_added++;
		return line(d, "+ group %s gid %u (%s)", n->name, (unsigned)n->id,
			    n->sources & K8S_SRC_GROUP_SYNCED ? "synced" :
			    n->sources & K8S_SRC_DECLARED ? "declared" : "members");
	}
	d->accounts_added++;
	return line(d, "+ account %s uid %u (%s)", n->name, (unsigned)n->id,
		    k8s_sync_sources_text(n->sources, s));
}

static int removed(struct k8s_sync_diff *d, const struct k8s_sync_snap_ent *o)
{
	char s[32];

	if (o->group) {
		d->groups_removed++;
		return line(d, "- group %s gid %u", o->name, (unsigned)o->id);
	}
	d->accounts_removed++;
	return line(d, "- account %s uid %u (was %s%s)", o->name, (unsigned)o->id,
		    k8s_sync_sources_text(o->sources, s), o->binding ? ", bound" : "");
}

int k8s_sync_diff(const struct k8s_sync_snap *before, const struct k8s_sync_snap *after,
		  struct k8s_sync_diff *d)
{
	size_t i = 0, j = 0;
	int c, r = 0;

	memset(d, 0, sizeof(*d));
	while (r == 0 && (i < before->n || j < after->n)) {
		if (i == before->n)
			c = 1;
		else if (j == after->n)
			c = -1;
		else
			c = cmp_ent(&before->v[i], &after->v[j]);
		if (c < 0)
			r = removed(d, &before->v[i++]);
		else if (c > 0)
			r = added(d, &after->v[j++]);
		else if (after->v[j].group)
			r = diff_group(d, &before->v[i++], &after->v[j++]);
		else
			r = diff_account(d, &before->v[i++], &after->v[j++]);
	}
	if (r != 0) {
		k8s_sync_diff_free(d);
		return -1;
	}
	return 0;
}

void k8s_sync_diff_free(struct k8s_sync_diff *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->lines.n; i++)
		free(d->lines.v[i]);
	free(d->lines.v);
	memset(d, 0, sizeof(*d));
}
