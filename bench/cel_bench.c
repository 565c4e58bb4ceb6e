/* cel_bench.c: the cost of claims -> user for one token, single thread.
 *
 * Usage: cel_bench CONFIG PAYLOAD [RUNS [SECONDS]]
 *
 * CONFIG is a config.yaml with one jwt authenticator; PAYLOAD a JSON file
 * with the token's claims.  One mapping = k8s_claims_map (claim and CEL
 * mappings, validation rules) on a fresh identity, as each login does
 * after the signature check.  Prints "median <microseconds per mapping>"
 * over RUNS runs of SECONDS each (process CPU time), each run on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "claims.h"
#include "config.h"
#include "identity.h"

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

int main(int argc, char **argv)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err err;
	json_error_t je;
	json_t *payload;
	int runs = argc > 3 ? atoi(argv[3]) : 5, r;
	double secs = argc > 4 ? atof(argv[4]) : 1.0, res[64];

	if (argc < 3 || runs < 1 || runs > 64) {
		fprintf(stderr, "usage: cel_bench CONFIG PAYLOAD [RUNS [SECONDS]]\n");
		return 2;
	}
	if (k8s_config_load(argv[1], &cfg, &err) != K8S_OK || cfg->n_jwt < 1) {
		fprintf(stderr, "cel_bench: %s\n", cfg ? "no jwt authenticator" : err.detail);
		return 2;
	}
	payload = json_load_file(argv[2], 0, &je);
	if (payload == NULL) {
		fprintf(stderr, "cel_bench: %s: %s\n", argv[2], je.text);
		return 2;
	}
	for (r = 0; r < runs; r++) {
		double start = cpu_s(), el;
		long n = 0;

		do {
			struct k8s_identity id;

			memset(&id, 0, sizeof(id));
			id.extra = json_object();
			if (k8s_claims_map(&cfg->jwt[0], payload, &id, &err) != K8S_OK) {
				fprintf(stderr, "cel_bench: refused: %s: %s\n", err.reason, err.detail);
				return 1;
			}
			k8s_identity_free(&id);
			n++;
		} while ((el = cpu_s() - start) < secs);
		res[r] = el / (double)n * 1e6;
		fprintf(stderr, "run %d: %.2f us\n", r, res[r]);
	}
	qsort(res, (size_t)runs, sizeof(res[0]), cmp_double);
	printf("median %.2f\n", res[runs / 2]);
	json_decref(payload);
	k8s_config_free(cfg);
	return 0;
}
