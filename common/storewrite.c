/* storewrite.c: committing the store model (k8s_store_commit).
 *
 * Usually a login changes one account: the commit writes a new delta
 * (identities.delta): what the previous delta held that this session did
 * not touch, plus every entry of the model whose record differs from the
 * base's, plus tombstones for names removed from the base.  Its cost is
 * the size of the delta, not of the store.  When the delta outgrows 1/8 of
 * the base (or after load_all, or when the files were damaged) the commit
 * compacts: a new base with everything, then an empty delta for it.
 *
 * Either file goes through the same steps: built whole in memory, written
 * to a temp file in the store directory, fsync, rename over, fsync of the
 * directory.  The base is renamed before its delta, so a reader that sees
 * a delta for a newer base knows to look at the base again. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "store_int.h"
#include "util.h"

#define st32 k8s_sf_st32
#define st64 k8s_sf_st64
#define ld32 k8s_sf_ld32

struct item {
	uint16_t type;          /* K8S_SF_REC_* */
	uint32_t kind;          /* tombstones: K8S_SF_TOMB_* */
	const char *name;
	uint32_t uid, gid;      /* users: uid, gid; groups: gid */
	int existing;           /* users: an existing account's record (users by name only) */
	const unsigned char *bytes;
	uint32_t size;
};

struct plan {
	struct item *items;
	size_t n, cap;
	size_t bytes;
	size_t users, utombs, groups, gtombs;
	size_t existing;        /* of users: indexed by name alone */
};

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static int plan_add(struct plan *pl, const struct item *it)
{
	struct item *ni;
	size_t cap;

	if (pl->n == pl->cap) {
		cap = pl->cap ? 2 * pl->cap : 256;
		ni = realloc(pl->items, cap * sizeof(*ni));
		if (ni == NULL)
			return -1;
		pl->items = ni;
		pl->cap = cap;
	}
	pl->items[pl->n++] = *it;
	pl->bytes += it->size;
	if (it->type == K8S_SF_REC_USER) {
		pl->users++;
		pl->existing += it->existing != 0;
	} else if (it->type == K8S_SF_REC_GROUP)
		pl->groups++;
	else if (it->kind == K8S_SF_TOMB_USER)
		pl->utombs++;
	else
		pl->gtombs++;
	return 0;
}

/* ------------------------------------------------------ serializing */

static const char *str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* The reader's own rules (k8s_sf_text_ok, K8S_SF_STR_MAX, absolute home
 * and shell), so we never publish a record it would reject. */
static int field_ok(const char *s, int passwd_field, int path)
{
	size_t n;

	if (s == NULL || (path && s[0] != '/'))
		return 0;
	n = strnlen(s, K8S_SF_STR_MAX + 1);
	return n <= K8S_SF_STR_MAX && k8s_sf_text_ok(s, n, passwd_field);
}

static int user_storable(const struct k8s_store_user *u, struct k8s_err *err)
{
	size_t i;

	for (i = 0; i < u->n_groups; i++)
		if (u->groups[i].gid == 0 || !k8s_valid_local_name(u->groups[i].group))
			break;
	if (i < u->n_groups || !field_ok(u->gecos, 1, 0) || !field_ok(u->home, 1, 1) ||
	    !field_ok(u->shell, 1, 1) || !field_ok(str_or_empty(u->binding), 0, 0) ||
	    !field_ok(str_or_empty(u->cluster_user), 0, 0) || u->n_groups > 65536 ||
	    ((u->sources & K8S_SRC_EXISTING) ? u->uid != 0 || u->gid != 0 :
					       u->uid < K8S_SF_MIN_ID || u->gid < K8S_SF_MIN_ID))
		return k8s_err_set(err, K8S_ECONFIG, "account not storable",
				   "%s: a field the store cannot hold (uid/gid below %u, ':' or control "
				   "characters, relative home or shell, gid 0)", u->name, K8S_SF_MIN_ID);
	return K8S_OK;
}

static size_t put_str(unsigned char *p, const char *s)
{
	size_t n = strlen(s) + 1;

	memcpy(p, s, n);
	return n;
}

static void seal(unsigned char *r, size_t size, uint16_t type)
{
	st32(r + K8S_SF_R_SIZE, (uint32_t)size);
	k8s_sf_st16(r + K8S_SF_R_TYPE, type);
	st64(r + K8S_SF_R_SUM, k8s_sf_hash64(r + K8S_SF_R_SIZE, size - K8S_SF_R_SIZE));
}

static unsigned char *user_record(struct k8s_store_priv *p, const struct k8s_store_user *u,
				  uint32_t *size)
{
	size_t n = K8S_SF_USER_FIXED + K8S_SF_MEMB_SIZE * u->n_groups, i;
	unsigned char *r, *q;

	n += strlen(u->name) + strlen(u->gecos) + strlen(u->home) + strlen(u->shell) +
	     strlen(str_or_empty(u->binding)) + strlen(str_or_empty(u->cluster_user)) + 6;
	for (i = 0; i < u->n_groups; i++)
		n += strlen(u->groups[i].group) + 1;
	n = pad8(n);
	r = k8s_store_arena_alloc(p, n);
	if (r == NULL)
		return NULL;
	st32(r + K8S_SF_U_UID, (uint32_t)u->uid);
	st32(r + K8S_SF_U_GID, (uint32_t)u->gid);
	st32(r + K8S_SF_U_SOURCES, u->sources);
	st32(r + K8S_SF_U_FLAGS, u->uid_pinned ? K8S_SF_USER_PINNED : 0);
	st64(r + K8S_SF_U_LASTLOGIN, (uint64_t)(int64_t)u->last_login);
	st32(r + K8S_SF_U_NMEMB, (uint32_t)u->n_groups);
	for (i = 0; i < u->n_groups; i++) {
		q = r + K8S_SF_USER_FIXED + K8S_SF_MEMB_SIZE * i;
		st32(q + K8S_SF_MEMB_GID, (uint32_t)u->groups[i].gid);
		st32(q + K8S_SF_MEMB_SOURCES, u->groups[i].sources);
	}
	q = r + K8S_SF_USER_FIXED + K8S_SF_MEMB_SIZE * u->n_groups;
	q += put_str(q, u->name);
	q += put_str(q, u->gecos);
	q += put_str(q, u->home);
	q += put_str(q, u->shell);
	q += put_str(q, str_or_empty(u->binding));
	q += put_str(q, str_or_empty(u->cluster_user));
	for (i = 0; i < u->n_groups; i++)
		q += put_str(q, u->groups[i].group);
	seal(r, n, K8S_SF_REC_USER);
	*size = (uint32_t)n;
	return r;
}

static unsigned char *group_record(struct k8s_store_priv *p, struct k8s_store_group *g,
				   uint32_t *size)
{
	struct group_node *gn = group_node_of(g);
	size_t n = K8S_SF_GROUP_FIXED + strlen(g->name) + 1, i;
	unsigned char *r, *q;

	for (i = 0; i < gn->n_members; i++)
		n += strlen(gn->members[i]) + 1;
	n = pad8(n);
	r = k8s_store_arena_alloc(p, n);
	if (r == NULL)
		return NULL;
	st32(r + K8S_SF_G_GID, (uint32_t)g->gid);
	st32(r + K8S_SF_G_SOURCES, g->sources);
	st32(r + K8S_SF_G_NMEMBERS, (uint32_t)gn->n_members);
	q = r + K8S_SF_GROUP_FIXED;
	q += put_str(q, g->name);
	for (i = 0; i < gn->n_members; i++)
		q += put_str(q, gn->members[i]);
	seal(r, n, K8S_SF_REC_GROUP);
	*size = (uint32_t)n;
	return r;
}

static unsigned char *tomb_record(struct k8s_store_priv *p, const char *name, uint32_t kind,
				  uint32_t *size)
{
	size_t n = pad8(K8S_SF_TOMB_FIXED + strlen(name) + 1);
	unsigned char *r = k8s_store_arena_alloc(p, n);

	if (r == NULL)
		return NULL;
	st32(r + K8S_SF_T_KIND, kind);
	put_str(r + K8S_SF_TOMB_FIXED, name);
	seal(r, n, K8S_SF_REC_TOMB);
	*size = (uint32_t)n;
	return r;
}

/* --------------------------------------------------------- settling */

/* Membership gids follow the store's groups; then the store groups known
 * to be empty and undeclared go. */
static int settle(struct k8s_store *st)
{
	struct k8s_store_group *g;
	struct group_node *gn;
	size_t i, j;

	for (i = 0; i < st->n_users; i++)
		for (j = 0; j < st->users[i]->n_groups; j++) {
			g = k8s_store_model_group(st, st->users[i]->groups[j].group);
			if (g != NULL && !g->private_group)
				st->users[i]->groups[j].gid = g->gid;
		}
	for (i = 0; i < st->n_groups; i++) {
		g = st->groups[i];
		gn = group_node_of(g);
		if (!g->private_group && gn->loaded && gn->n_members == 0 &&
		    !(g->sources & (K8S_SRC_DECLARED | K8S_SRC_GROUP_SYNCED)))
			gn->dead = 1;
	}
	return k8s_store_drop_dead(st);
}

/* A compaction rebuilds every member list and group source from the
 * accounts themselves, which also repairs what damage left behind. */
static int rebuild_members(struct k8s_store *st)
{
	struct k8s_store_membership *m;
	struct k8s_store_group *g;
	struct group_node *gn;
	const char **nm;
	size_t i, j;

	for (i = 0; i < st->n_groups; i++) {
		gn = group_node_of(st->groups[i]);
		gn->loaded = 1;
		gn->n_members = 0;
		/* What a group has on its own (sync's definition of it
		 * included); the rest comes from its members below. */
		if (!st->groups[i]->private_group)
			st->groups[i]->sources &= K8S_SRC_DECLARED | K8S_SRC_GROUP_SYNCED |
				(st->groups[i]->sources & K8S_SRC_GROUP_SYNCED ? K8S_SRC_SYNCED : 0);
	}
	for (i = 0; i < st->n_users; i++)
		for (j = 0; j < st->users[i]->n_groups; j++) {
			m = &st->users[i]->groups[j];
			g = k8s_store_model_group(st, m->group);
			if (g == NULL || g->private_group)
				continue;
			gn = group_node_of(g);
			g->sources |= m->sources;
			if (gn->n_members == gn->cap) {
				gn->cap = gn->cap ? 2 * gn->cap : 8;
				nm = k8s_store_arena_alloc(st->priv, gn->cap * sizeof(*nm));
				if (nm == NULL)
					return -1;
				if (gn->n_members > 0)
					memcpy(nm, gn->members, gn->n_members * sizeof(*nm));
				gn->members = nm;
			}
			gn->members[gn->n_members++] = st->users[i]->name;
		}
	for (i = 0; i < st->n_groups; i++)
		if (st->groups[i]->private_group)
			st->groups[i]->sources = k8s_store_model_user(st, st->groups[i]->name) ?
				k8s_store_model_user(st, st->groups[i]->name)->sources : 0;
	return 0;
}

/* ---------------------------------------------------------- planning */

static int add_user_item(struct k8s_store *st, struct plan *pl, const struct k8s_store_user *u,
			 int only_if_changed, struct k8s_err *err)
{
	struct k8s_sf_user bv;
	struct item it = {0};
	int rc = user_storable(u, err);

	if (rc != K8S_OK)
		return rc;
	it.type = K8S_SF_REC_USER;
	it.name = u->name;
	it.uid = (uint32_t)u->uid;
	it.gid = (uint32_t)u->gid;
	it.existing = (u->sources & K8S_SRC_EXISTING) != 0;
	it.bytes = user_record(st->priv, u, &it.size);
	if (it.bytes == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "commit: out of memory");
	if (only_if_changed && k8s_sf_find_user(&st->priv->base, u->name, &bv) == K8S_SF_HIT_FOUND &&
	    bv.record_size == it.size && memcmp(bv.record, it.bytes, it.size) == 0)
		return K8S_OK;
	return plan_add(pl, &it) == 0 ? K8S_OK :
	       k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "commit: out of memory");
}

static int add_group_item(struct k8s_store *st, struct plan *pl, struct k8s_store_group *g,
			  int only_if_changed, struct k8s_err *err)
{
	struct k8s_sf_group bv;
	struct item it = {0};

	if (k8s_store_load_members(st, g) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "commit: out of memory");
	it.type = K8S_SF_REC_GROUP;
	it.name = g->name;
	it.gid = (uint32_t)g->gid;
	it.bytes = group_record(st->priv, g, &it.size);
	if (it.bytes == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "commit: out of memory");
	if (only_if_changed && k8s_sf_find_group(&st->priv->base, g->name, &bv) == K8S_SF_HIT_FOUND &&
	    !bv.private_group && bv.record_size == it.size && memcmp(bv.record, it.bytes, it.size) == 0)
		return K8S_OK;
	return plan_add(pl, &it) == 0 ? K8S_OK :
	       k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "commit: out of memory");
}

static int add_tomb(struct k8s_store *st, struct plan *pl, const char *name, uint32_t kind)
{
	struct item it = {0};

	it.type = K8S_SF_REC_TOMB;
	it.kind = kind;
	it.name = name;
	it.bytes = tomb_record(st->priv, name, kind, &it.size);
	return it.bytes != NULL ? plan_add(pl, &it) : -1;
}

/* The previous delta's entries this session did not touch, verbatim. */
static int carry_over(struct k8s_store *st, struct plan *pl)
{
	const struct k8s_sf *d = &st->priv->view.delta;
	struct k8s_sf_entry e;
	struct item it;
	uint32_t i;
	int groups;

	for (groups = 0; groups <= 1 && d->base != NULL; groups++)
		for (i = 0; k8s_sf_entry_at(d, groups, i, &e); i++) {
			if (e.type == 0) {
				st->priv->damaged = 1; /* lost: compact, keep the evidence */
				continue;
			}
			if (groups != (e.type == K8S_SF_REC_GROUP ||
				       (e.type == K8S_SF_REC_TOMB && e.kind == K8S_SF_TOMB_GROUP)))
				continue;
			if (k8s_store_decided(st, e.name))
				continue;
			memset(&it, 0, sizeof(it));
			it.type = (uint16_t)e.type;
			it.kind = e.kind;
			it.name = e.name;
			it.bytes = e.record;
			it.size = e.record_size;
			if (e.type == K8S_SF_REC_USER) {
				it.uid = ld32(e.record + K8S_SF_U_UID);
				it.gid = ld32(e.record + K8S_SF_U_GID);
				it.existing = (ld32(e.record + K8S_SF_U_SOURCES) & K8S_SF_SRC_EXISTING) != 0;
			} else if (e.type == K8S_SF_REC_GROUP) {
				it.gid = ld32(e.record + K8S_SF_G_GID);
			}
			if (plan_add(pl, &it) != 0)
				return -1;
		}
	return 0;
}

static int plan_tombs(struct k8s_store *st, struct plan *pl, const struct strset *gone, int users)
{
	struct k8s_sf_user u;
	struct k8s_sf_group g;
	size_t i;
	int hit;

	for (i = 0; gone->slot != NULL && i <= gone->mask; i++) {
		const char *name = gone->slot[i];

		if (name == NULL || k8s_store_model_user(st, name) || k8s_store_model_group(st, name))
			continue;
		hit = users ? k8s_sf_find_user(&st->priv->base, name, &u) :
			      k8s_sf_find_group(&st->priv->base, name, &g);
		if (hit == K8S_SF_HIT_NONE || (!users && hit == K8S_SF_HIT_FOUND && g.private_group))
			continue;
		if (add_tomb(st, pl, name, users ? K8S_SF_TOMB_USER : K8S_SF_TOMB_GROUP) != 0)
			return -1;
	}
	return 0;
}

static int plan_delta(struct k8s_store *st, struct plan *pl, struct k8s_err *err)
{
	struct k8s_store_priv *p = st->priv;
	size_t i;
	int rc;

	if (carry_over(st, pl) != 0)
		goto oom;
	for (i = 0; i < st->n_users; i++) {
		rc = add_user_item(st, pl, st->users[i], 1, err);
		if (rc != K8S_OK)
			return rc;
	}
	for (i = 0; i < st->n_groups; i++) {
		if (st->groups[i]->private_group)
			continue;
		rc = add_group_item(st, pl, st->groups[i], 1, err);
		if (rc != K8S_OK)
			return rc;
	}
	if (plan_tombs(st, pl, &p->gone_users, 1) != 0 || plan_tombs(st, pl, &p->gone_groups, 0) != 0)
		goto oom;
	return K8S_OK;
oom:
	return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "commit: out of memory");
}

static int plan_base(struct k8s_store *st, struct plan *pl, struct k8s_err *err)
{
	size_t i;
	int rc;

	for (i = 0; i < st->n_users; i++) {
		rc = add_user_item(st, pl, st->users[i], 0, err);
		if (rc != K8S_OK)
			return rc;
	}
	for (i = 0; i < st->n_groups; i++) {
		if (st->groups[i]->private_group)
			continue;
		rc = add_group_item(st, pl, st->groups[i], 0, err);
		if (rc != K8S_OK)
			return rc;
	}
	return K8S_OK;
}

/* ---------------------------------------------------------- building */

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

struct file_out {
	unsigned char *buf;
	size_t size;
	uint64_t header_sum, generation;
};

struct indexes {
	uint64_t *a[4];  /* users by name, by uid, groups by name, by gid */
	size_t n[4];
};

static uint64_t entry(uint32_t key, uint32_t off)
{
	return ((uint64_t)key << 32) | off;
}

static uint32_t nkey(const char *name)
{
	return k8s_sf_name_hash(name, strlen(name));
}

static void index_item(struct indexes *ix, const struct item *it, uint32_t off)
{
	if (it->type == K8S_SF_REC_USER && it->existing) {
		ix->a[0][ix->n[0]++] = entry(nkey(it->name), off);
	} else if (it->type == K8S_SF_REC_USER) {
		ix->a[0][ix->n[0]++] = entry(nkey(it->name), off);
		ix->a[1][ix->n[1]++] = entry(it->uid, off);
		ix->a[2][ix->n[2]++] = entry(nkey(it->name), off);
		ix->a[3][ix->n[3]++] = entry(it->gid, off);
	} else if (it->type == K8S_SF_REC_GROUP) {
		ix->a[2][ix->n[2]++] = entry(nkey(it->name), off);
		ix->a[3][ix->n[3]++] = entry(it->gid, off);
	} else {
		/* A removed user also hides the base's private group. */
		if (it->kind == K8S_SF_TOMB_USER)
			ix->a[0][ix->n[0]++] = entry(nkey(it->name), off);
		ix->a[2][ix->n[2]++] = entry(nkey(it->name), off);
	}
}

static void put_header(struct k8s_store *st, struct file_out *o, const size_t n[4], uint32_t off[5],
		       size_t rec_bytes, int delta)
{
	unsigned char *b = o->buf;
	const struct k8s_sf *base = &st->priv->base;

	memcpy(b, K8S_SF_MAGIC, 8);
	st32(b + K8S_SF_H_VERSION, K8S_SF_VERSION);
	st32(b + K8S_SF_H_HDRSIZE, K8S_SF_HEADER_SIZE);
	st32(b + K8S_SF_H_BYTEORDER, K8S_SF_BYTE_ORDER);
	st32(b + K8S_SF_H_FLAGS, delta ? K8S_SF_FLAG_DELTA : 0);
	st64(b + K8S_SF_H_FILESIZE, o->size);
	st64(b + K8S_SF_H_GENERATION, o->generation);
	st64(b + K8S_SF_H_CREATED, (uint64_t)(int64_t)time(NULL));
	st32(b + K8S_SF_H_NUBYNAME, (uint32_t)n[0]);
	st32(b + K8S_SF_H_NUBYUID, (uint32_t)n[1]);
	st32(b + K8S_SF_H_NGBYNAME, (uint32_t)n[2]);
	st32(b + K8S_SF_H_NGBYGID, (uint32_t)n[3]);
	st32(b + K8S_SF_H_UBYNAME, off[0]);
	st32(b + K8S_SF_H_UBYUID, off[1]);
	st32(b + K8S_SF_H_GBYNAME, off[2]);
	st32(b + K8S_SF_H_GBYGID, off[3]);
	st32(b + K8S_SF_H_RECOFF, off[4]);
	st32(b + K8S_SF_H_RECSIZE, (uint32_t)rec_bytes);
	if (delta) {
		st64(b + K8S_SF_H_BASEGEN, base->generation);
		st64(b + K8S_SF_H_BASESUM, base->header_sum);
	}
	st64(b + K8S_SF_H_BODYSUM, k8s_sf_hash64(b + K8S_SF_HEADER_SIZE, o->size - K8S_SF_HEADER_SIZE));
	o->header_sum = k8s_sf_hash64(b, K8S_SF_H_HDRSUM);
	st64(b + K8S_SF_H_HDRSUM, o->header_sum);
}

/* The file for a plan: header, four sorted indexes, the records. */
static int build_file(struct k8s_store *st, const struct plan *pl, int delta, uint64_t generation,
		      struct file_out *o, struct k8s_err *err)
{
	struct indexes ix;
	size_t n[4], i, k, at;
	uint32_t off[5];
	int rc = K8S_UNAVAILABLE;

	memset(&ix, 0, sizeof(ix));
	memset(o, 0, sizeof(*o));
	n[0] = pl->users + pl->utombs;
	n[1] = pl->users - pl->existing;
	n[2] = pl->groups + pl->gtombs + pl->users - pl->existing + pl->utombs;
	n[3] = pl->groups + pl->users - pl->existing;
	o->size = K8S_SF_HEADER_SIZE + K8S_SF_IDX_SIZE * (n[0] + n[1] + n[2] + n[3]) + pl->bytes;
	if (o->size > K8S_SF_MAX_FILE)
		return k8s_err_set(err, K8S_UNAVAILABLE, "identity store too large",
				   "%zu bytes would exceed the format's limit", o->size);
	o->generation = generation;
	o->buf = calloc(1, o->size);
	for (k = 0; k < 4; k++)
		ix.a[k] = malloc((n[k] + 1) * sizeof(uint64_t));
	if (o->buf == NULL || !ix.a[0] || !ix.a[1] || !ix.a[2] || !ix.a[3])
		goto out;
	off[0] = K8S_SF_HEADER_SIZE;
	for (k = 1; k < 5; k++)
		off[k] = (uint32_t)(off[k - 1] + K8S_SF_IDX_SIZE * n[k - 1]);
	for (i = 0, at = off[4]; i < pl->n; i++) {
		memcpy(o->buf + at, pl->items[i].bytes, pl->items[i].size);
		index_item(&ix, &pl->items[i], (uint32_t)at);
		at += pl->items[i].size;
	}
	for (k = 0; k < 4; k++) {
		if (sort_index(ix.a[k], ix.n[k]) != 0)
			goto out;
		for (i = 0; i < ix.n[k]; i++) {
			st32(o->buf + off[k] + K8S_SF_IDX_SIZE * i + K8S_SF_IDX_KEY, (uint32_t)(ix.a[k][i] >> 32));
			st32(o->buf + off[k] + K8S_SF_IDX_SIZE * i + K8S_SF_IDX_OFF, (uint32_t)ix.a[k][i]);
		}
	}
	put_header(st, o, n, off, pl->bytes, delta);
	rc = K8S_OK;
out:
	for (k = 0; k < 4; k++)
		free(ix.a[k]);
	if (rc != K8S_OK) {
		free(o->buf);
		o->buf = NULL;
		k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "commit: out of memory");
	}
	return rc;
}

/* ---------------------------------------------------------- writing */

/* Best effort: the damaged original is evidence, not a requirement. */
static void keep_corrupt(const char *dir, const char *file)
{
	char src[4096], dst[4096];

	snprintf(src, sizeof(src), "%s/%s", dir, file);
	snprintf(dst, sizeof(dst), "%s/%s.corrupt", dir, file);
	if ((unlink(dst) == 0 || errno == ENOENT) && link(src, dst) != 0)
		dst[0] = '\0';
}

/* k8s_write_file_at: temp file in the store directory, fsync, rename
 * over, fsync the directory; 0644, as the NSS module reads it in every
 * process. */
static int publish(struct k8s_store *st, const struct file_out *o, const char *file,
		   struct k8s_err *err)
{
	int dfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = K8S_OK;

	if (dfd < 0 || k8s_write_file_at(dfd, file, o->buf, o->size, 0644, NULL) != 0)
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "cannot write the identity store",
				 "%s/%s: %s", st->dir, file, strerror(errno));
	if (dfd >= 0)
		close(dfd);
	return rc;
}

/* Tell readers (libnss_k8s) that something changed: they compare the
 * stamp's first 8 bytes on every call.  In place, and never shrunk: it is
 * mapped by every process.  A failure only delays readers to their
 * once-a-second check of the files. */
static void bump_stamp(struct k8s_store *st)
{
	char path[4096];
	uint64_t gen = st->generation;
	struct stat sb;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", st->dir, K8S_SF_STAMP_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
	if (fd < 0)
		return;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && k8s_own_fd(fd) == 0 &&
	    (sb.st_size >= (off_t)K8S_SF_STAMP_SIZE || ftruncate(fd, K8S_SF_STAMP_SIZE) == 0) &&
	    ((sb.st_mode & 07777) == 0644 || fchmod(fd, 0644) == 0) &&
	    pwrite(fd, &gen, sizeof(gen), 0) != (ssize_t)sizeof(gen))
		gen = 0;
	close(fd);
}

/* After a commit the files on disk are ours: look at them from now on. */
static int remap(struct k8s_store *st, struct k8s_err *err)
{
	struct k8s_store_priv *p = st->priv;
	int sb, sd;

	p->not_served = 0;
	if (k8s_store_map_file(st, K8S_SF_FILE, &p->base, &sb) != 0 ||
	    k8s_store_map_file(st, K8S_SF_DELTA_FILE, &p->delta, &sd) != 0 ||
	    k8s_sfv_attach(&p->view, &p->base, &p->delta) != K8S_SF_DELTA_OK)
		return k8s_err_set(err, K8S_UNAVAILABLE, "identity store changed under us",
				   "%s: the files just written do not read back", st->dir);
	return K8S_OK;
}

static int compact(struct k8s_store *st, struct k8s_err *err)
{
	struct k8s_store_priv *p = st->priv;
	struct plan pl = {0}, none = {0};
	struct file_out base = {0}, delta = {0};
	int rc;

	rc = k8s_store_load_all(st, err);
	if (rc == K8S_OK && rebuild_members(st) != 0)
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "commit: out of memory");
	if (rc == K8S_OK && settle(st) != 0)
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "commit: out of memory");
	if (rc == K8S_OK)
		rc = plan_base(st, &pl, err);
	if (rc == K8S_OK)
		rc = build_file(st, &pl, 0, st->generation + 1, &base, err);
	if (rc != K8S_OK)
		goto out;
	if (p->damaged) {
		keep_corrupt(st->dir, K8S_SF_FILE);
		keep_corrupt(st->dir, K8S_SF_DELTA_FILE);
	}
	rc = publish(st, &base, K8S_SF_FILE, err);
	if (rc != K8S_OK)
		goto out;
	/* The delta for it names the base we just wrote. */
	p->base.generation = base.generation;
	p->base.header_sum = base.header_sum;
	rc = build_file(st, &none, 1, st->generation + 2, &delta, err);
	if (rc == K8S_OK)
		rc = publish(st, &delta, K8S_SF_DELTA_FILE, err);
	if (rc == K8S_OK) {
		st->generation += 2;
		p->damaged = 0;
		bump_stamp(st);
		rc = remap(st, err);
	}
out:
	free(base.buf);
	free(delta.buf);
	free(pl.items);
	return rc;
}

/* A login that changes nothing NSS serves (the same account, binding and
 * memberships; last_login moves by the hour, store_login.c) writes
 * nothing: committing would rewrite the delta and fsync it, about 1.3 ms
 * and a disk write per login, for a byte-identical answer.  1 only when
 * every account and store-defined group of the model is, byte for byte,
 * the record the files hold now and nothing was removed; anything else
 * (a new or changed record, a removal, damage, no base yet, a model
 * loaded whole, a file NSS would not serve for its owner or mode) is 0
 * and the caller commits, which rewrites it. */
int k8s_store_unchanged(struct k8s_store *st)
{
	struct k8s_store_priv *p;
	struct k8s_sf_user vu;
	struct k8s_sf_group vg;
	unsigned char *rec;
	uint32_t size;
	size_t i;

	if (st == NULL || st->lock_fd < 0)
		return 0;
	p = st->priv;
	if (p->all_loaded || p->damaged || p->base.base == NULL || p->not_served)
		return 0;
	/* removals (this session's, and settle's of emptied groups) */
	if (settle(st) != 0 || p->gone_users.n > 0 || p->gone_groups.n > 0)
		return 0;
	for (i = 0; i < st->n_users; i++) {
		if (user_storable(st->users[i], NULL) != K8S_OK ||
		    (rec = user_record(p, st->users[i], &size)) == NULL ||
		    k8s_sfv_user_by_name(&p->view, st->users[i]->name, &vu) != 1 ||
		    vu.record_size != size || memcmp(vu.record, rec, size) != 0)
			return 0;
	}
	for (i = 0; i < st->n_groups; i++) {
		struct group_node *gn = group_node_of(st->groups[i]);
		int was_loaded = gn->loaded, same;

		if (st->groups[i]->private_group)
			continue;
		same = k8s_store_load_members(st, st->groups[i]) == 0 &&
		       (rec = group_record(p, st->groups[i], &size)) != NULL &&
		       k8s_sfv_group_by_name(&p->view, st->groups[i]->name, &vg) == 1 && !vg.private_group &&
		       vg.record_size == size && memcmp(vg.record, rec, size) == 0;
		/* a member list loaded only to compare is put back: the
		 * commit that may follow settles what it would have seen */
		if (!was_loaded) {
			gn->loaded = 0;
			gn->n_members = 0;
		}
		if (!same)
			return 0;
	}
	return 1;
}

int k8s_store_commit(struct k8s_store *st, struct k8s_err *err)
{
	struct k8s_store_priv *p;
	struct plan pl = {0};
	struct file_out o = {0};
	size_t limit;
	int rc;

	if (st == NULL || st->lock_fd < 0)
		return k8s_err_set(err, K8S_ECONFIG, "store opened read-only",
				   "commit on a store opened without the lock");
	p = st->priv;
	/* a base not as we write it (not_served: NSS may refuse or be unable
	 * to read it) is rewritten whole; a delta is anyway */
	if (p->all_loaded || p->damaged || p->base.base == NULL || (p->not_served & 1))
		return compact(st, err);
	rc = settle(st) == 0 ? K8S_OK :
	     k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "commit: out of memory");
	if (rc == K8S_OK)
		rc = plan_delta(st, &pl, err);
	if (rc != K8S_OK)
		goto out;
	limit = p->base.size / 8 > K8S_STORE_DELTA_MIN ? p->base.size / 8 : K8S_STORE_DELTA_MIN;
	if (p->damaged || pl.bytes > limit) {
		rc = compact(st, err);
		goto out;
	}
	rc = build_file(st, &pl, 1, st->generation + 1, &o, err);
	if (rc == K8S_OK)
		rc = publish(st, &o, K8S_SF_DELTA_FILE, err);
	if (rc == K8S_OK) {
		st->generation++;
		bump_stamp(st);
		rc = remap(st, err);
	}
out:
	free(o.buf);
	free(pl.items);
	return rc;
}
