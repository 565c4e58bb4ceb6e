/* hproto.h: the protocol between pam_k8s.so and k8s-auth-helper.
 *
 * The module (inside sshd, su, sudo: a process whose environment, limits
 * and descriptors the caller chose) starts the helper for each PAM call
 * and talks to it over a socketpair; the helper does everything that needs
 * the configuration, the network, the caches or the store writer.  What
 * crosses is small, typed and length-prefixed, checked on arrival by both
 * sides (OpenSSH's monitor requests are the model):
 *
 *   message = header payload
 *   header  = "K8H" version(1 byte, 1) type(1) 0 0 0 length(u32 big endian)
 *   payload = field*          (exactly `length` bytes, at most K8S_HP_MAX_PAYLOAD)
 *   field   = tag(1) length(u32 big endian) value
 *
 * Values are text without NUL bytes.  A tag appears at most once, except
 * K8S_HP_LOG.  Every request carries a sequence number that its answer
 * repeats, and an answer's type is its request's type | K8S_HP_ANSWER, so
 * a doubled or stale answer is never taken for the next one.  Anything
 * else (other version, unknown type or tag, short or long read, trailing
 * bytes) is malformed, and a malformed answer is a refusal.
 *
 * libc only: this file is linked into pam_k8s.so and fuzzed
 * (fuzz/fuzz_hproto.c). */
#ifndef K8S_HPROTO_H
#define K8S_HPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define K8S_HP_VERSION      1
#define K8S_HP_HEADER       12u
#define K8S_HP_MAX_PAYLOAD  (128u * 1024u)
#define K8S_HP_MAX_FIELDS   64u
#define K8S_HP_MAX_LOGS     16u
#define K8S_HP_LOG_MAX      4096u  /* one log line, priority digit and NUL included */
#define K8S_HP_AUD_MAX      256u
#define K8S_HP_HANDLE_MAX   63u
#define K8S_HP_PATH_MAX     4095u

/* Message types.  Requests go module -> helper; answers back. */
enum k8s_hp_type {
	K8S_HP_PROBE = 1,    /* auth, before the conversation: handled? which audience? */
	K8S_HP_AUTH = 2,     /* auth, the token (or PAM_AUTHTOK) */
	K8S_HP_ACCOUNT = 3,  /* account management (sudo re-validation included) */
	K8S_HP_OPEN = 4,     /* open_session */
	K8S_HP_CLOSE = 5,    /* close_session */
	K8S_HP_SETCRED = 6,  /* setcred */
	K8S_HP_ANSWER = 0x80,
};
#define K8S_HP_TYPE_MAX K8S_HP_SETCRED

/* Field tags. */
enum k8s_hp_tag {
	K8S_HP_SEQ = 'q',      /* both: request sequence number, decimal */
	K8S_HP_CONFIG = 'c',   /* request: config path ("" = default) */
	K8S_HP_USER = 'u',     /* request: PAM_USER */
	K8S_HP_SERVICE = 's',  /* request: PAM_SERVICE */
	K8S_HP_RHOST = 'r',    /* request: PAM_RHOST */
	K8S_HP_TOKEN = 't',    /* request: the token (secret) */
	K8S_HP_FLAGS = 'f',    /* request: K8S_HPF_* bits, decimal */
	K8S_HP_GROUPS = 'g',   /* request: group=A,B */
	K8S_HP_RUID = 'i',     /* request: the caller's real uid, decimal */
	K8S_HP_HANDLE = 'h',   /* both: the login state this handle's auth left */
	K8S_HP_RUNDIR = 'd',   /* answer (auth): the directory that state is in (absolute) */
	K8S_HP_VERDICT = 'v',  /* answer: enum k8s_hp_verdict, decimal */
	K8S_HP_AUDIENCE = 'a', /* answer (probe): the audience the prompt names */
	K8S_HP_TELL = 'm',     /* answer: enum k8s_hp_tell, decimal */
	K8S_HP_LOG = 'l',      /* answer, repeatable: priority digit (3..7), then the line */
};

/* Request flags. */
#define K8S_HPF_DEBUG        0x01u
#define K8S_HPF_FROM_AUTHTOK 0x02u  /* the token is PAM_AUTHTOK: maybe a password */
#define K8S_HPF_REVALIDATE   0x04u  /* account: the stack line said revalidate */
#define K8S_HPF_BAD_ARGS     0x08u  /* the stack line has an argument the module does not know */
#define K8S_HPF_HAS_LOGIN    0x10u  /* this handle's auth succeeded (HANDLE names its state) */
#define K8S_HPF_ALL          0x1fu

enum k8s_hp_verdict {
	K8S_HV_OK = 0,           /* PAM_SUCCESS */
	K8S_HV_IGNORE = 1,       /* not a user pam_k8s handles: PAM_IGNORE */
	K8S_HV_REFUSED = 2,      /* PAM_AUTH_ERR (auth) / PAM_PERM_DENIED (account) */
	K8S_HV_UNAVAILABLE = 3,  /* PAM_AUTHINFO_UNAVAIL (auth) / PAM_PERM_DENIED (account) */
	K8S_HV_NO_TOKEN = 4,     /* auth: nothing that could be a token was offered */
	K8S_HV_USER_UNKNOWN = 5, /* PAM_USER_UNKNOWN */
};
#define K8S_HV_MAX K8S_HV_USER_UNKNOWN

/* What the module may tell the person at the prompt: a choice among fixed
 * generic messages, never text from the helper. */
enum k8s_hp_tell {
	K8S_HT_NONE = 0,
	K8S_HT_REFUSED = 1,      /* "Kubernetes token refused." */
	K8S_HT_UNAVAILABLE = 2,  /* "Kubernetes token could not be verified now." */
};
#define K8S_HT_MAX K8S_HT_UNAVAILABLE

struct k8s_hp_field {
	uint8_t tag;
	uint32_t len;
	const char *val;  /* into the message; not NUL-terminated */
};

struct k8s_hp_msg {
	uint8_t type;
	size_t n;
	struct k8s_hp_field f[K8S_HP_MAX_FIELDS];
};

/* The header of a message: 0 with *type and *payload_len, -1 malformed. */
int k8s_hp_header(const unsigned char *hdr, size_t len, uint8_t *type, uint32_t *payload_len);
/* A whole message (header included, exactly `len` bytes).  0 or -1. */
int k8s_hp_parse(const unsigned char *buf, size_t len, struct k8s_hp_msg *m);
/* The field with `tag`, or NULL. */
const struct k8s_hp_field *k8s_hp_get(const struct k8s_hp_msg *m, uint8_t tag);
/* A decimal field (no sign, no leading zeros, at most 19 digits) that is
 * at most max.  0, or -1 when absent or malformed. */
int k8s_hp_get_u64(const struct k8s_hp_msg *m, uint8_t tag, uint64_t max, uint64_t *out);
/* A text field copied into out[size] with its NUL; -1 when absent (unless
 * optional, then ""), too long, or holding bytes outside printable ASCII
 * when printable is set. */
int k8s_hp_get_str(const struct k8s_hp_msg *m, uint8_t tag, int optional, int printable,
		   char *out, size_t size);

/* A decoded answer, as the module takes it. */
struct k8s_hp_answer {
	uint8_t type;         /* the request type it answers */
	uint64_t seq;
	int verdict;          /* enum k8s_hp_verdict */
	int tell;             /* enum k8s_hp_tell */
	char audience[K8S_HP_AUD_MAX + 1];
	char handle[K8S_HP_HANDLE_MAX + 1];
	char run_dir[K8S_HP_PATH_MAX + 1];
	size_t n_logs;
	int log_prio[K8S_HP_MAX_LOGS];
	char log[K8S_HP_MAX_LOGS][K8S_HP_LOG_MAX];
};

/* Parse and check an answer: the message must be an answer, every field
 * one an answer may carry, the verdict and message in range, log lines
 * printable ASCII.  0 or -1. */
int k8s_hp_decode_answer(const unsigned char *buf, size_t len, struct k8s_hp_answer *a);
/* Is `name` a login state handle ("auth." or "sess." and 16 hex digits)? */
int k8s_hp_valid_handle(const char *name);

/* Building a message: begin, add fields, finish (fills in the length).
 * 0 or -1 (out of memory, or the payload grew past the limit). */
int k8s_hp_begin(struct k8s_buf *b, uint8_t type);
int k8s_hp_put(struct k8s_buf *b, uint8_t tag, const char *val, size_t len);
int k8s_hp_put_str(struct k8s_buf *b, uint8_t tag, const char *val); /* NULL -> skipped */
int k8s_hp_put_u64(struct k8s_buf *b, uint8_t tag, uint64_t v);
int k8s_hp_finish(struct k8s_buf *b);

#endif
