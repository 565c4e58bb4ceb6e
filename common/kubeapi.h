/* kubeapi.h: JSON requests to the apiserver as the reviewer (the kubeconfig
 * of tokenReview.kubeconfig), for SubjectAccessReview and for the lists
 * `k8s-auth sync` reads.  TokenReview keeps its own code (tokenreview.c):
 * it must scrub a token from the answer, these answers hold no secret.
 *
 * Every failure to get a usable answer is K8S_UNAVAILABLE (exit 3): no
 * connection, TLS, timeout, 401/403 for the reviewer, 5xx, any other
 * status, an answer that is not the JSON asked for.  err->detail names the
 * URL path and the status, never a credential; apiserver messages are
 * quoted only after control characters are dropped, and capped. */
#ifndef K8S_KUBEAPI_H
#define K8S_KUBEAPI_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "err.h"
#include "kubeconfig.h"

#define K8S_KUBEAPI_PAGE     500           /* items per list page (limit=) */
#define K8S_KUBEAPI_MAX_BODY (16u << 20)   /* one answer, bytes */

struct k8s_kubeapi {
	const struct k8s_config *cfg;
	struct k8s_kubeconfig *kc;
	long timeout_ms;         /* per request, connect included */
	unsigned long requests;  /* requests sent so far */
	/* The last request's answer: its HTTP status (0 = no answer: connect,
	 * TLS, timeout) and Date header (0 = none), whatever k8s_kubeapi_call
	 * returned (k8s-auth status tells 401 from 403 from unreachable, and
	 * compares the host's clock with the apiserver's). */
	long last_status;
	time_t last_date;
	/* Lists: list_rv0 asks for resourceVersion=0 (the apiserver's watch
	 * cache: no etcd read, possibly a little stale; one answer, no pages),
	 * and falls back to a paged consistent list when that answer is over
	 * K8S_KUBEAPI_MAX_BODY.  last_list_rv: the list's
	 * metadata.resourceVersion (where a watch starts). */
	int list_rv0;
	char last_list_rv[64];
	/* 429 (and 503 with Retry-After), when retry_max_s > 0 (sync sets
	 * 60; 0 after open: a login's review never waits): wait Retry-After
	 * (1 s when absent, at most retry_max_s) and ask again, up to 5
	 * times; stop (when set) cuts the wait short.  retries counts them. */
	long retry_max_s;
	unsigned long retries;
	volatile int *stop;
};

/* Load the kubeconfig (K8S_ECONFIG when unusable, or insecure without
 * tokenReview.allowInsecureSkipTLSVerify).  The bearer credential is read
 * at each request (tokenFile rotates) and wiped right after it. */
int k8s_kubeapi_open(const struct k8s_config *cfg, long timeout_ms, struct k8s_kubeapi *api,
		     struct k8s_err *err);
void k8s_kubeapi_close(struct k8s_kubeapi *api);

/* One request.  path starts with '/' (and may carry a query); body NULL
 * for GET.  what names the request in messages ("create
 * subjectaccessreviews").  K8S_OK for 200/201 whose body is a JSON object
 * (*out, caller decrefs), else K8S_UNAVAILABLE (K8S_ECONFIG when the
 * request cannot be built). */
int k8s_kubeapi_call(struct k8s_kubeapi *api, const char *method, const char *path,
		     const char *what, json_t *body, json_t **out, struct k8s_err *err);

/* Called for every element of a list's items[]; returns K8S_OK or a
 * status (which stops the list). */
typedef int (*k8s_kubeapi_item_fn)(json_t *item, void *ctx, struct k8s_err *err);

/* GET a collection page by page (limit=K8S_KUBEAPI_PAGE, continue=...),
 * calling fn for every item in order.  The collection must answer with
 * kind want_kind (e.g. "ServiceAccountList").  An expired continue token
 * (410) is K8S_UNAVAILABLE like any other failure: a list is all or
 * nothing, and the caller writes nothing from a partial one. */
int k8s_kubeapi_list(struct k8s_kubeapi *api, const char *path, const char *want_kind,
		     k8s_kubeapi_item_fn fn, void *ctx, struct k8s_err *err);

/* One page's answer (exposed for tests): kind, items[] (each an object),
 * metadata.continue (absent or "" = last page; else *next, malloc'd). */
int k8s_kubeapi_list_page(json_t *root, const char *want_kind, k8s_kubeapi_item_fn fn,
			  void *ctx, char **next, struct k8s_err *err);

/* A watch (or any streamed GET): path with its query; each line of a 200
 * answer goes to on_line (at most max_line bytes).  K8S_OK when the
 * server ended the stream; K8S_UNAVAILABLE otherwise (for a non-200
 * answer api->last_status and *retry_after, -1 when absent, say why). */
int k8s_kubeapi_stream(struct k8s_kubeapi *api, const char *path, int (*on_line)(const char *, size_t, void *),
		       void *ud, size_t max_line, long timeout_ms, long *retry_after, struct k8s_err *err);

/* Sleep ms, waking early when *stop (if given) becomes nonzero. */
void k8s_kubeapi_sleep_ms(long ms, volatile int *stop);

/* Percent-encode s for a URL query value (RFC 3986 unreserved kept).
 * malloc'd, NULL when out of memory. */
char *k8s_kubeapi_query_escape(const char *s);

/* Apiserver text made safe to quote (k8s_show_untrusted, its quotes
 * kept): printable ASCII only, at most max-1 bytes. */
void k8s_kubeapi_safe_text(const char *in, char *out, size_t max);

#endif
