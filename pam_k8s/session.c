/* session.c: open_session turns the auth.* state of this login into a
 * sess.* file owned by the session (leader = this process, plus the audit
 * session id) and writes the audit line; close_session removes it.
 * sshd authenticates keyboard-interactive logins in a child of the
 * process that opens the session: that child recorded its parent. */
#include "pk.h"

#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>

struct auth_key {
	const char *user;
	const char *service;
	struct pk_proc me;
};

static int streq_null(const char *a, const char *b)
{
	return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

static int same_proc(const struct pk_proc *a, const struct pk_proc *b)
{
	return a->pid == b->pid && a->start == b->start;
}

static int my_auth(const struct pk_state *st, const void *arg)
{
	const struct auth_key *k = arg;

	return strcmp(st->user, k->user) == 0 && streq_null(st->service, k->service) &&
	       (same_proc(&st->self, &k->me) || same_proc(&st->parent, &k->me)) &&
	       st->created + PK_AUTH_STATE_TTL >= time(NULL);
}

static int my_session(const struct pk_state *st, const void *arg)
{
	const struct auth_key *k = arg;

	return strcmp(st->user, k->user) == 0 && same_proc(&st->leader, &k->me);
}

static void audit_without_token(pam_handle_t *pamh, const char *user)
{
	struct k8s_buf b = { 0 };
	const void *rhost = NULL;

	(void)pam_get_item(pamh, PAM_RHOST, &rhost);
	if (k8s_buf_printf(&b, "login") == 0 && pk_log_kv(&b, "user", user) == 0 &&
	    pk_log_kv(&b, "method", "none (authenticated by another module)") == 0 &&
	    pk_log_kv(&b, "rhost", rhost) == 0)
		pam_syslog(pamh, LOG_NOTICE, "%s", b.data);
	k8s_buf_free(&b);
}

int pk_open_session(pam_handle_t *pamh, int flags, const struct pk_args *a)
{
	struct k8s_config *cfg = NULL;
	struct auth_key key;
	struct pk_state st;
	struct k8s_err err;
	const void *svc = NULL;
	char old[sizeof(st.file)];
	int rc, ours;

	(void)flags;
	memset(&st, 0, sizeof(st));
	k8s_err_clear(&err);
	key.user = pk_get_user(pamh, 0);
	if (key.user == NULL || (cfg = pk_load_config(pamh, a)) == NULL)
		return PAM_IGNORE;
	ours = pk_user_is_ours(cfg, key.user, &err);
	if (ours <= 0) {
		rc = PAM_IGNORE;
		goto out;
	}
	(void)pam_get_item(pamh, PAM_SERVICE, &svc);
	key.service = svc;
	pk_state_gc(cfg);
	if (pk_proc_self(&key.me) != 0 ||
	    pk_state_find(cfg, "auth", my_auth, &key, &st, &err) != K8S_OK) {
		audit_without_token(pamh, key.user);
		rc = PAM_SUCCESS;
		goto out;
	}
	memcpy(old, st.file, sizeof(old));
	st.leader = key.me;
	st.sessionid = pk_audit_sessionid();
	if (pk_state_save(cfg, "sess", &st, &err) != K8S_OK)
		pam_syslog(pamh, LOG_ERR, "session state not saved (%s): %s; sudo re-validation will refuse",
			   err.reason, err.detail);
	pk_state_remove(cfg, old);
	pk_audit_login(pamh, key.user, &st);
	pk_debug(pamh, a, "session of %s opened (state %s)", key.user, st.file);
	rc = PAM_SUCCESS;
out:
	pk_state_free(&st);
	k8s_config_free(cfg);
	return rc;
}

int pk_close_session(pam_handle_t *pamh, int flags, const struct pk_args *a)
{
	struct k8s_config *cfg = NULL;
	struct auth_key key;
	struct pk_state st;
	struct k8s_err err;
	int removed = 0;

	(void)flags;
	key.user = pk_get_user(pamh, 0);
	key.service = NULL;
	if (key.user == NULL || (cfg = pk_load_config(pamh, a)) == NULL || pk_proc_self(&key.me) != 0)
		goto out;
	while (pk_state_find(cfg, "sess", my_session, &key, &st, &err) == K8S_OK && removed < 64) {
		pk_state_remove(cfg, st.file);
		pk_state_free(&st);
		removed++;
	}
	pk_state_gc(cfg);
	if (removed > 0)
		pk_debug(pamh, a, "session of %s closed", key.user);
out:
	k8s_config_free(cfg);
	return removed > 0 ? PAM_SUCCESS : PAM_IGNORE;
}

/* ---- the caller's session, for account and sudo ---- */

struct caller_key {
	const char *user;
	long long sessionid;
	struct pk_proc chain[64];   /* this process's ancestors */
	size_t n_chain;
};

static void ancestors(struct caller_key *k)
{
	struct pk_proc p;
	pid_t pid = getppid(), next = 0;

	k->n_chain = 0;
	while (pid > 1 && k->n_chain < sizeof(k->chain) / sizeof(k->chain[0])) {
		if (pk_proc_get(pid, &p, &next) != 0)
			break;
		k->chain[k->n_chain++] = p;
		pid = next;
	}
}

/* Same audit session (pam_loginuid gave the login one; descendants
 * cannot leave it), or, where there is none, the session leader is one
 * of our ancestors. */
static int callers_session(const struct pk_state *st, const void *arg)
{
	const struct caller_key *k = arg;
	size_t i;

	if (strcmp(st->user, k->user) != 0 || !pk_proc_alive(&st->leader))
		return 0;
	if (k->sessionid >= 0 && st->sessionid >= 0)
		return st->sessionid == k->sessionid;
	for (i = 0; i < k->n_chain; i++)
		if (same_proc(&k->chain[i], &st->leader))
			return 1;
	return 0;
}

int pk_find_caller_session(const struct k8s_config *cfg, const char *user, struct pk_state *st,
			   struct k8s_err *err)
{
	struct caller_key key;

	key.user = user;
	key.sessionid = pk_audit_sessionid();
	ancestors(&key);
	return pk_state_find(cfg, "sess", callers_session, &key, st, err);
}
