/* b64.c: base64url for JOSE (strict, canonical only) and padded base64 for
 * kubeconfig data.  Strictness matters for JWTs: a decoder that accepts
 * several spellings of one token lets an attacker vary the bytes a cache or
 * a replay check sees while the signature still verifies. */
#include "b64.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63, or -1 for a character outside the alphabet. */
static int b64_value(unsigned char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/* Decode n (a multiple of 4, or with a 2/3-character tail) sextets that are
 * already known to be in the alphabet.  Returns 0, or -1 when the unused low
 * bits of a short tail are not zero (a non-canonical spelling). */
static int decode_groups(const char *in, size_t n, int url, unsigned char *out, size_t *out_len)
{
	size_t i, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (i = 0; i < n; i++) {
		acc = (acc << 6) | (uint32_t)b64_value((unsigned char)in[i], url);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	*out_len = o;
	return acc == 0 ? 0 : -1;
}

unsigned char *k8s_b64url_decode(const char *in, size_t len, size_t *out_len)
{
	unsigned char *out;
	size_t i;

	if (in == NULL || out_len == NULL || len % 4 == 1 || len > SIZE_MAX / 3)
		return NULL;
	for (i = 0; i < len; i++)
		if (b64_value((unsigned char)in[i], 1) < 0)
			return NULL;
	out = malloc(len / 4 * 3 + 3);
	if (out == NULL)
		return NULL;
	if (decode_groups(in, len, 1, out, out_len) != 0) {
		k8s_freezero(out, len / 4 * 3 + 3);
		return NULL;
	}
	out[*out_len] = '\0';
	return out;
}

/* Copy the alphabet characters of in, skipping whitespace; padding only at
 * the end (at most two '=') and the padded length a multiple of 4. */
static char *b64_compact(const char *in, size_t len, size_t *n_out)
{
	char *buf;
	size_t i, n = 0, pad = 0;
	int ok = 1;

	buf = malloc(len + 1);
	if (buf == NULL)
		return NULL;
	for (i = 0; i < len && ok; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=')
			pad++;
		else if (pad > 0 || b64_value(c, 0) < 0)
			ok = 0;
		else
			buf[n++] = (char)c;
	}
	if (!ok || pad > 2 || (n + pad) % 4 != 0 || (pad > 0 && n % 4 + pad != 4)) {
		k8s_freezero(buf, len + 1);
		return NULL;
	}
	*n_out = n;
	return buf;
}

unsigned char *k8s_b64_decode(const char *in, size_t len, size_t *out_len)
{
	unsigned char *out = NULL;
	char *compact;
	size_t n = 0;

	if (in == NULL || out_len == NULL || len > SIZE_MAX / 3 - 4)
		return NULL;
	compact = b64_compact(in, len, &n);
	if (compact == NULL)
		return NULL;
	out = malloc(n / 4 * 3 + 3);
	if (out != NULL) {
		/* Like Go's StdEncoding (what client-go uses for *-data), the
		 * unused bits of the last group are not checked. */
		(void)decode_groups(compact, n, 0, out, out_len);
		out[*out_len] = '\0';
	}
	k8s_freezero(compact, len + 1);
	return out;
}

char *k8s_b64url_encode(const unsigned char *in, size_t len)
{
	char *out;
	size_t i, o = 0;

	if ((in == NULL && len > 0) || len > (SIZE_MAX - 4) / 4 * 3)
		return NULL;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64url_alphabet[v >> 18];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (len - i == 1) {
		out[o++] = b64url_alphabet[in[i] >> 2];
		out[o++] = b64url_alphabet[(in[i] & 3) << 4];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

		out[o++] = b64url_alphabet[v >> 10];
		out[o++] = b64url_alphabet[(v >> 4) & 63];
		out[o++] = b64url_alphabet[(v & 15) << 2];
	}
	out[o] = '\0';
	return out;
}
