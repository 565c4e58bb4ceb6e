/* k8s-auth-helper: the half of pam_k8s that reads the configuration,
 * talks to the network and writes the store (docs/security.md, "Privilege
 * separation").  pam_k8s.so starts it for each PAM call with a socketpair
 * on descriptors 0 and 1, /dev/null on 2, an environment built from
 * nothing, fixed limits, umask 077, no new privileges, and (when the
 * caller is root) all-root ids; it answers each request (hproto.h) and
 * exits when the module closes its end.  Not for users: run by hand it
 * has only its caller's privileges and waits for a binary request. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>


#include "decide.h"
#include "http.h"

enum {
	EXIT_DONE = 0,
	EXIT_PROTOCOL = 1,  /* a request was malformed or cut, or config path changed */
	EXIT_IO = 2,        /* the answer could not be written */
};

/* Read exactly n bytes.  1 done, 0 clean EOF before the first byte, -1
 * error or EOF in the middle. */
static int read_exact(int fd, unsigned char *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return got == 0 ? 0 : -1;
		got += (size_t)r;
	}
	return 1;
}

/* One request (header included) into a malloc'd *out: 1, 0 at EOF, -1
 * malformed.  The caller wipes it (it may hold the token). */
static int read_request(unsigned char **out, size_t *len)
{
	unsigned char hdr[K8S_HP_HEADER], *buf;
	uint32_t plen;
	uint8_t type;
	int r;

	r = read_exact(STDIN_FILENO, hdr, sizeof(hdr));
	if (r <= 0)
		return r;
	if (k8s_hp_header(hdr, sizeof(hdr), &type, &plen) != 0 || (type & K8S_HP_ANSWER))
		return -1;
	buf = malloc(sizeof(hdr) + plen);
	if (buf == NULL)
		return -1;
	memcpy(buf, hdr, sizeof(hdr));
	if (read_exact(STDIN_FILENO, buf + sizeof(hdr), plen) != 1) {
		k8s_freezero(buf, sizeof(hdr) + plen);
		return -1;
	}
	*out = buf;
	*len = sizeof(hdr) + plen;
	return 1;
}

/* After "is this user handled, with which prompt?" the module asks the
 * person for their token and sends it in the next request.  A person
 * takes a while; if no request has come within TYPING_MS, the one-time
 * costs of a first HTTPS request (libssl's load and OpenSSL's tables:
 * about 2.5 ms, docs/pam.md) are paid now, while they type, not after.
 * A token already at hand (PAM_AUTHTOK, a test's conversation) comes at
 * once and nothing is done ahead: a login decided from a cache or a JWT
 * never pays for TLS.  No network, no secret: the token is not here yet. */
#define TYPING_MS 20

static void warm_while_typing(void)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	int r;

	while ((r = poll(&p, 1, TYPING_MS)) < 0 && errno == EINTR)
		;
	if (r == 0)
		k8s_http_warm();
}

int main(int argc, char **argv)
{
	struct k8s_config *cfg = NULL;
	struct k8s_err cfg_err;
	struct k8s_buf out = { 0 };
	unsigned char *msg = NULL;
	size_t msg_len = 0;
	char config_path[K8S_HP_PATH_MAX + 1];
	int loaded = 0, rc = EXIT_DONE, r, warm;

	(void)argc;
	(void)argv;
	/* defence in depth: the module already gave us nothing of its caller */
	clearenv();
	umask(077);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	signal(SIGPIPE, SIG_DFL);
	k8s_err_clear(&cfg_err);
	config_path[0] = '\0';
	for (;;) {
		struct k8s_request rq;
		struct k8s_answer an;

		alarm(0);
		r = read_request(&msg, &msg_len);
		if (r == 0) {
			/* the module's end of file: it waits for ours, then reaps
			 * us; give it at once, not after our teardown */
			close(STDIN_FILENO);
			close(STDOUT_FILENO);
			break;
		}
		/* from the request on, the decision has a deadline */
		alarm(loaded ? k8s_decision_deadline(cfg) : K8S_DECISION_DEADLINE_MAX);
		if (r < 0) {
			rc = EXIT_PROTOCOL;
			break;
		}
		r = k8s_request_decode(msg, msg_len, &rq);
		k8s_freezero(msg, msg_len);
		msg = NULL;
		if (r != 0) {
			k8s_request_free(&rq);
			rc = EXIT_PROTOCOL;
			break;
		}
		rq.caller = getppid();
		if (!loaded) {
			snprintf(config_path, sizeof(config_path), "%s", rq.config);
			if (k8s_config_load(rq.config[0] != '\0' ? rq.config : NULL, &cfg, &cfg_err) != K8S_OK) {
				k8s_config_free(cfg);
				cfg = NULL;
			}
			loaded = 1;
			alarm(k8s_decision_deadline(cfg));
			/* login.firstLogin on or off, as the configuration says now
			 * (off when it cannot be read).  The policy is sshd's: only
			 * a call from root's sshd, the one program NSS serves it to,
			 * writes or removes it, so a su, sudo or login stack with
			 * another config= never turns first login off, or changes
			 * its ranges, under sshd (docs/security.md) */
			if (k8s_preauth_is_sshd(rq.caller)) {
				struct k8s_err perr;

				k8s_err_clear(&perr);
				(void)k8s_preauth_sync_policy(cfg, &perr);
			}
		} else if (strcmp(config_path, rq.config) != 0) {
			k8s_request_free(&rq);
			rc = EXIT_PROTOCOL;
			break;
		}
		warm = rq.type == K8S_HP_PROBE && cfg != NULL && cfg->has_tokenreview;
		k8s_answer_init(&an);
		/* every PAM call on the host sweeps login state whose processes
		 * are gone (an ssh client that left between auth and session) */
		if (cfg != NULL && rq.type != K8S_HP_AUTH)
			k8s_state_gc(cfg);
		if (rq.type != K8S_HP_AUTH)
			k8s_preauth_gc();
		k8s_decide(cfg, &cfg_err, &rq, &an);
		warm = warm && an.verdict == K8S_HV_OK;
		k8s_request_free(&rq);
		r = k8s_answer_encode(&an, &rq, &out);
		k8s_answer_free(&an);
		if (r != 0 || k8s_write_all(STDOUT_FILENO, out.data, out.len) != 0) {
			rc = EXIT_IO;
			break;
		}
		k8s_buf_free(&out);
		if (warm)
			warm_while_typing();
	}
	k8s_buf_free(&out);
	k8s_config_free(cfg);
	return rc;
}
