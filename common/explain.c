/* explain.c: see explain.h. */
#include "explain.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "identity.h"
#include "jwt.h"
#include "util.h"

#define SHOW_CLAIM_MAX 96 /* characters of one untrusted claim value shown */

/* Append to out (NUL-terminated, size bytes); 0, or -1 when it did not fit
 * (out then ends in "..."). */
static int put(char *out, size_t size, const char *s)
{
	size_t o = strlen(out), n = strlen(s);

	if (o + n + 4 <= size) {
		memcpy(out + o, s, n + 1);
		return 0;
	}
	if (o + 4 <= size)
		memcpy(out + o, "...", 4);
	return -1;
}

static int put_quoted(char *out, size_t size, const char *s)
{
	char v[SHOW_CLAIM_MAX + 8], q[SHOW_CLAIM_MAX + 12];

	k8s_show_untrusted(s, SHOW_CLAIM_MAX, v, sizeof(v), 0);
	snprintf(q, sizeof(q), "\"%s\"", v);
	return put(out, size, q);
}

void k8s_show_audiences(json_t *aud, char *out, size_t size)
{
	json_t *v;
	size_t i;

	if (size == 0)
		return;
	out[0] = '\0';
	if (aud == NULL) {
		put(out, size, "(none)");
		return;
	}
	if (json_is_string(aud)) {
		put_quoted(out, size, json_string_value(aud));
		return;
	}
	if (!json_is_array(aud)) {
		put(out, size, "(not a string or a list of strings)");
		return;
	}
	if (put(out, size, "[") != 0)
		return;
	json_array_foreach(aud, i, v) {
		if ((i > 0 && put(out, size, ", ") != 0) ||
		    put_quoted(out, size, json_is_string(v) ? json_string_value(v) : "(not a string)") != 0)
			return;
	}
	put(out, size, "]");
}

void k8s_show_strv(const struct k8s_strv *v, char *out, size_t size)
{
	size_t i;

	if (size == 0)
		return;
	out[0] = '\0';
	for (i = 0; v != NULL && i < v->n; i++)
		if ((i > 0 && put(out, size, ", ") != 0) || put_quoted(out, size, v->v[i]) != 0)
			return;
	if (out[0] == '\0')
		put(out, size, "(none)");
}

/* ---------------------------------------------------------- issuers */

struct url_parts {
	int https;
	const char *scheme; /* as written */
	size_t scheme_len;
	const char *host;   /* up to the first '/' */
	size_t host_len;
	const char *path;   /* the rest, trailing slashes excluded */
	size_t path_len;
	size_t slashes;     /* trailing slashes */
};

static int split_url(const char *u, struct url_parts *p)
{
	size_t n;

	memset(p, 0, sizeof(*p));
	if (strncasecmp(u, "https://", 8) == 0)
		p->https = 1, p->scheme_len = 8;
	else if (strncasecmp(u, "http://", 7) == 0)
		p->scheme_len = 7;
	else
		return -1;
	p->scheme = u;
	p->host = u + p->scheme_len;
	p->host_len = strcspn(p->host, "/");
	p->path = p->host + p->host_len;
	n = strlen(p->path);
	while (n > 0 && p->path[n - 1] == '/') {
		n--;
		p->slashes++;
	}
	p->path_len = n;
	return 0;
}

static void join_phrase(char *buf, size_t size, const char *phrase)
{
	size_t o = strlen(buf);

	snprintf(buf + o, size - o, "%s%s", o > 0 ? " and " : "", phrase);
}

const char *k8s_issuer_near_miss(const char *want, const char *got, char *buf, size_t size)
{
	struct url_parts w, g;

	if (size == 0 || want == NULL || got == NULL || strcmp(want, got) == 0 ||
	    split_url(want, &w) != 0 || split_url(got, &g) != 0)
		return NULL;
	/* near: the same once the scheme, letter case and trailing slashes
	 * are set aside */
	if (w.host_len != g.host_len || strncasecmp(w.host, g.host, w.host_len) != 0 ||
	    w.path_len != g.path_len || strncasecmp(w.path, g.path, w.path_len) != 0)
		return NULL;
	buf[0] = '\0';
	if (w.https != g.https)
		join_phrase(buf, size, g.https ? "https instead of http" : "http instead of https");
	else if (memcmp(w.scheme, g.scheme, w.scheme_len) != 0)
		join_phrase(buf, size, "letter case in the scheme");
	if (memcmp(w.host, g.host, w.host_len) != 0)
		join_phrase(buf, size, "letter case in the host");
	if (memcmp(w.path, g.path, w.path_len) != 0)
		join_phrase(buf, size, "letter case in the path");
	if (w.slashes < g.slashes)
		join_phrase(buf, size, "a trailing slash");
	else if (w.slashes > g.slashes)
		join_phrase(buf, size, "a missing trailing slash");
	return buf[0] != '\0' ? buf : NULL;
}

/* ---------------------------------------------------------- times */

void k8s_clock_note(time_t now, char *buf, size_t size)
{
	char ts[32];

	k8s_format_time(now, ts);
	snprintf(buf, size, "; the host clock reads %s, if that is wrong fix it "
		 "(k8s-auth status compares it with the apiserver's)", ts);
}

int k8s_err_expired(struct k8s_err *err, time_t exp, time_t now)
{
	char when[K8S_WHEN_MAX], note[160] = "";

	k8s_format_when(exp, now, when);
	/* through double: exp is a claim, anywhere in time_t */
	if ((double)now - (double)exp <= K8S_CLOCK_SUSPECT_S)
		k8s_clock_note(now, note, sizeof(note));
	return k8s_err_set(err, K8S_REFUSED, "token expired", "token expired at %s%s", when, note);
}

int k8s_err_not_yet_valid(struct k8s_err *err, time_t nbf, time_t now)
{
	char when[K8S_WHEN_MAX], note[160];

	k8s_format_when(nbf, now, when);
	k8s_clock_note(now, note, sizeof(note));
	return k8s_err_set(err, K8S_REFUSED, "token not yet valid",
			   "token is valid from %s, beyond the %ds clock leeway%s", when,
			   K8S_CLOCK_LEEWAY_S, note);
}

int k8s_err_issued_ahead(struct k8s_err *err, time_t iat, time_t now)
{
	char when[K8S_WHEN_MAX], note[160];

	k8s_format_when(iat, now, when);
	k8s_clock_note(now, note, sizeof(note));
	return k8s_err_set(err, K8S_REFUSED, "token issued in the future",
			   "token issued at %s, beyond the %ds clock leeway%s", when,
			   K8S_CLOCK_LEEWAY_S, note);
}

/* ---------------------------------------------------------- unclaimed JWTs */

#define NO_ISSUER_MATCHED "no jwt issuer matched"

void k8s_explain_unclaimed_jwt(const struct k8s_config *cfg, const struct k8s_token *t,
			       struct k8s_err *err)
{
	char iss_shown[SHOW_CLAIM_MAX + 8], near[96], near_shown[SHOW_CLAIM_MAX + 8];
	char pre[384] = "", post[256] = "", reason[sizeof(err->reason)], detail[sizeof(err->detail)];
	const char *iss, *how = NULL, *nearest = NULL, *kind = "", *none;
	json_t *payload;
	time_t exp, now = time(NULL);
	size_t i, n_iss;

	/* a token the strict parser accepted (k8s_token_decode did that) */
	if (err == NULL || err->status != K8S_REFUSED || t == NULL || !t->parsed)
		return;
	/* only refusals of the token as a whole (the apiserver's, or no
	 * authenticator at all): a claim the review then found wrong says
	 * what it is itself */
	if (strcmp(err->reason, "token rejected by the apiserver") != 0 &&
	    strcmp(err->reason, "wrong audience") != 0 && strcmp(err->reason, "unknown issuer") != 0)
		return;
	payload = t->jwt.payload;
	iss = json_string_value(json_object_get(payload, "iss"));
	/* the serviceAccounts issuer is one more candidate, after the jwt ones */
	n_iss = cfg->n_jwt + (cfg->has_sa && cfg->sa.issuer_url != NULL ? 1 : 0);
	none = cfg->has_sa ? "no jwt or serviceAccounts issuer" : "no jwt issuer";
	if (n_iss > 0 && iss == NULL)
		snprintf(pre, sizeof(pre), "the token has no iss claim, so %s matched; ", none);
	if (n_iss > 0 && iss != NULL) {
		for (i = 0; i < n_iss && how == NULL; i++) {
			nearest = i < cfg->n_jwt ? cfg->jwt[i].issuer_url : cfg->sa.issuer_url;
			kind = i < cfg->n_jwt ? "jwt issuer" : "serviceAccounts issuer";
			how = k8s_issuer_near_miss(nearest, iss, near, sizeof(near));
		}
		k8s_show_untrusted(iss, SHOW_CLAIM_MAX, iss_shown, sizeof(iss_shown), 0);
		if (how != NULL) {
			k8s_show_untrusted(nearest, SHOW_CLAIM_MAX, near_shown, sizeof(near_shown), 0);
			snprintf(pre, sizeof(pre), "the token's iss \"%s\" matches %s; "
				 "nearest: %s \"%s\", which differs by %s; ", iss_shown, none, kind,
				 near_shown, how);
		} else {
			snprintf(pre, sizeof(pre), "the token's iss \"%s\" matches %s; ",
				 iss_shown, none);
		}
	}
	/* the apiserver's own words on an expired token are terse */
	if (k8s_numeric_date(json_object_get(payload, "exp"), &exp) > 0 && exp <= now) {
		struct k8s_err e;

		k8s_err_expired(&e, exp, now);
		snprintf(post, sizeof(post), " (%.200s)", e.detail);
	}
	if (pre[0] == '\0' && post[0] == '\0')
		return;
	snprintf(detail, sizeof(detail), "%s", err->detail);
	snprintf(reason, sizeof(reason), "%s", err->reason);
	if (pre[0] != '\0' && strcmp(reason, "unknown issuer") != 0 &&
	    strstr(reason, NO_ISSUER_MATCHED) == NULL)
		snprintf(reason, sizeof(reason), "%.80s (" NO_ISSUER_MATCHED ")", err->reason);
	/* the issuer first: the refusal's own detail is the part a long
	 * message loses at the end */
	k8s_err_set(err, err->status, reason, "%s%s%s", pre, detail, post);
}
