/* nettle_lazy.h: Nettle, hogweed and GMP loaded on first use.
 *
 * k8s-auth-helper is a process per PAM call, and most calls verify no
 * signature (a review-cache hit, sudo's account phase, the session): the
 * three libraries cost such a call 0.45 ms of CPU to map and relocate
 * (perf stat, spawn-and-wait, against jansson and libyaml alone).  So
 * they are dlopen()ed by the first JWKS parse, like libssl by the first
 * request.  Included by jwks.c only, after the Nettle headers: the names
 * it uses become calls through the table (types from the headers). */
#ifndef K8S_NETTLE_LAZY_H
#define K8S_NETTLE_LAZY_H

#include <gmp.h>
#include <nettle/bignum.h>
#include <nettle/dsa.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <nettle/nettle-meta.h>
#include <nettle/pss.h>
#include <nettle/rsa.h>
#include <nettle/sha2.h> /* the context types only: calls go through struct nettle_hash */

#define K8S_NETTLE_SONAME "libhogweed.so.6"
#define K8S_NETTLE_PACKAGE "libhogweed6"

#define K8S_NETTLE_FUNCS(X) \
	X(rsa_public_key_init, nettle_rsa_public_key_init) \
	X(rsa_public_key_clear, nettle_rsa_public_key_clear) \
	X(rsa_public_key_prepare, nettle_rsa_public_key_prepare) \
	X(rsa_pkcs1_verify, nettle_rsa_pkcs1_verify) \
	X(rsa_pss_sha256_verify_digest, nettle_rsa_pss_sha256_verify_digest) \
	X(rsa_pss_sha384_verify_digest, nettle_rsa_pss_sha384_verify_digest) \
	X(rsa_pss_sha512_verify_digest, nettle_rsa_pss_sha512_verify_digest) \
	X(pss_verify_mgf1, nettle_pss_verify_mgf1) \
	X(ecc_point_init, nettle_ecc_point_init) \
	X(ecc_point_set, nettle_ecc_point_set) \
	X(ecc_point_clear, nettle_ecc_point_clear) \
	X(ecdsa_verify, nettle_ecdsa_verify) \
	X(get_secp_256r1, nettle_get_secp_256r1) \
	X(get_secp_384r1, nettle_get_secp_384r1) \
	X(get_secp_521r1, nettle_get_secp_521r1) \
	X(mpz_set_str_256_u, nettle_mpz_set_str_256_u) \
	X(mpz_init_set_str_256_u, nettle_mpz_init_set_str_256_u) \
	X(dsa_signature_init, nettle_dsa_signature_init) \
	X(dsa_signature_clear, nettle_dsa_signature_clear) \
	X(mpz_init, __gmpz_init) \
	X(mpz_clear, __gmpz_clear) \
	X(mpz_sizeinbase, __gmpz_sizeinbase) \
	X(mpz_cmp, __gmpz_cmp) \
	X(mpz_powm, __gmpz_powm)

struct k8s_nettle {
#define K8S_NETTLE_FIELD(name, sym) __typeof__(sym) *f_##name;
	K8S_NETTLE_FUNCS(K8S_NETTLE_FIELD)
#undef K8S_NETTLE_FIELD
	const struct nettle_hash *sha256, *sha384, *sha512;
};

extern struct k8s_nettle k8s_nettle_fn;

/* 0 when loaded (once per process; thread-safe), -1 when the library or
 * a symbol is missing (callers fail closed and name K8S_NETTLE_SONAME). */
int k8s_nettle_load(void);

#ifdef K8S_NETTLE_CALLS
#undef rsa_public_key_init
#undef rsa_public_key_clear
#undef rsa_public_key_prepare
#undef rsa_pkcs1_verify
#undef rsa_pss_sha256_verify_digest
#undef rsa_pss_sha384_verify_digest
#undef rsa_pss_sha512_verify_digest
#undef pss_verify_mgf1
#undef ecc_point_init
#undef ecc_point_set
#undef ecc_point_clear
#undef ecdsa_verify
#undef nettle_get_secp_256r1
#undef nettle_get_secp_384r1
#undef nettle_get_secp_521r1
#undef nettle_mpz_set_str_256_u
#undef nettle_mpz_init_set_str_256_u
#undef dsa_signature_init
#undef dsa_signature_clear
#undef mpz_init
#undef mpz_clear
#undef mpz_sizeinbase
#undef mpz_cmp
#undef mpz_powm
#define rsa_public_key_init (*k8s_nettle_fn.f_rsa_public_key_init)
#define rsa_public_key_clear (*k8s_nettle_fn.f_rsa_public_key_clear)
#define rsa_public_key_prepare (*k8s_nettle_fn.f_rsa_public_key_prepare)
#define rsa_pkcs1_verify (*k8s_nettle_fn.f_rsa_pkcs1_verify)
#define rsa_pss_sha256_verify_digest (*k8s_nettle_fn.f_rsa_pss_sha256_verify_digest)
#define rsa_pss_sha384_verify_digest (*k8s_nettle_fn.f_rsa_pss_sha384_verify_digest)
#define rsa_pss_sha512_verify_digest (*k8s_nettle_fn.f_rsa_pss_sha512_verify_digest)
#define pss_verify_mgf1 (*k8s_nettle_fn.f_pss_verify_mgf1)
#define ecc_point_init (*k8s_nettle_fn.f_ecc_point_init)
#define ecc_point_set (*k8s_nettle_fn.f_ecc_point_set)
#define ecc_point_clear (*k8s_nettle_fn.f_ecc_point_clear)
#define ecdsa_verify (*k8s_nettle_fn.f_ecdsa_verify)
#define nettle_get_secp_256r1 (*k8s_nettle_fn.f_get_secp_256r1)
#define nettle_get_secp_384r1 (*k8s_nettle_fn.f_get_secp_384r1)
#define nettle_get_secp_521r1 (*k8s_nettle_fn.f_get_secp_521r1)
#define nettle_mpz_set_str_256_u (*k8s_nettle_fn.f_mpz_set_str_256_u)
#define nettle_mpz_init_set_str_256_u (*k8s_nettle_fn.f_mpz_init_set_str_256_u)
#define dsa_signature_init (*k8s_nettle_fn.f_dsa_signature_init)
#define dsa_signature_clear (*k8s_nettle_fn.f_dsa_signature_clear)
#define mpz_init (*k8s_nettle_fn.f_mpz_init)
#define mpz_clear (*k8s_nettle_fn.f_mpz_clear)
#define mpz_sizeinbase (*k8s_nettle_fn.f_mpz_sizeinbase)
#define mpz_cmp (*k8s_nettle_fn.f_mpz_cmp)
#define mpz_powm (*k8s_nettle_fn.f_mpz_powm)
#endif

#endif
