# Private apt states for downloading Debian packages and sources of other suites and architectures.
# The host's own apt state is never touched: nothing is installed from these suites.
# shellcheck shell=bash

# debapt_init NAME ARCH TYPES SUITE...  -> sets DEBAPT (array of apt options) for that state
debapt_init() {
    local name=$1 arch=$2 types=$3; shift 3
    local d=$TSD_CACHE/apt/$name
    mkdir -p "$d/sources.d" "$d/lists/partial" "$d/archives/partial" "$d/prefs.d"
    : > "$d/status"
    "$TSD_ROOT/scripts/lib/apt-sources.py" "$types" "$@" > "$d/sources.d/tsd.sources.new" ||
        die "cannot derive an apt source from /etc/apt"
    mv "$d/sources.d/tsd.sources.new" "$d/sources.d/tsd.sources"
    DEBAPT=(-q -o "Dir::State=$d" -o "Dir::State::Lists=$d/lists" -o "Dir::State::status=$d/status"
        -o "Dir::Cache=$d" -o "Dir::Cache::archives=$d/archives" -o "Dir::Etc::SourceList=/dev/null"
        -o "Dir::Etc::SourceParts=$d/sources.d" -o "Dir::Etc::Preferences=/dev/null"
        -o "Dir::Etc::PreferencesParts=$d/prefs.d"
        -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch"
        -o "Acquire::Check-Valid-Until=false" -o "Acquire::Languages=none"
        -o "APT::Get::AllowUnauthenticated=false" -o "Debug::NoLocking=1")
    DEBAPT_DIR=$d
}

# debapt_update NAME: refresh the package lists of a private state at most once per setup run.
debapt_update() {
    local d=$TSD_CACHE/apt/$1
    if [ ! -f "$d/updated" ] || [ -n "${TSD_FORCE_UPDATE:-}" ] ||
        [ "$(find "$d/updated" -mmin +720 2>/dev/null)" ]; then
        info "apt update ($1)"
        run_logged "$d/update.log" apt-get "${DEBAPT[@]}" update
        touch "$d/updated"
    fi
}
