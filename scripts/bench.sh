#!/usr/bin/env bash
# ringfront vs nginx and HAProxy benchmark harness (single machine, loopback only).
#
#   scripts/bench.sh [--quick] [MODE...] [options]
#
# MODE: throughput (default) | idle | scale | noop | modules | h2
#       | all (= throughput idle scale noop modules h2)
#   throughput  wrk against nginx (proxy), HAProxy (HTTP mode) and
#               ringfront in alternation, A B C A B C, per body size
#               (small, 4k, 64k)
#   idle        RSS growth per idle keep-alive connection, per proxy (nginx,
#               HAProxy, ringfront) in two
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
#   modules     the cost of BFE's core modules: nginx, nginx+log (access log
#               in BFE's request-log fields, buffered, and the same header
#               rules), ringfront and ringfront+mods (the eleven modules of
#               BFE's default conf: mod_trust_clientip, mod_block,
#               mod_header, mod_rewrite, mod_redirect, mod_logid, mod_tag,
#               mod_access, mod_prison, mod_session_sticky, mod_http_code,
#               with BFE's sample rules pointed at the bench product) in
#               alternation; reports CPU per request of ringfront+mods over
#               ringfront (target <= 10%) and over nginx+log (target <= 1),
#               then callgrind instructions per request of the two ringfronts
#   h2          h2load (-c CONNS/8 connections, -m STREAMS streams each)
#               against nginx (`listen ssl http2`), HAProxy (`alpn h2`)
#               and ringfront (h2 by ALPN from tls_rule_conf.data), all
#               HTTP/2 over TLS, one
#               worker, the same origin over HTTP/1.1; CPU per request and
#               req/s, per body size, alternating rounds
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
#   -m N            h2 mode: streams per connection [BENCH_STREAMS=32]
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
STREAMS=${BENCH_STREAMS:-32}
H2=0   # 1 while `h2` mode runs: proxies listen with TLS and HTTP/2, h2load loads them

usage() { sed -n '2,/^set -E/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "bench: error: $*" >&2; exit 1; }
log() { echo "bench: $*"; }

while (($#)); do
    case "$1" in
        throughput|idle|scale|noop|modules|h2|quick) MODES+=("$1") ;;
        all) MODES+=(throughput idle scale noop modules h2) ;;
        -m) STREAMS=$2; shift ;;
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
        -m?*) STREAMS=${1#-m} ;;
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
for v in THREADS CONNS ROUNDS WORKERS MAX_WORKERS IDLE_CONNS ORIGIN_WORKERS PORT_BASE STREAMS; do
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
    command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
    command -v taskset >/dev/null || missing+=(util-linux)
    if [[ " ${MODES[*]} " == *" h2 "* ]]; then
        command -v h2load >/dev/null || missing+=(nghttp2-client)
    fi
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
    HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
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
RF_NOOP_PID=""   # the twin ringfront (mod_noop, or the core modules), while `noop`/`modules` run
NGINX_LOG_PID="" # nginx with access log and header rules, while `modules` runs
# BFE's default conf enables these core modules, in its file order.
CORE_MODULES=(mod_trust_clientip mod_block mod_header mod_rewrite mod_redirect mod_logid
    mod_tag mod_access mod_prison mod_session_sticky mod_http_code)

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

start_nginx_proxy() {   # workers worker_connections [log]
    local w=$1 wc=$2 variant=${3:-} d=$TMP/nginx-proxy-$((START_SEQ + 1))-w$1 aff=""
    local port=$NGINX_PORT log_conf="access_log off;" rules=""
    if [[ $variant == log ]]; then
        # What ringfront+mods does, in nginx's words: BFE's sample request
        # log fields, buffered as mod_access buffers; the X-Forwarded-For /
        # X-Real-Ip mod_header adds and the response header its sample
        # rule sets.
        d=$TMP/nginx-log-$((START_SEQ + 1))-w$1 port=$NGINX_LOG_PORT
        log_conf="log_format bfe 'REQUEST_LOG [\$time_local] clientip: \$remote_addr serverip: \$server_addr host: \$host product: bench user_agent: \$http_user_agent status: \$status error: -';
    access_log $d/access.log bfe buffer=64k flush=1s;"
        rules="proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Real-Ip \$remote_addr;
            add_header X-Proxied-By bfe;"
    fi
    local listen="listen 127.0.0.1:$port backlog=4096;"
    if ((H2)); then
        # The same test certificate ringfront serves (conf/tls_conf).
        mkdir -p "$d"
        cp "$ROOT/conf/tls_conf/example.org.crt" "$ROOT/conf/tls_conf/example.org.key" "$d/"
        listen="listen 127.0.0.1:$port ssl http2 backlog=4096;
        ssl_certificate $d/example.org.crt;
        ssl_certificate_key $d/example.org.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        http2_max_concurrent_streams 256;"
    fi
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
    $log_conf
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
        $listen
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            $rules
            proxy_buffers 16 8k;
            proxy_max_temp_file_size 0;
        }
    }
}
EOF
    } >"$d/nginx.conf"
    chmod -R a+rX "$d"
    if [[ $variant == log ]]; then
        start_nginx "nginx+log proxy" "$d" "$port"
        NGINX_LOG_PID=$NGINX_PID
    else
        start_nginx "nginx proxy" "$d" "$port"
        NGINX_PROXY_PID=$NGINX_PID
    fi
}

# HAProxy as a reverse proxy the way its users run it for speed: HTTP mode,
# one thread per worker (pinned like the others), keep-alive on both sides
# with server connections shared between clients (`http-reuse always`), no
# logging. Foreground (-db), so the pid we hold is the process that works.
start_haproxy_proxy() {   # workers maxconn
    local w=$1 mc=$2 d=$TMP/haproxy-$((START_SEQ + 1))-w$1 bind cpumap=""
    # HAProxy refuses to start when maxconn needs more descriptors than the
    # limit allows (about two per connection).
    (((NOFILE - 256) / 2 < mc)) && mc=$(((NOFILE - 256) / 2))
    mkdir -p "$d"
    bind="bind 127.0.0.1:$HAPROXY_PORT"
    if ((H2)); then
        # The same test certificate: HAProxy wants key and chain in one file.
        cat "$ROOT/conf/tls_conf/example.org.crt" "$ROOT/conf/tls_conf/example.org.key" >"$d/example.org.pem"
        bind+=" ssl crt $d/example.org.pem alpn h2,http/1.1 ssl-min-ver TLSv1.2"
    fi
    if ((PIN)); then cpumap="cpu-map auto:1/1-$w $(proxy_cpus "$w" | tr , ' ')"; fi
    cat >"$d/haproxy.cfg" <<EOF
global
    nbthread $w
    $cpumap
    maxconn $mc
defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 600s
    timeout server 600s
    timeout http-keep-alive 600s
frontend bench
    $bind
    backlog 4096
    default_backend origin
backend origin
    http-reuse always
    server origin 127.0.0.1:$ORIGIN_PORT
EOF
    "$HAPROXY" -c -q -f "$d/haproxy.cfg" >"$d/check.log" 2>&1 || { cat "$d/check.log" >&2; die "haproxy: config check failed"; }
    "$HAPROXY" -db -f "$d/haproxy.cfg" >"$d/stdout.log" 2>&1 &
    HAPROXY_PID=$!
    PIDS+=("$HAPROXY_PID")
    wait_port "$HAPROXY_PID" "$HAPROXY_PORT" 15 || { cat "$d/stdout.log" >&2; die "haproxy did not start on 127.0.0.1:$HAPROXY_PORT"; }
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
    if ((H2)); then
        # HTTPS with h2 offered by ALPN, as BFE's sample rule offers it.
        mkdir -p "$d/tls_conf"
        cp "$ROOT/conf/tls_conf/example.org.crt" "$ROOT/conf/tls_conf/example.org.key" "$d/tls_conf/"
        cat >"$d/tls_conf/server_cert_conf.data" <<'EOF'
{"Version":"bench","Config":{"Default":"example.org","CertConf":{"example.org":{
 "ServerCertFile":"tls_conf/example.org.crt","ServerKeyFile":"tls_conf/example.org.key"}}}}
EOF
        cat >"$d/tls_conf/tls_rule_conf.data" <<'EOF'
{"Version":"bench","DefaultNextProtos":["h2;level=0;mcs=256","http/1.1"],"Config":{}}
EOF
    fi
}

# The core modules' files for `modules` mode: BFE's shipped samples
# (conf/mod_*/ in bfenetworks/bfe), their rules moved from example_product
# to the bench product so that each one's conditions run on every request.
# Most do not match (as most rules of a real conf do not match a given
# request); the header rule, the tag rule and the access log apply to all.
write_module_confs() {   # conf-dir log-dir
    local c=$1 l=$2 m
    for m in "${CORE_MODULES[@]}"; do mkdir -p "$c/$m"; done
    cat >"$c/mod_trust_clientip/mod_trust_clientip.conf" <<'EOF'
[basic]
DataPath = mod_trust_clientip/trust_client_ip.data
EOF
    cat >"$c/mod_trust_clientip/trust_client_ip.data" <<'EOF'
{"Version": "bench", "Config": {"inner-idc": [{"Begin": "10.0.0.0", "End": "10.255.255.255"}]}}
EOF
    cat >"$c/mod_block/mod_block.conf" <<'EOF'
[basic]
ProductRulePath = mod_block/block_rules.data
IPBlocklistPath = mod_block/ip_blocklist.data
EOF
    printf '192.168.1.253 192.168.1.254\n192.168.1.250\n192.168.1.250/20\n' >"$c/mod_block/ip_blocklist.data"
    cat >"$c/mod_block/block_rules.data" <<'EOF'
{"Version": "bench", "Config": {"bench": [
 {"action": {"cmd": "CLOSE", "params": []}, "name": "example rule", "cond": "req_path_in(\"/limit\", false)"}]}}
EOF
    cat >"$c/mod_header/mod_header.conf" <<'EOF'
[basic]
DataPath = mod_header/header_rule.data
EOF
    cat >"$c/mod_header/header_rule.data" <<'EOF'
{"Version": "bench", "Config": {"bench": [
 {"cond": "req_path_prefix_in(\"/\", false)",
  "actions": [{"cmd": "RSP_HEADER_SET", "params": ["X-Proxied-By", "bfe"]}], "last": true}]}}
EOF
    cat >"$c/mod_rewrite/mod_rewrite.conf" <<'EOF'
[basic]
DataPath = mod_rewrite/rewrite.data
EOF
    cat >"$c/mod_rewrite/rewrite.data" <<'EOF'
{"Version": "bench", "Config": {"bench": [
 {"Cond": "req_path_prefix_in(\"/rewrite\", false)",
  "Actions": [{"Cmd": "PATH_PREFIX_ADD", "Params": ["/bfe/"]}], "Last": true}]}}
EOF
    cat >"$c/mod_redirect/mod_redirect.conf" <<'EOF'
[basic]
DataPath = mod_redirect/redirect.data
EOF
    cat >"$c/mod_redirect/redirect.data" <<'EOF'
{"Version": "bench", "Config": {"bench": [
 {"Cond": "req_path_prefix_in(\"/redirect\", false)",
  "Actions": [{"Cmd": "URL_SET", "Params": ["https://example.org"]}], "Status": 301}]}}
EOF
    cat >"$c/mod_tag/mod_tag.conf" <<'EOF'
[Basic]
DataPath = mod_tag/tag_rule.data

[Log]
OpenDebug = false
EOF
    cat >"$c/mod_tag/tag_rule.data" <<'EOF'
{"Version": "bench", "Config": {"bench": [
 {"Cond": "default_t()", "Param": {"TagName": "tag1", "TagValue": "bfe"}, "Last": false}]}}
EOF
    # BFE's sample templates, verbatim.
    cat >"$c/mod_access/mod_access.conf" <<EOF
[Log]
LogPrefix = access
LogDir = $l
RotateWhen = NEXTHOUR
BackupCount = 2

[Template]
RequestTemplate = "REQUEST_LOG \$time clientip: \$remote_addr serverip: \$server_addr host: \$host product: \$product user_agent: \${User-Agent}req_header status: \$status_code error: \$error"
SessionTemplate = "SESSION_LOG  \$time clientip: \$ses_clientip start_time: \$ses_start_time end_time: \$ses_end_time overhead: \$ses_overhead read_total: \$ses_read_total write_total: \$ses_write_total keepalive_num: \$ses_keepalive_num error: \$ses_error"
EOF
    cat >"$c/mod_prison/mod_prison.conf" <<'EOF'
[basic]
ProductRulePath = mod_prison/prison.data
EOF
    cat >"$c/mod_prison/prison.data" <<'EOF'
{"Version": "bench", "Config": {"bench": [{"Name": "example_prison",
 "Cond": "req_path_prefix_in(\"/prison\", false)",
 "accessSignConf": {"url": false, "path": false, "query": [], "header": [], "Cookie": ["UID"]},
 "action": {"cmd": "CLOSE", "params": []},
 "checkPeriod": 10, "stayPeriod": 10, "threshold": 5, "accessDictSize": 1000, "prisonDictSize": 1000}]}}
EOF
    cat >"$c/mod_session_sticky/mod_session_sticky.conf" <<'EOF'
[basic]
DataPath = mod_session_sticky/mod_session_sticky.data
CacheSize = 100000
CacheType = local
EOF
    cat >"$c/mod_session_sticky/mod_session_sticky.data" <<'EOF'
{"Config": {"global": []}, "Version": "0"}
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

# Plain ringfront sets RF_PID/RF_DIR. The twin (`noop` and `modules`
# modes) is the same conf plus `Modules =` lines on its own ports, pinned to
# the same CPUs: the two never carry load at the same time, so it differs
# from the plain one only by its modules: mod_noop (nine no-op handlers) or
# BFE's core modules. It sets RF_NOOP_PID/RF_NOOP_DIR.
start_ringfront() {   # workers [noop|mods]
    local w=$1 variant=${2:-} dir pid port https monitor name=ringfront rc
    local modules=()
    START_SEQ=$((START_SEQ + 1))
    if [[ -n $variant ]]; then
        name=ringfront+$variant port=$RF_NOOP_PORT https=$RF_NOOP_HTTPS_PORT monitor=$RF_NOOP_MONITOR_PORT
        if [[ $variant == noop ]]; then modules=(mod_noop); else modules=("${CORE_MODULES[@]}"); fi
        dir=$TMP/ringfront-$variant-$START_SEQ-w$w
    else
        port=$RF_PORT https=$RF_HTTPS_PORT monitor=$RF_MONITOR_PORT
        dir=$TMP/ringfront-$START_SEQ-w$w
    fi
    mkdir -p "$dir/log"
    write_ringfront_conf "$dir/conf" "$w" "$port" "$https" "$monitor" "${modules[@]}"
    if [[ $variant == mods ]]; then write_module_confs "$dir/conf" "$dir/log"; fi
    [[ -x $RINGFRONT_BIN ]] || die "no ringfront binary at $RINGFRONT_BIN (build it, or set RINGFRONT_BIN)"
    "$RINGFRONT_BIN" -c "$dir/conf" -l "$dir/log" >"$dir/stdout.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if [[ -n $variant ]]; then RF_NOOP_PID=$pid RF_NOOP_DIR=$dir; else RF_PID=$pid RF_DIR=$dir; fi
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

start_proxies() {   # workers worker_connections [noop|mods: also that ringfront twin]
    start_nginx_proxy "$1" "$2"
    start_haproxy_proxy "$1" "$2"
    start_ringfront "$1"
    local b got p targets=("nginx:$NGINX_PORT" "haproxy:$HAPROXY_PORT" "ringfront:$RF_PORT") twin="" v=${3:-}
    if [[ -n $v ]]; then
        start_ringfront "$1" "$v"
        targets+=("ringfront+$v:$RF_NOOP_PORT")
        twin=", ringfront+$v 127.0.0.1:$RF_NOOP_PORT (pid $RF_NOOP_PID)"
    fi
    if [[ $v == mods ]]; then
        start_nginx_proxy "$1" "$2" log
        targets+=("nginx+log:$NGINX_LOG_PORT")
        twin+=", nginx+log 127.0.0.1:$NGINX_LOG_PORT (pid $NGINX_LOG_PID)"
    fi
    ((H2)) && targets=("nginx:$NGINX_PORT" "haproxy:$HAPROXY_PORT" "ringfront:$RF_HTTPS_PORT")
    for b in "${BODY_LIST[@]}"; do
        for p in "${targets[@]}"; do
            if ((H2)); then
                got=$(curl -sk --http2 -o /dev/null -w '%{http_version} %{http_code} %{size_download}' \
                    "https://127.0.0.1:${p##*:}$(body_path "$b")")
                [[ $got == "2 200 $(body_bytes "$b")" ]] || die "${p%%:*} h2 GET /$b answered '$got'"
                continue
            fi
            got=$(python3 "$LIB" fetch "http://127.0.0.1:${p##*:}$(body_path "$b")")
            if [[ $got != "200 $(body_bytes "$b")" ]]; then
                [[ ${p%%:*} == ringfront ]] && ringfront_fail "GET /$b answered '$got' (want '200 $(body_bytes "$b")')"
                [[ ${p%%:*} == ringfront+* ]] &&
                    ringfront_fail "GET /$b answered '$got' (want '200 $(body_bytes "$b")')" "$RF_NOOP_DIR"
                die "${p%%:*} GET /$b answered '$got'"
            fi
        done
    done
    log "proxies up with $1 worker(s): nginx 127.0.0.1:$NGINX_PORT (pid $NGINX_PROXY_PID), haproxy 127.0.0.1:$HAPROXY_PORT (pid $HAPROXY_PID), ringfront 127.0.0.1:$RF_PORT (pid $RF_PID)$twin$( ((PIN)) && echo ", workers pinned to CPU $(proxy_cpus "$1")")"
}

stop_proxies() {
    kill_tree "$NGINX_PROXY_PID"; forget_pid "$NGINX_PROXY_PID"
    kill_tree "$HAPROXY_PID"; forget_pid "$HAPROXY_PID"
    kill_tree "$RF_PID"; forget_pid "$RF_PID"
    if [[ -n $RF_NOOP_PID ]]; then
        kill_tree "$RF_NOOP_PID"; forget_pid "$RF_NOOP_PID"
        RF_NOOP_PID=""
    fi
    if [[ -n $NGINX_LOG_PID ]]; then
        kill_tree "$NGINX_LOG_PID"; forget_pid "$NGINX_LOG_PID"
        NGINX_LOG_PID=""
    fi
    local i
    for ((i = 0; i < 50; i++)); do
        port_open "$NGINX_PORT" || port_open "$HAPROXY_PORT" || port_open "$RF_PORT" || port_open "$RF_NOOP_PORT" ||
            port_open "$NGINX_LOG_PORT" || break
        sleep 0.1
    done
}

# --------------------------------------------------------- throughput ----

run_wrk() {   # proxy port body outfile duration workers
    local port=$2 body=$3 out=$4 dur=$5 w=$6
    if ((H2)); then
        run_h2load "$@"
        return
    fi
    # shellcheck disable=SC2046
    timeout --foreground -k 5 $(($(dur_s "$dur") + 30)) $(loadgen_prefix "$w") \
        wrk -t"$THREADS" -c"$CONNS" -d"$dur" --latency "http://127.0.0.1:$port$(body_path "$body")" \
        >"$out" 2>&1 || { echo "bench: wrk failed against $1:" >&2; cat "$out" >&2; return 1; }
}

# HTTP/2 over TLS: CONNS/8 connections (at least 1), STREAMS streams each,
# so about as many requests are in flight as wrk keeps with CONNS.
run_h2load() {   # proxy port body outfile duration workers
    local port=$2 body=$3 out=$4 dur=$5 w=$6 c=$((CONNS / 8))
    ((c > 0)) || c=1
    # shellcheck disable=SC2046
    timeout --foreground -k 5 $(($(dur_s "$dur") + 30)) $(loadgen_prefix "$w") \
        h2load -t"$THREADS" -c"$c" -m"$STREAMS" -D"$(dur_s "$dur")" --log-file="$out.log" \
        "https://127.0.0.1:$port$(body_path "$body")" >"$out" 2>&1 ||
        { echo "bench: h2load failed against $1:" >&2; cat "$out" >&2; return 1; }
    grep -qi "^application protocol: h2" "$out" ||
        { echo "bench: $1 did not speak h2:" >&2; cat "$out" >&2; return 1; }
}

proxy_pid_port() {   # proxy -> "pid port"
    case $1 in
        nginx) echo "$NGINX_PROXY_PID $NGINX_PORT" ;;
        haproxy) echo "$HAPROXY_PID $HAPROXY_PORT" ;;
        ringfront) if ((H2)); then echo "$RF_PID $RF_HTTPS_PORT"; else echo "$RF_PID $RF_PORT"; fi ;;
        ringfront+noop|ringfront+mods) echo "$RF_NOOP_PID $RF_NOOP_PORT" ;;
        nginx+log) echo "$NGINX_LOG_PID $NGINX_LOG_PORT" ;;
        *) die "unknown proxy '$1'" ;;
    esac
}

proxy_died() {   # proxy message
    case $1 in
        ringfront) ringfront_fail "$2" ;;
        ringfront+noop|ringfront+mods) ringfront_fail "$2" "$RF_NOOP_DIR" ;;
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
    rm -f "$out.log"   # h2load's per-request log, read for the percentiles
}

throughput() {   # mode workers [proxy...]: rounds in alternation, default nginx ringfront
    local mode=$1 w=$2 body r p pid port
    shift 2
    local proxies=("$@")
    ((${#proxies[@]})) || proxies=(nginx haproxy ringfront)
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
    local url="http://127.0.0.1:$RF_MONITOR_PORT/monitor/ringfront_state?format=json" active
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
noop_instructions() {   # workers [twin: noop (default) or mods]
    local w=$1 twin=${2:-noop} v dir port pid out n ir f r url u0 s0 u1 s1
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
    echo "user $((u1 - u0)) system $((s1 - s0)) conns $CONNS" >"$RESULTS/${twin}_cpu_split.txt"
    for ((r = 1; r <= ROUNDS; r++)); do
        for v in ringfront "ringfront+$twin"; do
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
            python3 "$LIB" insn-record --csv "$RESULTS/${twin}_insn.csv" --proxy "$v" --round "$r" \
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
    for p in nginx haproxy ringfront; do
        read -r pid port <<<"$(proxy_pid_port "$p")"
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
        NGINX_LOG_PORT HAPROXY_PORT <<<"$(python3 "$LIB" port "$PORT_BASE" 10)"

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
        echo "haproxy: $("$HAPROXY" -v 2>&1 | head -1)"
        echo "wrk: $({ wrk -v 2>&1 || true; } | head -1)"
        echo "ringfront: $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?') $RINGFRONT_BIN"
        echo "nofile: $NOFILE"
        echo "ports: origin $ORIGIN_PORT nginx $NGINX_PORT haproxy $HAPROXY_PORT ringfront $RF_PORT monitor $RF_MONITOR_PORT$(
            [[ " ${MODES[*]} " == *" noop "* || " ${MODES[*]} " == *" modules "* ]] &&
                echo " twin $RF_NOOP_PORT monitor $RF_NOOP_MONITOR_PORT nginx+log $NGINX_LOG_PORT")"
    } >"$RESULTS/env.txt"
    sed 's/^/bench: /' "$RESULTS/env.txt"
    log "wrk -t$THREADS -c$CONNS -d$DURATION --latency, $ROUNDS alternating rounds (nginx, haproxy, ringfront, ...), bodies: $BODIES"

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
            h2)
                H2=1
                start_proxies "$WORKERS" "$wc"
                throughput h2 "$WORKERS"
                stop_proxies
                H2=0 ;;
            modules)
                start_proxies "$WORKERS" "$wc" mods
                throughput modules "$WORKERS" nginx nginx+log ringfront ringfront+mods
                stop_proxies
                noop_instructions "$WORKERS" mods ;;
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
