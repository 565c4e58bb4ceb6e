/* store_int.h: what store.c (the model) and storewrite.c (commit) share.
 * Not for use outside the store. */
#ifndef K8S_STORE_INT_H
#define K8S_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

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

#endif
