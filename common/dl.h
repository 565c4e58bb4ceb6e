/* dl.h: a library the helper (or the CLI) loads on first use: libssl on
 * the first request, Nettle on the first JWKS parse, libcrypto for an x5c
 * header.  The helper's environment is fixed (no LD_LIBRARY_PATH), so a
 * soname resolves through the system's linker cache only.  Not linked
 * into pam_k8s.so or libnss_k8s. */
#ifndef K8S_DL_H
#define K8S_DL_H

#include <stddef.h>

/* One symbol to find, and where its address goes (a function pointer's
 * or a data pointer's address, cast). */
struct k8s_dl_sym {
	const char *name;
	void **slot;
};

/* dlopen(soname, RTLD_NOW | RTLD_LOCAL) and every symbol found (in the
 * library or its own dependencies): the handle, kept for the process.
 * NULL, every slot NULL and nothing kept open, when the library or any
 * symbol is missing. */
void *k8s_dl_load(const char *soname, const struct k8s_dl_sym *syms, size_t n);

#endif
