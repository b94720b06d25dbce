#!/usr/bin/env bash
# Foundation check: ringfront (1 worker) vs an nginx proxy, small body,
# wrk -t1 -c64 -d10s, 3 alternating rounds; reports req/s, non-2xx responses
# and socket errors for each, then checks that ringfront holds no client
# connection after wrk exits. Exits non-zero when ringfront fails a check.
# Extra arguments go to bench.sh (e.g. --no-build, -d5s, -r5).
exec "$(dirname "${BASH_SOURCE[0]}")/bench.sh" --quick "$@"
