import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { PrometheusText } from './prometheus-text.ts';

/** The event loop's delays since the previous scrape (started with the first scrape). */
let loopDelay: ReturnType<typeof monitorEventLoopDelay> | undefined;

/**
 * The process's own figures under the names Prometheus' client libraries use (process_*, nodejs_*), so
 * the dashboards and alerts written for them work: memory by kind (where an RSS goes: the JS heap, or
 * buffers and native memory outside it), CPU time, and how long the event loop kept work waiting.
 */
export function renderProcessMetrics(t: PrometheusText): void {
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  t.family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.');
  t.sample('process_resident_memory_bytes', memory.rss);
  t.family('process_cpu_seconds_total', 'counter', 'User and system CPU time spent, in seconds.');
  t.sample('process_cpu_seconds_total', (cpu.user + cpu.system) / 1e6);
  t.family(
    'process_start_time_seconds',
    'gauge',
    'Start time of the process since the unix epoch, in seconds.',
  );
  t.sample('process_start_time_seconds', Math.round((Date.now() - process.uptime() * 1000) / 1000));
  t.family('nodejs_heap_size_total_bytes', 'gauge', 'The V8 heap, allocated, in bytes.');
  t.sample('nodejs_heap_size_total_bytes', memory.heapTotal);
  t.family('nodejs_heap_size_used_bytes', 'gauge', 'The V8 heap, in use, in bytes.');
  t.sample('nodejs_heap_size_used_bytes', memory.heapUsed);
  t.family(
    'nodejs_external_memory_bytes',
    'gauge',
    'Memory of C++ objects bound to JavaScript ones, in bytes.',
  );
  t.sample('nodejs_external_memory_bytes', memory.external);
  t.family('nodejs_array_buffers_bytes', 'gauge', 'Memory of ArrayBuffers and Buffers, in bytes.');
  t.sample('nodejs_array_buffers_bytes', memory.arrayBuffers);

  if (loopDelay === undefined) {
    loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
  }
  const seen = loopDelay.count > 0;
  t.family(
    'nodejs_eventloop_delay_p99_seconds',
    'gauge',
    'The 99th percentile of the event loop delay since the previous scrape.',
  );
  t.sample('nodejs_eventloop_delay_p99_seconds', seen ? loopDelay.percentile(99) / 1e9 : 0);
  t.family(
    'nodejs_eventloop_delay_max_seconds',
    'gauge',
    'The longest event loop delay since the previous scrape.',
  );
  t.sample('nodejs_eventloop_delay_max_seconds', seen ? loopDelay.max / 1e9 : 0);
  loopDelay.reset();
}
