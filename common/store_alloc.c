/* store_alloc.c: giving accounts and groups their ids and records
 * (store.h): uids derived from the name (SHA-256) and probed past every
 * id another source or the store holds, pinned uids, gecos/home/shell,
 * and where a mapped group lands. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "sha256.h"
#include "store_int.h"
#include "util.h"

#define PROBE_MAX     100000u

/* ------------------------------------------------------- allocation */

/* The first 8 bytes of SHA-256(name), big-endian: the same number on
 * every host (docs/store-format.md shows it in one line of Python). */
static int name_digest(const char *name, uint64_t *out)
{
	unsigned char md[K8S_SHA256_LEN];
	unsigned int i;

	k8s_sha256(name, strlen(name), md);
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

	if (id_reserved(uid) || pinned_by_other(st, cfg, name, uid) ||
	    k8s_store_lookup_uid(st, uid, &u) != 0)
		return 1;
	return k8s_store_foreign(st, 0, NULL, uid);
}

static int gid_state(struct k8s_store *st, uint32_t gid)
{
	struct k8s_store_group *g;

	if (id_reserved(gid) || k8s_store_lookup_gid(st, gid, &g) != 0)
		return 1;
	return k8s_store_foreign(st, 1, NULL, gid);
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
	const char *vals[] = { name };
	char *e = k8s_expand(tmpl, "u", vals), *r;

	r = e != NULL ? k8s_store_arena_strdup(p, e) : NULL;
	free(e);
	return r;
}

int k8s_store_damaged_entry(const char *name, struct k8s_err *err)
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

	r = k8s_store_lookup_group(st, name, &g);
	if (r < 0)
		return k8s_store_damaged_entry(name, err);
	if (r > 0)
		return k8s_err_set(err, K8S_REFUSED, "name taken by a group",
				   "%s is a group of the identity store", name);
	r = k8s_store_foreign(st, 0, name, 0);
	if (r == 1)
		return k8s_err_set(err, K8S_REFUSED, "name used by another account source",
				   "%s is an existing account (not from the identity store)", name);
	if (r == 0)
		r = k8s_store_foreign(st, 1, name, 0);
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
	u = k8s_store_add_user(st, name, uid, gid);
	if (u == NULL || k8s_store_add_group(st, name, gid, 1, source, 0) == NULL)
		goto oom;
	u->sources = source;
	u->uid_pinned = pin >= 0;
	u->gecos = k8s_store_arena_strdup(p, "");
	u->home = expand_home(p, cfg->accounts.home, name);
	u->shell = k8s_store_arena_strdup(p, cfg->accounts.shell);
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
	r = k8s_store_lookup_user(st, name, &u);
	if (r < 0) {
		rc = k8s_store_damaged_entry(name, err);
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
int k8s_store_resolve_group(struct k8s_store *st, const struct k8s_config *cfg, const char *name,
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
	rc = k8s_store_lookup_group(st, name, &g);
	if (rc < 0)
		return k8s_store_damaged_entry(name, err);
	if (rc > 0 && g->private_group) {
		snprintf(why, whylen, "%s (a user's private group)", name);
		return K8S_REFUSED;
	}
	if (rc > 0) {
		g->sources |= source;
		*gid = g->gid;
		return K8S_OK;
	}
	rc = k8s_store_nss_lookup(1, name, 0, &hit);
	if (rc != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "cannot check other account sources",
				   "group %s: NSS lookup failed: %s", name, strerror(rc));
	if (hit.found && !k8s_store_own_group(st, hit.name, hit.id)) {
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
	rc = k8s_store_foreign(st, 0, name, 0);
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
	if (k8s_store_add_group(st, name, id, 0, source, 0) == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "group %s: out of memory", name);
	*gid = id;
	return K8S_OK;
}

void k8s_store_note_drop(char *buf, size_t len, const char *why)
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
		rc = k8s_store_resolve_group(st, cfg, groups[i].name, groups[i].templated, source, &gid,
				   why, sizeof(why), err);
		if (rc == K8S_REFUSED) {
			k8s_store_note_drop(dropped, sizeof(dropped), why);
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
	if (k8s_store_apply_diff(st, u->name, u->groups, u->n_groups, ms, k) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: out of memory", u->name);
	u->groups = ms;
	u->n_groups = k;
	if (dropped[0] != '\0')
		k8s_err_set(err, K8S_OK, "group mappings dropped", "%s: not granted: %s", u->name, dropped);
	return K8S_OK;
}
