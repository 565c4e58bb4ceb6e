#!/usr/bin/python3
"""Forge variants of a real JWT (read on stdin) for attack tests.

    jwt_tamper.py MODE [PUBKEY_PEM] < token > forged

Modes:
  payload      change `sub` (the signature no longer covers the payload)
  signature    flip one bit of the decoded signature
  nosig        drop the signature
  alg-none     header {"alg": "none"}, same claims, empty signature
  foreign-key  same header (kid included) and claims, signed by a fresh key
  hs256-pubkey HS256 keyed with the issuer's public key PEM (PUBKEY_PEM):
               the classic algorithm-confusion attack
  resign KEY_PEM CLAIMS_JSON
               same header, the claims with CLAIMS_JSON's members set (a
               null member removes the claim), signed with the private key
               KEY_PEM (the cluster's service-account key: tokens the
               apiserver could have minted, with claims it does not mint)
Written with the Python standard library and jwcrypto, independent of the
code under test.
"""
import base64
import json
import sys

from jwcrypto import jwk, jws


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def compact(obj):
    # The apiserver's own spelling, so a strict parser refuses these tokens
    # for their signature, not for their whitespace.
    return json.dumps(obj, separators=(",", ":"))


def sign(header, claims, key):
    tok = jws.JWS(compact(claims).encode())
    tok.add_signature(key, alg=header["alg"], protected=compact(header))
    return tok.serialize(compact=True)


def main():
    mode = sys.argv[1]
    token = sys.stdin.read().strip()
    h64, p64, s64 = token.split(".")
    header = json.loads(b64d(h64))
    claims = json.loads(b64d(p64))
    if mode == "payload":
        claims["sub"] = "system:serviceaccount:ops:mallory"
        out = ".".join([h64, b64e(compact(claims).encode()), s64])
    elif mode == "signature":
        sig = bytearray(b64d(s64))
        sig[len(sig) // 2] ^= 0x01
        out = ".".join([h64, p64, b64e(bytes(sig))])
    elif mode == "nosig":
        out = h64 + "." + p64 + "."
    elif mode == "alg-none":
        header["alg"] = "none"
        out = b64e(compact(header).encode()) + "." + p64 + "."
    elif mode == "foreign-key":
        if header["alg"].startswith("ES"):
            key = jwk.JWK.generate(kty="EC", crv="P-256")
        else:
            key = jwk.JWK.generate(kty="RSA", size=2048)
        out = sign(header, claims, key)
    elif mode == "hs256-pubkey":
        with open(sys.argv[2], "rb") as f:
            pem = f.read()
        key = jwk.JWK(kty="oct", k=b64e(pem))
        header["alg"] = "HS256"
        out = sign(header, claims, key)
    elif mode == "resign":
        with open(sys.argv[2], "rb") as f:
            key = jwk.JWK.from_pem(f.read())
        for k, v in json.loads(sys.argv[3]).items():
            if v is None:
                claims.pop(k, None)
            else:
                claims[k] = v
        out = sign(header, claims, key)
    else:
        sys.exit("unknown mode " + mode)
    print(out)


if __name__ == "__main__":
    main()
