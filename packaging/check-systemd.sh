#!/usr/bin/env bash
# The .deb under a real systemd: a fresh Debian 12 root file system
# (debootstrap, cached), the package installed with apt (so its
# dependencies are resolved), then booted with systemd-nspawn (systemd as
# PID 1 of the container, its own network namespace) to check what only
# systemd shows:
#   - Type=notify: the unit is active with ringfront's STATUS= text, and
#     `systemctl restart` returns with the new process already serving;
#   - the sandbox (seccomp filter, capabilities, read-only system) leaves
#     HTTP, HTTPS, io_uring and the logs working;
#   - the main-PID hand-over a binary upgrade relies on: a second ringfront
#     started inside the unit (SO_REUSEPORT on the same ports, here from
#     ExecReload) sends MAINPID=<its pid> + READY=1, the old main process is
#     killed, and the unit stays active with the new main PID and serving;
#   - `systemctl stop` ends it cleanly (Result=success).
#
#   packaging/check-systemd.sh [PATH.deb]
# Needs root, network access to a Debian mirror (first run), debootstrap
# and systemd-container (apt-get install -y debootstrap systemd-container),
# and the ringfront-origin binary (cargo build --release --bins).
# RINGFRONT_ROOTFS caches the base system (default /var/tmp/ringfront-bookworm).
set -euo pipefail
cd "$(dirname "$0")/.."

deb=${1:-$(ls -t "${CARGO_TARGET_DIR:-target}"/debian/ringfront_*.deb 2>/dev/null | head -n 1 || true)}
origin="${CARGO_TARGET_DIR:-target}/release/ringfront-origin"
base=${RINGFRONT_ROOTFS:-/var/tmp/ringfront-bookworm}
[[ -f $deb ]] || { echo "check-systemd.sh: no .deb (cargo deb first)" >&2; exit 2; }
[[ -x $origin ]] || { echo "check-systemd.sh: no $origin (cargo build --release --bins)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "check-systemd.sh: needs root" >&2; exit 2; }
for t in debootstrap systemd-nspawn; do
    command -v $t >/dev/null || { echo "check-systemd.sh: needs $t (apt-get install -y debootstrap systemd-container)" >&2; exit 2; }
done

if [[ ! -x $base/usr/bin/apt-get ]]; then
    echo "== debootstrap bookworm into $base (once)"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,curl,ca-certificates bookworm "$base" >/dev/null
fi
root=$(mktemp -d /var/tmp/ringfront-systemd.XXXXXX)
trap 'rm -rf "$root"' EXIT
cp -a "$base/." "$root/"
nspawn() { systemd-nspawn -q --keep-unit --register=no -D "$root" "$@" 2>&1 | grep -v 'Attempted to remove disk file system' || true; }

echo "== apt-get install ./$(basename "$deb") in a fresh Debian 12"
cp "$deb" "$root/root/ringfront.deb"
cp "$origin" "$root/usr/local/bin/ringfront-origin"
nspawn env DEBIAN_FRONTEND=noninteractive apt-get install -y -q /root/ringfront.deb |
    grep -E '^(Setting up|Creating|Created)' || true

# A conf for the second process of the hand-over: the same, minus the
# monitor port (a plain listener, not shared).
mkdir -p "$root/etc/systemd/system/multi-user.target.wants" "$root/etc/systemd/system/ringfront.service.d"
cat >"$root/etc/systemd/system/rf-origin.service" <<'EOF'
[Unit]
Before=ringfront.service
[Service]
ExecStart=/usr/local/bin/ringfront-origin 127.0.0.1:8181 origin-in-container
[Install]
WantedBy=multi-user.target
EOF
cat >"$root/etc/systemd/system/rf-check.service" <<'EOF'
[Unit]
After=ringfront.service rf-origin.service
[Service]
Type=oneshot
ExecStart=/usr/local/bin/rf-check.sh
[Install]
WantedBy=multi-user.target
EOF
# The hand-over stand-in, only for this check: ExecReload starts a second
# ringfront in the unit's cgroup, with the unit's user and sandbox, as the
# USR2 upgrade's new process would be.
cat >"$root/etc/systemd/system/ringfront.service.d/handover-test.conf" <<'EOF'
[Service]
ExecReload=
ExecReload=/bin/sh -c 'NOTIFY_SOCKET=/run/systemd/notify /usr/bin/ringfront -c /run/ringfront-b -l /var/log/ringfront >/dev/null 2>&1 &'
EOF
cat >"$root/usr/local/bin/rf-check.sh" <<'EOF'
#!/bin/bash
exec >/root/rf-check.out 2>&1
fail() { echo "FAIL: $*"; echo FAILED >/root/rf-check.result; systemctl poweroff; exit 1; }
show() { systemctl show -p ActiveState,SubState,MainPID,Result,NRestarts,StatusText ringfront | sort | tr '\n' ' '; echo; }
val() { systemctl show -p "$1" --value ringfront; }
echo "== after boot"; show
[[ $(val ActiveState) == active && $(val StatusText) == *worker* ]] || fail "not active with ringfront's STATUS="
curl -sS http://127.0.0.1:8080/hello | grep -q origin-in-container || fail "http"
curl -sSk -o /dev/null -w 'https %{http_code}\n' --resolve example.org:8443:127.0.0.1 https://example.org:8443/ | tee /tmp/h
grep -q 'https 200' /tmp/h || fail "https"
pid=$(val MainPID)
echo "main process: $(stat -c %U /proc/$pid) $(tr '\0' ' ' </proc/$pid/cmdline)"
grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/$pid/status | tr '\n\t' '  '; echo
grep -E 'started on cpu' /var/log/ringfront/ringfront.log | tail -n 1
grep -q IoUring /var/log/ringfront/ringfront.log || fail "workers not on io_uring under the seccomp filter"
echo "== systemctl restart"
systemctl restart ringfront || fail "restart"
curl -sS -m 2 http://127.0.0.1:8080/right-after-restart || fail "not serving when restart returned"
show
echo "== main-PID hand-over (NotifyAccess=all)"
mkdir -p /run/ringfront-b && cp -r /etc/ringfront/. /run/ringfront-b/ && chown -R ringfront /run/ringfront-b
sed -i 's/^MonitorEnabled = true/MonitorEnabled = false/' /run/ringfront-b/bfe.conf
old=$(val MainPID)
systemctl reload ringfront || fail "reload (starting the second process)"
for _ in $(seq 1 50); do [[ $(val MainPID) != "$old" ]] && break; sleep 0.1; done
new=$(val MainPID)
echo "MainPID $old -> $new"
[[ $new != "$old" && $new != 0 ]] || fail "MAINPID= from the new process was not taken"
kill -KILL "$old"
sleep 1
show
[[ $(val ActiveState) == active && $(val MainPID) == "$new" ]] || fail "unit did not survive the old process's exit"
curl -sS -m 2 http://127.0.0.1:8080/after-handover || fail "not serving after the hand-over"
echo "== systemctl stop"
systemctl stop ringfront
show
[[ $(val Result) == success ]] || fail "stop result"
echo "== journal"; journalctl -u ringfront --no-pager -o cat | tail -n 20
ls -l /var/log/ringfront
echo OK >/root/rf-check.result
systemctl poweroff
EOF
chmod +x "$root/usr/local/bin/rf-check.sh"
for u in rf-origin rf-check; do
    ln -sf "/etc/systemd/system/$u.service" "$root/etc/systemd/system/multi-user.target.wants/$u.service"
done

echo "== boot (systemd-nspawn -b, private network)"
timeout 180 systemd-nspawn -q --keep-unit --register=no -b -D "$root" --private-network >"$root/boot.log" 2>&1 || true
cat "$root/root/rf-check.out" 2>/dev/null || { tail -n 30 "$root/boot.log"; echo "FAIL: no check output"; exit 1; }
[[ $(cat "$root/root/rf-check.result" 2>/dev/null) == OK ]] || { echo "FAIL"; exit 1; }
echo
echo "systemd check OK"
