/* Unit tests for jwks.c.  Key sets come from tests/unit/gen/jwt_fixtures.py
 * (jwcrypto exports, plus hand-broken entries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <nettle/bignum.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>

#include "b64.h"
#include "jwks.h"
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

/* Parse jwks_<name>.json; returns the status. */
static int load(const char *name, struct k8s_jwks *ks, struct k8s_err *err)
{
	char file[64];
	size_t len = 0;
	char *text;
	int r;

	snprintf(file, sizeof(file), "jwks_%s.json", name);
	text = fx_read(fxdir, file, &len);
	assert_non_null(text);
	k8s_err_clear(err);
	r = k8s_jwks_parse(text, len, ks, err);
	free(text);
	return r;
}

static const struct k8s_jwk *by_kid(const struct k8s_jwks *ks, const char *kid)
{
	size_t i;

	for (i = 0; i < ks->n; i++)
		if (ks->keys[i].kid != NULL && strcmp(ks->keys[i].kid, kid) == 0)
			return &ks->keys[i];
	return NULL;
}

static void test_main_set(void **state)
{
	struct k8s_jwks ks;
	struct k8s_err err;
	const struct k8s_jwk *k;

	assert_int_equal(load("main", &ks, &err), K8S_OK);
	assert_int_equal(ks.n, 6);
	assert_int_equal(ks.skipped, 0);
	assert_int_equal(ks.private_keys, 0);
	k = by_kid(&ks, "rsa1");
	assert_non_null(k);
	assert_int_equal(k->type, K8S_KTY_RSA);
	assert_int_equal(k->bits, 2048);
	assert_null(k->alg);
	k = by_kid(&ks, "rsa_ps");
	assert_int_equal(k->bits, 3072);
	assert_string_equal(k->alg, "PS256");
	k = by_kid(&ks, "ec256");
	assert_int_equal(k->type, K8S_KTY_EC);
	assert_int_equal(k->curve, K8S_CRV_P256);
	assert_int_equal(by_kid(&ks, "ec384")->curve, K8S_CRV_P384);
	assert_int_equal(by_kid(&ks, "ec521")->curve, K8S_CRV_P521);
	assert_int_equal(by_kid(&ks, "ed")->type, K8S_KTY_ED25519);
	assert_int_equal(k8s_jwks_count_kid(&ks, "ec256"), 1);
	assert_int_equal(k8s_jwks_count_kid(&ks, "nope"), 0);
	assert_int_equal(k8s_jwks_count_kid(&ks, NULL), 0);
	k8s_jwks_free(&ks);
	assert_null(ks.keys);
	assert_int_equal(ks.n, 0);
}

static void test_alg_table_and_fit(void **state)
{
	static const char *refused[] = { "none", "None", "HS256", "HS384", "HS512", "RS257", "rs256",
					 "ES256K", "Ed25519", "RSA-OAEP", "" };
	struct k8s_jwks ks;
	struct k8s_err err;
	size_t i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_null(k8s_jws_alg_lookup(refused[i]));
	assert_null(k8s_jws_alg_lookup(NULL));
	assert_int_equal(k8s_jws_alg_lookup("ES512")->coord_len, 66);
	assert_true(k8s_jws_alg_lookup("PS384")->pss);
	assert_false(k8s_jws_alg_lookup("RS384")->pss);

	assert_int_equal(load("main", &ks, &err), K8S_OK);
	assert_true(k8s_jwk_fits_alg(by_kid(&ks, "ec256"), k8s_jws_alg_lookup("ES256")));
	assert_false(k8s_jwk_fits_alg(by_kid(&ks, "ec256"), k8s_jws_alg_lookup("ES384")));
	assert_false(k8s_jwk_fits_alg(by_kid(&ks, "ec384"), k8s_jws_alg_lookup("ES256")));
	assert_true(k8s_jwk_fits_alg(by_kid(&ks, "ec521"), k8s_jws_alg_lookup("ES512")));
	assert_false(k8s_jwk_fits_alg(by_kid(&ks, "ec256"), k8s_jws_alg_lookup("RS256")));
	assert_true(k8s_jwk_fits_alg(by_kid(&ks, "rsa1"), k8s_jws_alg_lookup("RS256")));
	assert_true(k8s_jwk_fits_alg(by_kid(&ks, "rsa1"), k8s_jws_alg_lookup("PS512")));
	assert_false(k8s_jwk_fits_alg(by_kid(&ks, "rsa1"), k8s_jws_alg_lookup("EdDSA")));
	/* The JWK's own alg pins it. */
	assert_true(k8s_jwk_fits_alg(by_kid(&ks, "rsa_ps"), k8s_jws_alg_lookup("PS256")));
	assert_false(k8s_jwk_fits_alg(by_kid(&ks, "rsa_ps"), k8s_jws_alg_lookup("RS256")));
	assert_false(k8s_jwk_fits_alg(by_kid(&ks, "rsa_ps"), k8s_jws_alg_lookup("PS384")));
	assert_true(k8s_jwk_fits_alg(by_kid(&ks, "ed"), k8s_jws_alg_lookup("EdDSA")));
	assert_false(k8s_jwk_fits_alg(by_kid(&ks, "ed"), k8s_jws_alg_lookup("ES256")));
	assert_false(k8s_jwk_fits_alg(NULL, k8s_jws_alg_lookup("ES256")));
	k8s_jwks_free(&ks);
}

static void test_private_members_refused(void **state)
{
	struct k8s_jwks ks;
	struct k8s_err err;

	assert_int_equal(load("private", &ks, &err), K8S_OK);
	assert_int_equal(ks.n, 1);
	assert_string_equal(ks.keys[0].kid, "ec256");
	assert_int_equal(ks.private_keys, 1);
	assert_int_equal(ks.skipped, 1);
	assert_non_null(strstr(ks.skip_note, "kid \"rsa1\""));
	assert_non_null(strstr(ks.skip_note, "private key material"));
	k8s_jwks_free(&ks);

	assert_int_equal(load("private_ec", &ks, &err), K8S_OK);
	assert_int_equal(ks.n, 0);
	assert_int_equal(ks.private_keys, 1);
	k8s_jwks_free(&ks);

	/* A symmetric key is a secret by definition. */
	assert_int_equal(load("oct", &ks, &err), K8S_OK);
	assert_int_equal(ks.n, 0);
	assert_int_equal(ks.private_keys, 1);
	k8s_jwks_free(&ks);
}

static void test_use_enc_skipped(void **state)
{
	struct k8s_jwks ks;
	struct k8s_err err;

	assert_int_equal(load("enc", &ks, &err), K8S_OK);
	assert_int_equal(ks.n, 1);
	assert_string_equal(ks.keys[0].kid, "ec256");
	assert_int_equal(ks.skipped, 1);
	assert_int_equal(ks.private_keys, 0);
	assert_non_null(strstr(ks.skip_note, "use is not"));
	k8s_jwks_free(&ks);
}

static void test_small_rsa_refused(void **state)
{
	struct k8s_jwks ks;
	struct k8s_err err;

	assert_int_equal(load("small", &ks, &err), K8S_OK);
	assert_int_equal(ks.n, 1);
	assert_string_equal(ks.keys[0].kid, "ec256");
	assert_int_equal(k8s_jwks_count_kid(&ks, "small"), 0);
	assert_non_null(strstr(ks.skip_note, "shorter than 2048"));
	k8s_jwks_free(&ks);
}

static void test_ec_point_checks(void **state)
{
	struct k8s_jwks ks;
	struct k8s_err err;

	/* y+1 (off the curve), P-384 coordinates labelled P-256, a short x. */
	assert_int_equal(load("offcurve", &ks, &err), K8S_OK);
	assert_int_equal(ks.n, 1);
	assert_string_equal(ks.keys[0].kid, "rsa1");
	assert_int_equal(ks.skipped, 3);
	assert_non_null(strstr(ks.skip_note, "not on the curve"));
	assert_non_null(strstr(ks.skip_note, "full-length"));
	k8s_jwks_free(&ks);
}

/* What jwks.c relies on: Nettle's ecc_point_set refuses an off-curve
 * point, and coordinates outside the field. */
static void test_nettle_point_set_checks_point(void **state)
{
	char *text = fx_read(fxdir, "jwks_offcurve.json", NULL);
	json_t *root = json_loads(text, 0, NULL), *k = json_array_get(json_object_get(root, "keys"), 0);
	const char *xs = json_string_value(json_object_get(k, "x"));
	const char *ys = json_string_value(json_object_get(k, "y"));
	unsigned char *x, *y, ff[32];
	size_t xl, yl;
	struct ecc_point p;
	mpz_t mx, my;

	x = k8s_b64url_decode(xs, strlen(xs), &xl);
	y = k8s_b64url_decode(ys, strlen(ys), &yl);
	assert_int_equal(xl, 32);
	assert_int_equal(yl, 32);
	ecc_point_init(&p, nettle_get_secp_256r1());
	nettle_mpz_init_set_str_256_u(mx, xl, x);
	nettle_mpz_init_set_str_256_u(my, yl, y);
	assert_int_equal(ecc_point_set(&p, mx, my), 0);
	memset(ff, 0xff, sizeof(ff));
	nettle_mpz_set_str_256_u(mx, sizeof(ff), ff);
	assert_int_equal(ecc_point_set(&p, mx, my), 0);
	mpz_clear(mx);
	mpz_clear(my);
	ecc_point_clear(&p);
	free(x);
	free(y);
	json_decref(root);
	free(text);
}

static void test_bad_encodings_skipped(void **state)
{
	struct k8s_jwks ks;
	struct k8s_err err;

	assert_int_equal(load("badenc", &ks, &err), K8S_OK);
	assert_int_equal(ks.n, 2);
	assert_non_null(by_kid(&ks, "num_kid_is_next"));
	assert_non_null(by_kid(&ks, "ec384"));
	assert_null(by_kid(&ks, "padded"));
	assert_null(by_kid(&ks, "alg_hs"));
	assert_null(by_kid(&ks, "alg_wrong"));
	assert_null(by_kid(&ks, "ed448"));
	assert_int_equal(ks.skipped, 8);
	assert_int_equal(ks.private_keys, 0);
	k8s_jwks_free(&ks);
}

static void test_not_a_jwks(void **state)
{
	static const char *bad[] = { "[]", "{}", "{\"keys\":{}}", "{\"keys\":[]} x", "", "null",
				     "{\"keys\":[],\"keys\":[]}" };
	struct k8s_jwks ks;
	struct k8s_err err;
	size_t i;

	assert_int_equal(load("dupmember", &ks, &err), K8S_UNAVAILABLE);
	assert_string_equal(err.reason, "bad key set");
	assert_null(ks.keys);
	assert_int_equal(load("notjson", &ks, &err), K8S_UNAVAILABLE);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(k8s_jwks_parse(bad[i], strlen(bad[i]), &ks, &err), K8S_UNAVAILABLE);
		assert_int_equal(ks.n, 0);
	}
	assert_int_equal(k8s_jwks_parse("{\"keys\":[]}", 11, &ks, &err), K8S_OK);
	assert_int_equal(ks.n, 0);
	k8s_jwks_free(&ks);
	assert_int_equal(k8s_jwks_parse(NULL, 0, &ks, &err), K8S_UNAVAILABLE);
}

static void test_limits(void **state)
{
	char *text = fx_read(fxdir, "jwks_main.json", NULL), *big, *many;
	json_t *root = json_loads(text, 0, NULL), *keys = json_array(), *k;
	struct k8s_jwks ks;
	struct k8s_err err;
	size_t i, len;

	k = json_array_get(json_object_get(root, "keys"), 2); /* ec256 */
	for (i = 0; i < K8S_JWKS_MAX_KEYS + 6; i++)
		json_array_append(keys, k);
	json_object_set_new(root, "keys", keys);
	many = json_dumps(root, JSON_COMPACT);
	assert_int_equal(k8s_jwks_parse(many, strlen(many), &ks, &err), K8S_OK);
	assert_int_equal(ks.n, K8S_JWKS_MAX_KEYS);
	assert_int_equal(ks.skipped, 6);
	assert_non_null(strstr(ks.skip_note, "too many keys"));
	k8s_jwks_free(&ks);

	/* Over 1 MiB: refused before parsing. */
	len = 1024 * 1024 + 1;
	big = malloc(len + 1);
	memset(big, ' ', len);
	memcpy(big, "{\"keys\":[]}", 11);
	big[len] = '\0';
	assert_int_equal(k8s_jwks_parse(big, len, &ks, &err), K8S_UNAVAILABLE);
	assert_int_equal(k8s_jwks_parse(big, len - 1, &ks, &err), K8S_OK);
	k8s_jwks_free(&ks);
	free(big);
	free(many);
	json_decref(root);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_main_set),
		cmocka_unit_test(test_alg_table_and_fit),
		cmocka_unit_test(test_private_members_refused),
		cmocka_unit_test(test_use_enc_skipped),
		cmocka_unit_test(test_small_rsa_refused),
		cmocka_unit_test(test_ec_point_checks),
		cmocka_unit_test(test_nettle_point_set_checks_point),
		cmocka_unit_test(test_bad_encodings_skipped),
		cmocka_unit_test(test_not_a_jwks),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
