/* x509lazy.c: d2i_X509 from a libcrypto loaded on first use.  The
 * helper's environment is fixed (no LD_LIBRARY_PATH), so the soname
 * resolves through the system's linker cache only. */
#include "x509lazy.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>

static struct {
	void *(*d2i)(void **, const unsigned char **, long);
	void (*free_cert)(void *);
	void (*clear_errors)(void);
} crypto;
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

static void crypto_load(void)
{
	void *h = dlopen(K8S_LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL)
		return;
	*(void **)&crypto.d2i = dlsym(h, "d2i_X509");
	*(void **)&crypto.free_cert = dlsym(h, "X509_free");
	*(void **)&crypto.clear_errors = dlsym(h, "ERR_clear_error");
	if (crypto.d2i == NULL || crypto.free_cert == NULL || crypto.clear_errors == NULL) {
		crypto.d2i = NULL;
		dlclose(h);
	}
}

int k8s_x509_parses(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	void *cert;

	if (pthread_once(&crypto_once, crypto_load) != 0 || crypto.d2i == NULL)
		return -1;
	if (der == NULL || len == 0 || len > LONG_MAX)
		return 0;
	cert = crypto.d2i(NULL, &p, (long)len);
	if (cert == NULL) {
		crypto.clear_errors();
		return 0;
	}
	crypto.free_cert(cert);
	/* one certificate, nothing after it (Go's x509.ParseCertificate) */
	return p == der + len;
}
