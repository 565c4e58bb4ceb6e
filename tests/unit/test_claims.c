/* Unit tests for claims.c: claims -> user through claim mappings, CEL
 * expressions and validation rules, with the cases and expected results of
 * the apiserver's JWT authenticator tests (k8s.io/apiserver
 * plugin/pkg/authenticator/token/oidc oidc_test.go: "username via CEL",
 * "groups split", "extra", "claim validation rule failed", "user
 * validation rule failed", ...), and the expressions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "claims.h"
#include "config.h"
#include "identity.h"

#define HEAD "jwt:\n- issuer:\n    url: https://auth.example.com\n    audiences: [a]\n"

struct run {
	struct k8s_config *cfg;
	struct k8s_identity id;
	struct k8s_err err;
	int rc;
};

/* Map payload (JSON) with the first authenticator of yaml. */
static void map(struct run *r, const char *yaml, const char *payload)
{
	json_error_t je;
	json_t *p = json_loads(payload, 0, &je);

	memset(r, 0, sizeof(*r));
	if (p == NULL)
		fail_msg("bad payload: %s", je.text);
	if (k8s_config_parse(yaml, strlen(yaml), "t.yaml", &r->cfg, &r->err) != K8S_OK)
		fail_msg("config refused: %s", r->err.detail);
	r->id.extra = json_object();
	r->rc = k8s_claims_map(&r->cfg->jwt[0], p, &r->id, &r->err);
	json_decref(p);
}

static void done(struct run *r)
{
	k8s_identity_free(&r->id);
	k8s_config_free(r->cfg);
}

static void ok(struct run *r, const char *username, const char *groups_csv, const char *uid)
{
	char buf[512] = "";
	size_t i;

	if (r->rc != K8S_OK)
		fail_msg("refused: %s: %s", r->err.reason, r->err.detail);
	assert_string_equal(r->id.username, username);
	for (i = 0; i < r->id.n_groups; i++) {
		strcat(buf, i ? "," : "");
		strcat(buf, r->id.groups[i]);
	}
	assert_string_equal(buf, groups_csv);
	if (uid == NULL)
		assert_null(r->id.uid);
	else
		assert_string_equal(r->id.uid, uid);
}

static void refused(struct run *r, const char *reason, const char *detail)
{
	assert_int_equal(r->rc, K8S_REFUSED);
	assert_string_equal(r->err.reason, reason);
	if (strstr(r->err.detail, detail) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", r->err.detail, detail);
}

static void test_username(void **state)
{
	struct run r;

	(void)state;
	map(&r, HEAD "  claimMappings:\n    username: {expression: claims.username}\n",
	    "{\"username\": \"jane\"}");
	ok(&r, "jane", "", NULL);
	done(&r);
	map(&r, HEAD "  claimMappings:\n    username: {expression: \"'oidc:' + claims.username\"}\n",
	    "{\"username\": \"jane\"}");
	ok(&r, "oidc:jane", "", NULL);
	done(&r);
	map(&r, HEAD "  claimMappings:\n    username: {expression: \"'oidc:' + claims.sub\"}\n",
	    "{\"sub\": 1234}");
	refused(&r, "bad username claim", "claimMappings.username.expression: no such overload: string + int");
	done(&r);
	map(&r, HEAD "  claimMappings:\n    username: {expression: claims.username}\n", "{\"sub\": \"x\"}");
	refused(&r, "bad username claim", "claimMappings.username.expression: no such key: username");
	done(&r);
	map(&r, HEAD "  claimMappings:\n    username: {expression: claims.username}\n", "{\"username\": 5}");
	refused(&r, "bad username claim", "username claim expression must return a string");
	done(&r);
	map(&r, HEAD "  claimMappings:\n    username: {expression: claims.username}\n", "{\"username\": \"\"}");
	refused(&r, "empty username", "empty username via CEL expression is not allowed");
	done(&r);
	/* email with the email_verified check in the expression */
	map(&r, HEAD "  claimMappings:\n    username: {expression: \"claims.email_verified == true ? claims.email : ''\"}\n",
	    "{\"email\": \"j@example.com\", \"email_verified\": true}");
	ok(&r, "j@example.com", "", NULL);
	done(&r);
	map(&r, HEAD "  claimMappings:\n    username: {expression: \"claims.email_verified == true ? claims.email : ''\"}\n",
	    "{\"email\": \"j@example.com\", \"email_verified\": false}");
	refused(&r, "empty username", "empty username");
	done(&r);
	/* the claim form keeps its rules */
	map(&r, HEAD "  claimMappings:\n    username: {claim: email, prefix: \"\"}\n",
	    "{\"email\": \"j@example.com\", \"email_verified\": false}");
	refused(&r, "email not verified", "email_verified is false");
	done(&r);
}

static void test_groups_uid_extra(void **state)
{
	struct run r;
	json_t *x;

	(void)state;
	map(&r, HEAD "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"
	    "    groups: {expression: \"claims.roles.split(',')\"}\n    uid: {expression: claims.uid}\n",
	    "{\"sub\": \"s\", \"roles\": \"foo,bar\", \"uid\": \"1234\"}");
	ok(&r, "s", "foo,bar", "1234");
	done(&r);
	/* the groups expression; absent claim -> [] */
	map(&r, HEAD "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"
	    "    groups: {expression: \"dyn(claims.?groups.orValue([])).filter(g, g.startsWith('k8s_')).map(g, 'oidc:' + g)\"}\n",
	    "{\"sub\": \"s\", \"groups\": [\"k8s_admins\", \"dev\", \"k8s_ops\"]}");
	ok(&r, "s", "oidc:k8s_admins,oidc:k8s_ops", NULL);
	done(&r);
	map(&r, HEAD "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"
	    "    groups: {expression: \"dyn(claims.?groups.orValue([])).filter(g, g.startsWith('k8s_')).map(g, 'oidc:' + g)\"}\n",
	    "{\"sub\": \"s\"}");
	ok(&r, "s", "", NULL);
	done(&r);
	/* a string is one group; "" and null are none; "" in a list dropped */
	map(&r, HEAD "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"
	    "    groups: {expression: claims.g}\n", "{\"sub\": \"s\", \"g\": \"one\"}");
	ok(&r, "s", "one", NULL);
	done(&r);
	map(&r, HEAD "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"
	    "    groups: {expression: claims.g}\n", "{\"sub\": \"s\", \"g\": null}");
	ok(&r, "s", "", NULL);
	done(&r);
	map(&r, HEAD "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"
	    "    groups: {expression: claims.g}\n", "{\"sub\": \"s\", \"g\": [\"a\", \"\", \"b\"]}");
	ok(&r, "s", "a,b", NULL);
	done(&r);
	map(&r, HEAD "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"
	    "    groups: {expression: '[1, 2]'}\n", "{\"sub\": \"s\"}");
	refused(&r, "bad groups claim", "expression must return a string or a list of strings");
	done(&r);
	map(&r, HEAD "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"
	    "    groups: {expression: claims.g}\n", "{\"sub\": \"s\", \"g\": {\"a\": 1}}");
	refused(&r, "bad groups claim", "expression must return a string or a list of strings");
	done(&r);
	/* uid: must be a string */
	map(&r, HEAD "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"
	    "    uid: {expression: claims.n}\n", "{\"sub\": \"s\", \"n\": 5}");
	refused(&r, "bad uid claim", "uid claim expression must return a string");
	done(&r);
	/* extra: string or list; none leaves the key out */
	map(&r, HEAD "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"
	    "    extra:\n    - {key: example.org/foo, valueExpression: claims.foo}\n"
	    "    - {key: example.org/bar, valueExpression: \"['x', claims.foo]\"}\n"
	    "    - {key: example.org/none, valueExpression: \"''\"}\n"
	    "    - {key: example.org/empty, valueExpression: '[]'}\n",
	    "{\"sub\": \"s\", \"foo\": \"bar\"}");
	ok(&r, "s", "", NULL);
	x = json_object_get(r.id.extra, "example.org/foo");
	assert_int_equal(json_array_size(x), 1);
	assert_string_equal(json_string_value(json_array_get(x, 0)), "bar");
	x = json_object_get(r.id.extra, "example.org/bar");
	assert_int_equal(json_array_size(x), 2);
	assert_null(json_object_get(r.id.extra, "example.org/none"));
	assert_null(json_object_get(r.id.extra, "example.org/empty"));
	done(&r);
	map(&r, HEAD "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"
	    "    extra:\n    - {key: example.org/foo, valueExpression: claims.n}\n",
	    "{\"sub\": \"s\", \"n\": 1.5}");
	refused(&r, "bad extra claim", "claimMappings.extra[0] (example.org/foo): expression must return");
	done(&r);
}

static void test_rules(void **state)
{
	struct run r;

	(void)state;
	map(&r, HEAD "  claimValidationRules:\n  - {expression: 'claims.hd == \"example.com\"', "
	    "message: hd claim mismatch}\n  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n",
	    "{\"sub\": \"s\", \"hd\": \"example.org\"}");
	refused(&r, "claim validation failed",
		"claimValidationRules[0]: validation expression 'claims.hd == \"example.com\"' failed: "
		"hd claim mismatch");
	done(&r);
	map(&r, HEAD "  claimValidationRules:\n  - {expression: 'claims.hd == \"example.com\"', "
	    "message: hd claim mismatch}\n  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n",
	    "{\"sub\": \"s\", \"hd\": \"example.com\"}");
	ok(&r, "s", "", NULL);
	done(&r);
	/* an evaluation error refuses */
	map(&r, HEAD "  claimValidationRules:\n  - {expression: 'claims.hd == \"example.com\"'}\n"
	    "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n", "{\"sub\": \"s\"}");
	refused(&r, "claim validation failed", "claimValidationRules[0]: no such key: hd");
	done(&r);
	/* the lifetime rule: int claims as int */
	map(&r, HEAD "  claimValidationRules:\n  - {expression: 'claims.exp - claims.nbf <= 3600', message: too long}\n"
	    "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n",
	    "{\"sub\": \"s\", \"exp\": 1700007200, \"nbf\": 1700000000}");
	refused(&r, "claim validation failed", "failed: too long");
	done(&r);
	map(&r, HEAD "  claimValidationRules:\n  - {expression: 'claims.?email_verified.orValue(true) == true'}\n"
	    "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n",
	    "{\"sub\": \"s\", \"email_verified\": \"true\"}");
	refused(&r, "claim validation failed", "failed: ");
	done(&r);
	/* required claims after the mappings, as in the apiserver */
	map(&r, HEAD "  claimValidationRules:\n  - {claim: hd, requiredValue: example.com}\n"
	    "  claimMappings:\n    username: {expression: claims.nope}\n", "{\"sub\": \"s\"}");
	refused(&r, "bad username claim", "no such key: nope");
	done(&r);
	/* user validation */
	map(&r, HEAD "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"
	    "  userValidationRules:\n  - {expression: \"!user.username.startsWith('system:')\", "
	    "message: \"username cannot used reserved system: prefix\"}\n",
	    "{\"sub\": \"system:jane\"}");
	refused(&r, "user validation failed",
		"userValidationRules[0]: validation expression '!user.username.startsWith('system:')' failed: "
		"username cannot used reserved system: prefix");
	done(&r);
	map(&r, HEAD "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"
	    "    groups: {claim: groups, prefix: \"\"}\n"
	    "  userValidationRules:\n  - {expression: \"user.groups.all(group, !group.startsWith('system:'))\", "
	    "message: \"groups cannot used reserved system: prefix\"}\n",
	    "{\"sub\": \"jane\", \"groups\": [\"dev\", \"system:masters\"]}");
	refused(&r, "user validation failed", "groups cannot used reserved system: prefix");
	done(&r);
	/* no groups: user.groups is [] (every field present) */
	map(&r, HEAD "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"
	    "  userValidationRules:\n  - {expression: \"user.groups.all(g, !g.startsWith('system:'))\"}\n"
	    "  - {expression: \"user.uid == '' && size(user.extra) == 0\"}\n", "{\"sub\": \"jane\"}");
	ok(&r, "jane", "", NULL);
	done(&r);
	/* user sees uid, groups and extra as mapped */
	map(&r, HEAD "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"
	    "    groups: {claim: groups, prefix: \"oidc:\"}\n    uid: {claim: uid}\n"
	    "    extra:\n    - {key: example.org/t, valueExpression: claims.t}\n"
	    "  userValidationRules:\n  - {expression: \"user.uid == 'u1' && 'oidc:dev' in user.groups && "
	    "user.extra['example.org/t'] == ['x']\"}\n",
	    "{\"sub\": \"jane\", \"uid\": \"u1\", \"groups\": [\"dev\"], \"t\": \"x\"}");
	ok(&r, "jane", "oidc:dev", "u1");
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_username),
		cmocka_unit_test(test_groups_uid_extra),
		cmocka_unit_test(test_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
