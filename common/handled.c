/* handled.c: which users pam_k8s handles, the store-side login policy for
 * those who came in without a token, and recording a token login. */
#include "decide.h"

#include <pwd.h>
#include <string.h>

#include "mapping.h"
#include "policy.h"
#include "store.h"

static int declared(const struct k8s_config *cfg, const char *user)
{
	size_t i;

	for (i = 0; i < cfg->accounts.n_declared; i++)
		if (strcmp(cfg->accounts.declared[i].name, user) == 0)
			return 1;
	return 0;
}

static int in_store(const char *dir, const char *user, struct k8s_err *err)
{
	struct k8s_store *st = NULL;
	struct k8s_store_user *u;
	int rc;

	rc = k8s_store_open(dir, 0, &st, err);
	if (rc != K8S_OK)
		return -1;
	u = k8s_store_find_user(st, user);
	/* An existing account's record does not make the account ours. */
	rc = u != NULL && !(u->sources & K8S_SRC_EXISTING);
	k8s_store_close(st);
	return rc;
}

/* With the store unreadable, who can still be told apart from its users:
 * root and accounts of other sources outside the store's uidRange.  They
 * must keep logging in (break-glass); anyone else fails closed. */
static int surely_not_a_store_user(const struct k8s_config *cfg, const char *user)
{
	return cfg != NULL ? k8s_surely_not_store_user(user, cfg->accounts.uid_min, cfg->accounts.uid_max)
			   : k8s_surely_not_store_user(user, 1000, (uid_t)-1);
}

int k8s_user_is_ours(const struct k8s_config *cfg, const char *user, struct k8s_err *err)
{
	int rc;

	if (!k8s_valid_local_name(user))
		return 0;
	if (k8s_strv_contains(&cfg->accounts.allow_existing, user) || declared(cfg, user))
		return 1;
	rc = in_store(cfg->store, user, err);
	if (rc < 0 && surely_not_a_store_user(cfg, user))
		rc = 0;
	return rc;
}

int k8s_user_in_default_store(const char *user)
{
	struct k8s_err err;

	int rc = in_store(K8S_STOREDIR, user, &err);

	/* An unreadable store is treated as "ours" (refusing is the safe
	 * side), except for root and system accounts: break-glass. */
	if (rc < 0 && surely_not_a_store_user(NULL, user))
		rc = 0;
	return rc != 0;
}

/* What can be enforced without a token: root, allowedGroups (cannot be
 * proven, so it refuses), and that the account's last cluster identity
 * is still allowed and still maps here. */
static int policy_for(const struct k8s_config *cfg, const struct k8s_store_user *u,
		      struct k8s_err *err)
{
	char mapped[K8S_LOCAL_NAME_MAX + 1];
	struct k8s_err merr;

	if (u->uid == 0 && !cfg->login.allow_root)
		return k8s_err_set(err, K8S_REFUSED, "root login not allowed", "%s has UID 0", u->name);
	if (cfg->login.allowed_groups.n > 0)
		return k8s_err_set(err, K8S_REFUSED, "not in an allowed group",
				   "%s authenticated without a token: login.allowedGroups cannot be checked",
				   u->name);
	if (u->cluster_user == NULL || u->cluster_user[0] == '\0')
		return K8S_OK;
	if (k8s_policy_denied_username(cfg, u->cluster_user) >= 0)
		return k8s_err_set(err, K8S_REFUSED, "username denied by policy",
				   "%s belongs to %s, which policy.denyUsernames refuses", u->name,
				   u->cluster_user);
	if (k8s_map_user(cfg, u->cluster_user, mapped, &merr) != K8S_OK || strcmp(mapped, u->name) != 0)
		return k8s_err_set(err, K8S_REFUSED, "token is for another user",
				   "%s belongs to %s, which accounts.users no longer maps to it",
				   u->name, u->cluster_user);
	return K8S_OK;
}

int k8s_store_login_policy(const struct k8s_config *cfg, const char *user, int *found,
			  struct k8s_err *err)
{
	struct k8s_store *st = NULL;
	struct k8s_store_user *u;
	int rc;

	*found = 0;
	rc = k8s_store_open(cfg->store, 0, &st, err);
	if (rc != K8S_OK)
		goto out;
	u = k8s_store_find_user(st, user);
	/* An existing account's record only carries what token logins taught;
	 * its own source governs logins without a token, as before. */
	if (u != NULL && (u->sources & K8S_SRC_EXISTING))
		u = NULL;
	*found = u != NULL;
	rc = u == NULL ? K8S_OK : policy_for(cfg, u, err);
out:
	k8s_store_close(st);
	return rc;
}

int k8s_record_login(const struct k8s_config *cfg, const struct k8s_identity *id,
		    const struct k8s_login *login, struct k8s_err *err)
{
	struct k8s_store *st = NULL;
	struct k8s_store_user *u;
	int rc;

	rc = k8s_store_open(cfg->store, 1, &st, err);
	if (rc != K8S_OK)
		goto out;
	/* An allowExisting account lives in another NSS source; its record
	 * holds only the binding and login-learned memberships. */
	if (login->existing && (rc = k8s_store_ensure_existing(st, login->local, &u, err)) != K8S_OK)
		goto out;
	u = k8s_store_find_user(st, login->local);
	if (u != NULL && u->binding != NULL && strcmp(u->binding, login->binding) != 0) {
		rc = k8s_err_set(err, K8S_REFUSED, "identity binding mismatch",
				 "%s was bound to %s meanwhile, the token is %s", login->local,
				 u->binding, login->binding);
		goto out;
	}
	rc = k8s_store_record_login(st, cfg, login->local, login->binding, id, login->groups,
				    login->n_groups, time(NULL), err);
	if (rc == K8S_OK)
		rc = k8s_store_commit(st, err);
out:
	k8s_store_close(st);
	return rc;
}
