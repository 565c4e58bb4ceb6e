/* kubeconfig.h: how to reach the apiserver, from a standard kubeconfig as
 * kubectl writes it (current-context -> cluster + user).  No exec plugins,
 * no auth-provider.  Relative file paths resolve against the kubeconfig's
 * directory, as kubectl does. */
#ifndef K8S_KUBECONFIG_H
#define K8S_KUBECONFIG_H

#include <stddef.h>
#include "err.h"

struct k8s_kubeconfig {
	char *path;
	char *server;           /* https://host:port[/prefix], no trailing slash */
	char *ca_pem;           /* certificate-authority(-data), PEM; NULL = system store */
	size_t ca_pem_len;
	int insecure_skip_verify;
	char *tls_server_name;  /* optional */
	char *token;            /* static reviewer token (secret; wiped on free) */
	char *token_file;       /* re-read on every use */
	char *client_cert_pem;  /* client-certificate(-data) */
	size_t client_cert_len;
	char *client_key_pem;   /* client-key(-data) (secret) */
	size_t client_key_len;
};

int k8s_kubeconfig_load(const char *path, struct k8s_kubeconfig **out, struct k8s_err *err);
int k8s_kubeconfig_parse(const char *text, size_t len, const char *path,
			 struct k8s_kubeconfig **out, struct k8s_err *err);
void k8s_kubeconfig_free(struct k8s_kubeconfig *kc);

/* The bearer token to send now (static token, or tokenFile re-read and
 * trimmed of one trailing newline).  NULL with *err set when none or
 * unreadable; caller frees with k8s_freezero_str.  Returns NULL with
 * status K8S_OK when the kubeconfig uses a client certificate instead. */
char *k8s_kubeconfig_bearer(const struct k8s_kubeconfig *kc, struct k8s_err *err);

#endif
