/* k8s-auth status: "is this host set up right?", without a token.
 *
 * One line per check, `ok|warn|fail  CHECK: what was found; what to do`
 * (a JSON array of {check, result, message, fix} with --json), in the
 * order a login needs them: the configuration and its sections, the
 * kubeconfig, the apiserver and the reviewer's permissions (asked with
 * SelfSubjectAccessReviews), the host clock against the apiserver's Date
 * header, each issuer's discovery document and keys (fetched now, not
 * from the cache), the store, the caches, the helper, the PAM stacks that
 * use pam_k8s.so and nsswitch.conf.  It writes nothing and contacts only
 * the kubeconfig's server and the configured issuers.
 *
 * Exit status (SPEC.md): 2 when a check failed because of the
 * configuration (it does not load, a section a login needs is missing, the
 * kubeconfig is unusable), else 3 when something could not be reached
 * (apiserver, issuer), else 1 when any other check failed (permission
 * denied, clock skew, a stack or nsswitch line missing, the helper or the
 * store), else 0 (warnings included).
 *
 * Clock: a host more than K8S_CLOCK_LEEWAY_S (60 s) behind the cluster
 * refuses freshly minted tokens as issued in the future, and a host ahead
 * cuts every token's life short, so more than 60 s either way fails;
 * more than 15 s warns (the Date header has a resolution of one second,
 * and the request's own time is taken out). */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cachedir.h"
#include "commands.h"
#include "config.h"
#include "http.h"
#include "identity.h"
#include "kubeapi.h"
#include "kubeconfig.h"
#include "oidc.h"
#include "pamargs.h"
#include "preauth.h"
#include "reviewcache.h"
#include "store.h"
#include "storefmt.h"
#include "decide.h"
#include "trusted.h"
#include "util.h"

#ifndef K8S_HELPER_PATH
#define K8S_HELPER_PATH "/usr/libexec/k8s-auth/k8s-auth-helper"
#endif
#define PAM_DIR        "/etc/pam.d"
#define NSSWITCH       "/etc/nsswitch.conf"
#define CLOCK_WARN_S   15
#define CLOCK_FAIL_S   K8S_CLOCK_LEEWAY_S
#define RBAC_HINT      "docs/rbac-reviewer.yaml (/usr/share/doc/k8s-auth/rbac-reviewer.yaml) lists what the reviewer needs"
#define ROOT_HINT      "run k8s-auth status as root"

enum { RES_OK, RES_WARN, RES_FAIL };
static const char *const result_names[] = {"ok", "warn", "fail"};

struct status {
	int json;
	json_t *out;              /* --json: the array */
	int worst[4];             /* failures seen per class: K8S_REFUSED .. K8S_UNAVAILABLE */
	const char *cfgpath;      /* the configuration checked */
	struct k8s_config *cfg;   /* NULL when it did not load */
};

/* One check's line.  cls says what a failure means for the exit status
 * (K8S_REFUSED, K8S_ECONFIG, K8S_UNAVAILABLE); fix may be NULL. */
static void report(struct status *s, int result, int cls, const char *check, const char *fix,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void report(struct status *s, int result, int cls, const char *check, const char *fix,
		   const char *fmt, ...)
{
	char msg[1536];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one line each, whatever a message quotes */
	for (i = 0; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 0x20)
			msg[i] = ' ';
	if (result == RES_FAIL && cls >= K8S_REFUSED && cls <= K8S_UNAVAILABLE)
		s->worst[cls]++;
	if (s->json) {
		json_array_append_new(s->out, json_pack("{s:s, s:s, s:s, s:o}", "check", check,
							"result", result_names[result], "message", msg,
							"fix", fix ? json_string(fix) : json_null()));
		return;
	}
	printf("%-4s  %s: %s%s%s\n", result_names[result], check, msg, fix ? "; " : "", fix ? fix : "");
	fflush(stdout);
}

static int not_root_denied(const char *path)
{
	return geteuid() != 0 && faccessat(AT_FDCWD, path, R_OK, AT_EACCESS) != 0 && errno == EACCES;
}

static const char *dur(int64_t ms, char *buf, size_t n)
{
	if (ms % 3600000 == 0 && ms >= 3600000)
		snprintf(buf, n, "%lldh", (long long)(ms / 3600000));
	else if (ms % 60000 == 0 && ms >= 60000)
		snprintf(buf, n, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, n, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, n, "%lldms", (long long)ms);
	return buf;
}

static void strv_join(const struct k8s_strv *sv, char *buf, size_t n)
{
	size_t i, at = 0;

	buf[0] = '\0';
	for (i = 0; i < sv->n && at < n; i++)
		at += (size_t)snprintf(buf + at, n - at, "%s%s", i ? ", " : "", sv->v[i]);
}

/* ------------------------------------------------------------ the configuration */

static void each_audience(const struct k8s_config *c, void (*fn)(struct status *, const char *, const char *),
			  struct status *s);
static void warn_url_audience(struct status *s, const char *key, const char *aud);

static void check_config(struct status *s)
{
	struct k8s_err err;
	struct stat st;

	k8s_err_clear(&err);
	if (stat(s->cfgpath, &st) != 0) {
		report(s, RES_FAIL, K8S_ECONFIG, "config", "write it (k8s-auth.conf(5)), or name another with --config",
		       "%s: %s", s->cfgpath, strerror(errno));
		return;
	}
	if (k8s_config_load(s->cfgpath, &s->cfg, &err) != K8S_OK) {
		const char *fix = "fix what the message names (k8s-auth.conf(5))";

		if (not_root_denied(s->cfgpath))
			fix = ROOT_HINT;
		else if (strstr(err.detail, "writable by group or others") != NULL)
			fix = "chmod go-w the file (root:root, 0644)";
		else if (strstr(err.detail, "not by root") != NULL)
			fix = "chown root:root the file";
		report(s, RES_FAIL, K8S_ECONFIG, "config", fix, "%s", err.detail[0] ? err.detail : err.reason);
		return;
	}
	if (st.st_uid != 0) {
		/* loaded only because it is ours: the helper, as root, refuses it */
		report(s, RES_FAIL, K8S_ECONFIG, "config", "chown root:root the file",
		       "%s loads for uid %u but is owned by it, not by root: pam_k8s's helper refuses it",
		       s->cfgpath, (unsigned)st.st_uid);
		return;
	}
	report(s, RES_OK, 0, "config", NULL, "%s loads; owner root, mode %04o", s->cfgpath,
	       (unsigned)(st.st_mode & 07777));
	each_audience(s->cfg, warn_url_audience, s);
	if (s->cfg->warning != NULL)
		report(s, RES_WARN, 0, "config.audiences",
		       "remove policy.allowClusterAudiences unless every holder of a cluster token may log in",
		       "%s", s->cfg->warning);
}

static void check_sections(struct status *s)
{
	const struct k8s_config *c = s->cfg;
	char a[512], b[64], d[64];
	size_t i, at;

	if (c->has_tokenreview) {
		strv_join(&c->tokenreview.audiences, a, sizeof(a));
		report(s, RES_OK, 0, "config.tokenReview", NULL,
		       "kubeconfig %s, audiences [%s], timeout %s, cacheTTL %s", c->tokenreview.kubeconfig, a,
		       dur(c->tokenreview.timeout_ms, b, sizeof(b)), dur(c->tokenreview.cache_ttl_ms, d, sizeof(d)));
	} else if (c->n_jwt == 0 && !c->has_sa) {
		report(s, RES_FAIL, K8S_ECONFIG, "config.tokenReview",
		       "add a tokenReview: section, or jwt: issuers or serviceAccounts: (k8s-auth.conf(5))",
		       "missing, and so are jwt and serviceAccounts: no token can be validated");
	} else {
		report(s, RES_OK, 0, "config.tokenReview", NULL,
		       "not configured: only JWTs of the %s are accepted",
		       c->n_jwt > 0 && c->has_sa ? "jwt: issuers and the serviceAccounts: issuer"
		       : c->n_jwt > 0 ? "jwt: issuers" : "serviceAccounts: issuer");
	}
	if (c->has_sa) {
		strv_join(&c->sa.audiences, a, sizeof(a));
		report(s, RES_OK, 0, "config.serviceAccounts", NULL,
		       "%s: bound service-account tokens validated offline, audiences [%s], discovery %s%s; "
		       "legacy secret-based tokens are not; no revocation: a deleted service account, pod, "
		       "secret or node is not seen until the token expires", c->sa.issuer_url, a,
		       c->sa.discovery_url != NULL ? c->sa.discovery_url : "at the issuer",
		       c->sa.ca_pem != NULL ? ", certificateAuthority set" : "");
	} else {
		report(s, RES_OK, 0, "config.serviceAccounts", NULL, "not configured");
	}
	if (c->n_jwt > 0) {
		for (i = 0, at = 0, a[0] = '\0'; i < c->n_jwt && at < sizeof(a); i++)
			at += (size_t)snprintf(a + at, sizeof(a) - at, "%s%s", i ? ", " : "", c->jwt[i].issuer_url);
		report(s, RES_OK, 0, "config.jwt", NULL, "%zu issuer%s: %s", c->n_jwt, c->n_jwt == 1 ? "" : "s", a);
	} else {
		report(s, RES_OK, 0, "config.jwt", NULL, "not configured%s",
		       c->has_tokenreview ? ": tokens go to TokenReview" : "");
	}
	if (c->authn_config_file != NULL) {
		strv_join(&c->authn_audiences, a, sizeof(a));
		report(s, RES_OK, 0, "config.authenticationConfiguration", NULL,
		       "%s (%s): %zu JWT authenticator%s, their audiences replaced by [%s]",
		       c->authn_config_file, c->authn_config_version, c->n_jwt, c->n_jwt == 1 ? "" : "s", a);
	}
	for (i = 0; i < c->authn_notes.n; i++)
		report(s, RES_OK, 0, "config.authenticationConfiguration", NULL, "%s", c->authn_notes.v[i]);
	for (i = 0; i < c->n_jwt; i++) {
		const struct k8s_jwt_authenticator *j = &c->jwt[i];
		size_t n_cel = (j->username.prog != NULL) + (j->groups.prog != NULL) + (j->uid.prog != NULL) +
			       j->n_extra + j->n_user_rules, k;

		for (k = 0; k < j->n_rules; k++)
			n_cel += j->rules[k].prog != NULL;
		snprintf(b, sizeof(b), "config.jwt[%zu]", i);
		if (n_cel > 0)
			report(s, RES_OK, 0, b, NULL, "%s: %zu CEL expression%s compiled", j->issuer_url, n_cel,
			       n_cel == 1 ? "" : "s");
		if (j->egress_selector_type != NULL)
			report(s, RES_OK, 0, b, NULL,
			       "%s: egressSelectorType %s accepted; it has no meaning on a host (the issuer is "
			       "reached directly)", j->issuer_url, j->egress_selector_type);
	}
	report(s, RES_OK, 0, "config.policy", NULL,
	       "%smaxTokenLifetime %s, legacy service-account tokens %s, bootstrap tokens %s, %zu denied usernames",
	       c->has_policy ? "" : "defaults: ",
	       c->policy.max_token_lifetime_ms ? dur(c->policy.max_token_lifetime_ms, b, sizeof(b)) : "unlimited",
	       c->policy.allow_legacy_sa ? "allowed" : "refused", c->policy.allow_bootstrap ? "allowed" : "refused",
	       c->policy.deny_usernames.n);
	if (!c->has_accounts || c->accounts.n_users == 0)
		report(s, RES_FAIL, K8S_ECONFIG, "config.accounts",
		       "add accounts.users rules mapping cluster usernames to local names (k8s-auth.conf(5))",
		       "%s: no cluster username maps to a local account, so nobody can log in",
		       c->has_accounts ? "no accounts.users rule" : "missing");
	else
		report(s, RES_OK, 0, "config.accounts", NULL,
		       "%zu user rule%s, %zu group rule%s, %zu declared, %zu allowExisting, uids %u-%u",
		       c->accounts.n_users, c->accounts.n_users == 1 ? "" : "s", c->accounts.n_groups,
		       c->accounts.n_groups == 1 ? "" : "s", c->accounts.n_declared,
		       c->accounts.allow_existing.n, c->accounts.uid_min, c->accounts.uid_max);
	strv_join(&c->login.allowed_groups, a, sizeof(a));
	report(s, RES_OK, 0, "config.login", NULL, "%sallowRoot %s, allowedGroups %s%s%s%s%s",
	       c->has_login ? "" : "defaults: ", c->login.allow_root ? "true" : "false",
	       c->login.allowed_groups.n ? "[" : "any", a, c->login.allowed_groups.n ? "]" : "",
	       c->login.has_sar ? ", subjectAccessReview at login" : "",
	       c->login.has_sudo_sar ? ", sudoSubjectAccessReview at sudo" : "");
	if (c->has_sync) {
		strv_join(&c->sync.namespaces, a, sizeof(a));
		report(s, RES_OK, 0, "config.sync", NULL, "namespaces [%s]%s, %zu clusterRoles, %zu rules", a,
		       c->sync.service_accounts ? ", every ServiceAccount" : "", c->sync.cluster_roles.n,
		       c->sync.n_rules);
	} else {
		report(s, RES_OK, 0, "config.sync", NULL,
		       "not configured: the store holds declared accounts and those who logged in");
	}
}

/* ------------------------------------------------------------ the kubeconfig and the apiserver */

static void kubeconfig_details(const struct k8s_kubeconfig *kc, char *buf, size_t n)
{
	const char *who = kc->token != NULL ? "token (inline)" :
			  kc->token_file != NULL ? "tokenFile " :
			  kc->client_cert_pem != NULL ? "client certificate" : "none";

	snprintf(buf, n, "server %s, CA %s%s, reviewer %s%s", kc->server ? kc->server : "-",
		 kc->ca_pem ? "from the kubeconfig" : "the system trust store",
		 kc->insecure_skip_verify ? " (insecure-skip-tls-verify)" : "", who,
		 kc->token == NULL && kc->token_file != NULL ? kc->token_file : "");
}

static int check_kubeconfig(struct status *s, struct k8s_kubeapi *api)
{
	const char *path = s->cfg->tokenreview.kubeconfig;
	struct k8s_err err;
	struct stat st;
	char what[640];
	int rc;

	k8s_err_clear(&err);
	rc = k8s_kubeapi_open(s->cfg, (long)s->cfg->tokenreview.timeout_ms, api, &err);
	if (rc != K8S_OK) {
		int denied = not_root_denied(path);

		report(s, RES_FAIL, denied ? K8S_REFUSED : K8S_ECONFIG, "kubeconfig",
		       denied ? ROOT_HINT : strstr(err.detail, "exec") != NULL ?
		       "use a token, tokenFile or client certificate: exec plugins are refused" :
		       strstr(err.detail, "insecure") != NULL ?
		       "give the cluster's certificate-authority instead of insecure-skip-tls-verify" :
		       strstr(err.detail, "readable by others") != NULL || strstr(err.detail, "writable") != NULL ?
		       "chown root:root and chmod 600 the kubeconfig" : "fix what the message names",
		       "%s", err.detail[0] ? err.detail : err.reason);
		return -1;
	}
	kubeconfig_details(api->kc, what, sizeof(what));
	if (stat(path, &st) == 0 && (st.st_uid != 0 || (st.st_mode & 077) != 0))
		report(s, RES_WARN, 0, "kubeconfig", "chown root:root and chmod 600 the kubeconfig",
		       "%s loads (%s) but is owner uid %u, mode %04o, not root 0600", path, what,
		       (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	else
		report(s, RES_OK, 0, "kubeconfig", NULL, "%s loads: %s; owner root, mode 0600", path, what);
	if (api->kc->insecure_skip_verify)
		report(s, RES_WARN, 0, "kubeconfig.tls",
		       "give the cluster's certificate-authority and drop tokenReview.allowInsecureSkipTLSVerify",
		       "the apiserver's certificate is not verified: anyone on the path can answer for it");
	return 0;
}

struct ssar {
	const char *verb, *group, *resource, *namespace_;
};

/* A SelfSubjectAccessReview: 1 allowed, 0 not, -1 no usable answer (err,
 * api->last_status say why). */
static int ask_ssar(struct k8s_kubeapi *api, const struct ssar *q, struct k8s_err *err)
{
	json_t *body, *ra, *out = NULL, *allowed;
	int r = -1;

	ra = json_pack("{s:s, s:s, s:s}", "verb", q->verb, "group", q->group, "resource", q->resource);
	if (ra != NULL && q->namespace_ != NULL)
		json_object_set_new(ra, "namespace", json_string(q->namespace_));
	body = json_pack("{s:s, s:s, s:{s:o}}", "apiVersion", "authorization.k8s.io/v1", "kind",
			 "SelfSubjectAccessReview", "spec", "resourceAttributes", ra);
	if (body == NULL) {
		k8s_err_oom(err, "SelfSubjectAccessReview");
		return -1;
	}
	if (k8s_kubeapi_call(api, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
			     "create selfsubjectaccessreviews", body, &out, err) == K8S_OK) {
		allowed = json_object_get(json_object_get(out, "status"), "allowed");
		if (json_is_boolean(allowed) &&
		    json_is_string(json_object_get(out, "kind")) &&
		    strcmp(json_string_value(json_object_get(out, "kind")), "SelfSubjectAccessReview") == 0)
			r = json_is_true(allowed);
		else
			k8s_err_set(err, K8S_UNAVAILABLE, "malformed apiserver answer",
				    "selfsubjectaccessreviews: not a SelfSubjectAccessReview with status.allowed");
	}
	json_decref(out);
	json_decref(body);
	return r;
}

static double now_s(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* date: the Date header of an answer received between before and after
 * (host clock); whose: "the apiserver's" or "the issuer's". */
static void check_clock(struct status *s, time_t date, double before, double after, const char *whose)
{
	double skew = 0;  /* > 0: the host is ahead */
	const char *fix = "synchronise the host clock (timedatectl set-ntp true: systemd-timesyncd, chrony)";

	if (date == 0) {
		report(s, RES_WARN, 0, "clock", "check the host clock by other means (timedatectl)",
		       "no Date header in %s answer: not compared", whose);
		return;
	}
	/* The server stamped its Date (truncated to the second) between our
	 * send and our receive. */
	if ((double)date + 1 < before)
		skew = before - ((double)date + 1);
	else if ((double)date > after)
		skew = -((double)date - after);
	if (skew > CLOCK_FAIL_S || skew < -CLOCK_FAIL_S)
		report(s, RES_FAIL, K8S_REFUSED, "clock", fix,
		       "the host clock is %.0f s %s %s: more than the %d s of leeway token "
		       "checks allow, so %s", skew > 0 ? skew : -skew, skew > 0 ? "ahead of" : "behind", whose,
		       K8S_CLOCK_LEEWAY_S,
		       skew > 0 ? "tokens expire early and may be refused as expired" :
		       "freshly minted tokens are refused as issued in the future");
	else if (skew > CLOCK_WARN_S || skew < -CLOCK_WARN_S)
		report(s, RES_WARN, 0, "clock", fix, "the host clock is %.0f s %s %s (logins fail beyond %d s)",
		       skew > 0 ? skew : -skew, skew > 0 ? "ahead of" : "behind", whose, CLOCK_FAIL_S);
	else
		report(s, RES_OK, 0, "clock", NULL, "within %d s of %s Date", CLOCK_WARN_S, whose);
}

/* The first SelfSubjectAccessReview also tells whether the apiserver can
 * be reached at all, and whether it takes the reviewer's credentials. */
static int check_apiserver(struct status *s, struct k8s_kubeapi *api)
{
	static const struct ssar tr = {"create", "authentication.k8s.io", "tokenreviews", NULL};
	const char *server = api->kc->server;
	struct k8s_err err;
	double t0, t1, m0;
	int r;

	k8s_err_clear(&err);
	t0 = now_s(CLOCK_REALTIME);
	m0 = now_s(CLOCK_MONOTONIC);
	r = ask_ssar(api, &tr, &err);
	t1 = now_s(CLOCK_REALTIME);
	if (api->last_status == 0) {
		report(s, RES_FAIL, K8S_UNAVAILABLE, "apiserver",
		       strcmp(err.reason, K8S_REASON_TLS_VERIFY) == 0 ?
		       "the kubeconfig's certificate-authority must sign the apiserver's certificate for this "
		       "server name (a clock far off fails TLS too)" :
		       "check the server URL in the kubeconfig, that the apiserver is up, and the network "
		       "(firewall; pam-k8s never uses a proxy)",
		       "%s: %s", server, err.detail[0] ? err.detail : err.reason);
		return -1;
	}
	if (api->last_status >= 500) {
		report(s, RES_FAIL, K8S_UNAVAILABLE, "apiserver", "check the apiserver's health and logs",
		       "%s answered HTTP %ld: %s", server, api->last_status, err.detail);
		return -1;
	}
	report(s, RES_OK, 0, "apiserver", NULL, "%s answered in %.0f ms", server,
	       (now_s(CLOCK_MONOTONIC) - m0) * 1000);
	check_clock(s, api->last_date, t0, t1, "the apiserver's");
	if (api->last_status == 401) {
		report(s, RES_FAIL, K8S_REFUSED, "reviewer",
		       "renew the reviewer's credential in the kubeconfig (token, tokenFile or client certificate)",
		       "the apiserver refuses the reviewer's credentials (401): every TokenReview login fails");
		return -1;
	}
	if (r < 0) {
		report(s, RES_WARN, 0, "reviewer.tokenreviews", RBAC_HINT,
		       "could not ask whether the reviewer may create tokenreviews: %s", err.detail);
		return 0;
	}
	if (r == 0)
		report(s, RES_FAIL, K8S_REFUSED, "reviewer.tokenreviews",
		       "grant it create on tokenreviews.authentication.k8s.io: " RBAC_HINT,
		       "the reviewer may not create tokenreviews.authentication.k8s.io (permission denied): "
		       "every TokenReview login fails");
	else
		report(s, RES_OK, 0, "reviewer.tokenreviews", NULL,
		       "the reviewer may create tokenreviews.authentication.k8s.io");
	return 0;
}

static void check_permission(struct status *s, struct k8s_kubeapi *api, const char *check,
			     const struct ssar *q, const char *why)
{
	struct k8s_err err;
	int r;

	k8s_err_clear(&err);
	r = ask_ssar(api, q, &err);
	if (r < 0)
		report(s, RES_WARN, 0, check, RBAC_HINT, "could not ask whether the reviewer may %s %s: %s",
		       q->verb, q->resource, err.detail);
	else if (r == 0)
		report(s, RES_FAIL, K8S_REFUSED, check, RBAC_HINT,
		       "the reviewer may not %s %s%s%s%s%s (permission denied): %s", q->verb, q->resource,
		       q->group[0] ? "." : "", q->group, q->namespace_ ? " in namespace " : "",
		       q->namespace_ ? q->namespace_ : "", why);
	else
		report(s, RES_OK, 0, check, NULL, "the reviewer may %s %s%s%s%s%s", q->verb, q->resource,
		       q->group[0] ? "." : "", q->group, q->namespace_ ? " in namespace " : "",
		       q->namespace_ ? q->namespace_ : "");
}

/* What `k8s-auth sync` lists (common/sync.c): one line for them all. */
static void check_sync_permissions(struct status *s, struct k8s_kubeapi *api)
{
	const struct k8s_config *c = s->cfg;
	struct ssar q;
	struct k8s_err err;
	char missing[768] = "";
	size_t i, at = 0, asked = 0;
	int r, unknown = 0;

#define ASK(VERB, GROUP, RES, NS)                                                               \
	do {                                                                                    \
		q.verb = VERB;                                                                  \
		q.group = GROUP;                                                                \
		q.resource = RES;                                                               \
		q.namespace_ = NS;                                                              \
		asked++;                                                                        \
		k8s_err_clear(&err);                                                            \
		r = ask_ssar(api, &q, &err);                                                    \
		if (r < 0)                                                                      \
			unknown++;                                                              \
		else if (r == 0 && at < sizeof(missing))                                        \
			at += (size_t)snprintf(missing + at, sizeof(missing) - at, "%s%s %s%s%s", \
					       at ? ", " : "", VERB, RES, NS ? " in " : "",     \
					       NS ? NS : "");                                   \
	} while (0)

	ASK("list", "rbac.authorization.k8s.io", "clusterrolebindings", (const char *)NULL);
	if (c->sync.n_rules > 0)
		ASK("list", "rbac.authorization.k8s.io", "clusterroles", (const char *)NULL);
	for (i = 0; i < c->sync.namespaces.n; i++) {
		ASK("list", "rbac.authorization.k8s.io", "rolebindings", c->sync.namespaces.v[i]);
		if (c->sync.n_rules > 0)
			ASK("list", "rbac.authorization.k8s.io", "roles", c->sync.namespaces.v[i]);
		if (c->sync.service_accounts)
			ASK("list", "", "serviceaccounts", c->sync.namespaces.v[i]);
	}
#undef ASK
	if (missing[0] != '\0')
		report(s, RES_FAIL, K8S_REFUSED, "reviewer.sync", RBAC_HINT,
		       "the reviewer may not %s (permission denied): k8s-auth sync fails", missing);
	else if (unknown > 0)
		report(s, RES_WARN, 0, "reviewer.sync", RBAC_HINT,
		       "could not ask %d of %zu permissions k8s-auth sync needs", unknown, asked);
	else
		report(s, RES_OK, 0, "reviewer.sync", NULL, "the reviewer may list all %zu things k8s-auth sync reads",
		       asked);
}

/* Audiences that are URLs may be ones the cluster itself accepts (an
 * --api-audiences value, another apiserver's URL): config load refuses
 * the ones it can know, this names the rest.  And the issuer the
 * apiserver really uses for service-account tokens (its discovery
 * document) must not be a host audience. */
static void each_audience(const struct k8s_config *c, void (*fn)(struct status *, const char *, const char *),
			  struct status *s)
{
	size_t i, j;

	for (i = 0; c->has_tokenreview && i < c->tokenreview.audiences.n; i++)
		fn(s, "tokenReview.audiences", c->tokenreview.audiences.v[i]);
	for (i = 0; i < c->n_jwt; i++)
		for (j = 0; j < c->jwt[i].audiences.n; j++)
			fn(s, "jwt[].issuer.audiences", c->jwt[i].audiences.v[j]);
	for (i = 0; c->has_sa && i < c->sa.audiences.n; i++)
		fn(s, "serviceAccounts.audiences", c->sa.audiences.v[i]);
}

static void warn_url_audience(struct status *s, const char *key, const char *aud)
{
	if (strncasecmp(aud, "https://", 8) == 0 || strncasecmp(aud, "http://", 7) == 0)
		report(s, RES_WARN, 0, "config.audiences",
		       "use an audience only host login mints for, such as host-login:%h",
		       "%s holds the URL %s: an audience shaped like the cluster's own (an apiserver or "
		       "issuer URL) lets tokens minted for the cluster log in here", key, aud);
}

static const char *sa_issuer;

static void match_sa_issuer(struct status *s, const char *key, const char *aud)
{
	size_t n = strlen(sa_issuer);

	while (n > 0 && sa_issuer[n - 1] == '/')
		n--;
	if (strncmp(aud, sa_issuer, n) == 0 && (aud[n] == '\0' || strcmp(aud + n, "/") == 0))
		report(s, RES_FAIL, K8S_REFUSED, "config.audiences",
		       "use host-login:%h: the cluster's service-account issuer is an audience every "
		       "in-cluster token may carry",
		       "%s holds %s, the service-account issuer the apiserver reports", key, aud);
}

static void check_cluster_issuer(struct status *s, struct k8s_kubeapi *api)
{
	struct k8s_err err;
	json_t *out = NULL;
	const char *iss;

	k8s_err_clear(&err);
	if (k8s_kubeapi_call(api, "GET", "/.well-known/openid-configuration",
			     "get the service-account issuer discovery", NULL, &out, &err) != K8S_OK) {
		report(s, RES_WARN, 0, "cluster.issuer",
		       "let the reviewer read /.well-known/openid-configuration (ClusterRole "
		       "system:service-account-issuer-discovery) so this can be checked",
		       "the apiserver's service-account issuer could not be read (%s)", err.reason);
		return;
	}
	iss = json_string_value(json_object_get(out, "issuer"));
	if (iss == NULL) {
		report(s, RES_WARN, 0, "cluster.issuer", NULL,
		       "the apiserver's discovery document names no issuer");
	} else {
		report(s, RES_OK, 0, "cluster.issuer", NULL,
		       "the apiserver's service-account issuer is %s", iss);
		sa_issuer = iss;
		each_audience(s->cfg, match_sa_issuer, s);
		sa_issuer = NULL;
		if (s->cfg->has_sa && strcmp(iss, s->cfg->sa.issuer_url) != 0)
			report(s, RES_WARN, 0, "cluster.issuer",
			       "set serviceAccounts.issuer to the cluster's --service-account-issuer",
			       "serviceAccounts.issuer is %s, but the apiserver of tokenReview issues "
			       "service-account tokens as %s: its tokens go to TokenReview, not offline",
			       s->cfg->sa.issuer_url, iss);
	}
	json_decref(out);
}

static void check_cluster(struct status *s)
{
	static const struct ssar sar = {"create", "authorization.k8s.io", "subjectaccessreviews", NULL};
	struct k8s_kubeapi api;

	if (!s->cfg->has_tokenreview) {
		report(s, RES_OK, 0, "apiserver", NULL, "not used: no tokenReview section");
		return;
	}
	memset(&api, 0, sizeof(api));
	if (check_kubeconfig(s, &api) == 0 && check_apiserver(s, &api) == 0) {
		if (s->cfg->login.has_sar || s->cfg->login.has_sudo_sar)
			check_permission(s, &api, "reviewer.subjectaccessreviews", &sar,
					 "logins (login.subjectAccessReview) and sudo "
					 "(login.sudoSubjectAccessReview) that ask the cluster fail");
		if (s->cfg->has_sync)
			check_sync_permissions(s, &api);
		check_cluster_issuer(s, &api);
	}
	k8s_kubeapi_close(&api);
}

/* ------------------------------------------------------------ issuers */

static void check_issuers(struct status *s)
{
	struct k8s_oidc_probe p;
	struct k8s_err err;
	char name[32];
	double t0;
	size_t i;
	int r, clock_done = 0;

	for (i = 0; i < s->cfg->n_jwt + (s->cfg->has_sa ? 1 : 0); i++) {
		const struct k8s_jwt_authenticator *a = i < s->cfg->n_jwt ? &s->cfg->jwt[i] : &s->cfg->sa;

		if (i < s->cfg->n_jwt)
			snprintf(name, sizeof(name), "jwt[%zu]", i);
		else
			snprintf(name, sizeof(name), "serviceAccounts");
		k8s_err_clear(&err);
		t0 = now_s(CLOCK_REALTIME);
		r = k8s_oidc_probe(s->cfg, a, &p, &err);
		/* without an apiserver, the first issuer that answers sets the time */
		if (!s->cfg->has_tokenreview && !clock_done && (r == K8S_OK || p.date != 0)) {
			check_clock(s, p.date, t0, now_s(CLOCK_REALTIME), "the issuer's");
			clock_done = 1;
		}
		if (r != K8S_OK)
			report(s, RES_FAIL, err.status == K8S_ECONFIG ? K8S_ECONFIG : K8S_UNAVAILABLE, name,
			       p.untrusted ? "the issuer's certificateAuthority must sign its certificate "
					     "(a clock far off fails TLS too)" :
					     "check that this host reaches the issuer (firewall; pam-k8s never "
					     "uses a proxy) and that its discovery document and JWKS are served",
			       "%s: %s", a->issuer_url, err.detail[0] ? err.detail : err.reason);
		else
			report(s, RES_OK, 0, name, NULL,
			       "%s: discovery and JWKS fetched now: %zu usable key%s from %s%s%s", a->issuer_url,
			       p.n_keys, p.n_keys == 1 ? "" : "s", p.jwks_uri, p.skipped ? "; skipped: " : "",
			       p.skipped ? p.skip_note : "");
	}
}

/* The rule libnss_k8s applies to the store's files (k8s_sf_file_trusted),
 * and readable by the non-root processes that look accounts up.  The
 * name of the first file that breaks it, or NULL. */
static const char *store_file_unserved(const char *dir)
{
	static const char *const files[] = {K8S_SF_FILE, K8S_SF_DELTA_FILE};
	char path[4096];
	struct stat sb;
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (lstat(path, &sb) == 0 && (!k8s_sf_file_trusted(&sb) || (sb.st_mode & 0444) != 0444))
			return files[i];
	}
	return NULL;
}

/* ------------------------------------------------------------ store and caches */

static void check_store(struct status *s)
{
	const struct k8s_config *c = s->cfg;
	struct k8s_store *st = NULL;
	struct stat a, b;
	struct k8s_err err;
	char missing[512] = "";
	const char *unserved;
	size_t i, at = 0, n_missing = 0;

	k8s_err_clear(&err);
	if (stat(c->store, &a) != 0 && errno == ENOENT) {
		if (c->accounts.n_declared > 0)
			report(s, RES_WARN, 0, "store", "run k8s-auth sync",
			       "%s does not exist yet, so the %zu declared accounts do not resolve", c->store,
			       c->accounts.n_declared);
		else
			report(s, RES_OK, 0, "store", NULL,
			       "%s does not exist yet (the first login or k8s-auth sync makes it)", c->store);
	} else if (k8s_store_open(c->store, 0, &st, &err) != K8S_OK ||
		   k8s_store_load_all(st, &err) != K8S_OK) {
		report(s, RES_FAIL, K8S_REFUSED, "store",
		       not_root_denied(c->store) ? ROOT_HINT :
		       "run k8s-auth sync (it salvages what still verifies and rewrites the store)",
		       "%s", err.detail[0] ? err.detail : err.reason);
	} else if (k8s_store_damaged(st)) {
		report(s, RES_FAIL, K8S_REFUSED, "store",
		       "run k8s-auth sync (it salvages what still verifies and rewrites the store)",
		       "%s: damaged: entries that fail their checksum are not served", c->store);
	} else if ((unserved = store_file_unserved(c->store)) != NULL) {
		report(s, RES_FAIL, K8S_REFUSED, "store", "run k8s-auth sync (it rewrites the store's files)",
		       "%s/%s is not root's, is group- or world-writable, or is not world-readable: "
		       "libnss_k8s serves nothing from the store while it is (mode 0644, root's)",
		       c->store, unserved);
	} else {
		for (i = 0; i < c->accounts.n_declared; i++)
			if (k8s_store_find_user(st, c->accounts.declared[i].name) == NULL) {
				n_missing++;
				if (at < sizeof(missing))
					at += (size_t)snprintf(missing + at, sizeof(missing) - at, "%s%s",
							       at ? ", " : "", c->accounts.declared[i].name);
			}
		if (n_missing > 0)
			report(s, RES_WARN, 0, "store", "run k8s-auth sync",
			       "%s: %zu declared account%s not in the store: %s", c->store, n_missing,
			       n_missing == 1 ? " is" : "s are", missing);
		else
			report(s, RES_OK, 0, "store", NULL,
			       "%s: %zu accounts, %zu groups, generation %llu; every record verifies", c->store,
			       st->n_users, st->n_groups, (unsigned long long)st->generation);
	}
	k8s_store_close(st);
	/* libnss_k8s.so.2 reads its compiled-in directory, never the config */
	if (stat(K8S_STOREDIR, &b) == 0 && stat(c->store, &a) == 0 &&
	    (a.st_dev != b.st_dev || a.st_ino != b.st_ino))
		report(s, RES_WARN, 0, "store.nss", "set store: " K8S_STOREDIR " (or build with make STOREDIR=...)",
		       "the configuration's store is %s but libnss_k8s.so.2 reads " K8S_STOREDIR
		       ": the accounts logins record do not resolve", c->store);
	else if (strcmp(c->store, K8S_STOREDIR) != 0 && stat(c->store, &a) == 0 && stat(K8S_STOREDIR, &b) != 0)
		report(s, RES_WARN, 0, "store.nss", "set store: " K8S_STOREDIR,
		       "the configuration's store is %s but libnss_k8s.so.2 reads " K8S_STOREDIR
		       ", which does not exist", c->store);
}

/* login.firstLogin: is libnss_k8s's switch in the state the configuration
 * asks for, and is nothing in the way (docs/security.md)? */
static void check_first_login(struct status *s)
{
	const struct k8s_config *c = s->cfg;
	const char *pol = K8S_PREAUTH_DIR "/" K8S_PREAUTH_POLICY;
	char want[K8S_PREAUTH_FILE], have[K8S_PREAUTH_FILE + 1];
	struct stat sb;
	ssize_t n = -1;
	int dfd, wn;

	dfd = open(K8S_PREAUTH_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd >= 0) {
		n = k8s_preauth_read(dfd, K8S_PREAUTH_POLICY, have, sizeof(have));
		close(dfd);
	}
	if (!c->login.first_login) {
		if (n >= 0 || lstat(pol, &sb) == 0)
			report(s, RES_WARN, 0, "firstLogin", "run k8s-auth sync (any PAM call removes it too)",
			       "login.firstLogin is off but %s is still there: sshd is still served "
			       "pre-authentication entries", pol);
		return;
	}
	wn = k8s_preauth_policy_line(c, want, sizeof(want));
	if (wn < 0) {
		report(s, RES_FAIL, K8S_ECONFIG, "firstLogin", "use paths without spaces",
		       "accounts.home and accounts.shell must be absolute paths of printable "
		       "characters without spaces for login.firstLogin");
		return;
	}
	if (n < 0 && geteuid() != 0 && errno == EACCES) {
		report(s, RES_WARN, 0, "firstLogin", ROOT_HINT, "%s cannot be read", pol);
		return;
	}
	if (n != wn || memcmp(want, have, (size_t)wn) != 0)
		report(s, RES_WARN, 0, "firstLogin", "run k8s-auth sync (or wait for the next PAM call)",
		       "%s %s: first login %s", pol, n < 0 ? "is missing" : "is out of date",
		       n < 0 ? "is not on yet" : "uses the old ranges, home or shell");
	else
		report(s, RES_OK, 0, "firstLogin", NULL, "on: %s names %s", pol, K8S_SSHD_PATH);
	if (stat(K8S_STOREDIR "/" K8S_SF_FILE, &sb) != 0)
		report(s, RES_WARN, 0, "firstLogin.store", "run k8s-auth sync",
		       "no identity store at " K8S_STOREDIR ": libnss_k8s serves nothing before one exists");
	{
		char nss[16384];
		ssize_t got;
		int fd = open(NSSWITCH, O_RDONLY | O_CLOEXEC);

		got = fd < 0 ? -1 : read(fd, nss, sizeof(nss));
		if (fd >= 0)
			close(fd);
		if (got < 0 || (size_t)got >= sizeof(nss) || !k8s_preauth_k8s_last(nss, (size_t)got))
			report(s, RES_WARN, 0, "firstLogin.nsswitch", "make k8s the last service of the passwd: line",
			       "k8s is not the last service of the passwd: line of " NSSWITCH ": libnss_k8s "
			       "serves no pre-authentication entry (a service after it, such as sss, ldap or "
			       "winbind, has names the store does not)");
	}
	if (stat("/run/nscd/socket", &sb) == 0 || stat("/var/run/nscd/socket", &sb) == 0)
		report(s, RES_WARN, 0, "firstLogin.nscd", "set enable-cache passwd no in /etc/nscd.conf",
		       "nscd is running: if it caches passwd, sshd gets nscd's \"not found\", never the "
		       "pre-authentication entry");
}

static void check_cache_dir(struct status *s)
{
	struct k8s_err err;
	const char *base = s->cfg->cache_dir;
	mode_t mode = 0;
	uid_t uid = 0;
	int dfd;

	k8s_err_clear(&err);
	if (k8s_cachedir_open(s->cfg, NULL, &dfd, &mode, &uid, &err) != K8S_OK) {
		int denied = strstr(err.detail, "only root") != NULL;

		report(s, denied ? RES_FAIL : RES_WARN, K8S_REFUSED, "cache",
		       denied ? ROOT_HINT : "chown root:root and chmod 700 the directory",
		       "%s%s", err.detail, denied ? "" : ": logins fetch keys and ask TokenReview every time");
		return;
	}
	if (dfd < 0) {
		report(s, RES_OK, 0, "cache", NULL, "%s does not exist yet (made 0700 at first use)", base);
		return;
	}
	close(dfd);
	if (uid != 0 || (mode & 077) != 0)
		report(s, RES_WARN, 0, "cache", "chown root:root and chmod 700 the directory",
		       "%s: owner uid %u, mode %04o, not root 0700", base, (unsigned)uid, (unsigned)mode);
	else
		report(s, RES_OK, 0, "cache", NULL, "%s: owner root, mode 0700", base);
}

static void check_cache_entries(struct status *s, const char *sub, const char *check, const char *what)
{
	struct k8s_cachedir_scan sc;
	struct k8s_err err;
	char ttl[32];
	int dfd;

	k8s_err_clear(&err);
	if (k8s_cachedir_open(s->cfg, sub, &dfd, NULL, NULL, &err) != K8S_OK) {
		int denied = strstr(err.detail, "only root") != NULL;

		report(s, denied ? RES_FAIL : RES_WARN, K8S_REFUSED, check,
		       denied ? ROOT_HINT : "chown root:root and chmod 700 the directory, or k8s-auth cache clear",
		       "%s", err.detail);
		return;
	}
	if (dfd < 0) {
		report(s, RES_OK, 0, check, NULL, "no %s cached", what);
		return;
	}
	if (k8s_cachedir_sweep(dfd, 0, NULL, NULL, &sc) != 0)
		report(s, RES_WARN, 0, check, "k8s-auth cache clear", "%s/%s: %s", s->cfg->cache_dir, sub,
		       strerror(errno));
	else if (strcmp(sub, K8S_CACHEDIR_REVIEWS) == 0)
		report(s, RES_OK, 0, check, NULL, "%zu %s (tokenReview.cacheTTL %s)%s", sc.entries, what,
		       s->cfg->has_tokenreview ? dur(s->cfg->tokenreview.cache_ttl_ms, ttl, sizeof(ttl)) : "-",
		       sc.entries >= K8S_REVIEWCACHE_MAX_ENTRIES ? ", full: the oldest are replaced" : "");
	else
		report(s, RES_OK, 0, check, NULL, "%zu %s", sc.entries, what);
	close(dfd);
}

/* ------------------------------------------------------------ the helper */

/* As pam_k8s/spawn.c opens it (trusted.c). */
static void check_helper(struct status *s)
{
	const char *fix = "reinstall the k8s-auth package: the helper is root:root 0755, in root-owned "
			  "directories no one else can write";
	char why[512];
	struct stat sb;
	int fd = k8s_open_trusted_exec(K8S_HELPER_PATH, &sb, why, sizeof(why));

	if (fd < 0) {
		report(s, RES_FAIL, K8S_REFUSED, "helper", fix, "%s: pam_k8s refuses every user it handles", why);
		return;
	}
	report(s, RES_OK, 0, "helper", NULL, "%s: owner root, mode %04o", K8S_HELPER_PATH,
	       (unsigned)(sb.st_mode & 07777));
	close(fd);
}

/* ------------------------------------------------------------ PAM stacks */

struct pam_line {
	int lineno;
	char type[16];
	char text[512];        /* type control module args, as the line reads */
	char bad[512];         /* the arguments the module does not know */
	char config[PATH_MAX]; /* config= (empty: the default) */
	int missing;           /* the module file does not exist */
};

struct pam_file {
	char name[256];
	char **includes;       /* files this one includes (@include, include, substack) */
	size_t n_includes;
	struct pam_line *lines;/* its pam_k8s.so lines */
	size_t n_lines;
};

/* One field of a stack line (Linux-PAM's rules): "[...]" may hold spaces
 * ("\]" is a ']'), and loses its brackets when strip is set. */
static char *pam_field(char **pp, int strip)
{
	char *p = *pp, *start, *w;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return NULL;
	start = w = p;
	if (*p == '[') {
		if (!strip)
			*w++ = *p;
		p++;
		while (*p != '\0' && *p != ']') {
			if (p[0] == '\\' && p[1] == ']')
				p++;
			*w++ = *p++;
		}
		if (*p == ']') {
			if (!strip)
				*w++ = ']';
			p++;
		}
		while (*p != '\0' && *p != ' ' && *p != '\t')
			*w++ = *p++;
	} else {
		while (*p != '\0' && *p != ' ' && *p != '\t')
			*w++ = *p++;
	}
	if (*p != '\0')
		p++;
	*w = '\0';
	*pp = p;
	return start;
}

static int module_exists(const char *mod)
{
	static const char *const pats[] = {"/lib/*/security/", "/usr/lib/*/security/", "/lib/security/",
					   "/usr/lib/security/", "/lib64/security/", "/usr/lib64/security/"};
	char pat[PATH_MAX];
	glob_t g;
	size_t i;
	int found = 0;

	if (mod[0] == '/')
		return access(mod, F_OK) == 0;
	for (i = 0; i < sizeof(pats) / sizeof(pats[0]) && !found; i++) {
		snprintf(pat, sizeof(pat), "%s%s", pats[i], mod);
		if (glob(pat, 0, NULL, &g) == 0)
			found = g.gl_pathc > 0;
		globfree(&g);
	}
	return found;
}

static int add_include(struct pam_file *f, const char *name)
{
	char **v = realloc(f->includes, (f->n_includes + 1) * sizeof(*v));

	if (v == NULL)
		return -1;
	f->includes = v;
	if ((v[f->n_includes] = strdup(name)) == NULL)
		return -1;
	f->n_includes++;
	return 0;
}

static void parse_pam_line(struct pam_file *f, char *line, int lineno)
{
	char *p = line, *type, *control, *mod, *arg, *base, *v;
	struct pam_line *pl, *nl;
	size_t at = 0, bat = 0;
	int seconds;

	type = pam_field(&p, 0);
	if (type == NULL)
		return;
	if (strcmp(type, "@include") == 0) {
		if ((arg = pam_field(&p, 0)) != NULL)
			add_include(f, arg);
		return;
	}
	control = pam_field(&p, 0);
	mod = control != NULL ? pam_field(&p, 0) : NULL;
	if (mod == NULL)
		return;
	if (strcmp(control, "include") == 0 || strcmp(control, "substack") == 0) {
		add_include(f, mod);
		return;
	}
	base = strrchr(mod, '/') ? strrchr(mod, '/') + 1 : mod;
	if (strcmp(base, "pam_k8s.so") != 0)
		return;
	nl = realloc(f->lines, (f->n_lines + 1) * sizeof(*nl));
	if (nl == NULL)
		return;
	f->lines = nl;
	pl = &f->lines[f->n_lines++];
	memset(pl, 0, sizeof(*pl));
	pl->lineno = lineno;
	snprintf(pl->type, sizeof(pl->type), "%s", type[0] == '-' ? type + 1 : type);
	pl->missing = !module_exists(mod);
	at = (size_t)snprintf(pl->text, sizeof(pl->text), "%s %s %s", type, control, mod);
	while ((arg = pam_field(&p, 1)) != NULL) {
		/* shown as written: bracketed when it holds blanks */
		if (at < sizeof(pl->text))
			at += (size_t)snprintf(pl->text + at, sizeof(pl->text) - at,
					       strpbrk(arg, " \t") ? " [%s]" : " %s", arg);
		switch (k8s_pam_arg(arg, (const char **)&v, &seconds)) {
		case K8S_PAM_ARG_BAD:
			if (bat < sizeof(pl->bad))
				bat += (size_t)snprintf(pl->bad + bat, sizeof(pl->bad) - bat, "%s\"%.64s\"",
							bat ? ", " : "", arg);
			break;
		case K8S_PAM_ARG_CONFIG:
			snprintf(pl->config, sizeof(pl->config), "%s", v);
			break;
		default:
			break;
		}
	}
}

static void read_pam_file(int dfd, struct pam_file *f)
{
	struct k8s_buf in = {0}, acc = {0};
	char *line, *nl, *hash;
	size_t len;
	int fd, lineno = 0, start = 0;

	fd = openat(dfd, f->name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	if (k8s_buf_read_fd(&in, fd, 1u << 20) != 0) {
		close(fd);
		k8s_buf_free(&in);
		return;
	}
	close(fd);
	for (line = in.data; line != NULL && *line != '\0'; line = nl) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		lineno++;
		if (acc.len == 0)
			start = lineno;
		/* as Linux-PAM: a comment ends the physical line; a backslash at
		 * its end continues the logical line on the next */
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\\' && nl != NULL) {
			line[len - 1] = ' ';
			if (k8s_buf_append(&acc, line, len) != 0)
				break;
			continue;
		}
		if (k8s_buf_append(&acc, line, len + 1) != 0)
			break;
		parse_pam_line(f, acc.data, start);
		acc.len = 0;
	}
	k8s_buf_free(&acc);
	k8s_buf_free(&in);
}

static struct pam_file *find_file(struct pam_file *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

/* Does service s reach file target through includes (depth-bounded)? */
static int reaches(struct pam_file *v, size_t n, struct pam_file *s, const struct pam_file *target, int depth)
{
	struct pam_file *g;
	size_t i;

	if (s == target)
		return 1;
	if (depth > 8)
		return 0;
	for (i = 0; i < s->n_includes; i++) {
		const char *inc = strrchr(s->includes[i], '/') ? strrchr(s->includes[i], '/') + 1 : s->includes[i];

		g = find_file(v, n, inc);
		if (g != NULL && reaches(v, n, g, target, depth + 1))
			return 1;
	}
	return 0;
}

static int same_file(const char *a, const char *b)
{
	struct stat x, y;

	if (strcmp(a, b) == 0)
		return 1;
	return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct pam_file *)a)->name, ((const struct pam_file *)b)->name);
}

static void check_pam(struct status *s)
{
	struct pam_file *v = NULL, *nv, *f;
	struct dirent *de;
	char name[300], users[512], lines[1024];
	size_t n = 0, i, j, k, at, uat, using = 0, accounts = 0;
	int dfd;
	DIR *d;

	dfd = open(PAM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (d == NULL) {
		report(s, RES_FAIL, K8S_REFUSED, "pam", "install Linux-PAM's configuration", "%s: %s", PAM_DIR,
		       strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.' || fstatat(dfd, de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode) ||
		    strlen(de->d_name) >= sizeof(v->name))
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (nv == NULL)
			break;
		v = nv;
		memset(&v[n], 0, sizeof(v[n]));
		snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
		read_pam_file(dfd, &v[n]);
		n++;
	}
	if (n > 0)
		k8s_qsort(v, n, sizeof(*v), by_name);
	for (i = 0; i < n; i++) {
		f = &v[i];
		if (f->n_lines == 0)
			continue;
		using++;
		/* the services that reach this file through includes */
		users[0] = '\0';
		for (j = 0, uat = 0; j < n; j++)
			if (j != i && uat < sizeof(users) && reaches(v, n, &v[j], f, 0))
				uat += (size_t)snprintf(users + uat, sizeof(users) - uat, "%s%s", uat ? ", " : "",
							v[j].name);
		lines[0] = '\0';
		for (k = 0, at = 0; k < f->n_lines && at < sizeof(lines); k++) {
			at += (size_t)snprintf(lines + at, sizeof(lines) - at, "%s%s", k ? "; " : "",
					       f->lines[k].text);
			accounts += strcmp(f->lines[k].type, "account") == 0;
		}
		snprintf(name, sizeof(name), "pam.%s", f->name);
		for (k = 0; k < f->n_lines; k++) {
			const struct pam_line *l = &f->lines[k];
			const char *cfg = l->config[0] ? l->config : K8S_DEFAULT_CONFIG;

			if (l->bad[0] != '\0')
				report(s, RES_FAIL, K8S_REFUSED, name,
				       "fix the argument; pam_k8s knows " K8S_PAM_ARGS_KNOWN,
				       "line %d: unknown or malformed argument %s to pam_k8s.so: pam_k8s refuses "
				       "every user it handles through this stack%s%s%s", l->lineno, l->bad,
				       users[0] ? " (used by " : "", users, users[0] ? ")" : "");
			if (l->missing && l->text[0] != '-')
				report(s, RES_FAIL, K8S_REFUSED, name, "install libpam-k8s, or fix the module path",
				       "line %d: the module file does not exist: this stack fails", l->lineno);
			if (!same_file(cfg, s->cfgpath))
				report(s, RES_WARN, 0, name, "check that configuration too: k8s-auth status --config FILE",
				       "line %d uses %s%s, not %s, the file checked here", l->lineno,
				       l->config[0] ? "config=" : "the default ", cfg, s->cfgpath);
		}
		report(s, RES_OK, 0, name, NULL, "%s%s%s%s", lines, users[0] ? " (used by " : "", users,
		       users[0] ? ")" : "");
	}
	if (using == 0)
		report(s, RES_FAIL, K8S_REFUSED, "pam",
		       "pam-auth-update --enable k8s (Debian), or add pam_k8s to the stacks (guide.md, PAM)",
		       "no file in " PAM_DIR " uses pam_k8s.so: no login asks for a token");
	else if (accounts == 0)
		report(s, RES_WARN, 0, "pam", "add 'account required pam_k8s.so' after pam_unix (guide.md, PAM)",
		       "no account line uses pam_k8s.so: the login policy is not re-checked at account, and sudo "
		       "is not re-validated with the cluster");
	for (i = 0; i < n; i++) {
		for (j = 0; j < v[i].n_includes; j++)
			free(v[i].includes[j]);
		free(v[i].includes);
		free(v[i].lines);
	}
	free(v);
	closedir(d);
}

/* ------------------------------------------------------------ NSS */

static void check_nsswitch(struct status *s)
{
	static const char *const dbs[] = {"passwd", "group", "initgroups"};
	char line[1024], name[32], *p, *tok, *save;
	int found[3] = {0, 0, 0}, has_k8s[3] = {0, 0, 0};
	size_t i;
	FILE *f = fopen(NSSWITCH, "re");
	void *h;

	if (f == NULL) {
		report(s, RES_FAIL, K8S_REFUSED, "nsswitch", "add passwd: and group: lines with k8s",
		       "%s: %s", NSSWITCH, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		for (i = 0; i < 3; i++) {
			size_t l = strlen(dbs[i]);

			p = line + strspn(line, " \t");
			if (strncmp(p, dbs[i], l) != 0 || p[l + strspn(p + l, " \t")] != ':')
				continue;
			found[i] = 1;
			has_k8s[i] = 0;
			p = strchr(p, ':') + 1;
			for (tok = strtok_r(p, " \t\n", &save); tok != NULL; tok = strtok_r(NULL, " \t\n", &save))
				if (strcmp(tok, "k8s") == 0)
					has_k8s[i] = 1;
		}
	}
	fclose(f);
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "nsswitch.%s", dbs[i]);
		if (i == 2 && !found[i])
			continue;  /* no initgroups line: glibc asks the group: services */
		if (has_k8s[i])
			report(s, RES_OK, 0, name, NULL, "the %s: line of " NSSWITCH " has k8s", dbs[i]);
		else
			report(s, RES_FAIL, K8S_REFUSED, name,
			       i == 2 ? "add k8s to the initgroups: line (or remove that line)" :
			       "add k8s to the line, after files (the libnss-k8s package does so on install)",
			       "%s: %s", NSSWITCH, found[i] ? "the line has no k8s" : "no such line, so no k8s");
	}
	/* what glibc loads for "k8s" */
	h = dlopen("libnss_k8s.so.2", RTLD_LAZY | RTLD_LOCAL);
	if (h == NULL) {
		report(s, RES_FAIL, K8S_REFUSED, "nss.module", "install libnss-k8s",
		       "libnss_k8s.so.2 cannot be loaded: %s", dlerror());
		return;
	}
	if (dlsym(h, "_nss_k8s_getpwnam_r") == NULL)
		report(s, RES_FAIL, K8S_REFUSED, "nss.module", "reinstall libnss-k8s",
		       "libnss_k8s.so.2 has no _nss_k8s_getpwnam_r");
	else
		report(s, RES_OK, 0, "nss.module", NULL, "libnss_k8s.so.2 loads");
	dlclose(h);
}

/* ------------------------------------------------------------ main */

int cmd_status(int argc, char **argv, const char *config_path)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct status s;
	int c, rc;

	memset(&s, 0, sizeof(s));
	s.cfgpath = config_path != NULL ? config_path : K8S_DEFAULT_CONFIG;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j') {
			fprintf(stderr, "usage: k8s-auth status [--config PATH] [--json]\n");
			return K8S_ECONFIG;
		}
		s.json = 1;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: k8s-auth status [--config PATH] [--json]\n");
		return K8S_ECONFIG;
	}
	if (s.json)
		s.out = json_array();
	if (geteuid() != 0)
		report(&s, RES_WARN, 0, "privileges", ROOT_HINT,
		       "running as uid %u: the kubeconfig, the caches and the helper's view are root's",
		       (unsigned)geteuid());
	check_config(&s);
	if (s.cfg != NULL) {
		check_sections(&s);
		check_cluster(&s);
		check_issuers(&s);
		check_store(&s);
		check_first_login(&s);
		check_cache_dir(&s);
		check_cache_entries(&s, K8S_CACHEDIR_JWKS, "cache.jwks", "issuer key sets");
		check_cache_entries(&s, K8S_CACHEDIR_REVIEWS, "cache.reviews", "TokenReview answers");
	}
	check_helper(&s);
	check_pam(&s);
	check_nsswitch(&s);
	if (s.json) {
		json_dumpf(s.out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(s.out);
	}
	rc = s.worst[K8S_ECONFIG] ? K8S_ECONFIG : s.worst[K8S_UNAVAILABLE] ? K8S_UNAVAILABLE :
	     s.worst[K8S_REFUSED] ? K8S_REFUSED : K8S_OK;
	k8s_config_free(s.cfg);
	return rc;
}
