/* storefmt.h: the on-disk format of the identity store (identities.db) and
 * its reader.
 *
 * The reader is compiled into libk8scommon AND into libnss_k8s.so.2, which
 * runs inside every process on the host: it uses libc string functions
 * only (no allocation, no stdio, no environment), and treats the bytes it
 * is given as untrusted.  Every offset and length is bounds-checked against
 * the image; every record carries a checksum that is verified each time it
 * is read, and the key found is compared with the key asked for, so a
 * damaged index or record is a miss, never a wrong answer or a crash.
 *
 * Layout (docs/store-format.md has the full description): a 128-byte
 * header, four sorted index arrays (users by name hash, users by uid,
 * groups by name hash, groups by gid; 8-byte entries {key, record offset}),
 * then the records (8-aligned, each {checksum, size, type, ...}).  A group
 * index entry may point at a user record: that is the user's private
 * group.  Native byte order, versioned. */
#ifndef K8S_STOREFMT_H
#define K8S_STOREFMT_H

#include <stddef.h>
#include <stdint.h>

#define K8S_SF_FILE          "identities.db"
#define K8S_SF_MAGIC         "K8S-IDDB"
#define K8S_SF_VERSION       1u
#define K8S_SF_BYTE_ORDER    0x01020304u
#define K8S_SF_HEADER_SIZE   128u
#define K8S_SF_MAX_FILE      0x7fffffffu /* offsets are 32-bit */

/* Header field offsets. */
#define K8S_SF_H_MAGIC       0   /* 8 bytes */
#define K8S_SF_H_VERSION     8   /* u32 */
#define K8S_SF_H_HDRSIZE     12  /* u32 */
#define K8S_SF_H_BYTEORDER   16  /* u32 */
#define K8S_SF_H_FLAGS       20  /* u32, 0 */
#define K8S_SF_H_FILESIZE    24  /* u64 */
#define K8S_SF_H_GENERATION  32  /* u64 */
#define K8S_SF_H_CREATED     40  /* i64, unix time of the commit */
#define K8S_SF_H_NUSERS      48  /* u32 */
#define K8S_SF_H_NGROUPS     52  /* u32: group index entries (private groups included) */
#define K8S_SF_H_UBYNAME     56  /* u32 offset of users-by-name index */
#define K8S_SF_H_UBYUID      60
#define K8S_SF_H_GBYNAME     64
#define K8S_SF_H_GBYGID      68
#define K8S_SF_H_RECOFF      72  /* u32 */
#define K8S_SF_H_RECSIZE     76  /* u32 */
#define K8S_SF_H_BODYSUM     80  /* u64: hash64 of [HEADER_SIZE, file size) */
#define K8S_SF_H_HDRSUM      120 /* u64: hash64 of [0, 120) */

/* Record header: u64 checksum (hash64 of [8, size)), u32 size, u16 type. */
#define K8S_SF_REC_USER      1u
#define K8S_SF_REC_GROUP     2u
#define K8S_SF_USER_FIXED    48u /* bytes before the membership array */
#define K8S_SF_GROUP_FIXED   32u
#define K8S_SF_USER_PINNED   0x1u /* user flags */

#define K8S_SF_STR_MAX       4096u /* longest string field, NUL excluded */
#define K8S_SF_MIN_ID        1000u /* no uid/gid below this is ever served */

/* Open result codes (k8s_sf_open). */
enum k8s_sf_status {
	K8S_SF_OK = 0,
	K8S_SF_ETOOSMALL = -1,  /* shorter than a header */
	K8S_SF_EMAGIC = -2,     /* not a store file */
	K8S_SF_EVERSION = -3,   /* other version or byte order */
	K8S_SF_EHEADER = -4,    /* header checksum */
	K8S_SF_ESIZE = -5,      /* truncated or extended: size != header's */
	K8S_SF_ELAYOUT = -6,    /* an area outside the file, misaligned, overlapping */
	K8S_SF_EBODY = -7,      /* body checksum (k8s_sf_verify_body only) */
};

struct k8s_sf {
	const unsigned char *base;
	size_t size;
	uint64_t generation;
	int64_t created;
	uint32_t n_users, n_groups;
	uint32_t users_by_name, users_by_uid, groups_by_name, groups_by_gid;
	uint32_t rec_off, rec_end;
};

/* A sequence of NUL-terminated strings inside a verified record. */
struct k8s_sf_strlist {
	const char *p;
	const char *end;
	uint32_t left;
};

struct k8s_sf_user {
	uint32_t uid, gid, sources, flags;
	int64_t last_login;
	const char *name, *gecos, *home, *shell;
	const char *binding;      /* "" = unbound */
	const char *cluster_user; /* "" = never seen */
	size_t name_len, gecos_len, home_len, shell_len;
	uint32_t n_memberships;
	const unsigned char *memberships; /* n x {u32 gid, u32 sources}, unaligned */
	struct k8s_sf_strlist group_names; /* n names, in membership order */
};

struct k8s_sf_group {
	uint32_t gid, sources;
	int private_group;        /* synthesized from a user record */
	const char *name;
	size_t name_len;
	uint32_t n_members;
	struct k8s_sf_strlist members; /* n names */
	size_t members_bytes;     /* sum of member name lengths + NULs */
};

/* The checksum: FNV-1a over native 64-bit words with an xorshift per step
 * and a final avalanche (docs/store-format.md).  Detects damage; it is not
 * a MAC: only root can write the store. */
uint64_t k8s_sf_hash64(const void *data, size_t len);
uint32_t k8s_sf_name_hash(const char *name, size_t len);

/* Validate the header of an image of `size` bytes.  K8S_SF_OK or a
 * negative enum k8s_sf_status; *sf is zeroed on failure. */
int k8s_sf_open(struct k8s_sf *sf, const void *base, size_t size);
/* Verify the whole-body checksum (O(size): for writers, not per lookup). */
int k8s_sf_verify_body(const struct k8s_sf *sf);
const char *k8s_sf_strerror(int status);

/* Lookups: 1 found (and verified), 0 not found or damaged. */
int k8s_sf_user_by_name(const struct k8s_sf *sf, const char *name, struct k8s_sf_user *out);
int k8s_sf_user_by_uid(const struct k8s_sf *sf, uint32_t uid, struct k8s_sf_user *out);
int k8s_sf_group_by_name(const struct k8s_sf *sf, const char *name, struct k8s_sf_group *out);
int k8s_sf_group_by_gid(const struct k8s_sf *sf, uint32_t gid, struct k8s_sf_group *out);

/* Enumeration in uid / gid order: entry i of the index; 0 for i out of
 * range or a damaged record (skip it and go on). */
int k8s_sf_user_at(const struct k8s_sf *sf, uint32_t i, struct k8s_sf_user *out);
int k8s_sf_group_at(const struct k8s_sf *sf, uint32_t i, struct k8s_sf_group *out);

/* Membership i of a decoded user (i < n_memberships). */
void k8s_sf_membership(const struct k8s_sf_user *u, uint32_t i, uint32_t *gid, uint32_t *sources);

/* Next string of a list, NULL at the end. */
const char *k8s_sf_strlist_next(struct k8s_sf_strlist *it);

/* ^[a-z_][a-z0-9_.-]{0,31}$, not all digits (as mapping.h, without it:
 * the NSS module links only this file). */
int k8s_sf_valid_name(const char *s, size_t len);

#endif
