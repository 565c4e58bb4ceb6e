/* Unit tests for explain.c: what refusals show of untrusted claims, and
 * which issuers count as a near miss. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "explain.h"
#include "util.h"

static const char *near(const char *want, const char *got)
{
	static char buf[96];

	return k8s_issuer_near_miss(want, got, buf, sizeof(buf));
}

static void test_near_miss(void **state)
{
	const char *w = "https://idp.example.com/realms/x";

	(void)state;
	assert_null(near(w, w));
	assert_string_equal(near(w, "https://idp.example.com/realms/x/"), "a trailing slash");
	assert_string_equal(near("https://idp.example.com/", "https://idp.example.com"),
			    "a missing trailing slash");
	assert_string_equal(near(w, "http://idp.example.com/realms/x"), "http instead of https");
	assert_string_equal(near(w, "https://IDP.Example.com/realms/x"), "letter case in the host");
	assert_string_equal(near(w, "HTTPS://idp.example.com/realms/x"), "letter case in the scheme");
	assert_string_equal(near(w, "https://idp.example.com/Realms/x"), "letter case in the path");
	assert_string_equal(near(w, "http://IDP.example.com/realms/x/"),
			    "http instead of https and letter case in the host and a trailing slash");
	/* not near: another host, another path, not a URL at all */
	assert_null(near(w, "https://idp.example.org/realms/x"));
	assert_null(near(w, "https://idp.example.com/realms/y"));
	assert_null(near(w, "https://idp.example.com:8443/realms/x"));
	assert_null(near(w, "idp.example.com/realms/x"));
	assert_null(near(w, ""));
	assert_null(near("https://kubernetes.default.svc", "https://kubernetes.default.svc.cluster.local"));
}

static void test_show_untrusted(void **state)
{
	char out[64];

	(void)state;
	k8s_show_untrusted("https://x\n\"evil\"\x1b[31m\xc3\xa9", 64, out, sizeof(out), 0);
	assert_string_equal(out, "https://x??evil??[31m??");
	k8s_show_untrusted("abcdefghij", 4, out, sizeof(out), 0);
	assert_string_equal(out, "abcd...");
	k8s_show_untrusted("abcdefghij", 100, out, 6, 0);
	assert_string_equal(out, "abcde");
}

static void test_show_audiences(void **state)
{
	char out[200], big[500];
	json_t *a;
	struct k8s_strv v = { .v = (char *[]){ "k8s-auth", "host-login:web" }, .n = 2 };

	(void)state;
	k8s_show_audiences(NULL, out, sizeof(out));
	assert_string_equal(out, "(none)");
	a = json_string("someone-else");
	k8s_show_audiences(a, out, sizeof(out));
	assert_string_equal(out, "\"someone-else\"");
	json_decref(a);
	a = json_pack("[s,i,s]", "a\"b", 7, "c");
	k8s_show_audiences(a, out, sizeof(out));
	assert_string_equal(out, "[\"a?b\", \"(not a string)\", \"c\"]");
	json_decref(a);
	a = json_integer(3);
	k8s_show_audiences(a, out, sizeof(out));
	assert_string_equal(out, "(not a string or a list of strings)");
	json_decref(a);
	/* bounded: a long entry is cut, a long list ends in "..." */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	a = json_pack("[s,s,s,s]", big, big, big, big);
	k8s_show_audiences(a, out, sizeof(out));
	assert_true(strlen(out) < sizeof(out));
	assert_non_null(strstr(out, "xxx...\""));
	assert_string_equal(out + strlen(out) - 3, "...");
	json_decref(a);
	k8s_show_strv(&v, out, sizeof(out));
	assert_string_equal(out, "\"k8s-auth\", \"host-login:web\"");
}

static void test_expired(void **state)
{
	struct k8s_err err;
	const time_t now = 1795352400; /* 2026-11-22T13:00:00Z */

	(void)state;
	assert_int_equal(k8s_err_expired(&err, now - 3 * 3600 - 12 * 60, now), K8S_REFUSED);
	assert_string_equal(err.reason, "token expired");
	assert_string_equal(err.detail, "token expired at 2026-11-22T09:48:00Z, 3h12m ago");
	/* just expired: the host clock may be ahead */
	k8s_err_expired(&err, now - 20, now);
	assert_string_equal(err.detail, "token expired at 2026-11-22T12:59:40Z, 20s ago; the host clock "
			    "reads 2026-11-22T13:00:00Z, if that is wrong fix it (k8s-auth status "
			    "compares it with the apiserver's)");
	k8s_err_not_yet_valid(&err, now + 300, now);
	assert_string_equal(err.reason, "token not yet valid");
	assert_string_equal(err.detail, "token is valid from 2026-11-22T13:05:00Z, 5m from now, beyond the "
			    "60s clock leeway; the host clock reads 2026-11-22T13:00:00Z, if that is wrong "
			    "fix it (k8s-auth status compares it with the apiserver's)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_near_miss),
		cmocka_unit_test(test_show_untrusted),
		cmocka_unit_test(test_show_audiences),
		cmocka_unit_test(test_expired),
	};
	return cmocka_run_group_tests_name("explain", tests, NULL, NULL);
}
