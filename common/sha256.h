/* sha256.h: SHA-256 (FIPS 180-4) in plain C.  libc only, so the PAM
 * module (which links no libcrypto) and k8s-ssh-askpass can compute the
 * frame digest and the token fingerprint the same way the engine does. */
#ifndef K8S_SHA256_H
#define K8S_SHA256_H

#include <stddef.h>

#define K8S_SHA256_LEN 32

/* One shot. */
void k8s_sha256(const void *data, size_t len, unsigned char out[K8S_SHA256_LEN]);

/* Hex of the digest (65 bytes with the NUL). */
void k8s_sha256_hex(const void *data, size_t len, char out[65]);

/* Hex of the first 8 bytes of SHA-256(token): the frame digest of the
 * multi-prompt protocol and the log-safe token fingerprint. */
void k8s_token_fingerprint(const char *token, size_t len, char out[17]);

#endif
