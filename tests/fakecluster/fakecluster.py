#!/usr/bin/python3
"""fakecluster: a local stand-in for a Kubernetes apiserver's authentication
surface (TokenReview, TokenRequest, service-account OIDC discovery) plus an
OIDC identity provider, over real TLS.  See README.md beside this file.

  fakecluster.py init  --dir D [--host 127.0.0.1] [--port P] [--tls-key ec|rsa]
  fakecluster.py serve --dir D [--host 127.0.0.1] [--port 0] [--lifetime S] [--die-with-parent] [--jti]
  fakecluster.py mint  --dir D --sa NS/NAME [--aud A]... [--ttl S] [--pod NAME] [--node NAME]
                       [--iat T] [--nbf T] [--exp T] [--no-exp] [--legacy] [--secret NAME]
                       [--jti [ID]] [--pad N] [--iss URL] [--kid K] [--key PEM]
  fakecluster.py idp-mint --dir D [--alg ES256] [--claims JSON] [--kid K] [--header-extra JSON]
                       [--groups N] [--iss URL] [--ttl S]
  fakecluster.py sa  create|delete|get NS/NAME --dir D
  fakecluster.py pod create|delete|get NS/NAME --dir D [--node NAME]
  fakecluster.py secret delete NS/NAME --dir D
  fakecluster.py bootstrap-token --dir D [--groups G,G] [--ttl S]

Tokens are printed on stdout (one line) and never logged.  Exit 0 ok, 1 on
failure, 2 on a usage error.
"""
import argparse
import base64
import contextlib
import fcntl
import hashlib
import ipaddress
import json
import multiprocessing
import os
import secrets
import stat
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc_core as core  # noqa: E402
from fc_core import UsageError, path  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

CERT_DAYS = 30


# ---------------------------------------------------------------- init
def _rsa_pem(_):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _pem(key)


def _pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _rsa_keys(n):
    """N RSA-2048 keys: from the key pool first, the rest made here, in parallel."""
    pems = _pool_take(n)
    need = n - len(pems)
    if need == 1:
        pems.append(_rsa_pem(0))
    elif need > 1:
        with multiprocessing.get_context("fork").Pool(min(need, os.cpu_count() or 1)) as pool:
            pems += pool.map(_rsa_pem, range(need))
    _pool_refill()
    return pems


# RSA-2048 generation takes 0.3-0.9 s a key on a loaded 2-core machine, so
# `init` takes its keys from a private pool of ready ones, each used once,
# and a detached helper tops the pool up for the next cluster.
POOL_TARGET = 9


def _pool_dir():
    p = os.environ.get("FC_KEYPOOL") or os.path.join(tempfile.gettempdir(),
                                                     "fakecluster-keypool-%d" % os.getuid())
    if p == "off":
        return None
    try:
        os.makedirs(p, mode=0o700, exist_ok=True)
        st = os.lstat(p)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return p


def _pool_take(n):
    pool, pems = _pool_dir(), []
    if not pool:
        return pems
    for name in sorted(os.listdir(pool)):
        if len(pems) == n:
            break
        if not name.endswith(".pem"):
            continue
        claim = os.path.join(pool, name + ".%d.claimed" % os.getpid())
        try:
            os.rename(os.path.join(pool, name), claim)   # atomic: one taker per key
            with open(claim, "rb") as f:
                pems.append(f.read())
            os.unlink(claim)
        except OSError:
            continue
    return pems


def _pool_refill():
    pool = _pool_dir()
    if not pool or len([x for x in os.listdir(pool) if x.endswith(".pem")]) >= POOL_TARGET:
        return
    subprocess.Popen([sys.executable, os.path.abspath(__file__), "keypool-fill", "--dir", pool],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True, close_fds=True)


def cmd_keypool_fill(a):
    pool = a.dir
    fd = os.open(os.path.join(pool, ".fill.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0        # another filler is at it
    with contextlib.suppress(OSError):
        os.nice(10)
    while len([x for x in os.listdir(pool) if x.endswith(".pem")]) < POOL_TARGET:
        core.write_file(os.path.join(pool, "%.6f-%s.pem" % (time.time(), secrets.token_hex(4))),
                        _rsa_pem(0), 0o600)
    return 0


def _name(cn, org=None):
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _cert(subject, pub, issuer_name, issuer_key, ca=False, server_names=None, client=False):
    now = time.time()
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
         .public_key(pub).serial_number(x509.random_serial_number())
         .not_valid_before(_dt(now - 3600)).not_valid_after(_dt(now + CERT_DAYS * 86400)))
    b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
    if ca:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                            critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False),
                            critical=True)
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                            critical=False)
        eku = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        b = b.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    if server_names:
        b = b.add_extension(x509.SubjectAlternativeName(server_names), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _dt(t):
    import datetime
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).replace(tzinfo=None)


def _cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _san(host):
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    try:
        ip = ipaddress.ip_address(host)
        if str(ip) != "127.0.0.1":
            names.append(x509.IPAddress(ip))
    except ValueError:
        if host != "localhost":
            names.append(x509.DNSName(host))
    return names


def kubeconfig(d, server, user_name, user_lines):
    """A kubeconfig laid out exactly as `kubectl config` writes one."""
    ca = base64.b64encode(open(path(d, "ca_crt"), "rb").read()).decode()
    return ("apiVersion: v1\n"
            "clusters:\n"
            "- cluster:\n"
            "    certificate-authority-data: %s\n"
            "    server: %s\n"
            "  name: fakecluster\n"
            "contexts:\n"
            "- context:\n"
            "    cluster: fakecluster\n"
            "    user: %s\n"
            "  name: fakecluster\n"
            "current-context: fakecluster\n"
            "kind: Config\n"
            "preferences: {}\n"
            "users:\n"
            "- name: %s\n"
            "  user:\n%s") % (ca, server, user_name, user_name,
                              "".join("    %s: %s\n" % kv for kv in user_lines))


def write_kubeconfigs(d, server):
    """kubeconfig (token), -tokenfile, -cert, -forbidden, -admin."""
    tok = lambda k: core.read_text(d, k)  # noqa: E731
    b64f = lambda k: base64.b64encode(open(path(d, k), "rb").read()).decode()  # noqa: E731
    files = {
        "kubeconfig": ("k8s-auth-reviewer", [("token", tok("reviewer_token"))]),
        "kubeconfig-tokenfile": ("k8s-auth-reviewer", [("tokenFile", path(d, "reviewer_token"))]),
        "kubeconfig-cert": ("k8s-auth-reviewer", [("client-certificate-data", b64f("reviewer_crt")),
                                                  ("client-key-data", b64f("reviewer_key"))]),
        "kubeconfig-forbidden": ("powerless", [("token", tok("forbidden_token"))]),
        "kubeconfig-admin": ("kubernetes-admin", [("token", tok("admin_token"))]),
    }
    for name, (user, lines) in files.items():
        core.write_file(os.path.join(d, name), kubeconfig(d, server, user, lines), 0o600)


def cmd_init(a):
    d = a.dir
    os.makedirs(d, mode=0o700, exist_ok=True)
    os.chmod(d, 0o700)
    rsa_pems = _rsa_keys(3 + (3 if a.tls_key == "rsa" else 0))
    sa_pem, rs_pem, ps_pem = rsa_pems[:3]
    if a.tls_key == "rsa":
        tls = [serialization.load_pem_private_key(p, None) for p in rsa_pems[3:]]
    else:
        tls = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
    ca_key, srv_key, cli_key = tls
    ca_name = _name("fakecluster-ca")
    ca = _cert(ca_name, ca_key.public_key(), ca_name, ca_key, ca=True)
    srv = _cert(_name("kube-apiserver"), srv_key.public_key(), ca_name, ca_key,
                server_names=_san(a.host))
    cli = _cert(_name(core.REVIEWER_USER), cli_key.public_key(), ca_name, ca_key, client=True)
    w = core.write_file
    w(path(d, "ca_crt"), _cert_pem(ca), 0o644)
    w(path(d, "ca_key"), _pem(ca_key))
    w(path(d, "server_crt"), _cert_pem(srv) + _cert_pem(ca), 0o644)
    w(path(d, "server_key"), _pem(srv_key))
    w(path(d, "reviewer_crt"), _cert_pem(cli), 0o644)
    w(path(d, "reviewer_key"), _pem(cli_key))
    w(path(d, "sa_key"), sa_pem)
    sa_key = serialization.load_pem_private_key(sa_pem, None)
    w(path(d, "sa_pub"), sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
    idp = {"RS256": rs_pem, "PS256": ps_pem,
           "ES256": _pem(ec.generate_private_key(ec.SECP256R1())),
           "ES384": _pem(ec.generate_private_key(ec.SECP384R1())),
           "EdDSA": _pem(ed25519.Ed25519PrivateKey.generate())}
    for alg, pem in idp.items():
        w(os.path.join(d, core.idp_key_file(alg)), pem)
    toks = {k: secrets.token_urlsafe(32) for k in ("reviewer_token", "forbidden_token", "admin_token")}
    for k, v in toks.items():
        w(path(d, k), v)
    w(path(d, "static"),
      '%s,%s,%s,"system:serviceaccounts,system:serviceaccounts:kube-system"\n'
      '%s,%s,%s,"system:serviceaccounts,system:serviceaccounts:kube-system"\n'
      '%s,%s,%s,"system:masters"\n' % (
          toks["reviewer_token"], core.REVIEWER_USER, uuid.uuid4(),
          toks["forbidden_token"], core.FORBIDDEN_USER, uuid.uuid4(),
          toks["admin_token"], core.ADMIN_USER, uuid.uuid4()))
    with core.state(d, write=True) as st:
        st.clear()
        st.update(core.empty_state())
    for stale in ("port", "url", "fault", "requests"):
        try:
            os.unlink(path(d, stale))
        except FileNotFoundError:
            pass
    host = "[%s]" % a.host if ":" in a.host else a.host
    write_kubeconfigs(d, "https://%s:%d" % (host, a.port))
    return 0


# ---------------------------------------------------------------- minting
def _issuer(d, given):
    if given:
        return given
    url = core.base_url(d)
    if not url:
        raise UsageError("%s: no url yet: start `serve` first or pass --iss" % path(d, "url"))
    return url


def _pod(st, ns, name, node):
    pod = st["pods"].get(ns + "/" + name) or core.new_pod(st, ns, name, node=node)
    if node and not pod.get("node"):
        pod["node"] = node
    return pod


def cmd_mint(a):
    ns, name = core.split_ref(a.sa)
    key = core.load_private_key(a.key or path(a.dir, "sa_key"))
    now = int(time.time())
    with core.state(a.dir, write=True) as st:
        if a.legacy:
            secret = a.secret or "%s-token-%s" % (name, secrets.token_hex(3)[:5])
            claims = core.legacy_claims(st, ns, name, secret)
            if a.exp is not None:
                claims["exp"] = a.exp
            if a.iss:
                claims["iss"] = a.iss
        else:
            iss = _issuer(a.dir, a.iss)
            iat = a.iat if a.iat is not None else now
            exp = None if a.no_exp else (a.exp if a.exp is not None else iat + a.ttl)
            pod = node = None
            if a.pod:
                p = _pod(st, ns, a.pod, a.node)
                pod = (a.pod, p["uid"])
                if p.get("node"):
                    node = (p["node"], str(uuid.uuid5(uuid.NAMESPACE_URL, "node/" + p["node"])))
            jti = (a.jti or str(uuid.uuid4())) if a.jti is not None else None
            claims = core.sa_claims(st, ns, name, iss, a.aud or [iss], iat, exp, pod, node, jti)
            if a.nbf is not None:
                claims["nbf"] = a.nbf
        if a.uid:
            if a.legacy:
                claims["kubernetes.io/serviceaccount/service-account.uid"] = a.uid
            else:
                claims["kubernetes.io"]["serviceaccount"]["uid"] = a.uid
        if a.pad:
            claims["pad"] = "x" * a.pad
        if a.size:
            token = _sized(a.size, lambda n, _h: core.sign_sa_token(key, dict(claims, pad="x" * n), a.kid),
                           header_pad=False)
        else:
            token = core.sign_sa_token(key, claims, a.kid)
        if a.legacy:
            st["secrets"][ns + "/" + secret] = {
                "sa": name, "uid": str(uuid.uuid4()), "created": core.rfc3339(now),
                "sha256": hashlib.sha256(token.encode()).hexdigest()}
    print(token)
    return 0


def _seconds(text):
    """A NumericDate for --iat/--nbf/--exp: an integer, or any finite JSON
    number (1.5e9, 1e300: written as a JSON real)."""
    try:
        return int(text)
    except ValueError:
        pass
    v = float(text)
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError("not a finite number: " + text)
    return v


def _json_arg(text, what):
    try:
        v = json.loads(text)
    except ValueError as e:
        raise UsageError("%s is not JSON: %s" % (what, e)) from None
    if not isinstance(v, dict):
        raise UsageError("%s must be a JSON object" % what)
    return v


def _merge(base, over):
    """OVER's members replace BASE's; a null member removes it."""
    for k, v in over.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return base


def _sized(size, make, header_pad):
    """MAKE(n, h) with a claim of n bytes (and a header member of h bytes
    when HEADER_PAD) sized so the token is SIZE long.  base64url is never
    1 mod 4 long, so without the header the token may come out SIZE+1."""
    base = len(make(0, 0))
    if size < base:
        raise UsageError("--size %d is below the smallest such token (%d)" % (size, base))
    guess = (size - base) * 3 // 4
    wants = (size,) if header_pad else (size, size + 1)
    for want in wants:
        for h in range(0, 6 if header_pad else 1):
            for n in range(max(0, guess - 20), guess + 8):
                token = make(n, h)
                if len(token) == want:
                    return token
    raise UsageError("cannot make a token of exactly %d bytes" % size)


def cmd_idp_mint(a):
    keys = {alg: (kid, key) for alg, kid, key in core.idp_keys(a.dir)}
    if a.alg not in keys:
        raise UsageError("--alg must be one of %s" % ", ".join(core.IDP_ALGS))
    kid, key = keys[a.alg]
    now = int(time.time())
    url = core.base_url(a.dir)
    iss = a.iss or (url + "/idp" if url else None)
    if not iss:
        raise UsageError("%s: no url yet: start `serve` first or pass --iss" % path(a.dir, "url"))
    claims = {"iss": iss, "sub": "CgVhbGljZRIFbG9jYWw", "aud": "k8s-auth", "exp": now + a.ttl,
              "iat": now, "email": "alice@example.com", "email_verified": True,
              "name": "Alice Example", "groups": ["team-ops"]}
    if a.groups:
        claims["groups"] = ["team-%04d" % i for i in range(a.groups)]
    _merge(claims, _json_arg(a.claims, "--claims") if a.claims else {})
    header = {"alg": a.alg, "kid": a.kid if a.kid is not None else kid, "typ": "JWT"}
    _merge(header, _json_arg(a.header_extra, "--header-extra") if a.header_extra else {})

    def make(n, h):
        c = dict(claims, pad="p" * n) if a.size else claims
        hd = dict(header, **{"x-pad": "h" * h}) if h else header
        return core.make_jws(key, a.alg, hd, json.dumps(c, separators=(",", ":")).encode())
    print(_sized(a.size, make, header_pad=True) if a.size else make(0, 0))
    return 0


# ---------------------------------------------------------------- objects
def cmd_object(a):
    ns, name = core.split_ref(a.ref)
    key = ns + "/" + name
    kind = {"sa": "serviceaccounts", "pod": "pods", "secret": "secrets"}[a.cmd]
    with core.state(a.dir, write=a.action != "get") as st:
        table = st[kind]
        if a.action == "create":
            if key in table:
                print('%s "%s" already exists' % (kind, name), file=sys.stderr)
                return 1
            obj = core.new_sa(st, ns, name, a.uid) if a.cmd == "sa" else core.new_pod(st, ns, name, node=a.node)
            print(obj["uid"])
        elif key not in table:
            print('%s "%s" not found' % (kind, name), file=sys.stderr)
            return 1
        elif a.action == "delete":
            del table[key]
        else:
            print(table[key]["uid"])
    return 0


def cmd_bootstrap(a):
    tid, sec = secrets.token_hex(3), secrets.token_hex(8)
    with core.state(a.dir, write=True) as st:
        st["bootstrap"][tid] = {
            "secret": hashlib.sha256(sec.encode()).hexdigest(),
            "groups": [g for g in (a.groups or "").split(",") if g],
            "expiration": int(time.time()) + a.ttl if a.ttl else None}
    print("%s.%s" % (tid, sec))
    return 0


def cmd_serve(a):
    import fc_server
    return fc_server.serve(a)


# ---------------------------------------------------------------- CLI
def parser():
    p = argparse.ArgumentParser(prog="fakecluster.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def add(name, fn, **kw):
        s = sub.add_parser(name, **kw)
        s.add_argument("--dir", required=True, help="cluster directory")
        s.set_defaults(fn=fn)
        return s

    s = add("init", cmd_init, help="make keys, certificates, tokens, kubeconfigs in DIR")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0, help="port for the kubeconfigs (serve rewrites them)")
    s.add_argument("--tls-key", choices=("ec", "rsa"), default="ec",
                   help="key type of the CA, server and client certificates")

    s = add("serve", cmd_serve, help="run the HTTPS server until killed")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--lifetime", type=float, default=0, help="exit after this many seconds (0: never)")
    s.add_argument("--die-with-parent", action="store_true", help="exit when the parent process goes")
    s.add_argument("--jti", action="store_true", help="TokenRequest tokens carry a jti (1.29+ style)")

    s = add("mint", cmd_mint, help="mint a service-account token with the signing key")
    s.add_argument("--sa", required=True, metavar="NS/NAME")
    s.add_argument("--aud", action="append", default=[], help="audience (repeat); default: the issuer")
    s.add_argument("--ttl", type=int, default=3600)
    s.add_argument("--pod", help="bind to this pod (created if missing)")
    s.add_argument("--node", help="the pod's node (adds kubernetes.io.node)")
    s.add_argument("--iat", type=_seconds)
    s.add_argument("--nbf", type=_seconds)
    s.add_argument("--exp", type=_seconds)
    s.add_argument("--no-exp", action="store_true")
    s.add_argument("--legacy", action="store_true", help="secret-based token (iss kubernetes/serviceaccount)")
    s.add_argument("--secret", help="legacy token's secret name")
    s.add_argument("--jti", nargs="?", const="", default=None, help="add a jti (random unless given)")
    s.add_argument("--pad", type=int, default=0, help="add a claim 'pad' of N bytes")
    s.add_argument("--size", type=int, default=0, help="pad (claim 'pad') to N bytes of token (or N+1)")
    s.add_argument("--iss")
    s.add_argument("--kid")
    s.add_argument("--uid", help="claim this ServiceAccount uid instead of the current one")
    s.add_argument("--key", help="sign with this PEM RSA key instead of sa.key")

    s = add("idp-mint", cmd_idp_mint, help="mint an OIDC ID token from the IdP keys")
    s.add_argument("--alg", default="RS256", help="|".join(core.IDP_ALGS))
    s.add_argument("--claims", help="JSON object merged over the default claims (null removes)")
    s.add_argument("--kid")
    s.add_argument("--header-extra", help="JSON object merged over the header (null removes)")
    s.add_argument("--groups", type=int, default=0, help="N groups team-0000.. (about 19 bytes of token each)")
    s.add_argument("--size", type=int, default=0, help="exactly N bytes (claim 'pad', header 'x-pad')")
    s.add_argument("--iss")
    s.add_argument("--ttl", type=int, default=3600)

    for kind, actions in (("sa", ("create", "delete", "get")), ("pod", ("create", "delete", "get")),
                          ("secret", ("delete", "get"))):
        s = add(kind, cmd_object, help="%s objects in the state" % kind)
        s.add_argument("action", choices=actions)
        s.add_argument("ref", metavar="NS/NAME")
        if kind == "pod":
            s.add_argument("--node")
        if kind == "sa":
            s.add_argument("--uid", help="create: this uid instead of a random one")

    s = add("keypool-fill", cmd_keypool_fill)   # internal: see _pool_refill

    s = add("bootstrap-token", cmd_bootstrap, help="a bootstrap token (id.secret)")
    s.add_argument("--groups", help="extra groups, comma-separated")
    s.add_argument("--ttl", type=int, default=0)
    return p


def main(argv=None):
    a = parser().parse_args(argv)
    a.dir = os.path.abspath(a.dir)
    if a.cmd not in ("init", "keypool-fill") and not os.path.exists(path(a.dir, "sa_key")):
        print("fakecluster: %s is not a cluster directory (run init)" % a.dir, file=sys.stderr)
        return 2
    try:
        return a.fn(a)
    except UsageError as e:
        print("fakecluster: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
