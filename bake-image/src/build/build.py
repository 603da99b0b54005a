"""Build one sdist into a wheel, inside the build root (run by sandbox.sh under chroot).

/build/in/build.json names the sdist (in /build/in) and pip's source arguments. The sdist is
unpacked at /build/src (always that path, so a C extension's debug information is the same on
every build), pip (from the base's own ensurepip) builds it in an isolated build environment
whose build requirements come from the bake's sources only, and the wheel lands in /build/out.
"""

import json
import os
import subprocess
import sys
import tarfile
import zipfile

IN = "/build/in"
SRC = "/build/src"
UNPACK = "/build/unpack"


def safe(name):
    parts = name.replace("\\", "/").split("/")
    return not name.startswith("/") and ".." not in parts


def unpack(sdist):
    path = os.path.join(IN, sdist)
    os.makedirs(UNPACK)
    if sdist.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            bad = [n for n in archive.namelist() if not safe(n)]
            if bad:
                sys.exit(f"{sdist}: entry {bad[0]!r} would land outside the source folder")
            archive.extractall(UNPACK)
    else:
        with tarfile.open(path) as archive:
            members = archive.getmembers()
            for member in members:
                if not safe(member.name) or (member.issym() or member.islnk()) and not safe(member.linkname):
                    sys.exit(f"{sdist}: entry {member.name!r} would land outside the source folder")
                if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
                    sys.exit(f"{sdist}: entry {member.name!r} is not a file, folder or link")
            archive.extractall(UNPACK, members=members)
    tops = os.listdir(UNPACK)
    if len(tops) != 1 or not os.path.isdir(os.path.join(UNPACK, tops[0])):
        sys.exit(f"{sdist}: expected one top folder (NAME-VERSION/), found {sorted(tops)}")
    os.rename(os.path.join(UNPACK, tops[0]), SRC)


def main():
    with open(os.path.join(IN, "build.json")) as f:
        job = json.load(f)
    unpack(job["sdist"])
    subprocess.run([sys.executable, "-m", "venv", "/build/venv"], check=True)
    pip = [
        "/build/venv/bin/python", "-m", "pip", "wheel", "--no-deps", "--no-cache-dir",
        "--disable-pip-version-check", "--progress-bar", "off", "--wheel-dir", "/build/out",
    ]
    result = subprocess.run(pip + job["pip"] + [SRC])
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
