/* Unit tests of libnss_k8s.so.2's entry points, called directly (dlopen of
 * the module this build made, store moved by K8S_AUTH_STORE): glibc's
 * buffer and errno contract, initgroups_dyn's growth contract, enumeration
 * with a too-small buffer, and stores that change, vanish, are damaged or
 * are not root's. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <nss.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "identity.h"
#include "mapping.h"
#include "store.h"
#include "storefmt.h"

typedef enum nss_status (*pwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*pwuid_fn)(uid_t, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*grnam_fn)(const char *, struct group *, char *, size_t, int *);
typedef enum nss_status (*grgid_fn)(gid_t, struct group *, char *, size_t, int *);
typedef enum nss_status (*setent_fn)(int);
typedef enum nss_status (*endent_fn)(void);
typedef enum nss_status (*pwent_fn)(struct passwd *, char *, size_t, int *);
typedef enum nss_status (*grent_fn)(struct group *, char *, size_t, int *);
typedef enum nss_status (*initgroups_fn)(const char *, gid_t, long *, long *, gid_t **, long, int *);

static struct {
	pwnam_fn getpwnam;
	pwuid_fn getpwuid;
	grnam_fn getgrnam;
	grgid_fn getgrgid;
	setent_fn setpwent, setgrent;
	endent_fn endpwent, endgrent;
	pwent_fn getpwent;
	grent_fn getgrent;
	initgroups_fn initgroups;
} m;

static char dir[256], store[300];
static struct k8s_config *cfg;
static uid_t alice_uid;
static gid_t adm_gid, ka_gid, kb_gid;

static struct k8s_mapped_group mg(const char *name, int templated)
{
	struct k8s_mapped_group g;

	memset(&g, 0, sizeof(g));
	snprintf(g.name, sizeof(g.name), "%s", name);
	g.templated = templated;
	return g;
}

static void login(const char *name, const struct k8s_mapped_group *gs, size_t n)
{
	struct k8s_store *st = NULL;
	struct k8s_identity id;
	struct k8s_err err;

	memset(&id, 0, sizeof(id));
	id.method = "tokenreview";
	id.username = (char *)name;
	assert_int_equal(k8s_store_open(store, 1, &st, &err), K8S_OK);
	assert_int_equal(k8s_store_record_login(st, cfg, name, "tokenreview:uid:x", &id, gs, n,
						time(NULL), &err), K8S_OK);
	assert_int_equal(k8s_store_commit(st, &err), K8S_OK);
	k8s_store_close(st);
}

/* An allowExisting account's record: memberships only. */
static void login_existing(const char *name, const struct k8s_mapped_group *gs, size_t n)
{
	struct k8s_store *st = NULL;
	struct k8s_store_user *u;
	struct k8s_identity id;
	struct k8s_err err;

	memset(&id, 0, sizeof(id));
	id.method = "tokenreview";
	id.username = (char *)name;
	assert_int_equal(k8s_store_open(store, 1, &st, &err), K8S_OK);
	assert_int_equal(k8s_store_ensure_existing(st, name, &u, &err), K8S_OK);
	assert_int_equal(k8s_store_record_login(st, cfg, name, "tokenreview:uid:ex", &id, gs, n,
						time(NULL), &err), K8S_OK);
	assert_int_equal(k8s_store_commit(st, &err), K8S_OK);
	k8s_store_close(st);
}

static void bump_stamp(void)
{
	char path[400];
	uint64_t v = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/identities.stamp", store);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &v, 8, 0), 8);
	v++;
	assert_int_equal(pwrite(fd, &v, 8, 0), 8);
	close(fd);
}

static void *sym(void *h, const char *name)
{
	void *p = dlsym(h, name);

	if (p == NULL)
		fail_msg("%s missing from libnss_k8s.so.2", name);
	return p;
}

static int setup(void **state)
{
	struct k8s_mapped_group gs[] = {mg("adm", 0), mg("k8s-a", 1), mg("k8s-b", 1)};
	char exe[PATH_MAX], so[PATH_MAX + 32], text[512];
	struct k8s_err err;
	struct group *g;
	ssize_t n;
	void *h;
	int len;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(so, sizeof(so), "%s/libnss_k8s.so.2", exe);
	h = dlopen(so, RTLD_NOW);
	if (h == NULL)
		fail_msg("dlopen %s: %s", so, dlerror());
	m.getpwnam = (pwnam_fn)sym(h, "_nss_k8s_getpwnam_r");
	m.getpwuid = (pwuid_fn)sym(h, "_nss_k8s_getpwuid_r");
	m.getgrnam = (grnam_fn)sym(h, "_nss_k8s_getgrnam_r");
	m.getgrgid = (grgid_fn)sym(h, "_nss_k8s_getgrgid_r");
	m.setpwent = (setent_fn)sym(h, "_nss_k8s_setpwent");
	m.endpwent = (endent_fn)sym(h, "_nss_k8s_endpwent");
	m.getpwent = (pwent_fn)sym(h, "_nss_k8s_getpwent_r");
	m.setgrent = (setent_fn)sym(h, "_nss_k8s_setgrent");
	m.endgrent = (endent_fn)sym(h, "_nss_k8s_endgrent");
	m.getgrent = (grent_fn)sym(h, "_nss_k8s_getgrent_r");
	m.initgroups = (initgroups_fn)sym(h, "_nss_k8s_initgroups_dyn");
	assert_null(dlsym(h, "k8s_sf_open")); /* the reader stays private */

	snprintf(dir, sizeof(dir), "/tmp/k8s-nssmod.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(store, sizeof(store), "%s/store", dir);
	len = snprintf(text, sizeof(text), "accounts:\n  uidRange: [200000, 999999]\n"
		       "  gidRange: [200000, 999999]\nstore: %s\n", store);
	assert_int_equal(k8s_config_parse(text, (size_t)len, "m.yaml", &cfg, &err), K8S_OK);
	login("alice", gs, 3);
	login("bob", gs + 2, 1);
	login_existing("exist1", gs, 2);
	assert_int_equal(setenv("K8S_AUTH_STORE", store, 1), 0);
	g = getgrnam("adm");
	assert_non_null(g);
	adm_gid = g->gr_gid;
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	char cmd[400];

	k8s_config_free(cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void test_passwd(void **state)
{
	struct passwd pw;
	char buf[256];
	int e = 0;
	size_t need;

	assert_int_equal(m.getpwnam("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
	assert_string_equal(pw.pw_name, "alice");
	assert_string_equal(pw.pw_passwd, "*");
	assert_string_equal(pw.pw_gecos, "alice");
	assert_string_equal(pw.pw_dir, "/home/alice");
	assert_string_equal(pw.pw_shell, "/bin/bash");
	assert_int_equal(pw.pw_gid, pw.pw_uid);
	alice_uid = pw.pw_uid;
	need = strlen("alice") * 2 + strlen("/home/alice") + strlen("/bin/bash") + 4 + 2;
	/* Exactly enough, then one byte short. */
	assert_int_equal(m.getpwnam("alice", &pw, buf, need, &e), NSS_STATUS_SUCCESS);
	e = 0;
	assert_int_equal(m.getpwnam("alice", &pw, buf, need - 1, &e), NSS_STATUS_TRYAGAIN);
	assert_int_equal(e, ERANGE);
	e = 0;
	assert_int_equal(m.getpwnam("nobody-here", &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
	assert_int_equal(e, ENOENT);
	assert_int_equal(m.getpwnam("Alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
	assert_int_equal(m.getpwnam("", &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
	assert_int_equal(m.getpwuid(alice_uid, &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
	assert_string_equal(pw.pw_name, "alice");
	assert_int_equal(m.getpwuid(0, &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
}

static void test_group(void **state)
{
	struct group gr;
	char buf[512];
	int e = 0, off;

	/* Any alignment of the caller's buffer. */
	for (off = 0; off < 8; off++) {
		assert_int_equal(m.getgrnam("k8s-b", &gr, buf + off, sizeof(buf) - 8, &e), NSS_STATUS_SUCCESS);
		assert_string_equal(gr.gr_name, "k8s-b");
		assert_string_equal(gr.gr_mem[0], "alice");
		assert_string_equal(gr.gr_mem[1], "bob");
		assert_null(gr.gr_mem[2]);
		assert_int_equal((uintptr_t)gr.gr_mem % sizeof(char *), 0);
	}
	kb_gid = gr.gr_gid;
	assert_int_equal(m.getgrnam("k8s-a", &gr, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
	ka_gid = gr.gr_gid;
	e = 0;
	assert_int_equal(m.getgrnam("k8s-b", &gr, buf, 40, &e), NSS_STATUS_TRYAGAIN);
	assert_int_equal(e, ERANGE);
	assert_int_equal(m.getgrgid(alice_uid, &gr, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
	assert_string_equal(gr.gr_name, "alice");
	assert_string_equal(gr.gr_mem[0], "alice");
	assert_null(gr.gr_mem[1]);
	assert_int_equal(m.getgrnam("adm", &gr, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
	assert_int_equal(e, ENOENT);
}

static int count(const gid_t *g, long n, gid_t want)
{
	int c = 0;
	long i;

	for (i = 0; i < n; i++)
		c += g[i] == want;
	return c;
}

static void test_initgroups(void **state)
{
	long start = 1, size = 1;
	gid_t *g = malloc(sizeof(*g));
	int e = 0;

	g[0] = alice_uid;
	assert_int_equal(m.initgroups("alice", alice_uid, &start, &size, &g, 0, &e), NSS_STATUS_SUCCESS);
	assert_int_equal(start, 4);
	assert_true(size >= 4);
	assert_int_equal(count(g, start, adm_gid), 1);
	assert_int_equal(count(g, start, ka_gid), 1);
	assert_int_equal(count(g, start, kb_gid), 1);
	/* The `group` argument is skipped, gids already there are not repeated. */
	start = 2;
	g[0] = alice_uid;
	g[1] = adm_gid;
	assert_int_equal(m.initgroups("alice", ka_gid, &start, &size, &g, 0, &e), NSS_STATUS_SUCCESS);
	assert_int_equal(start, 3);
	assert_int_equal(count(g, start, ka_gid), 0);
	assert_int_equal(count(g, start, adm_gid), 1);
	free(g);
	/* Never past a positive limit. */
	g = malloc(sizeof(*g));
	g[0] = alice_uid;
	start = 1;
	size = 1;
	assert_int_equal(m.initgroups("alice", alice_uid, &start, &size, &g, 2, &e), NSS_STATUS_SUCCESS);
	assert_int_equal(start, 2);
	assert_int_equal(size, 2);
	free(g);
	e = 0;
	start = 0;
	assert_int_equal(m.initgroups("nobody-here", 1, &start, &size, &g, 0, &e), NSS_STATUS_NOTFOUND);
	assert_int_equal(e, ENOENT);
}

/* An existing account's record: no passwd entry, no private group, but
 * its memberships through initgroups (glibc merges every service's). */
static void test_existing(void **state)
{
	long start = 1, size = 1;
	gid_t *g = malloc(sizeof(*g));
	struct passwd pw;
	struct group gr;
	char buf[512];
	int e = 0, i, seen = 0;

	assert_int_equal(m.getpwnam("exist1", &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
	assert_int_equal(e, ENOENT);
	assert_int_equal(m.getpwuid(0, &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
	assert_int_equal(m.getgrnam("exist1", &gr, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
	assert_int_equal(m.getgrgid(0, &gr, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
	assert_int_equal(m.getgrnam("k8s-a", &gr, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
	for (i = 0; gr.gr_mem[i] != NULL; i++)
		seen |= strcmp(gr.gr_mem[i], "exist1") == 0;
	assert_true(seen);
	g[0] = 100;
	assert_int_equal(m.initgroups("exist1", 100, &start, &size, &g, 0, &e), NSS_STATUS_SUCCESS);
	assert_int_equal(start, 3);
	assert_int_equal(count(g, start, adm_gid), 1);
	assert_int_equal(count(g, start, ka_gid), 1);
	free(g);
}

static void test_enumeration(void **state)
{
	struct passwd pw;
	struct group gr;
	char buf[512];
	int e, users = 0, groups = 0, st;

	assert_int_equal(m.setpwent(0), NSS_STATUS_SUCCESS);
	e = 0;
	assert_int_equal(m.getpwent(&pw, buf, 4, &e), NSS_STATUS_TRYAGAIN);
	assert_int_equal(e, ERANGE);
	while ((st = m.getpwent(&pw, buf, sizeof(buf), &e)) == NSS_STATUS_SUCCESS)
		users++;
	assert_int_equal(st, NSS_STATUS_NOTFOUND);
	assert_int_equal(users, 2); /* the short buffer did not cost an entry */
	assert_int_equal(m.endpwent(), NSS_STATUS_SUCCESS);
	m.setgrent(0);
	while (m.getgrent(&gr, buf, sizeof(buf), &e) == NSS_STATUS_SUCCESS)
		groups++;
	m.endgrent();
	assert_int_equal(groups, 4); /* alice, bob, k8s-a, k8s-b */
}

static void test_store_changes(void **state)
{
	struct passwd pw;
	char buf[256], path[400], keep[400];
	int e = 0;

	login("carol", NULL, 0);
	assert_int_equal(m.getpwnam("carol", &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
	/* Not root's: refused, as if absent. */
	snprintf(path, sizeof(path), "%s/identities.db", store);
	assert_int_equal(chown(path, 1000, 1000), 0);
	bump_stamp();
	assert_int_equal(m.getpwnam("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
	assert_int_equal(chown(path, 0, 0), 0);
	assert_int_equal(chmod(path, 0666), 0);
	bump_stamp();
	assert_int_equal(m.getpwnam("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
	assert_int_equal(chmod(path, 0644), 0);
	bump_stamp();
	assert_int_equal(m.getpwnam("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_SUCCESS);
	/* Gone: not found, not an error. */
	snprintf(keep, sizeof(keep), "%s/keep.db", dir);
	assert_int_equal(rename(path, keep), 0);
	bump_stamp();
	assert_int_equal(m.getpwnam("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
	assert_int_equal(e, ENOENT);
	assert_int_equal(truncate(keep, 200), 0);
	assert_int_equal(rename(keep, path), 0);
	bump_stamp();
	assert_int_equal(m.getpwnam("alice", &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
	assert_int_equal(m.getpwuid(alice_uid, &pw, buf, sizeof(buf), &e), NSS_STATUS_NOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passwd),
		cmocka_unit_test(test_group),
		cmocka_unit_test(test_initgroups),
		cmocka_unit_test(test_existing),
		cmocka_unit_test(test_enumeration),
		cmocka_unit_test(test_store_changes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
