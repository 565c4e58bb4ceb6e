/* Fuzz target for the module <-> helper protocol (hproto.c, decide.c's
 * request decoder).  pam_k8s.so parses the helper's answers inside sshd,
 * su and sudo; the helper parses the module's requests as root.  Input:
 * one byte choosing the side, then a message.  Whatever decodes must be
 * consistent (fields in bounds, NUL-free, printable where promised), and
 * re-encoding a decoded request must give a message that decodes the same.
 * Seeds: fuzz/corpus/fuzz_hproto. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"
#include "hproto.h"

static void check_answer(const unsigned char *d, size_t n)
{
	struct k8s_hp_answer *a = malloc(sizeof(*a));
	size_t i, j;

	if (a == NULL)
		return;
	if (k8s_hp_decode_answer(d, n, a) == 0) {
		if (a->verdict < 0 || a->verdict > K8S_HV_MAX || a->tell < 0 || a->tell > K8S_HT_MAX ||
		    a->n_logs > K8S_HP_MAX_LOGS || a->type == 0 || a->type > K8S_HP_TYPE_MAX)
			abort();
		if (a->handle[0] != '\0' && !k8s_hp_valid_handle(a->handle))
			abort();
		for (i = 0; i < a->n_logs; i++) {
			if (a->log_prio[i] < 3 || a->log_prio[i] > 7)
				abort();
			for (j = 0; a->log[i][j] != '\0'; j++)
				if ((unsigned char)a->log[i][j] < 0x20 || (unsigned char)a->log[i][j] > 0x7e)
					abort();
		}
	}
	free(a);
}

static void check_request(const unsigned char *d, size_t n)
{
	struct k8s_request rq, again;
	struct k8s_buf b = { 0 };
	int rc;

	if (k8s_request_decode(d, n, &rq) != 0) {
		k8s_request_free(&rq);
		return;
	}
	if (rq.user[0] == '\0' || (rq.token != NULL && strlen(rq.token) != rq.token_len))
		abort();
	rc = k8s_hp_begin(&b, (uint8_t)rq.type);
	rc |= k8s_hp_put_u64(&b, K8S_HP_SEQ, rq.seq);
	rc |= k8s_hp_put_u64(&b, K8S_HP_FLAGS, rq.flags);
	rc |= k8s_hp_put_str(&b, K8S_HP_USER, rq.user);
	if (rq.config[0] != '\0')
		rc |= k8s_hp_put_str(&b, K8S_HP_CONFIG, rq.config);
	if (rq.token != NULL)
		rc |= k8s_hp_put(&b, K8S_HP_TOKEN, rq.token, rq.token_len);
	rc |= k8s_hp_finish(&b);
	if (rc == 0) {
		if (k8s_request_decode((unsigned char *)b.data, b.len, &again) != 0 ||
		    strcmp(again.user, rq.user) != 0 || again.seq != rq.seq ||
		    again.token_len != rq.token_len)
			abort();
		k8s_request_free(&again);
	}
	k8s_buf_free(&b);
	k8s_request_free(&rq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		check_answer(data + 1, size - 1);
	else
		check_request(data + 1, size - 1);
	return 0;
}
