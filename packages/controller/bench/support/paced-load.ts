// Open-loop load at an even pace, run as a process of its own by bench:sync:
//   node --import tsx bench/support/paced-load.ts <url> <rate/s> <seconds> <connections> <header=value>...
// Request k is due at start + k/rate; its latency runs from that instant, not from when it could be
// sent, so a stalled server shows in full (no coordinated omission). autocannon's -R is not this: each
// of its connections sends its share back to back at the top of every second, so 100 connections
// paced to 200/s arrive as one burst of 200 requests a second, and the queue of the burst is measured.
// Prints one JSON line: { requests, errors, p50, p99, max } (ms).
import { Agent, request } from 'node:http';

const [url, rateText, secondsText, connectionsText, ...headerArgs] = process.argv.slice(2);
const rate = Number(rateText);
const seconds = Number(secondsText);
const agent = new Agent({ keepAlive: true, maxSockets: Number(connectionsText) });
const headers = Object.fromEntries(
  headerArgs.map((h) => [h.slice(0, h.indexOf('=')), h.slice(h.indexOf('=') + 1)] as const),
);

function get(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url as string, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const latencies: number[] = [];
let errors = 0;
const start = performance.now() + 100;
const total = Math.round(rate * seconds);
const pending: Array<Promise<void>> = [];
for (let k = 0; k < total; k++) {
  const due = start + (k * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  pending.push(
    get().then(
      (status) => {
        if (status !== 200) errors++;
        latencies.push(performance.now() - due);
      },
      () => {
        errors++;
      },
    ),
  );
}
await Promise.all(pending);
agent.destroy();
latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
const round = (ms: number) => Math.round(ms * 10) / 10;
console.log(
  JSON.stringify({
    requests: latencies.length,
    errors,
    p50: round(at(0.5)),
    p99: round(at(0.99)),
    max: round(latencies.at(-1) ?? 0),
  }),
);
