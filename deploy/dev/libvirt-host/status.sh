#!/bin/sh
# status.sh [NAME]: for each harness host (or just NAME): its URI, whether libvirtd answers, its
# processes and its guests. Exit status 1 if NAME is given and not running.
. "$(dirname "$0")/lib.sh"

[ $# -le 1 ] || die "usage: status.sh [NAME]"
if [ $# -eq 1 ]; then
  check_name "$1"
  names=$1
else
  names=$(host_names)
fi

status=0
for name in $names; do
  dir=$(state_dir "$name")
  if ! pid=$(daemon_pid "$dir" libvirtd); then
    echo "$name: not running"
    status=1
    continue
  fi
  uri=$(tcp_uri "$(cat "$dir/port")")
  echo "$name: libvirtd pid $pid, $uri, socket $dir/run/libvirt/libvirt-sock"
  echo "  processes: $(ns_pids "$dir" | tr '\n' ' ')"
  if guests=$(virsh -q -c "$uri" list --all 2>&1); then
    [ -n "$guests" ] && echo "$guests" | sed 's/^/  /'
  else
    echo "  not answering: $guests"
    status=1
  fi
done
exit $status
