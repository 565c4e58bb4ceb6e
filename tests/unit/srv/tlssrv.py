#!/usr/bin/env python3
"""Local HTTPS test server for test_http and test_tokenreview.

Usage: tlssrv.py DIR

Makes a throw-away PKI in DIR with the openssl CLI (independent of the
code under test), then serves on 127.0.0.1 (free ports) over TLS:
  - a server-auth-only listener, and
  - a listener that requires a client certificate (ssl.CERT_REQUIRED).
Prints "READY <port> <mtls_port>" once both listen.  Exits when its stdin
reaches EOF (the test process died or closed the pipe) or after a fixed
lifetime, so it can never outlive the test run for long.

Files left in DIR: ca.pem (trusts the server), wrongca.pem (unrelated CA),
client.pem / client-key.pem (signed by ca.pem, CN=reviewer), sa.jwt (a
service-account-shaped JWT signed with jwcrypto, accepted by the fake
TokenReview endpoint), counts (JSON {"tokenreviews": N,
"subjectaccessreviews": M}: the reviews answered so far, rewritten before
each answer is sent).  The server
certificate names IP:127.0.0.1 and DNS:apiserver.test only.

Endpoints (any method):
  /ok                   200 "hello"
  /echo                 200 JSON: method, path, headers, body, client_cn
  /sleep/<ms>           sleeps, then 200
  /big/<n>              200 with n bytes ("a"), Content-Length set
  /bigchunked/<n>       200 with n bytes, chunked (no Content-Length)
  /redirect             302 to /ok
  /raw/<name>[/bare]     a fixed byte string (RAW), then the end of the
                        connection (bare: without TLS close_notify)
  /reset                the connection reset, the request's body unread
  /bearer/<token>       200 "bearer ok" when Authorization is "Bearer <token>", else 401
  /tr/<mode>/apis/authentication.k8s.io/v1/tokenreviews
                        a fake TokenReview endpoint: tokens starting with
                        "good" and sa.jwt are authenticated (audiences echoed),
                        others refused with the token echoed in status.error.
                        Reviewer must send Bearer reviewer-secret-token (mode
                        mtls: the client certificate instead).  Modes: ok
                        (201), 200, 403, 500, malformed, redirect, slow (3 s),
                        wrongaud, noaud, mtls.
  /tr/<mode>/apis/authorization.k8s.io/v1/subjectaccessreviews
                        a fake SubjectAccessReview endpoint (same reviewer
                        check): allowed when spec.user is
                        system:serviceaccount:ns1:sa1, unless mode is deny;
                        mode malformed answers a TokenReview instead.
"""
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LIFETIME_S = 300
EXPECTED_REVIEWER = "reviewer-secret-token"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", name + "-key.pem", "-out", name + ".pem",
            "-subj", "/CN=" + name, "-days", "2",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def make_leaf(d, name, cn, ext):
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write(ext)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + "-key.pem", "-out", name + ".csr", "-subj", "/CN=" + cn, cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-out", name + ".pem", "-days", "2",
            "-extfile", name + ".ext", cwd=d)


def make_pki(d):
    make_ca(d, "ca")
    make_ca(d, "wrongca")
    make_leaf(d, "server", "127.0.0.1",
              "subjectAltName=IP:127.0.0.1,DNS:apiserver.test\n"
              "extendedKeyUsage=serverAuth\n")
    make_leaf(d, "client", "reviewer", "extendedKeyUsage=clientAuth\n")


def make_jwt(d):
    """A service-account-shaped JWT signed by jwcrypto (not our code)."""
    from jwcrypto import jwk, jwt
    key = jwk.JWK.generate(kty="RSA", size=2048)
    now = int(time.time())
    claims = {
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": "system:serviceaccount:ns1:sa1",
        "aud": ["host-login:test"],
        "exp": now + 600, "iat": now - 5, "nbf": now - 5,
        "kubernetes.io": {
            "namespace": "ns1",
            "serviceaccount": {"name": "sa1", "uid": "sa-uid-1"},
            "pod": {"name": "pod-1", "uid": "pod-uid-1"},
            "node": {"name": "node-1", "uid": "node-uid-1"},
        },
    }
    tok = jwt.JWT(header={"alg": "RS256", "kid": "k1"}, claims=claims)
    tok.make_signed_token(key)
    with open(os.path.join(d, "sa.jwt"), "w") as f:
        f.write(tok.serialize())
    return tok.serialize()


SA_JWT = None
COUNTS = {"tokenreviews": 0, "subjectaccessreviews": 0}
COUNTS_LOCK = threading.Lock()
COUNTS_FILE = None


def count(kind):
    """One more review of this kind, in DIR/counts before the answer goes out."""
    with COUNTS_LOCK:
        COUNTS[kind] += 1
        tmp = COUNTS_FILE + ".tmp"
        with open(tmp, "w") as f:
            json.dump(COUNTS, f)
        os.replace(tmp, COUNTS_FILE)


def sar_answer(mode, req):
    """Fake apiserver authorizer: one identity is allowed, the mode can deny."""
    spec = req.get("spec", {}) if isinstance(req, dict) else {}
    if mode == "malformed":
        return 201, {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                     "status": {"allowed": True}}
    allowed = mode != "deny" and spec.get("user") == "system:serviceaccount:ns1:sa1"
    status = {"allowed": allowed}
    if not allowed:
        status["reason"] = "no RBAC policy matched"
    return 201, {"kind": "SubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                 "spec": spec, "status": status}


def review_answer(mode, req):
    """Fake apiserver: the token decides the identity, mode the failure."""
    spec = req.get("spec", {}) if isinstance(req, dict) else {}
    token = spec.get("token", "")
    auds = spec.get("audiences", [])
    if mode == "slow":
        time.sleep(3)
    if mode == "wrongaud":
        auds = ["someone-else"]
    if mode == "403":
        return 403, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                     "message": "tokenreviews.authentication.k8s.io is forbidden: "
                                "User \"system:serviceaccount:x:y\" cannot create resource",
                     "reason": "Forbidden", "code": 403}
    if mode == "500":
        return 500, {"kind": "Status", "status": "Failure", "code": 500}
    if mode == "malformed":
        return 201, "{not json"
    if mode == "200":
        code = 200
    else:
        code = 201
    out = {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
           "metadata": {"creationTimestamp": None}, "spec": spec}
    if token.startswith("good") or token == SA_JWT:
        out["status"] = {"authenticated": True,
                         "user": {"username": "system:serviceaccount:ns1:sa1",
                                  "uid": "0b4c7f2e-uid",
                                  "groups": ["system:serviceaccounts",
                                             "system:serviceaccounts:ns1",
                                             "system:authenticated"],
                                  "extra": {"authentication.kubernetes.io/pod-name": ["pod-1"]}},
                         "audiences": auds}
        if mode == "noaud":
            del out["status"]["audiences"]
    else:
        out["status"] = {"authenticated": False,
                         "error": "[invalid bearer token, token " + token + " is not valid]"}
    return code, out


SHED = {}


RAW = {
    # an interim answer first (RFC 9110 15.2): skipped, the final one counts
    "interim": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal",
    # chunked with extensions and a trailer
    "chunkext": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
    # a body that runs to the connection's end (HTTP/1.0 style)
    "toclose": b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
    "garbage": b"SSH-2.0-OpenSSH_9.2\r\n",
    "nothing": b"",
    "cut": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
    "cutchunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly this",
    "twolengths": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "gzip": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "switch": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    "folded": b"HTTP/1.1 200 OK\r\nX-A: 1\r\n  continued\r\nContent-Length: 0\r\n\r\n",
    # a header line longer than the 8 KiB kept of it: skipped (libcurl took
    # 100 KiB, Go 10 MiB); the same for one we read: refused
    "longheader": b"HTTP/1.1 200 OK\r\nContent-Security-Policy: " + b"p" * 20000 +
                  b"\r\nContent-Length: 2\r\n\r\nok",
    "longlength": b"HTTP/1.1 200 OK\r\nContent-Length: " + b"0" * 9000 + b"2\r\n\r\nok",
    # a head over 1 MiB
    "hugehead": b"HTTP/1.1 200 OK\r\n" + b"X-Pad: 12345678\r\n" * 70000 + b"\r\n",
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, code, body, ctype="text/plain", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def client_cn(self):
        cert = self.connection.getpeercert()
        if not cert:
            return None
        for rdn in cert.get("subject", ()):
            for k, v in rdn:
                if k == "commonName":
                    return v
        return None

    def route(self):
        if self.path == "/reset":
            # the connection reset (RST) before the request's body is read:
            # the client is still writing it
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        body = self.read_body()
        parts = self.path.split("/")
        if self.path == "/ok":
            self.send(200, "hello")
        elif self.path == "/echo":
            self.send(200, json.dumps({"method": self.command, "path": self.path,
                                       "headers": dict(self.headers.items()),
                                       "body": body.decode("utf-8", "replace"),
                                       "client_cn": self.client_cn()}),
                      "application/json")
        elif parts[1] == "sleep":
            time.sleep(int(parts[2]) / 1000.0)
            self.send(200, "slept")
        elif parts[1] == "big":
            self.send(200, b"a" * int(parts[2]))
        elif parts[1] == "bigchunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            left = int(parts[2])
            while left > 0:
                n = min(left, 65536)
                self.wfile.write(b"%x\r\n" % n + b"a" * n + b"\r\n")
                left -= n
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/redirect":
            self.send(302, "moved", headers=[("Location", "/ok")])
        elif parts[1] == "shed":
            # /shed/KEY/N/RETRYAFTER: the first N requests for KEY get 429
            # (API Priority and Fairness shedding load) with that
            # Retry-After ("none": without one), then a JSON object
            SHED[parts[2]] = SHED.get(parts[2], 0) + 1
            if SHED[parts[2]] <= int(parts[3]):
                hdrs = [] if parts[4] == "none" else [("Retry-After", parts[4])]
                self.send(429, json.dumps({"kind": "Status", "code": 429, "message": "Too many requests"}),
                          "application/json", headers=hdrs)
            else:
                self.send(200, json.dumps({"kind": "Shed", "tries": SHED[parts[2]]}), "application/json")
        elif parts[1] == "date":
            # /date/EPOCH: that Date header (IMF-fixdate); /date/none: none;
            # /date/junk: an unreadable one
            self.send_response_only(200)
            if parts[2] == "junk":
                self.send_header("Date", "yesterday-ish")
            elif parts[2] != "none":
                self.send_header("Date", self.date_time_string(int(parts[2])))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        elif parts[1] == "raw":
            # /raw/NAME: answers written byte for byte (RAW below), then
            # the connection ends: with close_notify, or ("/raw/NAME/bare")
            # without it, as a peer that died or an attacker cutting it
            self.wfile.write(RAW[parts[2]])
            self.wfile.flush()
            if len(parts) > 3 and parts[3] == "bare":
                self.connection.shutdown(socket.SHUT_RDWR)
            else:
                self.connection.unwrap()
            self.close_connection = True
        elif parts[1] == "bearer":
            want = "Bearer " + parts[2]
            if self.headers.get("Authorization") == want:
                self.send(200, "bearer ok")
            else:
                self.send(401, "no")
        elif parts[1] == "tr" and self.path.endswith("/apis/authentication.k8s.io/v1/tokenreviews"):
            self.tokenreview(parts[2], body)
        elif parts[1] == "tr" and self.path.endswith("/apis/authorization.k8s.io/v1/subjectaccessreviews"):
            self.tokenreview(parts[2], body, sar_answer)
        else:
            self.send(404, "not found")

    def tokenreview(self, mode, body, answer=review_answer):
        if mode == "redirect":
            self.send(302, "moved", headers=[("Location", "/ok")])
            return
        if self.command != "POST" or self.headers.get("Content-Type") != "application/json":
            self.send(415, "want POST application/json")
            return
        authz = self.headers.get("Authorization")
        if mode != "mtls" and authz != "Bearer " + EXPECTED_REVIEWER:
            self.send(401, json.dumps({"kind": "Status", "code": 401, "message": "Unauthorized"}),
                      "application/json")
            return
        if mode == "mtls" and self.client_cn() != "reviewer":
            self.send(401, "no client certificate")
            return
        try:
            req = json.loads(body)
        except ValueError:
            self.send(400, "bad json")
            return
        count("subjectaccessreviews" if answer is sar_answer else "tokenreviews")
        code, out = answer(mode, req)
        self.send(code, out if isinstance(out, str) else json.dumps(out), "application/json")

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, ssl.SSLError, socket.timeout):
            self.close_connection = True

    def do_GET(self):
        self.route()

    do_POST = do_GET
    do_PUT = do_GET


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, ctx):
        self.ctx = ctx
        super().__init__(("127.0.0.1", 0), Handler)

    def finish_request(self, request, client_address):
        # Handshake in the worker thread so a stuck client blocks nobody.
        try:
            request.settimeout(10)
            conn = self.ctx.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (OSError, ssl.SSLError):
            pass

    def handle_error(self, request, client_address):
        pass


def context(d, require_client):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server-key.pem"))
    if require_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(os.path.join(d, "ca.pem"))
    return ctx


def main():
    d = sys.argv[1]
    global SA_JWT, COUNTS_FILE
    COUNTS_FILE = os.path.join(d, "counts")
    make_pki(d)
    SA_JWT = make_jwt(d)
    servers = [TLSServer(context(d, False)), TLSServer(context(d, True))]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    sys.stdout.write("READY %d %d\n" % (servers[0].server_address[1],
                                         servers[1].server_address[1]))
    sys.stdout.flush()

    def watchdog():
        time.sleep(LIFETIME_S)
        os._exit(0)
    threading.Thread(target=watchdog, daemon=True).start()
    try:
        sys.stdin.read()
    except OSError:
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
