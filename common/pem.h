/* One check that a PEM text holds certificates, for the config and the
 * kubeconfig readers. */
#ifndef K8S_PEM_H
#define K8S_PEM_H
#include <stddef.h>

/* 1 if pem (len bytes) holds at least one certificate block (CERTIFICATE,
 * X509 CERTIFICATE or TRUSTED CERTIFICATE) whose base64 decodes to a DER
 * SEQUENCE of three parts (to-be-signed SEQUENCE, algorithm SEQUENCE,
 * signature BIT STRING) before any malformed one; other blocks are
 * skipped.  0 otherwise. */
int k8s_pem_has_cert(const char *pem, size_t len);
#endif
