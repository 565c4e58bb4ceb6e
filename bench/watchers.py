#!/usr/bin/env python3
"""Simulated hosts for bench/b_watchers.sh: each does what `k8s-auth sync
--watch` does with the bench's config (the same requests): list the five
collections with resourceVersion=0, then watch each from the list's
resourceVersion with bookmarks, reading and dropping what arrives.

  watchers.py KUBE_DIR KUBE_URL TOKEN_FILE N

Prints "ready S" (seconds until every host watches) and keeps the watches
open until killed.
"""
import asyncio
import json
import os
import ssl
import sys
import time
from urllib.parse import urlparse

kube_dir, url, token_file, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
u = urlparse(url)
token = open(token_file).read().strip()
ctx = ssl.create_default_context(cafile=os.path.join(kube_dir, "pki", "ca.crt"))
RBAC = "/apis/rbac.authorization.k8s.io/v1"
COLLS = [RBAC + "/clusterroles", RBAC + "/namespaces/bulk/roles", RBAC + "/clusterrolebindings",
         RBAC + "/namespaces/bulk/rolebindings", "/api/v1/namespaces/bulk/serviceaccounts"]
sem = asyncio.Semaphore(40)  # connections being set up at once


async def request(path):
    r, w = await asyncio.open_connection(u.hostname, u.port, ssl=ctx)
    w.write(("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: application/json\r\n"
             "User-Agent: pam-k8s-sim\r\nConnection: close\r\n\r\n" % (path, u.netloc, token)).encode())
    await w.drain()
    status = await r.readline()
    if b" 200 " not in status:
        raise RuntimeError("%s: %s" % (path, status))
    headers = {}
    while True:
        line = await r.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    return r, w, headers


async def read_chunked(r):
    body = b""
    while True:
        size = int((await r.readline()).strip(), 16)
        if size == 0:
            await r.readline()
            return body
        body += await r.readexactly(size)
        await r.readline()


async def host(i, ready):
    for attempt in range(5):
        try:
            return await host_once(i, ready)
        except (ssl.SSLError, ConnectionError, asyncio.IncompleteReadError) as e:
            print("host %d: %s; again" % (i, e), file=sys.stderr)
            await asyncio.sleep(1)
    raise RuntimeError("host %d failed" % i)


async def host_once(i, ready):
    rvs = []
    async with sem:
        for c in COLLS:
            r, w, h = await request(c + "?limit=500&resourceVersion=0")
            if "content-length" in h:
                body = await r.readexactly(int(h["content-length"]))
            else:
                body = await read_chunked(r)
            rvs.append(json.loads(body)["metadata"]["resourceVersion"])
            w.transport.abort()
        streams = []
        for c, rv in zip(COLLS, rvs):
            r, w, h = await request(c + "?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=3600" % rv)
            streams.append(r)
    ready.append(i)
    await asyncio.gather(*(drain(r) for r in streams))


async def drain(r):
    try:
        while await r.read(65536):
            pass
    except (ssl.SSLError, ConnectionError):
        pass


async def main():
    ready = []
    t0 = time.time()
    tasks = [asyncio.create_task(host(i, ready)) for i in range(n)]
    while len(ready) < n:
        for t in tasks:
            if t.done() and t.exception():
                raise t.exception()
        await asyncio.sleep(0.1)
    print("ready %.1f" % (time.time() - t0), flush=True)
    await asyncio.gather(*tasks)

asyncio.run(main())
