#!/usr/bin/env python3
"""Time commands side by side: median wall time over N runs and peak memory (max RSS).

    benchtime.py [--runs N] [--warmup N] [--before SHELL] LABEL=COMMAND [LABEL=COMMAND ...]

--before runs (untimed) before every run of every command: `--before 'rm -rf cache'` times
cold-cache runs.

Each COMMAND is run with `sh -c 'exec COMMAND'` (so the measured process is the command itself),
stdout discarded. Prints a table with how many times faster each command is than the first one
(median against median).
Exits non-zero if any command fails, so a broken peer never passes for a fast one.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time


def measure(command, runs, warmup, before):
    times, peak = [], 0
    for i in range(warmup + runs):
        if before:
            subprocess.run(["sh", "-c", before], check=True)
        start = time.perf_counter()
        proc = subprocess.Popen(["sh", "-c", "exec " + command], stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) not in (0, 1):
            sys.exit(f"benchtime: `{command}` failed with status {os.waitstatus_to_exitcode(status)}")
        if i >= warmup:
            times.append(elapsed)
            peak = max(peak, usage.ru_maxrss)
    return statistics.median(times), min(times), peak / 1024.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--before", default=None)
    parser.add_argument("commands", nargs="+", metavar="LABEL=COMMAND")
    opts = parser.parse_args()
    results = []
    for spec in opts.commands:
        label, _, command = spec.partition("=")
        median, best, rss = measure(command, opts.runs, opts.warmup, opts.before)
        results.append((label, median, best, rss))
    base = results[0][1]
    print(f"{'command':<28} {'median':>10} {'best':>10} {'peak RSS':>10}   speed-up vs {results[0][0]}")
    for label, median, best, rss in results:
        print(f"{label:<28} {median * 1000:>8.1f}ms {best * 1000:>8.1f}ms {rss:>8.1f}MB   {base / median:.1f}x")


if __name__ == "__main__":
    main()
