/* Unit tests for identity.c's JSON: the one serialisation of an identity
 * that the review cache and the login state keep on disk.  Round trip of
 * every member (both methods), the key spellings written (one each, the
 * older camelCase ones never read), and the reader refusing what it must
 * not misread.  Expected JSON is written here by hand, not by the code
 * under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "identity.h"

static json_t *parse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &e);

	if (j == NULL)
		fail_msg("bad JSON in test: %s", e.text);
	return j;
}

static void full_identity(struct k8s_identity *id)
{
	memset(id, 0, sizeof(*id));
	id->method = "jwt";
	id->issuer = strdup("https://issuer.example.com");
	id->subject = strdup("1234");
	id->username = strdup("system:serviceaccount:ns1:sa1");
	id->uid = strdup("0b4c7f2e-uid");
	assert_int_equal(k8s_identity_add_group(id, "system:serviceaccounts"), 0);
	assert_int_equal(k8s_identity_add_group(id, "system:serviceaccounts:ns1"), 0);
	id->extra = parse("{\"authentication.kubernetes.io/pod-name\": [\"pod-1\"]}");
	id->exp = 1900000000;
	id->iat = 1899996400;
	id->nbf = 1899996300;
	id->namespace_ = strdup("ns1");
	id->sa_name = strdup("sa1");
	id->sa_uid = strdup("sa-uid-1");
	id->pod_name = strdup("pod-1");
	id->pod_uid = strdup("pod-uid-1");
	id->node_name = strdup("node-1");
	id->node_uid = strdup("node-uid-1");
	id->legacy_sa = 1;
	memcpy(id->fingerprint, "0123456789abcdef", 17);
	id->warning = strdup("a warning for one validation");
}

static void test_written(void **state)
{
	struct k8s_identity id;
	json_t *got, *want;

	full_identity(&id);
	got = k8s_identity_to_json(&id);
	assert_non_null(got);
	want = parse("{\"method\": \"jwt\", \"issuer\": \"https://issuer.example.com\", \"subject\": \"1234\","
		     " \"username\": \"system:serviceaccount:ns1:sa1\", \"uid\": \"0b4c7f2e-uid\","
		     " \"groups\": [\"system:serviceaccounts\", \"system:serviceaccounts:ns1\"],"
		     " \"extra\": {\"authentication.kubernetes.io/pod-name\": [\"pod-1\"]},"
		     " \"exp\": 1900000000, \"iat\": 1899996400, \"nbf\": 1899996300,"
		     " \"namespace\": \"ns1\", \"sa_name\": \"sa1\", \"sa_uid\": \"sa-uid-1\","
		     " \"pod_name\": \"pod-1\", \"pod_uid\": \"pod-uid-1\", \"node_name\": \"node-1\","
		     " \"node_uid\": \"node-uid-1\", \"legacy_sa\": true, \"fingerprint\": \"0123456789abcdef\"}");
	assert_true(json_equal(got, want));
	json_decref(want);
	json_decref(got);
	k8s_identity_free(&id);

	/* Absent members are left out, never null; no method or username: nothing. */
	memset(&id, 0, sizeof(id));
	id.method = "tokenreview";
	id.username = strdup("u");
	got = k8s_identity_to_json(&id);
	want = parse("{\"method\": \"tokenreview\", \"username\": \"u\", \"groups\": [], \"extra\": {},"
		     " \"exp\": 0, \"iat\": 0, \"nbf\": 0, \"legacy_sa\": false}");
	assert_true(json_equal(got, want));
	json_decref(want);
	json_decref(got);
	id.method = NULL;
	assert_null(k8s_identity_to_json(&id));
	k8s_identity_free(&id);
	/* A string jansson cannot hold (invalid UTF-8): refused, not mangled. */
	memset(&id, 0, sizeof(id));
	id.method = "tokenreview";
	id.username = strdup("caf\xe9");
	assert_null(k8s_identity_to_json(&id));
	k8s_identity_free(&id);
}

static void test_round_trip(void **state)
{
	struct k8s_identity id, got;
	json_t *j;
	size_t i;

	full_identity(&id);
	j = k8s_identity_to_json(&id);
	assert_int_equal(k8s_identity_from_json(j, &got), 0);
	json_decref(j);
	assert_string_equal(got.method, "jwt");
	assert_string_equal(got.issuer, id.issuer);
	assert_string_equal(got.subject, id.subject);
	assert_string_equal(got.username, id.username);
	assert_string_equal(got.uid, id.uid);
	assert_int_equal(got.n_groups, id.n_groups);
	for (i = 0; i < id.n_groups; i++)
		assert_string_equal(got.groups[i], id.groups[i]);
	assert_true(json_equal(got.extra, id.extra));
	assert_int_equal(got.exp, id.exp);
	assert_int_equal(got.iat, id.iat);
	assert_int_equal(got.nbf, id.nbf);
	assert_string_equal(got.namespace_, "ns1");
	assert_string_equal(got.sa_name, "sa1");
	assert_string_equal(got.sa_uid, "sa-uid-1");
	assert_string_equal(got.pod_name, "pod-1");
	assert_string_equal(got.pod_uid, "pod-uid-1");
	assert_string_equal(got.node_name, "node-1");
	assert_string_equal(got.node_uid, "node-uid-1");
	assert_int_equal(got.legacy_sa, 1);
	assert_string_equal(got.fingerprint, "0123456789abcdef");
	assert_null(got.warning);
	k8s_identity_free(&got);
	/* the offline service-account method is kept as itself (the login
	 * state of a serviceAccounts: login, read back at sudo) */
	id.method = "serviceaccount";
	j = k8s_identity_to_json(&id);
	assert_string_equal(json_string_value(json_object_get(j, "method")), "serviceaccount");
	assert_int_equal(k8s_identity_from_json(j, &got), 0);
	json_decref(j);
	assert_string_equal(got.method, "serviceaccount");
	assert_string_equal(got.issuer, id.issuer);
	k8s_identity_free(&got);
	k8s_identity_free(&id);
}

#define BASE "\"method\": \"tokenreview\", \"username\": \"u\", \"groups\": [], \"extra\": {}, " \
	     "\"exp\": 0, \"iat\": 0, \"nbf\": 0, \"legacy_sa\": false"

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{}",
		/* format 2 of the review cache: camelCase, no method */
		"{\"username\": \"u\", \"groups\": [], \"extra\": {}, \"exp\": 0, \"iat\": 0, \"nbf\": 0,"
		" \"saName\": \"sa1\", \"legacySA\": false}",
		"{\"method\": \"oidc\", \"username\": \"u\", \"groups\": [], \"extra\": {}, \"exp\": 0,"
		" \"iat\": 0, \"nbf\": 0, \"legacy_sa\": false}",
		"{\"method\": \"tokenreview\", \"username\": \"\", \"groups\": [], \"extra\": {}, \"exp\": 0,"
		" \"iat\": 0, \"nbf\": 0, \"legacy_sa\": false}",
		"{\"method\": \"tokenreview\", \"username\": \"u\", \"extra\": {}, \"exp\": 0, \"iat\": 0,"
		" \"nbf\": 0, \"legacy_sa\": false}",
		"{\"method\": \"tokenreview\", \"username\": \"u\", \"groups\": [], \"extra\": {}, \"exp\": 0,"
		" \"iat\": 0, \"nbf\": 0}",
		"{\"method\": \"tokenreview\", \"username\": \"u\", \"groups\": [], \"extra\": {}, \"iat\": 0,"
		" \"nbf\": 0, \"legacy_sa\": false}",
		"{" BASE ", \"uid\": null}",
		"{" BASE ", \"sa_name\": 1}",
		"{" BASE ", \"issuer\": [\"x\"]}",
		"{\"method\": \"tokenreview\", \"username\": \"u\", \"groups\": [1], \"extra\": {}, \"exp\": 0,"
		" \"iat\": 0, \"nbf\": 0, \"legacy_sa\": false}",
		"{\"method\": \"tokenreview\", \"username\": \"u\", \"groups\": [], \"extra\": {\"k\": \"v\"},"
		" \"exp\": 0, \"iat\": 0, \"nbf\": 0, \"legacy_sa\": false}",
		"{\"method\": \"tokenreview\", \"username\": \"u\", \"groups\": [], \"extra\": {\"k\": [1]},"
		" \"exp\": 0, \"iat\": 0, \"nbf\": 0, \"legacy_sa\": false}",
		"{\"method\": \"tokenreview\", \"username\": \"u\", \"groups\": [], \"extra\": {}, \"exp\": -5,"
		" \"iat\": 0, \"nbf\": 0, \"legacy_sa\": false}",
		"{\"method\": \"tokenreview\", \"username\": \"u\", \"groups\": [], \"extra\": {}, \"exp\": 1.5,"
		" \"iat\": 0, \"nbf\": 0, \"legacy_sa\": false}",
		"{\"method\": \"tokenreview\", \"username\": \"u\", \"groups\": [], \"extra\": {}, \"exp\": 0,"
		" \"iat\": 0, \"nbf\": 0, \"legacy_sa\": 0}",
		"{" BASE ", \"fingerprint\": \"0123456789abcde\"}",
		"{" BASE ", \"fingerprint\": \"0123456789abcdef0\"}",
		"{" BASE ", \"fingerprint\": \"0123456789ABCDEF\"}",
		"{" BASE ", \"fingerprint\": 12}",
	};
	struct k8s_identity id;
	json_t *j;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = parse(bad[i]);
		if (k8s_identity_from_json(j, &id) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_null(id.username);
		assert_null(id.groups);
		assert_null(id.extra);
		json_decref(j);
	}
	/* The control: the same base is read. */
	j = parse("{" BASE "}");
	assert_int_equal(k8s_identity_from_json(j, &id), 0);
	assert_string_equal(id.username, "u");
	assert_string_equal(id.fingerprint, "");
	k8s_identity_free(&id);
	json_decref(j);
}

/* The apiserver's authenticated-group adder (group.AuthenticatedGroupAdder
 * and its tests): appended last; never twice; not for system:anonymous;
 * not when system:unauthenticated is there. */
static void adder_case(const char *username, const char *const *groups, size_t n,
		       const char *want_joined)
{
	struct k8s_identity id;
	char got[512] = "";
	size_t i;

	memset(&id, 0, sizeof(id));
	id.username = strdup(username);
	for (i = 0; i < n; i++)
		assert_int_equal(k8s_identity_add_group(&id, groups[i]), 0);
	assert_int_equal(k8s_identity_add_authenticated(&id), 0);
	for (i = 0; i < id.n_groups; i++) {
		if (i > 0)
			strcat(got, ",");
		strcat(got, id.groups[i]);
	}
	assert_string_equal(got, want_joined);
	k8s_identity_free(&id);
}

static void test_authenticated_group(void **state)
{
	static const char *const two[] = {"group_a", "group_b"};
	static const char *const has[] = {"group_a", "system:authenticated", "group_b"};
	static const char *const unauth[] = {"system:unauthenticated"};
	static const char *const sys[] = {"system:masters"};

	(void)state;
	adder_case("user", two, 2, "group_a,group_b,system:authenticated");
	adder_case("user", NULL, 0, "system:authenticated");
	adder_case("user", has, 3, "group_a,system:authenticated,group_b");
	adder_case("user", unauth, 1, "system:unauthenticated");
	adder_case("system:anonymous", two, 2, "group_a,group_b");
	adder_case("system:anonymous", NULL, 0, "");
	adder_case("system:anonymousx", sys, 1, "system:masters,system:authenticated");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_written),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_authenticated_group),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
