/* b64.h: strict base64url (JWT, JWK) and base64 (kubeconfig *-data). */
#ifndef K8S_B64_H
#define K8S_B64_H

#include <stddef.h>

/* Unpadded base64url, canonical only: no '=', no whitespace, no invalid
 * length (len % 4 == 1), and the unused low bits of the last character must
 * be zero.  Returns malloc'd bytes (NUL-terminated for convenience) or NULL. */
unsigned char *k8s_b64url_decode(const char *in, size_t len, size_t *out_len);
/* Base64url as go-jose reads a compact JWS's segments: any trailing '='
 * dropped, the unused low bits of the last character not checked.  Only
 * to read a token as the apiserver would read it (k8s_token_decode's
 * classification for the policy pre-check); never for what we verify. */
unsigned char *k8s_b64url_decode_lax(const char *in, size_t len, size_t *out_len);
/* Standard base64 with padding; whitespace (as in PEM-ish data) is skipped. */
unsigned char *k8s_b64_decode(const char *in, size_t len, size_t *out_len);
/* Unpadded base64url encoding, malloc'd NUL-terminated. */
char *k8s_b64url_encode(const unsigned char *in, size_t len);

#endif
