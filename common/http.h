/* http.h: the one place that talks HTTPS: HTTP/1.1 (httpparse.c reads the
 * answers) over OpenSSL's libssl, loaded on first use.  TLS is always
 * verified (unless insecure is set by an explicit config opt-in), nothing
 * is read from the environment (no proxies), redirects are not followed,
 * the whole request (resolve excepted, connect and handshake included)
 * has a deadline, and response bodies are capped.  Request and response
 * buffers are wiped when freed: the apiserver echoes the reviewed token
 * back. */
#ifndef K8S_HTTP_H
#define K8S_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

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
	const char *accept;          /* Accept header; NULL = none */
	const char *body; size_t body_len;
	long timeout_ms;             /* whole request */
	long head_timeout_ms;        /* until the answer's head is read (connect, TLS,
				      * request, head); 0 = timeout_ms.  For a stream,
				      * whose timeout_ms is hours long. */
	size_t max_body;             /* 0 = 1 MiB */
	/* Streaming (a watch): with on_line set, a 200 answer's body is not
	 * kept but cut into lines ('\n' dropped, at most max_line bytes
	 * each, else the transfer fails "line too long") and each handed to
	 * on_line as it arrives; on_line returns 0, or nonzero to stop the
	 * transfer (K8S_UNAVAILABLE "stream stopped").  Other statuses keep
	 * their body as usual (a Status).  *stop, when set and nonzero, ends
	 * the transfer within about a second (K8S_UNAVAILABLE "stopped"). */
	int (*on_line)(const char *line, size_t len, void *ud);
	void *line_ud;
	size_t max_line;
	const atomic_int *stop;
	/* Streams: called about once a second with line_ud, from the thread
	 * that reads; 0 ends the transfer (K8S_UNAVAILABLE "stream
	 * stalled"). */
	int (*alive)(void *ud);
};

/* Cuts a byte stream into '\n'-terminated lines of at most max bytes
 * (the '\n' not counted, a trailing '\r' kept).  feed: 0, -1 a line
 * longer than max, -2 out of memory, or what fn returned (nonzero stops).
 * Bytes after the last '\n' wait for the next feed; a stream that ends
 * there ends in the middle of a line (the caller's call). */
struct k8s_linesplit {
	char *buf;
	size_t len, cap, max;
};
int k8s_linesplit_feed(struct k8s_linesplit *ls, const char *p, size_t n,
		       int (*fn)(const char *line, size_t len, void *ud), void *ud);
void k8s_linesplit_free(struct k8s_linesplit *ls);

struct k8s_http_resp {
	long status;
	char *body;      /* NUL-terminated */
	size_t body_len;
	time_t date;     /* the answer's Date header (RFC 9110), 0 when absent or unreadable */
	long retry_after; /* Retry-After in seconds (delay-seconds form; a date is
			   * turned into seconds from now), -1 when absent */
};

/* K8S_OK when an HTTP answer (any status, redirects included: they are
 * never followed) was received; resp->body is then always allocated and
 * NUL-terminated.  K8S_UNAVAILABLE for connect/TLS/timeout/oversize
 * failures and for answers that are malformed ("malformed answer") or cut
 * short ("answer cut short": a body delimited by the connection's end
 * needs TLS close_notify), with err->reason/detail saying which (never a secret).
 * K8S_ECONFIG for a request that cannot be sent as given (not https, bad
 * method, line break in a header value, unusable tls_server_name).
 * Thread-safe: one TLS context and connection per call, no shared state.
 * tls_server_name is the name sent (SNI) and verified; the connection goes
 * to the URL's host:port and the Host header keeps the URL's authority,
 * as kubectl does. */
int k8s_http_do(const struct k8s_http_req *req, struct k8s_http_resp *resp, struct k8s_err *err);
/* err->reason of k8s_http_do when the server's certificate did not verify
 * (unknown CA, wrong name, expired or not yet valid: a clock far off) */
#define K8S_REASON_TLS_VERIFY "TLS verification failed"
void k8s_http_resp_free(struct k8s_http_resp *resp); /* wipes */

/* The one-time costs of a process's first request, done ahead: libssl
 * loaded and initialised, one TLS context built and freed (OpenSSL 3.0
 * builds its provider tables on the first).  No network, no file but the
 * libraries.  k8s-auth-helper calls it while the person types their
 * token (cli/helper_main.c). */
void k8s_http_warm(void);

#endif
