/* preauth.h: first login's pre-authentication entries (docs/security.md,
 * "First login for people granted through a group").
 *
 * sshd resolves the user through NSS before PAM runs and keeps that entry
 * for the session.  With login.firstLogin, the helper writes a root-only
 * policy file; libnss_k8s, inside root's sshd only, answers a getpwnam
 * miss with the entry the store's allocator would give the name in its
 * first slot (a pure function of the name and the policy), and records
 * what it served, per sshd process, so the helper commits exactly that or
 * refuses.
 *
 * libc only: compiled into libnss_k8s.so.2 and pam_k8s.so as well as the
 * helper.  Every parser here takes untrusted bytes (fuzz/fuzz_preauth.c). */
#ifndef K8S_PREAUTH_H
#define K8S_PREAUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef K8S_RUNDIR
#define K8S_RUNDIR "/run/k8s-auth"
#endif
#ifndef K8S_SSHD_PATH
#define K8S_SSHD_PATH "/usr/sbin/sshd"
#endif
/* OpenSSH 9.8 and later run each connection in a program sshd executes
 * (sshd-session; from 10.0 also sshd-auth, unprivileged): Debian's paths */
#ifndef K8S_SSHD_SESSION_PATH
#define K8S_SSHD_SESSION_PATH "/usr/lib/openssh/sshd-session"
#endif
#ifndef K8S_SSHD_AUTH_PATH
#define K8S_SSHD_AUTH_PATH "/usr/lib/openssh/sshd-auth"
#endif
#define K8S_PREAUTH_DIR    K8S_RUNDIR "/preauth"  /* 0700 root */
#define K8S_PREAUTH_POLICY "policy"               /* 0600 root: the mode is on */
#define K8S_PREAUTH_STR    256                    /* longest string field, NUL included */
#define K8S_PREAUTH_FILE   1024                   /* longest file */

struct k8s_preauth_policy {
	uint32_t uid_min, uid_max, gid_min, gid_max;
	char sshd[K8S_PREAUTH_STR];   /* the sshd binary whose processes are served */
	char shell[K8S_PREAUTH_STR];
	char home[K8S_PREAUTH_STR];   /* template: %u the name, %% a percent sign */
};

/* What NSS served one sshd process: "p.<pid>" in K8S_PREAUTH_DIR. */
struct k8s_preauth_entry {
	unsigned long long start;     /* the process's start time (/proc/PID/stat field 22) */
	char name[33];
	uint32_t uid, gid;
	char home[K8S_PREAUTH_STR];
	char shell[K8S_PREAUTH_STR];
};

/* One line each: "k8s-preauth-policy 1 UIDMIN UIDMAX GIDMIN GIDMAX SSHD SHELL HOME\n",
 * "k8s-preauth-served 1 START NAME UID GID HOME SHELL\n"; fields split by one
 * space; strings printable ASCII without spaces, absolute paths.  Parsers:
 * 0, or -1 for anything else.  Formatters: the length, or -1. */
int k8s_preauth_policy_parse(const char *buf, size_t len, struct k8s_preauth_policy *p);
int k8s_preauth_policy_format(const struct k8s_preauth_policy *p, char *out, size_t size);
int k8s_preauth_entry_parse(const char *buf, size_t len, struct k8s_preauth_entry *e);
int k8s_preauth_entry_format(const struct k8s_preauth_entry *e, char *out, size_t size);

/* The entry for `name` under p (start left 0): uid = uid_min + first 8
 * bytes of SHA-256(name) mod span, gid = uid, home expanded, shell.  -1
 * when the name is not valid, the uid is reserved or outside the gid
 * range, or home does not fit. */
int k8s_preauth_predict(const struct k8s_preauth_policy *p, const char *name,
			struct k8s_preauth_entry *e);

/* Is exe (a stat of /proc/PID/exe) one of OpenSSH's server programs: the
 * same inode as `sshd` (the policy's path), K8S_SSHD_SESSION_PATH or
 * K8S_SSHD_AUTH_PATH, each only if it passes k8s_open_trusted_exec (a
 * regular root-owned executable only root can write, not setuid, reached
 * through directories root owns and only root can write)?  1 or 0.  The
 * process's argv, comm and parent are never looked at. */
struct stat;
int k8s_preauth_exe_is_sshd(const struct stat *exe, const char *sshd);

/* nsswitch.conf's text: 1 when it has exactly one "passwd:" line and
 * "k8s" is the last service on it (action items such as [NOTFOUND=return]
 * may follow), else 0.  A service after k8s (sss, ldap, winbind) knows
 * names the store does not: a pre-auth entry would hide its users from
 * sshd, so none is served then. */
int k8s_preauth_k8s_last(const char *buf, size_t len);


/* The pid a record name belongs to: "p.PID" (*tmp 0) or ".p.PID.tmp"
 * (*tmp 1), PID decimal without a leading zero, above 1.  0 for any other
 * name. */
pid_t k8s_preauth_name_pid(const char *name, int *tmp);

/* Remove the records (and temporary files) of processes that no longer
 * exist (kill(pid, 0) fails with ESRCH), the caller's own excepted.  A
 * live process's record is never touched, whatever it holds: a record
 * just renamed into place for a reused pid is that process's.  Needs
 * root; the number of records removed. */
int k8s_preauth_sweep_dead(int dirfd);

/* Read a small root-only regular file (O_NOFOLLOW|O_CLOEXEC) into buf
 * (NUL-terminated).  The length, or -1 (errno set; EPERM when it is not a
 * regular file owned by root with no group/other access). */
ssize_t k8s_preauth_read(int dirfd, const char *name, char *buf, size_t size);

#endif
