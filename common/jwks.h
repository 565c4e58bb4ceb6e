/* jwks.h: JSON Web Key Sets (RFC 7517) into OpenSSL public keys: RSA
 * (n, e; 2048..8192 bits), EC P-256/384/521 (x, y full length, checked on
 * the curve), OKP Ed25519.  Keys with use != "sig", a `kty`/`crv` or `alg`
 * we do not verify with, bad encodings, or private members are skipped (and
 * counted), never half-loaded.  Also the one table of JWS algorithms, so the
 * key parser and the verifier agree on what fits what. */
#ifndef K8S_JWKS_H
#define K8S_JWKS_H

#include <stddef.h>
#include <stdint.h>
#include <nettle/ecc.h>
#include <nettle/rsa.h>
#include "err.h"

#define K8S_JWKS_MAX_KEYS 64     /* further keys are skipped: bounds parse work */
#define K8S_RSA_MIN_BITS  2048
#define K8S_RSA_MAX_BITS  8192
#define K8S_JWS_ALGS      10     /* entries in the algorithm table */
#define K8S_JWS_MAX_DIGEST 64    /* SHA-512 */

enum k8s_kty { K8S_KTY_RSA = 1, K8S_KTY_EC, K8S_KTY_ED25519 };
enum k8s_crv { K8S_CRV_NONE = 0, K8S_CRV_P256, K8S_CRV_P384, K8S_CRV_P521 };
enum k8s_hash { K8S_HASH_NONE = 0, K8S_HASH_SHA256, K8S_HASH_SHA384, K8S_HASH_SHA512 };

/* One JWS algorithm we verify (RFC 7518 section 3, RFC 8037). */
struct k8s_jws_alg {
	const char *name;     /* "RS256", ... "EdDSA" */
	int key_type;         /* enum k8s_kty */
	int pss;              /* RSASSA-PSS, MGF1 with the same hash, any salt length */
	int curve;            /* EC: the one curve this alg is defined on (enum k8s_crv) */
	int hash;             /* enum k8s_hash; K8S_HASH_NONE for EdDSA */
	size_t coord_len;     /* EC: bytes of r and of s in the raw signature */
};

/* NULL for anything we do not verify with ("none", HS*, unknown). */
const struct k8s_jws_alg *k8s_jws_alg_lookup(const char *name);

/* A public key, in Nettle's types (read-only once parsed: a key set may be
 * shared by threads). */
struct k8s_jwk {
	char *kid;   /* may be NULL */
	char *alg;   /* may be NULL (any alg fitting the key type) */
	int type;    /* enum k8s_kty; 0 for none */
	int curve;   /* for EC, enum k8s_crv */
	int bits;    /* RSA modulus bits, EC field bits, 256 for Ed25519 */
	int rsa_init, ec_init;
	struct rsa_public_key rsa;  /* RSA: n, e, size in bytes */
	struct ecc_point ec;        /* EC: a point checked on its curve */
	uint8_t ed25519[32];        /* OKP: the encoded point */
};

struct k8s_jwks {
	struct k8s_jwk *keys;
	size_t n;
	size_t skipped;        /* entries not loaded, for any reason (includes private_keys) */
	size_t private_keys;   /* entries carrying private key material (d, p, q, k, ...) */
	char skip_note[256];   /* "kid X: why; kid Y: why" for the first skipped entries */
};

#define K8S_REASON_NO_SIGLIB "signature library missing"

/* K8S_OK (even with zero usable keys: the caller decides) or
 * K8S_UNAVAILABLE when the document is not a JWKS at all (not a JSON
 * object with a "keys" array, duplicate members, oversize), or reason
 * K8S_REASON_NO_SIGLIB when Nettle cannot be loaded. */
int k8s_jwks_parse(const char *json, size_t len, struct k8s_jwks *out, struct k8s_err *err);
void k8s_jwks_free(struct k8s_jwks *jwks);
/* Number of keys whose kid equals kid. */
size_t k8s_jwks_count_kid(const struct k8s_jwks *jwks, const char *kid);
/* Does alg fit this key: key type, curve, RSA size, and the JWK's own alg? */
int k8s_jwk_fits_alg(const struct k8s_jwk *key, const struct k8s_jws_alg *alg);
/* "RSA", "P-256", "P-384", "P-521", "Ed25519" */
const char *k8s_jwk_type_name(const struct k8s_jwk *key);
/* The signature length alg needs with this key (RSA: the modulus's bytes). */
size_t k8s_jwk_sig_len(const struct k8s_jwk *key, const struct k8s_jws_alg *alg);
/* 1 when sig (sig_len bytes, JWS encoding: raw r||s for ECDSA) is alg's
 * signature of msg under key, else 0.  EdDSA: always 0 (not accepted). */
int k8s_jwk_verify(const struct k8s_jwk *key, const struct k8s_jws_alg *alg, const uint8_t *msg,
		   size_t msg_len, const uint8_t *sig, size_t sig_len);

#endif
