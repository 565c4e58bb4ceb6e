/* nss_k8s.c: libnss_k8s.so.2, the `k8s` NSS service (passwd, group,
 * initgroups) over the identity store.
 *
 * It runs inside every process on the host, setuid and threaded ones
 * included, so it does as little as possible: read-only mmaps of
 * STOREDIR/identities.db and identities.delta kept between calls,
 * revalidated by one stat() of each per call (device, inode, size, mtime,
 * ctime: the writer always renames a new file in, never edits in place)
 * and remapped when a file was replaced.  The reader (storefmt.c) verifies
 * every record it returns.
 *
 * One mutex guards the mapping and the enumeration cursors; every entry
 * point takes it once and releases it on its single exit path.  Results:
 *   found                      NSS_STATUS_SUCCESS
 *   buffer too small           NSS_STATUS_TRYAGAIN, *errnop = ERANGE
 *   not in the store           NSS_STATUS_NOTFOUND, *errnop = ENOENT
 *   no store, damaged store,   NSS_STATUS_NOTFOUND, *errnop = ENOENT (a host where nobody
 *   unsafe owner/mode            logged in yet has no store; a miss must not read as an error)
 *   cannot read it at all      NSS_STATUS_UNAVAIL, *errnop = the errno (EACCES, EMFILE, ENOMEM...)
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preauth.h"
#include "procstat.h"
#include "storefmt.h"

#ifndef NSSWITCH_CONF
#define NSSWITCH_CONF "/etc/nsswitch.conf"
#endif

#ifndef K8S_STOREDIR
#define K8S_STOREDIR "/var/lib/k8s-auth"
#endif

/* The entry points glibc looks up by name (exported by nss_k8s.map). */
enum nss_status _nss_k8s_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len,
				    int *errnop);
enum nss_status _nss_k8s_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len,
				    int *errnop);
enum nss_status _nss_k8s_setpwent(int stayopen);
enum nss_status _nss_k8s_getpwent_r(struct passwd *pw, char *buf, size_t len, int *errnop);
enum nss_status _nss_k8s_endpwent(void);
enum nss_status _nss_k8s_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len,
				    int *errnop);
enum nss_status _nss_k8s_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len,
				    int *errnop);
enum nss_status _nss_k8s_setgrent(int stayopen);
enum nss_status _nss_k8s_getgrent_r(struct group *gr, char *buf, size_t len, int *errnop);
enum nss_status _nss_k8s_endgrent(void);
enum nss_status _nss_k8s_initgroups_dyn(const char *user, gid_t group, long int *start,
					long int *size, gid_t **groupsp, long int limit,
					int *errnop);

struct mapping {
	void *addr;
	size_t len;
	int known;      /* the identity below describes the file last looked at */
	int valid;      /* and sf is usable */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	struct k8s_sf sf;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct mapping base_map, delta_map, stamp_map;
static const volatile uint64_t *stamp_word; /* in stamp_map */
static struct k8s_sfv view;
/* An enumeration reads its own mappings, taken at its first getXXent_r
 * and kept until endXXent: a snapshot, so a commit in the middle cannot
 * make it skip or repeat entries. */
struct snapshot {
	struct mapping base, delta;
	struct k8s_sfv view;
	int state;      /* -2 not taken yet, else what refresh_pair said */
	uint32_t pos;
};

static struct snapshot pw_snap = {.state = -2}, gr_snap = {.state = -2};

/* A fork while another thread holds the lock would leave the child with
 * a lock nobody releases. */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void atfork_release(void)
{
	pthread_mutex_unlock(&lock);
}

static void init_once(void)
{
	(void)pthread_atfork(atfork_prepare, atfork_release, atfork_release);
}

static void enter(void)
{
	pthread_once(&once, init_once);
	pthread_mutex_lock(&lock);
}

static void leave(void)
{
	pthread_mutex_unlock(&lock);
}

static void unmap(struct mapping *m)
{
	if (m->addr != NULL)
		munmap(m->addr, m->len);
	memset(m, 0, sizeof(*m));
}

static void snapshot_end(struct snapshot *s)
{
	unmap(&s->base);
	unmap(&s->delta);
	memset(s, 0, sizeof(*s));
	s->state = -2;
}

/* No destructor: the mappings are never unmapped at exit.  exit() runs
 * destructors while the process's other threads keep running, and one of
 * them may be inside a lookup reading the mapping: unmapping then crashes
 * it.  Taking the lock first would not do either: a signal handler that
 * calls exit() on a thread interrupted inside a lookup would wait forever
 * for itself, and another thread's next lookup would map the store again
 * anyway.  The kernel takes the mappings at exit; glibc unloads NSS
 * modules only in __libc_freeres (valgrind), at exit too.  No descriptor
 * is kept, and the mappings are not heap, so leak checkers see nothing. */

/* K8S_AUTH_STORE only for processes that are not setuid/setgid
 * (secure_getenv); an unusable value falls back to the default. */
static int store_path(char *out, size_t outlen, const char *file)
{
	const char *dir = secure_getenv("K8S_AUTH_STORE");
	size_t dl, fl = strlen(file) + 1;

	if (dir == NULL || dir[0] != '/')
		dir = K8S_STOREDIR;
	dl = strlen(dir);
	if (dl + 1 + fl > outlen)
		return -1;
	memcpy(out, dir, dl);
	out[dl] = '/';
	memcpy(out + dl + 1, file, fl);
	return 0;
}

static int same_file(const struct mapping *m, const struct stat *sb)
{
	return m->known && m->dev == sb->st_dev && m->ino == sb->st_ino &&
	       m->size == sb->st_size && m->mtime.tv_sec == sb->st_mtim.tv_sec &&
	       m->mtime.tv_nsec == sb->st_mtim.tv_nsec && m->ctime.tv_sec == sb->st_ctim.tv_sec &&
	       m->ctime.tv_nsec == sb->st_ctim.tv_nsec;
}

/* Only root may have written what every process will believe. */
static int trustworthy(const struct stat *sb)
{
	return k8s_sf_file_trusted(sb);
}

/* The delta is small and is the newer layer: one damaged index entry in
 * it could let a stale base record show through, so it is verified whole
 * (once per new file), the base record by record. */
static int remap(struct mapping *m, const char *path, int whole, int *errnop)
{
	struct stat sb;
	void *addr;
	int fd, rc = 0;

	unmap(m);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			return 0;
		*errnop = errno;
		return -1;
	}
	if (fstat(fd, &sb) != 0) {
		*errnop = errno;
		rc = -1;
		goto out;
	}
	m->known = 1;
	m->dev = sb.st_dev;
	m->ino = sb.st_ino;
	m->size = sb.st_size;
	m->mtime = sb.st_mtim;
	m->ctime = sb.st_ctim;
	rc = 2;
	if (!trustworthy(&sb))
		goto out;
	addr = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED) {
		m->known = 0;
		*errnop = errno;
		rc = -1;
		goto out;
	}
	m->addr = addr;
	m->len = (size_t)sb.st_size;
	if (k8s_sf_open(&m->sf, addr, m->len) == K8S_SF_OK &&
	    (!whole || k8s_sf_verify_body(&m->sf) == K8S_SF_OK)) {
		m->valid = 1;
		rc = 1;
	}
out:
	close(fd); /* the mapping keeps the file; no descriptor stays open */
	return rc;
}

/* 1 mapped and valid, 0 absent, 2 present but unusable (damaged, not
 * root's), -1 unreadable (*errnop). */
static int refresh_one(struct mapping *m, const char *file, int whole, int *errnop)
{
	char path[PATH_MAX];
	struct stat sb;

	if (store_path(path, sizeof(path), file) != 0) {
		unmap(m);
		return 0;
	}
	if (stat(path, &sb) != 0) {
		unmap(m);
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		*errnop = errno;
		return -1;
	}
	if (same_file(m, &sb))
		return m->valid ? 1 : 2;
	return remap(m, path, whole, errnop);
}

/* With the lock held: 1 the store is usable through `view`, 0 there is
 * none or it is damaged, -1 it cannot be read (*errnop set).  A delta
 * for a newer base than the one mapped means the base was replaced
 * between the two stats: look again.  A delta for an older base is left
 * over from a compaction (the base has it all).  A damaged delta, or one
 * that cannot be read, makes the store unusable rather than falling back
 * to the base alone, which may still show accounts since removed. */
static int refresh_pair(struct mapping *b, struct mapping *d, struct k8s_sfv *v, int *errnop)
{
	int tries, rb, rd = 0, st = K8S_SF_DELTA_AHEAD;

	memset(v, 0, sizeof(*v));
	for (tries = 0; tries < 3 && st == K8S_SF_DELTA_AHEAD; tries++) {
		rb = refresh_one(b, K8S_SF_FILE, 0, errnop);
		if (rb == 1)
			rd = refresh_one(d, K8S_SF_DELTA_FILE, 1, errnop);
		if (rb != 1 || rd < 0 || rd == 2)
			return rb < 0 || rd < 0 ? -1 : 0;
		st = k8s_sfv_attach(v, &b->sf, rd == 1 ? &d->sf : NULL);
	}
	if (st == K8S_SF_DELTA_OK || st == K8S_SF_DELTA_NONE || st == K8S_SF_DELTA_STALE)
		return 1;
	memset(v, 0, sizeof(*v));
	return 0;
}

static int refresh_both(int *errnop)
{
	return refresh_pair(&base_map, &delta_map, &view, errnop);
}

/* With the lock held: the enumeration's view, taken on first use. */
static int snapshot_take(struct snapshot *s, int *errnop)
{
	if (s->state == -2)
		s->state = refresh_pair(&s->base, &s->delta, &s->view, errnop);
	return s->state;
}

/* The stamp: a page the writer rewrites in place (a counter) after every
 * commit.  Mapped shared, it tells each call whether anything changed
 * without a system call.  Only its first 8 bytes are read, and the writer
 * never shrinks it. */
static void map_stamp(void)
{
	char path[PATH_MAX];
	struct stat sb;
	void *addr;
	int fd;

	unmap(&stamp_map);
	stamp_word = NULL;
	if (store_path(path, sizeof(path), K8S_SF_STAMP_FILE) != 0)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		return;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_uid == 0 && (sb.st_mode & 022) == 0 &&
	    sb.st_size >= (off_t)K8S_SF_STAMP_SIZE) {
		addr = mmap(NULL, K8S_SF_STAMP_SIZE, PROT_READ, MAP_SHARED, fd, 0);
		if (addr != MAP_FAILED) {
			stamp_map.addr = addr;
			stamp_map.len = K8S_SF_STAMP_SIZE;
			stamp_map.known = 1;
			stamp_map.dev = sb.st_dev;
			stamp_map.ino = sb.st_ino;
			stamp_word = addr;
		}
	}
	close(fd);
}

static int64_t coarse_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Without a usable stamp: one stat() per call.  Every commit replaces the
 * delta (a compaction writes the new base first, then an empty delta for
 * it), so while the delta is the file we mapped, the pair we mapped is
 * still a consistent state of the store. */
static int refresh_by_stat(int *errnop, int last)
{
	char path[PATH_MAX];
	struct stat sb;

	if (last >= 0 && delta_map.known && store_path(path, sizeof(path), K8S_SF_DELTA_FILE) == 0 &&
	    stat(path, &sb) == 0 && same_file(&delta_map, &sb))
		return last;
	return refresh_both(errnop);
}

/* Checked every call: the stamp (a memory read).  Checked when the stamp
 * moved, and at least once a second whatever it says (a writer that died
 * between rename and stamp, a stamp file replaced or created): the files,
 * with one stat() in the common case. */
static int refresh(int *errnop)
{
	static int last = -1;
	static uint64_t seen;
	static int64_t checked;
	int64_t now = coarse_ms();
	int periodic = last < 0 || now - checked >= 1000;
	uint64_t cur;

	if (!periodic && stamp_word != NULL && __atomic_load_n(stamp_word, __ATOMIC_ACQUIRE) == seen)
		return last;
	if (periodic) {
		map_stamp();
		checked = now;
	}
	cur = stamp_word != NULL ? __atomic_load_n(stamp_word, __ATOMIC_ACQUIRE) : 0;
	last = refresh_by_stat(errnop, stamp_word == NULL || cur == seen ? last : -1);
	seen = cur;
	return last;
}

/* ---------------------------------------------------- buffer filling */

struct cursor {
	char *p;
	size_t left;
};

static char *put(struct cursor *c, const char *s, size_t n)
{
	char *r = c->p;

	memcpy(r, s, n);
	r[n] = '\0';
	c->p += n + 1;
	c->left -= n + 1;
	return r;
}

static enum nss_status fill_passwd(const struct k8s_sf_user *u, struct passwd *pw, char *buf,
				   size_t len, int *errnop)
{
	struct cursor c = {buf, len};
	size_t need = u->name_len + u->gecos_len + u->home_len + u->shell_len + 4 + 2;

	if (buf == NULL || need > len) {
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}
	pw->pw_name = put(&c, u->name, u->name_len);
	/* "*": no password here, and pam_unix's account check accepts it
	 * without a shadow entry. */
	pw->pw_passwd = put(&c, "*", 1);
	pw->pw_uid = u->uid;
	pw->pw_gid = u->gid;
	pw->pw_gecos = put(&c, u->gecos, u->gecos_len);
	pw->pw_dir = put(&c, u->home, u->home_len);
	pw->pw_shell = put(&c, u->shell, u->shell_len);
	return NSS_STATUS_SUCCESS;
}

static enum nss_status fill_group(const struct k8s_sf_group *g, struct group *gr, char *buf,
				  size_t len, int *errnop)
{
	struct k8s_sf_strlist it = g->members;
	struct cursor c;
	size_t pad, ptrs, need;
	const char *m;
	char **mem;
	uint32_t i;

	pad = (sizeof(char *) - ((uintptr_t)buf & (sizeof(char *) - 1))) & (sizeof(char *) - 1);
	ptrs = ((size_t)g->n_members + 1) * sizeof(char *);
	need = pad + ptrs + g->name_len + 1 + 2 + g->members_bytes;
	if (buf == NULL || need > len) {
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}
	mem = (char **)(void *)(buf + pad);
	c.p = buf + pad + ptrs;
	c.left = len - pad - ptrs;
	gr->gr_name = put(&c, g->name, g->name_len);
	gr->gr_passwd = put(&c, "*", 1);
	gr->gr_gid = g->gid;
	for (i = 0; i < g->n_members && (m = k8s_sf_strlist_next(&it)) != NULL; i++)
		mem[i] = put(&c, m, strlen(m));
	mem[i] = NULL;
	gr->gr_mem = mem;
	return NSS_STATUS_SUCCESS;
}

static enum nss_status not_found(int *errnop)
{
	*errnop = ENOENT;
	return NSS_STATUS_NOTFOUND;
}

/* ---------------------------------------------------- first login */

/* The served record, written to a temporary name and renamed over
 * p.<pid>: the helper must never read half of one.  0 or -1. */
static int preauth_record(int dfd, const struct k8s_preauth_entry *e)
{
	char line[K8S_PREAUTH_FILE], tmp[64], final[64];
	int fd, n, tries;
	ssize_t w;

	n = k8s_preauth_entry_format(e, line, sizeof(line));
	if (n < 0)
		return -1;
	snprintf(tmp, sizeof(tmp), ".p.%ld.tmp", (long)getpid());
	snprintf(final, sizeof(final), "p.%ld", (long)getpid());
	for (tries = 0;; tries++) {
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
			    0600);
		if (fd >= 0 || errno != EEXIST || tries > 0)
			break;
		(void)unlinkat(dfd, tmp, 0); /* a dead process's leftover of this pid */
	}
	if (fd < 0)
		return -1;
	do
		w = write(fd, line, (size_t)n);
	while (w < 0 && errno == EINTR);
	if (close(fd) != 0 || w != n || renameat(dfd, tmp, dfd, final) != 0) {
		(void)unlinkat(dfd, tmp, 0);
		return -1;
	}
	/* A client that names a user and leaves before any PAM call (which is
	 * where pam_k8s sweeps) would leave a record per connection in /run:
	 * every record written here takes those of dead processes away, so
	 * they are never more than the sshd processes alive. */
	(void)k8s_preauth_sweep_dead(dfd);
	return 0;
}

/* Is k8s the last service of nsswitch.conf's passwd: line?  A service
 * after it (sss, ldap, winbind: their packages append themselves too)
 * has names the store does not; a pre-auth entry would take them from
 * sshd, and their people could not log in.  Read at every pre-auth
 * answer (root's sshd, names no store record has). */
static int k8s_last(void)
{
	char buf[16384];
	ssize_t n = 0, got = 0;
	int fd;

	fd = open(NSSWITCH_CONF, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return 0;
	while ((size_t)got < sizeof(buf)) {
		n = read(fd, buf + got, sizeof(buf) - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	/* larger than anyone writes it: not understood, not served */
	if (n < 0 || (size_t)got >= sizeof(buf))
		return 0;
	return k8s_preauth_k8s_last(buf, (size_t)got);
}

/* Is this process root's sshd (the policy's binary or OpenSSH's
 * per-connection sshd-session / sshd-auth, by inode, each root's through
 * its whole path; argv, comm and the parent are never looked at)?  And is the mode on: the
 * policy file, which only root can open? */
static int preauth_policy(int dfd, struct k8s_preauth_policy *p)
{
	char buf[K8S_PREAUTH_FILE + 1];
	struct stat exe;
	ssize_t n;

	n = k8s_preauth_read(dfd, K8S_PREAUTH_POLICY, buf, sizeof(buf));
	if (n <= 0 || k8s_preauth_policy_parse(buf, (size_t)n, p) != 0)
		return -1;
	if (!k8s_last())
		return -1;
	if (stat("/proc/self/exe", &exe) != 0 || !k8s_preauth_exe_is_sshd(&exe, p->sshd))
		return -1;
	return 0;
}

/* With the lock held and the store usable: `name` is in no record.
 * Serve the pre-authentication entry to root's sshd, or NOTFOUND. */
static enum nss_status preauth_user(const char *name, struct passwd *pw, char *buf, size_t len,
				    int *errnop)
{
	struct k8s_preauth_policy pol;
	struct k8s_preauth_entry e;
	struct k8s_sf_user u;
	struct k8s_sf_group g;
	struct k8s_sf_user su;
	struct stat sb;
	int dfd;
	enum nss_status st;

	if (getuid() != 0 || geteuid() != 0)
		return not_found(errnop);
	dfd = open(K8S_PREAUTH_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return not_found(errnop);
	st = not_found(errnop);
	if (fstat(dfd, &sb) != 0 || sb.st_uid != 0 || (sb.st_mode & 077) != 0 ||
	    preauth_policy(dfd, &pol) != 0 || k8s_preauth_predict(&pol, name, &e) != 0 ||
	    k8s_sfv_user_by_uid(&view, e.uid, &u) != 0 || k8s_sfv_group_by_gid(&view, e.gid, &g) != 0 ||
	    k8s_proc_stat(0, &e.start, NULL) != 0)
		goto out;
	memset(&su, 0, sizeof(su));
	su.name = e.name;
	su.name_len = strlen(e.name);
	su.gecos = "";
	su.home = e.home;
	su.home_len = strlen(e.home);
	su.shell = e.shell;
	su.shell_len = strlen(e.shell);
	su.uid = e.uid;
	su.gid = e.gid;
	/* a buffer too small is asked again: answer before recording */
	if (buf == NULL || su.name_len + su.home_len + su.shell_len + 4 + 2 > len) {
		*errnop = ERANGE;
		st = NSS_STATUS_TRYAGAIN;
		goto out;
	}
	if (preauth_record(dfd, &e) != 0)
		goto out;
	st = fill_passwd(&su, pw, buf, len, errnop);
	/* "x" with no shadow entry: pam_unix's account step refuses it */
	if (st == NSS_STATUS_SUCCESS)
		pw->pw_passwd[0] = 'x';
out:
	close(dfd);
	return st;
}

/* ---------------------------------------------------------- passwd */

static enum nss_status lookup_user(const char *name, uid_t uid, struct passwd *pw, char *buf,
				   size_t len, int *errnop)
{
	enum nss_status st;
	struct k8s_sf_user u;
	int r, found;

	enter();
	r = refresh(errnop);
	if (r < 0) {
		st = NSS_STATUS_UNAVAIL;
		goto out;
	}
	/* An existing-account record belongs to its own NSS source. */
	found = r > 0 ? (name != NULL ? k8s_sfv_user_by_name(&view, name, &u)
				      : k8s_sfv_user_by_uid(&view, (uint32_t)uid, &u)) : 0;
	if (found > 0 && !u.existing)
		st = fill_passwd(&u, pw, buf, len, errnop);
	else if (found == 0 && r > 0 && name != NULL)
		st = preauth_user(name, pw, buf, len, errnop);
	else
		st = not_found(errnop);
out:
	leave();
	return st;
}

enum nss_status _nss_k8s_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len,
				    int *errnop)
{
	if (name == NULL)
		return not_found(errnop);
	return lookup_user(name, 0, pw, buf, len, errnop);
}

enum nss_status _nss_k8s_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len,
				    int *errnop)
{
	return lookup_user(NULL, uid, pw, buf, len, errnop);
}

enum nss_status _nss_k8s_setpwent(int stayopen)
{
	enter();
	snapshot_end(&pw_snap);
	leave();
	return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_k8s_endpwent(void)
{
	enter();
	snapshot_end(&pw_snap);
	leave();
	return NSS_STATUS_SUCCESS;
}

/* A too-small buffer leaves the cursor where it is, so glibc's retry gets
 * the same entry. */
enum nss_status _nss_k8s_getpwent_r(struct passwd *pw, char *buf, size_t len, int *errnop)
{
	struct snapshot *s = &pw_snap;
	enum nss_status st = NSS_STATUS_NOTFOUND;
	struct k8s_sf_user u;
	int r;

	enter();
	r = snapshot_take(s, errnop);
	if (r < 0) {
		st = NSS_STATUS_UNAVAIL;
		goto out;
	}
	for (; r > 0 && s->pos < k8s_sfv_n_users(&s->view); s->pos++) {
		if (!k8s_sfv_user_at(&s->view, s->pos, &u))
			continue;
		st = fill_passwd(&u, pw, buf, len, errnop);
		if (st == NSS_STATUS_SUCCESS)
			s->pos++;
		goto out;
	}
	st = not_found(errnop);
out:
	leave();
	return st;
}

/* ----------------------------------------------------------- group */

static enum nss_status lookup_group(const char *name, gid_t gid, struct group *gr, char *buf,
				    size_t len, int *errnop)
{
	enum nss_status st;
	struct k8s_sf_group g;
	int r, found;

	enter();
	r = refresh(errnop);
	if (r < 0) {
		st = NSS_STATUS_UNAVAIL;
		goto out;
	}
	found = r > 0 && (name != NULL ? k8s_sfv_group_by_name(&view, name, &g) > 0
				       : k8s_sfv_group_by_gid(&view, (uint32_t)gid, &g) > 0);
	st = found ? fill_group(&g, gr, buf, len, errnop) : not_found(errnop);
out:
	leave();
	return st;
}

enum nss_status _nss_k8s_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len,
				    int *errnop)
{
	if (name == NULL)
		return not_found(errnop);
	return lookup_group(name, 0, gr, buf, len, errnop);
}

enum nss_status _nss_k8s_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len,
				    int *errnop)
{
	return lookup_group(NULL, gid, gr, buf, len, errnop);
}

enum nss_status _nss_k8s_setgrent(int stayopen)
{
	enter();
	snapshot_end(&gr_snap);
	leave();
	return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_k8s_endgrent(void)
{
	enter();
	snapshot_end(&gr_snap);
	leave();
	return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_k8s_getgrent_r(struct group *gr, char *buf, size_t len, int *errnop)
{
	struct snapshot *s = &gr_snap;
	enum nss_status st = NSS_STATUS_NOTFOUND;
	struct k8s_sf_group g;
	int r;

	enter();
	r = snapshot_take(s, errnop);
	if (r < 0) {
		st = NSS_STATUS_UNAVAIL;
		goto out;
	}
	for (; r > 0 && s->pos < k8s_sfv_n_groups(&s->view); s->pos++) {
		if (!k8s_sfv_group_at(&s->view, s->pos, &g))
			continue;
		st = fill_group(&g, gr, buf, len, errnop);
		if (st == NSS_STATUS_SUCCESS)
			s->pos++;
		goto out;
	}
	st = not_found(errnop);
out:
	leave();
	return st;
}

/* ------------------------------------------------------ initgroups */

/* Append gid unless present; grow the array as glibc expects (double,
 * never past a positive limit).  0 added or skipped, 1 full, -1 ENOMEM. */
static int add_gid(gid_t gid, long int *start, long int *size, gid_t **groupsp, long int limit)
{
	long int i, nsize;
	gid_t *ng;

	for (i = 0; i < *start; i++)
		if ((*groupsp)[i] == gid)
			return 0;
	if (*start >= *size) {
		if (limit > 0 && *size >= limit)
			return 1;
		nsize = *size > 0 ? 2 * *size : 16;
		if (limit > 0 && nsize > limit)
			nsize = limit;
		ng = realloc(*groupsp, (size_t)nsize * sizeof(**groupsp));
		if (ng == NULL)
			return -1;
		*groupsp = ng;
		*size = nsize;
	}
	(*groupsp)[(*start)++] = gid;
	return 0;
}

enum nss_status _nss_k8s_initgroups_dyn(const char *user, gid_t group, long int *start,
					long int *size, gid_t **groupsp, long int limit,
					int *errnop)
{
	enum nss_status st = NSS_STATUS_SUCCESS;
	struct k8s_sf_user u;
	uint32_t i, gid, src;
	int r;

	enter();
	r = refresh(errnop);
	if (r < 0) {
		st = NSS_STATUS_UNAVAIL;
		goto out;
	}
	if (r == 0 || user == NULL || k8s_sfv_user_by_name(&view, user, &u) <= 0) {
		st = not_found(errnop);
		goto out;
	}
	for (i = 0; i < u.n_memberships; i++) {
		k8s_sf_membership(&u, i, &gid, &src);
		if (gid == group)
			continue;
		r = add_gid(gid, start, size, groupsp, limit);
		if (r > 0)
			break;
		if (r < 0) {
			*errnop = ENOMEM;
			st = NSS_STATUS_TRYAGAIN;
			break;
		}
	}
out:
	leave();
	return st;
}
