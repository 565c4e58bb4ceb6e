/* Unit tests for yamljson.c: the strict YAML/JSON loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "yamljson.h"

/* Parse and return the compact JSON dump (or NULL with *err filled). */
static char *dump(const char *yaml, struct k8s_err *err)
{
	json_t *j = k8s_yaml_parse(yaml, strlen(yaml), "t.yaml", err);
	char *s;

	if (j == NULL)
		return NULL;
	s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

static void assert_yaml(const char *yaml, const char *want)
{
	struct k8s_err err;
	char *got = dump(yaml, &err);

	if (got == NULL)
		fail_msg("%s: refused: %s", yaml, err.detail);
	assert_string_equal(got, want);
	free(got);
}

static void assert_refused(const char *yaml, const char *want_detail)
{
	struct k8s_err err;
	char *got = dump(yaml, &err);

	if (got != NULL)
		fail_msg("%s: accepted as %s", yaml, got);
	assert_int_equal(err.status, K8S_ECONFIG);
	if (strstr(err.detail, want_detail) == NULL)
		fail_msg("%s: detail \"%s\" lacks \"%s\"", yaml, err.detail, want_detail);
}

static void test_core_schema(void **state)
{
	assert_yaml("a: [true, True, TRUE, false, False, FALSE]",
		    "{\"a\":[true,true,true,false,false,false]}");
	assert_yaml("a: [null, Null, NULL, ~]\nb:\n", "{\"a\":[null,null,null,null],\"b\":null}");
	assert_yaml("a: [0, -5, +12, 0755, 0x1F, 0o17]", "{\"a\":[0,-5,12,755,31,15]}");
	assert_yaml("a: [1.5, .5, 1e3, -2.5E-1]", "{\"a\":[1.5,0.5,1000.0,-0.25]}");
	/* YAML 1.1 spellings are plain strings in 1.2 core. */
	assert_yaml("a: [yes, no, on, off, y, n, Yes, NO, tRUE]",
		    "{\"a\":[\"yes\",\"no\",\"on\",\"off\",\"y\",\"n\",\"Yes\",\"NO\",\"tRUE\"]}");
	assert_yaml("a: [12_000, 1:30, 0b101, -0x10, 5s, 0o8]",
		    "{\"a\":[\"12_000\",\"1:30\",\"0b101\",\"-0x10\",\"5s\",\"0o8\"]}");
	/* Quoted scalars stay strings. */
	assert_yaml("a: [\"true\", 'null', \"12\", '']", "{\"a\":[\"true\",\"null\",\"12\",\"\"]}");
	assert_yaml("a: |\n  x\n  y\n", "{\"a\":\"x\\ny\\n\"}");
}

static void test_tags(void **state)
{
	assert_yaml("a: !!int \"12\"\nb: !!str 12\nc: ! 12\nd: !!float 1\ne: !!null ''",
		    "{\"a\":12,\"b\":\"12\",\"c\":\"12\",\"d\":1.0,\"e\":null}");
	assert_yaml("a: !!map {b: !!seq [1]}", "{\"a\":{\"b\":[1]}}");
	assert_refused("a: !foo x", "tag !foo is not allowed");
	assert_refused("a: !!binary aGk=", "tag tag:yaml.org,2002:binary is not allowed");
	assert_refused("a: !!bool yes", "value does not match its tag");
	assert_refused("a: !!seq {b: 1}", "is not allowed here");
	assert_refused("%TAG !e! tag:example.com,2000:\n---\na: !e!x 1", "is not allowed");
}

static void test_refusals(void **state)
{
	assert_refused("a: 1\nb: 2\na: 3\n", "t.yaml:3:1: duplicate key \"a\"");
	assert_refused("a: {b: 1, b: 2}", "duplicate key \"b\"");
	assert_refused("a: &x 1\nb: *x\n", "t.yaml:1:4: anchors are not allowed");
	assert_refused("a: &x [1]", "anchors are not allowed");
	assert_refused("a: [*x]", "aliases are not allowed");
	assert_refused("a: 1\n---\nb: 2\n", "t.yaml:2:1: more than one document");
	assert_refused("a: 1\n---\n", "more than one document");
	assert_refused("? [a]\n: 1\n", "mapping keys must be scalars");
	assert_refused("? {a: 1}\n: 1\n", "mapping keys must be scalars");
	assert_refused("a: 99999999999999999999", "integer out of range");
	assert_refused("a: .inf", "infinity and NaN are not supported");
	assert_refused("a: .NaN", "infinity and NaN are not supported");
	assert_refused("a: 1e400", "number out of range");
	assert_refused("a: \"x\\0y\"", "NUL character in a scalar");
	assert_refused("\"a\\0\": 1", "NUL character in a key");
	assert_refused("%YAML 1.1\n---\na: yes\n", "only YAML 1.2 documents are supported");
	assert_refused("a: b: c", "t.yaml:1:5: mapping values are not allowed");
	assert_refused("a:\n\tb: 1\n", "t.yaml:2:1:");
	assert_refused("[1, 2", "did not find expected");
}

static void test_depth(void **state)
{
	char deep[2 * K8S_YAML_MAX_DEPTH + 8];
	int i;

	for (i = 0; i < K8S_YAML_MAX_DEPTH; i++) {
		deep[i] = '[';
		deep[K8S_YAML_MAX_DEPTH + i] = ']';
	}
	deep[2 * K8S_YAML_MAX_DEPTH] = '\0';
	{
		json_t *j = k8s_yaml_parse(deep, strlen(deep), "d", NULL);

		assert_non_null(j);
		json_decref(j);
	}
	/* One more level, as YAML ("a: [[...]]") and as JSON. */
	{
		char *yaml = malloc(sizeof(deep) + 8);

		snprintf(yaml, sizeof(deep) + 8, "a: %s", deep);
		assert_refused(yaml, "nesting deeper than 64 levels");
		memmove(deep + 1, deep, strlen(deep) + 1);
		deep[0] = '[';
		strcat(deep, "]");
		assert_refused(deep, "nesting deeper than 64 levels");
		free(yaml);
	}
}

static void test_json_input(void **state)
{
	/* Tabs, compact separators, CRLF: JSON in every spelling still parses. */
	assert_yaml("{\n\t\"a\":\t1,\r\n\t\"b\":[true,null,\"x\"],\"c\":{\"d\":1.5}}\n",
		    "{\"a\":1,\"b\":[true,null,\"x\"],\"c\":{\"d\":1.5}}");
	assert_yaml("  [1,2]", "[1,2]");
	assert_yaml("{\"a\":\"\\u00e9\\n\"}", "{\"a\":\"\xc3\xa9\\n\"}");
	/* Flow YAML that is not JSON falls back to the YAML parser. */
	assert_yaml("{a: 1, b: [x, y]}", "{\"a\":1,\"b\":[\"x\",\"y\"]}");
	assert_yaml("x: {\"a\":1,\t\"b\":2}", "{\"x\":{\"a\":1,\"b\":2}}");
	assert_refused("{\"a\": 1, \"a\": 2}", "duplicate key \"a\"");
	assert_refused("{\"a\": 1} x", "");
	assert_refused("{\"a\": \"\\u0000\"}", "NUL character");
}

static void test_empty_and_misc(void **state)
{
	struct k8s_err err;
	json_t *j;

	j = k8s_yaml_parse("", 0, "e", &err);
	assert_true(json_is_null(j));
	json_decref(j);
	j = k8s_yaml_parse("# only a comment\n", 17, "e", &err);
	assert_true(json_is_null(j));
	json_decref(j);
	assert_yaml("---\na: 1\n...\n", "{\"a\":1}");
	assert_yaml("\xef\xbb\xbf" "a: 1", "{\"a\":1}");
	assert_yaml("true: 1\n1: 2", "{\"1\":2,\"true\":1}");
	assert_refused("a: \xff", "t.yaml:1:");
	/* An explicit length: bytes after it are not read. */
	j = k8s_yaml_parse("a: 1\nb: [", 4, "n", &err);
	assert_non_null(j);
	json_decref(j);
	assert_null(k8s_yaml_parse("a", (size_t)K8S_YAML_MAX_BYTES + 1, "big", &err));
	assert_string_equal(err.detail, "big: larger than 4194304 bytes");
}

static void test_load_file(void **state)
{
	char dir[] = "/tmp/yjtest.XXXXXX", path[64], big[64];
	struct k8s_err err;
	struct stat st;
	json_t *j;
	FILE *f;
	int i;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	f = fopen(path, "w");
	fputs("a: [1]\n", f);
	fclose(f);
	j = k8s_yaml_load_file_stat(path, 1024, &st, &err);
	assert_non_null(j);
	assert_true(S_ISREG(st.st_mode));
	json_decref(j);
	/* Errors name the file, and positions inside it. */
	f = fopen(path, "w");
	fputs("a: 1\na: 2\n", f);
	fclose(f);
	assert_null(k8s_yaml_load_file(path, 1024, &err));
	assert_int_equal(err.status, K8S_ECONFIG);
	assert_non_null(strstr(err.detail, "/c.yaml:2:1: duplicate key \"a\""));
	snprintf(big, sizeof(big), "%s/big.yaml", dir);
	f = fopen(big, "w");
	for (i = 0; i < 300; i++)
		fputs("# padding\n", f);
	fclose(f);
	assert_null(k8s_yaml_load_file(big, 1000, &err));
	assert_non_null(strstr(err.detail, "larger than 1000 bytes"));
	assert_null(k8s_yaml_load_file(dir, 1000, &err));
	assert_non_null(strstr(err.detail, "not a regular file"));
	unlink(big);
	unlink(path);
	assert_null(k8s_yaml_load_file(path, 1000, &err));
	assert_non_null(strstr(err.detail, "No such file or directory"));
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_schema),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_json_input),
		cmocka_unit_test(test_empty_and_misc),
		cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
