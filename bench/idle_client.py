#!/usr/bin/env python3
"""Open N keep-alive connections to a proxy, send one request on each, read
the response, then hold them all idle (Python 3 standard library only).

    idle_client.py --port P [--host 127.0.0.1] [--conns 10000] [--path /small]
                   [--ready FILE] [--hold SECONDS] [--inflight 256]

When every connection has its response (or failed), writes "<open> <failed>"
to FILE (and stdout), then holds until SIGTERM/SIGINT or --hold seconds pass.
Connections closed by the server while held are counted and reported.
The process' RLIMIT_NOFILE soft limit is raised to the hard limit.
"""

import argparse
import os
import resource
import selectors
import signal
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--path", default="/small")
    ap.add_argument("--ready", default="")
    ap.add_argument("--hold", type=float, default=120.0)
    ap.add_argument("--inflight", type=int, default=256)
    ap.add_argument("--setup-timeout", type=float, default=120.0)
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.conns + 64
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))
        except (ValueError, OSError):
            pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        print(f"idle_client: RLIMIT_NOFILE {soft} < {want}; will open fewer connections",
              file=sys.stderr)

    req = (f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n"
           f"User-Agent: ringfront-idle-bench\r\n\r\n").encode()
    sel = selectors.DefaultSelector()
    state = {}          # sock -> [phase, buf]; phase: conn, send, recv, idle
    opened = failed = done = 0
    deadline = time.monotonic() + a.setup_timeout

    def fail(s):
        nonlocal failed
        failed += 1
        try:
            sel.unregister(s)
        except (KeyError, ValueError):
            pass
        state.pop(s, None)
        s.close()

    def read_some(s):
        """What the socket holds: None if nothing yet, b"" on EOF or error."""
        try:
            return s.recv(65536)
        except BlockingIOError:
            return None
        except OSError:
            return b""

    def response_complete(buf):
        h = buf.find(b"\r\n\r\n")
        if h < 0:
            return False
        head = buf[:h].decode("latin-1").lower()
        body = len(buf) - h - 4
        for line in head.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip() == "content-length":
                return body >= int(v.strip())
        if "transfer-encoding: chunked" in head:
            return buf.endswith(b"0\r\n\r\n")
        return True

    inflight = 0
    while (opened + failed < a.conns or inflight) and time.monotonic() < deadline:
        while opened + failed < a.conns and inflight < a.inflight:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect_ex((a.host, a.port))
            except OSError:
                s.close()
                failed += 1
                continue
            state[s] = ["conn", b""]
            sel.register(s, selectors.EVENT_WRITE)
            opened += 1
            inflight += 1
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            st = state.get(s)
            if st is None:
                continue
            if st[0] == "conn":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    opened -= 1
                    inflight -= 1
                    fail(s)
                    continue
                try:
                    s.send(req)
                except OSError:
                    opened -= 1
                    inflight -= 1
                    fail(s)
                    continue
                st[0] = "recv"
                sel.modify(s, selectors.EVENT_READ)
            elif st[0] == "recv":
                chunk = read_some(s)
                if chunk is None:
                    continue
                if not chunk:
                    opened -= 1
                    inflight -= 1
                    fail(s)
                    continue
                st[1] += chunk
                if response_complete(st[1]):
                    st[0], st[1] = "idle", b""
                    inflight -= 1
                    done += 1
            elif st[0] == "idle":
                # data or EOF while idle: server closed it
                chunk = read_some(s)
                if chunk is None:
                    continue
                if not chunk:
                    opened -= 1
                    fail(s)

    # Abandon whatever is still half-way after the setup deadline.
    for s, st in list(state.items()):
        if st[0] != "idle":
            opened -= 1
            fail(s)
    msg = f"{done} {failed}"
    print(f"idle_client: {done} connections idle, {failed} failed", flush=True)
    if a.ready:
        tmp = a.ready + ".tmp"
        with open(tmp, "w") as f:
            f.write(msg + "\n")
        os.rename(tmp, a.ready)

    stop = False

    def on_sig(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_sig)
    signal.signal(signal.SIGINT, on_sig)
    end = time.monotonic() + a.hold
    closed_by_server = 0
    while not stop and time.monotonic() < end:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                closed_by_server += 1
                sel.unregister(s)
                state.pop(s, None)
                s.close()
    if closed_by_server:
        print(f"idle_client: {closed_by_server} connections closed by the server while idle",
              flush=True)
    for s in list(state):
        s.close()


if __name__ == "__main__":
    main()
