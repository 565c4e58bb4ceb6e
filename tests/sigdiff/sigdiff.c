/* sigdiff.c: the C side of tests/sigdiff (run.sh says how it is used).
 *
 * Reads oracle.go's lines (class, verdict, raw, jwks, token; tab-
 * separated) on stdin and decides each tuple as the helper does:
 * k8s_jwks_parse, k8s_jwt_parse, k8s_jwt_verify (the claims are not
 * checked: the tuples differ only in keys and signatures).  Prints every
 * disagreement with the reason, then a count per class prefix; exits 1
 * on any disagreement, 2 on a malformed input line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwks.h"
#include "jwt.h"

struct tally {
	char name[64];
	unsigned n, accepted, diff;
};

static struct tally tallies[256];
static size_t ntallies;

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

int main(void)
{
	char *line = NULL, *f[5], *p;
	size_t cap = 0, lineno = 0, diffs = 0, total = 0, i;
	ssize_t len;

	while ((len = getline(&line, &cap, stdin)) > 0) {
		struct k8s_jwks keys;
		struct k8s_jwt jwt;
		struct k8s_err err;
		int ok = 0;
		char got;

		lineno++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		for (i = 0, p = line; i < 5; i++) {
			f[i] = p;
			p = i < 4 ? strchr(p, '\t') : NULL;
			if (i < 4 && p == NULL) {
				fprintf(stderr, "sigdiff: line %zu: not 5 fields\n", lineno);
				return 2;
			}
			if (p != NULL)
				*p++ = '\0';
		}
		k8s_err_clear(&err);
		if (k8s_jwks_parse(f[3], strlen(f[3]), &keys, &err) != K8S_OK) {
			fprintf(stderr, "sigdiff: line %zu: key set refused: %s\n", lineno, err.detail);
			return 2;
		}
		if (k8s_jwt_parse(f[4], strlen(f[4]), &jwt, &err) == K8S_OK) {
			ok = k8s_jwt_verify(&jwt, &keys, &err) == K8S_OK;
			k8s_jwt_free(&jwt);
		}
		k8s_jwks_free(&keys);
		got = ok ? 'A' : 'R';
		struct tally *t = tally_of(f[0]);
		t->n++;
		t->accepted += ok;
		total++;
		if (got != f[1][0]) {
			t->diff++;
			diffs++;
			printf("DIFF line %zu class %s: Go %s (go-jose raw, Go 1.19: %s), C %c: %s: %s\n  jwks %s\n  token %s\n",
			       lineno, f[0], f[1], f[2], got, err.reason, err.detail, f[3], f[4]);
		}
	}
	free(line);
	for (i = 0; i < ntallies; i++)
		printf("%-24s %5u tuples %5u accepted %3u differ\n", tallies[i].name, tallies[i].n,
		       tallies[i].accepted, tallies[i].diff);
	printf("sigdiff: %zu tuples, %zu disagreements\n", total, diffs);
	return total == 0 ? 2 : diffs != 0;
}
