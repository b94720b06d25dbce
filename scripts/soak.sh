#!/usr/bin/env bash
# A soak under faults, loopback only, bounded: SOAK_SECONDS (default 600)
# at ~80% of the measured maximum rate through 2 workers to 4 backends,
# one backend killed and restarted every 30 s, another stalling, a routing
# reload every 10 s; fds and RSS sampled every 10 s. Prints the figures;
# exits non-zero when a check fails (see scripts/soak.py for each check).
#
# Needs wrk and python3. Builds the release binaries once (nice'd) unless
# --no-build. CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target="${CARGO_TARGET_DIR:-target}"
if [[ "${1:-}" != "--no-build" ]]; then
    nice -n 10 cargo build --release --bins
fi
command -v wrk >/dev/null || { echo "soak: wrk is missing (apt-get install -y wrk)" >&2; exit 2; }
exec nice -n 5 python3 scripts/soak.py "$target/release/ringfront" "$target/release/ringfront-origin"
