/* Unit tests for authz.c: from a validated identity to "may log in as
 * LOCAL".  Mapping and the requested user, allowRoot, allowedGroups, the
 * identity binding against a real store (written here through store.c's
 * writer; authz only reads it, and never commits), existing accounts of
 * another NSS source (accounts.allowExisting), and the SubjectAccessReview
 * asked last, against tests/unit/srv/tlssrv.py's fake endpoint (which
 * counts what it answers, so "not asked" is measured).  The identity is
 * built here as validate.c would hand it over: authz's input, not a mock
 * of the code under test. */
#include <dirent.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "authz.h"
#include "config.h"
#include "identity.h"
#include "lib_tlssrv.h"
#include "store.h"

static struct tlssrv srv;
static char tmp[64];
static char kubeconfig[128];
static char store[128];

#define SA1 "system:serviceaccount:ns1:sa1"

/* accounts.* as given (indented two spaces), `login` lines (default: allowRoot:
 * false), a store in tmp. */
static struct k8s_config *cfg_of(const char *accounts, const char *login)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;
	char text[4096];
	int n;

	n = snprintf(text, sizeof(text),
		     "tokenReview:\n  kubeconfig: %s\n  audiences: [\"host-login:test\"]\n"
		     "accounts:\n"
		     "  users:\n"
		     "  - match: '^system:serviceaccount:local:([a-z0-9.-]+)$'\n"
		     "    local: '\\1'\n"
		     "  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)$'\n"
		     "    local: '\\1.\\2'\n"
		     "  groups:\n"
		     "  - match: '^system:serviceaccounts:(.*)$'\n"
		     "    local: 'k8s-\\1'\n"
		     "  uidRange: [200000, 299999]\n  gidRange: [200000, 299999]\n"
		     "%s"
		     "login:\n%s"
		     "store: %s\n",
		     kubeconfig, accounts, login[0] != '\0' ? login : "  allowRoot: false\n", store);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	if (k8s_config_parse(text, (size_t)n, "authz.yaml", &cfg, &err) != K8S_OK)
		fail_msg("config refused: %s", err.detail);
	return cfg;
}

static void ident(struct k8s_identity *id, const char *username, const char *uid)
{
	memset(id, 0, sizeof(*id));
	id->method = "tokenreview";
	id->username = strdup(username);
	id->uid = uid != NULL ? strdup(uid) : NULL;
	assert_int_equal(k8s_identity_add_group(id, "system:serviceaccounts"), 0);
	assert_int_equal(k8s_identity_add_group(id, "system:serviceaccounts:ns1"), 0);
	assert_int_equal(k8s_identity_add_group(id, "system:authenticated"), 0);
	id->extra = json_object();
}

static int authorize(const struct k8s_config *cfg, const struct k8s_identity *id, const char *req,
		     struct k8s_login *l, struct k8s_err *err)
{
	int rc;

	k8s_err_clear(err);
	rc = k8s_authorize_login(cfg, id, req, l, err);
	if (rc != K8S_OK)
		assert_int_equal(err->status, rc);
	return rc;
}

static void refused(const struct k8s_config *cfg, const struct k8s_identity *id, const char *req,
		    int status, const char *reason)
{
	struct k8s_login l;
	struct k8s_err err;

	assert_int_equal(authorize(cfg, id, req, &l, &err), status);
	if (reason != NULL)
		assert_string_equal(err.reason, reason);
	k8s_login_free(&l);
}

static int store_files(void)
{
	DIR *d = opendir(store);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A login recorded the way a successful `auth` records it. */
static void record(const struct k8s_config *cfg, const char *local, const struct k8s_identity *id)
{
	struct k8s_store *st = NULL;
	struct k8s_err err;
	char *binding = NULL;

	k8s_err_clear(&err);
	assert_int_equal(k8s_identity_binding(id, &binding, &err), K8S_OK);
	assert_int_equal(k8s_store_open(store, 1, &st, &err), K8S_OK);
	if (k8s_store_record_login(st, cfg, local, binding, id, NULL, 0, time(NULL), &err) != K8S_OK ||
	    k8s_store_commit(st, &err) != K8S_OK)
		fail_msg("recording %s: %s", local, err.detail);
	k8s_store_close(st);
	free(binding);
}

static void wipe_store(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", store);
	assert_int_equal(system(cmd), 0);
}

/* A first login: mapped, numbers a login would get, nothing written. */
static void test_first_login(void **state)
{
	struct k8s_config *cfg = cfg_of("", "");
	struct k8s_identity id;
	struct k8s_login l, again;
	struct k8s_err err;
	size_t i;

	wipe_store();
	ident(&id, SA1, "0b4c7f2e-uid");
	assert_int_equal(authorize(cfg, &id, "ns1.sa1", &l, &err), K8S_OK);
	assert_string_equal(l.local, "ns1.sa1");
	assert_string_equal(l.binding, "tokenreview:uid:0b4c7f2e-uid");
	assert_int_equal(l.existing, 0);
	assert_true(l.uid_number >= 200000 && l.uid_number <= 299999);
	assert_int_equal(l.n_groups, 1);
	assert_string_equal(l.groups[0].name, "k8s-ns1");
	assert_int_equal(l.n_invalid_groups, 0);
	for (i = 0; i < l.n_groups; i++)
		assert_true(l.gid_numbers[i] >= 200000 && l.gid_numbers[i] <= 299999);
	assert_int_equal(store_files(), 0);
	/* Only map (no requested user): the same answer; a pure function of the name. */
	assert_int_equal(authorize(cfg, &id, NULL, &again, &err), K8S_OK);
	assert_string_equal(again.local, "ns1.sa1");
	assert_int_equal(again.uid_number, l.uid_number);
	k8s_login_free(&again);
	k8s_login_free(&l);
	assert_int_equal(store_files(), 0);
	k8s_identity_free(&id);
	k8s_config_free(cfg);
}

static void test_mapping_and_request(void **state)
{
	struct k8s_config *cfg = cfg_of("", "");
	struct k8s_identity id;

	wipe_store();
	ident(&id, "oidc:alice@example.com", NULL);
	refused(cfg, &id, "alice", K8S_REFUSED, "no mapping rule matches");
	k8s_identity_free(&id);
	ident(&id, SA1, "0b4c7f2e-uid");
	refused(cfg, &id, "ns1.sa2", K8S_REFUSED, "token is for another user");
	refused(cfg, &id, "root", K8S_REFUSED, "token is for another user");
	k8s_identity_free(&id);
	k8s_config_free(cfg);
}

static void test_root(void **state)
{
	struct k8s_config *cfg = cfg_of("", "");
	struct k8s_config *allow = cfg_of("  allowExisting: [root]\n", "  allowRoot: true\n");
	struct k8s_config *listed = cfg_of("  allowExisting: [root]\n", "");
	struct k8s_identity id;
	struct k8s_login l;
	struct k8s_err err;

	wipe_store();
	ident(&id, "system:serviceaccount:local:root", "uid-r");
	refused(cfg, &id, "root", K8S_REFUSED, "root login not allowed");
	refused(listed, &id, "root", K8S_REFUSED, "root login not allowed");
	assert_int_equal(authorize(allow, &id, "root", &l, &err), K8S_OK);
	assert_int_equal(l.existing, 1);
	assert_int_equal(l.uid_number, 0);
	k8s_login_free(&l);
	k8s_identity_free(&id);
	k8s_config_free(cfg);
	k8s_config_free(allow);
	k8s_config_free(listed);
}

static void test_allowed_groups(void **state)
{
	struct k8s_config *ops = cfg_of("", "  allowedGroups: [\"system:serviceaccounts:ops\"]\n");
	struct k8s_config *ns1 = cfg_of("", "  allowedGroups: [\"other\", \"system:serviceaccounts:ns1\"]\n");
	struct k8s_identity id;
	struct k8s_login l;
	struct k8s_err err;

	wipe_store();
	ident(&id, SA1, "0b4c7f2e-uid");
	refused(ops, &id, "ns1.sa1", K8S_REFUSED, "not in an allowed group");
	assert_int_equal(authorize(ns1, &id, "ns1.sa1", &l, &err), K8S_OK);
	k8s_login_free(&l);
	k8s_identity_free(&id);
	k8s_config_free(ops);
	k8s_config_free(ns1);
}

/* The binding a first login recorded: the same identity gets the stored
 * numbers, another one under the same name (a recreated service account)
 * is refused until `k8s-auth forget`. */
static void test_binding(void **state)
{
	struct k8s_config *cfg = cfg_of("", "");
	struct k8s_identity id, other;
	struct k8s_store *st = NULL;
	struct k8s_login l;
	struct k8s_err err;
	long uid;

	wipe_store();
	ident(&id, SA1, "0b4c7f2e-uid");
	record(cfg, "ns1.sa1", &id);
	assert_int_equal(k8s_store_open(store, 0, &st, &err), K8S_OK);
	assert_non_null(k8s_store_find_user(st, "ns1.sa1"));
	uid = (long)k8s_store_find_user(st, "ns1.sa1")->uid;
	k8s_store_close(st);

	assert_int_equal(authorize(cfg, &id, "ns1.sa1", &l, &err), K8S_OK);
	assert_int_equal(l.uid_number, uid);
	k8s_login_free(&l);

	ident(&other, SA1, "9f00aa11-recreated");
	refused(cfg, &other, "ns1.sa1", K8S_REFUSED, "identity binding mismatch");
	k8s_err_clear(&err);
	assert_int_equal(authorize(cfg, &other, "ns1.sa1", &l, &err), K8S_REFUSED);
	assert_non_null(strstr(err.detail, "k8s-auth forget ns1.sa1"));
	k8s_login_free(&l);
	/* Without a uid the binding is the username: still not the recorded one. */
	free(other.uid);
	other.uid = NULL;
	refused(cfg, &other, "ns1.sa1", K8S_REFUSED, "identity binding mismatch");
	k8s_identity_free(&other);

	/* Forgotten: the next identity may bind. */
	assert_int_equal(k8s_store_open(store, 1, &st, &err), K8S_OK);
	assert_int_equal(k8s_store_forget(st, "ns1.sa1", &err), K8S_OK);
	assert_int_equal(k8s_store_commit(st, &err), K8S_OK);
	k8s_store_close(st);
	ident(&other, SA1, "9f00aa11-recreated");
	assert_int_equal(authorize(cfg, &other, "ns1.sa1", &l, &err), K8S_OK);
	k8s_login_free(&l);
	k8s_identity_free(&other);
	k8s_identity_free(&id);
	k8s_config_free(cfg);
}

/* An account another NSS source serves (here /etc/passwd's nobody):
 * opened only when accounts.allowExisting lists it; a recorded existing
 * account that no source has any more is refused. */
static void test_existing_accounts(void **state)
{
	struct k8s_config *cfg = cfg_of("", "");
	struct k8s_config *allow = cfg_of("  allowExisting: [nobody, ghost]\n", "");
	struct k8s_identity id;
	struct k8s_store *st = NULL;
	struct k8s_store_user *u;
	struct k8s_login l;
	struct k8s_err err;
	struct passwd *pw = getpwnam("nobody");

	if (pw == NULL)
		skip();
	wipe_store();
	ident(&id, "system:serviceaccount:local:nobody", "uid-n");
	refused(cfg, &id, "nobody", K8S_REFUSED, "local account not managed");
	assert_int_equal(authorize(allow, &id, "nobody", &l, &err), K8S_OK);
	assert_int_equal(l.existing, 1);
	assert_int_equal(l.uid_number, (long)pw->pw_uid);
	k8s_login_free(&l);
	k8s_identity_free(&id);

	assert_int_equal(k8s_store_open(store, 1, &st, &err), K8S_OK);
	assert_int_equal(k8s_store_ensure_existing(st, "ghost", &u, &err), K8S_OK);
	assert_int_equal(k8s_store_commit(st, &err), K8S_OK);
	k8s_store_close(st);
	ident(&id, "system:serviceaccount:local:ghost", "uid-g");
	refused(allow, &id, "ghost", K8S_REFUSED, "local account not found");
	k8s_identity_free(&id);
	k8s_config_free(cfg);
	k8s_config_free(allow);
}

/* login.subjectAccessReview: asked last, only for an identity every local
 * rule admits; no answer is a refusal. */
static void test_subject_access_review(void **state)
{
	static const char sar[] = "  subjectAccessReview: {verb: login, resource: nodes, name: '%h'}\n";
	struct k8s_config *cfg = cfg_of("", sar);
	struct k8s_identity id, sa2;
	struct k8s_login l;
	struct k8s_err err;
	long n = tlssrv_count(&srv, "subjectaccessreviews");

	assert_true(n >= 0);
	wipe_store();
	ident(&id, SA1, "0b4c7f2e-uid");
	ident(&sa2, "system:serviceaccount:ns1:sa2", "uid-2");
	assert_int_equal(authorize(cfg, &id, "ns1.sa1", &l, &err), K8S_OK);
	k8s_login_free(&l);
	assert_int_equal(tlssrv_count(&srv, "subjectaccessreviews"), n + 1);
	refused(cfg, &sa2, "ns1.sa2", K8S_REFUSED, "not allowed by the cluster");
	assert_int_equal(tlssrv_count(&srv, "subjectaccessreviews"), n + 2);
	/* A local refusal first: the cluster is not asked. */
	refused(cfg, &id, "ns1.sa2", K8S_REFUSED, "token is for another user");
	assert_int_equal(tlssrv_count(&srv, "subjectaccessreviews"), n + 2);
	k8s_config_free(cfg);

	/* The authorizer denies; answers nonsense; cannot be reached. */
	assert_int_equal(tlssrv_kubeconfig(&srv, kubeconfig, srv.port, "deny"), 0);
	cfg = cfg_of("", sar);
	refused(cfg, &id, "ns1.sa1", K8S_REFUSED, "not allowed by the cluster");
	assert_int_equal(tlssrv_kubeconfig(&srv, kubeconfig, srv.port, "malformed"), 0);
	refused(cfg, &id, "ns1.sa1", K8S_UNAVAILABLE, NULL);
	assert_int_equal(tlssrv_kubeconfig(&srv, kubeconfig, tlssrv_dead_port(), "ok"), 0);
	refused(cfg, &id, "ns1.sa1", K8S_UNAVAILABLE, NULL);
	assert_int_equal(tlssrv_count(&srv, "subjectaccessreviews"), n + 4);
	assert_int_equal(tlssrv_kubeconfig(&srv, kubeconfig, srv.port, "ok"), 0);
	assert_int_equal(store_files(), 0);
	k8s_identity_free(&id);
	k8s_identity_free(&sa2);
	k8s_config_free(cfg);
}

static int group_setup(void **state)
{
	snprintf(tmp, sizeof(tmp), "/tmp/k8s-authz-test.XXXXXX");
	if (mkdtemp(tmp) == NULL || tlssrv_start(&srv) != 0)
		return -1;
	snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", tmp);
	snprintf(store, sizeof(store), "%s/store", tmp);
	return tlssrv_kubeconfig(&srv, kubeconfig, srv.port, "ok");
}

static int group_teardown(void **state)
{
	char cmd[128];

	tlssrv_stop(&srv);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_login),
		cmocka_unit_test(test_mapping_and_request),
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_allowed_groups),
		cmocka_unit_test(test_binding),
		cmocka_unit_test(test_existing_accounts),
		cmocka_unit_test(test_subject_access_review),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
