/* mapping.c: cluster username/groups -> local names through the
 * accounts.users / accounts.groups rules of the configuration.
 *
 * Nothing is lowercased, truncated or otherwise repaired behind the
 * administrator's back: a result that is not already a valid local name is
 * refused, because a repaired name could collide with another identity's
 * account.  The one rewrite is asked for, per rule: `lowercase: true`
 * lowercases (ASCII A-Z only) what \1..\9 insert, for IdPs whose names
 * (e-mail addresses) carry capitals; anything else invalid still refuses. */
#include "mapping.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define NSUB 10 /* \0..\9 */

int k8s_valid_local_name(const char *name)
{
	size_t i, n;
	int all_digits = 1;

	if (name == NULL)
		return 0;
	n = strlen(name);
	if (n == 0 || n > K8S_LOCAL_NAME_MAX)
		return 0;
	/* The first character rule alone excludes "-x", ".", ".." and
	 * all-digit names (which tools would take for a uid). */
	if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return 0;
	for (i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '_' || ch == '.' || ch == '-'))
			return 0;
		if (ch < '0' || ch > '9')
			all_digits = 0;
	}
	return !all_digits;
}

/* The rule applies only when its regex matches the WHOLE string, even if
 * the administrator forgot ^ and $.  POSIX regexec reports the leftmost-
 * longest match, so a match spanning the whole string exists exactly when
 * the reported one starts at 0 and ends at the end. */
static int match_whole(const regex_t *re, const char *s, regmatch_t pm[NSUB])
{
	if (regexec(re, s, NSUB, pm, 0) != 0)
		return 0;
	return pm[0].rm_so == 0 && pm[0].rm_eo >= 0 && (size_t)pm[0].rm_eo == strlen(s);
}

/* Expand \1..\9 and \\ of tmpl against the match of s (what \1..\9
 * insert lowercased, ASCII only, when the rule says lowercase).  A group that did
 * not take part in the match expands to nothing.  -1 when the result does
 * not fit a local name (or the template is malformed, which config.c
 * already refuses). */
static int expand(const char *tmpl, int lowercase, const char *s, const regmatch_t pm[NSUB],
		  char out[K8S_LOCAL_NAME_MAX + 1])
{
	size_t len = 0, n, i;
	const char *p;

	for (p = tmpl; *p != '\0'; p++) {
		const char *src = p;
		int group = 0;

		n = 1;
		if (*p == '\\') {
			p++;
			if (*p >= '1' && *p <= '9') {
				const regmatch_t *m = &pm[*p - '0'];

				if (m->rm_so < 0 || m->rm_eo < m->rm_so)
					continue;
				src = s + m->rm_so;
				n = (size_t)(m->rm_eo - m->rm_so);
				group = 1;
			} else if (*p == '\\') {
				src = p;
			} else {
				return -1;
			}
		}
		if (n > K8S_LOCAL_NAME_MAX - len)
			return -1;
		memcpy(out + len, src, n);
		if (group && lowercase)
			for (i = len; i < len + n; i++)
				if (out[i] >= 'A' && out[i] <= 'Z')
					out[i] = (char)(out[i] - 'A' + 'a');
		len += n;
	}
	out[len] = '\0';
	return 0;
}

/* Index of the first rule matching the whole of s, with its expansion in
 * out (empty when invalid).  -1 when none matches. */
static long map_one(const struct k8s_map_rule *rules, size_t n_rules, const char *s,
		    char out[K8S_LOCAL_NAME_MAX + 1])
{
	regmatch_t pm[NSUB];
	size_t i;

	out[0] = '\0';
	for (i = 0; i < n_rules; i++) {
		if (!match_whole(&rules[i].re, s, pm))
			continue;
		if (expand(rules[i].local, rules[i].lowercase, s, pm, out) != 0 ||
		    !k8s_valid_local_name(out))
			out[0] = '\0';
		return (long)i;
	}
	return -1;
}

int k8s_map_user(const struct k8s_config *cfg, const char *username,
		 char out[K8S_LOCAL_NAME_MAX + 1], struct k8s_err *err)
{
	char name[K8S_LOCAL_NAME_MAX + 1], shown[80];
	long rule;

	out[0] = '\0';
	k8s_err_clear(err);
	if (username == NULL || username[0] == '\0')
		return k8s_err_set(err, K8S_REFUSED, "no mapping rule matches", "empty username");
	k8s_show_untrusted(username, sizeof(shown) - 4, shown, sizeof(shown), 0);
	rule = map_one(cfg->accounts.users, cfg->accounts.n_users, username, name);
	if (rule < 0)
		return k8s_err_set(err, K8S_REFUSED, "no mapping rule matches",
				   "no accounts.users rule matches \"%s\"", shown);
	if (name[0] == '\0')
		return k8s_err_set(err, K8S_REFUSED, "mapped name is not a valid local name",
				   "accounts.users[%ld] maps \"%s\" to an invalid local name", rule, shown);
	memcpy(out, name, sizeof(name));
	return K8S_OK;
}

/* A name produced by a literal rule counts as literal: the administrator
 * wrote it, so it may name an existing local group. */
static void merge_group(struct k8s_mapped_group *v, size_t *n, const char *name, int templated)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		if (strcmp(v[i].name, name) == 0) {
			v[i].templated = v[i].templated && templated;
			return;
		}
	}
	memcpy(v[*n].name, name, K8S_LOCAL_NAME_MAX + 1);
	v[*n].templated = templated;
	(*n)++;
}

int k8s_map_groups(const struct k8s_config *cfg, char *const *groups, size_t n_groups,
		   struct k8s_mapped_group **out, size_t *n_out, size_t *n_invalid)
{
	const struct k8s_map_rule *rules = cfg->accounts.groups;
	struct k8s_mapped_group *v = NULL;
	char name[K8S_LOCAL_NAME_MAX + 1];
	size_t i, n = 0, bad = 0;
	long rule;

	*out = NULL;
	*n_out = 0;
	if (n_invalid != NULL)
		*n_invalid = 0;
	if (n_groups == 0 || cfg->accounts.n_groups == 0)
		return K8S_OK;
	v = calloc(n_groups, sizeof(*v));
	if (v == NULL)
		return K8S_UNAVAILABLE;
	for (i = 0; i < n_groups; i++) {
		if (groups[i] == NULL)
			continue;
		rule = map_one(rules, cfg->accounts.n_groups, groups[i], name);
		if (rule < 0)
			continue;
		if (name[0] == '\0') {
			bad++;
			continue;
		}
		merge_group(v, &n, name, rules[rule].templated);
	}
	if (n == 0) {
		free(v);
		v = NULL;
	}
	*out = v;
	*n_out = n;
	if (n_invalid != NULL)
		*n_invalid = bad;
	return K8S_OK;
}
