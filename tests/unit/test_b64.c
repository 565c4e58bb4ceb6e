/* Unit tests for b64.c: RFC 4648 vectors, and every way a base64url string
 * can be non-canonical (each must be refused: a JWT has one spelling). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "b64.h"

/* RFC 4648 section 10, in the url alphabet without padding. */
static const struct {
	const char *plain, *b64url, *b64;
} vectors[] = {
	{ "", "", "" },
	{ "f", "Zg", "Zg==" },
	{ "fo", "Zm8", "Zm8=" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

static void test_rfc4648_vectors(void **state)
{
	size_t i, n;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		unsigned char *d = k8s_b64url_decode(vectors[i].b64url, strlen(vectors[i].b64url), &n);
		char *e = k8s_b64url_encode((const unsigned char *)vectors[i].plain, strlen(vectors[i].plain));

		assert_non_null(d);
		assert_int_equal(n, strlen(vectors[i].plain));
		assert_memory_equal(d, vectors[i].plain, n);
		assert_int_equal(d[n], '\0');
		assert_non_null(e);
		assert_string_equal(e, vectors[i].b64url);
		free(d);
		free(e);
		d = k8s_b64_decode(vectors[i].b64, strlen(vectors[i].b64), &n);
		assert_non_null(d);
		assert_int_equal(n, strlen(vectors[i].plain));
		assert_memory_equal(d, vectors[i].plain, n);
		free(d);
	}
}

static void test_url_alphabet(void **state)
{
	static const unsigned char bytes[] = { 0xfb, 0xff, 0xbf, 0xfe };
	unsigned char *d;
	char *e;
	size_t n;

	e = k8s_b64url_encode(bytes, sizeof(bytes));
	assert_string_equal(e, "-_-__g");
	d = k8s_b64url_decode(e, strlen(e), &n);
	assert_int_equal(n, sizeof(bytes));
	assert_memory_equal(d, bytes, n);
	free(d);
	free(e);
	/* '+' and '/' belong to the other alphabet. */
	assert_null(k8s_b64url_decode("+/+/", 4, &n));
	d = k8s_b64_decode("+/+/", 4, &n);
	assert_non_null(d);
	free(d);
	assert_null(k8s_b64_decode("-_-_", 4, &n));
}

#define S(x) { x, sizeof(x) - 1 }
#define SL(x) x, sizeof(x) - 1

static void test_url_refuses_noncanonical(void **state)
{
	static const struct {
		const char *s;
		size_t len;
	} bad[] = {
		S("Zg=="),     /* padding */
		S("Zm8="),
		S("Zg="),
		S("Z"),        /* length % 4 == 1 */
		S("Zm9vY"),
		S("Zh"),       /* 'h' leaves low bits set: "Zg" is the only spelling of "f" */
		S("Zm9"),      /* ... and "Zm8" the only one of "fo" */
		S("Zm 9v"),    /* whitespace */
		S("Zm9v\n"),
		S("Zm9v."),
		S("Zm\0v"),    /* NUL inside the given length */
		S("Zm9v\x80"),
	};
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(k8s_b64url_decode(bad[i].s, bad[i].len, &n));
	assert_null(k8s_b64url_decode(NULL, 0, &n));
}

/* go-jose's reading (strings.TrimRight "=", then Go's RawURLEncoding):
 * what the strict decoder refuses for padding or unused bits, this reads
 * as the bytes of the canonical spelling; other refusals stay. */
static void test_url_lax_reads_as_gojose(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		const char *want;
	} ok[] = {
		{ SL("Zg=="), "f" }, { SL("Zm8="), "fo" }, { SL("Zg="), "f" }, { SL("Zg===="), "f" },
		{ SL("Zh"), "f" }, { SL("Zm9"), "fo" }, { SL("Zm9v"), "foo" }, { SL(""), "" },
	};
	static const struct {
		const char *s;
		size_t len;
	} bad[] = {
		S("Z"), S("Zm9vY"), S("Zm 9v"), S("Zm9v\n"), S("Zm9v."), S("Zm\0v"), S("Zm9v\x80"),
		S("Zm+v"), S("Zm/v"), S("=Zm9v"),
	};
	unsigned char *d;
	size_t i, n;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		d = k8s_b64url_decode_lax(ok[i].s, ok[i].len, &n);
		assert_non_null(d);
		assert_int_equal(n, strlen(ok[i].want));
		assert_memory_equal(d, ok[i].want, n);
		free(d);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(k8s_b64url_decode_lax(bad[i].s, bad[i].len, &n));
}

static void test_trailing_bits_every_char(void **state)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char s[4] = { 'A', 'A', 'A', 0 };
	size_t i, n;
	int accepted2 = 0, accepted3 = 0;

	/* 2-char tail: 4 unused bits, so 4 of 64 last characters are canonical;
	 * 3-char tail: 2 unused bits, 16 of 64. */
	for (i = 0; i < 64; i++) {
		unsigned char *d;

		s[1] = alpha[i];
		d = k8s_b64url_decode(s, 2, &n);
		accepted2 += d != NULL;
		assert_true((d != NULL) == ((i & 15) == 0));
		free(d);
		s[2] = alpha[i];
		s[1] = 'A';
		d = k8s_b64url_decode(s, 3, &n);
		accepted3 += d != NULL;
		assert_true((d != NULL) == ((i & 3) == 0));
		free(d);
	}
	assert_int_equal(accepted2, 4);
	assert_int_equal(accepted3, 16);
}

static void test_std_padding_rules(void **state)
{
	static const char *bad[] = {
		"Zg",       /* padding is required */
		"Zg=",
		"Zg===",
		"Z===",
		"Zm9v=",
		"Zg==Zg==", /* padding only at the end */
		"Zm=9v",
		"Zm9v!",
	};
	unsigned char *d;
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(k8s_b64_decode(bad[i], strlen(bad[i]), &n));
	/* PEM-ish line breaks and spaces are fine. */
	d = k8s_b64_decode("Zm9v\nYmFy\r\n", 11, &n);
	assert_non_null(d);
	assert_int_equal(n, 6);
	assert_memory_equal(d, "foobar", 6);
	free(d);
	d = k8s_b64_decode(" Zm9vYg = = ", 12, &n);
	assert_non_null(d);
	assert_int_equal(n, 4);
	free(d);
}

static void test_roundtrip_all_lengths(void **state)
{
	unsigned char buf[300];
	size_t len, i, n;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 37 + 11);
	for (len = 0; len <= sizeof(buf); len++) {
		char *e = k8s_b64url_encode(buf, len);
		unsigned char *d;

		assert_non_null(e);
		assert_int_equal(strlen(e), (len * 4 + 2) / 3);
		d = k8s_b64url_decode(e, strlen(e), &n);
		assert_non_null(d);
		assert_int_equal(n, len);
		assert_memory_equal(d, buf, len);
		free(d);
		free(e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_url_alphabet),
		cmocka_unit_test(test_url_refuses_noncanonical),
		cmocka_unit_test(test_url_lax_reads_as_gojose),
		cmocka_unit_test(test_trailing_bits_every_char),
		cmocka_unit_test(test_std_padding_rules),
		cmocka_unit_test(test_roundtrip_all_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
