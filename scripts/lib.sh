# Shared helpers for the lastmile scripts (sourced, not run).
set -euo pipefail

LASTMILE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything slow to make is cached under the build folder, keyed by its inputs.
LASTMILE_BUILD_DIR=${LASTMILE_BUILD_DIR:-$LASTMILE_ROOT/target/lastmile}
LASTMILE_CACHE=$LASTMILE_BUILD_DIR/cache
mkdir -p "$LASTMILE_CACHE"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 2; }

# Build lastmile's release binaries: the whole workspace, always, so every script shares one set of
# artifacts (a build of some packages alone unifies features differently and rebuilds them).
build_release() {
  cargo build --release --locked -q --manifest-path "$LASTMILE_ROOT/Cargo.toml"
}

# Make a cache entry one process at a time: hold an exclusive lock on NAME until the script ends.
# Tests running side by side call the same scripts; the second waits, then finds the entry made.
lock_cache() {
  exec 9>"$LASTMILE_CACHE/.$1.lock"
  flock 9
}

# The peer tools the benchmarks compare against (uv, pip-tools) in a throwaway venv under the cache.
# Sets $peers to its folder.
peer_tools() {
  peers=$LASTMILE_CACHE/bench-pin-peers
  lock_cache bench-peers
  if [ ! -f "$peers/.complete" ]; then
    say "installing uv and pip-tools into a throwaway venv"
    rm -rf "$peers"
    python3 -m venv "$peers"
    "$peers/bin/pip" install --quiet --disable-pip-version-check uv pip-tools
    touch "$peers/.complete"
  fi
}

# The sha256 of a set of files and folders (paths and contents), for cache keys.
inputs_key() {
  (cd "$LASTMILE_ROOT" && find "$@" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path '*.egg-info/*' \
     ! -path '*/build/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

# Many LXC containers with systemd on one host need more inotify instances than Linux allows by
# default (128, shared by every container's systemd, ~8 each while booting): raise the limit for
# the environments of fifteen nodes and more (as root; deploy-lxc warns when it is short).
raise_container_limits() {
  local limit
  # Containers, builds and cargo's own probes read /dev/null; a regular file there (left by any
  # program that once renamed a file over it) feeds them its contents.
  [ -c /dev/null ] || die "/dev/null is not the null device (it is a $(stat -c %F /dev/null)); restore it: rm /dev/null && mknod -m 666 /dev/null c 1 3"
  limit=$(cat /proc/sys/fs/inotify/max_user_instances)
  if [ "$limit" -lt 1024 ] && [ "$(id -u)" -eq 0 ]; then
    sysctl -q -w fs.inotify.max_user_instances=1024
  fi
}

# Install Debian packages that are missing (as root, or with sudo).
need_debs() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  say "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The example system's packages, in no particular order.
example_packages() {
  local dir
  for dir in $(find "$LASTMILE_ROOT/examples/cam" -mindepth 1 -maxdepth 1 -type d | LC_ALL=C sort); do
    if [ -f "$dir/pyproject.toml" ] || [ -f "$dir/setup.py" ] || [ -f "$dir/setup.cfg" ]; then echo "$dir"; fi
  done
}

# Start a benchmark: take `--json FILE` out of the arguments (default:
# $LASTMILE_BUILD_DIR/bench/NAME.json, started afresh), leaving the rest in $bench_args; print the
# machine. Every figure benchtime.py measures and every bench_note goes into that file.
bench_start() {
  local name=$1; shift
  BENCH_JSON=$LASTMILE_BUILD_DIR/bench/$name.json
  bench_args=()
  while [ $# -gt 0 ]; do
    case $1 in
      --json) BENCH_JSON=$(realpath -m "$2"); shift 2 ;;
      --json=*) BENCH_JSON=$(realpath -m "${1#--json=}"); shift ;;
      *) bench_args+=("$1"); shift ;;
    esac
  done
  need_debs time
  mkdir -p "$(dirname "$BENCH_JSON")" && rm -f "$BENCH_JSON"
  export BENCH_JSON
  echo "machine: $(nproc) cores, $(uname -r), $(date -u +%F); figures written to $BENCH_JSON"
}

# Print a fact about the benchmark (a tool's version, whether outputs agree) and record it.
bench_note() {
  echo "$1: $2"
  python3 "$LASTMILE_ROOT/scripts/benchtime.py" note --json "$BENCH_JSON" "$1" "$2"
}

# benchtime.py, recording into the benchmark's file. $1: the scenario's name.
bench_time() {
  local scenario=$1; shift
  python3 "$LASTMILE_ROOT/scripts/benchtime.py" --scenario "$scenario" --json "$BENCH_JSON" "$@"
}
