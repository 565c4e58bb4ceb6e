/* err.h: the one error record every layer fills in.
 *
 * The status doubles as the CLI exit code (SPEC.md): 0 accepted, 1 refused,
 * 2 usage/configuration error, 3 unavailable.  `reason` is short, stable and
 * safe to show (JSON "reason", PAM syslog); `detail` says what exactly went
 * wrong for the administrator.  Neither may ever contain a token, a key or a
 * reviewer credential: callers format only names, paths and status codes. */
#ifndef K8S_ERR_H
#define K8S_ERR_H

#include <stdarg.h>

enum k8s_status {
	K8S_OK = 0,
	K8S_REFUSED = 1,
	K8S_ECONFIG = 2,
	K8S_UNAVAILABLE = 3,
};

struct k8s_err {
	int status;
	char reason[128];
	char detail[512];
};

/* Fill *e (if non-NULL) and return status, so callers can `return k8s_err_set(...)`.
 * reason is a fixed short phrase; detail is printf-formatted. */
int k8s_err_set(struct k8s_err *e, int status, const char *reason,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Out of memory, the same everywhere: K8S_UNAVAILABLE (the login is
 * refused as when the cluster cannot answer, exit 3: not "refused", which
 * reads as a verdict on the token, nor a configuration error), reason
 * K8S_REASON_OOM, detail "<what>: out of memory". */
#define K8S_REASON_OOM "out of memory"
int k8s_err_oom(struct k8s_err *e, const char *what_fmt, ...) __attribute__((format(printf, 2, 3)));
void k8s_err_clear(struct k8s_err *e);
const char *k8s_status_name(int status);

#endif
