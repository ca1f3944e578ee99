#!/bin/sh
# stop.sh NAME: end every process of the libvirt host NAME (libvirtd, virtlogd, its guests' QEMU)
# and remove its folder. Succeeds when the host is not running.
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || die "usage: stop.sh NAME"
name=$1
check_name "$name"
dir=$(state_dir "$name")
[ -d "$HOSTS_DIR" ] || exit 0
exec 9>"$HOSTS_DIR/.lock"
flock 9
if [ -e "$dir" ]; then
  stop_host "$dir"
fi
# Drop the host's line from the shared hosts file, rewriting it in place (same inode) so that the
# other hosts' bind mounts keep seeing it.
hosts_file="$HOSTS_DIR/hosts"
if [ -f "$hosts_file" ] && grep -qx "127.0.0.1 $name" "$hosts_file"; then
  kept=$(grep -vx "127.0.0.1 $name" "$hosts_file")
  printf '%s\n' "$kept" >"$hosts_file"
fi
