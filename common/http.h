/* http.h: the one place that talks HTTPS (libcurl).  TLS is always
 * verified (unless insecure is set by an explicit config opt-in), proxies
 * from the environment are ignored, redirects are not followed, the whole
 * request (connect included) has a deadline, and response bodies are
 * capped.  Request and response buffers are wiped when freed: the
 * apiserver echoes the reviewed token back. */
#ifndef K8S_HTTP_H
#define K8S_HTTP_H

#include <stddef.h>
#include "err.h"

struct k8s_http_req {
	const char *method;          /* "GET" or "POST" */
	const char *url;             /* https only */
	const char *ca_pem;          /* NULL = system trust store */
	size_t ca_pem_len;
	int insecure;                /* skip verification (config opt-in only) */
	const char *tls_server_name; /* NULL = from URL */
	const char *client_cert_pem; size_t client_cert_len;
	const char *client_key_pem;  size_t client_key_len;
	const char *bearer;          /* NULL = none */
	const char *content_type;    /* for POST */
	const char *body; size_t body_len;
	long timeout_ms;             /* whole request */
	size_t max_body;             /* 0 = 1 MiB */
};

struct k8s_http_resp {
	long status;
	char *body;      /* NUL-terminated */
	size_t body_len;
};

/* K8S_OK when an HTTP answer (any status) was received; K8S_UNAVAILABLE
 * for connect/TLS/timeout/oversize failures, with err->detail saying which. */
int k8s_http_do(const struct k8s_http_req *req, struct k8s_http_resp *resp, struct k8s_err *err);
void k8s_http_resp_free(struct k8s_http_resp *resp); /* wipes */

#endif
