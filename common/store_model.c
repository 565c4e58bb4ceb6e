/* store_model.c: the store's in-memory model (store.h, store_int.h): the
 * arena its new strings live in, the sets of names removed in this
 * session, the four open-addressing tables (name/uid/gid lookups in
 * O(1)), entries loaded from the mapped files on first use, and group
 * member lists kept in step with users' memberships.
 *
 * The model is an overlay on the mapped files: an account or group enters
 * it when first looked up or changed, strings of loaded entries point into
 * the mappings (kept until close), new ones come from a per-store arena,
 * and entries removed in this session are remembered by name so the files
 * underneath cannot bring them back. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "util.h"

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	unsigned char data[];
};

/* ------------------------------------------------------------ arena */

void *k8s_store_arena_alloc(struct k8s_store_priv *p, size_t n)
{
	struct arena_chunk *c = p->arena;
	size_t cap;
	void *r;

	n = (n + 15) & ~(size_t)15;
	if (c == NULL || c->cap - c->used < n) {
		cap = n > 65536 ? n : 65536;
		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->next = p->arena;
		c->used = 0;
		c->cap = cap;
		p->arena = c;
	}
	r = c->data + c->used;
	c->used += n;
	memset(r, 0, n);
	return r;
}

char *k8s_store_arena_strdup(struct k8s_store_priv *p, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = k8s_store_arena_alloc(p, n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

void k8s_store_arena_free(struct k8s_store_priv *p)
{
	struct arena_chunk *c, *next;

	for (c = p->arena; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	p->arena = NULL;
}

/* ----------------------------------------------------------- name sets */

uint32_t k8s_store_name_key(const char *name)
{
	return k8s_sf_name_hash(name, strlen(name));
}

int k8s_store_strset_has(const struct strset *s, const char *name)
{
	size_t i;

	if (s->slot == NULL)
		return 0;
	for (i = k8s_store_name_key(name) & s->mask; s->slot[i] != NULL; i = (i + 1) & s->mask)
		if (strcmp(s->slot[i], name) == 0)
			return 1;
	return 0;
}

static void strset_put(struct strset *s, char *name)
{
	size_t i;

	for (i = k8s_store_name_key(name) & s->mask; s->slot[i] != NULL; i = (i + 1) & s->mask)
		;
	s->slot[i] = name;
}

int k8s_store_strset_add(struct k8s_store_priv *p, struct strset *s, const char *name)
{
	struct strset ns;
	char *copy;
	size_t i;

	if (k8s_store_strset_has(s, name))
		return 0;
	if (s->slot == NULL || 2 * (s->n + 1) > s->mask + 1) {
		ns.mask = s->slot == NULL ? 63 : 2 * s->mask + 1;
		ns.n = s->n;
		ns.slot = calloc(ns.mask + 1, sizeof(*ns.slot));
		if (ns.slot == NULL)
			return -1;
		for (i = 0; s->slot != NULL && i <= s->mask; i++)
			if (s->slot[i] != NULL)
				strset_put(&ns, s->slot[i]);
		free(s->slot);
		*s = ns;
	}
	copy = k8s_store_arena_strdup(p, name);
	if (copy == NULL)
		return -1;
	strset_put(s, copy);
	s->n++;
	return 0;
}

/* ------------------------------------------------------------ tables */

uint32_t k8s_store_mix_id(uint32_t id)
{
	return (uint32_t)(((uint64_t)id * 0x9E3779B97F4A7C15ULL) >> 32);
}

static uint32_t entry_key(const struct k8s_store *st, enum mkind k, uint32_t i)
{
	switch (k) {
	case M_UNAME: return k8s_store_name_key(st->users[i]->name);
	case M_UID: return k8s_store_mix_id((uint32_t)st->users[i]->uid);
	case M_GNAME: return k8s_store_name_key(st->groups[i]->name);
	default: return k8s_store_mix_id((uint32_t)st->groups[i]->gid);
	}
}

static int entry_eq(const struct k8s_store *st, enum mkind k, uint32_t i, const char *name,
		    uint32_t id)
{
	switch (k) {
	case M_UNAME: return strcmp(st->users[i]->name, name) == 0;
	case M_UID: return (uint32_t)st->users[i]->uid == id &&
			   !(st->users[i]->sources & K8S_SRC_EXISTING);
	case M_GNAME: return strcmp(st->groups[i]->name, name) == 0;
	default: return (uint32_t)st->groups[i]->gid == id;
	}
}

static struct imap *map_of(struct k8s_store_priv *p, enum mkind k)
{
	switch (k) {
	case M_UNAME: return &p->uname;
	case M_UID: return &p->uid;
	case M_GNAME: return &p->gname;
	default: return &p->gid;
	}
}

static void map_put(struct imap *m, uint32_t key, uint32_t idx)
{
	size_t i;

	for (i = key & m->mask; m->slot[i] != 0; i = (i + 1) & m->mask)
		;
	m->slot[i] = idx + 1;
}

static int map_build(struct k8s_store *st, enum mkind k, size_t n)
{
	struct imap *m = map_of(st->priv, k);
	size_t cap = 64, i;

	while (cap < 2 * n + 2)
		cap *= 2;
	free(m->slot);
	m->slot = calloc(cap, sizeof(*m->slot));
	if (m->slot == NULL)
		return -1;
	m->mask = cap - 1;
	for (i = 0; i < n; i++)
		map_put(m, entry_key(st, k, (uint32_t)i), (uint32_t)i);
	return 0;
}

static int maps_rebuild(struct k8s_store *st)
{
	struct k8s_store_priv *p = st->priv;

	if (map_build(st, M_UNAME, st->n_users) || map_build(st, M_UID, st->n_users) ||
	    map_build(st, M_GNAME, st->n_groups) || map_build(st, M_GID, st->n_groups)) {
		p->maps_dirty = 1;
		return -1;
	}
	p->maps_dirty = 0;
	return 0;
}

/* Index of the model entry, or -1.  Tables are rebuilt lazily. */
long k8s_store_map_find(struct k8s_store *st, enum mkind k, const char *name, uint32_t id)
{
	struct imap *m = map_of(st->priv, k);
	uint32_t key = name != NULL ? k8s_store_name_key(name) : k8s_store_mix_id(id);
	size_t i;

	if (st->priv->maps_dirty && maps_rebuild(st) != 0)
		return -1;
	for (i = key & m->mask; m->slot[i] != 0; i = (i + 1) & m->mask)
		if (entry_eq(st, k, m->slot[i] - 1, name, id))
			return (long)m->slot[i] - 1;
	return -1;
}

/* Register the entry just appended; grow (rebuild) at half load. */
static void map_added(struct k8s_store *st, int user)
{
	struct k8s_store_priv *p = st->priv;
	size_t n = user ? st->n_users : st->n_groups;
	uint32_t i = (uint32_t)(n - 1);

	if (p->maps_dirty || p->uname.slot == NULL)
		p->maps_dirty = 1;
	else if (2 * n + 2 > map_of(p, user ? M_UNAME : M_GNAME)->mask + 1)
		p->maps_dirty = 1;
	else if (user) {
		map_put(&p->uname, entry_key(st, M_UNAME, i), i);
		map_put(&p->uid, entry_key(st, M_UID, i), i);
	} else {
		map_put(&p->gname, entry_key(st, M_GNAME, i), i);
		map_put(&p->gid, entry_key(st, M_GID, i), i);
	}
}

struct k8s_store_user *k8s_store_model_user(struct k8s_store *st, const char *name)
{
	long i = k8s_store_map_find(st, M_UNAME, name, 0);

	return i < 0 ? NULL : st->users[i];
}

struct k8s_store_group *k8s_store_model_group(struct k8s_store *st, const char *name)
{
	long i = k8s_store_map_find(st, M_GNAME, name, 0);

	return i < 0 ? NULL : st->groups[i];
}

/* ------------------------------------------------------------ model */

static int grow(void **arr, size_t *cap, size_t n)
{
	size_t nc;
	void *na;

	if (n < *cap)
		return 0;
	nc = *cap ? 2 * *cap : 64;
	na = realloc(*arr, nc * sizeof(void *));
	if (na == NULL)
		return -1;
	*arr = na;
	*cap = nc;
	return 0;
}

struct k8s_store_user *k8s_store_add_user(struct k8s_store *st, const char *name, uid_t uid,
					  gid_t gid)
{
	struct k8s_store_priv *p = st->priv;
	struct k8s_store_user *u;

	if (grow((void **)&st->users, &p->users_cap, st->n_users) != 0)
		return NULL;
	u = k8s_store_arena_alloc(p, sizeof(*u));
	if (u == NULL)
		return NULL;
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->uid = uid;
	u->gid = gid;
	st->users[st->n_users++] = u;
	map_added(st, 1);
	return u;
}

struct k8s_store_group *k8s_store_add_group(struct k8s_store *st, const char *name, gid_t gid,
					    int private_group, uint32_t sources, int from_image)
{
	struct k8s_store_priv *p = st->priv;
	struct group_node *n;

	if (grow((void **)&st->groups, &p->groups_cap, st->n_groups) != 0)
		return NULL;
	n = k8s_store_arena_alloc(p, sizeof(*n));
	if (n == NULL)
		return NULL;
	snprintf(n->g.name, sizeof(n->g.name), "%s", name);
	n->g.gid = gid;
	n->g.private_group = private_group;
	n->g.sources = sources;
	n->loaded = !from_image;
	st->groups[st->n_groups++] = &n->g;
	map_added(st, 0);
	return &n->g;
}

static char *image_str(const char *s)
{
	/* Strings of loaded entries live in the mappings the store keeps;
	 * the model's fields are char * but never written through. */
	return (char *)(uintptr_t)s;
}

/* A user record from the files into the model, with its private group. */
struct k8s_store_user *k8s_store_materialize_user(struct k8s_store *st,
						  const struct k8s_sf_user *v)
{
	struct k8s_sf_strlist names = v->group_names;
	struct k8s_store_membership *m;
	struct k8s_store_user *u;
	const char *gname;
	uint32_t i, gid, src;

	u = k8s_store_add_user(st, v->name, v->uid, v->gid);
	if (u == NULL)
		return NULL;
	u->gecos = image_str(v->gecos);
	u->home = image_str(v->home);
	u->shell = image_str(v->shell);
	u->binding = v->binding[0] ? image_str(v->binding) : NULL;
	u->cluster_user = v->cluster_user[0] ? image_str(v->cluster_user) : NULL;
	u->sources = v->sources & (K8S_SRC_DECLARED | K8S_SRC_SYNCED | K8S_SRC_LOGIN);
	if (u->sources == 0)
		u->sources = K8S_SRC_LOGIN;
	if (v->existing)
		u->sources = K8S_SRC_EXISTING | K8S_SRC_LOGIN;
	u->uid_pinned = (v->flags & K8S_SF_USER_PINNED) != 0;
	u->last_login = (time_t)v->last_login;
	u->groups = k8s_store_arena_alloc(st->priv, (v->n_memberships + 1) * sizeof(*u->groups));
	if (u->groups == NULL)
		return NULL;
	for (i = 0; i < v->n_memberships && (gname = k8s_sf_strlist_next(&names)) != NULL; i++) {
		k8s_sf_membership(v, i, &gid, &src);
		m = &u->groups[u->n_groups++];
		snprintf(m->group, sizeof(m->group), "%s", gname);
		m->gid = gid;
		m->sources = src;
	}
	/* An existing account's private group, if any, is its own source's. */
	if (!v->existing && k8s_store_add_group(st, v->name, v->gid, 1, u->sources, 1) == NULL)
		return NULL;
	return u;
}

/* -1 damaged (or out of memory), 0 absent, 1 found (*out). */
int k8s_store_lookup_user(struct k8s_store *st, const char *name, struct k8s_store_user **out)
{
	struct k8s_sf_user v;
	int r;

	*out = k8s_store_model_user(st, name);
	if (*out != NULL)
		return 1;
	if (k8s_store_strset_has(&st->priv->gone_users, name))
		return 0;
	r = k8s_sfv_user_by_name(&st->priv->view, name, &v);
	if (r <= 0)
		return r;
	*out = k8s_store_materialize_user(st, &v);
	return *out != NULL ? 1 : -1;
}

/* An image entry under a name the model already decided about is stale. */
int k8s_store_decided(struct k8s_store *st, const char *name)
{
	struct k8s_store_priv *p = st->priv;

	return k8s_store_model_user(st, name) != NULL || k8s_store_model_group(st, name) != NULL ||
	       k8s_store_strset_has(&p->gone_users, name) || k8s_store_strset_has(&p->gone_groups, name);
}

int k8s_store_lookup_uid(struct k8s_store *st, uint32_t uid, struct k8s_store_user **out)
{
	struct k8s_sf_user v;
	long i = k8s_store_map_find(st, M_UID, NULL, uid);
	int r;

	*out = i >= 0 ? st->users[i] : NULL;
	if (*out != NULL)
		return 1;
	r = k8s_sfv_user_by_uid(&st->priv->view, uid, &v);
	if (r <= 0)
		return r;
	if (k8s_store_decided(st, v.name))
		return 0;
	*out = k8s_store_materialize_user(st, &v);
	return *out != NULL ? 1 : -1;
}

static struct k8s_store_group *materialize_group(struct k8s_store *st, const struct k8s_sf_group *g)
{
	struct k8s_store_user *u;

	if (!g->private_group)
		return k8s_store_add_group(st, g->name, g->gid, 0, g->sources, 1);
	if (k8s_store_lookup_user(st, g->name, &u) <= 0)
		return NULL;
	return k8s_store_model_group(st, g->name);
}

int k8s_store_lookup_group(struct k8s_store *st, const char *name, struct k8s_store_group **out)
{
	struct k8s_store_priv *p = st->priv;
	struct k8s_sf_group g;
	int r;

	*out = k8s_store_model_group(st, name);
	if (*out != NULL)
		return 1;
	if (k8s_store_strset_has(&p->gone_groups, name) || k8s_store_strset_has(&p->gone_users, name) ||
	    k8s_store_model_user(st, name) != NULL)
		return 0;
	r = k8s_sfv_group_by_name(&p->view, name, &g);
	if (r <= 0)
		return r;
	*out = materialize_group(st, &g);
	return *out != NULL ? 1 : -1;
}

int k8s_store_lookup_gid(struct k8s_store *st, uint32_t gid, struct k8s_store_group **out)
{
	struct k8s_sf_group g;
	long i = k8s_store_map_find(st, M_GID, NULL, gid);
	int r;

	*out = i >= 0 ? st->groups[i] : NULL;
	if (*out != NULL)
		return 1;
	r = k8s_sfv_group_by_gid(&st->priv->view, gid, &g);
	if (r <= 0)
		return r;
	if (k8s_store_decided(st, g.name))
		return 0;
	*out = materialize_group(st, &g);
	return *out != NULL ? 1 : -1;
}

struct k8s_store_user *k8s_store_find_user(struct k8s_store *st, const char *name)
{
	struct k8s_store_user *u = NULL;

	if (st == NULL || name == NULL || k8s_store_lookup_user(st, name, &u) <= 0)
		return NULL;
	return u;
}

struct k8s_store_user *k8s_store_find_uid(struct k8s_store *st, uid_t uid)
{
	struct k8s_store_user *u = NULL;

	if (st == NULL || k8s_store_lookup_uid(st, (uint32_t)uid, &u) <= 0)
		return NULL;
	return u;
}

struct k8s_store_group *k8s_store_find_group(struct k8s_store *st, const char *name)
{
	struct k8s_store_group *g = NULL;

	if (st == NULL || name == NULL || k8s_store_lookup_group(st, name, &g) <= 0)
		return NULL;
	return g;
}

/* ------------------------------------------------------ group members */

static int push_member(struct k8s_store_priv *p, struct group_node *n, const char *name)
{
	const char **nm;
	size_t cap;

	if (n->n_members == n->cap) {
		cap = n->cap ? 2 * n->cap : 8;
		nm = k8s_store_arena_alloc(p, cap * sizeof(*nm));
		if (nm == NULL)
			return -1;
		if (n->n_members > 0)
			memcpy(nm, n->members, n->n_members * sizeof(*nm));
		n->members = nm;
		n->cap = cap;
	}
	n->members[n->n_members++] = name;
	return 0;
}

int k8s_store_load_members(struct k8s_store *st, struct k8s_store_group *g)
{
	struct group_node *n = group_node_of(g);
	struct k8s_sf_group v;
	const char *m;

	if (n->loaded || g->private_group)
		return 0;
	n->loaded = 1;
	if (k8s_sfv_group_by_name(&st->priv->view, g->name, &v) != 1 || v.private_group)
		return 0;
	while ((m = k8s_sf_strlist_next(&v.members)) != NULL)
		if (push_member(st->priv, n, m) != 0)
			return -1;
	return 0;
}

/* Keep a store group's member list in line with user's memberships. */
static int member_set(struct k8s_store *st, const char *group, const char *user, int present)
{
	struct k8s_store_group *g;
	struct group_node *n;
	size_t i;

	if (k8s_store_lookup_group(st, group, &g) <= 0 || g->private_group)
		return 0; /* a local group (sudo), or one the store lost: compaction rebuilds */
	n = group_node_of(g);
	if (k8s_store_load_members(st, g) != 0)
		return -1;
	for (i = 0; i < n->n_members && strcmp(n->members[i], user) != 0; i++)
		;
	if (present && i == n->n_members)
		return push_member(st->priv, n, user);
	if (!present && i < n->n_members) {
		memmove(&n->members[i], &n->members[i + 1], (n->n_members - i - 1) * sizeof(*n->members));
		n->n_members--;
	}
	return 0;
}

static int has_group(const struct k8s_store_membership *ms, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(ms[i].group, name) == 0)
			return 1;
	return 0;
}

/* user's memberships went from old[] to new[]. */
int k8s_store_apply_diff(struct k8s_store *st, const char *user,
			 const struct k8s_store_membership *old, size_t n_old,
			 const struct k8s_store_membership *new, size_t n_new)
{
	size_t i;

	for (i = 0; i < n_old; i++)
		if (!has_group(new, n_new, old[i].group) && member_set(st, old[i].group, user, 0) != 0)
			return -1;
	for (i = 0; i < n_new; i++)
		if (!has_group(old, n_old, new[i].group) && member_set(st, new[i].group, user, 1) != 0)
			return -1;
	return 0;
}

/* Remove users whose sources are 0 (and their private groups) and groups
 * marked dead; remember their names so the files cannot bring them back. */
int k8s_store_drop_dead(struct k8s_store *st)
{
	struct k8s_store_priv *p = st->priv;
	struct k8s_store_group *pg;
	size_t i, j;

	for (i = 0; i < st->n_users; i++) {
		struct k8s_store_user *u = st->users[i];

		if (u->sources != 0)
			continue;
		if (k8s_store_apply_diff(st, u->name, u->groups, u->n_groups, NULL, 0) != 0 ||
		    k8s_store_strset_add(p, &p->gone_users, u->name) != 0)
			return -1;
		pg = k8s_store_model_group(st, u->name);
		if (pg != NULL && pg->private_group)
			group_node_of(pg)->dead = 1;
	}
	for (i = j = 0; i < st->n_users; i++)
		if (st->users[i]->sources != 0)
			st->users[j++] = st->users[i];
	st->n_users = j;
	for (i = j = 0; i < st->n_groups; i++) {
		if (group_node_of(st->groups[i])->dead) {
			if (!st->groups[i]->private_group &&
			    k8s_store_strset_add(p, &p->gone_groups, st->groups[i]->name) != 0)
				return -1;
			continue;
		}
		st->groups[j++] = st->groups[i];
	}
	st->n_groups = j;
	return maps_rebuild(st);
}
