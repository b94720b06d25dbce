#!/usr/bin/env bash
# HTTP/2 conformance: run httpwg (the Rust port of h2spec) against
# ringfront's h2c port and against nginx with `http2`, both proxying to the
# same origin, and print each one's pass count and the cases where the two
# differ. A report, not a gate: the exit status is 0 whenever both ran.
#
#   scripts/h2spec.sh [-f FILTER]     (KEEP=dir keeps the outputs)
#
# Needs: httpwg (cargo install httpwg-cli --locked; set HTTPWG=path),
# nginx with http_v2 (apt-get install -y nginx-light), curl.
# RINGFRONT_BIN / ORIGIN_BIN default to the debug build (built if missing).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD

FILTER=()
if [[ ${1:-} == -f ]]; then FILTER=(-f "$2"); fi

HTTPWG=${HTTPWG:-$(command -v httpwg || true)}
[[ -x $HTTPWG ]] || { echo "httpwg not found: cargo install httpwg-cli --locked (then HTTPWG=path)" >&2; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $NGINX ]] || { echo "nginx not found: apt-get install -y nginx-light" >&2; exit 2; }

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
RINGFRONT_BIN=${RINGFRONT_BIN:-$TARGET/debug/ringfront}
ORIGIN_BIN=${ORIGIN_BIN:-$TARGET/debug/ringfront-origin}
if [[ ! -x $RINGFRONT_BIN || ! -x $ORIGIN_BIN ]]; then cargo build --bins; fi

TMP=$(mktemp -d /tmp/ringfront-h2spec.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ -n ${KEEP:-} ]]; then cp "$TMP"/*.log "$TMP"/*.txt "$TMP"/*.out "$KEEP"/ 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# Free loopback ports, from the kernel.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ORIGIN_PORT=$(port); RF_PORT=$(port); RF_TLS=$(port); RF_MON=$(port); NGINX_PORT=$(port)

wait_port() {   # port name
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "$2 did not listen on 127.0.0.1:$1" >&2
    exit 1
}

"$ORIGIN_BIN" "127.0.0.1:$ORIGIN_PORT" h2spec-origin >"$TMP/origin.log" 2>&1 &
PIDS+=($!)
wait_port "$ORIGIN_PORT" origin

# ringfront on a copy of the default conf (h2c on its plain port), one worker.
cp -r "$ROOT/conf" "$TMP/conf"
sed -i -e "s/^HttpPort = .*/HttpPort = $RF_PORT/" -e "s/^MonitorPort = .*/MonitorPort = $RF_MON/" \
    -e "s/^HttpsPort = .*/HttpsPort = $RF_TLS/" \
    -e "s/^MaxCpus = .*/MaxCpus = 1/" "$TMP/conf/bfe.conf"
sed -i "s/\"Port\": 8181/\"Port\": $ORIGIN_PORT/" "$TMP/conf/cluster_conf/cluster_table.data"
"$RINGFRONT_BIN" -c "$TMP/conf" -l "$TMP/rf-log" >"$TMP/ringfront.log" 2>&1 &
PIDS+=($!)
wait_port "$RF_PORT" ringfront

mkdir -p "$TMP/nginx/tmp"
cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
$( [[ $(id -u) == 0 ]] && echo "user root root;" )
worker_processes 1;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/tmp/body;
    proxy_temp_path $TMP/nginx/tmp/proxy;
    fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
    uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
    scgi_temp_path $TMP/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT http2;
        location / { proxy_pass http://127.0.0.1:$ORIGIN_PORT; proxy_http_version 1.1; }
    }
}
EOF
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" >"$TMP/nginx/stdout.log" 2>&1 &
PIDS+=($!)
wait_port "$NGINX_PORT" nginx

run() {   # name port
    "$HTTPWG" -a "127.0.0.1:$2" --frame-timeout 1000 --connect-timeout 1000 "${FILTER[@]}" \
        >"$TMP/$1.out" 2>&1 || true
    # httpwg prints "Test passed: <case>" / "Test failed: <case>" per case
    # and "Passed N/M tests" at the end (with emoji and colours).
    sed -e 's/\x1b\[[0-9;]*m//g' "$TMP/$1.out" | grep -aE 'Test (passed|failed):|Passed [0-9]+/' \
        | sed -E 's/^[^A-Za-z]*//' >"$TMP/$1.txt"
}
run ringfront "$RF_PORT"
run nginx "$NGINX_PORT"

for n in ringfront nginx; do
    echo "== $n: $(grep -E '^Passed' "$TMP/$n.txt" || echo 'no summary (see its log)')"
done
echo
echo "== cases whose result differs"
join -t'|' \
    <(grep -E '^Test' "$TMP/ringfront.txt" | sed -E 's/^Test (passed|failed): (.*)/\2|\1/' | sort -t'|' -k1,1) \
    <(grep -E '^Test' "$TMP/nginx.txt" | sed -E 's/^Test (passed|failed): (.*)/\2|\1/' | sort -t'|' -k1,1) |
    awk -F'|' '$2 != $3 { printf "ringfront %-6s nginx %-6s %s\n", $2, $3, $1 }'
