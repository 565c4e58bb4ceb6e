/* pam_k8s.c: the PAM entry points.  Each one parses its arguments and
 * hands over to the file for its phase: auth.c, account.c, session.c. */
#include "pk.h"

#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "mapping.h"

struct k8s_config *pk_load_config(pam_handle_t *pamh, const struct pk_args *a)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;

	k8s_err_clear(&err);
	if (k8s_config_load(a->config, &cfg, &err) != K8S_OK) {
		pam_syslog(pamh, LOG_ERR, "configuration unusable (%s): %s", err.reason, err.detail);
		k8s_config_free(cfg);
		return NULL;
	}
	return cfg;
}

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

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pk_args a;

	pk_args_parse(pamh, argc, argv, &a);
	return pk_authenticate(pamh, flags, &a);
}

/* Nothing to establish: group membership comes from the store through
 * NSS.  The answer mirrors what auth answers for this user (success for
 * the users pam_k8s handles, ignore for everyone else): sshd calls
 * setcred in a process whose handle never ran auth (that was a forked
 * child), and a stack of pam_k8s alone must not fail there. */
PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct k8s_config *cfg = NULL;
	const void *data = NULL;
	struct k8s_err err;
	struct pk_args a;
	const char *user;
	int rc = PAM_IGNORE;

	(void)flags;
	if (pam_get_data(pamh, PK_DATA_LOGIN, &data) == PAM_SUCCESS && data != NULL)
		return PAM_SUCCESS;
	pk_args_parse(pamh, argc, argv, &a);
	user = pk_get_user(pamh, 0);
	if (user != NULL && (cfg = pk_load_config(pamh, &a)) != NULL &&
	    pk_user_is_ours(cfg, user, &err) == 1)
		rc = PAM_SUCCESS;
	k8s_config_free(cfg);
	return rc;
}

PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pk_args a;

	pk_args_parse(pamh, argc, argv, &a);
	if (a.revalidate)
		return pk_revalidate(pamh, flags, &a);
	return pk_account(pamh, flags, &a);
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pk_args a;

	pk_args_parse(pamh, argc, argv, &a);
	return pk_open_session(pamh, flags, &a);
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct pk_args a;

	pk_args_parse(pamh, argc, argv, &a);
	return pk_close_session(pamh, flags, &a);
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
