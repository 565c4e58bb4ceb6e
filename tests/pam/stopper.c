/* stopper SECS PROG ARGS...: run PROG (sudo, su: setuid, but its real uid
 * is ours, so we may signal it).  The moment it has a child (the pam_k8s
 * helper) stop it, let it run 300 us more (it builds and sends the request
 * and enters poll(): the helper needs milliseconds to exec and load), stop
 * it again for SECS seconds, then continue it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
	int secs = atoi(argv[1]), st, fd, nth = argc > 0 && getenv("NTH") ? atoi(getenv("NTH")) : 1, seen = 0;
	char path[64], buf[256], last[256] = ""; ssize_t n; pid_t p = fork();
	if (p == 0) { execv(argv[2], argv + 2); _exit(127); }
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", p, p);
	for (;;) {
		fd = open(path, O_RDONLY); if (fd < 0) break;
		n = read(fd, buf, sizeof buf - 1); close(fd);
		if (n <= 0) continue;
		buf[n] = 0;
		if (strcmp(buf, last) == 0) continue;
		strcpy(last, buf);
		if (++seen < nth) continue;   /* the nth helper of this PAM transaction */
		kill(p, SIGSTOP); kill(p, SIGCONT); usleep(300); kill(p, SIGSTOP);
		fprintf(stderr, "[stopper] helper %.*s under pid %d: SIGSTOP for %d s\n", (int)strcspn(buf, " "), buf, p, secs);
		if (getenv("SHOW")) { char c[64], cl[256] = ""; int f; ssize_t m;
			snprintf(c, sizeof c, "/proc/%.*s/cmdline", (int)strcspn(buf, " "), buf);
			if ((f = open(c, O_RDONLY)) >= 0) { m = read(f, cl, sizeof cl - 1); close(f); if (m > 0) cl[m] = 0; }
			fprintf(stderr, "[stopper] its argv[0]: %s\n", cl); }
		sleep(secs); kill(p, SIGCONT); break;
	}
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
