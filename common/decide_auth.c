/* decide_auth.c: pam_sm_authenticate's decisions.  probe: is this a user
 * pam_k8s handles, and which audience does the prompt name?  auth: the
 * token the module collected (or PAM_AUTHTOK), validated (engine),
 * authorized for exactly PAM_USER (authz), recorded in the store, with
 * state left for the later phases.  Everyone else gets IGNORE before any
 * prompt. */
#include "decide.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <jansson.h>

#include "jwt.h"
#include "validate.h"

const char *k8s_prompt_audience(const struct k8s_config *cfg)
{
	size_t i;

	if (cfg->has_tokenreview && cfg->tokenreview.audiences.n > 0)
		return cfg->tokenreview.audiences.v[0];
	if (cfg->has_sa && cfg->sa.audiences.n > 0)
		return cfg->sa.audiences.v[0];
	for (i = 0; i < cfg->n_jwt; i++)
		if (cfg->jwt[i].audiences.n > 0)
			return cfg->jwt[i].audiences.v[0];
	return "";
}

/* Is rq->user one to decide for?  K8S_OK yes; otherwise *verdict is the
 * answer (IGNORE, or UNAVAILABLE when it cannot be told). */
static int handled(const struct k8s_config *cfg, const struct k8s_request *rq,
		   struct k8s_answer *an, const char *what)
{
	struct k8s_err err;
	int ours;

	k8s_err_clear(&err);
	ours = k8s_user_is_ours(cfg, rq->user, &err);
	/* login.firstLogin, from sshd: every valid name gets the token prompt,
	 * local accounts too (an empty answer falls through), so the prompt
	 * tells nobody which names exist (docs/security.md) */
	if (ours == 0 && cfg->login.first_login && k8s_valid_local_name(rq->user) &&
	    k8s_preauth_is_sshd(rq->caller))
		ours = 1;
	if (ours < 0) {
		k8s_log_refusal(an, what, rq->user, NULL, &err);
		an->verdict = K8S_HV_UNAVAILABLE;
		an->err = err;
		return -1;
	}
	if (ours == 0) {
		k8s_answer_debug(an, rq, "%s is not a user pam_k8s handles", rq->user);
		an->verdict = K8S_HV_IGNORE;
		k8s_err_set(&an->err, K8S_REFUSED, "not a user pam_k8s handles",
			    "%s is neither declared, synced, logged in before, nor in accounts.allowExisting",
			    rq->user);
		return -1;
	}
	if (rq->flags & K8S_HPF_BAD_ARGS) {
		k8s_err_set(&err, K8S_REFUSED, "unknown module argument",
			    "the PAM stack line has an argument pam_k8s does not know (logged above); fix the line");
		k8s_log_refusal(an, what, rq->user, NULL, &err);
		an->verdict = K8S_HV_REFUSED;
		an->err = err;
		return -1;
	}
	return K8S_OK;
}

void k8s_decide_probe(const struct k8s_config *cfg, const struct k8s_request *rq,
		      struct k8s_answer *an)
{
	if (handled(cfg, rq, an, "auth refused") != K8S_OK)
		return;
	if (geteuid() != 0)
		k8s_answer_log(an, LOG_WARNING, "running without root: the store cannot be updated");
	snprintf(an->audience, sizeof(an->audience), "%s", k8s_prompt_audience(cfg));
	an->verdict = K8S_HV_OK;
}

/* PAM_AUTHTOK may be another module's password.  It is taken for a token
 * only when it is a JWS whose header names an algorithm and whose payload
 * comes from a configured issuer or has the service-account shape; a
 * password never goes to the network.  t: k8s_token_decode's reading. */
static int authtok_is_token(const struct k8s_config *cfg, const struct k8s_token *t)
{
	const char *iss, *alg;
	size_t i;

	if (!t->jws || t->header == NULL || t->payload == NULL)
		return 0;
	alg = json_string_value(json_object_get(t->header, "alg"));
	if (alg == NULL || alg[0] == '\0' || strcmp(alg, "none") == 0)
		return 0;
	if (json_is_object(json_object_get(t->payload, "kubernetes.io")) ||
	    json_is_string(json_object_get(t->payload, "kubernetes.io/serviceaccount/namespace")))
		return 1;
	iss = json_string_value(json_object_get(t->payload, "iss"));
	for (i = 0; iss != NULL && i < cfg->n_jwt; i++)
		if (strcmp(cfg->jwt[i].issuer_url, iss) == 0)
			return 1;
	return 0;
}

static int verdict_of(int k8s_status)
{
	switch (k8s_status) {
	case K8S_OK:
		return K8S_HV_OK;
	case K8S_REFUSED:
		return K8S_HV_REFUSED;
	default: /* unavailable, and configuration found broken at use */
		return K8S_HV_UNAVAILABLE;
	}
}

/* The auth.* file: what open_session audits and sudo re-validates.
 * Borrows from id/login; only the copies it makes are freed here. */
static int save_state(const struct k8s_config *cfg, const struct k8s_request *rq,
		      struct k8s_identity *id, const struct k8s_login *login, char *handle,
		      size_t handle_size, struct k8s_err *err)
{
	struct k8s_state st;
	char **groups = NULL;
	pid_t parent = 0;
	size_t i;
	int rc;

	memset(&st, 0, sizeof(st));
	groups = calloc(login->n_groups + 1, sizeof(char *));
	if (groups == NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "out of memory", "saving login state");
	for (i = 0; i < login->n_groups; i++)
		groups[i] = (char *)login->groups[i].name;
	snprintf(st.user, sizeof(st.user), "%s", rq->user);
	st.service = rq->service[0] != '\0' ? (char *)rq->service : NULL;
	st.rhost = rq->rhost[0] != '\0' ? (char *)rq->rhost : NULL;
	st.created = time(NULL);
	st.sessionid = -1;
	if (k8s_proc_get(rq->caller, &st.self, &parent) == 0 && parent > 0)
		(void)k8s_proc_get(parent, &st.parent, NULL);
	st.binding = login->binding;
	st.local_groups = groups;
	/* an allowExisting account too: the store records its mapped groups,
	 * so sudo's revalidation must find them still granted */
	st.n_local_groups = login->n_groups;
	st.id = *id;
	st.token = rq->token;
	rc = k8s_state_save(cfg, "auth", &st, err);
	if (rc == K8S_OK)
		snprintf(handle, handle_size, "%s", st.file);
	free(groups);
	return rc;
}

void k8s_decide_auth(const struct k8s_config *cfg, const struct k8s_request *rq,
		     struct k8s_answer *an)
{
	struct k8s_identity *id = &an->id;
	struct k8s_login *login = &an->login;
	struct k8s_err *err = &an->err;
	struct k8s_token t;
	int rc;

	if (handled(cfg, rq, an, "auth refused") != K8S_OK)
		return;
	/* read once, here: the authtok test and the validation share it */
	k8s_token_decode(&t, rq->token, rq->token != NULL ? strnlen(rq->token, K8S_TOKEN_MAX + 1) : 0);
	if (rq->token == NULL || rq->token_len == 0 ||
	    ((rq->flags & K8S_HPF_FROM_AUTHTOK) && !authtok_is_token(cfg, &t))) {
		k8s_token_free(&t);
		k8s_err_set(err, K8S_REFUSED, "no token offered",
			    "PAM_AUTHTOK is unset or not a token from a configured issuer");
		k8s_answer_debug(an, rq, "%s: %s (%s)", rq->user, err->reason, err->detail);
		an->verdict = K8S_HV_NO_TOKEN;
		return;
	}
	rc = k8s_validate_decoded(cfg, &t, rq->dry_run ? K8S_VALIDATE_NO_CACHE : 0, id, err);
	k8s_token_free(&t);
	if (id->fingerprint[0] == '\0')
		k8s_token_fingerprint(rq->token, rq->token_len, id->fingerprint);
	k8s_log_warning(an, rq->user, id);
	if (rc == K8S_OK)
		rc = k8s_authorize_login(cfg, id, rq->user, login, err);
	if (rc == K8S_OK && !rq->dry_run)
		rc = k8s_record_login(cfg, id, login, rq->caller, err);
	if (rc == K8S_OK && !rq->dry_run) {
		rc = save_state(cfg, rq, id, login, an->handle, sizeof(an->handle), err);
		an->run_dir = cfg->run_dir;
	}
	an->verdict = verdict_of(rc);
	if (rc != K8S_OK) {
		k8s_log_refusal(an, "auth refused", rq->user, id, err);
		an->tell = rc == K8S_REFUSED ? K8S_HT_REFUSED : K8S_HT_UNAVAILABLE;
		return;
	}
	k8s_answer_debug(an, rq, "token of %s accepted for %s", id->username, rq->user);
}
