"""The HTTPS side of fakecluster: kube-apiserver's TokenReview, TokenRequest,
ServiceAccount/Pod/Secret basics and service-account OIDC discovery, plus an
OIDC identity provider under /idp, with fault injection (D/fault.json) and
per-path request counts (D/requests.json).  See README.md.
"""
import contextlib
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import fc_core as core
from fc_core import path

IO_TIMEOUT = 15          # seconds; no client can pin a thread for longer
MAX_BODY = 3 * 1024 * 1024   # the apiserver's request body limit
HUGE_BYTES = 5 * 1024 * 1024
TOKENREVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
SSARS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
# RBAC as a cluster set up with docs/rbac-reviewer.yaml answers
# SelfSubjectAccessReviews: (verb, group, resource) -> the binding's reason.
REVIEWER_REASON = ('RBAC: allowed by ClusterRoleBinding "k8s-auth-reviewer" of ClusterRole '
                   '"k8s-auth-reviewer" to ServiceAccount "k8s-auth-reviewer/kube-system"')
BASIC_USER_REASON = ('RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole '
                     '"system:basic-user" to Group "system:authenticated"')
REVIEWER_RULES = {("create", "authentication.k8s.io", "tokenreviews"): REVIEWER_REASON,
                  ("create", "authorization.k8s.io", "subjectaccessreviews"): REVIEWER_REASON}
BASIC_USER_RULES = {("create", "authorization.k8s.io", "selfsubjectaccessreviews"): BASIC_USER_REASON,
                    ("create", "authorization.k8s.io", "selfsubjectrulesreviews"): BASIC_USER_REASON}
RESOURCE_ATTRS = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
REDIRECT_PREFIX = "/redirected"
PUBLIC_PATHS = ("/.well-known/openid-configuration", "/openid/v1/jwks", "/healthz", "/livez",
                "/readyz", "/version")
REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 406: "NotAcceptable", 409: "AlreadyExists", 410: "Expired",
           413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
           429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}
MESSAGES = {401: "Unauthorized", 429: "Too many requests, please try again later.",
            500: "Internal error occurred: fault injected", 503: "service unavailable",
            504: "Timeout: request did not complete within the allotted timeout"}
API_RE = re.compile(r"^/api/v1/namespaces/([^/]+)/(serviceaccounts|pods|secrets)(?:/([^/]+))?(/token)?$")


def _int(v, default):
    """A fault.json number, or the default for anything else."""
    return v if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 31 else default


def _code(v, default):
    """A fault.json HTTP status, or the default for anything else."""
    return v if _int(v, 0) and 100 <= v <= 599 else default


def status_obj(code, message=None, reason=None, details=None):
    """A metav1.Status as the apiserver writes it (member order too)."""
    o = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message if message is not None else MESSAGES.get(code, "fault injected"),
         "reason": reason or REASONS.get(code, "Unknown")}
    if details is not None:
        o["details"] = details
    o["code"] = code
    return o


def forbidden(user, verb, resource, group, name=None, ns=None, sub=None):
    """(403, Status) worded as RBAC's authorizer refusal."""
    gr = resource + ("." + group if group else "")
    where = ('in the namespace "%s"' % ns) if ns else "at the cluster scope"
    msg = '%s%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s' % (
        gr, ' "%s"' % name if name else "", user, verb, resource + ("/" + sub if sub else ""), group, where)
    details = {"name": name} if name else {}
    if group:
        details["group"] = group
    details["kind"] = resource
    return 403, status_obj(403, msg, "Forbidden", details)


class Reply:
    """What a route answers, before faults may bend it."""

    def __init__(self, code, body, ctype="application/json", headers=None):
        self.code, self.body, self.ctype, self.headers = code, body, ctype, dict(headers or {})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, a):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, handler)
        self.dir = a.dir
        self.mint_jti = a.jti
        self.sa_key = core.load_private_key(path(a.dir, "sa_key"))
        self.sa_pub = self.sa_key.public_key()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(path(a.dir, "server_crt"), path(a.dir, "server_key"))
        # Ask for a client certificate, never require one (Go's VerifyClientCertIfGiven).
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(path(a.dir, "ca_crt"))
        ctx.set_alpn_protocols(["http/1.1"])
        self.ctx = ctx
        host = addr[0]
        host = "[%s]" % host if ":" in host else host
        self.base = "https://%s:%d" % (host, self.server_address[1])
        self.log_lock = threading.Lock()
        self.fault_lock = threading.Lock()
        self.fault_uses = {}
        self.log_fd = os.open(path(a.dir, "log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def log(self, line):
        data = ("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), line)).encode(errors="replace")
        with self.log_lock:
            os.write(self.log_fd, data)

    def finish_request(self, request, client_address):
        # The handshake runs here, in the connection's own thread, under a
        # timeout: a silent client can never stall the accept loop.
        request.settimeout(IO_TIMEOUT)
        # as Go's net package does for every TCP connection: no Nagle.  With
        # it, an answer written as head then body waits for the client's
        # delayed ACK (40 ms), which was most of every TokenReview here.
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        core.count_request(self.dir, "_connections")
        try:
            conn = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.log("%s TLS handshake failed: %s" % (client_address[0], e))
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
            if not getattr(conn, "fc_abrupt", False):
                # close_notify, as Go's server sends: clients may treat a bare EOF as an error
                conn.settimeout(1)
                conn.unwrap()
        except (ssl.SSLError, OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def handle_error(self, request, client_address):
        self.log("%s handler error: %s" % (client_address[0], sys.exc_info()[1]))

    def fault_for(self, p):
        """The fault to apply to a request for path P, if any."""
        fp = path(self.dir, "fault")
        try:
            st = os.stat(fp)
            with open(fp, encoding="utf-8") as f:
                fault = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            self.log("%s unreadable, ignored: %s" % (fp, e))
            return None
        if not isinstance(fault, dict) or p.startswith(REDIRECT_PREFIX + "/"):
            return None
        prefixes = fault.get("paths")
        if prefixes and not any(p.startswith(x) for x in prefixes):
            return None
        times = fault.get("times")
        if isinstance(times, int):
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
            with self.fault_lock:
                used = self.fault_uses.get(key, 0)
                if used >= times:
                    return None
                self.fault_uses[key] = used + 1
        return fault


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IO_TIMEOUT
    server_version = "fakecluster"

    def log_message(self, fmt, *args):
        # http.server's own messages (bad request lines, timeouts); no headers in them
        self.server.log("%s %s" % (self.client_address[0], fmt % args))

    def version_string(self):
        return self.server_version

    def do_GET(self):
        self.handle_any()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    # ------------------------------------------------------------ plumbing
    def read_body(self):
        """The request body, or a Reply refusing it."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(100)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    return None, Reply(400, status_obj(400, "bad chunked encoding"))
                if size == 0:
                    while self.rfile.readline(1000).strip():
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    self.close_connection = True
                    return None, Reply(413, status_obj(413, "Request entity too large: limit is %d" % MAX_BODY))
                chunks.append(self.rfile.read(size))
                self.rfile.readline(10)
            return b"".join(chunks), None
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = -1
        if n < 0:
            self.close_connection = True
            return None, Reply(400, status_obj(400, "bad Content-Length"))
        if n > MAX_BODY:
            self.close_connection = True
            return None, Reply(413, status_obj(413, "Request entity too large: limit is %d" % MAX_BODY))
        return self.rfile.read(n) if n else b"", None

    def send(self, r):
        if isinstance(r.body, (dict, list)):
            pretty = self.pretty
            body = json.dumps(r.body, indent=2 if pretty else None,
                              separators=None if pretty else (",", ":"), ensure_ascii=False).encode()
            if pretty:
                body += b"\n"
        elif isinstance(r.body, str):
            body = r.body.encode()
        else:
            body = r.body or b""
        self.send_response_only(r.code)
        # fault "clock": this server's clock is `offset` seconds off
        self.send_header("Date", self.date_time_string(time.time() + self.date_offset))
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", r.headers.pop("Cache-Control", "no-cache, private"))
        if r.ctype:
            self.send_header("Content-Type", r.ctype)
        if r.code == 403 or r.ctype == "application/json" and r.code >= 400:
            self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in r.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.sent = len(body)
        self.code = r.code

    def handle_any(self):
        t0 = time.monotonic()
        self.sent, self.code, self.user, self.fault_note = 0, 0, "-", ""
        self.date_offset = 0
        url = urlsplit(self.path)
        p = url.path
        q = parse_qs(url.query)
        self.pretty = (q.get("pretty", [""])[0] in ("true", "1") or
                       self.headers.get("User-Agent", "").lower().startswith(("curl/", "wget/")))
        try:
            core.count_request(self.server.dir, p)
            self.serve_path(p)
        except (ConnectionError, socket.timeout, ssl.SSLError) as e:
            self.close_connection = True
            self.fault_note += " io-error=%s" % type(e).__name__
        finally:
            # path only: a query string could carry anything; headers never logged
            self.server.log("%s %s %s %s %dB %dms user=%s%s" % (
                self.client_address[0], self.command, p, self.code or "-", self.sent,
                (time.monotonic() - t0) * 1000, self.user, self.fault_note))

    def serve_path(self, p):
        body, refusal = self.read_body()
        fault = self.server.fault_for(p)
        mode = fault.get("mode") if fault else None
        if fault:
            self.fault_note = " fault=%s" % mode
        if mode == "delay":
            try:
                time.sleep(max(0.0, float(fault.get("seconds", 5))))
            except (TypeError, ValueError):
                self.server.log("fault delay: bad seconds %r" % fault.get("seconds"))
        elif mode == "drop":
            self.close_connection = True
            self.connection.fc_abrupt = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        elif mode == "status":
            code = _code(fault.get("code"), 500)
            headers = {"Retry-After": str(fault["retry-after"])} if "retry-after" in fault else {}
            return self.send(Reply(code, status_obj(code, fault.get("message")), headers=headers))
        elif mode == "redirect":
            loc = fault.get("location") or self.server.base + REDIRECT_PREFIX + self.path
            return self.send(Reply(_code(fault.get("code"), 302), "", None, {"Location": loc}))
        elif mode == "clock":
            off = fault.get("offset", 0)
            self.date_offset = off if isinstance(off, int) and not isinstance(off, bool) and \
                abs(off) < 10 ** 9 else 0
        if p.startswith(REDIRECT_PREFIX + "/"):
            p = p[len(REDIRECT_PREFIX):]
        try:
            r = refusal or self.route(p, body, mode)
        except Exception as e:   # a bug or a corrupt state file: still answer, as the apiserver would
            self.server.log("%s %s: internal error: %s: %s" % (self.command, p, type(e).__name__, e))
            r = Reply(500, status_obj(500, "Internal error occurred: %s" % type(e).__name__))
        if mode in ("huge", "malformed", "wrong-kind"):
            r = bend(r, fault)
        self.send(r)

    # ------------------------------------------------------------ authn/authz
    def caller(self):
        """(user dict or None, Reply or None): x509 first, then bearer, like the apiserver."""
        cert = self.connection.getpeercert()
        if cert:
            cn, orgs = None, []
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        orgs.append(v)
            if cn:
                return {"username": cn, "groups": orgs + ["system:authenticated"]}, None
        auth = self.headers.get("Authorization", "").strip()
        parts = auth.split(" ", 2)
        if len(parts) >= 2 and parts[0].lower() == "bearer" and parts[1]:
            with core.state(self.server.dir) as st:
                res = core.authenticate_token(self.server.dir, st, parts[1], [], self.server.base,
                                              self.server.sa_pub)
            if not res.ok:
                return None, Reply(401, status_obj(401))
            return res.user, None
        return None, None

    def authorize(self):
        """The caller, or a Reply (401/403) refusing the request."""
        user, refusal = self.caller()
        if refusal:
            return None, refusal
        if user is None:
            # Anonymous requests only for the discovery paths (an
            # AuthenticationConfiguration `anonymous.conditions` setup).
            return None, Reply(401, status_obj(401))
        self.user = user["username"]
        return user, None

    # ------------------------------------------------------------ routes
    def route(self, p, body, mode):
        srv = self.server
        if p in PUBLIC_PATHS or p.startswith("/idp/"):
            user, refusal = self.caller()
            if refusal:
                return refusal
            self.user = user["username"] if user else "system:anonymous"
            if self.command not in ("GET", "HEAD"):
                return Reply(405, status_obj(405, "the server does not allow this method on the requested resource"))
            return self.public(p)
        user, refusal = self.authorize()
        if refusal:
            return refusal
        masters = "system:masters" in user["groups"]
        if p == TOKENREVIEWS:
            if self.command != "POST":
                if masters:
                    return Reply(405, status_obj(405, "the server does not allow this method on the "
                                                 "requested resource"))
                verb = {"GET": "list", "HEAD": "list", "DELETE": "deletecollection"}.get(
                    self.command, self.command.lower())
                return Reply(*forbidden(user["username"], verb, "tokenreviews", "authentication.k8s.io"))
            if user["username"] != core.REVIEWER_USER and not masters:
                return Reply(*forbidden(user["username"], "create", "tokenreviews", "authentication.k8s.io"))
            return self.tokenreview(body, mode)
        if p == SSARS:
            if self.command != "POST":
                if masters:
                    return Reply(405, status_obj(405, "the server does not allow this method on the "
                                                 "requested resource"))
                verb = {"GET": "list", "HEAD": "list", "DELETE": "deletecollection"}.get(
                    self.command, self.command.lower())
                return Reply(*forbidden(user["username"], verb, "selfsubjectaccessreviews",
                                        "authorization.k8s.io"))
            return self.ssar(user, body)
        m = API_RE.match(p)
        if not m:
            return Reply(404, status_obj(404, "the server could not find the requested resource",
                                         details={}))
        ns, kind, name, tok = m.groups()
        if not masters:
            verb = {"GET": "get" if name else "list", "POST": "create", "DELETE": "delete"}.get(
                self.command, self.command.lower())
            return Reply(*forbidden(user["username"], verb, kind, "", name, ns, "token" if tok else None))
        return srv_api(srv, self.command, ns, kind, name, bool(tok), body,
                       self.headers.get("Content-Type"))

    def public(self, p):
        srv = self.server
        if p in ("/healthz", "/livez", "/readyz"):
            return Reply(200, "ok", "text/plain; charset=utf-8")
        if p == "/version":
            return Reply(200, {"major": "1", "minor": "20", "gitVersion": "v1.20.2-fakecluster",
                               "platform": "linux/amd64"})
        hdr = {"Cache-Control": "public, max-age=3600"}
        if p == "/.well-known/openid-configuration":
            return Reply(200, {"issuer": srv.base, "jwks_uri": srv.base + "/openid/v1/jwks",
                               "response_types_supported": ["id_token"],
                               "subject_types_supported": ["public"],
                               "id_token_signing_alg_values_supported": ["RS256"]}, headers=hdr)
        if p == "/openid/v1/jwks":
            # The apiserver serves its JWKS only as application/jwk-set+json
            # and answers 406 to an Accept header that excludes it.
            accept = self.headers.get("Accept")
            if accept and not any(t.split(";")[0].strip().lower() in
                                  ("*/*", "application/*", "application/jwk-set+json")
                                  for t in accept.split(",")):
                return Reply(406, status_obj(406, "only the following media types are accepted: "
                                                  "application/jwk-set+json"))
            return Reply(200, core.sa_jwks(srv.sa_pub), "application/jwk-set+json", hdr)
        idp = srv.base + "/idp"
        if p == "/idp/.well-known/openid-configuration":
            return Reply(200, {
                "issuer": idp, "authorization_endpoint": idp + "/auth", "token_endpoint": idp + "/token",
                "jwks_uri": idp + "/keys", "userinfo_endpoint": idp + "/userinfo",
                "response_types_supported": ["code", "id_token", "code id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": list(core.IDP_ALGS),
                "scopes_supported": ["openid", "email", "groups", "profile", "offline_access"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "claims_supported": ["iss", "sub", "aud", "iat", "exp", "email", "email_verified",
                                     "groups", "name"]}, headers=hdr)
        if p == "/idp/keys":
            return Reply(200, core.idp_jwks(srv.dir), headers=hdr)
        return Reply(404, status_obj(404, "the server could not find the requested resource", details={}))

    def tokenreview(self, body, mode):
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        if ctype != "application/json":
            return Reply(415, status_obj(415, "the body of the request was in an unknown format - accepted "
                                         "media types include: application/json, application/yaml, "
                                         "application/vnd.kubernetes.protobuf"))
        obj, err = parse_object(body, "TokenReview", "authentication.k8s.io/v1")
        if err:
            return err
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        token = spec.get("token")
        auds = spec.get("audiences")
        if token is not None and not isinstance(token, str) or auds is not None and (
                not isinstance(auds, list) or not all(isinstance(a, str) for a in auds)):
            return Reply(400, status_obj(400, "TokenReview in version \"v1\" cannot be handled as a "
                                         "TokenReview: json: cannot unmarshal spec"))
        if not token:
            return Reply(400, status_obj(400, "token is required for TokenReview in authentication"))
        with core.state(self.server.dir) as st:
            res = core.authenticate_token(self.server.dir, st, token, auds or [], self.server.base,
                                          self.server.sa_pub)
        out_spec = {"token": token}
        if auds:
            out_spec["audiences"] = auds
        status = {}
        if res.ok:
            status["authenticated"] = True
            status["user"] = res.user
            if res.audiences:
                status["audiences"] = res.audiences
        else:
            status["user"] = {}
            status["error"] = res.error
        if res.ok and mode == "empty-audiences":
            status["audiences"] = []
        elif res.ok and mode == "no-audiences":
            status.pop("audiences", None)
        elif res.ok and mode == "wrong-audiences":
            fault = self.server.fault_for(TOKENREVIEWS) or {}
            status["audiences"] = fault.get("audiences", ["not-the-audience-you-asked-for"])
        return Reply(201, {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                           "metadata": {"creationTimestamp": None}, "spec": out_spec, "status": status})

    def ssar(self, user, body):
        """SelfSubjectAccessReview: may the caller do this?  Answered from the
        fixed RBAC above: system:masters may do anything, the reviewer
        create tokenreviews and subjectaccessreviews (docs/rbac-reviewer.yaml),
        every authenticated user create self-subject reviews (system:basic-user)."""
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        if ctype != "application/json":
            return Reply(415, status_obj(415, "the body of the request was in an unknown format - accepted "
                                         "media types include: application/json, application/yaml, "
                                         "application/vnd.kubernetes.protobuf"))
        obj, err = parse_object(body, "SelfSubjectAccessReview", "authorization.k8s.io/v1")
        if err:
            return err
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        if ra is not None and not isinstance(ra, dict) or nra is not None and not isinstance(nra, dict) or \
                any(not isinstance(v, str) for a in (ra or {}, nra or {}) for v in a.values()):
            return Reply(400, status_obj(400, "SelfSubjectAccessReview in version \"v1\" cannot be handled "
                                         "as a SelfSubjectAccessReview: json: cannot unmarshal spec"))
        if (ra is None) == (nra is None):
            # 1.20 names the kind from the decoded object's empty TypeMeta:
            # ".authorization.k8s.io", and Go's %#v of the attributes
            if ra is not None:
                what = ('spec.nonResourceAttributes: Invalid value: authorization.NonResourceAttributes'
                        '{Path:"%s", Verb:"%s"}: cannot be specified in combination with resourceAttributes'
                        % (nra.get("path", ""), nra.get("verb", "")))
            else:
                what = ('spec.resourceAttributes: Invalid value: "null": exactly one of '
                        'nonResourceAttributes or resourceAttributes must be specified')
            field, msg = what.split(": ", 1)
            return Reply(422, status_obj(422, '.authorization.k8s.io "" is invalid: ' + what, "Invalid",
                                         {"group": "authorization.k8s.io",
                                          "causes": [{"reason": "FieldValueInvalid", "message": msg,
                                                      "field": field}]}))
        status = {"allowed": False}
        if ra is not None:
            out_spec = {"resourceAttributes": {k: ra[k] for k in RESOURCE_ATTRS if ra.get(k)}}
            key = (ra.get("verb", ""), ra.get("group", ""), ra.get("resource", ""))
            if "system:masters" in user["groups"]:
                status["allowed"] = True
            elif not ra.get("subresource"):
                reason = BASIC_USER_RULES.get(key) or (
                    REVIEWER_RULES.get(key) if user["username"] == core.REVIEWER_USER else None)
                if reason:
                    status = {"allowed": True, "reason": reason}
        else:
            out_spec = {"nonResourceAttributes": {k: nra[k] for k in ("path", "verb") if nra.get(k)}}
            status["allowed"] = "system:masters" in user["groups"]
        return Reply(201, {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                           "metadata": {"creationTimestamp": None}, "spec": out_spec, "status": status})


INTERNAL = {"TokenReview": "authentication", "TokenRequest": "authentication",
            "SelfSubjectAccessReview": "authorization",
            "ServiceAccount": "core", "Pod": "core"}


def _go_json_error(body, e):
    """Roughly encoding/json's wording, then the body, as the apiserver quotes it."""
    text = body.decode("utf-8", "replace")
    pos = getattr(e, "pos", len(text))
    if pos >= len(text.rstrip()):
        msg = "unexpected end of JSON input"
    elif "property name" in str(e):
        msg = "invalid character %r looking for beginning of object key string" % text[pos]
    else:
        msg = "invalid character %r looking for beginning of value" % text[pos]
    return "%s (%s)" % (msg.replace('"', "'"), text[:2048])


def parse_object(body, kind, api_version):
    """Decode a request object the way the apiserver's codec refuses bad ones."""
    pfx = "the object provided is unrecognized (must be of type %s): couldn't get version/kind; " \
          "json parse error: " % kind
    try:
        obj = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        return None, Reply(400, status_obj(400, pfx + _go_json_error(body, e)))
    if not isinstance(obj, dict):
        return None, Reply(400, status_obj(400, pfx + "json: cannot unmarshal %s into Go value of type "
                                           "struct { APIVersion string; Kind string }" % type(obj).__name__))
    k, v = obj.get("kind"), obj.get("apiVersion")
    if k not in (None, "") and k != kind:
        version = (v or "").split("/")[-1]
        return None, Reply(400, status_obj(400, '%s in version "%s" cannot be handled as a %s: '
                                           "converting (%s.%s) to (%s.%s): unknown conversion" % (
                                               k, version, kind, version, k, INTERNAL[kind], kind)))
    if v not in (None, "") and v != api_version:
        return None, Reply(400, status_obj(400, "the API version in the data (%s) does not match the "
                                           "expected API version (%s)" % (v, api_version)))
    return obj, None


def bend(r, fault):
    """The response-shaped faults: huge, malformed, wrong-kind."""
    mode = fault["mode"]
    code = _code(fault.get("code"), 201)
    obj = r.body if isinstance(r.body, dict) else {"kind": "TokenReview", "status": {}}
    if mode == "wrong-kind":
        obj = dict(obj, kind=fault.get("kind", "SubjectAccessReview"),
                   apiVersion=fault.get("apiVersion", "authorization.k8s.io/v1"))
        return Reply(code, obj, r.ctype, r.headers)
    text = json.dumps(obj, separators=(",", ":"))
    if mode == "huge":
        # A complete, well-formed answer that is simply too big: only a size
        # limit in the client can refuse it.
        size = _int(fault.get("bytes"), HUGE_BYTES)
        pad = max(0, size - len(text) - 9)
        text = text[:-1] + ',"pad":"' + "x" * pad + '"}'
        return Reply(code, text, r.ctype, r.headers)
    return Reply(code, text[:max(1, len(text) // 2)], r.ctype, r.headers)


# ---------------------------------------------------------------- object API
def _meta(ns, name, obj):
    return {"name": name, "namespace": ns, "uid": obj["uid"], "resourceVersion": obj.get("rv", "1"),
            "creationTimestamp": obj["created"]}


def _sa_obj(ns, name, sa):
    return {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": _meta(ns, name, sa)}


def _pod_obj(ns, name, pod):
    spec = {"nodeName": pod["node"]} if pod.get("node") else {}
    return {"kind": "Pod", "apiVersion": "v1", "metadata": _meta(ns, name, pod), "spec": spec,
            "status": {"phase": "Running" if pod.get("node") else "Pending"}}


def _secret_obj(ns, name, sec):
    meta = _meta(ns, name, sec)
    meta["annotations"] = {"kubernetes.io/service-account.name": sec.get("sa", "")}
    return {"kind": "Secret", "apiVersion": "v1", "metadata": meta,
            "type": "kubernetes.io/service-account-token"}


def _not_found(kind, name):
    return Reply(404, status_obj(404, '%s "%s" not found' % (kind, name), "NotFound",
                                 {"name": name, "kind": kind}))


def _invalid(kind, name, field, value, detail, group=""):
    msg = "Invalid value: %s: %s" % (json.dumps(value), detail)
    details = {"name": name} if name else {}
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [{"reason": "FieldValueInvalid", "message": msg, "field": field}]
    return Reply(422, status_obj(422, '%s%s "%s" is invalid: %s: %s' % (
        kind, "." + group if group else "", name, field, msg), "Invalid", details))


def srv_api(srv, method, ns, kind, name, token, body, ctype):
    if not core.LABEL_RE.match(ns):
        return _not_found("namespaces", ns)
    if method == "POST":
        ctype = (ctype or "application/json").split(";")[0].strip().lower()
        if ctype == PROTOBUF and token:
            # what kubectl >= 1.24 sends for `kubectl create token` (its
            # clientset speaks protobuf); kubectl 1.20's `create --raw -f`
            # sends no Content-Type, which the apiserver reads as JSON
            body, err = protobuf_token_request(body)
            if err:
                return err
        elif ctype != "application/json":
            return Reply(415, status_obj(415, "the body of the request was in an unknown format - "
                                         "accepted media types include: application/json" +
                                         (", " + PROTOBUF if token else "")))
    if token:
        if method != "POST":
            return Reply(405, status_obj(405, "the server does not allow this method on the requested resource"))
        return token_request(srv, ns, name, body)
    table_kind = {"serviceaccounts": "ServiceAccount", "pods": "Pod", "secrets": "Secret"}[kind]
    render = {"serviceaccounts": _sa_obj, "pods": _pod_obj, "secrets": _secret_obj}[kind]
    with core.state(srv.dir, write=method in ("POST", "DELETE")) as st:
        table = st[kind]
        if method == "GET" and not name:
            items = [render(*k.split("/"), v) for k, v in sorted(table.items()) if k.startswith(ns + "/")]
            return Reply(200, {"kind": table_kind + "List", "apiVersion": "v1",
                               "metadata": {"resourceVersion": str(st["rv"])}, "items": items})
        if method == "POST" and not name:
            if kind == "secrets":
                return Reply(405, status_obj(405, "the server does not allow this method on the requested resource"))
            obj, err = parse_object(body, table_kind, "v1")
            if err:
                return err
            meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
            new = meta.get("name")
            if not isinstance(new, str) or not core.SUBDOMAIN_RE.match(new):
                return _invalid(table_kind, new if isinstance(new, str) else "", "metadata.name", new,
                                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                                "characters, '-' or '.'")
            if ns + "/" + new in table:
                return Reply(409, status_obj(409, '%s "%s" already exists' % (kind, new), "AlreadyExists",
                                             {"name": new, "kind": kind}))
            if kind == "serviceaccounts":
                created = core.new_sa(st, ns, new)
            else:
                spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
                created = core.new_pod(st, ns, new, node=spec.get("nodeName"))
            return Reply(201, render(ns, new, created))
        if not name or method not in ("GET", "DELETE"):
            return Reply(405, status_obj(405, "the server does not allow this method on the requested resource"))
        obj = table.get(ns + "/" + name)
        if obj is None:
            return _not_found(kind, name)
        if method == "DELETE":
            del table[ns + "/" + name]
        return Reply(200, render(ns, name, obj))


PROTOBUF = "application/vnd.kubernetes.protobuf"


def _pb_fields(buf):
    """The (field number, wire type, value) of one protobuf message; raises ValueError."""
    i, out = 0, []
    def varint():
        nonlocal i
        v = shift = 0
        while True:
            if i >= len(buf) or shift > 63:
                raise ValueError("truncated varint")
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v
    while i < len(buf):
        key = varint()
        num, wt = key >> 3, key & 7
        if wt == 0:
            out.append((num, wt, varint()))
        elif wt == 2:
            n = varint()
            if i + n > len(buf):
                raise ValueError("truncated bytes")
            out.append((num, wt, bytes(buf[i:i + n])))
            i += n
        elif wt in (1, 5):
            n = 8 if wt == 1 else 4
            if i + n > len(buf):
                raise ValueError("truncated fixed")
            out.append((num, wt, bytes(buf[i:i + n])))
            i += n
        else:
            raise ValueError("wire type %d" % wt)
    return out


def protobuf_token_request(body):
    """A TokenRequest in the apiserver's protobuf envelope ("k8s\\0" and a
    runtime.Unknown {typeMeta{apiVersion, kind}, raw}) as the JSON body
    token_request() reads: audiences (1), boundObjectRef (3: kind, apiVersion,
    name, uid), expirationSeconds (4) of authentication/v1 TokenRequestSpec."""
    bad = Reply(400, status_obj(400, "the object provided is unrecognized (must be of type TokenRequest): "
                                "couldn't get version/kind; protobuf parse error"))
    if not body.startswith(b"k8s\x00"):
        return None, bad
    try:
        unknown = _pb_fields(body[4:])
        tm = {n: v for n, w, v in unknown if n == 1 and w == 2}
        raw = [v for n, w, v in unknown if n == 2 and w == 2]
        meta = {n: v.decode() for n, w, v in _pb_fields(tm.get(1, b"")) if w == 2}
        obj = {"apiVersion": meta.get(1, ""), "kind": meta.get(2, "")}
        spec = {}
        for n, w, v in _pb_fields(raw[0] if raw else b""):
            if n != 2 or w != 2:
                continue
            for sn, sw, sv in _pb_fields(v):
                if sn == 1 and sw == 2:
                    spec.setdefault("audiences", []).append(sv.decode())
                elif sn == 4 and sw == 0:
                    spec["expirationSeconds"] = sv - (1 << 64) if sv >> 63 else sv
                elif sn == 3 and sw == 2:
                    names = {1: "kind", 2: "apiVersion", 3: "name", 4: "uid"}
                    spec["boundObjectRef"] = {names[rn]: rv.decode() for rn, rw, rv in _pb_fields(sv)
                                              if rw == 2 and rn in names}
        obj["spec"] = spec
    except (ValueError, UnicodeDecodeError):
        return None, bad
    return json.dumps(obj).encode(), None


def token_request(srv, ns, name, body):
    obj, err = parse_object(body, "TokenRequest", "authentication.k8s.io/v1")
    if err:
        return err
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    auds = spec.get("audiences") or [srv.base]
    secs = spec.get("expirationSeconds", 3600)
    ref = spec.get("boundObjectRef")
    if not isinstance(auds, list) or not all(isinstance(x, str) for x in auds) or \
            isinstance(secs, bool) or not isinstance(secs, int):
        return Reply(400, status_obj(400, 'TokenRequest in version "v1" cannot be handled as a '
                                     "TokenRequest: json: cannot unmarshal spec"))
    if secs < 600:
        return _invalid("TokenRequest", "", "spec.expirationSeconds", secs,
                        "may not specify a duration less than 10 minutes", "authentication.k8s.io")
    if secs > 1 << 32:
        return _invalid("TokenRequest", "", "spec.expirationSeconds", secs,
                        "may not specify a duration larger than 2^32 seconds", "authentication.k8s.io")
    now = int(time.time())
    with core.state(srv.dir, write=True) as st:
        sa = st["serviceaccounts"].get(ns + "/" + name)
        if sa is None:
            return _not_found("serviceaccounts", name)
        pod = node = None
        out_ref = None
        if isinstance(ref, dict):
            if ref.get("kind") != "Pod" or not isinstance(ref.get("name"), str) or \
                    not core.SUBDOMAIN_RE.match(ref["name"]):
                return Reply(400, status_obj(400, 'cannot bind token for serviceaccount "%s" to object '
                                             'of kind "%s"' % (name, ref.get("kind"))))
            # Unlike a real cluster, naming a pod that does not exist creates it.
            p = st["pods"].get(ns + "/" + ref["name"])
            if p is None:
                p = core.new_pod(st, ns, ref["name"], uid=ref.get("uid") or None)
            elif ref.get("uid") and ref["uid"] != p["uid"]:
                return Reply(409, status_obj(409, 'Operation cannot be fulfilled on Pod "%s": the UID in '
                                             "the bound object reference (%s) does not match the UID in "
                                             "record. The object might have been deleted and then "
                                             "recreated" % (ref["name"], ref["uid"]), "Conflict",
                                             {"name": ref["name"], "kind": "Pod"}))
            pod = (ref["name"], p["uid"])
            if p.get("node"):
                node = (p["node"], str(uuid.uuid5(uuid.NAMESPACE_URL, "node/" + p["node"])))
            out_ref = {"kind": "Pod", "apiVersion": "v1", "name": ref["name"], "uid": p["uid"]}
        jti = str(uuid.uuid4()) if srv.mint_jti else None
        claims = core.sa_claims(st, ns, name, srv.base, auds, now, now + secs, pod, node if jti else None, jti)
    tok = core.sign_sa_token(srv.sa_key, claims)
    return Reply(201, {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                       "metadata": {"creationTimestamp": None},
                       "spec": {"audiences": auds, "expirationSeconds": secs, "boundObjectRef": out_ref},
                       "status": {"token": tok, "expirationTimestamp": core.rfc3339(now + secs)}})


# ---------------------------------------------------------------- main
def _die_with(parent):
    """SIGTERM when the parent goes (PR_SET_PDEATHSIG), polled as a fallback."""
    import ctypes
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)   # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        sys.exit(0)


def _watchdog(server, a, parent):
    deadline = time.monotonic() + a.lifetime if a.lifetime > 0 else None
    while True:
        time.sleep(0.25)
        if a.die_with_parent and os.getppid() != parent:
            server.log("parent %d gone: exiting" % parent)
            break
        if deadline and time.monotonic() > deadline:
            server.log("lifetime %.0fs over: exiting" % a.lifetime)
            break
    server.shutdown()


def serve(a):
    import fakecluster
    parent = os.getppid()
    if a.die_with_parent:
        _die_with(parent)
    d = a.dir
    server = Server((a.host, a.port), Handler, a)
    fakecluster.write_kubeconfigs(d, server.base)
    core.write_file(path(d, "port"), "%d\n" % server.server_address[1], 0o644)
    core.write_file(path(d, "url"), server.base + "\n", 0o644)
    server.log("serving %s (pid %d)" % (server.base, os.getpid()))

    def stop(signum, _frame):
        server.log("signal %d: exiting" % signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if a.die_with_parent or a.lifetime > 0:
        threading.Thread(target=_watchdog, args=(server, a, parent), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0
