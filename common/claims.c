/* claims.c: claims -> user for a `jwt:` authenticator, claims and CEL
 * expressions alike (k8s.io/apiserver's oidc authenticator: getUsername,
 * getGroups, getUID, getExtra, required claims, claim and user validation
 * rules, in that order).
 *
 * Where the apiserver is lenient by accident of Go's JSON decoding (null
 * claims decoding as "", email_verified as anything), this refuses; an
 * expression's result is taken exactly as the apiserver takes it
 * (convertCELValueToStringList: "" and [] mean none, "" inside a list is
 * dropped, null means none). */
#include "claims.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel.h"
#include "util.h"

static char *prefixed(const char *prefix, const char *value)
{
	char *s = NULL;

	if (asprintf(&s, "%s%s", prefix ? prefix : "", value) < 0)
		return NULL;
	return s;
}

/* Evaluate; K8S_REFUSED with "<what>: <error>" on an evaluation error. */
static int run(const struct cel_program *p, json_t *claims, json_t *user, json_t **res,
	       const struct k8s_jwt_authenticator *a, const char *reason, const char *what,
	       struct k8s_err *err)
{
	char e[256];

	if (cel_eval(p, claims, user, res, e, sizeof(e)) == 0)
		return K8S_OK;
	return k8s_err_set(err, K8S_REFUSED, reason, "jwt authenticator %s: %s: %s", a->issuer_url, what, e);
}

/* A string or a list of strings ("" dropped), or null; *out a new array. */
static int string_list(json_t *v, json_t **out)
{
	size_t i;
	json_t *e;

	*out = json_array();
	if (*out == NULL)
		return -1;
	if (json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		if (json_string_length(v) > 0 && json_array_append(*out, v) != 0)
			return -1;
		return 0;
	}
	if (!json_is_array(v))
		return -1;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e))
			return -1;
		if (json_string_length(e) > 0 && json_array_append(*out, e) != 0)
			return -1;
	}
	return 0;
}

static int nul_free(json_t *s)
{
	return memchr(json_string_value(s), '\0', json_string_length(s)) == NULL;
}

/* username: a string claim, never empty; with claim "email", an
 * email_verified claim, when present, must be the boolean true.  An
 * expression must give a non-empty string. */
static int map_username(const struct k8s_jwt_authenticator *a, json_t *payload,
			struct k8s_identity *id, struct k8s_err *err)
{
	const char *claim = a->username.claim;
	json_t *v, *ev;

	if (a->username.prog != NULL) {
		int r = run(a->username.prog, payload, NULL, &v, a, "bad username claim",
			    "claimMappings.username.expression", err);

		if (r != K8S_OK)
			return r;
		if (!json_is_string(v) || !nul_free(v)) {
			json_decref(v);
			return k8s_err_set(err, K8S_REFUSED, "bad username claim",
					   "jwt authenticator %s: claimMappings.username.expression: username "
					   "claim expression must return a string", a->issuer_url);
		}
		if (json_string_length(v) == 0) {
			json_decref(v);
			return k8s_err_set(err, K8S_REFUSED, "empty username",
					   "jwt authenticator %s: empty username via CEL expression is not "
					   "allowed", a->issuer_url);
		}
		id->username = strdup(json_string_value(v));
		json_decref(v);
		return id->username != NULL ? K8S_OK
			: k8s_err_set(err, K8S_REFUSED, "out of memory", "mapping the username");
	}
	if (claim == NULL || *claim == '\0')
		return k8s_err_set(err, K8S_ECONFIG, "configuration error",
				   "jwt authenticator %s: claimMappings.username.claim is not set",
				   a->issuer_url);
	v = json_object_get(payload, claim);
	if (!json_is_string(v))
		return k8s_err_set(err, K8S_REFUSED, "bad username claim", "username claim %s is %s",
				   claim, v == NULL ? "missing" : "not a string");
	if (strcmp(claim, "email") == 0) {
		ev = json_object_get(payload, "email_verified");
		if (ev != NULL && !json_is_true(ev))
			return k8s_err_set(err, K8S_REFUSED, "email not verified",
					   "email_verified is %s", json_is_false(ev) ? "false" : "not a boolean");
	}
	if (json_string_length(v) == 0)
		return k8s_err_set(err, K8S_REFUSED, "empty username", "username claim %s is empty", claim);
	id->username = prefixed(a->username.prefix, json_string_value(v));
	if (id->username == NULL)
		return k8s_err_set(err, K8S_REFUSED, "out of memory", "mapping the username");
	return K8S_OK;
}

/* Empty names are kept (with the prefix), as the apiserver keeps them (a
 * groups expression's empty strings never get here: string_list drops
 * them, as the apiserver does). */
static int add_group(struct k8s_identity *id, const char *prefix, const char *g, struct k8s_err *err)
{
	char *name;
	int r;

	name = prefixed(prefix, g);
	r = name != NULL ? k8s_identity_add_group(id, name) : -1;
	free(name);
	return r == 0 ? K8S_OK : k8s_err_set(err, K8S_REFUSED, "out of memory", "mapping groups");
}

/* A groups claim that the token lacks but _claim_names/_claim_sources
 * send to an endpoint: k8s_oidc_authenticate resolves it before the claim
 * checks (resolve_distributed); unresolved it refuses the token, never
 * reads as no groups.  (No endpoint, as for aggregated claims, is no
 * groups, as in the apiserver.) */
static int check_distributed_groups(const struct k8s_jwt_authenticator *a, json_t *payload,
				    struct k8s_err *err)
{
	json_t *names = json_object_get(payload, "_claim_names"), *src, *ep;
	const char *name;

	if (names == NULL || json_object_get(payload, a->groups.claim) != NULL)
		return K8S_OK;
	if (json_object_get(payload, "_claim_sources") == NULL)
		return k8s_err_set(err, K8S_REFUSED, "malformed token",
				   "_claim_names without _claim_sources");
	name = json_string_value(json_object_get(names, a->groups.claim));
	src = name != NULL ? json_object_get(json_object_get(payload, "_claim_sources"), name) : NULL;
	ep = json_object_get(src, "endpoint");
	if (json_is_string(ep) && json_string_length(ep) > 0)
		return k8s_err_set(err, K8S_REFUSED, "unsupported token",
				   "groups claim %s is a distributed claim (_claim_sources endpoint) "
				   "that was not resolved", a->groups.claim);
	return K8S_OK;
}

/* groups: a claim that is absent gives no groups (then the expression,
 * if any, as the apiserver falls through to it), and so does null; a
 * string is one group; an array holds strings (a null element is "", as
 * Go decodes it). */
static int map_groups(const struct k8s_jwt_authenticator *a, json_t *payload,
		      struct k8s_identity *id, struct k8s_err *err)
{
	json_t *v, *g, *list;
	size_t i;

	if (a->groups.claim != NULL && check_distributed_groups(a, payload, err) != K8S_OK)
		return K8S_REFUSED;
	v = a->groups.claim != NULL ? json_object_get(payload, a->groups.claim) : NULL;
	if (json_is_null(v))
		return K8S_OK;
	if (v != NULL) {
		if (json_is_string(v))
			return add_group(id, a->groups.prefix, json_string_value(v), err);
		if (!json_is_array(v))
			return k8s_err_set(err, K8S_REFUSED, "bad groups claim",
					   "groups claim %s is not a string or an array of strings",
					   a->groups.claim);
		json_array_foreach(v, i, g) {
			if (!json_is_string(g) && !json_is_null(g))
				return k8s_err_set(err, K8S_REFUSED, "bad groups claim",
						   "groups claim %s holds a non-string", a->groups.claim);
			if (add_group(id, a->groups.prefix, json_is_null(g) ? "" : json_string_value(g),
				      err) != K8S_OK)
				return K8S_REFUSED;
		}
		return K8S_OK;
	}
	if (a->groups.prog == NULL)
		return K8S_OK;
	if (run(a->groups.prog, payload, NULL, &v, a, "bad groups claim",
		"claimMappings.groups.expression", err) != K8S_OK)
		return K8S_REFUSED;
	if (string_list(v, &list) != 0) {
		json_decref(v);
		json_decref(list);
		return k8s_err_set(err, K8S_REFUSED, "bad groups claim",
				   "jwt authenticator %s: claimMappings.groups.expression: expression must "
				   "return a string or a list of strings", a->issuer_url);
	}
	json_decref(v);
	json_array_foreach(list, i, g) {
		if (!nul_free(g) || add_group(id, NULL, json_string_value(g), err) != K8S_OK) {
			json_decref(list);
			return k8s_err_set(err, K8S_REFUSED, "bad groups claim",
					   "jwt authenticator %s: claimMappings.groups.expression: a group "
					   "holds a NUL", a->issuer_url);
		}
	}
	json_decref(list);
	return K8S_OK;
}

/* uid: a claim that must be a string when configured; an expression must
 * give a string ("" is no uid). */
static int map_uid(const struct k8s_jwt_authenticator *a, json_t *payload,
		   struct k8s_identity *id, struct k8s_err *err)
{
	json_t *v;

	if (a->uid.prog != NULL) {
		if (run(a->uid.prog, payload, NULL, &v, a, "bad uid claim", "claimMappings.uid.expression",
			err) != K8S_OK)
			return K8S_REFUSED;
		if (!json_is_string(v) || !nul_free(v)) {
			json_decref(v);
			return k8s_err_set(err, K8S_REFUSED, "bad uid claim",
					   "jwt authenticator %s: claimMappings.uid.expression: uid claim "
					   "expression must return a string", a->issuer_url);
		}
		if (json_string_length(v) > 0 && (id->uid = strdup(json_string_value(v))) == NULL) {
			json_decref(v);
			return k8s_err_set(err, K8S_REFUSED, "out of memory", "mapping uid");
		}
		json_decref(v);
		return K8S_OK;
	}
	if (a->uid.claim == NULL || *a->uid.claim == '\0')
		return K8S_OK;
	v = json_object_get(payload, a->uid.claim);
	if (!json_is_string(v))
		return k8s_err_set(err, K8S_REFUSED, "bad uid claim", "uid claim %s is %s",
				   a->uid.claim, v == NULL ? "missing" : "not a string");
	id->uid = strdup(json_string_value(v));
	return id->uid != NULL ? K8S_OK : k8s_err_set(err, K8S_REFUSED, "out of memory", "mapping uid");
}

/* extra: first the credential id (k8s_identity_set_credential_id: a
 * non-empty string jti; a jti of another type is ignored, as the
 * apiserver ignores a claim it cannot decode into a string), then each
 * key's valueExpression, a string or list of strings; none ("" , [],
 * null) leaves the key out.  Extra keys of the configuration are never in
 * authentication.kubernetes.io (config.c refuses them), so the credential
 * id cannot be overwritten; userValidationRules see it in user.extra, as
 * in the apiserver (getExtra runs before them). */
static int map_extra(const struct k8s_jwt_authenticator *a, json_t *payload,
		     struct k8s_identity *id, struct k8s_err *err)
{
	size_t i, k;
	json_t *v, *list, *e;
	char what[160];

	if (k8s_identity_set_credential_id(id, json_object_get(payload, "jti")) != 0)
		return k8s_err_set(err, K8S_REFUSED, "bad jti claim", "the jti claim holds a NUL");
	for (i = 0; i < a->n_extra; i++) {
		snprintf(what, sizeof(what), "claimMappings.extra[%zu] (%.100s)", i, a->extra[i].key);
		if (run(a->extra[i].prog, payload, NULL, &v, a, "bad extra claim", what, err) != K8S_OK)
			return K8S_REFUSED;
		if (string_list(v, &list) != 0) {
			json_decref(v);
			json_decref(list);
			return k8s_err_set(err, K8S_REFUSED, "bad extra claim",
					   "jwt authenticator %s: %s: expression must return a string or a "
					   "list of strings", a->issuer_url, what);
		}
		json_decref(v);
		json_array_foreach(list, k, e) {
			if (!nul_free(e)) {
				json_decref(list);
				return k8s_err_set(err, K8S_REFUSED, "bad extra claim",
						   "jwt authenticator %s: %s: a value holds a NUL",
						   a->issuer_url, what);
			}
		}
		if (json_array_size(list) == 0) {
			json_decref(list);
			continue;
		}
		if (json_object_set_new(id->extra, a->extra[i].key, list) != 0)
			return k8s_err_set(err, K8S_REFUSED, "out of memory", "mapping extra");
	}
	return K8S_OK;
}

/* claim + requiredValue: the claim must be the string (absent
 * requiredValue: ""). */
static int required_claims(const struct k8s_jwt_authenticator *a, json_t *payload,
			   struct k8s_err *err)
{
	size_t i;

	for (i = 0; i < a->n_rules; i++) {
		const struct k8s_claim_rule *r = &a->rules[i];
		const char *want = r->required_value ? r->required_value : "";
		json_t *v;

		if (r->claim == NULL)
			continue;
		v = json_object_get(payload, r->claim);
		if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0 || !nul_free(v))
			return k8s_err_set(err, K8S_REFUSED, "claim validation failed",
					   "required claim %s is %s", r->claim,
					   v == NULL ? "missing" : !json_is_string(v) ? "not a string"
							   : "not the required value");
	}
	return K8S_OK;
}

/* A validation rule's result: true passes; false refuses with the rule's
 * message; anything else is an error, as in the apiserver. */
static int check_rule(json_t *v, const struct k8s_jwt_authenticator *a, const char *reason,
		      const char *what, const char *expression, const char *message, struct k8s_err *err)
{
	int ok = json_is_true(v), is_bool = json_is_boolean(v);

	json_decref(v);
	if (ok)
		return K8S_OK;
	if (!is_bool)
		return k8s_err_set(err, K8S_REFUSED, reason,
				   "jwt authenticator %s: %s: validation expression must return a boolean",
				   a->issuer_url, what);
	return k8s_err_set(err, K8S_REFUSED, reason,
			   "jwt authenticator %s: %s: validation expression '%.200s' failed: %.200s",
			   a->issuer_url, what, expression, message ? message : "");
}

static int claim_rules(const struct k8s_jwt_authenticator *a, json_t *payload, struct k8s_err *err)
{
	char what[64];
	size_t i;
	json_t *v;

	for (i = 0; i < a->n_rules; i++) {
		if (a->rules[i].prog == NULL)
			continue;
		snprintf(what, sizeof(what), "claimValidationRules[%zu]", i);
		if (run(a->rules[i].prog, payload, NULL, &v, a, "claim validation failed", what, err) != K8S_OK ||
		    check_rule(v, a, "claim validation failed", what, a->rules[i].expression,
			       a->rules[i].message, err) != K8S_OK)
			return K8S_REFUSED;
	}
	return K8S_OK;
}

/* The user as userValidationRules see it: every field present, "" and
 * empty lists for those not set (convertUserInfoToUnstructured). */
static json_t *user_object(const struct k8s_identity *id)
{
	json_t *u = json_pack("{s:s,s:s,s:[],s:O}", "username", id->username ? id->username : "",
			      "uid", id->uid ? id->uid : "", "groups", "extra", id->extra);
	json_t *g = json_object_get(u, "groups");
	size_t i;

	for (i = 0; u != NULL && i < id->n_groups; i++)
		if (json_array_append_new(g, json_string(id->groups[i])) != 0) {
			json_decref(u);
			return NULL;
		}
	return u;
}

static int user_rules(const struct k8s_jwt_authenticator *a, const struct k8s_identity *id,
		      struct k8s_err *err)
{
	char what[64];
	json_t *user, *v;
	size_t i;
	int rc = K8S_OK;

	if (a->n_user_rules == 0)
		return K8S_OK;
	user = user_object(id);
	if (user == NULL)
		return k8s_err_set(err, K8S_REFUSED, "out of memory", "user validation");
	for (i = 0; rc == K8S_OK && i < a->n_user_rules; i++) {
		snprintf(what, sizeof(what), "userValidationRules[%zu]", i);
		rc = run(a->user_rules[i].prog, NULL, user, &v, a, "user validation failed", what, err);
		if (rc == K8S_OK)
			rc = check_rule(v, a, "user validation failed", what, a->user_rules[i].expression,
					a->user_rules[i].message, err);
	}
	json_decref(user);
	return rc;
}

int k8s_claims_map(const struct k8s_jwt_authenticator *a, json_t *payload,
		   struct k8s_identity *id, struct k8s_err *err)
{
	int ret;

	if (id->extra == NULL)
		return k8s_err_set(err, K8S_REFUSED, "out of memory", "filling the identity");
	ret = map_username(a, payload, id, err);
	if (ret == K8S_OK)
		ret = map_groups(a, payload, id, err);
	if (ret == K8S_OK)
		ret = map_uid(a, payload, id, err);
	if (ret == K8S_OK)
		ret = map_extra(a, payload, id, err);
	if (ret == K8S_OK)
		ret = required_claims(a, payload, err);
	if (ret == K8S_OK)
		ret = claim_rules(a, payload, err);
	if (ret == K8S_OK)
		ret = user_rules(a, id, err);
	return ret;
}
