/* preauth.c: first login's policy and served-entry files (preauth.h). */
#include "preauth.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"
#include "trusted.h"
#include "storefmt.h"

#define POLICY_TAG "k8s-preauth-policy 1 "
#define SERVED_TAG "k8s-preauth-served 1 "

/* A cursor over one line of space-separated fields. */
struct fields {
	const char *p, *end;
	int trailing;   /* a separator with no field after it */
};

/* The next field: [*s, *s + *n).  0, or -1 when there is none. */
static int next_field(struct fields *f, const char **s, size_t *n)
{
	const char *q = f->p;

	while (q < f->end && *q != ' ')
		q++;
	if (q == f->p)
		return -1;
	*s = f->p;
	*n = (size_t)(q - f->p);
	f->p = q < f->end ? q + 1 : q;
	f->trailing = q < f->end && f->p == f->end;
	return 0;
}

/* Every field read, and nothing after the last one. */
static int done(const struct fields *f)
{
	return f->p == f->end && !f->trailing;
}

static int get_u64(struct fields *f, unsigned long long max, unsigned long long *v)
{
	const char *s;
	size_t n, i;

	*v = 0;
	if (next_field(f, &s, &n) != 0 || n > 20 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || *v > (max - (unsigned)(s[i] - '0')) / 10)
			return -1;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return 0;
}

static int get_u32(struct fields *f, uint32_t *v)
{
	unsigned long long x;

	if (get_u64(f, UINT32_MAX, &x) != 0)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

/* Printable ASCII, no space; `path`: absolute. */
static int str_ok(const char *s, size_t n, int path)
{
	size_t i;

	if (n == 0 || n >= K8S_PREAUTH_STR || (path && s[0] != '/'))
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

static int get_str(struct fields *f, int path, char *out)
{
	const char *s;
	size_t n;

	if (next_field(f, &s, &n) != 0 || !str_ok(s, n, path))
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* One line, tag first, newline last. */
static int open_line(const char *buf, size_t len, const char *tag, struct fields *f)
{
	size_t tl = strlen(tag);

	if (len < tl + 1 || len > K8S_PREAUTH_FILE || memcmp(buf, tag, tl) != 0 ||
	    buf[len - 1] != '\n' || memchr(buf, '\n', len - 1) != NULL || memchr(buf, '\0', len) != NULL)
		return -1;
	f->p = buf + tl;
	f->end = buf + len - 1;
	f->trailing = 0;
	return 0;
}

int k8s_preauth_policy_parse(const char *buf, size_t len, struct k8s_preauth_policy *p)
{
	struct fields f;

	memset(p, 0, sizeof(*p));
	if (open_line(buf, len, POLICY_TAG, &f) != 0 || get_u32(&f, &p->uid_min) != 0 ||
	    get_u32(&f, &p->uid_max) != 0 || get_u32(&f, &p->gid_min) != 0 ||
	    get_u32(&f, &p->gid_max) != 0 || get_str(&f, 1, p->sshd) != 0 ||
	    get_str(&f, 1, p->shell) != 0 || get_str(&f, 1, p->home) != 0 || !done(&f) ||
	    p->uid_min > p->uid_max || p->gid_min > p->gid_max || p->uid_min < K8S_SF_MIN_ID) {
		memset(p, 0, sizeof(*p));
		return -1;
	}
	return 0;
}

int k8s_preauth_policy_format(const struct k8s_preauth_policy *p, char *out, size_t size)
{
	int n;

	if (!str_ok(p->sshd, strlen(p->sshd), 1) || !str_ok(p->shell, strlen(p->shell), 1) ||
	    !str_ok(p->home, strlen(p->home), 1))
		return -1;
	n = snprintf(out, size, POLICY_TAG "%u %u %u %u %s %s %s\n", p->uid_min, p->uid_max,
		     p->gid_min, p->gid_max, p->sshd, p->shell, p->home);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

int k8s_preauth_entry_parse(const char *buf, size_t len, struct k8s_preauth_entry *e)
{
	struct fields f;
	const char *s;
	size_t n;

	memset(e, 0, sizeof(*e));
	if (open_line(buf, len, SERVED_TAG, &f) != 0 || get_u64(&f, UINT64_MAX, &e->start) != 0 ||
	    next_field(&f, &s, &n) != 0 || !k8s_sf_valid_name(s, n))
		goto bad;
	memcpy(e->name, s, n);
	e->name[n] = '\0';
	if (get_u32(&f, &e->uid) != 0 || get_u32(&f, &e->gid) != 0 || get_str(&f, 1, e->home) != 0 ||
	    get_str(&f, 1, e->shell) != 0 || !done(&f) || e->uid < K8S_SF_MIN_ID ||
	    e->gid < K8S_SF_MIN_ID)
		goto bad;
	return 0;
bad:
	memset(e, 0, sizeof(*e));
	return -1;
}

int k8s_preauth_entry_format(const struct k8s_preauth_entry *e, char *out, size_t size)
{
	int n;

	if (!k8s_sf_valid_name(e->name, strlen(e->name)) || !str_ok(e->home, strlen(e->home), 1) ||
	    !str_ok(e->shell, strlen(e->shell), 1))
		return -1;
	n = snprintf(out, size, SERVED_TAG "%llu %s %u %u %s %s\n", e->start, e->name, e->uid, e->gid,
		     e->home, e->shell);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

static int reserved(uint32_t id)
{
	return id < K8S_SF_MIN_ID || id == 65534 || id == 65535 || id == 0xffffffffu;
}

int k8s_preauth_predict(const struct k8s_preauth_policy *p, const char *name,
			struct k8s_preauth_entry *e)
{
	unsigned char md[K8S_SHA256_LEN];
	uint64_t h = 0, span;
	size_t i, o = 0, nl = strlen(name);
	const char *t;

	memset(e, 0, sizeof(*e));
	if (!k8s_sf_valid_name(name, nl) || p->uid_min > p->uid_max)
		return -1;
	k8s_sha256(name, nl, md);
	for (i = 0; i < 8; i++)
		h = (h << 8) | md[i];
	span = (uint64_t)p->uid_max - p->uid_min + 1;
	e->uid = (uint32_t)(p->uid_min + h % span);
	e->gid = e->uid;
	if (reserved(e->uid) || e->gid < p->gid_min || e->gid > p->gid_max)
		return -1;
	for (t = p->home; *t != '\0'; t++) {
		const char *add = t;
		size_t an = 1;

		if (t[0] == '%' && t[1] == 'u') {
			add = name;
			an = nl;
			t++;
		} else if (t[0] == '%' && t[1] == '%') {
			t++;
		}
		if (o + an >= sizeof(e->home))
			return -1;
		memcpy(e->home + o, add, an);
		o += an;
	}
	e->home[o] = '\0';
	memcpy(e->name, name, nl + 1);
	memcpy(e->shell, p->shell, strlen(p->shell) + 1);
	if (!str_ok(e->home, o, 1))
		return -1;
	return 0;
}


ssize_t k8s_preauth_read(int dirfd, const char *name, char *buf, size_t size)
{
	struct stat sb;
	ssize_t n, got = 0;
	int fd, e;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_uid != 0 ||
	    (sb.st_mode & 077) != 0 || sb.st_size <= 0 || (size_t)sb.st_size >= size) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	while ((size_t)got < size - 1) {
		n = read(fd, buf + got, size - 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return got;
}

pid_t k8s_preauth_name_pid(const char *name, int *tmp)
{
	const char *s = name;
	long long v = 0;
	size_t i, n;

	*tmp = 0;
	if (s[0] == '.') {
		*tmp = 1;
		s++;
	}
	if (s[0] != 'p' || s[1] != '.')
		return 0;
	s += 2;
	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++)
		;
	if (n == 0 || n > 10 || s[0] == '0' || strcmp(s + n, *tmp ? ".tmp" : "") != 0)
		return 0;
	for (i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v > 1 && v <= INT32_MAX ? (pid_t)v : 0;
}

int k8s_preauth_sweep_dead(int dirfd)
{
	struct dirent *de;
	pid_t pid, self = getpid();
	int fd, tmp, removed = 0;
	DIR *d;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		pid = k8s_preauth_name_pid(de->d_name, &tmp);
		if (pid <= 1 || pid == self)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		if (unlinkat(dirfd, de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

int k8s_preauth_k8s_last(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *eol, *q, *tok;
	int lines = 0, last_is_k8s = 0;
	size_t n;

	for (; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		for (q = p; q < eol && (*q == ' ' || *q == '\t'); q++)
			;
		if ((size_t)(eol - q) < 6 || memcmp(q, "passwd", 6) != 0)
			continue;
		for (q += 6; q < eol && (*q == ' ' || *q == '\t'); q++)
			;
		if (q == eol || *q != ':')
			continue;
		lines++;
		last_is_k8s = 0;
		for (q++; q < eol && *q != '#';) {
			if (*q == ' ' || *q == '\t' || *q == '\r') {
				q++;
				continue;
			}
			if (*q == '[') { /* an action item: not a service */
				while (q < eol && *q != ']' && *q != '#')
					q++;
				if (q == eol || *q != ']') { /* unterminated: not understood */
					last_is_k8s = 0;
					break;
				}
				q++;
				continue;
			}
			tok = q;
			while (q < eol && *q != ' ' && *q != '\t' && *q != '\r' && *q != '#' && *q != '[')
				q++;
			n = (size_t)(q - tok);
			last_is_k8s = n == 3 && memcmp(tok, "k8s", 3) == 0;
		}
		if (eol == end)
			break;
	}
	return lines == 1 && last_is_k8s;
}

int k8s_preauth_exe_is_sshd(const struct stat *exe, const char *sshd)
{
	const char *paths[] = { sshd, K8S_SSHD_SESSION_PATH, K8S_SSHD_AUTH_PATH };
	char why[320];
	struct stat bin;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (paths[i] == NULL || paths[i][0] != '/')
			continue;
		fd = k8s_open_trusted_exec(paths[i], &bin, why, sizeof(why));
		if (fd < 0)
			continue;
		close(fd);
		if (bin.st_dev == exe->st_dev && bin.st_ino == exe->st_ino)
			return 1;
	}
	return 0;
}
