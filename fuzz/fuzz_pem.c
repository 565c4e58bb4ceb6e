/* libFuzzer target: the CA shape check (pem.c) on any bytes.  Contract:
 * 0 or 1, never a crash or a leak; the answer does not depend on bytes
 * past the length given (a copy without a terminator); and it is never
 * stricter than OpenSSL's own PEM reader with a generic DER decode (the
 * check pem.c replaced, an independent implementation): whatever that
 * takes as holding a certificate, pem.c takes too, so a CA the TLS
 * library would load is never a configuration error.  That comparison
 * is for text: with a NUL byte OpenSSL's reader is C strings cut at odd
 * places (a NUL in a marker line and one in a base64 line are treated
 * differently), and no CA file carries one. */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "pem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ossl_cert_name(const char *name)
{
	return strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0 ||
	       strcmp(name, "TRUSTED CERTIFICATE") == 0;
}

static int ossl_der_is_cert(const unsigned char *der, long len, int trusted)
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

static int ossl_has_cert(const char *pem, size_t len)
{
	BIO *bio;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	int n = 0, stop = 0;

	if (len == 0 || len > INT_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return 0;
	while (!stop && PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
		if (!ossl_cert_name(name))
			;
		else if (ossl_der_is_cert(data, dlen, strcmp(name, "TRUSTED CERTIFICATE") == 0))
			n++;
		else
			stop = 1;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
	}
	BIO_free(bio);
	ERR_clear_error();
	return n > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	int r;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	r = k8s_pem_has_cert(copy, size);
	if (r != 0 && r != 1)
		abort();
	if (r == 0 && memchr(copy, '\0', size) == NULL && ossl_has_cert(copy, size) == 1)
		abort(); /* stricter than OpenSSL: would lock out a CA curl loads */
	free(copy);
	return 0;
}
