/* What tests/valgrind-nss.sh runs under valgrind: every entry point of
 * libnss_k8s through glibc, the too-small-buffer path, initgroups growing
 * a small array, enumeration, lookups from threads, and a store replaced
 * between lookups (argv[1] is a shell command that commits a change).
 * Exits non-zero when an answer is wrong. */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "valgrind-nss: wrong: %s\n", what);
		failures++;
	}
}

static void lookups(void)
{
	struct passwd pw, *pr = NULL;
	struct group gr, *grr = NULL;
	char small[8], buf[4096];
	gid_t *groups;
	int n = 1, rc;
	uid_t uid;

	check(getpwnam_r("alice", &pw, buf, sizeof(buf), &pr) == 0 && pr != NULL, "getpwnam alice");
	uid = pr != NULL ? pw.pw_uid : 0;
	check(getpwuid_r(uid, &pw, buf, sizeof(buf), &pr) == 0 && pr && !strcmp(pw.pw_name, "alice"),
	      "getpwuid alice");
	rc = getpwnam_r("alice", &pw, small, sizeof(small), &pr);
	check(rc == ERANGE && pr == NULL, "getpwnam with a small buffer is ERANGE");
	check(getgrnam_r("k8s-web", &gr, buf, sizeof(buf), &grr) == 0 && grr && gr.gr_mem[0] &&
	      !strcmp(gr.gr_mem[0], "alice"), "getgrnam k8s-web");
	rc = getgrnam_r("k8s-web", &gr, small, sizeof(small), &grr);
	check(rc == ERANGE && grr == NULL, "getgrnam with a small buffer is ERANGE");
	check(getgrgid_r(uid, &gr, buf, sizeof(buf), &grr) == 0 && grr && !strcmp(gr.gr_name, "alice"),
	      "getgrgid private group");
	check(getpwnam_r("nosuchuser", &pw, buf, sizeof(buf), &pr) == 0 && pr == NULL, "unknown user");
	groups = malloc(sizeof(*groups));
	if (groups != NULL && getgrouplist("alice", uid, groups, &n) == -1 && n >= 4) {
		gid_t *more = realloc(groups, (size_t)n * sizeof(*groups));

		if (more != NULL) {
			groups = more;
			check(getgrouplist("alice", uid, groups, &n) >= 4, "getgrouplist alice");
		}
	} else {
		check(0, "getgrouplist reports the groups a small array cannot hold");
	}
	free(groups);
}

static void enumerate(void)
{
	struct passwd *p;
	struct group *g;
	int users = 0, grps = 0;

	setpwent();
	while ((p = getpwent()) != NULL)
		users += p->pw_uid >= 200000;
	endpwent();
	setgrent();
	while ((g = getgrent()) != NULL)
		grps += g->gr_gid >= 200000;
	endgrent();
	check(users >= 3 && grps >= 5, "enumeration");
}

static void *thread_main(void *arg)
{
	int i;

	for (i = 0; i < 50; i++)
		lookups();
	return arg;
}

/* First login's pre-authentication path (VG_PREAUTH=NAME: the script made
 * this program "sshd" in the policy file): served, as "x", and a buffer
 * too small is ERANGE before anything is recorded. */
static void preauth(void)
{
	const char *name = getenv("VG_PREAUTH");
	char buf[1024], small[8];
	struct passwd pw, *pr = NULL;
	uid_t uid = 0;
	int i, rc;

	if (name == NULL)
		return;
	for (i = 0; i < 3; i++) {
		rc = getpwnam_r(name, &pw, buf, sizeof(buf), &pr);
		check(rc == 0 && pr != NULL && strcmp(pw.pw_passwd, "x") == 0 && pw.pw_uid >= 1000,
		      "pre-auth entry served");
		if (pr != NULL)
			uid = pw.pw_uid;
		rc = getpwnam_r(name, &pw, small, sizeof(small), &pr);
		check(rc == ERANGE && pr == NULL, "pre-auth entry with a small buffer is ERANGE");
	}
	check(uid != 0 && getpwuid_r(uid, &pw, buf, sizeof(buf), &pr) == 0 && pr == NULL,
	      "no pre-auth entry by uid");
}

int main(int argc, char **argv)
{
	pthread_t t[3];
	int i;

	if (getenv("VG_PREAUTH") != NULL) { /* that path alone: this process is "sshd" */
		preauth();
		return failures != 0;
	}
	lookups();
	enumerate();
	for (i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, thread_main, NULL);
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	if (argc > 1 && system(argv[1]) != 0)
		check(0, "the commit between lookups");
	lookups();
	enumerate();
	check(getpwnam("late") != NULL, "the account committed between lookups");
	return failures != 0;
}
