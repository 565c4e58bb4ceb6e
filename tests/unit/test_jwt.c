/* Unit tests for jwt.c: parsing strictness and signature verification.
 * Tokens and keys come from tests/unit/gen/jwt_fixtures.py: good tokens
 * signed by jwcrypto, attack tokens assembled byte by byte with
 * python3-cryptography.  Nothing here is produced by the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "identity.h"
#include "jwt.h"
#include "gen/fixture.h"

static char *fxdir;

static int setup(void **state)
{
	fxdir = fx_generate("jwt_fixtures.py");
	return fxdir != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	fx_rmrf(fxdir);
	free(fxdir);
	return 0;
}

static char *token(const char *name, size_t *len)
{
	char file[96];
	char *t;

	snprintf(file, sizeof(file), "tok_%s.jwt", name);
	t = fx_read(fxdir, file, len);
	if (t == NULL)
		fail_msg("no fixture %s", file);
	return t;
}

static void load_keys(const char *set, struct k8s_jwks *ks)
{
	char file[64];
	size_t len = 0;
	char *text;
	struct k8s_err err;

	snprintf(file, sizeof(file), "jwks_%s.json", set);
	text = fx_read(fxdir, file, &len);
	assert_non_null(text);
	assert_int_equal(k8s_jwks_parse(text, len, ks, &err), K8S_OK);
	free(text);
}

/* Parse, then (if parsed) verify against key set `set`.  Also checks that
 * neither reason nor detail quotes any part of the token. */
static int check(const char *name, const char *set, struct k8s_err *err)
{
	struct k8s_jwt jwt;
	struct k8s_jwks ks;
	size_t len = 0;
	char *t = token(name, &len), *dot;
	int r;

	k8s_err_clear(err);
	r = k8s_jwt_parse(t, len, &jwt, err);
	if (r == K8S_OK) {
		load_keys(set, &ks);
		r = k8s_jwt_verify(&jwt, &ks, err);
		k8s_jwks_free(&ks);
	} else {
		assert_null(jwt.header);
		assert_null(jwt.sig);
	}
	k8s_jwt_free(&jwt);
	/* No 12-character run of any segment in the messages. */
	for (dot = t; r != K8S_OK && *dot != '\0'; dot++) {
		char probe[13];

		if (strlen(dot) < 12)
			break;
		memcpy(probe, dot, 12);
		probe[12] = '\0';
		if (strchr(probe, '.') != NULL || strchr(probe, ' ') != NULL)
			continue;
		assert_null(strstr(err->detail, probe));
		assert_null(strstr(err->reason, probe));
	}
	free(t);
	return r;
}

static void expect(const char *name, const char *set, int status, const char *reason)
{
	struct k8s_err err;
	int r = check(name, set, &err);

	if (r != status || (reason != NULL && strcmp(err.reason, reason) != 0))
		fail_msg("%s: got %d \"%s\" (%s), want %d \"%s\"", name, r, err.reason, err.detail,
			 status, reason ? reason : "");
}

static void test_every_alg_accepted(void **state)
{
	static const char *ok[] = { "ok_RS256", "ok_RS384", "ok_RS512", "ok_PS256", "ok_PS384",
				    "ok_PS512", "ok_ES256", "ok_ES384", "ok_ES512",
				    "ok_PS256_pinned", "ok_typ_lower", "ok_typ_JWT", "just_fits" };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		expect(ok[i], "main", K8S_OK, NULL);
}

static void test_parsed_fields(void **state)
{
	struct k8s_jwt jwt;
	struct k8s_err err;
	size_t len = 0;
	char *t = token("ok_ES256", &len);

	assert_int_equal(k8s_jwt_parse(t, len, &jwt, &err), K8S_OK);
	assert_string_equal(jwt.alg, "ES256");
	assert_string_equal(jwt.kid, "ec256");
	assert_int_equal(jwt.sig_len, 64);
	assert_int_equal(jwt.signing_input_len, (size_t)(strrchr(t, '.') - t));
	assert_memory_equal(jwt.signing_input, t, jwt.signing_input_len);
	assert_string_equal(json_string_value(json_object_get(jwt.payload, "sub")), "user-1");
	k8s_jwt_free(&jwt);
	assert_null(jwt.header);
	assert_null(jwt.signing_input);
	k8s_jwt_free(&jwt); /* twice is fine: validate.c frees unparsed structs too */
	free(t);
}

/* k8s_token_decode: the one reading of a token's bytes.  A token the
 * strict parser refuses for its signature's spelling still shows its
 * payload (the policy pre-check refuses on it); two segments show
 * nothing; only token[0..len) is read. */
static void test_token_decode(void **state)
{
	struct k8s_token t;
	size_t len = 0;
	size_t plen = 0;
	char *ok = token("ok_ES256", &len), *padded = token("padded_sig", &plen);

	(void)state;
	k8s_token_decode(&t, ok, len);
	assert_true(t.jws);
	assert_true(t.parsed);
	assert_ptr_equal(t.header, t.jwt.header);
	assert_ptr_equal(t.payload, t.jwt.payload);
	assert_string_equal(json_string_value(json_object_get(t.payload, "sub")), "user-1");
	k8s_token_free(&t);
	assert_null(t.payload);
	k8s_token_free(&t); /* twice is fine */

	k8s_token_decode(&t, padded, plen);
	assert_false(t.parsed);
	assert_int_equal(t.perr.status, t.jws ? K8S_REFUSED : K8S_OK);
	assert_true(json_is_object(t.header));
	assert_true(json_is_object(t.payload));
	k8s_token_free(&t);

	/* header.payload only, within len */
	k8s_token_decode(&t, ok, (size_t)(strrchr(ok, '.') - ok));
	assert_false(t.jws);
	assert_null(t.header);
	assert_null(t.payload);
	k8s_token_free(&t);

	k8s_token_decode(&t, NULL, 0);
	assert_null(t.text);
	assert_false(t.jws);
	k8s_token_free(&t);
	free(ok);
	free(padded);
}

static void test_looks_like_jwt(void **state)
{
	char *t = token("ok_RS256", NULL), *jwe = token("jwe", NULL), *big = token("oversize", NULL);

	assert_true(k8s_looks_like_jwt(t));
	assert_true(k8s_looks_like_jwt("a.b.c"));
	assert_false(k8s_looks_like_jwt(jwe));
	assert_false(k8s_looks_like_jwt(big));
	assert_false(k8s_looks_like_jwt("a.b"));
	assert_false(k8s_looks_like_jwt("a.b."));
	assert_false(k8s_looks_like_jwt(".b.c"));
	assert_false(k8s_looks_like_jwt("a..c"));
	assert_false(k8s_looks_like_jwt("a.b.c.d"));
	assert_false(k8s_looks_like_jwt("a.b=.c"));
	assert_false(k8s_looks_like_jwt("a.b.c "));
	assert_false(k8s_looks_like_jwt("abcdef.ghijklmnop")); /* bootstrap-token shape */
	assert_false(k8s_looks_like_jwt(""));
	assert_false(k8s_looks_like_jwt(NULL));
	free(t);
	free(jwe);
	free(big);
}

static void test_none_and_hmac_refused(void **state)
{
	expect("none_empty", "main", K8S_REFUSED, "malformed token");
	expect("none_sig", "main", K8S_REFUSED, "unsupported algorithm");
	expect("hs256_confusion", "main", K8S_REFUSED, "unsupported algorithm");
	expect("unknown_alg", "main", K8S_REFUSED, "unsupported algorithm");
}

static void test_alg_must_fit_key(void **state)
{
	expect("alg_key_mismatch", "main", K8S_REFUSED, "algorithm mismatch"); /* ES256, RSA kid */
	expect("rsa_as_es", "main", K8S_REFUSED, "algorithm mismatch");
	expect("wrong_curve", "main", K8S_REFUSED, "algorithm mismatch");      /* ES256, P-384 key */
	expect("es384_on_p256", "main", K8S_REFUSED, "algorithm mismatch");
	/* The apiserver has never accepted EdDSA, whatever the key. */
	expect("ok_EdDSA", "main", K8S_REFUSED, "unsupported algorithm");
	expect("eddsa_on_ec", "main", K8S_REFUSED, "unsupported algorithm");
	expect("jwk_alg_mismatch", "main", K8S_REFUSED, "algorithm mismatch"); /* JWK says PS256 */
}

static void test_ecdsa_signature_encoding(void **state)
{
	struct k8s_err err;

	expect("es_short", "main", K8S_REFUSED, "bad signature");
	expect("es_long", "main", K8S_REFUSED, "bad signature");
	assert_int_equal(check("es_der", "main", &err), K8S_REFUSED);
	assert_string_equal(err.reason, "bad signature");
	assert_non_null(strstr(err.detail, "raw r||s"));
	expect("es_zero", "main", K8S_REFUSED, "bad signature");
}

/* go-jose verifies PSS with any salt length (PSSSaltLengthAuto). */
static void test_pss_any_salt_length(void **state)
{
	expect("ps_maxsalt", "main", K8S_OK, NULL);
}

static void test_key_selection(void **state)
{
	struct k8s_err err;

	assert_int_equal(check("unknown_kid", "main", &err), K8S_REFUSED);
	assert_string_equal(err.reason, K8S_REASON_UNKNOWN_KEY);
	assert_non_null(strstr(err.detail, "nope"));
	/* As go-oidc: every key of the kid is tried; with no kid, every key. */
	expect("ok_RS256", "dup_kid", K8S_OK, NULL);
	expect("nokid_ES384", "main", K8S_OK, NULL);
	expect("nokid_RS256", "main", K8S_OK, NULL); /* rsa_ps is pinned to PS256 */
	expect("nokid_RS256", "two_rsa", K8S_OK, NULL);
	expect("kid_null", "main", K8S_OK, NULL);
	expect("kid_empty", "main", K8S_OK, NULL);
	expect("nokid_ES384", "two_rsa", K8S_REFUSED, K8S_REASON_UNKNOWN_KEY);
	/* A key the set refused to load is unknown, not weak. */
	expect("small_RS256", "small", K8S_REFUSED, K8S_REASON_UNKNOWN_KEY);
	/* use=enc keys never verify. */
	expect("ok_RS256", "enc", K8S_REFUSED, K8S_REASON_UNKNOWN_KEY);
	expect("ok_ES256", "enc", K8S_OK, NULL);
}

static void test_header_rules(void **state)
{
	expect("crit", "main", K8S_REFUSED, "unsupported token");
	expect("typ_at", "main", K8S_REFUSED, "unsupported token");
	expect("typ_num", "main", K8S_REFUSED, "unsupported token");
	expect("kid_num", "main", K8S_REFUSED, "malformed token");
	expect("typ_null", "main", K8S_OK, NULL);
	expect("crit_empty", "main", K8S_OK, NULL);
	expect("nonce_str", "main", K8S_OK, NULL);
	expect("nonce_num", "main", K8S_REFUSED, "malformed token");
	expect("jwk_pub", "main", K8S_OK, NULL);
	expect("jwk_use_enc", "main", K8S_OK, NULL);
	expect("jwk_bad_kty", "main", K8S_REFUSED, "malformed token");
	expect("jwk_string", "main", K8S_REFUSED, "malformed token");
	expect("jwk_private", "main", K8S_REFUSED, "malformed token");
	expect("x5c_not_cert", "main", K8S_REFUSED, "malformed token");
	expect("x5c_string", "main", K8S_REFUSED, "malformed token");
	expect("x5c_empty", "main", K8S_OK, NULL);
	expect("x5c_cert", "main", K8S_OK, NULL);
	expect("x5c_trailing", "main", K8S_REFUSED, "malformed token");
	expect("x5c_trailing_cert", "main", K8S_REFUSED, "malformed token");
	expect("x5c_crlf", "main", K8S_OK, NULL);
	expect("x5c_space", "main", K8S_REFUSED, "malformed token");
	expect("x5c_tab", "main", K8S_REFUSED, "malformed token");
	expect("no_alg", "main", K8S_REFUSED, "malformed token");
}

static void test_jwe_refused(void **state)
{
	struct k8s_err err;

	assert_int_equal(check("jwe", "main", &err), K8S_REFUSED);
	assert_string_equal(err.reason, "unsupported token");
	assert_non_null(strstr(err.detail, "JWE"));
}

static void test_encodings_refused(void **state)
{
	static const char *bad[] = { "padded_sig", "noncanon_sig", "space_sig", "std_b64_sig",
				     "four_segments", "two_segments", "empty_payload" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(bad[i], "main", K8S_REFUSED, "malformed token");
}

static void test_json_rules(void **state)
{
	static const char *bad[] = { "dup_header", "dup_header_escaped", "dup_payload", "dup_nested",
				     "payload_array", "header_not_json", "trailing_garbage" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(bad[i], "main", K8S_REFUSED, "malformed token");
}

/* Numbers jansson cannot hold (1e400, an integer beyond 64 bits) no
 * longer refuse the whole payload: they parse as numbers it holds, so a
 * claim nobody reads is harmless and exp stays out of time_t's range. */
static void test_unholdable_numbers(void **state)
{
	static const char *names[] = { "exp_1e400", "exp_neg_1e400", "exp_bigint" };
	static const double want[] = { 1.7976931348623157e308, -1.7976931348623157e308, 1e20 };
	static const char *unrelated[] = { "unrelated_1e400", "unrelated_bigint",
					   "unrelated_400_digits" };
	struct k8s_jwt jwt;
	struct k8s_err err;
	json_t *exp;
	time_t t;
	size_t i, len = 0;
	char *tok;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		tok = token(names[i], &len);
		assert_int_equal(k8s_jwt_parse(tok, len, &jwt, &err), K8S_OK);
		exp = json_object_get(jwt.payload, "exp");
		assert_true(json_is_real(exp));
		assert_true(json_real_value(exp) == want[i]);
		assert_int_equal(k8s_numeric_date(exp, &t), -1);
		k8s_jwt_free(&jwt);
		free(tok);
	}
	for (i = 0; i < sizeof(unrelated) / sizeof(unrelated[0]); i++)
		expect(unrelated[i], "main", K8S_OK, NULL);
}

static void test_tame_numbers(void **state)
{
	static const struct {
		const char *in, *out; /* out NULL: unchanged */
	} cases[] = {
		{ "{\"a\":1,\"b\":-2.5e3,\"c\":9223372036854775807}", NULL },
		{ "{\"a\":18446744073709551616}", "{\"a\":18446744073709551616e0}" },
		{ "{\"a\":-9223372036854775809}", "{\"a\":-9223372036854775809e0}" },
		{ "[1e400,-1e400,1e-400]", "[1.7976931348623157e308,-1.7976931348623157e308,1e-400]" },
		{ "{\"s\":\"1e400 \\\" 18446744073709551616\"}", NULL },
		{ "{\"x\":01e999}", NULL },  /* not a JSON number: left for jansson to refuse */
		{ "{\"x\":-}", NULL },
	};
	size_t i, n;
	char *out;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = 0;
		out = k8s_json_tame_numbers(cases[i].in, strlen(cases[i].in), &n);
		if (cases[i].out == NULL) {
			assert_null(out);
			continue;
		}
		assert_non_null(out);
		assert_int_equal(n, strlen(cases[i].out));
		assert_memory_equal(out, cases[i].out, n);
		free(out);
	}
}

/* k8s_numeric_date, the one rule for exp/iat/nbf: truncation toward zero,
 * refusal outside time_t and of anything but a number. */
static void test_numeric_date(void **state)
{
	static const struct {
		const char *json;
		int r;
		time_t t;
	} cases[] = {
		{ "1700000000", 1, 1700000000 },
		{ "1500000000.7", 1, 1500000000 },
		{ "-1500000000.7", 1, -1500000000 },
		{ "0.9", 1, 0 },
		{ "-0.5", 1, 0 },
		{ "1e-400", 1, 0 },            /* jansson: underflow to 0.0 */
		{ "9223372036854775807", 1, INT64_MAX },
		{ "-9223372036854775808", 1, INT64_MIN },
		{ "4.611686018427388e18", 1, (time_t)1 << 62 },
		{ "-9.223372036854775808e18", 1, INT64_MIN },  /* -2^63: exactly time_t's least */
		{ "9.223372036854775808e18", -1, 0 },          /* 2^63: one past the greatest */
		{ "9.3e18", -1, 0 },
		{ "-9.3e18", -1, 0 },
		{ "1e300", -1, 0 },
		{ "-1e300", -1, 0 },
		{ "1.7976931348623157e308", -1, 0 },
		{ "\"1700000000\"", 1, 1700000000 },    /* json.Number takes a quoted number */
		{ "\"1500000000.7\"", 1, 1500000000 },
		{ "\"1e300\"", -1, 0 },
		{ "\" 1700000000\"", -1, 0 },
		{ "\"0x10\"", -1, 0 },
		{ "\"soon\"", -1, 0 },
		{ "\"\"", -1, 0 },
		{ "true", -1, 0 },
		{ "null", -1, 0 },
		{ "[1]", -1, 0 },
	};
	char text[128];
	json_error_t jerr;
	json_t *doc;
	time_t t;
	size_t i;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[%s]", cases[i].json);
		doc = json_loads(text, 0, &jerr);
		if (doc == NULL)
			fail_msg("%s: %s", text, jerr.text);
		t = 12345;
		r = k8s_numeric_date(json_array_get(doc, 0), &t);
		if (r != cases[i].r || t != cases[i].t)
			fail_msg("%s: got %d %lld, want %d %lld", cases[i].json, r, (long long)t,
				 cases[i].r, (long long)cases[i].t);
		json_decref(doc);
	}
	t = 12345;
	assert_int_equal(k8s_numeric_date(NULL, &t), 0);
	assert_int_equal(t, 0);
	/* Not even representable in JSON text: jansson refuses to parse them,
	 * and will not make a non-finite real either. */
	assert_null(json_loads("[1e400]", 0, &jerr));
	assert_null(json_loads("[100000000000000000000]", 0, &jerr));
	assert_null(json_real(1.0 / 0.0));
}

static void test_size_limit(void **state)
{
	struct k8s_err err;
	struct k8s_jwt jwt;
	size_t len = 0;
	char *t = token("ok_ES256", &len);

	assert_int_equal(check("oversize", "main", &err), K8S_REFUSED);
	assert_string_equal(err.reason, "malformed token");
	assert_non_null(strstr(err.detail, "16384"));
	/* A NUL inside the given length, and a NULL token. */
	t[10] = '\0';
	assert_int_equal(k8s_jwt_parse(t, len, &jwt, &err), K8S_REFUSED);
	assert_int_equal(k8s_jwt_parse(NULL, 0, &jwt, &err), K8S_REFUSED);
	k8s_jwt_free(&jwt);
	free(t);
}

static void test_tampering(void **state)
{
	expect("tampered_payload", "main", K8S_REFUSED, "bad signature");
	expect("tampered_sig", "main", K8S_REFUSED, "bad signature");
}

static void test_verify_needs_a_parsed_token(void **state)
{
	struct k8s_jwt jwt;
	struct k8s_jwks ks;
	struct k8s_err err;

	memset(&jwt, 0, sizeof(jwt));
	load_keys("main", &ks);
	assert_int_equal(k8s_jwt_verify(&jwt, &ks, &err), K8S_REFUSED);
	assert_int_equal(k8s_jwt_verify(NULL, &ks, &err), K8S_REFUSED);
	k8s_jwks_free(&ks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_alg_accepted),
		cmocka_unit_test(test_parsed_fields),
		cmocka_unit_test(test_token_decode),
		cmocka_unit_test(test_looks_like_jwt),
		cmocka_unit_test(test_none_and_hmac_refused),
		cmocka_unit_test(test_alg_must_fit_key),
		cmocka_unit_test(test_ecdsa_signature_encoding),
		cmocka_unit_test(test_pss_any_salt_length),
		cmocka_unit_test(test_key_selection),
		cmocka_unit_test(test_header_rules),
		cmocka_unit_test(test_jwe_refused),
		cmocka_unit_test(test_encodings_refused),
		cmocka_unit_test(test_json_rules),
		cmocka_unit_test(test_unholdable_numbers),
		cmocka_unit_test(test_tame_numbers),
		cmocka_unit_test(test_numeric_date),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_tampering),
		cmocka_unit_test(test_verify_needs_a_parsed_token),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
