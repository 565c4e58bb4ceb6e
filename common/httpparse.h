/* httpparse.h: the HTTP/1.1 response reader under k8s_http_do (RFC 9112),
 * separate from the socket so it can be fuzzed (fuzz/fuzz_http.c).  It
 * takes bytes as they come, in any cut, and hands the body on decoded
 * (Content-Length, chunked, or up to the end of the connection).
 *
 * What it refuses, all "malformed answer" for the caller: a status line
 * that is not "HTTP/1.x NNN", a 101 (a protocol switch we never asked
 * for), a header line without a colon or with white space before it, a
 * folded line, a CR or NUL inside a line, a Content-Length that is not
 * digits or disagrees with another, a transfer coding other than chunked
 * (we send no Accept-Encoding), a chunk size that is not hex or does not
 * fit, a chunk not followed by its line end.  Bounds: an answer's head
 * (interim answers and chunked trailers included) is at most
 * K8S_HTTP_MAX_HEAD bytes (libcurl 7.88 allowed 300 KiB, Go 10 MiB); of a
 * header line, the first K8S_HTTP_MAX_LINE bytes are kept, enough for
 * every header we read: a longer one is refused only when it is one of
 * those (Content-Length, Transfer-Encoding, Date, Retry-After), else
 * skipped.  A status line or a chunk-size line must fit.  Libc only. */
#ifndef K8S_HTTPPARSE_H
#define K8S_HTTPPARSE_H

#include <stddef.h>
#include <time.h>

#define K8S_HTTP_MAX_LINE 8192
#define K8S_HTTP_MAX_HEAD (1024 * 1024)

enum {
	K8S_HP_MORE = 0,     /* wants more bytes */
	K8S_HP_DONE = 1,     /* the answer is whole; bytes after it are not read */
	K8S_HP_BAD = -1,     /* malformed (p->why says how) */
	K8S_HP_STOPPED = -2, /* on_body returned nonzero (p->body_rc) */
};

struct k8s_http_parser {
	int state;
	long status;             /* of the final answer, once its status line is read */
	int interim;             /* the head being read is a 1xx */
	long long content_length; /* -1 none */
	int chunked;
	unsigned long long left; /* of the body or the current chunk */
	size_t head_bytes;
	char line[K8S_HTTP_MAX_LINE + 1];
	size_t line_len;
	int line_cut;            /* the line went past K8S_HTTP_MAX_LINE: its rest dropped */
	time_t date;             /* Date of the final answer, 0 none or unreadable */
	long retry_after;        /* seconds, -1 none */
	time_t now;              /* for a Retry-After date; 0 = time(NULL) */
	/* Body bytes as they are decoded; 0 goes on, nonzero stops the reader. */
	int (*on_body)(const char *p, size_t n, void *ud);
	void *ud;
	int body_rc;
	const char *why;         /* for K8S_HP_BAD: a constant string */
};

void k8s_http_parser_init(struct k8s_http_parser *p, int (*on_body)(const char *, size_t, void *), void *ud);
/* K8S_HP_MORE, K8S_HP_DONE (every byte up to the answer's end consumed,
 * *used says how many of n), K8S_HP_BAD or K8S_HP_STOPPED. */
int k8s_http_parser_feed(struct k8s_http_parser *p, const char *data, size_t n, size_t *used);
/* The connection ended (cleanly): K8S_HP_DONE for a body that runs to the
 * end of the connection, else K8S_HP_BAD ("answer cut short"). */
int k8s_http_parser_eof(struct k8s_http_parser *p);
/* The final answer's head has been read: what comes now is its body. */
int k8s_http_parser_in_body(const struct k8s_http_parser *p);
/* Wipes the line buffer (it may have held a header of the answer). */
void k8s_http_parser_wipe(struct k8s_http_parser *p);

/* An HTTP-date (RFC 9110 5.6.7: IMF-fixdate, RFC 850 or asctime form) as
 * seconds since the epoch; -1 when it is none of these. */
time_t k8s_http_date(const char *s);

#endif
