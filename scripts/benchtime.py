#!/usr/bin/env python3
"""Time commands side by side: median wall time over N runs and peak memory (max RSS).

    benchtime.py [--runs N] [--warmup N] [--before SHELL] [--scenario NAME] [--json FILE]
                 LABEL=COMMAND [LABEL=COMMAND ...]
    benchtime.py note --json FILE KEY VALUE      # record a fact (a tool's version, agreement)

--before runs (untimed) before every run of every command: `--before 'rm -rf cache'` times
cold-cache runs.

Each COMMAND is run with `sh -c 'exec COMMAND'` (so the measured process is the command itself),
stdout discarded. Peak memory is measured in one more run under GNU time (`/usr/bin/time -f %M`):
a process started from this Python inherits Python's own memory high-water mark, which would put
a floor of ~15 MB under every figure. Prints a table with each command's median time and peak
memory as multiples of the first command's (2.50x the time: the first is 2.5 times faster).

With --json, the figures are added to FILE (a JSON document: date, machine, then one entry per
scenario), so runs on different days or machines can be compared.
Exits non-zero if any command fails, so a broken peer never passes for a fast one.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

GNU_TIME = "/usr/bin/time"


def fail(command, status):
    sys.exit(f"benchtime: `{command}` failed with status {status}")


def timed(command, runs, warmup, before):
    times = []
    for i in range(warmup + runs):
        if before:
            subprocess.run(["sh", "-c", before], check=True)
        start = time.perf_counter()
        proc = subprocess.Popen(["sh", "-c", "exec " + command], stdout=subprocess.DEVNULL)
        _, status, _ = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) not in (0, 1):
            fail(command, os.waitstatus_to_exitcode(status))
        if i >= warmup:
            times.append(elapsed)
    return times


def peak_memory_mb(command, before):
    """Max RSS of one run, in MB, as GNU time reports it for the command alone."""
    if before:
        subprocess.run(["sh", "-c", before], check=True)
    with tempfile.NamedTemporaryFile("r") as out:
        status = subprocess.run(
            [GNU_TIME, "-f", "%M", "-o", out.name, "sh", "-c", "exec " + command],
            stdout=subprocess.DEVNULL,
        ).returncode
        if status not in (0, 1):
            fail(command, status)
        return int(out.read().split()[-1]) / 1024.0


def machine():
    return {
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(),
            "notes": {},
            "scenarios": [],
        }


def save(path, document):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(document, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)


def note(argv):
    parser = argparse.ArgumentParser(prog="benchtime.py note")
    parser.add_argument("--json", required=True)
    parser.add_argument("key")
    parser.add_argument("value")
    opts = parser.parse_args(argv)
    document = load(opts.json)
    document["notes"][opts.key] = opts.value
    save(opts.json, document)


def main():
    if sys.argv[1:2] == ["note"]:
        return note(sys.argv[2:])
    if not os.access(GNU_TIME, os.X_OK):
        sys.exit("benchtime: needs GNU time (apt-get install time) to measure peak memory")
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--before", default=None)
    parser.add_argument("--scenario", default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("commands", nargs="+", metavar="LABEL=COMMAND")
    opts = parser.parse_args()
    results = []
    for spec in opts.commands:
        label, _, command = spec.partition("=")
        times = timed(command, opts.runs, opts.warmup, opts.before)
        rss = peak_memory_mb(command, opts.before)
        results.append(
            {
                "label": label,
                "command": command,
                "runs": opts.runs,
                "median_s": statistics.median(times),
                "best_s": min(times),
                "peak_rss_mb": round(rss, 1),
            }
        )
    first = results[0]
    print(f"{'command':<28} {'median':>10} {'best':>10} {'peak RSS':>10}   against {first['label']}")
    for r in results:
        r["time_vs_first"] = round(r["median_s"] / first["median_s"], 2)
        r["memory_vs_first"] = round(r["peak_rss_mb"] / first["peak_rss_mb"], 2)
        print(
            f"{r['label']:<28} {r['median_s'] * 1000:>8.1f}ms {r['best_s'] * 1000:>8.1f}ms "
            f"{r['peak_rss_mb']:>8.1f}MB   {r['time_vs_first']:.2f}x the time, "
            f"{r['memory_vs_first']:.2f}x the memory"
        )
    if opts.json:
        document = load(opts.json)
        document["scenarios"].append({"scenario": opts.scenario, "results": results})
        save(opts.json, document)


if __name__ == "__main__":
    main()
