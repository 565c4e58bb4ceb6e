/* sar.c: SubjectAccessReview.  The apiserver's authorizer chain answers
 * (RBAC, webhooks, system:masters): the same verdict kubectl auth can-i
 * gives, so the cluster stays the one place access is granted. */
#include "sar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kubeapi.h"
#include "util.h"

#define SAR_PATH        "/apis/authorization.k8s.io/v1/subjectaccessreviews"
#define SAR_API_VERSION "authorization.k8s.io/v1"
#define SAR_MALFORMED   "malformed SubjectAccessReview answer"

char *k8s_sar_expand_name(const char *tmpl, const char *host, const char *local)
{
	const char *vals[] = { host, local };

	return k8s_expand(tmpl, "hu", vals);
}

static json_t *resource_attributes(const struct k8s_resource_attrs *a, const char *local,
				   const char *host)
{
	json_t *ra = json_object();
	char *name = NULL;
	int bad = ra == NULL;

	if (a->namespace_ != NULL)
		bad |= json_object_set_new(ra, "namespace", json_string(a->namespace_));
	bad |= json_object_set_new(ra, "verb", json_string(a->verb));
	bad |= json_object_set_new(ra, "group", json_string(a->group ? a->group : ""));
	bad |= json_object_set_new(ra, "resource", json_string(a->resource));
	if (a->name != NULL) {
		name = k8s_sar_expand_name(a->name, host, local);
		bad |= name == NULL || json_object_set_new(ra, "name", json_string(name));
	}
	free(name);
	if (bad) {
		json_decref(ra);
		return NULL;
	}
	return ra;
}

json_t *k8s_sar_request(const struct k8s_resource_attrs *a, const struct k8s_identity *id,
			const char *local, const char *host)
{
	json_t *root = NULL, *spec, *groups;
	size_t i;
	int bad;

	if (id == NULL || id->username == NULL || id->username[0] == '\0')
		return NULL;
	spec = json_object();
	groups = json_array();
	bad = spec == NULL || groups == NULL;
	for (i = 0; !bad && i < id->n_groups; i++)
		bad |= json_array_append_new(groups, json_string(id->groups[i]));
	if (!bad)
		bad |= json_object_set_new(spec, "resourceAttributes",
					   resource_attributes(a, local, host));
	bad |= json_object_set_new(spec, "user", json_string(id->username));
	if (id->uid != NULL)
		bad |= json_object_set_new(spec, "uid", json_string(id->uid));
	bad |= json_object_set(spec, "groups", groups);
	if (id->extra != NULL && json_object_size(id->extra) > 0)
		bad |= json_object_set(spec, "extra", id->extra);
	if (!bad) {
		root = json_pack("{s:s, s:s, s:O}", "apiVersion", SAR_API_VERSION,
				 "kind", "SubjectAccessReview", "spec", spec);
		bad = root == NULL;
	}
	json_decref(groups);
	json_decref(spec);
	if (bad) {
		json_decref(root);
		root = NULL;
	}
	return root;
}

static int denied(json_t *status, struct k8s_err *err)
{
	char reason[201] = "", eval[201] = "";

	if (json_is_string(json_object_get(status, "reason")))
		k8s_kubeapi_safe_text(json_string_value(json_object_get(status, "reason")),
				      reason, sizeof(reason));
	if (json_is_string(json_object_get(status, "evaluationError")))
		k8s_kubeapi_safe_text(json_string_value(json_object_get(status, "evaluationError")),
				      eval, sizeof(eval));
	return k8s_err_set(err, K8S_REFUSED, "not allowed by the cluster",
			   "SubjectAccessReview: %s%s%s%s",
			   json_is_true(json_object_get(status, "denied")) ? "denied" : "not allowed",
			   reason[0] ? ": " : "", reason, eval[0] ? " (evaluation error)" : "");
}

int k8s_sar_parse_response(json_t *root, struct k8s_err *err)
{
	json_t *kind = json_object_get(root, "kind"), *ver = json_object_get(root, "apiVersion");
	json_t *status = json_object_get(root, "status");
	json_t *allowed = json_object_get(status, "allowed");

	if (!json_is_string(kind) || strcmp(json_string_value(kind), "SubjectAccessReview") != 0 ||
	    !json_is_string(ver) || strcmp(json_string_value(ver), SAR_API_VERSION) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, SAR_MALFORMED,
				   "kind/apiVersion is not SubjectAccessReview/" SAR_API_VERSION);
	if (!json_is_object(status) || !json_is_boolean(allowed))
		return k8s_err_set(err, K8S_UNAVAILABLE, SAR_MALFORMED,
				   "status.allowed missing or not a boolean");
	if (json_is_true(allowed))
		return K8S_OK;
	return denied(status, err);
}

int k8s_sar_check(const struct k8s_config *cfg, const struct k8s_identity *id, const char *local,
		  enum k8s_sar_kind which, struct k8s_err *err)
{
	const struct k8s_resource_attrs *a = which == K8S_SAR_SUDO ? &cfg->login.sudo_sar
								   : &cfg->login.sar;
	int configured = which == K8S_SAR_SUDO ? cfg->login.has_sudo_sar : cfg->login.has_sar;
	struct k8s_kubeapi api;
	json_t *req = NULL, *resp = NULL;
	char host[256];
	int rc;

	memset(&api, 0, sizeof(api));
	if (!configured)
		return K8S_OK;
	if (gethostname(host, sizeof(host)) != 0) {
		rc = k8s_err_set(err, K8S_UNAVAILABLE, "no host name", "gethostname failed");
		goto out;
	}
	host[sizeof(host) - 1] = '\0';
	req = k8s_sar_request(a, id, local != NULL ? local : "", host);
	if (req == NULL) {
		rc = k8s_err_oom(err, "building the SubjectAccessReview");
		goto out;
	}
	rc = k8s_kubeapi_open(cfg, (long)cfg->tokenreview.timeout_ms, &api, err);
	if (rc != K8S_OK)
		goto out;
	rc = k8s_kubeapi_call(&api, "POST", SAR_PATH, "create subjectaccessreviews", req, &resp, err);
	if (rc == K8S_OK)
		rc = k8s_sar_parse_response(resp, err);
out:
	k8s_kubeapi_close(&api);
	json_decref(resp);
	json_decref(req);
	return rc;
}
