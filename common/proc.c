/* proc.c: naming processes across fork and pid reuse.  A pid alone can be
 * recycled; (pid, start time since boot) cannot within one boot, so state
 * keyed by it can never be picked up by an unrelated later process. */
#include "decide.h"
#include "procstat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t read_small(const char *path, char *buf, size_t size)
{
	ssize_t n, got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	while ((size_t)got < size - 1) {
		n = read(fd, buf + got, size - 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return got;
}

int k8s_proc_get(pid_t pid, struct k8s_proc *p, pid_t *ppid)
{
	memset(p, 0, sizeof(*p));
	if (pid <= 0 || k8s_proc_stat(pid, &p->start, ppid) != 0)
		return -1;
	p->pid = pid;
	return 0;
}

int k8s_proc_same(const struct k8s_proc *a, const struct k8s_proc *b)
{
	return a->pid == b->pid && a->start == b->start;
}

int k8s_proc_alive(const struct k8s_proc *p)
{
	struct k8s_proc now;

	if (p->pid <= 0 || k8s_proc_get(p->pid, &now, NULL) != 0)
		return 0;
	return now.start == p->start;
}

/* The audit session id pam_loginuid started; every descendant inherits
 * it (the helper too: it is the caller's child) and no unprivileged
 * process can change it.  -1 when unset. */
long long k8s_audit_sessionid(void)
{
	char buf[32], *end;
	unsigned long long v;

	if (read_small("/proc/self/sessionid", buf, sizeof(buf)) <= 0)
		return -1;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (end == buf || errno != 0 || v >= 4294967295ULL)
		return -1;
	return (long long)v;
}
