/* store.c: opening and closing the identity store (store.h): mapping
 * its files, the writers' lock, damage found at open.  The model is in
 * store_model.c, the other NSS sources in store_nss.c, ids and records in
 * store_alloc.c, logins/sync/forget in store_login.c; committing it is in
 * storewrite.c. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"
#include "util.h"

#ifndef K8S_STOREDIR
#define K8S_STOREDIR K8S_DEFAULT_STORE
#endif

#define LOCK_NAME     ".lock"

/* ------------------------------------------------------ open / close */

int k8s_store_map_file(struct k8s_store *st, const char *file, struct k8s_sf *sf, int *status)
{
	struct k8s_store_priv *p = st->priv;
	struct store_mapping *nm;
	char path[4096];
	struct stat sb;
	void *addr;
	int fd, rc = 0;

	memset(sf, 0, sizeof(*sf));
	*status = K8S_SF_OK;
	snprintf(path, sizeof(path), "%s/%s", st->dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &sb) != 0) {
		rc = -1;
		goto out;
	}
	rc = 1;
	*status = K8S_SF_ETOOSMALL;
	if (!S_ISREG(sb.st_mode) || sb.st_size < (off_t)K8S_SF_HEADER_SIZE ||
	    (uint64_t)sb.st_size > K8S_SF_MAX_FILE)
		goto out;
	/* as a commit writes it (publish: this writer's, run by root, mode
	 * 0644): libnss_k8s refuses a file not root's or group/world-writable
	 * (nss_k8s.c trustworthy) and non-root callers cannot read one without
	 * 004; the next commit rewrites it even when nothing in it changes */
	if (sb.st_uid != geteuid() || (sb.st_mode & 07777) != 0644)
		p->not_served |= strcmp(file, K8S_SF_FILE) == 0 ? 1 : 2;
	nm = realloc(p->maps, (p->n_maps + 1) * sizeof(*nm));
	if (nm == NULL) {
		errno = ENOMEM;
		rc = -1;
		goto out;
	}
	p->maps = nm;
	addr = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (addr == MAP_FAILED) {
		rc = -1;
		goto out;
	}
	p->maps[p->n_maps].addr = addr;
	p->maps[p->n_maps++].len = (size_t)sb.st_size;
	*status = k8s_sf_open(sf, addr, (size_t)sb.st_size);
	rc = *status == K8S_SF_OK ? 0 : 1;
out:
	close(fd);
	return rc;
}

/* A directory only we can change: anyone else able to rename files in it
 * could hand every process on the host a store of their making. */
static int check_dir(const char *dir, int create, struct k8s_err *err)
{
	struct stat sb;

	if (create && k8s_mkdir_owned(AT_FDCWD, dir, 0755) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "cannot create the store directory",
				   "%s: %s", dir, strerror(errno));
	if (lstat(dir, &sb) != 0) {
		if (errno == ENOENT && !create)
			return K8S_OK;
		return k8s_err_set(err, K8S_UNAVAILABLE, "store directory unusable", "%s: %s", dir,
				   strerror(errno));
	}
	if (!S_ISDIR(sb.st_mode))
		return k8s_err_set(err, K8S_ECONFIG, "store directory unusable",
				   "%s: not a directory", dir);
	if (create && (sb.st_uid != geteuid() || (sb.st_mode & 022) != 0))
		return k8s_err_set(err, K8S_ECONFIG, "unsafe store directory",
				   "%s: must be owned by uid %u and not group/world-writable",
				   dir, (unsigned)geteuid());
	return K8S_OK;
}

static int take_lock(struct k8s_store *st, struct k8s_err *err)
{
	char path[4096];
	struct timespec nap = {0, 10 * 1000 * 1000};
	int waited = 0;

	snprintf(path, sizeof(path), "%s/%s", st->dir, LOCK_NAME);
	st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (st->lock_fd < 0 || k8s_own_fd(st->lock_fd) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "cannot lock the identity store", "%s: %s",
				   path, strerror(errno));
	while (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return k8s_err_set(err, K8S_UNAVAILABLE, "cannot lock the identity store",
					   "%s: %s", path, strerror(errno));
		if (waited >= K8S_STORE_LOCK_WAIT_MS)
			return k8s_err_set(err, K8S_UNAVAILABLE, "identity store busy",
					   "%s: still locked after %d ms", path, waited);
		nanosleep(&nap, NULL);
		waited += 10;
	}
	return K8S_OK;
}

/* Temp files of writers that died between create and rename. */
static void remove_stale_temps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (k8s_is_temp_name(e->d_name))
			(void)unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

/* Map the base and the delta and pair them; say what is damaged. */
static int load_files(struct k8s_store *st, int for_write, struct k8s_err *err)
{
	struct k8s_store_priv *p = st->priv;
	const char *what = NULL;
	char why[160] = "";
	int rb, rd, sb = 0, sd = 0, rel, rc = K8S_OK;

	rb = k8s_store_map_file(st, K8S_SF_FILE, &p->base, &sb);
	rd = rb < 0 ? 0 : k8s_store_map_file(st, K8S_SF_DELTA_FILE, &p->delta, &sd);
	if (rb < 0 || rd < 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "identity store unreadable", "%s/%s: %s",
				   st->dir, rb < 0 ? K8S_SF_FILE : K8S_SF_DELTA_FILE, strerror(errno));
	if (rb == 1) {
		what = K8S_SF_FILE;
		snprintf(why, sizeof(why), "%s", k8s_sf_strerror(sb));
	} else if (rd == 1 || (p->delta.base != NULL && (sd = k8s_sf_verify_body(&p->delta)) != K8S_SF_OK)) {
		what = K8S_SF_DELTA_FILE;
		snprintf(why, sizeof(why), "%s", k8s_sf_strerror(sd));
		memset(&p->delta, 0, sizeof(p->delta));
	}
	rel = k8s_sfv_attach(&p->view, &p->base, &p->delta);
	if (what == NULL && (rel == K8S_SF_DELTA_AHEAD || rel == K8S_SF_DELTA_BAD)) {
		what = K8S_SF_DELTA_FILE;
		snprintf(why, sizeof(why), "does not belong to %s", K8S_SF_FILE);
	}
	st->generation = p->base.generation > p->delta.generation ? p->base.generation : p->delta.generation;
	if (what == NULL)
		return K8S_OK;
	p->damaged = 1;
	if (!for_write)
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "identity store damaged",
				 "%s/%s: %s; `k8s-auth sync` salvages what still verifies", st->dir, what, why);
	else
		k8s_err_set(err, K8S_OK, "identity store was damaged",
			    "%s/%s: %s; salvaging what still verifies, the damaged files are kept as *.corrupt",
			    st->dir, what, why);
	return rc;
}

int k8s_store_open(const char *dir, int for_write, struct k8s_store **out, struct k8s_err *err)
{
	struct k8s_store *st;
	int rc;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (st == NULL || (st->priv = calloc(1, sizeof(*st->priv))) == NULL ||
	    (st->dir = strdup(dir != NULL ? dir : K8S_STOREDIR)) == NULL) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "store: out of memory");
		goto out;
	}
	st->lock_fd = -1;
	st->priv->maps_dirty = 1;
	rc = check_dir(st->dir, for_write, err);
	if (rc != K8S_OK)
		goto out;
	if (for_write) {
		rc = take_lock(st, err);
		if (rc != K8S_OK)
			goto out;
		remove_stale_temps(st->dir);
	}
	rc = load_files(st, for_write, err);
out:
	if (rc != K8S_OK) {
		k8s_store_close(st);
		st = NULL;
	}
	*out = st;
	return rc;
}

void k8s_store_close(struct k8s_store *st)
{
	struct k8s_store_priv *p;
	size_t i;

	if (st == NULL)
		return;
	p = st->priv;
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* releases the flock */
	if (p != NULL) {
		free(p->uname.slot);
		free(p->uid.slot);
		free(p->gname.slot);
		free(p->gid.slot);
		free(p->gone_users.slot);
		free(p->gone_groups.slot);
		free(p->pins.by_name);
		free(p->pins.by_uid);
		k8s_store_snap_tab_free(&p->pw);
		k8s_store_snap_tab_free(&p->gr);
		for (i = 0; i < p->n_maps; i++)
			munmap(p->maps[i].addr, p->maps[i].len);
		free(p->maps);
		k8s_store_arena_free(p);
		free(p);
	}
	free(st->users);
	free(st->groups);
	free(st->dir);
	free(st);
}

int k8s_store_damaged(const struct k8s_store *st)
{
	return st != NULL && st->priv != NULL && st->priv->damaged;
}

int k8s_store_not_served(const struct k8s_store *st)
{
	return st != NULL && st->priv != NULL && st->priv->not_served != 0;
}

/* Everything the files hold, into the model.  Entries that do not verify
 * stay out (a compaction then drops them for good). */
/* Existing-account records are indexed by name alone: enumeration by uid
 * does not see them.  k8s_store_lookup_user layers delta over base. */
static int load_existing(struct k8s_store *st, const struct k8s_sf *sf)
{
	struct k8s_store_user *u;
	struct k8s_sf_entry e;
	uint32_t i, src;

	for (i = 0; sf->base != NULL && k8s_sf_entry_at(sf, 0, i, &e); i++) {
		if (e.type != K8S_SF_REC_USER || e.record_size < K8S_SF_USER_FIXED)
			continue;
		src = k8s_sf_ld32(e.record + K8S_SF_U_SOURCES);
		/* A damaged one is a miss, as for the accounts above. */
		if ((src & K8S_SF_SRC_EXISTING) && k8s_store_lookup_user(st, e.name, &u) < 0)
			st->priv->damaged = 1;
	}
	return 0;
}

int k8s_store_load_all(struct k8s_store *st, struct k8s_err *err)
{
	struct k8s_store_priv *p = st->priv;
	struct k8s_store_group *g;
	struct k8s_sf_user v;
	struct k8s_sf_group gv;
	uint32_t i, n;

	if (p->all_loaded)
		return K8S_OK;
	if (p->base.base != NULL && k8s_sf_verify_body(&p->base) != K8S_SF_OK)
		p->damaged = 1;
	n = k8s_sfv_n_users(&p->view);
	for (i = 0; i < n; i++)
		if (k8s_sfv_user_at(&p->view, i, &v) && !k8s_store_decided(st, v.name) &&
		    k8s_store_map_find(st, M_UID, NULL, v.uid) < 0 && k8s_store_materialize_user(st, &v) == NULL)
			goto oom;
	if (load_existing(st, &p->view.delta) != 0 || load_existing(st, &p->view.base) != 0)
		goto oom;
	n = k8s_sfv_n_groups(&p->view);
	for (i = 0; i < n; i++) {
		if (!k8s_sfv_group_at(&p->view, i, &gv) || gv.private_group || k8s_store_decided(st, gv.name) ||
		    k8s_store_map_find(st, M_GID, NULL, gv.gid) >= 0)
			continue;
		g = k8s_store_add_group(st, gv.name, gv.gid, 0, gv.sources, 1);
		if (g == NULL)
			goto oom;
	}
	p->all_loaded = 1;
	return K8S_OK;
oom:
	return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "%s: out of memory", st->dir);
}
