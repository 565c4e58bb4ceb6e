/* storefmt.c: the identity store reader (see storefmt.h).
 *
 * Runs inside every process through libnss_k8s.so.2, so: no allocation,
 * no stdio, no environment, and the image is untrusted bytes.  All loads
 * go through ld32()/ld64() (memcpy: no alignment assumption survives a
 * damaged offset), every area is checked against the image before it is
 * touched, and 64-bit arithmetic keeps the checks free of overflow. */
#include "storefmt.h"

#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL
#define REC_HDR    16u
#define IDX_ENTRY  8u

static uint32_t ld32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t ld64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint16_t ld16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* One multiply chain per 8 bytes keeps a 1 MB group record in the
 * sub-millisecond range; the xorshift feeds high bits back down, which a
 * plain multiply never does. */
uint64_t k8s_sf_hash64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = FNV_OFFSET ^ (uint64_t)len;
	uint64_t w;

	while (len >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * FNV_PRIME;
		h ^= h >> 29;
		p += 8;
		len -= 8;
	}
	if (len > 0) {
		w = 0;
		memcpy(&w, p, len);
		h = (h ^ w) * FNV_PRIME;
		h ^= h >> 29;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

uint32_t k8s_sf_name_hash(const char *name, size_t len)
{
	uint64_t h = k8s_sf_hash64(name, len);

	return (uint32_t)(h ^ (h >> 32));
}

int k8s_sf_valid_name(const char *s, size_t len)
{
	size_t i;
	int digits = 1;

	if (len == 0 || len > 32 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
		if (c < '0' || c > '9')
			digits = 0;
	}
	return !digits;
}

const char *k8s_sf_strerror(int status)
{
	switch (status) {
	case K8S_SF_OK: return "ok";
	case K8S_SF_ETOOSMALL: return "shorter than a header";
	case K8S_SF_EMAGIC: return "not an identity store";
	case K8S_SF_EVERSION: return "unsupported version or byte order";
	case K8S_SF_EHEADER: return "header checksum mismatch";
	case K8S_SF_ESIZE: return "file size differs from the header's (truncated?)";
	case K8S_SF_ELAYOUT: return "an area lies outside the file";
	case K8S_SF_EBODY: return "body checksum mismatch";
	default: return "unknown error";
	}
}

/* [off, off + len) inside [lo, size), off 8-aligned. */
static int area_ok(uint64_t off, uint64_t len, uint64_t lo, uint64_t size)
{
	return off >= lo && off % 8 == 0 && off <= size && len <= size - off;
}

static int open_layout(struct k8s_sf *sf, const unsigned char *b, size_t size)
{
	uint64_t rec_size;

	sf->n_users = ld32(b + K8S_SF_H_NUSERS);
	sf->n_groups = ld32(b + K8S_SF_H_NGROUPS);
	sf->users_by_name = ld32(b + K8S_SF_H_UBYNAME);
	sf->users_by_uid = ld32(b + K8S_SF_H_UBYUID);
	sf->groups_by_name = ld32(b + K8S_SF_H_GBYNAME);
	sf->groups_by_gid = ld32(b + K8S_SF_H_GBYGID);
	sf->rec_off = ld32(b + K8S_SF_H_RECOFF);
	rec_size = ld32(b + K8S_SF_H_RECSIZE);
	if (!area_ok(sf->users_by_name, (uint64_t)sf->n_users * IDX_ENTRY, K8S_SF_HEADER_SIZE, size) ||
	    !area_ok(sf->users_by_uid, (uint64_t)sf->n_users * IDX_ENTRY, K8S_SF_HEADER_SIZE, size) ||
	    !area_ok(sf->groups_by_name, (uint64_t)sf->n_groups * IDX_ENTRY, K8S_SF_HEADER_SIZE, size) ||
	    !area_ok(sf->groups_by_gid, (uint64_t)sf->n_groups * IDX_ENTRY, K8S_SF_HEADER_SIZE, size) ||
	    !area_ok(sf->rec_off, rec_size, K8S_SF_HEADER_SIZE, size))
		return K8S_SF_ELAYOUT;
	sf->rec_end = (uint32_t)(sf->rec_off + rec_size);
	return K8S_SF_OK;
}

int k8s_sf_open(struct k8s_sf *sf, const void *base, size_t size)
{
	const unsigned char *b = base;
	int rc;

	memset(sf, 0, sizeof(*sf));
	if (b == NULL || size < K8S_SF_HEADER_SIZE)
		return K8S_SF_ETOOSMALL;
	if (memcmp(b + K8S_SF_H_MAGIC, K8S_SF_MAGIC, 8) != 0)
		return K8S_SF_EMAGIC;
	if (ld32(b + K8S_SF_H_VERSION) != K8S_SF_VERSION ||
	    ld32(b + K8S_SF_H_HDRSIZE) != K8S_SF_HEADER_SIZE ||
	    ld32(b + K8S_SF_H_BYTEORDER) != K8S_SF_BYTE_ORDER ||
	    ld32(b + K8S_SF_H_FLAGS) != 0)
		return K8S_SF_EVERSION;
	if (ld64(b + K8S_SF_H_HDRSUM) != k8s_sf_hash64(b, K8S_SF_H_HDRSUM))
		return K8S_SF_EHEADER;
	if (size > K8S_SF_MAX_FILE || ld64(b + K8S_SF_H_FILESIZE) != (uint64_t)size)
		return K8S_SF_ESIZE;
	rc = open_layout(sf, b, size);
	if (rc != K8S_SF_OK) {
		memset(sf, 0, sizeof(*sf));
		return rc;
	}
	sf->base = b;
	sf->size = size;
	sf->generation = ld64(b + K8S_SF_H_GENERATION);
	sf->created = (int64_t)ld64(b + K8S_SF_H_CREATED);
	return K8S_SF_OK;
}

int k8s_sf_verify_body(const struct k8s_sf *sf)
{
	if (sf->base == NULL)
		return K8S_SF_ETOOSMALL;
	if (ld64(sf->base + K8S_SF_H_BODYSUM) !=
	    k8s_sf_hash64(sf->base + K8S_SF_HEADER_SIZE, sf->size - K8S_SF_HEADER_SIZE))
		return K8S_SF_EBODY;
	return K8S_SF_OK;
}

/* The verified record at `off`, or NULL.  *size and *type filled. */
static const unsigned char *record(const struct k8s_sf *sf, uint32_t off, uint32_t *size,
				   uint32_t *type)
{
	const unsigned char *p;
	uint32_t sz;

	if (off < sf->rec_off || off % 8 != 0 || off >= sf->rec_end || sf->rec_end - off < REC_HDR)
		return NULL;
	p = sf->base + off;
	sz = ld32(p + 8);
	if (sz < REC_HDR || sz % 8 != 0 || sz > sf->rec_end - off)
		return NULL;
	if (ld64(p) != k8s_sf_hash64(p + 8, sz - 8))
		return NULL;
	*size = sz;
	*type = ld16(p + 12);
	return p;
}

/* Take one NUL-terminated string of at most max bytes from [*pp, end). */
static const char *take_str(const char **pp, const char *end, size_t max, size_t *len)
{
	const char *s = *pp, *nul;
	size_t avail;

	if (s >= end)
		return NULL;
	avail = (size_t)(end - s);
	nul = memchr(s, '\0', avail < max + 1 ? avail : max + 1);
	if (nul == NULL)
		return NULL;
	*len = (size_t)(nul - s);
	*pp = nul + 1;
	return s;
}

/* Printable text; no ':' when it ends up in a passwd line. */
static int text_ok(const char *s, size_t len, int passwd_field)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || (passwd_field && c == ':'))
			return 0;
	}
	return 1;
}

static int take_name(const char **pp, const char *end, const char **out, size_t *len)
{
	*out = take_str(pp, end, 32, len);
	return *out != NULL && k8s_sf_valid_name(*out, *len);
}

static int take_text(const char **pp, const char *end, int passwd_field, const char **out,
		     size_t *len)
{
	*out = take_str(pp, end, K8S_SF_STR_MAX, len);
	return *out != NULL && text_ok(*out, *len, passwd_field);
}

static int user_strings(struct k8s_sf_user *u, const char *p, const char *end)
{
	size_t bl, cl, len;
	const char *g;
	uint32_t i;

	if (!take_name(&p, end, &u->name, &u->name_len) ||
	    !take_text(&p, end, 1, &u->gecos, &u->gecos_len) ||
	    !take_text(&p, end, 1, &u->home, &u->home_len) ||
	    !take_text(&p, end, 1, &u->shell, &u->shell_len) ||
	    !take_text(&p, end, 0, &u->binding, &bl) ||
	    !take_text(&p, end, 0, &u->cluster_user, &cl))
		return 0;
	if (u->home[0] != '/' || u->shell[0] != '/')
		return 0;
	u->group_names.p = p;
	u->group_names.end = end;
	u->group_names.left = u->n_memberships;
	for (i = 0; i < u->n_memberships; i++)
		if (!take_name(&p, end, &g, &len))
			return 0;
	return 1;
}

static int decode_user(const unsigned char *r, uint32_t size, struct k8s_sf_user *u)
{
	uint32_t n, i;

	memset(u, 0, sizeof(*u));
	if (size < K8S_SF_USER_FIXED)
		return 0;
	u->uid = ld32(r + 16);
	u->gid = ld32(r + 20);
	u->sources = ld32(r + 24);
	u->flags = ld32(r + 28);
	u->last_login = (int64_t)ld64(r + 32);
	n = ld32(r + 40);
	if (u->uid < K8S_SF_MIN_ID || u->gid < K8S_SF_MIN_ID ||
	    n > (size - K8S_SF_USER_FIXED) / 8)
		return 0;
	u->n_memberships = n;
	u->memberships = r + K8S_SF_USER_FIXED;
	for (i = 0; i < n; i++)
		if (ld32(u->memberships + 8 * i) == 0)
			return 0;
	return user_strings(u, (const char *)r + K8S_SF_USER_FIXED + 8 * n, (const char *)r + size);
}

static int decode_group(const unsigned char *r, uint32_t size, struct k8s_sf_group *g)
{
	const char *p, *end, *m;
	size_t len;
	uint32_t i;

	memset(g, 0, sizeof(*g));
	if (size < K8S_SF_GROUP_FIXED)
		return 0;
	g->gid = ld32(r + 16);
	g->sources = ld32(r + 20);
	g->n_members = ld32(r + 28);
	if (g->gid < K8S_SF_MIN_ID || g->n_members > size / 2)
		return 0;
	p = (const char *)r + K8S_SF_GROUP_FIXED;
	end = (const char *)r + size;
	if (!take_name(&p, end, &g->name, &g->name_len))
		return 0;
	g->members.p = p;
	g->members.end = end;
	g->members.left = g->n_members;
	for (i = 0; i < g->n_members; i++) {
		if (!take_name(&p, end, &m, &len))
			return 0;
		g->members_bytes += len + 1;
	}
	return 1;
}

static int user_at_off(const struct k8s_sf *sf, uint32_t off, struct k8s_sf_user *u)
{
	const unsigned char *r;
	uint32_t size, type;

	r = record(sf, off, &size, &type);
	return r != NULL && type == K8S_SF_REC_USER && decode_user(r, size, u);
}

/* A group entry: a group record, or a user record standing for that
 * user's private group. */
static int group_at_off(const struct k8s_sf *sf, uint32_t off, struct k8s_sf_group *g)
{
	const unsigned char *r;
	struct k8s_sf_user u;
	uint32_t size, type;

	r = record(sf, off, &size, &type);
	if (r == NULL)
		return 0;
	if (type == K8S_SF_REC_GROUP)
		return decode_group(r, size, g);
	if (type != K8S_SF_REC_USER || !decode_user(r, size, &u))
		return 0;
	memset(g, 0, sizeof(*g));
	g->gid = u.gid;
	g->sources = u.sources;
	g->private_group = 1;
	g->name = u.name;
	g->name_len = u.name_len;
	g->n_members = 1;
	g->members.p = u.name;
	g->members.end = u.name + u.name_len + 1;
	g->members.left = 1;
	g->members_bytes = u.name_len + 1;
	return 1;
}

/* First index position whose key is >= key.  Only the index bytes are
 * read: an unsorted (damaged) index just makes the search miss. */
static uint32_t lower_bound(const struct k8s_sf *sf, uint32_t idx, uint32_t n, uint32_t key)
{
	uint32_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ld32(sf->base + idx + (uint64_t)mid * IDX_ENTRY) < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint32_t idx_key(const struct k8s_sf *sf, uint32_t idx, uint32_t i)
{
	return ld32(sf->base + idx + (uint64_t)i * IDX_ENTRY);
}

static uint32_t idx_off(const struct k8s_sf *sf, uint32_t idx, uint32_t i)
{
	return ld32(sf->base + idx + (uint64_t)i * IDX_ENTRY + 4);
}

int k8s_sf_user_by_name(const struct k8s_sf *sf, const char *name, struct k8s_sf_user *out)
{
	size_t len;
	uint32_t key, i;

	if (sf->base == NULL || name == NULL)
		return 0;
	len = strnlen(name, 33);
	if (len == 0 || len > 32)
		return 0;
	key = k8s_sf_name_hash(name, len);
	for (i = lower_bound(sf, sf->users_by_name, sf->n_users, key);
	     i < sf->n_users && idx_key(sf, sf->users_by_name, i) == key; i++)
		if (user_at_off(sf, idx_off(sf, sf->users_by_name, i), out) &&
		    out->name_len == len && memcmp(out->name, name, len) == 0)
			return 1;
	return 0;
}

int k8s_sf_user_by_uid(const struct k8s_sf *sf, uint32_t uid, struct k8s_sf_user *out)
{
	uint32_t i;

	if (sf->base == NULL)
		return 0;
	for (i = lower_bound(sf, sf->users_by_uid, sf->n_users, uid);
	     i < sf->n_users && idx_key(sf, sf->users_by_uid, i) == uid; i++)
		if (user_at_off(sf, idx_off(sf, sf->users_by_uid, i), out) && out->uid == uid)
			return 1;
	return 0;
}

int k8s_sf_group_by_name(const struct k8s_sf *sf, const char *name, struct k8s_sf_group *out)
{
	size_t len;
	uint32_t key, i;

	if (sf->base == NULL || name == NULL)
		return 0;
	len = strnlen(name, 33);
	if (len == 0 || len > 32)
		return 0;
	key = k8s_sf_name_hash(name, len);
	for (i = lower_bound(sf, sf->groups_by_name, sf->n_groups, key);
	     i < sf->n_groups && idx_key(sf, sf->groups_by_name, i) == key; i++)
		if (group_at_off(sf, idx_off(sf, sf->groups_by_name, i), out) &&
		    out->name_len == len && memcmp(out->name, name, len) == 0)
			return 1;
	return 0;
}

int k8s_sf_group_by_gid(const struct k8s_sf *sf, uint32_t gid, struct k8s_sf_group *out)
{
	uint32_t i;

	if (sf->base == NULL)
		return 0;
	for (i = lower_bound(sf, sf->groups_by_gid, sf->n_groups, gid);
	     i < sf->n_groups && idx_key(sf, sf->groups_by_gid, i) == gid; i++)
		if (group_at_off(sf, idx_off(sf, sf->groups_by_gid, i), out) && out->gid == gid)
			return 1;
	return 0;
}

int k8s_sf_user_at(const struct k8s_sf *sf, uint32_t i, struct k8s_sf_user *out)
{
	if (sf->base == NULL || i >= sf->n_users)
		return 0;
	return user_at_off(sf, idx_off(sf, sf->users_by_uid, i), out) &&
	       out->uid == idx_key(sf, sf->users_by_uid, i);
}

int k8s_sf_group_at(const struct k8s_sf *sf, uint32_t i, struct k8s_sf_group *out)
{
	if (sf->base == NULL || i >= sf->n_groups)
		return 0;
	return group_at_off(sf, idx_off(sf, sf->groups_by_gid, i), out) &&
	       out->gid == idx_key(sf, sf->groups_by_gid, i);
}

void k8s_sf_membership(const struct k8s_sf_user *u, uint32_t i, uint32_t *gid, uint32_t *sources)
{
	*gid = 0;
	*sources = 0;
	if (i >= u->n_memberships)
		return;
	*gid = ld32(u->memberships + 8 * (size_t)i);
	*sources = ld32(u->memberships + 8 * (size_t)i + 4);
}

/* Lists come only from verified records, so every string is terminated
 * before `end`; the memchr bound is belt and braces. */
const char *k8s_sf_strlist_next(struct k8s_sf_strlist *it)
{
	const char *s, *nul;

	if (it->left == 0 || it->p == NULL || it->p >= it->end)
		return NULL;
	s = it->p;
	nul = memchr(s, '\0', (size_t)(it->end - s));
	if (nul == NULL)
		return NULL;
	it->p = nul + 1;
	it->left--;
	return s;
}
