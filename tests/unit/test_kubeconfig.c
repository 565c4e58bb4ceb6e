/* Unit tests for kubeconfig.c.  Certificates and keys are made by the
 * openssl CLI at test time, in a private temporary directory. */
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

#include "kubeconfig.h"
#include "util.h"

static char dir[] = "/tmp/kctest.XXXXXX";
static char *ca_b64, *cert_b64, *key_b64;

#define CTX \
	"current-context: ctx\n" \
	"contexts:\n- name: ctx\n  context: {cluster: c1, user: u1, namespace: default}\n"

static char *sh_output(const char *cmd)
{
	char buf[8192];
	size_t n;
	FILE *f = popen(cmd, "r");

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	if (pclose(f) != 0 || n == 0)
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	return strdup(buf);
}

static int setup(void **state)
{
	char cmd[1024];

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "cd %s && umask 077 && for n in ca client; do openssl req -x509 -newkey ec "
		 "-pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=$n -days 2 -keyout $n.key "
		 "-out $n.crt 2>/dev/null || exit 1; done && chmod 644 ca.crt client.crt", dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "openssl base64 -A -in %s/ca.crt", dir);
	ca_b64 = sh_output(cmd);
	snprintf(cmd, sizeof(cmd), "openssl base64 -A -in %s/client.crt", dir);
	cert_b64 = sh_output(cmd);
	snprintf(cmd, sizeof(cmd), "openssl base64 -A -in %s/client.key", dir);
	key_b64 = sh_output(cmd);
	return ca_b64 && cert_b64 && key_b64 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	free(ca_b64);
	free(cert_b64);
	free(key_b64);
	return system(cmd) == 0 ? 0 : -1;
}

static char *path_of(const char *name)
{
	static char p[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	FILE *f;

	unlink(path_of(name));
	f = fopen(path_of(name), "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path_of(name), mode), 0);
}

/* Write the kubeconfig (mode given) and load it. */
static int load(const char *yaml, mode_t mode, struct k8s_kubeconfig **kc, struct k8s_err *err)
{
	write_file("kubeconfig", yaml, mode);
	return k8s_kubeconfig_load(path_of("kubeconfig"), kc, err);
}

static struct k8s_kubeconfig *load_ok(const char *yaml)
{
	struct k8s_kubeconfig *kc = NULL;
	struct k8s_err err;

	if (load(yaml, 0600, &kc, &err) != K8S_OK)
		fail_msg("refused: %s\n--- kubeconfig:\n%s", err.detail, yaml);
	return kc;
}

static void load_refused(const char *yaml, mode_t mode, const char *want)
{
	struct k8s_kubeconfig *kc = NULL;
	struct k8s_err err;
	int r = load(yaml, mode, &kc, &err);

	if (r == K8S_OK)
		fail_msg("accepted:\n%s", yaml);
	assert_int_equal(r, K8S_ECONFIG);
	assert_null(kc);
	if (strstr(err.detail, want) == NULL)
		fail_msg("detail \"%s\" lacks \"%s\"", err.detail, want);
	/* Messages name the file and never carry the credential. */
	assert_non_null(strstr(err.detail, dir));
	assert_null(strstr(err.detail, "s3cr3t"));
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	assert_true(vasprintf(&s, f, ap) > 0);
	va_end(ap);
	return s;
}

static void test_token_and_ca_file(void **state)
{
	struct k8s_kubeconfig *kc;
	struct k8s_err err;
	char *t, *want;

	/* As kubectl writes it, with a CA file relative to the kubeconfig. */
	kc = load_ok("apiVersion: v1\nkind: Config\npreferences: {}\n" CTX
		     "clusters:\n- name: c1\n  cluster:\n    server: https://10.0.0.1:6443/\n"
		     "    certificate-authority: ca.crt\n    tls-server-name: kubernetes\n"
		     "users:\n- name: u1\n  user:\n    token: s3cr3t.token-value\n");
	assert_string_equal(kc->path, path_of("kubeconfig"));
	assert_string_equal(kc->server, "https://10.0.0.1:6443");
	assert_non_null(kc->ca_pem);
	assert_non_null(strstr(kc->ca_pem, "-----BEGIN CERTIFICATE-----"));
	assert_int_equal(kc->ca_pem_len, strlen(kc->ca_pem));
	assert_string_equal(kc->tls_server_name, "kubernetes");
	assert_false(kc->insecure_skip_verify);
	assert_null(kc->client_cert_pem);
	t = k8s_kubeconfig_bearer(kc, &err);
	assert_string_equal(t, "s3cr3t.token-value");
	k8s_freezero_str(t);
	k8s_kubeconfig_free(kc);

	/* An absolute CA path, and a path prefix on the server. */
	want = fmt(CTX "clusters:\n- name: c1\n  cluster:\n    server: https://api.example.com/k8s\n"
		   "    certificate-authority: %s/ca.crt\n"
		   "users:\n- name: u1\n  user: {token: abc}\n", dir);
	kc = load_ok(want);
	assert_string_equal(kc->server, "https://api.example.com/k8s");
	assert_non_null(kc->ca_pem);
	k8s_kubeconfig_free(kc);
	free(want);
}

static void test_data_and_client_cert(void **state)
{
	struct k8s_kubeconfig *kc;
	struct k8s_err err;
	char *y;

	y = fmt(CTX "clusters:\n- name: c1\n  cluster:\n    server: https://k:6443\n"
		"    certificate-authority-data: %s\n"
		"users:\n- name: u1\n  user:\n    client-certificate-data: %s\n"
		"    client-key-data: %s\n", ca_b64, cert_b64, key_b64);
	kc = load_ok(y);
	free(y);
	assert_non_null(strstr(kc->ca_pem, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(strstr(kc->client_cert_pem, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(strstr(kc->client_key_pem, "PRIVATE KEY-----"));
	assert_int_equal(kc->client_key_len, strlen(kc->client_key_pem));
	assert_null(kc->token);
	assert_null(kc->token_file);
	/* A client certificate and no bearer token: NULL, and not an error. */
	err.status = 99;
	assert_null(k8s_kubeconfig_bearer(kc, &err));
	assert_int_equal(err.status, K8S_OK);
	k8s_kubeconfig_free(kc);

	/* The same from files, relative to the kubeconfig. */
	kc = load_ok(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\", "
		     "insecure-skip-tls-verify: true}\n"
		     "users:\n- name: u1\n  user: {client-certificate: client.crt, client-key: client.key}\n");
	assert_true(kc->insecure_skip_verify);
	assert_null(kc->ca_pem);
	assert_non_null(kc->client_cert_pem);
	assert_non_null(kc->client_key_pem);
	k8s_kubeconfig_free(kc);

	/* A key file others can read is refused. */
	assert_int_equal(chmod(path_of("client.key"), 0644), 0);
	load_refused(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\"}\n"
		     "users:\n- name: u1\n  user: {client-certificate: client.crt, client-key: client.key}\n",
		     0600, "user \"u1\": client-key");
	load_refused(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\"}\n"
		     "users:\n- name: u1\n  user: {client-certificate: client.crt, client-key: client.key}\n",
		     0600, "client.key: readable by others");
	assert_int_equal(chmod(path_of("client.key"), 0600), 0);
	/* A CA file others can write could be swapped for an attacker's. */
	assert_int_equal(chmod(path_of("ca.crt"), 0666), 0);
	load_refused(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\", "
		     "certificate-authority: ca.crt}\nusers:\n- name: u1\n  user: {token: abc}\n",
		     0600, "ca.crt: writable by group or others");
	assert_int_equal(chmod(path_of("ca.crt"), 0644), 0);
}

static void test_token_file_rotation(void **state)
{
	struct k8s_kubeconfig *kc;
	struct k8s_err err;
	char *t;

	write_file("token", "first-token\n", 0600);
	kc = load_ok(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\"}\n"
		     "users:\n- name: u1\n  user: {tokenFile: token}\n");
	assert_string_equal(kc->token_file, path_of("token"));
	assert_null(kc->token);
	t = k8s_kubeconfig_bearer(kc, &err);
	assert_string_equal(t, "first-token");
	k8s_freezero_str(t);
	/* Projected tokens rotate: every call reads the file again. */
	write_file("token", "second-token \r\n\n", 0600);
	t = k8s_kubeconfig_bearer(kc, &err);
	assert_string_equal(t, "second-token");
	k8s_freezero_str(t);
	write_file("token", "\n", 0600);
	assert_null(k8s_kubeconfig_bearer(kc, &err));
	assert_int_equal(err.status, K8S_ECONFIG);
	assert_non_null(strstr(err.detail, "token: empty"));
	write_file("token", "two words\n", 0600);
	assert_null(k8s_kubeconfig_bearer(kc, &err));
	assert_non_null(strstr(err.detail, "contains whitespace or control characters"));
	assert_null(strstr(err.detail, "words"));
	write_file("token", "third\n", 0644);
	assert_null(k8s_kubeconfig_bearer(kc, &err));
	assert_non_null(strstr(err.detail, "token: readable by others"));
	unlink(path_of("token"));
	assert_null(k8s_kubeconfig_bearer(kc, &err));
	assert_non_null(strstr(err.detail, "No such file or directory"));
	k8s_kubeconfig_free(kc);

	/* A missing token file fails at load, naming it. */
	load_refused(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\"}\n"
		     "users:\n- name: u1\n  user: {tokenFile: /nonexistent/token}\n",
		     0600, "tokenFile /nonexistent/token: No such file or directory");
	write_file("token", "x\n", 0600);
	load_refused(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\"}\n"
		     "users:\n- name: u1\n  user: {tokenFile: token, token: s3cr3t}\n",
		     0600, "user \"u1\": set only one of token and tokenFile");
}

static void test_refused_auth(void **state)
{
	const char *cl = "clusters:\n- name: c1\n  cluster: {server: \"https://k\"}\n";
	char *y;

	y = fmt(CTX "%susers:\n- name: u1\n  user:\n    exec:\n      apiVersion: "
		"client.authentication.k8s.io/v1\n      command: aws\n", cl);
	load_refused(y, 0600, "user \"u1\": exec: exec and auth-provider plugins are not supported");
	free(y);
	y = fmt(CTX "%susers:\n- name: u1\n  user:\n    auth-provider: {name: oidc}\n", cl);
	load_refused(y, 0600, "user \"u1\": auth-provider: exec and auth-provider plugins");
	free(y);
	y = fmt(CTX "%susers:\n- name: u1\n  user: {username: admin, password: s3cr3t}\n", cl);
	load_refused(y, 0600, "basic authentication is not supported");
	free(y);
	y = fmt(CTX "%susers:\n- name: u1\n  user: {token: abc, as: system:admin}\n", cl);
	load_refused(y, 0600, "user \"u1\": as: impersonation is not supported");
	free(y);
	y = fmt(CTX "%susers:\n- name: u1\n  user: {token: abc, tokne: x}\n", cl);
	load_refused(y, 0600, "user \"u1\": tokne: unknown or unsupported key");
	free(y);
	y = fmt(CTX "%susers:\n- name: u1\n  user: {}\n", cl);
	load_refused(y, 0600, "user \"u1\": no credentials");
	free(y);
	y = fmt(CTX "%susers:\n- name: u1\n  user: {token: \"\"}\n", cl);
	load_refused(y, 0600, "user \"u1\": no credentials");
	free(y);
	y = fmt(CTX "%susers:\n- name: u1\n  user: {token: \"s3cr3t x\"}\n", cl);
	load_refused(y, 0600, "user \"u1\": token: contains whitespace");
	free(y);
	y = fmt(CTX "%susers:\n- name: u1\n  user: {client-certificate: client.crt}\n", cl);
	load_refused(y, 0600, "client-certificate and client-key must be set together");
	free(y);
	y = fmt(CTX "%susers:\n- name: u1\n  user: {client-certificate-data: %s, client-certificate: "
		"client.crt, client-key: client.key}\n", cl, cert_b64);
	load_refused(y, 0600, "set only one of client-certificate and client-certificate-data");
	free(y);
	y = fmt(CTX "%susers:\n- name: u1\n  user: {client-certificate: client.key, client-key: "
		"client.key}\n", cl);
	load_refused(y, 0600, "client-certificate: no PEM certificate found");
	free(y);
	/* Another user's exec plugin is none of our business... */
	y = fmt(CTX "%susers:\n- name: u1\n  user: {token: abc}\n- name: u2\n  user:\n"
		"    exec: {command: x}\n", cl);
	k8s_kubeconfig_free(load_ok(y));
	free(y);
}

static void test_cluster_rules(void **state)
{
	const char *us = "users:\n- name: u1\n  user: {token: abc}\n";
	char *y;

	y = fmt(CTX "clusters:\n- name: c1\n  cluster: {server: \"http://k:8080\"}\n%s", us);
	load_refused(y, 0600, "cluster \"c1\": server: must be an https:// URL");
	free(y);
	y = fmt(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k/?a=b\"}\n%s", us);
	load_refused(y, 0600, "server: must not contain a query");
	free(y);
	y = fmt(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://u:p@k\"}\n%s", us);
	load_refused(y, 0600, "server: must not contain a username or password");
	free(y);
	y = fmt(CTX "clusters:\n- name: c1\n  cluster: {certificate-authority: ca.crt}\n%s", us);
	load_refused(y, 0600, "cluster \"c1\": server: required");
	free(y);
	y = fmt(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\", proxy-url: "
		"\"http://proxy:3128\"}\n%s", us);
	load_refused(y, 0600, "cluster \"c1\": proxy-url: proxies are not supported");
	free(y);
	y = fmt(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\", insecure-skip-tls-verify: "
		"true, certificate-authority: ca.crt}\n%s", us);
	load_refused(y, 0600, "certificate-authority and insecure-skip-tls-verify are both set");
	free(y);
	y = fmt(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\", insecure-skip-tls-verify: "
		"\"true\"}\n%s", us);
	load_refused(y, 0600, "insecure-skip-tls-verify: expected true or false");
	free(y);
	y = fmt(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\", certificate-authority: "
		"ca.crt, certificate-authority-data: %s}\n%s", ca_b64, us);
	load_refused(y, 0600, "set only one of certificate-authority and certificate-authority-data");
	free(y);
	y = fmt(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\", "
		"certificate-authority-data: \"!!notbase64\"}\n%s", us);
	load_refused(y, 0600, "certificate-authority-data: not valid base64");
	free(y);
	y = fmt(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\", "
		"certificate-authority-data: aGVsbG8=}\n%s", us);
	load_refused(y, 0600, "certificate-authority-data: no PEM certificate found");
	free(y);
	y = fmt(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\", "
		"certificate-authority: missing.crt}\n%s", us);
	load_refused(y, 0600, "missing.crt: No such file or directory");
	free(y);
	y = fmt(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\", sever: x}\n%s", us);
	load_refused(y, 0600, "cluster \"c1\": sever: unknown or unsupported key");
	free(y);
}

static void test_contexts(void **state)
{
	const char *rest = "clusters:\n- name: c1\n  cluster: {server: \"https://one\"}\n"
			   "- name: c2\n  cluster: {server: \"https://two\"}\n"
			   "users:\n- name: u1\n  user: {token: abc}\n";
	struct k8s_kubeconfig *kc;
	char *y;

	/* No current-context, exactly one context: that one. */
	y = fmt("contexts:\n- name: only\n  context: {cluster: c2, user: u1}\n%s", rest);
	kc = load_ok(y);
	assert_string_equal(kc->server, "https://two");
	k8s_kubeconfig_free(kc);
	free(y);
	y = fmt("current-context: \"\"\ncontexts:\n- name: a\n  context: {cluster: c1, user: u1}\n"
		"- name: b\n  context: {cluster: c2, user: u1}\n%s", rest);
	load_refused(y, 0600, "no current-context, and not exactly one context");
	free(y);
	y = fmt("current-context: b\ncontexts:\n- name: a\n  context: {cluster: c1, user: u1}\n"
		"- name: b\n  context: {cluster: c2, user: u1}\n%s", rest);
	kc = load_ok(y);
	assert_string_equal(kc->server, "https://two");
	k8s_kubeconfig_free(kc);
	free(y);
	y = fmt("current-context: zz\ncontexts:\n- name: a\n  context: {cluster: c1, user: u1}\n%s", rest);
	load_refused(y, 0600, "contexts: no entry named \"zz\"");
	free(y);
	y = fmt("current-context: a\ncontexts:\n- name: a\n  context: {cluster: c9, user: u1}\n%s", rest);
	load_refused(y, 0600, "clusters: no entry named \"c9\"");
	free(y);
	y = fmt("current-context: a\ncontexts:\n- name: a\n  context: {cluster: c1}\n%s", rest);
	load_refused(y, 0600, "context \"a\": needs a cluster and a user");
	free(y);
	y = fmt("current-context: a\ncontexts:\n- name: a\n  context: {cluster: c1, user: u1}\n"
		"- name: a\n  context: {cluster: c2, user: u1}\n%s", rest);
	load_refused(y, 0600, "contexts: \"a\" is defined twice");
	free(y);
	y = fmt("kind: Secret\n" CTX "%s", rest);
	load_refused(y, 0600, "kind: expected \"Config\"");
	free(y);
	load_refused("- a\n", 0600, "expected a kubeconfig mapping");
	load_refused("a: 1\na: 2\n", 0600, "duplicate key \"a\"");
}

static void test_file_mode(void **state)
{
	const char *tok = CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\"}\n"
			      "users:\n- name: u1\n  user: {token: s3cr3t}\n";
	struct k8s_kubeconfig *kc = NULL;
	struct k8s_err err;
	char *y, *want;

	load_refused(tok, 0644, "kubeconfig: readable by others while it holds a credential (chmod 600)");
	load_refused(tok, 0666, "kubeconfig: writable by group or others");
	load_refused(tok, 0620, "kubeconfig: writable by group or others");
	assert_int_equal(load(tok, 0640, &kc, &err), K8S_OK);
	k8s_kubeconfig_free(kc);
	/* Without an inline secret, world-readable is fine (tokenFile, key files). */
	write_file("token", "x\n", 0600);
	assert_int_equal(load(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\"}\n"
			      "users:\n- name: u1\n  user: {tokenFile: token}\n", 0644, &kc, &err), K8S_OK);
	k8s_kubeconfig_free(kc);
	/* ...but any user's inline secret counts, chosen or not. */
	y = fmt(CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\"}\n"
		"users:\n- name: u1\n  user: {tokenFile: token}\n- name: u2\n  user: {client-key-data: %s}\n",
		key_b64);
	load_refused(y, 0644, "readable by others while it holds a credential");
	free(y);
	if (geteuid() == 0) {
		write_file("kubeconfig", tok, 0600);
		assert_int_equal(chown(path_of("kubeconfig"), 4321, 4321), 0);
		assert_int_equal(k8s_kubeconfig_load(path_of("kubeconfig"), &kc, &err), K8S_ECONFIG);
		want = fmt("%s: owned by neither root nor the current user", path_of("kubeconfig"));
		assert_string_equal(err.detail, want);
		free(want);
	}
	assert_int_equal(k8s_kubeconfig_load(path_of("nope"), &kc, &err), K8S_ECONFIG);
	assert_non_null(strstr(err.detail, "nope: No such file or directory"));
}

static void test_parse_without_path(void **state)
{
	const char *y = CTX "clusters:\n- name: c1\n  cluster: {server: \"https://k\", "
			    "certificate-authority: ca.crt}\nusers:\n- name: u1\n  user: {token: abc}\n";
	struct k8s_kubeconfig *kc = NULL;
	struct k8s_err err;

	assert_int_equal(k8s_kubeconfig_parse(y, strlen(y), NULL, &kc, &err), K8S_ECONFIG);
	assert_string_equal(err.detail, "<kubeconfig>: cluster \"c1\": certificate-authority: relative "
			    "path without a kubeconfig directory");
	assert_int_equal(k8s_kubeconfig_parse(y, strlen(y), path_of("kc"), &kc, &err), K8S_OK);
	assert_non_null(kc->ca_pem);
	k8s_kubeconfig_free(kc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_and_ca_file),
		cmocka_unit_test(test_data_and_client_cert),
		cmocka_unit_test(test_token_file_rotation),
		cmocka_unit_test(test_refused_auth),
		cmocka_unit_test(test_cluster_rules),
		cmocka_unit_test(test_contexts),
		cmocka_unit_test(test_file_mode),
		cmocka_unit_test(test_parse_without_path),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
