#!/usr/bin/env python3
"""Create many objects in the test apiserver (tests/kube/kubelib.sh) fast:
keep-alive HTTPS connections from a few threads, as cluster admin (the
kubelib client certificate).

  bulk.py KUBE_DIR KUBE_URL sas NAMESPACE PREFIX COUNT [PAD]
      ServiceAccounts PREFIX-00000 .. in NAMESPACE (with PAD: each with an
      annotation of PAD bytes, to make large lists from few objects)
  bulk.py KUBE_DIR KUBE_URL rolebindings NAMESPACE PREFIX COUNT CLUSTERROLE SA_PREFIX SA_COUNT
      RoleBindings PREFIX-00000 .. to ClusterRole CLUSTERROLE, binding i
      naming ServiceAccount SA_PREFIX-<i mod SA_COUNT> and User PREFIX-user-i@example.com
  bulk.py KUBE_DIR KUBE_URL clusterroles PREFIX COUNT
      ClusterRoles with a few rules each (noise a `rules:` sync must read)

Prints "created N in S s (R/s)" on stdout; exits 1 on the first failure.
"""
import http.client
import json
import os
import ssl
import sys
import threading
import time
from urllib.parse import urlparse

THREADS = 8


def connection(kube_dir, url):
    ctx = ssl.create_default_context(cafile=os.path.join(kube_dir, "pki", "ca.crt"))
    ctx.load_cert_chain(os.path.join(kube_dir, "pki", "admin.crt"),
                        os.path.join(kube_dir, "pki", "admin.key"))
    u = urlparse(url)
    return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)


def objects(kind, args):
    if kind == "sas":
        ns, prefix, count = args[0], args[1], int(args[2])
        pad = int(args[3]) if len(args) > 3 else 0
        for i in range(count):
            meta = {"name": "%s-%05d" % (prefix, i)}
            if pad:
                meta["annotations"] = {"pam-k8s.io/pad": "%05d" % i + "x" * (pad - 5)}
            yield ("/api/v1/namespaces/%s/serviceaccounts" % ns,
                   {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
    elif kind == "rolebindings":
        ns, prefix, count, role, sa_prefix, sa_count = (args[0], args[1], int(args[2]), args[3],
                                                        args[4], int(args[5]))
        for i in range(count):
            yield ("/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings" % ns,
                   {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": {"name": "%s-%05d" % (prefix, i)},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                "name": role},
                    "subjects": [{"kind": "ServiceAccount", "namespace": ns,
                                  "name": "%s-%05d" % (sa_prefix, i % sa_count)},
                                 {"kind": "User", "apiGroup": "rbac.authorization.k8s.io",
                                  "name": "%s-user-%05d@example.com" % (prefix, i)}]})
    elif kind == "clusterroles":
        prefix, count = args[0], int(args[1])
        for i in range(count):
            yield ("/apis/rbac.authorization.k8s.io/v1/clusterroles",
                   {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                    "metadata": {"name": "%s-%05d" % (prefix, i)},
                    "rules": [{"apiGroups": [""], "resources": ["pods", "services"],
                               "verbs": ["get", "list", "watch"]},
                              {"apiGroups": ["apps"], "resources": ["deployments"],
                               "verbs": ["get"], "resourceNames": ["app-%d" % i]}]})
    else:
        raise SystemExit("unknown kind " + kind)


def worker(kube_dir, url, items, lock, errors):
    conn = connection(kube_dir, url)
    while True:
        with lock:
            if errors or not items:
                return
            path, obj = items.pop()
        body = json.dumps(obj)
        for attempt in range(3):
            try:
                conn.request("POST", path, body, {"Content-Type": "application/json",
                                                  "Accept": "application/json"})
                r = conn.getresponse()
                data = r.read()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = connection(kube_dir, url)
        else:
            with lock:
                errors.append("%s: connection failed" % path)
            return
        if r.status not in (200, 201, 409):
            with lock:
                errors.append("%s %s: HTTP %d %s" % (path, obj["metadata"]["name"], r.status,
                                                      data[:200]))
            return


def main():
    kube_dir, url, kind = sys.argv[1], sys.argv[2], sys.argv[3]
    items = list(objects(kind, sys.argv[4:]))
    items.reverse()
    n = len(items)
    lock = threading.Lock()
    errors = []
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(kube_dir, url, items, lock, errors))
               for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.monotonic() - t0
    if errors:
        print("bulk: " + errors[0], file=sys.stderr)
        sys.exit(1)
    print("created %d in %.1f s (%.0f/s)" % (n, dt, n / dt if dt > 0 else 0))


if __name__ == "__main__":
    main()
