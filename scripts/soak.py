#!/usr/bin/env python3
"""A soak under faults (issue 14, item 4), on loopback, bounded in time.

ringfront (2 workers) proxies to 4 backends (ringfront-origin) at about
80% of the rate measured first, for SOAK_SECONDS (default 600), while:

  * backend 1 is killed (SIGKILL) every 30 s and restarted 1 s later;
  * backend 2 stalls (SIGSTOP: the kernel still accepts connections and
    takes requests, nothing answers) for 10 s of every 30 s;
  * the routing data is rewritten and reloaded every 10 s
    (/reload/server_data_conf, /reload/gslb_data_conf);
  * ringfront's descriptors and RSS are sampled every 10 s.

It prints the figures and exits 1 when one fails:

  * a request failed (non-2xx, or a socket error on the client side) other
    than in a window around a kill of backend 1 (those are counted by
    status and allowed: requests in flight on a killed backend);
  * ringfront panicked (log, or the err_handler_panic counter), died, or
    did not stop cleanly on SIGTERM;
  * a reload was refused;
  * descriptors or RSS grew from minute 2 to the end by more than the
    tolerance (FD_TOLERANCE descriptors; RSS_TOLERANCE_PCT % + 4 MiB),
    comparing the median of the samples in minute 2 with the median of
    the last minute's.

Usage: soak.py RINGFRONT_BIN ORIGIN_BIN   (scripts/soak.sh builds them).
"""

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
LOAD_FRACTION = float(os.environ.get("SOAK_LOAD", "0.8"))
KILL_EVERY, KILL_DOWN = 30, 1.0
STALL_EVERY, STALL_FOR = 30, 10.0
RELOAD_EVERY = 10
SAMPLE_EVERY = 10
# Failures this long after a kill (from the kill to the restart, plus
# slack for ringfront's own clock and wrk's one-second buckets) are
# counted as "in flight on a killed backend".
KILL_WINDOW_SLACK = 2
FD_TOLERANCE = int(os.environ.get("SOAK_FD_TOLERANCE", "32"))
RSS_TOLERANCE_PCT = float(os.environ.get("SOAK_RSS_TOLERANCE_PCT", "10"))
RSS_TOLERANCE_FIXED_KIB = 4096
WRK_THREADS = 2
CONNS = 64
# Once the load ends, the descriptors must come back to what they were
# before it within this long (idle pooled connections live 30 s at most).
QUIET_WAIT = 45
QUIET_FD_SLACK = 2


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


class Conf:
    """A BFE conf dir: one product, one cluster of the 4 backends."""

    def __init__(self, root, http_port, mon_port, backends):
        self.root, self.backends, self.gen = root, backends, 0
        write(f"{root}/bfe.conf", f"""[Server]
HttpPort = {http_port}
MonitorPort = {mon_port}
MonitorEnabled = true
MaxCpus = 2
ClientReadTimeout = 30
ClientWriteTimeout = 30
GracefulShutdownTimeout = 5
KeepAliveEnabled = true
HostRuleConf = server_data_conf/host_rule.data
VipRuleConf = server_data_conf/vip_rule.data
RouteRuleConf = server_data_conf/route_rule.data
ClusterConf = server_data_conf/cluster_conf.data
NameConf = server_data_conf/name_conf.data
GslbConf = cluster_conf/gslb.data
ClusterTableConf = cluster_conf/cluster_table.data
""")
        self.js("server_data_conf/host_rule.data", {
            "Version": "soak", "DefaultProduct": "p",
            "Hosts": {"t": ["example.org"]}, "HostTags": {"p": ["t"]}})
        self.js("server_data_conf/vip_rule.data", {"Version": "soak", "Vips": {}})
        self.js("server_data_conf/name_conf.data", {"Version": "soak", "Config": {}})
        self.js("cluster_conf/gslb.data", {
            "Hostname": "soak", "Ts": "0",
            "Clusters": {"c": {"GSLB_BLACKHOLE": 0, "c.all": 100},
                         "d": {"GSLB_BLACKHOLE": 0, "d.all": 100}}})
        self.routing()

    def js(self, rel, v):
        write(f"{self.root}/{rel}", json.dumps(v, indent=1))

    def routing(self):
        """Write the routing data of generation `self.gen`: the rule order,
        cluster `c`'s timeouts and the weights change every generation,
        the result does not (both clusters hold the same 4 backends)."""
        g = self.gen
        cluster = {
            "BackendConf": {"TimeoutConnSrv": 500, "TimeoutResponseHeader": 1000 + g % 2 * 100,
                            "MaxIdleConnsPerHost": 32, "RetryLevel": 1},
            "CheckConf": {"Schem": "http", "Uri": "/health", "Host": "example.org",
                          "StatusCode": 200, "FailNum": 3, "CheckInterval": 500},
            "GslbBasic": {"CrossRetry": 0, "RetryMax": 3,
                          "HashConf": {"HashStrategy": 1, "HashHeader": "", "SessionSticky": False}},
            "ClusterBasic": {"TimeoutReadClient": 30000, "TimeoutWriteClient": 30000,
                             "TimeoutReadClientAgain": 30000},
        }
        self.js("server_data_conf/cluster_conf.data",
                {"Version": f"soak-{g}", "Config": {"c": cluster, "d": cluster}})
        first = "c" if g % 2 == 0 else "d"
        self.js("server_data_conf/route_rule.data", {
            "Version": f"soak-{g}",
            "ProductRule": {"p": [{"Cond": "default_t()", "ClusterName": first}]}})
        table = {}
        for name in ("c", "d"):
            table[name] = {f"{name}.all": [
                {"Addr": "127.0.0.1", "Name": f"b{i}", "Port": port,
                 "Weight": 1 + (g + i) % 2}
                for i, port in enumerate(self.backends, 1)]}
        self.js("cluster_conf/cluster_table.data", {"Version": f"soak-{g}", "Config": table})


class Backends:
    def __init__(self, origin_bin, ports):
        self.bin, self.ports = origin_bin, ports
        self.procs = [self.spawn(i) for i in range(len(ports))]

    def spawn(self, i):
        return subprocess.Popen([self.bin, f"127.0.0.1:{self.ports[i]}", f"b{i + 1}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def restart(self, i):
        for _ in range(50):
            p = self.spawn(i)
            time.sleep(0.1)
            if p.poll() is None:
                self.procs[i] = p
                return True
        return False

    def stop(self):
        for p in self.procs:
            try:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait()
            except OSError:
                pass


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8", "replace")


def wait_up(port):
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


WRK_LUA = r"""
-- Pacing (delay per request, ms) and per-second failure counts, reported
-- by done() from every thread.
local threads = {}
-- wrk waits whole milliseconds: a fractional pace is rounded up or down
-- at random so that it holds on average.
pace_ms = tonumber(os.getenv("SOAK_DELAY_MS") or "0")
local pace_floor = math.floor(pace_ms)
local pace_frac = pace_ms - pace_floor

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  fails = {}
  oks = {}
end

function delay()
  if math.random() < pace_frac then
    return pace_floor + 1
  end
  return pace_floor
end

function response(status, headers, body)
  local now = os.time()
  if status < 200 or status > 299 then
    local k = now .. " " .. status
    fails[k] = (fails[k] or 0) + 1
  else
    oks[now] = (oks[now] or 0) + 1
  end
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    local f = t:get("fails")
    for k, n in pairs(f) do
      io.write("FAIL " .. k .. " " .. n .. "\n")
    end
    for k, n in pairs(t:get("oks")) do
      io.write("OK " .. k .. " " .. n .. "\n")
    end
  end
  local e = summary.errors
  io.write(string.format("SUMMARY requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def run_wrk(url, conns, seconds, lua, delay_ms):
    env = dict(os.environ, SOAK_DELAY_MS=f"{delay_ms:.3f}")
    out = subprocess.run(
        ["wrk", f"-t{WRK_THREADS}", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s",
         "-H", "Host: example.org", "-s", lua, url],
        capture_output=True, text=True, env=env)
    fails, summary, oks = [], {}, {}
    for line in out.stdout.splitlines():
        if line.startswith("FAIL "):
            _, sec, status, n = line.split()
            fails.append((int(sec), int(status), int(n)))
        elif line.startswith("OK "):
            _, sec, n = line.split()
            oks[int(sec)] = oks.get(int(sec), 0) + int(n)
        elif line.startswith("SUMMARY "):
            for kv in line.split()[1:]:
                k, v = kv.split("=")
                summary[k] = float(v)
    if not summary:
        sys.exit(f"soak: wrk gave no summary:\n{out.stdout}\n{out.stderr}")
    summary["rps"] = summary["requests"] / (summary["duration_us"] / 1e6)
    summary["per_second"] = [oks[k] for k in sorted(oks)]
    return summary, fails


def proc_sample(pid):
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/status") as f:
        rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return fds, rss


def counters(mon_port):
    _, body = get(f"http://127.0.0.1:{mon_port}/monitor/ringfront_state?format=kv")
    out = {}
    for line in body.splitlines():
        k, _, v = line.partition(":")
        if v.strip().isdigit():
            out[k] = int(v)
    return out


def main():
    ringfront_bin, origin_bin = sys.argv[1], sys.argv[2]
    http_port, mon_port, *bports = free_ports(6)
    root = tempfile.mkdtemp(prefix="ringfront-soak-")
    conf = Conf(f"{root}/conf", http_port, mon_port, bports)
    os.makedirs(f"{root}/log")
    lua = f"{root}/soak.lua"
    write(lua, WRK_LUA)
    backends = Backends(origin_bin, bports)
    for p in bports:
        if not wait_up(p):
            sys.exit(f"soak: backend on {p} did not start")
    rf = subprocess.Popen([ringfront_bin, "-c", conf.root, "-l", f"{root}/log"],
                          env=dict(os.environ, RINGFRONT_LOG="warn"))
    problems = []
    try:
        if not wait_up(http_port) or not wait_up(mon_port):
            sys.exit("soak: ringfront did not start")
        url = f"http://127.0.0.1:{http_port}/"
        fds_at_start = proc_sample(rf.pid)[0]

        # The maximum rate (no pause between requests), then the pause per
        # request on each connection that gives LOAD_FRACTION of it: each
        # connection's cycle is its pause plus the latency, which the
        # trials measure.
        conns = CONNS
        full, _ = run_wrk(url, conns, 5, lua, 0)
        target = full["rps"] * LOAD_FRACTION
        delay_ms, rate = 0.0, full["rps"]
        for _ in range(3):
            latency_ms = conns * 1000 / rate - delay_ms
            delay_ms = max(0.0, conns * 1000 / target - latency_ms)
            rate = run_wrk(url, conns, 3, lua, delay_ms)[0]["rps"]
        print(f"soak: max {full['rps']:.0f} req/s (wrk -t{WRK_THREADS} -c{conns}, 5 s); "
              f"target {target:.0f} req/s: a {delay_ms:.2f} ms pause per request per connection "
              f"(trial: {rate:.0f} req/s); {SECONDS} s", flush=True)

        stop = threading.Event()
        kills, samples, reloads = [], [], {"ok": 0, "refused": []}
        t0 = time.time()

        def killer():
            n = 0
            while not stop.wait(KILL_EVERY if n else KILL_EVERY / 2):
                n += 1
                p = backends.procs[0]
                t = time.time()
                p.kill()
                p.wait()
                time.sleep(KILL_DOWN)
                ok = backends.restart(0)
                kills.append((t, time.time(), ok))

        def staller():
            while not stop.wait(STALL_EVERY - STALL_FOR):
                p = backends.procs[1]
                p.send_signal(signal.SIGSTOP)
                stop.wait(STALL_FOR)
                p.send_signal(signal.SIGCONT)

        def reloader():
            while not stop.wait(RELOAD_EVERY):
                conf.gen += 1
                conf.routing()
                for name in ("server_data_conf", "gslb_data_conf"):
                    try:
                        _, body = get(f"http://127.0.0.1:{mon_port}/reload/{name}")
                        if json.loads(body).get("error") in (None, ""):
                            reloads["ok"] += 1
                        else:
                            reloads["refused"].append(body)
                    except Exception as e:  # noqa: BLE001 - any failure is a finding
                        reloads["refused"].append(f"{name}: {e}")

        def sampler():
            while True:
                try:
                    samples.append((time.time() - t0, *proc_sample(rf.pid)))
                except OSError:
                    return
                if stop.wait(SAMPLE_EVERY):
                    return

        threads = [threading.Thread(target=f, daemon=True)
                   for f in (killer, staller, reloader, sampler)]
        for t in threads:
            t.start()
        load, fails = run_wrk(url, conns, SECONDS, lua, delay_ms)
        per_s = load["per_second"][1:-1]  # the first and last are partial seconds
        if per_s:
            low = sum(1 for n in per_s if n < target / 2)
            print(f"answered per second: median {statistics.median(per_s):.0f}, "
                  f"lowest {min(per_s)}, {low} of {len(per_s)} s below half the target "
                  f"(the first second of each stall waits out TimeoutResponseHeader)", flush=True)
        stop.set()
        for t in threads:
            t.join()
        if rf.poll() is not None:
            problems.append(f"ringfront died (exit {rf.returncode})")
            c = {}
        else:
            c = counters(mon_port)

        # Quiet again: idle pooled connections age out (30 s), and then
        # ringfront must hold no more descriptors than before the load.
        quiet_fds, quiet_after = None, None
        t_quiet = time.time()
        while rf.poll() is None and time.time() - t_quiet < QUIET_WAIT:
            quiet_fds = proc_sample(rf.pid)[0]
            if quiet_fds <= fds_at_start + QUIET_FD_SLACK:
                quiet_after = time.time() - t_quiet
                break
            time.sleep(1)

        # Failures by kind, and whether each lies in a kill window.
        windows = [(int(a), int(b) + KILL_WINDOW_SLACK) for a, b, _ in kills]
        in_kill, outside = {}, {}
        for sec, status, n in fails:
            d = in_kill if any(a <= sec <= b for a, b in windows) else outside
            d[status] = d.get(status, 0) + n
        sock = {k: int(load[k]) for k in ("connect", "read", "write", "timeout")}

        print(f"load: {load['requests']:.0f} requests in {load['duration_us'] / 1e6:.0f} s = "
              f"{load['rps']:.0f} req/s ({100 * load['rps'] / full['rps']:.0f}% of max); "
              f"latency p50 {load['p50_ms']:.2f} ms, p99 {load['p99_ms']:.2f} ms, max {load['max_ms']:.0f} ms")
        print(f"faults: {len(kills)} kills of b1 ({sum(1 for k in kills if not k[2])} failed restarts), "
              f"b2 stalled {STALL_FOR:.0f} s every {STALL_EVERY} s, "
              f"{reloads['ok']} reloads ok, {len(reloads['refused'])} refused")
        print(f"failed requests in kill windows (allowed), by status: {in_kill or 'none'}")
        print(f"failed requests outside kill windows, by status: {outside or 'none'}")
        print(f"client socket errors: {sock}")
        keys = ["retries", "backend_down", "backend_up", "upstream_connect", "upstream_reuse",
                "upstream_idle_peer_closed", "upstream_idle_stray_bytes", "snapshot_swaps"]
        print("ringfront: " + ", ".join(f"{k} {c.get(k, '-')}" for k in keys))
        errs = {k: v for k, v in c.items() if k.startswith("err_") and v}
        print(f"ringfront error counters: {errs or 'none'}")
        print("samples (s, fds, rss KiB): " + "; ".join(f"{t:.0f} {f} {r}" for t, f, r in samples))

        if outside:
            problems.append(f"failed requests outside kill windows: {outside}")
        if any(sock.values()):
            problems.append(f"client socket errors: {sock}")
        if reloads["refused"]:
            problems.append(f"reloads refused: {reloads['refused'][:3]}")
        if c.get("err_handler_panic", 0):
            problems.append("a handler panicked")
        if any(not k[2] for k in kills):
            problems.append("backend 1 did not restart")
        problems += growth(samples)
        print(f"descriptors once idle: {quiet_fds} (before the load: {fds_at_start}, "
              f"tolerance +{QUIET_FD_SLACK}) " + (f"after {quiet_after:.0f} s" if quiet_after is not None
                                                 else f"still after {QUIET_WAIT} s"))
        if quiet_after is None:
            problems.append(f"descriptors did not come back to {fds_at_start} within {QUIET_WAIT} s "
                            f"of the load's end ({quiet_fds})")
    finally:
        if rf.poll() is None:
            rf.send_signal(signal.SIGTERM)
            try:
                code = rf.wait(timeout=15)
                if code != 0:
                    problems.append(f"ringfront exited {code} on SIGTERM")
            except subprocess.TimeoutExpired:
                rf.kill()
                problems.append("ringfront did not stop within 15 s of SIGTERM")
        backends.stop()
    log = open(f"{root}/log/ringfront.log", errors="replace").read() \
        if os.path.exists(f"{root}/log/ringfront.log") else ""
    if "panic" in log.lower():
        problems.append("panic in ringfront's log: " +
                        next(l for l in log.splitlines() if "panic" in l.lower()))
    print(f"ringfront log: {len(log.splitlines())} lines at warn and above ({root}/log/ringfront.log)")
    if problems:
        print("SOAK FAILED:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("SOAK PASSED")


def growth(samples):
    """Descriptor and RSS growth from minute 2 to the end."""
    if len(samples) < 4:
        return [f"too few samples ({len(samples)}) to judge growth"]
    end_t = samples[-1][0]
    base_from = min(120, end_t / 3)
    base = [s for s in samples if base_from <= s[0] < base_from + 60] or samples[1:2]
    last = [s for s in samples if s[0] > end_t - 60 and s[0] >= base_from + 60] or samples[-1:]
    bf, lf = statistics.median(s[1] for s in base), statistics.median(s[1] for s in last)
    br, lr = statistics.median(s[2] for s in base), statistics.median(s[2] for s in last)
    rss_tol = br * RSS_TOLERANCE_PCT / 100 + RSS_TOLERANCE_FIXED_KIB
    print(f"growth from {base_from:.0f} s to the end: fds {bf:.0f} -> {lf:.0f} "
          f"(tolerance +{FD_TOLERANCE}), RSS {br:.0f} -> {lr:.0f} KiB (tolerance +{rss_tol:.0f} KiB)")
    out = []
    if lf - bf > FD_TOLERANCE:
        out.append(f"descriptors grew {bf:.0f} -> {lf:.0f}")
    if lr - br > rss_tol:
        out.append(f"RSS grew {br:.0f} -> {lr:.0f} KiB")
    return out


if __name__ == "__main__":
    main()
