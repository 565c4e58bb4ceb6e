/* frame.c: the multi-prompt token protocol (docs/pam.md has the why).
 *
 * Clients cut long answers silently: OpenSSH's ssh at 1023 bytes, PAM's
 * misc_conv at 4095, 512-byte buffers at 511.  A cut JWT fails its
 * signature check, but a cut opaque token is just another string, so the
 * protocol itself must make a cut visible:
 *   - framed: the first answer announces the total length and a digest,
 *     later answers name the offset they continue at; a cut shows up as a
 *     missing byte count, a wrong offset or a digest mismatch;
 *   - unframed: accepted whole, except at the lengths clients cut at
 *     (2^k - 1), where "whole" and "cut" look the same. */
#include "frame.h"

#include <string.h>


/* Every buffer size a client may use, minus its NUL: 255 .. 16383. */
int k8s_cut_length(size_t len)
{
	size_t k;

	for (k = 256; k <= 16384; k <<= 1)
		if (len == k - 1)
			return 1;
	return 0;
}

void k8s_trim(const char **s, size_t *len)
{
	const char *p = *s;
	size_t n = *len;

	while (n > 0 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' ||
			 p[n - 1] == '\n'))
		n--;
	*s = p;
	*len = n;
}

/* Token bytes: printable ASCII without space (the engine's precheck says
 * the same; checking here keeps framing errors apart from bad tokens). */
static int token_bytes(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
			return 0;
	return 1;
}

/* Decimal without sign or leading zeros, at most 5 digits, ended by ':'.
 * Advances *pos past the ':'.  0 ok, -1 bad. */
static int take_number(const char *s, size_t len, size_t *pos, size_t *out)
{
	size_t i = *pos, v = 0, digits = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		if (++digits > 5)
			return -1;
		v = v * 10 + (size_t)(s[i] - '0');
		i++;
	}
	if (digits == 0 || i >= len || s[i] != ':' || (digits > 1 && s[*pos] == '0'))
		return -1;
	*pos = i + 1;
	*out = v;
	return 0;
}

static int take_digest(const char *s, size_t len, size_t *pos, char out[17])
{
	size_t i;

	if (len - *pos < 17 || s[*pos + 16] != ':')
		return -1;
	for (i = 0; i < 16; i++) {
		char c = s[*pos + i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
		out[i] = c;
	}
	out[16] = '\0';
	*pos += 17;
	return 0;
}

static int frame_bad(struct k8s_frame *f, struct k8s_err *err, const char *reason,
		     const char *detail)
{
	k8s_buf_free(&f->tok);
	k8s_err_set(err, K8S_REFUSED, reason, "%s", detail);
	return K8S_FRAME_BAD;
}

static int frame_oom(struct k8s_frame *f, struct k8s_err *err, const char *what)
{
	k8s_buf_free(&f->tok);
	k8s_err_oom(err, "%s", what);
	return K8S_FRAME_BAD;
}

/* Append data; complete when total reached and the digest matches. */
static int frame_take(struct k8s_frame *f, const char *data, size_t n, struct k8s_err *err)
{
	char fp[17];

	if (n == 0 || !token_bytes(data, n))
		return frame_bad(f, err, "malformed token chunk",
				 "a chunk is empty or has bytes a token cannot contain");
	if (n > f->total - f->tok.len)
		return frame_bad(f, err, "malformed token chunk",
				 "a chunk runs past the announced total length");
	if (k8s_buf_append(&f->tok, data, n) != 0)
		return frame_oom(f, err, "assembling the token");
	if (f->tok.len < f->total) {
		if (f->rounds >= K8S_FRAME_MAX_ROUNDS)
			return frame_bad(f, err, "too many token chunks",
					 "the client sent more chunks than the protocol allows");
		return K8S_FRAME_MORE;
	}
	k8s_token_fingerprint(f->tok.data, f->tok.len, fp);
	if (strcmp(fp, f->digest) != 0)
		return frame_bad(f, err, "token digest mismatch",
				 "the assembled token does not match its digest: a chunk was cut or mixed up");
	if (k8s_buf_append(&f->tok, "", 1) != 0)
		return frame_oom(f, err, "assembling the token");
	f->tok.len--;
	return K8S_FRAME_DONE;
}

int k8s_frame_first(struct k8s_frame *f, const char *ans, size_t len, struct k8s_err *err)
{
	size_t pos = sizeof(K8S_FRAME_MAGIC) - 1, total;

	memset(f, 0, sizeof(*f));
	f->rounds = 1;
	k8s_trim(&ans, &len);
	if (len == 0)
		return frame_bad(f, err, K8S_REASON_NO_TOKEN, "the answer was empty");
	if (len < pos || memcmp(ans, K8S_FRAME_MAGIC, pos) != 0) {
		if (k8s_cut_length(len))
			return frame_bad(f, err, "token may have been cut by the client",
					 "an unframed answer of a length clients cut at; send it framed");
		if (len > K8S_TOKEN_MAX)
			return frame_bad(f, err, "malformed token", "the answer is too long for a token");
		/* the engine's precheck says the same; saying it here keeps a
		 * NUL or a line break from ever being taken for part of a token */
		if (!token_bytes(ans, len))
			return frame_bad(f, err, "malformed token",
					 "the token has bytes outside printable ASCII or blanks inside");
		f->total = len;
		memset(f->digest, 0, sizeof(f->digest));
		if (k8s_buf_append(&f->tok, ans, len) != 0 || k8s_buf_append(&f->tok, "", 1) != 0)
			return frame_oom(f, err, "copying the token");
		f->tok.len--;
		return K8S_FRAME_DONE;
	}
	if (take_number(ans, len, &pos, &total) != 0 || total == 0 || total > K8S_TOKEN_MAX ||
	    take_digest(ans, len, &pos, f->digest) != 0)
		return frame_bad(f, err, "malformed token frame",
				 "the answer starts with k8s1: but its header is not <length>:<16 hex>:");
	f->total = total;
	return frame_take(f, ans + pos, len - pos, err);
}

int k8s_frame_next(struct k8s_frame *f, const char *ans, size_t len, struct k8s_err *err)
{
	size_t pos = 0, off;

	f->rounds++;
	k8s_trim(&ans, &len);
	if (take_number(ans, len, &pos, &off) != 0)
		return frame_bad(f, err, "malformed token chunk",
				 "a continuation answer does not start with <offset>:");
	if (off != f->tok.len)
		return frame_bad(f, err, "token chunk out of place",
				 "a chunk continues at another offset than asked: the previous one was cut");
	return frame_take(f, ans + pos, len - pos, err);
}

void k8s_frame_free(struct k8s_frame *f)
{
	k8s_buf_free(&f->tok);
	memset(f, 0, sizeof(*f));
}
