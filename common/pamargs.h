/* pamargs.h: pam_k8s's module arguments, one list for the module (which
 * refuses the users it handles when a stack line has an argument it does
 * not know) and `k8s-auth status` (which flags such a line), so the two
 * never disagree.  libc only: pam_k8s.so links it. */
#ifndef K8S_PAMARGS_H
#define K8S_PAMARGS_H

enum k8s_pam_arg {
	K8S_PAM_ARG_BAD = 0,     /* unknown, or a known one with an empty or malformed value */
	K8S_PAM_ARG_DEBUG,
	K8S_PAM_ARG_USE_FIRST_PASS,
	K8S_PAM_ARG_TRY_FIRST_PASS,
	K8S_PAM_ARG_REVALIDATE,
	K8S_PAM_ARG_CONFIG,      /* config=PATH */
	K8S_PAM_ARG_PROMPT,      /* prompt=TEXT */
	K8S_PAM_ARG_GROUP,       /* group=A,B */
	K8S_PAM_ARG_TIMEOUT,     /* timeout=N, 1..K8S_PAM_TIMEOUT_MAX_S */
};

/* The module's hard cap on one exchange with its helper, in seconds. */
#define K8S_PAM_TIMEOUT_MAX_S 30

/* What the arguments are, for messages. */
#define K8S_PAM_ARGS_KNOWN \
	"config=PATH prompt=TEXT group=A,B timeout=1..30 debug use_first_pass try_first_pass revalidate"

/* Classify one argument as written on a stack line.  *value (may be NULL)
 * gets the text after '=' for config, prompt and group; *seconds (may be
 * NULL) the number of timeout. */
enum k8s_pam_arg k8s_pam_arg(const char *arg, const char **value, int *seconds);

#endif
