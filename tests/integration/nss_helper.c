/* nss_helper: what the NSS integration tests need beyond the CLI.
 *
 *   nss_helper login CONFIG LOCAL BINDING CLUSTER_USER [GROUP[:t]...]
 *        what a successful login records (k8s_store_record_login), then
 *        commit; ":t" marks a templated mapped group
 *   nss_helper synced CONFIG LOCAL [GROUP[:t]...]
 *        an account and memberships from source "synced"
 *   nss_helper write-loop CONFIG N
 *        N commits: stable<i%50> logs in again, "flip" alternates between
 *        k8s-even and k8s-odd; every 100th commit compacts
 *   nss_helper read-loop STOPFILE
 *        through glibc (getpwnam_r, getpwuid_r, getgrnam_r, getgrouplist,
 *        getpwent) until STOPFILE exists: every answer must be whole and
 *        right for the accounts the write-loop never removes; prints
 *        "lookups N errors M", exits 1 on any error
 *   nss_helper exit-race USER GROUP
 *        a thread loops getpwnam_r/getgrnam_r/getgrouplist (USER and GROUP
 *        must resolve) while main calls exit() as soon as it has seen a few
 *        answers: the module's exit-time code runs while another thread is
 *        inside it.  Exits 0, or 1 when an answer was wrong before exit
 * The store is the config's `store:`. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "identity.h"
#include "mapping.h"
#include "store.h"

#define NSTABLE 50

static struct k8s_config *load(const char *path)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;

	if (k8s_config_load(path, &cfg, &err) != K8S_OK) {
		fprintf(stderr, "config: %s\n", err.detail);
		exit(2);
	}
	return cfg;
}

static struct k8s_mapped_group *groups_of(char **argv, int n)
{
	struct k8s_mapped_group *g = calloc((size_t)n + 1, sizeof(*g));
	char *colon;
	int i;

	for (i = 0; g != NULL && i < n; i++) {
		snprintf(g[i].name, sizeof(g[i].name), "%s", argv[i]);
		colon = strchr(g[i].name, ':');
		if (colon != NULL && strcmp(colon, ":t") == 0) {
			*colon = '\0';
			g[i].templated = 1;
		}
	}
	return g;
}

static int report(int rc, const struct k8s_err *err)
{
	if (rc != K8S_OK)
		fprintf(stderr, "nss_helper: %s (%s)\n", err->detail, err->reason);
	else if (err->reason[0] != '\0')
		fprintf(stderr, "nss_helper: warning: %s\n", err->detail);
	return rc;
}

static int record(struct k8s_store *st, const struct k8s_config *cfg, const char *local,
		  const char *binding, const char *user, const struct k8s_mapped_group *g, size_t n,
		  time_t when, struct k8s_err *err)
{
	struct k8s_identity id;

	memset(&id, 0, sizeof(id));
	id.method = "tokenreview";
	id.username = (char *)user;
	return k8s_store_record_login(st, cfg, local, binding, &id, g, n, when, err);
}

static int cmd_login(int argc, char **argv)
{
	struct k8s_config *cfg = load(argv[2]);
	struct k8s_mapped_group *g = groups_of(argv + 6, argc - 6);
	struct k8s_store *st = NULL;
	struct k8s_err err;
	int rc;

	k8s_err_clear(&err);
	rc = k8s_store_open(cfg->store, 1, &st, &err);
	if (rc == K8S_OK)
		rc = record(st, cfg, argv[3], argv[4], argv[5], g, (size_t)(argc - 6), time(NULL), &err);
	if (rc == K8S_OK && err.reason[0] != '\0')
		report(rc, &err);
	if (rc == K8S_OK)
		rc = k8s_store_commit(st, &err);
	report(rc, &err);
	k8s_store_close(st);
	k8s_config_free(cfg);
	free(g);
	return rc;
}

static int cmd_synced(int argc, char **argv)
{
	struct k8s_config *cfg = load(argv[2]);
	struct k8s_mapped_group *g = groups_of(argv + 4, argc - 4);
	struct k8s_store *st = NULL;
	struct k8s_store_user *u;
	struct k8s_err err;
	int rc;

	k8s_err_clear(&err);
	rc = k8s_store_open(cfg->store, 1, &st, &err);
	if (rc == K8S_OK)
		rc = k8s_store_ensure_user(st, cfg, argv[3], K8S_SRC_SYNCED, -1, &u, &err);
	if (rc == K8S_OK)
		rc = k8s_store_set_memberships(st, cfg, u, K8S_SRC_SYNCED, g, (size_t)(argc - 4), &err);
	if (rc == K8S_OK)
		rc = k8s_store_commit(st, &err);
	report(rc, &err);
	k8s_store_close(st);
	k8s_config_free(cfg);
	free(g);
	return rc;
}

static int write_one(const struct k8s_config *cfg, int i, struct k8s_err *err)
{
	struct k8s_mapped_group all, flip;
	struct k8s_store *st = NULL;
	char name[32];
	int rc;

	memset(&all, 0, sizeof(all));
	memset(&flip, 0, sizeof(flip));
	snprintf(all.name, sizeof(all.name), "k8s-all");
	all.templated = 1;
	snprintf(flip.name, sizeof(flip.name), "%s", i % 2 ? "k8s-odd" : "k8s-even");
	flip.templated = 1;
	snprintf(name, sizeof(name), "stable%d", i % NSTABLE);
	rc = k8s_store_open(cfg->store, 1, &st, err);
	if (rc == K8S_OK)
		rc = record(st, cfg, name, "tokenreview:uid:stable", name, &all, 1, 1700000000 + i, err);
	if (rc == K8S_OK)
		rc = record(st, cfg, "flip", "tokenreview:uid:flip", "flip", &flip, 1, 1700000000 + i, err);
	if (rc == K8S_OK && i % 100 == 99)
		rc = k8s_store_load_all(st, err);
	if (rc == K8S_OK)
		rc = k8s_store_commit(st, err);
	k8s_store_close(st);
	return rc;
}

static int cmd_write_loop(char **argv)
{
	struct k8s_config *cfg = load(argv[2]);
	struct k8s_err err;
	int i, n = atoi(argv[3]), rc = K8S_OK;

	k8s_err_clear(&err);
	for (i = 0; i < n && rc == K8S_OK; i++)
		rc = write_one(cfg, i, &err);
	report(rc, &err);
	printf("commits %d\n", i);
	k8s_config_free(cfg);
	return rc;
}

/* ---------------------------------------------------------- readers */

struct expect {
	uid_t uid[NSTABLE];
	gid_t gid[NSTABLE];
	gid_t even, odd, all;
};

static long errors;

static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void bad(const char *fmt, ...)
{
	va_list ap;

	if (errors++ < 10) {
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
}

static int expectations(struct expect *e)
{
	struct group *g;
	struct passwd *p;
	char name[32];
	int k;

	for (k = 0; k < NSTABLE; k++) {
		snprintf(name, sizeof(name), "stable%d", k);
		p = getpwnam(name);
		if (p == NULL)
			return -1;
		e->uid[k] = p->pw_uid;
		e->gid[k] = p->pw_gid;
	}
	if ((g = getgrnam("k8s-all")) == NULL)
		return -1;
	e->all = g->gr_gid;
	if ((g = getgrnam("k8s-even")) == NULL)
		return -1;
	e->even = g->gr_gid;
	if ((g = getgrnam("k8s-odd")) == NULL)
		return -1;
	e->odd = g->gr_gid;
	return 0;
}

static void check_user(const struct expect *e, int k, char *buf, size_t len)
{
	struct passwd pw, *r = NULL;
	struct group gr, *gres = NULL;
	char name[32], home[64];
	int rc;

	snprintf(name, sizeof(name), "stable%d", k);
	snprintf(home, sizeof(home), "/home/%s", name);
	rc = getpwnam_r(name, &pw, buf, len, &r);
	if (rc != 0 || r == NULL || pw.pw_uid != e->uid[k] || strcmp(pw.pw_dir, home) != 0 ||
	    strcmp(pw.pw_passwd, "*") != 0)
		bad("getpwnam %s: wrong or missing (rc %d)", name, rc);
	rc = getpwuid_r(e->uid[k], &pw, buf, len, &r);
	if (rc != 0 || r == NULL || strcmp(pw.pw_name, name) != 0)
		bad("getpwuid %s: wrong or missing (rc %d)", name, rc);
	rc = getgrgid_r(e->gid[k], &gr, buf, len, &gres);
	if (rc != 0 || gres == NULL || strcmp(gr.gr_name, name) != 0 || gr.gr_mem[0] == NULL ||
	    strcmp(gr.gr_mem[0], name) != 0 || gr.gr_mem[1] != NULL)
		bad("getgrgid %s: wrong or missing (rc %d)", name, rc);
}

static void check_groups(const struct expect *e, char *buf, size_t len)
{
	struct group gr, *gres = NULL;
	gid_t list[64];
	int n = 64, i, even = 0, odd = 0, rc, members = 0;

	if (getgrouplist("flip", 1, list, &n) < 0)
		bad("getgrouplist flip: too many groups (%d)", n);
	for (i = 0; i < n; i++) {
		even += list[i] == e->even;
		odd += list[i] == e->odd;
	}
	if (even + odd != 1)
		bad("getgrouplist flip: in %d of k8s-even/k8s-odd", even + odd);
	rc = getgrnam_r("k8s-all", &gr, buf, len, &gres);
	for (i = 0; rc == 0 && gres != NULL && gr.gr_mem[i] != NULL; i++)
		members += strncmp(gr.gr_mem[i], "stable", 6) == 0;
	if (rc != 0 || gres == NULL || gr.gr_gid != e->all || members != NSTABLE)
		bad("getgrnam k8s-all: %d stable members", members);
}

static void check_enumeration(void)
{
	unsigned char seen[NSTABLE];
	struct passwd *p;
	long n = 0;
	int k;

	memset(seen, 0, sizeof(seen));
	setpwent();
	while ((p = getpwent()) != NULL) {
		if (sscanf(p->pw_name, "stable%d", &k) == 1 && k >= 0 && k < NSTABLE) {
			if (seen[k]++)
				bad("getpwent %s: listed twice", p->pw_name);
			n++;
		}
	}
	endpwent();
	if (n != NSTABLE)
		bad("getpwent: %ld stable accounts", n);
}

static int cmd_read_loop(char **argv)
{
	static char buf[1 << 16];
	struct expect e;
	long lookups = 0, i;

	if (expectations(&e) != 0) {
		fprintf(stderr, "read-loop: the accounts are not there to begin with\n");
		return 1;
	}
	for (i = 0; access(argv[2], F_OK) != 0; i++) {
		check_user(&e, (int)(i % NSTABLE), buf, sizeof(buf));
		check_groups(&e, buf, sizeof(buf));
		lookups += 5;
		if (i % 500 == 0) {
			check_enumeration();
			lookups++;
		}
	}
	printf("lookups %ld errors %ld\n", lookups, errors);
	return errors != 0;
}

/* ------------------------------------------------------ exit race */

static const char *race_user, *race_group;
static long race_answers;

static void *race_thread(void *arg)
{
	static char buf[1 << 14];
	struct passwd pw, *pr;
	struct group gr, *grr;
	gid_t list[64];
	int n;

	for (;;) {
		pr = NULL;
		grr = NULL;
		n = 64;
		if (getpwnam_r(race_user, &pw, buf, sizeof(buf), &pr) != 0 || pr == NULL ||
		    getgrnam_r(race_group, &gr, buf, sizeof(buf), &grr) != 0 || grr == NULL ||
		    getgrouplist(race_user, 1, list, &n) < 2)
			_exit(1); /* wrong before exit began: not what is tested */
		__atomic_add_fetch(&race_answers, 1, __ATOMIC_RELEASE);
	}
	return arg;
}

static int cmd_exit_race(char **argv)
{
	struct timespec ts = {0, 0};
	pthread_t t;

	race_user = argv[2];
	race_group = argv[3];
	if (pthread_create(&t, NULL, race_thread, NULL) != 0)
		return 2;
	while (__atomic_load_n(&race_answers, __ATOMIC_ACQUIRE) < 3)
		nanosleep(&ts, NULL);
	/* now the thread is in a lookup most of the time */
	ts.tv_nsec = (long)(getpid() % 50) * 1000;
	nanosleep(&ts, NULL);
	exit(0);
}

int main(int argc, char **argv)
{
	if (argc >= 6 && strcmp(argv[1], "login") == 0)
		return cmd_login(argc, argv);
	if (argc >= 4 && strcmp(argv[1], "synced") == 0)
		return cmd_synced(argc, argv);
	if (argc == 4 && strcmp(argv[1], "write-loop") == 0)
		return cmd_write_loop(argv);
	if (argc == 3 && strcmp(argv[1], "read-loop") == 0)
		return cmd_read_loop(argv);
	if (argc == 4 && strcmp(argv[1], "exit-race") == 0)
		return cmd_exit_race(argv);
	fprintf(stderr, "usage: see the comment at the top of nss_helper.c\n");
	return 2;
}
