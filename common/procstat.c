/* procstat.c: the one reader of /proc/PID/stat (libc only: the NSS module,
 * the module's helper and the store's first-login commit share it). */
#include "procstat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int k8s_proc_stat(pid_t pid, unsigned long long *start, pid_t *ppid)
{
	char path[64], buf[1024], *s;
	unsigned long long v = 0;
	ssize_t n, got = 0;
	int fd, field;

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/stat");
	else
		snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	while ((size_t)got < sizeof(buf) - 1) {
		n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	/* comm may hold anything, ')' included: count from the last ')' */
	s = strrchr(buf, ')');
	if (s == NULL || s[1] != ' ' || s[2] == '\0' || s[3] != ' ')
		return -1;
	s += 4; /* field 4 */
	for (field = 4; field <= 22; field++) {
		v = 0;
		if (*s < '0' || *s > '9') {
			if (*s == '-' && field < 22) { /* fields before 22 may be negative */
				s++;
			} else {
				return -1;
			}
		}
		for (; *s >= '0' && *s <= '9'; s++) {
			if (v > (UINT64_MAX - 9) / 10)
				return -1;
			v = v * 10 + (unsigned)(*s - '0');
		}
		if (field == 4 && ppid != NULL)
			*ppid = (pid_t)v;
		if (field < 22) {
			if (*s != ' ')
				return -1;
			s++;
		}
	}
	*start = v;
	return 0;
}
