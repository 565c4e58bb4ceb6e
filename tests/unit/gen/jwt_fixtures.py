#!/usr/bin/python3
"""Fixtures for test_jwks, test_jwt, test_oidc and the JWT fuzz seeds.

Usage: jwt_fixtures.py DIR

Writes into DIR (fresh keys every run, nothing committed):
  now                     the fixed "now" every token's times are relative to
  jwks_<name>.json        key sets (public keys as jwcrypto exports them, plus
                          deliberately broken ones built by hand)
  tok_<name>.jwt          compact tokens: well-formed ones signed by jwcrypto,
                          attack tokens assembled byte by byte and signed with
                          python3-cryptography, so the exact bytes are ours to
                          choose (duplicate keys, padding, DER signatures...)

Everything is made by jwcrypto / cryptography, never by the code under test.
"""
import base64
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwcrypto import jwe, jwk, jws

NOW = 1700000000
ISS = "https://issuer.test"
AUD = "host-login"

OUT = sys.argv[1]


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def write(name, text):
    with open(os.path.join(OUT, name), "w") as f:
        f.write(text)


def gen(name, **kw):
    return jwk.JWK.generate(kid=name, **kw)


# ------------------------------------------------------------------ keys
K = {
    "rsa1": gen("rsa1", kty="RSA", size=2048),
    "rsa2": gen("rsa2", kty="RSA", size=2048),
    "rsa_ps": gen("rsa_ps", kty="RSA", size=3072),
    "ec256": gen("ec256", kty="EC", crv="P-256"),
    "ec384": gen("ec384", kty="EC", crv="P-384"),
    "ec521": gen("ec521", kty="EC", crv="P-521"),
    "ed": gen("ed", kty="OKP", crv="Ed25519"),
    "small": gen("small", kty="RSA", size=1024),
}


def pub(name, **extra):
    d = K[name].export_public(as_dict=True)
    d.update(extra)
    return d


def jwks(name, keys):
    write("jwks_%s.json" % name, json.dumps({"keys": keys}, indent=1))


# The main set: one key per type/curve; rsa_ps pins its alg to PS256.
jwks("main", [pub("rsa1"), pub("rsa_ps", alg="PS256"), pub("ec256"), pub("ec384"),
              pub("ec521"), pub("ed")])
jwks("two_rsa", [pub("rsa1"), pub("rsa2")])
jwks("dup_kid", [pub("rsa1"), dict(pub("rsa2"), kid="rsa1")])
jwks("small", [pub("small"), pub("ec256")])
jwks("enc", [pub("rsa1", use="enc"), pub("ec256", use="sig")])
jwks("private", [K["rsa1"].export_private(as_dict=True), pub("ec256")])
jwks("private_ec", [K["ec384"].export_private(as_dict=True)])
jwks("oct", [{"kty": "oct", "kid": "hmac", "k": b64u(b"0123456789abcdef0123456789abcdef")}])

# EC points off the curve: y + 1 (and a P-384 key labelled P-256).
bad = pub("ec256")
y = int.from_bytes(base64.urlsafe_b64decode(bad["y"] + "=="), "big")
bad["y"] = b64u(((y + 1) % (2 ** 256)).to_bytes(32, "big"))
wrongcrv = dict(pub("ec384"), crv="P-256", kid="wrongcrv")
short_x = dict(pub("ec256"), kid="shortx")
short_x["x"] = b64u(base64.urlsafe_b64decode(short_x["x"] + "==")[1:])
jwks("offcurve", [bad, wrongcrv, short_x, pub("rsa1")])

# Encodings that must be skipped, one per entry, plus one good key.
n_padded = dict(pub("rsa2"), kid="padded")
n_padded["n"] += "=" * ((4 - len(n_padded["n"]) % 4) % 4)
jwks("badenc", [
    {"kty": "RSA", "kid": "no_e", "n": pub("rsa2")["n"]},
    n_padded,
    dict(pub("rsa2"), kid="num_kid_is_next"),
    dict(pub("ec256"), kid=7),
    dict(pub("rsa2"), kid="alg_hs", alg="HS256"),
    dict(pub("ec256"), kid="alg_wrong", alg="RS256"),
    {"kty": "OKP", "crv": "Ed448", "kid": "ed448", "x": b64u(b"\x01" * 57)},
    {"kty": "XYZ", "kid": "xyz"},
    "not an object",
    pub("ec384"),
])
write("jwks_dupmember.json",
      '{"keys":[%s], "keys":[]}' % json.dumps(pub("ec256")))
write("jwks_notjson.json", '{"keys": [')

# ---------------------------------------------------------------- claims
BASE = {
    "iss": ISS, "aud": AUD, "sub": "user-1", "email": "alice@example.com",
    "email_verified": True, "groups": ["dev", "ops"], "hd": "example.com",
    "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 3600,
}


def claims(**kw):
    c = dict(BASE)
    for k, v in kw.items():
        if v is DROP:
            c.pop(k, None)
        else:
            c[k] = v
    return c


DROP = object()


def jwcrypto_token(key, alg, payload, with_kid=True, **hdr):
    h = {"alg": alg}
    if with_kid:
        h["kid"] = key["kid"]
    h.update(hdr)
    s = jws.JWS(json.dumps(payload).encode())
    s.add_signature(key, alg=alg, protected=json.dumps(h))
    return s.serialize(compact=True)


def raw_sign(name, alg, data):
    """Sign bytes with cryptography, JOSE encoding unless told otherwise."""
    key = K[name].get_op_key("sign")
    h = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}.get(alg[2:])
    if alg.startswith("RS"):
        return key.sign(data, padding.PKCS1v15(), h)
    if alg.startswith("PS"):
        return key.sign(data, padding.PSS(padding.MGF1(h), h.digest_size), h)
    if alg.startswith("ES"):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h)))
        n = (key.curve.key_size + 7) // 8
        return r.to_bytes(n, "big") + s.to_bytes(n, "big")
    if alg == "EdDSA":
        return key.sign(data)
    raise ValueError(alg)


def raw_token(name, alg, header_json, payload_json, sig=None):
    """header_json/payload_json are exact strings: duplicates stay duplicates."""
    si = b64u(header_json.encode()) + "." + b64u(payload_json.encode())
    if sig is None:
        sig = raw_sign(name, alg, si.encode())
    return si + "." + b64u(sig)


def tok(name, text):
    write("tok_%s.jwt" % name, text)


# Every algorithm with its key.
for alg, kname in [("RS256", "rsa1"), ("RS384", "rsa1"), ("RS512", "rsa1"),
                   ("PS256", "rsa1"), ("PS384", "rsa1"), ("PS512", "rsa1"),
                   ("ES256", "ec256"), ("ES384", "ec384"), ("ES512", "ec521"),
                   ("EdDSA", "ed")]:
    tok("ok_" + alg, jwcrypto_token(K[kname], alg, BASE))
tok("ok_PS256_pinned", jwcrypto_token(K["rsa_ps"], "PS256", BASE))
tok("ok_typ_lower", jwcrypto_token(K["ec256"], "ES256", BASE, typ="jwt"))
tok("ok_typ_JWT", jwcrypto_token(K["ec256"], "ES256", BASE, typ="JWT"))
tok("nokid_ES384", jwcrypto_token(K["ec384"], "ES384", BASE, with_kid=False))
tok("nokid_RS256", jwcrypto_token(K["rsa1"], "RS256", BASE, with_kid=False))
tok("small_RS256", jwcrypto_token(K["small"], "RS256", BASE))

# Algorithms that are never accepted.
hdr_b64 = b64u(json.dumps({"alg": "none", "kid": "rsa1"}).encode())
pl_b64 = b64u(json.dumps(BASE).encode())
tok("none_empty", hdr_b64 + "." + pl_b64 + ".")
tok("none_sig", hdr_b64 + "." + pl_b64 + "." + b64u(b"x" * 32))
# HS256 keyed with the RSA public key's PEM: the classic key-confusion forgery.
pem = K["rsa1"].export_to_pem()
hk = jwk.JWK(kty="oct", k=b64u(pem), kid="rsa1")
tok("hs256_confusion", jwcrypto_token(hk, "HS256", BASE))
tok("unknown_alg", raw_token("rsa1", "RS256", '{"alg":"RS257","kid":"rsa1"}', json.dumps(BASE)))

# Key selection.
tok("unknown_kid", jwcrypto_token(K["ec256"], "ES256", BASE, with_kid=False, **{"kid": "nope"}))
tok("alg_key_mismatch", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"rsa1"}', json.dumps(BASE)))
tok("rsa_as_es", raw_token("rsa1", "RS256", '{"alg":"ES256","kid":"rsa1"}', json.dumps(BASE)))
tok("wrong_curve", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec384"}', json.dumps(BASE)))
tok("es384_on_p256", raw_token("ec384", "ES384", '{"alg":"ES384","kid":"ec256"}', json.dumps(BASE)))
tok("eddsa_on_ec", raw_token("ed", "EdDSA", '{"alg":"EdDSA","kid":"ec256"}', json.dumps(BASE)))
tok("jwk_alg_mismatch", raw_token("rsa_ps", "RS256", '{"alg":"RS256","kid":"rsa_ps"}', json.dumps(BASE)))

# ECDSA signature encodings.
es_si = b64u(b'{"alg":"ES256","kid":"ec256"}') + "." + b64u(json.dumps(BASE).encode())
es_raw = raw_sign("ec256", "ES256", es_si.encode())
tok("es_short", es_si + "." + b64u(es_raw[:-1]))
tok("es_long", es_si + "." + b64u(es_raw + b"\x00"))
der = K["ec256"].get_op_key("sign").sign(es_si.encode(), ec.ECDSA(hashes.SHA256()))
tok("es_der", es_si + "." + b64u(der))
es_zero = es_si + "." + b64u(b"\x00" * 64)
tok("es_zero", es_zero)

# PSS with a salt longer than the hash: RFC 7518 says salt = hash length.
ps_si = b64u(b'{"alg":"PS256","kid":"rsa1"}') + "." + b64u(json.dumps(BASE).encode())
ps_max = K["rsa1"].get_op_key("sign").sign(
    ps_si.encode(), padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH), hashes.SHA256())
tok("ps_maxsalt", ps_si + "." + b64u(ps_max))

# Header rules.
tok("crit", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256","crit":["exp"],"exp":1}',
                      json.dumps(BASE)))
tok("typ_at", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256","typ":"at+jwt"}',
                        json.dumps(BASE)))
tok("typ_num", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256","typ":1}', json.dumps(BASE)))
tok("kid_num", raw_token("ec256", "ES256", '{"alg":"ES256","kid":5}', json.dumps(BASE)))
# As go-jose: a null or empty kid is no kid; typ null is no typ, crit [] no
# critical extension; nonce must be a string; jwk one public key; x5c DER
# certificates.
tok("kid_null", raw_token("ec256", "ES256", '{"alg":"ES256","kid":null}', json.dumps(BASE)))
tok("kid_empty", raw_token("ec256", "ES256", '{"alg":"ES256","kid":""}', json.dumps(BASE)))
tok("typ_null", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256","typ":null}', json.dumps(BASE)))
tok("crit_empty", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256","crit":[]}', json.dumps(BASE)))
tok("nonce_num", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256","nonce":5}', json.dumps(BASE)))
tok("nonce_str", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256","nonce":"n"}', json.dumps(BASE)))
tok("jwk_pub", raw_token("ec256", "ES256", json.dumps({"alg": "ES256", "kid": "ec256", "jwk": pub("ec256")}),
                         json.dumps(BASE)))
# go-jose's validity, not our key policy: use and alg of a key never used do not matter.
tok("jwk_use_enc", raw_token("ec256", "ES256", json.dumps(
    {"alg": "ES256", "kid": "ec256", "jwk": dict(pub("ec256"), use="enc", alg="HS256")}), json.dumps(BASE)))
tok("jwk_bad_kty", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256","jwk":{"kty":"XYZ"}}',
                             json.dumps(BASE)))
tok("jwk_string", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256","jwk":"x"}', json.dumps(BASE)))
tok("jwk_private", raw_token("ec256", "ES256", json.dumps(
    {"alg": "ES256", "kid": "ec256", "jwk": dict(pub("ec256"), d="AAAA")}), json.dumps(BASE)))
tok("x5c_not_cert", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256","x5c":["aGVsbG8="]}',
                              json.dumps(BASE)))
tok("x5c_string", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256","x5c":"aGVsbG8="}',
                            json.dumps(BASE)))
tok("x5c_empty", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256","x5c":[]}', json.dumps(BASE)))


def x5c_der():
    """A self-signed certificate for ec256 (DER)."""
    import datetime
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    key = serialization.load_pem_private_key(K["ec256"].export_to_pem(private_key=True, password=None), None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x5c")])
    now = datetime.datetime(2024, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


# go-jose parses x5c with x509.ParseCertificate, which refuses trailing data.
X5C = x5c_der()
for name, der in (("x5c_cert", X5C), ("x5c_trailing", X5C + b"\0"), ("x5c_trailing_cert", X5C + X5C)):
    tok(name, raw_token("ec256", "ES256", json.dumps(
        {"alg": "ES256", "kid": "ec256", "x5c": [base64.b64encode(der).decode()]}), json.dumps(BASE)))
# and decodes it with base64.StdEncoding, which skips CR and LF only.
X5C_B64 = base64.b64encode(X5C).decode()
for name, sep in (("x5c_crlf", "\r\n"), ("x5c_space", " "), ("x5c_tab", "\t")):
    tok(name, raw_token("ec256", "ES256", json.dumps(
        {"alg": "ES256", "kid": "ec256", "x5c": [X5C_B64[:64] + sep + X5C_B64[64:]]}), json.dumps(BASE)))
tok("no_alg", raw_token("ec256", "ES256", '{"kid":"ec256"}', json.dumps(BASE)))
tok("dup_header", raw_token("rsa1", "RS256", '{"alg":"RS256","kid":"rsa1","alg":"RS256"}',
                            json.dumps(BASE)))
tok("dup_header_escaped", raw_token("rsa1", "RS256", '{"alg":"RS256","kid":"rsa1","\\u0061lg":"none"}',
                                    json.dumps(BASE)))
dup_payload = json.dumps(BASE)[:-1] + ', "sub": "admin"}'
tok("dup_payload", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256"}', dup_payload))
nested = json.dumps(dict(BASE, x={"a": 1}))[:-2] + ', "a": 2}}'
tok("dup_nested", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256"}', nested))
tok("payload_array", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256"}', '["a"]'))
tok("header_not_json", raw_token("ec256", "ES256", '{"alg":"ES256",', json.dumps(BASE)))
tok("trailing_garbage", raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256"} x', json.dumps(BASE)))
# Numbers no double or int64 holds: Python would write "Infinity", so the
# payload text is spelt out.
for name, val in [("exp_1e400", "1e400"), ("exp_neg_1e400", "-1e400"),
                  ("exp_bigint", "1" + "0" * 20)]:
    tok(name, raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256"}',
                        json.dumps(claims(exp=DROP))[:-1] + ', "exp": %s}' % val))

# Numbers nobody reads no longer refuse the token (they did when jansson
# refused the whole payload).
for name, val in [("unrelated_1e400", "1e400"), ("unrelated_bigint", "1" + "0" * 30),
                  ("unrelated_400_digits", "9" * 400)]:
    tok(name, raw_token("ec256", "ES256", '{"alg":"ES256","kid":"ec256"}',
                        json.dumps(BASE)[:-1] + ', "big": [%s, {"x": %s}]}' % (val, val)))

# JWE: five segments.
e = jwe.JWE(json.dumps(BASE).encode(), json.dumps({"alg": "RSA-OAEP", "enc": "A128GCM"}))
e.add_recipient(K["rsa1"])
tok("jwe", e.serialize(compact=True))

# Encodings of a valid RS256 token: padded, non-canonical last character.
good = open(os.path.join(OUT, "tok_ok_RS256.jwt")).read()
h, p, s = good.split(".")
assert len(s) % 4 == 2  # 256 bytes -> 342 characters, 4 unused bits
tok("padded_sig", h + "." + p + "." + s + "==")
alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
tok("noncanon_sig", h + "." + p + "." + s[:-1] + alpha[alpha.index(s[-1]) | 1])
tok("space_sig", h + "." + p + "." + s[:100] + " " + s[100:])
tok("std_b64_sig", h + "." + p + "." + base64.b64encode(base64.urlsafe_b64decode(s + "==")).decode().rstrip("="))
tok("four_segments", good + ".AAAA")
tok("two_segments", h + "." + p)
tok("empty_payload", h + ".." + s)

# Tampering.
other = b64u(json.dumps(dict(BASE, sub="admin")).encode())
tok("tampered_payload", h + "." + other + "." + s)
sig = bytearray(base64.urlsafe_b64decode(s + "=="))
sig[100] ^= 1
tok("tampered_sig", h + "." + p + "." + b64u(bytes(sig)))

# Size: just over K8S_TOKEN_MAX (16384), signed correctly.
big = jwcrypto_token(K["ec256"], "ES256", dict(BASE, pad="x" * 12300))
assert len(big) > 16384, len(big)
tok("oversize", big)
fits = jwcrypto_token(K["ec256"], "ES256", dict(BASE, pad="x" * 11900))
assert len(fits) <= 16384, len(fits)
tok("just_fits", fits)

# Claim variations, signed ES256 with ec256 (signature checks are above).
CLAIMS = {
    "ok": claims(),
    "exp_now": claims(exp=NOW),
    "exp_past": claims(exp=NOW - 1),
    "exp_next": claims(exp=NOW + 1),
    "exp_real": claims(exp=NOW + 0.5),
    "no_exp": claims(exp=DROP),
    "exp_str": claims(exp=str(NOW + 3600)),
    "exp_str_real": claims(exp="%d.5" % (NOW + 3600)),
    "exp_str_junk": claims(exp="soon"),
    "exp_str_space": claims(exp=" %d" % (NOW + 3600)),
    "exp_str_past": claims(exp=str(NOW - 10)),
    "exp_null": claims(exp=None),
    "nbf_null": claims(nbf=None),
    "nbf_str_future": claims(nbf=str(NOW + 600)),
    "iat_null": claims(iat=None),
    "nonce_num": claims(nonce=5),
    "nonce_null": claims(nonce=None),
    "at_hash_num": claims(at_hash=1),
    "sub_null": claims(sub=None),
    "EXP_case": dict(claims(), EXP=NOW - 3600),
    "Iss_case": dict(claims(), Iss="https://evil.test"),
    "long_s_sub": dict(claims(), **{"\u017fub": "admin"}),
    "dist_groups": claims(groups=DROP, _claim_names={"groups": "s1"},
                          _claim_sources={"s1": {"endpoint": "https://claims.test/g", "access_token": "t"}}),
    "dist_groups_present": claims(_claim_names={"groups": "s1"},
                                  _claim_sources={"s1": {"endpoint": "https://claims.test/g"}}),
    "dist_no_sources": claims(groups=DROP, _claim_names={"groups": "s1"}),
    "dist_source_missing": claims(_claim_names={"groups": "s9"}, _claim_sources={"s1": {}}),
    "dist_names_array": claims(_claim_names=["groups"], _claim_sources={}),
    "dist_endpoint_num": claims(_claim_names={"x": "s1"}, _claim_sources={"s1": {"endpoint": 5}}),
    "dist_aggregated": claims(groups=DROP, _claim_names={"groups": "s1"},
                              _claim_sources={"s1": {"JWT": "a.b.c"}}),
    "dist_other_claim": claims(groups=DROP, _claim_names={"roles": "s1"},
                               _claim_sources={"s1": {"endpoint": "https://claims.test/r"}}),
    # NumericDates that are not integers: truncated; outside time_t: refused.
    "exp_frac": claims(exp=NOW + 3600.7),
    "exp_1e300": claims(exp=1e300),
    "exp_neg_1e300": claims(exp=-1e300),
    "exp_2p63": claims(exp=float(2 ** 63)),
    "exp_2p62": claims(exp=float(2 ** 62)),
    "exp_neg_half": claims(exp=-0.5),
    "iat_1e300": claims(iat=1e300),
    "iat_neg_1e300": claims(iat=-1e300),
    "iat_frac": claims(iat=1.5e9 + 0.7),
    "nbf_1e300": claims(nbf=1e300),
    "nbf_neg_1e300": claims(nbf=-1e300),
    "nbf_frac": claims(nbf=NOW + 60.9),
    "nbf_61": claims(nbf=NOW + 61),
    "nbf_60": claims(nbf=NOW + 60),
    "nbf_str": claims(nbf="soon"),
    "no_nbf": claims(nbf=DROP),
    "iat_str": claims(iat="then"),
    "aud_arr": claims(aud=["other", AUD]),
    "aud_wrong": claims(aud="other"),
    "aud_arr_wrong": claims(aud=["a", "b"]),
    "aud_num": claims(aud=5),
    "aud_arr_mixed": claims(aud=[AUD, 5]),
    "no_aud": claims(aud=DROP),
    "aud_a2": claims(aud="a2"),
    "iss_other": claims(iss="https://evil.test"),
    "iss_slash": claims(iss=ISS + "/"),
    "no_iss": claims(iss=DROP),
    "hd_missing": claims(hd=DROP),
    "hd_wrong": claims(hd="evil.com"),
    "hd_num": claims(hd=5),
    "email_unverified": claims(email_verified=False),
    "email_verified_str": claims(email_verified="true"),
    "email_noverified": claims(email_verified=DROP),
    "email_empty": claims(email=""),
    "email_num": claims(email=7),
    "no_email": claims(email=DROP),
    "groups_str": claims(groups="admins"),
    "groups_num": claims(groups=5),
    "groups_mixed": claims(groups=["a", 1]),
    "groups_null": claims(groups=None),
    "groups_empty_member": claims(groups=["", "x"]),
    "groups_null_member": claims(groups=["x", None]),
    "groups_empty_str": claims(groups=""),
    "no_groups": claims(groups=DROP),
    "no_sub": claims(sub=DROP),
    "sub_num": claims(sub=9),
    "sa": claims(**{"kubernetes.io": {"namespace": "ops", "serviceaccount": {"name": "alice", "uid": "u-1"},
                                       "pod": {"name": "p", "uid": "p-1"}}}),
}
for name, c in CLAIMS.items():
    tok("c_" + name, jwcrypto_token(K["ec256"], "ES256", c))

write("now", str(NOW))
