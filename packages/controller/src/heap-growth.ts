import { setFlagsFromString } from 'node:v8';

/**
 * Bounds how far the JS heap may grow past what survived the last full collection before V8 collects
 * again: to (100 + percent) % of it, as GOGC does for Go. V8's own rule lets a fast-allocating heap grow
 * to 4× its live data before a full collection, and the controller allocates fast when a fleet reports:
 * with 50,000 VMs cached and 25,000 changes/s ingested it reached 700 MiB resident with 150-280 MiB
 * live (bench:sync), against 400 MiB at 50 %, for a few more collections. 0 keeps V8's rule.
 *
 * Set at start, before the heap has grown: V8 reads this flag at each collection (unlike
 * --max-old-space-size, fixed when the heap is made), and it is no hard limit, so a larger fleet's
 * live data still fits, it is collected more often instead.
 */
export function limitHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
