/* pk.h: pam_k8s internals shared by the module's files.  Nothing here is
 * exported from pam_k8s.so (pam_k8s.map keeps only the pam_sm_* entry
 * points); the prototypes exist so each concern lives in its own file. */
#ifndef PK_H
#define PK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <security/pam_modules.h>

#include "authz.h"
#include "config.h"
#include "err.h"
#include "identity.h"
#include "util.h"

#define PK_DEFAULT_PROMPT "Kubernetes token (audience %a): "
/* Fixed, so k8s-ssh-askpass can parse it: audience, offset, total. */
#define PK_CONT_PROMPT    "Kubernetes token (audience %s) continued at byte %zu of %zu: "

/* ---------------------------------------------------------- args.c */
struct pk_args {
	const char *config;     /* config=PATH, NULL = default */
	const char *prompt;     /* prompt=TEXT, NULL = default */
	const char *groups;     /* group=A,B: revalidate needs one of these local groups */
	int debug;
	int use_first_pass;
	int try_first_pass;
	int revalidate;         /* account: sudo re-validation of the caller's session token */
};

void pk_args_parse(pam_handle_t *pamh, int argc, const char **argv, struct pk_args *a);
void pk_debug(pam_handle_t *pamh, const struct pk_args *a, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------- frame.c */
/* The multi-prompt protocol (docs/pam.md).  First answer: the bare token,
 * or "k8s1:<total>:<sha256-16hex>:<data>".  Continuation answers:
 * "<offset>:<data>".  A framed token is complete when total bytes arrived
 * and their digest matches; an unframed answer whose length is one a
 * client cuts at is refused, since it cannot be told from a cut token. */
#define PK_FRAME_MAGIC      "k8s1:"
#define PK_FRAME_MAX_ROUNDS 64

enum pk_frame_result {
	PK_FRAME_BAD = -1,  /* err set; never a token */
	PK_FRAME_DONE = 0,  /* f->tok holds the whole token */
	PK_FRAME_MORE = 1,  /* ask again, continuing at f->tok.len of f->total */
};

struct pk_frame {
	struct k8s_buf tok;   /* assembled token, NUL-terminated when DONE */
	size_t total;         /* framed total length; 0 while unframed */
	char digest[17];      /* framed digest, lowercase hex */
	int rounds;           /* answers taken */
};

int pk_cut_length(size_t len);
int pk_frame_first(struct pk_frame *f, const char *ans, size_t len, struct k8s_err *err);
int pk_frame_next(struct pk_frame *f, const char *ans, size_t len, struct k8s_err *err);
void pk_frame_free(struct pk_frame *f);
/* Trim ASCII blanks and line ends a terminal paste may add. */
void pk_trim(const char **s, size_t *len);

/* ---------------------------------------------------------- conv.c */
/* The token from the conversation (several prompts when framed) or from
 * PAM_AUTHTOK.  PAM_SUCCESS with *token malloc'd (caller wipes and
 * frees); PAM_IGNORE when no token was offered (empty answer, or
 * PAM_AUTHTOK holds no JWT) with err->reason PK_REASON_NO_TOKEN;
 * PAM_AUTHINFO_UNAVAIL when the conversation failed; PAM_AUTH_ERR for a
 * framing violation. */
#define PK_REASON_NO_TOKEN "no token offered"
int pk_read_token(pam_handle_t *pamh, const struct pk_args *a, const struct k8s_config *cfg,
		  int from_authtok, char **token, struct k8s_err *err);
/* The first configured audience (tokenReview first), "" when none. */
const char *pk_audience(const struct k8s_config *cfg);
/* The first prompt: prompt= or the default, %a expanded, %% -> %. malloc'd. */
char *pk_first_prompt(const char *tmpl, const char *audience);
void pk_tell(pam_handle_t *pamh, int flags, const char *msg);

/* ---------------------------------------------------------- state.c */
/* Per-login state under cfg->run_dir (0700 root): written by auth
 * ("auth.*" files), promoted to a session file ("sess.*") by open_session,
 * removed by close_session; what sudo re-validation reads.  sshd runs
 * keyboard-interactive auth in a forked child, so auth records its own
 * and its parent's (pid, start time): the session opens in one of them. */
struct pk_proc {
	pid_t pid;
	unsigned long long start;  /* /proc/PID/stat starttime, 0 = unknown */
};

struct pk_state {
	char file[64];             /* name inside run_dir */
	char user[K8S_LOCAL_NAME_MAX + 1];
	char *service;
	char *rhost;
	time_t created;
	struct pk_proc self, parent;  /* auth's process and its parent */
	struct pk_proc leader;        /* session opener (sess.* only) */
	long long sessionid;          /* audit session id, -1 = none */
	char *binding;
	char **local_groups;          /* groups the login granted */
	size_t n_local_groups;
	struct k8s_identity id;       /* what the audit line and sudo need */
	char *token;                  /* secret: wiped on free */
};

int pk_proc_self(struct pk_proc *p);
int pk_proc_parent(struct pk_proc *p);
int pk_proc_get(pid_t pid, struct pk_proc *p, pid_t *ppid);
int pk_proc_alive(const struct pk_proc *p);
long long pk_audit_sessionid(void);

int pk_state_dir(const struct k8s_config *cfg, struct k8s_err *err);
int pk_state_save(const struct k8s_config *cfg, const char *prefix, struct pk_state *st,
		  struct k8s_err *err);
int pk_state_load(const struct k8s_config *cfg, const char *file, struct pk_state *st,
		  struct k8s_err *err);
void pk_state_remove(const struct k8s_config *cfg, const char *file);
void pk_state_free(struct pk_state *st);
/* Remove auth files older than PK_AUTH_STATE_TTL or whose processes are
 * gone, and session files whose leader is gone. */
void pk_state_gc(const struct k8s_config *cfg);
#define PK_AUTH_STATE_TTL 600

/* Match predicates for pk_state_find. */
typedef int (*pk_state_match)(const struct pk_state *st, const void *arg);
/* The first file with `prefix` that loads and matches: K8S_OK (st
 * filled), K8S_REFUSED when none, K8S_UNAVAILABLE on I/O errors. */
int pk_state_find(const struct k8s_config *cfg, const char *prefix, pk_state_match match,
		  const void *arg, struct pk_state *st, struct k8s_err *err);

/* The token login session the calling process belongs to (session.c):
 * K8S_OK with *st filled, K8S_REFUSED when there is none. */
int pk_find_caller_session(const struct k8s_config *cfg, const char *user, struct pk_state *st,
			   struct k8s_err *err);

/* ---------------------------------------------------------- users.c */
/* Is `user` one pam_k8s handles (store, accounts.declared,
 * accounts.allowExisting)?  1 yes, 0 no, -1 error (err set). */
int pk_user_is_ours(const struct k8s_config *cfg, const char *user, struct k8s_err *err);
/* With no usable config: is `user` in the compiled-in store? */
int pk_user_in_default_store(const char *user);
/* Login policy for a store user who authenticated without a token.
 * K8S_OK (*found says whether the store knows the user), K8S_REFUSED
 * (reason set), or an error status. */
int pk_store_login_policy(const struct k8s_config *cfg, const char *user, int *found,
			  struct k8s_err *err);
/* Record a successful login; re-checks the identity binding under the
 * store's write lock (another login may have bound it meanwhile). */
int pk_record_login(const struct k8s_config *cfg, const struct k8s_identity *id,
		    const struct k8s_login *login, struct k8s_err *err);

/* ---------------------------------------------------------- audit.c */
/* Append key="value" with everything outside printable ASCII, '"' and
 * '\\' escaped, so cluster-supplied strings cannot forge log fields. */
int pk_log_kv(struct k8s_buf *b, const char *key, const char *value);
void pk_audit_login(pam_handle_t *pamh, const char *user, const struct pk_state *st);
void pk_log_refusal(pam_handle_t *pamh, const char *what, const char *user,
		    const struct k8s_identity *id, const struct k8s_err *err);
/* id->warning, when there is one, as a LOG_WARNING line ("token warning
 * user=... warning=..."), whatever the outcome. */
void pk_log_warning(pam_handle_t *pamh, const char *user, const struct k8s_identity *id);

/* ---------------------------------------------------------- pam_k8s.c */
#define PK_DATA_LOGIN "pam_k8s.login"

/* What auth leaves in the handle for account/setcred in the same process. */
struct pk_login_data {
	struct k8s_identity id;
	char user[K8S_LOCAL_NAME_MAX + 1];
};

int pk_authenticate(pam_handle_t *pamh, int flags, const struct pk_args *a);
int pk_account(pam_handle_t *pamh, int flags, const struct pk_args *a);
int pk_revalidate(pam_handle_t *pamh, int flags, const struct pk_args *a);
int pk_open_session(pam_handle_t *pamh, int flags, const struct pk_args *a);
int pk_close_session(pam_handle_t *pamh, int flags, const struct pk_args *a);

/* Config load for an entry point; on failure logs and returns NULL. */
struct k8s_config *pk_load_config(pam_handle_t *pamh, const struct pk_args *a);
/* PAM_USER as a validated local name, or NULL. */
const char *pk_get_user(pam_handle_t *pamh, int prompt);

#endif
