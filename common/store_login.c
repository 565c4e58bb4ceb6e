/* store_login.c: what a login, a sync and `k8s-auth store forget` do to
 * the model (store.h): record a login's account and memberships, define
 * the synced groups, drop what nobody is granted any more. */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "util.h"

#define GECOS_MAX     255
#define TEXT_MAX      1024
/* how far last_login may lag behind the latest login (seconds) */
#define K8S_LAST_LOGIN_STEP 3600

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
	return k8s_store_arena_strdup(p, buf);
}

static char *display_of(struct k8s_store_priv *p, const char *s)
{
	struct k8s_buf b = {0};
	char *r = NULL;

	if (k8s_buf_percent_encode(&b, s) == 0 && k8s_buf_append(&b, "", 1) == 0) {
		if (b.len > TEXT_MAX)
			b.data[TEXT_MAX] = '\0';
		r = k8s_store_arena_strdup(p, b.data);
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
	rc = k8s_store_lookup_user(st, local, &u);
	if (rc < 0)
		return k8s_store_damaged_entry(local, err);
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
		u->binding = k8s_store_arena_strdup(st->priv, binding);
	gecos = gecos_of(st->priv, id->username);
	shown = display_of(st->priv, id->username);
	if (u->binding == NULL || gecos == NULL || shown == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: out of memory", local);
	if (!same_str(u->gecos, gecos))
		u->gecos = gecos;
	if (!same_str(u->cluster_user, shown))
		u->cluster_user = shown;
	/* by the hour, as relatime: a login that changes nothing else then
	 * writes nothing (k8s_store_unchanged); last_login is only shown */
	if (!(u->last_login <= now && now - u->last_login < K8S_LAST_LOGIN_STEP))
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
	r = k8s_store_lookup_user(st, name, &u);
	if (r < 0)
		return k8s_store_damaged_entry(name, err);
	if (r > 0 && !(u->sources & K8S_SRC_EXISTING))
		return k8s_err_set(err, K8S_REFUSED, "name taken by a store account",
				   "%s is an account of the identity store and of another NSS source", name);
	if (r == 0) {
		/* No numbers: they are the other source's, looked up when needed. */
		u = k8s_store_add_user(st, name, 0, 0);
		if (u == NULL || (u->gecos = k8s_store_arena_strdup(st->priv, "")) == NULL ||
		    (u->home = k8s_store_arena_strdup(st->priv, "/")) == NULL ||
		    (u->shell = k8s_store_arena_strdup(st->priv, "/")) == NULL)
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
		rc = k8s_store_resolve_group(st, cfg, r->local, 0, K8S_SRC_DECLARED, &gid, why, sizeof(why), err);
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
		if (rc == K8S_OK && k8s_store_strset_add(st->priv, &keep, u->name) != 0)
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

	r = st != NULL && name != NULL ? k8s_store_lookup_user(st, name, &u) : 0;
	if (r < 0)
		return k8s_store_damaged_entry(name, err);
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
	if (k8s_store_apply_diff(st, u->name, u->groups, u->n_groups, ms, k) != 0)
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
		rc = k8s_store_resolve_group(st, cfg, groups[i].name, groups[i].templated, defined, &gid,
				   why, sizeof(why), err);
		if (rc == K8S_REFUSED)
			k8s_store_note_drop(dropped, sizeof(dropped), why);
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
	if (k8s_store_apply_diff(st, u->name, u->groups, u->n_groups, ms, k) != 0)
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
