#!/usr/bin/python3
"""Read `strace -f -k -qq -e status=successful` output on stdin and print
every descriptor created without close-on-exec that our code asked for:
the first frame outside libc is one of ours (OURS, a regex on the object
path), or it is a TCP socket (AF_INET/AF_INET6: the apiserver or issuer
connection, whoever opened it).  Exits 1 if there is any; prints a count
of the library-internal ones it let through (their code is not ours;
FD_AUDIT_VERBOSE=1 lists them)."""
import os
import re
import sys

OURS = re.compile(sys.argv[1])
LIBC = re.compile(r"/(libc|libpthread|ld-linux[^/]*)\.so")
CREATE = re.compile(r"^(?:\[pid\s+)?\d*\]?\s*(openat|open|creat|socket|socketpair|accept4?|pipe2?|dup[23]?|"
                    r"fcntl|memfd_create|eventfd2?|epoll_create1?|inotify_init1?|signalfd4?|"
                    r"timerfd_create|mkostemps?)\((.*)\)\s+=\s+(-?\d+)")


def cloexec(call, args):
    if call in ("openat", "open"):
        return "O_CLOEXEC" in args
    if call == "creat":
        return False
    if call in ("socket", "socketpair", "accept4"):
        return "SOCK_CLOEXEC" in args
    if call == "accept":
        return False
    if call == "pipe2":
        return "O_CLOEXEC" in args
    if call in ("pipe", "dup", "dup2"):
        return False
    if call == "dup3":
        return "O_CLOEXEC" in args
    if call == "fcntl":
        return "F_DUPFD_CLOEXEC" in args
    return "CLOEXEC" in args


def creates(call, args):
    if call in ("dup2", "dup3"):
        # onto stdin/stdout/stderr: meant to be inherited (a child's stdout)
        return re.match(r"\s*\d+,\s*[012]\b", args) is None
    return call != "fcntl" or re.search(r"F_DUPFD\b|F_DUPFD_CLOEXEC", args) is not None


def main():
    bad, lib, total = [], 0, 0
    cur = None
    for line in list(sys.stdin) + [""]:
        if line.startswith(" > "):
            if cur is not None and cur[1] is None and not LIBC.search(line):
                cur[1] = line.strip()
            continue
        if cur is not None:
            text, first = cur
            ours = first is not None and OURS.search(first)
            tcp = re.search(r"\b(socket|accept4?)\(AF_INET6?\b", text) is not None
            if ours or tcp:
                bad.append("%s\n    %s" % (text, first))
            else:
                lib += 1
                if os.environ.get("FD_AUDIT_VERBOSE"):
                    print("inside a library: %s\n    %s" % (text, first))
            cur = None
        m = CREATE.match(line.strip())
        if m is None or int(m.group(3)) < 0:
            continue
        call, args = m.group(1), m.group(2)
        if not creates(call, args):
            continue
        total += 1
        if not cloexec(call, args):
            cur = [line.strip(), None]
    for b in bad:
        print("without close-on-exec: " + b)
    print("descriptors created: %d; without close-on-exec: %d ours or TCP, %d inside libraries"
          % (total, len(bad), lib))
    return 1 if bad else 0


sys.exit(main())
