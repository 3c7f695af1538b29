#!/usr/bin/env python3
"""What `brood events` costs, measured on the real binary.

Runs `brood events --format json` twice, reading its output on a thread: once while the machine
does what it does anyway (idle), once while this script starts /bin/true at a steady rate (a
storm: each start is a fork, an exec and an exit). brood's CPU time comes from getrusage of the
brood process itself (wait4), so the storm's own cost is not counted; its peak memory from VmHWM. Also counts
the events brood printed and those it reported lost.

Usage: scripts/events-storm.py [-r RATE] [-t SECONDS] [-i IDLE_SECONDS] [-b BINARY]
Needs root (or CAP_NET_ADMIN) for the kernel's events; elsewhere it measures the scan fallback.
Python 3, standard library only.
"""

import argparse
import json
import os
import signal
import subprocess
import threading
import time


def read_events(stream, tally):
    for line in stream:
        tally["lines"] += 1
        if b'"kind":"dropped"' in line:
            tally["dropped"] += json.loads(line).get("count") or 0
        elif tally["lines"] == 1:
            tally["source"] = json.loads(line).get("source", "?")
            tally["ready"].set()


def peak_memory_kib(pid):
    """VmHWM: the peak resident memory of the process since it exec'd brood. (getrusage's
    ru_maxrss would count the copy of this script the child was before its exec.)"""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def storm(rate, seconds):
    """Starts /bin/true `rate` times a second for `seconds`; returns how many it started."""
    started, pending = 0, set()
    begin = time.monotonic()
    end = begin + seconds
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = int((now - begin) * rate) + 1
        while started < due:
            pending.add(os.posix_spawn("/bin/true", ["true"], os.environ))
            started += 1
        for pid in list(pending):
            if os.waitpid(pid, os.WNOHANG)[0]:
                pending.discard(pid)
        time.sleep(min(0.001, max(0.0, end - time.monotonic())))
    for pid in pending:
        os.waitpid(pid, 0)
    return started


def measure(binary, seconds, rate, startup_cpu=0.0):
    """brood's figures over `seconds` (a storm of `rate` starts a second, or none), less the
    CPU time `startup_cpu` its start (subscribing, the first scan) took."""
    brood = subprocess.Popen(
        [binary, "events", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    tally = {"lines": 0, "dropped": 0, "source": "?", "ready": threading.Event()}
    reader = threading.Thread(target=read_events, args=(brood.stdout, tally))
    reader.start()
    if not tally["ready"].wait(10):
        brood.kill()
        raise SystemExit("brood events printed nothing in 10 s")
    begin = time.monotonic()
    started = storm(rate, seconds) if rate else time.sleep(seconds) or 0
    elapsed = time.monotonic() - begin
    peak_kib = peak_memory_kib(brood.pid)
    brood.send_signal(signal.SIGINT)
    _, status, usage = os.wait4(brood.pid, 0)
    brood.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    total_cpu = usage.ru_utime + usage.ru_stime
    cpu = max(0.0, total_cpu - startup_cpu)
    return {
        "total_cpu": total_cpu,
        "source": tally["source"],
        "seconds": elapsed,
        "rate": started / elapsed,
        "cpu_ms_per_s": 1000 * cpu / elapsed,
        "cpu_percent": 100 * cpu / elapsed,
        "peak_rss_mib": peak_kib / 1024,
        "events_per_s": tally["lines"] / elapsed,
        "dropped": tally["dropped"],
        "status": brood.returncode,
    }


def storm_arguments(doc):
    """The options both storm scripts take: a storm's rate and length, an idle length, a binary."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("-r", "--rate", type=int, default=1000, help="starts a second (1000)")
    parser.add_argument("-t", "--seconds", type=float, default=10, help="storm length (10)")
    parser.add_argument("-i", "--idle", type=float, default=10, help="idle length (10)")
    parser.add_argument("-b", "--binary", default="target/release/brood")
    return parser.parse_args()


def main():
    args = storm_arguments(__doc__)
    # Started and stopped at once: what starting costs, taken off the other rows.
    startup = measure(args.binary, 0, 0)["total_cpu"]
    rows = [("idle", measure(args.binary, args.idle, 0, startup))]
    storm_row = measure(args.binary, args.seconds, args.rate, startup)
    rows.append((f"storm {args.rate}/s", storm_row))
    print(
        f"brood events ({rows[0][1]['source']} events), {os.cpu_count()} CPUs; "
        f"start-up {1000 * startup:.1f} ms CPU (not counted below)"
    )
    print("| phase | starts/s | events printed/s | brood CPU | peak RSS | lost |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, r in rows:
        print(
            f"| {name} | {r['rate']:.0f} | {r['events_per_s']:.0f} | "
            f"{r['cpu_ms_per_s']:.1f} ms/s ({r['cpu_percent']:.2f} %) | "
            f"{r['peak_rss_mib']:.1f} MiB | {r['dropped']} |"
        )
        if r["status"] != 0:
            raise SystemExit(f"brood events ended with status {r['status']}")


if __name__ == "__main__":
    main()
