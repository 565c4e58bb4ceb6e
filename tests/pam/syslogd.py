#!/usr/bin/python3
"""A /dev/log listener for the PAM tests: every datagram a process sends
to syslog becomes one line of OUTFILE.  Runs inside the test's private
mount namespace (where /dev is a private tmpfs), so the host's logging is
untouched.  Exits when stdin closes.

  syslogd.py SOCKET OUTFILE
"""
import os
import socket
import sys
import threading


def main():
    path, out = sys.argv[1], sys.argv[2]
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    f = open(out, "ab", buffering=0)
    print("READY", flush=True)

    def watch():
        sys.stdin.read()
        os._exit(0)
    threading.Thread(target=watch, daemon=True).start()
    while True:
        d = s.recv(1 << 16)
        f.write(d.rstrip(b"\0\n") + b"\n")


if __name__ == "__main__":
    main()
