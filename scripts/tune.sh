#!/usr/bin/env bash
# Apply the kernel settings for many connections that
# packaging/sysctl.d/60-ringfront.conf lists and explains (each setting's
# why and risk is in that file's comments).
#
#   scripts/tune.sh [--dry-run] [--install] [--conf FILE]
#
# Limits are only ever raised: a value this host already has higher (a big
# machine's fs.file-max, a port range that is already wider) is kept.
# Switches (tcp_tw_reuse, …) are set as written. Keys this kernel lacks
# (nf_conntrack_max without conntrack loaded) are skipped and said so.
#   --dry-run  print current and wanted values and what would change; needs
#              no root and changes nothing
#   --install  also write what was applied to /etc/sysctl.d/60-ringfront.conf
#              so that it survives a reboot
# Exits non-zero if a setting could not be applied. The service's own
# descriptor limit is the unit's LimitNOFILE (packaging/debian/ringfront.service);
# for a ringfront started by hand, raise `ulimit -n` in that shell.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
conf=""
for c in "$here/../packaging/sysctl.d/60-ringfront.conf" /usr/share/ringfront/sysctl.d/60-ringfront.conf; do
    [[ -f "$c" ]] && { conf="$c"; break; }
done
dry=0 install=0
while (($#)); do
    case "$1" in
    --dry-run) dry=1 ;;
    --install) install=1 ;;
    --conf) conf="${2:?--conf needs a file}"; shift ;;
    -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "tune.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[[ -f "$conf" ]] || { echo "tune.sh: no settings file (--conf FILE)" >&2; exit 2; }
if ((!dry)) && [[ $(id -u) != 0 ]]; then
    echo "tune.sh: needs root to apply (or --dry-run)" >&2
    exit 2
fi

# Keys whose single number is a limit: never lowered.
raise_scalar=" net.core.somaxconn net.ipv4.tcp_max_syn_backlog net.core.netdev_max_backlog
 net.ipv4.tcp_max_tw_buckets fs.file-max fs.nr_open net.core.rmem_max net.core.wmem_max
 net.netfilter.nf_conntrack_max "
# Keys holding several numbers, each a limit: never lowered, element by element.
raise_vector=" net.ipv4.tcp_rmem net.ipv4.tcp_wmem "

proc_path() { echo "/proc/sys/${1//.//}"; }

# The value to write for key $1, wanted $2, current $3.
target() {
    local key=$1 want=$2 cur=$3
    if [[ $raise_scalar == *" $key "* ]]; then
        if ((cur >= want)); then echo "$cur"; else echo "$want"; fi
    elif [[ $raise_vector == *" $key "* ]]; then
        local -a w c o
        read -ra w <<<"$want"
        read -ra c <<<"$cur"
        for i in "${!w[@]}"; do
            if ((${c[i]:-0} > w[i])); then o+=("${c[i]}"); else o+=("${w[i]}"); fi
        done
        echo "${o[*]}"
    elif [[ $key == net.ipv4.ip_local_reserved_ports ]]; then
        # Add ours to the ports already reserved, never drop one.
        local out=$cur t
        for t in ${want//,/ }; do
            [[ ,$cur, == *",$t,"* ]] || out="${out:+$out,}$t"
        done
        echo "$out"
    elif [[ $key == net.ipv4.ip_local_port_range ]]; then
        local wl wh cl ch
        read -r wl wh <<<"$want"
        read -r cl ch <<<"$cur"
        echo "$((cl < wl ? cl : wl)) $((ch > wh ? ch : wh))"
    else
        echo "$want"
    fi
}

failed=0
applied=()
printf '%-36s %-26s %-26s %s\n' KEY CURRENT WANTED ACTION
while IFS= read -r line; do
    line="${line%%#*}"
    [[ $line =~ ^[[:space:]]*([a-z0-9_.-]+)[[:space:]]*=[[:space:]]*(.*[^[:space:]])[[:space:]]*$ ]] || continue
    key=${BASH_REMATCH[1]}
    want=$(echo "${BASH_REMATCH[2]}" | tr -s ' \t' ' ')
    p=$(proc_path "$key")
    if [[ ! -e $p ]]; then
        printf '%-36s %-26s %-26s %s\n' "$key" "-" "$want" "skip: not on this kernel"
        continue
    fi
    cur=$(tr -s ' \t' ' ' <"$p")
    new=$(target "$key" "$want" "$cur")
    if [[ $new == "$cur" ]]; then
        action="keep"
    elif ((dry)); then
        action="would set $new"
    elif ! sysctl -q -w "$key=$new" >/dev/null 2>&1; then
        action="FAILED to set $new"
        failed=1
    elif [[ $(tr -s ' \t' ' ' <"$p") != "$new" ]]; then
        # Some keys are per host and silently ignore writes from a
        # network namespace or container: say so rather than claim it.
        action="NOT APPLIED: still $(tr -s ' \t' ' ' <"$p") (set it on the host)"
        failed=1
    else
        action="set $new"
    fi
    printf '%-36s %-26s %-26s %s\n' "$key" "$cur" "$want" "$action"
    applied+=("$key = $new")
done <"$conf"

if ((install && !dry)); then
    out=/etc/sysctl.d/60-ringfront.conf
    {
        echo "# Written by ringfront's tune.sh from $conf; the reasons are there."
        printf '%s\n' "${applied[@]}"
    } >"$out" && echo "wrote $out"
fi
echo "descriptors: this shell may open $(ulimit -n) files (the systemd unit sets LimitNOFILE=1048576)"
exit "$failed"
