/* Unit tests for `k8s-auth sync --watch`'s readers: http.c's line splitter
 * (lines cut anywhere, the bound, a partial last line) and syncwatch.c's
 * watch-event reader (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR 410 and
 * other ERRORs, malformed events: nothing half-applied). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "http.h"
#include "syncwatch.h"

struct lines {
	char v[8][64];
	int n, stop_at;
};

static int take_line(const char *line, size_t len, void *ud)
{
	struct lines *l = ud;

	assert_true(len < sizeof(l->v[0]));
	assert_int_equal(strlen(line), len);
	memcpy(l->v[l->n], line, len + 1);
	l->n++;
	return l->n == l->stop_at ? 7 : 0;
}

static void test_linesplit(void **state)
{
	struct k8s_linesplit ls = {.max = 10};
	struct lines l = {.stop_at = -1};
	const char *in = "ab\ncdef\n\nghij";
	size_t i;

	(void)state;
	for (i = 0; in[i] != '\0'; i++) /* a byte at a time */
		assert_int_equal(k8s_linesplit_feed(&ls, in + i, 1, take_line, &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0], "ab");
	assert_string_equal(l.v[1], "cdef");
	assert_string_equal(l.v[2], "");
	/* "ghij" waits for its newline */
	assert_int_equal(k8s_linesplit_feed(&ls, "k\r\n", 3, take_line, &l), 0);
	assert_string_equal(l.v[3], "ghijk\r");
	/* at most max bytes a line, whether it comes whole or in pieces */
	assert_int_equal(k8s_linesplit_feed(&ls, "0123456789\n", 11, take_line, &l), 0);
	assert_int_equal(k8s_linesplit_feed(&ls, "01234", 5, take_line, &l), 0);
	assert_int_equal(k8s_linesplit_feed(&ls, "567890", 6, take_line, &l), -1);
	k8s_linesplit_free(&ls);
	/* the callback's answer stops the feed */
	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	ls.max = 10;
	assert_int_equal(k8s_linesplit_feed(&ls, "a\nb\nc\n", 6, take_line, &l), 7);
	assert_int_equal(l.n, 2);
	k8s_linesplit_free(&ls);
}

static int apply(struct k8s_wcoll *c, const char *line)
{
	return k8s_watch_apply_line(c, line, strlen(line));
}

static void test_events(void **state)
{
	struct k8s_wcoll c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.kind = K8S_W_RB;
	c.objs = json_object();
	assert_int_equal(apply(&c, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":\"ops\","
				   "\"resourceVersion\":\"5\",\"managedFields\":[{}]},\"subjects\":[]}}"), 0);
	assert_string_equal(c.rv, "5");
	assert_non_null(json_object_get(c.objs, "ops/a"));
	assert_null(json_object_get(json_object_get(json_object_get(c.objs, "ops/a"), "metadata"), "managedFields"));
	assert_int_equal(apply(&c, "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":\"ops\","
				   "\"resourceVersion\":\"6\"},\"subjects\":null}}"), 0);
	assert_true(json_is_null(json_object_get(json_object_get(c.objs, "ops/a"), "subjects")));
	assert_int_equal(apply(&c, "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}"), 0);
	assert_string_equal(c.rv, "9");
	assert_int_equal(json_object_size(c.objs), 1);
	assert_int_equal(apply(&c, "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":\"ops\","
				   "\"resourceVersion\":\"10\"}}}"), 0);
	assert_int_equal(json_object_size(c.objs), 0);
	assert_string_equal(c.rv, "10");
	/* 410: relist */
	assert_int_equal(apply(&c, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
				   "\"reason\":\"Expired\"}}"), 1);
	/* anything else fails closed, and changes nothing */
	assert_int_equal(apply(&c, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500}}"), -1);
	assert_int_equal(apply(&c, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\"}}}"), -1);
	assert_int_equal(apply(&c, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"11\"}}}"), -1);
	assert_int_equal(apply(&c, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"\",\"resourceVersion\":\"11\"}}}"), -1);
	assert_int_equal(apply(&c, "{\"type\":\"SYNC\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"11\"}}}"), -1);
	assert_int_equal(apply(&c, "{\"type\":\"ADDED\",\"object\":[]}"), -1);
	assert_int_equal(apply(&c, "{\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"b\","
				   "\"resourceVersion\":\"11\"}}}"), -1);
	assert_int_equal(apply(&c, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"11\"}}"), -1);
	assert_int_equal(apply(&c, ""), -1);
	assert_int_equal(json_object_size(c.objs), 0);
	assert_string_equal(c.rv, "10");
	json_decref(c.objs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linesplit),
		cmocka_unit_test(test_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
