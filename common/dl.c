/* dl.c: all or nothing of a library loaded on first use (dl.h). */
#include "dl.h"

#include <dlfcn.h>

void *k8s_dl_load(const char *soname, const struct k8s_dl_sym *syms, size_t n)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	size_t i;

	for (i = 0; h != NULL && i < n; i++)
		if ((*syms[i].slot = dlsym(h, syms[i].name)) == NULL)
			break;
	if (h != NULL && i == n)
		return h;
	for (i = 0; i < n; i++)
		*syms[i].slot = NULL;
	if (h != NULL)
		dlclose(h);
	return NULL;
}
