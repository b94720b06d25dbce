#!/usr/bin/env bash
# ringfront vs nginx benchmark harness (single machine, loopback only).
#
#   scripts/bench.sh [--quick] [MODE...] [options]
#
# MODE: throughput (default) | idle | scale | noop
#       | all (= throughput idle scale noop)
#   throughput  wrk against nginx (proxy) and ringfront in alternation,
#               A B A B, per body size (small, 4k, 64k)
#   idle        RSS growth per idle keep-alive connection, per proxy in two
#               batches: first (10,000 by default, the process's first
#               burst, so pools and allocator arenas fill too) and more
#               (half as many again while the first stay open: what each
#               further idle connection costs)
#   scale       the throughput run with N workers, N = 1..cores
#   noop        framework cost: nginx, ringfront and a second ringfront with
#               `Modules = mod_noop` (a GoOn handler at all 9 callback points,
#               own ports, same CPUs) in alternation, A B C A B C; reports
#               noop cost = 1 - req/s(ringfront+noop) / req/s(ringfront) and
#               their CPU-per-request ratio, PASS/FAIL against <= 1% (printed
#               only: the exit status does not depend on it); then, under
#               callgrind (valgrind), user-space instructions per request
#               of the two, the repeatable form of the same comparison
#   --quick     foundation smoke check: small body, 3 alternating rounds,
#               non-2xx / socket errors / leaked connections checked; exits
#               non-zero when ringfront fails any check
#
# Options (environment variable in brackets):
#   (-t/-c/-d/-r/-w also take the value attached, wrk style: -t1 -c64 -d10s)
#   -t N            wrk threads            [BENCH_THREADS=1]
#   -c N            wrk connections        [BENCH_CONNS=64]
#   (noop's callgrind runs fetch BENCH_INSN_BODY: small, 4k or 64k; default small)
#   -d DUR          wrk duration           [BENCH_DURATION=10s]
#   -r N            rounds per proxy       [BENCH_ROUNDS=3]
#   --warmup DUR    unmeasured wrk run before each body size, 0 = none
#                                          [BENCH_WARMUP=2s]
#   --bodies LIST   comma list of small,4k,64k [BENCH_BODIES=small,4k,64k]
#   -w N            proxy workers for throughput/idle [BENCH_WORKERS=1]
#   --max-workers N upper N for scale      [BENCH_MAX_WORKERS=nproc]
#   --origin-workers N  origin nginx workers [BENCH_ORIGIN_WORKERS=1]
#   --idle-conns N  idle connections       [BENCH_IDLE_CONNS=10000]
#   --port-base P   first port to probe    [BENCH_PORT_BASE=28180]
#   --no-build      skip cargo build       [BENCH_BUILD=0]
#   --no-pin        do not pin proxy workers / load generator [BENCH_PIN=0]
#   --keep-tmp      keep the temp dir (confs, logs) for inspection
#   --results DIR   results root           [BENCH_RESULTS=bench/results]
#   RINGFRONT_BIN   binary to run          [target/release/ringfront]
#
# Results: bench/results/<UTC timestamp>/{params.txt,env.txt,samples.csv,
# summary.csv,chart.svg,chart_<mode>.svg,idle.csv,idle.svg,raw/*.txt}.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIB="$ROOT/bench/benchlib.py"
IDLE_CLIENT="$ROOT/bench/idle_client.py"

THREADS=${BENCH_THREADS:-1}
CONNS=${BENCH_CONNS:-64}
# Body the noop mode's callgrind runs fetch (small, 4k or 64k).
INSN_BODY=${BENCH_INSN_BODY:-small}
DURATION=${BENCH_DURATION:-10s}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-2s}
BODIES=${BENCH_BODIES:-small,4k,64k}
WORKERS=${BENCH_WORKERS:-1}
MAX_WORKERS=${BENCH_MAX_WORKERS:-}
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
ORIGIN_WORKERS=${BENCH_ORIGIN_WORKERS:-1}
PORT_BASE=${BENCH_PORT_BASE:-28180}
BUILD=${BENCH_BUILD:-1}
PIN=${BENCH_PIN:-1}
KEEP_TMP=0
QUICK=0
RESULTS_ROOT=${BENCH_RESULTS:-$ROOT/bench/results}
RINGFRONT_BIN=${RINGFRONT_BIN:-$ROOT/target/release/ringfront}
MODES=()

usage() { sed -n '2,/^set -E/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "bench: error: $*" >&2; exit 1; }
log() { echo "bench: $*"; }

while (($#)); do
    case "$1" in
        throughput|idle|scale|noop|quick) MODES+=("$1") ;;
        all) MODES+=(throughput idle scale noop) ;;
        --quick) QUICK=1 ;;
        -t) THREADS=$2; shift ;;
        -c) CONNS=$2; shift ;;
        -d) DURATION=$2; shift ;;
        -r) ROUNDS=$2; shift ;;
        -w) WORKERS=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --bodies) BODIES=$2; shift ;;
        --max-workers) MAX_WORKERS=$2; shift ;;
        --idle-conns) IDLE_CONNS=$2; shift ;;
        --origin-workers) ORIGIN_WORKERS=$2; shift ;;
        --port-base) PORT_BASE=$2; shift ;;
        --no-build) BUILD=0 ;;
        --no-pin) PIN=0 ;;
        --keep-tmp) KEEP_TMP=1 ;;
        --results) RESULTS_ROOT=$2; shift ;;
        -t?*) THREADS=${1#-t} ;;
        -c?*) CONNS=${1#-c} ;;
        -d?*) DURATION=${1#-d} ;;
        -r?*) ROUNDS=${1#-r} ;;
        -w?*) WORKERS=${1#-w} ;;
        -h|--help) usage 0 ;;
        *) echo "bench: unknown argument: $1" >&2; usage 2 >&2 ;;
    esac
    shift
done
if ((QUICK)); then
    MODES=(quick)
    BODIES=small
fi
((${#MODES[@]})) || MODES=(throughput)
NCPU=$(nproc)
MAX_WORKERS=${MAX_WORKERS:-$NCPU}
for v in THREADS CONNS ROUNDS WORKERS MAX_WORKERS IDLE_CONNS ORIGIN_WORKERS PORT_BASE; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || die "$v must be a positive integer (got '${!v}')"
done
IFS=, read -r -a BODY_LIST <<<"$BODIES"
for b in "${BODY_LIST[@]}"; do
    [[ $b == small || $b == 4k || $b == 64k ]] || die "unknown body size '$b' (small, 4k, 64k)"
done

# "10s" / "1m" / "500ms" / "2" -> whole seconds (rounded up), for timeouts.
dur_s() {
    local d=$1
    case "$d" in
        *ms) echo $(( (${d%ms} + 999) / 1000 )) ;;
        *s) echo "${d%s}" ;;
        *m) echo $(( ${d%m} * 60 )) ;;
        *h) echo $(( ${d%h} * 3600 )) ;;
        *) echo "$d" ;;
    esac
}
DUR_S=$(dur_s "$DURATION")
WARMUP_S=$(dur_s "$WARMUP")
[[ $DUR_S =~ ^[0-9]+$ && $DUR_S -gt 0 ]] || die "bad duration '$DURATION'"

# ------------------------------------------------------------- tools ----

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }

ensure_tools() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
    command -v python3 >/dev/null || missing+=(python3)
    command -v taskset >/dev/null || missing+=(util-linux)
    if [[ " ${MODES[*]} " == *" noop "* ]]; then
        command -v callgrind_control >/dev/null || missing+=(valgrind)
    fi
    if ((${#missing[@]})); then
        log "installing ${missing[*]} (apt-get)"
        command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get; install them by hand"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        # policy-rc.d: keep Debian from starting the packaged nginx on :80
        local prc=/usr/sbin/policy-rc.d created=0
        if [[ ! -e $prc ]]; then
            printf '#!/bin/sh\nexit 101\n' | as_root tee "$prc" >/dev/null
            as_root chmod 755 "$prc"
            created=1
        fi
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" || {
            ((created)) && as_root rm -f "$prc"; die "apt-get install ${missing[*]} failed"; }
        ((created)) && as_root rm -f "$prc"
    fi
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
}

raise_nofile() {
    local want=$((IDLE_CONNS * 2 + 4096))
    ((want < 65536)) && want=65536
    local hard
    hard=$(ulimit -Hn)
    if [[ $hard != unlimited ]] && ((hard < want)); then
        ulimit -Hn "$want" 2>/dev/null || true
        hard=$(ulimit -Hn)
    fi
    [[ $hard == unlimited ]] && hard=$want
    ((hard < want)) && want=$hard
    ulimit -Sn "$want" 2>/dev/null || true
    NOFILE=$(ulimit -Sn)
    if ((NOFILE < IDLE_CONNS * 3 / 2 + 1024)) && [[ " ${MODES[*]} " == *" idle "* ]]; then
        log "warning: open-file limit $NOFILE is below 1.5 x idle connections + 1024; raise 'ulimit -Hn'"
    fi
}

# ----------------------------------------------------------- process ----

TMP=""
START_SEQ=0      # proxies started so far: each start gets fresh conf/log dirs
PIDS=()          # every long-running process we started (nginx masters, ringfronts)
RF_NOOP_PID=""   # the mod_noop ringfront, while `noop` mode runs

kill_tree() {   # TERM a pid and its children, then KILL what is left after 5 s
    local pid=$1 kids i
    kids=$(python3 "$LIB" children "$pid" 2>/dev/null || true)
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "bench: pid $pid did not stop on SIGTERM within 5 s; SIGKILL" >&2
        # shellcheck disable=SC2086
        kill -KILL "$pid" $kids 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

IDLE_PIDS=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    for pid in "${PIDS[@]}"; do
        [[ -n $pid ]] && kill_tree "$pid"
    done
    if ((${#IDLE_PIDS[@]})); then kill -TERM "${IDLE_PIDS[@]}" 2>/dev/null; wait "${IDLE_PIDS[@]}" 2>/dev/null; fi
    if [[ -n $TMP && -d $TMP ]]; then
        if ((KEEP_TMP)); then log "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: error: command failed (line $LINENO): $BASH_COMMAND" >&2' ERR
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

forget_pid() {
    local pid=$1 i
    for i in "${!PIDS[@]}"; do
        if [[ ${PIDS[$i]} == "$pid" ]]; then unset 'PIDS[i]'; fi
    done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {   # pid port seconds
    local pid=$1 port=$2 n=$(($3 * 10)) i
    for ((i = 0; i < n; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        port_open "$port" && return 0
        sleep 0.1
    done
    return 1
}

# CPU list helpers: proxies on CPUs 0..W-1, load generator and origin on the
# rest (when there is a rest). Same pinning for both proxies.
proxy_cpus() { local w=$1; ((w > NCPU)) && w=$NCPU; seq -s, 0 $((w - 1)); }
loadgen_prefix() {
    local w=$1
    if ((PIN)) && ((w < NCPU)); then echo "taskset -c $(seq -s, "$w" $((NCPU - 1)))"; fi
}

# ------------------------------------------------------------ origin ----

body_path() { echo "/$1"; }
body_bytes() { case $1 in small) echo 64 ;; 4k) echo 4096 ;; 64k) echo 65536 ;; esac; }

nginx_common() {   # dir
    cat <<EOF
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
EOF
    if [[ $(id -u) == 0 ]]; then echo "user root root;"; fi
}

nginx_temp_paths() {   # dir
    cat <<EOF
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
EOF
}

start_nginx() {   # name dir port prefix-cmd... ; sets NGINX_PID
    local name=$1 dir=$2 port=$3
    shift 3
    "$NGINX" -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/check.log" 2>&1 || {
        cat "$dir/check.log" "$dir/error.log" >&2 2>/dev/null; die "$name: nginx config test failed"; }
    "$@" "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    wait_port "$NGINX_PID" "$port" 10 || {
        cat "$dir/stdout.log" "$dir/error.log" >&2 2>/dev/null; die "$name: nginx did not start on 127.0.0.1:$port"; }
}

start_origin() {
    local d=$TMP/origin
    mkdir -p "$d/www" "$d/tmp"
    python3 - "$d/www" <<'EOF'
import sys
for name, n in (("small", 64), ("4k", 4096), ("64k", 65536)):
    line = b"ringfront bench origin body, fixed size. 0123456789abcdefghijk\n"
    data = (line * (n // len(line) + 1))[:n - 1] + b"\n"
    open(f"{sys.argv[1]}/{name}", "wb").write(data)
EOF
    {
        nginx_common "$d"
        cat <<EOF
worker_processes $ORIGIN_WORKERS;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000000;
    keepalive_timeout 600s;
    open_file_cache max=64 inactive=600s;
$(nginx_temp_paths "$d")
    server {
        listen 127.0.0.1:$ORIGIN_PORT backlog=4096;
        root $d/www;
        location / { }
    }
}
EOF
    } >"$d/nginx.conf"
    chmod -R a+rX "$TMP"
    # shellcheck disable=SC2046
    start_nginx origin "$d" "$ORIGIN_PORT" $(loadgen_prefix "$WORKERS")
    ORIGIN_PID=$NGINX_PID
    local b got
    for b in small 4k 64k; do
        got=$(python3 "$LIB" fetch "http://127.0.0.1:$ORIGIN_PORT$(body_path "$b")")
        [[ $got == "200 $(body_bytes "$b")" ]] || die "origin /$b answered '$got'"
    done
    log "origin nginx ($ORIGIN_WORKERS worker(s)) on 127.0.0.1:$ORIGIN_PORT serving /small (64 B), /4k, /64k"
}

# ------------------------------------------------------------- proxies ----

start_nginx_proxy() {   # workers worker_connections
    local w=$1 wc=$2 d=$TMP/nginx-proxy-$((START_SEQ + 1))-w$1 aff=""
    mkdir -p "$d/tmp"
    if ((PIN)); then
        local i j mask
        aff="worker_cpu_affinity"
        for ((i = 0; i < w; i++)); do
            mask=""
            for ((j = NCPU - 1; j >= 0; j--)); do
                if ((j == i % NCPU)); then mask+=1; else mask+=0; fi
            done
            aff+=" $mask"
        done
        aff+=";"
    fi
    {
        nginx_common "$d"
        cat <<EOF
worker_processes $w;
$aff
worker_rlimit_nofile $((wc * 2 + 1024));
events { worker_connections $wc; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 600s;
$(nginx_temp_paths "$d")
    upstream origin {
        server 127.0.0.1:$ORIGIN_PORT;
        keepalive 1024;
        keepalive_requests 1000000000;
        keepalive_timeout 600s;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=4096;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffers 16 8k;
            proxy_max_temp_file_size 0;
        }
    }
}
EOF
    } >"$d/nginx.conf"
    chmod -R a+rX "$d"
    start_nginx "nginx proxy" "$d" "$NGINX_PORT"
    NGINX_PROXY_PID=$NGINX_PID
}

write_ringfront_conf() {   # dir workers http-port https-port monitor-port [module...]
    local d=$1 w=$2 http=$3 https=$4 monitor=$5 m
    shift 5
    mkdir -p "$d/server_data_conf" "$d/cluster_conf"
    # Modules lines hang off MonitorEnabled's line so that a conf without
    # modules has no stray blank line: plain and noop confs differ only there.
    cat >"$d/bfe.conf" <<EOF
[Server]
HttpPort = $http
HttpsPort = $https
MonitorPort = $monitor
MonitorEnabled = true$(for m in "$@"; do printf '\nModules = %s' "$m"; done)
MaxCpus = $w
KeepAliveEnabled = true
ClientReadTimeout = 600
ClientWriteTimeout = 600
GracefulShutdownTimeout = 2
HostRuleConf = server_data_conf/host_rule.data
VipRuleConf = server_data_conf/vip_rule.data
NameConf = server_data_conf/name_conf.data
RouteRuleConf = server_data_conf/route_rule.data
ClusterConf = server_data_conf/cluster_conf.data
GslbConf = cluster_conf/gslb.data
ClusterTableConf = cluster_conf/cluster_table.data

[Ringfront]
$(((PIN)) && echo "CpuList = $(proxy_cpus "$w")")
MaxConnsPerWorker = 0
UpstreamIdlePerHost = 1024
EOF
    cat >"$d/server_data_conf/host_rule.data" <<'EOF'
{"Version":"bench","DefaultProduct":"bench","Hosts":{"benchTag":["bench.local"]},"HostTags":{"bench":["benchTag"]}}
EOF
    cat >"$d/server_data_conf/vip_rule.data" <<'EOF'
{"Version":"bench","Vips":{}}
EOF
    cat >"$d/server_data_conf/name_conf.data" <<'EOF'
{"Version":"bench","Config":{}}
EOF
    cat >"$d/server_data_conf/route_rule.data" <<'EOF'
{"Version":"bench","ProductRule":{"bench":[{"Cond":"default_t()","ClusterName":"origin"}]}}
EOF
    cat >"$d/server_data_conf/cluster_conf.data" <<'EOF'
{"Version":"bench","Config":{"origin":{
 "BackendConf":{"TimeoutConnSrv":2000,"TimeoutResponseHeader":60000,"MaxIdleConnsPerHost":1024,"RetryLevel":0},
 "CheckConf":{"Schem":"http","Uri":"/small","Host":"127.0.0.1","StatusCode":200,"FailNum":10,"CheckInterval":1000},
 "GslbBasic":{"CrossRetry":0,"RetryMax":2,"HashConf":{"HashStrategy":1,"HashHeader":"","SessionSticky":false}},
 "ClusterBasic":{"TimeoutReadClient":600000,"TimeoutWriteClient":600000,"TimeoutReadClientAgain":600000}}}}
EOF
    cat >"$d/cluster_conf/gslb.data" <<'EOF'
{"Hostname":"bench","Ts":"0","Clusters":{"origin":{"GSLB_BLACKHOLE":0,"origin.sub":100}}}
EOF
    cat >"$d/cluster_conf/cluster_table.data" <<EOF
{"Version":"bench","Config":{"origin":{"origin.sub":[{"Addr":"127.0.0.1","Name":"origin","Port":$ORIGIN_PORT,"Weight":10}]}}}
EOF
}

ringfront_fail() {   # message [run dir, default: the plain ringfront's]
    local d=${2:-$RF_DIR}
    {
        echo "bench: ringfront failed: $1"
        echo "---- command: $RINGFRONT_BIN -c $d/conf -l $d/log"
        echo "---- bfe.conf:"; cat "$d/conf/bfe.conf"
        echo "---- stdout/stderr (last 60 lines):"; tail -n 60 "$d/stdout.log" 2>/dev/null
        echo "---- $RINGFRONT_BIN -c $d/conf -t:"
        { timeout 10 "$RINGFRONT_BIN" -c "$d/conf" -t 2>&1 || true; } | tail -n 20
        local f
        for f in "$d"/log/*; do
            [[ -f $f ]] || continue
            echo "---- $f (last 40 lines):"; tail -n 40 "$f"
        done
    } >&2 || true
    exit 1
}

# Plain ringfront sets RF_PID/RF_DIR. The noop twin (`noop` mode) is the
# same conf plus `Modules = mod_noop` on its own ports, pinned to the same
# CPUs: the two never carry load at the same time, so it differs from the
# plain one only by the nine no-op handlers. It sets RF_NOOP_PID/RF_NOOP_DIR.
start_ringfront() {   # workers [noop]
    local w=$1 variant=${2:-} dir pid port https monitor name=ringfront rc
    local modules=()
    START_SEQ=$((START_SEQ + 1))
    if [[ $variant == noop ]]; then
        name=ringfront+noop port=$RF_NOOP_PORT https=$RF_NOOP_HTTPS_PORT monitor=$RF_NOOP_MONITOR_PORT
        modules=(mod_noop)
        dir=$TMP/ringfront-noop-$START_SEQ-w$w
    else
        port=$RF_PORT https=$RF_HTTPS_PORT monitor=$RF_MONITOR_PORT
        dir=$TMP/ringfront-$START_SEQ-w$w
    fi
    mkdir -p "$dir/log"
    write_ringfront_conf "$dir/conf" "$w" "$port" "$https" "$monitor" "${modules[@]}"
    [[ -x $RINGFRONT_BIN ]] || die "no ringfront binary at $RINGFRONT_BIN (build it, or set RINGFRONT_BIN)"
    "$RINGFRONT_BIN" -c "$dir/conf" -l "$dir/log" >"$dir/stdout.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if [[ $variant == noop ]]; then RF_NOOP_PID=$pid RF_NOOP_DIR=$dir; else RF_PID=$pid RF_DIR=$dir; fi
    wait_port "$pid" "$port" 15 || {
        if kill -0 "$pid" 2>/dev/null; then
            ringfront_fail "not listening on 127.0.0.1:$port after 15 s" "$dir"
        else
            wait "$pid" 2>/dev/null && rc=0 || rc=$?
            ringfront_fail "exited with status $rc" "$dir"
        fi
    }
    local f
    for f in "$dir"/log/* "$dir/stdout.log"; do
        [[ -f $f ]] && grep -h -o 'worker [0-9]*: started on.*' "$f" | sed "s/^/bench: $name /" || true
    done
}

start_proxies() {   # workers worker_connections [noop: also the mod_noop twin]
    start_nginx_proxy "$1" "$2"
    start_ringfront "$1"
    local b got p targets=("nginx:$NGINX_PORT" "ringfront:$RF_PORT") twin=""
    if [[ ${3:-} == noop ]]; then
        start_ringfront "$1" noop
        targets+=("ringfront+noop:$RF_NOOP_PORT")
        twin=", ringfront+noop 127.0.0.1:$RF_NOOP_PORT (pid $RF_NOOP_PID)"
    fi
    for b in "${BODY_LIST[@]}"; do
        for p in "${targets[@]}"; do
            got=$(python3 "$LIB" fetch "http://127.0.0.1:${p##*:}$(body_path "$b")")
            if [[ $got != "200 $(body_bytes "$b")" ]]; then
                [[ ${p%%:*} == ringfront ]] && ringfront_fail "GET /$b answered '$got' (want '200 $(body_bytes "$b")')"
                [[ ${p%%:*} == ringfront+noop ]] &&
                    ringfront_fail "GET /$b answered '$got' (want '200 $(body_bytes "$b")')" "$RF_NOOP_DIR"
                die "${p%%:*} GET /$b answered '$got'"
            fi
        done
    done
    log "proxies up with $1 worker(s): nginx 127.0.0.1:$NGINX_PORT (pid $NGINX_PROXY_PID), ringfront 127.0.0.1:$RF_PORT (pid $RF_PID)$twin$( ((PIN)) && echo ", workers pinned to CPU $(proxy_cpus "$1")")"
}

stop_proxies() {
    kill_tree "$NGINX_PROXY_PID"; forget_pid "$NGINX_PROXY_PID"
    kill_tree "$RF_PID"; forget_pid "$RF_PID"
    if [[ -n $RF_NOOP_PID ]]; then
        kill_tree "$RF_NOOP_PID"; forget_pid "$RF_NOOP_PID"
        RF_NOOP_PID=""
    fi
    local i
    for ((i = 0; i < 50; i++)); do
        port_open "$NGINX_PORT" || port_open "$RF_PORT" || port_open "$RF_NOOP_PORT" || break
        sleep 0.1
    done
}

# --------------------------------------------------------- throughput ----

run_wrk() {   # proxy port body outfile duration workers
    local port=$2 body=$3 out=$4 dur=$5 w=$6
    # shellcheck disable=SC2046
    timeout --foreground -k 5 $(($(dur_s "$dur") + 30)) $(loadgen_prefix "$w") \
        wrk -t"$THREADS" -c"$CONNS" -d"$dur" --latency "http://127.0.0.1:$port$(body_path "$body")" \
        >"$out" 2>&1 || { echo "bench: wrk failed against $1:" >&2; cat "$out" >&2; return 1; }
}

proxy_pid_port() {   # proxy -> "pid port"
    case $1 in
        nginx) echo "$NGINX_PROXY_PID $NGINX_PORT" ;;
        ringfront) echo "$RF_PID $RF_PORT" ;;
        ringfront+noop) echo "$RF_NOOP_PID $RF_NOOP_PORT" ;;
        *) die "unknown proxy '$1'" ;;
    esac
}

proxy_died() {   # proxy message
    case $1 in
        ringfront) ringfront_fail "$2" ;;
        ringfront+noop) ringfront_fail "$2" "$RF_NOOP_DIR" ;;
    esac
    die "$1: $2"
}

measure() {   # mode workers body proxy round
    local mode=$1 w=$2 body=$3 proxy=$4 round=$5 pid port out before after
    read -r pid port <<<"$(proxy_pid_port "$proxy")"
    kill -0 "$pid" 2>/dev/null || proxy_died "$proxy" "process died"
    out=$RESULTS/raw/${mode}_w${w}_${body}_${proxy}_r${round}.txt
    read -r before _ <<<"$(python3 "$LIB" snap "$pid")"
    run_wrk "$proxy" "$port" "$body" "$out" "$DURATION" "$w"
    read -r after rss pss _ <<<"$(python3 "$LIB" snap "$pid")"
    kill -0 "$pid" 2>/dev/null || proxy_died "$proxy" "process died during the run"
    python3 "$LIB" record --samples "$RESULTS/samples.csv" --wrk "$out" --mode "$mode" \
        --workers "$w" --body "$body" --proxy "$proxy" --round "$round" --threads "$THREADS" \
        --conns "$CONNS" --cpu-before "$before" --cpu-after "$after" --rss "$rss" --pss "$pss"
}

throughput() {   # mode workers [proxy...]: rounds in alternation, default nginx ringfront
    local mode=$1 w=$2 body r p pid port
    shift 2
    local proxies=("$@")
    ((${#proxies[@]})) || proxies=(nginx ringfront)
    for body in "${BODY_LIST[@]}"; do
        if ((WARMUP_S > 0)); then
            for p in "${proxies[@]}"; do
                read -r pid port <<<"$(proxy_pid_port "$p")"
                run_wrk "$p" "$port" "$body" "$RESULTS/raw/warmup_$p.txt" "$WARMUP" "$w"
            done
        fi
        for ((r = 1; r <= ROUNDS; r++)); do
            for p in "${proxies[@]}"; do
                measure "$mode" "$w" "$body" "$p" "$r"
            done
        done
    done
}

# Foundation check after the quick run: no client connection may stay open
# on ringfront once wrk has exited.
QUICK_FAIL=0
leak_check() {
    local p pid port est cw up total i
    echo
    log "connections left open after wrk exited (client = accepted from wrk, upstream = to the origin):"
    for p in nginx ringfront; do
        if [[ $p == nginx ]]; then pid=$NGINX_PROXY_PID port=$NGINX_PORT; else pid=$RF_PID port=$RF_PORT; fi
        for ((i = 0; i < 50; i++)); do   # up to 5 s for closes to be noticed
            read -r est cw up total <<<"$(python3 "$LIB" conns "$pid" "$port" "$ORIGIN_PORT")"
            ((est == 0 && cw == 0)) && break
            sleep 0.1
        done
        printf '    %-9s client established %s, client close-wait %s, upstream established %s (pool), sockets total %s\n' \
            "$p" "$est" "$cw" "$up" "$total"
        if [[ $p == ringfront ]] && ((est + cw > 0)); then
            QUICK_FAIL=1
            echo "    !! ringfront still holds $((est + cw)) client connection(s): leak"
        fi
        if [[ $p == ringfront ]] && ((up > CONNS * WORKERS + 64)); then
            QUICK_FAIL=1
            echo "    !! ringfront holds $up upstream connections for $CONNS client connections"
        fi
    done
    local url="http://127.0.0.1:$RF_MONITOR_PORT/monitor/proxy_state?format=json" active
    for ((i = 0; i < 50; i++)); do
        active=$(python3 "$LIB" monitor-get "$url" conn_active)
        [[ $active == 0 || $active == - ]] && break
        sleep 0.1
    done
    python3 "$LIB" monitor "$url"
    if [[ $active == - ]]; then
        echo "    (monitor: conn_active not readable at $url)"
    elif ((active > 0)); then
        QUICK_FAIL=1
        echo "    !! ringfront monitor reports conn_active = $active after wrk exited: leak"
    fi
    local bad
    bad=$(awk -F, 'NR > 1 && $4 == "ringfront" && ($13 > 0 || $14 > 0 || $9 == 0) {n++} END {print n + 0}' "$RESULTS/samples.csv")
    if ((bad > 0)); then
        QUICK_FAIL=1
        echo "    !! $bad ringfront run(s) had non-2xx responses, socket errors or no requests"
    fi
}

# ------------------------------------------------------ noop: callgrind ----

# Framework cost as instructions: wall-clock req/s on a shared machine moves
# by more than the 1% budget from run to run, while callgrind's instruction
# counts repeat to a fraction of a percent. Each ringfront (plain, then with
# mod_noop) runs under callgrind (epoll driver: valgrind cannot follow
# io_uring), warms up, has its counters zeroed, serves a wrk run and dumps
# them: user-space instructions per request. The body size is
# BENCH_INSN_BODY (small by default; 4k and 64k measure the body path). The kernel's part of a request
# (most of it: TCP on loopback) does not depend on the modules.
noop_instructions() {   # workers
    local w=$1 v dir port pid out n ir f r url u0 s0 u1 s1
    # How ringfront's CPU time splits between user space and the kernel
    # under the same load, to scale the user-space cost to a whole request.
    start_ringfront "$w"
    url="http://127.0.0.1:$RF_PORT$(body_path small)"
    # shellcheck disable=SC2046
    $(loadgen_prefix "$w") wrk -t1 -c"$CONNS" -d2s "$url" >/dev/null
    read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$RF_PID/stat")
    # shellcheck disable=SC2046
    $(loadgen_prefix "$w") wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" "$url" >/dev/null
    read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$RF_PID/stat")
    kill_tree "$RF_PID"
    wait "$RF_PID" 2>/dev/null || true
    echo "user $((u1 - u0)) system $((s1 - s0)) conns $CONNS" >"$RESULTS/noop_cpu_split.txt"
    for ((r = 1; r <= ROUNDS; r++)); do
        for v in ringfront ringfront+noop; do
            if [[ $v == ringfront ]]; then dir=$RF_DIR port=$RF_PORT; else dir=$RF_NOOP_DIR port=$RF_NOOP_PORT; fi
            url="http://127.0.0.1:$port$(body_path "$INSN_BODY")"
            rm -f "$dir"/callgrind.out*
            MONOIO_FORCE_LEGACY_DRIVER=1 valgrind --tool=callgrind \
                --callgrind-out-file="$dir/callgrind.out" \
                "$RINGFRONT_BIN" -c "$dir/conf" -l "$dir/log" >"$dir/callgrind.log" 2>&1 &
            pid=$!
            PIDS+=("$pid")
            wait_port "$pid" "$port" 120 || die "$v under callgrind: not listening (see $dir/callgrind.log)"
            # shellcheck disable=SC2046
            $(loadgen_prefix "$w") wrk -t1 -c8 -d3s "$url" >/dev/null
            callgrind_control -z "$pid" >/dev/null
            # shellcheck disable=SC2046
            out=$($(loadgen_prefix "$w") wrk -t1 -c8 -d10s "$url")
            callgrind_control -d "$pid" >/dev/null
            kill_tree "$pid"
            wait "$pid" 2>/dev/null || true
            n=$(awk '/requests in/ {print $1}' <<<"$out")
            f=$(ls -t "$dir"/callgrind.out.* 2>/dev/null | head -1)
            [[ -n $f && -n $n && $n -gt 0 ]] || die "$v under callgrind: no dump or no requests (see $dir/callgrind.log)"
            ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
            python3 "$LIB" insn-record --csv "$RESULTS/noop_insn.csv" --proxy "$v" --round "$r" \
                --requests "$n" --instructions "$ir"
        done
    done
}

# --------------------------------------------------------------- idle ----

idle_open() {   # proxy port workers batch conns: client pid appended to IDLE_PIDS
    local p=$1 port=$2 w=$3 batch=$4 n=$5 ready=$TMP/idle-$1-$4.ready i ok failed
    rm -f "$ready"
    # shellcheck disable=SC2046
    timeout -k 5 300 $(loadgen_prefix "$w") python3 "$IDLE_CLIENT" --port "$port" --conns "$n" \
        --path /small --ready "$ready" --hold 300 >"$RESULTS/raw/idle_${p}_$batch.txt" 2>&1 &
    IDLE_PIDS+=($!)
    for ((i = 0; i < 1800; i++)); do
        [[ -f $ready ]] && break
        kill -0 "${IDLE_PIDS[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    [[ -f $ready ]] || { cat "$RESULTS/raw/idle_${p}_$batch.txt" >&2; die "idle client against $p did not finish opening connections"; }
    read -r ok failed <"$ready"
    ((failed > 0)) && log "warning: $failed of $n idle connections to $p failed (see raw/idle_${p}_$batch.txt)"
    sleep 2   # let the proxy settle
}

idle_run() {   # workers
    local w=$1 p pid port rss0 pss0 rss1 pss1 rss2 pss2 closed est1 est2 more=$((IDLE_CONNS / 2))
    for p in nginx ringfront; do
        if [[ $p == nginx ]]; then pid=$NGINX_PROXY_PID port=$NGINX_PORT; else pid=$RF_PID port=$RF_PORT; fi
        sleep 1
        read -r _ rss0 pss0 _ <<<"$(python3 "$LIB" snap "$pid")"
        # first: the process's first burst of clients, so the growth also
        # holds what the proxy keeps from serving it (pools, allocator
        # arenas). more: half as many again while the first are still
        # open: what each further idle connection costs.
        idle_open "$p" "$port" "$w" first "$IDLE_CONNS"
        read -r est1 _ _ _ <<<"$(python3 "$LIB" conns "$pid" "$port" "$ORIGIN_PORT")"
        read -r _ rss1 pss1 _ <<<"$(python3 "$LIB" snap "$pid")"
        idle_open "$p" "$port" "$w" more "$more"
        read -r est2 _ _ _ <<<"$(python3 "$LIB" conns "$pid" "$port" "$ORIGIN_PORT")"
        read -r _ rss2 pss2 _ <<<"$(python3 "$LIB" snap "$pid")"
        kill -TERM "${IDLE_PIDS[@]}" 2>/dev/null || true
        wait "${IDLE_PIDS[@]}" 2>/dev/null || true
        IDLE_PIDS=()
        sleep 2
        read -r _ closed _ _ <<<"$(python3 "$LIB" snap "$pid")"
        ((est2 < IDLE_CONNS + more)) && log "warning: $p shows $est2 established client sockets, clients opened $((IDLE_CONNS + more))"
        python3 "$LIB" idle-record --csv "$RESULTS/idle.csv" --proxy "$p" --workers "$w" --batch first \
            --target "$IDLE_CONNS" --open "$est1" --rss-before "$rss0" --rss-after "$rss1" \
            --rss-closed "$closed" --pss-before "$pss0" --pss-after "$pss1"
        python3 "$LIB" idle-record --csv "$RESULTS/idle.csv" --proxy "$p" --workers "$w" --batch more \
            --target "$more" --open "$((est2 - est1))" --rss-before "$rss1" --rss-after "$rss2" \
            --rss-closed "$closed" --pss-before "$pss1" --pss-after "$pss2"
    done
}

# --------------------------------------------------------------- main ----

main() {
    ensure_tools
    raise_nofile
    if ((BUILD)); then
        command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) or pass --no-build with RINGFRONT_BIN"
        log "cargo build --release"
        (cd "$ROOT" && cargo build --release) || die "cargo build --release failed"
    fi
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/ringfront-bench.XXXXXX")
    chmod 755 "$TMP"
    read -r ORIGIN_PORT NGINX_PORT RF_PORT RF_MONITOR_PORT RF_HTTPS_PORT \
        RF_NOOP_PORT RF_NOOP_MONITOR_PORT RF_NOOP_HTTPS_PORT \
        <<<"$(python3 "$LIB" port "$PORT_BASE" 8)"

    RESULTS=$RESULTS_ROOT/$(date -u +%Y%m%dT%H%M%SZ)
    mkdir -p "$RESULTS/raw"
    local cpu_model
    cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    cat >"$RESULTS/params.txt" <<EOF
modes=${MODES[*]}
threads=$THREADS
conns=$CONNS
duration=$DURATION
rounds=$ROUNDS
warmup=$WARMUP
bodies=$BODIES
workers=$WORKERS
max_workers=$MAX_WORKERS
idle_conns=$IDLE_CONNS
origin_workers=$ORIGIN_WORKERS
pin=$PIN
cpu=$NCPU x ${cpu_model:-unknown CPU}
EOF
    {
        echo "date: $(date -u +%FT%TZ)"
        echo "host: $(uname -srm)"
        echo "cpus: $NCPU x ${cpu_model:-?}"
        echo "nginx: $("$NGINX" -v 2>&1)"
        echo "wrk: $({ wrk -v 2>&1 || true; } | head -1)"
        echo "ringfront: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?') $RINGFRONT_BIN"
        echo "nofile: $NOFILE"
        echo "ports: origin $ORIGIN_PORT nginx $NGINX_PORT ringfront $RF_PORT monitor $RF_MONITOR_PORT$(
            [[ " ${MODES[*]} " == *" noop "* ]] && echo " ringfront+noop $RF_NOOP_PORT monitor $RF_NOOP_MONITOR_PORT")"
    } >"$RESULTS/env.txt"
    sed 's/^/bench: /' "$RESULTS/env.txt"
    log "wrk -t$THREADS -c$CONNS -d$DURATION --latency, $ROUNDS alternating rounds (nginx, ringfront, ...), bodies: $BODIES"

    start_origin
    local wc=$((CONNS * 2 + 2048)) mode n
    for mode in "${MODES[@]}"; do
        echo
        log "=== $mode ==="
        case $mode in
            quick|throughput)
                start_proxies "$WORKERS" "$wc"
                throughput "$mode" "$WORKERS"
                [[ $mode == quick ]] && leak_check
                stop_proxies ;;
            noop)
                start_proxies "$WORKERS" "$wc" noop
                throughput noop "$WORKERS" nginx ringfront ringfront+noop
                stop_proxies
                noop_instructions "$WORKERS" ;;
            idle)
                start_proxies "$WORKERS" $((IDLE_CONNS * 3 / 2 + 2048))
                idle_run "$WORKERS"
                stop_proxies ;;
            scale)
                for ((n = 1; n <= MAX_WORKERS; n++)); do
                    start_proxies "$n" "$wc"
                    throughput scale "$n"
                    stop_proxies
                done ;;
        esac
    done
    python3 "$LIB" report "$RESULTS"
    echo
    log "results in $RESULTS"
    if [[ " ${MODES[*]} " == *" quick "* ]]; then
        if ((QUICK_FAIL)); then log "quick check: FAILED"; exit 1; fi
        log "quick check: passed (ringfront: no non-2xx, no socket errors, no leaked connections)"
    fi
}

main
