/* Unit tests for serviceaccount.c's claim checks (k8s_sa_check_claims;
 * the signature is tests/integration/t_kube_sa_offline.sh's business, on
 * the real apiserver's tokens).  Vectors: the private claims and times of
 * k8s.io/kubernetes pkg/serviceaccount claims_test.go
 * (TestValidatePrivateClaims: now 1514764800, service account ns/saname
 * uid sauid, pod podname/poduid, secret secretname/secretuid, node
 * nodename/nodeuid), with the user ServiceAccountInfo.UserInfo makes of
 * them; and the config rules of the serviceAccounts section. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "serviceaccount.h"

#define NOW 1514764800
#define ISS "https://kubernetes.default.svc.cluster.local"

static const char cfg_text[] =
	"serviceAccounts:\n"
	"  issuer: " ISS "\n"
	"  audiences: [\"host-login:web-1\", \"host-login:all\"]\n";

static struct k8s_config *load(const char *text, struct k8s_err *err)
{
	struct k8s_config *cfg = NULL;

	k8s_err_clear(err);
	if (k8s_config_parse(text, strlen(text), "test.yaml", &cfg, err) != K8S_OK)
		return NULL;
	return cfg;
}

/* The claims (a JSON object text) checked at NOW. */
static int check(const char *claims_fmt, struct k8s_identity *id, struct k8s_err *err)
{
	struct k8s_config *cfg;
	struct k8s_jwt jwt;
	char text[2048];
	json_error_t je;
	int r;

	cfg = load(cfg_text, err);
	assert_non_null(cfg);
	snprintf(text, sizeof(text), "%s", claims_fmt);
	memset(&jwt, 0, sizeof(jwt));
	jwt.payload = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (jwt.payload == NULL)
		fail_msg("bad test JSON: %s: %s", je.text, text);
	k8s_err_clear(err);
	r = k8s_sa_check_claims(cfg, &jwt, NOW, id, err);
	json_decref(jwt.payload);
	k8s_config_free(cfg);
	return r;
}

/* a time-free base, the times given per case */
#define SA "\"kubernetes.io\": {\"namespace\": \"ns\", \"serviceaccount\": " \
	"{\"name\": \"saname\", \"uid\": \"sauid\"}"

static char *fmt_claims(const char *times, const char *k8s_more, const char *more)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf), "{\"iss\": \"" ISS "\", \"aud\": \"host-login:web-1\", %s, "
		 SA "%s}%s}", times, k8s_more, more);
	return buf;
}

static void expect_user(const struct k8s_identity *id, const char *ns, const char *name,
			const char *uid, const char *extra_json)
{
	char want[256];
	json_t *want_extra;
	json_error_t je;

	snprintf(want, sizeof(want), "system:serviceaccount:%s:%s", ns, name);
	assert_string_equal(id->method, "serviceaccount");
	assert_string_equal(id->issuer, ISS);
	assert_string_equal(id->username, want);
	assert_string_equal(id->uid, uid);
	assert_int_equal(id->n_groups, 2);
	assert_string_equal(id->groups[0], "system:serviceaccounts");
	snprintf(want, sizeof(want), "system:serviceaccounts:%s", ns);
	assert_string_equal(id->groups[1], want);
	want_extra = json_loads(extra_json, 0, &je);
	assert_non_null(want_extra);
	if (!json_equal(want_extra, id->extra)) {
		char *got = json_dumps(id->extra, JSON_SORT_KEYS);

		fail_msg("extra: got %s, want %s", got, extra_json);
	}
	json_decref(want_extra);
}

static void test_valid(void **state)
{
	struct k8s_identity id;
	struct k8s_err err;
	char c[2048];

	(void)state;
	/* "valid": the service account alone */
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514768400", "", ""));
	assert_int_equal(check(c, &id, &err), K8S_OK);
	expect_user(&id, "ns", "saname", "sauid", "{}");
	assert_int_equal(id.exp, NOW + 3600);
	assert_string_equal(id.namespace_, "ns");
	assert_string_equal(id.sa_uid, "sauid");
	k8s_identity_free(&id);

	/* pod-bound (offline: no lookup of podname, so no uid comparison) */
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514768400",
		 ", \"pod\": {\"name\": \"podname\", \"uid\": \"poduid\"}", ""));
	assert_int_equal(check(c, &id, &err), K8S_OK);
	expect_user(&id, "ns", "saname", "sauid",
		    "{\"authentication.kubernetes.io/pod-name\": [\"podname\"], "
		    "\"authentication.kubernetes.io/pod-uid\": [\"poduid\"]}");
	k8s_identity_free(&id);

	/* secret-bound: no extra for the secret */
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514768400",
		 ", \"secret\": {\"name\": \"secretname\", \"uid\": \"secretuid\"}", ""));
	assert_int_equal(check(c, &id, &err), K8S_OK);
	expect_user(&id, "ns", "saname", "sauid", "{}");
	k8s_identity_free(&id);

	/* node-bound, with a jti: node extras and the credential id */
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514768400",
		 ", \"node\": {\"name\": \"nodename\", \"uid\": \"nodeuid\"}", ", \"jti\": \"abc-123\""));
	assert_int_equal(check(c, &id, &err), K8S_OK);
	expect_user(&id, "ns", "saname", "sauid",
		    "{\"authentication.kubernetes.io/node-name\": [\"nodename\"], "
		    "\"authentication.kubernetes.io/node-uid\": [\"nodeuid\"], "
		    "\"authentication.kubernetes.io/credential-id\": [\"JTI=abc-123\"]}");
	k8s_identity_free(&id);

	/* pod and node (ServiceAccountTokenPodNodeInfo) */
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514768400",
		 ", \"pod\": {\"name\": \"podname\", \"uid\": \"poduid\"}, "
		 "\"node\": {\"name\": \"nodename\", \"uid\": \"nodeuid\"}, \"warnafter\": 1", ""));
	assert_int_equal(check(c, &id, &err), K8S_OK);
	expect_user(&id, "ns", "saname", "sauid",
		    "{\"authentication.kubernetes.io/pod-name\": [\"podname\"], "
		    "\"authentication.kubernetes.io/pod-uid\": [\"poduid\"], "
		    "\"authentication.kubernetes.io/node-name\": [\"nodename\"], "
		    "\"authentication.kubernetes.io/node-uid\": [\"nodeuid\"]}");
	k8s_identity_free(&id);

	/* an empty or null jti is no credential id; sub is not the user */
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514768400, \"sub\": \"someone-else\"", "",
						 ", \"jti\": \"\""));
	assert_int_equal(check(c, &id, &err), K8S_OK);
	expect_user(&id, "ns", "saname", "sauid", "{}");
	k8s_identity_free(&id);

	/* nbf and iat up to the 60 s leeway ahead */
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514768400, \"nbf\": 1514764860, \"iat\": 1514764860", "", ""));
	assert_int_equal(check(c, &id, &err), K8S_OK);
	k8s_identity_free(&id);
}

static void refused(const char *claims, const char *reason)
{
	struct k8s_identity id;
	struct k8s_err err;

	if (check(claims, &id, &err) != K8S_REFUSED || strcmp(err.reason, reason) != 0)
		fail_msg("%s: got status %d reason '%s' (%s), want refused '%s'", claims, err.status,
			 err.reason, err.detail, reason);
	assert_null(id.username);
}

static void test_refused(void **state)
{
	char c[2048];

	(void)state;
	/* the upstream times: expired 1000 h ago, not valid for 1000 h */
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1511164800", "", ""));
	refused(c, "token expired");
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514768400, \"nbf\": 1518364800", "", ""));
	refused(c, "token not yet valid");
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514768400, \"nbf\": 1514764861", "", ""));
	refused(c, "token not yet valid");
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514768400, \"iat\": 1514764861", "", ""));
	refused(c, "token issued in the future");
	/* [diff:sa-exp]: expired at exp (the apiserver: 60 s later) */
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514764800", "", ""));
	refused(c, "token expired");
	/* no exp: bound tokens always have one */
	snprintf(c, sizeof(c), "%s", fmt_claims("\"iat\": 1514764800", "", ""));
	refused(c, "malformed token");
	/* audiences: none of the host's, none at all, of the wrong type */
	refused("{\"iss\": \"" ISS "\", \"aud\": [\"https://kubernetes.default.svc\"], \"exp\": 1514764860, "
		SA "}}", "wrong audience");
	refused("{\"iss\": \"" ISS "\", \"exp\": 1514764860, " SA "}}", "wrong audience");
	refused("{\"iss\": \"" ISS "\", \"aud\": [], \"exp\": 1514764860, " SA "}}", "wrong audience");
	refused("{\"iss\": \"" ISS "\", \"aud\": [5], \"exp\": 1514764860, " SA "}}", "malformed token");
	/* another issuer (the URL with a trailing slash is another issuer) */
	refused("{\"iss\": \"" ISS "/\", \"aud\": \"host-login:all\", \"exp\": 1514764860, " SA "}}",
		"issuer mismatch");
	/* the private claim */
	refused("{\"iss\": \"" ISS "\", \"aud\": \"host-login:all\", \"exp\": 1514764860}",
		"invalid service-account token");
	refused("{\"iss\": \"" ISS "\", \"aud\": \"host-login:all\", \"exp\": 1514764860, "
		"\"kubernetes.io\": {\"namespace\": \"ns\"}}", "invalid service-account token");
	refused("{\"iss\": \"" ISS "\", \"aud\": \"host-login:all\", \"exp\": 1514764860, "
		"\"kubernetes.io\": {\"serviceaccount\": {\"name\": \"saname\", \"uid\": \"sauid\"}}}",
		"invalid service-account token");
	refused("{\"iss\": \"" ISS "\", \"aud\": \"host-login:all\", \"exp\": 1514764860, "
		"\"kubernetes.io\": {\"namespace\": \"ns\", \"serviceaccount\": {\"name\": \"saname\"}}}",
		"invalid service-account token");
	refused("{\"iss\": \"" ISS "\", \"aud\": \"host-login:all\", \"exp\": 1514764860, "
		"\"kubernetes.io\": {\"namespace\": \"n:s\", \"serviceaccount\": {\"name\": \"saname\", "
		"\"uid\": \"sauid\"}}}", "invalid service-account token");
	refused("{\"iss\": \"" ISS "\", \"aud\": \"host-login:all\", \"exp\": 1514764860, "
		"\"kubernetes.io\": {\"namespace\": \"ns\", \"serviceaccount\": {\"name\": \"Sa:x\", "
		"\"uid\": \"sauid\"}}}", "invalid service-account token");
	refused("{\"iss\": \"" ISS "\", \"aud\": \"host-login:all\", \"exp\": 1514764860, "
		"\"kubernetes.io\": {\"namespace\": 5, \"serviceaccount\": {\"name\": \"saname\", "
		"\"uid\": \"sauid\"}}}", "malformed token");
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514768400", ", \"pod\": {\"name\": \"podname\"}", ""));
	refused(c, "invalid service-account token");
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514768400", ", \"pod\": \"podname\"", ""));
	refused(c, "malformed token");
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514768400", ", \"node\": {\"uid\": \"nodeuid\"}", ""));
	refused(c, "invalid service-account token");
	/* jti and sub must decode as strings (go: jwt.Claims) */
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514768400", "", ", \"jti\": 5"));
	refused(c, "malformed token");
	snprintf(c, sizeof(c), "%s", fmt_claims("\"exp\": 1514768400, \"sub\": 5", "", ""));
	refused(c, "malformed token");
}

static void config_refused(const char *text, const char *want)
{
	struct k8s_config *cfg;
	struct k8s_err err;

	cfg = load(text, &err);
	if (cfg != NULL || err.status != K8S_ECONFIG || strstr(err.detail, want) == NULL)
		fail_msg("config %s: got '%s', want '%s'", text, cfg != NULL ? "loaded" : err.detail, want);
}

static void test_config(void **state)
{
	struct k8s_config *cfg;
	struct k8s_err err;

	(void)state;
	cfg = load(cfg_text, &err);
	assert_non_null(cfg);
	assert_true(cfg->has_sa);
	assert_string_equal(cfg->sa.issuer_url, ISS);
	assert_int_equal(cfg->sa.audiences.n, 2);
	k8s_config_free(cfg);
	config_refused("serviceAccounts:\n  audiences: [a]\n", "serviceAccounts.issuer: required");
	config_refused("serviceAccounts:\n  issuer: " ISS "\n", "serviceAccounts.audiences: must list");
	config_refused("serviceAccounts:\n  issuer: " ISS "\n  audiences: [a, a]\n",
		       "serviceAccounts.audiences[1]: duplicate audience");
	config_refused("serviceAccounts:\n  issuer: http://x.example\n  audiences: [a]\n",
		       "serviceAccounts.issuer");
	config_refused("serviceAccounts:\n  issuer: " ISS "\n  audiences: [a]\n  audience: [b]\n",
		       "serviceAccounts.audience: unknown key");
	config_refused("serviceAccounts:\n  issuer: " ISS "\n  audiences: [a]\n"
		       "jwt:\n- issuer: {url: " ISS ", audiences: [a]}\n"
		       "  claimMappings: {username: {claim: sub, prefix: ''}}\n",
		       "serviceAccounts.issuer: \"" ISS "\" is also the issuer of jwt[0]");
	/* the issuer is the apiserver's default audience: never a host's */
	config_refused("serviceAccounts:\n  issuer: " ISS "\n  audiences: [\"" ISS "/\"]\n",
		       "serviceAccounts.audiences[0]");
	config_refused("serviceAccounts:\n  issuer: " ISS "\n  audiences: [kubernetes.default.svc]\n",
		       "serviceAccounts.audiences[0]");
	config_refused("tokenReview:\n  audiences: [\"" ISS "\"]\n"
		       "serviceAccounts:\n  issuer: " ISS "\n  audiences: [a]\n",
		       "tokenReview.audiences[0]");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
