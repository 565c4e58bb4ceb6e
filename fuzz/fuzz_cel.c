/* libFuzzer target: the CEL parser, checker and evaluator (cel_parse.c,
 * cel_eval.c, cel_regex.c).  Input: an expression, optionally followed by
 * a NUL byte and a JSON object used as the claims.  Checks the contract:
 * compile either succeeds or leaves a message; evaluation returns 0 with
 * a result or -1 with a message; it never exceeds the cost limit by more
 * than one step's charge. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t elen = nul ? (size_t)(nul - data) : size;
	char *src = malloc(elen + 1), err[256];
	struct cel_program *p;
	json_t *claims = NULL, *user, *res = NULL;
	int r;

	if (src == NULL)
		return 0;
	memcpy(src, data, elen);
	src[elen] = '\0';
	err[0] = '\0';
	p = cel_compile(src, CEL_VAR_CLAIMS | CEL_VAR_USER, err, sizeof(err));
	if (p == NULL) {
		if (err[0] == '\0')
			abort();
		free(src);
		return 0;
	}
	if (nul != NULL)
		claims = json_loadb((const char *)nul + 1, size - elen - 1, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(claims)) {
		json_decref(claims);
		claims = json_pack("{s:s,s:s,s:b,s:I,s:I,s:[s,s,s],s:{s:[s]},s:f}", "sub", "1234", "email",
				   "Jane@Example.com", "email_verified", 1, "exp", (json_int_t)1700003600,
				   "nbf", (json_int_t)1700000000, "groups", "k8s_a", "b", "system:x", "nested",
				   "roles", "r1", "score", 1.5);
	}
	user = json_pack("{s:s,s:s,s:[s,s],s:{s:[s]}}", "username", "oidc:jane", "uid", "u1", "groups",
			 "a", "system:authenticated", "extra", "example.com/k", "v");
	(void)cel_program_type(p);
	(void)cel_program_uses(p, "claims", "email");
	r = cel_eval(p, claims, user, &res, err, sizeof(err));
	if ((r == 0) != (res != NULL) || (r != 0 && err[0] == '\0'))
		abort();
	if (cel_last_cost() > CEL_COST_LIMIT + 1000000)
		abort();
	json_decref(res);
	json_decref(claims);
	json_decref(user);
	cel_program_free(p);
	free(src);
	return 0;
}
