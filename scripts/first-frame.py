#!/usr/bin/env python3
"""How long brood takes from start to its first frame with the process tree on it.

    scripts/first-frame.py [-n PROCESSES] [-r RUNS] [BROOD_BINARY]

Starts N extra sleeping processes, then runs brood R times in a 200x50 pseudo-terminal and
times each run from the fork to the first output that holds brood's own PID (its row in the tree,
which is where the view opens).
Prints the fastest, median and slowest. Every process it starts is gone when it ends.
"""
import argparse
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("-n", type=int, default=2000, help="extra sleeping processes (2000)")
parser.add_argument("-r", type=int, default=15, help="runs (15)")
parser.add_argument("brood", nargs="?", help="binary (default: target/release/brood)")
args = parser.parse_args()

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
brood = args.brood
if brood is None:
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=root, check=True)
    brood = os.path.join(root, "target", "release", "brood")
sleepers = [subprocess.Popen(["sleep", "3600"]) for _ in range(args.n)]
try:
    times = []
    for _ in range(args.r):
        started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
            os.execv(brood, [brood])
        marker, seen = str(pid).encode(), b""
        while marker not in seen:
            ready, _, _ = select.select([fd], [], [], 10)
            if not ready:
                sys.exit("first-frame: no tree within 10 s")
            seen += os.read(fd, 65536)
        times.append((time.perf_counter() - started) * 1000)
        os.kill(pid, signal.SIGTERM)
        try:
            while os.read(fd, 65536):
                pass
        except OSError:
            pass  # EIO: brood closed the terminal
        os.waitpid(pid, 0)
        time.sleep(0.3)
    times.sort()
    total = sum(1 for name in os.listdir("/proc") if name.isdigit())
    print(f"first-frame: {args.n} extra sleeping processes ({total} in /proc), {args.r} runs")
    print(f"first tree frame: fastest {times[0]:.1f} ms, median {times[len(times) // 2]:.1f} ms, "
          f"slowest {times[-1]:.1f} ms")
finally:
    for sleeper in sleepers:
        sleeper.kill()
    for sleeper in sleepers:
        sleeper.wait()
