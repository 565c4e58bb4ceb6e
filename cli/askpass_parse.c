/* askpass_parse.c: the few parsers k8s-ssh-askpass needs, written for
 * libc alone: SHA-256, pam_k8s's prompt grammar, and the "aud" claim of a
 * JWT payload.  All input is treated as hostile: the prompt comes from the
 * server, the token from a command. */
#include "askpass.h"

#include <stdio.h>
#include <string.h>

/* ---- SHA-256 ---- */

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char b[64])
{
	uint32_t w[64], a[8], t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
		       (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
	for (i = 16; i < 64; i++)
		w[i] = (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10)) + w[i - 7] +
		       (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 16];
	memcpy(a, h, sizeof(a));
	for (i = 0; i < 64; i++) {
		t1 = a[7] + (ROR(a[4], 6) ^ ROR(a[4], 11) ^ ROR(a[4], 25)) +
		     ((a[4] & a[5]) ^ (~a[4] & a[6])) + K[i] + w[i];
		t2 = (ROR(a[0], 2) ^ ROR(a[0], 13) ^ ROR(a[0], 22)) +
		     ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]));
		memmove(a + 1, a, 7 * sizeof(a[0]));
		a[4] += t1;
		a[0] = t1 + t2;
	}
	for (i = 0; i < 8; i++)
		h[i] += a[i];
}

void ap_sha256(const void *data, size_t len, unsigned char out[32])
{
	uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	const unsigned char *p = data;
	unsigned char last[128];
	uint64_t bits = (uint64_t)len * 8;
	size_t rest, n, i;

	for (; len >= 64; p += 64, len -= 64)
		sha256_block(h, p);
	rest = len;
	memset(last, 0, sizeof(last));
	memcpy(last, p, rest);
	last[rest] = 0x80;
	n = rest + 1 + 8 <= 64 ? 64 : 128;
	for (i = 0; i < 8; i++)
		last[n - 1 - i] = (unsigned char)(bits >> (8 * i));
	sha256_block(h, last);
	if (n == 128)
		sha256_block(h, last + 64);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(h[i] >> 8);
		out[4 * i + 3] = (unsigned char)h[i];
	}
	explicit_bzero(last, sizeof(last));
}

void ap_digest16(const char *tok, size_t len, char out[17])
{
	unsigned char md[32];
	int i;

	ap_sha256(tok, len, md);
	for (i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
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
