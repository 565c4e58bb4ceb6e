#include "lib_tlssrv.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int script_path(char *out, size_t n)
{
	const char *data = getenv("K8S_TEST_DATA");
	int r;

	if (data == NULL) {
		fprintf(stderr, "tlssrv: K8S_TEST_DATA is not set\n");
		return -1;
	}
	r = snprintf(out, n, "%s/../unit/srv/tlssrv.py", data);
	return r > 0 && (size_t)r < n ? 0 : -1;
}

static void child_exec(int in_rd, int out_wr, const char *script, const char *dir)
{
	if (dup2(in_rd, 0) < 0 || dup2(out_wr, 1) < 0)
		_exit(127);
	/* Debian's interpreter first: it is the one with python3-jwcrypto. */
	execl("/usr/bin/python3", "python3", script, dir, (char *)NULL);
	execlp("python3", "python3", script, dir, (char *)NULL);
	_exit(127);
}

/* One line "READY <port> <mtls_port>" from the child, or failure. */
static int read_ready(int fd, struct tlssrv *s)
{
	char line[128];
	size_t n = 0;
	ssize_t r;

	while (n < sizeof(line) - 1) {
		r = read(fd, line + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	if (sscanf(line, "READY %d %d", &s->port, &s->mtls_port) != 2) {
		fprintf(stderr, "tlssrv: server did not start (got \"%s\")\n", line);
		return -1;
	}
	return 0;
}

int tlssrv_start(struct tlssrv *s)
{
	char script[4096];
	int in_p[2] = {-1, -1}, out_p[2] = {-1, -1}, ret = -1;

	memset(s, 0, sizeof(*s));
	s->in_fd = -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/k8s-tlssrv-XXXXXX");
	if (script_path(script, sizeof(script)) != 0 || mkdtemp(s->dir) == NULL)
		goto out;
	if (pipe2(in_p, O_CLOEXEC) != 0 || pipe2(out_p, O_CLOEXEC) != 0)
		goto out;
	s->pid = fork();
	if (s->pid < 0)
		goto out;
	if (s->pid == 0)
		child_exec(in_p[0], out_p[1], script, s->dir);
	close(in_p[0]);
	in_p[0] = -1;
	close(out_p[1]);
	out_p[1] = -1;
	s->in_fd = in_p[1];
	in_p[1] = -1;
	ret = read_ready(out_p[0], s);
out:
	if (in_p[0] >= 0) close(in_p[0]);
	if (in_p[1] >= 0) close(in_p[1]);
	if (out_p[0] >= 0) close(out_p[0]);
	if (out_p[1] >= 0) close(out_p[1]);
	if (ret != 0)
		tlssrv_stop(s);
	return ret;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void tlssrv_stop(struct tlssrv *s)
{
	int i, status;

	if (s->in_fd >= 0)
		close(s->in_fd);
	s->in_fd = -1;
	if (s->pid > 0) {
		for (i = 0; i < 50; i++) {
			if (waitpid(s->pid, &status, WNOHANG) == s->pid)
				break;
			usleep(20000);
		}
		if (i == 50) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &status, 0);
		}
	}
	s->pid = 0;
	if (s->dir[0] != '\0' && strncmp(s->dir, "/tmp/k8s-tlssrv-", 16) == 0)
		nftw(s->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = '\0';
}

char *tlssrv_file(const struct tlssrv *s, const char *name, size_t *len)
{
	char path[256];
	FILE *f;
	char *buf = NULL;
	long n;

	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			if (len != NULL)
				*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

int tlssrv_dead_port(void)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd, port = -1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

int tlssrv_kubeconfig(const struct tlssrv *s, const char *path, int port, const char *mode)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (f == NULL)
		return -1;
	fprintf(f, "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
		   "clusters:\n- name: t\n  cluster:\n    server: https://127.0.0.1:%d/tr/%s\n"
		   "    certificate-authority: %s/ca.pem\n"
		   "contexts:\n- name: t\n  context: {cluster: t, user: r}\n"
		   "users:\n- name: r\n  user:\n    token: reviewer-secret-token\n",
		port, mode, s->dir);
	rc = fclose(f);
	return rc == 0 && chmod(path, 0600) == 0 ? 0 : -1;
}

long tlssrv_count(const struct tlssrv *s, const char *what)
{
	char key[64], *text;
	const char *p;
	long v = -1;

	text = tlssrv_file(s, "counts", NULL);
	if (text == NULL)
		return 0; /* nothing answered yet */
	snprintf(key, sizeof(key), "\"%s\": ", what);
	p = strstr(text, key);
	if (p != NULL)
		v = strtol(p + strlen(key), NULL, 10);
	free(text);
	return v;
}
