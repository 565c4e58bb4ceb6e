/* trusted.c: see trusted.h.  The executable is then run from the
 * descriptor (execveat), so it cannot be swapped between this check and
 * the exec. */
#include "trusted.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int root_only(const struct stat *sb)
{
	return sb->st_uid == 0 && (sb->st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

int k8s_open_trusted_exec(const char *path, struct stat *sb, char *why, size_t why_size)
{
	char comp[256];
	const char *p = path, *e;
	int dfd, fd;
	size_t n;

	if (path[0] != '/') {
		snprintf(why, why_size, "%s is not an absolute path", path);
		return -1;
	}
	dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, sb) != 0 || !root_only(sb)) {
		snprintf(why, why_size, "/ is not root-owned or is writable by others");
		goto bad;
	}
	for (;;) {
		while (*p == '/')
			p++;
		e = strchrnul(p, '/');
		n = (size_t)(e - p);
		if (n == 0 || n >= sizeof(comp)) {
			snprintf(why, why_size, "%s is malformed", path);
			goto bad;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (*e == '\0')
			break;
		fd = openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dfd);
		dfd = fd;
		if (dfd < 0) {
			snprintf(why, why_size, "%.*s: %s", (int)(e - path), path, strerror(errno));
			goto bad;
		}
		if (fstat(dfd, sb) != 0 || !root_only(sb)) {
			snprintf(why, why_size, "%.*s is not root-owned or is writable by group or others",
				 (int)(e - path), path);
			goto bad;
		}
		p = e;
	}
	fd = openat(dfd, comp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0) {
		snprintf(why, why_size, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode) || !root_only(sb) ||
	    (sb->st_mode & S_IXUSR) == 0 || (sb->st_mode & (S_ISUID | S_ISGID)) != 0) {
		snprintf(why, why_size, "%s (owner uid %u, mode %04o) is not a root-owned executable only root can write",
			 path, (unsigned)sb->st_uid, (unsigned)(sb->st_mode & 07777));
		close(fd);
		return -1;
	}
	return fd;
bad:
	if (dfd >= 0)
		close(dfd);
	return -1;
}
