/* config.h: /etc/k8s-auth/config.yaml (SPEC.md "Configuration"), parsed
 * once into plain C structures.  YAML or JSON; unknown keys are an error
 * (exit 2) so a typo never silently weakens policy.  Every section is
 * optional; has_* says which were present (a section written with no value
 * counts as present, with defaults).  Defaults apply whether or not their
 * section exists.  Keys beyond SPEC.md (cacheDir, runDir, jwtOptions,
 * tokenReview.allowInsecureSkipTLSVerify / allowEmptyAudiences, sync,
 * login.subjectAccessReview / sudoSubjectAccessReview) and the validation
 * rules where SPEC.md is silent are listed at the top of config.c.  Error detail: "<file>: <key path>: <what is wrong>", e.g.
 * "config.yaml: accounts.users[1].local: unknown key". */
#ifndef K8S_CONFIG_H
#define K8S_CONFIG_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "err.h"
#include "util.h"  /* struct k8s_strv */

#define K8S_DEFAULT_CONFIG   "/etc/k8s-auth/config.yaml"
#define K8S_DEFAULT_STORE    "/var/lib/k8s-auth"
#define K8S_DEFAULT_CACHEDIR "/var/cache/k8s-auth"
#define K8S_DEFAULT_RUNDIR   "/run/k8s-auth"

struct cel_program; /* cel.h: compiled CEL, helper only */

/* A claim mapping: claim (+ prefix) or a CEL expression, never both. */
struct k8s_claim_mapping {
	char *claim;       /* NULL = not configured */
	char *prefix;      /* NULL = not set (required by the apiserver when claim is set for username/groups) */
	char *expression;  /* CEL source, NULL = none */
	struct cel_program *prog; /* compiled expression */
};

/* claimValidationRules[i]: claim + requiredValue, or expression + message. */
struct k8s_claim_rule {
	char *claim;
	char *required_value;
	char *expression;
	char *message;
	struct cel_program *prog;
};

/* claimMappings.extra[i]: key + valueExpression. */
struct k8s_extra_mapping {
	char *key;
	char *expression;
	struct cel_program *prog;
};

/* userValidationRules[i]: expression + message. */
struct k8s_user_rule {
	char *expression;
	char *message;
	struct cel_program *prog;
};

/* One entry of the `jwt:` list: the apiserver's JWTAuthenticator
 * (apiserver.config.k8s.io v1beta1/v1), CEL expressions included. */
struct k8s_jwt_authenticator {
	char *issuer_url;            /* exact https URL compared with `iss` */
	char *discovery_url;         /* NULL = issuer_url + "/.well-known/openid-configuration" */
	struct k8s_strv audiences;   /* %h already expanded */
	char *audience_match_policy; /* NULL/"" or "MatchAny" */
	char *ca_pem;                /* NULL = system trust store */
	char *egress_selector_type;  /* NULL, "controlplane" or "cluster": no meaning on a host */
	struct k8s_claim_rule *rules;
	size_t n_rules;
	struct k8s_claim_mapping username; /* claim or expression: required, as in the apiserver */
	struct k8s_claim_mapping groups;
	struct k8s_claim_mapping uid;      /* no prefix */
	struct k8s_extra_mapping *extra;
	size_t n_extra;
	struct k8s_user_rule *user_rules;
	size_t n_user_rules;
};

struct k8s_map_rule {
	char *match;     /* POSIX ERE, as written */
	char *local;     /* replacement, may contain \1..\9 */
	int templated;   /* local contains a back-reference */
	int lowercase;   /* `lowercase: true`: A-Z in what \1..\9 insert become a-z */
	regex_t re;      /* compiled REG_EXTENDED */
};

/* The permission a SubjectAccessReview asks about (its resourceAttributes),
 * and the one `sync.rules` looks for in RBAC roles.  name is a template:
 * %h = this host's name, %u = the local user (SubjectAccessReview only),
 * %% = '%'. */
struct k8s_resource_attrs {
	char *verb;        /* required */
	char *group;       /* API group; default "" (the core group) */
	char *resource;    /* required; no subresource */
	char *name;        /* NULL = no name (any object) */
	char *namespace_;  /* NULL = cluster-scoped (SubjectAccessReview only) */
};

struct k8s_declared {
	char *name;
	int64_t uid;     /* -1 = allocate */
};

struct k8s_config {
	char *path;

	int has_tokenreview;
	struct {
		char *kubeconfig;          /* default /etc/k8s-auth/kubeconfig */
		struct k8s_strv audiences; /* %h expanded; non-empty unless allow_empty_audiences */
		int allow_empty_audiences; /* `allowEmptyAudiences: true` (loudly discouraged) */
		int64_t timeout_ms;        /* default 5000 */
		int64_t cache_ttl_ms;      /* default 120000; 0 = off */
		int allow_insecure;        /* `allowInsecureSkipTLSVerify: true` */
	} tokenreview;

	struct k8s_jwt_authenticator *jwt;
	size_t n_jwt;
	/* `authenticationConfiguration: {file, audiences}`: the jwt list came
	 * from the cluster's AuthenticationConfiguration file (NULL: inline or
	 * none); its audiences replaced every authenticator's. */
	char *authn_config_file;
	char *authn_config_version;        /* its apiVersion */
	struct k8s_strv authn_audiences;   /* authenticationConfiguration.audiences (%h expanded) */
	struct k8s_strv authn_notes;       /* sections accepted and ignored, one sentence each */
	/* `serviceAccounts:` (SPEC.md): the cluster's service-account
	 * authenticator offline (serviceaccount.h).  Only issuer_url,
	 * discovery_url, ca_pem and audiences are set: the key fetch and cache
	 * are the jwt: authenticators' (oidc.c); the audiences are any-of. */
	int has_sa;
	struct k8s_jwt_authenticator sa;
	int64_t jwt_timeout_ms;            /* discovery/JWKS fetch timeout, default 5000 */
	int64_t jwks_max_stale_ms;         /* how long cached keys serve an unreachable issuer, default 24h */

	int has_policy;
	struct {
		int64_t max_token_lifetime_ms;   /* default 24h; 0 = no limit */
		int allow_legacy_sa;             /* default 0 */
		int allow_bootstrap;             /* default 0 */
		struct k8s_strv deny_usernames;  /* globs; defaults of SPEC.md */
		int allow_cluster_audiences;     /* default 0: see k8s_config_check_server_audiences */
	} policy;

	int has_accounts;
	struct {
		struct k8s_map_rule *users;
		size_t n_users;
		uint32_t uid_min, uid_max;   /* default 200000..999999 */
		uint32_t gid_min, gid_max;
		char *home;                  /* default /home/%u */
		char *shell;                 /* default /bin/bash */
		struct k8s_declared *declared;
		size_t n_declared;
		struct k8s_strv allow_existing;
		struct k8s_map_rule *groups;
		size_t n_groups;
	} accounts;

	int has_login;
	struct {
		struct k8s_strv allowed_groups;
		int allow_root;
		int has_sar;                      /* login.subjectAccessReview */
		struct k8s_resource_attrs sar;
		int has_sudo_sar;                 /* login.sudoSubjectAccessReview */
		struct k8s_resource_attrs sudo_sar;
		int first_login;                  /* login.firstLogin (docs/security.md) */
	} login;

	/* `sync:` (docs/sync.md): who the cluster grants host login. */
	int has_sync;
	struct {
		struct k8s_strv namespaces;        /* DNS labels: RoleBindings/SAs read here */
		int service_accounts;              /* every ServiceAccount in namespaces */
		char *sa_label;                    /* serviceAccountLabel: only SAs with this label key */
		struct k8s_strv cluster_roles;     /* bindings to these ClusterRoles grant */
		struct k8s_resource_attrs *rules;  /* roles allowing one of these grant */
		size_t n_rules;
		int64_t timeout_ms;                /* per apiserver request, default 10000 */
	} sync;

	char *store;      /* default /var/lib/k8s-auth */
	char *cache_dir;  /* `cacheDir`, default /var/cache/k8s-auth */
	char *run_dir;    /* `runDir`, default /run/k8s-auth */

	json_t *raw;      /* the whole parsed document, for sections added later */
	/* What every use of this configuration must say (NULL: nothing):
	 * the cluster audiences policy.allowClusterAudiences let through.
	 * k8s_validate_token puts it in every identity's warning. */
	char *warning;
};

/* Load and validate.  path NULL = K8S_DEFAULT_CONFIG.  On error returns
 * K8S_ECONFIG with err->detail naming the file, key and what is wrong. */
int k8s_config_load(const char *path, struct k8s_config **out, struct k8s_err *err);
/* Same, from a string (for tests and fuzzing); name is used in messages. */
int k8s_config_parse(const char *text, size_t len, const char *name,
		     struct k8s_config **out, struct k8s_err *err);
void k8s_config_free(struct k8s_config *cfg);

/* Audiences the cluster accepts for itself must not open a host: its
 * in-cluster names (kubernetes, kubernetes.default, kubernetes.default.svc
 * and kubernetes.default.svc.<domain>), its apiserver URL, its issuers.
 * Compared after %h expansion, without scheme (http/https), default port
 * 443 and trailing slashes, host case-insensitive.  The loader checks
 * every tokenReview and jwt[] audience against the in-cluster names and
 * every configured issuer URL, and, when tokenReview's kubeconfig can be
 * read then, against its server URL.  This compares every audience with
 * server (the kubeconfig's, at use: the loader may not have been able to
 * read it).  K8S_OK, or K8S_ECONFIG with detail naming the file, the key,
 * why and what to use instead; with policy.allowClusterAudiences: true,
 * K8S_OK and *warning (malloc'd, caller frees) says what is let through. */
int k8s_config_check_server_audiences(const struct k8s_config *cfg, const char *server,
				      char **warning, struct k8s_err *err);

#endif
