/* x509lazy.h: is this DER one X.509 certificate (OpenSSL's d2i_X509, with
 * no trailing bytes, as Go's x509.ParseCertificate)?  Only a JWS header's
 * x5c needs it (go-jose refuses a token whose chain does not parse), so
 * libcrypto is loaded on that first use (dlopen), not by every
 * k8s-auth-helper process. */
#ifndef K8S_X509LAZY_H
#define K8S_X509LAZY_H

#include <stddef.h>

#define K8S_LIBCRYPTO_SONAME "libcrypto.so.3"
#define K8S_LIBCRYPTO_PACKAGE "libssl3"
#define K8S_REASON_NO_X509LIB "certificate library missing"

/* 1 one certificate, 0 not, -1 libcrypto cannot be loaded (callers refuse,
 * K8S_UNAVAILABLE with K8S_REASON_NO_X509LIB). */
int k8s_x509_parses(const unsigned char *der, size_t len);

#endif
