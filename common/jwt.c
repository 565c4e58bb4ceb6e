/* jwt.c: strict compact JWS.  Everything before the signature check is
 * attacker-controlled, so each step refuses rather than repairs: one
 * accepted spelling per token, no header feature we do not implement. */
#include "jwt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64.h"
#include "identity.h"
#include "util.h"
#include "x509lazy.h"

static int is_b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int k8s_looks_like_jwt(const char *token)
{
	size_t i, dots = 0, seg = 0;

	if (token == NULL)
		return 0;
	for (i = 0; token[i] != '\0'; i++) {
		if (i >= K8S_TOKEN_MAX)
			return 0;
		if (token[i] == '.') {
			if (seg == 0 || ++dots > 2)
				return 0;
			seg = 0;
		} else if (is_b64url_char(token[i])) {
			seg++;
		} else {
			return 0;
		}
	}
	return dots == 2 && seg > 0;
}

/* A network-supplied name for an error message (k8s_show_untrusted:
 * printable, short, so it can neither forge log lines nor carry much). */
static const char *printable(const char *in, char *buf, size_t n)
{
	if (in == NULL)
		return "(none)";
	k8s_show_untrusted(in, n - 4, buf, n, 0);
	return buf;
}

/* One number token at in[0..n) that jansson cannot hold: the text to put
 * in its place, else NULL (it fits, or it is no well-formed number and
 * jansson shall refuse it as it is). */
static const char *number_stand_in(const char *in, size_t n, int is_real, char **owned)
{
	char *tok = strndup(in, n), *end = NULL;
	double d;

	*owned = NULL;
	if (tok == NULL)
		return NULL;
	if (!k8s_json_is_number(tok, n))
		goto fits;
	errno = 0;
	if (!is_real) {
		(void)strtoll(tok, &end, 10);
		if (errno != ERANGE || end != tok + n)
			goto fits;
	}
	errno = 0;
	d = strtod(tok, &end);
	if (end != tok + n)
		goto fits;
	if (errno == ERANGE && isinf(d)) {
		free(tok);
		return d < 0 ? "-1.7976931348623157e308" : "1.7976931348623157e308";
	}
	if (is_real)
		goto fits;
	/* an integer beyond 64 bits that a double holds: the same digits as a real */
	*owned = malloc(n + 3);
	if (*owned != NULL) {
		memcpy(*owned, tok, n);
		memcpy(*owned + n, "e0", 3);
	}
	free(tok);
	return *owned;
fits:
	free(tok);
	return NULL;
}

/* jansson refuses a whole document over one number it cannot hold (an
 * integer beyond 64 bits, a real beyond a double's range), where Go's
 * decoder refuses only a claim that is read as a number.  So a copy is
 * parsed in which such a number (outside strings) is an integer turned
 * into the equal real ("e0" appended), or a real beyond range turned into
 * +-DBL_MAX.  It stays a number: every claim we read refuses it exactly
 * as before (a string, boolean or array claim: wrong type; a NumericDate:
 * outside time_t), and a claim nobody reads no longer refuses the token.
 * NULL: nothing to change (or out of memory: parse the original). */
char *k8s_json_tame_numbers(const char *in, size_t len, size_t *out_len)
{
	struct k8s_buf b = { 0 };
	size_t i, start, done = 0;
	int in_str = 0, is_real, changed = 0;
	const char *rep;
	char *owned;

	for (i = 0; i < len; i++) {
		if (in_str) {
			if (in[i] == '\\')
				i++;
			else if (in[i] == '"')
				in_str = 0;
			continue;
		}
		if (in[i] == '"') {
			in_str = 1;
			continue;
		}
		if (in[i] != '-' && (in[i] < '0' || in[i] > '9'))
			continue;
		start = i;
		is_real = 0;
		while (i < len && (in[i] == '-' || in[i] == '+' || in[i] == '.' || in[i] == 'e' ||
				   in[i] == 'E' || (in[i] >= '0' && in[i] <= '9'))) {
			is_real |= in[i] == '.' || in[i] == 'e' || in[i] == 'E';
			i++;
		}
		rep = number_stand_in(in + start, i - start, is_real, &owned);
		if (rep != NULL) {
			if (k8s_buf_append(&b, in + done, start - done) != 0 ||
			    k8s_buf_append(&b, rep, strlen(rep)) != 0) {
				free(owned);
				k8s_buf_free(&b);
				return NULL;
			}
			done = i;
			changed = 1;
		}
		free(owned);
		i--;
	}
	if (!changed || k8s_buf_append(&b, in + done, len - done) != 0) {
		k8s_buf_free(&b);
		return NULL;
	}
	*out_len = b.len;
	return b.data;
}

json_t *k8s_jwt_json_load(const char *text, size_t len, json_error_t *jerr)
{
	size_t tamed_len = 0;
	char *tamed = k8s_json_tame_numbers(text, len, &tamed_len);
	json_t *obj;

	if (tamed == NULL)
		return json_loadb(text, len, JSON_REJECT_DUPLICATES, jerr);
	obj = json_loadb(tamed, tamed_len, JSON_REJECT_DUPLICATES, jerr);
	k8s_freezero(tamed, tamed_len);
	return obj;
}

/* Decode one segment and parse it as a JSON object with unique keys. */
static json_t *segment_object_as(const char *seg, size_t len, const char *what, int lax,
				 struct k8s_err *err)
{
	unsigned char *raw;
	size_t raw_len = 0;
	json_error_t jerr;
	json_t *obj = NULL;

	raw = lax ? k8s_b64url_decode_lax(seg, len, &raw_len) : k8s_b64url_decode(seg, len, &raw_len);
	if (raw == NULL) {
		k8s_err_set(err, K8S_REFUSED, "malformed token",
			    "%s is not canonical unpadded base64url", what);
		return NULL;
	}
	obj = k8s_jwt_json_load((const char *)raw, raw_len, &jerr);
	k8s_freezero(raw, raw_len);
	if (!json_is_object(obj)) {
		/* jerr.text may quote the payload: name only the position. */
		if (obj == NULL)
			k8s_err_set(err, K8S_REFUSED, "malformed token",
				    "%s is not valid JSON with unique keys (column %d)", what, jerr.column);
		else
			k8s_err_set(err, K8S_REFUSED, "malformed token", "%s is not a JSON object", what);
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *segment_object(const char *seg, size_t len, const char *what, struct k8s_err *err)
{
	return segment_object_as(seg, len, what, 0, err);
}

/* An embedded jwk header must be one valid public key (go-jose refuses the
 * token otherwise, although it never verifies with that key).  Validity
 * is go-jose's, not our key policy: use, alg and the RSA size of a key we
 * never use do not matter.  1 valid, 0 not, -1 with *lib_err set when
 * Nettle cannot be loaded (the host's fault, not the token's). */
static int header_jwk_ok(json_t *jwk, struct k8s_err *lib_err)
{
	static const char *const private_members[] = { "d", "p", "q", "dp", "dq", "qi", "oth", "k" };
	json_t *copy, *set = NULL;
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	char *text = NULL;
	unsigned char *n = NULL, *e = NULL;
	size_t i, nl = 0, el = 0;
	struct k8s_jwks keys;
	struct k8s_err err;
	int ok = 0;

	if (!json_is_object(jwk) || kty == NULL)
		return 0;
	for (i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
		if (json_object_get(jwk, private_members[i]) != NULL)
			return 0;
	if (strcmp(kty, "RSA") == 0) {
		const char *ns = json_string_value(json_object_get(jwk, "n"));
		const char *es = json_string_value(json_object_get(jwk, "e"));

		n = ns != NULL ? k8s_b64url_decode(ns, strlen(ns), &nl) : NULL;
		e = es != NULL ? k8s_b64url_decode(es, strlen(es), &el) : NULL;
		ok = n != NULL && e != NULL && nl > 0 && el > 0 && el <= 8;
		free(n);
		free(e);
		return ok;
	}
	copy = json_deep_copy(jwk);
	if (copy != NULL) {
		json_object_del(copy, "use");
		json_object_del(copy, "alg");
		set = json_pack("{s:[o]}", "keys", copy);
	}
	text = set != NULL ? json_dumps(set, JSON_COMPACT) : NULL;
	k8s_err_clear(&err);
	if (text != NULL && k8s_jwks_parse(text, strlen(text), &keys, &err) == K8S_OK) {
		ok = keys.n == 1;
		k8s_jwks_free(&keys);
	} else if (text != NULL && strcmp(err.reason, K8S_REASON_NO_SIGLIB) == 0) {
		*lib_err = err;
		ok = -1;
	}
	free(text);
	json_decref(set);
	return ok;
}

/* An x5c header must be an array of base64 DER certificates (go-jose
 * parses the chain and refuses the token when it cannot).  1 yes, 0 no,
 * -1 libcrypto cannot be loaded. */
static int header_x5c_ok(json_t *x5c)
{
	json_t *v;
	size_t i, der_len;
	unsigned char *der;
	int ok;

	if (!json_is_array(x5c))
		return 0;
	json_array_foreach(x5c, i, v) {
		/* base64.StdEncoding skips CR and LF, not blanks */
		if (!json_is_string(v) || memchr(json_string_value(v), ' ', json_string_length(v)) != NULL ||
		    memchr(json_string_value(v), '\t', json_string_length(v)) != NULL)
			return 0;
		der = k8s_b64_decode(json_string_value(v), json_string_length(v), &der_len);
		ok = der != NULL ? k8s_x509_parses(der, der_len) : 0;
		free(der);
		if (ok != 1)
			return ok;
	}
	return 1;
}

/* RFC 7519 5.1: typ, when present, says "JWT"; media types compare
 * case-insensitively and may carry the "application/" prefix.  A null
 * or empty kid is no kid, as in go-jose; so are a null typ and an empty
 * crit list (no critical extension). */
static int header_ok(struct k8s_jwt *out, struct k8s_err *err)
{
	json_t *alg = json_object_get(out->header, "alg"), *kid = json_object_get(out->header, "kid");
	json_t *typ = json_object_get(out->header, "typ"), *crit = json_object_get(out->header, "crit");
	json_t *nonce = json_object_get(out->header, "nonce"), *jwk = json_object_get(out->header, "jwk");
	json_t *x5c = json_object_get(out->header, "x5c");
	struct k8s_err lib_err;
	int r;

	if (json_is_null(kid) || (json_is_string(kid) && json_string_length(kid) == 0))
		kid = NULL;
	if (json_is_null(typ))
		typ = NULL;
	if (!json_is_string(alg) || json_string_length(alg) == 0)
		return k8s_err_set(err, K8S_REFUSED, "malformed token", "header has no alg string");
	if (kid != NULL && !json_is_string(kid))
		return k8s_err_set(err, K8S_REFUSED, "malformed token", "header kid is not a string");
	if (crit != NULL && !(json_is_array(crit) && json_array_size(crit) == 0))
		return k8s_err_set(err, K8S_REFUSED, "unsupported token",
				   "header has critical extensions (crit), none are supported");
	if (nonce != NULL && !json_is_null(nonce) && !json_is_string(nonce))
		return k8s_err_set(err, K8S_REFUSED, "malformed token", "header nonce is not a string");
	/* A library that cannot be loaded is the host's fault: unavailable,
	 * named, as everywhere else (never "malformed"). */
	if (jwk != NULL && !json_is_null(jwk) && (r = header_jwk_ok(jwk, &lib_err)) != 1)
		return r < 0 ? k8s_err_set(err, lib_err.status, lib_err.reason, "%s", lib_err.detail)
			     : k8s_err_set(err, K8S_REFUSED, "malformed token",
					   "header jwk is not one valid public key");
	if (x5c != NULL && !json_is_null(x5c) && (r = header_x5c_ok(x5c)) != 1)
		return r < 0 ? k8s_err_set(err, K8S_UNAVAILABLE, K8S_REASON_NO_X509LIB,
					   "cannot load %s (Debian package %s)", K8S_LIBCRYPTO_SONAME,
					   K8S_LIBCRYPTO_PACKAGE)
			     : k8s_err_set(err, K8S_REFUSED, "malformed token",
					   "header x5c is not an array of base64 DER certificates");
	if (typ != NULL && (!json_is_string(typ) ||
			    (strcasecmp(json_string_value(typ), "JWT") != 0 &&
			     strcasecmp(json_string_value(typ), "application/jwt") != 0)))
		return k8s_err_set(err, K8S_REFUSED, "unsupported token",
				   "header typ is not \"JWT\" (not an ID token)");
	out->alg = json_string_value(alg);
	out->kid = json_string_value(kid);
	return K8S_OK;
}

/* Split at the dots; refuse anything but three non-empty segments. */
static int split(const char *token, size_t len, size_t *d1, size_t *d2, struct k8s_err *err)
{
	const char *p = token, *end = token + len, *dot;
	size_t dots = 0;

	if (memchr(token, '\0', len) != NULL)
		return k8s_err_set(err, K8S_REFUSED, "malformed token", "token contains a NUL byte");
	while ((dot = memchr(p, '.', (size_t)(end - p))) != NULL) {
		if (dots == 0)
			*d1 = (size_t)(dot - token);
		else if (dots == 1)
			*d2 = (size_t)(dot - token);
		dots++;
		p = dot + 1;
	}
	if (dots == 4)
		return k8s_err_set(err, K8S_REFUSED, "unsupported token",
				   "token has 5 segments: encrypted tokens (JWE) are not accepted");
	if (dots != 2)
		return k8s_err_set(err, K8S_REFUSED, "malformed token",
				   "token has %zu segments, a signed JWT has 3", dots + 1);
	if (*d1 == 0 || *d2 == *d1 + 1 || *d2 + 1 == len)
		return k8s_err_set(err, K8S_REFUSED, "malformed token", "token has an empty segment");
	return K8S_OK;
}

int k8s_jwt_parse(const char *token, size_t len, struct k8s_jwt *out, struct k8s_err *err)
{
	size_t d1 = 0, d2 = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if (token == NULL || len > K8S_TOKEN_MAX) {
		ret = k8s_err_set(err, K8S_REFUSED, "malformed token",
				  "token is %zu bytes, more than the %d accepted", len, K8S_TOKEN_MAX);
		goto out;
	}
	ret = split(token, len, &d1, &d2, err);
	if (ret != K8S_OK)
		goto out;
	ret = K8S_REFUSED;
	out->header = segment_object(token, d1, "header", err);
	if (out->header == NULL || header_ok(out, err) != K8S_OK)
		goto out;
	out->payload = segment_object(token + d1 + 1, d2 - d1 - 1, "payload", err);
	if (out->payload == NULL)
		goto out;
	out->sig = k8s_b64url_decode(token + d2 + 1, len - d2 - 1, &out->sig_len);
	if (out->sig == NULL) {
		k8s_err_set(err, K8S_REFUSED, "malformed token",
			    "signature is not canonical unpadded base64url");
		goto out;
	}
	out->signing_input = malloc(d2 + 1);
	if (out->signing_input == NULL) {
		k8s_err_set(err, K8S_REFUSED, "malformed token", "out of memory");
		goto out;
	}
	memcpy(out->signing_input, token, d2);
	out->signing_input[d2] = '\0';
	out->signing_input_len = d2;
	ret = K8S_OK;
out:
	if (ret != K8S_OK)
		k8s_jwt_free(out);
	return ret;
}

void k8s_jwt_free(struct k8s_jwt *jwt)
{
	if (jwt == NULL)
		return;
	json_decref(jwt->header);
	json_decref(jwt->payload);
	if (jwt->signing_input != NULL)
		k8s_freezero(jwt->signing_input, jwt->signing_input_len + 1);
	if (jwt->sig != NULL)
		k8s_freezero(jwt->sig, jwt->sig_len);
	memset(jwt, 0, sizeof(*jwt));
}

void k8s_token_decode(struct k8s_token *t, const char *token, size_t len)
{
	const char *d1, *d2;
	struct k8s_err scratch;

	memset(t, 0, sizeof(*t));
	k8s_err_clear(&t->perr);
	t->text = token;
	t->len = len;
	if (token == NULL || len > K8S_TOKEN_MAX)
		return;
	t->jws = strnlen(token, len + 1) == len && k8s_looks_like_jwt(token);
	if (t->jws && k8s_jwt_parse(token, len, &t->jwt, &t->perr) == K8S_OK) {
		t->parsed = 1;
		t->header = json_incref(t->jwt.header);
		t->payload = json_incref(t->jwt.payload);
		return;
	}
	d1 = memchr(token, '.', len);
	d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
		return;
	/* read as the apiserver reads it (go-jose: padding and the last
	 * character's unused bits are no obstacle): a legacy token re-spelled
	 * so is still a legacy token to the pre-check */
	t->header = segment_object_as(token, (size_t)(d1 - token), "header", 1, &scratch);
	t->payload = segment_object_as(d1 + 1, (size_t)(d2 - d1 - 1), "payload", 1, &scratch);
}

void k8s_token_free(struct k8s_token *t)
{
	if (t == NULL)
		return;
	json_decref(t->header);
	json_decref(t->payload);
	k8s_jwt_free(&t->jwt);
	memset(t, 0, sizeof(*t));
}

static int verify_with(const struct k8s_jwk *key, const struct k8s_jws_alg *alg,
		       const struct k8s_jwt *jwt, struct k8s_err *err)
{
	size_t want = k8s_jwk_sig_len(key, alg);

	if (jwt->sig_len != want)
		return k8s_err_set(err, K8S_REFUSED, "bad signature",
				   "%s signature is %zu bytes, must be %zu%s", alg->name, jwt->sig_len,
				   want, alg->key_type == K8S_KTY_EC ? " (raw r||s, not DER)" : "");
	if (!k8s_jwk_verify(key, alg, (const uint8_t *)jwt->signing_input, jwt->signing_input_len,
			    jwt->sig, jwt->sig_len))
		return k8s_err_set(err, K8S_REFUSED, "bad signature",
				   "%s signature does not verify with the issuer's key", alg->name);
	return K8S_OK;
}

/* As go-oidc: with a kid, every key of that kid is tried; without one,
 * every key.  The first that fits alg and verifies wins.  A key set may
 * hold several keys of one kid (rotation in progress) or none at all. */
int k8s_jwt_verify(const struct k8s_jwt *jwt, const struct k8s_jwks *keys, struct k8s_err *err)
{
	const struct k8s_jws_alg *alg;
	const struct k8s_jwk *k, *misfit = NULL;
	size_t i, n_kid = 0, n_fit = 0;
	char name[24], kid[48];

	if (jwt == NULL || jwt->alg == NULL || jwt->sig == NULL || jwt->signing_input == NULL)
		return k8s_err_set(err, K8S_REFUSED, "malformed token", "token was not parsed");
	alg = k8s_jws_alg_lookup(jwt->alg);
	/* The apiserver's JWT authenticator has never accepted EdDSA. */
	if (alg == NULL || alg->key_type == K8S_KTY_ED25519)
		return k8s_err_set(err, K8S_REFUSED, "unsupported algorithm",
				   "alg \"%s\" is not accepted (RS/PS/ES 256/384/512 are, as by the kube-apiserver)",
				   printable(jwt->alg, name, sizeof(name)));
	printable(jwt->kid, kid, sizeof(kid));
	for (i = 0; keys != NULL && i < keys->n; i++) {
		k = &keys->keys[i];
		if (jwt->kid != NULL && (k->kid == NULL || strcmp(k->kid, jwt->kid) != 0))
			continue;
		n_kid++;
		if (!k8s_jwk_fits_alg(k, alg)) {
			misfit = k;
			continue;
		}
		n_fit++;
		if (verify_with(k, alg, jwt, err) == K8S_OK) {
			k8s_err_clear(err);
			return K8S_OK;
		}
	}
	if (n_kid == 0 && jwt->kid != NULL)
		return k8s_err_set(err, K8S_REFUSED, K8S_REASON_UNKNOWN_KEY,
				   "no key with kid \"%s\" in the issuer's key set", kid);
	if (n_fit == 0 && jwt->kid == NULL)
		return k8s_err_set(err, K8S_REFUSED, K8S_REASON_UNKNOWN_KEY,
				   "token has no kid and no key in the issuer's key set fits %s", alg->name);
	if (n_fit == 0)
		return k8s_err_set(err, K8S_REFUSED, "algorithm mismatch",
				   "alg %s does not fit key \"%s\" (%s%s%s)", alg->name, kid,
				   k8s_jwk_type_name(misfit), misfit->alg ? ", alg " : "",
				   misfit->alg ? misfit->alg : "");
	if (n_fit > 1)
		return k8s_err_set(err, K8S_REFUSED, "bad signature",
				   "%s signature verifies with none of the %zu keys that fit", alg->name, n_fit);
	return K8S_REFUSED; /* err says why the one key did not verify */
}
