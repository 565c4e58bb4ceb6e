/* decide.c: requests in, answers out, and the dispatch between them (the
 * helper side of hproto.h; decide.h has the map). */
#include "decide.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "frame.h"
#include "mapping.h"
#include "preauth.h"

/* ---- requests ---- */

static int request_tag(uint8_t t)
{
	return t == K8S_HP_SEQ || t == K8S_HP_CONFIG || t == K8S_HP_USER || t == K8S_HP_SERVICE ||
	       t == K8S_HP_RHOST || t == K8S_HP_TOKEN || t == K8S_HP_FLAGS || t == K8S_HP_GROUPS ||
	       t == K8S_HP_RUID || t == K8S_HP_HANDLE;
}

int k8s_request_decode(const unsigned char *buf, size_t len, struct k8s_request *rq)
{
	const struct k8s_hp_field *tok;
	struct k8s_hp_msg m;
	uint64_t v;
	size_t i;

	memset(rq, 0, sizeof(*rq));
	rq->ruid = -1;
	if (k8s_hp_parse(buf, len, &m) != 0 || (m.type & K8S_HP_ANSWER))
		return -1;
	for (i = 0; i < m.n; i++)
		if (!request_tag(m.f[i].tag))
			return -1;
	rq->type = m.type;
	if (k8s_hp_get_u64(&m, K8S_HP_SEQ, UINT32_MAX, &rq->seq) != 0 ||
	    k8s_hp_get_u64(&m, K8S_HP_FLAGS, K8S_HPF_ALL, &v) != 0)
		return -1;
	rq->flags = (unsigned)v;
	if (k8s_hp_get(&m, K8S_HP_RUID) != NULL) {
		if (k8s_hp_get_u64(&m, K8S_HP_RUID, UINT32_MAX, &v) != 0)
			return -1;
		rq->ruid = (long long)v;
	}
	if (k8s_hp_get_str(&m, K8S_HP_CONFIG, 1, 1, rq->config, sizeof(rq->config)) != 0 ||
	    k8s_hp_get_str(&m, K8S_HP_USER, 0, 1, rq->user, sizeof(rq->user)) != 0 ||
	    k8s_hp_get_str(&m, K8S_HP_SERVICE, 1, 1, rq->service, sizeof(rq->service)) != 0 ||
	    k8s_hp_get_str(&m, K8S_HP_RHOST, 1, 0, rq->rhost, sizeof(rq->rhost)) != 0 ||
	    k8s_hp_get_str(&m, K8S_HP_GROUPS, 1, 1, rq->groups, sizeof(rq->groups)) != 0 ||
	    k8s_hp_get_str(&m, K8S_HP_HANDLE, 1, 1, rq->handle, sizeof(rq->handle)) != 0 ||
	    (rq->handle[0] != '\0' && !k8s_hp_valid_handle(rq->handle)) || rq->user[0] == '\0')
		return -1;
	tok = k8s_hp_get(&m, K8S_HP_TOKEN);
	if (tok != NULL) {
		if (rq->type != K8S_HP_AUTH || tok->len > K8S_TOKEN_MAX)
			return -1;
		rq->token = malloc(tok->len + 1);
		if (rq->token == NULL)
			return -1;
		memcpy(rq->token, tok->val, tok->len);
		rq->token[tok->len] = '\0';
		rq->token_len = tok->len;
	}
	return 0;
}

void k8s_request_free(struct k8s_request *rq)
{
	if (rq->token != NULL)
		k8s_freezero(rq->token, rq->token_len + 1);
	rq->token = NULL;
	rq->token_len = 0;
}

/* ---- answers ---- */

void k8s_answer_init(struct k8s_answer *an)
{
	memset(an, 0, sizeof(*an));
	an->verdict = K8S_HV_UNAVAILABLE;
	an->login.uid_number = -1;
	k8s_err_clear(&an->err);
}

void k8s_answer_free(struct k8s_answer *an)
{
	size_t i;

	for (i = 0; i < an->n_logs; i++)
		free(an->log[i]);
	k8s_identity_free(&an->id);
	k8s_login_free(&an->login);
	memset(an, 0, sizeof(*an));
}

static void answer_vlog(struct k8s_answer *an, int prio, const char *fmt, va_list ap)
{
	char line[K8S_HP_LOG_MAX - 1];
	char *p;
	size_t i, o = 0;
	int n;

	if (an->n_logs >= K8S_HP_MAX_LOGS)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	p = malloc(sizeof(line));
	if (p == NULL)
		return;
	/* printable ASCII only: escape what the caller's escaping missed */
	for (i = 0; line[i] != '\0' && o + 4 < sizeof(line); i++) {
		unsigned char c = (unsigned char)line[i];

		if (c < 0x20 || c > 0x7e)
			o += (size_t)snprintf(p + o, 5, "\\x%02x", c);
		else
			p[o++] = (char)c;
	}
	p[o] = '\0';
	if (prio < LOG_ERR)
		prio = LOG_ERR;
	if (prio > LOG_DEBUG)
		prio = LOG_DEBUG;
	an->log_prio[an->n_logs] = prio;
	an->log[an->n_logs++] = p;
}

void k8s_answer_log(struct k8s_answer *an, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	answer_vlog(an, prio, fmt, ap);
	va_end(ap);
}

void k8s_answer_debug(struct k8s_answer *an, const struct k8s_request *rq, const char *fmt, ...)
{
	va_list ap;

	if (!(rq->flags & K8S_HPF_DEBUG))
		return;
	va_start(ap, fmt);
	answer_vlog(an, LOG_DEBUG, fmt, ap);
	va_end(ap);
}

int k8s_answer_encode(const struct k8s_answer *an, const struct k8s_request *rq, struct k8s_buf *b)
{
	char prio;
	size_t i;
	int rc;

	rc = k8s_hp_begin(b, (uint8_t)(rq->type | K8S_HP_ANSWER));
	rc |= k8s_hp_put_u64(b, K8S_HP_SEQ, rq->seq);
	rc |= k8s_hp_put_u64(b, K8S_HP_VERDICT, (uint64_t)an->verdict);
	if (an->tell != K8S_HT_NONE)
		rc |= k8s_hp_put_u64(b, K8S_HP_TELL, (uint64_t)an->tell);
	if (an->audience[0] != '\0')
		rc |= k8s_hp_put_str(b, K8S_HP_AUDIENCE, an->audience);
	if (an->handle[0] != '\0')
		rc |= k8s_hp_put_str(b, K8S_HP_HANDLE, an->handle);
	if (an->run_dir != NULL)
		rc |= k8s_hp_put_str(b, K8S_HP_RUNDIR, an->run_dir);
	for (i = 0; i < an->n_logs && rc == 0; i++) {
		struct k8s_buf l = { 0 };

		prio = (char)('0' + an->log_prio[i]);
		rc |= k8s_buf_append(&l, &prio, 1);
		rc |= k8s_buf_append(&l, an->log[i], strlen(an->log[i]));
		if (rc == 0)
			rc |= k8s_hp_put(b, K8S_HP_LOG, l.data, l.len);
		k8s_buf_free(&l);
	}
	rc |= k8s_hp_finish(b);
	return rc == 0 ? 0 : -1;
}

/* ---- dispatch ---- */

unsigned k8s_decision_deadline(const struct k8s_config *cfg)
{
	int64_t t = 0, d;

	if (cfg != NULL && cfg->has_tokenreview)
		t = cfg->tokenreview.timeout_ms;
	if (cfg != NULL && cfg->n_jwt > 0 && cfg->jwt_timeout_ms > t)
		t = cfg->jwt_timeout_ms;
	if (t <= 0)
		t = 5000;
	/* validation (TokenReview, or discovery + JWKS), then a
	 * SubjectAccessReview, each bounded by its timeout, plus local work */
	d = (3 * t + 999) / 1000 + 2;
	return d > K8S_DECISION_DEADLINE_MAX ? K8S_DECISION_DEADLINE_MAX : (unsigned)d;
}

/* No usable configuration: keep the store's users out (fail closed), stay
 * out of everyone else's way (root and local accounts must still log in). */
static void decide_without_config(const struct k8s_err *cfg_err, const struct k8s_request *rq,
				  struct k8s_answer *an)
{
	int ours = k8s_user_in_default_store(rq->user);

	an->err = *cfg_err;
	/* the detail names the file and the key; the user says whom it
	 * turned away (rq->user is a valid local name: nothing to escape) */
	k8s_answer_log(an, LOG_ERR, "configuration unusable (%s): %s; user=\"%s\" %s", cfg_err->reason,
		       cfg_err->detail, rq->user,
		       ours ? "(a store user: refused until the configuration is fixed; k8s-auth status shows every problem)"
			    : "(not a store user: left to the other modules)");
	if (!ours) {
		an->verdict = K8S_HV_IGNORE;
		return;
	}
	switch (rq->type) {
	case K8S_HP_PROBE:
	case K8S_HP_AUTH:
		an->verdict = K8S_HV_UNAVAILABLE;
		an->tell = K8S_HT_UNAVAILABLE; /* the store knows this user */
		break;
	case K8S_HP_ACCOUNT:
		an->verdict = K8S_HV_REFUSED;
		break;
	default:
		an->verdict = K8S_HV_IGNORE;
		break;
	}
}

void k8s_decide(const struct k8s_config *cfg, const struct k8s_err *cfg_err,
		const struct k8s_request *rq, struct k8s_answer *an)
{
	if (!k8s_valid_local_name(rq->user)) {
		/* not a name the store could hold: never ours */
		an->verdict = K8S_HV_IGNORE;
		return;
	}
	if (cfg == NULL) {
		struct k8s_preauth_entry e;

		/* sshd holds a pre-authentication entry and nothing can check it */
		if (rq->type == K8S_HP_ACCOUNT && k8s_preauth_served(rq->caller, rq->user, &e) != 0) {
			k8s_answer_log(an, LOG_ERR, "pam_k8s: account refused user=\"%s\" reason=\"%s\"",
				       rq->user, "pre-authentication name without configuration");
			an->verdict = K8S_HV_REFUSED;
			return;
		}
		decide_without_config(cfg_err, rq, an);
		return;
	}
	switch (rq->type) {
	case K8S_HP_PROBE:
		k8s_decide_probe(cfg, rq, an);
		break;
	case K8S_HP_AUTH:
		k8s_decide_auth(cfg, rq, an);
		break;
	case K8S_HP_ACCOUNT:
		k8s_decide_account(cfg, rq, an);
		break;
	case K8S_HP_OPEN:
		k8s_decide_open(cfg, rq, an);
		break;
	case K8S_HP_CLOSE:
		k8s_decide_close(cfg, rq, an);
		break;
	case K8S_HP_SETCRED:
		k8s_decide_setcred(cfg, rq, an);
		break;
	default:
		an->verdict = K8S_HV_UNAVAILABLE;
		break;
	}
}
