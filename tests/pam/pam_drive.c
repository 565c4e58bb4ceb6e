/* pam_drive.c: run a PAM stack in-process, for the sanitizer and leak
 * tests of pam_k8s (tests/integration/t_pam_leaks.sh).  Unlike pamtester
 * it keeps the module loaded (RTLD_NODELETE), so LeakSanitizer can report
 * leaks inside it at exit, and it repeats whole logins.
 *
 *   pam_drive CONFDIR SERVICE USER ANSWERS OPS [REPEAT]
 *
 * ANSWERS: a file, one answer per line, handed out in order to the
 * module's prompts (wrapping around).  OPS: comma-separated steps run on
 * one handle: auth, acct, setcred, open, close; "loginuid" writes
 * /proc/self/loginuid (a fresh audit session, as pam_loginuid does);
 * "ruid=N" sets the real uid to N, keeping euid 0 (how sudo looks to the
 * module); "new" ends the handle and starts another, "new:SERVICE" one
 * for another service; "wait=PATH" waits (up to 30 s) until PATH exists,
 * so a test can change the cluster in the middle of a login.  Prints one line per
 * step: "<step> <pam_strerror>".  Exit 0 when every step succeeded. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

struct answers {
	char **v;
	size_t n, next;
};

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct answers *a = data;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	int i;

	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF && msg[i]->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		r[i].resp = strdup(a->n ? a->v[a->next++ % a->n] : "");
	}
	*resp = r;
	return PAM_SUCCESS;
}

static int load_answers(const char *path, struct answers *a)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if (f == NULL)
		return -1;
	while ((len = getline(&line, &cap, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		a->v = realloc(a->v, (a->n + 1) * sizeof(char *));
		a->v[a->n++] = strdup(line);
	}
	free(line);
	fclose(f);
	return 0;
}

static int step(pam_handle_t **h, const char *op, const char *svc, const char *user,
		const char *confdir, struct pam_conv *c)
{
	int fd, rc;

	if (strcmp(op, "auth") == 0)
		return pam_authenticate(*h, 0);
	if (strcmp(op, "acct") == 0)
		return pam_acct_mgmt(*h, 0);
	if (strcmp(op, "setcred") == 0)
		return pam_setcred(*h, PAM_ESTABLISH_CRED);
	if (strcmp(op, "open") == 0)
		return pam_open_session(*h, 0);
	if (strcmp(op, "close") == 0)
		return pam_close_session(*h, 0);
	if (strcmp(op, "new") == 0 || strncmp(op, "new:", 4) == 0) {
		pam_end(*h, PAM_SUCCESS);
		*h = NULL;
		return pam_start_confdir(op[3] == ':' ? op + 4 : svc, user, c, confdir, h);
	}
	if (strcmp(op, "loginuid") == 0) {
		fd = open("/proc/self/loginuid", O_WRONLY);
		rc = fd >= 0 && write(fd, "0", 1) == 1 ? PAM_SUCCESS : PAM_SYSTEM_ERR;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (strncmp(op, "wait=", 5) == 0) {
		for (rc = 0; rc < 300 && access(op + 5, F_OK) != 0; rc++)
			usleep(100000);
		return access(op + 5, F_OK) == 0 ? PAM_SUCCESS : PAM_SYSTEM_ERR;
	}
	if (strncmp(op, "ruid=", 5) == 0)
		return setresuid((uid_t)atoi(op + 5), 0, 0) == 0 ? PAM_SUCCESS : PAM_SYSTEM_ERR;
	return PAM_SYSTEM_ERR;
}

int main(int argc, char **argv)
{
	struct answers a = { NULL, 0, 0 };
	struct pam_conv c = { conv, &a };
	pam_handle_t *h = NULL;
	char *ops, *op, *save;
	int repeat, r, rc, failed = 0;
	size_t i;

	if (argc < 6 || argc > 8 || load_answers(argv[4], &a) != 0) {
		fprintf(stderr, "usage: pam_drive CONFDIR SERVICE USER ANSWERS OPS [REPEAT [MODULE]]\n");
		return 2;
	}
	repeat = argc > 6 ? atoi(argv[6]) : 1;
	if (argc > 7 && dlopen(argv[7], RTLD_NOW | RTLD_NODELETE) == NULL) {
		fprintf(stderr, "pam_drive: %s\n", dlerror());
		return 2;
	}
	for (r = 0; r < repeat; r++) {
		if (pam_start_confdir(argv[2], argv[3], &c, argv[1], &h) != PAM_SUCCESS)
			return 2;
		ops = strdup(argv[5]);
		for (op = strtok_r(ops, ",", &save); op != NULL; op = strtok_r(NULL, ",", &save)) {
			rc = step(&h, op, argv[2], argv[3], argv[1], &c);
			if (r == repeat - 1)
				printf("%s %s\n", op, h ? pam_strerror(h, rc) : "no handle");
			failed |= rc != PAM_SUCCESS;
			if (h == NULL)
				break;
		}
		free(ops);
		if (h != NULL)
			pam_end(h, PAM_SUCCESS);
	}
	for (i = 0; i < a.n; i++)
		free(a.v[i]);
	free(a.v);
	return failed ? 1 : 0;
}
