/* pam_bench.c: in-process pam_authenticate latency and throughput.
 *
 *   pam_bench pam CONFDIR SERVICE USER TOKEN_FILE ITERATIONS THREADS MODULE
 *   pam_bench engine CONFIG TOKEN_FILE ITERATIONS
 *
 * pam: THREADS threads, each with its own PAM handle (pam_start_confdir,
 * so the stack file lives in CONFDIR, not /etc/pam.d), call
 * pam_authenticate ITERATIONS/THREADS times, answering the prompt with the
 * token.  One warm-up call per thread is not counted (JWKS fetch, first
 * TLS connection).  MODULE is dlopen'ed once with RTLD_NODELETE so that
 * pam_end does not unload and reload OpenSSL/libcurl between handles.
 * engine: k8s_validate_token alone, same token, one thread: what the
 * module adds on top of validation (config load, mapping, store read and
 * write, login state) is the difference.
 * spawn: posix_spawn and wait for PROGRAM (no arguments, stdin /dev/null)
 * ITERATIONS times: the floor a helper started per PAM call stands on, for
 * a trivial program and for one that loads the helper's libraries.
 * Prints one line: n, errors, median and p99 latency (us), throughput
 * (calls/s over the wall time). */
#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <security/pam_appl.h>

#include "config.h"
#include "util.h"
#include "validate.h"

struct job {
	const char *confdir, *service, *user, *token;
	int iterations;
	double *lat;   /* microseconds, one per counted call */
	int n, errors;
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Every echo-off prompt gets the token (the bench tokens fit one answer),
 * after PAM_BENCH_TYPING_MS (a person typing or pasting it; default 0). */
static long typing_us;

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	int i;

	if (r == NULL)
		return PAM_BUF_ERR;
	if (typing_us > 0)
		usleep((useconds_t)typing_us);
	for (i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
			r[i].resp = strdup((const char *)data);
	*resp = r;
	return PAM_SUCCESS;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	struct pam_conv c = { conv, (void *)j->token };
	pam_handle_t *h = NULL;
	double t;
	int i, rc;

	if (pam_start_confdir(j->service, j->user, &c, j->confdir, &h) != PAM_SUCCESS) {
		j->errors = j->iterations;
		return NULL;
	}
	if (pam_authenticate(h, PAM_SILENT) != PAM_SUCCESS)
		j->errors++;
	for (i = 0; i < j->iterations; i++) {
		t = now_us();
		rc = pam_authenticate(h, PAM_SILENT);
		j->lat[j->n++] = now_us() - t;
		if (rc != PAM_SUCCESS)
			j->errors++;
	}
	pam_end(h, PAM_SUCCESS);
	return NULL;
}

static void report(double *lat, int n, int errors, double wall_us)
{
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("n=%d errors=%d median_us=%.0f p99_us=%.0f throughput_per_s=%.1f\n", n, errors,
	       n ? lat[n / 2] : 0.0, n ? lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] : 0.0,
	       wall_us > 0 ? n / (wall_us / 1e6) : 0.0);
}

static char *read_token(const char *path)
{
	char *t = NULL;
	size_t n = 0;

	if (k8s_read_file(path, 65536, &t, &n) != 0)
		return NULL;
	while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r'))
		t[--n] = '\0';
	return t;
}

static int run_pam(char **argv)
{
	int iterations = atoi(argv[6]), threads = atoi(argv[7]), i, total = 0, errors = 0;
	struct job *jobs = calloc((size_t)threads, sizeof(*jobs));
	pthread_t *tid = calloc((size_t)threads, sizeof(*tid));
	double *all = calloc((size_t)iterations + 1, sizeof(double)), start;
	char *token = read_token(argv[5]);

	if (threads < 1 || iterations < threads || jobs == NULL || tid == NULL || all == NULL ||
	    token == NULL || dlopen(argv[8], RTLD_NOW | RTLD_NODELETE) == NULL) {
		fprintf(stderr, "pam_bench: bad arguments or %s\n", dlerror());
		return 2;
	}
	for (i = 0; i < threads; i++) {
		jobs[i] = (struct job){ argv[2], argv[3], argv[4], token, iterations / threads, NULL, 0, 0 };
		jobs[i].lat = calloc((size_t)jobs[i].iterations, sizeof(double));
	}
	start = now_us();
	for (i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, worker, &jobs[i]);
	for (i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	start = now_us() - start;
	for (i = 0; i < threads; i++) {
		memcpy(all + total, jobs[i].lat, (size_t)jobs[i].n * sizeof(double));
		total += jobs[i].n;
		errors += jobs[i].errors;
		free(jobs[i].lat);
	}
	report(all, total, errors, start);
	k8s_freezero_str(token);
	free(all);
	free(jobs);
	free(tid);
	return errors ? 1 : 0;
}

static int run_engine(char **argv)
{
	struct k8s_config *cfg = NULL;
	struct k8s_identity id;
	struct k8s_err err;
	int iterations = atoi(argv[4]), i, errors = 0;
	double *lat = calloc((size_t)iterations + 1, sizeof(double)), start, t;
	char *token = read_token(argv[3]);

	k8s_err_clear(&err);
	if (lat == NULL || token == NULL || k8s_config_load(argv[2], &cfg, &err) != K8S_OK) {
		fprintf(stderr, "pam_bench: %s\n", err.detail);
		return 2;
	}
	if (k8s_validate_token(cfg, token, 0, &id, &err) == K8S_OK)  /* warm-up */
		k8s_identity_free(&id);
	start = now_us();
	for (i = 0; i < iterations; i++) {
		t = now_us();
		if (k8s_validate_token(cfg, token, 0, &id, &err) == K8S_OK)
			k8s_identity_free(&id);
		else
			errors++;
		lat[i] = now_us() - t;
	}
	report(lat, iterations, errors, now_us() - start);
	k8s_config_free(cfg);
	k8s_freezero_str(token);
	free(lat);
	return errors ? 1 : 0;
}

static int run_spawn(char **argv)
{
	int iterations = atoi(argv[3]), i, errors = 0, st;
	double *lat = calloc((size_t)iterations + 1, sizeof(double)), start, t;
	char *av[] = { argv[2], NULL }, *ev[] = { NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;

	if (lat == NULL || posix_spawn_file_actions_init(&fa) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0)
		return 2;
	start = now_us();
	for (i = 0; i < iterations; i++) {
		t = now_us();
		if (posix_spawn(&pid, argv[2], &fa, NULL, av, ev) != 0 ||
		    waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			errors++;
		lat[i] = now_us() - t;
	}
	report(lat, iterations, errors, now_us() - start);
	posix_spawn_file_actions_destroy(&fa);
	free(lat);
	return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (getenv("PAM_BENCH_TYPING_MS") != NULL)
		typing_us = atol(getenv("PAM_BENCH_TYPING_MS")) * 1000L;
	if (argc == 9 && strcmp(argv[1], "pam") == 0)
		return run_pam(argv);
	if (argc == 5 && strcmp(argv[1], "engine") == 0)
		return run_engine(argv);
	if (argc == 4 && strcmp(argv[1], "spawn") == 0)
		return run_spawn(argv);
	fprintf(stderr, "usage: pam_bench pam CONFDIR SERVICE USER TOKEN_FILE ITERATIONS THREADS MODULE\n"
			"       pam_bench engine CONFIG TOKEN_FILE ITERATIONS\n"
			"       pam_bench spawn PROGRAM ITERATIONS\n");
	return 2;
}
