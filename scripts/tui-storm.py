#!/usr/bin/env python3
"""What the TUI costs under a storm of process events, measured on the real binary.

Runs brood in a tmux session (150x40), once while the machine does what it does anyway (idle) and
once while this script starts /bin/true at a steady rate (each start is a fork, an exec and an
exit the TUI logs and shows). Reports brood's CPU time (utime + stime from /proc/PID/stat), its
peak memory (VmHWM) and how fast it answers a key meanwhile: `v` opens the full-screen log and
Esc closes it, timed from the key to the screen tmux shows.

Usage: scripts/tui-storm.py [-r RATE] [-t SECONDS] [-i IDLE_SECONDS] [-b BINARY]
Needs tmux; root (or Linux 6.6+) for the kernel's events. Python 3, standard library only.
"""

import importlib.util
import os
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SESSION = f"brood-storm-{os.getpid()}"


def events_storm():
    """The storm and peak-memory helpers of events-storm.py (one storm for both scripts)."""
    spec = importlib.util.spec_from_file_location("events_storm", os.path.join(HERE, "events-storm.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tmux(*args):
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def screen():
    return tmux("capture-pane", "-p", "-t", SESSION)


def wait_screen(ready, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ready(screen()):
            return True
        time.sleep(0.005)
    return False


def key_latency(rounds):
    """Seconds from a key to the screen it asks for, the slowest of `rounds` tries."""
    slowest = 0.0
    for _ in range(rounds):
        begin = time.monotonic()
        tmux("send-keys", "-t", SESSION, "v")
        if not wait_screen(lambda s: " event log ·" in s):
            raise SystemExit("the log did not open within 10 s")
        slowest = max(slowest, time.monotonic() - begin)
        begin = time.monotonic()
        tmux("send-keys", "-t", SESSION, "Escape")
        if not wait_screen(lambda s: "[this brood]" in s):
            raise SystemExit("the tree did not come back within 10 s")
        slowest = max(slowest, time.monotonic() - begin)
        time.sleep(0.2)
    return slowest


def phase(pid, seconds, rate, storm):
    """brood's figures over `seconds`, with `rate` starts a second (or none)."""
    before = cpu_seconds(pid)
    begin = time.monotonic()
    latency = {}
    probe = threading.Thread(target=lambda: latency.setdefault("s", key_latency(5)))
    probe.start()
    started = storm(rate, seconds) if rate else time.sleep(seconds) or 0
    probe.join()
    elapsed = time.monotonic() - begin
    cpu = cpu_seconds(pid) - before
    return {
        "rate": started / elapsed,
        "cpu_ms_per_s": 1000 * cpu / elapsed,
        "cpu_percent": 100 * cpu / elapsed,
        "latency_ms": 1000 * latency["s"],
    }


def main():
    helpers = events_storm()
    args = helpers.storm_arguments(__doc__)
    binary = os.path.abspath(args.binary)
    tmux("new-session", "-d", "-s", SESSION, "-x", "150", "-y", "40", binary)
    try:
        pid = int(tmux("list-panes", "-t", SESSION, "-F", "#{pane_pid}").split()[0])
        if not wait_screen(lambda s: "[this brood]" in s):
            raise SystemExit("brood did not draw its tree within 10 s")
        time.sleep(2)  # the first scans and the event source settle
        rows = [("idle", phase(pid, args.idle, 0, helpers.storm))]
        rows.append((f"storm {args.rate}/s", phase(pid, args.seconds, args.rate, helpers.storm)))
        peak = helpers.peak_memory_kib(pid) / 1024
        print(f"brood TUI, {os.cpu_count()} CPUs, peak RSS {peak:.1f} MiB over both phases")
        print("| phase | starts/s | brood CPU | slowest key → screen |")
        print("| --- | --- | --- | --- |")
        for name, r in rows:
            print(
                f"| {name} | {r['rate']:.0f} | {r['cpu_ms_per_s']:.1f} ms/s "
                f"({r['cpu_percent']:.1f} %) | {r['latency_ms']:.0f} ms |"
            )
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)


if __name__ == "__main__":
    main()
