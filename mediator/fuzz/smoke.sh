#!/usr/bin/env bash
# Smoke test of the fuzz targets: builds every target, replays its committed
# seed corpus (corpus/<target>/) once, then fuzzes it for SMOKE_SECONDS
# (default 10) from a scratch copy of the seeds, so the repository is not
# modified. Fails on a build error, a crash or an invariant failure.
#
#   mediator/fuzz/smoke.sh [target...]      # default: every target
#
# Needs cargo-fuzz (cargo install cargo-fuzz --locked). The stable toolchain
# needs RUSTC_BOOTSTRAP=1 for the sanitizer-coverage flags; set here.
# Sanitizer: none (the mediator and stubdom crates forbid unsafe code, so
# AddressSanitizer adds nothing over Rust's bounds checks; overflow checks
# and debug assertions stay on).
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
secs=${SMOKE_SECONDS:-10}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
start=$(date +%s)
nice -n 19 cargo fuzz build -s none
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t"
    cp corpus/"$t"/* "$scratch/$t/"
    log="$scratch/$t.log"
    if ! nice -n 19 cargo fuzz run -s none "$t" "$scratch/$t" -- \
        -max_total_time="$secs" -max_len=4200 -timeout=30 \
        -artifact_prefix="$scratch/" >"$log" 2>&1; then
        echo "FAIL $t"; tail -n 40 "$log"; exit 1
    fi
    echo "ok   $t: $(grep -Eo '^Done [0-9]+ runs' "$log" | cut -d' ' -f2) runs, $(grep -Eo 'cov: [0-9]+' "$log" | tail -n1)"
done
echo "fuzz smoke: ${#targets[@]} targets in $(( $(date +%s) - start )) s"
