/* jwks.h: JSON Web Key Sets (RFC 7517) into OpenSSL public keys: RSA
 * (n, e), EC P-256/384/521 (x, y checked on the curve), OKP Ed25519.
 * Keys with use != "sig", private members, or bad encodings are skipped
 * (and counted), never half-loaded. */
#ifndef K8S_JWKS_H
#define K8S_JWKS_H

#include <stddef.h>
#include <openssl/evp.h>
#include "err.h"

struct k8s_jwk {
	char *kid;   /* may be NULL */
	char *alg;   /* may be NULL (any alg fitting the key type) */
	int type;    /* EVP_PKEY_RSA, EVP_PKEY_EC, EVP_PKEY_ED25519 */
	int curve_nid; /* for EC */
	EVP_PKEY *pkey;
};

struct k8s_jwks {
	struct k8s_jwk *keys;
	size_t n;
	size_t skipped;
};

int k8s_jwks_parse(const char *json, size_t len, struct k8s_jwks *out, struct k8s_err *err);
void k8s_jwks_free(struct k8s_jwks *jwks);
/* Number of keys whose kid equals kid. */
size_t k8s_jwks_count_kid(const struct k8s_jwks *jwks, const char *kid);

#endif
