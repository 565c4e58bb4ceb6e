#!/usr/bin/env python3
"""An HTTPS reverse proxy in front of the test apiserver (tests/kube) that
injects the faults the real apiserver will not produce on demand, for the
recovery tests of `k8s-auth sync --watch`.  Everything else is the real
apiserver's answer, forwarded untouched (lists whole, watches line by line).

  faultproxy.py DIR KUBE_DIR

Serves TLS with the test apiserver's own certificate (pki/server.crt, SAN
127.0.0.1), so a kubeconfig differing only in its server URL reaches it.
Forwards GET only (all a watcher sends).  Files in DIR:

  port        written once listening
  upstream    the apiserver URL, read at every request (a test switches it)
  faults.json read at every request and every forwarded watch line:
              {"rules": [RULE, ...]}; RULE:
                "id": a name (the times a rule fired are counted per id:
                      write a new id to re-arm)
                "path": a substring the request path must contain
                "kind": "watch" | "list" (optional: either)
                "times": fire at most this often (default 1)
                "do": "status"  answer "code" (429) with a Status body and,
                                when given, "Retry-After: <retry_after>"
                      "gone"    (watch) forward the stream until the next
                                ADDED/MODIFIED/DELETED line, swallow it and
                                send instead an ERROR event with a 410
                                Status, as an apiserver whose history was
                                compacted does; from then on every watch
                                of that path from an older resourceVersion
                                than the swallowed event's gets that ERROR
                                event first (the history is gone for good)
                      "stall"   (watch) answer it here, not upstream: 200,
                                then "beats" (3) BOOKMARK lines carrying the
                                requested resourceVersion, "every" (1)
                                seconds apart, as apiservers that send
                                heartbeat bookmarks do, then nothing,
                                the connection held open: a server that
                                stalled while its host still answers TCP
  log.jsonl   one line a request: {"t": unix time, "path", "query",
              "kind", "status", "fault"}, and {"t", "path", "event":
              "ERROR", "code"} for every ERROR event a watch carried
              (injected or the apiserver's own).  Never a header.

SIGUSR2 cuts every open client connection and its upstream one (a network
failure: the watches reconnect).
"""
import http.client
import http.server
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
from urllib.parse import parse_qs, urlparse

DIR, KUBE_DIR = sys.argv[1], sys.argv[2]
lock = threading.Lock()
fired = {}        # rule id -> times fired
compacted = {}    # path -> resourceVersion at and below which a watch is gone
clients = set()


def log(rec):
    rec["t"] = time.time()
    with lock, open(os.path.join(DIR, "log.jsonl"), "a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")


def rules():
    try:
        with open(os.path.join(DIR, "faults.json")) as f:
            return json.load(f).get("rules", [])
    except (OSError, ValueError):
        return []


def take_rule(path, kind, do=None):
    """The first armed rule for this request (and counts it fired)."""
    for r in rules():
        if r.get("path", "") not in path or r.get("kind", kind) != kind:
            continue
        if do is not None and r.get("do") != do:
            continue
        with lock:
            n = fired.get(r.get("id"), 0)
            if n >= r.get("times", 1):
                continue
            fired[r.get("id")] = n + 1
        return r
    return None


def status_body(code, reason, message):
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code},
                      separators=(",", ":")).encode()


def gone_event(rv, oldest):
    st = json.loads(status_body(410, "Expired", "too old resource version: %s (%s)" % (rv, oldest)))
    return json.dumps({"type": "ERROR", "object": st}, separators=(",", ":")).encode() + b"\n"


def upstream_conn():
    with open(os.path.join(DIR, "upstream")) as f:
        u = urlparse(f.read().strip())
    ctx = ssl.create_default_context(cafile=os.path.join(KUBE_DIR, "pki", "ca.crt"))
    return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=7200)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        self.cut = False
        self.upstream = None
        with lock:
            clients.add(self)

    def finish(self):
        with lock:
            clients.discard(self)
        try:
            super().finish()
        except OSError:
            pass

    def answer(self, code, body, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        kind = "watch" if q.get("watch", [""])[0] in ("1", "true") else "list"
        rec = {"path": u.path, "query": u.query, "kind": kind}
        r = take_rule(u.path, kind, "status")
        if r is not None:
            code = r.get("code", 429)
            extra = [("Retry-After", str(r["retry_after"]))] if "retry_after" in r else []
            rec.update(status=code, fault="status")
            log(rec)
            return self.answer(code, status_body(code, "TooManyRequests" if code == 429 else "InternalError",
                                                  "injected by faultproxy"), extra)
        rv = q.get("resourceVersion", [""])[0]
        if kind == "watch":
            r = take_rule(u.path, kind, "stall")
            if r is not None:
                return self.stall(u.path, rec, rv, r.get("beats", 3), r.get("every", 1))
        with lock:
            old = compacted.get(u.path)
        if kind == "watch" and old is not None and rv.isdigit() and int(rv) < old:
            rec.update(status=200, fault="expired")
            log(rec)
            log({"path": u.path, "event": "ERROR", "code": 410})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.chunk(gone_event(rv, old))
            self.wfile.write(b"0\r\n\r\n")
            self.close_connection = True
            return
        c = upstream_conn()
        with lock:
            self.upstream = c
        hdrs = {k: v for k, v in self.headers.items()
                if k.lower() in ("authorization", "accept", "user-agent")}
        try:
            c.request("GET", self.path, headers=hdrs)
            resp = c.getresponse()
        except OSError as e:
            rec.update(status=0, fault="upstream: %s" % e.__class__.__name__)
            log(rec)
            self.close_connection = True
            return
        rec["status"] = resp.status
        if kind == "list" or resp.status != 200:
            body = resp.read()
            log(rec)
            extra = [("Retry-After", resp.getheader("Retry-After"))] if resp.getheader("Retry-After") else []
            c.close()
            return self.answer(resp.status, body, extra)
        log(rec)
        self.send_response(200)
        self.send_header("Content-Type", resp.getheader("Content-Type", "application/json"))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self.stream(u.path, resp)
        except OSError:
            pass
        c.close()
        self.close_connection = True

    def stall(self, path, rec, rv, beats, every):
        rec.update(status=200, fault="stall")
        log(rec)
        kind = {"rolebindings": "RoleBinding", "clusterrolebindings": "ClusterRoleBinding",
                "serviceaccounts": "ServiceAccount", "roles": "Role",
                "clusterroles": "ClusterRole"}.get(path.rsplit("/", 1)[-1], "Status")
        bm = json.dumps({"type": "BOOKMARK", "object": {"kind": kind, "metadata": {
            "resourceVersion": rv, "creationTimestamp": None}}}, separators=(",", ":")).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for _ in range(beats):
                self.chunk(bm)
                time.sleep(every)
            log({"path": path, "event": "silent"})
            while not self.cut and self.connection.recv(1) != b"":
                pass
        except OSError:
            pass
        log({"path": path, "event": "closed"})
        self.close_connection = True

    def stream(self, path, resp):
        while True:
            line = resp.readline()
            if self.cut:  # a cut stream must not take a fault meant for its successor
                return
            if not line:
                self.wfile.write(b"0\r\n\r\n")
                return
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {}
            t = ev.get("type")
            if t == "ERROR":
                log({"path": path, "event": "ERROR", "code": ev.get("object", {}).get("code")})
            elif t in ("ADDED", "MODIFIED", "DELETED") and take_rule(path, "watch", "gone") is not None:
                rv = ev["object"]["metadata"]["resourceVersion"]
                with lock:
                    compacted[path] = max(compacted.get(path, 0), int(rv))
                log({"path": path, "event": "ERROR", "code": 410, "fault": "gone", "swallowed": rv})
                self.chunk(gone_event(int(rv) - 1, rv))
                self.wfile.write(b"0\r\n\r\n")
                return
            self.chunk(line)


def cut(*_):
    with lock:
        handlers = list(clients)
    for h in handlers:
        h.cut = True
        socks = [h.connection]
        if h.upstream is not None and h.upstream.sock is not None:
            socks.append(h.upstream.sock)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(KUBE_DIR, "pki", "server.crt"), os.path.join(KUBE_DIR, "pki", "server.key"))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    signal.signal(signal.SIGUSR2, cut)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    with open(os.path.join(DIR, "port.tmp"), "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
    srv.serve_forever()


main()
