/* libFuzzer target: kubeconfig parsing (yamljson.c + kubeconfig.c).
 * Relative file references resolve under a directory that does not exist. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kubeconfig.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char path[] = "/nonexistent/k8s-auth/kubeconfig";
	struct k8s_kubeconfig *kc = NULL;
	struct k8s_err err;
	char *bearer;
	int r;

	r = k8s_kubeconfig_parse((const char *)data, size, path, &kc, &err);
	if ((r == K8S_OK) != (kc != NULL) || (r != K8S_OK && r != K8S_ECONFIG) ||
	    (r == K8S_ECONFIG && strncmp(err.detail, path, sizeof(path) - 1) != 0))
		abort();
	if (kc == NULL)
		return 0;
	/* What parsing promises the HTTP layer. */
	if (kc->server == NULL || strncmp(kc->server, "https://", 8) != 0 ||
	    (kc->token == NULL && kc->token_file == NULL && kc->client_cert_pem == NULL))
		abort();
	bearer = k8s_kubeconfig_bearer(kc, &err);
	k8s_freezero_str(bearer);
	k8s_kubeconfig_free(kc);
	return 0;
}
