/* k8s-ssh-askpass: answers pam_k8s's prompts for ssh (and sudo -A).
 *
 *   SSH_ASKPASS=k8s-ssh-askpass SSH_ASKPASS_REQUIRE=force \
 *   K8S_ASKPASS_COMMAND='kubectl create token alice --audience %a --duration 10m' \
 *   ssh alice@web-1
 *
 * ssh runs it once per prompt with the prompt as argv[1].  Anything that
 * is not exactly a pam_k8s prompt (a password prompt, a host-key question,
 * a lookalike from a hostile server) is refused: exit 1, nothing on
 * stdout.  The prompt names the audience, but the server writes it: a
 * token is minted only for an audience the *client* side allows, by
 * default host-login:<host>, where the host comes from the process that
 * runs the helper, never from the prompt: for ssh its destination as
 * `ssh -G` resolves it from ssh's own arguments, for sudo this host's
 * name, for anything else K8S_ASKPASS_HOST or a refusal.  askpass.conf
 * (Host blocks) and K8S_ASKPASS_AUDIENCE change the allowed patterns.
 * The token comes from K8S_ASKPASS_COMMAND (%a audience, %h host, %u user;
 * split on blanks and run without a shell) or K8S_ASKPASS_TOKEN_FILE, and
 * must be a JWT minted for exactly the audience the prompt names.  Long
 * tokens go out in framed chunks (see docs/pam.md); the token is cached,
 * 0600 in a private directory, between the prompts of one ssh process,
 * and removed after its last chunk.
 *
 *   k8s-ssh-askpass --frame [CHUNK] < token
 * prints the framed answers one per line, for pasting by hand. */
#include "askpass.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_DEFAULT 960     /* data bytes per answer: framed answers stay < 1000 < ssh's 1023 */
#define CACHE_TTL     600
#define MAX_ARGS      64
#define SSH_G_MS      10000   /* ssh -G runs Match exec commands: bound it */
#define SSH_G_OUT_MAX 65536
#define CMDLINE_MAX   131072
#define SSH_ARGS_MAX  1024
#define CONF_MAX      65536

static void ap_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ap_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("k8s-ssh-askpass: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

struct tok {
	char data[AP_TOKEN_MAX + 2];
	size_t len;
};

static void trim(struct tok *t)
{
	size_t s = 0;

	while (t->len > 0 && (t->data[t->len - 1] == '\n' || t->data[t->len - 1] == '\r' ||
			      t->data[t->len - 1] == ' ' || t->data[t->len - 1] == '\t'))
		t->len--;
	while (s < t->len && (t->data[s] == ' ' || t->data[s] == '\t' || t->data[s] == '\n'))
		s++;
	memmove(t->data, t->data + s, t->len - s);
	t->len -= s;
	t->data[t->len] = '\0';
}

static int token_ok(const struct tok *t)
{
	size_t i;

	if (t->len == 0 || t->len > AP_TOKEN_MAX)
		return 0;
	for (i = 0; i < t->len; i++)
		if ((unsigned char)t->data[i] < 0x21 || (unsigned char)t->data[i] > 0x7e)
			return 0;
	return 1;
}

static int read_fd(int fd, struct tok *t)
{
	ssize_t n;

	t->len = 0;
	while (t->len < sizeof(t->data) - 1) {
		n = read(fd, t->data + t->len, sizeof(t->data) - 1 - t->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		t->len += (size_t)n;
	}
	t->data[t->len] = '\0';
	return t->len == sizeof(t->data) - 1 ? -1 : 0;  /* too long for a token */
}

static int run_command(const char *tmpl, const struct ap_prompt *p, const struct ap_target *tg,
		       struct tok *t)
{
	static char words[MAX_ARGS][1024];
	char *argv[MAX_ARGS + 1], copy[4096], *w, *save = NULL;
	int fds[2], status = 0, argc = 0, rc = -1;
	pid_t pid, w_pid;

	if (snprintf(copy, sizeof(copy), "%s", tmpl) >= (int)sizeof(copy))
		return -1;
	for (w = strtok_r(copy, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
		if (argc >= MAX_ARGS ||
		    ap_expand(w, p->audience, tg->host, tg->user, 0, words[argc], sizeof(words[argc])) != 0)
			return -1;
		argv[argc] = words[argc];
		argc++;
	}
	argv[argc] = NULL;
	if (argc == 0 || pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		if (dup2(fds[1], STDOUT_FILENO) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	if (pid > 0) {
		rc = read_fd(fds[0], t);
		close(fds[0]);
		while ((w_pid = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
		if (w_pid != pid) {
			ap_warn("K8S_ASKPASS_COMMAND %s: could not wait for it: %s", argv[0], strerror(errno));
			rc = -1;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			char how[96];

			ap_describe_wait(status, how, sizeof(how));
			ap_warn("K8S_ASKPASS_COMMAND %s %s", argv[0], how);
			rc = -1;
		}
	} else {
		close(fds[0]);
	}
	return rc;
}

static int read_file(const char *path, struct tok *t)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = read_fd(fd, t);
	close(fd);
	return rc;
}

/* A fresh token for the prompt's audience, or -1. */
static int obtain(const struct ap_prompt *p, const struct ap_target *tg, struct tok *t)
{
	const char *cmd = getenv("K8S_ASKPASS_COMMAND"), *file = getenv("K8S_ASKPASS_TOKEN_FILE");
	char path[4096];
	int rc;

	if (cmd != NULL && *cmd != '\0') {
		rc = run_command(cmd, p, tg, t);
	} else if (file != NULL && *file != '\0') {
		rc = ap_expand(file, p->audience, tg->host, tg->user, 0, path, sizeof(path)) == 0
		     ? read_file(path, t) : -1;
	} else {
		ap_warn("set K8S_ASKPASS_COMMAND or K8S_ASKPASS_TOKEN_FILE");
		return -1;
	}
	if (rc != 0) {
		ap_warn("could not get a token");
		return -1;
	}
	trim(t);
	if (!token_ok(t) || !ap_jwt_has_audience(t->data, t->len, p->audience)) {
		ap_warn("the token is not a JWT for audience %s; not sending it", p->audience);
		return -1;
	}
	return 0;
}

/* ---- whom for: the process that runs the helper ----
 *
 * The prompt is the server's to write, "(user@host) " prefix included, so
 * the host a token is minted for comes from the parent process: the ssh
 * client (its destination, resolved by `ssh -G` with ssh's own arguments),
 * sudo (this host), or, for any other parent, K8S_ASKPASS_HOST. */

/* Up to cap-1 bytes of a file, NUL-terminated.  Length, or -1. */
static ssize_t slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return -1;
	while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return -1;
		}
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

struct parent {
	pid_t pid;
	char name[64];       /* /proc/PID/status Name (the kernel's comm) */
	long uid[4];         /* real, effective, saved, fs */
	char exe[4096];      /* /proc/PID/exe, "" when it cannot be read */
	int exe_errno;
};

static int parent_get(struct parent *pp)
{
	char path[64], buf[8192];
	ssize_t n;

	memset(pp, 0, sizeof(*pp));
	pp->pid = getppid();
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pp->pid);
	if (slurp(path, buf, sizeof(buf)) < 0 ||
	    ap_parse_status(buf, pp->name, sizeof(pp->name), pp->uid) != 0)
		return -1;
	for (n = 0; pp->name[n] != '\0'; n++)  /* it goes into a message */
		if (pp->name[n] < 0x20 || pp->name[n] > 0x7e)
			pp->name[n] = '?';
	snprintf(path, sizeof(path), "/proc/%ld/exe", (long)pp->pid);
	n = readlink(path, pp->exe, sizeof(pp->exe) - 1);
	if (n < 0 || (size_t)n >= sizeof(pp->exe) - 1) {
		pp->exe_errno = n < 0 ? errno : ENAMETOOLONG;
		pp->exe[0] = '\0';
	} else {
		pp->exe[n] = '\0';
	}
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

static void local_user(char *out, size_t cap)
{
	struct passwd *pw = getpwuid(getuid());

	if (pw != NULL && snprintf(out, cap, "%s", pw->pw_name) < (int)cap)
		return;
	snprintf(out, cap, "%ld", (long)getuid());
}

/* sudo is setuid root: its effective uid is 0 and its real uid ours, which
 * no process of ours can fake, and the kernel named it after the file it
 * executed.  Its /proc/PID/exe is then not ours to read (a setuid process
 * is not dumpable); when it is (we are root), it must be a root-owned
 * setuid file called sudo. */
static int parent_is_sudo(const struct parent *pp)
{
	struct stat sb;

	if (strcmp(pp->name, "sudo") != 0 || pp->uid[0] != (long)getuid() || pp->uid[1] != 0)
		return 0;
	if (pp->exe[0] == '\0')
		return pp->exe_errno == EACCES || pp->exe_errno == EPERM;
	return strcmp(base_name(pp->exe), "sudo") == 0 && stat(pp->exe, &sb) == 0 &&
	       S_ISREG(sb.st_mode) && sb.st_uid == 0 && (sb.st_mode & S_ISUID) != 0;
}

/* ssh runs as us; its executable is called ssh. */
static int parent_is_ssh(const struct parent *pp)
{
	if (pp->uid[0] != (long)getuid() || pp->uid[1] != (long)getuid())
		return 0;
	if (pp->exe[0] != '\0')
		return strcmp(base_name(pp->exe), "ssh") == 0;
	return strcmp(pp->name, "ssh") == 0;
}

/* Run `ssh -G ARGS...` with ssh's own arguments; its output into out. */
static int run_ssh_g(const struct parent *pp, char *out, size_t cap, size_t *len)
{
	static char cmd[CMDLINE_MAX];
	static char *argv[SSH_ARGS_MAX + 3];
	char path[64];
	const char *exe;
	struct pollfd pfd;
	struct timespec t0, t1;
	int fds[2], status = 0, argc = 2, devnull, ms;
	ssize_t n, r;
	size_t i;
	pid_t pid;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pp->pid);
	n = slurp(path, cmd, sizeof(cmd));
	if (n <= 0 || (size_t)n >= sizeof(cmd) - 1 || getppid() != pp->pid)
		return -1;
	/* argv[0] is ssh's; NUL-separated, the last one NUL-terminated */
	for (i = strlen(cmd) + 1; i < (size_t)n; i += strlen(cmd + i) + 1) {
		if (argc >= SSH_ARGS_MAX + 2)
			return -1;
		argv[argc++] = cmd + i;
	}
	argv[argc] = NULL;
	exe = pp->exe[0] != '\0' && strstr(pp->exe, " (deleted)") == NULL ? pp->exe : "ssh";
	argv[0] = (char *)exe;
	argv[1] = (char *)"-G";
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(fds[1], STDOUT_FILENO) < 0 ||
		    dup2(devnull, STDERR_FILENO) < 0)
			_exit(127);
		execvp(exe, argv);
		_exit(127);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	*len = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = SSH_G_MS - (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		pfd.fd = fds[0];
		pfd.events = POLLIN;
		r = ms > 0 ? poll(&pfd, 1, ms) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r > 0) {
			r = read(fds[0], out + *len, cap - 1 - *len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0)
				break;  /* EOF: ssh -G is done */
			if (r > 0)
				*len += (size_t)r;
		}
		if (r <= 0 || *len >= cap - 1) {  /* timeout, error, or too much output */
			kill(pid, SIGKILL);
			*len = cap;  /* marks the failure below */
			break;
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (*len >= cap || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		ap_warn("ssh -G (to see where this ssh connects) failed: refusing");
		return -1;
	}
	out[*len] = '\0';
	return 0;
}

static void lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static int target_ssh(const struct parent *pp, struct ap_target *t)
{
	static char out[SSH_G_OUT_MAX];
	size_t len = 0;

	if (run_ssh_g(pp, out, sizeof(out), &len) != 0)
		return -1;
	if (ap_parse_ssh_g(out, len, t) != 0 || !ap_name_ok(t->hostname)) {
		ap_warn("ssh -G names no usable host name: refusing");
		return -1;
	}
	lower(t->hostname);
	if (!ap_name_ok(t->host))  /* older ssh prints no "host"; or "web-*" was typed */
		snprintf(t->host, sizeof(t->host), "%s", t->hostname);
	lower(t->host);
	if (t->user[0] == '\0')
		local_user(t->user, sizeof(t->user));
	t->via = "ssh";
	return 0;
}

static int find_target(struct ap_target *t)
{
	struct parent pp;
	const char *h = getenv("K8S_ASKPASS_HOST");

	memset(t, 0, sizeof(*t));
	if (parent_get(&pp) != 0) {
		ap_warn("cannot read /proc/%ld (the process that runs the helper): refusing",
			(long)getppid());
		return -1;
	}
	if (parent_is_ssh(&pp))
		return target_ssh(&pp, t) == 0 && getppid() == pp.pid ? 0 : -1;
	if (parent_is_sudo(&pp)) {
		if (gethostname(t->host, sizeof(t->host) - 1) != 0 || !ap_name_ok(t->host)) {
			ap_warn("this host's name is not usable in an audience: refusing");
			return -1;
		}
		local_user(t->user, sizeof(t->user));
		t->via = "sudo";
		return getppid() == pp.pid ? 0 : -1;  /* still the process we looked at */
	}
	if (h != NULL && *h != '\0') {
		if (!ap_name_ok(h)) {
			ap_warn("K8S_ASKPASS_HOST is not a host name: refusing");
			return -1;
		}
		snprintf(t->host, sizeof(t->host), "%s", h);
		local_user(t->user, sizeof(t->user));
		t->via = "K8S_ASKPASS_HOST";
		return 0;
	}
	ap_warn("run by %s (pid %ld), neither ssh nor sudo, and K8S_ASKPASS_HOST is unset: refusing",
		pp.name, (long)pp.pid);
	return -1;
}

/* ---- askpass.conf ---- */

static int conf_path(char *out, size_t cap, int *explicit)
{
	const char *c = getenv("K8S_ASKPASS_CONFIG"), *x = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	struct passwd *pw;
	int n;

	*explicit = c != NULL && *c != '\0';
	if (*explicit)
		n = snprintf(out, cap, "%s", c);
	else if (x != NULL && *x == '/')
		n = snprintf(out, cap, "%s/k8s-auth/askpass.conf", x);
	else {
		if (home == NULL || *home != '/')
			home = (pw = getpwuid(getuid())) != NULL ? pw->pw_dir : NULL;
		if (home == NULL)
			return -1;
		n = snprintf(out, cap, "%s/.config/k8s-auth/askpass.conf", home);
	}
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* The user's askpass.conf for this target; none is fine (defaults). */
static int load_conf(const struct ap_target *t, struct ap_conf *c, char *path, size_t cap)
{
	static char text[CONF_MAX];
	char err[160];
	struct stat sb;
	int fd, explicit;
	ssize_t n;
	size_t len = 0;

	c->audience[0] = '\0';
	c->short_names = -1;
	if (conf_path(path, cap, &explicit) != 0)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT && !explicit)
			return 0;
		ap_warn("%s: %s: refusing", path, strerror(errno));
		return -1;
	}
	/* Like ssh with its config: another user's, or writable by others, is refused. */
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (sb.st_uid != getuid() && sb.st_uid != 0) ||
	    (sb.st_mode & 022) != 0) {
		close(fd);
		ap_warn("%s: not a regular file of yours, or writable by others: refusing", path);
		return -1;
	}
	while (len < sizeof(text) && (n = read(fd, text + len, sizeof(text) - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len >= sizeof(text)) {
		ap_warn("%s: larger than %d bytes: refusing", path, CONF_MAX - 1);
		return -1;
	}
	if (ap_conf_parse(text, len, t->host, t->hostname, c, err, sizeof(err)) != 0) {
		ap_warn("%s: %s: refusing", path, err);
		return -1;
	}
	return 0;
}

/* ---- the per-ssh cache ---- */

static unsigned long long proc_start(pid_t pid)
{
	char path[64], buf[1024], *s;
	unsigned long long v = 0;
	int fd, field;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	s = strrchr(buf, ')');
	for (field = 2; s != NULL && field < 22; field++)
		s = strchr(s + 1, ' ');
	if (s != NULL)
		v = strtoull(s + 1, NULL, 10);
	return v;
}

static int cache_dir(char *out, size_t cap)
{
	const char *d = getenv("K8S_ASKPASS_CACHE_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat sb;
	int n;

	if (d != NULL && *d != '\0')
		n = snprintf(out, cap, "%s", d);
	else if (xdg != NULL && *xdg == '/')
		n = snprintf(out, cap, "%s/k8s-ssh-askpass", xdg);
	else
		n = snprintf(out, cap, "/tmp/k8s-ssh-askpass-%ld", (long)getuid());
	if (n < 0 || (size_t)n >= cap)
		return -1;
	if (mkdir(out, 0700) != 0 && errno != EEXIST)
		return -1;
	/* Someone else's directory (a squatter in /tmp) is never used. */
	if (lstat(out, &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != getuid() ||
	    (sb.st_mode & 077) != 0) {
		ap_warn("%s is not a private directory of yours", out);
		return -1;
	}
	return 0;
}

static int cache_path(const struct ap_prompt *p, char *out, size_t cap)
{
	char dir[4000], aud[17];
	pid_t ssh = getppid();

	if (cache_dir(dir, sizeof(dir)) != 0)
		return -1;
	ap_digest16(p->audience, strlen(p->audience), aud);
	return snprintf(out, cap, "%s/%ld-%llu-%s", dir, (long)ssh, proc_start(ssh), aud) < (int)cap
	       ? 0 : -1;
}

/* Entries of ssh processes that are gone, or too old. */
static void cache_gc(void)
{
	char dir[4000], path[4400];
	unsigned long long start;
	struct dirent *de;
	struct stat sb;
	long pid;
	DIR *d;

	if (cache_dir(dir, sizeof(dir)) != 0 || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (sscanf(de->d_name, "%ld-%llu-", &pid, &start) != 2)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &sb) == 0 &&
		    (sb.st_mtime + CACHE_TTL < time(NULL) || proc_start((pid_t)pid) != start))
			unlink(path);
	}
	closedir(d);
}

static int cache_put(const struct ap_prompt *p, const struct tok *t)
{
	char path[4400], tmp[4500];
	int fd, ok;

	if (cache_path(p, path, sizeof(path)) != 0)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ok = write(fd, t->data, t->len) == (ssize_t)t->len;
	ok = close(fd) == 0 && ok && rename(tmp, path) == 0;
	if (!ok)
		unlink(tmp);
	return ok ? 0 : -1;
}

static int cache_get(const struct ap_prompt *p, struct tok *t)
{
	char path[4400];
	struct stat sb;
	int fd, rc = -1;

	if (cache_path(p, path, sizeof(path)) != 0)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_uid == getuid() &&
	    (sb.st_mode & 077) == 0)
		rc = read_fd(fd, t);
	close(fd);
	return rc == 0 && token_ok(t) ? 0 : -1;
}

static void cache_drop(const struct ap_prompt *p)
{
	char path[4400];

	if (cache_path(p, path, sizeof(path)) == 0)
		unlink(path);
}

/* ---- answers ---- */

static size_t chunk_size(void)
{
	const char *s = getenv("K8S_ASKPASS_CHUNK");
	long v = s != NULL ? strtol(s, NULL, 10) : 0;

	return v >= 16 && v <= 8000 ? (size_t)v : CHUNK_DEFAULT;
}

static int put_answer(const char *head, const char *data, size_t n)
{
	return printf("%s%.*s\n", head, (int)n, data) < 0 || fflush(stdout) != 0 ? -1 : 0;
}

static int answer_first(const struct ap_prompt *p, const struct ap_target *tg, struct tok *t,
			size_t chunk)
{
	char head[AP_HEAD_MAX];
	size_t n;

	if (obtain(p, tg, t) != 0)
		return -1;
	n = t->len < chunk ? t->len : chunk;
	ap_frame_head(t->data, t->len, 0, head);
	if (n < t->len && cache_put(p, t) != 0) {
		ap_warn("cannot cache the token between prompts");
		return -1;
	}
	if (put_answer(head, t->data, n) != 0) {
		/* nobody will ask for the rest: do not leave the token cached */
		if (n < t->len)
			cache_drop(p);
		return -1;
	}
	return 0;
}

static int answer_next(const struct ap_prompt *p, struct tok *t, size_t chunk)
{
	char head[AP_HEAD_MAX];
	size_t n;

	if (cache_get(p, t) != 0 || t->len != p->total) {
		ap_warn("no token of %zu bytes cached for this ssh: refusing", p->total);
		return -1;
	}
	n = t->len - p->offset < chunk ? t->len - p->offset : chunk;
	ap_frame_head(t->data, t->len, p->offset, head);
	if (p->offset + n == t->len)
		cache_drop(p);
	return put_answer(head, t->data + p->offset, n);
}

/* --frame: every answer, in order, for a client that does not cut. */
static int frame_mode(int argc, char **argv)
{
	static struct tok t;
	size_t chunk = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : CHUNK_DEFAULT, off, n;
	char head[AP_HEAD_MAX];
	int rc;

	if (chunk < 16 || chunk > 8000 || read_fd(STDIN_FILENO, &t) != 0)
		return 1;
	trim(&t);
	if (!token_ok(&t))
		return 1;
	for (off = 0; off < t.len; off += n) {
		n = t.len - off < chunk ? t.len - off : chunk;
		ap_frame_head(t.data, t.len, off, head);
		if (put_answer(head, t.data + off, n) != 0)
			break;
	}
	/* decided before the wipe: t.len reads 0 after it */
	rc = off >= t.len ? 0 : 1;
	explicit_bzero(&t, sizeof(t));
	if (rc != 0)
		ap_warn("cannot write the answers: %s", strerror(errno));
	return rc;
}

int main(int argc, char **argv)
{
	static struct tok t;
	struct ap_prompt p;
	struct ap_target tg;
	struct ap_conf conf;
	char conf_file[4096], shown[2048], where[600];
	const char *pats, *from, *env;
	int rc, is_sudo;

	if (argc >= 2 && strcmp(argv[1], "--frame") == 0)
		return frame_mode(argc, argv);
	/* ssh sets SSH_ASKPASS_PROMPT for confirmations and notices. */
	if (argc != 2 || getenv("SSH_ASKPASS_PROMPT") != NULL || ap_parse_prompt(argv[1], &p) != 0) {
		ap_warn("not a pam_k8s prompt: refusing");
		return 1;
	}
	if (find_target(&tg) != 0 || load_conf(&tg, &conf, conf_file, sizeof(conf_file)) != 0)
		return 1;
	/* sudo: exactly this host's gethostname(), which is what pam_k8s's %h
	 * expands to here; ssh: short forms too (see k8s-ssh-askpass(1)). */
	is_sudo = strcmp(tg.via, "sudo") == 0;
	ap_target_names(&tg, !is_sudo, conf.short_names >= 0 ? conf.short_names : !is_sudo);
	env = getenv("K8S_ASKPASS_AUDIENCE");
	if (env != NULL && *env != '\0') {
		pats = env;
		from = "K8S_ASKPASS_AUDIENCE";
	} else if (conf.audience[0] != '\0') {
		pats = conf.audience;
		from = conf_file;
	} else {
		pats = AP_DEFAULT_AUDIENCE;
		from = "the default " AP_DEFAULT_AUDIENCE;
	}
	if (!ap_audience_allowed(pats, &tg, p.audience, shown, sizeof(shown))) {
		if (is_sudo)
			snprintf(where, sizeof(where), "sudo on this host (%s)", tg.host);
		else if (strcmp(tg.via, "ssh") == 0 && strcmp(tg.host, tg.hostname) != 0)
			snprintf(where, sizeof(where), "ssh to %s (HostName %s)", tg.host, tg.hostname);
		else
			snprintf(where, sizeof(where), "%s%s", strcmp(tg.via, "ssh") == 0 ? "ssh to " :
				 "K8S_ASKPASS_HOST=", tg.host);
		ap_warn("refusing to mint a token for audience %s: for %s only %s (from %s)",
			p.audience, where, shown[0] != '\0' ? shown : "nothing", from);
		return 1;
	}
	cache_gc();
	rc = p.kind == 1 ? answer_first(&p, &tg, &t, chunk_size()) : answer_next(&p, &t, chunk_size());
	explicit_bzero(&t, sizeof(t));
	return rc == 0 ? 0 : 1;
}
