/* libFuzzer target: the JWT path from untrusted bytes to an identity.
 *
 * Input: TOKEN [ '\0' JWKS ].  The token goes through k8s_token_decode
 * (the one reading validate.c hands on: k8s_looks_like_jwt, k8s_jwt_parse,
 * and the loose header/payload decoding the pre-check reads), and through
 * k8s_jwt_parse alone when it is no JWS; with a JWKS part, the key set is parsed and the token
 * verified against it, and the claim checks run with a fixed authenticator
 * whatever the signature said (so the fuzzer reaches them without forging
 * signatures).  The whole input also goes through both base64 decoders,
 * and through k8s_json_tame_numbers: a document jansson parses as it is
 * must come back unchanged (NULL), and a tamed one must need no more
 * taming.  The parsed token also goes through the service-account
 * authenticator's claim checks (issuer https://sa.test): an identity they
 * accept is system:serviceaccount:NS:NAME with the SA's uid, its two
 * groups, and nothing else in the username. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "jwks.h"
#include "jwt.h"
#include "oidc.h"
#include "serviceaccount.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *auds[] = { "host-login", "a2" };
static struct k8s_claim_rule rule = { .claim = "hd", .required_value = "example.com" };

static const struct k8s_jwt_authenticator auth = {
	.issuer_url = "https://issuer.test",
	.audiences = { .v = auds, .n = 2 },
	.audience_match_policy = "MatchAny",
	.rules = &rule,
	.n_rules = 1,
	.username = { .claim = "email", .prefix = "" },
	.groups = { .claim = "groups", .prefix = "oidc:" },
	.uid = { .claim = "sub" },
};

static const char sa_config[] =
	"serviceAccounts:\n  issuer: https://sa.test\n  audiences: [host-login, a2]\n";

static void fuzz_sa(const struct k8s_jwt *jwt)
{
	static struct k8s_config *cfg;
	struct k8s_identity id;
	struct k8s_err err;
	const char *u;

	if (cfg == NULL && k8s_config_parse(sa_config, sizeof(sa_config) - 1, "fuzz", &cfg, &err) != K8S_OK)
		abort();
	if (k8s_sa_check_claims(cfg, jwt, 1700000000, &id, &err) == K8S_OK) {
		u = id.username;
		/* NS and NAME are DNS names: exactly three colons */
		if (u == NULL || strncmp(u, "system:serviceaccount:", 22) != 0 ||
		    strchr(u + 22, ':') == NULL || strchr(strchr(u + 22, ':') + 1, ':') != NULL ||
		    id.uid == NULL || id.uid[0] == '\0' || id.n_groups != 2 ||
		    strcmp(id.groups[0], "system:serviceaccounts") != 0)
			abort();
	}
	k8s_identity_free(&id);
}

static void fuzz_b64(const uint8_t *data, size_t size)
{
	unsigned char *d, *lax;
	size_t n, nl = 0;

	d = k8s_b64url_decode((const char *)data, size, &n);
	lax = k8s_b64url_decode_lax((const char *)data, size, &nl);
	if (d != NULL) {
		char *e = k8s_b64url_encode(d, n);

		/* Canonical decoding means encoding gives the input back. */
		if (e == NULL || strlen(e) != size || memcmp(e, data, size) != 0)
			abort();
		free(e);
		/* the lax reading (go-jose's) takes every canonical spelling alike */
		if (lax == NULL || nl != n || memcmp(lax, d, n) != 0)
			abort();
	}
	if (lax != NULL) {
		char *e = k8s_b64url_encode(lax, nl);
		unsigned char *again;
		size_t na = 0;

		/* its re-encoding is the one canonical spelling of the same bytes */
		again = e != NULL ? k8s_b64url_decode(e, strlen(e), &na) : NULL;
		if (again == NULL || na != nl || memcmp(again, lax, nl) != 0)
			abort();
		free(again);
		free(e);
	}
	free(lax);
	free(d);
	free(k8s_b64_decode((const char *)data, size, &n));
}

static void fuzz_tame(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	size_t n = 0, n2 = 0;
	char *out = k8s_json_tame_numbers((const char *)data, size, &n), *again;

	if (doc != NULL && out != NULL)
		abort();
	json_decref(doc);
	if (out != NULL) {
		again = k8s_json_tame_numbers(out, n, &n2);
		if (again != NULL)
			abort();
		free(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_token t;
	struct k8s_jwt jwt;
	struct k8s_jwks keys;
	struct k8s_identity id;
	struct k8s_err err;
	const uint8_t *sep;
	size_t tok_len;
	char *buf;

	fuzz_b64(data, size);
	fuzz_tame(data, size);
	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	sep = memchr(data, '\0', size);
	tok_len = sep != NULL ? (size_t)(sep - data) : size;
	k8s_token_decode(&t, buf, tok_len);
	/* parsed only as a JWS; then header and payload are the parse's */
	if ((t.parsed && (!t.jws || t.header != t.jwt.header || t.payload != t.jwt.payload)) ||
	    (t.header != NULL && !json_is_object(t.header)) ||
	    (t.payload != NULL && !json_is_object(t.payload)) ||
	    (t.jws && !t.parsed && t.perr.status != K8S_REFUSED))
		abort();
	if (!t.jws) {
		(void)k8s_jwt_parse(buf, tok_len, &jwt, &err);
		k8s_jwt_free(&jwt);
	}
	if (t.parsed && sep != NULL) {
		if (k8s_jwks_parse(buf + tok_len + 1, size - tok_len - 1, &keys, &err) == K8S_OK) {
			(void)k8s_jwt_verify(&t.jwt, &keys, &err);
			k8s_jwks_free(&keys);
		}
		if (k8s_oidc_check_claims(&auth, &t.jwt, 1700000000, &id, &err) == K8S_OK &&
		    (id.username == NULL || id.username[0] == '\0'))
			abort();
		k8s_identity_free(&id);
	}
	if (t.parsed)
		fuzz_sa(&t.jwt);
	k8s_token_free(&t);
	free(buf);
	return 0;
}
