/* store.c: the identity store model (store.h); committing it is in
 * storewrite.c.
 *
 * The model is an overlay on the mapped files: an account or group enters
 * it when first looked up or changed, strings of loaded entries point into
 * the mappings (kept until close), new ones come from a per-store arena,
 * and entries removed in this session are remembered by name so the files
 * underneath cannot bring them back.  Four open-addressing tables make
 * name/uid/gid lookups in the model O(1). */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "store_int.h"
#include "util.h"

#ifndef K8S_STOREDIR
#define K8S_STOREDIR K8S_DEFAULT_STORE
#endif

#define LOCK_NAME     ".lock"
#define PROBE_MAX     100000u
#define GECOS_MAX     255
#define TEXT_MAX      1024

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

static char *arena_strdup(struct k8s_store_priv *p, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = k8s_store_arena_alloc(p, n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

static void arena_free(struct k8s_store_priv *p)
{
	struct arena_chunk *c, *next;

	for (c = p->arena; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	p->arena = NULL;
}

/* ----------------------------------------------------------- name sets */

static uint32_t name_key(const char *name)
{
	return k8s_sf_name_hash(name, strlen(name));
}

int k8s_store_strset_has(const struct strset *s, const char *name)
{
	size_t i;

	if (s->slot == NULL)
		return 0;
	for (i = name_key(name) & s->mask; s->slot[i] != NULL; i = (i + 1) & s->mask)
		if (strcmp(s->slot[i], name) == 0)
			return 1;
	return 0;
}

static void strset_put(struct strset *s, char *name)
{
	size_t i;

	for (i = name_key(name) & s->mask; s->slot[i] != NULL; i = (i + 1) & s->mask)
		;
	s->slot[i] = name;
}

static int strset_add(struct k8s_store_priv *p, struct strset *s, const char *name)
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
	copy = arena_strdup(p, name);
	if (copy == NULL)
		return -1;
	strset_put(s, copy);
	s->n++;
	return 0;
}

/* ------------------------------------------------------------ tables */

enum mkind { M_UNAME, M_UID, M_GNAME, M_GID };

static uint32_t mix_id(uint32_t id)
{
	return (uint32_t)(((uint64_t)id * 0x9E3779B97F4A7C15ULL) >> 32);
}

static uint32_t entry_key(const struct k8s_store *st, enum mkind k, uint32_t i)
{
	switch (k) {
	case M_UNAME: return name_key(st->users[i]->name);
	case M_UID: return mix_id((uint32_t)st->users[i]->uid);
	case M_GNAME: return name_key(st->groups[i]->name);
	default: return mix_id((uint32_t)st->groups[i]->gid);
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
static long map_find(struct k8s_store *st, enum mkind k, const char *name, uint32_t id)
{
	struct imap *m = map_of(st->priv, k);
	uint32_t key = name != NULL ? name_key(name) : mix_id(id);
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
	long i = map_find(st, M_UNAME, name, 0);

	return i < 0 ? NULL : st->users[i];
}

struct k8s_store_group *k8s_store_model_group(struct k8s_store *st, const char *name)
{
	long i = map_find(st, M_GNAME, name, 0);

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

static struct k8s_store_user *add_user(struct k8s_store *st, const char *name, uid_t uid, gid_t gid)
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

static struct k8s_store_group *add_group(struct k8s_store *st, const char *name, gid_t gid,
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
static struct k8s_store_user *materialize_user(struct k8s_store *st, const struct k8s_sf_user *v)
{
	struct k8s_sf_strlist names = v->group_names;
	struct k8s_store_membership *m;
	struct k8s_store_user *u;
	const char *gname;
	uint32_t i, gid, src;

	u = add_user(st, v->name, v->uid, v->gid);
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
	if (!v->existing && add_group(st, v->name, v->gid, 1, u->sources, 1) == NULL)
		return NULL;
	return u;
}

/* -1 damaged (or out of memory), 0 absent, 1 found (*out). */
static int lookup_user(struct k8s_store *st, const char *name, struct k8s_store_user **out)
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
	*out = materialize_user(st, &v);
	return *out != NULL ? 1 : -1;
}

/* An image entry under a name the model already decided about is stale. */
int k8s_store_decided(struct k8s_store *st, const char *name)
{
	struct k8s_store_priv *p = st->priv;

	return k8s_store_model_user(st, name) != NULL || k8s_store_model_group(st, name) != NULL ||
	       k8s_store_strset_has(&p->gone_users, name) || k8s_store_strset_has(&p->gone_groups, name);
}

static int lookup_uid(struct k8s_store *st, uint32_t uid, struct k8s_store_user **out)
{
	struct k8s_sf_user v;
	long i = map_find(st, M_UID, NULL, uid);
	int r;

	*out = i >= 0 ? st->users[i] : NULL;
	if (*out != NULL)
		return 1;
	r = k8s_sfv_user_by_uid(&st->priv->view, uid, &v);
	if (r <= 0)
		return r;
	if (k8s_store_decided(st, v.name))
		return 0;
	*out = materialize_user(st, &v);
	return *out != NULL ? 1 : -1;
}

static struct k8s_store_group *materialize_group(struct k8s_store *st, const struct k8s_sf_group *g)
{
	struct k8s_store_user *u;

	if (!g->private_group)
		return add_group(st, g->name, g->gid, 0, g->sources, 1);
	if (lookup_user(st, g->name, &u) <= 0)
		return NULL;
	return k8s_store_model_group(st, g->name);
}

static int lookup_group(struct k8s_store *st, const char *name, struct k8s_store_group **out)
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

static int lookup_gid(struct k8s_store *st, uint32_t gid, struct k8s_store_group **out)
{
	struct k8s_sf_group g;
	long i = map_find(st, M_GID, NULL, gid);
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

	if (st == NULL || name == NULL || lookup_user(st, name, &u) <= 0)
		return NULL;
	return u;
}

struct k8s_store_user *k8s_store_find_uid(struct k8s_store *st, uid_t uid)
{
	struct k8s_store_user *u = NULL;

	if (st == NULL || lookup_uid(st, (uint32_t)uid, &u) <= 0)
		return NULL;
	return u;
}

struct k8s_store_group *k8s_store_find_group(struct k8s_store *st, const char *name)
{
	struct k8s_store_group *g = NULL;

	if (st == NULL || name == NULL || lookup_group(st, name, &g) <= 0)
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

	if (lookup_group(st, group, &g) <= 0 || g->private_group)
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
static int apply_diff(struct k8s_store *st, const char *user, const struct k8s_store_membership *old,
		      size_t n_old, const struct k8s_store_membership *new, size_t n_new)
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
		if (apply_diff(st, u->name, u->groups, u->n_groups, NULL, 0) != 0 ||
		    strset_add(p, &p->gone_users, u->name) != 0)
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
			    strset_add(p, &p->gone_groups, st->groups[i]->name) != 0)
				return -1;
			continue;
		}
		st->groups[j++] = st->groups[i];
	}
	st->n_groups = j;
	return maps_rebuild(st);
}

/* ------------------------------------------------ other NSS sources */

struct nss_hit {
	int found;
	uint32_t id;
	char name[256];
};

/* One point lookup through the whole NSS configuration (our own module
 * included, hence own_user/own_group).  0 or an errno: the caller fails
 * closed when NSS cannot answer. */
static int nss_lookup(int group, const char *name, uint32_t id, struct nss_hit *hit)
{
	size_t len = 16384;
	char *buf = NULL;
	int rc;

	memset(hit, 0, sizeof(*hit));
	for (;;) {
		struct passwd pw, *pr = NULL;
		struct group gr, *grr = NULL;
		char *nb = realloc(buf, len);

		if (nb == NULL) {
			rc = ENOMEM;
			break;
		}
		buf = nb;
		if (group)
			rc = name ? getgrnam_r(name, &gr, buf, len, &grr) : getgrgid_r(id, &gr, buf, len, &grr);
		else
			rc = name ? getpwnam_r(name, &pw, buf, len, &pr) : getpwuid_r(id, &pw, buf, len, &pr);
		if (rc == ERANGE && len < (1u << 24)) {
			len *= 4;
			continue;
		}
		/* Not found is rc 0 with a NULL result; some modules report
		 * ENOENT/ESRCH/EBADF/EPERM for it (getpwnam(3)). */
		if (rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM)
			rc = 0;
		if (rc == 0 && (pr != NULL || grr != NULL)) {
			hit->found = 1;
			hit->id = group ? grr->gr_gid : pr->pw_uid;
			snprintf(hit->name, sizeof(hit->name), "%s", group ? grr->gr_name : pr->pw_name);
		}
		break;
	}
	free(buf);
	return rc;
}

/* An NSS answer that is this store's own entry: in the model, or in the
 * files libnss_k8s serves (also when removed from the model since). */
static int own_user(struct k8s_store *st, const char *name, uint32_t uid)
{
	struct k8s_store_user *u;
	struct k8s_sf_user v;

	if (lookup_user(st, name, &u) == 1 && (uint32_t)u->uid == uid)
		return 1;
	return k8s_sfv_user_by_name(&st->priv->view, name, &v) == 1 && v.uid == uid;
}

static int own_group(struct k8s_store *st, const char *name, uint32_t gid)
{
	struct k8s_store_group *g;
	struct k8s_sf_group v;

	if (lookup_group(st, name, &g) == 1 && (uint32_t)g->gid == gid)
		return 1;
	return k8s_sfv_group_by_name(&st->priv->view, name, &v) == 1 && v.gid == gid;
}

/* One table of the snapshot: entries, first per name and per id. */
static void snap_tab_free(struct nss_snap_tab *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->ent[i].name);
	free(t->ent);
	free(t->by_name.slot);
	free(t->by_id.slot);
	memset(t, 0, sizeof(*t));
}

static int snap_find(const struct nss_snap_tab *t, const char *name, uint32_t id)
{
	const struct imap *m = name ? &t->by_name : &t->by_id;
	uint32_t key = name ? name_key(name) : mix_id(id);
	size_t i;

	if (m->slot == NULL)
		return -1;
	for (i = key & m->mask; m->slot[i] != 0; i = (i + 1) & m->mask) {
		const struct nss_snap_ent *e = &t->ent[m->slot[i] - 1];

		if (name ? strcmp(e->name, name) == 0 : e->id == id)
			return (int)(m->slot[i] - 1);
	}
	return -1;
}

static int snap_index(struct nss_snap_tab *t)
{
	size_t size = 64, i, k;

	while (size < 2 * t->n + 2)
		size *= 2;
	t->by_name.slot = calloc(size, sizeof(uint32_t));
	t->by_id.slot = calloc(size, sizeof(uint32_t));
	if (t->by_name.slot == NULL || t->by_id.slot == NULL || t->n >= UINT32_MAX)
		return -1;
	t->by_name.mask = t->by_id.mask = size - 1;
	for (i = 0; i < t->n; i++) {
		const struct nss_snap_ent *e = &t->ent[i];

		if (snap_find(t, e->name, 0) < 0) { /* the first one wins, as a point lookup */
			for (k = name_key(e->name) & t->by_name.mask; t->by_name.slot[k] != 0;
			     k = (k + 1) & t->by_name.mask)
				;
			t->by_name.slot[k] = (uint32_t)i + 1;
		}
		if (snap_find(t, NULL, e->id) < 0) {
			for (k = mix_id(e->id) & t->by_id.mask; t->by_id.slot[k] != 0; k = (k + 1) & t->by_id.mask)
				;
			t->by_id.slot[k] = (uint32_t)i + 1;
		}
	}
	return 0;
}

static int snap_add(struct nss_snap_tab *t, const char *name, uint32_t id)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		struct nss_snap_ent *ne = realloc(t->ent, cap * sizeof(*ne));

		if (ne == NULL)
			return -1;
		t->ent = ne;
		t->cap = cap;
	}
	t->ent[t->n].name = strdup(name);
	if (t->ent[t->n].name == NULL)
		return -1;
	t->ent[t->n++].id = id;
	return 0;
}

/* The NSS services configured for db ("passwd", "group") are all ones
 * whose enumeration is everything their point lookups can answer: files
 * (/etc/passwd, /etc/group), systemd (userdb: drop-ins, dynamic users,
 * the services it enumerates; it also makes up root and nobody, reserved
 * anyway) and k8s (this store).  No action items ([NOTFOUND=return]):
 * they change which source answers. */
static int nss_enumerable(const char *db)
{
	FILE *f = fopen("/etc/nsswitch.conf", "re");
	char line[1024];
	size_t dl = strlen(db);
	int found = 0, ok = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *s = line, *tok, *save = NULL;

		while (*s == ' ' || *s == '\t')
			s++;
		if (strncmp(s, db, dl) != 0)
			continue;
		s += dl;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s != ':')
			continue;
		found = 1;
		ok = strchr(line, '\n') != NULL; /* a line longer than the buffer: no */
		s++;
		if (strchr(s, '#') != NULL)
			*strchr(s, '#') = '\0';
		for (tok = strtok_r(s, " \t\n", &save); ok && tok != NULL; tok = strtok_r(NULL, " \t\n", &save))
			ok = strcmp(tok, "files") == 0 || strcmp(tok, "systemd") == 0 || strcmp(tok, "k8s") == 0;
	}
	fclose(f);
	return found && ok;
}

int k8s_store_nss_snapshot(struct k8s_store *st)
{
	struct k8s_store_priv *p;
	struct passwd *pw;
	struct group *gr;
	int rc = 0;

	if (st == NULL)
		return -1;
	p = st->priv;
	snap_tab_free(&p->pw);
	snap_tab_free(&p->gr);
	p->nss_snap = 0;
	if (!nss_enumerable("passwd") || !nss_enumerable("group"))
		return 0;
	errno = 0;
	setpwent();
	while (rc == 0 && (pw = getpwent()) != NULL)
		rc = snap_add(&p->pw, pw->pw_name, pw->pw_uid);
	if (rc == 0 && errno != 0 && errno != ENOENT)
		rc = -1;
	endpwent();
	errno = 0;
	setgrent();
	while (rc == 0 && (gr = getgrent()) != NULL)
		rc = snap_add(&p->gr, gr->gr_name, gr->gr_gid);
	if (rc == 0 && errno != 0 && errno != ENOENT)
		rc = -1;
	endgrent();
	/* made up by nss-systemd when no other source has them */
	if (rc == 0)
		rc = snap_add(&p->pw, "root", 0) | snap_add(&p->pw, "nobody", 65534) |
		     snap_add(&p->gr, "root", 0) | snap_add(&p->gr, "nogroup", 65534) |
		     snap_add(&p->gr, "nobody", 65534);
	if (rc == 0)
		rc = snap_index(&p->pw) | snap_index(&p->gr);
	if (rc != 0) {
		snap_tab_free(&p->pw);
		snap_tab_free(&p->gr);
		return 0; /* point lookups, as without a snapshot */
	}
	p->nss_snap = 1;
	return 1;
}

/* 1 when another NSS source has this user/group (by name or by id), 0 when
 * not, -errno when NSS cannot tell. */
static int foreign(struct k8s_store *st, int group, const char *name, uint32_t id)
{
	struct nss_hit hit;
	int rc = 0;

	if (st->priv->nss_snap) {
		const struct nss_snap_tab *t = group ? &st->priv->gr : &st->priv->pw;
		int i = snap_find(t, name, id);

		memset(&hit, 0, sizeof(hit));
		if (i >= 0) {
			hit.found = 1;
			hit.id = t->ent[i].id;
			snprintf(hit.name, sizeof(hit.name), "%s", t->ent[i].name);
		}
	} else {
		rc = nss_lookup(group, name, id, &hit);
	}
	if (rc != 0)
		return -rc;
	if (!hit.found)
		return 0;
	return group ? !own_group(st, hit.name, hit.id) : !own_user(st, hit.name, hit.id);
}

/* ------------------------------------------------------ open / close */

int k8s_store_map_file(struct k8s_store *st, const char *file, struct k8s_sf *sf, int *status)
{
	struct k8s_store_priv *p = st->priv;
	struct store_mapping *nm;
	char path[4096];
	struct stat sb;
	void *addr;
	int fd, rc = 0;

	memset(sf, 0, sizeof(*sf));
	*status = K8S_SF_OK;
	snprintf(path, sizeof(path), "%s/%s", st->dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &sb) != 0) {
		rc = -1;
		goto out;
	}
	rc = 1;
	*status = K8S_SF_ETOOSMALL;
	if (!S_ISREG(sb.st_mode) || sb.st_size < (off_t)K8S_SF_HEADER_SIZE ||
	    (uint64_t)sb.st_size > K8S_SF_MAX_FILE)
		goto out;
	nm = realloc(p->maps, (p->n_maps + 1) * sizeof(*nm));
	if (nm == NULL) {
		errno = ENOMEM;
		rc = -1;
		goto out;
	}
	p->maps = nm;
	addr = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (addr == MAP_FAILED) {
		rc = -1;
		goto out;
	}
	p->maps[p->n_maps].addr = addr;
	p->maps[p->n_maps++].len = (size_t)sb.st_size;
	*status = k8s_sf_open(sf, addr, (size_t)sb.st_size);
	rc = *status == K8S_SF_OK ? 0 : 1;
out:
	close(fd);
	return rc;
}

/* A directory only we can change: anyone else able to rename files in it
 * could hand every process on the host a store of their making. */
static int check_dir(const char *dir, int create, struct k8s_err *err)
{
	struct stat sb;

	if (create && k8s_mkdir_owned(AT_FDCWD, dir, 0755) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "cannot create the store directory",
				   "%s: %s", dir, strerror(errno));
	if (lstat(dir, &sb) != 0) {
		if (errno == ENOENT && !create)
			return K8S_OK;
		return k8s_err_set(err, K8S_UNAVAILABLE, "store directory unusable", "%s: %s", dir,
				   strerror(errno));
	}
	if (!S_ISDIR(sb.st_mode))
		return k8s_err_set(err, K8S_ECONFIG, "store directory unusable",
				   "%s: not a directory", dir);
	if (create && (sb.st_uid != geteuid() || (sb.st_mode & 022) != 0))
		return k8s_err_set(err, K8S_ECONFIG, "unsafe store directory",
				   "%s: must be owned by uid %u and not group/world-writable",
				   dir, (unsigned)geteuid());
	return K8S_OK;
}

static int take_lock(struct k8s_store *st, struct k8s_err *err)
{
	char path[4096];
	struct timespec nap = {0, 10 * 1000 * 1000};
	int waited = 0;

	snprintf(path, sizeof(path), "%s/%s", st->dir, LOCK_NAME);
	st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (st->lock_fd < 0 || k8s_own_fd(st->lock_fd) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "cannot lock the identity store", "%s: %s",
				   path, strerror(errno));
	while (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return k8s_err_set(err, K8S_UNAVAILABLE, "cannot lock the identity store",
					   "%s: %s", path, strerror(errno));
		if (waited >= K8S_STORE_LOCK_WAIT_MS)
			return k8s_err_set(err, K8S_UNAVAILABLE, "identity store busy",
					   "%s: still locked after %d ms", path, waited);
		nanosleep(&nap, NULL);
		waited += 10;
	}
	return K8S_OK;
}

/* Temp files of writers that died between create and rename. */
static void remove_stale_temps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (k8s_is_temp_name(e->d_name))
			(void)unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

/* Map the base and the delta and pair them; say what is damaged. */
static int load_files(struct k8s_store *st, int for_write, struct k8s_err *err)
{
	struct k8s_store_priv *p = st->priv;
	const char *what = NULL;
	char why[160] = "";
	int rb, rd, sb = 0, sd = 0, rel, rc = K8S_OK;

	rb = k8s_store_map_file(st, K8S_SF_FILE, &p->base, &sb);
	rd = rb < 0 ? 0 : k8s_store_map_file(st, K8S_SF_DELTA_FILE, &p->delta, &sd);
	if (rb < 0 || rd < 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "identity store unreadable", "%s/%s: %s",
				   st->dir, rb < 0 ? K8S_SF_FILE : K8S_SF_DELTA_FILE, strerror(errno));
	if (rb == 1) {
		what = K8S_SF_FILE;
		snprintf(why, sizeof(why), "%s", k8s_sf_strerror(sb));
	} else if (rd == 1 || (p->delta.base != NULL && (sd = k8s_sf_verify_body(&p->delta)) != K8S_SF_OK)) {
		what = K8S_SF_DELTA_FILE;
		snprintf(why, sizeof(why), "%s", k8s_sf_strerror(sd));
		memset(&p->delta, 0, sizeof(p->delta));
	}
	rel = k8s_sfv_attach(&p->view, &p->base, &p->delta);
	if (what == NULL && (rel == K8S_SF_DELTA_AHEAD || rel == K8S_SF_DELTA_BAD)) {
		what = K8S_SF_DELTA_FILE;
		snprintf(why, sizeof(why), "does not belong to %s", K8S_SF_FILE);
	}
	st->generation = p->base.generation > p->delta.generation ? p->base.generation : p->delta.generation;
	if (what == NULL)
		return K8S_OK;
	p->damaged = 1;
	if (!for_write)
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "identity store damaged",
				 "%s/%s: %s; `k8s-auth sync` salvages what still verifies", st->dir, what, why);
	else
		k8s_err_set(err, K8S_OK, "identity store was damaged",
			    "%s/%s: %s; salvaging what still verifies, the damaged files are kept as *.corrupt",
			    st->dir, what, why);
	return rc;
}

int k8s_store_open(const char *dir, int for_write, struct k8s_store **out, struct k8s_err *err)
{
	struct k8s_store *st;
	int rc;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (st == NULL || (st->priv = calloc(1, sizeof(*st->priv))) == NULL ||
	    (st->dir = strdup(dir != NULL ? dir : K8S_STOREDIR)) == NULL) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "store: out of memory");
		goto out;
	}
	st->lock_fd = -1;
	st->priv->maps_dirty = 1;
	rc = check_dir(st->dir, for_write, err);
	if (rc != K8S_OK)
		goto out;
	if (for_write) {
		rc = take_lock(st, err);
		if (rc != K8S_OK)
			goto out;
		remove_stale_temps(st->dir);
	}
	rc = load_files(st, for_write, err);
out:
	if (rc != K8S_OK) {
		k8s_store_close(st);
		st = NULL;
	}
	*out = st;
	return rc;
}

void k8s_store_close(struct k8s_store *st)
{
	struct k8s_store_priv *p;
	size_t i;

	if (st == NULL)
		return;
	p = st->priv;
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* releases the flock */
	if (p != NULL) {
		free(p->uname.slot);
		free(p->uid.slot);
		free(p->gname.slot);
		free(p->gid.slot);
		free(p->gone_users.slot);
		free(p->gone_groups.slot);
		free(p->pins.by_name);
		free(p->pins.by_uid);
		snap_tab_free(&p->pw);
		snap_tab_free(&p->gr);
		for (i = 0; i < p->n_maps; i++)
			munmap(p->maps[i].addr, p->maps[i].len);
		free(p->maps);
		arena_free(p);
		free(p);
	}
	free(st->users);
	free(st->groups);
	free(st->dir);
	free(st);
}

int k8s_store_damaged(const struct k8s_store *st)
{
	return st != NULL && st->priv != NULL && st->priv->damaged;
}

/* Everything the files hold, into the model.  Entries that do not verify
 * stay out (a compaction then drops them for good). */
/* Existing-account records are indexed by name alone: enumeration by uid
 * does not see them.  lookup_user layers delta over base. */
static int load_existing(struct k8s_store *st, const struct k8s_sf *sf)
{
	struct k8s_store_user *u;
	struct k8s_sf_entry e;
	uint32_t i, src;

	for (i = 0; sf->base != NULL && k8s_sf_entry_at(sf, 0, i, &e); i++) {
		if (e.type != K8S_SF_REC_USER || e.record_size < K8S_SF_USER_FIXED)
			continue;
		src = k8s_sf_ld32(e.record + K8S_SF_U_SOURCES);
		/* A damaged one is a miss, as for the accounts above. */
		if ((src & K8S_SF_SRC_EXISTING) && lookup_user(st, e.name, &u) < 0)
			st->priv->damaged = 1;
	}
	return 0;
}

int k8s_store_load_all(struct k8s_store *st, struct k8s_err *err)
{
	struct k8s_store_priv *p = st->priv;
	struct k8s_store_group *g;
	struct k8s_sf_user v;
	struct k8s_sf_group gv;
	uint32_t i, n;

	if (p->all_loaded)
		return K8S_OK;
	if (p->base.base != NULL && k8s_sf_verify_body(&p->base) != K8S_SF_OK)
		p->damaged = 1;
	n = k8s_sfv_n_users(&p->view);
	for (i = 0; i < n; i++)
		if (k8s_sfv_user_at(&p->view, i, &v) && !k8s_store_decided(st, v.name) &&
		    map_find(st, M_UID, NULL, v.uid) < 0 && materialize_user(st, &v) == NULL)
			goto oom;
	if (load_existing(st, &p->view.delta) != 0 || load_existing(st, &p->view.base) != 0)
		goto oom;
	n = k8s_sfv_n_groups(&p->view);
	for (i = 0; i < n; i++) {
		if (!k8s_sfv_group_at(&p->view, i, &gv) || gv.private_group || k8s_store_decided(st, gv.name) ||
		    map_find(st, M_GID, NULL, gv.gid) >= 0)
			continue;
		g = add_group(st, gv.name, gv.gid, 0, gv.sources, 1);
		if (g == NULL)
			goto oom;
	}
	p->all_loaded = 1;
	return K8S_OK;
oom:
	return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: out of memory", st->dir);
}

/* ------------------------------------------------------- allocation */

/* The first 8 bytes of SHA-256(name), big-endian: the same number on
 * every host (docs/store-format.md shows it in one line of Python). */
static int name_digest(const char *name, uint64_t *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (EVP_Digest(name, strlen(name), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 8)
		return -1;
	*out = 0;
	for (i = 0; i < 8; i++)
		*out = (*out << 8) | md[i];
	return 0;
}

static int id_reserved(uint32_t id)
{
	return id < K8S_SF_MIN_ID || id == 65534 || id == 65535 || id == 0xffffffffu;
}

static int pin_cmp_name(const void *a, const void *b)
{
	return strcmp((*(const struct k8s_declared *const *)a)->name,
		      (*(const struct k8s_declared *const *)b)->name);
}

static int pin_cmp_uid(const void *a, const void *b)
{
	int64_t x = (*(const struct k8s_declared *const *)a)->uid;
	int64_t y = (*(const struct k8s_declared *const *)b)->uid;

	return (x > y) - (x < y);
}

/* The pinned declared entries of cfg, sorted twice (a run with 100,000
 * declared names asked each of them for every uid it probed).  0, or -1
 * out of memory. */
static int pins_of(struct k8s_store *st, const struct k8s_config *cfg, struct pin_index **out)
{
	struct pin_index *x = &st->priv->pins;
	size_t i, n = 0;

	*out = x;
	if (x->cfg == cfg && x->declared == cfg->accounts.declared &&
	    x->n_declared == cfg->accounts.n_declared)
		return 0;
	free(x->by_name);
	free(x->by_uid);
	memset(x, 0, sizeof(*x));
	for (i = 0; i < cfg->accounts.n_declared; i++)
		n += cfg->accounts.declared[i].uid >= 0;
	if (n > 0) {
		x->by_name = malloc(n * sizeof(*x->by_name));
		x->by_uid = malloc(n * sizeof(*x->by_uid));
		if (x->by_name == NULL || x->by_uid == NULL) {
			free(x->by_name);
			free(x->by_uid);
			memset(x, 0, sizeof(*x));
			return -1;
		}
		for (i = 0; i < cfg->accounts.n_declared; i++)
			if (cfg->accounts.declared[i].uid >= 0)
				x->by_name[x->n++] = &cfg->accounts.declared[i];
		memcpy(x->by_uid, x->by_name, n * sizeof(*x->by_uid));
		k8s_qsort(x->by_name, n, sizeof(*x->by_name), pin_cmp_name);
		k8s_qsort(x->by_uid, n, sizeof(*x->by_uid), pin_cmp_uid);
	}
	x->cfg = cfg;
	x->declared = cfg->accounts.declared;
	x->n_declared = cfg->accounts.n_declared;
	return 0;
}

/* 1 when uid is pinned for another declared name (or the index cannot be
 * built: taken, fail closed), 0 when not. */
static int pinned_by_other(struct k8s_store *st, const struct k8s_config *cfg, const char *name,
			   uint32_t uid)
{
	struct k8s_declared key = {.uid = uid};
	const struct k8s_declared *kp = &key, *const *hit;
	struct pin_index *x;

	if (pins_of(st, cfg, &x) != 0)
		return 1;
	if (x->n == 0)
		return 0;
	hit = k8s_bsearch(&kp, x->by_uid, x->n, sizeof(*x->by_uid), pin_cmp_uid);
	return hit != NULL && strcmp((*hit)->name, name) != 0; /* config: pinned uids are unique */
}

/* The uid pinned for name, -1 none; -2 out of memory. */
static int64_t declared_pin(struct k8s_store *st, const struct k8s_config *cfg, const char *name)
{
	struct k8s_declared key = {.name = (char *)name};
	const struct k8s_declared *kp = &key, *const *hit;
	struct pin_index *x;

	if (pins_of(st, cfg, &x) != 0)
		return -2;
	if (x->n == 0)
		return -1;
	hit = k8s_bsearch(&kp, x->by_name, x->n, sizeof(*x->by_name), pin_cmp_name);
	return hit != NULL ? (*hit)->uid : -1;
}

/* 0 free, 1 taken (a damaged store entry counts as taken), -errno when
 * NSS cannot answer. */
static int uid_state(struct k8s_store *st, const struct k8s_config *cfg, const char *name,
		     uint32_t uid)
{
	struct k8s_store_user *u;

	if (id_reserved(uid) || pinned_by_other(st, cfg, name, uid) || lookup_uid(st, uid, &u) != 0)
		return 1;
	return foreign(st, 0, NULL, uid);
}

static int gid_state(struct k8s_store *st, uint32_t gid)
{
	struct k8s_store_group *g;

	if (id_reserved(gid) || lookup_gid(st, gid, &g) != 0)
		return 1;
	return foreign(st, 1, NULL, gid);
}

/* min + SHA-256(name) mod span, then +1 (wrapping) past every taken one. */
static int alloc_id(struct k8s_store *st, const struct k8s_config *cfg, int group,
		    const char *name, uint32_t *out, struct k8s_err *err)
{
	uint32_t min = group ? cfg->accounts.gid_min : cfg->accounts.uid_min;
	uint32_t max = group ? cfg->accounts.gid_max : cfg->accounts.uid_max;
	uint64_t span, start, i, h;
	const char *what = group ? "gid" : "uid";
	int r;

	if (max < min || name_digest(name, &h) != 0)
		return k8s_err_set(err, K8S_ECONFIG, "bad id range", "%s range of %s unusable", what, name);
	span = (uint64_t)max - min + 1;
	start = h % span;
	for (i = 0; i < span && i < PROBE_MAX; i++) {
		uint32_t c = (uint32_t)(min + (start + i) % span);

		r = group ? gid_state(st, c) : uid_state(st, cfg, name, c);
		if (r < 0)
			return k8s_err_set(err, K8S_UNAVAILABLE, "cannot check other account sources",
					   "%s %u for %s: NSS lookup failed: %s", what, c, name, strerror(-r));
		if (r == 0) {
			*out = c;
			return K8S_OK;
		}
	}
	return k8s_err_set(err, K8S_UNAVAILABLE, "no free id", "no free %s for %s in [%u, %u]",
			   what, name, min, max);
}

static char *expand_home(struct k8s_store_priv *p, const char *tmpl, const char *name)
{
	struct k8s_buf b = {0};
	char *r = NULL;
	const char *s;

	for (s = tmpl; *s != '\0'; s++) {
		if (s[0] == '%' && s[1] == 'u') {
			if (k8s_buf_append(&b, name, strlen(name)) != 0)
				goto out;
			s++;
		} else if (s[0] == '%' && s[1] == '%') {
			if (k8s_buf_append(&b, "%", 1) != 0)
				goto out;
			s++;
		} else if (k8s_buf_append(&b, s, 1) != 0) {
			goto out;
		}
	}
	if (k8s_buf_append(&b, "", 1) != 0)
		goto out;
	r = arena_strdup(p, b.data);
out:
	k8s_buf_free(&b);
	return r;
}

static int damaged_entry(const char *name, struct k8s_err *err)
{
	return k8s_err_set(err, K8S_UNAVAILABLE, "identity store damaged",
			   "the entry for %s does not verify; run `k8s-auth sync` to salvage the store",
			   name);
}

/* A new account may not take a name another source (or a store group)
 * already has: it would shadow or be shadowed by it. */
static int check_new_name(struct k8s_store *st, const char *name, struct k8s_err *err)
{
	struct k8s_store_group *g;
	int r;

	r = lookup_group(st, name, &g);
	if (r < 0)
		return damaged_entry(name, err);
	if (r > 0)
		return k8s_err_set(err, K8S_REFUSED, "name taken by a group",
				   "%s is a group of the identity store", name);
	r = foreign(st, 0, name, 0);
	if (r == 1)
		return k8s_err_set(err, K8S_REFUSED, "name used by another account source",
				   "%s is an existing account (not from the identity store)", name);
	if (r == 0)
		r = foreign(st, 1, name, 0);
	if (r == 1)
		return k8s_err_set(err, K8S_REFUSED, "name used by another account source",
				   "%s is an existing group (not from the identity store)", name);
	if (r < 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "cannot check other account sources",
				   "%s: NSS lookup failed: %s", name, strerror(-r));
	return K8S_OK;
}

static int pick_ids(struct k8s_store *st, const struct k8s_config *cfg, const char *name,
		    int64_t pin, uint32_t *uid, uint32_t *gid, struct k8s_err *err)
{
	int r, rc;

	if (pin >= 0) {
		r = pin > UINT32_MAX ? 1 : uid_state(st, cfg, name, (uint32_t)pin);
		if (r != 0)
			return k8s_err_set(err, r < 0 ? K8S_UNAVAILABLE : K8S_ECONFIG, "pinned uid taken",
					   "uid %lld pinned for %s is %s", (long long)pin, name,
					   r < 0 ? "not checkable (NSS lookup failed)" : "already in use");
		*uid = (uint32_t)pin;
	} else {
		rc = alloc_id(st, cfg, 0, name, uid, err);
		if (rc != K8S_OK)
			return rc;
	}
	r = 1;
	if (*uid >= cfg->accounts.gid_min && *uid <= cfg->accounts.gid_max)
		r = gid_state(st, *uid);
	if (r < 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "cannot check other account sources",
				   "gid %u for %s: NSS lookup failed: %s", *uid, name, strerror(-r));
	if (r == 0) {
		*gid = *uid;
		return K8S_OK;
	}
	return alloc_id(st, cfg, 1, name, gid, err);
}

static int create_user(struct k8s_store *st, const struct k8s_config *cfg, const char *name,
		       uint32_t source, int64_t pin, struct k8s_store_user **out, struct k8s_err *err)
{
	struct k8s_store_priv *p = st->priv;
	struct k8s_store_user *u;
	uint32_t uid = 0, gid = 0;
	int rc;

	rc = check_new_name(st, name, err);
	if (rc == K8S_OK)
		rc = pick_ids(st, cfg, name, pin, &uid, &gid, err);
	if (rc != K8S_OK)
		return rc;
	u = add_user(st, name, uid, gid);
	if (u == NULL || add_group(st, name, gid, 1, source, 0) == NULL)
		goto oom;
	u->sources = source;
	u->uid_pinned = pin >= 0;
	u->gecos = arena_strdup(p, "");
	u->home = expand_home(p, cfg->accounts.home, name);
	u->shell = arena_strdup(p, cfg->accounts.shell);
	if (u->gecos == NULL || u->home == NULL || u->shell == NULL)
		goto oom;
	*out = u;
	return K8S_OK;
oom:
	return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: out of memory", name);
}

int k8s_store_ensure_user(struct k8s_store *st, const struct k8s_config *cfg, const char *name,
			  uint32_t source, int64_t pinned_uid, struct k8s_store_user **out,
			  struct k8s_err *err)
{
	struct k8s_store_user *u = NULL;
	int rc = K8S_OK, r;

	if (out != NULL)
		*out = NULL;
	if (st == NULL || cfg == NULL || out == NULL)
		return k8s_err_set(err, K8S_ECONFIG, "bad call", "k8s_store_ensure_user: NULL argument");
	if (!k8s_valid_local_name(name))
		return k8s_err_set(err, K8S_REFUSED, "mapped name is not a valid local name",
				   "\"%.40s\" is not a valid local name", name ? name : "");
	st->priv->cfg = cfg;
	if (pinned_uid < 0)
		pinned_uid = declared_pin(st, cfg, name);
	if (pinned_uid == -2)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: out of memory", name);
	r = lookup_user(st, name, &u);
	if (r < 0) {
		rc = damaged_entry(name, err);
		goto out;
	}
	if (r == 0) {
		rc = create_user(st, cfg, name, source, pinned_uid, &u, err);
		goto out;
	}
	if (u->sources & K8S_SRC_EXISTING) {
		rc = k8s_err_set(err, K8S_REFUSED, "name used by another account source",
				 "%s is an existing account (accounts.allowExisting), not from the identity store",
				 name);
		goto out;
	}
	if (pinned_uid >= 0 && (int64_t)u->uid != pinned_uid) {
		rc = k8s_err_set(err, K8S_ECONFIG, "pinned uid differs",
				 "%s has uid %u in the identity store, the configuration pins %lld; "
				 "files keep the old uid, so this is not changed automatically",
				 name, (unsigned)u->uid, (long long)pinned_uid);
		goto out;
	}
	if (pinned_uid >= 0)
		u->uid_pinned = 1;
	u->sources |= source;
out:
	if (rc == K8S_OK)
		*out = u;
	return rc;
}

/* ------------------------------------------------------------ groups */

/* Where a mapped group lands: K8S_OK with *gid, K8S_REFUSED (dropped,
 * why[] says why), or an error. */
static int resolve_group(struct k8s_store *st, const struct k8s_config *cfg, const char *name,
			 int templated, uint32_t source, gid_t *gid, char *why, size_t whylen,
			 struct k8s_err *err)
{
	struct k8s_store_group *g;
	struct nss_hit hit;
	uint32_t id;
	int rc;

	if (!k8s_valid_local_name(name)) {
		snprintf(why, whylen, "%.40s (not a valid name)", name);
		return K8S_REFUSED;
	}
	rc = lookup_group(st, name, &g);
	if (rc < 0)
		return damaged_entry(name, err);
	if (rc > 0 && g->private_group) {
		snprintf(why, whylen, "%s (a user's private group)", name);
		return K8S_REFUSED;
	}
	if (rc > 0) {
		g->sources |= source;
		*gid = g->gid;
		return K8S_OK;
	}
	rc = nss_lookup(1, name, 0, &hit);
	if (rc != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "cannot check other account sources",
				   "group %s: NSS lookup failed: %s", name, strerror(rc));
	if (hit.found && !own_group(st, hit.name, hit.id)) {
		if (templated) {
			snprintf(why, whylen, "%s (templated, but an existing local group)", name);
			return K8S_REFUSED;
		}
		if (hit.id == 0) {
			snprintf(why, whylen, "%s (the root group is never granted)", name);
			return K8S_REFUSED;
		}
		*gid = hit.id;
		return K8S_OK;
	}
	rc = foreign(st, 0, name, 0);
	if (rc < 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "cannot check other account sources",
				   "user %s: NSS lookup failed: %s", name, strerror(-rc));
	if (rc == 1 && templated) {
		/* A group named like a local user would read as its private group. */
		snprintf(why, whylen, "%s (templated, but an existing local user)", name);
		return K8S_REFUSED;
	}
	rc = alloc_id(st, cfg, 1, name, &id, err);
	if (rc != K8S_OK)
		return rc;
	if (add_group(st, name, id, 0, source, 0) == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "group %s: out of memory", name);
	*gid = id;
	return K8S_OK;
}

static void note_drop(char *buf, size_t len, const char *why)
{
	size_t used = strlen(buf);

	if (used < len)
		snprintf(buf + used, len - used, "%s%s", used ? ", " : "", why);
}

int k8s_store_set_memberships(struct k8s_store *st, const struct k8s_config *cfg,
			      struct k8s_store_user *u, uint32_t source,
			      const struct k8s_mapped_group *groups, size_t n, struct k8s_err *err)
{
	struct k8s_store_membership *ms, *m;
	char dropped[400] = "", why[96];
	size_t i, j, k = 0;
	gid_t gid;
	int rc = K8S_OK;

	if (st == NULL || cfg == NULL || u == NULL || (n > 0 && groups == NULL) ||
	    k8s_store_model_user(st, u->name) != u)
		return k8s_err_set(err, K8S_ECONFIG, "bad call", "k8s_store_set_memberships: bad argument");
	st->priv->cfg = cfg;
	ms = k8s_store_arena_alloc(st->priv, (u->n_groups + n + 1) * sizeof(*ms));
	if (ms == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: out of memory", u->name);
	for (i = 0; i < u->n_groups; i++) {
		ms[k] = u->groups[i];
		ms[k].sources &= ~source;
		k += ms[k].sources != 0;
	}
	for (i = 0; i < n; i++) {
		rc = resolve_group(st, cfg, groups[i].name, groups[i].templated, source, &gid,
				   why, sizeof(why), err);
		if (rc == K8S_REFUSED) {
			note_drop(dropped, sizeof(dropped), why);
			continue;
		}
		if (rc != K8S_OK)
			return rc;
		for (j = 0, m = NULL; j < k && m == NULL; j++)
			if (strcmp(ms[j].group, groups[i].name) == 0)
				m = &ms[j];
		if (m == NULL) {
			m = &ms[k++];
			memset(m, 0, sizeof(*m));
			snprintf(m->group, sizeof(m->group), "%s", groups[i].name);
		}
		m->gid = gid;
		m->sources |= source;
	}
	if (apply_diff(st, u->name, u->groups, u->n_groups, ms, k) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: out of memory", u->name);
	u->groups = ms;
	u->n_groups = k;
	if (dropped[0] != '\0')
		k8s_err_set(err, K8S_OK, "group mappings dropped", "%s: not granted: %s", u->name, dropped);
	return K8S_OK;
}

/* ------------------------------------------------- logins, sync, forget */

static int text_printable(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || i >= max)
			return 0;
	return 1;
}

/* gecos ends up between ':' in passwd lines and is split at ','. */
static char *gecos_of(struct k8s_store_priv *p, const char *username)
{
	char buf[GECOS_MAX + 1];
	size_t i;

	for (i = 0; username[i] != '\0' && i < GECOS_MAX; i++) {
		unsigned char c = (unsigned char)username[i];

		buf[i] = (c < 0x20 || c == 0x7f || c == ':' || c == ',') ? '_' : (char)c;
	}
	buf[i] = '\0';
	return arena_strdup(p, buf);
}

static char *display_of(struct k8s_store_priv *p, const char *s)
{
	struct k8s_buf b = {0};
	char *r = NULL;

	if (k8s_buf_percent_encode(&b, s) == 0 && k8s_buf_append(&b, "", 1) == 0) {
		if (b.len > TEXT_MAX)
			b.data[TEXT_MAX] = '\0';
		r = arena_strdup(p, b.data);
	}
	k8s_buf_free(&b);
	return r;
}

static int same_str(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

int k8s_store_record_login(struct k8s_store *st, const struct k8s_config *cfg, const char *local,
			   const char *binding, const struct k8s_identity *id,
			   const struct k8s_mapped_group *groups, size_t n_groups, time_t now,
			   struct k8s_err *err)
{
	struct k8s_store_user *u;
	char *gecos, *shown;
	int rc;

	if (st == NULL || cfg == NULL || local == NULL || id == NULL || id->username == NULL)
		return k8s_err_set(err, K8S_ECONFIG, "bad call", "k8s_store_record_login: NULL argument");
	if (binding == NULL || binding[0] == '\0' || !text_printable(binding, K8S_SF_STR_MAX))
		return k8s_err_set(err, K8S_REFUSED, "no identity binding",
				   "%s: the identity has no usable binding", local);
	rc = lookup_user(st, local, &u);
	if (rc < 0)
		return damaged_entry(local, err);
	if (rc > 0 && u->binding != NULL && strcmp(u->binding, binding) != 0)
		return k8s_err_set(err, K8S_REFUSED, "identity binding mismatch",
				   "%s is bound to %s, the token is %s", local, u->binding, binding);
	if (rc > 0 && (u->sources & K8S_SRC_EXISTING)) {
		u->sources |= K8S_SRC_LOGIN;
	} else {
		rc = k8s_store_ensure_user(st, cfg, local, K8S_SRC_LOGIN, -1, &u, err);
		if (rc != K8S_OK)
			return rc;
	}
	if (u->binding == NULL)
		u->binding = arena_strdup(st->priv, binding);
	gecos = gecos_of(st->priv, id->username);
	shown = display_of(st->priv, id->username);
	if (u->binding == NULL || gecos == NULL || shown == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: out of memory", local);
	if (!same_str(u->gecos, gecos))
		u->gecos = gecos;
	if (!same_str(u->cluster_user, shown))
		u->cluster_user = shown;
	u->last_login = now;
	return k8s_store_set_memberships(st, cfg, u, K8S_SRC_LOGIN, groups, n_groups, err);
}

int k8s_store_ensure_existing(struct k8s_store *st, const char *name, struct k8s_store_user **out,
			      struct k8s_err *err)
{
	struct k8s_store_user *u = NULL;
	int r;

	*out = NULL;
	if (!k8s_valid_local_name(name))
		return k8s_err_set(err, K8S_REFUSED, "mapped name is not a valid local name",
				   "\"%.40s\" is not a valid local name", name ? name : "");
	r = lookup_user(st, name, &u);
	if (r < 0)
		return damaged_entry(name, err);
	if (r > 0 && !(u->sources & K8S_SRC_EXISTING))
		return k8s_err_set(err, K8S_REFUSED, "name taken by a store account",
				   "%s is an account of the identity store and of another NSS source", name);
	if (r == 0) {
		/* No numbers: they are the other source's, looked up when needed. */
		u = add_user(st, name, 0, 0);
		if (u == NULL || (u->gecos = arena_strdup(st->priv, "")) == NULL ||
		    (u->home = arena_strdup(st->priv, "/")) == NULL ||
		    (u->shell = arena_strdup(st->priv, "/")) == NULL)
			return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: out of memory", name);
		u->sources = K8S_SRC_EXISTING;
	}
	*out = u;
	return K8S_OK;
}

static int declare_groups(struct k8s_store *st, const struct k8s_config *cfg, struct k8s_err *err)
{
	struct k8s_store_group *g;
	char why[96];
	gid_t gid;
	size_t i;
	int rc;

	for (i = 0; i < st->n_groups; i++)
		if (!st->groups[i]->private_group)
			st->groups[i]->sources &= ~K8S_SRC_DECLARED;
	for (i = 0; i < cfg->accounts.n_groups; i++) {
		const struct k8s_map_rule *r = &cfg->accounts.groups[i];

		if (r->templated)
			continue;
		rc = resolve_group(st, cfg, r->local, 0, K8S_SRC_DECLARED, &gid, why, sizeof(why), err);
		if (rc == K8S_REFUSED)
			continue;
		if (rc != K8S_OK)
			return rc;
		g = k8s_store_model_group(st, r->local);
		if (g != NULL && !g->private_group && k8s_store_load_members(st, g) != 0)
			return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: out of memory");
	}
	return K8S_OK;
}

int k8s_store_apply_declared(struct k8s_store *st, const struct k8s_config *cfg, struct k8s_err *err)
{
	struct k8s_store_user *u;
	struct strset keep = {0};
	size_t i;
	int rc;

	if (st == NULL || cfg == NULL)
		return k8s_err_set(err, K8S_ECONFIG, "bad call", "k8s_store_apply_declared: NULL argument");
	st->priv->cfg = cfg;
	rc = k8s_store_load_all(st, err);
	for (i = 0; rc == K8S_OK && i < cfg->accounts.n_declared; i++) {
		rc = k8s_store_ensure_user(st, cfg, cfg->accounts.declared[i].name, K8S_SRC_DECLARED,
					   cfg->accounts.declared[i].uid, &u, err);
		if (rc == K8S_OK && strset_add(st->priv, &keep, u->name) != 0)
			rc = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: out of memory");
	}
	if (rc != K8S_OK)
		goto out;
	for (i = 0; i < st->n_users; i++) {
		u = st->users[i];
		if (!k8s_store_strset_has(&keep, u->name))
			u->sources &= ~K8S_SRC_DECLARED;
		/* no longer allowed: its binding and learned groups go with it */
		if ((u->sources & K8S_SRC_EXISTING) && !k8s_strv_contains(&cfg->accounts.allow_existing, u->name))
			u->sources = 0;
	}
	rc = declare_groups(st, cfg, err);
	if (rc == K8S_OK && k8s_store_drop_dead(st) != 0)
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: out of memory");
out:
	free(keep.slot);
	return rc;
}

int k8s_store_forget(struct k8s_store *st, const char *name, struct k8s_err *err)
{
	struct k8s_store_membership *ms;
	struct k8s_store_user *u;
	size_t i, k = 0;
	int r;

	r = st != NULL && name != NULL ? lookup_user(st, name, &u) : 0;
	if (r < 0)
		return damaged_entry(name, err);
	if (r == 0)
		return k8s_err_set(err, K8S_REFUSED, "unknown account", "no account %s in the identity store",
				   name ? name : "(null)");
	ms = k8s_store_arena_alloc(st->priv, (u->n_groups + 1) * sizeof(*ms));
	if (ms == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "forget: out of memory");
	for (i = 0; i < u->n_groups; i++) {
		ms[k] = u->groups[i];
		ms[k].sources &= ~K8S_SRC_LOGIN;
		k += ms[k].sources != 0;
	}
	if (apply_diff(st, u->name, u->groups, u->n_groups, ms, k) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "forget: out of memory");
	u->groups = ms;
	u->n_groups = k;
	u->binding = NULL;
	u->sources &= ~K8S_SRC_LOGIN;
	if (u->sources == K8S_SRC_EXISTING)
		u->sources = 0; /* it only ever held what logins taught */
	if (u->sources == 0 && k8s_store_drop_dead(st) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "forget: out of memory");
	return K8S_OK;
}

/* ------------------------------------ sync support (`k8s-auth sync`) */

int k8s_store_define_groups(struct k8s_store *st, const struct k8s_config *cfg,
			    const struct k8s_mapped_group *groups, size_t n, struct k8s_err *err)
{
	const uint32_t defined = K8S_SRC_SYNCED | K8S_SRC_GROUP_SYNCED;
	char dropped[400] = "", why[96];
	gid_t gid;
	size_t i;
	int rc;

	if (st == NULL || cfg == NULL || (n > 0 && groups == NULL))
		return k8s_err_set(err, K8S_ECONFIG, "bad call", "k8s_store_define_groups: bad argument");
	st->priv->cfg = cfg;
	rc = k8s_store_load_all(st, err);
	if (rc != K8S_OK)
		return rc;
	/* SYNCED through members comes back at commit (rebuild_members). */
	for (i = 0; i < st->n_groups; i++)
		if (!st->groups[i]->private_group)
			st->groups[i]->sources &= ~defined;
	for (i = 0; i < n; i++) {
		rc = resolve_group(st, cfg, groups[i].name, groups[i].templated, defined, &gid,
				   why, sizeof(why), err);
		if (rc == K8S_REFUSED)
			note_drop(dropped, sizeof(dropped), why);
		else if (rc != K8S_OK)
			return rc;
	}
	if (dropped[0] != '\0')
		k8s_err_set(err, K8S_OK, "group mappings dropped", "groups not defined: %s", dropped);
	return K8S_OK;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* u loses `source` and its memberships of that source. */
static int strip_source(struct k8s_store *st, struct k8s_store_user *u, uint32_t source,
			uint32_t weak)
{
	struct k8s_store_membership *ms;
	size_t i, k = 0;

	ms = k8s_store_arena_alloc(st->priv, (u->n_groups + 1) * sizeof(*ms));
	if (ms == NULL)
		return -1;
	for (i = 0; i < u->n_groups; i++) {
		ms[k] = u->groups[i];
		ms[k].sources &= ~source;
		k += ms[k].sources != 0;
	}
	if (apply_diff(st, u->name, u->groups, u->n_groups, ms, k) != 0)
		return -1;
	u->groups = ms;
	u->n_groups = k;
	u->sources &= ~source;
	if ((u->sources & ~weak) == 0)
		u->sources = 0;
	return 0;
}

int k8s_store_prune_source(struct k8s_store *st, uint32_t source, const char *const *keep,
			   size_t n_keep, uint32_t weak, struct k8s_err *err)
{
	struct k8s_store_user *u;
	const char *name;
	size_t i;
	int rc;

	if (st == NULL || (n_keep > 0 && keep == NULL))
		return k8s_err_set(err, K8S_ECONFIG, "bad call", "k8s_store_prune_source: bad argument");
	rc = k8s_store_load_all(st, err);
	if (rc != K8S_OK)
		return rc;
	for (i = 0; i < st->n_users; i++) {
		u = st->users[i];
		name = u->name;
		if (!(u->sources & source) ||
		    (n_keep > 0 && k8s_bsearch(&name, keep, n_keep, sizeof(*keep), name_cmp) != NULL))
			continue;
		if (strip_source(st, u, source, weak) != 0)
			goto oom;
	}
	if (k8s_store_drop_dead(st) != 0)
		goto oom;
	return K8S_OK;
oom:
	return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "prune: out of memory");
}
