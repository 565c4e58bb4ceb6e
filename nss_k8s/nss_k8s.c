/* nss_k8s.c: libnss_k8s.so.2, the `k8s` NSS service (passwd, group,
 * initgroups) over the identity store.
 *
 * It runs inside every process on the host, setuid and threaded ones
 * included, so it does as little as possible: one read-only mmap of
 * STOREDIR/identities.db kept between calls, revalidated by one stat() per
 * call (device, inode, size, mtime, ctime: the writer always renames a new
 * file in, never edits in place) and remapped when the file was replaced.
 * The reader (storefmt.c) verifies every record it returns.
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
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storefmt.h"

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
static struct mapping cur;
static uint32_t pw_pos, gr_pos;

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

static void unmap(void)
{
	if (cur.addr != NULL)
		munmap(cur.addr, cur.len);
	memset(&cur, 0, sizeof(cur));
}

__attribute__((destructor)) static void nss_k8s_fini(void)
{
	unmap();
}

/* K8S_AUTH_STORE only for processes that are not setuid/setgid
 * (secure_getenv); an unusable value falls back to the default. */
static int store_path(char *out, size_t outlen)
{
	const char *dir = secure_getenv("K8S_AUTH_STORE");
	size_t dl, fl = sizeof(K8S_SF_FILE);

	if (dir == NULL || dir[0] != '/')
		dir = K8S_STOREDIR;
	dl = strlen(dir);
	if (dl + 1 + fl > outlen)
		return -1;
	memcpy(out, dir, dl);
	out[dl] = '/';
	memcpy(out + dl + 1, K8S_SF_FILE, fl);
	return 0;
}

static int same_file(const struct stat *sb)
{
	return cur.known && cur.dev == sb->st_dev && cur.ino == sb->st_ino &&
	       cur.size == sb->st_size && cur.mtime.tv_sec == sb->st_mtim.tv_sec &&
	       cur.mtime.tv_nsec == sb->st_mtim.tv_nsec && cur.ctime.tv_sec == sb->st_ctim.tv_sec &&
	       cur.ctime.tv_nsec == sb->st_ctim.tv_nsec;
}

/* Only root may have written what every process will believe. */
static int trustworthy(const struct stat *sb)
{
	return S_ISREG(sb->st_mode) && sb->st_uid == 0 && (sb->st_mode & 022) == 0 &&
	       sb->st_size >= (off_t)K8S_SF_HEADER_SIZE && (uint64_t)sb->st_size <= K8S_SF_MAX_FILE;
}

static int remap(const char *path, int *errnop)
{
	struct stat sb;
	void *addr;
	int fd, rc = 0;

	unmap();
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
	cur.known = 1;
	cur.dev = sb.st_dev;
	cur.ino = sb.st_ino;
	cur.size = sb.st_size;
	cur.mtime = sb.st_mtim;
	cur.ctime = sb.st_ctim;
	if (!trustworthy(&sb))
		goto out;
	addr = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED) {
		cur.known = 0;
		*errnop = errno;
		rc = -1;
		goto out;
	}
	cur.addr = addr;
	cur.len = (size_t)sb.st_size;
	if (k8s_sf_open(&cur.sf, addr, cur.len) == K8S_SF_OK) {
		cur.valid = 1;
		rc = 1;
	}
out:
	close(fd); /* the mapping keeps the file; no descriptor stays open */
	return rc;
}

/* With the lock held: 1 the store is mapped and valid, 0 there is none
 * (or it is damaged), -1 it cannot be read (*errnop set). */
static int refresh(int *errnop)
{
	char path[PATH_MAX];
	struct stat sb;

	if (store_path(path, sizeof(path)) != 0) {
		unmap();
		return 0;
	}
	if (stat(path, &sb) != 0) {
		unmap();
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		*errnop = errno;
		return -1;
	}
	if (same_file(&sb))
		return cur.valid;
	return remap(path, errnop);
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
	found = r > 0 && (name != NULL ? k8s_sf_user_by_name(&cur.sf, name, &u)
				       : k8s_sf_user_by_uid(&cur.sf, (uint32_t)uid, &u));
	st = found ? fill_passwd(&u, pw, buf, len, errnop) : not_found(errnop);
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
	pw_pos = 0;
	leave();
	return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_k8s_endpwent(void)
{
	enter();
	pw_pos = 0;
	leave();
	return NSS_STATUS_SUCCESS;
}

/* The cursor is a position in the uid index; a store replaced during an
 * enumeration is continued at the same position.  A too-small buffer
 * leaves the cursor where it is, so glibc's retry gets the same entry. */
enum nss_status _nss_k8s_getpwent_r(struct passwd *pw, char *buf, size_t len, int *errnop)
{
	enum nss_status st = NSS_STATUS_NOTFOUND;
	struct k8s_sf_user u;
	int r;

	enter();
	r = refresh(errnop);
	if (r < 0) {
		st = NSS_STATUS_UNAVAIL;
		goto out;
	}
	for (; r > 0 && pw_pos < cur.sf.n_users; pw_pos++) {
		if (!k8s_sf_user_at(&cur.sf, pw_pos, &u))
			continue;
		st = fill_passwd(&u, pw, buf, len, errnop);
		if (st == NSS_STATUS_SUCCESS)
			pw_pos++;
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
	found = r > 0 && (name != NULL ? k8s_sf_group_by_name(&cur.sf, name, &g)
				       : k8s_sf_group_by_gid(&cur.sf, (uint32_t)gid, &g));
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
	gr_pos = 0;
	leave();
	return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_k8s_endgrent(void)
{
	enter();
	gr_pos = 0;
	leave();
	return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_k8s_getgrent_r(struct group *gr, char *buf, size_t len, int *errnop)
{
	enum nss_status st = NSS_STATUS_NOTFOUND;
	struct k8s_sf_group g;
	int r;

	enter();
	r = refresh(errnop);
	if (r < 0) {
		st = NSS_STATUS_UNAVAIL;
		goto out;
	}
	for (; r > 0 && gr_pos < cur.sf.n_groups; gr_pos++) {
		if (!k8s_sf_group_at(&cur.sf, gr_pos, &g))
			continue;
		st = fill_group(&g, gr, buf, len, errnop);
		if (st == NSS_STATUS_SUCCESS)
			gr_pos++;
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
	if (r == 0 || user == NULL || !k8s_sf_user_by_name(&cur.sf, user, &u)) {
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
