/* handled.c: which users pam_k8s handles, the store-side login policy for
 * those who came in without a token, and recording a token login. */
#include "decide.h"

#include <pwd.h>
#include <string.h>

#include "mapping.h"
#include "policy.h"
#include "preauth.h"
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

/* 1 when no NSS source knows `user`, 0 when one does, -1 cannot tell. */
static int unknown_everywhere(const char *user, struct k8s_err *err)
{
	struct k8s_pw p;
	int r = k8s_pw_by_name(user, &p);

	if (r == 1)
		k8s_pw_free(&p);
	if (r < 0) {
		k8s_err_set(err, K8S_UNAVAILABLE, "cannot check other account sources",
			    "%s: NSS lookup failed", user);
		return -1;
	}
	return r == 0;
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
	/* login.firstLogin: a name no account source has is a first login
	 * waiting to happen (the helper never sees pre-auth entries) */
	if (rc == 0 && cfg->login.first_login)
		rc = unknown_everywhere(user, err);
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
	/* an account first login made: its person was granted through a
	 * group, and only a token shows the grant still holds */
	if (cfg->login.first_login && (u->sources & ~K8S_SRC_LOGIN) == 0)
		return k8s_err_set(err, K8S_REFUSED, "token login required",
				   "%s was created by a first login (login.firstLogin): only a token "
				   "logs it in", u->name);
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

/* First login: create the account with exactly the entry libnss_k8s
 * served this connection's sshd (*created set), or refuse.  An account
 * already in the store must equal it. */
static int first_login_account(struct k8s_store *st, const struct k8s_config *cfg,
			       const struct k8s_login *login, const struct k8s_preauth_entry *e,
			       struct k8s_err *err)
{
	struct k8s_store_user *u = k8s_store_find_user(st, login->local);
	struct k8s_err aerr;
	int rc;

	if (u == NULL) {
		size_t i;

		if (!cfg->login.first_login)
			return k8s_err_set(err, K8S_REFUSED, "first login is off",
					   "%s was served a pre-authentication entry, but login.firstLogin "
					   "is off now", login->local);
		/* the configuration changed since sshd was served the entry */
		if (e->uid < cfg->accounts.uid_min || e->uid > cfg->accounts.uid_max)
			return k8s_err_set(err, K8S_REFUSED, "pre-authentication entry differs from the store",
					   "%s: sshd holds uid %u, outside accounts.uidRange now",
					   login->local, e->uid);
		for (i = 0; i < cfg->accounts.n_declared; i++)
			if (strcmp(cfg->accounts.declared[i].name, login->local) == 0 &&
			    cfg->accounts.declared[i].uid >= 0 &&
			    cfg->accounts.declared[i].uid != (int64_t)e->uid)
				return k8s_err_set(err, K8S_REFUSED,
						   "pre-authentication entry differs from the store",
						   "%s is declared with uid %lld, sshd holds %u: run `k8s-auth sync`",
						   login->local, (long long)cfg->accounts.declared[i].uid, e->uid);
		k8s_err_clear(&aerr);
		rc = k8s_store_ensure_user(st, cfg, login->local, K8S_SRC_LOGIN, e->uid, &u, &aerr);
		if (rc != K8S_OK)
			return k8s_err_set(err, rc == K8S_UNAVAILABLE ? K8S_UNAVAILABLE : K8S_REFUSED,
					   "pre-authentication entry differs from the store",
					   "%s: sshd holds uid %u, which the store cannot give it (%s); "
					   "declare the account (accounts.declared)", login->local, e->uid,
					   aerr.detail);
		u->uid_pinned = 0; /* the allocator's own first choice, not a declared pin */
	}
	if (!k8s_preauth_matches(e, u->uid, u->gid, u->home, u->shell))
		return k8s_err_set(err, K8S_REFUSED, "pre-authentication entry differs from the store",
				   "%s: sshd holds uid %u gid %u home %s shell %s; the store has "
				   "uid %u gid %u home %s shell %s", login->local, e->uid, e->gid, e->home,
				   e->shell, (unsigned)u->uid, (unsigned)u->gid, u->home, u->shell);
	return K8S_OK;
}

int k8s_record_login(const struct k8s_config *cfg, const struct k8s_identity *id,
		    const struct k8s_login *login, pid_t caller, struct k8s_err *err)
{
	struct k8s_preauth_entry pre;
	struct k8s_store *st = NULL;
	struct k8s_store_user *u;
	int rc, served;

	rc = k8s_store_open(cfg->store, 1, &st, err);
	if (rc != K8S_OK)
		goto out;
	/* what sshd was given before authentication, when it came from the
	 * pre-authentication path (read under the store's write lock) */
	served = login->existing ? 0 : k8s_preauth_served(caller, login->local, &pre);
	if (served < 0) {
		rc = k8s_err_set(err, K8S_REFUSED, "pre-authentication record unreadable",
				 "%s: the record of what sshd was served cannot be read", login->local);
		goto out;
	}
	/* An allowExisting account lives in another NSS source; its record
	 * holds only the binding and login-learned memberships. */
	if (login->existing && (rc = k8s_store_ensure_existing(st, login->local, &u, err)) != K8S_OK)
		goto out;
	u = k8s_store_find_user(st, login->local);
	if (u == NULL && !login->existing && served == 0 && cfg->login.first_login &&
	    !declared(cfg, login->local)) {
		rc = k8s_err_set(err, K8S_REFUSED, "no pre-authentication entry",
				 "%s is in no account source and sshd was not served it in this "
				 "connection: first login works through sshd only", login->local);
		goto out;
	}
	if (served == 1 && (rc = first_login_account(st, cfg, login, &pre, err)) != K8S_OK)
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
	if (rc == K8S_OK && served == 1 && ((u = k8s_store_find_user(st, login->local)) == NULL ||
					    !k8s_preauth_matches(&pre, u->uid, u->gid, u->home, u->shell)))
		rc = k8s_err_set(err, K8S_REFUSED, "pre-authentication entry differs from the store",
				 "%s changed while recording the login", login->local);
	if (rc == K8S_OK && !k8s_store_unchanged(st))
		rc = k8s_store_commit(st, err);
out:
	k8s_store_close(st);
	return rc;
}
