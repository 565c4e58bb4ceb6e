/* store.c: the identity store model and its writer (store.h).
 *
 * The model is loaded from the current file, changed in memory, and
 * written back whole (k8s_store_commit).  Strings of loaded accounts point
 * into the loaded image, new ones come from a per-store arena, so loading
 * 100k accounts costs a handful of allocations; four open-addressing
 * tables make name/uid/gid lookups O(1) during allocation and mapping. */
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "storefmt.h"
#include "util.h"

#ifndef K8S_STOREDIR
#define K8S_STOREDIR K8S_DEFAULT_STORE
#endif

#define TMP_PREFIX    ".identities.db."
#define CORRUPT_NAME  "identities.db.corrupt"
#define LOCK_NAME     ".lock"
#define PROBE_MAX     100000u
#define GECOS_MAX     255
#define TEXT_MAX      1024

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	unsigned char data[];
};

struct imap {
	uint32_t *slot; /* index + 1; 0 = empty */
	size_t mask;
};

struct k8s_store_priv {
	unsigned char *image;          /* the loaded file; loaded strings point here */
	struct k8s_sf sf;              /* its reader (base NULL: none), to recognise our own entries */
	struct k8s_store_membership *loaded_ms;
	struct arena_chunk *arena;
	size_t users_cap, groups_cap;
	struct imap uname, uid, gname, gid;
	size_t map_users, map_groups;  /* entries the tables were built for */
	int maps_dirty;
	int damaged;                   /* keep the loaded file as .corrupt at commit */
};

/* ------------------------------------------------------------ arena */

static void *arena_alloc(struct k8s_store_priv *p, size_t n)
{
	struct arena_chunk *c = p->arena;
	size_t cap;
	void *r;

	n = (n + 7) & ~(size_t)7;
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
	return r;
}

static char *arena_strdup(struct k8s_store_priv *p, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = arena_alloc(p, n);

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

/* ------------------------------------------------------------ tables */

enum mkind { M_UNAME, M_UID, M_GNAME, M_GID };

static uint32_t mix_id(uint32_t id)
{
	return (uint32_t)(((uint64_t)id * 0x9E3779B97F4A7C15ULL) >> 32);
}

static uint32_t name_key(const char *name)
{
	return k8s_sf_name_hash(name, strlen(name));
}

static uint32_t entry_key(const struct k8s_store *st, enum mkind k, uint32_t i)
{
	switch (k) {
	case M_UNAME: return name_key(st->users[i].name);
	case M_UID: return mix_id((uint32_t)st->users[i].uid);
	case M_GNAME: return name_key(st->groups[i].name);
	default: return mix_id((uint32_t)st->groups[i].gid);
	}
}

static int entry_eq(const struct k8s_store *st, enum mkind k, uint32_t i, const char *name,
		    uint32_t id)
{
	switch (k) {
	case M_UNAME: return strcmp(st->users[i].name, name) == 0;
	case M_UID: return (uint32_t)st->users[i].uid == id;
	case M_GNAME: return strcmp(st->groups[i].name, name) == 0;
	default: return (uint32_t)st->groups[i].gid == id;
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
	p->map_users = st->n_users;
	p->map_groups = st->n_groups;
	p->maps_dirty = 0;
	return 0;
}

/* Index of the entry, or -1.  Tables are rebuilt lazily after removals. */
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

	if (p->maps_dirty)
		return;
	if (2 * n + 2 > map_of(p, user ? M_UNAME : M_GNAME)->mask + 1) {
		p->maps_dirty = 1;
		return;
	}
	if (user) {
		map_put(&p->uname, entry_key(st, M_UNAME, i), i);
		map_put(&p->uid, entry_key(st, M_UID, i), i);
		p->map_users = n;
	} else {
		map_put(&p->gname, entry_key(st, M_GNAME, i), i);
		map_put(&p->gid, entry_key(st, M_GID, i), i);
		p->map_groups = n;
	}
}

struct k8s_store_user *k8s_store_find_user(struct k8s_store *st, const char *name)
{
	long i;

	if (st == NULL || name == NULL)
		return NULL;
	i = map_find(st, M_UNAME, name, 0);
	return i < 0 ? NULL : &st->users[i];
}

struct k8s_store_user *k8s_store_find_uid(struct k8s_store *st, uid_t uid)
{
	long i;

	if (st == NULL)
		return NULL;
	i = map_find(st, M_UID, NULL, (uint32_t)uid);
	return i < 0 ? NULL : &st->users[i];
}

struct k8s_store_group *k8s_store_find_group(struct k8s_store *st, const char *name)
{
	long i;

	if (st == NULL || name == NULL)
		return NULL;
	i = map_find(st, M_GNAME, name, 0);
	return i < 0 ? NULL : &st->groups[i];
}

static struct k8s_store_group *find_gid(struct k8s_store *st, gid_t gid)
{
	long i = map_find(st, M_GID, NULL, (uint32_t)gid);

	return i < 0 ? NULL : &st->groups[i];
}

/* ------------------------------------------------------------ model */

static struct k8s_store_user *add_user(struct k8s_store *st, const char *name, uid_t uid, gid_t gid)
{
	struct k8s_store_priv *p = st->priv;
	struct k8s_store_user *u, *nu;
	size_t cap;

	if (st->n_users == p->users_cap) {
		cap = p->users_cap ? 2 * p->users_cap : 64;
		nu = realloc(st->users, cap * sizeof(*nu));
		if (nu == NULL)
			return NULL;
		st->users = nu;
		p->users_cap = cap;
	}
	u = &st->users[st->n_users++];
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->uid = uid;
	u->gid = gid;
	map_added(st, 1);
	return u;
}

static struct k8s_store_group *add_group(struct k8s_store *st, const char *name, gid_t gid,
					 int private_group, uint32_t sources)
{
	struct k8s_store_priv *p = st->priv;
	struct k8s_store_group *g, *ng;
	size_t cap;

	if (st->n_groups == p->groups_cap) {
		cap = p->groups_cap ? 2 * p->groups_cap : 64;
		ng = realloc(st->groups, cap * sizeof(*ng));
		if (ng == NULL)
			return NULL;
		st->groups = ng;
		p->groups_cap = cap;
	}
	g = &st->groups[st->n_groups++];
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->gid = gid;
	g->private_group = private_group;
	g->sources = sources;
	map_added(st, 0);
	return g;
}

/* Remove users whose sources are 0 (with their private groups) and
 * non-private groups whose sources are 0, in one pass each. */
static int drop_dead(struct k8s_store *st)
{
	size_t i, j;

	for (i = j = 0; i < st->n_users; i++)
		if (st->users[i].sources != 0)
			st->users[j++] = st->users[i];
	st->n_users = j;
	st->priv->maps_dirty = 1;
	if (maps_rebuild(st) != 0)
		return -1;
	for (i = j = 0; i < st->n_groups; i++) {
		struct k8s_store_group *g = &st->groups[i];
		struct k8s_store_user *u;

		if (g->private_group) {
			u = k8s_store_find_user(st, g->name);
			if (u == NULL || u->gid != g->gid)
				continue;
		} else if (g->sources == 0) {
			continue;
		}
		st->groups[j++] = *g;
	}
	st->n_groups = j;
	st->priv->maps_dirty = 1;
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

/* An NSS answer that is this store's own account (served by libnss_k8s
 * from the file we loaded, or already in the model). */
static int own_user(struct k8s_store *st, const char *name, uint32_t uid)
{
	struct k8s_store_user *u = k8s_store_find_user(st, name);
	struct k8s_sf_user v;

	if (u != NULL && (uint32_t)u->uid == uid)
		return 1;
	return k8s_sf_user_by_name(&st->priv->sf, name, &v) && v.uid == uid;
}

static int own_group(struct k8s_store *st, const char *name, uint32_t gid)
{
	struct k8s_store_group *g = k8s_store_find_group(st, name);
	struct k8s_sf_group v;

	if (g != NULL && (uint32_t)g->gid == gid)
		return 1;
	return k8s_sf_group_by_name(&st->priv->sf, name, &v) && v.gid == gid;
}

/* 1 when another NSS source has this user/group (by name or by id), 0 when
 * not, -errno when NSS cannot tell. */
static int foreign(struct k8s_store *st, int group, const char *name, uint32_t id)
{
	struct nss_hit hit;
	int rc = nss_lookup(group, name, id, &hit);

	if (rc != 0)
		return -rc;
	if (!hit.found)
		return 0;
	return group ? !own_group(st, hit.name, hit.id) : !own_user(st, hit.name, hit.id);
}

/* ------------------------------------------------------------ loading */

static char *image_str(const char *s)
{
	/* Loaded strings live in the image the store keeps; the model's
	 * fields are char * but never written through. */
	return (char *)(uintptr_t)s;
}

static int load_user(struct k8s_store *st, const struct k8s_sf_user *v, size_t *ms_used)
{
	struct k8s_store_priv *p = st->priv;
	struct k8s_store_membership *m;
	struct k8s_sf_strlist names = v->group_names;
	struct k8s_store_user *u;
	const char *gname;
	uint32_t i, gid, src;

	if (k8s_store_find_user(st, v->name) != NULL || k8s_store_find_uid(st, v->uid) != NULL)
		return 0;
	u = add_user(st, v->name, v->uid, v->gid);
	if (u == NULL)
		return -1;
	u->gecos = image_str(v->gecos);
	u->home = image_str(v->home);
	u->shell = image_str(v->shell);
	u->binding = v->binding[0] ? image_str(v->binding) : NULL;
	u->cluster_user = v->cluster_user[0] ? image_str(v->cluster_user) : NULL;
	u->sources = v->sources & (K8S_SRC_DECLARED | K8S_SRC_SYNCED | K8S_SRC_LOGIN);
	if (u->sources == 0)
		u->sources = K8S_SRC_LOGIN;
	u->uid_pinned = (v->flags & K8S_SF_USER_PINNED) != 0;
	u->last_login = (time_t)v->last_login;
	u->groups = p->loaded_ms + *ms_used;
	for (i = 0; i < v->n_memberships; i++) {
		gname = k8s_sf_strlist_next(&names);
		k8s_sf_membership(v, i, &gid, &src);
		if (gname == NULL)
			break;
		m = &u->groups[u->n_groups++];
		snprintf(m->group, sizeof(m->group), "%s", gname);
		m->gid = gid;
		m->sources = src;
	}
	*ms_used += u->n_groups;
	return 1;
}

/* Users first (their private groups follow them), then the other groups.
 * Records that do not verify, and duplicates, are counted in *lost. */
static int load_model(struct k8s_store *st, size_t *lost)
{
	struct k8s_store_priv *p = st->priv;
	const struct k8s_sf *sf = &p->sf;
	size_t total_ms = 0, used = 0;
	struct k8s_sf_user v;
	struct k8s_sf_group g;
	uint32_t i;
	int r;

	for (i = 0; i < sf->n_users; i++)
		if (k8s_sf_user_at(sf, i, &v))
			total_ms += v.n_memberships;
	p->loaded_ms = calloc(total_ms + 1, sizeof(*p->loaded_ms));
	if (p->loaded_ms == NULL)
		return -1;
	p->maps_dirty = 1;
	for (i = 0; i < sf->n_users; i++) {
		r = k8s_sf_user_at(sf, i, &v) ? load_user(st, &v, &used) : 0;
		if (r < 0)
			return -1;
		*lost += r == 0;
		if (used > total_ms) /* the image changed under us: cannot happen, it is ours */
			return -1;
	}
	for (i = 0; i < sf->n_groups; i++) {
		if (!k8s_sf_group_at(sf, i, &g)) {
			*lost += 1;
			continue;
		}
		if (k8s_store_find_group(st, g.name) != NULL || find_gid(st, g.gid) != NULL ||
		    (!g.private_group && k8s_store_find_user(st, g.name) != NULL)) {
			*lost += 1;
			continue;
		}
		if (add_group(st, g.name, g.gid, g.private_group, g.sources) == NULL)
			return -1;
	}
	/* Every user needs its private group; re-create one a damaged index
	 * lost when its gid is still free, else drop the user. */
	for (i = 0; i < st->n_users; i++) {
		struct k8s_store_user *u = &st->users[i];
		struct k8s_store_group *pg = k8s_store_find_group(st, u->name);

		if (pg != NULL && pg->private_group && pg->gid == u->gid)
			continue;
		if (pg == NULL && find_gid(st, u->gid) == NULL) {
			if (add_group(st, u->name, u->gid, 1, u->sources) == NULL)
				return -1;
			continue;
		}
		u->sources = 0;
		*lost += 1;
	}
	return drop_dead(st);
}

static int read_image(int fd, const char *path, unsigned char **out, size_t *len,
		      struct k8s_err *err)
{
	struct stat sb;
	unsigned char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int rc = K8S_OK;

	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "identity store unreadable",
				 "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)sb.st_size > K8S_SF_MAX_FILE) {
		*len = 0; /* treated as damaged */
		goto out;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = k8s_err_set(err, K8S_UNAVAILABLE, "identity store unreadable",
					 "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*len = got;
out:
	if (rc != K8S_OK) {
		free(buf);
		buf = NULL;
	}
	*out = buf;
	return rc;
}

/* Load dir/identities.db into the (empty) model. */
static int load_store(struct k8s_store *st, int for_write, struct k8s_err *err)
{
	struct k8s_store_priv *p = st->priv;
	char path[4096];
	size_t len = 0, lost = 0;
	const char *why;
	int fd = -1, rc = K8S_OK, frc, brc = K8S_SF_OK;

	snprintf(path, sizeof(path), "%s/%s", st->dir, K8S_SF_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0 && errno == ENOENT)
		goto out;
	if (fd < 0) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "identity store unreadable", "%s: %s",
				 path, strerror(errno));
		goto out;
	}
	rc = read_image(fd, path, &p->image, &len, err);
	if (rc != K8S_OK)
		goto out;
	frc = k8s_sf_open(&p->sf, p->image, len);
	if (frc == K8S_SF_OK)
		brc = k8s_sf_verify_body(&p->sf);
	if (frc == K8S_SF_OK) {
		st->generation = p->sf.generation;
		if (load_model(st, &lost) != 0) {
			rc = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: out of memory", path);
			goto out;
		}
	}
	if (frc == K8S_SF_OK && brc == K8S_SF_OK && lost == 0)
		goto out;
	p->damaged = 1;
	why = frc != K8S_SF_OK ? k8s_sf_strerror(frc) : brc != K8S_SF_OK ? k8s_sf_strerror(brc) :
	      "records that do not verify";
	if (!for_write) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "identity store damaged",
				 "%s: %s; `k8s-auth sync` salvages what still verifies", path, why);
		goto out;
	}
	k8s_err_set(err, K8S_OK, "identity store was damaged",
		    "%s: %s; salvaged %zu accounts, %zu records lost; the damaged file is kept as %s at the next commit",
		    path, why, st->n_users, lost, CORRUPT_NAME);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ------------------------------------------------------ open / close */

/* A directory only we can change: anyone else able to rename files in it
 * could hand every process on the host a store of their making. */
static int check_dir(const char *dir, int create, struct k8s_err *err)
{
	struct stat sb;

	if (create && mkdir(dir, 0755) != 0 && errno != EEXIST)
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
	if (st->lock_fd < 0)
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
		if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
			(void)unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
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
	rc = load_store(st, for_write, err);
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
		free(p->loaded_ms);
		free(p->image);
		arena_free(p);
		free(p);
	}
	free(st->users);
	free(st->groups);
	free(st->dir);
	free(st);
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

static int pinned_by_other(const struct k8s_config *cfg, const char *name, uint32_t uid)
{
	size_t i;

	for (i = 0; i < cfg->accounts.n_declared; i++)
		if (cfg->accounts.declared[i].uid == (int64_t)uid &&
		    strcmp(cfg->accounts.declared[i].name, name) != 0)
			return 1;
	return 0;
}

static int64_t declared_pin(const struct k8s_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->accounts.n_declared; i++)
		if (strcmp(cfg->accounts.declared[i].name, name) == 0)
			return cfg->accounts.declared[i].uid;
	return -1;
}

/* 0 free, 1 taken, -errno when NSS cannot answer. */
static int uid_state(struct k8s_store *st, const struct k8s_config *cfg, const char *name,
		     uint32_t uid)
{
	if (id_reserved(uid) || k8s_store_find_uid(st, uid) != NULL || pinned_by_other(cfg, name, uid))
		return 1;
	return foreign(st, 0, NULL, uid);
}

static int gid_state(struct k8s_store *st, uint32_t gid)
{
	if (id_reserved(gid) || find_gid(st, gid) != NULL)
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

/* A new account may not take a name another source (or a store group)
 * already has: it would shadow or be shadowed by it. */
static int check_new_name(struct k8s_store *st, const char *name, struct k8s_err *err)
{
	int r;

	if (k8s_store_find_group(st, name) != NULL)
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
	if (u == NULL || add_group(st, name, gid, 1, source) == NULL)
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
	if (u != NULL)
		u->sources = 0;
	drop_dead(st);
	return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: out of memory", name);
}

int k8s_store_ensure_user(struct k8s_store *st, const struct k8s_config *cfg, const char *name,
			  uint32_t source, int64_t pinned_uid, struct k8s_store_user **out,
			  struct k8s_err *err)
{
	struct k8s_store_user *u;
	int rc = K8S_OK;

	if (out != NULL)
		*out = NULL;
	if (st == NULL || cfg == NULL || out == NULL)
		return k8s_err_set(err, K8S_ECONFIG, "bad call", "k8s_store_ensure_user: NULL argument");
	if (!k8s_valid_local_name(name))
		return k8s_err_set(err, K8S_REFUSED, "mapped name is not a valid local name",
				   "\"%.40s\" is not a valid local name", name ? name : "");
	if (pinned_uid < 0)
		pinned_uid = declared_pin(cfg, name);
	u = k8s_store_find_user(st, name);
	if (u == NULL) {
		rc = create_user(st, cfg, name, source, pinned_uid, &u, err);
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

struct resolved {
	char name[K8S_LOCAL_NAME_MAX + 1];
	gid_t gid;
};

/* Where a mapped group lands: K8S_OK with *gid, K8S_REFUSED (dropped,
 * why[] says why), or an error. */
static int resolve_group(struct k8s_store *st, const struct k8s_config *cfg, const char *name,
			 int templated, uint32_t source, gid_t *gid, char *why, size_t whylen,
			 struct k8s_err *err)
{
	struct k8s_store_group *g = k8s_store_find_group(st, name);
	struct nss_hit hit;
	uint32_t id;
	int rc;

	if (!k8s_valid_local_name(name)) {
		snprintf(why, whylen, "%.40s (not a valid name)", name);
		return K8S_REFUSED;
	}
	if (g != NULL && g->private_group) {
		snprintf(why, whylen, "%s (a user's private group)", name);
		return K8S_REFUSED;
	}
	if (g != NULL) {
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
	if (add_group(st, name, id, 0, source) == NULL)
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

static int user_index_ok(const struct k8s_store *st, const struct k8s_store_user *u)
{
	return u >= st->users && u < st->users + st->n_users;
}

int k8s_store_set_memberships(struct k8s_store *st, const struct k8s_config *cfg,
			      struct k8s_store_user *u, uint32_t source,
			      const struct k8s_mapped_group *groups, size_t n, struct k8s_err *err)
{
	struct k8s_store_membership *ms = NULL, *m;
	char dropped[400] = "", why[96];
	size_t i, j, k = 0;
	gid_t gid;
	int rc = K8S_OK;

	if (st == NULL || cfg == NULL || u == NULL || !user_index_ok(st, u) || (n > 0 && groups == NULL))
		return k8s_err_set(err, K8S_ECONFIG, "bad call", "k8s_store_set_memberships: bad argument");
	ms = arena_alloc(st->priv, (u->n_groups + n + 1) * sizeof(*ms));
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
			goto out;
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
	rc = K8S_OK;
	u->groups = ms;
	u->n_groups = k;
	if (dropped[0] != '\0')
		k8s_err_set(err, K8S_OK, "group mappings dropped", "%s: not granted: %s", u->name, dropped);
out:
	return rc;
}

/* ------------------------------------------------- logins, sync, forget */

/* %XX for control bytes, '%' and '#': one printable line, one-to-one. */
static int percent_encode(struct k8s_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char enc[3];

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '%' || *p == '#') {
			enc[0] = '%';
			enc[1] = hex[*p >> 4];
			enc[2] = hex[*p & 15];
			if (k8s_buf_append(b, enc, 3) != 0)
				return -1;
		} else if (k8s_buf_append(b, p, 1) != 0) {
			return -1;
		}
	}
	return 0;
}

char *k8s_identity_binding(const struct k8s_identity *id)
{
	struct k8s_buf b = {0};
	const char *key;
	char *r = NULL;
	int bad;

	if (id == NULL || id->method == NULL)
		return NULL;
	if (strcmp(id->method, "tokenreview") == 0) {
		if (id->uid != NULL && id->uid[0] != '\0')
			bad = k8s_buf_append(&b, "tokenreview:uid:", 16) || percent_encode(&b, id->uid);
		else if (id->username != NULL && id->username[0] != '\0')
			bad = k8s_buf_append(&b, "tokenreview:user:", 17) || percent_encode(&b, id->username);
		else
			goto out;
	} else if (strcmp(id->method, "jwt") == 0) {
		key = id->uid != NULL && id->uid[0] != '\0' ? id->uid : id->subject;
		if (id->issuer == NULL || id->issuer[0] == '\0' || key == NULL || key[0] == '\0')
			goto out;
		bad = k8s_buf_append(&b, "jwt:", 4) || percent_encode(&b, id->issuer) ||
		      k8s_buf_append(&b, "#", 1) || percent_encode(&b, key);
	} else {
		goto out;
	}
	if (bad || b.len > K8S_SF_STR_MAX || k8s_buf_append(&b, "", 1) != 0)
		goto out;
	r = strdup(b.data);
out:
	k8s_buf_free(&b);
	return r;
}

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

	if (percent_encode(&b, s) == 0 && k8s_buf_append(&b, "", 1) == 0) {
		if (b.len > TEXT_MAX)
			b.data[TEXT_MAX] = '\0';
		r = arena_strdup(p, b.data);
	}
	k8s_buf_free(&b);
	return r;
}

int k8s_store_record_login(struct k8s_store *st, const struct k8s_config *cfg, const char *local,
			   const char *binding, const struct k8s_identity *id,
			   const struct k8s_mapped_group *groups, size_t n_groups, time_t now,
			   struct k8s_err *err)
{
	struct k8s_store_user *u;
	int rc;

	if (st == NULL || cfg == NULL || local == NULL || id == NULL || id->username == NULL)
		return k8s_err_set(err, K8S_ECONFIG, "bad call", "k8s_store_record_login: NULL argument");
	if (binding == NULL || binding[0] == '\0' || !text_printable(binding, K8S_SF_STR_MAX))
		return k8s_err_set(err, K8S_REFUSED, "no identity binding",
				   "%s: the identity has no usable binding", local);
	u = k8s_store_find_user(st, local);
	if (u != NULL && u->binding != NULL && strcmp(u->binding, binding) != 0)
		return k8s_err_set(err, K8S_REFUSED, "identity binding mismatch",
				   "%s is bound to %s, the token is %s", local, u->binding, binding);
	rc = k8s_store_ensure_user(st, cfg, local, K8S_SRC_LOGIN, -1, &u, err);
	if (rc != K8S_OK)
		return rc;
	if (u->binding == NULL)
		u->binding = arena_strdup(st->priv, binding);
	u->gecos = gecos_of(st->priv, id->username);
	u->cluster_user = display_of(st->priv, id->username);
	if (u->binding == NULL || u->gecos == NULL || u->cluster_user == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: out of memory", local);
	u->last_login = now;
	return k8s_store_set_memberships(st, cfg, u, K8S_SRC_LOGIN, groups, n_groups, err);
}

static int declare_groups(struct k8s_store *st, const struct k8s_config *cfg, unsigned char *keep,
			  struct k8s_err *err)
{
	struct k8s_store_group *g;
	char why[96];
	gid_t gid;
	size_t i;
	int rc;

	for (i = 0; i < cfg->accounts.n_groups; i++) {
		const struct k8s_map_rule *r = &cfg->accounts.groups[i];

		if (r->templated)
			continue;
		rc = resolve_group(st, cfg, r->local, 0, K8S_SRC_DECLARED, &gid, why, sizeof(why), err);
		if (rc == K8S_REFUSED)
			continue;
		if (rc != K8S_OK)
			return rc;
		g = k8s_store_find_group(st, r->local);
		if (g != NULL && !g->private_group)
			keep[g - st->groups] = 1;
	}
	return K8S_OK;
}

int k8s_store_apply_declared(struct k8s_store *st, const struct k8s_config *cfg, struct k8s_err *err)
{
	struct k8s_store_user *u;
	unsigned char *keep = NULL;
	size_t i, cap;
	int rc;

	if (st == NULL || cfg == NULL)
		return k8s_err_set(err, K8S_ECONFIG, "bad call", "k8s_store_apply_declared: NULL argument");
	for (i = 0; i < cfg->accounts.n_declared; i++) {
		rc = k8s_store_ensure_user(st, cfg, cfg->accounts.declared[i].name, K8S_SRC_DECLARED,
					   cfg->accounts.declared[i].uid, &u, err);
		if (rc != K8S_OK)
			goto out;
	}
	/* Groups may grow while declaring, hence the margin. */
	cap = (st->n_users > st->n_groups ? st->n_users : st->n_groups) + cfg->accounts.n_groups + 1;
	keep = calloc(cap, 1);
	if (keep == NULL) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: out of memory");
		goto out;
	}
	for (i = 0; i < cfg->accounts.n_declared; i++)
		keep[k8s_store_find_user(st, cfg->accounts.declared[i].name) - st->users] = 1;
	for (i = 0; i < st->n_users; i++)
		if (!keep[i])
			st->users[i].sources &= ~K8S_SRC_DECLARED;
	memset(keep, 0, cap);
	rc = declare_groups(st, cfg, keep, err);
	if (rc != K8S_OK)
		goto out;
	for (i = 0; i < st->n_groups; i++)
		if (!keep[i] && !st->groups[i].private_group)
			st->groups[i].sources &= ~K8S_SRC_DECLARED;
	if (drop_dead(st) != 0)
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "sync: out of memory");
out:
	free(keep);
	return rc;
}

int k8s_store_forget(struct k8s_store *st, const char *name, struct k8s_err *err)
{
	struct k8s_store_user *u = k8s_store_find_user(st, name);
	size_t i, k = 0;

	if (u == NULL)
		return k8s_err_set(err, K8S_REFUSED, "unknown account", "no account %s in the identity store",
				   name ? name : "(null)");
	u->binding = NULL;
	for (i = 0; i < u->n_groups; i++) {
		u->groups[k] = u->groups[i];
		u->groups[k].sources &= ~K8S_SRC_LOGIN;
		k += u->groups[k].sources != 0;
	}
	u->n_groups = k;
	u->sources &= ~K8S_SRC_LOGIN;
	if (u->sources == 0 && drop_dead(st) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "forget: out of memory");
	return K8S_OK;
}

/* ------------------------------------------------------------ commit */

struct image {
	unsigned char *buf;
	size_t size, at;
	uint64_t *ubn, *ubu, *gbn, *gbg;  /* (key << 32) | record offset */
	uint32_t *user_off;
	uint32_t *mstart, *mlist;         /* members of each group (CSR, user indexes) */
};

static void st32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void st64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* LSD radix sort on the upper 32 bits (4 passes of 8 bits). */
static int sort_index(uint64_t *a, size_t n)
{
	uint64_t *tmp = malloc((n + 1) * sizeof(*tmp)), *src = a, *dst = tmp, *sw;
	size_t cnt[256], i, sum, c;
	int shift;

	if (tmp == NULL)
		return -1;
	for (shift = 32; shift < 64; shift += 8) {
		memset(cnt, 0, sizeof(cnt));
		for (i = 0; i < n; i++)
			cnt[(src[i] >> shift) & 0xff]++;
		for (i = 0, sum = 0; i < 256; i++) {
			c = cnt[i];
			cnt[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[cnt[(src[i] >> shift) & 0xff]++] = src[i];
		sw = src;
		src = dst;
		dst = sw;
	}
	free(tmp);
	return 0;
}

/* The same rules the reader applies, so we never publish a record it
 * would reject. */
static int field_ok(const char *s, int passwd_field, int path)
{
	size_t i;

	if (s == NULL || (path && s[0] != '/'))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || (passwd_field && s[i] == ':') ||
		    i >= K8S_SF_STR_MAX)
			return 0;
	return 1;
}

static const char *str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

static size_t user_rec_size(const struct k8s_store_user *u)
{
	size_t n = K8S_SF_USER_FIXED + 8 * u->n_groups, i;

	n += strlen(u->name) + strlen(u->gecos) + strlen(u->home) + strlen(u->shell) +
	     strlen(str_or_empty(u->binding)) + strlen(str_or_empty(u->cluster_user)) + 6;
	for (i = 0; i < u->n_groups; i++)
		n += strlen(u->groups[i].group) + 1;
	return pad8(n);
}

static size_t put_str(unsigned char *p, const char *s)
{
	size_t n = strlen(s) + 1;

	memcpy(p, s, n);
	return n;
}

static void seal_record(unsigned char *r, size_t size, uint16_t type)
{
	st32(r + 8, (uint32_t)size);
	memcpy(r + 12, &type, sizeof(type));
	st64(r, k8s_sf_hash64(r + 8, size - 8));
}

static void put_user(struct image *im, const struct k8s_store_user *u, size_t size)
{
	unsigned char *r = im->buf + im->at, *p;
	size_t i;

	st32(r + 16, (uint32_t)u->uid);
	st32(r + 20, (uint32_t)u->gid);
	st32(r + 24, u->sources);
	st32(r + 28, u->uid_pinned ? K8S_SF_USER_PINNED : 0);
	st64(r + 32, (uint64_t)(int64_t)u->last_login);
	st32(r + 40, (uint32_t)u->n_groups);
	for (i = 0; i < u->n_groups; i++) {
		st32(r + K8S_SF_USER_FIXED + 8 * i, (uint32_t)u->groups[i].gid);
		st32(r + K8S_SF_USER_FIXED + 8 * i + 4, u->groups[i].sources);
	}
	p = r + K8S_SF_USER_FIXED + 8 * u->n_groups;
	p += put_str(p, u->name);
	p += put_str(p, u->gecos);
	p += put_str(p, u->home);
	p += put_str(p, u->shell);
	p += put_str(p, str_or_empty(u->binding));
	p += put_str(p, str_or_empty(u->cluster_user));
	for (i = 0; i < u->n_groups; i++)
		p += put_str(p, u->groups[i].group);
	seal_record(r, size, K8S_SF_REC_USER);
	im->at += size;
}

static size_t group_rec_size(const struct k8s_store *st, const struct image *im, size_t gi)
{
	size_t n = K8S_SF_GROUP_FIXED + strlen(st->groups[gi].name) + 1, k;

	for (k = im->mstart[gi]; k < im->mstart[gi + 1]; k++)
		n += strlen(st->users[im->mlist[k]].name) + 1;
	return pad8(n);
}

static void put_group(struct image *im, const struct k8s_store *st, size_t gi, size_t size)
{
	const struct k8s_store_group *g = &st->groups[gi];
	unsigned char *r = im->buf + im->at, *p;
	size_t k;

	st32(r + 16, (uint32_t)g->gid);
	st32(r + 20, g->sources);
	st32(r + 28, im->mstart[gi + 1] - im->mstart[gi]);
	p = r + K8S_SF_GROUP_FIXED;
	p += put_str(p, g->name);
	for (k = im->mstart[gi]; k < im->mstart[gi + 1]; k++)
		p += put_str(p, st->users[im->mlist[k]].name);
	seal_record(r, size, K8S_SF_REC_GROUP);
	im->at += size;
}

/* Membership gids follow the store's groups; group sources are what
 * declares them plus what their members came from; then the empty
 * undeclared groups go. */
static int settle(struct k8s_store *st)
{
	struct k8s_store_group *g;
	size_t i, j;

	for (i = 0; i < st->n_groups; i++)
		if (!st->groups[i].private_group)
			st->groups[i].sources &= K8S_SRC_DECLARED;
	for (i = 0; i < st->n_users; i++) {
		struct k8s_store_user *u = &st->users[i];

		g = k8s_store_find_group(st, u->name);
		if (g != NULL && g->private_group)
			g->sources = u->sources;
		for (j = 0; j < u->n_groups; j++) {
			g = k8s_store_find_group(st, u->groups[j].group);
			if (g == NULL || g->private_group)
				continue;
			u->groups[j].gid = g->gid;
			g->sources |= u->groups[j].sources;
		}
	}
	return drop_dead(st);
}

static int build_members(struct k8s_store *st, struct image *im)
{
	struct k8s_store_group *g;
	size_t i, j, total = 0;
	uint32_t *fill;

	im->mstart = calloc(st->n_groups + 1, sizeof(*im->mstart));
	if (im->mstart == NULL)
		return -1;
	for (i = 0; i < st->n_users; i++)
		for (j = 0; j < st->users[i].n_groups; j++) {
			g = k8s_store_find_group(st, st->users[i].groups[j].group);
			if (g != NULL && !g->private_group) {
				im->mstart[g - st->groups + 1]++;
				total++;
			}
		}
	for (i = 0; i < st->n_groups; i++)
		im->mstart[i + 1] += im->mstart[i];
	im->mlist = malloc((total + 1) * sizeof(*im->mlist));
	fill = calloc(st->n_groups + 1, sizeof(*fill));
	if (im->mlist == NULL || fill == NULL) {
		free(fill);
		return -1;
	}
	for (i = 0; i < st->n_users; i++)
		for (j = 0; j < st->users[i].n_groups; j++) {
			g = k8s_store_find_group(st, st->users[i].groups[j].group);
			if (g != NULL && !g->private_group)
				im->mlist[im->mstart[g - st->groups] + fill[g - st->groups]++] = (uint32_t)i;
		}
	free(fill);
	return 0;
}

static int check_user_fields(const struct k8s_store_user *u, struct k8s_err *err)
{
	if (!field_ok(u->gecos, 1, 0) || !field_ok(u->home, 1, 1) || !field_ok(u->shell, 1, 1) ||
	    !field_ok(str_or_empty(u->binding), 0, 0) || !field_ok(str_or_empty(u->cluster_user), 0, 0) ||
	    u->uid < K8S_SF_MIN_ID || u->gid < K8S_SF_MIN_ID || u->n_groups > UINT32_MAX / 8)
		return k8s_err_set(err, K8S_ECONFIG, "account not storable",
				   "%s: a field the store cannot hold (uid/gid below %u, ':' or control "
				   "characters, relative home or shell)", u->name, K8S_SF_MIN_ID);
	return K8S_OK;
}

static int layout(struct k8s_store *st, struct image *im, size_t *rec_size, struct k8s_err *err)
{
	size_t i, total = 0;
	int rc;

	for (i = 0; i < st->n_users; i++) {
		rc = check_user_fields(&st->users[i], err);
		if (rc != K8S_OK)
			return rc;
		total += user_rec_size(&st->users[i]);
	}
	for (i = 0; i < st->n_groups; i++)
		if (!st->groups[i].private_group)
			total += group_rec_size(st, im, i);
	*rec_size = total;
	im->size = K8S_SF_HEADER_SIZE + 16 * (st->n_users + st->n_groups) + total;
	if (im->size > K8S_SF_MAX_FILE)
		return k8s_err_set(err, K8S_UNAVAILABLE, "identity store too large",
				   "%zu bytes would exceed the format's limit", im->size);
	return K8S_OK;
}

static int fill_records(struct k8s_store *st, struct image *im)
{
	struct k8s_store_user *owner;
	size_t i, sz;
	uint32_t off;

	for (i = 0; i < st->n_users; i++) {
		const struct k8s_store_user *u = &st->users[i];

		sz = user_rec_size(u);
		im->user_off[i] = off = (uint32_t)im->at;
		im->ubn[i] = ((uint64_t)name_key(u->name) << 32) | off;
		im->ubu[i] = ((uint64_t)(uint32_t)u->uid << 32) | off;
		put_user(im, u, sz);
	}
	for (i = 0; i < st->n_groups; i++) {
		const struct k8s_store_group *g = &st->groups[i];

		if (g->private_group) {
			owner = k8s_store_find_user(st, g->name);
			if (owner == NULL)
				return -1;
			off = im->user_off[owner - st->users];
		} else {
			off = (uint32_t)im->at;
			sz = group_rec_size(st, im, i);
			put_group(im, st, i, sz);
		}
		im->gbn[i] = ((uint64_t)name_key(g->name) << 32) | off;
		im->gbg[i] = ((uint64_t)(uint32_t)g->gid << 32) | off;
	}
	return 0;
}

static void put_index(unsigned char *p, const uint64_t *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		st32(p + 8 * i, (uint32_t)(a[i] >> 32));
		st32(p + 8 * i + 4, (uint32_t)a[i]);
	}
}

static void put_header(struct k8s_store *st, struct image *im, size_t rec_size)
{
	unsigned char *b = im->buf;
	uint32_t nu = (uint32_t)st->n_users, ng = (uint32_t)st->n_groups;
	uint32_t off = K8S_SF_HEADER_SIZE;
	uint32_t version = K8S_SF_VERSION, hs = K8S_SF_HEADER_SIZE, bo = K8S_SF_BYTE_ORDER;

	memcpy(b, K8S_SF_MAGIC, 8);
	st32(b + K8S_SF_H_VERSION, version);
	st32(b + K8S_SF_H_HDRSIZE, hs);
	st32(b + K8S_SF_H_BYTEORDER, bo);
	st64(b + K8S_SF_H_FILESIZE, im->size);
	st64(b + K8S_SF_H_GENERATION, st->generation + 1);
	st64(b + K8S_SF_H_CREATED, (uint64_t)(int64_t)time(NULL));
	st32(b + K8S_SF_H_NUSERS, nu);
	st32(b + K8S_SF_H_NGROUPS, ng);
	st32(b + K8S_SF_H_UBYNAME, off);
	st32(b + K8S_SF_H_UBYUID, off + 8 * nu);
	st32(b + K8S_SF_H_GBYNAME, off + 16 * nu);
	st32(b + K8S_SF_H_GBYGID, off + 16 * nu + 8 * ng);
	st32(b + K8S_SF_H_RECOFF, off + 16 * nu + 16 * ng);
	st32(b + K8S_SF_H_RECSIZE, (uint32_t)rec_size);
	put_index(b + off, im->ubn, nu);
	put_index(b + off + 8 * nu, im->ubu, nu);
	put_index(b + off + 16 * nu, im->gbn, ng);
	put_index(b + off + 16 * nu + 8 * ng, im->gbg, ng);
	st64(b + K8S_SF_H_BODYSUM, k8s_sf_hash64(b + K8S_SF_HEADER_SIZE, im->size - K8S_SF_HEADER_SIZE));
	st64(b + K8S_SF_H_HDRSUM, k8s_sf_hash64(b, K8S_SF_H_HDRSUM));
}

static void image_free(struct image *im)
{
	free(im->buf);
	free(im->ubn);
	free(im->ubu);
	free(im->gbn);
	free(im->gbg);
	free(im->user_off);
	free(im->mstart);
	free(im->mlist);
	memset(im, 0, sizeof(*im));
}

/* The whole new file in memory. */
static int build_image(struct k8s_store *st, struct image *im, struct k8s_err *err)
{
	size_t nu = st->n_users, ng = st->n_groups, rec_size = 0;
	int rc;

	memset(im, 0, sizeof(*im));
	if (settle(st) != 0 || build_members(st, im) != 0)
		goto oom;
	nu = st->n_users;
	ng = st->n_groups;
	rc = layout(st, im, &rec_size, err);
	if (rc != K8S_OK)
		return rc;
	im->buf = calloc(1, im->size);
	im->ubn = malloc((nu + 1) * 8);
	im->ubu = malloc((nu + 1) * 8);
	im->gbn = malloc((ng + 1) * 8);
	im->gbg = malloc((ng + 1) * 8);
	im->user_off = malloc((nu + 1) * 4);
	if (!im->buf || !im->ubn || !im->ubu || !im->gbn || !im->gbg || !im->user_off)
		goto oom;
	im->at = K8S_SF_HEADER_SIZE + 16 * (nu + ng);
	if (fill_records(st, im) != 0 || sort_index(im->ubn, nu) || sort_index(im->ubu, nu) ||
	    sort_index(im->gbn, ng) || sort_index(im->gbg, ng))
		goto oom;
	put_header(st, im, rec_size);
	return K8S_OK;
oom:
	return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "commit: out of memory");
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* temp file in the same directory, fsync, (keep a damaged original),
 * rename over, fsync the directory. */
static int publish(struct k8s_store *st, const struct image *im, struct k8s_err *err)
{
	char tmp[4096], dst[4096], bad[4096];
	int fd, rc = K8S_OK;

	snprintf(tmp, sizeof(tmp), "%s/%sXXXXXX", st->dir, TMP_PREFIX);
	snprintf(dst, sizeof(dst), "%s/%s", st->dir, K8S_SF_FILE);
	snprintf(bad, sizeof(bad), "%s/%s", st->dir, CORRUPT_NAME);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "cannot write the identity store",
				   "%s: %s", tmp, strerror(errno));
	if (fchmod(fd, 0644) != 0 || write_all(fd, im->buf, im->size) != 0 || fsync(fd) != 0) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "cannot write the identity store",
				 "%s: %s", tmp, strerror(errno));
		close(fd);
		goto out;
	}
	if (close(fd) != 0) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "cannot write the identity store",
				 "%s: %s", tmp, strerror(errno));
		goto out;
	}
	/* Best effort: the damaged original is evidence, not a requirement. */
	if (st->priv->damaged && (unlink(bad) == 0 || errno == ENOENT) && link(dst, bad) != 0)
		bad[0] = '\0';
	if (rename(tmp, dst) != 0) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "cannot write the identity store",
				 "rename to %s: %s", dst, strerror(errno));
		goto out;
	}
	if (fsync_dir(st->dir) != 0)
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "cannot write the identity store",
				 "fsync %s: %s", st->dir, strerror(errno));
out:
	if (rc != K8S_OK)
		(void)unlink(tmp);
	return rc;
}

int k8s_store_commit(struct k8s_store *st, struct k8s_err *err)
{
	struct image im;
	int rc;

	memset(&im, 0, sizeof(im));
	if (st == NULL || st->lock_fd < 0)
		return k8s_err_set(err, K8S_ECONFIG, "store opened read-only",
				   "commit on a store opened without the lock");
	rc = build_image(st, &im, err);
	if (rc == K8S_OK)
		rc = publish(st, &im, err);
	if (rc == K8S_OK) {
		st->generation++;
		st->priv->damaged = 0;
	}
	image_free(&im);
	return rc;
}
