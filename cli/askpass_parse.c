/* askpass_parse.c: the few parsers k8s-ssh-askpass needs, written for
 * libc alone (SHA-256 from common/sha256.c): pam_k8s's prompt grammar, the "aud" claim of a
 * JWT payload, and what decides whom a token may be minted for (ssh -G
 * output, /proc status, audience patterns, askpass.conf).  All input is
 * treated as hostile: the prompt comes from the server, the token from a
 * command. */
#include "askpass.h"

#include "sha256.h"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

void ap_digest16(const char *tok, size_t len, char out[17])
{
	k8s_token_fingerprint(tok, len, out);
}

void ap_frame_head(const char *tok, size_t len, size_t off, char out[AP_HEAD_MAX])
{
	char d[17];

	if (off > 0) {
		snprintf(out, AP_HEAD_MAX, "%zu:", off);
		return;
	}
	ap_digest16(tok, len, d);
	snprintf(out, AP_HEAD_MAX, "k8s1:%zu:%s:", len, d);
}

/* ---- the prompt ---- */

static const char FIRST[] = "Kubernetes token (audience ";
static const char CONT[] = " continued at byte ";

static int take(const char **s, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*s, lit, n) != 0)
		return -1;
	*s += n;
	return 0;
}

/* Decimal, no leading zeros, at most 5 digits. */
static int take_num(const char **s, size_t *out)
{
	const char *p = *s;
	size_t v = 0;
	int d = 0;

	while (*p >= '0' && *p <= '9' && d < 6) {
		v = v * 10 + (size_t)(*p++ - '0');
		d++;
	}
	if (d == 0 || d > 5 || (d > 1 && **s == '0'))
		return -1;
	*s = p;
	*out = v;
	return 0;
}

/* ssh 9.x shows kbd-int prompts as "(user@host) PROMPT". */
static int take_prefix(const char **s, struct ap_prompt *p)
{
	const char *close, *at, *q;

	if (**s != '(')
		return 0;
	close = strchr(*s, ')');
	if (close == NULL || close[1] != ' ')
		return -1;
	at = NULL;
	for (q = *s + 1; q < close; q++)
		if (*q == '@')
			at = q;
	if (at == NULL || at == *s + 1 || at + 1 == close ||
	    (size_t)(at - *s - 1) >= sizeof(p->user) || (size_t)(close - at - 1) >= sizeof(p->host))
		return -1;
	memcpy(p->user, *s + 1, (size_t)(at - *s - 1));
	memcpy(p->host, at + 1, (size_t)(close - at - 1));
	*s = close + 2;
	return 0;
}

int ap_parse_prompt(const char *s, struct ap_prompt *p)
{
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	if (take_prefix(&s, p) != 0 || take(&s, FIRST) != 0)
		return -1;
	while (s[n] > 0x20 && s[n] < 0x7f && s[n] != '(' && s[n] != ')' && n <= AP_AUD_MAX)
		n++;
	if (n == 0 || n > AP_AUD_MAX || s[n] != ')')
		return -1;
	memcpy(p->audience, s, n);
	s += n + 1;
	if (strcmp(s, ": ") == 0) {
		p->kind = 1;
		return 0;
	}
	if (take(&s, CONT) != 0 || take_num(&s, &p->offset) != 0 || take(&s, " of ") != 0 ||
	    take_num(&s, &p->total) != 0 || strcmp(s, ": ") != 0 ||
	    p->total == 0 || p->total > AP_TOKEN_MAX || p->offset == 0 || p->offset >= p->total)
		return -1;
	p->kind = 2;
	return 0;
}

/* ---- whom the token is for ---- */

int ap_name_ok(const char *s)
{
	size_t n;

	if (s[0] == '\0' || s[0] == '-' || s[0] == '.')
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if (n >= AP_NAME_MAX ||
		    !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= '0' && s[n] <= '9') || s[n] == '.' || s[n] == '-' || s[n] == '_' ||
		      s[n] == ':'))
			return 0;
	return 1;
}

static int is_address(const char *s)
{
	unsigned char a[16];
	size_t i;

	if (strchr(s, ':') != NULL || inet_pton(AF_INET, s, a) == 1)
		return 1;
	/* 10.1 or 127.1 are addresses to inet_aton: no short form "10" */
	for (i = 0; s[i] != '\0' && s[i] != '.'; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static void add_name(struct ap_target *t, const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > AP_NAME_MAX || t->n_names >= AP_NAMES)
		return;
	for (i = 0; i < t->n_names; i++)
		if (strlen(t->names[i]) == n && memcmp(t->names[i], s, n) == 0)
			return;
	memcpy(t->names[t->n_names], s, n);
	t->names[t->n_names][n] = '\0';
	t->n_names++;
}

static void add_with_short(struct ap_target *t, const char *name, int lower, int short_names)
{
	char v[AP_NAME_MAX + 1];
	const char *dot;
	size_t i;

	if (!ap_name_ok(name))
		return;
	for (i = 0; name[i] != '\0'; i++)
		v[i] = lower && name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] - 'A' + 'a') : name[i];
	v[i] = '\0';
	add_name(t, v, i);
	if (short_names && !is_address(v) && (dot = strchr(v, '.')) != NULL)
		add_name(t, v, (size_t)(dot - v));
}

void ap_target_names(struct ap_target *t, int lower, int short_names)
{
	memset(t->names, 0, sizeof(t->names));
	t->n_names = 0;
	add_with_short(t, t->host, lower, short_names);
	add_with_short(t, t->hostname, lower, short_names);
}

/* "KEY value" lines: the value of KEY into out, "" when the line is
 * absent or the value does not fit. */
static int line_value(const char *out, size_t len, const char *key, char *val, size_t cap)
{
	size_t klen = strlen(key), i = 0, e, n;

	val[0] = '\0';
	while (i < len) {
		for (e = i; e < len && out[e] != '\n'; e++)
			;
		if (e - i > klen && memcmp(out + i, key, klen) == 0 && out[i + klen] == ' ') {
			n = e - i - klen - 1;
			if (n >= cap || memchr(out + i + klen + 1, '\0', n) != NULL)
				return -1;
			memcpy(val, out + i + klen + 1, n);
			val[n] = '\0';
			return 0;
		}
		i = e + 1;
	}
	return -1;
}

int ap_parse_ssh_g(const char *out, size_t len, struct ap_target *t)
{
	line_value(out, len, "host", t->host, sizeof(t->host));
	line_value(out, len, "user", t->user, sizeof(t->user));
	return line_value(out, len, "hostname", t->hostname, sizeof(t->hostname)) == 0 &&
	       t->hostname[0] != '\0' ? 0 : -1;
}

int ap_parse_status(const char *buf, char *name, size_t cap, long uid[4])
{
	const char *n = NULL, *u = NULL, *p;
	char *end;
	size_t len;
	int i;

	for (p = buf; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL) {
		if (strncmp(p, "Name:\t", 6) == 0 && n == NULL)
			n = p + 6;
		else if (strncmp(p, "Uid:\t", 5) == 0 && u == NULL)
			u = p + 5;
	}
	if (n == NULL || u == NULL)
		return -1;
	len = strcspn(n, "\n");
	if (len == 0 || len >= cap)
		return -1;
	memcpy(name, n, len);
	name[len] = '\0';
	for (i = 0; i < 4; i++) {
		if (*u < '0' || *u > '9')
			return -1;
		uid[i] = strtol(u, &end, 10);
		if (end == u || (i < 3 && *end != '\t'))
			return -1;
		u = end + 1;
	}
	return 0;
}

int ap_expand(const char *in, const char *a, const char *h, const char *u, int glob_escape,
	      char *out, size_t cap)
{
	size_t o = 0;
	const char *v;

	for (; *in != '\0'; in++) {
		v = NULL;
		if (in[0] == '%') {
			switch (in[1]) {
			case 'a': v = a; break;
			case 'h': v = h; break;
			case 'u': v = u; break;
			case '%': v = "%"; break;
			}
		}
		if (v == NULL) {
			if (o + 1 >= cap)
				return -1;
			out[o++] = *in;
			continue;
		}
		in++;
		for (; *v != '\0'; v++) {
			int esc = glob_escape && strchr("*?[]\\", *v) != NULL;

			if (o + 1 + (size_t)esc >= cap)
				return -1;
			if (esc)
				out[o++] = '\\';
			out[o++] = *v;
		}
	}
	out[o] = '\0';
	return 0;
}

/* Does a pattern use %h (not %%h)? */
static int has_h(const char *w)
{
	for (; *w != '\0'; w++)
		if (w[0] == '%' && w[1] != '\0') {
			if (w[1] == 'h')
				return 1;
			w++;
		}
	return 0;
}

/* Append one expanded pattern to shown, once. */
static void show(char *shown, size_t cap, const char *pat)
{
	size_t n = strlen(shown), m = strlen(pat);
	const char *p;

	if (m == 0)  /* "%u" with no user: strstr would find "" forever */
		return;
	for (p = shown; (p = strstr(p, pat)) != NULL; p += m)
		if ((p == shown || p[-1] == ' ') && (p[m] == ',' || p[m] == '\0'))
			return;
	if (n + m + 3 > cap)
		return;
	snprintf(shown + n, cap - n, "%s%s", n > 0 ? ", " : "", pat);
}

int ap_audience_allowed(const char *list, const struct ap_target *t, const char *aud,
			char *shown, size_t cap)
{
	char copy[AP_PATS_MAX], pat[AP_PATS_MAX], *w, *save = NULL, *e;
	size_t i;
	int hit = 0;

	if (shown != NULL && cap > 0)
		shown[0] = '\0';
	if (snprintf(copy, sizeof(copy), "%s", list) >= (int)sizeof(copy))
		return 0;
	for (w = strtok_r(copy, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
		while (*w == ' ' || *w == '\t')
			w++;
		for (e = w + strlen(w); e > w && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		*e = '\0';
		if (*w == '\0')
			continue;
		for (i = 0; i < (has_h(w) ? t->n_names : 1); i++) {
			if (ap_expand(w, "%a", t->n_names > 0 ? t->names[i] : "", t->user, 1, pat,
				      sizeof(pat)) != 0)
				continue;
			if (shown != NULL)
				show(shown, cap, pat);
			if (fnmatch(pat, aud, 0) == 0)
				hit = 1;
		}
	}
	return hit;
}

/* ---- askpass.conf ---- */

static int word_eq(const char *w, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

int ap_conf_parse(const char *text, size_t len, const char *host, const char *hostname,
		  struct ap_conf *c, char *err, size_t errcap)
{
	char line[1024], pat[AP_NAME_MAX + 2];
	size_t i = 0, e, n, lineno = 0, k;
	int active = 1, matched;
	char *p, *w, *end;

	c->audience[0] = '\0';
	c->short_names = -1;
	err[0] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errcap, "a NUL byte");
		return -1;
	}
	while (i < len) {
		lineno++;
		for (e = i; e < len && text[e] != '\n'; e++)
			;
		n = e - i;
		if (n >= sizeof(line)) {
			snprintf(err, errcap, "line %zu: longer than %zu bytes", lineno, sizeof(line) - 1);
			return -1;
		}
		memcpy(line, text + i, n);
		line[n] = '\0';
		i = e + 1;
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		for (p = line; *p == ' ' || *p == '\t' || *p == '\r'; p++)
			;
		for (end = p + strlen(p); end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'); end--)
			;
		*end = '\0';
		if (*p == '\0')
			continue;
		for (w = p; *p != '\0' && *p != ' ' && *p != '\t'; p++)
			;
		n = (size_t)(p - w);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0') {
			snprintf(err, errcap, "line %zu: %.*s without a value", lineno, (int)(n > 32 ? 32 : n), w);
			return -1;
		}
		if (word_eq(w, n, "Host")) {
			matched = 0;
			while (*p != '\0') {
				for (k = 0; p[k] != '\0' && p[k] != ' ' && p[k] != '\t'; k++)
					;
				if (k >= sizeof(pat) || p[0] == '!') {
					snprintf(err, errcap, "line %zu: %s", lineno, p[0] == '!' ?
						 "negated Host patterns are not supported" : "Host pattern too long");
					return -1;
				}
				memcpy(pat, p, k);
				pat[k] = '\0';
				if ((host[0] != '\0' && fnmatch(pat, host, FNM_CASEFOLD) == 0) ||
				    (hostname[0] != '\0' && fnmatch(pat, hostname, FNM_CASEFOLD) == 0))
					matched = 1;
				for (p += k; *p == ' ' || *p == '\t'; p++)
					;
			}
			active = matched;
		} else if (word_eq(w, n, "Audience")) {
			if (strlen(p) >= sizeof(c->audience)) {
				snprintf(err, errcap, "line %zu: Audience too long", lineno);
				return -1;
			}
			if (active && c->audience[0] == '\0')
				snprintf(c->audience, sizeof(c->audience), "%s", p);
		} else if (word_eq(w, n, "ShortNames")) {
			if (strcasecmp(p, "yes") != 0 && strcasecmp(p, "no") != 0) {
				snprintf(err, errcap, "line %zu: ShortNames is yes or no", lineno);
				return -1;
			}
			if (active && c->short_names < 0)
				c->short_names = strcasecmp(p, "yes") == 0;
		} else {
			snprintf(err, errcap, "line %zu: unknown keyword %.*s", lineno, (int)(n > 32 ? 32 : n), w);
			return -1;
		}
	}
	return 0;
}

/* ---- the "aud" claim ---- */

static int b64url_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Unpadded base64url into out (at most cap bytes).  Length or -1. */
static long b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0, v;

	if (len % 4 == 1)
		return -1;
	for (i = 0; i < len; i++) {
		if ((v = b64url_val((unsigned char)in[i])) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)o;
}

struct js {
	const unsigned char *p, *end;
	int depth;
};

static void ws(struct js *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* A JSON string into out (NUL-terminated, cut at cap-1 and then marked
 * as too long by returning 1).  0 ok, 1 ok but not representable
 * (non-ASCII, too long: never equal to an audience), -1 malformed. */
static int js_string(struct js *j, char *out, size_t cap)
{
	size_t o = 0;
	int odd = 0;

	if (j->p >= j->end || *j->p++ != '"')
		return -1;
	while (j->p < j->end && *j->p != '"') {
		unsigned c = *j->p++;

		if (c < 0x20)
			return -1;
		if (c == '\\') {
			if (j->p >= j->end)
				return -1;
			c = *j->p++;
			switch (c) {
			case '"': case '\\': case '/': break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				unsigned v = 0;
				int k;

				for (k = 0; k < 4; k++) {
					int h;

					if (j->p >= j->end)
						return -1;
					h = *j->p++;
					v <<= 4;
					if (h >= '0' && h <= '9') v |= (unsigned)(h - '0');
					else if (h >= 'a' && h <= 'f') v |= (unsigned)(h - 'a' + 10);
					else if (h >= 'A' && h <= 'F') v |= (unsigned)(h - 'A' + 10);
					else return -1;
				}
				c = v;
				break;
			}
			default:
				return -1;
			}
		}
		if (c == 0 || c > 0x7f || o + 1 >= cap)
			odd = 1;
		else
			out[o++] = (char)c;
	}
	if (j->p >= j->end)
		return -1;
	j->p++;
	out[o] = '\0';
	return odd;
}

static int js_skip(struct js *j);

static int js_skip_container(struct js *j, unsigned char close)
{
	char key[8];

	if (++j->depth > 32)
		return -1;
	j->p++;
	ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return 0;
	}
	for (;;) {
		ws(j);
		if (close == '}') {
			if (js_string(j, key, sizeof(key)) < 0)
				return -1;
			ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return -1;
		}
		if (js_skip(j) != 0)
			return -1;
		ws(j);
		if (j->p >= j->end)
			return -1;
		if (*j->p == close) {
			j->p++;
			j->depth--;
			return 0;
		}
		if (*j->p++ != ',')
			return -1;
	}
}

static int js_skip(struct js *j)
{
	char tmp[8];

	ws(j);
	if (j->p >= j->end)
		return -1;
	if (*j->p == '"')
		return js_string(j, tmp, sizeof(tmp)) < 0 ? -1 : 0;
	if (*j->p == '{')
		return js_skip_container(j, '}');
	if (*j->p == '[')
		return js_skip_container(j, ']');
	/* numbers, true, false, null: a run of their characters */
	if (strchr("-0123456789tfn", *j->p) == NULL)
		return -1;
	while (j->p < j->end && strchr("+-.0123456789eEtruefalsn", *j->p) != NULL)
		j->p++;
	return 0;
}

/* "aud": a string or an array of strings.  1 match, 0 none, -1 bad. */
static int aud_value(struct js *j, const char *aud)
{
	char v[AP_AUD_MAX + 2];
	int r, hit = 0;

	ws(j);
	if (j->p < j->end && *j->p == '"') {
		r = js_string(j, v, sizeof(v));
		return r < 0 ? -1 : (r == 0 && strcmp(v, aud) == 0);
	}
	if (j->p >= j->end || *j->p++ != '[')
		return -1;
	ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return 0;
	}
	for (;;) {
		ws(j);
		r = js_string(j, v, sizeof(v));
		if (r < 0)
			return -1;
		hit |= r == 0 && strcmp(v, aud) == 0;
		ws(j);
		if (j->p >= j->end)
			return -1;
		if (*j->p == ']') {
			j->p++;
			return hit;
		}
		if (*j->p++ != ',')
			return -1;
	}
}

static int payload_has_audience(const unsigned char *json, size_t len, const char *aud)
{
	struct js j = { json, json + len, 0 };
	char key[8];
	int r, seen = 0, hit = 0;

	ws(&j);
	if (j.p >= j.end || *j.p++ != '{')
		return 0;
	for (;;) {
		ws(&j);
		r = js_string(&j, key, sizeof(key));
		ws(&j);
		if (r < 0 || j.p >= j.end || *j.p++ != ':')
			return 0;
		if (r == 0 && strcmp(key, "aud") == 0) {
			if (seen++ || (hit = aud_value(&j, aud)) < 0)
				return 0;
		} else if (js_skip(&j) != 0) {
			return 0;
		}
		ws(&j);
		if (j.p >= j.end)
			return 0;
		if (*j.p == '}')
			break;
		if (*j.p++ != ',')
			return 0;
	}
	j.p++;
	ws(&j);
	return j.p == j.end && hit == 1;
}

int ap_jwt_has_audience(const char *tok, size_t len, const char *aud)
{
	static unsigned char payload[AP_TOKEN_MAX];
	const char *d1, *d2;
	long n;
	int r;

	d1 = memchr(tok, '.', len);
	if (d1 == NULL)
		return 0;
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
	if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL)
		return 0;
	n = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), payload, sizeof(payload));
	if (n <= 0)
		return 0;
	r = payload_has_audience(payload, (size_t)n, aud);
	explicit_bzero(payload, (size_t)n);
	return r;
}

void ap_describe_wait(int status, char *buf, size_t size)
{
	if (WIFEXITED(status)) {
		int code = WEXITSTATUS(status);

		snprintf(buf, size, "exited with status %d%s", code,
			 code == 127 ? " (not found, or could not be run)"
			 : code == 126 ? " (not executable)" : "");
	} else if (WIFSIGNALED(status)) {
		const char *name = sigdescr_np(WTERMSIG(status));

		snprintf(buf, size, "killed by signal %d (%s)%s", WTERMSIG(status),
			 name != NULL ? name : "unknown signal", WCOREDUMP(status) ? ", core dumped" : "");
	} else {
		snprintf(buf, size, "ended with wait status 0x%x", (unsigned)status);
	}
}
