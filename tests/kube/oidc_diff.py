#!/usr/bin/python3
"""The differential tier: the real kube-apiserver's --oidc-* authenticator
against `k8s-auth check` with the equivalent `jwt:` configuration.

  oidc_diff.py serve --dir D          an independent OIDC issuer (TLS,
                                      discovery, JWKS, distributed-claim
                                      endpoints); writes D/url, D/ca.crt
  oidc_diff.py flags --dir D --set S  the apiserver's --oidc-* flags for set S
  oidc_diff.py run --dir D --api S=URL... --admin-cert C --admin-key K --ca CA
                   [--seed N] [--k8s-auth BIN]
                                      generate the tokens (fixed seed), ask
                                      every apiserver (TokenReview) and
                                      k8s-auth check, print counts and every
                                      difference; exit 1 on a difference the
                                      allowlist (oidc_diff_allow.json, each
                                      entry tied to docs/design.md) does not
                                      name, or a class with too few cases.

Tokens are signed here with python3-cryptography, never with the code under
test.  The issuer is served without Cache-Control, so go-oidc treats its
keys as expired at once (it refetches whenever the cached keys fail).
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import random
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]

# name: (type, size)
KEYS = {
    "rsa1": ("rsa", 2048), "rsa2": ("rsa", 2048), "rsa3": ("rsa", 2048),
    "rsa1024": ("rsa", 1024), "ec256": ("ec", "P-256"), "ec256b": ("ec", "P-256"),
    "ec384": ("ec", "P-384"), "ec521": ("ec", "P-521"), "ed": ("ed", None),
    "rotA": ("rsa", 2048), "rotB": ("rsa", 2048), "rotC": ("rsa", 2048),
    "other": ("rsa", 2048),
}
CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
# The default key set: (key, kid or None, extra JWK members).
DEFAULT_JWKS = [
    ("rsa1", "rsa1", {}), ("rsa2", "rsa2", {}), ("rsa3", None, {}),
    ("rsa1024", "rsa1024", {}), ("ec256", "ec256", {}), ("ec256b", None, {}),
    ("ec384", "ec384", {}), ("ec521", "ec521", {}), ("ed", "ed", {}),
    ("rsa1", "dup", {}), ("rsa2", "dup", {}),
    ("rsa1", "rsaenc", {"use": "enc"}), ("rsa2", "rsaps", {"alg": "PS256"}),
    ("rotA", "rot", {}),
]
ALG_KEY = {"RS": ["rsa1", "rsa2"], "PS": ["rsa1", "rsa2"], "ES256": ["ec256"],
           "ES384": ["ec384"], "ES512": ["ec521"]}

# Flag sets: one apiserver each, one issuer path each.
SETS = {
    # username claim sub with the default "issuer#" prefix; plain groups
    "a": {"client": "aud-a", "ucl": "sub", "upfx": None, "gcl": "groups", "gpfx": None,
          "req": {}},
    # email (no default prefix), groups from "roles" with a prefix, one required claim
    "b": {"client": "aud-b", "ucl": "email", "upfx": None, "gcl": "roles", "gpfx": "oidc:",
          "req": {"tenant": "acme"}},
    # another claim, explicit prefixes, two required claims
    "c": {"client": "aud-c", "ucl": "name", "upfx": "u:", "gcl": "groups", "gpfx": "g:",
          "req": {"hd": "example.com", "tier": "gold"}},
}


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def int_b64(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return b64u(n.to_bytes(size, "big"))


# ------------------------------------------------------------------ keys

def load_keys(d):
    kd = os.path.join(d, "keys")
    os.makedirs(kd, exist_ok=True)
    keys = {}
    for name, (kind, size) in KEYS.items():
        p = os.path.join(kd, name + ".pem")
        if os.path.exists(p):
            with open(p, "rb") as f:
                keys[name] = serialization.load_pem_private_key(f.read(), None)
            continue
        if kind == "rsa":
            k = rsa.generate_private_key(65537, size)
        elif kind == "ec":
            k = ec.generate_private_key(CURVES[size]())
        else:
            k = ed25519.Ed25519PrivateKey.generate()
        with open(p, "wb") as f:
            f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
        keys[name] = k
    return keys


def public_jwk(k, kid=None, extra=None):
    pub = k.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        n = pub.public_numbers()
        j = {"kty": "RSA", "n": int_b64(n.n), "e": int_b64(n.e)}
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        n = pub.public_numbers()
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[pub.curve.name]
        size = (pub.curve.key_size + 7) // 8
        j = {"kty": "EC", "crv": crv, "x": int_b64(n.x, size), "y": int_b64(n.y, size)}
    else:
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        j = {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
    if kid is not None:
        j["kid"] = kid
    j.update(extra or {})
    return j


def jwks_doc(keys, entries):
    return {"keys": [public_jwk(keys[k], kid, extra) for k, kid, extra in entries]}


def sign(keys, alg, keyname, data, salt=None):
    if alg == "none":
        return b""
    if alg.startswith("HS"):
        secret = keys[keyname].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return hmac.new(secret, data, hashlib.sha256).digest()
    k = keys[keyname]
    if alg == "EdDSA":
        return k.sign(data)
    h = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}[alg[2:]]
    if alg.startswith("RS"):
        return k.sign(data, padding.PKCS1v15(), h())
    if alg.startswith("PS"):
        return k.sign(data, padding.PSS(mgf=padding.MGF1(h()),
                                        salt_length=h.digest_size if salt is None else salt), h())
    der = k.sign(data, ec.ECDSA(h()))
    if salt == "der":
        return der
    r, s = decode_dss_signature(der)
    # r||s as long as the alg says (go-jose's check), the key's length when
    # they do not fit (an ES256 token signed with a P-384 key)
    size = {"256": 32, "384": 48, "512": 66}[alg[2:]]
    if max(r, s).bit_length() > 8 * size:
        size = (k.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def enc_json(v):
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8", "surrogatepass")
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def make_token(keys, header, payload, key, alg=None, salt=None, mutate=None):
    """header/payload: dict (serialised compactly), str or bytes (raw JSON)."""
    h, p = b64u(enc_json(header)), b64u(enc_json(payload))
    if alg is None:
        alg = header.get("alg") if isinstance(header, dict) else "RS256"
        if not isinstance(alg, str) or alg not in ALGS + ["EdDSA", "none", "HS256"]:
            alg = "RS256"
    segs = [h, p, None]
    if mutate is not None:
        segs = mutate(segs)
    sig = sign(keys, alg, key, (segs[0] + "." + segs[1]).encode(), salt)
    if segs[2] is None:
        segs[2] = b64u(sig)
    elif callable(segs[2]):
        segs[2] = segs[2](sig)
    return ".".join(segs)


# ------------------------------------------------------------------ issuer

def make_tls(d):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "oidc-diff-ca")])
    ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "oidc-diff")]))
            .issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
    with open(os.path.join(d, "ca.crt"), "wb") as f:
        f.write(pem(ca))
    with open(os.path.join(d, "server.pem"), "wb") as f:
        f.write(pem(cert) + key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    # A certificate for x5c headers.
    with open(os.path.join(d, "x5c.der"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.DER))


class Handler(BaseHTTPRequestHandler):
    d = None
    base = None
    lock = threading.Lock()

    def log_message(self, fmt, *args):
        with open(os.path.join(self.d, "access.log"), "a") as f:
            f.write("%s %s\n" % (self.path, fmt % args))

    def reply(self, code, body, ctype="application/json"):
        b = body if isinstance(body, bytes) else body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        d, parts = self.d, self.path.strip("/").split("/")
        if os.path.exists(os.path.join(d, "down")):
            return self.reply(503, "{}")
        if len(parts) == 3 and parts[1:] == [".well-known", "openid-configuration"]:
            iss = self.base + "/" + parts[0]
            return self.reply(200, json.dumps({
                "issuer": iss, "jwks_uri": iss + "/jwks", "authorization_endpoint": iss + "/auth",
                "token_endpoint": iss + "/token", "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ALGS}))
        if len(parts) == 2 and parts[1] == "jwks":
            with self.lock:
                hits = os.path.join(d, "hits-" + parts[0])
                n = int(open(hits).read()) if os.path.exists(hits) else 0
                with open(hits, "w") as f:
                    f.write(str(n + 1))
            for p in (os.path.join(d, "jwks-" + parts[0] + ".json"), os.path.join(d, "jwks.json")):
                if os.path.exists(p):
                    with open(p, "rb") as f:
                        return self.reply(200, f.read())
            return self.reply(404, "{}")
        if len(parts) == 2 and parts[0] == "claims":
            p = os.path.join(d, "claims", os.path.basename(parts[1]))
            if not os.path.exists(p + ".jwt"):
                return self.reply(404, "not found", "text/plain")
            if os.path.exists(p + ".tok"):
                with open(p + ".tok") as f:
                    if self.headers.get("Authorization") != "Bearer " + f.read().strip():
                        return self.reply(401, "unauthorized", "text/plain")
            with open(p + ".jwt", "rb") as f:
                return self.reply(200, f.read(), "application/jwt")
        return self.reply(404, "{}")


def cmd_serve(a):
    d = a.dir
    os.makedirs(os.path.join(d, "claims"), exist_ok=True)
    keys = load_keys(d)
    make_tls(d)
    with open(os.path.join(d, "jwks.json"), "w") as f:
        json.dump(jwks_doc(keys, DEFAULT_JWKS), f)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.pem"))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    Handler.d = d
    Handler.base = "https://127.0.0.1:%d" % srv.server_address[1]
    with open(os.path.join(d, "url.tmp"), "w") as f:
        f.write(Handler.base)
    os.rename(os.path.join(d, "url.tmp"), os.path.join(d, "url"))
    srv.serve_forever()


def issuer(d, s):
    with open(os.path.join(d, "url")) as f:
        return f.read().strip() + "/" + s


def cmd_flags(a):
    s, iss = SETS[a.set], issuer(a.dir, a.set)
    out = ["--oidc-issuer-url=" + iss, "--oidc-client-id=" + s["client"],
           "--oidc-ca-file=" + os.path.join(a.dir, "ca.crt"),
           "--oidc-username-claim=" + s["ucl"], "--oidc-groups-claim=" + s["gcl"],
           "--oidc-signing-algs=" + ",".join(ALGS)]
    if s["upfx"] is not None:
        out.append("--oidc-username-prefix=" + s["upfx"])
    if s["gpfx"] is not None:
        out.append("--oidc-groups-prefix=" + s["gpfx"])
    for k, v in s["req"].items():
        out.append("--oidc-required-claim=%s=%s" % (k, v))
    print("\n".join(out))


def our_config(d, st, work):
    """The `jwt:` configuration equivalent to the apiserver's flags."""
    s, iss = SETS[st], issuer(d, st)
    # apiserver 1.20 defaults: username prefix "issuer#" unless the claim is email.
    upfx = s["upfx"] if s["upfx"] is not None else ("" if s["ucl"] == "email" else iss + "#")
    gpfx = s["gpfx"] or ""
    with open(os.path.join(d, "ca.crt")) as f:
        ca = "".join("      " + line for line in f)
    rules = "".join("  - claim: %s\n    requiredValue: %s\n" % (json.dumps(k), json.dumps(v))
                    for k, v in s["req"].items())
    for sub in ("store", "cache", "run"):
        os.makedirs(os.path.join(work, sub), exist_ok=True)
    os.chmod(os.path.join(work, "store"), 0o755)
    os.chmod(os.path.join(work, "cache"), 0o700)
    os.chmod(os.path.join(work, "run"), 0o700)
    cfg = os.path.join(work, "config.yaml")
    with open(cfg, "w") as f:
        f.write("jwt:\n- issuer:\n    url: %s\n    audiences: [%s]\n    certificateAuthority: |\n%s"
                % (json.dumps(iss), json.dumps(s["client"]), ca))
        if rules:
            f.write("  claimValidationRules:\n" + rules)
        f.write("  claimMappings:\n    username: {claim: %s, prefix: %s}\n"
                "    groups: {claim: %s, prefix: %s}\n"
                % (json.dumps(s["ucl"]), json.dumps(upfx), json.dumps(s["gcl"]), json.dumps(gpfx)))
        # Authentication only: no policy beyond the apiserver's, every
        # identity maps to one local account.
        f.write("policy:\n  maxTokenLifetime: 0s\n  denyUsernames: []\n"
                "accounts:\n  users:\n  - match: '.*'\n    local: diffuser\n"
                "  declared: [diffuser]\n")
        f.write("store: %s/store\ncacheDir: %s/cache\nrunDir: %s/run\n" % (work, work, work))
    return cfg


# ------------------------------------------------------------------ tokens

class Gen:
    def __init__(self, d, keys, rng, now):
        self.d, self.keys, self.rng, self.now = d, keys, rng, now
        with open(os.path.join(d, "x5c.der"), "rb") as f:
            self.x5c = base64.b64encode(f.read()).decode()

    def claims(self, st, **over):
        s = SETS[st]
        c = {"iss": issuer(self.d, st), "sub": "user-%d" % self.rng.randrange(1000),
             "aud": s["client"], "exp": self.now + 3600 + self.rng.randrange(600),
             "iat": self.now - self.rng.randrange(1, 300), "email": "alice@example.com",
             "email_verified": True, "name": "alice", "groups": ["team-a", "team-b"],
             "roles": ["admin", "dev"], "tenant": "acme", "hd": "example.com", "tier": "gold"}
        for k, v in over.items():
            if v is DROP:
                c.pop(k, None)
            else:
                c[k] = v
        return c

    def pick_alg(self):
        alg = self.rng.choice(ALGS)
        key = self.rng.choice(ALG_KEY.get(alg, ALG_KEY.get(alg[:2])))
        return alg, key

    def tok(self, st, payload=None, header=None, key=None, alg=None, **kw):
        a, k = self.pick_alg()
        if header is None:
            header = {"alg": a, "kid": k, "typ": "JWT"}
            alg, key = a, k
        if payload is None:
            payload = self.claims(st)
        return make_token(self.keys, header, payload, key or k, alg=alg, **kw)


DROP = object()


def cases(g, st):
    """(class, kind, token) for flag set st."""
    s, iss, now = SETS[st], issuer(g.d, st), g.now
    ucl, gcl = s["ucl"], s["gcl"]
    out = []

    def add(cls, kind, token):
        out.append((cls, kind, token))

    def H(alg="RS256", kid="rsa1", **extra):
        h = {"alg": alg}
        if kid is not DROP:
            h["kid"] = kid
        h.update(extra)
        return h

    # --- alg: every algorithm, and what must not pass
    for alg in ALGS:
        for key in ALG_KEY.get(alg, ALG_KEY.get(alg[:2])):
            add("alg", "valid", g.tok(st, header=H(alg, key, typ="JWT"), key=key, alg=alg))
    add("alg", "eddsa", g.tok(st, header=H("EdDSA", "ed"), key="ed", alg="EdDSA"))
    add("alg", "eddsa-nokid", g.tok(st, header=H("EdDSA", DROP), key="ed", alg="EdDSA"))
    add("alg", "none", g.tok(st, header=H("none", DROP), key="rsa1", alg="none"))
    add("alg", "hs256", g.tok(st, header=H("HS256", "rsa1"), key="rsa1", alg="HS256"))
    add("alg", "header-rs-signed-ps", g.tok(st, header=H("RS256", "rsa1"), key="rsa1", alg="PS256"))
    add("alg", "header-es-kid-rsa", g.tok(st, header=H("ES256", "rsa1"), key="ec256", alg="ES256"))
    add("alg", "lowercase", g.tok(st, header=H("rs256", "rsa1"), key="rsa1", alg="RS256"))
    add("alg", "missing", g.tok(st, header={"kid": "rsa1"}, key="rsa1", alg="RS256"))
    add("alg", "number", g.tok(st, header={"alg": 5, "kid": "rsa1"}, key="rsa1", alg="RS256"))
    add("alg", "es256-der-signature", g.tok(st, header=H("ES256", "ec256"), key="ec256",
                                            alg="ES256", salt="der"))
    for salt in (0, 20, 64):
        add("alg", "pss-salt-%d" % salt, g.tok(st, header=H("PS256", "rsa1"), key="rsa1",
                                               alg="PS256", salt=salt))
    add("alg", "rsa-1024-key", g.tok(st, header=H("RS256", "rsa1024"), key="rsa1024", alg="RS256"))
    add("alg", "es256-on-p384-key", g.tok(st, header=H("ES256", "ec384"), key="ec384", alg="ES256"))
    # go-jose checks no curve: the alg's hash and r||s length with a smaller curve's key
    add("alg", "es384-on-p256-key", g.tok(st, header=H("ES384", "ec256"), key="ec256", alg="ES384"))
    add("alg", "es512-on-p384-key", g.tok(st, header=H("ES512", "ec384"), key="ec384", alg="ES512"))

    # --- kid
    for alg in ("RS256", "PS384", "ES256"):
        key = "ec256" if alg == "ES256" else "rsa2"
        add("kid", "null", g.tok(st, header=H(alg, None), key=key, alg=alg))
        add("kid", "empty", g.tok(st, header=H(alg, ""), key=key, alg=alg))
        add("kid", "missing-several-keys-fit", g.tok(st, header=H(alg, DROP), key=key, alg=alg))
    add("kid", "missing-kidless-key", g.tok(st, header=H("RS256", DROP), key="rsa3", alg="RS256"))
    add("kid", "missing-kidless-ec", g.tok(st, header=H("ES256", DROP), key="ec256b", alg="ES256"))
    add("kid", "unknown", g.tok(st, header=H("RS256", "nope"), key="rsa1", alg="RS256"))
    add("kid", "unicode-unknown", g.tok(st, header=H("RS256", "ключ"), key="rsa1", alg="RS256"))
    add("kid", "number", g.tok(st, header=H("RS256", 5), key="rsa1", alg="RS256"))
    add("kid", "array", g.tok(st, header=H("RS256", ["rsa1"]), key="rsa1", alg="RS256"))
    add("kid", "wrong-key", g.tok(st, header=H("RS256", "rsa2"), key="rsa1", alg="RS256"))
    add("kid", "duplicate-kid-first", g.tok(st, header=H("RS256", "dup"), key="rsa1", alg="RS256"))
    add("kid", "duplicate-kid-second", g.tok(st, header=H("RS256", "dup"), key="rsa2", alg="RS256"))
    add("kid", "jwk-use-enc", g.tok(st, header=H("RS256", "rsaenc"), key="rsa1", alg="RS256"))
    add("kid", "jwk-alg-pinned-other", g.tok(st, header=H("RS256", "rsaps"), key="rsa2", alg="RS256"))
    add("kid", "jwk-alg-pinned-same", g.tok(st, header=H("PS256", "rsaps"), key="rsa2", alg="PS256"))
    add("kid", "foreign-key", g.tok(st, header=H("RS256", "rsa1"), key="other", alg="RS256"))
    add("kid", "kidless-foreign-key", g.tok(st, header=H("RS256", DROP), key="other", alg="RS256"))

    # --- header members
    for typ in ("JWT", "jwt", "application/jwt", "at+jwt", "JOSE", 5, None):
        add("header", "typ-%s" % json.dumps(typ), g.tok(st, header=H(typ=typ), key="rsa1"))
    for crit in (["exp"], [], "x"):
        add("header", "crit-%s" % json.dumps(crit), g.tok(st, header=H(crit=crit), key="rsa1"))
    for nonce in ("abc", 5, None, {}, True):
        add("header", "nonce-%s" % json.dumps(nonce), g.tok(st, header=H(nonce=nonce), key="rsa1"))
    pubjwk = public_jwk(g.keys["rsa1"])
    privjwk = dict(pubjwk, d="AQAB")
    for name, jwk in (("public", pubjwk), ("other-public", public_jwk(g.keys["ec256"])),
                      ("empty-object", {}), ("string", "x"), ("null", None),
                      ("with-private-member", privjwk), ("bad-kty", {"kty": "XYZ"}),
                      ("rsa-bad-n", {"kty": "RSA", "n": "!!", "e": "AQAB"}),
                      ("rsa-1024", public_jwk(g.keys["rsa1024"])),
                      ("use-enc", dict(pubjwk, use="enc")), ("alg-hs256", dict(pubjwk, alg="HS256")),
                      ("ed25519", public_jwk(g.keys["ed"])), ("oct", {"kty": "oct", "k": "AAAA"})):
        add("header", "jwk-" + name, g.tok(st, header=H(jwk=jwk), key="rsa1"))
    for name, x5c in (("cert", [g.x5c]), ("not-base64", ["!!!"]), ("string", g.x5c), ("empty", []),
                      ("null", None), ("base64-not-cert", [base64.b64encode(b"hello").decode()]),
                      ("number", [5]),
                      ("trailing-byte", [base64.b64encode(base64.b64decode(g.x5c) + b"\0").decode()]),
                      ("space", [g.x5c[:64] + " " + g.x5c[64:]]), ("crlf", [g.x5c[:64] + "\r\n" + g.x5c[64:]])):
        add("header", "x5c-" + name, g.tok(st, header=H(x5c=x5c), key="rsa1"))
    for name, extra in (("x5u", {"x5u": "https://127.0.0.1:1/x"}), ("x5t", {"x5t": 5}),
                        ("cty", {"cty": "JWT"}), ("zip", {"zip": "DEF"}), ("enc", {"enc": "A128GCM"}),
                        ("b64-false", {"b64": False}), ("extra-nested", {"foo": [1, {"a": None}]}),
                        ("epk-string", {"epk": "x"}), ("iv-number", {"iv": 5}),
                        ("jku", {"jku": "https://127.0.0.1:1/jwks"}), ("kid-and-KID", {"KID": "x"})):
        add("header", name, g.tok(st, header=H(**extra), key="rsa1"))
    add("header", "duplicate-alg", g.tok(st, header='{"alg":"none","alg":"RS256","kid":"rsa1"}',
                                         key="rsa1", alg="RS256"))
    add("header", "duplicate-kid", g.tok(st, header='{"alg":"RS256","kid":"nope","kid":"rsa1"}',
                                         key="rsa1", alg="RS256"))
    add("header", "array", g.tok(st, header='["RS256"]', key="rsa1", alg="RS256"))
    add("header", "whitespace", g.tok(st, header='\n { "alg" : "RS256" ,\t"kid":"rsa1" } \n',
                                      key="rsa1", alg="RS256"))
    add("header", "escaped-alg", g.tok(st, header='{"alg":"\\u0052S256","kid":"rsa1"}', key="rsa1",
                                       alg="RS256"))

    # --- times
    def T(kind, **over):
        add("times", kind, g.tok(st, payload=g.claims(st, **over)))
    T("exp-past", exp=now - 3600)
    T("exp-missing", exp=DROP)
    T("exp-null", exp=None)
    T("exp-quoted", exp=str(now + 3600))
    T("exp-quoted-real", exp="%.1f" % (now + 3600.5))
    T("exp-quoted-junk", exp="soon")
    T("exp-quoted-space", exp=" %d" % (now + 3600))
    T("exp-real", exp=now + 3600.5)
    T("exp-exponent", exp=1.9e9)
    T("exp-bool", exp=True)
    T("exp-negative", exp=-5)
    T("exp-2^63", exp=2 ** 63)
    T("exp-2^64", exp=2 ** 64)
    add("times", "exp-1e400", g.tok(st, payload=enc_json(g.claims(st, exp=0)).replace(
        b'"exp":0', b'"exp":1e400')))
    T("nbf-null", nbf=None)
    T("nbf-past", nbf=now - 100)
    T("nbf-future-20s", nbf=now + 20)
    T("nbf-future-600s", nbf=now + 600)
    T("nbf-quoted", nbf=str(now - 100))
    T("nbf-quoted-future", nbf=str(now + 600))
    T("nbf-junk", nbf="x")
    T("iat-null", iat=None)
    T("iat-missing", iat=DROP)
    T("iat-quoted", iat=str(now - 10))
    T("iat-junk", iat="x")
    T("iat-bool", iat=False)
    T("iat-future-600s", iat=now + 600)
    T("iat-2^64", iat=2 ** 64)

    # --- audience
    def A(kind, aud):
        add("aud", kind, g.tok(st, payload=g.claims(st, aud=aud)))
    A("string", s["client"])
    A("array", [s["client"]])
    A("array-others", ["x", s["client"], "y"])
    A("missing", DROP)
    A("wrong", "other")
    A("empty-array", [])
    A("array-with-number", [5, s["client"]])
    A("number", 5)
    A("null", None)
    A("object", {"a": s["client"]})
    A("case", s["client"].upper())
    A("array-duplicate", [s["client"], s["client"]])

    # --- issuer spelling
    def I(kind, **over):
        add("iss", kind, g.tok(st, payload=g.claims(st, **over)))
    I("trailing-slash", iss=iss + "/")
    I("upper-scheme", iss=iss.replace("https", "HTTPS"))
    I("http", iss=iss.replace("https", "http"))
    I("other-path", iss=iss + "x")
    I("number", iss=5)
    I("null", iss=None)
    pl = enc_json(g.claims(st))
    add("iss", "escaped-h", g.tok(st, payload=pl.replace(b'"iss":"h', b'"iss":"\\u0068')))
    add("iss", "duplicate-other-first", g.tok(st, payload=pl.replace(
        b'{"iss"', b'{"iss":"https://evil.example","iss"')))
    add("iss", "duplicate-other-last", g.tok(st, payload=pl.replace(
        b'{"iss":', b'{"iss":"https://evil.example","x":').replace(
        b'"tier":"gold"}', b'"tier":"gold","iss":' + json.dumps(iss).encode() + b'}')))
    add("iss", "upper-case-name", g.tok(st, payload=pl.replace(b'"iss"', b'"ISS"')))
    add("iss", "exp-upper-case-name", g.tok(st, payload=pl.replace(b'"exp"', b'"EXP"')))
    add("iss", "exp-and-past-Exp", g.tok(st, payload=pl.replace(
        b'"tier":"gold"}', b'"tier":"gold","Exp":%d}' % (now - 3600))))
    add("iss", "sub-upper-case-name", g.tok(st, payload=pl.replace(b'"sub"', b'"SUB"')))

    # --- username claim
    def U(kind, v, **over):
        add("username", kind, g.tok(st, payload=g.claims(st, **{ucl: v}, **over)))
    U("unicode", "ålice-ü-😀")
    U("missing", DROP)
    U("null", None)
    U("number", 5)
    U("empty", "")
    U("long", "u" * 2000)
    U("nul-inside", "ali\u0000ce")
    U("array", ["alice"])
    U("colon-slash", "a:b/c#d")
    U("email-verified-false", "bob@example.com", email_verified=False)
    U("email-verified-string", "bob@example.com", email_verified="true")
    U("email-verified-null", "bob@example.com", email_verified=None)
    U("email-verified-missing", "bob@example.com", email_verified=DROP)
    U("email-verified-number", "bob@example.com", email_verified=1)
    pl = enc_json(g.claims(st, **{ucl: "alice-XX"}))
    add("username", "invalid-utf8", g.tok(st, payload=pl.replace(b"alice-XX", b"alice-\xff")))
    add("username", "lone-surrogate", g.tok(st, payload=pl.replace(b"alice-XX", b"alice-\\ud800")))
    add("username", "escaped-surrogate-pair", g.tok(st, payload=pl.replace(
        b"alice-XX", b"alice-\\ud83d\\ude00")))
    add("username", "sub-null-other-claim", g.tok(st, payload=g.claims(st, sub=None)))
    add("username", "sub-number-other-claim", g.tok(st, payload=g.claims(st, sub=5)))

    # --- groups claim
    def G(kind, v):
        add("groups", kind, g.tok(st, payload=g.claims(st, **{gcl: v})))
    G("missing", DROP)
    G("null", None)
    G("string", "solo")
    G("empty-string", "")
    G("array", ["x", "y"])
    G("empty-array", [])
    G("array-with-empty", ["", "x", ""])
    G("array-with-number", ["x", 5])
    G("array-with-null", ["x", None])
    G("nested-array", [["x"]])
    G("object", {"x": "y"})
    G("number", 7)
    G("duplicates", ["x", "x"])
    G("unicode", ["gruppe-ä", "群"])
    G("system-authenticated", ["system:authenticated", "x"])
    G("many", ["g%04d" % i for i in range(g.rng.randrange(150, 250))])
    G("nul-inside", ["a\u0000b"])

    # --- required claims (sets b and c have some)
    for k in list(s["req"]) or ["tenant"]:
        def R(kind, v):
            add("required", kind + "-" + k, g.tok(st, payload=g.claims(st, **{k: v})))
        R("missing", DROP)
        R("wrong", "other")
        R("number", 5)
        R("null", None)
        R("array", [s["req"].get(k, "x")])
        R("case", s["req"].get(k, "x").upper())

    # --- other claims: types that go-oidc decodes, big numbers, nesting
    def O(kind, **over):
        add("claims", kind, g.tok(st, payload=g.claims(st, **over)))
    O("nonce-string", nonce="n")
    O("nonce-number", nonce=5)
    O("nonce-null", nonce=None)
    O("nonce-object", nonce={})
    O("at_hash-string", at_hash="abc")
    O("at_hash-number", at_hash=1)
    O("at_hash-null", at_hash=None)
    O("unrelated-2^64", uid_num=2 ** 64)
    O("unrelated-big-int", big=10 ** 40)
    O("unrelated-big-neg-int", big=-(10 ** 40))
    O("unrelated-nested-big", x={"y": [1, 2 ** 70, {"z": -(2 ** 65)}]})
    O("unrelated-object", x={"a": {"b": {"c": [True, False, None]}}})
    O("unrelated-unicode", x="日本語 ✓ \u2028")
    pl = enc_json(g.claims(st, n1=0, n2=0, n3=0))
    for depth in (100, 2100):
        add("claims", "unrelated-nesting-%d" % depth, g.tok(st, payload=pl.replace(
            b'"n1":0', b'"n1":' + b"[" * depth + b"1" + b"]" * depth)))
    add("claims", "unrelated-1e400", g.tok(st, payload=pl.replace(b'"n1":0', b'"n1":1e400')))
    add("claims", "unrelated-neg-1e400", g.tok(st, payload=pl.replace(b'"n1":0', b'"n1":-1e400')))
    add("claims", "unrelated-1e-400", g.tok(st, payload=pl.replace(b'"n1":0', b'"n1":1e-400')))
    add("claims", "unrelated-400-digits", g.tok(st, payload=pl.replace(b'"n1":0', b'"n1":' + b"9" * 400)))
    add("claims", "unrelated-big-in-array", g.tok(st, payload=pl.replace(
        b'"n2":0', b'"n2":[1e999,-1e999,' + b"1" * 30 + b']')))
    add("claims", "unrelated-big-in-string", g.tok(st, payload=pl.replace(
        b'"n3":0', b'"n3":"1e400 and 18446744073709551616"')))
    add("claims", "username-1e400", g.tok(st, payload=enc_json(g.claims(st, **{ucl: 0})).replace(
        b'"%s":0' % ucl.encode(), b'"%s":1e400' % ucl.encode())))
    add("claims", "groups-2^64", g.tok(st, payload=g.claims(st, **{gcl: [2 ** 64]})))
    add("claims", "aud-1e400", g.tok(st, payload=enc_json(g.claims(st, aud=0)).replace(
        b'"aud":0', b'"aud":1e400')))
    add("claims", "nbf-1e400", g.tok(st, payload=enc_json(g.claims(st, nbf=0)).replace(
        b'"nbf":0', b'"nbf":1e400')))
    add("claims", "iat-1e400", g.tok(st, payload=enc_json(g.claims(st, iat=0)).replace(
        b'"iat":0', b'"iat":1e400')))
    add("claims", "email_verified-1e400", g.tok(st, payload=enc_json(
        g.claims(st, email_verified=0)).replace(b'"email_verified":0', b'"email_verified":1e400')))
    add("claims", "many-claims", g.tok(st, payload=g.claims(
        st, **{"c%03d" % i: i for i in range(g.rng.randrange(100, 300))})))

    # --- encodings
    def E(kind, mutate):
        add("encoding", kind, g.tok(st, header=H(), key="rsa1", alg="RS256", mutate=mutate))
    E("plain", None)
    E("padded-header", lambda sg: [pad(sg[0]), sg[1], None])
    E("padded-payload", lambda sg: [sg[0], pad(sg[1]), None])
    E("padded-signature", lambda sg: [sg[0], sg[1], lambda sig: pad(b64u(sig))])
    E("std-alphabet-signature", lambda sg: [sg[0], sg[1],
                                            lambda sig: base64.b64encode(sig).decode().rstrip("=")])
    E("signature-trailing-bits", lambda sg: [sg[0], sg[1], lambda sig: trailing_bits(b64u(sig))])
    E("payload-trailing-bits", lambda sg: [sg[0], trailing_bits(sg[1]), None])
    E("empty-signature", lambda sg: [sg[0], sg[1], lambda sig: ""])
    E("four-segments", lambda sg: [sg[0], sg[1], lambda sig: b64u(sig) + ".x"])
    add("encoding", "payload-leading-bom", g.tok(st, header=H(), key="rsa1", alg="RS256",
                                                 payload=b"\xef\xbb\xbf" + enc_json(g.claims(st))))
    add("encoding", "payload-whitespace", g.tok(st, header=H(), key="rsa1", alg="RS256",
                                                payload=b"\n " + enc_json(g.claims(st)) + b"\t\n"))
    add("encoding", "payload-trailing-garbage", g.tok(st, header=H(), key="rsa1", alg="RS256",
                                                      payload=enc_json(g.claims(st)) + b"x"))
    add("encoding", "payload-array", g.tok(st, header=H(), key="rsa1", alg="RS256", payload=b"[1]"))
    add("encoding", "payload-null", g.tok(st, header=H(), key="rsa1", alg="RS256", payload=b"null"))

    # --- sizes
    for target in (4000, 12000, 16000, 16500, 24000):
        c = g.claims(st, pad="")
        base_len = len(g.tok(st, header=H(), key="rsa1", alg="RS256", payload=c))
        c["pad"] = "p" * max(0, (target - base_len) * 3 // 4)
        add("size", "about-%d" % target, g.tok(st, header=H(), key="rsa1", alg="RS256", payload=c))

    # --- distributed claims (_claim_names / _claim_sources)
    ep = issuer(g.d, "claims").rsplit("/", 1)[0] + "/claims/" + st
    src = {"src1": {"endpoint": ep, "access_token": "sekrit"}}

    def D(kind, **over):
        add("distributed", kind, g.tok(st, payload=g.claims(st, **over)))
    D("resolved", **{gcl: DROP, "_claim_names": {gcl: "src1"}, "_claim_sources": src})
    D("groups-present", **{"_claim_names": {gcl: "src1"}, "_claim_sources": src})
    D("no-sources", **{gcl: DROP, "_claim_names": {gcl: "src1"}})
    D("names-array", **{gcl: DROP, "_claim_names": [gcl], "_claim_sources": src})
    D("names-value-number", **{gcl: DROP, "_claim_names": {gcl: 5}, "_claim_sources": src})
    D("names-other-claim", **{gcl: DROP, "_claim_names": {"zz": "src1"}, "_claim_sources": src})
    D("source-missing", **{gcl: DROP, "_claim_names": {gcl: "src9"}, "_claim_sources": src})
    D("sources-array", **{gcl: DROP, "_claim_names": {gcl: "src1"}, "_claim_sources": [1]})
    D("aggregated-jwt", **{gcl: DROP, "_claim_names": {gcl: "src1"},
                           "_claim_sources": {"src1": {"JWT": "a.b.c"}}})
    D("endpoint-404", **{gcl: DROP, "_claim_names": {gcl: "src1"},
                         "_claim_sources": {"src1": {"endpoint": ep + "-missing"}}})
    D("endpoint-bad-token", **{gcl: DROP, "_claim_names": {gcl: "src1"},
                               "_claim_sources": {"src1": {"endpoint": ep, "access_token": "bad"}}})
    D("names-null", **{gcl: DROP, "_claim_names": None, "_claim_sources": src})
    for v in ("expired", "no-claim", "other-aud", "foreign-key", "string"):
        D("endpoint-" + v, **{gcl: DROP, "_claim_names": {gcl: "src1"}, "_claim_sources": {
            "src1": {"endpoint": ep + "-" + v, "access_token": "sekrit"}}})
    D("no-access-token", **{gcl: DROP, "_claim_names": {gcl: "src1"},
                            "_claim_sources": {"src1": {"endpoint": ep}}})
    return out


def pad(seg):
    return seg + "=" * (-len(seg) % 4)


def trailing_bits(seg):
    """The same bytes with non-zero unused trailing bits (when there are any)."""
    a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    if len(seg) % 4 == 0:
        return seg
    i = a.index(seg[-1])
    return seg[:-1] + a[i | 1]


# ------------------------------------------------------------------ run

def tokenreview(api, ctx, token):
    body = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                       "spec": {"token": token}}).encode()
    req = urllib.request.Request(api + "/apis/authentication.k8s.io/v1/tokenreviews", data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        st = json.load(r).get("status", {})
    u = st.get("user", {})
    return {"ok": bool(st.get("authenticated")), "username": u.get("username"),
            "groups": u.get("groups") or [], "why": st.get("error", "")}


def ours(binary, cfg, token):
    # Framed (docs/pam.md), as a client sends it: an unframed answer of a
    # length clients cut at is refused whatever it holds.
    framed = "k8s1:%d:%s:%s" % (len(token.encode()), hashlib.sha256(token.encode()).hexdigest()[:16],
                                token)
    p = subprocess.run([binary, "check", "--config", cfg], input=framed.encode(),
                       capture_output=True, timeout=60)
    if b"Sanitizer" in p.stderr or b"runtime error:" in p.stderr:
        # an ASan/UBSan build (K8S_AUTH_BIN=build-asan/k8s-auth) reporting
        return {"ok": False, "username": None, "groups": [], "rc": p.returncode,
                "why": "SANITIZER: " + p.stderr.decode(errors="replace")[:2000], "sanitizer": True}
    try:
        o = json.loads(p.stdout)
    except ValueError:
        return {"ok": False, "username": None, "groups": [], "why": "rc %d, no JSON: %s" % (
            p.returncode, p.stderr.decode(errors="replace")[:200]), "rc": p.returncode}
    return {"ok": p.returncode == 0 and o.get("authenticated") is True,
            "username": o.get("username"), "groups": o.get("groups") or [],
            "why": "%s: %s" % (o.get("reason", ""), o.get("detail", "")), "rc": p.returncode}


def agree(api, us):
    if not api["ok"] and not us["ok"]:
        return True
    if api["ok"] != us["ok"]:
        return False
    # k8s-auth adds system:authenticated as the apiserver's group adder
    # does: the groups must be equal as they are, in order.
    return api["username"] == us["username"] and api["groups"] == us["groups"]


# Minimum cases per class and flag set: a generator change that silently
# drops cases fails the tier.
MIN_CASES = {"alg": 30, "kid": 20, "header": 50, "times": 25, "aud": 12, "iss": 12,
             "username": 18, "groups": 17, "required": 6, "claims": 25, "encoding": 14,
             "size": 5, "distributed": 18}


def load_allowlist():
    with open(os.path.join(HERE, "oidc_diff_allow.json")) as f:
        allow = json.load(f)
    with open(os.path.join(REPO, "docs", "design.md")) as f:
        design = f.read()
    bad = [k for k, v in allow["differences"].items() if v["design"] not in design]
    return allow["differences"], bad


def wait_ready(a, apis, ctx, g, keys):
    """Until every apiserver's OIDC authenticator has initialised (it fetches
    discovery asynchronously) and answers a plain valid token."""
    deadline = time.time() + a.ready_timeout
    pending = dict(apis)
    while pending and time.time() < deadline:
        for st, api in list(pending.items()):
            tok = make_token(keys, {"alg": "RS256", "kid": "rsa1"}, g.claims(st), "rsa1")
            try:
                if tokenreview(api, ctx, tok)["ok"]:
                    del pending[st]
            except OSError:
                pass
        if pending:
            time.sleep(0.5)
    return pending


def write_claim_endpoints(d, keys, g):
    """/claims/<set>[-variant]: the JWT a distributed-claims endpoint answers."""
    for st in SETS:
        s = SETS[st]
        c = {"iss": issuer(d, st), "sub": "claims", "aud": s["client"], "exp": g.now + 7200,
             "iat": g.now - 5, s["gcl"]: ["dist-1", "dist-2"]}
        variants = {"": (c, "rsa1"), "-expired": (dict(c, exp=g.now - 60), "rsa1"),
                    "-no-claim": ({k: v for k, v in c.items() if k != s["gcl"]}, "rsa1"),
                    "-other-aud": (dict(c, aud="someone-else"), "rsa1"),
                    "-foreign-key": (c, "other"), "-string": (dict(c, **{s["gcl"]: "solo"}), "rsa1")}
        for v, (claims, key) in variants.items():
            with open(os.path.join(d, "claims", st + v + ".jwt"), "w") as f:
                f.write(make_token(keys, {"alg": "RS256", "kid": "rsa1"}, claims, key))
            with open(os.path.join(d, "claims", st + v + ".tok"), "w") as f:
                f.write("sekrit")


def rotation(a, apis, ctx, keys, g, cfgs):
    """Keys rotated at the issuer: in place (same kid), kid-less, and with
    the issuer down during the rotation.  go-oidc refetches when the cached
    keys fail (keys served without Cache-Control expire at once)."""
    st = "a"
    if st not in apis:
        return []
    d, res = a.dir, []
    path = os.path.join(d, "jwks-" + st + ".json")

    def publish(entries):
        with open(path + ".tmp", "w") as f:
            json.dump(jwks_doc(keys, entries), f)
        os.rename(path + ".tmp", path)

    def step(kind, header, key, wait=True):
        if wait:
            # our refetch is rate-limited per issuer (K8S_JWKS_REFRESH_MIN_S)
            time.sleep(a.refresh_wait)
        tok = make_token(keys, header, g.claims(st), key)
        res.append(("rotation", kind, st, tokenreview(apis[st], ctx, tok), ours(a.k8s_auth, cfgs[st], tok)))

    base = [e for e in DEFAULT_JWKS if e[1] != "rot"]
    publish(base + [("rotA", "rot", {})])
    step("before-rotation", {"alg": "RS256", "kid": "rot"}, "rotA", wait=False)
    publish(base + [("rotB", "rot", {})])
    step("in-place-same-kid", {"alg": "RS256", "kid": "rot"}, "rotB")
    step("old-key-after-rotation", {"alg": "RS256", "kid": "rot"}, "rotA")
    publish([e for e in base if e[1] is not None and e[0] != "rsa3"] + [("rotC", None, {})])
    step("kidless-new-key", {"alg": "RS256"}, "rotC")
    open(os.path.join(d, "down"), "w").close()
    publish([e for e in base if e[1] is not None and e[0] != "rsa3"] + [("rotA", None, {})])
    step("issuer-down-during-rotation", {"alg": "RS256"}, "rotA")
    os.unlink(os.path.join(d, "down"))
    step("issuer-back", {"alg": "RS256"}, "rotA")
    os.unlink(path)
    return res


def cmd_run(a):
    t0 = time.time()
    d = a.dir
    keys = load_keys(d)
    rng = random.Random(a.seed)
    g = Gen(d, keys, rng, int(time.time()))
    apis = dict(x.split("=", 1) for x in a.api)
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.load_cert_chain(a.admin_cert, a.admin_key)
    allow, stale = load_allowlist()
    if stale:
        print("FAIL allowlist entries not in docs/design.md: %s" % ", ".join(stale))
        return 1
    write_claim_endpoints(d, keys, g)
    pending = wait_ready(a, apis, ctx, g, keys)
    if pending:
        print("FAIL apiserver OIDC authenticator not ready: %s" % ", ".join(pending))
        return 1
    # The apiserver builds its distributed-claims verifier on first use,
    # asynchronously: warm it up so the comparison sees the steady state.
    for st in apis:
        c = g.claims(st, **{SETS[st]["gcl"]: DROP, "_claim_names": {SETS[st]["gcl"]: "src1"},
                            "_claim_sources": {"src1": {"endpoint": issuer(d, "claims").rsplit(
                                "/", 1)[0] + "/claims/" + st, "access_token": "sekrit"}}})
        tokenreview(apis[st], ctx, make_token(keys, {"alg": "RS256", "kid": "rsa1"}, c, "rsa1"))
    cfgs = {st: our_config(d, st, os.path.join(d, "ours-" + st)) for st in apis}
    work = []
    for st in sorted(apis):
        for cls, kind, tok in cases(g, st):
            work.append((cls, kind, st, tok))
    t_gen = time.time()
    time.sleep(1.5)  # the warm-up's verifier initialises

    def one(w):
        cls, kind, st, tok = w
        return (cls, kind, st, tokenreview(apis[st], ctx, tok), ours(a.k8s_auth, cfgs[st], tok))

    with ThreadPoolExecutor(max_workers=a.jobs) as ex:
        results = list(ex.map(one, work))
    results += rotation(a, apis, ctx, keys, g, cfgs)

    counts, per_class, diffs, unlisted = {}, {}, {}, []
    sanitizer = [(cls, kind, st, us["why"]) for cls, kind, st, api, us in results if us.get("sanitizer")]
    for cls, kind, st, why in sanitizer:
        print("SANITIZER %s/%s [set %s]\n%s" % (cls, kind, st, why))
    for cls, kind, st, api, us in results:
        per_class.setdefault((cls, st), 0)
        per_class[(cls, st)] += 1
        counts.setdefault(cls, [0, 0])
        counts[cls][0] += 1
        if agree(api, us):
            counts[cls][1] += 1
            continue
        key = "%s/%s" % (cls, kind)
        diffs.setdefault(key, []).append(st)
        entry = allow.get(key)
        listed = entry is not None and st in entry.get("sets", "abc")
        tag = "allowed" if listed else "UNLISTED"
        if not listed:
            unlisted.append(key + "@" + st)
        print("%-9s %s [set %s]\n    apiserver: %s %s %s %s\n    k8s-auth:  %s %s %s %s" % (
            tag, key, st, api["ok"], api["username"], api["groups"], api["why"][:300],
            us["ok"], us["username"], us["groups"], us["why"][:300]))
    short = []
    for cls, n in MIN_CASES.items():
        for st in apis:
            if per_class.get((cls, st), 0) < n:
                short.append("%s@%s (%d < %d)" % (cls, st, per_class.get((cls, st), 0), n))
    total = sum(c[0] for c in counts.values())
    agreed = sum(c[1] for c in counts.values())
    print("oidc-diff: seed %d, %d flag sets, %d tokens, %d agree, %d differ (%d allowlisted, "
          "%d unlisted), generated in %.1fs, total %.1fs" % (
              a.seed, len(apis), total, agreed, total - agreed, total - agreed - len(unlisted),
              len(unlisted), t_gen - t0, time.time() - t0))
    for cls in sorted(counts):
        print("  class %-12s %4d tokens, %4d agree" % (cls, counts[cls][0], counts[cls][1]))
    for key in sorted(diffs):
        print("  differs: %-45s sets %s%s" % (key, "".join(sorted(diffs[key])),
                                               "" if key in allow else "  (UNLISTED)"))
    unused = sorted(set(allow) - set(diffs))
    if unused:
        print("  allowlisted but agreeing now (remove from the allowlist?): %s" % ", ".join(unused))
    if short:
        print("FAIL classes with too few cases: " + ", ".join(short))
    if unlisted:
        print("FAIL %d differences not on the allowlist: %s" % (
            len(unlisted), " ".join(sorted(set(unlisted)))))
    if sanitizer:
        print("FAIL %d sanitizer reports from k8s-auth" % len(sanitizer))
    return 1 if short or unlisted or sanitizer else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--dir", required=True)
    s = sub.add_parser("flags")
    s.add_argument("--dir", required=True)
    s.add_argument("--set", required=True, choices=sorted(SETS))
    s = sub.add_parser("run")
    s.add_argument("--dir", required=True)
    s.add_argument("--api", action="append", required=True, help="SET=URL")
    s.add_argument("--ca", required=True)
    s.add_argument("--admin-cert", required=True)
    s.add_argument("--admin-key", required=True)
    s.add_argument("--seed", type=int, default=20201208)
    s.add_argument("--jobs", type=int, default=4)
    s.add_argument("--k8s-auth", default=os.path.join(REPO, "build", "k8s-auth"))
    s.add_argument("--ready-timeout", type=float, default=60)
    s.add_argument("--refresh-wait", type=float, default=10.5)
    a = p.parse_args()
    sys.exit({"serve": cmd_serve, "flags": cmd_flags, "run": cmd_run}[a.cmd](a) or 0)


if __name__ == "__main__":
    main()
