#!/usr/bin/env bash
# What brood costs a machine while it runs: CPU per refresh and peak memory, with N extra sleeping
# processes, measured on the real binary in a tmux session; htop and btop too, when installed.
#
#   scripts/bench-refresh.sh [-n PROCESSES] [-t SECONDS] [-b BROOD_BINARY] [-i]
#
# -i also measures brood with its IPC panel open (descriptors read at every scan, not every fifth).
# CPU is utime+stime from /proc/PID/stat over the measured window (after a warm-up, so the first
# scan's command-line reads are not counted), divided by the refreshes in it (1 s interval).
# Peak memory is VmHWM. Every process and tmux session the script makes is gone when it ends.
set -euo pipefail

procs=2000
secs=30
warmup=3
brood=""
ipc=false
while getopts "n:t:b:ih" opt; do
    case $opt in
        n) procs=$OPTARG ;;
        t) secs=$OPTARG ;;
        b) brood=$OPTARG ;;
        i) ipc=true ;;
        *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/sleepers.sh
source "$root/scripts/sleepers.sh"
brood=$(brood_binary "$root" "$brood")
command -v tmux >/dev/null || { echo "bench-refresh: needs tmux" >&2; exit 2; }

scratch=$(mktemp -d)
tools=(brood brood-ipc htop btop)
cleanup() {
    for tool in "${tools[@]}"; do
        tmux -L "bench-refresh-$$" kill-session -t "bench-refresh-$$-$tool" 2>/dev/null || true
    done
    stop_sleepers
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_sleepers "$procs"

clk_tck=$(getconf CLK_TCK)

cpu_ticks() { # utime + stime of a process (fields 14 and 15; comm may hold spaces, so cut at ')')
    local stat
    stat=$(<"/proc/$1/stat")
    read -r -a f <<<"${stat##*) }"
    echo $((f[11] + f[12]))
}

hwm_kib() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# measure NAME KEYS COMMAND…: runs it in a detached tmux session, types KEYS into it (if any) once
# it has started, and prints "name ms_per_refresh hwm_kib".
measure() {
    local name=$1 keys=$2
    shift 2
    local session="bench-refresh-$$-$name" # cleanup knows these names
    # `exec` so the pane's process is the tool itself; its config goes to the scratch directory.
    tmux -L "bench-refresh-$$" new-session -d -s "$session" -x 200 -y 50 \
        "cd $scratch && exec env XDG_CONFIG_HOME=$scratch/config HOME=$scratch LANG=C.UTF-8 TERM=xterm-256color $*"
    local pid
    pid=$(tmux -L "bench-refresh-$$" display-message -p -t "$session" '#{pane_pid}' 2>/dev/null || true)
    sleep 1
    [[ -n $keys ]] && tmux -L "bench-refresh-$$" send-keys -t "$session" "$keys"
    sleep "$warmup"
    if [[ -z $pid || ! -e /proc/$pid ]]; then
        echo "bench-refresh: $name exited at start" >&2
        return 1
    fi
    local before after
    before=$(cpu_ticks "$pid")
    sleep "$secs"
    after=$(cpu_ticks "$pid")
    local hwm
    hwm=$(hwm_kib "$pid")
    tmux -L "bench-refresh-$$" kill-session -t "$session"
    awk -v n="$name" -v d=$((after - before)) -v hz="$clk_tck" -v s="$secs" -v h="$hwm" \
        'BEGIN { printf "%s %.2f %d\n", n, d * 1000 / hz / s, h }'
}

mkdir -p "$scratch/config/btop"
# btop refreshes every 2 s by default; make it 1 s like the others.
printf 'update_ms = 1000\n' >"$scratch/config/btop/btop.conf"

results=()
line=$(measure brood "" "$brood" --interval 1) || exit 1
results+=("$line")
if $ipc; then
    line=$(measure brood-ipc i "$brood" --interval 1) || exit 1
    results+=("$line")
fi
if command -v htop >/dev/null && line=$(measure htop "" htop --delay 10); then
    results+=("$line")
fi
if command -v btop >/dev/null && line=$(measure btop "" btop --utf-force); then
    results+=("$line")
fi

total=$(find /proc -maxdepth 1 -name '[0-9]*' | wc -l)
echo "bench-refresh: $procs extra sleeping processes ($total in /proc), ${secs} s at 1 s refresh, $(nproc) cores"
printf '%-9s %16s %12s %14s\n' tool "CPU ms/refresh" "% of a core" "peak RSS MiB"
for line in "${results[@]}"; do
    read -r name ms hwm <<<"$line"
    awk -v n="$name" -v ms="$ms" -v h="$hwm" \
        'BEGIN { printf "%-9s %16.2f %12.2f %14.1f\n", n, ms, ms / 10, h / 1024 }'
done
read -r _ brood_ms brood_hwm <<<"${results[0]}"
for line in "${results[@]:1}"; do
    read -r name ms hwm <<<"$line"
    awk -v n="$name" -v bm="$brood_ms" -v m="$ms" -v bh="$brood_hwm" -v h="$hwm" \
        'BEGIN { printf "brood / %s: CPU %.2fx, peak RSS %.2fx\n", n, (m > 0 ? bm / m : 0), (h > 0 ? bh / h : 0) }'
done
