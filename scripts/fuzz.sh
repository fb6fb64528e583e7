#!/usr/bin/env bash
# The fuzz targets (fuzz/, its own workspace) on the stable toolchain: replays every input
# that once crashed a target (fuzz/regressions/<target>/*), then runs each target for a
# while from its corpus (fuzz/corpus/<target>, seeded from fuzz/seeds/<target>). Exits
# non-zero if any input crashes, so CI fails on a finding; the crashing input is left in
# fuzz/artifacts/<target>/ (add it to fuzz/regressions/ with the fix).
#
#   scripts/fuzz.sh                 # every target, TIDECAST_FUZZ_SECONDS each (default 20)
#   scripts/fuzz.sh icecast_head    # one target
#
# cargo-fuzz needs nightly-only rustc flags (sanitizer, coverage); RUSTC_BOOTSTRAP=1 lets
# the stable toolchain rustup installed take them, so CI needs no nightly.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
require_cargo
# libFuzzer (libfuzzer-sys) is C++, built by the system's compiler.
apt_ensure g++

CARGO_FUZZ_VERSION=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    echo "==> installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

export RUSTC_BOOTSTRAP=1
seconds="${TIDECAST_FUZZ_SECONDS:-20}"
cd fuzz
# One build of every target (release, debug assertions and overflow checks on, ASan).
cargo fuzz build
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
failed=()
for t in "${targets[@]}"; do
    if [ -d "regressions/$t" ]; then
        echo "==> fuzz $t: replaying regressions/$t"
        # Each file is run once; a crash exits non-zero.
        cargo fuzz run "$t" regressions/"$t"/* -- -runs=1 || failed+=("$t (a regression)")
    fi
    mkdir -p "corpus/$t"
    if [ -d "seeds/$t" ]; then cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true; fi
    echo "==> fuzz $t: ${seconds} s"
    log="target/fuzz-$t.log"
    # -timeout: an input that takes over 10 s is a hang, and a finding.
    set +e
    cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1
    status=$?
    set -e
    grep -E '^(Done|stat::number_of_executed_units)' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$log"
        failed+=("$t")
    fi
done
if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzzing found crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzzing: ${#targets[@]} targets ran clean"
