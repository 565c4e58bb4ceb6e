/* identity.h: what a validated token says about its holder. */
#ifndef K8S_IDENTITY_H
#define K8S_IDENTITY_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "err.h"

/* How far the host's clock and a token's issuer may disagree: nbf and iat
 * may be this far in the future, as go-oidc and go-jose allow. */
#define K8S_CLOCK_LEEWAY_S 60

struct k8s_identity {
	const char *method;  /* "tokenreview", "jwt" or "serviceaccount" (static strings) */
	char *issuer;        /* JWT issuer URL for "jwt" and "serviceaccount"; NULL for tokenreview */
	char *subject;       /* JWT `sub` for "jwt"; NULL for tokenreview */
	char *username;      /* never empty once validated */
	char *uid;           /* may be NULL (no uid given) */
	char **groups;
	size_t n_groups;
	json_t *extra;       /* object: key -> array of strings; never NULL once validated */
	time_t exp;          /* 0 = unknown (opaque token) */
	time_t iat;          /* 0 = unknown */
	time_t nbf;          /* 0 = unknown */
	/* Bound service-account token details (the kubernetes.io claim), when present. */
	char *namespace_;
	char *sa_name;
	char *sa_uid;
	char *pod_name;
	char *pod_uid;
	char *node_name;
	char *node_uid;
	int legacy_sa;       /* secret-based service-account token */
	char fingerprint[17];/* first 16 hex digits of SHA-256(token) */
	/* Something the administrator must hear about this validation even
	 * when it succeeded (stale issuer keys, policy.allowClusterAudiences):
	 * NULL or "; "-separated sentences, never a secret.  `k8s-auth check`
	 * prints it on stderr, pam_k8s logs it. */
	char *warning;
};

void k8s_identity_free(struct k8s_identity *id); /* frees members, zeroes *id */
int k8s_identity_add_group(struct k8s_identity *id, const char *group); /* 0 / -1 */
int k8s_identity_has_group(const struct k8s_identity *id, const char *group);
/* The apiserver's authenticated-group adder (k8s.io/apiserver
 * group.AuthenticatedGroupAdder), run on what an offline authenticator
 * (jwt, serviceAccounts) produced, after its claim mappings and
 * userValidationRules, as the apiserver runs it after each of its
 * authenticators: system:authenticated is appended unless the username is
 * system:anonymous or the groups already hold system:authenticated or
 * system:unauthenticated.  0 / -1 (out of memory). */
int k8s_identity_add_authenticated(struct k8s_identity *id);

/* The extra key the apiserver gives a token's id (k8s.io/api
 * user.CredentialIDKey) and its value for a JWT: "JTI=" + the jti claim
 * (CredentialIDForJTI). */
#define K8S_EXTRA_CREDENTIAL_ID "authentication.kubernetes.io/credential-id"
/* With jti a non-empty JSON string, id->extra[credential-id] =
 * ["JTI=<jti>"], as both the apiserver's JWT authenticator (getExtra) and
 * its service-account authenticator (with ServiceAccountTokenJTI) set it;
 * a missing, null, empty or non-string jti sets nothing, as there.
 * id->extra must be an object.  0, or -1 (out of memory, or a jti holding
 * a NUL, which no log or extra may carry). */
int k8s_identity_set_credential_id(struct k8s_identity *id, const json_t *jti);
/* The credential id the identity carries (extra[credential-id][0], from
 * whichever authenticator said yes), or NULL.  Attacker bytes: escape
 * before logging (k8s_log_kv does). */
const char *k8s_identity_credential_id(const struct k8s_identity *id);
/* Append one warning sentence (printf format) to id->warning.  Best effort:
 * out of memory drops it. */
void k8s_identity_warn(struct k8s_identity *id, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A NumericDate claim (RFC 7519 2: seconds, possibly non-integral), the
 * one rule for exp/iat/nbf on every path: a JSON number, or a string
 * holding exactly a JSON number (go-oidc decodes through json.Number),
 * truncated toward zero as go-oidc and go-jose do; refused when it is not
 * a number, not finite, or outside time_t.  1 *out set, 0 v is NULL
 * (absent, *out = 0), -1 refused (*out = 0). */
int k8s_numeric_date(const json_t *v, time_t *out);
/* Is s[0..n) exactly a JSON number (RFC 8259 6)? */
int k8s_json_is_number(const char *s, size_t n);

/* Fill exp/iat/nbf and the kubernetes.io binding fields from an (already
 * authenticated) JWT payload (a null nbf is no nbf, as in go-oidc).  Missing fields are left alone (0 = unknown;
 * so are iat and nbf at or before the epoch).  K8S_REFUSED when exp, iat
 * or nbf is present but not a NumericDate (k8s_numeric_date), or exp is at
 * or before the epoch (expired; 0 would read as unknown). */
int k8s_identity_take_jwt_claims(struct k8s_identity *id, json_t *payload, struct k8s_err *err);

/* The immutable identity id of the PAM issue: "tokenreview:uid:<uid>" or
 * "tokenreview:user:<username>" (no uid), "tokenreview:uid:<uid>" for
 * "serviceaccount" too (the same user TokenReview gives for that token;
 * no uid: nothing to bind), "jwt:<issuer>#<uid or subject>",
 * or "jwt:<issuer>#user#<username>" for a JWT with neither a mapped uid
 * nor a (non-empty) sub, which the apiserver accepts when the username
 * comes from another claim.  Bytes below 0x20, 0x7f, '%' and '#' are
 * written %XX, so the result is one printable line and still one-to-one
 * (an encoded sub never holds a '#').  K8S_OK with *out malloc'd;
 * K8S_REFUSED "identity too long to record" when it would exceed the
 * store's 4096 bytes, "no identity to bind" when there is nothing to bind
 * to (no username either, or an unknown method); K8S_UNAVAILABLE out of
 * memory. */
int k8s_identity_binding(const struct k8s_identity *id, char **out, struct k8s_err *err);

/* ---- the identity as JSON: the one serialisation every file that keeps
 * an identity uses (the review cache, the login state).  Keys: method,
 * issuer, subject, username, uid, groups, extra, exp, iat, nbf, namespace,
 * sa_name, sa_uid, pod_name, pod_uid, node_name, node_uid, legacy_sa,
 * fingerprint; absent strings are left out (never null); the warning is
 * not kept (it belongs to one validation). */

/* A new object, or NULL (no method or username, invalid UTF-8, out of
 * memory). */
json_t *k8s_identity_to_json(const struct k8s_identity *id);
/* Fill *id (zeroed first) from what k8s_identity_to_json wrote.  Strict,
 * since a cache must never be misread: method "tokenreview", "jwt" or
 * "serviceaccount", a
 * non-empty username, groups an array of strings, extra an object of
 * string arrays, exp/iat/nbf integers >= 0, legacy_sa a boolean; every
 * other member absent or of its type; fingerprint absent or 16 lowercase
 * hex digits.  0, or -1 with *id freed. */
int k8s_identity_from_json(const json_t *o, struct k8s_identity *id);
/* A JSON array of n strings, or NULL. */
json_t *k8s_json_strv(char *const *v, size_t n);

#endif
