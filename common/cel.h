/* cel.h: a CEL (Common Expression Language) evaluator for the expressions
 * of a Kubernetes AuthenticationConfiguration (claimValidationRules,
 * claimMappings, userValidationRules), in the apiserver's environment:
 * the variables `claims` (the JWT payload, a map) and `user` (UserInfo:
 * username, uid, groups, extra).  Helper only (links jansson); never in
 * pam_k8s.so or the NSS module.
 *
 * What is supported, and where it differs from cel-go, is in
 * docs/design.md ("CEL").  Everything outside the subset is refused when
 * the expression is compiled (at configuration load), naming the feature
 * and its position; nothing unsupported evaluates to a silent false. */
#ifndef K8S_CEL_H
#define K8S_CEL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The apiserver's per-call runtime cost limit (celconfig.PerCallLimit). */
#define CEL_COST_LIMIT 1000000
/* Longest expression accepted (characters), deepest nesting. */
#define CEL_MAX_SOURCE 100000
#define CEL_MAX_DEPTH 250

/* Static result type of a compiled expression, as far as it is known
 * without the claims (CEL_T_DYN: only known at run time). */
enum cel_static_type {
	CEL_T_DYN, CEL_T_NULL, CEL_T_BOOL, CEL_T_INT, CEL_T_UINT, CEL_T_DOUBLE,
	CEL_T_STRING, CEL_T_BYTES, CEL_T_LIST, CEL_T_MAP, CEL_T_OPTIONAL, CEL_T_TYPE
};

struct cel_program;

/* Variables an expression may use: the apiserver compiles claim
 * expressions (claimValidationRules, claimMappings) with `claims` alone
 * and userValidationRules with `user` alone. */
#define CEL_VAR_CLAIMS 1u
#define CEL_VAR_USER   2u

/* Parse and check src with the variables of vars.  NULL on error with
 * errbuf "column N: what" (line and column, 1-based, when the source has
 * several lines: "line L column N: what"). */
struct cel_program *cel_compile(const char *src, unsigned vars, char *errbuf, size_t errlen);
void cel_program_free(struct cel_program *p);
enum cel_static_type cel_program_type(const struct cel_program *p);
/* 1 when the expression selects var.field (var a top-level variable) by
 * `.field`, `.?field` or has(var.field): what the apiserver's validation
 * looks for (claims.email, claims.email_verified); an index
 * (claims["email"]) does not count, as it does not there. */
int cel_program_uses(const struct cel_program *p, const char *var, const char *field);
/* 1 when the expression names the variable at all. */
int cel_program_uses_var(const struct cel_program *p, const char *var);

/* Evaluate with claims (a JSON object, or NULL: not declared) and user (a
 * JSON object {username, uid, groups, extra}, or NULL: not declared).
 * 0 and *result (a new JSON value: bool, string, number, array, object,
 * null; bytes as a string; an optional as {"optional": value} or
 * {"optional": null}... see cel.c) or -1 with errbuf (an evaluation error,
 * the cost limit, out of memory).  errbuf never holds claim values longer
 * than a few characters. */
int cel_eval(const struct cel_program *p, json_t *claims, json_t *user, json_t **result,
	     char *errbuf, size_t errlen);

/* Cost of the last cel_eval in this thread (for tests and bench). */
uint64_t cel_last_cost(void);

#endif
