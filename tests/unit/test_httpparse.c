/* Unit tests for httpparse.c: the HTTP-date forms of RFC 9110 5.6.7 (its
 * own example instant in all three), Retry-After, and answers fed one
 * byte at a time (as the smallest TLS records would bring them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "httpparse.h"
#include "util.h"

/* RFC 9110's example: Sun, 06 Nov 1994 08:49:37 GMT */
#define RFC9110_EXAMPLE ((time_t)784111777)

static void test_date_forms(void **state)
{
	assert_int_equal(k8s_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), RFC9110_EXAMPLE);
	assert_int_equal(k8s_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), RFC9110_EXAMPLE);
	assert_int_equal(k8s_http_date("Sun Nov  6 08:49:37 1994"), RFC9110_EXAMPLE);
	/* what Go's net/http writes (http.TimeFormat) */
	assert_int_equal(k8s_http_date("Fri, 04 Dec 2026 07:00:00 GMT"), (time_t)1796367600);
	assert_int_equal(k8s_http_date("Sun, 06 Nov 1994 08:49:37 PST"), -1);
	assert_int_equal(k8s_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), -1);
	assert_int_equal(k8s_http_date("Sun, 06 Nov 1994 25:49:37 GMT"), -1);
	assert_int_equal(k8s_http_date("Sun, 06 Nov 1994 08:49:37 GMT x"), -1);
	assert_int_equal(k8s_http_date("yesterday-ish"), -1);
	assert_int_equal(k8s_http_date(""), -1);
}

struct got {
	struct k8s_buf body;
};

static int keep(const char *p, size_t n, void *ud)
{
	struct got *g = ud;

	return k8s_buf_append(&g->body, p, n) != 0;
}

/* Fed a byte at a time, then the connection's end. */
static int parse(const char *wire, struct k8s_http_parser *p, struct got *g)
{
	size_t i, n = strlen(wire), used;
	int rc = K8S_HP_MORE;

	memset(g, 0, sizeof(*g));
	k8s_http_parser_init(p, keep, g);
	p->now = 1000000000;
	for (i = 0; i < n && rc == K8S_HP_MORE; i++)
		rc = k8s_http_parser_feed(p, wire + i, 1, &used);
	if (rc == K8S_HP_MORE)
		rc = k8s_http_parser_eof(p);
	return rc;
}

static void test_retry_after(void **state)
{
	static struct k8s_http_parser p;
	struct got g;

	assert_int_equal(parse("HTTP/1.1 429 x\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n", &p, &g), K8S_HP_DONE);
	assert_int_equal(p.retry_after, 120);
	assert_int_equal(parse("HTTP/1.1 429 x\r\nRetry-After: 99999999999\r\nContent-Length: 0\r\n\r\n", &p, &g),
			 K8S_HP_DONE);
	assert_int_equal(p.retry_after, 86400);
	/* 1000000010 is Sun, 09 Sep 2001 01:46:50 GMT: ten seconds from p.now */
	assert_int_equal(parse("HTTP/1.1 503 x\r\nRetry-After: Sun, 09 Sep 2001 01:46:50 GMT\r\n"
			       "Content-Length: 0\r\n\r\n", &p, &g), K8S_HP_DONE);
	assert_int_equal(p.retry_after, 10);
	assert_int_equal(parse("HTTP/1.1 503 x\r\nRetry-After: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
			       "Content-Length: 0\r\n\r\n", &p, &g), K8S_HP_DONE);
	assert_int_equal(p.retry_after, 0);
	assert_int_equal(parse("HTTP/1.1 503 x\r\nRetry-After: soon\r\nContent-Length: 0\r\n\r\n", &p, &g),
			 K8S_HP_DONE);
	assert_int_equal(p.retry_after, -1);
	/* an interim answer's headers do not count */
	assert_int_equal(parse("HTTP/1.1 103 Early Hints\r\nRetry-After: 5\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"
			       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", &p, &g), K8S_HP_DONE);
	assert_int_equal(p.retry_after, -1);
	assert_int_equal(p.date, 0);
	assert_int_equal(p.status, 200);
	k8s_buf_free(&g.body);
}

static void test_bodies(void **state)
{
	static struct k8s_http_parser p;
	struct got g;
	size_t used;

	assert_int_equal(parse("HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 5\r\n\r\nhello", &p, &g),
			 K8S_HP_DONE);
	assert_int_equal(p.date, RFC9110_EXAMPLE);
	assert_int_equal(g.body.len, 5);
	assert_memory_equal(g.body.data, "hello", 5);
	k8s_buf_free(&g.body);
	/* bare LF line ends, as RFC 9112 2.2 lets a recipient accept */
	assert_int_equal(parse("HTTP/1.1 200 OK\nTransfer-Encoding: Chunked\n\n5\nhello\n0\n\n", &p, &g), K8S_HP_DONE);
	assert_memory_equal(g.body.data, "hello", 5);
	k8s_buf_free(&g.body);
	assert_int_equal(parse("HTTP/1.1 204 No Content\r\n\r\n", &p, &g), K8S_HP_DONE);
	assert_int_equal(g.body.len, 0);
	/* the answer ends where its length says: nothing after it is read */
	memset(&g, 0, sizeof(g));
	k8s_http_parser_init(&p, keep, &g);
	assert_int_equal(k8s_http_parser_feed(&p, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 45, &used),
			 K8S_HP_DONE);
	assert_int_equal(used, 40);
	assert_int_equal(g.body.len, 2);
	k8s_buf_free(&g.body);
}

static void test_refusals(void **state)
{
	static const char *const bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 600 Odd\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nName : x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: 1\r2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
		"",
	};
	static struct k8s_http_parser p;
	struct got g;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], &p, &g);

		if (rc != K8S_HP_BAD)
			fail_msg("accepted (%d): %s", rc, bad[i]);
		assert_non_null(p.why);
		k8s_buf_free(&g.body);
	}
}

static void test_bounds(void **state)
{
	static struct k8s_http_parser p;
	struct k8s_buf w = {0};
	struct got g;
	size_t i;

	/* a head of many short lines: past K8S_HTTP_MAX_HEAD it is refused */
	assert_int_equal(k8s_buf_printf(&w, "HTTP/1.1 200 OK\r\n"), 0);
	for (i = 0; i < K8S_HTTP_MAX_HEAD / 17 + 1; i++)
		assert_int_equal(k8s_buf_printf(&w, "X-Pad: 12345678\r\n"), 0);
	assert_int_equal(k8s_buf_printf(&w, "Content-Length: 0\r\n\r\n"), 0);
	assert_int_equal(parse(w.data, &p, &g), K8S_HP_BAD);
	assert_string_equal(p.why, "head too large");
	k8s_buf_free(&w);
	/* a line past K8S_HTTP_MAX_LINE: skipped, unless it is one we read */
	assert_int_equal(k8s_buf_printf(&w, "HTTP/1.1 200 OK\r\nX: "), 0);
	for (i = 0; i < K8S_HTTP_MAX_LINE; i++)
		assert_int_equal(k8s_buf_append(&w, "a", 1), 0);
	assert_int_equal(k8s_buf_printf(&w, "\r\nContent-Length: 2\r\n\r\nok"), 0);
	assert_int_equal(parse(w.data, &p, &g), K8S_HP_DONE);
	assert_int_equal(g.body.len, 2);
	k8s_buf_free(&g.body);
	k8s_buf_free(&w);
	assert_int_equal(k8s_buf_printf(&w, "HTTP/1.1 200 OK\r\nDate: "), 0);
	for (i = 0; i < K8S_HTTP_MAX_LINE; i++)
		assert_int_equal(k8s_buf_append(&w, " ", 1), 0);
	assert_int_equal(k8s_buf_printf(&w, "Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 0\r\n\r\n"), 0);
	assert_int_equal(parse(w.data, &p, &g), K8S_HP_BAD);
	assert_string_equal(p.why, "header line too long");
	k8s_buf_free(&w);
	/* a status line or a chunk-size line must fit */
	assert_int_equal(k8s_buf_printf(&w, "HTTP/1.1 200 "), 0);
	for (i = 0; i < K8S_HTTP_MAX_LINE; i++)
		assert_int_equal(k8s_buf_append(&w, "a", 1), 0);
	assert_int_equal(k8s_buf_printf(&w, "\r\n\r\n"), 0);
	assert_int_equal(parse(w.data, &p, &g), K8S_HP_BAD);
	assert_string_equal(p.why, "status line too long");
	k8s_buf_free(&w);
	assert_int_equal(k8s_buf_printf(&w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;"), 0);
	for (i = 0; i < K8S_HTTP_MAX_LINE; i++)
		assert_int_equal(k8s_buf_append(&w, "e", 1), 0);
	assert_int_equal(k8s_buf_printf(&w, "\r\na\r\n0\r\n\r\n"), 0);
	assert_int_equal(parse(w.data, &p, &g), K8S_HP_BAD);
	assert_string_equal(p.why, "line too long");
	k8s_buf_free(&w);
	/* many chunks are fine: chunk-size lines do not count as head */
	assert_int_equal(k8s_buf_printf(&w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
	for (i = 0; i < 20000; i++)
		assert_int_equal(k8s_buf_printf(&w, "1\r\na\r\n"), 0);
	assert_int_equal(k8s_buf_printf(&w, "0\r\n\r\n"), 0);
	assert_int_equal(parse(w.data, &p, &g), K8S_HP_DONE);
	assert_int_equal(g.body.len, 20000);
	k8s_buf_free(&g.body);
	k8s_buf_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_date_forms),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
