"""Shared pieces of the fake cluster: the directory layout, the state file,
JOSE signing/verification and the apiserver's token authenticators.

Everything here mirrors what kube-apiserver does (observed against the
Debian 1.20.2 build in tests/kube and read from its source), so the C code
under test meets the same answers it would meet in a real cluster.  Written
with python3-cryptography only; nothing here comes from the code under test.
"""
import base64
import contextlib
import csv
import fcntl
import hashlib
import io
import json
import os
import re
import tempfile
import threading
import time
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.exceptions import InvalidSignature

LEGACY_ISSUER = "kubernetes/serviceaccount"
# go-jose's jwt.DefaultLeeway: the apiserver accepts exp/nbf one minute off.
LEEWAY = 60
SA_PREFIX = "system:serviceaccount:"
REVIEWER_USER = "system:serviceaccount:kube-system:k8s-auth-reviewer"
FORBIDDEN_USER = "system:serviceaccount:kube-system:powerless"
ADMIN_USER = "kubernetes-admin"
IDP_ALGS = ("RS256", "PS256", "ES256", "ES384", "EdDSA")
# DNS-1123 label (namespaces) and subdomain (object names), as the API checks.
LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")

# Files in the cluster directory D.  Secrets are 0600, D itself 0700.
F = {
    "ca_crt": "ca.crt", "ca_key": "ca.key",
    "server_crt": "server.crt", "server_key": "server.key",
    "sa_key": "sa.key", "sa_pub": "sa.pub",
    "reviewer_crt": "reviewer.crt", "reviewer_key": "reviewer.key",
    "reviewer_token": "reviewer-token", "forbidden_token": "forbidden-token",
    "admin_token": "admin-token", "static": "static-tokens.csv",
    "state": "state.json", "lock": "state.lock", "requests": "requests.json",
    "fault": "fault.json", "port": "port", "url": "url", "log": "server.log",
}


class UsageError(Exception):
    """A CLI mistake or a missing precondition; printed, exit 2."""


def path(d, key):
    return os.path.join(d, F.get(key, key))


def b64e(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text):
    """Go's base64.RawURLEncoding: no padding, URL alphabet only."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise ValueError("illegal base64 data")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def go_json(obj, sort_keys=True):
    """json.Marshal's bytes: compact, sorted map keys, HTML-safe escapes."""
    s = json.dumps(obj, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        s = s.replace(ch, esc)
    return s.encode()


def go_quote_list(items):
    """fmt's %q of a []string: ["a" "b"]."""
    def q(s):
        out = []
        for ch in s:
            if ch in "\"\\":
                out.append("\\" + ch)
            elif ord(ch) < 0x20 or ord(ch) == 0x7f:
                out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(ch, "\\x%02x" % ord(ch)))
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'
    return "[" + " ".join(q(s) for s in items) + "]"


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def write_file(p, data, mode=0o600):
    """Atomic replace; the file never exists with a wider mode."""
    if isinstance(data, str):
        data = data.encode()
    d = os.path.dirname(p) or "."
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_text(d, key):
    with open(path(d, key), encoding="utf-8") as f:
        return f.read().strip()


def base_url(d):
    try:
        return read_text(d, "url")
    except FileNotFoundError:
        return None


# ---------------------------------------------------------------- state
# state.json is shared by `serve` (many threads) and the CLI subcommands
# (other processes): a process-wide lock for the threads, flock for the rest.
_thread_lock = threading.RLock()


def empty_state():
    return {"rv": 1, "serviceaccounts": {}, "pods": {}, "secrets": {}, "bootstrap": {}}


@contextlib.contextmanager
def locked(d):
    with _thread_lock:
        fd = os.open(path(d, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _load_json(p, default):
    try:
        with open(p, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return default


@contextlib.contextmanager
def state(d, write=False):
    """Yields the state dict; with write=True it is saved on a clean exit."""
    with locked(d):
        st = _load_json(path(d, "state"), None) or empty_state()
        for k, v in empty_state().items():
            st.setdefault(k, v)
        yield st
        if write:
            st["rv"] += 1
            write_file(path(d, "state"), json.dumps(st, indent=1, sort_keys=True) + "\n")


def count_request(d, p):
    with locked(d):
        counts = _load_json(path(d, "requests"), {})
        counts[p] = counts.get(p, 0) + 1
        write_file(path(d, "requests"), json.dumps(counts, sort_keys=True) + "\n", 0o644)


def new_sa(st, ns, name, uid=None):
    sa = {"uid": uid or str(uuid.uuid4()), "created": rfc3339(time.time()), "rv": str(st["rv"])}
    st["serviceaccounts"][ns + "/" + name] = sa
    return sa


def ensure_sa(st, ns, name):
    return st["serviceaccounts"].get(ns + "/" + name) or new_sa(st, ns, name)


def new_pod(st, ns, name, uid=None, node=None):
    pod = {"uid": uid or str(uuid.uuid4()), "created": rfc3339(time.time()),
           "rv": str(st["rv"]), "node": node}
    st["pods"][ns + "/" + name] = pod
    return pod


def split_ref(ref):
    """NS/NAME as the CLI takes it."""
    ns, sep, name = ref.partition("/")
    if not sep or not LABEL_RE.match(ns) or not SUBDOMAIN_RE.match(name):
        raise UsageError("want NAMESPACE/NAME (DNS names), got %r" % ref)
    return ns, name


# ---------------------------------------------------------------- keys
def load_private_key(p):
    with open(p, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def spki_der(pub):
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def apiserver_kid(pub):
    """kid as kube-apiserver derives it: base64url(SHA-256(DER SPKI))."""
    return b64e(hashlib.sha256(spki_der(pub)).digest())


def _int_b64(n, length=None):
    length = length or (n.bit_length() + 7) // 8
    return b64e(n.to_bytes(length, "big"))


def public_jwk(pub):
    """The public JWK members of a key, without kid/use/alg."""
    if isinstance(pub, rsa.RSAPublicKey):
        nums = pub.public_numbers()
        return {"kty": "RSA", "n": _int_b64(nums.n), "e": _int_b64(nums.e)}
    if isinstance(pub, ec.EllipticCurvePublicKey):
        size = (pub.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[pub.curve.name]
        nums = pub.public_numbers()
        return {"kty": "EC", "crv": crv, "x": _int_b64(nums.x, size), "y": _int_b64(nums.y, size)}
    if isinstance(pub, ed25519.Ed25519PublicKey):
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64e(raw)}
    raise ValueError("unsupported key type")


def jwk_thumbprint(pub):
    """RFC 7638 thumbprint (SHA-256): the IdP keys' kids."""
    jwk = public_jwk(pub)
    req = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
    members = {k: jwk[k] for k in req[jwk["kty"]]}
    return b64e(hashlib.sha256(json.dumps(members, sort_keys=True, separators=(",", ":")).encode()).digest())


def sa_jwks(pub):
    """/openid/v1/jwks exactly as the apiserver writes it (member order too)."""
    jwk = public_jwk(pub)
    return {"keys": [{"use": "sig", "kty": "RSA", "kid": apiserver_kid(pub), "alg": "RS256",
                      "n": jwk["n"], "e": jwk["e"]}]}


def idp_key_file(alg):
    return "idp-%s.key" % alg.lower()


def idp_keys(d):
    """[(alg, kid, private key)] for the IdP, in IDP_ALGS order."""
    out = []
    for alg in IDP_ALGS:
        key = load_private_key(path(d, idp_key_file(alg)))
        out.append((alg, jwk_thumbprint(key.public_key()), key))
    return out


def idp_jwks(d):
    keys = []
    for alg, kid, key in idp_keys(d):
        jwk = {"kid": kid, "use": "sig", "alg": alg}
        jwk.update(public_jwk(key.public_key()))
        keys.append(jwk)
    return {"keys": keys}


# ---------------------------------------------------------------- JOSE
_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def sign(key, alg, data):
    """JWS signature bytes (RFC 7518) over DATA with KEY under ALG."""
    h = _HASHES.get(alg[2:], hashes.SHA256)
    if alg.startswith("RS"):
        return key.sign(data, padding.PKCS1v15(), h())
    if alg.startswith("PS"):
        return key.sign(data, padding.PSS(mgf=padding.MGF1(h()), salt_length=h.digest_size), h())
    if alg.startswith("ES"):
        r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(h())))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if alg == "EdDSA":
        return key.sign(data)
    raise UsageError("cannot sign with alg %r" % alg)


def make_jws(key, alg, header, claims_bytes):
    """Compact JWS; HEADER is serialised in its own key order, like go-jose."""
    signing_input = (b64e(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64e(claims_bytes)).encode()
    return signing_input.decode() + "." + b64e(sign(key, alg, signing_input))


class JoseError(Exception):
    pass


ERR_CRYPTO = "square/go-jose: error in cryptographic primitive"
ERR_ALG = "square/go-jose: unknown/unsupported algorithm"


def verify_rsa_jws(token, pub):
    """go-jose's Claims(key): any RSxxx/PSxxx alg verifies with an RSA key."""
    h64, p64, s64 = token.split(".")
    header = json.loads(b64d(h64))
    alg = header.get("alg") if isinstance(header, dict) else None
    if not isinstance(alg, str) or alg[:2] not in ("RS", "PS") or alg[2:] not in _HASHES:
        raise JoseError(ERR_ALG)
    h = _HASHES[alg[2:]]
    pad = (padding.PKCS1v15() if alg.startswith("RS") else
           padding.PSS(mgf=padding.MGF1(h()), salt_length=padding.PSS.AUTO))
    try:
        pub.verify(b64d(s64), (h64 + "." + p64).encode(), pad, h())
    except (InvalidSignature, ValueError):
        raise JoseError(ERR_CRYPTO) from None
    return header, b64d(p64)


def unverified_parts(token):
    """(header, claims) of a compact JWS, or None if it is not one."""
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    try:
        h64, p64, s64 = token.split(".")
        header = json.loads(b64d(h64))
        claims = json.loads(b64d(p64))
        b64d(s64)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims


# ---------------------------------------------------------------- authenticators
class AuthResult:
    """authenticator.Response plus the error, as the TokenReview reports it."""

    def __init__(self, ok=False, user=None, audiences=None, error=None):
        self.ok, self.user, self.audiences, self.error = ok, user, audiences, error


def intersect(a, b):
    """authenticator.Audiences(a).Intersect(b): a's order."""
    return [x for x in a if x in b]


def load_static_tokens(d):
    """--token-auth-file: token,user,uid[,"group1,group2"]."""
    out = {}
    try:
        with open(path(d, "static"), encoding="utf-8", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        return out
    for rec in csv.reader(io.StringIO(text), skipinitialspace=True):
        if len(rec) < 3 or not rec[0]:
            continue
        groups = [g.strip() for g in rec[3].split(",")] if len(rec) > 3 and rec[3] else []
        out[rec[0]] = {"username": rec[1], "uid": rec[2], "groups": groups}
    return out


def _static_auth(d, token, requested, implicit):
    # WrapAudienceAgnosticToken: only for the apiserver's own audiences.
    auds = intersect(implicit, requested)
    if not auds:
        return None
    user = load_static_tokens(d).get(token)
    if user is None:
        return None
    return AuthResult(True, dict(user, groups=list(user["groups"])), auds)


BOOTSTRAP_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")


def _bootstrap_auth(st, token, requested, implicit):
    auds = intersect(implicit, requested)
    m = BOOTSTRAP_RE.match(token)
    if not auds or not m:
        return None
    entry = st["bootstrap"].get(m.group(1))
    if not entry or entry["secret"] != hashlib.sha256(m.group(2).encode()).hexdigest():
        return None
    if entry.get("expiration") and entry["expiration"] < time.time():
        return None
    groups = ["system:bootstrappers"] + [g for g in entry.get("groups", []) if g != "system:bootstrappers"]
    return AuthResult(True, {"username": "system:bootstrap:" + m.group(1), "uid": "",
                             "groups": groups}, auds)


def _numeric(claims, name):
    v = claims.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise JoseError("square/go-jose/jwt: expected number for " + name)
    return int(v)


def _check_times(claims, now):
    """jwt.Claims.Validate(Expected{Time: now}) as the validator maps it."""
    exp, nbf = _numeric(claims, "exp"), _numeric(claims, "nbf")
    if nbf is not None and now + LEEWAY < nbf:
        return "Token could not be validated."
    # A missing exp reads as the zero time in go-jose: long expired.
    if exp is None or now - LEEWAY > exp:
        return "Token has expired."
    return None


def _bound_validate(st, claims, now):
    """pkg/serviceaccount claims.go validator.Validate."""
    err = _check_times(claims, now)
    if err:
        return None, err
    k = claims.get("kubernetes.io") if isinstance(claims.get("kubernetes.io"), dict) else {}
    ns = k.get("namespace") or ""
    saref = k.get("serviceaccount") if isinstance(k.get("serviceaccount"), dict) else {}
    name, uid = saref.get("name") or "", saref.get("uid") or ""
    sa = st["serviceaccounts"].get("%s/%s" % (ns, name))
    if sa is None:
        return None, 'serviceaccounts "%s" not found' % name
    if sa["uid"] != uid:
        return None, "ServiceAccount UID (%s) does not match claim (%s)" % (sa["uid"], uid)
    extra = {}
    secref = k.get("secret")
    if isinstance(secref, dict):
        sec = st["secrets"].get("%s/%s" % (ns, secref.get("name")))
        if sec is None:
            return None, "Token has been invalidated"
        if secref.get("uid") and sec.get("uid") != secref.get("uid"):
            return None, "Secret UID (%s) does not match claim (%s)" % (sec.get("uid"), secref.get("uid"))
    podref = k.get("pod")
    if isinstance(podref, dict):
        pod = st["pods"].get("%s/%s" % (ns, podref.get("name")))
        if pod is None:
            return None, "Token has been invalidated"
        if pod["uid"] != podref.get("uid"):
            return None, "Pod UID (%s) does not match claim (%s)" % (pod["uid"], podref.get("uid"))
        extra["authentication.kubernetes.io/pod-name"] = [podref.get("name")]
        extra["authentication.kubernetes.io/pod-uid"] = [podref.get("uid")]
    noderef = k.get("node")
    if isinstance(noderef, dict) and noderef.get("name"):
        extra["authentication.kubernetes.io/node-name"] = [noderef.get("name")]
        if noderef.get("uid"):
            extra["authentication.kubernetes.io/node-uid"] = [noderef.get("uid")]
    if isinstance(claims.get("jti"), str) and claims["jti"]:
        extra["authentication.kubernetes.io/credential-id"] = ["JTI=" + claims["jti"]]
    return (ns, name, uid, extra), None


def _legacy_validate(st, token, claims):
    """pkg/serviceaccount legacy.go legacyValidator.Validate (lookup on)."""
    pfx = "kubernetes.io/serviceaccount/"
    if not claims.get("sub"):
        return None, "sub claim is missing"
    fields = {}
    for key, label in (("namespace", "namespace"), ("secret.name", "secretName"),
                       ("service-account.name", "serviceAccountName"),
                       ("service-account.uid", "serviceAccountUID")):
        v = claims.get(pfx + key)
        if not isinstance(v, str) or not v:
            return None, "%s claim is missing" % label
        fields[key] = v
    ns, name, uid = fields["namespace"], fields["service-account.name"], fields["service-account.uid"]
    if claims["sub"] != SA_PREFIX + ns + ":" + name:
        return None, "sub claim is invalid"
    sec = st["secrets"].get(ns + "/" + fields["secret.name"])
    if sec is None:
        return None, "Token has been invalidated"
    if sec.get("sha256") != hashlib.sha256(token.encode()).hexdigest():
        return None, "Token does not match server's copy"
    sa = st["serviceaccounts"].get(ns + "/" + name)
    if sa is None:
        return None, 'serviceaccounts "%s" not found' % name
    if sa["uid"] != uid:
        return None, "ServiceAccount UID (%s) does not match claim (%s)" % (sa["uid"], uid)
    return (ns, name, uid, {}), None


def _sa_auth(st, token, requested, implicit, issuer, pub, legacy):
    """pkg/serviceaccount jwt.go jwtTokenAuthenticator.AuthenticateToken."""
    parts = unverified_parts(token)
    want_iss = LEGACY_ISSUER if legacy else issuer
    if parts is None or parts[1].get("iss") != want_iss:
        return None
    try:
        _, payload = verify_rsa_jws(token, pub)
        claims = json.loads(payload)
        aud = claims.get("aud")
        token_auds = [aud] if isinstance(aud, str) else list(aud or [])
        if not all(isinstance(a, str) for a in token_auds):
            raise JoseError("square/go-jose/jwt: expected string or array value to unmarshal to Audience")
    except JoseError as e:
        return AuthResult(error=str(e))
    if not token_auds:
        token_auds = list(implicit)   # legacy tokens: the apiserver's own audiences
    auds = intersect(token_auds, requested)
    if not auds:
        return AuthResult(error="token audiences %s is invalid for the target audiences %s" % (
            go_quote_list(token_auds), go_quote_list(requested)))
    try:
        info, err = (_legacy_validate(st, token, claims) if legacy else
                     _bound_validate(st, claims, time.time()))
    except JoseError as e:
        return AuthResult(error=str(e))
    if err:
        return AuthResult(error=err)
    ns, name, uid, extra = info
    user = {"username": SA_PREFIX + ns + ":" + name, "uid": uid,
            "groups": ["system:serviceaccounts", "system:serviceaccounts:" + ns]}
    if extra:
        user["extra"] = extra
    return AuthResult(True, user, auds)


def authenticate_token(d, st, token, spec_audiences, issuer, sa_pub):
    """The apiserver's token authenticator chain, TokenReview's view of it.

    Returns an AuthResult whose error is the string TokenReview puts in
    status.error, e.g. '[invalid bearer token, Token has expired.]'.
    """
    implicit = [issuer]
    requested = list(spec_audiences) if spec_audiences else implicit
    errors = []
    for step in (lambda: _static_auth(d, token, requested, implicit),
                 lambda: _sa_auth(st, token, requested, implicit, issuer, sa_pub, True),
                 lambda: _sa_auth(st, token, requested, implicit, issuer, sa_pub, False),
                 lambda: _bootstrap_auth(st, token, requested, implicit)):
        res = step()
        if res is None:
            continue
        if res.ok:
            if "system:authenticated" not in res.user["groups"]:
                res.user["groups"].append("system:authenticated")
            return res
        if res.error and res.error not in errors:
            errors.append(res.error)
    # bearertoken.Authenticator's default error, aggregated with the rest
    msgs = ["invalid bearer token"] + [e for e in errors if e != "invalid bearer token"]
    return AuthResult(error=msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]")


# ---------------------------------------------------------------- minting
def sa_claims(st, ns, name, issuer, audiences, iat, exp, pod=None, node=None, jti=None):
    """Claims of a bound service-account token as TokenRequest mints them."""
    sa = ensure_sa(st, ns, name)
    k = {"namespace": ns, "serviceaccount": {"name": name, "uid": sa["uid"]}}
    if pod is not None:
        k["pod"] = {"name": pod[0], "uid": pod[1]}
    if node is not None:
        k["node"] = {"name": node[0], "uid": node[1]}
    claims = {"aud": list(audiences), "iat": iat, "iss": issuer, "kubernetes.io": k,
              "nbf": iat, "sub": SA_PREFIX + ns + ":" + name}
    if exp is not None:
        claims["exp"] = exp
    if jti:
        claims["jti"] = jti
    return claims


def legacy_claims(st, ns, name, secret_name):
    sa = ensure_sa(st, ns, name)
    p = "kubernetes.io/serviceaccount/"
    return {"iss": LEGACY_ISSUER, p + "namespace": ns, p + "secret.name": secret_name,
            p + "service-account.name": name, p + "service-account.uid": sa["uid"],
            "sub": SA_PREFIX + ns + ":" + name}


def sign_sa_token(key, claims, kid=None):
    header = {"alg": "RS256", "kid": kid if kid is not None else apiserver_kid(key.public_key())}
    return make_jws(key, "RS256", header, go_json(claims))
