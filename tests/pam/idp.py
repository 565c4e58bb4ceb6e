#!/usr/bin/python3
"""A small cluster stand-in for the PAM tests: one HTTPS listener that is
both an OIDC issuer (discovery + JWKS) and a TokenReview endpoint, and a
minter of tokens signed with jwcrypto (never with the code under test).

  idp.py serve DIR      PKI by the openssl CLI and a signing key in DIR;
                        serves on a free 127.0.0.1 port; writes DIR/url,
                        DIR/ca.pem, DIR/reviewer.token, DIR/kubeconfig;
                        prints "READY <url>"; exits when stdin closes.
  idp.py mint DIR [options]   prints a token (see --help)

TokenReview (POST /apis/authentication.k8s.io/v1/tokenreviews, Bearer
reviewer token required, else 401): a token this issuer signed, unexpired,
whose aud meets spec.audiences, whose service-account uid is not listed
in DIR/deleted, is authenticated as the apiserver would: username = sub,
uid = the service account's uid, groups = system:serviceaccounts,
system:serviceaccounts:<ns>, system:authenticated, extra = pod/node
binding.  Everything else: authenticated false with an error.  Every reviewed
token's fingerprint (first 16 hex of SHA-256) is appended to
DIR/reviews.log, so a test can prove a secret was never sent.
"""
import argparse
import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jwcrypto import jwk, jwt

LIFETIME_S = 1800


def openssl(d, *args):
    subprocess.run(["openssl", *args], cwd=d, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-subj", "/CN=pam-test-ca",
            "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server-key.pem", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    openssl(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")


def load_keys(d):
    with open(os.path.join(d, "signing.jwks")) as f:
        return jwk.JWKSet.from_json(f.read())


def verify(d, token):
    t = jwt.JWT(jwt=token, key=load_keys(d), algs=["RS256", "ES256"], check_claims={"exp": None})
    return json.loads(t.claims)


def review(d, body):
    spec = body.get("spec", {})
    token = spec.get("token", "")
    with open(os.path.join(d, "reviews.log"), "a") as f:
        f.write(hashlib.sha256(token.encode()).hexdigest()[:16] + "\n")
    want = spec.get("audiences") or []
    st = {"authenticated": False}
    try:
        c = verify(d, token)
        aud = c.get("aud", [])
        aud = [aud] if isinstance(aud, str) else aud
        hit = [a for a in want if a in aud]
        k = c.get("kubernetes.io") or {}
        sa = k.get("serviceaccount") or {}
        deleted = set()
        p = os.path.join(d, "deleted")
        if os.path.exists(p):
            deleted = set(open(p).read().split())
        if want and not hit:
            st["error"] = "token audiences do not match"
        elif not sa.get("uid"):
            st["error"] = "not a service account token"
        elif sa["uid"] in deleted:
            st["error"] = "service account has been deleted"
        else:
            ns = k.get("namespace", "")
            extra = {}
            if k.get("pod"):
                extra["authentication.kubernetes.io/pod-name"] = [k["pod"]["name"]]
                extra["authentication.kubernetes.io/pod-uid"] = [k["pod"]["uid"]]
            if k.get("node"):
                extra["authentication.kubernetes.io/node-name"] = [k["node"]["name"]]
                extra["authentication.kubernetes.io/node-uid"] = [k["node"]["uid"]]
            st = {"authenticated": True,
                  "user": {"username": c["sub"], "uid": sa["uid"],
                           "groups": ["system:serviceaccounts", "system:serviceaccounts:" + ns,
                                      "system:authenticated"] + c.get("x-extra-groups", []),
                           "extra": extra},
                  "audiences": hit or aud}
    except Exception as e:  # noqa: BLE001 - any failure is "not authenticated"
        st = {"authenticated": False, "error": "invalid token: %s" % type(e).__name__}
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"audiences": want}, "status": st}


def serve(d):
    os.makedirs(d, exist_ok=True)
    make_pki(d)
    keys = jwk.JWKSet()
    keys.add(jwk.JWK.generate(kty="RSA", size=2048, kid="rs", use="sig", alg="RS256"))
    keys.add(jwk.JWK.generate(kty="EC", crv="P-256", kid="es", use="sig", alg="ES256"))
    with open(os.path.join(d, "signing.jwks"), "w") as f:
        f.write(keys.export(private_keys=True))
    reviewer = os.urandom(24).hex()
    with open(os.path.join(d, "reviewer.token"), "w") as f:
        f.write(reviewer)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    url = "https://127.0.0.1:%d" % port
    pub = json.loads(keys.export(private_keys=False))

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def send(self, code, obj):
            b = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)

        def do_GET(self):
            if self.path == "/.well-known/openid-configuration":
                self.send(200, {"issuer": url, "jwks_uri": url + "/jwks",
                                "id_token_signing_alg_values_supported": ["RS256"]})
            elif self.path == "/jwks":
                self.send(200, pub)
            else:
                self.send(404, {})

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            if self.path != "/apis/authentication.k8s.io/v1/tokenreviews":
                return self.send(404, {})
            if self.headers.get("Authorization") != "Bearer " + reviewer:
                return self.send(401, {"kind": "Status", "code": 401})
            self.send(201, review(d, json.loads(body)))

    srv = ThreadingHTTPServer(("127.0.0.1", port), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server-key.pem"))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(os.path.join(d, "url"), "w") as f:
        f.write(url)
    ca = open(os.path.join(d, "ca.pem")).read()
    import base64
    kc = os.path.join(d, "kubeconfig")
    fd = os.open(kc, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("apiVersion: v1\nkind: Config\ncurrent-context: t\n"
                "clusters:\n- name: t\n  cluster:\n    server: %s\n"
                "    certificate-authority-data: %s\n"
                "contexts:\n- name: t\n  context: {cluster: t, user: r}\n"
                "users:\n- name: r\n  user:\n    token: %s\n"
                % (url, base64.b64encode(ca.encode()).decode(), reviewer))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("READY " + url, flush=True)

    def watch():
        sys.stdin.read()
        os._exit(0)
    threading.Thread(target=watch, daemon=True).start()
    time.sleep(LIFETIME_S)


def mint(d, a):
    key = load_keys(d).get_key("es" if a.alg == "ES256" else "rs")
    url = open(os.path.join(d, "url")).read().strip()
    now = int(time.time()) + a.iat_offset
    claims = {"iss": a.iss or url, "sub": a.sub, "aud": a.aud.split(","),
              "iat": now, "nbf": now, "exp": now + a.lifetime}
    if a.sa_uid:
        ns, name = a.sub.split(":")[2:4]
        k = {"namespace": ns, "serviceaccount": {"name": name, "uid": a.sa_uid}}
        if a.pod:
            k["pod"] = {"name": a.pod, "uid": "9c1e6f4a-%04d-4b1d-8c33-5a2f1e0d7b61" % len(a.pod)}
        if a.node:
            k["node"] = {"name": a.node, "uid": "5e0d2a17-3b9c-4f6e-a8d1-%012d" % len(a.node)}
        k["warnafter"] = now + min(a.lifetime, 3607)
        claims["kubernetes.io"] = k
        claims["jti"] = os.urandom(16).hex()
    if a.email:
        claims["email"] = a.email
        claims["email_verified"] = True
    if a.groups is not None:
        claims["groups"] = [g for g in a.groups.split(",") if g]
    if a.extra_groups:
        claims["x-extra-groups"] = a.extra_groups.split(",")

    def make(pad, hpad):
        c = dict(claims)
        if pad >= 0:
            c["pad"] = "p" * pad
        h = {"alg": a.alg, "kid": "es" if a.alg == "ES256" else "rs"}
        if hpad:
            h["x-pad"] = "h" * hpad
        t = jwt.JWT(header=h, claims=c)
        t.make_signed_token(key)
        return t.serialize()

    if not a.size:
        return make(-1, 0)
    # Exact size: base64url never has a length of 1 mod 4, so the header
    # and the payload are padded together until the total is right.
    base = len(make(0, 0))
    if a.size < base:
        raise SystemExit("size %d is below the smallest token (%d)" % (a.size, base))
    guess = (a.size - base) * 3 // 4
    for hpad in range(0, 6):
        for pad in range(max(0, guess - 12), guess + 12):
            t = make(pad, hpad)
            if len(t) == a.size:
                return t
    raise SystemExit("cannot hit size %d" % a.size)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("dir")
    m = sub.add_parser("mint")
    m.add_argument("dir")
    m.add_argument("--sub", required=True)
    m.add_argument("--aud", required=True, help="comma-separated")
    m.add_argument("--lifetime", type=int, default=600)
    m.add_argument("--iat-offset", type=int, default=0, help="shift iat/nbf/exp (negative: in the past)")
    m.add_argument("--iss", default="")
    m.add_argument("--sa-uid", default="")
    m.add_argument("--pod", default="")
    m.add_argument("--node", default="")
    m.add_argument("--email", default="")
    m.add_argument("--groups", default=None, help="comma-separated groups claim")
    m.add_argument("--extra-groups", default="", help="extra groups TokenReview reports")
    m.add_argument("--size", type=int, default=0, help="exact token length")
    m.add_argument("--alg", default="RS256", choices=["RS256", "ES256"])
    a = ap.parse_args()
    if a.cmd == "serve":
        serve(a.dir)
    else:
        print(mint(a.dir, a))


if __name__ == "__main__":
    main()
