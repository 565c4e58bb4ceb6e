/* Unit tests for validate.c, the engine's one entry point: what is refused
 * before any network call, JWT-or-TokenReview dispatch, the review cache
 * (only fully successful, fresh answers are kept; sudo re-validation
 * neither reads nor fills it; a changed kubeconfig is never masked by it),
 * what a refusal still tells, and the configuration's warning.  The
 * configuration comes from YAML through the real loader; the network edge
 * is tests/unit/srv/tlssrv.py (a TLS server with a fake TokenReview
 * endpoint), which counts the reviews it answers, so "no network call" and
 * "served from the cache" are measured there, not inferred. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "config.h"
#include "identity.h"
#include "lib_tlssrv.h"
#include "sha256.h"
#include "tokenproto.h"
#include "validate.h"

static struct tlssrv srv;
static char *sa_jwt;        /* a JWT the fake TokenReview accepts */
static char tmp[64];        /* per-group scratch: kubeconfigs, cacheDir */
static char kubeconfig[128];

static long reviews(void)
{
	long n = tlssrv_count(&srv, "tokenreviews");

	assert_true(n >= 0);
	return n;
}

/* tokenReview against /tr/ok (kubeconfig), cacheTTL 2m; policy admits the
 * fake's opaque tokens (no lifetime to check) plus `policy` lines; `top`:
 * more top-level YAML. */
static struct k8s_config *cfg_tr(const char *policy, const char *top)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;
	char text[4096];
	int n;

	n = snprintf(text, sizeof(text),
		     "tokenReview:\n  kubeconfig: %s\n  audiences: [\"host-login:test\"]\n"
		     "  cacheTTL: 2m\n  timeout: 5s\ncacheDir: %s/cache\n"
		     "policy:\n  maxTokenLifetime: 0s\n%s%s",
		     kubeconfig, tmp, policy, top);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	if (k8s_config_parse(text, (size_t)n, "validate.yaml", &cfg, &err) != K8S_OK)
		fail_msg("config refused: %s", err.detail);
	return cfg;
}

static struct k8s_config *cfg_yaml(const char *yaml)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;

	if (k8s_config_parse(yaml, strlen(yaml), "validate.yaml", &cfg, &err) != K8S_OK)
		fail_msg("config refused: %s", err.detail);
	return cfg;
}

static char *b64url(const char *s)
{
	size_t n = strlen(s), i, j;
	char *out = malloc(4 * (n / 3 + 1) + 1);

	assert_non_null(out);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	for (i = j = 0; out[i] != '\0'; i++) {
		if (out[i] == '=')
			continue;
		out[j++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	}
	out[j] = '\0';
	return out;
}

/* An (unsigned) JWS with this payload: dispatch reads `iss` before any
 * signature is checked. */
static char *jwt_with(const char *payload)
{
	char *h = b64url("{\"alg\":\"RS256\",\"kid\":\"k1\"}"), *p = b64url(payload), *t;

	assert_true(asprintf(&t, "%s.%s.c2lnbmF0dXJl", h, p) > 0);
	free(h);
	free(p);
	return t;
}

static int validate(const struct k8s_config *cfg, const char *tok, unsigned flags,
		    struct k8s_identity *id, struct k8s_err *err)
{
	int rc;

	k8s_err_clear(err);
	rc = k8s_validate_token(cfg, tok, flags, id, err);
	if (rc != K8S_OK) {
		assert_int_equal(err->status, rc);
		if (tok != NULL && tok[0] != '\0')
			assert_null(strstr(err->detail, tok));
	}
	return rc;
}

static void refused(const struct k8s_config *cfg, const char *tok, int status, const char *reason)
{
	struct k8s_identity id;
	struct k8s_err err;

	assert_int_equal(validate(cfg, tok, 0, &id, &err), status);
	if (reason != NULL)
		assert_string_equal(err.reason, reason);
	assert_null(id.username);
	k8s_identity_free(&id);
}

static void test_nothing_to_validate(void **state)
{
	struct k8s_config *cfg = cfg_yaml("");
	struct k8s_config *tr = cfg_tr("", "");

	refused(tr, NULL, K8S_REFUSED, "no token");
	/* Neither method: a configuration error, not a refusal of the user. */
	refused(cfg, "good-token-1", K8S_ECONFIG, "no validation method configured");
	k8s_config_free(cfg);
	k8s_config_free(tr);
}

/* Everything the precheck refuses never reaches the apiserver. */
static void test_precheck_before_network(void **state)
{
	struct k8s_config *cfg = cfg_tr("", "");
	char *legacy = jwt_with("{\"iss\":\"kubernetes/serviceaccount\",\"sub\":\"system:serviceaccount:ns1:sa1\"}");
	char big[K8S_TOKEN_MAX + 2];
	long before = reviews();

	refused(cfg, "good token", K8S_REFUSED, "malformed token");
	refused(cfg, "good-token\x01", K8S_REFUSED, "malformed token");
	refused(cfg, "", K8S_REFUSED, "malformed token");
	memset(big, 'g', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	refused(cfg, big, K8S_REFUSED, "malformed token");
	refused(cfg, "abcdef.0123456789abcdef", K8S_REFUSED, "bootstrap tokens are not allowed");
	refused(cfg, legacy, K8S_REFUSED, "legacy service-account tokens are not allowed");
	assert_int_equal(reviews(), before);
	free(legacy);
	k8s_config_free(cfg);
}

/* A fresh success is cached and the next call is served from it; sudo
 * re-validation (K8S_VALIDATE_NO_CACHE) asks the apiserver and leaves the
 * cache as it was. */
static void test_review_and_cache(void **state)
{
	struct k8s_config *cfg = cfg_tr("", "");
	struct k8s_identity id;
	struct k8s_err err;
	char fp[17];
	long n = reviews();

	assert_int_equal(validate(cfg, "good-token-cache-1", 0, &id, &err), K8S_OK);
	assert_string_equal(id.method, "tokenreview");
	assert_string_equal(id.username, "system:serviceaccount:ns1:sa1");
	assert_true(k8s_identity_has_group(&id, "system:serviceaccounts:ns1"));
	k8s_token_fingerprint("good-token-cache-1", strlen("good-token-cache-1"), fp);
	assert_string_equal(id.fingerprint, fp);
	assert_null(id.warning);
	k8s_identity_free(&id);
	assert_int_equal(reviews(), n + 1);

	assert_int_equal(validate(cfg, "good-token-cache-1", 0, &id, &err), K8S_OK);
	assert_string_equal(id.username, "system:serviceaccount:ns1:sa1");
	assert_string_equal(id.fingerprint, fp);
	k8s_identity_free(&id);
	assert_int_equal(reviews(), n + 1);

	assert_int_equal(validate(cfg, "good-token-cache-1", K8S_VALIDATE_NO_CACHE, &id, &err), K8S_OK);
	k8s_identity_free(&id);
	assert_int_equal(reviews(), n + 2);

	/* Validated with NO_CACHE only: nothing was put. */
	assert_int_equal(validate(cfg, "good-token-cache-2", K8S_VALIDATE_NO_CACHE, &id, &err), K8S_OK);
	k8s_identity_free(&id);
	assert_int_equal(validate(cfg, "good-token-cache-2", 0, &id, &err), K8S_OK);
	k8s_identity_free(&id);
	assert_int_equal(reviews(), n + 4);
	k8s_config_free(cfg);

	/* cacheTTL 0: every call asks. */
	cfg = cfg_tr("", "");
	cfg->tokenreview.cache_ttl_ms = 0;
	assert_int_equal(validate(cfg, "good-token-cache-3", 0, &id, &err), K8S_OK);
	k8s_identity_free(&id);
	assert_int_equal(validate(cfg, "good-token-cache-3", 0, &id, &err), K8S_OK);
	k8s_identity_free(&id);
	assert_int_equal(reviews(), n + 6);
	k8s_config_free(cfg);
}

/* Refusals are never cached: the apiserver's, and a policy refusal after
 * the apiserver accepted (which still shows the username). */
static void test_refusals_not_cached(void **state)
{
	struct k8s_config *cfg = cfg_tr("", "");
	struct k8s_config *deny = cfg_tr("  denyUsernames: [\"system:serviceaccount:ns1:*\"]\n", "");
	struct k8s_identity id;
	struct k8s_err err;
	long n = reviews();
	int i;

	for (i = 0; i < 2; i++)
		refused(cfg, "bad-token-3c9e", K8S_REFUSED, "token rejected by the apiserver");
	assert_int_equal(reviews(), n + 2);

	for (i = 0; i < 2; i++) {
		assert_int_equal(validate(deny, "good-token-denied", 0, &id, &err), K8S_REFUSED);
		assert_string_equal(err.reason, "username denied by policy");
		assert_string_equal(id.username, "system:serviceaccount:ns1:sa1");
		k8s_identity_free(&id);
	}
	assert_int_equal(reviews(), n + 4);
	/* The same token under a configuration that admits it: asked afresh. */
	assert_int_equal(validate(cfg, "good-token-denied", 0, &id, &err), K8S_OK);
	k8s_identity_free(&id);
	assert_int_equal(reviews(), n + 5);
	k8s_config_free(cfg);
	k8s_config_free(deny);
}

/* The kubeconfig is read on every call: a changed one shows at once,
 * whatever the cache holds; put back, the entry answers again. */
static void test_kubeconfig_change_not_masked(void **state)
{
	char away[160];
	struct k8s_config *cfg = cfg_tr("", "");
	struct k8s_identity id;
	struct k8s_err err;
	long n = reviews();

	assert_int_equal(validate(cfg, "good-token-kc", 0, &id, &err), K8S_OK);
	k8s_identity_free(&id);
	assert_int_equal(tlssrv_kubeconfig(&srv, kubeconfig, tlssrv_dead_port(), "ok"), 0);
	refused(cfg, "good-token-kc", K8S_UNAVAILABLE, NULL);
	assert_int_equal(tlssrv_kubeconfig(&srv, kubeconfig, srv.port, "ok"), 0);
	assert_int_equal(validate(cfg, "good-token-kc", 0, &id, &err), K8S_OK);
	k8s_identity_free(&id);
	assert_int_equal(reviews(), n + 1);
	/* A missing kubeconfig: a configuration error, not a cache hit. */
	snprintf(away, sizeof(away), "%s.away", kubeconfig);
	assert_int_equal(rename(kubeconfig, away), 0);
	refused(cfg, "good-token-kc", K8S_ECONFIG, NULL);
	assert_int_equal(rename(away, kubeconfig), 0);
	assert_int_equal(reviews(), n + 1);
	k8s_config_free(cfg);
}

/* jwt only: a token is verified locally when its iss names an
 * authenticator; anything else is refused without a network call. */
static void test_dispatch_jwt_only(void **state)
{
	char yaml[1024], *other, *ours, *nopayload;
	struct k8s_config *cfg;
	int dead = tlssrv_dead_port();
	long n = reviews();

	snprintf(yaml, sizeof(yaml),
		 "jwt:\n- issuer:\n    url: https://127.0.0.1:%d\n    audiences: [\"host-login:test\"]\n"
		 "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n", dead);
	cfg = cfg_yaml(yaml);
	other = jwt_with("{\"iss\":\"https://elsewhere.test\",\"sub\":\"alice\",\"aud\":\"host-login:test\"}");
	snprintf(yaml, sizeof(yaml),
		 "{\"iss\":\"https://127.0.0.1:%d\",\"sub\":\"alice\",\"aud\":\"host-login:test\"}", dead);
	ours = jwt_with(yaml);
	nopayload = jwt_with("not json");

	refused(cfg, "good-token-opaque", K8S_REFUSED, "malformed token");
	refused(cfg, other, K8S_REFUSED, "unknown issuer");
	refused(cfg, nopayload, K8S_REFUSED, "malformed token");
	/* Its issuer cannot be reached (and no keys are cached): no answer,
	 * never an acceptance. */
	refused(cfg, ours, K8S_UNAVAILABLE, NULL);
	assert_int_equal(reviews(), n);
	free(other);
	free(ours);
	free(nopayload);
	k8s_config_free(cfg);
}

/* jwt and tokenReview: a JWT no authenticator claims, and any other
 * token, goes to TokenReview. */
static void test_dispatch_both(void **state)
{
	char jwt[512], *garbled;
	struct k8s_config *cfg;
	struct k8s_identity id;
	struct k8s_err err;
	long n = reviews();

	snprintf(jwt, sizeof(jwt),
		 "jwt:\n- issuer:\n    url: https://127.0.0.1:%d\n    audiences: [\"host-login:test\"]\n"
		 "  claimMappings:\n    username: {claim: sub, prefix: \"\"}\n", tlssrv_dead_port());
	cfg = cfg_tr("", jwt);
	garbled = jwt_with("not json");

	assert_int_equal(validate(cfg, sa_jwt, 0, &id, &err), K8S_OK);
	assert_string_equal(id.method, "tokenreview");
	assert_string_equal(id.username, "system:serviceaccount:ns1:sa1");
	/* The claims of a reviewed JWT are taken (for policy and the store). */
	assert_true(id.exp > 0);
	assert_string_equal(id.namespace_, "ns1");
	k8s_identity_free(&id);
	assert_int_equal(validate(cfg, "good-token-both", 0, &id, &err), K8S_OK);
	k8s_identity_free(&id);
	/* Not parseable as a JWT: the apiserver decides, not the dispatcher. */
	refused(cfg, garbled, K8S_REFUSED, "token rejected by the apiserver");
	assert_int_equal(reviews(), n + 3);
	free(garbled);
	k8s_config_free(cfg);
}

/* policy.allowClusterAudiences: every validation says so, a refusal too;
 * the apiserver's own URL as an audience is found at use (the loader
 * compares with the kubeconfig's server only when it can read it). */
static struct k8s_config *cfg_cluster_aud(int allow)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;
	char text[1024];
	int n;

	n = snprintf(text, sizeof(text),
		     "tokenReview:\n  kubeconfig: %s\n"
		     "  audiences: [\"%s\", \"https://127.0.0.1:%d/tr/ok\"]\n"
		     "  cacheTTL: 0s\ncacheDir: %s/cache\n"
		     "policy:\n  maxTokenLifetime: 0s\n  allowClusterAudiences: %s\n",
		     kubeconfig, allow ? "https://kubernetes.default.svc" : "host-login:test", srv.port, tmp,
		     allow ? "true" : "false");
	if (k8s_config_parse(text, (size_t)n, "validate.yaml", &cfg, &err) != K8S_OK)
		fail_msg("config refused: %s", err.detail);
	return cfg;
}

static void test_cluster_audiences(void **state)
{
	struct k8s_config *cfg = cfg_cluster_aud(1);
	struct k8s_identity id;
	struct k8s_err err;
	long n = reviews();

	assert_non_null(cfg->warning);
	assert_non_null(strstr(cfg->warning, "in-cluster name"));
	assert_int_equal(validate(cfg, "good-token-warn", 0, &id, &err), K8S_OK);
	assert_non_null(id.warning);
	assert_non_null(strstr(id.warning, cfg->warning));
	assert_non_null(strstr(id.warning, "the apiserver's URL"));
	k8s_identity_free(&id);
	assert_int_equal(validate(cfg, "bad token", 0, &id, &err), K8S_REFUSED);
	assert_null(id.username);
	assert_non_null(id.warning);
	assert_non_null(strstr(id.warning, cfg->warning));
	k8s_identity_free(&id);
	assert_int_equal(reviews(), n + 1);
	k8s_config_free(cfg);

	/* Not allowed: the configuration is refused at use, nothing is sent. */
	cfg = cfg_cluster_aud(0);
	assert_null(cfg->warning);
	assert_int_equal(validate(cfg, "good-token-warn", 0, &id, &err), K8S_ECONFIG);
	assert_non_null(strstr(err.detail, "is the apiserver's URL"));
	assert_null(id.username);
	k8s_identity_free(&id);
	assert_int_equal(reviews(), n + 1);
	k8s_config_free(cfg);
}

static int group_setup(void **state)
{
	size_t n = 0;

	snprintf(tmp, sizeof(tmp), "/tmp/k8s-validate-test.XXXXXX");
	if (mkdtemp(tmp) == NULL || tlssrv_start(&srv) != 0)
		return -1;
	snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", tmp);
	sa_jwt = tlssrv_file(&srv, "sa.jwt", &n);
	return sa_jwt != NULL && tlssrv_kubeconfig(&srv, kubeconfig, srv.port, "ok") == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	free(sa_jwt);
	tlssrv_stop(&srv);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_to_validate),
		cmocka_unit_test(test_precheck_before_network),
		cmocka_unit_test(test_review_and_cache),
		cmocka_unit_test(test_refusals_not_cached),
		cmocka_unit_test(test_kubeconfig_change_not_masked),
		cmocka_unit_test(test_dispatch_jwt_only),
		cmocka_unit_test(test_dispatch_both),
		cmocka_unit_test(test_cluster_audiences),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
