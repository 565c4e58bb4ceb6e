/* config.c: /etc/k8s-auth/config.yaml -> struct k8s_config.
 *
 * Every key is known or refused: a typo such as `alowRoot` must not
 * silently fall back to a default.  Errors name the file, the key path
 * (e.g. accounts.users[1].local) and what is wrong.
 *
 * Beyond SPEC.md this file accepts (documented in docs/ and the man page):
 *   cacheDir: /var/cache/k8s-auth     discovery/JWKS and review caches
 *   runDir: /run/k8s-auth             per-session state
 *   tokenReview.allowInsecureSkipTLSVerify: false
 *       a kubeconfig with insecure-skip-tls-verify is refused unless true
 *   tokenReview.allowEmptyAudiences: false
 *       without audiences the apiserver checks only its own, so any token
 *       it minted (a kubectl token for anything) would open the host
 *   jwtOptions: {timeout: 5s, maxStaleness: 24h}
 *       discovery/JWKS fetch timeout; how long cached keys serve an issuer
 *       that cannot be reached
 *   login.subjectAccessReview, login.sudoSubjectAccessReview:
 *       {verb, resource, group, name, namespace}: ask the apiserver after
 *       the token validated (at login / at sudo re-validation)
 *   sync: {namespaces, serviceAccounts, clusterRoles, rules, timeout}
 *       `k8s-auth sync` from the cluster's RBAC (docs/sync.md)
 * policy.allowClusterAudiences (SPEC.md): audiences the cluster accepts for
 * itself (its in-cluster names, its apiserver URL, the configured issuers'
 * URLs) are refused in tokenReview.audiences and jwt[].issuer.audiences
 * unless it is true, and then every use warns (cluster_audiences below).
 * Semantics where SPEC.md is silent:
 *   - an empty file, and a section written with no value (`policy:`),
 *     mean "all defaults";
 *   - policy defaults apply whether or not a policy section exists, and a
 *     configured denyUsernames list REPLACES the default list (write the
 *     defaults out if you extend it);
 *   - uidRange/gidRange: [min, max], 1000 <= min <= max <= 4294967294,
 *     not containing 65534/65535 (nobody/nogroup and the 16-bit -1);
 *   - accounts.declared entries are names or {name, uid}; a pinned uid
 *     must lie inside uidRange; names and pinned uids must be unique;
 *   - a literal `local` (no \1..\9) must itself be a valid local name, in
 *     accounts.users and accounts.groups alike;
 *   - `lowercase: true` on a rule lowercases (ASCII A-Z only) the text
 *     \1..\9 insert; only on a rule that has them (refused on a literal);
 *   - `match` patterns: at most 1024 characters, groups nested at most 16
 *     deep, one repetition operator per atom, bounds <= 255, no
 *     back-references, and a bounded expansion (see regex_problem);
 *   - paths (store, cacheDir, runDir, tokenReview.kubeconfig, home, shell)
 *     must be absolute; home and shell must not contain ':' or control
 *     characters (they end up in passwd entries);
 *   - resource attributes (SubjectAccessReview, sync.rules): verb and
 *     resource required, group defaults to "", resource without '/', name
 *     a template of %h, %u (SubjectAccessReview only) and %%, namespace
 *     (SubjectAccessReview only) a DNS label;
 *   - jwt: the apiserver's validation of each authenticator (see "The
 *     apiserver's validation" below), CEL expressions compiled at load;
 *   - authenticationConfiguration {file, audiences}: not together with jwt;
 *     the file (v1, v1beta1 or v1alpha1) must be owned by root and not
 *     group/other-writable, like this one; sections other than jwt are
 *     noted (cfg->authn_notes) and ignored; audiences are required and
 *     replace every authenticator's, with audienceMatchPolicy MatchAny;
 *   - serviceAccounts {issuer, discoveryURL, certificateAuthority,
 *     audiences}: https URLs, audiences required (any one must be in the
 *     token's aud), checked against the cluster's like every audience
 *     (the service-account issuer is one of them); the issuer may not be a
 *     jwt issuer too, as the apiserver refuses its service-account issuer
 *     as a JWT authenticator's;
 *   - sync: namespaces are DNS labels, listed once; serviceAccounts needs
 *     namespaces; a sync that can grant nobody (no serviceAccounts,
 *     clusterRoles or rules) is refused; timeout is per request, default
 *     10s. */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cel.h"
#include "kubeconfig.h"
#include "mapping.h"
#include "pem.h"
#include "util.h"
#include "yamljson.h"

#define CONFIG_MAX_BYTES (1u << 20)
#define PATHSZ 160

struct cctx {
	const char *file;
	struct k8s_err *err;
};

static int cfail(struct cctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cfail(struct cctx *c, const char *path, const char *fmt, ...)
{
	char msg[448];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return k8s_err_set(c->err, K8S_ECONFIG, "configuration error", "%s: %s: %s",
			   c->file, path[0] ? path : "(top level)", msg);
}

static int enomem(struct cctx *c, const char *path)
{
	return cfail(c, path, "out of memory");
}

/* Key paths are for messages only: truncation is harmless. */
static const char *join(char out[PATHSZ], const char *base, const char *key)
{
	if (snprintf(out, PATHSZ, "%s%s%s", base, base[0] ? "." : "", key) >= PATHSZ)
		out[PATHSZ - 1] = '\0';
	return out;
}

static const char *idx(char out[PATHSZ], const char *base, size_t i)
{
	if (snprintf(out, PATHSZ, "%s[%zu]", base, i) >= PATHSZ)
		out[PATHSZ - 1] = '\0';
	return out;
}

static int in_list(const char *s, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* obj may be json null (a section written without a value). */
static int check_keys(struct cctx *c, json_t *obj, const char *base,
		      const char *const *known, const char *const *unsupported)
{
	char p[PATHSZ];
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		if (in_list(key, unsupported)) /* known to the apiserver, not supported here */
			return cfail(c, join(p, base, key), "not supported");
		if (!in_list(key, known))
			return cfail(c, join(p, base, key), "unknown key");
	}
	return 0;
}

static int want_object(struct cctx *c, json_t *v, const char *path, int null_ok)
{
	if (json_is_object(v) || (null_ok && json_is_null(v)))
		return 0;
	return cfail(c, path, "expected a mapping");
}

static int get_str(struct cctx *c, json_t *obj, const char *key, const char *base,
		   int nonempty, char **out)
{
	json_t *v = json_object_get(obj, key);
	char p[PATHSZ];
	char *s;

	if (v == NULL)
		return 0;
	join(p, base, key);
	if (!json_is_string(v))
		return cfail(c, p, "expected a string");
	if (nonempty && json_string_length(v) == 0)
		return cfail(c, p, "must not be empty");
	s = strdup(json_string_value(v));
	if (s == NULL)
		return enomem(c, p);
	free(*out);
	*out = s;
	return 0;
}

static int get_bool(struct cctx *c, json_t *obj, const char *key, const char *base, int *out)
{
	json_t *v = json_object_get(obj, key);
	char p[PATHSZ];

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return cfail(c, join(p, base, key), "expected true or false");
	*out = json_is_true(v);
	return 0;
}

/* Go-style string ("90s", "5m", "1h30m") or the number 0. */
static int get_duration(struct cctx *c, json_t *obj, const char *key, const char *base,
			int positive, int64_t *out)
{
	json_t *v = json_object_get(obj, key);
	char p[PATHSZ];
	int64_t ms;

	if (v == NULL)
		return 0;
	join(p, base, key);
	if (json_is_integer(v) && json_integer_value(v) == 0)
		ms = 0;
	else if (!json_is_string(v) || k8s_parse_duration_ms(json_string_value(v), &ms) != 0)
		return cfail(c, p, "expected a duration such as \"90s\", \"5m\" or \"24h\"");
	if (positive && ms <= 0)
		return cfail(c, p, "must be longer than 0");
	*out = ms;
	return 0;
}

static int path_ok(const char *s, int passwd_field)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || (passwd_field && *s == ':'))
			return 0;
	return 1;
}

static int get_path(struct cctx *c, json_t *obj, const char *key, const char *base,
		    int passwd_field, char **out)
{
	char p[PATHSZ];
	int r = get_str(c, obj, key, base, 1, out);

	if (r != 0 || json_object_get(obj, key) == NULL)
		return r;
	join(p, base, key);
	if ((*out)[0] != '/')
		return cfail(c, p, "must be an absolute path");
	if (!path_ok(*out, passwd_field))
		return cfail(c, p, passwd_field ? "must not contain ':' or control characters"
				      : "must not contain control characters");
	return 0;
}

static int strv_set(struct k8s_strv *sv, const char *const *vals, size_t n)
{
	size_t i;

	k8s_strv_free(sv);
	if (n == 0)
		return 0;
	sv->v = calloc(n, sizeof(*sv->v));
	if (sv->v == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		sv->v[i] = strdup(vals[i]);
		if (sv->v[i] == NULL)
			return -1;
		sv->n++;
	}
	return 0;
}

static int strv_add(struct k8s_strv *sv, const char *s)
{
	char **nv = realloc(sv->v, (sv->n + 1) * sizeof(*nv));

	if (nv == NULL)
		return -1;
	sv->v = nv;
	if ((sv->v[sv->n] = strdup(s)) == NULL)
		return -1;
	sv->n++;
	return 0;
}

/* A list of non-empty strings, %h-expanded when asked; replaces *out. */
static int get_strv(struct cctx *c, json_t *obj, const char *key, const char *base,
		    int expand_host, struct k8s_strv *out)
{
	json_t *arr = json_object_get(obj, key), *v;
	char p[PATHSZ], ip[PATHSZ];
	size_t i;

	if (arr == NULL)
		return 0;
	join(p, base, key);
	if (!json_is_array(arr))
		return cfail(c, p, "expected a list of strings");
	k8s_strv_free(out);
	if (json_array_size(arr) == 0)
		return 0;
	out->v = calloc(json_array_size(arr), sizeof(*out->v));
	if (out->v == NULL)
		return enomem(c, p);
	json_array_foreach(arr, i, v) {
		char *s;

		idx(ip, p, i);
		if (!json_is_string(v))
			return cfail(c, ip, "expected a string");
		if (json_string_length(v) == 0)
			return cfail(c, ip, "must not be empty");
		s = expand_host ? k8s_expand_host(json_string_value(v)) : strdup(json_string_value(v));
		if (s == NULL)
			return cfail(c, ip, expand_host ? "cannot expand %%h (host name)" : "out of memory");
		out->v[out->n++] = s;
		if (s[0] == '\0')
			return cfail(c, ip, "must not be empty");
	}
	return 0;
}

static int strv_has_dup(const struct k8s_strv *sv, size_t *dup)
{
	size_t i, j;

	for (i = 0; i < sv->n; i++)
		for (j = 0; j < i; j++)
			if (strcmp(sv->v[i], sv->v[j]) == 0) {
				*dup = i;
				return 1;
			}
	return 0;
}


/* ------------------------------------------------------------ tokenReview */

static int parse_tokenreview(struct cctx *c, json_t *o, struct k8s_config *cfg)
{
	static const char *const known[] = {"kubeconfig", "audiences", "timeout", "cacheTTL",
		"allowInsecureSkipTLSVerify", "allowEmptyAudiences", NULL};
	const char *b = "tokenReview";
	char p[PATHSZ];

	if (want_object(c, o, b, 1) || check_keys(c, o, b, known, NULL) ||
	    get_path(c, o, "kubeconfig", b, 0, &cfg->tokenreview.kubeconfig) ||
	    get_strv(c, o, "audiences", b, 1, &cfg->tokenreview.audiences) ||
	    get_duration(c, o, "timeout", b, 1, &cfg->tokenreview.timeout_ms) ||
	    get_duration(c, o, "cacheTTL", b, 0, &cfg->tokenreview.cache_ttl_ms) ||
	    get_bool(c, o, "allowInsecureSkipTLSVerify", b, &cfg->tokenreview.allow_insecure) ||
	    get_bool(c, o, "allowEmptyAudiences", b, &cfg->tokenreview.allow_empty_audiences))
		return K8S_ECONFIG;
	/* Without spec.audiences the apiserver checks the token against its
	 * own audiences, so a token minted for the cluster API would open the
	 * host: fail closed unless the administrator says so in words. */
	if (cfg->tokenreview.audiences.n == 0 && !cfg->tokenreview.allow_empty_audiences)
		return cfail(c, join(p, b, "audiences"),
			     "must list at least one audience such as \"host-login:%%h\" "
			     "(or set allowEmptyAudiences: true to accept any token the apiserver "
			     "accepts for itself)");
	cfg->has_tokenreview = 1;
	return 0;
}

/* -------------------------------------------------------------------- jwt */

static int get_url(struct cctx *c, json_t *o, const char *key, const char *base, char **out)
{
	const char *problem;
	char p[PATHSZ];

	if (get_str(c, o, key, base, 1, out) != 0)
		return K8S_ECONFIG;
	if (*out != NULL && (problem = k8s_https_url_problem(*out)) != NULL)
		return cfail(c, join(p, base, key), "%s", problem);
	return 0;
}

static size_t url_trimmed_len(const char *u)
{
	size_t n = strlen(u);

	while (n > 0 && u[n - 1] == '/')
		n--;
	return n;
}

static int get_opt(struct cctx *c, json_t *o, const char *key, const char *b, char **out);

static int parse_issuer(struct cctx *c, json_t *o, const char *b, struct k8s_jwt_authenticator *a)
{
	static const char *const known[] = {"url", "discoveryURL", "audiences",
		"audienceMatchPolicy", "certificateAuthority", "egressSelectorType", NULL};
	char p[PATHSZ], ap[PATHSZ];
	size_t dup;

	if (want_object(c, o, b, 0) || check_keys(c, o, b, known, NULL) ||
	    get_url(c, o, "url", b, &a->issuer_url) ||
	    get_url(c, o, "discoveryURL", b, &a->discovery_url) ||
	    get_strv(c, o, "audiences", b, 1, &a->audiences) ||
	    get_str(c, o, "audienceMatchPolicy", b, 0, &a->audience_match_policy) ||
	    get_str(c, o, "certificateAuthority", b, 1, &a->ca_pem) ||
	    get_opt(c, o, "egressSelectorType", b, &a->egress_selector_type))
		return K8S_ECONFIG;
	if (a->egress_selector_type != NULL && strcmp(a->egress_selector_type, "controlplane") != 0 &&
	    strcmp(a->egress_selector_type, "cluster") != 0)
		return cfail(c, join(p, b, "egressSelectorType"),
			     "egress selector must be either controlplane or cluster");
	if (a->issuer_url == NULL)
		return cfail(c, join(p, b, "url"), "required");
	if (a->discovery_url != NULL &&
	    url_trimmed_len(a->discovery_url) == url_trimmed_len(a->issuer_url) &&
	    strncmp(a->discovery_url, a->issuer_url, url_trimmed_len(a->issuer_url)) == 0)
		return cfail(c, join(p, b, "discoveryURL"), "must be different from url");
	if (a->audiences.n == 0)
		return cfail(c, join(p, b, "audiences"), "must list at least one audience");
	if (strv_has_dup(&a->audiences, &dup))
		return cfail(c, idx(ap, join(p, b, "audiences"), dup), "duplicate audience");
	if (a->audience_match_policy != NULL && a->audience_match_policy[0] != '\0' &&
	    strcmp(a->audience_match_policy, "MatchAny") != 0)
		return cfail(c, join(p, b, "audienceMatchPolicy"), "must be \"MatchAny\" or empty");
	if (a->audiences.n > 1 && (a->audience_match_policy == NULL ||
				   strcmp(a->audience_match_policy, "MatchAny") != 0))
		return cfail(c, join(p, b, "audienceMatchPolicy"),
			     "must be \"MatchAny\" when more than one audience is listed");
	if (a->ca_pem != NULL && !k8s_pem_has_cert(a->ca_pem, strlen(a->ca_pem)))
		return cfail(c, join(p, b, "certificateAuthority"), "no PEM certificate found");
	return 0;
}

/* The apiserver's validation: of a JWTAuthenticator (k8s.io/apiserver
 * pkg/apis/apiserver/validation): the same combinations are refused with
 * the same wording where it helps, and every CEL expression is compiled
 * now, so that a configuration error shows at load and never at a login. */

#define JWT_MAX_AUTHENTICATORS 64 /* the apiserver's limit */

/* A string field where "" means "not set", as in the apiserver's Go
 * structs. */
static int get_opt(struct cctx *c, json_t *o, const char *key, const char *b, char **out)
{
	if (get_str(c, o, key, b, 0, out) != 0)
		return K8S_ECONFIG;
	if (*out != NULL && (*out)[0] == '\0') {
		free(*out);
		*out = NULL;
	}
	return 0;
}

static const char *stype_name(enum cel_static_type t)
{
	static const char *const names[] = {"dyn", "null_type", "bool", "int", "uint", "double",
					    "string", "bytes", "list", "map", "optional", "type"};

	return names[t];
}

static int compile_expr(struct cctx *c, const char *path, const char *src, unsigned vars,
			int want_bool, struct cel_program **out)
{
	char err[256];
	enum cel_static_type t;

	*out = cel_compile(src, vars, err, sizeof(err));
	if (*out == NULL)
		return cfail(c, path, "compilation failed: %s", err);
	t = cel_program_type(*out);
	/* The apiserver's compiler wants the checked type to be bool itself
	 * (claims.email_verified is dyn: write claims.email_verified == true). */
	if (want_bool && t != CEL_T_BOOL)
		return cfail(c, path, "must evaluate to bool, not %s", stype_name(t));
	return 0;
}

static int parse_claim_rules(struct cctx *c, json_t *arr, const char *b,
			     struct k8s_jwt_authenticator *a)
{
	static const char *const known[] = {"claim", "requiredValue", "expression", "message", NULL};
	char p[PATHSZ], kp[PATHSZ];
	size_t i, j;
	json_t *r;

	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return cfail(c, b, "expected a list");
	a->rules = calloc(json_array_size(arr) + 1, sizeof(*a->rules));
	if (a->rules == NULL)
		return enomem(c, b);
	json_array_foreach(arr, i, r) {
		struct k8s_claim_rule *cr = &a->rules[a->n_rules++];

		idx(p, b, i);
		if (want_object(c, r, p, 0) || check_keys(c, r, p, known, NULL) ||
		    get_opt(c, r, "claim", p, &cr->claim) ||
		    get_str(c, r, "requiredValue", p, 0, &cr->required_value) ||
		    get_opt(c, r, "expression", p, &cr->expression) ||
		    get_opt(c, r, "message", p, &cr->message))
			return K8S_ECONFIG;
		if (cr->claim != NULL && cr->expression != NULL)
			return cfail(c, p, "claim and expression can't both be set");
		if (cr->claim == NULL && cr->expression == NULL)
			return cfail(c, p, "claim or expression is required");
		if (cr->claim != NULL) {
			if (cr->message != NULL)
				return cfail(c, join(kp, p, "message"), "may not be specified when claim is set");
			for (j = 0; j < i; j++)
				if (a->rules[j].claim != NULL && strcmp(a->rules[j].claim, cr->claim) == 0)
					return cfail(c, join(kp, p, "claim"), "duplicate value \"%.64s\"",
						     cr->claim);
			continue;
		}
		if (cr->required_value != NULL && cr->required_value[0] != '\0')
			return cfail(c, join(kp, p, "requiredValue"),
				     "may not be specified when expression is set");
		for (j = 0; j < i; j++)
			if (a->rules[j].expression != NULL && strcmp(a->rules[j].expression, cr->expression) == 0)
				return cfail(c, join(kp, p, "expression"), "duplicate value (also [%zu])", j);
		if (compile_expr(c, join(kp, p, "expression"), cr->expression, CEL_VAR_CLAIMS, 1, &cr->prog))
			return K8S_ECONFIG;
	}
	return 0;
}

enum mapping_kind { MAP_USERNAME, MAP_GROUPS, MAP_UID };

/* username (required) and groups: claim + prefix, or expression; uid:
 * claim or expression. */
static int parse_claim_mapping(struct cctx *c, json_t *o, const char *b, enum mapping_kind kind,
			       struct k8s_claim_mapping *m)
{
	static const char *const known_p[] = {"claim", "prefix", "expression", NULL};
	static const char *const known_u[] = {"claim", "expression", NULL};
	char p[PATHSZ];

	if (o == NULL || json_is_null(o)) {
		if (kind == MAP_USERNAME)
			return cfail(c, b, "claim or expression is required");
		return 0;
	}
	if (want_object(c, o, b, 0) || check_keys(c, o, b, kind == MAP_UID ? known_u : known_p, NULL) ||
	    get_opt(c, o, "claim", b, &m->claim) || get_opt(c, o, "expression", b, &m->expression) ||
	    (kind != MAP_UID && get_str(c, o, "prefix", b, 0, &m->prefix)))
		return K8S_ECONFIG;
	if (m->claim != NULL && m->expression != NULL)
		return cfail(c, b, "claim and expression can't both be set");
	if (m->claim == NULL && m->expression == NULL && kind == MAP_USERNAME)
		return cfail(c, b, "claim or expression is required");
	if (m->expression != NULL) {
		if (m->prefix != NULL)
			return cfail(c, join(p, b, "prefix"), "may not be specified when expression is set");
		return compile_expr(c, join(p, b, "expression"), m->expression, CEL_VAR_CLAIMS, 0, &m->prog);
	}
	if (m->claim != NULL && kind != MAP_UID && m->prefix == NULL)
		return cfail(c, join(p, b, "prefix"),
			     "prefix is required when claim is set. It can be set to an empty string "
			     "to disable prefixing");
	return 0;
}

/* utilvalidation.IsDNS1123Subdomain */
static const char *dns_subdomain_problem(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n == 0)
		return "the domain prefix must not be empty";
	if (n > 253)
		return "the domain prefix must be no more than 253 characters";
	for (i = 0; i < n; i++) {
		char ch = s[i];
		int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

		if (!alnum && ch != '-' && ch != '.')
			return "the domain prefix must consist of lower case alphanumeric characters, "
			       "'-' or '.'";
		if ((i == 0 || i == n - 1) && !alnum)
			return "the domain prefix must start and end with an alphanumeric character";
		if (ch == '.') {
			if (label == 0 || !((s[i - 1] >= 'a' && s[i - 1] <= 'z') || (s[i - 1] >= '0' && s[i - 1] <= '9')) ||
			    !((s[i + 1] >= 'a' && s[i + 1] <= 'z') || (s[i + 1] >= '0' && s[i + 1] <= '9')))
				return "each label of the domain prefix must start and end with an "
				       "alphanumeric character";
			label = 0;
		} else {
			label++;
		}
	}
	return NULL;
}

/* utilvalidation.IsDomainPrefixedPath, then the apiserver's own rules. */
static const char *extra_key_problem(const char *k)
{
	const char *slash = strchr(k, '/'), *why, *q;
	size_t dn;

	if (k[0] == '\0')
		return "required";
	if (slash == NULL)
		return "must be a domain-prefixed path (such as \"acme.io/foo\")";
	if (slash[1] == '\0')
		return "must be a domain-prefixed path (such as \"acme.io/foo\"): the path must not be empty";
	dn = (size_t)(slash - k);
	if ((why = dns_subdomain_problem(k, dn)) != NULL)
		return why;
	for (q = slash + 1; *q != '\0'; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
		      strchr("/-._~%!$&'()*+,;=:", *q) != NULL))
			return "the path part must consist of alphanumerics and /-._~%!$&'()*+,;=:";
	for (q = k; *q != '\0'; q++)
		if (*q >= 'A' && *q <= 'Z')
			return "must be lowercase";
	if ((dn == 13 && strncmp(k, "kubernetes.io", 13) == 0) ||
	    (dn > 14 && strncmp(slash - 14, ".kubernetes.io", 14) == 0) ||
	    (dn == 6 && strncmp(k, "k8s.io", 6) == 0) || (dn > 7 && strncmp(slash - 7, ".k8s.io", 7) == 0))
		return "k8s.io, kubernetes.io and their subdomains are reserved for Kubernetes use";
	return NULL;
}

static int parse_extra(struct cctx *c, json_t *arr, const char *b, struct k8s_jwt_authenticator *a)
{
	static const char *const known[] = {"key", "valueExpression", NULL};
	char p[PATHSZ], kp[PATHSZ];
	const char *why;
	size_t i, j;
	json_t *e;

	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return cfail(c, b, "expected a list");
	a->extra = calloc(json_array_size(arr) + 1, sizeof(*a->extra));
	if (a->extra == NULL)
		return enomem(c, b);
	json_array_foreach(arr, i, e) {
		struct k8s_extra_mapping *x = &a->extra[a->n_extra++];

		idx(p, b, i);
		if (want_object(c, e, p, 0) || check_keys(c, e, p, known, NULL) ||
		    get_str(c, e, "key", p, 0, &x->key) || get_opt(c, e, "valueExpression", p, &x->expression))
			return K8S_ECONFIG;
		if ((why = extra_key_problem(x->key ? x->key : "")) != NULL)
			return cfail(c, join(kp, p, "key"), "%s", why);
		for (j = 0; j < i; j++)
			if (strcmp(a->extra[j].key, x->key) == 0)
				return cfail(c, join(kp, p, "key"), "duplicate value \"%.64s\"", x->key);
		if (x->expression == NULL)
			return cfail(c, join(kp, p, "valueExpression"), "required");
		if (compile_expr(c, join(kp, p, "valueExpression"), x->expression, CEL_VAR_CLAIMS, 0, &x->prog))
			return K8S_ECONFIG;
	}
	return 0;
}

static int parse_claim_mappings(struct cctx *c, json_t *o, const char *b,
				struct k8s_jwt_authenticator *a)
{
	static const char *const known[] = {"username", "groups", "uid", "extra", NULL};
	char p[PATHSZ];

	if (o == NULL || json_is_null(o))
		return cfail(c, b, "required (claimMappings.username at least)");
	if (want_object(c, o, b, 0) || check_keys(c, o, b, known, NULL) ||
	    parse_claim_mapping(c, json_object_get(o, "username"), join(p, b, "username"), MAP_USERNAME,
				&a->username) ||
	    parse_claim_mapping(c, json_object_get(o, "groups"), join(p, b, "groups"), MAP_GROUPS,
				&a->groups) ||
	    parse_claim_mapping(c, json_object_get(o, "uid"), join(p, b, "uid"), MAP_UID, &a->uid) ||
	    parse_extra(c, json_object_get(o, "extra"), join(p, b, "extra"), a))
		return K8S_ECONFIG;
	return 0;
}

static int parse_user_rules(struct cctx *c, json_t *arr, const char *b, struct k8s_jwt_authenticator *a)
{
	static const char *const known[] = {"expression", "message", NULL};
	char p[PATHSZ], kp[PATHSZ];
	size_t i, j;
	json_t *r;

	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return cfail(c, b, "expected a list");
	a->user_rules = calloc(json_array_size(arr) + 1, sizeof(*a->user_rules));
	if (a->user_rules == NULL)
		return enomem(c, b);
	json_array_foreach(arr, i, r) {
		struct k8s_user_rule *u = &a->user_rules[a->n_user_rules++];

		idx(p, b, i);
		if (want_object(c, r, p, 0) || check_keys(c, r, p, known, NULL) ||
		    get_opt(c, r, "expression", p, &u->expression) || get_opt(c, r, "message", p, &u->message))
			return K8S_ECONFIG;
		if (u->expression == NULL)
			return cfail(c, join(kp, p, "expression"), "required");
		for (j = 0; j < i; j++)
			if (strcmp(a->user_rules[j].expression, u->expression) == 0)
				return cfail(c, join(kp, p, "expression"), "duplicate value (also [%zu])", j);
		if (compile_expr(c, join(kp, p, "expression"), u->expression, CEL_VAR_USER, 1, &u->prog))
			return K8S_ECONFIG;
	}
	return 0;
}

/* The apiserver's rule: a username expression that reads claims.email
 * must be accompanied by a check of claims.email_verified in the username
 * expression, an extra valueExpression or a claimValidationRules
 * expression (with claim: email the authenticator checks it itself). */
static int email_verified_rule(struct cctx *c, const char *b, const struct k8s_jwt_authenticator *a)
{
	char p[PATHSZ];
	size_t i;

	if (a->username.prog == NULL || !cel_program_uses(a->username.prog, "claims", "email"))
		return 0;
	if (cel_program_uses(a->username.prog, "claims", "email_verified"))
		return 0;
	for (i = 0; i < a->n_extra; i++)
		if (cel_program_uses(a->extra[i].prog, "claims", "email_verified"))
			return 0;
	for (i = 0; i < a->n_rules; i++)
		if (a->rules[i].prog != NULL && cel_program_uses(a->rules[i].prog, "claims", "email_verified"))
			return 0;
	return cfail(c, join(p, b, "claimMappings.username.expression"),
		     "claims.email_verified must be used in claimMappings.username.expression or "
		     "claimMappings.extra[*].valueExpression or claimValidationRules[*].expression when "
		     "claims.email is used in claimMappings.username.expression");
}

static int parse_jwt_one(struct cctx *c, json_t *o, const char *b, struct k8s_jwt_authenticator *a)
{
	static const char *const known[] = {"issuer", "claimValidationRules", "claimMappings",
		"userValidationRules", NULL};
	char p[PATHSZ];

	if (want_object(c, o, b, 0) || check_keys(c, o, b, known, NULL))
		return K8S_ECONFIG;
	if (json_object_get(o, "issuer") == NULL)
		return cfail(c, join(p, b, "issuer"), "required");
	if (parse_issuer(c, json_object_get(o, "issuer"), join(p, b, "issuer"), a) ||
	    parse_claim_rules(c, json_object_get(o, "claimValidationRules"),
			      join(p, b, "claimValidationRules"), a) ||
	    parse_claim_mappings(c, json_object_get(o, "claimMappings"),
				 join(p, b, "claimMappings"), a) ||
	    parse_user_rules(c, json_object_get(o, "userValidationRules"),
			     join(p, b, "userValidationRules"), a) ||
	    email_verified_rule(c, b, a))
		return K8S_ECONFIG;
	return 0;
}

static int parse_jwt(struct cctx *c, json_t *arr, struct k8s_config *cfg)
{
	char p[PATHSZ], up[PATHSZ];
	size_t i, j;
	json_t *o;

	if (json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return cfail(c, "jwt", "expected a list of authenticators");
	if (json_array_size(arr) > JWT_MAX_AUTHENTICATORS)
		return cfail(c, "jwt", "must have at most %d items", JWT_MAX_AUTHENTICATORS);
	cfg->jwt = calloc(json_array_size(arr) + 1, sizeof(*cfg->jwt));
	if (cfg->jwt == NULL)
		return enomem(c, "jwt");
	json_array_foreach(arr, i, o) {
		struct k8s_jwt_authenticator *a = &cfg->jwt[cfg->n_jwt++];

		if (parse_jwt_one(c, o, idx(p, "jwt", i), a) != 0)
			return K8S_ECONFIG;
		for (j = 0; j < i; j++) {
			if (strcmp(cfg->jwt[j].issuer_url, a->issuer_url) == 0)
				return cfail(c, join(up, p, "issuer.url"),
					     "duplicate issuer URL (also jwt[%zu])", j);
			if (a->discovery_url != NULL && cfg->jwt[j].discovery_url != NULL &&
			    strcmp(cfg->jwt[j].discovery_url, a->discovery_url) == 0)
				return cfail(c, join(up, p, "issuer.discoveryURL"),
					     "duplicate discovery URL (also jwt[%zu])", j);
		}
	}
	return 0;
}

/* ------------------------------------------------------ serviceAccounts */

static int parse_service_accounts(struct cctx *c, json_t *o, struct k8s_config *cfg)
{
	static const char *const known[] = {"issuer", "discoveryURL", "certificateAuthority",
		"audiences", NULL};
	struct k8s_jwt_authenticator *a = &cfg->sa;
	const char *b = "serviceAccounts";
	char p[PATHSZ], ap[PATHSZ];
	size_t dup;

	cfg->has_sa = 1;
	if (want_object(c, o, b, 0) || check_keys(c, o, b, known, NULL) ||
	    get_url(c, o, "issuer", b, &a->issuer_url) ||
	    get_url(c, o, "discoveryURL", b, &a->discovery_url) ||
	    get_strv(c, o, "audiences", b, 1, &a->audiences) ||
	    get_str(c, o, "certificateAuthority", b, 1, &a->ca_pem))
		return K8S_ECONFIG;
	if (a->issuer_url == NULL)
		return cfail(c, join(p, b, "issuer"), "required: the cluster's --service-account-issuer");
	if (a->audiences.n == 0)
		return cfail(c, join(p, b, "audiences"), "must list at least one audience");
	if (strv_has_dup(&a->audiences, &dup))
		return cfail(c, idx(ap, join(p, b, "audiences"), dup), "duplicate audience");
	if (a->ca_pem != NULL && !k8s_pem_has_cert(a->ca_pem, strlen(a->ca_pem)))
		return cfail(c, join(p, b, "certificateAuthority"), "no PEM certificate found");
	/* any one listed audience in the token's aud, as the apiserver
	 * intersects a token's audiences with those asked for */
	a->audience_match_policy = strdup("MatchAny");
	return a->audience_match_policy != NULL ? 0 : enomem(c, b);
}

/* The apiserver refuses a JWT authenticator whose issuer is one of its
 * service-account issuers (disallowed issuers): a token of that issuer is
 * the service-account authenticator's. */
static int sa_issuer_not_jwt(struct cctx *c, const struct k8s_config *cfg)
{
	char p[PATHSZ];
	size_t i;

	for (i = 0; cfg->has_sa && i < cfg->n_jwt; i++)
		if (cfg->jwt[i].issuer_url != NULL && strcmp(cfg->jwt[i].issuer_url, cfg->sa.issuer_url) == 0)
			return cfail(c, "serviceAccounts.issuer",
				     "\"%.200s\" is also the issuer of %s: the apiserver forbids its "
				     "service-account issuer as a JWT authenticator's issuer (its tokens are "
				     "the service-account authenticator's); remove that jwt authenticator",
				     cfg->sa.issuer_url, cfg->authn_config_file != NULL
				     ? (snprintf(p, sizeof(p), "jwt[%zu] of %.80s", i, cfg->authn_config_file), p)
				     : (snprintf(p, sizeof(p), "jwt[%zu]", i), p));
	return 0;
}

/* ------------------------------------------- authenticationConfiguration */

static int check_config_file(const char *path, const struct stat *st, struct k8s_err *err);

#define AUTHN_API_GROUP "apiserver.config.k8s.io/"

/* authenticationConfiguration: {file, audiences}: the jwt list from the
 * cluster's own AuthenticationConfiguration, read and validated as the
 * apiserver reads it; then `audiences` (the host's) replaces every
 * authenticator's (the cluster's, which a host must never accept). */
static int parse_authn_config(struct cctx *c, json_t *o, struct k8s_config *cfg)
{
	static const char *const known[] = {"file", "audiences", NULL};
	static const char *const versions[] = {AUTHN_API_GROUP "v1", AUTHN_API_GROUP "v1beta1",
		AUTHN_API_GROUP "v1alpha1", NULL};
	const char *b = "authenticationConfiguration", *key, *ver, *kind;
	char p[PATHSZ], note[200];
	struct k8s_strv auds = {0};
	struct stat st;
	struct cctx fc;
	json_t *root = NULL, *v;
	size_t i, dup;
	int rc = K8S_ECONFIG;

	if (want_object(c, o, b, 0) || check_keys(c, o, b, known, NULL) ||
	    get_path(c, o, "file", b, 0, &cfg->authn_config_file) ||
	    get_strv(c, o, "audiences", b, 1, &auds))
		goto out;
	if (cfg->authn_config_file == NULL) {
		cfail(c, join(p, b, "file"), "required");
		goto out;
	}
	if (auds.n == 0) {
		cfail(c, join(p, b, "audiences"),
		      "must list the audiences of host logins, such as \"host-login:%%h\": they replace "
		      "the file's, which are the cluster's own");
		goto out;
	}
	if (strv_has_dup(&auds, &dup)) {
		char ip[PATHSZ];

		cfail(c, idx(ip, join(p, b, "audiences"), dup), "duplicate audience");
		goto out;
	}
	if (json_object_get(cfg->raw, "jwt") != NULL) {
		cfail(c, b, "cannot be used together with jwt: the authenticators come from one list, "
		      "as in the apiserver");
		goto out;
	}
	root = k8s_yaml_load_file_stat(cfg->authn_config_file, CONFIG_MAX_BYTES, &st, c->err);
	if (root == NULL)
		goto out;
	if (check_config_file(cfg->authn_config_file, &st, c->err) != K8S_OK)
		goto out;
	fc.file = cfg->authn_config_file;
	fc.err = c->err;
	if (want_object(&fc, root, "", 0))
		goto out;
	ver = json_string_value(json_object_get(root, "apiVersion"));
	kind = json_string_value(json_object_get(root, "kind"));
	if (ver == NULL || !in_list(ver, versions)) {
		cfail(&fc, "apiVersion", "must be apiserver.config.k8s.io/v1, v1beta1 or v1alpha1");
		goto out;
	}
	if (kind == NULL || strcmp(kind, "AuthenticationConfiguration") != 0) {
		cfail(&fc, "kind", "must be AuthenticationConfiguration");
		goto out;
	}
	cfg->authn_config_version = strdup(ver);
	if (cfg->authn_config_version == NULL) {
		enomem(c, b);
		goto out;
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "apiVersion") == 0 || strcmp(key, "kind") == 0 || strcmp(key, "jwt") == 0)
			continue;
		if (strcmp(key, "anonymous") == 0)
			snprintf(note, sizeof(note), "%.100s: anonymous: ignored (a host login is never "
				 "anonymous)", cfg->authn_config_file);
		else
			snprintf(note, sizeof(note), "%.100s: %.40s: ignored (not a JWT authenticator "
				 "setting)", cfg->authn_config_file, key);
		if (strv_add(&cfg->authn_notes, note) != 0) {
			enomem(c, b);
			goto out;
		}
	}
	if ((v = json_object_get(root, "jwt")) != NULL && parse_jwt(&fc, v, cfg) != 0)
		goto out;
	if (cfg->n_jwt == 0 &&
	    strv_add(&cfg->authn_notes, "the AuthenticationConfiguration has no JWT authenticator") != 0) {
		enomem(c, b);
		goto out;
	}
	for (i = 0; i < cfg->n_jwt; i++) {
		struct k8s_jwt_authenticator *a = &cfg->jwt[i];

		if (strv_set(&a->audiences, (const char *const *)auds.v, auds.n) != 0) {
			enomem(c, b);
			goto out;
		}
		free(a->audience_match_policy);
		a->audience_match_policy = strdup("MatchAny");
		if (a->audience_match_policy == NULL) {
			enomem(c, b);
			goto out;
		}
	}
	cfg->authn_audiences = auds;
	auds.v = NULL;
	auds.n = 0;
	rc = 0;
out:
	/* An error about the file (reading it, or in it) names the main
	 * configuration's key first, then the file and its path. */
	if (rc != 0 && strncmp(c->err->detail, c->file, strlen(c->file)) != 0) {
		char inner[sizeof(c->err->detail)];

		snprintf(inner, sizeof(inner), "%s", c->err->detail);
		cfail(c, "authenticationConfiguration.file", "%s", inner);
	}
	k8s_strv_free(&auds);
	json_decref(root);
	return rc;
}

static int parse_jwt_options(struct cctx *c, json_t *o, struct k8s_config *cfg)
{
	static const char *const known[] = {"timeout", "maxStaleness", NULL};
	const char *b = "jwtOptions";

	if (want_object(c, o, b, 1) || check_keys(c, o, b, known, NULL) ||
	    get_duration(c, o, "timeout", b, 1, &cfg->jwt_timeout_ms) ||
	    get_duration(c, o, "maxStaleness", b, 0, &cfg->jwks_max_stale_ms))
		return K8S_ECONFIG;
	return 0;
}

/* ------------------------------------------------------------- policy */

static int parse_policy(struct cctx *c, json_t *o, struct k8s_config *cfg)
{
	static const char *const known[] = {"maxTokenLifetime", "allowLegacyServiceAccountTokens",
		"allowBootstrapTokens", "denyUsernames", "allowClusterAudiences", NULL};
	const char *b = "policy";

	if (want_object(c, o, b, 1) || check_keys(c, o, b, known, NULL) ||
	    get_duration(c, o, "maxTokenLifetime", b, 0, &cfg->policy.max_token_lifetime_ms) ||
	    get_bool(c, o, "allowLegacyServiceAccountTokens", b, &cfg->policy.allow_legacy_sa) ||
	    get_bool(c, o, "allowBootstrapTokens", b, &cfg->policy.allow_bootstrap) ||
	    get_strv(c, o, "denyUsernames", b, 0, &cfg->policy.deny_usernames) ||
	    get_bool(c, o, "allowClusterAudiences", b, &cfg->policy.allow_cluster_audiences))
		return K8S_ECONFIG;
	cfg->has_policy = 1;
	return 0;
}

/* ----------------------------------------------------------- accounts */

/* glibc's regcomp copies a subtree for every bounded repetition, so
 * "((a{255}){255}){255}" or "a+++...+" takes gigabytes, inside sshd.  Walk
 * the pattern once, estimating the size of its expansion, and refuse what a
 * username rule never needs: stacked repetition operators (undefined in
 * POSIX), bounds above 255, back-references in the pattern (an extension
 * whose matching is exponential in the username's length), long or deeply
 * nested patterns. */
#define RE_MAX_LEN   1024
#define RE_MAX_DEPTH 16
#define RE_MAX_COST  20000

/* Multiplier of the repetition at re[*i] ('*', '+', '?' or '{'); 0 when
 * malformed.  *i is left on its last character. */
static uint64_t repeat_factor(const char *re, size_t *i)
{
	unsigned long lo, hi;
	char *end;

	if (re[*i] == '*' || re[*i] == '?')
		return 1;
	if (re[*i] == '+')
		return 2;
	if (re[*i + 1] < '0' || re[*i + 1] > '9')
		return 0;
	lo = hi = strtoul(re + *i + 1, &end, 10);
	if (*end == ',') {
		if (end[1] == '}')
			hi = lo + 1, end++;
		else if (end[1] >= '0' && end[1] <= '9')
			hi = strtoul(end + 1, &end, 10);
		else
			return 0;
	}
	if (*end != '}' || lo > 255 || hi > 255 || hi < lo)
		return 0;
	*i = (size_t)(end - re);
	return hi > 1 ? hi : 1;
}

/* Index of the ']' closing the bracket expression opened at re[i]. */
static size_t bracket_end(const char *re, size_t i)
{
	i++;
	if (re[i] == '^')
		i++;
	if (re[i] == ']')
		i++;
	for (; re[i] != '\0' && re[i] != ']'; i++) {
		if (re[i] == '[' && (re[i + 1] == ':' || re[i + 1] == '.' || re[i + 1] == '=')) {
			const char *close = strchr(re + i + 2, re[i + 1]);

			while (close != NULL && close[1] != ']')
				close = strchr(close + 1, re[i + 1]);
			if (close == NULL)
				return strlen(re);
			i = (size_t)(close + 1 - re);
		}
	}
	return i;
}

static const char *regex_problem(const char *re)
{
	uint64_t seq[RE_MAX_DEPTH + 1] = {0}, last = 0, f;
	int depth = 0;
	size_t i, n = strlen(re);

	if (n > RE_MAX_LEN)
		return "longer than 1024 characters";
	for (i = 0; i < n; i++) {
		switch (re[i]) {
		case '(':
			if (depth == RE_MAX_DEPTH)
				return "groups nested more than 16 deep";
			seq[++depth] = 0;
			last = 0;
			continue;
		case ')':
			if (depth == 0)
				break;
			last = seq[depth--] + 1;
			seq[depth] += last;
			continue;
		case '|':
			last = 0;
			continue;
		case '*': case '+': case '?': case '{':
			if (last == 0)
				return "a repetition (*, +, ?, {n,m}) must follow something it repeats, "
				       "and only one";
			f = repeat_factor(re, &i);
			if (f == 0)
				return "repetition bounds must be {n}, {n,} or {n,m} with n <= m <= 255";
			seq[depth] += last * (f - 1);
			last = 0;
			if (seq[depth] > RE_MAX_COST)
				return "too complex (its repetitions expand too far)";
			continue;
		case '[':
			i = bracket_end(re, i);
			break;
		case '\\':
			if (re[i + 1] >= '1' && re[i + 1] <= '9')
				return "back-references are not supported in match";
			if (re[i + 1] != '\0')
				i++;
			break;
		default:
			break;
		}
		last = 1;
		if (++seq[depth] > RE_MAX_COST)
			return "too complex (its repetitions expand too far)";
	}
	return NULL;
}

/* local: \1..\9 and \\ are the only escapes.  *max_ref = highest group. */
static const char *template_problem(const char *local, int *max_ref)
{
	const char *q;

	*max_ref = 0;
	for (q = local; *q != '\0'; q++) {
		if (*q != '\\')
			continue;
		q++;
		if (*q >= '1' && *q <= '9') {
			if (*q - '0' > *max_ref)
				*max_ref = *q - '0';
		} else if (*q != '\\') {
			return "only \\1..\\9 and \\\\ may follow a backslash";
		}
	}
	return NULL;
}

static int parse_rule(struct cctx *c, json_t *o, const char *b, struct k8s_map_rule *r)
{
	static const char *const known[] = {"match", "local", "lowercase", NULL};
	char p[PATHSZ], ebuf[160];
	const char *problem;
	int rc, max_ref;

	if (want_object(c, o, b, 0) || check_keys(c, o, b, known, NULL) ||
	    get_str(c, o, "match", b, 1, &r->match) || get_str(c, o, "local", b, 1, &r->local) ||
	    get_bool(c, o, "lowercase", b, &r->lowercase))
		return K8S_ECONFIG;
	if (r->match == NULL)
		return cfail(c, join(p, b, "match"), "required");
	if (r->local == NULL)
		return cfail(c, join(p, b, "local"), "required");
	if ((problem = template_problem(r->local, &max_ref)) != NULL)
		return cfail(c, join(p, b, "local"), "%s", problem);
	r->templated = max_ref > 0;
	/* lowercase acts on what \1..\9 insert: on a literal name it would
	 * do nothing, and saying so beats a rule that looks like it works */
	if (r->lowercase && !r->templated)
		return cfail(c, join(p, b, "lowercase"), "applies to what \\1..\\9 insert, and this "
			     "rule's local has none");
	if (!r->templated && !k8s_valid_local_name(r->local))
		return cfail(c, join(p, b, "local"), "\"%.64s\" is not a valid local name "
			     "(^[a-z_][a-z0-9_.-]{0,31}$, not all digits)", r->local);
	if ((problem = regex_problem(r->match)) != NULL)
		return cfail(c, join(p, b, "match"), "%s", problem);
	rc = regcomp(&r->re, r->match, REG_EXTENDED);
	if (rc != 0) {
		regerror(rc, NULL, ebuf, sizeof(ebuf));
		return cfail(c, join(p, b, "match"), "invalid regular expression: %s", ebuf);
	}
	if ((size_t)max_ref > r->re.re_nsub) {
		regfree(&r->re);
		return cfail(c, join(p, b, "local"), "\\%d refers to a group the match does not "
			     "have (it has %zu)", max_ref, r->re.re_nsub);
	}
	return 0;
}

/* Only rules whose regex compiled are counted in *n, so freeing is exact. */
static int parse_rules(struct cctx *c, json_t *arr, const char *b,
		       struct k8s_map_rule **out, size_t *n)
{
	struct k8s_map_rule r;
	char p[PATHSZ];
	size_t i;
	json_t *o;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr))
		return cfail(c, b, "expected a list of {match, local[, lowercase]} rules");
	*out = calloc(json_array_size(arr) + 1, sizeof(**out));
	if (*out == NULL)
		return enomem(c, b);
	json_array_foreach(arr, i, o) {
		memset(&r, 0, sizeof(r));
		if (parse_rule(c, o, idx(p, b, i), &r) != 0) {
			free(r.match);
			free(r.local);
			return K8S_ECONFIG;
		}
		(*out)[(*n)++] = r;
	}
	return 0;
}

static int get_range(struct cctx *c, json_t *o, const char *key, const char *b,
		     uint32_t *min, uint32_t *max)
{
	json_t *v = json_object_get(o, key), *lo, *hi;
	json_int_t a, z;
	char p[PATHSZ];

	if (v == NULL)
		return 0;
	join(p, b, key);
	lo = json_array_get(v, 0);
	hi = json_array_get(v, 1);
	if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(lo) || !json_is_integer(hi))
		return cfail(c, p, "expected [min, max] (two integers)");
	a = json_integer_value(lo);
	z = json_integer_value(hi);
	if (a > z)
		return cfail(c, p, "min is greater than max");
	if (a < 1000)
		return cfail(c, p, "must not reach below 1000 (root and system accounts)");
	if (z > 4294967294LL)
		return cfail(c, p, "max must be at most 4294967294");
	if (a <= 65535 && z >= 65534)
		return cfail(c, p, "must not contain 65534 or 65535 (nobody/nogroup, 16-bit -1)");
	*min = (uint32_t)a;
	*max = (uint32_t)z;
	return 0;
}

static int parse_declared_one(struct cctx *c, json_t *v, const char *p, struct k8s_config *cfg,
			      struct k8s_declared *d)
{
	static const char *const known[] = {"name", "uid", NULL};
	json_t *uid = json_object_get(v, "uid");
	char kp[PATHSZ];

	d->uid = -1;
	if (json_is_string(v)) {
		d->name = strdup(json_string_value(v));
		if (d->name == NULL)
			return enomem(c, p);
	} else if (json_is_object(v)) {
		if (check_keys(c, v, p, known, NULL) || get_str(c, v, "name", p, 1, &d->name))
			return K8S_ECONFIG;
		if (d->name == NULL)
			return cfail(c, join(kp, p, "name"), "required");
		if (uid != NULL && !json_is_integer(uid))
			return cfail(c, join(kp, p, "uid"), "expected an integer");
		if (uid != NULL)
			d->uid = json_integer_value(uid);
		if (uid != NULL && (d->uid < cfg->accounts.uid_min || d->uid > cfg->accounts.uid_max))
			return cfail(c, join(kp, p, "uid"), "must lie inside accounts.uidRange "
				     "[%u, %u]", cfg->accounts.uid_min, cfg->accounts.uid_max);
	} else {
		return cfail(c, p, "expected a name or {name, uid}");
	}
	if (!k8s_valid_local_name(d->name))
		return cfail(c, p, "\"%.64s\" is not a valid local name "
			     "(^[a-z_][a-z0-9_.-]{0,31}$, not all digits)", d->name);
	return 0;
}

/* Open addressing over declared[] indexes (+1; 0 empty), by name or by
 * pinned uid: a list of 100,000 names was a quadratic walk. */
static uint64_t decl_key(const struct k8s_declared *d, int by_uid)
{
	uint64_t h = 1469598103934665603ULL;
	const unsigned char *s;

	if (by_uid)
		return (uint64_t)d->uid * 0x9E3779B97F4A7C15ULL;
	for (s = (const unsigned char *)d->name; *s != '\0'; s++)
		h = (h ^ *s) * 1099511628211ULL;
	return h;
}

/* The earlier entry with d's name (or pinned uid), after which d is in the
 * table; NULL when none. */
static const struct k8s_declared *decl_seen(size_t *tab, size_t mask, const struct k8s_declared *all,
					    size_t i, int by_uid)
{
	const struct k8s_declared *d = &all[i];
	size_t k;

	for (k = decl_key(d, by_uid) & mask; tab[k] != 0; k = (k + 1) & mask) {
		const struct k8s_declared *e = &all[tab[k] - 1];

		if (by_uid ? e->uid == d->uid : strcmp(e->name, d->name) == 0)
			return e;
	}
	tab[k] = i + 1;
	return NULL;
}

static int parse_declared(struct cctx *c, json_t *arr, const char *b, struct k8s_config *cfg)
{
	const struct k8s_declared *e;
	struct k8s_declared *d;
	size_t *names, *uids, mask = 15;
	char p[PATHSZ];
	size_t i;
	json_t *v;
	int rc = 0;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr))
		return cfail(c, b, "expected a list of names or {name, uid}");
	cfg->accounts.declared = calloc(json_array_size(arr) + 1, sizeof(*d));
	if (cfg->accounts.declared == NULL)
		return enomem(c, b);
	while (mask < 2 * json_array_size(arr))
		mask = 2 * mask + 1;
	names = calloc(mask + 1, sizeof(*names));
	uids = calloc(mask + 1, sizeof(*uids));
	if (names == NULL || uids == NULL) {
		free(names);
		free(uids);
		return enomem(c, b);
	}
	json_array_foreach(arr, i, v) {
		d = &cfg->accounts.declared[cfg->accounts.n_declared++];
		idx(p, b, i);
		rc = parse_declared_one(c, v, p, cfg, d);
		if (rc != 0)
			break;
		if ((e = decl_seen(names, mask, cfg->accounts.declared, i, 0)) != NULL) {
			rc = cfail(c, p, "\"%s\" is declared twice", d->name);
			break;
		}
		if (d->uid >= 0 && (e = decl_seen(uids, mask, cfg->accounts.declared, i, 1)) != NULL) {
			rc = cfail(c, p, "uid %lld is also pinned for \"%s\"", (long long)d->uid, e->name);
			break;
		}
	}
	free(names);
	free(uids);
	return rc != 0 ? K8S_ECONFIG : 0;
}

static int check_names(struct cctx *c, const struct k8s_strv *sv, const char *b)
{
	char p[PATHSZ];
	size_t i;

	for (i = 0; i < sv->n; i++)
		if (!k8s_valid_local_name(sv->v[i]))
			return cfail(c, idx(p, b, i), "\"%.64s\" is not a valid local name", sv->v[i]);
	return 0;
}

static int parse_accounts(struct cctx *c, json_t *o, struct k8s_config *cfg)
{
	static const char *const known[] = {"users", "uidRange", "gidRange", "home", "shell",
		"declared", "allowExisting", "groups", NULL};
	const char *b = "accounts";

	if (want_object(c, o, b, 1) || check_keys(c, o, b, known, NULL) ||
	    parse_rules(c, json_object_get(o, "users"), "accounts.users",
			&cfg->accounts.users, &cfg->accounts.n_users) ||
	    parse_rules(c, json_object_get(o, "groups"), "accounts.groups",
			&cfg->accounts.groups, &cfg->accounts.n_groups) ||
	    get_range(c, o, "uidRange", b, &cfg->accounts.uid_min, &cfg->accounts.uid_max) ||
	    get_range(c, o, "gidRange", b, &cfg->accounts.gid_min, &cfg->accounts.gid_max) ||
	    get_path(c, o, "home", b, 1, &cfg->accounts.home) ||
	    get_path(c, o, "shell", b, 1, &cfg->accounts.shell) ||
	    parse_declared(c, json_object_get(o, "declared"), "accounts.declared", cfg) ||
	    get_strv(c, o, "allowExisting", b, 0, &cfg->accounts.allow_existing) ||
	    check_names(c, &cfg->accounts.allow_existing, "accounts.allowExisting"))
		return K8S_ECONFIG;
	cfg->has_accounts = 1;
	return 0;
}

/* ------------------------------------------------ resource attributes */

/* RFC 1123 label, as Kubernetes namespaces are: it also keeps the name
 * safe inside a URL path. */
static int dns_label_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

/* A Kubernetes label key: [prefix/]name; name 1..63 of [A-Za-z0-9-_.],
 * alphanumeric at both ends; prefix a DNS subdomain (at most 253, labels
 * as above).  The apiserver's rule (IsQualifiedName). */
static int label_key_ok(const char *s)
{
	const char *slash = strchr(s, '/'), *name = slash ? slash + 1 : s;
	size_t i, n = strlen(name);

	if (slash != NULL) {
		size_t pl = (size_t)(slash - s), start = 0;

		if (pl == 0 || pl > 253 || strchr(name, '/') != NULL)
			return 0;
		for (i = 0; i <= pl; i++) {
			if (i == pl || s[i] == '.') {
				char label[64];

				if (i - start == 0 || i - start > 63)
					return 0;
				memcpy(label, s + start, i - start);
				label[i - start] = '\0';
				if (!dns_label_ok(label))
					return 0;
				start = i + 1;
			}
		}
	}
	if (n == 0 || n > 63 || !isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[n - 1]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_' && name[i] != '.')
			return 0;
	return 1;
}

static int text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* %h, %% and (when allowed) %u are the only escapes. */
static const char *name_template_problem(const char *t, int allow_user)
{
	for (; *t != '\0'; t++) {
		if (*t != '%')
			continue;
		t++;
		if (*t == 'h' || *t == '%' || (allow_user && *t == 'u'))
			continue;
		return allow_user ? "only %h (host name), %u (local user) and %% may follow a '%'"
				  : "only %h (host name) and %% may follow a '%'";
	}
	return NULL;
}

/* sar: a SubjectAccessReview (namespace and %u allowed); else a sync rule. */
static int parse_resource_attrs(struct cctx *c, json_t *o, const char *b, int sar,
				struct k8s_resource_attrs *a)
{
	static const char *const known_sar[] = {"verb", "group", "resource", "name", "namespace", NULL};
	static const char *const known_rule[] = {"verb", "group", "resource", "name", NULL};
	char p[PATHSZ];
	const char *problem;

	if (want_object(c, o, b, 0) || check_keys(c, o, b, sar ? known_sar : known_rule, NULL) ||
	    get_str(c, o, "verb", b, 1, &a->verb) || get_str(c, o, "group", b, 0, &a->group) ||
	    get_str(c, o, "resource", b, 1, &a->resource) || get_str(c, o, "name", b, 1, &a->name) ||
	    get_str(c, o, "namespace", b, 1, &a->namespace_))
		return K8S_ECONFIG;
	if (a->verb == NULL)
		return cfail(c, join(p, b, "verb"), "required");
	if (a->resource == NULL)
		return cfail(c, join(p, b, "resource"), "required");
	if (a->group == NULL && (a->group = strdup("")) == NULL)
		return enomem(c, b);
	if (!text_ok(a->verb) || !text_ok(a->group) || !text_ok(a->resource) ||
	    (a->name != NULL && !text_ok(a->name)))
		return cfail(c, b, "must not contain control characters");
	if (strchr(a->resource, '/') != NULL)
		return cfail(c, join(p, b, "resource"), "subresources (\"%.64s\") are not supported",
			     a->resource);
	if (a->name != NULL && (problem = name_template_problem(a->name, sar)) != NULL)
		return cfail(c, join(p, b, "name"), "%s", problem);
	if (a->namespace_ != NULL && !dns_label_ok(a->namespace_))
		return cfail(c, join(p, b, "namespace"), "\"%.64s\" is not a namespace name "
			     "(a DNS label: [a-z0-9-], at most 63)", a->namespace_);
	return 0;
}

static void resource_attrs_free(struct k8s_resource_attrs *a)
{
	free(a->verb);
	free(a->group);
	free(a->resource);
	free(a->name);
	free(a->namespace_);
	memset(a, 0, sizeof(*a));
}

/* -------------------------------------------------------------- login */

static int parse_login(struct cctx *c, json_t *o, struct k8s_config *cfg)
{
	static const char *const known[] = {"allowedGroups", "allowRoot", "subjectAccessReview",
		"sudoSubjectAccessReview", "firstLogin", NULL};
	const char *b = "login";
	json_t *v;

	if (want_object(c, o, b, 1) || check_keys(c, o, b, known, NULL) ||
	    get_strv(c, o, "allowedGroups", b, 0, &cfg->login.allowed_groups) ||
	    get_bool(c, o, "allowRoot", b, &cfg->login.allow_root) ||
	    get_bool(c, o, "firstLogin", b, &cfg->login.first_login))
		return K8S_ECONFIG;
	if ((v = json_object_get(o, "subjectAccessReview")) != NULL) {
		if (parse_resource_attrs(c, v, "login.subjectAccessReview", 1, &cfg->login.sar) != 0)
			return K8S_ECONFIG;
		cfg->login.has_sar = 1;
	}
	if ((v = json_object_get(o, "sudoSubjectAccessReview")) != NULL) {
		if (parse_resource_attrs(c, v, "login.sudoSubjectAccessReview", 1,
					 &cfg->login.sudo_sar) != 0)
			return K8S_ECONFIG;
		cfg->login.has_sudo_sar = 1;
	}
	/* an account from nothing but a token: never for "any token the
	 * identity provider issues" */
	if (cfg->login.first_login && cfg->login.allowed_groups.n == 0 && !cfg->login.has_sar)
		return cfail(c, "login.firstLogin",
			     "needs login.allowedGroups or login.subjectAccessReview: otherwise any "
			     "token the identity provider issues would create an account");
	cfg->has_login = 1;
	return 0;
}

/* --------------------------------------------------------------- sync */

static int parse_sync_rules(struct cctx *c, json_t *arr, struct k8s_config *cfg)
{
	const char *b = "sync.rules";
	char p[PATHSZ];
	size_t i;
	json_t *o;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr))
		return cfail(c, b, "expected a list of {verb, group, resource, name}");
	cfg->sync.rules = calloc(json_array_size(arr) + 1, sizeof(*cfg->sync.rules));
	if (cfg->sync.rules == NULL)
		return enomem(c, b);
	json_array_foreach(arr, i, o) {
		if (parse_resource_attrs(c, o, idx(p, b, i), 0, &cfg->sync.rules[cfg->sync.n_rules++]))
			return K8S_ECONFIG;
	}
	return 0;
}

static int parse_sync(struct cctx *c, json_t *o, struct k8s_config *cfg)
{
	static const char *const known[] = {"namespaces", "serviceAccounts", "serviceAccountLabel",
		"clusterRoles", "rules", "timeout", NULL};
	const char *b = "sync";
	char p[PATHSZ], ip[PATHSZ];
	size_t i, dup;

	if (want_object(c, o, b, 0) || check_keys(c, o, b, known, NULL) ||
	    get_strv(c, o, "namespaces", b, 0, &cfg->sync.namespaces) ||
	    get_bool(c, o, "serviceAccounts", b, &cfg->sync.service_accounts) ||
	    get_str(c, o, "serviceAccountLabel", b, 1, &cfg->sync.sa_label) ||
	    get_strv(c, o, "clusterRoles", b, 0, &cfg->sync.cluster_roles) ||
	    parse_sync_rules(c, json_object_get(o, "rules"), cfg) ||
	    get_duration(c, o, "timeout", b, 1, &cfg->sync.timeout_ms))
		return K8S_ECONFIG;
	for (i = 0; i < cfg->sync.namespaces.n; i++)
		if (!dns_label_ok(cfg->sync.namespaces.v[i]))
			return cfail(c, idx(ip, join(p, b, "namespaces"), i),
				     "\"%.64s\" is not a namespace name (a DNS label: [a-z0-9-], at most 63)",
				     cfg->sync.namespaces.v[i]);
	if (strv_has_dup(&cfg->sync.namespaces, &dup))
		return cfail(c, idx(ip, join(p, b, "namespaces"), dup), "listed twice");
	for (i = 0; i < cfg->sync.cluster_roles.n; i++)
		if (!text_ok(cfg->sync.cluster_roles.v[i]) || strchr(cfg->sync.cluster_roles.v[i], '/'))
			return cfail(c, idx(ip, join(p, b, "clusterRoles"), i),
				     "not a ClusterRole name");
	if (cfg->sync.sa_label != NULL && !label_key_ok(cfg->sync.sa_label))
		return cfail(c, join(p, b, "serviceAccountLabel"),
			     "\"%.64s\" is not a label key ([prefix/]name: name at most 63 of "
			     "[A-Za-z0-9-_.], alphanumeric at both ends; prefix a DNS subdomain)",
			     cfg->sync.sa_label);
	if (cfg->sync.service_accounts && cfg->sync.namespaces.n == 0)
		return cfail(c, join(p, b, "serviceAccounts"), "needs sync.namespaces to list them in");
	if (!cfg->sync.service_accounts && cfg->sync.cluster_roles.n == 0 && cfg->sync.n_rules == 0)
		return cfail(c, b, "grants nobody: set serviceAccounts (with namespaces), "
			     "clusterRoles or rules");
	cfg->has_sync = 1;
	return 0;
}

/* -------------------------------------------------- cluster audiences
 * A host-login audience must be one the cluster never mints for itself:
 * the apiserver accepts a token for its own API audiences (its
 * --api-audiences, by default the service-account issuer), kubectl and
 * every pod's projected API token carry them, and the in-cluster names
 * (https://kubernetes.default.svc...) are what those usually are.  With
 * such an audience any of those tokens would open the host. */

/* An audience split as a URL would be: scheme (http or https, any case)
 * dropped; host lowercased, without a trailing dot; port "443" dropped;
 * trailing slashes dropped.  A string that is no URL ("host-login:web-1")
 * splits harmlessly ("host-login", port "web-1"). */
struct aud_parts {
	char host[256];
	char port[16];
	char path[512];
	int too_long;
};

static void aud_split(const char *s, struct aud_parts *p)
{
	size_t hn, i, n, pn;
	const char *h, *colon;

	memset(p, 0, sizeof(*p));
	if (strncasecmp(s, "https://", 8) == 0)
		s += 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		s += 7;
	hn = strcspn(s, "/?#");
	h = s;
	colon = NULL;
	if (h[0] == '[') { /* [IPv6]:port */
		const char *rb = memchr(h, ']', hn);

		if (rb != NULL && (size_t)(rb + 1 - h) < hn && rb[1] == ':')
			colon = rb + 1;
	} else {
		colon = memchr(h, ':', hn);
	}
	n = colon != NULL ? (size_t)(colon - h) : hn;
	pn = colon != NULL ? hn - n - 1 : 0;
	if (n >= sizeof(p->host) || pn >= sizeof(p->port) || strlen(s + hn) >= sizeof(p->path)) {
		p->too_long = 1;
		return;
	}
	if (colon != NULL)
		memcpy(p->port, colon + 1, pn);
	for (i = 0; i < n; i++)
		p->host[i] = (char)tolower((unsigned char)h[i]);
	while (n > 0 && p->host[n - 1] == '.')
		p->host[--n] = '\0';
	if (strcmp(p->port, "443") == 0)
		p->port[0] = '\0';
	snprintf(p->path, sizeof(p->path), "%s", s + hn);
	n = strlen(p->path);
	while (n > 0 && p->path[n - 1] == '/')
		p->path[--n] = '\0';
}

static int aud_same(const char *a, const char *b)
{
	struct aud_parts x, y;

	aud_split(a, &x);
	aud_split(b, &y);
	if (x.too_long || y.too_long) /* no URL anyone uses; still never equal by accident */
		return strcasecmp(a, b) == 0;
	return strcmp(x.host, y.host) == 0 && strcmp(x.port, y.port) == 0 && strcmp(x.path, y.path) == 0;
}

/* kubernetes, kubernetes.default, kubernetes.default.svc and
 * kubernetes.default.svc.<cluster domain>, any port, no path. */
static int aud_in_cluster_name(const char *a)
{
	static const char svc[] = "kubernetes.default.svc";
	struct aud_parts x;
	size_t i;

	aud_split(a, &x);
	if (x.too_long || x.path[0] != '\0')
		return 0;
	for (i = 0; x.port[i] != '\0'; i++)
		if (!isdigit((unsigned char)x.port[i]))
			return 0;
	return strcmp(x.host, "kubernetes") == 0 || strcmp(x.host, "kubernetes.default") == 0 ||
	       strcmp(x.host, svc) == 0 ||
	       (strncmp(x.host, svc, sizeof(svc) - 1) == 0 && x.host[sizeof(svc) - 1] == '.');
}

/* Why aud is one of the cluster's own audiences (into why), or 0.
 * server: compare with it only; NULL: the in-cluster names and issuers. */
static int cluster_audience(const struct k8s_config *cfg, const char *aud, const char *server,
			    char *why, size_t n)
{
	size_t i;

	if (server != NULL) {
		if (!aud_same(aud, server))
			return 0;
		snprintf(why, n, "the apiserver's URL (the server of %.100s)", cfg->tokenreview.kubeconfig);
		return 1;
	}
	if (aud_in_cluster_name(aud)) {
		snprintf(why, n, "the apiserver's in-cluster name");
		return 1;
	}
	for (i = 0; i < cfg->n_jwt; i++)
		if (cfg->jwt[i].issuer_url != NULL && aud_same(aud, cfg->jwt[i].issuer_url)) {
			snprintf(why, n, "the URL of the issuer of jwt[%zu] (a service-account "
				 "issuer's default audience)", i);
			return 1;
		}
	if (cfg->has_sa && cfg->sa.issuer_url != NULL && aud_same(aud, cfg->sa.issuer_url)) {
		snprintf(why, n, "the service-account issuer (the apiserver's default audience, "
			 "--api-audiences)");
		return 1;
	}
	return 0;
}

static int check_audience_list(struct cctx *c, const struct k8s_config *cfg,
			       const struct k8s_strv *auds, const char *base, const char *server,
			       struct k8s_buf *warn)
{
	char why[200], p[PATHSZ];
	size_t i;

	for (i = 0; i < auds->n; i++) {
		if (!cluster_audience(cfg, auds->v[i], server, why, sizeof(why)))
			continue;
		idx(p, base, i);
		if (!cfg->policy.allow_cluster_audiences)
			return cfail(c, p, "\"%.80s\" is %s, an audience the cluster accepts for "
				     "itself: every token minted for its API (kubectl's, each pod's) "
				     "would log in here; use an audience of this host's own, such as "
				     "\"host-login:%%h\" (or set policy.allowClusterAudiences: true)",
				     auds->v[i], why);
		if (k8s_buf_printf(warn, "%s%s \"%.80s\" is %s, an audience the cluster accepts for "
				   "itself: policy.allowClusterAudiences lets every token minted for "
				   "the cluster's API (kubectl's, each pod's) log in here",
				   warn->len > 0 ? "; " : "", p, auds->v[i], why) != 0)
			return enomem(c, p);
	}
	return 0;
}

/* Every configured audience; see k8s_config_check_server_audiences. */
static int cluster_audiences(struct cctx *c, const struct k8s_config *cfg, const char *server,
			     char **warning)
{
	struct k8s_buf warn = {0};
	char p[PATHSZ], ip[PATHSZ];
	size_t i;
	int rc = 0;

	*warning = NULL;
	rc = check_audience_list(c, cfg, &cfg->tokenreview.audiences, "tokenReview.audiences",
				 server, &warn);
	if (cfg->authn_config_file != NULL) /* every authenticator has these */
		rc = rc ? rc : check_audience_list(c, cfg, &cfg->authn_audiences,
						   "authenticationConfiguration.audiences", server, &warn);
	for (i = 0; rc == 0 && cfg->authn_config_file == NULL && i < cfg->n_jwt; i++)
		rc = check_audience_list(c, cfg, &cfg->jwt[i].audiences,
					 join(p, idx(ip, "jwt", i), "issuer.audiences"), server, &warn);
	if (rc == 0 && cfg->has_sa)
		rc = check_audience_list(c, cfg, &cfg->sa.audiences, "serviceAccounts.audiences", server,
					 &warn);
	if (rc == 0 && warn.data != NULL && (*warning = strdup(warn.data)) == NULL)
		rc = enomem(c, "policy.allowClusterAudiences");
	k8s_buf_free(&warn);
	return rc;
}

int k8s_config_check_server_audiences(const struct k8s_config *cfg, const char *server,
				      char **warning, struct k8s_err *err)
{
	struct cctx c = {cfg->path, err};

	*warning = NULL;
	if (server == NULL)
		return K8S_OK;
	return cluster_audiences(&c, cfg, server, warning) == 0 ? K8S_OK : K8S_ECONFIG;
}

/* Keep w as (part of) cfg->warning. */
static int add_warning(struct cctx *c, struct k8s_config *cfg, char *w)
{
	char *all = NULL;

	if (w == NULL)
		return 0;
	if (cfg->warning == NULL) {
		cfg->warning = w;
		return 0;
	}
	if (asprintf(&all, "%s; %s", cfg->warning, w) < 0) {
		free(w);
		return enomem(c, "policy.allowClusterAudiences");
	}
	free(w);
	free(cfg->warning);
	cfg->warning = all;
	return 0;
}

/* ---------------------------------------------------------- top level */

static const char *const default_deny[] = {"system:anonymous", "system:bootstrap:*",
	"system:node:*", "system:kube-*"};

static int set_defaults(struct k8s_config *cfg)
{
	cfg->tokenreview.kubeconfig = strdup("/etc/k8s-auth/kubeconfig");
	cfg->tokenreview.timeout_ms = 5000;
	cfg->tokenreview.cache_ttl_ms = 120000;
	cfg->jwt_timeout_ms = 5000;
	cfg->sync.timeout_ms = 10000;
	cfg->jwks_max_stale_ms = 24LL * 3600 * 1000;
	cfg->policy.max_token_lifetime_ms = 24LL * 3600 * 1000;
	cfg->accounts.uid_min = cfg->accounts.gid_min = 200000;
	cfg->accounts.uid_max = cfg->accounts.gid_max = 999999;
	cfg->accounts.home = strdup("/home/%u");
	cfg->accounts.shell = strdup("/bin/bash");
	cfg->store = strdup(K8S_DEFAULT_STORE);
	cfg->cache_dir = strdup(K8S_DEFAULT_CACHEDIR);
	cfg->run_dir = strdup(K8S_DEFAULT_RUNDIR);
	if (strv_set(&cfg->policy.deny_usernames, default_deny,
		     sizeof(default_deny) / sizeof(default_deny[0])) != 0)
		return -1;
	if (!cfg->tokenreview.kubeconfig || !cfg->accounts.home || !cfg->accounts.shell ||
	    !cfg->store || !cfg->cache_dir || !cfg->run_dir)
		return -1;
	return 0;
}

static int parse_root(struct cctx *c, json_t *root, struct k8s_config *cfg)
{
	static const char *const known[] = {"tokenReview", "jwt", "authenticationConfiguration",
		"serviceAccounts", "jwtOptions", "policy", "accounts", "login", "store", "cacheDir",
		"runDir", "sync", NULL};
	char *w = NULL;
	json_t *v;

	if (want_object(c, root, "", 0) || check_keys(c, root, "", known, NULL))
		return K8S_ECONFIG;
	if ((v = json_object_get(root, "tokenReview")) != NULL && parse_tokenreview(c, v, cfg))
		return K8S_ECONFIG;
	if ((v = json_object_get(root, "jwt")) != NULL && parse_jwt(c, v, cfg))
		return K8S_ECONFIG;
	if ((v = json_object_get(root, "authenticationConfiguration")) != NULL &&
	    parse_authn_config(c, v, cfg))
		return K8S_ECONFIG;
	if ((v = json_object_get(root, "serviceAccounts")) != NULL &&
	    (parse_service_accounts(c, v, cfg) || sa_issuer_not_jwt(c, cfg)))
		return K8S_ECONFIG;
	if ((v = json_object_get(root, "jwtOptions")) != NULL && parse_jwt_options(c, v, cfg))
		return K8S_ECONFIG;
	if ((v = json_object_get(root, "policy")) != NULL && parse_policy(c, v, cfg))
		return K8S_ECONFIG;
	if ((v = json_object_get(root, "accounts")) != NULL && parse_accounts(c, v, cfg))
		return K8S_ECONFIG;
	if ((v = json_object_get(root, "login")) != NULL && parse_login(c, v, cfg))
		return K8S_ECONFIG;
	if ((v = json_object_get(root, "sync")) != NULL && parse_sync(c, v, cfg))
		return K8S_ECONFIG;
	if (get_path(c, root, "store", "", 0, &cfg->store) ||
	    get_path(c, root, "cacheDir", "", 0, &cfg->cache_dir) ||
	    get_path(c, root, "runDir", "", 0, &cfg->run_dir))
		return K8S_ECONFIG;
	/* Last: it needs every audience, the issuers and the policy. */
	if (cluster_audiences(c, cfg, NULL, &w) != 0 || add_warning(c, cfg, w) != 0)
		return K8S_ECONFIG;
	return 0;
}

static int config_from_json(json_t *root, const char *name, struct k8s_config **out,
			    struct k8s_err *err)
{
	struct cctx c = {name, err};
	struct k8s_config *cfg;
	int ret = K8S_ECONFIG;

	*out = NULL;
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL || set_defaults(cfg) != 0 || (cfg->path = strdup(name)) == NULL) {
		enomem(&c, "");
		goto out;
	}
	/* An empty file means "all defaults". */
	cfg->raw = json_is_null(root) ? json_object() : json_incref(root);
	if (cfg->raw == NULL) {
		enomem(&c, "");
		goto out;
	}
	if (parse_root(&c, cfg->raw, cfg) != 0)
		goto out;
	*out = cfg;
	cfg = NULL;
	ret = K8S_OK;
out:
	k8s_config_free(cfg);
	return ret;
}

int k8s_config_parse(const char *text, size_t len, const char *name,
		     struct k8s_config **out, struct k8s_err *err)
{
	json_t *root;
	int ret;

	*out = NULL;
	if (name == NULL)
		name = "<config>";
	root = k8s_yaml_parse(text, len, name, err);
	if (root == NULL)
		return K8S_ECONFIG;
	ret = config_from_json(root, name, out, err);
	json_decref(root);
	return ret;
}

/* The configuration decides who may log in as whom: anyone who can write
 * it owns the host.  Refuse a file others could have changed. */
static int check_config_file(const char *path, const struct stat *st, struct k8s_err *err)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return k8s_err_set(err, K8S_ECONFIG, "configuration error",
				   "%s: owned by uid %u, not by root", path, (unsigned)st->st_uid);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return k8s_err_set(err, K8S_ECONFIG, "configuration error",
				   "%s: writable by group or others (mode %04o)", path,
				   (unsigned)(st->st_mode & 07777));
	return K8S_OK;
}

/* The audiences against tokenReview's apiserver URL, when its kubeconfig
 * loads now (a cheap, small file; not readable by every user, maybe not
 * there yet): a configuration error shows at load, not at the first
 * login.  When it does not load, validation compares at use. */
static int server_audiences_at_load(struct k8s_config *cfg, struct k8s_err *err)
{
	struct cctx c = {cfg->path, err};
	struct k8s_kubeconfig *kc = NULL;
	struct k8s_err kerr;
	char *w = NULL;
	int rc = K8S_OK;

	if (!cfg->has_tokenreview || cfg->tokenreview.kubeconfig == NULL)
		return K8S_OK;
	/* Any problem with it is validation's to report, when it is used. */
	k8s_err_clear(&kerr);
	if (k8s_kubeconfig_load(cfg->tokenreview.kubeconfig, &kc, &kerr) == K8S_OK &&
	    kc->server != NULL &&
	    (cluster_audiences(&c, cfg, kc->server, &w) != 0 || add_warning(&c, cfg, w) != 0))
		rc = K8S_ECONFIG;
	k8s_kubeconfig_free(kc);
	return rc;
}

int k8s_config_load(const char *path, struct k8s_config **out, struct k8s_err *err)
{
	struct stat st;
	json_t *root;
	int ret;

	*out = NULL;
	if (path == NULL)
		path = K8S_DEFAULT_CONFIG;
	root = k8s_yaml_load_file_stat(path, CONFIG_MAX_BYTES, &st, err);
	if (root == NULL)
		return K8S_ECONFIG;
	ret = check_config_file(path, &st, err);
	if (ret == K8S_OK)
		ret = config_from_json(root, path, out, err);
	json_decref(root);
	if (ret == K8S_OK)
		ret = server_audiences_at_load(*out, err);
	if (ret != K8S_OK) {
		k8s_config_free(*out);
		*out = NULL;
	}
	return ret;
}

/* ---------------------------------------------------------------- free */

static void claim_mapping_free(struct k8s_claim_mapping *m)
{
	free(m->claim);
	free(m->prefix);
	free(m->expression);
	cel_program_free(m->prog);
}

static void jwt_free(struct k8s_jwt_authenticator *a)
{
	size_t i;

	free(a->issuer_url);
	free(a->discovery_url);
	k8s_strv_free(&a->audiences);
	free(a->audience_match_policy);
	free(a->ca_pem);
	free(a->egress_selector_type);
	for (i = 0; i < a->n_rules; i++) {
		free(a->rules[i].claim);
		free(a->rules[i].required_value);
		free(a->rules[i].expression);
		free(a->rules[i].message);
		cel_program_free(a->rules[i].prog);
	}
	free(a->rules);
	claim_mapping_free(&a->username);
	claim_mapping_free(&a->groups);
	claim_mapping_free(&a->uid);
	for (i = 0; i < a->n_extra; i++) {
		free(a->extra[i].key);
		free(a->extra[i].expression);
		cel_program_free(a->extra[i].prog);
	}
	free(a->extra);
	for (i = 0; i < a->n_user_rules; i++) {
		free(a->user_rules[i].expression);
		free(a->user_rules[i].message);
		cel_program_free(a->user_rules[i].prog);
	}
	free(a->user_rules);
}

static void rules_free(struct k8s_map_rule *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(r[i].match);
		free(r[i].local);
		regfree(&r[i].re);
	}
	free(r);
}

void k8s_config_free(struct k8s_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->tokenreview.kubeconfig);
	k8s_strv_free(&cfg->tokenreview.audiences);
	for (i = 0; i < cfg->n_jwt; i++)
		jwt_free(&cfg->jwt[i]);
	free(cfg->jwt);
	free(cfg->authn_config_file);
	free(cfg->authn_config_version);
	k8s_strv_free(&cfg->authn_audiences);
	k8s_strv_free(&cfg->authn_notes);
	jwt_free(&cfg->sa);
	k8s_strv_free(&cfg->policy.deny_usernames);
	rules_free(cfg->accounts.users, cfg->accounts.n_users);
	rules_free(cfg->accounts.groups, cfg->accounts.n_groups);
	free(cfg->accounts.home);
	free(cfg->accounts.shell);
	for (i = 0; i < cfg->accounts.n_declared; i++)
		free(cfg->accounts.declared[i].name);
	free(cfg->accounts.declared);
	k8s_strv_free(&cfg->accounts.allow_existing);
	k8s_strv_free(&cfg->login.allowed_groups);
	resource_attrs_free(&cfg->login.sar);
	resource_attrs_free(&cfg->login.sudo_sar);
	k8s_strv_free(&cfg->sync.namespaces);
	k8s_strv_free(&cfg->sync.cluster_roles);
	free(cfg->sync.sa_label);
	for (i = 0; i < cfg->sync.n_rules; i++)
		resource_attrs_free(&cfg->sync.rules[i]);
	free(cfg->sync.rules);
	free(cfg->store);
	free(cfg->cache_dir);
	free(cfg->run_dir);
	free(cfg->warning);
	json_decref(cfg->raw);
	free(cfg);
}
