"""``kat-observe``: plan (and dry-run) an observation from a target list."""

import argparse
import sys

from katuilib import ObservationSession, SessionError


def read_targets(lines):
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        description, _, duration = line.rpartition("|")
        if not description:
            raise SessionError(f"line {number}: expected 'target description | seconds'")
        yield description.strip(), float(duration)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kat-observe", description="Plan an observation.")
    parser.add_argument("targets", type=argparse.FileType("r"), help="file of 'description | seconds' lines")
    parser.add_argument("--subarray", type=int, default=1)
    parser.add_argument("--receptors", default="m000,m001")
    opts = parser.parse_args(argv)
    session = ObservationSession(opts.subarray, opts.receptors.split(","))
    try:
        for description, duration in read_targets(opts.targets):
            session.track(description, duration)
        observed = session.run()
    except (SessionError, ValueError) as err:
        print(f"kat-observe: {err}", file=sys.stderr)
        return 1
    print(f"observed {len(observed)} targets in an estimated {session.estimated_duration():.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
