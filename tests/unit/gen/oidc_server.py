#!/usr/bin/python3
"""A local OIDC issuer over TLS for test_oidc's discovery/cache tests.

Usage: oidc_server.py DIR

Makes a throw-away CA and server certificate (IP:127.0.0.1) with the openssl
CLI and two EC keys (kid k1, k2) with jwcrypto, listens on a free port, then
writes tokens whose `iss` includes that port and prints "READY <port>".
Exits when stdin reaches EOF (the test closed it or died) or after
LIFETIME_S.

Issuers (base = https://127.0.0.1:<port>):
  base/good      discovery names base/good, jwks_uri base/good/jwks;
                 the JWKS holds k1, and also k2 once DIR/rotate exists;
                 while DIR/replace exists, kid k1 names k3's key (a key
                 rotated in place)
  base/bad       discovery names another issuer
  base/plain     jwks_uri is http://, not https
  base/private   the JWKS publishes a private key
While DIR/fail exists every request gets 503.  While DIR/expired exists
new connections get a server certificate from the same CA that expired
yesterday (what a client whose clock runs days ahead sees): the TLS
handshake fails before any request.  After every request the per-path
counts are in DIR/counts.json (written before the response).

Files: ca.pem, now, issuer, tok_<name>.jwt (see TOKENS below).
"""
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jwcrypto import jwk, jws

LIFETIME_S = 300
AUD = "host-login"
DIR = sys.argv[1]
NOW = int(time.time())
COUNTS = {}
LOCK = threading.Lock()


def openssl(*args):
    subprocess.run(["openssl", *args], cwd=DIR, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_expired_cert():
    """server-expired.pem: like server.pem (same key, CA and SAN), but valid
    only from three days ago until yesterday."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def load(name):
        with open(os.path.join(DIR, name), "rb") as f:
            return f.read()
    ca = x509.load_pem_x509_certificate(load("ca.pem"))
    ca_key = serialization.load_pem_private_key(load("ca-key.pem"), None)
    key = serialization.load_pem_private_key(load("server-key.pem"), None)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=3))
            .not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(ca_key, hashes.SHA256()))
    with open(os.path.join(DIR, "server-expired.pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


class TLSServer(ThreadingHTTPServer):
    """Wraps each accepted connection with the context in effect now."""
    good_ctx = None
    expired_ctx = None

    def get_request(self):
        sock, addr = self.socket.accept()
        expired = os.path.exists(os.path.join(DIR, "expired"))
        ctx = self.expired_ctx if expired else self.good_ctx
        return ctx.wrap_socket(sock, server_side=True), addr


def make_pki():
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca-key.pem", "-out", "ca.pem", "-subj", "/CN=test issuer CA", "-days", "2",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(os.path.join(DIR, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server-key.pem", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")


KEYS = {k: jwk.JWK.generate(kty="EC", crv="P-256", kid=k) for k in ("k1", "k2", "k3")}


def pub(k):
    return KEYS[k].export_public(as_dict=True)


class Handler(BaseHTTPRequestHandler):
    base = None

    def log_message(self, *args):
        pass

    def answer(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with LOCK:
            COUNTS[self.path] = COUNTS.get(self.path, 0) + 1
            tmp = os.path.join(DIR, "counts.json.tmp")
            with open(tmp, "w") as f:
                json.dump(COUNTS, f)
            os.rename(tmp, os.path.join(DIR, "counts.json"))
        if os.path.exists(os.path.join(DIR, "fail")):
            return self.answer(503, {"error": "unavailable"})
        b = self.base
        disc = {
            "/good/.well-known/openid-configuration":
                {"issuer": b + "/good", "jwks_uri": b + "/good/jwks"},
            "/bad/.well-known/openid-configuration":
                {"issuer": b + "/someone-else", "jwks_uri": b + "/good/jwks"},
            "/plain/.well-known/openid-configuration":
                {"issuer": b + "/plain", "jwks_uri": "http://127.0.0.1:1/jwks"},
            "/private/.well-known/openid-configuration":
                {"issuer": b + "/private", "jwks_uri": b + "/private/jwks"},
        }
        if self.path in disc:
            d = dict(disc[self.path], response_types_supported=["id_token"],
                     id_token_signing_alg_values_supported=["ES256"])
            return self.answer(200, d)
        if self.path == "/good/jwks":
            keys = [pub("k1")]
            if os.path.exists(os.path.join(DIR, "replace")):
                keys = [dict(pub("k3"), kid="k1")]
            if os.path.exists(os.path.join(DIR, "rotate")):
                keys.append(pub("k2"))
            return self.answer(200, {"keys": keys})
        if self.path == "/private/jwks":
            return self.answer(200, {"keys": [pub("k1"), KEYS["k3"].export_private(as_dict=True)]})
        return self.answer(404, {"error": "not found"})


def token(name, key, iss, kid=None):
    claims = {"iss": iss, "aud": AUD, "sub": "user-" + name, "iat": NOW - 5,
              "exp": NOW + 30 * 86400}
    s = jws.JWS(json.dumps(claims).encode())
    s.add_signature(KEYS[key], alg="ES256", protected=json.dumps({"alg": "ES256", "kid": kid or key}))
    with open(os.path.join(DIR, "tok_%s.jwt" % name), "w") as f:
        f.write(s.serialize(compact=True))


def main():
    make_pki()
    make_expired_cert()
    srv = TLSServer(("127.0.0.1", 0), Handler)
    for attr, cert in (("good_ctx", "server.pem"), ("expired_ctx", "server-expired.pem")):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(DIR, cert), os.path.join(DIR, "server-key.pem"))
        setattr(TLSServer, attr, ctx)
    port = srv.server_address[1]
    base = "https://127.0.0.1:%d" % port
    Handler.base = base
    good = base + "/good"
    token("k1", "k1", good)
    token("k2", "k2", good)
    token("random", "k1", good, kid="random-kid-4711")
    token("k1_new", "k3", good, kid="k1")
    token("bad", "k1", base + "/bad")
    token("plain", "k1", base + "/plain")
    token("private", "k1", base + "/private")
    with open(os.path.join(DIR, "issuer"), "w") as f:
        f.write(good)
    with open(os.path.join(DIR, "now"), "w") as f:
        f.write(str(NOW))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("READY %d" % port, flush=True)
    deadline = time.time() + LIFETIME_S

    def watchdog():
        while time.time() < deadline:
            time.sleep(1)
        os._exit(0)
    threading.Thread(target=watchdog, daemon=True).start()
    sys.stdin.read()
    os._exit(0)


main()
