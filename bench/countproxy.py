#!/usr/bin/env python3
"""A TCP proxy that counts: bench/b_sync_watch.sh puts it between
k8s-auth and the test apiserver (TLS passes through untouched; bytes are
counted on the wire, TLS included).  pam-k8s opens one connection per
request, so connections = requests.

  countproxy.py PORT_FILE TARGET_PORT STATS_FILE

SIGUSR1 writes "connections bytes_up bytes_down" to STATS_FILE and resets
the counters; SIGUSR2 closes every open connection (the watches reconnect).
"""
import os
import signal
import socket
import sys
import threading

port_file, target, stats_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
count = [0, 0, 0]
open_socks = set()


def dump(*_):
    with lock:
        data = "%d %d %d\n" % tuple(count)
        count[:] = [0, 0, 0]
    with open(stats_file + ".tmp", "w") as f:
        f.write(data)
    os.rename(stats_file + ".tmp", stats_file)


def drop(*_):
    with lock:
        socks = list(open_socks)
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def pump(a, b, idx):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            with lock:
                count[idx] += len(d)
            b.sendall(d)
    except OSError:
        pass
    for x in (a, b):
        try:
            x.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    with lock:
        open_socks.discard(a)
        open_socks.discard(b)


signal.signal(signal.SIGUSR1, dump)
signal.signal(signal.SIGUSR2, drop)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(256)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
while True:
    try:
        c, _ = srv.accept()
    except InterruptedError:
        continue
    u = socket.create_connection(("127.0.0.1", target))
    with lock:
        count[0] += 1
        open_socks.update((c, u))
    threading.Thread(target=pump, args=(c, u, 1), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, 2), daemon=True).start()
