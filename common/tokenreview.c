/* tokenreview.c: online validation with authentication.k8s.io/v1
 * TokenReview.
 *
 * The token travels in the request body and the apiserver echoes it back in
 * spec.token (and sometimes in status.error), so every buffer that can hold
 * it is ours and wiped: the body is serialized into a k8s_buf, the echo is
 * scrubbed from the raw answer before jansson ever parses it, and the copy
 * jansson keeps for the request tree is wiped before it is freed. */
#include "tokenreview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "explain.h"
#include "http.h"
#include "jwt.h"
#include "util.h"

#define TR_PATH          "/apis/authentication.k8s.io/v1/tokenreviews"
#define TR_API_VERSION   "authentication.k8s.io/v1"
#define TR_MALFORMED     "malformed TokenReview answer"
#define TR_MSG_MAX       200 /* characters of an apiserver message we quote */
#define TR_REDACT_RUN    64  /* token-like runs this long are never quoted */

/* RFC 6750 b64token: the only bytes a Bearer credential may hold.  It also
 * guarantees the token is JSON-encoded verbatim, so its echo can be found
 * in the raw answer. */
static int is_b64token_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

static int token_ok(const char *token)
{
	size_t i;

	if (token == NULL || token[0] == '\0')
		return 0;
	for (i = 0; token[i] != '\0'; i++)
		if (i >= K8S_TOKEN_MAX || !is_b64token_char((unsigned char)token[i]))
			return 0;
	return 1;
}

/* jansson frees its string copies without wiping; its buffer is a plain
 * malloc'd char array, so wiping it through the const pointer is sound. */
static void wipe_json_string(json_t *s)
{
	if (json_is_string(s))
		k8s_wipe((char *)json_string_value(s), json_string_length(s));
}

static int dump_to_buf(const char *p, size_t n, void *ud)
{
	return k8s_buf_append(ud, p, n);
}

char *k8s_tokenreview_request_body(const char *token, const struct k8s_strv *audiences)
{
	struct k8s_buf b = {0};
	json_t *root = NULL, *spec = NULL, *auds = NULL, *tok = NULL;
	char *out = NULL;
	size_t i;

	if (!token_ok(token))
		return NULL;
	root = json_object();
	spec = json_object();
	tok = json_string(token);
	if (root == NULL || spec == NULL || tok == NULL)
		goto out;
	if (json_object_set_new(root, "apiVersion", json_string(TR_API_VERSION)) != 0 ||
	    json_object_set_new(root, "kind", json_string("TokenReview")) != 0 ||
	    json_object_set(spec, "token", tok) != 0)
		goto out;
	if (audiences != NULL && audiences->n > 0) {
		if ((auds = json_array()) == NULL || json_object_set(spec, "audiences", auds) != 0)
			goto out;
		for (i = 0; i < audiences->n; i++)
			if (json_array_append_new(auds, json_string(audiences->v[i])) != 0)
				goto out;
	}
	if (json_object_set(root, "spec", spec) != 0)
		goto out;
	if (json_dump_callback(root, dump_to_buf, &b, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0)
		goto out;
	out = b.data;
	b.data = NULL;
out:
	k8s_buf_free(&b);
	wipe_json_string(tok);
	json_decref(tok);
	json_decref(auds);
	json_decref(spec);
	json_decref(root);
	return out;
}

/* Overwrite every occurrence of token in buf[0..len) with '*'. */
static void scrub_token(char *buf, size_t len, const char *token)
{
	size_t tl = token != NULL ? strlen(token) : 0;
	char *p = buf, *end = buf + len;

	if (tl == 0)
		return;
	while ((size_t)(end - p) >= tl && (p = memmem(p, (size_t)(end - p), token, tl)) != NULL) {
		memset(p, '*', tl);
		p += tl;
	}
}

/* An apiserver message made safe to show.  Order matters: control
 * characters go first, because dropping them can join the pieces of a
 * split token; then the token is scrubbed; then any long token-like run
 * is redacted (the token may be echoed in another form); then the length
 * is capped.  Redaction only replaces whole runs, so it joins nothing. */
static void sanitize_message(const char *in, const char *token, char *out, size_t outsz)
{
	struct k8s_buf b = {0};
	size_t i, run, o = 0;

	out[0] = '\0';
	if (in == NULL)
		goto out;
	for (i = 0; in[i] != '\0'; i++)
		if ((unsigned char)in[i] >= 0x20 && in[i] != 0x7f && k8s_buf_append(&b, in + i, 1) != 0)
			goto out;
	if (b.data == NULL)
		goto out;
	scrub_token(b.data, b.len, token);
	for (i = 0; i < b.len && o + 1 < outsz && o < TR_MSG_MAX; i += run ? run : 1) {
		for (run = 0; i + run < b.len && is_b64token_char((unsigned char)b.data[i + run]); run++)
			;
		if (run >= TR_REDACT_RUN) {
			if (o + 11 >= outsz)
				break;
			memcpy(out + o, "[redacted]", 10);
			o += 10;
		} else if (run > 0) {
			size_t n = run < outsz - 1 - o ? run : outsz - 1 - o;

			memcpy(out + o, b.data + i, n);
			o += n;
		} else {
			out[o++] = b.data[i];
		}
	}
	out[o] = '\0';
out:
	k8s_buf_free(&b);
}

static int copy_groups(json_t *groups, struct k8s_identity *id)
{
	size_t i;
	json_t *g;

	if (groups == NULL)
		return 0;
	if (!json_is_array(groups))
		return -1;
	json_array_foreach(groups, i, g) {
		if (!json_is_string(g) || k8s_identity_add_group(id, json_string_value(g)) != 0)
			return -1;
	}
	return 0;
}

static int copy_extra(json_t *extra, struct k8s_identity *id)
{
	const char *key;
	json_t *vals, *v;
	size_t i;

	if (extra != NULL && !json_is_object(extra))
		return -1;
	json_object_foreach(extra, key, vals) {
		if (!json_is_array(vals))
			return -1;
		json_array_foreach(vals, i, v)
			if (!json_is_string(v))
				return -1;
	}
	id->extra = extra != NULL ? json_deep_copy(extra) : json_object();
	return id->extra != NULL ? 0 : -1;
}

static int copy_user(json_t *user, struct k8s_identity *id)
{
	json_t *uid = json_object_get(user, "uid");
	const char *name = json_string_value(json_object_get(user, "username"));

	if (!json_is_object(user) || name == NULL || name[0] == '\0')
		return -1;
	if (uid != NULL && !json_is_string(uid))
		return -1;
	id->method = "tokenreview";
	if ((id->username = strdup(name)) == NULL)
		return -1;
	if (uid != NULL && json_string_length(uid) > 0 &&
	    (id->uid = strdup(json_string_value(uid))) == NULL)
		return -1;
	if (copy_groups(json_object_get(user, "groups"), id) != 0 ||
	    copy_extra(json_object_get(user, "extra"), id) != 0)
		return -1;
	return 0;
}

/* The apiserver's status.audiences for a message: through
 * sanitize_message like its other words (the token scrubbed, long
 * token-like runs redacted, bounded). */
static void show_audiences(json_t *got, const char *token, char *out, size_t size)
{
	struct k8s_buf b = {0};
	json_t *a;
	size_t i;
	int rc = 0;

	if (got == NULL || json_array_size(got) == 0) {
		snprintf(out, size, "(none)");
		return;
	}
	rc |= k8s_buf_append(&b, "[", 1);
	json_array_foreach(got, i, a) {
		if (b.len > 4 * TR_MSG_MAX)
			break;
		rc |= k8s_buf_printf(&b, "%s\"%s\"", i > 0 ? ", " : "", json_string_value(a));
	}
	rc |= k8s_buf_append(&b, "]", 1);
	if (rc == 0)
		sanitize_message(b.data, token, out, size);
	else
		snprintf(out, size, "(out of memory)");
	k8s_buf_free(&b);
}

/* K8S_OK when some status.audiences entry is one we asked for. */
static int check_audiences(json_t *got, const struct k8s_strv *want, const char *token,
			   struct k8s_err *err)
{
	char shown_got[TR_MSG_MAX + 16], shown_want[200];
	json_t *a;
	size_t i, j;

	if (want == NULL || want->n == 0)
		return K8S_OK; /* allowEmptyAudiences: the apiserver's own audiences */
	if (got != NULL && !json_is_array(got))
		return k8s_err_set(err, K8S_UNAVAILABLE, TR_MALFORMED, "status.audiences is not an array");
	json_array_foreach(got, i, a) {
		if (!json_is_string(a))
			return k8s_err_set(err, K8S_UNAVAILABLE, TR_MALFORMED,
					   "status.audiences holds a non-string");
		for (j = 0; j < want->n; j++)
			if (strcmp(json_string_value(a), want->v[j]) == 0)
				return K8S_OK;
	}
	show_audiences(got, token, shown_got, sizeof(shown_got));
	k8s_show_strv(want, shown_want, sizeof(shown_want));
	return k8s_err_set(err, K8S_REFUSED, "wrong audience",
			   "the apiserver authenticated the token for audiences %s; expected %s%s", shown_got,
			   want->n > 1 ? "one of " : "", shown_want);
}

static int refused(json_t *status, const char *token, struct k8s_err *err)
{
	char msg[TR_MSG_MAX + 16];
	json_t *e = json_object_get(status, "error");

	if (json_is_string(e) && json_string_length(e) > 0) {
		sanitize_message(json_string_value(e), token, msg, sizeof(msg));
		return k8s_err_set(err, K8S_REFUSED, "token rejected by the apiserver",
				   "status.error: %s", msg);
	}
	return k8s_err_set(err, K8S_REFUSED, "token rejected by the apiserver",
			   "the apiserver did not authenticate the token");
}

static int parse_status(json_t *root, const char *token, const struct k8s_strv *audiences,
			struct k8s_identity *id, struct k8s_err *err)
{
	json_t *status = json_object_get(root, "status");
	json_t *authn = json_object_get(status, "authenticated");
	int rc;

	if (status != NULL && !json_is_object(status))
		return k8s_err_set(err, K8S_UNAVAILABLE, TR_MALFORMED, "status is not an object");
	/* null is false, as Go's decoder reads it. */
	if (authn != NULL && !json_is_boolean(authn) && !json_is_null(authn))
		return k8s_err_set(err, K8S_UNAVAILABLE, TR_MALFORMED,
				   "status.authenticated is not a boolean");
	if (!json_is_true(authn))
		return refused(status, token, err);
	rc = check_audiences(json_object_get(status, "audiences"), audiences, token, err);
	if (rc != K8S_OK)
		return rc;
	if (copy_user(json_object_get(status, "user"), id) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, TR_MALFORMED,
				   "status.user: username missing or empty, or uid/groups/extra of the wrong type");
	return K8S_OK;
}

int k8s_tokenreview_parse_response(const char *body, size_t len, const char *token,
				   const struct k8s_strv *audiences,
				   struct k8s_identity *id, struct k8s_err *err)
{
	json_error_t jerr;
	json_t *root = NULL;
	int rc;

	memset(id, 0, sizeof(*id));
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	/* jerr.text may quote the answer (and so the token): position only. */
	if (root == NULL) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, TR_MALFORMED, "not JSON (error at byte %d)",
				 jerr.position);
		goto out;
	}
	if (!json_is_object(root)) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, TR_MALFORMED, "not a JSON object");
		goto out;
	}
	if (!json_is_string(json_object_get(root, "kind")) ||
	    strcmp(json_string_value(json_object_get(root, "kind")), "TokenReview") != 0 ||
	    !json_is_string(json_object_get(root, "apiVersion")) ||
	    strcmp(json_string_value(json_object_get(root, "apiVersion")), TR_API_VERSION) != 0) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, TR_MALFORMED,
				 "kind/apiVersion is not TokenReview/" TR_API_VERSION);
		goto out;
	}
	rc = parse_status(root, token, audiences, id, err);
out:
	if (root != NULL)
		wipe_json_string(json_object_get(json_object_get(root, "spec"), "token"));
	json_decref(root);
	if (rc != K8S_OK)
		k8s_identity_free(id);
	return rc;
}

/* The apiserver has just authenticated the token, so a JWT's payload is
 * what its issuer signed: take exp/iat/nbf and the service-account binding
 * for the lifetime policy, by the same rules as the jwt path (a time that
 * is not a NumericDate within time_t refuses).  The payload is the one
 * k8s_token_decode read; one that did not decode leaves them unknown, as
 * for an opaque token. */
static int take_jwt_claims(const struct k8s_token *t, struct k8s_identity *id, struct k8s_err *err)
{
	if (!t->jws || !json_is_object(t->payload))
		return K8S_OK;
	return k8s_identity_take_jwt_claims(id, t->payload, err);
}

/* Status other than 200/201: the reviewer's problem or the apiserver's. */
static int http_failure(const struct k8s_http_resp *resp, const char *url, const char *token,
			struct k8s_err *err)
{
	char msg[TR_MSG_MAX + 16] = "";
	json_t *st;

	st = json_loadb(resp->body, resp->body_len, 0, NULL);
	if (json_is_string(json_object_get(st, "message")))
		sanitize_message(json_string_value(json_object_get(st, "message")), token, msg, sizeof(msg));
	json_decref(st);
	if (resp->status == 401)
		return k8s_err_set(err, K8S_UNAVAILABLE, "reviewer credentials rejected (401)",
				   "%s: HTTP 401: %s", url, msg[0] ? msg : "Unauthorized");
	if (resp->status == 403)
		return k8s_err_set(err, K8S_UNAVAILABLE,
				   "reviewer not permitted to create tokenreviews (403)",
				   "%s: HTTP 403: %s", url, msg[0] ? msg : "Forbidden");
	return k8s_err_set(err, K8S_UNAVAILABLE, "unexpected apiserver answer",
			   "%s: HTTP %ld%s%s", url, resp->status, msg[0] ? ": " : "", msg);
}

static int build_url(const struct k8s_kubeconfig *kc, char **url, struct k8s_err *err)
{
	struct k8s_buf b = {0};
	size_t n;

	if (kc == NULL || kc->server == NULL || kc->server[0] == '\0')
		return k8s_err_set(err, K8S_ECONFIG, "no apiserver",
				   "%s: no cluster server", kc && kc->path ? kc->path : "kubeconfig");
	n = strlen(kc->server);
	while (n > 0 && kc->server[n - 1] == '/')
		n--;
	if (k8s_buf_append(&b, kc->server, n) != 0 || k8s_buf_append(&b, TR_PATH, strlen(TR_PATH)) != 0) {
		k8s_buf_free(&b);
		return k8s_err_oom(err, "building the TokenReview URL");
	}
	*url = b.data;
	return K8S_OK;
}

struct review_ctx {
	const struct k8s_config *cfg;
	const struct k8s_kubeconfig *kc;
	const char *token;
	char *url;
	char *bearer;
	char *body;
	size_t body_len;
};

static int send_review(struct review_ctx *c, struct k8s_http_resp *resp, struct k8s_err *err)
{
	struct k8s_http_req req = {
		.method = "POST",
		.url = c->url,
		.ca_pem = c->kc->ca_pem, .ca_pem_len = c->kc->ca_pem_len,
		.insecure = c->kc->insecure_skip_verify,
		.tls_server_name = c->kc->tls_server_name,
		.client_cert_pem = c->kc->client_cert_pem, .client_cert_len = c->kc->client_cert_len,
		.client_key_pem = c->kc->client_key_pem, .client_key_len = c->kc->client_key_len,
		.bearer = c->bearer,
		.content_type = "application/json",
		.accept = "application/json",
		.body = c->body, .body_len = c->body_len,
		.timeout_ms = (long)c->cfg->tokenreview.timeout_ms,
	};

	return k8s_http_do(&req, resp, err);
}

int k8s_tokenreview_kubeconfig_allowed(const struct k8s_config *cfg, const struct k8s_kubeconfig *kc,
				       struct k8s_err *err)
{
	if (kc->insecure_skip_verify && !cfg->tokenreview.allow_insecure)
		return k8s_err_set(err, K8S_ECONFIG, "insecure TLS not allowed",
				   "%s: insecure-skip-tls-verify needs tokenReview.allowInsecureSkipTLSVerify",
				   kc->path ? kc->path : "kubeconfig");
	if (kc->server == NULL || kc->server[0] == '\0')
		return k8s_err_set(err, K8S_ECONFIG, "no apiserver",
				   "%s: no cluster server", kc->path ? kc->path : "kubeconfig");
	return K8S_OK;
}

static int prepare(struct review_ctx *c, struct k8s_err *err)
{
	struct k8s_err berr;
	int rc;

	if ((rc = k8s_tokenreview_kubeconfig_allowed(c->cfg, c->kc, err)) != K8S_OK)
		return rc;
	if (build_url(c->kc, &c->url, err) != K8S_OK)
		return err ? err->status : K8S_ECONFIG;
	c->body = k8s_tokenreview_request_body(c->token, &c->cfg->tokenreview.audiences);
	if (c->body == NULL)
		return k8s_err_oom(err, "building the TokenReview");
	c->body_len = strlen(c->body);
	k8s_err_clear(&berr);
	c->bearer = k8s_kubeconfig_bearer(c->kc, &berr);
	if (c->bearer == NULL && berr.status != K8S_OK)
		return k8s_err_set(err, berr.status, berr.reason, "%s", berr.detail);
	return K8S_OK;
}

int k8s_tokenreview(const struct k8s_config *cfg, const struct k8s_kubeconfig *kc,
		    const struct k8s_token *t, struct k8s_identity *id, struct k8s_err *err)
{
	const char *token = t->text;
	struct review_ctx c = {.cfg = cfg, .kc = kc, .token = token};
	struct k8s_http_resp resp = {0};
	int rc;

	memset(id, 0, sizeof(*id));
	if (!token_ok(token)) {
		rc = k8s_err_set(err, K8S_REFUSED, "malformed token",
				 "the token is empty, too long or not a bearer token (RFC 6750 b64token)");
		goto out;
	}
	if ((rc = prepare(&c, err)) != K8S_OK)
		goto out;
	if ((rc = send_review(&c, &resp, err)) != K8S_OK)
		goto out;
	scrub_token(resp.body, resp.body_len, token);
	if (resp.status != 200 && resp.status != 201) {
		rc = http_failure(&resp, c.url, token, err);
		goto out;
	}
	rc = k8s_tokenreview_parse_response(resp.body, resp.body_len, token,
					    &cfg->tokenreview.audiences, id, err);
	if (rc != K8S_OK)
		goto out;
	rc = take_jwt_claims(t, id, err);
	if (rc != K8S_OK)
		goto out;
	k8s_token_fingerprint(token, strlen(token), id->fingerprint);
out:
	k8s_http_resp_free(&resp);
	k8s_freezero_str(c.body);
	k8s_freezero_str(c.bearer);
	free(c.url);
	return rc;
}
