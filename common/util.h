/* util.h: small helpers shared by every part: secret wiping, growable
 * buffers, Go-style durations, host-name expansion, files and private
 * directories, passwd lookups. */
#ifndef K8S_UTIL_H
#define K8S_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* qsort and bsearch for arrays that may be empty: the C library declares
 * their base never NULL, even for 0 elements (UBSan halts the fuzzers on
 * it), and an empty or allocated-on-demand array is NULL here. */
#include <stdlib.h>
static inline void k8s_qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static inline void *k8s_bsearch(const void *key, const void *base, size_t n, size_t size,
				int (*cmp)(const void *, const void *))
{
	return n > 0 ? bsearch(key, base, n, size, cmp) : NULL;
}

/* Wipe then free.  Safe on NULL.  k8s_freezero_str uses strlen. */
void k8s_freezero(void *p, size_t len);
void k8s_freezero_str(char *s);
void k8s_wipe(void *p, size_t len);

/* Growable byte buffer; secrets may pass through it, so every
 * reallocation and the final free wipe the old memory. */
struct k8s_buf {
	char *data;
	size_t len;
	size_t cap;
};
int k8s_buf_append(struct k8s_buf *b, const void *p, size_t n); /* 0 or -1 (ENOMEM) */
int k8s_buf_printf(struct k8s_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void k8s_buf_free(struct k8s_buf *b); /* wipes */
/* The one list of strings (configuration lists, sync's lists, notes and
 * lines): v[0..n) malloc'd strings, cap slots allocated (0 with n > 0 for
 * a list allocated to size: k8s_strv_push grows it anyway). */
struct k8s_strv {
	char **v;
	size_t n, cap;
};
/* Append s (malloc'd; NULL counts as out of memory): the list takes it,
 * or frees it and answers -1 when out of memory.  0 or -1. */
int k8s_strv_push(struct k8s_strv *sv, char *s);
/* Free every string and the array; sv is empty after (NULL is a no-op). */
void k8s_strv_free(struct k8s_strv *sv);
/* 1 when s is one of sv's strings (exact match). */
int k8s_strv_contains(const struct k8s_strv *sv, const char *s);

/* Append s with bytes below 0x20, 0x7f, '%' and '#' written %XX (upper
 * hex): one printable line, one-to-one.  0 or -1 (ENOMEM). */
int k8s_buf_percent_encode(struct k8s_buf *b, const char *s);
/* Append everything readable from fd (at most max bytes in b; more -> -1
 * with errno EFBIG), NUL-terminated.  -1 with errno set on failure; the
 * read chunk is wiped either way (files may hold secrets). */
int k8s_buf_read_fd(struct k8s_buf *b, int fd, size_t max);

/* Go-style durations as Kubernetes writes them: "90s", "5m", "1h30m",
 * "250ms", "0".  Result in milliseconds.  0 on success, -1 on bad input. */
int k8s_parse_duration_ms(const char *s, int64_t *out_ms);

/* Untrusted bytes for a log line or a message, the one copy that makes
 * them safe to show (a token's claims, a key id, an apiserver's or an
 * issuer's text): bytes outside printable ASCII become '?', and so do '"'
 * and '\\' (the text is usually shown inside quotes) unless flags has
 * K8S_SHOW_QUOTES; with K8S_SHOW_DROP the bytes outside printable ASCII
 * are left out instead (both: an apiserver's message, shown as it is).
 * At most max characters, then "...".  out has room for max + 4 bytes at
 * least (size bounds it anyway); s NULL shows as "". */
#define K8S_SHOW_QUOTES 0x1u
#define K8S_SHOW_DROP   0x2u
void k8s_show_untrusted(const char *s, size_t max, char *out, size_t size, unsigned flags);

/* The one % template expander: tmpl with %<letters[i]> replaced by
 * values[i], %% by %, and everything else (any other %x included) as it
 * is.  malloc'd, NULL when out of memory. */
char *k8s_expand(const char *tmpl, const char *letters, const char *const *values);
/* k8s_expand with %h = this host's name.  malloc'd or NULL. */
char *k8s_expand_host(const char *tmpl);

/* SHA-256 and the token fingerprint: sha256.h. */
#include "sha256.h"

/* Read a whole file (at most max bytes; larger -> -1 with errno EFBIG).
 * Caller frees (with k8s_freezero when it may hold a secret). */
int k8s_read_file(const char *path, size_t max, char **out, size_t *out_len);

/* write(2) all of p, retrying on EINTR and short writes.  0 or -1 (errno). */
int k8s_write_all(int fd, const void *p, size_t n);

/* Everything we create under the store, cache and run directories is
 * root:root when we run as root, whatever our effective gid (sudo -g,
 * sg, a PAM stack running with the user's group) or a setgid parent
 * would make it.  k8s_own_fd: fchown(fd, 0, 0) when euid is 0 and the
 * file is not already root:root (nothing to do otherwise).
 * k8s_mkdir_owned: mkdirat, then the same for the directory it made;
 * EEXIST is success (the caller checks what is there).  0 or -1 (errno). */
int k8s_own_fd(int fd);
int k8s_mkdir_owned(int dfd, const char *path, mode_t mode);

/* The one opener of a directory whose contents decide something (caches,
 * login state): dfd/path must be a directory, reached without following a
 * symlink, owned by our euid, with none of the `deny` mode bits (022: no
 * group/other write; 077: nothing for others at all).  K8S_DIR_CREATE
 * makes it first (0700, k8s_mkdir_owned); K8S_DIR_OWN then makes it
 * root:root (k8s_own_fd).  st (may be NULL) gets what was found.  The fd
 * (O_RDONLY, O_CLOEXEC), or -1 with errno: openat's (ENOENT; ENOTDIR or
 * ELOOP for a symlink or a file...), or EPERM when the directory is not
 * private. */
#define K8S_DIR_CREATE 0x1
#define K8S_DIR_OWN    0x2
int k8s_open_private_dir(int dfd, const char *path, mode_t deny, int flags, struct stat *st);

/* Replace dfd/name atomically, the one writer of whole files (the identity
 * store, the review and JWKS caches, the login state and first-login policy
 * files): a temp file beside it created 0600 (O_EXCL, O_NOFOLLOW,
 * k8s_own_fd), then given `mode` (fchmod: the umask does not apply), write,
 * optional mtime, fsync, rename over, fsync the directory, so readers see
 * the old file or the new one, never a torn one.  The temp file
 * (".NAME.PID.SEQ.tmp", see k8s_is_temp_name) is removed on failure; one
 * left by a killed writer is the caller's to sweep.  0 or -1 with errno
 * (-1 after the rename only when the directory's fsync failed). */
int k8s_write_file_at(int dfd, const char *name, const void *data, size_t len, mode_t mode,
		      const struct timespec *mtime);

/* A temp file name k8s_write_file_at makes. */
int k8s_is_temp_name(const char *name);

/* RFC 3339 UTC ("2026-11-22T13:00:00Z") into buf[32]. */
void k8s_format_time(time_t t, char buf[32]);

/* A span of seconds as people read it, largest units first, at most two
 * of them: "45s", "3m20s", "3h12m", "2d5h", "0s"; negative spans as their
 * absolute value (the caller says "ago" or "from now").  buf[32]. */
void k8s_format_span(int64_t secs, char buf[32]);

/* A moment for a message: "2026-12-03T10:00:00Z, 3h12m ago" (t before
 * now), "..., 2m from now" (after), "..., now". */
#define K8S_WHEN_MAX 96
void k8s_format_when(time_t t, time_t now, char buf[K8S_WHEN_MAX]);

/* What is wrong with an https URL an administrator configured (an issuer,
 * a discovery URL, an apiserver): NULL when it is fine, else a phrase for
 * an error message.  https only, a host, no user info, no query or
 * fragment, no spaces, control or non-ASCII bytes. */
const char *k8s_https_url_problem(const char *u);

/* getpwnam_r/getpwuid_r with a buffer that grows on ERANGE (to 1 MiB),
 * so an entry larger than a fixed buffer is not "no such account".
 * 1 found (p->pw valid until k8s_pw_free), 0 no such account, -1 error. */
struct k8s_pw {
	struct passwd pw;
	char *buf;
};
int k8s_pw_by_name(const char *name, struct k8s_pw *p);
int k8s_pw_by_uid(uid_t uid, struct k8s_pw *p);
void k8s_pw_free(struct k8s_pw *p);

/* Surely not an account of the store, even when the store cannot be
 * read: root, or an account another NSS source serves with uid 0 or a
 * uid outside [lo, hi].  Break-glass rests on this; anything unsure is 0. */
int k8s_surely_not_store_user(const char *user, uid_t lo, uid_t hi);

/* Duplicate a string, NULL-safe. */
char *k8s_strdup(const char *s);

#endif
