#!/bin/sh
# start.sh NAME TCP_PORT: start (or find running) the libvirt host NAME, a libvirtd + virtlogd in
# their own mount and UTS namespace with private /run, /etc/libvirt, /var/lib/libvirt,
# /var/log/libvirt and /var/cache/libvirt, hostname NAME, a host_uuid of their own and a TCP
# listener on 127.0.0.1:TCP_PORT without authentication. Idempotent. Prints KEY=VALUE lines
# (name, uri, socket, unix_uri, host_uuid, state_dir, migration_ports) once the daemon answers.
#
# Environment:
#   COCKPIT_LIBVIRT_HOSTS_DIR   parent of the hosts' folders (default <repo>/.test-hosts)
#   LIBVIRT_HOST_MIGRATION_PORTS  "MIN-MAX" ports the host's QEMU may listen on for incoming
#                                 migrations (default TCP_PORT+1 to TCP_PORT+10)
#   LIBVIRT_HOST_START_TIMEOUT  seconds to wait for the daemon (default 60)
#   LIBVIRT_HOST_LOG_LEVEL      libvirtd.log level: 1 debug … 4 errors only (default 3, warnings)
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || die "usage: start.sh NAME TCP_PORT"
name=$1
port=$2
check_name "$name"
case $port in '' | *[!0-9]*) die "TCP_PORT must be a number: '$port'" ;; esac
[ "$(id -u)" = 0 ] || die "must run as root (namespaces, bind mounts, QEMU)"
for tool in libvirtd virtlogd virsh qemu-system-x86_64 unshare flock; do
  command -v "$tool" >/dev/null ||
    die "$tool not found; on Debian: apt-get install libvirt-daemon-system libvirt-clients qemu-system-x86"
done

migration_ports=${LIBVIRT_HOST_MIGRATION_PORTS:-$((port + 1))-$((port + 10))}
mig_min=${migration_ports%-*}
mig_max=${migration_ports#*-}
timeout=${LIBVIRT_HOST_START_TIMEOUT:-60}
log_level=${LIBVIRT_HOST_LOG_LEVEL:-3}
dir=$(state_dir "$name")
uri=$(tcp_uri "$port")

mkdir -p "$HOSTS_DIR"
# One lock for all hosts' start/stop and the shared files (parallel test workers may race).
exec 9>"$HOSTS_DIR/.lock"
flock 9

print_host() {
  socket="$dir/run/libvirt/libvirt-sock"
  echo "name=$name"
  echo "uri=$uri"
  echo "socket=$socket"
  echo "unix_uri=qemu+unix:///system?socket=$socket"
  echo "host_uuid=$(cat "$dir/host-uuid")"
  echo "state_dir=$dir"
  echo "migration_ports=$(cat "$dir/migration-ports")"
}

# fail MESSAGE: end what was started but keep the folder (its logs) for a look; the next
# start.sh or stop.sh clears it.
fail() {
  kill_host "$dir"
  die "$1; see $dir/log/"
}

wait_ready() {
  deadline=$(($(date +%s) + timeout))
  until virsh -q -c "$uri" version >/dev/null 2>&1; do
    daemon_pid "$dir" libvirtd >/dev/null || fail "libvirtd of '$name' exited"
    [ "$(date +%s)" -lt "$deadline" ] || fail "libvirtd of '$name' not answering on $uri after ${timeout}s"
    sleep 0.2
  done
}

if daemon_pid "$dir" libvirtd >/dev/null && [ -f "$dir/ns" ]; then
  running_port=$(cat "$dir/port")
  [ "$running_port" = "$port" ] || die "host '$name' already runs on port $running_port"
  wait_ready
  print_host
  exit 0
fi

# Leftovers of a host that died or was never stopped: clear them out first.
if [ -d "$dir/run" ]; then
  stop_host "$dir"
elif [ -e "$dir" ]; then
  die "$dir exists and is not a host's folder"
fi

mkdir -p "$dir/run/lock" "$dir/run/user" "$dir/lib" "$dir/log" "$dir/cache"
chmod 1777 "$dir/run/lock"
# Start from the distribution's configuration, minus the autostarted default network (it would
# need dnsmasq and firewall rules in the shared network namespace).
cp -a /etc/libvirt "$dir/etc"
rm -f "$dir"/etc/qemu/networks/autostart/*
mkdir -p "$dir/lib/qemu" "$dir/lib/images" "$dir/lib/boot" "$dir/cache/qemu"
# QEMU's capabilities take libvirtd seconds to probe; hosts share what the first one found
# (libvirtd checks each cached file against the QEMU binary and the kernel and re-probes if stale).
caps_seed="$HOSTS_DIR/.qemu-capabilities"
if [ -d "$caps_seed" ]; then
  cp -a "$caps_seed" "$dir/cache/qemu/capabilities"
fi
echo "$port" >"$dir/port"
echo "$mig_min-$mig_max" >"$dir/migration-ports"
cat /proc/sys/kernel/random/uuid >"$dir/host-uuid"

cat >>"$dir/etc/libvirtd.conf" <<CONF

# --- cockpit libvirt-host harness ---
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "$port"
auth_tcp = "none"
auth_unix_rw = "none"
auth_unix_ro = "none"
# Migration refuses a destination with the source's host UUID ("same host").
host_uuid = "$(cat "$dir/host-uuid")"
log_outputs = "$log_level:file:/var/log/libvirt/libvirtd.log"
CONF

cat >>"$dir/etc/qemu.conf" <<CONF

# --- cockpit libvirt-host harness ---
# QEMU runs as root without a security driver: the hosts share one filesystem and one kernel.
user = "root"
group = "root"
security_driver = "none"
# Hosts share the cgroup tree and could both name a guest "qemu-1-NAME" (e.g. both ends of a
# migration): keep libvirt out of cgroups.
cgroup_controllers = [ ]
# QEMU stays in the host's mount namespace (so stop.sh's namespace match always sees it).
namespaces = [ ]
# Incoming migrations use a port range of this host's own. libvirt refuses a loopback
# migration_address / migration_host here, so QEMU listens on all addresses unless the migration
# passes a listen address (virsh migrate --listen-address 127.0.0.1); without a migrate URI the
# destination offers its hostname, which every host resolves to 127.0.0.1 (shared hosts file).
migration_port_min = $mig_min
migration_port_max = $mig_max
CONF

# One hosts file for all harness hosts, bind-mounted over /etc/hosts in each namespace, so every
# host name resolves to 127.0.0.1 from every host. Appended in place only: a rename would leave the
# running hosts' bind mounts on the old file (stop.sh rewrites it in place too).
hosts_file="$HOSTS_DIR/hosts"
[ -f "$hosts_file" ] || cp /etc/hosts "$hosts_file"
grep -qx "127.0.0.1 $name" "$hosts_file" || echo "127.0.0.1 $name" >>"$hosts_file"

echo "libvirt-host: starting '$name' on $uri" >&2
# fd 9 (the lock) is closed for the daemons, or they would hold it for their whole life.
unshare --mount --uts --propagation private -- /bin/sh "$(dirname "$0")/ns-init.sh" "$dir" "$name" "$hosts_file" 9>&- ||
  fail "starting the daemons of '$name' failed"
wait_ready
if [ ! -d "$caps_seed" ] && [ -d "$dir/cache/qemu/capabilities" ]; then
  cp -a "$dir/cache/qemu/capabilities" "$caps_seed.$$" && mv "$caps_seed.$$" "$caps_seed" 2>/dev/null ||
    rm -rf "$caps_seed.$$"
fi
print_host
