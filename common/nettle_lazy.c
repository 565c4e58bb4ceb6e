/* nettle_lazy.c: the table nettle_lazy.h describes, filled by dl.h's
 * loader; symbols are found in libhogweed and its own dependencies
 * (libnettle, libgmp). */
#include "nettle_lazy.h"

#include <pthread.h>

#include "dl.h"

struct k8s_nettle k8s_nettle_fn;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;

static const struct k8s_dl_sym syms[] = {
#define K8S_NETTLE_SYM(name, sym) { #sym, (void **)&k8s_nettle_fn.f_##name },
	K8S_NETTLE_FUNCS(K8S_NETTLE_SYM)
#undef K8S_NETTLE_SYM
	{ "nettle_sha256", (void **)&k8s_nettle_fn.sha256 },
	{ "nettle_sha384", (void **)&k8s_nettle_fn.sha384 },
	{ "nettle_sha512", (void **)&k8s_nettle_fn.sha512 },
};

/* the handle stays open for the process */
static void load(void)
{
	loaded = k8s_dl_load(K8S_NETTLE_SONAME, syms, sizeof(syms) / sizeof(syms[0])) != NULL;
}

int k8s_nettle_load(void)
{
	return pthread_once(&once, load) == 0 && loaded ? 0 : -1;
}
