/* reviewcache.c: successful TokenReviews, cached on disk.
 *
 * Layout: <cacheDir>/reviews/<sha256 hex>.json, directories 0700 and files
 * 0600, all owned by the caller's euid (root in PAM).  The name is the hash
 * of the apiserver connection's fingerprint, the configured audiences and
 * the token, so the token never reaches the disk and an entry made for one
 * cluster, CA, reviewer or audience list is never found under another.
 * Entries of older formats (1: keyed on audiences and token only; 2: the
 * identity under the review cache's own key spellings, before identity.c
 * serialised it for every file) are never looked up again: the format
 * number is hashed into the name, and a version other than ours reads as
 * a miss.  They are ordinary entries to the sweep, which removes them once
 * their mtime (their expiry) has passed.  Each file's mtime is set to its expiry, which lets the bound
 * be enforced with fstatat() alone; a lookup never trusts the mtime and
 * checks the JSON.  Anything that does not look exactly as we write it is a
 * miss and is removed. */
#include "reviewcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cachedir.h"
#include "util.h"

#define RC_VERSION       3   /* 3: identity as k8s_identity_to_json writes it */
#define RC_SUBDIR        K8S_CACHEDIR_REVIEWS
#define RC_SUFFIX        ".json"
#define RC_NAME_LEN      (64 + sizeof(RC_SUFFIX) - 1)
#define RC_FILE_MAX      (1024 * 1024)
#define RC_CLOCK_SKEW_S  300   /* a "created" further in the future is corrupt */
#define RC_TMP_STALE_S   60    /* leftover temp files older than this are removed */

/* Open (and with create, make) one directory level below dfd; refuse
 * symlinks and anything another user could write to. */
static int open_private_dir(int dfd, const char *path, int create)
{
	return k8s_open_private_dir(dfd, path, 022, create ? K8S_DIR_CREATE | K8S_DIR_OWN : 0, NULL);
}

static int open_cache_dir(const struct k8s_config *cfg, int create)
{
	const char *base = cfg->cache_dir != NULL ? cfg->cache_dir : K8S_DEFAULT_CACHEDIR;
	int bfd, fd;

	if (base[0] != '/')
		return -1;
	bfd = open_private_dir(AT_FDCWD, base, create);
	if (bfd < 0)
		return -1;
	fd = open_private_dir(bfd, RC_SUBDIR, create);
	close(bfd);
	return fd;
}

/* "<hex>.json" where hex = SHA-256("pam-k8s review v3" NUL apiserver NUL
 * count NUL aud_1 NUL ... aud_n NUL token), apiserver being
 * k8s_kubeconfig_fingerprint (hex).  The count and the NULs (which no C
 * string contains) make the encoding unambiguous. */
static int cache_name(const struct k8s_config *cfg, const char *apiserver, const char *token,
		      char name[RC_NAME_LEN + 1])
{
	const struct k8s_strv *a = &cfg->tokenreview.audiences;
	struct k8s_buf b = {0};
	char hex[65];
	size_t i;
	int ret = -1;

	if (k8s_buf_printf(&b, "pam-k8s review v%d", RC_VERSION) != 0 ||
	    k8s_buf_append(&b, "", 1) != 0 || k8s_buf_append(&b, apiserver, strlen(apiserver) + 1) != 0 ||
	    k8s_buf_printf(&b, "%zu", a->n) != 0 || k8s_buf_append(&b, "", 1) != 0)
		goto out;
	for (i = 0; i < a->n; i++)
		if (k8s_buf_append(&b, a->v[i], strlen(a->v[i]) + 1) != 0)
			goto out;
	if (k8s_buf_append(&b, token, strlen(token)) != 0)
		goto out;
	k8s_sha256_hex(b.data, b.len, hex);
	snprintf(name, RC_NAME_LEN + 1, "%s" RC_SUFFIX, hex);
	ret = 0;
out:
	k8s_buf_free(&b);
	return ret;
}

static int get_time(json_t *o, const char *key, time_t *dst)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*dst = (time_t)json_integer_value(v);
	return 0;
}

static int audiences_equal(json_t *a, const struct k8s_strv *want)
{
	size_t i;

	if (!json_is_array(a) || json_array_size(a) != want->n)
		return 0;
	for (i = 0; i < want->n; i++) {
		const char *s = json_string_value(json_array_get(a, i));

		if (s == NULL || strcmp(s, want->v[i]) != 0)
			return 0;
	}
	return 1;
}

/* The entry file, if it is a private regular file we could have written. */
static json_t *read_entry(int dfd, const char *name)
{
	struct k8s_buf b = {0};
	struct stat st;
	char chunk[4096];
	json_t *e = NULL;
	ssize_t n;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0 || st.st_nlink != 1 || st.st_size > RC_FILE_MAX)
		goto out;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len + (size_t)n > RC_FILE_MAX || k8s_buf_append(&b, chunk, (size_t)n) != 0)
			goto out;
	}
	if (b.data != NULL)
		e = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
out:
	close(fd);
	k8s_buf_free(&b);
	return e;
}

/* 1 when the entry is well-formed, for this apiserver and these
 * audiences, and live now under the current TTL (which may have been
 * lowered since the put). */
static int entry_live(json_t *e, const struct k8s_config *cfg, const char *apiserver, time_t now)
{
	const char *as = json_string_value(json_object_get(e, "apiserver"));
	time_t created, expires;
	int64_t ttl_s = cfg->tokenreview.cache_ttl_ms / 1000;

	if (!json_is_object(e) || !json_is_integer(json_object_get(e, "version")) ||
	    json_integer_value(json_object_get(e, "version")) != RC_VERSION ||
	    get_time(e, "created", &created) != 0 || get_time(e, "expires", &expires) != 0)
		return 0;
	if (created > now + RC_CLOCK_SKEW_S || expires < created || now >= expires ||
	    (int64_t)now >= (int64_t)created + ttl_s || as == NULL || strcmp(as, apiserver) != 0)
		return 0;
	return audiences_equal(json_object_get(e, "audiences"), &cfg->tokenreview.audiences);
}

int k8s_reviewcache_get(const struct k8s_config *cfg, const struct k8s_kubeconfig *kc,
			const char *token, struct k8s_identity *id)
{
	char name[RC_NAME_LEN + 1], apiserver[65];
	json_t *e = NULL;
	int dfd = -1, hit = 0;

	memset(id, 0, sizeof(*id));
	if (cfg == NULL || kc == NULL || token == NULL || cfg->tokenreview.cache_ttl_ms <= 0 ||
	    k8s_kubeconfig_fingerprint(kc, apiserver) != 0 ||
	    cache_name(cfg, apiserver, token, name) != 0 || (dfd = open_cache_dir(cfg, 0)) < 0)
		goto out;
	e = read_entry(dfd, name);
	if (e != NULL && entry_live(e, cfg, apiserver, time(NULL)) &&
	    k8s_identity_from_json(json_object_get(e, "identity"), id) == 0 &&
	    strcmp(id->method, "tokenreview") == 0) {
		k8s_token_fingerprint(token, strlen(token), id->fingerprint);
		hit = 1;
	} else {
		k8s_identity_free(id);
		/* Missing, corrupt, foreign or expired: gone either way. */
		unlinkat(dfd, name, 0);
	}
out:
	json_decref(e);
	if (dfd >= 0)
		close(dfd);
	return hit;
}

static int dump_cb(const char *p, size_t n, void *ud)
{
	return k8s_buf_append(ud, p, n);
}

/* Atomically (k8s_write_file_at), mtime = expiry for eviction order. */
static int write_entry(int dfd, const char *name, json_t *e, time_t expires)
{
	const struct timespec mtime = {.tv_sec = expires};
	struct k8s_buf b = {0};
	int ret = -1;

	if (json_dump_callback(e, dump_cb, &b, JSON_COMPACT) == 0 && b.data != NULL)
		ret = k8s_write_file_at(dfd, name, b.data, b.len, 0600, &mtime);
	k8s_buf_free(&b);
	return ret;
}

struct slot {
	char name[RC_NAME_LEN + 1];
	time_t expires;
};

static int slot_cmp(const void *a, const void *b)
{
	time_t x = ((const struct slot *)a)->expires, y = ((const struct slot *)b)->expires;

	return x < y ? -1 : x > y;
}

static int is_entry_name(const char *n)
{
	size_t i;

	if (strlen(n) != RC_NAME_LEN || strcmp(n + 64, RC_SUFFIX) != 0)
		return 0;
	for (i = 0; i < 64; i++)
		if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
			return 0;
	return 1;
}

/* Collect live entries (removing expired ones and stale temp files). */
static size_t scan_entries(int dfd, time_t now, struct slot **out)
{
	struct slot *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);

	*out = NULL;
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (k8s_is_temp_name(de->d_name)) {
			if (st.st_ctime + RC_TMP_STALE_S < now)
				unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (!is_entry_name(de->d_name))
			continue;
		if (st.st_mtime <= now) {
			unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				break;
			v = nv;
		}
		memcpy(v[n].name, de->d_name, RC_NAME_LEN + 1);
		v[n++].expires = st.st_mtime;
	}
	closedir(d);
	*out = v;
	return n;
}

/* Make room for one more: expired entries first, then the soonest to
 * expire (with one TTL, the oldest). */
static void enforce_bound(int dfd, time_t now)
{
	struct slot *v = NULL;
	size_t n, i;

	n = scan_entries(dfd, now, &v);
	if (n >= K8S_REVIEWCACHE_MAX_ENTRIES) {
		k8s_qsort(v, n, sizeof(*v), slot_cmp);
		for (i = 0; i + K8S_REVIEWCACHE_MAX_ENTRIES <= n; i++)
			unlinkat(dfd, v[i].name, 0);
	}
	free(v);
}

static json_t *build_entry(const struct k8s_config *cfg, const char *apiserver,
			   const struct k8s_identity *id, time_t created, time_t expires)
{
	json_t *e = json_object();

	if (e == NULL || json_object_set_new(e, "version", json_integer(RC_VERSION)) != 0 ||
	    json_object_set_new(e, "apiserver", json_string(apiserver)) != 0 ||
	    json_object_set_new(e, "created", json_integer(created)) != 0 ||
	    json_object_set_new(e, "expires", json_integer(expires)) != 0 ||
	    json_object_set_new(e, "audiences", k8s_json_strv(cfg->tokenreview.audiences.v,
							      cfg->tokenreview.audiences.n)) != 0 ||
	    json_object_set_new(e, "identity", k8s_identity_to_json(id)) != 0) {
		json_decref(e);
		return NULL;
	}
	return e;
}

void k8s_reviewcache_put(const struct k8s_config *cfg, const struct k8s_kubeconfig *kc,
			 const char *token, const struct k8s_identity *id)
{
	char name[RC_NAME_LEN + 1], apiserver[65];
	time_t now = time(NULL), expires;
	json_t *e = NULL, *old = NULL;
	int dfd = -1;

	/* Only a complete, successful review may be cached. */
	if (cfg == NULL || kc == NULL || token == NULL || token[0] == '\0' || id == NULL ||
	    cfg->tokenreview.cache_ttl_ms < 1000 || id->username == NULL || id->username[0] == '\0' ||
	    id->method == NULL || strcmp(id->method, "tokenreview") != 0)
		return;
	expires = now + (time_t)(cfg->tokenreview.cache_ttl_ms / 1000);
	if (id->exp != 0 && id->exp < expires)
		expires = id->exp;
	if (expires <= now || k8s_kubeconfig_fingerprint(kc, apiserver) != 0 ||
	    cache_name(cfg, apiserver, token, name) != 0 || (dfd = open_cache_dir(cfg, 1)) < 0)
		goto out;
	if (flock(dfd, LOCK_EX) != 0)
		goto out;
	/* A live entry is never extended: re-putting after a hit must not
	 * keep a review alive forever without asking the apiserver. */
	old = read_entry(dfd, name);
	if (old != NULL && entry_live(old, cfg, apiserver, now))
		goto out;
	enforce_bound(dfd, now);
	e = build_entry(cfg, apiserver, id, now, expires);
	if (e != NULL)
		write_entry(dfd, name, e, expires);
out:
	json_decref(old);
	json_decref(e);
	if (dfd >= 0)
		close(dfd); /* drops the lock */
}
