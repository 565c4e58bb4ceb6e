/* call.c: one request to the helper and its answer, as every phase makes
 * it; and what the module answers when the helper fails. */
#include "pk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>

void pk_log_answer(pam_handle_t *pamh, const struct k8s_hp_answer *ans)
{
	size_t i;

	for (i = 0; i < ans->n_logs; i++)
		pam_syslog(pamh, ans->log_prio[i], "%s", ans->log[i]);
}

static const char *item(pam_handle_t *pamh, int type)
{
	const void *v = NULL;

	if (pam_get_item(pamh, type, &v) != PAM_SUCCESS)
		return NULL;
	return v;
}

/* The request: common fields, then the phase's extras.  0 or -1. */
static int build(pam_handle_t *pamh, const struct pk_args *a, int type, uint64_t seq,
		 const char *user, const struct pk_extra *x, struct k8s_buf *b)
{
	const char *rhost = item(pamh, PAM_RHOST);
	unsigned flags = 0;
	int rc;

	if (a->debug)
		flags |= K8S_HPF_DEBUG;
	if (a->revalidate)
		flags |= K8S_HPF_REVALIDATE;
	if (a->bad)
		flags |= K8S_HPF_BAD_ARGS;
	if (x != NULL && x->from_authtok)
		flags |= K8S_HPF_FROM_AUTHTOK;
	if (x != NULL && x->has_login)
		flags |= K8S_HPF_HAS_LOGIN;
	rc = k8s_hp_begin(b, (uint8_t)type);
	rc |= k8s_hp_put_u64(b, K8S_HP_SEQ, seq);
	rc |= k8s_hp_put_u64(b, K8S_HP_FLAGS, flags);
	rc |= k8s_hp_put_str(b, K8S_HP_CONFIG, a->config);
	rc |= k8s_hp_put_str(b, K8S_HP_USER, user);
	rc |= k8s_hp_put_str(b, K8S_HP_SERVICE, item(pamh, PAM_SERVICE));
	/* the remote host is the client's word: sent only when printable */
	if (rhost != NULL && strlen(rhost) < 256) {
		const char *p;

		for (p = rhost; *p != '\0' && *p >= 0x20 && *p <= 0x7e; p++)
			;
		if (*p == '\0')
			rc |= k8s_hp_put_str(b, K8S_HP_RHOST, rhost);
	}
	rc |= k8s_hp_put_str(b, K8S_HP_GROUPS, a->groups);
	if (x != NULL) {
		if (x->token != NULL)
			rc |= k8s_hp_put(b, K8S_HP_TOKEN, x->token, x->token_len);
		rc |= k8s_hp_put_str(b, K8S_HP_HANDLE, x->handle);
		if (x->ruid >= 0)
			rc |= k8s_hp_put_u64(b, K8S_HP_RUID, (uint64_t)x->ruid);
	}
	rc |= k8s_hp_finish(b);
	return rc == 0 ? 0 : -1;
}

int pk_ask(pam_handle_t *pamh, const struct pk_args *a, struct pk_helper *h, int type,
	   const char *user, const struct pk_extra *x, int keep, struct k8s_hp_answer *ans)
{
	struct k8s_buf req = { 0 };
	int rc = -1;

	if (h->pid <= 0 && pk_helper_start(h, a->timeout_s) != 0)
		goto out;
	h->seq++;
	if (build(pamh, a, type, h->seq, user, x, &req) != 0) {
		snprintf(h->why, sizeof(h->why), "the request does not fit the protocol");
		pk_helper_kill(h);
		goto out;
	}
	if (pk_helper_exchange(h, &req, ans) != 0)
		goto out;
	/* the answer counts only once the helper has exited cleanly */
	if (!keep && pk_helper_finish(h) != 0)
		goto out;
	pk_log_answer(pamh, ans);
	rc = 0;
out:
	k8s_buf_free(&req);  /* wipes: it held the token */
	if (rc != 0)
		pam_syslog(pamh, LOG_ERR, "k8s-auth-helper failed: %s", h->why);
	return rc;
}

/* Without the configuration: the store's ids start at 1000
 * (K8S_SF_MIN_ID), anything below is a system account of another source. */
int pk_surely_not_store_user(const char *user)
{
	return k8s_surely_not_store_user(user, 1000, (uid_t)-1);
}

int pk_helper_failed(pam_handle_t *pamh, const char *user, int refuse_rc)
{
	int known = pk_store_knows(user);

	if (known == 0 || (known < 0 && pk_surely_not_store_user(user)))
		return PAM_IGNORE;
	pam_syslog(pamh, LOG_ERR, "%s: refused: pam_k8s cannot decide without its helper%s", user,
		   known < 0 ? " (and the store cannot be read)" : "");
	return refuse_rc;
}
