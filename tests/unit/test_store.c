/* Unit tests for the identity store: writer (store.c) and reader
 * (storefmt.c) together, against the host's real NSS configuration.
 * Collisions with other NSS sources and the recognition of the store's own
 * entries are in test_store_nss.c (nss_wrapper + libnss_k8s). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "config.h"
#include "identity.h"
#include "mapping.h"
#include "preauth.h"
#include "store.h"
#include "storefmt.h"
#include "util.h"

struct fx {
	char dir[256];    /* mkdtemp */
	char store[300];  /* dir/store */
	struct k8s_config *cfg;
};

#define CFG_TMPL \
	"accounts:\n" \
	"  uidRange: [%u, %u]\n" \
	"  gidRange: [%u, %u]\n" \
	"  home: /home/%%u\n" \
	"  shell: /bin/bash\n" \
	"  declared: [dana, {name: erin, uid: %u}]\n" \
	"  groups:\n" \
	"  - match: '^oidc:admins$'\n" \
	"    local: sudo\n" \
	"  - match: '^oidc:ops$'\n" \
	"    local: k8s-ops\n" \
	"  - match: '^oidc:team-(.*)$'\n" \
	"    local: 'k8s-\\1'\n" \
	"store: %s\n"

static struct k8s_config *make_cfg(const char *store, uint32_t lo, uint32_t hi)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;
	char text[2048];
	int n;

	n = snprintf(text, sizeof(text), CFG_TMPL, lo, hi, lo, hi, lo + (hi - lo) / 2, store);
	assert_int_equal(k8s_config_parse(text, (size_t)n, "test.yaml", &cfg, &err), K8S_OK);
	return cfg;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/k8s-store-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
	f->cfg = make_cfg(f->store, 200000, 299999);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[400];

	k8s_config_free(f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct k8s_store *open_w(const char *dir)
{
	struct k8s_store *st = NULL;
	struct k8s_err err;

	k8s_err_clear(&err);
	assert_int_equal(k8s_store_open(dir, 1, &st, &err), K8S_OK);
	return st;
}

static struct k8s_store *open_r(const char *dir)
{
	struct k8s_store *st = NULL;
	struct k8s_err err;

	assert_int_equal(k8s_store_open(dir, 0, &st, &err), K8S_OK);
	return st;
}

static void commit(struct k8s_store *st)
{
	struct k8s_err err;
	int rc = k8s_store_commit(st, &err);

	if (rc != K8S_OK)
		fail_msg("commit: %s", err.detail);
}

static void ident(struct k8s_identity *id, const char *username, const char *uid)
{
	memset(id, 0, sizeof(*id));
	id->method = "tokenreview";
	id->username = (char *)username;
	id->uid = (char *)uid;
}

static struct k8s_mapped_group mg(const char *name, int templated)
{
	struct k8s_mapped_group g;

	memset(&g, 0, sizeof(g));
	snprintf(g.name, sizeof(g.name), "%s", name);
	g.templated = templated;
	return g;
}

static void login(struct fx *f, struct k8s_store *st, const char *local, const char *binding,
		  const struct k8s_mapped_group *gs, size_t n)
{
	struct k8s_identity id;
	struct k8s_err err;
	int rc;

	ident(&id, "system:serviceaccount:ops:someone", NULL);
	k8s_err_clear(&err);
	rc = k8s_store_record_login(st, f->cfg, local, binding, &id, gs, n, 1700000000, &err);
	if (rc != K8S_OK)
		fail_msg("record_login %s: %s", local, err.detail);
}

/* The files as the NSS module sees them. */
struct image {
	char *buf, *dbuf;  /* base, delta (NULL when none) */
	size_t len, dlen;
	struct k8s_sf sf, dsf;
	struct k8s_sfv v;
};

static char *read_store_file(const char *store, const char *file, size_t *len)
{
	char path[400], *buf = NULL;

	snprintf(path, sizeof(path), "%s/%s", store, file);
	if (k8s_read_file(path, 1u << 30, &buf, len) != 0)
		return NULL;
	return buf;
}

static void image_load(struct image *im, const char *store)
{
	int rel;

	memset(im, 0, sizeof(*im));
	im->buf = read_store_file(store, "identities.db", &im->len);
	assert_non_null(im->buf);
	assert_int_equal(k8s_sf_open(&im->sf, im->buf, im->len), K8S_SF_OK);
	assert_int_equal(k8s_sf_verify_body(&im->sf), K8S_SF_OK);
	im->dbuf = read_store_file(store, "identities.delta", &im->dlen);
	if (im->dbuf != NULL) {
		assert_int_equal(k8s_sf_open(&im->dsf, im->dbuf, im->dlen), K8S_SF_OK);
		assert_int_equal(k8s_sf_verify_body(&im->dsf), K8S_SF_OK);
	}
	rel = k8s_sfv_attach(&im->v, &im->sf, im->dbuf ? &im->dsf : NULL);
	assert_true(rel == K8S_SF_DELTA_OK || rel == K8S_SF_DELTA_NONE);
}

static void image_free(struct image *im)
{
	free(im->buf);
	free(im->dbuf);
}

static uint32_t expected_id(const char *name, uint32_t lo, uint32_t hi)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	uint64_t h = 0;

	assert_int_equal(EVP_Digest(name, strlen(name), md, &mdlen, EVP_sha256(), NULL), 1);
	for (i = 0; i < 8; i++)
		h = (h << 8) | md[i];
	return (uint32_t)(lo + h % ((uint64_t)hi - lo + 1));
}

static struct k8s_store_membership *membership(struct k8s_store_user *u, const char *group)
{
	size_t i;

	for (i = 0; i < u->n_groups; i++)
		if (strcmp(u->groups[i].group, group) == 0)
			return &u->groups[i];
	return NULL;
}

/* ------------------------------------------------------------- tests */

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	struct k8s_mapped_group gs[] = {mg("sudo", 0), mg("k8s-ops", 0), mg("k8s-web", 1)};
	struct group *sudo_gr = getgrnam("sudo"), sudo_copy, *sudo = NULL;
	struct k8s_store *st = open_w(f->store);
	struct k8s_store_user *u;
	struct k8s_sf_user v;
	struct k8s_sf_group g;
	struct image im;
	const char *m;
	uint32_t gid, src, i;
	struct stat sb;
	char path[400];

	if (sudo_gr != NULL) {
		sudo_copy = *sudo_gr; /* getgrnam's buffer is reused by later lookups */
		sudo = &sudo_copy;
	}
	login(f, st, "ops.alice", "tokenreview:uid:1111", gs, sudo ? 3 : 2);
	commit(st);
	k8s_store_close(st);

	snprintf(path, sizeof(path), "%s/identities.db", f->store);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_int_equal(stat(f->store, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0755);

	st = open_r(f->store);
	assert_int_equal(st->generation, 2); /* a base and its (empty) delta */
	u = k8s_store_find_user(st, "ops.alice");
	assert_non_null(u);
	assert_int_equal(u->uid, expected_id("ops.alice", 200000, 299999));
	assert_int_equal(u->gid, u->uid);
	assert_string_equal(u->home, "/home/ops.alice");
	assert_string_equal(u->shell, "/bin/bash");
	assert_string_equal(u->gecos, "system_serviceaccount_ops_someone");
	assert_string_equal(u->cluster_user, "system:serviceaccount:ops:someone");
	assert_string_equal(u->binding, "tokenreview:uid:1111");
	assert_int_equal(u->sources, K8S_SRC_LOGIN);
	assert_int_equal(u->last_login, 1700000000);
	assert_non_null(membership(u, "k8s-ops"));
	assert_int_equal(membership(u, "k8s-ops")->gid, expected_id("k8s-ops", 200000, 299999));
	assert_int_equal(membership(u, "k8s-web")->gid, expected_id("k8s-web", 200000, 299999));
	if (sudo != NULL)
		assert_int_equal(membership(u, "sudo")->gid, sudo->gr_gid);
	assert_non_null(k8s_store_find_group(st, "k8s-web"));
	assert_null(k8s_store_find_group(st, "sudo")); /* local groups are not the store's */
	assert_true(k8s_store_find_group(st, "ops.alice")->private_group);
	k8s_store_close(st);

	/* The same through the reader the NSS module uses. */
	image_load(&im, f->store);
	assert_int_equal(k8s_sfv_user_by_name(&im.v, "ops.alice", &v), 1);
	assert_string_equal(v.name, "ops.alice");
	assert_string_equal(v.home, "/home/ops.alice");
	assert_int_equal(k8s_sfv_user_by_uid(&im.v, v.uid, &v), 1);
	assert_string_equal(v.name, "ops.alice");
	assert_int_equal(v.n_memberships, sudo ? 3 : 2);
	for (i = 0; i < v.n_memberships; i++) {
		k8s_sf_membership(&v, i, &gid, &src);
		m = k8s_sf_strlist_next(&v.group_names);
		assert_non_null(m);
		assert_int_equal(src, K8S_SRC_LOGIN);
		if (strcmp(m, "sudo") == 0)
			assert_int_equal(gid, sudo->gr_gid);
		else
			assert_int_equal(gid, expected_id(m, 200000, 299999));
	}
	assert_int_equal(k8s_sfv_group_by_name(&im.v, "ops.alice", &g), 1);
	assert_true(g.private_group);
	assert_int_equal(g.gid, v.uid);
	assert_string_equal(k8s_sf_strlist_next(&g.members), "ops.alice");
	assert_int_equal(k8s_sfv_group_by_gid(&im.v, expected_id("k8s-web", 200000, 299999), &g), 1);
	assert_string_equal(g.name, "k8s-web");
	assert_int_equal(g.n_members, 1);
	assert_string_equal(k8s_sf_strlist_next(&g.members), "ops.alice");
	assert_null(k8s_sf_strlist_next(&g.members));
	assert_int_equal(k8s_sfv_group_by_name(&im.v, "sudo", &g), 0);
	assert_int_equal(k8s_sfv_user_by_name(&im.v, "nobody-here", &v), 0);
	assert_int_equal(k8s_sfv_user_by_uid(&im.v, 12345, &v), 0);
	image_free(&im);
}

/* First login: what libnss_k8s serves sshd before authentication
 * (preauth.c, libc only) must be what the allocator gives the name in a
 * store where its first slot is free: same uid, gid, home and shell. */
static void test_preauth_predict(void **state)
{
	static const char *const names[] = { "dana", "alice", "ops.bob", "_svc", "x-1", "a.b-c_d",
		"abcdefghijklmnopqrstuvwxyz012345", "zed", "carol", "m" };
	struct fx *f = *state;
	struct k8s_preauth_policy pol;
	struct k8s_preauth_entry e;
	struct k8s_store_user *u;
	struct k8s_store *st;
	struct k8s_err err;
	char dir[400];
	size_t i;

	memset(&pol, 0, sizeof(pol));
	pol.uid_min = f->cfg->accounts.uid_min;
	pol.uid_max = f->cfg->accounts.uid_max;
	pol.gid_min = f->cfg->accounts.gid_min;
	pol.gid_max = f->cfg->accounts.gid_max;
	snprintf(pol.sshd, sizeof(pol.sshd), "/usr/sbin/sshd");
	snprintf(pol.shell, sizeof(pol.shell), "%s", f->cfg->accounts.shell);
	snprintf(pol.home, sizeof(pol.home), "%s", f->cfg->accounts.home);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/p%zu", f->dir, i);
		st = open_w(dir);
		assert_int_equal(k8s_preauth_predict(&pol, names[i], &e), 0);
		assert_int_equal(k8s_store_ensure_user(st, f->cfg, names[i], K8S_SRC_LOGIN, -1, &u, &err),
				 K8S_OK);
		assert_int_equal(e.uid, u->uid);
		assert_int_equal(e.gid, u->gid);
		assert_string_equal(e.home, u->home);
		assert_string_equal(e.shell, u->shell);
		assert_string_equal(e.name, names[i]);
		k8s_store_close(st);
	}
	assert_int_equal(k8s_preauth_predict(&pol, "Dana", &e), -1);
	assert_int_equal(k8s_preauth_predict(&pol, "123", &e), -1);
	pol.gid_min = pol.gid_max = 1000; /* the uid is not a gid it may have */
	assert_int_equal(k8s_preauth_predict(&pol, "dana", &e), -1);
}

/* Record names the sweeps act on (libnss_k8s and the helper): only
 * "p.PID" and ".p.PID.tmp", PID a plain decimal above 1. */
static void test_preauth_name_pid(void **state)
{
	static const char *const bad[] = { "policy", ".policy.tmp", "p.", "p.0", "p.1", "p.01",
		"p.12a", "p.-5", "p. 5", "p.5 ", "p.5.tmp", ".p.5", ".p.5.tmpx", "q.5", "p.99999999999",
		"p.4294967297", ".p..tmp", "", "." };
	size_t i;
	int tmp;

	(void)state;
	assert_int_equal(k8s_preauth_name_pid("p.1234", &tmp), 1234);
	assert_int_equal(tmp, 0);
	assert_int_equal(k8s_preauth_name_pid(".p.77.tmp", &tmp), 77);
	assert_int_equal(tmp, 1);
	assert_int_equal(k8s_preauth_name_pid("p.2147483647", &tmp), 2147483647);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(k8s_preauth_name_pid(bad[i], &tmp), 0);
}

/* nsswitch.conf: libnss_k8s serves pre-auth entries only when k8s is
 * the last service of the one passwd: line. */
static void test_preauth_k8s_last(void **state)
{
	static const char *const yes[] = {
		"passwd:         files systemd k8s\ngroup: files k8s\n",
		"# c\npasswd: files k8s [NOTFOUND=return]\n",
		"passwd: k8s",
		"  passwd\t:\tfiles\tk8s # sss\n",
		"passwd: files k8s\r\n",
		"shadow: files sss\npasswd: files k8s\n",
	};
	static const char *const no[] = {
		"", "group: files k8s\n", "passwd: files systemd\n", "passwd: files k8s sss\n",
		"passwd: k8s files\n", "passwd: files k8s [NOTFOUND=return] ldap\n",
		"passwd: files k8s\npasswd: files k8s\n", "passwd: files k8sx\n", "passwd: files xk8s\n",
		"#passwd: files k8s\n", "passwd: files # k8s\n", "passwords: files k8s\n",
		"passwd: files k8s[x]sss\n", "passwd: files k8s [unterminated sss\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (k8s_preauth_k8s_last(yes[i], strlen(yes[i])) != 1)
			fail_msg("should be k8s last: %s", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (k8s_preauth_k8s_last(no[i], strlen(no[i])) != 0)
			fail_msg("should not be k8s last: %s", no[i]);
}

static void test_many_and_enumeration(void **state)
{
	struct fx *f = *state;
	struct k8s_store *st = open_w(f->store);
	struct k8s_store_user *u;
	struct k8s_err err;
	struct k8s_sf_user v;
	struct k8s_sf_group g;
	struct image im;
	char name[40];
	uint32_t i, prev = 0, seen = 0;

	for (i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "user%u", i);
		assert_int_equal(k8s_store_ensure_user(st, f->cfg, name, K8S_SRC_SYNCED, -1, &u, &err), K8S_OK);
	}
	commit(st);
	k8s_store_close(st);
	image_load(&im, f->store);
	assert_int_equal(k8s_sfv_n_users(&im.v), 3000);
	assert_int_equal(k8s_sfv_n_groups(&im.v), 3000);
	for (i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "user%u", i);
		assert_int_equal(k8s_sfv_user_by_name(&im.v, name, &v), 1);
		assert_string_equal(v.name, name);
		assert_int_equal(k8s_sfv_user_by_uid(&im.v, v.uid, &v), 1);
		assert_string_equal(v.name, name);
		assert_int_equal(k8s_sfv_group_by_gid(&im.v, v.gid, &g), 1);
		assert_string_equal(g.name, name);
	}
	/* Enumeration: every user once, in uid order. */
	for (i = 0; i < k8s_sfv_n_users(&im.v); i++) {
		assert_int_equal(k8s_sfv_user_at(&im.v, i, &v), 1);
		assert_true(v.uid > prev);
		prev = v.uid;
		seen++;
	}
	assert_int_equal(seen, 3000);
	assert_int_equal(k8s_sfv_user_at(&im.v, 3000, &v), 0);
	image_free(&im);
}

/* Same name, same uid, in any store on any host; a collision inside the
 * store probes to the next free id, deterministically. */
static void test_allocation(void **state)
{
	struct fx *f = *state;
	struct k8s_config *small;
	struct k8s_store *a, *b;
	struct k8s_store_user *u, *w;
	struct k8s_err err;
	char other[300], n1[16], n2[16];
	uint32_t want, i, j;

	snprintf(other, sizeof(other), "%s/other", f->dir);
	a = open_w(f->store);
	b = open_w(other);
	assert_int_equal(k8s_store_ensure_user(a, f->cfg, "zed", K8S_SRC_LOGIN, -1, &u, &err), K8S_OK);
	assert_int_equal(k8s_store_ensure_user(b, f->cfg, "yan", K8S_SRC_LOGIN, -1, &w, &err), K8S_OK);
	assert_int_equal(k8s_store_ensure_user(b, f->cfg, "zed", K8S_SRC_LOGIN, -1, &w, &err), K8S_OK);
	assert_int_equal(k8s_store_find_user(a, "zed")->uid, k8s_store_find_user(b, "zed")->uid);
	assert_int_equal(k8s_store_find_user(a, "zed")->uid, expected_id("zed", 200000, 299999));
	k8s_store_close(a);
	k8s_store_close(b);

	/* Two names that hash to the same slot of a 7-wide range. */
	small = make_cfg(other, 300000, 300006);
	for (i = 0; i < 100; i++) {
		snprintf(n1, sizeof(n1), "a%u", i);
		for (j = i + 1; j < 100; j++) {
			snprintf(n2, sizeof(n2), "a%u", j);
			/* 300003 is pinned for erin: keep the pair clear of it. */
			want = expected_id(n1, 300000, 300006);
			if (want != 300002 && want != 300003 &&
			    want == expected_id(n2, 300000, 300006))
				goto found;
		}
	}
	fail_msg("no colliding pair");
found:
	a = open_w(other);
	assert_int_equal(k8s_store_ensure_user(a, small, n1, K8S_SRC_LOGIN, -1, &u, &err), K8S_OK);
	assert_int_equal(u->uid, want);
	assert_int_equal(k8s_store_ensure_user(a, small, n2, K8S_SRC_LOGIN, -1, &u, &err), K8S_OK);
	assert_int_equal(u->uid, want == 300006 ? 300000 : want + 1);
	assert_int_equal(u->gid, u->uid);
	/* The range fills up: 7 slots, one pinned for erin by the config. */
	for (i = 0; i < 4; i++) {
		snprintf(n2, sizeof(n2), "b%u", i);
		assert_int_equal(k8s_store_ensure_user(a, small, n2, K8S_SRC_LOGIN, -1, &u, &err), K8S_OK);
		assert_int_not_equal(u->uid, 300003);
	}
	assert_int_equal(k8s_store_ensure_user(a, small, "last", K8S_SRC_LOGIN, -1, &u, &err),
			 K8S_UNAVAILABLE);
	assert_string_equal(err.reason, "no free id");
	k8s_store_close(a);
	k8s_config_free(small);
}

static void test_names(void **state)
{
	struct fx *f = *state;
	struct k8s_store *st = open_w(f->store);
	struct k8s_store_user *u;
	struct k8s_err err;
	static const char *bad[] = {"", "Alice", "1234", "a:b", "a/b", "a b", "a\nb",
		"-x", "abcdefghijklmnopqrstuvwxyz0123456", "root\n"};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(k8s_store_ensure_user(st, f->cfg, bad[i], K8S_SRC_LOGIN, -1, &u, &err),
				 K8S_REFUSED);
		assert_null(u);
	}
	/* Names other NSS sources serve (here: files). */
	assert_int_equal(k8s_store_ensure_user(st, f->cfg, "root", K8S_SRC_LOGIN, -1, &u, &err), K8S_REFUSED);
	assert_string_equal(err.reason, "name used by another account source");
	assert_int_equal(k8s_store_ensure_user(st, f->cfg, "daemon", K8S_SRC_LOGIN, -1, &u, &err), K8S_REFUSED);
	if (getgrnam("users") != NULL && getpwnam("users") == NULL) {
		assert_int_equal(k8s_store_ensure_user(st, f->cfg, "users", K8S_SRC_LOGIN, -1, &u, &err),
				 K8S_REFUSED);
		assert_non_null(strstr(err.detail, "existing group"));
	}
	assert_int_equal(st->n_users, 0);
	k8s_store_close(st);
}

static void test_templated_vs_literal(void **state)
{
	struct fx *f = *state;
	struct k8s_mapped_group gs[] = {
		mg("shadow", 1),     /* templated: may never become the local shadow group */
		mg("adm", 0),        /* literal: the local group */
		mg("root", 0),       /* literal, but the root group is never granted */
		mg("k8s-new", 0),    /* literal, no such local group: the store defines it */
		mg("k8s-t", 1),      /* templated: store-defined */
		mg("bob", 1),        /* templated, but bob's private group */
	};
	struct k8s_store *st = open_w(f->store);
	struct k8s_store_user *u;
	struct k8s_identity id;
	struct k8s_err err;
	struct group *adm_gr = getgrnam("adm");
	gid_t adm;

	assert_non_null(adm_gr);
	adm = adm_gr->gr_gid;
	assert_non_null(getgrnam("shadow"));
	ident(&id, "alice@example.com", "u-1");
	k8s_err_clear(&err);
	assert_int_equal(k8s_store_ensure_user(st, f->cfg, "bob", K8S_SRC_LOGIN, -1, &u, &err), K8S_OK);
	assert_int_equal(k8s_store_record_login(st, f->cfg, "alice", "tokenreview:uid:u-1", &id, gs, 6,
						time(NULL), &err), K8S_OK);
	/* Dropped mappings are reported, not silently ignored. */
	assert_string_equal(err.reason, "group mappings dropped");
	assert_non_null(strstr(err.detail, "shadow"));
	assert_non_null(strstr(err.detail, "root"));
	assert_non_null(strstr(err.detail, "bob"));
	u = k8s_store_find_user(st, "alice");
	assert_null(membership(u, "shadow"));
	assert_null(membership(u, "root"));
	assert_null(membership(u, "bob"));
	assert_int_equal(membership(u, "adm")->gid, adm);
	assert_int_equal(membership(u, "k8s-new")->gid, expected_id("k8s-new", 200000, 299999));
	assert_int_equal(membership(u, "k8s-t")->gid, expected_id("k8s-t", 200000, 299999));
	assert_null(k8s_store_find_group(st, "shadow"));
	assert_null(k8s_store_find_group(st, "adm"));
	assert_false(k8s_store_find_group(st, "k8s-new")->private_group);
	commit(st);
	k8s_store_close(st);
}

static void test_membership_sources(void **state)
{
	struct fx *f = *state;
	struct k8s_mapped_group l1[] = {mg("k8s-a", 1), mg("k8s-b", 1)};
	struct k8s_mapped_group s1[] = {mg("k8s-b", 1), mg("k8s-c", 1)};
	struct k8s_mapped_group l2[] = {mg("k8s-a", 1)};
	struct k8s_store *st = open_w(f->store);
	struct k8s_store_user *u;
	struct k8s_err err;

	assert_int_equal(k8s_store_ensure_user(st, f->cfg, "carl", K8S_SRC_LOGIN, -1, &u, &err), K8S_OK);
	assert_int_equal(k8s_store_set_memberships(st, f->cfg, u, K8S_SRC_LOGIN, l1, 2, &err), K8S_OK);
	assert_int_equal(k8s_store_set_memberships(st, f->cfg, u, K8S_SRC_SYNCED, s1, 2, &err), K8S_OK);
	assert_int_equal(membership(u, "k8s-b")->sources, K8S_SRC_LOGIN | K8S_SRC_SYNCED);
	/* A new login replaces only what logins taught. */
	assert_int_equal(k8s_store_set_memberships(st, f->cfg, u, K8S_SRC_LOGIN, l2, 1, &err), K8S_OK);
	assert_int_equal(u->n_groups, 3);
	assert_int_equal(membership(u, "k8s-a")->sources, K8S_SRC_LOGIN);
	assert_int_equal(membership(u, "k8s-b")->sources, K8S_SRC_SYNCED);
	assert_int_equal(membership(u, "k8s-c")->sources, K8S_SRC_SYNCED);
	commit(st);
	k8s_store_close(st);

	st = open_w(f->store);
	u = k8s_store_find_user(st, "carl");
	assert_int_equal(u->n_groups, 3);
	assert_int_equal(membership(u, "k8s-b")->sources, K8S_SRC_SYNCED);
	/* Sync forgets k8s-b and k8s-c: the groups, now empty, go at commit. */
	assert_int_equal(k8s_store_set_memberships(st, f->cfg, u, K8S_SRC_SYNCED, NULL, 0, &err), K8S_OK);
	assert_int_equal(u->n_groups, 1);
	commit(st);
	assert_null(k8s_store_find_group(st, "k8s-b"));
	assert_non_null(k8s_store_find_group(st, "k8s-a"));
	k8s_store_close(st);
}

static void test_forget(void **state)
{
	struct fx *f = *state;
	struct k8s_mapped_group gs[] = {mg("k8s-x", 1)};
	struct k8s_store *st = open_w(f->store);
	struct k8s_store_user *u;
	struct k8s_identity id;
	struct k8s_err err;
	uid_t first;

	ident(&id, "frank@example.com", "id-1");
	assert_int_equal(k8s_store_apply_declared(st, f->cfg, &err), K8S_OK);
	login(f, st, "dana", "tokenreview:uid:id-dana", gs, 1);
	login(f, st, "frank", "tokenreview:uid:id-1", gs, 1);
	first = k8s_store_find_user(st, "frank")->uid;
	commit(st);
	k8s_store_close(st);

	/* Another identity cannot take a bound account... */
	st = open_w(f->store);
	ident(&id, "frank@example.com", "id-2");
	assert_int_equal(k8s_store_record_login(st, f->cfg, "frank", "tokenreview:uid:id-2", &id, NULL, 0,
						time(NULL), &err), K8S_REFUSED);
	assert_string_equal(err.reason, "identity binding mismatch");
	/* ...until it is forgotten: same name, same uid (and the old files). */
	assert_int_equal(k8s_store_forget(st, "frank", &err), K8S_OK);
	assert_null(k8s_store_find_user(st, "frank"));
	assert_int_equal(k8s_store_forget(st, "dana", &err), K8S_OK);
	u = k8s_store_find_user(st, "dana");
	assert_non_null(u); /* declared: stays */
	assert_null(u->binding);
	assert_int_equal(u->sources, K8S_SRC_DECLARED);
	assert_int_equal(u->n_groups, 0);
	assert_int_equal(k8s_store_forget(st, "nobody-such", &err), K8S_REFUSED);
	commit(st);
	assert_null(k8s_store_find_group(st, "k8s-x"));
	assert_null(k8s_store_find_group(st, "frank"));
	k8s_store_close(st);

	st = open_w(f->store);
	assert_int_equal(k8s_store_record_login(st, f->cfg, "frank", "tokenreview:uid:id-2", &id, NULL, 0,
						time(NULL), &err), K8S_OK);
	assert_int_equal(k8s_store_find_user(st, "frank")->uid, first);
	assert_string_equal(k8s_store_find_user(st, "frank")->binding, "tokenreview:uid:id-2");
	commit(st);
	k8s_store_close(st);
}

static void test_declared(void **state)
{
	struct fx *f = *state;
	struct k8s_store *st = open_w(f->store);
	struct k8s_config *c2;
	struct k8s_store_user *u;
	struct k8s_err err;
	char text[512];
	int n;

	assert_int_equal(k8s_store_apply_declared(st, f->cfg, &err), K8S_OK);
	assert_int_equal(k8s_store_find_user(st, "dana")->uid, expected_id("dana", 200000, 299999));
	u = k8s_store_find_user(st, "erin");
	assert_int_equal(u->uid, 249999);
	assert_true(u->uid_pinned);
	/* A literal accounts.groups target that is no local group resolves
	 * before anyone logs in; sudo stays the local group. */
	assert_non_null(k8s_store_find_group(st, "k8s-ops"));
	assert_null(k8s_store_find_group(st, "sudo"));
	login(f, st, "erin", "tokenreview:uid:e", NULL, 0);
	commit(st);
	k8s_store_close(st);

	/* erin is no longer declared but logged in: stays; dana goes. */
	n = snprintf(text, sizeof(text), "accounts:\n  uidRange: [200000, 299999]\n"
		     "  gidRange: [200000, 299999]\n  declared: [{name: gus, uid: 249999}]\nstore: %s\n",
		     f->store);
	assert_int_equal(k8s_config_parse(text, (size_t)n, "c2.yaml", &c2, &err), K8S_OK);
	st = open_w(f->store);
	/* gus pins erin's uid: refused, nothing changes. */
	assert_int_equal(k8s_store_apply_declared(st, c2, &err), K8S_ECONFIG);
	assert_string_equal(err.reason, "pinned uid taken");
	k8s_store_close(st);
	k8s_config_free(c2);
	n = snprintf(text, sizeof(text), "accounts:\n  uidRange: [200000, 299999]\n"
		     "  gidRange: [200000, 299999]\n  declared: [{name: erin, uid: 240000}]\nstore: %s\n",
		     f->store);
	assert_int_equal(k8s_config_parse(text, (size_t)n, "c3.yaml", &c2, &err), K8S_OK);
	st = open_w(f->store);
	assert_int_equal(k8s_store_apply_declared(st, c2, &err), K8S_ECONFIG);
	assert_string_equal(err.reason, "pinned uid differs");
	k8s_store_close(st);
	k8s_config_free(c2);
	n = snprintf(text, sizeof(text), "accounts:\n  uidRange: [200000, 299999]\n"
		     "  gidRange: [200000, 299999]\nstore: %s\n", f->store);
	assert_int_equal(k8s_config_parse(text, (size_t)n, "c4.yaml", &c2, &err), K8S_OK);
	st = open_w(f->store);
	assert_int_equal(k8s_store_apply_declared(st, c2, &err), K8S_OK);
	assert_null(k8s_store_find_user(st, "dana"));
	assert_int_equal(k8s_store_find_user(st, "erin")->sources, K8S_SRC_LOGIN);
	commit(st);
	assert_null(k8s_store_find_group(st, "k8s-ops")); /* no longer declared, no members */
	k8s_store_close(st);
	k8s_config_free(c2);
}

static char *binding_of(const struct k8s_identity *id)
{
	struct k8s_err err;
	char *b = NULL;

	k8s_err_clear(&err);
	if (k8s_identity_binding(id, &b, &err) != K8S_OK)
		fail_msg("no binding: %s (%s)", err.reason, err.detail);
	return b;
}

static void binding_refused(const struct k8s_identity *id, const char *reason)
{
	struct k8s_err err;
	char *b = (char *)"x";

	k8s_err_clear(&err);
	assert_int_equal(k8s_identity_binding(id, &b, &err), K8S_REFUSED);
	assert_null(b);
	assert_string_equal(err.reason, reason);
}

static void test_binding(void **state)
{
	static char big[K8S_SF_STR_MAX + 2];
	struct k8s_identity id;
	char *b;

	ident(&id, "system:serviceaccount:ops:alice", "3f1c-77");
	b = binding_of(&id);
	assert_string_equal(b, "tokenreview:uid:3f1c-77");
	free(b);
	ident(&id, "alice", NULL);
	b = binding_of(&id);
	assert_string_equal(b, "tokenreview:user:alice");
	free(b);
	/* a service-account token validated offline: TokenReview's binding
	 * (the same uid), whatever the issuer and sub; no uid: nothing */
	memset(&id, 0, sizeof(id));
	id.method = "serviceaccount";
	id.issuer = "https://kubernetes.default.svc";
	id.subject = "system:serviceaccount:ops:alice";
	id.username = "system:serviceaccount:ops:alice";
	id.uid = "3f1c-77";
	b = binding_of(&id);
	assert_string_equal(b, "tokenreview:uid:3f1c-77");
	free(b);
	id.uid = NULL;
	binding_refused(&id, "no identity to bind");
	memset(&id, 0, sizeof(id));
	id.method = "jwt";
	id.issuer = "https://issuer.example.com";
	id.subject = "sub\n#1%";
	id.username = "alice";
	b = binding_of(&id);
	assert_string_equal(b, "jwt:https://issuer.example.com#sub%0A%231%25");
	free(b);
	id.uid = "uid-9";
	b = binding_of(&id);
	assert_string_equal(b, "jwt:https://issuer.example.com#uid-9");
	free(b);
	/* No uid and no (or an empty) sub: the username, which the apiserver
	 * took from another claim; never equal to a sub's binding. */
	id.uid = NULL;
	id.subject = NULL;
	b = binding_of(&id);
	assert_string_equal(b, "jwt:https://issuer.example.com#user#alice");
	free(b);
	id.subject = "";
	id.uid = "";
	id.username = "a#b";
	b = binding_of(&id);
	assert_string_equal(b, "jwt:https://issuer.example.com#user#a%23b");
	free(b);
	id.subject = "user#a#b";
	b = binding_of(&id);
	assert_string_equal(b, "jwt:https://issuer.example.com#user%23a%23b");
	free(b);
	id.subject = NULL;
	id.username = NULL;
	binding_refused(&id, "no identity to bind");
	id.username = "alice";
	id.issuer = NULL;
	binding_refused(&id, "no identity to bind");
	id.issuer = "https://issuer.example.com";
	id.method = "other";
	binding_refused(&id, "no identity to bind");
	ident(&id, "", NULL);
	binding_refused(&id, "no identity to bind");

	/* Longer than the store holds: refused, never "out of memory".  The
	 * limit is on the encoded form: 4096 bytes exactly fit. */
	memset(big, 'u', sizeof(big) - 1);
	big[K8S_SF_STR_MAX - 16] = '\0'; /* "tokenreview:uid:" + 4080 */
	ident(&id, "alice", big);
	b = binding_of(&id);
	assert_int_equal(strlen(b), K8S_SF_STR_MAX);
	free(b);
	big[K8S_SF_STR_MAX - 16] = 'u';
	big[K8S_SF_STR_MAX - 15] = '\0';
	binding_refused(&id, "identity too long to record");
	memset(&id, 0, sizeof(id));
	id.method = "jwt";
	id.issuer = "https://issuer.example.com";
	memset(big, '#', 1400); /* 4200 bytes encoded */
	big[1400] = '\0';
	id.subject = big;
	binding_refused(&id, "identity too long to record");
	id.subject = NULL;
	id.username = big;
	binding_refused(&id, "identity too long to record");
}

/* ----------------------------------------------------------- damage */

struct want {
	char name[40];
	uint32_t uid, gid;
	char home[64];
};

/* Any answer the reader gives for a known key is the right one. */
static void check_no_wrong_answer(const struct k8s_sfv *v, const struct want *w, size_t n)
{
	struct k8s_sf_user u;
	struct k8s_sf_group g;
	size_t i;
	uint32_t j;

	for (i = 0; i < n; i++) {
		if (k8s_sfv_user_by_name(v, w[i].name, &u) == 1) {
			assert_string_equal(u.name, w[i].name);
			assert_int_equal(u.uid, w[i].uid);
			assert_string_equal(u.home, w[i].home);
		}
		if (k8s_sfv_user_by_uid(v, w[i].uid, &u) == 1) {
			assert_string_equal(u.name, w[i].name);
			assert_int_equal(u.gid, w[i].gid);
		}
		if (k8s_sfv_group_by_gid(v, w[i].gid, &g) == 1) {
			assert_string_equal(g.name, w[i].name);
			assert_non_null(k8s_sf_strlist_next(&g.members));
		}
		if (k8s_sfv_group_by_name(v, w[i].name, &g) == 1)
			assert_int_equal(g.gid, w[i].gid);
	}
	for (j = 0; j < k8s_sfv_n_users(v) + 2; j++)
		if (k8s_sfv_user_at(v, j, &u))
			assert_true(u.uid >= 200000 && u.uid <= 299999);
	for (j = 0; j < k8s_sfv_n_groups(v) + 2; j++)
		if (k8s_sfv_group_at(v, j, &g))
			assert_non_null(g.name);
}

static size_t small_store(struct fx *f, struct want *w, size_t max)
{
	struct k8s_mapped_group gs[] = {mg("k8s-dev", 1)};
	struct k8s_store *st = open_w(f->store);
	struct k8s_store_user *u;
	size_t i;

	for (i = 0; i < max; i++) {
		snprintf(w[i].name, sizeof(w[i].name), "dmg%zu", i);
		login(f, st, w[i].name, "tokenreview:uid:x", gs, 1);
		u = k8s_store_find_user(st, w[i].name);
		w[i].uid = u->uid;
		w[i].gid = u->gid;
		snprintf(w[i].home, sizeof(w[i].home), "%s", u->home);
	}
	commit(st);
	k8s_store_close(st);
	return max;
}

static void test_bit_flips(void **state)
{
	struct fx *f = *state;
	struct want w[6];
	struct image im;
	struct k8s_sf sf;
	struct k8s_sfv v;
	size_t n = small_store(f, w, 6), pos;
	int bit, opened = 0;

	image_load(&im, f->store);
	for (pos = 0; pos < im.len; pos++) {
		for (bit = 0; bit < 8; bit += 3) {
			im.buf[pos] ^= (char)(1 << bit);
			if (k8s_sf_open(&sf, im.buf, im.len) == K8S_SF_OK) {
				opened++;
				assert_int_not_equal(k8s_sf_verify_body(&sf), K8S_SF_OK);
				k8s_sfv_attach(&v, &sf, NULL);
				check_no_wrong_answer(&v, w, n);
			}
			im.buf[pos] ^= (char)(1 << bit);
		}
	}
	assert_true(opened > 0);
	image_free(&im);
}

/* The delta is the newer layer: the NSS module verifies it whole, so a
 * flip anywhere in it must be caught by the header or body checksum. */
static void test_delta_bit_flips(void **state)
{
	struct fx *f = *state;
	struct want w[3];
	struct k8s_store *st;
	struct image im;
	struct k8s_sf sf;
	size_t pos;
	int bit;

	small_store(f, w, 3);
	st = open_w(f->store);
	login(f, st, "late", "tokenreview:uid:late", NULL, 0);
	assert_int_equal(k8s_store_forget(st, "dmg1", NULL), K8S_OK);
	commit(st);
	k8s_store_close(st);
	image_load(&im, f->store);
	assert_non_null(im.dbuf);
	for (pos = 0; pos < im.dlen; pos++)
		for (bit = 0; bit < 8; bit++) {
			im.dbuf[pos] ^= (char)(1 << bit);
			assert_false(k8s_sf_open(&sf, im.dbuf, im.dlen) == K8S_SF_OK &&
				     k8s_sf_verify_body(&sf) == K8S_SF_OK);
			im.dbuf[pos] ^= (char)(1 << bit);
		}
	image_free(&im);
}

static void test_truncated_and_half_written(void **state)
{
	struct fx *f = *state;
	struct want w[4];
	struct image im;
	struct k8s_sf sf;
	struct k8s_sfv v;
	size_t n = small_store(f, w, 4), len;
	char *copy;

	image_load(&im, f->store);
	for (len = 0; len < im.len; len++)
		assert_int_not_equal(k8s_sf_open(&sf, im.buf, len), K8S_SF_OK);
	/* A header promising more than the file has. */
	copy = calloc(1, im.len + 64);
	memcpy(copy, im.buf, im.len);
	assert_int_equal(k8s_sf_open(&sf, copy, im.len + 64), K8S_SF_ESIZE);
	/* Half-written: header and indexes there, records zeroed. */
	memset(copy + im.sf.rec_off + (im.len - im.sf.rec_off) / 2, 0, (im.len - im.sf.rec_off) / 2);
	assert_int_equal(k8s_sf_open(&sf, copy, im.len), K8S_SF_OK);
	assert_int_equal(k8s_sf_verify_body(&sf), K8S_SF_EBODY);
	k8s_sfv_attach(&v, &sf, NULL);
	check_no_wrong_answer(&v, w, n);
	free(copy);
	image_free(&im);
}

static void test_bad_record_is_a_miss(void **state)
{
	struct fx *f = *state;
	struct want w[3];
	struct image im;
	struct k8s_sf_user u;
	struct k8s_sf sf;
	struct k8s_sfv v;
	char *home;

	small_store(f, w, 3);
	image_load(&im, f->store);
	assert_int_equal(k8s_sfv_user_by_name(&im.v, "dmg1", &u), 1);
	/* Change dmg1's home in place without fixing its checksum. */
	home = (char *)(uintptr_t)u.home;
	home[1] = 'X';
	assert_int_equal(k8s_sf_open(&sf, im.buf, im.len), K8S_SF_OK);
	k8s_sfv_attach(&v, &sf, NULL);
	assert_int_equal(k8s_sfv_user_by_name(&v, "dmg1", &u), -1); /* damaged: not "free" */
	assert_int_equal(k8s_sfv_user_by_uid(&v, w[1].uid, &u), -1);
	assert_int_equal(k8s_sfv_user_by_name(&v, "dmg0", &u), 1);
	assert_int_equal(k8s_sfv_user_by_name(&v, "dmg2", &u), 1);
	image_free(&im);
}

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* A damaged record: logins of that name are refused (never taken for a
 * free name); sync salvages the rest and keeps the evidence; a reader
 * refuses a store whose header is damaged. */
static void test_writer_salvage(void **state)
{
	struct fx *f = *state;
	struct want w[3];
	struct k8s_store *st = NULL;
	struct k8s_store_user *u;
	struct k8s_sf_user v;
	struct k8s_err err;
	struct image im;
	char path[400], bad[400];
	struct stat sb;

	small_store(f, w, 3);
	image_load(&im, f->store);
	assert_int_equal(k8s_sfv_user_by_name(&im.v, "dmg2", &v), 1);
	((char *)(uintptr_t)v.home)[1] = 'X';
	snprintf(path, sizeof(path), "%s/identities.db", f->store);
	snprintf(bad, sizeof(bad), "%s/identities.db.corrupt", f->store);
	write_file(path, im.buf, im.len);

	st = open_w(f->store);
	k8s_err_clear(&err);
	assert_int_equal(k8s_store_ensure_user(st, f->cfg, "dmg2", K8S_SRC_LOGIN, -1, &u, &err),
			 K8S_UNAVAILABLE);
	assert_string_equal(err.reason, "identity store damaged");
	assert_non_null(k8s_store_find_user(st, "dmg1"));
	k8s_store_close(st);

	st = open_w(f->store);
	assert_int_equal(k8s_store_apply_declared(st, f->cfg, &err), K8S_OK); /* what sync does */
	assert_non_null(k8s_store_find_user(st, "dmg0"));
	assert_null(k8s_store_find_user(st, "dmg2"));
	commit(st);
	k8s_store_close(st);
	assert_int_equal(stat(bad, &sb), 0);
	assert_int_equal((size_t)sb.st_size, im.len);
	st = open_r(f->store);
	assert_int_equal(k8s_store_load_all(st, &err), K8S_OK);
	assert_int_equal(st->n_users, 4); /* dmg0, dmg1 + declared dana, erin */
	k8s_store_close(st);
	st = open_w(f->store); /* dmg2 can log in again: a new account */
	login(f, st, "dmg2", "tokenreview:uid:y", NULL, 0);
	k8s_store_close(st);

	/* Garbage: readers refuse, a writer starts from nothing. */
	write_file(path, "garbage", 7);
	assert_int_equal(k8s_store_open(f->store, 0, &st, &err), K8S_UNAVAILABLE);
	assert_null(st);
	k8s_err_clear(&err);
	assert_int_equal(k8s_store_open(f->store, 1, &st, &err), K8S_OK);
	assert_string_equal(err.reason, "identity store was damaged");
	assert_non_null(strstr(err.detail, "shorter than a header"));
	assert_int_equal(k8s_store_load_all(st, &err), K8S_OK);
	assert_int_equal(st->n_users, 0);
	k8s_store_close(st);
	image_free(&im);
}

/* ------------------------------------------------------------ delta */

static void file_id(const char *store, const char *file, struct stat *sb)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/%s", store, file);
	assert_int_equal(stat(path, sb), 0);
}

/* A login writes only the delta; the base stays; readers see both. */
static void test_delta_commit(void **state)
{
	struct fx *f = *state;
	struct k8s_mapped_group gs[] = {mg("k8s-a", 1)};
	struct k8s_store *st;
	struct k8s_store_user *u;
	struct k8s_sf_user v;
	struct k8s_sf_group g;
	struct stat b1, b2, d1, d2;
	struct image im;
	char name[32];
	uint32_t uid_x;
	int i;

	st = open_w(f->store);
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "x%d", i);
		login(f, st, name, "tokenreview:uid:b", gs, 1);
	}
	commit(st); /* no base yet: a compaction */
	k8s_store_close(st);
	file_id(f->store, "identities.db", &b1);
	file_id(f->store, "identities.delta", &d1);
	assert_true(d1.st_size == 128); /* empty delta for the new base */
	uid_x = expected_id("x7", 200000, 299999);

	st = open_w(f->store);
	login(f, st, "newbie", "tokenreview:uid:n", gs, 1);
	assert_int_equal(k8s_store_forget(st, "x7", NULL), K8S_OK);  /* removed: a tombstone */
	u = k8s_store_find_user(st, "x8");                        /* looked at, unchanged */
	assert_non_null(u);
	assert_non_null(k8s_store_find_uid(st, expected_id("x9", 200000, 299999)));
	commit(st);
	k8s_store_close(st);
	file_id(f->store, "identities.db", &b2);
	file_id(f->store, "identities.delta", &d2);
	assert_int_equal(b1.st_ino, b2.st_ino);  /* the base was not rewritten */
	assert_int_not_equal(d1.st_ino, d2.st_ino);
	assert_true(d2.st_size < 2048);          /* newbie, a tombstone, k8s-a: not x8/x9 */

	image_load(&im, f->store);
	assert_int_equal(k8s_sfv_user_by_name(&im.v, "newbie", &v), 1);
	assert_int_equal(k8s_sfv_user_by_name(&im.v, "x7", &v), 0);
	assert_int_equal(k8s_sfv_user_by_uid(&im.v, uid_x, &v), 0);
	assert_int_equal(k8s_sfv_group_by_name(&im.v, "x7", &g), 0);
	assert_int_equal(k8s_sfv_user_by_name(&im.v, "x8", &v), 1);
	assert_int_equal(k8s_sfv_group_by_name(&im.v, "k8s-a", &g), 1);
	assert_int_equal(g.n_members, 200); /* x7 left, newbie joined */
	image_free(&im);

	/* A second session carries the first delta's entries over. */
	st = open_w(f->store);
	login(f, st, "second", "tokenreview:uid:s", NULL, 0);
	commit(st);
	k8s_store_close(st);
	image_load(&im, f->store);
	assert_int_equal(k8s_sfv_user_by_name(&im.v, "newbie", &v), 1);
	assert_int_equal(k8s_sfv_user_by_name(&im.v, "second", &v), 1);
	assert_int_equal(k8s_sfv_user_by_name(&im.v, "x7", &v), 0);
	image_free(&im);

	/* The model reads through both layers. */
	st = open_r(f->store);
	assert_null(k8s_store_find_user(st, "x7"));
	assert_string_equal(k8s_store_find_user(st, "newbie")->binding, "tokenreview:uid:n");
	assert_int_equal(k8s_store_load_all(st, NULL), K8S_OK);
	assert_int_equal(st->n_users, 201);
	k8s_store_close(st);
}

static int login_at(struct fx *f, struct k8s_store *st, const char *local, const char *username,
		    const struct k8s_mapped_group *gs, size_t n, time_t when)
{
	struct k8s_identity id;

	ident(&id, username, NULL);
	return k8s_store_record_login(st, f->cfg, local, "tokenreview:uid:u", &id, gs, n, when, NULL);
}

/* A login that changes nothing NSS serves writes nothing: not the files,
 * not the generation; last_login moves by the hour.  Anything else that
 * changes commits, and in doubt (removals, new accounts) too. */
static void test_unchanged_login(void **state)
{
	struct fx *f = *state;
	struct k8s_mapped_group two[] = {mg("k8s-a", 1), mg("k8s-b", 1)}, one[] = {mg("k8s-a", 1)};
	const char *who = "system:serviceaccount:ops:someone";
	const time_t t0 = 1700000000;
	struct stat b1, d1, b2, d2;
	struct k8s_store *st;
	struct k8s_sf_user v;
	struct image im;
	uint64_t gen;

	st = open_w(f->store);
	assert_false(k8s_store_unchanged(st)); /* no base yet */
	assert_int_equal(login_at(f, st, "alice", who, two, 2, t0), K8S_OK);
	assert_false(k8s_store_unchanged(st));
	commit(st); /* alice in the base */
	k8s_store_close(st);
	st = open_w(f->store);
	assert_int_equal(login_at(f, st, "bob", who, one, 1, t0), K8S_OK);
	assert_false(k8s_store_unchanged(st)); /* a new account */
	commit(st); /* bob in the delta */
	gen = st->generation;
	k8s_store_close(st);
	file_id(f->store, "identities.db", &b1);
	file_id(f->store, "identities.delta", &d1);

	/* the same logins within the hour, in the base and in the delta */
	st = open_w(f->store);
	assert_int_equal(login_at(f, st, "alice", who, two, 2, t0 + 60), K8S_OK);
	assert_int_equal(login_at(f, st, "bob", who, one, 1, t0 + 3599), K8S_OK);
	assert_true(k8s_store_unchanged(st));
	assert_int_equal(k8s_store_find_user(st, "alice")->last_login, t0);
	k8s_store_close(st);
	file_id(f->store, "identities.db", &b2);
	file_id(f->store, "identities.delta", &d2);
	assert_int_equal(b1.st_ino, b2.st_ino);
	assert_int_equal(d1.st_ino, d2.st_ino);

	/* a file NSS would not serve (group-writable, another owner) or
	 * non-root lookups cannot read (0600) is rewritten by the next login
	 * even when nothing in it changes: the delta by a delta commit, the
	 * base by a compaction */
	{
		char path[400];
		const char *file[] = {"identities.delta", "identities.db"};
		struct stat sb;
		int k, how;

		for (k = 0; k < 2; k++)
			for (how = 0; how < (geteuid() == 0 ? 3 : 2); how++) {
				snprintf(path, sizeof(path), "%s/%s", f->store, file[k]);
				file_id(f->store, file[k], &b2);
				if (how < 2)
					assert_int_equal(chmod(path, how == 0 ? 0664 : 0600), 0);
				else
					assert_int_equal(chown(path, geteuid() + 1, (gid_t)-1), 0);
				st = open_w(f->store);
				assert_int_equal(login_at(f, st, "alice", who, two, 2, t0 + 60), K8S_OK);
				assert_false(k8s_store_unchanged(st));
				commit(st);
				k8s_store_close(st);
				assert_int_equal(stat(path, &sb), 0);
				assert_int_not_equal(sb.st_ino, b2.st_ino);
				assert_int_equal(sb.st_mode & 0777, 0644);
				assert_int_equal(sb.st_uid, geteuid());
				st = open_w(f->store); /* and then it is quiet again */
				assert_int_equal(login_at(f, st, "alice", who, two, 2, t0 + 60), K8S_OK);
				assert_true(k8s_store_unchanged(st));
				k8s_store_close(st);
			}
	}

	/* each of these is a change */
	st = open_w(f->store);
	assert_int_equal(login_at(f, st, "alice", who, two, 2, t0 + 3600), K8S_OK);
	assert_false(k8s_store_unchanged(st)); /* an hour later: last_login moves */
	k8s_store_close(st);
	st = open_w(f->store);
	assert_int_equal(login_at(f, st, "alice", who, two, 2, t0 - 5), K8S_OK);
	assert_false(k8s_store_unchanged(st)); /* a clock set back: last_login follows it */
	k8s_store_close(st);
	st = open_w(f->store);
	assert_int_equal(login_at(f, st, "alice", who, one, 1, t0 + 60), K8S_OK);
	assert_false(k8s_store_unchanged(st)); /* a group less */
	k8s_store_close(st);
	st = open_w(f->store);
	assert_int_equal(login_at(f, st, "bob", "system:serviceaccount:ops:other", one, 1, t0 + 60), K8S_OK);
	assert_false(k8s_store_unchanged(st)); /* shown under another cluster name */
	k8s_store_close(st);
	st = open_w(f->store);
	assert_int_equal(login_at(f, st, "alice", who, two, 2, t0 + 60), K8S_OK);
	assert_int_equal(k8s_store_forget(st, "bob", NULL), K8S_OK);
	assert_false(k8s_store_unchanged(st)); /* a removal */
	k8s_store_close(st);
	st = open_r(f->store);
	assert_false(k8s_store_unchanged(st)); /* not opened for writing */
	k8s_store_close(st);

	/* after a 'no', the commit writes what changed (the check left the
	 * model as a commit expects it) */
	st = open_w(f->store);
	gen = st->generation;
	assert_int_equal(login_at(f, st, "alice", who, one, 1, t0 + 60), K8S_OK);
	assert_false(k8s_store_unchanged(st));
	commit(st);
	assert_true(st->generation > gen);
	k8s_store_close(st);
	image_load(&im, f->store);
	assert_int_equal(k8s_sfv_user_by_name(&im.v, "alice", &v), 1);
	assert_int_equal(v.n_memberships, 1);
	assert_int_equal(v.last_login, t0);
	assert_int_equal(k8s_sfv_user_by_name(&im.v, "bob", &v), 1);
	image_free(&im);
}

/* The delta may grow to 1/8 of the base (at least 256 KiB); then the
 * commit compacts: a new base and an empty delta. */
static void test_compaction(void **state)
{
	struct fx *f = *state;
	struct k8s_store *st;
	struct stat b1, b2, d;
	struct image im;
	struct k8s_sf_user v;
	char name[32];
	int i, round;

	st = open_w(f->store);
	login(f, st, "seed", "tokenreview:uid:seed", NULL, 0);
	commit(st);
	k8s_store_close(st);
	file_id(f->store, "identities.db", &b1);
	/* ~250 bytes per login: 256 KiB is about 1000 logins. */
	for (round = 0; round < 16; round++) {
		st = open_w(f->store);
		for (i = 0; i < 100; i++) {
			snprintf(name, sizeof(name), "c%d.%d", round, i);
			login(f, st, name, "tokenreview:uid:cccccccccccccccccccccccccccccccccccc", NULL, 0);
		}
		commit(st);
		k8s_store_close(st);
	}
	file_id(f->store, "identities.db", &b2);
	file_id(f->store, "identities.delta", &d);
	assert_int_not_equal(b1.st_ino, b2.st_ino);
	assert_true(d.st_size < 256 * 1024);
	image_load(&im, f->store);
	for (round = 0; round < 16; round++) {
		snprintf(name, sizeof(name), "c%d.%d", round, 99);
		assert_int_equal(k8s_sfv_user_by_name(&im.v, name, &v), 1);
	}
	assert_int_equal(k8s_sfv_user_by_name(&im.v, "seed", &v), 1);
	image_free(&im);
}

/* An allowExisting account: a record with binding and memberships that
 * lookups by name find (flagged), and nothing else serves. */
static void check_existing_image(struct fx *f, int present, uint32_t x_gid)
{
	struct k8s_sf_user v;
	struct k8s_sf_group g;
	struct image im;
	uint32_t i, gid, src, n, word;
	int saw_sudo = 0, saw_x = 0;
	const char *m;

	image_load(&im, f->store);
	if (!present) {
		assert_int_equal(k8s_sfv_user_by_name(&im.v, "exist1", &v), 0);
		image_free(&im);
		return;
	}
	assert_int_equal(k8s_sfv_user_by_name(&im.v, "exist1", &v), 1);
	assert_true(v.existing);
	assert_int_equal(v.uid, 0);
	assert_int_equal(v.gid, 0);
	/* uid 0 on disk: a first-format reader takes the record for damage */
	word = k8s_sf_ld32(v.record + K8S_SF_U_UID);
	assert_int_equal(word, 0);
	assert_string_equal(v.binding, "tokenreview:uid:ex-a");
	for (i = 0; i < v.n_memberships; i++) {
		k8s_sf_membership(&v, i, &gid, &src);
		saw_sudo |= gid == 27;
		saw_x |= gid == x_gid;
		assert_int_equal(src, K8S_SRC_LOGIN);
	}
	assert_true(saw_sudo && saw_x);
	/* no private group, no uid entry, not enumerated */
	assert_int_equal(k8s_sfv_group_by_name(&im.v, "exist1", &g), 0);
	assert_int_equal(k8s_sfv_user_by_uid(&im.v, 0, &v), 0);
	n = k8s_sfv_n_users(&im.v);
	for (i = 0; i < n; i++)
		if (k8s_sfv_user_at(&im.v, i, &v))
			assert_string_not_equal(v.name, "exist1");
	/* a store group lists it as a member */
	assert_int_equal(k8s_sfv_group_by_name(&im.v, "k8s-x", &g), 1);
	saw_x = 0;
	while ((m = k8s_sf_strlist_next(&g.members)) != NULL)
		saw_x |= strcmp(m, "exist1") == 0;
	assert_true(saw_x);
	image_free(&im);
}

static void test_existing_account(void **state)
{
	struct fx *f = *state;
	struct k8s_mapped_group gs[] = {mg("sudo", 0), mg("k8s-x", 1)};
	struct k8s_store *st = open_w(f->store);
	struct k8s_store_user *u = NULL;
	struct k8s_identity id;
	struct k8s_err err;
	uint32_t x_gid;

	login(f, st, "seed", "tokenreview:uid:seed", NULL, 0);
	commit(st);
	k8s_store_close(st);

	st = open_w(f->store);
	assert_int_equal(k8s_store_ensure_existing(st, "exist1", &u, &err), K8S_OK);
	assert_non_null(u);
	assert_int_equal(u->sources, K8S_SRC_EXISTING);
	login(f, st, "exist1", "tokenreview:uid:ex-a", gs, 2);
	u = k8s_store_find_user(st, "exist1");
	assert_int_equal(u->sources, K8S_SRC_EXISTING | K8S_SRC_LOGIN);
	assert_int_equal(u->uid, 0);
	assert_null(k8s_store_find_uid(st, 0));
	assert_null(k8s_store_find_group(st, "exist1"));
	x_gid = (uint32_t)k8s_store_find_group(st, "k8s-x")->gid;
	/* a store account cannot take the name, nor an existing one a store account's */
	assert_int_equal(k8s_store_ensure_user(st, f->cfg, "exist1", K8S_SRC_SYNCED, -1, &u, &err),
			 K8S_REFUSED);
	assert_int_equal(k8s_store_ensure_existing(st, "seed", &u, &err), K8S_REFUSED);
	commit(st); /* a delta */
	k8s_store_close(st);
	check_existing_image(f, 1, x_gid);

	/* another identity under the same name is refused */
	st = open_w(f->store);
	ident(&id, "system:serviceaccount:ops:other", "ex-b");
	assert_int_equal(k8s_store_record_login(st, f->cfg, "exist1", "tokenreview:uid:ex-b", &id, NULL, 0,
						time(NULL), &err), K8S_REFUSED);
	assert_string_equal(err.reason, "identity binding mismatch");
	/* compaction keeps it (it is in no uid index that load_all walks) */
	assert_int_equal(k8s_store_load_all(st, &err), K8S_OK);
	commit(st);
	k8s_store_close(st);
	check_existing_image(f, 1, x_gid);

	/* forget removes the record whole, and the group it alone was in */
	st = open_w(f->store);
	assert_int_equal(k8s_store_forget(st, "exist1", &err), K8S_OK);
	assert_null(k8s_store_find_user(st, "exist1"));
	commit(st);
	k8s_store_close(st);
	check_existing_image(f, 0, x_gid);
	st = open_r(f->store);
	assert_null(k8s_store_find_group(st, "k8s-x"));
	assert_non_null(k8s_store_find_user(st, "seed"));
	k8s_store_close(st);

	/* sync drops the record of a name accounts.allowExisting no longer lists */
	st = open_w(f->store);
	assert_int_equal(k8s_store_ensure_existing(st, "exist1", &u, &err), K8S_OK);
	login(f, st, "exist1", "tokenreview:uid:ex-a", gs, 2);
	commit(st);
	k8s_store_close(st);
	st = open_w(f->store);
	assert_int_equal(k8s_store_apply_declared(st, f->cfg, &err), K8S_OK);
	assert_null(k8s_store_find_user(st, "exist1"));
	commit(st);
	k8s_store_close(st);
	check_existing_image(f, 0, x_gid);
}

/* A delta written for another base is not used: stale (older base) is
 * normal after a crash mid-compaction, anything else is damage. */
static void test_delta_pairing(void **state)
{
	struct fx *f = *state;
	struct k8s_store *st;
	struct k8s_err err;
	char *old_delta, dpath[400];
	size_t olen;

	st = open_w(f->store);
	login(f, st, "p1", "tokenreview:uid:p1", NULL, 0);
	commit(st);
	k8s_store_close(st);
	st = open_w(f->store);
	login(f, st, "p2", "tokenreview:uid:p2", NULL, 0);
	commit(st);          /* delta with p2 */
	k8s_store_close(st);
	old_delta = read_store_file(f->store, "identities.delta", &olen);
	assert_non_null(old_delta);
	st = open_w(f->store);
	assert_int_equal(k8s_store_load_all(st, &err), K8S_OK);
	commit(st);          /* compaction: p1 and p2 in the base */
	k8s_store_close(st);
	snprintf(dpath, sizeof(dpath), "%s/identities.delta", f->store);
	write_file(dpath, old_delta, olen);  /* as if the empty delta never landed */
	st = open_r(f->store);
	assert_non_null(k8s_store_find_user(st, "p2"));
	k8s_store_close(st);
	/* A delta that is not one at all. */
	write_file(dpath, "garbage", 7);
	assert_int_equal(k8s_store_open(f->store, 0, &st, &err), K8S_UNAVAILABLE);
	free(old_delta);
}

static void test_lock(void **state)
{
	struct fx *f = *state;
	struct k8s_store *st;
	struct timespec t0, t1;
	int p[2], status;
	pid_t pid;
	char c;
	double ms;

	st = open_w(f->store); /* creates the directory */
	k8s_store_close(st);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct k8s_store *cst = NULL;
		struct k8s_err err;

		if (k8s_store_open(f->store, 1, &cst, &err) != K8S_OK)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		usleep(400 * 1000);
		k8s_store_close(cst);
		_exit(0);
	}
	assert_int_equal(read(p[0], &c, 1), 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	st = open_w(f->store);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_true(ms >= 200);
	k8s_store_close(st);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(p[0]);
	close(p[1]);
}

static void test_readonly_and_unsafe_dir(void **state)
{
	struct fx *f = *state;
	struct k8s_store *st = NULL;
	struct k8s_err err;

	/* A missing store reads as empty and cannot be committed. */
	st = open_r(f->store);
	assert_int_equal(st->n_users, 0);
	assert_int_equal(k8s_store_commit(st, &err), K8S_ECONFIG);
	k8s_store_close(st);
	assert_int_equal(mkdir(f->store, 0777), 0);
	assert_int_equal(chmod(f->store, 0777), 0);
	assert_int_equal(k8s_store_open(f->store, 1, &st, &err), K8S_ECONFIG);
	assert_string_equal(err.reason, "unsafe store directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_and_enumeration, setup, teardown),
		cmocka_unit_test(test_preauth_name_pid),
		cmocka_unit_test(test_preauth_k8s_last),
		cmocka_unit_test_setup_teardown(test_preauth_predict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_templated_vs_literal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_membership_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_declared, setup, teardown),
		cmocka_unit_test(test_binding),
		cmocka_unit_test_setup_teardown(test_bit_flips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_bit_flips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_and_half_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_record_is_a_miss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_salvage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_account, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_pairing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_and_unsafe_dir, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
