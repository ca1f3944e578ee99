import type { PrometheusText } from '@cockpit/proto';

/** Upper bounds of the histogram's buckets, seconds: from a cached read to a slow search. */
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

interface Series {
  labels: { method: string; route: string; status: string };
  counts: number[];
  sum: number;
  count: number;
}

/**
 * How long the HTTP API took to answer, per method, route pattern (`/api/v1/vms/:id`, never the id
 * itself, so the label set stays small) and status code: a Prometheus histogram kept in memory.
 */
export class RequestDurations {
  private readonly series = new Map<string, Series>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    let s = this.series.get(key);
    if (s === undefined) {
      s = {
        labels: { method, route, status: String(status) },
        counts: BUCKETS.map(() => 0),
        sum: 0,
        count: 0,
      };
      this.series.set(key, s);
    }
    for (let i = 0; i < BUCKETS.length; i++)
      if (seconds <= (BUCKETS[i] ?? 0)) s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += seconds;
    s.count += 1;
  }

  render(t: PrometheusText): void {
    const name = 'cockpit_http_request_duration_seconds';
    t.family(name, 'histogram', 'Time to answer HTTP requests, by method, route pattern and status code.');
    for (const s of this.series.values()) {
      BUCKETS.forEach((le, i) => {
        t.sample(`${name}_bucket`, s.counts[i] ?? 0, { ...s.labels, le: String(le) });
      });
      t.sample(`${name}_bucket`, s.count, { ...s.labels, le: '+Inf' });
      t.sample(`${name}_sum`, s.sum, s.labels);
      t.sample(`${name}_count`, s.count, s.labels);
    }
  }
}
