/* pk.h: pam_k8s internals shared by the module's files.  Nothing here is
 * exported from pam_k8s.so (pam_k8s.map keeps only the pam_sm_* entry
 * points).
 *
 * The module is a thin adapter (docs/security.md, "Privilege separation"):
 * PAM items, the conversation and its framing, the module arguments,
 * syslog, and talking to k8s-auth-helper, which makes every decision.  It
 * links libc and libpam only, reads no configuration, no JSON or YAML,
 * opens no socket to anywhere; its only parsers are the conversation
 * frames (frame.c), the helper's answers (hproto.c) and, when the helper
 * fails, the store's libc-only reader (storefmt.c). */
#ifndef PK_H
#define PK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <security/pam_modules.h>

#include "err.h"
#include "frame.h"
#include "hproto.h"
#include "util.h"

#ifndef K8S_HELPER_PATH
#define K8S_HELPER_PATH "/usr/libexec/k8s-auth/k8s-auth-helper"
#endif
#define PK_HELPER_CAP_S 30  /* the module's hard cap on one exchange */

/* ---------------------------------------------------------- args.c */
struct pk_args {
	const char *config;     /* config=PATH, NULL = default */
	const char *prompt;     /* prompt=TEXT, NULL = default */
	const char *groups;     /* group=A,B: re-validation needs one of these local groups */
	int debug;
	int use_first_pass;
	int try_first_pass;
	int revalidate;         /* account: only a token session may pass */
	int timeout_s;          /* timeout=N: cap on one exchange with the helper */
	int bad;                /* an argument the module does not know: fail closed */
};

void pk_args_parse(pam_handle_t *pamh, int argc, const char **argv, struct pk_args *a);
void pk_debug(pam_handle_t *pamh, const struct pk_args *a, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------- spawn.c */
/* One helper process for one PAM call. */
struct pk_helper {
	pid_t pid;           /* 0 = not running */
	int fd;              /* our end of the socketpair */
	int timeout_ms;      /* cap on each exchange */
	uint64_t seq;        /* last request's sequence number */
	char why[192];       /* what failed, for the log */
};

/* Start K8S_HELPER_PATH (checked: root-owned, not group/world-writable,
 * itself and every directory above it).  0 or -1 (h->why set). */
int pk_helper_start(struct pk_helper *h, int timeout_s);
/* Send a request, take its answer (checked: an answer to this request
 * type and sequence number).  0 or -1 (h->why set; the helper is killed). */
int pk_helper_exchange(struct pk_helper *h, struct k8s_buf *req, struct k8s_hp_answer *ans);
/* Close our end, expect end of file (nothing more: a doubled answer is a
 * failure) and exit status 0, within the deadline.  0 or -1 (h->why). */
int pk_helper_finish(struct pk_helper *h);
/* Kill the helper's process group and reap it. */
void pk_helper_kill(struct pk_helper *h);

/* ---------------------------------------------------------- call.c */
/* What the phases ask: one request of `type` with the common fields
 * (config, user, service, rhost, flags) and the extras given, logged
 * answer in *ans.  0, or -1 when the helper failed (logged, with which
 * failure).  The helper stays running when keep is set (auth's probe). */
struct pk_extra {
	const char *token;    /* secret */
	size_t token_len;
	const char *handle;
	int from_authtok;
	int has_login;
	long long ruid;       /* -1 = not sent */
};

int pk_ask(pam_handle_t *pamh, const struct pk_args *a, struct pk_helper *h, int type,
	   const char *user, const struct pk_extra *x, int keep, struct k8s_hp_answer *ans);
/* The answer when the helper failed: refuse the store's users, ignore
 * everyone else (root and local accounts still log in). */
int pk_helper_failed(pam_handle_t *pamh, const char *user, int refuse_rc);
/* Pass the helper's log lines to syslog. */
void pk_log_answer(pam_handle_t *pamh, const struct k8s_hp_answer *ans);
/* Root, or a local account outside the store's default range: surely
 * not a store user, even when the store cannot be read (break-glass). */
int pk_surely_not_store_user(const char *user);

/* ---------------------------------------------------------- storecheck.c */
/* Does the compiled-in store know `user` (any record)?  1 yes, 0 no, -1
 * unreadable or damaged.  The NSS module's libc-only reader. */
int pk_store_knows(const char *user);

/* ---------------------------------------------------------- conv.c */
/* The token from the conversation (several prompts when framed) or from
 * PAM_AUTHTOK.  PAM_SUCCESS with *token malloc'd (caller wipes and
 * frees); PAM_IGNORE when no token was offered (empty answer, or no
 * PAM_AUTHTOK) with err->reason K8S_REASON_NO_TOKEN; PAM_AUTHINFO_UNAVAIL
 * when the conversation failed; PAM_AUTH_ERR for a framing violation. */
int pk_read_token(pam_handle_t *pamh, const struct pk_args *a, const char *audience,
		  int from_authtok, char **token, size_t *token_len, struct k8s_err *err);
/* The first prompt: prompt= or the default, %a expanded, %% -> %. malloc'd. */
char *pk_first_prompt(const char *tmpl, const char *audience);
void pk_tell(pam_handle_t *pamh, int flags, const char *msg);
/* PAM_USER (asked through the conversation when prompt is set and it is
 * unset), or NULL when there is none or it is empty. */
const char *pk_get_user(pam_handle_t *pamh, int prompt);

/* ---------------------------------------------------------- auth.c */
#define PK_DATA_LOGIN "pam_k8s.login"

/* What auth leaves in the handle for account and pam_end in the same
 * process: the name of the state the helper wrote. */
struct pk_login_data {
	char user[64];
	char handle[K8S_HP_HANDLE_MAX + 1];
	char path[K8S_HP_PATH_MAX + K8S_HP_HANDLE_MAX + 2];  /* run_dir/handle */
};

int pk_authenticate(pam_handle_t *pamh, int flags, const struct pk_args *a);

#endif
