/* explain.h: what a refusal tells the administrator beyond its reason, so
 * the message says what to fix: times in UTC with how long ago and, when
 * the host clock may be the cause, what it reads; a token's own claims
 * (untrusted: printable ASCII only, bounded) next to what the
 * configuration expects; a configured issuer a token's iss nearly
 * matches.  Never a token or a secret: only claims meant to be read. */
#ifndef K8S_EXPLAIN_H
#define K8S_EXPLAIN_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "err.h"
#include "jwt.h"

/* An expiry within this many seconds of now may be the host clock's
 * doing (a clock a few minutes ahead): the message then shows the clock. */
#define K8S_CLOCK_SUSPECT_S 300

/* A token's aud claim (a string or an array of strings, anything else
 * "(not a string or a list of strings)") for a message: "\"a\"" or
 * "[\"a\", \"b\"]", each entry through k8s_show_untrusted, the whole at
 * most about size bytes ("..." when cut); "(none)" when absent. */
void k8s_show_audiences(json_t *aud, char *out, size_t size);

/* Configured values for a message: "\"a\"" or "\"a\", \"b\"". */
void k8s_show_strv(const struct k8s_strv *v, char *out, size_t size);

/* How the issuer a token names (got) nearly matches a configured one
 * (want): a phrase ("a trailing slash", "http instead of https", "letter
 * case in the host", joined with " and ") or NULL when they are equal or
 * not near. */
const char *k8s_issuer_near_miss(const char *want, const char *got, char *buf, size_t size);

/* K8S_REFUSED "token expired": "token expired at <when>" and, within
 * K8S_CLOCK_SUSPECT_S of now, what the host clock reads. */
int k8s_err_expired(struct k8s_err *err, time_t exp, time_t now);

/* K8S_REFUSED "token not yet valid": "token is valid from <when>, beyond
 * the 60s clock leeway" and what the host clock reads. */
int k8s_err_not_yet_valid(struct k8s_err *err, time_t nbf, time_t now);

/* K8S_REFUSED "token issued in the future": the same for iat. */
int k8s_err_issued_ahead(struct k8s_err *err, time_t iat, time_t now);

/* "; the host clock reads 2026-...Z, if that is wrong fix it (k8s-auth
 * status compares it with the apiserver's)" into buf. */
void k8s_clock_note(time_t now, char *buf, size_t size);

/* A JWT that no `jwt:` authenticator claimed and that was then refused
 * (err holds the refusal: "token rejected by the apiserver", "wrong
 * audience" or "unknown issuer"; other refusals say what they are): say so in the reason and the detail, with the
 * token's iss and a configured issuer it nearly matches; and, for a
 * token that has expired, when.  Does nothing for a token that is not a
 * JWT or when no jwt authenticator is configured (then only the expiry). */
void k8s_explain_unclaimed_jwt(const struct k8s_config *cfg, const struct k8s_token *t,
			       struct k8s_err *err);

#endif
