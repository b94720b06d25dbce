#!/usr/bin/env python3
"""Helpers for scripts/bench.sh (Python 3 standard library only).

Subcommands:
  snap PID...            print "cpu_seconds rss_kib pss_kib nprocs" summed over
                         each PID and all its descendants (threads included:
                         /proc/PID/stat utime+stime covers every thread).
  record ...             parse one wrk output file, append a row to samples.csv
                         and print a one-line summary of that run.
  idle-record ...        append a row to idle.csv.
  report DIR             read DIR/samples.csv (and DIR/idle.csv), write
                         DIR/summary.csv and DIR/chart.svg (DIR/idle.svg),
                         print the tables; with ringfront+noop samples also
                         the framework cost (noop columns, chart_noop.svg).
  monitor URL [KEY...]   fetch a JSON monitor page and print KEY... (default:
                         connection / active / idle counters), flattened.
  monitor-get URL KEY    print one top-level value of a JSON monitor page
                         ("-" when it cannot be read).
  port BASE [N]          print N ports >= BASE that are free on 127.0.0.1
                         and 0.0.0.0 (bind test).
  children PID           print the pids of PID's descendants.
  fetch URL              GET URL; print "STATUS BODY_BYTES" (000 0 on error).
  conns PID LPORT RPORT  TCP sockets owned by PID's process tree, from
                         /proc/net/tcp{,6}: "client_est client_closewait
                         upstream_est total" where client = local port LPORT,
                         upstream = remote port RPORT.
"""

import csv
import json
import math
import os
import re
import socket
import statistics
import sys
import urllib.error
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")

SAMPLE_FIELDS = [
    "mode", "workers", "body", "proxy", "round", "threads", "conns",
    "duration_s", "requests", "rps", "p50_ms", "p99_ms", "non2xx",
    "sock_errors", "cpu_s", "cpu_s_per_100k", "rss_kib", "pss_kib", "wrk_file",
]
IDLE_FIELDS = [
    "proxy", "workers", "batch", "target_conns", "open_conns", "rss_before_kib",
    "rss_after_kib", "rss_closed_kib", "pss_before_kib", "pss_after_kib",
    "kib_per_conn", "pss_kib_per_conn",
]
# The `noop` mode's twin: ringfront with mod_noop (GoOn at all 9 callback
# points). Issue 4's budget for that framework cost, in % of req/s.
NOOP = "ringfront+noop"
NOOP_TARGET_PCT = 1.0
# The `modules` mode's pair: ringfront with BFE's eleven core modules on,
# and nginx with the equivalent access log and header rules. Issue 11's
# budget: the modules cost <= 10% CPU per request over bare ringfront, and
# ringfront with them stays at or below nginx with its access log.
MODS = "ringfront+mods"
NGINX_LOG = "nginx+log"
MODS_TARGET_PCT = 10.0
HAPROXY = "haproxy"
PROXY_ORDER = ["nginx", NGINX_LOG, HAPROXY, "ringfront", NOOP, MODS]
BODY_ORDER = ["small", "4k", "64k"]


# ---------------------------------------------------------------- /proc ----

def _children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()
        kids.setdefault(int(rest[1]), []).append(int(d))
    return kids


def _tree(pids):
    kids = _children_map()
    seen, todo = [], list(pids)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(kids.get(p, []))
    return seen


def _cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        st = f.read()
    rest = st[st.rindex(")") + 2:].split()
    # fields 14 and 15 (utime, stime) are rest[11], rest[12]
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def _kib_field(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def snap(pids):
    cpu = rss = pss = n = 0
    for p in _tree(pids):
        try:
            cpu += _cpu_seconds(p)
        except OSError:
            continue
        rss += _kib_field(f"/proc/{p}/status", "VmRSS")
        pss += _kib_field(f"/proc/{p}/smaps_rollup", "Pss")
        n += 1
    return cpu, rss, pss, n


# ------------------------------------------------------------------ wrk ----

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def _lat_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m|h)$", text)
    if not m:
        return float("nan")
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


def parse_h2load(text, log_path=None):
    """h2load's summary; latency percentiles from its --log-file (one line
    per request: start time, status, duration in microseconds)."""
    r = {"requests": 0, "rps": 0.0, "p50_ms": float("nan"),
         "p99_ms": float("nan"), "non2xx": 0, "sock_errors": 0,
         "duration_s": float("nan")}
    m = re.search(r"finished in ([\d.]+)(us|ms|s|m|h), ([\d.]+) req/s", text)
    if m:
        r["duration_s"] = _lat_ms(m.group(1) + m.group(2)) / 1000.0
        r["rps"] = float(m.group(3))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
    if m:
        r["requests"] = int(m.group(4))
        r["sock_errors"] = int(m.group(6)) + int(m.group(7))
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if m:
        r["non2xx"] = sum(int(x) for x in m.groups()[1:])
    if log_path and os.path.exists(log_path):
        durs = []
        with open(log_path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    durs.append(int(parts[2]) / 1000.0)
        if durs:
            durs.sort()
            r["p50_ms"] = durs[len(durs) // 2]
            r["p99_ms"] = durs[min(len(durs) - 1, len(durs) * 99 // 100)]
    return r


def parse_wrk(text):
    r = {"requests": 0, "rps": 0.0, "p50_ms": float("nan"),
         "p99_ms": float("nan"), "non2xx": 0, "sock_errors": 0,
         "duration_s": float("nan")}
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", text)
    if m:
        r["requests"] = int(m.group(1))
        r["duration_s"] = _lat_ms(m.group(2) + m.group(3)) / 1000.0
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s+" + pct + r"(?:\.000)?%\s+(\S+)", text, re.M)
        if m:
            r[key] = _lat_ms(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", text)
    if m:
        r["sock_errors"] = sum(int(x) for x in m.groups())
    return r


def _append(path, fields, row):
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        if new:
            w.writeheader()
        w.writerow(row)


def _fmt(x, nd=2, nan="-", prefix=""):
    if isinstance(x, float):
        if math.isnan(x):
            return nan
        return f"{prefix}{x:.{nd}f}"
    return str(x)


def cmd_record(argv):
    a = dict(zip(argv[0::2], argv[1::2]))
    with open(a["--wrk"]) as f:
        text = f.read()
    r = parse_h2load(text, a["--wrk"] + ".log") if text.startswith("starting benchmark") \
        else parse_wrk(text)
    cpu = float(a["--cpu-after"]) - float(a["--cpu-before"])
    per100k = cpu / r["requests"] * 100000 if r["requests"] else float("nan")
    row = {
        "mode": a["--mode"], "workers": a["--workers"], "body": a["--body"],
        "proxy": a["--proxy"], "round": a["--round"],
        "threads": a["--threads"], "conns": a["--conns"],
        "duration_s": _fmt(r["duration_s"]), "requests": r["requests"],
        "rps": _fmt(r["rps"]), "p50_ms": _fmt(r["p50_ms"], 3),
        "p99_ms": _fmt(r["p99_ms"], 3), "non2xx": r["non2xx"],
        "sock_errors": r["sock_errors"], "cpu_s": _fmt(cpu, 3),
        "cpu_s_per_100k": _fmt(per100k, 3), "rss_kib": a["--rss"],
        "pss_kib": a["--pss"],
        "wrk_file": os.path.relpath(a["--wrk"], os.path.dirname(a["--samples"])),
    }
    _append(a["--samples"], SAMPLE_FIELDS, row)
    bad = ""
    if r["requests"] == 0:
        bad = "  !! no requests completed"
    elif r["non2xx"] or r["sock_errors"]:
        bad = "  !!"
    pw = len(NOOP) if row["mode"] in ("noop", "modules") else 9   # other modes keep their layout
    print(f"    {row['mode']:<10} w={row['workers']} {row['body']:<5} "
          f"round {row['round']} {row['proxy']:<{pw}} {r['rps']:>10.0f} req/s  "
          f"p50 {_fmt(r['p50_ms'], 3):>7} ms  p99 {_fmt(r['p99_ms'], 3):>7} ms  "
          f"cpu {_fmt(per100k, 2)} s/100k  rss {int(a['--rss']) // 1024} MiB  "
          f"non2xx {r['non2xx']} sockerr {r['sock_errors']}{bad}")


def cmd_idle_record(argv):
    a = dict(zip(argv[0::2], argv[1::2]))
    n = int(a["--open"])
    rb, ra = int(a["--rss-before"]), int(a["--rss-after"])
    pb, pa = int(a["--pss-before"]), int(a["--pss-after"])
    row = {
        "proxy": a["--proxy"], "workers": a["--workers"],
        "batch": a.get("--batch", "first"),
        "target_conns": a["--target"], "open_conns": n,
        "rss_before_kib": rb, "rss_after_kib": ra,
        "rss_closed_kib": a["--rss-closed"], "pss_before_kib": pb,
        "pss_after_kib": pa,
        "kib_per_conn": _fmt((ra - rb) / n, 3) if n else "-",
        "pss_kib_per_conn": _fmt((pa - pb) / n, 3) if n else "-",
    }
    _append(a["--csv"], IDLE_FIELDS, row)
    print(f"    idle {row['proxy']:<9} {row['batch']:<4} {n} open: RSS {rb} -> {ra} KiB "
          f"(+{row['kib_per_conn']} KiB/conn), after close {row['rss_closed_kib']} KiB")


# --------------------------------------------------------------- report ----

INSN_FIELDS = ["proxy", "round", "requests", "instructions", "insn_per_req"]


def cmd_insn_record(argv):
    a = dict(zip(argv[0::2], argv[1::2]))
    n, ir = int(a["--requests"]), int(a["--instructions"])
    row = {"proxy": a["--proxy"], "round": a["--round"], "requests": n,
           "instructions": ir, "insn_per_req": _fmt(ir / n, 1) if n else "-"}
    _append(a["--csv"], INSN_FIELDS, row)
    twin = "modules" if row["proxy"] == MODS or "mods_insn" in a["--csv"] else "noop"
    print(f"    {twin} callgrind round {row['round']} {row['proxy']:<14} {n:>6} requests  "
          f"{row['insn_per_req']:>9} user-space instructions per request")


def print_insn(path, twin=NOOP):
    """The callgrind comparison: median instructions per request of plain
    ringfront and its twin (ringfront+noop, or ringfront+mods), and the
    twin's cost in instructions."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    med = {}
    for p in ("ringfront", twin):
        xs = [_f(r["insn_per_req"]) for r in rows if r["proxy"] == p]
        if xs:
            med[p] = (_med(xs), min(xs), max(xs), len(xs))
    if len(med) < 2:
        return
    base, noop = med["ringfront"], med[twin]
    cost = 100.0 * (noop[0] / base[0] - 1) if base[0] else float("nan")
    print()
    body = os.environ.get("BENCH_INSN_BODY", "small")
    what = "Framework cost" if twin == NOOP else "Core modules' cost"
    print(f"{what} in instructions (callgrind, epoll driver, {body} body, wrk -c8 -d10s "
          "after a warm-up; user space only: the kernel's part of a request, most of it, "
          "does not depend on modules)")
    _print_rows(["proxy", "n", "insn/req med", "min..max"],
                [[p, str(m[3]), f"{m[0]:.0f}", f"{m[1]:.0f}..{m[2]:.0f}"] for p, m in med.items()])
    label = "noop" if twin == NOOP else "modules"
    print(f"{label} cost in user-space instructions: {cost:+.2f}% ({noop[0] - base[0]:+.0f} per request)")
    target = NOOP_TARGET_PCT if twin == NOOP else MODS_TARGET_PCT
    split = os.path.join(os.path.dirname(path), f"{'noop' if twin == NOOP else 'mods'}_cpu_split.txt")
    if not os.path.exists(split):
        return
    with open(split) as f:
        words = f.read().split()
    user, system = float(words[1]), float(words[3])
    if user + system <= 0:
        return
    share = user / (user + system)
    whole = cost * share
    verdict = "PASS" if whole <= target else "FAIL"
    print(f"user space is {100 * share:.0f}% of ringfront's CPU time under load (utime/stime, "
          f"small body, -c{words[5] if len(words) > 5 else '?'}), so the handlers add about "
          f"{whole:+.2f}% to a request's CPU time -> {verdict} (target <= {target:g}%)")


def _med(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.median(xs) if xs else float("nan")


def _f(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return float("nan")


def _order(key, order):
    return (order.index(key) if key in order else len(order), key)


def _busy_pct(r):
    """How busy the proxy's cores were during the run: CPU seconds over
    (duration x workers). Well under 100% means the proxy was not the
    bottleneck: req/s then measures the load generator and origin, and CPU
    per request is the per-core comparison."""
    d = _f(r["duration_s"]) * int(r["workers"])
    return 100.0 * _f(r["cpu_s"]) / d if d else float("nan")


def summarise(rows):
    groups = {}
    for r in rows:
        groups.setdefault((r["mode"], int(r["workers"]), r["body"], r["proxy"]), []).append(r)
    out = []
    for (mode, w, body, proxy), rs in groups.items():
        rps = [_f(r["rps"]) for r in rs]
        out.append({
            "mode": mode, "workers": w, "body": body, "proxy": proxy,
            "rounds": len(rs), "rps_median": _med(rps),
            "rps_min": min(rps), "rps_max": max(rps),
            "cpu_s_per_100k_median": _med([_f(r["cpu_s_per_100k"]) for r in rs]),
            "busy_pct_median": _med([_busy_pct(r) for r in rs]),
            "p50_ms_median": _med([_f(r["p50_ms"]) for r in rs]),
            "p99_ms_median": _med([_f(r["p99_ms"]) for r in rs]),
            "rss_kib_median": _med([_f(r["rss_kib"]) for r in rs]),
            "pss_kib_median": _med([_f(r["pss_kib"]) for r in rs]),
            "non2xx_total": sum(int(r["non2xx"]) for r in rs),
            "sock_errors_total": sum(int(r["sock_errors"]) for r in rs),
        })
    # ratio ringfront/nginx per (mode, workers, body): of the medians, and the
    # spread of per-round ratios (round i of A vs round i of B).
    for s in out:
        s["rps_ratio_vs_nginx"] = float("nan")
        s["cpu_ratio_vs_nginx"] = float("nan")
        s["round_ratio_min"] = float("nan")
        s["round_ratio_max"] = float("nan")
        s["rps_ratio_vs_haproxy"] = float("nan")
        s["cpu_ratio_vs_haproxy"] = float("nan")
    idx = {(s["mode"], s["workers"], s["body"], s["proxy"]): s for s in out}
    for (mode, w, body, proxy), s in idx.items():
        base = idx.get((mode, w, body, "nginx"))
        if proxy == "nginx" or not base:
            continue
        if base["rps_median"]:
            s["rps_ratio_vs_nginx"] = s["rps_median"] / base["rps_median"]
        if base["cpu_s_per_100k_median"]:
            s["cpu_ratio_vs_nginx"] = s["cpu_s_per_100k_median"] / base["cpu_s_per_100k_median"]
        a = {r["round"]: _f(r["rps"]) for r in groups[(mode, w, body, "nginx")]}
        b = {r["round"]: _f(r["rps"]) for r in groups[(mode, w, body, proxy)]}
        rr = [b[k] / a[k] for k in a if k in b and a[k]]
        if rr:
            s["round_ratio_min"], s["round_ratio_max"] = min(rr), max(rr)
    # and ringfront (and its twins) over HAProxy, the other proxy users
    # compare with, when HAProxy ran in the same mode.
    for (mode, w, body, proxy), s in idx.items():
        base = idx.get((mode, w, body, HAPROXY))
        if not proxy.startswith("ringfront") or not base:
            continue
        if base["rps_median"]:
            s["rps_ratio_vs_haproxy"] = s["rps_median"] / base["rps_median"]
        if base["cpu_s_per_100k_median"]:
            s["cpu_ratio_vs_haproxy"] = s["cpu_s_per_100k_median"] / base["cpu_s_per_100k_median"]
    _noop_cost(out, idx, groups)
    mode_order = []
    for r in rows:
        if r["mode"] not in mode_order:
            mode_order.append(r["mode"])
    out.sort(key=lambda s: (mode_order.index(s["mode"]), s["workers"], _order(s["body"], BODY_ORDER),
                            _order(s["proxy"], PROXY_ORDER)))
    return out


def _noop_cost(out, idx, groups):
    """Framework cost on each ringfront+noop row, against plain ringfront of
    the same (mode, workers, body). Rounds pair up by number: round i of the
    two ran back to back, so their ratio is the least noisy comparison."""
    for s in out:
        for k in NOOP_FIELDS:
            s[k] = float("nan")
        s["noop_verdict"] = ""
    for (mode, w, body, proxy), s in idx.items():
        base = idx.get((mode, w, body, "ringfront"))
        if proxy != NOOP or not base:
            continue
        if base["rps_median"]:
            s["noop_cost_pct"] = (1 - s["rps_median"] / base["rps_median"]) * 100
        if base["cpu_s_per_100k_median"]:
            s["cpu_ratio_vs_ringfront"] = s["cpu_s_per_100k_median"] / base["cpu_s_per_100k_median"]
        a = {r["round"]: r for r in groups[(mode, w, body, "ringfront")]}
        b = {r["round"]: r for r in groups[(mode, w, body, NOOP)]}
        both = [k for k in a if k in b]
        cost = [(1 - _f(b[k]["rps"]) / _f(a[k]["rps"])) * 100 for k in both if _f(a[k]["rps"])]
        cost = [c for c in cost if not math.isnan(c)]
        if cost:
            s["noop_cost_pct_min"], s["noop_cost_pct_max"] = min(cost), max(cost)
        cpu = [_f(b[k]["cpu_s_per_100k"]) / _f(a[k]["cpu_s_per_100k"])
               for k in both if _f(a[k]["cpu_s_per_100k"])]
        cpu = [c for c in cpu if not math.isnan(c)]
        if cpu:
            s["cpu_round_ratio_min"], s["cpu_round_ratio_max"] = min(cpu), max(cpu)
        if not math.isnan(s["noop_cost_pct"]):
            s["noop_verdict"] = "PASS" if s["noop_cost_pct"] <= NOOP_TARGET_PCT else "FAIL"


NOOP_FIELDS = [
    "noop_cost_pct", "noop_cost_pct_min", "noop_cost_pct_max",
    "cpu_ratio_vs_ringfront", "cpu_round_ratio_min", "cpu_round_ratio_max",
]

SUMMARY_FIELDS = [
    "mode", "workers", "body", "proxy", "rounds", "rps_median", "rps_min",
    "rps_max", "rps_ratio_vs_nginx", "round_ratio_min", "round_ratio_max",
    "cpu_s_per_100k_median", "cpu_ratio_vs_nginx", "rps_ratio_vs_haproxy",
    "cpu_ratio_vs_haproxy", "busy_pct_median",
    "p50_ms_median",
    "p99_ms_median", "rss_kib_median", "pss_kib_median", "non2xx_total",
    "sock_errors_total",
]


def print_table(summary):
    hdr = ["mode", "w", "body", "proxy", "n", "req/s med", "min..max",
           "rf/nginx", "cpu s/100k", "rf/haproxy", "cpu/haproxy", "busy %", "p50 ms",
           "p99 ms", "RSS MiB", "non2xx", "sockerr"]
    rows = []
    for s in summary:
        ratio = ""
        if s["proxy"] != "nginx" and not math.isnan(s["rps_ratio_vs_nginx"]):
            ratio = f"{s['rps_ratio_vs_nginx']:.3f}"
            if not math.isnan(s["round_ratio_min"]):
                ratio += f" ({s['round_ratio_min']:.2f}-{s['round_ratio_max']:.2f})"
        cpu = _fmt(s["cpu_s_per_100k_median"], 2)
        if s["proxy"] != "nginx" and not math.isnan(s["cpu_ratio_vs_nginx"]):
            cpu += f" (x{s['cpu_ratio_vs_nginx']:.2f})"
        rows.append([
            s["mode"], str(s["workers"]), s["body"], s["proxy"], str(s["rounds"]),
            f"{s['rps_median']:.0f}", f"{s['rps_min']:.0f}..{s['rps_max']:.0f}",
            ratio, cpu, _fmt(s["rps_ratio_vs_haproxy"], 3, ""),
            _fmt(s["cpu_ratio_vs_haproxy"], 2, "", "x"), f"{s['busy_pct_median']:.0f}",
            _fmt(s["p50_ms_median"], 3), _fmt(s["p99_ms_median"], 3),
            _fmt(s["rss_kib_median"] / 1024, 1), str(s["non2xx_total"]),
            str(s["sock_errors_total"]),
        ])
    _print_rows(hdr, rows)


def print_noop_table(summary):
    hdr = ["mode", "w", "body", "n", "rf req/s", "rf+noop req/s", "noop cost",
           "per round", "rf cpu s/100k", "rf+noop cpu", "cpu ratio", "per round",
           f"<= {NOOP_TARGET_PCT:g}%"]
    idx = {(s["mode"], s["workers"], s["body"], s["proxy"]): s for s in summary}
    rows = []
    for s in summary:
        base = idx.get((s["mode"], s["workers"], s["body"], "ringfront"))
        if s["proxy"] != NOOP or not base:
            continue
        rows.append([
            s["mode"], str(s["workers"]), s["body"], str(s["rounds"]),
            f"{base['rps_median']:.0f}", f"{s['rps_median']:.0f}",
            _pct(s["noop_cost_pct"]),
            _range(s["noop_cost_pct_min"], s["noop_cost_pct_max"], "{:+.1f}%"),
            _fmt(base["cpu_s_per_100k_median"], 2), _fmt(s["cpu_s_per_100k_median"], 2),
            "-" if math.isnan(s["cpu_ratio_vs_ringfront"]) else f"x{s['cpu_ratio_vs_ringfront']:.3f}",
            _range(s["cpu_round_ratio_min"], s["cpu_round_ratio_max"], "{:.3f}"),
            s["noop_verdict"] or "-",
        ])
    _print_rows(hdr, rows)
    return rows


def print_modules_table(summary):
    """The core modules' cost: CPU per request of ringfront+mods against
    bare ringfront (target <= MODS_TARGET_PCT) and against nginx with its
    access log and header rules (target: at or below it)."""
    hdr = ["w", "body", "n", "rf cpu", "rf+mods cpu", "mods cost", f"<= {MODS_TARGET_PCT:g}%",
           "nginx+log cpu", "rf+mods/nginx+log", "<= 1", "rf+mods req/s", "p99 ms"]
    idx = {(s["mode"], s["workers"], s["body"], s["proxy"]): s for s in summary}
    rows = []
    for s in summary:
        if s["proxy"] != MODS:
            continue
        k = (s["mode"], s["workers"], s["body"])
        base, ngx = idx.get(k + ("ringfront",)), idx.get(k + (NGINX_LOG,))
        cm = s["cpu_s_per_100k_median"]
        cost = (cm / base["cpu_s_per_100k_median"] - 1) * 100 if base and base["cpu_s_per_100k_median"] else float("nan")
        vs = cm / ngx["cpu_s_per_100k_median"] if ngx and ngx["cpu_s_per_100k_median"] else float("nan")
        rows.append([
            str(s["workers"]), s["body"], str(s["rounds"]),
            _fmt(base["cpu_s_per_100k_median"], 2) if base else "-", _fmt(cm, 2), _pct(cost),
            "-" if math.isnan(cost) else ("PASS" if cost <= MODS_TARGET_PCT else "FAIL"),
            _fmt(ngx["cpu_s_per_100k_median"], 2) if ngx else "-",
            "-" if math.isnan(vs) else f"x{vs:.3f}",
            "-" if math.isnan(vs) else ("PASS" if vs <= 1.0 else "FAIL"),
            f"{s['rps_median']:.0f}", _fmt(s["p99_ms_median"], 3),
        ])
    _print_rows(hdr, rows)


def _pct(x):
    return "-" if math.isnan(x) else f"{x:+.2f}%"


def _range(lo, hi, fmt):
    if math.isnan(lo) or math.isnan(hi):
        return "-"
    return f"{fmt.format(lo)}..{fmt.format(hi)}"


def _print_rows(hdr, rows):
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(hdr)]
    line = "  ".join(h.ljust(w) for h, w in zip(hdr, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.rjust(w) if i >= 4 else c.ljust(w)
                        for i, (c, w) in enumerate(zip(r, widths))))


def _esc(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))


COLORS = {"nginx": "#009639", HAPROXY: "#1f5fa8", "ringfront": "#d2691e", NOOP: "#8b4513"}


def bar_chart(title, subtitle, groups, unit, path, ratio_label="ringfront/nginx",
              higher_better=True, note="ratio of medians; whiskers: min..max over rounds"):
    """groups: list of (label, {proxy: (value, lo, hi)}, ratio_or_None[,
    (extra_text, good)]); a label may hold two lines separated by a newline;
    extra_text is one more line under the ratio, green when good; the note
    may hold several lines."""
    proxies = [p for p in PROXY_ORDER if any(p in g[1] for g in groups)]
    proxies += sorted({p for g in groups for p in g[1]} - set(proxies))
    bw, gap, left, top, height = 46, 44, 80, 70, 300
    gw = bw * len(proxies) + gap
    width = max(left + gw * len(groups) + 40, 720)
    notes = note.split("\n")
    extra_h = 16 if any(len(g) > 3 and g[3] for g in groups) else 0
    total_h = top + height + 120 + extra_h + 16 * (len(notes) - 1)
    vmax = max([v[2] for g in groups for v in g[1].values()] + [1.0])
    step = _nice_step(vmax / 5)
    vtop = step * math.ceil(vmax / step)
    y = lambda v: top + height - (v / vtop) * height
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_h}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="100%" height="100%" fill="white"/>',
         f'<text x="{left}" y="24" font-size="16" font-weight="bold">{_esc(title)}</text>',
         f'<text x="{left}" y="44" fill="#555">{_esc(subtitle)}</text>']
    t = 0.0
    while t <= vtop + 1e-9:
        yy = y(t)
        o.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{width - 20}" y2="{yy:.1f}" stroke="#ddd"/>')
        o.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#333">{_short(t)}</text>')
        t += step
    o.append(f'<text x="16" y="{top + height / 2}" transform="rotate(-90 16 {top + height / 2})" '
             f'text-anchor="middle" fill="#333">{_esc(unit)}</text>')
    for gi, g in enumerate(groups):
        label, vals, ratio = g[:3]
        extra = g[3] if len(g) > 3 else None
        gx = left + gap / 2 + gi * gw
        for pi, p in enumerate(proxies):
            if p not in vals:
                continue
            v, lo, hi = vals[p]
            x = gx + pi * bw
            o.append(f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bw - 6}" height="{top + height - y(v):.1f}" '
                     f'fill="{COLORS.get(p, "#4477aa")}"><title>{_esc(p)} {_esc(label)}: '
                     f'median {v:.0f} (min {lo:.0f}, max {hi:.0f})</title></rect>')
            cx = x + (bw - 6) / 2
            o.append(f'<line x1="{cx:.1f}" y1="{y(lo):.1f}" x2="{cx:.1f}" y2="{y(hi):.1f}" stroke="#222"/>')
            o.append(f'<text x="{cx:.1f}" y="{y(hi) - 4:.1f}" text-anchor="middle" font-size="10">{_short(v)}</text>')
        cx = gx + (bw * len(proxies) - 6) / 2
        lines = label.split("\n")
        for li, text in enumerate(lines):
            style = "" if li == 0 else ' fill="#555" font-size="11"'
            o.append(f'<text x="{cx:.1f}" y="{top + height + 18 + 14 * li}" text-anchor="middle"'
                     f'{style}>{_esc(text)}</text>')
        if ratio is not None and not math.isnan(ratio):
            good = ratio >= 1 if higher_better else ratio <= 1
            col = "#006400" if good else "#b22222"
            o.append(f'<text x="{cx:.1f}" y="{top + height + 22 + 14 * len(lines)}" text-anchor="middle" '
                     f'font-weight="bold" fill="{col}">x{ratio:.2f}</text>')
        if extra:
            text, good = extra
            o.append(f'<text x="{cx:.1f}" y="{top + height + 38 + 14 * len(lines)}" text-anchor="middle" '
                     f'font-size="11" fill="{"#006400" if good else "#b22222"}">{_esc(text)}</text>')
    ly = total_h - 38 - 16 * (len(notes) - 1)
    lx = left
    for p in proxies:
        o.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{COLORS.get(p, "#4477aa")}"/>')
        o.append(f'<text x="{lx + 16}" y="{ly}">{_esc(p)}</text>')
        lx += 110 if len(p) <= 12 else 140
    o.append(f'<text x="{left}" y="{ly + 20}" fill="#555">bold: {_esc(ratio_label)} '
             f'({"higher" if higher_better else "lower"} is better); {_esc(notes[0])}</text>')
    for i, line in enumerate(notes[1:], 1):
        o.append(f'<text x="{left}" y="{ly + 20 + 16 * i}" fill="#555">{_esc(line)}</text>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def _nice_step(x):
    if x <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if m * e >= x:
            return m * e
    return 10 * e


def _short(v):
    if v >= 1e6:
        return f"{v / 1e6:.1f}M"
    if v >= 1e4:
        return f"{v / 1e3:.0f}k"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    if v == 0:
        return "0"
    return f"{v:.0f}" if v >= 10 else f"{v:.2f}"


def cmd_report(argv):
    d = argv[0]
    meta = {}
    mp = os.path.join(d, "params.txt")
    if os.path.exists(mp):
        with open(mp) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    meta[k] = v
    sp = os.path.join(d, "samples.csv")
    if os.path.exists(sp):
        with open(sp) as f:
            rows = list(csv.DictReader(f))
        summary = summarise(rows)
        has_noop = any(s["proxy"] == NOOP for s in summary)
        # noop columns only when there is a noop run: other runs' CSV keeps its shape
        fields = SUMMARY_FIELDS + (NOOP_FIELDS + ["noop_verdict"] if has_noop else [])
        with open(os.path.join(d, "summary.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            for s in summary:
                w.writerow({k: _fmt(v, 4) if isinstance(v, float) else v
                            for k, v in s.items() if k in fields})
        print()
        print("Throughput (median over rounds; rf/nginx = ratio of median req/s, "
              "per-round ratio range in brackets; cpu = proxy CPU seconds per "
              "100k requests, ratio vs nginx in brackets; rf/haproxy, cpu/haproxy = "
              "the same two ratios against HAProxy; busy = proxy CPU time "
              "over wall time per worker: well under 100% means the load "
              "generator or origin, not the proxy, set the req/s)")
        print_table(summary)
        if has_noop:
            print()
            print(f"Framework cost (ringfront+noop = ringfront with Modules = mod_noop, a GoOn "
                  f"handler at each of the 9 callback points; noop cost = 1 - median req/s "
                  f"ringfront+noop / ringfront; cpu ratio = CPU s/100k ringfront+noop / "
                  f"ringfront; per round = range over rounds paired by number; target "
                  f"<= {NOOP_TARGET_PCT:g}%, for information: it does not set the exit status)")
            for r in print_noop_table(summary):
                print(f"noop cost {r[2]} body, {r[1]} worker(s): {r[6]} (rounds {r[7]}), "
                      f"cpu {r[10]} -> {r[12]} (target <= {NOOP_TARGET_PCT:g}%)")
        if any(s["proxy"] == MODS for s in summary):
            print()
            print("Core modules' cost (cpu = proxy CPU seconds per 100k requests, median over "
                  "rounds; ringfront+mods = the eleven modules of BFE's default conf with its "
                  "sample rules; nginx+log = nginx with the same request-log fields, buffered, "
                  "and the same header rules; for information: it does not set the exit status)")
            print_modules_table(summary)
        modes = []
        for s in summary:
            if s["mode"] not in modes:
                modes.append(s["mode"])
        sub = (f"wrk -t{meta.get('threads', '?')} -c{meta.get('conns', '?')} "
               f"-d{meta.get('duration', '?')}, {meta.get('rounds', '?')} alternating rounds; "
               f"{meta.get('cpu', '')}")
        print()
        for mode in modes:
            groups = []
            ms = [s for s in summary if s["mode"] == mode]
            keys = []
            for s in ms:
                if (s["workers"], s["body"]) not in keys:
                    keys.append((s["workers"], s["body"]))
            for w, body in keys:
                vals, ratio, extra = {}, None, None
                for s in ms:
                    if (s["workers"], s["body"]) != (w, body):
                        continue
                    vals[s["proxy"]] = (s["rps_median"], s["rps_min"], s["rps_max"])
                    if s["proxy"] == "ringfront" or (s["proxy"] != "nginx" and ratio is None):
                        ratio = s["rps_ratio_vs_nginx"]
                    if s["proxy"] == NOOP and s["noop_verdict"]:
                        extra = (f"noop cost {s['noop_cost_pct']:+.2f}% {s['noop_verdict']}",
                                 s["noop_verdict"] == "PASS")
                groups.append((f"{body} body\n{w} worker{'s' if w > 1 else ''}", vals, ratio, extra))
            name = "chart.svg" if mode in ("throughput", "quick") else f"chart_{mode}.svg"
            if any(g[3] for g in groups):
                bar_chart(f"ringfront (+ mod_noop) vs nginx ({mode}): requests/s, median",
                          sub, groups, "requests/s", os.path.join(d, name),
                          note=f"ratio of medians; whiskers: min..max over rounds\nnoop cost = "
                               f"1 - ringfront+noop / ringfront (median req/s), target "
                               f"<= {NOOP_TARGET_PCT:g}%\nringfront+noop: Modules = mod_noop, "
                               f"a GoOn handler at all 9 callback points")
            else:
                bar_chart(f"ringfront vs nginx ({mode}): requests/s, median", sub, groups,
                          "requests/s", os.path.join(d, name))
            print(f"chart: {os.path.join(d, name)}")
    np_ = os.path.join(d, "noop_insn.csv")
    if os.path.exists(np_):
        print_insn(np_)
    mp_ = os.path.join(d, "mods_insn.csv")
    if os.path.exists(mp_):
        print_insn(mp_, MODS)
    ip = os.path.join(d, "idle.csv")
    if os.path.exists(ip):
        with open(ip) as f:
            rows = list(csv.DictReader(f))
        print()
        print("Idle keep-alive connections (RSS summed over all proxy processes)")
        hdr = ["proxy", "w", "batch", "target", "open", "RSS before KiB", "RSS after KiB",
               "KiB/conn", "PSS KiB/conn", "RSS after close KiB"]
        _print_rows(hdr, [[r["proxy"], r["workers"], r.get("batch") or "first", r["target_conns"],
                           r["open_conns"], r["rss_before_kib"], r["rss_after_kib"],
                           r["kib_per_conn"], r["pss_kib_per_conn"], r["rss_closed_kib"]]
                          for r in rows])
        groups = []
        for batch in ("first", "more"):
            vals = {r["proxy"]: (_f(r["kib_per_conn"]),) * 3 for r in rows
                    if (r.get("batch") or "first") == batch}
            if not vals:
                continue
            ratio = None
            if "nginx" in vals and "ringfront" in vals and vals["nginx"][0]:
                ratio = vals["ringfront"][0] / vals["nginx"][0]
            groups.append((f"{batch} KiB per connection", vals, ratio))
            if "ringfront" in vals:
                vs = [f"x{vals['ringfront'][0] / vals[p][0]:.2f} of {p}"
                      for p in ("nginx", HAPROXY) if p in vals and vals[p][0]]
                if vs:
                    print(f"ringfront KiB per idle connection ({batch}): {', '.join(vs)}")
        bar_chart("RSS growth per idle keep-alive connection",
                  f"{rows[0]['target_conns'] if rows else '?'} connections, one request each, then idle",
                  groups, "KiB / connection",
                  os.path.join(d, "idle.svg"), higher_better=False,
                  note="RSS summed over all proxy processes, one measurement per batch\n"
                       "first: the process's first batch; more: half as many again, the first still open")
        print(f"\nchart: {os.path.join(d, 'idle.svg')}")


# -------------------------------------------------------------- monitor ----

def _flatten(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, obj


def cmd_monitor(argv):
    url = argv[0]
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = r.read()
    except Exception as e:  # noqa: BLE001 - report any failure
        print(f"    monitor: {url}: {e}")
        return
    try:
        data = json.loads(body)
    except ValueError:
        print(f"    monitor: not JSON: {body[:200]!r}")
        return
    keys = argv[1:] or None
    hits = [(k, v) for k, v in _flatten(data)
            if (k in keys if keys else ("conn" in k.lower() or k.endswith("_active")
                                       or "idle" in k.lower()))]
    if not hits:
        print(f"    monitor: no counters with 'conn' in their name at {url}")
    for k, v in hits:
        print(f"    monitor {k} = {v}")


# ----------------------------------------------------------------- port ----

def _free(port):
    for host in ("127.0.0.1", "0.0.0.0"):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def cmd_port(argv):
    p, n, got = int(argv[0]), int(argv[1]) if len(argv) > 1 else 1, []
    while len(got) < n and p < 65000:
        if _free(p):
            got.append(p)
        p += 1
    if len(got) < n:
        sys.exit("no free ports")
    print(" ".join(map(str, got)))


def cmd_fetch(argv):
    try:
        with urllib.request.urlopen(argv[0], timeout=5) as r:
            print(f"{r.status} {len(r.read())}")
    except urllib.error.HTTPError as e:
        print(f"{e.code} {len(e.read())}")
    except Exception:  # noqa: BLE001 - any failure is "no answer"
        print("000 0")


def _socket_inodes(pids):
    inodes = set()
    for p in _tree(pids):
        try:
            fds = os.listdir(f"/proc/{p}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{p}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    return inodes


def cmd_conns(argv):
    pid, lport, rport = int(argv[0]), int(argv[1]), int(argv[2])
    inodes = _socket_inodes([pid])
    cest = ccw = uest = total = 0
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(fn) as f:
                next(f)
                for line in f:
                    c = line.split()
                    if c[9] not in inodes:
                        continue
                    lp = int(c[1].rsplit(":", 1)[1], 16)
                    rp = int(c[2].rsplit(":", 1)[1], 16)
                    st = c[3]
                    if st == "0A":      # listening socket
                        continue
                    total += 1
                    if lp == lport and st == "01":
                        cest += 1
                    elif lp == lport and st == "08":
                        ccw += 1
                    elif rp == rport and st == "01":
                        uest += 1
        except OSError:
            pass
    print(f"{cest} {ccw} {uest} {total}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, argv = sys.argv[1], sys.argv[2:]
    if cmd == "snap":
        cpu, rss, pss, n = snap([int(p) for p in argv])
        print(f"{cpu:.3f} {rss} {pss} {n}")
    elif cmd == "record":
        cmd_record(argv)
    elif cmd == "idle-record":
        cmd_idle_record(argv)
    elif cmd == "insn-record":
        cmd_insn_record(argv)
    elif cmd == "report":
        cmd_report(argv)
    elif cmd == "monitor-get":
        try:
            with urllib.request.urlopen(argv[0], timeout=5) as r:
                print(json.loads(r.read()).get(argv[1], "-"))
        except Exception:  # noqa: BLE001
            print("-")
    elif cmd == "monitor":
        cmd_monitor(argv)
    elif cmd == "port":
        cmd_port(argv)
    elif cmd == "children":
        print(" ".join(str(p) for p in _tree([int(argv[0])])[1:]))
    elif cmd == "fetch":
        cmd_fetch(argv)
    elif cmd == "conns":
        cmd_conns(argv)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
