#!/usr/bin/env bash
# Installs what the real-part test suites need, when it is missing: libvirt + QEMU (software
# emulation), python3-libvirt (the C library, baseline of bench:libvirt), openssl (test PKI of the
# libvirt TLS suite), prometheus (its promtool checks both /metrics expositions), chromium (the
# headless browser of the web-page tests) and a PostgreSQL server answering on 127.0.0.1:5432.
# Debian only; a no-op on a machine that already has everything.
set -euo pipefail
need=()
for p in libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu qemu-system-x86 python3-libvirt openssl postgresql prometheus chromium; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then echo "ensure-test-deps: missing Debian packages ${need[*]}; run as root or install them" >&2; exit 1; fi
  echo "ensure-test-deps: installing ${need[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
# A local PostgreSQL answering on 127.0.0.1:5432 with a `test` database.
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  ver=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
  # A fresh Debian cluster uses peer auth on the socket: create the database as the postgres user.
  su postgres -c "createdb test" 2>/dev/null || true
  if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
    echo "ensure-test-deps: PostgreSQL on 127.0.0.1:5432 does not accept postgres@test; set TEST_DATABASE_URL" >&2
  fi
fi
