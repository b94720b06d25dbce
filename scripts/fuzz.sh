#!/usr/bin/env bash
# Fuzz the HTTP/1.1 codec: the request parser, the response parser and the
# chunked decoder, each for a bounded time (not part of `cargo test`).
#
#   scripts/fuzz.sh                      # every target, 60 s each
#   FUZZ_SECONDS=300 scripts/fuzz.sh chunked
#
# Needs a nightly toolchain and cargo-fuzz (`rustup toolchain install
# nightly && cargo install cargo-fuzz`). Without them it says so and
# replays the seeds on stable instead (fuzz/tests/replay.rs).
# Seeds are in fuzz/seeds/<target> (the inputs of tests/hardening.rs, plus
# valid messages); the working corpus grows in fuzz/corpus/<target> and
# crashes land in fuzz/artifacts/<target> (both git-ignored). A crash stops
# the script with a non-zero status; fix it and add a regression test.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

secs=${FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(request response chunked)

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: nightly and cargo-fuzz are needed to fuzz; replaying seeds on stable" >&2
    exec cargo test --manifest-path Cargo.toml
fi

summary=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    cp -n "seeds/$t/"* "corpus/$t/" 2>/dev/null || true
    log=$(mktemp)
    echo "== $t: fuzzing for ${secs}s"
    start=$(date +%s)
    if ! cargo +nightly fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "== $t: CRASH (see fuzz/artifacts/$t)" >&2
        exit 1
    fi
    took=$(($(date +%s) - start))
    runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*' || echo '?')
    summary+=("$t: ${runs} runs in ${secs}s of fuzzing (${took}s with build), coverage ${cov}, corpus $(ls "corpus/$t" | wc -l) inputs, no crash")
    rm -f "$log"
done
printf '%s\n' "${summary[@]}"
