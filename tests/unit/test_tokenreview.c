/* test_tokenreview: request shape, answer parsing, and whole reviews
 * against the fake apiserver of tests/unit/srv/tlssrv.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "kubeconfig.h"
#include "lib_tlssrv.h"
#include "tokenreview.h"
#include "util.h"

#define REVIEWER "reviewer-secret-token"

static char *aud_v[] = {"host-login:test", "second"};
static const struct k8s_strv auds1 = {.v = aud_v, .n = 1};
static const struct k8s_strv auds2 = {.v = aud_v, .n = 2};
static const struct k8s_strv no_auds = {0};

/* ------------------------------------------------------------ request */

static void test_request_body_shape(void **state)
{
	char *b;

	b = k8s_tokenreview_request_body("abc.DEF-_~+/=", &auds2);
	assert_non_null(b);
	assert_string_equal(b, "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
			    "\"spec\":{\"token\":\"abc.DEF-_~+/=\",\"audiences\":[\"host-login:test\",\"second\"]}}");
	k8s_freezero_str(b);
	b = k8s_tokenreview_request_body("tok", &no_auds);
	assert_string_equal(b, "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
			    "\"spec\":{\"token\":\"tok\"}}");
	k8s_freezero_str(b);
	b = k8s_tokenreview_request_body("tok", NULL);
	assert_non_null(b);
	k8s_freezero_str(b);
}

static void test_request_body_refuses_non_bearer(void **state)
{
	char big[20000];

	assert_null(k8s_tokenreview_request_body("", &auds1));
	assert_null(k8s_tokenreview_request_body(NULL, &auds1));
	assert_null(k8s_tokenreview_request_body("a b", &auds1));
	assert_null(k8s_tokenreview_request_body("a\"b", &auds1));
	assert_null(k8s_tokenreview_request_body("a\\b", &auds1));
	assert_null(k8s_tokenreview_request_body("a\nb", &auds1));
	assert_null(k8s_tokenreview_request_body("caf\xc3\xa9", &auds1));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_null(k8s_tokenreview_request_body(big, &auds1));
}

/* ------------------------------------------------------------ parsing */

static int parse(const char *body, const struct k8s_strv *a, struct k8s_identity *id,
		 struct k8s_err *err)
{
	k8s_err_clear(err);
	return k8s_tokenreview_parse_response(body, strlen(body), "the-token", a, id, err);
}

#define HDR "\"kind\":\"TokenReview\",\"apiVersion\":\"authentication.k8s.io/v1\""
#define USER "\"user\":{\"username\":\"system:serviceaccount:ns1:sa1\",\"uid\":\"u-1\"," \
	     "\"groups\":[\"g1\",\"g2\"],\"extra\":{\"k\":[\"v1\",\"v2\"]}}"

static void expect(const char *body, const struct k8s_strv *a, int status, const char *reason)
{
	struct k8s_identity id;
	struct k8s_err err;

	assert_int_equal(parse(body, a, &id, &err), status);
	assert_int_equal(err.status, status);
	assert_string_equal(err.reason, reason);
	assert_null(id.username);
	assert_int_equal(id.n_groups, 0);
	assert_null(id.extra);
}

#define MALFORMED(body) expect(body, &auds1, K8S_UNAVAILABLE, "malformed TokenReview answer")

static void test_parse_ok(void **state)
{
	struct k8s_identity id;
	struct k8s_err err;
	json_t *v;

	assert_int_equal(parse("{" HDR ",\"spec\":{\"token\":\"the-token\"},\"status\":{\"authenticated\":true,"
			       USER ",\"audiences\":[\"x\",\"second\"]}}", &auds2, &id, &err), K8S_OK);
	assert_string_equal(id.method, "tokenreview");
	assert_string_equal(id.username, "system:serviceaccount:ns1:sa1");
	assert_string_equal(id.uid, "u-1");
	assert_int_equal(id.n_groups, 2);
	assert_string_equal(id.groups[0], "g1");
	assert_string_equal(id.groups[1], "g2");
	v = json_object_get(id.extra, "k");
	assert_int_equal(json_array_size(v), 2);
	assert_string_equal(json_string_value(json_array_get(v, 1)), "v2");
	assert_int_equal(id.exp, 0);
	assert_null(id.issuer);
	k8s_identity_free(&id);

	/* Minimal: no uid, groups, extra. */
	assert_int_equal(parse("{" HDR ",\"status\":{\"authenticated\":true,\"user\":{\"username\":\"u\"},"
			       "\"audiences\":[\"host-login:test\"]}}", &auds1, &id, &err), K8S_OK);
	assert_null(id.uid);
	assert_int_equal(id.n_groups, 0);
	assert_true(json_is_object(id.extra));
	assert_int_equal(json_object_size(id.extra), 0);
	k8s_identity_free(&id);

	/* Asked for no audiences (allowEmptyAudiences): the apiserver's own are fine. */
	assert_int_equal(parse("{" HDR ",\"status\":{\"authenticated\":true,\"user\":{\"username\":\"u\"},"
			       "\"audiences\":[\"https://kubernetes.default.svc\"]}}", &no_auds, &id, &err), K8S_OK);
	k8s_identity_free(&id);
}

static void test_parse_audiences(void **state)
{
	expect("{" HDR ",\"status\":{\"authenticated\":true," USER ",\"audiences\":[]}}",
	       &auds1, K8S_REFUSED, "wrong audience");
	expect("{" HDR ",\"status\":{\"authenticated\":true," USER "}}",
	       &auds1, K8S_REFUSED, "wrong audience");
	expect("{" HDR ",\"status\":{\"authenticated\":true," USER ",\"audiences\":[\"other\"]}}",
	       &auds2, K8S_REFUSED, "wrong audience");
	expect("{" HDR ",\"status\":{\"authenticated\":true," USER ",\"audiences\":[\"HOST-LOGIN:TEST\"]}}",
	       &auds1, K8S_REFUSED, "wrong audience");
	/* issue 14: the detail shows what the apiserver said and what we asked
	 * for; an audience echoing the token is scrubbed */
	{
		struct k8s_identity id;
		struct k8s_err err;

		assert_int_equal(parse("{" HDR ",\"status\":{\"authenticated\":true," USER
				       ",\"audiences\":[\"other\",\"x-the-token-y\"]}}", &auds1, &id, &err),
				 K8S_REFUSED);
		assert_string_equal(err.detail, "the apiserver authenticated the token for audiences "
				    "[\"other\", \"x-*********-y\"]; expected \"host-login:test\"");
		assert_int_equal(parse("{" HDR ",\"status\":{\"authenticated\":true," USER "}}", &auds2,
				       &id, &err), K8S_REFUSED);
		assert_non_null(strstr(err.detail, "for audiences (none); expected one of \""));
	}
	MALFORMED("{" HDR ",\"status\":{\"authenticated\":true," USER ",\"audiences\":\"host-login:test\"}}");
	MALFORMED("{" HDR ",\"status\":{\"authenticated\":true," USER ",\"audiences\":[1]}}");
}

static void test_parse_refused(void **state)
{
	struct k8s_identity id;
	struct k8s_err err;

	assert_int_equal(parse("{" HDR ",\"status\":{\"authenticated\":false,\"error\":\"token expired\"}}",
			       &auds1, &id, &err), K8S_REFUSED);
	assert_string_equal(err.reason, "token rejected by the apiserver");
	assert_non_null(strstr(err.detail, "token expired"));
	expect("{" HDR ",\"status\":{}}", &auds1, K8S_REFUSED, "token rejected by the apiserver");
	expect("{" HDR "}", &auds1, K8S_REFUSED, "token rejected by the apiserver");
	expect("{" HDR ",\"status\":{\"authenticated\":false," USER ",\"audiences\":[\"host-login:test\"]}}",
	       &auds1, K8S_REFUSED, "token rejected by the apiserver");
	expect("{" HDR ",\"status\":{\"authenticated\":null," USER ",\"audiences\":[\"host-login:test\"]}}",
	       &auds1, K8S_REFUSED, "token rejected by the apiserver");
}

static void test_parse_malformed(void **state)
{
	MALFORMED("");
	MALFORMED("{not json");
	MALFORMED("[]");
	MALFORMED("\"TokenReview\"");
	MALFORMED("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":{\"authenticated\":true}}");
	MALFORMED("{\"kind\":\"TokenReview\",\"apiVersion\":\"authentication.k8s.io/v1beta1\","
		  "\"status\":{\"authenticated\":true," USER ",\"audiences\":[\"host-login:test\"]}}");
	MALFORMED("{\"kind\":\"TokenReview\",\"status\":{\"authenticated\":true," USER
		  ",\"audiences\":[\"host-login:test\"]}}");
	MALFORMED("{" HDR ",\"status\":[]}");
	MALFORMED("{" HDR ",\"status\":{\"authenticated\":\"true\"," USER ",\"audiences\":[\"host-login:test\"]}}");
	MALFORMED("{" HDR ",\"status\":{\"authenticated\":1," USER ",\"audiences\":[\"host-login:test\"]}}");
	/* Duplicate keys could hide a second, different answer. */
	MALFORMED("{" HDR ",\"status\":{\"authenticated\":false,\"authenticated\":true," USER
		  ",\"audiences\":[\"host-login:test\"]}}");
}

#define AUTH_OK(user) "{" HDR ",\"status\":{\"authenticated\":true,\"user\":" user \
		      ",\"audiences\":[\"host-login:test\"]}}"

static void test_parse_user_fields(void **state)
{
	MALFORMED(AUTH_OK("{}"));
	MALFORMED(AUTH_OK("null"));
	MALFORMED(AUTH_OK("\"u\""));
	MALFORMED(AUTH_OK("{\"username\":\"\"}"));
	MALFORMED(AUTH_OK("{\"username\":42}"));
	MALFORMED(AUTH_OK("{\"username\":null}"));
	MALFORMED(AUTH_OK("{\"username\":\"u\",\"uid\":7}"));
	MALFORMED(AUTH_OK("{\"username\":\"u\",\"groups\":\"g\"}"));
	MALFORMED(AUTH_OK("{\"username\":\"u\",\"groups\":[\"g\",1]}"));
	MALFORMED(AUTH_OK("{\"username\":\"u\",\"groups\":[\"g\",null]}"));
	MALFORMED(AUTH_OK("{\"username\":\"u\",\"groups\":[[\"g\"]]}"));
	MALFORMED(AUTH_OK("{\"username\":\"u\",\"extra\":[]}"));
	MALFORMED(AUTH_OK("{\"username\":\"u\",\"extra\":{\"k\":\"v\"}}"));
	MALFORMED(AUTH_OK("{\"username\":\"u\",\"extra\":{\"k\":[\"v\",2]}}"));
	MALFORMED(AUTH_OK("{\"username\":\"u\",\"extra\":{\"k\":{\"a\":[\"b\"]}}}"));
	/* NUL inside a username would truncate it: jansson refuses \u0000. */
	MALFORMED(AUTH_OK("{\"username\":\"root\\u0000x\"}"));
}

static void assert_clean_detail(const struct k8s_err *err, const char *secret)
{
	size_t i;

	assert_true(strlen(err->detail) < sizeof(err->detail));
	if (secret[0] != '\0') {
		assert_null(strstr(err->detail, secret));
		assert_null(strstr(err->reason, secret));
	}
	for (i = 0; err->detail[i] != '\0'; i++)
		assert_true((unsigned char)err->detail[i] >= 0x20 && err->detail[i] != 0x7f);
}

static void test_parse_error_sanitized(void **state)
{
	static const char tok[] = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
	struct k8s_identity id;
	struct k8s_err err;
	struct k8s_buf b = {0};
	size_t i;

	/* The token echoed in status.error, control characters, escape codes. */
	assert_int_equal(k8s_buf_printf(&b, "{" HDR ",\"status\":{\"authenticated\":false,\"error\":"
					"\"[invalid bearer token, token %s not valid]\\n\\u001b[31mFAKE LOG LINE\\r\"}}",
					tok), 0);
	k8s_err_clear(&err);
	assert_int_equal(k8s_tokenreview_parse_response(b.data, b.len, tok, &auds1, &id, &err), K8S_REFUSED);
	assert_clean_detail(&err, tok);
	assert_null(strstr(err.detail, "eyJ"));
	assert_non_null(strstr(err.detail, "invalid bearer token"));
	assert_non_null(strstr(err.detail, "FAKE LOG LINE"));
	k8s_buf_free(&b);

	/* Dropping control characters must not rejoin a split token (found
	 * by fuzz_tokenreview). */
	assert_int_equal(k8s_buf_printf(&b, "{" HDR ",\"status\":{\"authenticated\":false,\"error\":"
					"\"x the-tok\\u007fen y the-\\u0001token z\"}}"), 0);
	k8s_err_clear(&err);
	assert_int_equal(k8s_tokenreview_parse_response(b.data, b.len, "the-token", &auds1, &id, &err),
			 K8S_REFUSED);
	assert_clean_detail(&err, "the-token");
	assert_non_null(strstr(err.detail, "x "));
	k8s_buf_free(&b);

	/* A long token-like run is redacted even when it is not our token. */
	assert_int_equal(k8s_buf_printf(&b, "{" HDR ",\"status\":{\"authenticated\":false,\"error\":"
					"\"bad %s%s%s\"}}", tok, tok, tok), 0);
	k8s_err_clear(&err);
	assert_int_equal(k8s_tokenreview_parse_response(b.data, b.len, "other", &auds1, &id, &err), K8S_REFUSED);
	assert_clean_detail(&err, "eyJzdWIiOiJ4In0");
	assert_non_null(strstr(err.detail, "[redacted]"));
	k8s_buf_free(&b);

	/* Huge error strings are capped. */
	assert_int_equal(k8s_buf_printf(&b, "{" HDR ",\"status\":{\"authenticated\":false,\"error\":\""), 0);
	for (i = 0; i < 100000; i++)
		assert_int_equal(k8s_buf_append(&b, i % 7 ? "x" : " ", 1), 0);
	assert_int_equal(k8s_buf_printf(&b, "\"}}"), 0);
	k8s_err_clear(&err);
	assert_int_equal(k8s_tokenreview_parse_response(b.data, b.len, tok, &auds1, &id, &err), K8S_REFUSED);
	assert_true(strlen(err.detail) <= 250);
	k8s_buf_free(&b);
}

/* ------------------------------------------------------ against a server */

static struct tlssrv srv;
static char *ca, *wrongca, *ccert, *ckey, *sa_jwt;
static size_t ca_len, wrongca_len, ccert_len, ckey_len;

static int group_setup(void **state)
{
	size_t n = 0;

	if (tlssrv_start(&srv) != 0)
		return -1;
	ca = tlssrv_file(&srv, "ca.pem", &ca_len);
	wrongca = tlssrv_file(&srv, "wrongca.pem", &wrongca_len);
	ccert = tlssrv_file(&srv, "client.pem", &ccert_len);
	ckey = tlssrv_file(&srv, "client-key.pem", &ckey_len);
	sa_jwt = tlssrv_file(&srv, "sa.jwt", &n);
	return ca && wrongca && ccert && ckey && sa_jwt ? 0 : -1;
}

static int group_teardown(void **state)
{
	free(ca);
	free(wrongca);
	free(ccert);
	free(ckey);
	free(sa_jwt);
	tlssrv_stop(&srv);
	return 0;
}

struct env {
	struct k8s_config cfg;
	struct k8s_kubeconfig kc;
	char server[128];
};

static void env_init(struct env *e, const char *mode)
{
	memset(e, 0, sizeof(*e));
	e->cfg.path = "test-config.yaml";
	e->cfg.has_tokenreview = 1;
	e->cfg.tokenreview.audiences = auds1;
	e->cfg.tokenreview.timeout_ms = 5000;
	snprintf(e->server, sizeof(e->server), "https://127.0.0.1:%d/tr/%s",
		 strcmp(mode, "mtls") == 0 ? srv.mtls_port : srv.port, mode);
	e->kc.path = "test-kubeconfig";
	e->kc.server = e->server;
	e->kc.ca_pem = ca;
	e->kc.ca_pem_len = ca_len;
	e->kc.token = REVIEWER;
}

static int review(struct env *e, const char *token, struct k8s_identity *id, struct k8s_err *err)
{
	struct k8s_token t;
	int rc;

	k8s_err_clear(err);
	k8s_token_decode(&t, token, token != NULL ? strlen(token) : 0);
	rc = k8s_tokenreview(&e->cfg, &e->kc, &t, id, err);
	k8s_token_free(&t);
	if (rc != K8S_OK) {
		assert_null(id->username);
		assert_int_equal(err->status, rc);
		assert_clean_detail(err, token);
		assert_clean_detail(err, REVIEWER);
	}
	return rc;
}

static void test_review_ok(void **state)
{
	struct env e;
	struct k8s_identity id;
	struct k8s_err err;
	char fp[17];

	env_init(&e, "ok");
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_OK);
	assert_string_equal(id.method, "tokenreview");
	assert_string_equal(id.username, "system:serviceaccount:ns1:sa1");
	assert_string_equal(id.uid, "0b4c7f2e-uid");
	assert_int_equal(id.n_groups, 3);
	assert_true(k8s_identity_has_group(&id, "system:serviceaccounts:ns1"));
	assert_string_equal(json_string_value(json_array_get(
		json_object_get(id.extra, "authentication.kubernetes.io/pod-name"), 0)), "pod-1");
	k8s_token_fingerprint("good-token-1", 12, fp);
	assert_string_equal(id.fingerprint, fp);
	assert_int_equal(id.exp, 0); /* opaque token: unknown */
	k8s_identity_free(&id);

	/* 200 is accepted as well as 201; a trailing slash on the server too. */
	env_init(&e, "200");
	strcat(e.server, "/");
	assert_int_equal(review(&e, "good-token-2", &id, &err), K8S_OK);
	k8s_identity_free(&id);
}

static void test_review_jwt_claims(void **state)
{
	struct env e;
	struct k8s_identity id;
	struct k8s_err err;
	time_t now = time(NULL);

	env_init(&e, "ok");
	assert_int_equal(review(&e, sa_jwt, &id, &err), K8S_OK);
	assert_true(id.exp > now && id.exp <= now + 700);
	assert_true(id.iat > 0 && id.iat <= now);
	assert_true(id.nbf > 0 && id.nbf <= now);
	assert_string_equal(id.namespace_, "ns1");
	assert_string_equal(id.sa_name, "sa1");
	assert_string_equal(id.sa_uid, "sa-uid-1");
	assert_string_equal(id.pod_name, "pod-1");
	assert_string_equal(id.pod_uid, "pod-uid-1");
	assert_string_equal(id.node_name, "node-1");
	assert_string_equal(id.node_uid, "node-uid-1");
	assert_int_equal(id.legacy_sa, 0);
	k8s_identity_free(&id);
}

static void test_review_refused_token_scrubbed(void **state)
{
	static const char tok[] = "bad-token-d4f8a1c9e2b7";
	struct env e;
	struct k8s_identity id;
	struct k8s_err err;

	env_init(&e, "ok");
	/* The fake apiserver echoes the token in status.error. */
	assert_int_equal(review(&e, tok, &id, &err), K8S_REFUSED);
	assert_string_equal(err.reason, "token rejected by the apiserver");
	assert_non_null(strstr(err.detail, "invalid bearer token"));
	assert_null(strstr(err.detail, "d4f8a1c9e2b7"));
}

static void test_review_audiences(void **state)
{
	struct env e;
	struct k8s_identity id;
	struct k8s_err err;

	env_init(&e, "wrongaud");
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_REFUSED);
	assert_string_equal(err.reason, "wrong audience");
	env_init(&e, "noaud");
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_REFUSED);
	assert_string_equal(err.reason, "wrong audience");
}

static void test_review_http_failures(void **state)
{
	struct env e;
	struct k8s_identity id;
	struct k8s_err err;

	env_init(&e, "ok");
	e.kc.token = "wrong-reviewer";
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_UNAVAILABLE);
	assert_string_equal(err.reason, "reviewer credentials rejected (401)");
	assert_null(strstr(err.detail, "wrong-reviewer"));

	env_init(&e, "403");
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_UNAVAILABLE);
	assert_string_equal(err.reason, "reviewer not permitted to create tokenreviews (403)");
	assert_non_null(strstr(err.detail, "cannot create resource"));

	env_init(&e, "500");
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_UNAVAILABLE);
	assert_non_null(strstr(err.detail, "HTTP 500"));

	env_init(&e, "malformed");
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_UNAVAILABLE);
	assert_string_equal(err.reason, "malformed TokenReview answer");

	/* A redirect is never followed: unavailable, naming the 302. */
	env_init(&e, "redirect");
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_UNAVAILABLE);
	assert_non_null(strstr(err.detail, "HTTP 302"));
}

static void test_review_tls(void **state)
{
	struct env e;
	struct k8s_identity id;
	struct k8s_err err;

	env_init(&e, "ok");
	e.kc.ca_pem = wrongca;
	e.kc.ca_pem_len = wrongca_len;
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_UNAVAILABLE);
	assert_string_equal(err.reason, "TLS verification failed");

	/* insecure-skip-tls-verify in the kubeconfig needs the config opt-in. */
	e.kc.insecure_skip_verify = 1;
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_ECONFIG);
	e.cfg.tokenreview.allow_insecure = 1;
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_OK);
	k8s_identity_free(&id);

	env_init(&e, "ok");
	e.kc.tls_server_name = "apiserver.test";
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_OK);
	k8s_identity_free(&id);
}

static void test_review_client_cert(void **state)
{
	struct env e;
	struct k8s_identity id;
	struct k8s_err err;

	env_init(&e, "mtls");
	e.kc.token = NULL;
	e.kc.client_cert_pem = ccert;
	e.kc.client_cert_len = ccert_len;
	e.kc.client_key_pem = ckey;
	e.kc.client_key_len = ckey_len;
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_OK);
	assert_string_equal(id.username, "system:serviceaccount:ns1:sa1");
	k8s_identity_free(&id);

	e.kc.client_cert_pem = e.kc.client_key_pem = NULL;
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_UNAVAILABLE);
}

static void write_secret(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_review_token_file_reread(void **state)
{
	struct env e;
	struct k8s_identity id;
	struct k8s_err err;
	char path[128];

	snprintf(path, sizeof(path), "%s/reviewer-token", srv.dir);
	write_secret(path, REVIEWER "\n");
	env_init(&e, "ok");
	e.kc.token = NULL;
	e.kc.token_file = path;
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_OK);
	k8s_identity_free(&id);
	/* Rotated to something the apiserver does not accept: read again. */
	write_secret(path, "rotated-token\n");
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_UNAVAILABLE);
	assert_string_equal(err.reason, "reviewer credentials rejected (401)");
}

static void test_review_timeout(void **state)
{
	struct env e;
	struct k8s_identity id;
	struct k8s_err err;
	struct timespec t0, t1;
	long ms;

	env_init(&e, "slow");
	e.cfg.tokenreview.timeout_ms = 1000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_UNAVAILABLE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L;
	assert_string_equal(err.reason, "timeout");
	assert_true(ms >= 900 && ms < 2000);
}

static void test_review_bad_input(void **state)
{
	struct env e;
	struct k8s_identity id;
	struct k8s_err err;

	env_init(&e, "ok");
	assert_int_equal(review(&e, "has space", &id, &err), K8S_REFUSED);
	assert_string_equal(err.reason, "malformed token");
	assert_int_equal(review(&e, "", &id, &err), K8S_REFUSED);
	e.kc.server = NULL;
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_ECONFIG);
	env_init(&e, "ok");
	e.server[4] = ':'; /* "http:" */
	memmove(e.server + 4, e.server + 5, strlen(e.server + 5) + 1);
	assert_int_equal(review(&e, "good-token-1", &id, &err), K8S_ECONFIG);
}

int main(void)
{
	const struct CMUnitTest offline[] = {
		cmocka_unit_test(test_request_body_shape),
		cmocka_unit_test(test_request_body_refuses_non_bearer),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_audiences),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_user_fields),
		cmocka_unit_test(test_parse_error_sanitized),
	};
	const struct CMUnitTest online[] = {
		cmocka_unit_test(test_review_ok),
		cmocka_unit_test(test_review_jwt_claims),
		cmocka_unit_test(test_review_refused_token_scrubbed),
		cmocka_unit_test(test_review_audiences),
		cmocka_unit_test(test_review_http_failures),
		cmocka_unit_test(test_review_tls),
		cmocka_unit_test(test_review_client_cert),
		cmocka_unit_test(test_review_token_file_reread),
		cmocka_unit_test(test_review_timeout),
		cmocka_unit_test(test_review_bad_input),
	};
	int fails;

	fails = cmocka_run_group_tests_name("tokenreview offline", offline, NULL, NULL);
	fails += cmocka_run_group_tests_name("tokenreview online", online, group_setup, group_teardown);
	return fails != 0;
}
