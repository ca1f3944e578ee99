#!/bin/sh
# exec.sh NAME COMMAND [ARG...]: runs COMMAND inside the libvirt host NAME's mount and UTS
# namespaces, in the current directory: it sees the host's hostname and its /run, so
# `virsh -c qemu:///system` reaches that host's libvirtd. This is how a process (an agent, say)
# lives "on" a host. stop.sh ends such processes with the host.
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || die "usage: exec.sh NAME COMMAND [ARG...]"
name=$1
shift
check_name "$name"
dir=$(state_dir "$name")
pid=$(daemon_pid "$dir" libvirtd) || die "host '$name' is not running"
exec nsenter --target "$pid" --mount --uts --wd="$PWD" -- "$@"
