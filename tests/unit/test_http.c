/* test_http: k8s_http_do() against a real local TLS server
 * (tests/unit/srv/tlssrv.py, PKI from the openssl CLI). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>

#include "http.h"
#include "lib_tlssrv.h"

static struct tlssrv srv;
static char *ca, *wrongca, *ccert, *ckey;
static size_t ca_len, wrongca_len, ccert_len, ckey_len;

static int group_setup(void **state)
{
	if (tlssrv_start(&srv) != 0)
		return -1;
	ca = tlssrv_file(&srv, "ca.pem", &ca_len);
	wrongca = tlssrv_file(&srv, "wrongca.pem", &wrongca_len);
	ccert = tlssrv_file(&srv, "client.pem", &ccert_len);
	ckey = tlssrv_file(&srv, "client-key.pem", &ckey_len);
	return ca && wrongca && ccert && ckey ? 0 : -1;
}

static int group_teardown(void **state)
{
	free(ca);
	free(wrongca);
	free(ccert);
	free(ckey);
	tlssrv_stop(&srv);
	return 0;
}

static char url_buf[256];

static const char *url(int port, const char *host, const char *path)
{
	snprintf(url_buf, sizeof(url_buf), "https://%s:%d%s", host, port, path);
	return url_buf;
}

static struct k8s_http_req get_req(const char *path)
{
	struct k8s_http_req r = {
		.method = "GET", .url = url(srv.port, "127.0.0.1", path),
		.ca_pem = ca, .ca_pem_len = ca_len, .timeout_ms = 5000,
	};
	return r;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000L + (t1.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* k8s_http_warm (the helper's, while the person types) leaves nothing
 * behind that a request would trip on, and may run again. */
static void test_warm_then_request(void **state)
{
	struct k8s_http_req r = get_req("/ok");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};

	k8s_http_warm();
	k8s_http_warm();
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	assert_string_equal(resp.body, "hello");
	k8s_http_resp_free(&resp);
}

static void test_verified_ok(void **state)
{
	struct k8s_http_req r = get_req("/ok");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};

	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.body_len, 5);
	assert_string_equal(resp.body, "hello");
	k8s_http_resp_free(&resp);
	assert_null(resp.body);
}

/* The Date header of the answer (k8s-auth status's clock check). */
static time_t date_of(const char *path)
{
	struct k8s_http_req r = get_req(path);
	struct k8s_http_resp resp;
	struct k8s_err err = {0};
	time_t d;

	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	assert_int_equal(resp.status, 200);
	d = resp.date;
	k8s_http_resp_free(&resp);
	assert_int_equal(resp.date, 0);
	return d;
}

static void test_date_header(void **state)
{
	time_t now = time(NULL), d;

	/* the server's own clock (send_response adds Date) */
	d = date_of("/ok");
	assert_true(d >= now - 5 && d <= now + 5);
	assert_int_equal(date_of("/date/1700000000"), 1700000000);
	assert_int_equal(date_of("/date/0"), 0);     /* the epoch reads as "no date" */
	assert_int_equal(date_of("/date/4102444800"), 4102444800LL); /* 2100-01-01 */
	assert_int_equal(date_of("/date/none"), 0);
	assert_int_equal(date_of("/date/junk"), 0);
}

static void expect_unavailable(struct k8s_http_req *r, const char *reason)
{
	struct k8s_http_resp resp;
	struct k8s_err err = {0};

	assert_int_equal(k8s_http_do(r, &resp, &err), K8S_UNAVAILABLE);
	assert_int_equal(err.status, K8S_UNAVAILABLE);
	assert_string_equal(err.reason, reason);
	assert_null(resp.body);
	assert_true(strlen(err.detail) > 0);
}

static void test_wrong_ca(void **state)
{
	struct k8s_http_req r = get_req("/ok");

	r.ca_pem = wrongca;
	r.ca_pem_len = wrongca_len;
	expect_unavailable(&r, "TLS verification failed");
}

static void test_system_store_does_not_trust_test_ca(void **state)
{
	struct k8s_http_req r = get_req("/ok");

	r.ca_pem = NULL;
	r.ca_pem_len = 0;
	expect_unavailable(&r, "TLS verification failed");
}

static void test_hostname_mismatch(void **state)
{
	struct k8s_http_req r = get_req("/ok");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};

	/* The certificate names 127.0.0.1 and apiserver.test, not localhost. */
	r.url = url(srv.port, "localhost", "/ok");
	expect_unavailable(&r, "TLS verification failed");
	r = get_req("/ok");
	r.tls_server_name = "other.test";
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_UNAVAILABLE);
	assert_string_equal(err.reason, "TLS verification failed");
}

static void test_tls_server_name(void **state)
{
	struct k8s_http_req r = get_req("/echo");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};
	json_t *j;
	char host[64];

	r.tls_server_name = "apiserver.test";
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	assert_int_equal(resp.status, 200);
	j = json_loads(resp.body, 0, NULL);
	assert_non_null(j);
	snprintf(host, sizeof(host), "127.0.0.1:%d", srv.port);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "headers"), "Host")), host);
	json_decref(j);
	k8s_http_resp_free(&resp);
}

/* As Go's crypto/x509 (and libcurl): a certificate in the CA data is an
 * anchor even when it is not a root, here the server's own certificate
 * (pinned); and a fully qualified server name (trailing dot) is the name;
 * a leading dot or an empty label is refused (OpenSSL would read
 * ".example" as "any subdomain"). */
static void test_names_and_anchors(void **state)
{
	struct k8s_http_req r = get_req("/ok");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};
	size_t leaf_len;
	char *leaf = tlssrv_file(&srv, "server.pem", &leaf_len);
	const char *bad[] = { ".apiserver.test", "apiserver..test", "." };
	size_t i;

	assert_non_null(leaf);
	r.ca_pem = leaf;
	r.ca_pem_len = leaf_len;
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	assert_int_equal(resp.status, 200);
	k8s_http_resp_free(&resp);
	free(leaf);
	r = get_req("/ok");
	r.tls_server_name = "apiserver.test.";
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	k8s_http_resp_free(&resp);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r.tls_server_name = bad[i];
		assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_ECONFIG);
	}
}

/* A stream (hours of deadline for its body) still gets the per-request
 * deadline until the answer's head: a server that takes the request and
 * says nothing does not hold a watch thread for hours. */
static int drop_line(const char *line, size_t len, void *ud)
{
	(void)line, (void)len, (void)ud;
	return 0;
}

static void test_stream_head_deadline(void **state)
{
	struct k8s_http_req r = get_req("/sleep/4000");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};
	struct timespec t0;
	long el;

	r.timeout_ms = 3600 * 1000L;
	r.head_timeout_ms = 1000;
	r.on_line = drop_line;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_UNAVAILABLE);
	el = ms_since(&t0);
	assert_string_equal(err.reason, "timeout");
	assert_non_null(strstr(err.detail, "after 1000 ms"));
	assert_true(el >= 900 && el < 3000);
	/* the head in time, the body then has the long deadline */
	r = get_req("/ok");
	r.timeout_ms = 3600 * 1000L;
	r.head_timeout_ms = 1000;
	r.on_line = drop_line;
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	k8s_http_resp_free(&resp);
}

static void test_insecure_opt_in(void **state)
{
	struct k8s_http_req r = get_req("/ok");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};

	r.ca_pem = wrongca;
	r.ca_pem_len = wrongca_len;
	r.insecure = 1;
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	assert_int_equal(resp.status, 200);
	k8s_http_resp_free(&resp);
}

static void test_timeout(void **state)
{
	struct k8s_http_req r = get_req("/sleep/4000");
	struct timespec t0;
	struct k8s_http_resp resp;
	struct k8s_err err = {0};
	long el;

	r.timeout_ms = 1000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_UNAVAILABLE);
	el = ms_since(&t0);
	assert_string_equal(err.reason, "timeout");
	assert_non_null(strstr(err.detail, "1000 ms"));
	assert_true(el >= 900);
	assert_true(el < 2000);
}

static void test_connect_refused(void **state)
{
	struct k8s_http_req r = get_req("/ok");

	r.url = url(tlssrv_dead_port(), "127.0.0.1", "/ok");
	expect_unavailable(&r, "connection failed");
}

static void test_body_cap(void **state)
{
	struct k8s_http_req r = get_req("/big/1000");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};

	r.max_body = 1000;
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	assert_int_equal(resp.body_len, 1000);
	assert_int_equal(resp.body[1000], '\0');
	k8s_http_resp_free(&resp);

	r = get_req("/big/1001");
	r.max_body = 1000;
	expect_unavailable(&r, "response too large");
	r = get_req("/bigchunked/5000");
	r.max_body = 1000;
	expect_unavailable(&r, "response too large");
	/* Default cap: 1 MiB. */
	r = get_req("/bigchunked/1048577");
	expect_unavailable(&r, "response too large");
	r = get_req("/big/1048576");
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	assert_int_equal(resp.body_len, 1048576);
	k8s_http_resp_free(&resp);
}

/* The answer reader (httpparse.c) against bytes a real TLS peer sends. */
static void raw_ok(const char *name, const char *want)
{
	char path[64];
	struct k8s_http_req r;
	struct k8s_http_resp resp;
	struct k8s_err err = {0};

	snprintf(path, sizeof(path), "/raw/%s", name);
	r = get_req(path);
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body, want);
	k8s_http_resp_free(&resp);
}

static void raw_refused(const char *path, const char *reason)
{
	struct k8s_http_req r = get_req(path);
	struct k8s_http_resp resp;
	struct k8s_err err = {0};

	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_UNAVAILABLE);
	assert_string_equal(err.reason, reason);
	assert_null(resp.body);
}

static void test_answer_forms(void **state)
{
	raw_ok("interim", "final");
	raw_ok("chunkext", "abcde");
	raw_ok("toclose", "until the end");
	raw_ok("longheader", "ok");
}

static void test_answer_refusals(void **state)
{
	/* cut: with close_notify after a short body, and without it where
	 * only close_notify could say the body was whole */
	raw_refused("/raw/cut", "answer cut short");
	raw_refused("/raw/cutchunk", "answer cut short");
	raw_refused("/raw/cut/bare", "answer cut short");
	raw_refused("/raw/toclose/bare", "answer cut short");
	raw_refused("/raw/garbage", "malformed answer");
	raw_refused("/raw/twolengths", "malformed answer");
	raw_refused("/raw/gzip", "malformed answer");
	raw_refused("/raw/switch", "malformed answer");
	raw_refused("/raw/folded", "malformed answer");
	raw_refused("/raw/hugehead", "malformed answer");
	raw_refused("/raw/longlength", "malformed answer");
	raw_refused("/raw/nothing", "answer cut short");
}

/* A peer that resets the connection while the request's body is still
 * being written: an error, and the process lives with SIGPIPE's default
 * action, as the helper has it.  (Linux reports the reset to the first
 * write as ECONNRESET and only a second write raises SIGPIPE, which
 * OpenSSL does not make after an error: http.c blocks SIGPIPE around each
 * TLS call all the same, for a write that follows a read that took the
 * reset, e.g. an alert.) */
static void test_reset_is_an_error(void **state)
{
	struct k8s_http_req r = get_req("/reset");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};
	size_t n = 8 * 1024 * 1024;
	char *body = malloc(n);
	void (*old)(int) = signal(SIGPIPE, SIG_DFL);
	int i;

	assert_non_null(body);
	memset(body, 'x', n);
	r.method = "POST";
	r.body = body;
	r.body_len = n;
	r.content_type = "application/octet-stream";
	for (i = 0; i < 3; i++) {
		assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_UNAVAILABLE);
		assert_null(resp.body);
	}
	signal(SIGPIPE, old);
	free(body);
}

/* A listener that takes the connection and closes it, at once (before
 * the ClientHello: FIN, then RST to it) or once the ClientHello arrived
 * (unread: RST).  Closed at once, OpenSSL's write after the handshake's
 * failed read raises SIGPIPE, whose default action ends the process (the
 * helper's, the CLI's): exit 141 without the guard in http.c.  It must be
 * an error instead.  (Found by t_check_times.) */
static useconds_t delay_us;

static void *accept_and_reset(void *arg)
{
	int ls = *(int *)arg, i;

	for (i = 0; i < 3; i++) {
		int c = accept(ls, NULL, NULL);

		if (c < 0)
			break;
		usleep(delay_us);
		close(c);
	}
	return NULL;
}

static void reset_in_handshake(useconds_t us)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), i;
	void (*old)(int) = signal(SIGPIPE, SIG_DFL);
	char u[64];
	pthread_t th;

	assert_true(ls >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(ls, 8), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
	snprintf(u, sizeof(u), "https://127.0.0.1:%d/", ntohs(a.sin_port));
	delay_us = us;
	assert_int_equal(pthread_create(&th, NULL, accept_and_reset, &ls), 0);
	for (i = 0; i < 3; i++) {
		struct k8s_http_req r = get_req("/");
		struct k8s_http_resp resp;
		struct k8s_err err = {0};

		r.url = u;
		assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_UNAVAILABLE);
		assert_string_equal(err.reason, "TLS handshake failed");
	}
	pthread_join(th, NULL);
	close(ls);
	signal(SIGPIPE, old);
}

static void test_reset_in_handshake(void **state)
{
	reset_in_handshake(0);
	reset_in_handshake(100 * 1000);
}

static void test_empty_body_is_string(void **state)
{
	struct k8s_http_req r = get_req("/big/0");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};

	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	assert_non_null(resp.body);
	assert_int_equal(resp.body_len, 0);
	assert_string_equal(resp.body, "");
	k8s_http_resp_free(&resp);
}

static void test_redirect_not_followed(void **state)
{
	struct k8s_http_req r = get_req("/redirect");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};

	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	assert_int_equal(resp.status, 302);
	assert_string_equal(resp.body, "moved");
	k8s_http_resp_free(&resp);
}

static void test_proxy_env_ignored(void **state)
{
	struct k8s_http_req r = get_req("/ok");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};
	char proxy[64];
	static const char *vars[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "http_proxy"};
	size_t i;

	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", tlssrv_dead_port());
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		setenv(vars[i], proxy, 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	assert_int_equal(resp.status, 200);
	k8s_http_resp_free(&resp);
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

static void test_bearer_sent(void **state)
{
	struct k8s_http_req r = get_req("/bearer/s3cr3t-reviewer");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};

	r.bearer = "s3cr3t-reviewer";
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body, "bearer ok");
	k8s_http_resp_free(&resp);

	r.bearer = "something-else";
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	assert_int_equal(resp.status, 401);
	k8s_http_resp_free(&resp);
}

static void test_bearer_not_in_errors(void **state)
{
	struct k8s_http_req r = get_req("/ok");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};

	r.bearer = "BEARER-MUST-NOT-LEAK";
	r.ca_pem = wrongca;
	r.ca_pem_len = wrongca_len;
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_UNAVAILABLE);
	assert_null(strstr(err.detail, "BEARER-MUST-NOT-LEAK"));
	assert_null(strstr(err.reason, "BEARER-MUST-NOT-LEAK"));
	r = get_req("/sleep/3000");
	r.bearer = "BEARER-MUST-NOT-LEAK";
	r.timeout_ms = 200;
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_UNAVAILABLE);
	assert_null(strstr(err.detail, "BEARER-MUST-NOT-LEAK"));
}

static void test_client_cert(void **state)
{
	struct k8s_http_req r = get_req("/echo");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};
	json_t *j;

	r.url = url(srv.mtls_port, "127.0.0.1", "/echo");
	/* Without a client certificate the handshake is refused. */
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_UNAVAILABLE);

	r.client_cert_pem = ccert;
	r.client_cert_len = ccert_len;
	r.client_key_pem = ckey;
	r.client_key_len = ckey_len;
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	assert_int_equal(resp.status, 200);
	j = json_loads(resp.body, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "client_cn")), "reviewer");
	json_decref(j);
	k8s_http_resp_free(&resp);
}

static void test_post_shape(void **state)
{
	static const char body[] = "{\"a\":1}";
	struct k8s_http_req r = get_req("/echo");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};
	json_t *j, *h;

	r.method = "POST";
	r.content_type = "application/json";
	r.accept = "application/json";
	r.body = body;
	r.body_len = sizeof(body) - 1;
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_OK);
	j = json_loads(resp.body, 0, NULL);
	assert_non_null(j);
	h = json_object_get(j, "headers");
	assert_string_equal(json_string_value(json_object_get(j, "method")), "POST");
	assert_string_equal(json_string_value(json_object_get(j, "body")), body);
	assert_string_equal(json_string_value(json_object_get(h, "Content-Type")), "application/json");
	assert_string_equal(json_string_value(json_object_get(h, "Accept")), "application/json");
	assert_null(json_object_get(h, "Expect"));
	assert_null(json_object_get(h, "Authorization"));
	json_decref(j);
	k8s_http_resp_free(&resp);
}

static void test_bad_requests(void **state)
{
	struct k8s_http_req r = get_req("/ok");
	struct k8s_http_resp resp;
	struct k8s_err err = {0};
	char plain[128];

	snprintf(plain, sizeof(plain), "http://127.0.0.1:%d/ok", srv.port);
	r.url = plain;
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_ECONFIG);
	r = get_req("/ok");
	r.bearer = "abc\r\nX-Injected: 1";
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_ECONFIG);
	assert_null(strstr(err.detail, "X-Injected"));
	snprintf(plain, sizeof(plain), "https://user:pw@127.0.0.1:%d/ok", srv.port);
	r = get_req("/ok");
	r.url = plain;
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_ECONFIG);
	assert_null(strstr(err.detail, "pw"));
	r = get_req("/ok");
	r.method = "DELETE";
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_ECONFIG);
	r = get_req("/ok");
	r.tls_server_name = "evil:1/x";
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_ECONFIG);
	/* a URL host of the shape refused as a server name (name_shape_ok) */
	snprintf(plain, sizeof(plain), "https://.apiserver.test:%d/ok", srv.port);
	r = get_req("/ok");
	r.url = plain;
	assert_int_equal(k8s_http_do(&r, &resp, &err), K8S_ECONFIG);
}

static void *thread_main(void *arg)
{
	long ok = 0;
	int i;

	for (i = 0; i < 3; i++) {
		struct k8s_http_req r = {
			.method = "GET", .url = arg, .ca_pem = ca, .ca_pem_len = ca_len,
			.timeout_ms = 5000,
		};
		struct k8s_http_resp resp;
		struct k8s_err err = {0};

		if (k8s_http_do(&r, &resp, &err) == K8S_OK && resp.status == 200 &&
		    strcmp(resp.body, "hello") == 0)
			ok++;
		k8s_http_resp_free(&resp);
	}
	return (void *)ok;
}

static void test_threads(void **state)
{
	pthread_t t[4];
	char u[128];
	void *rv;
	long total = 0;
	int i;

	snprintf(u, sizeof(u), "https://127.0.0.1:%d/ok", srv.port);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, u), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], &rv);
		total += (long)rv;
	}
	assert_int_equal(total, 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_warm_then_request),
		cmocka_unit_test(test_verified_ok),
		cmocka_unit_test(test_date_header),
		cmocka_unit_test(test_wrong_ca),
		cmocka_unit_test(test_system_store_does_not_trust_test_ca),
		cmocka_unit_test(test_hostname_mismatch),
		cmocka_unit_test(test_tls_server_name),
		cmocka_unit_test(test_insecure_opt_in),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_body_cap),
		cmocka_unit_test(test_empty_body_is_string),
		cmocka_unit_test(test_redirect_not_followed),
		cmocka_unit_test(test_proxy_env_ignored),
		cmocka_unit_test(test_bearer_sent),
		cmocka_unit_test(test_bearer_not_in_errors),
		cmocka_unit_test(test_client_cert),
		cmocka_unit_test(test_post_shape),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_answer_forms),
		cmocka_unit_test(test_answer_refusals),
		cmocka_unit_test(test_reset_is_an_error),
		cmocka_unit_test(test_reset_in_handshake),
		cmocka_unit_test(test_names_and_anchors),
		cmocka_unit_test(test_stream_head_deadline),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
