/* decide.h: what pam_k8s's PAM calls decide, as k8s-auth-helper decides
 * it.  pam_k8s.so only converses and relays (hproto.h); every decision
 * that needs the configuration, the network, the caches or the store
 * writer is made here, in the helper process, and `k8s-auth check` runs
 * the same code in dry-run mode, so the two can never disagree.
 *
 *   decide_auth.c     probe (handled? which audience?) and auth
 *   decide_account.c  account management, sudo re-validation included
 *   decide_session.c  open/close session, setcred
 *   handled.c         which users pam_k8s handles; store policy; recording a login
 *   loginstate.c      per-login state files under runDir
 *   proc.c            processes named across pid reuse
 *   auditlog.c        the log lines (escaped, never a token) */
#ifndef K8S_DECIDE_H
#define K8S_DECIDE_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "authz.h"
#include "config.h"
#include "err.h"
#include "hproto.h"
#include "identity.h"
#include "util.h"

/* ---------------------------------------------------------- requests */
struct k8s_request {
	int type;                         /* enum k8s_hp_type */
	uint64_t seq;
	char config[K8S_HP_PATH_MAX + 1]; /* "" = the default */
	char user[K8S_LOCAL_NAME_MAX + 1];
	char service[128];
	char rhost[256];
	char groups[512];                 /* group=A,B */
	char handle[K8S_HP_HANDLE_MAX + 1];
	char *token;                      /* secret; NULL when none */
	size_t token_len;
	unsigned flags;                   /* K8S_HPF_* */
	long long ruid;                   /* the caller's real uid, -1 unknown */
	pid_t caller;                     /* the process that made the PAM call */
	int dry_run;                      /* k8s-auth check: decide, write nothing */
};

/* Decode a request message.  0, or -1 (malformed: never acted on). */
int k8s_request_decode(const unsigned char *buf, size_t len, struct k8s_request *rq);
void k8s_request_free(struct k8s_request *rq); /* wipes the token */

/* ---------------------------------------------------------- answers */
struct k8s_answer {
	int verdict;                      /* enum k8s_hp_verdict */
	int tell;                         /* enum k8s_hp_tell */
	char audience[K8S_HP_AUD_MAX + 1];
	char handle[K8S_HP_HANDLE_MAX + 1];
	const char *run_dir;              /* with handle (auth): where it is */
	size_t n_logs;
	int log_prio[K8S_HP_MAX_LOGS];
	char *log[K8S_HP_MAX_LOGS];
	/* What a dry run decided about, for k8s-auth check. */
	struct k8s_identity id;
	struct k8s_login login;
	struct k8s_err err;
};

void k8s_answer_init(struct k8s_answer *an);
void k8s_answer_free(struct k8s_answer *an);
/* Add a log line for the module to pass to syslog (LOG_ERR..LOG_DEBUG).
 * Bytes outside printable ASCII are escaped. */
void k8s_answer_log(struct k8s_answer *an, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void k8s_answer_debug(struct k8s_answer *an, const struct k8s_request *rq, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The answer message to request rq.  0 or -1. */
int k8s_answer_encode(const struct k8s_answer *an, const struct k8s_request *rq, struct k8s_buf *b);

/* ---------------------------------------------------------- decisions */
/* Decide rq under cfg (NULL: the configuration could not be loaded; the
 * decision then only keeps the store's users out, err says why). */
void k8s_decide(const struct k8s_config *cfg, const struct k8s_err *cfg_err,
		const struct k8s_request *rq, struct k8s_answer *an);

/* The prompt's audience: the first configured one, "" when none. */
const char *k8s_prompt_audience(const struct k8s_config *cfg);

/* The module's hard cap on one exchange with the helper, and the most the
 * helper's own deadline may be. */
#define K8S_HELPER_CAP_S          30
#define K8S_DECISION_DEADLINE_MAX 25

/* The helper's own deadline for one request under cfg, in seconds: long
 * enough for every request a decision may make (TokenReview or a JWKS
 * refetch, then a SubjectAccessReview), short of the module's cap. */
unsigned k8s_decision_deadline(const struct k8s_config *cfg);

/* decide_*.c */
void k8s_decide_probe(const struct k8s_config *cfg, const struct k8s_request *rq,
		      struct k8s_answer *an);
void k8s_decide_auth(const struct k8s_config *cfg, const struct k8s_request *rq,
		     struct k8s_answer *an);
void k8s_decide_account(const struct k8s_config *cfg, const struct k8s_request *rq,
			struct k8s_answer *an);
void k8s_decide_open(const struct k8s_config *cfg, const struct k8s_request *rq,
		     struct k8s_answer *an);
void k8s_decide_close(const struct k8s_config *cfg, const struct k8s_request *rq,
		      struct k8s_answer *an);
void k8s_decide_setcred(const struct k8s_config *cfg, const struct k8s_request *rq,
			struct k8s_answer *an);

/* ---------------------------------------------------------- proc.c */
/* A process named by (pid, start time since boot): a pid can be recycled,
 * the pair cannot within one boot. */
struct k8s_proc {
	pid_t pid;
	unsigned long long start;  /* /proc/PID/stat starttime, 0 = unknown */
};

int k8s_proc_get(pid_t pid, struct k8s_proc *p, pid_t *ppid);
int k8s_proc_alive(const struct k8s_proc *p);
int k8s_proc_same(const struct k8s_proc *a, const struct k8s_proc *b);
/* The audit session id pam_loginuid started, -1 when unset. */
long long k8s_audit_sessionid(void);

/* ---------------------------------------------------------- loginstate.c */
/* Per-login state under cfg->run_dir (0700 root): written by auth
 * ("auth.*" files), promoted to a session file ("sess.*") by open_session,
 * removed by close_session or at the end of the transaction; what sudo
 * re-validation reads.  sshd runs keyboard-interactive auth in a forked
 * child, so auth records the caller and the caller's parent: the session
 * opens in one of them. */
struct k8s_state {
	char file[64];             /* name inside run_dir */
	char user[K8S_LOCAL_NAME_MAX + 1];
	char *service;
	char *rhost;
	time_t created;
	struct k8s_proc self, parent;  /* auth's caller and its parent */
	struct k8s_proc leader;        /* session opener (sess.* only) */
	long long sessionid;           /* audit session id, -1 = none */
	char *binding;
	char **local_groups;           /* groups the login granted */
	size_t n_local_groups;
	struct k8s_identity id;        /* what the audit line and sudo need */
	char *token;                   /* secret: wiped on free */
};

int k8s_state_save(const struct k8s_config *cfg, const char *prefix, struct k8s_state *st,
		   struct k8s_err *err);
int k8s_state_load(const struct k8s_config *cfg, const char *file, struct k8s_state *st,
		   struct k8s_err *err);
void k8s_state_remove(const struct k8s_config *cfg, const char *file);
void k8s_state_free(struct k8s_state *st);
/* Remove auth files older than K8S_AUTH_STATE_TTL or whose processes are
 * gone, and session files whose leader is gone; at most once every
 * K8S_STATE_GC_INTERVAL seconds (stamp: runDir/K8S_STATE_GC_STAMP). */
void k8s_state_gc(const struct k8s_config *cfg);
#define K8S_AUTH_STATE_TTL    600
#define K8S_STATE_GC_INTERVAL 30
#define K8S_STATE_GC_STAMP    ".gc"

typedef int (*k8s_state_match)(const struct k8s_state *st, const void *arg);
/* The first file with `prefix` that loads and matches: K8S_OK (st
 * filled), K8S_REFUSED when none, K8S_UNAVAILABLE on I/O errors. */
int k8s_state_find(const struct k8s_config *cfg, const char *prefix, k8s_state_match match,
		   const void *arg, struct k8s_state *st, struct k8s_err *err);

/* The token login session the caller belongs to (decide_session.c):
 * K8S_OK with *st filled, K8S_REFUSED when there is none. */
int k8s_find_caller_session(const struct k8s_config *cfg, const struct k8s_request *rq,
			    struct k8s_state *st, struct k8s_err *err);

/* ---------------------------------------------------------- handled.c */
/* Is `user` one pam_k8s handles (store, accounts.declared,
 * accounts.allowExisting)?  1 yes, 0 no, -1 error (err set). */
int k8s_user_is_ours(const struct k8s_config *cfg, const char *user, struct k8s_err *err);
/* With no usable config: is `user` in the compiled-in store (or is the
 * store unreadable and `user` not surely someone else's)? */
int k8s_user_in_default_store(const char *user);
/* Login policy for a store user who authenticated without a token. */
int k8s_store_login_policy(const struct k8s_config *cfg, const char *user, int *found,
			   struct k8s_err *err);
/* Record a successful login under the store's write lock. */
int k8s_record_login(const struct k8s_config *cfg, const struct k8s_identity *id,
		     const struct k8s_login *login, pid_t caller, struct k8s_err *err);

/* ---------------------------------------------------------- firstlogin.c */
struct k8s_preauth_entry;
/* Write (login.firstLogin on) or remove (off, or cfg NULL) the policy file
 * that lets libnss_k8s answer root's sshd before authentication. */
int k8s_preauth_sync_policy(const struct k8s_config *cfg, struct k8s_err *err);
/* The policy file's line for cfg: its length, or -1 (home or shell unusable). */
int k8s_preauth_policy_line(const struct k8s_config *cfg, char *line, size_t size);
/* What libnss_k8s served this connection for `user`: the record of the
 * caller or of its parent (sshd's monitor), matched by pid and start
 * time.  1 found (*e filled), 0 none, -1 one is there but unreadable. */
int k8s_preauth_served(pid_t caller, const char *user, struct k8s_preauth_entry *e);
/* Remove the records of processes that are gone. */
void k8s_preauth_gc(void);
/* Is process pid executing K8S_SSHD_PATH, or OpenSSH's sshd-session or
 * sshd-auth (k8s_preauth_exe_is_sshd)? */
int k8s_preauth_is_sshd(pid_t pid);
/* Does e equal what the store committed? */
int k8s_preauth_matches(const struct k8s_preauth_entry *e, uid_t uid, gid_t gid, const char *home,
			const char *shell);

/* ---------------------------------------------------------- auditlog.c */
int k8s_log_kv(struct k8s_buf *b, const char *key, const char *value);
void k8s_log_login(struct k8s_answer *an, const char *user, const struct k8s_state *st);
void k8s_log_refusal(struct k8s_answer *an, const char *what, const char *user,
		     const struct k8s_identity *id, const struct k8s_err *err);
/* id->warning, when there is one, as a LOG_WARNING line ("token warning
 * user=... warning=..."), whatever the outcome. */
void k8s_log_warning(struct k8s_answer *an, const char *user, const struct k8s_identity *id);

#endif
