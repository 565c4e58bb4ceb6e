/* nss_bench: the program bench/b_nss.sh drives.
 *   nss_bench gen DIR N          a store of N logged-in accounts in DIR/store, and the same
 *                                accounts as DIR/passwd and DIR/group (after /etc's lines)
 *   nss_bench update DIR RUNS    time a login's store update (open+lock+load, record, commit)
 *   nss_bench compact DIR        time a compaction (what k8s-auth sync does to the files)
 *   nss_bench lookup NAME UID GROUP GID ITER
 *                                ns per getpwnam_r, getpwuid_r, getgrnam_r, getgrgid_r,
 *                                getgrouplist through the process's NSS configuration
 *   nss_bench direct NAME UID GROUP GID ITER
 *                                the same calls straight into libnss_k8s.so.2 (dlopen),
 *                                without glibc's NSS layer; and one stat() for scale
 * Built by b_nss.sh against build/libk8scommon.a. */
#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "identity.h"
#include "mapping.h"
#include "store.h"

#define RUNS 7

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static struct k8s_config *bench_cfg(const char *store)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;
	char text[512];
	int n;

	n = snprintf(text, sizeof(text), "accounts:\n  uidRange: [200000, 999999]\n"
		     "  gidRange: [200000, 999999]\nstore: %s\n", store);
	if (k8s_config_parse(text, (size_t)n, "bench.yaml", &cfg, &err) != K8S_OK) {
		fprintf(stderr, "config: %s\n", err.detail);
		exit(2);
	}
	return cfg;
}

/* Account i: a service account with a uid binding, in one of 100 teams. */
static int login_one(struct k8s_store *st, const struct k8s_config *cfg, const char *local,
		     unsigned i, time_t when, struct k8s_err *err)
{
	struct k8s_mapped_group g;
	struct k8s_identity id;
	char user[128], uid[64], binding[96];

	memset(&id, 0, sizeof(id));
	memset(&g, 0, sizeof(g));
	snprintf(user, sizeof(user), "system:serviceaccount:bench:%s", local);
	snprintf(uid, sizeof(uid), "%08x-0000-4000-8000-%012x", i, i * 7919u);
	snprintf(binding, sizeof(binding), "tokenreview:uid:%s", uid);
	snprintf(g.name, sizeof(g.name), "k8s-team%u", i % 100);
	g.templated = 1;
	id.method = "tokenreview";
	id.username = user;
	id.uid = uid;
	return k8s_store_record_login(st, cfg, local, binding, &id, &g, 1, when, err);
}

static int write_files(const char *dir, struct k8s_store *st)
{
	char path[512];
	FILE *pw, *gr;
	size_t i, j;
	int rc = 0;

	snprintf(path, sizeof(path), "cp /etc/passwd %s/passwd && cp /etc/group %s/group", dir, dir);
	if (system(path) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/passwd", dir);
	pw = fopen(path, "a");
	snprintf(path, sizeof(path), "%s/group", dir);
	gr = fopen(path, "a");
	if (pw == NULL || gr == NULL)
		return -1;
	for (i = 0; i < st->n_users; i++) {
		const struct k8s_store_user *u = st->users[i];

		fprintf(pw, "%s:*:%u:%u:%s:%s:%s\n", u->name, (unsigned)u->uid, (unsigned)u->gid,
			u->gecos, u->home, u->shell);
	}
	for (i = 0; i < st->n_groups; i++) {
		const struct k8s_store_group *g = st->groups[i];
		int first = 1;

		fprintf(gr, "%s:*:%u:", g->name, (unsigned)g->gid);
		if (g->private_group)
			fprintf(gr, "%s", g->name);
		for (j = 0; !g->private_group && j < st->n_users; j++)
			if (st->users[j]->n_groups > 0 && strcmp(st->users[j]->groups[0].group, g->name) == 0) {
				fprintf(gr, "%s%s", first ? "" : ",", st->users[j]->name);
				first = 0;
			}
		fputc('\n', gr);
	}
	if (fclose(pw) != 0)
		rc = -1;
	if (fclose(gr) != 0)
		rc = -1;
	return rc;
}

static int gen(const char *dir, unsigned n)
{
	char store[512], name[32];
	struct k8s_config *cfg;
	struct k8s_store *st = NULL;
	struct k8s_err err;
	unsigned i;
	int rc;

	snprintf(store, sizeof(store), "%s/store", dir);
	cfg = bench_cfg(store);
	rc = k8s_store_open(store, 1, &st, &err);
	for (i = 0; rc == K8S_OK && i < n; i++) {
		snprintf(name, sizeof(name), "u%07u", i);
		rc = login_one(st, cfg, name, i, 1700000000 + i, &err);
	}
	if (rc == K8S_OK)
		rc = k8s_store_commit(st, &err);
	if (rc == K8S_OK && write_files(dir, st) != 0)
		rc = 1;
	if (rc != K8S_OK)
		fprintf(stderr, "gen: %s\n", err.detail);
	k8s_store_close(st);
	k8s_config_free(cfg);
	return rc;
}

/* A login of a new account each run (the expensive case: allocation with
 * NSS lookups, a new private group), measured end to end. */
static int update(const char *dir, int runs)
{
	double total[64], load[64], commit[64], t0, t1, t2;
	char store[512], name[32];
	struct k8s_config *cfg;
	struct k8s_store *st = NULL;
	struct k8s_err err;
	int r, rc = 0;

	snprintf(store, sizeof(store), "%s/store", dir);
	cfg = bench_cfg(store);
	if (runs > 64)
		runs = 64;
	for (r = 0; r < runs && rc == 0; r++) {
		snprintf(name, sizeof(name), "upd%d.%d", (int)getpid(), r);
		t0 = now_ns();
		rc = k8s_store_open(store, 1, &st, &err);
		t1 = now_ns();
		if (rc == K8S_OK)
			rc = login_one(st, cfg, name, 9000000u + (unsigned)r, time(NULL), &err);
		t2 = now_ns();
		if (rc == K8S_OK)
			rc = k8s_store_commit(st, &err);
		k8s_store_close(st);
		st = NULL;
		total[r] = (now_ns() - t0) / 1e6;
		load[r] = (t1 - t0) / 1e6;
		commit[r] = (now_ns() - t2) / 1e6;
	}
	if (rc != 0)
		fprintf(stderr, "update: %s\n", err.detail);
	else
		printf("update_ms %.1f load_ms %.1f commit_ms %.1f\n", median(total, runs),
		       median(load, runs), median(commit, runs));
	k8s_config_free(cfg);
	return rc;
}

static int compact(const char *dir)
{
	char store[512];
	struct k8s_store *st = NULL;
	struct k8s_err err;
	double t0 = now_ns();
	int rc;

	snprintf(store, sizeof(store), "%s/store", dir);
	rc = k8s_store_open(store, 1, &st, &err);
	if (rc == K8S_OK)
		rc = k8s_store_load_all(st, &err);
	if (rc == K8S_OK)
		rc = k8s_store_commit(st, &err);
	k8s_store_close(st);
	if (rc != K8S_OK)
		fprintf(stderr, "compact: %s\n", err.detail);
	else
		printf("compact_ms %.1f\n", (now_ns() - t0) / 1e6);
	return rc;
}

enum op { PWNAM, PWUID, GRNAM, GRGID, INITGROUPS };

static int one(enum op op, const char *name, uid_t uid, const char *group, gid_t gid,
	       char *buf, size_t len)
{
	struct passwd pw, *pr = NULL;
	struct group gr, *grr = NULL;
	gid_t groups[256];
	int ng = 256;

	switch (op) {
	case PWNAM: return getpwnam_r(name, &pw, buf, len, &pr) == 0 && pr != NULL;
	case PWUID: return getpwuid_r(uid, &pw, buf, len, &pr) == 0 && pr != NULL;
	case GRNAM: return getgrnam_r(group, &gr, buf, len, &grr) == 0 && grr != NULL;
	case GRGID: return getgrgid_r(gid, &gr, buf, len, &grr) == 0 && grr != NULL;
	default: return getgrouplist(name, (gid_t)uid, groups, &ng) >= 1 && ng >= 1;
	}
}

static int lookup(const char *name, uid_t uid, const char *group, gid_t gid, int iter)
{
	static const char *label[] = {"getpwnam", "getpwuid", "getgrnam", "getgrgid", "initgroups"};
	static char buf[1 << 20];
	double v[RUNS], t0;
	int op, r, i, ok = 1;

	for (op = PWNAM; op <= INITGROUPS; op++) {
		ok &= one((enum op)op, name, uid, group, gid, buf, sizeof(buf)); /* warm up, check */
		for (r = 0; r < RUNS; r++) {
			t0 = now_ns();
			for (i = 0; i < iter; i++)
				one((enum op)op, name, uid, group, gid, buf, sizeof(buf));
			v[r] = (now_ns() - t0) / iter;
		}
		printf("%s %.0f\n", label[op], median(v, RUNS));
	}
	if (!ok)
		printf("error not-found\n");
	return ok ? 0 : 1;
}

typedef enum nss_status (*pwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*pwuid_fn)(uid_t, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*grnam_fn)(const char *, struct group *, char *, size_t, int *);
typedef enum nss_status (*grgid_fn)(gid_t, struct group *, char *, size_t, int *);
typedef enum nss_status (*initgroups_fn)(const char *, gid_t, long *, long *, gid_t **, long, int *);

static int direct(const char *name, uid_t uid, const char *group, gid_t gid, int iter)
{
	static const char *label[] = {"getpwnam", "getpwuid", "getgrnam", "getgrgid", "initgroups", "stat"};
	static char buf[1 << 20];
	void *h = dlopen("libnss_k8s.so.2", RTLD_NOW);
	pwnam_fn pwnam;
	pwuid_fn pwuid;
	grnam_fn grnam;
	grgid_fn grgid;
	initgroups_fn ig;
	struct passwd pw;
	struct group gr;
	struct stat sb;
	double v[RUNS], t0;
	long start, size;
	gid_t *gl = malloc(64 * sizeof(*gl));
	int op, r, i, e;

	if (h == NULL || gl == NULL) {
		fprintf(stderr, "direct: %s\n", dlerror());
		return 1;
	}
	pwnam = (pwnam_fn)dlsym(h, "_nss_k8s_getpwnam_r");
	pwuid = (pwuid_fn)dlsym(h, "_nss_k8s_getpwuid_r");
	grnam = (grnam_fn)dlsym(h, "_nss_k8s_getgrnam_r");
	grgid = (grgid_fn)dlsym(h, "_nss_k8s_getgrgid_r");
	ig = (initgroups_fn)dlsym(h, "_nss_k8s_initgroups_dyn");
	if (!pwnam || !pwuid || !grnam || !grgid || !ig)
		return 1;
	for (op = 0; op < 6; op++) {
		for (r = 0; r < RUNS; r++) {
			t0 = now_ns();
			for (i = 0; i < iter; i++) {
				switch (op) {
				case 0: pwnam(name, &pw, buf, sizeof(buf), &e); break;
				case 1: pwuid(uid, &pw, buf, sizeof(buf), &e); break;
				case 2: grnam(group, &gr, buf, sizeof(buf), &e); break;
				case 3: grgid(gid, &gr, buf, sizeof(buf), &e); break;
				case 4:
					start = 1;
					size = 64;
					gl[0] = gid;
					ig(name, gid, &start, &size, &gl, 0, &e);
					break;
				default: stat("/etc/nsswitch.conf", &sb); break;
				}
			}
			v[r] = (now_ns() - t0) / iter;
		}
		printf("%s %.0f\n", label[op], median(v, RUNS));
	}
	free(gl);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "gen") == 0)
		return gen(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "update") == 0)
		return update(argv[2], atoi(argv[3]));
	if (argc == 7 && strcmp(argv[1], "direct") == 0)
		return direct(argv[2], (uid_t)strtoul(argv[3], NULL, 10), argv[4],
			      (gid_t)strtoul(argv[5], NULL, 10), atoi(argv[6]));
	if (argc == 3 && strcmp(argv[1], "compact") == 0)
		return compact(argv[2]);
	if (argc == 7 && strcmp(argv[1], "lookup") == 0)
		return lookup(argv[2], (uid_t)strtoul(argv[3], NULL, 10), argv[4],
			      (gid_t)strtoul(argv[5], NULL, 10), atoi(argv[6]));
	fprintf(stderr, "usage: nss_bench gen DIR N | update DIR RUNS | compact DIR | "
		"lookup|direct NAME UID GROUP GID ITER\n");
	return 2;
}
