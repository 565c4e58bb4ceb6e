#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


void k8s_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		explicit_bzero(p, len);
}

void k8s_freezero(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

void k8s_freezero_str(char *s)
{
	if (s != NULL)
		k8s_freezero(s, strlen(s));
}

static int buf_reserve(struct k8s_buf *b, size_t extra)
{
	size_t need, cap;
	char *n;

	if (extra > SIZE_MAX - b->len - 1)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	/* No realloc: the old block may hold a secret and must be wiped. */
	n = malloc(cap);
	if (n == NULL)
		return -1;
	if (b->data != NULL) {
		memcpy(n, b->data, b->len);
		k8s_freezero(b->data, b->cap);
	}
	b->data = n;
	b->cap = cap;
	return 0;
}

int k8s_buf_append(struct k8s_buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) != 0)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int k8s_buf_printf(struct k8s_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) != 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void k8s_buf_free(struct k8s_buf *b)
{
	if (b->data != NULL)
		k8s_freezero(b->data, b->cap);
	b->data = NULL;
	b->len = b->cap = 0;
}

int k8s_parse_duration_ms(const char *s, int64_t *out_ms)
{
	int64_t total = 0;
	const char *p = s;

	if (s == NULL || *s == '\0')
		return -1;
	if (strcmp(s, "0") == 0) {
		*out_ms = 0;
		return 0;
	}
	while (*p != '\0') {
		int64_t v = 0, unit;
		int digits = 0;

		while (*p >= '0' && *p <= '9') {
			if (v > (INT64_MAX - 9) / 10)
				return -1;
			v = v * 10 + (*p - '0');
			p++;
			digits++;
		}
		if (digits == 0)
			return -1;
		if (strncmp(p, "ms", 2) == 0) {
			unit = 1;
			p += 2;
		} else if (*p == 'h') {
			unit = 3600000;
			p++;
		} else if (*p == 'm') {
			unit = 60000;
			p++;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else {
			return -1;
		}
		if (v > (INT64_MAX - total) / unit)
			return -1;
		total += v * unit;
	}
	*out_ms = total;
	return 0;
}

void k8s_show_untrusted(const char *s, size_t max, char *out, size_t size, unsigned flags)
{
	size_t i, o = 0;

	if (size == 0)
		return;
	for (i = 0; s != NULL && s[i] != '\0' && o + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		int bad = c < 0x20 || c > 0x7e;

		if (o == max) {
			snprintf(out + o, size - o, "...");
			return;
		}
		if (bad && (flags & K8S_SHOW_DROP))
			continue;
		if (!(flags & K8S_SHOW_QUOTES) && (c == '"' || c == '\\'))
			bad = 1;
		out[o++] = bad ? '?' : (char)c;
	}
	out[o] = '\0';
}

char *k8s_expand(const char *tmpl, const char *letters, const char *const *values)
{
	struct k8s_buf b = {0};
	const char *p, *l;
	int r = 0;

	for (p = tmpl; *p != '\0' && r == 0; p++) {
		l = p[0] == '%' && p[1] != '\0' ? strchr(letters, p[1]) : NULL;
		if (p[0] == '%' && p[1] == '%') {
			r = k8s_buf_append(&b, "%", 1);
			p++;
		} else if (l != NULL) {
			r = k8s_buf_append(&b, values[l - letters], strlen(values[l - letters]));
			p++;
		} else {
			r = k8s_buf_append(&b, p, 1);
		}
	}
	if (r == 0)
		r = k8s_buf_append(&b, "", 1);
	if (r != 0) {
		k8s_buf_free(&b);
		return NULL;
	}
	return b.data;
}

char *k8s_expand_host(const char *tmpl)
{
	char host[256];
	const char *v[] = { host };

	if (gethostname(host, sizeof(host)) != 0)
		return NULL;
	host[sizeof(host) - 1] = '\0';
	return k8s_expand(tmpl, "h", v);
}

int k8s_buf_read_fd(struct k8s_buf *b, int fd, size_t max)
{
	char chunk[4096];
	ssize_t n;
	int ret = -1;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		if (b->len + (size_t)n > max) {
			errno = EFBIG;
			goto out;
		}
		if (k8s_buf_append(b, chunk, (size_t)n) != 0) {
			errno = ENOMEM;
			goto out;
		}
	}
	if (k8s_buf_append(b, "", 0) != 0) {
		errno = ENOMEM;
		goto out;
	}
	ret = 0;
out:
	explicit_bzero(chunk, sizeof(chunk));
	return ret;
}

int k8s_read_file(const char *path, size_t max, char **out, size_t *out_len)
{
	struct k8s_buf b = {0};
	int fd, ret = -1, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (k8s_buf_read_fd(&b, fd, max) != 0)
		goto out;
	*out = b.data;
	*out_len = b.len;
	b.data = NULL;
	ret = 0;
out:
	saved = errno;
	k8s_buf_free(&b);
	close(fd);
	errno = saved;
	return ret;
}

int k8s_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int k8s_own_fd(int fd)
{
	struct stat sb;

	if (geteuid() != 0)
		return 0;
	if (fstat(fd, &sb) != 0)
		return -1;
	if (sb.st_uid == 0 && sb.st_gid == 0)
		return 0;
	return fchown(fd, 0, 0);
}

int k8s_mkdir_owned(int dfd, const char *path, mode_t mode)
{
	int fd, rc, saved;

	if (mkdirat(dfd, path, mode) != 0)
		return errno == EEXIST ? 0 : -1;
	fd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = k8s_own_fd(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int k8s_open_private_dir(int dfd, const char *path, mode_t deny, int flags, struct stat *st)
{
	struct stat sb;
	int fd, saved;

	if (st == NULL)
		st = &sb;
	if ((flags & K8S_DIR_CREATE) && k8s_mkdir_owned(dfd, path, 0700) != 0)
		return -1;
	fd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISDIR(st->st_mode) || st->st_uid != geteuid() || (st->st_mode & deny) != 0) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	if ((flags & K8S_DIR_OWN) && k8s_own_fd(fd) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int k8s_write_file_at(int dfd, const char *name, const void *data, size_t len, mode_t mode,
		      const struct timespec *mtime)
{
	static unsigned seq;
	char tmp[300];
	int fd, saved;

	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.%ld.%u.tmp", name, (long)getpid(),
			     __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED)) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (k8s_own_fd(fd) != 0 || (mode != 0600 && fchmod(fd, mode) != 0) ||
	    k8s_write_all(fd, data, len) != 0 ||
	    (mtime != NULL && futimens(fd, (const struct timespec[2]){{.tv_nsec = UTIME_OMIT}, *mtime}) != 0) ||
	    fsync(fd) != 0) {
		saved = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) != 0 || renameat(dfd, tmp, dfd, name) != 0) {
		saved = errno;
		goto fail;
	}
	/* The new file is in place; a failure here only says the rename
	 * may not survive a crash. */
	return fsync(dfd) == 0 ? 0 : -1;
fail:
	unlinkat(dfd, tmp, 0);
	errno = saved;
	return -1;
}

int k8s_is_temp_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] == '.' && n > 5 && strcmp(name + n - 4, ".tmp") == 0;
}

void k8s_format_time(time_t t, char buf[32])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "invalid");
}

void k8s_format_span(int64_t secs, char buf[32])
{
	static const struct {
		int64_t s;
		char u;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	uint64_t v = secs < 0 ? (uint64_t)0 - (uint64_t)secs : (uint64_t)secs;
	size_t i, o = 0;
	int shown = 0;

	for (i = 0; i < 4 && shown < 2; i++) {
		uint64_t q = v / (uint64_t)units[i].s;

		if (q == 0 && (shown == 0 || units[i].s == 1))
			continue;
		if (shown == 1 && q == 0)
			break; /* "3h", not "3h0m" */
		o += (size_t)snprintf(buf + o, 32 - o, "%llu%c", (unsigned long long)q, units[i].u);
		v -= q * (uint64_t)units[i].s;
		shown++;
	}
	if (shown == 0)
		snprintf(buf, 32, "0s");
}

void k8s_format_when(time_t t, time_t now, char buf[K8S_WHEN_MAX])
{
	char ts[32], span[32];
	/* through double: t may be anywhere in time_t (a token's claim) */
	double d = (double)now - (double)t;

	k8s_format_time(t, ts);
	if (d == 0) {
		snprintf(buf, K8S_WHEN_MAX, "%s, now", ts);
		return;
	}
	if (d > 9.2e18 || d < -9.2e18) {
		snprintf(buf, K8S_WHEN_MAX, "%s, %s", ts, d > 0 ? "long ago" : "far in the future");
		return;
	}
	k8s_format_span((int64_t)d, span);
	snprintf(buf, K8S_WHEN_MAX, "%s, %s %s", ts, span, d > 0 ? "ago" : "from now");
}

const char *k8s_https_url_problem(const char *u)
{
	size_t hostlen;
	const char *q;

	if (strncmp(u, "https://", 8) != 0)
		return "must be an https:// URL";
	for (q = u; *q != '\0'; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
			return "must not contain spaces, control or non-ASCII characters";
	hostlen = strcspn(u + 8, "/?#");
	if (hostlen == 0)
		return "has no host";
	if (memchr(u + 8, '@', hostlen) != NULL)
		return "must not contain a username or password";
	if (strchr(u, '?') != NULL)
		return "must not contain a query";
	if (strchr(u, '#') != NULL)
		return "must not contain a fragment";
	return NULL;
}

char *k8s_strdup(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static int pw_lookup(const char *name, uid_t uid, struct k8s_pw *p)
{
	struct passwd *res = NULL;
	size_t size = 4096;
	int e;

	memset(p, 0, sizeof(*p));
	for (;;) {
		free(p->buf);
		p->buf = malloc(size);
		if (p->buf == NULL)
			return -1;
		e = name != NULL ? getpwnam_r(name, &p->pw, p->buf, size, &res)
				 : getpwuid_r(uid, &p->pw, p->buf, size, &res);
		if (e != ERANGE || size >= (1u << 20))
			break;
		size *= 2;
	}
	if (e == 0 && res != NULL)
		return 1;
	k8s_pw_free(p);
	return e == 0 || e == ENOENT || e == ESRCH ? 0 : -1;
}

int k8s_pw_by_name(const char *name, struct k8s_pw *p)
{
	return pw_lookup(name, 0, p);
}

int k8s_pw_by_uid(uid_t uid, struct k8s_pw *p)
{
	return pw_lookup(NULL, uid, p);
}

void k8s_pw_free(struct k8s_pw *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

int k8s_surely_not_store_user(const char *user, uid_t lo, uid_t hi)
{
	struct k8s_pw p;
	int rc;

	if (strcmp(user, "root") == 0)
		return 1;
	if (k8s_pw_by_name(user, &p) != 1)
		return 0;
	rc = p.pw.pw_uid == 0 || p.pw.pw_uid < lo || p.pw.pw_uid > hi;
	k8s_pw_free(&p);
	return rc;
}

int k8s_strv_push(struct k8s_strv *sv, char *s)
{
	char **nv;
	size_t cap;

	if (s == NULL)
		return -1;
	if (sv->n >= sv->cap) {
		cap = sv->n ? 2 * sv->n : 16;
		nv = realloc(sv->v, cap * sizeof(*nv));
		if (nv == NULL) {
			free(s);
			return -1;
		}
		sv->v = nv;
		sv->cap = cap;
	}
	sv->v[sv->n++] = s;
	return 0;
}

void k8s_strv_free(struct k8s_strv *sv)
{
	size_t i;

	if (sv == NULL)
		return;
	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

int k8s_strv_contains(const struct k8s_strv *sv, const char *s)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return 1;
	return 0;
}

int k8s_buf_percent_encode(struct k8s_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char enc[3];

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '%' || *p == '#') {
			enc[0] = '%';
			enc[1] = hex[*p >> 4];
			enc[2] = hex[*p & 15];
			if (k8s_buf_append(b, enc, 3) != 0)
				return -1;
		} else if (k8s_buf_append(b, p, 1) != 0) {
			return -1;
		}
	}
	return 0;
}
