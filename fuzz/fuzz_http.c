/* fuzz_http: the HTTP/1.1 answer reader under k8s_http_do (httpparse.c).
 * Input: a mode byte, then bytes.
 * - Every input: the bytes as an answer off the wire, fed whole and again
 *   in cuts of 1..16 bytes (as TLS records cut them), each followed by the
 *   connection's end.  Checks: the two readings agree on everything
 *   (verdict, status, body, Date, Retry-After, why); a finished answer has
 *   a final status (200..599, no 1xx) and a body no longer than the input;
 *   a refusal names why; the reader never reads past the answer's end.
 * - mode & 1: the bytes are a body sent chunked in cuts the next bytes
 *   choose, under a fixed head: it must come back byte for byte.
 * - The bytes as an HTTP-date (NUL-terminated): -1 or a time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpparse.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct got {
	int rc;
	long status;
	time_t date;
	long retry_after;
	const char *why;
	struct k8s_buf body;
};

static int keep(const char *p, size_t n, void *ud)
{
	struct got *g = ud;

	if (n == 0)
		abort(); /* never called empty */
	return k8s_buf_append(&g->body, p, n) != 0;
}

static void read_answer(const uint8_t *d, size_t n, size_t cut, struct got *g)
{
	struct k8s_http_parser *p = malloc(sizeof(*p));
	size_t off = 0, used;

	if (p == NULL)
		abort();
	memset(g, 0, sizeof(*g));
	k8s_http_parser_init(p, keep, g);
	p->now = 1700000000;
	g->rc = K8S_HP_MORE;
	while (off < n) {
		size_t take = n - off < cut ? n - off : cut;

		g->rc = k8s_http_parser_feed(p, (const char *)d + off, take, &used);
		if (used > take)
			abort();
		if (g->rc != K8S_HP_MORE) {
			if (g->rc == K8S_HP_DONE)
				off += used;
			break;
		}
		if (used != take)
			abort(); /* MORE consumes everything */
		off += take;
	}
	if (g->rc == K8S_HP_MORE)
		g->rc = k8s_http_parser_eof(p);
	g->status = p->status;
	g->date = p->date;
	g->retry_after = p->retry_after;
	g->why = p->why;
	if (g->rc == K8S_HP_BAD && (g->why == NULL || *g->why == '\0'))
		abort();
	if (g->rc == K8S_HP_DONE && (p->status < 200 || p->status > 599 || g->body.len > n))
		abort();
	if (g->retry_after < -1 || g->retry_after > 86400 || g->date < 0)
		abort();
	k8s_http_parser_wipe(p);
	free(p);
}

static void same(const struct got *a, const struct got *b)
{
	if (a->rc != b->rc)
		abort();
	if (a->rc == K8S_HP_BAD && strcmp(a->why, b->why) != 0)
		abort();
	if (a->rc != K8S_HP_DONE)
		return;
	if (a->status != b->status || a->date != b->date || a->retry_after != b->retry_after ||
	    a->body.len != b->body.len || (a->body.len && memcmp(a->body.data, b->body.data, a->body.len) != 0))
		abort();
}

static void chunked_roundtrip(const uint8_t *d, size_t n)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	struct k8s_buf w = {0};
	struct got g;
	size_t off = 0, i = 0;

	if (k8s_buf_append(&w, head, sizeof(head) - 1) != 0)
		abort();
	while (off < n) {
		size_t c = 1 + (d[i++ % n] % 97);

		if (c > n - off)
			c = n - off;
		if (k8s_buf_printf(&w, i % 2 ? "%zx\r\n" : "%zX;ext=1\r\n", c) != 0 ||
		    k8s_buf_append(&w, d + off, c) != 0 || k8s_buf_append(&w, "\r\n", 2) != 0)
			abort();
		off += c;
	}
	if (k8s_buf_append(&w, "0\r\nX-Trailer: 1\r\n\r\n", 19) != 0)
		abort();
	read_answer((const uint8_t *)w.data, w.len, 1 + n % 13, &g);
	if (g.rc != K8S_HP_DONE || g.status != 200 || g.body.len != n ||
	    (n && memcmp(g.body.data, d, n) != 0))
		abort();
	k8s_buf_free(&g.body);
	k8s_buf_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct got whole, cut;
	char *s;

	if (size < 1)
		return 0;
	read_answer(data + 1, size - 1, size, &whole);
	read_answer(data + 1, size - 1, 1 + data[0] % 16, &cut);
	same(&whole, &cut);
	k8s_buf_free(&whole.body);
	k8s_buf_free(&cut.body);
	if (data[0] & 1)
		chunked_roundtrip(data + 1, size - 1);
	s = malloc(size);
	if (s == NULL)
		abort();
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (k8s_http_date(s) < -1)
		abort();
	free(s);
	return 0;
}
