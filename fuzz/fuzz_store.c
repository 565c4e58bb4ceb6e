/* Fuzz target for the identity store reader (storefmt.c), which every
 * process runs through libnss_k8s.  Input: u32 length of the base image,
 * the base, then the delta.  Every lookup and walk must stay in bounds,
 * and whatever is found must be what was asked for.
 * Seeds: fuzz/corpus/fuzz_store (real stores, made by fuzz/store_seeds.sh). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storefmt.h"

#define WALK_MAX 4096

static void walk_user(const struct k8s_sf_user *u)
{
	struct k8s_sf_strlist it = u->group_names;
	uint32_t i, gid, src;
	const char *s;

	if (strlen(u->name) != u->name_len || strlen(u->home) != u->home_len ||
	    strlen(u->shell) != u->shell_len || strlen(u->gecos) != u->gecos_len ||
	    u->uid < K8S_SF_MIN_ID)
		abort();
	(void)strlen(u->binding);
	(void)strlen(u->cluster_user);
	for (i = 0; i < u->n_memberships; i++) {
		k8s_sf_membership(u, i, &gid, &src);
		if (gid == 0)
			abort();
		s = k8s_sf_strlist_next(&it);
		if (s == NULL || !k8s_sf_valid_name(s, strlen(s)))
			abort();
	}
}

static void walk_group(const struct k8s_sf_group *g)
{
	struct k8s_sf_strlist it = g->members;
	size_t bytes = 0;
	uint32_t n = 0;
	const char *s;

	if (strlen(g->name) != g->name_len || g->gid < K8S_SF_MIN_ID)
		abort();
	while ((s = k8s_sf_strlist_next(&it)) != NULL) {
		bytes += strlen(s) + 1;
		n++;
	}
	if (n != g->n_members || bytes != g->members_bytes)
		abort();
}

static void exercise(const struct k8s_sfv *v, const uint8_t *tail, size_t tlen)
{
	static const char *names[] = {"alice", "bob", "root", "k8s-ops", "a", "sudo"};
	struct k8s_sf_user u, w;
	struct k8s_sf_group g, h;
	uint32_t i, n, id;
	size_t k;

	n = k8s_sfv_n_users(v);
	for (i = 0; i < n && i < WALK_MAX; i++) {
		if (!k8s_sfv_user_at(v, i, &u))
			continue;
		walk_user(&u);
		if (k8s_sfv_user_by_name(v, u.name, &w) == 1 && strcmp(w.name, u.name) != 0)
			abort();
		if (k8s_sfv_user_by_uid(v, u.uid, &w) == 1 && w.uid != u.uid)
			abort();
	}
	n = k8s_sfv_n_groups(v);
	for (i = 0; i < n && i < WALK_MAX; i++) {
		if (!k8s_sfv_group_at(v, i, &g))
			continue;
		walk_group(&g);
		if (k8s_sfv_group_by_name(v, g.name, &h) == 1 && strcmp(h.name, g.name) != 0)
			abort();
		if (k8s_sfv_group_by_gid(v, g.gid, &h) == 1 && h.gid != g.gid)
			abort();
	}
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		if (k8s_sfv_user_by_name(v, names[k], &u) == 1) {
			walk_user(&u);
			if (strcmp(u.name, names[k]) != 0)
				abort();
		}
		if (k8s_sfv_group_by_name(v, names[k], &g) == 1) {
			walk_group(&g);
			if (strcmp(g.name, names[k]) != 0)
				abort();
		}
	}
	for (k = 0; k + 4 <= tlen && k < 64; k += 4) {
		memcpy(&id, tail + k, 4);
		if (k8s_sfv_user_by_uid(v, id, &u) == 1 && u.uid != id)
			abort();
		if (k8s_sfv_group_by_gid(v, id, &g) == 1 && g.gid != id)
			abort();
	}
}

static void entries(const struct k8s_sf *sf)
{
	struct k8s_sf_entry e;
	struct k8s_sf_user u;
	struct k8s_sf_group g;
	uint32_t i;
	int groups;

	for (groups = 0; groups <= 1; groups++)
		for (i = 0; i < WALK_MAX && k8s_sf_entry_at(sf, groups, i, &e); i++) {
			if (e.type == 0)
				continue;
			if (e.name == NULL || e.record_size < K8S_SF_REC_HDR)
				abort();
			(void)k8s_sf_find_user(sf, e.name, &u);
			(void)k8s_sf_find_group(sf, e.name, &g);
		}
}

static void reseal(uint8_t *b, size_t len)
{
	static const int idx[4][2] = {
		{K8S_SF_H_NUBYNAME, K8S_SF_H_UBYNAME}, {K8S_SF_H_NUBYUID, K8S_SF_H_UBYUID},
		{K8S_SF_H_NGBYNAME, K8S_SF_H_GBYNAME}, {K8S_SF_H_NGBYGID, K8S_SF_H_GBYGID},
	};
	uint64_t n, at, off, sz, i;
	int k;

	if (len < K8S_SF_HEADER_SIZE)
		return;
	for (k = 0; k < 4; k++) {
		n = k8s_sf_ld32(b + idx[k][0]);
		at = k8s_sf_ld32(b + idx[k][1]);
		for (i = 0; i < n && at + K8S_SF_IDX_SIZE * (i + 1) <= len && i < WALK_MAX; i++) {
			off = k8s_sf_ld32(b + at + K8S_SF_IDX_SIZE * i + K8S_SF_IDX_OFF);
			if (off % 8 != 0 || off + K8S_SF_REC_HDR > len)
				continue;
			sz = k8s_sf_ld32(b + off + K8S_SF_R_SIZE);
			if (sz >= K8S_SF_REC_HDR && sz % 8 == 0 && off + sz <= len)
				k8s_sf_st64(b + off + K8S_SF_R_SUM,
					    k8s_sf_hash64(b + off + K8S_SF_R_SIZE, sz - K8S_SF_R_SIZE));
		}
	}
	k8s_sf_st64(b + K8S_SF_H_BODYSUM, k8s_sf_hash64(b + K8S_SF_HEADER_SIZE, len - K8S_SF_HEADER_SIZE));
	k8s_sf_st64(b + K8S_SF_H_HDRSUM, k8s_sf_hash64(b, K8S_SF_H_HDRSUM));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_sf base, delta;
	struct k8s_sfv v;
	uint8_t *b = NULL, *d = NULL;
	uint32_t blen;
	size_t dlen;
	int fix;

	if (size < 4)
		return 0;
	memcpy(&blen, data, 4);
	data += 4;
	size -= 4;
	fix = (blen & 0x80000000u) != 0;
	blen &= 0x7fffffffu;
	if (blen > size)
		blen = (uint32_t)size;
	dlen = size - blen;
	/* Separate allocations of the exact sizes: any overread is caught. */
	b = malloc(blen ? blen : 1);
	d = malloc(dlen ? dlen : 1);
	if (b == NULL || d == NULL)
		goto out;
	memcpy(b, data, blen);
	memcpy(d, data + blen, dlen);
	if (fix) {
		reseal(b, blen);
		reseal(d, dlen);
	}
	(void)k8s_sf_open(&base, b, blen);
	(void)k8s_sf_open(&delta, d, dlen);
	if (base.base != NULL)
		(void)k8s_sf_verify_body(&base);
	if (delta.base != NULL)
		(void)k8s_sf_verify_body(&delta);
	entries(&base);
	entries(&delta);
	(void)k8s_sfv_attach(&v, &base, &delta);
	exercise(&v, data, size);
	/* Whatever the pairing says, any two images must be safe together. */
	v.base = base;
	v.delta = delta;
	exercise(&v, data, size);
out:
	free(b);
	free(d);
	return 0;
}
