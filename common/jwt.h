/* jwt.h: compact JWS parsing and signature verification with OpenSSL EVP.
 * Parsing is strict (3 segments, canonical base64url, JSON objects with no
 * duplicate keys, no `crit`, size limit); verification checks the alg
 * against the key type and the kid against the key set. */
#ifndef K8S_JWT_H
#define K8S_JWT_H

#include <stddef.h>
#include <jansson.h>
#include "err.h"
#include "jwks.h"

#define K8S_TOKEN_MAX 16384 /* bytes; larger tokens are refused before anything else */

struct k8s_jwt {
	json_t *header;
	json_t *payload;
	const char *alg;          /* points into header */
	const char *kid;          /* points into header, may be NULL */
	unsigned char *signing_input; /* "b64(header).b64(payload)" */
	size_t signing_input_len;
	unsigned char *sig;
	size_t sig_len;
};

/* Does this look like a JWS at all (three dot-separated base64url segments)?
 * Cheap, no allocation. */
int k8s_looks_like_jwt(const char *token);
/* K8S_OK or K8S_REFUSED (reason says what is malformed). */
int k8s_jwt_parse(const char *token, size_t len, struct k8s_jwt *out, struct k8s_err *err);
void k8s_jwt_free(struct k8s_jwt *jwt);
/* Verify the signature with the key the header's kid (or, with no kid, the
 * only key that fits alg) names in keys.  K8S_OK / K8S_REFUSED. */
int k8s_jwt_verify(const struct k8s_jwt *jwt, const struct k8s_jwks *keys, struct k8s_err *err);

#endif
