/* storecheck.c: when the helper cannot decide, the module still must tell
 * the store's users (refused: fail closed) from everyone else (ignored:
 * root and local accounts keep logging in).  It reads the compiled-in
 * store with the NSS module's libc-only reader (storefmt.c), once, and
 * unmaps it again. */
#include "pk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storefmt.h"

#ifndef K8S_STOREDIR
#define K8S_STOREDIR "/var/lib/k8s-auth"
#endif

struct image {
	void *addr;
	size_t len;
};

/* 1 mapped, 0 absent, -1 unreadable or not root's. */
static int map_file(const char *file, struct image *im)
{
	char path[sizeof(K8S_STOREDIR) + 32];
	struct stat sb;
	int fd, rc = -1;

	im->addr = NULL;
	im->len = 0;
	snprintf(path, sizeof(path), "%s/%s", K8S_STOREDIR, file);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	if (fstat(fd, &sb) != 0 || !k8s_sf_file_trusted(&sb))
		goto out;
	im->addr = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (im->addr == MAP_FAILED) {
		im->addr = NULL;
		goto out;
	}
	im->len = (size_t)sb.st_size;
	rc = 1;
out:
	close(fd);
	return rc;
}

int pk_store_knows(const char *user)
{
	struct image base, delta;
	struct k8s_sf bsf, dsf;
	struct k8s_sfv v;
	struct k8s_sf_user u;
	int rb, rd, rc = -1;

	if (!k8s_sf_valid_name(user, strlen(user)))
		return 0;
	rb = map_file(K8S_SF_FILE, &base);
	rd = map_file(K8S_SF_DELTA_FILE, &delta);
	if (rb < 0 || rd < 0)
		goto out;
	if (rb == 0) {
		rc = 0;  /* no store yet: nobody is its user */
		goto out;
	}
	if (k8s_sf_open(&bsf, base.addr, base.len) != K8S_SF_OK ||
	    (rd == 1 && k8s_sf_open(&dsf, delta.addr, delta.len) != K8S_SF_OK))
		goto out;
	(void)k8s_sfv_attach(&v, &bsf, rd == 1 ? &dsf : NULL);
	switch (k8s_sfv_user_by_name(&v, user, &u)) {
	case 1:
		rc = 1;  /* an allowExisting account's record too: tokens open it */
		break;
	case 0:
		rc = 0;
		break;
	default:
		rc = -1;
		break;
	}
out:
	if (base.addr != NULL)
		munmap(base.addr, base.len);
	if (delta.addr != NULL)
		munmap(delta.addr, delta.len);
	return rc;
}
