/* mapping.h: cluster identity -> local account and local groups. */
#ifndef K8S_MAPPING_H
#define K8S_MAPPING_H

#include <stddef.h>
#include "config.h"
#include "err.h"

#define K8S_LOCAL_NAME_MAX 32

/* ^[a-z_][a-z0-9_.-]{0,31}$ and not all digits. */
int k8s_valid_local_name(const char *name);

/* First accounts.users rule whose match hits the whole username (even
 * without ^...$ in the rule); expand \1..\9 (a group that did not take
 * part expands to nothing) and \\.  K8S_OK with out filled; K8S_REFUSED
 * with reason "no mapping rule matches" or "mapped name is not a valid
 * local name" (the first matching rule decides: later rules are not tried
 * when its result is invalid).  out is "" on refusal. */
int k8s_map_user(const struct k8s_config *cfg, const char *username,
		 char out[K8S_LOCAL_NAME_MAX + 1], struct k8s_err *err);

struct k8s_mapped_group {
	char name[K8S_LOCAL_NAME_MAX + 1];
	int templated; /* 1: store-defined group; 0: literal (may be an existing local group) */
};

/* Every cluster group through accounts.groups (first matching rule per
 * group); groups no rule matches are skipped; a rule result that is not a
 * valid local name is dropped and counted in *n_invalid (may be NULL);
 * duplicates are merged (a name any literal rule produced counts as
 * literal).  *out malloc'd (NULL when *n_out is 0), caller frees.
 * K8S_OK, or K8S_UNAVAILABLE when out of memory. */
int k8s_map_groups(const struct k8s_config *cfg, char *const *groups, size_t n_groups,
		   struct k8s_mapped_group **out, size_t *n_out, size_t *n_invalid);

#endif
