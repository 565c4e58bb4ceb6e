/* conv.c: getting the token from the application: the conversation (one
 * echo-off prompt, more when the client frames a long token) or
 * PAM_AUTHTOK for use_first_pass/try_first_pass. */
#include "pk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_ext.h>


char *pk_first_prompt(const char *tmpl, const char *audience)
{
	const char *vals[] = { audience };

	return k8s_expand(tmpl, "a", vals);
}

void pk_tell(pam_handle_t *pamh, int flags, const char *msg)
{
	if (!(flags & PAM_SILENT))
		(void)pam_error(pamh, "%s", msg);
}

/* One echo-off question.  PAM_SUCCESS with *resp (wipe it), or
 * PAM_AUTHINFO_UNAVAIL when the application gave no answer. */
static int ask(pam_handle_t *pamh, const char *prompt, char **resp, struct k8s_err *err)
{
	int rc;

	*resp = NULL;
	rc = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, resp, "%s", prompt);
	if (rc != PAM_SUCCESS || *resp == NULL) {
		k8s_freezero_str(*resp);
		*resp = NULL;
		k8s_err_set(err, K8S_UNAVAILABLE, "no answer",
			    "the conversation failed: %s", pam_strerror(pamh, rc));
		return PAM_AUTHINFO_UNAVAIL;
	}
	return PAM_SUCCESS;
}

/* Ask until the frame is complete.  The first answer is already in f. */
static int ask_rest(pam_handle_t *pamh, const char *audience, struct k8s_frame *f, int r,
		    struct k8s_err *err)
{
	char prompt[512];
	char *resp = NULL;
	int rc = PAM_SUCCESS;

	while (r == K8S_FRAME_MORE) {
		snprintf(prompt, sizeof(prompt), K8S_CONT_PROMPT, audience, f->tok.len, f->total);
		rc = ask(pamh, prompt, &resp, err);
		if (rc != PAM_SUCCESS)
			goto out;
		r = k8s_frame_next(f, resp, strnlen(resp, K8S_TOKEN_MAX + 64), err);
		k8s_freezero_str(resp);
		resp = NULL;
	}
	rc = r == K8S_FRAME_DONE ? PAM_SUCCESS : PAM_AUTH_ERR;
out:
	return rc;
}

/* An empty answer is the user declining to offer a token: pam_k8s steps
 * aside (PAM_IGNORE) so the stack can go on, e.g. to a local password. */
static int frame_rc(int r, const struct k8s_err *err)
{
	if (r != K8S_FRAME_BAD)
		return PAM_SUCCESS;
	return strcmp(err->reason, K8S_REASON_NO_TOKEN) == 0 ? PAM_IGNORE : PAM_AUTH_ERR;
}

static int token_from_authtok(pam_handle_t *pamh, struct k8s_frame *f, struct k8s_err *err)
{
	const void *item = NULL;
	const char *tok;
	int r;

	/* Whether PAM_AUTHTOK is a token or another module's password is
	 * the helper's to tell (K8S_HPF_FROM_AUTHTOK): it sends nothing to
	 * the network unless it parses as a JWS of a configured issuer. */
	if (pam_get_item(pamh, PAM_AUTHTOK, &item) != PAM_SUCCESS || item == NULL) {
		k8s_err_set(err, K8S_REFUSED, K8S_REASON_NO_TOKEN, "PAM_AUTHTOK is unset");
		return PAM_IGNORE;
	}
	tok = item;
	r = k8s_frame_first(f, tok, strnlen(tok, K8S_TOKEN_MAX + 1), err);
	if (r == K8S_FRAME_MORE) {
		k8s_frame_free(f);
		k8s_err_set(err, K8S_REFUSED, "malformed token", "PAM_AUTHTOK holds a partial frame");
		return PAM_AUTH_ERR;
	}
	return frame_rc(r, err);
}

int pk_read_token(pam_handle_t *pamh, const struct pk_args *a, const char *aud,
		  int from_authtok, char **token, size_t *token_len, struct k8s_err *err)
{
	struct k8s_frame f;
	char *prompt = NULL, *resp = NULL;
	int rc, r;

	*token = NULL;
	*token_len = 0;
	memset(&f, 0, sizeof(f));
	if (from_authtok) {
		rc = token_from_authtok(pamh, &f, err);
		goto out;
	}
	prompt = pk_first_prompt(a->prompt != NULL ? a->prompt : K8S_DEFAULT_PROMPT, aud);
	if (prompt == NULL) {
		rc = PAM_BUF_ERR;
		k8s_err_oom(err, "building the prompt");
		goto out;
	}
	rc = ask(pamh, prompt, &resp, err);
	if (rc != PAM_SUCCESS)
		goto out;
	r = k8s_frame_first(&f, resp, strnlen(resp, K8S_TOKEN_MAX + 64), err);
	k8s_freezero_str(resp);
	resp = NULL;
	rc = frame_rc(r, err);
	if (rc == PAM_SUCCESS)
		rc = ask_rest(pamh, aud, &f, r, err);
out:
	free(prompt);
	if (rc == PAM_SUCCESS) {
		*token = f.tok.data;  /* NUL-terminated by the frame code */
		*token_len = f.tok.len;
		memset(&f, 0, sizeof(f));
	}
	k8s_frame_free(&f);
	return rc;
}

const char *pk_get_user(pam_handle_t *pamh, int prompt)
{
	const char *user = NULL;
	const void *item = NULL;

	if (prompt) {
		if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS)
			return NULL;
	} else {
		if (pam_get_item(pamh, PAM_USER, &item) != PAM_SUCCESS)
			return NULL;
		user = item;
	}
	if (user == NULL || user[0] == '\0')
		return NULL;
	return user;
}
