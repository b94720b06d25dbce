#!/usr/bin/env bash
# A two-host ringfront fleet behind a layer-4 balancer, on one machine, in
# network namespaces (docs/fleet.md shows its output and what each step
# stands for in production). Needs root, iproute2, curl, and HAProxy or
# IPVS (ipvsadm).
#
#   client (10.214.0.100) --> VIP 10.214.0.10:80 on the balancer
#     balancer: IPVS (NAT, round robin) if this kernel has it, else
#               HAProxy in TCP mode with send-proxy-v2
#   --> bridge 10.213.0.0/24 --> host1 10.213.0.11, host2 10.213.0.12
#     each host: ringfront (HTTP :8080, monitor :8421, Layer4LoadBalancer =
#     PROXY) and its own origins on 127.0.0.1:8181 (v1) and :8182 (v2)
#
# Steps: requests through the VIP must reach both hosts, and reach them
# with the client's own address (the route rule only matches 10.214.0.100,
# so a lost PROXY header would answer 500); a new configuration is pushed
# to both hosts and reloaded through each host's monitor port; the
# versions on the monitor ports and the answers must change; each host's
# Prometheus page is scraped. Exits non-zero at the first failure;
# namespaces and processes are removed on exit.
#
#   scripts/fleet.sh               builds release binaries first
#   RINGFRONT_BIN_DIR=DIR scripts/fleet.sh   uses DIR/ringfront{,-origin}
#   FLEET_BALANCER=haproxy|ipvs    forces one (default: ipvs if available)
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $(id -u) == 0 ]] || { echo "fleet.sh: needs root (network namespaces)" >&2; exit 2; }
if [[ -n ${RINGFRONT_BIN_DIR:-} ]]; then
    bin=$RINGFRONT_BIN_DIR
else
    cargo build --release --bins
    bin="${CARGO_TARGET_DIR:-target}/release"
fi
for b in ringfront ringfront-origin; do
    [[ -x $bin/$b ]] || { echo "fleet.sh: no $bin/$b" >&2; exit 2; }
done
bin=$(cd "$bin" && pwd)

tag="rff$$"                         # namespace prefix, unique per run
ns_sw="$tag-sw" ns_lb="$tag-lb" ns_cl="$tag-cl"
hosts=(h1 h2)
declare -A host_ip=([h1]=10.213.0.11 [h2]=10.213.0.12)
vip=10.214.0.10
work=$(mktemp -d /tmp/ringfront-fleet.XXXXXX)
pids=()
namespaces=()

cleanup() {
    local p n
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }
in_ns() { local n=$1; shift; ip netns exec "$n" "$@"; }
# Start a long-running process inside a namespace; remember its pid.
bg_in_ns() { local n=$1; shift; ip netns exec "$n" "$@" & pids+=($!); }

add_ns() {
    ip netns add "$1"
    namespaces+=("$1")
    in_ns "$1" ip link set lo up
}

# --- the network ---------------------------------------------------------
step "network: bridge $ns_sw, balancer $ns_lb, client $ns_cl, hosts ${hosts[*]/#/$tag-}"
add_ns "$ns_sw"
in_ns "$ns_sw" ip link add br0 type bridge
in_ns "$ns_sw" ip link set br0 up
# $1 namespace, $2 its address on the bridge.
attach() {
    ip link add "sw-${1##*-}" netns "$ns_sw" type veth peer name eth0 netns "$1"
    in_ns "$ns_sw" ip link set "sw-${1##*-}" master br0 up
    in_ns "$1" ip addr add "$2/24" dev eth0
    in_ns "$1" ip link set eth0 up
}
add_ns "$ns_lb"
attach "$ns_lb" 10.213.0.1
for h in "${hosts[@]}"; do
    add_ns "$tag-$h"
    attach "$tag-$h" "${host_ip[$h]}"
    # Replies to the client go back through the balancer (IPVS NAT needs it).
    in_ns "$tag-$h" ip route add default via 10.213.0.1
done
add_ns "$ns_cl"
ip link add cl0 netns "$ns_lb" type veth peer name eth0 netns "$ns_cl"
in_ns "$ns_lb" ip addr add 10.214.0.1/24 dev cl0
in_ns "$ns_lb" ip addr add "$vip/24" dev cl0
in_ns "$ns_lb" ip link set cl0 up
in_ns "$ns_cl" ip addr add 10.214.0.100/24 dev eth0
in_ns "$ns_cl" ip link set eth0 up
in_ns "$ns_cl" ip route add default via 10.214.0.1
in_ns "$ns_lb" sysctl -q -w net.ipv4.ip_forward=1

# --- ringfront hosts -------------------------------------------------------
# $1 conf dir, $2 version, $3 origin port. What a config agent would render.
write_conf() {
    local d=$1 v=$2 port=$3
    mkdir -p "$d/server_data_conf" "$d/cluster_conf"
    cat >"$d/bfe.conf" <<EOF
[Server]
HttpPort = 8080
MonitorPort = 8421
MonitorEnabled = true
MaxCpus = 1
Layer4LoadBalancer = PROXY
ClientReadTimeout = 10
ClientWriteTimeout = 10
GracefulShutdownTimeout = 2
HostRuleConf = server_data_conf/host_rule.data
VipRuleConf = server_data_conf/vip_rule.data
RouteRuleConf = server_data_conf/route_rule.data
ClusterConf = server_data_conf/cluster_conf.data
NameConf = server_data_conf/name_conf.data
GslbConf = cluster_conf/gslb.data
ClusterTableConf = cluster_conf/cluster_table.data
EOF
    # Each file is written beside its place and renamed over it, so a
    # reload never reads half a file.
    put() { printf '%s\n' "$2" >"$d/$1.tmp" && mv "$d/$1.tmp" "$d/$1"; }
    put server_data_conf/host_rule.data '{"Version":"'"$v"'","DefaultProduct":"web","Hosts":{"webTag":["fleet.example"]},"HostTags":{"web":["webTag"]}}'
    put server_data_conf/vip_rule.data '{"Version":"'"$v"'","Vips":{}}'
    put server_data_conf/name_conf.data '{"Version":"'"$v"'","Config":{}}'
    # Only the client's own address routes: a balancer that hid it (no
    # PROXY header) would get 500 "no cluster".
    put server_data_conf/route_rule.data '{"Version":"'"$v"'","ProductRule":{"web":[
        {"Cond":"req_cip_range(\"10.214.0.100\", \"10.214.0.100\")","ClusterName":"app"}]}}'
    put server_data_conf/cluster_conf.data '{"Version":"'"$v"'","Config":{"app":{
        "BackendConf":{"TimeoutConnSrv":1000,"TimeoutResponseHeader":5000},
        "CheckConf":{"Schem":"tcp","FailNum":3,"CheckInterval":1000},
        "GslbBasic":{"CrossRetry":0,"RetryMax":1},
        "ClusterBasic":{"TimeoutReadClient":10000,"TimeoutWriteClient":10000}}}}'
    put cluster_conf/gslb.data '{"Clusters":{"app":{"GSLB_BLACKHOLE":0,"app.local":100}},"Hostname":"","Ts":"'"$v"'"}'
    put cluster_conf/cluster_table.data '{"Version":"'"$v"'","Config":{"app":{"app.local":[
        {"Addr":"127.0.0.1","Name":"local","Port":'"$port"',"Weight":1}]}}}'
}

step "hosts: ringfront -c <conf v1> on each, origins answering 'HOST-v1' and 'HOST-v2'"
for h in "${hosts[@]}"; do
    write_conf "$work/$h" fleet-v1 8181
    bg_in_ns "$tag-$h" "$bin/ringfront-origin" 127.0.0.1:8181 "$h-v1" 2>/dev/null
    bg_in_ns "$tag-$h" "$bin/ringfront-origin" 127.0.0.1:8182 "$h-v2" 2>/dev/null
    bg_in_ns "$tag-$h" "$bin/ringfront" -c "$work/$h" -l "$work/$h-log"
done
for h in "${hosts[@]}"; do
    for _ in $(seq 1 100); do
        in_ns "$ns_lb" curl -s -o /dev/null "http://${host_ip[$h]}:8421/monitor/config_state" && continue 2
        sleep 0.1
    done
    cat "$work/$h-log/ringfront.log" >&2 || true
    fail "ringfront on $h did not start"
done
echo "both hosts up (monitor ports answer)"

# --- the balancer -----------------------------------------------------------
balancer=${FLEET_BALANCER:-}
if [[ -z $balancer ]]; then
    if { modprobe ip_vs 2>/dev/null || [[ -e /proc/net/ip_vs ]]; } && [[ -e /proc/net/ip_vs ]]; then
        balancer=ipvs
    else
        balancer=haproxy
        echo "(IPVS is not available in this kernel: $(uname -r); using HAProxy)"
    fi
fi
step "balancer: $balancer on VIP $vip:80"
case $balancer in
ipvs)
    # Production shape: IPVS forwards packets, the hosts see the client's
    # own address (no PROXY header needed; ringfront accepts connections
    # without one). NAT mode, so the hosts route replies back through it.
    command -v ipvsadm >/dev/null || apt-get install -y -qq ipvsadm >/dev/null
    in_ns "$ns_lb" ipvsadm -A -t "$vip:80" -s rr
    for h in "${hosts[@]}"; do
        in_ns "$ns_lb" ipvsadm -a -t "$vip:80" -r "${host_ip[$h]}:8080" -m
    done
    in_ns "$ns_lb" ipvsadm -Ln
    ;;
haproxy)
    command -v haproxy >/dev/null || fail "neither IPVS nor haproxy (apt-get install haproxy)"
    cat >"$work/haproxy.cfg" <<EOF
global
    maxconn 4096
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend vip
    bind $vip:80
    default_backend ringfront
backend ringfront
    balance roundrobin
    server h1 ${host_ip[h1]}:8080 send-proxy-v2
    server h2 ${host_ip[h2]}:8080 send-proxy-v2
EOF
    sed 's/^/    /' "$work/haproxy.cfg"
    bg_in_ns "$ns_lb" haproxy -db -f "$work/haproxy.cfg"
    for _ in $(seq 1 50); do
        in_ns "$ns_cl" bash -c "exec 3<>/dev/tcp/$vip/80" 2>/dev/null && break
        sleep 0.1
    done
    ;;
*) fail "FLEET_BALANCER must be haproxy or ipvs" ;;
esac

# --- traffic ------------------------------------------------------------------
# $1: the version every answer must come from. Prints the tally.
traffic() {
    local want=$1 out h
    declare -A seen=()
    for i in $(seq 1 20); do
        out=$(in_ns "$ns_cl" curl -sS -m 5 -w ' [%{http_code}]' "http://$vip/req/$i") ||
            fail "request $i through the VIP: $out"
        [[ $out == *"[200]" ]] || fail "request $i: $out"
        [[ $out =~ hello\ from\ (h[12])-(v[12]) ]] || fail "request $i: unexpected answer $out"
        [[ ${BASH_REMATCH[2]} == "$want" ]] || fail "request $i answered by ${BASH_REMATCH[1]}-${BASH_REMATCH[2]}, want $want"
        seen[${BASH_REMATCH[1]}]=$((${seen[${BASH_REMATCH[1]}]:-0} + 1))
    done
    for h in "${hosts[@]}"; do
        echo "  $h answered ${seen[$h]:-0} of 20 ($want)"
        ((${seen[$h]:-0} > 0)) || fail "$h got no request through the balancer"
    done
}

# $1 host: the configuration version its monitor port reports.
version_of() {
    in_ns "$ns_lb" curl -sS -m 5 "http://${host_ip[$1]}:8421/monitor/config_state"
}

step "20 requests from the client to http://$vip/ (routed only if ringfront sees 10.214.0.100)"
traffic v1
in_ns "$ns_cl" curl -sS "http://$vip/one" | sed 's/^/  sample answer: /'

step "versions before the push (GET http://HOST:8421/monitor/config_state)"
declare -A before=()
for h in "${hosts[@]}"; do
    before[$h]=$(version_of "$h")
    echo "  $h: ${before[$h]}"
done

step "push: a new conf (version fleet-v2, backend port 8182) to both hosts, then reload each"
for h in "${hosts[@]}"; do
    write_conf "$work/$h" fleet-v2 8182
    # The reload endpoint answers only 127.0.0.1/::1: the agent calls it
    # on the host itself (here: inside the host's namespace).
    r=$(in_ns "$tag-$h" curl -sS -m 10 http://127.0.0.1:8421/reload/server_data_conf)
    echo "  $h: GET /reload/server_data_conf -> $r"
    [[ $r == *'"error":null'* ]] || fail "reload on $h: $r"
done
r=$(in_ns "$ns_lb" curl -sS -m 5 "http://${host_ip[h1]}:8421/reload/server_data_conf")
echo "  (from the balancer instead: $r)"
[[ $r == *"not allowed"* ]] || fail "a reload from another host was not refused: $r"

step "versions after the reload"
for h in "${hosts[@]}"; do
    v=$(version_of "$h")
    echo "  $h: $v"
    [[ $v != "${before[$h]}" && $v == *fleet-v2* ]] || fail "$h still reports $v"
done

step "20 more requests: every answer now comes from the v2 backends"
traffic v2

step "Prometheus scrape of each host (GET /monitor/ringfront_state?format=prometheus, first lines)"
for h in "${hosts[@]}"; do
    m=$(in_ns "$ns_lb" curl -sS -m 5 "http://${host_ip[$h]}:8421/monitor/ringfront_state?format=prometheus")
    echo "$m" | grep -v '^#' | grep -E 'req_total|resp_2xx|conn_accept|proxy_err' | head -n 6 | sed "s/^/  $h: /"
    [[ $m == *req_total* ]] || fail "no req_total in $h's Prometheus page"
done

echo
echo "fleet OK ($balancer, ${#hosts[@]} hosts)"
