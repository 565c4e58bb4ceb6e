/* storefmt.c: the identity store reader (see storefmt.h).
 *
 * Runs inside every process through libnss_k8s.so.2, so: no allocation,
 * no stdio, no environment, and the image is untrusted bytes.  All loads
 * go through k8s_sf_ld32()/ld64() (storefmt.h; memcpy: no alignment
 * assumption survives a damaged offset), every area is checked against the image before it is
 * touched, and 64-bit arithmetic keeps the checks free of overflow. */
#include "storefmt.h"

#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL
#define REC_HDR    K8S_SF_REC_HDR
#define IDX_ENTRY  K8S_SF_IDX_SIZE
#define ld16       k8s_sf_ld16
#define ld32       k8s_sf_ld32
#define ld64       k8s_sf_ld64

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

	sf->n_ubyname = ld32(b + K8S_SF_H_NUBYNAME);
	sf->n_ubyuid = ld32(b + K8S_SF_H_NUBYUID);
	sf->n_gbyname = ld32(b + K8S_SF_H_NGBYNAME);
	sf->n_gbygid = ld32(b + K8S_SF_H_NGBYGID);
	sf->ubyname = ld32(b + K8S_SF_H_UBYNAME);
	sf->ubyuid = ld32(b + K8S_SF_H_UBYUID);
	sf->gbyname = ld32(b + K8S_SF_H_GBYNAME);
	sf->gbygid = ld32(b + K8S_SF_H_GBYGID);
	sf->rec_off = ld32(b + K8S_SF_H_RECOFF);
	rec_size = ld32(b + K8S_SF_H_RECSIZE);
	if (!area_ok(sf->ubyname, (uint64_t)sf->n_ubyname * IDX_ENTRY, K8S_SF_HEADER_SIZE, size) ||
	    !area_ok(sf->ubyuid, (uint64_t)sf->n_ubyuid * IDX_ENTRY, K8S_SF_HEADER_SIZE, size) ||
	    !area_ok(sf->gbyname, (uint64_t)sf->n_gbyname * IDX_ENTRY, K8S_SF_HEADER_SIZE, size) ||
	    !area_ok(sf->gbygid, (uint64_t)sf->n_gbygid * IDX_ENTRY, K8S_SF_HEADER_SIZE, size) ||
	    !area_ok(sf->rec_off, rec_size, K8S_SF_HEADER_SIZE, size))
		return K8S_SF_ELAYOUT;
	sf->rec_end = (uint32_t)(sf->rec_off + rec_size);
	return K8S_SF_OK;
}

int k8s_sf_open(struct k8s_sf *sf, const void *base, size_t size)
{
	const unsigned char *b = base;
	uint32_t flags;
	int rc;

	memset(sf, 0, sizeof(*sf));
	if (b == NULL || size < K8S_SF_HEADER_SIZE)
		return K8S_SF_ETOOSMALL;
	if (memcmp(b + K8S_SF_H_MAGIC, K8S_SF_MAGIC, 8) != 0)
		return K8S_SF_EMAGIC;
	flags = ld32(b + K8S_SF_H_FLAGS);
	if (ld32(b + K8S_SF_H_VERSION) != K8S_SF_VERSION ||
	    ld32(b + K8S_SF_H_HDRSIZE) != K8S_SF_HEADER_SIZE ||
	    ld32(b + K8S_SF_H_BYTEORDER) != K8S_SF_BYTE_ORDER || (flags & ~K8S_SF_FLAG_DELTA) != 0)
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
	sf->flags = flags;
	sf->generation = ld64(b + K8S_SF_H_GENERATION);
	sf->created = (int64_t)ld64(b + K8S_SF_H_CREATED);
	sf->base_generation = ld64(b + K8S_SF_H_BASEGEN);
	sf->base_sum = ld64(b + K8S_SF_H_BASESUM);
	sf->header_sum = ld64(b + K8S_SF_H_HDRSUM);
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

int k8s_sfv_attach(struct k8s_sfv *v, const struct k8s_sf *base, const struct k8s_sf *delta)
{
	memset(v, 0, sizeof(*v));
	if (base != NULL && base->base != NULL && !(base->flags & K8S_SF_FLAG_DELTA))
		v->base = *base;
	if (delta == NULL || delta->base == NULL)
		return K8S_SF_DELTA_NONE;
	if (!(delta->flags & K8S_SF_FLAG_DELTA))
		return K8S_SF_DELTA_BAD;
	if (v->base.base == NULL || delta->base_generation > v->base.generation)
		return K8S_SF_DELTA_AHEAD;
	if (delta->base_generation < v->base.generation)
		return K8S_SF_DELTA_STALE;
	if (delta->base_sum != v->base.header_sum)
		return K8S_SF_DELTA_BAD;
	v->delta = *delta;
	return K8S_SF_DELTA_OK;
}

/* ---------------------------------------------------------- records */

/* The verified record at `off`, or NULL.  *size and *type filled. */
static const unsigned char *record(const struct k8s_sf *sf, uint32_t off, uint32_t *size,
				   uint32_t *type)
{
	const unsigned char *p;
	uint32_t sz;

	if (off < sf->rec_off || off % 8 != 0 || off >= sf->rec_end || sf->rec_end - off < REC_HDR)
		return NULL;
	p = sf->base + off;
	sz = ld32(p + K8S_SF_R_SIZE);
	if (sz < REC_HDR || sz % 8 != 0 || sz > sf->rec_end - off)
		return NULL;
	if (ld64(p + K8S_SF_R_SUM) != k8s_sf_hash64(p + K8S_SF_R_SIZE, sz - K8S_SF_R_SIZE))
		return NULL;
	*size = sz;
	*type = ld16(p + K8S_SF_R_TYPE);
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

int k8s_sf_text_ok(const char *s, size_t len, int passwd_field)
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
	return *out != NULL && k8s_sf_text_ok(*out, *len, passwd_field);
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
	u->uid = ld32(r + K8S_SF_U_UID);
	u->gid = ld32(r + K8S_SF_U_GID);
	u->sources = ld32(r + K8S_SF_U_SOURCES);
	u->flags = ld32(r + K8S_SF_U_FLAGS);
	u->last_login = (int64_t)ld64(r + K8S_SF_U_LASTLOGIN);
	n = ld32(r + K8S_SF_U_NMEMB);
	u->existing = (u->sources & K8S_SF_SRC_EXISTING) != 0;
	if (u->existing ? u->uid != 0 || u->gid != 0 :
			  u->uid < K8S_SF_MIN_ID || u->gid < K8S_SF_MIN_ID)
		return 0;
	if (n > (size - K8S_SF_USER_FIXED) / K8S_SF_MEMB_SIZE)
		return 0;
	u->n_memberships = n;
	u->memberships = r + K8S_SF_USER_FIXED;
	for (i = 0; i < n; i++)
		if (ld32(u->memberships + K8S_SF_MEMB_SIZE * i + K8S_SF_MEMB_GID) == 0)
			return 0;
	u->record = r;
	u->record_size = size;
	return user_strings(u, (const char *)r + K8S_SF_USER_FIXED + K8S_SF_MEMB_SIZE * n, (const char *)r + size);
}

static int decode_group(const unsigned char *r, uint32_t size, struct k8s_sf_group *g)
{
	const char *p, *end, *m;
	size_t len;
	uint32_t i;

	memset(g, 0, sizeof(*g));
	if (size < K8S_SF_GROUP_FIXED)
		return 0;
	g->gid = ld32(r + K8S_SF_G_GID);
	g->sources = ld32(r + K8S_SF_G_SOURCES);
	g->n_members = ld32(r + K8S_SF_G_NMEMBERS);
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
	g->record = r;
	g->record_size = size;
	return 1;
}

/* The private group a user record stands for. */
static void private_group(const struct k8s_sf_user *u, struct k8s_sf_group *g)
{
	memset(g, 0, sizeof(*g));
	g->gid = u->gid;
	g->sources = u->sources;
	g->private_group = 1;
	g->name = u->name;
	g->name_len = u->name_len;
	g->n_members = 1;
	g->members.p = u->name;
	g->members.end = u->name + u->name_len + 1;
	g->members.left = 1;
	g->members_bytes = u->name_len + 1;
	g->record = u->record;
	g->record_size = u->record_size;
}

static int decode_tomb(const unsigned char *r, uint32_t size, uint32_t *kind, const char **name,
		       size_t *len)
{
	const char *p = (const char *)r + K8S_SF_TOMB_FIXED;

	if (size < K8S_SF_TOMB_FIXED)
		return 0;
	*kind = ld32(r + K8S_SF_T_KIND);
	if (*kind != K8S_SF_TOMB_USER && *kind != K8S_SF_TOMB_GROUP)
		return 0;
	return take_name(&p, (const char *)r + size, name, len);
}

/* Any entry of a group index: a group record, or a user record standing
 * for its private group. */
static int decode_group_entry(const unsigned char *r, uint32_t size, uint32_t type,
			      struct k8s_sf_group *g)
{
	struct k8s_sf_user u;

	if (type == K8S_SF_REC_GROUP)
		return decode_group(r, size, g);
	if (type != K8S_SF_REC_USER || !decode_user(r, size, &u) || u.existing)
		return 0;
	private_group(&u, g);
	return 1;
}

/* ----------------------------------------------------------- indexes */

static uint32_t idx_key(const struct k8s_sf *sf, uint32_t idx, uint32_t i)
{
	return ld32(sf->base + idx + (uint64_t)i * IDX_ENTRY + K8S_SF_IDX_KEY);
}

static uint32_t idx_off(const struct k8s_sf *sf, uint32_t idx, uint32_t i)
{
	return ld32(sf->base + idx + (uint64_t)i * IDX_ENTRY + K8S_SF_IDX_OFF);
}

/* First position whose key is >= key.  Only index bytes are read: an
 * unsorted (damaged) index just makes the search miss. */
static uint32_t lower_bound(const struct k8s_sf *sf, uint32_t idx, uint32_t n, uint32_t key)
{
	uint32_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (idx_key(sf, idx, mid) < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int name_key(const char *name, size_t *len, uint32_t *key)
{
	*len = name != NULL ? strnlen(name, 33) : 0;
	if (*len == 0 || *len > 32)
		return 0;
	*key = k8s_sf_name_hash(name, *len);
	return 1;
}

static int same_name(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* users-by-name of one file: a user record, a user tombstone, or none. */
static int find_user_in(const struct k8s_sf *sf, const char *name, size_t len, uint32_t key,
			struct k8s_sf_user *out)
{
	const unsigned char *r;
	const char *tname;
	size_t tlen;
	uint32_t i, size, type, kind;
	int damaged = 0;

	if (sf->base == NULL)
		return K8S_SF_HIT_NONE;
	for (i = lower_bound(sf, sf->ubyname, sf->n_ubyname, key);
	     i < sf->n_ubyname && idx_key(sf, sf->ubyname, i) == key; i++) {
		r = record(sf, idx_off(sf, sf->ubyname, i), &size, &type);
		if (r != NULL && type == K8S_SF_REC_USER && decode_user(r, size, out)) {
			if (same_name(out->name, out->name_len, name, len))
				return K8S_SF_HIT_FOUND;
		} else if (r != NULL && type == K8S_SF_REC_TOMB && decode_tomb(r, size, &kind, &tname, &tlen) &&
			   kind == K8S_SF_TOMB_USER) {
			if (same_name(tname, tlen, name, len))
				return K8S_SF_HIT_TOMB;
		} else {
			damaged = 1;
		}
	}
	return damaged ? K8S_SF_HIT_DAMAGED : K8S_SF_HIT_NONE;
}

/* groups-by-name of one file: a group, a private group, a tombstone
 * (a removed user also removes its private group), or none. */
static int find_group_in(const struct k8s_sf *sf, const char *name, size_t len, uint32_t key,
			 struct k8s_sf_group *out)
{
	const unsigned char *r;
	const char *tname;
	size_t tlen;
	uint32_t i, size, type, kind;
	int damaged = 0;

	if (sf->base == NULL)
		return K8S_SF_HIT_NONE;
	for (i = lower_bound(sf, sf->gbyname, sf->n_gbyname, key);
	     i < sf->n_gbyname && idx_key(sf, sf->gbyname, i) == key; i++) {
		r = record(sf, idx_off(sf, sf->gbyname, i), &size, &type);
		if (r != NULL && type == K8S_SF_REC_TOMB && decode_tomb(r, size, &kind, &tname, &tlen)) {
			if (same_name(tname, tlen, name, len))
				return K8S_SF_HIT_TOMB;
		} else if (r != NULL && decode_group_entry(r, size, type, out)) {
			if (same_name(out->name, out->name_len, name, len))
				return K8S_SF_HIT_FOUND;
		} else {
			damaged = 1;
		}
	}
	return damaged ? K8S_SF_HIT_DAMAGED : K8S_SF_HIT_NONE;
}

static int find_uid_in(const struct k8s_sf *sf, uint32_t uid, struct k8s_sf_user *out)
{
	const unsigned char *r;
	uint32_t i, size, type;
	int damaged = 0;

	if (sf->base == NULL)
		return K8S_SF_HIT_NONE;
	for (i = lower_bound(sf, sf->ubyuid, sf->n_ubyuid, uid);
	     i < sf->n_ubyuid && idx_key(sf, sf->ubyuid, i) == uid; i++) {
		r = record(sf, idx_off(sf, sf->ubyuid, i), &size, &type);
		if (r == NULL || type != K8S_SF_REC_USER || !decode_user(r, size, out) || out->existing)
			damaged = 1;
		else if (out->uid == uid)
			return K8S_SF_HIT_FOUND;
	}
	return damaged ? K8S_SF_HIT_DAMAGED : K8S_SF_HIT_NONE;
}

static int find_gid_in(const struct k8s_sf *sf, uint32_t gid, struct k8s_sf_group *out)
{
	const unsigned char *r;
	uint32_t i, size, type;
	int damaged = 0;

	if (sf->base == NULL)
		return K8S_SF_HIT_NONE;
	for (i = lower_bound(sf, sf->gbygid, sf->n_gbygid, gid);
	     i < sf->n_gbygid && idx_key(sf, sf->gbygid, i) == gid; i++) {
		r = record(sf, idx_off(sf, sf->gbygid, i), &size, &type);
		if (r == NULL || !decode_group_entry(r, size, type, out))
			damaged = 1;
		else if (out->gid == gid)
			return K8S_SF_HIT_FOUND;
	}
	return damaged ? K8S_SF_HIT_DAMAGED : K8S_SF_HIT_NONE;
}

int k8s_sf_find_user(const struct k8s_sf *sf, const char *name, struct k8s_sf_user *out)
{
	size_t len;
	uint32_t key;

	if (!name_key(name, &len, &key))
		return K8S_SF_HIT_NONE;
	return find_user_in(sf, name, len, key, out);
}

int k8s_sf_find_group(const struct k8s_sf *sf, const char *name, struct k8s_sf_group *out)
{
	size_t len;
	uint32_t key;

	if (!name_key(name, &len, &key))
		return K8S_SF_HIT_NONE;
	return find_group_in(sf, name, len, key, out);
}

int k8s_sf_entry_at(const struct k8s_sf *sf, int groups, uint32_t i, struct k8s_sf_entry *out)
{
	uint32_t idx = groups ? sf->gbyname : sf->ubyname, n = groups ? sf->n_gbyname : sf->n_ubyname;
	const unsigned char *r;
	struct k8s_sf_user u;
	struct k8s_sf_group g;
	uint32_t size, type;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (sf->base == NULL || i >= n)
		return 0;
	r = record(sf, idx_off(sf, idx, i), &size, &type);
	if (r == NULL)
		return 1;
	if (type == K8S_SF_REC_USER && decode_user(r, size, &u))
		out->name = u.name;
	else if (type == K8S_SF_REC_GROUP && decode_group(r, size, &g))
		out->name = g.name;
	else if (type == K8S_SF_REC_TOMB && decode_tomb(r, size, &out->kind, &out->name, &len))
		;
	else
		return 1;
	out->type = type;
	out->record = r;
	out->record_size = size;
	return 1;
}

/* ----------------------------------------------------------- layered */

static int hit_result(int hit)
{
	return hit == K8S_SF_HIT_FOUND ? 1 : hit == K8S_SF_HIT_DAMAGED ? -1 : 0;
}

int k8s_sfv_user_by_name(const struct k8s_sfv *v, const char *name, struct k8s_sf_user *out)
{
	size_t len;
	uint32_t key;
	int hit;

	if (!name_key(name, &len, &key))
		return 0;
	hit = find_user_in(&v->delta, name, len, key, out);
	if (hit == K8S_SF_HIT_NONE)
		hit = find_user_in(&v->base, name, len, key, out);
	return hit_result(hit);
}

int k8s_sfv_group_by_name(const struct k8s_sfv *v, const char *name, struct k8s_sf_group *out)
{
	size_t len;
	uint32_t key;
	int hit;

	if (!name_key(name, &len, &key))
		return 0;
	hit = find_group_in(&v->delta, name, len, key, out);
	if (hit == K8S_SF_HIT_NONE)
		hit = find_group_in(&v->base, name, len, key, out);
	return hit_result(hit);
}

/* A base entry is out of date when the delta has anything (a record or a
 * tombstone) under its name.  1 shadowed, 0 not, -1 cannot tell. */
static int shadowed(const struct k8s_sfv *v, int group, const char *name, size_t len)
{
	struct k8s_sf_user u;
	struct k8s_sf_group g;
	uint32_t key = k8s_sf_name_hash(name, len);
	int hit;

	if (v->delta.base == NULL)
		return 0;
	hit = group ? find_group_in(&v->delta, name, len, key, &g) :
		      find_user_in(&v->delta, name, len, key, &u);
	return hit == K8S_SF_HIT_NONE ? 0 : hit == K8S_SF_HIT_DAMAGED ? -1 : 1;
}

int k8s_sfv_user_by_uid(const struct k8s_sfv *v, uint32_t uid, struct k8s_sf_user *out)
{
	int hit, damaged = 0, s;

	hit = find_uid_in(&v->delta, uid, out);
	if (hit == K8S_SF_HIT_FOUND)
		return 1;
	damaged = hit == K8S_SF_HIT_DAMAGED;
	hit = find_uid_in(&v->base, uid, out);
	if (hit == K8S_SF_HIT_FOUND) {
		s = shadowed(v, 0, out->name, out->name_len);
		if (s == 0)
			return 1;
		damaged |= s < 0;
	}
	damaged |= hit == K8S_SF_HIT_DAMAGED;
	return damaged ? -1 : 0;
}

int k8s_sfv_group_by_gid(const struct k8s_sfv *v, uint32_t gid, struct k8s_sf_group *out)
{
	int hit, damaged = 0, s;

	hit = find_gid_in(&v->delta, gid, out);
	if (hit == K8S_SF_HIT_FOUND)
		return 1;
	damaged = hit == K8S_SF_HIT_DAMAGED;
	hit = find_gid_in(&v->base, gid, out);
	if (hit == K8S_SF_HIT_FOUND) {
		s = shadowed(v, 1, out->name, out->name_len);
		if (s == 0)
			return 1;
		damaged |= s < 0;
	}
	damaged |= hit == K8S_SF_HIT_DAMAGED;
	return damaged ? -1 : 0;
}

uint32_t k8s_sfv_n_users(const struct k8s_sfv *v)
{
	uint64_t n = (uint64_t)v->delta.n_ubyuid + v->base.n_ubyuid;

	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

uint32_t k8s_sfv_n_groups(const struct k8s_sfv *v)
{
	uint64_t n = (uint64_t)v->delta.n_gbygid + v->base.n_gbygid;

	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

int k8s_sfv_user_at(const struct k8s_sfv *v, uint32_t i, struct k8s_sf_user *out)
{
	const struct k8s_sf *sf = &v->delta;
	const unsigned char *r;
	uint32_t size, type;

	if (i >= sf->n_ubyuid) {
		i -= sf->n_ubyuid;
		sf = &v->base;
	}
	if (sf->base == NULL || i >= sf->n_ubyuid)
		return 0;
	r = record(sf, idx_off(sf, sf->ubyuid, i), &size, &type);
	if (r == NULL || type != K8S_SF_REC_USER || !decode_user(r, size, out) || out->existing ||
	    out->uid != idx_key(sf, sf->ubyuid, i))
		return 0;
	return sf == &v->delta || shadowed(v, 0, out->name, out->name_len) == 0;
}

int k8s_sfv_group_at(const struct k8s_sfv *v, uint32_t i, struct k8s_sf_group *out)
{
	const struct k8s_sf *sf = &v->delta;
	const unsigned char *r;
	uint32_t size, type;

	if (i >= sf->n_gbygid) {
		i -= sf->n_gbygid;
		sf = &v->base;
	}
	if (sf->base == NULL || i >= sf->n_gbygid)
		return 0;
	r = record(sf, idx_off(sf, sf->gbygid, i), &size, &type);
	if (r == NULL || !decode_group_entry(r, size, type, out) ||
	    out->gid != idx_key(sf, sf->gbygid, i))
		return 0;
	return sf == &v->delta || shadowed(v, 1, out->name, out->name_len) == 0;
}

void k8s_sf_membership(const struct k8s_sf_user *u, uint32_t i, uint32_t *gid, uint32_t *sources)
{
	*gid = 0;
	*sources = 0;
	if (i >= u->n_memberships)
		return;
	*gid = ld32(u->memberships + K8S_SF_MEMB_SIZE * (size_t)i + K8S_SF_MEMB_GID);
	*sources = ld32(u->memberships + K8S_SF_MEMB_SIZE * (size_t)i + K8S_SF_MEMB_SOURCES);
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
