/* nettle_lazy.c: the table nettle_lazy.h describes, filled by dlopen().
 * The helper's environment is fixed (no LD_LIBRARY_PATH), so the soname
 * resolves through the system's linker cache; symbols are looked up in
 * libhogweed and its own dependencies (libnettle, libgmp). */
#include "nettle_lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

struct k8s_nettle k8s_nettle_fn;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;

static void load(void)
{
	struct k8s_nettle t;
	void *h = dlopen(K8S_NETTLE_SONAME, RTLD_NOW | RTLD_LOCAL);
	int ok = h != NULL;

	memset(&t, 0, sizeof(t));
#define K8S_NETTLE_SYM(name, sym) \
	if (ok && (*(void **)&t.f_##name = dlsym(h, #sym)) == NULL) \
		ok = 0;
	K8S_NETTLE_FUNCS(K8S_NETTLE_SYM)
#undef K8S_NETTLE_SYM
	if (ok) {
		t.sha256 = dlsym(h, "nettle_sha256");
		t.sha384 = dlsym(h, "nettle_sha384");
		t.sha512 = dlsym(h, "nettle_sha512");
		ok = t.sha256 != NULL && t.sha384 != NULL && t.sha512 != NULL;
	}
	if (!ok) {
		if (h != NULL)
			dlclose(h);
		return;
	}
	k8s_nettle_fn = t; /* the handle stays open for the process */
	loaded = 1;
}

int k8s_nettle_load(void)
{
	return pthread_once(&once, load) == 0 && loaded ? 0 : -1;
}
