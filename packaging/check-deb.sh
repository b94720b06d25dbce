#!/usr/bin/env bash
# Install the .deb on this machine and prove that the installed service
# answers, without needing systemd as PID 1 (containers, CI):
#
#   packaging/check-deb.sh [--keep] [PATH.deb]
#
# 1. dpkg -i; check the binary, the ringfront user, /var/log/ringfront,
#    the conffiles, the key's permissions, the enabled unit, and that
#    `systemd-analyze verify` accepts the installed unit;
# 2. run the unit's ExecStartPre and ExecStart lines exactly as written,
#    the way systemd would: as User=ringfront with only
#    CAP_NET_BIND_SERVICE (setpriv), NOTIFY_SOCKET set, in a network
#    namespace of its own so that the default ports cannot clash; wait for
#    READY=1; curl HTTP, HTTPS and the monitor port with a small origin on
#    :8181 behind it; run ExecReload's check; SIGTERM (what `systemctl
#    stop` sends) must give STOPPING=1 and exit status 0;
# 3. dpkg --purge (unless --keep): files and logs gone, the user kept.
# (What only systemd can show, the sandbox options, is in docs/packaging.md.)
# Needs root, dpkg, curl, python3, setpriv (util-linux), iproute2.
set -euo pipefail
cd "$(dirname "$0")/.."

keep=0
deb=""
for a in "$@"; do
    case "$a" in
    --keep) keep=1 ;;
    *) deb=$a ;;
    esac
done
if [[ -z $deb ]]; then
    deb=$(ls -t "${CARGO_TARGET_DIR:-target}"/debian/ringfront_*.deb 2>/dev/null | head -n 1 || true)
fi
[[ -f $deb ]] || { echo "check-deb.sh: no .deb (cargo deb first; docs/packaging.md)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "check-deb.sh: needs root" >&2; exit 2; }

ns="rfdeb$$"
work=$(mktemp -d /tmp/ringfront-deb.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
    if ((!keep)) && dpkg-query -W ringfront >/dev/null 2>&1; then
        echo "== dpkg --purge ringfront"
        dpkg --purge ringfront >/dev/null
        [[ ! -e /usr/bin/ringfront && ! -e /etc/ringfront && ! -e /var/log/ringfront ]] ||
            echo "FAIL: files left after purge" >&2
    fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }

step "dpkg -i $(basename "$deb")"
dpkg -i "$deb"
/usr/bin/ringfront -v
id ringfront
stat -c '%n %U:%G %a' /var/log/ringfront /etc/ringfront/tls_conf/example.org.key
[[ $(stat -c '%U:%G %a' /var/log/ringfront) == "ringfront:ringfront 750" ]] || fail "/var/log/ringfront ownership"
[[ $(stat -c '%U:%G %a' /etc/ringfront/tls_conf/example.org.key) == "root:ringfront 640" ]] || fail "key permissions"
n=$(dpkg-query -W -f='${Conffiles}\n' ringfront | grep -c '^ /etc/' || true)
echo "conffiles: $n under /etc"
((n >= 30)) || fail "expected the sample conf as conffiles, got $n"
unit=/usr/lib/systemd/system/ringfront.service
[[ -f $unit ]] || unit=/lib/systemd/system/ringfront.service
[[ -f $unit ]] || fail "unit not installed"
[[ -L /etc/systemd/system/multi-user.target.wants/ringfront.service ]] || fail "unit not enabled"
echo "unit $unit, enabled"
said=$(systemd-analyze verify --man=no "$unit" 2>&1 || echo "exit status $?")
[[ -z $said ]] || fail "systemd-analyze verify: $said"
echo "systemd-analyze verify $unit: no complaints"

step "start it as the unit does: User=ringfront, CAP_NET_BIND_SERVICE only, NOTIFY_SOCKET, own network namespace"
line() { sed -n "s/^$1=//p" "$unit"; }
read -ra pre <<<"$(line ExecStartPre)"
read -ra start <<<"$(line ExecStart)"
mapfile -t reload < <(line ExecReload)
echo "ExecStartPre: ${pre[*]}"
echo "ExecStart:    ${start[*]}"
as_service=(setpriv --reuid=ringfront --regid=ringfront --init-groups
    --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service
    --bounding-set=-all,+net_bind_service --no-new-privs)
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
sock="$work/notify.sock"
python3 - "$sock" >"$work/notify.log" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
import os; os.chmod(sys.argv[1], 0o777)
s.settimeout(60)
while True:
    m = s.recv(4096).decode()
    print(m.replace("\n", " | "), flush=True)
    if "STOPPING=1" in m.split("\n"):
        break
EOF
pids+=($!)
mkdir -p "$work/www"
echo "origin behind the installed ringfront" >"$work/www/index.html"
ip netns exec "$ns" python3 -m http.server 8181 --bind 127.0.0.1 --directory "$work/www" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do [[ -S $sock ]] && break; sleep 0.1; done
ip netns exec "$ns" "${as_service[@]}" "${pre[@]}" || fail "ExecStartPre failed"
ip netns exec "$ns" env NOTIFY_SOCKET="$sock" "${as_service[@]}" "${start[@]}" &
rf=$!
pids+=($rf)
for _ in $(seq 1 100); do grep -q 'READY=1' "$work/notify.log" && break; sleep 0.1; done
grep 'READY=1' "$work/notify.log" | sed 's/^/notify: /' || fail "no READY=1 within 10 s"
grep -q "MAINPID=$rf" "$work/notify.log" || fail "READY=1 without MAINPID=$rf"
echo "process: $(ps -o user=,pid=,args= -p "$rf")"
grep -E '^(Cap(Eff|Prm|Amb)|NoNewPrivs)' "/proc/$rf/status" | tr '\n' ' '
echo

step "curl it"
in_ns() { ip netns exec "$ns" "$@"; }
in_ns curl -sS -i http://127.0.0.1:8080/ | tee "$work/http" | sed -n '1p;$p'
grep -q '^HTTP/1.1 200' "$work/http" && grep -q 'origin behind the installed ringfront' "$work/http" || fail "HTTP through the installed ringfront"
in_ns curl -sS -k -o /dev/null -w 'https://example.org:8443/ -> %{http_code} over %{http_version}\n' \
    --resolve example.org:8443:127.0.0.1 https://example.org:8443/ | tee "$work/https"
grep -q -- '-> 200' "$work/https" || fail "HTTPS (the key must be readable by ringfront)"
in_ns curl -sS 'http://127.0.0.1:8421/monitor/proxy_state?format=kv' | grep -E '^(req_total|resp_2xx):'
sleep 1
ls -l /var/log/ringfront/
[[ $(stat -c %U /var/log/ringfront/ringfront.log) == ringfront ]] || fail "ringfront.log not written by the service user"
grep -q 'REQUEST_LOG' /var/log/ringfront/access.log || fail "no access log line"
grep 'REQUEST_LOG' /var/log/ringfront/access.log | tail -n 1

step "systemctl reload runs: ${reload[0]}"
read -ra check <<<"${reload[0]}"
in_ns "${as_service[@]}" "${check[@]}" || fail "ExecReload's check"

step "systemctl stop sends SIGTERM"
kill -TERM "$rf"
st=0
wait "$rf" || st=$?
for _ in $(seq 1 50); do grep -q 'STOPPING=1' "$work/notify.log" && break; sleep 0.1; done
grep 'STOPPING=1' "$work/notify.log" | sed 's/^/notify: /' || fail "no STOPPING=1"
((st == 0)) || fail "exit status $st"
echo "exit status 0"
echo
echo "package OK"
