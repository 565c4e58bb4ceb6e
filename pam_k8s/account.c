/* account.c: pam_sm_acct_mgmt.  Default mode: re-check the login policy
 * for the user this handle authenticated, or the store's policy for a
 * store user who got in another way (an ssh key).  `revalidate` mode
 * (sudo's stack): ask the cluster again, never the review cache, with the
 * token of the caller's own login session. */
#include "pk.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>

#include "sar.h"
#include "validate.h"

/* Mapping, root, allowedGroups and the binding, for an identity that was
 * validated earlier (in this handle, or when this login session began). */
static int recheck_identity(pam_handle_t *pamh, const struct k8s_config *cfg, const char *user,
			    const struct k8s_identity *id)
{
	struct k8s_login login;
	struct k8s_err err;
	int rc;

	k8s_err_clear(&err);
	rc = k8s_authorize_login(cfg, id, user, &login, &err);
	if (rc == K8S_OK)
		k8s_login_free(&login);
	else
		pk_log_refusal(pamh, "account refused", user, id, &err);
	return rc == K8S_OK ? PAM_SUCCESS : PAM_PERM_DENIED;
}

int pk_account(pam_handle_t *pamh, int flags, const struct pk_args *a)
{
	struct k8s_config *cfg = NULL;
	const void *data = NULL;
	const struct pk_login_data *d;
	struct pk_state st;
	struct k8s_err err;
	const char *user;
	int rc, ours, found = 0;

	(void)flags;
	k8s_err_clear(&err);
	user = pk_get_user(pamh, 0);
	if (user == NULL)
		return PAM_USER_UNKNOWN;
	cfg = pk_load_config(pamh, a);
	if (cfg == NULL)
		return pk_user_in_default_store(user) ? PAM_PERM_DENIED : PAM_IGNORE;
	ours = pk_user_is_ours(cfg, user, &err);
	if (ours <= 0) {
		if (ours < 0)
			pk_log_refusal(pamh, "account refused", user, NULL, &err);
		rc = ours < 0 ? PAM_PERM_DENIED : PAM_IGNORE;
		goto out;
	}
	if (pam_get_data(pamh, PK_DATA_LOGIN, &data) == PAM_SUCCESS && data != NULL &&
	    strcmp((d = data)->user, user) == 0) {
		if (d->id.exp != 0 && d->id.exp <= time(NULL)) {
			k8s_err_set(&err, K8S_REFUSED, "token expired", "the token expired since auth");
			pk_log_refusal(pamh, "account refused", user, &d->id, &err);
			rc = PAM_PERM_DENIED;
		} else {
			rc = recheck_identity(pamh, cfg, user, &d->id);
		}
		goto out;
	}
	/* sudo, su, cron inside a token login: the session's identity. */
	if (pk_find_caller_session(cfg, user, &st, &err) == K8S_OK) {
		rc = recheck_identity(pamh, cfg, user, &st.id);
		pk_state_free(&st);
		goto out;
	}
	rc = pk_store_login_policy(cfg, user, &found, &err);
	if (rc != K8S_OK) {
		pk_log_refusal(pamh, "account refused", user, NULL, &err);
		rc = PAM_PERM_DENIED;
	} else {
		pk_debug(pamh, a, "%s: store policy %s", user, found ? "passed" : "not applicable");
		rc = found ? PAM_SUCCESS : PAM_IGNORE;
	}
out:
	k8s_config_free(cfg);
	return rc;
}

/* ---- sudo re-validation ---- */

static int has_local_group(const struct k8s_login *l, const char *g, size_t glen)
{
	size_t i;

	for (i = 0; i < l->n_groups; i++)
		if (strlen(l->groups[i].name) == glen && strncmp(l->groups[i].name, g, glen) == 0)
			return 1;
	return 0;
}

/* The login's groups must all still be granted, and group=A,B (when
 * given) must name one of them. */
static int groups_still_held(const struct pk_args *a, const struct pk_state *st,
			     const struct k8s_login *l, struct k8s_err *err)
{
	const char *p, *e;
	size_t i;

	for (i = 0; i < st->n_local_groups; i++)
		if (!has_local_group(l, st->local_groups[i], strlen(st->local_groups[i])))
			return k8s_err_set(err, K8S_REFUSED, "group no longer granted",
					   "the cluster no longer grants local group %s",
					   st->local_groups[i]);
	if (a->groups == NULL)
		return K8S_OK;
	for (p = a->groups; *p != '\0'; p = *e ? e + 1 : e) {
		e = strchrnul(p, ',');
		if (e > p && has_local_group(l, p, (size_t)(e - p)))
			return K8S_OK;
	}
	return k8s_err_set(err, K8S_REFUSED, "not in a required group",
			   "the token grants none of the local groups %s", a->groups);
}

static int revalidate_session(pam_handle_t *pamh, const struct pk_args *a,
			      const struct k8s_config *cfg, const struct pk_state *st,
			      struct k8s_identity *id, struct k8s_err *err)
{
	struct k8s_login login;
	int rc;

	memset(&login, 0, sizeof(login));
	rc = k8s_validate_token(cfg, st->token, K8S_VALIDATE_NO_CACHE, id, err);
	pk_log_warning(pamh, st->user, id);
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
	rc = groups_still_held(a, st, &login, err);
	/* Sync issue hook: login.sudoSubjectAccessReview (a no-op unless
	 * configured).  Asked fresh on every sudo, so revoking the RoleBinding
	 * in the cluster ends sudo at the next attempt; any error refuses. */
	if (rc == K8S_OK)
		rc = k8s_sar_check(cfg, id, st->user, K8S_SAR_SUDO, err);
out:
	k8s_login_free(&login);
	return rc;
}

static int caller_name(char *out, size_t size)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) != 0 || res == NULL ||
	    strlen(pw.pw_name) >= size)
		return -1;
	memcpy(out, pw.pw_name, strlen(pw.pw_name) + 1);
	return 0;
}

int pk_revalidate(pam_handle_t *pamh, int flags, const struct pk_args *a)
{
	struct k8s_config *cfg = NULL;
	struct pk_state st;
	struct k8s_identity id;
	struct k8s_err err;
	char user[K8S_LOCAL_NAME_MAX + 1];
	int rc, ours;

	(void)flags;
	memset(&st, 0, sizeof(st));
	memset(&id, 0, sizeof(id));
	k8s_err_clear(&err);
	/* The real uid is the kernel's word on who runs sudo. */
	if (caller_name(user, sizeof(user)) != 0)
		return PAM_IGNORE;
	cfg = pk_load_config(pamh, a);
	if (cfg == NULL)
		return pk_user_in_default_store(user) ? PAM_PERM_DENIED : PAM_IGNORE;
	ours = pk_user_is_ours(cfg, user, &err);
	if (ours <= 0) {
		rc = ours < 0 ? PAM_PERM_DENIED : PAM_IGNORE;
		if (ours < 0)
			pk_log_refusal(pamh, "revalidation refused", user, NULL, &err);
		goto out;
	}
	rc = pk_find_caller_session(cfg, user, &st, &err);
	if (rc == K8S_OK)
		rc = revalidate_session(pamh, a, cfg, &st, &id, &err);
	if (rc != K8S_OK) {
		if (id.fingerprint[0] == '\0' && st.id.fingerprint[0] != '\0')
			memcpy(id.fingerprint, st.id.fingerprint, sizeof(id.fingerprint));
		pk_log_refusal(pamh, "revalidation refused", user, &id, &err);
		rc = err.status == K8S_UNAVAILABLE ? PAM_AUTHINFO_UNAVAIL : PAM_PERM_DENIED;
		goto out;
	}
	pk_debug(pamh, a, "%s: session token re-validated", user);
	rc = PAM_SUCCESS;
out:
	k8s_identity_free(&id);
	pk_state_free(&st);
	k8s_config_free(cfg);
	return rc;
}
