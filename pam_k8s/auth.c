/* auth.c: pam_sm_authenticate.  For a user pam_k8s handles: take the
 * token, validate it (engine), authorize it for exactly PAM_USER (authz),
 * record the login in the store, leave state for the later phases, wipe
 * the token.  Everyone else gets PAM_IGNORE before any prompt. */
#include "pk.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>

#include "validate.h"

static void login_data_cleanup(pam_handle_t *pamh, void *data, int status)
{
	struct pk_login_data *d = data;

	(void)pamh;
	(void)status;
	if (d == NULL)
		return;
	k8s_identity_free(&d->id);
	free(d);
}

static int pam_status(int k8s_status)
{
	switch (k8s_status) {
	case K8S_OK:
		return PAM_SUCCESS;
	case K8S_REFUSED:
		return PAM_AUTH_ERR;
	default: /* unavailable, and configuration found broken at use */
		return PAM_AUTHINFO_UNAVAIL;
	}
}

/* Validate and authorize; the fingerprint is filled even on refusal so
 * the log can name the token without showing it. */
static int check_token(pam_handle_t *pamh, const struct k8s_config *cfg, const char *user,
		       const char *token, struct k8s_identity *id, struct k8s_login *login,
		       struct k8s_err *err)
{
	int rc;

	rc = k8s_validate_token(cfg, token, 0, id, err);
	if (id->fingerprint[0] == '\0')
		k8s_token_fingerprint(token, strlen(token), id->fingerprint);
	pk_log_warning(pamh, user, id);
	if (rc == K8S_OK)
		rc = k8s_authorize_login(cfg, id, user, login, err);
	return rc;
}

/* The auth.* file: what open_session audits and sudo re-validates.
 * Borrows from id/login; only the copies it makes are freed here. */
static int save_state(pam_handle_t *pamh, const struct k8s_config *cfg, const char *user,
		      const char *token, struct k8s_identity *id, const struct k8s_login *login,
		      struct k8s_err *err)
{
	struct pk_state st;
	const void *svc = NULL, *rhost = NULL;
	char **groups = NULL;
	size_t i;
	int rc;

	memset(&st, 0, sizeof(st));
	groups = calloc(login->n_groups + 1, sizeof(char *));
	if (groups == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "saving login state");
	for (i = 0; i < login->n_groups; i++)
		groups[i] = (char *)login->groups[i].name;
	(void)pam_get_item(pamh, PAM_SERVICE, &svc);
	(void)pam_get_item(pamh, PAM_RHOST, &rhost);
	snprintf(st.user, sizeof(st.user), "%s", user);
	st.service = (char *)svc;
	st.rhost = (char *)rhost;
	st.created = time(NULL);
	st.sessionid = -1;
	(void)pk_proc_self(&st.self);
	(void)pk_proc_parent(&st.parent);
	st.binding = login->binding;
	st.local_groups = groups;
	/* an allowExisting account too: the store records its mapped groups,
	 * so sudo's revalidation must find them still granted */
	st.n_local_groups = login->n_groups;
	st.id = *id;
	st.token = (char *)token;
	rc = pk_state_save(cfg, "auth", &st, err);
	free(groups);
	return rc;
}

/* Everything after a token is in hand.  K8S status. */
static int accept_token(pam_handle_t *pamh, const struct pk_args *a, const struct k8s_config *cfg,
			const char *user, const char *token, struct k8s_identity *id,
			struct k8s_err *err)
{
	struct k8s_login login;
	struct pk_login_data *d = NULL;
	int rc;

	memset(&login, 0, sizeof(login));
	rc = check_token(pamh, cfg, user, token, id, &login, err);
	if (rc != K8S_OK)
		goto out;
	rc = pk_record_login(cfg, id, &login, err);
	if (rc != K8S_OK)
		goto out;
	rc = save_state(pamh, cfg, user, token, id, &login, err);
	if (rc != K8S_OK)
		goto out;
	pk_debug(pamh, a, "token of %s accepted for %s", id->username, user);
	d = calloc(1, sizeof(*d));
	if (d != NULL) {
		snprintf(d->user, sizeof(d->user), "%s", user);
		d->id = *id;
		if (pam_set_data(pamh, PK_DATA_LOGIN, d, login_data_cleanup) == PAM_SUCCESS)
			memset(id, 0, sizeof(*id));
		else
			free(d);
	}
out:
	k8s_login_free(&login);
	return rc;
}

/* One attempt: read a token, check it, log a refusal.  *had_token says
 * whether a token was read at all (declining to offer one is no refusal). */
static int attempt(pam_handle_t *pamh, const struct pk_args *a, const struct k8s_config *cfg,
		   const char *user, int from_authtok, int *had_token, struct k8s_err *err)
{
	struct k8s_identity id;
	char *token = NULL;
	int rc;

	memset(&id, 0, sizeof(id));
	k8s_err_clear(err);
	*had_token = 0;
	rc = pk_read_token(pamh, a, cfg, from_authtok, &token, err);
	if (rc == PAM_SUCCESS) {
		*had_token = 1;
		rc = pam_status(accept_token(pamh, a, cfg, user, token, &id, err));
	}
	k8s_freezero_str(token);
	if (rc == PAM_IGNORE)
		pk_debug(pamh, a, "%s: %s (%s)", user, err->reason, err->detail);
	else if (rc != PAM_SUCCESS)
		pk_log_refusal(pamh, "auth refused", user, &id, err);
	k8s_identity_free(&id);
	return rc;
}

/* PAM_AUTHTOK first with use_first_pass/try_first_pass; try_first_pass
 * then prompts when PAM_AUTHTOK held no token or a refused one, but not
 * when the cluster could not be asked at all. */
static int run_auth(pam_handle_t *pamh, int flags, const struct pk_args *a,
		    const struct k8s_config *cfg, const char *user)
{
	struct k8s_err err;
	int rc, had_token = 0;

	if (a->use_first_pass || a->try_first_pass) {
		rc = attempt(pamh, a, cfg, user, 1, &had_token, &err);
		if (rc == PAM_SUCCESS || a->use_first_pass ||
		    (rc != PAM_IGNORE && err.status != K8S_REFUSED))
			goto out;
	}
	rc = attempt(pamh, a, cfg, user, 0, &had_token, &err);
out:
	if (rc == PAM_AUTH_ERR || (rc == PAM_AUTHINFO_UNAVAIL && had_token))
		pk_tell(pamh, flags, rc == PAM_AUTH_ERR
				     ? "Kubernetes token refused."
				     : "Kubernetes token could not be verified now.");
	return rc;
}

int pk_authenticate(pam_handle_t *pamh, int flags, const struct pk_args *a)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;
	const char *user;
	int rc, ours;

	k8s_err_clear(&err);
	user = pk_get_user(pamh, 1);
	if (user == NULL) {
		rc = PAM_USER_UNKNOWN;
		goto out;
	}
	cfg = pk_load_config(pamh, a);
	if (cfg == NULL) {
		/* Fail closed for the store's users, stay out of everyone
		 * else's way (root and local accounts must still log in). */
		rc = pk_user_in_default_store(user) ? PAM_AUTHINFO_UNAVAIL : PAM_IGNORE;
		goto out;
	}
	ours = pk_user_is_ours(cfg, user, &err);
	if (ours <= 0) {
		if (ours < 0)
			pk_log_refusal(pamh, "auth refused", user, NULL, &err);
		else
			pk_debug(pamh, a, "%s is not a user pam_k8s handles", user);
		rc = ours < 0 ? PAM_AUTHINFO_UNAVAIL : PAM_IGNORE;
		goto out;
	}
	if (geteuid() != 0)
		pam_syslog(pamh, LOG_WARNING, "running without root: the store cannot be updated");
	rc = run_auth(pamh, flags, a, cfg, user);
out:
	k8s_config_free(cfg);
	return rc;
}
