/* decide_session.c: open_session turns the auth.* state of this login into
 * a sess.* file owned by the session (leader = the caller, plus the audit
 * session id) and writes the audit line; close_session removes it.  (At
 * the end of a transaction the module removes the auth state no session
 * took over: an auth-only transaction leaves no token behind.)  sshd authenticates
 * keyboard-interactive logins in a child of the process that opens the
 * session: that child recorded its parent. */
#include "decide.h"

#include <string.h>
#include <syslog.h>
#include <unistd.h>

struct auth_key {
	const char *user;
	const char *service;
	struct k8s_proc me;
};

static int streq_null(const char *a, const char *b)
{
	return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

static int my_auth(const struct k8s_state *st, const void *arg)
{
	const struct auth_key *k = arg;

	return strcmp(st->user, k->user) == 0 && streq_null(st->service, k->service) &&
	       (k8s_proc_same(&st->self, &k->me) || k8s_proc_same(&st->parent, &k->me)) &&
	       st->created + K8S_AUTH_STATE_TTL >= time(NULL);
}

static int my_session(const struct k8s_state *st, const void *arg)
{
	const struct auth_key *k = arg;

	return strcmp(st->user, k->user) == 0 && k8s_proc_same(&st->leader, &k->me);
}

static void audit_without_token(struct k8s_answer *an, const struct k8s_request *rq)
{
	struct k8s_buf b = { 0 };

	if (k8s_buf_printf(&b, "login") == 0 && k8s_log_kv(&b, "user", rq->user) == 0 &&
	    k8s_log_kv(&b, "method", "none (authenticated by another module)") == 0 &&
	    k8s_log_kv(&b, "rhost", rq->rhost[0] != '\0' ? rq->rhost : NULL) == 0)
		k8s_answer_log(an, LOG_NOTICE, "%s", b.data);
	k8s_buf_free(&b);
}

void k8s_decide_open(const struct k8s_config *cfg, const struct k8s_request *rq,
		     struct k8s_answer *an)
{
	struct auth_key key;
	struct k8s_state st;
	struct k8s_err err;
	char old[sizeof(st.file)];

	memset(&st, 0, sizeof(st));
	k8s_err_clear(&err);
	an->verdict = K8S_HV_IGNORE;
	if (k8s_user_is_ours(cfg, rq->user, &err) <= 0)
		return;
	key.user = rq->user;
	key.service = rq->service[0] != '\0' ? rq->service : NULL;
	an->verdict = K8S_HV_OK;
	if (k8s_proc_get(rq->caller, &key.me, NULL) != 0 ||
	    k8s_state_find(cfg, "auth", my_auth, &key, &st, &err) != K8S_OK) {
		audit_without_token(an, rq);
		return;
	}
	memcpy(old, st.file, sizeof(old));
	st.leader = key.me;
	st.sessionid = k8s_audit_sessionid();
	if (k8s_state_save(cfg, "sess", &st, &err) != K8S_OK)
		k8s_answer_log(an, LOG_ERR,
			       "session state not saved (%s): %s; sudo re-validation will refuse",
			       err.reason, err.detail);
	k8s_state_remove(cfg, old);
	k8s_log_login(an, rq->user, &st);
	k8s_answer_debug(an, rq, "session of %s opened (state %s)", rq->user, st.file);
	k8s_state_free(&st);
}

void k8s_decide_close(const struct k8s_config *cfg, const struct k8s_request *rq,
		      struct k8s_answer *an)
{
	struct auth_key key;
	struct k8s_state st;
	struct k8s_err err;
	int removed = 0;

	an->verdict = K8S_HV_IGNORE;
	key.user = rq->user;
	key.service = NULL;
	if (k8s_proc_get(rq->caller, &key.me, NULL) != 0)
		return;
	while (removed < 64 && k8s_state_find(cfg, "sess", my_session, &key, &st, &err) == K8S_OK) {
		k8s_state_remove(cfg, st.file);
		k8s_state_free(&st);
		removed++;
	}
	if (removed > 0) {
		k8s_answer_debug(an, rq, "session of %s closed", rq->user);
		an->verdict = K8S_HV_OK;
	}
}

/* Nothing to establish: group membership comes from the store through
 * NSS.  Success for the users pam_k8s handles, ignore for everyone else:
 * sshd calls setcred in a process whose handle never ran auth (that was a
 * forked child), and a stack of pam_k8s alone must not fail there. */
void k8s_decide_setcred(const struct k8s_config *cfg, const struct k8s_request *rq,
			struct k8s_answer *an)
{
	struct k8s_err err;

	an->verdict = k8s_user_is_ours(cfg, rq->user, &err) == 1 ? K8S_HV_OK : K8S_HV_IGNORE;
}

/* ---- the caller's session, for account ---- */

struct caller_key {
	const char *user;
	long long sessionid;
	struct k8s_proc chain[64];   /* the caller and its ancestors */
	size_t n_chain;
};

static void ancestors(struct caller_key *k, pid_t caller)
{
	struct k8s_proc p;
	pid_t pid = caller, next = 0;

	k->n_chain = 0;
	while (pid > 1 && k->n_chain < sizeof(k->chain) / sizeof(k->chain[0])) {
		if (k8s_proc_get(pid, &p, &next) != 0)
			break;
		k->chain[k->n_chain++] = p;
		pid = next;
	}
}

/* Same audit session (pam_loginuid gave the login one; descendants
 * cannot leave it), or, where there is none, the session leader is the
 * caller's ancestor. */
static int callers_session(const struct k8s_state *st, const void *arg)
{
	const struct caller_key *k = arg;
	size_t i;

	if (strcmp(st->user, k->user) != 0 || !k8s_proc_alive(&st->leader))
		return 0;
	if (k->sessionid >= 0 && st->sessionid >= 0)
		return st->sessionid == k->sessionid;
	/* the chain starts at the caller's parent: a session's own leader
	 * re-validating itself is no sudo */
	for (i = 1; i < k->n_chain; i++)
		if (k8s_proc_same(&k->chain[i], &st->leader))
			return 1;
	return 0;
}

int k8s_find_caller_session(const struct k8s_config *cfg, const struct k8s_request *rq,
			    struct k8s_state *st, struct k8s_err *err)
{
	struct caller_key key;

	key.user = rq->user;
	key.sessionid = k8s_audit_sessionid();
	ancestors(&key, rq->caller);
	return k8s_state_find(cfg, "sess", callers_session, &key, st, err);
}
