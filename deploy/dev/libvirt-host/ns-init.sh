#!/bin/sh
# Runs as the first process of a host's fresh mount + UTS namespace (see start.sh): puts the
# host's private folders over libvirt's well-known paths, names the host, starts the daemons.
# Mounts made here are private to this namespace (unshare --propagation private); -n keeps
# mount(8) from writing its utab under the root namespace's /run.
set -eu
state=$1
name=$2
hosts_file=$3

mount -n --bind "$state/run" /run
mount -n --bind "$state/etc" /etc/libvirt
mount -n --bind "$state/lib" /var/lib/libvirt
mount -n --bind "$state/log" /var/log/libvirt
mount -n --bind "$state/cache" /var/cache/libvirt
mount -n --bind "$hosts_file" /etc/hosts
hostname "$name"

# stop.sh finds the host's processes by these namespace ids.
{
  echo "mnt=$(readlink /proc/self/ns/mnt)"
  echo "uts=$(readlink /proc/self/ns/uts)"
} >"$state/ns"

# No systemd socket activation here: libvirtd opens its TCP listener itself, which libvirt 9.0
# only does with --listen. virtlogd must be up first: QEMU's stdio goes through it.
virtlogd -d
libvirtd -d --listen
