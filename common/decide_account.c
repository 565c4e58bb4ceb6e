/* decide_account.c: pam_sm_acct_mgmt's decisions.
 *   - This handle's auth accepted a token: re-check the login policy for
 *     that identity (from the auth state it left), and, for a user raising
 *     their own privileges (sudo with a token at its prompt), group= and
 *     sudoSubjectAccessReview as re-validation would.
 *   - The caller runs inside a token login session of this user (sudo,
 *     su, anything started from that session): ask the cluster again with
 *     the session's token, never the review cache, and check that every
 *     group the login granted is still granted (and sudo's
 *     SubjectAccessReview when configured).  This does not depend on a
 *     module argument, so every stack with pam_k8s's account line,
 *     Debian's common-account included, re-validates.
 *   - Otherwise, a store user who came in another way (an ssh key): the
 *     store's policy; with the `revalidate` argument (sudo's stack) a
 *     refusal instead, since only a token session can be re-validated. */
#include "decide.h"
#include "explain.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "preauth.h"
#include "sar.h"
#include "store.h"
#include "validate.h"

/* Mapping, root, allowedGroups and the binding, for an identity that was
 * validated earlier (in this handle's auth). */
static int recheck_identity(const struct k8s_config *cfg, const char *user,
			    const struct k8s_identity *id, struct k8s_err *err)
{
	struct k8s_login login;
	int rc;

	rc = k8s_authorize_login(cfg, id, user, &login, err);
	if (rc == K8S_OK)
		k8s_login_free(&login);
	return rc;
}

/* A set of local group names: a fresh login's mapped groups, or the
 * names a login state recorded. */
struct group_set {
	const struct k8s_login *login;  /* or, when NULL: */
	char *const *names;
	size_t n;
};

static int set_has(const struct group_set *set, const char *g, size_t glen)
{
	const char *name;
	size_t i, n = set->login != NULL ? set->login->n_groups : set->n;

	for (i = 0; i < n; i++) {
		name = set->login != NULL ? set->login->groups[i].name : set->names[i];
		if (strlen(name) == glen && strncmp(name, g, glen) == 0)
			return 1;
	}
	return 0;
}

/* group=A,B (when given) must name one of the groups in `have`. */
static int groups_required(const struct k8s_request *rq, const struct group_set *have,
			   struct k8s_err *err)
{
	const char *p, *e;

	if (rq->groups[0] == '\0')
		return K8S_OK;
	for (p = rq->groups; *p != '\0'; p = *e ? e + 1 : e) {
		e = strchrnul(p, ',');
		if (e > p && set_has(have, p, (size_t)(e - p)))
			return K8S_OK;
	}
	return k8s_err_set(err, K8S_REFUSED, "not in a required group",
			   "the token grants none of the local groups %s", rq->groups);
}

/* The login's groups must all still be granted, and group=A,B (when
 * given) must name one of the groups granted now. */
static int groups_still_held(const struct k8s_request *rq, const struct k8s_state *st,
			     const struct k8s_login *l, struct k8s_err *err)
{
	const struct group_set now = { .login = l };
	size_t i;

	for (i = 0; i < st->n_local_groups; i++)
		if (!set_has(&now, st->local_groups[i], strlen(st->local_groups[i])))
			return k8s_err_set(err, K8S_REFUSED, "group no longer granted",
					   "the cluster no longer grants local group %s",
					   st->local_groups[i]);
	return groups_required(rq, &now, err);
}

/* Ask the cluster again about the session's token: never the review
 * cache; the same mapping, the same binding, the same groups. */
static int revalidate_session(const struct k8s_config *cfg, const struct k8s_request *rq,
			      const struct k8s_state *st, struct k8s_identity *id,
			      struct k8s_answer *an, struct k8s_err *err)
{
	struct k8s_login login;
	int rc;

	memset(&login, 0, sizeof(login));
	rc = k8s_validate_token(cfg, st->token, K8S_VALIDATE_NO_CACHE, id, err);
	k8s_log_warning(an, st->user, id);
	if (rc != K8S_OK)
		goto out;
	rc = k8s_authorize_login(cfg, id, st->user, &login, err);
	if (rc != K8S_OK)
		goto out;
	if (strcmp(login.binding, st->binding) != 0) {
		rc = k8s_err_set(err, K8S_REFUSED, "identity binding mismatch",
				 "the session's identity %s is now %s", st->binding, login.binding);
		goto out;
	}
	rc = groups_still_held(rq, st, &login, err);
	/* login.sudoSubjectAccessReview (a no-op unless configured): asked
	 * fresh on every re-validation, so revoking the RoleBinding in the
	 * cluster ends sudo at the next attempt; any error refuses. */
	if (rc == K8S_OK)
		rc = k8s_sar_check(cfg, id, st->user, K8S_SAR_SUDO, err);
out:
	k8s_login_free(&login);
	return rc;
}

/* A user raising their own privileges (sudo; su to oneself), or a line
 * that says it is sudo's (`revalidate`): the caller's real uid is the
 * account's own.  sshd, login and su to another user are not. */
static int elevating(const struct k8s_request *rq)
{
	struct k8s_pw p;
	int rc;

	if (rq->flags & K8S_HPF_REVALIDATE)
		return 1;
	if (rq->ruid <= 0)
		return 0;
	rc = k8s_pw_by_uid((uid_t)rq->ruid, &p);
	if (rc != 1)
		return rc < 0;  /* cannot tell: ask, as for sudo */
	rc = strcmp(p.pw.pw_name, rq->user) == 0;
	k8s_pw_free(&p);
	return rc;
}

/* The auth state this handle's auth left, checked to be this caller's. */
static int this_handles_login(const struct k8s_config *cfg, const struct k8s_request *rq,
			      struct k8s_state *st, struct k8s_err *err)
{
	struct k8s_proc me;

	if (!k8s_hp_valid_handle(rq->handle) || strncmp(rq->handle, "auth.", 5) != 0)
		return k8s_err_set(err, K8S_REFUSED, "login state missing",
				   "auth succeeded in this handle but named no state");
	if (k8s_state_load(cfg, rq->handle, st, err) != K8S_OK)
		return k8s_err_set(err, K8S_REFUSED, "login state missing",
				   "the state auth left (%s) is gone", rq->handle);
	if (strcmp(st->user, rq->user) != 0 || k8s_proc_get(rq->caller, &me, NULL) != 0 ||
	    (!k8s_proc_same(&st->self, &me) && !k8s_proc_same(&st->parent, &me)))
		return k8s_err_set(err, K8S_REFUSED, "login state mismatch",
				   "the state %s belongs to another login", rq->handle);
	return K8S_OK;
}

static int preauth_check(const struct k8s_config *cfg, const struct k8s_request *rq,
			 struct k8s_err *err)
{
	struct k8s_preauth_entry e;
	struct k8s_store *st = NULL;
	struct k8s_store_user *u;
	int r, rc;

	r = k8s_preauth_served(rq->caller, rq->user, &e);
	if (r == 0)
		return K8S_OK;
	if (r < 0)
		return k8s_err_set(err, K8S_REFUSED, "pre-authentication record unreadable",
				   "%s: the record of what sshd was served cannot be read", rq->user);
	if (!(rq->flags & K8S_HPF_HAS_LOGIN))
		return k8s_err_set(err, K8S_REFUSED, "pre-authentication name without a token login",
				   "%s was resolved for sshd before authentication; only a token login "
				   "in the same connection completes it (not a key, GSSAPI or host-based)",
				   rq->user);
	rc = k8s_store_open(cfg->store, 0, &st, err);
	if (rc == K8S_OK) {
		u = k8s_store_find_user(st, rq->user);
		if (u == NULL || (u->sources & K8S_SRC_EXISTING) ||
		    !k8s_preauth_matches(&e, u->uid, u->gid, u->home, u->shell))
			rc = k8s_err_set(err, K8S_REFUSED, "pre-authentication entry differs from the store",
					 "%s: sshd holds uid %u gid %u home %s shell %s, which the store "
					 "does not have", rq->user, e.uid, e.gid, e.home, e.shell);
	}
	k8s_store_close(st);
	if (rc != K8S_OK)
		err->status = K8S_REFUSED; /* an unreadable store refuses too */
	return rc == K8S_OK ? K8S_OK : K8S_REFUSED;
}

void k8s_decide_account(const struct k8s_config *cfg, const struct k8s_request *rq,
			struct k8s_answer *an)
{
	struct k8s_state st;
	struct k8s_identity id;
	struct k8s_err err;
	int rc, ours, found = 0;

	memset(&st, 0, sizeof(st));
	memset(&id, 0, sizeof(id));
	k8s_err_clear(&err);
	/* sshd holds a pre-authentication entry for this name (whatever the
	 * configuration says now): only a token login in this handle that
	 * committed exactly that entry completes it */
	if (preauth_check(cfg, rq, &err) != K8S_OK) {
		k8s_log_refusal(an, "account refused", rq->user, NULL, &err);
		an->verdict = K8S_HV_REFUSED;
		goto out;
	}
	ours = k8s_user_is_ours(cfg, rq->user, &err);
	if (ours <= 0) {
		if (ours < 0)
			k8s_log_refusal(an, "account refused", rq->user, NULL, &err);
		an->verdict = ours < 0 ? K8S_HV_REFUSED : K8S_HV_IGNORE;
		goto out;
	}
	if (rq->flags & K8S_HPF_BAD_ARGS) {
		k8s_err_set(&err, K8S_REFUSED, "unknown module argument",
			    "the PAM stack line has an argument pam_k8s does not know (logged above); fix the line");
		k8s_log_refusal(an, "account refused", rq->user, NULL, &err);
		an->verdict = K8S_HV_REFUSED;
		goto out;
	}
	if (rq->flags & K8S_HPF_HAS_LOGIN) {
		rc = this_handles_login(cfg, rq, &st, &err);
		if (rc == K8S_OK && st.id.exp != 0 && st.id.exp <= time(NULL))
			rc = k8s_err_expired(&err, st.id.exp, time(NULL));
		if (rc == K8S_OK)
			rc = recheck_identity(cfg, rq->user, &st.id, &err);
		/* a token typed at sudo's own prompt is held to what sudo's
		 * re-validation demands: group= and sudoSubjectAccessReview */
		if (rc == K8S_OK)
			rc = groups_required(rq, &(const struct group_set){ .names = st.local_groups,
									  .n = st.n_local_groups }, &err);
		if (rc == K8S_OK && elevating(rq))
			rc = k8s_sar_check(cfg, &st.id, rq->user, K8S_SAR_SUDO, &err);
		if (rc != K8S_OK)
			k8s_log_refusal(an, "account refused", rq->user, &st.id, &err);
		an->verdict = rc == K8S_OK ? K8S_HV_OK : K8S_HV_REFUSED;
		goto out;
	}
	/* sudo, su, anything run from a token login: ask the cluster again. */
	rc = k8s_find_caller_session(cfg, rq, &st, &err);
	if (rc == K8S_OK) {
		rc = revalidate_session(cfg, rq, &st, &id, an, &err);
		if (rc != K8S_OK) {
			if (id.fingerprint[0] == '\0')
				memcpy(id.fingerprint, st.id.fingerprint, sizeof(id.fingerprint));
			k8s_log_refusal(an, "revalidation refused", rq->user, &id, &err);
			an->verdict = err.status == K8S_UNAVAILABLE ? K8S_HV_UNAVAILABLE : K8S_HV_REFUSED;
			snprintf(an->handle, sizeof(an->handle), "%s", st.file);
		} else {
			k8s_answer_debug(an, rq, "%s: session token re-validated", rq->user);
			/* the session re-validated: the module need not ask again
			 * in this transaction (sudo's stack may hold two lines) */
			snprintf(an->handle, sizeof(an->handle), "%s", st.file);
			an->verdict = K8S_HV_OK;
		}
		goto out;
	}
	if (rc != K8S_REFUSED || (rq->flags & K8S_HPF_REVALIDATE)) {
		/* `revalidate` (sudo's stack): only a token session may pass */
		k8s_log_refusal(an, "revalidation refused", rq->user, NULL, &err);
		an->verdict = K8S_HV_REFUSED;
		goto out;
	}
	k8s_err_clear(&err);
	rc = k8s_store_login_policy(cfg, rq->user, &found, &err);
	if (rc != K8S_OK) {
		k8s_log_refusal(an, "account refused", rq->user, NULL, &err);
		an->verdict = K8S_HV_REFUSED;
	} else {
		k8s_answer_debug(an, rq, "%s: store policy %s", rq->user,
				 found ? "passed" : "not applicable");
		an->verdict = found ? K8S_HV_OK : K8S_HV_IGNORE;
		/* login.firstLogin: a name pam_k8s handles with no store record
		 * gets in only by a token login (allowExisting accounts are
		 * their own sources') */
		if (!found && cfg->login.first_login &&
		    !k8s_strv_contains(&cfg->accounts.allow_existing, rq->user)) {
			k8s_err_set(&err, K8S_REFUSED, "no account record",
				    "%s has no store record: only a token login creates it "
				    "(login.firstLogin)", rq->user);
			k8s_log_refusal(an, "account refused", rq->user, NULL, &err);
			an->verdict = K8S_HV_REFUSED;
		}
	}
out:
	k8s_identity_free(&id);
	k8s_state_free(&st);
}
