/* store_int.h: what the store's files share (store.c open/close,
 * store_model.c, store_nss.c, store_alloc.c, store_login.c, storewrite.c).
 * Not for use outside the store. */
#ifndef K8S_STORE_INT_H
#define K8S_STORE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"
#include "storefmt.h"

struct arena_chunk;
struct k8s_declared;

/* Open addressing over an array of pointers: slot = index + 1, 0 empty. */
struct imap {
	uint32_t *slot;
	size_t mask;
};

/* A set of names (removed in this session), open addressing. */
struct strset {
	char **slot;
	size_t mask, n;
};

/* A store-defined group's member list, loaded from the image on demand. */
struct group_node {
	struct k8s_store_group g;  /* first: the public pointer is &node->g */
	int loaded;                /* members is the whole list (new groups: from the start) */
	int dead;                  /* leaving the model at the next drop_dead */
	const char **members;      /* user names (image or arena strings) */
	size_t n_members, cap;
};

struct store_mapping {
	void *addr;
	size_t len;
};

/* The other NSS sources read once (k8s_store_nss_snapshot): first entry
 * per name and per id, in enumeration order (the nsswitch.conf order a
 * point lookup follows). */
struct nss_snap_ent {
	char *name;
	uint32_t id;
};

struct nss_snap_tab {
	struct nss_snap_ent *ent;
	size_t n, cap;
	struct imap by_name, by_id;
};

/* accounts.declared entries with a pinned uid, by name and by uid. */
struct pin_index {
	const void *cfg, *declared;
	size_t n_declared;
	const struct k8s_declared **by_name, **by_uid;
	size_t n;
};

struct k8s_store_priv {
	struct store_mapping *maps;    /* every image this store mapped, unmapped at close */
	size_t n_maps;
	struct k8s_sf base, delta;     /* current files (headers valid; base NULL: none) */
	struct k8s_sfv view;           /* base + attached delta: what NSS serves */
	struct arena_chunk *arena;
	size_t users_cap, groups_cap;
	struct imap uname, uid, gname, gid;
	int maps_dirty;
	struct strset gone_users, gone_groups;
	int all_loaded;
	int damaged;                   /* next commit compacts and keeps the old files as *.corrupt */
	int not_served;                /* 1 base, 2 delta: not this writer's with mode 0644 (store.c map_file) */
	const struct k8s_config *cfg;  /* last config seen (for compaction's declared groups) */
	int nss_snap;                  /* 1: foreign() answers from pw/gr below */
	struct nss_snap_tab pw, gr;
	struct pin_index pins;
};

static inline struct group_node *group_node_of(struct k8s_store_group *g)
{
	return (struct group_node *)(void *)g;
}

void *k8s_store_arena_alloc(struct k8s_store_priv *p, size_t n);
int k8s_store_strset_has(const struct strset *s, const char *name);
int k8s_store_load_members(struct k8s_store *st, struct k8s_store_group *g);
int k8s_store_drop_dead(struct k8s_store *st);
/* Model only (no loading from the files). */
struct k8s_store_user *k8s_store_model_user(struct k8s_store *st, const char *name);
struct k8s_store_group *k8s_store_model_group(struct k8s_store *st, const char *name);
/* The model already has a say about this name (present or removed). */
int k8s_store_decided(struct k8s_store *st, const char *name);
/* Map dir/file into the store (kept until close); 0 ok (sf filled, or
 * sf->base NULL when absent), -1 cannot read (errno), 1 present but not
 * a valid image (*status has the k8s_sf_status). */
int k8s_store_map_file(struct k8s_store *st, const char *file, struct k8s_sf *sf, int *status);

/* The model's four tables. */
enum mkind { M_UNAME, M_UID, M_GNAME, M_GID };

/* What one NSS lookup found (k8s_store_nss_lookup). */
struct nss_hit {
	int found;
	uint32_t id;
	char name[256];
};

/* Between the store's files (store_model.c, store_nss.c, store_alloc.c,
 * store_login.c, store.c). */
char *k8s_store_arena_strdup(struct k8s_store_priv *p, const char *s);
void k8s_store_arena_free(struct k8s_store_priv *p);
uint32_t k8s_store_name_key(const char *name);
int k8s_store_strset_add(struct k8s_store_priv *p, struct strset *s, const char *name);
uint32_t k8s_store_mix_id(uint32_t id);
/* Index of the model entry, or -1.  Tables are rebuilt lazily. */
long k8s_store_map_find(struct k8s_store *st, enum mkind k, const char *name, uint32_t id);
struct k8s_store_user *k8s_store_add_user(struct k8s_store *st, const char *name, uid_t uid,
					  gid_t gid);
struct k8s_store_group *k8s_store_add_group(struct k8s_store *st, const char *name, gid_t gid,
					    int private_group, uint32_t sources, int from_image);
/* A user record from the files into the model, with its private group. */
struct k8s_store_user *k8s_store_materialize_user(struct k8s_store *st,
						  const struct k8s_sf_user *v);
/* -1 damaged (or out of memory), 0 absent, 1 found (*out). */
int k8s_store_lookup_user(struct k8s_store *st, const char *name, struct k8s_store_user **out);
int k8s_store_lookup_uid(struct k8s_store *st, uint32_t uid, struct k8s_store_user **out);
int k8s_store_lookup_group(struct k8s_store *st, const char *name, struct k8s_store_group **out);
int k8s_store_lookup_gid(struct k8s_store *st, uint32_t gid, struct k8s_store_group **out);
/* user's memberships went from old[] to new[]. */
int k8s_store_apply_diff(struct k8s_store *st, const char *user,
			 const struct k8s_store_membership *old, size_t n_old,
			 const struct k8s_store_membership *new, size_t n_new);
/* One point lookup through the whole NSS configuration (our own module
 * included, hence own_user/own_group).  0 or an errno: the caller fails
 * closed when NSS cannot answer. */
int k8s_store_nss_lookup(int group, const char *name, uint32_t id, struct nss_hit *hit);
int k8s_store_own_group(struct k8s_store *st, const char *name, uint32_t gid);
/* One table of the snapshot: entries, first per name and per id. */
void k8s_store_snap_tab_free(struct nss_snap_tab *t);
/* 1 when another NSS source has this user/group (by name or by id), 0 when
 * not, -errno when NSS cannot tell. */
int k8s_store_foreign(struct k8s_store *st, int group, const char *name, uint32_t id);
int k8s_store_damaged_entry(const char *name, struct k8s_err *err);
/* Where a mapped group lands: K8S_OK with *gid, K8S_REFUSED (dropped,
 * why[] says why), or an error. */
int k8s_store_resolve_group(struct k8s_store *st, const struct k8s_config *cfg, const char *name,
			    int templated, uint32_t source, gid_t *gid, char *why, size_t whylen,
			    struct k8s_err *err);
void k8s_store_note_drop(char *buf, size_t len, const char *why);

#endif
