/* jwt_bench.c: in-process JWT validations per second, single thread.
 *
 * Usage: jwt_bench TOKEN_FILE JWKS_FILE ISSUER AUDIENCE [RUNS [SECONDS]]
 *
 * One validation = k8s_jwt_parse + k8s_jwt_verify + k8s_oidc_check_claims
 * (+ frees), i.e. everything k8s_oidc_authenticate does once it has the key
 * set.  Prints "median <validations/s>" over RUNS runs of SECONDS each, and
 * each run's figure on stderr.  Time is the process's CPU time, as
 * `openssl speed` measures by default (user time unless -elapsed), so that
 * other load on the machine does not skew the ratio between the two. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jwt.h"
#include "oidc.h"
#include "util.h"

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One full validation; 0 when the token was accepted. */
static int validate_once(const char *tok, size_t len, const struct k8s_jwks *keys,
			 const struct k8s_jwt_authenticator *a, time_t t)
{
	struct k8s_jwt jwt;
	struct k8s_identity id;
	struct k8s_err err;
	int r;

	r = k8s_jwt_parse(tok, len, &jwt, &err);
	if (r == K8S_OK)
		r = k8s_jwt_verify(&jwt, keys, &err);
	if (r == K8S_OK)
		r = k8s_oidc_check_claims(a, &jwt, t, &id, &err);
	if (r == K8S_OK)
		k8s_identity_free(&id);
	else
		fprintf(stderr, "jwt_bench: token refused: %s: %s\n", err.reason, err.detail);
	k8s_jwt_free(&jwt);
	return r;
}

static double one_run(const char *tok, size_t len, const struct k8s_jwks *keys,
		      const struct k8s_jwt_authenticator *a, double seconds)
{
	double start = cpu_s(), el;
	time_t t = time(NULL);
	long n = 0;
	int i;

	do {
		for (i = 0; i < 32; i++)
			if (validate_once(tok, len, keys, a, t) != 0)
				return -1;
		n += 32;
		el = cpu_s() - start;
	} while (el < seconds);
	return (double)n / el;
}

int main(int argc, char **argv)
{
	struct k8s_jwt_authenticator a;
	struct k8s_jwks keys;
	struct k8s_err err;
	char *tok = NULL, *jwks = NULL, *aud[1];
	size_t tlen = 0, jlen = 0;
	double rates[32];
	int runs, i, ret = 1;
	double seconds;

	if (argc < 5) {
		fprintf(stderr, "usage: jwt_bench TOKEN_FILE JWKS_FILE ISSUER AUDIENCE [RUNS [SECONDS]]\n");
		return 2;
	}
	runs = argc > 5 ? atoi(argv[5]) : 5;
	seconds = argc > 6 ? atof(argv[6]) : 1.0;
	if (runs < 1 || runs > 32 || seconds <= 0 ||
	    k8s_read_file(argv[1], 65536, &tok, &tlen) != 0 ||
	    k8s_read_file(argv[2], 1 << 20, &jwks, &jlen) != 0) {
		fprintf(stderr, "jwt_bench: bad arguments or unreadable files\n");
		goto out;
	}
	while (tlen > 0 && (tok[tlen - 1] == '\n' || tok[tlen - 1] == '\r'))
		tok[--tlen] = '\0';
	if (k8s_jwks_parse(jwks, jlen, &keys, &err) != K8S_OK) {
		fprintf(stderr, "jwt_bench: %s\n", err.detail);
		goto out;
	}
	memset(&a, 0, sizeof(a));
	aud[0] = argv[4];
	a.issuer_url = argv[3];
	a.audiences.v = aud;
	a.audiences.n = 1;
	a.username.claim = "sub";
	a.username.prefix = "";
	for (i = 0; i < runs; i++) {
		rates[i] = one_run(tok, tlen, &keys, &a, seconds);
		if (rates[i] < 0)
			goto free_keys;
		fprintf(stderr, "run %d: %.0f/s\n", i + 1, rates[i]);
	}
	qsort(rates, (size_t)runs, sizeof(rates[0]), cmp_double);
	printf("median %.0f\n", rates[runs / 2]);
	ret = 0;
free_keys:
	k8s_jwks_free(&keys);
out:
	free(tok);
	free(jwks);
	return ret;
}
