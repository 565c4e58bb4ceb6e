/* Unit tests for pem.c: the shape check of a CA's certificates.  The
 * certificate is made by the openssl CLI at test time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pem.h"

static char cert[8192];

static int setup(void **state)
{
	FILE *f = popen("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
			"-keyout /dev/null -subj /CN=pemtest -days 1 2>/dev/null", "r");
	size_t n;

	(void)state;
	if (f == NULL)
		return -1;
	n = fread(cert, 1, sizeof(cert) - 1, f);
	cert[n] = '\0';
	return pclose(f) == 0 && n > 0 ? 0 : -1;
}

static int has(const char *s)
{
	return k8s_pem_has_cert(s, strlen(s));
}

static char *cat(const char *a, const char *b)
{
	static char buf[16384];

	snprintf(buf, sizeof(buf), "%s%s", a, b);
	return buf;
}

#define KEY "-----BEGIN PRIVATE KEY-----\nMAMCAQE=\n-----END PRIVATE KEY-----\n"
/* base64 of SEQUENCE { INTEGER 1 }: framed as a certificate, not one */
#define NOTCERT "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n"

static void t_cert(void **state)
{
	(void)state;
	assert_int_equal(has(cert), 1);
	assert_int_equal(has(cat(cert, cert)), 1);
	/* other blocks are skipped, as the TLS library skips them */
	assert_int_equal(has(cat(KEY, cert)), 1);
	/* a trailing broken block ends the reading after a good one */
	assert_int_equal(has(cat(cert, NOTCERT)), 1);
}

static void t_not_cert(void **state)
{
	char bad[8192];
	char *p;

	(void)state;
	assert_int_equal(has(""), 0);
	assert_int_equal(k8s_pem_has_cert(NULL, 0), 0);
	assert_int_equal(has("not a pem"), 0);
	assert_int_equal(has(KEY), 0);
	assert_int_equal(has(NOTCERT), 0);
	assert_int_equal(has(cat(NOTCERT, cert)), 0);
	/* broken base64 inside good framing */
	snprintf(bad, sizeof(bad), "%s", cert);
	p = strchr(bad, '\n');
	assert_non_null(p);
	p[1] = '!';
	assert_int_equal(has(bad), 0);
	/* cut short */
	snprintf(bad, sizeof(bad), "%s", cert);
	p = strstr(bad, "-----END");
	assert_non_null(p);
	memmove(p - 20, p, strlen(p) + 1);
	assert_int_equal(has(bad), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_cert),
		cmocka_unit_test(t_not_cert),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
