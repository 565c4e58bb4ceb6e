/* jwks.c: JWKS -> public keys, and the signature check with them.
 *
 * The keys and the check are Nettle's (libnettle, libhogweed, with GMP),
 * not OpenSSL's: the check runs in k8s-auth-helper, a fresh process per
 * PAM call, and OpenSSL 3.0's first signature check in a process builds
 * its provider and name tables (about 0.7 ms of a login, measured in
 * bench/b_pam.sh), while Nettle's is plain arithmetic; libcrypto's load
 * alone (0.55 ms a process) outweighs Nettle's three libraries (0.23 ms).
 * Nettle is GnuTLS's crypto, on every Debian system (apt needs it);
 * it is loaded by the first key set parsed (nettle_lazy.h says why).
 * Keys are only appended to the set once complete. */
#include "jwks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "b64.h"
#define K8S_NETTLE_CALLS /* Nettle's names call through the table */
#include "nettle_lazy.h"
#include "util.h"

#define JWKS_MAX_LEN (1024 * 1024)

static const struct k8s_jws_alg jws_algs[] = {
	{ "RS256", K8S_KTY_RSA, 0, K8S_CRV_NONE, K8S_HASH_SHA256, 0 },
	{ "RS384", K8S_KTY_RSA, 0, K8S_CRV_NONE, K8S_HASH_SHA384, 0 },
	{ "RS512", K8S_KTY_RSA, 0, K8S_CRV_NONE, K8S_HASH_SHA512, 0 },
	{ "PS256", K8S_KTY_RSA, 1, K8S_CRV_NONE, K8S_HASH_SHA256, 0 },
	{ "PS384", K8S_KTY_RSA, 1, K8S_CRV_NONE, K8S_HASH_SHA384, 0 },
	{ "PS512", K8S_KTY_RSA, 1, K8S_CRV_NONE, K8S_HASH_SHA512, 0 },
	{ "ES256", K8S_KTY_EC, 0, K8S_CRV_P256, K8S_HASH_SHA256, 32 },
	{ "ES384", K8S_KTY_EC, 0, K8S_CRV_P384, K8S_HASH_SHA384, 48 },
	{ "ES512", K8S_KTY_EC, 0, K8S_CRV_P521, K8S_HASH_SHA512, 66 },
	{ "EdDSA", K8S_KTY_ED25519, 0, K8S_CRV_NONE, K8S_HASH_NONE, 0 },
};

_Static_assert(sizeof(jws_algs) / sizeof(jws_algs[0]) == K8S_JWS_ALGS, "K8S_JWS_ALGS");

static const struct {
	const char *crv;     /* JWK spelling */
	int id;              /* enum k8s_crv */
	size_t len;          /* bytes of x and of y */
	int bits;
} ec_curves[] = {
	{ "P-256", K8S_CRV_P256, 32, 256 },
	{ "P-384", K8S_CRV_P384, 48, 384 },
	{ "P-521", K8S_CRV_P521, 66, 521 },
};

static const struct ecc_curve *ec_curve(int id)
{
	return id == K8S_CRV_P256 ? nettle_get_secp_256r1()
	       : id == K8S_CRV_P384 ? nettle_get_secp_384r1() : nettle_get_secp_521r1();
}

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
	if (key == NULL || alg == NULL || key->type == 0 || key->type != alg->key_type)
		return 0;
	if (alg->key_type == K8S_KTY_EC && key->curve != alg->curve)
		return 0;
	if (alg->key_type == K8S_KTY_RSA && key->bits < K8S_RSA_MIN_BITS)
		return 0;
	if (key->alg != NULL && strcmp(key->alg, alg->name) != 0)
		return 0;
	return 1;
}

const char *k8s_jwk_type_name(const struct k8s_jwk *key)
{
	size_t c;

	if (key == NULL)
		return "unknown";
	if (key->type == K8S_KTY_RSA)
		return "RSA";
	if (key->type == K8S_KTY_ED25519)
		return "Ed25519";
	for (c = 0; key->type == K8S_KTY_EC && c < sizeof(ec_curves) / sizeof(ec_curves[0]); c++)
		if (ec_curves[c].id == key->curve)
			return ec_curves[c].crv;
	return "unknown";
}

size_t k8s_jwk_sig_len(const struct k8s_jwk *key, const struct k8s_jws_alg *alg)
{
	if (alg->key_type == K8S_KTY_EC)
		return 2 * alg->coord_len;
	if (alg->key_type == K8S_KTY_ED25519)
		return 64;
	return key->rsa_init ? key->rsa.size : 0;
}

static void jwk_clear(struct k8s_jwk *k)
{
	if (k->rsa_init)
		rsa_public_key_clear(&k->rsa);
	if (k->ec_init)
		ecc_point_clear(&k->ec);
	free(k->kid);
	free(k->alg);
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

static int jwk_rsa(json_t *k, struct k8s_jwk *out, const char **why)
{
	unsigned char *n = NULL, *e = NULL;
	size_t nl = 0, el = 0, ebits;
	int ret = JWK_SKIP;

	n = member_b64(k, "n", &nl);
	e = member_b64(k, "e", &el);
	if (n == NULL || e == NULL || nl == 0 || el == 0) {
		*why = "RSA key without canonical base64url n and e";
		goto out;
	}
	rsa_public_key_init(&out->rsa);
	out->rsa_init = 1;
	nettle_mpz_set_str_256_u(out->rsa.n, nl, n);
	nettle_mpz_set_str_256_u(out->rsa.e, el, e);
	out->bits = mpz_sgn(out->rsa.n) > 0 ? (int)mpz_sizeinbase(out->rsa.n, 2) : 0;
	if (out->bits < K8S_RSA_MIN_BITS || out->bits > K8S_RSA_MAX_BITS || !mpz_odd_p(out->rsa.n)) {
		*why = out->bits < K8S_RSA_MIN_BITS ? "RSA key shorter than 2048 bits"
						    : "RSA modulus out of range";
		goto out;
	}
	ebits = mpz_sgn(out->rsa.e) > 0 ? mpz_sizeinbase(out->rsa.e, 2) : 0;
	if (!mpz_odd_p(out->rsa.e) || ebits < 2 || ebits > 32) {
		*why = "RSA public exponent out of range";
		goto out;
	}
	if (!rsa_public_key_prepare(&out->rsa)) {
		*why = "RSA modulus out of range";
		goto out;
	}
	out->type = K8S_KTY_RSA;
	ret = JWK_OK;
out:
	free(n);
	free(e);
	return ret;
}

/* ecc_point_set refuses a point that is not on the curve (and
 * coordinates outside the field).  That is the whole public-key check for
 * P-256, P-384 and P-521: their cofactor is 1, so every point on the
 * curve but infinity (which has no affine x, y) has the group's order. */
static int jwk_ec(json_t *k, struct k8s_jwk *out, const char **why)
{
	const char *crv = json_string_value(json_object_get(k, "crv"));
	unsigned char *x = NULL, *y = NULL;
	size_t xl = 0, yl = 0, c;
	mpz_t mx, my;
	int ret = JWK_SKIP, on;

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
	ecc_point_init(&out->ec, ec_curve(ec_curves[c].id));
	out->ec_init = 1;
	nettle_mpz_init_set_str_256_u(mx, xl, x);
	nettle_mpz_init_set_str_256_u(my, yl, y);
	on = ecc_point_set(&out->ec, mx, my);
	mpz_clear(mx);
	mpz_clear(my);
	if (!on) {
		*why = "EC point is not on the curve";
		goto out;
	}
	out->type = K8S_KTY_EC;
	out->curve = ec_curves[c].id;
	out->bits = ec_curves[c].bits;
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
	memcpy(out->ed25519, x, 32);
	out->type = K8S_KTY_ED25519;
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
		if ((json_object_get(k, "kid") != NULL && out->kid == NULL) ||
		    (alg != NULL && out->alg == NULL)) {
			*why = "out of memory";
			r = JWK_SKIP;
		} else if (alg != NULL && !k8s_jwk_fits_alg(out, alg)) {
			*why = "alg does not fit the key type or curve";
			r = JWK_SKIP;
		}
	}
	if (r != JWK_OK)
		jwk_clear(out);
	return r;
}

int k8s_jwks_parse(const char *json, size_t len, struct k8s_jwks *out, struct k8s_err *err)
{
	json_error_t jerr;
	json_t *root = NULL, *keys, *k;
	size_t i, cap;
	int ret;

	memset(out, 0, sizeof(*out));
	if (k8s_nettle_load() != 0) {
		ret = k8s_err_set(err, K8S_UNAVAILABLE, K8S_REASON_NO_SIGLIB,
				  "cannot load %s (Debian package %s)", K8S_NETTLE_SONAME,
				  K8S_NETTLE_PACKAGE);
		goto out;
	}
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

/* ---- the signature check ---- */

static const struct nettle_hash *hash_meta(int hash)
{
	switch (hash) {
	case K8S_HASH_SHA256: return k8s_nettle_fn.sha256;
	case K8S_HASH_SHA384: return k8s_nettle_fn.sha384;
	case K8S_HASH_SHA512: return k8s_nettle_fn.sha512;
	default: return NULL;
	}
}

/* The DER DigestInfo before the digest in EMSA-PKCS1-v1_5 (RFC 8017
 * 9.2, note 1): the only encoding Go's rsa.VerifyPKCS1v15 accepts, with
 * the NULL parameters. */
static const uint8_t di_sha256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				     0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
static const uint8_t di_sha384[] = { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				     0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 };
static const uint8_t di_sha512[] = { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
				     0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 };

static int rsa_pkcs1(const struct k8s_jwk *key, int hash, const uint8_t *dg, size_t dlen,
		     const mpz_t s)
{
	const uint8_t *pre = hash == K8S_HASH_SHA256 ? di_sha256
			     : hash == K8S_HASH_SHA384 ? di_sha384 : di_sha512;
	uint8_t info[sizeof(di_sha512) + K8S_JWS_MAX_DIGEST];

	memcpy(info, pre, sizeof(di_sha256));
	memcpy(info + sizeof(di_sha256), dg, dlen);
	return rsa_pkcs1_verify(&key->rsa, sizeof(di_sha256) + dlen, info, s);
}

/* RSASSA-PSS with MGF1 of the same hash.  RFC 7518 has signers use a
 * salt as long as the hash, tried first; go-jose verifies any salt length
 * (Go's PSSSaltLengthAuto), and so does this: the encoded message is
 * recovered once (s^e mod n, with s in [1, n-1]) and checked for each
 * length that fits.  At most one length can match (the 0x01 separator
 * has one place), so this accepts exactly what the auto-detection does. */
static int rsa_pss(const struct k8s_jwk *key, int hash, const uint8_t *dg, const mpz_t s)
{
	const struct nettle_hash *h = hash_meta(hash);
	size_t bits, em_len, salt;
	mpz_t m;
	int ok;

	ok = hash == K8S_HASH_SHA256 ? rsa_pss_sha256_verify_digest(&key->rsa, 32, dg, s)
	     : hash == K8S_HASH_SHA384 ? rsa_pss_sha384_verify_digest(&key->rsa, 48, dg, s)
	     : rsa_pss_sha512_verify_digest(&key->rsa, 64, dg, s);
	if (ok || h == NULL || mpz_sgn(s) <= 0 || mpz_cmp(s, key->rsa.n) >= 0)
		return ok;
	bits = mpz_sizeinbase(key->rsa.n, 2) - 1;
	em_len = (bits + 7) / 8;
	mpz_init(m);
	mpz_powm(m, s, key->rsa.e, key->rsa.n);
	for (salt = 0; !ok && salt + h->digest_size + 2 <= em_len; salt++)
		if (salt != h->digest_size)
			ok = pss_verify_mgf1(m, bits, h, salt, dg);
	mpz_clear(m);
	return ok;
}

int k8s_jwk_verify(const struct k8s_jwk *key, const struct k8s_jws_alg *alg, const uint8_t *msg,
		   size_t msg_len, const uint8_t *sig, size_t sig_len)
{
	union {
		struct sha256_ctx sha256;
		struct sha512_ctx sha512; /* SHA-384's too */
	} ctx;
	const struct nettle_hash *h;
	uint8_t dg[K8S_JWS_MAX_DIGEST];
	int ok = 0;

	if (key == NULL || alg == NULL || !k8s_jwk_fits_alg(key, alg) ||
	    (h = hash_meta(alg->hash)) == NULL || h->digest_size > sizeof(dg) ||
	    h->context_size > sizeof(ctx) || sig_len != k8s_jwk_sig_len(key, alg) || sig_len == 0)
		return 0;
	h->init(&ctx);
	h->update(&ctx, msg_len, msg);
	h->digest(&ctx, h->digest_size, dg);
	if (alg->key_type == K8S_KTY_RSA) {
		mpz_t s;

		nettle_mpz_init_set_str_256_u(s, sig_len, sig);
		ok = alg->pss ? rsa_pss(key, alg->hash, dg, s)
			      : rsa_pkcs1(key, alg->hash, dg, h->digest_size, s);
		mpz_clear(s);
	} else if (alg->key_type == K8S_KTY_EC) {
		struct dsa_signature ds;

		dsa_signature_init(&ds);
		nettle_mpz_set_str_256_u(ds.r, alg->coord_len, sig);
		nettle_mpz_set_str_256_u(ds.s, alg->coord_len, sig + alg->coord_len);
		/* r and s outside [1, q-1] do not verify */
		ok = ecdsa_verify(&key->ec, h->digest_size, dg, &ds);
		dsa_signature_clear(&ds);
	}
	return ok == 1;
}
