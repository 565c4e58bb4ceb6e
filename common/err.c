#include "err.h"

#include <stdio.h>
#include <string.h>

int k8s_err_set(struct k8s_err *e, int status, const char *reason,
		const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return status;
	e->status = status;
	snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "");
	e->detail[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
		va_end(ap);
	}
	return status;
}

int k8s_err_oom(struct k8s_err *e, const char *what_fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, what_fmt);
	vsnprintf(what, sizeof(what), what_fmt, ap);
	va_end(ap);
	return k8s_err_set(e, K8S_UNAVAILABLE, K8S_REASON_OOM, "%s: out of memory", what);
}

void k8s_err_clear(struct k8s_err *e)
{
	if (e != NULL)
		memset(e, 0, sizeof(*e));
}

const char *k8s_status_name(int status)
{
	switch (status) {
	case K8S_OK: return "ok";
	case K8S_REFUSED: return "refused";
	case K8S_ECONFIG: return "configuration error";
	case K8S_UNAVAILABLE: return "unavailable";
	default: return "unknown";
	}
}
