/* hproto.c: encoding and checked decoding of module <-> helper messages
 * (hproto.h has the format).  Every read of untrusted bytes goes through
 * take_u32/take_bytes, which check the bounds first. */
#include "hproto.h"

#include <string.h>

struct cursor {
	const unsigned char *p;
	size_t left;
};

static int take_bytes(struct cursor *c, size_t n, const unsigned char **out)
{
	if (n > c->left)
		return -1;
	*out = c->p;
	c->p += n;
	c->left -= n;
	return 0;
}

static int take_u8(struct cursor *c, uint8_t *out)
{
	const unsigned char *b;

	if (take_bytes(c, 1, &b) != 0)
		return -1;
	*out = b[0];
	return 0;
}

static int take_u32(struct cursor *c, uint32_t *out)
{
	const unsigned char *b;

	if (take_bytes(c, 4, &b) != 0)
		return -1;
	*out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return 0;
}

static int known_tag(uint8_t t)
{
	return t != 0 && strchr("qcusrtfgihdvaml", t) != NULL;
}

int k8s_hp_header(const unsigned char *hdr, size_t len, uint8_t *type, uint32_t *payload_len)
{
	struct cursor c = { hdr, len };
	const unsigned char *magic, *zero;
	uint8_t version, t;
	uint32_t n;

	if (take_bytes(&c, 3, &magic) != 0 || memcmp(magic, "K8H", 3) != 0 ||
	    take_u8(&c, &version) != 0 || version != K8S_HP_VERSION || take_u8(&c, &t) != 0 ||
	    take_bytes(&c, 3, &zero) != 0 || (zero[0] | zero[1] | zero[2]) != 0 ||
	    take_u32(&c, &n) != 0 || n > K8S_HP_MAX_PAYLOAD)
		return -1;
	if ((t & 0x7f) == 0 || (t & 0x7f) > K8S_HP_TYPE_MAX)
		return -1;
	*type = t;
	*payload_len = n;
	return 0;
}

int k8s_hp_parse(const unsigned char *buf, size_t len, struct k8s_hp_msg *m)
{
	struct cursor c = { buf, len };
	const unsigned char *hdr, *val;
	uint32_t plen, vlen;
	uint8_t tag;
	size_t i;

	m->n = 0;
	if (take_bytes(&c, K8S_HP_HEADER, &hdr) != 0 ||
	    k8s_hp_header(hdr, K8S_HP_HEADER, &m->type, &plen) != 0 || c.left != plen)
		return -1;
	while (c.left > 0) {
		if (m->n >= K8S_HP_MAX_FIELDS || take_u8(&c, &tag) != 0 || !known_tag(tag) ||
		    take_u32(&c, &vlen) != 0 || take_bytes(&c, vlen, &val) != 0 ||
		    memchr(val, '\0', vlen) != NULL)
			return -1;
		for (i = 0; tag != K8S_HP_LOG && i < m->n; i++)
			if (m->f[i].tag == tag)
				return -1;
		m->f[m->n].tag = tag;
		m->f[m->n].len = vlen;
		m->f[m->n].val = (const char *)val;
		m->n++;
	}
	return 0;
}

const struct k8s_hp_field *k8s_hp_get(const struct k8s_hp_msg *m, uint8_t tag)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->f[i].tag == tag)
			return &m->f[i];
	return NULL;
}

static int decimal(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 19 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int k8s_hp_get_u64(const struct k8s_hp_msg *m, uint8_t tag, uint64_t max, uint64_t *out)
{
	const struct k8s_hp_field *f = k8s_hp_get(m, tag);

	return f == NULL ? -1 : decimal(f->val, f->len, max, out);
}

static int printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

int k8s_hp_get_str(const struct k8s_hp_msg *m, uint8_t tag, int optional, int need_printable,
		   char *out, size_t size)
{
	const struct k8s_hp_field *f = k8s_hp_get(m, tag);

	out[0] = '\0';
	if (f == NULL)
		return optional ? 0 : -1;
	if (f->len >= size || (need_printable && !printable(f->val, f->len)))
		return -1;
	memcpy(out, f->val, f->len);
	out[f->len] = '\0';
	return 0;
}

int k8s_hp_valid_handle(const char *name)
{
	size_t i;

	if (strncmp(name, "auth.", 5) != 0 && strncmp(name, "sess.", 5) != 0)
		return 0;
	for (i = 5; i < 21; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return name[21] == '\0';
}

static int answer_tag(uint8_t t)
{
	return t == K8S_HP_SEQ || t == K8S_HP_VERDICT || t == K8S_HP_TELL || t == K8S_HP_AUDIENCE ||
	       t == K8S_HP_HANDLE || t == K8S_HP_RUNDIR || t == K8S_HP_LOG;
}

static int take_log(const struct k8s_hp_field *f, struct k8s_hp_answer *a)
{
	if (a->n_logs >= K8S_HP_MAX_LOGS || f->len < 2 || f->len >= K8S_HP_LOG_MAX ||
	    f->val[0] < '3' || f->val[0] > '7' || !printable(f->val + 1, f->len - 1))
		return -1;
	a->log_prio[a->n_logs] = f->val[0] - '0';
	memcpy(a->log[a->n_logs], f->val + 1, f->len - 1);
	a->log[a->n_logs][f->len - 1] = '\0';
	a->n_logs++;
	return 0;
}

int k8s_hp_decode_answer(const unsigned char *buf, size_t len, struct k8s_hp_answer *a)
{
	struct k8s_hp_msg m;
	uint64_t v;
	size_t i;

	memset(a, 0, sizeof(*a));
	if (k8s_hp_parse(buf, len, &m) != 0 || !(m.type & K8S_HP_ANSWER))
		return -1;
	a->type = m.type & 0x7f;
	for (i = 0; i < m.n; i++) {
		if (!answer_tag(m.f[i].tag))
			return -1;
		if (m.f[i].tag == K8S_HP_LOG && take_log(&m.f[i], a) != 0)
			return -1;
	}
	if (k8s_hp_get_u64(&m, K8S_HP_SEQ, UINT32_MAX, &a->seq) != 0 ||
	    k8s_hp_get_u64(&m, K8S_HP_VERDICT, K8S_HV_MAX, &v) != 0)
		return -1;
	a->verdict = (int)v;
	if (k8s_hp_get(&m, K8S_HP_TELL) != NULL) {
		if (k8s_hp_get_u64(&m, K8S_HP_TELL, K8S_HT_MAX, &v) != 0)
			return -1;
		a->tell = (int)v;
	}
	if (k8s_hp_get_str(&m, K8S_HP_AUDIENCE, 1, 1, a->audience, sizeof(a->audience)) != 0 ||
	    k8s_hp_get_str(&m, K8S_HP_HANDLE, 1, 1, a->handle, sizeof(a->handle)) != 0 ||
	    (a->handle[0] != '\0' && !k8s_hp_valid_handle(a->handle)) ||
	    k8s_hp_get_str(&m, K8S_HP_RUNDIR, 1, 1, a->run_dir, sizeof(a->run_dir)) != 0 ||
	    (a->run_dir[0] != '\0' && (a->run_dir[0] != '/' || strstr(a->run_dir, "/..") != NULL)))
		return -1;
	return 0;
}

/* ---- building ---- */

int k8s_hp_begin(struct k8s_buf *b, uint8_t type)
{
	unsigned char hdr[K8S_HP_HEADER] = { 'K', '8', 'H', K8S_HP_VERSION, type, 0, 0, 0, 0, 0, 0, 0 };

	b->len = 0;
	return k8s_buf_append(b, hdr, sizeof(hdr));
}

int k8s_hp_put(struct k8s_buf *b, uint8_t tag, const char *val, size_t len)
{
	unsigned char h[5];

	if (b->len < K8S_HP_HEADER || len > K8S_HP_MAX_PAYLOAD ||
	    b->len - K8S_HP_HEADER + 5 + len > K8S_HP_MAX_PAYLOAD ||
	    (len > 0 && memchr(val, '\0', len) != NULL))
		return -1;
	h[0] = tag;
	h[1] = (unsigned char)(len >> 24);
	h[2] = (unsigned char)(len >> 16);
	h[3] = (unsigned char)(len >> 8);
	h[4] = (unsigned char)len;
	if (k8s_buf_append(b, h, sizeof(h)) != 0)
		return -1;
	return len == 0 ? 0 : k8s_buf_append(b, val, len);
}

int k8s_hp_put_str(struct k8s_buf *b, uint8_t tag, const char *val)
{
	return val == NULL ? 0 : k8s_hp_put(b, tag, val, strlen(val));
}

int k8s_hp_put_u64(struct k8s_buf *b, uint8_t tag, uint64_t v)
{
	char s[24];
	size_t n = sizeof(s);

	do {
		s[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return k8s_hp_put(b, tag, s + n, sizeof(s) - n);
}

int k8s_hp_finish(struct k8s_buf *b)
{
	size_t n;

	if (b->len < K8S_HP_HEADER)
		return -1;
	n = b->len - K8S_HP_HEADER;
	b->data[8] = (char)(n >> 24);
	b->data[9] = (char)(n >> 16);
	b->data[10] = (char)(n >> 8);
	b->data[11] = (char)n;
	return 0;
}
