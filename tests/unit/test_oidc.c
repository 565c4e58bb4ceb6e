/* Unit tests for oidc.c.
 *
 * Group "claims": k8s_oidc_check_claims and k8s_oidc_find on tokens from
 * tests/unit/gen/jwt_fixtures.py (jwcrypto), one per rule.
 *
 * Group "issuer": k8s_oidc_authenticate_at against tests/unit/gen/
 * oidc_server.py, a local TLS issuer that counts requests.  These tests run
 * in order and share the server and the cache directory: each step moves
 * the clock (the `now` argument) and says which requests it expects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "oidc.h"
#include "util.h"
#include "gen/fixture.h"

/* ------------------------------------------------------------- shared */

static char *fxdir;
static time_t fxnow;

static char *aud_host[] = { "host-login" };
static struct k8s_claim_rule hd_rule = { .claim = "hd", .required_value = "example.com" };

/* The authenticator the claim tests use; tests change copies of it. */
static struct k8s_jwt_authenticator std_auth(void)
{
	struct k8s_jwt_authenticator a;

	memset(&a, 0, sizeof(a));
	a.issuer_url = "https://issuer.test";
	a.audiences.v = aud_host;
	a.audiences.n = 1;
	a.rules = &hd_rule;
	a.n_rules = 1;
	a.username.claim = "email";
	a.username.prefix = "";
	a.groups.claim = "groups";
	a.groups.prefix = "oidc:";
	a.uid.claim = "sub";
	return a;
}

static void parse_file(const char *dir, const char *name, struct k8s_jwt *jwt)
{
	char file[96];
	size_t len = 0;
	char *t;
	struct k8s_err err;

	snprintf(file, sizeof(file), "tok_%s.jwt", name);
	t = fx_read(dir, file, &len);
	if (t == NULL)
		fail_msg("no fixture %s", file);
	if (k8s_jwt_parse(t, len, jwt, &err) != K8S_OK)
		fail_msg("%s does not parse: %s", name, err.detail);
	k8s_freezero(t, len);
}

static int claims_at(const struct k8s_jwt_authenticator *a, const char *name, time_t now,
		     struct k8s_identity *id, struct k8s_err *err)
{
	struct k8s_jwt jwt;
	int r;

	parse_file(fxdir, name, &jwt);
	k8s_err_clear(err);
	r = k8s_oidc_check_claims(a, &jwt, now, id, err);
	k8s_jwt_free(&jwt);
	if (r != K8S_OK) {
		assert_null(id->username);
		assert_null(id->groups);
		assert_null(id->issuer);
	}
	return r;
}

/* Status and reason of the claim checks on tok_c_<name>. */
static void expect_claims(const struct k8s_jwt_authenticator *a, const char *name, time_t now,
			  int status, const char *reason)
{
	struct k8s_identity id;
	struct k8s_err err;
	char tname[64];
	int r;

	snprintf(tname, sizeof(tname), "c_%s", name);
	r = claims_at(a, tname, now, &id, &err);
	if (r != status || (reason != NULL && strcmp(err.reason, reason) != 0))
		fail_msg("%s: got %d \"%s\" (%s), want %d \"%s\"", name, r, err.reason, err.detail,
			 status, reason ? reason : "");
	k8s_identity_free(&id);
}

static int claims_setup(void **state)
{
	char *now;

	fxdir = fx_generate("jwt_fixtures.py");
	if (fxdir == NULL)
		return -1;
	now = fx_read(fxdir, "now", NULL);
	fxnow = now != NULL ? (time_t)strtoll(now, NULL, 10) : 0;
	free(now);
	return fxnow > 0 ? 0 : -1;
}

static int claims_teardown(void **state)
{
	fx_rmrf(fxdir);
	free(fxdir);
	return 0;
}

/* --------------------------------------------------------------- claims */

static void test_identity_filled(void **state)
{
	struct k8s_jwt_authenticator a = std_auth();
	struct k8s_identity id;
	struct k8s_err err;

	assert_int_equal(claims_at(&a, "c_ok", fxnow, &id, &err), K8S_OK);
	assert_string_equal(id.method, "jwt");
	assert_string_equal(id.issuer, "https://issuer.test");
	assert_string_equal(id.subject, "user-1");
	assert_string_equal(id.username, "alice@example.com");
	assert_string_equal(id.uid, "user-1");
	assert_int_equal(id.n_groups, 2);
	assert_string_equal(id.groups[0], "oidc:dev");
	assert_string_equal(id.groups[1], "oidc:ops");
	assert_true(json_is_object(id.extra));
	assert_int_equal(json_object_size(id.extra), 0);
	assert_int_equal(id.exp, fxnow + 3600);
	assert_int_equal(id.iat, fxnow - 10);
	assert_int_equal(id.nbf, fxnow - 10);
	k8s_identity_free(&id);

	/* Truncated times reach the identity. */
	assert_int_equal(claims_at(&a, "c_exp_frac", fxnow, &id, &err), K8S_OK);
	assert_int_equal(id.exp, fxnow + 3600);
	k8s_identity_free(&id);
	assert_int_equal(claims_at(&a, "c_iat_frac", fxnow, &id, &err), K8S_OK);
	assert_int_equal(id.iat, 1500000000);
	k8s_identity_free(&id);
	assert_int_equal(claims_at(&a, "c_exp_2p62", fxnow, &id, &err), K8S_OK);
	assert_int_equal(id.exp, (time_t)1 << 62);
	k8s_identity_free(&id);

	/* The kubernetes.io binding claims reach the identity. */
	assert_int_equal(claims_at(&a, "c_sa", fxnow, &id, &err), K8S_OK);
	assert_string_equal(id.namespace_, "ops");
	assert_string_equal(id.sa_name, "alice");
	assert_string_equal(id.sa_uid, "u-1");
	assert_string_equal(id.pod_name, "p");
	k8s_identity_free(&id);
}

static void test_find_by_issuer(void **state)
{
	struct k8s_jwt_authenticator auths[2] = { std_auth(), std_auth() };
	struct k8s_config cfg;
	struct k8s_jwt jwt;

	memset(&cfg, 0, sizeof(cfg));
	auths[0].issuer_url = "https://other.test";
	cfg.jwt = auths;
	cfg.n_jwt = 2;
	parse_file(fxdir, "c_ok", &jwt);
	assert_ptr_equal(k8s_oidc_find(&cfg, &jwt), &auths[1]);
	k8s_jwt_free(&jwt);
	parse_file(fxdir, "c_iss_slash", &jwt); /* exact match only */
	assert_null(k8s_oidc_find(&cfg, &jwt));
	k8s_jwt_free(&jwt);
	parse_file(fxdir, "c_no_iss", &jwt);
	assert_null(k8s_oidc_find(&cfg, &jwt));
	assert_null(k8s_oidc_find(NULL, &jwt));
	k8s_jwt_free(&jwt);
}

static void test_issuer(void **state)
{
	struct k8s_jwt_authenticator a = std_auth();

	expect_claims(&a, "iss_other", fxnow, K8S_REFUSED, "issuer mismatch");
	expect_claims(&a, "iss_slash", fxnow, K8S_REFUSED, "issuer mismatch");
	expect_claims(&a, "no_iss", fxnow, K8S_REFUSED, "issuer mismatch");
}

static void test_expiry(void **state)
{
	struct k8s_jwt_authenticator a = std_auth();

	expect_claims(&a, "ok", fxnow + 3599, K8S_OK, NULL);
	expect_claims(&a, "ok", fxnow + 3600, K8S_REFUSED, "token expired"); /* now == exp */
	expect_claims(&a, "exp_now", fxnow, K8S_REFUSED, "token expired");
	expect_claims(&a, "exp_past", fxnow, K8S_REFUSED, "token expired");
	expect_claims(&a, "exp_next", fxnow, K8S_OK, NULL);
	/* Non-integral NumericDates are truncated, as go-oidc does: NOW + 0.5
	 * is NOW, expired at NOW. */
	expect_claims(&a, "exp_real", fxnow - 1, K8S_OK, NULL);
	expect_claims(&a, "exp_real", fxnow, K8S_REFUSED, "token expired");
	expect_claims(&a, "exp_frac", fxnow + 3599, K8S_OK, NULL);
	expect_claims(&a, "exp_frac", fxnow + 3600, K8S_REFUSED, "token expired");
	expect_claims(&a, "exp_neg_half", fxnow, K8S_REFUSED, "token expired");
	expect_claims(&a, "exp_2p62", fxnow, K8S_OK, NULL);
	/* Outside time_t (undefined behaviour to convert): refused. */
	expect_claims(&a, "exp_1e300", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "exp_neg_1e300", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "exp_2p63", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "iat_1e300", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "iat_neg_1e300", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "nbf_1e300", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "nbf_neg_1e300", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "no_exp", fxnow, K8S_REFUSED, "malformed token");
	/* go-oidc reads NumericDates through json.Number: a quoted number is
	 * that number, any other string refuses. */
	expect_claims(&a, "exp_str", fxnow, K8S_OK, NULL);
	expect_claims(&a, "exp_str_real", fxnow, K8S_OK, NULL);
	expect_claims(&a, "exp_str_past", fxnow, K8S_REFUSED, NULL);
	expect_claims(&a, "exp_str_junk", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "exp_str_space", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "exp_null", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "iat_null", fxnow, K8S_REFUSED, "malformed token");
	/* nbf decodes through a pointer there: null is no nbf. */
	expect_claims(&a, "nbf_null", fxnow, K8S_OK, NULL);
	expect_claims(&a, "nbf_str_future", fxnow, K8S_REFUSED, "token not yet valid");
}

static void test_not_before(void **state)
{
	struct k8s_jwt_authenticator a = std_auth();

	expect_claims(&a, "nbf_61", fxnow, K8S_REFUSED, "token not yet valid");
	expect_claims(&a, "nbf_61", fxnow + 1, K8S_OK, NULL);
	expect_claims(&a, "nbf_60", fxnow, K8S_OK, NULL);
	expect_claims(&a, "nbf_frac", fxnow, K8S_OK, NULL); /* NOW + 60.9 is NOW + 60 */
	expect_claims(&a, "no_nbf", fxnow, K8S_OK, NULL);
	expect_claims(&a, "nbf_str", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "iat_str", fxnow, K8S_REFUSED, "malformed token");
}

static void test_audience(void **state)
{
	static char *any_host[] = { "a1", "host-login" }, *any_a[] = { "a1", "a2" };
	struct k8s_jwt_authenticator a = std_auth();

	expect_claims(&a, "ok", fxnow, K8S_OK, NULL);          /* aud as a string */
	expect_claims(&a, "aud_arr", fxnow, K8S_OK, NULL);     /* ... in an array */
	expect_claims(&a, "aud_wrong", fxnow, K8S_REFUSED, "wrong audience");
	expect_claims(&a, "aud_arr_wrong", fxnow, K8S_REFUSED, "wrong audience");
	expect_claims(&a, "no_aud", fxnow, K8S_REFUSED, "wrong audience");
	expect_claims(&a, "aud_num", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "aud_arr_mixed", fxnow, K8S_REFUSED, "malformed token");

	a.audiences.v = any_host;
	a.audiences.n = 2;
	a.audience_match_policy = "MatchAny";
	expect_claims(&a, "ok", fxnow, K8S_OK, NULL);
	a.audiences.v = any_a;
	expect_claims(&a, "aud_a2", fxnow, K8S_OK, NULL);
	expect_claims(&a, "ok", fxnow, K8S_REFUSED, "wrong audience");
	/* Several audiences without MatchAny, or none: the config is broken. */
	a.audience_match_policy = NULL;
	expect_claims(&a, "aud_a2", fxnow, K8S_ECONFIG, NULL);
	a.audience_match_policy = "MatchAll";
	expect_claims(&a, "aud_a2", fxnow, K8S_ECONFIG, NULL);
	a.audiences.n = 0;
	expect_claims(&a, "ok", fxnow, K8S_ECONFIG, NULL);
}

static void test_claim_rules(void **state)
{
	struct k8s_jwt_authenticator a = std_auth();

	expect_claims(&a, "hd_missing", fxnow, K8S_REFUSED, "claim validation failed");
	expect_claims(&a, "hd_wrong", fxnow, K8S_REFUSED, "claim validation failed");
	expect_claims(&a, "hd_num", fxnow, K8S_REFUSED, "claim validation failed");
	a.n_rules = 0;
	expect_claims(&a, "hd_missing", fxnow, K8S_OK, NULL);
}

static void test_username(void **state)
{
	struct k8s_jwt_authenticator a = std_auth();
	struct k8s_identity id;
	struct k8s_err err;

	expect_claims(&a, "email_unverified", fxnow, K8S_REFUSED, "email not verified");
	expect_claims(&a, "email_verified_str", fxnow, K8S_REFUSED, "email not verified");
	expect_claims(&a, "email_noverified", fxnow, K8S_OK, NULL);
	expect_claims(&a, "email_empty", fxnow, K8S_REFUSED, "empty username");
	expect_claims(&a, "email_num", fxnow, K8S_REFUSED, "bad username claim");
	expect_claims(&a, "no_email", fxnow, K8S_REFUSED, "bad username claim");
	/* A prefix does not make an empty claim a username. */
	a.username.prefix = "oidc:";
	expect_claims(&a, "email_empty", fxnow, K8S_REFUSED, "empty username");
	assert_int_equal(claims_at(&a, "c_ok", fxnow, &id, &err), K8S_OK);
	assert_string_equal(id.username, "oidc:alice@example.com");
	k8s_identity_free(&id);
	/* email_verified matters only when the username is the email. */
	a.username.claim = "sub";
	a.username.prefix = NULL;
	assert_int_equal(claims_at(&a, "c_email_unverified", fxnow, &id, &err), K8S_OK);
	assert_string_equal(id.username, "user-1");
	k8s_identity_free(&id);
	a.username.claim = NULL;
	expect_claims(&a, "ok", fxnow, K8S_ECONFIG, NULL);
}

static void test_groups_and_uid(void **state)
{
	struct k8s_jwt_authenticator a = std_auth();
	struct k8s_identity id;
	struct k8s_err err;

	assert_int_equal(claims_at(&a, "c_groups_str", fxnow, &id, &err), K8S_OK);
	assert_int_equal(id.n_groups, 1);
	assert_string_equal(id.groups[0], "oidc:admins");
	k8s_identity_free(&id);
	/* Empty names are kept, and a null member is "", as the apiserver
	 * decodes them. */
	assert_int_equal(claims_at(&a, "c_groups_empty_member", fxnow, &id, &err), K8S_OK);
	assert_int_equal(id.n_groups, 2);
	assert_string_equal(id.groups[0], "oidc:");
	assert_string_equal(id.groups[1], "oidc:x");
	k8s_identity_free(&id);
	assert_int_equal(claims_at(&a, "c_groups_null_member", fxnow, &id, &err), K8S_OK);
	assert_int_equal(id.n_groups, 2);
	assert_string_equal(id.groups[1], "oidc:");
	k8s_identity_free(&id);
	assert_int_equal(claims_at(&a, "c_groups_empty_str", fxnow, &id, &err), K8S_OK);
	assert_int_equal(id.n_groups, 1);
	assert_string_equal(id.groups[0], "oidc:");
	k8s_identity_free(&id);
	assert_int_equal(claims_at(&a, "c_groups_null", fxnow, &id, &err), K8S_OK);
	assert_int_equal(id.n_groups, 0);
	k8s_identity_free(&id);
	assert_int_equal(claims_at(&a, "c_no_groups", fxnow, &id, &err), K8S_OK);
	assert_int_equal(id.n_groups, 0);
	k8s_identity_free(&id);
	expect_claims(&a, "groups_num", fxnow, K8S_REFUSED, "bad groups claim");
	expect_claims(&a, "groups_mixed", fxnow, K8S_REFUSED, "bad groups claim");

	/* Typed fields of go-oidc's ID token; names that Go would read as them. */
	expect_claims(&a, "nonce_num", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "nonce_null", fxnow, K8S_OK, NULL);
	expect_claims(&a, "at_hash_num", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "EXP_case", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "Iss_case", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "long_s_sub", fxnow, K8S_REFUSED, "malformed token");
	/* Distributed claims: checked as go-oidc does, a groups claim from an
	 * endpoint refused (not resolved), never read as no groups. */
	expect_claims(&a, "dist_groups", fxnow, K8S_REFUSED, "unsupported token");
	expect_claims(&a, "dist_groups_present", fxnow, K8S_OK, NULL);
	expect_claims(&a, "dist_no_sources", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "dist_source_missing", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "dist_names_array", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "dist_endpoint_num", fxnow, K8S_REFUSED, "malformed token");
	expect_claims(&a, "dist_aggregated", fxnow, K8S_OK, NULL);
	expect_claims(&a, "dist_other_claim", fxnow, K8S_OK, NULL);

	expect_claims(&a, "no_sub", fxnow, K8S_REFUSED, "bad uid claim");
	expect_claims(&a, "sub_num", fxnow, K8S_REFUSED, "malformed token");
	a.uid.claim = NULL;
	expect_claims(&a, "sub_null", fxnow, K8S_OK, NULL);
	a.uid.claim = NULL;
	a.groups.claim = NULL;
	assert_int_equal(claims_at(&a, "c_no_sub", fxnow, &id, &err), K8S_OK);
	assert_null(id.uid);
	assert_null(id.subject);
	assert_int_equal(id.n_groups, 0);
	k8s_identity_free(&id);
}

/* --------------------------------------------------------------- issuer */

static char *srvdir, *srv_ca, *srv_issuer, *cachedir;
static pid_t srv_pid = -1;
static int srv_in = -1;
static time_t t0;
static char base_url[64];

static int server_start(void)
{
	char line[64];
	int in[2], out[2], port = 0;
	FILE *f;

	srvdir = strdup("/tmp/k8s-oidc-XXXXXX");
	if (srvdir == NULL || mkdtemp(srvdir) == NULL || pipe(in) != 0 || pipe(out) != 0)
		return -1;
	srv_pid = fork();
	if (srv_pid == 0) {
		char *script = fx_script("oidc_server.py");

		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(fx_python(), fx_python(), script, srvdir, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	srv_in = in[1];
	f = fdopen(out[0], "r");
	if (srv_pid < 0 || f == NULL || fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "READY %d", &port) != 1) {
		fprintf(stderr, "oidc_server.py did not start\n");
		return -1;
	}
	fclose(f);
	snprintf(base_url, sizeof(base_url), "https://127.0.0.1:%d", port);
	return 0;
}

static void server_stop(void)
{
	if (srv_in >= 0)
		close(srv_in);
	srv_in = -1;
	if (srv_pid > 0)
		waitpid(srv_pid, NULL, 0);
	srv_pid = -1;
}

static int issuer_setup(void **state)
{
	char *now;

	alarm(240); /* a hung server must not hang the suite */
	if (server_start() != 0)
		return -1;
	srv_ca = fx_read(srvdir, "ca.pem", NULL);
	srv_issuer = fx_read(srvdir, "issuer", NULL);
	now = fx_read(srvdir, "now", NULL);
	cachedir = strdup("/tmp/k8s-cache-XXXXXX");
	if (srv_ca == NULL || srv_issuer == NULL || now == NULL || cachedir == NULL ||
	    mkdtemp(cachedir) == NULL)
		return -1;
	t0 = (time_t)strtoll(now, NULL, 10);
	free(now);
	return 0;
}

static int issuer_teardown(void **state)
{
	server_stop();
	fx_rmrf(srvdir);
	fx_rmrf(cachedir);
	free(srvdir);
	free(cachedir);
	free(srv_ca);
	free(srv_issuer);
	alarm(0);
	return 0;
}

/* An authenticator for base_url/<path> trusting the server's CA. */
static struct k8s_jwt_authenticator issuer_auth(const char *path, char *buf, size_t n)
{
	struct k8s_jwt_authenticator a;

	memset(&a, 0, sizeof(a));
	snprintf(buf, n, "%s/%s", base_url, path);
	a.issuer_url = buf;
	a.audiences.v = aud_host;
	a.audiences.n = 1;
	a.ca_pem = srv_ca;
	a.username.claim = "sub";
	a.username.prefix = "";
	return a;
}

static struct k8s_config issuer_cfg(struct k8s_jwt_authenticator *a, char *cache)
{
	struct k8s_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.jwt = a;
	cfg.n_jwt = 1;
	cfg.cache_dir = cache;
	cfg.jwt_timeout_ms = 5000;
	cfg.jwks_max_stale_ms = 2 * 3600 * 1000;
	return cfg;
}

/* The warning of the last auth_at ("" for none). */
static char last_warning[2048];

static int auth_at(const char *path, const char *tok, time_t now, struct k8s_err *err)
{
	char url[128];
	struct k8s_jwt_authenticator a = issuer_auth(path, url, sizeof(url));
	struct k8s_config cfg = issuer_cfg(&a, cachedir);
	struct k8s_identity id;
	struct k8s_jwt jwt;
	int r;

	parse_file(srvdir, tok, &jwt);
	assert_ptr_equal(k8s_oidc_find(&cfg, &jwt), &a);
	k8s_err_clear(err);
	r = k8s_oidc_authenticate_at(&cfg, &a, &jwt, now, &id, err);
	if (r == K8S_OK) {
		assert_string_equal(id.issuer, url);
		assert_non_null(strstr(id.username, "user-"));
	}
	snprintf(last_warning, sizeof(last_warning), "%s", id.warning ? id.warning : "");
	k8s_identity_free(&id);
	k8s_jwt_free(&jwt);
	return r;
}

static void expect_auth(const char *path, const char *tok, time_t now, int status, const char *reason)
{
	struct k8s_err err;
	int r = auth_at(path, tok, now, &err);

	if (r != status || (reason != NULL && strcmp(err.reason, reason) != 0))
		fail_msg("%s at t0+%lld: got %d \"%s\" (%s), want %d \"%s\"", tok,
			 (long long)(now - t0), r, err.reason, err.detail, status, reason ? reason : "");
}

/* Requests the server has answered for path ("disc" or "jwks" of issuer name). */
static long count(const char *issuer, const char *what)
{
	char *text = fx_read(srvdir, "counts.json", NULL), key[96];
	json_t *c = text != NULL ? json_loads(text, 0, NULL) : NULL;
	long n;

	snprintf(key, sizeof(key), "/%s/%s", issuer,
		 strcmp(what, "disc") == 0 ? ".well-known/openid-configuration" : "jwks");
	n = (long)json_integer_value(json_object_get(c, key));
	json_decref(c);
	free(text);
	return n;
}

static void expect_counts(long disc, long jwks)
{
	assert_int_equal(count("good", "disc"), disc);
	assert_int_equal(count("good", "jwks"), jwks);
}

/* The good issuer's cache file: SHA-256 of the format, the issuer, the
 * discovery URL and the CA (its SHA-256), as oidc.c documents. */
static char *cache_file(void)
{
	char hex[65], ca[65], *path = NULL, *in = NULL;
	int n;

	k8s_sha256_hex(srv_ca, strlen(srv_ca), ca);
	n = asprintf(&in, "pam-k8s jwks v2%c%s%c%s/.well-known/openid-configuration%c%s", 0, srv_issuer,
		     0, srv_issuer, 0, ca);
	if (n < 0)
		return NULL;
	k8s_sha256_hex(in, (size_t)n, hex);
	free(in);
	if (asprintf(&path, "%s/jwks/%s.json", cachedir, hex) < 0)
		return NULL;
	return path;
}

/* Where version 1 kept the good issuer's keys: SHA-256(issuer URL). */
static char *cache_file_v1(void)
{
	char hex[65], *path = NULL;

	k8s_sha256_hex(srv_issuer, strlen(srv_issuer), hex);
	if (asprintf(&path, "%s/jwks/%s.json", cachedir, hex) < 0)
		return NULL;
	return path;
}

static void touch(const char *name, int on)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", srvdir, name);
	if (!on) {
		unlink(path);
		return;
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

static void test_first_call_fetches_once(void **state)
{
	struct stat st;
	char *path = cache_file(), *v1 = cache_file_v1(), *text, dir[200];
	json_t *doc;
	FILE *f;

	/* A version 1 file of this issuer (keyed on its URL alone), as an
	 * older pam-k8s left it: never read, removed at the first write. */
	snprintf(dir, sizeof(dir), "%s/jwks", cachedir);
	assert_int_equal(mkdir(dir, 0700), 0);
	f = fopen(v1, "w");
	assert_non_null(f);
	fprintf(f, "{\"version\":1,\"issuer\":\"%s\"}", srv_issuer);
	fclose(f);
	expect_counts(0, 0);
	expect_auth("good", "k1", t0, K8S_OK, NULL);
	expect_counts(1, 1);
	assert_string_equal(last_warning, "");
	assert_int_equal(access(v1, F_OK), -1);
	free(v1);
	/* The cache: root-only directory, private file, what was fetched. */
	snprintf(dir, sizeof(dir), "%s/jwks", cachedir);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	text = fx_read("/", path + 1, NULL);
	doc = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	assert_string_equal(json_string_value(json_object_get(doc, "issuer")), srv_issuer);
	assert_int_equal(json_integer_value(json_object_get(doc, "fetched_at")), t0);
	assert_true(json_is_array(json_object_get(json_object_get(doc, "jwks"), "keys")));
	assert_true(json_is_object(json_object_get(doc, "discovery")));
	k8s_sha256_hex(srv_ca, strlen(srv_ca), dir);
	assert_string_equal(json_string_value(json_object_get(doc, "trust")), dir);
	json_decref(doc);
	free(text);
	free(path);
}

static void test_second_call_uses_cache(void **state)
{
	expect_auth("good", "k1", t0 + 5, K8S_OK, NULL);
	expect_auth("good", "k1", t0 + K8S_JWKS_FRESH_S - 1, K8S_OK, NULL);
	expect_counts(1, 1);
	assert_string_equal(last_warning, "");
}

/* Issue 10.1: keys fetched under one certificateAuthority are not served
 * under another, or under none (the system store, which does not know the
 * test CA): each configuration fetches under its own trust. */
static void test_ca_change_not_served_from_cache(void **state)
{
	char url[128], *other = fx_read(srvdir, "server-expired.pem", NULL);
	struct k8s_jwt_authenticator a = issuer_auth("good", url, sizeof(url));
	struct k8s_config cfg = issuer_cfg(&a, cachedir);
	const char *cas[2] = { NULL, other };
	struct k8s_identity id;
	struct k8s_jwt jwt;
	struct k8s_err err;
	int i;

	assert_non_null(other);
	parse_file(srvdir, "k1", &jwt);
	for (i = 0; i < 2; i++) {
		a.ca_pem = (char *)cas[i];
		/* t0 + 7: the good CA's keys are fresh in the same cache dir */
		assert_int_equal(k8s_oidc_authenticate_at(&cfg, &a, &jwt, t0 + 7, &id, &err),
				 K8S_UNAVAILABLE);
		assert_non_null(strstr(err.detail, "TLS verification failed"));
		assert_null(id.username);
		k8s_identity_free(&id);
	}
	/* and the good CA's keys are still there for the configuration with it */
	a.ca_pem = srv_ca;
	assert_int_equal(k8s_oidc_authenticate_at(&cfg, &a, &jwt, t0 + 8, &id, &err), K8S_OK);
	k8s_identity_free(&id);
	k8s_jwt_free(&jwt);
	free(other);
	expect_counts(1, 1);
}

static void test_unknown_kid_refetch_rate_limited(void **state)
{
	struct k8s_err err;

	/* Within 10 s of the fetch: refused, no request. */
	expect_auth("good", "random", t0 + 6, K8S_REFUSED, K8S_REASON_UNKNOWN_KEY);
	expect_counts(1, 1);
	/* Later: one refetch, still unknown. */
	expect_auth("good", "random", t0 + 20, K8S_REFUSED, K8S_REASON_UNKNOWN_KEY);
	expect_counts(2, 2);
	/* And not again within 10 s of that attempt, whatever the kid. */
	assert_int_equal(auth_at("good", "random", t0 + 25, &err), K8S_REFUSED);
	assert_int_equal(auth_at("good", "k2", t0 + 29, &err), K8S_REFUSED);
	assert_string_equal(err.reason, K8S_REASON_UNKNOWN_KEY);
	expect_counts(2, 2);
}

static void test_rotated_key_found_by_refetch(void **state)
{
	touch("rotate", 1);
	expect_auth("good", "k2", t0 + 40, K8S_OK, NULL);
	expect_counts(3, 3);
	expect_auth("good", "k2", t0 + 41, K8S_OK, NULL);
	expect_auth("good", "k1", t0 + 42, K8S_OK, NULL);
	expect_counts(3, 3);
}

/* A key rotated in place (same kid, new key): the signature fails with
 * the cached key, so the keys are refetched (rate-limited as for an
 * unknown kid), as go-oidc does; the replaced key stops verifying. */
static void test_key_rotated_in_place(void **state)
{
	time_t t = t0 + 60;
	long j = count("good", "jwks");
	static char dir[256];
	char *saved = cachedir;

	/* its own cache directory: the other tests' cache stays as it is */
	snprintf(dir, sizeof(dir), "%s/rotation-cache-XXXXXX", srvdir);
	assert_non_null(mkdtemp(dir));
	cachedir = dir;
	touch("fail", 0);
	touch("expired", 0);
	touch("replace", 1);
	expect_auth("good", "k1", t, K8S_REFUSED, "bad signature"); /* old keys, fetched now */
	assert_int_equal(count("good", "jwks"), j + 1);
	expect_auth("good", "k1_new", t + 1, K8S_OK, NULL);
	touch("replace", 0);
	/* back to the first key: within 10 s of the fetch, no refetch yet */
	expect_auth("good", "k1", t + 3, K8S_REFUSED, "bad signature");
	assert_int_equal(count("good", "jwks"), j + 1);
	expect_auth("good", "k1", t + 15, K8S_OK, NULL);
	assert_int_equal(count("good", "jwks"), j + 2);
	expect_auth("good", "k1_new", t + 16, K8S_REFUSED, "bad signature");
	cachedir = saved;
	touch("fail", 1); /* as test_probe_fetches_fresh_without_cache left it */
}

static void test_corrupt_cache_replaced(void **state)
{
	char *path = cache_file(), *text;
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("{\"version\":1,", f);
	fclose(f);
	expect_auth("good", "k2", t0 + 50, K8S_OK, NULL);
	expect_counts(4, 4);
	text = fx_read("/", path + 1, NULL);
	assert_non_null(strstr(text, "\"fetched_at\""));
	free(text);
	free(path);
	expect_auth("good", "k2", t0 + 51, K8S_OK, NULL);
	expect_counts(4, 4);
}

static void test_old_cache_refetched(void **state)
{
	expect_auth("good", "k2", t0 + 50 + K8S_JWKS_FRESH_S, K8S_OK, NULL);
	expect_counts(5, 5);
}

static void test_failed_refresh_for_unknown_kid(void **state)
{
	time_t t = t0 + 50 + K8S_JWKS_FRESH_S;
	struct k8s_err err;

	touch("fail", 1);
	assert_int_equal(auth_at("good", "random", t + 30, &err), K8S_UNAVAILABLE);
	assert_non_null(strstr(err.detail, "refreshing them failed"));
	assert_non_null(strstr(err.detail, "503"));
	expect_counts(6, 5);
	expect_auth("good", "random", t + 35, K8S_REFUSED, K8S_REASON_UNKNOWN_KEY);
	expect_counts(6, 5);
	/* Known keys keep working meanwhile. */
	expect_auth("good", "k1", t + 36, K8S_OK, NULL);
	expect_counts(6, 5);
}

static void test_stale_cache_on_issuer_error(void **state)
{
	time_t fetched = t0 + 50 + K8S_JWKS_FRESH_S;

	/* Expired cache, issuer answering 503: stale keys serve, with a warning
	 * naming the issuer, their age and why... */
	expect_auth("good", "k1", fetched + K8S_JWKS_FRESH_S + 1, K8S_OK, NULL);
	expect_counts(7, 5);
	assert_non_null(strstr(last_warning, srv_issuer));
	assert_non_null(strstr(last_warning, "using cached keys fetched 3601 s ago"));
	assert_non_null(strstr(last_warning, "503"));
	/* ...and a login moments later does not wait for the issuer again
	 * (but says so too). */
	expect_auth("good", "k1", fetched + K8S_JWKS_FRESH_S + 5, K8S_OK, NULL);
	expect_counts(7, 5);
	assert_non_null(strstr(last_warning, "using cached keys fetched 3605 s ago"));
	assert_non_null(strstr(last_warning, "the last attempt, 4 s ago"));
}

/* A refetch that fails TLS verification (here the issuer's certificate
 * expired, which is what a clock days ahead sees) is no outage: stale keys
 * do not serve, not even within the 10 s after the attempt. */
static void test_stale_not_after_tls_failure(void **state)
{
	time_t t = t0 + 50 + 2 * K8S_JWKS_FRESH_S;
	struct k8s_err err;

	touch("expired", 1);
	assert_int_equal(auth_at("good", "k1", t + 20, &err), K8S_UNAVAILABLE);
	assert_non_null(strstr(err.detail, "TLS verification failed"));
	assert_non_null(strstr(err.detail, "not used after a TLS verification failure"));
	assert_int_equal(auth_at("good", "k1", t + 22, &err), K8S_UNAVAILABLE);
	assert_non_null(strstr(err.detail, "TLS verification failed"));
	/* The issuer back (still 503): an outage again, stale keys serve. */
	touch("expired", 0);
	expect_auth("good", "k1", t + 40, K8S_OK, NULL);
	assert_non_null(strstr(last_warning, "503"));
}

/* Keys whose fetch time lies in the future (the clock was set back) have
 * no known age: never fresh, never served stale. */
static void test_keys_from_the_future_not_stale(void **state)
{
	time_t fetched = t0 + 50 + K8S_JWKS_FRESH_S;
	struct k8s_err err;

	assert_int_equal(auth_at("good", "k1", fetched - 301, &err), K8S_UNAVAILABLE);
	assert_non_null(strstr(err.detail, "503"));
	expect_auth("good", "k1", fetched - 299, K8S_OK, NULL);
	assert_string_equal(last_warning, "");
}

/* k8s-auth status: one discovery and one JWKS request, the same checks,
 * and the cache neither read (it holds keys) nor written. */
static void test_probe_fetches_fresh_without_cache(void **state)
{
	char url[128], *path = cache_file(), *before, *after;
	struct k8s_jwt_authenticator a = issuer_auth("good", url, sizeof(url));
	struct k8s_config cfg = issuer_cfg(&a, cachedir);
	struct k8s_oidc_probe p;
	struct k8s_err err;
	long disc = count("good", "disc"), jwks = count("good", "jwks");
	char *issuer;
	const char *name;
	int dfd;

	before = fx_read("/", path + 1, NULL);
	assert_non_null(before);
	touch("fail", 0);
	k8s_err_clear(&err);
	assert_int_equal(k8s_oidc_probe(&cfg, &a, &p, &err), K8S_OK);
	expect_counts(disc + 1, jwks + 1);
	assert_true(p.n_keys >= 1);
	assert_non_null(strstr(p.discovery_url, "/good/.well-known/openid-configuration"));
	assert_non_null(strstr(p.jwks_uri, "/good/jwks"));
	assert_int_equal(p.untrusted, 0);
	assert_true(p.date >= time(NULL) - 5 && p.date <= time(NULL) + 5); /* its Date header */
	/* the issuer failing: unavailable, whatever the cache holds */
	touch("fail", 1);
	assert_int_equal(k8s_oidc_probe(&cfg, &a, &p, &err), K8S_UNAVAILABLE);
	assert_non_null(strstr(err.detail, "503"));
	assert_int_equal(p.n_keys, 0);
	expect_counts(disc + 2, jwks + 1);
	after = fx_read("/", path + 1, NULL);
	assert_non_null(after);
	assert_string_equal(before, after);
	/* a TLS failure says so */
	a.ca_pem = NULL;
	assert_int_equal(k8s_oidc_probe(&cfg, &a, &p, &err), K8S_UNAVAILABLE);
	assert_int_equal(p.untrusted, 1);
	/* the cache file names its issuer (k8s-auth cache clear prints it) */
	name = strrchr(path, '/') + 1;
	snprintf(url, sizeof(url), "%s/jwks", cachedir);
	dfd = open(url, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	issuer = k8s_oidc_cache_file_issuer(dfd, name);
	assert_non_null(issuer);
	assert_string_equal(issuer, srv_issuer);
	free(issuer);
	assert_null(k8s_oidc_cache_file_issuer(dfd, "0000000000000000000000000000000000000000000000000000000000000000.json"));
	close(dfd);
	free(before);
	free(after);
	free(path);
}

static void test_stale_cache_when_server_down(void **state)
{
	time_t fetched = t0 + 50 + K8S_JWKS_FRESH_S;
	struct k8s_err err;

	server_stop();
	expect_auth("good", "k2", fetched + K8S_JWKS_FRESH_S + 60, K8S_OK, NULL);
	assert_non_null(strstr(last_warning, "using cached keys"));
	/* Up to jwksMaxStale (2 h here), then unavailable, naming the issuer. */
	expect_auth("good", "k2", fetched + 2 * 3600, K8S_OK, NULL);
	assert_int_equal(auth_at("good", "k2", fetched + 2 * 3600 + 1, &err), K8S_UNAVAILABLE);
	assert_non_null(strstr(err.detail, srv_issuer));
	assert_non_null(strstr(err.detail, "beyond jwtOptions.maxStaleness"));
}

static void test_issuer_mismatch_in_discovery(void **state)
{
	char path[200];
	struct k8s_err err;

	assert_int_equal(auth_at("bad", "bad", t0, &err), K8S_UNAVAILABLE);
	assert_non_null(strstr(err.detail, "names another issuer"));
	assert_int_equal(count("bad", "disc"), 1);
	expect_counts(1, 1); /* the good issuer's JWKS was not fetched for it */
	snprintf(path, sizeof(path), "%s/jwks", cachedir);
	/* Nothing cached for it: the next call asks again. */
	assert_int_equal(auth_at("bad", "bad", t0 + 1, &err), K8S_UNAVAILABLE);
	assert_int_equal(count("bad", "disc"), 2);
}

static void test_jwks_uri_must_be_https(void **state)
{
	struct k8s_err err;

	assert_int_equal(auth_at("plain", "plain", t0, &err), K8S_UNAVAILABLE);
	assert_non_null(strstr(err.detail, "https jwks_uri"));
}

static void test_private_key_in_jwks_refused(void **state)
{
	struct k8s_err err;

	assert_int_equal(auth_at("private", "private", t0, &err), K8S_UNAVAILABLE);
	assert_non_null(strstr(err.detail, "private key material"));
}

static void test_tls_verified(void **state)
{
	char url[128], *cache2 = strdup("/tmp/k8s-cache-XXXXXX");
	struct k8s_jwt_authenticator a = issuer_auth("good", url, sizeof(url));
	struct k8s_config cfg;
	struct k8s_identity id;
	struct k8s_jwt jwt;
	struct k8s_err err;

	assert_non_null(mkdtemp(cache2));
	cfg = issuer_cfg(&a, cache2);
	a.ca_pem = NULL; /* system trust store: does not know the test CA */
	parse_file(srvdir, "k1", &jwt);
	assert_int_equal(k8s_oidc_authenticate_at(&cfg, &a, &jwt, t0, &id, &err), K8S_UNAVAILABLE);
	assert_non_null(strstr(err.detail, url));
	k8s_jwt_free(&jwt);
	fx_rmrf(cache2);
	free(cache2);
}

int main(void)
{
	const struct CMUnitTest claims[] = {
		cmocka_unit_test(test_identity_filled),
		cmocka_unit_test(test_find_by_issuer),
		cmocka_unit_test(test_issuer),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_not_before),
		cmocka_unit_test(test_audience),
		cmocka_unit_test(test_claim_rules),
		cmocka_unit_test(test_username),
		cmocka_unit_test(test_groups_and_uid),
	};
	/* In order: each step builds on the cache and counts of the previous. */
	const struct CMUnitTest issuer[] = {
		cmocka_unit_test(test_first_call_fetches_once),
		cmocka_unit_test(test_issuer_mismatch_in_discovery),
		cmocka_unit_test(test_jwks_uri_must_be_https),
		cmocka_unit_test(test_private_key_in_jwks_refused),
		cmocka_unit_test(test_tls_verified),
		cmocka_unit_test(test_second_call_uses_cache),
		cmocka_unit_test(test_ca_change_not_served_from_cache),
		cmocka_unit_test(test_unknown_kid_refetch_rate_limited),
		cmocka_unit_test(test_rotated_key_found_by_refetch),
		cmocka_unit_test(test_corrupt_cache_replaced),
		cmocka_unit_test(test_old_cache_refetched),
		cmocka_unit_test(test_failed_refresh_for_unknown_kid),
		cmocka_unit_test(test_stale_cache_on_issuer_error),
		cmocka_unit_test(test_stale_not_after_tls_failure),
		cmocka_unit_test(test_keys_from_the_future_not_stale),
		cmocka_unit_test(test_probe_fetches_fresh_without_cache),
		cmocka_unit_test(test_key_rotated_in_place),
		cmocka_unit_test(test_stale_cache_when_server_down),
	};
	int fails;

	fails = cmocka_run_group_tests_name("claims", claims, claims_setup, claims_teardown);
	fails += cmocka_run_group_tests_name("issuer", issuer, issuer_setup, issuer_teardown);
	return fails != 0;
}
