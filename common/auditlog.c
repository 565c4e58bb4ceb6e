/* auditlog.c: what pam_k8s tells syslog (through the module).  Cluster usernames and groups are
 * chosen by whoever controls the cluster or the IdP; they are escaped so a
 * name cannot add fields or lines to the audit trail.  Never a token: only
 * its fingerprint. */
#include "decide.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>


#define AUDIT_MAX 3000

static int put_escaped(struct k8s_buf *b, const char *v)
{
	const unsigned char *p;
	int rc = 0;

	for (p = (const unsigned char *)v; *p != '\0' && rc == 0; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
			rc = k8s_buf_printf(b, "\\x%02x", *p);
		else
			rc = k8s_buf_append(b, p, 1);
	}
	return rc;
}

int k8s_log_kv(struct k8s_buf *b, const char *key, const char *value)
{
	if (k8s_buf_printf(b, "%s%s=\"", b->len > 0 ? " " : "", key) != 0 ||
	    put_escaped(b, value != NULL ? value : "-") != 0)
		return -1;
	return k8s_buf_append(b, "\"", 1);
}

static int log_list(struct k8s_buf *b, const char *key, char *const *v, size_t n)
{
	struct k8s_buf l = { 0 };
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++)
		rc = k8s_buf_printf(&l, "%s%s", i ? "," : "", v[i]);
	if (rc == 0)
		rc = k8s_log_kv(b, key, l.data != NULL ? l.data : "");
	k8s_buf_free(&l);
	return rc;
}

static int log_time(struct k8s_buf *b, const char *key, time_t t)
{
	char ts[32];

	if (t == 0)
		return k8s_log_kv(b, key, "unknown");
	k8s_format_time(t, ts);
	return k8s_log_kv(b, key, ts);
}

static int log_pair(struct k8s_buf *b, const char *key, const char *ns, const char *name,
		    const char *uid)
{
	char v[1024];

	if (name == NULL)
		return 0;
	snprintf(v, sizeof(v), "%s%s%s%s%s%s", ns ? ns : "", ns ? "/" : "", name,
		 uid ? " (" : "", uid ? uid : "", uid ? ")" : "");
	return k8s_log_kv(b, key, v);
}

static void emit(struct k8s_answer *an, int prio, struct k8s_buf *b)
{
	if (b->data == NULL)
		return;
	if (b->len > AUDIT_MAX)
		k8s_answer_log(an, prio, "%.*s ...(truncated)", AUDIT_MAX, b->data);
	else
		k8s_answer_log(an, prio, "%s", b->data);
}

void k8s_log_login(struct k8s_answer *an, const char *user, const struct k8s_state *st)
{
	const struct k8s_identity *id = &st->id;
	struct k8s_buf b = { 0 };
	int rc;

	rc = k8s_buf_printf(&b, "login");
	rc |= k8s_log_kv(&b, "user", user);
	rc |= k8s_log_kv(&b, "cluster_user", id->username);
	rc |= k8s_log_kv(&b, "cluster_uid", id->uid);
	rc |= log_list(&b, "groups", id->groups, id->n_groups);
	rc |= log_list(&b, "local_groups", st->local_groups, st->n_local_groups);
	rc |= k8s_log_kv(&b, "method", id->method);
	rc |= k8s_log_kv(&b, "issuer", id->issuer);
	rc |= k8s_log_kv(&b, "token", id->fingerprint);
	/* the jti the token's minter chose, to find it in the cluster's audit
	 * log: attacker bytes, escaped by k8s_log_kv like every value */
	if (k8s_identity_credential_id(id) != NULL)
		rc |= k8s_log_kv(&b, "credential_id", k8s_identity_credential_id(id));
	rc |= log_time(&b, "expires", id->exp);
	rc |= k8s_log_kv(&b, "rhost", st->rhost);
	rc |= log_pair(&b, "serviceaccount", id->namespace_, id->sa_name, id->sa_uid);
	rc |= log_pair(&b, "pod", id->namespace_, id->pod_name, id->pod_uid);
	rc |= log_pair(&b, "node", NULL, id->node_name, id->node_uid);
	if (rc == 0)
		emit(an, LOG_NOTICE, &b);
	else
		k8s_answer_log(an, LOG_NOTICE, "login user=%s (audit line incomplete: out of memory)", user);
	k8s_buf_free(&b);
}

void k8s_log_warning(struct k8s_answer *an, const char *user, const struct k8s_identity *id)
{
	struct k8s_buf b = { 0 };
	int rc;

	if (id == NULL || id->warning == NULL)
		return;
	rc = k8s_buf_printf(&b, "token warning");
	rc |= k8s_log_kv(&b, "user", user);
	rc |= k8s_log_kv(&b, "warning", id->warning);
	if (id->fingerprint[0] != '\0')
		rc |= k8s_log_kv(&b, "token", id->fingerprint);
	if (rc == 0)
		emit(an, LOG_WARNING, &b);
	else
		k8s_answer_log(an, LOG_WARNING, "token warning user=%s (log line incomplete: out of memory)",
			       user);
	k8s_buf_free(&b);
}

void k8s_log_refusal(struct k8s_answer *an, const char *what, const char *user,
		    const struct k8s_identity *id, const struct k8s_err *err)
{
	struct k8s_buf b = { 0 };
	int rc;

	rc = k8s_buf_printf(&b, "%s", what);
	rc |= k8s_log_kv(&b, "user", user);
	rc |= k8s_log_kv(&b, "status", k8s_status_name(err->status));
	rc |= k8s_log_kv(&b, "reason", err->reason);
	rc |= k8s_log_kv(&b, "detail", err->detail);
	if (id != NULL && id->username != NULL) {
		rc |= k8s_log_kv(&b, "cluster_user", id->username);
		rc |= k8s_log_kv(&b, "cluster_uid", id->uid);
	}
	if (id != NULL && id->fingerprint[0] != '\0')
		rc |= k8s_log_kv(&b, "token", id->fingerprint);
	if (rc == 0)
		emit(an, err->status == K8S_REFUSED ? LOG_NOTICE : LOG_ERR, &b);
	else
		k8s_answer_log(an, LOG_ERR, "%s user=%s (log line incomplete: out of memory)", what, user);
	k8s_buf_free(&b);
}
