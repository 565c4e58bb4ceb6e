/* httpparse.c: see httpparse.h. */
#include "httpparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
	S_STATUS, S_HEAD, S_BODY_LEN, S_BODY_CLOSE, S_CHUNK_SIZE, S_CHUNK_DATA,
	S_CHUNK_END, S_TRAILER, S_DONE, S_FAILED,
};

/* a chunk or a body this large is not one we would keep anyway */
#define MAX_LENGTH (1ULL << 48)

void k8s_http_parser_init(struct k8s_http_parser *p, int (*on_body)(const char *, size_t, void *), void *ud)
{
	memset(p, 0, sizeof(*p));
	p->state = S_STATUS;
	p->content_length = -1;
	p->retry_after = -1;
	p->on_body = on_body;
	p->ud = ud;
}

void k8s_http_parser_wipe(struct k8s_http_parser *p)
{
	explicit_bzero(p->line, sizeof(p->line));
	p->line_len = 0;
}

static int bad(struct k8s_http_parser *p, const char *why)
{
	p->state = S_FAILED;
	p->why = why;
	return K8S_HP_BAD;
}

static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *skip_ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* "HTTP/1.x NNN[ reason]" */
static int status_line(struct k8s_http_parser *p, const char *l, size_t n)
{
	long code;

	if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[7] < '0' || l[7] > '9' || l[8] != ' ' ||
	    l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9' ||
	    (n > 12 && l[12] != ' '))
		return bad(p, "malformed status line");
	code = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	if (code == 101)
		return bad(p, "unexpected protocol switch (101)");
	p->status = code;
	p->interim = code < 200;
	/* a new answer: what an interim one said does not count */
	p->date = 0;
	p->retry_after = -1;
	p->content_length = -1;
	p->chunked = 0;
	p->state = S_HEAD;
	return K8S_HP_MORE;
}

static int content_length(struct k8s_http_parser *p, const char *v)
{
	unsigned long long x = 0;
	const char *s = v;

	if (*s == '\0')
		return bad(p, "malformed Content-Length");
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return bad(p, "malformed Content-Length");
		x = x * 10 + (unsigned)(*s - '0');
		if (x > MAX_LENGTH)
			return bad(p, "Content-Length out of range");
	}
	if (p->content_length >= 0 && (unsigned long long)p->content_length != x)
		return bad(p, "conflicting Content-Length");
	p->content_length = (long long)x;
	return K8S_HP_MORE;
}

/* Only "chunked", once, and last: we ask for no other coding. */
static int transfer_encoding(struct k8s_http_parser *p, const char *v)
{
	const char *s = v;

	for (;;) {
		size_t n;

		s = skip_ows(s);
		n = strcspn(s, ", \t");
		if (n == 0 && *s == ',') {
			s++;
			continue; /* empty list element */
		}
		if (n == 0)
			break;
		if (n != 7 || strncasecmp(s, "chunked", 7) != 0)
			return bad(p, "unsupported transfer coding");
		if (p->chunked)
			return bad(p, "chunked applied twice");
		p->chunked = 1;
		s = skip_ows(s + n);
		if (*s == ',')
			s++;
		else if (*s != '\0')
			return bad(p, "malformed Transfer-Encoding");
	}
	return K8S_HP_MORE;
}

static void retry_after(struct k8s_http_parser *p, const char *v)
{
	time_t now = p->now ? p->now : time(NULL), t;

	if (*v >= '0' && *v <= '9') {
		unsigned long long x = 0;
		const char *s;

		for (s = v; *s >= '0' && *s <= '9'; s++)
			if (x <= 86400)
				x = x * 10 + (unsigned)(*s - '0');
		if (*s == '\0')
			p->retry_after = x > 86400 ? 86400 : (long)x;
		return;
	}
	t = k8s_http_date(v);
	if (t > 0)
		p->retry_after = t > now ? (long)(t - now > 86400 ? 86400 : t - now) : 0;
}

/* The end of a head: where its body starts. */
static int head_done(struct k8s_http_parser *p)
{
	if (p->interim) {
		p->state = S_STATUS;
		return K8S_HP_MORE;
	}
	if (p->status == 204 || p->status == 304) {
		p->state = S_DONE;
		return K8S_HP_DONE;
	}
	if (p->chunked) {
		p->state = S_CHUNK_SIZE;
		return K8S_HP_MORE;
	}
	if (p->content_length >= 0) {
		p->left = (unsigned long long)p->content_length;
		p->state = p->left > 0 ? S_BODY_LEN : S_DONE;
		return p->left > 0 ? K8S_HP_MORE : K8S_HP_DONE;
	}
	p->state = S_BODY_CLOSE;
	return K8S_HP_MORE;
}

static int interpreted(const char *name)
{
	return strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Transfer-Encoding") == 0 ||
	       strcasecmp(name, "Date") == 0 || strcasecmp(name, "Retry-After") == 0;
}

/* One header field line (not empty), of a head or of the trailers; cut:
 * only its first K8S_HTTP_MAX_LINE bytes are here. */
static int field_line(struct k8s_http_parser *p, char *l, size_t n, int trailer, int cut)
{
	char *colon, *v, *e;
	size_t i;

	if (l[0] == ' ' || l[0] == '\t')
		return bad(p, "folded header line");
	colon = memchr(l, ':', n);
	if (colon == NULL || colon == l)
		return bad(p, cut ? "header line too long" : "malformed header line");
	for (i = 0; l + i < colon; i++)
		if (!is_tchar((unsigned char)l[i]))
			return bad(p, "malformed header name");
	*colon = '\0';
	if (cut)
		return !trailer && interpreted(l) ? bad(p, "header line too long") : K8S_HP_MORE;
	v = (char *)skip_ows(colon + 1);
	e = l + n;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*e = '\0';
	if (trailer)
		return K8S_HP_MORE; /* read past, never used */
	if (strcasecmp(l, "Content-Length") == 0)
		return content_length(p, v);
	if (strcasecmp(l, "Transfer-Encoding") == 0)
		return transfer_encoding(p, v);
	if (p->interim)
		return K8S_HP_MORE;
	if (strcasecmp(l, "Date") == 0) {
		time_t t = k8s_http_date(v);

		p->date = t > 0 ? t : 0;
	} else if (strcasecmp(l, "Retry-After") == 0) {
		retry_after(p, v);
	}
	return K8S_HP_MORE;
}

/* hex digits, then optional white space and ";extensions" (ignored) */
static int chunk_size(struct k8s_http_parser *p, const char *l)
{
	unsigned long long x = 0;
	const char *s = l;

	for (; (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F'); s++) {
		unsigned d = *s <= '9' ? (unsigned)(*s - '0') : (unsigned)((*s | 0x20) - 'a' + 10);

		x = x * 16 + d;
		if (x > MAX_LENGTH)
			return bad(p, "chunk size out of range");
	}
	if (s == l)
		return bad(p, "malformed chunk size");
	s = skip_ows(s);
	if (*s != '\0' && *s != ';')
		return bad(p, "malformed chunk size");
	if (x == 0) {
		p->state = S_TRAILER;
		return K8S_HP_MORE;
	}
	p->left = x;
	p->state = S_CHUNK_DATA;
	return K8S_HP_MORE;
}

/* A whole line (its '\n' and a '\r' before it dropped). */
static int line(struct k8s_http_parser *p)
{
	char *l = p->line;
	size_t n = p->line_len;

	if (memchr(l, '\r', n) != NULL || memchr(l, '\0', n) != NULL)
		return bad(p, "control character in a line");
	l[n] = '\0';
	switch (p->state) {
	case S_STATUS:
		if (p->line_cut)
			return bad(p, "status line too long");
		return status_line(p, l, n);
	case S_HEAD:
		return n == 0 ? head_done(p) : field_line(p, l, n, 0, p->line_cut);
	case S_CHUNK_SIZE:
		return chunk_size(p, l);
	case S_CHUNK_END:
		if (n != 0)
			return bad(p, "chunk longer than its size");
		p->state = S_CHUNK_SIZE;
		return K8S_HP_MORE;
	case S_TRAILER:
		if (n == 0) {
			p->state = S_DONE;
			return K8S_HP_DONE;
		}
		return field_line(p, l, n, 1, p->line_cut);
	default:
		return bad(p, "internal state");
	}
}

static int body(struct k8s_http_parser *p, const char *d, size_t n)
{
	if (n == 0 || p->on_body == NULL)
		return K8S_HP_MORE;
	p->body_rc = p->on_body(d, n, p->ud);
	if (p->body_rc != 0) {
		p->state = S_FAILED;
		return K8S_HP_STOPPED;
	}
	return K8S_HP_MORE;
}

int k8s_http_parser_feed(struct k8s_http_parser *p, const char *data, size_t n, size_t *used)
{
	size_t i = 0;
	int rc;

	*used = 0;
	if (p->state == S_FAILED)
		return p->why != NULL ? K8S_HP_BAD : K8S_HP_STOPPED;
	while (i < n) {
		switch (p->state) {
		case S_DONE:
			*used = i;
			return K8S_HP_DONE;
		case S_BODY_CLOSE:
			rc = body(p, data + i, n - i);
			i = n;
			if (rc != K8S_HP_MORE)
				return rc;
			break;
		case S_BODY_LEN:
		case S_CHUNK_DATA: {
			size_t take = n - i;

			if ((unsigned long long)take > p->left)
				take = (size_t)p->left;
			rc = body(p, data + i, take);
			if (rc != K8S_HP_MORE)
				return rc;
			i += take;
			p->left -= take;
			if (p->left == 0) {
				if (p->state == S_BODY_LEN) {
					p->state = S_DONE;
					*used = i;
					return K8S_HP_DONE;
				}
				p->state = S_CHUNK_END;
			}
			break;
		}
		default: {
			/* a line state: up to the next '\n' */
			const char *nl = memchr(data + i, '\n', n - i);
			size_t take = nl != NULL ? (size_t)(nl - (data + i)) : n - i, keep = take;
			int head = p->state == S_STATUS || p->state == S_HEAD || p->state == S_TRAILER;

			if (take > K8S_HTTP_MAX_LINE - p->line_len) {
				if (!head)
					return bad(p, "line too long");
				keep = K8S_HTTP_MAX_LINE - p->line_len;
				p->line_cut = 1;
			}
			if (head && take + 1 > K8S_HTTP_MAX_HEAD - p->head_bytes)
				return bad(p, "head too large");
			memcpy(p->line + p->line_len, data + i, keep);
			p->line_len += keep;
			if (head)
				p->head_bytes += take + (nl != NULL);
			i += take;
			if (nl == NULL)
				break;
			i++; /* the '\n' */
			if (p->line_len > 0 && p->line[p->line_len - 1] == '\r')
				p->line_len--;
			rc = line(p);
			explicit_bzero(p->line, p->line_len);
			p->line_len = 0;
			p->line_cut = 0;
			if (rc == K8S_HP_DONE) {
				*used = i;
				return rc;
			}
			if (rc != K8S_HP_MORE)
				return rc;
			break;
		}
		}
	}
	*used = i;
	return p->state == S_DONE ? K8S_HP_DONE : K8S_HP_MORE;
}

int k8s_http_parser_in_body(const struct k8s_http_parser *p)
{
	return p->state == S_BODY_LEN || p->state == S_BODY_CLOSE || p->state == S_CHUNK_SIZE ||
	       p->state == S_CHUNK_DATA || p->state == S_CHUNK_END || p->state == S_TRAILER || p->state == S_DONE;
}

int k8s_http_parser_eof(struct k8s_http_parser *p)
{
	if (p->state == S_BODY_CLOSE || p->state == S_DONE) {
		p->state = S_DONE;
		return K8S_HP_DONE;
	}
	if (p->state == S_FAILED)
		return p->why != NULL ? K8S_HP_BAD : K8S_HP_STOPPED;
	return bad(p, p->state == S_STATUS && p->line_len == 0 && p->status == 0 ? "no answer"
										   : "answer cut short");
}

static int month_of(const char *m)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int i;

	for (i = 0; i < 12; i++)
		if (strncmp(names + 3 * i, m, 3) == 0 && m[3] == '\0')
			return i;
	return -1;
}

time_t k8s_http_date(const char *s)
{
	char wd[16], mon[8], tz[8];
	int d, y, H, M, S, n = -1, mo;
	struct tm tm;
	time_t t;

	/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
	if (sscanf(s, "%15[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %3[A-Z]%n", wd, &d, mon, &y, &H, &M, &S, tz,
		   &n) == 8 && n > 0 && s[n] == '\0' && strcmp(tz, "GMT") == 0) {
		/* as read */
	} else if (n = -1, sscanf(s, "%15[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d %3[A-Z]%n", wd, &d, mon, &y, &H,
				  &M, &S, tz, &n) == 8 && n > 0 && s[n] == '\0' && strcmp(tz, "GMT") == 0) {
		/* RFC 850, two-digit year (RFC 9110: more than 50 years ahead is the past) */
		y += y < 70 ? 2000 : 1900;
	} else if (n = -1, sscanf(s, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wd, mon, &d, &H, &M, &S, &y,
				  &n) == 7 && n > 0 && s[n] == '\0') {
		/* asctime */
	} else {
		return -1;
	}
	mo = month_of(mon);
	if (mo < 0 || d < 1 || d > 31 || y < 1970 || y > 9999 || H > 23 || M > 59 || S > 60 || H < 0 || M < 0 ||
	    S < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo;
	tm.tm_mday = d;
	tm.tm_hour = H;
	tm.tm_min = M;
	tm.tm_sec = S;
	t = timegm(&tm);
	return t;
}
