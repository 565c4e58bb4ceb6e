/* askpass.h: k8s-ssh-askpass internals.  libc only: the helper runs on
 * every client machine next to ssh and must stay small and auditable. */
#ifndef K8S_ASKPASS_H
#define K8S_ASKPASS_H

#include <stddef.h>
#include <stdint.h>

#define AP_TOKEN_MAX   16384   /* the module's K8S_TOKEN_MAX */
#define AP_AUD_MAX     256

/* SHA-256 (FIPS 180-4), one shot. */
void ap_sha256(const void *data, size_t len, unsigned char out[32]);
/* The protocol digest: hex of the first 8 bytes of SHA-256, as the module
 * computes it (and logs it as the token fingerprint). */
void ap_digest16(const char *tok, size_t len, char out[17]);

/* Does the JWT `tok` carry `aud` in its "aud" claim (string or array)?
 * 1 yes, 0 no or not a JWT.  The signature is not checked: this only
 * keeps the helper from handing a token minted for something else to a
 * server that asked for `aud`. */
int ap_jwt_has_audience(const char *tok, size_t len, const char *aud);

/* The parsed prompt.  kind: 1 first prompt, 2 continuation. */
struct ap_prompt {
	int kind;
	char audience[AP_AUD_MAX + 1];
	char user[256];           /* from ssh's "(user@host) " prefix, "" if none */
	char host[256];
	size_t offset, total;     /* continuation only */
};

/* 0 when `s` is exactly one of pam_k8s's prompts, -1 otherwise. */
int ap_parse_prompt(const char *s, struct ap_prompt *p);

#endif
