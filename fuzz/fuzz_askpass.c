/* libFuzzer target: k8s-ssh-askpass's parsers (askpass/askpass_parse.c), fed
 * what a hostile server, a token command or a user's files can hold, and
 * pam_k8s's frame parser (pam_k8s/frame.c), fed what a client answers.
 *
 * Input: one selector byte, then the data.
 *   0  a prompt: ap_parse_prompt; an accepted prompt must be printed back
 *      byte for byte from what was parsed (the grammar is exact), with its
 *      numbers in range.
 *   1  answers, '\n'-separated: k8s_frame_first then k8s_frame_next while it
 *      asks for more; DONE means the announced length and digest hold.
 *   2  a token (2 bytes of chunk size first): framed by ap_frame_head as
 *      the helper frames it, reassembled by pam_k8s's parser: the same
 *      token, or the helper would have refused it (its SHA-256 against
 *      OpenSSL's through the module's fingerprint).
 *   3  TOKEN '\0' AUDIENCE: ap_jwt_has_audience.
 *   4  flags, PATTERNS '\0' AUDIENCE '\0' ssh -G output: the names %h
 *      stands for are host names, and the default rule host-login:%h
 *      allows exactly host-login:<one of them>, whatever the output says.
 *   5  HOST '\0' askpass.conf: ap_conf_parse.
 *   6  /proc/PID/status: ap_parse_status. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../askpass/askpass.h"
#include "frame.h"
#include "jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated string (cut at its first NUL). */
static char *cstr(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, d, n);
	s[n] = '\0';
	return s;
}

static void fuzz_prompt(const uint8_t *d, size_t n)
{
	char *s = cstr(d, n), *back;
	struct ap_prompt p;
	size_t cap = n + 64;

	if (ap_parse_prompt(s, &p) == 0) {
		if ((p.kind != 1 && p.kind != 2) || p.audience[0] == '\0' ||
		    strlen(p.audience) > AP_AUD_MAX || (p.user[0] == '\0') != (p.host[0] == '\0'))
			abort();
		if (p.kind == 2 && (p.offset == 0 || p.offset >= p.total || p.total > K8S_TOKEN_MAX))
			abort();
		back = malloc(cap);
		if (back == NULL)
			abort();
		back[0] = '\0';
		if (p.user[0] != '\0')
			snprintf(back, cap, "(%s@%s) ", p.user, p.host);
		snprintf(back + strlen(back), cap - strlen(back), "Kubernetes token (audience %s)",
			 p.audience);
		if (p.kind == 2)
			snprintf(back + strlen(back), cap - strlen(back), " continued at byte %zu of %zu",
				 p.offset, p.total);
		snprintf(back + strlen(back), cap - strlen(back), ": ");
		if (strcmp(back, s) != 0)
			abort();
		free(back);
	}
	free(s);
}

static void fuzz_frames(const uint8_t *d, size_t n)
{
	struct k8s_frame f;
	struct k8s_err err;
	const char *p = (const char *)d, *end = p + n, *nl;
	char fp[17];
	int r, first = 1;

	do {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		memset(&err, 0, sizeof(err));
		r = first ? k8s_frame_first(&f, p, (size_t)(nl - p), &err)
			  : k8s_frame_next(&f, p, (size_t)(nl - p), &err);
		first = 0;
		p = nl + 1;
	} while (r == K8S_FRAME_MORE && p < end);
	if (r == K8S_FRAME_DONE) {
		if (f.tok.data == NULL || f.tok.len == 0 || f.tok.len != f.total ||
		    f.tok.data[f.tok.len] != '\0' || f.tok.len > K8S_TOKEN_MAX)
			abort();
		if (f.digest[0] != '\0') {
			k8s_token_fingerprint(f.tok.data, f.tok.len, fp);
			if (strcmp(fp, f.digest) != 0)
				abort();
		}
	} else if (r == K8S_FRAME_MORE) {
		if (f.tok.len >= f.total)
			abort();
	} else if (r != K8S_FRAME_BAD || err.reason[0] == '\0') {
		abort();
	}
	k8s_frame_free(&f);
}

/* The helper sends only tokens of printable ASCII without blanks, at most
 * K8S_TOKEN_MAX bytes; every such token must come through. */
static void fuzz_roundtrip(const uint8_t *d, size_t n)
{
	struct k8s_frame f;
	struct k8s_err err;
	char head[K8S_FRAME_HEAD_MAX], *ans;
	size_t chunk, off, k, i;
	int r = K8S_FRAME_BAD;

	if (n < 3)
		return;
	chunk = 16 + ((size_t)d[0] << 8 | d[1]) % (8000 - 16 + 1);
	d += 2;
	n -= 2;
	if (n > K8S_TOKEN_MAX)
		return;
	for (i = 0; i < n; i++)
		if (d[i] < 0x21 || d[i] > 0x7e)
			return;
	ans = malloc(K8S_FRAME_HEAD_MAX + chunk + 1);
	if (ans == NULL)
		abort();
	for (off = 0; off < n; off += k) {
		k = n - off < chunk ? n - off : chunk;
		ap_frame_head((const char *)d, n, off, head);
		snprintf(ans, K8S_FRAME_HEAD_MAX + chunk + 1, "%s%.*s", head, (int)k, (const char *)d + off);
		memset(&err, 0, sizeof(err));
		r = off == 0 ? k8s_frame_first(&f, ans, strlen(ans), &err)
			     : k8s_frame_next(&f, ans, strlen(ans), &err);
		if (r != (off + k < n ? K8S_FRAME_MORE : K8S_FRAME_DONE)) {
			/* only the round limit may stop a well-framed token */
			if (r == K8S_FRAME_BAD && off / chunk + 1 >= K8S_FRAME_MAX_ROUNDS)
				break;
			abort();
		}
	}
	if (r == K8S_FRAME_DONE && (f.tok.len != n || memcmp(f.tok.data, d, n) != 0))
		abort();
	k8s_frame_free(&f);
	free(ans);
}

static void fuzz_jwt_aud(const uint8_t *d, size_t n)
{
	const uint8_t *z = memchr(d, '\0', n);
	char *aud;

	if (z == NULL)
		return;
	aud = cstr(z + 1, n - (size_t)(z + 1 - d));
	(void)ap_jwt_has_audience((const char *)d, (size_t)(z - d), aud);
	free(aud);
}

static void fuzz_target(const uint8_t *d, size_t n)
{
	struct ap_target t;
	const uint8_t *z1, *z2;
	char *pats, *aud, shown[2048], want[AP_NAME_MAX + 16];
	size_t i;
	int flags, hit, expect = 0;

	if (n < 1)
		return;
	flags = d[0];
	d++;
	n--;
	if ((z1 = memchr(d, '\0', n)) == NULL || (z2 = memchr(z1 + 1, '\0', n - (size_t)(z1 + 1 - d))) == NULL)
		return;
	pats = cstr(d, (size_t)(z1 - d));
	aud = cstr(z1 + 1, (size_t)(z2 - z1 - 1));
	memset(&t, 0, sizeof(t));
	if (ap_parse_ssh_g((const char *)z2 + 1, n - (size_t)(z2 + 1 - d), &t) == 0 &&
	    strlen(t.hostname) >= sizeof(t.hostname))
		abort();
	if (strlen(t.host) >= sizeof(t.host) || strlen(t.user) >= sizeof(t.user))
		abort();
	ap_target_names(&t, flags & 1, flags & 2);
	if (t.n_names > AP_NAMES)
		abort();
	for (i = 0; i < t.n_names; i++) {
		if (!ap_name_ok(t.names[i]))
			abort();
		snprintf(want, sizeof(want), "host-login:%s", t.names[i]);
		expect |= strcmp(want, aud) == 0;
	}
	/* the default rule: exactly host-login:<name>, nothing the output did not name */
	hit = ap_audience_allowed(AP_DEFAULT_AUDIENCE, &t, aud, shown, sizeof(shown));
	if (hit != expect)
		abort();
	(void)ap_audience_allowed(pats, &t, aud, (flags & 4) ? NULL : shown, sizeof(shown));
	free(pats);
	free(aud);
}

static void fuzz_conf(const uint8_t *d, size_t n)
{
	const uint8_t *z = memchr(d, '\0', n);
	struct ap_conf c;
	char *host, err[160];

	if (z == NULL)
		return;
	host = cstr(d, (size_t)(z - d));
	if (ap_conf_parse((const char *)z + 1, n - (size_t)(z + 1 - d), host, "10.0.0.1", &c, err,
			  sizeof(err)) == 0) {
		if (strlen(c.audience) >= sizeof(c.audience) || c.short_names < -1 || c.short_names > 1)
			abort();
	} else if (err[0] == '\0') {
		abort();
	}
	free(host);
}

static void fuzz_status(const uint8_t *d, size_t n)
{
	char *s = cstr(d, n), name[64];
	long uid[4];

	if (ap_parse_status(s, name, sizeof(name), uid) == 0 && (name[0] == '\0' || strchr(name, '\n')))
		abort();
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 7) {
	case 0: fuzz_prompt(data + 1, size - 1); break;
	case 1: fuzz_frames(data + 1, size - 1); break;
	case 2: fuzz_roundtrip(data + 1, size - 1); break;
	case 3: fuzz_jwt_aud(data + 1, size - 1); break;
	case 4: fuzz_target(data + 1, size - 1); break;
	case 5: fuzz_conf(data + 1, size - 1); break;
	case 6: fuzz_status(data + 1, size - 1); break;
	}
	return 0;
}
