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

#include "pamargs.h"

_Static_assert(PK_HELPER_CAP_S == K8S_PAM_TIMEOUT_MAX_S, "timeout= is capped at the module's cap");

/* The list is common/pamargs.c's, which `k8s-auth status` checks stack
 * lines with. */
void pk_args_parse(pam_handle_t *pamh, int argc, const char **argv, struct pk_args *a)
{
	const char *v;
	int i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < argc; i++) {
		switch (k8s_pam_arg(argv[i], &v, &a->timeout_s)) {
		case K8S_PAM_ARG_DEBUG:
			a->debug = 1;
			break;
		case K8S_PAM_ARG_USE_FIRST_PASS:
			a->use_first_pass = 1;
			break;
		case K8S_PAM_ARG_TRY_FIRST_PASS:
			a->try_first_pass = 1;
			break;
		case K8S_PAM_ARG_REVALIDATE:
			a->revalidate = 1;
			break;
		case K8S_PAM_ARG_CONFIG:
			a->config = v;
			break;
		case K8S_PAM_ARG_PROMPT:
			a->prompt = v;
			break;
		case K8S_PAM_ARG_GROUP:
			a->groups = v;
			break;
		case K8S_PAM_ARG_TIMEOUT:
			break;
		default:
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
