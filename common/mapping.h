/* mapping.h: cluster identity -> local account and local groups. */
#ifndef K8S_MAPPING_H
#define K8S_MAPPING_H

#include <stddef.h>
#include "config.h"
#include "err.h"

#define K8S_LOCAL_NAME_MAX 32

/* ^[a-z_][a-z0-9_.-]{0,31}$ and not all digits. */
int k8s_valid_local_name(const char *name);

/* First accounts.users rule whose match hits the whole username; expand
 * \1..\9.  K8S_OK with out filled; K8S_REFUSED when no rule matches or the
 * result is not a valid local name. */
int k8s_map_user(const struct k8s_config *cfg, const char *username,
		 char out[K8S_LOCAL_NAME_MAX + 1], struct k8s_err *err);

struct k8s_mapped_group {
	char name[K8S_LOCAL_NAME_MAX + 1];
	int templated; /* 1: store-defined group; 0: literal (may be an existing local group) */
};

/* Every cluster group through accounts.groups (first matching rule per
 * group); invalid results are dropped (with a count), duplicates merged.
 * *out malloc'd. */
int k8s_map_groups(const struct k8s_config *cfg, char *const *groups, size_t n_groups,
		   struct k8s_mapped_group **out, size_t *n_out, size_t *n_invalid);

#endif
