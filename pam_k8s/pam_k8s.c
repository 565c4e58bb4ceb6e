/* pam_k8s.c: the PAM entry points.  Each parses its arguments, asks the
 * helper (call.c) and turns the verdict into a PAM code; auth, with its
 * conversation, is in auth.c. */
#include "pk.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "storefmt.h"

const char *pk_get_user(pam_handle_t *pamh, int prompt)
{
	const char *user = NULL;
	const void *item = NULL;

	if (prompt) {
		if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS)
			return NULL;
	} else {
		if (pam_get_item(pamh, PAM_USER, &item) != PAM_SUCCESS)
			return NULL;
		user = item;
	}
	if (user == NULL || user[0] == '\0')
		return NULL;
	return user;
}

/* One request for a phase without a conversation: the verdict, or
 * *failed when the helper could not give one. */
static int ask_once(pam_handle_t *pamh, const struct pk_args *a, int type, const char *user,
		    const struct pk_extra *x, int *failed)
{
	struct k8s_hp_answer *ans = malloc(sizeof(*ans));
	struct pk_helper h;
	int verdict = K8S_HV_UNAVAILABLE;

	*failed = 1;
	if (ans == NULL)
		return verdict;
	memset(&h, 0, sizeof(h));
	h.fd = -1;
	if (pk_ask(pamh, a, &h, type, user, x, 0, ans) == 0) {
		*failed = 0;
		verdict = ans->verdict;
	}
	pk_helper_kill(&h);
	free(ans);
	return verdict;
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
	verdict = ask_once(pamh, &a, K8S_HP_SETCRED, user, NULL, &failed);
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
	struct pk_extra x;
	struct pk_args a;
	const char *user;
	int verdict, failed;

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
	verdict = ask_once(pamh, &a, K8S_HP_ACCOUNT, user, &x, &failed);
	if (failed)
		return pk_helper_failed(pamh, user, PAM_PERM_DENIED);
	switch (verdict) {
	case K8S_HV_OK:
		return PAM_SUCCESS;
	case K8S_HV_IGNORE:
		return PAM_IGNORE;
	case K8S_HV_USER_UNKNOWN:
		return PAM_USER_UNKNOWN;
	case K8S_HV_UNAVAILABLE:
		return PAM_AUTHINFO_UNAVAIL;
	default:
		return PAM_PERM_DENIED;
	}
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pk_args a;
	const char *user;
	int verdict, failed;

	(void)flags;
	pk_args_parse(pamh, argc, argv, &a);
	user = pk_get_user(pamh, 0);
	if (user == NULL || !k8s_sf_valid_name(user, strlen(user)))
		return PAM_IGNORE;
	verdict = ask_once(pamh, &a, K8S_HP_OPEN, user, NULL, &failed);
	if (failed)
		return pk_helper_failed(pamh, user, PAM_SESSION_ERR);
	return verdict == K8S_HV_OK ? PAM_SUCCESS : PAM_IGNORE;
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pk_args a;
	const char *user;
	int verdict, failed;

	(void)flags;
	pk_args_parse(pamh, argc, argv, &a);
	user = pk_get_user(pamh, 0);
	if (user == NULL || !k8s_sf_valid_name(user, strlen(user)))
		return PAM_IGNORE;
	verdict = ask_once(pamh, &a, K8S_HP_CLOSE, user, NULL, &failed);
	if (failed)
		return PAM_IGNORE;  /* the session ends anyway; its state is swept later */
	return verdict == K8S_HV_OK ? PAM_SUCCESS : PAM_IGNORE;
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
