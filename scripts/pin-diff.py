#!/usr/bin/env python3
"""Explain how two pinned requirement files differ, package by package.

    pin-diff.py A.txt B.txt [LABEL_A LABEL_B]

For every package pinned differently (or by only one side) it prints both versions and each
side's `# via` annotation: a package only one tool pins is usually pulled in by a marker or an
extra that the tools judged differently, and the `via` line names the parent to look at. A
version difference with the same parents is a tie the resolvers broke differently (both
satisfy every requirement), or a release published between the two runs.
"""

import re
import sys


def read(path):
    pins, via, current = {}, {}, None
    for line in open(path, encoding="utf-8"):
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^ \\;]+)", line)
        if match:
            current = re.sub(r"[-_.]+", "-", match.group(1)).lower()
            pins[current] = match.group(3)
            via[current] = []
            continue
        stripped = line.strip()
        if current and stripped.startswith("#"):
            text = stripped.lstrip("#").strip()
            if text.startswith("via "):
                text = text[4:]
            if text and text != "via":
                via[current].append(text)
    return pins, via


def main():
    a_path, b_path = sys.argv[1], sys.argv[2]
    a_label, b_label = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else ("A", "B")
    a, a_via = read(a_path)
    b, b_via = read(b_path)
    for name in sorted(set(a) | set(b)):
        if a.get(name) == b.get(name):
            continue
        left, right = a.get(name, "(not pinned)"), b.get(name, "(not pinned)")
        print(f"  {name}: {a_label} {left}, {b_label} {right}")
        if name not in a or name not in b:
            side, parents = (a_label, a_via[name]) if name in a else (b_label, b_via[name])
            print(f"    only {side} pins it, via {', '.join(parents) or '?'}: a marker or extra judged differently")
        else:
            pa, pb = ", ".join(a_via[name]) or "?", ", ".join(b_via[name]) or "?"
            print(f"    via: {a_label}: {pa}; {b_label}: {pb}")


if __name__ == "__main__":
    main()
