/* Unit tests for sar.c (SubjectAccessReview request and answer) and for
 * kubeapi.c's request layer against tests/unit/srv/tlssrv.py (a local
 * TLS server whose PKI the openssl CLI makes).  The real apiserver's
 * verdicts are in tests/integration/t_kube_sar.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "identity.h"
#include "kubeapi.h"
#include "lib_tlssrv.h"
#include "sar.h"

#define REVIEWER "reviewer-secret-token"

static struct tlssrv srv;

static json_t *parse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	if (j == NULL)
		fail_msg("bad JSON in test: %s", e.text);
	return j;
}

static void ident(struct k8s_identity *id)
{
	memset(id, 0, sizeof(*id));
	id->method = "tokenreview";
	id->username = strdup("system:serviceaccount:ops:alice");
	id->uid = strdup("0b4c7f2e-uid");
	assert_int_equal(k8s_identity_add_group(id, "system:serviceaccounts"), 0);
	assert_int_equal(k8s_identity_add_group(id, "system:serviceaccounts:ops"), 0);
	id->extra = parse("{\"authentication.kubernetes.io/pod-name\": [\"web-1\"]}");
}

static void test_expand_name(void **state)
{
	static const char *const cases[][2] = {
		{"%h", "web-1"}, {"%u", "ops.alice"}, {"%h/%u", "web-1/ops.alice"},
		{"%%h", "%h"}, {"100%%", "100%"}, {"plain", "plain"}, {"", ""},
	};
	size_t i;
	char *s;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = k8s_sar_expand_name(cases[i][0], "web-1", "ops.alice");
		assert_non_null(s);
		assert_string_equal(s, cases[i][1]);
		free(s);
	}
}

static void test_request(void **state)
{
	struct k8s_resource_attrs a = {.verb = "login", .group = "", .resource = "nodes",
				       .name = "%h:%u", .namespace_ = "ops"};
	struct k8s_identity id;
	json_t *req, *spec, *ra;

	ident(&id);
	req = k8s_sar_request(&a, &id, "ops.alice", "web-1");
	assert_non_null(req);
	assert_string_equal(json_string_value(json_object_get(req, "apiVersion")), "authorization.k8s.io/v1");
	assert_string_equal(json_string_value(json_object_get(req, "kind")), "SubjectAccessReview");
	spec = json_object_get(req, "spec");
	assert_string_equal(json_string_value(json_object_get(spec, "user")), "system:serviceaccount:ops:alice");
	assert_string_equal(json_string_value(json_object_get(spec, "uid")), "0b4c7f2e-uid");
	assert_int_equal(json_array_size(json_object_get(spec, "groups")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(spec, "groups"), 1)),
			    "system:serviceaccounts:ops");
	assert_true(json_equal(json_object_get(spec, "extra"), id.extra));
	ra = json_object_get(spec, "resourceAttributes");
	assert_string_equal(json_string_value(json_object_get(ra, "namespace")), "ops");
	assert_string_equal(json_string_value(json_object_get(ra, "verb")), "login");
	assert_string_equal(json_string_value(json_object_get(ra, "group")), "");
	assert_string_equal(json_string_value(json_object_get(ra, "resource")), "nodes");
	assert_string_equal(json_string_value(json_object_get(ra, "name")), "web-1:ops.alice");
	json_decref(req);

	/* Cluster-scoped, no name, no uid, no extra, no groups: those keys
	 * are left out rather than sent empty (groups stays a list). */
	a.name = NULL;
	a.namespace_ = NULL;
	free(id.uid);
	id.uid = NULL;
	json_decref(id.extra);
	id.extra = json_object();
	free(id.groups[0]);
	free(id.groups[1]);
	id.n_groups = 0;
	req = k8s_sar_request(&a, &id, "ops.alice", "web-1");
	spec = json_object_get(req, "spec");
	ra = json_object_get(spec, "resourceAttributes");
	assert_null(json_object_get(ra, "namespace"));
	assert_null(json_object_get(ra, "name"));
	assert_null(json_object_get(spec, "uid"));
	assert_null(json_object_get(spec, "extra"));
	assert_true(json_is_array(json_object_get(spec, "groups")));
	json_decref(req);

	free(id.username);
	id.username = NULL;
	assert_null(k8s_sar_request(&a, &id, "ops.alice", "web-1"));
	k8s_identity_free(&id);
}

static int answer(const char *text, struct k8s_err *err)
{
	json_t *j = parse(text);
	int rc;

	k8s_err_clear(err);
	rc = k8s_sar_parse_response(j, err);
	json_decref(j);
	return rc;
}

#define SAR_HEAD "{\"kind\": \"SubjectAccessReview\", \"apiVersion\": \"authorization.k8s.io/v1\", "

static void test_response(void **state)
{
	struct k8s_err err;

	assert_int_equal(answer(SAR_HEAD "\"status\": {\"allowed\": true, \"reason\": "
				"\"RBAC: allowed by RoleBinding \\\"x/ops\\\"\"}}", &err), K8S_OK);
	assert_int_equal(answer(SAR_HEAD "\"status\": {\"allowed\": false}}", &err), K8S_REFUSED);
	assert_string_equal(err.reason, "not allowed by the cluster");
	assert_string_equal(err.detail, "SubjectAccessReview: not allowed");
	assert_int_equal(answer(SAR_HEAD "\"status\": {\"allowed\": false, \"denied\": true, "
				"\"reason\": \"policy\\nsays\\u0007 no\"}}", &err), K8S_REFUSED);
	assert_string_equal(err.detail, "SubjectAccessReview: denied: policysays no");
	assert_int_equal(answer(SAR_HEAD "\"status\": {\"allowed\": false, \"evaluationError\": "
				"\"webhook down\"}}", &err), K8S_REFUSED);
	assert_non_null(strstr(err.detail, "(evaluation error)"));
	/* allowed is what counts: an evaluation error next to allowed=true
	 * means another authorizer allowed it. */
	assert_int_equal(answer(SAR_HEAD "\"status\": {\"allowed\": true, \"evaluationError\": "
				"\"webhook down\"}}", &err), K8S_OK);

	/* Anything else is no answer: unavailable (a refusal too). */
	assert_int_equal(answer(SAR_HEAD "\"spec\": {}}", &err), K8S_UNAVAILABLE);
	assert_string_equal(err.reason, "malformed SubjectAccessReview answer");
	assert_int_equal(answer(SAR_HEAD "\"status\": {}}", &err), K8S_UNAVAILABLE);
	assert_int_equal(answer(SAR_HEAD "\"status\": {\"allowed\": \"true\"}}", &err), K8S_UNAVAILABLE);
	assert_int_equal(answer(SAR_HEAD "\"status\": {\"allowed\": 1}}", &err), K8S_UNAVAILABLE);
	assert_int_equal(answer(SAR_HEAD "\"status\": {\"allowed\": null}}", &err), K8S_UNAVAILABLE);
	assert_int_equal(answer(SAR_HEAD "\"status\": [true]}", &err), K8S_UNAVAILABLE);
	assert_int_equal(answer("{\"kind\": \"TokenReview\", \"apiVersion\": \"authorization.k8s.io/v1\", "
				"\"status\": {\"allowed\": true}}", &err), K8S_UNAVAILABLE);
	assert_int_equal(answer("{\"kind\": \"SubjectAccessReview\", \"apiVersion\": "
				"\"authorization.k8s.io/v1beta1\", \"status\": {\"allowed\": true}}", &err),
			 K8S_UNAVAILABLE);
	assert_int_equal(answer("{\"status\": {\"allowed\": true}}", &err), K8S_UNAVAILABLE);
}

/* Without the section nothing is asked: not even the kubeconfig is read. */
static void test_not_configured(void **state)
{
	struct k8s_config cfg;
	struct k8s_identity id;
	struct k8s_err err;

	memset(&cfg, 0, sizeof(cfg));
	cfg.tokenreview.kubeconfig = "/nonexistent/kubeconfig";
	ident(&id);
	k8s_err_clear(&err);
	assert_int_equal(k8s_sar_check(&cfg, &id, "ops.alice", K8S_SAR_LOGIN, &err), K8S_OK);
	assert_int_equal(k8s_sar_check(&cfg, &id, "ops.alice", K8S_SAR_SUDO, &err), K8S_OK);
	/* Configured with an unusable kubeconfig: never allowed. */
	cfg.login.has_sudo_sar = 1;
	cfg.login.sudo_sar.verb = "sudo";
	cfg.login.sudo_sar.group = "";
	cfg.login.sudo_sar.resource = "nodes";
	cfg.tokenreview.timeout_ms = 1000;
	assert_int_equal(k8s_sar_check(&cfg, &id, "ops.alice", K8S_SAR_LOGIN, &err), K8S_OK);
	assert_int_equal(k8s_sar_check(&cfg, &id, "ops.alice", K8S_SAR_SUDO, &err), K8S_ECONFIG);
	k8s_identity_free(&id);
}

/* ------------------------------------------------------------- kubeapi */

struct api_env {
	struct k8s_config cfg;
	char kubeconfig[128];
	struct k8s_kubeapi api;
};

static void write_kubeconfig(const char *path, int port, const char *token, int insecure)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
		   "clusters:\n- name: t\n  cluster:\n    server: https://127.0.0.1:%d\n"
		   "    %s\n"
		   "contexts:\n- name: t\n  context: {cluster: t, user: r}\n"
		   "users:\n- name: r\n  user:\n    token: %s\n",
		port, insecure ? "insecure-skip-tls-verify: true" : "certificate-authority: ca.pem", token);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
}

static int api_open(struct api_env *e, int port, const char *token, long timeout_ms,
		    struct k8s_err *err)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->kubeconfig, sizeof(e->kubeconfig), "%s/kubeconfig", srv.dir);
	write_kubeconfig(e->kubeconfig, port, token, 0);
	e->cfg.tokenreview.kubeconfig = e->kubeconfig;
	k8s_err_clear(err);
	return k8s_kubeapi_open(&e->cfg, timeout_ms, &e->api, err);
}

static void test_kubeapi_call(void **state)
{
	struct api_env e;
	struct k8s_err err;
	json_t *body = parse("{\"kind\": \"SubjectAccessReview\", \"spec\": {\"user\": \"u\"}}");
	json_t *out = NULL, *sent, *hdrs;
	time_t t0;

	assert_int_equal(api_open(&e, srv.port, REVIEWER, 5000, &err), K8S_OK);
	assert_int_equal(k8s_kubeapi_call(&e.api, "POST", "/echo", "echo", body, &out, &err), K8S_OK);
	assert_string_equal(json_string_value(json_object_get(out, "method")), "POST");
	hdrs = json_object_get(out, "headers");
	assert_string_equal(json_string_value(json_object_get(hdrs, "Authorization")), "Bearer " REVIEWER);
	assert_string_equal(json_string_value(json_object_get(hdrs, "Accept")), "application/json");
	assert_string_equal(json_string_value(json_object_get(hdrs, "Content-Type")), "application/json");
	sent = parse(json_string_value(json_object_get(out, "body")));
	assert_true(json_equal(sent, body));
	json_decref(sent);
	json_decref(out);
	assert_int_equal(e.api.requests, 1);

	/* Every way of not getting a JSON object is unavailable. */
	assert_int_equal(k8s_kubeapi_call(&e.api, "GET", "/ok", "get", NULL, &out, &err), K8S_UNAVAILABLE);
	assert_string_equal(err.reason, "malformed apiserver answer");
	assert_null(out);
	assert_int_equal(k8s_kubeapi_call(&e.api, "GET", "/redirect", "get", NULL, &out, &err), K8S_UNAVAILABLE);
	assert_string_equal(err.reason, "unexpected apiserver answer");
	assert_non_null(strstr(err.detail, "/redirect: HTTP 302"));
	assert_int_equal(k8s_kubeapi_call(&e.api, "GET", "/nothing", "get", NULL, &out, &err), K8S_UNAVAILABLE);
	assert_non_null(strstr(err.detail, "HTTP 404"));
	assert_int_equal(k8s_kubeapi_call(&e.api, "GET", "/bearer/someone-else", "get", NULL, &out, &err),
			 K8S_UNAVAILABLE);
	assert_string_equal(err.reason, "reviewer credentials rejected (401)");
	assert_null(strstr(err.detail, REVIEWER));
	json_decref(body);
	body = parse("{\"spec\": {\"token\": \"good\"}}");
	assert_int_equal(k8s_kubeapi_call(&e.api, "POST", "/tr/403/apis/authentication.k8s.io/v1/tokenreviews",
					  "create subjectaccessreviews", body, &out, &err), K8S_UNAVAILABLE);
	assert_string_equal(err.reason, "reviewer may not create subjectaccessreviews (403)");
	assert_non_null(strstr(err.detail, "is forbidden"));
	assert_int_equal(k8s_kubeapi_call(&e.api, "POST", "/tr/500/apis/authentication.k8s.io/v1/tokenreviews",
					  "x", body, &out, &err), K8S_UNAVAILABLE);
	assert_non_null(strstr(err.detail, "HTTP 500"));
	assert_int_equal(k8s_kubeapi_call(&e.api, "GET", "no-slash", "get", NULL, &out, &err), K8S_ECONFIG);
	json_decref(body);
	k8s_kubeapi_close(&e.api);

	/* 429: a login's request never waits (retry_max_s 0 after open)... */
	assert_int_equal(api_open(&e, srv.port, REVIEWER, 5000, &err), K8S_OK);
	assert_int_equal(k8s_kubeapi_call(&e.api, "GET", "/shed/login/1/1", "get", NULL, &out, &err),
			 K8S_UNAVAILABLE);
	assert_non_null(strstr(err.detail, "HTTP 429"));
	assert_int_equal(e.api.requests, 1);
	/* ...sync's waits Retry-After and asks again, at most 5 times */
	e.api.retry_max_s = 60;
	e.api.requests = 0;
	t0 = time(NULL);
	assert_int_equal(k8s_kubeapi_call(&e.api, "GET", "/shed/sync/2/1", "get", NULL, &out, &err), K8S_OK);
	assert_int_equal(json_integer_value(json_object_get(out, "tries")), 3);
	assert_true(time(NULL) - t0 >= 1);
	assert_int_equal(e.api.requests, 3);
	assert_int_equal(e.api.retries, 2);
	json_decref(out);
	e.api.requests = 0;
	assert_int_equal(k8s_kubeapi_call(&e.api, "GET", "/shed/forever/99/none", "get", NULL, &out, &err),
			 K8S_UNAVAILABLE);
	assert_int_equal(e.api.requests, 6);
	assert_non_null(strstr(err.detail, "HTTP 429"));
	k8s_kubeapi_close(&e.api);

	/* The timeout bounds the whole request. */
	assert_int_equal(api_open(&e, srv.port, REVIEWER, 300, &err), K8S_OK);
	assert_int_equal(k8s_kubeapi_call(&e.api, "GET", "/sleep/2000", "get", NULL, &out, &err),
			 K8S_UNAVAILABLE);
	k8s_kubeapi_close(&e.api);
	/* Nobody listening. */
	assert_int_equal(api_open(&e, tlssrv_dead_port(), REVIEWER, 2000, &err), K8S_OK);
	assert_int_equal(k8s_kubeapi_call(&e.api, "GET", "/ok", "get", NULL, &out, &err), K8S_UNAVAILABLE);
	k8s_kubeapi_close(&e.api);
}

static void test_kubeapi_config(void **state)
{
	struct api_env e;
	struct k8s_err err;

	memset(&e, 0, sizeof(e));
	snprintf(e.kubeconfig, sizeof(e.kubeconfig), "%s/kubeconfig-insecure", srv.dir);
	write_kubeconfig(e.kubeconfig, srv.port, REVIEWER, 1);
	e.cfg.tokenreview.kubeconfig = e.kubeconfig;
	assert_int_equal(k8s_kubeapi_open(&e.cfg, 1000, &e.api, &err), K8S_ECONFIG);
	assert_string_equal(err.reason, "insecure TLS not allowed");
	k8s_kubeapi_close(&e.api);
	e.cfg.tokenreview.allow_insecure = 1;
	assert_int_equal(k8s_kubeapi_open(&e.cfg, 1000, &e.api, &err), K8S_OK);
	k8s_kubeapi_close(&e.api);
	e.cfg.tokenreview.kubeconfig = "/nonexistent/kubeconfig";
	assert_int_equal(k8s_kubeapi_open(&e.cfg, 1000, &e.api, &err), K8S_ECONFIG);
	k8s_kubeapi_close(&e.api);
}

static void test_safe_text(void **state)
{
	char out[16];

	k8s_kubeapi_safe_text("a\nb\x01" "c\x7f" "d\xc3\xa9" "e", out, sizeof(out));
	assert_string_equal(out, "abcde");
	k8s_kubeapi_safe_text("0123456789abcdefghij", out, sizeof(out));
	assert_string_equal(out, "0123456789abcde");
	k8s_kubeapi_safe_text(NULL, out, sizeof(out));
	assert_string_equal(out, "");
}

static int group_setup(void **state)
{
	return tlssrv_start(&srv) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	tlssrv_stop(&srv);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand_name),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_not_configured),
		cmocka_unit_test(test_kubeapi_call),
		cmocka_unit_test(test_kubeapi_config),
		cmocka_unit_test(test_safe_text),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
