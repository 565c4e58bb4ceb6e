/* askpass.h: k8s-ssh-askpass internals.  libc only: the helper runs on
 * every client machine next to ssh and must stay small and auditable. */
#ifndef K8S_ASKPASS_H
#define K8S_ASKPASS_H

#include <stddef.h>
#include <stdint.h>

#define AP_TOKEN_MAX   16384   /* the module's K8S_TOKEN_MAX */
#define AP_AUD_MAX     256

/* The protocol digest: hex of the first 8 bytes of SHA-256, as the module
 * computes it (and logs it as the token fingerprint). */
void ap_digest16(const char *tok, size_t len, char out[17]);

/* Does the JWT `tok` carry `aud` in its "aud" claim (string or array)?
 * 1 yes, 0 no or not a JWT.  The signature is not checked: this only
 * keeps the helper from handing a token minted for something else to a
 * server that asked for `aud`. */
int ap_jwt_has_audience(const char *tok, size_t len, const char *aud);

/* The header of the framed answer carrying tok[off..] (docs/pam.md):
 * "k8s1:<len>:<digest16>:" for the first (off 0), "<off>:" after. */
#define AP_HEAD_MAX 48
void ap_frame_head(const char *tok, size_t len, size_t off, char out[AP_HEAD_MAX]);

/* The parsed prompt.  kind: 1 first prompt, 2 continuation. */
struct ap_prompt {
	int kind;
	char audience[AP_AUD_MAX + 1];
	char user[256];           /* from ssh's "(user@host) " prefix, "" if none */
	char host[256];
	size_t offset, total;     /* continuation only */
};

/* 0 when `s` is exactly one of pam_k8s's prompts, -1 otherwise.  The
 * "(user@host) " prefix is parsed for the grammar only: the server can
 * write it itself, so nothing is decided on it. */
int ap_parse_prompt(const char *s, struct ap_prompt *p);

/* ---- whom the token is for ---- */

#define AP_NAME_MAX  253
#define AP_NAMES     4
#define AP_PATS_MAX  1024
#define AP_DEFAULT_AUDIENCE "host-login:%h"

/* The host the helper mints for, from the process that runs it (never
 * from the prompt): ssh's destination, sudo's local host, or
 * K8S_ASKPASS_HOST. */
struct ap_target {
	const char *via;                     /* "ssh", "sudo", "K8S_ASKPASS_HOST" */
	char host[AP_NAME_MAX + 1];          /* %h in commands: the destination as typed
					      * (lowercase), gethostname(), K8S_ASKPASS_HOST */
	char hostname[AP_NAME_MAX + 1];      /* ssh's HostName, "" otherwise */
	char user[256];                      /* %u: the remote user (ssh), else the local one */
	char names[AP_NAMES][AP_NAME_MAX + 1];  /* what %h stands for in audience patterns */
	size_t n_names;
};

/* A host name the helper will put into an audience: 1..253 bytes of
 * [A-Za-z0-9._:-], not starting with '-' or '.'.  1 yes, 0 no. */
int ap_name_ok(const char *s);
/* t->names from t->host and t->hostname: each valid one (lowercased when
 * `lower`), and with `short_names` also its short form (up to the first
 * dot; never for an IP address), without duplicates. */
void ap_target_names(struct ap_target *t, int lower, int short_names);

/* `ssh -G` output: the "host" (destination as given, after Host alias
 * matching), "hostname" and "user" lines into t (not validated here).
 * 0 when a hostname line was found, -1 otherwise. */
int ap_parse_ssh_g(const char *out, size_t len, struct ap_target *t);

/* /proc/PID/status: Name and the four Uid fields.  0 ok, -1 not found. */
int ap_parse_status(const char *buf, char *name, size_t cap, long uid[4]);

/* How a child ended (waitpid's status) in words: "exited with status 1",
 * "killed by signal 9 (Killed)"; 127 and 126 say the command was not
 * found or not executable. */
void ap_describe_wait(int status, char *buf, size_t size);

/* %a, %h, %u, %% in one template word; other % sequences stay as they
 * are.  With `glob_escape` the substituted values have fnmatch's
 * specials escaped.  0 ok, -1 too long. */
int ap_expand(const char *in, const char *a, const char *h, const char *u, int glob_escape,
	      char *out, size_t cap);

/* Is `aud` allowed by `list` (comma-separated fnmatch patterns) for t?  In
 * each pattern %h stands for each of t->names in turn (a pattern with %h
 * and no names allows nothing), %u for t->user.  `shown` (may be NULL)
 * gets the expanded patterns, ", "-joined, for the refusal message.  1
 * allowed, 0 not. */
int ap_audience_allowed(const char *list, const struct ap_target *t, const char *aud,
			char *shown, size_t cap);

/* askpass.conf: "Host PATTERN..." blocks (fnmatch, case-insensitive, on
 * the destination as typed or the HostName), "Audience PATTERNS" and
 * "ShortNames yes|no"; lines before the first Host apply to every host;
 * the first value found for a keyword wins (ssh_config's rules). */
struct ap_conf {
	char audience[AP_PATS_MAX];   /* "" = not set */
	int short_names;              /* -1 not set, 0 no, 1 yes */
};
/* 0 ok (c filled for host/hostname), -1 malformed: err gets "line N: why". */
int ap_conf_parse(const char *text, size_t len, const char *host, const char *hostname,
		  struct ap_conf *c, char *err, size_t errcap);

#endif
