/* jwks.h: JSON Web Key Sets (RFC 7517) into OpenSSL public keys: RSA
 * (n, e; 2048..8192 bits), EC P-256/384/521 (x, y full length, checked on
 * the curve), OKP Ed25519.  Keys with use != "sig", a `kty`/`crv` or `alg`
 * we do not verify with, bad encodings, or private members are skipped (and
 * counted), never half-loaded.  Also the one table of JWS algorithms, so the
 * key parser and the verifier agree on what fits what. */
#ifndef K8S_JWKS_H
#define K8S_JWKS_H

#include <stddef.h>
#include <openssl/evp.h>
#include "err.h"

#define K8S_JWKS_MAX_KEYS 64     /* further keys are skipped: bounds parse work */
#define K8S_RSA_MIN_BITS  2048
#define K8S_RSA_MAX_BITS  8192
#define K8S_JWS_ALGS      10     /* entries in the algorithm table */

/* One JWS algorithm we verify (RFC 7518 section 3, RFC 8037). */
struct k8s_jws_alg {
	const char *name;     /* "RS256", ... "EdDSA" */
	int key_type;         /* EVP_PKEY_RSA, EVP_PKEY_EC, EVP_PKEY_ED25519 */
	int pss;              /* RSASSA-PSS, MGF1 with the same hash, any salt length */
	int curve_nid;        /* EC: the one curve this alg is defined on */
	const char *md;       /* digest name for EVP_MD_fetch; NULL for EdDSA */
	size_t coord_len;     /* EC: bytes of r and of s in the raw signature */
};

/* NULL for anything we do not verify with ("none", HS*, unknown). */
const struct k8s_jws_alg *k8s_jws_alg_lookup(const char *name);

struct k8s_jwk_prep; /* a verification context prepared for one alg (jwks.c) */

struct k8s_jwk {
	char *kid;   /* may be NULL */
	char *alg;   /* may be NULL (any alg fitting the key type) */
	int type;    /* EVP_PKEY_RSA, EVP_PKEY_EC, EVP_PKEY_ED25519 */
	int curve_nid; /* for EC */
	int bits;    /* RSA modulus bits, EC field bits, 256 for Ed25519 */
	EVP_PKEY *pkey;
	struct k8s_jwk_prep **prep; /* [K8S_JWS_ALGS], filled on first use */
};

struct k8s_jwks {
	struct k8s_jwk *keys;
	size_t n;
	size_t skipped;        /* entries not loaded, for any reason (includes private_keys) */
	size_t private_keys;   /* entries carrying private key material (d, p, q, k, ...) */
	char skip_note[256];   /* "kid X: why; kid Y: why" for the first skipped entries */
};

/* K8S_OK (even with zero usable keys: the caller decides) or
 * K8S_UNAVAILABLE when the document is not a JWKS at all (not a JSON
 * object with a "keys" array, duplicate members, oversize). */
int k8s_jwks_parse(const char *json, size_t len, struct k8s_jwks *out, struct k8s_err *err);
void k8s_jwks_free(struct k8s_jwks *jwks);
/* Number of keys whose kid equals kid. */
size_t k8s_jwks_count_kid(const struct k8s_jwks *jwks, const char *kid);
/* Does alg fit this key: key type, curve, RSA size, and the JWK's own alg? */
int k8s_jwk_fits_alg(const struct k8s_jwk *key, const struct k8s_jws_alg *alg);
/* A fresh EVP_PKEY_CTX, verify-initialised for alg (padding, PSS salt and
 * MGF1, digest set), for EVP_PKEY_verify over a digest made with *md; the
 * caller frees it.  NULL for EdDSA (no pre-hash) or on failure.  The
 * context is duplicated from one prepared on first use and kept with the
 * key, which saves most of OpenSSL's per-call setup; preparation is
 * published atomically, so a key set may be shared by threads. */
EVP_PKEY_CTX *k8s_jwk_verify_ctx(const struct k8s_jwk *key, const struct k8s_jws_alg *alg,
				 const EVP_MD **md);

#endif
