/* Unit tests for k8s-ssh-askpass's parsers (cli/askpass_parse.c): its
 * libc-only SHA-256 against OpenSSL's, pam_k8s's prompt grammar (and the
 * lookalikes a hostile server could send), and the JWT "aud" check.
 * Payloads are encoded with OpenSSL's EVP_EncodeBlock, not with the
 * helper's decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "../../cli/askpass_parse.c"

static void test_sha256(void **state)
{
	static const size_t lens[] = { 0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 16384 };
	unsigned char *buf = malloc(16384), a[32], b[32];
	size_t i;

	assert_non_null(buf);
	for (i = 0; i < 16384; i++)
		buf[i] = (unsigned char)(i * 31 + 7);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		ap_sha256(buf, lens[i], a);
		SHA256(buf, lens[i], b);
		assert_memory_equal(a, b, 32);
	}
	free(buf);
}

static void test_prompts_accepted(void **state)
{
	struct ap_prompt p;

	assert_int_equal(ap_parse_prompt("Kubernetes token (audience host-login:web-1): ", &p), 0);
	assert_int_equal(p.kind, 1);
	assert_string_equal(p.audience, "host-login:web-1");
	assert_string_equal(p.host, "");

	assert_int_equal(ap_parse_prompt("(alice@web-1) Kubernetes token (audience host-login:web-1): ", &p), 0);
	assert_int_equal(p.kind, 1);
	assert_string_equal(p.user, "alice");
	assert_string_equal(p.host, "web-1");

	assert_int_equal(ap_parse_prompt("(a@b.c@10.0.0.1) Kubernetes token (audience https://x.example/y): ", &p), 0);
	assert_string_equal(p.user, "a@b.c");
	assert_string_equal(p.host, "10.0.0.1");
	assert_string_equal(p.audience, "https://x.example/y");

	assert_int_equal(ap_parse_prompt("(ops.alice@127.0.0.1) Kubernetes token (audience host-login:t) continued at byte 960 of 3001: ", &p), 0);
	assert_int_equal(p.kind, 2);
	assert_int_equal(p.offset, 960);
	assert_int_equal(p.total, 3001);
}

/* Anything else is refused: other prompts, lookalikes, trailing text. */
static void test_prompts_refused(void **state)
{
	static const char *bad[] = {
		"", "Password: ", "(alice@web-1) Password: ",
		"Enter passphrase for key '/root/.ssh/id_ed25519': ",
		"Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
		"Kubernetes token (audience ): ",
		"Kubernetes token (audience a b): ",
		"Kubernetes token (audience x):",
		"Kubernetes token (audience x):  ",
		"Kubernetes token (audience x): Password: ",
		"kubernetes token (audience x): ",
		"Kubernetes token (audience x(y)): ",
		"Kubernetes token (audience x)\n: ",
		"Kubernetes token (audience x\t): ",
		"Password: Kubernetes token (audience x): ",
		"(alice@web-1)Kubernetes token (audience x): ",
		"(@web-1) Kubernetes token (audience x): ",
		"(alice@) Kubernetes token (audience x): ",
		"(aliceweb-1) Kubernetes token (audience x): ",
		"Kubernetes token (audience x) continued at byte 0 of 10: ",
		"Kubernetes token (audience x) continued at byte 10 of 10: ",
		"Kubernetes token (audience x) continued at byte 11 of 10: ",
		"Kubernetes token (audience x) continued at byte 01 of 10: ",
		"Kubernetes token (audience x) continued at byte 1 of 16385: ",
		"Kubernetes token (audience x) continued at byte 1 of 123456: ",
		"Kubernetes token (audience x) continued at byte -1 of 10: ",
		"Kubernetes token (audience x) continued at byte 1 of 10 : ",
	};
	char longaud[400];
	struct ap_prompt p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ap_parse_prompt(bad[i], &p), -1);
	memset(longaud, 'a', sizeof(longaud));
	memcpy(longaud, "Kubernetes token (audience ", 27);
	snprintf(longaud + 27 + 257, sizeof(longaud) - 27 - 257, "): ");
	assert_int_equal(ap_parse_prompt(longaud, &p), -1);
}

/* header.payload.sig with the payload base64url-encoded by OpenSSL. */
static char *jwt_with(const char *payload)
{
	size_t n = strlen(payload), i, o = 0;
	unsigned char *enc = malloc(4 * n / 3 + 8);
	char *out;

	assert_non_null(enc);
	EVP_EncodeBlock(enc, (const unsigned char *)payload, (int)n);
	out = malloc(strlen((char *)enc) + 64);
	assert_non_null(out);
	strcpy(out, "eyJhbGciOiJSUzI1NiJ9.");
	o = strlen(out);
	for (i = 0; enc[i] != '\0'; i++) {
		if (enc[i] == '=')
			break;
		out[o++] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : (char)enc[i];
	}
	strcpy(out + o, ".c2lnbmF0dXJl");
	free(enc);
	return out;
}

static void test_jwt_audience(void **state)
{
	static const struct { const char *payload; int ok; } cases[] = {
		{ "{\"aud\":\"host-login:web-1\",\"sub\":\"x\"}", 1 },
		{ "{\"sub\":\"x\",\"aud\":[\"other\",\"host-login:web-1\"]}", 1 },
		{ " { \"iss\" : \"https:\\/\\/k\" , \"aud\" : [ \"host-login:web-1\" ] } ", 1 },
		{ "{\"aud\":\"host-login\\u003aweb-1\"}", 1 },
		{ "{\"nested\":{\"aud\":\"host-login:web-1\"},\"aud\":\"host-login:web-1\",\"n\":[1,2.5e3,true,null]}", 1 },
		{ "{\"aud\":\"host-login:web-2\"}", 0 },
		{ "{\"aud\":[\"host-login:web-10\",\"https://kubernetes.default.svc\"]}", 0 },
		{ "{\"aud\":[]}", 0 },
		{ "{\"sub\":\"host-login:web-1\"}", 0 },
		{ "{\"nested\":{\"aud\":\"host-login:web-1\"}}", 0 },
		{ "{\"aud\":\"host-login:web-1\",\"aud\":\"x\"}", 0 },
		{ "{\"aud\":\"host-login:web-1\"", 0 },
		{ "{\"aud\":\"host-login:web-1\"} x", 0 },
		{ "{\"aud\":\"host-login:web-1\\u0000\"}", 0 },
		{ "{\"aud\":\"host-login:web-1\\u00e9\"}", 0 },
		{ "{\"aud\":1}", 0 },
		{ "[\"host-login:web-1\"]", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = jwt_with(cases[i].payload);

		assert_int_equal(ap_jwt_has_audience(t, strlen(t), "host-login:web-1"), cases[i].ok);
		free(t);
	}
	assert_int_equal(ap_jwt_has_audience("opaque-token", 12, "host-login:web-1"), 0);
	assert_int_equal(ap_jwt_has_audience("a.b.c.d", 7, "host-login:web-1"), 0);
	assert_int_equal(ap_jwt_has_audience("a.!!!.c", 7, "host-login:web-1"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_prompts_accepted),
		cmocka_unit_test(test_prompts_refused),
		cmocka_unit_test(test_jwt_audience),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
