/* storefmt.h: the on-disk format of the identity store and its reader.
 *
 * Two files in STOREDIR, both in the same container format:
 *   identities.db     the base: every account and group;
 *   identities.delta  what changed since that base (records that replace
 *                     base records of the same name, and tombstones), tied
 *                     to the base by its generation and header checksum.
 * A login rewrites only the small delta; a compaction (k8s-auth sync, or a
 * delta grown past 1/8 of the base) rewrites the base and starts an empty
 * delta.  Both are always replaced by rename, never changed in place.
 * A third file, identities.stamp, is the one exception: a page whose first
 * 8 bytes the writer bumps after each commit, so readers learn of a change
 * without a system call.
 *
 * The reader is compiled into libk8scommon AND into libnss_k8s.so.2, which
 * runs inside every process on the host: libc string functions only (no
 * allocation, no stdio, no environment), and the bytes are untrusted.
 * Every offset and length is bounds-checked against the image; every
 * record carries a checksum verified each time it is read, and the key
 * found is compared with the key asked for, so a damaged index or record
 * is a miss, never a wrong answer or a crash.
 *
 * Layout of a file (docs/store-format.md has it all): a 128-byte header,
 * four sorted index arrays of 8-byte entries {u32 key, u32 record offset}
 * (users by name hash, users by uid, groups by name hash, groups by gid),
 * then 8-aligned records {u64 checksum, u32 size, u16 type, ...}.  A group
 * index entry that points at a user record is that user's private group.
 * Native byte order, versioned. */
#ifndef K8S_STOREFMT_H
#define K8S_STOREFMT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#define K8S_SF_FILE          "identities.db"
#define K8S_SF_DELTA_FILE    "identities.delta"
#define K8S_SF_STAMP_FILE    "identities.stamp" /* u64 commit counter, rewritten in place */
#define K8S_SF_STAMP_SIZE    4096u
#define K8S_SF_MAGIC         "K8S-IDDB"
#define K8S_SF_VERSION       1u
#define K8S_SF_BYTE_ORDER    0x01020304u
#define K8S_SF_HEADER_SIZE   128u
#define K8S_SF_MAX_FILE      0x7fffffffu /* offsets are 32-bit */
#define K8S_SF_FLAG_DELTA    0x1u

/* Header field offsets. */
#define K8S_SF_H_MAGIC       0   /* 8 bytes */
#define K8S_SF_H_VERSION     8   /* u32 */
#define K8S_SF_H_HDRSIZE     12  /* u32 */
#define K8S_SF_H_BYTEORDER   16  /* u32 */
#define K8S_SF_H_FLAGS       20  /* u32: K8S_SF_FLAG_DELTA or 0 */
#define K8S_SF_H_FILESIZE    24  /* u64 */
#define K8S_SF_H_GENERATION  32  /* u64: +1 per commit */
#define K8S_SF_H_CREATED     40  /* i64: unix time of the commit */
#define K8S_SF_H_NUBYNAME    48  /* u32 entries of each index */
#define K8S_SF_H_NUBYUID     52
#define K8S_SF_H_NGBYNAME    56
#define K8S_SF_H_NGBYGID     60
#define K8S_SF_H_UBYNAME     64  /* u32 offsets of the indexes */
#define K8S_SF_H_UBYUID      68
#define K8S_SF_H_GBYNAME     72
#define K8S_SF_H_GBYGID      76
#define K8S_SF_H_RECOFF      80  /* u32 */
#define K8S_SF_H_RECSIZE     84  /* u32 */
#define K8S_SF_H_BODYSUM     88  /* u64: hash64 of [HEADER_SIZE, file size) */
#define K8S_SF_H_BASEGEN     96  /* u64: delta only, the base's generation */
#define K8S_SF_H_BASESUM     104 /* u64: delta only, the base's header checksum */
#define K8S_SF_H_HDRSUM      120 /* u64: hash64 of [0, 120) */

/* Records: u64 checksum (hash64 of [8, size)), u32 size, u16 type, u16 0,
 * then by type (offsets from the record's start; reader and writer both
 * use these names):
 *   user   {u32 uid, u32 gid, u32 sources, u32 flags, i64 last login,
 *           u32 n memberships, u32 0, n x {u32 gid, u32 sources},
 *           name, gecos, home, shell, binding, cluster user, n group names}
 *   group  {u32 gid, u32 sources, u32 0, u32 n members, name, n names}
 *   tomb   {u32 kind, u32 0, name}
 * Strings are NUL-terminated; the record is padded to 8 bytes. */
#define K8S_SF_REC_HDR       16u
#define K8S_SF_R_SUM         0   /* u64 */
#define K8S_SF_R_SIZE        8   /* u32 */
#define K8S_SF_R_TYPE        12  /* u16 */
#define K8S_SF_U_UID         16  /* u32 */
#define K8S_SF_U_GID         20  /* u32 */
#define K8S_SF_U_SOURCES     24  /* u32 */
#define K8S_SF_U_FLAGS       28  /* u32: K8S_SF_USER_PINNED */
#define K8S_SF_U_LASTLOGIN   32  /* i64 */
#define K8S_SF_U_NMEMB       40  /* u32 */
#define K8S_SF_G_GID         16  /* u32 */
#define K8S_SF_G_SOURCES     20  /* u32 */
#define K8S_SF_G_NMEMBERS    28  /* u32 */
#define K8S_SF_T_KIND        16  /* u32: K8S_SF_TOMB_* */
#define K8S_SF_MEMB_SIZE     8u  /* a user's membership: {u32 gid, u32 sources} */
#define K8S_SF_MEMB_GID      0
#define K8S_SF_MEMB_SOURCES  4
#define K8S_SF_IDX_SIZE      8u  /* an index entry: {u32 key, u32 record offset} */
#define K8S_SF_IDX_KEY       0
#define K8S_SF_IDX_OFF       4
#define K8S_SF_REC_USER      1u
#define K8S_SF_REC_GROUP     2u
#define K8S_SF_REC_TOMB      3u  /* delta only: {u32 kind, u32 0, name} */
#define K8S_SF_TOMB_USER     1u
#define K8S_SF_TOMB_GROUP    2u
#define K8S_SF_USER_FIXED    48u /* bytes before the membership array */
#define K8S_SF_GROUP_FIXED   32u
#define K8S_SF_TOMB_FIXED    24u
#define K8S_SF_USER_PINNED   0x1u /* user flags */
/* User sources bit: an allowExisting account another NSS source serves.
 * The record carries binding and login-learned memberships only: uid and
 * gid are 0 (so readers of the first format take it for damage, a miss),
 * it is in the users-by-name index alone, and lookups by uid, by group
 * and enumeration never answer with it.  Same value as K8S_SRC_EXISTING. */
#define K8S_SF_SRC_EXISTING  0x10u

#define K8S_SF_STR_MAX       4096u /* longest string field, NUL excluded */
#define K8S_SF_MIN_ID        1000u /* no uid/gid below this is ever served */

/* A store file every process may believe (libnss_k8s, pam_k8s): a
 * regular file of root's, not group- or world-writable, within an image's
 * size bounds. */
static inline int k8s_sf_file_trusted(const struct stat *sb)
{
	return S_ISREG(sb->st_mode) && sb->st_uid == 0 && (sb->st_mode & 022) == 0 &&
	       sb->st_size >= (off_t)K8S_SF_HEADER_SIZE && (uint64_t)sb->st_size <= K8S_SF_MAX_FILE;
}

/* Unaligned native-order loads and stores (memcpy: an offset read from a
 * damaged image may be misaligned); the reader and the writer share them. */
static inline uint16_t k8s_sf_ld16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t k8s_sf_ld32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t k8s_sf_ld64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void k8s_sf_st16(unsigned char *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline void k8s_sf_st32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline void k8s_sf_st64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

enum k8s_sf_status {
	K8S_SF_OK = 0,
	K8S_SF_ETOOSMALL = -1,  /* shorter than a header */
	K8S_SF_EMAGIC = -2,     /* not a store file */
	K8S_SF_EVERSION = -3,   /* other version, byte order or flags */
	K8S_SF_EHEADER = -4,    /* header checksum */
	K8S_SF_ESIZE = -5,      /* truncated or extended: size != header's */
	K8S_SF_ELAYOUT = -6,    /* an area outside the file or misaligned */
	K8S_SF_EBODY = -7,      /* body checksum (k8s_sf_verify_body only) */
};

/* One validated file image. */
struct k8s_sf {
	const unsigned char *base;  /* NULL: no image */
	size_t size;
	uint32_t flags;
	uint64_t generation, base_generation, base_sum, header_sum;
	int64_t created;
	uint32_t n_ubyname, n_ubyuid, n_gbyname, n_gbygid;
	uint32_t ubyname, ubyuid, gbyname, gbygid;
	uint32_t rec_off, rec_end;
};

/* What lookups see: the base, and the delta when it belongs to it. */
struct k8s_sfv {
	struct k8s_sf base;
	struct k8s_sf delta;        /* base NULL when there is none */
};

/* How a delta relates to a base (k8s_sfv_attach). */
enum k8s_sf_delta {
	K8S_SF_DELTA_NONE = 0,      /* no delta */
	K8S_SF_DELTA_OK = 1,        /* attached */
	K8S_SF_DELTA_STALE = 2,     /* for an older base: the base has it all; ignored */
	K8S_SF_DELTA_AHEAD = 3,     /* for a newer base than this one: re-read the base */
	K8S_SF_DELTA_BAD = 4,       /* not a delta, or for another store: ignored */
};

/* A sequence of NUL-terminated strings inside a verified record. */
struct k8s_sf_strlist {
	const char *p;
	const char *end;
	uint32_t left;
};

struct k8s_sf_user {
	uint32_t uid, gid, sources, flags;
	int existing;             /* K8S_SF_SRC_EXISTING: not a passwd entry */
	int64_t last_login;
	const char *name, *gecos, *home, *shell;
	const char *binding;      /* "" = unbound */
	const char *cluster_user; /* "" = never seen */
	size_t name_len, gecos_len, home_len, shell_len;
	uint32_t n_memberships;
	const unsigned char *memberships; /* n x {u32 gid, u32 sources}, unaligned */
	struct k8s_sf_strlist group_names; /* n names, in membership order */
	const unsigned char *record;      /* the record's bytes, for writers */
	uint32_t record_size;
};

struct k8s_sf_group {
	uint32_t gid, sources;
	int private_group;        /* synthesized from a user record */
	const char *name;
	size_t name_len;
	uint32_t n_members;
	struct k8s_sf_strlist members; /* n names */
	size_t members_bytes;     /* sum of member name lengths + NULs */
	const unsigned char *record;
	uint32_t record_size;
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

/* Pair a base (already opened, or base NULL) with an opened delta (or
 * NULL); the delta is attached only when it is K8S_SF_DELTA_OK. */
int k8s_sfv_attach(struct k8s_sfv *v, const struct k8s_sf *base, const struct k8s_sf *delta);

/* Lookups through base and delta: 1 found (and verified), 0 not found,
 * -1 an entry that may have been it failed verification (damage: readers
 * treat it as a miss, writers must not take it for "free").  By name,
 * an existing-account record (out->existing) is found too: getpwnam must
 * treat it as a miss, initgroups uses its memberships; by uid, by gid and
 * enumeration never return one. */
int k8s_sfv_user_by_name(const struct k8s_sfv *v, const char *name, struct k8s_sf_user *out);
int k8s_sfv_user_by_uid(const struct k8s_sfv *v, uint32_t uid, struct k8s_sf_user *out);
int k8s_sfv_group_by_name(const struct k8s_sfv *v, const char *name, struct k8s_sf_group *out);
int k8s_sfv_group_by_gid(const struct k8s_sfv *v, uint32_t gid, struct k8s_sf_group *out);

/* Enumeration: positions 0 .. k8s_sfv_n_*()-1 (delta entries first, then
 * the base's in uid / gid order); 1 for a valid entry, 0 for a position to
 * skip (damaged, replaced by the delta, or out of range). */
uint32_t k8s_sfv_n_users(const struct k8s_sfv *v);
uint32_t k8s_sfv_n_groups(const struct k8s_sfv *v);
int k8s_sfv_user_at(const struct k8s_sfv *v, uint32_t i, struct k8s_sf_user *out);
int k8s_sfv_group_at(const struct k8s_sfv *v, uint32_t i, struct k8s_sf_group *out);

/* One file alone (no layering): the same results, plus tombstones. */
enum k8s_sf_hit {
	K8S_SF_HIT_NONE = 0,
	K8S_SF_HIT_FOUND = 1,
	K8S_SF_HIT_TOMB = 2,      /* a delta says: removed */
	K8S_SF_HIT_DAMAGED = 3,
};
int k8s_sf_find_user(const struct k8s_sf *sf, const char *name, struct k8s_sf_user *out);
int k8s_sf_find_group(const struct k8s_sf *sf, const char *name, struct k8s_sf_group *out);

/* Walk every record entry of a file's users-by-name / groups-by-name index
 * (writers carrying a delta over): position i, its type (K8S_SF_REC_* or
 * 0 when damaged), tombstone kind, name, and the raw record. */
struct k8s_sf_entry {
	uint32_t type, kind;
	const char *name;
	const unsigned char *record;
	uint32_t record_size;
};
int k8s_sf_entry_at(const struct k8s_sf *sf, int groups, uint32_t i, struct k8s_sf_entry *out);

/* Membership i of a decoded user (i < n_memberships). */
void k8s_sf_membership(const struct k8s_sf_user *u, uint32_t i, uint32_t *gid, uint32_t *sources);

/* Next string of a list, NULL at the end. */
const char *k8s_sf_strlist_next(struct k8s_sf_strlist *it);

/* A text field (gecos, home, shell, binding, cluster user): no control
 * byte or DEL, and no ':' when it ends up in a passwd line.  The writer
 * checks with it what the reader will check. */
int k8s_sf_text_ok(const char *s, size_t len, int passwd_field);

/* ^[a-z_][a-z0-9_.-]{0,31}$, not all digits (as mapping.h, without it:
 * the NSS module links only this file). */
int k8s_sf_valid_name(const char *s, size_t len);

#endif
