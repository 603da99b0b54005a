"""``katulib-report``: a plain-text summary of a planned observation."""

import argparse
import sys

from katuilib import ObservationSession


def summarise(session):
    lines = [f"subarray {session.subarray}: {len(session.receptors)} receptors"]
    for target, duration in session.plan:
        lines.append(f"  {target.name:<16} {duration:8.1f} s")
    lines.append(f"  total (with slews) {session.estimated_duration():8.1f} s")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="katulib-report", description="Summarise an observation plan.")
    parser.add_argument("targets", nargs="+", help="'description|seconds'")
    opts = parser.parse_args(argv)
    session = ObservationSession(1, ["m000"])
    for spec in opts.targets:
        description, _, seconds = spec.rpartition("|")
        session.track(description, float(seconds))
    print(summarise(session))
    return 0


if __name__ == "__main__":
    sys.exit(main())
