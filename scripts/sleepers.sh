# Shared by the shell measuring scripts (sourced, not run): the brood binary to measure, and
# the N sleeping processes a measurement runs among.

# brood_binary ROOT [BINARY]: the path of BINARY, or of a release build made now.
brood_binary() {
    local root=$1 binary=${2:-}
    if [[ -z $binary ]]; then
        (cd "$root" && cargo build --release --quiet)
        binary=$root/target/release/brood
    fi
    # The tools may run in a scratch directory: a relative path would name nothing there.
    realpath "$binary"
}

sleepers=()

# start_sleepers N: N processes sleeping an hour, listed in `sleepers`.
start_sleepers() {
    local i
    for ((i = 0; i < $1; i++)); do
        sleep 3600 &
        sleepers+=($!)
    done
}

# stop_sleepers: they are killed and reaped (for the script's EXIT trap).
stop_sleepers() {
    if ((${#sleepers[@]})); then
        kill "${sleepers[@]}" 2>/dev/null || true
        wait "${sleepers[@]}" 2>/dev/null || true
    fi
}
