/* jwt.h: compact JWS parsing and signature verification with OpenSSL EVP.
 * Parsing is strict (3 segments, canonical base64url, JSON objects with no
 * duplicate keys, no `crit`, `typ` absent or JWT, size limit); verification
 * checks the alg against the key type and the kid against the key set,
 * trying every key that the kid (or, without one, the alg) admits. */
#ifndef K8S_JWT_H
#define K8S_JWT_H

#include <stddef.h>
#include <jansson.h>
#include "err.h"
#include "jwks.h"

#include "tokenproto.h" /* K8S_TOKEN_MAX */

/* err->reason of k8s_jwt_verify when the key set has no key for the token
 * (kid unknown, or no kid and no key fits the alg): the one refusal that a
 * fresher JWKS could turn into success, so callers may refetch on it. */
#define K8S_REASON_UNKNOWN_KEY "unknown signing key"

struct k8s_jwt {
	json_t *header;
	json_t *payload;
	const char *alg;          /* points into header */
	const char *kid;          /* points into header, may be NULL */
	unsigned char *signing_input; /* "b64(header).b64(payload)", NUL-terminated; wiped on free */
	size_t signing_input_len;
	unsigned char *sig;
	size_t sig_len;
};

/* Does this look like a JWS at all (three non-empty dot-separated base64url
 * segments, at most K8S_TOKEN_MAX bytes)?  Cheap, no allocation. */
int k8s_looks_like_jwt(const char *token);
/* K8S_OK or K8S_REFUSED: "malformed token" (size, segments, encoding,
 * JSON), "unsupported token" (JWE, crit, typ other than JWT).  On failure
 * *out is left zeroed, so k8s_jwt_free() is always safe.  Does not look at
 * alg beyond it being a non-empty string: that is k8s_jwt_verify's job. */
int k8s_jwt_parse(const char *token, size_t len, struct k8s_jwt *out, struct k8s_err *err);
void k8s_jwt_free(struct k8s_jwt *jwt);
/* A copy of the JSON text in[0..len) in which every number jansson cannot
 * hold (an integer beyond 64 bits, a real beyond a double) is replaced by
 * a number it can (the same integer as a real; +-DBL_MAX), so that such a
 * number refuses a token only where a claim is read as a number, as with
 * Go's decoder.  malloc'd, *out_len set; NULL when nothing needs changing. */
char *k8s_json_tame_numbers(const char *in, size_t len, size_t *out_len);
/* A JWT header or payload text parsed as every path parses it: duplicate
 * keys refused, numbers tamed (k8s_json_tame_numbers).  jerr may be NULL. */
json_t *k8s_jwt_json_load(const char *text, size_t len, json_error_t *jerr);
/* A presented token, read once (k8s_token_decode, in validate.c or the
 * decide path) and handed on: this is the one reader of a token's bytes
 * before the signature or the apiserver has vouched for them.  Everything
 * here is unverified.
 *   jws      k8s_looks_like_jwt;
 *   parsed   k8s_jwt_parse accepted it: jwt holds it (for the jwt
 *            authenticators), else perr says why (jws only);
 *   header, payload
 *            the segment as a JSON object whenever it decodes (base64url
 *            as go-jose reads it, padded or not, unique keys, numbers
 *            tamed), even when the strict
 *            parse refused the token for another reason (its signature's
 *            encoding, typ, crit...): the policy pre-check refuses on the
 *            payload of any three-segment token, and the apiserver may
 *            accept what the strict parser refuses.  Three dot-separated
 *            segments are enough to try; NULL otherwise.  The same objects
 *            as jwt's when parsed. */
struct k8s_token {
	const char *text;         /* the caller's bytes, not copied */
	size_t len;
	int jws;
	int parsed;
	struct k8s_jwt jwt;
	struct k8s_err perr;
	json_t *header;
	json_t *payload;
};
/* token: a C string, len at most its length (only token[0..len) is read
 * as the token).  Never fails: what cannot be decoded is left NULL (out
 * of memory too, which can then only refuse or send the token to the
 * apiserver). */
void k8s_token_decode(struct k8s_token *t, const char *token, size_t len);
void k8s_token_free(struct k8s_token *t);

/* Verify the signature with a key the header's kid names in keys (each key
 * with that kid is tried), or, with no kid (absent, null or ""), any key
 * that fits alg, as go-oidc does.  K8S_OK, or K8S_REFUSED with reason
 * "unsupported algorithm" (none, HS*, EdDSA, unknown: the apiserver accepts
 * RS/PS/ES only), K8S_REASON_UNKNOWN_KEY, "algorithm mismatch" (the kid's
 * keys have another type/curve/alg), "bad signature". */
int k8s_jwt_verify(const struct k8s_jwt *jwt, const struct k8s_jwks *keys, struct k8s_err *err);

#endif
