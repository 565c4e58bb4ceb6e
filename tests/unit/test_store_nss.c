/* Unit tests for the writer's view of other NSS sources: uid/gid/name
 * collisions, templated groups that would land on a local group, and the
 * recognition of the store's own entries when libnss_k8s serves them back.
 *
 * The binary re-executes itself under nss_wrapper (a real NSS stack, from
 * the libnss-wrapper package): fake passwd/group files built to collide with
 * the ids the allocator will want, and libnss_k8s.so.2 from this build
 * loaded as a module over the test store (K8S_AUTH_STORE). */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <grp.h>
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
#include "mapping.h"
#include "store.h"

#define LO 400000u
#define HI 400999u
#define WRAPPER "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"

static char tmpdir[256];
static char storedir[300];

static uint32_t expected_id(const char *name)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	uint64_t h = 0;

	if (EVP_Digest(name, strlen(name), md, &mdlen, EVP_sha256(), NULL) != 1)
		abort();
	for (i = 0; i < 8; i++)
		h = (h << 8) | md[i];
	return (uint32_t)(LO + h % ((uint64_t)HI - LO + 1));
}

static struct k8s_config *cfg_with(const char *extra)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;
	char text[1024];
	int n;

	n = snprintf(text, sizeof(text), "accounts:\n  uidRange: [%u, %u]\n  gidRange: [%u, %u]\n%s"
		     "store: %s\n", LO, HI, LO, HI, extra, storedir);
	if (k8s_config_parse(text, (size_t)n, "nss.yaml", &cfg, &err) != K8S_OK)
		fail_msg("config: %s", err.detail);
	return cfg;
}

static struct k8s_store *open_w(void)
{
	struct k8s_store *st = NULL;
	struct k8s_err err;

	if (k8s_store_open(storedir, 1, &st, &err) != K8S_OK)
		fail_msg("open: %s", err.detail);
	return st;
}

static void commit_close(struct k8s_store *st)
{
	struct k8s_err err;

	if (k8s_store_commit(st, &err) != K8S_OK)
		fail_msg("commit: %s", err.detail);
	k8s_store_close(st);
}

static struct k8s_mapped_group mg(const char *name, int templated)
{
	struct k8s_mapped_group g;

	memset(&g, 0, sizeof(g));
	snprintf(g.name, sizeof(g.name), "%s", name);
	g.templated = templated;
	return g;
}

/* The wrapper's files really are what NSS answers from. */
static void test_wrapper_active(void **state)
{
	struct passwd *pw = getpwnam("other");

	assert_non_null(pw);
	assert_int_equal(pw->pw_uid, expected_id("alice"));
	assert_non_null(getgrnam("localgrp"));
	assert_null(getpwnam("cloudsdk-not-here"));
}

static void test_collisions(void **state)
{
	struct k8s_config *cfg = cfg_with("");
	struct k8s_mapped_group gs[] = {mg("shadow", 1), mg("localgrp", 0), mg("k8s-team", 1),
					mg("other", 1)};
	struct k8s_store *st = open_w();
	struct k8s_store_user *u;
	struct k8s_err err;
	uint32_t h = expected_id("alice");
	size_t i;

	/* uid H is another source's (user "other"): alice probes to H+1; gid
	 * H+1 is the local group "localgrp", so her private group takes the
	 * gid her name hashes to, H, which no group has. */
	assert_int_equal(k8s_store_ensure_user(st, cfg, "alice", K8S_SRC_LOGIN, -1, &u, &err), K8S_OK);
	assert_int_equal(u->uid, h == HI ? LO : h + 1);
	assert_int_equal(u->gid, h);
	/* Names other sources use, as a user or as a group. */
	assert_int_equal(k8s_store_ensure_user(st, cfg, "other", K8S_SRC_LOGIN, -1, &u, &err), K8S_REFUSED);
	assert_int_equal(k8s_store_ensure_user(st, cfg, "ggg", K8S_SRC_LOGIN, -1, &u, &err), K8S_REFUSED);
	assert_non_null(strstr(err.detail, "existing group"));

	u = k8s_store_find_user(st, "alice");
	k8s_err_clear(&err);
	assert_int_equal(k8s_store_set_memberships(st, cfg, u, K8S_SRC_LOGIN, gs, 4, &err), K8S_OK);
	assert_non_null(strstr(err.detail, "shadow"));
	assert_non_null(strstr(err.detail, "other"));
	assert_int_equal(u->n_groups, 2);
	for (i = 0; i < u->n_groups; i++) {
		if (strcmp(u->groups[i].group, "localgrp") == 0)
			assert_int_equal(u->groups[i].gid, h == HI ? LO : h + 1);
		else
			assert_string_equal(u->groups[i].group, "k8s-team");
	}
	commit_close(st);
	k8s_config_free(cfg);
}

/* After a commit, libnss_k8s serves alice back to the writer; that is
 * the store's own entry, not a collision. */
static void test_own_entries(void **state)
{
	struct k8s_config *cfg = cfg_with("");
	struct k8s_store *st;
	struct k8s_store_user *u;
	struct k8s_err err;
	struct passwd *pw;
	struct group *gr;
	uint32_t uid, gid;

	pw = getpwnam("alice");
	assert_non_null(pw); /* through libnss_k8s */
	uid = pw->pw_uid;
	gr = getgrnam("alice");
	assert_non_null(gr);
	gid = gr->gr_gid;
	assert_non_null(getgrnam("k8s-team"));

	st = open_w();
	assert_int_equal(k8s_store_forget(st, "alice", &err), K8S_OK);
	assert_null(k8s_store_find_user(st, "alice"));
	/* Re-created in the same session while NSS still shows the old one. */
	assert_int_equal(k8s_store_ensure_user(st, cfg, "alice", K8S_SRC_LOGIN, -1, &u, &err), K8S_OK);
	assert_int_equal(u->uid, uid);
	assert_int_equal(u->gid, gid);
	/* A templated group the store itself defines is no "local group". */
	{
		struct k8s_mapped_group gs[] = {mg("k8s-team", 1)};

		k8s_err_clear(&err);
		assert_int_equal(k8s_store_set_memberships(st, cfg, u, K8S_SRC_LOGIN, gs, 1, &err), K8S_OK);
		assert_int_equal(err.reason[0], '\0');
		assert_int_equal(u->n_groups, 1);
	}
	commit_close(st);
	k8s_config_free(cfg);
}

static void test_pinned_collision(void **state)
{
	char extra[128];
	struct k8s_config *cfg;
	struct k8s_store *st = open_w();
	struct k8s_err err;

	snprintf(extra, sizeof(extra), "  declared: [{name: pinned, uid: %u}]\n", expected_id("alice"));
	cfg = cfg_with(extra);
	assert_int_equal(k8s_store_apply_declared(st, cfg, &err), K8S_ECONFIG);
	assert_string_equal(err.reason, "pinned uid taken");
	k8s_store_close(st);
	k8s_config_free(cfg);
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Build the fake NSS world and re-execute under nss_wrapper. */
static int reexec(char **argv)
{
	char exe[PATH_MAX], module[PATH_MAX + 32], pw[400], gr[400], text[1024], asan[1024];
	uint32_t h = expected_id("alice");
	const char *prev;
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 1;
	exe[n] = '\0';
	snprintf(module, sizeof(module), "%s", exe);
	*strrchr(module, '/') = '\0';
	*strrchr(module, '/') = '\0';
	strcat(module, "/libnss_k8s.so.2");
	if (access(module, R_OK) != 0 || access(WRAPPER, R_OK) != 0) {
		fprintf(stderr, "test_store_nss: need %s and %s\n", module, WRAPPER);
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/k8s-store-nss.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	snprintf(pw, sizeof(pw), "%s/passwd", tmpdir);
	snprintf(gr, sizeof(gr), "%s/group", tmpdir);
	snprintf(storedir, sizeof(storedir), "%s/store", tmpdir);
	snprintf(text, sizeof(text), "root:x:0:0:root:/root:/bin/bash\n"
		 "other:x:%u:%u::/home/other:/bin/sh\n", h, h);
	if (write_text(pw, text) != 0)
		return 1;
	snprintf(text, sizeof(text), "root:x:0:\nshadow:x:42:\nlocalgrp:x:%u:\nggg:x:5000:\n",
		 h == HI ? LO : h + 1);
	if (write_text(gr, text) != 0)
		return 1;
	prev = getenv("ASAN_OPTIONS");
	snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0", prev ? prev : "", prev ? ":" : "");
	setenv("ASAN_OPTIONS", asan, 1);
	setenv("LD_PRELOAD", WRAPPER, 1);
	setenv("NSS_WRAPPER_PASSWD", pw, 1);
	setenv("NSS_WRAPPER_GROUP", gr, 1);
	setenv("NSS_WRAPPER_MODULE_SO_PATH", module, 1);
	setenv("NSS_WRAPPER_MODULE_FN_PREFIX", "k8s", 1);
	setenv("NSS_WRAPPER_DISABLE_DEEPBIND", "1", 1);
	setenv("K8S_AUTH_STORE", storedir, 1);
	setenv("K8S_TEST_STORE_TMP", tmpdir, 1);
	execv(exe, argv);
	perror("execv");
	return 1;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrapper_active),
		cmocka_unit_test(test_collisions),
		cmocka_unit_test(test_own_entries),
		cmocka_unit_test(test_pinned_collision),
	};
	char cmd[400];
	int rc;

	if (getenv("K8S_TEST_STORE_TMP") == NULL)
		return reexec(argv);
	snprintf(tmpdir, sizeof(tmpdir), "%s", getenv("K8S_TEST_STORE_TMP"));
	snprintf(storedir, sizeof(storedir), "%s/store", tmpdir);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
