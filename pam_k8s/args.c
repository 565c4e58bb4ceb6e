/* args.c: the module arguments of a PAM stack line.  An argument the
 * module does not know (a typo of one it does) must never weaken a
 * check: it is logged, and every decision for a user pam_k8s handles is
 * then a refusal (the helper sees K8S_HPF_BAD_ARGS); everyone else is
 * unaffected. */
#include "pk.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>

static const char *arg_value(const char *arg, const char *key)
{
	size_t n = strlen(key);

	if (strncmp(arg, key, n) == 0 && arg[n] == '=')
		return arg + n + 1;
	return NULL;
}

/* 1..PK_HELPER_CAP_S seconds */
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
	if (n < 1 || n > PK_HELPER_CAP_S)
		return -1;
	*out = n;
	return 0;
}

void pk_args_parse(pam_handle_t *pamh, int argc, const char **argv, struct pk_args *a)
{
	const char *v;
	int i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "debug") == 0)
			a->debug = 1;
		else if (strcmp(argv[i], "use_first_pass") == 0)
			a->use_first_pass = 1;
		else if (strcmp(argv[i], "try_first_pass") == 0)
			a->try_first_pass = 1;
		else if (strcmp(argv[i], "revalidate") == 0)
			a->revalidate = 1;
		else if ((v = arg_value(argv[i], "config")) != NULL && *v != '\0')
			a->config = v;
		else if ((v = arg_value(argv[i], "prompt")) != NULL && *v != '\0')
			a->prompt = v;
		else if ((v = arg_value(argv[i], "group")) != NULL && *v != '\0')
			a->groups = v;
		else if ((v = arg_value(argv[i], "timeout")) != NULL && take_seconds(v, &a->timeout_s) == 0)
			;
		else {
			a->bad = 1;
			pam_syslog(pamh, LOG_ERR,
				   "unknown or malformed argument \"%.64s\": refusing the users pam_k8s handles",
				   argv[i]);
		}
	}
}

void pk_debug(pam_handle_t *pamh, const struct pk_args *a, const char *fmt, ...)
{
	va_list ap;

	if (!a->debug)
		return;
	va_start(ap, fmt);
	pam_vsyslog(pamh, LOG_DEBUG, fmt, ap);
	va_end(ap);
}
