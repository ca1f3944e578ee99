#!/bin/sh
# stop.sh NAME | --all: end every process of the libvirt host NAME (libvirtd, virtlogd, its
# guests' QEMU) and remove its folder; --all does so for every host under the hosts folder (say,
# after a test run was killed before its afterAll). Succeeds when the host is not running.
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || die "usage: stop.sh NAME | --all"
[ -d "$HOSTS_DIR" ] || exit 0
if [ "$1" = --all ]; then
  names=$(host_names)
else
  check_name "$1"
  names=$1
fi

exec 9>"$HOSTS_DIR/.lock"
flock 9
hosts_file="$HOSTS_DIR/hosts"
for name in $names; do
  dir=$(state_dir "$name")
  # Only folders start.sh made (it creates run/ first): never another folder of that name.
  if [ -d "$dir/run" ]; then
    stop_host "$dir"
  elif [ -e "$dir" ]; then
    echo "libvirt-host: $dir is not a host's folder; left alone" >&2
  fi
  # Drop the host's line from the shared hosts file, rewriting it in place (same inode) so that
  # the other hosts' bind mounts keep seeing it.
  if [ -f "$hosts_file" ] && grep -qx "127.0.0.1 $name" "$hosts_file"; then
    kept=$(grep -vx "127.0.0.1 $name" "$hosts_file")
    printf '%s\n' "$kept" >"$hosts_file"
  fi
done
