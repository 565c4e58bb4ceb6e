/* sigdiff.c: the C side of tests/sigdiff (run.sh says how it is used).
 *
 * Reads oracle.go's lines (class, verdict, raw, jwks, token; tab-
 * separated) on stdin and decides each tuple as the helper does:
 * k8s_jwks_parse, k8s_jwt_parse, k8s_jwt_verify (the claims are not
 * checked: the tuples differ only in keys and signatures).  Prints every
 * disagreement with the reason, then a count per class prefix; exits 1
 * on any disagreement, 2 on a malformed input line.
 *
 * With -t N: N threads, started together (so the first k8s_jwks_parse,
 * which dlopen()s Nettle through pthread_once, races), each decide every
 * tuple (from its own starting point) with a key set of its own; then
 * again, also with key sets parsed once and shared by all.  Any verdict
 * that differs from Go's is counted (exit 1). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwks.h"
#include "jwt.h"

struct tally {
	char name[64];
	unsigned n, accepted, diff;
};

struct tuple {
	char *f[5];
	struct k8s_jwks shared;
	int shared_ok;
};

static struct tally tallies[256];
static size_t ntallies;
static struct tuple *tuples;
static size_t ntuples;
static pthread_barrier_t start;
static unsigned long thread_diffs;

static struct tally *tally_of(const char *class)
{
	size_t len = strcspn(class, "/"), i;

	for (i = 0; i < ntallies; i++)
		if (strlen(tallies[i].name) == len && strncmp(tallies[i].name, class, len) == 0)
			return &tallies[i];
	if (ntallies == sizeof(tallies) / sizeof(tallies[0]))
		return &tallies[ntallies - 1];
	snprintf(tallies[ntallies].name, sizeof(tallies[0].name), "%.*s", (int)len, class);
	return &tallies[ntallies++];
}

/* 1 accepted, 0 refused, -1 the key set itself was refused */
static int decide(const struct tuple *t, const struct k8s_jwks *keys, struct k8s_err *err)
{
	struct k8s_jwks own;
	struct k8s_jwt jwt;
	int ok = 0;

	k8s_err_clear(err);
	if (keys == NULL) {
		if (k8s_jwks_parse(t->f[3], strlen(t->f[3]), &own, err) != K8S_OK)
			return -1;
		keys = &own;
	}
	if (k8s_jwt_parse(t->f[4], strlen(t->f[4]), &jwt, err) == K8S_OK) {
		ok = k8s_jwt_verify(&jwt, keys, err) == K8S_OK;
		k8s_jwt_free(&jwt);
	}
	if (keys == &own)
		k8s_jwks_free(&own);
	return ok;
}

static void *thread_main(void *arg)
{
	size_t first = (size_t)arg, j;
	unsigned long diffs = 0;
	struct k8s_err err;

	pthread_barrier_wait(&start);
	for (j = 0; j < ntuples; j++) {
		const struct tuple *t = &tuples[(first + j) % ntuples];
		int want = t->f[1][0] == 'A';

		if (decide(t, NULL, &err) != want)
			diffs++;
		if (t->shared_ok && decide(t, &t->shared, &err) != want)
			diffs++;
	}
	__atomic_add_fetch(&thread_diffs, diffs, __ATOMIC_SEQ_CST);
	return NULL;
}

static int run_threads(int n)
{
	pthread_t th[16];
	struct k8s_err err;
	size_t i;
	int k;

	if (n < 1 || n > 16 || pthread_barrier_init(&start, NULL, (unsigned)n + 1) != 0)
		return 2;
	for (k = 0; k < n; k++)
		if (pthread_create(&th[k], NULL, thread_main, (void *)(ntuples * (size_t)k / (size_t)n)) != 0)
			return 2;
	pthread_barrier_wait(&start);
	for (k = 0; k < n; k++)
		pthread_join(th[k], NULL);
	/* then every thread again, also with key sets parsed once and shared
	 * (read-only, as the helper's threads would share them) */
	for (i = 0; i < ntuples; i++)
		tuples[i].shared_ok = k8s_jwks_parse(tuples[i].f[3], strlen(tuples[i].f[3]),
						     &tuples[i].shared, &err) == K8S_OK;
	pthread_barrier_destroy(&start);
	if (pthread_barrier_init(&start, NULL, (unsigned)n + 1) != 0)
		return 2;
	for (k = 0; k < n; k++)
		if (pthread_create(&th[k], NULL, thread_main, (void *)(ntuples * (size_t)k / (size_t)n)) != 0)
			return 2;
	pthread_barrier_wait(&start);
	for (k = 0; k < n; k++)
		pthread_join(th[k], NULL);
	for (i = 0; i < ntuples; i++)
		if (tuples[i].shared_ok)
			k8s_jwks_free(&tuples[i].shared);
	printf("sigdiff: %d threads, %zu tuples each, twice (own and shared key sets on the second pass), %lu wrong verdicts\n",
	       n, ntuples, thread_diffs);
	return thread_diffs != 0;
}

int main(int argc, char **argv)
{
	char *line = NULL, *p;
	size_t cap = 0, lineno = 0, diffs = 0, i, k;
	ssize_t len;
	int rc;

	while ((len = getline(&line, &cap, stdin)) > 0) {
		struct tuple *t;

		lineno++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		t = realloc(tuples, (ntuples + 1) * sizeof(*tuples));
		if (t == NULL)
			return 2;
		tuples = t;
		t = &tuples[ntuples++];
		memset(t, 0, sizeof(*t));
		for (k = 0, p = line; k < 5; k++) {
			t->f[k] = p;
			p = k < 4 ? strchr(p, '\t') : NULL;
			if (k < 4 && p == NULL) {
				fprintf(stderr, "sigdiff: line %zu: not 5 fields\n", lineno);
				return 2;
			}
			if (p != NULL)
				*p++ = '\0';
		}
		line = NULL; /* the tuple keeps it */
		cap = 0;
	}
	free(line);
	if (ntuples == 0)
		return 2;
	if (argc == 3 && strcmp(argv[1], "-t") == 0)
		rc = run_threads(atoi(argv[2]));
	else {
		for (i = 0; i < ntuples; i++) {
			const struct tuple *t = &tuples[i];
			struct tally *ta = tally_of(t->f[0]);
			struct k8s_err err;
			int ok = decide(t, NULL, &err);

			if (ok < 0) {
				fprintf(stderr, "sigdiff: line %zu: key set refused: %s\n", i + 1, err.detail);
				return 2;
			}
			ta->n++;
			ta->accepted += (unsigned)ok;
			if ((ok ? 'A' : 'R') != t->f[1][0]) {
				ta->diff++;
				diffs++;
				printf("DIFF line %zu class %s: Go %s (go-jose raw, Go 1.19: %s), C %c: %s: %s\n"
				       "  jwks %s\n  token %s\n",
				       i + 1, t->f[0], t->f[1], t->f[2], ok ? 'A' : 'R', err.reason, err.detail,
				       t->f[3], t->f[4]);
			}
		}
		for (i = 0; i < ntallies; i++)
			printf("%-24s %5u tuples %5u accepted %3u differ\n", tallies[i].name, tallies[i].n,
			       tallies[i].accepted, tallies[i].diff);
		printf("sigdiff: %zu tuples, %zu disagreements\n", ntuples, diffs);
		rc = diffs != 0;
	}
	for (i = 0; i < ntuples; i++)
		free(tuples[i].f[0]);
	free(tuples);
	return rc;
}
