#!/bin/sh
# Written by bake-image: a systemd generator, run at every boot before any unit starts.
# Where deploy-lxc cannot write into a node's root filesystem (Proxmox VE: the node's values come
# as the container's environment, `env`), write them to /run/lastmile/node.env, which every
# service reads, and enable the node's roles for this boot. Where deploy-lxc wrote
# /etc/lastmile/node.env and the role links itself (the lxc engine), do nothing.
# LASTMILE_ROOT, LASTMILE_ENVIRON and LASTMILE_RUN exist for the tests.
set -eu
root=${LASTMILE_ROOT:-}
environ=${LASTMILE_ENVIRON:-/proc/1/environ}
run=${LASTMILE_RUN:-/run/lastmile}
[ -e "$root/etc/lastmile/node.env" ] && exit 0
[ -r "$environ" ] || exit 0
value_of() { tr '\0' '\n' < "$environ" | sed -n "s/^$1=//p" | head -n 1; }
vars=$(value_of LASTMILE_VARS)
[ -n "$vars" ] || exit 0
mkdir -p "$run"
out="$run/node.env.tmp"
echo "# Written at boot from the container's environment (lastmile-node generator)." > "$out"
roles=
for name in $vars; do
  case $name in '' | [0-9]* | *[!A-Za-z0-9_]*) continue ;; esac
  value=$(value_of "$name")
  printf '%s="%s"\n' "$name" "$(printf %s "$value" | sed 's/[\\"$`]/\\&/g')" >> "$out"
  if [ "$name" = LASTMILE_ROLES ]; then roles=$value; fi
done
mv "$out" "$run/node.env"
wants="${1:-$run}/multi-user.target.wants"
mkdir -p "$wants"
for role in $roles; do
  case $role in *[!a-z0-9_-]*) continue ;; esac
  target="/etc/systemd/system/lastmile-role-$role.target"
  if [ -e "$root$target" ]; then ln -sf "$target" "$wants/"; fi
done
