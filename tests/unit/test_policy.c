/* Unit tests for policy.c.  JWT-shaped fixtures are minted at test time by
 * python3-jwcrypto, independently of our own JOSE code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "identity.h"
#include "jwt.h"
#include "policy.h"

#define N_JWTS 5

static const char mint_py[] =
	"import json, time\n"
	"from jwcrypto import jwk, jwt\n"
	"k = jwk.JWK.generate(kty='EC', crv='P-256')\n"
	"def mk(c):\n"
	"    t = jwt.JWT(header={'alg': 'ES256', 'kid': 'k1'}, claims=json.dumps(c))\n"
	"    t.make_signed_token(k)\n"
	"    print(t.serialize())\n"
	"now = int(time.time())\n"
	"sa = 'system:serviceaccount:default:builder'\n"
	/* 0: a real pre-1.24 secret-based token's claims */
	"mk({'iss': 'kubernetes/serviceaccount', 'sub': sa,\n"
	"    'kubernetes.io/serviceaccount/namespace': 'default',\n"
	"    'kubernetes.io/serviceaccount/secret.name': 'builder-token-x7k2p',\n"
	"    'kubernetes.io/serviceaccount/service-account.name': 'builder',\n"
	"    'kubernetes.io/serviceaccount/service-account.uid': '0b5c3e9e'})\n"
	/* 1: the legacy issuer alone */
	"mk({'iss': 'kubernetes/serviceaccount', 'sub': sa})\n"
	/* 2: the secret-name claim under another issuer */
	"mk({'iss': 'https://kubernetes.default.svc', 'sub': sa,\n"
	"    'kubernetes.io/serviceaccount/secret.name': 'builder-token-x7k2p'})\n"
	/* 3: a bound (projected) token: not legacy */
	"mk({'iss': 'https://kubernetes.default.svc.cluster.local', 'sub': sa,\n"
	"    'aud': ['host-login:web-1'], 'iat': now, 'nbf': now, 'exp': now + 3600,\n"
	"    'kubernetes.io': {'namespace': 'default', 'serviceaccount': {'name': 'builder', 'uid': 'u'}}})\n"
	/* 4: an OIDC ID token */
	"mk({'iss': 'https://idp.example.com', 'sub': '42', 'email': 'a@example.com',\n"
	"    'aud': 'host-login:web-1', 'iat': now, 'exp': now + 600})\n";

static char *jwts[N_JWTS];

static int mint(void **state)
{
	char path[] = "/tmp/policy-mint.XXXXXX", cmd[160], line[4096];
	FILE *f;
	int fd, i = 0;

	fd = mkstemp(path);
	if (fd < 0 || write(fd, mint_py, sizeof(mint_py) - 1) != (ssize_t)(sizeof(mint_py) - 1))
		return -1;
	close(fd);
	/* Debian's interpreter first: it is the one with python3-jwcrypto. */
	snprintf(cmd, sizeof(cmd), "p=/usr/bin/python3; [ -x $p ] || p=python3; $p %s", path);
	f = popen(cmd, "r");
	while (f != NULL && i < N_JWTS && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		jwts[i++] = strdup(line);
	}
	if (f == NULL || pclose(f) != 0 || i != N_JWTS) {
		unlink(path);
		return -1;
	}
	unlink(path);
	return 0;
}

static int unmint(void **state)
{
	int i;

	for (i = 0; i < N_JWTS; i++)
		free(jwts[i]);
	return 0;
}

static struct k8s_config *cfg_of(const char *yaml)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;

	if (k8s_config_parse(yaml, strlen(yaml), "policy.yaml", &cfg, &err) != K8S_OK)
		fail_msg("config refused: %s", err.detail);
	return cfg;
}

/* The pre-check as validate.c runs it: on the token read once. */
static int precheck(const struct k8s_config *cfg, const char *text, size_t len, struct k8s_err *err)
{
	struct k8s_token t;
	int rc;

	k8s_token_decode(&t, text, len);
	rc = k8s_policy_precheck(cfg, &t, err);
	k8s_token_free(&t);
	return rc;
}

static void pre_ok(const struct k8s_config *cfg, const char *t, size_t len)
{
	struct k8s_err err;

	if (precheck(cfg, t, len, &err) != K8S_OK)
		fail_msg("token %.40s... refused: %s (%s)", t, err.reason, err.detail);
}

static void pre_refused(const struct k8s_config *cfg, const char *t, size_t len, const char *reason)
{
	struct k8s_err err;

	assert_int_equal(precheck(cfg, t, len, &err), K8S_REFUSED);
	assert_int_equal(err.status, K8S_REFUSED);
	assert_string_equal(err.reason, reason);
}

static void test_precheck_size_charset(void **state)
{
	struct k8s_config *cfg = cfg_of("");
	static const char *bad[] = {"abc def", "abc\tdef", "abc\n", "\nabc", "abc\r\n", "a\x7f",
		"a\x80", "caf\xc3\xa9", "a\xff", "a\x01", "\x0b" "abc", "abc\x0c"};
	char *big = malloc(K8S_TOKEN_MAX + 2);
	struct k8s_err err;
	size_t i;

	pre_refused(cfg, "", 0, "malformed token");
	pre_refused(cfg, NULL, 5, "malformed token");
	memset(big, 'a', K8S_TOKEN_MAX + 1);
	big[K8S_TOKEN_MAX + 1] = '\0';
	pre_ok(cfg, big, K8S_TOKEN_MAX);
	pre_refused(cfg, big, K8S_TOKEN_MAX + 1, "malformed token");
	free(big);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		pre_refused(cfg, bad[i], strlen(bad[i]), "malformed token");
	/* A NUL inside the given length: a C-string consumer would see less. */
	pre_refused(cfg, "abc\0def", 7, "malformed token");
	pre_ok(cfg, "!~opaque-token_with.punctuation/+=", 34);
	/* The detail says where, never the token. */
	assert_int_equal(precheck(cfg, "secret-part x", 13, &err), K8S_REFUSED);
	assert_null(strstr(err.detail, "secret"));
	assert_non_null(strstr(err.detail, "byte 11"));
	k8s_config_free(cfg);
}

static void test_precheck_bootstrap(void **state)
{
	struct k8s_config *cfg = cfg_of("");
	static const char *shaped[] = {"abcdef.0123456789abcdef", "07401b.f395accd246ae52d",
		"zzzzzz.zzzzzzzzzzzzzzzz"};
	static const char *not_shaped[] = {"ABCDEF.0123456789abcdef", "abcde.0123456789abcdef0",
		"abcdef.0123456789abcde", "abcdef.0123456789abcdef0", "abcdef-0123456789abcdef",
		"abcdef.0123456789abcdeF", "abcdef.0123456789abcd_f"};
	size_t i;

	for (i = 0; i < sizeof(shaped) / sizeof(shaped[0]); i++)
		pre_refused(cfg, shaped[i], strlen(shaped[i]), "bootstrap tokens are not allowed");
	for (i = 0; i < sizeof(not_shaped) / sizeof(not_shaped[0]); i++)
		pre_ok(cfg, not_shaped[i], strlen(not_shaped[i]));
	k8s_config_free(cfg);

	cfg = cfg_of("policy: {allowBootstrapTokens: true}\n");
	for (i = 0; i < sizeof(shaped) / sizeof(shaped[0]); i++)
		pre_ok(cfg, shaped[i], strlen(shaped[i]));
	k8s_config_free(cfg);
}

static void test_precheck_legacy_sa(void **state)
{
	struct k8s_config *cfg = cfg_of("");
	struct k8s_err err;

	pre_refused(cfg, jwts[0], strlen(jwts[0]), "legacy service-account tokens are not allowed");
	pre_refused(cfg, jwts[1], strlen(jwts[1]), "legacy service-account tokens are not allowed");
	pre_refused(cfg, jwts[2], strlen(jwts[2]), "legacy service-account tokens are not allowed");
	pre_ok(cfg, jwts[3], strlen(jwts[3]));
	pre_ok(cfg, jwts[4], strlen(jwts[4]));
	/* JWT-shaped junk is left to the validator. */
	pre_ok(cfg, "a.b.c", 5);
	pre_ok(cfg, "eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0", 47);
	pre_ok(cfg, "x.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0.y.z", 52);
	/* The payload {"iss":"kubernetes/serviceaccount"} alone, unsigned. */
	pre_refused(cfg, "x.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0.y", 51,
		    "legacy service-account tokens are not allowed");
	/* Length is honoured: the payload is cut short, not legacy any more. */
	pre_ok(cfg, jwts[1], (size_t)(strchr(strchr(jwts[1], '.') + 1, '.') - jwts[1]));
	assert_int_equal(precheck(cfg, jwts[0], strlen(jwts[0]), &err), K8S_REFUSED);
	assert_non_null(strstr(err.detail, "allowLegacyServiceAccountTokens"));
	k8s_config_free(cfg);

	cfg = cfg_of("policy: {allowLegacyServiceAccountTokens: true}\n");
	pre_ok(cfg, jwts[0], strlen(jwts[0]));
	pre_ok(cfg, jwts[2], strlen(jwts[2]));
	k8s_config_free(cfg);
}

static struct k8s_identity ident(const char *user, time_t iat, time_t exp)
{
	struct k8s_identity id;

	memset(&id, 0, sizeof(id));
	id.method = "tokenreview";
	id.username = (char *)user;
	id.iat = iat;
	id.exp = exp;
	return id;
}

static void id_ok(const struct k8s_config *cfg, struct k8s_identity id)
{
	struct k8s_err err;

	if (k8s_policy_check_identity(cfg, &id, &err) != K8S_OK)
		fail_msg("%s refused: %s (%s)", id.username, err.reason, err.detail);
}

static void id_refused(const struct k8s_config *cfg, struct k8s_identity id, const char *reason)
{
	struct k8s_err err;

	assert_int_equal(k8s_policy_check_identity(cfg, &id, &err), K8S_REFUSED);
	assert_string_equal(err.reason, reason);
}

static void at_ok(const struct k8s_config *cfg, struct k8s_identity id, time_t now)
{
	struct k8s_err err;

	if (k8s_policy_check_identity_at(cfg, &id, now, &err) != K8S_OK)
		fail_msg("iat %lld exp %lld at %lld refused: %s (%s)", (long long)id.iat,
			 (long long)id.exp, (long long)now, err.reason, err.detail);
}

static void at_refused(const struct k8s_config *cfg, struct k8s_identity id, time_t now,
		       const char *reason)
{
	struct k8s_err err;

	if (k8s_policy_check_identity_at(cfg, &id, now, &err) != K8S_REFUSED ||
	    strcmp(err.reason, reason) != 0)
		fail_msg("iat %lld exp %lld at %lld: got \"%s\" (%s), want \"%s\"",
			 (long long)id.iat, (long long)id.exp, (long long)now, err.reason, err.detail,
			 reason);
}

static void test_identity_basic(void **state)
{
	struct k8s_config *cfg = cfg_of("");
	struct k8s_identity id = ident("alice", 1000, 4600);

	id_ok(cfg, id);
	id_refused(cfg, ident("", 1000, 4600), "empty username");
	id_refused(cfg, ident(NULL, 1000, 4600), "empty username");
	id.legacy_sa = 1;
	id_refused(cfg, id, "legacy service-account tokens are not allowed");
	k8s_config_free(cfg);
	cfg = cfg_of("policy: {allowLegacyServiceAccountTokens: true}\n");
	id_ok(cfg, id);
	k8s_config_free(cfg);
}

static void test_identity_lifetime(void **state)
{
	struct k8s_config *cfg = cfg_of("");
	const time_t t0 = 1767225600; /* 2026-01-01 */
	struct k8s_err err;
	struct k8s_identity id;

	id_ok(cfg, ident("alice", t0, t0 + 3600));
	id_ok(cfg, ident("alice", t0, t0 + 86400));
	id_refused(cfg, ident("alice", t0, t0 + 86401), "token lifetime exceeds policy");
	id_refused(cfg, ident("alice", t0, t0 + 365 * 86400), "token lifetime exceeds policy");
	/* No exp or no iat: no known lifetime. */
	id_refused(cfg, ident("alice", 0, 0), "token lifetime unknown");
	id_refused(cfg, ident("alice", t0, 0), "token lifetime unknown");
	id_refused(cfg, ident("alice", 0, t0), "token lifetime unknown");
	id_refused(cfg, ident("alice", t0 + 10, t0), "token lifetime unknown");
	id = ident("alice", t0, t0 + 90000);
	assert_int_equal(k8s_policy_check_identity(cfg, &id, &err), K8S_REFUSED);
	assert_string_equal(err.detail, "token lifetime 1d1h (exp - iat) exceeds policy.maxTokenLifetime 1d");
	k8s_config_free(cfg);

	cfg = cfg_of("policy: {maxTokenLifetime: 0}\n");
	id_ok(cfg, ident("alice", 0, 0));
	id_ok(cfg, ident("alice", t0, t0 + 10 * 365 * 86400LL));
	k8s_config_free(cfg);

	cfg = cfg_of("policy: {maxTokenLifetime: 1500ms}\n");
	id_ok(cfg, ident("alice", t0, t0 + 1));
	id_refused(cfg, ident("alice", t0, t0 + 2), "token lifetime exceeds policy");
	k8s_config_free(cfg);

	cfg = cfg_of("policy: {maxTokenLifetime: 10m}\n");
	id_ok(cfg, ident("alice", t0, t0 + 600));
	id_refused(cfg, ident("alice", t0, t0 + 601), "token lifetime exceeds policy");
	/* Extreme values must not overflow into acceptance. */
	id_refused(cfg, ident("alice", 1, (time_t)INT64_MAX), "token lifetime exceeds policy");
	k8s_config_free(cfg);
}

/* The issue 10 token: iat 300 days ahead, exp = iat + 60.  exp - iat is
 * within any limit; exp - now is not, and the iat is in the future. */
static void test_identity_issued_ahead(void **state)
{
	struct k8s_config *cfg = cfg_of(""); /* maxTokenLifetime 24h */
	const time_t now = 1767225600, day = 86400;
	struct k8s_err err;
	struct k8s_identity id;

	at_refused(cfg, ident("alice", now + 300 * day, now + 300 * day + 60), now,
		   "token lifetime exceeds policy");
	id = ident("alice", now + 300 * day, now + 300 * day + 60);
	assert_int_equal(k8s_policy_check_identity_at(cfg, &id, now, &err), K8S_REFUSED);
	assert_string_equal(err.detail, "token is valid until 2026-10-28T00:01:00Z, 300d from now, "
			    "more than policy.maxTokenLifetime (1d) from now");
	id = ident("alice", now - 10, now - 10 + 2 * day);
	assert_int_equal(k8s_policy_check_identity_at(cfg, &id, now, &err), K8S_REFUSED);
	assert_string_equal(err.detail, "token is valid until 2026-01-02T23:59:50Z, 1d23h from now, "
			    "more than policy.maxTokenLifetime (1d) from now");
	id = ident("alice", now - day, now + 30);
	id.exp = now + 30;
	id.iat = now - day - 3600;
	assert_int_equal(k8s_policy_check_identity_at(cfg, &id, now, &err), K8S_REFUSED);
	assert_string_equal(err.detail, "token lifetime 1d1h (exp - iat) exceeds policy.maxTokenLifetime 1d");
	id = ident("alice", now + 3600, now + 7200);
	assert_int_equal(k8s_policy_check_identity_at(cfg, &id, now, &err), K8S_REFUSED);
	assert_string_equal(err.detail, "token issued at 2026-01-01T01:00:00Z, 1h from now, beyond the 60s "
			    "clock leeway; the host clock reads 2026-01-01T00:00:00Z, if that is wrong fix it "
			    "(k8s-auth status compares it with the apiserver's)");
	/* exp - now: up to the limit plus the 60 s clock leeway. */
	at_ok(cfg, ident("alice", now + 60, now + 60 + day), now);
	at_refused(cfg, ident("alice", now + 61, now + 61 + day), now,
		   "token lifetime exceeds policy");
	/* iat ahead by more than the leeway, exp close: refused all the same. */
	at_ok(cfg, ident("alice", now + 60, now + 600), now);
	at_refused(cfg, ident("alice", now + 61, now + 600), now, "token issued in the future");
	at_refused(cfg, ident("alice", now + 3600, now + 7200), now, "token issued in the future");
	at_refused(cfg, ident("alice", INT64_MAX - 60, INT64_MAX), now,
		   "token lifetime exceeds policy");
	/* A broken host clock never makes exp - now overflow into acceptance. */
	at_refused(cfg, ident("alice", 1, INT64_MAX), -1, "host clock unusable");
	k8s_config_free(cfg);

	/* maxTokenLifetime off: no lifetime check, but an iat in the future
	 * is still refused; an opaque token (times unknown) is not. */
	cfg = cfg_of("policy: {maxTokenLifetime: 0}\n");
	at_ok(cfg, ident("alice", now - 10, now + 365 * day), now);
	at_ok(cfg, ident("alice", 0, 0), now);
	at_ok(cfg, ident("alice", 0, now + 600), now);
	at_refused(cfg, ident("alice", now + 300 * day, now + 300 * day + 60), now,
		   "token issued in the future");
	at_refused(cfg, ident("alice", now + 61, 0), now, "token issued in the future");
	k8s_config_free(cfg);

	/* 10m: the limit, not the leeway, dominates. */
	cfg = cfg_of("policy: {maxTokenLifetime: 10m}\n");
	at_ok(cfg, ident("alice", now, now + 600), now);
	at_ok(cfg, ident("alice", now + 60, now + 660), now);
	at_refused(cfg, ident("alice", now + 60, now + 661), now, "token lifetime exceeds policy");
	k8s_config_free(cfg);
}

static void test_identity_deny(void **state)
{
	struct k8s_config *cfg = cfg_of("");
	static const char *denied[] = {"system:anonymous", "system:bootstrap:abcdef",
		"system:node:web-1", "system:node:a:b", "system:kube-controller-manager",
		"system:kube-scheduler", "system:kube-proxy"};
	static const char *allowed[] = {"alice", "system:anonymousx", "system:nodes",
		"system:serviceaccount:kube-system:deployer", "System:anonymous",
		"xsystem:node:web-1", "system:bootstrap", "system:kube"};
	const time_t t0 = 1767225600;
	struct k8s_identity id = ident("system:node:web-1", t0, t0 + 60);
	struct k8s_err err;
	size_t i;

	for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		id_refused(cfg, ident(denied[i], t0, t0 + 60), "username denied by policy");
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		id_ok(cfg, ident(allowed[i], t0, t0 + 60));
	assert_int_equal(k8s_policy_check_identity(cfg, &id, &err), K8S_REFUSED);
	assert_string_equal(err.detail, "username matches policy.denyUsernames[2] \"system:node:*\"");
	k8s_config_free(cfg);

	/* A configured list replaces the defaults; '*' spans ':' and '.'. */
	cfg = cfg_of("policy: {denyUsernames: [\"*:admin\", \"oidc:?x\", \"*.svc\", \"[ab]*\"]}\n");
	id_refused(cfg, ident("a:b:admin", t0, t0 + 60), "username denied by policy");
	id_refused(cfg, ident("oidc:1x", t0, t0 + 60), "username denied by policy");
	id_refused(cfg, ident(".svc", t0, t0 + 60), "username denied by policy");
	id_refused(cfg, ident("a.b/c.svc", t0, t0 + 60), "username denied by policy");
	id_refused(cfg, ident("bob", t0, t0 + 60), "username denied by policy");
	id_ok(cfg, ident("oidc:12x", t0, t0 + 60));
	id_ok(cfg, ident("system:node:web-1", t0, t0 + 60));
	id_ok(cfg, ident("system:anonymous", t0, t0 + 60));
	k8s_config_free(cfg);

	cfg = cfg_of("policy: {denyUsernames: []}\n");
	id_ok(cfg, ident("system:anonymous", t0, t0 + 60));
	k8s_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_precheck_size_charset),
		cmocka_unit_test(test_precheck_bootstrap),
		cmocka_unit_test(test_precheck_legacy_sa),
		cmocka_unit_test(test_identity_basic),
		cmocka_unit_test(test_identity_lifetime),
		cmocka_unit_test(test_identity_issued_ahead),
		cmocka_unit_test(test_identity_deny),
	};

	return cmocka_run_group_tests(tests, mint, unmint);
}
