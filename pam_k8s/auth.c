/* auth.c: pam_sm_authenticate.  One helper for the whole call: "is this a
 * user pam_k8s handles, and which audience does the prompt name?" (the
 * probe, with a deadline), then the conversation (the person's typing
 * has no deadline of ours: sshd's LoginGraceTime and the like bound it),
 * then "decide" with the token (with a deadline again).  Everyone the
 * helper does not claim gets PAM_IGNORE before any prompt. */
#include "pk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>

#include "storefmt.h"

static void login_data_cleanup(pam_handle_t *pamh, void *data, int status);

/* The helper's verdict on a token as a PAM code. */
static int auth_rc(int verdict)
{
	switch (verdict) {
	case K8S_HV_OK:
		return PAM_SUCCESS;
	case K8S_HV_REFUSED:
		return PAM_AUTH_ERR;
	case K8S_HV_NO_TOKEN:
	case K8S_HV_IGNORE:
		return PAM_IGNORE;
	case K8S_HV_USER_UNKNOWN:
		return PAM_USER_UNKNOWN;
	default:
		return PAM_AUTHINFO_UNAVAIL;
	}
}

static void keep_login(pam_handle_t *pamh, const char *user, const struct k8s_hp_answer *ans)
{
	struct pk_login_data *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return;
	snprintf(d->user, sizeof(d->user), "%s", user);
	snprintf(d->handle, sizeof(d->handle), "%s", ans->handle);
	if (ans->run_dir[0] == '/')
		snprintf(d->path, sizeof(d->path), "%s/%s", ans->run_dir, ans->handle);
	if (pam_set_data(pamh, PK_DATA_LOGIN, d, login_data_cleanup) != PAM_SUCCESS)
		free(d);
}

/* One attempt: a token (from PAM_AUTHTOK or the conversation), decided by
 * the helper.  A PAM code; *had_token says whether one was offered. */
static int attempt(pam_handle_t *pamh, const struct pk_args *a, struct pk_helper *h,
		   const char *user, const char *audience, int from_authtok, int *had_token,
		   int *refused)
{
	struct k8s_hp_answer *ans = NULL;
	struct pk_extra x;
	struct k8s_err err;
	char *token = NULL;
	size_t len = 0;
	int rc;

	*had_token = 0;
	*refused = 0;
	k8s_err_clear(&err);
	rc = pk_read_token(pamh, a, audience, from_authtok, &token, &len, &err);
	if (rc != PAM_SUCCESS) {
		if (rc == PAM_IGNORE)
			pk_debug(pamh, a, "%s: %s (%s)", user, err.reason, err.detail);
		else
			pam_syslog(pamh, rc == PAM_AUTH_ERR ? LOG_NOTICE : LOG_ERR,
				   "auth refused user=\"%s\" reason=\"%s\" detail=\"%s\"", user,
				   err.reason, err.detail);
		*refused = rc == PAM_AUTH_ERR;
		goto out;
	}
	*had_token = 1;
	ans = malloc(sizeof(*ans));
	if (ans == NULL) {
		rc = PAM_BUF_ERR;
		goto out;
	}
	memset(&x, 0, sizeof(x));
	x.token = token;
	x.token_len = len;
	x.from_authtok = from_authtok;
	x.ruid = -1;
	if (pk_ask(pamh, a, h, K8S_HP_AUTH, user, &x, 1, ans) != 0) {
		rc = pk_helper_failed(pamh, user, PAM_AUTHINFO_UNAVAIL);
		goto out;
	}
	rc = auth_rc(ans->verdict);
	*refused = ans->verdict == K8S_HV_REFUSED || ans->verdict == K8S_HV_NO_TOKEN;
	if (ans->verdict == K8S_HV_NO_TOKEN)
		*had_token = 0;
	if (rc == PAM_SUCCESS) {
		if (ans->handle[0] == '\0') {
			pam_syslog(pamh, LOG_ERR, "k8s-auth-helper failed: it accepted without a login state");
			rc = PAM_AUTHINFO_UNAVAIL;
		} else {
			keep_login(pamh, user, ans);
		}
	}
out:
	if (token != NULL)
		k8s_freezero(token, len);
	free(ans);
	return rc;
}

/* PAM_AUTHTOK first with use_first_pass/try_first_pass; try_first_pass
 * then prompts when PAM_AUTHTOK held no token or a refused one, but not
 * when the cluster could not be asked at all. */
static int run_auth(pam_handle_t *pamh, int flags, const struct pk_args *a, struct pk_helper *h,
		    const char *user, const char *audience)
{
	int rc, had_token = 0, refused = 0;

	if (a->use_first_pass || a->try_first_pass) {
		rc = attempt(pamh, a, h, user, audience, 1, &had_token, &refused);
		if (rc == PAM_SUCCESS || a->use_first_pass || (rc != PAM_IGNORE && !refused))
			goto out;
	}
	rc = attempt(pamh, a, h, user, audience, 0, &had_token, &refused);
out:
	if (rc == PAM_AUTH_ERR || (rc == PAM_AUTHINFO_UNAVAIL && had_token))
		pk_tell(pamh, flags, rc == PAM_AUTH_ERR
				     ? "Kubernetes token refused."
				     : "Kubernetes token could not be verified now.");
	return rc;
}

int pk_authenticate(pam_handle_t *pamh, int flags, const struct pk_args *a)
{
	struct k8s_hp_answer *ans = NULL;
	struct pk_helper h;
	char audience[K8S_HP_AUD_MAX + 1];
	const char *user;
	int rc;

	memset(&h, 0, sizeof(h));
	h.fd = -1;
	user = pk_get_user(pamh, 1);
	if (user == NULL)
		return PAM_USER_UNKNOWN;
	if (!k8s_sf_valid_name(user, strlen(user)))
		return PAM_IGNORE;  /* not a name the store could hold: never ours */
	ans = malloc(sizeof(*ans));
	if (ans == NULL)
		return PAM_BUF_ERR;
	if (pk_ask(pamh, a, &h, K8S_HP_PROBE, user, NULL, 1, ans) != 0) {
		rc = pk_helper_failed(pamh, user, PAM_AUTHINFO_UNAVAIL);
		goto out;
	}
	if (ans->verdict != K8S_HV_OK) {
		rc = auth_rc(ans->verdict);
		/* a store user the helper cannot decide for (its configuration
		 * is broken) hears what any unavailability says; the details
		 * are in the log only, and nobody else hears anything */
		if (rc == PAM_AUTHINFO_UNAVAIL && ans->tell == K8S_HT_UNAVAILABLE)
			pk_tell(pamh, flags, "Kubernetes token could not be verified now.");
		goto out;
	}
	memcpy(audience, ans->audience, sizeof(audience));
	rc = run_auth(pamh, flags, a, &h, user, audience);
	/* the decision counts only if the helper then exits cleanly */
	if (h.pid > 0 && pk_helper_finish(&h) != 0) {
		pam_syslog(pamh, LOG_ERR, "k8s-auth-helper failed: %s", h.why);
		if (rc == PAM_SUCCESS || rc == PAM_IGNORE)
			rc = pk_helper_failed(pamh, user, PAM_AUTHINFO_UNAVAIL);
	}
out:
	pk_helper_kill(&h);
	free(ans);
	return rc;
}

/* pam_end: the state auth left, if no session took it over (open_session
 * renames it), holds a token nothing needs any more: remove it now, so an
 * auth-only transaction (pamtester, su or sudo without pam_k8s's session
 * line) leaves no token behind.  The helper named the file; unlink() does
 * not follow a symbolic link in its last component, and the directory is
 * root's (the helper checked it).  Also when a second auth in the handle
 * replaces it; not in a forked child's copy of the handle
 * (PAM_DATA_SILENT). */
static void login_data_cleanup(pam_handle_t *pamh, void *data, int status)
{
	struct pk_login_data *d = data;

	(void)pamh;
	if (d == NULL)
		return;
	if (!(status & PAM_DATA_SILENT) && d->path[0] == '/' &&
	    strncmp(d->handle, "auth.", 5) == 0)
		(void)unlink(d->path);
	explicit_bzero(d, sizeof(*d));
	free(d);
}
