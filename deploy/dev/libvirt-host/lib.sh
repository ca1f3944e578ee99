# Shared helpers for start.sh / stop.sh / status.sh. Sourced, not executed.
# A "host" is a libvirtd + virtlogd pair living in its own mount and UTS namespace; everything it
# owns sits under $HOSTS_DIR/$NAME. Processes are found by namespace (not by name) so that stop.sh
# never touches another host's daemons or the root namespace's.

set -eu

REPO_ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
HOSTS_DIR=${COCKPIT_LIBVIRT_HOSTS_DIR:-$REPO_ROOT/.test-hosts}

die() {
  echo "libvirt-host: $*" >&2
  exit 1
}

check_name() {
  case $1 in
    '' | *[!a-z0-9-]* | -*) die "host name must match [a-z0-9][a-z0-9-]*: '$1'" ;;
  esac
}

# state_dir NAME -> path of the host's private folder
state_dir() {
  echo "$HOSTS_DIR/$1"
}

# host_names -> names of the hosts under $HOSTS_DIR (folders start.sh made: they hold a port
# file), so that other folders there (shared disk images, say) are never taken for hosts.
host_names() {
  for port_file in "$HOSTS_DIR"/*/port; do
    [ -f "$port_file" ] || continue
    basename "$(dirname "$port_file")"
  done
}

# ns_pids STATE_DIR -> pids of every process inside the host's namespaces. Matching on the UTS
# namespace catches QEMU too, even if libvirt gave it a mount namespace of its own; matching on
# the mount namespace catches anything that left the UTS namespace. Both ids are recorded by
# start.sh; a pair of reused namespace inodes is not a practical concern.
ns_pids() {
  ns_file="$1/ns"
  [ -f "$ns_file" ] || return 0
  mnt_ns=$(sed -n 's/^mnt=//p' "$ns_file")
  uts_ns=$(sed -n 's/^uts=//p' "$ns_file")
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    [ "$pid" = "$$" ] && continue
    m=$(readlink "$proc/ns/mnt" 2>/dev/null) || continue
    u=$(readlink "$proc/ns/uts" 2>/dev/null) || continue
    if [ "$m" = "$mnt_ns" ] || [ "$u" = "$uts_ns" ]; then
      echo "$pid"
    fi
  done
}

# daemon_pid STATE_DIR DAEMON -> pid from the daemon's pid file if that process is alive
daemon_pid() {
  pid_file="$1/run/$2.pid"
  [ -f "$pid_file" ] || return 1
  pid=$(cat "$pid_file")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

tcp_uri() {
  echo "qemu+tcp://127.0.0.1:$1/system"
}

# kill_host STATE_DIR: end every process of the host and wait until they are gone. The private
# mounts belong to the host's mount namespace, which the kernel tears down with its last
# process, so nothing is left mounted in the root namespace.
kill_host() {
  dir=$1
  pids=$(ns_pids "$dir")
  if [ -n "$pids" ]; then
    # libvirtd leaves guests running on SIGTERM; QEMU exits cleanly on SIGTERM.
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
  fi
  deadline=$(($(date +%s) + 10))
  killed=0
  while pids=$(ns_pids "$dir") && [ -n "$pids" ]; do
    if [ "$killed" = 0 ] && [ "$(date +%s)" -ge "$deadline" ]; then
      echo "libvirt-host: SIGKILL to $pids" >&2
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
      killed=1
      deadline=$(($(date +%s) + 10))
    elif [ "$killed" = 1 ] && [ "$(date +%s)" -ge "$deadline" ]; then
      die "processes still alive in $dir: $pids"
    fi
    sleep 0.1
  done
}

# stop_host STATE_DIR: kill_host, then remove the host's folder.
stop_host() {
  kill_host "$1"
  rm -rf "$1"
}
