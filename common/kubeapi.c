/* kubeapi.c: JSON requests to the apiserver as the reviewer. */
#include "kubeapi.h"

#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "util.h"

#define MSG_MAX 200

void k8s_kubeapi_safe_text(const char *in, char *out, size_t max)
{
	k8s_show_untrusted(in, MSG_MAX, out, max, K8S_SHOW_QUOTES | K8S_SHOW_DROP);
}

int k8s_kubeapi_open(const struct k8s_config *cfg, long timeout_ms, struct k8s_kubeapi *api,
		     struct k8s_err *err)
{
	int rc;

	memset(api, 0, sizeof(*api));
	api->cfg = cfg;
	api->timeout_ms = timeout_ms;
	api->retry_max_s = 0; /* no waiting unless the caller asks (sync): a login has its deadline */
	rc = k8s_kubeconfig_load(cfg->tokenreview.kubeconfig, &api->kc, err);
	if (rc != K8S_OK)
		return rc;
	if (api->kc->server == NULL || api->kc->server[0] == '\0')
		return k8s_err_set(err, K8S_ECONFIG, "no apiserver", "%s: no cluster server",
				   api->kc->path ? api->kc->path : "kubeconfig");
	if (api->kc->insecure_skip_verify && !cfg->tokenreview.allow_insecure)
		return k8s_err_set(err, K8S_ECONFIG, "insecure TLS not allowed",
				   "%s: insecure-skip-tls-verify needs tokenReview.allowInsecureSkipTLSVerify",
				   api->kc->path ? api->kc->path : "kubeconfig");
	return K8S_OK;
}

void k8s_kubeapi_close(struct k8s_kubeapi *api)
{
	if (api == NULL)
		return;
	k8s_kubeconfig_free(api->kc);
	api->kc = NULL;
}

void k8s_kubeapi_sleep_ms(long ms, const atomic_int *stop)
{
	while (ms > 0 && (stop == NULL || !*stop)) {
		long step = ms > 200 ? 200 : ms;
		struct timespec ts = {step / 1000, (step % 1000) * 1000000L};

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* Uniform in [0, 1000] ms. */
static long retry_jitter_ms(void)
{
	unsigned int r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned int)time(NULL);
	return (long)(r % 1001u);
}

static int dump_to_buf(const char *p, size_t n, void *ud)
{
	return k8s_buf_append(ud, p, n);
}

/* A Status answer's message, made safe to quote. */
static void status_message(const struct k8s_http_resp *resp, char *out, size_t max)
{
	json_t *st = json_loadb(resp->body, resp->body_len, 0, NULL);

	out[0] = '\0';
	if (json_is_string(json_object_get(st, "message")))
		k8s_kubeapi_safe_text(json_string_value(json_object_get(st, "message")), out, max);
	json_decref(st);
}

static int http_failure(const struct k8s_http_resp *resp, const char *path, const char *what,
			struct k8s_err *err)
{
	char msg[MSG_MAX + 1], reason[96];

	status_message(resp, msg, sizeof(msg));
	if (resp->status == 401)
		return k8s_err_set(err, K8S_UNAVAILABLE, "reviewer credentials rejected (401)",
				   "%s: HTTP 401: %s", path, msg[0] ? msg : "Unauthorized");
	if (resp->status == 403) {
		snprintf(reason, sizeof(reason), "reviewer may not %s (403)", what);
		return k8s_err_set(err, K8S_UNAVAILABLE, reason,
				   "%s: HTTP 403: %s (docs/rbac-reviewer.yaml lists what the reviewer needs)",
				   path, msg[0] ? msg : "Forbidden");
	}
	if (resp->status == 410)
		return k8s_err_set(err, K8S_UNAVAILABLE, "list expired while paging (410)",
				   "%s: HTTP 410: %s; the next run starts over", path,
				   msg[0] ? msg : "Gone");
	return k8s_err_set(err, K8S_UNAVAILABLE, "unexpected apiserver answer", "%s: HTTP %ld%s%s",
			   path, resp->status, msg[0] ? ": " : "", msg);
}

struct stream_opts {
	int (*on_line)(const char *, size_t, void *);
	void *ud;
	size_t max_line;
	long timeout_ms;
};

static int send_request_s(struct k8s_kubeapi *api, const char *method, const char *url,
			  const struct k8s_buf *body, struct k8s_http_resp *resp,
			  const struct stream_opts *so, struct k8s_err *err);

static int send_request(struct k8s_kubeapi *api, const char *method, const char *url,
			const struct k8s_buf *body, struct k8s_http_resp *resp, struct k8s_err *err)
{
	return send_request_s(api, method, url, body, resp, NULL, err);
}

int k8s_kubeapi_stream(struct k8s_kubeapi *api, const char *path, int (*on_line)(const char *, size_t, void *),
		       void *ud, size_t max_line, long timeout_ms, long *retry_after, struct k8s_err *err)
{
	struct stream_opts so = {on_line, ud, max_line, timeout_ms};
	struct k8s_http_resp resp = {0};
	struct k8s_buf url = {0};
	size_t n;
	int rc;

	*retry_after = -1;
	api->last_status = 0;
	n = strlen(api->kc->server);
	while (n > 0 && api->kc->server[n - 1] == '/')
		n--;
	if (path[0] != '/' || k8s_buf_append(&url, api->kc->server, n) != 0 ||
	    k8s_buf_append(&url, path, strlen(path) + 1) != 0) {
		k8s_buf_free(&url);
		return k8s_err_set(err, K8S_UNAVAILABLE, "bad request", "%s: cannot build the URL", path);
	}
	rc = send_request_s(api, "GET", url.data, NULL, &resp, &so, err);
	if (rc == K8S_OK) {
		api->last_status = resp.status;
		*retry_after = resp.retry_after;
		if (resp.status != 200)
			rc = http_failure(&resp, path, "watch", err);
	}
	k8s_http_resp_free(&resp);
	k8s_buf_free(&url);
	return rc;
}

static int send_request_s(struct k8s_kubeapi *api, const char *method, const char *url,
			  const struct k8s_buf *body, struct k8s_http_resp *resp,
			  const struct stream_opts *so, struct k8s_err *err)
{
	struct k8s_err berr;
	char *bearer;
	int rc;

	k8s_err_clear(&berr);
	bearer = k8s_kubeconfig_bearer(api->kc, &berr);
	if (bearer == NULL && berr.status != K8S_OK)
		return k8s_err_set(err, berr.status, berr.reason, "%s", berr.detail);
	{
		struct k8s_http_req req = {
			.method = method,
			.url = url,
			.ca_pem = api->kc->ca_pem, .ca_pem_len = api->kc->ca_pem_len,
			.insecure = api->kc->insecure_skip_verify,
			.tls_server_name = api->kc->tls_server_name,
			.client_cert_pem = api->kc->client_cert_pem,
			.client_cert_len = api->kc->client_cert_len,
			.client_key_pem = api->kc->client_key_pem,
			.client_key_len = api->kc->client_key_len,
			.bearer = bearer,
			.content_type = body != NULL ? "application/json" : NULL,
			.accept = "application/json",
			.body = body != NULL ? body->data : NULL,
			.body_len = body != NULL ? body->len : 0,
			.timeout_ms = so != NULL ? so->timeout_ms : api->timeout_ms,
			/* a stream's long deadline is for its body: connect, TLS
			 * and the answer's head get the per-request one */
			.head_timeout_ms = api->timeout_ms,
			.max_body = K8S_KUBEAPI_MAX_BODY,
			.on_line = so != NULL ? so->on_line : NULL,
			.line_ud = so != NULL ? so->ud : NULL,
			.max_line = so != NULL ? so->max_line : 0,
			.stop = api->stop,
			.alive = so != NULL ? api->stream_alive : NULL,
		};

		api->requests++;
		rc = k8s_http_do(&req, resp, err);
	}
	k8s_freezero_str(bearer);
	return rc;
}

int k8s_kubeapi_call(struct k8s_kubeapi *api, const char *method, const char *path,
		     const char *what, json_t *body, json_t **out, struct k8s_err *err)
{
	struct k8s_http_resp resp = {0};
	struct k8s_buf url = {0}, req = {0};
	json_error_t jerr;
	size_t n;
	int rc, tries;

	*out = NULL;
	api->last_status = 0;
	api->last_date = 0;
	n = strlen(api->kc->server);
	while (n > 0 && api->kc->server[n - 1] == '/')
		n--;
	if (path[0] != '/' || k8s_buf_append(&url, api->kc->server, n) != 0 ||
	    k8s_buf_append(&url, path, strlen(path) + 1) != 0) {
		rc = k8s_err_set(err, path[0] != '/' ? K8S_ECONFIG : K8S_UNAVAILABLE, "bad request",
				 "%s: cannot build the URL", path);
		goto out;
	}
	if (body != NULL &&
	    json_dump_callback(body, dump_to_buf, &req, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: building the request", path);
		goto out;
	}
	for (tries = 0;; tries++) {
		long wait;

		rc = send_request(api, method, url.data, body != NULL ? &req : NULL, &resp, err);
		if (rc != K8S_OK)
			goto out;
		/* API Priority and Fairness sheds load with 429 and Retry-After */
		if (!(resp.status == 429 || (resp.status == 503 && resp.retry_after >= 0)) || tries >= 5 ||
		    api->retry_max_s <= 0)
			break;
		wait = resp.retry_after > 0 ? resp.retry_after : 1;
		if (wait > api->retry_max_s)
			wait = api->retry_max_s;
		k8s_http_resp_free(&resp);
		api->retries++;
		/* never before Retry-After; then up to 1 s more, so the clients
		 * APF turned away together do not all come back in one instant */
		k8s_kubeapi_sleep_ms(wait * 1000 + retry_jitter_ms(), api->stop);
		if (api->stop != NULL && *api->stop)
			break;
	}
	api->last_status = resp.status;
	api->last_date = resp.date;
	if (resp.status != 200 && resp.status != 201) {
		rc = http_failure(&resp, path, what, err);
		goto out;
	}
	*out = json_loadb(resp.body, resp.body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "malformed apiserver answer",
				 "%s: not a JSON object (error at byte %d)", path, jerr.position);
	}
out:
	k8s_http_resp_free(&resp);
	k8s_buf_free(&req);
	k8s_buf_free(&url);
	return rc;
}

char *k8s_kubeapi_query_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct k8s_buf b = {0};
	char e[3];
	int r = 0;

	for (; *s != '\0' && r == 0; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			r = k8s_buf_append(&b, s, 1);
		} else {
			e[0] = '%';
			e[1] = hex[c >> 4];
			e[2] = hex[c & 15];
			r = k8s_buf_append(&b, e, 3);
		}
	}
	if (r == 0)
		r = k8s_buf_append(&b, "", 1);
	if (r != 0) {
		k8s_buf_free(&b);
		return NULL;
	}
	return b.data;
}

int k8s_kubeapi_list_page(json_t *root, const char *want_kind, k8s_kubeapi_item_fn fn,
			  void *ctx, char **next, struct k8s_err *err)
{
	json_t *kind = json_object_get(root, "kind"), *items = json_object_get(root, "items");
	json_t *cont = json_object_get(json_object_get(root, "metadata"), "continue"), *it;
	size_t i;
	int rc;

	*next = NULL;
	if (!json_is_string(kind) || strcmp(json_string_value(kind), want_kind) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "malformed apiserver answer",
				   "expected a %s", want_kind);
	/* Go writes an empty list as "items": null. */
	if (items != NULL && !json_is_array(items) && !json_is_null(items))
		return k8s_err_set(err, K8S_UNAVAILABLE, "malformed apiserver answer",
				   "%s: items is not a list", want_kind);
	if (cont != NULL && !json_is_string(cont))
		return k8s_err_set(err, K8S_UNAVAILABLE, "malformed apiserver answer",
				   "%s: metadata.continue is not a string", want_kind);
	json_array_foreach(items, i, it) {
		if (!json_is_object(it))
			return k8s_err_set(err, K8S_UNAVAILABLE, "malformed apiserver answer",
					   "%s: items[%zu] is not an object", want_kind, i);
		rc = fn(it, ctx, err);
		if (rc != K8S_OK)
			return rc;
	}
	if (cont != NULL && json_string_length(cont) > 0 &&
	    (*next = k8s_kubeapi_query_escape(json_string_value(cont))) == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: paging", want_kind);
	return K8S_OK;
}

static void keep_list_rv(struct k8s_kubeapi *api, json_t *root)
{
	json_t *rv = json_object_get(json_object_get(root, "metadata"), "resourceVersion");

	if (json_is_string(rv) && json_string_length(rv) < sizeof(api->last_list_rv))
		snprintf(api->last_list_rv, sizeof(api->last_list_rv), "%s", json_string_value(rv));
}

static int list_paged(struct k8s_kubeapi *api, const char *path, const char *want_kind,
		      k8s_kubeapi_item_fn fn, void *ctx, int rv0, int *first_failed, struct k8s_err *err)
{
	char *cont = NULL, *next = NULL, *p = NULL, what[96];
	json_t *root = NULL;
	int rc, pages = 0;

	snprintf(what, sizeof(what), "list %s", path);
	api->last_list_rv[0] = '\0';
	do {
		free(p);
		if (asprintf(&p, "%s%climit=%d%s%s%s", path, strchr(path, '?') ? '&' : '?', K8S_KUBEAPI_PAGE,
			     rv0 && cont == NULL ? "&resourceVersion=0" : "", cont ? "&continue=" : "",
			     cont ? cont : "") < 0) {
			p = NULL;
			rc = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: paging", path);
			break;
		}
		rc = k8s_kubeapi_call(api, "GET", p, what, NULL, &root, err);
		if (rc != K8S_OK && cont == NULL && first_failed != NULL)
			*first_failed = 1;
		if (rc == K8S_OK)
			rc = k8s_kubeapi_list_page(root, want_kind, fn, ctx, &next, err);
		if (rc == K8S_OK)
			keep_list_rv(api, root);
		json_decref(root);
		root = NULL;
		free(cont);
		cont = next;
		next = NULL;
		/* A server that keeps handing out continue tokens must not keep us
		 * here forever. */
		if (rc == K8S_OK && cont != NULL && ++pages >= 100000)
			rc = k8s_err_set(err, K8S_UNAVAILABLE, "list never ends",
					 "%s: more than 100000 pages", path);
	} while (rc == K8S_OK && cont != NULL);
	free(cont);
	free(p);
	return rc;
}

int k8s_kubeapi_list(struct k8s_kubeapi *api, const char *path, const char *want_kind,
		     k8s_kubeapi_item_fn fn, void *ctx, struct k8s_err *err)
{
	int rc, first_failed = 0;

	if (!api->list_rv0)
		return list_paged(api, path, want_kind, fn, ctx, 0, NULL, err);
	/* The watch cache answers a resourceVersion=0 list whole: too large
	 * for one answer, ask etcd page by page (fn saw nothing yet). */
	rc = list_paged(api, path, want_kind, fn, ctx, 1, &first_failed, err);
	if (rc == K8S_UNAVAILABLE && first_failed && strcmp(err->reason, "response too large") == 0) {
		k8s_err_clear(err);
		rc = list_paged(api, path, want_kind, fn, ctx, 0, NULL, err);
	}
	return rc;
}
