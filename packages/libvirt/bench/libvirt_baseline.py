#!/usr/bin/python3
"""Baseline for bench/libvirt.bench.ts: the same calls through libvirt's C client library.

Runs with Debian's python3-libvirt (/usr/bin/python3, not a pyenv python). One connection to
URI; each operation is lookupByUUIDString + info() + state() (three RPCs: DOMAIN_LOOKUP_BY_UUID,
DOMAIN_GET_INFO, DOMAIN_GET_STATE), cycling through the domains whose UUIDs are given.
With --threads 1 the operations run back to back (one call in flight); with --threads N, N
threads share the one connection (libvirt's remote driver lets threads have calls in flight
together; the bindings release the GIL during each call). Prints one JSON object, with the
wall time and the process's CPU time (all threads, user + system) of the timed part, and with
--daemon-pid the daemon's CPU time over the same part.

With --serve it keeps its one connection and runs one timed part per line "THREADS OPS" read from
stdin, printing one JSON object per line, after a first {"ready": true} once warmed up
(bench/inflight-probe.ts: python on a long-lived connection, as ours is in the bench).

With --events ROUNDS --event-uuid UUID it instead suspends and resumes that running guest ROUNDS
times and reports, per state change, the time from the call's start to the lifecycle event's
callback (libvirt's default event loop runs in a thread of its own), and the call's round trip.
"""

import argparse
import json
import math
import os
import queue
import threading
import time

import libvirt


def run_ops(conn, uuids, start, count):
    for i in range(start, start + count):
        dom = conn.lookupByUUIDString(uuids[i % len(uuids)])
        dom.info()
        dom.state()


def process_cpu_seconds(pid):
    """User + system CPU seconds of process pid so far (all threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split(" ")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarize(samples):
    """Nearest-rank percentiles, as bench/latency-summary.ts computes them."""
    ordered = sorted(samples)

    def rank(p):
        return ordered[min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1)]

    return {"count": len(ordered), "median": rank(0.5), "p95": rank(0.95), "max": ordered[-1]}


def measure_events(uri, uuid, rounds):
    libvirt.virEventRegisterDefaultImpl()
    conn = libvirt.open(uri)
    arrivals = queue.Queue()

    def run_loop():
        while True:
            libvirt.virEventRunDefaultImpl()

    threading.Thread(target=run_loop, daemon=True).start()
    dom = conn.lookupByUUIDString(uuid)
    conn.domainEventRegisterAny(
        dom,
        libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        lambda _c, _d, event, _detail, _o: arrivals.put((event, time.perf_counter())),
        None,
    )
    to_event, round_trip = [], []

    def change(call, wanted):
        began = time.perf_counter()
        call()
        replied = time.perf_counter()
        while True:
            event, at = arrivals.get(timeout=30)
            if event == wanted:
                break
        to_event.append((at - began) * 1000)
        round_trip.append((replied - began) * 1000)

    for _ in range(rounds):
        change(dom.suspend, libvirt.VIR_DOMAIN_EVENT_SUSPENDED)
        change(dom.resume, libvirt.VIR_DOMAIN_EVENT_RESUMED)
    conn.close()
    return {"toEvent": summarize(to_event), "roundTrip": summarize(round_trip)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--uri", required=True)
    parser.add_argument("--uuids", help="comma-separated domain UUIDs")
    parser.add_argument("--ops", type=int, default=2000, help="operations (3 RPCs each)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--events", type=int, default=0, help="suspend+resume rounds")
    parser.add_argument("--event-uuid", help="UUID of the running guest for --events")
    parser.add_argument("--daemon-pid", type=int, help="libvirtd's pid: report its CPU time too")
    parser.add_argument("--serve", action="store_true", help="run 'THREADS OPS' lines from stdin")
    args = parser.parse_args()

    if args.events > 0:
        print(json.dumps(measure_events(args.uri, args.event_uuid, args.events)))
        return

    uuids = args.uuids.split(",")
    conn = libvirt.open(args.uri)
    try:
        run_ops(conn, uuids, 0, args.warmup)
        if not args.serve:
            print(json.dumps(timed_run(conn, uuids, args.threads, args.ops, args.daemon_pid)))
            return
        # One connection for many runs, each asked for by a line "THREADS OPS" on stdin. The first
        # line out says the warm-up is over, so that it overlaps nothing the caller measures.
        print(json.dumps({"ready": True}), flush=True)
        for line in iter(input_line, ""):
            threads, ops = (int(x) for x in line.split())
            print(json.dumps(timed_run(conn, uuids, threads, ops, args.daemon_pid)), flush=True)
    finally:
        conn.close()


def input_line():
    try:
        return input()
    except EOFError:
        return ""


def timed_run(conn, uuids, thread_count, ops, daemon_pid):
    per_thread = ops // thread_count
    total = per_thread * thread_count
    threads = [
        threading.Thread(target=run_ops, args=(conn, uuids, t * per_thread, per_thread))
        for t in range(thread_count)
    ]
    daemon_began = process_cpu_seconds(daemon_pid) if daemon_pid else 0.0
    began = time.perf_counter()
    cpu_began = time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    cpu_seconds = time.process_time() - cpu_began
    daemon_seconds = process_cpu_seconds(daemon_pid) - daemon_began if daemon_pid else None
    return {
        "client": "python3-libvirt "
        + ".".join(str(libvirt.getVersion() // d % 1000) for d in (1000000, 1000, 1)),
        "threads": thread_count,
        "ops": total,
        "seconds": seconds,
        "cpuSeconds": cpu_seconds,
        "daemonCpuSeconds": daemon_seconds,
        "opsPerSec": total / seconds,
        "callsPerSec": 3 * total / seconds,
    }


if __name__ == "__main__":
    main()
