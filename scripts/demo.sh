#!/usr/bin/env bash
# Build ringfront, start the small demo origin on 127.0.0.1:8181 and
# ringfront on the default conf/ (HTTP :8080, HTTPS :8443 with a test
# example.org certificate, monitor :8421), show requests going through, then keep running until Ctrl-C. Everything it starts is
# stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --bins
bin="${CARGO_TARGET_DIR:-target}/release"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$bin/ringfront-origin" 127.0.0.1:8181 demo-origin &
pids+=($!)
"$bin/ringfront" -c conf &
pids+=($!)

for _ in $(seq 1 50); do
    curl -s -o /dev/null http://127.0.0.1:8080/ && break
    sleep 0.1
done

echo
echo "== curl -i http://127.0.0.1:8080/hello"
curl -sS -i http://127.0.0.1:8080/hello
echo
echo "== curl -sk https://example.org:8443/hello (resolved to 127.0.0.1; a test certificate, hence -k; HTTP/2 by ALPN, as BFE's sample rule offers it)"
curl -sS -k -i --resolve example.org:8443:127.0.0.1 https://example.org:8443/hello
echo
echo "== BFE's sample module rules (conf/mod_*/): a header rule, a redirect, a rewrite, a block"
curl -sS -i http://127.0.0.1:8080/header/x | grep -i '^x-proxied-by'
curl -sS -i http://127.0.0.1:8080/redirect | grep -iE '^(HTTP|location)'
curl -sS http://127.0.0.1:8080/rewrite/a
curl -sS -i http://127.0.0.1:8080/limit || echo "(/limit: connection closed by mod_block)"
echo
echo "== access log (mod_access, BFE's sample template): tail -n 2 log/access.log"
sleep 0.5
tail -n 2 log/access.log
echo
echo "== counters: curl 'http://127.0.0.1:8421/monitor/ringfront_state?format=kv'"
curl -sS 'http://127.0.0.1:8421/monitor/ringfront_state?format=kv' | grep -E '^(workers|req_total|resp_2xx|conn_active):'
echo
if [ -t 0 ] && [ "${CI:-}" != "true" ]; then
    echo "ringfront is running on :8080 and :8443 (Ctrl-C stops it and the origin)."
    wait "${pids[1]}"
fi
