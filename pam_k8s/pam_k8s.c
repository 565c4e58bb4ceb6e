/* pam_k8s.c: the PAM entry points.  Each parses its arguments, asks the
 * helper (call.c) and turns the verdict into a PAM code; auth, with its
 * conversation, is in auth.c. */
#include "pk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "storefmt.h"

/* One request for a phase without a conversation: the verdict, or
 * *failed when the helper could not give one. */
static int ask_once(pam_handle_t *pamh, const struct pk_args *a, int type, const char *user,
		    const struct pk_extra *x, int *failed, char *handle)
{
	struct k8s_hp_answer *ans = malloc(sizeof(*ans));
	struct pk_helper h;
	int verdict = K8S_HV_UNAVAILABLE;

	*failed = 1;
	if (ans == NULL)
		return verdict;
	memset(&h, 0, sizeof(h));
	h.fd = -1;
	if (handle != NULL)
		handle[0] = '\0';
	if (pk_ask(pamh, a, &h, type, user, x, 0, ans) == 0) {
		*failed = 0;
		verdict = ans->verdict;
		if (handle != NULL)
			memcpy(handle, ans->handle, sizeof(ans->handle));
	}
	pk_helper_kill(&h);
	free(ans);
	return verdict;
}

/* A re-validation of the caller's token session succeeded earlier in this
 * transaction (sudo's stack may hold pam_k8s's account line twice: the
 * `revalidate` line and common-account's).  It counts for a later line
 * that asks no more: the same user, and no group= or the same one. */
#define PK_DATA_REVALIDATED "pam_k8s.revalidated"

struct pk_revalidated {
	char user[64];
	char groups[512];
	int rc;              /* the PAM code that re-validation gave */
};

static void revalidated_cleanup(pam_handle_t *pamh, void *data, int status)
{
	(void)pamh;
	(void)status;
	free(data);
}

/* 1 with *rc when an earlier answer stands: a refusal always, a success
 * when this line asks no more than the earlier one did. */
static int already_revalidated(pam_handle_t *pamh, const struct pk_args *a, const char *user,
			       int *rc)
{
	const void *data = NULL;
	const struct pk_revalidated *r;

	if (a->bad || pam_get_data(pamh, PK_DATA_REVALIDATED, &data) != PAM_SUCCESS || data == NULL)
		return 0;
	r = data;
	if (strcmp(r->user, user) != 0 ||
	    (r->rc == PAM_SUCCESS && a->groups != NULL && strcmp(a->groups, r->groups) != 0))
		return 0;
	pk_debug(pamh, a, "%s: re-validated earlier in this transaction", user);
	*rc = r->rc;
	return 1;
}

static void remember_revalidation(pam_handle_t *pamh, const struct pk_args *a, const char *user,
				  int rc)
{
	struct pk_revalidated *r = calloc(1, sizeof(*r));

	if (r == NULL || strlen(user) >= sizeof(r->user) ||
	    (a->groups != NULL && strlen(a->groups) >= sizeof(r->groups))) {
		free(r);
		return;
	}
	snprintf(r->user, sizeof(r->user), "%s", user);
	snprintf(r->groups, sizeof(r->groups), "%s", a->groups != NULL ? a->groups : "");
	r->rc = rc;
	if (pam_set_data(pamh, PK_DATA_REVALIDATED, r, revalidated_cleanup) != PAM_SUCCESS)
		free(r);
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pk_args a;

	pk_args_parse(pamh, argc, argv, &a);
	return pk_authenticate(pamh, flags, &a);
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const void *data = NULL;
	const char *user;
	struct pk_args a;
	int verdict, failed;

	(void)flags;
	if (pam_get_data(pamh, PK_DATA_LOGIN, &data) == PAM_SUCCESS && data != NULL)
		return PAM_SUCCESS;
	pk_args_parse(pamh, argc, argv, &a);
	user = pk_get_user(pamh, 0);
	if (user == NULL || !k8s_sf_valid_name(user, strlen(user)))
		return PAM_IGNORE;
	verdict = ask_once(pamh, &a, K8S_HP_SETCRED, user, NULL, &failed, NULL);
	if (failed)
		return pk_helper_failed(pamh, user, PAM_CRED_ERR);
	return verdict == K8S_HV_OK ? PAM_SUCCESS : PAM_IGNORE;
}

/* Account management: every user pam_k8s handles is checked, and a
 * caller inside a token session is re-validated with the cluster (sudo,
 * su: decide_account.c).  When the helper fails, the store's users are
 * refused: sudo re-validation never passes because the helper failed. */
PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const struct pk_login_data *d = NULL;
	const void *data = NULL;
	char revalidated[K8S_HP_HANDLE_MAX + 1];
	struct pk_extra x;
	struct pk_args a;
	const char *user;
	int verdict, failed, rc;

	(void)flags;
	pk_args_parse(pamh, argc, argv, &a);
	user = pk_get_user(pamh, 0);
	if (user == NULL)
		return PAM_USER_UNKNOWN;
	if (!k8s_sf_valid_name(user, strlen(user)))
		return PAM_IGNORE;
	memset(&x, 0, sizeof(x));
	x.ruid = (long long)getuid();
	if (pam_get_data(pamh, PK_DATA_LOGIN, &data) == PAM_SUCCESS && data != NULL &&
	    strcmp((d = data)->user, user) == 0) {
		x.has_login = 1;
		x.handle = d->handle;
	}
	if (already_revalidated(pamh, &a, user, &rc))
		return rc;
	verdict = ask_once(pamh, &a, K8S_HP_ACCOUNT, user, &x, &failed, revalidated);
	if (failed && a.revalidate && !pk_surely_not_store_user(user)) {
		/* sudo's line: the module cannot tell without the helper whether
		 * the user is one it handles (allowExisting, declared and not
		 * synced, a store elsewhere), and an ignore here would let sudo
		 * pass: only root and system accounts get past a failed helper */
		pam_syslog(pamh, LOG_ERR, "%s: refused: re-validation cannot be decided without the helper",
			   user);
		return PAM_PERM_DENIED;
	}
	if (failed)
		return pk_helper_failed(pamh, user, PAM_PERM_DENIED);
	switch (verdict) {
	case K8S_HV_OK:
		rc = PAM_SUCCESS;
		break;
	case K8S_HV_IGNORE:
		rc = PAM_IGNORE;
		break;
	case K8S_HV_USER_UNKNOWN:
		rc = PAM_USER_UNKNOWN;
		break;
	case K8S_HV_UNAVAILABLE:
		rc = PAM_AUTHINFO_UNAVAIL;
		break;
	default:
		rc = PAM_PERM_DENIED;
		break;
	}
	/* the helper names the session it re-validated (or refused) */
	if (strncmp(revalidated, "sess.", 5) == 0)
		remember_revalidation(pamh, &a, user, rc);
	return rc;
}

/* open_session and close_session: one request each.  When the helper
 * fails, open refuses the store's users; close lets the session end (its
 * state is swept later). */
static int session_call(pam_handle_t *pamh, int argc, const char **argv, int type, int fail_rc)
{
	struct pk_args a;
	const char *user;
	int verdict, failed;

	pk_args_parse(pamh, argc, argv, &a);
	user = pk_get_user(pamh, 0);
	if (user == NULL || !k8s_sf_valid_name(user, strlen(user)))
		return PAM_IGNORE;
	verdict = ask_once(pamh, &a, type, user, NULL, &failed, NULL);
	if (failed)
		return fail_rc == PAM_IGNORE ? PAM_IGNORE : pk_helper_failed(pamh, user, fail_rc);
	return verdict == K8S_HV_OK ? PAM_SUCCESS : PAM_IGNORE;
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)flags;
	return session_call(pamh, argc, argv, K8S_HP_OPEN, PAM_SESSION_ERR);
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)flags;
	return session_call(pamh, argc, argv, K8S_HP_CLOSE, PAM_IGNORE);
}

/* Tokens are changed in the cluster, not here. */
PAM_EXTERN int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_IGNORE;
}
