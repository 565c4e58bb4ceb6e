/* spawn.c: starting k8s-auth-helper from inside sshd, su, sudo or login,
 * whose environment, limits, descriptors, signal state and umask were
 * chosen by whoever started them, and getting exactly one answer back.
 *
 * What the caller controls must not reach the helper:
 *   - the executable is opened through a chain of directories each checked
 *     to be root-owned and not group/world-writable, never through PATH,
 *     and run from that descriptor (execveat), so it cannot be swapped
 *     between the check and the exec;
 *   - environment: built from nothing (PATH only);
 *   - descriptors: 0 and 1 the socketpair, 2 /dev/null, all others closed;
 *   - every resource limit reset to a fixed value (RLIMIT_CORE 0: a core
 *     would hold the token), nice 0, personality, scheduling policy, CPU
 *     affinity, I/O priority and OOM score reset, signal mask empty, every
 *     handler default, umask 077, working directory /, PR_SET_NO_NEW_PRIVS, its
 *     own process group, killed with its caller (PR_SET_PDEATHSIG);
 *   - a root caller (euid 0: sshd, su, sudo, login) gets a helper with
 *     real, effective and saved uid and gid 0 and no supplementary groups;
 *     any other caller one with its own ids (it reads only what the
 *     caller could).
 *
 * The caller's SIGCHLD handling: the child is created with clone() and
 * no exit signal (CLONE_VM | CLONE_VFORK, as posix_spawn does, on a stack
 * of its own), so no SIGCHLD is sent for it and a caller's
 * waitpid(-1, ...) (sshd's and sudo's handlers) cannot reap it; only
 * waitpid(pid, __WALL) here does.  SIGPIPE: we write with send(...,
 * MSG_NOSIGNAL), so a helper that is gone is an error, not a signal.
 *
 * The child runs between clone() and exec in the caller's memory without
 * glibc's fork bookkeeping, so it calls only async-signal-safe functions
 * and raw system calls for credentials (glibc's setresuid would try to
 * reach the caller's other threads); everything it needs is prepared
 * before. */
#include "pk.h"

#include "trusted.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HELPER_EXIT_SETUP 127  /* the child failed before exec */

static void why(struct pk_helper *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void why(struct pk_helper *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->why, sizeof(h->why), fmt, ap);
	va_end(ap);
}

/* ---- the executable ---- */

static int open_helper(struct pk_helper *h, const char *path)
{
	struct stat sb;
	char msg[sizeof(h->why) - 8];
	int fd = k8s_open_trusted_exec(path, &sb, msg, sizeof(msg));

	if (fd < 0)
		why(h, "helper: %s", msg);
	return fd;
}

/* ---- the child ---- */

struct limit {
	int resource;
	rlim_t cur, max;
};

static const struct limit limits[] = {
	{ RLIMIT_CORE, 0, 0 },
	{ RLIMIT_CPU, 30, 30 },
	{ RLIMIT_FSIZE, RLIM_INFINITY, RLIM_INFINITY },
	{ RLIMIT_DATA, RLIM_INFINITY, RLIM_INFINITY },
	{ RLIMIT_AS, RLIM_INFINITY, RLIM_INFINITY },
	{ RLIMIT_RSS, RLIM_INFINITY, RLIM_INFINITY },
	{ RLIMIT_STACK, 8u << 20, RLIM_INFINITY },
	{ RLIMIT_NOFILE, 1024, 4096 },
	{ RLIMIT_NPROC, RLIM_INFINITY, RLIM_INFINITY },
	{ RLIMIT_MEMLOCK, 8u << 20, 8u << 20 },
	{ RLIMIT_LOCKS, RLIM_INFINITY, RLIM_INFINITY },
	{ RLIMIT_SIGPENDING, 4096, 4096 },
	{ RLIMIT_MSGQUEUE, 819200, 819200 },
	{ RLIMIT_NICE, 0, 0 },
	{ RLIMIT_RTPRIO, 0, 0 },
	{ RLIMIT_RTTIME, RLIM_INFINITY, RLIM_INFINITY },
};

/* The fixed value, or, where it cannot be raised to (no CAP_SYS_RESOURCE:
 * a caller that is not root, or root in a container), as far as the hard
 * limit allows.  Lowering always works, so RLIMIT_CORE 0 and the CPU
 * bound always hold; a limit the caller set too low to work with makes
 * the helper fail, which is a refusal. */
static int set_limits(void)
{
	struct rlimit rl, want;
	size_t i;

	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		want.rlim_cur = limits[i].cur;
		want.rlim_max = limits[i].max;
		if (setrlimit(limits[i].resource, &want) == 0)
			continue;
		if (getrlimit(limits[i].resource, &rl) != 0)
			return -1;
		if (want.rlim_cur > rl.rlim_max)
			want.rlim_cur = rl.rlim_max;
		want.rlim_max = rl.rlim_max;
		if (setrlimit(limits[i].resource, &want) != 0)
			return -1;
	}
	return 0;
}

static void close_from(int lo, int hi)
{
	int fd;

	if (lo > hi)
		return;
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lo, (unsigned)hi, 0) == 0)
		return;
#endif
	for (fd = lo; fd <= hi && fd < 65536; fd++)
		(void)close(fd);
}

/* What else a caller can set and a child inherits: personality
 * (PER_LINUX32, READ_IMPLIES_EXEC...), scheduling policy (SCHED_IDLE),
 * CPU affinity, I/O priority, OOM score.  Reset where the kernel lets us
 * (root always; anyone else as far as allowed): a helper starved or
 * killed first is a refusal, never a pass, but a login should not be that
 * easy to slow down. */
static void reset_scheduling(void)
{
	struct sched_param sp = { .sched_priority = 0 };
	cpu_set_t all;
	int fd, i;

	(void)personality(PER_LINUX);
	(void)sched_setscheduler(0, SCHED_OTHER, &sp);
	CPU_ZERO(&all);
	for (i = 0; i < CPU_SETSIZE; i++)
		CPU_SET(i, &all);
	(void)sched_setaffinity(0, sizeof(all), &all);
	/* IOPRIO_WHO_PROCESS, self, class best-effort (2) level 4 */
	(void)syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 4);
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "0", 1) != 1) {
			/* not allowed to lower it: the caller's stays */
		}
		close(fd);
	}
}

struct child_args {
	int sock, devnull, exe, as_root;
	char *const *argv;
	char *const *envp;
};

/* Runs on its own stack in the caller's memory (CLONE_VM | CLONE_VFORK)
 * until the exec: it writes nothing but its stack and the kernel's
 * per-process state (handlers, limits, descriptors, ids are the child's
 * own: no CLONE_SIGHAND, CLONE_FILES, CLONE_FS or CLONE_THREAD). */
static int child(void *arg)
{
	const struct child_args *c = arg;
	int sock = c->sock, devnull = c->devnull, exe = c->exe, as_root = c->as_root;
	char *const *argv = c->argv;
	char *const *envp = c->envp;
	struct sigaction dfl;
	sigset_t none;
	int s, n, x, sig;

	/* signals first: a handler of the caller's must never run here */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &dfl, NULL);
	if (setpgid(0, 0) != 0)
		_exit(HELPER_EXIT_SETUP);
	if (set_limits() != 0)
		_exit(HELPER_EXIT_SETUP - 1);
	/* descriptors: move ours above 2, then 0/1 = socket, 2 = /dev/null */
	s = fcntl(sock, F_DUPFD_CLOEXEC, 3);
	n = fcntl(devnull, F_DUPFD_CLOEXEC, 3);
	x = fcntl(exe, F_DUPFD_CLOEXEC, 3);
	if (s < 0 || n < 0 || x < 0 || dup2(s, 0) != 0 || dup2(s, 1) != 1 || dup2(n, 2) != 2)
		_exit(HELPER_EXIT_SETUP - 2);
	/* everything else closed; x stays (close-on-exec) for execveat */
	close_from(3, x - 1);
	close_from(x + 1, INT_MAX);
	if (as_root) {
		if (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setresgid, 0, 0, 0) != 0 ||
		    syscall(SYS_setresuid, 0, 0, 0) != 0)
			_exit(HELPER_EXIT_SETUP - 3);
	}
	umask(077);
	reset_scheduling();
	/* nice 0: a root helper must not run at a priority its caller chose;
	 * a caller that is not root may not lower its own niceness, and its
	 * helper is its own: then as it is */
	if (chdir("/") != 0 || (setpriority(PRIO_PROCESS, 0, 0) != 0 && as_root) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		_exit(HELPER_EXIT_SETUP - 4);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
		_exit(HELPER_EXIT_SETUP);
	syscall(SYS_execveat, x, "", argv, envp, AT_EMPTY_PATH);
	_exit(HELPER_EXIT_SETUP - 5);
	return 0;
}

#define CHILD_STACK (256u * 1024u)

/* ---- the parent ---- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pk_helper_start(struct pk_helper *h, int timeout_s)
{
	static char *const argv[] = { "k8s-auth-helper", NULL };
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct child_args args;
	sigset_t all, old;
	int sv[2] = { -1, -1 }, devnull = -1, exe = -1, as_root = geteuid() == 0;
	void *stack = MAP_FAILED;
	uid_t ruid = 0, euid = 0, suid = 0;
	int raised = 0, restore_failed = 0;
	long pid;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	h->timeout_ms = (timeout_s > 0 && timeout_s < PK_HELPER_CAP_S ? timeout_s : PK_HELPER_CAP_S) * 1000;
	exe = open_helper(h, K8S_HELPER_PATH);
	if (exe < 0)
		goto fail;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		why(h, "cannot set up the helper's descriptors: %s", strerror(errno));
		goto fail;
	}
	stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
		     -1, 0);
	if (stack == MAP_FAILED) {
		why(h, "cannot set up the helper's stack: %s", strerror(errno));
		goto fail;
	}
	args.sock = sv[1];
	args.devnull = devnull;
	args.exe = exe;
	args.as_root = as_root;
	args.argv = argv;
	args.envp = envp;
	/* no signal handler of the caller's may run in the child before it
	 * resets them: block everything across clone().  CLONE_VM |
	 * CLONE_VFORK: no copy of the caller's page tables (a large sshd or
	 * sudo pays nothing for its size), and we resume once the child has
	 * exec'd or failed; exit signal 0: no SIGCHLD for the caller. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* sudo's and su's real uid is the user's, who may signal processes
	 * with it: the child would be the user's to SIGKILL or SIGSTOP until
	 * it sets its ids (a failure on demand).  Born with real and saved
	 * uid 0 instead, it never is; the caller's ids come back at once. */
	if (as_root && getresuid(&ruid, &euid, &suid) == 0 && (ruid != 0 || suid != 0))
		raised = setresuid(0, (uid_t)-1, 0) == 0;
	pid = clone(child, (char *)stack + CHILD_STACK, CLONE_VM | CLONE_VFORK, &args);
	if (raised && setresuid(ruid, (uid_t)-1, suid) != 0)
		restore_failed = 1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	munmap(stack, CHILD_STACK);
	if (restore_failed) {
		/* never leave the caller with ids it did not have */
		why(h, "cannot restore the caller's real uid after starting the helper");
		if (pid > 0) {
			h->pid = (pid_t)pid;
			pk_helper_kill(h);
		}
		_exit(127);
	}
	if (pid < 0) {
		why(h, "cannot start the helper: %s", strerror(errno));
		goto fail;
	}
	h->pid = (pid_t)pid;
	h->fd = sv[0];
	close(sv[1]);
	close(devnull);
	close(exe);
	return 0;
fail:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (devnull >= 0)
		close(devnull);
	if (exe >= 0)
		close(exe);
	return -1;
}

/* Reap the helper, waiting until the deadline at most.  1 reaped (*st,
 * h->pid cleared), 0 not yet, -1 it is gone (why set). */
static int reap(struct pk_helper *h, long long deadline, int *st)
{
	/* a pidfd becomes readable when the helper has exited: one wake-up
	 * instead of sleeping in steps (the child is unreaped, so its pid
	 * cannot be reused under us); without pidfds (Linux < 5.3, a
	 * seccomp filter) look every 200 us */
	int pidfd = (int)syscall(SYS_pidfd_open, h->pid, 0);
	long long left;
	int rc;
	pid_t w;

	for (;;) {
		w = waitpid(h->pid, st, __WALL | WNOHANG);
		if (w == h->pid) {
			h->pid = 0;
			rc = 1;
			break;
		}
		if (w < 0 && errno != EINTR) {
			why(h, "the helper vanished (%s)", strerror(errno));
			rc = -1;
			break;
		}
		left = deadline - now_ms();
		if (left <= 0) {
			rc = 0;
			break;
		}
		if (pidfd >= 0) {
			struct pollfd p = { .fd = pidfd, .events = POLLIN };

			(void)poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		} else {
			usleep(200);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return rc;
}

/* 0 for a clean exit; otherwise why says how the helper ended (`when`:
 * "" or " before answering"). */
static int ended_cleanly(struct pk_helper *h, int st, const char *when)
{
	if (WIFSIGNALED(st))
		why(h, "the helper was killed by signal %d%s", WTERMSIG(st), when);
	else if (WIFEXITED(st) && WEXITSTATUS(st) > HELPER_EXIT_SETUP - 8 &&
		 WEXITSTATUS(st) <= HELPER_EXIT_SETUP)
		why(h, "the helper could not be set up (step %d)", HELPER_EXIT_SETUP - WEXITSTATUS(st));
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || when[0] != '\0')
		why(h, "the helper exited with status %d%s", WIFEXITED(st) ? WEXITSTATUS(st) : -1, when);
	else
		return 0;
	return -1;
}

/* After an early end of file: say how the helper ended, if it has. */
static void ended(struct pk_helper *h)
{
	int st;

	if (reap(h, now_ms() + 50, &st) == 1)
		(void)ended_cleanly(h, st, " before answering");
}

void pk_helper_kill(struct pk_helper *h)
{
	int st;

	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	if (h->pid > 0) {
		(void)kill(-h->pid, SIGKILL);
		(void)kill(h->pid, SIGKILL);
		while (waitpid(h->pid, &st, __WALL) < 0 && errno == EINTR)
			;
	}
	h->pid = 0;
}

/* Wait until fd is ready for `events` or the deadline passes.
 * 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left;
	int r;

	/* past the deadline, still one look without waiting: a caller stopped
	 * (SIGSTOP by its own user) must not turn an answer that is there
	 * into a timeout */
	for (;;) {
		left = deadline - now_ms();
		if (left < 0)
			left = 0;
		r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		return r > 0;
	}
}

static int send_all(struct pk_helper *h, const char *p, size_t n, long long deadline)
{
	ssize_t w;

	while (n > 0) {
		if (wait_fd(h->fd, POLLOUT, deadline) != 1) {
			why(h, "the helper did not take the request in time");
			return -1;
		}
		w = send(h->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0) {
			why(h, "the helper is gone (%s)", strerror(errno));
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read exactly n bytes.  0, or -1 (why set). */
static int recv_all(struct pk_helper *h, unsigned char *p, size_t n, long long deadline)
{
	ssize_t r;
	int w;

	while (n > 0) {
		w = wait_fd(h->fd, POLLIN, deadline);
		if (w != 1) {
			why(h, w == 0 ? "the helper did not answer within %d s"
				      : "waiting for the helper failed", h->timeout_ms / 1000);
			return -1;
		}
		r = recv(h->fd, p, n, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			why(h, "the helper ended without a whole answer");
			if (r == 0)
				ended(h);
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int pk_helper_exchange(struct pk_helper *h, struct k8s_buf *req, struct k8s_hp_answer *ans)
{
	unsigned char hdr[K8S_HP_HEADER], *msg = NULL;
	long long deadline = now_ms() + h->timeout_ms;
	uint32_t plen;
	uint8_t type, want = (uint8_t)req->data[4];
	int rc = -1;

	if (send_all(h, req->data, req->len, deadline) != 0 ||
	    recv_all(h, hdr, sizeof(hdr), deadline) != 0)
		goto out;
	if (k8s_hp_header(hdr, sizeof(hdr), &type, &plen) != 0) {
		why(h, "the helper's answer is malformed (header)");
		goto out;
	}
	msg = malloc(sizeof(hdr) + plen);
	if (msg == NULL) {
		why(h, "out of memory reading the helper's answer");
		goto out;
	}
	memcpy(msg, hdr, sizeof(hdr));
	if (recv_all(h, msg + sizeof(hdr), plen, deadline) != 0)
		goto out;
	if (k8s_hp_decode_answer(msg, sizeof(hdr) + plen, ans) != 0) {
		why(h, "the helper's answer is malformed");
		goto out;
	}
	if (ans->type != want || ans->seq != h->seq) {
		why(h, "the helper answered another request (type %u, sequence %llu)",
		    (unsigned)ans->type, (unsigned long long)ans->seq);
		goto out;
	}
	rc = 0;
out:
	free(msg);
	if (rc != 0)
		pk_helper_kill(h);
	return rc;
}

int pk_helper_finish(struct pk_helper *h)
{
	long long deadline = now_ms() + h->timeout_ms;
	unsigned char extra;
	ssize_t r;
	int st = 0, rc = -1;

	if (h->pid <= 0)
		return -1;
	(void)shutdown(h->fd, SHUT_WR);
	for (;;) {
		if (wait_fd(h->fd, POLLIN, deadline) != 1) {
			why(h, "the helper did not exit within %d s", h->timeout_ms / 1000);
			goto out;
		}
		r = recv(h->fd, &extra, 1, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r != 0) {
			why(h, r > 0 ? "the helper answered more than asked" : "reading from the helper failed");
			goto out;
		}
		break;
	}
	/* end of file: the helper closed its end, at exit; reap it */
	r = reap(h, deadline, &st);
	if (r == 0)
		why(h, "the helper did not exit within %d s", h->timeout_ms / 1000);
	if (r == 1)
		rc = ended_cleanly(h, st, "");
out:
	pk_helper_kill(h);
	return rc;
}
