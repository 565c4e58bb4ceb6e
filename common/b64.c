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

/* Sextet value of each byte, BAD outside the alphabet: one table lookup per
 * character keeps token parsing cheap next to the signature check. */
#define BAD 0xff
static const unsigned char url_value[256] = {
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,  62, BAD, BAD,
	 52,  53,  54,  55,  56,  57,  58,  59,  60,  61, BAD, BAD, BAD, BAD, BAD, BAD,
	BAD,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
	 15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, BAD, BAD, BAD, BAD,  63,
	BAD,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
	 41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, BAD, BAD, BAD, BAD, BAD,
	[128 ... 255] = BAD,
};

static const unsigned char std_value[256] = {
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,  62, BAD, BAD, BAD,  63,
	 52,  53,  54,  55,  56,  57,  58,  59,  60,  61, BAD, BAD, BAD, BAD, BAD, BAD,
	BAD,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
	 15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, BAD, BAD, BAD, BAD, BAD,
	BAD,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
	 41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, BAD, BAD, BAD, BAD, BAD,
	[128 ... 255] = BAD,
};

/* Decode n characters (full groups plus a 2- or 3-character tail) with
 * table tab.  Returns 0, or -1 for a character outside the alphabet or a
 * tail whose unused low bits are not zero (a non-canonical spelling). */
static int decode_groups(const unsigned char *in, size_t n, const unsigned char *tab,
			 unsigned char *out, size_t *out_len)
{
	size_t i, o = 0;
	unsigned bad = 0;
	uint32_t v;

	for (i = 0; i + 4 <= n; i += 4) {
		bad |= tab[in[i]] | tab[in[i + 1]] | tab[in[i + 2]] | tab[in[i + 3]];
		v = (uint32_t)tab[in[i]] << 18 | (uint32_t)tab[in[i + 1]] << 12 |
		    (uint32_t)tab[in[i + 2]] << 6 | tab[in[i + 3]];
		out[o++] = (unsigned char)(v >> 16);
		out[o++] = (unsigned char)(v >> 8);
		out[o++] = (unsigned char)v;
	}
	if (n - i == 2) {
		bad |= tab[in[i]] | tab[in[i + 1]];
		v = (uint32_t)tab[in[i]] << 6 | tab[in[i + 1]];
		out[o++] = (unsigned char)(v >> 4);
		bad |= (v & 15) ? BAD : 0;
	} else if (n - i == 3) {
		bad |= tab[in[i]] | tab[in[i + 1]] | tab[in[i + 2]];
		v = (uint32_t)tab[in[i]] << 12 | (uint32_t)tab[in[i + 1]] << 6 | tab[in[i + 2]];
		out[o++] = (unsigned char)(v >> 10);
		out[o++] = (unsigned char)(v >> 2);
		bad |= (v & 3) ? BAD : 0;
	} else if (n - i != 0) {
		bad = BAD;
	}
	*out_len = o;
	return (bad & 0xc0) == 0 ? 0 : -1;
}

unsigned char *k8s_b64url_decode(const char *in, size_t len, size_t *out_len)
{
	unsigned char *out;

	if (in == NULL || out_len == NULL || len % 4 == 1 || len > SIZE_MAX / 3)
		return NULL;
	out = malloc(len / 4 * 3 + 3);
	if (out == NULL)
		return NULL;
	if (decode_groups((const unsigned char *)in, len, url_value, out, out_len) != 0) {
		k8s_freezero(out, len / 4 * 3 + 3);
		return NULL;
	}
	out[*out_len] = '\0';
	return out;
}

unsigned char *k8s_b64url_decode_lax(const char *in, size_t len, size_t *out_len)
{
	unsigned char *out;
	size_t i;

	if (in == NULL || out_len == NULL)
		return NULL;
	while (len > 0 && in[len - 1] == '=') /* go-jose: strings.TrimRight(s, "=") */
		len--;
	if (len % 4 == 1 || len > SIZE_MAX / 3)
		return NULL;
	for (i = 0; i < len; i++)
		if (url_value[(unsigned char)in[i]] == BAD)
			return NULL;
	out = malloc(len / 4 * 3 + 3);
	if (out == NULL)
		return NULL;
	/* Go's RawURLEncoding: the unused bits of the last group are not checked */
	(void)decode_groups((const unsigned char *)in, len, url_value, out, out_len);
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
		else if (pad > 0 || std_value[c] == BAD)
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
		(void)decode_groups((const unsigned char *)compact, n, std_value, out, out_len);
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
