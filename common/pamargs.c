/* pamargs.c: pam_k8s's module arguments (pamargs.h).  An argument the
 * module does not know (a typo of one it does) must never weaken a check:
 * the module logs it and refuses the users it handles. */
#include "pamargs.h"

#include <stddef.h>
#include <string.h>

static const char *arg_value(const char *arg, const char *key)
{
	size_t n = strlen(key);

	if (strncmp(arg, key, n) == 0 && arg[n] == '=')
		return arg + n + 1;
	return NULL;
}

/* 1..K8S_PAM_TIMEOUT_MAX_S seconds */
static int take_seconds(const char *v, int *out)
{
	int n = 0;

	if (*v == '\0' || strlen(v) > 2)
		return -1;
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9')
			return -1;
		n = n * 10 + (*v - '0');
	}
	if (n < 1 || n > K8S_PAM_TIMEOUT_MAX_S)
		return -1;
	*out = n;
	return 0;
}

enum k8s_pam_arg k8s_pam_arg(const char *arg, const char **value, int *seconds)
{
	const char *v;
	int n;

	if (value != NULL)
		*value = NULL;
	if (strcmp(arg, "debug") == 0)
		return K8S_PAM_ARG_DEBUG;
	if (strcmp(arg, "use_first_pass") == 0)
		return K8S_PAM_ARG_USE_FIRST_PASS;
	if (strcmp(arg, "try_first_pass") == 0)
		return K8S_PAM_ARG_TRY_FIRST_PASS;
	if (strcmp(arg, "revalidate") == 0)
		return K8S_PAM_ARG_REVALIDATE;
	if ((v = arg_value(arg, "config")) != NULL && *v != '\0') {
		if (value != NULL)
			*value = v;
		return K8S_PAM_ARG_CONFIG;
	}
	if ((v = arg_value(arg, "prompt")) != NULL && *v != '\0') {
		if (value != NULL)
			*value = v;
		return K8S_PAM_ARG_PROMPT;
	}
	if ((v = arg_value(arg, "group")) != NULL && *v != '\0') {
		if (value != NULL)
			*value = v;
		return K8S_PAM_ARG_GROUP;
	}
	if ((v = arg_value(arg, "timeout")) != NULL && take_seconds(v, &n) == 0) {
		if (seconds != NULL)
			*seconds = n;
		return K8S_PAM_ARG_TIMEOUT;
	}
	return K8S_PAM_ARG_BAD;
}
