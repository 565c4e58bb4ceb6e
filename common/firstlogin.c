/* firstlogin.c: the helper's side of first login (preauth.h,
 * docs/security.md "First login for people granted through a group"):
 * the policy file that turns libnss_k8s's pre-authentication answers on
 * and off, the records of what it served, and their sweep. */
#include "decide.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "preauth.h"
#include "procstat.h"

/* A root-owned 0700 directory, created when missing.  0 or -1. */
static int root_dir(const char *path)
{
	struct stat sb;

	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	if (lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != 0 || (sb.st_mode & 077) != 0)
		return -1;
	return 0;
}

/* k8s_write_file_at, when the line differs from the file's; its temp
 * files a killed helper leaves behind go in k8s_preauth_gc. */
static int write_policy(const char *line, size_t len)
{
	char cur[K8S_PREAUTH_FILE + 1];
	ssize_t n;
	int dfd, rc = 0;

	if (root_dir(K8S_RUNDIR) != 0 || root_dir(K8S_PREAUTH_DIR) != 0)
		return -1;
	dfd = open(K8S_PREAUTH_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	n = k8s_preauth_read(dfd, K8S_PREAUTH_POLICY, cur, sizeof(cur));
	if (n != (ssize_t)len || memcmp(cur, line, len) != 0)
		rc = k8s_write_file_at(dfd, K8S_PREAUTH_POLICY, line, len, 0600, NULL);
	close(dfd);
	return rc;
}

int k8s_preauth_policy_line(const struct k8s_config *cfg, char *line, size_t size)
{
	struct k8s_preauth_policy p;

	memset(&p, 0, sizeof(p));
	p.uid_min = cfg->accounts.uid_min;
	p.uid_max = cfg->accounts.uid_max;
	p.gid_min = cfg->accounts.gid_min;
	p.gid_max = cfg->accounts.gid_max;
	snprintf(p.sshd, sizeof(p.sshd), "%s", K8S_SSHD_PATH);
	if (snprintf(p.shell, sizeof(p.shell), "%s", cfg->accounts.shell) >= (int)sizeof(p.shell) ||
	    snprintf(p.home, sizeof(p.home), "%s", cfg->accounts.home) >= (int)sizeof(p.home))
		return -1;
	return k8s_preauth_policy_format(&p, line, size);
}

int k8s_preauth_sync_policy(const struct k8s_config *cfg, struct k8s_err *err)
{
	char line[K8S_PREAUTH_FILE];
	int n;

	if (geteuid() != 0)
		return K8S_OK;
	if (cfg == NULL || !cfg->login.first_login) {
		if (unlink(K8S_PREAUTH_DIR "/" K8S_PREAUTH_POLICY) != 0 && errno != ENOENT && errno != ENOTDIR)
			return k8s_err_set(err, K8S_UNAVAILABLE, "cannot turn first login off",
					   "removing %s/%s: %s", K8S_PREAUTH_DIR, K8S_PREAUTH_POLICY,
					   strerror(errno));
		return K8S_OK;
	}
	if ((n = k8s_preauth_policy_line(cfg, line, sizeof(line))) < 0) {
		(void)unlink(K8S_PREAUTH_DIR "/" K8S_PREAUTH_POLICY);
		return k8s_err_set(err, K8S_ECONFIG, "first login unusable",
				   "login.firstLogin: accounts.home and accounts.shell must be absolute "
				   "paths of printable characters without spaces");
	}
	if (write_policy(line, (size_t)n) != 0) {
		(void)unlink(K8S_PREAUTH_DIR "/" K8S_PREAUTH_POLICY);
		return k8s_err_set(err, K8S_UNAVAILABLE, "first login unusable",
				   "cannot write %s/%s (must be a root-owned 0700 directory)",
				   K8S_PREAUTH_DIR, K8S_PREAUTH_POLICY);
	}
	return K8S_OK;
}

/* The record p.<pid>, if it is still that process's: 1 (e filled),
 * 0 none, -1 present but unreadable or malformed. */
static int served_by(int dfd, pid_t pid, struct k8s_preauth_entry *e)
{
	char name[32], buf[K8S_PREAUTH_FILE + 1];
	unsigned long long start;
	ssize_t n;

	snprintf(name, sizeof(name), "p.%ld", (long)pid);
	n = k8s_preauth_read(dfd, name, buf, sizeof(buf));
	if (n < 0)
		return errno == ENOENT ? 0 : -1;
	if (k8s_preauth_entry_parse(buf, (size_t)n, e) != 0)
		return -1;
	/* a record of a dead process whose pid came back is not this one's */
	if (k8s_proc_stat(pid, &start, NULL) != 0 || start != e->start)
		return 0;
	return 1;
}

int k8s_preauth_served(pid_t caller, const char *user, struct k8s_preauth_entry *e)
{
	struct k8s_proc me;
	pid_t pids[2] = { caller, 0 };
	int dfd, i, r, rc = 0;

	memset(e, 0, sizeof(*e));
	/* entries are served to root's sshd alone: a caller the helper runs
	 * for with its own, non-root ids (a screen locker) never had one, and
	 * could not read the root-only records anyway */
	if (caller <= 0 || geteuid() != 0)
		return 0;
	dfd = open(K8S_PREAUTH_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -1;
	if (k8s_proc_get(caller, &me, &pids[1]) != 0)
		pids[1] = 0;
	for (i = 0; i < 2 && rc == 0; i++) {
		if (pids[i] <= 1)
			continue;
		r = served_by(dfd, pids[i], e);
		if (r < 0)
			rc = -1;
		else if (r > 0 && strcmp(e->name, user) == 0)
			rc = 1;
	}
	close(dfd);
	if (rc != 1)
		memset(e, 0, sizeof(*e));
	return rc;
}

void k8s_preauth_gc(void)
{
	struct k8s_preauth_entry e;
	struct dirent *de;
	struct stat sb;
	pid_t pid;
	int dfd, tmp;
	DIR *d;

	dfd = open(K8S_PREAUTH_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	/* records of processes that are gone (libnss_k8s sweeps these too);
	 * a live process's record is never removed for holding another
	 * start time: between reading it and unlinking it, the process with
	 * that pid may have renamed its own record into place */
	(void)k8s_preauth_sweep_dead(dfd);
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "." K8S_PREAUTH_POLICY ".", sizeof(K8S_PREAUTH_POLICY) + 1) == 0 &&
		    k8s_is_temp_name(de->d_name)) {
			/* write_policy's, of a helper killed while writing */
			if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
			    sb.st_mtime + 60 < time(NULL))
				(void)unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (strncmp(de->d_name, "p.", 2) != 0)
			continue;
		pid = k8s_preauth_name_pid(de->d_name, &tmp);
		/* not a record's name, or a record nobody can read */
		if (pid <= 1 || tmp || served_by(dfd, pid, &e) < 0)
			(void)unlinkat(dfd, de->d_name, 0);
	}
	closedir(d);
}

int k8s_preauth_is_sshd(pid_t pid)
{
	struct stat exe, bin;
	char path[64];

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/exe", (long)pid);
	return stat(path, &exe) == 0 && stat(K8S_SSHD_PATH, &bin) == 0 && exe.st_dev == bin.st_dev &&
	       exe.st_ino == bin.st_ino;
}

int k8s_preauth_matches(const struct k8s_preauth_entry *e, uid_t uid, gid_t gid, const char *home,
			const char *shell)
{
	return e->uid == uid && e->gid == gid && home != NULL && shell != NULL &&
	       strcmp(e->home, home) == 0 && strcmp(e->shell, shell) == 0;
}
