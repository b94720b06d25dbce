#!/usr/bin/env bash
# Slowloris check: ringfront (debug build, one worker) in front of the demo
# origin, all on loopback; scripts/slowloris.py holds SLOW_CONNS (5000)
# connections with unfinished, trickling request heads for SLOW_HOLD
# seconds (30) while a normal client makes SLOW_REQUESTS (200) sequential
# requests, which must all get 200. Prints latency before and during the
# attack. Raises `ulimit -n` as far as the hard limit allows.
#
#   scripts/slowloris.sh
#   SLOW_CONNS=2000 SLOW_HOLD=20 scripts/slowloris.sh
#   SLOW_READ_TIMEOUT=10 SLOW_HOLD=15 scripts/slowloris.sh   # see the 408s
#
# ringfront's ClientReadTimeout is SLOW_READ_TIMEOUT (60): a head not
# complete by then is answered 408 and closed, trickling or not.
#
# Ports: SLOW_PORT (18080), monitor SLOW_PORT+1, origin SLOW_PORT+2.
set -euo pipefail
cd "$(dirname "$0")/.."

conns=${SLOW_CONNS:-5000}
hold=${SLOW_HOLD:-30}
read_timeout=${SLOW_READ_TIMEOUT:-60}
requests=${SLOW_REQUESTS:-200}
port=${SLOW_PORT:-18080}
mport=$((port + 1))
oport=$((port + 2))

need=$((conns + 1024))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    echo "slowloris.sh: hard nofile limit $hard is below $need; lower SLOW_CONNS" >&2
    exit 1
fi
ulimit -n "$need"

cargo build -q --bin ringfront --bin ringfront-origin
bin="${CARGO_TARGET_DIR:-target}/debug"

dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

cp -r conf "$dir/conf"
sed -i -e "s/^HttpPort = .*/HttpPort = $port/" -e "s/^MonitorPort = .*/MonitorPort = $mport/" \
    -e "s/^MaxCpus = .*/MaxCpus = 1/" -e "s/^ClientReadTimeout = .*/ClientReadTimeout = $read_timeout/" \
    "$dir/conf/bfe.conf"
sed -i -e "s/\"Port\": 8181/\"Port\": $oport/" "$dir/conf/cluster_conf/cluster_table.data"

"$bin/ringfront-origin" "127.0.0.1:$oport" origin 2>/dev/null &
pids+=($!)
RINGFRONT_LOG=warn "$bin/ringfront" -c "$dir/conf" -l "$dir" &
pids+=($!)
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
done

echo "ringfront: 1 worker, ClientReadTimeout $read_timeout s; $conns slow connections for ${hold} s; $requests normal requests"
rc=0
python3 scripts/slowloris.py --port "$port" --conns "$conns" --hold "$hold" --requests "$requests" || rc=$?
echo "== ringfront counters"
curl -s "http://127.0.0.1:$mport/monitor/ringfront_state?format=kv" |
    grep -E '^(conn_accepted|conn_active|req_total|resp_2xx|resp_4xx|err_client_timeout|err_client_closed):' || true
exit $rc
