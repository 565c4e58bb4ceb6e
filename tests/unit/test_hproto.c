/* Unit tests for the module <-> helper protocol (common/hproto.c) and the
 * helper's request decoder (common/decide.c): what a well-formed message
 * decodes to, and that every malformed shape is refused (wrong magic or
 * version, unknown type or tag, duplicate field, NUL in a value, a length
 * past the end, trailing bytes, out-of-range numbers, a request field in
 * an answer).  The messages are written by hand here, byte by byte, not
 * by the encoder under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decide.h"
#include "hproto.h"

struct msg {
	unsigned char b[4096];
	size_t n;
};

static void begin(struct msg *m, unsigned type)
{
	static const unsigned char hdr[12] = { 'K', '8', 'H', 1, 0, 0, 0, 0, 0, 0, 0, 0 };

	memcpy(m->b, hdr, 12);
	m->b[4] = (unsigned char)type;
	m->n = 12;
}

static void field(struct msg *m, char tag, const char *v, size_t len)
{
	m->b[m->n++] = (unsigned char)tag;
	m->b[m->n++] = (unsigned char)(len >> 24);
	m->b[m->n++] = (unsigned char)(len >> 16);
	m->b[m->n++] = (unsigned char)(len >> 8);
	m->b[m->n++] = (unsigned char)len;
	memcpy(m->b + m->n, v, len);
	m->n += len;
}

static void str(struct msg *m, char tag, const char *v)
{
	field(m, tag, v, strlen(v));
}

static void finish(struct msg *m)
{
	size_t p = m->n - 12;

	m->b[8] = (unsigned char)(p >> 24);
	m->b[9] = (unsigned char)(p >> 16);
	m->b[10] = (unsigned char)(p >> 8);
	m->b[11] = (unsigned char)p;
}

static void good_answer(struct msg *m)
{
	begin(m, 0x82);
	str(m, 'q', "2");
	str(m, 'v', "0");
	str(m, 'h', "auth.0123456789abcdef");
	str(m, 'd', "/run/k8s-auth");
	str(m, 'l', "5login user=\"ops.alice\"");
	str(m, 'l', "7debug");
	finish(m);
}

static void test_answer_decodes(void **state)
{
	struct k8s_hp_answer *a = malloc(sizeof(*a));
	struct msg m;

	(void)state;
	good_answer(&m);
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), 0);
	assert_int_equal(a->type, K8S_HP_AUTH);
	assert_int_equal(a->seq, 2);
	assert_int_equal(a->verdict, K8S_HV_OK);
	assert_string_equal(a->handle, "auth.0123456789abcdef");
	assert_string_equal(a->run_dir, "/run/k8s-auth");
	assert_int_equal(a->n_logs, 2);
	assert_int_equal(a->log_prio[0], 5);
	assert_string_equal(a->log[0], "login user=\"ops.alice\"");
	free(a);
}

/* Each mutation of a good answer must be refused. */
static void test_answer_malformed(void **state)
{
	struct k8s_hp_answer *a = malloc(sizeof(*a));
	struct msg m;
	size_t i;

	(void)state;
	good_answer(&m);
	m.b[0] = 'X';
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* magic */
	good_answer(&m);
	m.b[3] = 2;
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* version */
	good_answer(&m);
	m.b[4] = 0x02;
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* a request, not an answer */
	good_answer(&m);
	m.b[4] = 0x87;
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* unknown type */
	good_answer(&m);
	m.b[6] = 1;
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* reserved byte */
	good_answer(&m);
	for (i = 0; i < m.n; i++)                                       /* every truncation */
		assert_int_equal(k8s_hp_decode_answer(m.b, i, a), -1);
	good_answer(&m);
	m.b[m.n++] = 0;                                                 /* trailing byte */
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);

	begin(&m, 0x82); str(&m, 'q', "1"); str(&m, 'v', "0"); str(&m, 'v', "0"); finish(&m);
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* duplicate verdict */
	begin(&m, 0x82); str(&m, 'q', "1"); str(&m, 'v', "6"); finish(&m);
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* verdict out of range */
	begin(&m, 0x82); str(&m, 'q', "1"); str(&m, 'v', "00"); finish(&m);
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* leading zero */
	begin(&m, 0x82); str(&m, 'q', "1"); finish(&m);
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* no verdict */
	begin(&m, 0x82); str(&m, 'q', "1"); str(&m, 'v', "0"); str(&m, 't', "x.y.z"); finish(&m);
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* a token in an answer */
	begin(&m, 0x82); str(&m, 'q', "1"); str(&m, 'v', "0"); str(&m, 'Z', "x"); finish(&m);
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* unknown tag */
	begin(&m, 0x82); str(&m, 'q', "1"); str(&m, 'v', "0"); field(&m, 'l', "5a\0b", 4); finish(&m);
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* NUL in a value */
	begin(&m, 0x82); str(&m, 'q', "1"); str(&m, 'v', "0"); str(&m, 'l', "5a\nforged line"); finish(&m);
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* a line break in a log line */
	begin(&m, 0x82); str(&m, 'q', "1"); str(&m, 'v', "0"); str(&m, 'l', "9x"); finish(&m);
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* priority out of range */
	begin(&m, 0x82); str(&m, 'q', "1"); str(&m, 'v', "0"); str(&m, 'h', "../../etc/shadow"); finish(&m);
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* not a handle */
	begin(&m, 0x82); str(&m, 'q', "1"); str(&m, 'v', "0"); str(&m, 'd', "/run/../etc"); finish(&m);
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* run dir with .. */
	begin(&m, 0x82); str(&m, 'q', "1"); str(&m, 'v', "0"); str(&m, 'd', "run"); finish(&m);
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* relative run dir */
	begin(&m, 0x82); str(&m, 'q', "1"); str(&m, 'v', "0");
	for (i = 0; i < K8S_HP_MAX_LOGS + 1; i++)
		str(&m, 'l', "6x");
	finish(&m);
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);       /* too many log lines */
	/* a length field pointing past the end */
	begin(&m, 0x82); str(&m, 'q', "1"); str(&m, 'v', "0"); finish(&m);
	m.b[m.n - 2] = 9;
	assert_int_equal(k8s_hp_decode_answer(m.b, m.n, a), -1);
	free(a);
}

static void test_request_decodes(void **state)
{
	struct k8s_request rq;
	struct msg m;

	(void)state;
	begin(&m, K8S_HP_AUTH);
	str(&m, 'q', "7");
	str(&m, 'f', "3");
	str(&m, 'u', "ops.alice");
	str(&m, 'c', "/etc/k8s-auth/config.yaml");
	str(&m, 's', "sshd");
	str(&m, 'r', "10.1.2.3");
	str(&m, 't', "aaa.bbb.ccc");
	str(&m, 'i', "1000");
	finish(&m);
	assert_int_equal(k8s_request_decode(m.b, m.n, &rq), 0);
	assert_int_equal(rq.type, K8S_HP_AUTH);
	assert_int_equal(rq.seq, 7);
	assert_int_equal(rq.flags, K8S_HPF_DEBUG | K8S_HPF_FROM_AUTHTOK);
	assert_string_equal(rq.user, "ops.alice");
	assert_string_equal(rq.token, "aaa.bbb.ccc");
	assert_int_equal(rq.token_len, 11);
	assert_int_equal(rq.ruid, 1000);
	k8s_request_free(&rq);
	assert_null(rq.token);
}

static void test_request_malformed(void **state)
{
	struct k8s_request rq;
	struct msg m;

	(void)state;
	begin(&m, K8S_HP_PROBE); str(&m, 'q', "1"); str(&m, 'f', "0"); finish(&m);
	assert_int_equal(k8s_request_decode(m.b, m.n, &rq), -1);        /* no user */
	begin(&m, K8S_HP_PROBE); str(&m, 'q', "1"); str(&m, 'f', "64"); str(&m, 'u', "x"); finish(&m);
	assert_int_equal(k8s_request_decode(m.b, m.n, &rq), -1);        /* unknown flag */
	begin(&m, K8S_HP_PROBE); str(&m, 'q', "1"); str(&m, 'f', "0"); str(&m, 'u', "x"); str(&m, 't', "a.b.c"); finish(&m);
	assert_int_equal(k8s_request_decode(m.b, m.n, &rq), -1);        /* a token outside auth */
	begin(&m, K8S_HP_AUTH); str(&m, 'q', "1"); str(&m, 'f', "0"); str(&m, 'u', "x"); str(&m, 'v', "0"); finish(&m);
	assert_int_equal(k8s_request_decode(m.b, m.n, &rq), -1);        /* an answer field */
	begin(&m, 0x81); str(&m, 'q', "1"); str(&m, 'f', "0"); str(&m, 'u', "x"); finish(&m);
	assert_int_equal(k8s_request_decode(m.b, m.n, &rq), -1);        /* an answer, not a request */
	begin(&m, K8S_HP_ACCOUNT); str(&m, 'q', "1"); str(&m, 'f', "0"); str(&m, 'u', "x"); str(&m, 'h', "sess/../x"); finish(&m);
	assert_int_equal(k8s_request_decode(m.b, m.n, &rq), -1);        /* not a handle */
	begin(&m, K8S_HP_ACCOUNT); str(&m, 'q', "1"); str(&m, 'f', "0"); str(&m, 'u', "a\x01"); finish(&m);
	assert_int_equal(k8s_request_decode(m.b, m.n, &rq), -1);        /* unprintable user */
}

/* The encoder's output is what the decoders take (round trip). */
static void test_round_trip(void **state)
{
	struct k8s_hp_answer *a = malloc(sizeof(*a));
	struct k8s_request rq;
	struct k8s_answer an;
	struct k8s_buf b = { 0 };

	(void)state;
	memset(&rq, 0, sizeof(rq));
	rq.type = K8S_HP_PROBE;
	rq.seq = 3;
	k8s_answer_init(&an);
	an.verdict = K8S_HV_IGNORE;
	snprintf(an.audience, sizeof(an.audience), "host-login:web-1");
	k8s_answer_log(&an, 5, "a line with \"quotes\" and a\nbreak");
	assert_int_equal(k8s_answer_encode(&an, &rq, &b), 0);
	assert_int_equal(k8s_hp_decode_answer((unsigned char *)b.data, b.len, a), 0);
	assert_int_equal(a->type, K8S_HP_PROBE);
	assert_int_equal(a->seq, 3);
	assert_int_equal(a->verdict, K8S_HV_IGNORE);
	assert_string_equal(a->audience, "host-login:web-1");
	assert_string_equal(a->log[0], "a line with \"quotes\" and a\\x0abreak");
	k8s_answer_free(&an);
	k8s_buf_free(&b);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_decodes),
		cmocka_unit_test(test_answer_malformed),
		cmocka_unit_test(test_request_decodes),
		cmocka_unit_test(test_request_malformed),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
