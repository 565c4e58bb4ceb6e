/* Unit tests for config.c: every section of SPEC.md's config.yaml, its
 * defaults, and the errors (file, key path, what is wrong). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define SPEC_EXAMPLE \
	"tokenReview:\n" \
	"  kubeconfig: /etc/k8s-auth/kubeconfig\n" \
	"  audiences: [\"host-login:%h\"]  # %h = this host's name\n" \
	"  timeout: 5s\n" \
	"  cacheTTL: 2m\n" \
	"jwt:\n" \
	"- issuer:\n" \
	"    url: https://issuer.example.com\n" \
	"    discoveryURL: https://issuer.example.com/.well-known/openid-configuration\n" \
	"    audiences: [\"host-login:%h\"]\n" \
	"    audienceMatchPolicy: MatchAny\n" \
	"  claimValidationRules:\n" \
	"  - claim: hd\n" \
	"    requiredValue: example.com\n" \
	"  claimMappings:\n" \
	"    username: {claim: email, prefix: \"\"}\n" \
	"    groups: {claim: groups, prefix: \"oidc:\"}\n" \
	"    uid: {claim: sub}\n" \
	"policy:\n" \
	"  maxTokenLifetime: 24h\n" \
	"  allowLegacyServiceAccountTokens: false\n" \
	"  allowBootstrapTokens: false\n" \
	"  denyUsernames: [\"system:anonymous\", \"system:bootstrap:*\", \"system:node:*\", \"system:kube-*\"]\n" \
	"accounts:\n" \
	"  users:\n" \
	"  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)$'\n" \
	"    local: '\\1.\\2'\n" \
	"  - match: '^([a-z][a-z0-9_-]*)@example\\.com$'\n" \
	"    local: '\\1'\n" \
	"  uidRange: [200000, 999999]\n" \
	"  gidRange: [200000, 999999]\n" \
	"  home: /home/%u\n" \
	"  shell: /bin/bash\n" \
	"  declared: [alice, bob]\n" \
	"  allowExisting: []\n" \
	"  groups:\n" \
	"  - match: '^oidc:platform-admins$'\n" \
	"    local: sudo\n" \
	"  - match: '^oidc:team-(.*)$'\n" \
	"    local: 'k8s-\\1'\n" \
	"login:\n" \
	"  allowedGroups: []\n" \
	"  allowRoot: false\n" \
	"store: /var/lib/k8s-auth\n"

/* A valid minimal jwt authenticator, to which a test appends or swaps one line. */
#define JWT_ITEM "- issuer:\n    url: https://idp.example.com\n    audiences: [a]\n"
#define JWT_HEAD "jwt:\n" JWT_ITEM
#define JWT_MAP  "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"

static struct k8s_config *parse_ok(const char *yaml)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;

	if (k8s_config_parse(yaml, strlen(yaml), "cfg.yaml", &cfg, &err) != K8S_OK)
		fail_msg("refused: %s\n--- config:\n%s", err.detail, yaml);
	assert_non_null(cfg);
	return cfg;
}

/* The config must be refused with a detail containing want. */
static void refused(const char *yaml, const char *want)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;
	int r = k8s_config_parse(yaml, strlen(yaml), "cfg.yaml", &cfg, &err);

	if (r == K8S_OK)
		fail_msg("accepted:\n%s", yaml);
	assert_int_equal(r, K8S_ECONFIG);
	assert_int_equal(err.status, K8S_ECONFIG);
	assert_null(cfg);
	if (strstr(err.detail, want) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", err.detail, want);
}

static void refused_exact(const char *yaml, const char *want)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;

	assert_int_equal(k8s_config_parse(yaml, strlen(yaml), "cfg.yaml", &cfg, &err), K8S_ECONFIG);
	assert_string_equal(err.detail, want);
	assert_string_equal(err.reason, "configuration error");
}

static char *host_audience(const char *prefix)
{
	char host[256], *s;

	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_true(asprintf(&s, "%s%s", prefix, host) > 0);
	return s;
}

static void test_defaults(void **state)
{
	struct k8s_config *cfg = parse_ok("");

	assert_false(cfg->has_tokenreview || cfg->has_policy || cfg->has_accounts || cfg->has_login);
	assert_int_equal(cfg->n_jwt, 0);
	assert_string_equal(cfg->path, "cfg.yaml");
	assert_string_equal(cfg->tokenreview.kubeconfig, "/etc/k8s-auth/kubeconfig");
	assert_int_equal(cfg->tokenreview.timeout_ms, 5000);
	assert_int_equal(cfg->tokenreview.cache_ttl_ms, 120000);
	assert_false(cfg->tokenreview.allow_insecure);
	assert_false(cfg->tokenreview.allow_empty_audiences);
	assert_int_equal(cfg->jwt_timeout_ms, 5000);
	assert_int_equal(cfg->jwks_max_stale_ms, 24LL * 3600 * 1000);
	/* Policy defaults hold without a policy section. */
	assert_int_equal(cfg->policy.max_token_lifetime_ms, 24LL * 3600 * 1000);
	assert_false(cfg->policy.allow_legacy_sa);
	assert_false(cfg->policy.allow_bootstrap);
	assert_int_equal(cfg->policy.deny_usernames.n, 4);
	assert_string_equal(cfg->policy.deny_usernames.v[0], "system:anonymous");
	assert_string_equal(cfg->policy.deny_usernames.v[1], "system:bootstrap:*");
	assert_string_equal(cfg->policy.deny_usernames.v[2], "system:node:*");
	assert_string_equal(cfg->policy.deny_usernames.v[3], "system:kube-*");
	assert_int_equal(cfg->accounts.uid_min, 200000);
	assert_int_equal(cfg->accounts.uid_max, 999999);
	assert_int_equal(cfg->accounts.gid_min, 200000);
	assert_int_equal(cfg->accounts.gid_max, 999999);
	assert_string_equal(cfg->accounts.home, "/home/%u");
	assert_string_equal(cfg->accounts.shell, "/bin/bash");
	assert_int_equal(cfg->accounts.n_users + cfg->accounts.n_groups + cfg->accounts.n_declared, 0);
	assert_false(cfg->login.allow_root);
	assert_int_equal(cfg->login.allowed_groups.n, 0);
	assert_string_equal(cfg->store, "/var/lib/k8s-auth");
	assert_string_equal(cfg->cache_dir, "/var/cache/k8s-auth");
	assert_string_equal(cfg->run_dir, "/run/k8s-auth");
	assert_true(json_is_object(cfg->raw));
	k8s_config_free(cfg);

	/* Sections written without a value are present with their defaults. */
	cfg = parse_ok("policy:\naccounts:\nlogin:\njwt:\njwtOptions:\n");
	assert_true(cfg->has_policy && cfg->has_accounts && cfg->has_login);
	assert_int_equal(cfg->policy.deny_usernames.n, 4);
	k8s_config_free(cfg);
}

static void test_spec_example(void **state)
{
	struct k8s_config *cfg = parse_ok(SPEC_EXAMPLE);
	char *aud = host_audience("host-login:");
	const struct k8s_jwt_authenticator *a;

	assert_true(cfg->has_tokenreview && cfg->has_policy && cfg->has_accounts && cfg->has_login);
	assert_int_equal(cfg->tokenreview.audiences.n, 1);
	assert_string_equal(cfg->tokenreview.audiences.v[0], aud);
	assert_int_equal(cfg->tokenreview.timeout_ms, 5000);
	assert_int_equal(cfg->tokenreview.cache_ttl_ms, 120000);
	assert_int_equal(cfg->n_jwt, 1);
	a = &cfg->jwt[0];
	assert_string_equal(a->issuer_url, "https://issuer.example.com");
	assert_string_equal(a->discovery_url,
			    "https://issuer.example.com/.well-known/openid-configuration");
	assert_string_equal(a->audiences.v[0], aud);
	assert_string_equal(a->audience_match_policy, "MatchAny");
	assert_null(a->ca_pem);
	assert_int_equal(a->n_rules, 1);
	assert_string_equal(a->rules[0].claim, "hd");
	assert_string_equal(a->rules[0].required_value, "example.com");
	assert_string_equal(a->username.claim, "email");
	assert_string_equal(a->username.prefix, "");
	assert_string_equal(a->groups.claim, "groups");
	assert_string_equal(a->groups.prefix, "oidc:");
	assert_string_equal(a->uid.claim, "sub");
	assert_null(a->uid.prefix);
	assert_int_equal(cfg->accounts.n_users, 2);
	assert_string_equal(cfg->accounts.users[0].local, "\\1.\\2");
	assert_true(cfg->accounts.users[0].templated);
	assert_true(cfg->accounts.users[1].templated);
	assert_int_equal(cfg->accounts.n_groups, 2);
	assert_string_equal(cfg->accounts.groups[0].local, "sudo");
	assert_false(cfg->accounts.groups[0].templated);
	assert_true(cfg->accounts.groups[1].templated);
	assert_int_equal(cfg->accounts.n_declared, 2);
	assert_string_equal(cfg->accounts.declared[0].name, "alice");
	assert_int_equal(cfg->accounts.declared[0].uid, -1);
	assert_string_equal(cfg->accounts.declared[1].name, "bob");
	assert_int_equal(cfg->accounts.allow_existing.n, 0);
	assert_int_equal(cfg->login.allowed_groups.n, 0);
	assert_true(json_is_object(json_object_get(cfg->raw, "accounts")));
	free(aud);
	k8s_config_free(cfg);
}

static void test_unknown_keys(void **state)
{
	refused_exact("tokenreview: {}\n", "cfg.yaml: tokenreview: unknown key");
	refused_exact("accounts:\n  users:\n  - {match: a, local: a}\n  - {match: b, lcoal: b}\n",
		      "cfg.yaml: accounts.users[1].lcoal: unknown key");
	refused_exact("login: {alowRoot: true}\n", "cfg.yaml: login.alowRoot: unknown key");
	refused_exact("policy: {maxTokenLifetime: 1h, denyUsername: []}\n",
		      "cfg.yaml: policy.denyUsername: unknown key");
	refused(JWT_HEAD "    foo: 1\n" JWT_MAP, "cfg.yaml: jwt[0].issuer.foo: unknown key");
	refused(JWT_HEAD JWT_MAP "    uid: {claim: sub, prefix: x}\n",
		"jwt[0].claimMappings.uid.prefix: unknown key");
	refused("jwtOptions: {timeout: 5s, maxStale: 1h}\n", "jwtOptions.maxStale: unknown key");
	refused_exact("- a\n", "cfg.yaml: (top level): expected a mapping");
	refused("accounts: [a]\n", "cfg.yaml: accounts: expected a mapping");
}

static void test_tokenreview(void **state)
{
	struct k8s_config *cfg;

	refused_exact("tokenReview: {kubeconfig: /k}\n",
		      "cfg.yaml: tokenReview.audiences: must list at least one audience such as "
		      "\"host-login:%h\" (or set allowEmptyAudiences: true to accept any token the "
		      "apiserver accepts for itself)");
	refused("tokenReview: {audiences: []}\n", "tokenReview.audiences: must list at least one");
	refused("tokenReview:\n", "tokenReview.audiences: must list at least one");
	refused("tokenReview: {audiences: [\"\"]}\n", "tokenReview.audiences[0]: must not be empty");
	refused("tokenReview: {audiences: [1]}\n", "tokenReview.audiences[0]: expected a string");
	refused("tokenReview: {audiences: a}\n", "tokenReview.audiences: expected a list of strings");
	refused("tokenReview: {audiences: [a], kubeconfig: kc}\n",
		"tokenReview.kubeconfig: must be an absolute path");
	refused_exact("tokenReview: {audiences: [a], timeout: 5}\n",
		      "cfg.yaml: tokenReview.timeout: expected a duration such as \"90s\", \"5m\" or \"24h\"");
	refused("tokenReview: {audiences: [a], timeout: 0}\n", "tokenReview.timeout: must be longer than 0");
	refused("tokenReview: {audiences: [a], timeout: 1.5s}\n", "tokenReview.timeout: expected a duration");
	refused("tokenReview: {audiences: [a], allowInsecureSkipTLSVerify: yes}\n",
		"tokenReview.allowInsecureSkipTLSVerify: expected true or false");
	refused("tokenReview: {audiences: [a], allowEmptyAudiences: \"true\"}\n",
		"tokenReview.allowEmptyAudiences: expected true or false");

	cfg = parse_ok("tokenReview: {allowEmptyAudiences: true, cacheTTL: 0, timeout: 1m30s,"
		       " allowInsecureSkipTLSVerify: true, kubeconfig: /x/kc}\n");
	assert_true(cfg->has_tokenreview);
	assert_int_equal(cfg->tokenreview.audiences.n, 0);
	assert_int_equal(cfg->tokenreview.cache_ttl_ms, 0);
	assert_int_equal(cfg->tokenreview.timeout_ms, 90000);
	assert_true(cfg->tokenreview.allow_insecure);
	assert_true(cfg->tokenreview.allow_empty_audiences);
	assert_string_equal(cfg->tokenreview.kubeconfig, "/x/kc");
	k8s_config_free(cfg);

	cfg = parse_ok("tokenReview: {audiences: [\"a-%h\", \"100%%\", b], cacheTTL: \"0\"}\n");
	{
		char *want = host_audience("a-");

		assert_int_equal(cfg->tokenreview.audiences.n, 3);
		assert_string_equal(cfg->tokenreview.audiences.v[0], want);
		assert_string_equal(cfg->tokenreview.audiences.v[1], "100%");
		assert_string_equal(cfg->tokenreview.audiences.v[2], "b");
		free(want);
	}
	assert_int_equal(cfg->tokenreview.cache_ttl_ms, 0);
	k8s_config_free(cfg);
}

static void test_jwt_issuer(void **state)
{
	struct k8s_config *cfg;

	refused("jwt:\n- issuer: {url: http://idp.example.com, audiences: [a]}\n" JWT_MAP,
		"cfg.yaml: jwt[0].issuer.url: must be an https:// URL");
	refused("jwt:\n- issuer: {url: \"https://idp.example.com/?x=1\", audiences: [a]}\n" JWT_MAP,
		"jwt[0].issuer.url: must not contain a query");
	refused("jwt:\n- issuer: {url: \"https://idp.example.com/#f\", audiences: [a]}\n" JWT_MAP,
		"jwt[0].issuer.url: must not contain a fragment");
	refused("jwt:\n- issuer: {url: \"https://u:p@idp.example.com\", audiences: [a]}\n" JWT_MAP,
		"jwt[0].issuer.url: must not contain a username or password");
	refused("jwt:\n- issuer: {url: \"https://\", audiences: [a]}\n" JWT_MAP,
		"jwt[0].issuer.url: has no host");
	refused("jwt:\n- issuer: {audiences: [a]}\n" JWT_MAP, "jwt[0].issuer.url: required");
	refused("jwt:\n- claimMappings: {username: {claim: sub, prefix: \"\"}}\n",
		"jwt[0].issuer: required");
	refused(JWT_HEAD "    discoveryURL: http://idp.example.com/d\n" JWT_MAP,
		"jwt[0].issuer.discoveryURL: must be an https:// URL");
	refused(JWT_HEAD "    discoveryURL: https://idp.example.com/\n" JWT_MAP,
		"jwt[0].issuer.discoveryURL: must be different from url");
	refused("jwt:\n- issuer: {url: \"https://idp.example.com\", audiences: []}\n" JWT_MAP,
		"jwt[0].issuer.audiences: must list at least one audience");
	refused("jwt:\n- issuer: {url: \"https://idp.example.com\"}\n" JWT_MAP,
		"jwt[0].issuer.audiences: must list at least one audience");
	refused("jwt:\n- issuer: {url: \"https://idp.example.com\", audiences: [a, b]}\n" JWT_MAP,
		"jwt[0].issuer.audienceMatchPolicy: must be \"MatchAny\" when more than one");
	refused("jwt:\n- issuer: {url: \"https://idp.example.com\", audiences: [a, a], "
		"audienceMatchPolicy: MatchAny}\n" JWT_MAP,
		"jwt[0].issuer.audiences[1]: duplicate audience");
	refused(JWT_HEAD "    audienceMatchPolicy: MatchAll\n" JWT_MAP,
		"jwt[0].issuer.audienceMatchPolicy: must be \"MatchAny\" or empty");
	refused(JWT_HEAD "    certificateAuthority: not a pem\n" JWT_MAP,
		"jwt[0].issuer.certificateAuthority: no PEM certificate found");
	refused("jwt: {issuer: {}}\n", "cfg.yaml: jwt: expected a list of authenticators");
	refused_exact(JWT_HEAD JWT_MAP JWT_ITEM JWT_MAP,
		      "cfg.yaml: jwt[1].issuer.url: duplicate issuer URL (also jwt[0])");

	cfg = parse_ok(JWT_HEAD "    audienceMatchPolicy: \"\"\n" JWT_MAP
		       "- issuer:\n    url: https://other.example.com/path\n"
		       "    audiences: [\"x-%h\", y]\n    audienceMatchPolicy: MatchAny\n" JWT_MAP
		       "jwtOptions: {timeout: 2s, maxStaleness: 0}\n");
	assert_int_equal(cfg->n_jwt, 2);
	assert_null(cfg->jwt[0].discovery_url);
	assert_string_equal(cfg->jwt[0].audience_match_policy, "");
	assert_string_equal(cfg->jwt[1].issuer_url, "https://other.example.com/path");
	{
		char *want = host_audience("x-");

		assert_string_equal(cfg->jwt[1].audiences.v[0], want);
		free(want);
	}
	assert_int_equal(cfg->jwt_timeout_ms, 2000);
	assert_int_equal(cfg->jwks_max_stale_ms, 0);
	k8s_config_free(cfg);
}

/* A CA made by the openssl CLI, embedded as a YAML block scalar. */
static void test_jwt_ca(void **state)
{
	char cmd[] = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		     "-subj /CN=test-ca -days 2 -keyout /dev/null 2>/dev/null";
	struct k8s_buf_local { char *p; size_t n; } y = {0};
	struct k8s_config *cfg;
	char line[256];
	FILE *f, *mem;

	f = popen(cmd, "r");
	assert_non_null(f);
	mem = open_memstream(&y.p, &y.n);
	fputs(JWT_HEAD "    certificateAuthority: |\n", mem);
	while (fgets(line, sizeof(line), f) != NULL)
		fprintf(mem, "      %s", line);
	assert_int_equal(pclose(f), 0);
	fputs(JWT_MAP, mem);
	fclose(mem);
	cfg = parse_ok(y.p);
	assert_non_null(cfg->jwt[0].ca_pem);
	assert_non_null(strstr(cfg->jwt[0].ca_pem, "-----BEGIN CERTIFICATE-----"));
	k8s_config_free(cfg);
	free(y.p);
}

/* A file for authenticationConfiguration tests; returns its malloc'd path. */
static char *authn_file(const char *text, mode_t mode)
{
	char *path = strdup("/tmp/k8s-authn-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static char *authn_cfg(const char *path, const char *auds)
{
	char *s;

	assert_true(asprintf(&s, "authenticationConfiguration:\n  file: %s\n  audiences: %s\n", path, auds) > 0);
	return s;
}

#define AC_HEAD "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\n"
#define AC_JWT "jwt:\n- issuer:\n    url: https://idp.example.com\n    audiences: [kubernetes, my-cluster]\n" \
	"    audienceMatchPolicy: MatchAny\n" \
	"  claimMappings:\n    username: {expression: \"'oidc:' + claims.sub\"}\n"

/* The cluster's own AuthenticationConfiguration: read as the apiserver
 * reads it, its audiences replaced by the host's. */
static void test_authn_config(void **state)
{
	struct k8s_config *cfg;
	char *f, *y, *want;

	f = authn_file(AC_HEAD AC_JWT "anonymous:\n  enabled: false\n", 0644);
	y = authn_cfg(f, "[\"host-login:web-1\", other]");
	cfg = parse_ok(y);
	assert_int_equal(cfg->n_jwt, 1);
	assert_string_equal(cfg->authn_config_file, f);
	assert_string_equal(cfg->authn_config_version, "apiserver.config.k8s.io/v1");
	assert_int_equal(cfg->jwt[0].audiences.n, 2);
	assert_string_equal(cfg->jwt[0].audiences.v[0], "host-login:web-1");
	assert_string_equal(cfg->jwt[0].audiences.v[1], "other");
	assert_string_equal(cfg->jwt[0].audience_match_policy, "MatchAny");
	assert_non_null(cfg->jwt[0].username.prog);
	assert_int_equal(cfg->authn_notes.n, 1);
	assert_non_null(strstr(cfg->authn_notes.v[0], "anonymous: ignored"));
	k8s_config_free(cfg);
	free(y);
	unlink(f);
	free(f);

	/* v1beta1, and an unknown section noted */
	f = authn_file("apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\n"
		       AC_JWT "future: {}\n", 0600);
	y = authn_cfg(f, "[\"host-login:%h\"]");
	cfg = parse_ok(y);
	assert_int_equal(cfg->authn_notes.n, 1);
	assert_non_null(strstr(cfg->authn_notes.v[0], "future: ignored"));
	k8s_config_free(cfg);
	free(y);

	/* errors in the file name the file and the path in it */
	unlink(f);
	free(f);
	f = authn_file(AC_HEAD "jwt:\n- issuer:\n    url: https://idp.example.com\n    audiences: [k]\n"
		       "  claimMappings:\n    username: {expression: claims.email}\n", 0644);
	y = authn_cfg(f, "[h]");
	assert_true(asprintf(&want, "%s: jwt[0].claimMappings.username.expression: claims.email_verified "
			     "must be used", f) > 0);
	refused(y, want);
	free(want);
	free(y);
	unlink(f);
	free(f);
	f = authn_file("apiVersion: apiserver.config.k8s.io/v2\nkind: AuthenticationConfiguration\n", 0644);
	y = authn_cfg(f, "[h]");
	refused(y, ": apiVersion: must be apiserver.config.k8s.io/v1, v1beta1 or v1alpha1");
	free(y);
	unlink(f);
	free(f);
	f = authn_file("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\n", 0644);
	y = authn_cfg(f, "[h]");
	refused(y, ": kind: must be AuthenticationConfiguration");
	free(y);
	unlink(f);
	free(f);
	/* a file others may write is refused, as the main config is */
	f = authn_file(AC_HEAD AC_JWT, 0666);
	y = authn_cfg(f, "[h]");
	refused(y, "writable by group or others");
	free(y);
	/* host audiences: required, never the cluster's */
	assert_true(asprintf(&y, "authenticationConfiguration:\n  file: %s\n", f) > 0);
	refused(y, "authenticationConfiguration.audiences: must list the audiences of host logins");
	free(y);
	assert_int_equal(chmod(f, 0644), 0);
	y = authn_cfg(f, "[kubernetes.default.svc]");
	refused(y, "cfg.yaml: authenticationConfiguration.audiences[0]: \"kubernetes.default.svc\" is");
	free(y);
	y = authn_cfg(f, "[\"https://idp.example.com\"]");
	refused(y, "authenticationConfiguration.audiences[0]");
	free(y);
	/* not both lists */
	want = authn_cfg(f, "[h]");
	assert_true(asprintf(&y, "%s" JWT_HEAD JWT_MAP, want) > 0);
	refused(y, "authenticationConfiguration: cannot be used together with jwt");
	free(y);
	free(want);
	y = "authenticationConfiguration:\n  file: relative.yaml\n  audiences: [h]\n";
	refused(y, "authenticationConfiguration.file: must be an absolute path");
	unlink(f);
	y = authn_cfg(f, "[h]");
	refused(y, f);
	free(y);
	free(f);
}

static void test_jwt_claims(void **state)
{
	struct k8s_config *cfg;

	refused(JWT_HEAD "  claimValidationRules:\n  - {requiredValue: x}\n" JWT_MAP,
		"cfg.yaml: jwt[0].claimValidationRules[0]: claim or expression is required");
	refused(JWT_HEAD "  claimValidationRules:\n  - {claim: hd, requiredValue: a}\n"
		"  - {claim: hd, requiredValue: b}\n" JWT_MAP,
		"jwt[0].claimValidationRules[1].claim: duplicate value \"hd\"");
	refused(JWT_HEAD "  claimValidationRules: {claim: hd}\n" JWT_MAP,
		"jwt[0].claimValidationRules: expected a list");
	refused(JWT_HEAD, "jwt[0].claimMappings: required");
	refused(JWT_HEAD "  claimMappings:\n    groups: {claim: g, prefix: \"\"}\n",
		"jwt[0].claimMappings.username: claim or expression is required");
	refused(JWT_HEAD "  claimMappings:\n    username: {prefix: \"\"}\n",
		"jwt[0].claimMappings.username: claim or expression is required");
	refused_exact(JWT_HEAD "  claimMappings:\n    username: {claim: email}\n",
		      "cfg.yaml: jwt[0].claimMappings.username.prefix: prefix is required when claim "
		      "is set. It can be set to an empty string to disable prefixing");
	refused(JWT_HEAD JWT_MAP "    groups: {claim: groups}\n",
		"jwt[0].claimMappings.groups.prefix: prefix is required when claim is set");
	refused(JWT_HEAD JWT_MAP "    uid: {claim: sub, prefix: x}\n",
		"jwt[0].claimMappings.uid.prefix: unknown key");

	/* A claim rule without requiredValue requires "" (the apiserver's
	 * zero value); a prefix without claim is accepted, as there. */
	cfg = parse_ok(JWT_HEAD "  claimValidationRules:\n  - {claim: hd, requiredValue: \"\"}\n"
		       "  - {claim: x}\n"
		       "  claimMappings:\n    username: {claim: email, prefix: \"oidc:\"}\n"
		       "    groups: {claim: roles, prefix: \"\"}\n");
	assert_string_equal(cfg->jwt[0].rules[0].required_value, "");
	assert_null(cfg->jwt[0].rules[1].required_value);
	assert_string_equal(cfg->jwt[0].username.prefix, "oidc:");
	assert_string_equal(cfg->jwt[0].groups.claim, "roles");
	assert_null(cfg->jwt[0].uid.claim);
	k8s_config_free(cfg);
	cfg = parse_ok(JWT_HEAD JWT_MAP "    groups: {prefix: \"oidc:\"}\n");
	k8s_config_free(cfg);
}

/* CEL in the jwt list: compiled at load, the apiserver's validation rules
 * (k8s.io/apiserver validation_test.go cases), messages naming the file,
 * the key path and the rule. */
static void test_jwt_cel(void **state)
{
	struct k8s_config *cfg;

	/* combinations */
	refused_exact(JWT_HEAD "  claimValidationRules:\n  - {claim: hd, expression: 'true'}\n" JWT_MAP,
		      "cfg.yaml: jwt[0].claimValidationRules[0]: claim and expression can't both be set");
	refused(JWT_HEAD "  claimValidationRules:\n  - {claim: hd, message: m}\n" JWT_MAP,
		"jwt[0].claimValidationRules[0].message: may not be specified when claim is set");
	refused(JWT_HEAD "  claimValidationRules:\n  - {expression: 'true', requiredValue: v}\n" JWT_MAP,
		"jwt[0].claimValidationRules[0].requiredValue: may not be specified when expression is set");
	refused(JWT_HEAD "  claimValidationRules:\n  - {expression: 'claims.a == 1'}\n"
		"  - {expression: 'claims.a == 1'}\n" JWT_MAP,
		"jwt[0].claimValidationRules[1].expression: duplicate value (also [0])");
	refused(JWT_HEAD "  claimMappings:\n    username: {claim: sub, expression: claims.sub}\n",
		"jwt[0].claimMappings.username: claim and expression can't both be set");
	refused(JWT_HEAD "  claimMappings:\n    username: {expression: claims.sub, prefix: \"\"}\n",
		"jwt[0].claimMappings.username.prefix: may not be specified when expression is set");
	refused(JWT_HEAD JWT_MAP "    groups: {expression: claims.g, prefix: \"x:\"}\n",
		"jwt[0].claimMappings.groups.prefix: may not be specified when expression is set");
	refused(JWT_HEAD JWT_MAP "    uid: {claim: sub, expression: claims.sub}\n",
		"jwt[0].claimMappings.uid: claim and expression can't both be set");
	/* compilation: position, unknown names, types */
	refused_exact(JWT_HEAD "  claimMappings:\n    username: {expression: 'claims.sub + foo'}\n",
		      "cfg.yaml: jwt[0].claimMappings.username.expression: compilation failed: column 14: "
		      "undeclared reference to 'foo' (this expression has only claims)");
	refused(JWT_HEAD "  claimMappings:\n    username: {expression: 'user.username'}\n",
		"undeclared reference to 'user' (this expression has only claims)");
	refused(JWT_HEAD "  claimValidationRules:\n  - {expression: 'claims.exp - claims.nbf'}\n" JWT_MAP,
		"jwt[0].claimValidationRules[0].expression: must evaluate to bool, not dyn");
	refused(JWT_HEAD "  claimValidationRules:\n  - {expression: '\"a\"'}\n" JWT_MAP,
		"jwt[0].claimValidationRules[0].expression: must evaluate to bool, not string");
	refused(JWT_HEAD JWT_MAP "  userValidationRules:\n  - {expression: 'user.username.size()'}\n",
		"jwt[0].userValidationRules[0].expression: must evaluate to bool, not int");
	refused(JWT_HEAD JWT_MAP "  userValidationRules:\n  - {expression: 'claims.sub == \"x\"'}\n",
		"undeclared reference to 'claims' (this expression has only user)");
	refused(JWT_HEAD JWT_MAP "  userValidationRules:\n  - {message: m}\n",
		"jwt[0].userValidationRules[0].expression: required");
	refused(JWT_HEAD JWT_MAP "  userValidationRules:\n  - {expression: 'true'}\n  - {expression: 'true'}\n",
		"jwt[0].userValidationRules[1].expression: duplicate value");
	refused(JWT_HEAD JWT_MAP "    groups: {expression: 'claims.g.filter(g, g.matches(\"\\\\bx\"))'}\n",
		"jwt[0].claimMappings.groups.expression: compilation failed: column 30: regular expression: "
		"word boundaries");
	refused(JWT_HEAD JWT_MAP "    groups: {expression: 'claims.g.sort()'}\n",
		"unsupported function 'sort'");
	/* extra keys */
	refused(JWT_HEAD JWT_MAP "    extra:\n    - {key: foo, valueExpression: claims.x}\n",
		"jwt[0].claimMappings.extra[0].key: must be a domain-prefixed path");
	refused(JWT_HEAD JWT_MAP "    extra:\n    - {key: example.com/Foo, valueExpression: claims.x}\n",
		"jwt[0].claimMappings.extra[0].key: must be lowercase");
	refused(JWT_HEAD JWT_MAP "    extra:\n    - {key: Example.com/foo, valueExpression: claims.x}\n",
		"jwt[0].claimMappings.extra[0].key: the domain prefix must consist of lower case");
	refused(JWT_HEAD JWT_MAP "    extra:\n    - {key: example.com/, valueExpression: claims.x}\n",
		"the path must not be empty");
	refused(JWT_HEAD JWT_MAP "    extra:\n    - {key: -a.com/x, valueExpression: claims.x}\n",
		"must start and end with an alphanumeric character");
	refused(JWT_HEAD JWT_MAP "    extra:\n    - {key: kubernetes.io/foo, valueExpression: claims.x}\n",
		"k8s.io, kubernetes.io and their subdomains are reserved for Kubernetes use");
	refused(JWT_HEAD JWT_MAP "    extra:\n    - {key: authentication.kubernetes.io/credential-id, "
		"valueExpression: claims.x}\n", "reserved for Kubernetes use");
	refused(JWT_HEAD JWT_MAP "    extra:\n    - {key: sub.k8s.io/foo, valueExpression: claims.x}\n",
		"reserved for Kubernetes use");
	refused(JWT_HEAD JWT_MAP "    extra:\n    - {key: a.com/x, valueExpression: claims.x}\n"
		"    - {key: a.com/x, valueExpression: claims.y}\n",
		"jwt[0].claimMappings.extra[1].key: duplicate value \"a.com/x\"");
	refused(JWT_HEAD JWT_MAP "    extra:\n    - {key: a.com/x}\n",
		"jwt[0].claimMappings.extra[0].valueExpression: required");
	/* the email_verified rule */
	refused_exact(JWT_HEAD "  claimMappings:\n    username: {expression: claims.email}\n",
		      "cfg.yaml: jwt[0].claimMappings.username.expression: claims.email_verified must be "
		      "used in claimMappings.username.expression or claimMappings.extra[*].valueExpression "
		      "or claimValidationRules[*].expression when claims.email is used in "
		      "claimMappings.username.expression");
	refused(JWT_HEAD "  claimMappings:\n    username: {expression: 'claims.?email.orValue(\"x\")'}\n",
		"claims.email_verified must be used");
	cfg = parse_ok(JWT_HEAD "  claimMappings:\n    username: {expression: \"claims.email_verified ? "
		       "claims.email : ''\"}\n");
	k8s_config_free(cfg);
	cfg = parse_ok(JWT_HEAD "  claimValidationRules:\n  - {expression: "
		       "'claims.?email_verified.orValue(true) == true'}\n"
		       "  claimMappings:\n    username: {expression: claims.email}\n");
	k8s_config_free(cfg);
	cfg = parse_ok(JWT_HEAD "  claimMappings:\n    username: {expression: claims.email}\n"
		       "    extra:\n    - {key: example.com/verified, valueExpression: "
		       "'string(claims.email_verified)'}\n");
	k8s_config_free(cfg);
	/* an index is not a selection: the apiserver's rule does not see it */
	cfg = parse_ok(JWT_HEAD "  claimMappings:\n    username: {expression: 'claims[\"email\"]'}\n");
	k8s_config_free(cfg);
	/* egressSelectorType */
	refused("jwt:\n- issuer:\n    url: https://idp.example.com\n    audiences: [a]\n"
		"    egressSelectorType: etcd\n" JWT_MAP,
		"jwt[0].issuer.egressSelectorType: egress selector must be either controlplane or cluster");
	/* the expressions, all at once */
	cfg = parse_ok("jwt:\n- issuer:\n    url: https://idp.example.com\n    audiences: [a]\n"
		       "    egressSelectorType: controlplane\n"
		       "  claimValidationRules:\n"
		       "  - {expression: 'claims.exp - claims.nbf <= 3600', message: too long}\n"
		       "  - {expression: 'claims.?email_verified.orValue(true) == true'}\n"
		       "  claimMappings:\n"
		       "    username: {expression: \"'oidc:' + claims.sub\"}\n"
		       "    groups: {expression: \"dyn(claims.?groups.orValue([])).filter(g, "
		       "g.startsWith('k8s_')).map(g, 'oidc:' + g)\"}\n"
		       "    uid: {expression: claims.sub}\n"
		       "    extra:\n"
		       "    - {key: example.com/repo, valueExpression: \"['oidc:github:repo:' + "
		       "claims.repository_id]\"}\n"
		       "    - {key: example.com/email, valueExpression: claims.email}\n"
		       "  userValidationRules:\n"
		       "  - {expression: \"!user.username.startsWith('system:')\", message: no system}\n"
		       "  - {expression: \"user.groups.all(g, !g.startsWith('system:'))\"}\n");
	assert_string_equal(cfg->jwt[0].egress_selector_type, "controlplane");
	assert_int_equal(cfg->jwt[0].n_rules, 2);
	assert_non_null(cfg->jwt[0].rules[0].prog);
	assert_string_equal(cfg->jwt[0].rules[0].message, "too long");
	assert_non_null(cfg->jwt[0].username.prog);
	assert_non_null(cfg->jwt[0].groups.prog);
	assert_non_null(cfg->jwt[0].uid.prog);
	assert_int_equal(cfg->jwt[0].n_extra, 2);
	assert_string_equal(cfg->jwt[0].extra[1].key, "example.com/email");
	assert_int_equal(cfg->jwt[0].n_user_rules, 2);
	k8s_config_free(cfg);
}

static void test_policy(void **state)
{
	struct k8s_config *cfg;

	cfg = parse_ok("policy:\n  maxTokenLifetime: 1h\n  allowLegacyServiceAccountTokens: true\n"
		       "  allowBootstrapTokens: true\n  denyUsernames: [\"evil:*\"]\n");
	assert_true(cfg->has_policy);
	assert_int_equal(cfg->policy.max_token_lifetime_ms, 3600000);
	assert_true(cfg->policy.allow_legacy_sa);
	assert_true(cfg->policy.allow_bootstrap);
	/* A configured list replaces the defaults. */
	assert_int_equal(cfg->policy.deny_usernames.n, 1);
	assert_string_equal(cfg->policy.deny_usernames.v[0], "evil:*");
	k8s_config_free(cfg);

	cfg = parse_ok("policy: {maxTokenLifetime: 0, denyUsernames: []}\n");
	assert_int_equal(cfg->policy.max_token_lifetime_ms, 0);
	assert_int_equal(cfg->policy.deny_usernames.n, 0);
	k8s_config_free(cfg);

	refused("policy: {allowBootstrapTokens: yes}\n",
		"cfg.yaml: policy.allowBootstrapTokens: expected true or false");
	refused("policy: {maxTokenLifetime: forever}\n", "policy.maxTokenLifetime: expected a duration");
	refused("policy: {denyUsernames: system:anonymous}\n",
		"policy.denyUsernames: expected a list of strings");
	refused("policy: {denyUsernames: [\"\"]}\n", "policy.denyUsernames[0]: must not be empty");
}

static void test_account_rules(void **state)
{
	struct k8s_config *cfg;

	refused_exact("accounts:\n  users:\n  - {match: '^(a)(b)?$', local: '\\1'}\n"
		      "  - {match: '^(a)$', local: 'x\\2'}\n",
		      "cfg.yaml: accounts.users[1].local: \\2 refers to a group the match does not "
		      "have (it has 1)");
	refused("accounts:\n  users:\n  - {match: '(', local: a}\n",
		"cfg.yaml: accounts.users[0].match: invalid regular expression: ");
	refused("accounts:\n  users:\n  - {match: a, local: Alice}\n",
		"accounts.users[0].local: \"Alice\" is not a valid local name");
	refused("accounts:\n  users:\n  - {match: a, local: '123'}\n",
		"accounts.users[0].local: \"123\" is not a valid local name");
	refused("accounts:\n  groups:\n  - {match: a, local: 'bad:name'}\n",
		"accounts.groups[0].local: \"bad:name\" is not a valid local name");
	refused("accounts:\n  users:\n  - {match: '(a)', local: '\\n\\1'}\n",
		"accounts.users[0].local: only \\1..\\9 and \\\\ may follow a backslash");
	refused("accounts:\n  users:\n  - {match: '(a)', local: 'a\\'}\n",
		"accounts.users[0].local: only \\1..\\9");
	refused("accounts:\n  users:\n  - {match: '(a)', local: '\\0'}\n", "only \\1..\\9");
	refused("accounts:\n  users:\n  - {local: a}\n", "accounts.users[0].match: required");
	refused("accounts:\n  users:\n  - {match: a}\n", "accounts.users[0].local: required");
	refused("accounts:\n  users:\n  - {match: '', local: a}\n", "accounts.users[0].match: must not be empty");
	refused("accounts:\n  users: {match: a, local: a}\n",
		"accounts.users: expected a list of {match, local[, lowercase]} rules");
	/* lowercase (issue 14): a boolean, only where \1..\9 insert something */
	refused("accounts:\n  users:\n  - {match: '(a)', local: '\\1', lowercase: yes}\n",
		"accounts.users[0].lowercase: expected true or false");
	refused("accounts:\n  users:\n  - {match: '(a)', local: '\\1', lowercase: 'true'}\n",
		"accounts.users[0].lowercase: expected true or false");
	refused_exact("accounts:\n  groups:\n  - {match: 'Admins', local: admins, lowercase: true}\n",
		      "cfg.yaml: accounts.groups[0].lowercase: applies to what \\1..\\9 insert, and "
		      "this rule's local has none");
	refused("accounts:\n  users:\n  - {match: '(a)', local: '\\1', lowercase: true, lowercased: true}\n",
		"accounts.users[0].lowercased: unknown key");
	cfg = parse_ok("accounts:\n  users:\n  - {match: '(a)', local: '\\1', lowercase: true}\n"
		 "  - {match: '(b)', local: '\\1', lowercase: false}\n  - {match: '(c)', local: '\\1'}\n");
	assert_true(cfg->accounts.users[0].lowercase);
	assert_false(cfg->accounts.users[1].lowercase);
	assert_false(cfg->accounts.users[2].lowercase);
	k8s_config_free(cfg);
	refused("accounts:\n  users:\n  - a\n", "accounts.users[0]: expected a mapping");

	/* Patterns whose compilation would eat the host's memory. */
	refused_exact("accounts:\n  users:\n  - {match: 'a++', local: a}\n",
		      "cfg.yaml: accounts.users[0].match: a repetition (*, +, ?, {n,m}) must follow "
		      "something it repeats, and only one");
	refused("accounts:\n  users:\n  - {match: '*a', local: a}\n", "must follow something");
	refused("accounts:\n  users:\n  - {match: 'a|+', local: a}\n", "must follow something");
	refused("accounts:\n  users:\n  - {match: 'a{256}', local: a}\n",
		"accounts.users[0].match: repetition bounds must be {n}, {n,} or {n,m} with n <= m <= 255");
	refused("accounts:\n  users:\n  - {match: 'a{3,2}', local: a}\n", "repetition bounds");
	refused("accounts:\n  users:\n  - {match: 'a{x}', local: a}\n", "repetition bounds");
	refused("accounts:\n  users:\n  - {match: '((a{255}){255}){255}', local: a}\n",
		"accounts.users[0].match: too complex");
	refused("accounts:\n  users:\n  - {match: '(a)\\1', local: a}\n",
		"accounts.users[0].match: back-references are not supported in match");
	refused("accounts:\n  groups:\n  - {match: '((((((((((((((((((a))))))))))))))))))', local: a}\n",
		"accounts.groups[0].match: groups nested more than 16 deep");
	cfg = parse_ok("accounts:\n  users:\n  - {match: '(a{100}){100}', local: a}\n"
		       "  - {match: '[[:alpha:]]+[]a-]*[^]x]?\\.\\{', local: b}\n"
		       "  - {match: '^(x|y{2,}|z{1,3})*$', local: c}\n");
	assert_int_equal(cfg->accounts.n_users, 3);
	k8s_config_free(cfg);

	cfg = parse_ok("accounts:\n  users:\n  - {match: 'a(b)', local: 'x_\\\\\\1'}\n"
		       "  - {match: '(((((((((x)))))))))', local: '\\9'}\n"
		       "  - {match: root, local: root}\n");
	assert_int_equal(cfg->accounts.n_users, 3);
	assert_string_equal(cfg->accounts.users[0].local, "x_\\\\\\1");
	assert_true(cfg->accounts.users[0].templated);
	assert_true(cfg->accounts.users[1].templated);
	assert_false(cfg->accounts.users[2].templated);
	k8s_config_free(cfg);
}

static void test_account_ranges_paths(void **state)
{
	struct k8s_config *cfg;

	cfg = parse_ok("accounts:\n  uidRange: [1000, 60000]\n  gidRange: [70000, 70000]\n"
		       "  home: /srv/home/%u\n  shell: /usr/bin/zsh\n");
	assert_int_equal(cfg->accounts.uid_min, 1000);
	assert_int_equal(cfg->accounts.uid_max, 60000);
	assert_int_equal(cfg->accounts.gid_min, 70000);
	assert_int_equal(cfg->accounts.gid_max, 70000);
	assert_string_equal(cfg->accounts.home, "/srv/home/%u");
	assert_string_equal(cfg->accounts.shell, "/usr/bin/zsh");
	k8s_config_free(cfg);

	refused_exact("accounts: {uidRange: [0, 10]}\n",
		      "cfg.yaml: accounts.uidRange: must not reach below 1000 (root and system accounts)");
	refused("accounts: {gidRange: [999, 5000]}\n", "accounts.gidRange: must not reach below 1000");
	refused_exact("accounts: {uidRange: [300000, 200000]}\n",
		      "cfg.yaml: accounts.uidRange: min is greater than max");
	refused("accounts: {uidRange: [1000, 70000]}\n", "must not contain 65534 or 65535");
	refused("accounts: {uidRange: [65535, 70000]}\n", "must not contain 65534 or 65535");
	refused("accounts: {uidRange: [100000, 4294967295]}\n", "max must be at most 4294967294");
	refused("accounts: {uidRange: [\"1000\", 2000]}\n", "accounts.uidRange: expected [min, max]");
	refused("accounts: {uidRange: [1000, 2000, 3000]}\n", "accounts.uidRange: expected [min, max]");
	refused("accounts: {uidRange: 1000}\n", "accounts.uidRange: expected [min, max]");
	refused("accounts: {home: home/%u}\n", "accounts.home: must be an absolute path");
	refused("accounts: {shell: \"/bin/b:sh\"}\n", "accounts.shell: must not contain ':'");
	refused("accounts: {home: \"/home/\\n%u\"}\n", "accounts.home: must not contain ':' or control");
	refused("store: var/lib/x\n", "cfg.yaml: store: must be an absolute path");
	refused("cacheDir: \"\"\n", "cfg.yaml: cacheDir: must not be empty");
	refused("runDir: 5\n", "cfg.yaml: runDir: expected a string");

	cfg = parse_ok("store: /tmp/s\ncacheDir: /tmp/c\nrunDir: /tmp/r\n");
	assert_string_equal(cfg->store, "/tmp/s");
	assert_string_equal(cfg->cache_dir, "/tmp/c");
	assert_string_equal(cfg->run_dir, "/tmp/r");
	k8s_config_free(cfg);
}

static void test_declared_existing(void **state)
{
	struct k8s_config *cfg;

	cfg = parse_ok("accounts:\n  uidRange: [5000, 6000]\n"
		       "  declared: [alice, {name: bob, uid: 5001}, {name: carol}]\n"
		       "  allowExisting: [admin, _svc]\n");
	assert_int_equal(cfg->accounts.n_declared, 3);
	assert_int_equal(cfg->accounts.declared[0].uid, -1);
	assert_string_equal(cfg->accounts.declared[1].name, "bob");
	assert_int_equal(cfg->accounts.declared[1].uid, 5001);
	assert_int_equal(cfg->accounts.declared[2].uid, -1);
	assert_int_equal(cfg->accounts.allow_existing.n, 2);
	assert_string_equal(cfg->accounts.allow_existing.v[1], "_svc");
	k8s_config_free(cfg);

	refused_exact("accounts:\n  uidRange: [5000, 6000]\n  declared: [{name: bob, uid: 7000}]\n",
		      "cfg.yaml: accounts.declared[0].uid: must lie inside accounts.uidRange [5000, 6000]");
	/* The pinned uid is checked against the configured range, not the default. */
	refused("accounts:\n  declared: [{name: bob, uid: 0}]\n", "must lie inside accounts.uidRange");
	refused("accounts:\n  declared: [{name: bob, uid: \"200001\"}]\n",
		"accounts.declared[0].uid: expected an integer");
	refused("accounts:\n  declared: [alice, alice]\n",
		"accounts.declared[1]: \"alice\" is declared twice");
	refused("accounts:\n  declared: [{name: a, uid: 200001}, {name: b, uid: 200001}]\n",
		"accounts.declared[1]: uid 200001 is also pinned for \"a\"");
	refused("accounts:\n  declared: [Bob]\n",
		"accounts.declared[0]: \"Bob\" is not a valid local name");
	refused("accounts:\n  declared: [{uid: 200001}]\n", "accounts.declared[0].name: required");
	refused("accounts:\n  declared: [{name: x, home: /x}]\n",
		"accounts.declared[0].home: unknown key");
	refused("accounts:\n  declared: [5]\n", "accounts.declared[0]: expected a name or {name, uid}");
	refused("accounts:\n  allowExisting: [\"ro:ot\"]\n",
		"accounts.allowExisting[0]: \"ro:ot\" is not a valid local name");
}

static void test_login_sync(void **state)
{
	struct k8s_config *cfg;

	cfg = parse_ok("login: {allowedGroups: [\"oidc:admins\", ops], allowRoot: true}\n"
		       "sync: {namespaces: [ops], serviceAccounts: true}\n");
	assert_true(cfg->has_login);
	assert_true(cfg->login.allow_root);
	assert_int_equal(cfg->login.allowed_groups.n, 2);
	assert_string_equal(cfg->login.allowed_groups.v[0], "oidc:admins");
	assert_true(cfg->has_sync);
	k8s_config_free(cfg);

	refused_exact("sync: [1]\n", "cfg.yaml: sync: expected a mapping");
	refused("login: {allowRoot: True, allowedGroups: [1]}\n",
		"login.allowedGroups[0]: expected a string");
	refused("login: {allowRoot: 1}\n", "login.allowRoot: expected true or false");

	/* login.firstLogin: never for "any token the identity provider issues" */
	cfg = parse_ok("store: /x\n");
	assert_false(cfg->login.first_login);
	k8s_config_free(cfg);
	refused("login: {firstLogin: true}\n",
		"login.firstLogin: needs login.allowedGroups or login.subjectAccessReview");
	refused("login: {firstLogin: true, allowedGroups: []}\n",
		"login.firstLogin: needs login.allowedGroups or login.subjectAccessReview");
	refused("login: {firstLogin: yes please}\n", "login.firstLogin: expected true or false");
	cfg = parse_ok("login: {firstLogin: true, allowedGroups: [\"oidc:people\"]}\n");
	assert_true(cfg->login.first_login);
	k8s_config_free(cfg);
	cfg = parse_ok("login:\n  firstLogin: true\n"
		       "  subjectAccessReview: {verb: login, resource: nodes, name: \"%h\"}\n");
	assert_true(cfg->login.first_login);
	k8s_config_free(cfg);
	cfg = parse_ok("login: {firstLogin: false}\n");
	assert_false(cfg->login.first_login);
	k8s_config_free(cfg);
}

static void test_subject_access_review(void **state)
{
	struct k8s_config *cfg;

	cfg = parse_ok("store: /x\n");
	assert_false(cfg->login.has_sar);
	assert_false(cfg->login.has_sudo_sar);
	k8s_config_free(cfg);

	cfg = parse_ok("login:\n"
		       "  subjectAccessReview: {verb: login, resource: nodes, name: \"%h\"}\n"
		       "  sudoSubjectAccessReview:\n"
		       "    verb: sudo\n    group: hosts.example.com\n    resource: hosts\n"
		       "    name: \"%h:%u%%\"\n    namespace: ops\n");
	assert_true(cfg->login.has_sar);
	assert_string_equal(cfg->login.sar.verb, "login");
	assert_string_equal(cfg->login.sar.group, "");
	assert_string_equal(cfg->login.sar.resource, "nodes");
	assert_string_equal(cfg->login.sar.name, "%h");
	assert_null(cfg->login.sar.namespace_);
	assert_true(cfg->login.has_sudo_sar);
	assert_string_equal(cfg->login.sudo_sar.verb, "sudo");
	assert_string_equal(cfg->login.sudo_sar.group, "hosts.example.com");
	assert_string_equal(cfg->login.sudo_sar.name, "%h:%u%%");
	assert_string_equal(cfg->login.sudo_sar.namespace_, "ops");
	k8s_config_free(cfg);

	refused_exact("login: {subjectAccessReview: {resource: nodes}}\n",
		      "cfg.yaml: login.subjectAccessReview.verb: required");
	refused_exact("login: {sudoSubjectAccessReview: {verb: sudo}}\n",
		      "cfg.yaml: login.sudoSubjectAccessReview.resource: required");
	refused_exact("login: {subjectAccessReview: {verb: a, resource: b, nmae: c}}\n",
		      "cfg.yaml: login.subjectAccessReview.nmae: unknown key");
	refused("login: {subjectAccessReview: {verb: a, resource: b, name: \"%x\"}}\n",
		"login.subjectAccessReview.name: only %h (host name), %u (local user) and %% may follow");
	refused("login: {subjectAccessReview: {verb: a, resource: b, name: \"x%\"}}\n",
		"login.subjectAccessReview.name: only");
	refused("login: {subjectAccessReview: {verb: a, resource: pods/exec}}\n",
		"login.subjectAccessReview.resource: subresources (\"pods/exec\") are not supported");
	refused("login: {subjectAccessReview: {verb: a, resource: b, namespace: Ops}}\n",
		"login.subjectAccessReview.namespace: \"Ops\" is not a namespace name");
	refused("login: {subjectAccessReview: {verb: a, resource: b, namespace: \"a/b\"}}\n",
		"is not a namespace name");
	refused("login: {subjectAccessReview: {verb: \"\", resource: b}}\n",
		"login.subjectAccessReview.verb: must not be empty");
	refused("login: {subjectAccessReview: {verb: \"a\\nb\", resource: b}}\n",
		"login.subjectAccessReview: must not contain control characters");
	refused("login: {subjectAccessReview: [verb, login]}\n",
		"login.subjectAccessReview: expected a mapping");
	refused("login: {subjectAccessReview: {verb: 1, resource: b}}\n",
		"login.subjectAccessReview.verb: expected a string");
}

static void test_sync(void **state)
{
	struct k8s_config *cfg;

	cfg = parse_ok("store: /x\n");
	assert_false(cfg->has_sync);
	assert_int_equal(cfg->sync.timeout_ms, 10000);
	k8s_config_free(cfg);

	cfg = parse_ok("sync:\n"
		       "  namespaces: [ops, team-a]\n"
		       "  serviceAccounts: true\n"
		       "  clusterRoles: [host-login, \"pam-k8s:admins\"]\n"
		       "  rules:\n"
		       "  - {verb: login, resource: nodes, name: \"%h\"}\n"
		       "  - {verb: \"*\", group: hosts.example.com, resource: hosts}\n"
		       "  timeout: 30s\n");
	assert_true(cfg->has_sync);
	assert_int_equal(cfg->sync.namespaces.n, 2);
	assert_string_equal(cfg->sync.namespaces.v[1], "team-a");
	assert_true(cfg->sync.service_accounts);
	assert_int_equal(cfg->sync.cluster_roles.n, 2);
	assert_string_equal(cfg->sync.cluster_roles.v[1], "pam-k8s:admins");
	assert_int_equal(cfg->sync.n_rules, 2);
	assert_string_equal(cfg->sync.rules[0].verb, "login");
	assert_string_equal(cfg->sync.rules[0].group, "");
	assert_string_equal(cfg->sync.rules[0].name, "%h");
	assert_string_equal(cfg->sync.rules[1].group, "hosts.example.com");
	assert_null(cfg->sync.rules[1].name);
	assert_int_equal(cfg->sync.timeout_ms, 30000);
	k8s_config_free(cfg);

	/* Each way of granting is enough on its own. */
	k8s_config_free(parse_ok("sync: {clusterRoles: [host-login]}\n"));
	k8s_config_free(parse_ok("sync: {rules: [{verb: login, resource: nodes}]}\n"));

	refused_exact("sync: [1]\n", "cfg.yaml: sync: expected a mapping");
	refused_exact("sync: {namespaces: [ops]}\n",
		      "cfg.yaml: sync: grants nobody: set serviceAccounts (with namespaces), clusterRoles or rules");
	refused_exact("sync: {serviceAccounts: true}\n",
		      "cfg.yaml: sync.serviceAccounts: needs sync.namespaces to list them in");
	refused_exact("sync: {clusterRoles: [a], namespace: [ops]}\n",
		      "cfg.yaml: sync.namespace: unknown key");
	refused_exact("sync: {clusterRoles: [a], namespaces: [ops, \"Ops\"]}\n",
		      "cfg.yaml: sync.namespaces[1]: \"Ops\" is not a namespace name (a DNS label: [a-z0-9-], at most 63)");
	refused("sync: {clusterRoles: [a], namespaces: [\"../x\"]}\n", "sync.namespaces[0]: \"../x\" is not");
	refused("sync: {clusterRoles: [a], namespaces: [-ops]}\n", "sync.namespaces[0]");
	refused("sync: {clusterRoles: [a], namespaces: [ops, ops]}\n", "sync.namespaces[1]: listed twice");
	refused("sync: {clusterRoles: [\"a/b\"]}\n", "sync.clusterRoles[0]: not a ClusterRole name");
	refused("sync: {clusterRoles: [\"\"]}\n", "sync.clusterRoles[0]: must not be empty");
	refused("sync: {clusterRoles: [a], timeout: 0}\n", "sync.timeout: must be longer than 0");
	refused("sync: {clusterRoles: [a], timeout: soon}\n", "sync.timeout: expected a duration");
	refused("sync: {clusterRoles: [a], serviceAccounts: yes please}\n",
		"sync.serviceAccounts: expected true or false");
	refused("sync: {rules: {verb: a}}\n", "sync.rules: expected a list of {verb, group, resource, name}");
	refused_exact("sync: {rules: [{verb: a, resource: b}, {verb: a}]}\n",
		      "cfg.yaml: sync.rules[1].resource: required");
	refused_exact("sync: {rules: [{verb: a, resource: b, namespace: ops}]}\n",
		      "cfg.yaml: sync.rules[0].namespace: unknown key");
	refused("sync: {rules: [{verb: a, resource: b, name: \"%u\"}]}\n",
		"sync.rules[0].name: only %h (host name) and %% may follow a '%'");
}

static void test_json_config(void **state)
{
	struct k8s_config *cfg;

	cfg = parse_ok("{\n\t\"tokenReview\": {\"audiences\": [\"a\"], \"timeout\": \"3s\"},\n"
		       "\t\"accounts\": {\"users\": [{\"match\": \"^(.*)@x$\", \"local\": \"\\\\1\"}]}\n}\n");
	assert_int_equal(cfg->tokenreview.timeout_ms, 3000);
	assert_string_equal(cfg->accounts.users[0].local, "\\1");
	k8s_config_free(cfg);
	refused("{\"store\": \"/a\", \"store\": \"/b\"}", "duplicate key \"store\"");
	refused("store: /a\nstore: /b\n", "cfg.yaml:2:1: duplicate key \"store\"");
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_load_file(void **state)
{
	char dir[] = "/tmp/cfgtest.XXXXXX", path[64], want[160];
	struct k8s_config *cfg = NULL;
	struct k8s_err err;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config.yaml", dir);
	write_file(path, "accounts:\n  declared: [alice]\nstore: /tmp/x\n", 0644);
	assert_int_equal(k8s_config_load(path, &cfg, &err), K8S_OK);
	assert_string_equal(cfg->path, path);
	assert_string_equal(cfg->store, "/tmp/x");
	k8s_config_free(cfg);

	write_file(path, "login: {allowRoot: maybe}\n", 0644);
	assert_int_equal(k8s_config_load(path, &cfg, &err), K8S_ECONFIG);
	snprintf(want, sizeof(want), "%s: login.allowRoot: expected true or false", path);
	assert_string_equal(err.detail, want);

	/* Anyone who can write the config decides who logs in as whom. */
	write_file(path, "store: /tmp/x\n", 0666);
	assert_int_equal(k8s_config_load(path, &cfg, &err), K8S_ECONFIG);
	snprintf(want, sizeof(want), "%s: writable by group or others (mode 0666)", path);
	assert_string_equal(err.detail, want);
	assert_null(cfg);
	assert_int_equal(chmod(path, 0620), 0);
	assert_int_equal(k8s_config_load(path, &cfg, &err), K8S_ECONFIG);
	if (geteuid() == 0) {
		assert_int_equal(chmod(path, 0644), 0);
		assert_int_equal(chown(path, 12345, 12345), 0);
		assert_int_equal(k8s_config_load(path, &cfg, &err), K8S_ECONFIG);
		assert_non_null(strstr(err.detail, "owned by uid 12345, not by root"));
	}
	unlink(path);
	assert_int_equal(k8s_config_load(path, &cfg, &err), K8S_ECONFIG);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err.detail, want);
	rmdir(dir);
}

/* Issue 10.4: audiences the cluster accepts for itself never open a host. */
#define TR_AUD(a) "tokenReview:\n  kubeconfig: /nonexistent/kubeconfig\n  audiences: [\"host-login:x\", \"" a "\"]\n"
#define JWT_AUD(a) "jwt:\n- issuer:\n    url: https://idp.example.com\n    audiences: [\"" a "\"]\n" \
	"  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n"

static void test_cluster_audiences(void **state)
{
	static const char *const names[] = {
		"https://kubernetes.default.svc", "https://kubernetes.default.svc/",
		"kubernetes.default.svc", "https://kubernetes.default.svc.cluster.local",
		"kubernetes.default.svc.cluster.local", "https://kubernetes.default.svc.corp.example",
		"kubernetes", "kubernetes.default", "https://kubernetes", "https://kubernetes.default//",
		"HTTPS://Kubernetes.Default.SVC", "https://kubernetes.default.svc:443",
		"https://kubernetes.default.svc.cluster.local.", "http://kubernetes.default.svc",
		"kubernetes.default.svc:6443",
	};
	static const char *const fine[] = {
		"host-login:kubernetes", "kubernetes-host", "https://kubernetes.example.com",
		"https://kubernetes.default.svc/host-login", "kubernetes.default.svcx",
		"https://idp.example.com/x", "k8s-auth",
	};
	struct k8s_config *cfg;
	char yaml[512], want[512];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(yaml, sizeof(yaml), "tokenReview:\n  kubeconfig: /nonexistent/kubeconfig\n"
			 "  audiences: [\"host-login:x\", \"%s\"]\n", names[i]);
		refused(yaml, "tokenReview.audiences[1]: ");
		refused(yaml, "is the apiserver's in-cluster name, an audience the cluster accepts for itself");
		refused(yaml, "use an audience of this host's own, such as \"host-login:%h\"");
		snprintf(yaml, sizeof(yaml), "jwt:\n- issuer:\n    url: https://idp.example.com\n"
			 "    audiences: [\"%s\"]\n  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n",
			 names[i]);
		refused(yaml, "jwt[0].issuer.audiences[0]: ");
	}
	for (i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		snprintf(yaml, sizeof(yaml), "tokenReview:\n  kubeconfig: /nonexistent/kubeconfig\n"
			 "  audiences: [\"%s\"]\n", fine[i]);
		cfg = parse_ok(yaml);
		assert_null(cfg->warning);
		k8s_config_free(cfg);
	}
	/* The exact message, once. */
	refused_exact(TR_AUD("https://kubernetes.default.svc"),
		      "cfg.yaml: tokenReview.audiences[1]: \"https://kubernetes.default.svc\" is the "
		      "apiserver's in-cluster name, an audience the cluster accepts for itself: every token "
		      "minted for its API (kubectl's, each pod's) would log in here; use an audience of this "
		      "host's own, such as \"host-login:%h\" (or set policy.allowClusterAudiences: true)");
	/* A configured issuer's own URL (a service-account issuer's default
	 * audience), in tokenReview and in any jwt entry. */
	refused(TR_AUD("https://idp.example.com/") JWT_AUD("host-login:%h"),
		"tokenReview.audiences[1]: \"https://idp.example.com/\" is the URL of the issuer of jwt[0]");
	refused(JWT_AUD("HTTPS://IDP.example.com"), "jwt[0].issuer.audiences[0]: \"HTTPS://IDP.example.com\" "
		"is the URL of the issuer of jwt[0]");
	snprintf(want, sizeof(want), "%s", JWT_AUD("host-login:%h")
		 "- issuer:\n    url: https://sa.example.com/issuer\n    audiences: [\"https://idp.example.com\"]\n"
		 "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n");
	refused(want, "jwt[1].issuer.audiences[0]: \"https://idp.example.com\" is the URL of the issuer of jwt[0]");

	/* policy.allowClusterAudiences: accepted, and the config says so at every use. */
	cfg = parse_ok(TR_AUD("https://kubernetes.default.svc") JWT_AUD("kubernetes")
		       "policy: {allowClusterAudiences: true}\n");
	assert_true(cfg->policy.allow_cluster_audiences);
	assert_non_null(cfg->warning);
	assert_non_null(strstr(cfg->warning, "tokenReview.audiences[1] \"https://kubernetes.default.svc\" is the "
				    "apiserver's in-cluster name, an audience the cluster accepts for itself: "
				    "policy.allowClusterAudiences lets every token minted for the cluster's API"));
	assert_non_null(strstr(cfg->warning, "; jwt[0].issuer.audiences[0] \"kubernetes\""));
	k8s_config_free(cfg);
	refused("policy: {allowClusterAudiences: 1}\n", "policy.allowClusterAudiences: expected true or false");
	cfg = parse_ok("policy: {allowClusterAudiences: false}\n");
	assert_false(cfg->policy.allow_cluster_audiences);
	assert_null(cfg->warning);
	k8s_config_free(cfg);
}

/* The apiserver's own URL: compared by k8s_config_check_server_audiences
 * (at use), with the same normalisation. */
static void test_server_audiences(void **state)
{
	static const char *const same[] = {
		"https://10.0.0.1:6443", "https://10.0.0.1:6443/", "10.0.0.1:6443", "HTTPS://10.0.0.1:6443",
	};
	struct k8s_config *cfg;
	struct k8s_err err;
	char yaml[512], *w = (char *)"x";
	size_t i;

	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		snprintf(yaml, sizeof(yaml), "tokenReview:\n  kubeconfig: /k/kubeconfig\n"
			 "  audiences: [\"host-login:x\", \"%s\"]\n", same[i]);
		cfg = parse_ok(yaml);
		assert_int_equal(k8s_config_check_server_audiences(cfg, "https://10.0.0.1:6443", &w, &err),
				 K8S_ECONFIG);
		assert_null(w);
		assert_non_null(strstr(err.detail, "cfg.yaml: tokenReview.audiences[1]: "));
		assert_non_null(strstr(err.detail, "is the apiserver's URL (the server of /k/kubeconfig)"));
		assert_non_null(strstr(err.detail, "\"host-login:%h\""));
		/* another server: fine */
		assert_int_equal(k8s_config_check_server_audiences(cfg, "https://10.0.0.2:6443", &w, &err), K8S_OK);
		assert_null(w);
		k8s_config_free(cfg);
	}
	/* Default port: https://api.example.com is https://api.example.com:443. */
	cfg = parse_ok("tokenReview:\n  audiences: [\"https://API.example.com:443/\"]\n" JWT_AUD("a"));
	assert_int_equal(k8s_config_check_server_audiences(cfg, "https://api.example.com", &w, &err), K8S_ECONFIG);
	assert_non_null(strstr(err.detail, "tokenReview.audiences[0]"));
	k8s_config_free(cfg);
	/* ...and in jwt audiences too */
	cfg = parse_ok("tokenReview:\n  audiences: [\"a\"]\n" JWT_AUD("https://api.example.com:6443"));
	assert_int_equal(k8s_config_check_server_audiences(cfg, "https://api.example.com:6443", &w, &err),
			 K8S_ECONFIG);
	assert_non_null(strstr(err.detail, "jwt[0].issuer.audiences[0]"));
	k8s_config_free(cfg);
	/* allowed: K8S_OK with the warning */
	cfg = parse_ok("tokenReview:\n  audiences: [\"https://api.example.com\"]\n"
		       "policy: {allowClusterAudiences: true}\n");
	assert_int_equal(k8s_config_check_server_audiences(cfg, "https://api.example.com", &w, &err), K8S_OK);
	assert_non_null(w);
	assert_non_null(strstr(w, "policy.allowClusterAudiences lets every token"));
	free(w);
	k8s_config_free(cfg);
}

/* At load, the kubeconfig's server is compared when the file can be read. */
static void test_server_audiences_at_load(void **state)
{
	char dir[] = "/tmp/cfgtest.XXXXXX", path[64], kpath[64], yaml[512];
	struct k8s_config *cfg = NULL;
	struct k8s_err err;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config.yaml", dir);
	snprintf(kpath, sizeof(kpath), "%s/kubeconfig", dir);
	snprintf(yaml, sizeof(yaml), "tokenReview:\n  kubeconfig: %s\n  audiences: [\"https://api.example.com:6443/\"]\n",
		 kpath);
	write_file(path, yaml, 0644);
	/* no kubeconfig yet: loads (compared at use) */
	assert_int_equal(k8s_config_load(path, &cfg, &err), K8S_OK);
	assert_null(cfg->warning);
	k8s_config_free(cfg);
	write_file(kpath, "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
		   "clusters: [{name: c, cluster: {server: \"https://api.example.com:6443\"}}]\n"
		   "users: [{name: u, user: {token: reviewer-secret}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n", 0600);
	assert_int_equal(k8s_config_load(path, &cfg, &err), K8S_ECONFIG);
	assert_null(cfg);
	assert_non_null(strstr(err.detail, "tokenReview.audiences[0]: \"https://api.example.com:6443/\" is the "
				   "apiserver's URL (the server of"));
	/* allowed: loads, with the warning */
	snprintf(yaml, sizeof(yaml), "tokenReview:\n  kubeconfig: %s\n  audiences: [\"https://api.example.com:6443/\"]\n"
		 "policy: {allowClusterAudiences: true}\n", kpath);
	write_file(path, yaml, 0644);
	assert_int_equal(k8s_config_load(path, &cfg, &err), K8S_OK);
	assert_non_null(cfg->warning);
	assert_non_null(strstr(cfg->warning, "is the apiserver's URL"));
	k8s_config_free(cfg);
	unlink(kpath);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_tokenreview),
		cmocka_unit_test(test_jwt_issuer),
		cmocka_unit_test(test_jwt_ca),
		cmocka_unit_test(test_jwt_claims),
		cmocka_unit_test(test_jwt_cel),
		cmocka_unit_test(test_authn_config),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_account_rules),
		cmocka_unit_test(test_account_ranges_paths),
		cmocka_unit_test(test_declared_existing),
		cmocka_unit_test(test_login_sync),
		cmocka_unit_test(test_subject_access_review),
		cmocka_unit_test(test_sync),
		cmocka_unit_test(test_json_config),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_cluster_audiences),
		cmocka_unit_test(test_server_audiences),
		cmocka_unit_test(test_server_audiences_at_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
