/* kubeconfig.h: how to reach the apiserver, from a standard kubeconfig as
 * kubectl writes it (current-context -> cluster + user).  No exec plugins,
 * no auth-provider.  Relative file paths resolve against the kubeconfig's
 * directory, as kubectl does.  Without a current-context, a kubeconfig
 * with exactly one context uses it.  The server must be https://.  All the
 * rules (what is refused, owner/mode checks) are at the top of
 * kubeconfig.c. */
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

/* Load: the file must be owned by root or the effective user, not
 * writable by group or others, and not world-readable when it holds an
 * inline credential (see kubeconfig.c for the full rules).  Errors are
 * K8S_ECONFIG with detail "<path>: <what>". */
int k8s_kubeconfig_load(const char *path, struct k8s_kubeconfig **out, struct k8s_err *err);
/* Same without the file checks (tests, fuzzing); path names the file in
 * messages and anchors relative paths (NULL: relative paths refused). */
int k8s_kubeconfig_parse(const char *text, size_t len, const char *path,
			 struct k8s_kubeconfig **out, struct k8s_err *err);
void k8s_kubeconfig_free(struct k8s_kubeconfig *kc);

/* The bearer token to send now: the static token, or tokenFile re-read on
 * every call (projected tokens rotate), trailing whitespace trimmed, and
 * refused (K8S_ECONFIG, detail naming the file, never its content) when
 * empty, not one printable word, unreadable, or owned/writable/readable
 * by others.  Caller frees with k8s_freezero_str.  Returns NULL with status
 * K8S_OK when the kubeconfig uses only a client certificate. */
char *k8s_kubeconfig_bearer(const struct k8s_kubeconfig *kc, struct k8s_err *err);

/* Hex SHA-256 over everything in kc that decides which apiserver answers
 * and as whom: the server URL, the CA bytes (or "system trust store"),
 * tls-server-name, insecure-skip-tls-verify, and the reviewer as it would
 * be sent now (SHA-256 of the bearer token, tokenFile re-read; SHA-256 of
 * the client certificate).  What a cache of the apiserver's answers is
 * keyed on: it never holds a secret, only hashes of one.  0, or -1 when
 * the credential cannot be read now (the request would fail too). */
int k8s_kubeconfig_fingerprint(const struct k8s_kubeconfig *kc, char hex[65]);

#endif
