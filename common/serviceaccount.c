/* serviceaccount.c: the apiserver's service-account authenticator,
 * offline (serviceaccount.h).  What it checks, from k8s.io/kubernetes
 * pkg/serviceaccount: jwt.go (the iss among the service-account issuers,
 * a signature by one of their keys, the token's aud meeting the audiences
 * asked for) and claims.go's validator (go-jose's time checks with a 60 s
 * leeway; the kubernetes.io private claim; then the existence checks this
 * file cannot make); the user from ServiceAccountInfo.UserInfo. */
#include "serviceaccount.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "oidc.h"
#include "util.h"

int k8s_sa_claims_token(const struct k8s_config *cfg, const struct k8s_jwt *jwt)
{
	const char *iss;

	if (cfg == NULL || !cfg->has_sa || cfg->sa.issuer_url == NULL || jwt == NULL)
		return 0;
	iss = json_string_value(json_object_get(jwt->payload, "iss"));
	return iss != NULL && strcmp(iss, cfg->sa.issuer_url) == 0;
}

/* The token's aud (a string or a list of strings) must hold one of
 * serviceAccounts.audiences: the apiserver intersects the token's
 * audiences with those asked for (here the host's), and a token without
 * aud is for the apiserver's own audiences only, never a host's. */
static int check_audience(const struct k8s_config *cfg, json_t *payload, struct k8s_err *err)
{
	json_t *aud = json_object_get(payload, "aud"), *v;
	char got[200], want[200];
	size_t i, j;

	k8s_show_strv(&cfg->sa.audiences, want, sizeof(want));
	if (aud == NULL || json_is_null(aud) || (json_is_array(aud) && json_array_size(aud) == 0))
		return k8s_err_set(err, K8S_REFUSED, "wrong audience",
				   "the token has no aud (it is for the apiserver's own audiences); "
				   "expected %s%s", cfg->sa.audiences.n > 1 ? "one of " : "", want);
	if (!json_is_string(aud) && !json_is_array(aud))
		return k8s_err_set(err, K8S_REFUSED, "malformed token",
				   "claim aud is not a string or an array of strings");
	json_array_foreach(aud, i, v)
		if (!json_is_string(v))
			return k8s_err_set(err, K8S_REFUSED, "malformed token",
					   "claim aud is not a string or an array of strings");
	for (j = 0; j < cfg->sa.audiences.n; j++) {
		if (json_is_string(aud) && strcmp(json_string_value(aud), cfg->sa.audiences.v[j]) == 0)
			return K8S_OK;
		json_array_foreach(aud, i, v)
			if (strcmp(json_string_value(v), cfg->sa.audiences.v[j]) == 0)
				return K8S_OK;
	}
	k8s_show_audiences(aud, got, sizeof(got));
	return k8s_err_set(err, K8S_REFUSED, "wrong audience", "the token's aud is %s; expected %s%s",
			   got, cfg->sa.audiences.n > 1 ? "one of " : "", want);
}

/* RFC 1123 label (a namespace's name), or subdomain (a service account's,
 * pod's, node's name): what the apiserver lets objects be called.  A name
 * outside these could not exist, and a ':' in one would make the username
 * system:serviceaccount:NS:NAME ambiguous. */
static int dns_name_ok(const char *s, size_t max, int dots)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];
		int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

		if (alnum)
			continue;
		if (ch != '-' && !(dots && ch == '.'))
			return 0;
		if (i == 0 || i == n - 1 || (ch == '.' && s[i - 1] == '.') ||
		    (ch == '.' && s[i - 1] == '-') || (ch == '-' && s[i - 1] == '.'))
			return 0;
	}
	return 1;
}

/* A reference {name, uid} (go: a struct of two strings; unknown members
 * ignored).  NULL ref is absent (*name = *uid = NULL). */
static int get_ref(json_t *k8s, const char *key, int dns_sub, const char **name, const char **uid,
		   struct k8s_err *err)
{
	json_t *r = json_object_get(k8s, key), *n, *u;

	*name = *uid = NULL;
	if (r == NULL || json_is_null(r))
		return K8S_OK;
	n = json_object_get(r, "name");
	u = json_object_get(r, "uid");
	if (!json_is_object(r) || (n != NULL && !json_is_null(n) && !json_is_string(n)) ||
	    (u != NULL && !json_is_null(u) && !json_is_string(u)))
		return k8s_err_set(err, K8S_REFUSED, "malformed token",
				   "claim kubernetes.io.%s is not an object of strings", key);
	*name = json_string_value(n) != NULL ? json_string_value(n) : "";
	*uid = json_string_value(u) != NULL ? json_string_value(u) : "";
	/* the apiserver looks the object up by name and compares its uid:
	 * nothing real has an empty name or uid */
	if (**name == '\0' || **uid == '\0' || (dns_sub && !dns_name_ok(*name, 253, 1)))
		return k8s_err_set(err, K8S_REFUSED, "invalid service-account token",
				   "claim kubernetes.io.%s does not name an object (name and uid)", key);
	return K8S_OK;
}

static int set_extra(json_t *extra, const char *key, const char *v)
{
	return json_object_set_new(extra, key, json_pack("[s]", v));
}

/* ServiceAccountInfo.UserInfo. */
static int fill_user(const char *ns, const char *name, const char *uid, const char *pod_name,
		     const char *pod_uid, const char *node_name, const char *node_uid,
		     json_t *payload, struct k8s_identity *id)
{
	char *nsgroup = NULL;
	int bad;

	if (asprintf(&id->username, "system:serviceaccount:%s:%s", ns, name) < 0) {
		id->username = NULL;
		return -1;
	}
	if (asprintf(&nsgroup, "system:serviceaccounts:%s", ns) < 0)
		return -1;
	bad = (id->uid = strdup(uid)) == NULL ||
	      k8s_identity_add_group(id, "system:serviceaccounts") != 0 ||
	      k8s_identity_add_group(id, nsgroup) != 0;
	free(nsgroup);
	if (bad)
		return -1;
	if (pod_name != NULL && pod_uid != NULL &&
	    (set_extra(id->extra, K8S_EXTRA_POD_NAME, pod_name) != 0 ||
	     set_extra(id->extra, K8S_EXTRA_POD_UID, pod_uid) != 0))
		return -1;
	/* ServiceAccountTokenJTI (on by default since 1.30): jti as the credential id */
	if (k8s_identity_set_credential_id(id, json_object_get(payload, "jti")) != 0)
		return -1;
	if (node_name != NULL && set_extra(id->extra, K8S_EXTRA_NODE_NAME, node_name) != 0)
		return -1;
	if (node_name != NULL && node_uid != NULL && *node_uid != '\0' &&
	    set_extra(id->extra, K8S_EXTRA_NODE_UID, node_uid) != 0)
		return -1;
	return 0;
}

static int check_private(json_t *payload, struct k8s_identity *id, struct k8s_err *err)
{
	json_t *k8s = json_object_get(payload, "kubernetes.io"), *ns, *jti;
	const char *sa_name, *sa_uid, *pod_name, *pod_uid, *sec_name, *sec_uid, *node_name, *node_uid;
	json_t *sa;

	if (!json_is_object(k8s))
		return k8s_err_set(err, K8S_REFUSED, "invalid service-account token",
				   "the token has no kubernetes.io claim: not a bound service-account "
				   "token");
	ns = json_object_get(k8s, "namespace");
	sa = json_object_get(k8s, "serviceaccount");
	if ((ns != NULL && !json_is_string(ns) && !json_is_null(ns)) ||
	    (sa != NULL && !json_is_object(sa) && !json_is_null(sa)))
		return k8s_err_set(err, K8S_REFUSED, "malformed token",
				   "claim kubernetes.io.namespace or .serviceaccount is of the wrong type");
	if (json_string_value(ns) == NULL || !dns_name_ok(json_string_value(ns), 63, 0))
		return k8s_err_set(err, K8S_REFUSED, "invalid service-account token",
				   "claim kubernetes.io.namespace is not a namespace name");
	if (get_ref(k8s, "serviceaccount", 1, &sa_name, &sa_uid, err) != K8S_OK ||
	    get_ref(k8s, "pod", 1, &pod_name, &pod_uid, err) != K8S_OK ||
	    get_ref(k8s, "secret", 1, &sec_name, &sec_uid, err) != K8S_OK ||
	    get_ref(k8s, "node", 1, &node_name, &node_uid, err) != K8S_OK)
		return K8S_REFUSED;
	if (sa_name == NULL)
		return k8s_err_set(err, K8S_REFUSED, "invalid service-account token",
				   "claim kubernetes.io.serviceaccount is missing");
	jti = json_object_get(payload, "jti");
	if (jti != NULL && !json_is_string(jti) && !json_is_null(jti))
		return k8s_err_set(err, K8S_REFUSED, "malformed token", "claim jti is not a string");
	(void)sec_name;
	(void)sec_uid;
	if (fill_user(json_string_value(ns), sa_name, sa_uid, pod_name, pod_uid, node_name, node_uid,
		      payload, id) != 0)
		return k8s_err_set(err, K8S_REFUSED, "out of memory", "filling the identity");
	return K8S_OK;
}

int k8s_sa_check_claims(const struct k8s_config *cfg, const struct k8s_jwt *jwt, time_t now,
			struct k8s_identity *id, struct k8s_err *err)
{
	struct k8s_err e;
	json_t *sub;
	const char *iss;
	int ret;

	k8s_err_clear(&e);
	memset(id, 0, sizeof(*id));
	if (cfg == NULL || !cfg->has_sa || jwt == NULL || !json_is_object(jwt->payload)) {
		ret = k8s_err_set(&e, K8S_ECONFIG, "configuration error", "no serviceAccounts or token");
		goto out;
	}
	iss = json_string_value(json_object_get(jwt->payload, "iss"));
	if (iss == NULL || strcmp(iss, cfg->sa.issuer_url) != 0) {
		ret = k8s_err_set(&e, K8S_REFUSED, "issuer mismatch", "token iss is not %s",
				  cfg->sa.issuer_url);
		goto out;
	}
	sub = json_object_get(jwt->payload, "sub");
	if (sub != NULL && !json_is_string(sub) && !json_is_null(sub)) {
		ret = k8s_err_set(&e, K8S_REFUSED, "malformed token", "claim sub is not a string");
		goto out;
	}
	/* go-jose's Claims.Validate as the validator calls it (leeway 60 s);
	 * exp expires the token at exp exactly, as on every path here
	 * (docs/design.md [diff:sa-exp]) */
	ret = k8s_jwt_check_times(jwt->payload, now, K8S_TIMES_SERVICEACCOUNT, &e);
	if (ret == K8S_OK)
		ret = check_audience(cfg, jwt->payload, &e);
	if (ret != K8S_OK)
		goto out;
	id->method = "serviceaccount";
	id->issuer = strdup(cfg->sa.issuer_url);
	id->subject = k8s_strdup(json_string_value(sub));
	id->extra = json_object();
	if (id->issuer == NULL || id->extra == NULL || (json_is_string(sub) && id->subject == NULL)) {
		ret = k8s_err_set(&e, K8S_REFUSED, "out of memory", "filling the identity");
		goto out;
	}
	ret = check_private(jwt->payload, id, &e);
	if (ret == K8S_OK)
		ret = k8s_identity_take_jwt_claims(id, jwt->payload, &e);
out:
	if (ret != K8S_OK)
		k8s_identity_free(id);
	if (err != NULL)
		*err = e;
	return ret;
}

int k8s_sa_authenticate_at(const struct k8s_config *cfg, const struct k8s_jwt *jwt, time_t now,
			   struct k8s_identity *id, struct k8s_err *err)
{
	char warning[1024];
	int ret;

	memset(id, 0, sizeof(*id));
	if (cfg == NULL || !cfg->has_sa)
		return k8s_err_set(err, K8S_ECONFIG, "configuration error", "no serviceAccounts section");
	ret = k8s_oidc_verify_at(cfg, &cfg->sa, jwt, now, warning, sizeof(warning), err);
	if (ret == K8S_OK)
		ret = k8s_sa_check_claims(cfg, jwt, now, id, err);
	if (warning[0] != '\0')
		k8s_identity_warn(id, "%s", warning);
	return ret;
}

int k8s_sa_authenticate(const struct k8s_config *cfg, const struct k8s_jwt *jwt,
			struct k8s_identity *id, struct k8s_err *err)
{
	return k8s_sa_authenticate_at(cfg, jwt, time(NULL), id, err);
}
