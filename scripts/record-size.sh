#!/usr/bin/env bash
# What a recording costs on a real machine: bytes an hour and brood's CPU, with N extra sleeping
# processes, first quiet, then busy: a process starting RATE short children a second (each a
# fork, an exec of `sleep 0.2`, an exit and a reap, the life of a busy lab lesson's processes).
#
#   scripts/record-size.sh [-n PROCESSES] [-t SECONDS] [-r STARTS_PER_SECOND] [-b BROOD_BINARY]
#
# Each run is `brood record --duration SECONDS` at the default 1 s interval; bytes an hour are its
# file's size scaled from SECONDS. CPU is brood's user+system time (bash's `times`) over the run,
# start-up and first scan included. Every process and file the script makes is gone when it ends.
set -euo pipefail

procs=2000
secs=120
rate=10
brood=""
while getopts "n:t:r:b:h" opt; do
    case $opt in
        n) procs=$OPTARG ;;
        t) secs=$OPTARG ;;
        r) rate=$OPTARG ;;
        b) brood=$OPTARG ;;
        *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/sleepers.sh
source "$root/scripts/sleepers.sh"
brood=$(brood_binary "$root" "$brood")

scratch=$(mktemp -d)
busy=""
cleanup() {
    if [[ -n $busy ]]; then
        kill "$busy" 2>/dev/null || true
        wait "$busy" 2>/dev/null || true
    fi
    stop_sleepers
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_sleepers "$procs"

# record NAME: one run; prints "name bytes_per_hour cpu_seconds" and brood's last line.
record() {
    local name=$1 file=$scratch/$1.brood
    local cpu
    cpu=$( (
        "$brood" record -o "$file" --duration "$secs" 2>"$scratch/$name.log"
        times
    ) | tail -1)
    # `times` prints the children's "0m1.230s 0m0.450s": user, then system.
    local user=${cpu%% *} system=${cpu##* }
    local seconds
    seconds=$(awk -v u="$user" -v s="$system" 'BEGIN {
        split(u, a, "m"); split(s, b, "m"); printf "%.2f", a[1] * 60 + a[2] + b[1] * 60 + b[2] }')
    local bytes
    bytes=$(stat -c %s "$file")
    awk -v n="$name" -v b="$bytes" -v t="$secs" -v c="$seconds" 'BEGIN {
        printf "%-6s %8.2f MiB/hour  (%d bytes in %d s)  brood CPU %.2f s: %.1f ms per scan\n",
            n, b * 3600 / t / 1048576, b, t, c, c * 1000 / t }'
    tail -1 "$scratch/$name.log"
}

echo "brood record, $procs extra sleeping processes, $secs s each:"
record quiet
(
    while :; do
        for ((k = 0; k < rate; k++)); do
            sleep 0.2 &
        done
        sleep 1
        wait
    done
) &
busy=$!
record busy
