#!/bin/sh
# Build one sdist into a wheel inside the build root, never changing it: run under
# `unshare --mount`, so every mount made here goes with this process, whatever happens.
#   sandbox.sh BUILD_ROOT WORK SOURCE...
# The build root is the lower layer of an overlay whose upper layer is WORK/upper: what the build
# writes (the venv, the unpacked sdist, the wheel) lands there. WORK/in (the sdist, build.py and
# its arguments) is copied to /build/in; each SOURCE folder (a find-links folder or a file index)
# is bound read-only at /build/sources/N. The wheel ends in WORK/upper/build/out.
set -eu
root=$1 work=$2
shift 2
merged=$work/merged
mkdir -p "$work/upper/build" "$work/overlay-work" "$merged"
cp -r "$work/in" "$work/upper/build/in"
mount -t overlay overlay -o "lowerdir=$root,upperdir=$work/upper,workdir=$work/overlay-work" "$merged"
mount -t proc proc "$merged/proc"
for dev in null zero full random urandom; do
  [ -e "$merged/dev/$dev" ] || touch "$merged/dev/$dev"
  mount --bind "/dev/$dev" "$merged/dev/$dev"
done
n=0
for source in "$@"; do
  mkdir -p "$merged/build/sources/$n"
  mount --bind "$source" "$merged/build/sources/$n"
  mount -o remount,bind,ro "$merged/build/sources/$n"
  n=$((n + 1))
done
exec chroot "$merged" /usr/bin/env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/build LC_ALL=C.UTF-8 \
  TZ=UTC PYTHONHASHSEED=0 SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" \
  /usr/bin/python3 -I /build/in/build.py
