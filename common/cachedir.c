/* cachedir.c: the cache directories, read and emptied (cachedir.h). */
#include "cachedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define ENTRY_HEX 64
#define ENTRY_SUFFIX ".json"
#define ENTRY_LEN (ENTRY_HEX + sizeof(ENTRY_SUFFIX) - 1)

int k8s_cachedir_open(const struct k8s_config *cfg, const char *sub, int *dfd, mode_t *mode,
		      uid_t *uid, struct k8s_err *err)
{
	const char *base = cfg != NULL && cfg->cache_dir != NULL ? cfg->cache_dir : K8S_DEFAULT_CACHEDIR;
	char path[4096];
	struct stat st;
	int fd;

	*dfd = -1;
	if ((size_t)snprintf(path, sizeof(path), "%s%s%s", base, sub ? "/" : "", sub ? sub : "") >=
	    sizeof(path))
		return k8s_err_set(err, K8S_REFUSED, "cache directory unusable", "%.200s...: path too long",
				   base);
	memset(&st, 0, sizeof(st));
	fd = k8s_open_private_dir(AT_FDCWD, path, 022, 0, &st);
	if (fd < 0 && errno != EPERM) {
		if (errno == ENOENT)
			return K8S_OK;
		if (errno == EACCES && geteuid() != 0)
			return k8s_err_set(err, K8S_REFUSED, "cache directory unreadable",
					   "%s: permission denied: only root may read it", path);
		return k8s_err_set(err, K8S_REFUSED, "cache directory unusable", "%s: %s", path,
				   errno == ELOOP || errno == ENOTDIR ? "not a directory (or a symlink)"
								       : strerror(errno));
	}
	if (mode != NULL)
		*mode = st.st_mode & 07777;
	if (uid != NULL)
		*uid = st.st_uid;
	if (fd < 0)
		return k8s_err_set(err, K8S_REFUSED, "cache directory not private",
				   "%s: owner uid %u, mode %04o: not a directory of uid %u without "
				   "group/other write, so it is not used", path, (unsigned)st.st_uid,
				   (unsigned)(st.st_mode & 07777), (unsigned)geteuid());
	*dfd = fd;
	return K8S_OK;
}

int k8s_cachedir_is_entry(const char *name)
{
	size_t i;

	if (strlen(name) != ENTRY_LEN || strcmp(name + ENTRY_HEX, ENTRY_SUFFIX) != 0)
		return 0;
	for (i = 0; i < ENTRY_HEX; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return 1;
}

/* ".<entry>.<digits>.<digits>.tmp" (k8s_write_file_at) */
int k8s_cachedir_is_temp(const char *name)
{
	char entry[ENTRY_LEN + 1];
	const char *p;
	int dots = 0;

	if (name[0] != '.' || strlen(name) < 1 + ENTRY_LEN + 8)
		return 0;
	memcpy(entry, name + 1, ENTRY_LEN);
	entry[ENTRY_LEN] = '\0';
	if (!k8s_cachedir_is_entry(entry))
		return 0;
	for (p = name + 1 + ENTRY_LEN; *p != '\0' && dots < 3; p++) {
		if (*p != '.')
			return 0;
		dots++;
		if (dots == 3)
			return strcmp(p, ".tmp") == 0;
		if (p[1] < '0' || p[1] > '9')
			return 0;
		while (p[1] >= '0' && p[1] <= '9')
			p++;
	}
	return 0;
}

int k8s_cachedir_sweep(int dfd, int remove, void (*each)(int dfd, const char *name, void *ctx),
		       void *ctx, struct k8s_cachedir_scan *out)
{
	struct dirent *de;
	struct stat st;
	int fd, ret = 0, saved = 0;
	DIR *d;

	memset(out, 0, sizeof(*out));
	fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	/* the duplicate shares dfd's position: a second sweep starts over */
	rewinddir(d);
	/* the lock k8s_reviewcache_put holds while it checks and writes */
	if (remove && flock(dfd, LOCK_EX) != 0) {
		closedir(d);
		return -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		int entry = k8s_cachedir_is_entry(de->d_name);

		if ((!entry && !k8s_cachedir_is_temp(de->d_name)) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (entry) {
			out->entries++;
			if (each != NULL)
				each(dfd, de->d_name, ctx);
		} else {
			out->temps++;
		}
		if (!remove)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0) {
			out->removed++;
		} else if (errno != ENOENT) {
			ret = -1;
			saved = errno;
		}
	}
	if (errno != 0 && ret == 0) {
		ret = -1;
		saved = errno;
	}
	if (remove)
		flock(dfd, LOCK_UN);
	closedir(d);
	errno = saved;
	return ret;
}
