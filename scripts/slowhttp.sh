#!/usr/bin/env bash
# Slow clients against ringfront in front of an origin that serves at most
# 200 connections at once (nginx, worker_connections 200), all on
# loopback: slowhttptest's three attacks, each with SLOW_CONNS (2000)
# connections for SLOW_SECONDS (40), while a normal client (curl, one
# request every 0.2 s, 5 s timeout) asks for the same page. Prints, per
# attack, how many of the normal client's tries were served, and during
# the slow-body attack the most backend connections ringfront held.
# Exits non-zero when a bar is missed: >= 95% served in each attack, <= 10
# backend connections during -B.
#
#   scripts/slowhttp.sh                  # release build, all three attacks
#   SLOW_ATTACKS="B X" scripts/slowhttp.sh
#
# -H: slow headers (Slowloris); -B: slow body (R-U-Dead-Yet, POST with a
# 4096-byte Content-Length trickled in); -X: slow read (a 64 KiB page read
# through a tiny window). Installs slowhttptest, nginx and curl if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

conns=${SLOW_CONNS:-2000}
secs=${SLOW_SECONDS:-40}
attacks=${SLOW_ATTACKS:-H B X}
port=${SLOW_PORT:-18280}
mport=$((port + 1))
oport=$((port + 2))

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v slowhttptest >/dev/null || missing+=(slowhttptest)
command -v nginx >/dev/null || missing+=(nginx-light)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
ulimit -n $((conns * 3 + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"

[[ ${SLOW_BUILD:-1} == 0 ]] || cargo build -q --release --bin ringfront
bin=${RINGFRONT_BIN:-target/release/ringfront}

dir=$(mktemp -d)
chmod 755 "$dir"   # nginx's workers (not root) read the origin's files
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [[ -f $dir/origin/nginx.pid ]] && kill "$(cat "$dir/origin/nginx.pid")" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# The origin: one nginx worker with room for 200 connections.
mkdir -p "$dir/origin/www" "$dir/origin/tmp"
head -c 65536 /dev/zero | tr '\0' 'x' >"$dir/origin/www/64k"
echo ok >"$dir/origin/www/small"
cat >"$dir/origin/nginx.conf" <<NGX
worker_processes 1;
pid $dir/origin/nginx.pid;
error_log $dir/origin/error.log crit;
events { worker_connections 200; }
http {
    access_log off;
    client_body_temp_path $dir/origin/tmp;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:$oport;
        root $dir/origin/www;
        location / { error_page 405 =200 \$uri; }
    }
}
NGX
nginx -c "$dir/origin/nginx.conf" -p "$dir/origin"

cp -r conf "$dir/conf"
sed -i -e "s/^HttpPort = .*/HttpPort = $port/" -e "s/^MonitorPort = .*/MonitorPort = $mport/" \
    -e "s/^HttpsPort = .*/HttpsPort = $((port + 3))/" -e "s/^MaxCpus = .*/MaxCpus = 1/" \
    "$dir/conf/bfe.conf"
sed -i -e "s/\"Port\": 8181/\"Port\": $oport/" "$dir/conf/cluster_conf/cluster_table.data"
# All clients here are 127.0.0.1: BFE's sample prison and block rules
# would jail the normal client along with the attack.
sed -i -e '/^Modules = mod_prison$/d' -e '/^Modules = mod_block$/d' "$dir/conf/bfe.conf"
RINGFRONT_LOG=error "$bin" -c "$dir/conf" -l "$dir" &
rf=$!
pids+=("$rf")
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/small" && break
    sleep 0.1
done
url="http://127.0.0.1:$port"

# Backend connections ringfront holds now.
backend_conns() {
    ss -Htnp state established "( dport = :$oport )" 2>/dev/null | grep -c "pid=$rf," || true
}

fail=0
for a in $attacks; do
    case $a in
    H) args=(-H -u "$url/small") ;;
    B) args=(-B -u "$url/small" -s 4096) ;;
    X) args=(-X -u "$url/64k" -k 4 -n 10 -w 1 -y 4 -z 32) ;;
    *) echo "slowhttp.sh: unknown attack $a" >&2; exit 2 ;;
    esac
    slowhttptest "${args[@]}" -c "$conns" -r 1000 -i 5 -l "$secs" -p 5 >"$dir/slow-$a.log" 2>&1 &
    sp=$!
    sleep 5   # let the slow connections open
    tries=0 ok=0 most=0
    end=$((SECONDS + secs - 10))
    while ((SECONDS < end)); do
        tries=$((tries + 1))
        code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$url/small" || true)
        [[ $code == 200 ]] && ok=$((ok + 1))
        n=$(backend_conns)
        ((n > most)) && most=$n
        sleep 0.2
    done
    held=$(ss -Htn state established "( dport = :$port )" | wc -l)
    wait "$sp" || true
    pct=$((ok * 100 / (tries > 0 ? tries : 1)))
    line="attack -$a: normal client served $ok of $tries ($pct%); slow connections open at the end: $held; most backend connections held: $most"
    echo "$line"
    ((pct >= 95)) || { echo "  FAIL: under 95% served"; fail=1; }
    if [[ $a == B ]] && ((most > 10)); then
        echo "  FAIL: more than 10 backend connections during -B"
        fail=1
    fi
done
echo "== ringfront counters"
curl -s "http://127.0.0.1:$mport/monitor/ringfront_state?format=kv" |
    grep -E '^(conn_accepted|conn_active|req_total|resp_2xx|resp_4xx|resp_5xx|err_client_timeout|err_client_close|upstream_connect|upstream_reuse):' || true
exit $fail
