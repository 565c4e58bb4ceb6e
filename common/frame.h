/* frame.h: the parser of the multi-prompt token protocol between
 * pam_k8s's prompts and the client (the protocol: tokenproto.h, docs/pam.md).
 * A framed token is complete when total bytes arrived
 * and their digest matches; an unframed answer whose length is one a
 * client cuts at is refused, since it cannot be told from a cut token.
 *
 * libc only: linked into pam_k8s.so (which asks the questions) and into
 * the engine side (k8s-auth check reads its token through the same
 * trimming, so check and the module never disagree on a token's bytes). */
#ifndef K8S_FRAME_H
#define K8S_FRAME_H

#include <stddef.h>

#include "err.h"
#include "tokenproto.h"
#include "util.h"

/* err->reason of an empty answer: the user declined to offer a token. */
#define K8S_REASON_NO_TOKEN "no token offered"

enum k8s_frame_result {
	K8S_FRAME_BAD = -1,  /* err set; never a token */
	K8S_FRAME_DONE = 0,  /* f->tok holds the whole token */
	K8S_FRAME_MORE = 1,  /* ask again, continuing at f->tok.len of f->total */
};

struct k8s_frame {
	struct k8s_buf tok;   /* assembled token, NUL-terminated when DONE */
	size_t total;         /* framed total length; 0 while unframed */
	char digest[17];      /* framed digest, lowercase hex */
	int rounds;           /* answers taken */
};

int k8s_cut_length(size_t len);
int k8s_frame_first(struct k8s_frame *f, const char *ans, size_t len, struct k8s_err *err);
int k8s_frame_next(struct k8s_frame *f, const char *ans, size_t len, struct k8s_err *err);
void k8s_frame_free(struct k8s_frame *f);
/* Trim ASCII blanks and line ends a terminal paste may add. */
void k8s_trim(const char **s, size_t *len);

#endif
