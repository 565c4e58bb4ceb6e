/* The shape of a certificate, not its contents.
 *
 * The config and kubeconfig readers check that a CA is certificates so
 * that a wrong file or a key pasted in its place is a configuration error
 * at load time.  They run once per login in k8s-auth-helper, a fresh
 * process; the full parse is done anyway by the TLS library when the CA
 * is used, which fails closed on a certificate that is well framed but
 * broken.  So here, with libc only (no libcrypto in the helper's start-up):
 * PEM framing and base64 as OpenSSL's PEM reader takes them, and the DER's
 * outer structure (a SEQUENCE of SEQUENCE, SEQUENCE, BIT STRING).  Where
 * this is more lenient than the TLS library, the CA fails at use; it is
 * never stricter, so a CA OpenSSL takes is never a configuration error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "pem.h"
#include "util.h"

#define PEM_NAME_MAX 80

static int cert_name(const char *name)
{
	return strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0 ||
	       strcmp(name, "TRUSTED CERTIFICATE") == 0;
}

/* One DER TLV at *p (end e): its tag, and its content [*c, *c + *cl).
 * Definite lengths only (DER), up to 4 length bytes.  0 or -1. */
static int der_tlv(const uint8_t **p, const uint8_t *e, int *tag, const uint8_t **c, size_t *cl)
{
	const uint8_t *q = *p;
	size_t len = 0, n, i;

	if (e - q < 2 || (q[0] & 0x1f) == 0x1f)
		return -1;
	*tag = q[0];
	if (q[1] < 0x80) {
		len = q[1];
		q += 2;
	} else {
		n = q[1] & 0x7f;
		if (n == 0 || n > 4 || (size_t)(e - q) < 2 + n)
			return -1;
		for (i = 0; i < n; i++)
			len = len << 8 | q[2 + i];
		q += 2 + n;
	}
	if ((size_t)(e - q) < len)
		return -1;
	*c = q;
	*cl = len;
	*p = q + len;
	return 0;
}

/* TRUSTED CERTIFICATE is the certificate followed by its trust settings:
 * only the first DER object is the certificate. */
static int der_is_cert(const uint8_t *der, size_t len, int trusted)
{
	/* tags compared without the constructed bit (0x20), as OpenSSL's
	 * generic decoder takes them: lenient, the TLS library decides */
	static const int want[3] = { 0x10, 0x10, 0x03 };
	const uint8_t *p = der, *e = der + len, *c, *ce, *x;
	size_t cl, xl;
	int tag, i;

	if (der_tlv(&p, e, &tag, &c, &cl) != 0 || (tag & ~0x20) != 0x10 || (!trusted && p != e))
		return 0;
	ce = c + cl;
	for (i = 0; i < 3; i++)
		if (der_tlv(&c, ce, &tag, &x, &xl) != 0 || (tag & ~0x20) != want[i])
			return 0;
	return c == ce;
}

/* The next line of [*p, e): [*l, *l + *ll) without its end of line. */
static int next_line(const char **p, const char *e, const char **l, size_t *ll)
{
	const char *nl;

	if (*p >= e)
		return 0;
	nl = memchr(*p, '\n', (size_t)(e - *p));
	*l = *p;
	*ll = (size_t)((nl != NULL ? nl : e) - *p);
	*p = nl != NULL ? nl + 1 : e;
	/* OpenSSL reads a line as a C string: a NUL ends it */
	nl = memchr(*l, '\0', *ll);
	if (nl != NULL)
		*ll = (size_t)(nl - *l);
	/* as OpenSSL's PEM reader: every trailing byte <= ' ' as a signed
	 * char (controls, blanks, bytes >= 0x80) goes */
	while (*ll > 0 && ((unsigned char)(*l)[*ll - 1] <= ' ' || (unsigned char)(*l)[*ll - 1] >= 0x80))
		(*ll)--;
	return 1;
}

/* "-----BEGIN NAME-----" / "-----END NAME-----": NAME into name. */
static int marker(const char *l, size_t ll, const char *what, char *name)
{
	size_t wl = strlen(what), nl;

	if (ll < 5 + wl + 5 || memcmp(l, "-----", 5) != 0 || memcmp(l + 5, what, wl) != 0 ||
	    memcmp(l + ll - 5, "-----", 5) != 0)
		return 0;
	nl = ll - 5 - wl - 5;
	if (nl == 0 || nl > PEM_NAME_MAX || memchr(l + 5 + wl, '\0', nl) != NULL)
		return 0;
	memcpy(name, l + 5 + wl, nl);
	name[nl] = '\0';
	return 1;
}

/* One block's body [b, be): header lines ("Proc-Type: ...", up to a blank
 * line) skipped, the rest base64.  Decoded into *der, or -1. */
static int block_der(const char *b, const char *be, uint8_t **der, size_t *der_len)
{
	const char *p = b, *l, *body = b;
	size_t ll;

	if (next_line(&p, be, &l, &ll) && memchr(l, ':', ll) != NULL) {
		while (next_line(&p, be, &l, &ll) && ll > 0)
			;
		body = p;
	}
	/* As OpenSSL's base64 decoder: a '-' ends the data (the rest of the
	 * body is never read); bytes it strips at line ends (it reads lines
	 * in pieces) or refuses are dropped anywhere: more lenient, never
	 * less. */
	{
		size_t n = (size_t)(be - body), i, k = 0;
		char *b64 = malloc(n + 1);
		int end = 0;

		if (b64 == NULL)
			return -1;
		p = body;
		while (!end && next_line(&p, be, &l, &ll))
			for (i = 0; i < ll && !(end = l[i] == '-'); i++)
				if ((unsigned char)l[i] > ' ' && (unsigned char)l[i] < 0x80)
					b64[k++] = l[i];
		*der = k8s_b64_decode(b64, k, der_len);
		free(b64);
	}
	return *der != NULL ? 0 : -1;
}

int k8s_pem_has_cert(const char *pem, size_t len)
{
	const char *p = pem, *e, *l, *body = NULL;
	char name[PEM_NAME_MAX + 1];
	size_t ll;
	int n = 0;

	if (pem == NULL || len == 0)
		return 0;
	e = pem + len;
	while (next_line(&p, e, &l, &ll)) {
		uint8_t *der = NULL;
		size_t der_len = 0;
		int ok;

		if (body == NULL) {
			if (marker(l, ll, "BEGIN ", name))
				body = p;
			continue; /* text around blocks is skipped, as OpenSSL does */
		}
		if (ll < 9 || memcmp(l, "-----END ", 9) != 0)
			continue;
		/* OpenSSL compares "-----END NAME-----" as a prefix; a block that
		 * does not close so or does not decode ends the reading, as it
		 * does OpenSSL's: no later certificate counts */
		if (ll < 9 + strlen(name) + 5 || memcmp(l + 9, name, strlen(name)) != 0 ||
		    memcmp(l + 9 + strlen(name), "-----", 5) != 0 ||
		    block_der(body, l, &der, &der_len) != 0)
			break;
		body = NULL;
		if (!cert_name(name)) {
			k8s_freezero(der, der_len); /* other blocks (a CRL, a key) are skipped, as the TLS library does */
			continue;
		}
		ok = der_is_cert(der, der_len, strcmp(name, "TRUSTED CERTIFICATE") == 0);
		free(der);
		if (!ok)
			break; /* as a failing certificate read ends the reading */
		n++;
	}
	return n > 0;
}
