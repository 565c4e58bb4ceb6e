/* trusted.h: opening an executable only root could have put there.
 * libc only: pam_k8s.so opens its helper with it, and `k8s-auth status`
 * checks the helper the same way. */
#ifndef K8S_TRUSTED_H
#define K8S_TRUSTED_H

#include <stddef.h>
#include <sys/stat.h>

/* Open the absolute path walking from / with O_NOFOLLOW: / and every
 * directory root-owned and not writable by group or others, the file a
 * regular root-owned executable writable only by root, not setuid or
 * setgid.  The descriptor (O_RDONLY | O_CLOEXEC) with *sb filled, or -1
 * with why[] saying which part failed (and errno). */
int k8s_open_trusted_exec(const char *path, struct stat *sb, char *why, size_t why_size);

#endif
