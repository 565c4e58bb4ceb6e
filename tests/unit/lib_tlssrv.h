/* lib_tlssrv.h: start/stop tests/unit/srv/tlssrv.py, a local HTTPS server
 * with a throw-away PKI made by the openssl CLI (see the script). */
#ifndef K8S_TEST_TLSSRV_H
#define K8S_TEST_TLSSRV_H

#include <stddef.h>
#include <sys/types.h>

struct tlssrv {
	pid_t pid;
	int in_fd;          /* the server's stdin: closing it stops the server */
	int port;           /* server-auth only */
	int mtls_port;      /* requires a client certificate from ca.pem */
	char dir[64];       /* ca.pem wrongca.pem client.pem client-key.pem */
};

/* 0 ok, -1 failure (message on stderr). */
int tlssrv_start(struct tlssrv *s);
void tlssrv_stop(struct tlssrv *s);
/* Whole file from s->dir, NUL-terminated, malloc'd; NULL on error. */
char *tlssrv_file(const struct tlssrv *s, const char *name, size_t *len);
/* A 127.0.0.1 port nobody listens on (bound, then closed). */
int tlssrv_dead_port(void);
/* A kubeconfig at `path` (mode 0600) for https://127.0.0.1:<port>/tr/<mode>
 * (the fake TokenReview and SubjectAccessReview endpoints), trusting
 * ca.pem, with the reviewer's bearer token.  0 ok, -1 failure. */
int tlssrv_kubeconfig(const struct tlssrv *s, const char *path, int port, const char *mode);
/* The reviews the server has answered so far, "tokenreviews" or
 * "subjectaccessreviews" (from the counts file it rewrites before each
 * answer); -1 on failure. */
long tlssrv_count(const struct tlssrv *s, const char *what);

#endif
