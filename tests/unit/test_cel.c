/* Unit tests for the CEL evaluator (cel_parse.c, cel_eval.c, cel_regex.c):
 * the vectors of $K8S_TEST_DATA/cel/NAME.txt, one per line:
 *     expression <TAB> environment <TAB> expected
 * environment: "-" (claims {}, user with empty fields) or a JSON object
 * {"claims": {...}, "user": {...}}; expected: a JSON value, "error: TEXT"
 * (evaluation fails with TEXT in the message) or "compile: TEXT" (refused
 * at compile time with TEXT in the message).  A line starting with '#' is
 * a comment.  Sources of the vectors are named in the files. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "cel.h"

static int run_file(const char *path, int *count)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, failures = 0;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *expr, *env, *want, *t1, *t2, err[256];
		struct cel_program *p;
		json_t *envj = NULL, *claims, *user, *res = NULL, *wantj;
		json_error_t je;
		int rc;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		t1 = strchr(line, '\t');
		t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (t2 == NULL) {
			print_error("%s:%d: malformed vector line\n", path, lineno);
			failures++;
			continue;
		}
		*t1 = *t2 = '\0';
		expr = line;
		env = t1 + 1;
		want = t2 + 1;
		(*count)++;
		p = cel_compile(expr, CEL_VAR_CLAIMS | CEL_VAR_USER, err, sizeof(err));
		if (strncmp(want, "compile: ", 9) == 0) {
			if (p != NULL || strstr(err, want + 9) == NULL) {
				print_error("%s:%d: %s: want compile error '%s', got %s\n", path, lineno, expr,
					    want + 9, p ? "a program" : err);
				failures++;
			}
			cel_program_free(p);
			continue;
		}
		if (p == NULL) {
			print_error("%s:%d: %s: compile error: %s\n", path, lineno, expr, err);
			failures++;
			continue;
		}
		if (strcmp(env, "-") == 0)
			envj = json_pack("{s:{},s:{s:s,s:s,s:[],s:{}}}", "claims", "user", "username", "",
					 "uid", "", "groups", "extra");
		else
			envj = json_loads(env, JSON_DECODE_ANY, &je);
		if (envj == NULL) {
			print_error("%s:%d: bad environment JSON: %s\n", path, lineno, je.text);
			failures++;
			cel_program_free(p);
			continue;
		}
		claims = json_object_get(envj, "claims");
		user = json_object_get(envj, "user");
		rc = cel_eval(p, claims, user, &res, err, sizeof(err));
		if (strncmp(want, "error: ", 7) == 0) {
			if (rc == 0 || strstr(err, want + 7) == NULL) {
				char *got = rc == 0 ? json_dumps(res, JSON_ENCODE_ANY) : NULL;

				print_error("%s:%d: %s: want error '%s', got %s\n", path, lineno, expr, want + 7,
					    got ? got : err);
				free(got);
				failures++;
			}
		} else {
			wantj = json_loads(want, JSON_DECODE_ANY, &je);
			if (wantj == NULL) {
				print_error("%s:%d: bad expected JSON '%s'\n", path, lineno, want);
				failures++;
			} else if (rc != 0 || !json_equal(res, wantj) ||
				   (json_is_integer(wantj) != json_is_integer(res))) {
				char *got = rc == 0 ? json_dumps(res, JSON_ENCODE_ANY) : NULL;

				print_error("%s:%d: %s: want %s, got %s\n", path, lineno, expr, want,
					    got ? got : err);
				free(got);
				failures++;
			}
			json_decref(wantj);
		}
		json_decref(res);
		json_decref(envj);
		cel_program_free(p);
	}
	free(line);
	fclose(f);
	return failures;
}

static void test_vectors(void **state)
{
	const char *data = getenv("K8S_TEST_DATA");
	char dir[512], path[1024];
	struct dirent *de;
	DIR *d;
	int failures = 0, count = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/cel", data ? data : "tests/data");
	d = opendir(dir);
	if (d == NULL)
		fail_msg("cannot open %s", dir);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n < 5 || strcmp(de->d_name + n - 4, ".txt") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		failures += run_file(path, &count);
	}
	closedir(d);
	print_message("cel: %d vectors\n", count);
	assert_true(count >= 300);
	assert_int_equal(failures, 0);
}

/* The cost limit stops a quadratic expression; the error says so. */
static void test_cost_limit(void **state)
{
	char err[256];
	json_t *res = NULL, *claims = json_pack("{s:[]}", "l");
	struct cel_program *p;
	int i;

	(void)state;
	for (i = 0; i < 2000; i++)
		json_array_append_new(json_object_get(claims, "l"), json_integer(i));
	p = cel_compile("claims.l.map(x, claims.l.map(y, x + y)).size()", CEL_VAR_CLAIMS | CEL_VAR_USER, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(cel_eval(p, claims, NULL, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cost limit"));
	assert_true(cel_last_cost() > CEL_COST_LIMIT);
	cel_program_free(p);
	/* A large but legitimate evaluation stays under the limit. */
	p = cel_compile("[1,2,3,4,5,6,7,8,9,10].map(a, [1,2,3,4,5,6,7,8,9,10].map(b, "
			"[1,2,3,4,5,6,7,8,9,10].map(c, [1,2,3].map(d, "
			"'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'"
			" + 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy'"
			" + 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz' + string(a*b*c*d)))))",
			CEL_VAR_CLAIMS, err, sizeof(err));
	assert_non_null(p);
	/* 3000 strings of ~370 bytes: under both limits, so it evaluates. */
	if (cel_eval(p, claims, NULL, &res, err, sizeof(err)) != 0)
		fail_msg("%s (cost %llu)", err, (unsigned long long)cel_last_cost());
	assert_int_equal(json_array_size(res), 10);
	json_decref(res);
	cel_program_free(p);
	json_decref(claims);
}

/* matches() is linear in the subject (an NFA, not backtracking): the
 * patterns that take glibc's regexec seconds on 20 kB cost a few steps a
 * byte; a pattern whose program is large meets the cost limit instead. */
static void test_regex_linear(void **state)
{
	char err[256], *big = malloc(60001);
	json_t *res = NULL, *claims;
	struct cel_program *p;
	static const char *const evil[] = {
		"claims.s.matches('(a|aa)*b')", "claims.s.matches('(a*)*b')", "claims.s.matches('(a+a+)+b')",
		"claims.s.matches(claims.p)",
	};

	(void)state;
	assert_non_null(big);
	memset(big, 'a', 60000);
	big[60000] = '\0';
	claims = json_pack("{s:s,s:s}", "s", big, "p", "^(a|a?)+$b");
	for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		p = cel_compile(evil[i], CEL_VAR_CLAIMS, err, sizeof(err));
		assert_non_null(p);
		if (cel_eval(p, claims, NULL, &res, err, sizeof(err)) != 0)
			fail_msg("%s: %s", evil[i], err);
		assert_true(json_is_false(res));
		/* linear: at most a few dozen NFA steps a byte, charged a tenth each */
		if (cel_last_cost() > 60000 * 5)
			fail_msg("%s: cost %llu", evil[i], (unsigned long long)cel_last_cost());
		json_decref(res);
		cel_program_free(p);
	}
	/* map lookups and equality are charged by the comparison: a
	 * comprehension over a large map claim asking each key of it */
	{
		json_t *m = json_object();
		char k[16];

		for (int i = 0; i < 5000; i++) {
			snprintf(k, sizeof(k), "k%d", i);
			json_object_set_new(m, k, json_integer(i));
		}
		json_object_set_new(claims, "m", m);
	}
	p = cel_compile("claims.m.all(k, claims.m[k] >= 0)", CEL_VAR_CLAIMS, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(cel_eval(p, claims, NULL, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cost limit"));
	cel_program_free(p);
	p = cel_compile("claims.s.matches('(.*){1000}x')", CEL_VAR_CLAIMS, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(cel_eval(p, claims, NULL, &res, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cost limit"));
	cel_program_free(p);
	json_decref(claims);
	free(big);
}

/* cel_program_uses: the email_verified rule's reference test. */
static void test_uses(void **state)
{
	char err[256];
	struct cel_program *p;

	(void)state;
	p = cel_compile("claims.email", CEL_VAR_CLAIMS | CEL_VAR_USER, err, sizeof(err));
	assert_true(cel_program_uses(p, "claims", "email"));
	assert_false(cel_program_uses(p, "claims", "email_verified"));
	cel_program_free(p);
	p = cel_compile("claims.?email.orValue('') + claims['sub']", CEL_VAR_CLAIMS | CEL_VAR_USER, err, sizeof(err));
	assert_true(cel_program_uses(p, "claims", "email"));
	/* an index is not a selection, for the apiserver's email rule either */
	assert_false(cel_program_uses(p, "claims", "sub"));
	assert_false(cel_program_uses_var(p, "user"));
	cel_program_free(p);
	p = cel_compile("has(claims.email_verified) && claims.email_verified", CEL_VAR_CLAIMS | CEL_VAR_USER, err, sizeof(err));
	assert_true(cel_program_uses(p, "claims", "email_verified"));
	cel_program_free(p);
	p = cel_compile("user.groups.all(g, !g.startsWith('system:'))", CEL_VAR_CLAIMS | CEL_VAR_USER, err, sizeof(err));
	assert_true(cel_program_uses_var(p, "user"));
	assert_false(cel_program_uses_var(p, "claims"));
	cel_program_free(p);
}

/* Positions in compile errors: column, and line for multi-line sources. */
static void test_positions(void **state)
{
	char err[256];

	(void)state;
	assert_null(cel_compile("claims.sub + foo", CEL_VAR_CLAIMS | CEL_VAR_USER, err, sizeof(err)));
	assert_string_equal(err, "column 14: undeclared reference to 'foo' (the variables are claims and user)");
	assert_null(cel_compile("claims.sub +\n  claims.x.bogus(1)", CEL_VAR_CLAIMS | CEL_VAR_USER, err, sizeof(err)));
	assert_string_equal(err, "line 2 column 11: unsupported function 'bogus'");
	assert_null(cel_compile("claims.sub.matches('a\\\\b')", CEL_VAR_CLAIMS | CEL_VAR_USER, err, sizeof(err)));
	assert_non_null(strstr(err, "column 20: regular expression: word boundaries"));
	/* claim expressions see claims only, user rules user only */
	assert_null(cel_compile("user.username == claims.sub", CEL_VAR_CLAIMS, err, sizeof(err)));
	assert_string_equal(err, "column 1: undeclared reference to 'user' (this expression has only claims)");
	assert_null(cel_compile("user.username == claims.sub", CEL_VAR_USER, err, sizeof(err)));
	assert_string_equal(err, "column 18: undeclared reference to 'claims' (this expression has only user)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_cost_limit),
		cmocka_unit_test(test_regex_linear),
		cmocka_unit_test(test_uses),
		cmocka_unit_test(test_positions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
