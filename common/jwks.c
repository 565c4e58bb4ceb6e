/* jwks.c: JWKS -> EVP_PKEY.  Keys are built from their public parameters
 * through OSSL_PARAM / EVP_PKEY_fromdata (no deprecated RSA_ / EC_KEY_
 * calls) and only appended to the set once complete. */
#include "jwks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "b64.h"
#include "util.h"

#define JWKS_MAX_LEN (1024 * 1024)

static const struct k8s_jws_alg jws_algs[] = {
	{ "RS256", EVP_PKEY_RSA, 0, 0, "SHA256", 0 },
	{ "RS384", EVP_PKEY_RSA, 0, 0, "SHA384", 0 },
	{ "RS512", EVP_PKEY_RSA, 0, 0, "SHA512", 0 },
	{ "PS256", EVP_PKEY_RSA, 1, 0, "SHA256", 0 },
	{ "PS384", EVP_PKEY_RSA, 1, 0, "SHA384", 0 },
	{ "PS512", EVP_PKEY_RSA, 1, 0, "SHA512", 0 },
	{ "ES256", EVP_PKEY_EC, 0, NID_X9_62_prime256v1, "SHA256", 32 },
	{ "ES384", EVP_PKEY_EC, 0, NID_secp384r1, "SHA384", 48 },
	{ "ES512", EVP_PKEY_EC, 0, NID_secp521r1, "SHA512", 66 },
	{ "EdDSA", EVP_PKEY_ED25519, 0, 0, NULL, 0 },
};

_Static_assert(sizeof(jws_algs) / sizeof(jws_algs[0]) == K8S_JWS_ALGS, "K8S_JWS_ALGS");

struct k8s_jwk_prep {
	EVP_PKEY_CTX *tmpl;  /* never used directly, only duplicated */
	EVP_MD *md;
};

static const struct {
	const char *crv;     /* JWK spelling */
	const char *group;   /* OpenSSL group name */
	int nid;
	size_t len;          /* bytes of x and of y */
} ec_curves[] = {
	{ "P-256", "prime256v1", NID_X9_62_prime256v1, 32 },
	{ "P-384", "secp384r1", NID_secp384r1, 48 },
	{ "P-521", "secp521r1", NID_secp521r1, 66 },
};

/* Members that only a private (or symmetric) key has.  A set that
 * publishes them has leaked the key: nobody should trust it. */
static const char *const private_members[] = { "d", "p", "q", "dp", "dq", "qi", "oth", "k" };

enum { JWK_OK, JWK_SKIP, JWK_PRIVATE };

const struct k8s_jws_alg *k8s_jws_alg_lookup(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(jws_algs) / sizeof(jws_algs[0]); i++)
		if (strcmp(jws_algs[i].name, name) == 0)
			return &jws_algs[i];
	return NULL;
}

int k8s_jwk_fits_alg(const struct k8s_jwk *key, const struct k8s_jws_alg *alg)
{
	if (key == NULL || alg == NULL || key->pkey == NULL || key->type != alg->key_type)
		return 0;
	if (alg->key_type == EVP_PKEY_EC && key->curve_nid != alg->curve_nid)
		return 0;
	if (alg->key_type == EVP_PKEY_RSA && key->bits < K8S_RSA_MIN_BITS)
		return 0;
	if (key->alg != NULL && strcmp(key->alg, alg->name) != 0)
		return 0;
	return 1;
}

static void prep_free(struct k8s_jwk_prep *p)
{
	if (p == NULL)
		return;
	EVP_PKEY_CTX_free(p->tmpl);
	EVP_MD_free(p->md);
	free(p);
}

static int set_padding(EVP_PKEY_CTX *ctx, const struct k8s_jws_alg *alg)
{
	if (alg->key_type != EVP_PKEY_RSA)
		return 1;
	if (!alg->pss)
		return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
	/* MGF1 with the same hash (RFC 7518 3.5).  RFC 7518 has signers use a
	 * salt as long as the hash; go-jose verifies any salt length (Go's
	 * PSSSaltLengthAuto), and so does this: the salt adds nothing a
	 * verifier relies on. */
	return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
	       EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_AUTO) == 1 &&
	       EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, alg->md, NULL) == 1;
}

static struct k8s_jwk_prep *prep_new(EVP_PKEY *pkey, const struct k8s_jws_alg *alg)
{
	struct k8s_jwk_prep *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->md = EVP_MD_fetch(NULL, alg->md, NULL);
	p->tmpl = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (p->md == NULL || p->tmpl == NULL || EVP_PKEY_verify_init(p->tmpl) != 1 ||
	    !set_padding(p->tmpl, alg) || EVP_PKEY_CTX_set_signature_md(p->tmpl, p->md) != 1) {
		prep_free(p);
		return NULL;
	}
	return p;
}

EVP_PKEY_CTX *k8s_jwk_verify_ctx(const struct k8s_jwk *key, const struct k8s_jws_alg *alg,
				 const EVP_MD **md)
{
	struct k8s_jwk_prep *p, *none = NULL;
	size_t i;

	if (key == NULL || alg == NULL || alg->md == NULL || key->prep == NULL)
		return NULL;
	i = (size_t)(alg - jws_algs);
	if (i >= K8S_JWS_ALGS)
		return NULL;
	p = __atomic_load_n(&key->prep[i], __ATOMIC_ACQUIRE);
	if (p == NULL) {
		p = prep_new(key->pkey, alg);
		if (p == NULL)
			return NULL;
		/* Another thread may have won the race: use its context. */
		if (!__atomic_compare_exchange_n(&key->prep[i], &none, p, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE)) {
			prep_free(p);
			p = none;
		}
	}
	*md = p->md;
	return EVP_PKEY_CTX_dup(p->tmpl);
}

static void jwk_clear(struct k8s_jwk *k)
{
	size_t i;

	EVP_PKEY_free(k->pkey);
	free(k->kid);
	free(k->alg);
	for (i = 0; k->prep != NULL && i < K8S_JWS_ALGS; i++)
		prep_free(k->prep[i]);
	free(k->prep);
	memset(k, 0, sizeof(*k));
}

/* Append `kid "X": why; ` to the note, kid reduced to printable ASCII:
 * it comes from the network and ends up in logs. */
static void note_skip(struct k8s_jwks *s, json_t *k, const char *why)
{
	const char *kid = json_string_value(json_object_get(k, "kid"));
	char clean[48];
	size_t used = strlen(s->skip_note);

	k8s_show_untrusted(kid, sizeof(clean) - 4, clean, sizeof(clean), 0);
	if (used < sizeof(s->skip_note) - 1)
		snprintf(s->skip_note + used, sizeof(s->skip_note) - used, "%skey %zu%s%s%s: %s",
			 used ? "; " : "", s->n + s->skipped, kid ? " (kid \"" : "", clean,
			 kid ? "\")" : "", why);
	s->skipped++;
}

static unsigned char *member_b64(json_t *k, const char *name, size_t *len)
{
	const char *s = json_string_value(json_object_get(k, name));

	return s != NULL ? k8s_b64url_decode(s, strlen(s), len) : NULL;
}

static int fromdata(const char *type, OSSL_PARAM *params, EVP_PKEY **pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	int ok;

	ok = ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
	     EVP_PKEY_fromdata(ctx, pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int jwk_rsa(json_t *k, struct k8s_jwk *out, const char **why)
{
	unsigned char *n = NULL, *e = NULL;
	size_t nl = 0, el = 0;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	int ret = JWK_SKIP;

	n = member_b64(k, "n", &nl);
	e = member_b64(k, "e", &el);
	if (n == NULL || e == NULL || nl == 0 || el == 0) {
		*why = "RSA key without canonical base64url n and e";
		goto out;
	}
	bn = BN_bin2bn(n, (int)nl, NULL);
	be = BN_bin2bn(e, (int)el, NULL);
	if (bn == NULL || be == NULL) {
		*why = "out of memory";
		goto out;
	}
	out->bits = BN_num_bits(bn);
	if (out->bits < K8S_RSA_MIN_BITS || out->bits > K8S_RSA_MAX_BITS || !BN_is_odd(bn)) {
		*why = out->bits < K8S_RSA_MIN_BITS ? "RSA key shorter than 2048 bits"
						    : "RSA modulus out of range";
		goto out;
	}
	if (!BN_is_odd(be) || BN_num_bits(be) < 2 || BN_num_bits(be) > 32) {
		*why = "RSA public exponent out of range";
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    fromdata("RSA", params, &out->pkey) != 0) {
		*why = "OpenSSL refused the RSA key";
		goto out;
	}
	out->type = EVP_PKEY_RSA;
	ret = JWK_OK;
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	return ret;
}

/* OpenSSL checks the point while decoding it; the explicit check keeps
 * that true whatever the provider does.  The quick check (on the curve,
 * not the point at infinity) is the whole check for P-256, P-384 and
 * P-521: their cofactor is 1, so every such point has the group's order,
 * and the full check's n*Q = O multiplication (with its random blinding,
 * which instantiates a DRBG: half a millisecond in a fresh helper) adds
 * nothing. */
static int ec_point_ok(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok = ctx != NULL && EVP_PKEY_public_check_quick(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static int jwk_ec(json_t *k, struct k8s_jwk *out, const char **why)
{
	const char *crv = json_string_value(json_object_get(k, "crv"));
	unsigned char *x = NULL, *y = NULL, point[1 + 2 * 66];
	size_t xl = 0, yl = 0, c;
	OSSL_PARAM params[3];
	int ret = JWK_SKIP;

	for (c = 0; c < sizeof(ec_curves) / sizeof(ec_curves[0]); c++)
		if (crv != NULL && strcmp(crv, ec_curves[c].crv) == 0)
			break;
	if (c == sizeof(ec_curves) / sizeof(ec_curves[0])) {
		*why = "EC key on an unsupported curve";
		goto out;
	}
	x = member_b64(k, "x", &xl);
	y = member_b64(k, "y", &yl);
	/* RFC 7518 6.2.1.2: coordinates are always the full field size. */
	if (x == NULL || y == NULL || xl != ec_curves[c].len || yl != ec_curves[c].len) {
		*why = "EC key without full-length base64url x and y";
		goto out;
	}
	point[0] = 0x04;
	memcpy(point + 1, x, xl);
	memcpy(point + 1 + xl, y, yl);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						     (char *)ec_curves[c].group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, 1 + xl + yl);
	params[2] = OSSL_PARAM_construct_end();
	if (fromdata("EC", params, &out->pkey) != 0 || !ec_point_ok(out->pkey)) {
		*why = "EC point is not on the curve";
		goto out;
	}
	out->type = EVP_PKEY_EC;
	out->curve_nid = ec_curves[c].nid;
	out->bits = EVP_PKEY_get_bits(out->pkey);
	ret = JWK_OK;
out:
	free(x);
	free(y);
	return ret;
}

static int jwk_okp(json_t *k, struct k8s_jwk *out, const char **why)
{
	const char *crv = json_string_value(json_object_get(k, "crv"));
	unsigned char *x = NULL;
	size_t xl = 0;
	int ret = JWK_SKIP;

	if (crv == NULL || strcmp(crv, "Ed25519") != 0) {
		*why = "OKP key on an unsupported curve";
		goto out;
	}
	x = member_b64(k, "x", &xl);
	if (x == NULL || xl != 32) {
		*why = "Ed25519 key without a 32-byte base64url x";
		goto out;
	}
	out->pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, xl);
	if (out->pkey == NULL) {
		*why = "OpenSSL refused the Ed25519 key";
		goto out;
	}
	out->type = EVP_PKEY_ED25519;
	out->bits = 256;
	ret = JWK_OK;
out:
	free(x);
	return ret;
}

/* Member checks common to every key type.  JWK_OK or JWK_SKIP/PRIVATE with *why. */
static int jwk_members(json_t *k, const struct k8s_jws_alg **alg, const char **why)
{
	json_t *use = json_object_get(k, "use"), *kid = json_object_get(k, "kid");
	json_t *a = json_object_get(k, "alg");
	size_t i;

	for (i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++) {
		if (json_object_get(k, private_members[i]) != NULL) {
			*why = "carries private key material: refused";
			return JWK_PRIVATE;
		}
	}
	*alg = NULL;
	if (!json_is_string(json_object_get(k, "kty")))
		*why = "no kty";
	else if (use != NULL && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0))
		*why = "use is not \"sig\"";
	else if (kid != NULL && !json_is_string(kid))
		*why = "kid is not a string";
	else if (a != NULL && (*alg = k8s_jws_alg_lookup(json_string_value(a))) == NULL)
		*why = "alg is not a supported signature algorithm";
	else
		return JWK_OK;
	return JWK_SKIP;
}

static int jwk_parse_one(json_t *k, struct k8s_jwk *out, const char **why)
{
	const struct k8s_jws_alg *alg = NULL;
	const char *kty;
	int r;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(k)) {
		*why = "not a JSON object";
		return JWK_SKIP;
	}
	r = jwk_members(k, &alg, why);
	if (r != JWK_OK)
		return r;
	kty = json_string_value(json_object_get(k, "kty"));
	if (strcmp(kty, "RSA") == 0)
		r = jwk_rsa(k, out, why);
	else if (strcmp(kty, "EC") == 0)
		r = jwk_ec(k, out, why);
	else if (strcmp(kty, "OKP") == 0)
		r = jwk_okp(k, out, why);
	else {
		*why = "unsupported kty";
		r = JWK_SKIP;
	}
	if (r == JWK_OK) {
		out->kid = k8s_strdup(json_string_value(json_object_get(k, "kid")));
		out->alg = k8s_strdup(json_string_value(json_object_get(k, "alg")));
		out->prep = calloc(K8S_JWS_ALGS, sizeof(*out->prep));
		if ((json_object_get(k, "kid") != NULL && out->kid == NULL) ||
		    (alg != NULL && out->alg == NULL) || out->prep == NULL) {
			*why = "out of memory";
			r = JWK_SKIP;
		} else if (alg != NULL && !k8s_jwk_fits_alg(out, alg)) {
			*why = "alg does not fit the key type or curve";
			r = JWK_SKIP;
		}
	}
	if (r != JWK_OK) {
		jwk_clear(out);
		ERR_clear_error();
	}
	return r;
}

int k8s_jwks_parse(const char *json, size_t len, struct k8s_jwks *out, struct k8s_err *err)
{
	json_error_t jerr;
	json_t *root = NULL, *keys, *k;
	size_t i, cap;
	int ret;

	memset(out, 0, sizeof(*out));
	if (json == NULL || len > JWKS_MAX_LEN) {
		ret = k8s_err_set(err, K8S_UNAVAILABLE, "bad key set",
				  "JWKS is %zu bytes, limit %d", len, JWKS_MAX_LEN);
		goto out;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	keys = json_object_get(root, "keys");
	if (!json_is_object(root) || !json_is_array(keys)) {
		ret = k8s_err_set(err, K8S_UNAVAILABLE, "bad key set",
				  "JWKS is not a JSON object with a \"keys\" array%s%s",
				  root == NULL ? ": " : "", root == NULL ? jerr.text : "");
		goto out;
	}
	cap = json_array_size(keys) < K8S_JWKS_MAX_KEYS ? json_array_size(keys) : K8S_JWKS_MAX_KEYS;
	out->keys = calloc(cap ? cap : 1, sizeof(*out->keys));
	if (out->keys == NULL) {
		ret = k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "parsing JWKS");
		goto out;
	}
	json_array_foreach(keys, i, k) {
		const char *why = "too many keys";
		int r = out->n < cap ? jwk_parse_one(k, &out->keys[out->n], &why) : JWK_SKIP;

		if (r == JWK_OK) {
			out->n++;
			continue;
		}
		if (r == JWK_PRIVATE)
			out->private_keys++;
		note_skip(out, k, why);
	}
	ret = K8S_OK;
out:
	json_decref(root);
	if (ret != K8S_OK)
		k8s_jwks_free(out);
	return ret;
}

void k8s_jwks_free(struct k8s_jwks *jwks)
{
	size_t i;

	if (jwks == NULL)
		return;
	for (i = 0; i < jwks->n; i++)
		jwk_clear(&jwks->keys[i]);
	free(jwks->keys);
	memset(jwks, 0, sizeof(*jwks));
}

size_t k8s_jwks_count_kid(const struct k8s_jwks *jwks, const char *kid)
{
	size_t i, n = 0;

	if (jwks == NULL || kid == NULL)
		return 0;
	for (i = 0; i < jwks->n; i++)
		if (jwks->keys[i].kid != NULL && strcmp(jwks->keys[i].kid, kid) == 0)
			n++;
	return n;
}
