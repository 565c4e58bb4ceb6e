/* x509lazy.c: d2i_X509 from a libcrypto loaded on first use (dl.h). */
#include "x509lazy.h"

#include <limits.h>
#include <pthread.h>

#include "dl.h"

static struct {
	void *(*d2i)(void **, const unsigned char **, long);
	void (*free_cert)(void *);
	void (*clear_errors)(void);
} crypto;
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

static void crypto_load(void)
{
	const struct k8s_dl_sym syms[] = {
		{ "d2i_X509", (void **)&crypto.d2i },
		{ "X509_free", (void **)&crypto.free_cert },
		{ "ERR_clear_error", (void **)&crypto.clear_errors },
	};

	(void)k8s_dl_load(K8S_LIBCRYPTO_SONAME, syms, sizeof(syms) / sizeof(syms[0]));
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
