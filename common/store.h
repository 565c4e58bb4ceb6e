/* store.h: the identity store (writer side, and the model the CLI shows).
 *
 * One file, STOREDIR/identities.db, world-readable, written only by root:
 * the format is in storefmt.h (which the NSS module reads through mmap),
 * described in docs/store-format.md.  Writers take an exclusive lock
 * (STOREDIR/.lock, flock), load the current file into this model, change
 * it, and commit: write a temp file, fsync, rename over, fsync the
 * directory.  Readers never lock and never see a torn state.  Never holds a
 * token or a secret.
 *
 * The model is loaded lazily: an account or group enters st->users /
 * st->groups when a lookup or change first touches it, so a login costs
 * O(log n) lookups in the mapped files, not a load of every account.
 * k8s_store_load_all() loads everything (listing, sync).
 *
 * Ownership: every struct, string and array reachable from a k8s_store
 * belongs to the store and stays valid (at a fixed address) until
 * k8s_store_close, even after the entry is removed from the model; treat
 * them as read-only and change them only through the functions below.
 *
 * Warnings: a call that returns K8S_OK may still fill err->reason/detail
 * (with err->status K8S_OK) to say something was dropped or repaired (a
 * damaged store salvaged, a templated group refused); log it when
 * err->reason[0] is set. */
#ifndef K8S_STORE_H
#define K8S_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "err.h"
#include "identity.h"
#include "mapping.h"

/* Where an account or a membership came from (bit flags). */
#define K8S_SRC_DECLARED 0x1u
#define K8S_SRC_SYNCED   0x2u
#define K8S_SRC_LOGIN    0x4u
/* Groups only, beside the sources above: `k8s-auth sync` defines the group
 * (a cluster Group subject), so it exists without members, as declared
 * groups do.  Set and cleared by k8s_store_define_groups alone. */
#define K8S_SRC_GROUP_SYNCED 0x8u
/* Users only: an accounts.allowExisting account another NSS source serves
 * (uid and gid 0 here: the numbers are that source's).  The record holds
 * the binding, cluster user, last login and login-learned memberships;
 * libnss_k8s serves only its memberships (initgroups), never a passwd
 * entry or a private group.  Always with K8S_SRC_LOGIN; forget removes it. */
#define K8S_SRC_EXISTING 0x10u

struct k8s_store_membership {
	char group[K8S_LOCAL_NAME_MAX + 1];
	gid_t gid;
	uint32_t sources;   /* K8S_SRC_* that put the user in this group */
};

struct k8s_store_user {
	char name[K8S_LOCAL_NAME_MAX + 1];
	uid_t uid;
	gid_t gid;          /* the per-user private group */
	char *gecos;        /* cluster username, or "" */
	char *home;
	char *shell;
	uint32_t sources;   /* K8S_SRC_* */
	int uid_pinned;
	char *binding;      /* immutable identity id ("tokenreview:uid:...", "jwt:ISSUER#SUB"), NULL = unbound */
	char *cluster_user; /* last cluster username seen */
	time_t last_login;  /* 0 = never */
	struct k8s_store_membership *groups;
	size_t n_groups;
};

struct k8s_store_group {
	char name[K8S_LOCAL_NAME_MAX + 1];
	gid_t gid;
	int private_group;  /* per-user private group */
	uint32_t sources;
};

struct k8s_store {
	char *dir;
	int lock_fd;        /* -1 when opened read-only */
	uint64_t generation;
	struct k8s_store_user **users;  /* the accounts loaded so far (all after load_all) */
	size_t n_users;
	struct k8s_store_group **groups;/* groups the store defines, loaded so far: private
					 * ones included, existing local groups (sudo) never */
	size_t n_groups;
	struct k8s_store_priv *priv;    /* lookup tables, mapped files, allocations */
};

/* Open for reading (no lock) or writing (exclusive lock on STOREDIR/.lock,
 * waiting at most K8S_STORE_LOCK_WAIT_MS, else K8S_UNAVAILABLE).  dir NULL =
 * K8S_STOREDIR.  Writing creates a missing directory (0755) and refuses one
 * that is not owned by us or is group/world-writable.  A missing store is
 * empty.  A damaged file (bad header, size, delta) is K8S_UNAVAILABLE for
 * reading; for writing, err says so (status K8S_OK), what still verifies
 * is salvaged, and the next commit compacts and keeps the damaged files as
 * identities.db.corrupt / identities.delta.corrupt.  Damage found later in
 * a single record makes ensure_user/record_login K8S_UNAVAILABLE for that
 * name ("run k8s-auth sync", which salvages), never "free". */
#define K8S_STORE_LOCK_WAIT_MS 10000
#define K8S_STORE_DELTA_MIN    (256 * 1024) /* a delta may always grow this far */
int k8s_store_open(const char *dir, int for_write, struct k8s_store **out, struct k8s_err *err);
/* Write the changes as the new generation (K8S_ECONFIG on a read-only
 * store): a new identities.delta, or, when the delta would outgrow 1/8 of
 * the base, after load_all, or when the files were damaged, a compaction
 * (a new identities.db and an empty delta).  Drops store-defined groups
 * that have no members and are neither declared by accounts.groups nor
 * defined by sync.  The store stays open and locked. */
int k8s_store_commit(struct k8s_store *st, struct k8s_err *err);
/* 1: a commit now would write nothing the files do not already hold
 * (every record of the model identical, nothing removed); the caller may
 * skip it.  0 in every other case, doubt included. */
int k8s_store_unchanged(struct k8s_store *st);
void k8s_store_close(struct k8s_store *st);

/* 1 when the files (or, after k8s_store_load_all, any record or the base's
 * whole-body checksum) failed verification: readers treat what fails as
 * absent, and `k8s-auth sync` salvages the rest.  For `k8s-auth status`. */
int k8s_store_damaged(const struct k8s_store *st);
/* 1 when a file is not as a commit writes it (this writer's, mode 0644),
 * so libnss_k8s may refuse or be unable to read it: the next commit
 * rewrites it, and `k8s-auth sync` commits for that alone. */
int k8s_store_not_served(const struct k8s_store *st);

/* Load every account and group into the model (st->users, st->groups);
 * the next commit compacts. */
int k8s_store_load_all(struct k8s_store *st, struct k8s_err *err);
/* For runs that create many accounts (sync): read the other NSS sources
 * once and answer the collision checks of new names and ids from that,
 * when nsswitch.conf's passwd and group services all enumerate everything
 * they answer (files, systemd, k8s); otherwise nothing changes (a point
 * lookup per check).  1 snapshot taken, 0 point lookups, -1 bad call. */
int k8s_store_nss_snapshot(struct k8s_store *st);

/* Lookups (loading the entry into the model from the files when needed);
 * NULL when absent, and when the entry is damaged (ensure_user and
 * record_login report that as K8S_UNAVAILABLE). */
struct k8s_store_user *k8s_store_find_user(struct k8s_store *st, const char *name);
struct k8s_store_user *k8s_store_find_uid(struct k8s_store *st, uid_t uid);
struct k8s_store_group *k8s_store_find_group(struct k8s_store *st, const char *name);

/* Add (or find) an account, allocating uid/gid as a pure function of the
 * name within the config's ranges (deterministic probing on collision with
 * the store or any other NSS source).  Sets the source bit.
 * pinned_uid >= 0 pins the uid (declared accounts).  K8S_REFUSED for an
 * invalid name or one another NSS source already uses (user or group);
 * K8S_ECONFIG when a pinned uid is taken or differs from the stored one;
 * K8S_UNAVAILABLE when the range is full or NSS cannot answer. */
int k8s_store_ensure_user(struct k8s_store *st, const struct k8s_config *cfg, const char *name,
			  uint32_t source, int64_t pinned_uid, struct k8s_store_user **out,
			  struct k8s_err *err);

/* Replace the memberships of `source` for user u with groups[] (mapped
 * names; templated ones are created as store-defined groups, literal ones
 * resolve to an existing local group via NSS or else a store group).
 * Memberships other sources gave are kept.  A templated name that another
 * NSS source (or a store user's private group) already uses, and a literal
 * one naming a private group or the root group, is dropped: K8S_OK with a
 * warning in err. */
int k8s_store_set_memberships(struct k8s_store *st, const struct k8s_config *cfg,
			      struct k8s_store_user *u, uint32_t source,
			      const struct k8s_mapped_group *groups, size_t n, struct k8s_err *err);

/* Everything a successful login records: ensure the account (source LOGIN),
 * the binding (set when unbound; K8S_REFUSED "identity binding mismatch"
 * when bound to another, before anything changes), gecos and cluster user
 * (the cluster username; gecos with control characters, ':' and ','
 * replaced by '_'), last login, login-learned memberships.  Does not
 * commit. */
int k8s_store_record_login(struct k8s_store *st, const struct k8s_config *cfg, const char *local,
			   const char *binding, const struct k8s_identity *id,
			   const struct k8s_mapped_group *groups, size_t n_groups, time_t now,
			   struct k8s_err *err);

/* Bring declared accounts in line with accounts.declared: add them (source
 * DECLARED, pinned uid if given); clear DECLARED from accounts no longer
 * declared, removing those left with no source.  Existing-account records
 * of names no longer in accounts.allowExisting are removed.  Literal accounts.groups
 * targets that are no existing local group become store-defined groups
 * (DECLARED), so they resolve before anyone logs in.  Does not commit. */
int k8s_store_apply_declared(struct k8s_store *st, const struct k8s_config *cfg, struct k8s_err *err);

/* The record of an existing account (K8S_SRC_EXISTING), added to the
 * model if absent (uid/gid 0, home and shell "/").  The caller has checked
 * accounts.allowExisting and that another NSS source has the account.
 * K8S_REFUSED when the name is a store account; k8s_store_record_login
 * then records the login on it.  Does not commit. */
int k8s_store_ensure_existing(struct k8s_store *st, const char *name, struct k8s_store_user **out,
			      struct k8s_err *err);

/* Drop the binding and login-learned memberships; remove the account when
 * no other source keeps it (an existing account's record always goes).  K8S_REFUSED for an unknown name. */
int k8s_store_forget(struct k8s_store *st, const char *name, struct k8s_err *err);

/* ---- sync support (`k8s-auth sync`, docs/sync.md) ---- */

/* The store groups sync defines are exactly groups[] (mapped names):
 * templated ones, and literal ones no other NSS source has, are created if
 * needed and marked SYNCED | GROUP_SYNCED (they then outlive having no
 * members); an existing local group (sudo) is only resolved.  Every other
 * group loses GROUP_SYNCED and goes at commit unless members or the config
 * keep it.  Names that cannot be store groups (as in set_memberships) are
 * dropped: K8S_OK with a warning in err.  Loads the whole store. */
int k8s_store_define_groups(struct k8s_store *st, const struct k8s_config *cfg,
			    const struct k8s_mapped_group *groups, size_t n, struct k8s_err *err);

/* Take `source` from every account that has it and whose name is not in
 * keep[] (n_keep names, sorted by strcmp): its memberships of that source
 * go, and the bit.  An account left with no source outside `weak` is
 * removed whole, binding and login-learned data included.  Loads the
 * whole store. */
int k8s_store_prune_source(struct k8s_store *st, uint32_t source, const char *const *keep,
			   size_t n_keep, uint32_t weak, struct k8s_err *err);

/* k8s_identity_binding, the binding a store account keeps: identity.h. */

#endif
