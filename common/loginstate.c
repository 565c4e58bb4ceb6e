/* loginstate.c: per-login files under cfg->run_dir (SPEC: /run/k8s-auth, 0700
 * root).  One file per login: a JSON line of metadata, then the token on
 * its own line (kept out of jansson, which cannot wipe its copies).  Files
 * are written to a temp name and renamed, so readers see whole files. */
#include "decide.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frame.h"

#define STATE_MAX (64 * 1024)

/* run_dir/name, or -1 when it does not fit: never a truncated path. */
static int state_path(const struct k8s_config *cfg, const char *name, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/%s", cfg->run_dir, name);

	return n < 0 || (size_t)n >= size || strchr(name, '/') != NULL ? -1 : 0;
}

/* The run directory, created if need be and checked private: *dfd. */
static int state_dir(const struct k8s_config *cfg, int *dfd, struct k8s_err *err)
{
	if (k8s_mkdir_owned(AT_FDCWD, cfg->run_dir, 0700) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "run directory unusable",
				   "mkdir %s: %s", cfg->run_dir, strerror(errno));
	*dfd = k8s_open_private_dir(AT_FDCWD, cfg->run_dir, 077, 0, NULL);
	if (*dfd >= 0)
		return K8S_OK;
	if (errno == EPERM || errno == ENOTDIR || errno == ELOOP)
		return k8s_err_set(err, K8S_UNAVAILABLE, "run directory unsafe",
				   "%s must be a directory owned by uid %ld with mode 0700",
				   cfg->run_dir, (long)geteuid());
	return k8s_err_set(err, K8S_UNAVAILABLE, "run directory unusable",
			   "%s: %s", cfg->run_dir, strerror(errno));
}

static json_t *state_json(const struct k8s_state *st)
{
	json_t *o = json_pack("{s:i, s:s, s:s?, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s?, s:o?, s:o?}",
			      "v", 1, "user", st->user, "service", st->service, "rhost", st->rhost,
			      "created", (json_int_t)st->created,
			      "pid", (json_int_t)st->self.pid, "pid_start", (json_int_t)st->self.start,
			      "ppid", (json_int_t)st->parent.pid,
			      "ppid_start", (json_int_t)st->parent.start,
			      "leader", (json_int_t)st->leader.pid,
			      "leader_start", (json_int_t)st->leader.start,
			      "sessionid", (json_int_t)st->sessionid,
			      "binding", st->binding,
			      "local_groups", k8s_json_strv(st->local_groups, st->n_local_groups),
			      "identity", k8s_identity_to_json(&st->id));

	return o;
}

static int random_name(char *out, size_t size, const char *prefix)
{
	unsigned char r[8];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	snprintf(out, size, "%s.%02x%02x%02x%02x%02x%02x%02x%02x", prefix, r[0], r[1], r[2], r[3],
		 r[4], r[5], r[6], r[7]);
	return 0;
}

int k8s_state_save(const struct k8s_config *cfg, const char *prefix, struct k8s_state *st,
		  struct k8s_err *err)
{
	struct k8s_buf b = { 0 };
	char name[64];
	char *meta = NULL;
	json_t *o = NULL;
	int dfd = -1, rc;

	rc = state_dir(cfg, &dfd, err);
	if (rc != K8S_OK)
		goto out;
	o = state_json(st);
	if (o != NULL && !json_is_object(json_object_get(o, "identity"))) {
		json_decref(o);
		o = NULL;
	}
	meta = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	if (meta == NULL || k8s_buf_printf(&b, "%s\n%s\n", meta, st->token ? st->token : "") != 0 ||
	    random_name(name, sizeof(name), prefix) != 0) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "cannot write login state",
				 "serializing login state for %s failed", cfg->run_dir);
		goto out;
	}
	/* The temp file holds the token: k8s_write_file_at never leaves it
	 * behind on failure. */
	if (k8s_write_file_at(dfd, name, b.data, b.len, 0600, NULL) != 0) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "cannot write login state", "%s/%s: %s",
				 cfg->run_dir, name, strerror(errno));
		goto out;
	}
	snprintf(st->file, sizeof(st->file), "%s", name);
	rc = K8S_OK;
out:
	if (dfd >= 0)
		close(dfd);
	free(meta);
	json_decref(o);
	k8s_buf_free(&b);
	return rc;
}

void k8s_state_free(struct k8s_state *st)
{
	size_t i;

	if (st == NULL)
		return;
	free(st->service);
	free(st->rhost);
	free(st->binding);
	for (i = 0; i < st->n_local_groups; i++)
		free(st->local_groups[i]);
	free(st->local_groups);
	k8s_identity_free(&st->id);
	k8s_freezero_str(st->token);
	memset(st, 0, sizeof(*st));
	st->sessionid = -1;
}

void k8s_state_remove(const struct k8s_config *cfg, const char *file)
{
	char path[4096];

	if (file == NULL || file[0] == '\0' || state_path(cfg, file, path, sizeof(path)) != 0)
		return;
	(void)unlink(path);
}

/* ---- reading back ---- */

static int get_str(json_t *o, const char *k, char **out, int required)
{
	json_t *v = json_object_get(o, k);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return required ? -1 : 0;
	if (!json_is_string(v))
		return -1;
	*out = strdup(json_string_value(v));
	return *out == NULL ? -1 : 0;
}

static int get_int(json_t *o, const char *k, long long *out)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		return -1;
	*out = (long long)json_integer_value(v);
	return 0;
}

static int get_strv(json_t *o, const char *k, char ***out, size_t *n)
{
	json_t *a = json_object_get(o, k), *v;
	size_t i;

	*out = NULL;
	*n = 0;
	if (a == NULL)
		return 0;
	if (!json_is_array(a))
		return -1;
	*out = calloc(json_array_size(a) + 1, sizeof(char *));
	if (*out == NULL)
		return -1;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || ((*out)[i] = strdup(json_string_value(v))) == NULL)
			return -1;
		(*n)++;
	}
	return 0;
}

static int proc_from_json(json_t *o, const char *kpid, const char *kstart, struct k8s_proc *p)
{
	long long pid, start;

	if (get_int(o, kpid, &pid) != 0 || get_int(o, kstart, &start) != 0 || pid < 0 || start < 0)
		return -1;
	p->pid = (pid_t)pid;
	p->start = (unsigned long long)start;
	return 0;
}

static int state_from_json(json_t *o, struct k8s_state *st)
{
	const char *user = json_string_value(json_object_get(o, "user"));
	long long v, created;

	if (!json_is_object(o) || get_int(o, "v", &v) != 0 || v != 1 || user == NULL ||
	    strlen(user) > K8S_LOCAL_NAME_MAX)
		return -1;
	snprintf(st->user, sizeof(st->user), "%s", user);
	if (get_int(o, "created", &created) != 0 || get_int(o, "sessionid", &st->sessionid) != 0 ||
	    proc_from_json(o, "pid", "pid_start", &st->self) != 0 ||
	    proc_from_json(o, "ppid", "ppid_start", &st->parent) != 0 ||
	    proc_from_json(o, "leader", "leader_start", &st->leader) != 0 ||
	    get_str(o, "service", &st->service, 0) || get_str(o, "rhost", &st->rhost, 0) ||
	    get_str(o, "binding", &st->binding, 1) ||
	    get_strv(o, "local_groups", &st->local_groups, &st->n_local_groups) ||
	    k8s_identity_from_json(json_object_get(o, "identity"), &st->id) != 0 ||
	    st->id.fingerprint[0] == '\0')
		return -1;
	st->created = (time_t)created;
	return 0;
}

/* Open a state file that only root could have written. */
static int read_state_file(const struct k8s_config *cfg, const char *file, struct k8s_buf *b)
{
	char path[4096], chunk[4096];
	struct stat sb;
	ssize_t n;
	int fd, rc = -1;

	if (state_path(cfg, file, path, sizeof(path)) != 0)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid() ||
	    (sb.st_mode & 077) != 0 || sb.st_size > STATE_MAX)
		goto out;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (b->len + (size_t)n > STATE_MAX || k8s_buf_append(b, chunk, (size_t)n) != 0)
			goto out;
	rc = n == 0 ? 0 : -1;
out:
	k8s_wipe(chunk, sizeof(chunk));
	close(fd);
	return rc;
}

int k8s_state_load(const struct k8s_config *cfg, const char *file, struct k8s_state *st,
		  struct k8s_err *err)
{
	struct k8s_buf b = { 0 };
	json_error_t jerr;
	json_t *o = NULL;
	char *nl, *tok;
	size_t toklen;
	int rc;

	memset(st, 0, sizeof(*st));
	st->sessionid = -1;
	if (read_state_file(cfg, file, &b) != 0 || b.data == NULL ||
	    (nl = memchr(b.data, '\n', b.len)) == NULL) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "login state unreadable", "%s/%s", cfg->run_dir, file);
		goto out;
	}
	o = json_loadb(b.data, (size_t)(nl - b.data), JSON_REJECT_DUPLICATES, &jerr);
	tok = nl + 1;
	toklen = b.len - (size_t)(tok - b.data);
	if (toklen > 0 && tok[toklen - 1] == '\n')
		toklen--;
	if (o == NULL || state_from_json(o, st) != 0 || toklen > K8S_TOKEN_MAX ||
	    memchr(tok, '\0', toklen) != NULL || (st->token = strndup(tok, toklen)) == NULL) {
		k8s_state_free(st);
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "login state corrupt", "%s/%s", cfg->run_dir, file);
		goto out;
	}
	snprintf(st->file, sizeof(st->file), "%s", file);
	rc = K8S_OK;
out:
	json_decref(o);
	k8s_buf_free(&b);
	return rc;
}

int k8s_state_find(const struct k8s_config *cfg, const char *prefix, k8s_state_match match,
		  const void *arg, struct k8s_state *st, struct k8s_err *err)
{
	struct dirent *de;
	struct k8s_err lerr;
	size_t plen = strlen(prefix);
	DIR *d;
	int rc = K8S_REFUSED;

	memset(st, 0, sizeof(*st));
	st->sessionid = -1;
	d = opendir(cfg->run_dir);
	if (d == NULL)
		return errno == ENOENT ? k8s_err_set(err, K8S_REFUSED, "no login state", "%s is missing", cfg->run_dir)
				       : k8s_err_set(err, K8S_UNAVAILABLE, "run directory unusable",
						     "%s: %s", cfg->run_dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, plen) != 0 || de->d_name[plen] != '.')
			continue;
		if (k8s_state_load(cfg, de->d_name, st, &lerr) != K8S_OK)
			continue;
		if (match(st, arg)) {
			rc = K8S_OK;
			break;
		}
		k8s_state_free(st);
	}
	closedir(d);
	if (rc != K8S_OK)
		k8s_err_set(err, K8S_REFUSED, "no login state", "no matching %s.* file in %s",
			    prefix, cfg->run_dir);
	return rc;
}

static int stale(const struct k8s_state *st, const char *name, time_t now)
{
	if (strncmp(name, "auth.", 5) == 0)
		return st->created + K8S_AUTH_STATE_TTL < now || st->created > now + 60 ||
		       (!k8s_proc_alive(&st->self) && !k8s_proc_alive(&st->parent));
	return !k8s_proc_alive(&st->leader);
}

/* At most one sweep every K8S_STATE_GC_INTERVAL seconds: a sweep reads
 * every state file, and every PAM call on the host asks for one.  The
 * stamp is an empty root-only file whose mtime is the last sweep. */
static int gc_due(const struct k8s_config *cfg, time_t now)
{
	char path[4096];
	struct stat sb;
	int fd;

	if (state_path(cfg, K8S_STATE_GC_STAMP, path, sizeof(path)) != 0)
		return 0;
	if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_mtime <= now &&
	    sb.st_mtime + K8S_STATE_GC_INTERVAL > now)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return 1;
	(void)futimens(fd, NULL);
	close(fd);
	return 1;
}

void k8s_state_gc(const struct k8s_config *cfg)
{
	struct dirent *de;
	struct k8s_state st;
	struct k8s_err lerr;
	struct stat sb;
	time_t now = time(NULL);
	char path[4096];
	DIR *d;

	if (!gc_due(cfg, now))
		return;
	d = opendir(cfg->run_dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		int is_tmp = k8s_is_temp_name(de->d_name);

		if (!is_tmp && strncmp(de->d_name, "auth.", 5) != 0 &&
		    strncmp(de->d_name, "sess.", 5) != 0)
			continue;
		if (state_path(cfg, de->d_name, path, sizeof(path)) != 0)
			continue;
		if (is_tmp) {
			if (lstat(path, &sb) == 0 && sb.st_mtime + 60 < now)
				(void)unlink(path);
			continue;
		}
		if (k8s_state_load(cfg, de->d_name, &st, &lerr) != K8S_OK) {
			(void)unlink(path);
			continue;
		}
		if (stale(&st, de->d_name, now))
			(void)unlink(path);
		k8s_state_free(&st);
	}
	closedir(d);
}
