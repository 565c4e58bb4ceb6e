/* The shape of a certificate, not its contents.
 *
 * The config and kubeconfig readers check that a CA is certificates so
 * that a wrong file or a key pasted in its place is a configuration error
 * at load time.  They run once per login in the helper, a fresh process:
 * decoding an X509 with OpenSSL 3.0 builds its decoder tables for the
 * public key on first use (about 0.6 ms, a fifth of the helper's budget),
 * and the full parse is done anyway by the TLS library when the CA is
 * used, which fails closed on a certificate that is well framed but
 * broken.  So here: PEM framing and base64 (PEM_read_bio, no ASN.1
 * decoding of the key), and the DER's outer structure as generic ASN.1. */
#include <limits.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "pem.h"

static int cert_name(const char *name)
{
	return strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0 ||
	       strcmp(name, "TRUSTED CERTIFICATE") == 0;
}

/* TRUSTED CERTIFICATE is the certificate followed by its trust settings:
 * only the first DER object is the certificate. */
static int der_is_cert(const unsigned char *der, long len, int trusted)
{
	const unsigned char *p = der;
	ASN1_SEQUENCE_ANY *seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, len);
	int ok;

	if (seq == NULL)
		return 0;
	ok = (trusted || p == der + len) && sk_ASN1_TYPE_num(seq) == 3 &&
	     ASN1_TYPE_get(sk_ASN1_TYPE_value(seq, 0)) == V_ASN1_SEQUENCE &&
	     ASN1_TYPE_get(sk_ASN1_TYPE_value(seq, 1)) == V_ASN1_SEQUENCE &&
	     ASN1_TYPE_get(sk_ASN1_TYPE_value(seq, 2)) == V_ASN1_BIT_STRING;
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	return ok;
}

int k8s_pem_has_cert(const char *pem, size_t len)
{
	BIO *bio;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	int n = 0, stop = 0;

	if (pem == NULL || len == 0 || len > INT_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return 0;
	while (!stop && PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
		if (!cert_name(name))
			; /* other blocks (a CRL, a key) are skipped, as the TLS library does */
		else if (der_is_cert(data, dlen, strcmp(name, "TRUSTED CERTIFICATE") == 0))
			n++;
		else
			stop = 1; /* as a failing certificate read ends the reading */
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
	}
	BIO_free(bio);
	ERR_clear_error(); /* the read that hit the end left an error queued */
	return n > 0;
}
