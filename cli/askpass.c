/* k8s-ssh-askpass: answers pam_k8s's prompts for ssh.
 *
 *   SSH_ASKPASS=k8s-ssh-askpass SSH_ASKPASS_REQUIRE=force \
 *   K8S_ASKPASS_COMMAND='kubectl create token alice --audience %a --duration 10m' \
 *   ssh alice@web-1
 *
 * ssh runs it once per prompt with the prompt as argv[1].  Anything that
 * is not exactly a pam_k8s prompt (a password prompt, a host-key question,
 * a lookalike from a hostile server) is refused: exit 1, nothing on
 * stdout.  The token comes from K8S_ASKPASS_COMMAND (%a audience, %h host,
 * %u remote user; split on blanks and run without a shell) or
 * K8S_ASKPASS_TOKEN_FILE, and must be a JWT minted for exactly the
 * audience the prompt names.  Long tokens go out in framed chunks (see
 * docs/pam.md); the token is cached, 0600 in a private directory, between
 * the prompts of one ssh process, and removed after its last chunk.
 *
 *   k8s-ssh-askpass --frame [CHUNK] < token
 * prints the framed answers one per line, for pasting by hand. */
#include "askpass.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
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

/* %a, %h, %u, %% in one word of a template. */
static int expand(const char *in, const struct ap_prompt *p, char *out, size_t cap)
{
	size_t o = 0, n;
	const char *v;
	char one[2] = { 0, 0 };

	for (; *in != '\0'; in++) {
		v = NULL;
		if (in[0] == '%' && in[1] != '\0') {
			switch (in[1]) {
			case 'a': v = p->audience; break;
			case 'h': v = p->host; break;
			case 'u': v = p->user; break;
			case '%': v = "%"; break;
			}
		}
		if (v != NULL) {
			in++;
		} else {
			one[0] = *in;
			v = one;
		}
		n = strlen(v);
		if (o + n >= cap)
			return -1;
		memcpy(out + o, v, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

static int run_command(const char *tmpl, const struct ap_prompt *p, struct tok *t)
{
	static char words[MAX_ARGS][1024];
	char *argv[MAX_ARGS + 1], copy[4096], *w, *save = NULL;
	int fds[2], status = 0, argc = 0, rc = -1;
	pid_t pid, w_pid;

	if (snprintf(copy, sizeof(copy), "%s", tmpl) >= (int)sizeof(copy))
		return -1;
	for (w = strtok_r(copy, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
		if (argc >= MAX_ARGS || expand(w, p, words[argc], sizeof(words[argc])) != 0)
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
		if (w_pid != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			ap_warn("K8S_ASKPASS_COMMAND failed (status %d)", status);
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
static int obtain(const struct ap_prompt *p, struct tok *t)
{
	const char *cmd = getenv("K8S_ASKPASS_COMMAND"), *file = getenv("K8S_ASKPASS_TOKEN_FILE");
	char path[4096];
	int rc;

	if (cmd != NULL && *cmd != '\0') {
		rc = run_command(cmd, p, t);
	} else if (file != NULL && *file != '\0') {
		rc = expand(file, p, path, sizeof(path)) == 0 ? read_file(path, t) : -1;
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

/* K8S_ASKPASS_AUDIENCE: comma-separated globs (%h, %u expanded) the
 * audience must match.  Unset: any audience (see docs/pam.md). */
static int audience_allowed(const struct ap_prompt *p)
{
	const char *list = getenv("K8S_ASKPASS_AUDIENCE");
	char copy[4096], pat[1024], *w, *save = NULL;

	if (list == NULL || *list == '\0')
		return 1;
	if (snprintf(copy, sizeof(copy), "%s", list) >= (int)sizeof(copy))
		return 0;
	for (w = strtok_r(copy, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save))
		if (expand(w, p, pat, sizeof(pat)) == 0 && fnmatch(pat, p->audience, 0) == 0)
			return 1;
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

static int answer_first(const struct ap_prompt *p, struct tok *t, size_t chunk)
{
	char head[64], d[17];
	size_t n;

	if (obtain(p, t) != 0)
		return -1;
	n = t->len < chunk ? t->len : chunk;
	ap_digest16(t->data, t->len, d);
	snprintf(head, sizeof(head), "k8s1:%zu:%s:", t->len, d);
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
	char head[32];
	size_t n;

	if (cache_get(p, t) != 0 || t->len != p->total) {
		ap_warn("no token of %zu bytes cached for this ssh: refusing", p->total);
		return -1;
	}
	n = t->len - p->offset < chunk ? t->len - p->offset : chunk;
	snprintf(head, sizeof(head), "%zu:", p->offset);
	if (p->offset + n == t->len)
		cache_drop(p);
	return put_answer(head, t->data + p->offset, n);
}

/* --frame: every answer, in order, for a client that does not cut. */
static int frame_mode(int argc, char **argv)
{
	static struct tok t;
	size_t chunk = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : CHUNK_DEFAULT, off, n;
	char head[64], d[17];
	int rc;

	if (chunk < 16 || chunk > 8000 || read_fd(STDIN_FILENO, &t) != 0)
		return 1;
	trim(&t);
	if (!token_ok(&t))
		return 1;
	ap_digest16(t.data, t.len, d);
	for (off = 0; off < t.len; off += n) {
		n = t.len - off < chunk ? t.len - off : chunk;
		if (off == 0)
			snprintf(head, sizeof(head), "k8s1:%zu:%s:", t.len, d);
		else
			snprintf(head, sizeof(head), "%zu:", off);
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
	int rc;

	if (argc >= 2 && strcmp(argv[1], "--frame") == 0)
		return frame_mode(argc, argv);
	/* ssh sets SSH_ASKPASS_PROMPT for confirmations and notices. */
	if (argc != 2 || getenv("SSH_ASKPASS_PROMPT") != NULL || ap_parse_prompt(argv[1], &p) != 0) {
		ap_warn("not a pam_k8s prompt: refusing");
		return 1;
	}
	if (!audience_allowed(&p)) {
		ap_warn("audience %s is not in K8S_ASKPASS_AUDIENCE: refusing", p.audience);
		return 1;
	}
	cache_gc();
	rc = p.kind == 1 ? answer_first(&p, &t, chunk_size()) : answer_next(&p, &t, chunk_size());
	explicit_bzero(&t, sizeof(t));
	return rc == 0 ? 0 : 1;
}
