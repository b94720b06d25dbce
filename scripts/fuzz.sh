#!/usr/bin/env bash
# Coverage-guided fuzzing of ringfront's parsers with libFuzzer, on the
# stable toolchain (not part of `cargo test`).
#
#   scripts/fuzz.sh                          # every target, 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh chunked # one target, 10 minutes
#   scripts/fuzz.sh --list                   # the targets
#
# Why no nightly and no cargo-fuzz: cargo-fuzz is a wrapper that builds the
# targets with rustc's SanitizerCoverage flags and links libFuzzer through
# the libfuzzer-sys crate. Those flags (-Cpasses=sancov-module and the
# -Cllvm-args below) are stable; only the sanitizers (-Zsanitizer) need
# nightly, and the code fuzzed here is safe Rust, where debug assertions
# and overflow checks (profile `fuzz` in fuzz/Cargo.toml) catch what a
# sanitizer would. So this script passes the flags itself and needs only
# cargo and a C++ compiler (libfuzzer-sys compiles libFuzzer); it installs
# g++ with apt-get when there is none, and fails loudly when it cannot
# build or run a fuzzer. Replaying the seeds without fuzzing is
# `cargo test --manifest-path fuzz/Cargo.toml` (fuzz/tests/replay.rs).
#
# Seeds are in fuzz/seeds/<target> (committed), dictionaries in
# fuzz/dicts/<target>.dict; the working corpus grows in fuzz/corpus/<target>,
# crashes land in fuzz/artifacts/<target>, logs in fuzz/logs (all
# git-ignored). A crash stops the script with a non-zero status; fix it and
# add a regression test. Builds go to $FUZZ_TARGET_DIR (default
# fuzz/target), apart from the main build: the instrumented objects differ.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

all=(request response chunked condition ini json_conf proxy_protocol h2_request)
if [ "${1:-}" = --list ]; then
    printf '%s\n' "${all[@]}"
    exit 0
fi
secs=${FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

die() {
    echo "fuzz.sh: $*" >&2
    exit 2
}

command -v cargo >/dev/null || die "cargo is not installed"
if ! command -v c++ >/dev/null; then
    echo "fuzz.sh: no C++ compiler (libFuzzer is C++); installing g++" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++; } >&2 ||
        die "cannot install g++; install a C++ compiler"
fi

triple=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$PWD/target}
# What cargo-fuzz passes (with --sanitizer none), all stable: edge coverage
# with 8-bit counters and a PC table (libFuzzer's cov:/ft:), comparison
# tracing (so it learns the bytes a parser compares against), stack depth.
# --target keeps the flags off build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth \
--cfg fuzzing ${FUZZ_RUSTFLAGS:-}"
bins=()
for t in "${targets[@]}"; do
    [ -f "fuzz_targets/$t.rs" ] || die "no target $t (see --list)"
    bins+=(--bin "$t")
done
echo "== building ${targets[*]} (stable, SanitizerCoverage, profile fuzz)"
cargo build --profile fuzz --target "$triple" "${bins[@]}" ||
    die "the fuzz targets do not build"
bindir=$CARGO_TARGET_DIR/$triple/fuzz

summary=()
mkdir -p logs
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    cp -n "seeds/$t/"* "corpus/$t/" 2>/dev/null || true
    dict=()
    [ -f "dicts/$t.dict" ] && dict=(-dict="dicts/$t.dict")
    log=logs/$t.log
    echo "== $t: fuzzing for ${secs}s (log: fuzz/$log)"
    status=0
    "$bindir/$t" "corpus/$t" "${dict[@]}" -artifact_prefix="artifacts/$t/" \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    if [ $status -ne 0 ]; then
        tail -n 40 "$log"
        echo "== $t: CRASH (status $status; input in fuzz/artifacts/$t)" >&2
        exit 1
    fi
    grep -q '^Done [0-9]* runs' "$log" || die "$t: libFuzzer did not run (see fuzz/$log)"
    runs=$(grep -o '^Done [0-9]* runs' "$log" | grep -o '[0-9]*')
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')
    ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')
    execs=$(grep -o 'exec/s: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')
    summary+=("$t: ${secs}s, ${runs} runs (${execs}/s), cov ${cov}, ft ${ft}, corpus $(ls "corpus/$t" | wc -l) inputs, no crash")
done
printf '%s\n' "${summary[@]}"
