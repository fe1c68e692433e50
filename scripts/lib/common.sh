# Shared helpers for the tee-stubdom scripts. Source it; do not run it.
# shellcheck shell=bash

TSD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TSD_CACHE=${TSD_CACHE:-$TSD_ROOT/.cache}   # downloads and extracted sources (ignored by git)
TSD_OUT=${TSD_OUT:-$TSD_ROOT/out}          # build products (ignored by git)
TSD_PINS=$TSD_ROOT/scripts/pins.lock
# Debian's python: a pyenv python on PATH lacks the modules the builds need (elftools, cryptography).
TSD_PY=/usr/bin/python3
# The pristine Xen tree (scripts/setup); the xenif layout tests compile its public headers.
TSD_XEN_SRC=${TSD_XEN_SRC:-$TSD_CACHE/src/xen}
export TSD_ROOT TSD_CACHE TSD_OUT TSD_XEN_SRC

_tsd_t0=$(date +%s)
step() { printf '[%4ds] == %s\n' "$(( $(date +%s) - _tsd_t0 ))" "$*" >&2; }
info() { printf '         %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || die "'$c' is missing; run scripts/setup first"
    done
}

# Run a command quietly, keeping its output in a log; on failure show the log's tail and stop.
run_logged() {
    local log=$1; shift
    mkdir -p "$(dirname "$log")"
    if ! "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "'$*' failed; full log: $log"
    fi
}

# sha256 of a file (only the hex digest).
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# A stamp is a file holding a hash of the inputs of a build step; a step reruns only when it changes.
stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
