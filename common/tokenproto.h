/* tokenproto.h: the token prompt and frame protocol (docs/pam.md) that
 * pam_k8s asks in and k8s-ssh-askpass answers in, written once for both
 * sides: the prompts, the size limit, the frame header.  First answer:
 * the bare token, or "k8s1:<total>:<digest>:<data>"; continuation
 * answers: "<offset>:<data>".  The digest is k8s_token_fingerprint
 * (sha256.h): hex of the first 8 bytes of SHA-256 of the whole token.
 *
 * Macros only, no code and no includes: the module (libc + libpam), the
 * helper, the engine and k8s-ssh-askpass (libc only) include it. */
#ifndef K8S_TOKENPROTO_H
#define K8S_TOKENPROTO_H

#define K8S_TOKEN_MAX 16384 /* bytes; larger tokens are refused before anything else */

#define K8S_FRAME_MAGIC      "k8s1:"
#define K8S_FRAME_MAX_ROUNDS 64
/* The longest frame header: "k8s1:" <total> ":" <16 hex> ":", or "<offset>:". */
#define K8S_FRAME_HEAD_MAX   48

/* The prompts.  The first: prompt= or the default, %a = the audience.
 * Continuations are fixed, so k8s-ssh-askpass can parse them: audience,
 * offset, total.  K8S_PROMPT_HEAD and K8S_PROMPT_CONT are the literal
 * pieces the askpass grammar matches. */
#define K8S_PROMPT_HEAD    "Kubernetes token (audience "
#define K8S_PROMPT_CONT    " continued at byte "
#define K8S_DEFAULT_PROMPT K8S_PROMPT_HEAD "%a): "
#define K8S_CONT_PROMPT    K8S_PROMPT_HEAD "%s)" K8S_PROMPT_CONT "%zu of %zu: "

#endif
