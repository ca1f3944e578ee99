#!/usr/bin/python3
"""Baseline for bench/libvirt.bench.ts: the same calls through libvirt's C client library.

Runs with Debian's python3-libvirt (/usr/bin/python3, not a pyenv python). One connection to
URI; each operation is lookupByUUIDString + info() + state() (three RPCs: DOMAIN_LOOKUP_BY_UUID,
DOMAIN_GET_INFO, DOMAIN_GET_STATE), cycling through the domains whose UUIDs are given.
With --threads 1 the operations run back to back (one call in flight); with --threads N, N
threads share the one connection (libvirt's remote driver lets threads have calls in flight
together; the bindings release the GIL during each call). Prints one JSON object.
"""

import argparse
import json
import threading
import time

import libvirt


def run_ops(conn, uuids, start, count):
    for i in range(start, start + count):
        dom = conn.lookupByUUIDString(uuids[i % len(uuids)])
        dom.info()
        dom.state()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--uri", required=True)
    parser.add_argument("--uuids", required=True, help="comma-separated domain UUIDs")
    parser.add_argument("--ops", type=int, default=2000, help="operations (3 RPCs each)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    uuids = args.uuids.split(",")
    conn = libvirt.open(args.uri)
    try:
        run_ops(conn, uuids, 0, args.warmup)
        per_thread = args.ops // args.threads
        total = per_thread * args.threads
        threads = [
            threading.Thread(target=run_ops, args=(conn, uuids, t * per_thread, per_thread))
            for t in range(args.threads)
        ]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - began
    finally:
        conn.close()

    print(
        json.dumps(
            {
                "client": "python3-libvirt " + ".".join(
                    str(libvirt.getVersion() // d % 1000) for d in (1000000, 1000, 1)
                ),
                "threads": args.threads,
                "ops": total,
                "seconds": seconds,
                "opsPerSec": total / seconds,
                "callsPerSec": 3 * total / seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
