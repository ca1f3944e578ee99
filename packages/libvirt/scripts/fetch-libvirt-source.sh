#!/bin/sh
# Makes libvirt's source (the protocol definition and headers the generator reads) available under
# /tmp/libvirt-src, for `gen` and `gen:check`. A no-op when LIBVIRT_SRC is set or a tree is there.
# Otherwise fetches Debian bookworm's libvirt source package with apt-get, using a sources list of
# its own (the machine's apt configuration is left alone), and unpacks the upstream tarball.
set -eu
base=/tmp/libvirt-src
[ -n "${LIBVIRT_SRC:-}" ] && exit 0
for d in "$base"/libvirt-*/src/remote; do [ -d "$d" ] && exit 0; done
command -v apt-get >/dev/null || { echo "fetch-libvirt-source: no apt-get; set LIBVIRT_SRC to a libvirt source tree" >&2; exit 1; }
apt_dir=$(mktemp -d)
trap 'rm -rf "$apt_dir"' EXIT
mkdir -p "$apt_dir/lists/partial" "$base"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
for suite in bookworm bookworm-updates; do
  echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian $suite main"
done >"$apt_dir/sources.list"
echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian-security bookworm-security main" >>"$apt_dir/sources.list"
set -- -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
  -o "Dir::State::Lists=$apt_dir/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
  -o APT::Sandbox::User=root -q
apt-get "$@" update >/dev/null
cd "$base"
apt-get "$@" source --download-only libvirt >/dev/null
orig=$(ls libvirt_*.orig.tar.xz | sort -V | tail -1)
tar -xJf "$orig"
echo "fetch-libvirt-source: unpacked $orig in $base"
